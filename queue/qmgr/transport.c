/* transport: the qmgr side of the qmgr <-> local protocol (doc/design.md).
 * Each request is one SOCK_SEQPACKET packet of records with the queue file
 * passed read-only by SCM_RIGHTS; at most `local_concurrency` are in
 * flight, each in a slot with its request id.  A reply for no slot (late,
 * or forged) is logged and dropped; a request unanswered for too long, or
 * lost because local went away, is answered here as a temporary failure,
 * so a message is never stuck and never dropped. */
#include "qmgr.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLY_MAX 8192
#define LOCAL_DEADLINE 900	/* seconds: local's children answer long before */

struct slot {
	unsigned long long id;	/* 0: free */
	struct job *job;
	size_t rcpt;
	time_t sent;
};

static struct slot *slots;
static size_t nslots;
static unsigned long long last_id;

void transport_init(size_t n)
{
	nslots = n ? n : 1;
	slots = xcalloc(nslots, sizeof *slots);
}

int transport_free_slot(void)
{
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].id == 0)
			return 1;
	return 0;
}

static void answer(struct qmgr *m, struct job *j, size_t rcpt, char cls, const char *text)
{
	job_result(m, j, rcpt, cls, text, strlen(text));
	j->inflight--;
}

/* Answers slot s and finishes its job if that was the last answer. */
static void answer_slot(struct qmgr *m, struct slot *s, char cls, const char *text, size_t len)
{
	struct job *j = s->job;
	job_result(m, j, s->rcpt, cls, text, len);
	j->inflight--;
	memset(s, 0, sizeof *s);
	if (job_answered(j))
		job_finish(m, j);
}

static void build_request(struct buf *p, unsigned long long id, const struct job *j, size_t rcpt)
{
	const struct qrcpt *r = &j->q.rcpts[rcpt];
	struct buf n = BUF_INIT;
	buf_printf(&n, "%llu", id);
	rec_put(p, 'N', n.s, n.len);
	rec_puts(p, 'Q', j->e.qid);
	rec_put(p, 'S', j->q.sender.s, j->q.sender.len);
	rec_put(p, 'R', r->addr.s, r->addr.len);
	rec_put(p, 'O', r->orig.s, r->orig.len);
	buf_reset(&n);
	buf_printf(&n, "%lld", (long long)j->q.msg_off);
	rec_put(p, 'P', n.s, n.len);
	buf_reset(&n);
	buf_printf(&n, "%zu", j->q.msg_len);
	rec_put(p, 'L', n.s, n.len);
	buf_reset(&n);
	buf_printf(&n, "%lld", j->q.arrival);
	rec_put(p, 'T', n.s, n.len);
	buf_reset(&n);
	buf_printf(&n, "%zu", r->index);
	rec_put(p, 'X', n.s, n.len);
	buf_free(&n);
}

int packet_send(int sock, const struct buf *p, int fd)
{
	struct iovec iov = {p->s, p->len};
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof u);
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = u.b;
	mh.msg_controllen = sizeof u.b;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	ssize_t r;
	do
		r = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r == (ssize_t)p->len ? 0 : -1;
}

void transport_send(struct qmgr *m, struct job *j, size_t rcpt)
{
	j->inflight++;
	struct slot *s = NULL;
	for (size_t i = 0; i < nslots && !s; i++)
		if (slots[i].id == 0)
			s = &slots[i];
	if (!s || m->sock < 0) {
		answer(m, j, rcpt, '4', "4.3.0 local delivery is not running");
		return;
	}
	struct buf p = BUF_INIT;
	build_request(&p, ++last_id, j, rcpt);
	int r = packet_send(m->sock, &p, j->rofd);
	buf_free(&p);
	if (r < 0) {
		int e = errno;
		answer(m, j, rcpt, '4', "4.3.0 cannot reach local delivery");
		if (e != EAGAIN && e != EWOULDBLOCK && e != ENOBUFS) {
			/* the main loop calls transport_lost(): not here, where
			 * it could finish the caller's job under its feet */
			log_error("local delivery socket: %s", strerror(e));
			m->sock_failed = 1;
		}
		return;
	}
	*s = (struct slot){last_id, j, rcpt, time(NULL)};
}

struct reply {
	unsigned long long id;
	char cls;
	const char *text;
	size_t len;
};

static int parse_reply(const char *p, size_t n, struct reply *rp)
{
	size_t off = 0, len;
	char type;
	const char *d;
	int r, have_id = 0;
	memset(rp, 0, sizeof *rp);
	while ((r = rec_parse(p, n, &off, &type, &d, &len)) == 1) {
		if (type == 'N')
			have_id = mem_to_u64(d, len, &rp->id) == 0;
		else if (type == 'C' && len == 1 && (d[0] == '2' || d[0] == '4' || d[0] == '5'))
			rp->cls = d[0];
		else if (type == 'W' && len <= 2000) {
			rp->text = d;
			rp->len = len;
		}
	}
	return r == 0 && have_id && rp->cls ? 0 : -1;
}

static void handle_reply(struct qmgr *m, const char *p, size_t n)
{
	struct reply rp;
	if (parse_reply(p, n, &rp) < 0) {
		log_warn("malformed reply from local delivery dropped");
		return;
	}
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].id == rp.id) {
			if (!rp.text) {
				rp.text = rp.cls == '2' ? "2.0.0 delivered" : "4.0.0 no reason given";
				rp.len = strlen(rp.text);
			}
			answer_slot(m, &slots[i], rp.cls, rp.text, rp.len);
			return;
		}
	log_warn("reply from local delivery for unknown request %llu dropped", rp.id);
}

void transport_receive(struct qmgr *m)
{
	char p[REPLY_MAX];
	while (m->sock >= 0) {
		ssize_t n = recv(m->sock, p, sizeof p, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			log_warn("local delivery went away%s%s", n < 0 ? ": " : "",
				 n < 0 ? strerror(errno) : "");
			transport_lost(m);
			return;
		}
		if ((size_t)n > sizeof p)
			log_warn("oversized reply from local delivery dropped");
		else
			handle_reply(m, p, (size_t)n);
	}
}

long long transport_expire(struct qmgr *m, time_t now)
{
	long long wait = -1;
	for (size_t i = 0; i < nslots; i++) {
		if (slots[i].id == 0)
			continue;
		long long left = (long long)(slots[i].sent + LOCAL_DEADLINE - now);
		if (left <= 0) {
			log_warn("%s: no answer from local delivery", slots[i].job->e.qid);
			const char *t = "4.4.2 no answer from local delivery";
			answer_slot(m, &slots[i], '4', t, strlen(t));
		} else if (wait < 0 || left * 1000 < wait) {
			wait = left * 1000;
		}
	}
	return wait;
}

void transport_lost(struct qmgr *m)
{
	if (m->sock >= 0)
		close(m->sock);
	m->sock = -1;
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].id) {
			const char *t = "4.3.0 local delivery went away";
			answer_slot(m, &slots[i], '4', t, strlen(t));
		}
}
