/* password: crypt(3) password hashes for the users table.  posthorn user
 * add/passwd make them; later the POP3/IMAP/submission AUTH code checks
 * them.  yescrypt ("$y$") when libxcrypt offers it, else SHA-512-crypt. */
#ifndef POSTHORN_PASSWORD_H
#define POSTHORN_PASSWORD_H

#include <stddef.h>
#include "buf.h"

/* Hashes pw into out (reset first); 0 ok, -1 failure. */
int password_hash(const char *pw, size_t len, struct buf *out);
/* 1 if pw matches hash, 0 if not, -1 on a malformed hash. */
int password_check(const char *pw, size_t len, const char *hash);

#endif
