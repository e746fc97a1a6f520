/* search.c: imapd's SEARCH and UID SEARCH (RFC 3501 6.4.4): every search
 * key, NOT / OR / parenthesised groups, CHARSET (US-ASCII, UTF-8; others
 * NO [BADCHARSET]), CONDSTORE's MODSEQ key and ESEARCH's RETURN (MIN MAX
 * COUNT ALL).  Keys on flags, sizes, dates and UIDs are answered from
 * the folder view; a message file is read only when a header, body or
 * sent-date key needs it.  Headers are compared RFC 2047-decoded, bodies
 * transfer-decoded (common/mime.h), case-insensitively. */
#include "imapd.h"
#include "mbox.h"
#include "header.h"
#include "log.h"
#include "mime.h"

#include <stdlib.h>
#include <string.h>

#define SEARCH_NODES_MAX 1000
#define SEARCH_DEPTH_MAX 64

enum sk {
	SK_AND, SK_OR, SK_NOT, SK_ALL, SK_FLAG, SK_UNFLAG, SK_KEYWORD, SK_UNKEYWORD, SK_NEW,
	SK_OLD, SK_BEFORE, SK_ON, SK_SINCE, SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE, SK_LARGER,
	SK_SMALLER, SK_SEQ, SK_UID, SK_HEADER, SK_BODY, SK_TEXT, SK_MODSEQ, SK_NONE
};

struct snode {
	enum sk op;
	struct snode *kid, *kid2, *next;	/* AND: list from kid; OR: kid, kid2 */
	unsigned flags;
	int kw;				/* keyword index, -1 unknown */
	long long date;
	unsigned long long num;
	struct imap_seqset set;
	unsigned char *bits;		/* a long set as a map of seq numbers */
	struct imap_str field, str;
};

struct sparse {
	struct session *s;
	struct imap_parser *p;
	struct snode *nodes;
	size_t n;
	int depth;
	int maps;		/* set keys turned into maps */
};

#define SEARCH_MAP_RANGES 16	/* a set with more ranges is mapped... */
#define SEARCH_MAPS_MAX 8	/* ...up to this many per command */

/* A message during evaluation: its file mapped on first need. */
struct smsg {
	struct session *s;
	size_t seq;
	const struct mbox_msg *m;
	const char *d;
	size_t len;
	int mapped;		/* 1 mapped, -1 failed */
	struct mime_msg mm;
	int parsed;
};

/* ---- parsing ---- */

static struct snode *node(struct sparse *sp, enum sk op)
{
	if (sp->n == SEARCH_NODES_MAX)
		return NULL;
	struct snode *n = &sp->nodes[sp->n++];
	memset(n, 0, sizeof *n);
	n->op = op;
	return n;
}

static struct snode *key(struct sparse *sp);

static const struct {
	const char *name;
	enum sk op;
	unsigned flag;
} flag_keys[] = {
	{"ANSWERED", SK_FLAG, MF_ANSWERED}, {"DELETED", SK_FLAG, MF_DELETED},
	{"DRAFT", SK_FLAG, MF_DRAFT}, {"FLAGGED", SK_FLAG, MF_FLAGGED}, {"RECENT", SK_FLAG, MF_RECENT},
	{"SEEN", SK_FLAG, MF_SEEN}, {"UNANSWERED", SK_UNFLAG, MF_ANSWERED},
	{"UNDELETED", SK_UNFLAG, MF_DELETED}, {"UNDRAFT", SK_UNFLAG, MF_DRAFT},
	{"UNFLAGGED", SK_UNFLAG, MF_FLAGGED}, {"UNSEEN", SK_UNFLAG, MF_SEEN},
	{"NEW", SK_NEW, 0}, {"OLD", SK_OLD, 0}, {"ALL", SK_ALL, 0},
};

static const struct {
	const char *name;
	enum sk op;
} date_keys[] = {
	{"BEFORE", SK_BEFORE}, {"ON", SK_ON}, {"SINCE", SK_SINCE}, {"SENTBEFORE", SK_SENTBEFORE},
	{"SENTON", SK_SENTON}, {"SENTSINCE", SK_SENTSINCE},
};

static const char *const header_keys[] = {"BCC", "CC", "FROM", "SUBJECT", "TO"};

static struct snode *string_key(struct sparse *sp, enum sk op, const char *field)
{
	struct snode *n = node(sp, op);
	if (!n || imap_p_sp(sp->p) < 0)
		return NULL;
	if (op == SK_HEADER && !field && (imap_p_astring(sp->p, &n->field) < 0 || imap_p_sp(sp->p) < 0))
		return NULL;
	if (field) {
		n->field.p = (char *)field;
		n->field.n = strlen(field);
	}
	return imap_p_astring(sp->p, &n->str) < 0 ? NULL : n;
}

