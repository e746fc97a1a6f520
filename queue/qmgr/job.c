/* job: one delivery attempt of one queued message.  job_open() reads the
 * envelope and sorts the pending recipients into requests for local and
 * for remote (remote.c, by next hop); job_finish()
 * makes the outcome durable in this order: permanent failures appended to
 * bounce/QID and fsynced, then R->D marks and one fsync, then defer/QID and
 * the next attempt time as the file's mtime.  A message with nothing left
 * to do is bounced (if needed) and unlinked. */
#include "qmgr.h"
#include "io.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define BOUNCE_FILE_MAX (16u << 20)

static void job_free(struct job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->rofd >= 0)
		close(j->rofd);
	for (size_t i = 0; j->why && i < j->q.nrcpt; i++) {
		buf_free(&j->why[i]);
		buf_free(&j->hop[i]);
		buf_free(&j->mta[i]);
	}
	qfile_free(&j->q);
	free(j->result);
	free(j->dsn_passed);
	free(j->why);
	free(j->hop);
	free(j->mta);
	free(j->todo);
	free(j->rtodo);
	free(j);
}

static void job_unlink(struct qmgr *m, struct job *j)
{
	for (struct job **p = &m->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			m->njobs--;
			return;
		}
}

/* enqueue only renames complete, well-formed files: this one is damaged.
 * Never delivered, never deleted: it goes to corrupt/ for the
 * administrator (mailq lists it), its deferral reasons go away. */
static void move_corrupt(struct qmgr *m, const char *qid, const char *why)
{
	struct buf s = BUF_INIT;
	const char *w = log_safe(&s, why, strlen(why), 500);
	if (renameat(m->active, qid, m->corrupt, qid) < 0) {
		log_error("%s: malformed queue file (%s); cannot move it to corrupt/: %s", qid,
			  w, strerror(errno));
	} else {
		log_error("%s: malformed queue file (%s): moved to corrupt/", qid, w);
		unlinkat(m->defer, qid, 0);
	}
	buf_free(&s);
}

