/*
 * NAME
 *	smtpd - the posthorn ESMTP server (RFC 5321)
 *
 * SYNOPSIS
 *	libexec/smtpd [-c CONFIG] [-m smtp|submission|smtps]
 *
 * DESCRIPTION
 *	Serves one SMTP session on fd 0 (input) and fd 1 (output), so it
 *	runs under posthorn's master, inetd, or systemd Accept=yes.  The
 *	client address comes from $TCPREMOTEIP (master, ucspi-tcp), else
 *	$REMOTE_ADDR, else getpeername(2) on fd 0, else "unknown"; its host
 *	name only from $TCPREMOTEHOST (smtpd does no DNS lookups).
 *
 *	Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY (252) HELP,
 *	EXPN (502), STARTTLS.  Extensions: PIPELINING, SIZE, 8BITMIME, STARTTLS,
 *	ENHANCEDSTATUSCODES (codes in every reply but the greeting and the
 *	EHLO list), SMTPUTF8 (config smtputf8).
 *
 *	Recipients are checked at RCPT time: a local domain needs a user
 *	or alias (else 550 5.1.1), any other domain a client inside a block
 *	of the relay-clients table (else 554 5.7.1).  <postmaster> means
 *	postmaster@domain and resolves like any alias (posthorn user add
 *	makes the first user postmaster).  An alias that loops or expands
 *	too far is refused for that recipient (550 5.4.6).
 *
 *	Message data: only CRLF.CRLF ends DATA.  A bare LF or bare CR
 *	anywhere in the data is not normalised: the message is read to the
 *	real CRLF.CRLF and then REJECTED with 554 5.6.0, so it can never be
 *	ended early or split in two (SMTP smuggling).  Dot-stuffing is
 *	removed, CRLF stored as LF.  A NUL byte is refused the same way
 *	(554 5.6.0).  Also refused after the data: size over
 *	max_message_size or header over max_header_size (552 5.3.4), a line
 *	over smtp_data_line_max (554 5.6.0), more than max_hops Received:
 *	fields (554 5.4.6).  8-bit data without BODY=8BITMIME is accepted.
 *
 *	The message goes to the queue writer on run_dir/enqueue.sock
 *	(enqueue -d, run by master), or where that socket does not exist
 *	(inetd, systemd) to libexec_dir/enqueue through a pipe, led by a
 *	Received: field; in submission mode Date: and Message-ID: are added
 *	where missing.  250 is sent only after enqueue has made the message
 *	durable.
 *
 *	Limits: smtp_line_max (500 5.5.2, the session goes on),
 *	max_recipients (452 4.5.3), max_errors (421 4.7.0 and close; each
 *	error reply after the third waits smtp_error_delay), smtp_timeout
 *	and smtp_data_timeout per read (421 4.4.2 and close), and on top of
 *	them deadlines for a whole command line (smtp_timeout) and a whole
 *	DATA phase (smtp_data_deadline), so a client trickling one byte at a
 *	time cannot hold a session; max_junk_commands NOOP/RSET/VRFY/EXPN/
 *	HELP per session (421 4.7.0).  max_message_size counts the client's
 *	bytes, not the Received: field smtpd adds.
 *
 *	TLS (smtpd/starttls.c): the key and certificate come from fds named
 *	by $POSTHORN_TLS_FDS (master), $CREDENTIALS_DIRECTORY (systemd) or
 *	tls_cert/tls_key (read before root is dropped, inetd).  STARTTLS (RFC
 *	3207) is offered on smtp and submission while there is a key and no
 *	TLS yet; input pipelined after it is discarded, and the session
 *	starts over (EHLO again).  -m smtps: the handshake comes first, then
 *	the greeting (RFC 8314), with submission's rules.  The Received:
 *	field says ESMTPS and "(using TLSv1.3 with cipher ...)".
 *
 *	AUTH (RFC 4954, smtpd/auth_cmd.c): PLAIN and LOGIN, offered over
 *	TLS, or in clear to loopback clients with plaintext_auth_loopback;
 *	on every port alike (otherwise 538 5.7.11).  Credentials are checked
 *	by the auth daemon on run_dir/auth.sock, which delays failures;
 *	535 5.7.8 for wrong ones, 421 4.7.0 and close after
 *	auth_max_failures, 454 4.7.0 when the daemon cannot answer.  An
 *	authenticated client may relay, and may only use a sender it owns:
 *	its address (also with +ext), an alias that expands to it, or <>
 *	(553 5.7.1).  Submission and smtps: AUTH before MAIL (530 5.7.0).
 *	The Received: field then says ESMTPA/ESMTPSA and, with received_auth,
 *	"(Authenticated sender: USER)"; enqueue gets the attribute auth=USER.
 *
 * EXIT STATUS
 *	0 after a session, 2 on a usage error, 111 if the configuration
 *	cannot be read (the client gets 421 first).
 *
 * FILES
 *	CONFIG (default $POSTHORN_CONFIG or /etc/posthorn/posthorn.conf);
 *	beside it domains.cdb, users.cdb, aliases.cdb, relay-clients;
 *	run_dir/auth.sock, run_dir/enqueue.sock, libexec_dir/enqueue.
 */
