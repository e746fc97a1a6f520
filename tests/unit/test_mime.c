/* test_mime: the MIME parser and IMAP output (common/mime*.c,
 * common/imapfmt.c).  Drives the corpus in tests/unit/mime/: each NAME.eml
 * has NAME.out with the expected FETCH results (recorded from Dovecot by
 * tests/unit/mime/dvref.py, except where README.md in that directory says
 * we differ on purpose), as records "=LEN ITEM\n" + LEN bytes + "\n".
 * Then unit checks of imapfmt, sections, partials, streaming, decoding,
 * dates, and limits.  Run from the top of the tree (tests/run does). */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imapfmt.h"
#include "mime.h"
#include "tap.h"
#include "uidlist.h"

#define CORPUS "tests/unit/mime"

static int read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(out, tmp, n);
	fclose(f);
	return 0;
}

static void show_diff(const char *what, const struct buf *want, const struct buf *got)
{
	printf("# %s\n#   want: %.*s\n#   got:  %.*s\n", what, (int)want->len,
	       want->s ? want->s : "", (int)got->len, got->s ? got->s : "");
}

/* Our answer for one item of the .out file. */
static void answer(const struct mime_msg *m, const char *item, struct buf *got)
{
	size_t n = strlen(item);
	if (strcmp(item, "BODYSTRUCTURE") == 0)
		mime_bodystructure(m, 0, 1, got);
	else if (strcmp(item, "BODY") == 0)
		mime_bodystructure(m, 0, 0, got);
	else if (strcmp(item, "ENVELOPE") == 0)
		mime_envelope(m, 0, got);
	else if (strcmp(item, "RFC822.SIZE") == 0) {
		struct mime_section sec;
		mime_section_get(m, "", 0, &sec);
		buf_printf(got, "%llu", sec.size);
		mime_section_free(&sec);
	} else if (strncmp(item, "BODY[", 5) == 0) {
		const char *close = strrchr(item, ']');
		unsigned long long start = 0, count = ULLONG_MAX;
		if (close[1] == '<')
			sscanf(close + 2, "%llu.%llu", &start, &count);
		struct mime_section sec;
		if (mime_section_get(m, item + 5, (size_t)(close - item - 5), &sec) == MIME_SEC_OK)
			mime_section_write(&sec, start, count, got);
		else
			buf_puts(got, "(syntax error)");
		mime_section_free(&sec);
	} else
		buf_printf(got, "(unknown item %.*s)", (int)n, item);
}

/* Every record of the .out file against our answer: one test per file,
 * with each mismatching item shown. */
static void check_out(const char *name, const struct mime_msg *m, const struct buf *out)
{
	size_t off = 0, items = 0, bad = 0;
	while (off < out->len) {
		const char *rec = out->s + off;
		const char *nl = memchr(rec, '\n', out->len - off);
		if (rec[0] != '=' || !nl) {
			bad++;
			break;
		}
		char *end;
		unsigned long len = strtoul(rec + 1, &end, 10);
		char item[512];
		snprintf(item, sizeof item, "%.*s", (int)(nl - end - 1), end + 1);
		struct buf want = BUF_INIT, got = BUF_INIT;
		buf_append(&want, nl + 1, len);
		answer(m, item, &got);
		items++;
		if (got.len != want.len || (got.len && memcmp(got.s, want.s, got.len) != 0)) {
			bad++;
			show_diff(item, &want, &got);
		}
		buf_free(&want);
		buf_free(&got);
		off = (size_t)(nl + 1 - out->s) + len + 1;
	}
	char what[600];
	snprintf(what, sizeof what, "%s: %zu items as recorded", name, items);
	tap_check(bad == 0 && items >= 10, what, __FILE__, __LINE__);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void corpus(void)
{
	DIR *d = opendir(CORPUS);
	CHECK(d != NULL);
	if (!d)
		return;
	char *names[1000];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 1000) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".eml") == 0)
			names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);
	CHECK(n >= 20);
	for (size_t i = 0; i < n; i++) {
		struct buf path = BUF_INIT, msg = BUF_INIT, out = BUF_INIT;
		buf_printf(&path, "%s/%s", CORPUS, names[i]);
		CHECK(read_file(buf_cstr(&path), &msg) == 0);
		buf_truncate(&path, path.len - 4);
		buf_puts(&path, ".out");
		struct mime_msg m;
		mime_parse(&m, msg.s ? msg.s : "", msg.len);
		if (read_file(buf_cstr(&path), &out) == 0)
			check_out(names[i], &m, &out);
		else {
			/* malformed input without a recording: it must give a
			 * structure and sections without crashing */
			struct buf bs = BUF_INIT;
			mime_bodystructure(&m, 0, 1, &bs);
			tap_check(bs.len > 2 && bs.s[0] == '(', names[i], __FILE__, __LINE__);
			buf_free(&bs);
		}
		mime_free(&m);
		buf_free(&path);
		buf_free(&msg);
		buf_free(&out);
		free(names[i]);
	}
}

