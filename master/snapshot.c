/* snapshot.c: the copy of the config that the master's children read.
 * master (main.c) loads the administrator's CONFIG, checks it, and only
 * then renames its copy CONFIG.running.tmp to CONFIG.running, the path
 * every program it starts gets with -c (doc/design.md "Reload").  The
 * tables and TLS files are found beside it, as beside CONFIG. */
#include "master.h"
#include "io.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int enabled;	/* 0 with --no-listen: no copy */
static struct buf conf_src = BUF_INIT;	/* the administrator's config file */
static struct buf conf_run = BUF_INIT;	/* what children read: CONFIG.running */
static struct buf conf_tmp = BUF_INIT;	/* CONFIG.running.tmp: staged, not yet accepted */

#define CONFIG_FILE_MAX (1u << 20)

/* Writes text to CONFIG.running.tmp with the source's owner and mode (so
 * enqueue's checks on its config hold for the copy too). */
static int snapshot_write(const struct buf *text, const char *tmp)
{
	struct stat st;
	if (stat(conf_src.s, &st) < 0)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int r = write_all(fd, text->s, text->len);
	if (r == 0 && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)
		r = -1;
	if (r == 0 && fchmod(fd, st.st_mode & 0755) < 0)
		r = -1;
	if (close(fd) < 0)
		r = -1;
	return r;
}

/* Children never read the administrator's file itself: they get
 * CONFIG.running, a copy of bytes that loaded without error and passed
 * every check, put in place by rename only then (config_commit).  A
 * half-edited or broken file changes nothing, not even for new sessions,
 * until a reload accepts it.  Where the copy cannot be written, and with
 * --no-listen, the file itself is used.
 * config_stage loads CONFIG into out, from the copy CONFIG.running.tmp
 * when there is one: 0 ok; -1 with the config's own error in err. */
int config_stage(struct config *out, struct buf *err)
{
	if (config_load(out, conf_src.s, err) < 0) {
		config_free(out);
		return -1;
	}
	/* --no-listen: systemd or inetd start the sessions, with CONFIG itself
	 * (and systemd keeps the config directory read-only for us) */
	if (!enabled)
		return 0;
	struct buf text = BUF_INIT;
	int r = file_read(conf_src.s, &text, CONFIG_FILE_MAX);
	if (r == 0 && snapshot_write(&text, conf_tmp.s) == 0) {
		struct config copy;
		if (config_load(&copy, conf_tmp.s, err) < 0) {
			buf_reset(err);
			buf_printf(err, "%s changed while it was read; try again", conf_src.s);
			config_free(&copy);
			config_free(out);
			unlink(conf_tmp.s);
			r = -1;
		} else {
			config_free(out);
			*out = copy;
		}
	} else {
		log_warn("%s: %s: children read %s itself", conf_tmp.s, strerror(errno), conf_src.s);
		r = 0;
	}
	buf_free(&text);
	return r < 0 ? -1 : 0;
}

/* The staged config becomes CONFIG.running, the path every child gets. */
int config_commit(struct config *c, struct buf *err)
{
	if (strcmp(c->path, conf_tmp.s))
		return 0;	/* CONFIG itself */
	if (rename(conf_tmp.s, conf_run.s) < 0) {
		buf_printf(err, "%s: %s", conf_run.s, strerror(errno));
		unlink(conf_tmp.s);
		return -1;
	}
	config_free(c);
	return config_load(c, conf_run.s, err) < 0 ? -1 : 0;
}

/* A staged config that was refused: its copy goes. */
void config_drop(struct config *c)
{
	if (!strcmp(c->path, conf_tmp.s))
		unlink(conf_tmp.s);
	config_free(c);
}

void snapshot_init(const char *conf, int copy)
{
	enabled = copy;
	buf_puts(&conf_src, conf);
	buf_printf(&conf_run, "%s.running", conf);
	buf_printf(&conf_tmp, "%s.running.tmp", conf);
	buf_cstr(&conf_src);	/* all three are used as C strings (.s) from here on */
	buf_cstr(&conf_run);
	buf_cstr(&conf_tmp);
}

const char *config_source(void)
{
	return conf_src.s;
}

void snapshot_end(const struct config *c)
{
	if (!strcmp(c->path, conf_run.s))
		unlink(conf_run.s);
	buf_free(&conf_src);
	buf_free(&conf_run);
	buf_free(&conf_tmp);
}
