/* envelope: enqueue's reader of the client's records (the pipe protocol of
 * doc/design.md).  Every record is length-checked before its data is read,
 * the order S, A*, (O? F? R)+, M*, E0: is enforced (O and F in either
 * order), DSN values (A ret=, A envid=, F) are checked, addresses are checked,
 * and each R is expanded through the aliases table as it arrives.  The
 * caller's uid is recorded as "A uid=N"; trace attributes from a caller
 * that is not trusted are dropped (and logged), the message is kept.  The
 * recipients are written once the first M (or the E) arrives; the message
 * bytes stream straight to the file. */
#include "enqueue.h"
#include "addr.h"
#include "dsn.h"
#include "log.h"
#include "record.h"

#include <string.h>
#include <unistd.h>

#define ENV_REC_MAX 65536	/* S, A, O, R record data */
#define MSG_REC_MAX (1u << 20)	/* one M record */

static const char *const attr_names[] = {
	"client", "helo", "proto", "body", "smtputf8", "auth", "ident", "ret", "envid", NULL,
};

#define ENVID_MAX 100	/* RFC 3461 4.4: at most 100 characters */

static int printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Trace data that only smtpd (or root, or qmgr) may vouch for: from any
 * other local user it would be a forgery. */
static const char *const trusted_attr_names[] = {"client", "helo", "proto", "auth", NULL};

static int name_in(const char *const *names, const char *s, size_t nlen)
{
	for (int i = 0; names[i]; i++)
		if (strlen(names[i]) == nlen && !memcmp(names[i], s, nlen))
			return 1;
	return 0;
}

/* Checks an A record; returns the length of its name. */
static size_t check_attr(const struct buf *d)
{
	const char *eq = memchr(d->s, '=', d->len);
	if (!eq || !printable(d->s, d->len))
		enq_fail(1, "554 5.6.0 malformed attribute record");
	size_t nlen = (size_t)(eq - d->s);
	if (name_in(attr_names, d->s, nlen))
		return nlen;
	enq_fail(1, "554 5.6.0 unknown attribute \"%.*s\"", (int)(nlen < 40 ? nlen : 40), d->s);
}

/* ret=FULL|HDRS; envid= 1..100 printable ASCII, no '+' or '=' ambiguity:
 * stored decoded (xtext is the wire form, RFC 3461 4). */
static void check_dsn_attr(const struct buf *d, size_t nlen)
{
	const char *v = d->s + nlen + 1;
	size_t vlen = d->len - nlen - 1;
	if (nlen == 3 && !memcmp(d->s, "ret", 3) &&
	    !(vlen == 4 && (!memcmp(v, "FULL", 4) || !memcmp(v, "HDRS", 4))))
		enq_fail(1, "554 5.5.4 bad DSN RET value");
	if (nlen == 5 && !memcmp(d->s, "envid", 5)) {
		int ok = vlen > 0 && vlen <= ENVID_MAX;
		for (size_t i = 0; ok && i < vlen; i++)
			ok = (unsigned char)v[i] >= 0x20 && (unsigned char)v[i] < 0x7f;
		if (!ok)
			enq_fail(1, "554 5.5.4 bad DSN ENVID value");
	}
}

static void add_attr(struct enq *e, const struct buf *d)
{
	size_t nlen = check_attr(d);
	check_dsn_attr(d, nlen);
	if (!e->trusted && name_in(trusted_attr_names, d->s, nlen)) {
		log_warn("%s: uid=%lu may not set the %.*s attribute: dropped", e->qid,
			 (unsigned long)e->caller, (int)nlen, d->s);
		return;
	}
	struct buf b = BUF_INIT;
	rec_put(&b, REC_ATTR, d->s, d->len);
	enq_put(e, b.s, b.len);
	buf_free(&b);
}

