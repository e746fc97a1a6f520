/* fetch.c: imapd's FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2): every
 * item (FLAGS, INTERNALDATE, RFC822.SIZE, UID, MODSEQ, ENVELOPE, BODY,
 * BODYSTRUCTURE, BODY[section]<partial>, BODY.PEEK, RFC822,
 * RFC822.HEADER, RFC822.TEXT), the ALL/FAST/FULL macros and CONDSTORE's
 * CHANGEDSINCE.  Bodies are streamed from the mapped file with LF turned
 * into CRLF on the way out, never built twice in memory.  A non-PEEK body
 * fetch sets \Seen (one store for the whole command) and reports FLAGS. */
#include "imapd.h"
#include "mbox.h"
#include "header.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum fi_kind { FI_FLAGS, FI_INTERNALDATE, FI_SIZE, FI_UID, FI_MODSEQ, FI_ENVELOPE,
	       FI_BODYSTRUCTURE, FI_BODY, FI_SECTION, FI_RFC822, FI_RFC822_HEADER,
	       FI_RFC822_TEXT };
enum sect { S_ALL, S_HEADER, S_FIELDS, S_FIELDS_NOT, S_TEXT, S_MIME };

#define FETCH_ITEMS_MAX 64
#define FETCH_FIELDS_MAX 64

struct fetch_item {
	enum fi_kind kind;
	int peek;
	unsigned part[IMAP_PART_DEPTH];
	size_t npart;
	enum sect sect;
	struct imap_str fields[FETCH_FIELDS_MAX];
	size_t nfields;
	int partial;
	unsigned long long off, count;
};

struct fetch_req {
	struct fetch_item *it;
	size_t n;
	int need_data;		/* some item reads the message file */
	int sets_seen;
	unsigned long long changedsince;
	int has_changedsince;
};

/* ---- parsing ---- */

static struct fetch_item *add_item(struct fetch_req *r, enum fi_kind k)
{
	if (r->n == FETCH_ITEMS_MAX)
		return NULL;
	struct fetch_item *it = &r->it[r->n++];
	memset(it, 0, sizeof *it);
	it->kind = k;
	return it;
}

static int field_list(struct imap_parser *p, struct fetch_item *it)
{
	if (imap_p_sp(p) < 0 || imap_p_open(p) < 0)
		return -1;
	do {
		if (it->nfields == FETCH_FIELDS_MAX || imap_p_astring(p, &it->fields[it->nfields]) < 0)
			return -1;
		it->nfields++;
	} while (imap_p_sp(p) == 0);
	return imap_p_close(p);
}

/* section-msgtext / MIME after the part numbers. */
static int section_text(struct imap_parser *p, struct fetch_item *it)
{
	if (imap_p_word(p, "HEADER.FIELDS.NOT") == 0) {
		it->sect = S_FIELDS_NOT;
		return field_list(p, it);
	}
	if (imap_p_word(p, "HEADER.FIELDS") == 0) {
		it->sect = S_FIELDS;
		return field_list(p, it);
	}
	if (imap_p_word(p, "HEADER") == 0)
		it->sect = S_HEADER;
	else if (imap_p_word(p, "TEXT") == 0)
		it->sect = S_TEXT;
	else if (it->npart && imap_p_word(p, "MIME") == 0)
		it->sect = S_MIME;
	else
		return -1;
	return 0;
}

static int section(struct imap_parser *p, struct fetch_item *it)
{
	if (imap_p_char(p, '[') < 0)
		return -1;
	if (imap_p_char(p, ']') == 0)
		return 0;
	unsigned long n;
	while (imap_p_nznumber(p, &n) == 0) {
		if (it->npart == IMAP_PART_DEPTH)
			return -1;
		it->part[it->npart++] = (unsigned)n;
		if (imap_p_char(p, '.') < 0)
			return imap_p_char(p, ']');
	}
	if (section_text(p, it) < 0)
		return -1;
	return imap_p_char(p, ']');
}

