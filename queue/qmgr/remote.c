/* remote: the qmgr side of the qmgr <-> remote protocol (doc/design.md,
 * "Remote delivery") and the routing of non-local recipients.  A next hop
 * comes from the transport table, else relay_host, else the domain.  The
 * recipients of one message with the same next hop go in one request (at
 * most remote_rcpt_limit); at most remote_concurrency requests are in
 * flight, remote_dest_concurrency per next hop.  A next hop whose request
 * failed as a whole with a connection or DNS error is backed off: its
 * recipients are deferred without a request until its retry time, so one
 * dead destination does not hold the others back.  Without fd 4 (remote
 * not started) every remote recipient is deferred with 4.4.1. */
#include "qmgr.h"
#include "log.h"
#include "record.h"
#include "table.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define REMOTE_REPLY_MAX (512u << 10)
#define REMOTE_DEADLINE 3600	/* remote's own timeouts end a request long before */
#define HOPS_PRUNE 1024		/* forget idle, healthy next hops beyond this many */

struct hop {
	struct buf name;
	size_t inflight;
	time_t until;		/* backed off until then */
	unsigned fails;
	struct buf why;		/* the error that backed it off */
};

struct rslot {
	unsigned long long id;	/* 0: free */
	struct job *job;
	size_t *rcpts, n;
	struct hop *hop;
	time_t sent;
};

static struct rslot *slots;
static size_t nslots;
static struct hop **hops;
static size_t nhops;
static unsigned long long last_id;
static struct table transport;
static int transport_ok;

void remote_init(struct qmgr *m)
{
	long long c = config_num(m->cfg, "remote_concurrency");
	nslots = c < 1 ? 1 : c > 1000 ? 1000 : (size_t)c;
	slots = xcalloc(nslots, sizeof *slots);
	remote_tables(m, 0);
}

void remote_tables(struct qmgr *m, int again)
{
	if (again && transport_ok)
		table_close(&transport);
	struct buf p = BUF_INIT;
	config_file(m->cfg, "transport.cdb", &p);
	transport_ok = table_open(&transport, buf_cstr(&p)) == 0;
	if (!transport_ok)
		log_error("cannot open %s: %s", p.s, strerror(errno));
	buf_free(&p);
}

/* "smtp:[host]:port" -> "[host]:port", "smtp:host" -> "host". */
static int parse_transport(const struct buf *v, struct buf *hop)
{
	if (v->len == 5 && !strncasecmp(v->s, "local", 5))
		return 0;
	if (v->len > 5 && !strncasecmp(v->s, "smtp:", 5)) {
		buf_set(hop, v->s + 5, v->len - 5);
		return 1;
	}
	return -1;
}

int remote_route(struct qmgr *m, const char *addr, size_t len, struct buf *hop)
{
	const char *at = NULL;
	for (size_t i = len; i > 0 && !at; i--)
		if (addr[i - 1] == '@')
			at = addr + i - 1;
	const char *dom = at ? at + 1 : addr;
	size_t dlen = at ? len - (size_t)(dom - addr) : len;
	struct buf key = BUF_INIT, v = BUF_INIT;
	for (size_t i = 0; i < dlen; i++)
		buf_putc(&key, (char)((dom[i] >= 'A' && dom[i] <= 'Z') ? dom[i] + 32 : dom[i]));
	int found = transport_ok ? table_lookup(&transport, key.s ? key.s : "", key.len, &v) : 0;
	int r = found == 1 ? parse_transport(&v, hop) : found < 0 ? -1 : 1;
	if (found == 1 && r < 0) {
		struct buf s = BUF_INIT;
		log_warn("transport entry for %s is not local or smtp:...: ignored",
			 log_safe(&s, key.s, key.len, 300));
		buf_free(&s);
		r = 1;
		found = 0;
	}
	if (found != 1 && r == 1) {
		const char *relay = config_str(m->cfg, "relay_host");
		if (relay[0])
			buf_set(hop, relay, strlen(relay));
		else
			buf_copy(hop, &key);
	}
	buf_free(&key);
	buf_free(&v);
	return r;
}

