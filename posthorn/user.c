/* user.c: posthorn user add | passwd | del: edits the users table text
 * (address:hash:mailbox:quota), creates the Maildir, rebuilds the tables.
 * Passwords come from stdin only, so they never show in ps or history. */
#include "posthorn.h"
#include "addr.h"
#include "fsutil.h"
#include "io.h"
#include "password.h"
#include "privsep.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define PASSWORD_MAX 1024

static const char *const folders[] = {".Sent", ".Drafts", ".Trash", ".Junk", ".Archive", NULL};

struct user_req {
	const char *verb;
	struct buf addr;	/* lowercased local@domain */
	long long quota;
};

/* One line from stdin, without its line end; bounded. */
static int read_password(struct buf *pw)
{
	struct io in;
	io_init(&in, 0, -1, 0);
	int r = io_getline(&in, pw, PASSWORD_MAX);
	io_free(&in);
	if (r == LINE_TOOLONG) {
		complain("user: password longer than %d bytes", PASSWORD_MAX - 2);
		return -1;
	}
	while (pw->len && (pw->s[pw->len - 1] == '\n' || pw->s[pw->len - 1] == '\r'))
		pw->len--;
	if (r != LINE_OK || pw->len == 0) {
		complain("user: no password on stdin (give it as one line)");
		return -1;
	}
	return 0;
}

/* The local part becomes a directory name: only plain dot-atoms. */
static int check_address(const struct config *cfg, struct user_req *u)
{
	const char *s = u->addr.s;
	size_t n = u->addr.len, dlen;
	const char *at = memchr(s, '@', n);
	if (addr_check(s, n, 0) != ADDR_OK || !at || s[0] == '"' || memchr(s, '/', n) ||
	    memchr(s, ':', n) || s[0] == '.') {
		complain("user: \"%s\" is not a usable address (local@domain, no quotes, '/' or ':')", s);
		return -1;
	}
	mem_lower(u->addr.s, u->addr.len);
	const char *d = addr_domain(s, n, &dlen);
	struct table t;
	struct buf path = BUF_INIT;
	config_file(cfg, "domains.cdb", &path);
	int found = table_open(&t, path.s) < 0 ? -1 : table_lookup(&t, d, dlen, NULL);
	table_close(&t);
	if (found < 0)
		complain("user: %s: %s", path.s, strerror(errno));
	else if (found == 0)
		complain("user: %.*s is not a local domain (add it to %s/domains, run makemap)",
			 (int)dlen, d, cfg->dir);
	buf_free(&path);
	return found == 1 ? 0 : -1;
}

/* Finds addr's line in the users text: offset and length, or -1. */
static long find_line(const struct buf *text, const struct buf *addr, size_t *len)
{
	size_t off = 0;
	while (off < text->len) {
		const char *nl = memchr(text->s + off, '\n', text->len - off);
		size_t n = nl ? (size_t)(nl - (text->s + off)) + 1 : text->len - off;
		const char *c = memchr(text->s + off, ':', n);
		if (c && mem_caseeq(text->s + off, (size_t)(c - (text->s + off)), addr->s, addr->len)) {
			*len = n;
			return (long)off;
		}
		off += n;
	}
	return -1;
}