static int partial(struct imap_parser *p, struct fetch_item *it)
{
	unsigned long long a, b;
	if (imap_p_char(p, '<') < 0)
		return 0;
	if (imap_p_number(p, &a) < 0 || imap_p_char(p, '.') < 0 || imap_p_number(p, &b) < 0
	    || b == 0 || imap_p_char(p, '>') < 0)
		return -1;
	it->partial = 1;
	it->off = a;
	it->count = b;
	return 0;
}

static int body_item(struct imap_parser *p, struct fetch_req *r, int peek)
{
	struct fetch_item *it;
	if (imap_p_peek(p) != '[') {
		if (peek)
			return -1;
		return add_item(r, FI_BODY) ? 0 : -1;
	}
	if (!(it = add_item(r, FI_SECTION)))
		return -1;
	it->peek = peek;
	return section(p, it) < 0 || partial(p, it) < 0 ? -1 : 0;
}

static const struct {
	const char *name;
	enum fi_kind kind;
} simple_items[] = {
	{"FLAGS", FI_FLAGS}, {"INTERNALDATE", FI_INTERNALDATE}, {"RFC822.SIZE", FI_SIZE},
	{"UID", FI_UID}, {"MODSEQ", FI_MODSEQ}, {"ENVELOPE", FI_ENVELOPE},
	{"BODYSTRUCTURE", FI_BODYSTRUCTURE}, {"RFC822.HEADER", FI_RFC822_HEADER},
	{"RFC822.TEXT", FI_RFC822_TEXT}, {"RFC822", FI_RFC822},
};

static int one_item(struct imap_parser *p, struct fetch_req *r)
{
	if (imap_p_word(p, "BODY.PEEK") == 0)
		return body_item(p, r, 1);
	if (imap_p_word(p, "BODY") == 0)
		return body_item(p, r, 0);
	for (size_t i = 0; i < sizeof simple_items / sizeof simple_items[0]; i++)
		if (imap_p_word(p, simple_items[i].name) == 0)
			return add_item(r, simple_items[i].kind) ? 0 : -1;
	return -1;
}

static int macro(struct imap_parser *p, struct fetch_req *r)
{
	static const enum fi_kind fast[] = {FI_FLAGS, FI_INTERNALDATE, FI_SIZE};
	size_t extra;
	if (imap_p_word(p, "ALL") == 0)
		extra = 1;
	else if (imap_p_word(p, "FAST") == 0)
		extra = 0;
	else if (imap_p_word(p, "FULL") == 0)
		extra = 2;
	else
		return 1;
	for (size_t i = 0; i < 3; i++)
		add_item(r, fast[i]);
	if (extra >= 1)
		add_item(r, FI_ENVELOPE);
	if (extra == 2)
		add_item(r, FI_BODY);
	return 0;
}

/* " (CHANGEDSINCE n)" */
static int modifiers(struct imap_parser *p, struct fetch_req *r)
{
	if (imap_p_end(p))
		return 0;
	if (imap_p_sp(p) < 0 || imap_p_open(p) < 0 || imap_p_word(p, "CHANGEDSINCE") < 0
	    || imap_p_sp(p) < 0 || imap_p_number(p, &r->changedsince) < 0 || imap_p_close(p) < 0)
		return -1;
	r->has_changedsince = 1;
	return imap_p_end(p) ? 0 : -1;
}

static int parse_items(struct imap_parser *p, struct fetch_req *r)
{
	int m = macro(p, r);
	if (m == 0)
		return modifiers(p, r);
	if (imap_p_open(p) < 0) {
		if (one_item(p, r) < 0)
			return -1;
		return modifiers(p, r);
	}
	do {
		if (one_item(p, r) < 0)
			return -1;
	} while (imap_p_sp(p) == 0);
	if (imap_p_close(p) < 0)
		return -1;
	return modifiers(p, r);
}

static void classify(struct fetch_req *r)
{
	for (size_t i = 0; i < r->n; i++) {
		enum fi_kind k = r->it[i].kind;
		if (k >= FI_ENVELOPE)
			r->need_data = 1;
		if ((k == FI_SECTION && !r->it[i].peek) || k == FI_RFC822 || k == FI_RFC822_TEXT)
			r->sets_seen = 1;
	}
}

