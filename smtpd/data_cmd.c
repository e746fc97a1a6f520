/* data_cmd: the DATA command.  Starts enqueue, sends it the envelope, then
 * streams the message through the decoder and header scanner (data.c) to
 * it in M records of at most 64 KiB: a message is never held in memory
 * whole.  A message that breaks a rule (bare CR/LF, size, header size,
 * hop count) is read to its end and refused; enqueue then gets EOF
 * without E0: and queues nothing.  Used by session.c. */
#include "smtpd.h"
#include "data.h"
#include "log.h"
#include "record.h"

#include <string.h>

#define M_RECORD_MAX 65536

struct msg {
	struct enq enq;
	struct buf qid;
	struct data_dec dec;
	struct hdr_scan hs;
	struct buf decoded;	/* one chunk, decoded */
	struct buf out;		/* message bytes not yet sent */
	unsigned long long size;
	unsigned long long added;	/* bytes smtpd itself put in (Received:) */
	int too_big;
};

static void msg_free(struct msg *m)
{
	hdr_scan_free(&m->hs);
	buf_free(&m->qid);
	buf_free(&m->decoded);
	buf_free(&m->out);
}

static int rejecting(const struct msg *m)
{
	return data_dec_bad(&m->dec) || m->too_big || m->hs.too_big;
}

static void attr(struct enq *e, const char *name, const char *v, size_t n)
{
	struct buf a = BUF_INIT;
	buf_printf(&a, "%s=", name);
	buf_append(&a, v, n);
	enq_record(e, REC_ATTR, a.s, a.len);
	buf_free(&a);
}

/* Passes on records made at MAIL/RCPT time (they were checked there). */
static void send_dsn(struct enq *e, const struct buf *recs)
{
	size_t off = 0, len;
	char type;
	const char *d;
	while (rec_parse(recs->s, recs->len, &off, &type, &d, &len) == 1)
		enq_record(e, type, d, len);
}

static void send_envelope(struct session *s, struct msg *m)
{
	const char *proto = s->esmtp ? "ESMTP" : "SMTP";
	enq_record(&m->enq, REC_SENDER, s->from.s, s->from.len);
	attr(&m->enq, "client", s->ip.s, s->ip.len);
	attr(&m->enq, "helo", s->helo.s, s->helo.len);
	attr(&m->enq, "proto", proto, strlen(proto));
	if (s->body_8bit)
		attr(&m->enq, "body", "8BITMIME", 8);
	if (s->smtputf8)
		attr(&m->enq, "smtputf8", "1", 1);
	if (s->auth_user.len)
		attr(&m->enq, "auth", s->auth_user.s, s->auth_user.len);
	send_dsn(&m->enq, &s->dsn_mail);	/* A ret=, A envid= */
	for (size_t i = 0; i < s->nrcpt; i++) {
		send_dsn(&m->enq, &s->rcpt_dsn[i]);	/* O, F */
		enq_record(&m->enq, REC_RCPT, s->rcpts[i].s, s->rcpts[i].len);
	}
}

/* Counts what is waiting in out, and sends it on in M records (all of it
 * when final, else only once a full record is there). */
static void drain(struct session *s, struct msg *m, int final)
{
	m->size += m->out.len;
	if (m->size - m->added > s->lim.max_size)
		m->too_big = 1;
	if (rejecting(m)) {
		buf_reset(&m->out);
		return;
	}
	size_t off = 0;
	while (m->out.len - off >= M_RECORD_MAX || (final && off < m->out.len)) {
		size_t n = m->out.len - off < M_RECORD_MAX ? m->out.len - off : M_RECORD_MAX;
		enq_record(&m->enq, REC_MESSAGE, m->out.s + off, n);
		off += n;
	}
	/* what stays is counted already: keep it out of the next count */
	m->size -= m->out.len - off;
	buf_consume(&m->out, off);
}

/* Submission (RFC 6409 8): Date: and Message-ID: where missing. */
static void add_fields(struct session *s, struct msg *m)
{
	if (!s->submission || !config_bool(s->cfg, "submission_add_headers"))
		return;
	if (!m->hs.has_date)
		hdr_date(&m->out);
	if (!m->hs.has_msgid)
		hdr_message_id(s, m->qid.s, &m->out);
}

static void message_bytes(struct session *s, struct msg *m, const char *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		off += hdr_scan_feed(&m->hs, p + off, n - off, &m->out);
		if (m->hs.state == HS_END) {
			add_fields(s, m);
			hdr_scan_body(&m->hs, &m->out);
		}
		drain(s, m, 0);
	}
}

