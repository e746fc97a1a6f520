/* uidlist: the persistent index of one Maildir folder, shared by pop3d
 * (UIDL, sizes) and imapd (UIDs, UIDVALIDITY, flags).  It lives in the
 * folder as "posthorn-uidlist":
 *
 *     posthorn-uidlist 2 V<uidvalidity> N<next uid> <new stamp> <cur stamp>
 *         M<highest modseq> R<recent up to uid> G<generation>
 *     <uid> <crlf size> <file size> <n|c> <modseq> <mtime> <file name>
 *     ...                            (ascending uid)
 *
 * (the header is one line).  Changes are not written by rewriting the
 * list: they are appended to the change log "posthorn-uidlist.log",
 *
 *     posthorn-uidlist-log G<generation of the list it extends>
 *     + <uid> <crlf size> <file size> <n|c> <modseq> <mtime> <name>   (new)
 *     = <uid> <n|c> <modseq> <name>                (renamed: flags changed)
 *     - <uid>                                      (removed)
 *     H <next uid> <modseq> <recent uid> <new stamp> <cur stamp>
 *
 * one batch (ending with its H line) per locked update, fdatasync'ed
 * unless it only records stamps or the \Recent mark (hints);
 * every reader applies the lines after the offset it last read (a list
 * file that did not change is not read again).  When the log outgrows a
 * quarter of the list (or 256 KiB, whichever is larger), the writer folds
 * it: a new list with the next generation, then an empty log of that
 * generation (a log of another generation than the list is stale and
 * ignored, so a crash between the two loses nothing).  A torn last line
 * (a writer that died) is cut off by the next writer.
 *
 * Version 1 (no M, R, G, modseq, mtime: pop3d before imapd) is still
 * read: its UIDs and UIDVALIDITY are kept, every message gets modseq 1 and
 * its file's mtime, and the list is written again as version 2.  The
 * modseq (IMAP CONDSTORE) of a message is raised when it appears or its
 * file name changes (a flag change, ours or another reader's); the
 * highest modseq also rises on every expunge.  R is the \Recent mark:
 * messages above it have not been seen by an IMAP session yet (the first
 * read-write session to sync claims them).
 *
 * A message's UID is given once, when the message is first seen, and never
 * changes while the file exists (its base name, the part before ":2,", is
 * the identity: a flag change renames the file but keeps the UID).  The
 * CRLF size (the octets a POP3 RETR or IMAP FETCH sends: every LF as CRLF,
 * and a last line without a line end completed with one) is computed
 * once, by reading the file when it is first listed.  Flags are not
 * stored: they are the file name's ":2,FLAGS" part (maildir_name_flags).
 *
 * Every update holds an flock on "posthorn-uidlist.lock" (which also keeps
 * the last UIDVALIDITY given, so a rebuilt list always gets a new one).  A
 * sync re-reads new/ or cur/ only when its mtime differs from its stamp (a
 * directory changed within the last 100 ms, 2 s on a file system without
 * sub-second times, is stamped 0, so a change in the same clock tick is
 * not missed; uidlist_touched_cur is the exception, for the caller's own
 * change under the lock); it never re-reads or re-stats a message that is
 * already listed. */
#ifndef POSTHORN_UIDLIST_H
#define POSTHORN_UIDLIST_H

#include <stddef.h>
#include "buf.h"

#define UIDLIST_FILE "posthorn-uidlist"
#define UIDLIST_LOCK "posthorn-uidlist.lock"
#define UIDLIST_LOG "posthorn-uidlist.log"
/* A message file name longer than this is ignored (not listed). */
#define UIDLIST_NAME_MAX 255

struct uid_msg {
	unsigned long uid;
	unsigned long long size;	/* octets with CRLF line ends, last line ended */
	unsigned long long fsize;	/* octets on disk (quota) */
	unsigned long long modseq;	/* last change (CONDSTORE) */
	long long mtime;		/* file mtime, seconds (IMAP INTERNALDATE) */
	char sub;			/* 'n': new/, 'c': cur/ */
	char *name;			/* current file name in sub/: kept by the
					 * list, valid until the next call that
					 * changes it */
};

struct name_chunk;

