/*
 * NAME
 *	local - posthorn local delivery into Maildirs
 *
 * SYNOPSIS
 *	libexec/local [-c CONFIGFILE]
 *
 * DESCRIPTION
 *	Started by master as user_mail with file descriptor 3 a
 *	SOCK_SEQPACKET socket to qmgr.  Each packet from qmgr is one delivery
 *	request (records N, Q, S, R, O, P, L, T, X; see doc/design.md "qmgr <->
 *	local") with the queue file passed as SCM_RIGHTS.  local forks one
 *	child per request; the child looks the recipient up in the users table
 *	(a +extension falls back to the base user), refuses a mail loop (as
 *	many of our own Delivered-To: headers as delivered_to_limit), checks
 *	the Maildir++ quota and delivers crash-safely into the Maildir under
 *	mail_dir, adding Return-Path: and Delivered-To:.  It answers with a
 *	packet N (the request id), C (2 delivered, 4 temporary, 5 permanent)
 *	and W (enhanced status code and text).  A malformed request gets a
 *	4.3.0 answer; a child that dies without answering gets one from the
 *	parent, also when a delivery takes longer than 10 minutes (the child
 *	is killed).  At most local_concurrency children run at once; more
 *	requests wait in the socket.  When qmgr closes the socket, or on
 *	SIGTERM, local waits for its children and exits.
 *
 * EXIT STATUS
 *	0 when qmgr closed the socket or on SIGTERM; 111 on a configuration
 *	or system error; 2 on a usage error.
 *
 * FILES
 *	CONFIGFILE (default $POSTHORN_CONFIG, else /etc/posthorn/posthorn.conf),
 *	users.cdb beside it, mail_dir/MAILBOX/{tmp,new,cur}, and
 *	mail_dir/MAILBOX/maildirsize for mailboxes with a quota.
 */
#include "local.h"
#include "agent.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A delivery that takes longer than this is stuck (a hung filesystem, a
 * FIFO where a file should be): the child is killed by SIGALRM and the
 * parent answers 4.3.0, well before qmgr gives up on the request. */
#define LOCAL_CHILD_TIMEOUT 600

/* The child: deliver, answer, exit 0 only when the answer went out. */
static void __attribute__((noreturn))
run_child(const struct config *cfg, int sock, struct local_request *rq)
{
	struct local_reply rp = {'4', BUF_INIT};
	local_deliver(cfg, rq, &rp);
	int r = reply_send(sock, &rq->id, rp.status, rp.text.s, rp.text.len);
	if (r < 0)
		log_warn("%s: cannot answer qmgr: %s", rq->qid.s, strerror(errno));
	buf_free(&rp.text);
	request_free(rq);
	_exit(r < 0 ? 111 : 0);
}

static void start_child(const struct config *cfg, int sock, struct local_request *rq)
{
	pid_t pid = agent_fork(LOCAL_CHILD_TIMEOUT);
	if (pid == 0)
		run_child(cfg, sock, rq);
	if (pid < 0) {
		const char *t = "4.3.0 cannot start a delivery process";
		log_warn("%s: fork: %s", rq->qid.s, strerror(errno));
		reply_send(sock, &rq->id, '4', t, strlen(t));
		return;
	}
	children_add(pid, &rq->id);
}

/* One packet from qmgr: 0 go on, -1 the socket is closed. */
static int handle_request(const struct config *cfg, int sock)
{
	struct local_request rq;
	struct buf err = BUF_INIT;
	request_init(&rq);
	int k = request_recv(sock, &rq, &err);
	if (k < 0) {
		struct buf text = BUF_INIT;
		buf_printf(&text, "4.3.0 malformed delivery request: %s", buf_cstr(&err));
		buf_cstr(&text);
		log_warn("request %.*s: %s", (int)rq.id.len, rq.id.len ? rq.id.s : "", text.s);
		if (reply_send(sock, &rq.id, '4', text.s, text.len) < 0)
			log_warn("cannot answer qmgr: %s", strerror(errno));
		buf_free(&text);
	} else if (k > 0) {
		start_child(cfg, sock, &rq);
	}
	request_free(&rq);
	buf_free(&err);
	return k == 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	agent_start("local", argc, argv, "user_mail", &cfg);
	children_init(agent_concurrency(&cfg, "local_concurrency"));
	agent_serve(&cfg, AGENT_SOCKET_FD, handle_request);
	config_free(&cfg);
	return 0;
}
