/* mboxpriv.h: what the store's files (folder.c, mbox.c, append.c,
 * cache.c, watch.c, kwfile.c) share behind mbox.h; the protocol side
 * never includes it.
 *
 * Flags live in the Maildir file names (":2," then S R F T D and the
 * keyword letters a..z); keyword letters map to names through the
 * folder's "posthorn-keywords" file (lines "<index> <name>", as
 * Dovecot's dovecot-keywords), written under the folder's index lock.
 * UIDs, modseqs, sizes and dates are in the folder's uidlist (common/
 * uidlist.h, version 2). */
#ifndef POSTHORN_IMAPD_MBOXPRIV_H
#define POSTHORN_IMAPD_MBOXPRIV_H

#include "mbox.h"
#include "uidlist.h"

#define KEYWORDS_FILE "posthorn-keywords"
#define CACHE_FILE "posthorn-cache"
#define SUBSCRIPTIONS_FILE "subscriptions"
#define SPECIAL_DONE_FILE "posthorn-special"

struct kwlist {
	char names[MBOX_KEYWORDS_MAX][MBOX_KEYWORD_LEN + 1];
	size_t n;
	/* identity of the file as last read: an unchanged file is not re-read */
	unsigned long long ino, size;
	long long mtime;
};

struct mbox_cache;

struct mbox {
	char *root;		/* the user's Maildir */
	char *dir;		/* this folder's Maildir */
	int readonly;
	struct uidlist ul;	/* the folder's index as last read */
	struct mbox_msg *v;	/* the view: what this session has been told */
	unsigned char *chg;	/* v[i] got new flags not yet reported */
	size_t n, cap;
	size_t nrecent;
	unsigned long uidvalidity;
	unsigned long long hms;	/* HIGHESTMODSEQ as the session knows it */
	int exists_pending;	/* the count grew, not yet reported */
	int expunge_pending;	/* the view holds messages marked expunged */
	size_t kw_reported;	/* keywords the session has been told of */
	struct kwlist kw;
	/* the index state (uidlist mem_gen, mod_gen) the view was last
	 * compared with */
	unsigned long long seen_gen, seen_mod;
	struct mbox_cache *cache;
	int watch_fd;
	struct mbox *next_open;	/* the process's open folders */
};

/* The index of an open folder with this directory, or NULL (APPEND and
 * COPY into the selected folder use the session's own index). */
struct uidlist *mbox_open_list(const char *dir);

/* Folder name -> the folder's directory: EINVAL for a bad name.
 * INBOX (any case) is root itself; "inbox.x" is "INBOX.x". */
int folder_dir(const char *root, const char *name, struct buf *out);
/* 1 if dir is a Maildir (has cur/), 0 if not. */
int folder_exists(const char *dir);

/* Flags of a message file name (":2," part). */
void name_flags(const char *name, unsigned *flags, uint32_t *kw);
/* The ":2," letters for flags and keywords; letters of the old name that
 * posthorn does not know (e.g. P, passed) are kept. */
void name_letters(const char *oldname, unsigned flags, uint32_t kw, struct buf *out);

/* Keywords file (kwfile.c).  kw_load re-reads when it changed: 1 changed,
 * 0 same, -1 error.  kw_index: -1 when unknown.  kw_add: under the index
 * lock; re-reads, adds name when missing, writes; index or -1 (ENOSPC). */
int kw_load(const char *dir, struct kwlist *k);
int kw_index(const struct kwlist *k, const char *name, size_t n);
int kw_add(const char *dir, struct kwlist *k, const char *name, size_t n);
/* A keyword name as IMAP allows it (atom characters, no '\'). */
int kw_name_ok(const char *name, size_t n);

/* The user's quota in bytes (0: none): POSTHORN_QUOTA, else the limit
 * line of ROOT/maildirsize. */
unsigned long long quota_limit(const char *root);

/* CRLF size of message bytes as stored (what uidlist computes). */
unsigned long long crlf_size(const char *p, size_t n);

/* cache.c */
void cache_close(struct mbox_cache *c);
/* Makes the next get look at the file again (other sessions' records). */
void cache_stale(struct mbox_cache *c);
/* Drops the entries of messages no longer in the folder when most of the
 * file is garbage (called after an expunge, under no lock). */
void cache_compact(struct mbox *m);

/* watch.c */
void watch_close(struct mbox *m);

#endif
