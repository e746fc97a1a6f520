/* service.c: posthorn start | stop | reload | status.  The master holds an flock
 * on log_dir/master.pid for its whole life, so "running" means "the lock
 * is held", never a guess from a pid that may have been reused. */
#include "posthorn.h"
#include "io.h"
#include "privsep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_WAIT_MS 10000
#define STOP_WAIT_MS 30000

static void pid_path(const struct config *cfg, struct buf *p)
{
	buf_reset(p);
	buf_printf(p, "%s/master.pid", config_str(cfg, "log_dir"));
	buf_cstr(p);
}

/* 1 running (pid set, 0 if not yet written), 0 stopped, -1 error. */
static int master_running(const struct config *cfg, pid_t *pid)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	pid_path(cfg, &p);
	*pid = 0;
	int fd = open(p.s, O_RDONLY | O_CLOEXEC), r = 0;
	if (fd < 0) {
		r = errno == ENOENT ? 0 : -1;
		if (r < 0)
			complain("%s: %s", p.s, strerror(errno));
	} else if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		r = 0;
	} else if (errno == EWOULDBLOCK) {
		r = 1;
		unsigned long long v;
		if (file_read(p.s, &text, 64) == 0 && text.len > 1 &&
		    mem_to_u64(text.s, text.len - 1, &v) == 0 && v < INT_MAX)
			*pid = (pid_t)v;
	} else {
		complain("%s: %s", p.s, strerror(errno));
		r = -1;
	}
	if (fd >= 0)
		close(fd);
	buf_free(&p);
	buf_free(&text);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void master_path(const struct config *cfg, struct buf *p)
{
	buf_reset(p);
	buf_printf(p, "%s/master", config_str(cfg, "libexec_dir"));
	buf_cstr(p);
}

/* Root mode: bring DIR/libexec up to date with the build and make sure
 * enqueue is still setuid user_queue (design.md: re-checked by start). */
static int refresh_daemons(const struct config *cfg)
{
	if (!priv_is_root())
		return 0;
	struct buf src = BUF_INIT, m = BUF_INIT;
	char a[PATH_MAX], b[PATH_MAX];
	int r = 0;
	if (build_libexec(&src) == 0 && realpath(src.s, a) &&
	    realpath(config_str(cfg, "libexec_dir"), b) && strcmp(a, b)) {
		buf_printf(&m, "%s/master", a);
		if (access(buf_cstr(&m), X_OK) == 0)
			r = daemons_install(cfg, a, b, 1);
	}
	buf_free(&src);
	buf_free(&m);
	return r;
}

static void exec_master(const struct config *cfg, int foreground)
{
	struct buf m = BUF_INIT;
	master_path(cfg, &m);
	char *args[] = {m.s, "-c", cfg->path, foreground ? "-f" : NULL, NULL};
	execv(m.s, args);
	complain("cannot run %s: %s", m.s, strerror(errno));
	buf_free(&m);
}

/* Daemon child: own session, no terminal, nothing of ours left open. */
static void detach(void)
{
	setsid();
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 2)
			close(fd);
	}
	close_range(3, ~0U, 0);
}

/* Waits until the master has locked the pid file, or died. */
static int wait_started(const struct config *cfg, pid_t child)
{
	for (int waited = 0; waited < START_WAIT_MS; waited += 50) {
		int st;
		pid_t pid;
		if (waitpid(child, &st, WNOHANG) == child) {
			complain("start: the master exited at once (%s %d); see the message above "
				 "and %s/posthorn.log", WIFEXITED(st) ? "status" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
				 config_str(cfg, "log_dir"));
			return 1;
		}
		if (master_running(cfg, &pid) == 1 && pid == child) {
			printf("posthorn started (master pid %ld)\n", (long)pid);
			return 0;
		}
		sleep_ms(50);
	}
	complain("start: the master (pid %ld) did not come up within %d s",
		 (long)child, START_WAIT_MS / 1000);
	return 1;
}

int cmd_start(const struct config *cfg, int argc, char **argv)
{
	int fg = argc == 2 && !strcmp(argv[1], "--foreground");
	if (argc > 2 || (argc == 2 && !fg)) {
		complain("usage: posthorn start [--foreground]");
		return 2;
	}
	pid_t pid;
	int run = master_running(cfg, &pid);
	if (run != 0) {
		if (run > 0)
			complain("start: already running (master pid %ld)", (long)pid);
		return 1;
	}
	if (refresh_daemons(cfg) < 0)
		return 1;
	fflush(NULL);
	if (fg) {
		exec_master(cfg, 1);
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		complain("start: fork: %s", strerror(errno));
		return 1;
	}
	if (child == 0) {
		detach();
		exec_master(cfg, 0);
		_exit(111);
	}
	return wait_started(cfg, child);
}

