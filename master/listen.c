/* listen.c: the master's listening sockets and the per-connection fork.
 * Services are a table (name, standard port, program, account) so that
 * submission, SMTPS, POP3 and IMAP are one line each when they come; the
 * services key picks which of them listen, and a reload binds, moves and
 * closes listeners to match (listen_reload).  A
 * connection over max_connections or max_connections_per_ip gets a 421
 * from the master itself, without a fork. */
#include "master.h"
#include "log.h"
#include "privsep.h"
#include "tls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* tls: what the child gets (doc/design.md "TLS keys"): TLS_NONE nothing,
 * TLS_OFFER the key and certificate on fds 3,4 if they can be opened
 * (STARTTLS), TLS_NEED the same, and no session without them (implicit). */
enum { TLS_NONE, TLS_OFFER, TLS_NEED };

struct service {
	const char *name;
	int std_port;
	const char *prog;
	const char *mode;	/* smtpd -m MODE; NULL: no -m */
	int tls;
	const char *user_key;
	int fd;
};

static struct service services[] = {
	{"smtp", 25, "smtpd", "smtp", TLS_OFFER, "user_smtpd", -1},
	{"submission", 587, "smtpd", "submission", TLS_OFFER, "user_smtpd", -1},
	{"smtps", 465, "smtpd", "smtps", TLS_NEED, "user_smtpd", -1},
	{"pop3", 110, "pop3d-login", "pop3", TLS_OFFER, "user_login", -1},
	{"pop3s", 995, "pop3d-login", "pop3s", TLS_NEED, "user_login", -1},
	{"imap", 143, "imapd-login", "imap", TLS_OFFER, "user_login", -1},
	{"imaps", 993, "imapd-login", "imaps", TLS_NEED, "user_login", -1},
};
#define NSERVICES (sizeof services / sizeof services[0])
/* where each service's fd is bound: reload compares */
static struct bound {
	int port;
	char ip[CHILD_IP_MAX];
} bound[NSERVICES];

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

static int make_addr(const char *ip, int port, union sockaddr_any *a, socklen_t *len)
{
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, ip, &a->in4.sin_addr) == 1) {
		a->in4.sin_family = AF_INET;
		a->in4.sin_port = htons((uint16_t)port);
		*len = sizeof a->in4;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons((uint16_t)port);
		*len = sizeof a->in6;
		return 0;
	}
	return -1;
}

