/* table: lookup tables stored as cdb files (tinycdb), built from text
 * files by makemap.  A lookup opens nothing per query once the table is
 * open; a rebuild is written to a temporary file, fsynced and renamed over
 * the old one, so a reader sees either the old or the new table, never a
 * half-written one.  Used by smtpd, enqueue, local and posthorn. */
#ifndef POSTHORN_TABLE_H
#define POSTHORN_TABLE_H

#include <cdb.h>
#include "buf.h"

struct table {
	int fd;		/* -1: the table file does not exist (empty table) */
	struct cdb cdb;
};

/* Opens path (a .cdb file).  A missing file is an empty table (returns 0);
 * other errors return -1 with errno. */
int table_open(struct table *t, const char *path);
void table_close(struct table *t);
/* 1 found (value in val), 0 not found, -1 error. */
int table_lookup(struct table *t, const char *key, size_t klen, struct buf *val);

/* Text table formats for makemap. */
enum table_format {
	TF_LIST,	/* one key per line: the value is empty */
	TF_MAP,		/* "key value" or "key: value", value may have spaces */
	TF_USERS,	/* address:hash:mailbox:quota (the users file) */
};

/* Builds cdb from a text file; keys are lowercased.  For TF_USERS the
 * value stored is "mailbox:quota" (no hash), and when pw_cdb is not NULL a
 * second table address -> hash is written there with mode pw_mode.
 * Returns 0, or -1 with a message (file:line) in err. */
int table_make(const char *text, const char *cdb, enum table_format f,
	       const char *pw_cdb, int pw_mode, struct buf *err);

#endif
