/*
 * NAME
 *	pop3d-login - posthorn's POP3 login stage (TLS and AUTHORIZATION)
 *
 * SYNOPSIS
 *	libexec/pop3d-login [-c CONFIG] [-s | -m pop3|pop3s]
 *
 * DESCRIPTION
 *	Serves one POP3 connection on fd 0 (input) and fd 1 (output), so it
 *	runs under posthorn's master (port base+110, and base+995 with -s),
 *	inetd or systemd Accept=yes.  It runs as user_login, which can read
 *	neither the mail store, nor passwd.cdb, nor the TLS key: master (or,
 *	started as root by inetd, this program itself before it drops to
 *	user_login) opens the key and certificate and passes them as fds
 *	(POSTHORN_TLS_FDS, see doc/design.md "TLS keys"); under systemd they
 *	come from $CREDENTIALS_DIRECTORY.
 *
 *	Greeting "+OK posthorn POP3 ready".  Commands: CAPA, STLS (RFC 2595:
 *	before TLS and before USER; bytes pipelined after it are discarded),
 *	USER/PASS, AUTH PLAIN|LOGIN (RFC 5034, initial response allowed, "="
 *	for an empty one, "*" cancels), QUIT.  APOP is not supported.
 *	Passwords are accepted only over TLS (STLS, or -s: implicit TLS, RFC
 *	8314), or from a loopback client when plaintext_auth_loopback = yes;
 *	otherwise "-ERR [AUTH] TLS required" and CAPA lists neither USER nor
 *	SASL.  Every other command before a login is -ERR.
 *
 *	The credentials go to the auth daemon (run_dir/auth.sock) together
 *	with one end of a socketpair.  On success the daemon hands that end
 *	to mailboxd, which runs pop3d (as user_mail) on it; pop3d's first
 *	line ("+OK maildrop has ...", or "-ERR [IN-USE]") is the answer to
 *	PASS/AUTH, and from then on pop3d-login only relays bytes between
 *	the client and pop3d until either side closes.  A wrong password:
 *	"-ERR [AUTH] invalid credentials", after the delay the auth daemon
 *	imposes; after auth_max_failures the connection is closed.
 *
 *	Limits: pop3_line_max per command line (SASL responses up to 4096),
 *	100 commands before a login,
 *	max_errors bad commands, pop3_timeout idle time (also while
 *	relaying), tls_handshake_timeout.
 *
 * EXIT STATUS
 *	0 after a session; 2 usage; 111 bad config, or -s without a key.
 *
 * FILES
 *	CONFIG, run_dir/auth.sock, tls_cert and tls_key (by fd).
 */
#include "login.h"
#include "log.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
	die(2, "usage: pop3d-login [-c CONFIG] [-s | -m pop3|pop3s]");
}

static void parse_args(int argc, char **argv, const char **conf, int *implicit)
{
	int opt;
	while ((opt = getopt(argc, argv, "c:sm:")) != -1) {
		if (opt == 'c')
			*conf = optarg;
		else if (opt == 's')
			*implicit = 1;
		else if (opt == 'm' && (!strcmp(optarg, "pop3") || !strcmp(optarg, "pop3s")))
			*implicit = !strcmp(optarg, "pop3s");
		else
			usage();
	}
	if (optind != argc)
		usage();
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	struct login l;
	memset(&l, 0, sizeof l);
	log_init("pop3d-login", login_stderr_is_client());
	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv, &conf, &l.implicit);
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, conf ? conf : config_default_path(), &err) < 0) {
		static const char msg[] = "-ERR [SYS/TEMP] server configuration error\r\n";
		write_all(1, msg, sizeof msg - 1);
		die(111, "%s", buf_cstr(&err));
	}
	buf_free(&err);
	login_client_init(&l.c, &cfg, config_num(&cfg, "pop3_timeout"));
	login_tls_setup(&l.c, l.implicit);
	l.line_max = (size_t)config_num(&cfg, "pop3_line_max");
	l.max_errors = config_num(&cfg, "max_errors");
	l.max_failures = config_num(&cfg, "auth_max_failures");
	int rc = 0;
	if (l.implicit && login_tls_start(&l.c) < 0)
		rc = l.c.tls ? 0 : 111;
	else
		session_run(&l);
	login_client_free(&l.c);
	buf_free(&l.user);
	config_free(&cfg);
	return rc;
}