static int streq(const struct buf *b, const char *s)
{
	return b->len == strlen(s) && (b->len == 0 || memcmp(b->s, s, b->len) == 0);
}

static void test_imapfmt(void)
{
	struct buf b = BUF_INIT;
	imapfmt_string_c(&b, "a \"b\" \\c");
	CHECK(streq(&b, "\"a \\\"b\\\" \\\\c\""));
	buf_reset(&b);
	imapfmt_string_c(&b, "caf\xc3\xa9");
	CHECK(streq(&b, "{5}\r\ncaf\xc3\xa9"));
	buf_reset(&b);
	imapfmt_string(&b, "a\nb", 3);
	CHECK(streq(&b, "{3}\r\na\nb"));
	buf_reset(&b);
	imapfmt_string(&b, "a\0b", 3);
	CHECK(streq(&b, "{3}\r\na\0b") == 0 && b.len == 8 && b.s[0] == '{');
	buf_reset(&b);
	imapfmt_string_c(&b, "\"\"\"\"\"");	/* five quotes: a literal */
	CHECK(streq(&b, "{5}\r\n\"\"\"\"\""));
	buf_reset(&b);
	imapfmt_nstring(&b, NULL, 0);
	buf_putc(&b, ' ');
	imapfmt_nstring(&b, "", 0);
	CHECK(streq(&b, "NIL \"\""));
	buf_reset(&b);
	imapfmt_astring(&b, "INBOX", 5);
	buf_putc(&b, ' ');
	imapfmt_astring(&b, "a b", 3);
	buf_putc(&b, ' ');
	imapfmt_astring(&b, "", 0);
	buf_putc(&b, ' ');
	imapfmt_astring(&b, "nil", 3);
	buf_putc(&b, ' ');
	imapfmt_astring(&b, "a]b", 3);
	CHECK(streq(&b, "INBOX \"a b\" \"\" \"nil\" a]b"));
	CHECK(imapfmt_is_atom("\\Seen", 5) == 0);
	CHECK(imapfmt_is_atom("a]", 2) == 0);
	CHECK(imapfmt_is_atom("x-y.z", 5) == 1);
	buf_reset(&b);
	struct imapfmt_list l;
	imapfmt_list_open(&l, &b);
	imapfmt_string_c(imapfmt_list_item(&l), "a");
	imapfmt_nil(imapfmt_list_item(&l));
	imapfmt_list_close(&l);
	CHECK(streq(&b, "(\"a\" NIL)"));
	buf_reset(&b);
	imapfmt_list_open(&l, &b);
	imapfmt_list_close(&l);
	CHECK(streq(&b, "()"));
	buf_free(&b);
}

static void parse_str(struct mime_msg *m, const char *s)
{
	mime_parse(m, s, strlen(s));
}

/* BODY[spec]<start.count> of msg as a C string in out */
static int section(const char *msg, const char *spec, unsigned long long start,
		   unsigned long long count, struct buf *out)
{
	struct mime_msg m;
	struct mime_section sec;
	parse_str(&m, msg);
	buf_reset(out);
	int r = mime_section_get(&m, spec, strlen(spec), &sec);
	if (r == MIME_SEC_OK) {
		mime_section_write(&sec, start, count, out);
		if (mime_section_partial_size(&sec, start, count) != out->len)
			buf_puts(out, "(size mismatch)");
	}
	mime_section_free(&sec);
	mime_free(&m);
	return r;
}

