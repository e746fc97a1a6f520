/* smtp.c: the ESMTP client of remote delivery: one attempt at one address
 * for all recipients of a request.  Greeting, EHLO (HELO when EHLO gets a
 * 5xx), STARTTLS per the TLS policy, then MAIL/RCPT (pipelined when the
 * peer offers PIPELINING), DATA with the message streamed from the queue
 * file, QUIT.  SIZE, 8BITMIME, SMTPUTF8 and DSN are honoured as described
 * in remote's manual comment (main.c).  Every wait has a timeout. */
#include "remote.h"
#include "log.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLY_LINE_MAX 2048
#define REPLY_LINES_MAX 100
#define REPLY_TEXT_MAX 800	/* what goes into W records and bounces */

enum { EXT_STARTTLS = 1, EXT_PIPELINING = 2, EXT_SIZE = 4, EXT_8BITMIME = 8,
       EXT_SMTPUTF8 = 16, EXT_DSN = 32 };

struct peer {
	struct io io;
	int fd;
	const struct config *cfg;
	const struct target *t;
	struct remote_request *rq;
	char ip[INET6_ADDRSTRLEN];
	int code;		/* of the last reply; -1: none (timeout, EOF) */
	struct buf reply;	/* its text, lines joined by spaces */
	unsigned ext;
	unsigned long long size_max;
	struct buf tls;		/* what was negotiated, for the log */
	const char *stage;	/* "RCPT TO" etc., for diagnostics */
};

static int ms(const struct config *c, const char *key)
{
	long long s = config_num(c, key);
	return s <= 0 ? 1000 : s > 86400 ? 86400000 : (int)(s * 1000);
}

/* Non-blocking connect bounded by smtp_connect_timeout. */
static int dial(struct peer *p, struct buf *why)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	if (p->t->addr.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)p->t->port);
		memcpy(&s4->sin_addr, p->t->addr.a, 4);
		sl = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)p->t->port);
		memcpy(&s6->sin6_addr, p->t->addr.a, 16);
		sl = sizeof *s6;
	}
	inet_ntop(p->t->addr.family, p->t->addr.a, p->ip, sizeof p->ip);
	int fd = socket(p->t->addr.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		buf_printf(why, "socket: %s", strerror(errno));
		return -1;
	}
	int r = connect(fd, (struct sockaddr *)&ss, sl), err = r < 0 ? errno : 0;
	if (r < 0 && errno == EINPROGRESS) {
		struct pollfd pf = {fd, POLLOUT, 0};
		do
			r = poll(&pf, 1, ms(p->cfg, "smtp_connect_timeout"));
		while (r < 0 && errno == EINTR);
		socklen_t el = sizeof err;
		if (r == 0)
			err = ETIMEDOUT;
		else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
	}
	if (err) {
		buf_printf(why, "connect to %s[%s]:%d: %s", p->t->name, p->ip, p->t->port, strerror(err));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	p->fd = fd;
	io_init(&p->io, fd, fd, ms(p->cfg, "smtp_cmd_timeout"));
	return 0;
}

/* One whole (multi-line) reply; its code, or -1 on timeout, EOF or junk. */
static int read_reply(struct peer *p, const char *timeout_key)
{
	struct buf line = BUF_INIT;
	p->io.timeout_ms = ms(p->cfg, timeout_key);
	p->code = -1;
	buf_reset(&p->reply);
	for (int n = 0; n < REPLY_LINES_MAX; n++) {
		int k = io_getline(&p->io, &line, REPLY_LINE_MAX);
		if (k != LINE_OK && k != LINE_TOOLONG)
			break;
		while (line.len && (line.s[line.len - 1] == '\n' || line.s[line.len - 1] == '\r'))
			line.len--;
		unsigned long long code;
		if (k == LINE_TOOLONG || line.len < 3 || mem_to_u64(line.s, 3, &code) < 0 ||
		    code < 200 || code > 599 || (line.len > 3 && line.s[3] != ' ' && line.s[3] != '-'))
			break;
		if (p->reply.len < REPLY_TEXT_MAX) {
			if (p->reply.len)
				buf_putc(&p->reply, ' ');
			buf_append(&p->reply, line.s + (p->reply.len ? 4 : 0),
				   line.len - (p->reply.len && line.len >= 4 ? 4 : 0));
		}
		if (line.len == 3 || line.s[3] == ' ') {
			p->code = (int)code;
			break;
		}
	}
	if (p->reply.len > REPLY_TEXT_MAX)
		buf_truncate(&p->reply, REPLY_TEXT_MAX);
	/* only printable ASCII reaches W records, logs and bounces */
	for (size_t i = 0; i < p->reply.len; i++)
		if ((unsigned char)p->reply.s[i] < 0x20 || (unsigned char)p->reply.s[i] > 0x7e)
			p->reply.s[i] = '?';
	buf_free(&line);
	return p->code;
}

