/* fetch.c: imapd's FETCH and UID FETCH (RFC 3501 6.4.5, 7.4.2): every
 * item (FLAGS, INTERNALDATE, RFC822.SIZE, UID, MODSEQ, ENVELOPE, BODY,
 * BODYSTRUCTURE, BODY[section]<partial>, BODY.PEEK, RFC822,
 * RFC822.HEADER, RFC822.TEXT), the ALL/FAST/FULL macros and CONDSTORE's
 * CHANGEDSINCE.  The structures and sections come from common/mime.h
 * (ENVELOPE, BODY and BODYSTRUCTURE through the folder's cache); bodies are
 * streamed from the mapped file with LF turned into CRLF on the way out,
 * never built in memory.  A non-PEEK body fetch sets \Seen (one store for
 * the whole command) and reports FLAGS. */
#include "imapd.h"
#include "mbox.h"
#include "log.h"
#include "mime.h"

#include <errno.h>
#include <limits.h>
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
	int need_structure;	/* ENVELOPE, BODY or BODYSTRUCTURE: maybe cached */
	int sets_seen;
	unsigned long long changedsince;
	int has_changedsince;
	int vanished;		/* QRESYNC's VANISHED modifier */
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

/* <origin.count>; a count of 0 (RFC 3501 wants nz-number) is taken as
 * Dovecot takes it: an empty string. */
static int partial(struct imap_parser *p, struct fetch_item *it)
{
	unsigned long long a, b;
	if (imap_p_char(p, '<') < 0)
		return 0;
	if (imap_p_number(p, &a) < 0 || imap_p_char(p, '.') < 0 || imap_p_number(p, &b) < 0
	    || imap_p_char(p, '>') < 0)
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

/* " (CHANGEDSINCE n [VANISHED])", in any order */
static int modifiers(struct imap_parser *p, struct fetch_req *r)
{
	if (imap_p_end(p))
		return 0;
	if (imap_p_sp(p) < 0 || imap_p_open(p) < 0)
		return -1;
	do {
		if (imap_p_word(p, "VANISHED") == 0)
			r->vanished = 1;
		else if (imap_p_word(p, "CHANGEDSINCE") < 0 || imap_p_sp(p) < 0
			 || imap_p_number(p, &r->changedsince) < 0)
			return -1;
		else
			r->has_changedsince = 1;
	} while (imap_p_sp(p) == 0);
	if (imap_p_close(p) < 0 || !imap_p_end(p))
		return -1;
	return 0;
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
		if (k >= FI_SECTION)
			r->need_data = 1;
		else if (k >= FI_ENVELOPE)
			r->need_structure = 1;
		if ((k == FI_SECTION && !r->it[i].peek) || k == FI_RFC822 || k == FI_RFC822_TEXT)
			r->sets_seen = 1;
	}
}

/* ---- output ---- */

/* One message while its FETCH response is written: mapped, MIME-parsed
 * on first need.  Structure items found in the folder cache are looked
 * up before the response starts, so a FETCH answered from the cache
 * alone never opens the message file. */
struct fmsg {
	struct session *s;
	size_t seq;
	const char *d;
	size_t n;
	struct mime_msg mm;
	int parsed;
	struct buf cached[MBOX_CACHE_FIELDS];
	int have[MBOX_CACHE_FIELDS];
};

static struct mime_msg *parsed(struct fmsg *x)
{
	if (!x->parsed) {
		mime_parse(&x->mm, x->d, x->n);
		x->parsed = 1;
	}
	return &x->mm;
}

static int stream_out(const char *p, size_t n, void *ctx)
{
	struct session *s = ctx;
	buf_append(&s->io.out, p, n);
	session_maybe_flush(s);
	return s->done;
}

/* The literal of section spec (as between the brackets), honouring a
 * partial <off.count>. */
