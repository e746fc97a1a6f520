/* watch.c: the change watch for IDLE (mbox.h: mbox_watch_fd,
 * mbox_watch_drain): an inotify descriptor on the selected folder's new/
 * and cur/ (deliveries, renames by other readers, expunges) and on the
 * folder itself (the index file renamed into place by another session).
 * The session polls it while idling and then calls mbox_sync. */
#include "mboxpriv.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

static int add(int fd, const char *dir, const char *sub, uint32_t mask)
{
	struct buf p = BUF_INIT;
	buf_puts(&p, dir);
	if (sub) {
		buf_putc(&p, '/');
		buf_puts(&p, sub);
	}
	int r = inotify_add_watch(fd, buf_cstr(&p), mask | IN_ONLYDIR);
	buf_free(&p);
	return r;
}

int mbox_watch_fd(struct mbox *m)
{
	if (m->watch_fd >= 0)
		return m->watch_fd;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -1;
	if (add(fd, m->dir, "new", DIR_EVENTS) < 0 || add(fd, m->dir, "cur", DIR_EVENTS) < 0 ||
	    add(fd, m->dir, NULL, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		close(fd);
		return -1;
	}
	m->watch_fd = fd;
	return fd;
}

void mbox_watch_drain(struct mbox *m)
{
	if (m->watch_fd < 0)
		return;
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t r = read(m->watch_fd, ev, sizeof ev);
		if (r > 0)
			continue;
		if (r < 0 && errno == EINTR)
			continue;
		break;
	}
}

void watch_close(struct mbox *m)
{
	if (m->watch_fd >= 0)
		close(m->watch_fd);
	m->watch_fd = -1;
}
