/* loginstage.c: the code pop3d-login and imapd-login share (see
 * loginstage.h): connection setup, TLS, the clear-text rule, SASL loop,
 * the auth daemon request with the mailbox hand-off, and the relay. */
#include "loginstage.h"
#include "log.h"
#include "peer.h"
#include "privsep.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define STAGE_LINE_MS 30000
#define RELAY_CHUNK 65536
#define RELAY_GRACE_MS 5000

static int stderr_is_client(void)
{
	struct stat a, b;
	return fstat(0, &a) == 0 && fstat(2, &b) == 0 && S_ISSOCK(b.st_mode) &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static void usage(const char *prog, const char *mode)
{
	die(2, "usage: %s [-c CONFIG] [-s | -m %s|%ss]", prog, mode, mode);
}

/* -m MODE: 0, -m MODEs: 1, anything else: -1. */
static int mode_tls(const char *arg, const char *mode)
{
	size_t n = strlen(mode);
	if (strncmp(arg, mode, n))
		return -1;
	return !strcmp(arg + n, "") ? 0 : !strcmp(arg + n, "s") ? 1 : -1;
}

int login_start(int argc, char **argv, const char *prog, const char *mode,
		const char *bad_config, struct config *cfg)
{
	const char *conf = NULL;
	int opt, implicit = 0;
	log_init(prog, stderr_is_client());
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "c:sm:")) != -1) {
		if (opt == 'c')
			conf = optarg;
		else if (opt == 's')
			implicit = 1;
		else if (opt == 'm' && mode_tls(optarg, mode) >= 0)
			implicit = mode_tls(optarg, mode);
		else
			usage(prog, mode);
	}
	if (optind != argc)
		usage(prog, mode);
	struct buf err = BUF_INIT;
	if (config_load(cfg, conf ? conf : config_default_path(), &err) < 0) {
		write_all(1, bad_config, strlen(bad_config));
		die(111, "%s", buf_cstr(&err));
	}
	buf_free(&err);
	return implicit;
}

