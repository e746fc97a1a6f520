/* posthorn.h: what the command groups of bin/posthorn share: the command
 * entry points called by main.c, and the instance helpers (paths, service
 * accounts, daemon copies) used by init, start and user.  Each cmd_*
 * function gets argv[0] = its command word and returns the exit code. */
#ifndef POSTHORN_POSTHORN_H
#define POSTHORN_POSTHORN_H

#include <sys/types.h>
#include "buf.h"
#include "config.h"

/* init.c */
int cmd_init(int argc, char **argv);
/* service.c: start, stop, reload, status */
int cmd_start(const struct config *cfg, int argc, char **argv);
int cmd_stop(const struct config *cfg, int argc, char **argv);
int cmd_reload(const struct config *cfg, int argc, char **argv);
int cmd_status(const struct config *cfg, int argc, char **argv);
/* user.c: user add | passwd | del */
int cmd_user(const struct config *cfg, int argc, char **argv);
/* check.c: config, tables, owners and modes, TLS files */
int cmd_check(const struct config *cfg, int argc, char **argv);
/* makemap.c */
int cmd_makemap(const struct config *cfg, int argc, char **argv);
/* Rebuilds every table of the instance; 0 ok, -1 (message printed). */
int makemap_all(const struct config *cfg);
/* tls_init.c: etc/tls/ CA, key and certificate (init), tls renew */
int tls_init_instance(const struct config *cfg);
int cmd_tls(const struct config *cfg, int argc, char **argv);
/* queue.c (the queue engineer's): flush, queue show|delete|list */
int cmd_flush(const struct config *cfg, int argc, char **argv);
int cmd_queue(const struct config *cfg, int argc, char **argv);

/* instance.c */
/* The build's libexec directory: dirname(/proc/self/exe)/../libexec. */
int build_libexec(struct buf *out);
/* Copies the daemons from src to dst (root mode: root 0755, enqueue
 * setuid user_queue).  only_newer: skip files whose copy is as new. */
int daemons_install(const struct config *cfg, const char *src, const char *dst,
		    int only_newer);
/* 0 if every service account can reach dir (search permission on every
 * component); otherwise -1 with the reason in err. */
int dir_traversable(const struct config *cfg, const char *dir, struct buf *err);
/* uid/gid of a configured account (config key), or the caller's own ids
 * when not root.  -1 if the account is missing. */
int service_ids(const struct config *cfg, const char *key, uid_t *uid, gid_t *gid);
/* Writes a file durably (tmp, fsync, rename, fsync dir) with mode. */
int file_write_atomic(const char *path, const void *p, size_t n, mode_t mode);

/* Prints "posthorn: <message>" to stderr. */
void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
