/* request.c: remote's side of the qmgr socket (fd 3).  Receives one
 * request packet with its queue file descriptor (SCM_RIGHTS), checks every
 * record against its limit and syntax (qmgr's bytes are input like any
 * other), and sends the per-recipient reply packet. */
#include "remote.h"
#include "agent.h"
#include "addr.h"
#include "qfile.h"
#include "record.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	int r = agent_send(sock, &p);
	int e = errno;
	buf_free(&p);
	buf_free(&num);
	errno = e;
	return r;
}

static int id_ok(const char *s, size_t n)
{
	return agent_id_ok(s, n, REMOTE_ID_MAX);
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
	if (n == 0 || n > 300 || !agent_printable(d, n) || memchr(d, ' ', n))
		return 0;
	if (d[0] != '[')
		return dns_name_ok(d, n);
	const char *close = memchr(d, ']', n);
	return close && close + 1 < d + n && close[1] == ':';
}

static int take_attr(struct remote_request *rq, const char *d, size_t n)
{
	if (!agent_printable(d, n))
		return -1;
	if (mem_caseeq(d, n, "body=8BITMIME", 13))
		rq->body8 = 1;
	else if (mem_caseeq(d, n, "smtputf8=1", 10))
		rq->smtputf8 = 1;
	else if (mem_caseprefix(d, n, "ret="))
		return agent_set_if(&rq->ret, d + 4, n - 4,
			      mem_caseeq(d + 4, n - 4, "FULL", 4) || mem_caseeq(d + 4, n - 4, "HDRS", 4));
	else if (mem_caseprefix(d, n, "envid="))
		return agent_set_if(&rq->envid, d + 6, n - 6, n - 6 <= REMOTE_XTEXT_MAX);
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
		if (!r || agent_set_num(&v, d, n, 0xffffffffUL) < 0)
			return -1;
		r->index = (unsigned long)v;
		return 0;
	}
	if (!rq->nrcpts)
		return -1;
	struct remote_rcpt *r = &rq->rcpts[rq->nrcpts - 1];
	switch (type) {
	case 'R':
		return agent_set_if(&r->addr, d, n,
				    n <= ADDR_MAX && agent_printable(d, n) && memchr(d, '@', n));
	case 'O': return agent_set_if(&r->orcpt, d, n, n <= REMOTE_XTEXT_MAX && agent_printable(d, n));
	case 'F': return agent_set_if(&r->notify, d, n, notify_ok(d, n));
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
	case 'N': return agent_set_if(&rq->id, d, n, id_ok(d, n));
	case 'Q': return agent_set_if(&rq->qid, d, n, qid_valid(d, n));
	case 'S': return agent_set_if(&rq->sender, d, n, n <= ADDR_MAX && agent_printable(d, n));
	case 'H': return agent_set_if(&rq->hop, d, n, hop_ok(d, n));
	case 'P': return agent_set_num(&rq->off, d, n, 1ULL << 62);
	case 'L': return agent_set_num(&rq->len, d, n, 1ULL << 62);
	}
	int r = agent_set_num(&v, d, n, 1ULL << 62);
	rq->arrival = (long long)v;
	return r;
}

static int check_fd(const struct remote_request *rq, struct buf *err)
{
	switch (agent_check_fd(rq->fd, rq->off, rq->len)) {
	case AGENT_FD_OK:
		return 0;
	case AGENT_FD_NONE:
	case AGENT_FD_NOTREG:
		buf_puts(err, "no queue file descriptor");
		break;
	case AGENT_FD_RANGE:
		buf_puts(err, "message range outside the queue file");
		break;
	}
	return -1;
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
	size_t n;
	int trunc, fdbad;
	if (!agent_recv(sock, packet, REMOTE_PACKET_MAX, &rq->fd, &n, &trunc, &fdbad))
		return 0;
	int toolong = trunc || n > REMOTE_PACKET_MAX;
	if (toolong) {
		buf_puts(err, "request packet too long");
		n = REMOTE_PACKET_MAX;
	}
	/* parsed even when it is refused: the id and the X indexes let the
	 * answer name what it refuses */
	int r = parse_packet(rq, packet, n, err);
	if (fdbad || toolong) {
		if (fdbad) {
			buf_reset(err);
			buf_puts(err, "control message truncated");
		}
		return -1;
	}
	return r < 0 ? -1 : 1;
}
