/*
 * NAME
 *     enqueue - put one message into the posthorn queue
 *
 * SYNOPSIS
 *     enqueue [-c CONFIG] < records > reply
 *     enqueue [-c CONFIG] -d      (master: listening socket on fd 3)
 *
 * DESCRIPTION
 *     The only writer of new queue files; sendmail, qmgr (for bounces) and
 *     an smtpd without master run it with a pipe on stdin and stdout.
 *     With -d (refused when setuid) it is the queue writer master starts
 *     as the queue user on run_dir/enqueue.sock: pre-forked workers speak
 *     the same protocol over each connection and take the caller's uid
 *     from SO_PEERCRED (daemon.c); smtpd connects to it per message.  It creates
 *     queue/tmp/NAME with O_EXCL, derives the queue id (hex arrival
 *     seconds, 5 hex digits of microseconds, hex inode) and writes
 *     "QID\n" at once.  It then reads the records S, A*, (O? R)+, M*, E0:
 *     (doc/design.md), expands aliases, writes the queue file, fsyncs it,
 *     renames it to queue/incoming/QID, fsyncs incoming/, writes 'N' to
 *     queue/trigger and answers "ok QID\n".  Any failure removes the
 *     temporary file and answers "error CODE ENHANCED TEXT\n".
 *
 *     In root mode it is setuid to the queue user, so it trusts nothing
 *     from its caller: the environment is cleared, the config file must
 *     belong to root or the queue user and be writable by nobody else,
 *     the real uid is set to the effective one (the caller cannot signal
 *     it half way), the umask is 077, and no symlink is followed inside
 *     the queue.  The caller's real uid is saved first, logged ("uid=N")
 *     and stored as the attribute "uid=N"; the trace attributes client,
 *     helo, proto and auth are kept only from root, the queue user or
 *     user_smtpd, and dropped (with a log line) from anyone else.
 *
 *     smtpd cannot signal a setuid enqueue, so enqueue has a deadline of
 *     its own: after enqueue_timeout (default smtp_data_timeout + 5
 *     minutes) it removes its temporary file, answers "error 451 4.4.2"
 *     and exits 111.
 *
 * EXIT STATUS
 *     0 queued; 1 permanent failure (bad records, alias loop, too big);
 *     111 temporary failure (disk, tables, input ended early, deadline
 *     passed); 2 usage.
 *
 * FILES
 *     QUEUE/tmp/, QUEUE/incoming/, QUEUE/trigger, run_dir/enqueue.sock (-d)
 */
#include "enqueue.h"
#include "fsutil.h"
#include "log.h"
#include "privsep.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define INPUT_TIMEOUT_MS (3600 * 1000)	/* a stalled client must not pin a temp file forever */

static int tmp_dirfd = -1;
static char *cfgpath;	/* global: still reachable when enq_fail() exits */
static char tmp_name[96];
/* tmp_name is complete and names our file: the deadline handler may
 * unlink it.  Cleared before the rename into incoming/. */
static volatile sig_atomic_t tmp_ready;
/* the queue id once known: a failure line names it (posthorn-log(5)) */
static char fail_qid[QID_MAX + 3];

/* SIGALRM: enqueue runs with the queue user's real uid, so smtpd cannot
 * kill a stuck one; it ends itself.  Only async-signal-safe calls. */
static void on_deadline(int sig)
{
	(void)sig;
	static const char reply[] = "error 451 4.4.2 enqueue deadline passed\n";
	static const char note[] = "enqueue: deadline passed: temporary file removed, exit 111\n";
	if (tmp_ready)
		unlinkat(tmp_dirfd, tmp_name, 0);
	ssize_t r = write(1, reply, sizeof reply - 1);
	r = write(2, note, sizeof note - 1);
	(void)r;
	_exit(111);
}

/* enqueue_timeout, or smtp_data_timeout + 5 minutes: longer than smtpd
 * waits for data, so a live session is never cut short. */
static void set_deadline(const struct config *cfg)
{
	long long t = config_num(cfg, "enqueue_timeout");
	if (t <= 0)
		t = config_num(cfg, "smtp_data_timeout") + 300;
	if (t > 7 * 86400)
		t = 7 * 86400;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_deadline;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)t);
}

void enq_fail(int code, const char *fmt, ...)
{
	if (tmp_name[0])
		unlinkat(tmp_dirfd, tmp_name, 0);
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_warn("%smessage not queued: %s", fail_qid, buf_cstr(&b));
	buf_putc(&b, '\n');
	struct buf line = BUF_INIT;
	buf_puts(&line, "error ");
	buf_append(&line, b.s, b.len);
	if (write_all(1, line.s, line.len) < 0) {
		/* the client is gone; the exit code still tells */
	}
	exit(code);
}

