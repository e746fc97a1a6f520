/* store.c: pop3d's view of the maildrop: the message list fixed at login
 * (from common/uidlist, so numbers, sizes and UIDL values come from the
 * persistent index and are never recomputed), sending a message as a
 * multi-line reply, and the UPDATE state's removals with the Maildir++
 * quota adjusted.  Used by session.c. */
#include "pop3d.h"
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

int store_open(struct store *st, const char *maildir)
{
	memset(st, 0, sizeof *st);
	uidlist_init(&st->list, maildir);
	if (uidlist_sync(&st->list) < 0)
		return -1;
	st->n = st->list.n;
	st->msgs = xcalloc(st->n ? st->n : 1, sizeof *st->msgs);
	for (size_t i = 0; i < st->n; i++) {
		st->msgs[i].uid = st->list.msgs[i].uid;
		st->msgs[i].size = st->list.msgs[i].size;
	}
	st->uidvalidity = st->list.uidvalidity;
	return 0;
}

void store_close(struct store *st)
{
	uidlist_free(&st->list);
	free(st->msgs);
	memset(st, 0, sizeof *st);
}

void store_stat(const struct store *st, size_t *count, unsigned long long *octets)
{
	*count = 0;
	*octets = 0;
	for (size_t i = 0; i < st->n; i++)
		if (!st->msgs[i].deleted) {
			(*count)++;
			*octets += st->msgs[i].size;
		}
}

/* Opens message i by its current name; if another reader renamed it
 * (flags) since the list was read, the list is brought up to date once. */
static int open_msg(struct store *st, size_t i)
{
	struct buf p = BUF_INIT;
	int fd = -1;
	for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
		struct uid_msg *m = uidlist_find(&st->list, st->msgs[i].uid);
		if (m) {
			uidlist_path(&st->list, m, &p);
			fd = open(p.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		} else {
			errno = ENOENT;	/* no longer in the folder */
		}
		if (fd >= 0 || (m && errno != ENOENT) || attempt == 1)
			break;
		if (uidlist_sync(&st->list) < 0)
			break;
	}
	int e = errno;
	buf_free(&p);
	errno = e;
	return fd;
}

static int stream(int fd, struct pop3_enc *enc, struct io *io)
{
	char *chunk = xmalloc(CHUNK);
	struct buf out = BUF_INIT;
	ssize_t r;
	int rc = 0;
	while (!enc->done && (r = read(fd, chunk, CHUNK)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -2;	/* the reply is half sent: only closing is honest */
			break;
		}
		buf_reset(&out);
		pop3_encode(enc, chunk, (size_t)r, &out);
		io_write(io, out.s, out.len);
		if (io_flush(io) < 0) {
			rc = -2;
			break;
		}
	}
	if (rc == 0) {
		buf_reset(&out);
		pop3_enc_finish(enc, &out);
		io_write(io, out.s, out.len);
	}
	free(chunk);
	buf_free(&out);
	return rc;
}

int store_send(struct store *st, size_t i, long long body_lines, struct io *io)
{
	int fd = open_msg(st, i);
	if (fd < 0)
		return -1;
	struct pop3_enc enc;
	pop3_enc_init(&enc, body_lines);
	if (body_lines < 0)
		io_printf(io, "+OK %llu octets\r\n", st->msgs[i].size);
	else
		io_puts(io, "+OK top of message follows\r\n");
	int rc = stream(fd, &enc, io);
	close(fd);
	return rc;
}

int store_update(struct store *st, long long *removed)
{
	unsigned long *uids = xcalloc(st->n ? st->n : 1, sizeof *uids);
	size_t n = 0;
	for (size_t i = 0; i < st->n; i++)
		if (st->msgs[i].deleted)
			uids[n++] = st->msgs[i].uid;
	long long bytes = 0;
	*removed = 0;
	int r = n ? uidlist_expunge(&st->list, uids, n, removed, &bytes) : 0;
	int e = errno;
	free(uids);
	/* the quota follows what was really removed, even after a failure;
	 * a maildirsize that cannot be updated is recalculated by the next
	 * delivery's check, so it is not a reason to report failure */
	if (*removed)
		maildir_quota_add(st->list.dir, -bytes, -*removed);
	errno = e;
	return r;
}
