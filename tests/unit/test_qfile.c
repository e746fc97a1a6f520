/* Unit tests for common/qfile.c: parsing queue files (complete, truncated,
 * damaged), R->D marking in place, header extraction, deferral reasons,
 * queue ids; and for common/dsn.c status codes and report shape. */
#include "dsn.h"
#include "qfile.h"
#include "record.h"
#include "tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[] = "/tmp/posthorn-qfile.XXXXXX";

static int file_with(const char *s, size_t n)
{
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, s, n) != (ssize_t)n)
		exit(1);
	unlink(path);
	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	return fd;
}

static void sample(struct buf *b, const char *msg)
{
	rec_puts(b, 'V', "1");
	rec_puts(b, 'I', "6B09ABC12345");
	rec_puts(b, 'T', "1700000000");
	rec_puts(b, 'S', "bob@example.test");
	rec_puts(b, 'A', "client=127.0.0.1");
	rec_puts(b, 'O', "list@example.test");
	rec_puts(b, 'R', "a@example.test");
	rec_puts(b, 'D', "b@example.test");
	rec_puts(b, 'R', "c@remote.example");
	rec_put_header_fixed(b, 'M', strlen(msg));
	buf_puts(b, msg);
	buf_puts(b, "\nE0:\n");
}

static void test_read_and_mark(void)
{
	struct buf b = BUF_INIT, err = BUF_INIT, h = BUF_INIT;
	const char *msg = "Subject: s\nX: y\n\nbody\n";
	sample(&b, msg);
	int fd = file_with(b.s, b.len);
	struct qfile q;
	CHECK(qfile_read(fd, &q, &err) == 0);
	CHECK(q.complete == 1);
	CHECK(buf_eq(&q.qid, "6B09ABC12345") && q.arrival == 1700000000);
	CHECK(buf_eq(&q.sender, "bob@example.test"));
	CHECK(buf_eq(&q.attrs, "client=127.0.0.1\n"));
	CHECK(q.nrcpt == 3);
	CHECK(buf_eq(&q.rcpts[0].orig, "list@example.test") && q.rcpts[1].orig.len == 0);
	CHECK(!q.rcpts[0].done && q.rcpts[1].done && !q.rcpts[2].done);
	CHECK(q.rcpts[2].index == 2);
	CHECK(q.msg_len == strlen(msg));
	CHECK(qfile_headers(fd, &q, 1000, &h) == 0 && buf_eq(&h, "Subject: s\nX: y\n"));
	CHECK(qfile_headers(fd, &q, 5, &h) == 0 && h.len == 5);
	CHECK(qfile_message(fd, &q, 1 << 20, &h) == 0 && h.len == strlen(msg) && !memcmp(h.s, msg, h.len));
	CHECK(qfile_mark_done(fd, &q.rcpts[0]) == 0);
	qfile_free(&q);
	CHECK(qfile_read(fd, &q, &err) == 0 && q.rcpts[0].done && !q.rcpts[2].done);
	qfile_free(&q);
	close(fd);
	buf_free(&b);
	buf_free(&h);
	buf_free(&err);
}

