/*
 * NAME
 *	master - posthorn's supervisor: listeners, daemons, log collection
 *
 * SYNOPSIS
 *	master -c CONFIG [-f] [--no-listen]
 *
 * DESCRIPTION
 *	The only long-running root process (when installed).  Binds the
 *	listeners (SMTP on listen:port_base+25), starts (vfork and exec,
 *	spawn.c) one smtpd per connection as user_smtpd with the ucspi-tcp
 *	environment (TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT,
 *	PROTO=TCP), refuses with 421
 *	over max_connections or max_connections_per_ip, starts qmgr (as
 *	user_queue) and local (as user_mail) joined by a SOCK_SEQPACKET
 *	socketpair on fd 3 of each, and restarts them together if either
 *	dies.  Binds run_dir/auth.sock (user_auth, group of user_login,
 *	0660) and runs auth (as user_auth) with it on fd 3, restarted
 *	after a growing delay if it dies; the same for the queue writer
 *	(enqueue -d as user_queue, run_dir/enqueue.sock, group of
 *	user_smtpd, 0660) and mailboxd.  Every child's stderr is collected, one timestamped line per
 *	line, into log_dir/posthorn.log.  -f: stay in the foreground and copy
 *	the log to stdout.  posthorn start runs it (detached unless
 *	--foreground).  --no-listen: bind no TCP listeners (systemd socket
 *	units or inetd start smtpd and pop3d-login); only the daemons run.
 *	SIGTERM, SIGINT: stop listening, SIGTERM every child, wait (SIGKILL
 *	after 10 s), remove the pid file, exit 0.  SIGHUP (posthorn reload):
 *	re-read the config; a config that does not load or a listener that
 *	cannot be bound refuses the reload and nothing changes.  Otherwise
 *	listeners whose address or port changed are bound anew (the old
 *	ones' queued connections accepted first), the log file reopened,
 *	qmgr drained (SIGUSR1) and restarted with local and remote, auth
 *	and mailboxd restarted; open connections are left alone.  The
 *	outcome goes to log_dir/master.reload.
 *
 * EXIT STATUS
 *	0 after a requested stop; 1 bad usage, bad config, or another master
 *	holds the pid file; 111 cannot bind or open the log.
 *
 * FILES
 *	log_dir/master.pid (flock held while running), log_dir/posthorn.log,
 *	log_dir/master.reload ("COUNT ok" or "COUNT failed: REASON"),
 *	CONFIG.running (the copy of CONFIG last accepted: what every child
 *	started by the master reads, so an edit takes effect only through a
 *	reload that accepts it; removed at stop),
 *	libexec_dir/{smtpd,qmgr,local,auth,mailboxd}, run_dir/auth.sock,
 *	run_dir/mailbox.sock (SOCK_SEQPACKET, user_auth 0600: mailboxd runs
 *	as user_mail with it on fd 3, restarted like auth),
 *	run_dir/enqueue.sock (the queue writer's)
 */
#include "master.h"
#include "io.h"
#include "log.h"
#include "privsep.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define STOP_GRACE_MS 10000
#define MAX_POLLFDS 64

static int sig_pipe[2] = {-1, -1};
static int pid_fd = -1;
static struct buf pid_file = BUF_INIT;
static int listeners_on = 1;	/* 0 with --no-listen */

static void on_signal(int sig)
{
	int e = errno;
	char c = (char)sig;
	ssize_t w = write(sig_pipe[1], &c, 1);	/* full pipe: a wakeup is pending anyway */
	(void)w;
	errno = e;
}

static void signals_init(void)
{
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, 0};
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		die(111, "pipe: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; sigs[i]; i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The lock, not the file, says a master is running: a stale file left by
 * a crash is simply taken over. */
static void pidfile_lock(const struct config *cfg)
{
	buf_printf(&pid_file, "%s/master.pid", config_str(cfg, "log_dir"));
	pid_fd = open(buf_cstr(&pid_file), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pid_fd < 0)
		die(111, "%s: %s", pid_file.s, strerror(errno));
	if (flock(pid_fd, LOCK_EX | LOCK_NB) < 0) {
		struct buf old = BUF_INIT;
		file_read(pid_file.s, &old, 64);
		while (old.len && old.s[old.len - 1] == '\n')
			old.len--;
		die(1, "another master is running (pid %s in %s)", buf_cstr(&old), pid_file.s);
	}
}

static void pidfile_write(void)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, text, (size_t)n, 0) != n || fsync(pid_fd) < 0)
		die(111, "%s: %s", pid_file.s, strerror(errno));
}