static const char issue_msg[] =
	"Subject: x\n"
	"Content-Type: multipart/mixed; boundary=o\n\n"
	"--o\n"
	"Content-Type: multipart/alternative; boundary=a\n\n"
	"--a\n"
	"Content-Type: text/plain\n\n"
	"plain\n"
	"--a\n"
	"Content-Type: text/html\n"
	"Content-Transfer-Encoding: 8bit\n\n"
	"<p>html</p>\n"
	"--a--\n"
	"--o\n"
	"Content-Type: message/rfc822\n\n"
	"Subject: inner\n\n"
	"inner body\n"
	"--o--\n";

static void test_sections(void)
{
	struct buf b = BUF_INIT;
	CHECK(section(issue_msg, "1.2.MIME", 0, ULLONG_MAX, &b) == MIME_SEC_OK);
	CHECK(streq(&b, "Content-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"));
	section(issue_msg, "1.2", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "<p>html</p>"));
	section(issue_msg, "1.1", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "plain"));
	section(issue_msg, "2.HEADER", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "Subject: inner\r\n\r\n"));
	section(issue_msg, "2.TEXT", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "inner body"));
	section(issue_msg, "2.1", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "inner body"));
	section(issue_msg, "2", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "Subject: inner\r\n\r\ninner body"));
	section(issue_msg, "HEADER.FIELDS (subject X)", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "Subject: x\r\n\r\n"));
	section(issue_msg, "HEADER.FIELDS (\"Sub\\ject\" \"\")", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "Subject: x\r\n\r\n"));
	section(issue_msg, "HEADER.FIELDS.NOT (\"SUBJECT\")", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "Content-Type: multipart/mixed; boundary=o\r\n\r\n"));
	/* a part that does not exist: empty, found = 0 */
	CHECK(section(issue_msg, "3", 0, ULLONG_MAX, &b) == MIME_SEC_OK && b.len == 0);
	section(issue_msg, "1.2.1", 0, ULLONG_MAX, &b);	/* a leaf is its own part 1 */
	CHECK(streq(&b, "<p>html</p>"));
	CHECK(section(issue_msg, "2.1.1", 0, ULLONG_MAX, &b) == MIME_SEC_OK && b.len == 0);
	CHECK(section("Subject: s\n\nbody\n", "1.1", 0, ULLONG_MAX, &b) == MIME_SEC_OK && b.len == 0);
	section("Subject: s\n\nbody\n", "1", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "body\r\n"));
	CHECK(section(issue_msg, "1.HEADER", 0, ULLONG_MAX, &b) == MIME_SEC_OK && b.len == 0);
	/* bad specs */
	const char *bad[] = {"0", "1.", ".1", "1..2", "MIME", "HEADER.FIELDS", "HEADER.FIELDS ()",
			     "HEADER.FIELDS (A", "TEXTX", "1.FOO", "01", "1.2.MIMEX", "HEADER.FIELDS (A  B)"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		tap_check(section(issue_msg, bad[i], 0, ULLONG_MAX, &b) == MIME_SEC_SYNTAX,
			  bad[i], __FILE__, __LINE__);
	CHECK(section(issue_msg, "header.fields.not (a b)", 0, ULLONG_MAX, &b) == MIME_SEC_OK);
	buf_free(&b);
}