/* "5.1.1" at the start of the reply text (after the code)? */
static int has_enhanced(const struct buf *r)
{
	const char *s = r->s + 4;
	size_t n = r->len > 4 ? r->len - 4 : 0;
	return n >= 5 && (s[0] == '2' || s[0] == '4' || s[0] == '5') && s[1] == '.';
}

/* Status and W text of the last reply for one recipient. */
static void set_from_reply(struct peer *p, struct remote_rcpt *r)
{
	char cls = p->code >= 500 ? '5' : p->code >= 400 ? '4' : '2';
	/* RFC 3461 4.1: a next hop that offered DSN took the NOTIFY request
	 * over, so no "relayed" report of ours is due */
	r->dsn_passed = cls == '2' && (p->ext & EXT_DSN) != 0;
	if (p->code < 0) {
		rcpt_set(r, '4', "4.4.2 %s[%s] lost connection or timed out (%s)", p->t->name, p->ip,
			 p->stage);
		return;
	}
	struct buf enh = BUF_INIT;
	if (has_enhanced(&p->reply)) {
		const char *s = p->reply.s + 4;
		size_t n = 0;
		while (n < p->reply.len - 4 && s[n] != ' ')
			n++;
		buf_append(&enh, s, n);
	} else {
		buf_printf(&enh, "%c.0.0", cls);
	}
	rcpt_set(r, cls, "%s %s[%s] said: %.*s (in reply to %s)", buf_cstr(&enh), p->t->name,
		 p->ip, (int)p->reply.len, p->reply.s, p->stage);
	buf_free(&enh);
}

static void set_all_from_reply(struct peer *p)
{
	for (size_t i = 0; i < p->rq->nrcpts; i++)
		if (p->rq->rcpts[i].status != '5')
			set_from_reply(p, &p->rq->rcpts[i]);
}

static int command(struct peer *p, const char *stage, const char *timeout_key,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int command(struct peer *p, const char *stage, const char *timeout_key,
		   const char *fmt, ...)
{
	va_list ap;
	struct buf c = BUF_INIT;
	va_start(ap, fmt);
	buf_vprintf(&c, fmt, ap);
	va_end(ap);
	buf_puts(&c, "\r\n");
	p->stage = stage;
	io_write(&p->io, c.s, c.len);
	buf_free(&c);
	if (io_flush(&p->io) < 0)
		return p->code = -1;
	return read_reply(p, timeout_key);
}

/* EHLO keywords from the last reply (lines joined with spaces: each
 * keyword follows a space, the first line is the greeting name). */
static void parse_ehlo(struct peer *p)
{
	static const struct { const char *kw; unsigned bit; } kws[] = {
		{"STARTTLS", EXT_STARTTLS}, {"PIPELINING", EXT_PIPELINING}, {"SIZE", EXT_SIZE},
		{"8BITMIME", EXT_8BITMIME}, {"SMTPUTF8", EXT_SMTPUTF8}, {"DSN", EXT_DSN}, {NULL, 0}};
	p->ext = 0;
	p->size_max = 0;
	const char *s = p->reply.s;
	size_t n = p->reply.len;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && s[j] != ' ')
			j++;
		for (int k = 0; kws[k].kw; k++)
			if (i && mem_caseeq(s + i, j - i, kws[k].kw, strlen(kws[k].kw)))
				p->ext |= kws[k].bit;
		if (i && mem_caseeq(s + i, j - i, "SIZE", 4)) {
			size_t e = j + 1;
			while (e < n && s[e] >= '0' && s[e] <= '9')
				e++;
			if (e > j + 1 && mem_to_u64(s + j + 1, e - j - 1, &p->size_max) < 0)
				p->size_max = 0;
		}
		i = j + 1;
	}
}

static const char *helo_name(const struct config *c)
{
	static char host[256];
	const char *h = config_str(c, "hostname");
	if (h && *h)
		return h;
	if (gethostname(host, sizeof host - 1) < 0)
		return "localhost";
	return host;
}

