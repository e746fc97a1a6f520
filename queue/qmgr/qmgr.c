/*
 * NAME
 *     qmgr - the posthorn queue manager
 *
 * SYNOPSIS
 *     qmgr [-c CONFIG]      (started by master, fd 3 = socket to local,
 *                            fd 4 = socket to remote, optional)
 *
 * DESCRIPTION
 *     Schedules every queued message.  At start, hourly and on flush it
 *     removes day-old files from queue/tmp/ (left by killed enqueues).
 *     At start it scans queue/active/ and queue/incoming/ once;
 *     afterwards it learns of new mail only from the trigger FIFO
 *     (queue/trigger: 'N' new mail in incoming/, 'F' flush: retry every
 *     deferred message now) and keeps the schedule in memory: a FIFO of
 *     ready messages and a heap of deferred ones keyed by the next attempt
 *     time, which is also stored as the queue file's mtime.  A queue file
 *     that is malformed or incomplete is moved aside to queue/corrupt/.
 *
 *     Recipients in local domains go to local as requests over fd 3, at
 *     most local_concurrency at once; other domains go to remote over fd
 *     4, grouped by next hop (transport table, relay_host, or the domain),
 *     within remote_concurrency and remote_dest_concurrency; a next hop
 *     that cannot be reached is backed off as a whole.  Without fd 4 remote
 *     recipients are deferred (4.4.1).  Temporary failures are retried after an
 *     interval from retry_min doubling to retry_max; after queue_lifetime
 *     they bounce.  Permanent failures bounce (RFC 3464, via enqueue, with
 *     the null sender; never to the null sender; a failed report of ours
 *     goes to the postmaster), as the recipient's DSN NOTIFY allows; NOTIFY
 *     =SUCCESS gets a success report, and a message still pending after
 *     delay_warning one delay notice.  A message is removed
 *     when every recipient is done.  SIGTERM: exit at once; whatever was
 *     in flight is attempted again at the next start, and local's Maildir
 *     names make the repeat harmless.  SIGHUP: reopen the tables.
 *     SIGUSR1 (master's reload): start no new attempt, exit 0 once every
 *     attempt in flight is answered and recorded (at most 60 s).
 *
 * EXIT STATUS
 *     0 after SIGTERM; 111 when the queue cannot be opened.
 *
 * FILES
 *     QUEUE/{incoming,active,defer,bounce,tmp,corrupt}/, QUEUE/trigger
 */
#include "qmgr.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_MAX_AGE 86400
#define TMP_CLEAN_INTERVAL 3600	/* killed enqueues leave files in tmp/ */

#define DRAIN_MAX 60	/* seconds a reload waits for the answers in flight */

static volatile sig_atomic_t got_term, got_hup, got_drain;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGUSR1)
		got_drain = 1;
	else
		got_term = 1;
}

