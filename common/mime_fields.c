/* mime_fields: the Content-* fields of one MIME part (type, parameters,
 * id, description, transfer encoding, MD5, disposition, language,
 * location), read the way Dovecot's message-part-data reads them: the
 * first field of each name wins, values are unfolded, tokens lose their
 * comments.  Used by mime.c (type and boundary during the parse) and
 * mime_imap.c (BODYSTRUCTURE). */
#include "mime_int.h"

#include <string.h>
#include "header.h"

void mime_fields_init(struct mime_fields *f)
{
	memset(f, 0, sizeof *f);
}

void mime_fields_free(struct mime_fields *f)
{
	buf_free(&f->type);
	buf_free(&f->subtype);
	mime_params_free(&f->params);
	buf_free(&f->id);
	buf_free(&f->desc);
	buf_free(&f->enc);
	buf_free(&f->md5);
	buf_free(&f->disp);
	buf_free(&f->loc);
	mime_params_free(&f->disp_params);
	buf_free(&f->lang);
	memset(f, 0, sizeof *f);
}

/* type "/" subtype, as rfc822_parse_content_type: -1 broken (what was
 * read is kept), else mime_lex_skip(). */
static int type_subtype(struct mime_lex *x, struct mime_fields *f)
{
	if (mime_lex_skip(x) <= 0)
		return -1;
	int r = mime_lex_token(x, &f->type);
	if (r <= 0 || f->type.len == 0)
		return -1;
	if (*x->p != '/')
		return -1;
	x->p++;
	if (mime_lex_skip(x) <= 0)
		return -1;
	return mime_lex_token(x, &f->subtype);
}

void mime_ctype_read(const char *v, size_t n, struct mime_fields *f)
{
	struct buf val = BUF_INIT;
	struct mime_lex x;
	mime_value(v, n, &val);
	mime_lex_init(&x, val.s, val.len);
	f->have_type = 1;
	if (type_subtype(&x, f) >= 0)
		mime_params_parse(&x, &f->params);
	buf_free(&val);
}

static void read_enc(const char *v, size_t n, struct mime_fields *f)
{
	struct buf val = BUF_INIT, tok = BUF_INIT;
	struct mime_lex x;
	mime_value(v, n, &val);
	mime_lex_init(&x, val.s, val.len);
	mime_lex_skip(&x);
	if (mime_lex_token(&x, &tok) >= 0 && mime_lex_skip(&x) == 0 && tok.len > 0) {
		f->have_enc = 1;
		buf_copy(&f->enc, &tok);
	}
	buf_free(&val);
	buf_free(&tok);
}

static void read_disp(const char *v, size_t n, struct mime_fields *f)
{
	struct buf val = BUF_INIT;
	struct mime_lex x;
	mime_value(v, n, &val);
	mime_lex_init(&x, val.s, val.len);
	mime_lex_skip(&x);
	if (mime_lex_token(&x, &f->disp) >= 0) {
		f->have_disp = 1;
		mime_params_parse(&x, &f->disp_params);
	}
	buf_free(&val);
}

static void add_lang(struct mime_fields *f, const struct buf *tag)
{
	buf_append(&f->lang, tag->s, tag->len);
	buf_putc(&f->lang, '\0');
	f->nlang++;
}

static void read_lang(const char *v, size_t n, struct mime_fields *f)
{
	struct buf val = BUF_INIT, tag = BUF_INIT;
	struct mime_lex x;
	mime_value(v, n, &val);
	mime_lex_init(&x, val.s, val.len);
	mime_lex_skip(&x);
	if (mime_lex_atom(&x, &tag) >= 0)
		add_lang(f, &tag);
	while (f->nlang > 0 && mime_lex_at(&x, ',') && f->nlang < MIME_PARAMS_MAX) {
		x.p++;
		mime_lex_skip(&x);
		buf_reset(&tag);
		if (mime_lex_atom(&x, &tag) < 0)
			break;
		add_lang(f, &tag);
	}
	buf_free(&val);
	buf_free(&tag);
}

static void read_plain(const char *v, size_t n, int *have, struct buf *out)
{
	*have = 1;
	mime_value(v, n, out);
}

static int is(const struct header_field *h, const char *name)
{
	return mem_caseeq(h->name, h->name_len, name, strlen(name));
}

static void read_field(struct mime_fields *f, const struct header_field *h)
{
	const char *v = h->value;
	size_t n = h->value_len;
	if (!mem_caseprefix(h->name, h->name_len, "content-"))
		return;
	if (is(h, "content-type") && !f->have_type)
		mime_ctype_read(v, n, f);
	else if (is(h, "content-transfer-encoding") && !f->have_enc)
		read_enc(v, n, f);
	else if (is(h, "content-id") && !f->have_id)
		read_plain(v, n, &f->have_id, &f->id);
	else if (is(h, "content-description") && !f->have_desc)
		read_plain(v, n, &f->have_desc, &f->desc);
	else if (is(h, "content-md5") && !f->have_md5)
		read_plain(v, n, &f->have_md5, &f->md5);
	else if (is(h, "content-location") && !f->have_loc)
		read_plain(v, n, &f->have_loc, &f->loc);
	else if (is(h, "content-disposition") && !f->have_disp)
		read_disp(v, n, f);
	else if (is(h, "content-language") && f->nlang == 0)
		read_lang(v, n, f);
}

void mime_fields_read(struct mime_fields *f, const char *hdr, size_t len)
{
	struct mime_hiter it;
	struct header_field h;
	int nc;
	mime_hiter_init(&it, hdr, len);
	while (mime_hiter_next(&it, &h, &nc) == 1)
		if (!nc)
			read_field(f, &h);
}
