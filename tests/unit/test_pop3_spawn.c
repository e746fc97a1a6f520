/* test_pop3_spawn: mailboxd's request parsing and mailbox path checks
 * (pop3d/spawner/spawn.c): the hand-off packet from the auth daemon must
 * be exactly Q, U, optional I, then E0:, bounded and without NUL or LF;
 * a mailbox from users.cdb must stay below mail_dir.  Unit tests link
 * only the common library, so the source is included here directly. */
#include "../../pop3d/spawner/spawn.c"
#include "tap.h"

static int parses(const char *pkt, size_t n)
{
	struct mbox_req r = {BUF_INIT, BUF_INIT, BUF_INIT, -1};
	int ok = mbox_parse(pkt, n, &r) == 0;
	mbox_req_free(&r);
	return ok;
}

#define P(s) parses(s, sizeof s - 1)

static void test_requests(void)
{
	struct mbox_req r = {BUF_INIT, BUF_INIT, BUF_INIT, -1};
	static const char good[] = "Q4:pop3\nU17:demo@example.test\nI9:127.0.0.1\nE0:\n";
	CHECK(mbox_parse(good, sizeof good - 1, &r) == 0);
	CHECK(buf_eq(&r.service, "pop3") && buf_eq(&r.user, "demo@example.test") &&
	      buf_eq(&r.ip, "127.0.0.1"));
	mbox_req_free(&r);
	CHECK(P("Q4:imap\nU1:a\nE0:\n"));
	CHECK(!P("Q4:pop3\nE0:\n"));			/* no user */
	CHECK(!P("U1:a\nE0:\n"));			/* no service */
	CHECK(!P("Q4:pop3\nU1:a\n"));			/* no end */
	CHECK(!P("Q4:pop3\nU1:a\nE0:\nX"));		/* bytes after the end */
	CHECK(!P("Q4:pop3\nU1:a\nU1:b\nE0:\n"));	/* repeated */
	CHECK(!P("Q4:pop3\nU3:a\nb\nE0:\n"));		/* LF inside */
	CHECK(!P("Q4:pop3\nU3:a\0b\nE0:\n"));		/* NUL inside */
	CHECK(!P("Q4:pop3\nZ1:a\nU1:a\nE0:\n"));	/* unknown record */
	CHECK(!P("Q4:pop3\nU0:\nE0:\n"));		/* empty */
	CHECK(!P("Q4:pop3\nU99:a\nE0:\n"));		/* length past the packet */
	CHECK(!P(""));
}

/* The check mailboxd relies on, now resolve_mailbox() in common/resolve.c. */
static int mailbox_ok(const char *m, size_t n)
{
	struct buf val = BUF_INIT, mailbox = BUF_INIT;
	unsigned long long quota;
	buf_append(&val, m, n);
	buf_puts(&val, ":0");
	int ok = resolve_mailbox(&val, &mailbox, &quota) == 0;
	buf_free(&val);
	buf_free(&mailbox);
	return ok;
}

static void test_mailbox_paths(void)
{
	CHECK(mailbox_ok("example.test/demo", 17));
	CHECK(mailbox_ok("a/..b", 5));
	CHECK(!mailbox_ok("/abs", 4));
	CHECK(!mailbox_ok("a/../b", 6));
	CHECK(!mailbox_ok("..", 2));
	CHECK(!mailbox_ok("a/..", 4));
	CHECK(!mailbox_ok("a\nb", 3));
	CHECK(!mailbox_ok("", 0));
	CHECK(stage_program(&(struct buf){"pop3", 4, 4}) != NULL);
	CHECK(stage_program(&(struct buf){"smtp", 4, 4}) == NULL);
}

int main(void)
{
	test_requests();
	test_mailbox_paths();
	return tap_done();
}
