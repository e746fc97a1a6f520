/* queue.c: `posthorn flush` and `posthorn queue list|show ID|delete ID`,
 * the administrator's handles on the queue (queue/README.md).  flush
 * writes 'F' to the trigger FIFO, so qmgr retries every deferred message
 * now.  delete takes a message out of qmgr's sight atomically: the queue
 * file is renamed from active/ (or incoming/) into tmp/, where nothing is
 * ever delivered, and then unlinked with its defer/ and bounce/ files.  A
 * delivery already in flight finishes; qmgr then sees the file's link
 * count at zero and drops the message without deferring or bouncing it. */
#include "posthorn.h"
#include "io.h"
#include "qfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int trigger_write(const struct config *cfg, char what)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/trigger", config_str(cfg, "queue_dir"));
	int fd = open(buf_cstr(&p), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 ? -1 : (int)write(fd, &what, 1);
	int e = errno;
	if (fd >= 0)
		close(fd);
	buf_free(&p);
	errno = e;
	return r == 1 ? 0 : -1;
}

int cmd_flush(const struct config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		complain("usage: posthorn flush");
		return 2;
	}
	if (trigger_write(cfg, 'F') < 0) {
		if (errno == ENXIO)
			complain("flush: qmgr is not running; queued mail is tried when it starts");
		else
			complain("flush: %s/trigger: %s", config_str(cfg, "queue_dir"), strerror(errno));
		return 1;
	}
	printf("flush requested: qmgr retries every queued message now\n");
	return 0;
}

/* Opens the queue file of id in incoming/ or active/; *where says which. */
static int open_message(const struct config *cfg, const char *id, const char **where)
{
	static const char *const subs[] = {"active", "incoming", "active"};
	struct buf p = BUF_INIT;
	int fd = -1;
	for (int i = 0; i < 3 && fd < 0; i++) {
		buf_reset(&p);
		buf_printf(&p, "%s/%s/%s", config_str(cfg, "queue_dir"), subs[i], id);
		fd = open(buf_cstr(&p), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		*where = subs[i];
	}
	buf_free(&p);
	return fd;
}

static void print_envelope(const struct qfile *q, const char *where, struct buf *o)
{
	char when[64] = "";
	time_t t = (time_t)q->arrival;
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_printf(o, "queue id: %.*s (%s)\narrival: %s\nsender: <%.*s>\n", (int)q->qid.len,
		   q->qid.s, where, when, (int)q->sender.len, q->sender.s);
	for (size_t i = 0; i < q->attrs.len;) {
		const char *nl = memchr(q->attrs.s + i, '\n', q->attrs.len - i);
		size_t n = nl ? (size_t)(nl - q->attrs.s) - i : q->attrs.len - i;
		buf_printf(o, "attribute: %.*s\n", (int)n, q->attrs.s + i);
		i += n + 1;
	}
	for (size_t i = 0; i < q->nrcpt; i++) {
		const struct qrcpt *r = &q->rcpts[i];
		buf_printf(o, "recipient: <%.*s>", (int)r->addr.len, r->addr.s);
		if (r->orig.len)
			buf_printf(o, " (original <%.*s>)", (int)r->orig.len, r->orig.s);
		buf_printf(o, " %s\n", r->done ? "done" : "pending");
	}
	buf_printf(o, "message: %zu bytes\n\n", q->msg_len);
}

static int show(const struct config *cfg, const char *id)
{
	const char *where;
	int fd = open_message(cfg, id, &where);
	if (fd < 0) {
		complain("queue show: no message %s in the queue", id);
		return 1;
	}
	struct qfile q;
	struct buf err = BUF_INIT, o = BUF_INIT;
	int r = qfile_read(fd, &q, &err);
	if (r < 0 || !q.complete) {
		complain("queue show: %s: %s", id, r == -1 ? strerror(errno) : err.len ? buf_cstr(&err)
								       : "incomplete queue file");
		close(fd);
		return 1;
	}
	print_envelope(&q, where, &o);
	int rc = write_all(1, o.s, o.len);
	for (size_t off = 0; rc == 0 && off < q.msg_len; off += o.len) {
		buf_reset(&o);
		struct qfile part = q;
		part.msg_off = q.msg_off + (off_t)off;
		part.msg_len = q.msg_len - off;
		if (qfile_message(fd, &part, 65536, &o) < 0 || o.len == 0)
			rc = -1;
		else
			rc = write_all(1, o.s, o.len);
	}
	close(fd);
	qfile_free(&q);
	buf_free(&o);
	buf_free(&err);
	return rc == 0 ? 0 : 1;
}

static int fsync_dir_at(int qdir, const char *sub)
{
	int fd = openat(qdir, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 ? -1 : fsync(fd);
	if (fd >= 0)
		close(fd);
	return r;
}

/* Moves SUB/id into tmp/ (atomic: qmgr either has it or never sees it);
 * a file qmgr set aside in corrupt/ can be deleted too. */
static int take_aside(int qdir, const char *id, struct buf *aside)
{
	static const char *const subs[] = {"active", "incoming", "active", "corrupt"};
	struct buf from = BUF_INIT;
	buf_printf(aside, "tmp/%s.deleted", id);
	int r = -1;
	for (int i = 0; i < 4 && r < 0; i++) {
		buf_reset(&from);
		buf_printf(&from, "%s/%s", subs[i], id);
		r = renameat(qdir, buf_cstr(&from), qdir, buf_cstr(aside));
		if (r == 0)
			fsync_dir_at(qdir, subs[i]);	/* best effort: a crash may bring it back */
	}
	buf_free(&from);
	return r;
}

static int delete(const struct config *cfg, const char *id)
{
	int qdir = open(config_str(cfg, "queue_dir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (qdir < 0) {
		complain("queue delete: %s: %s", config_str(cfg, "queue_dir"), strerror(errno));
		return 1;
	}
	struct buf aside = BUF_INIT, p = BUF_INIT;
	int rc = 0;
	if (take_aside(qdir, id, &aside) < 0) {
		complain("queue delete: no message %s in the queue", id);
		rc = 1;
	} else {
		unlinkat(qdir, buf_cstr(&aside), 0);
		buf_printf(&p, "defer/%s", id);
		unlinkat(qdir, buf_cstr(&p), 0);
		buf_reset(&p);
		buf_printf(&p, "bounce/%s", id);
		unlinkat(qdir, buf_cstr(&p), 0);
		trigger_write(cfg, 'N');	/* only a wake-up; no reader is fine */
		printf("%s: deleted\n", id);
	}
	close(qdir);
	buf_free(&aside);
	buf_free(&p);
	return rc;
}

int cmd_queue(const struct config *cfg, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "list";
	if (!strcmp(sub, "list") && argc <= 2) {
		struct buf err = BUF_INIT;
		int r = qlist_print(cfg, 1, &err);
		if (r < 0)
			complain("%s", buf_cstr(&err));
		buf_free(&err);
		return r < 0 ? 1 : 0;
	}
	if (argc != 3 || (strcmp(sub, "show") && strcmp(sub, "delete"))) {
		complain("usage: posthorn queue list | show ID | delete ID");
		return 2;
	}
	if (!qid_valid(argv[2], strlen(argv[2]))) {
		complain("queue %s: \"%s\" is not a queue id", sub, argv[2]);
		return 1;
	}
	return !strcmp(sub, "show") ? show(cfg, argv[2]) : delete(cfg, argv[2]);
}