static void pidfile_remove(void)
{
	unlink(pid_file.s);	/* before the lock goes: no window with a free lock and our pid */
	close(pid_fd);
}

/* The outcome of each reload, for posthorn reload to report:
 * log_dir/master.reload holds "COUNT ok" or "COUNT failed: REASON". */
static void reload_status(const struct config *cfg, const char *what)
{
	static unsigned long count;
	struct buf p = BUF_INIT, text = BUF_INIT, tmp = BUF_INIT;
	buf_printf(&p, "%s/master.reload", config_str(cfg, "log_dir"));
	buf_printf(&tmp, "%s.tmp", buf_cstr(&p));
	buf_printf(&text, "%lu %s\n", ++count, what);
	int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write_all(fd, text.s, text.len) < 0 || close(fd) < 0 ||
	    rename(tmp.s, p.s) < 0)
		log_warn("%s: %s", p.s, strerror(errno));
	buf_free(&p);
	buf_free(&text);
	buf_free(&tmp);
}

/* What a config must give the running system beyond its syntax: the
 * service accounts (root mode), the daemons, the queue.  A reload that
 * would leave qmgr or the sessions unable to start is refused.  0 ok, -1
 * with the reason in why. */
static int config_usable(const struct config *c, struct buf *why)
{
	static const char *const users[] = {"user_smtpd", "user_queue", "user_mail", "user_auth",
					    "user_login", NULL};
	static const char *const progs[] = {"qmgr", "local", "auth", "mailboxd", "smtpd", NULL};
	struct account a;
	for (int i = 0; priv_is_root() && users[i]; i++)
		if (account_lookup(config_str(c, users[i]), &a) < 0) {
			buf_printf(why, "%s: no account \"%s\"", users[i], config_str(c, users[i]));
			return -1;
		}
	struct buf p = BUF_INIT;
	int r = 0;
	for (int i = 0; r == 0 && progs[i]; i++) {
		buf_reset(&p);
		buf_printf(&p, "%s/%s", config_str(c, "libexec_dir"), progs[i]);
		if (access(buf_cstr(&p), X_OK) < 0) {
			buf_printf(why, "libexec_dir: %s: %s", p.s, strerror(errno));
			r = -1;
		}
	}
	struct stat st;
	if (r == 0 && (stat(config_str(c, "queue_dir"), &st) < 0 || !S_ISDIR(st.st_mode))) {
		buf_printf(why, "queue_dir: %s: not a directory", config_str(c, "queue_dir"));
		r = -1;
	}
	buf_free(&p);
	return r;
}

static void reload_refused(const struct config *cfg, struct buf *reason)
{
	struct buf why = BUF_INIT;
	log_error("reload refused, the running config stays: %s", buf_cstr(reason));
	buf_printf(&why, "failed: %s", buf_cstr(reason));
	reload_status(cfg, buf_cstr(&why));
	buf_free(&why);
}

/* Everything is checked before anything changes: a config that does not
 * load, names a missing account, daemon or queue, or asks for a listener
 * that cannot be bound leaves the service as it was.
 * Open connections are never touched; the daemons restart gracefully
 * (children.c, daemons.c). */
static void reload(struct config *cfg)
{
	struct config fresh;
	struct buf err = BUF_INIT;
	if (config_stage(&fresh, &err) < 0) {
		reload_refused(cfg, &err);
	} else if (config_usable(&fresh, &err) < 0 ||
		   (listeners_on && listen_reload(&fresh, &err) < 0) ||
		   config_commit(&fresh, &err) < 0) {
		/* (a failed commit comes after listen_reload: new listeners
		 * stay bound, everything else keeps the old CONFIG.running) */
		reload_refused(cfg, &err);
		config_drop(&fresh);
	} else {
		if (strcmp(config_str(cfg, "run_dir"), config_str(&fresh, "run_dir")))
			log_warn("reload: run_dir changes at the next restart; the sockets stay in %s",
				 config_str(cfg, "run_dir"));
		config_free(cfg);
		*cfg = fresh;
		logger_reopen(cfg);
		daemons_reload();
		sockds_reload();
		log_info("reloaded %s", config_source());
		reload_status(cfg, "ok");
	}
	buf_free(&err);
}

