/* bounce: turns report records (R, O, C, W, M: one recipient each; from
 * bounce/QID, or a delay notice's list) into an RFC 3464 report
 * (common/dsn.c) and queues it through libexec/enqueue with the null
 * sender, so a report that fails in turn is never reported to a sender
 * again.  C 5 (or 4: expired) is a failure, C 2 a success the recipient's
 * NOTIFY=SUCCESS asked for.  The original's header, or the whole message
 * (RET=FULL, else bounce_headers_only = no; only when it fits), is read
 * from the queue file.  The report goes to the sender; a failure of a
 * message with the null sender goes to the postmaster (a double bounce),
 * never to <>. */
#include "qmgr.h"
#include "dsn.h"
#include "io.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOUNCE_OVERHEAD 65536	/* report text around the original */

/* Parses the records; a recipient failed twice is reported once. */
static size_t parse_failures(const struct buf *recs, struct dsn_rcpt **out, int delay)
{
	size_t off = 0, n = 0, cap = 0, len;
	char type;
	const char *d;
	struct dsn_rcpt *v = NULL, cur = {0};
	while (rec_parse(recs->s, recs->len, &off, &type, &d, &len) == 1) {
		if (type == REC_RCPT) {
			cur = (struct dsn_rcpt){0};
			cur.addr = d;
			cur.addr_len = len;
		} else if (type == REC_ORCPT) {
			cur.orig = d;
			cur.orig_len = len;
		} else if (type == 'C') {
			cur.temporary = len == 1 && d[0] == '4';
			cur.action = len == 1 && d[0] == '2' ? "delivered" : delay ? "delayed" : NULL;
		} else if (type == 'M' && cur.addr) {
			cur.mta = len ? d : NULL;
			cur.mta_len = len;
			if (len && cur.action && !strcmp(cur.action, "delivered"))
				cur.action = "relayed";
		} else if (type == 'W' && cur.addr) {
			cur.diag = d;
			cur.diag_len = len;
			size_t k = 0;
			while (k < n && !mem_caseeq(v[k].addr, v[k].addr_len, cur.addr, cur.addr_len))
				k++;
			if (k < n)
				continue;
			if (n == cap) {
				cap = cap ? size_mul(cap, 2) : 8;
				v = xrealloc(v, size_mul(cap, sizeof *v));
			}
			v[n++] = cur;
		}
	}
	*out = v;
	return n;
}

/* RET=FULL or RET=HDRS decide; without RET a failure follows
 * bounce_headers_only and other reports carry the header. */
static int read_original(struct qmgr *m, struct job *j, struct buf *orig, int *full, int kind)
{
	size_t maxmsg = (size_t)config_num(m->cfg, "max_message_size");
	struct buf ret = BUF_INIT;
	int want = qfile_attr(&j->q, "ret", &ret) ? buf_eq(&ret, "FULL")
		 : kind == DSN_FAILURE && !config_bool(m->cfg, "bounce_headers_only");
	buf_free(&ret);
	*full = want && j->q.msg_len <= maxmsg && maxmsg - j->q.msg_len > BOUNCE_OVERHEAD;
	if (*full)
		return qfile_message(j->rofd, &j->q, j->q.msg_len, orig);
	return qfile_headers(j->rofd, &j->q, (size_t)config_num(m->cfg, "max_header_size"), orig);
}

static void put_records(struct buf *b, const char *to, size_t tolen, const struct buf *msg)
{
	rec_put(b, REC_SENDER, "", 0);
	rec_put(b, REC_RCPT, to, tolen);
	for (size_t off = 0; off < msg->len; off += 1u << 20) {
		size_t n = msg->len - off < (1u << 20) ? msg->len - off : (1u << 20);
		rec_put(b, REC_MESSAGE, msg->s + off, n);
	}
	rec_put(b, REC_END, "", 0);
}

/* Runs enqueue with the records; returns BOUNCE_* and the reply in reply. */
static int run_enqueue(struct qmgr *m, const struct buf *recs, struct buf *reply)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return BOUNCE_TEMP;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return BOUNCE_TEMP;
	}
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/enqueue", config_str(m->cfg, "libexec_dir"));
	pid_t pid = fork();
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(111);
		char *args[] = {"enqueue", "-c", m->cfg->path, NULL};
		execv(buf_cstr(&path), args);
		_exit(111);
	}
	close(in[0]);
	close(out[1]);
	buf_free(&path);
	if (pid < 0 || write_all(in[1], recs->s, recs->len) < 0) {
		/* enqueue ended early: its reply says why */
	}
	close(in[1]);
	struct io io;
	io_init(&io, out[0], -1, 60000);
	struct buf line = BUF_INIT;
	while (io_getline(&io, &line, 1024) == LINE_OK)
		buf_copy(reply, &line);
	io_free(&io);
	close(out[0]);
	buf_free(&line);
	int status = 0;
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (pid < 0 || !WIFEXITED(status))
		return BOUNCE_TEMP;
	return WEXITSTATUS(status) == 0 ? BOUNCE_SENT : WEXITSTATUS(status) == 1 ? BOUNCE_PERM
										 : BOUNCE_TEMP;
}

/* DSN_FAILURE if any recipient failed, else DSN_SUCCESS. */
static enum dsn_kind kind_of(const struct dsn_rcpt *rc, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!rc[i].action)
			return DSN_FAILURE;
	return DSN_SUCCESS;
}

int bounce_send(struct qmgr *m, struct job *j, const struct buf *records, int delay,
		const char *to)
{
	struct dsn_rcpt *rc = NULL;
	size_t n = parse_failures(records, &rc, delay);
	struct buf orig = BUF_INIT, msg = BUF_INIT, recs = BUF_INIT, reply = BUF_INIT, tmp = BUF_INIT;
	struct buf envid = BUF_INIT;
	int full = 0;
	enum dsn_kind kind = delay ? DSN_DELAY : kind_of(rc, n);
	if (read_original(m, j, &orig, &full, kind) < 0) {
		log_warn("%s: cannot read the original for the bounce", j->e.qid);
		buf_reset(&orig);
	}
	struct dsn_msg dm = {
		.qid = j->e.qid, .reporting_mta = config_str(m->cfg, "hostname"),
		.to = to, .arrival = j->q.arrival, .now = (long long)time(NULL),
		.original = orig.s ? orig.s : "", .original_len = orig.len, .original_is_full = full,
		.kind = kind, .envid = qfile_attr(&j->q, "envid", &envid) ? buf_cstr(&envid) : NULL,
	};
	dsn_compose(&msg, &dm, rc, n);
	put_records(&recs, to, strlen(to), &msg);
	int r = run_enqueue(m, &recs, &reply);
	log_safe(&tmp, reply.s, reply.len && reply.s[reply.len - 1] == '\n' ? reply.len - 1 : reply.len, 300);
	static const char *const what[] = {"bounce", "delay notice", "success notice"};
	struct buf t = BUF_INIT;
	log_safe(&t, to, strlen(to), 300);
	if (r == BOUNCE_SENT)
		log_info("%s: %s to <%s> queued: %s", j->e.qid, what[kind], t.s, tmp.s);
	else
		log_warn("%s: %s to <%s> %s: %s", j->e.qid, what[kind], t.s,
			 r == BOUNCE_PERM ? "refused, not sent" : "failed, will retry", tmp.s);
	buf_free(&t);
	buf_free(&envid);
	free(rc);
	buf_free(&orig);
	buf_free(&msg);
	buf_free(&recs);
	buf_free(&reply);
	buf_free(&tmp);
	return r;
}