static void test_damaged(void)
{
	struct buf b = BUF_INIT, err = BUF_INIT;
	struct qfile q;
	sample(&b, "hello\n");
	int fd = file_with(b.s, b.len - 3);	/* the end record cut */
	CHECK(qfile_read(fd, &q, &err) == 0 && q.complete == 0);
	qfile_free(&q);
	close(fd);
	fd = file_with(b.s, 40);	/* cut inside the envelope */
	CHECK(qfile_read(fd, &q, &err) == 0 && q.complete == 0);
	qfile_free(&q);
	close(fd);
	const char *bad = "V1:1\nI3:xyz\n";	/* not a queue id */
	fd = file_with(bad, strlen(bad));
	CHECK(qfile_read(fd, &q, &err) == -2 && err.len > 0);
	qfile_free(&q);
	close(fd);
	const char *junk = "V1:1\nR5:ab\nM000000000000:\nE0:\n";	/* length past the newline */
	fd = file_with(junk, strlen(junk));
	CHECK(qfile_read(fd, &q, &err) == -2);
	qfile_free(&q);
	close(fd);
	/* a declared length near 2^63 must not overflow the end offset */
	const char *huge = "V1:1\nI4:ABCD\nT1:1\nS0:\nR1:a\nM9223372036854775800:x\nE0:\n";
	fd = file_with(huge, strlen(huge));
	CHECK(qfile_read(fd, &q, &err) == 0 && q.complete == 0);
	CHECK(strstr(buf_cstr(&err), "past the end of the file") != NULL);
	qfile_free(&q);
	close(fd);
	/* complete files without I, S or any R/D are malformed, not empty */
	static const char *const lacking[] = {
		"V1:1\nT1:1\nS0:\nR1:a\nM000000000001:x\nE0:\n",
		"V1:1\nI4:ABCD\nT1:1\nR1:a\nM000000000001:x\nE0:\n",
		"V1:1\nI4:ABCD\nT1:1\nS0:\nM000000000001:x\nE0:\n",
	};
	static const char *const lacking_why[] = {"no queue id", "no sender", "no recipient"};
	for (int i = 0; i < 3; i++) {
		fd = file_with(lacking[i], strlen(lacking[i]));
		CHECK(qfile_read(fd, &q, &err) == -2);
		CHECK(strstr(buf_cstr(&err), lacking_why[i]) != NULL);
		qfile_free(&q);
		close(fd);
	}
	const char *null_sender = "V1:1\nI4:ABCD\nT1:1\nS0:\nD1:a\nM000000000001:x\nE0:\n";
	fd = file_with(null_sender, strlen(null_sender));
	CHECK(qfile_read(fd, &q, &err) == 0 && q.complete && q.sender.len == 0);
	qfile_free(&q);
	close(fd);
	const char *unknown = "V1:1\nZ1:x\n";
	fd = file_with(unknown, strlen(unknown));
	CHECK(qfile_read(fd, &q, &err) == -2);
	qfile_free(&q);
	close(fd);
	buf_free(&b);
	buf_free(&err);
}

static void test_qid_and_reasons(void)
{
	CHECK(qid_valid("6B0972A179AE36A6220", 19));
	CHECK(!qid_valid("", 0));
	CHECK(!qid_valid("../etc", 6));
	CHECK(!qid_valid("6b09", 4));	/* lowercase is not ours */
	CHECK(!qid_valid("ABC.tmp", 7));
	struct buf b = BUF_INIT;
	rec_puts(&b, 'R', "a@example.test");
	rec_puts(&b, 'W', "4.2.2 mailbox full");
	rec_puts(&b, 'R', "b@example.test");
	rec_puts(&b, 'W', "4.4.1 no route");
	int fd = file_with(b.s, b.len);
	struct buf p = BUF_INIT;
	buf_printf(&p, "/proc/self/fd/%d", fd);
	struct qreasons r;
	CHECK(qreasons_read(buf_cstr(&p), &r) == 0 && r.n == 2);
	struct buf k = BUF_INIT;
	buf_puts(&k, "b@example.test");
	const struct buf *w = qreasons_find(&r, &k);
	CHECK(w && buf_eq(w, "4.4.1 no route"));
	buf_puts(&k, "x");
	CHECK(qreasons_find(&r, &k) == NULL);
	qreasons_free(&r);
	CHECK(qreasons_read("/nonexistent/defer/X", &r) == -1);
	close(fd);
	buf_free(&b);
	buf_free(&p);
	buf_free(&k);
}

