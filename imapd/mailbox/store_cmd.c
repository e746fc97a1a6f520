/* store_cmd.c: imapd's STORE (FLAGS, +FLAGS, -FLAGS, .SILENT, CONDSTORE's
 * UNCHANGEDSINCE and [MODIFIED]), COPY (UIDPLUS COPYUID, [TRYCREATE]) and
 * MOVE (RFC 6851), with their UID forms. */
#include "imapd.h"
#include "mbox.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A set argument as sorted sequence numbers; -1 answered BAD. */
static int set_arg(struct session *s, struct imap_parser *p, size_t **seqs, size_t *n)
{
	struct imap_seqset set;
	if (imap_p_sp(p) < 0 || imap_p_seqset(p, &set) < 0) {
		session_bad(s, "bad sequence set");
		return -1;
	}
	int r = session_seqs(s, &set, s->uid, seqs, n);
	imap_seqset_free(&set);
	if (r < 0)
		session_bad(s, "invalid message sequence number");
	return r;
}

/* " (UNCHANGEDSINCE n)" then " [+-]FLAGS[.SILENT] " */
static int store_mode(struct imap_parser *p, unsigned long long *since, enum mbox_store_op *op,
		      int *silent)
{
	if (imap_p_sp(p) < 0)
		return -1;
	if (imap_p_peek(p) == '(') {
		if (imap_p_open(p) < 0 || imap_p_word(p, "UNCHANGEDSINCE") < 0 || imap_p_sp(p) < 0
		    || imap_p_number(p, since) < 0 || imap_p_close(p) < 0 || imap_p_sp(p) < 0)
			return -1;
		if (*since == 0)
			*since = 0x7fffffffffffffffULL + 1;	/* nothing is unchanged since 0 */
	}
	*op = imap_p_char(p, '+') == 0 ? MBOX_STORE_ADD
	    : imap_p_char(p, '-') == 0 ? MBOX_STORE_REMOVE : MBOX_STORE_SET;
	if (imap_p_word(p, "FLAGS.SILENT") == 0)
		*silent = 1;
	else if (imap_p_word(p, "FLAGS") < 0)
		return -1;
	return imap_p_sp(p);
}

static int in_list(const size_t *v, size_t n, size_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return 1;
	return 0;
}

static void store_replies(struct session *s, const size_t *seqs, size_t n, const size_t *failed,
			  size_t nfailed, int silent)
{
	/* .SILENT still reports the new MODSEQ under CONDSTORE (RFC 7162 3.1.3) */
	for (size_t i = 0; i < n && (!silent || s->condstore); i++) {
		const struct mbox_msg *m = mbox_msg(s->mb, seqs[i]);
		if (!m || m->expunged || in_list(failed, nfailed, seqs[i]))
			continue;
		buf_printf(&s->io.out, "* %zu FETCH (", seqs[i]);
		if (s->uid)
			buf_printf(&s->io.out, "UID %lu ", m->uid);
		if (s->condstore)
			buf_printf(&s->io.out, "MODSEQ (%llu)%s", m->modseq, silent ? "" : " ");
		if (!silent) {
			buf_puts(&s->io.out, "FLAGS ");
			session_put_flags(s, m);
		}
		buf_puts(&s->io.out, ")\r\n");
		session_maybe_flush(s);
	}
	if (!nfailed)
		return session_tagged(s, "OK", "STORE completed");
	unsigned long *v = xcalloc(nfailed, sizeof *v);
	for (size_t i = 0; i < nfailed; i++)
		v[i] = s->uid ? mbox_msg(s->mb, failed[i])->uid : failed[i];
	struct buf set = BUF_INIT;
	session_put_set(&set, v, nfailed);
	session_tagged(s, "OK", "[MODIFIED %s] conditional STORE failed", buf_cstr(&set));
	buf_free(&set);
	free(v);
}

