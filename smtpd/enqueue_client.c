/* enqueue_client: smtpd's side of the pipe to enqueue (doc/design.md,
 * "enqueue: the pipe protocol").  smtpd never writes the queue itself: it
 * connects to the queue writer on run_dir/enqueue.sock (enqueue -d, run by
 * master), or, when that socket does not exist (smtpd under inetd or
 * systemd without master), runs the setuid libexec_dir/enqueue; either
 * way it streams the same records and reports success only on "ok" (and,
 * from a process it ran, exit 0).  Used by data_cmd.c. */
#include "smtpd.h"
#include "log.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENQ_FLUSH_AT 65536
#define ENQ_LINE_MAX 1024
#define QID_MAX 64

/* posix_spawn (vfork and exec, no copy of smtpd's page tables): one
 * enqueue per message, so the cheapest way to start a process counts. */
static pid_t spawn_enqueue(const struct config *cfg, int in, int out)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/enqueue", config_str(cfg, "libexec_dir"));
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	char *argv[] = {"enqueue", "-c", cfg->path, NULL};
	int r = posix_spawn_file_actions_init(&fa);
	if (r == 0) {
		/* dup2 onto 0 and 1 clears close-on-exec there only */
		r = posix_spawn_file_actions_adddup2(&fa, in, 0);
		if (r == 0)
			r = posix_spawn_file_actions_adddup2(&fa, out, 1);
		if (r == 0)
			r = posix_spawn(&pid, buf_cstr(&path), &fa, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&fa);
	}
	if (r != 0) {
		log_error("cannot run %s: %s", buf_cstr(&path), strerror(r));
		errno = r;
		pid = -1;
	}
	buf_free(&path);
	return pid;
}

static int qid_valid(const struct buf *q)
{
	if (q->len == 0 || q->len > QID_MAX)
		return 0;
	for (size_t i = 0; i < q->len; i++) {
		char c = q->s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return 0;
	}
	return 1;
}

/* enqueue's first line is the queue id. */
static int read_qid(struct enq *e)
{
	int r = io_getline(&e->io, &e->qid, QID_MAX + 2);
	if (r != LINE_OK || e->qid.len < 2 || e->qid.s[e->qid.len - 1] != '\n')
		return -1;
	buf_truncate(&e->qid, e->qid.len - 1);
	buf_cstr(&e->qid);
	return qid_valid(&e->qid) ? 0 : -1;
}

/* The queue writer's socket: a connected fd, or -1 when there is none
 * to use (then the setuid enqueue does the job).  A socket that exists
 * but refuses is logged: master is gone or the permissions are wrong. */
static int connect_daemon(const struct config *cfg)
{
	struct sockaddr_un sa;
	struct buf path = BUF_INIT;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	buf_printf(&path, "%s/enqueue.sock", config_str(cfg, "run_dir"));
	int fd = -1;
	if (path.len < sizeof sa.sun_path) {
		memcpy(sa.sun_path, path.s, path.len);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (errno != ENOENT)
			log_warn("cannot connect to %s: %s (running enqueue instead)", path.s,
				 strerror(errno));
		close(fd);
		fd = -1;
	}
	buf_free(&path);
	return fd;
}

/* The fallback: enqueue with a pipe on its stdin and one on its stdout. */
static int start_process(struct enq *e, const struct config *cfg, int timeout_ms)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	e->pid = spawn_enqueue(cfg, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	io_init(&e->io, out[0], in[1], timeout_ms);
	return e->pid < 0 ? -1 : 0;
}

int enq_start(struct enq *e, const struct config *cfg, int timeout_ms)
{
	memset(e, 0, sizeof *e);
	e->pid = -1;
	int fd = connect_daemon(cfg);
	int r = 0;
	if (fd >= 0) {
		e->sock = 1;
		io_init(&e->io, fd, fd, timeout_ms);
	} else {
		r = start_process(e, cfg, timeout_ms);
	}
	if (r < 0 || read_qid(e) < 0) {
		log_error("enqueue did not start (%s)", r < 0 ? strerror(errno) : "no queue id");
		enq_abort(e);
		return -1;
	}
	return 0;
}

void enq_flush(struct enq *e)
{
	if (!e->failed && io_flush(&e->io) < 0) {
		log_error("%s: writing to enqueue: %s", e->qid.s,
			  e->io.err == IO_ERR_TIMEOUT ? "timeout" : strerror(errno));
		e->failed = 1;
	}
	buf_reset(&e->io.out);
}

void enq_record(struct enq *e, char type, const void *p, size_t n)
{
	if (e->failed)
		return;
	rec_put(&e->io.out, type, p, n);
	if (e->io.out.len >= ENQ_FLUSH_AT)
		enq_flush(e);
}

