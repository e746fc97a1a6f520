/* handoff: the mailbox stage of a login (doc/design.md "Login and mailbox
 * stages"): after a successful check of a request that carried
 * X<service> and the login stage's socketpair end (SCM_RIGHTS), the auth
 * daemon passes that fd with the verified address to mailboxd on
 * run_dir/mailbox.sock (SOCK_SEQPACKET, 0600 user_auth: nobody else may
 * start a mailbox).  One packet each way: Q<pop3|imap> U<address>
 * I<client ip> E0: with the fd, answered by C2, or C4 W<reason>. */
#include "auth.h"
#include "record.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HANDOFF_TIMEOUT_MS 10000

static int mbox_connect(const struct config *cfg, struct buf *err)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/mailbox.sock", config_str(cfg, "run_dir"));
	int fd = -1;
	if (p.len < sizeof sa.sun_path) {
		memcpy(sa.sun_path, p.s, p.len);
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0)
		buf_printf(err, "%s: %s", buf_cstr(&p), strerror(errno ? errno : ENAMETOOLONG));
	buf_free(&p);
	return fd;
}

static int send_packet(int sock, const struct buf *pkt, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof u);
	struct iovec iov = {pkt->s, pkt->len};
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof u.buf;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)pkt->len ? 0 : -1;
}

/* Reads the answer packet: 0 for C2, else -1 with the reason in err. */
static int read_answer(int sock, struct buf *err)
{
	char ans[1024];
	struct pollfd p = {.fd = sock, .events = POLLIN};
	if (poll(&p, 1, HANDOFF_TIMEOUT_MS) <= 0) {
		buf_puts(err, "mailboxd did not answer");
		return -1;
	}
	ssize_t n = recv(sock, ans, sizeof ans, 0);
	size_t off = 0, len;
	const char *data;
	char type;
	int code = 0;
	while (n > 0 && rec_parse(ans, (size_t)n, &off, &type, &data, &len) == 1) {
		if (type == 'C' && len == 1)
			code = data[0] - '0';
		else if (type == 'W')
			buf_append(err, data, len);
	}
	if (code == 2)
		return 0;
	if (err->len == 0)
		buf_puts(err, "no answer from mailboxd");
	return -1;
}

int mailbox_handoff(const struct config *cfg, const struct auth_req *r,
		    const struct buf *user, struct buf *err)
{
	if (r->fd < 0) {
		buf_puts(err, "no session fd came with the request");
		return -1;
	}
	int sock = mbox_connect(cfg, err);
	if (sock < 0)
		return -1;
	struct buf pkt = BUF_INIT;
	rec_put(&pkt, 'Q', r->mbox.s, r->mbox.len);
	rec_put(&pkt, 'U', user->s, user->len);
	if (r->ip.len)
		rec_put(&pkt, 'I', r->ip.s, r->ip.len);
	rec_puts(&pkt, 'E', "");
	int rc = send_packet(sock, &pkt, r->fd);
	if (rc < 0)
		buf_printf(err, "sending to mailboxd: %s", strerror(errno));
	else
		rc = read_answer(sock, err);
	buf_free(&pkt);
	close(sock);
	return rc;
}
