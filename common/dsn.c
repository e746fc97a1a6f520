/* dsn: RFC 3464 report composition (see dsn.h).  Diagnostic texts come
 * from other programs (local, later remote servers), so they are cut to a
 * line of printable ASCII before they go into a header-like field.  The
 * human-readable part is wrapped at 76 columns. */
#include "dsn.h"
#include "addr.h"

#include <string.h>
#include <time.h>

#define DIAG_MAX 900
#define TEXT_WIDTH 76	/* columns of the human-readable part */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of a "c.s.d" status code at s (class 2/4/5), or 0. */
static size_t status_len(const char *s, size_t len)
{
	size_t i = 0;
	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t start = i;
		while (i < len && is_digit(s[i]) && i - start < 3)
			i++;
		if (i == start)
			return 0;
		if (part == 0) {
			if (i >= len || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i < len && s[i] != ' ' ? 0 : i;
}

int dsn_notify_valid(const char *s, size_t n)
{
	if (n == 5 && !memcmp(s, "NEVER", 5))
		return 1;
	static const char *const words[] = {"SUCCESS", "FAILURE", "DELAY"};
	int seen[3] = {0, 0, 0};
	size_t i = 0;
	while (i < n) {
		const char *c = memchr(s + i, ',', n - i);
		size_t end = c ? (size_t)(c - s) : n;
		int k = 0;
		while (k < 3 && !(strlen(words[k]) == end - i && !memcmp(s + i, words[k], end - i)))
			k++;
		if (k == 3 || seen[k]++ || (c && end + 1 == n))
			return 0;
		i = end + 1;
	}
	return n > 0;
}

void dsn_status(const char *diag, size_t len, int temporary, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < len && i < 8; i++) {
		if (i > 0 && diag[i - 1] != ' ')
			continue;
		size_t n = status_len(diag + i, len - i);
		if (n) {
			buf_append(out, diag + i, n);
			return;
		}
	}
	buf_puts(out, temporary ? "4.0.0" : "5.0.0");
}

/* A diagnostic as one line of printable ASCII. */
static void put_clean(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n && i < DIAG_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		buf_putc(out, c >= 0x20 && c < 0x7f ? (char)c : '?');
	}
}

static void put_date(struct buf *out, long long t)
{
	char d[64];
	time_t tt = (time_t)t;
	struct tm tm;
	if (localtime_r(&tt, &tm) && strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S %z", &tm))
		buf_puts(out, d);
}

/* "rfc822; addr", or "utf-8; addr" for an internationalized one (RFC 6533). */
static void put_addr_field(struct buf *out, const char *name, const char *a, size_t n)
{
	buf_printf(out, "%s: %s; ", name, addr_has_8bit(a, n) ? "utf-8" : "rfc822");
	put_clean(out, a, n);
	buf_putc(out, '\n');
}

static void make_boundary(struct buf *b, const struct dsn_msg *m)
{
	for (unsigned k = 0;; k++) {
		buf_reset(b);
		buf_printf(b, "%s.%lld.%u/%s", m->qid, m->now, k, m->reporting_mta);
		if (!mem_find(m->original, m->original_len, b->s, b->len))
			return;
	}
}

static void put_headers(struct buf *out, const struct dsn_msg *m, const struct buf *boundary)
{
	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", m->reporting_mta);
	buf_puts(out, "To: <");
	put_clean(out, m->to, strlen(m->to));
	static const char *const subject[] = {"Undelivered Mail Returned to Sender",
		"Delayed Mail (still being retried)", "Successful Mail Delivery Report"};
	buf_printf(out, ">\nSubject: %s\nDate: ", subject[m->kind]);
	put_date(out, m->now);
	buf_printf(out, "\nMessage-ID: <%lld.%s.bounce@%s>\n", m->now, m->qid, m->reporting_mta);
	buf_puts(out, "Auto-Submitted: auto-replied\nMIME-Version: 1.0\n");
	buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\n"
		   "\tboundary=\"%s\"\n\nThis is a MIME-encapsulated message.\n\n",
		   buf_cstr((struct buf *)boundary));
}

/* Appends text (one line, no newline in it) wrapped at TEXT_WIDTH columns
 * on spaces, continuation lines indented; a word longer than a line (an
 * address) stays whole. */
static void put_wrapped(struct buf *out, const char *s, size_t n, size_t indent)
{
	size_t col = 0, i = 0;
	int line_start = 1;
	while (i < n) {
		size_t gap = i;
		while (i < n && s[i] == ' ')
			i++;
		gap = i - gap;	/* kept inside a line: "text.  Next" */
		size_t w = i;
		while (w < n && s[w] != ' ')
			w++;
		if (w == i)
			break;
		if (!line_start && col + gap + (w - i) > TEXT_WIDTH) {
			buf_putc(out, '\n');
			for (col = 0; col < indent; col++)
				buf_putc(out, ' ');
		} else if (!line_start) {
			for (size_t k = 0; k < gap; k++)
				buf_putc(out, ' ');
			col += gap;
		}
		line_start = 0;
		buf_append(out, s + i, w - i);
		col += w - i;
		i = w;
	}
	buf_putc(out, '\n');
}

