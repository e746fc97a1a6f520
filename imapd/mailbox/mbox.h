/* mbox.h: the mail store as the IMAP mailbox stage (libexec/imapd) sees
 * it: folders of one user's Maildir++ (folder.c), the selected folder as
 * one session's view of it (mbox.c: messages by sequence number, UIDs,
 * flags, keywords, MODSEQs, changes made by other sessions and by
 * delivery), writing messages (append.c: APPEND, COPY), the per-folder
 * cache of parsed structure (cache.c) and the change watch for IDLE
 * (watch.c).  The protocol side (session.c, the command files) uses only
 * this header for the store; the store knows nothing of IMAP syntax.
 *
 * Names given to these functions are IMAP mailbox names as the client
 * sends them (modified UTF-7, hierarchy separator '.', "INBOX" in any case
 * is the root Maildir); folder_name_check() is applied inside every call,
 * so a bad name can never reach the file system.  Errors: -1 with errno:
 * ENOENT no such folder, EEXIST it exists, EINVAL bad name, EACCES not
 * allowed (e.g. delete INBOX), ENOTEMPTY has children (DELETE of a
 * \Noselect parent), EDQUOT over quota, anything else an I/O error. */
#ifndef POSTHORN_IMAPD_MBOX_H
#define POSTHORN_IMAPD_MBOX_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* System flags. */
enum {
	MF_SEEN = 1, MF_ANSWERED = 2, MF_FLAGGED = 4, MF_DELETED = 8,
	MF_DRAFT = 16,
	MF_RECENT = 32		/* \Recent: this session was the first to see it */
};
#define MBOX_KEYWORDS_MAX 26	/* per folder (Maildir letters a..z) */
#define MBOX_KEYWORD_LEN 64	/* longest keyword name */
#define MBOX_NAME_MAX 255	/* longest mailbox name (bytes, mUTF-7) */

struct mbox_msg {
	unsigned long uid;
	unsigned flags;			/* MF_* */
	uint32_t keywords;		/* bit i: keyword i (mbox_keyword_name) */
	unsigned long long size;	/* RFC822.SIZE: octets with CRLF line ends */
	long long internaldate;		/* unix seconds (the file's mtime) */
	unsigned long long modseq;	/* CONDSTORE: last change of this message */
	int expunged;			/* gone, not yet reported to this session */
};

/* What changed since the session last looked (mbox_sync), in the order the
 * session reports it: first the EXPUNGEs (each value is the sequence number
 * to send at that moment, so they can be written out in order), then
 * EXISTS/RECENT when the count grew, then FETCH FLAGS for the sequence
 * numbers in changed (numbers valid after the expunges). */
struct mbox_update {
	unsigned long *expunged;	/* sequence numbers, report order */
	size_t nexpunged;
	unsigned long *expunged_uids;	/* the same messages' UIDs (QRESYNC/VANISHED) */
	int exists_changed;		/* send EXISTS (and RECENT) */
	unsigned long *changed;		/* sequence numbers with new flags */
	size_t nchanged;
	int keywords_changed;		/* send FLAGS and PERMANENTFLAGS */
};
void mbox_update_free(struct mbox_update *up);

struct mbox;	/* opaque: one selected folder as one session sees it */

/* ---- opening and state (mbox.c) ---- */

/* Opens folder name of the Maildir root for a session.  readonly: EXAMINE
 * (no \Recent claimed: messages nobody has claimed show as \Recent but
 * stay so for the next SELECT; no flag changes, no expunge).  Creates the folder's
 * index if missing.  0 ok, -1 errno. */
int mbox_open(const char *root, const char *name, int readonly, struct mbox **out);
void mbox_close(struct mbox *m);

size_t mbox_count(const struct mbox *m);	/* EXISTS */
size_t mbox_recent(const struct mbox *m);	/* RECENT */
/* Message by sequence number 1..mbox_count (NULL outside). */
const struct mbox_msg *mbox_msg(const struct mbox *m, size_t seq);
/* Sequence number of uid, 0 if not in the view.  For UID ranges:
 * mbox_seq_at_or_after(m, uid) is the first seq whose UID >= uid
 * (mbox_count + 1 if none); O(log n). */
