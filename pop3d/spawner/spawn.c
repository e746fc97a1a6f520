/* spawn.c: one hand-off from the auth daemon to mailboxd: a SOCK_SEQPACKET
 * packet of records (Q<pop3|imap> U<verified address> I<client ip> E0:)
 * with the session fd as SCM_RIGHTS; mailboxd finds the user's Maildir in
 * users.cdb exactly as local does (mail_dir/MAILBOX), starts the mailbox
 * stage on that fd and answers C2 (started) or C4 W<reason>.  Used by
 * mailboxd.c. */
#include "mailboxd.h"
#include "log.h"
#include "maildir.h"
#include "record.h"
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void mbox_req_free(struct mbox_req *r)
{
	buf_free(&r->service);
	buf_free(&r->user);
	buf_free(&r->ip);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int mbox_parse(const char *p, size_t n, struct mbox_req *r)
{
	size_t off = 0;
	char type;
	const char *data;
	size_t len;
	int k;
	while ((k = rec_parse(p, n, &off, &type, &data, &len)) == 1) {
		struct buf *dst = type == 'Q' ? &r->service : type == 'U' ? &r->user :
				  type == 'I' ? &r->ip : NULL;
		if (type == 'E')
			return off == n && r->service.len && r->user.len ? 0 : -1;
		if (!dst || dst->len || len == 0 || len > 320 || memchr(data, 0, len) ||
		    memchr(data, '\n', len))
			return -1;
		buf_set(dst, data, len);
		buf_cstr(dst);
	}
	return -1;
}

/* One packet with at most one fd. */
static ssize_t recv_packet(int conn, char *p, size_t n, int *fd)
{
	struct pollfd pf = {conn, POLLIN, 0};
	if (poll(&pf, 1, MBOX_RECV_TIMEOUT_MS) <= 0)
		return -1;
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {p, n};
	struct msghdr mh;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.b;
	mh.msg_controllen = sizeof u.b;
	ssize_t r = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			int got;
			memcpy(&got, CMSG_DATA(c), sizeof got);
			if (*fd >= 0)
				close(got);	/* only one fd per request */
			else
				*fd = got;
		}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -1;
	return r;
}

static void answer(int conn, int code, const char *text)
{
	struct buf a = BUF_INIT;
	char c[2] = {(char)('0' + code), 0};
	rec_puts(&a, 'C', c);
	rec_puts(&a, 'W', text);
	rec_puts(&a, 'E', "");
	ssize_t w = send(conn, a.s, a.len, MSG_NOSIGNAL);
	(void)w;
	buf_free(&a);
}

/* users.cdb "mailbox:quota" -> mail_dir/mailbox and the quota in bytes
 * (0: none): 0 ok, -1 (reason). */
static int find_maildir(const struct config *cfg, const struct buf *user, struct buf *dir,
			unsigned long long *quota, const char **why)
{
	struct resolver res;
	struct buf val = BUF_INIT;
	int r = -1;
	*why = "users table unreadable";
	if (resolver_open(&res, cfg) < 0)
		return -1;
	int k = resolve_user(&res, user->s, user->len, &val);
	resolver_close(&res);
	struct buf mailbox = BUF_INIT;
	int ok = k == 1 && resolve_mailbox(&val, &mailbox, quota) == 0;
	if (k == 0)
		*why = "no such user in users.cdb";
	else if (k == 1 && !ok)
		*why = "bad mailbox in users.cdb";
	if (ok) {
		buf_printf(dir, "%s/%.*s", config_str(cfg, "mail_dir"), (int)mailbox.len, mailbox.s);
		/* a user who never got mail has no Maildir yet: an empty one */
		r = maildir_make(buf_cstr(dir));
		*why = "cannot create the Maildir";
	}
	buf_free(&mailbox);
	buf_free(&val);
	return r;
}

static const char *stage_program(const struct buf *service)
{
	if (buf_eq(service, "pop3"))
		return "pop3d";
	if (buf_eq(service, "imap"))
		return "imapd";
	return NULL;
}

static pid_t start_stage(const struct config *cfg, const struct mbox_req *r, const char *prog,
			 const struct buf *dir, unsigned long long quota)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	signal(SIGCHLD, SIG_DFL);
	if (dup2(r->fd, 0) < 0 || dup2(r->fd, 1) < 0)
		_exit(111);
	setenv("POSTHORN_USER", r->user.s, 1);
	setenv("POSTHORN_MAILDIR", dir->s, 1);
	/* the users table's quota, for the stage's own writes (IMAP APPEND,
	 * COPY): the same limit local delivery enforces */
	struct buf qb = BUF_INIT;	/* this process execs or exits next */
	buf_printf(&qb, "%llu", quota);
	setenv("POSTHORN_QUOTA", buf_cstr(&qb), 1);
	if (r->ip.len)
		setenv("TCPREMOTEIP", r->ip.s, 1);
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s", config_str(cfg, "libexec_dir"), prog);
	char *args[] = {(char *)prog, "-c", cfg->path, NULL};
	execv(buf_cstr(&path), args);
	log_error("cannot run %s: %s", path.s, strerror(errno));
	_exit(111);
}

void mbox_serve(const struct config *cfg, int conn)
{
	char pkt[MBOX_REQ_MAX];
	struct mbox_req r = {BUF_INIT, BUF_INIT, BUF_INIT, -1};
	struct buf dir = BUF_INIT, tmp = BUF_INIT;
	const char *why = NULL, *prog = NULL;
	unsigned long long quota = 0;
	ssize_t n = recv_packet(conn, pkt, sizeof pkt, &r.fd);
	if (n <= 0 || mbox_parse(pkt, (size_t)n, &r) < 0 || r.fd < 0)
		why = "malformed request";
	else if (!(prog = stage_program(&r.service)))
		why = "unknown mailbox service";
	else if (find_maildir(cfg, &r.user, &dir, &quota, &why) == 0)
		why = start_stage(cfg, &r, prog, &dir, quota) < 0 ? "fork failed" : NULL;
	if (why) {
		log_warn("hand-off for %s refused: %s", r.user.len ?
			 log_safe(&tmp, r.user.s, r.user.len, 100) : "?", why);
		answer(conn, 4, why);
	} else {
		log_info("%s session for %s from %s", prog, r.user.s, r.ip.len ? r.ip.s : "?");
		answer(conn, 2, "started");
	}
	mbox_req_free(&r);
	buf_free(&dir);
	buf_free(&tmp);
}
