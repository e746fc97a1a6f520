/* test_sasl: base64 (strict decoding, round trips) and the PLAIN and LOGIN
 * exchanges of common/sasl.c, including malformed and cancelled ones. */
#include "sasl.h"
#include "tap.h"

#include <string.h>

static int dec(const char *in, const char *want, size_t wlen)
{
	struct buf o = BUF_INIT;
	int r = base64_decode(in, strlen(in), &o);
	int ok = r == 0 && o.len == wlen && (wlen == 0 || memcmp(o.s, want, wlen) == 0);
	buf_free(&o);
	return ok;
}

static int dec_bad(const char *in)
{
	struct buf o = BUF_INIT;
	int r = base64_decode(in, strlen(in), &o);
	buf_free(&o);
	return r == -1;
}

static int enc(const char *in, size_t len, const char *want)
{
	struct buf o = BUF_INIT;
	base64_encode(in, len, &o);
	int ok = o.len == strlen(want) && memcmp(o.s ? o.s : "", want, o.len) == 0;
	buf_free(&o);
	return ok;
}

static void test_base64(void)
{
	CHECK(enc("", 0, ""));
	CHECK(enc("f", 1, "Zg=="));
	CHECK(enc("fo", 2, "Zm8="));
	CHECK(enc("foo", 3, "Zm9v"));
	CHECK(enc("foobar", 6, "Zm9vYmFy"));
	CHECK(enc("\0a\0b", 4, "AGEAYg=="));
	CHECK(dec("", "", 0));
	CHECK(dec("Zg==", "f", 1));
	CHECK(dec("Zm8=", "fo", 2));
	CHECK(dec("Zm9vYmFy", "foobar", 6));
	CHECK(dec("AGEAYg==", "\0a\0b", 4));
	CHECK(dec_bad("Zg="));		/* length not a multiple of 4 */
	CHECK(dec_bad("Zg"));
	CHECK(dec_bad("Zm9v YmFy"));	/* whitespace */
	CHECK(dec_bad("Zh=="));		/* non-zero bits under the padding */
	CHECK(dec_bad("Zm9="));
	CHECK(dec_bad("=Zm9"));		/* padding not at the end */
	CHECK(dec_bad("Zg==Zg=="));
	CHECK(dec_bad("Z===")); 
	CHECK(dec_bad("Zm9v!mFy"));
	/* every byte value round-trips */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	struct buf e = BUF_INIT, d = BUF_INIT;
	base64_encode(all, sizeof all, &e);
	CHECK(base64_decode(e.s, e.len, &d) == 0 && d.len == 256 && !memcmp(d.s, all, 256));
	buf_free(&e);
	buf_free(&d);
}

/* base64 of raw bytes, for building responses */
static const char *b64(const char *p, size_t n, struct buf *tmp)
{
	base64_encode(p, n, tmp);
	return buf_cstr(tmp);
}

static void test_plain(void)
{
	struct sasl s;
	struct buf ch = BUF_INIT, t = BUF_INIT;
	CHECK(sasl_begin(&s, "plain", 5) == 0 && s.mech == SASL_PLAIN);
	const char *r = b64("\0bob@x.test\0secret", 18, &t);
	CHECK(sasl_step(&s, r, strlen(r), &ch) == SASL_DONE);
	CHECK(buf_eq(&s.authcid, "bob@x.test") && buf_eq(&s.password, "secret") && s.authzid.len == 0);
	sasl_free(&s);

	/* no initial response: an empty challenge first */
	sasl_begin(&s, "PLAIN", 5);
	CHECK(sasl_step(&s, NULL, 0, &ch) == SASL_CONTINUE && ch.len == 0);
	r = b64("bob@x.test\0bob@x.test\0pw", 24, &t);
	CHECK(sasl_step(&s, r, strlen(r), &ch) == SASL_DONE && buf_eq(&s.authzid, "bob@x.test"));
	sasl_free(&s);

	/* authzid naming someone else */
	sasl_begin(&s, "PLAIN", 5);
	r = b64("alice@x.test\0bob@x.test\0pw", 26, &t);
	CHECK(sasl_step(&s, r, strlen(r), &ch) == SASL_BAD);
	sasl_free(&s);
	/* missing fields, empty user or password, NUL in the password */
	const struct { const char *p; size_t n; } bad[] = {
		{"bob", 3}, {"\0bob", 4}, {"\0\0pw", 4}, {"\0bob\0", 5}, {"\0bob\0p\0w", 8},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		sasl_begin(&s, "PLAIN", 5);
		r = b64(bad[i].p, bad[i].n, &t);
		CHECK(sasl_step(&s, r, strlen(r), &ch) == SASL_BAD);
		sasl_free(&s);
	}
	/* the empty initial response ("=") and bad base64 are malformed */
	sasl_begin(&s, "PLAIN", 5);
	CHECK(sasl_step(&s, "", 0, &ch) == SASL_BAD);
	CHECK(sasl_step(&s, "AGJvYg", 6, &ch) == SASL_BAD);
	CHECK(sasl_step(&s, "*", 1, &ch) == SASL_CANCEL);
	sasl_free(&s);
	/* an overlong password */
	char big[1100];
	memset(big, 'a', sizeof big);
	memcpy(big, "\0bob\0", 5);
	sasl_begin(&s, "PLAIN", 5);
	r = b64(big, sizeof big, &t);
	CHECK(sasl_step(&s, r, strlen(r), &ch) == SASL_BAD);
	sasl_free(&s);
	buf_free(&ch);
	buf_free(&t);
}

static void test_login(void)
{
	struct sasl s;
	struct buf ch = BUF_INIT;
	CHECK(sasl_begin(&s, "LoGiN", 5) == 0 && s.mech == SASL_LOGIN);
	CHECK(sasl_step(&s, NULL, 0, &ch) == SASL_CONTINUE && buf_eq(&ch, "VXNlcm5hbWU6"));
	CHECK(sasl_step(&s, "Ym9i", 4, &ch) == SASL_CONTINUE && buf_eq(&ch, "UGFzc3dvcmQ6"));
	CHECK(sasl_step(&s, "c2VjcmV0", 8, &ch) == SASL_DONE);
	CHECK(buf_eq(&s.authcid, "bob") && buf_eq(&s.password, "secret"));
	sasl_free(&s);
	/* user name as the initial response */
	sasl_begin(&s, "LOGIN", 5);
	CHECK(sasl_step(&s, "Ym9i", 4, &ch) == SASL_CONTINUE && buf_eq(&ch, "UGFzc3dvcmQ6"));
	CHECK(sasl_step(&s, "*", 1, &ch) == SASL_CANCEL);
	sasl_free(&s);
	sasl_begin(&s, "LOGIN", 5);
	CHECK(sasl_step(&s, NULL, 0, &ch) == SASL_CONTINUE);
	CHECK(sasl_step(&s, "", 0, &ch) == SASL_BAD);	/* empty user */
	sasl_free(&s);
	CHECK(sasl_begin(&s, "CRAM-MD5", 8) == -1);
	CHECK(sasl_begin(&s, "PLAINX", 6) == -1);
	buf_free(&ch);
}

int main(void)
{
	test_base64();
	test_plain();
	test_login();
	return tap_done();
}
