/* test_smtpd: smtpd's I/O-free parts: the command and MAIL/RCPT parser
 * (smtpd/parse.c) and the DATA decoder and header scanner (smtpd/data.c).
 * Unit tests link only the common library, so the two sources are
 * included here directly. */
#include "../../smtpd/parse.c"
#include "../../smtpd/data.c"
#include "tap.h"

static struct parse_opts esmtp = {1, 1, 0, 1000};

static int cmd_is(const char *line, enum smtp_verb v, const char *arg)
{
	struct smtp_cmd c;
	if (smtp_parse_command(line, strlen(line), &c) < 0)
		return 0;
	return c.verb == v && c.arglen == strlen(arg) && memcmp(c.arg, arg, c.arglen) == 0;
}

static void test_commands(void)
{
	CHECK(cmd_is("EHLO client.test", V_EHLO, "client.test"));
	CHECK(cmd_is("ehlo client.test  ", V_EHLO, "client.test"));
	CHECK(cmd_is("MaIl FROM:<a@b.test>", V_MAIL, "FROM:<a@b.test>"));
	CHECK(cmd_is("QUIT", V_QUIT, ""));
	CHECK(cmd_is("NOOP", V_NOOP, ""));
	CHECK(cmd_is("DATAX", V_UNKNOWN, ""));
	CHECK(cmd_is("STARTTLS", V_STARTTLS, ""));
	CHECK(cmd_is("BDAT 10", V_NOTIMPL, "10"));
	CHECK(cmd_is("", V_UNKNOWN, ""));
	struct smtp_cmd c;
	CHECK(smtp_parse_command("NO\0OP", 5, &c) == -1);
	CHECK(smtp_parse_command("NOOP\rX", 6, &c) == -1);
}

static int mail(const char *arg, int *code, struct mail_req *m)
{
	struct smtp_err e = smtp_parse_mail(arg, strlen(arg), &esmtp, m);
	*code = e.code;
	buf_cstr(&m->addr);
	return e.code;
}

