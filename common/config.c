/* config: typed configuration (see config.h).  The schema below is the one
 * place a key is defined; doc/posthorn.conf.5 describes the same keys. */
#include "config.h"
#include "io.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct config_key config_schema[] = {
	{"hostname", CT_STR, "", "host name in greetings and Received: (default: the system's)"},
	{"domain", CT_STR, "localhost", "primary mail domain"},
	{"listen", CT_STR, "127.0.0.1", "address the listeners bind"},
	{"port_base", CT_INT, "0", "added to standard ports (0: standard ports)"},
	{"services", CT_STR, "all", "what master listens for: all, or some of smtp submission smtps pop3 pop3s imap imaps"},
	{"queue_dir", CT_STR, "/var/spool/posthorn", "the queue"},
	{"mail_dir", CT_STR, "/var/mail/posthorn", "the mail store (virtual Maildirs)"},
	{"log_dir", CT_STR, "/var/log/posthorn", "log and pid files"},
	{"libexec_dir", CT_STR, "/usr/lib/posthorn", "where the daemons are"},
	{"log_syslog", CT_BOOL, "no", "log to syslog (facility mail) instead of log_dir"},
	{"user_smtpd", CT_STR, "posthorn-smtpd", "runs smtpd (network input)"},
	{"user_queue", CT_STR, "posthorn-queue", "owns the queue, runs qmgr"},
	{"user_mail", CT_STR, "posthorn-mail", "owns the mail store, runs local"},
	{"user_auth", CT_STR, "posthorn-auth", "reads password hashes"},
	{"max_message_size", CT_SIZE, "25M", "largest message accepted"},
	{"max_recipients", CT_INT, "100", "recipients per message"},
	{"max_errors", CT_INT, "10", "bad commands before a session is closed"},
	{"max_header_size", CT_SIZE, "256k", "bytes of header per message"},
	{"max_hops", CT_INT, "50", "Received: headers before a message is a loop"},
	{"smtp_line_max", CT_INT, "2048", "longest SMTP command line"},
	{"smtp_data_line_max", CT_INT, "65536", "longest line in a message"},
	{"smtp_timeout", CT_TIME, "5m", "wait for an SMTP command"},
	{"smtp_data_timeout", CT_TIME, "10m", "wait for message data"},
	{"smtp_data_deadline", CT_TIME, "30m", "longest whole DATA phase, however steady the trickle"},
	{"max_junk_commands", CT_INT, "100", "NOOP/RSET/VRFY/EXPN/HELP per session"},
	{"smtp_error_delay", CT_TIME, "1s", "delay before replies after several errors"},
	{"max_connections", CT_INT, "100", "concurrent SMTP connections"},
	{"max_connections_per_ip", CT_INT, "20", "concurrent connections from one IP"},
	{"smtputf8", CT_BOOL, "yes", "offer SMTPUTF8"},
	{"local_concurrency", CT_INT, "10", "parallel local deliveries"},
	{"enqueue_timeout", CT_TIME, "0", "enqueue gives up (temp file removed, exit 111) after this; 0: smtp_data_timeout + 5m"},
	{"retry_min", CT_TIME, "5m", "first retry after a temporary failure"},
	{"retry_max", CT_TIME, "1h", "longest interval between retries"},
	{"queue_lifetime", CT_TIME, "5d", "bounce what is undelivered after this"},
	{"delivered_to_limit", CT_INT, "1", "copies of our own Delivered-To: that make a loop"},
	{"bounce_headers_only", CT_BOOL, "yes", "bounces return headers, not the body"},
	{"submission_add_headers", CT_BOOL, "yes", "add Date:/Message-ID: on submission"},
	/* TLS (common/tls.c); relative paths are in the config directory */
	{"tls_cert", CT_STR, "tls/cert.pem", "server certificate chain (PEM)"},
	{"tls_key", CT_STR, "tls/key.pem", "server private key (PEM)"},
	{"tls_ca", CT_STR, "tls/ca.pem", "the CA that signed tls_cert (for clients)"},
	{"tls_sni_dir", CT_STR, "", "optional: HOSTNAME.pem (cert+key) per SNI name"},
	{"tls_handshake_timeout", CT_TIME, "30s", "time allowed for a TLS handshake"},
	/* authentication (auth/, common/sasl.c, common/authclient.c) */
	{"run_dir", CT_STR, "/run/posthorn", "sockets: auth.sock, mailbox.sock"},
	{"user_login", CT_STR, "posthorn-login", "runs the pop3/imap login stages"},
	{"plaintext_auth_loopback", CT_BOOL, "no", "allow passwords without TLS from loopback clients (tests)"},
	{"auth_max_failures", CT_INT, "3", "failed AUTH/LOGIN attempts before a session is closed"},
	{"auth_fail_delay", CT_TIME, "2s", "delay of a failed authentication reply"},
	{"received_auth", CT_BOOL, "yes", "name the authenticated user in Received:"},
	/* pop3d */
	{"pop3_timeout", CT_TIME, "10m", "idle time before a POP3 session is closed"},
	{"pop3_line_max", CT_INT, "512", "longest POP3 command line"},
	/* remote delivery (issue 4: delivery/remote, qmgr routing, common/dns.c) */
	{"user_remote", CT_STR, "posthorn-remote", "runs remote delivery"},
	{"dns_resolver", CT_STR, "", "IP[:port] of the DNS server (empty: the system's)"},
	{"relay_host", CT_STR, "", "send all remote mail through [host]:port (smarthost)"},
	{"remote_concurrency", CT_INT, "20", "parallel remote deliveries in all"},
	{"remote_dest_concurrency", CT_INT, "5", "parallel deliveries to one destination"},
	{"remote_rcpt_limit", CT_INT, "50", "recipients per SMTP transaction"},
	{"smtp_connect_timeout", CT_TIME, "30s", "TCP connect to a remote MX"},
	{"smtp_helo_timeout", CT_TIME, "5m", "remote greeting and EHLO"},
	{"smtp_cmd_timeout", CT_TIME, "5m", "remote reply to MAIL/RCPT/other commands"},
	{"smtp_data_done_timeout", CT_TIME, "10m", "remote reply after the final dot"},
	{"smtp_8bitmime_convert", CT_BOOL, "yes", "convert 8-bit bodies to quoted-printable for peers without 8BITMIME"},
	{"smtp_tls_ca", CT_STR, "", "CA file remote delivery verifies peers with (tls-policy verify); empty: the system store"},
	{"delay_warning", CT_TIME, "4h", "send a delay notice after this (0: never)"},
	{"smtpd_8bitmime", CT_BOOL, "yes", "offer 8BITMIME (tests switch it off to play a 7-bit peer)"},
	{NULL, CT_STR, NULL, NULL},
};

