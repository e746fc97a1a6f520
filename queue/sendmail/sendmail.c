/*
 * NAME
 *     sendmail - Sendmail-compatible mail injection for posthorn
 *
 * SYNOPSIS
 *     sendmail [-t] [-i] [-oi] [-f SENDER] [-F FULLNAME] [-C CONFIG]
 *              [-bm | -bp] [-oX...] [--] [RECIPIENT ...]
 *
 * DESCRIPTION
 *     Reads a message on stdin (LF or CRLF line ends; without -i/-oi a
 *     line holding only "." ends it) and queues it through
 *     libexec/enqueue, running as the invoking user.  Recipients are the
 *     arguments, plus with -t the To:, Cc: and Bcc: addresses (Bcc: is
 *     removed).  Addresses without '@' get the configured domain.  The
 *     sender is -f (or -r; "<>" or "" is the null sender), else
 *     LOGIN@hostname.  Adds a Received: line "by HOST (posthorn) id QID;
 *     DATE", and From: (with the -F name), Date: and Message-ID: when
 *     missing.  -bp lists the queue (mailq).  Other -o options and the
 *     usual no-op flags (-v, -U, -m, -n, -x, -N, -R, -V, -B, -L, -X, -O,
 *     -h, -p) are accepted and ignored.  The config file is -C FILE (or
 *     -c FILE), else $POSTHORN_CONFIG, else /etc/posthorn/posthorn.conf.
 *
 * EXIT STATUS
 *     0 queued; 64 usage; 65 bad message or address, or refused by the
 *     queue; 71 cannot read stdin or start enqueue; 75 temporary failure,
 *     try again; 78 bad config.
 *
 * FILES
 *     LIBEXEC/enqueue, the config file
 */
#include "sendmail.h"
#include "addr.h"
#include "io.h"
#include "qfile.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct opts {
	int t, dot_ok, list;
	const char *from, *fullname, *config;
	char **args;		/* recipients */
	int nargs;
};

