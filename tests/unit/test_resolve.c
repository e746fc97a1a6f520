/* Unit tests for common/resolve.c: local domains, users with +extension,
 * and alias expansion: recursion, loops, self-reference, +extension,
 * foreign targets, de-duplication, bad targets. */
#include "resolve.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/posthorn-resolve.XXXXXX";

static void make_table(const char *name, const char *text, enum table_format f)
{
	struct buf t = BUF_INIT, c = BUF_INIT, err = BUF_INIT;
	buf_printf(&t, "%s/%s", dir, name);
	buf_printf(&c, "%s/%s.cdb", dir, name);
	FILE *fp = fopen(buf_cstr(&t), "w");
	fputs(text, fp);
	fclose(fp);
	if (table_make(t.s, buf_cstr(&c), f, NULL, 0, &err) < 0)
		printf("# table_make: %s\n", buf_cstr(&err));
	buf_free(&t);
	buf_free(&c);
	buf_free(&err);
}

/* Expands addr; the result as "a,b,c" in out.  Returns resolve_expand's code. */
static int expand(struct resolver *r, const char *addr, struct buf *out)
{
	struct resolve_list l = {0};
	struct buf err = BUF_INIT;
	int rc = resolve_expand(r, addr, strlen(addr), &l, &err);
	buf_reset(out);
	for (size_t i = 0; i < l.n; i++) {
		if (i)
			buf_putc(out, ',');
		buf_append(out, l.addrs[i].s, l.addrs[i].len);
	}
	if (rc == -2 && err.len == 0)
		buf_puts(out, "<no message>");
	buf_cstr(out);
	resolve_list_free(&l);
	buf_free(&err);
	return rc;
}

static void setup(struct resolver *r, struct config *c)
{
	if (!mkdtemp(dir))
		exit(1);
	make_table("domains", "example.test\nother.test\n", TF_LIST);
	make_table("aliases",
		   "team: demo, bob\n"		/* any local domain */
		   "staff: team, carol@remote.example\n"	/* recursion, foreign */
		   "loop1: loop2\nloop2: loop1\n"	/* a real loop */
		   "self: self, demo\n"		/* self-reference keeps its own copy */
		   "me@example.test: demo\n"	/* whole address */
		   "dup: demo, Demo, team\n"	/* duplicates */
		   "ext: demo+box\n"
		   "bad: \"quoted@x\n"
		   "deep1: deep2\ndeep2: deep3\ndeep3: deep4\ndeep4: deep5\ndeep5: deep6\n"
		   "deep6: deep7\ndeep7: deep8\ndeep8: deep9\ndeep9: deep10\ndeep10: deep11\n"
		   "deep11: deep12\ndeep12: demo\n", TF_MAP);
	make_table("users", "demo@example.test:x:example.test/demo:0\n"
			    "bob@example.test:x:example.test/bob:0\n"
			    "self@example.test:x:example.test/self:0\n"
			    "list@other.test:x:other.test/list:0\n", TF_USERS);
	struct buf p = BUF_INIT, err = BUF_INIT;
	buf_printf(&p, "%s/posthorn.conf", dir);
	FILE *fp = fopen(buf_cstr(&p), "w");
	fputs("domain = example.test\n", fp);
	fclose(fp);
	if (config_load(c, p.s, &err) < 0 || resolver_open(r, c) < 0)
		exit(1);
	buf_free(&p);
	buf_free(&err);
}

int main(void)
{
	struct resolver r;
	struct config c;
	struct buf out = BUF_INIT;
	setup(&r, &c);

	CHECK(resolve_is_local(&r, "x@EXAMPLE.test", 14) == 1);
	CHECK(resolve_is_local(&r, "x@remote.example", 16) == 0);
	CHECK(resolve_known(&r, "Demo@example.test", 17) == 1);
	CHECK(resolve_known(&r, "demo+tag@example.test", 21) == 1);
	CHECK(resolve_known(&r, "team@other.test", 15) == 1);
	CHECK(resolve_known(&r, "nobody@example.test", 19) == 0);

	CHECK(expand(&r, "demo@example.test", &out) == 0 && buf_eq(&out, "demo@example.test"));
	CHECK(expand(&r, "DEMO@Example.TEST", &out) == 0 && buf_eq(&out, "demo@example.test"));
	CHECK(expand(&r, "x@Remote.Example", &out) == 0 && buf_eq(&out, "x@remote.example"));
	CHECK(expand(&r, "team@example.test", &out) == 0 &&
	      buf_eq(&out, "demo@example.test,bob@example.test"));
	/* a bare target is in the key's domain */
	CHECK(expand(&r, "team@other.test", &out) == 0 &&
	      buf_eq(&out, "demo@other.test,bob@other.test"));
	CHECK(expand(&r, "staff@example.test", &out) == 0 &&
	      buf_eq(&out, "demo@example.test,bob@example.test,carol@remote.example"));
	CHECK(expand(&r, "loop1@example.test", &out) == -2);
	CHECK(expand(&r, "self@example.test", &out) == 0 &&
	      buf_eq(&out, "self@example.test,demo@example.test"));
	CHECK(expand(&r, "me@example.test", &out) == 0 && buf_eq(&out, "demo@example.test"));
	CHECK(expand(&r, "dup@example.test", &out) == 0 &&
	      buf_eq(&out, "demo@example.test,bob@example.test"));
	/* +extension: falls back to the alias without it */
	CHECK(expand(&r, "team+x@example.test", &out) == 0 &&
	      buf_eq(&out, "demo@example.test,bob@example.test"));
	CHECK(expand(&r, "ext@example.test", &out) == 0 && buf_eq(&out, "demo+box@example.test"));
	CHECK(expand(&r, "bad@example.test", &out) == -2);
	CHECK(expand(&r, "deep1@example.test", &out) == -2);	/* deeper than RESOLVE_MAX_DEPTH */
	/* an unknown local user passes through: delivery reports it */
	CHECK(expand(&r, "nobody@example.test", &out) == 0 && buf_eq(&out, "nobody@example.test"));

	/* several expansions into one list stay de-duplicated */
	struct resolve_list l = {0};
	struct buf err = BUF_INIT;
	CHECK(resolve_expand(&r, "team@example.test", 17, &l, &err) == 0);
	CHECK(resolve_expand(&r, "demo@example.test", 17, &l, &err) == 0);
	CHECK(l.n == 2);
	resolve_list_free(&l);
	buf_free(&err);

	resolver_close(&r);
	config_free(&c);
	buf_free(&out);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
