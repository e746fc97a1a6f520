/* agent: the skeleton shared by the delivery agents libexec/local and
 * libexec/remote (doc/design.md "qmgr <-> local", "Remote delivery"):
 * startup on fd 3 (a SOCK_SEQPACKET socket to qmgr), receiving one request
 * packet with its queue file descriptor (SCM_RIGHTS), the checks every
 * agent makes on qmgr's bytes, sending a reply packet, and the
 * fork-per-request child table whose parent answers for a child that dies
 * without answering (remote), or the pool of long-running workers
 * (agentpool.c, local).  The request records and the reply contents stay
 * in each agent. */
#ifndef POSTHORN_AGENT_H
#define POSTHORN_AGENT_H

#include <sys/types.h>
#include "buf.h"
#include "config.h"

#define AGENT_SOCKET_FD 3

/* Startup: parses [-c CONFIGFILE] (usage error: exit 2), loads the
 * configuration (exit 111), logs as name, drops to the user named by
 * config key user_key and checks that fd 3 is the socket to qmgr. */
void agent_start(const char *name, int argc, char **argv, const char *user_key,
		 struct config *cfg);
/* The config number key clamped to 1..1000. */
size_t agent_concurrency(const struct config *cfg, const char *key);

/* Reads one packet and handles it: 0 go on, -1 the socket is closed. */
typedef int agent_handle_fn(const struct config *cfg, int sock);
/* Serves sock until qmgr closes it or SIGTERM/SIGINT, at most the child
 * table's size of requests at once, then waits for every child. */
void agent_serve(const struct config *cfg, int sock, agent_handle_fn *handle);
/* fork() for one request; the child gets default signals and an alarm of
 * timeout seconds.  Returns as fork() does. */
pid_t agent_fork(unsigned timeout);

/* The worker pool (agentpool.c): up to max workers forked once and kept,
 * each serving one request at a time; work() reads one request packet from
 * wsock (with its fd), handles it and sends the reply packet to qmgr on
 * sock: 0 go on, -1 wsock is closed.  A worker that dies while busy, or spends
 * more than timeout seconds on one request (SIGALRM), has its request
 * answered by answer(sock, id, text) with a 4.3.0 text.  Serves sock until
 * qmgr closes it or SIGTERM/SIGINT, then lets the requests in flight
 * finish and ends the workers. */
typedef int agent_worker_fn(const struct config *cfg, int wsock, int sock);
typedef void agent_pool_answer_fn(int sock, const struct buf *id, const char *text);
void agent_pool_serve(const struct config *cfg, int sock, size_t max, size_t packet_max,
		      unsigned timeout, agent_worker_fn *work, agent_pool_answer_fn *answer);

/* The self-pipe that SIGCHLD, SIGTERM and SIGINT write to (for the loops
 * of agent.c and agentpool.c). */
void agent_signals_setup(void);
int agent_signal_fd(void);
void agent_signals_drain(void);
void agent_signals_close(void);	/* in a child */
int agent_stopping(void);	/* SIGTERM or SIGINT seen */

/* Receives one packet into packet (cap + 1 bytes, so an overlong packet
 * shows: *len > cap or *trunc) and the first descriptor passed into *fd
 * (the others closed).  Returns 0 when the socket is closed or broken
 * (qmgr gone), else 1 with *len the bytes received, *trunc when the
 * kernel cut the packet (MSG_TRUNC), *fdbad when the control message was
 * truncated (*fd then -1). */
int agent_recv(int sock, char *packet, size_t cap, int *fd, size_t *len, int *trunc,
	       int *fdbad);
/* Sends one packet whole: 0 ok, -1 with errno (EMSGSIZE when short). */
int agent_send(int sock, const struct buf *p);

/* Checks on request records. */
int agent_printable(const char *s, size_t n);
/* A request id: 1..max of [0-9A-Za-z._-]. */
int agent_id_ok(const char *s, size_t n, size_t max);
/* Keeps d in b as a C string when ok: 0, else -1. */
int agent_set_if(struct buf *b, const char *d, size_t n, int ok);
/* A decimal number no bigger than max: 0, else -1. */
int agent_set_num(unsigned long long *v, const char *d, size_t n, unsigned long long max);
enum agent_fd_check { AGENT_FD_OK, AGENT_FD_NONE, AGENT_FD_NOTREG, AGENT_FD_RANGE };
/* The queue file must be a regular file that holds off+len. */
enum agent_fd_check agent_check_fd(int fd, unsigned long long off, unsigned long long len);

/* The child table: one entry per request child, with the agent's data
 * for answering it.  answer is called for a child that did not exit 0,
 * release for every child that is gone. */
typedef void agent_answer_fn(int sock, void *data, int status);
typedef void agent_release_fn(void *data);
void agent_children_init(size_t max, agent_answer_fn *answer, agent_release_fn *release);
int agent_children_full(void);
void agent_children_add(pid_t pid, void *data);
/* Reaps exited children; with block, waits for every child. */
void agent_children_reap(int sock, int block);
/* "4.3.0 delivery process killed by signal N" / "failed with status N". */
void agent_child_failure(struct buf *text, int status);

#endif