size_t mbox_seq_of_uid(const struct mbox *m, unsigned long uid);
size_t mbox_seq_at_or_after(const struct mbox *m, unsigned long uid);
unsigned long mbox_uidvalidity(const struct mbox *m);
unsigned long mbox_uidnext(const struct mbox *m);
/* HIGHESTMODSEQ as far as the session has been told (after mbox_sync
 * with an update, or its own change): never ahead of an unreported
 * change. */
unsigned long long mbox_highestmodseq(const struct mbox *m);
size_t mbox_first_unseen(const struct mbox *m);		/* 0 if none */
int mbox_readonly(const struct mbox *m);

/* Keywords of this folder, in index order (at most MBOX_KEYWORDS_MAX). */
size_t mbox_keyword_count(const struct mbox *m);
const char *mbox_keyword_name(const struct mbox *m, size_t i);
/* Index of a keyword (case-insensitive); create: add it when missing.
 * -1 unknown (or the folder's 26 slots are full, errno ENOSPC). */
int mbox_keyword_find(struct mbox *m, const char *name, size_t n, int create);

/* Brings the view up to date with the folder (deliveries, other sessions,
 * files added or removed behind the server's back).  allow_expunge = 0
 * while a FETCH, STORE or SEARCH (non-UID) runs: expunged messages stay in
 * the view, marked expunged, until a later sync may report them
 * (RFC 3501 7.4.1).  up may be NULL (changes are then kept for the next
 * call).  Cheap when nothing changed (no directory rescan: stamps).
 * 0 ok, -1 errno.  errno ESTALE (also from mbox_map, mbox_store,
 * mbox_expunge, mbox_copy, mbox_keyword_find): the folder's index was
 * rebuilt with a new UIDVALIDITY (removed or damaged behind our back);
 * the view's UIDs now name other messages, so the store refuses to use
 * it: the session should end with "* BYE" (RFC 3501 2.3.1.1). */
int mbox_sync(struct mbox *m, int allow_expunge, struct mbox_update *up);
/* 1 (errno ESTALE) when the view is stale as above, else 0. */
int mbox_stale(const struct mbox *m);

/* ---- message content (mbox.c) ---- */

/* Maps message seq read-only: the stored bytes (LF line ends; CRLF also
 * possible in files written by other programs).  0 ok, -1 errno (ENOENT:
 * expunged behind our back).  mbox_unmap releases it. */
int mbox_map(struct mbox *m, size_t seq, const char **data, size_t *len);
void mbox_unmap(const char *data, size_t len);

/* ---- flags (mbox.c) ---- */

enum mbox_store_op { MBOX_STORE_SET, MBOX_STORE_ADD, MBOX_STORE_REMOVE };

/* Changes the flags of the messages seqs[0..n) (MF_RECENT is ignored).
 * unchangedsince: 0 none, else CONDSTORE's UNCHANGEDSINCE: a message with a
 * higher modseq is not changed and its seq goes into failed (caller
 * frees; may be NULL when unchangedsince is 0).  A message whose flags
 * end up the same keeps its modseq.  All changes are written to the index
 * at once (one write, not one per message).  0 ok, -1 errno. */
int mbox_store(struct mbox *m, const size_t *seqs, size_t n, enum mbox_store_op op,
	       unsigned flags, uint32_t keywords, unsigned long long unchangedsince,
	       size_t **failed, size_t *nfailed);

/* EXPUNGE / UID EXPUNGE / CLOSE / MOVE's removal: removes the messages
 * that have \Deleted and, when uids is not NULL, whose UID is in uids
 * (sorted ascending); with deleted_only = 0, the messages in uids whatever
 * their flags (MOVE).  The expunged messages go into up->expunged in
 * report order (appended: up must be zeroed, or hold earlier entries);
 * the quota (maildirsize) is adjusted.  0 ok, -1 errno. */
int mbox_expunge(struct mbox *m, const unsigned long *uids, size_t nuids,
		 int deleted_only, struct mbox_update *up);

/* ---- writing messages (append.c) ---- */

struct mbox_new {
	unsigned flags;			/* MF_* (MF_RECENT ignored) */
	const char *const *keywords;	/* names, created in the folder */
	const size_t *keyword_lens;
	size_t nkeywords;
	long long internaldate;		/* 0: now */
};

/* APPEND: writes data (as the client sent it: CRLF line ends, stored with
 * LF) as a new message of folder name: tmp, fsync, link into cur/ (new/
 * would make it \Recent for nobody), fsync, and gives it its UID at once
 * (under the index lock), so APPENDUID can be answered.  Quota: EDQUOT.
 * 0 ok, -1 errno. */
