/* mail: the MAIL and RCPT commands and the recipient policy: a local
 * domain needs a known user or alias (550 5.1.1 otherwise, never accept
 * and bounce), a foreign domain needs an authenticated client or one in
 * relay-clients (554 5.7.1 otherwise: never an open relay).  Submission
 * (RFC 6409): AUTH before MAIL (530 5.7.0), and an authenticated client,
 * on any port, may only use a sender it owns (553 5.7.1).  Used by
 * session.c. */
#include "smtpd.h"
#include "addr.h"
#include "log.h"
#include "parse.h"
#include "record.h"

#include <errno.h>
#include <string.h>

#define E(c, e, t) ((struct smtp_err){(c), (e), (t)})

static struct parse_opts opts(const struct session *s)
{
	struct parse_opts o = {
		.esmtp = s->esmtp,
		.smtputf8_offered = s->smtputf8_offered,
		.smtputf8 = s->smtputf8,
		.max_size = s->lim.max_size,
	};
	return o;
}

static void log_reject(struct session *s, const char *cmd, const struct smtp_err *e,
		       const char *arg, size_t len)
{
	log_info("reject: %s from %s[%s]: %d %s %s; %s", cmd, buf_cstr(&s->rdns),
		 buf_cstr(&s->ip), e->code, e->enh, e->text, safe(s, arg, len));
}

/* RET and ENVID as the A records enqueue gets (RFC 3461). */
static void dsn_mail_records(struct session *s, const struct mail_req *m)
{
	struct buf a = BUF_INIT;
	buf_reset(&s->dsn_mail);
	if (m->ret.len) {
		buf_puts(&a, "ret=");
		buf_append(&a, m->ret.s, m->ret.len);
		rec_put(&s->dsn_mail, REC_ATTR, a.s, a.len);
	}
	if (m->envid.len) {
		buf_reset(&a);
		buf_puts(&a, "envid=");
		buf_append(&a, m->envid.s, m->envid.len);
		rec_put(&s->dsn_mail, REC_ATTR, a.s, a.len);
	}
	buf_free(&a);
}

static int resolver_ready(struct session *s);

/* addr is user, or user with a "+ext" on its local part (resolve.h). */
static int is_user(const struct buf *addr, const struct buf *user)
{
	if (mem_caseeq(addr->s, addr->len, user->s, user->len))
		return 1;
	const char *at = memrchr(addr->s, '@', addr->len);
	const char *plus = at ? memchr(addr->s, '+', (size_t)(at - addr->s)) : NULL;
	if (!plus || plus == addr->s)
		return 0;
	size_t lp = (size_t)(plus - addr->s), dlen = addr->len - (size_t)(at - addr->s);
	return user->len == lp + dlen && mem_caseeq(addr->s, lp, user->s, lp) &&
	       mem_caseeq(at, dlen, user->s + lp, dlen);
}

/* The authenticated user owns <>, its own address, and every address
 * whose alias expansion reaches it (lists, "+ext" forms): 1 yes, 0 no,
 * -1 table error. */
static int sender_owned(struct session *s, const struct buf *from)
{
	if (from->len == 0 || is_user(from, &s->auth_user))
		return 1;
	if (!resolver_ready(s))
		return -1;
	struct resolve_list l = {NULL, 0, 0};
	struct buf err = BUF_INIT;
	int r = resolve_expand(&s->res, from->s, from->len, &l, &err);
	int owned = r == -1 ? -1 : 0;
	for (size_t i = 0; r == 0 && i < l.n && !owned; i++)
		owned = is_user(&l.addrs[i], &s->auth_user);
	resolve_list_free(&l);
	buf_free(&err);
	return owned;
}

/* Submission rules before the sender is taken: 0 ok, -1 answered. */
static int mail_auth_policy(struct session *s, const struct mail_req *m,
			    const char *arg, size_t len)
{
	if (!s->auth_user.len)
		return 0;
	int owned = sender_owned(s, &m->addr);
	if (owned == 1)
		return 0;
	struct smtp_err e = owned < 0 ? E(451, "4.3.0", "Error: temporary table failure")
				      : E(553, "5.7.1", "Sender address rejected: not owned by user");
	log_reject(s, "MAIL", &e, arg, len);
	if (owned < 0)
		reply_error(s, e.code, e.enh, "%s", e.text);
	else
		reply_error(s, e.code, e.enh, "%s %s", e.text, safe(s, s->auth_user.s, s->auth_user.len));
	return -1;
}

