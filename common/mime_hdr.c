/* mime_hdr: the fields of a MIME part's header as Dovecot's
 * message-header-parser reads them, which is not how common/header.c
 * reads a message for delivery: only a blank line ends the header, and a
 * line without a colon is a field with no value (name = the line) rather
 * than the start of the body.  Used by mime.c, mime_fields.c, mime_imap.c,
 * mime_section.c and mime_decode.c. */
#include "mime_int.h"

#include <string.h>

void mime_hiter_init(struct mime_hiter *it, const char *s, size_t len)
{
	it->s = s;
	it->len = len;
	it->off = 0;
}

static size_t line_end(const struct mime_hiter *it, size_t off)
{
	const char *nl = memchr(it->s + off, '\n', it->len - off);
	return nl ? (size_t)(nl - it->s) : it->len;
}

static int blank_at(const struct mime_hiter *it, size_t off, size_t eol)
{
	return eol == off || (eol == off + 1 && it->s[off] == '\r');
}

int mime_hiter_next(struct mime_hiter *it, struct header_field *f, int *no_colon)
{
	size_t off = it->off;
	if (off >= it->len)
		return 0;
	size_t eol = line_end(it, off);
	if (blank_at(it, off, eol)) {
		it->off = it->len;
		return 0;
	}
	size_t next = eol < it->len ? eol + 1 : eol;
	while (next < it->len && (it->s[next] == ' ' || it->s[next] == '\t')) {
		eol = line_end(it, next);
		next = eol < it->len ? eol + 1 : eol;
	}
	size_t vend = eol;
	if (vend > off && it->s[vend - 1] == '\r')
		vend--;
	const char *line = it->s + off;
	const char *colon = memchr(line, ':', vend - off);
	*no_colon = colon == NULL;
	size_t nend = colon ? (size_t)(colon - line) : vend - off;
	while (nend > 0 && (line[nend - 1] == ' ' || line[nend - 1] == '\t'))
		nend--;
	f->name = line;
	f->name_len = nend;
	f->value = colon ? colon + 1 : it->s + vend;
	f->value_len = colon ? (size_t)(it->s + vend - colon - 1) : 0;
	f->raw = line;
	f->raw_len = next - off;
	it->off = next;
	return 1;
}

int mime_hfind(const char *hdr, size_t len, const char *name, struct header_field *f)
{
	struct mime_hiter it;
	int nc;
	mime_hiter_init(&it, hdr, len);
	while (mime_hiter_next(&it, f, &nc) == 1)
		if (!nc && mem_caseeq(f->name, f->name_len, name, strlen(name)))
			return 1;
	return 0;
}

int mime_hdr_blank(const char *hdr, size_t len)
{
	if (len >= 2 && hdr[len - 1] == '\n' && hdr[len - 2] == '\n')
		return 1;
	if (len >= 3 && memcmp(hdr + len - 3, "\n\r\n", 3) == 0)
		return 1;
	return (len == 1 && hdr[0] == '\n') || (len == 2 && memcmp(hdr, "\r\n", 2) == 0);
}
