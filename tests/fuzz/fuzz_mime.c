/* fuzz_mime: libFuzzer entry point over the MIME parser and its IMAP
 * output (common/mime*.c, common/imapfmt.c).  On every input: the parts
 * lie inside the message and inside their parents, sizes and line counts
 * agree with the bytes, BODYSTRUCTURE/BODY/ENVELOPE are well-formed IMAP
 * (balanced lists, literals with their stated length), every section
 * writes as many octets as it announces, and the decoders run.  Built by
 * tests/fuzz/run. */
#include "mime.h"
#include "uidlist.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* IMAP syntax of a BODYSTRUCTURE/ENVELOPE: quoted strings without CR, LF
 * or 8-bit bytes, literals of their stated length, balanced parentheses. */
static void check_imap(const struct buf *b)
{
	size_t i = 0, depth = 0;
	while (i < b->len) {
		char c = b->s[i];
		if (c == '(')
			depth++;
		else if (c == ')') {
			check(depth > 0);
			depth--;
		} else if (c == '"') {
			for (i++; i < b->len && b->s[i] != '"'; i++) {
				unsigned char q = (unsigned char)b->s[i];
				check(q != '\r' && q != '\n' && q != 0 && q < 0x80);
				if (q == '\\')
					i++;
			}
			check(i < b->len);
		} else if (c == '{') {
			char *end;
			unsigned long n = strtoul(b->s + i + 1, &end, 10);
			check(end < b->s + b->len - 2 && end[0] == '}' && end[1] == '\r' && end[2] == '\n');
			i = (size_t)(end + 3 - b->s) + n;
			check(i <= b->len);
			continue;
		}
		i++;
	}
	check(depth == 0);
}

static unsigned long long crlf_size(const struct mime_msg *m, size_t off, size_t n)
{
	int cr = 0;
	unsigned long long s = uidlist_crlf_count(m->s + off, n, &cr);
	if (n > 0 && off + n == m->len && m->add_lf)
		s += m->s[m->len - 1] == '\r' ? 1 : 2;
	return s;
}

static void check_parts(const struct mime_msg *m)
{
	check(m->n >= 1 && m->n <= MIME_PARTS_MAX);
	for (size_t i = 0; i < m->n; i++) {
		const struct mime_part *p = &m->parts[i];
		check(p->hdr + p->hdr_len <= p->body);
		check(p->body + p->body_len <= m->len);
		check(p->depth <= MIME_DEPTH_MAX + 1);
		check(p->body_size == crlf_size(m, p->body, p->body_len));
		check(p->hdr_size == crlf_size(m, p->hdr, p->hdr_len));
		if (p->parent >= 0) {
			const struct mime_part *q = &m->parts[p->parent];
			check(p->hdr >= q->body && p->body + p->body_len <= q->body + q->body_len);
			check(p->depth == q->depth + 1);
		}
	}
}

static const char *const specs[] = {
	"", "HEADER", "TEXT", "1", "1.MIME", "2", "2.MIME", "1.1", "1.2", "1.2.MIME",
	"2.HEADER", "2.TEXT", "1.1.1", "3.1.2", "HEADER.FIELDS (SUBJECT FROM)",
	"HEADER.FIELDS.NOT (CONTENT-TYPE)", "1.HEADER.FIELDS (TO)",
};

static void check_sections(const struct mime_msg *m)
{
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		struct mime_section sec;
		check(mime_section_get(m, specs[i], strlen(specs[i]), &sec) == MIME_SEC_OK);
		buf_reset(&out);
		mime_section_write(&sec, 0, ULLONG_MAX, &out);
		check(out.len == sec.size);
		buf_reset(&out);
		mime_section_write(&sec, 3, 17, &out);
		check(out.len == mime_section_partial_size(&sec, 3, 17));
		mime_section_free(&sec);
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mime_msg m;
	struct buf b = BUF_INIT;
	mime_parse(&m, s, size);
	check_parts(&m);
	mime_bodystructure(&m, 0, 1, &b);
	check_imap(&b);
	buf_reset(&b);
	mime_bodystructure(&m, 0, 0, &b);
	check_imap(&b);
	buf_reset(&b);
	mime_envelope(&m, 0, &b);
	check_imap(&b);
	check_sections(&m);
	for (size_t i = 0; i < m.n; i++) {
		buf_reset(&b);
		mime_part_text(&m, (int)i, &b);
	}
	buf_reset(&b);
	mime_decode_words(s, size, &b);
	time_t t;
	mime_parse_date(s, size, &t, NULL);
	mime_search(s, size, "ab", 2);
	buf_free(&b);
	mime_free(&m);
	return 0;
}
