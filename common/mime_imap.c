/* mime_imap: BODYSTRUCTURE, BODY and ENVELOPE (RFC 3501 7.4.2) from a
 * parsed message, written the way Dovecot writes them (its
 * imap-bodystructure.c and imap-envelope.c), so that clients see the same
 * bytes from both servers.  Used by imapd through mime.h. */
#include "mime_int.h"

#include <string.h>
#include "header.h"
#include "imapfmt.h"

#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"
#define PLAIN_7BIT "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\""

static void w_buf(struct buf *out, const struct buf *b)
{
	imapfmt_string(out, b->s ? b->s : "", b->len);
}

void mime_nstring(const char *s, size_t n, struct buf *out)
{
	if (s == NULL) {
		imapfmt_nil(out);
		return;
	}
	if (memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL) {
		imapfmt_string(out, s, n);
		return;
	}
	struct buf t = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\r' && s[i] != '\n')
			buf_putc(&t, s[i]);
	imapfmt_string(out, t.s ? t.s : "", t.len);
	buf_free(&t);
}

static void w_nbuf(struct buf *out, int have, const struct buf *b)
{
	mime_nstring(have ? (b->s ? b->s : "") : NULL, b->len, out);
}

static int kv_is(const struct mime_params *ps, const struct mime_kv *kv, const char *k)
{
	return mem_caseeq(ps->text.s + kv->k, kv->klen, k, strlen(k));
}

