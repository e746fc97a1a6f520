/*
 * NAME
 *	posthorn - set up and control a posthorn mail instance
 *
 * SYNOPSIS
 *	posthorn init DIR [--domain D] [--hostname H] [--listen ADDR] [--port-base N]
 *	posthorn [-C DIR | -c CONFIG] start [--foreground] | stop | reload | status
 *	posthorn [-C DIR | -c CONFIG] user add|passwd|del ADDRESS [--quota SIZE]
 *	posthorn [-C DIR | -c CONFIG] makemap
 *	posthorn [-C DIR | -c CONFIG] check
 *	posthorn [-C DIR | -c CONFIG] flush
 *	posthorn [-C DIR | -c CONFIG] queue [list] | show ID | delete ID | hold ID |
 *		release ID | flush
 *	posthorn [-C DIR | -c CONFIG] tls renew
 *	posthorn help
 *
 * DESCRIPTION
 *	The administrator's tool.  -C DIR names an instance: its config is
 *	DIR/posthorn.conf if that exists (installed layouts, /etc/posthorn),
 *	else DIR/etc/posthorn.conf (instances made by init).  Without -C or -c
 *	the config is $POSTHORN_CONFIG or /etc/posthorn/posthorn.conf.
 *	init creates an instance; run as root it also creates the service
 *	accounts and installs the daemons into DIR/libexec.  Passwords for
 *	user add and user passwd are read from stdin, one line.
 *
 * EXIT STATUS
 *	0 success; 1 failure (the message says what and where); 2 usage;
 *	status: 0 running, 3 stopped.
 *
 * FILES
 *	DIR/etc/posthorn.conf, DIR/etc/{domains,aliases,users}[.cdb],
 *	DIR/etc/passwd.cdb, DIR/log/master.pid, DIR/log/posthorn.log
 */
#include "posthorn.h"
#include "log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: posthorn init DIR [--domain D] [--hostname H] [--listen ADDR] [--port-base N]\n"
	"       posthorn [-C DIR | -c CONFIG] COMMAND [ARGS]\n"
	"commands:\n"
	"  start [--foreground]       start the master (and through it every daemon)\n"
	"  stop                       stop the master and its children\n"
	"  reload                     re-read config, tables, certificates; no mail or\n"
	"                             connection is lost (a bad config is refused)\n"
	"  status                     running (exit 0) or stopped (exit 3)\n"
	"  check                      config, tables, owners and modes, TLS files\n"
	"  user add ADDR [--quota SIZE]   add a mailbox; password on stdin\n"
	"  user passwd ADDR           change a password; new password on stdin\n"
	"  user del ADDR              remove a user (the Maildir is kept)\n"
	"  makemap                    rebuild every table's .cdb from its text\n"
	"  flush                      retry every queued message now\n"
	"  queue [list]               the queue listing (as mailq)\n"
	"  queue show|delete ID       one message's envelope and text; remove it\n"
	"  queue hold|release ID      keep a message from delivery; send it on\n"
	"  queue flush                the same as flush\n"
	"  tls renew                  new server certificate from the instance CA\n"
	"  help                       this text\n";

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

/* -C DIR: DIR/posthorn.conf (installed) or DIR/etc/posthorn.conf. */
static void config_from_dir(const char *dir, struct buf *out)
{
	struct stat st;
	buf_reset(out);
	buf_printf(out, "%s/posthorn.conf", dir);
	if (stat(buf_cstr(out), &st) == 0)
		return;
	buf_reset(out);
	buf_printf(out, "%s/etc/posthorn.conf", dir);
	buf_cstr(out);
}

/* Children (master, daemons) may run elsewhere: give them an absolute path. */
static int config_open(const char *path, struct config *cfg)
{
	char abs[PATH_MAX];
	struct buf err = BUF_INIT;
	if (!realpath(path, abs)) {
		complain("%s: no such config file (is this an instance? see posthorn init)", path);
		return -1;
	}
	if (config_load(cfg, abs, &err) < 0) {
		complain("%s", buf_cstr(&err));
		buf_free(&err);
		config_free(cfg);
		return -1;
	}
	buf_free(&err);
	return 0;
}

typedef int (*cmd_fn)(const struct config *, int, char **);

static cmd_fn find_command(const char *name)
{
	static const struct {
		const char *name;
		cmd_fn fn;
	} cmds[] = {
		{"start", cmd_start}, {"stop", cmd_stop}, {"reload", cmd_reload},
		{"status", cmd_status},
		{"user", cmd_user}, {"makemap", cmd_makemap}, {"flush", cmd_flush},
		{"queue", cmd_queue}, {"tls", cmd_tls}, {"check", cmd_check}, {NULL, NULL},
	};
	for (int i = 0; cmds[i].name; i++)
		if (!strcmp(cmds[i].name, name))
			return cmds[i].fn;
	return NULL;
}

int main(int argc, char **argv)
{
	struct buf confpath = BUF_INIT;
	log_init("posthorn", 0);
	umask(022);
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-C") && i + 1 < argc) {
			config_from_dir(argv[++i], &confpath);
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			buf_reset(&confpath);
			buf_puts(&confpath, argv[++i]);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			complain("unknown option %s", argv[i]);
			return usage();
		}
	}
	if (i >= argc)
		return usage();
	const char *cmd = argv[i];
	if (!strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "init"))
		return cmd_init(argc - i, argv + i);
	cmd_fn fn = find_command(cmd);
	if (!fn) {
		complain("unknown command \"%s\"", cmd);
		return usage();
	}
	if (!confpath.len)
		buf_puts(&confpath, config_default_path());
	struct config cfg;
	if (config_open(buf_cstr(&confpath), &cfg) < 0) {
		if (!strcmp(cmd, "reload"))
			complain("reload refused: the running service keeps its config");
		buf_free(&confpath);
		return 1;
	}
	buf_free(&confpath);
	int rc = fn(&cfg, argc - i, argv + i);
	config_free(&cfg);
	return rc;
}