static void put_spec(struct fmsg *x, const char *spec, size_t len, const struct fetch_item *it)
{
	struct mime_section sec;
	struct session *s = x->s;
	unsigned long long start = it && it->partial ? it->off : 0;
	unsigned long long count = it && it->partial ? it->count : ULLONG_MAX;
	memset(&sec, 0, sizeof sec);
	if (mime_section_get(parsed(x), spec, len, &sec) != MIME_SEC_OK) {
		buf_puts(&s->io.out, "\"\"");
		mime_section_free(&sec);
		return;
	}
	buf_printf(&s->io.out, "{%llu}\r\n", mime_section_partial_size(&sec, start, count));
	mime_section_stream(&sec, start, count, stream_out, s);
	mime_section_free(&sec);
}

/* The section spec of BODY[...] as it goes between the brackets. */
static void section_spec(const struct fetch_item *it, struct buf *o)
{
	static const char *const names[] = {"", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
					    "TEXT", "MIME"};
	for (size_t i = 0; i < it->npart; i++)
		buf_printf(o, "%s%u", i ? "." : "", it->part[i]);
	if (it->sect != S_ALL)
		buf_printf(o, "%s%s", it->npart ? "." : "", names[it->sect]);
	if (it->sect == S_FIELDS || it->sect == S_FIELDS_NOT) {
		buf_puts(o, " (");
		for (size_t i = 0; i < it->nfields; i++) {
			if (i)
				buf_putc(o, ' ');
			imapfmt_astring(o, it->fields[i].p, it->fields[i].n);
		}
		buf_putc(o, ')');
	}
}

static void put_section(struct fmsg *x, const struct fetch_item *it)
{
	struct buf spec = BUF_INIT;
	section_spec(it, &spec);
	buf_puts(&x->s->io.out, "BODY[");
	buf_append(&x->s->io.out, spec.s, spec.len);
	buf_putc(&x->s->io.out, ']');
	if (it->partial)
		buf_printf(&x->s->io.out, "<%llu>", it->off);
	buf_putc(&x->s->io.out, ' ');
	put_spec(x, spec.s ? spec.s : "", spec.len, it);
	buf_free(&spec);
}

static void put_structure(struct fmsg *x, enum mbox_cache_field f)
{
	static const char *const names[] = {"ENVELOPE ", "BODYSTRUCTURE ", "BODY "};
	struct session *s = x->s;
	struct buf v = BUF_INIT;
	buf_puts(&s->io.out, names[f]);
	if (x->have[f]) {
		buf_append(&s->io.out, x->cached[f].s, x->cached[f].len);
		return;
	}
	if (f == MBOX_CACHE_ENVELOPE)
		mime_envelope(parsed(x), 0, &v);
	else
		mime_bodystructure(parsed(x), 0, f == MBOX_CACHE_BODYSTRUCTURE, &v);
	mbox_cache_put(s->mb, x->seq, f, v.s, v.len);
	buf_append(&s->io.out, v.s, v.len);
	buf_free(&v);
}

static void put_item(struct fmsg *x, const struct mbox_msg *m, const struct fetch_item *it)
{
	struct session *s = x->s;
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
		return put_structure(x, MBOX_CACHE_ENVELOPE);
	case FI_BODYSTRUCTURE:
		return put_structure(x, MBOX_CACHE_BODYSTRUCTURE);
	case FI_BODY:
		return put_structure(x, MBOX_CACHE_BODY);
	case FI_SECTION:
		return put_section(x, it);
	case FI_RFC822:
		buf_puts(o, "RFC822 ");
		return put_spec(x, "", 0, NULL);
	case FI_RFC822_HEADER:
		buf_puts(o, "RFC822.HEADER ");
		return put_spec(x, "HEADER", 6, NULL);
	case FI_RFC822_TEXT:
		buf_puts(o, "RFC822.TEXT ");
		return put_spec(x, "TEXT", 4, NULL);
	}
}

static int has_kind(const struct fetch_req *r, enum fi_kind k)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->it[i].kind == k)
			return 1;
	return 0;
}