/* EHLO, or HELO after a 5xx; 0 ok, -1 failed (reason set). */
static int hello(struct peer *p)
{
	const char *me = helo_name(p->cfg);
	int c = command(p, "EHLO", "smtp_helo_timeout", "EHLO %s", me);
	if (c >= 500 && c < 600) {
		c = command(p, "HELO", "smtp_helo_timeout", "HELO %s", me);
		p->ext = 0;
	} else if (c >= 200 && c < 300) {
		parse_ehlo(p);
	}
	if (c >= 200 && c < 300)
		return 0;
	set_all_from_reply(p);
	return -1;
}

enum { TRY_DONE = 0, TRY_NEXT = 1, TRY_CLEAR = 2 };

static int start_tls(struct peer *p, enum tls_policy pol)
{
	int c = command(p, "STARTTLS", "smtp_cmd_timeout", "STARTTLS");
	struct buf err = BUF_INIT;
	struct tls_client *tc = NULL;
	const char *ca = config_str(p->cfg, "smtp_tls_ca");
	int ok = c == 220 && tls_client_new(&tc, ca && *ca ? ca : NULL, &err) == 0 &&
		 tls_client_start(&p->io, tc, p->t->name, pol == TLSP_VERIFY,
				  ms(p->cfg, "smtp_helo_timeout"), &err) == 0;
	tls_client_free(tc);
	if (ok) {
		tls_describe(&p->io, &p->tls);
		buf_free(&err);
		return hello(p) < 0 ? TRY_NEXT : TRY_DONE;
	}
	if (!err.len)
		buf_printf(&err, "STARTTLS refused: %.*s", (int)p->reply.len, p->reply.s);
	log_warn("%s: TLS with %s[%s] failed: %s", p->rq->qid.s, p->t->name, p->ip, buf_cstr(&err));
	rcpt_set_all(p->rq, '4', "4.7.5 TLS with %s[%s] failed: %.200s", p->t->name, p->ip, err.s);
	buf_free(&err);
	return pol == TLSP_MAY ? TRY_CLEAR : TRY_NEXT;
}

static int needs_utf8(const struct remote_request *rq)
{
	if (rq->smtputf8)
		return 1;
	for (size_t i = 0; i <= rq->nrcpts; i++) {
		const struct buf *a = i < rq->nrcpts ? &rq->rcpts[i].addr : &rq->sender;
		for (size_t k = 0; k < a->len; k++)
			if ((unsigned char)a->s[k] >= 0x80)
				return 1;
	}
	return 0;
}

/* RFC 3461 xtext */
static void xtext(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == '+' || c == '=')
			buf_printf(out, "+%02X", c);
		else
			buf_putc(out, (char)c);
	}
}

static void mail_cmd(struct peer *p, int body8, struct buf *c)
{
	struct remote_request *rq = p->rq;
	buf_printf(c, "MAIL FROM:<%.*s>", (int)rq->sender.len, rq->sender.s ? rq->sender.s : "");
	if (p->ext & EXT_SIZE)
		buf_printf(c, " SIZE=%llu", rq->len);
	if (body8 && (p->ext & EXT_8BITMIME))
		buf_puts(c, " BODY=8BITMIME");
	if (needs_utf8(rq) && (p->ext & EXT_SMTPUTF8))
		buf_puts(c, " SMTPUTF8");
	if ((p->ext & EXT_DSN) && rq->ret.len)
		buf_printf(c, " RET=%s", rq->ret.s);
	if ((p->ext & EXT_DSN) && rq->envid.len) {
		buf_puts(c, " ENVID=");
		xtext(c, rq->envid.s, rq->envid.len);
	}
	buf_puts(c, "\r\n");
}

static void rcpt_cmd(struct peer *p, const struct remote_rcpt *r, struct buf *c)
{
	buf_printf(c, "RCPT TO:<%s>", r->addr.s);
	if ((p->ext & EXT_DSN) && r->notify.len)
		buf_printf(c, " NOTIFY=%s", r->notify.s);
	if ((p->ext & EXT_DSN) && r->orcpt.len) {
		const char *semi = memchr(r->orcpt.s, ';', r->orcpt.len);
		buf_puts(c, " ORCPT=");
		if (semi) {
			buf_append(c, r->orcpt.s, (size_t)(semi - r->orcpt.s) + 1);
			xtext(c, semi + 1, r->orcpt.len - (size_t)(semi + 1 - r->orcpt.s));
		} else {
			buf_puts(c, "rfc822;");
			xtext(c, r->orcpt.s, r->orcpt.len);
		}
	}
	buf_puts(c, "\r\n");
}

