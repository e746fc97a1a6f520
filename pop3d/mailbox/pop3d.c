/*
 * NAME
 *	pop3d - posthorn's POP3 mailbox stage (RFC 1939 TRANSACTION, UPDATE)
 *
 * SYNOPSIS
 *	libexec/pop3d [-c CONFIG]
 *	    with POSTHORN_USER=address POSTHORN_MAILDIR=/absolute/maildir
 *
 * DESCRIPTION
 *	Serves one already-authenticated POP3 session on fd 0 (input) and
 *	fd 1 (output).  It is started by mailboxd (as user_mail) after the
 *	auth daemon has verified the password that pop3d-login received; its
 *	fds are one end of a socketpair whose other end pop3d-login relays
 *	to the client.  pop3d never sees a password and never talks to the
 *	network directly.
 *
 *	First it takes the maildrop lock (an flock on posthorn-pop3.lock in
 *	the Maildir): if another POP3 session holds it the answer is
 *	"-ERR [IN-USE]" and the process ends.  Then it brings the folder's
 *	uidlist (common/uidlist.h) up to date and answers "+OK" with the
 *	message count and size; that line is the reply the client gets to
 *	its PASS or AUTH command.
 *
 *	Commands: STAT, LIST [n], UIDL [n], RETR n, TOP n m, DELE n, NOOP,
 *	RSET, QUIT, CAPA.  Sizes are the octets RETR sends with CRLF line
 *	ends before dot-stuffing (a last line without a line end is sent,
 *	and counted, with a CRLF).  UIDL is "UIDVALIDITY.UID" from the
 *	uidlist: the same in every session for the message's whole life, and
 *	the UID part is the one IMAP shows.  DELE only marks; messages are
 *	removed at QUIT (UPDATE), with the Maildir++ maildirsize adjusted.
 *	A session that ends any other way (EOF, timeout, too many errors)
 *	removes nothing.  RETR does not move messages from new/ to cur/ or
 *	set flags: POP3 has no notion of "seen", and leaving the files
 *	alone keeps IMAP's \Recent and \Seen for IMAP clients.
 *
 *	Limits: pop3_line_max ("-ERR line too long", the session goes on),
 *	max_errors bad commands (then "-ERR" and close), pop3_timeout idle
 *	time, at most 10 commands per message plus 10000 per session.
 *	Store errors answer "-ERR [SYS/TEMP]" (try again) or "[SYS/PERM]".
 *
 * EXIT STATUS
 *	0 after a session (whatever the client did); 2 usage; 111 bad
 *	environment or config (the client gets "-ERR [SYS/TEMP]" first).
 *
 * FILES
 *	MAILDIR/{new,cur}/, MAILDIR/posthorn-uidlist (+ .lock),
 *	MAILDIR/posthorn-pop3.lock, MAILDIR/maildirsize.
 */
#include "pop3d.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define POP3_LOCK "posthorn-pop3.lock"

static void say(const char *reply)
{
	write_all(1, reply, strlen(reply));
}

static void fail(const char *reply, int code, const char *fmt, const char *arg)
{
	say(reply);
	die(code, fmt, arg);
}

static void load_config(struct config *cfg, const char *path)
{
	struct buf err = BUF_INIT;
	if (config_load(cfg, path, &err) < 0)
		fail("-ERR [SYS/TEMP] server configuration error\r\n", 111, "%s", buf_cstr(&err));
	buf_free(&err);
}

static const char *maildir_env(void)
{
	const char *d = getenv("POSTHORN_MAILDIR");
	struct stat st;
	if (!d || d[0] != '/' || stat(d, &st) < 0 || !S_ISDIR(st.st_mode))
		fail("-ERR [SYS/TEMP] mailbox not available\r\n", 111,
		     "POSTHORN_MAILDIR is not an absolute path to a directory: %s", d ? d : "(unset)");
	return d;
}

/* The maildrop lock of RFC 1939 section 8: one POP3 session at a time. */
static int lock_maildrop(const char *dir, const char *user)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, POP3_LOCK);
	int fd = open(buf_cstr(&p), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	buf_free(&p);
	if (fd < 0)
		fail("-ERR [SYS/TEMP] cannot lock the maildrop\r\n", 111, "lock: %s", strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_info("user %s: maildrop in use", user);
		say("-ERR [IN-USE] maildrop already locked by another session\r\n");
		exit(0);
	}
	return fd;
}

static void open_store(struct session *s, const char *dir)
{
	if (store_open(&s->st, dir) < 0) {
		int e = errno;
		log_error("user %s: cannot read %s: %s", s->user, dir, strerror(e));
		say("-ERR [SYS/TEMP] cannot open the maildrop, try again later\r\n");
		exit(0);
	}
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	int opt;
	log_init("pop3d", 0);
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt != 'c')
			die(2, "usage: pop3d [-c CONFIG]");
		conf = optarg;
	}
	struct config cfg;
	load_config(&cfg, conf ? conf : config_default_path());
	struct session s;
	memset(&s, 0, sizeof s);
	s.cfg = &cfg;
	s.user = getenv("POSTHORN_USER");
	if (!s.user || !*s.user)
		fail("-ERR [SYS/TEMP] no user\r\n", 111, "%s", "POSTHORN_USER is not set");
	const char *dir = maildir_env();
	int lock = lock_maildrop(dir, s.user);
	open_store(&s, dir);
	long long secs = config_num(&cfg, "pop3_timeout");
	io_init(&s.io, 0, 1, (int)(secs > 86400 ? 86400 : secs) * 1000);
	s.line_max = (size_t)config_num(&cfg, "pop3_line_max");
	s.max_errors = config_num(&cfg, "max_errors");
	s.max_commands = size_add(size_mul(s.st.n, 10), 10000);
	size_t n;
	unsigned long long oct;
	store_stat(&s.st, &n, &oct);
	io_printf(&s.io, "+OK maildrop has %zu messages (%llu octets)\r\n", n, oct);
	log_info("user %s: session started, %zu messages", s.user, n);
	int rc = io_flush(&s.io) < 0 ? 0 : session_run(&s);
	io_free(&s.io);
	store_close(&s.st);
	close(lock);
	config_free(&cfg);
	return rc;
}