static void signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;	/* no SA_RESTART: poll() must return */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int open_dir(int qdir, const char *name)
{
	int fd = openat(qdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die(111, "cannot open queue directory %s: %s", name, strerror(errno));
	return fd;
}

static int open_trigger(int qdir)
{
	int fd = openat(qdir, "trigger", O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (mkfifoat(qdir, "trigger", 0600) < 0 && errno != EEXIST)
			die(111, "cannot create the trigger FIFO: %s", strerror(errno));
		fd = openat(qdir, "trigger", O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	}
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		die(111, "cannot open the trigger FIFO: %s", fd < 0 ? strerror(errno) : "not a FIFO");
	return fd;
}

/* Calls fn for each queue id in a directory (fd is dup'ed: kept open). */
static void each_qid(int dirfd, void (*fn)(struct qmgr *, int, const char *), struct qmgr *m)
{
	int fd = dup(dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		log_error("cannot read queue directory: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (qid_valid(e->d_name, strlen(e->d_name)))
			fn(m, dirfd, e->d_name);
	closedir(d);
}

static void take_incoming(struct qmgr *m, int dirfd, const char *qid)
{
	if (renameat(dirfd, qid, m->active, qid) < 0) {
		log_error("%s: cannot move to active/: %s", qid, strerror(errno));
		return;
	}
	ready_push(qid);
}

static void take_active(struct qmgr *m, int dirfd, const char *qid)
{
	(void)m;
	struct stat st;
	if (fstatat(dirfd, qid, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return;
	struct entry e;
	memset(&e, 0, sizeof e);
	memcpy(e.qid, qid, strlen(qid));
	e.next = st.st_mtime;
	if (e.next > time(NULL))
		deferred_push(&e);
	else
		ready_push(qid);
}

static void clean_tmp(struct qmgr *m, int dirfd, const char *name)
{
	(void)m;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_mtime + TMP_MAX_AGE < time(NULL) && unlinkat(dirfd, name, 0) == 0)
		log_info("removed stale temporary file tmp/%s", name);
}

/* tmp/ names are not queue ids, so this one walks the directory itself.
 * Runs at start, hourly and on flush. */
static void clean_tmp_dir(struct qmgr *m)
{
	m->next_clean = time(NULL) + TMP_CLEAN_INTERVAL;
	int fd = dup(m->tmp);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d)
		return;
	rewinddir(d);	/* the dup shares the offset of the last sweep */
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			clean_tmp(m, m->tmp, e->d_name);
	closedir(d);
}

static void open_queue(struct qmgr *m)
{
	const char *dir = config_str(m->cfg, "queue_dir");
	m->qdir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->qdir < 0)
		die(111, "cannot open the queue %s: %s", dir, strerror(errno));
	m->incoming = open_dir(m->qdir, "incoming");
	m->active = open_dir(m->qdir, "active");
	m->defer = open_dir(m->qdir, "defer");
	m->bounce = open_dir(m->qdir, "bounce");
	m->tmp = open_dir(m->qdir, "tmp");
	/* instances made before corrupt/ existed get it here */
	if (mkdirat(m->qdir, "corrupt", 0700) < 0 && errno != EEXIST)
		die(111, "cannot create queue directory corrupt: %s", strerror(errno));
	m->corrupt = open_dir(m->qdir, "corrupt");
	/* hold/ (posthorn queue hold) is never read by qmgr; made here for
	 * instances older than it */
	if (mkdirat(m->qdir, "hold", 0700) < 0 && errno != EEXIST)
		log_warn("cannot create queue directory hold: %s", strerror(errno));
	m->trigger = open_trigger(m->qdir);
}

static void open_tables(struct qmgr *m, int again)
{
	if (again)
		resolver_close(&m->res);
	if (resolver_open(&m->res, m->cfg) < 0)
		log_error("cannot open the tables in %s: every recipient looks remote", m->cfg->dir);
}

/* makemap renames a new .cdb over the old one, and the open tables keep
 * the old file: at every wake-up the names are checked (four stats: inode
 * and mtime), and a change reopens them, so a new domain or transport
 * needs no reload. */
static int tables_changed(struct qmgr *m)
{
	static const char *const names[] = {"domains.cdb", "users.cdb", "aliases.cdb",
					    "transport.cdb"};
	static unsigned long long seen;
	unsigned long long sig = 0;
	struct buf p = BUF_INIT;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		struct stat st;
		config_file(m->cfg, names[i], &p);
		if (stat(buf_cstr(&p), &st) == 0)
			sig = sig * 1000003u + (unsigned long long)st.st_ino * 31u +
			      (unsigned long long)st.st_mtim.tv_sec * 1000000007u +
			      (unsigned long long)st.st_mtim.tv_nsec;
		else
			sig = sig * 1000003u + 1;
	}
	buf_free(&p);
	int changed = seen && sig != seen;
	seen = sig;
	return changed;
}

/* Reads every pending trigger byte; 'F' anywhere means flush. */
static void read_trigger(struct qmgr *m)
{
	char b[512];
	int flush = 0, any = 0;
	ssize_t n;
	while ((n = read(m->trigger, b, sizeof b)) > 0) {
		any = 1;
		if (memchr(b, 'F', (size_t)n))
			flush = 1;
	}
	if (!any)
		return;
	if (flush) {
		log_info("flush: every deferred message is retried now");
		open_tables(m, 1);
		remote_tables(m, 1);
		remote_flush();
		clean_tmp_dir(m);
		deferred_release(time(NULL), 1);
	}
	each_qid(m->incoming, take_incoming, m);
}

/* One request of an open job: a local recipient while a local slot is
 * free, else a group for remote.  0 when none can go now.  Starts again
 * from the list head after each: a finished job leaves the list. */
static int fill_one(struct qmgr *m)
{
	for (struct job *j = m->jobs; j; j = j->next) {
		int sent = 0;
		if (j->next_todo < j->ntodo && m->sock_failed == 0 && transport_free_slot()) {
			transport_send(m, j, j->todo[j->next_todo++]);
			sent = 1;
		} else if (m->rsock_failed == 0) {
			sent = remote_dispatch(m, j);
		}
		if (sent) {
			if (job_answered(j))
				job_finish(m, j);
			return 1;
		}
	}
	return 0;
}

/* Starts requests while slots are free: first the open jobs' remaining
 * recipients, then new jobs from the ready list. */
static void fill(struct qmgr *m)
{
	while (m->sock_failed == 0 && m->rsock_failed == 0) {
		if (fill_one(m))
			continue;
		struct entry e;
		if (got_drain || m->njobs >= m->concurrency || !ready_pop(&e))
			break;
		job_open(m, &e);
	}
}

static int poll_timeout(struct qmgr *m)
{
	time_t now = time(NULL);
	long long t = transport_expire(m, now);
	long long r = remote_expire(m, now);
	if (r >= 0 && (t < 0 || r < t))
		t = r;
	long long d = deferred_wait(now);
	if (d >= 0 && (t < 0 || d * 1000 < t))
		t = d * 1000;
	long long c = m->next_clean > now ? (long long)(m->next_clean - now) * 1000 : 0;
	if (t < 0 || t > c)
		t = c;
	return (int)t;
}

/* SIGUSR1 (master's reload): no new attempt starts; qmgr exits once the
 * open jobs are answered and recorded, or after DRAIN_MAX seconds. */
static int drained(struct qmgr *m)
{
	static time_t until;
	if (!got_drain)
		return 0;
	if (!until) {
		until = time(NULL) + DRAIN_MAX;
		log_info("draining for a reload: %zu messages in flight", m->njobs);
	}
	if (m->njobs && time(NULL) < until)
		return 0;
	if (m->njobs)
		log_warn("drain: %zu messages still in flight after %d s: tried again after the restart",
			 m->njobs, DRAIN_MAX);
	return 1;
}

static void loop(struct qmgr *m)
{
	while (!got_term && !drained(m)) {
		fill(m);
		if (m->sock_failed) {
			m->sock_failed = 0;
			transport_lost(m);
			continue;
		}
		if (m->rsock_failed) {
			m->rsock_failed = 0;
			remote_lost(m);
			continue;
		}
		/* fd -1 entries are ignored by poll */
		struct pollfd p[3] = {{m->trigger, POLLIN, 0}, {m->sock, POLLIN, 0}, {m->rsock, POLLIN, 0}};
		int timeout = ready_count() && m->njobs < m->concurrency && !got_drain ? 0 : poll_timeout(m);
		if (got_drain && (timeout < 0 || timeout > 1000))
			timeout = 1000;
		int r = poll(p, 3, timeout);
		if (r < 0 && errno != EINTR)
			die(111, "poll: %s", strerror(errno));
		if (got_hup || tables_changed(m)) {
			got_hup = 0;
			open_tables(m, 1);
			remote_tables(m, 1);
		}
		if (r > 0 && p[0].revents)
			read_trigger(m);
		if (r > 0 && m->sock >= 0 && p[1].revents)
			transport_receive(m);
		if (r > 0 && m->rsock >= 0 && p[2].revents)
			remote_receive(m);
		transport_expire(m, time(NULL));
		remote_expire(m, time(NULL));
		deferred_release(time(NULL), 0);
		if (time(NULL) >= m->next_clean)
			clean_tmp_dir(m);
	}
}

/* fd 4 is remote's socket when master started it; anything else there
 * (or nothing) means remote delivery is not available: deferred, 4.4.1. */
static int remote_socket(void)
{
	int type = 0;
	socklen_t len = sizeof type;
	if (fcntl(4, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	if (getsockopt(4, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET) {
		log_warn("fd 4 is not the remote delivery socket: remote mail is deferred");
		return -1;
	}
	return 4;
}

static const char *parse_args(int argc, char **argv)
{
	const char *path = config_default_path();
	int c;
	while ((c = getopt(argc, argv, "c:")) != -1) {
		if (c != 'c') {
			fprintf(stderr, "usage: qmgr [-c CONFIG]\n");
			exit(2);
		}
		path = optarg;
	}
	return path;
}

int main(int argc, char **argv)
{
	const char *path = parse_args(argc, argv);
	log_init("qmgr", 0);
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, path, &err) < 0)
		die(111, "%s", buf_cstr(&err));
	if (config_bool(&cfg, "log_syslog"))
		log_init("qmgr", 1);
	umask(077);
	signals();
	struct qmgr m = {.cfg = &cfg, .sock = 3};
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
		log_warn("no local delivery socket on fd 3: local mail is deferred");
		m.sock = -1;
	}
	m.rsock = remote_socket();
	long long conc = config_num(&cfg, "local_concurrency");
	conc = conc < 1 ? 1 : conc > 1000 ? 1000 : conc;
	transport_init((size_t)conc);
	remote_init(&m);
	long long rconc = config_num(&cfg, "remote_concurrency");
	/* open jobs: enough to keep both kinds of slots busy */
	m.concurrency = (size_t)conc + (rconc < 1 ? 1 : rconc > 1000 ? 1000 : (size_t)rconc);
	open_queue(&m);
	tables_changed(&m);	/* first: a makemap during the open is seen later */
	open_tables(&m, 0);
	clean_tmp_dir(&m);
	each_qid(m.active, take_active, &m);
	each_qid(m.incoming, take_incoming, &m);
	log_info("started: %zu messages ready", ready_count());
	loop(&m);
	log_info("stopping");
	job_close_all(&m);
	resolver_close(&m.res);
	config_free(&cfg);
	buf_free(&err);
	return 0;
}
