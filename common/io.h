/* io: buffered, bounded, timed I/O on file descriptors.  Every network
 * program (smtpd, later pop3d, imapd, remote) reads lines through io_getline,
 * which never lets one line grow past the caller's limit and never waits
 * longer than the stream's timeout.  A transport hook lets TLS slot in under
 * the same buffers. */
#ifndef POSTHORN_IO_H
#define POSTHORN_IO_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"

struct io;
/* Transport: returns bytes moved, 0 on EOF, -1 on error (errno set,
 * EAGAIN means "wait and retry"). */
struct io_transport {
	ssize_t (*read)(struct io *io, void *p, size_t n);
	ssize_t (*write)(struct io *io, const void *p, size_t n);
	void *ctx;
};

struct io {
	int rfd, wfd;
	int timeout_ms;		/* per wait; <= 0 means no limit */
	long long deadline;	/* CLOCK_MONOTONIC ms; 0: none (io_set_deadline) */
	struct buf in;		/* bytes read but not consumed */
	struct buf out;		/* bytes queued for writing */
	struct io_transport *tr;	/* NULL: plain read/write */
	int eof;
	int err;		/* IO_ERR_* of the last failure */
};

enum { IO_OK = 0, IO_ERR_EOF = 1, IO_ERR_TIMEOUT = 2, IO_ERR_SYS = 3 };

/* io_getline results */
enum { LINE_OK = 1, LINE_EOF = 0, LINE_ERR = -1, LINE_TOOLONG = -2 };

void io_init(struct io *io, int rfd, int wfd, int timeout_ms);
void io_free(struct io *io);
/* Reads more input; returns bytes added, 0 on EOF, -1 on timeout/error. */
ssize_t io_fill(struct io *io);
/* One line ending in LF, at most max bytes including the LF, into line
 * (with its line end).  An overlong line is read to its end and dropped:
 * LINE_TOOLONG.  A final line without LF before EOF is returned as is. */
int io_getline(struct io *io, struct buf *line, size_t max);
/* Exactly n bytes (appended to dst); 0 ok, -1 EOF/error/timeout. */
int io_read_exact(struct io *io, struct buf *dst, size_t n);
void io_write(struct io *io, const void *p, size_t n);
void io_puts(struct io *io, const char *s);
void io_printf(struct io *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int io_flush(struct io *io);	/* 0 ok, -1 error/timeout */
/* A limit on the total time of what follows (one command line, a whole
 * DATA phase), on top of the per-wait timeout: a client sending one byte
 * just inside each timeout cannot hold a session open for ever.
 * ms <= 0 clears it. */
void io_set_deadline(struct io *io, long long ms);
/* How long the next wait may last: the timeout, cut short by the deadline
 * (0 once the deadline has passed; -1 for no limit).  Transports (TLS) use
 * it for their own waits. */
int io_wait_ms(const struct io *io);
long long monotonic_ms(void);

/* Bytes already read and waiting in the input buffer. */
size_t io_pending(const struct io *io);
/* Discards buffered input (STARTTLS: nothing sent before the handshake
 * may be interpreted after it). */
void io_discard_input(struct io *io);

/* Plain fd helpers. */
int write_all(int fd, const void *p, size_t n);	/* 0 ok, -1 error */
ssize_t read_full(int fd, void *p, size_t n);	/* short only at EOF */
/* Reads a whole file up to max bytes; 0 ok, -1 error (errno), -2 too big. */
int file_read(const char *path, struct buf *dst, size_t max);

#endif
