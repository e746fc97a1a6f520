/*
 * NAME
 *	remote - posthorn delivery to other mail servers over SMTP
 *
 * SYNOPSIS
 *	libexec/remote [-c CONFIGFILE]
 *
 * DESCRIPTION
 *	Started by master as user_remote with file descriptor 3 a
 *	SOCK_SEQPACKET socket to qmgr (qmgr's fd 4).  Each packet is one
 *	request (doc/design.md "Remote delivery"): a next hop H, the message
 *	range P/L in the queue file passed as SCM_RIGHTS, attributes, and
 *	recipients X/R/O/F.  remote forks one child per request, at most
 *	remote_concurrency at once.  The child finds the addresses to try:
 *	"[host]:port" as given, else the domain's MX hosts in preference
 *	order, else the domain itself (implicit MX); AAAA before A.  A null
 *	MX (RFC 7505) bounces with 5.1.10, a domain that does not exist with
 *	5.1.2, a DNS failure defers with 4.4.3.  DNS goes to dns_resolver
 *	(IPv4[:port]) or the system's resolver.
 *
 *	For each address in turn (connect bounded by smtp_connect_timeout):
 *	greeting and EHLO (smtp_helo_timeout; HELO after a 5xx), STARTTLS
 *	as the tls-policy table says for the domain (etc/tls-policy.cdb:
 *	none, may (the default), encrypt, verify; verify checks the chain
 *	against smtp_tls_ca or the system store and the MX host name); under
 *	may a failed handshake is retried on the same address in clear, under
 *	encrypt/verify it defers with 4.7.5.  A failure before MAIL (no
 *	connection, bad greeting or EHLO) moves on to the next address.  Then
 *	one transaction for all recipients: MAIL with SIZE, BODY=8BITMIME,
 *	SMTPUTF8 and DSN's RET/ENVID as the peer offers them, RCPT with
 *	NOTIFY/ORCPT, pipelined with DATA when the peer offers PIPELINING; the
 *	message streamed from the queue file with CRLF and dot-stuffing,
 *	converted to quoted-printable (common/qp.c) when it is 8-bit and the
 *	peer lacks 8BITMIME (smtp_8bitmime_convert).  A message bigger than
 *	the peer's SIZE bounces (5.3.4) unsent; one that needs SMTPUTF8 from
 *	a peer without it bounces (5.6.7).  Each recipient gets its own
 *	status: 2xx sent, 5xx permanent, 4xx temporary; a failure at MAIL or
 *	DATA applies to all.  Timeouts: smtp_cmd_timeout per command,
 *	smtp_data_done_timeout after the final dot.  One log line per
 *	recipient: "QID: to=<..> relay=host[ip]:port status=sent|deferred|
 *	bounced (reply) tls=...".  The reply packet to qmgr carries N, M (the
 *	last host "name[ip]") and X, C, W per recipient.  A child that dies
 *	(kill -9 mid-transaction) has its recipients answered 4.3.0 by the
 *	parent; if the peer had already said 250 the message goes again on
 *	retry: that is the only window for a duplicate.
 *
 * EXIT STATUS
 *	0 when qmgr closed the socket or on SIGTERM; 111 on a configuration
 *	or system error; 2 on a usage error.
 *
 * FILES
 *	CONFIGFILE (default $POSTHORN_CONFIG, else /etc/posthorn/posthorn.conf),
 *	tls-policy.cdb beside it, smtp_tls_ca.
 */
#include "remote.h"
#include "agent.h"
#include "log.h"
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The child's whole life: every stage has its own timeout, this only
 * catches what they cannot (a DNS library stuck, a bug). */
#define REMOTE_CHILD_TIMEOUT 3000

