/* folder_cmd.c: imapd's mailbox commands: SELECT and EXAMINE (with the
 * CONDSTORE parameter), CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
 * LIST (SPECIAL-USE and CHILDREN attributes, the SUBSCRIBED selection and
 * RETURN options of LIST-EXTENDED), LSUB, STATUS, APPEND (flags, date,
 * APPENDUID), CLOSE, UNSELECT, EXPUNGE and UID EXPUNGE.  Folders are
 * reached only through mbox.h. */
#include "imapd.h"
#include "mbox.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One mailbox argument and the end of the command; NULL: answered BAD. */
static char *mailbox_only(struct session *s, struct imap_parser *p, const char *syntax)
{
	char *name = NULL;
	if (imap_p_sp(p) < 0 || !(name = session_mailbox(p)) || !imap_p_end(p)) {
		free(name);
		session_bad(s, syntax);
		return NULL;
	}
	return name;
}

static void deselect(struct session *s)
{
	if (s->mb)
		mbox_close(s->mb);
	s->mb = NULL;
	s->state = IMAP_AUTH;
}

/* QRESYNC's SELECT parameter (RFC 7162 3.2.5): what the client knows. */
struct qresync {
	int given;
	unsigned long uidvalidity;
	unsigned long long modseq;
	struct imap_seqset known;	/* known-uids; empty: 1:* */
};

/* "(uidvalidity modseq [known-uids] [(seqs uids)])"; the last part only
 * saves work and is checked for syntax only. */
static int qresync_param(struct imap_parser *p, struct qresync *q)
{
	struct imap_seqset a, b;
	if (imap_p_sp(p) < 0 || imap_p_open(p) < 0 || imap_p_nznumber(p, &q->uidvalidity) < 0
	    || imap_p_sp(p) < 0 || imap_p_number(p, &q->modseq) < 0)
		return -1;
	q->given = 1;
	if (imap_p_sp(p) == 0 && imap_p_peek(p) != '(' && imap_p_seqset(p, &q->known) < 0)
		return -1;
	if (imap_p_peek(p) == ' ' && (imap_p_sp(p), imap_p_peek(p) != '('))
		return -1;
	if (imap_p_peek(p) == '(') {
		if (imap_p_open(p) < 0 || imap_p_seqset(p, &a) < 0)
			return -1;
		imap_seqset_free(&a);
		if (imap_p_sp(p) < 0 || imap_p_seqset(p, &b) < 0)
			return -1;
		imap_seqset_free(&b);
		if (imap_p_close(p) < 0)
			return -1;
	}
	return imap_p_close(p);
}

/* SELECT/EXAMINE's optional "(CONDSTORE)" / "(QRESYNC (...))". */
static int select_params(struct session *s, struct imap_parser *p, struct qresync *q)
{
	if (imap_p_end(p))
		return 0;
	if (imap_p_sp(p) < 0 || imap_p_open(p) < 0)
		return -1;
	do {
		if (imap_p_word(p, "CONDSTORE") == 0)
			s->condstore = 1;
		else if (!s->qresync || q->given || imap_p_word(p, "QRESYNC") < 0
			 || qresync_param(p, q) < 0)
			return -1;
	} while (imap_p_sp(p) == 0);
	return imap_p_close(p) < 0 || !imap_p_end(p) ? -1 : 0;
}

/* QRESYNC's resynchronisation after SELECT: what vanished and what
 * changed since the client's modseq, if its UIDVALIDITY is still right. */
static void qresync_report(struct session *s, const struct qresync *q)
{
	static struct imap_range all = {1, 0};
	struct imap_seqset everything = {&all, 1};
	if (!q->given || q->uidvalidity != mbox_uidvalidity(s->mb))
		return;
	session_put_vanished(s, q->known.n ? &q->known : &everything);
	for (size_t seq = 1; seq <= mbox_count(s->mb); seq++) {
		const struct mbox_msg *m = mbox_msg(s->mb, seq);
		if (m->modseq <= q->modseq || (q->known.n && !imap_seqset_has(&q->known, m->uid,
								       mbox_uidnext(s->mb) - 1)))
			continue;
		buf_printf(&s->io.out, "* %zu FETCH (UID %lu FLAGS ", seq, m->uid);
		session_put_flags(s, m);
		buf_printf(&s->io.out, " MODSEQ (%llu))\r\n", m->modseq);
		session_maybe_flush(s);
	}
}

