/* qp.c: streaming 8bit -> 7bit MIME conversion (see qp.h).  A line state
 * machine: a part's header is held until its blank line, then rewritten
 * when the part is a leaf to encode; body lines are encoded or copied,
 * watching for the boundaries of every enclosing multipart. */
#include "qp.h"
#include "header.h"

#include <string.h>

enum { QP_HEADER, QP_ENCODE, QP_COPY };

void qp_init(struct qp_conv *q)
{
	memset(q, 0, sizeof *q);
	q->state = QP_HEADER;
	q->top = 1;
}

void qp_free(struct qp_conv *q)
{
	buf_free(&q->header);
}

void qp_encode_line(const char *s, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int ws = c == ' ' || c == '\t';
		int enc = c > 126 || c == '=' || (c < 32 && c != '\t') || (ws && i + 1 == len);
		size_t tok = enc ? 3 : 1;
		if (col + tok > 75) {	/* 75 + the '=' of the soft break = 76 */
			buf_puts(out, "=\n");
			col = 0;
		}
		if (enc) {
			char t[3] = {'=', hex[c >> 4], hex[c & 15]};
			buf_append(out, t, 3);
		} else {
			buf_putc(out, (char)c);
		}
		col += tok;
	}
	buf_putc(out, '\n');
}

/* The value of parameter name (e.g. boundary) in an unfolded Content-Type
 * value, without quotes; 0 when missing or invalid. */
static int param(const char *v, size_t n, const char *name, char *out, size_t max)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i + nl < n; i++) {
		if (v[i] != ';')
			continue;
		size_t j = i + 1;
		while (j < n && (v[j] == ' ' || v[j] == '\t'))
			j++;
		if (j + nl >= n || !mem_caseeq(v + j, nl, name, nl) || v[j + nl] != '=')
			continue;
		j += nl + 1;
		int quoted = j < n && v[j] == '"';
		j += (size_t)quoted;
		size_t k = j;
		while (k < n && (quoted ? v[k] != '"' : v[k] != ';' && v[k] != ' ' && v[k] != '\t'))
			k++;
		if (k == j || k - j > max)
			return 0;
		memcpy(out, v + j, k - j);
		out[k - j] = '\0';
		return 1;
	}
	return 0;
}

struct part_info {
	struct buf ctype;	/* unfolded */
	struct buf cte;		/* unfolded, lower case */
	int mime_version;
};

static void part_scan(const struct buf *h, struct part_info *pi)
{
	struct header_iter it;
	struct header_field f;
	header_iter_init(&it, h->s ? h->s : "", h->len);
	while (header_next(&it, &f)) {
		struct buf *dst = NULL;
		if (mem_caseeq(f.name, f.name_len, "Content-Type", 12))
			dst = &pi->ctype;
		else if (mem_caseeq(f.name, f.name_len, "Content-Transfer-Encoding", 25))
			dst = &pi->cte;
		else if (mem_caseeq(f.name, f.name_len, "MIME-Version", 12))
			pi->mime_version = 1;
		if (dst && !dst->len)
			header_unfold(f.value, f.value_len, dst);
	}
	mem_lower(pi->cte.s, pi->cte.len);	/* not ctype: boundaries keep their case */
}

/* The header without its Content-Transfer-Encoding fields, then the new
 * fields. */
static void rewrite_leaf(struct qp_conv *q, const struct part_info *pi, struct buf *out)
{
	struct header_iter it;
	struct header_field f;
	const struct buf *h = &q->header;
	header_iter_init(&it, h->s ? h->s : "", h->len);
	while (header_next(&it, &f))
		if (!mem_caseeq(f.name, f.name_len, "Content-Transfer-Encoding", 25))
			buf_append(out, f.raw, f.raw_len);
	if (h->len > it.body)
		buf_append(out, h->s + it.body, h->len - it.body);
	if (q->top && !pi->mime_version) {
		buf_puts(out, "MIME-Version: 1.0\n");
		if (!pi->ctype.len)
			buf_puts(out, "Content-Type: text/plain; charset=unknown-8bit\n");
	}
	buf_puts(out, "Content-Transfer-Encoding: quoted-printable\n");
}

static int encodable(const struct buf *cte)
{
	return cte->len == 0 || buf_eq(cte, "7bit") || buf_eq(cte, "8bit");
}

/* The blank line after a part's header: decide what its body is. */
static void header_done(struct qp_conv *q, struct buf *out)
{
	struct part_info pi = {BUF_INIT, BUF_INIT, 0};
	part_scan(&q->header, &pi);
	char b[QP_BOUNDARY_MAX + 1];
	int multi = mem_caseprefix(pi.ctype.s, pi.ctype.len, "multipart/");
	if (multi && q->depth < QP_DEPTH_MAX && param(pi.ctype.s, pi.ctype.len, "boundary", b, QP_BOUNDARY_MAX)) {
		memcpy(q->bounds[q->depth++], b, strlen(b) + 1);
		buf_append(out, q->header.s ? q->header.s : "", q->header.len);
		q->state = QP_COPY;
	} else if (mem_caseprefix(pi.ctype.s, pi.ctype.len, "message/rfc822")) {
		buf_append(out, q->header.s ? q->header.s : "", q->header.len);
		q->state = QP_HEADER;	/* the enclosed message's header follows */
	} else if (!multi && encodable(&pi.cte)) {
		rewrite_leaf(q, &pi, out);
		q->state = QP_ENCODE;
	} else {
		buf_append(out, q->header.s ? q->header.s : "", q->header.len);
		q->state = QP_COPY;
	}
	buf_putc(out, '\n');
	q->top = 0;
	buf_reset(&q->header);
	buf_free(&pi.ctype);
	buf_free(&pi.cte);
}

/* A boundary line of an enclosing multipart: 1 handled. */
static int boundary(struct qp_conv *q, const char *s, size_t len)
{
	if (len < 3 || s[0] != '-' || s[1] != '-')
		return 0;
	while (len > 2 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	for (int i = q->depth - 1; i >= 0; i--) {
		size_t bl = strlen(q->bounds[i]);
		if (len < 2 + bl || memcmp(s + 2, q->bounds[i], bl) != 0)
			continue;
		int close = len == 4 + bl && s[2 + bl] == '-' && s[3 + bl] == '-';
		if (len != 2 + bl && !close)
			continue;
		q->depth = close ? i : i + 1;
		q->state = close ? QP_COPY : QP_HEADER;
		buf_reset(&q->header);
		return 1;
	}
	return 0;
}

void qp_line(struct qp_conv *q, const char *s, size_t len, struct buf *out)
{
	if (q->state == QP_HEADER && !q->overflow) {
		if (len == 0) {
			header_done(q, out);
			return;
		}
		buf_append(&q->header, s, len);
		buf_putc(&q->header, '\n');
		if (q->header.len > QP_HEADER_MAX) {	/* not a header we can rewrite */
			buf_append(out, q->header.s, q->header.len);
			buf_reset(&q->header);
			q->state = QP_COPY;
		}
		return;
	}
	if (q->depth && boundary(q, s, len)) {
		buf_append(out, s, len);
		buf_putc(out, '\n');
		return;
	}
	if (q->state == QP_ENCODE) {
		qp_encode_line(s, len, out);
	} else {
		buf_append(out, s, len);
		buf_putc(out, '\n');
	}
}

void qp_finish(struct qp_conv *q, struct buf *out)
{
	if (q->state == QP_HEADER && q->header.len) {
		buf_append(out, q->header.s, q->header.len);
		buf_reset(&q->header);
	}
}