static void test_mail(void)
{
	struct mail_req m = {.addr = BUF_INIT};
	int code;
	CHECK(mail("FROM:<a@B.test>", &code, &m) == 0 && buf_eq(&m.addr, "a@b.test"));
	CHECK(mail("FROM: <a@b.test>", &code, &m) == 0);
	CHECK(mail("from:<>", &code, &m) == 0 && m.addr.len == 0);
	CHECK(mail("FROM:<a@b.test> SIZE=1000 BODY=8BITMIME", &code, &m) == 0 &&
	      m.size == 1000 && m.body_8bit);
	CHECK(mail("FROM:<a@b.test> body=7bit", &code, &m) == 0 && !m.body_8bit);
	CHECK(mail("FROM:<a@b.test> SIZE=1001", &code, &m) == 552);
	CHECK(mail("FROM:<a@b.test> SIZE=1 SIZE=2", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> SIZE=", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> SIZE=123456789012345678901", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> BODY=BINARYMIME", &code, &m) == 504);
	CHECK(mail("FROM:<a@b.test> XFOO", &code, &m) == 555);
	CHECK(mail("FROM:<a@b.test>SIZE=1", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> SMTPUTF8=yes", &code, &m) == 501);
	CHECK(mail("FROM:<\xc3\xa9@b.test>", &code, &m) == 553);
	CHECK(mail("FROM:<\xc3\xa9@b.test> SMTPUTF8", &code, &m) == 0 && m.smtputf8);
	CHECK(mail("FROM:<\xc3@b.test> SMTPUTF8", &code, &m) == 501);
	CHECK(mail("FROM:a@b.test", &code, &m) == 501);
	CHECK(mail("TO:<a@b.test>", &code, &m) == 501);
	CHECK(mail("FROM:", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> RET=hdrs ENVID=QQ+2B1", &code, &m) == 0 &&
	      buf_eq(&m.ret, "HDRS") && buf_eq(&m.envid, "QQ+1"));
	CHECK(mail("FROM:<a@b.test> RET=FULL", &code, &m) == 0 && buf_eq(&m.ret, "FULL") &&
	      m.envid.len == 0);
	CHECK(mail("FROM:<a@b.test> RET=NONE", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> RET=FULL RET=HDRS", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> ENVID=a+00b", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> ENVID=a+4", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> ENVID=", &code, &m) == 501);
	CHECK(mail("FROM:<a@b.test> ENVID=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", &code, &m) == 501);
	struct parse_opts no_utf8 = {1, 0, 0, 1000};
	CHECK(smtp_parse_mail("FROM:<a@b.test> SMTPUTF8", 24, &no_utf8, &m).code == 555);
	struct parse_opts helo = {0, 1, 0, 1000};
	CHECK(smtp_parse_mail("FROM:<a@b.test> SIZE=1", 22, &helo, &m).code == 555);
	mail_req_free(&m);
}

static int rcpt(const char *arg, const struct parse_opts *o, struct rcpt_req *r)
{
	int code = smtp_parse_rcpt(arg, strlen(arg), o, r).code;
	buf_cstr(&r->addr);
	return code;
}

static void test_rcpt(void)
{
	struct rcpt_req r = {.addr = BUF_INIT};
	struct parse_opts utf8 = {1, 1, 1, 1000};
	CHECK(rcpt("TO:<demo@Example.test>", &esmtp, &r) == 0 && buf_eq(&r.addr, "demo@example.test"));
	CHECK(rcpt("TO:<Postmaster>", &esmtp, &r) == 0 && r.postmaster && buf_eq(&r.addr, "postmaster"));
	CHECK(rcpt("to:<postmaster> ", &esmtp, &r) == 0 && r.postmaster);
	CHECK(rcpt("TO:<postmaster@x.test>", &esmtp, &r) == 0 && !r.postmaster);
	CHECK(rcpt("TO:<postmasterx>", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<>", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> NOTIFY=NEVER", &esmtp, &r) == 0 && buf_eq(&r.notify, "NEVER"));
	CHECK(rcpt("TO:<a@b.test> NOTIFY=success,Delay", &esmtp, &r) == 0 &&
	      buf_eq(&r.notify, "SUCCESS,DELAY"));
	CHECK(rcpt("TO:<a@b.test> NOTIFY=NEVER,SUCCESS", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> NOTIFY=SUCCESS,SUCCESS", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> NOTIFY=FAILURE,", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> NOTIFY=DELAY NOTIFY=DELAY", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> ORCPT=rfc822;x+2By@b.test", &esmtp, &r) == 0 &&
	      buf_eq(&r.orcpt, "rfc822;x+y@b.test"));
	CHECK(rcpt("TO:<a@b.test> ORCPT=rfc822;x+2@b.test", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> ORCPT=rfc822;x+0Ay", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> ORCPT=x@b.test", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> ORCPT=;x@b.test", &esmtp, &r) == 501);
	CHECK(rcpt("TO:<a@b.test> FOO=1", &esmtp, &r) == 555);
	CHECK(rcpt("TO:<j\xc3\xb6rg@b.test>", &esmtp, &r) == 553);
	CHECK(rcpt("TO:<j\xc3\xb6rg@b.test>", &utf8, &r) == 0);
	CHECK(rcpt("TO:<a@b.test", &esmtp, &r) == 501);
	rcpt_req_free(&r);
}

static void test_utf8_helo(void)
{
	CHECK(utf8_valid("plain", 5));
	CHECK(utf8_valid("j\xc3\xb6rg", 5));
	CHECK(utf8_valid("\xe2\x82\xac\xf0\x9f\x93\xab", 7));
	CHECK(!utf8_valid("\xc0\x80", 2));		/* overlong NUL */
	CHECK(!utf8_valid("\xe0\x80\xaf", 3));		/* overlong */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));		/* surrogate */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4));	/* above U+10FFFF */
	CHECK(!utf8_valid("\xc3", 1));			/* truncated */
	CHECK(!utf8_valid("\x80", 1));
	CHECK(smtp_helo_valid("client.test", 11));
	CHECK(smtp_helo_valid("[192.0.2.1]", 11));
	CHECK(!smtp_helo_valid("a\tb", 3));
	CHECK(!smtp_helo_valid("caf\xc3\xa9", 5));
	CHECK(!smtp_helo_valid("", 0));
}

/* Decodes s in pieces of size piece; returns bytes consumed. */
static size_t dec(const char *s, size_t n, size_t piece, struct data_dec *d, struct buf *out)
{
	size_t off = 0;
	buf_reset(out);
	data_dec_init(d, 50);
	while (off < n && !d->done) {
		size_t k = n - off < piece ? n - off : piece;
		off += data_dec_feed(d, s + off, k, out);
	}
	buf_cstr(out);
	return off;
}

#define DEC(lit, piece) dec(lit, sizeof(lit) - 1, piece, &d, &out)

static void test_decoder(void)
{
	struct data_dec d;
	struct buf out = BUF_INIT;
	for (size_t p = 1; p <= 64; p *= 4) {
		CHECK(DEC("a\r\nb\r\n.\r\n", p) == 9 && d.done && buf_eq(&out, "a\nb\n") && !data_dec_bad(&d));
		CHECK(DEC(".\r\n", p) == 3 && d.done && out.len == 0);
		CHECK(DEC("..x\r\n...\r\n.\r\n", p) == 13 && d.done && buf_eq(&out, ".x\n..\n"));
		CHECK(DEC("a\r\n.\r\nNOOP\r\n", p) == 6 && d.done);
		/* smuggling: none of these ends the data */
		CHECK(DEC("a\n.\nMAIL\r\n", p) == 10 && !d.done && d.bare_lf);
		CHECK(DEC("a\r.\rMAIL\r\n", p) == 10 && !d.done && d.bare_cr);
		CHECK(DEC("a\r\n.\nMAIL\r\n", p) == 11 && !d.done && d.bare_lf);
		CHECK(DEC("a\n.\r\nMAIL\r\n", p) == 11 && !d.done && d.bare_lf);
		CHECK(DEC("a\n.\r\nb\r\n.\r\n", p) == 11 && d.done && d.bare_lf);
		CHECK(DEC("a\r\n.\r.\r\n", p) == 8 && !d.done && d.bare_cr);
		CHECK(DEC("a\rb\r\n.\r\n", p) == 8 && d.done && d.bare_cr);
		CHECK(DEC("a\r\r\n.\r\n", p) == 7 && d.done && d.bare_cr);
	}
	char big[200];
	memset(big, 'x', sizeof big);
	memcpy(big + 190, "\r\n.\r\n", 5);
	CHECK(dec(big, 195, 7, &d, &out) == 195 && d.done && d.long_line && !d.bare_lf);
	buf_free(&out);
}

/* Scans msg (LF line ends); inserted is put where the header ends. */
static void scan(const char *msg, struct hdr_scan *h, struct buf *out, size_t max)
{
	size_t n = strlen(msg), off = 0;
	buf_reset(out);
	hdr_scan_init(h, max);
	while (off < n) {
		off += hdr_scan_feed(h, msg + off, 1, out);	/* byte by byte */
		if (h->state == HS_END) {
			buf_puts(out, "X-Add: 1\n");
			hdr_scan_body(h, out);
		}
	}
	hdr_scan_eof(h, out);
	if (h->state == HS_END) {
		buf_puts(out, "X-Add: 1\n");
		hdr_scan_body(h, out);
	}
	buf_cstr(out);
}

static void test_headers(void)
{
	struct hdr_scan h;
	struct buf out = BUF_INIT;
	scan("Subject: a\nReceived: x\n\tfolded\nRECEIVED : y\n\nReceived: body\n", &h, &out, 1000);
	CHECK(h.received == 2 && !h.has_date && !h.has_msgid && !h.too_big);
	CHECK(buf_eq(&out, "Subject: a\nReceived: x\n\tfolded\nRECEIVED : y\nX-Add: 1\n\nReceived: body\n"));
	hdr_scan_free(&h);
	scan("date: now\nMessage-Id: <x@y>\n\nb\n", &h, &out, 1000);
	CHECK(h.has_date && h.has_msgid);
	hdr_scan_free(&h);
	scan("just a body line\nmore\n", &h, &out, 1000);
	CHECK(buf_eq(&out, "X-Add: 1\n\njust a body line\nmore\n"));
	hdr_scan_free(&h);
	scan("Subject: only headers\n", &h, &out, 1000);
	CHECK(buf_eq(&out, "Subject: only headers\nX-Add: 1\n"));
	hdr_scan_free(&h);
	scan("", &h, &out, 1000);
	CHECK(buf_eq(&out, "X-Add: 1\n"));
	hdr_scan_free(&h);
	scan("Subject: x\nbroken line\n", &h, &out, 1000);
	CHECK(buf_eq(&out, "Subject: x\nX-Add: 1\n\nbroken line\n"));
	hdr_scan_free(&h);
	scan("X-Long: 0123456789012345678901234567890123456789\n\nb\n", &h, &out, 20);
	CHECK(h.too_big);
	hdr_scan_free(&h);
	buf_free(&out);
}

int main(void)
{
	test_commands();
	test_mail();
	test_rcpt();
	test_utf8_helo();
	test_decoder();
	test_headers();
	return tap_done();
}