/* ---- output ---- */

/* Octets of data[0..n) with every bare LF sent as CRLF, plus a final
 * CRLF when add_final. */
static unsigned long long crlf_len(const char *d, size_t n, int add_final)
{
	unsigned long long len = n;
	for (const char *q = d, *end = d + n; (q = memchr(q, '\n', (size_t)(end - q))); q++)
		if (q == d || q[-1] != '\r')
			len++;
	return len + (add_final ? 2 : 0);
}

/* Streams the CRLF form of d[0..n) (+ final CRLF), output octets
 * [skip, skip + count) only. */
static void put_crlf(struct session *s, const char *d, size_t n, int add_final,
		     unsigned long long skip, unsigned long long count)
{
	unsigned long long pos = 0, end = skip + count;
	struct buf *o = &s->io.out;
	for (size_t i = 0; i <= n && pos < end; i++) {
		char two[2];
		size_t k = 0;
		if (i == n) {
			if (!add_final)
				break;
			two[k++] = '\r';
			two[k++] = '\n';
		} else {
			if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
				two[k++] = '\r';
			two[k++] = d[i];
		}
		for (size_t j = 0; j < k; j++, pos++)
			if (pos >= skip && pos < end)
				buf_putc(o, two[j]);
		if ((i & 0xffff) == 0xffff)
			session_maybe_flush(s);
	}
}

/* A literal of the CRLF form of a region, honouring <partial>. */
static void put_region(struct session *s, const struct fetch_item *it, const char *d, size_t n,
		       int add_final)
{
	unsigned long long total = crlf_len(d, n, add_final), skip = 0, count = total;
	if (it && it->partial) {
		skip = it->off < total ? it->off : total;
		count = total - skip < it->count ? total - skip : it->count;
	}
	buf_printf(&s->io.out, "{%llu}\r\n", count);
	put_crlf(s, d, n, add_final, skip, count);
}

static int field_wanted(const struct fetch_item *it, const struct header_field *f)
{
	for (size_t i = 0; i < it->nfields; i++)
		if (mem_caseeq(f->name, f->name_len, it->fields[i].p, it->fields[i].n))
			return it->sect == S_FIELDS;
	return it->sect == S_FIELDS_NOT;
}

/* HEADER.FIELDS (.NOT): the chosen fields and a blank line. */
static void put_fields(struct session *s, const struct fetch_item *it, const char *h, size_t n)
{
	struct buf sel = BUF_INIT;
	struct header_iter hi;
	struct header_field f;
	header_iter_init(&hi, h, n);
	while (header_next(&hi, &f))
		if (field_wanted(it, &f)) {
			buf_append(&sel, f.raw, f.raw_len);
			if (!f.raw_len || f.raw[f.raw_len - 1] != '\n')
				buf_putc(&sel, '\n');
		}
	buf_putc(&sel, '\n');
	put_region(s, it, sel.s, sel.len, 0);
	buf_free(&sel);
}

static void put_section_name(struct session *s, const struct fetch_item *it)
{
	struct buf *o = &s->io.out;
	static const char *const names[] = {"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
					    "TEXT", "MIME"};
	buf_puts(o, "BODY[");
	for (size_t i = 0; i < it->npart; i++)
		buf_printf(o, "%s%u", i ? "." : "", it->part[i]);
	if (it->sect != S_ALL)
		buf_printf(o, "%s%s", it->npart ? "." : "", names[it->sect]);
	if (it->sect == S_FIELDS || it->sect == S_FIELDS_NOT) {
		buf_puts(o, " (");
		for (size_t i = 0; i < it->nfields; i++) {
			if (i)
				buf_putc(o, ' ');
			imap_put_astring(o, it->fields[i].p, it->fields[i].n);
		}
		buf_putc(o, ')');
	}
	buf_putc(o, ']');
	if (it->partial)
		buf_printf(o, "<%llu>", it->off);
	buf_putc(o, ' ');
}

