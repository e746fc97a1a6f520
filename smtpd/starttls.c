/* starttls: TLS in smtpd.  Loading the key (before any network byte is
 * read, then dropping root when started by inetd), the STARTTLS command of
 * RFC 3207 on smtp and submission, implicit TLS for -m smtps (RFC 8314),
 * the TLS comment of the Received: field, and the first-read check that
 * turns a TLS ClientHello on a plain port into one 500 and a close.
 * Called from smtpd.c, session.c and headers.c. */
#include "smtpd.h"
#include "log.h"
#include "privsep.h"
#include "tls.h"

#include <stdlib.h>
#include <string.h>

static int handshake_ms(const struct session *s)
{
	long long t = config_num(s->cfg, "tls_handshake_timeout");
	return t <= 0 || t > 3600 ? 30000 : (int)(t * 1000);
}

/* inetd as root: the key is read, now become user_smtpd (with the login
 * group, the one that may use auth.sock) before reading the client. */
static void drop_root(const struct session *s)
{
	gid_t extra = (gid_t)-1;
	if (!priv_is_root())
		return;
	if (group_lookup(config_str(s->cfg, "user_login"), &extra) < 0)
		extra = (gid_t)-1;
	priv_drop(config_str(s->cfg, "user_smtpd"), extra);
}

static void established(struct session *s)
{
	struct buf d = BUF_INIT;
	tls_describe(&s->io, &d);
	log_info("TLS established from %s: %s", buf_cstr(&s->ip), buf_cstr(&d));
	buf_free(&d);
}

static int server_start(struct session *s)
{
	struct buf err = BUF_INIT;
	int r = tls_server_start(&s->io, s->tls, handshake_ms(s), &err);
	if (r < 0)
		log_info("TLS handshake failed from %s: %s", buf_cstr(&s->ip), buf_cstr(&err));
	else
		established(s);
	buf_free(&err);
	return r;
}

/* Under master the key and certificate wait on inherited fds: most
 * sessions never ask for STARTTLS, so the PEM parsing and the OpenSSL
 * context (milliseconds of CPU) are left until one does. */
static int load_lazily(const struct session *s, int implicit)
{
	(void)s;
	const char *fds = getenv("POSTHORN_TLS_FDS");	/* "" = master has no key */
	return !implicit && !priv_is_root() && fds && *fds;
}

static int tls_load(struct session *s, int implicit)
{
	struct buf err = BUF_INIT;
	int r = tls_server_new(&s->tls, s->cfg, &err);
	if (r < 0) {
		log_warn("TLS unavailable%s: %s", implicit ? ", refusing the smtps session" :
			 ", STARTTLS not offered", buf_cstr(&err));
		s->tls = NULL;
	}
	buf_free(&err);
	return r;
}

int starttls_setup(struct session *s, int implicit)
{
	if (load_lazily(s, implicit)) {
		s->tls_lazy = 1;
		return 0;
	}
	tls_load(s, implicit);
	drop_root(s);
	s->tls_probed = implicit;	/* a ClientHello is right on smtps */
	if (!implicit)
		return 0;
	if (!s->tls)
		return -1;
	return server_start(s);
}

void starttls_free(struct session *s)
{
	tls_end(&s->io);
	tls_server_free(s->tls);
	s->tls = NULL;
}

int starttls_offer(const struct session *s)
{
	return (s->tls || s->tls_lazy) && !tls_active(&s->io);
}

void cmd_starttls(struct session *s, size_t arglen)
{
	if (arglen) {
		reply_error(s, 501, "5.5.4", "Syntax: STARTTLS (no parameters)");
		return;
	}
	if (tls_active(&s->io)) {
		reply_error(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	if (!s->tls && s->tls_lazy) {
		s->tls_lazy = 0;
		tls_load(s, 0);
	}
	if (!s->tls) {
		reply_error(s, 454, "4.7.0", "TLS not available due to temporary reason");
		return;
	}
	reply(s, 220, "2.0.0", "Ready to start TLS");
	/* tls_server_start drops whatever the client pipelined after the
	 * command: it was sent in clear and must not count as protected. */
	if (server_start(s) < 0) {
		s->quit = 1;
		return;
	}
	/* RFC 3207 4.2: forget everything learned before the handshake */
	session_reset(s);
	buf_reset(&s->helo);
	s->esmtp = 0;
}

/* The first bytes of a plain session: 0x16 0x03 is a TLS record, i.e. a
 * client that wanted implicit TLS.  0 go on, -1 answered and closing,
 * -2 timeout before anything came. */
int starttls_probe(struct session *s)
{
	s->tls_probed = 1;
	if (s->io.in.len == 0 && io_fill(&s->io) < 0)
		return s->io.err == IO_ERR_TIMEOUT ? -2 : 0;
	if (s->io.in.len < 2 || (unsigned char)s->io.in.s[0] != 0x16 ||
	    (unsigned char)s->io.in.s[1] != 0x03)
		return 0;
	log_info("TLS ClientHello on a plain SMTP port from %s: closing", buf_cstr(&s->ip));
	io_discard_input(&s->io);
	reply(s, 500, "5.5.2", "Error: this port speaks SMTP; use STARTTLS");
	s->quit = 1;
	return -1;
}

void starttls_received(struct session *s, struct buf *out)
{
	if (!tls_active(&s->io))
		return;
	buf_puts(out, "\t(using ");
	tls_describe(&s->io, out);
	buf_puts(out, ")\n");
}
