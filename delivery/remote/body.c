/* body.c: the queued message on the wire.  Reads the message bytes from
 * the queue file in chunks (pread at offset P, L bytes: never the whole
 * message in memory), turns LF into CRLF, dot-stuffs lines that start with
 * '.', and optionally passes each line through the quoted-printable
 * converter (common/qp.c) for peers without 8BITMIME. */
#include "remote.h"
#include "qp.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define BODY_CHUNK 65536
#define BODY_FLUSH 65536	/* queued output written out past this */

static ssize_t chunk_read(int fd, char *p, size_t n, unsigned long long off)
{
	ssize_t r;
	do
		r = pread(fd, p, n, (off_t)off);
	while (r < 0 && errno == EINTR);
	return r;
}

int body_is_8bit(int fd, unsigned long long off, unsigned long long len)
{
	static char chunk[BODY_CHUNK];
	while (len) {
		size_t want = len < BODY_CHUNK ? (size_t)len : BODY_CHUNK;
		ssize_t r = chunk_read(fd, chunk, want, off);
		if (r <= 0)
			return -1;
		for (ssize_t i = 0; i < r; i++)
			if ((unsigned char)chunk[i] >= 0x80)
				return 1;
		off += (unsigned long long)r;
		len -= (unsigned long long)r;
	}
	return 0;
}

/* Writer state: whether the next byte starts a line (for dot-stuffing). */
struct wire {
	struct io *io;
	int bol;
};

/* Bytes with LF line ends onto the wire. */
static int wire_put(struct wire *w, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (w->bol && p[i] == '.')
			io_write(w->io, ".", 1);
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n;
		io_write(w->io, p + i, end - i);
		if (nl)
			io_write(w->io, "\r\n", 2);
		w->bol = nl != NULL;
		i = nl ? end + 1 : n;
	}
	if (w->io->out.len > BODY_FLUSH && io_flush(w->io) < 0)
		return -1;
	return 0;
}

/* The QP path: whole lines through the converter. */
struct lines {
	struct qp_conv qp;
	struct buf line, out;
};

static int lines_feed(struct lines *l, struct wire *w, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n;
		buf_append(&l->line, p + i, end - i);
		i = nl ? end + 1 : n;
		if (!nl)
			break;
		qp_line(&l->qp, l->line.s ? l->line.s : "", l->line.len, &l->out);
		buf_reset(&l->line);
		if (l->out.len > BODY_FLUSH) {
			int r = wire_put(w, l->out.s, l->out.len);
			buf_reset(&l->out);
			if (r < 0)
				return -1;
		}
	}
	return 0;
}

static int lines_end(struct lines *l, struct wire *w)
{
	if (l->line.len)
		qp_line(&l->qp, l->line.s, l->line.len, &l->out);
	qp_finish(&l->qp, &l->out);
	return wire_put(w, l->out.s ? l->out.s : "", l->out.len);
}

int body_send(struct io *io, int fd, unsigned long long off, unsigned long long len,
	      int convert_qp, struct buf *err)
{
	static char chunk[BODY_CHUNK];
	struct wire w = {io, 1};
	struct lines l;
	int r = 0;
	qp_init(&l.qp);
	l.line = (struct buf)BUF_INIT;
	l.out = (struct buf)BUF_INIT;
	while (len && r == 0) {
		size_t want = len < BODY_CHUNK ? (size_t)len : BODY_CHUNK;
		ssize_t n = chunk_read(fd, chunk, want, off);
		if (n <= 0) {
			buf_printf(err, "cannot read the queue file: %s", n < 0 ? strerror(errno) : "short");
			r = -1;
			break;
		}
		off += (unsigned long long)n;
		len -= (unsigned long long)n;
		r = convert_qp ? lines_feed(&l, &w, chunk, (size_t)n) : wire_put(&w, chunk, (size_t)n);
		r = r < 0 ? -2 : 0;
	}
	if (r == 0 && convert_qp)
		r = lines_end(&l, &w) < 0 ? -2 : 0;
	if (r == 0 && !w.bol)	/* a last line without LF still ends in CRLF */
		io_write(io, "\r\n", 2);
	qp_free(&l.qp);
	buf_free(&l.line);
	buf_free(&l.out);
	return r;
}