void fail(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("sendmail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

void rcpts_add(struct rcpts *r, const char *a, size_t n, const char *domain)
{
	struct buf b = BUF_INIT;
	buf_set(&b, a, n);
	if (!memchr(a, '@', n))
		buf_printf(&b, "@%s", domain);
	if (addr_check(b.s, b.len, 1) != ADDR_OK)
		fail(EX_DATAERR_, "bad address: %s", buf_cstr(&b));
	addr_normalize(&b);
	if (r->n == r->cap) {
		r->cap = r->cap ? size_mul(r->cap, 2) : 8;
		r->v = xrealloc(r->v, size_mul(r->cap, sizeof *r->v));
	}
	r->v[r->n++] = b;
}

/* The value of a flag: attached ("-fbob") or the next argument. */
static const char *flag_value(int argc, char **argv, int *i, const char *rest)
{
	if (*rest)
		return rest;
	if (*i + 1 >= argc)
		fail(EX_USAGE_, "option %s needs a value", argv[*i]);
	return argv[++*i];
}

static void parse_b(struct opts *o, const char *mode)
{
	if (!strcmp(mode, "m"))
		return;
	if (!strcmp(mode, "p")) {
		o->list = 1;
		return;
	}
	fail(EX_USAGE_, "-b%s is not supported (only -bm and -bp)", mode);
}

static void parse_opts(struct opts *o, int argc, char **argv)
{
	int i;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		char c = a[1];
		const char *rest = a + 2;
		if (c == 't' && !*rest)
			o->t = 1;
		else if (c == 'i' && !*rest)
			o->dot_ok = 1;
		else if (c == 'f' || c == 'r')
			o->from = flag_value(argc, argv, &i, rest);
		else if (c == 'F')
			o->fullname = flag_value(argc, argv, &i, rest);
		else if (c == 'C' || c == 'c')
			o->config = flag_value(argc, argv, &i, rest);
		else if (c == 'b')
			parse_b(o, flag_value(argc, argv, &i, rest));
		else if (c == 'o') {
			const char *v = flag_value(argc, argv, &i, rest);
			if (!strcmp(v, "i"))
				o->dot_ok = 1;
		} else if (strchr("NRVBLXOhp", c))
			(void)flag_value(argc, argv, &i, rest);	/* ignored, with its value */
		else if (strchr("vUmnxGAq", c))
			;	/* ignored */
		else
			fail(EX_USAGE_, "unknown option %s", a);
	}
	o->args = argv + i;
	o->nargs = argc - i;
}

struct arg_ctx {
	struct rcpts *r;
	const char *domain;
};

static void arg_one(const char *s, size_t len, void *p)
{
	struct arg_ctx *c = p;
	rcpts_add(c->r, s, len, c->domain);
}

/* An argument may be a bare address or an address list. */
static void add_arg(struct rcpts *r, const char *a, const char *domain)
{
	size_t n = strlen(a), before = r->n;
	if (!strpbrk(a, "<,\"(")) {
		rcpts_add(r, a, n, domain);
		return;
	}
	struct arg_ctx c = {r, domain};
	if (addr_list_parse(a, n, arg_one, &c) < 0 || r->n == before)
		fail(EX_DATAERR_, "bad address: %s", a);
}

static void sender_of(const struct opts *o, const struct config *cfg, struct buf *out)
{
	if (o->from) {
		size_t n = strlen(o->from);
		const char *f = o->from;
		if (n >= 2 && f[0] == '<' && f[n - 1] == '>') {
			f++;
			n -= 2;
		}
		buf_set(out, f, n);
		if (n && !memchr(f, '@', n))
			buf_printf(out, "@%s", config_str(cfg, "domain"));
		if (out->len && addr_check(out->s, out->len, 1) != ADDR_OK)
			fail(EX_DATAERR_, "bad sender address: %s", o->from);
		return;
	}
	struct passwd *pw = getpwuid(getuid());
	if (!pw)
		fail(EX_NOUSER_, "who are you? (uid %ld has no passwd entry)", (long)getuid());
	buf_printf(out, "%s@%s", pw->pw_name, config_str(cfg, "hostname"));
	if (addr_check(out->s, out->len, 1) != ADDR_OK)
		fail(EX_DATAERR_, "cannot make a sender address from %s", buf_cstr(out));
}

/* Runs enqueue; *to_fd writes its stdin, *from_fd reads its stdout. */
static pid_t start_enqueue(const struct config *cfg, int *to_fd, int *from_fd)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		fail(EX_OSERR_, "pipe: %s", strerror(errno));
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/enqueue", config_str(cfg, "libexec_dir"));
	pid_t pid = fork();
	if (pid < 0)
		fail(EX_TEMPFAIL_, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(111);
		char *args[] = {"enqueue", "-c", cfg->path, NULL};
		execv(buf_cstr(&path), args);
		fprintf(stderr, "sendmail: cannot run %s: %s\n", path.s, strerror(errno));
		_exit(111);
	}
	close(in[0]);
	close(out[1]);
	buf_free(&path);
	*to_fd = in[1];
	*from_fd = out[0];
	return pid;
}

static void put_message(struct buf *recs, const struct buf *whole)
{
	for (size_t off = 0; off < whole->len; off += 1u << 20) {
		size_t n = whole->len - off < (1u << 20) ? whole->len - off : (1u << 20);
		rec_put(recs, REC_MESSAGE, whole->s + off, n);
	}
}