void cmd_store(struct session *s, struct imap_parser *p)
{
	size_t *seqs, n, *failed = NULL, nfailed = 0;
	unsigned long long since = 0;
	enum mbox_store_op op;
	int silent = 0;
	unsigned flags;
	uint32_t kw;
	if (set_arg(s, p, &seqs, &n) < 0)
		return;
	if (store_mode(p, &since, &op, &silent) < 0) {
		free(seqs);
		return session_bad(s, "syntax: STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] (flags)");
	}
	int fr = session_flags(s, p, op != MBOX_STORE_REMOVE && !mbox_readonly(s->mb), &flags, &kw);
	if (fr == -2) {
		free(seqs);
		return session_tagged(s, "NO", "[LIMIT] too many keywords in this mailbox");
	}
	if (fr == -1 || !imap_p_end(p)) {
		free(seqs);
		return session_bad(s, "bad flag list");
	}
	if (since)
		s->condstore = 1;
	if (mbox_readonly(s->mb)) {
		free(seqs);
		return session_tagged(s, "NO", "[READ-ONLY] mailbox is read-only");
	}
	if (n && mbox_store(s->mb, seqs, n, op, flags, kw, since == 0 ? 0 : since, &failed,
			    &nfailed) < 0) {
		free(seqs);
		return session_no_errno(s, "STORE", errno);
	}
	store_replies(s, seqs, n, failed, nfailed, silent);
	free(failed);
	free(seqs);
}

/* ---- COPY, MOVE ---- */

/* Copies; on success puts "[COPYUID v src dst]" into code. 0 ok, -1 answered. */
static int do_copy(struct session *s, const size_t *seqs, size_t n, const char *name,
		   struct buf *code)
{
	unsigned long uidv, *src = xcalloc(n ? n : 1, sizeof *src), *dst = xcalloc(n ? n : 1, sizeof *dst);
	int rc = 0;
	if (n && mbox_copy(s->mb, seqs, n, name, &uidv, dst) < 0) {
		if (errno == ENOENT)
			session_tagged(s, "NO", "[TRYCREATE] no such mailbox");
		else
			session_no_errno(s, name, errno);
		rc = -1;
	} else if (n) {
		for (size_t i = 0; i < n; i++)
			src[i] = mbox_msg(s->mb, seqs[i])->uid;
		buf_printf(code, "[COPYUID %lu ", uidv);
		session_put_set(code, src, n);
		buf_putc(code, ' ');
		session_put_set(code, dst, n);	/* dst in the same order: ascending too */
		buf_puts(code, "] ");
	}
	free(src);
	free(dst);
	return rc;
}

/* MOVE after the copy: COPYUID untagged, then the expunges (RFC 6851 3.3). */
static void finish_move(struct session *s, const size_t *seqs, size_t n, struct buf *code)
{
	if (n) {
		unsigned long *uids = xcalloc(n, sizeof *uids);
		for (size_t i = 0; i < n; i++)
			uids[i] = mbox_msg(s->mb, seqs[i])->uid;
		struct mbox_update up;
		memset(&up, 0, sizeof up);
		buf_truncate(code, code->len - 1);
		buf_printf(&s->io.out, "* OK %s\r\n", buf_cstr(code));
		if (mbox_expunge(s->mb, uids, n, 0, &up) < 0)
			log_warn("user %s: MOVE: expunge: %s", s->user, strerror(errno));
		session_put_expunged(s, &up);
		mbox_update_free(&up);
		free(uids);
	}
	session_tagged(s, "OK", "MOVE completed");
}

static void copy_or_move(struct session *s, struct imap_parser *p, int move)
{
	size_t *seqs, n;
	char *name = NULL;
	if (set_arg(s, p, &seqs, &n) < 0)
		return;
	if (imap_p_sp(p) < 0 || !(name = session_mailbox(p)) || !imap_p_end(p)) {
		free(seqs);
		free(name);
		return session_bad(s, move ? "syntax: MOVE set mailbox" : "syntax: COPY set mailbox");
	}
	struct buf code = BUF_INIT;
	if (move && mbox_readonly(s->mb))
		session_tagged(s, "NO", "[READ-ONLY] mailbox is read-only");
	else if (do_copy(s, seqs, n, name, &code) < 0)
		;	/* answered */
	else if (!move)
		session_tagged(s, "OK", "%sCOPY completed", buf_cstr(&code));
	else
		finish_move(s, seqs, n, &code);
	buf_free(&code);
	free(name);
	free(seqs);
}

void cmd_copy(struct session *s, struct imap_parser *p)
{
	copy_or_move(s, p, 0);
}

void cmd_move(struct session *s, struct imap_parser *p)
{
	copy_or_move(s, p, 1);
}
