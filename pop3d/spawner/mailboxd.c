/*
 * NAME
 *	mailboxd - starts the mailbox stage of an authenticated POP3/IMAP login
 *
 * SYNOPSIS
 *	libexec/mailboxd [-c CONFIG]    (fd 3: listening run_dir/mailbox.sock)
 *
 * DESCRIPTION
 *	Runs as user_mail, started (and restarted if it dies) by master,
 *	which binds run_dir/mailbox.sock (SOCK_SEQPACKET, owner user_auth,
 *	mode 0600: only the auth daemon may connect) and passes it as fd 3.
 *	The auth daemon connects once per successful login and sends one
 *	packet of records: Q<pop3|imap> U<verified address> I<client ip> E0:,
 *	with the login stage's end of a socketpair as SCM_RIGHTS.  mailboxd
 *	looks the address up in users.cdb (the same "mailbox:quota" value
 *	local uses), creates an empty Maildir mail_dir/MAILBOX if there is
 *	none, and forks+execs libexec_dir/pop3d (or imapd) with that fd as
 *	fd 0 and 1 and POSTHORN_USER, POSTHORN_MAILDIR set; then it answers
 *	C2, or C4 W<reason> if nothing was started.  It never reads mail
 *	itself and never sees a password.  Exited children are reaped
 *	automatically (SIGCHLD ignored).
 *
 * EXIT STATUS
 *	1 when fd 3 is not a listening socket or the config is bad; 2 usage;
 *	otherwise it runs until killed.
 *
 * FILES
 *	users.cdb beside CONFIG, mail_dir/MAILBOX, libexec_dir/pop3d.
 */
#include "mailboxd.h"
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *conf = NULL;
	int opt;
	log_init("mailboxd", 0);
	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt != 'c')
			die(2, "usage: mailboxd [-c CONFIG]");
		conf = optarg;
	}
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, conf ? conf : config_default_path(), &err) < 0)
		die(1, "%s", buf_cstr(&err));
	buf_free(&err);
	int v = 0;
	socklen_t len = sizeof v;
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
		die(1, "fd 3 is not a listening socket (mailboxd is started by master)");
	signal(SIGCHLD, SIG_IGN);	/* the stages are not ours to wait for */
	signal(SIGPIPE, SIG_IGN);
	log_info("ready");
	for (;;) {
		int conn = accept4(3, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				sleep(1);
			continue;
		}
		mbox_serve(&cfg, conn);
		close(conn);
	}
}
