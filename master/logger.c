/* logger.c: the master's log collector.  Children write plain lines to
 * their stderr, a pipe; the master prefixes each line with an ISO 8601
 * UTC timestamp and appends it to log_dir/posthorn.log.  The master's own
 * messages travel through a second pipe whose write end is non-blocking,
 * so the master can never block on a pipe only it reads.
 * With log_syslog = yes each line goes to syslog (facility mail) instead,
 * tagged with the child's own "prog[pid]" and the priority of its level. */
#include "master.h"
#include "io.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

struct source {
	int rfd;
	struct buf pending;	/* bytes of an unfinished line */
};

static struct source sources[2] = {{-1, BUF_INIT}, {-1, BUF_INIT}};
static int child_wfd = -1, log_fd = -1, to_stdout, to_syslog;
/* Until startup is over, lines also go to the stderr we were started with,
 * so posthorn start shows why a master could not come up. */
static int startup_fd = -1;
static pid_t master_pid;

static void drain_at_exit(void)
{
	if (getpid() == master_pid)	/* never in a forked child */
		logger_drain();
}

static int open_logfile(const struct config *cfg)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/posthorn.log", config_str(cfg, "log_dir"));
	int fd = open(buf_cstr(&p), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		log_error("cannot open %s: %s", p.s, strerror(errno));
	buf_free(&p);
	return fd;
}

static int make_pipe(int fds[2], int nonblock_write)
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	if (nonblock_write)
		fcntl(fds[1], F_SETFL, O_NONBLOCK);
	return 0;
}

int logger_open(const struct config *cfg, int foreground)
{
	int kids[2], own[2];
	to_stdout = foreground;
	to_syslog = config_bool(cfg, "log_syslog");
	if ((log_fd = open_logfile(cfg)) < 0)
		return -1;
	if (!foreground)
		startup_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (make_pipe(kids, 0) < 0 || make_pipe(own, 1) < 0) {
		log_error("pipe: %s", strerror(errno));
		return -1;
	}
	sources[0].rfd = kids[0];
	child_wfd = kids[1];
	sources[1].rfd = own[0];
	if (dup2(own[1], 2) < 0)
		return -1;
	close(own[1]);
	master_pid = getpid();
	atexit(drain_at_exit);
	return 0;
}

void logger_started(void)
{
	logger_drain();
	if (startup_fd >= 0)
		close(startup_fd);
	startup_fd = -1;
}

int logger_reopen(const struct config *cfg)
{
	to_syslog = config_bool(cfg, "log_syslog");
	int fd = open_logfile(cfg);
	if (fd < 0)
		return -1;
	/* same number, new file (after log rotation); dup2 drops O_CLOEXEC */
	dup2(fd, log_fd);
	fcntl(log_fd, F_SETFD, FD_CLOEXEC);
	close(fd);
	return 0;
}

int logger_child_fd(void)
{
	return child_wfd;
}

static int level_prio(const char *s, size_t n)
{
	if (n >= 7 && !memcmp(s, "warning", 7))
		return LOG_WARNING;
	if ((n >= 5 && !memcmp(s, "error", 5)) || (n >= 5 && !memcmp(s, "fatal", 5)))
		return LOG_ERR;
	return LOG_INFO;
}

/* "prog[pid]: level: text" -> tag prog[pid], priority of level, the text
 * after the tag; a line of another shape goes out whole as "posthorn". */
static void emit_syslog(const char *s, size_t n)
{
	static char tag[64];	/* openlog keeps the pointer */
	const char *sep = memmem(s, n, ": ", 2), *rest = s;
	size_t tl = sep ? (size_t)(sep - s) : 0, rl = n;
	if (!sep || tl == 0 || tl >= sizeof tag || memchr(s, ' ', tl)) {
		memcpy(tag, "posthorn", 9);
	} else {
		memcpy(tag, s, tl);
		tag[tl] = 0;
		rest = sep + 2;
		rl = n - tl - 2;
	}
	openlog(tag, 0, LOG_MAIL);
	syslog(level_prio(rest, rl), "%.*s", (int)(rl > 8192 ? 8192 : rl), rest);
}

static void emit(const char *s, size_t n)
{
	if (to_syslog) {
		emit_syslog(s, n);
		if (!to_stdout && startup_fd < 0)
			return;
	}
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	size_t sl = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm);
	struct buf line = BUF_INIT;
	buf_append(&line, stamp, sl);
	buf_append(&line, s, n);
	buf_putc(&line, '\n');
	if (log_fd >= 0 && !to_syslog)
		write_all(log_fd, line.s, line.len);
	if (to_stdout)
		write_all(1, line.s, line.len);
	if (startup_fd >= 0)
		write_all(startup_fd, line.s + sl, line.len - sl);
	buf_free(&line);
}

/* Emits every complete line; an overlong one is cut, never kept growing. */
static void split_lines(struct source *src)
{
	size_t off = 0;
	struct buf *b = &src->pending;
	for (;;) {
		const char *nl = memchr(b->s + off, '\n', b->len - off);
		if (!nl) {
			if (b->len - off < LOG_LINE_MAX)
				break;
			emit(b->s + off, LOG_LINE_MAX);
			off += LOG_LINE_MAX;
			continue;
		}
		emit(b->s + off, (size_t)(nl - (b->s + off)));
		off = (size_t)(nl - b->s) + 1;
	}
	buf_consume(b, off);
}

static void read_source(struct source *src)
{
	char tmp[4096];
	for (;;) {
		ssize_t r = read(src->rfd, tmp, sizeof tmp);
		if (r <= 0)
			break;
		buf_append(&src->pending, tmp, (size_t)r);
		split_lines(src);
	}
}

int logger_pollfds(struct pollfd *p)
{
	for (int i = 0; i < 2; i++) {
		p[i].fd = sources[i].rfd;
		p[i].events = POLLIN;
		p[i].revents = 0;
	}
	return 2;
}

void logger_handle(const struct pollfd *p, int n)
{
	for (int i = 0; i < n && i < 2; i++)
		if (p[i].revents & (POLLIN | POLLHUP))
			read_source(&sources[i]);
}

void logger_drain(void)
{
	for (int i = 0; i < 2; i++)
		if (sources[i].rfd >= 0)
			read_source(&sources[i]);
}
