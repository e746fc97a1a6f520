/* parse: SMTP command lines and MAIL/RCPT arguments (see parse.h).
 * Used by smtpd's session, the unit tests and the fuzz target. */
#include "parse.h"
#include "addr.h"
#include "dsn.h"

#include <string.h>

#define E(c, e, t) ((struct smtp_err){(c), (e), (t)})
#define OK E(0, "", "")
#define PARAM_MAX 32	/* parameters per command: more is abuse */

static const struct { const char *name; enum smtp_verb verb; } verbs[] = {
	{"HELO", V_HELO}, {"EHLO", V_EHLO}, {"MAIL", V_MAIL}, {"RCPT", V_RCPT},
	{"DATA", V_DATA}, {"RSET", V_RSET}, {"NOOP", V_NOOP}, {"QUIT", V_QUIT},
	{"VRFY", V_VRFY}, {"EXPN", V_EXPN}, {"HELP", V_HELP},
	{"STARTTLS", V_STARTTLS}, {"AUTH", V_AUTH},
	/* known to exist, not offered here */
	{"BDAT", V_NOTIMPL},
	{"ETRN", V_NOTIMPL}, {"TURN", V_NOTIMPL}, {"ATRN", V_NOTIMPL},
	{NULL, V_UNKNOWN},
};

int smtp_parse_command(const char *line, size_t len, struct smtp_cmd *cmd)
{
	cmd->verb = V_UNKNOWN;
	cmd->arg = line + len;
	cmd->arglen = 0;
	if (memchr(line, 0, len) || memchr(line, '\r', len))
		return -1;
	const char *sp = memchr(line, ' ', len);
	size_t vlen = sp ? (size_t)(sp - line) : len;
	for (int i = 0; verbs[i].name; i++)
		if (mem_caseeq(line, vlen, verbs[i].name, strlen(verbs[i].name)))
			cmd->verb = verbs[i].verb;
	if (!sp)
		return 0;
	cmd->arg = sp + 1;
	cmd->arglen = len - vlen - 1;
	while (cmd->arglen && (cmd->arg[cmd->arglen - 1] == ' ' ||
			       cmd->arg[cmd->arglen - 1] == '\t'))
		cmd->arglen--;
	return 0;
}

/* Length of the UTF-8 sequence at s, or 0 if it is malformed. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0) lo = 0xa0;
		if (c == 0xed) hi = 0x9f;	/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0) lo = 0x90;
		if (c == 0xf4) hi = 0x8f;
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

int utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_seq(u + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

int smtp_helo_valid(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
			return 0;
	return 1;
}

/* Skips "FROM:" / "TO:" and the spaces after it (liberal: RFC 5321 has
 * none, some clients send one).  Returns the offset of the path or -1. */
static long skip_keyword(const char *arg, size_t len, const char *kw)
{
	size_t k = strlen(kw);
	if (len < k || !mem_caseprefix(arg, len, kw))
		return -1;
	while (k < len && arg[k] == ' ')
		k++;
	return (long)k;
}

struct param {
	const char *key, *val;
	size_t klen, vlen;	/* val NULL: no '=' */
};

static int is_keychar(unsigned char c, int first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (!first && c == '-');
}

/* esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 4.1.2) */
static int parse_param(const char *s, size_t len, struct param *p)
{
	size_t i = 0;
	while (i < len && is_keychar((unsigned char)s[i], i == 0))
		i++;
	if (i == 0)
		return -1;
	p->key = s;
	p->klen = i;
	p->val = NULL;
	p->vlen = 0;
	if (i == len)
		return 0;
	if (s[i] != '=' || i + 1 == len)
		return -1;
	for (size_t j = i + 1; j < len; j++) {
		unsigned char c = (unsigned char)s[j];
		if (c < 33 || c > 126 || c == '=')
			return -1;
	}
	p->val = s + i + 1;
	p->vlen = len - i - 1;
	return 0;
}

/* Splits the text after the path into parameters. */
static int split_params(const char *s, size_t len, struct param *v, size_t *n)
{
	size_t i = 0;
	*n = 0;
	if (len && s[0] != ' ')
		return -1;
	while (i < len) {
		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			break;
		const char *end = memchr(s + i, ' ', len - i);
		size_t tlen = end ? (size_t)(end - s) - i : len - i;
		if (*n == PARAM_MAX || parse_param(s + i, tlen, &v[*n]) < 0)
			return -1;
		(*n)++;
		i += tlen;
	}
	return 0;
}

static int key_is(const struct param *p, const char *name)
{
	return mem_caseeq(p->key, p->klen, name, strlen(name));
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int xtext_decode(const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			int h = i + 2 < len ? hexval(s[i + 1]) : -1, l = h >= 0 ? hexval(s[i + 2]) : -1;
			if (l < 0)
				return -1;
			c = (unsigned char)(h * 16 + l);
			i += 2;
			if (c < 0x20 || c > 0x7e)
				return -1;
		} else if (c < 33 || c > 126 || c == '=') {
			return -1;
		}
		buf_putc(out, (char)c);
	}
	return 0;
}