static struct hop *hop_get(const struct buf *name)
{
	for (size_t i = 0; i < nhops; i++)
		if (mem_caseeq(hops[i]->name.s, hops[i]->name.len, name->s, name->len))
			return hops[i];
	if (nhops >= HOPS_PRUNE) {
		time_t now = time(NULL);
		size_t k = 0;
		for (size_t i = 0; i < nhops; i++) {
			if (hops[i]->inflight == 0 && hops[i]->until <= now) {
				buf_free(&hops[i]->name);
				buf_free(&hops[i]->why);
				free(hops[i]);
			} else {
				hops[k++] = hops[i];
			}
		}
		nhops = k;
	}
	hops = xrealloc(hops, size_mul(nhops + 1, sizeof *hops));
	struct hop *h = xcalloc(1, sizeof *h);
	buf_copy(&h->name, name);
	hops[nhops++] = h;
	return h;
}

int remote_backed_off(const struct buf *name, time_t now, struct buf *why)
{
	for (size_t i = 0; i < nhops; i++)
		if (mem_caseeq(hops[i]->name.s, hops[i]->name.len, name->s, name->len)) {
			if (hops[i]->until <= now)
				return 0;
			buf_reset(why);
			buf_puts(why, "4.4.1 ");
			buf_append(why, name->s, name->len);
			buf_puts(why, " is backed off after: ");
			buf_append(why, hops[i]->why.s, hops[i]->why.len);
			return 1;
		}
	return 0;
}

void remote_flush(void)
{
	for (size_t i = 0; i < nhops; i++) {
		hops[i]->until = 0;
		hops[i]->fails = 0;
	}
}

static size_t free_slot(void)
{
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].id == 0)
			return i;
	return SIZE_MAX;
}

static void put_num(struct buf *p, char type, unsigned long long v)
{
	struct buf n = BUF_INIT;
	buf_printf(&n, "%llu", v);
	rec_put(p, type, n.s, n.len);
	buf_free(&n);
}

/* Attributes remote passes on: body, smtputf8, ret, envid. */
static void put_attrs(struct buf *p, const struct qfile *q)
{
	static const char *const names[] = {"body", "smtputf8", "ret", "envid", NULL};
	struct buf v = BUF_INIT, a = BUF_INIT;
	for (int i = 0; names[i]; i++)
		if (qfile_attr(q, names[i], &v)) {
			buf_reset(&a);
			buf_printf(&a, "%s=", names[i]);
			buf_append(&a, v.s, v.len);
			rec_put(p, 'A', a.s, a.len);
		}
	buf_free(&v);
	buf_free(&a);
}

static void build_request(struct buf *p, const struct rslot *s)
{
	const struct job *j = s->job;
	put_num(p, 'N', s->id);
	rec_puts(p, 'Q', j->e.qid);
	rec_put(p, 'S', j->q.sender.s, j->q.sender.len);
	rec_put(p, 'H', s->hop->name.s, s->hop->name.len);
	put_num(p, 'P', (unsigned long long)j->q.msg_off);
	put_num(p, 'L', j->q.msg_len);
	put_num(p, 'T', (unsigned long long)j->q.arrival);
	put_attrs(p, &j->q);
	for (size_t k = 0; k < s->n; k++) {
		const struct qrcpt *r = &j->q.rcpts[s->rcpts[k]];
		put_num(p, 'X', r->index);
		rec_put(p, 'R', r->addr.s, r->addr.len);
		rec_put(p, 'O', r->orig.s, r->orig.len);
		rec_put(p, 'F', r->notify.s, r->notify.len);
	}
}

static void answer_all(struct qmgr *m, struct job *j, const size_t *rc, size_t n,
		       const char *text)
{
	for (size_t k = 0; k < n; k++)
		job_result(m, j, rc[k], '4', text, strlen(text));
}

/* Picks the next group of j: unsent recipients with the hop of the first
 * one; NULL hop when j has none left. */
static size_t pick_group(struct job *j, size_t limit, size_t *out, const struct buf **hop)
{
	size_t n = 0;
	*hop = NULL;
	for (size_t k = 0; k < j->nrtodo && n < limit; k++) {
		size_t i = j->rtodo[k];
		if (i == SIZE_MAX)
			continue;
		if (!*hop)
			*hop = &j->hop[i];
		else if (!mem_caseeq((*hop)->s, (*hop)->len, j->hop[i].s, j->hop[i].len))
			continue;
		out[n++] = i;
	}
	return n;
}

