/* test_maildir: Maildir delivery and Maildir++ quota (common/maildir.c) in a
 * temporary directory: names, delivery through tmp/ into new/, duplicate
 * suppression, short sources, name parsing, folders, maildirsize. */
#include "maildir.h"
#include "io.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static const char *path(struct buf *p, const char *a, const char *b)
{
	buf_reset(p);
	buf_printf(p, "%s/%s%s%s", root, a, b ? "/" : "", b ? b : "");
	return buf_cstr(p);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int is_dir_0700(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700;
}

/* A "queue file": junk, then the message at offset 7. */
static int make_source(const char *msg)
{
	char name[] = "/tmp/test_maildir_src.XXXXXX";
	int fd = mkstemp(name);
	unlink(name);
	write_all(fd, "V1:1\nM:", 7);
	write_all(fd, msg, strlen(msg));
	write_all(fd, "\nE0:\n", 5);
	return fd;
}

static void test_names(void)
{
	struct buf n = BUF_INIT, m = BUF_INIT;
	maildir_queue_name(&n, 1700000000, "65A1B2C3D4E5F6", 3, "mx/a:b.test", 1234);
	CHECK(buf_eq(&n, "1700000000.Q65A1B2C3D4E5F6X3.mx\\057a\\072b.test,S=1234"));
	unsigned long long sz = 0;
	CHECK(maildir_name_size(n.s, n.len, &sz) == 0 && sz == 1234);
	maildir_unique_name(&n, "host", 10);
	maildir_unique_name(&m, "host", 10);
	CHECK(n.len > 0 && !buf_eq(&n, buf_cstr(&m)));
	CHECK(memchr(n.s, '/', n.len) == NULL && memchr(n.s, ':', n.len) == NULL);

	const char *f = "123.abc.host,S=99:2,RS";
	size_t flen = 0;
	const char *flags = maildir_name_flags(f, strlen(f), &flen);
	CHECK(flags && flen == 2 && memcmp(flags, "RS", 2) == 0);
	CHECK(maildir_name_base(f, strlen(f)) == strlen("123.abc.host,S=99"));
	CHECK(maildir_name_size(f, strlen(f), &sz) == 0 && sz == 99);
	CHECK(maildir_name_flags("123.abc.host", 12, &flen) == NULL);
	CHECK(maildir_name_size("123.abc.host", 12, &sz) == -1);
	CHECK(maildir_name_size("1.a.h,S=", 8, &sz) == -1);
	CHECK(maildir_name_size("1.a.h:2,S=5", 11, &sz) == -1);	/* in the info, not a size */
	buf_free(&n);
	buf_free(&m);
}

static void test_folders(void)
{
	struct buf p = BUF_INIT;
	CHECK(maildir_folder_path("/m", "", 0, &p) == 0 && buf_eq(&p, "/m"));
	CHECK(maildir_folder_path("/m", "inbox", 5, &p) == 0 && buf_eq(&p, "/m"));
	CHECK(maildir_folder_path("/m", "Sent", 4, &p) == 0 && buf_eq(&p, "/m/.Sent"));
	CHECK(maildir_folder_path("/m", "a.b", 3, &p) == 0 && buf_eq(&p, "/m/.a.b"));
	CHECK(maildir_folder_path("/m", "../x", 4, &p) == -1);
	CHECK(maildir_folder_path("/m", "a/b", 3, &p) == -1);
	CHECK(maildir_folder_path("/m", ".x", 2, &p) == -1);
	CHECK(maildir_folder_path("/m", "a..b", 4, &p) == -1);
	CHECK(maildir_folder_path("/m", "x.", 2, &p) == -1);
	CHECK(maildir_folder_path("/m", "a\nb", 3, &p) == -1);
	buf_free(&p);
}

static void test_deliver(void)
{
	struct buf md = BUF_INIT, p = BUF_INIT, got = BUF_INIT, name = BUF_INIT;
	path(&md, "user", NULL);
	CHECK(maildir_make(md.s) == 0);
	CHECK(is_dir_0700(md.s) && is_dir_0700(path(&p, "user", "tmp")) &&
	      is_dir_0700(path(&p, "user", "new")) && is_dir_0700(path(&p, "user", "cur")));
	CHECK(maildir_make(md.s) == 0);	/* again: nothing to do */

	const char *msg = "Subject: x\n\nhello\n";
	const char *head = "Return-Path: <a@b>\nDelivered-To: u@d\n";
	int fd = make_source(msg);
	struct maildir_source src = {head, strlen(head), fd, 7, strlen(msg)};
	maildir_queue_name(&name, 1700000000, "ABC", 0, "h", strlen(head) + strlen(msg));
	CHECK(maildir_has(md.s, name.s) == 0);
	CHECK(maildir_deliver(md.s, name.s, &src) == MD_DELIVERED);
	CHECK(file_read(path(&p, "user/new", name.s), &got, 1 << 20) == 0);
	CHECK(got.len == strlen(head) + strlen(msg));
	CHECK(got.len > strlen(head) && memcmp(got.s, head, strlen(head)) == 0 &&
	      memcmp(got.s + strlen(head), msg, strlen(msg)) == 0);
	CHECK(count_files(path(&p, "user", "tmp")) == 0);
	CHECK(maildir_has(md.s, name.s) == 1);

	/* duplicate suppression: a repeat finds the earlier copy */
	CHECK(maildir_deliver(md.s, name.s, &src) == MD_EXISTS);
	CHECK(count_files(path(&p, "user", "new")) == 1);
	/* ... also after a reader moved it to cur/ with flags */
	struct buf cur = BUF_INIT;
	buf_printf(&cur, "%s/user/cur/%s:2,S", root, name.s);
	CHECK(rename(path(&p, "user/new", name.s), buf_cstr(&cur)) == 0);
	CHECK(maildir_has(md.s, name.s) == 1);
	CHECK(maildir_deliver(md.s, name.s, &src) == MD_EXISTS);
	CHECK(count_files(path(&p, "user", "new")) == 0);
	/* another recipient index is another message */
	struct buf other = BUF_INIT;
	maildir_queue_name(&other, 1700000000, "ABC", 1, "h", 5);
	CHECK(maildir_deliver(md.s, other.s, &src) == MD_DELIVERED);
	CHECK(count_files(path(&p, "user", "new")) == 1);

	/* a source shorter than its length: nothing delivered, tmp/ clean */
	struct maildir_source bad = {head, strlen(head), fd, 7, 1000};
	maildir_queue_name(&other, 1700000000, "ABC", 2, "h", 5);
	errno = 0;
	CHECK(maildir_deliver(md.s, other.s, &bad) == -1 && errno == ENODATA);
	CHECK(count_files(path(&p, "user", "tmp")) == 0);
	CHECK(maildir_has(md.s, other.s) == 0);

	/* an unwritable Maildir: an error, never a success */
	if (geteuid() != 0) {
		chmod(path(&p, "user", "tmp"), 0500);
		maildir_queue_name(&other, 1700000000, "ABC", 3, "h", 5);
		CHECK(maildir_deliver(md.s, other.s, &src) == -1 && errno == EACCES);
		chmod(path(&p, "user", "tmp"), 0700);
	}
	/* a big message goes through the copy path intact */
	struct buf big = BUF_INIT;
	for (int i = 0; i < 300000; i++)
		buf_puts(&big, "0123456789\n");
	int bfd = make_source(buf_cstr(&big));
	struct maildir_source bsrc = {"", 0, bfd, 7, big.len};
	maildir_queue_name(&other, 1700000001, "BIG", 0, "h", big.len);
	CHECK(maildir_deliver(md.s, other.s, &bsrc) == MD_DELIVERED);
	CHECK(file_read(path(&p, "user/new", other.s), &got, 1 << 24) == 0 &&
	      got.len == big.len && memcmp(got.s, big.s, big.len) == 0);
	close(bfd);
	close(fd);
	buf_free(&big);
	buf_free(&md);
	buf_free(&p);
	buf_free(&got);
	buf_free(&name);
	buf_free(&cur);
	buf_free(&other);
}

static void test_flags(void)
{
	struct buf md = BUF_INIT, p = BUF_INIT, n = BUF_INIT;
	path(&md, "flags", NULL);
	CHECK(maildir_make(md.s) == 0);
	int fd = open(path(&p, "flags/new", "1.x.h,S=5"), O_WRONLY | O_CREAT, 0600);
	close(fd);
	CHECK(maildir_set_flags(md.s, "new", "1.x.h,S=5", "", &n) == 0);
	CHECK(buf_eq(&n, "1.x.h,S=5:2,"));
	CHECK(access(path(&p, "flags/cur", "1.x.h,S=5:2,"), F_OK) == 0);
	CHECK(count_files(path(&p, "flags", "new")) == 0);
	CHECK(maildir_set_flags(md.s, "cur", "1.x.h,S=5:2,", "TSRS", &n) == 0);
	CHECK(buf_eq(&n, "1.x.h,S=5:2,RST"));
	CHECK(access(path(&p, "flags/cur", "1.x.h,S=5:2,RST"), F_OK) == 0);
	CHECK(maildir_set_flags(md.s, "cur", "1.x.h,S=5:2,RST", "RST", &n) == 0);
	CHECK(count_files(path(&p, "flags", "cur")) == 1);
	CHECK(maildir_set_flags(md.s, "cur", "1.x.h,S=5:2,RST", "S/", &n) == -1 && errno == EINVAL);
	CHECK(maildir_set_flags(md.s, "../x", "1.x.h,S=5:2,RST", "S", &n) == -1 && errno == EINVAL);
	CHECK(maildir_set_flags(md.s, "cur", "nosuch", "S", &n) == -1 && errno == ENOENT);
	buf_free(&md);
	buf_free(&p);
	buf_free(&n);
}

static void put_file(const char *dir, const char *name, size_t size)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, name);
	int fd = open(buf_cstr(&p), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (size_t i = 0; i < size; i++)
		write_all(fd, "x", 1);
	close(fd);
	buf_free(&p);
}