#define ENVID_MAX 100	/* RFC 3461 4.4 */
#define ORCPT_MAX 500	/* RFC 3461 4.2: the parameter is at most 500 characters */

/* RET=FULL|HDRS and ENVID=xtext (RFC 3461 4.3, 4.4). */
static struct smtp_err dsn_mail_param(const struct param *p, struct mail_req *m, unsigned *seen)
{
	if (key_is(p, "RET")) {
		if ((*seen & 16) || !p->val ||
		    !(mem_caseeq(p->val, p->vlen, "FULL", 4) || mem_caseeq(p->val, p->vlen, "HDRS", 4)))
			return E(501, "5.5.4", "Error: bad RET parameter");
		*seen |= 16;
		buf_puts(&m->ret, (p->val[0] == 'F' || p->val[0] == 'f') ? "FULL" : "HDRS");
		return OK;
	}
	if ((*seen & 32) || !p->val || p->vlen > ENVID_MAX ||
	    xtext_decode(p->val, p->vlen, &m->envid) < 0 || m->envid.len == 0)
		return E(501, "5.5.4", "Error: bad ENVID parameter");
	*seen |= 32;
	return OK;
}

static struct smtp_err mail_param(const struct param *p, const struct parse_opts *o,
				  struct mail_req *m, unsigned *seen)
{
	if (key_is(p, "RET") || key_is(p, "ENVID"))
		return dsn_mail_param(p, m, seen);
	if (key_is(p, "SIZE")) {
		unsigned long long v;
		if ((*seen & 1) || !p->val || p->vlen > 20 || mem_to_u64(p->val, p->vlen, &v) < 0)
			return E(501, "5.5.4", "Error: bad SIZE parameter");
		*seen |= 1;
		m->size = v;
		if (v > o->max_size)
			return E(552, "5.3.4", "Error: message size exceeds fixed limit");
		return OK;
	}
	if (key_is(p, "BODY")) {
		if ((*seen & 2) || !p->val)
			return E(501, "5.5.4", "Error: bad BODY parameter");
		*seen |= 2;
		if (mem_caseeq(p->val, p->vlen, "8BITMIME", 8))
			m->body_8bit = 1;
		else if (!mem_caseeq(p->val, p->vlen, "7BIT", 4))
			return E(504, "5.5.4", "Error: unsupported BODY value");
		return OK;
	}
	if (key_is(p, "SMTPUTF8") && o->smtputf8_offered) {
		if ((*seen & 4) || p->val)
			return E(501, "5.5.4", "Error: bad SMTPUTF8 parameter");
		*seen |= 4;
		m->smtputf8 = 1;
		return OK;
	}
	if (key_is(p, "AUTH")) {
		/* RFC 4954 5: accepted (harmless even where AUTH is not
		 * offered), never trusted: the session's own authentication
		 * is what is recorded */
		if ((*seen & 8) || !p->val || p->vlen > 500)
			return E(501, "5.5.4", "Error: bad AUTH parameter");
		*seen |= 8;
		return OK;
	}
	return E(555, "5.5.4", "Error: unsupported parameter");
}

static struct smtp_err addr_error(int r, int sender)
{
	if (r == ADDR_UTF8)
		return E(553, "5.6.7", "Error: UTF-8 address needs SMTPUTF8");
	if (r == ADDR_TOOLONG)
		return sender ? E(501, "5.1.7", "Error: sender address too long")
			      : E(501, "5.1.3", "Error: recipient address too long");
	return sender ? E(501, "5.1.7", "Error: bad sender address syntax")
		      : E(501, "5.1.3", "Error: bad recipient address syntax");
}

/* Parses the path at arg[off]; the address may hold UTF-8 here, whether
 * that is allowed is decided once the parameters are known. */
static struct smtp_err parse_path(const char *arg, size_t len, size_t off, int sender,
				  struct buf *addr, size_t *end)
{
	size_t used;
	int r = addr_parse_path(arg + off, len - off, sender, 1, addr, &used);
	if (r != ADDR_OK)
		return addr_error(r, sender);
	if (!utf8_valid(addr->s, addr->len))
		return addr_error(ADDR_SYNTAX, sender);
	*end = off + used;
	return OK;
}

