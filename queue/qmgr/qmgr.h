/* qmgr.h: what qmgr's files share.  qmgr.c runs the event loop (trigger
 * FIFO, local socket, timers); schedule.c keeps the ready list and the
 * deferred heap; job.c runs one delivery attempt of one message and
 * records its outcome in the queue; transport.c speaks the qmgr <-> local
 * packet protocol; remote.c routes other domains and speaks the qmgr <->
 * remote protocol; bounce.c sends RFC 3464 reports through enqueue. */
#ifndef POSTHORN_QMGR_H
#define POSTHORN_QMGR_H

#include <stddef.h>
#include <time.h>
#include "buf.h"
#include "config.h"
#include "qfile.h"
#include "resolve.h"

/* A message known to the scheduler: waiting (ready), or deferred until next. */
struct entry {
	char qid[QID_MAX + 1];
	time_t next;
};

/* One delivery attempt of one message: open from the moment it leaves the
 * ready list until every pending recipient has an answer. */
struct job {
	struct entry e;
	int fd;			/* active/QID, read-write (R->D marks) */
	int rofd;		/* the same file read-only: passed to local */
	struct qfile q;
	char *result;		/* per recipient: 0 not tried, '2', '4', '5' */
	char *dsn_passed;	/* per recipient: the next hop took the DSN request */
	struct buf *why;	/* per recipient: reply text */
	struct buf *hop;	/* per recipient: next hop (remote ones only) */
	struct buf *mta;	/* per recipient: remote MTA "name[ip]" */
	size_t *todo;		/* recipients to send to local */
	size_t ntodo, next_todo, inflight;
	size_t *rtodo;		/* recipients for remote; SIZE_MAX once sent */
	size_t nrtodo, rsent;
	struct job *next;	/* list of open jobs */
};

struct qmgr {
	const struct config *cfg;
	struct resolver res;
	int qdir, incoming, active, defer, bounce, tmp, corrupt;	/* directory fds */
	int trigger;		/* FIFO, opened read-write: never EOF */
	int sock;		/* fd 3: SOCK_SEQPACKET to local; -1 when gone */
	int sock_failed;	/* a send failed: call transport_lost() */
	int rsock;		/* fd 4: SOCK_SEQPACKET to remote; -1 when none */
	int rsock_failed;	/* a send failed: call remote_lost() */
	size_t concurrency;
	struct job *jobs;	/* open jobs */
	size_t njobs;
	time_t next_clean;	/* next sweep of day-old files in tmp/ */
};

/* schedule.c */
void ready_push(const char *qid);
int ready_pop(struct entry *e);		/* 1 got one, 0 empty */
size_t ready_count(void);
void deferred_push(const struct entry *e);
/* Moves every deferred entry due at now (all with flush) to ready. */
void deferred_release(time_t now, int flush);
/* Seconds until the next deferred entry is due; -1 if none. */
long long deferred_wait(time_t now);

/* job.c */
/* Opens active/QID and starts an attempt; NULL if there is nothing to do
 * (file gone, incomplete, or finished at once). */
struct job *job_open(struct qmgr *m, const struct entry *e);
/* A recipient's answer: class '2', '4' or '5' and its text. */
void job_result(struct qmgr *m, struct job *j, size_t rcpt, char cls,
		const char *text, size_t len);
/* 1 if every recipient of the attempt has been answered. */
int job_answered(const struct job *j);
/* At exit: closes every open job; its recipients are tried again later. */
void job_close_all(struct qmgr *m);
/* Records the attempt (bounce/, D marks, defer/, mtime) and closes j. */
void job_finish(struct qmgr *m, struct job *j);

/* transport.c */
void transport_init(size_t slots);
int transport_free_slot(void);		/* 1 if a request can be sent */
/* Sends rcpt of j to local; on failure answers it as temporary. */
void transport_send(struct qmgr *m, struct job *j, size_t rcpt);
/* Reads replies from the socket; jobs whose last answer came are finished. */
void transport_receive(struct qmgr *m);
/* Requests older than the deadline are answered as temporary failures;
 * returns ms until the next deadline or -1. */
long long transport_expire(struct qmgr *m, time_t now);
/* local is gone: answer everything in flight as temporary. */
void transport_lost(struct qmgr *m);

/* Sends one packet with fd attached (SCM_RIGHTS): 0, or -1 with errno. */
int packet_send(int sock, const struct buf *p, int fd);

/* remote.c */
void remote_init(struct qmgr *m);
void remote_tables(struct qmgr *m, int again);	/* (re)opens transport.cdb */
/* Next hop of a non-local address: 1 remote (hop set), 0 the transport
 * table says local, -1 table error. */
int remote_route(struct qmgr *m, const char *addr, size_t len, struct buf *hop);
/* 1 and the reason in why if the next hop is backed off at now. */
int remote_backed_off(const struct buf *hop, time_t now, struct buf *why);
void remote_flush(void);			/* forget every backoff */
/* Sends (or answers) j's next group of recipients; 0 if none can go now. */
int remote_dispatch(struct qmgr *m, struct job *j);
void remote_receive(struct qmgr *m);
long long remote_expire(struct qmgr *m, time_t now);
void remote_lost(struct qmgr *m);

/* bounce.c */
enum { BOUNCE_SENT = 0, BOUNCE_PERM = 1, BOUNCE_TEMP = 2 };
/* Sends the report for j (bounce/QID records, or with delay a delay
 * notice for the listed recipients) to the address to. */
int bounce_send(struct qmgr *m, struct job *j, const struct buf *records, int delay,
		const char *to);

#endif
