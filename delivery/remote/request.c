/* request.c: remote's side of the qmgr socket (fd 3).  Receives one
 * request packet with its queue file descriptor (SCM_RIGHTS), checks every
 * record against its limit and syntax (qmgr's bytes are input like any
 * other), and sends the per-recipient reply packet. */
#include "remote.h"
#include "addr.h"
#include "qfile.h"
#include "record.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define REMOTE_MAX_FDS 8

void request_init(struct remote_request *rq)
{
	memset(rq, 0, sizeof *rq);
	rq->fd = -1;
}

void request_free(struct remote_request *rq)
{
	struct buf *bufs[] = {&rq->id, &rq->qid, &rq->sender, &rq->hop, &rq->ret,
			      &rq->envid, &rq->relay};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		buf_free(bufs[i]);
	for (size_t i = 0; i < rq->nrcpts; i++) {
		buf_free(&rq->rcpts[i].addr);
		buf_free(&rq->rcpts[i].orcpt);
		buf_free(&rq->rcpts[i].notify);
		buf_free(&rq->rcpts[i].text);
	}
	free(rq->rcpts);
	if (rq->fd >= 0)
		close(rq->fd);
	request_init(rq);
}

void rcpt_set(struct remote_rcpt *r, char status, const char *fmt, ...)
{
	va_list ap;
	r->status = status;
	buf_reset(&r->text);
	va_start(ap, fmt);
	buf_vprintf(&r->text, fmt, ap);
	va_end(ap);
}

void rcpt_set_all(struct remote_request *rq, char status, const char *fmt, ...)
{
	struct buf t = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&t, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < rq->nrcpts; i++)
		if (!rq->rcpts[i].status || rq->rcpts[i].status == '4')
			rcpt_set(&rq->rcpts[i], status, "%.*s", (int)t.len, t.s ? t.s : "");
	buf_free(&t);
}

static int send_packet(int sock, const struct buf *p)
{
	ssize_t n;
	do
		n = send(sock, p->s, p->len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)p->len)
		return 0;
	if (n >= 0)
		errno = EMSGSIZE;
	return -1;
}

int reply_send(int sock, const struct remote_request *rq)
{
	struct buf p = BUF_INIT, num = BUF_INIT;
	rec_put(&p, 'N', rq->id.s ? rq->id.s : "", rq->id.len);
	rec_put(&p, 'M', rq->relay.s ? rq->relay.s : "", rq->relay.len);
	for (size_t i = 0; i < rq->nrcpts; i++) {
		const struct remote_rcpt *r = &rq->rcpts[i];
		char st = r->status ? r->status : '4';
		buf_reset(&num);
		buf_printf(&num, "%lu", r->index);
		rec_put(&p, 'X', num.s, num.len);
		rec_put(&p, 'C', &st, 1);
		if (st == '2' && r->dsn_passed)
			rec_puts(&p, 'P', "1");
		if (r->text.len)
			rec_put(&p, 'W', r->text.s, r->text.len);
		else
			rec_puts(&p, 'W', "4.3.0 no result");
	}
	int r = send_packet(sock, &p);
	int e = errno;
	buf_free(&p);
	buf_free(&num);
	errno = e;
	return r;
}

static int take_fds(struct msghdr *msg, int *fd)
{
	int bad = (msg->msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
			if (*fd < 0 && !bad)
				*fd = f;
			else
				close(f);
		}
	}
	if (bad && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return bad ? -1 : 0;
}

