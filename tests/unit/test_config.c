/* Unit tests for common/config.c and common/table.c. */
#include "config.h"
#include "table.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/posthorn-unit.XXXXXX";

static void write_file(const char *name, const char *text)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, name);
	FILE *f = fopen(buf_cstr(&p), "w");
	fputs(text, f);
	fclose(f);
	buf_free(&p);
}

static int load(const char *text, struct config *c, struct buf *err)
{
	write_file("t.conf", text);
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/t.conf", dir);
	buf_reset(err);
	int r = config_load(c, buf_cstr(&p), err);
	buf_free(&p);
	return r;
}

static void test_config(void)
{
	struct config c;
	struct buf err = BUF_INIT;
	CHECK(load("# comment\ndomain = example.test\nmax_message_size = 2M\n"
		   "retry_min = 90s\nsmtputf8 = no\nport_base = 20000\n", &c, &err) == 0);
	CHECK(strcmp(config_str(&c, "domain"), "example.test") == 0);
	CHECK(config_num(&c, "max_message_size") == 2 * 1024 * 1024);
	CHECK(config_num(&c, "retry_min") == 90);
	CHECK(config_num(&c, "retry_max") == 3600);	/* default */
	CHECK(!config_bool(&c, "smtputf8"));
	CHECK(config_port(&c, 25) == 20025);
	config_free(&c);
	CHECK(load("no_such_key = 1\n", &c, &err) == -1 && strstr(buf_cstr(&err), ":1: unknown key"));
	config_free(&c);
	CHECK(load("domain = a\nmax_recipients = many\n", &c, &err) == -1 &&
	      strstr(buf_cstr(&err), ":2: bad value"));
	config_free(&c);
	CHECK(load("just words\n", &c, &err) == -1);
	config_free(&c);
	CHECK(load("max_message_size = 99999999999999999999G\n", &c, &err) == -1);
	config_free(&c);
	buf_free(&err);
}

static void test_table(void)
{
	struct buf err = BUF_INIT, val = BUF_INIT, t = BUF_INIT, cdb = BUF_INIT, pw = BUF_INIT;
	write_file("aliases", "# aliases\npostmaster: demo\nBob: alice@example.test, carol\n\n");
	buf_printf(&t, "%s/aliases", dir);
	buf_printf(&cdb, "%s/aliases.cdb", dir);
	CHECK(table_make(buf_cstr(&t), buf_cstr(&cdb), TF_MAP, NULL, 0, &err) == 0);
	struct table tb;
	CHECK(table_open(&tb, cdb.s) == 0);
	CHECK(table_lookup(&tb, "bob", 3, &val) == 1 && buf_eq(&val, "alice@example.test, carol"));
	CHECK(table_lookup(&tb, "postmaster", 10, &val) == 1 && buf_eq(&val, "demo"));
	CHECK(table_lookup(&tb, "nobody", 6, &val) == 0);
	table_close(&tb);

	write_file("users", "demo@example.test:$6$salt$hash:example.test/demo/:1000\n");
	buf_reset(&t);
	buf_printf(&t, "%s/users", dir);
	buf_reset(&cdb);
	buf_printf(&cdb, "%s/users.cdb", dir);
	buf_printf(&pw, "%s/passwd.cdb", dir);
	CHECK(table_make(buf_cstr(&t), buf_cstr(&cdb), TF_USERS, buf_cstr(&pw), 0600, &err) == 0);
	CHECK(table_open(&tb, cdb.s) == 0);
	CHECK(table_lookup(&tb, "demo@example.test", 17, &val) == 1 && buf_eq(&val, "example.test/demo/:1000"));
	table_close(&tb);
	CHECK(table_open(&tb, pw.s) == 0);
	CHECK(table_lookup(&tb, "demo@example.test", 17, &val) == 1 && buf_eq(&val, "$6$salt$hash"));
	table_close(&tb);
	struct stat st;
	CHECK(stat(pw.s, &st) == 0 && (st.st_mode & 0777) == 0600);

	write_file("users", "broken line without fields\n");
	buf_reset(&err);
	CHECK(table_make(buf_cstr(&t), buf_cstr(&cdb), TF_USERS, NULL, 0, &err) == -1 &&
	      strstr(buf_cstr(&err), ":1: malformed"));
	/* the old table survives a failed rebuild */
	CHECK(table_open(&tb, cdb.s) == 0);
	CHECK(table_lookup(&tb, "demo@example.test", 17, &val) == 1);
	table_close(&tb);
	CHECK(table_open(&tb, "/nonexistent/x.cdb") == 0 && table_lookup(&tb, "a", 1, &val) == 0);
	buf_free(&err);
	buf_free(&val);
	buf_free(&t);
	buf_free(&cdb);
	buf_free(&pw);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_config();
	test_table();
	struct buf cmd = BUF_INIT;
	buf_printf(&cmd, "rm -rf %s", dir);
	if (system(buf_cstr(&cmd)) != 0)
		return 1;
	buf_free(&cmd);
	return tap_done();
}