void cmd_mail(struct session *s, const char *arg, size_t len)
{
	if (s->helo.len == 0) {
		reply_error(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return;
	}
	if (s->in_mail) {
		reply_error(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	if (s->submission && !s->auth_user.len) {
		reply_error(s, 530, "5.7.0", "Authentication required");
		return;
	}
	struct mail_req m = {.addr = BUF_INIT};
	struct parse_opts o = opts(s);
	struct smtp_err e = smtp_parse_mail(arg, len, &o, &m);
	if (e.code) {
		log_reject(s, "MAIL", &e, arg, len);
		reply_error(s, e.code, e.enh, "%s", e.text);
	} else if (mail_auth_policy(s, &m, arg, len) == 0) {
		buf_copy(&s->from, &m.addr);
		s->in_mail = 1;
		s->body_8bit = m.body_8bit;
		s->smtputf8 = m.smtputf8;
		dsn_mail_records(s, &m);
		reply(s, 250, "2.1.0", "Ok");
	}
	mail_req_free(&m);
}

static int resolver_ready(struct session *s)
{
	if (s->res_state == 0) {
		s->res_state = resolver_open(&s->res, s->cfg) == 0 ? 1 : -1;
		if (s->res_state < 0)
			log_error("cannot open the tables: %s", strerror(errno));
	}
	return s->res_state == 1;
}

/* relay-clients is read once per session, when first needed. */
static int relay_allowed(struct session *s)
{
	if (!s->relay_loaded) {
		struct buf path = BUF_INIT, err = BUF_INIT;
		config_file(s->cfg, "relay-clients", &path);
		int r = cidr_list_load(&s->relay, path.s, &err);
		if (r < 0)
			log_error("%s: %s", path.s, strerror(errno));
		else if (r > 0)
			log_warn("%s: %s (%d bad lines ignored)", path.s, buf_cstr(&err), r);
		s->relay_loaded = 1;
		buf_free(&path);
		buf_free(&err);
	}
	return cidr_list_match(&s->relay, s->ip.s, s->ip.len);
}

/* An alias that loops or explodes is refused here, for that recipient
 * only, rather than failing the whole message when enqueue expands it. */
static struct smtp_err expansion_check(struct session *s, const struct buf *addr)
{
	struct resolve_list l = {0};
	struct buf err = BUF_INIT;
	int r = resolve_expand(&s->res, addr->s, addr->len, &l, &err);
	if (r == -2)
		log_info("refused RCPT <%s> from %s[%s]: %s", safe(s, addr->s, addr->len),
			 buf_cstr(&s->rdns), buf_cstr(&s->ip), buf_cstr(&err));
	resolve_list_free(&l);
	buf_free(&err);
	if (r == -1)
		return E(451, "4.3.0", "Error: temporary table failure");
	return r == -2 ? E(550, "5.4.6", "Error: alias expansion failed for this recipient")
		       : E(0, "", "");
}

/* Decides on one recipient; code 0 accepts it. */
static struct smtp_err rcpt_policy(struct session *s, const struct buf *addr)
{
	if (!resolver_ready(s))
		return E(451, "4.3.0", "Error: temporary table failure");
	int local = resolve_is_local(&s->res, addr->s, addr->len);
	if (local < 0)
		return E(451, "4.3.0", "Error: temporary table failure");
	if (!local)
		return s->auth_user.len || relay_allowed(s) ? E(0, "", "")
			: E(554, "5.7.1", "Error: relay access denied");
	/* postmaster (RFC 5321 4.5.1) is an alias like any other: posthorn
	 * user add makes the first user postmaster, so it always resolves,
	 * and a missing one is refused here rather than bounced later. */
	int k = resolve_known(&s->res, addr->s, addr->len);
	if (k < 0)
		return E(451, "4.3.0", "Error: temporary table failure");
	if (k == 0)
		return E(550, "5.1.1", "Error: user unknown");
	return expansion_check(s, addr);
}

/* The O and F records enqueue gets before this recipient's R. */
static void rcpt_add(struct session *s, const struct rcpt_req *r)
{
	if (s->nrcpt == s->rcpt_cap) {
		size_t cap = s->rcpt_cap ? size_mul(s->rcpt_cap, 2) : 8;
		s->rcpts = xrealloc(s->rcpts, size_mul(cap, sizeof *s->rcpts));
		s->rcpt_dsn = xrealloc(s->rcpt_dsn, size_mul(cap, sizeof *s->rcpt_dsn));
		s->rcpt_cap = cap;
	}
	struct buf b = BUF_INIT, d = BUF_INIT;
	buf_copy(&b, &r->addr);
	if (r->orcpt.len)
		rec_put(&d, REC_ORCPT, r->orcpt.s, r->orcpt.len);
	if (r->notify.len)
		rec_put(&d, REC_NOTIFY, r->notify.s, r->notify.len);
	s->rcpt_dsn[s->nrcpt] = d;
	s->rcpts[s->nrcpt++] = b;
}

/* Parses the argument; a bare <postmaster> becomes postmaster@domain. */
static struct smtp_err rcpt_parse(struct session *s, const char *arg, size_t len,
				  struct rcpt_req *r)
{
	struct parse_opts o = opts(s);
	struct smtp_err e = smtp_parse_rcpt(arg, len, &o, r);
	if (e.code == 0 && r->postmaster) {
		buf_putc(&r->addr, '@');
		buf_puts(&r->addr, s->domain);
		addr_normalize(&r->addr);
	}
	return e;
}

void cmd_rcpt(struct session *s, const char *arg, size_t len)
{
	if (!s->in_mail) {
		reply_error(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	s->rcpt_tried = 1;
	if ((long)s->nrcpt >= s->lim.max_rcpt) {
		/* RFC 5321 4.5.3.1.10: 452, the client sends the rest later */
		reply(s, 452, "4.5.3", "Error: too many recipients");
		return;
	}
	struct rcpt_req r = {.addr = BUF_INIT};
	struct smtp_err e = rcpt_parse(s, arg, len, &r);
	int parsed = e.code == 0;
	if (parsed)
		e = rcpt_policy(s, &r.addr);
	if (e.code) {
		log_reject(s, "RCPT", &e, arg, len);
		if (parsed)
			reply_error(s, e.code, e.enh, "<%s>: %s",
				    safe(s, r.addr.s, r.addr.len), e.text);
		else
			reply_error(s, e.code, e.enh, "%s", e.text);
	} else {
		rcpt_add(s, &r);
		reply(s, 250, "2.1.5", "Ok");
	}
	rcpt_req_free(&r);
}
