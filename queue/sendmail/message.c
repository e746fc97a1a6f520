/* message: sendmail's reading of the message on stdin and its header
 * edits.  Input is turned into the queue's form (LF line ends); without
 * -i a line holding only "." ends it (the traditional sendmail rule).
 * The header is split off with common/header.c; -t takes recipients from
 * To/Cc/Bcc (addr_list_parse) and drops Bcc, and missing From:, Date: and
 * Message-ID: are added. */
#include "sendmail.h"
#include "addr.h"
#include "header.h"
#include "io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Appends one input line (with its LF) in LF form; 1 if it was ".". */
static int add_line(struct buf *out, struct buf *line, int dot_ok)
{
	size_t n = line->len;
	int lf = n && line->s[n - 1] == '\n';
	if (lf)
		n--;
	if (n && line->s[n - 1] == '\r')
		n--;
	if (!dot_ok && n == 1 && line->s[0] == '.')
		return 1;
	buf_append(out, line->s, n);
	if (lf)
		buf_putc(out, '\n');
	return 0;
}

static void split(struct msg *m, struct buf *all)
{
	int blank = 0;
	size_t body = header_end(all->s, all->len, &blank);
	size_t hlen = blank && body > 0 ? body - 1 : body;
	buf_set(&m->header, all->s, hlen);
	if (m->header.len && m->header.s[m->header.len - 1] != '\n')
		buf_putc(&m->header, '\n');
	buf_set(&m->body, all->s + body, all->len - body);
}

void message_read(struct msg *m, int dot_ok, size_t max)
{
	struct io in;
	io_init(&in, 0, -1, 0);
	struct buf all = BUF_INIT, line = BUF_INIT;
	int r;
	while ((r = io_getline(&in, &line, max + 2)) == LINE_OK) {
		if (add_line(&all, &line, dot_ok))
			break;
		if (all.len > max)
			fail(EX_DATAERR_, "message too big (limit %zu bytes)", max);
	}
	if (r == LINE_TOOLONG)
		fail(EX_DATAERR_, "message too big (limit %zu bytes)", max);
	if (r == LINE_ERR)
		fail(EX_OSERR_, "cannot read the message from stdin");
	split(m, &all);
	buf_free(&all);
	buf_free(&line);
	io_free(&in);
}

struct take_ctx {
	struct rcpts *r;
	const char *domain;
};

static void take_one(const char *a, size_t n, void *ctx)
{
	struct take_ctx *c = ctx;
	rcpts_add(c->r, a, n, c->domain);
}

static int is_field(const struct header_field *f, const char *name)
{
	return mem_caseeq(f->name, f->name_len, name, strlen(name));
}

void message_take_rcpts(struct msg *m, struct rcpts *r, const char *domain)
{
	struct header_iter it;
	struct header_field f;
	struct buf kept = BUF_INIT, v = BUF_INIT;
	struct take_ctx c = {r, domain};
	header_iter_init(&it, m->header.s ? m->header.s : "", m->header.len);
	while (header_next(&it, &f)) {
		int bcc = is_field(&f, "Bcc");
		if (bcc || is_field(&f, "To") || is_field(&f, "Cc")) {
			buf_reset(&v);
			header_unfold(f.value, f.value_len, &v);
			if (v.len && addr_list_parse(v.s, v.len, take_one, &c) < 0)
				fail(EX_DATAERR_, "bad address list in %.*s: header", (int)f.name_len, f.name);
		}
		if (!bcc)
			buf_append(&kept, f.raw, f.raw_len);
	}
	buf_free(&m->header);
	m->header = kept;
	buf_free(&v);
}

void date_now(struct buf *out)
{
	char d[64];
	time_t t = time(NULL);
	struct tm tm;
	if (localtime_r(&t, &tm) && strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S %z", &tm))
		buf_puts(out, d);
}

static int has_field(const struct msg *m, const char *name)
{
	struct header_field f;
	return m->header.len && header_find(m->header.s, m->header.len, name, &f);
}

/* "Full Name" as a quoted string: backslash before '"' and '\'. */
static void put_quoted(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(out, '\\');
		if ((unsigned char)*s >= 0x20)
			buf_putc(out, *s);
	}
	buf_putc(out, '"');
}

void message_add_headers(struct msg *m, const char *sender, const char *fullname,
			 const char *host)
{
	if (!has_field(m, "From")) {
		buf_puts(&m->header, "From: ");
		if (fullname) {
			put_quoted(&m->header, fullname);
			buf_printf(&m->header, " <%s>\n", sender);
		} else {
			buf_printf(&m->header, "%s\n", sender);
		}
	}
	if (!has_field(m, "Date")) {
		buf_puts(&m->header, "Date: ");
		date_now(&m->header);
		buf_putc(&m->header, '\n');
	}
	if (!has_field(m, "Message-ID")) {
		unsigned int rnd = 0;
		if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
			rnd = (unsigned)clock();
		buf_printf(&m->header, "Message-ID: <%lld.%ld.%08x@%s>\n", (long long)time(NULL),
			   (long)getpid(), rnd, host);
	}
}