static void w_params(struct buf *out, const struct mime_params *ps, int default_charset)
{
	if (!default_charset && ps->n == 0) {
		imapfmt_nil(out);
		return;
	}
	int seen_charset = 0;
	buf_putc(out, '(');
	for (size_t i = 0; i < ps->n; i++) {
		const struct mime_kv *kv = &ps->kv[i];
		if (i > 0)
			buf_putc(out, ' ');
		if (kv_is(ps, kv, "charset"))
			seen_charset = 1;
		imapfmt_string(out, ps->text.s + kv->k, kv->klen);
		buf_putc(out, ' ');
		imapfmt_string(out, ps->text.s + kv->v, kv->vlen);
	}
	if (default_charset && !seen_charset)
		buf_puts(out, ps->n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	buf_putc(out, ')');
}

/* disposition, language, location: the tail every extensible body has */
static void w_common(struct buf *out, const struct mime_fields *f)
{
	buf_putc(out, ' ');
	if (!f->have_disp)
		imapfmt_nil(out);
	else {
		buf_putc(out, '(');
		w_buf(out, &f->disp);
		buf_putc(out, ' ');
		w_params(out, &f->disp_params, 0);
		buf_putc(out, ')');
	}
	buf_putc(out, ' ');
	if (f->nlang == 0)
		imapfmt_nil(out);
	else {
		struct imapfmt_list l;
		imapfmt_list_open(&l, out);
		const char *t = f->lang.s;
		for (size_t i = 0; i < f->nlang; i++) {
			size_t n = strlen(t);
			imapfmt_string(imapfmt_list_item(&l), t, n);
			t += n + 1;
		}
		imapfmt_list_close(&l);
	}
	buf_putc(out, ' ');
	w_nbuf(out, f->have_loc, &f->loc);
}

/* A Content-Type field that says nothing usable still counts: Dovecot
 * shows it as "" "". */
static int has_type(const struct mime_fields *f)
{
	return f->have_type;
}

static int type_is(const struct mime_fields *f, const char *t)
{
	return mem_caseeq(f->type.s, f->type.len, t, strlen(t));
}

/* Dovecot's imap_bodystructure_is_plain_7bit: a message that is only
 * us-ascii text/plain with nothing else said gets the canonical form. */
static int plain_7bit(const struct mime_part *p, const struct mime_fields *f)
{
	if (p->kind != MIME_LEAF || p->opaque || p->parent >= 0)
		return 0;
	if (has_type(f) && (!type_is(f, "text") ||
			    !mem_caseeq(f->subtype.s, f->subtype.len, "plain", 5)))
		return 0;
	if (f->params.n > 1)
		return 0;
	if (f->params.n == 1) {
		const struct mime_kv *kv = &f->params.kv[0];
		if (!kv_is(&f->params, kv, "charset") ||
		    !mem_caseeq(f->params.text.s + kv->v, kv->vlen, "us-ascii", 8))
			return 0;
	}
	if (f->have_enc && !mem_caseeq(f->enc.s, f->enc.len, "7bit", 4))
		return 0;
	return !f->have_id && !f->have_desc && !f->have_md5 && !f->have_disp &&
	       f->nlang == 0 && !f->have_loc;
}

static void write_part(const struct mime_msg *m, int i, int ext, struct buf *out);

static void write_children(const struct mime_msg *m, int i, int ext, struct buf *out)
{
	for (int c = m->parts[i].child; c >= 0; c = m->parts[c].next) {
		buf_putc(out, '(');
		write_part(m, c, ext, out);
		buf_putc(out, ')');
	}
}

static void write_multipart(const struct mime_msg *m, int i, int ext,
			    const struct mime_fields *f, struct buf *out)
{
	if (m->parts[i].child >= 0)
		write_children(m, i, ext, out);
	else
		buf_puts(out, ext ? EMPTY_BODY " NIL NIL NIL NIL)" : EMPTY_BODY ")");
	buf_putc(out, ' ');
	w_buf(out, &f->subtype);
	if (!ext)
		return;
	buf_putc(out, ' ');
	w_params(out, &f->params, 0);
	w_common(out, f);
}

/* "type" "subtype" (params): returns whether the part counts as text */
static int write_type(const struct mime_part *p, const struct mime_fields *f, struct buf *out)
{
	int text;
	if (p->kind == MIME_MESSAGE) {
		buf_puts(out, "\"message\" \"rfc822\"");
		text = 0;
	} else if (p->opaque) {
		buf_puts(out, "\"application\" \"octet-stream\"");
		text = 0;
	} else if (!has_type(f)) {
		buf_puts(out, "\"text\" \"plain\"");
		text = 1;
	} else {
		text = type_is(f, "text");
		w_buf(out, &f->type);
		buf_putc(out, ' ');
		w_buf(out, &f->subtype);
	}
	buf_putc(out, ' ');
	w_params(out, &f->params, text);
	return text;
}

static void write_leaf(const struct mime_msg *m, int i, int ext,
		       const struct mime_fields *f, struct buf *out)
{
	const struct mime_part *p = &m->parts[i];
	int text = write_type(p, f, out);
	buf_putc(out, ' ');
	w_nbuf(out, f->have_id, &f->id);
	buf_putc(out, ' ');
	w_nbuf(out, f->have_desc, &f->desc);
	buf_putc(out, ' ');
	if (f->have_enc)
		w_buf(out, &f->enc);
	else
		buf_puts(out, "\"7bit\"");
	buf_printf(out, " %llu", p->body_size);
	if (text)
		buf_printf(out, " %llu", p->body_lines);
	else if (p->kind == MIME_MESSAGE) {
		buf_putc(out, ' ');
		mime_envelope(m, p->child, out);
		buf_putc(out, ' ');
		write_children(m, i, ext, out);
		buf_printf(out, " %llu", p->body_lines);
	}
	if (!ext)
		return;
	buf_putc(out, ' ');
	w_nbuf(out, f->have_md5, &f->md5);
	w_common(out, f);
}

static void write_part(const struct mime_msg *m, int i, int ext, struct buf *out)
{
	const struct mime_part *p = &m->parts[i];
	struct mime_fields f;
	mime_fields_init(&f);
	mime_part_fields(m, i, &f);
	if (p->kind == MIME_MULTIPART)
		write_multipart(m, i, ext, &f, out);
	else if (plain_7bit(p, &f)) {
		buf_printf(out, PLAIN_7BIT " %llu %llu", p->body_size, p->body_lines);
		if (ext)
			buf_puts(out, " NIL NIL NIL NIL");
	} else
		write_leaf(m, i, ext, &f, out);
	mime_fields_free(&f);
}

void mime_bodystructure(const struct mime_msg *m, int i, int extensible, struct buf *out)
{
	buf_putc(out, '(');
	write_part(m, i, extensible, out);
	buf_putc(out, ')');
}

/* ---- ENVELOPE ---- */

enum { E_DATE, E_SUBJECT, E_FROM, E_SENDER, E_REPLY_TO, E_TO, E_CC, E_BCC,
       E_IN_REPLY_TO, E_MESSAGE_ID, E_N };

static const char *const env_names[E_N] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc",
	"in-reply-to", "message-id",
};