static void take_group(struct job *j, const size_t *g, size_t n)
{
	for (size_t k = 0; k < j->nrtodo; k++)
		for (size_t x = 0; x < n; x++)
			if (j->rtodo[k] == g[x]) {
				j->rtodo[k] = SIZE_MAX;
				j->rsent++;
			}
}

/* Sends slot s; on failure answers its recipients as temporary. */
static int remote_send(struct qmgr *m, struct rslot *s)
{
	struct buf p = BUF_INIT;
	build_request(&p, s);
	int r = packet_send(m->rsock, &p, s->job->rofd);
	int e = errno;
	buf_free(&p);
	if (r == 0) {
		s->job->inflight++;
		s->hop->inflight++;
		return 1;
	}
	answer_all(m, s->job, s->rcpts, s->n, "4.3.0 cannot reach remote delivery");
	if (e != EAGAIN && e != EWOULDBLOCK && e != ENOBUFS) {
		log_error("remote delivery socket: %s", strerror(e));
		m->rsock_failed = 1;
	}
	free(s->rcpts);
	memset(s, 0, sizeof *s);
	return 1;
}

int remote_dispatch(struct qmgr *m, struct job *j)
{
	if (j->rsent >= j->nrtodo)
		return 0;
	long long lim = config_num(m->cfg, "remote_rcpt_limit");
	size_t limit = lim < 1 ? 1 : lim > 1000 ? 1000 : (size_t)lim;
	size_t *g = xcalloc(limit, sizeof *g);
	const struct buf *hname;
	size_t n = pick_group(j, limit, g, &hname);
	struct buf why = BUF_INIT;
	int r = 0;
	if (m->rsock < 0) {
		take_group(j, g, n);
		answer_all(m, j, g, n, "4.4.1 remote delivery is not running");
		r = 1;
	} else if (remote_backed_off(hname, time(NULL), &why)) {
		take_group(j, g, n);
		answer_all(m, j, g, n, buf_cstr(&why));
		r = 1;
	} else {
		struct hop *h = hop_get(hname);
		long long dc = config_num(m->cfg, "remote_dest_concurrency");
		size_t si = free_slot();
		if (si != SIZE_MAX && (long long)h->inflight < (dc < 1 ? 1 : dc)) {
			take_group(j, g, n);
			slots[si] = (struct rslot){++last_id, j, g, n, h, time(NULL)};
			g = NULL;
			r = remote_send(m, &slots[si]);
		}
	}
	free(g);
	buf_free(&why);
	return r;
}

/* A request that failed as a whole with a network or DNS error (no host
 * answered, or 4.4.x) backs its next hop off. */
static int maybe_back_off(struct qmgr *m, struct rslot *s, const struct buf *mta)
{
	struct job *j = s->job;
	const struct buf *w = NULL;
	for (size_t k = 0; k < s->n; k++) {
		if (j->result[s->rcpts[k]] != '4')
			return 0;
		w = &j->why[s->rcpts[k]];
	}
	if (!w || (mta->len && !(w->len > 4 && !memcmp(w->s, "4.4.", 4))))
		return 0;
	struct hop *h = s->hop;
	long long rmin = config_num(m->cfg, "retry_min"), rmax = config_num(m->cfg, "retry_max");
	long long iv = rmin < 1 ? 1 : rmin;
	for (unsigned f = 0; f < h->fails && iv < rmax; f++)
		iv *= 2;
	if (iv > rmax)
		iv = rmax;
	h->fails++;
	h->until = time(NULL) + (time_t)iv;
	buf_copy(&h->why, w);
	struct buf t = BUF_INIT;
	log_info("next hop %s backed off for %llds", log_safe(&t, h->name.s, h->name.len, 300), iv);
	buf_free(&t);
	return 1;
}

/* Answers slot s (unanswered recipients temporary) and finishes its job
 * when that was its last answer. */
static void close_slot(struct qmgr *m, struct rslot *s, const struct buf *mta, const char *text)
{
	struct job *j = s->job;
	for (size_t k = 0; k < s->n; k++)
		if (j->result[s->rcpts[k]] == 0)
			job_result(m, j, s->rcpts[k], '4', text, strlen(text));
	for (size_t k = 0; mta && k < s->n; k++)
		buf_copy(&j->mta[s->rcpts[k]], mta);
	if (mta && !maybe_back_off(m, s, mta))
		s->hop->fails = 0;	/* it answered: start the backoff anew */
	s->hop->inflight--;
	j->inflight--;
	free(s->rcpts);
	memset(s, 0, sizeof *s);
	if (job_answered(j))
		job_finish(m, j);
}