static void test_partial(void)
{
	struct buf b = BUF_INIT;
	const char *msg = "A: b\n\nl1\nl2\r\nl3";	/* LF, CRLF, no final line end */
	section(msg, "", 0, ULLONG_MAX, &b);
	CHECK(streq(&b, "A: b\r\n\r\nl1\r\nl2\r\nl3\r\n"));
	section(msg, "", 4, 3, &b);	/* splits the CRLF made from an LF */
	CHECK(streq(&b, "\r\n\r"));
	section(msg, "", 5, 2, &b);
	CHECK(streq(&b, "\n\r"));
	section(msg, "TEXT", 2, 100, &b);
	CHECK(streq(&b, "\r\nl2\r\nl3\r\n"));
	section(msg, "", 19, 10, &b);
	CHECK(streq(&b, "\n"));
	section(msg, "", 20, 10, &b);
	CHECK(b.len == 0);
	section(msg, "", 0, 0, &b);
	CHECK(b.len == 0);
	section(msg, "", ULLONG_MAX, ULLONG_MAX, &b);
	CHECK(b.len == 0);
	/* the size agrees with uidlist's count for the whole message */
	struct mime_msg m;
	struct mime_section sec;
	parse_str(&m, msg);
	mime_section_get(&m, "", 0, &sec);
	int cr = 0;
	CHECK(sec.size == uidlist_crlf_count(msg, strlen(msg), &cr) + 2);
	mime_section_free(&sec);
	mime_free(&m);
	buf_free(&b);
}

struct collect {
	struct buf all;
	size_t calls;
	size_t stop_after;
};

static int collect(const char *p, size_t n, void *ctx)
{
	struct collect *c = ctx;
	buf_append(&c->all, p, n);
	return ++c->calls == c->stop_after ? 7 : 0;
}

static void test_stream(void)
{
	/* 300000 LF lines: 600000 octets streamed in chunks */
	struct buf msg = BUF_INIT;
	buf_puts(&msg, "Subject: big\n\n");
	for (int i = 0; i < 300000; i++)
		buf_putc(&msg, '\n');
	struct mime_msg m;
	struct mime_section sec;
	mime_parse(&m, msg.s, msg.len);
	CHECK(m.parts[0].body_size == 600000 && m.parts[0].body_lines == 300000);
	mime_section_get(&m, "TEXT", 4, &sec);
	struct collect c = {BUF_INIT, 0, 0};
	CHECK(mime_section_stream(&sec, 1, 599998, collect, &c) == 0);
	CHECK(c.all.len == 599998 && c.calls >= 9);
	CHECK(c.all.s[0] == '\n' && c.all.s[1] == '\r' && c.all.s[599997] == '\r');
	buf_reset(&c.all);
	c.calls = 0;
	c.stop_after = 2;
	CHECK(mime_section_stream(&sec, 0, ULLONG_MAX, collect, &c) == 7 && c.calls == 2);
	buf_free(&c.all);
	mime_section_free(&sec);
	mime_free(&m);
	buf_free(&msg);
}

static void decode_words(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	mime_decode_words(in, strlen(in), &b);
	tap_check(streq(&b, want), in, __FILE__, __LINE__);
	if (!streq(&b, want))
		printf("#   got: %.*s\n", (int)b.len, b.s ? b.s : "");
	buf_free(&b);
}