void enq_put(struct enq *e, const void *p, size_t n)
{
	buf_append(&e->file, p, n);
	if (e->file.len >= 65536)
		enq_flush(e);
}

void enq_flush(struct enq *e)
{
	if (write_all(e->fd, e->file.s, e->file.len) < 0)
		enq_fail(111, "451 4.3.0 cannot write the queue file: %s", strerror(errno));
	e->written += (off_t)e->file.len;
	buf_reset(&e->file);
}

/* fds 0-2 must exist, or the queue file could become someone's stderr. */
static void sanitize(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(111);
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	clearenv();
}

/* A setuid run accepts only a config that its caller cannot have written. */
static void check_config_owner(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		enq_fail(111, "451 4.3.0 cannot read config %s", path);
	if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & 022))
		enq_fail(1, "554 5.3.5 config %s is not owned by root or the queue user", path);
}

/* -d (daemon mode) only when not setuid: a local user must not be able to
 * start a long-running process as the queue user. */
static const char *parse_args(int argc, char **argv, int setuid_run, int *daemon_mode)
{
	const char *cfg = NULL;
	int c;
	while ((c = getopt(argc, argv, "c:d")) != -1) {
		if (c == 'c')
			cfg = optarg;
		else if (c == 'd' && !setuid_run)
			*daemon_mode = 1;
		else
			enq_fail(2, "554 5.3.5 usage: enqueue [-c CONFIG] [-d]");
	}
	if (optind != argc)
		enq_fail(2, "554 5.3.5 usage: enqueue [-c CONFIG] [-d]");
	/* config_default_path() reads the environment: not when setuid */
	return cfg ? cfg : setuid_run ? "/etc/posthorn/posthorn.conf" : config_default_path();
}