static struct snode *keyword_key(struct sparse *sp, enum sk op)
{
	struct snode *n = node(sp, op);
	struct imap_str f;
	if (!n || imap_p_sp(sp->p) < 0 || imap_p_flag(sp->p, &f) < 0)
		return NULL;
	n->kw = f.p[0] == '\\' ? -1 : mbox_keyword_find(sp->s->mb, f.p, f.n, 0);
	if (f.p[0] == '\\') {	/* KEYWORD \Seen: as the flag key */
		n->op = op == SK_KEYWORD ? SK_FLAG : SK_UNFLAG;
		n->flags = imap_sysflag(f.p, f.n);
	}
	return n;
}

static struct snode *number_key(struct sparse *sp, enum sk op)
{
	struct snode *n = node(sp, op);
	if (!n || imap_p_sp(sp->p) < 0 || imap_p_number(sp->p, &n->num) < 0)
		return NULL;
	return n;
}

/* MODSEQ ["/flags/\\seen" "all"|"shared"|"priv"] n */
static struct snode *modseq_key(struct sparse *sp)
{
	struct snode *n = node(sp, SK_MODSEQ);
	struct imap_str a;
	if (!n || imap_p_sp(sp->p) < 0)
		return NULL;
	if (imap_p_peek(sp->p) == '"') {
		if (imap_p_string(sp->p, &a) < 0 || imap_p_sp(sp->p) < 0 || imap_p_atom(sp->p, &a) < 0
		    || imap_p_sp(sp->p) < 0)
			return NULL;
	}
	sp->s->condstore = 1;
	return imap_p_number(sp->p, &n->num) < 0 ? NULL : n;
}

/* Marks the messages of a long set in a map over sequence numbers, so
 * matching is not linear in its ranges for every message. */
static void set_map(struct sparse *sp, struct snode *n)
{
	struct mbox *mb = sp->s->mb;
	size_t count = mbox_count(mb);
	unsigned long star = n->op == SK_UID ? (count ? mbox_msg(mb, count)->uid : 0) : count;
	n->bits = xcalloc(size_add(count, 2), 1);
	for (size_t i = 0; i < n->set.n; i++) {
		unsigned long lo = n->set.r[i].lo ? n->set.r[i].lo : star;
		unsigned long hi = n->set.r[i].hi ? n->set.r[i].hi : star;
		if (lo > hi) {
			unsigned long t = lo;
			lo = hi;
			hi = t;
		}
		size_t a = n->op == SK_UID ? mbox_seq_at_or_after(mb, lo) : lo;
		size_t b = n->op == SK_UID ? mbox_seq_at_or_after(mb, hi + 1) - 1 : hi;
		for (size_t k = a ? a : 1; k <= b && k <= count; k++)
			n->bits[k] = 1;
	}
}

static struct snode *set_key(struct sparse *sp, enum sk op)
{
	struct snode *n = node(sp, op);
	if (!n || imap_p_seqset(sp->p, &n->set) < 0)
		return NULL;
	if (n->set.n > SEARCH_MAP_RANGES && sp->maps < SEARCH_MAPS_MAX) {
		sp->maps++;
		set_map(sp, n);
	}
	return n;
}

/* "(" key *(SP key) ")" as an AND node. */
static struct snode *group(struct sparse *sp)
{
	struct snode *g = node(sp, SK_AND), **tail;
	if (!g || imap_p_open(sp->p) < 0)
		return NULL;
	tail = &g->kid;
	do {
		struct snode *k = key(sp);
		if (!k)
			return NULL;
		*tail = k;
		tail = &k->next;
	} while (imap_p_sp(sp->p) == 0);
	return imap_p_close(sp->p) < 0 ? NULL : g;
}

static struct snode *not_or(struct sparse *sp, int is_or)
{
	struct snode *n = node(sp, is_or ? SK_OR : SK_NOT);
	if (!n || imap_p_sp(sp->p) < 0 || !(n->kid = key(sp)))
		return NULL;
	if (is_or && (imap_p_sp(sp->p) < 0 || !(n->kid2 = key(sp))))
		return NULL;
	return n;
}