/* BODY[section]: 0 ok, -1 no such part (an empty string is sent). */
static void put_section(struct session *s, const struct fetch_item *it, const char *d, size_t n)
{
	struct part_region r;
	put_section_name(s, it);
	if (structure_part(d, n, it->part, it->npart, &r) < 0) {
		buf_puts(&s->io.out, "\"\"");
		return;
	}
	int at_end = n && d[n - 1] != '\n';
	if (it->sect != S_ALL && it->sect != S_MIME && !r.is_message) {
		buf_puts(&s->io.out, "\"\"");	/* HEADER/TEXT of a non-message part */
		return;
	}
	switch (it->sect) {
	case S_ALL:
		return put_region(s, it, d + r.body, r.body_end - r.body, at_end && r.body_end == n);
	case S_MIME:
		return put_region(s, it, d + r.hdr, r.hdr_end - r.hdr, 0);
	case S_HEADER:
		return put_region(s, it, d + r.msg_hdr, r.msg_hdr_end - r.msg_hdr, 0);
	case S_FIELDS:
	case S_FIELDS_NOT:
		return put_fields(s, it, d + r.msg_hdr, r.msg_hdr_end - r.msg_hdr);
	case S_TEXT:
		return put_region(s, it, d + r.msg_body, r.body_end - r.msg_body,
				  at_end && r.body_end == n);
	}
}

static void put_structure(struct session *s, size_t seq, enum mbox_cache_field f, const char *d,
			  size_t n)
{
	static const char *const names[] = {"ENVELOPE ", "BODYSTRUCTURE ", "BODY "};
	struct buf v = BUF_INIT;
	buf_puts(&s->io.out, names[f]);
	if (mbox_cache_get(s->mb, seq, f, &v) == 1) {
		buf_append(&s->io.out, v.s, v.len);
	} else if (structure_item(f, d, n, &v) == 0) {
		mbox_cache_put(s->mb, seq, f, v.s, v.len);
		buf_append(&s->io.out, v.s, v.len);
	} else {
		buf_puts(&s->io.out, "NIL");
	}
	buf_free(&v);
}

static void put_whole(struct session *s, const char *name, const struct fetch_item *it,
		      const char *d, size_t n)
{
	struct part_region r;
	int at_end = n && d[n - 1] != '\n';
	buf_printf(&s->io.out, "%s ", name);
	structure_part(d, n, NULL, 0, &r);
	if (it->kind == FI_RFC822)
		put_region(s, NULL, d, n, at_end);
	else if (it->kind == FI_RFC822_HEADER)
		put_region(s, NULL, d, r.msg_hdr_end, 0);
	else
		put_region(s, NULL, d + r.msg_body, n - r.msg_body, at_end);
}

static void put_item(struct session *s, size_t seq, const struct mbox_msg *m,
		     const struct fetch_item *it, const char *d, size_t n)
{
	struct buf *o = &s->io.out;
	switch (it->kind) {
	case FI_FLAGS:
		buf_puts(o, "FLAGS ");
		return session_put_flags(s, m);
	case FI_INTERNALDATE:
		buf_puts(o, "INTERNALDATE ");
		return imap_put_datetime(o, m->internaldate);
	case FI_SIZE:
		return buf_printf(o, "RFC822.SIZE %llu", m->size);
	case FI_UID:
		return buf_printf(o, "UID %lu", m->uid);
	case FI_MODSEQ:
		return buf_printf(o, "MODSEQ (%llu)", m->modseq);
	case FI_ENVELOPE:
		return put_structure(s, seq, MBOX_CACHE_ENVELOPE, d, n);
	case FI_BODYSTRUCTURE:
		return put_structure(s, seq, MBOX_CACHE_BODYSTRUCTURE, d, n);
	case FI_BODY:
		return put_structure(s, seq, MBOX_CACHE_BODY, d, n);
	case FI_SECTION:
		return put_section(s, it, d, n);
	case FI_RFC822:
		return put_whole(s, "RFC822", it, d, n);
	case FI_RFC822_HEADER:
		return put_whole(s, "RFC822.HEADER", it, d, n);
	case FI_RFC822_TEXT:
		return put_whole(s, "RFC822.TEXT", it, d, n);
	}
}

