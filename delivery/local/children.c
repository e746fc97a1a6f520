/* children.c: local's per-request delivery processes.  Each child answers
 * its own request; the parent remembers which request each pid serves so
 * that a child that crashes, is killed or cannot send still gets its
 * request answered with a temporary failure: qmgr always hears back. */
#include "local.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

struct child {
	pid_t pid;
	struct buf id;
};

static struct child *kids;
static size_t nkids, maxkids;

void children_init(size_t max)
{
	maxkids = max ? max : 1;
	kids = xcalloc(maxkids, sizeof *kids);
}

size_t children_running(void)
{
	return nkids;
}

int children_full(void)
{
	return nkids >= maxkids;
}

void children_add(pid_t pid, const struct buf *id)
{
	if (nkids >= maxkids)	/* callers check children_full() first */
		die(111, "too many delivery processes");
	struct child *c = &kids[nkids++];
	c->pid = pid;
	c->id = (struct buf)BUF_INIT;
	buf_copy(&c->id, id);
}

static void answer_for(int sock, struct child *c, int status)
{
	struct buf text = BUF_INIT;
	if (WIFSIGNALED(status))
		buf_printf(&text, "4.3.0 delivery process killed by signal %d", WTERMSIG(status));
	else
		buf_printf(&text, "4.3.0 delivery process failed with status %d",
			   WEXITSTATUS(status));
	buf_cstr(&text);
	log_warn("request %.*s: %s", (int)c->id.len, c->id.s ? c->id.s : "", text.s);
	if (sock >= 0 && reply_send(sock, &c->id, '4', text.s, text.len) < 0)
		log_warn("cannot answer request %.*s: %s", (int)c->id.len,
			 c->id.s ? c->id.s : "", strerror(errno));
	buf_free(&text);
}

static void child_done(int sock, pid_t pid, int status)
{
	for (size_t i = 0; i < nkids; i++) {
		if (kids[i].pid != pid)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			answer_for(sock, &kids[i], status);
		buf_free(&kids[i].id);
		kids[i] = kids[--nkids];
		return;
	}
}

void children_reap(int sock, int block)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, block && nkids ? 0 : WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		child_done(sock, pid, status);
	}
}
