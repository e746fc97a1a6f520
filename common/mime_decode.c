/* mime_decode: what SEARCH needs from a message (see mime.h): header
 * values by name, RFC 2047 encoded words decoded to UTF-8, transfer
 * encodings (base64, quoted-printable) undone, text converted to UTF-8
 * with iconv, case-insensitive substring search, and RFC 5322 dates.
 * Used by imapd (SEARCH, SORT-like date keys). */
#include "mime_int.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "header.h"

#define CHARSET_MAX 64		/* longer charset names are not charsets */
/* RFC 2047 allows 75 characters; longer ones are accepted up to this, so
 * that scanning for the end of a word keeps the decoder linear */
#define EWORD_MAX 1024
#define SEARCH_CHUNK (64 * 1024)

int mime_header_get(const char *hdr, size_t len, const char *name, struct buf *out)
{
	struct header_field f;
	if (!mime_hfind(hdr, len, name, &f))
		return 0;
	header_unfold(f.value, f.value_len, out);
	return 1;
}

/* ---- charset conversion ---- */

static int is_utf8_name(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	       strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

/* Appends s converted from charset cs to UTF-8: 0 ok, -1 unknown charset
 * or bytes that are not in it (nothing appended then). */
static int to_utf8(const char *cs, const char *s, size_t n, struct buf *out)
{
	if (is_utf8_name(cs)) {
		buf_append(out, s, n);
		return 0;
	}
	iconv_t cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return -1;
	size_t start = out->len, r = 0;
	char *in = (char *)s;
	size_t inleft = n;
	do {
		buf_reserve(out, size_add(size_mul(inleft, 2), 64));
		char *o = out->s + out->len;
		size_t room = out->cap - out->len, oleft = room;
		r = iconv(cd, &in, &inleft, &o, &oleft);
		if (r != (size_t)-1 && inleft == 0)
			r = iconv(cd, NULL, NULL, &o, &oleft);
		out->len += room - oleft;
	} while (r == (size_t)-1 && errno == E2BIG);
	iconv_close(cd);
	if (r == (size_t)-1) {
		out->len = start;
		return -1;
	}
	return 0;
}

/* ---- transfer encodings ---- */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* base64, skipping anything outside the alphabet; stops at '='. */
static void base64_decode(const char *s, size_t n, struct buf *out)
{
	unsigned acc = 0, bits = 0;
	buf_reserve(out, n / 4 * 3 + 3);
	for (size_t i = 0; i < n && s[i] != '='; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_putc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* quoted-printable; header_q: RFC 2047 "Q" ('_' is a space).  A broken
 * '=' sequence is kept as it is. */
static void qp_decode(const char *s, size_t n, int header_q, struct buf *out)
{
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '_' && header_q) {
			buf_putc(out, ' ');
			continue;
		}
		if (c != '=') {
			buf_putc(out, (char)c);
			continue;
		}
		size_t j = i + 1;
		while (!header_q && j < n && (s[j] == ' ' || s[j] == '\t'))
			j++;
		if (!header_q && j < n && (s[j] == '\n' || (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n'))) {
			i = s[j] == '\r' ? j + 1 : j;	/* soft line break */
			continue;
		}
		int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
		int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			buf_putc(out, '=');
			continue;
		}
		buf_putc(out, (char)(hi * 16 + lo));
		i += 2;
	}
}

void mime_decode_body(const char *enc, size_t enclen, const char *s, size_t len,
		      struct buf *out)
{
	if (enc && mem_caseeq(enc, enclen, "base64", 6))
		base64_decode(s, len, out);
	else if (enc && mem_caseeq(enc, enclen, "quoted-printable", 16))
		qp_decode(s, len, 0, out);
	else
		buf_append(out, s, len);
}

/* ---- RFC 2047 ---- */

struct eword {
	char charset[CHARSET_MAX + 1];
	char enc;		/* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t len;		/* the whole =?...?= */
};

/* An encoded word at s: 1 and *w filled, or 0. */
static int eword_at(const char *s, size_t n, struct eword *w)
{
	if (n > EWORD_MAX)
		n = EWORD_MAX;
	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	const char *q1 = memchr(s + 2, '?', n - 2);
	if (!q1 || q1 + 3 >= s + n || q1[2] != '?')
		return 0;
	size_t cslen = (size_t)(q1 - s - 2);
	const char *star = memchr(s + 2, '*', cslen);	/* RFC 2231 language */
	if (star)
		cslen = (size_t)(star - s - 2);
	if (cslen == 0 || cslen > CHARSET_MAX)
		return 0;
	char e = (char)(q1[1] & ~0x20);
	if (e != 'B' && e != 'Q')
		return 0;
	const char *t = q1 + 3, *end = s + n;
	const char *p = t;
	while (p + 1 < end && !(p[0] == '?' && p[1] == '=')) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			return 0;
		p++;
	}
	if (p + 1 >= end)
		return 0;
	memcpy(w->charset, s + 2, cslen);
	w->charset[cslen] = '\0';
	w->enc = e;
	w->text = t;
	w->text_len = (size_t)(p - t);
	w->len = (size_t)(p + 2 - s);
	return 1;
}

/* Decoded bytes of adjacent words in one charset wait here, so that a
 * character split across two words is converted whole. */
struct pending {
	char charset[CHARSET_MAX + 1];
	struct buf bytes;
	const char *raw;	/* the words as they were, for an unknown charset */
	size_t raw_len;
};

static void flush(struct pending *pd, struct buf *out)
{
	if (pd->raw_len == 0)
		return;
	if (to_utf8(pd->charset, pd->bytes.s ? pd->bytes.s : "", pd->bytes.len, out) < 0)
		buf_append(out, pd->raw, pd->raw_len);
	buf_reset(&pd->bytes);
	pd->raw_len = 0;
}

static void add_word(struct pending *pd, const struct eword *w, const char *at, struct buf *out)
{
	if (pd->raw_len > 0 && strcasecmp(pd->charset, w->charset) != 0)
		flush(pd, out);
	if (pd->raw_len == 0) {
		memcpy(pd->charset, w->charset, sizeof pd->charset);
		pd->raw = at;
	}
	pd->raw_len = (size_t)(at + w->len - pd->raw);
	if (w->enc == 'B')
		base64_decode(w->text, w->text_len, &pd->bytes);
	else
		qp_decode(w->text, w->text_len, 1, &pd->bytes);
}

static int only_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

void mime_decode_words(const char *s, size_t len, struct buf *out)
{
	struct pending pd;
	memset(&pd, 0, sizeof pd);
	size_t i = 0, gap = 0;	/* gap: start of text since the last word */
	int after_word = 0;
	while (i < len) {
		struct eword w;
		if (s[i] == '=' && eword_at(s + i, len - i, &w)) {
			/* white space between two encoded words is dropped */
			if (!(after_word && only_space(s + gap, i - gap))) {
				flush(&pd, out);
				buf_append(out, s + gap, i - gap);
			}
			add_word(&pd, &w, s + i, out);
			i += w.len;
			gap = i;
			after_word = 1;
			continue;
		}
		i++;
	}
	flush(&pd, out);
	buf_append(out, s + gap, len - gap);
	buf_free(&pd.bytes);
}

/* ---- search ---- */

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

int mime_search(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return 1;
	if (nlen > hlen)
		return 0;
	char *nd = xmalloc(nlen), *chunk = xmalloc(size_add(SEARCH_CHUNK, nlen));
	for (size_t i = 0; i < nlen; i++)
		nd[i] = (char)fold((unsigned char)needle[i]);
	int found = 0;
	/* folded copies of overlapping windows keep memory bounded and the
	 * search linear (memmem is two-way in glibc) */
	for (size_t off = 0; off + nlen <= hlen && !found; off += SEARCH_CHUNK) {
		size_t n = hlen - off < SEARCH_CHUNK + nlen - 1 ? hlen - off : SEARCH_CHUNK + nlen - 1;
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)fold((unsigned char)hay[off + i]);
		found = memmem(chunk, n, nd, nlen) != NULL;
	}
	free(nd);
	free(chunk);
	return found;
}

/* ---- text of a part ---- */

void mime_part_text(const struct mime_msg *m, int i, struct buf *out)
{
	const struct mime_part *p = &m->parts[i];
	if (p->kind != MIME_LEAF || p->opaque)
		return;
	struct mime_fields f;
	mime_fields_init(&f);
	mime_part_fields(m, i, &f);
	int text = !f.have_type || mem_caseeq(f.type.s, f.type.len, "text", 4);
	if (text) {
		struct buf raw = BUF_INIT;
		mime_decode_body(f.have_enc ? f.enc.s : NULL, f.enc.len, m->s + p->body,
				 p->body_len, &raw);
		size_t cl;
		const char *cs = mime_params_get(&f.params, "charset", &cl);
		char name[CHARSET_MAX + 1];
		int conv = cs && cl > 0 && cl <= CHARSET_MAX;
		if (conv) {
			memcpy(name, cs, cl);
			name[cl] = '\0';
		}
		if (!conv || to_utf8(name, raw.s ? raw.s : "", raw.len, out) < 0)
			buf_append(out, raw.s, raw.len);
		buf_free(&raw);
	}
	mime_fields_free(&f);
}