static int make_maildir(const char *dir, uid_t uid, gid_t gid, int is_folder)
{
	static const char *const sub[] = {"cur", "new", "tmp", NULL};
	struct buf p = BUF_INIT;
	int r = dir_ensure(dir, 0700, priv_is_root() ? uid : (uid_t)-1, gid);
	for (int i = 0; sub[i] && r == 0; i++) {
		buf_reset(&p);
		buf_printf(&p, "%s/%s", dir, sub[i]);
		r = dir_ensure(buf_cstr(&p), 0700, priv_is_root() ? uid : (uid_t)-1, gid);
	}
	if (r == 0 && is_folder) {	/* Maildir++: marks a folder */
		buf_reset(&p);
		buf_printf(&p, "%s/maildirfolder", dir);
		int fd = open(buf_cstr(&p), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		r = fd < 0 || (priv_is_root() && fchown(fd, uid, gid) < 0) ? -1 : 0;
		if (fd >= 0)
			close(fd);
	}
	if (r == 0)
		r = fsync_dir(dir);
	if (r < 0)
		complain("user: %s: %s", p.len ? p.s : dir, strerror(errno));
	buf_free(&p);
	return r;
}

static int create_mailbox(const struct config *cfg, const char *mailbox)
{
	uid_t uid;
	gid_t gid;
	if (service_ids(cfg, "user_mail", &uid, &gid) < 0) {
		complain("user: unknown user %s", config_str(cfg, "user_mail"));
		return -1;
	}
	struct buf p = BUF_INIT;
	const char *slash = strchr(mailbox, '/');
	buf_printf(&p, "%s/%.*s", config_str(cfg, "mail_dir"), (int)(slash - mailbox), mailbox);
	int r = dir_ensure(buf_cstr(&p), 0700, priv_is_root() ? uid : (uid_t)-1, gid);
	if (r < 0)
		complain("user: %s: %s", p.s, strerror(errno));
	buf_reset(&p);
	buf_printf(&p, "%s/%s", config_str(cfg, "mail_dir"), mailbox);
	buf_truncate(&p, p.len - 1);	/* the trailing '/' */
	if (r == 0)
		r = make_maildir(buf_cstr(&p), uid, gid, 0);
	struct buf f = BUF_INIT;
	for (int i = 0; folders[i] && r == 0; i++) {
		buf_reset(&f);
		buf_printf(&f, "%s/%s", p.s, folders[i]);
		r = make_maildir(buf_cstr(&f), uid, gid, 1);
	}
	if (r == 0)
		r = fsync_parent(p.s);
	buf_free(&f);
	buf_free(&p);
	return r;
}

/* Builds the new users text for the verb; -1 with a message on error. */
static int edit_text(const struct user_req *u, const struct buf *hash, struct buf *text,
		     struct buf *mailbox)
{
	size_t len = 0, dlen;
	long at = find_line(text, &u->addr, &len);
	if (!strcmp(u->verb, "add") && at >= 0) {
		complain("user: %s already exists", u->addr.s);
		return -1;
	}
	if (strcmp(u->verb, "add") && at < 0) {
		complain("user: %s: no such user", u->addr.s);
		return -1;
	}
	const char *d = addr_domain(u->addr.s, u->addr.len, &dlen);
	size_t llen = u->addr.len - dlen - 1;
	struct buf line = BUF_INIT;
	if (!strcmp(u->verb, "add")) {
		buf_printf(mailbox, "%.*s/%.*s/", (int)dlen, d, (int)llen, u->addr.s);
		buf_printf(&line, "%s:%s:%s:%lld\n", u->addr.s, hash->s, buf_cstr(mailbox), u->quota);
		if (text->len && text->s[text->len - 1] != '\n')
			buf_putc(text, '\n');
		buf_append(text, line.s, line.len);
	} else {
		struct buf rest = BUF_INIT;
		buf_append(&rest, text->s + at + len, text->len - (size_t)at - len);
		if (!strcmp(u->verb, "passwd")) {	/* keep mailbox and quota */
			const char *old = text->s + at;
			const char *c1 = memchr(old, ':', len);
			const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - old)) : NULL;
			if (!c2) {
				complain("user: malformed line for %s", u->addr.s);
				buf_free(&rest);
				return -1;
			}
			buf_printf(&line, "%s:%s", u->addr.s, hash->s);
			buf_append(&line, c2, len - (size_t)(c2 - old));
		}
		buf_truncate(text, (size_t)at);
		buf_append(text, line.s, line.len);
		buf_append(text, rest.s, rest.len);
		buf_free(&rest);
	}
	buf_free(&line);
	return 0;
}

static int parse_user_args(int argc, char **argv, struct user_req *u)
{
	if (argc < 3 || (strcmp(argv[1], "add") && strcmp(argv[1], "passwd") && strcmp(argv[1], "del"))) {
		complain("usage: posthorn user add|passwd|del ADDRESS [--quota SIZE]");
		return -1;
	}
	u->verb = argv[1];
	buf_puts(&u->addr, argv[2]);
	buf_cstr(&u->addr);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--quota") && i + 1 < argc && !strcmp(u->verb, "add")) {
			if (config_parse_num(CT_SIZE, argv[++i], &u->quota) < 0) {
				complain("user: --quota %s: expected a size such as 500M", argv[i]);
				return -1;
			}
		} else {
			complain("user: unexpected argument %s", argv[i]);
			return -1;
		}
	}
	return 0;
}