static void check_sender(const struct buf *d)
{
	if (d->len > 0 && addr_check(d->s, d->len, 1) != ADDR_OK)
		enq_fail(1, "554 5.1.7 bad sender address");
}

/* The S record, then the caller's uid as the first attribute: written by
 * enqueue itself, so it cannot be forged (uid= is not a client attribute). */
static void add_sender(struct enq *e, const struct buf *d)
{
	check_sender(d);
	buf_copy(&e->sender, d);
	struct buf b = BUF_INIT, a = BUF_INIT;
	rec_put(&b, REC_SENDER, d->s, d->len);
	buf_printf(&a, "uid=%lu", (unsigned long)e->caller);
	rec_put(&b, REC_ATTR, a.s, a.len);
	enq_put(e, b.s, b.len);
	buf_free(&b);
	buf_free(&a);
}

/* Expands one R and records, for each new final recipient, its original. */
static void add_rcpt(struct enq *e, const struct buf *r, const struct buf *orig,
		     const struct buf *notify)
{
	if (++e->nrcpt_in > (unsigned long long)config_num(e->cfg, "max_recipients"))
		enq_fail(1, "554 5.5.3 too many recipients");
	if (addr_check(r->s, r->len, 1) != ADDR_OK)
		enq_fail(1, "554 5.1.3 bad recipient address");
	struct buf err = BUF_INIT;
	size_t before = e->rcpts.n;
	int rc = resolve_expand(&e->res, r->s, r->len, &e->rcpts, &err);
	if (rc == -1)
		enq_fail(111, "451 4.3.0 cannot read the aliases table");
	if (rc < 0)
		enq_fail(1, "554 %s", buf_cstr(&err));
	buf_free(&err);
	e->origs = xrealloc(e->origs, size_mul(e->rcpts.n + 1, sizeof *e->origs));
	e->notifies = xrealloc(e->notifies, size_mul(e->rcpts.n + 1, sizeof *e->notifies));
	for (size_t i = before; i < e->rcpts.n; i++) {
		e->origs[i] = (struct buf)BUF_INIT;
		e->notifies[i] = (struct buf)BUF_INIT;
		buf_copy(&e->notifies[i], notify);	/* an alias's targets inherit it */
		const struct buf *src = orig->len ? orig : r;
		if (orig->len || !mem_caseeq(src->s, src->len, e->rcpts.addrs[i].s,
					     e->rcpts.addrs[i].len))
			buf_copy(&e->origs[i], src);
	}
	e->norig = e->rcpts.n;
}

/* Writes the O/R records and the M header whose length is patched later. */
static void start_message(struct enq *e)
{
	if (e->rcpts.n == 0)
		enq_fail(1, "554 5.5.1 no valid recipients");
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < e->rcpts.n; i++) {
		if (e->origs[i].len)
			rec_put(&b, REC_ORCPT, e->origs[i].s, e->origs[i].len);
		if (e->notifies[i].len)
			rec_put(&b, REC_NOTIFY, e->notifies[i].s, e->notifies[i].len);
		rec_put(&b, REC_RCPT, e->rcpts.addrs[i].s, e->rcpts.addrs[i].len);
	}
	enq_put(e, b.s, b.len);
	e->msg_hdr_off = e->written + (off_t)e->file.len;
	buf_reset(&b);
	rec_put_header_fixed(&b, REC_MESSAGE, 0);
	enq_put(e, b.s, b.len);
	buf_free(&b);
}

#define TRACE_ALLOWANCE (64 * 1024)

static void add_message(struct enq *e, const struct buf *d)
{
	if (e->msg_hdr_off < 0)
		start_message(e);
	e->msg_len += d->len;
	/* the limit is on what the client sent: room for the trace fields
	 * (Received:, Date:, Message-ID:) that smtpd and sendmail add */
	if (e->msg_len > (unsigned long long)config_num(e->cfg, "max_message_size") + TRACE_ALLOWANCE)
		enq_fail(1, "552 5.3.4 message size exceeds fixed maximum message size");
	enq_put(e, d->s, d->len);
}

