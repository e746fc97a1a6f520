/* test_qp: 8bit -> quoted-printable conversion (common/qp.c): line
 * encoding (soft breaks, '=', trailing blanks), a plain 8-bit message
 * gets MIME headers, a multipart's 8-bit leaf is encoded while its base64
 * sibling and the boundaries stay, and the output is 7-bit. */
#include "qp.h"
#include "tap.h"

#include <string.h>

static void convert(const char *msg, struct buf *out)
{
	struct qp_conv q;
	qp_init(&q);
	buf_reset(out);
	const char *p = msg, *end = msg + strlen(msg);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		qp_line(&q, p, n, out);
		p += n + (nl != NULL);
	}
	qp_finish(&q, out);
	qp_free(&q);
	buf_cstr(out);
}

static int seven_bit(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if ((unsigned char)b->s[i] >= 0x80)
			return 0;
	return 1;
}

static void test_line(void)
{
	struct buf o = BUF_INIT;
	qp_encode_line("a=b \xc3\xa9 ", 7, &o);
	CHECK(buf_eq(&o, "a=3Db =C3=A9=20\n"));
	buf_reset(&o);
	char big[200];
	memset(big, 'x', sizeof big);
	qp_encode_line(big, sizeof big, &o);
	int ok = 1;
	size_t col = 0;
	for (size_t i = 0; i < o.len; i++) {
		if (o.s[i] == '\n') {
			ok &= col <= 76;
			col = 0;
		} else {
			col++;
		}
	}
	CHECK(ok);
	CHECK(mem_find(o.s, o.len, "=\n", 2) != NULL);
	buf_free(&o);
}

static void test_plain(void)
{
	struct buf o = BUF_INIT;
	convert("Subject: hi\n\nsch\xc3\xb6n\n", &o);
	CHECK(seven_bit(&o));
	CHECK(strstr(o.s, "MIME-Version: 1.0\n") != NULL);
	CHECK(strstr(o.s, "charset=unknown-8bit") != NULL);
	CHECK(strstr(o.s, "Content-Transfer-Encoding: quoted-printable\n\nsch=C3=B6n\n") != NULL);
	convert("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding: 8bit\n\n\xc3\xa9\n", &o);
	CHECK(strstr(o.s, "8bit") == NULL);
	CHECK(strstr(o.s, "unknown-8bit") == NULL);
	CHECK(strstr(o.s, "charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n=C3=A9\n") != NULL);
	buf_free(&o);
}

static void test_multipart(void)
{
	struct buf o = BUF_INIT;
	convert("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n"
		"preamble\n--BB\nContent-Type: text/plain; charset=utf-8\n"
		"Content-Transfer-Encoding: 8bit\n\nk\xc3\xa4se\n--BB\n"
		"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
		"AAEC\n--BB--\nepilogue\n", &o);
	CHECK(seven_bit(&o));
	CHECK(strstr(o.s, "k=C3=A4se\n--BB\n") != NULL);
	CHECK(strstr(o.s, "base64\n\nAAEC\n--BB--\nepilogue\n") != NULL);
	CHECK(strstr(o.s, "preamble\n--BB\n") != NULL);
	CHECK(strstr(o.s, "MIME-Version: 1.0\nContent-Type: multipart") == o.s);
	buf_free(&o);
}

int main(void)
{
	test_line();
	test_plain();
	test_multipart();
	return tap_done();
}