/* EOF for enqueue; on the socket the read side stays open for the answer. */
static void close_write(struct enq *e)
{
	if (e->io.wfd >= 0 && e->sock)
		shutdown(e->io.wfd, SHUT_WR);
	else if (e->io.wfd >= 0)
		close(e->io.wfd);
	e->io.wfd = -1;
}

/* Reaps enqueue: its exit status, or -1 if it died otherwise. */
static int reap(struct enq *e)
{
	int st;
	pid_t pid = e->pid;
	e->pid = -1;
	if (pid <= 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void enq_close(struct enq *e)
{
	close_write(e);
	if (e->io.rfd >= 0)
		close(e->io.rfd);
	e->io.rfd = -1;
	io_free(&e->io);
	buf_free(&e->qid);
}

void enq_abort(struct enq *e)
{
	close_write(e);	/* EOF before E0: enqueue queues nothing */
	if (e->pid > 0 && e->failed)
		kill(e->pid, SIGTERM);	/* it may be stuck: we stopped writing */
	reap(e);
	enq_close(e);
}

static int is_code(const char *s, size_t n, char cls)
{
	return n == 3 && s[0] == cls && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9';
}

static int is_enh(const char *s, size_t n, char cls)
{
	if (n < 5 || n > 11 || s[0] != cls || s[1] != '.')
		return 0;
	int dots = 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return dots == 1 && s[n - 1] != '.' && s[2] != '.';
}

/* Copies printable text only: the reply goes to the network. */
static void text_copy(struct buf *dst, const char *s, size_t n)
{
	buf_reset(dst);
	for (size_t i = 0; i < n && dst->len < 200; i++)
		if ((unsigned char)s[i] >= 32 && (unsigned char)s[i] < 127)
			buf_putc(dst, s[i]);
}

/* "error 554 5.6.0 text": taken only when its class matches the exit. */
static void parse_error(const struct buf *line, char cls, int *code, struct buf *enh,
			struct buf *text)
{
	const char *s = line->s + 6;
	size_t n = line->len - 6;
	const char *sp1 = memchr(s, ' ', n);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s)) : NULL;
	if (!sp2 || !is_code(s, (size_t)(sp1 - s), cls) ||
	    !is_enh(sp1 + 1, (size_t)(sp2 - sp1 - 1), cls))
		return;
	*code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	buf_set(enh, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	buf_cstr(enh);
	text_copy(text, sp2 + 1, n - (size_t)(sp2 + 1 - s));
	buf_cstr(text);
}

/* The queue writer has no exit status to give: the answer's class stands
 * for it (ok 0, error 5xx 1, error 4xx 111, anything else -1). */
static int answer_status(int r, const struct buf *line)
{
	if (r != LINE_OK)
		return -1;
	if (line->len > 3 && !memcmp(line->s, "ok ", 3))
		return 0;
	if (line->len > 7 && !memcmp(line->s, "error ", 6))
		return line->s[6] == '5' ? 1 : line->s[6] == '4' ? 111 : -1;
	return -1;
}

int enq_finish(struct enq *e, int *code, struct buf *enh, struct buf *text)
{
	struct buf line = BUF_INIT;
	enq_record(e, REC_END, "", 0);
	enq_flush(e);
	close_write(e);
	int r = e->failed ? LINE_ERR : io_getline(&e->io, &line, ENQ_LINE_MAX);
	if (r == LINE_OK && line.len && line.s[line.len - 1] == '\n')
		line.len--;
	if (r == LINE_ERR && e->pid > 0)
		kill(e->pid, SIGTERM);
	int status = e->sock ? answer_status(r, &line) : reap(e);
	int ok = r == LINE_OK && status == 0 && line.len > 3 && !memcmp(line.s, "ok ", 3);
	*code = status == 1 ? 554 : 451;
	buf_reset(enh);
	buf_reset(text);
	buf_puts(enh, status == 1 ? "5.6.0" : "4.3.0");
	buf_puts(text, "Error: queue file write error");
	if (!ok && r == LINE_OK && line.len > 6 && !memcmp(line.s, "error ", 6) &&
	    (status == 1 || status == 111))
		parse_error(&line, status == 1 ? '5' : '4', code, enh, text);
	if (!ok) {
		struct buf esc = BUF_INIT;
		log_warn("%s: enqueue failed (exit %d): %s", e->qid.s, status,
			 log_safe(&esc, line.s, line.len, 200));
		buf_free(&esc);
	}
	buf_free(&line);
	enq_close(e);
	return ok ? 0 : -1;
}