static struct snode *named_key(struct sparse *sp)
{
	struct imap_parser *p = sp->p;
	for (size_t i = 0; i < sizeof flag_keys / sizeof flag_keys[0]; i++)
		if (imap_p_word(p, flag_keys[i].name) == 0) {
			struct snode *n = node(sp, flag_keys[i].op);
			if (n)
				n->flags = flag_keys[i].flag;
			return n;
		}
	for (size_t i = 0; i < sizeof date_keys / sizeof date_keys[0]; i++)
		if (imap_p_word(p, date_keys[i].name) == 0) {
			struct snode *n = node(sp, date_keys[i].op);
			return n && imap_p_sp(p) == 0 && imap_p_date(p, &n->date) == 0 ? n : NULL;
		}
	for (size_t i = 0; i < sizeof header_keys / sizeof header_keys[0]; i++)
		if (imap_p_word(p, header_keys[i]) == 0)
			return string_key(sp, SK_HEADER, header_keys[i]);
	if (imap_p_word(p, "HEADER") == 0)
		return string_key(sp, SK_HEADER, NULL);
	if (imap_p_word(p, "BODY") == 0)
		return string_key(sp, SK_BODY, NULL);
	if (imap_p_word(p, "TEXT") == 0)
		return string_key(sp, SK_TEXT, NULL);
	if (imap_p_word(p, "KEYWORD") == 0)
		return keyword_key(sp, SK_KEYWORD);
	if (imap_p_word(p, "UNKEYWORD") == 0)
		return keyword_key(sp, SK_UNKEYWORD);
	if (imap_p_word(p, "LARGER") == 0)
		return number_key(sp, SK_LARGER);
	if (imap_p_word(p, "SMALLER") == 0)
		return number_key(sp, SK_SMALLER);
	if (imap_p_word(p, "MODSEQ") == 0)
		return modseq_key(sp);
	if (imap_p_word(p, "UID") == 0)
		return imap_p_sp(p) == 0 ? set_key(sp, SK_UID) : NULL;
	if (imap_p_word(p, "NOT") == 0)
		return not_or(sp, 0);
	if (imap_p_word(p, "OR") == 0)
		return not_or(sp, 1);
	return NULL;
}

static struct snode *key(struct sparse *sp)
{
	if (++sp->depth > SEARCH_DEPTH_MAX)
		return NULL;
	struct snode *n;
	int c = imap_p_peek(sp->p);
	if (c == '(')
		n = group(sp);
	else if (c == '*' || (c >= '0' && c <= '9'))
		n = set_key(sp, SK_SEQ);
	else
		n = named_key(sp);
	sp->depth--;
	return n;
}

/* ---- evaluation ---- */

static int smsg_map(struct smsg *x)
{
	if (!x->mapped)
		x->mapped = mbox_map(x->s->mb, x->seq, &x->d, &x->len) == 0 ? 1 : -1;
	return x->mapped == 1;
}

static struct mime_msg *smsg_mime(struct smsg *x)
{
	if (!x->parsed) {
		mime_parse(&x->mm, x->d, x->len);
		x->parsed = 1;
	}
	return &x->mm;
}

/* A header field called name (NULL: any) whose decoded value has str. */
static int header_has(struct smsg *x, const char *name, size_t nlen, const struct imap_str *str)
{
	if (!smsg_map(x))
		return 0;
	size_t he = header_end(x->d, x->len, NULL);
	struct header_iter it;
	struct header_field f;
	struct buf v = BUF_INIT, dec = BUF_INIT;
	int found = 0;
	header_iter_init(&it, x->d, he);
	while (!found && header_next(&it, &f)) {
		if (name && !mem_caseeq(f.name, f.name_len, name, nlen))
			continue;
		buf_reset(&v);
		buf_reset(&dec);
		header_unfold(f.value, f.value_len, &v);
		mime_decode_words(v.s, v.len, &dec);
		found = mime_search(dec.s, dec.len, str->p, str->n)
		     || (!name && mime_search(f.name, f.name_len, str->p, str->n));
	}
	buf_free(&v);
	buf_free(&dec);
	return found;
}

/* BODY: the decoded text of any leaf part has str. */
static int body_has(struct smsg *x, const struct imap_str *str)
{
	if (!smsg_map(x))
		return 0;
	struct mime_msg *m = smsg_mime(x);
	struct buf t = BUF_INIT;
	int found = 0;
	for (size_t i = 0; i < m->n && !found; i++) {
		if (m->parts[i].kind != MIME_LEAF)
			continue;
		buf_reset(&t);
		mime_part_text(m, (int)i, &t);
		found = mime_search(t.s, t.len, str->p, str->n);
	}
	buf_free(&t);
	return found;
}