#include "smtpd.h"
#include "cidr.h"
#include "log.h"
#include "peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(void)
{
	log_error("usage: smtpd [-c CONFIG] [-m smtp|submission|smtps]");
	exit(2);
}

static int host_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-", s[i]))
			return 0;
	return 1;
}

static void client_identity(struct session *s)
{
	peer_client_ip(&s->ip);
	const char *host = getenv("TCPREMOTEHOST");
	buf_puts(&s->rdns, host_valid(host) ? host : "unknown");
	buf_cstr(&s->ip);
	buf_cstr(&s->rdns);
}

static const char *our_hostname(const struct config *c, char *tmp, size_t size)
{
	const char *h = config_str(c, "hostname");
	if (h && *h)
		return h;
	if (gethostname(tmp, size - 1) < 0)
		return "localhost";
	tmp[size - 1] = 0;
	return tmp;
}

/* Under inetd fd 2 may be the client's socket: log to syslog instead. */
static int stderr_is_client(void)
{
	struct stat a, b;
	return fstat(0, &a) == 0 && fstat(2, &b) == 0 && S_ISSOCK(b.st_mode) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void config_fail(const char *msg)
{
	static const char r[] = "421 4.3.0 Service temporarily unavailable\r\n";
	log_error("%s", msg);
	(void)!write(1, r, sizeof r - 1);
	exit(111);
}

int main(int argc, char **argv)
{
	const char *cfgpath = config_default_path(), *mode = "smtp";
	int opt;
	log_init("smtpd", stderr_is_client());
	while ((opt = getopt(argc, argv, "c:m:")) != -1) {
		if (opt == 'c')
			cfgpath = optarg;
		else if (opt == 'm')
			mode = optarg;
		else
			usage();
	}
	if (optind != argc || (strcmp(mode, "smtp") && strcmp(mode, "submission") &&
			       strcmp(mode, "smtps")))
		usage();
	signal(SIGPIPE, SIG_IGN);
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, cfgpath, &err) < 0)
		config_fail(buf_cstr(&err));
	if (config_bool(&cfg, "log_syslog"))
		log_init("smtpd", 1);
	char host[256];
	struct session s;
	int smtps = !strcmp(mode, "smtps");
	session_init(&s, &cfg, smtps || !strcmp(mode, "submission"));
	s.hostname = our_hostname(&cfg, host, sizeof host);
	client_identity(&s);
	if (starttls_setup(&s, smtps) == 0)
		session_run(&s);
	session_free(&s);
	config_free(&cfg);
	buf_free(&err);
	return 0;
}
