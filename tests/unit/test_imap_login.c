/* test_imap_login: imapd-login's command parser (imapd/login/parse.c) and
 * the literal announcement check (command.c): tags, atoms, astrings,
 * quoted strings with escapes, literals taken from the literal list,
 * NIL, and what must be refused (bad escapes, NUL in a literal, a {n}
 * that is not at the end of its line, a literal of the wrong size).  Unit
 * tests link only the common library, so the sources are included. */
#include "../../imapd/login/command.c"
#include "../../imapd/login/parse.c"
#include "tap.h"

/* A command from lines and literals (NULL-terminated lists). */
static void mk(struct imap_cmd *c, const char **lines, const char **lits)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; lines[i]; i++)
		buf_puts(&c->line[i], lines[i]);
	for (size_t i = 0; lits && lits[i]; i++) {
		buf_set(&c->lit[i], lits[i], strlen(lits[i]));
		c->nlit++;
	}
}

static void suffix_tests(void)
{
	size_t n, start;
	int ns;
	CHECK(cmd_literal_suffix("a LOGIN {12}", 12, &n, &ns, &start) == 1 && n == 12 && !ns &&
	      start == 8);
	CHECK(cmd_literal_suffix("x {0+}", 6, &n, &ns, &start) == 1 && n == 0 && ns && start == 2);
	CHECK(cmd_literal_suffix("a {}", 4, &n, &ns, &start) == 0);
	CHECK(cmd_literal_suffix("a {+}", 5, &n, &ns, &start) == 0);
	CHECK(cmd_literal_suffix("a 12}", 5, &n, &ns, &start) == 0);
	CHECK(cmd_literal_suffix("a {1234567890}", 14, &n, &ns, &start) == 0);	/* too many digits */
	CHECK(cmd_literal_suffix("}", 1, &n, &ns, &start) == 0);
	CHECK(cmd_literal_suffix("{5}", 3, &n, &ns, &start) == 1 && n == 5 && start == 0);
}

static void login_tests(void)
{
	struct imap_cmd c;
	struct imap_cur p;
	struct buf tag = BUF_INIT, a = BUF_INIT, u = BUF_INIT, pw = BUF_INIT;
	const char *l1[] = {"a1 LOGIN \"us\\\"er\" pa]ss", NULL};
	mk(&c, l1, NULL);
	cur_init(&p, &c);
	CHECK(p_tag(&p, &tag) == 0 && buf_eq(&tag, "a1"));
	CHECK(p_sp(&p) == 0 && p_atom(&p, &a) == 0 && buf_eq(&a, "LOGIN"));
	CHECK(p_sp(&p) == 0 && p_astring(&p, &u) == 0 && buf_eq(&u, "us\"er"));
	CHECK(p_sp(&p) == 0 && p_astring(&p, &pw) == 0 && buf_eq(&pw, "pa]ss"));
	CHECK(p_end(&p));
	cmd_free(&c);

	const char *l2[] = {"t LOGIN {4}", " {3+}", "", NULL};
	const char *lits2[] = {"user", "p w", NULL};
	mk(&c, l2, lits2);
	cur_init(&p, &c);
	CHECK(p_tag(&p, &tag) == 0 && p_sp(&p) == 0 && p_atom(&p, &a) == 0 && p_sp(&p) == 0);
	CHECK(p_astring(&p, &u) == 0 && buf_eq(&u, "user"));
	CHECK(p_sp(&p) == 0 && p_astring(&p, &pw) == 0 && buf_eq(&pw, "p w"));
	CHECK(p_end(&p));
	cmd_free(&c);

	/* a literal whose bytes do not match its announcement, or hold NUL */
	const char *l3[] = {"t LOGIN {4}", " x", NULL};
	const char *lits3[] = {"use", NULL};
	mk(&c, l3, lits3);
	cur_init(&p, &c);
	CHECK(p_tag(&p, &tag) == 0 && p_sp(&p) == 0 && p_atom(&p, &a) == 0 && p_sp(&p) == 0);
	CHECK(p_astring(&p, &u) < 0);
	cmd_free(&c);
	memset(&c, 0, sizeof c);
	buf_puts(&c.line[0], "t LOGIN {2}");
	buf_puts(&c.line[1], " x");
	buf_set(&c.lit[0], "a\0", 2);
	c.nlit = 1;
	cur_init(&p, &c);
	CHECK(p_tag(&p, &tag) == 0 && p_sp(&p) == 0 && p_atom(&p, &a) == 0 && p_sp(&p) == 0);
	CHECK(p_astring(&p, &u) < 0);
	cmd_free(&c);
	buf_free(&tag);
	buf_free(&a);
	buf_free(&u);
	buf_free(&pw);
}

static int parses_astring(const char *line)
{
	struct imap_cmd c;
	struct imap_cur p;
	struct buf v = BUF_INIT;
	const char *l[] = {line, NULL};
	mk(&c, l, NULL);
	cur_init(&p, &c);
	int r = p_astring(&p, &v) == 0 && p_end(&p);
	buf_free(&v);
	cmd_free(&c);
	return r;
}

static void refusals(void)
{
	CHECK(parses_astring("\"ok\""));
	CHECK(parses_astring("\"\""));
	CHECK(!parses_astring("\"bad \\n escape\""));
	CHECK(!parses_astring("\"unterminated"));
	CHECK(!parses_astring("{3}"));	/* announced, but no literal read */
	CHECK(!parses_astring(""));
	CHECK(!parses_astring("a(b"));
	CHECK(!parses_astring("a%"));

	struct imap_cmd c;
	struct imap_cur p;
	struct buf tag = BUF_INIT, v = BUF_INIT;
	const char *l1[] = {"+x NOOP", NULL};
	mk(&c, l1, NULL);
	cur_init(&p, &c);
	CHECK(p_tag(&p, &tag) < 0);	/* '+' is not a tag character */
	cmd_free(&c);
	const char *l2[] = {"NIL nil \"x\" (", NULL};
	mk(&c, l2, NULL);
	cur_init(&p, &c);
	int nil;
	CHECK(p_nstring(&p, &v, &nil) == 0 && nil);
	CHECK(p_sp(&p) == 0 && p_nstring(&p, &v, &nil) == 0 && nil);
	CHECK(p_sp(&p) == 0 && p_nstring(&p, &v, &nil) == 0 && !nil && buf_eq(&v, "x"));
	CHECK(p_sp(&p) == 0 && p_nstring(&p, &v, &nil) < 0);
	cmd_free(&c);
	buf_free(&tag);
	buf_free(&v);
}

int main(void)
{
	suffix_tests();
	login_tests();
	refusals();
	return tap_done();
}
