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

/* type "/" subtype, then nothing or ";" parameters.  What Dovecot makes
 * of the other shapes: a lone token is the type with an empty subtype
 * (but "multipart" alone is application/octet-stream); anything else
 * ("image/", "a/b/c", "image;x=y", "image/png junk") is "" "".  Returns 1
 * when parameters follow. */
static int type_subtype(struct mime_lex *x, struct mime_fields *f)
{
	mime_lex_skip(x);
	int r = mime_lex_token(x, &f->type);
	if (f->type.len == 0 || r < 0)
		goto bad;
	if (r == 0) {
		if (mem_caseeq(f->type.s, f->type.len, "multipart", 9)) {
			buf_set(&f->type, "application", 11);
			buf_set(&f->subtype, "octet-stream", 12);
		}
		return 0;
	}
	if (*x->p != '/')
		goto bad;
	x->p++;
	mime_lex_skip(x);
	r = mime_lex_token(x, &f->subtype);
	if (f->subtype.len == 0 || r < 0 || (r > 0 && *x->p != ';'))
		goto bad;
	return r;
bad:
	buf_reset(&f->type);
	buf_reset(&f->subtype);
	return -1;
}

void mime_ctype_read(const char *v, size_t n, struct mime_fields *f)
{
	struct buf val = BUF_INIT;
	struct mime_lex x;
	f->have_type = 1;
	const char *semi = memchr(v, ';', n);
	if (memchr(v, '\0', semi ? (size_t)(semi - v) : n))
		return;	/* a NUL in type/subtype: Dovecot shows "" "" */
	mime_value(v, n, &val);
	mime_lex_init(&x, val.s, val.len);
	if (type_subtype(&x, f) > 0)
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

/* A message (the top one or one inside message/rfc822) with neither
 * MIME-Version nor Content-Type is not a MIME message: its other
 * Content-* fields mean nothing (Dovecot ignores them too). */
void mime_part_fields(const struct mime_msg *m, int i, struct mime_fields *f)
{
	const struct mime_part *p = &m->parts[i];
	const char *h = m->s + p->hdr;
	size_t n = mime_hdr_len(p);
	struct header_field hf;
	mime_fields_read(f, h, n);
	int message = p->parent < 0 || m->parts[p->parent].kind == MIME_MESSAGE;
	if (message && !f->have_type && !mime_hfind(h, n, "mime-version", &hf)) {
		mime_fields_free(f);
		mime_fields_init(f);
	}
}
