/* io: buffered, bounded, timed I/O (see io.h). */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void io_init(struct io *io, int rfd, int wfd, int timeout_ms)
{
	memset(io, 0, sizeof *io);
	io->rfd = rfd;
	io->wfd = wfd;
	io->timeout_ms = timeout_ms;
}

void io_free(struct io *io)
{
	buf_free(&io->in);
	buf_free(&io->out);
}

long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void io_set_deadline(struct io *io, long long ms)
{
	io->deadline = ms > 0 ? monotonic_ms() + ms : 0;
}

int io_wait_ms(const struct io *io)
{
	int t = io->timeout_ms > 0 ? io->timeout_ms : -1;
	if (io->deadline > 0) {
		long long left = io->deadline - monotonic_ms();
		if (left < 0)
			left = 0;
		if (t < 0 || left < t)
			t = (int)left;
	}
	return t;
}

/* timeout_ms < 0: no limit; 0: do not wait at all. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int r = poll(&p, 1, timeout_ms);
		if (r > 0)
			return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static ssize_t raw_read(struct io *io, void *p, size_t n)
{
	if (io->tr)
		return io->tr->read(io, p, n);
	return read(io->rfd, p, n);
}

static ssize_t raw_write(struct io *io, const void *p, size_t n)
{
	if (io->tr)
		return io->tr->write(io, p, n);
	return write(io->wfd, p, n);
}

ssize_t io_fill(struct io *io)
{
	if (io->eof)
		return 0;
	buf_reserve(&io->in, 16384);
	for (;;) {
		/* Plain fds may be blocking: wait first so the timeout holds.
		 * A transport (TLS) does its own waiting. */
		if (!io->tr && wait_fd(io->rfd, POLLIN, io_wait_ms(io)) < 0) {
			io->err = errno == ETIMEDOUT ? IO_ERR_TIMEOUT : IO_ERR_SYS;
			return -1;
		}
		ssize_t r = raw_read(io, io->in.s + io->in.len, io->in.cap - io->in.len - 1);
		if (r > 0) {
			io->in.len += (size_t)r;
			return r;
		}
		if (r == 0) {
			io->eof = 1;
			io->err = IO_ERR_EOF;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			io->err = IO_ERR_SYS;
			return -1;
		}
		if (wait_fd(io->rfd, POLLIN, io_wait_ms(io)) < 0) {
			io->err = errno == ETIMEDOUT ? IO_ERR_TIMEOUT : IO_ERR_SYS;
			return -1;
		}
	}
}

int io_getline(struct io *io, struct buf *line, size_t max)
{
	size_t scanned = 0;
	int toolong = 0;
	buf_reset(line);
	for (;;) {
		/* in.s is NULL before the first fill: memchr(NULL, .., 0) is UB */
		char *nl = io->in.len > scanned ? memchr(io->in.s + scanned, '\n', io->in.len - scanned) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - io->in.s) + 1;
			if (!toolong && n <= max)
				buf_append(line, io->in.s, n);
			else
				toolong = 1;
			buf_consume(&io->in, n);
			return toolong ? LINE_TOOLONG : LINE_OK;
		}
		scanned = io->in.len;
		if (scanned > max) {
			/* Drop what we have so memory stays bounded. */
			toolong = 1;
			buf_reset(&io->in);
			scanned = 0;
		}
		ssize_t r = io_fill(io);
		if (r < 0)
			return LINE_ERR;
		if (r == 0) {
			if (toolong)
				return LINE_TOOLONG;
			if (io->in.len == 0)
				return LINE_EOF;
			buf_append(line, io->in.s, io->in.len);
			buf_reset(&io->in);
			return LINE_OK;
		}
	}
}

int io_read_exact(struct io *io, struct buf *dst, size_t n)
{
	while (io->in.len < n) {
		size_t have = io->in.len;
		buf_append(dst, io->in.s, have);
		buf_reset(&io->in);
		n -= have;
		if (io_fill(io) <= 0)
			return -1;
	}
	buf_append(dst, io->in.s, n);
	buf_consume(&io->in, n);
	return 0;
}

void io_write(struct io *io, const void *p, size_t n)
{
	buf_append(&io->out, p, n);
}

void io_puts(struct io *io, const char *s)
{
	buf_puts(&io->out, s);
}

void io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&io->out, fmt, ap);
	va_end(ap);
}

int io_flush(struct io *io)
{
	size_t off = 0;
	while (off < io->out.len) {
		if (!io->tr && wait_fd(io->wfd, POLLOUT, io_wait_ms(io)) < 0) {
			io->err = errno == ETIMEDOUT ? IO_ERR_TIMEOUT : IO_ERR_SYS;
			buf_consume(&io->out, off);
			return -1;
		}
		ssize_t r = raw_write(io, io->out.s + off, io->out.len - off);
		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(io->wfd, POLLOUT, io_wait_ms(io)) == 0)
				continue;
			io->err = errno == ETIMEDOUT ? IO_ERR_TIMEOUT : IO_ERR_SYS;
		} else {
			io->err = IO_ERR_SYS;
		}
		buf_consume(&io->out, off);
		return -1;
	}
	buf_reset(&io->out);
	return 0;
}

size_t io_pending(const struct io *io)
{
	return io->in.len;
}

void io_discard_input(struct io *io)
{
	buf_reset(&io->in);
}

int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t r = write(fd, c, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

ssize_t read_full(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int file_read(const char *path, struct buf *dst, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	buf_reset(dst);
	for (;;) {
		buf_reserve(dst, 8192);
		ssize_t r = read(fd, dst->s + dst->len, dst->cap - dst->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		dst->len += (size_t)r;
		if (dst->len > max) {
			close(fd);
			return -2;
		}
	}
	close(fd);
	return 0;
}