/* The date of the Date: header as written (its zone's calendar day), as
 * the unix time of that day's 00:00 UTC; -1 if none or unreadable. */
static long long sent_date(struct smsg *x)
{
	struct buf v = BUF_INIT;
	time_t t;
	int off = 0;
	long long day = -1;
	if (smsg_map(x) && mime_header_get(x->d, header_end(x->d, x->len, NULL), "Date", &v)
	    && mime_parse_date(v.s, v.len, &t, &off) == 0)
		day = (long long)t + off;
	buf_free(&v);
	return day == -1 ? -1 : day - ((day % 86400) + 86400) % 86400;
}

static long long day_of(long long t)
{
	return t - ((t % 86400) + 86400) % 86400;
}

static int date_cmp(enum sk op, long long day, long long want)
{
	switch (op) {
	case SK_BEFORE:
	case SK_SENTBEFORE:
		return day < want;
	case SK_ON:
	case SK_SENTON:
		return day == want;
	default:
		return day >= want;
	}
}

static int match(struct smsg *x, const struct snode *n);

static int match_and(struct smsg *x, const struct snode *k)
{
	for (; k; k = k->next)
		if (!match(x, k))
			return 0;
	return 1;
}

static int match(struct smsg *x, const struct snode *n)
{
	const struct mbox_msg *m = x->m;
	unsigned long star;
	switch (n->op) {
	case SK_AND:
		return match_and(x, n->kid);
	case SK_OR:
		return match(x, n->kid) || match(x, n->kid2);
	case SK_NOT:
		return !match(x, n->kid);
	case SK_ALL:
		return 1;
	case SK_FLAG:
		return (m->flags & n->flags) != 0;
	case SK_UNFLAG:
		return (m->flags & n->flags) == 0;
	case SK_KEYWORD:
		return n->kw >= 0 && n->kw < 32 && (m->keywords >> n->kw & 1);
	case SK_UNKEYWORD:
		return !(n->kw >= 0 && n->kw < 32 && (m->keywords >> n->kw & 1));
	case SK_NEW:
		return (m->flags & MF_RECENT) && !(m->flags & MF_SEEN);
	case SK_OLD:
		return !(m->flags & MF_RECENT);
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
		return date_cmp(n->op, day_of(m->internaldate), n->date);
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE: {
		long long d = sent_date(x);
		return d != -1 && date_cmp(n->op, d, n->date);
	}
	case SK_LARGER:
		return m->size > n->num;
	case SK_SMALLER:
		return m->size < n->num;
	case SK_SEQ:
		if (n->bits)
			return n->bits[x->seq];
		return imap_seqset_has(&n->set, x->seq, mbox_count(x->s->mb));
	case SK_UID:
		if (n->bits)
			return n->bits[x->seq];
		star = mbox_count(x->s->mb) ? mbox_msg(x->s->mb, mbox_count(x->s->mb))->uid : 0;
		return imap_seqset_has(&n->set, m->uid, star);
	case SK_HEADER:
		return header_has(x, n->field.p, n->field.n, &n->str);
	case SK_BODY:
		return body_has(x, &n->str);
	case SK_TEXT:
		return header_has(x, NULL, 0, &n->str) || body_has(x, &n->str);
	case SK_MODSEQ:
		return m->modseq >= n->num;
	case SK_NONE:
		break;
	}
	return 0;
}

/* ---- the command ---- */

enum { R_MIN = 1, R_MAX = 2, R_COUNT = 4, R_ALL = 8 };

/* "RETURN (opts)": 0 none given, 1 given (esearch), -1 bad. */
static int return_opts(struct imap_parser *p, unsigned *ret)
{
	struct imap_str a;
	if (imap_p_word(p, "RETURN") < 0)
		return 0;
	if (imap_p_sp(p) < 0 || imap_p_open(p) < 0)
		return -1;
	*ret = 0;
	if (imap_p_close(p) == 0) {
		*ret = R_ALL;
		return imap_p_sp(p) == 0 ? 1 : -1;
	}
	do {
		if (imap_p_atom(p, &a) < 0)
			return -1;
		if (mem_caseeq(a.p, a.n, "MIN", 3))
			*ret |= R_MIN;
		else if (mem_caseeq(a.p, a.n, "MAX", 3))
			*ret |= R_MAX;
		else if (mem_caseeq(a.p, a.n, "COUNT", 5))
			*ret |= R_COUNT;
		else if (mem_caseeq(a.p, a.n, "ALL", 3))
			*ret |= R_ALL;
		else
			return -1;
	} while (imap_p_sp(p) == 0);
	return imap_p_close(p) < 0 || imap_p_sp(p) < 0 ? -1 : 1;
}