static void put_text_part(struct buf *out, const struct dsn_msg *m,
			  const struct dsn_rcpt *r, size_t n, const struct buf *boundary)
{
	buf_printf(out, "--%s\nContent-Description: Notification\n"
		   "Content-Type: text/plain; charset=us-ascii\n\n", boundary->s);
	struct buf p = BUF_INIT;
	buf_printf(&p, "This is the mail system at host %s.", m->reporting_mta);
	put_wrapped(out, p.s, p.len, 0);
	buf_putc(out, '\n');
	buf_reset(&p);
	if (m->kind == DSN_DELAY)
		buf_printf(&p, "Your message (queue id %s) could not be delivered yet to the "
			   "recipients below; it stays in the queue and delivery is retried.  "
			   "You need not send it again.", m->qid);
	else if (m->kind == DSN_SUCCESS)
		buf_printf(&p, "Your message (queue id %s) was delivered to the recipients below, "
			   "as you asked for a report.", m->qid);
	else
		buf_printf(&p, "Your message (queue id %s) could not be delivered to one or more "
			   "recipients.  The addresses and the reasons are below.", m->qid);
	put_wrapped(out, p.s, p.len, 0);
	buf_putc(out, '\n');
	for (size_t i = 0; i < n; i++) {
		buf_reset(&p);
		buf_putc(&p, '<');
		put_clean(&p, r[i].addr, r[i].addr_len);
		buf_puts(&p, ">: ");
		if (r[i].action && strcmp(r[i].action, "failed"))
			buf_printf(&p, "%s: ", r[i].action);
		else if (r[i].temporary)
			buf_puts(&p, "delivery time expired; last error: ");
		put_clean(&p, r[i].diag, r[i].diag_len);
		put_wrapped(out, p.s, p.len, 4);
	}
	buf_free(&p);
	buf_putc(out, '\n');
}

/* Action, Status, Remote-MTA and Diagnostic-Code of one recipient. */
static void put_rcpt_status(struct buf *out, const struct dsn_rcpt *r, struct buf *st)
{
	const char *action = r->action ? r->action : "failed";
	int failed = !strcmp(action, "failed");
	dsn_status(r->diag, r->diag_len, r->temporary || !strcmp(action, "delayed"), st);
	if (failed && r->temporary)
		buf_set(st, "4.4.7", 5);	/* RFC 3463: delivery time expired */
	if (!failed && st->len && st->s[0] == '5')
		st->s[0] = '4';
	if (!strcmp(action, "delivered") || !strcmp(action, "relayed"))
		buf_set(st, "2.0.0", 5);
	buf_printf(out, "Action: %s\nStatus: %s\n", action, buf_cstr(st));
	if (r->mta_len) {
		buf_puts(out, "Remote-MTA: dns; ");
		put_clean(out, r->mta, r->mta_len);
		buf_putc(out, '\n');
	}
	if (r->diag_len) {
		buf_puts(out, r->mta_len ? "Diagnostic-Code: smtp; " : "Diagnostic-Code: X-Posthorn; ");
		put_clean(out, r->diag, r->diag_len);
		buf_putc(out, '\n');
	}
}

static void put_status_part(struct buf *out, const struct dsn_msg *m,
			    const struct dsn_rcpt *r, size_t n, const struct buf *boundary)
{
	buf_printf(out, "--%s\nContent-Description: Delivery report\n"
		   "Content-Type: message/delivery-status\n\n", boundary->s);
	if (m->envid) {
		buf_puts(out, "Original-Envelope-Id: ");
		put_clean(out, m->envid, strlen(m->envid));
		buf_putc(out, '\n');
	}
	buf_printf(out, "Reporting-MTA: dns; %s\nX-Posthorn-Queue-ID: %s\nArrival-Date: ",
		   m->reporting_mta, m->qid);
	put_date(out, m->arrival);
	buf_putc(out, '\n');
	struct buf st = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		buf_putc(out, '\n');
		put_addr_field(out, "Final-Recipient", r[i].addr, r[i].addr_len);
		if (r[i].orig_len) {
			if (memchr(r[i].orig, ';', r[i].orig_len)) {
				buf_puts(out, "Original-Recipient: ");
				put_clean(out, r[i].orig, r[i].orig_len);
				buf_putc(out, '\n');
			} else {
				put_addr_field(out, "Original-Recipient", r[i].orig, r[i].orig_len);
			}
		}
		put_rcpt_status(out, &r[i], &st);
	}
	buf_free(&st);
	buf_putc(out, '\n');
}

static void put_original_part(struct buf *out, const struct dsn_msg *m, const struct buf *boundary)
{
	int eight = addr_has_8bit(m->original, m->original_len);
	buf_printf(out, "--%s\nContent-Description: %s\nContent-Type: %s\n%s\n", boundary->s,
		   m->original_is_full ? "Undelivered Message" : "Undelivered Message Headers",
		   m->original_is_full ? "message/rfc822" : "text/rfc822-headers",
		   eight ? "Content-Transfer-Encoding: 8bit\n" : "");
	buf_append(out, m->original, m->original_len);
	if (m->original_len && m->original[m->original_len - 1] != '\n')
		buf_putc(out, '\n');
	buf_printf(out, "\n--%s--\n", boundary->s);
}

void dsn_compose(struct buf *out, const struct dsn_msg *m,
		 const struct dsn_rcpt *r, size_t n)
{
	struct buf boundary = BUF_INIT;
	make_boundary(&boundary, m);
	buf_cstr(&boundary);
	put_headers(out, m, &boundary);
	put_text_part(out, m, r, n, &boundary);
	put_status_part(out, m, r, n, &boundary);
	put_original_part(out, m, &boundary);
	buf_free(&boundary);
}