static int open_sub(int qdir, const char *name)
{
	int fd = openat(qdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		enq_fail(111, "451 4.3.0 cannot open queue directory %s: %s", name, strerror(errno));
	return fd;
}

/* Creates the temporary file and derives the queue id from it. */
static void create_temp(struct enq *e, long long *arrival)
{
	static unsigned seq;	/* a daemon worker writes many files */
	struct timeval tv;
	gettimeofday(&tv, NULL);
	snprintf(tmp_name, sizeof tmp_name, "%lld.%06ld.%ld.%u", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), seq++);
	e->fd = openat(tmp_dirfd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (e->fd < 0) {
		tmp_name[0] = 0;
		enq_fail(111, "451 4.3.0 cannot create queue file: %s", strerror(errno));
	}
	tmp_ready = 1;
	struct stat st;
	if (fstat(e->fd, &st) < 0)
		enq_fail(111, "451 4.3.0 cannot stat queue file");
	snprintf(e->qid, sizeof e->qid, "%llX%05lX%llX", (unsigned long long)tv.tv_sec,
		 (unsigned long)tv.tv_usec, (unsigned long long)st.st_ino);
	snprintf(fail_qid, sizeof fail_qid, "%s: ", e->qid);
	*arrival = (long long)tv.tv_sec;
}

static void write_head(struct enq *e, long long arrival)
{
	struct buf b = BUF_INIT;
	rec_puts(&b, REC_VERSION, QUEUE_FORMAT_VERSION);
	rec_puts(&b, REC_QID, e->qid);
	struct buf t = BUF_INIT;
	buf_printf(&t, "%lld", arrival);
	rec_put(&b, REC_TIME, t.s, t.len);
	buf_free(&t);
	enq_put(e, b.s, b.len);
	buf_free(&b);
}

/* Wakes qmgr; no reader (ENXIO) or a full FIFO (EAGAIN) is fine: qmgr
 * scans incoming/ when it starts and drains it on every wake-up. */
static void trigger(int qdir)
{
	int fd = openat(qdir, "trigger", O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && write(fd, "N", 1) < 0) {
		/* nothing to do: see above */
	}
	close(fd);
}

/* fsync, rename into incoming/, fsync incoming/: only then is it queued. */
static void commit(struct enq *e, int inc_dirfd)
{
	if (fsync(e->fd) < 0)
		enq_fail(111, "451 4.3.0 cannot fsync the queue file: %s", strerror(errno));
	/* from here on the file is the queue's: the deadline must not touch it */
	alarm(0);
	tmp_ready = 0;
	if (renameat(tmp_dirfd, tmp_name, inc_dirfd, e->qid) < 0)
		enq_fail(111, "451 4.3.0 cannot rename the queue file: %s", strerror(errno));
	tmp_name[0] = 0;
	if (fsync(inc_dirfd) < 0) {
		unlinkat(inc_dirfd, e->qid, 0);
		enq_fail(111, "451 4.3.0 cannot fsync the incoming directory");
	}
	close(e->fd);
}

static void enq_free(struct enq *e)
{
	buf_free(&e->file);
	buf_free(&e->sender);
	for (size_t i = 0; i < e->norig; i++) {
		buf_free(&e->origs[i]);
		buf_free(&e->notifies[i]);
	}
	free(e->origs);
	free(e->notifies);
	resolve_list_free(&e->rcpts);
	resolver_close(&e->res);
}

static void log_accepted(const struct enq *e)
{
	struct buf s = BUF_INIT;
	log_info("%s: from=<%s> size=%llu nrcpt=%zu uid=%lu", e->qid,
		 log_safe(&s, e->sender.s, e->sender.len, 300), e->msg_len, e->rcpts.n,
		 (unsigned long)e->caller);
	buf_free(&s);
}

/* Root, the queue user (qmgr's bounces) and user_smtpd may vouch for
 * trace data; so may the caller of an enqueue that is not setuid.  The
 * accounts are looked up once per process (the daemon serves many). */
int caller_trusted(const struct config *cfg, uid_t caller)
{
	static const char *const users[] = {"user_queue", "user_smtpd", NULL};
	static uid_t uids[2];
	static int looked_up;
	if (caller == 0 || caller == geteuid())
		return 1;
	for (int i = 0; !looked_up && users[i]; i++) {
		struct account a;
		uids[i] = account_lookup(config_str(cfg, users[i]), &a) == 0 ? a.uid : 0;
	}
	looked_up = 1;
	for (int i = 0; users[i]; i++)
		if (uids[i] != 0 && uids[i] == caller)
			return 1;
	return 0;
}

int qdirs_open(const struct config *cfg, struct qdirs *q)
{
	q->q = open(config_str(cfg, "queue_dir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->q < 0)
		return -1;
	q->tmp = open_sub(q->q, "tmp");
	q->inc = open_sub(q->q, "incoming");
	return 0;
}

void enqueue_one(const struct config *cfg, uid_t caller, int trusted, const struct qdirs *q)
{
	tmp_dirfd = q->tmp;
	fail_qid[0] = 0;	/* a daemon worker serves many messages */
	set_deadline(cfg);
	struct enq e = {.cfg = cfg, .fd = -1, .msg_hdr_off = -1, .caller = caller,
			.trusted = trusted};
	if (resolver_open(&e.res, cfg) < 0)
		enq_fail(111, "451 4.3.0 cannot open the tables in %s", cfg->dir);
	long long arrival;
	create_temp(&e, &arrival);
	struct buf line = BUF_INIT;
	buf_printf(&line, "%s\n", e.qid);
	if (write_all(1, line.s, line.len) < 0)
		enq_fail(111, "451 4.3.0 client gone");
	write_head(&e, arrival);
	struct io in;
	io_init(&in, 0, -1, INPUT_TIMEOUT_MS);
	envelope_read(&e, &in);
	commit(&e, q->inc);
	trigger(q->q);
	log_accepted(&e);
	buf_reset(&line);
	buf_printf(&line, "ok %s\n", e.qid);
	int r = write_all(1, line.s, line.len);
	(void)r;	/* queued either way: the client decides what a lost reply means */
	enq_free(&e);
	io_free(&in);
	buf_free(&line);
}

int main(int argc, char **argv)
{
	uid_t caller = getuid();	/* before setreuid() makes it the queue user */
	int setuid_run = getuid() != geteuid() || getgid() != getegid();
	int daemon_mode = 0;
	log_init("enqueue", 0);
	/* copied: sanitize() clears the environment $POSTHORN_CONFIG lives in */
	cfgpath = xstrdup(parse_args(argc, argv, setuid_run, &daemon_mode));
	sanitize();
	if (setuid_run) {
		check_config_owner(cfgpath);
		if (setregid(getegid(), getegid()) < 0 || setreuid(geteuid(), geteuid()) < 0)
			enq_fail(111, "451 4.3.0 cannot set the real user id");
	}
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, cfgpath, &err) < 0)
		enq_fail(111, "451 4.3.0 %s", buf_cstr(&err));
	if (config_bool(&cfg, "log_syslog"))
		log_init("enqueue", 1);
	struct qdirs q;
	if (qdirs_open(&cfg, &q) < 0)
		enq_fail(111, "451 4.3.0 cannot open the queue: %s", strerror(errno));
	int rc = 0;
	if (daemon_mode)	/* returns on SIGTERM (stop, reload): frees like the rest */
		rc = enqueue_daemon(&cfg, &q);
	else
		enqueue_one(&cfg, caller, caller_trusted(&cfg, caller), &q);
	config_free(&cfg);
	buf_free(&err);
	free(cfgpath);
	close(q.q);
	close(q.inc);
	close(q.tmp);
	return rc;
}
