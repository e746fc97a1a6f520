/* init.c: posthorn init DIR: a self-contained instance (config, tables,
 * queue, mail store, log) laid out and owned as doc/design.md says.  As
 * root it also creates the service accounts and installs the daemons into
 * DIR/libexec, so they run even if the build tree is unreadable to them. */
#include "posthorn.h"
#include "addr.h"
#include "fsutil.h"
#include "privsep.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct init_opts {
	const char *dir, *domain, *hostname, *listen;
	long long port_base;
	char sys_host[256];
};

static const char *const queue_subdirs[] = {"tmp", "incoming", "active", "defer", "bounce", "corrupt",
					    "hold", NULL};
static const char *const account_keys[] = {"user_smtpd", "user_queue", "user_mail", "user_auth",
	"user_login", "user_remote", NULL};

static int bad_name(const char *what, const char *s)
{
	struct buf a = BUF_INIT;
	buf_printf(&a, "postmaster@%s", s);
	int bad = s[0] == '[' || strchr(s, '/') || addr_check(a.s, a.len, 0) != ADDR_OK;
	buf_free(&a);
	if (bad)
		complain("init: %s \"%s\" is not a valid domain name", what, s);
	return bad;
}

static int parse_opts(int argc, char **argv, struct init_opts *o)
{
	o->domain = "localhost";
	o->listen = "127.0.0.1";
	o->port_base = 0;
	if (gethostname(o->sys_host, sizeof o->sys_host - 1) < 0 || !o->sys_host[0])
		memcpy(o->sys_host, "localhost", 10);
	o->hostname = o->sys_host;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-') {
			if (o->dir) {
				complain("init: more than one directory given (%s)", a);
				return -1;
			}
			o->dir = a;
			continue;
		}
		if (!v) {
			complain("init: %s needs a value", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--domain"))
			o->domain = v;
		else if (!strcmp(a, "--hostname"))
			o->hostname = v;
		else if (!strcmp(a, "--listen"))
			o->listen = v;
		else if (!strcmp(a, "--port-base")) {
			if (config_parse_num(CT_INT, v, &o->port_base) < 0 || o->port_base > 64000) {
				complain("init: --port-base %s: expected a number from 0 to 64000", v);
				return -1;
			}
		} else {
			complain("init: unknown option %s", a);
			return -1;
		}
	}
	if (!o->dir) {
		complain("init: which directory? usage: posthorn init DIR [--domain D] ...");
		return -1;
	}
	unsigned char addr[16];
	if (inet_pton(AF_INET, o->listen, addr) != 1 && inet_pton(AF_INET6, o->listen, addr) != 1) {
		complain("init: --listen %s: not an IPv4 or IPv6 address", o->listen);
		return -1;
	}
	if (bad_name("--domain", o->domain) || bad_name("--hostname", o->hostname))
		return -1;
	return 0;
}

/* An existing empty directory is fine (mktemp -d); anything else is an
 * instance or someone's data, and init never overwrites it. */
static int dir_fresh(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 1 : 0;
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

static int run_useradd(const char *name)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("useradd", "useradd", "--system", "--user-group", "--no-create-home",
		       "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int ensure_accounts(const struct config *cfg)
{
	for (int i = 0; account_keys[i]; i++) {
		const char *name = config_str(cfg, account_keys[i]);
		struct account a;
		if (account_lookup(name, &a) == 0)
			continue;
		if (run_useradd(name) < 0 || account_lookup(name, &a) < 0) {
			complain("init: cannot create system user %s (useradd failed)", name);
			return -1;
		}
		printf("created system user %s\n", name);
	}
	return 0;
}

static void conf_text(const struct init_opts *o, const char *dir, const char *libexec,
		      struct buf *t)
{
	buf_printf(t, "# posthorn.conf: made by posthorn init.  \"key = value\"; see\n"
		   "# doc/design.md.  Commented lines show the defaults.\n\n");
	buf_printf(t, "domain = %s\nhostname = %s\nlisten = %s\nport_base = %lld\n",
		   o->domain, o->hostname, o->listen, o->port_base);
	buf_printf(t, "queue_dir = %s/queue\nmail_dir = %s/mail\nlog_dir = %s/log\n"
		   "libexec_dir = %s\nrun_dir = %s/run\n\n", dir, dir, dir, libexec, dir);
	static const char *const written[] = {"domain", "hostname", "listen", "port_base",
		"queue_dir", "mail_dir", "log_dir", "libexec_dir", "run_dir", NULL};
	for (int i = 0; config_schema[i].name; i++) {
		int skip = 0;
		for (int j = 0; written[j]; j++)
			skip |= !strcmp(written[j], config_schema[i].name);
		if (!skip)
			buf_printf(t, "# %s = %s\t\t(%s)\n", config_schema[i].name,
				   config_schema[i].def, config_schema[i].help);
	}
}

static int write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, name);
	int r = file_write_atomic(buf_cstr(&p), text, strlen(text), mode);
	if (r < 0)
		complain("init: %s: %s", p.s, strerror(errno));
	buf_free(&p);
	return r;
}

