/* master.h: the modules of libexec/master and what they share: the log
 * collector (logger.c), the table of children (children.c), the listeners
 * and per-connection smtpd (listen.c), the config copy the children read
 * (snapshot.c).  Only master includes this. */
#ifndef POSTHORN_MASTER_H
#define POSTHORN_MASTER_H

#include <poll.h>
#include <sys/types.h>
#include <time.h>
#include "config.h"

/* logger.c: every child's stderr -> one pipe -> timestamped lines in
 * log_dir/posthorn.log (and stdout in foreground mode). */
int logger_open(const struct config *cfg, int foreground);
int logger_reopen(const struct config *cfg);
int logger_child_fd(void);	/* write end handed to children as fd 2 */
int logger_pollfds(struct pollfd *p);	/* returns how many it filled */
void logger_handle(const struct pollfd *p, int n);
void logger_drain(void);	/* reads whatever is waiting */
void logger_started(void);	/* startup over: stop copying to stderr */

/* children.c */
enum child_kind { CHILD_SMTPD, CHILD_QMGR, CHILD_LOCAL, CHILD_AUTH, CHILD_MAILBOXD, CHILD_REMOTE,
		  CHILD_ENQUEUE };
#define CHILD_IP_MAX 64
void child_add(pid_t pid, enum child_kind kind, const char *ip);
size_t children_count(int kind);	/* kind < 0: all */
size_t children_count_ip(const char *ip);
void children_signal(int sig);
/* Resets what the master set up, in a freshly forked child: signals, own
 * session, stderr into the log pipe. */
void child_setup(void);
/* Reaps every exited child, logs it and restarts qmgr/local when due. */
void children_reap(const struct config *cfg, int stopping);
void daemons_start(const struct config *cfg);
/* Restarts the qmgr/local pair when its delay has passed; returns the
 * poll timeout (ms) until the next thing to do, or -1. */
int daemons_tick(const struct config *cfg);
/* Reload: qmgr drains (SIGUSR1: no new attempts, waits for the answers in
 * flight, exits), then the pair starts again at once with the new config. */
void daemons_reload(void);
void children_signal_kind(enum child_kind kind, int sig);

/* daemons.c: the daemons serving a socket the master binds and hands
 * them on fd 3: auth (run_dir/auth.sock) and mailboxd (run_dir/mailbox.sock).
 * Opens every socket: 0 ok, -1 (logged) with *what naming the one that
 * failed ("auth socket"). */
int sockds_open(const struct config *cfg, const char **what);
void sockds_close(void);			/* closes and unlinks the sockets */
void sockds_start(const struct config *cfg);
/* A child of that kind exited: schedule its restart; -1 if kind is not
 * one of these daemons. */
int sockds_lost(enum child_kind kind, int stopping);
int sockds_tick(const struct config *cfg);	/* like daemons_tick */
/* Reload: SIGTERM to auth and mailboxd (their per-connection children
 * finish on their own), restarted at once with the new config. */
void sockds_reload(void);
/* Group of user_login (may connect to auth.sock): the extra group of the
 * services that ask the auth daemon; (gid_t)-1 when not root. */
gid_t login_gid(const struct config *cfg);

/* spawn.c: a per-connection program started with vfork (no copy of the
 * master), everything prepared in the parent. */
#define SNI_FDS_MAX 16	/* SNI certificates passed, on fds 5 .. 20 */
#define SPAWN_FDS_MAX (2 + SNI_FDS_MAX)
struct spawn {
	const char *path;
	char *const *argv;
	struct buf env;		/* "NAME=value\0" entries set over the master's own */
	int fds[SPAWN_FDS_MAX];	/* fds[i] becomes descriptor 3 + i (sources >= 100) */
	int nfds;
	int conn;		/* becomes fds 0 and 1; -1: none */
	const char *user;	/* account to become when root */
	gid_t extra_gid;	/* supplementary group, or (gid_t)-1 */
};
pid_t spawn_start(const struct spawn *sp);	/* pid, or -1 (errno) */
struct account;
/* account_lookup(), remembered by name. */
int account_cached(const char *name, struct account *a);

/* snapshot.c: CONFIG.running, what the children read (design.md "Reload").
 * copy = 0 (--no-listen): the children read CONFIG itself. */
void snapshot_init(const char *conf, int copy);
const char *config_source(void);	/* CONFIG, for the log */
/* Loads and checks CONFIG into out, from its staged copy: 0, or -1 with
 * the config's own error in err. */
int config_stage(struct config *out, struct buf *err);
/* The staged copy becomes CONFIG.running; c is reloaded from it. */
int config_commit(struct config *c, struct buf *err);
void config_drop(struct config *c);	/* a refused stage: copy removed */
void snapshot_end(const struct config *c);	/* at stop: CONFIG.running removed */

/* listen.c */
int listen_open(const struct config *cfg);	/* 0 ok, -1 (logged) */
void listen_close(void);
int listen_pollfds(struct pollfd *p);	/* at most 40 */
int listen_busy(void);	/* refused connections still lingering */
void listen_handle(const struct config *cfg, const struct pollfd *p, int n);
/* Reload: binds every listener whose address or port changed or that the
 * services key added; only when all could be bound are the old ones (and
 * those services no longer names) closed.  0 ok, -1 (logged, the reason
 * in why) nothing changed. */
int listen_reload(const struct config *cfg, struct buf *why);

#endif