static enum tls_policy tls_policy(const struct config *cfg, const struct remote_request *rq)
{
	struct buf path = BUF_INIT, dom = BUF_INIT, val = BUF_INIT;
	struct table t;
	enum tls_policy pol = TLSP_MAY;
	config_file(cfg, "tls-policy.cdb", &path);
	route_domain(rq, &dom);
	if (table_open(&t, buf_cstr(&path)) == 0) {
		if (table_lookup(&t, dom.s, dom.len, &val) == 1) {
			pol = buf_eq(&val, "none") ? TLSP_NONE : buf_eq(&val, "encrypt") ? TLSP_ENCRYPT
			    : buf_eq(&val, "verify") ? TLSP_VERIFY : TLSP_MAY;
		}
		table_close(&t);
	}
	buf_free(&path);
	buf_free(&dom);
	buf_free(&val);
	return pol;
}

static void deliver(const struct config *cfg, struct remote_request *rq)
{
	struct target *t = xcalloc(ROUTE_TARGETS_MAX, sizeof *t);
	size_t n = 0;
	struct buf err = BUF_INIT;
	if (dns_setup(config_str(cfg, "dns_resolver"), &err) < 0) {
		rcpt_set_all(rq, '4', "4.3.5 %s", buf_cstr(&err));
	} else if (route_targets(rq, t, ROUTE_TARGETS_MAX, &n) == 0) {
		enum tls_policy pol = tls_policy(cfg, rq);
		for (size_t i = 0; i < n; i++) {
			int r = smtp_deliver(cfg, rq, &t[i], pol, 1);
			if (r == 2)	/* TLS failed under "may": the same host in clear */
				r = smtp_deliver(cfg, rq, &t[i], pol, 0);
			if (r == 0)
				break;
		}
	}
	for (size_t i = 0; i < rq->nrcpts && n == 0; i++)
		log_info("%s: to=<%s> relay=none status=%s (%s)", rq->qid.s, rq->rcpts[i].addr.s,
			 rq->rcpts[i].status == '5' ? "bounced" : "deferred",
			 buf_cstr(&rq->rcpts[i].text));
	buf_free(&err);
	free(t);
}

static void __attribute__((noreturn))
run_child(const struct config *cfg, int sock, struct remote_request *rq)
{
	deliver(cfg, rq);
	int r = reply_send(sock, rq);
	if (r < 0)
		log_warn("%s: cannot answer qmgr: %s", rq->qid.s, strerror(errno));
	request_free(rq);
	_exit(r < 0 ? 111 : 0);
}

static void start_child(const struct config *cfg, int sock, struct remote_request *rq)
{
	pid_t pid = agent_fork(REMOTE_CHILD_TIMEOUT);
	if (pid == 0)
		run_child(cfg, sock, rq);
	if (pid < 0) {
		log_warn("%s: fork: %s", rq->qid.s, strerror(errno));
		rcpt_set_all(rq, '4', "4.3.0 cannot start a delivery process");
		reply_send(sock, rq);
		return;
	}
	children_add(pid, rq);
}

static int handle_request(const struct config *cfg, int sock)
{
	struct remote_request rq;
	struct buf err = BUF_INIT;
	request_init(&rq);
	int k = request_recv(sock, &rq, &err);
	if (k < 0) {
		log_warn("request %s: malformed: %s", rq.id.len ? rq.id.s : "?", buf_cstr(&err));
		rcpt_set_all(&rq, '4', "4.3.0 malformed delivery request: %s", err.s);
		if (rq.id.len && reply_send(sock, &rq) < 0)
			log_warn("cannot answer qmgr: %s", strerror(errno));
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
	struct buf err = BUF_INIT;
	agent_start("remote", argc, argv, "user_remote", &cfg);
	if (dns_setup(config_str(&cfg, "dns_resolver"), &err) < 0)
		die(111, "%s", buf_cstr(&err));
	children_init(agent_concurrency(&cfg, "remote_concurrency"));
	agent_serve(&cfg, AGENT_SOCKET_FD, handle_request);
	config_free(&cfg);
	buf_free(&err);
	return 0;
}
