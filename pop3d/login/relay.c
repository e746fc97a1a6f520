/* relay.c: after a login, pop3d-login is a pipe between the client (TLS
 * or plain, through struct io) and pop3d (a socketpair end).  It never
 * interprets the bytes.  Either side closing ends it; so does pop3_timeout
 * without traffic in either direction.  Used by auth.c. */
#include "login.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_CHUNK 65536
#define RELAY_GRACE_MS 5000

/* Client -> pop3d: whatever io holds (pipelined commands first). */
static int to_stage(struct login *l, int fd)
{
	if (l->io.in.len == 0)
		return 0;
	int r = write_all(fd, l->io.in.s, l->io.in.len);
	buf_reset(&l->io.in);
	return r;
}

/* pop3d -> client: 1 more to come, 0 pop3d closed, -1 error. */
static int from_stage(struct login *l, int fd)
{
	static char chunk[RELAY_CHUNK];
	ssize_t n = read(fd, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return n == 0 ? 0 : -1;
	io_write(&l->io, chunk, (size_t)n);
	return io_flush(&l->io) < 0 ? -1 : 1;
}

void relay_run(struct login *l, int fd)
{
	/* pop3d has the same idle limit and says so to the client: wait a
	 * little longer, so its "-ERR autologout" gets through */
	int timeout = l->io.timeout_ms > 0 ? l->io.timeout_ms + RELAY_GRACE_MS : -1;
	if (io_flush(&l->io) < 0 || to_stage(l, fd) < 0)
		return;
	for (;;) {
		struct pollfd p[2] = {{l->io.rfd, POLLIN, 0}, {fd, POLLIN, 0}};
		int n = poll(p, 2, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;	/* idle in both directions: pop3d ends on EOF, deleting nothing */
		if (p[1].revents) {
			int r = from_stage(l, fd);
			if (r <= 0)
				break;
		}
		if (p[0].revents) {
			ssize_t r = io_fill(&l->io);
			if (r <= 0 || to_stage(l, fd) < 0)
				break;
		}
	}
	/* drain what pop3d already wrote (its QUIT reply) before closing */
	shutdown(fd, SHUT_WR);
	while (from_stage(l, fd) > 0)
		;
}
