/*
 * NAME
 *	imapd - posthorn's IMAP mailbox stage (RFC 3501 after login)
 *
 * SYNOPSIS
 *	libexec/imapd [-P] [-c CONFIG]
 *	    with POSTHORN_USER=address POSTHORN_MAILDIR=/absolute/maildir
 *
 * DESCRIPTION
 *	Serves one already-authenticated IMAP session on fd 0 (input) and
 *	fd 1 (output): the authenticated and selected states of RFC 3501
 *	with IDLE, UIDPLUS, MOVE, NAMESPACE, LITERAL+, ENABLE, SPECIAL-USE,
 *	CHILDREN, UNSELECT, ID, CONDSTORE, QRESYNC and ESEARCH.  It is started by
 *	mailboxd (as user_mail) after the auth daemon accepted the password
 *	imapd-login received; it never sees a password and never talks to
 *	the network directly.
 *
 *	Its first line is the hand-off line for imapd-login: "OK
 *	[CAPABILITY ...] text", or "NO [UNAVAILABLE] text" when the mailbox
 *	cannot be used; imapd-login puts the client's tag in front of it.
 *	With -P (preauth: tests, ssh tunnels, a mail client's "tunnel"
 *	command) the first line is "* PREAUTH [CAPABILITY ...] text" and the
 *	session speaks IMAP on stdin/stdout directly.
 *
 *	The special-use folders (Sent, Drafts, Trash, Junk, Archive) are
 *	created on the first session of a user.  Folders are reached only
 *	through the store interface (mbox.h), which refuses names that
 *	could leave the Maildir.
 *
 *	Limits: a command line 64 KiB (literal data not counted), a literal
 *	max_message_size in APPEND and 64 KiB elsewhere, list nesting 16,
 *	max_errors bad commands (then "* BYE"), 30 minutes without a command
 *	("* BYE autologout"; IDLE counts as a command for 30 minutes).
 *
 * EXIT STATUS
 *	0 after a session (whatever the client did); 2 usage; 111 bad
 *	environment or config (the client gets a NO first).
 *
 * FILES
 *	MAILDIR/{new,cur,tmp}/, MAILDIR/.FOLDER/, MAILDIR/posthorn-uidlist
 *	(+ .lock) in each folder, MAILDIR/subscriptions, MAILDIR/maildirsize.
 */
#include "imapd.h"
#include "mbox.h"
#include "log.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int preauth;

/* The first line when the session cannot start, then exit 111. */
static void fail(const char *fmt, const char *arg)
{
	const char *line = preauth ? "* BYE [UNAVAILABLE] mailbox not available\r\n"
				   : "NO [UNAVAILABLE] mailbox not available, try again later\r\n";
	write_all(1, line, strlen(line));
	die(111, fmt, arg);
}

static void load_config(struct config *cfg, const char *path)
{
	struct buf err = BUF_INIT;
	if (config_load(cfg, path, &err) < 0)
		fail("%s", buf_cstr(&err));
	buf_free(&err);
}

static const char *maildir_env(void)
{
	const char *d = getenv("POSTHORN_MAILDIR");
	struct stat st;
	if (!d || d[0] != '/' || stat(d, &st) < 0 || !S_ISDIR(st.st_mode))
		fail("POSTHORN_MAILDIR is not an absolute path to a directory: %s", d ? d : "(unset)");
	return d;
}

static void greet(struct session *s)
{
	if (preauth)
		io_printf(&s->io, "* PREAUTH [CAPABILITY " IMAP_CAPS "] posthorn IMAP4rev1 ready, "
			  "logged in\r\n");
	else
		io_printf(&s->io, "OK [CAPABILITY " IMAP_CAPS "] logged in\r\n");
}

int main(int argc, char **argv)
{
	const char *conf = NULL;
	int opt;
	log_init("imapd", 0);
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt(argc, argv, "Pc:")) != -1) {
		if (opt == 'P')
			preauth = 1;
		else if (opt == 'c')
			conf = optarg;
		else
			die(2, "usage: imapd [-P] [-c CONFIG]");
	}
	struct config cfg;
	load_config(&cfg, conf ? conf : config_default_path());
	struct session s;
	memset(&s, 0, sizeof s);
	s.cfg = &cfg;
	s.user = getenv("POSTHORN_USER");
	if (!s.user || !*s.user)
		fail("%s", "POSTHORN_USER is not set");
	s.root = maildir_env();
	if (folder_init_special(s.root) < 0)
		log_warn("user %s: cannot create the special-use folders", s.user);
	io_init(&s.io, 0, 1, IMAP_TIMEOUT_MS);
	s.max_errors = config_num(&cfg, "max_errors");
	s.max_append = (unsigned long long)config_num(&cfg, "max_message_size");
	s.state = IMAP_AUTH;
	greet(&s);
	log_info("user %s: session started", s.user);
	int rc = io_flush(&s.io) < 0 ? 0 : session_run(&s);
	log_info("user %s: session ended (%ld bad commands)", s.user, s.errors);
	if (s.mb)
		mbox_close(s.mb);
	buf_free(&s.cmd);
	io_free(&s.io);
	config_free(&cfg);
	return rc;
}
