/*
 * NAME
 *	auth - posthorn's authentication daemon
 *
 * SYNOPSIS
 *	libexec/auth [-c CONFIG]
 *
 * DESCRIPTION
 *	Answers "is this the password of this user?" for smtpd (AUTH) and
 *	the pop3/imap login stages, so that no network-facing process ever
 *	reads the password hashes.  master binds run_dir/auth.sock and
 *	starts auth as user_auth (the only account that can read
 *	passwd.cdb) with the listening socket on fd 3.  Each accepted
 *	connection is served by its own child; the wire protocol is in
 *	common/authclient.h (records: request Q I U Z P [X] E, answer
 *	C U W E).  A request with X<pop3|imap> and an fd (SCM_RIGHTS) from a
 *	login stage is, once verified, handed with that fd to mailboxd on
 *	run_dir/mailbox.sock (auth/handoff.c).
 *
 *	Users are looked up lowercased in passwd.cdb and checked with
 *	crypt(3); an unknown user is checked against a dummy hash of the
 *	same kind, so the time taken does not reveal which users exist.  A
 *	PLAIN authzid must be empty or the user itself.  Failures are
 *	counted per client IP (the I record) in memory shared by all
 *	children; a failed answer waits auth_fail_delay, doubled for every
 *	earlier failure from that IP in the last 15 minutes, at most 30 s.
 *	Passwords are wiped after use and never logged.  A connection is
 *	closed after a malformed request or 10 idle minutes.
 *
 * EXIT STATUS
 *	2 usage error, 1 configuration error or fd 3 is not a listening socket,
 *	111 on a system error.  It runs until killed (SIGTERM).
 *
 * FILES
 *	CONFIG, passwd.cdb beside it, run_dir/auth.sock (bound by master).
 */
#include "auth.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 256	/* connections served at once */

static volatile sig_atomic_t got_chld;
static size_t nchildren;

static void on_chld(int sig)
{
	(void)sig;
	got_chld = 1;
}

static void reap(void)
{
	int st;
	got_chld = 0;
	while (waitpid(-1, &st, WNOHANG) > 0)
		if (nchildren > 0)
			nchildren--;
}

static void check_listener(void)
{
	int v = 0;
	socklen_t len = sizeof v;
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
		die(1, "fd 3 is not a listening socket (auth is started by master)");
}

static void signals_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_chld;	/* no SA_RESTART: poll must wake up */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void serve_one(const struct config *cfg, int fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		close(3);
		signal(SIGCHLD, SIG_DFL);
		conn_serve(cfg, fd);
		close(fd);
		_exit(0);
	}
	if (pid < 0)
		log_error("fork: %s", strerror(errno));
	else
		nchildren++;
	close(fd);
}

static void accept_loop(const struct config *cfg)
{
	for (;;) {
		if (got_chld)
			reap();
		struct pollfd p = {.fd = 3, .events = POLLIN};
		/* at the limit: wait for a child to end, not for clients */
		int r = poll(&p, nchildren < MAX_CHILDREN ? 1 : 0, 1000);
		if (r < 0 && errno != EINTR)
			die(111, "poll: %s", strerror(errno));
		if (r <= 0 || nchildren >= MAX_CHILDREN)
			continue;
		int fd = accept4(3, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			serve_one(cfg, fd);
		else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	const char *cfgpath = config_default_path();
	int opt;
	log_init("auth", 0);
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt != 'c')
			die(2, "usage: auth [-c CONFIG]");
		cfgpath = optarg;
	}
	if (optind != argc)
		die(2, "usage: auth [-c CONFIG]");
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, cfgpath, &err) < 0)
		die(1, "%s", buf_cstr(&err));
	buf_free(&err);
	if (config_bool(&cfg, "log_syslog"))
		log_init("auth", 1);
	check_listener();
	signals_init();
	if (throttle_init() < 0)
		die(111, "shared memory: %s", strerror(errno));
	verify_init();
	log_info("ready");
	accept_loop(&cfg);
}