static enum mbox_cache_field cache_field(enum fi_kind k)
{
	return k == FI_ENVELOPE ? MBOX_CACHE_ENVELOPE :
	       k == FI_BODYSTRUCTURE ? MBOX_CACHE_BODYSTRUCTURE : MBOX_CACHE_BODY;
}

/* Looks the structure items up in the cache: 1 if one is missing (the
 * message must be read), 0 if the cache has them all. */
static int structure_from_cache(struct fmsg *x, const struct fetch_req *r)
{
	int miss = 0;
	for (size_t i = 0; i < r->n; i++) {
		enum fi_kind k = r->it[i].kind;
		if (k < FI_ENVELOPE || k > FI_BODY)
			continue;
		enum mbox_cache_field f = cache_field(k);
		if (!x->have[f])
			x->have[f] = mbox_cache_get(x->s->mb, x->seq, f, &x->cached[f]) == 1;
		miss |= !x->have[f];
	}
	return miss;
}

static void fmsg_free(struct fmsg *x)
{
	if (x->parsed)
		mime_free(&x->mm);
	if (x->d)
		mbox_unmap(x->d, x->n);
	for (size_t f = 0; f < MBOX_CACHE_FIELDS; f++)
		buf_free(&x->cached[f]);
}

/* One "* n FETCH (...)": 0 ok, -1 the message file is gone. */
static int fetch_one(struct session *s, const struct fetch_req *r, size_t seq, int add_flags)
{
	const struct mbox_msg *m = mbox_msg(s->mb, seq);
	struct fmsg x;
	memset(&x, 0, sizeof x);
	x.s = s;
	x.seq = seq;
	int need = r->need_data;
	if (r->need_structure && structure_from_cache(&x, r))
		need = 1;
	if (need && mbox_map(s->mb, seq, &x.d, &x.n) < 0) {
		fmsg_free(&x);
		return -1;
	}
	buf_printf(&s->io.out, "* %zu FETCH (", seq);
	int sp = 0;
	if (s->uid && !has_kind(r, FI_UID)) {
		buf_printf(&s->io.out, "UID %lu", m->uid);
		sp = 1;
	}
	for (size_t i = 0; i < r->n; i++) {
		buf_puts(&s->io.out, sp ? " " : "");
		put_item(&x, m, &r->it[i]);
		sp = 1;
	}
	if (s->condstore && !has_kind(r, FI_MODSEQ))
		buf_printf(&s->io.out, " MODSEQ (%llu)", m->modseq);
	if (add_flags) {
		buf_puts(&s->io.out, " FLAGS ");
		session_put_flags(s, m);
	}
	buf_puts(&s->io.out, ")\r\n");
	fmsg_free(&x);
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
	struct fetch_req r = {.it = items};
	struct imap_seqset set;
	size_t *seqs, n;
	if (imap_p_sp(p) < 0 || imap_p_seqset(p, &set) < 0)
		return session_bad(s, "syntax: FETCH set items");
	if (imap_p_sp(p) < 0 || parse_items(p, &r) < 0) {
		imap_seqset_free(&set);
		return session_bad(s, "syntax: FETCH set items");
	}
	/* VANISHED: only UID FETCH with CHANGEDSINCE under QRESYNC (RFC 7162 3.2.6) */
	if (r.vanished && (!s->uid || !s->qresync || !r.has_changedsince)) {
		imap_seqset_free(&set);
		return session_bad(s, "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC");
	}
	if (session_seqs(s, &set, s->uid, &seqs, &n) < 0) {
		imap_seqset_free(&set);
		return session_bad(s, "invalid message sequence number");
	}
	if (r.vanished)
		session_put_vanished(s, &set);
	imap_seqset_free(&set);
	if (r.has_changedsince || has_kind(&r, FI_MODSEQ))
		s->condstore = 1;
	classify(&r);
	run_fetch(s, &r, seqs, n);
	free(seqs);
}