/* Patches the real message length into the M header, then ends the file. */
static void finish_message(struct enq *e)
{
	if (e->msg_hdr_off < 0)
		start_message(e);
	enq_put(e, "\nE0:\n", 5);
	enq_flush(e);
	struct buf h = BUF_INIT;
	rec_put_header_fixed(&h, REC_MESSAGE, e->msg_len);
	ssize_t w = pwrite(e->fd, h.s, h.len, e->msg_hdr_off);
	buf_free(&h);
	if (w != REC_FIXED_HEADER_LEN)
		enq_fail(111, "451 4.3.0 cannot write the queue file");
}

static int get_record(struct io *in, char *type, struct buf *d, int in_message)
{
	int r = rec_get(in, type, d, in_message ? MSG_REC_MAX : ENV_REC_MAX);
	if (r == 1 && *type == REC_MESSAGE && d->len > MSG_REC_MAX)
		r = -2;
	if (r == -2)
		enq_fail(1, "554 5.6.0 record too long");
	if (r == 0 || (r < 0 && (in->err == IO_ERR_EOF || in->eof)))
		enq_fail(111, "451 4.3.0 input ended before the end record");
	if (r < 0)
		enq_fail(in->err == IO_ERR_TIMEOUT ? 111 : 1, "%s",
			 in->err == IO_ERR_TIMEOUT ? "451 4.4.2 timeout reading the envelope"
						   : "554 5.6.0 malformed record");
	return 1;
}

/* States of the record order S, A*, (O? R)+, M*, E. */
enum { ST_SENDER, ST_ATTRS, ST_ORIG, ST_RCPTS, ST_MESSAGE };

void envelope_read(struct enq *e, struct io *in)
{
	struct buf d = BUF_INIT, orig = BUF_INIT, notify = BUF_INIT;
	int st = ST_SENDER;
	char type;
	for (;;) {
		get_record(in, &type, &d, st >= ST_RCPTS);
		if (type != REC_MESSAGE && d.len > ENV_REC_MAX)
			enq_fail(1, "554 5.6.0 record too long");
		if (type == REC_SENDER && st == ST_SENDER) {
			add_sender(e, &d);
			st = ST_ATTRS;
		} else if (type == REC_ATTR && st == ST_ATTRS) {
			add_attr(e, &d);
		} else if (type == REC_ORCPT && (st == ST_ATTRS || st == ST_RCPTS ||
						 (st == ST_ORIG && orig.len == 0))) {
			if (d.len == 0 || !printable(d.s, d.len) || orig.len)
				enq_fail(1, "554 5.6.0 malformed original recipient");
			buf_copy(&orig, &d);
			st = ST_ORIG;
		} else if (type == REC_NOTIFY && (st == ST_ATTRS || st == ST_ORIG || st == ST_RCPTS)) {
			if (notify.len || !dsn_notify_valid(d.s, d.len))
				enq_fail(1, "554 5.5.4 bad DSN NOTIFY value");
			buf_copy(&notify, &d);
			st = ST_ORIG;
		} else if (type == REC_RCPT && st >= ST_ATTRS && st <= ST_RCPTS) {
			add_rcpt(e, &d, &orig, &notify);
			buf_reset(&orig);
			buf_reset(&notify);
			st = ST_RCPTS;
		} else if (type == REC_MESSAGE && st >= ST_RCPTS) {
			add_message(e, &d);
			st = ST_MESSAGE;
		} else if (type == REC_END && d.len == 0 && st >= ST_RCPTS) {
			break;
		} else {
			enq_fail(1, "554 5.6.0 unexpected '%c' record", type > 0x20 && type < 0x7f ? type : '?');
		}
	}
	finish_message(e);
	buf_free(&d);
	buf_free(&orig);
	buf_free(&notify);
}