/* Reads the pending signals; returns 1 if asked to stop. */
static int handle_signals(struct config *cfg, int stopping)
{
	char sigs[64];
	ssize_t n;
	int stop = 0;
	while ((n = read(sig_pipe[0], sigs, sizeof sigs)) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (sigs[i] == SIGTERM || sigs[i] == SIGINT)
				stop = 1;
			else if (sigs[i] == SIGHUP && !stopping && !stop)	/* not while stopping */
				reload(cfg);
		}
	children_reap(cfg, stop || stopping);
	return stop;
}

static int build_pollfds(struct pollfd *p, int listening)
{
	int n = 0;
	p[n].fd = sig_pipe[0];
	p[n].events = POLLIN;
	p[n].revents = 0;
	n++;
	n += logger_pollfds(p + n);
	if (listening)
		n += listen_pollfds(p + n);
	return n;
}

static void serve(struct config *cfg)
{
	struct pollfd p[MAX_POLLFDS];
	for (;;) {
		int n = build_pollfds(p, 1);
		int timeout = daemons_tick(cfg), st = sockds_tick(cfg);
		if (st >= 0 && (timeout < 0 || st < timeout))
			timeout = st;
		if (listen_busy() && (timeout < 0 || timeout > 1000))
			timeout = 1000;
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
			die(111, "poll: %s", strerror(errno));
		logger_handle(p + 1, 2);
		if ((p[0].revents & POLLIN) && handle_signals(cfg, 0))
			return;
		listen_handle(cfg, p + 3, n - 3);
	}
}

static void stop_all(struct config *cfg)
{
	struct pollfd p[MAX_POLLFDS];
	listen_close();
	log_info("stopping: %zu children", children_count(-1));
	children_signal(SIGTERM);
	for (int waited = 0; children_count(-1) > 0; waited += 100) {
		if (waited >= STOP_GRACE_MS) {
			log_warn("%zu children still running: SIGKILL", children_count(-1));
			children_signal(SIGKILL);
			waited = 0;
		}
		int n = build_pollfds(p, 0);
		poll(p, (nfds_t)n, 100);
		logger_handle(p + 1, 2);
		handle_signals(cfg, 1);
	}
	log_info("stopped");
	logger_drain();
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	int fg = 0, opt;
	static const struct option longopts[] = {
		{"no-listen", no_argument, NULL, 'L'}, {NULL, 0, NULL, 0}};
	log_init("master", 0);
	while ((opt = getopt_long(argc, argv, "c:f", longopts, NULL)) != -1) {
		if (opt == 'c')
			conf = optarg;
		else if (opt == 'f')
			fg = 1;
		else if (opt == 'L')
			listeners_on = 0;
		else
			die(2, "usage: master -c CONFIG [-f] [--no-listen]");
	}
	if (optind != argc)
		die(2, "usage: master -c CONFIG [-f] [--no-listen]");
	if (!conf)
		conf = config_default_path();
	umask(022);
	struct config cfg;
	struct buf err = BUF_INIT;
	snapshot_init(conf, listeners_on);
	if (config_stage(&cfg, &err) < 0 || config_commit(&cfg, &err) < 0)
		die(1, "%s", buf_cstr(&err));
	buf_free(&err);
	signals_init();
	pidfile_lock(&cfg);
	if (logger_open(&cfg, fg) < 0)
		die(111, "cannot start: no log");
	if (listeners_on && listen_open(&cfg) < 0)
		die(111, "cannot start: listener failed");
	const char *what;
	if (sockds_open(&cfg, &what) < 0)
		die(111, "cannot start: no %s", what);
	pidfile_write();
	log_info("master started (pid %ld, config %s)", (long)getpid(), config_source());
	logger_started();
	daemons_start(&cfg);
	sockds_start(&cfg);
	serve(&cfg);
	stop_all(&cfg);
	sockds_close();
	pidfile_remove();
	snapshot_end(&cfg);	/* no child is left to read it */
	config_free(&cfg);
	buf_free(&pid_file);
	return 0;
}
