/* conn: one client connection of the auth daemon (smtpd, a login stage):
 * reads a request (records, each bounded), verifies it, delays a failure
 * as throttle.c says, answers, and waits for the next request.  A request
 * that breaks the protocol ends the connection.  Passwords are wiped as
 * soon as they are checked and never logged. */
#include "auth.h"
#include "io.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define IDLE_TIMEOUT_MS (10 * 60 * 1000)

/* io transport that also picks up an fd sent with SCM_RIGHTS. */
static ssize_t recv_with_fd(struct io *io, void *p, size_t n)
{
	int *passed = io->tr->ctx;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {p, n};
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof u.buf;
	ssize_t r = recvmsg(io->rfd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (r < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int fd;
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
		if (*passed >= 0)
			close(*passed);	/* only one per request: keep the last */
		*passed = fd;
	}
	return r;
}

static ssize_t send_plain(struct io *io, const void *p, size_t n)
{
	return send(io->wfd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void req_wipe(struct buf *b)
{
	if (b->s)
		explicit_bzero(b->s, b->cap);
	buf_free(b);
}

static void req_free(struct auth_req *r)
{
	buf_free(&r->service);
	buf_free(&r->ip);
	req_wipe(&r->user);
	req_wipe(&r->authzid);
	req_wipe(&r->password);
	buf_free(&r->mbox);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

/* Where a record goes and how long it may be; NULL for an unknown type. */
static struct buf *field(struct auth_req *r, char type, size_t *max)
{
	switch (type) {
	case 'Q': *max = AUTH_SERVICE_MAX; return &r->service;
	case 'I': *max = AUTH_IP_MAX; return &r->ip;
	case 'U': *max = AUTH_USER_MAX; return &r->user;
	case 'Z': *max = AUTH_USER_MAX; return &r->authzid;
	case 'P': *max = AUTH_PASS_MAX; return &r->password;
	case 'X': *max = AUTH_SERVICE_MAX; r->have_mbox = 1; return &r->mbox;
	default: return NULL;
	}
}

/* 1 a complete request, 0 clean EOF, -1 protocol error or timeout. */
static int read_request(struct io *io, struct auth_req *r)
{
	struct buf data = BUF_INIT;
	unsigned seen = 0;
	char type;
	int got, rc = -1;
	while ((got = rec_get(io, &type, &data, AUTH_PASS_MAX)) == 1) {
		size_t max;
		struct buf *f = field(r, type, &max);
		if (type == 'E') {
			rc = data.len == 0 && (seen & 0x0f) == 0x0f ? 1 : -1;
			break;
		}
		unsigned bit = f ? 1u << (strchr("QIUPZX", type) - "QIUPZX") : 0;
		if (!f || (seen & bit) || data.len > max || buf_has_nul(&data))
			break;
		seen |= bit;
		buf_copy(f, &data);
		explicit_bzero(data.s, data.len);
	}
	if (got == 0 && seen == 0)
		rc = 0;
	req_wipe(&data);
	return rc;
}

static void answer(struct io *io, int code, const struct buf *user, const char *text)
{
	char c = (char)('0' + code);
	struct buf a = BUF_INIT;
	rec_put(&a, 'C', &c, 1);
	if (code == 2)
		rec_put(&a, 'U', user->s, user->len);
	rec_puts(&a, 'W', text);
	rec_puts(&a, 'E', "");
	io_write(io, a.s, a.len);
	buf_free(&a);
}

static const char *safe_user(struct buf *tmp, const struct auth_req *r)
{
	return log_safe(tmp, r->user.s, r->user.len, 100);
}

/* Verifies one request and answers it. */
static void handle(const struct config *cfg, struct io *io, struct auth_req *r)
{
	struct buf user = BUF_INIT, tmp = BUF_INIT, err = BUF_INIT;
	int code = verify_password(cfg, r, &user);
	req_wipe(&r->password);
	const char *svc = buf_cstr(&r->service), *ip = buf_cstr(&r->ip);
	if (code == 2 && r->have_mbox && mailbox_handoff(cfg, r, &user, &err) < 0) {
		log_warn("user=%s service=%s ip=%s: mailbox hand-off failed: %s",
			 safe_user(&tmp, r), svc, ip, buf_cstr(&err));
		code = 4;
	}
	if (code == 2) {
		log_info("user=%s service=%s ip=%s: ok", safe_user(&tmp, r), svc, ip);
		answer(io, 2, &user, "authenticated");
	} else if (code == 5) {
		unsigned d = throttle_fail(r->ip.s, r->ip.len,
					   (unsigned)config_num(cfg, "auth_fail_delay"));
		log_info("user=%s service=%s ip=%s: failed, answer delayed %us",
			 safe_user(&tmp, r), svc, ip, d);
		if (d)
			sleep(d);
		answer(io, 5, &user, "authentication failed");
	} else {
		log_warn("user=%s service=%s ip=%s: temporary failure", safe_user(&tmp, r), svc, ip);
		answer(io, 4, &user, "temporary authentication failure");
	}
	buf_free(&user);
	buf_free(&tmp);
	buf_free(&err);
}

void conn_serve(const struct config *cfg, int fd)
{
	struct io io;
	int passed = -1;
	struct io_transport tr = {recv_with_fd, send_plain, &passed};
	struct auth_req r;
	memset(&r, 0, sizeof r);
	r.fd = -1;
	io_init(&io, fd, fd, IDLE_TIMEOUT_MS);
	io.tr = &tr;
	int got;
	while ((got = read_request(&io, &r)) == 1) {
		r.fd = passed;
		passed = -1;
		handle(cfg, &io, &r);
		req_free(&r);
		if (io_flush(&io) < 0)
			break;
	}
	if (got < 0)
		log_warn("protocol error or timeout on a client connection: closed");
	if (io.in.s)
		explicit_bzero(io.in.s, io.in.cap);
	req_free(&r);
	if (passed >= 0)
		close(passed);
	io_free(&io);
}