static void test_decode(void)
{
	decode_words("=?UTF-8?B?R3LDvMOfZQ==?= and =?ISO-8859-1?Q?caf=E9?=", "Gr\xc3\xbc\xc3\x9f" "e and caf\xc3\xa9");
	decode_words("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab");
	decode_words("=?ISO-8859-1?Q?a?=\r\n =?ISO-8859-2?Q?b_c?=", "ab c");
	decode_words("(=?ISO-8859-1?Q?a?=) x", "(a) x");
	decode_words("=?x-unknown?Q?abc?= z", "=?x-unknown?Q?abc?= z");
	decode_words("=?utf-8?Q?broken", "=?utf-8?Q?broken");
	decode_words("=?utf-8?X?abc?=", "=?utf-8?X?abc?=");
	decode_words("=?UTF-8*en?Q?hi?=", "hi");
	/* a UTF-8 character split over two words */
	decode_words("=?UTF-8?B?w6k=?= =?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "\xc3\xa9\xc3\xa9");
	decode_words("plain text", "plain text");
	decode_words("", "");
	struct buf b = BUF_INIT;
	mime_decode_body("BASE64", 6, "aGVs\nbG8=\n", 10, &b);
	CHECK(streq(&b, "hello"));
	buf_reset(&b);
	const char *qp = "a=3Db=\nc =\r\nd=zz=";
	mime_decode_body("quoted-printable", 16, qp, strlen(qp), &b);
	CHECK(streq(&b, "a=bc d=zz="));
	buf_reset(&b);
	mime_decode_body(NULL, 0, "as is", 5, &b);
	CHECK(streq(&b, "as is"));
	buf_reset(&b);
	CHECK(mime_header_get("A: 1\nSubject: two\n  lines\nSubject: 3\n\nbody", 40, "subject", &b) == 1);
	CHECK(streq(&b, "two  lines"));
	CHECK(mime_header_get("A: 1\n\nSubject: body\n", 19, "subject", &b) == 0);
	buf_free(&b);

	CHECK(mime_search("Hello World", 11, "o w", 3) == 1);
	CHECK(mime_search("Hello World", 11, "WORLD", 5) == 1);
	CHECK(mime_search("Hello World", 11, "worlds", 6) == 0);
	CHECK(mime_search("abc", 3, "", 0) == 1);
	CHECK(mime_search("GR\xc3\x9c\xc3\x9f", 6, "gr\xc3\x9c", 4) == 1);
	CHECK(mime_search("gr\xc3\xbc", 4, "GR\xc3\x9c", 4) == 0);	/* ASCII folding only */
	/* a match across the internal chunk boundary */
	struct buf hay = BUF_INIT;
	for (int i = 0; i < 65536 - 2; i++)
		buf_putc(&hay, 'x');
	buf_puts(&hay, "NeedLE");
	CHECK(mime_search(hay.s, hay.len, "needle", 6) == 1);
	CHECK(mime_search(hay.s, hay.len, "needlex", 7) == 0);
	buf_free(&hay);
}

static void test_part_text(void)
{
	const char *msg =
		"Content-Type: multipart/mixed; boundary=b\n\n"
		"--b\n"
		"Content-Type: text/plain; charset=iso-8859-1\n"
		"Content-Transfer-Encoding: quoted-printable\n\n"
		"caf=E9\n"
		"--b\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding: base64\n\n"
		"R3LDvMOfZQ==\n"
		"--b\n"
		"Content-Type: image/png\n\n"
		"PNG\n"
		"--b--\n";
	struct mime_msg m;
	struct buf b = BUF_INIT;
	parse_str(&m, msg);
	CHECK(m.n == 4);
	mime_part_text(&m, 1, &b);
	CHECK(streq(&b, "caf\xc3\xa9"));
	buf_reset(&b);
	mime_part_text(&m, 2, &b);
	CHECK(streq(&b, "Gr\xc3\xbc\xc3\x9f" "e"));
	buf_reset(&b);
	mime_part_text(&m, 3, &b);
	CHECK(b.len == 0);
	mime_part_text(&m, 0, &b);
	CHECK(b.len == 0);
	buf_free(&b);
	mime_free(&m);
}

static void date(const char *s, long long want, int want_tz)
{
	time_t t = 0;
	int tz = 12345;
	int r = mime_parse_date(s, strlen(s), &t, &tz);
	tap_check(r == 0 && (long long)t == want && tz == want_tz, s, __FILE__, __LINE__);
	if (!(r == 0 && (long long)t == want && tz == want_tz))
		printf("#   got r=%d t=%lld tz=%d\n", r, (long long)t, tz);
}

static void test_dates(void)
{
	date("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", 760686745, -28800);
	date("Fri, 21 Nov 1997 09:55:06 -0600", 880127706, -21600);
	date("21 Nov 97 09:55:06 GMT", 880106106, 0);
	date("Thu,\n      13\n        Feb\n          1969\n      23:32\n  -0330 (Newfoundland Time)", -27723480, -12600);
	date("1 Jan 2000 00:00 +0000", 946684800, 0);
	date("1 jan 00 00:00:00 EST", 946702800, -18000);
	date("1 Jan 2000 00:00:00", 946684800, 0);
	time_t t;
	const char *bad[] = {"", "yesterday", "32 Jan 2000 00:00", "1 Foo 2000 00:00", "1 Jan 2000",
			     "1 Jan 2000 25:00", "1 Jan 2000 12:61"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		tap_check(mime_parse_date(bad[i], strlen(bad[i]), &t, NULL) == -1, bad[i],
			  __FILE__, __LINE__);
}

/* Limits: deep nesting, many parts, no out-of-bounds on any prefix. */
static void test_limits(void)
{
	struct buf msg = BUF_INIT;
	for (int i = 0; i < 60; i++)
		buf_printf(&msg, "Content-Type: multipart/mixed; boundary=b%02d\n\n--b%02d\n", i, i);
	buf_puts(&msg, "Content-Type: text/plain\n\ndeep\n");
	struct mime_msg m;
	mime_parse(&m, msg.s, msg.len);
	int maxdepth = 0;
	for (size_t i = 0; i < m.n; i++)
		if (m.parts[i].depth > maxdepth)
			maxdepth = m.parts[i].depth;
	CHECK(maxdepth == MIME_DEPTH_MAX);
	struct buf bs = BUF_INIT;
	mime_bodystructure(&m, 0, 1, &bs);
	const char *opaque = "\"application\" \"octet-stream\"";
	CHECK(mem_find(bs.s, bs.len, opaque, strlen(opaque)) != NULL);
	mime_free(&m);
	buf_reset(&msg);
	buf_puts(&msg, "Content-Type: multipart/mixed; boundary=x\n\n");
	for (int i = 0; i < MIME_PARTS_MAX + 50; i++)
		buf_puts(&msg, "--x\n\np\n");
	buf_puts(&msg, "--x--\n");
	mime_parse(&m, msg.s, msg.len);
	CHECK(m.n == MIME_PARTS_MAX);
	mime_free(&m);
	/* every prefix of the issue's message parses (ASan checks bounds) */
	size_t len = strlen(issue_msg), ok = 0;
	for (size_t n = 0; n <= len; n++) {
		char *copy = xmemdup(issue_msg, n);
		mime_parse(&m, copy, n);
		buf_reset(&bs);
		mime_bodystructure(&m, 0, 1, &bs);
		ok += bs.len > 0;
		mime_free(&m);
		free(copy);
	}
	CHECK(ok == len + 1);
	buf_free(&bs);
	buf_free(&msg);
}

/* The message behind RFC 3501 7.4.2's BODYSTRUCTURE example: its BODY
 * must be the RFC's string, octet for octet. */
static void test_rfc3501_example(void)
{
	struct buf msg = BUF_INIT, b = BUF_INIT;
	buf_puts(&msg, "MIME-Version: 1.0\nContent-Type: MULTIPART/MIXED; BOUNDARY=\"x\"\n\n"
		 "--x\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\nContent-Transfer-Encoding: 7BIT\n\n");
	for (int i = 0; i < 23; i++)	/* 23 lines; 1152 octets with CRLF */
		buf_puts(&msg, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
	buf_puts(&msg, "yyyyyyyyyyyyyyyyyyyyyyyyy\n--x\n"
		 "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff\n"
		 "Content-ID: <960723163407.20117h@cac.washington.edu>\n"
		 "Content-Description: Compiler diff\n"
		 "Content-Transfer-Encoding: BASE64\n\n");
	for (int i = 0; i < 73; i++)	/* 73 lines; 4554 octets */
		buf_puts(&msg, "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJz\n");
	buf_puts(&msg, "QUJDREVGR0hJSktMTU5PUFFSU1RV\n--x--\n");
	struct mime_msg m;
	mime_parse(&m, msg.s, msg.len);
	mime_bodystructure(&m, 0, 0, &b);
	int same = streq(&b, "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
			 "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
			 "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) "
			 "\"MIXED\")");
	tap_check(same, "the BODY of RFC 3501 7.4.2's example", __FILE__, __LINE__);
	if (!same)
		printf("#   got: %.*s\n", (int)b.len, b.s ? b.s : "");
	mime_free(&m);
	buf_free(&msg);
	buf_free(&b);
}

int main(void)
{
	test_rfc3501_example();
	test_imapfmt();
	corpus();
	test_sections();
	test_partial();
	test_stream();
	test_decode();
	test_part_text();
	test_dates();
	test_limits();
	return tap_done();
}