struct uidlist {
	char *dir;			/* the folder (has new/, cur/) */
	unsigned long uidvalidity, next_uid;
	struct uid_msg *msgs;		/* ascending uid */
	size_t n, cap;
	long long stamp_new, stamp_cur;	/* mtimes (ns) the list matches */
	unsigned long long modseq;	/* highest modseq of the folder */
	unsigned long recent_uid;	/* \Recent claimed up to this uid */
	int lock_fd;
	int changed;			/* the last sync changed the list */
	int version;			/* of the file last read (1 or 2) */
	int cur_clean;			/* cur/ unchanged since the last scan */
	unsigned long long gen;		/* generation of the list file */
	unsigned long long mem_gen;	/* bumped on every change in memory */
	unsigned long long mod_gen;	/* bumped when a listed message changes or
					 * goes (not for additions at the end) */
	/* the change log as read: its inode, the end of its last whole line,
	 * whether it extends the list read (same generation) */
	unsigned long long log_ino;
	size_t log_off;
	int log_ok;
	int need_fold;			/* write a whole new list next time */
	struct buf pending;		/* log lines of the current update */
	size_t holes;			/* removed entries (name NULL) not yet compacted */
	struct name_chunk *names;	/* the names, in chunks (no malloc each) */
	size_t name_live, name_garbage;	/* bytes in use, bytes of old names */
	/* Set by the caller: a refresh claims the unclaimed messages and
	 * reports the claimed uid range (claim_lo, claim_hi] (empty: equal). */
	int claim_recent;
	unsigned long claim_lo, claim_hi;
	/* The file as last read or written: a refresh does not re-read an
	 * unchanged file. */
	int loaded;
	unsigned long long file_dev, file_ino, file_size;
	long long file_mtime;
};

/* Sets up u for the folder dir (nothing read yet). */
void uidlist_init(struct uidlist *u, const char *dir);
void uidlist_free(struct uidlist *u);

/* Brings the list up to date with the folder: lock, read the file, scan
 * new/ and cur/ if they changed, save if anything changed, unlock.
 * 0 ok, -1 errno (the list in memory is then unreliable). */
int uidlist_sync(struct uidlist *u);

/* Removes the messages with these uids from the folder and the list (under
 * the lock, after a sync so current file names are used).  A message
 * already gone is not an error.  removed/bytes: what was unlinked (file
 * sizes, for maildir_quota_add).  0 ok, -1 errno. */
int uidlist_expunge(struct uidlist *u, const unsigned long *uids, size_t nuids,
		    long long *removed, long long *bytes);

/* The same steps for a caller that changes the folder itself (imapd):
 * uidlist_begin takes the lock and brings the list up to date;
 * uidlist_end saves it when u->changed and releases the lock (0 ok, -1
 * errno; the lock is released in every case). */
int uidlist_begin(struct uidlist *u);
int uidlist_end(struct uidlist *u);
/* Under the lock: lists a file the caller has just put into sub/ ('n' or
 * 'c') with the next UID and a new modseq; NULL when UIDs ran out.
 * Takes over nothing: name is copied. */
struct uid_msg *uidlist_add(struct uidlist *u, char sub, const char *name,
			    unsigned long long size, unsigned long long fsize, long long mtime);
/* Under the lock: the caller renamed or added entries of cur/ itself
 * after uidlist_begin.  If the list matched cur/ before, the new mtime of
 * cur/ is taken as the stamp, so the caller's own change does not cost the
 * next sync a rescan of cur/. */
void uidlist_touched_cur(struct uidlist *u);
/* Under the lock: removes one listed message from the list (the caller has
 * unlinked its file) and raises the folder's modseq.  Until uidlist_end
 * the entry stays in msgs with name NULL (uidlist_find skips it). */
void uidlist_remove(struct uidlist *u, struct uid_msg *m);
/* Under the lock: the caller renamed m's file to sub/name (a flag
 * change): the list follows, with a new modseq. */
void uidlist_rename(struct uidlist *u, struct uid_msg *m, char sub, const char *name);

/* The message with this uid, or NULL. */
struct uid_msg *uidlist_find(const struct uidlist *u, unsigned long uid);

/* Path of a listed message: dir/new/NAME or dir/cur/NAME. */
void uidlist_path(const struct uidlist *u, const struct uid_msg *m, struct buf *out);

/* CRLF size of a byte range fed in pieces: each LF not preceded by CR
 * counts two.  *prev_cr carries the last byte's state between pieces. */
unsigned long long uidlist_crlf_count(const char *p, size_t n, int *prev_cr);

/* Parses the list file's text into u (replacing its messages): 0 ok, -1
 * malformed (u is then emptied).  Exposed for the unit tests and fuzzing. */
int uidlist_parse(struct uidlist *u, const char *text, size_t len);
/* The file's text for u. */
void uidlist_format(const struct uidlist *u, struct buf *out);
/* Applies change-log text (from its first line, the header) to a list
 * parsed with uidlist_parse: for the unit tests and fuzzing. */
void uidlist_apply_log(struct uidlist *u, const char *text, size_t len);

#endif
