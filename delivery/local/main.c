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
 *	local") with the queue file passed as SCM_RIGHTS.  local hands each
 *	request to one of up to local_concurrency worker processes, forked
 *	when first needed and kept (common/agentpool.c), which serve one
 *	request at a time: the worker looks the recipient up in the users table
 *	(a +extension falls back to the base user), refuses a mail loop (as
 *	many of our own Delivered-To: headers as delivered_to_limit), checks
 *	the Maildir++ quota and delivers crash-safely into the Maildir under
 *	mail_dir, adding Return-Path: and Delivered-To:.  It answers with a
 *	packet N (the request id), C (2 delivered, 4 temporary, 5 permanent)
 *	and W (enhanced status code and text).  A malformed request gets a
 *	4.3.0 answer; a worker that dies without answering gets its request
 *	answered by the parent ("4.3.0 delivery process killed by signal N"),
 *	also when a delivery takes longer than 10 minutes (the worker is
 *	killed by SIGALRM); the next request gets a fresh worker.  While every
 *	worker is busy, more requests wait in the socket.  When qmgr closes
 *	the socket, or on SIGTERM, local lets the deliveries in flight finish,
 *	ends its workers and exits.
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
 * FIFO where a file should be): the worker is killed by SIGALRM and the
 * parent answers 4.3.0, well before qmgr gives up on the request. */
#define LOCAL_WORKER_TIMEOUT 600

/* The previous request's queue file, kept open until the next request (or
 * the worker's end).  qmgr removes a finished file at once, and the last
 * close of a removed file frees its blocks (with online discard about a
 * millisecond): holding our reference makes that cost this worker's, paid
 * in parallel with the other workers, instead of qmgr's single loop.
 * At most local_concurrency removed files are held at a time. */
static int held_fd = -1;

static void hold(struct local_request *rq)
{
	if (held_fd >= 0)
		close(held_fd);
	held_fd = rq->fd;
	rq->fd = -1;
}

/* In a worker: one request packet passed on by the parent, delivered and
 * answered to qmgr on sock.  0 go on, -1 the parent closed wsock. */
static int serve_request(const struct config *cfg, int wsock, int sock)
{
	struct local_request rq;
	struct local_reply rp = {'4', BUF_INIT};
	struct buf err = BUF_INIT;
	request_init(&rq);
	int k = request_recv(wsock, &rq, &err);
	if (k < 0) {
		reply_set(&rp, '4', "4.3.0 malformed delivery request: %s", buf_cstr(&err));
		log_warn("request %.*s: %.*s", (int)rq.id.len, rq.id.len ? rq.id.s : "",
			 (int)rp.text.len, rp.text.s);
	} else if (k > 0) {
		local_deliver(cfg, &rq, &rp);
	}
	if (k != 0 && reply_send(sock, &rq.id, rp.status, rp.text.s, rp.text.len) < 0)
		log_warn("%s: cannot answer qmgr: %s", rq.qid.len ? rq.qid.s : "request",
			 strerror(errno));
	hold(&rq);
	request_free(&rq);
	buf_free(&rp.text);
	buf_free(&err);
	return k == 0 ? -1 : 0;
}

/* The parent's answer for a worker that died (or could not start). */
static void answer_for(int sock, const struct buf *id, const char *text)
{
	log_warn("request %.*s: %s", (int)id->len, id->len ? id->s : "", text);
	if (reply_send(sock, id, '4', text, strlen(text)) < 0)
		log_warn("cannot answer request %.*s: %s", (int)id->len, id->len ? id->s : "",
			 strerror(errno));
}

int main(int argc, char **argv)
{
	struct config cfg;
	agent_start("local", argc, argv, "user_mail", &cfg);
	agent_pool_serve(&cfg, AGENT_SOCKET_FD, agent_concurrency(&cfg, "local_concurrency"),
			 LOCAL_PACKET_MAX, LOCAL_WORKER_TIMEOUT, serve_request, answer_for);
	config_free(&cfg);
	return 0;
}