static void select_responses(struct session *s)
{
	struct mbox *m = s->mb;
	session_put_flaglist(s);
	buf_printf(&s->io.out, "* %zu EXISTS\r\n* %zu RECENT\r\n", mbox_count(m), mbox_recent(m));
	size_t unseen = mbox_first_unseen(m);
	if (unseen)
		buf_printf(&s->io.out, "* OK [UNSEEN %zu] first unseen\r\n", unseen);
	buf_printf(&s->io.out, "* OK [UIDVALIDITY %lu] UIDs valid\r\n", mbox_uidvalidity(m));
	buf_printf(&s->io.out, "* OK [UIDNEXT %lu] predicted next UID\r\n", mbox_uidnext(m));
	buf_printf(&s->io.out, "* OK [HIGHESTMODSEQ %llu] highest\r\n", mbox_highestmodseq(m));
}

static void do_select(struct session *s, struct imap_parser *p, int readonly)
{
	char *name = NULL;
	struct qresync q;
	memset(&q, 0, sizeof q);
	if (imap_p_sp(p) < 0 || !(name = session_mailbox(p)) || select_params(s, p, &q) < 0) {
		free(name);
		imap_seqset_free(&q.known);
		return session_bad(s, "syntax: SELECT mailbox [(CONDSTORE | QRESYNC (...))]");
	}
	if (s->mb && s->qresync)
		buf_puts(&s->io.out, "* OK [CLOSED] previous mailbox closed\r\n");
	deselect(s);
	struct mbox *m;
	if (mbox_open(s->root, name, readonly, &m) < 0) {
		session_no_errno(s, name, errno);
		free(name);
		imap_seqset_free(&q.known);
		return;
	}
	free(name);
	s->mb = m;
	s->state = IMAP_SELECTED;
	select_responses(s);
	qresync_report(s, &q);
	imap_seqset_free(&q.known);
	session_tagged(s, "OK", "[%s] %s completed", mbox_readonly(m) ? "READ-ONLY" : "READ-WRITE",
		       readonly ? "EXAMINE" : "SELECT");
}

void cmd_select(struct session *s, struct imap_parser *p)
{
	do_select(s, p, 0);
}

void cmd_examine(struct session *s, struct imap_parser *p)
{
	do_select(s, p, 1);
}

void cmd_create(struct session *s, struct imap_parser *p)
{
	char *name = mailbox_only(s, p, "syntax: CREATE mailbox");
	if (!name)
		return;
	size_t n = strlen(name);
	if (n > 1 && name[n - 1] == '.')	/* "a." announces children: create "a" */
		name[n - 1] = 0;
	if (folder_create(s->root, name) < 0)
		session_no_errno(s, name, errno);
	else
		session_tagged(s, "OK", "CREATE completed");
	free(name);
}

void cmd_delete(struct session *s, struct imap_parser *p)
{
	char *name = mailbox_only(s, p, "syntax: DELETE mailbox");
	if (!name)
		return;
	if (folder_delete(s->root, name) < 0)
		session_no_errno(s, name, errno);
	else
		session_tagged(s, "OK", "DELETE completed");
	free(name);
}

void cmd_rename(struct session *s, struct imap_parser *p)
{
	char *from = NULL, *to = NULL;
	if (imap_p_sp(p) < 0 || !(from = session_mailbox(p)) || imap_p_sp(p) < 0
	    || !(to = session_mailbox(p)) || !imap_p_end(p)) {
		session_bad(s, "syntax: RENAME from to");
	} else if (folder_rename(s->root, from, to) < 0) {
		session_no_errno(s, errno == EEXIST ? to : from, errno);
	} else {
		session_tagged(s, "OK", "RENAME completed");
	}
	free(from);
	free(to);
}

