/* authclient: the client side of the auth daemon's protocol (see
 * authclient.h): smtpd's AUTH and the pop3/imap login stages ask
 * run_dir/auth.sock whether a password is right.  The request (which holds
 * the password) is wiped from memory once sent. */
#include "authclient.h"
#include "io.h"
#include "record.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The daemon delays a failed answer by up to 30 s (auth/): wait longer. */
#define AUTH_ANSWER_TIMEOUT_MS 45000
#define AUTH_ANSWER_MAX 1024	/* any one record of an answer */

int auth_connect(int *fd, const struct config *c)
{
	struct sockaddr_un sa;
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/auth.sock", config_str(c, "run_dir"));
	*fd = -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (path.len >= sizeof sa.sun_path) {
		buf_free(&path);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path.s, path.len);
	buf_free(&path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	*fd = s;
	return 0;
}

/* Sends the request; with an fd it rides along as SCM_RIGHTS. */
static int send_request(int fd, const struct buf *req, int pass_fd)
{
	if (pass_fd < 0)
		return write_all(fd, req->s, req->len);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {req->s, req->len};
	struct msghdr mh = {0};
	memset(&u, 0, sizeof u);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.buf;
	mh.msg_controllen = sizeof u.buf;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	ssize_t n;
	while ((n = sendmsg(fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return -1;
	/* the fd went with the first byte; the rest is plain data */
	return (size_t)n == req->len ? 0 : write_all(fd, req->s + n, req->len - (size_t)n);
}

static int read_answer(int fd, struct auth_result *r)
{
	struct io io;
	struct buf data = BUF_INIT;
	char type;
	int rc = -1, got;
	io_init(&io, fd, fd, AUTH_ANSWER_TIMEOUT_MS);
	r->code = 0;
	while ((got = rec_get(&io, &type, &data, AUTH_ANSWER_MAX)) == 1) {
		if (type == 'E') {
			rc = r->code == 2 || r->code == 4 || r->code == 5 ? 0 : -1;
			break;
		}
		if (type == 'C' && data.len == 1 && data.s[0] >= '2' && data.s[0] <= '5')
			r->code = data.s[0] - '0';
		else if (type == 'U')
			buf_copy(&r->user, &data);
		else if (type == 'W')
			buf_copy(&r->text, &data);
	}
	if (rc == 0 && r->code == 2 && r->user.len == 0)
		rc = -1;	/* success must name the user */
	buf_free(&data);
	io_free(&io);
	return rc;
}

static void request(struct buf *q, const char *service, const char *ip, const char *authzid,
		    const char *authcid, const char *password, int mailbox_fd,
		    const char *mbox_service)
{
	rec_puts(q, 'Q', service);
	rec_puts(q, 'I', ip);
	rec_puts(q, 'U', authcid);
	rec_puts(q, 'Z', authzid ? authzid : "");
	rec_puts(q, 'P', password);
	if (mailbox_fd >= 0)
		rec_puts(q, 'X', mbox_service ? mbox_service : "");
	rec_puts(q, 'E', "");
}

void auth_check(int fd, const char *service, const char *ip, const char *authzid,
		const char *authcid, const char *password, int mailbox_fd,
		const char *mbox_service, struct auth_result *r)
{
	struct buf q = BUF_INIT;
	buf_reset(&r->user);
	buf_reset(&r->text);
	request(&q, service, ip, authzid, authcid, password, mailbox_fd, mbox_service);
	int ok = fd >= 0 && send_request(fd, &q, mailbox_fd) == 0;
	explicit_bzero(q.s, q.cap);
	buf_free(&q);
	if (!ok || read_answer(fd, r) < 0) {
		r->code = 4;
		buf_reset(&r->user);
		buf_set(&r->text, "authentication service unavailable", 34);
	}
}

void auth_result_free(struct auth_result *r)
{
	buf_free(&r->user);
	buf_free(&r->text);
}
