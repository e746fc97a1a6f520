/* qfile: queue file parsing, R->D marking and the queue listing (see
 * qfile.h).  Everything read here came from disk written by enqueue, but
 * it is still checked record by record: a damaged file is reported as
 * malformed, never trusted. */
#include "qfile.h"
#include "io.h"
#include "log.h"
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QREC_MAX 65536		/* envelope record data limit (design.md) */

int qid_valid(const char *s, size_t len)
{
	if (len == 0 || len > QID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* Parses "TYPE DIGITS ':'" at off: 1 ok, 0 need more bytes, -1 bad. */
static int hdr_parse(const char *m, size_t len, size_t off, char *type,
		     unsigned long long *dlen, size_t *hlen)
{
	if (off >= len)
		return 0;
	size_t i = off + 1;
	unsigned long long v = 0;
	int digits = 0;
	for (; i < len && m[i] >= '0' && m[i] <= '9'; i++) {
		if (++digits > 20 || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(m[i] - '0');
	}
	if (i >= len)
		return 0;
	if (m[i] != ':' || digits == 0)
		return -1;
	*type = m[off];
	*dlen = v;
	*hlen = i + 1 - off;
	return 1;
}

/* Appends up to 64 KiB more of the file to env; returns bytes read. */
static ssize_t read_more(int fd, struct buf *env)
{
	buf_reserve(env, 65536);
	for (;;) {
		ssize_t r = pread(fd, env->s + env->len, 65536, (off_t)env->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0)
			env->len += (size_t)r;
		return r;
	}
}

static struct qrcpt *add_rcpt(struct qfile *q)
{
	if (q->nrcpt == q->cap) {
		q->cap = q->cap ? size_mul(q->cap, 2) : 8;
		q->rcpts = xrealloc(q->rcpts, size_mul(q->cap, sizeof *q->rcpts));
	}
	struct qrcpt *r = &q->rcpts[q->nrcpt];
	memset(r, 0, sizeof *r);
	r->index = q->nrcpt++;
	return r;
}

/* O and F records wait for the next R/D. */
struct pending {
	struct buf orig, notify;
};

/* One envelope record; p carries an O and an F to the next R/D. */
static int take_record(struct qfile *q, char type, const char *d, size_t n,
		       off_t off, struct pending *p, struct buf *err)
{
	unsigned long long t;
	switch (type) {
	case REC_VERSION:
		/* the first record: nothing after it is read in a newer file */
		if (mem_to_u64(d, n, &t) < 0 || t == 0)
			goto bad;
		if (t > QUEUE_FORMAT_NUM) {
			buf_printf(err, "queue file format version %llu; this posthorn reads up "
				   "to version %d", t, QUEUE_FORMAT_NUM);
			return QFILE_NEWER;
		}
		return 0;
	case REC_QID:
		if (!qid_valid(d, n))
			goto bad;
		buf_set(&q->qid, d, n);
		return 0;
	case REC_TIME:
		if (mem_to_u64(d, n, &t) < 0 || t > 0x7fffffffffffULL)
			goto bad;
		q->arrival = (long long)t;
		return 0;
	case REC_SENDER:
		buf_set(&q->sender, d, n);
		q->has_sender = 1;
		return 0;
	case REC_ATTR:
		buf_append(&q->attrs, d, n);
		buf_putc(&q->attrs, '\n');
		return 0;
	case REC_ORCPT:
		buf_set(&p->orig, d, n);
		return 0;
	case REC_NOTIFY:
		buf_set(&p->notify, d, n);
		return 0;
	case REC_RCPT:
	case REC_DONE: {
		struct qrcpt *r = add_rcpt(q);
		buf_set(&r->addr, d, n);
		buf_copy(&r->orig, &p->orig);
		buf_copy(&r->notify, &p->notify);
		buf_reset(&p->orig);
		buf_reset(&p->notify);
		r->type_off = off;
		r->done = type == REC_DONE;
		return 0;
	}
	}
bad:
	buf_printf(err, "bad '%c' record at offset %lld", type, (long long)off);
	return -1;
}

/* Checks that "\nE0:\n" follows the message bytes.  The declared length
 * is compared with the file size first: it is up to 20 digits, and adding
 * it to an offset unchecked could overflow. */
static int check_end(int fd, struct qfile *q, unsigned long long dlen, struct buf *why)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size < q->msg_off || dlen > (unsigned long long)(st.st_size - q->msg_off)) {
		buf_printf(why, "message length %llu runs past the end of the file (%lld bytes)",
			   dlen, (long long)st.st_size);
		return 0;
	}
	q->msg_len = (size_t)dlen;
	char tail[5];
	ssize_t r = pread(fd, tail, sizeof tail, q->msg_off + (off_t)dlen);
	if (r < 0)
		return -1;
	q->complete = r == 5 && memcmp(tail, "\nE0:\n", 5) == 0;
	if (!q->complete)
		buf_puts(why, "no end record after the message (truncated, or a wrong message length)");
	return 0;
}

static int parse_envelope(int fd, struct qfile *q, struct buf *env, struct buf *err)
{
	struct pending pend = {BUF_INIT, BUF_INIT};
	size_t off = 0;
	int rc = 0;
	for (;;) {
		char type = 0;
		unsigned long long dlen = 0;
		size_t hlen = 0;
		int h = hdr_parse(env->s, env->len, off, &type, &dlen, &hlen);
		if (h < 0) {
			buf_printf(err, "malformed record header at offset %zu", off);
			rc = -2;
			break;
		}
		size_t need = h == 0 ? off + 32 : off + hlen + (size_t)dlen + 1;
		if (h == 1 && type == REC_MESSAGE) {
			q->msg_off = (off_t)(off + hlen);
			rc = check_end(fd, q, dlen, err);
			break;
		}
		if (h == 1 && dlen > QREC_MAX) {
			buf_printf(err, "record too long at offset %zu", off);
			rc = -2;
			break;
		}
		if (env->len < need) {
			if (env->len > QFILE_ENVELOPE_MAX) {
				buf_puts(err, "envelope too large");
				rc = -2;
				break;
			}
			ssize_t r = read_more(fd, env);
			if (r < 0) {
				rc = -1;
				break;
			}
			if (r == 0) {	/* truncated: incomplete, not malformed */
				buf_printf(err, "file ends inside the envelope (offset %zu)", off);
				break;
			}
			continue;
		}
		if (h == 0 || env->s[need - 1] != '\n') {
			buf_printf(err, "record without newline at offset %zu", off);
			rc = -2;
			break;
		}
		int t = take_record(q, type, env->s + off + hlen, (size_t)dlen, (off_t)off, &pend,
				    err);
		if (t < 0) {
			rc = t == QFILE_NEWER ? QFILE_NEWER : -2;
			break;
		}
		off = need;
	}
	buf_free(&pend.orig);
	buf_free(&pend.notify);
	return rc;
}

/* A complete file still needs its I and S records and a recipient:
 * without them it is malformed, never an empty message to delete. */
static int check_required(const struct qfile *q, struct buf *err)
{
	const char *missing = q->qid.len == 0 ? "no queue id record"
			    : !q->has_sender ? "no sender record"
			    : q->nrcpt == 0 ? "no recipient record" : NULL;
	if (!missing)
		return 0;
	buf_puts(err, missing);
	return -2;
}

int qfile_read(int fd, struct qfile *q, struct buf *err)
{
	memset(q, 0, sizeof *q);
	buf_reset(err);
	struct buf env = BUF_INIT;
	int rc = parse_envelope(fd, q, &env, err);
	buf_free(&env);
	if (rc == 0 && q->complete)
		rc = check_required(q, err);
	return rc;
}

void qfile_free(struct qfile *q)
{
	for (size_t i = 0; i < q->nrcpt; i++) {
		buf_free(&q->rcpts[i].addr);
		buf_free(&q->rcpts[i].orig);
		buf_free(&q->rcpts[i].notify);
	}
	free(q->rcpts);
	buf_free(&q->qid);
	buf_free(&q->sender);
	buf_free(&q->attrs);
	memset(q, 0, sizeof *q);
}

int qfile_attr(const struct qfile *q, const char *name, struct buf *out)
{
	size_t nlen = strlen(name), off = 0;
	while (off < q->attrs.len) {
		const char *line = q->attrs.s + off;
		const char *nl = memchr(line, '\n', q->attrs.len - off);
		size_t len = nl ? (size_t)(nl - line) : q->attrs.len - off;
		if (len > nlen && line[nlen] == '=' && !memcmp(line, name, nlen)) {
			buf_set(out, line + nlen + 1, len - nlen - 1);
			return 1;
		}
		off += len + 1;
	}
	return 0;
}

int qfile_notify(const struct qrcpt *r, const char *word)
{
	if (r->notify.len == 0)
		return strcmp(word, "SUCCESS") != 0;
	size_t wlen = strlen(word), i = 0;
	while (i < r->notify.len) {
		const char *c = memchr(r->notify.s + i, ',', r->notify.len - i);
		size_t end = c ? (size_t)(c - r->notify.s) : r->notify.len;
		if (end - i == wlen && !strncasecmp(r->notify.s + i, word, wlen))
			return 1;
		i = end + 1;
	}
	return 0;
}

int qfile_mark_done(int fd, const struct qrcpt *r)
{
	for (;;) {
		ssize_t w = pwrite(fd, "D", 1, r->type_off);
		if (w == 1)
			return 0;
		if (w < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static int read_at(int fd, struct buf *out, off_t at, size_t n)
{
	buf_reserve(out, n);
	while (n > 0) {
		ssize_t r = pread(fd, out->s + out->len, n, at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		out->len += (size_t)r;
		at += r;
		n -= (size_t)r;
	}
	return 0;
}

int qfile_message(int fd, const struct qfile *q, size_t max, struct buf *out)
{
	buf_reset(out);
	return read_at(fd, out, q->msg_off, q->msg_len < max ? q->msg_len : max);
}

int qfile_headers(int fd, const struct qfile *q, size_t max, struct buf *out)
{
	buf_reset(out);
	size_t limit = q->msg_len < max ? q->msg_len : max;
	while (out->len < limit) {
		size_t start = out->len ? out->len - 1 : 0;
		size_t chunk = limit - out->len < 8192 ? limit - out->len : 8192;
		if (read_at(fd, out, q->msg_off + (off_t)out->len, chunk) < 0)
			return -1;
		if (out->len && out->s[0] == '\n') {
			buf_reset(out);	/* no header at all */
			return 0;
		}
		const char *e = mem_find(out->s + start, out->len - start, "\n\n", 2);
		if (e) {
			buf_truncate(out, (size_t)(e - out->s) + 1);
			return 0;
		}
	}
	return 0;
}

/* --- deferral reasons (defer/<qid>) --- */

int qreasons_read(const char *path, struct qreasons *r)
{
	memset(r, 0, sizeof *r);
	struct buf text = BUF_INIT;
	if (file_read(path, &text, QFILE_ENVELOPE_MAX) < 0) {
		buf_free(&text);
		return -1;
	}
	size_t off = 0, cap = 0;
	char type;
	const char *d;
	size_t n;
	while (rec_parse(text.s, text.len, &off, &type, &d, &n) == 1) {
		if (type == REC_RCPT) {
			if (r->n == cap) {
				cap = cap ? size_mul(cap, 2) : 8;
				r->v = xrealloc(r->v, size_mul(cap, sizeof *r->v));
			}
			r->v[r->n] = (struct qreason){BUF_INIT, BUF_INIT};
			buf_set(&r->v[r->n++].rcpt, d, n);
		} else if (type == 'W' && r->n > 0) {
			buf_set(&r->v[r->n - 1].text, d, n);
		}
	}
	buf_free(&text);
	return 0;
}

const struct buf *qreasons_find(const struct qreasons *r, const struct buf *rcpt)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].rcpt.len == rcpt->len && !memcmp(r->v[i].rcpt.s, rcpt->s, rcpt->len))
			return &r->v[i].text;
	return NULL;
}

void qreasons_free(struct qreasons *r)
{
	for (size_t i = 0; i < r->n; i++) {
		buf_free(&r->v[i].rcpt);
		buf_free(&r->v[i].text);
	}
	free(r->v);
	memset(r, 0, sizeof *r);
}

/* --- the listing --- */

struct qlist_stats {
	unsigned long long bytes;
	size_t count;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted queue ids in queue_dir/sub; NULL with errno on error. */
static char **list_dir(int qdir, const char *sub, size_t *n)
{
	int fd = openat(qdir, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!qid_valid(e->d_name, strlen(e->d_name)))
			continue;
		if (*n == cap) {
			cap = cap ? size_mul(cap, 2) : 64;
			v = xrealloc(v, size_mul(cap, sizeof *v));
		}
		v[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof *v, name_cmp);
	return v ? v : xcalloc(1, sizeof *v);
}

static const char *safe(struct buf *tmp, const struct buf *s)
{
	return log_safe(tmp, s->s, s->len, 1000);
}

/* One message: "QID[*!] SIZE ARRIVAL SENDER", then each pending recipient
 * under its last deferral reason.  '*' marks a message qmgr has taken,
 * '!' one on hold (posthorn queue hold). */
static void print_entry(struct buf *o, const struct qfile *q, const char *qid,
			char mark, const struct qreasons *why)
{
	char when[64];
	time_t t = (time_t)q->arrival;
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm))
		when[0] = 0;
	struct buf tmp = BUF_INIT;
	buf_printf(o, "%-20s%c %8zu %-20s %s\n", qid, mark, q->msg_len, when,
		   q->sender.len ? safe(&tmp, &q->sender) : "MAILER-DAEMON");
	for (size_t i = 0; i < q->nrcpt; i++) {
		const struct qrcpt *r = &q->rcpts[i];
		if (r->done)
			continue;
		const struct buf *w = qreasons_find(why, &r->addr);
		if (w)
			buf_printf(o, "%*s(%s)\n", 12, "", safe(&tmp, w));
		buf_printf(o, "%*s%s\n", 12, "", safe(&tmp, &r->addr));
	}
	buf_putc(o, '\n');
	buf_free(&tmp);
}

/* A queue file that cannot be used: listed with the reason, never
 * skipped, so the administrator sees it. */
static void print_damaged(struct buf *o, const char *qid, const char *sub, const char *why,
			  struct qlist_stats *st)
{
	struct buf tmp = BUF_INIT;
	buf_printf(o, "%-20s  damaged%s: %s\n\n", qid,
		   strcmp(sub, "corrupt") ? "" : " (set aside in corrupt/)",
		   log_safe(&tmp, why, strlen(why), 500));
	buf_free(&tmp);
	st->count++;
}

/* Lists one message of queue_dir/sub; a file that vanished meanwhile
 * (delivered or deleted) is skipped, a damaged one says why. */
static void list_one(int qdir, const char *dir, const char *sub, const char *qid, struct buf *o,
		     struct qlist_stats *st)
{
	struct buf path = BUF_INIT, err = BUF_INIT;
	buf_printf(&path, "%s/%s", sub, qid);
	int fd = openat(qdir, buf_cstr(&path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct qfile q;
	int r = fd < 0 ? -1 : qfile_read(fd, &q, &err);
	if (fd < 0 && errno != ENOENT) {
		buf_printf(&err, "cannot open: %s", strerror(errno));
		print_damaged(o, qid, sub, buf_cstr(&err), st);
	} else if (r == -1 && fd >= 0) {
		buf_printf(&err, "cannot read: %s", strerror(errno));
		print_damaged(o, qid, sub, buf_cstr(&err), st);
	} else if (r == QFILE_NEWER) {
		struct buf tmp = BUF_INIT;
		buf_printf(o, "%-20s  needs a newer posthorn: %s\n\n", qid,
			   log_safe(&tmp, err.s, err.len, 500));
		buf_free(&tmp);
		st->count++;
	} else if (r == -2 || (r == 0 && !q.complete)) {
		print_damaged(o, qid, sub, err.len ? buf_cstr(&err) : "incomplete queue file", st);
	} else if (r == 0 && !strcmp(sub, "corrupt")) {
		print_damaged(o, qid, sub, "set aside by qmgr", st);
	} else if (r == 0) {
		struct qreasons why;
		buf_reset(&path);
		buf_printf(&path, "%s/defer/%s", dir, qid);
		if (qreasons_read(buf_cstr(&path), &why) < 0)
			memset(&why, 0, sizeof why);
		print_entry(o, &q, qid, !strcmp(sub, "active") ? '*' : !strcmp(sub, "hold") ? '!' : ' ',
			    &why);
		qreasons_free(&why);
		st->bytes += q.msg_len;
		st->count++;
	}
	if (fd >= 0) {
		qfile_free(&q);	/* a partly read file holds memory too */
		close(fd);
	}
	buf_free(&path);
	buf_free(&err);
}

static void free_names(char **names[], const size_t n[], int count)
{
	for (int i = 0; i < count; i++) {
		for (size_t k = 0; names[i] && k < n[i]; k++)
			free(names[i][k]);
		free(names[i]);
	}
}

/* corrupt/ holds what qmgr set aside, hold/ what the administrator held;
 * an instance older than them lacks them. */
static const char *const list_subs[] = {"incoming", "active", "hold", "corrupt"};
#define NSUBS 4

int qlist_print(const struct config *cfg, int fd, struct buf *err)
{
	const char *dir = config_str(cfg, "queue_dir");
	const char *const *subs = list_subs;
	char **names[NSUBS] = {NULL, NULL, NULL, NULL};
	size_t n[NSUBS] = {0, 0, 0, 0};
	int qdir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ok = qdir >= 0;
	for (int i = 0; i < NSUBS && ok; i++) {
		names[i] = list_dir(qdir, subs[i], &n[i]);
		if (!names[i] && i >= 2 && errno == ENOENT)
			names[i] = xcalloc(1, sizeof *names[i]);
		ok = names[i] != NULL;
	}
	if (!ok) {
		if (errno == EACCES || errno == EPERM)
			buf_printf(err, "permission denied: cannot read the queue %s: run as root "
				   "or user_queue (%s)", dir, config_str(cfg, "user_queue"));
		else
			buf_printf(err, "cannot read the queue (%s): %s", dir, strerror(errno));
		free_names(names, n, NSUBS);
		if (qdir >= 0)
			close(qdir);
		return -1;
	}
	struct buf o = BUF_INIT;
	struct qlist_stats st = {0, 0};
	buf_puts(&o, "-Queue ID-            --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
	for (int i = 0; i < NSUBS; i++) {
		for (size_t k = 0; k < n[i]; k++) {
			list_one(qdir, dir, subs[i], names[i][k], &o, &st);
			free(names[i][k]);
			if (o.len > 65536 && write_all(fd, o.s, o.len) == 0)
				buf_reset(&o);
		}
		free(names[i]);
	}
	close(qdir);
	if (st.count == 0) {
		buf_reset(&o);
		buf_puts(&o, "Mail queue is empty\n");
	} else {
		buf_printf(&o, "-- %llu Kbytes in %zu Request%s.\n", (st.bytes + 1023) / 1024,
			   st.count, st.count == 1 ? "" : "s");
	}
	int r = write_all(fd, o.s, o.len);
	buf_free(&o);
	if (r < 0)
		buf_printf(err, "write: %s", strerror(errno));
	return r;
}