static void test_quota(void)
{
	struct buf md = BUF_INIT, p = BUF_INIT, f = BUF_INIT;
	path(&md, "q", NULL);
	CHECK(maildir_make(md.s) == 0);
	put_file(path(&p, "q", "new"), "1.a.h,S=100", 0);	/* the S= size counts */
	put_file(path(&p, "q", "cur"), "2.b.h:2,S", 50);	/* no S=: stat */
	CHECK(maildir_make(path(&p, "q", ".Sent")) == 0);
	put_file(path(&p, "q", ".Sent/cur"), "3.c.h,S=25:2,S", 0);
	struct maildir_usage u = {0, 0};
	CHECK(maildir_quota_usage(md.s, 1000, &u) == 0 && u.bytes == 175 && u.count == 3);
	CHECK(file_read(path(&p, "q", "maildirsize"), &f, 5120) == 0);
	CHECK(buf_eq(&f, "1000S\n175 3\n"));
	CHECK(maildir_quota_check(md.s, 1000, 825) == 1);
	CHECK(maildir_quota_check(md.s, 1000, 826) == 0);
	CHECK(maildir_quota_check(md.s, 0, 1ULL << 40) == 1);	/* no quota */
	CHECK(maildir_quota_add(md.s, 800, 1) == 0);
	CHECK(maildir_quota_usage(md.s, 1000, &u) == 0 && u.bytes == 975 && u.count == 4);
	CHECK(maildir_quota_check(md.s, 1000, 26) == 0);
	CHECK(maildir_quota_add(md.s, -800, -1) == 0);	/* an expunge */
	CHECK(maildir_quota_check(md.s, 1000, 26) == 1);
	/* another limit: recalculated with the new definition */
	CHECK(maildir_quota_usage(md.s, 500, &u) == 0 && u.bytes == 175);
	CHECK(file_read(path(&p, "q", "maildirsize"), &f, 5120) == 0 && buf_eq(&f, "500S\n175 3\n"));
	/* malformed or oversized files are recalculated */
	int fd = open(path(&p, "q", "maildirsize"), O_WRONLY | O_APPEND);
	write_all(fd, "junk\n", 5);
	close(fd);
	CHECK(maildir_quota_usage(md.s, 500, &u) == 0 && u.bytes == 175 && u.count == 3);
	for (int i = 0; i < 2000; i++)
		maildir_quota_add(md.s, 1, 0);
	CHECK(maildir_quota_usage(md.s, 500, &u) == 0 && u.bytes == 175);
	CHECK(file_read(path(&p, "q", "maildirsize"), &f, 5120) == 0 && f.len < 100);
	/* Courier's "<n>S,<m>C" definition is understood */
	fd = open(path(&p, "q", "maildirsize"), O_WRONLY | O_TRUNC);
	write_all(fd, "500S,10C\n10 1\n", 14);
	close(fd);
	CHECK(maildir_quota_usage(md.s, 500, &u) == 0 && u.bytes == 10 && u.count == 1);
	/* missing file: add leaves it missing, usage recalculates */
	unlink(path(&p, "q", "maildirsize"));
	CHECK(maildir_quota_add(md.s, 5, 1) == 0);
	CHECK(access(path(&p, "q", "maildirsize"), F_OK) < 0);
	CHECK(maildir_quota_usage(md.s, 500, &u) == 0 && u.bytes == 175);
	CHECK(count_files(path(&p, "q", "tmp")) == 0);
	buf_free(&md);
	buf_free(&p);
	buf_free(&f);
}

static void cleanup(void)
{
	struct buf cmd = BUF_INIT;
	buf_printf(&cmd, "rm -rf '%s'", root);
	if (system(buf_cstr(&cmd)) != 0)
		printf("# could not remove %s\n", root);
	buf_free(&cmd);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/test_maildir.XXXXXX");
	if (!mkdtemp(root)) {
		printf("not ok 1 - mkdtemp\n");
		return 1;
	}
	test_names();
	test_folders();
	test_deliver();
	test_flags();
	test_quota();
	cleanup();
	return tap_done();
}
