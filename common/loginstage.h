/* loginstage: what the login stages of pop3d (pop3d/login/) and imapd
 * (imapd/login/) share: the client connection (address, TLS key, the
 * handshake), the rule for passwords in clear, the SASL exchange loop,
 * asking the auth daemon with one end of a socketpair for the mailbox
 * stage (doc/design.md "Login and mailbox stages"), reading that stage's
 * first line, and the byte relay after a login.  The protocol (greeting,
 * commands, reply syntax) stays in each program. */
#ifndef POSTHORN_LOGINSTAGE_H
#define POSTHORN_LOGINSTAGE_H

#include "authclient.h"
#include "buf.h"
#include "config.h"
#include "io.h"
#include "sasl.h"
#include "tls.h"

struct login_client {
	const struct config *cfg;
	struct io io;
	struct tls_server *tls;	/* NULL: not loaded (yet) */
	int tls_lazy;		/* the key waits on master's fds until STARTTLS/STLS */
	struct buf ip;
	int auth_fd;		/* connection to the auth daemon, -1 until used */
};

/* What both programs do first: log_init (to syslog when fd 2 is the
 * client's socket, under inetd), SIGPIPE ignored, the arguments
 * "[-c CONFIG] [-s | -m MODE | -m MODEs]" (mode "pop3" or "imap"), the
 * config loaded into cfg; on a config error bad_config (a protocol line
 * with CRLF) goes to the client and the program exits 111.  Returns 1 for
 * implicit TLS (-s or -m MODEs), else 0. */
int login_start(int argc, char **argv, const char *prog, const char *mode,
		const char *bad_config, struct config *cfg);

/* Client address, fds 0/1 with timeout_secs idle limit, TCP_NODELAY (replies
 * are batched by io; Nagle would only add a delayed-ACK wait). */
void login_client_init(struct login_client *c, const struct config *cfg, long long timeout_secs);
void login_client_free(struct login_client *c);

/* Loads the key while still privileged (logs why TLS is unavailable;
 * implicit only changes the message), then, started as root (inetd),
 * drops to user_login before a byte from the network is read.  Under
 * master (key and certificate on inherited fds, not root) a plain session
 * leaves the loading to login_tls_ready, as smtpd does: most sessions on
 * 143/110 never ask, and OpenSSL's context costs CPU and about a
 * megabyte for as long as the session is relayed. */
void login_tls_setup(struct login_client *c, int implicit);
/* STARTTLS/STLS may be offered: a key is loaded or waiting, no TLS yet. */
int login_tls_offered(const struct login_client *c);
/* Loads a waiting key (before the STARTTLS/STLS go-ahead is sent):
 * 0 ready, -1 TLS unavailable (logged; no longer offered). */
int login_tls_ready(struct login_client *c);
/* The server handshake (implicit TLS, or after the STARTTLS/STLS reply is
 * flushed), bounded by tls_handshake_timeout; anything the client
 * pipelined before it is discarded.  Logs the outcome.  0 ok, -1 failed
 * (end the connection). */
int login_tls_start(struct login_client *c);

/* Passwords may be sent: over TLS, or in clear from a loopback client
 * when plaintext_auth_loopback = yes. */
int login_plaintext_ok(const struct login_client *c);

/* The SASL exchange after "AUTH/AUTHENTICATE mech [initial]": challenges
 * go out as "+ BASE64" lines (the same in POP3 and IMAP), responses of up
 * to line_max bytes come back; "=" is an empty initial response, "*"
 * cancels.  SASL_DONE (credentials in s), SASL_BAD, SASL_CANCEL, or
 * LOGIN_SASL_EOF (the connection is gone).  Response lines are wiped. */
enum { LOGIN_SASL_EOF = -3 };
int login_sasl(struct login_client *c, struct sasl *s, const char *init, size_t ilen,
	       int has_init, size_t line_max);

/* One login attempt: the credentials and one end of a fresh socketpair go
 * to the auth daemon for service (pop3|imap), which on success hands that
 * end to mailboxd.  Returns r->code (2 ok, 5 wrong credentials, 4
 * temporary); on 2 *stage_fd is this side's end (the caller closes it),
 * else -1.  password is wiped.  After a temporary failure the auth
 * connection is reopened next time. */
int login_auth(struct login_client *c, const char *service, const char *authzid,
	       const char *authcid, struct buf *password, int *stage_fd, struct auth_result *r);

/* The mailbox stage's first line (with its LF), at most max bytes, read
 * byte by byte so nothing after it is taken from the relay; waits up to
 * 30 s.  0 ok, -1 nothing usable (closed, timeout, too long). */
int login_stage_line(int fd, struct buf *line, size_t max);

/* Copies bytes both ways between the client and the stage until either
 * side closes, or nothing moves for the idle timeout (plus a grace for the
 * stage's own autologout message); anything the client already pipelined
 * goes first.  The bytes are never interpreted. */
void login_relay(struct login_client *c, int stage_fd);

#endif
