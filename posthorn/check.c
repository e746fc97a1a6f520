/* check.c: posthorn check, for administrators after an install, an edit
 * or an upgrade.  The config itself was parsed by main.c before we run
 * (a syntax error stops there, naming the line).  Here: the service
 * accounts, every table's .cdb against its text (mtime), owners and modes
 * of the files and directories INSTALL lists, and the TLS key and
 * certificate (a pair that loads, the key readable by root only).  One
 * line per problem on stdout; exit 1 if there is any. */
#include "posthorn.h"
#include "privsep.h"

#include <errno.h>
#include <grp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int problems;

static void problem(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(const char *path, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	printf("posthorn check: %s: %s\n", path, buf_cstr(&b));
	buf_free(&b);
	problems++;
}

/* What a path must be.  owner/group are config keys ("user_queue"), or
 * NULL for root; group NULL means "any group". */
struct expect {
	char type;		/* 'd' directory, 'f' file, 'p' FIFO */
	const char *owner;
	const char *group;
	mode_t mode;		/* permission bits incl. setuid */
};

static const char *type_name(char t)
{
	return t == 'd' ? "a directory" : t == 'p' ? "a FIFO" : "a regular file";
}

static int type_ok(char t, mode_t m)
{
	return t == 'd' ? S_ISDIR(m) : t == 'p' ? S_ISFIFO(m) : S_ISREG(m);
}

/* uid and gid a config key names; in single-user mode: ours. */
static int expected_ids(const struct config *cfg, const char *key, uid_t *uid, gid_t *gid)
{
	if (!priv_is_root()) {
		*uid = getuid();
		*gid = getgid();
		return 0;
	}
	if (!key) {
		*uid = 0;
		*gid = 0;
		return 0;
	}
	return service_ids(cfg, key, uid, gid);
}

static const char *user_name(uid_t uid, char *tmp, size_t n)
{
	struct passwd *pw = getpwuid(uid);	/* static: copied, two calls share it */
	if (pw)
		snprintf(tmp, n, "%s", pw->pw_name);
	else
		snprintf(tmp, n, "uid %ld", (long)uid);
	return tmp;
}

static void check_owner(const struct config *cfg, const char *path, const struct stat *st,
			const struct expect *e)
{
	uid_t uid;
	gid_t gid;
	char t1[32], t2[32];
	if (expected_ids(cfg, e->owner, &uid, &gid) < 0)
		return;	/* the missing account is reported once, by check_accounts */
	if (st->st_uid != uid)
		problem(path, "owner is %s, should be %s", user_name(st->st_uid, t1, sizeof t1),
			user_name(uid, t2, sizeof t2));
	if (!e->group || !priv_is_root())
		return;
	gid_t want;
	if (group_lookup(config_str(cfg, e->group), &want) < 0 &&
	    expected_ids(cfg, e->group, &uid, &want) < 0)
		return;
	if (st->st_gid != want)
		problem(path, "group is gid %ld, should be %s", (long)st->st_gid,
			config_str(cfg, e->group));
}

static void check_path(const struct config *cfg, const char *path, const struct expect *e)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		problem(path, "%s", strerror(errno));
		return;
	}
	if (!type_ok(e->type, st.st_mode)) {
		problem(path, "is not %s", type_name(e->type));
		return;
	}
	mode_t m = st.st_mode & 07777;
	if (m != e->mode)
		problem(path, "mode is %04o, should be %04o", (unsigned)m, (unsigned)e->mode);
	check_owner(cfg, path, &st, e);
}

static void check_in(const struct config *cfg, const char *dir, const char *name,
		     const struct expect *e)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, name);
	check_path(cfg, buf_cstr(&p), e);
	buf_free(&p);
}

static void check_accounts(const struct config *cfg)
{
	static const char *const keys[] = {"user_smtpd", "user_queue", "user_mail",
		"user_auth", "user_login", NULL};
	if (!priv_is_root())
		return;
	for (int i = 0; keys[i]; i++) {
		struct account a;
		if (account_lookup(config_str(cfg, keys[i]), &a) < 0)
			problem(cfg->path, "%s: system user %s does not exist", keys[i],
				config_str(cfg, keys[i]));
	}
}

/* A table is stale when its text changed after the last makemap. */
static void check_table(const struct config *cfg, const char *name, const char *cdbname)
{
	struct buf text = BUF_INIT, cdb = BUF_INIT;
	struct stat ts, cs;
	config_file(cfg, name, &text);
	config_file(cfg, cdbname, &cdb);
	if (stat(text.s, &ts) < 0)
		problem(text.s, "%s", strerror(errno));
	else if (stat(cdb.s, &cs) < 0)
		problem(cdb.s, "%s (run posthorn makemap)", strerror(errno));
	else if (ts.st_mtim.tv_sec > cs.st_mtim.tv_sec ||
		 (ts.st_mtim.tv_sec == cs.st_mtim.tv_sec && ts.st_mtim.tv_nsec > cs.st_mtim.tv_nsec))
		problem(cdb.s, "older than %s: run posthorn makemap", name);
	buf_free(&text);
	buf_free(&cdb);
}