static int printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static int id_ok(const char *s, size_t n)
{
	if (n == 0 || n > REMOTE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static int set_if(struct buf *b, const char *d, size_t n, int ok)
{
	if (!ok)
		return -1;
	buf_set(b, d, n);
	buf_cstr(b);
	return 0;
}

static int set_num(unsigned long long *v, const char *d, size_t n, unsigned long long max)
{
	return mem_to_u64(d, n, v) == 0 && *v <= max ? 0 : -1;
}

/* NOTIFY: NEVER, or a comma list of SUCCESS, FAILURE, DELAY (RFC 3461). */
static int notify_ok(const char *d, size_t n)
{
	if (n == 0 || mem_caseeq(d, n, "NEVER", 5))
		return 1;
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		while (j < n && d[j] != ',')
			j++;
		if (!mem_caseeq(d + i, j - i, "SUCCESS", 7) && !mem_caseeq(d + i, j - i, "FAILURE", 7) &&
		    !mem_caseeq(d + i, j - i, "DELAY", 5))
			return 0;
		i = j + 1;
	}
	return 1;
}

/* A next hop: "[host]:port" or a domain. */
static int hop_ok(const char *d, size_t n)
{
	if (n == 0 || n > 300 || !printable(d, n) || memchr(d, ' ', n))
		return 0;
	if (d[0] != '[')
		return dns_name_ok(d, n);
	const char *close = memchr(d, ']', n);
	return close && close + 1 < d + n && close[1] == ':';
}

static int take_attr(struct remote_request *rq, const char *d, size_t n)
{
	if (!printable(d, n))
		return -1;
	if (mem_caseeq(d, n, "body=8BITMIME", 13))
		rq->body8 = 1;
	else if (mem_caseeq(d, n, "smtputf8=1", 10))
		rq->smtputf8 = 1;
	else if (mem_caseprefix(d, n, "ret="))
		return set_if(&rq->ret, d + 4, n - 4,
			      mem_caseeq(d + 4, n - 4, "FULL", 4) || mem_caseeq(d + 4, n - 4, "HDRS", 4));
	else if (mem_caseprefix(d, n, "envid="))
		return set_if(&rq->envid, d + 6, n - 6, n - 6 <= REMOTE_XTEXT_MAX);
	return 0;	/* other attributes are not remote's business */
}

static struct remote_rcpt *rcpt_new(struct remote_request *rq)
{
	if (rq->nrcpts >= REMOTE_RCPT_MAX)
		return NULL;
	rq->rcpts = xrealloc(rq->rcpts, size_mul(rq->nrcpts + 1, sizeof *rq->rcpts));
	struct remote_rcpt *r = &rq->rcpts[rq->nrcpts++];
	memset(r, 0, sizeof *r);
	return r;
}

static int take_rcpt_record(struct remote_request *rq, char type, const char *d, size_t n)
{
	unsigned long long v;
	if (type == 'X') {
		struct remote_rcpt *r = rcpt_new(rq);
		if (!r || set_num(&v, d, n, 0xffffffffUL) < 0)
			return -1;
		r->index = (unsigned long)v;
		return 0;
	}
	if (!rq->nrcpts)
		return -1;
	struct remote_rcpt *r = &rq->rcpts[rq->nrcpts - 1];
	switch (type) {
	case 'R': return set_if(&r->addr, d, n, n <= ADDR_MAX && printable(d, n) && memchr(d, '@', n));
	case 'O': return set_if(&r->orcpt, d, n, n <= REMOTE_XTEXT_MAX && printable(d, n));
	case 'F': return set_if(&r->notify, d, n, notify_ok(d, n));
	}
	return -1;
}

static int take_record(struct remote_request *rq, char type, const char *d, size_t n,
		       unsigned *seen)
{
	static const char types[] = "NQSHPLT";
	const char *t = type ? memchr(types, type, sizeof types - 1) : NULL;
	unsigned long long v = 0;
	if (type == 'A')
		return take_attr(rq, d, n);
	if (!t)
		return take_rcpt_record(rq, type, d, n);
	unsigned bit = 1u << (t - types);
	if (*seen & bit)
		return -1;
	*seen |= bit;
	switch (type) {
	case 'N': return set_if(&rq->id, d, n, id_ok(d, n));
	case 'Q': return set_if(&rq->qid, d, n, qid_valid(d, n));
	case 'S': return set_if(&rq->sender, d, n, n <= ADDR_MAX && printable(d, n));
	case 'H': return set_if(&rq->hop, d, n, hop_ok(d, n));
	case 'P': return set_num(&rq->off, d, n, 1ULL << 62);
	case 'L': return set_num(&rq->len, d, n, 1ULL << 62);
	}
	int r = set_num(&v, d, n, 1ULL << 62);
	rq->arrival = (long long)v;
	return r;
}

static int check_fd(const struct remote_request *rq, struct buf *err)
{
	struct stat st;
	if (rq->fd < 0 || fstat(rq->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		buf_puts(err, "no queue file descriptor");
		return -1;
	}
	if (rq->off > (unsigned long long)st.st_size ||
	    rq->len > (unsigned long long)st.st_size - rq->off) {
		buf_puts(err, "message range outside the queue file");
		return -1;
	}
	return 0;
}

static int parse_packet(struct remote_request *rq, const char *p, size_t n, struct buf *err)
{
	unsigned seen = 0;
	size_t off = 0, dlen;
	char type;
	const char *d;
	int k;
	while ((k = rec_parse(p, n, &off, &type, &d, &dlen)) == 1) {
		if (take_record(rq, type, d, dlen, &seen) < 0) {
			buf_printf(err, "bad %c record", (unsigned char)type >= 0x20 ? type : '?');
			return -1;
		}
	}
	if (k < 0) {
		buf_puts(err, "malformed record");
		return -1;
	}
	if (seen != 0x7f || rq->nrcpts == 0) {
		buf_puts(err, "missing records");
		return -1;
	}
	for (size_t i = 0; i < rq->nrcpts; i++)
		if (!rq->rcpts[i].addr.len) {
			buf_puts(err, "recipient without R record");
			return -1;
		}
	return check_fd(rq, err);
}

int request_recv(int sock, struct remote_request *rq, struct buf *err)
{
	static char packet[REMOTE_PACKET_MAX + 1];
	union {
		char buf[CMSG_SPACE(sizeof(int) * REMOTE_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {packet, sizeof packet};
	struct msghdr msg = {0};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof ctl.buf;
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	int fdbad = take_fds(&msg, &rq->fd);
	if ((msg.msg_flags & MSG_TRUNC) || (size_t)n > REMOTE_PACKET_MAX) {
		buf_puts(err, "request packet too long");
		n = REMOTE_PACKET_MAX;
	}
	/* parsed even when it is refused: the id and the X indexes let the
	 * answer name what it refuses */
	int r = parse_packet(rq, packet, (size_t)n, err);
	if (fdbad < 0 || (msg.msg_flags & MSG_TRUNC)) {
		if (fdbad < 0) {
			buf_reset(err);
			buf_puts(err, "control message truncated");
		}
		return -1;
	}
	return r < 0 ? -1 : 1;
}
