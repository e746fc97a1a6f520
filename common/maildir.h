/* maildir: Maildir and Maildir++ mailboxes.  Writing: crash-safe delivery
 * (tmp/NAME, fsync, link to new/NAME, unlink, fsync new/), deterministic
 * names for queued mail so a repeated delivery finds its earlier copy, and
 * Maildir++ "maildirsize" quota accounting.  Reading (pop3d, imapd): the
 * parts of a file name (S= size, :2, flags), folder paths and the same
 * quota bookkeeping for expunges.  Used by local now, pop3d and imapd later.
 *
 * A Maildir here is a directory with tmp/, new/ and cur/; Maildir++
 * folders are subdirectories ".Name" (hierarchy separated by '.') of the
 * root Maildir, each a Maildir itself. */
#ifndef POSTHORN_MAILDIR_H
#define POSTHORN_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"

/* maildir_deliver results; -1 is an error with errno set. */
enum { MD_DELIVERED = 0, MD_EXISTS = 1 };

/* Maildir++: the maildirsize file is recalculated once it grows past this,
 * and, when over quota, once it is older than MD_QUOTA_STALE seconds. */
#define MD_QUOTA_FILE_MAX 5120
#define MD_QUOTA_STALE (15 * 60)

/* What a delivery writes: head bytes (the added header lines), then len
 * bytes of fd starting at off (the message, never read whole into memory). */
struct maildir_source {
	const char *head;
	size_t head_len;
	int fd;
	off_t off;
	unsigned long long len;
};

struct maildir_usage {
	long long bytes;
	long long count;
};

/* Creates dir and its tmp/, new/, cur/ where missing (mode 0700) and
 * fsyncs the directories whose entries changed.  0 ok, -1 errno. */
int maildir_make(const char *dir);

/* The host part of a file name: '/' -> "\057", ':' -> "\072". */
void maildir_host_part(const char *host, size_t n, struct buf *out);
/* Names are NUL-terminated (out->s is a C string).
 * Deterministic name of one queued message for one recipient:
 * "<arrival>.Q<qid>X<index>.<host>,S=<size>". */
void maildir_queue_name(struct buf *out, long long arrival, const char *qid,
			unsigned long index, const char *host, unsigned long long size);
/* A fresh unique name for other writers (IMAP APPEND, COPY):
 * "<sec>.M<usec>P<pid>C<counter>.<host>,S=<size>". */
void maildir_unique_name(struct buf *out, const char *host, unsigned long long size);

/* 1 if a message called name is in new/ or, with any flags, in cur/;
 * 0 if not; -1 error (errno). */
int maildir_has(const char *dir, const char *name);
/* Delivers src into dir as name: MD_DELIVERED, MD_EXISTS (an earlier
 * attempt already delivered it: success) or -1 (errno; ENODATA: the source
 * ended early).  Nothing is left in tmp/ on failure. */
int maildir_deliver(const char *dir, const char *name, const struct maildir_source *src);

/* Name parsing for readers.  Base: the name without ":2,flags". */
size_t maildir_name_base(const char *name, size_t n);
/* The S= size: 0 found, -1 none. */
int maildir_name_size(const char *name, size_t n, unsigned long long *size);
/* Flags after ":2,", or NULL when the name has no info part. */
const char *maildir_name_flags(const char *name, size_t n, size_t *flen);
/* Moves sub/name ("new" or "cur") to cur/BASE:2,FLAGS with flags sorted
 * and de-duplicated (letters only): what a reader does when it has seen a
 * message or changes its flags.  The new name goes to newname.  0 ok, -1
 * errno (EINVAL: bad flags or sub). */
int maildir_set_flags(const char *dir, const char *sub, const char *name,
		      const char *flags, struct buf *newname);
/* Path of a Maildir++ folder: root itself for "" or "INBOX", otherwise
 * root/.NAME.  Refuses names with '/', NUL, control bytes, empty
 * components or a leading '.': 0 ok, -1 invalid. */
int maildir_folder_path(const char *root, const char *folder, size_t flen, struct buf *out);

/* Quota.  limit: bytes, 0 = no quota.  maildir_quota_usage reads
 * maildirsize, recalculating it (scan of every folder) when it is missing,
 * too big, malformed or holds another limit; 0 ok, -1 errno. */
int maildir_quota_usage(const char *dir, unsigned long long limit, struct maildir_usage *u);
/* 1 if add more bytes fit under limit (always with limit 0), 0 over
 * quota, -1 error (errno). */
int maildir_quota_check(const char *dir, unsigned long long limit, unsigned long long add);
/* Appends "<bytes> <count>" (negative for removals); 0 ok, -1 errno.
 * A missing maildirsize is left missing (the next check recalculates). */
int maildir_quota_add(const char *dir, long long bytes, long long count);
/* Scans every folder and rewrites maildirsize atomically. */
int maildir_quota_recalc(const char *dir, unsigned long long limit, struct maildir_usage *u);

#endif
