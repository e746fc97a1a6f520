/* request.c: local's side of the qmgr socket.  Receives one request
 * packet with its queue file descriptor (SCM_RIGHTS), checks every record
 * against its own limit and syntax, and sends reply packets.  Anything
 * qmgr sends is treated as input to validate, not as trusted. */
#include "local.h"
#include "agent.h"
#include "addr.h"
#include "qfile.h"
#include "record.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

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
	int r = agent_send(sock, &p);
	int e = errno;
	buf_free(&p);
	errno = e;
	return r;
}

static int set_text(struct buf *b, const char *d, size_t n, size_t max, int need_at)
{
	return agent_set_if(b, d, n,
			    n <= max && agent_printable(d, n) && (!need_at || memchr(d, '@', n)));
}

static int id_ok(const char *s, size_t n)
{
	return agent_id_ok(s, n, LOCAL_ID_MAX);
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
	case 'N': r = agent_set_if(&rq->id, d, n, id_ok(d, n)); break;
	case 'Q': r = agent_set_if(&rq->qid, d, n, qid_valid(d, n)); break;
	case 'S': r = set_text(&rq->sender, d, n, ADDR_MAX, 0); break;
	case 'R': r = set_text(&rq->rcpt, d, n, ADDR_MAX, 1); break;
	case 'O': r = set_text(&rq->orcpt, d, n, LOCAL_ORCPT_MAX, 0); break;
	case 'P': r = agent_set_num(&rq->off, d, n, (1ULL << 62)); break;
	case 'L': r = agent_set_num(&rq->len, d, n, (1ULL << 62)); break;
	case 'T':
		r = agent_set_num(&v, d, n, (1ULL << 62));
		rq->arrival = (long long)v;
		break;
	case 'X':
		r = agent_set_num(&v, d, n, 0xffffffffUL);
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
	switch (agent_check_fd(rq->fd, rq->off, rq->len)) {
	case AGENT_FD_OK:
		return 0;
	case AGENT_FD_NONE:
		buf_puts(err, "no queue file descriptor");
		break;
	case AGENT_FD_NOTREG:
		buf_puts(err, "queue file descriptor is not a regular file");
		break;
	case AGENT_FD_RANGE:
		buf_puts(err, "message range outside the queue file");
		break;
	}
	return -1;
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
	size_t n;
	int trunc, fdbad;
	if (!agent_recv(sock, packet, LOCAL_PACKET_MAX, &rq->fd, &n, &trunc, &fdbad))
		return 0;	/* qmgr is gone */
	if (trunc || n > LOCAL_PACKET_MAX) {
		salvage_id(rq, packet, n);
		buf_puts(err, "request packet too long");
		return -1;
	}
	int r = parse_packet(rq, packet, n, err);	/* also for the id */
	if (fdbad) {
		buf_reset(err);
		buf_puts(err, "control message truncated");
		return -1;
	}
	return r < 0 ? -1 : 1;
}
