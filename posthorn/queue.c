/* queue.c: `posthorn flush` and `posthorn queue list|show|delete|hold|
 * release|flush`, the administrator's handles on the queue
 * (queue/README.md).  flush writes 'F' to the trigger FIFO, so qmgr
 * retries every deferred message now.  hold renames the queue file into
 * hold/, which qmgr never reads (an attempt in flight finishes and keeps
 * its D marks); release renames it into incoming/ and wakes qmgr.  delete takes a message out of qmgr's sight atomically: the queue
 * file is renamed from active/ (or incoming/) into tmp/, where nothing is
 * ever delivered, and then unlinked with its defer/ and bounce/ files.  A
 * delivery already in flight finishes; qmgr then sees the file's link
 * count at zero and drops the message without deferring or bouncing it. */
#include "posthorn.h"
#include "io.h"
#include "log.h"
#include "qfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* An administrator's action on a message goes into the mail log in its
 * format (posthorn-log(5)): "TIME posthorn[PID]: info: QID: ...", so a
 * message's way shows who held, released or deleted it.  The master owns
 * the log file; root (or the instance's owner) may append one line to it
 * (O_APPEND, one write).  Nothing is said when it cannot be written. */
static void admin_log(const struct config *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void admin_log(const struct config *cfg, const char *fmt, ...)
{
	struct buf text = BUF_INIT, line = BUF_INIT, path = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&text, fmt, ap);
	va_end(ap);
	if (config_bool(cfg, "log_syslog")) {
		log_init("posthorn", 1);
		log_info("%s", buf_cstr(&text));
		log_init("posthorn", 0);
	} else {
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
		buf_printf(&line, "%s posthorn[%ld]: info: %s\n", when, (long)getpid(), buf_cstr(&text));
		buf_printf(&path, "%s/posthorn.log", config_str(cfg, "log_dir"));
		int fd = open(buf_cstr(&path), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t w = write(fd, line.s, line.len);
			(void)w;
			close(fd);
		}
	}
	buf_free(&text);
	buf_free(&line);
	buf_free(&path);
}

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

/* The same words as mailq's (common/qfile.c), so both say it alike. */
static int denied(const struct config *cfg, const char *cmd)
{
	fprintf(stderr, "posthorn %s: permission denied: cannot read the queue %s: run as root "
		"or user_queue (%s)\n", cmd, config_str(cfg, "queue_dir"),
		config_str(cfg, "user_queue"));
	return 1;
}

int cmd_flush(const struct config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		complain("usage: posthorn flush");
		return 2;
	}
	if (trigger_write(cfg, 'F') < 0) {
		if (errno == EACCES || errno == EPERM)
			return denied(cfg, "flush");
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
	static const char *const subs[] = {"active", "incoming", "active", "hold"};
	struct buf p = BUF_INIT;
	int fd = -1;
	for (int i = 0; i < 4 && fd < 0; i++) {
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
		complain("queue show: %s: %s%s", id, r == QFILE_NEWER ? "needs a newer posthorn: " : "",
			 r == -1 ? strerror(errno) : err.len ? buf_cstr(&err) : "incomplete queue file");
		close(fd);
		qfile_free(&q);
		buf_free(&err);
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
	static const char *const subs[] = {"active", "incoming", "active", "corrupt", "hold"};
	struct buf from = BUF_INIT;
	buf_printf(aside, "tmp/%s.deleted", id);
	int r = -1;
	for (int i = 0; i < 5 && r < 0; i++) {
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
		admin_log(cfg, "%s: deleted by posthorn queue delete (uid %ld)", id, (long)getuid());
	}
	close(qdir);
	buf_free(&aside);
	buf_free(&p);
	return rc;
}

/* The queue directory, or -1 with the message printed. */
static int queue_open(const struct config *cfg)
{
	const char *dir = config_str(cfg, "queue_dir");
	int qdir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int act = qdir < 0 ? -1 : openat(qdir, "active", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	if (act >= 0) {
		close(act);
		return qdir;
	}
	if (qdir >= 0)
		close(qdir);
	if (e == EACCES || e == EPERM)
		denied(cfg, "queue");
	else
		complain("queue: %s: %s", dir, strerror(e));
	return -1;
}

/* hold/ for instances made before it: owned by user_queue, 0700. */
static int hold_dir(const struct config *cfg, int qdir)
{
	if (mkdirat(qdir, "hold", 0700) < 0)
		return errno == EEXIST ? 0 : -1;
	uid_t u;
	gid_t g;
	int fd = openat(qdir, "hold", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 || service_ids(cfg, "user_queue", &u, &g) < 0 || fchown(fd, u, g) < 0 ? -1 : 0;
	if (fd >= 0)
		close(fd);
	return r;
}

/* Renames SUB/id (the first of subs that has it) to to/id: 0, or -1. */
static int move_to(int qdir, const char *id, const char *const *subs, const char *to)
{
	struct buf from = BUF_INIT, dest = BUF_INIT;
	buf_printf(&dest, "%s/%s", to, id);
	int r = -1;
	for (int i = 0; subs[i] && r < 0; i++) {
		buf_reset(&from);
		buf_printf(&from, "%s/%s", subs[i], id);
		r = renameat(qdir, buf_cstr(&from), qdir, buf_cstr(&dest));
		if (r == 0) {
			fsync_dir_at(qdir, to);
			fsync_dir_at(qdir, subs[i]);
		}
	}
	buf_free(&from);
	buf_free(&dest);
	return r;
}

static int hold(const struct config *cfg, int qdir, const char *id)
{
	static const char *const subs[] = {"active", "incoming", "active", NULL};
	if (hold_dir(cfg, qdir) < 0) {
		complain("queue hold: %s/hold: %s", config_str(cfg, "queue_dir"), strerror(errno));
		return 1;
	}
	if (move_to(qdir, id, subs, "hold") < 0) {
		struct stat st;
		struct buf p = BUF_INIT;
		buf_printf(&p, "hold/%s", id);
		if (fstatat(qdir, buf_cstr(&p), &st, AT_SYMLINK_NOFOLLOW) == 0)
			complain("queue hold: %s is already on hold", id);
		else
			complain("queue hold: no message %s in the queue", id);
		buf_free(&p);
		return 1;
	}
	printf("%s: on hold (posthorn queue release %s sends it on)\n", id, id);
	admin_log(cfg, "%s: put on hold by posthorn queue hold (uid %ld)", id, (long)getuid());
	return 0;
}

static int release(const struct config *cfg, int qdir, const char *id)
{
	static const char *const subs[] = {"hold", NULL};
	if (move_to(qdir, id, subs, "incoming") < 0) {
		complain("queue release: no message %s on hold", id);
		return 1;
	}
	trigger_write(cfg, 'N');	/* no reader is fine: qmgr scans incoming/ at start */
	printf("%s: released\n", id);
	admin_log(cfg, "%s: released by posthorn queue release (uid %ld)", id, (long)getuid());
	return 0;
}

static int list(const struct config *cfg)
{
	struct buf err = BUF_INIT;
	int r = qlist_print(cfg, 1, &err);
	if (r < 0)
		fprintf(stderr, "posthorn queue: %s\n", buf_cstr(&err));
	buf_free(&err);
	return r < 0 ? 1 : 0;
}

static int by_id(const struct config *cfg, const char *sub, const char *id)
{
	if (!qid_valid(id, strlen(id))) {
		complain("queue %s: \"%s\" is not a queue id", sub, id);
		return 1;
	}
	int qdir = queue_open(cfg);	/* first: a user without rights hears why */
	if (qdir < 0)
		return 1;
	int rc = !strcmp(sub, "show")	  ? show(cfg, id)
		 : !strcmp(sub, "delete") ? delete(cfg, id)
		 : !strcmp(sub, "hold")	  ? hold(cfg, qdir, id)
					  : release(cfg, qdir, id);
	close(qdir);
	return rc;
}

int cmd_queue(const struct config *cfg, int argc, char **argv)
{
	static const char usage_q[] =
		"usage: posthorn queue [list] | show ID | delete ID | hold ID | release ID | flush";
	const char *sub = argc > 1 ? argv[1] : "list";
	if (!strcmp(sub, "list") && argc <= 2)
		return list(cfg);
	if (!strcmp(sub, "flush") && argc == 2) {
		int qdir = queue_open(cfg);
		if (qdir < 0)
			return 1;
		close(qdir);
		char *args[] = {"flush", NULL};
		return cmd_flush(cfg, 1, args);
	}
	if (argc == 3 && (!strcmp(sub, "show") || !strcmp(sub, "delete") || !strcmp(sub, "hold") ||
			  !strcmp(sub, "release")))
		return by_id(cfg, sub, argv[2]);
	complain("%s", usage_q);
	return 2;
}