static int bind_one(const char *ip, int port)
{
	union sockaddr_any a;
	socklen_t len;
	if (port <= 0 || port > 65535 || make_addr(ip, port, &a, &len) < 0) {
		log_error("cannot listen on %s port %d: bad address or port", ip, port);
		return -1;
	}
	int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, &a.sa, len) < 0 || listen(fd, 128) < 0) {
		log_error("cannot listen on %s port %d: %s", ip, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The services key: "all", or service names separated by spaces or commas. */
static int wanted(const struct config *cfg, const char *name)
{
	const char *v = config_str(cfg, "services");
	if (!v || !strcmp(v, "all"))
		return 1;
	size_t n = strlen(name);
	for (const char *p = v; *p;) {
		p += strspn(p, " ,\t");
		size_t len = strcspn(p, " ,\t");
		if (len == n && !strncmp(p, name, n))
			return 1;
		p += len;
	}
	return 0;
}

/* Every name in services must be one of ours: a typo must not silently
 * close a port.  0 ok, -1 (logged, and said in why). */
static int services_valid(const struct config *cfg, struct buf *why)
{
	const char *v = config_str(cfg, "services");
	if (!v || !strcmp(v, "all"))
		return 0;
	for (const char *p = v; *p;) {
		p += strspn(p, " ,\t");
		size_t len = strcspn(p, " ,\t"), i = 0;
		while (len && i < NSERVICES &&
		       (strlen(services[i].name) != len || strncmp(p, services[i].name, len)))
			i++;
		if (len && i == NSERVICES) {
			buf_printf(why, "services: unknown service \"%.*s\"", (int)len, p);
			log_error("%s: %s", cfg->path, buf_cstr(why));
			return -1;
		}
		p += len;
	}
	return 0;
}

int listen_open(const struct config *cfg)
{
	const char *ip = config_str(cfg, "listen");
	struct buf why = BUF_INIT;
	int bad = services_valid(cfg, &why);
	buf_free(&why);
	if (bad < 0)
		return -1;
	for (size_t i = 0; i < NSERVICES; i++) {
		if (!wanted(cfg, services[i].name))
			continue;
		int port = config_port(cfg, services[i].std_port);
		services[i].fd = bind_one(ip, port);
		if (services[i].fd < 0)
			return -1;
		bound[i].port = port;
		snprintf(bound[i].ip, sizeof bound[i].ip, "%s", ip);
		log_info("listening for %s on %s port %d", services[i].name, ip, port);
	}
	return 0;
}

void listen_close(void)
{
	for (size_t i = 0; i < NSERVICES; i++)
		if (services[i].fd >= 0) {
			close(services[i].fd);
			services[i].fd = -1;
		}
}

/* A refused connection is not closed at once: closing with the client's
 * unread bytes in the socket sends a reset, which can destroy the 421 on
 * its way.  It lingers, half-closed, until the client closes or 2 s pass. */
#define LINGER_MAX 32
#define LINGER_SECS 2
static struct lingering {
	int fd;
	time_t until;
} lingering[LINGER_MAX];
static int nlingering;

static void linger_add(int fd)
{
	shutdown(fd, SHUT_WR);
	if (nlingering == LINGER_MAX) {
		close(fd);
		return;
	}
	lingering[nlingering].fd = fd;
	lingering[nlingering].until = time(NULL) + LINGER_SECS;
	nlingering++;
}

static void linger_drop(int i)
{
	close(lingering[i].fd);
	lingering[i] = lingering[--nlingering];
}

static void linger_read(int fd)
{
	char junk[4096];
	for (int i = 0; i < nlingering; i++) {
		if (lingering[i].fd != fd)
			continue;
		ssize_t r = read(fd, junk, sizeof junk);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			linger_drop(i);
		return;
	}
}

static void linger_expire(void)
{
	time_t now = time(NULL);
	for (int i = 0; i < nlingering;)
		if (lingering[i].until <= now)
			linger_drop(i);
		else
			i++;
}

int listen_busy(void)
{
	return nlingering > 0;
}

int listen_pollfds(struct pollfd *p)
{
	int n = 0;
	linger_expire();
	for (int i = 0; i < nlingering; i++) {
		p[n].fd = lingering[i].fd;
		p[n].events = POLLIN;
		p[n].revents = 0;
		n++;
	}
	for (size_t i = 0; i < NSERVICES; i++)
		if (services[i].fd >= 0) {
			p[n].fd = services[i].fd;
			p[n].events = POLLIN;
			p[n].revents = 0;
			n++;
		}
	return n;
}

/* "ip" and "port" of a socket address, for the environment and the log. */
static void addr_text(const union sockaddr_any *a, char *ip, size_t iplen, char *port, size_t plen)
{
	int pn = 0;
	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, (socklen_t)iplen);
		pn = ntohs(a->in6.sin6_port);
		/* v4-mapped clients are logged and capped as plain IPv4 */
		if (!strncmp(ip, "::ffff:", 7) && strchr(ip + 7, '.'))
			memmove(ip, ip + 7, strlen(ip + 7) + 1);
	} else if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in4.sin_addr, ip, (socklen_t)iplen);
		pn = ntohs(a->in4.sin_port);
	} else {
		snprintf(ip, iplen, "unknown");
	}
	snprintf(port, plen, "%d", pn);
}

static void refuse(const struct config *cfg, const struct service *s, int fd, const char *ip,
		   const char *why)
{
	struct buf msg = BUF_INIT;
	if (!strcmp(s->prog, "pop3d-login"))	/* the POP3 greeting's place (RFC 2449 8.1.2) */
		buf_puts(&msg, "-ERR [SYS/TEMP] too many connections, try again later\r\n");
	else if (!strcmp(s->prog, "imapd-login"))	/* a greeting may be BYE (RFC 3501 7.1.5) */
		buf_puts(&msg, "* BYE [UNAVAILABLE] too many connections, try again later\r\n");
	else
		buf_printf(&msg, "421 4.7.0 %s too many connections, try again later\r\n",
			   config_str(cfg, "hostname"));
	/* non-blocking: a client that does not read cannot stall the master */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ssize_t w = write(fd, msg.s, msg.len);
	(void)w;
	linger_add(fd);
	buf_free(&msg);
	log_warn("refused connection from %s: %s", ip, why);
}

/* fd on a descriptor at or above 100, close-on-exec: out of the way of
 * the fixed numbers (3, 4, 5...) it is moved to next. */
static int fd_high(int fd)
{
	if (fd < 0)
		return -1;
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	close(fd);
	return h;
}