/* Builds the records for enqueue; the Received: line needs the qid. */
static void build_records(struct buf *recs, const char *qid, const struct buf *sender,
			  const struct rcpts *r, const struct msg *m, const char *host)
{
	rec_put(recs, REC_SENDER, sender->s, sender->len);
	rec_puts(recs, REC_ATTR, "proto=sendmail");
	for (size_t i = 0; i < r->n; i++)
		rec_put(recs, REC_RCPT, r->v[i].s, r->v[i].len);
	struct buf whole = BUF_INIT;
	buf_printf(&whole, "Received: by %s (posthorn) id %s; ", host, qid);
	date_now(&whole);
	buf_putc(&whole, '\n');
	buf_append(&whole, m->header.s, m->header.len);
	buf_putc(&whole, '\n');
	buf_append(&whole, m->body.s, m->body.len);
	put_message(recs, &whole);
	buf_free(&whole);
	rec_put(recs, REC_END, "", 0);
}

static int exit_code(int status, const struct buf *reply)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && mem_caseprefix(reply->s, reply->len, "ok "))
		return EX_OK_;
	if (reply->len)
		fprintf(stderr, "sendmail: %.*s", (int)reply->len, reply->s);
	else
		fprintf(stderr, "sendmail: the queue did not answer\n");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		return EX_DATAERR_;
	return EX_TEMPFAIL_;
}

static int queue_message(const struct config *cfg, const struct buf *sender,
			 const struct rcpts *r, const struct msg *m)
{
	int to, from;
	pid_t pid = start_enqueue(cfg, &to, &from);
	struct io io;
	io_init(&io, from, -1, 0);
	struct buf line = BUF_INIT, recs = BUF_INIT, reply = BUF_INIT;
	if (io_getline(&io, &line, 1024) == LINE_OK && line.len > 1 &&
	    qid_valid(line.s, line.len - 1)) {
		buf_truncate(&line, line.len - 1);
		build_records(&recs, buf_cstr(&line), sender, r, m, config_str(cfg, "hostname"));
		if (write_all(to, recs.s, recs.len) < 0) {
			/* enqueue stopped reading: its reply says why */
		}
	} else {
		buf_copy(&reply, &line);
	}
	close(to);
	while (io_getline(&io, &line, 1024) == LINE_OK)
		buf_copy(&reply, &line);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int rc = exit_code(status, &reply);
	io_free(&io);
	close(from);
	buf_free(&line);
	buf_free(&recs);
	buf_free(&reply);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	signal(SIGPIPE, SIG_IGN);
	parse_opts(&o, argc, argv);
	struct config cfg;
	struct buf err = BUF_INIT;
	if (config_load(&cfg, o.config ? o.config : config_default_path(), &err) < 0)
		fail(EX_CONFIG_, "%s", buf_cstr(&err));
	if (o.list) {
		if (qlist_print(&cfg, 1, &err) < 0)
			fail(1, "%s", buf_cstr(&err));
		config_free(&cfg);
		buf_free(&err);
		return 0;
	}
	const char *domain = config_str(&cfg, "domain");
	struct rcpts r = {0};
	for (int i = 0; i < o.nargs; i++)
		add_arg(&r, o.args[i], domain);
	struct buf sender = BUF_INIT;
	sender_of(&o, &cfg, &sender);
	struct msg m = {BUF_INIT, BUF_INIT};
	message_read(&m, o.dot_ok, (size_t)config_num(&cfg, "max_message_size"));
	if (o.t)
		message_take_rcpts(&m, &r, domain);
	if (r.n == 0)
		fail(EX_USAGE_, "no recipients (give them as arguments, or use -t)");
	struct buf from = BUF_INIT;
	if (sender.len)
		buf_copy(&from, &sender);
	else
		sender_of(&(struct opts){0}, &cfg, &from);
	message_add_headers(&m, buf_cstr(&from), o.fullname, config_str(&cfg, "hostname"));
	int rc = queue_message(&cfg, &sender, &r, &m);
	for (size_t i = 0; i < r.n; i++)
		buf_free(&r.v[i]);
	free(r.v);
	buf_free(&m.header);
	buf_free(&m.body);
	buf_free(&sender);
	buf_free(&from);
	buf_free(&err);
	config_free(&cfg);
	return rc;
}
