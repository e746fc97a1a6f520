/* test_imap_parse: imapd's I/O-free command parser (imapd/mailbox/parse.c):
 * tags, atoms, quoted strings (unescaped in place), literals {n} and {n+},
 * astrings, nesting limits, numbers, sequence sets with '*', dates, the
 * literal announcement at a line end, and INTERNALDATE output.
 * Unit tests link only the common library, so the source is included. */
#include "../../imapd/mailbox/parse.c"
#include "tap.h"

static char text[4096];

static struct imap_parser *P(const char *s)
{
	static struct imap_parser p;
	size_t n = strlen(s);
	memcpy(text, s, n + 1);
	imap_p_init(&p, text, n);
	return &p;
}

static int str_is(const struct imap_str *a, const char *s)
{
	return a->p && a->n == strlen(s) && !memcmp(a->p, s, a->n);
}

static void test_tokens(void)
{
	struct imap_str a;
	struct imap_parser *p = P("a001 SELECT INBOX");
	CHECK(imap_p_tag(p, &a) == 0 && str_is(&a, "a001"));
	CHECK(imap_p_sp(p) == 0 && imap_p_word(p, "select") == 0);
	CHECK(imap_p_sp(p) == 0 && imap_p_astring(p, &a) == 0 && str_is(&a, "INBOX"));
	CHECK(imap_p_end(p));
	CHECK(imap_p_tag(P("+abc"), &a) < 0);
	CHECK(imap_p_tag(P("a+b c"), &a) < 0 || !str_is(&a, "a+b"));
	CHECK(imap_p_word(P("UIDS"), "UID") < 0);
	CHECK(imap_p_word(P("UID FETCH"), "UID") == 0);
	CHECK(imap_p_word(P("BODY.PEEK[1]"), "BODY.PEEK") == 0);
	p = P("\"a \\\"q\\\" \\\\b\"");
	CHECK(imap_p_astring(p, &a) == 0 && str_is(&a, "a \"q\" \\b") && imap_p_end(p));
	CHECK(imap_p_string(P("\"bad \\x\""), &a) < 0);
	CHECK(imap_p_string(P("\"unterminated"), &a) < 0);
	CHECK(imap_p_astring(P("abc]def"), &a) == 0 && str_is(&a, "abc]def"));
	CHECK(imap_p_atom(P("abc]def"), &a) == 0 && str_is(&a, "abc"));
	CHECK(imap_p_listmbox(P("INBOX.*"), &a) == 0 && str_is(&a, "INBOX.*"));
	CHECK(imap_p_astring(P("INBOX.*"), &a) == 0 && str_is(&a, "INBOX."));
	p = P("NIL");
	CHECK(imap_p_nstring(p, &a) == 0 && a.p == NULL);
	CHECK(imap_p_flag(P("\\Seen"), &a) == 0 && str_is(&a, "\\Seen"));
	CHECK(imap_p_flag(P("$Junk"), &a) == 0 && str_is(&a, "$Junk"));
	CHECK(imap_p_flag(P("\\"), &a) < 0);
	CHECK(imap_sysflag("\\SEEN", 5) == MF_SEEN && imap_sysflag("\\Foo", 4) == 0);
	CHECK(imap_is_keyword("$Label1", 7) && !imap_is_keyword("a b", 3));
}

static void test_literals(void)
{
	struct imap_str a;
	struct imap_parser *p = P("{5}\r\nhe\"lo rest");
	CHECK(imap_p_string(p, &a) == 0 && str_is(&a, "he\"lo") && imap_p_sp(p) == 0);
	p = P("{3+}\r\na\r\n");
	CHECK(imap_p_astring(p, &a) == 0 && a.n == 3 && !memcmp(a.p, "a\r\n", 3) && imap_p_end(p));
	CHECK(imap_p_string(P("{0}\r\n"), &a) == 0 && a.n == 0);
	CHECK(imap_p_string(P("{10}\r\nshort"), &a) < 0);
	CHECK(imap_p_string(P("{99999999999}\r\n"), &a) < 0);
	CHECK(imap_p_string(P("{}\r\n"), &a) < 0);
	CHECK(imap_p_string(P("{3}x\r\nabc"), &a) < 0);
	unsigned long long n;
	int sync;
	CHECK(imap_line_literal("a APPEND x {12}\r\n", 17, &n, &sync) == 1 && n == 12 && sync);
	CHECK(imap_line_literal("a APPEND x {12+}\r\n", 18, &n, &sync) == 1 && n == 12 && !sync);
	CHECK(imap_line_literal("a NOOP\r\n", 8, &n, &sync) == 0);
	CHECK(imap_line_literal("a X }\r\n", 7, &n, &sync) == 0);
	CHECK(imap_line_literal("a X {}\r\n", 8, &n, &sync) == -1);
	CHECK(imap_line_literal("a X {123456789012}\r\n", 20, &n, &sync) == -1);
}