/* An environment entry "NAME=value\0" for spawn_start(). */
static void env_add(struct buf *env, const char *name, const char *value)
{
	buf_printf(env, "%s=%s", name, value);
	buf_putc(env, 0);
}

/* tls_sni_dir's HOST.pem files after the key (fds 5, 6, ... in the child)
 * and POSTHORN_TLS_SNI=HOST.pem=5,...: the child cannot read them either.
 * Opened here, as root, by the master itself. */
static void open_sni_fds(const struct config *cfg, struct spawn *sp)
{
	const char *v = config_str(cfg, "tls_sni_dir");
	if (!v || !*v)
		return;
	struct buf dir = BUF_INIT, path = BUF_INIT, list = BUF_INIT;
	tls_path(cfg, "tls_sni_dir", &dir);
	int dfd = open(dir.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;
	int n = 0;
	while (d && n < SNI_FDS_MAX && sp->nfds < SPAWN_FDS_MAX && (e = readdir(d))) {
		if (!tls_sni_file_ok(e->d_name))
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/%s", dir.s, e->d_name);
		int fd = fd_high(open(buf_cstr(&path), O_RDONLY | O_CLOEXEC));
		if (fd < 0) {
			log_warn("SNI certificate %s: %s", path.s, strerror(errno));
			continue;
		}
		buf_printf(&list, "%s%s=%d", n ? "," : "", e->d_name, 3 + sp->nfds);
		sp->fds[sp->nfds++] = fd;
		n++;
	}
	if (d)
		closedir(d);
	else if (dfd >= 0)
		close(dfd);
	env_add(&sp->env, "POSTHORN_TLS_SNI", list.s ? buf_cstr(&list) : "");
	buf_free(&dir);
	buf_free(&path);
	buf_free(&list);
}

/* tls_cert and tls_key for fds 3 and 4 in the child and
 * POSTHORN_TLS_FDS=3,4; the service user cannot open the key itself.
 * 0 ok, -1 (logged): no TLS for this one (POSTHORN_TLS_FDS empty). */
static int open_tls_fds(const struct config *cfg, const char *ip, struct spawn *sp)
{
	struct buf cp = BUF_INIT, kp = BUF_INIT;
	tls_path(cfg, "tls_cert", &cp);
	tls_path(cfg, "tls_key", &kp);
	int c = fd_high(open(cp.s, O_RDONLY | O_CLOEXEC));
	int k = fd_high(open(kp.s, O_RDONLY | O_CLOEXEC));
	int r = 0;
	if (c < 0 || k < 0) {
		log_warn("TLS key or certificate unavailable for %s: %s: %s", ip,
			 c < 0 ? cp.s : kp.s, strerror(errno));
		if (c >= 0)
			close(c);
		if (k >= 0)
			close(k);
		env_add(&sp->env, "POSTHORN_TLS_FDS", "");	/* smtpd: run without TLS */
		r = -1;
	} else {
		sp->fds[sp->nfds++] = c;
		sp->fds[sp->nfds++] = k;
		env_add(&sp->env, "POSTHORN_TLS_FDS", "3,4");
		open_sni_fds(cfg, sp);
	}
	buf_free(&cp);
	buf_free(&kp);
	return r;
}

static void spawn_free(struct spawn *sp)
{
	for (int i = 0; i < sp->nfds; i++)
		close(sp->fds[i]);
	sp->nfds = 0;
	buf_free(&sp->env);
}

/* The connection's program, as the service user, with the connection on
 * fds 0 and 1 (doc/design.md "TLS keys" for the fds from 3 on).  Returns
 * its pid, 0 when refused here (implicit TLS without a key), -1 failure. */
static pid_t start_service(const struct config *cfg, const struct service *s, int fd,
			   const union sockaddr_any *peer)
{
	char rip[CHILD_IP_MAX], rport[16], lip[CHILD_IP_MAX], lport[16];
	union sockaddr_any local;
	socklen_t llen = sizeof local;
	addr_text(peer, rip, sizeof rip, rport, sizeof rport);
	if (getsockname(fd, &local.sa, &llen) < 0)
		memset(&local, 0, sizeof local);
	addr_text(&local, lip, sizeof lip, lport, sizeof lport);
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s", config_str(cfg, "libexec_dir"), s->prog);
	char *args[] = {(char *)s->prog, "-c", cfg->path, s->mode ? "-m" : NULL,
			(char *)s->mode, NULL};
	struct spawn sp = {.path = buf_cstr(&path), .argv = args, .env = BUF_INIT, .nfds = 0,
			   .conn = fd, .user = config_str(cfg, s->user_key),
			   /* with user_login's group: it may connect to run_dir/auth.sock */
			   .extra_gid = login_gid(cfg)};
	env_add(&sp.env, "PROTO", "TCP");
	env_add(&sp.env, "TCPREMOTEIP", rip);
	env_add(&sp.env, "TCPREMOTEPORT", rport);
	env_add(&sp.env, "TCPLOCALIP", lip);
	env_add(&sp.env, "TCPLOCALPORT", lport);
	pid_t pid = 0;
	if (s->tls != TLS_NONE && open_tls_fds(cfg, rip, &sp) < 0 && s->tls == TLS_NEED)
		log_warn("refused %s connection from %s: no TLS key", s->name, rip);
	else
		pid = spawn_start(&sp);
	spawn_free(&sp);
	buf_free(&path);
	return pid;
}

static void accept_one(const struct config *cfg, const struct service *s)
{
	union sockaddr_any peer;
	socklen_t plen = sizeof peer;
	int fd = accept4(s->fd, &peer.sa, &plen, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			log_warn("accept on %s: %s", s->name, strerror(errno));
		return;
	}
	char ip[CHILD_IP_MAX], port[16];
	addr_text(&peer, ip, sizeof ip, port, sizeof port);
	if (children_count(CHILD_SMTPD) >= (size_t)config_num(cfg, "max_connections"))
		return refuse(cfg, s, fd, ip, "max_connections reached");
	if (children_count_ip(ip) >= (size_t)config_num(cfg, "max_connections_per_ip"))
		return refuse(cfg, s, fd, ip, "max_connections_per_ip reached");
	pid_t pid = start_service(cfg, s, fd, &peer);
	close(fd);
	if (pid < 0) {
		log_error("cannot start %s for %s: %s", s->prog, ip, strerror(errno));
		return;
	}
	if (pid == 0)
		return;
	child_add(pid, CHILD_SMTPD, ip);
	log_info("%s connection from %s port %s (pid %ld)", s->name, ip, port, (long)pid);
}

void listen_handle(const struct config *cfg, const struct pollfd *p, int n)
{
	for (int i = 0; i < n; i++) {
		if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		linger_read(p[i].fd);
		for (size_t j = 0; j < NSERVICES; j++)
			if (services[j].fd == p[i].fd)
				accept_one(cfg, &services[j]);
	}
}

/* Connections already queued on a listener that reload closes are
 * accepted first (under the new config): none is reset. */
static void accept_backlog(const struct config *cfg, const struct service *s)
{
	struct pollfd p = {s->fd, POLLIN, 0};
	for (int i = 0; i < 1024 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN); i++)
		accept_one(cfg, s);
}