int cmd_stop(const struct config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		complain("usage: posthorn stop");
		return 2;
	}
	pid_t pid;
	int run = master_running(cfg, &pid);
	if (run <= 0) {
		if (run == 0)
			printf("posthorn is not running\n");
		return run < 0;
	}
	if (pid <= 1 || kill(pid, SIGTERM) < 0) {
		complain("stop: cannot signal master pid %ld: %s", (long)pid, strerror(errno));
		return 1;
	}
	for (int waited = 0; waited < STOP_WAIT_MS; waited += 50) {
		if (master_running(cfg, &pid) == 0) {
			printf("posthorn stopped\n");
			return 0;
		}
		sleep_ms(50);
	}
	complain("stop: master pid %ld still running after %d s", (long)pid, STOP_WAIT_MS / 1000);
	return 1;
}

#define RELOAD_WAIT_MS 10000

static void reload_path(const struct config *cfg, struct buf *p)
{
	buf_reset(p);
	buf_printf(p, "%s/master.reload", config_str(cfg, "log_dir"));
	buf_cstr(p);
}

/* The master answers a reload in log_dir/master.reload ("COUNT ok" or
 * "COUNT failed: REASON"); a new COUNT is its answer to our signal. */
static int reload_wait(const struct config *cfg, const struct buf *before)
{
	struct buf p = BUF_INIT, now = BUF_INIT;
	reload_path(cfg, &p);
	int rc = -1;
	for (int waited = 0; rc < 0 && waited < RELOAD_WAIT_MS; waited += 50) {
		sleep_ms(50);
		buf_reset(&now);
		if (file_read(p.s, &now, 4096) < 0 || buf_eq(&now, before->s ? before->s : ""))
			continue;
		while (now.len && now.s[now.len - 1] == '\n')
			now.len--;
		const char *text = buf_cstr(&now);	/* first: it may move the bytes */
		const char *sp = strchr(text, ' ');
		const char *what = sp ? sp + 1 : text;
		if (!strcmp(what, "ok")) {
			printf("posthorn reloaded: new config, tables and certificates in use\n");
			rc = 0;
		} else {
			if (!strncmp(what, "failed: ", 8))
				what += 8;
			complain("reload refused, the running service is unchanged: %s", what);
			rc = 1;
		}
	}
	if (rc < 0) {
		complain("reload: no answer from the master within %d s; see %s/posthorn.log",
			 RELOAD_WAIT_MS / 1000, config_str(cfg, "log_dir"));
		rc = 1;
	}
	buf_free(&p);
	buf_free(&now);
	return rc;
}

int cmd_reload(const struct config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		complain("usage: posthorn reload");
		return 2;
	}
	pid_t pid;
	int run = master_running(cfg, &pid);
	if (run <= 0) {
		if (run == 0)
			complain("reload: posthorn is not running (posthorn start reads the config)");
		return 1;
	}
	struct buf p = BUF_INIT, before = BUF_INIT;
	reload_path(cfg, &p);
	if (file_read(p.s, &before, 4096) < 0)
		buf_reset(&before);
	buf_cstr(&before);
	int rc;
	if (pid <= 1 || kill(pid, SIGHUP) < 0) {
		complain("reload: cannot signal master pid %ld: %s", (long)pid, strerror(errno));
		rc = 1;
	} else {
		rc = reload_wait(cfg, &before);
	}
	buf_free(&p);
	buf_free(&before);
	return rc;
}

/* Prints the master's children from /proc: "  qmgr pid 123". */
static void list_children(pid_t master)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	struct buf path = BUF_INIT, text = BUF_INIT;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		buf_reset(&path);
		buf_printf(&path, "/proc/%s/stat", e->d_name);
		if (file_read(buf_cstr(&path), &text, 4096) < 0)
			continue;
		buf_cstr(&text);
		/* pid (comm) state ppid: comm may hold spaces, so from the last ')' */
		const char *lp = memchr(text.s, '(', text.len);
		const char *rp = mem_find(text.s, text.len, ") ", 2);
		for (const char *c = rp; c; c = mem_find(c + 1, text.len - (size_t)(c + 1 - text.s), ") ", 2))
			rp = c;
		long ppid;
		if (lp && rp && sscanf(rp + 2, "%*c %ld", &ppid) == 1 && ppid == master)
			printf("  %.*s pid %s\n", (int)(rp - lp - 1), lp + 1, e->d_name);
	}
	if (d)
		closedir(d);
	buf_free(&path);
	buf_free(&text);
}

/* The master's children read CONFIG.running, the copy it last accepted:
 * an edit since then is not in force yet. */
static void config_pending(const struct config *cfg)
{
	struct buf run = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
	buf_printf(&run, "%s.running", cfg->path);
	if (file_read(buf_cstr(&run), &a, 1u << 20) == 0 && file_read(cfg->path, &b, 1u << 20) == 0 &&
	    (a.len != b.len || memcmp(a.s, b.s, a.len)))
		printf("  %s was edited since the master accepted it: posthorn reload applies it\n",
		       cfg->path);
	buf_free(&run);
	buf_free(&a);
	buf_free(&b);
}

int cmd_status(const struct config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		complain("usage: posthorn status");
		return 2;
	}
	pid_t pid;
	int run = master_running(cfg, &pid);
	if (run < 0)
		return 4;	/* LSB: status unknown */
	if (run == 0) {
		printf("posthorn is stopped\n");
		return 3;
	}
	printf("posthorn is running: master pid %ld\n", (long)pid);
	list_children(pid);
	config_pending(cfg);
	return 0;
}