static void test_lists(void)
{
	char deep[64];
	memset(deep, '(', 17);
	deep[17] = 0;
	struct imap_parser *p = P(deep);
	int opened = 0;
	while (imap_p_open(p) == 0)
		opened++;
	CHECK(opened == IMAP_DEPTH_MAX);
	p = P("()");
	CHECK(imap_p_open(p) == 0 && imap_p_close(p) == 0 && imap_p_close(p) < 0);
}

static void test_numbers(void)
{
	unsigned long long v;
	unsigned long u;
	CHECK(imap_p_number(P("0"), &v) == 0 && v == 0);
	CHECK(imap_p_number(P("9223372036854775807"), &v) == 0 && v == 9223372036854775807ULL);
	CHECK(imap_p_number(P("9223372036854775808"), &v) < 0);
	CHECK(imap_p_nznumber(P("0"), &u) < 0);
	CHECK(imap_p_nznumber(P("4294967295"), &u) == 0 && u == 4294967295UL);
	CHECK(imap_p_nznumber(P("4294967296"), &u) < 0);
}

static void test_seqset(void)
{
	struct imap_seqset s;
	struct imap_parser *p = P("1:3,7,10:*,*");
	CHECK(imap_p_seqset(p, &s) == 0 && s.n == 4 && imap_p_end(p));
	CHECK(imap_seqset_has(&s, 2, 20) && !imap_seqset_has(&s, 5, 20));
	CHECK(imap_seqset_has(&s, 15, 20) && imap_seqset_has(&s, 20, 20));
	imap_seqset_free(&s);
	p = P("5:2");
	CHECK(imap_p_seqset(p, &s) == 0 && imap_seqset_has(&s, 3, 9));
	imap_seqset_free(&s);
	p = P("*:4");	/* * below 4: the range is 2..4 */
	CHECK(imap_p_seqset(p, &s) == 0 && imap_seqset_has(&s, 3, 2) && !imap_seqset_has(&s, 5, 2));
	imap_seqset_free(&s);
	CHECK(imap_p_seqset(P("0"), &s) < 0 && s.r == NULL);
	CHECK(imap_p_seqset(P("1,"), &s) < 0 && s.r == NULL);
	CHECK(imap_p_seqset(P("1:"), &s) < 0);
	CHECK(imap_p_seqset(P("a"), &s) < 0);
	static char many[IMAP_SEQ_MAX * 2 + 8];
	size_t n = 0;
	for (int i = 0; i < IMAP_SEQ_MAX + 1; i++) {
		many[n++] = '1';
		many[n++] = ',';
	}
	many[n - 1] = 0;
	struct imap_parser q;
	imap_p_init(&q, many, n - 1);
	CHECK(imap_p_seqset(&q, &s) < 0);
}

static void test_dates(void)
{
	long long t;
	CHECK(imap_p_date(P("1-Jan-1970"), &t) == 0 && t == 0);
	CHECK(imap_p_date(P("\"01-feb-2024\""), &t) == 0 && t == 1706745600);
	CHECK(imap_p_date(P("32-Jan-2024"), &t) < 0);
	CHECK(imap_p_date(P("1-Foo-2024"), &t) < 0);
	CHECK(imap_p_date(P("1-Jan-24"), &t) < 0);
	CHECK(imap_p_datetime(P("\"17-Jul-1996 02:44:25 -0700\""), &t) == 0 && t == 837596665);
	CHECK(imap_p_datetime(P("\" 7-Jul-1996 02:44:25 +0000\""), &t) == 0);
	CHECK(imap_p_datetime(P("\"17-Jul-1996 25:44:25 -0700\""), &t) < 0);
	CHECK(imap_p_datetime(P("17-Jul-1996 02:44:25 -0700"), &t) < 0);
	struct buf b = BUF_INIT;
	imap_put_datetime(&b, 837596665);
	CHECK(buf_eq(&b, "\"17-Jul-1996 09:44:25 +0000\""));
	buf_free(&b);
}

int main(void)
{
	test_tokens();
	test_literals();
	test_lists();
	test_numbers();
	test_seqset();
	test_dates();
	return tap_done();
}
