/* misc.c: imapd's commands that need no folder: CAPABILITY, NOOP,
 * LOGOUT, ID (RFC 2971), ENABLE (RFC 5161: CONDSTORE), NAMESPACE (RFC
 * 2342), CHECK, and IDLE (RFC 2177: waits on the folder's change watch and
 * the client at once, sending updates as they happen). */
#include "imapd.h"
#include "mbox.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

static int no_args(struct session *s, struct imap_parser *p)
{
	if (imap_p_end(p))
		return 0;
	session_bad(s, "no arguments expected");
	return -1;
}

void cmd_capability(struct session *s, struct imap_parser *p)
{
	if (no_args(s, p) == 0) {
		buf_puts(&s->io.out, "* CAPABILITY " IMAP_CAPS "\r\n");
		session_tagged(s, "OK", "CAPABILITY completed");
	}
}

void cmd_noop(struct session *s, struct imap_parser *p)
{
	if (no_args(s, p) == 0)
		session_tagged(s, "OK", "NOOP completed");
}

void cmd_check(struct session *s, struct imap_parser *p)
{
	if (no_args(s, p) == 0)
		session_tagged(s, "OK", "CHECK completed");
}

void cmd_logout(struct session *s, struct imap_parser *p)
{
	if (no_args(s, p) < 0)
		return;
	buf_puts(&s->io.out, "* BYE logging out\r\n");
	struct mbox *mb = s->mb;
	s->mb = NULL;		/* no updates after BYE */
	session_tagged(s, "OK", "LOGOUT completed");
	s->mb = mb;
	s->state = IMAP_LOGOUT;
	s->done = 1;
}

/* ID's argument: NIL or a list of string/nstring pairs (at most 30). */
static int id_params(struct imap_parser *p)
{
	struct imap_str k, v;
	if (imap_p_word(p, "NIL") == 0)
		return 0;
	if (imap_p_open(p) < 0)
		return -1;
	for (int i = 0; imap_p_close(p) < 0; i++) {
		if (i >= 30 || (i && imap_p_sp(p) < 0) || imap_p_string(p, &k) < 0 || imap_p_sp(p) < 0
		    || imap_p_nstring(p, &v) < 0 || k.n > 30 || v.n > 1024)
			return -1;
	}
	return 0;
}

void cmd_id(struct session *s, struct imap_parser *p)
{
	if (imap_p_sp(p) < 0 || id_params(p) < 0 || !imap_p_end(p))
		return session_bad(s, "syntax: ID (\"name\" \"value\" ...) or ID NIL");
	buf_puts(&s->io.out, "* ID (\"name\" \"posthorn\")\r\n");
	session_tagged(s, "OK", "ID completed");
}

void cmd_enable(struct session *s, struct imap_parser *p)
{
	struct imap_str a;
	int any = 0, cs = 0, qr = 0;
	while (imap_p_sp(p) == 0) {
		if (imap_p_atom(p, &a) < 0)
			return session_bad(s, "syntax: ENABLE capability ...");
		any = 1;
		if (mem_caseeq(a.p, a.n, "CONDSTORE", 9))
			cs = 1;
		else if (mem_caseeq(a.p, a.n, "QRESYNC", 7))
			qr = 1;
	}
	if (!any || !imap_p_end(p))
		return session_bad(s, "syntax: ENABLE capability ...");
	buf_puts(&s->io.out, "* ENABLED");
	if (cs && !s->condstore)
		buf_puts(&s->io.out, " CONDSTORE");
	if (qr && !s->qresync)
		buf_puts(&s->io.out, " QRESYNC");
	buf_puts(&s->io.out, "\r\n");
	s->condstore |= cs || qr;	/* QRESYNC implies CONDSTORE */
	s->qresync |= qr;
	session_tagged(s, "OK", "ENABLE completed");
}

void cmd_namespace(struct session *s, struct imap_parser *p)
{
	if (no_args(s, p) < 0)
		return;
	buf_puts(&s->io.out, "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
	session_tagged(s, "OK", "NAMESPACE completed");
}

/* ---- IDLE ---- */

#define IDLE_KEEPALIVE_MS (2 * 60 * 1000)

/* Waits for the client or the folder: 1 input, 0 folder/timer, -1 error. */
static int idle_wait(struct session *s, int wfd, long long deadline)
{
	if (io_pending(&s->io))
		return 1;
	struct pollfd fds[2] = {{.fd = s->io.rfd, .events = POLLIN}, {.fd = wfd, .events = POLLIN}};
	long long left = deadline - monotonic_ms();
	int ms = left < 0 ? 0 : left > IDLE_KEEPALIVE_MS ? IDLE_KEEPALIVE_MS : (int)left;
	if (wfd < 0 && s->mb && ms > 1000)
		ms = 1000;	/* no watch: re-check every second */
	int r = poll(fds, wfd >= 0 ? 2 : 1, ms);
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	if (fds[0].revents)
		return 1;
	if (wfd >= 0 && fds[1].revents)
		mbox_watch_drain(s->mb);
	return r == 0 && monotonic_ms() >= deadline ? -1 : 0;
}

/* "* OK still here" when nothing was sent for a while, so that NAT
 * boxes and clients see the connection alive (as Dovecot does). */
static void keepalive(struct session *s, long long *last)
{
	long long now = monotonic_ms();
	if (s->io.out.len)
		*last = now;
	else if (now - *last >= IDLE_KEEPALIVE_MS) {
		buf_puts(&s->io.out, "* OK still here\r\n");
		*last = now;
	}
}

void cmd_idle(struct session *s, struct imap_parser *p)
{
	if (no_args(s, p) < 0)
		return;
	/* the watch first, then one sync: a change between the last sync and
	 * the watch is seen either way */
	int wfd = s->mb ? mbox_watch_fd(s->mb) : -1;
	io_puts(&s->io, "+ idling\r\n");
	long long deadline = monotonic_ms() + IMAP_TIMEOUT_MS, last = monotonic_ms();
	struct buf line = BUF_INIT;
	for (int first = 1;; first = 0) {
		int r = first ? 0 : idle_wait(s, wfd, deadline);
		if (r < 0) {
			buf_puts(&s->io.out, "* BYE autologout, idle for too long\r\n");
			s->done = 1;
			break;
		}
		if (r == 0) {
			if (s->mb)
				session_updates(s, 1);
			keepalive(s, &last);
			if (io_flush(&s->io) < 0) {
				s->done = 1;
				break;
			}
			continue;
		}
		int l = io_getline(&s->io, &line, 1024);
		if (l != LINE_OK) {
			s->done = l != LINE_TOOLONG;
			if (!s->done)
				session_bad(s, "expected DONE");
			break;
		}
		size_t n = line.len;
		while (n && (line.s[n - 1] == '\n' || line.s[n - 1] == '\r'))
			n--;
		if (mem_caseeq(line.s, n, "DONE", 4))
			session_tagged(s, "OK", "IDLE terminated");
		else
			session_bad(s, "expected DONE");
		break;
	}
	buf_free(&line);
}
