/* structure.c: where a FETCH section's bytes are in a message, and the
 * ENVELOPE / BODYSTRUCTURE / BODY items: the bridge between fetch.c and
 * the MIME parser.  Until common/mime.h lands only the top level is
 * known (numbered parts are "no such part", the structures NIL). */
#include "imapd.h"
#include "header.h"

#include <string.h>

int structure_part(const char *data, size_t len, const unsigned *path, size_t n,
		   struct part_region *r)
{
	memset(r, 0, sizeof *r);
	size_t hb = header_end(data, len, NULL);
	struct header_field f;
	r->body_end = len;
	r->is_message = 1;
	r->msg_hdr_end = hb;
	r->msg_body = hb;
	if (n == 0)
		return 0;
	/* a non-multipart message's part 1 is its body */
	if (n > 1 || path[0] != 1
	    || (header_find(data, hb, "Content-Type", &f) && mem_find(f.value, f.value_len, "multipart", 9)))
		return -1;
	r->is_message = 0;
	r->body = hb;
	return 0;
}

int structure_item(enum mbox_cache_field f, const char *data, size_t len, struct buf *out)
{
	(void)f;
	(void)data;
	(void)len;
	(void)out;
	return -1;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static void put_latin1(struct buf *out, unsigned char c)
{
	if (c < 0x80) {
		buf_putc(out, (char)c);
	} else {
		buf_putc(out, (char)(0xc0 | c >> 6));
		buf_putc(out, (char)(0x80 | (c & 0x3f)));
	}
}

/* The text of one encoded word, decoded (latin-1 turned into UTF-8). */
static void decode_word(struct buf *out, int latin1, int b64, const char *t, size_t n)
{
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];
		int v;
		if (b64) {
			if ((v = b64val(c)) < 0)
				continue;
			acc = acc << 6 | (unsigned)v;
			if ((bits += 6) >= 8) {
				bits -= 8;
				c = (unsigned char)(acc >> bits);
			} else {
				continue;
			}
		} else if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < n && hexval(t[i + 1]) >= 0 && hexval(t[i + 2]) >= 0) {
			c = (unsigned char)(hexval(t[i + 1]) << 4 | hexval(t[i + 2]));
			i += 2;
		}
		if (latin1)
			put_latin1(out, c);
		else
			buf_putc(out, (char)c);
	}
}

/* "=?charset?X?text?=" at s: its length, 0 if not one. */
static size_t encoded_word(struct buf *out, const char *s, size_t n)
{
	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	const char *cs = s + 2, *q1 = memchr(cs, '?', n - 2);
	if (!q1 || (size_t)(q1 - s) + 3 >= n || q1[2] != '?')
		return 0;
	const char *text = q1 + 3, *end = mem_find(text, n - (size_t)(text - s), "?=", 2);
	if (!end)
		return 0;
	int b64 = (q1[1] | 0x20) == 'b';
	if (!b64 && (q1[1] | 0x20) != 'q')
		return 0;
	size_t cslen = (size_t)(q1 - cs);
	int latin1 = mem_caseprefix(cs, cslen, "iso-8859-1") || mem_caseprefix(cs, cslen, "windows-1252");
	decode_word(out, latin1, b64, text, (size_t)(end - text));
	return (size_t)(end + 2 - s);
}

void imap_decode_words(struct buf *v)
{
	struct buf out = BUF_INIT, word = BUF_INIT;
	size_t i = 0, pending_ws = 0;
	int last_word = 0;
	while (i < v->len) {
		buf_reset(&word);
		size_t w = encoded_word(&word, v->s + i, v->len - i);
		if (w) {
			/* white space between two encoded words is dropped (RFC 2047 6.2) */
			if (last_word && pending_ws)
				buf_truncate(&out, out.len - pending_ws);
			buf_append(&out, word.s, word.len);
			i += w;
			last_word = 1;
			pending_ws = 0;
			continue;
		}
		char c = v->s[i++];
		buf_putc(&out, c);
		if (c == ' ' || c == '\t') {
			pending_ws++;
		} else {
			pending_ws = 0;
			last_word = 0;
		}
	}
	buf_set(v, out.s, out.len);
	buf_free(&out);
	buf_free(&word);
}