void login_client_init(struct login_client *c, const struct config *cfg, long long timeout_secs)
{
	memset(c, 0, sizeof *c);
	c->cfg = cfg;
	c->auth_fd = -1;
	peer_client_ip(&c->ip);
	int one = 1;
	setsockopt(1, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (timeout_secs > 86400)
		timeout_secs = 86400;
	io_init(&c->io, 0, 1, (int)timeout_secs * 1000);
}

void login_client_free(struct login_client *c)
{
	tls_end(&c->io);
	tls_server_free(c->tls);
	c->tls = NULL;
	io_free(&c->io);
	if (c->auth_fd >= 0)
		close(c->auth_fd);
	c->auth_fd = -1;
	buf_free(&c->ip);
}

static void tls_load(struct login_client *c, int implicit)
{
	struct buf err = BUF_INIT;
	if (tls_server_new(&c->tls, c->cfg, &err) < 0) {
		log_warn("TLS unavailable%s: %s",
			 implicit ? ", refusing the implicit TLS session" : ", STARTTLS not offered",
			 buf_cstr(&err));
		c->tls = NULL;
	}
	buf_free(&err);
}

void login_tls_setup(struct login_client *c, int implicit)
{
	const char *fds = getenv("POSTHORN_TLS_FDS");	/* "" = master has no key */
	if (!implicit && !priv_is_root() && fds && *fds) {
		c->tls_lazy = 1;
		return;
	}
	tls_load(c, implicit);
	if (priv_is_root())
		priv_drop(config_str(c->cfg, "user_login"), (gid_t)-1);
}

int login_tls_offered(const struct login_client *c)
{
	return (c->tls || c->tls_lazy) && !tls_active(&c->io);
}

int login_tls_ready(struct login_client *c)
{
	if (c->tls_lazy) {
		c->tls_lazy = 0;
		tls_load(c, 0);
	}
	return c->tls ? 0 : -1;
}

int login_tls_start(struct login_client *c)
{
	if (!c->tls)
		return -1;
	struct buf err = BUF_INIT;
	long long t = config_num(c->cfg, "tls_handshake_timeout");
	int r = tls_server_start(&c->io, c->tls, t > 0 && t < 3600 ? (int)t * 1000 : 30000, &err);
	if (r < 0) {
		log_info("TLS handshake failed from %s: %s", buf_cstr(&c->ip), buf_cstr(&err));
	} else {
		buf_reset(&err);
		tls_describe(&c->io, &err);
		log_info("TLS established from %s: %s", buf_cstr(&c->ip), buf_cstr(&err));
	}
	buf_free(&err);
	return r;
}

static int is_loopback(const struct buf *ip)
{
	return (ip->len >= 4 && !memcmp(ip->s, "127.", 4)) || buf_eq(ip, "::1");
}

int login_plaintext_ok(const struct login_client *c)
{
	return tls_active(&c->io) ||
	       (config_bool(c->cfg, "plaintext_auth_loopback") && is_loopback(&c->ip));
}

/* One "+ challenge" out, one response line back (line end removed). */
static int sasl_round(struct login_client *c, const struct buf *ch, struct buf *line, size_t max)
{
	io_puts(&c->io, "+ ");
	io_write(&c->io, ch->s, ch->len);
	io_puts(&c->io, "\r\n");
	buf_reset(line);
	if (io_flush(&c->io) < 0 || io_getline(&c->io, line, max) != LINE_OK)
		return -1;
	while (line->len && (line->s[line->len - 1] == '\n' || line->s[line->len - 1] == '\r'))
		line->len--;
	return 0;
}

int login_sasl(struct login_client *c, struct sasl *s, const char *init, size_t ilen,
	       int has_init, size_t line_max)
{
	struct buf ch = BUF_INIT, line = BUF_INIT;
	int r;
	if (has_init && ilen == 1 && init[0] == '=')
		r = sasl_step(s, "", 0, &ch);	/* RFC 5034 4, RFC 4959 3: an empty response */
	else
		r = sasl_step(s, has_init ? init : NULL, has_init ? ilen : 0, &ch);
	while (r == SASL_CONTINUE) {
		if (sasl_round(c, &ch, &line, line_max) < 0) {
			r = LOGIN_SASL_EOF;
			break;
		}
		r = sasl_step(s, line.s, line.len, &ch);
		if (line.s)
			explicit_bzero(line.s, line.len);
	}
	if (line.s)
		explicit_bzero(line.s, line.cap);
	buf_free(&ch);
	buf_free(&line);
	return r;
}

int login_auth(struct login_client *c, const char *service, const char *authzid,
	       const char *authcid, struct buf *password, int *stage_fd, struct auth_result *r)
{
	int sv[2] = {-1, -1};
	r->code = 4;
	*stage_fd = -1;
	if ((c->auth_fd >= 0 || auth_connect(&c->auth_fd, c->cfg) == 0) &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		auth_check(c->auth_fd, service, buf_cstr(&c->ip), authzid, authcid,
			   buf_cstr(password), sv[1], service, r);
		close(sv[1]);
	}
	if (password->s)
		explicit_bzero(password->s, password->len);
	buf_reset(password);
	if (r->code == 2)
		*stage_fd = sv[0];
	else if (sv[0] >= 0)
		close(sv[0]);
	if (r->code != 2 && r->code != 5 && c->auth_fd >= 0) {
		close(c->auth_fd);	/* reconnect next time */
		c->auth_fd = -1;
	}
	return r->code;
}

int login_stage_line(int fd, struct buf *line, size_t max)
{
	char ch;
	while (line->len < max) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, STAGE_LINE_MS) <= 0 || read(fd, &ch, 1) != 1)
			return -1;
		buf_putc(line, ch);
		if (ch == '\n')
			return 0;
	}
	return -1;
}

/* Client -> stage: whatever io holds (pipelined commands first). */
static int to_stage(struct login_client *c, int fd)
{
	if (c->io.in.len == 0)
		return 0;
	int r = write_all(fd, c->io.in.s, c->io.in.len);
	buf_reset(&c->io.in);
	return r;
}

/* Stage -> client: 1 more to come, 0 the stage closed, -1 error. */
static int from_stage(struct login_client *c, int fd)
{
	static char chunk[RELAY_CHUNK];
	ssize_t n = read(fd, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return n == 0 ? 0 : -1;
	io_write(&c->io, chunk, (size_t)n);
	return io_flush(&c->io) < 0 ? -1 : 1;
}

void login_relay(struct login_client *c, int fd)
{
	/* the stage has the same idle limit and says so to the client: wait
	 * a little longer, so its autologout message gets through */
	int timeout = c->io.timeout_ms > 0 ? c->io.timeout_ms + RELAY_GRACE_MS : -1;
	if (io_flush(&c->io) < 0 || to_stage(c, fd) < 0)
		return;
	for (;;) {
		struct pollfd p[2] = {{c->io.rfd, POLLIN, 0}, {fd, POLLIN, 0}};
		int n = poll(p, 2, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* idle both ways: the stage ends on EOF */
		if (p[1].revents && from_stage(c, fd) <= 0)
			break;
		if (p[0].revents) {
			ssize_t r = io_fill(&c->io);
			if (r <= 0 || to_stage(c, fd) < 0)
				break;
		}
	}
	/* drain what the stage already wrote (its QUIT/LOGOUT reply) */
	shutdown(fd, SHUT_WR);
	while (from_stage(c, fd) > 0)
		;
}