static int has_kind(const struct fetch_req *r, enum fi_kind k)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->it[i].kind == k)
			return 1;
	return 0;
}

/* One "* n FETCH (...)": 0 ok, -1 the message file is gone. */
static int fetch_one(struct session *s, const struct fetch_req *r, size_t seq, int add_flags)
{
	const struct mbox_msg *m = mbox_msg(s->mb, seq);
	const char *d = NULL;
	size_t n = 0;
	if (r->need_data && mbox_map(s->mb, seq, &d, &n) < 0)
		return -1;
	buf_printf(&s->io.out, "* %zu FETCH (", seq);
	int sp = 0;
	if (s->uid && !has_kind(r, FI_UID)) {
		buf_printf(&s->io.out, "UID %lu", m->uid);
		sp = 1;
	}
	for (size_t i = 0; i < r->n; i++) {
		buf_puts(&s->io.out, sp ? " " : "");
		put_item(s, seq, m, &r->it[i], d, n);
		sp = 1;
	}
	if (s->condstore && !has_kind(r, FI_MODSEQ))
		buf_printf(&s->io.out, " MODSEQ (%llu)", m->modseq);
	if (add_flags) {
		buf_puts(&s->io.out, " FLAGS ");
		session_put_flags(s, m);
	}
	buf_puts(&s->io.out, ")\r\n");
	if (d)
		mbox_unmap(d, n);
	session_maybe_flush(s);
	return 0;
}

/* Sets \Seen on the unseen messages among seqs, in one store; marks them. */
static void set_seen(struct session *s, const size_t *seqs, size_t n, unsigned char *marked)
{
	size_t *todo = xcalloc(n ? n : 1, sizeof *todo), k = 0;
	for (size_t i = 0; i < n; i++)
		if (!(mbox_msg(s->mb, seqs[i])->flags & MF_SEEN)) {
			todo[k++] = seqs[i];
			marked[i] = 1;
		}
	if (k && mbox_store(s->mb, todo, k, MBOX_STORE_ADD, MF_SEEN, 0, 0, NULL, NULL) < 0) {
		log_warn("user %s: FETCH: setting \\Seen: %s", s->user, strerror(errno));
		memset(marked, 0, n);
	}
	free(todo);
}

static void run_fetch(struct session *s, struct fetch_req *r, const size_t *seqs, size_t n)
{
	unsigned char *seen = xcalloc(n ? n : 1, 1);
	int gone = 0;
	if (r->sets_seen && !mbox_readonly(s->mb))
		set_seen(s, seqs, n, seen);
	for (size_t i = 0; i < n && !s->done; i++) {
		const struct mbox_msg *m = mbox_msg(s->mb, seqs[i]);
		if (r->has_changedsince && m->modseq <= r->changedsince)
			continue;
		if (fetch_one(s, r, seqs[i], seen[i] && !has_kind(r, FI_FLAGS)) < 0)
			gone = 1;
	}
	free(seen);
	if (gone)
		session_tagged(s, "NO", "[EXPUNGEISSUED] some messages were expunged");
	else
		session_tagged(s, "OK", "FETCH completed");
}

void cmd_fetch(struct session *s, struct imap_parser *p)
{
	struct fetch_item items[FETCH_ITEMS_MAX];
	struct fetch_req r = {items, 0, 0, 0, 0, 0};
	struct imap_seqset set;
	size_t *seqs, n;
	if (imap_p_sp(p) < 0 || imap_p_seqset(p, &set) < 0)
		return session_bad(s, "syntax: FETCH set items");
	if (imap_p_sp(p) < 0 || parse_items(p, &r) < 0) {
		imap_seqset_free(&set);
		return session_bad(s, "syntax: FETCH set items");
	}
	if (session_seqs(s, &set, s->uid, &seqs, &n) < 0) {
		imap_seqset_free(&set);
		return session_bad(s, "invalid message sequence number");
	}
	imap_seqset_free(&set);
	if (r.has_changedsince || has_kind(&r, FI_MODSEQ))
		s->condstore = 1;
	classify(&r);
	run_fetch(s, &r, seqs, n);
	free(seqs);
}