int mbox_append(const char *root, const char *name, const struct mbox_new *msg,
		const char *data, size_t len, unsigned long *uidvalidity,
		unsigned long *uid);

/* COPY / MOVE's copy: the messages seqs[0..n) of the selected folder into
 * folder name, flags and keywords kept (by name), internaldate kept;
 * hard links where possible.  dst_uids (n entries, caller's) receives the
 * new UIDs in the same order.  All or nothing: on failure no copy is left.
 * 0 ok, -1 errno (ENOENT: no such destination -> [TRYCREATE]). */
int mbox_copy(struct mbox *m, const size_t *seqs, size_t n, const char *name,
	      unsigned long *uidvalidity, unsigned long *dst_uids);

/* ---- parsed-structure cache (cache.c) ---- */

enum mbox_cache_field {
	MBOX_CACHE_ENVELOPE, MBOX_CACHE_BODYSTRUCTURE, MBOX_CACHE_BODY,
	MBOX_CACHE_FIELDS	/* number of fields */
};
/* 1 hit (value appended to out), 0 miss. */
int mbox_cache_get(struct mbox *m, size_t seq, enum mbox_cache_field f, struct buf *out);
/* Stores a value computed by the caller (best effort: errors ignored). */
void mbox_cache_put(struct mbox *m, size_t seq, enum mbox_cache_field f,
		    const char *value, size_t len);

/* ---- IDLE (watch.c) ---- */

/* An fd that becomes readable when the folder may have changed (a
 * delivery, another session's flag change or expunge); the caller then
 * calls mbox_watch_drain and mbox_sync.  -1 if none can be had (the caller
 * then re-syncs on a timer). */
int mbox_watch_fd(struct mbox *m);
void mbox_watch_drain(struct mbox *m);

/* ---- folders (folder.c) ---- */

/* 0 if name is a valid mailbox name (see the top of this file): valid
 * modified UTF-7, no '/', no empty hierarchy level, no level "." or "..",
 * no control bytes, at most MBOX_NAME_MAX bytes.  -1 otherwise. */
int folder_name_check(const char *name, size_t n);

int folder_create(const char *root, const char *name);
int folder_delete(const char *root, const char *name);
int folder_rename(const char *root, const char *from, const char *to);
int folder_subscribe(const char *root, const char *name, int on);

/* The special-use folders (Sent, Drafts, Trash, Junk, Archive) are created
 * once per user, on the first IMAP login (a user who deletes one does not
 * get it back). */
int folder_init_special(const char *root);

enum {
	FA_NOSELECT = 1, FA_NONEXISTENT = 2, FA_HASCHILDREN = 4,
	FA_HASNOCHILDREN = 8, FA_SUBSCRIBED = 16, FA_NOINFERIORS = 32,
	FA_SENT = 64, FA_DRAFTS = 128, FA_TRASH = 256, FA_JUNK = 512,
	FA_ARCHIVE = 1024, FA_MARKED = 2048, FA_UNMARKED = 4096
};
struct folder_entry {
	const char *name;	/* mUTF-7 IMAP name */
	unsigned attrs;		/* FA_* */
};
/* LIST / LSUB: every folder matching reference + pattern ('*', '%' as RFC
 * 3501 6.3.8), INBOX first; subscribed_only for LSUB (and LIST
 * (SUBSCRIBED)).  subscribed_only = 2 is LSUB's rule on top (RFC 3501
 * 6.3.9): a superior of a subscribed name, not subscribed itself, that
 * the pattern matches where the name does not ("%" and "a.b") comes with
 * FA_NOSELECT and without FA_SUBSCRIBED.  Calls fn for each; stops early
 * when fn returns nonzero.  0 ok, -1 errno. */
int folder_list(const char *root, const char *reference, size_t rlen,
		const char *pattern, size_t plen, int subscribed_only,
		int (*fn)(const struct folder_entry *e, void *arg), void *arg);

/* STATUS without selecting (cheap: reads the index, not the messages). */
struct folder_status {
	size_t messages, recent, unseen;
	unsigned long uidnext, uidvalidity;
	unsigned long long highestmodseq;
	unsigned long long size;	/* sum of RFC822.SIZE (STATUS SIZE) */
};
int folder_status(const char *root, const char *name, struct folder_status *st);

#endif