int listen_reload(const struct config *cfg, struct buf *why)
{
	const char *ip = config_str(cfg, "listen");
	int fresh[NSERVICES];
	if (services_valid(cfg, why) < 0)
		return -1;
	for (size_t i = 0; i < NSERVICES; i++) {
		int port = config_port(cfg, services[i].std_port);
		fresh[i] = -1;
		if (!wanted(cfg, services[i].name))
			continue;
		if (services[i].fd >= 0 && bound[i].port == port && !strcmp(bound[i].ip, ip))
			continue;
		/* all new sockets first: one that fails leaves the old set whole */
		if ((fresh[i] = bind_one(ip, port)) < 0) {
			buf_printf(why, "cannot listen for %s on %s port %d: %s", services[i].name, ip,
				   port, strerror(errno));
			for (size_t k = 0; k < i; k++)
				if (fresh[k] >= 0)
					close(fresh[k]);
			return -1;
		}
	}
	for (size_t i = 0; i < NSERVICES; i++) {
		struct service *s = &services[i];
		if (s->fd >= 0 && !wanted(cfg, s->name)) {	/* taken out of services */
			accept_backlog(cfg, s);
			close(s->fd);
			s->fd = -1;
			log_info("stopped listening for %s on %s port %d", s->name, bound[i].ip,
				 bound[i].port);
		}
		if (fresh[i] < 0)
			continue;
		if (s->fd >= 0) {
			accept_backlog(cfg, s);
			close(s->fd);
			log_info("stopped listening for %s on %s port %d", s->name, bound[i].ip,
				 bound[i].port);
		}
		s->fd = fresh[i];
		bound[i].port = config_port(cfg, s->std_port);
		snprintf(bound[i].ip, sizeof bound[i].ip, "%s", ip);
		log_info("listening for %s on %s port %d", s->name, ip, bound[i].port);
	}
	return 0;
}