static void test_dsn(void)
{
	struct buf s = BUF_INIT, out = BUF_INIT;
	dsn_status("5.1.1 unknown user", 18, 0, &s);
	CHECK(buf_eq(&s, "5.1.1"));
	dsn_status("550 5.7.1 no", 12, 0, &s);
	CHECK(buf_eq(&s, "5.7.1"));
	dsn_status("mailbox gone", 12, 0, &s);
	CHECK(buf_eq(&s, "5.0.0"));
	dsn_status("x", 1, 1, &s);
	CHECK(buf_eq(&s, "4.0.0"));
	struct dsn_rcpt r[1] = {{"a@example.test", 14, "l@example.test", 14, "5.1.1 no\r\nInjected: x", 21, 0, NULL, NULL, 0}};
	const char *orig = "Subject: hi\n";
	struct dsn_msg m = {"ABC", "mx.example.test", "bob@example.test", 1700000000, 1700000100,
			    orig, strlen(orig), 0, DSN_FAILURE, NULL};
	dsn_compose(&out, &m, r, 1);
	buf_cstr(&out);
	CHECK(strstr(out.s, "report-type=delivery-status") != NULL);
	CHECK(strstr(out.s, "\nFinal-Recipient: rfc822; a@example.test\n") != NULL);
	CHECK(strstr(out.s, "\nOriginal-Recipient: rfc822; l@example.test\n") != NULL);
	CHECK(strstr(out.s, "\nStatus: 5.1.1\n") != NULL);
	CHECK(strstr(out.s, "\nInjected:") == NULL);	/* the diagnostic stays one line */
	CHECK(strstr(out.s, "text/rfc822-headers\n\nSubject: hi\n") != NULL);
	buf_free(&s);
	buf_free(&out);
}

/* Every line of the text part fits in 76 columns, words are not lost. */
static void test_dsn_wrap(void)
{
	struct buf out = BUF_INIT;
	const char *diag = "5.1.1 the mailbox of this recipient does not exist here and never "
			   "did, according to the users table of the local delivery agent";
	struct dsn_rcpt r[1] = {{"someone.with.a.long.name@example.test", 37, "", 0, diag,
				 strlen(diag), 0, NULL, NULL, 0}};
	struct dsn_msg m = {"6B0972A179AE36A6220", "mx.example.test", "bob@example.test",
			    1700000000, 1700000100, "Subject: hi\n", 12, 0, DSN_FAILURE, NULL};
	dsn_compose(&out, &m, r, 1);
	const char *t = strstr(buf_cstr(&out), "charset=us-ascii\n\n");
	const char *end = t ? strstr(t, "\n--") : NULL;
	CHECK(t && end);
	size_t longest = 0;
	for (const char *p = t + 18; p && p < end;) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p);
		if (len > longest)
			longest = len;
		p = nl + 1;
	}
	CHECK(longest > 60 && longest <= 76);
	CHECK(strstr(t, "(queue id 6B0972A179AE36A6220) could not be") != NULL);
	CHECK(strstr(t, "\n    ") != NULL);	/* the diagnostic continues indented */
	CHECK(strstr(t, "delivery agent\n") != NULL);
	CHECK(strstr(t, "below.\n") != NULL);
	buf_free(&out);
}

/* The version rule (queue/README.md "Versions"): 1 is read; a newer
 * number is QFILE_NEWER before any later record is looked at, whatever
 * record types a newer format brings; 0 or a non-number is malformed. */
static void test_versions(void)
{
	static const struct {
		const char *file;
		int want;
	} cases[] = {
		{"V1:1\nI4:ABCD\nT1:1\nS0:\nR1:a\nM000000000001:x\nE0:\n", 0},
		{"V1:2\nI4:ABCD\nQ3:new\nM000000000001:x\nE0:\n", QFILE_NEWER},
		{"V2:10\n\x01\x02 whatever a later format holds", QFILE_NEWER},
		{"V1:0\nI4:ABCD\nT1:1\nS0:\nR1:a\nM000000000001:x\nE0:\n", -2},
		{"V1:x\nI4:ABCD\n", -2},
	};
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fd = file_with(cases[i].file, strlen(cases[i].file));
		struct qfile q;
		int r = qfile_read(fd, &q, &err);
		CHECK(r == cases[i].want);
		if (r == QFILE_NEWER)
			CHECK(strstr(buf_cstr(&err), "format version") != NULL);
		qfile_free(&q);
		close(fd);
	}
	buf_free(&err);
}

int main(void)
{
	test_read_and_mark();
	test_versions();
	test_damaged();
	test_qid_and_reasons();
	test_dsn();
	test_dsn_wrap();
	return tap_done();
}
