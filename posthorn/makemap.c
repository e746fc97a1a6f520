/* makemap.c: posthorn makemap, and makemap_all() which init and user call
 * after changing a table.  Every .cdb is written to a temporary file,
 * fsynced and renamed (common/table.c), so readers never see half a table. */
#include "posthorn.h"
#include "privsep.h"
#include "table.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* passwd.cdb is readable by user_auth only (the AUTH code), never by smtpd. */
static int passwd_owner(const struct config *cfg, const char *path)
{
	if (!priv_is_root())
		return 0;
	const char *name = config_str(cfg, "user_auth");
	gid_t gid;
	struct account a;
	if (group_lookup(name, &gid) < 0) {
		if (account_lookup(name, &a) < 0) {
			complain("%s: group %s does not exist", path, name);
			return -1;
		}
		gid = a.gid;
	}
	if (chown(path, 0, gid) < 0 || chmod(path, 0640) < 0) {
		complain("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int make_one(const struct config *cfg, const char *name, enum table_format f)
{
	struct buf text = BUF_INIT, cdb = BUF_INIT, pw = BUF_INIT, err = BUF_INIT;
	config_file(cfg, name, &text);
	buf_puts(&cdb, text.s);
	buf_puts(&cdb, ".cdb");
	buf_cstr(&cdb);
	if (f == TF_USERS)
		config_file(cfg, "passwd.cdb", &pw);
	int r = table_make(text.s, cdb.s, f, f == TF_USERS ? pw.s : NULL, 0640, &err);
	if (r < 0)
		complain("%s", buf_cstr(&err));
	if (r == 0 && f == TF_USERS)
		r = passwd_owner(cfg, pw.s);
	buf_free(&text);
	buf_free(&cdb);
	buf_free(&pw);
	buf_free(&err);
	return r;
}

int makemap_all(const struct config *cfg)
{
	if (make_one(cfg, "domains", TF_LIST) < 0 || make_one(cfg, "aliases", TF_MAP) < 0 ||
	    make_one(cfg, "users", TF_USERS) < 0 || make_one(cfg, "transport", TF_MAP) < 0 ||
	    make_one(cfg, "tls-policy", TF_MAP) < 0)
		return -1;
	return 0;
}

int cmd_makemap(const struct config *cfg, int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		complain("usage: posthorn makemap (no arguments)");
		return 2;
	}
	return makemap_all(cfg) < 0 ? 1 : 0;
}