/* Reads the data stream up to CRLF.CRLF: 0, or -1 timeout, -2 EOF/error. */
static int receive(struct session *s, struct msg *m)
{
	while (!m->dec.done) {
		if (s->io.in.len == 0) {
			ssize_t r = io_fill(&s->io);
			if (r <= 0)
				return r < 0 && s->io.err == IO_ERR_TIMEOUT ? -1 : -2;
		}
		buf_reset(&m->decoded);
		size_t used = data_dec_feed(&m->dec, s->io.in.s, s->io.in.len, &m->decoded);
		buf_consume(&s->io.in, used);
		message_bytes(s, m, m->decoded.s, m->decoded.len);
	}
	hdr_scan_eof(&m->hs, &m->out);
	if (m->hs.state == HS_END) {
		add_fields(s, m);
		hdr_scan_body(&m->hs, &m->out);
	}
	drain(s, m, 1);
	return 0;
}

/* The reason to refuse a complete message, or NULL. */
static const char *refusal(struct session *s, struct msg *m, int *code, const char **enh)
{
	*code = 554;
	*enh = "5.6.0";
	if (m->dec.bare_lf || m->dec.bare_cr)
		return "Error: bare CR or LF in message: lines must end in CRLF";
	if (m->dec.nul)
		return "Error: NUL byte in message";
	if (m->dec.long_line)
		return "Error: message line too long";
	*code = 552;
	*enh = "5.3.4";
	if (m->too_big)
		return "Error: message size exceeds fixed limit";
	if (m->hs.too_big)
		return "Error: message header size exceeds limit";
	*code = 554;
	*enh = "5.4.6";
	if (m->hs.received > (unsigned long)s->lim.max_hops)
		return "Error: too many hops: mail loop";
	return NULL;
}

static void log_accept(struct session *s, struct msg *m)
{
	log_info("%s: from=<%s> nrcpt=%zu size=%llu client=%s", m->qid.s,
		 safe(s, s->from.s, s->from.len), s->nrcpt, m->size, buf_cstr(&s->ip));
}

/* The message is complete: refuse it, or commit it through enqueue. */
static void finish(struct session *s, struct msg *m)
{
	int code;
	const char *enh;
	const char *why = refusal(s, m, &code, &enh);
	if (why) {
		enq_abort(&m->enq);
		log_info("%s: reject: DATA from %s: %d %s %s; from=<%s>", m->qid.s,
			 buf_cstr(&s->ip), code, enh, why, safe(s, s->from.s, s->from.len));
		reply(s, code, enh, "%s", why);
		return;
	}
	struct buf e = BUF_INIT, t = BUF_INIT;
	if (enq_finish(&m->enq, &code, &e, &t) == 0) {
		log_accept(s, m);
		s->messages++;
		reply(s, 250, "2.0.0", "Ok: queued as %s", m->qid.s);
	} else {
		reply(s, code, buf_cstr(&e), "%s", buf_cstr(&t));
	}
	buf_free(&e);
	buf_free(&t);
}

static int data_allowed(struct session *s)
{
	if (!s->in_mail) {
		reply_error(s, 503, "5.5.1", "Error: need MAIL command");
		return 0;
	}
	if (s->nrcpt == 0) {
		/* RFC 5321 3.3: 554 when every RCPT was refused */
		if (s->rcpt_tried)
			reply_error(s, 554, "5.5.1", "Error: no valid recipients");
		else
			reply_error(s, 503, "5.5.1", "Error: need RCPT command");
		return 0;
	}
	return 1;
}

/* After the 354: the data, then the verdict. */
static void transfer(struct session *s, struct msg *m)
{
	s->io.timeout_ms = s->lim.data_timeout_ms;
	io_set_deadline(&s->io, s->lim.data_deadline_ms);
	int r = receive(s, m);
	io_set_deadline(&s->io, 0);
	s->io.timeout_ms = s->lim.timeout_ms;
	if (r < 0) {
		enq_abort(&m->enq);
		if (r == -1)
			reply(s, 421, "4.4.2", "%s Error: timeout exceeded", s->hostname);
		log_info("%s: %s during DATA from %s", m->qid.s,
			 r == -1 ? "timeout" : "lost connection", buf_cstr(&s->ip));
		s->quit = 1;
		return;
	}
	finish(s, m);
}

void cmd_data(struct session *s, size_t arglen)
{
	(void)arglen;	/* session.c refuses DATA with an argument */
	if (!data_allowed(s))
		return;
	struct msg m;
	memset(&m, 0, sizeof m);
	if (enq_start(&m.enq, s->cfg, s->lim.data_timeout_ms) < 0) {
		reply(s, 451, "4.3.0", "Error: queue file write error");
		session_reset(s);
		return;
	}
	buf_copy(&m.qid, &m.enq.qid);
	buf_cstr(&m.qid);
	data_dec_init(&m.dec, s->lim.data_line_max);
	hdr_scan_init(&m.hs, s->lim.max_header);
	send_envelope(s, &m);
	hdr_received(s, m.qid.s, &m.out);
	m.added = m.out.len;
	io_puts(&s->io, "354 End data with <CR><LF>.<CR><LF>\r\n");
	if (io_flush(&s->io) < 0) {
		enq_abort(&m.enq);
		s->quit = 1;
	} else {
		transfer(s, &m);
	}
	msg_free(&m);
	session_reset(s);
}