static void env_string(const struct header_field *h, int have, struct buf *out)
{
	if (!have) {
		imapfmt_nil(out);
		return;
	}
	struct buf v = BUF_INIT;
	mime_value(h->value, h->value_len, &v);
	mime_nstring(v.s ? v.s : "", v.len, out);
	buf_free(&v);
}

static void env_subject(const struct header_field *h, int have, struct buf *out)
{
	if (!have) {
		imapfmt_nil(out);
		return;
	}
	/* folded as it is: the line breaks are what makes Dovecot send a
	 * literal, and mime_human_string removes them */
	size_t n = h->value_len < MIME_VALUE_MAX ? h->value_len : MIME_VALUE_MAX;
	const char *v = h->value;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	mime_human_string(v, n, out);
}

/* An address list; an empty one falls back to fb (From, for Sender and
 * Reply-To: RFC 3501). */
static void env_addr(const struct buf *list, const struct buf *fb, struct buf *out)
{
	if (list->len == 0 && fb)
		list = fb;
	if (list->len == 0) {
		imapfmt_nil(out);
		return;
	}
	buf_putc(out, '(');
	buf_append(out, list->s, list->len);
	buf_putc(out, ')');
}

static int env_field(const struct header_field *h)
{
	for (int k = 0; k < E_N; k++)
		if (mem_caseeq(h->name, h->name_len, env_names[k], strlen(env_names[k])))
			return k;
	return -1;
}

/* Address fields: every occurrence adds to the list; the others: the
 * last occurrence wins (both as Dovecot). */
static void env_collect(const char *hdr, size_t len, struct header_field *f,
			int *have, struct buf *lists)
{
	struct mime_hiter it;
	struct header_field h;
	struct buf v = BUF_INIT;
	int nc;
	mime_hiter_init(&it, hdr, len);
	while (mime_hiter_next(&it, &h, &nc) == 1) {
		int k = nc ? -1 : env_field(&h);
		if (k < 0)
			continue;
		f[k] = h;
		have[k] = 1;
		if (k >= E_FROM && k <= E_BCC) {
			/* Dovecot's address parser sees a C string: a NUL
			 * ends the field */
			const char *nul = memchr(h.value, '\0', h.value_len);
			buf_reset(&v);
			mime_value(h.value, nul ? (size_t)(nul - h.value) : h.value_len, &v);
			mime_addr_write(v.s, v.len, &lists[k]);
		}
	}
	buf_free(&v);
}

void mime_envelope_header(const char *hdr, size_t len, struct buf *out)
{
	struct header_field f[E_N];
	int have[E_N] = {0};
	struct buf lists[E_N];
	memset(lists, 0, sizeof lists);
	env_collect(hdr, len, f, have, lists);
	buf_putc(out, '(');
	env_string(&f[E_DATE], have[E_DATE], out);
	buf_putc(out, ' ');
	env_subject(&f[E_SUBJECT], have[E_SUBJECT], out);
	for (int k = E_FROM; k <= E_BCC; k++) {
		buf_putc(out, ' ');
		int fallback = k == E_SENDER || k == E_REPLY_TO;
		env_addr(&lists[k], fallback ? &lists[E_FROM] : NULL, out);
	}
	buf_putc(out, ' ');
	env_string(&f[E_IN_REPLY_TO], have[E_IN_REPLY_TO], out);
	buf_putc(out, ' ');
	env_string(&f[E_MESSAGE_ID], have[E_MESSAGE_ID], out);
	buf_putc(out, ')');
	for (int k = 0; k < E_N; k++)
		buf_free(&lists[k]);
}

void mime_envelope(const struct mime_msg *m, int i, struct buf *out)
{
	const struct mime_part *p = &m->parts[i];
	mime_envelope_header(m->s + p->hdr, mime_hdr_len(p), out);
}