/* Serialises concurrent user commands: each rewrites the whole file. */
static int lock_users(const struct config *cfg)
{
	struct buf p = BUF_INIT;
	config_file(cfg, ".users.lock", &p);
	int fd = open(p.s, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		complain("user: %s: %s", p.s, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	buf_free(&p);
	return fd;
}

/* 1 if the aliases text has an active entry for key. */
static int has_alias(const struct buf *text, const char *key)
{
	size_t klen = strlen(key), off = 0;
	while (off < text->len) {
		const char *line = text->s + off;
		const char *nl = memchr(line, '\n', text->len - off);
		size_t n = nl ? (size_t)(nl - line) : text->len - off;
		while (n && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		if (n > klen && mem_caseprefix(line, n, key) &&
		    (line[klen] == ':' || line[klen] == ' ' || line[klen] == '\t' || line[klen] == '@'))
			return 1;
		off += (nl ? (size_t)(nl - (text->s + off)) : text->len - off) + 1;
	}
	return 0;
}

/* RFC 5321 4.5.1 wants postmaster to reach a person: the first user added
 * becomes postmaster unless the aliases file already names one. */
static int postmaster_default(const struct config *cfg, const struct user_req *u)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	config_file(cfg, "aliases", &path);
	int r = file_read(path.s, &text, 64 << 20);
	if (r < 0 && !(r == -1 && errno == ENOENT)) {
		complain("user: %s: %s", path.s, r == -2 ? "too large" : strerror(errno));
		r = -1;
	} else if (!has_alias(&text, "postmaster")) {
		if (text.len && text.s[text.len - 1] != '\n')
			buf_putc(&text, '\n');
		buf_printf(&text, "postmaster: %s\n", u->addr.s);
		r = file_write_atomic(path.s, text.s, text.len, 0644);
		if (r < 0)
			complain("user: %s: %s", path.s, strerror(errno));
		else
			printf("postmaster now goes to %s (etc/aliases)\n", u->addr.s);
	} else {
		r = 0;
	}
	buf_free(&path);
	buf_free(&text);
	return r;
}

static int user_change(const struct config *cfg, struct user_req *u)
{
	struct buf pw = BUF_INIT, hash = BUF_INIT, text = BUF_INIT, path = BUF_INIT, mbox = BUF_INIT;
	int r = -1, lock = -1;
	if (strcmp(u->verb, "del") && read_password(&pw) < 0)
		goto out;
	if (pw.len && password_hash(pw.s, pw.len, &hash) < 0) {
		complain("user: crypt(3) failed to hash the password");
		goto out;
	}
	buf_cstr(&hash);
	if ((lock = lock_users(cfg)) < 0)
		goto out;
	config_file(cfg, "users", &path);
	int fr = file_read(path.s, &text, 64 << 20);
	if (fr < 0 && !(fr == -1 && errno == ENOENT)) {
		complain("user: %s: %s", path.s, fr == -2 ? "too large" : strerror(errno));
		goto out;
	}
	if (edit_text(u, &hash, &text, &mbox) < 0)
		goto out;
	if (mbox.len && create_mailbox(cfg, buf_cstr(&mbox)) < 0)
		goto out;
	if (file_write_atomic(path.s, text.s, text.len, 0600) < 0) {
		complain("user: %s: %s", path.s, strerror(errno));
		goto out;
	}
	if (!strcmp(u->verb, "add") && postmaster_default(cfg, u) < 0)
		goto out;
	r = makemap_all(cfg);
out:
	if (lock >= 0)
		close(lock);
	if (pw.s)
		explicit_bzero(pw.s, pw.cap);
	buf_free(&pw);
	buf_free(&hash);
	buf_free(&text);
	buf_free(&path);
	buf_free(&mbox);
	return r;
}

int cmd_user(const struct config *cfg, int argc, char **argv)
{
	struct user_req u = {.addr = BUF_INIT};
	if (parse_user_args(argc, argv, &u) < 0) {
		buf_free(&u.addr);
		return 2;
	}
	int r = check_address(cfg, &u) < 0 ? -1 : user_change(cfg, &u);
	if (r == 0 && !strcmp(u.verb, "del"))
		printf("removed %s (its Maildir is kept)\n", u.addr.s);
	else if (r == 0)
		printf("%s %s\n", !strcmp(u.verb, "add") ? "added" : "password changed for", u.addr.s);
	buf_free(&u.addr);
	return r < 0 ? 1 : 0;
}