static int key_index(const char *key, size_t len)
{
	for (int i = 0; config_schema[i].name; i++)
		if (strlen(config_schema[i].name) == len &&
		    memcmp(config_schema[i].name, key, len) == 0)
			return i;
	return -1;
}

static int suffix_mult(enum config_type t, char c, long long *m)
{
	if (t == CT_SIZE) {
		switch (c) {
		case 'k': case 'K': *m = 1024; return 0;
		case 'm': case 'M': *m = 1024 * 1024; return 0;
		case 'g': case 'G': *m = 1024LL * 1024 * 1024; return 0;
		}
	} else if (t == CT_TIME) {
		switch (c) {
		case 's': *m = 1; return 0;
		case 'm': *m = 60; return 0;
		case 'h': *m = 3600; return 0;
		case 'd': *m = 86400; return 0;
		case 'w': *m = 7 * 86400; return 0;
		}
	}
	return -1;
}

int config_parse_num(enum config_type t, const char *s, long long *out)
{
	if (t == CT_BOOL) {
		if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
			*out = 1;
		else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
			*out = 0;
		else
			return -1;
		return 0;
	}
	size_t n = strlen(s);
	long long mult = 1;
	if (n > 0 && !isdigit((unsigned char)s[n - 1])) {
		if (t == CT_INT || suffix_mult(t, s[n - 1], &mult) < 0)
			return -1;
		n--;
	}
	unsigned long long v;
	if (mem_to_u64(s, n, &v) < 0 || v > (unsigned long long)(0x7fffffffffffffffLL / mult))
		return -1;
	*out = (long long)v * mult;
	return 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static int set_value(struct config *c, int idx, const char *v, size_t vlen,
		     struct buf *err, int lineno)
{
	char *val = xmemdup(v, vlen);
	enum config_type t = config_schema[idx].type;
	if (t != CT_STR && config_parse_num(t, val, &c->nums[idx]) < 0) {
		buf_printf(err, "%s:%d: bad value for %s: \"%s\"", c->path, lineno,
			   config_schema[idx].name, val);
		free(val);
		return -1;
	}
	free(c->values[idx]);
	c->values[idx] = val;
	return 0;
}

static int parse_line(struct config *c, const char *s, size_t n, int lineno, struct buf *err)
{
	trim(&s, &n);
	if (n == 0 || s[0] == '#')
		return 0;
	const char *eq = memchr(s, '=', n);
	if (!eq) {
		buf_printf(err, "%s:%d: expected \"key = value\"", c->path, lineno);
		return -1;
	}
	const char *k = s, *v = eq + 1;
	size_t klen = (size_t)(eq - s), vlen = n - klen - 1;
	trim(&k, &klen);
	trim(&v, &vlen);
	int idx = key_index(k, klen);
	if (idx < 0) {
		buf_printf(err, "%s:%d: unknown key \"%.*s\"", c->path, lineno, (int)klen, k);
		return -1;
	}
	if (memchr(v, 0, vlen)) {
		buf_printf(err, "%s:%d: NUL byte in value", c->path, lineno);
		return -1;
	}
	return set_value(c, idx, v, vlen, err, lineno);
}

static void set_defaults(struct config *c)
{
	for (int i = 0; config_schema[i].name; i++)
		if (config_schema[i].type != CT_STR)
			config_parse_num(config_schema[i].type, config_schema[i].def, &c->nums[i]);
}

int config_load(struct config *c, const char *path, struct buf *err)
{
	memset(c, 0, sizeof *c);
	c->path = xstrdup(path);
	const char *slash = strrchr(path, '/');
	c->dir = slash ? xmemdup(path, (size_t)(slash - path) + (slash == path)) : xstrdup(".");
	set_defaults(c);
	struct buf text = BUF_INIT;
	int r = file_read(path, &text, 1 << 20);
	if (r < 0) {
		buf_printf(err, "%s: %s", path, r == -2 ? "file too large" : strerror(errno));
		buf_free(&text);
		return -1;
	}
	int lineno = 0, rc = 0;
	size_t off = 0;
	while (off < text.len && rc == 0) {
		const char *nl = memchr(text.s + off, '\n', text.len - off);
		size_t n = nl ? (size_t)(nl - (text.s + off)) : text.len - off;
		rc = parse_line(c, text.s + off, n, ++lineno, err);
		off += n + 1;
	}
	buf_free(&text);
	return rc;
}

void config_free(struct config *c)
{
	for (int i = 0; i < CONFIG_MAX_KEYS; i++)
		free(c->values[i]);
	free(c->path);
	free(c->dir);
	memset(c, 0, sizeof *c);
}

static int must_index(const char *key)
{
	int i = key_index(key, strlen(key));
	if (i < 0) {
		/* A programming error: the key is not in the schema. */
		static const char msg[] = "posthorn: config key not in schema\n";
		ssize_t w = write(2, msg, sizeof msg - 1);
		(void)w;
		abort();
	}
	return i;
}

const char *config_str(const struct config *c, const char *key)
{
	int i = must_index(key);
	if (!strcmp(key, "hostname") && (!c->values[i] || !c->values[i][0])) {
		static char host[256];
		if (!host[0] && gethostname(host, sizeof host - 1) < 0)
			memcpy(host, "localhost", 10);
		return host;
	}
	return c->values[i] ? c->values[i] : config_schema[i].def;
}

long long config_num(const struct config *c, const char *key)
{
	return c->nums[must_index(key)];
}

int config_bool(const struct config *c, const char *key)
{
	return config_num(c, key) != 0;
}

void config_file(const struct config *c, const char *name, struct buf *out)
{
	buf_reset(out);
	buf_puts(out, c->dir);
	buf_putc(out, '/');
	buf_puts(out, name);
	buf_cstr(out);
}

int config_port(const struct config *c, int standard_port)
{
	return (int)config_num(c, "port_base") + standard_port;
}

const char *config_default_path(void)
{
	const char *p = getenv("POSTHORN_CONFIG");
	return p && *p ? p : "/etc/posthorn/posthorn.conf";
}