struct smtp_err smtp_parse_mail(const char *arg, size_t len,
				const struct parse_opts *o, struct mail_req *out)
{
	buf_reset(&out->addr);
	buf_reset(&out->ret);
	buf_reset(&out->envid);
	out->size = 0;
	out->body_8bit = out->smtputf8 = 0;
	long k = skip_keyword(arg, len, "FROM:");
	if (k < 0 || (size_t)k >= len || arg[k] != '<')
		return E(501, "5.5.4", "Syntax: MAIL FROM:<address>");
	size_t end;
	struct smtp_err e = parse_path(arg, len, (size_t)k, 1, &out->addr, &end);
	if (e.code)
		return e;
	struct param p[PARAM_MAX];
	size_t n;
	if (split_params(arg + end, len - end, p, &n) < 0)
		return E(501, "5.5.4", "Error: bad parameter syntax");
	if (n && !o->esmtp)
		return E(555, "5.5.4", "Error: parameters need EHLO");
	unsigned seen = 0;
	for (size_t i = 0; i < n; i++) {
		e = mail_param(&p[i], o, out, &seen);
		if (e.code)
			return e;
	}
	if (!out->smtputf8 && addr_has_8bit(out->addr.s, out->addr.len))
		return addr_error(ADDR_UTF8, 1);
	return OK;
}

/* NOTIFY=NEVER|SUCCESS,FAILURE,DELAY (RFC 3461 4.1), kept in upper case. */
static struct smtp_err rcpt_notify(const struct param *p, struct rcpt_req *r)
{
	if (r->notify.len || !p->val || p->vlen > 30)
		return E(501, "5.5.4", "Error: bad NOTIFY parameter");
	for (size_t i = 0; i < p->vlen; i++) {
		char c = p->val[i];
		buf_putc(&r->notify, c >= 'a' && c <= 'z' ? (char)(c - 32) : c);
	}
	if (!dsn_notify_valid(r->notify.s, r->notify.len))
		return E(501, "5.5.4", "Error: bad NOTIFY parameter");
	return OK;
}

/* ORCPT=addr-type;xtext (RFC 3461 4.2), kept as "type;decoded". */
static struct smtp_err rcpt_orcpt(const struct param *p, struct rcpt_req *r)
{
	const char *semi = p->val ? memchr(p->val, ';', p->vlen) : NULL;
	struct buf dec = BUF_INIT;
	int ok = !r->orcpt.len && semi && semi > p->val && p->vlen <= ORCPT_MAX &&
		 xtext_decode(semi + 1, p->vlen - (size_t)(semi + 1 - p->val), &dec) == 0 && dec.len;
	for (const char *c = p->val; ok && c < semi; c++)
		ok = is_keychar((unsigned char)*c, c == p->val);
	if (ok) {
		buf_append(&r->orcpt, p->val, (size_t)(semi + 1 - p->val));
		buf_append(&r->orcpt, dec.s, dec.len);
	}
	buf_free(&dec);
	return ok ? OK : E(501, "5.5.4", "Error: bad ORCPT parameter");
}

static struct smtp_err rcpt_param(const struct param *p, struct rcpt_req *r)
{
	if (key_is(p, "NOTIFY"))
		return rcpt_notify(p, r);
	if (key_is(p, "ORCPT"))
		return rcpt_orcpt(p, r);
	return E(555, "5.5.4", "Error: unsupported parameter");
}

/* RFC 5321 4.5.1: "<Postmaster>" without a domain, any case. */
static int is_bare_postmaster(const char *s, size_t len)
{
	return len >= 12 && mem_caseprefix(s, len, "<postmaster>") &&
	       (len == 12 || s[12] == ' ');
}

struct smtp_err smtp_parse_rcpt(const char *arg, size_t len,
				const struct parse_opts *o, struct rcpt_req *out)
{
	buf_reset(&out->addr);
	buf_reset(&out->notify);
	buf_reset(&out->orcpt);
	out->postmaster = 0;
	long k = skip_keyword(arg, len, "TO:");
	if (k < 0 || (size_t)k >= len || arg[k] != '<')
		return E(501, "5.5.4", "Syntax: RCPT TO:<address>");
	size_t end;
	if (is_bare_postmaster(arg + k, len - (size_t)k)) {
		buf_puts(&out->addr, "postmaster");
		out->postmaster = 1;
		end = (size_t)k + 12;
	} else {
		struct smtp_err e = parse_path(arg, len, (size_t)k, 0, &out->addr, &end);
		if (e.code)
			return e;
	}
	struct param p[PARAM_MAX];
	size_t n;
	if (split_params(arg + end, len - end, p, &n) < 0)
		return E(501, "5.5.4", "Error: bad parameter syntax");
	if (n && !o->esmtp)
		return E(555, "5.5.4", "Error: parameters need EHLO");
	for (size_t i = 0; i < n; i++) {
		struct smtp_err e = rcpt_param(&p[i], out);
		if (e.code)
			return e;
	}
	if (!o->smtputf8 && addr_has_8bit(out->addr.s, out->addr.len))
		return addr_error(ADDR_UTF8, 0);
	return OK;
}

void mail_req_free(struct mail_req *m)
{
	buf_free(&m->addr);
	buf_free(&m->ret);
	buf_free(&m->envid);
}

void rcpt_req_free(struct rcpt_req *r)
{
	buf_free(&r->addr);
	buf_free(&r->notify);
	buf_free(&r->orcpt);
}