static int write_tables(const struct init_opts *o, const char *etc)
{
	struct buf dom = BUF_INIT;
	buf_printf(&dom, "# local domains, one per line; run posthorn makemap after editing\n%s\n",
		   o->domain);
	int r = write_text(etc, "domains", dom.s ? buf_cstr(&dom) : "", 0644);
	buf_free(&dom);
	if (r == 0)
		r = write_text(etc, "aliases",
			       "# \"key: target, target\": key is a local part (any local domain)\n"
			       "# or a whole address; a target without @ is in the key's domain.\n"
			       "# RFC 5321 wants postmaster to reach a person.  Once you have a\n"
			       "# user, point it there, then run posthorn makemap:\n"
			       "# postmaster: you\n# abuse: you\n", 0644);
	if (r == 0)
		r = write_text(etc, "relay-clients",
			       "# clients (CIDR, one per line) that may relay to foreign domains.\n"
			       "# Empty: nobody; even loopback relaying is your choice, e.g.\n"
			       "# 127.0.0.0/8\n", 0644);
	if (r == 0)
		r = write_text(etc, "users",
			       "# address:hash:mailbox:quota; use posthorn user add|passwd|del\n", 0600);
	if (r == 0)
		r = write_text(etc, "transport",
			       "# next hop per recipient domain (qmgr); run posthorn makemap after\n"
			       "# editing.  Without an entry: relay_host, else the domain's MX.\n"
			       "# example.org      smtp:[192.0.2.25]:25   a host, no MX lookup\n"
			       "# example.net      smtp:mx.example.net    that name's MX records\n"
			       "# intra.example    local                  deliver here\n", 0644);
	if (r == 0)
		r = write_text(etc, "tls-policy",
			       "# TLS for remote delivery per domain: none, may (default), encrypt,\n"
			       "# verify (system CAs and the MX host name); then posthorn makemap.\n"
			       "# example.org      verify\n"
			       "# example.net      encrypt\n", 0644);
	return r;
}