static void subscribe(struct session *s, struct imap_parser *p, int on)
{
	char *name = mailbox_only(s, p, "syntax: SUBSCRIBE mailbox");
	if (!name)
		return;
	if (folder_subscribe(s->root, name, on) < 0)
		session_no_errno(s, name, errno);
	else
		session_tagged(s, "OK", "%s completed", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
	free(name);
}

void cmd_subscribe(struct session *s, struct imap_parser *p)
{
	subscribe(s, p, 1);
}

void cmd_unsubscribe(struct session *s, struct imap_parser *p)
{
	subscribe(s, p, 0);
}

/* ---- LIST / LSUB ---- */

enum { LR_SUBSCRIBED = 1, LR_SPECIAL = 2, LR_CHILDREN = 4 };
struct list_ctx {
	struct session *s;
	const char *verb;
	unsigned ret;		/* LR_*: what to show */
};

static const struct {
	unsigned bit, show;
	const char *name;
} list_attrs[] = {
	{FA_NOSELECT, 0, "\\Noselect"}, {FA_NONEXISTENT, 0, "\\NonExistent"},
	{FA_NOINFERIORS, 0, "\\Noinferiors"}, {FA_HASCHILDREN, LR_CHILDREN, "\\HasChildren"},
	{FA_HASNOCHILDREN, LR_CHILDREN, "\\HasNoChildren"}, {FA_SUBSCRIBED, LR_SUBSCRIBED, "\\Subscribed"},
	{FA_MARKED, 0, "\\Marked"}, {FA_UNMARKED, 0, "\\Unmarked"},
	{FA_SENT, LR_SPECIAL, "\\Sent"}, {FA_DRAFTS, LR_SPECIAL, "\\Drafts"},
	{FA_TRASH, LR_SPECIAL, "\\Trash"}, {FA_JUNK, LR_SPECIAL, "\\Junk"},
	{FA_ARCHIVE, LR_SPECIAL, "\\Archive"},
};

static int list_one(const struct folder_entry *e, void *arg)
{
	struct list_ctx *c = arg;
	struct buf *o = &c->s->io.out;
	int sp = 0;
	buf_printf(o, "* %s (", c->verb);
	for (size_t i = 0; i < sizeof list_attrs / sizeof list_attrs[0]; i++)
		if ((e->attrs & list_attrs[i].bit) && (!list_attrs[i].show || (c->ret & list_attrs[i].show))) {
			buf_puts(o, sp ? " " : "");
			buf_puts(o, list_attrs[i].name);
			sp = 1;
		}
	buf_puts(o, ") \".\" ");
	imapfmt_astring(o, e->name, strlen(e->name));
	buf_puts(o, "\r\n");
	session_maybe_flush(c->s);
	return c->s->done;
}

/* "(opt ...)" of atoms; SUBSCRIBED / SPECIAL-USE / CHILDREN set bits. */
static int list_opts(struct imap_parser *p, unsigned *bits)
{
	struct imap_str a;
	if (imap_p_open(p) < 0)
		return -1;
	if (imap_p_close(p) == 0)
		return 0;
	do {
		if (imap_p_atom(p, &a) < 0)
			return -1;
		if (mem_caseeq(a.p, a.n, "SUBSCRIBED", 10))
			*bits |= LR_SUBSCRIBED;
		else if (mem_caseeq(a.p, a.n, "SPECIAL-USE", 11))
			*bits |= LR_SPECIAL;
		else if (mem_caseeq(a.p, a.n, "CHILDREN", 8))
			*bits |= LR_CHILDREN;
		else if (!mem_caseeq(a.p, a.n, "REMOTE", 6) && !mem_caseeq(a.p, a.n, "RECURSIVEMATCH", 14))
			return -1;
	} while (imap_p_sp(p) == 0);
	return imap_p_close(p);
}

static void do_list(struct session *s, struct imap_parser *p, int lsub)
{
	struct imap_str ref, pat;
	unsigned sel = 0, ret = LR_SPECIAL | LR_CHILDREN;
	if (imap_p_sp(p) < 0)
		return session_bad(s, "syntax: LIST reference mailbox");
	if (!lsub && imap_p_peek(p) == '(' && (list_opts(p, &sel) < 0 || imap_p_sp(p) < 0))
		return session_bad(s, "bad LIST selection options");
	if (imap_p_astring(p, &ref) < 0 || imap_p_sp(p) < 0 || imap_p_listmbox(p, &pat) < 0)
		return session_bad(s, "syntax: LIST reference mailbox");
	if (!lsub && imap_p_sp(p) == 0) {
		ret = 0;
		if (imap_p_word(p, "RETURN") < 0 || imap_p_sp(p) < 0 || list_opts(p, &ret) < 0)
			return session_bad(s, "bad LIST return options");
		ret |= LR_CHILDREN | LR_SPECIAL;
	}
	if (!imap_p_end(p))
		return session_bad(s, "syntax: LIST reference mailbox");
	if (sel & LR_SUBSCRIBED)
		ret |= LR_SUBSCRIBED;
	struct list_ctx c = {s, lsub ? "LSUB" : "LIST", lsub ? LR_SPECIAL : ret};
	if (!lsub && pat.n == 0) {
		buf_puts(&s->io.out, "* LIST (\\Noselect) \".\" \"\"\r\n");
	} else if (folder_list(s->root, ref.p, ref.n, pat.p, pat.n,
				      lsub ? 2 : (sel & LR_SUBSCRIBED) ? 1 : 0,
			       list_one, &c) < 0) {
		return session_no_errno(s, c.verb, errno);
	}
	session_tagged(s, "OK", "%s completed", c.verb);
}

void cmd_list(struct session *s, struct imap_parser *p)
{
	do_list(s, p, 0);
}

void cmd_lsub(struct session *s, struct imap_parser *p)
{
	do_list(s, p, 1);
}

/* ---- STATUS ---- */

enum { SI_MESSAGES = 1, SI_RECENT = 2, SI_UIDNEXT = 4, SI_UIDVALIDITY = 8, SI_UNSEEN = 16,
       SI_HIGHESTMODSEQ = 32, SI_SIZE = 64 };
static const char *const status_names[] = {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY",
					   "UNSEEN", "HIGHESTMODSEQ", "SIZE"};

static int status_items(struct imap_parser *p, unsigned *items)
{
	struct imap_str a;
	if (imap_p_open(p) < 0)
		return -1;
	do {
		size_t i = 0;
		if (imap_p_atom(p, &a) < 0)
			return -1;
		while (i < 7 && !mem_caseeq(a.p, a.n, status_names[i], strlen(status_names[i])))
			i++;
		if (i == 7)
			return -1;
		*items |= 1u << i;
	} while (imap_p_sp(p) == 0);
	return imap_p_close(p);
}

void cmd_status(struct session *s, struct imap_parser *p)
{
	char *name = NULL;
	unsigned items = 0;
	if (imap_p_sp(p) < 0 || !(name = session_mailbox(p)) || imap_p_sp(p) < 0
	    || status_items(p, &items) < 0 || !imap_p_end(p)) {
		free(name);
		return session_bad(s, "syntax: STATUS mailbox (items)");
	}
	struct folder_status st;
	if (folder_status(s->root, name, &st) < 0) {
		session_no_errno(s, name, errno);
		free(name);
		return;
	}
	unsigned long long v[7] = {st.messages, st.recent, st.uidnext, st.uidvalidity, st.unseen,
				   st.highestmodseq, st.size};
	buf_puts(&s->io.out, "* STATUS ");
	imapfmt_astring(&s->io.out, name, strlen(name));
	buf_puts(&s->io.out, " (");
	int sp = 0;
	for (size_t i = 0; i < 7; i++)
		if (items & (1u << i)) {
			buf_printf(&s->io.out, "%s%s %llu", sp ? " " : "", status_names[i], v[i]);
			sp = 1;
		}
	buf_puts(&s->io.out, ")\r\n");
	free(name);
	session_tagged(s, "OK", "STATUS completed");
}

/* ---- APPEND ---- */

#define APPEND_KEYWORDS_MAX 32
struct append_flags {
	unsigned flags;
	const char *kw[APPEND_KEYWORDS_MAX];
	size_t kwlen[APPEND_KEYWORDS_MAX];
	size_t nkw;
};

static int append_flag(struct append_flags *f, const struct imap_str *a)
{
	if (a->p[0] == '\\') {
		unsigned bit = imap_sysflag(a->p, a->n);
		if (!bit || bit == MF_RECENT)
			return -1;
		f->flags |= bit;
		return 0;
	}
	if (!imap_is_keyword(a->p, a->n) || f->nkw == APPEND_KEYWORDS_MAX)
		return -1;
	f->kw[f->nkw] = a->p;
	f->kwlen[f->nkw++] = a->n;
	return 0;
}

static int append_flag_list(struct imap_parser *p, struct append_flags *f)
{
	struct imap_str a;
	if (imap_p_open(p) < 0)
		return -1;
	if (imap_p_close(p) == 0)
		return 0;
	do {
		if (imap_p_flag(p, &a) < 0 || append_flag(f, &a) < 0)
			return -1;
	} while (imap_p_sp(p) == 0);
	return imap_p_close(p);
}

static int append_args(struct imap_parser *p, struct append_flags *f, long long *date,
		       struct imap_str *data)
{
	if (imap_p_peek(p) == '(' && (append_flag_list(p, f) < 0 || imap_p_sp(p) < 0))
		return -1;
	if (imap_p_peek(p) == '"' && (imap_p_datetime(p, date) < 0 || imap_p_sp(p) < 0))
		return -1;
	if (imap_p_string(p, data) < 0 || !imap_p_end(p))
		return -1;
	return 0;
}

void cmd_append(struct session *s, struct imap_parser *p)
{
	char *name = NULL;
	struct append_flags f;
	struct imap_str data;
	long long date = 0;
	memset(&f, 0, sizeof f);
	if (imap_p_sp(p) < 0 || !(name = session_mailbox(p)) || imap_p_sp(p) < 0
	    || append_args(p, &f, &date, &data) < 0) {
		free(name);
		return session_bad(s, "syntax: APPEND mailbox [(flags)] [\"date-time\"] literal");
	}
	struct mbox_new m = {f.flags, f.kw, f.kwlen, f.nkw, date > 0 ? date : 0};
	unsigned long uidv, uid;
	if (data.n == 0) {
		session_tagged(s, "NO", "empty message");
	} else if (data.n > s->max_append) {
		session_tagged(s, "NO", "[TOOBIG] message too big");
	} else if (mbox_append(s->root, name, &m, data.p, data.n, &uidv, &uid) < 0) {
		if (errno == ENOENT)
			session_tagged(s, "NO", "[TRYCREATE] no such mailbox");
		else
			session_no_errno(s, name, errno);
	} else {
		session_tagged(s, "OK", "[APPENDUID %lu %lu] APPEND completed", uidv, uid);
	}
	free(name);
}

/* ---- CLOSE, UNSELECT, EXPUNGE ---- */

void cmd_close(struct session *s, struct imap_parser *p)
{
	if (!imap_p_end(p))
		return session_bad(s, "CLOSE takes no arguments");
	if (!mbox_readonly(s->mb)) {
		struct mbox_update up;
		memset(&up, 0, sizeof up);
		if (mbox_expunge(s->mb, NULL, 0, 1, &up) < 0)
			log_warn("user %s: CLOSE: expunge: %s", s->user, strerror(errno));
		mbox_update_free(&up);
	}
	deselect(s);
	session_tagged(s, "OK", "CLOSE completed");
}

void cmd_unselect(struct session *s, struct imap_parser *p)
{
	if (!imap_p_end(p))
		return session_bad(s, "UNSELECT takes no arguments");
	deselect(s);
	session_tagged(s, "OK", "UNSELECT completed");
}

/* UID EXPUNGE's set as the ascending UIDs of the messages in it. */
static int expunge_uids(struct session *s, struct imap_parser *p, unsigned long **uids, size_t *n)
{
	struct imap_seqset set;
	size_t *seqs;
	if (imap_p_sp(p) < 0 || imap_p_seqset(p, &set) < 0)
		return -1;
	int r = imap_p_end(p) ? session_seqs(s, &set, 1, &seqs, n) : -1;
	imap_seqset_free(&set);
	if (r < 0)
		return -1;
	*uids = xcalloc(*n ? *n : 1, sizeof **uids);
	for (size_t i = 0; i < *n; i++)
		(*uids)[i] = mbox_msg(s->mb, seqs[i])->uid;
	free(seqs);
	return 0;
}

void cmd_expunge(struct session *s, struct imap_parser *p)
{
	unsigned long *uids = NULL;
	size_t n = 0;
	if (s->uid ? expunge_uids(s, p, &uids, &n) < 0 : !imap_p_end(p))
		return session_bad(s, s->uid ? "syntax: UID EXPUNGE set" : "EXPUNGE takes no arguments");
	if (mbox_readonly(s->mb)) {
		free(uids);
		return session_tagged(s, "NO", "[READ-ONLY] mailbox is read-only");
	}
	struct mbox_update up;
	memset(&up, 0, sizeof up);
	if (mbox_expunge(s->mb, uids, n, 1, &up) < 0) {
		free(uids);
		mbox_update_free(&up);
		return session_no_errno(s, "EXPUNGE", errno);
	}
	free(uids);
	session_put_expunged(s, &up);
	mbox_update_free(&up);
	if (s->condstore)
		session_tagged(s, "OK", "[HIGHESTMODSEQ %llu] EXPUNGE completed",
			       mbox_highestmodseq(s->mb));
	else
		session_tagged(s, "OK", "EXPUNGE completed");
}