/* "CHARSET x SP": 0 ok (or none), -1 syntax, -2 unsupported. */
static int charset(struct imap_parser *p)
{
	struct imap_str c;
	if (imap_p_word(p, "CHARSET") < 0)
		return 0;
	if (imap_p_sp(p) < 0 || imap_p_astring(p, &c) < 0 || imap_p_sp(p) < 0)
		return -1;
	if (mem_caseeq(c.p, c.n, "UTF-8", 5) || mem_caseeq(c.p, c.n, "US-ASCII", 8))
		return 0;
	return -2;
}

static void free_sets(struct sparse *sp)
{
	for (size_t i = 0; i < sp->n; i++) {
		imap_seqset_free(&sp->nodes[i].set);
		free(sp->nodes[i].bits);
	}
	free(sp->nodes);
}

static void put_esearch(struct session *s, unsigned ret, const unsigned long *v, size_t n,
			unsigned long long hms, int modseq)
{
	struct buf *o = &s->io.out;
	buf_puts(o, "* ESEARCH (TAG ");
	imapfmt_string(o, s->tag.p, s->tag.n);
	buf_puts(o, ")");
	if (s->uid)
		buf_puts(o, " UID");
	if ((ret & R_MIN) && n)
		buf_printf(o, " MIN %lu", v[0]);
	if ((ret & R_MAX) && n)
		buf_printf(o, " MAX %lu", v[n - 1]);
	if (ret & R_COUNT)
		buf_printf(o, " COUNT %zu", n);
	if ((ret & R_ALL) && n) {
		buf_puts(o, " ALL ");
		session_put_set(o, v, n);
	}
	if (modseq && n)
		buf_printf(o, " MODSEQ %llu", hms);
	buf_puts(o, "\r\n");
}

static void run_search(struct session *s, const struct snode *root, int esearch, unsigned ret)
{
	size_t count = mbox_count(s->mb), n = 0;
	unsigned long *v = xcalloc(count ? count : 1, sizeof *v);
	unsigned long long hms = 0;
	int modseq = 0;
	for (const struct snode *k = root->kid; k; k = k->next)
		modseq |= k->op == SK_MODSEQ;
	for (size_t seq = 1; seq <= count; seq++) {
		struct smsg x;
		memset(&x, 0, sizeof x);
		x.s = s;
		x.seq = seq;
		x.m = mbox_msg(s->mb, seq);
		if (x.m->expunged)
			continue;
		int ok = match(&x, root);
		if (x.parsed)
			mime_free(&x.mm);
		if (x.mapped == 1)
			mbox_unmap(x.d, x.len);
		if (!ok)
			continue;
		v[n++] = s->uid ? x.m->uid : seq;
		if (x.m->modseq > hms)
			hms = x.m->modseq;
	}
	if (esearch) {
		put_esearch(s, ret, v, n, hms, modseq);
	} else {
		buf_puts(&s->io.out, "* SEARCH");
		for (size_t i = 0; i < n; i++) {
			buf_printf(&s->io.out, " %lu", v[i]);
			session_maybe_flush(s);
		}
		if (modseq && n)
			buf_printf(&s->io.out, " (MODSEQ %llu)", hms);
		buf_puts(&s->io.out, "\r\n");
	}
	free(v);
	session_tagged(s, "OK", "SEARCH completed");
}

void cmd_search(struct session *s, struct imap_parser *p)
{
	unsigned ret = 0;
	int esearch, cs;
	if (imap_p_sp(p) < 0 || (esearch = return_opts(p, &ret)) < 0 || (cs = charset(p)) == -1)
		return session_bad(s, "syntax: SEARCH [RETURN (...)] [CHARSET x] keys");
	if (cs == -2)
		return session_tagged(s, "NO", "[BADCHARSET (US-ASCII UTF-8)] unsupported charset");
	struct sparse sp = {s, p, xcalloc(SEARCH_NODES_MAX, sizeof(struct snode)), 0, 0, 0};
	struct snode *root = node(&sp, SK_AND), **tail = &root->kid;
	do {
		struct snode *k = key(&sp);
		if (!k) {
			free_sets(&sp);
			return session_bad(s, "bad search key");
		}
		*tail = k;
		tail = &k->next;
	} while (imap_p_sp(p) == 0);
	if (!imap_p_end(p)) {
		free_sets(&sp);
		return session_bad(s, "bad search key");
	}
	run_search(s, root, esearch, ret);
	free_sets(&sp);
}
