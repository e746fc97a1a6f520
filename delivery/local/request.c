/* request.c: local's side of the qmgr socket.  Receives one request
 * packet with its queue file descriptor (SCM_RIGHTS), checks every record
 * against its own limit and syntax, and sends reply packets.  Anything
 * qmgr sends is treated as input to validate, not as trusted. */
#include "local.h"
#include "addr.h"
#include "qfile.h"
#include "record.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* More descriptors than this in one packet are closed unused. */
#define LOCAL_MAX_FDS 8

void request_init(struct local_request *rq)
{
	memset(rq, 0, sizeof *rq);
	rq->fd = -1;
}

void request_free(struct local_request *rq)
{
	buf_free(&rq->id);
	buf_free(&rq->qid);
	buf_free(&rq->sender);
	buf_free(&rq->rcpt);
	buf_free(&rq->orcpt);
	if (rq->fd >= 0)
		close(rq->fd);
	rq->fd = -1;
}

void reply_set(struct local_reply *rp, char status, const char *fmt, ...)
{
	va_list ap;
	rp->status = status;
	buf_reset(&rp->text);
	va_start(ap, fmt);
	buf_vprintf(&rp->text, fmt, ap);
	va_end(ap);
}

int reply_send(int sock, const struct buf *id, char status, const char *text, size_t len)
{
	struct buf p = BUF_INIT;
	rec_put(&p, 'N', id->s ? id->s : "", id->len);
	rec_put(&p, 'C', &status, 1);
	rec_put(&p, 'W', text, len);
	ssize_t n;
	do
		n = send(sock, p.s, p.len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	int r = n == (ssize_t)p.len ? 0 : -1;
	int e = n < 0 ? errno : EMSGSIZE;
	buf_free(&p);
	errno = e;
	return r;
}

/* Keeps the first descriptor passed, closes the others.  A truncated
 * control message may have lost descriptors: all are closed then. */
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
	if (n == 0 || n > LOCAL_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

/* Keeps d as a C string when it passed its check. */
static int set_if(struct buf *b, const char *d, size_t n, int ok)
{
	if (!ok)
		return -1;
	buf_set(b, d, n);
	buf_cstr(b);
	return 0;
}

static int set_text(struct buf *b, const char *d, size_t n, size_t max, int need_at)
{
	return set_if(b, d, n, n <= max && printable(d, n) && (!need_at || memchr(d, '@', n)));
}

/* A decimal number no bigger than max. */
static int set_num(unsigned long long *v, const char *d, size_t n, unsigned long long max)
{
	return mem_to_u64(d, n, v) == 0 && *v <= max ? 0 : -1;
}

/* One record into the request; seen[] catches duplicates. */
static int take_record(struct local_request *rq, char type, const char *d, size_t n,
		       unsigned *seen, struct buf *err)
{
	static const char types[] = "NQSROPLTX";
	const char *t = memchr(types, type, sizeof types - 1);
	if (!t) {
		buf_printf(err, "unknown record type 0x%02x", (unsigned char)type);
		return -1;
	}
	unsigned bit = 1u << (t - types);
	if (*seen & bit) {
		buf_printf(err, "duplicate %c record", type);
		return -1;
	}
	*seen |= bit;
	unsigned long long v = 0;
	int r = 0;
	switch (type) {
	case 'N': r = set_if(&rq->id, d, n, id_ok(d, n)); break;
	case 'Q': r = set_if(&rq->qid, d, n, qid_valid(d, n)); break;
	case 'S': r = set_text(&rq->sender, d, n, ADDR_MAX, 0); break;
	case 'R': r = set_text(&rq->rcpt, d, n, ADDR_MAX, 1); break;
	case 'O': r = set_text(&rq->orcpt, d, n, LOCAL_ORCPT_MAX, 0); break;
	case 'P': r = set_num(&rq->off, d, n, (1ULL << 62)); break;
	case 'L': r = set_num(&rq->len, d, n, (1ULL << 62)); break;
	case 'T':
		r = set_num(&v, d, n, (1ULL << 62));
		rq->arrival = (long long)v;
		break;
	case 'X':
		r = set_num(&v, d, n, 0xffffffffUL);
		rq->index = (unsigned long)v;
		break;
	}
	if (r < 0)
		buf_printf(err, "bad %c record", type);
	return r;
}

/* The queue file must be a regular file that holds the whole message. */
static int check_fd(const struct local_request *rq, struct buf *err)
{
	struct stat st;
	if (rq->fd < 0) {
		buf_puts(err, "no queue file descriptor");
		return -1;
	}
	if (fstat(rq->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		buf_puts(err, "queue file descriptor is not a regular file");
		return -1;
	}
	if (rq->off > (unsigned long long)st.st_size ||
	    rq->len > (unsigned long long)st.st_size - rq->off) {
		buf_puts(err, "message range outside the queue file");
		return -1;
	}
	return 0;
}

static int parse_packet(struct local_request *rq, const char *p, size_t n, struct buf *err)
{
	const unsigned required = 0x1ff & ~(1u << 4);	/* all but O */
	unsigned seen = 0;
	size_t off = 0;
	char type;
	const char *d;
	size_t dlen;
	int k;
	while ((k = rec_parse(p, n, &off, &type, &d, &dlen)) == 1)
		if (take_record(rq, type, d, dlen, &seen, err) < 0)
			return -1;
	if (k < 0) {
		buf_puts(err, "malformed record");
		return -1;
	}
	if ((seen & required) != required) {
		buf_puts(err, "missing records");
		return -1;
	}
	return check_fd(rq, err);
}

/* The request id of a packet too long to parse, so the answer finds its
 * request: only when N is the first record and arrived whole. */
static void salvage_id(struct local_request *rq, const char *p, size_t n)
{
	size_t off = 0, dlen;
	char type;
	const char *d;
	if (n > LOCAL_PACKET_MAX)
		n = LOCAL_PACKET_MAX;
	if (rec_parse(p, n, &off, &type, &d, &dlen) == 1 && type == 'N' && id_ok(d, dlen)) {
		buf_set(&rq->id, d, dlen);
		buf_cstr(&rq->id);
	}
}

int request_recv(int sock, struct local_request *rq, struct buf *err)
{
	static char packet[LOCAL_PACKET_MAX + 1];
	union {
		char buf[CMSG_SPACE(sizeof(int) * LOCAL_MAX_FDS)];
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
		return 0;	/* closed, or broken: either way qmgr is gone */
	int fdbad = take_fds(&msg, &rq->fd);
	if ((msg.msg_flags & MSG_TRUNC) || (size_t)n > LOCAL_PACKET_MAX) {
		salvage_id(rq, packet, (size_t)n);
		buf_puts(err, "request packet too long");
		return -1;
	}
	int r = parse_packet(rq, packet, (size_t)n, err);	/* also for the id */
	if (fdbad < 0) {
		buf_reset(err);
		buf_puts(err, "control message truncated");
		return -1;
	}
	return r < 0 ? -1 : 1;
}