static void check_etc(const struct config *cfg)
{
	static const struct expect dir = {'d', NULL, NULL, 0755}, pub = {'f', NULL, NULL, 0644},
		secret = {'f', NULL, NULL, 0600}, pw = {'f', NULL, "user_auth", 0640};
	static const char *const public[] = {"posthorn.conf", "domains", "domains.cdb", "aliases",
		"aliases.cdb", "relay-clients", "users.cdb", NULL};
	check_path(cfg, cfg->dir, &dir);
	for (int i = 0; public[i]; i++)
		check_in(cfg, cfg->dir, public[i], &pub);
	check_in(cfg, cfg->dir, "users", &secret);
	check_in(cfg, cfg->dir, "passwd.cdb", &pw);
	check_table(cfg, "domains", "domains.cdb");
	check_table(cfg, "aliases", "aliases.cdb");
	check_table(cfg, "users", "users.cdb");
	check_table(cfg, "users", "passwd.cdb");
}

static void check_spool(const struct config *cfg)
{
	static const char *const sub[] = {"tmp", "incoming", "active", "defer", "bounce",
		"corrupt", "hold", NULL};
	static const struct expect q = {'d', "user_queue", NULL, 0700},
		fifo = {'p', "user_queue", NULL, 0600}, mail = {'d', "user_mail", NULL, 0700},
		log = {'d', NULL, NULL, 0755};
	const char *qd = config_str(cfg, "queue_dir");
	check_path(cfg, qd, &q);
	for (int i = 0; sub[i]; i++)
		check_in(cfg, qd, sub[i], &q);
	check_in(cfg, qd, "trigger", &fifo);
	check_path(cfg, config_str(cfg, "mail_dir"), &mail);
	check_path(cfg, config_str(cfg, "log_dir"), &log);
}

static void parent_of(const char *path, struct buf *out)
{
	const char *slash = strrchr(path, '/');
	buf_reset(out);
	if (slash && slash != path)
		buf_append(out, path, (size_t)(slash - path));
	else
		buf_puts(out, "/");
	buf_cstr(out);
}

/* The queue and the store are private to their users; what every
 * service user must reach is the config, the daemons, and the way to
 * the queue and the store. */
static void check_reachable(const struct config *cfg)
{
	struct buf qparent = BUF_INIT, mparent = BUF_INIT, err = BUF_INIT;
	parent_of(config_str(cfg, "queue_dir"), &qparent);
	parent_of(config_str(cfg, "mail_dir"), &mparent);
	const char *dirs[] = {cfg->dir, config_str(cfg, "libexec_dir"), buf_cstr(&qparent),
		buf_cstr(&mparent), NULL};
	for (int i = 0; dirs[i] && priv_is_root(); i++) {
		buf_reset(&err);
		if (dir_traversable(cfg, dirs[i], &err) < 0) {
			printf("posthorn check: %s\n", buf_cstr(&err));
			problems++;
		}
	}
	buf_free(&qparent);
	buf_free(&mparent);
	buf_free(&err);
}

/* Root mode: the daemons are root's, enqueue setuid user_queue. */
static void check_daemons(const struct config *cfg)
{
	static const char *const progs[] = {"master", "smtpd", "qmgr", "local", "remote", "auth",
		"pop3d", "pop3d-login", "mailboxd", "imapd-login", "imapd", NULL};
	static const struct expect prog = {'f', NULL, NULL, 0755},
		enq = {'f', "user_queue", NULL, 04755};
	const char *d = config_str(cfg, "libexec_dir");
	if (!priv_is_root())
		return;
	for (int i = 0; progs[i]; i++)
		check_in(cfg, d, progs[i], &prog);
	check_in(cfg, d, "enqueue", &enq);
}

static void check_key_pair(X509 *cert, const char *key_path, const char *cert_path)
{
	BIO *in = BIO_new_file(key_path, "r");
	EVP_PKEY *key = in ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
	if (!key)
		problem(key_path, "cannot be read as a PEM private key (as %s)",
			priv_is_root() ? "root" : "this user");
	else if (X509_check_private_key(cert, key) != 1)
		problem(key_path, "does not match the certificate %s", cert_path);
	EVP_PKEY_free(key);
	BIO_free(in);
}

/* The pair must load and match; the key must be root's alone, since
 * only root (master, or a program before priv_drop) may read it. */
static void check_tls(const struct config *cfg)
{
	static const struct expect key = {'f', NULL, NULL, 0600};
	struct buf kp = BUF_INIT, cp = BUF_INIT;
	config_file(cfg, config_str(cfg, "tls_key"), &kp);
	config_file(cfg, config_str(cfg, "tls_cert"), &cp);
	struct stat st;
	if (stat(cp.s, &st) < 0)
		problem(cp.s, "%s", strerror(errno));
	else if ((st.st_mode & 0444) != 0444)
		problem(cp.s, "mode is %04o, the certificate should be readable by everyone (0644)",
			(unsigned)(st.st_mode & 07777));
	check_path(cfg, kp.s, &key);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx && access(kp.s, F_OK) == 0 && access(cp.s, F_OK) == 0) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cp.s) != 1)
			problem(cp.s, "cannot be loaded as a PEM certificate chain");
		else
			check_key_pair(SSL_CTX_get0_certificate(ctx), kp.s, cp.s);
	}
	SSL_CTX_free(ctx);
	buf_free(&kp);
	buf_free(&cp);
}

int cmd_check(const struct config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		complain("usage: posthorn check (no arguments)");
		return 2;
	}
	problems = 0;
	check_accounts(cfg);
	check_etc(cfg);
	check_spool(cfg);
	check_reachable(cfg);
	check_daemons(cfg);
	check_tls(cfg);
	if (problems) {
		printf("posthorn check: %d problem%s in %s\n", problems, problems == 1 ? "" : "s",
		       cfg->path);
		return 1;
	}
	printf("posthorn check: %s: ok\n", cfg->path);
	return 0;
}