static int make_dir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (dir_ensure(path, mode, priv_is_root() ? uid : (uid_t)-1, gid) < 0) {
		complain("init: %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int make_queue(const struct config *cfg, const char *dir)
{
	uid_t uid;
	gid_t gid;
	if (service_ids(cfg, "user_queue", &uid, &gid) < 0)
		return -1;
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/queue", dir);
	int r = make_dir(buf_cstr(&p), 0700, uid, gid);
	for (int i = 0; queue_subdirs[i] && r == 0; i++) {
		buf_reset(&p);
		buf_printf(&p, "%s/queue/%s", dir, queue_subdirs[i]);
		r = make_dir(buf_cstr(&p), 0700, uid, gid);
		if (r == 0)
			fsync_dir(p.s);
	}
	buf_reset(&p);
	buf_printf(&p, "%s/queue/trigger", dir);
	buf_cstr(&p);
	if (r == 0 && (mkfifo(p.s, 0600) < 0 || chmod(p.s, 0600) < 0 ||
		       (priv_is_root() && chown(p.s, uid, gid) < 0))) {
		complain("init: %s: %s", p.s, strerror(errno));
		r = -1;
	}
	buf_reset(&p);
	buf_printf(&p, "%s/queue", dir);
	if (r == 0)
		r = fsync_dir(buf_cstr(&p));
	buf_free(&p);
	return r;
}

static int make_store_and_log(const struct config *cfg, const char *dir)
{
	uid_t uid;
	gid_t gid;
	if (service_ids(cfg, "user_mail", &uid, &gid) < 0)
		return -1;
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/mail", dir);
	int r = make_dir(buf_cstr(&p), 0700, uid, gid);
	buf_reset(&p);
	buf_printf(&p, "%s/log", dir);
	if (r == 0)
		r = make_dir(buf_cstr(&p), 0755, 0, 0);
	buf_reset(&p);	/* run_dir: master binds auth.sock there */
	buf_printf(&p, "%s/run", dir);
	if (r == 0)
		r = make_dir(buf_cstr(&p), 0755, 0, 0);
	buf_free(&p);
	return r;
}

/* Root mode: the daemons live in DIR/libexec, owned by root. */
static int install_daemons(const struct config *cfg, const char *dir)
{
	struct buf src = BUF_INIT, dst = BUF_INIT;
	int r = build_libexec(&src);
	buf_printf(&dst, "%s/libexec", dir);
	if (r < 0)
		complain("init: cannot find the build's libexec directory");
	if (r == 0)
		r = make_dir(buf_cstr(&dst), 0755, 0, 0);
	if (r == 0)
		r = daemons_install(cfg, src.s, dst.s, 0);
	buf_free(&src);
	buf_free(&dst);
	return r;
}

/* Loads the config init just wrote, so the rest sees exactly the file. */
static int build_instance(const struct init_opts *o, const char *dir)
{
	struct buf etc = BUF_INIT, conf = BUF_INIT, libexec = BUF_INIT, err = BUF_INIT;
	struct config cfg;
	int r = -1;
	buf_printf(&etc, "%s/etc", dir);
	if (priv_is_root())
		buf_printf(&libexec, "%s/libexec", dir);
	else if (build_libexec(&libexec) < 0)
		goto out;
	conf_text(o, dir, buf_cstr(&libexec), &conf);
	if (make_dir(buf_cstr(&etc), 0755, 0, 0) < 0 ||
	    write_text(etc.s, "posthorn.conf", buf_cstr(&conf), 0644) < 0 ||
	    write_tables(o, etc.s) < 0)
		goto out;
	buf_reset(&conf);
	buf_printf(&conf, "%s/posthorn.conf", etc.s);
	if (config_load(&cfg, buf_cstr(&conf), &err) < 0) {
		complain("init: %s", buf_cstr(&err));
		goto out;
	}
	r = make_queue(&cfg, dir);
	if (r == 0)
		r = make_store_and_log(&cfg, dir);
	if (r == 0)
		r = tls_init_instance(&cfg);
	if (r == 0 && priv_is_root())
		r = install_daemons(&cfg, dir);
	if (r == 0)
		r = makemap_all(&cfg);
	if (r == 0)
		r = fsync_dir(etc.s) < 0 || fsync_dir(dir) < 0 ? -1 : 0;
	config_free(&cfg);
out:
	buf_free(&etc);
	buf_free(&conf);
	buf_free(&libexec);
	buf_free(&err);
	return r;
}

/* Root mode: accounts first, then make sure they can reach DIR at all. */
static int root_prepare(const char *dir)
{
	struct config defaults;
	struct buf err = BUF_INIT;
	if (config_load(&defaults, "/dev/null", &err) < 0) {
		complain("init: %s", buf_cstr(&err));
		buf_free(&err);
		return -1;
	}
	int r = ensure_accounts(&defaults);
	if (r == 0 && dir_traversable(&defaults, dir, &err) < 0) {
		complain("init: %s", buf_cstr(&err));
		r = -1;
	}
	config_free(&defaults);
	buf_free(&err);
	return r;
}

int cmd_init(int argc, char **argv)
{
	struct init_opts o = {0};
	if (parse_opts(argc, argv, &o) < 0)
		return 2;
	if (!dir_fresh(o.dir)) {
		complain("init: %s already exists and is not empty: refusing to overwrite it", o.dir);
		return 1;
	}
	char abs[PATH_MAX];
	if (dir_ensure_parents(o.dir) < 0 || !realpath(o.dir, abs)) {
		complain("init: %s: %s", o.dir, strerror(errno));
		return 1;
	}
	if (chmod(abs, 0755) < 0 || (priv_is_root() && root_prepare(abs) < 0))
		return 1;
	if (build_instance(&o, abs) < 0) {
		complain("init: %s is incomplete; remove it and run init again", abs);
		return 1;
	}
	printf("posthorn instance created in %s (%s mode)\n"
	       "next: posthorn -C %s user add USER@%s   (password on stdin)\n"
	       "      posthorn -C %s start\n",
	       abs, priv_is_root() ? "root" : "single-user", abs, o.domain, abs);
	return 0;
}