/* Sends a command without waiting (pipelining) or with (not). */
static int send_cmd(struct peer *p, const struct buf *c, int wait, const char *stage)
{
	p->stage = stage;
	io_write(&p->io, c->s, c->len);
	if (!wait)
		return 0;
	if (io_flush(&p->io) < 0)
		return p->code = -1;
	return read_reply(p, "smtp_cmd_timeout");
}

/* MAIL and RCPTs (and DATA when pipelining); returns how many
 * recipients were accepted, -1 when MAIL failed (all decided). */
static int envelope(struct peer *p, int body8, int *data_code)
{
	struct remote_request *rq = p->rq;
	int pipe = (p->ext & EXT_PIPELINING) != 0, ok = 0;
	struct buf c = BUF_INIT;
	mail_cmd(p, body8, &c);
	send_cmd(p, &c, !pipe, "MAIL FROM");
	for (size_t i = 0; i < rq->nrcpts && pipe; i++) {
		buf_reset(&c);
		rcpt_cmd(p, &rq->rcpts[i], &c);
		send_cmd(p, &c, 0, "RCPT TO");
	}
	if (pipe) {
		buf_set(&c, "DATA\r\n", 6);
		send_cmd(p, &c, 0, "DATA");
		if (io_flush(&p->io) < 0)
			p->code = -1;
		else
			read_reply(p, "smtp_cmd_timeout");
	}
	p->stage = "MAIL FROM";
	int mail = p->code;
	if (mail < 200 || mail > 299) {
		set_all_from_reply(p);
		buf_free(&c);
		return -1;
	}
	for (size_t i = 0; i < rq->nrcpts; i++) {
		struct remote_rcpt *r = &rq->rcpts[i];
		if (pipe) {
			read_reply(p, "smtp_cmd_timeout");
		} else {
			buf_reset(&c);
			rcpt_cmd(p, r, &c);
			send_cmd(p, &c, 1, "RCPT TO");
		}
		p->stage = "RCPT TO";
		if (p->code >= 200 && p->code < 300) {
			r->status = 'a';	/* accepted: decided by DATA */
			ok++;
		} else {
			set_from_reply(p, r);
		}
	}
	if (pipe)
		read_reply(p, "smtp_cmd_timeout");
	else if (ok)
		command(p, "DATA", "smtp_cmd_timeout", "DATA");
	p->stage = "DATA";
	*data_code = ok || pipe ? p->code : 0;
	buf_free(&c);
	return ok;
}

static void set_accepted(struct peer *p)
{
	for (size_t i = 0; i < p->rq->nrcpts; i++)
		if (p->rq->rcpts[i].status == 'a')
			set_from_reply(p, &p->rq->rcpts[i]);
}

/* After a 354: the message, the dot, the final reply. */
static void data(struct peer *p, int qp)
{
	struct buf err = BUF_INIT;
	p->io.timeout_ms = ms(p->cfg, "smtp_cmd_timeout");
	int r = body_send(&p->io, p->rq->fd, p->rq->off, p->rq->len, qp, &err);
	p->stage = "end of DATA";
	if (r == -1) {	/* our side: the queue file */
		for (size_t i = 0; i < p->rq->nrcpts; i++)
			if (p->rq->rcpts[i].status == 'a')
				rcpt_set(&p->rq->rcpts[i], '4', "4.3.0 %s", buf_cstr(&err));
		p->code = -1;
		buf_free(&err);
		return;
	}
	io_puts(&p->io, ".\r\n");
	if (r < 0 || io_flush(&p->io) < 0)
		p->code = -1;
	else
		read_reply(p, "smtp_data_done_timeout");
	set_accepted(p);
	buf_free(&err);
}

/* Checks before MAIL that make sending pointless: 0 go on, -1 decided. */
static int precheck(struct peer *p, int body8)
{
	struct remote_request *rq = p->rq;
	if ((p->ext & EXT_SIZE) && p->size_max && rq->len > p->size_max) {
		rcpt_set_all(rq, '5', "5.3.4 message of %llu bytes is bigger than %s[%s] accepts (%llu)",
			     rq->len, p->t->name, p->ip, p->size_max);
		return -1;
	}
	if (needs_utf8(rq) && !(p->ext & EXT_SMTPUTF8)) {
		rcpt_set_all(rq, '5', "5.6.7 %s[%s] does not support SMTPUTF8", p->t->name, p->ip);
		return -1;
	}
	(void)body8;
	return 0;
}

