/* headers: the header fields smtpd adds to a message: the Received: trace
 * field (RFC 5321 4.4) on every message, and Date: / Message-ID: for a
 * submission that lacks them (RFC 6409 8.2, 8.3).  Used by data_cmd.c. */
#include "smtpd.h"
#include "tls.h"

#include <string.h>
#include <time.h>

/* RFC 5322 3.3 date-time, e.g. "Fri, 27 Nov 2026 12:01:47 +0000".  smtpd
 * never calls setlocale, so day and month names are the C locale's. */
static void rfc5322_date(struct buf *out, time_t t)
{
	struct tm tm;
	char s[64];
	localtime_r(&t, &tm);
	size_t n = strftime(s, sizeof s, "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_append(out, s, n);
}

static const char *protocol(const struct session *s)
{
	/* RFC 3848: S for TLS, A for AUTH; RFC 6531 3.7.3: UTF8SMTP... */
	static const char *const names[2][4] = {
		{"ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA"},
		{"UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA"},
	};
	int i = (tls_active(&s->io) ? 2 : 0) + (s->auth_user.len ? 1 : 0);
	if (!s->esmtp)
		return "SMTP";
	return names[s->smtputf8 ? 1 : 0][i];
}

/* Like other MTAs: who submitted it, when received_auth = yes. */
static void received_auth(struct session *s, struct buf *out)
{
	if (!s->auth_user.len || !config_bool(s->cfg, "received_auth"))
		return;
	buf_puts(out, "\t(Authenticated sender: ");
	buf_append(out, s->auth_user.s, s->auth_user.len);
	buf_puts(out, ")\n");
}

/* from HELO (rDNS [IP]): the TCP-info of RFC 5321 4.4, IPv6 as a literal */
static void received_from(struct session *s, struct buf *out)
{
	buf_puts(out, "Received: from ");
	buf_append(out, s->helo.s, s->helo.len);
	buf_puts(out, " (");
	buf_append(out, s->rdns.s, s->rdns.len);
	if (!buf_eq(&s->ip, "unknown")) {
		buf_puts(out, memchr(s->ip.s, ':', s->ip.len) ? " [IPv6:" : " [");
		buf_append(out, s->ip.s, s->ip.len);
		buf_putc(out, ']');
	}
	buf_puts(out, ")\n");
	starttls_received(s, out);
	received_auth(s, out);
}

void hdr_received(struct session *s, const char *qid, struct buf *out)
{
	received_from(s, out);
	buf_printf(out, "\tby %s (posthorn) with %s id %s", s->hostname, protocol(s), qid);
	if (s->nrcpt == 1) {
		buf_puts(out, "\n\tfor <");
		buf_append(out, s->rcpts[0].s, s->rcpts[0].len);
		buf_putc(out, '>');
	}
	buf_puts(out, ";\n\t");
	rfc5322_date(out, time(NULL));
	buf_putc(out, '\n');
}

void hdr_date(struct buf *out)
{
	buf_puts(out, "Date: ");
	rfc5322_date(out, time(NULL));
	buf_putc(out, '\n');
}

void hdr_message_id(struct session *s, const char *qid, struct buf *out)
{
	buf_printf(out, "Message-ID: <%lld.%s@%s>\n", (long long)time(NULL), qid, s->hostname);
}