static int in_slot(const struct rslot *s, size_t x, size_t *rcpt)
{
	for (size_t k = 0; k < s->n; k++)
		if (s->job->q.rcpts[s->rcpts[k]].index == x) {
			*rcpt = s->rcpts[k];
			return 1;
		}
	return 0;
}

static struct rslot *find_slot(unsigned long long id)
{
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].id && slots[i].id == id)
			return &slots[i];
	return NULL;
}

/* Per-recipient answers X, C, W; an X not in the request is ignored. */
static void take_answers(struct qmgr *m, struct rslot *s, const char *p, size_t n, size_t off)
{
	char type, cls = 0;
	const char *d;
	size_t len, rcpt = SIZE_MAX;
	unsigned long long x;
	int passed = 0;
	while (rec_parse(p, n, &off, &type, &d, &len) == 1) {
		if (type == 'X') {
			rcpt = mem_to_u64(d, len, &x) == 0 && in_slot(s, (size_t)x, &rcpt) ? rcpt : SIZE_MAX;
			cls = 0;
			passed = 0;
		} else if (type == 'C' && len == 1 && (d[0] == '2' || d[0] == '4' || d[0] == '5')) {
			cls = d[0];
		} else if (type == 'P') {
			passed = cls == '2';
		} else if (type == 'W' && rcpt != SIZE_MAX && cls && len <= 4000) {
			job_result(m, s->job, rcpt, cls, d, len);
			s->job->dsn_passed[rcpt] = (char)passed;
			rcpt = SIZE_MAX;
		}
	}
	(void)m;
}

static void handle_reply(struct qmgr *m, const char *p, size_t n)
{
	size_t off = 0, len;
	char type;
	const char *d;
	unsigned long long id = 0;
	struct buf mta = BUF_INIT;
	if (rec_parse(p, n, &off, &type, &d, &len) != 1 || type != 'N' ||
	    mem_to_u64(d, len, &id) < 0) {
		log_warn("malformed reply from remote delivery dropped");
		return;
	}
	struct rslot *s = find_slot(id);
	if (!s) {
		log_warn("reply from remote delivery for unknown request %llu dropped", id);
		return;
	}
	size_t save = off;
	if (rec_parse(p, n, &off, &type, &d, &len) == 1 && type == 'M' && len <= 600)
		buf_set(&mta, d, len);
	else
		off = save;
	take_answers(m, s, p, n, off);
	close_slot(m, s, &mta, "4.3.0 remote delivery gave no answer for this recipient");
	buf_free(&mta);
}

void remote_receive(struct qmgr *m)
{
	static char *p;
	if (!p)
		p = xmalloc(REMOTE_REPLY_MAX);
	while (m->rsock >= 0) {
		ssize_t n = recv(m->rsock, p, REMOTE_REPLY_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			log_warn("remote delivery went away%s%s", n < 0 ? ": " : "",
				 n < 0 ? strerror(errno) : "");
			remote_lost(m);
			return;
		}
		if ((size_t)n > REMOTE_REPLY_MAX)
			log_warn("oversized reply from remote delivery dropped");
		else
			handle_reply(m, p, (size_t)n);
	}
}

long long remote_expire(struct qmgr *m, time_t now)
{
	long long wait = -1;
	for (size_t i = 0; i < nslots; i++) {
		if (slots[i].id == 0)
			continue;
		long long left = (long long)(slots[i].sent + REMOTE_DEADLINE - now);
		if (left <= 0) {
			log_warn("%s: no answer from remote delivery", slots[i].job->e.qid);
			close_slot(m, &slots[i], NULL, "4.4.2 no answer from remote delivery");
		} else if (wait < 0 || left * 1000 < wait) {
			wait = left * 1000;
		}
	}
	return wait;
}

void remote_lost(struct qmgr *m)
{
	if (m->rsock >= 0)
		close(m->rsock);
	m->rsock = -1;
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].id)
			close_slot(m, &slots[i], NULL, "4.3.0 remote delivery went away");
}