static void quit(struct peer *p)
{
	if (p->code < 0)
		return;	/* the connection is gone or out of step */
	p->io.timeout_ms = 5000;
	io_puts(&p->io, "QUIT\r\n");
	if (io_flush(&p->io) == 0)
		read_reply(p, "smtp_cmd_timeout");
}

static void transaction(struct peer *p)
{
	struct remote_request *rq = p->rq;
	int body8 = rq->body8 || body_is_8bit(rq->fd, rq->off, rq->len) == 1;
	int qp = body8 && !(p->ext & EXT_8BITMIME) && config_bool(p->cfg, "smtp_8bitmime_convert");
	if (precheck(p, body8) < 0) {
		quit(p);
		return;
	}
	int dcode = 0;
	int ok = envelope(p, body8, &dcode);
	if (ok > 0 && dcode == 354) {
		data(p, qp);
	} else if (ok > 0) {
		set_accepted(p);
	} else if (ok == 0 && dcode == 354) {	/* pipelined DATA with no recipient */
		io_puts(&p->io, ".\r\n");
		if (io_flush(&p->io) == 0)
			read_reply(p, "smtp_data_done_timeout");
	}
	quit(p);
}

static void log_results(struct peer *p)
{
	struct buf safe = BUF_INIT;
	for (size_t i = 0; i < p->rq->nrcpts; i++) {
		struct remote_rcpt *r = &p->rq->rcpts[i];
		const char *st = r->status == '2' ? "sent" : r->status == '5' ? "bounced" : "deferred";
		log_info("%s: to=<%s> relay=%s[%s]:%d status=%s (%s) tls=%s", p->rq->qid.s,
			 log_safe(&safe, r->addr.s, r->addr.len, 300), p->t->name, p->ip, p->t->port,
			 st, buf_cstr(&r->text), p->tls.len ? buf_cstr(&p->tls) : "none");
	}
	buf_free(&safe);
}

/* A host that fails before MAIL (greeting, EHLO) leaves the next MX to
 * try: nothing about the recipients is final yet, even after a 5xx. */
static void all_temporary(struct remote_request *rq)
{
	for (size_t i = 0; i < rq->nrcpts; i++) {
		struct remote_rcpt *r = &rq->rcpts[i];
		r->status = '4';
		if (r->text.len && r->text.s[0] == '5')
			r->text.s[0] = '4';
	}
}

static int session(struct peer *p, enum tls_policy pol, int tls_allowed)
{
	if (read_reply(p, "smtp_helo_timeout") < 200 || p->code > 299) {
		p->stage = "initial greeting";
		set_all_from_reply(p);
		all_temporary(p->rq);
		return TRY_NEXT;
	}
	if (hello(p) < 0) {
		all_temporary(p->rq);
		return TRY_NEXT;
	}
	if ((p->ext & EXT_STARTTLS) && pol != TLSP_NONE && tls_allowed) {
		int r = start_tls(p, pol);
		if (r != TRY_DONE)
			return r;
	} else if (pol >= TLSP_ENCRYPT) {
		rcpt_set_all(p->rq, '4', "4.7.5 %s[%s] offers no STARTTLS, TLS policy requires it",
			     p->t->name, p->ip);
		log_warn("%s: %s[%s] offers no STARTTLS, TLS policy requires it", p->rq->qid.s,
			 p->t->name, p->ip);
		quit(p);	/* a clean end, not a dropped connection */
		return TRY_NEXT;
	}
	transaction(p);
	log_results(p);
	return TRY_DONE;
}

int smtp_deliver(const struct config *cfg, struct remote_request *rq, const struct target *t,
		 enum tls_policy pol, int tls_allowed)
{
	struct peer p;
	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	p.t = t;
	p.rq = rq;
	p.fd = -1;
	p.stage = "connect";
	struct buf why = BUF_INIT;
	if (dial(&p, &why) < 0) {
		rcpt_set_all(rq, '4', "4.4.1 %s", buf_cstr(&why));
		log_info("%s: %s", rq->qid.s, why.s);
		buf_free(&why);
		return TRY_NEXT;
	}
	buf_reset(&rq->relay);
	buf_printf(&rq->relay, "%s[%s]", t->name, p.ip);
	int r = session(&p, pol, tls_allowed);
	if (tls_active(&p.io))
		tls_end(&p.io);
	io_free(&p.io);
	close(p.fd);
	buf_free(&p.reply);
	buf_free(&p.tls);
	buf_free(&why);
	return r;
}