static int load(struct qmgr *m, struct job *j)
{
	struct buf err = BUF_INIT;
	j->fd = openat(m->active, j->e.qid, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	j->rofd = j->fd < 0 ? -1 : openat(m->active, j->e.qid, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (j->fd < 0 || j->rofd < 0) {
		if (errno != ENOENT)	/* ENOENT: deleted by posthorn queue delete */
			log_error("%s: cannot open: %s", j->e.qid, strerror(errno));
		return -1;
	}
	int r = qfile_read(j->fd, &j->q, &err);
	if (r == -1)
		log_error("%s: cannot read the queue file: %s", j->e.qid, strerror(errno));
	else if (r == QFILE_NEWER)	/* left where it is: a newer posthorn delivers it */
		log_warn("%s: needs a newer posthorn: %s: left untouched in active/", j->e.qid,
			 buf_cstr(&err));
	else if (r < 0 || !j->q.complete)
		move_corrupt(m, j->e.qid, err.len ? buf_cstr(&err) : "incomplete queue file");
	if (r < 0 || !j->q.complete) {
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return 0;
}

void job_close_all(struct qmgr *m)
{
	while (m->jobs) {
		struct job *j = m->jobs;
		m->jobs = j->next;
		job_free(j);
	}
	m->njobs = 0;
}

/* Local domain (or transport "local") -> todo; else remote -> rtodo. */
static void route(struct qmgr *m, struct job *j, size_t i)
{
	const struct qrcpt *r = &j->q.rcpts[i];
	int local = resolve_is_local(&m->res, r->addr.s, r->addr.len);
	int remote = local == 0 ? remote_route(m, r->addr.s, r->addr.len, &j->hop[i]) : 0;
	if (local < 0 || remote < 0)
		job_result(m, j, i, '4', "4.3.0 cannot read the domains or transport table", 48);
	else if (remote)
		j->rtodo[j->nrtodo++] = i;
	else
		j->todo[j->ntodo++] = i;
}

struct job *job_open(struct qmgr *m, const struct entry *e)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->e = *e;
	if (load(m, j) < 0) {
		job_free(j);
		return NULL;
	}
	size_t n = j->q.nrcpt ? j->q.nrcpt : 1;
	j->result = xcalloc(n, 1);
	j->dsn_passed = xcalloc(n, 1);
	j->why = xcalloc(n, sizeof *j->why);
	j->hop = xcalloc(n, sizeof *j->hop);
	j->mta = xcalloc(n, sizeof *j->mta);
	j->todo = xcalloc(n, sizeof *j->todo);
	j->rtodo = xcalloc(n, sizeof *j->rtodo);
	for (size_t i = 0; i < j->q.nrcpt; i++)
		if (!j->q.rcpts[i].done)
			route(m, j, i);
	j->next = m->jobs;
	m->jobs = j;
	m->njobs++;
	if (j->ntodo == 0 && j->nrtodo == 0) {
		job_finish(m, j);
		return NULL;
	}
	return j;
}

void job_result(struct qmgr *m, struct job *j, size_t rcpt, char cls,
		const char *text, size_t len)
{
	(void)m;
	if (rcpt >= j->q.nrcpt)
		return;
	j->result[rcpt] = cls;
	buf_set(&j->why[rcpt], text, len);
}

int job_answered(const struct job *j)
{
	return j->next_todo >= j->ntodo && j->rsent >= j->nrtodo && j->inflight == 0;
}

static void log_rcpt(const struct job *j, size_t i, const char *status)
{
	struct buf a = BUF_INIT, o = BUF_INIT, w = BUF_INIT;
	const struct qrcpt *r = &j->q.rcpts[i];
	log_safe(&a, r->addr.s, r->addr.len, 300);
	log_safe(&o, r->orig.s, r->orig.len, 300);
	log_safe(&w, j->why[i].s, j->why[i].len, 500);
	log_info("%s: to=<%s>%s%s%s status=%s (%s)", j->e.qid, a.s, r->orig.len ? " orig_to=<" : "",
		 r->orig.len ? o.s : "", r->orig.len ? ">" : "", status, w.s);
	buf_free(&a);
	buf_free(&o);
	buf_free(&w);
}

/* Appends the failures to bounce/QID and fsyncs it: 0 ok, -1 error. */
static int record_failures(struct qmgr *m, struct job *j, const struct buf *recs)
{
	int fd = openat(m->bounce, j->e.qid, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct stat st;
	int fresh = fstat(fd, &st) == 0 && st.st_size == 0;
	int r = write_all(fd, recs->s, recs->len) == 0 && fsync(fd) == 0 ? 0 : -1;
	close(fd);
	if (r == 0 && fresh && fsync(m->bounce) < 0)
		r = -1;
	if (r < 0)
		log_error("%s: cannot write bounce/%s: %s", j->e.qid, j->e.qid, strerror(errno));
	return r;
}

/* The deferral reasons for mailq: replaced whole, not fsynced (advisory). */
static void record_deferrals(struct qmgr *m, struct job *j)
{
	struct buf b = BUF_INIT, tmp = BUF_INIT;
	for (size_t i = 0; i < j->q.nrcpt; i++)
		if (j->result[i] == '4') {
			rec_put(&b, REC_RCPT, j->q.rcpts[i].addr.s, j->q.rcpts[i].addr.len);
			rec_put(&b, 'W', j->why[i].s, j->why[i].len);
		}
	buf_printf(&tmp, "%s.tmp", j->e.qid);
	int fd = openat(m->defer, buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, b.s, b.len) < 0 || renameat(m->defer, tmp.s, m->defer, j->e.qid) < 0)
		log_warn("%s: cannot write defer/%s: %s", j->e.qid, j->e.qid, strerror(errno));
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	buf_free(&tmp);
}

/* Interval from retry_min doubling to retry_max, without a counter: the
 * time already spent in the queue doubles with each attempt. */
static time_t next_attempt(const struct qmgr *m, const struct job *j, time_t now)
{
	long long rmin = config_num(m->cfg, "retry_min"), rmax = config_num(m->cfg, "retry_max");
	long long age = (long long)now - j->q.arrival;
	long long iv = age < rmin ? rmin : age > rmax ? rmax : age;
	if (iv < 1)
		iv = 1;
	long long next = (long long)now + iv;
	long long expiry = j->q.arrival + config_num(m->cfg, "queue_lifetime");
	if (next > expiry)
		next = expiry > (long long)now ? expiry : (long long)now + 1;
	return (time_t)next;
}

static void defer_job(struct qmgr *m, struct job *j, time_t now, time_t next)
{
	record_deferrals(m, j);
	struct timespec ts[2] = {{now, 0}, {next, 0}};
	if (futimens(j->fd, ts) < 0)
		log_warn("%s: cannot set the retry time: %s", j->e.qid, strerror(errno));
	j->e.next = next;
	deferred_push(&j->e);
}

/* Reads bounce/QID (empty if none). */
static int read_bounce_file(struct qmgr *m, const char *qid, struct buf *out)
{
	buf_reset(out);
	int fd = openat(m->bounce, qid, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		buf_reserve(out, 65536);
		ssize_t r = read(fd, out->s + out->len, 65536);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (out->len += (size_t)r) > BOUNCE_FILE_MAX) {
			close(fd);
			return r < 0 ? -1 : 0;
		}
	}
}

/* 1 if a record of recs (R or O) names a postmaster: a failed double
 * bounce is not reported again. */
static int names_postmaster(const struct buf *recs)
{
	size_t off = 0, len;
	char type;
	const char *d;
	while (rec_parse(recs->s, recs->len, &off, &type, &d, &len) == 1) {
		const char *semi = type == REC_ORCPT ? memchr(d, ';', len) : NULL;
		if (semi) {
			len -= (size_t)(semi + 1 - d);
			d = semi + 1;
		}
		if ((type == REC_RCPT || type == REC_ORCPT) && len >= 10 &&
		    !strncasecmp(d, "postmaster", 10) && (len == 10 || d[10] == '@'))
			return 1;
	}
	return 0;
}

/* 1 if j is one of our own reports (its Message-ID is the one dsn.c
 * makes: <TIME.QID.bounce@hostname>). */
static int is_our_report(struct qmgr *m, const struct job *j)
{
	struct buf h = BUF_INIT, id = BUF_INIT;
	buf_printf(&id, ".bounce@%s>", config_str(m->cfg, "hostname"));
	int r = qfile_headers(j->rofd, &j->q, (size_t)config_num(m->cfg, "max_header_size"), &h) == 0 &&
		mem_find(h.s, h.len, id.s, id.len) != NULL;
	buf_free(&h);
	buf_free(&id);
	return r;
}

/* Whom the report goes to: the sender.  The null sender gets nothing (RFC
 * 3461: no DSN to <>); only when the failed message is one of our own
 * reports (a double bounce) the postmaster gets it, unless it was going
 * to the postmaster already.  Empty: nobody. */
static void report_to(struct qmgr *m, const struct job *j, const struct buf *recs, struct buf *to)
{
	buf_reset(to);
	if (j->q.sender.len)
		buf_copy(to, &j->q.sender);
	else if (!names_postmaster(recs) && is_our_report(m, j))
		buf_printf(to, "postmaster@%s", config_str(m->cfg, "domain"));
	buf_cstr(to);
}

static void delay_marker_name(const struct job *j, struct buf *name)
{
	buf_printf(name, "%s.delayed", j->e.qid);
}

/* Once the message is older than delay_warning: one delay notice (RFC
 * 3464 Action: delayed) for the pending recipients whose NOTIFY allows it.
 * defer/QID.delayed records that it went (or that nobody wanted one). */
static void delay_notice(struct qmgr *m, struct job *j, time_t now)
{
	long long dw = config_num(m->cfg, "delay_warning");
	if (dw <= 0 || (long long)now - j->q.arrival < dw || j->q.sender.len == 0)
		return;
	struct buf name = BUF_INIT, recs = BUF_INIT;
	struct stat st;
	delay_marker_name(j, &name);
	if (fstatat(m->defer, buf_cstr(&name), &st, AT_SYMLINK_NOFOLLOW) == 0)
		goto out;
	for (size_t i = 0; i < j->q.nrcpt; i++) {
		const struct qrcpt *r = &j->q.rcpts[i];
		if (j->result[i] != '4' || !qfile_notify(r, "DELAY"))
			continue;
		rec_put(&recs, REC_RCPT, r->addr.s, r->addr.len);
		rec_put(&recs, REC_ORCPT, r->orig.s, r->orig.len);
		rec_put(&recs, 'C', "4", 1);
		rec_put(&recs, 'M', j->mta[i].s, j->mta[i].len);
		rec_put(&recs, 'W', j->why[i].s, j->why[i].len);
	}
	if (recs.len && bounce_send(m, j, &recs, 1, buf_cstr(&j->q.sender)) == BOUNCE_TEMP)
		goto out;	/* tried again at the next attempt */
	int fd = openat(m->defer, name.s, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	else
		log_warn("%s: cannot write defer/%s: %s", j->e.qid, name.s, strerror(errno));
out:
	buf_free(&name);
	buf_free(&recs);
}

static void unlink_delay_marker(struct qmgr *m, const struct job *j)
{
	struct buf name = BUF_INIT;
	delay_marker_name(j, &name);
	unlinkat(m->defer, buf_cstr(&name), 0);
	buf_free(&name);
}

/* Nothing left to deliver: send the report, then remove the message. */
static void complete(struct qmgr *m, struct job *j, time_t now)
{
	struct buf recs = BUF_INIT, to = BUF_INIT;
	if (read_bounce_file(m, j->e.qid, &recs) < 0) {
		log_error("%s: cannot read bounce/%s: %s", j->e.qid, j->e.qid, strerror(errno));
		defer_job(m, j, now, now + config_num(m->cfg, "retry_min"));
		buf_free(&recs);
		return;
	}
	report_to(m, j, &recs, &to);
	if (recs.len && to.len == 0) {
		log_info("%s: no bounce: the sender is <>", j->e.qid);
	} else if (recs.len && bounce_send(m, j, &recs, 0, to.s) == BOUNCE_TEMP) {
		buf_free(&to);
		defer_job(m, j, now, now + config_num(m->cfg, "retry_min"));
		buf_free(&recs);
		return;
	}
	buf_free(&recs);
	buf_free(&to);
	unlinkat(m->bounce, j->e.qid, 0);
	if (unlinkat(m->active, j->e.qid, 0) < 0 && errno != ENOENT)
		log_error("%s: cannot remove: %s", j->e.qid, strerror(errno));
	unlinkat(m->defer, j->e.qid, 0);
	unlink_delay_marker(m, j);
	log_info("%s: removed", j->e.qid);
}

static void put_report(struct buf *recs, const struct job *j, size_t i, char c)
{
	const struct qrcpt *r = &j->q.rcpts[i];
	rec_put(recs, REC_RCPT, r->addr.s, r->addr.len);
	rec_put(recs, REC_ORCPT, r->orig.s, r->orig.len);
	rec_put(recs, 'C', &c, 1);
	rec_put(recs, 'M', j->mta[i].s, j->mta[i].len);
	rec_put(recs, 'W', j->why[i].s, j->why[i].len);
}

/* Sorts the answers: D marks and report records (failures; successes
 * where NOTIFY=SUCCESS asked and there is a sender); returns the pending
 * count.  NOTIFY without FAILURE: a failure is marked but not reported. */
static size_t classify(struct job *j, int expired, struct buf *recs, size_t *marks)
{
	size_t pending = 0;
	for (size_t i = 0; i < j->q.nrcpt; i++) {
		char c = j->result[i];
		const struct qrcpt *r = &j->q.rcpts[i];
		if (c == '2') {
			log_rcpt(j, i, "sent");
			if (j->q.sender.len && qfile_notify(r, "SUCCESS") && !j->dsn_passed[i])
				put_report(recs, j, i, c);
			(*marks)++;
		} else if (c == '5' || (c == '4' && expired)) {
			int report = qfile_notify(r, "FAILURE");
			if (report)
				put_report(recs, j, i, c);
			/* posthorn-log(5): the status is one word; the rest a field */
			log_rcpt(j, i, report ? "bounced" : "bounced notify=no-report");
			j->result[i] = 'F';
			(*marks)++;
		} else if (c == '4') {
			log_rcpt(j, i, "deferred");
			pending++;
		}
	}
	return pending;
}

static int mark_done(struct job *j)
{
	for (size_t i = 0; i < j->q.nrcpt; i++)
		if ((j->result[i] == '2' || j->result[i] == 'F') &&
		    qfile_mark_done(j->fd, &j->q.rcpts[i]) < 0)
			return -1;
	return fsync(j->fd);
}

/* 1 if active/QID is no longer the file this job has open (held). */
static int moved_away(struct qmgr *m, const struct job *j)
{
	struct stat here, open_st;
	if (fstat(j->fd, &open_st) < 0)
		return 0;
	return fstatat(m->active, j->e.qid, &here, AT_SYMLINK_NOFOLLOW) < 0 ||
	       here.st_ino != open_st.st_ino || here.st_dev != open_st.st_dev;
}

void job_finish(struct qmgr *m, struct job *j)
{
	job_unlink(m, j);
	struct stat st;
	if (fstat(j->fd, &st) == 0 && st.st_nlink == 0) {
		log_info("%s: deleted from the queue", j->e.qid);
		unlink_delay_marker(m, j);
		job_free(j);
		return;
	}
	time_t now = time(NULL);
	int expired = (long long)now - j->q.arrival >= config_num(m->cfg, "queue_lifetime");
	struct buf recs = BUF_INIT;
	size_t marks = 0;
	size_t pending = classify(j, expired, &recs, &marks);
	if (recs.len && record_failures(m, j, &recs) < 0) {
		/* not recorded: not marked either, so they are tried again */
		for (size_t i = 0; i < j->q.nrcpt; i++)
			if (j->result[i] == 'F')
				j->result[i] = '4';
		pending = 1;
	}
	int has_bounce = fstatat(m->bounce, j->e.qid, &st, AT_SYMLINK_NOFOLLOW) == 0;
	/* A message about to be removed needs no marks: if the unlink is
	 * lost in a crash, local finds its earlier copies by name.  One that
	 * posthorn queue hold moved away meanwhile is not removed: it keeps
	 * its marks, so a release sends nothing twice. */
	int held = moved_away(m, j);
	if ((pending || has_bounce || held) && marks && mark_done(j) < 0)
		log_error("%s: cannot mark recipients done: %s", j->e.qid, strerror(errno));
	if (pending)
		delay_notice(m, j, now);
	if (pending)
		defer_job(m, j, now, next_attempt(m, j, now));
	else if (held)	/* its bounce and removal wait for the release */
		log_info("%s: put on hold during the attempt: result recorded, the rest waits for "
			 "posthorn queue release", j->e.qid);
	else
		complete(m, j, now);
	buf_free(&recs);
	job_free(j);
}
