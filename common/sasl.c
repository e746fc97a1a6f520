/* sasl: server side of PLAIN (RFC 4616) and LOGIN, and strict base64
 * (RFC 4648 section 4, padding required, no whitespace).  See sasl.h.
 * Used by smtpd's AUTH command and the pop3/imap login stages. */
#include "sasl.h"

#include <string.h>

/* RFC 4616 section 2: each of authzid, authcid, passwd at most 255 UTF-8
 * characters, so 1020 bytes; we allow the auth daemon's record limits. */
#define SASL_USER_MAX 256
#define SASL_PASS_MAX 1024

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* "Username:" and "Password:" in base64: the de-facto LOGIN challenges. */
#define LOGIN_USER_CHALLENGE "VXNlcm5hbWU6"
#define LOGIN_PASS_CHALLENGE "UGFzc3dvcmQ6"

static int b64_value(unsigned char c)
{
	const char *p = c ? memchr(b64, c, 64) : NULL;
	return p ? (int)(p - b64) : -1;
}

void base64_encode(const void *in, size_t len, struct buf *out)
{
	const unsigned char *p = in;
	buf_reset(out);
	buf_reserve(out, size_mul(size_add(len, 2) / 3, 4));
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		buf_putc(out, b64[(v >> 18) & 63]);
		buf_putc(out, b64[(v >> 12) & 63]);
		buf_putc(out, i + 1 < len ? b64[(v >> 6) & 63] : '=');
		buf_putc(out, i + 2 < len ? b64[v & 63] : '=');
	}
}

/* One 4-character group; pad = how many '=' it ends with (0..2). */
static int decode_group(const char *g, int last, struct buf *out)
{
	int pad = 0, v[4];
	if (last && g[3] == '=')
		pad = g[2] == '=' ? 2 : 1;
	for (int i = 0; i < 4 - pad; i++)
		if ((v[i] = b64_value((unsigned char)g[i])) < 0)
			return -1;
	/* the bits that padding drops must be zero (canonical encoding) */
	if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3)))
		return -1;
	unsigned x = (unsigned)v[0] << 18 | (unsigned)v[1] << 12;
	buf_putc(out, (char)(x >> 16));
	if (pad == 2)
		return 0;
	x |= (unsigned)v[2] << 6;
	buf_putc(out, (char)((x >> 8) & 255));
	if (pad == 1)
		return 0;
	x |= (unsigned)v[3];
	buf_putc(out, (char)(x & 255));
	return 0;
}

int base64_decode(const char *in, size_t len, struct buf *out)
{
	buf_reset(out);
	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i += 4)
		if (decode_group(in + i, i + 4 == len, out) < 0) {
			if (out->s)
				explicit_bzero(out->s, out->len);
			buf_reset(out);
			return -1;
		}
	return 0;
}

int sasl_begin(struct sasl *s, const char *name, size_t len)
{
	memset(s, 0, sizeof *s);
	if (mem_caseeq(name, len, "PLAIN", 5))
		s->mech = SASL_PLAIN;
	else if (mem_caseeq(name, len, "LOGIN", 5))
		s->mech = SASL_LOGIN;
	else
		return -1;
	return 0;
}

static void wipe(struct buf *b)
{
	if (b->s)
		explicit_bzero(b->s, b->cap);
	buf_free(b);
}

void sasl_free(struct sasl *s)
{
	wipe(&s->authzid);
	wipe(&s->authcid);
	wipe(&s->password);
}

/* A field must be non-empty where required, bounded and free of NULs. */
static int field_ok(const char *p, size_t n, size_t max, int may_be_empty)
{
	return (n > 0 || may_be_empty) && n <= max && !memchr(p, 0, n);
}

/* message = [authzid] NUL authcid NUL passwd; an authzid is accepted only
 * if it names the authcid itself: nobody may act as someone else here. */
static int plain_parse(struct sasl *s, const struct buf *m)
{
	const char *p = m->s ? m->s : "";
	const char *n1 = memchr(p, 0, m->len);
	if (!n1)
		return SASL_BAD;
	const char *a = n1 + 1;
	size_t rest = m->len - (size_t)(a - p);
	const char *n2 = memchr(a, 0, rest);
	if (!n2)
		return SASL_BAD;
	size_t zlen = (size_t)(n1 - p), clen = (size_t)(n2 - a);
	size_t plen = rest - clen - 1;
	if (!field_ok(p, zlen, SASL_USER_MAX, 1) || !field_ok(a, clen, SASL_USER_MAX, 0) ||
	    !field_ok(n2 + 1, plen, SASL_PASS_MAX, 0))
		return SASL_BAD;
	if (zlen && !mem_caseeq(p, zlen, a, clen))
		return SASL_BAD;
	buf_set(&s->authzid, p, zlen);
	buf_set(&s->authcid, a, clen);
	buf_set(&s->password, n2 + 1, plen);
	return SASL_DONE;
}

static int plain_step(struct sasl *s, const struct buf *m, int have, struct buf *challenge)
{
	if (!have) {	/* RFC 4422 5: empty challenge, then the response */
		if (s->step++ > 0)
			return SASL_BAD;
		buf_reset(challenge);
		return SASL_CONTINUE;
	}
	return plain_parse(s, m);
}

static int login_step(struct sasl *s, const struct buf *m, int have, struct buf *challenge)
{
	if (s->step == 0 && !have) {	/* no initial response: ask for the name */
		s->step = 1;
		buf_set(challenge, LOGIN_USER_CHALLENGE, strlen(LOGIN_USER_CHALLENGE));
		return SASL_CONTINUE;
	}
	if (!have)
		return SASL_BAD;
	const char *p = m->s ? m->s : "";
	if (s->step <= 1) {	/* the user name (initial response or answer) */
		if (!field_ok(p, m->len, SASL_USER_MAX, 0))
			return SASL_BAD;
		buf_set(&s->authcid, p, m->len);
		s->step = 2;
		buf_set(challenge, LOGIN_PASS_CHALLENGE, strlen(LOGIN_PASS_CHALLENGE));
		return SASL_CONTINUE;
	}
	if (!field_ok(p, m->len, SASL_PASS_MAX, 0))
		return SASL_BAD;
	buf_set(&s->password, p, m->len);
	return SASL_DONE;
}

int sasl_step(struct sasl *s, const char *resp, size_t len, struct buf *challenge)
{
	if (resp && len == 1 && resp[0] == '*')
		return SASL_CANCEL;
	struct buf m = BUF_INIT;
	if (resp && base64_decode(resp, len, &m) < 0)
		return SASL_BAD;
	int r = s->mech == SASL_PLAIN ? plain_step(s, &m, resp != NULL, challenge)
				      : login_step(s, &m, resp != NULL, challenge);
	wipe(&m);
	return r;
}
