/* test_uidlist: the per-folder UID index (common/uidlist.c) in a temporary
 * Maildir: first listing, stable UIDs across syncs and flag renames, CRLF
 * sizes, expunge, rebuild after a damaged file, the no-scan fast path, and
 * the parser's refusals. */
#include "uidlist.h"
#include "io.h"
#include "maildir.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[64];

static void put(const char *sub, const char *name, const char *text)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s/%s", root, sub, name);
	int fd = open(buf_cstr(&p), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		write_all(fd, text, strlen(text));
		close(fd);
	}
	buf_free(&p);
}

/* Sets a directory's mtime to a fixed time in the past, so its stamp is
 * trusted, and is the same after another change. */
static void age(const char *sub)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", root, sub);
	struct timeval tv[2];
	tv[0].tv_sec = 1000000000;
	tv[0].tv_usec = 0;
	tv[1] = tv[0];
	utimes(buf_cstr(&p), tv);
	buf_free(&p);
}

static void test_crlf(void)
{
	int cr = 0;
	CHECK(uidlist_crlf_count("a\nb\n", 4, &cr) == 6);
	cr = 0;
	CHECK(uidlist_crlf_count("a\r\nb", 4, &cr) == 4);
	cr = 0;
	unsigned long long n = uidlist_crlf_count("a\r", 2, &cr);
	n += uidlist_crlf_count("\nb\n", 3, &cr);
	CHECK(n == 6);	/* CR at the end of one piece, LF at the start of the next */
}

static void test_parse(void)
{
	struct uidlist u;
	uidlist_init(&u, "/nonexistent");
	const char *good = "posthorn-uidlist 1 V7 N5 0 0\n1 10 9 n a\n4 3 3 c b:2,S\n";
	CHECK(uidlist_parse(&u, good, strlen(good)) == 0);
	CHECK(u.n == 2 && u.uidvalidity == 7 && u.next_uid == 5);
	CHECK(uidlist_find(&u, 4) && !strcmp(uidlist_find(&u, 4)->name, "b:2,S"));
	CHECK(uidlist_find(&u, 2) == NULL);
	CHECK(u.version == 1 && u.modseq == 1 && u.msgs[0].modseq == 1 && u.recent_uid == 0);
	struct buf out = BUF_INIT;
	uidlist_format(&u, &out);	/* a version 1 list is written as version 2 */
	const char *v2 = "posthorn-uidlist 2 V7 N5 0 0 M1 R0 G0\n1 10 9 n 1 0 a\n4 3 3 c 1 0 b:2,S\n";
	CHECK(out.len == strlen(v2) && !memcmp(out.s, v2, out.len));
	const char *good2 = "posthorn-uidlist 2 V7 N9 5 6 M12 R4 G3\n1 10 9 n 3 1700000000 a\n"
			    "8 3 3 c 12 1700000001 b:2,S\n";
	CHECK(uidlist_parse(&u, good2, strlen(good2)) == 0 && u.version == 2);
	CHECK(u.modseq == 12 && u.recent_uid == 4 && u.msgs[1].modseq == 12 &&
	      u.msgs[1].mtime == 1700000001 && u.msgs[0].modseq == 3);
	uidlist_format(&u, &out);
	CHECK(out.len == strlen(good2) && !memcmp(out.s, good2, out.len));
	static const char *const bad[] = {
		"",
		"posthorn-uidlist 1 V7 N5 0 0",			/* no newline */
		"posthorn-uidlist 2 V7 N5 0 0\n",		/* no M, R */
		"posthorn-uidlist 3 V7 N5 0 0 M1 R0\n",
		"posthorn-uidlist 2 V7 N5 0 0 M1 R5\n",	/* R >= next */
		"posthorn-uidlist 2 V7 N5 0 0 M0 R0\n",
		"posthorn-uidlist 2 V7 N5 0 0 M3 R0\n1 1 1 n 4 0 a\n",	/* modseq > M */
		"posthorn-uidlist 2 V7 N5 0 0 M3 R0\n1 1 1 n 0 0 a\n",
		"posthorn-uidlist 2 V7 N5 0 0 M3 R0\n1 1 1 n 1 a\n",
		"posthorn-uidlist 1 V7 N5 0 0 M1 R0\n",
		"posthorn-uidlist 1 V0 N5 0 0\n",
		"posthorn-uidlist 1 V7 N5 0 0\n5 1 1 n a\n",	/* uid >= next */
		"posthorn-uidlist 1 V7 N5 0 0\n2 1 1 n a\n2 1 1 n b\n",	/* not ascending */
		"posthorn-uidlist 1 V7 N5 0 0\n1 1 1 x a\n",
		"posthorn-uidlist 1 V7 N5 0 0\n1 1 1 n ../a\n",
		"posthorn-uidlist 1 V7 N5 0 0\n1 1 1 n .a\n",
		"posthorn-uidlist 1 V7 N5 0 0\n1 -1 1 n a\n",
		"posthorn-uidlist 1 V7 N5 0 0\n1 1 1 n a\n2 1",
		NULL,
	};
	int all = 1;
	for (int i = 0; bad[i]; i++)
		if (uidlist_parse(&u, bad[i], strlen(bad[i])) != -1 || u.n != 0)
			all = 0;
	CHECK(all);
	buf_free(&out);
	uidlist_free(&u);
}

static void test_folder(void)
{
	struct uidlist u;
	put("new", "100.A.host,S=4", "a\nb\n");
	put("new", "101.B.host,S=2", "c\n");
	put("cur", "99.C.host,S=1:2,S", "d");
	uidlist_init(&u, root);
	CHECK(uidlist_sync(&u) == 0);
	CHECK(u.n == 3 && u.next_uid == 4 && u.uidvalidity > 0);
	/* name order: 100.A, 101.B, 99.C */
	CHECK(u.msgs[0].uid == 1 && !strcmp(u.msgs[0].name, "100.A.host,S=4"));
	CHECK(u.msgs[0].size == 6 && u.msgs[0].fsize == 4);
	CHECK(u.msgs[2].sub == 'c' && u.msgs[2].size == 3);	/* "d" + the CRLF it lacks */
	unsigned long validity = u.uidvalidity;
	uidlist_free(&u);

	/* a reader moves B to cur/ with flags; a new message arrives */
	struct buf nn = BUF_INIT;
	CHECK(maildir_set_flags(root, "new", "101.B.host,S=2", "S", &nn) == 0);
	put("new", "102.D.host,S=1", "e\n");
	uidlist_init(&u, root);
	CHECK(uidlist_sync(&u) == 0);
	CHECK(u.n == 4 && u.uidvalidity == validity);
	struct uid_msg *b = uidlist_find(&u, 2);
	CHECK(b && b->sub == 'c' && !strcmp(b->name, "101.B.host,S=2:2,S"));
	CHECK(uidlist_find(&u, 4) && !strcmp(uidlist_find(&u, 4)->name, "102.D.host,S=1"));
	uidlist_free(&u);

	/* expunge 1 and 2: gone from the folder and from later lists */
	unsigned long gone[] = {1, 2, 77};
	long long removed, bytes;
	uidlist_init(&u, root);
	CHECK(uidlist_expunge(&u, gone, 3, &removed, &bytes) == 0);
	CHECK(removed == 2 && bytes == 6);
	uidlist_free(&u);
	uidlist_init(&u, root);
	CHECK(uidlist_sync(&u) == 0);
	CHECK(u.n == 2 && u.msgs[0].uid == 3 && u.msgs[1].uid == 4 && u.next_uid == 5);
	uidlist_free(&u);

	/* settled directories: a file added behind the list's back with the
	 * mtime restored is not seen (no scan), proving the fast path */
	age("new");
	age("cur");
	uidlist_init(&u, root);
	CHECK(uidlist_sync(&u) == 0 && u.changed == 1);	/* stamps recorded */
	uidlist_free(&u);
	put("new", "103.E.host,S=1", "f\n");
	age("new");
	uidlist_init(&u, root);
	CHECK(uidlist_sync(&u) == 0 && u.changed == 0 && u.n == 2);
	uidlist_free(&u);
	/* a real change of new/ is seen */
	put("new", "104.F.host,S=1", "g\n");
	uidlist_init(&u, root);
	CHECK(uidlist_sync(&u) == 0 && u.n == 4 && u.next_uid == 7);
	uidlist_free(&u);

	/* a damaged list is rebuilt with a new UIDVALIDITY */
	struct buf damaged = BUF_INIT;
	buf_printf(&damaged, "posthorn-uidlist 1 V%lu N9 0 0\n3 1 1 n torn", validity);
	put(".", UIDLIST_FILE, buf_cstr(&damaged));
	buf_free(&damaged);
	uidlist_init(&u, root);
	CHECK(uidlist_sync(&u) == 0 && u.n == 4 && u.uidvalidity != validity);
	uidlist_free(&u);
	buf_free(&nn);
}

/* A version-1 list (pop3d before imapd) is upgraded: same UIDs and
 * UIDVALIDITY, mtimes filled in, modseqs from 1, written as version 2;
 * later changes raise the modseq. */
static void test_upgrade(void)
{
	char saved[sizeof root], dir[sizeof root];
	memcpy(saved, root, sizeof saved);
	if (strlen(root) + 5 > sizeof dir)
		return;
	memcpy(dir, root, strlen(root));
	memcpy(dir + strlen(root), "/.Up", 5);
	if (maildir_make(dir) < 0)
		return;
	memcpy(root, dir, sizeof root);
	put("cur", "10.A.host:2,S", "a\n");
	put("new", "11.B.host", "bb\n");
	put(".", UIDLIST_FILE, "posthorn-uidlist 1 V4242 N30 0 0\n7 3 2 c 10.A.host:2,S\n29 4 3 n 11.B.host\n");
	struct uidlist u;
	uidlist_init(&u, dir);
	CHECK(uidlist_sync(&u) == 0);
	CHECK(u.uidvalidity == 4242 && u.next_uid == 30 && u.n == 2);
	CHECK(u.msgs[0].uid == 7 && u.msgs[1].uid == 29 && u.msgs[0].mtime > 1000000000);
	unsigned long long m0 = u.modseq;
	uidlist_free(&u);
	struct buf text = BUF_INIT, p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, UIDLIST_FILE);
	CHECK(file_read(buf_cstr(&p), &text, 1 << 20) == 0 &&
	      mem_caseprefix(text.s, text.len, "posthorn-uidlist 2 V4242 N30 "));
	/* a flag change behind our back: new modseq for that message only */
	struct buf nn = BUF_INIT;
	CHECK(maildir_set_flags(dir, "new", "11.B.host", "F", &nn) == 0);
	uidlist_init(&u, dir);
	CHECK(uidlist_sync(&u) == 0 && u.n == 2 && u.msgs[1].uid == 29);
	CHECK(u.modseq == m0 + 1 && u.msgs[1].modseq == m0 + 1 && u.msgs[0].modseq == 1);
	/* claiming \Recent: the first claim gets both, the second none */
	u.claim_recent = 1;
	CHECK(uidlist_begin(&u) == 0 && u.claim_lo == 0 && u.claim_hi == 29 && uidlist_end(&u) == 0);
	CHECK(uidlist_begin(&u) == 0 && u.claim_lo == u.claim_hi && uidlist_end(&u) == 0);
	uidlist_free(&u);
	buf_free(&nn);
	buf_free(&p);
	buf_free(&text);
	memcpy(root, saved, sizeof saved);
}

static unsigned long long ino_of(const char *dir, const char *name)
{
	struct buf p = BUF_INIT;
	struct stat st;
	buf_printf(&p, "%s/%s", dir, name);
	unsigned long long r = stat(buf_cstr(&p), &st) == 0 ? (unsigned long long)st.st_ino : 0;
	buf_free(&p);
	return r;
}

static int file_has(const char *dir, const char *name, const char *needle)
{
	struct buf p = BUF_INIT, text = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, name);
	int r = file_read(buf_cstr(&p), &text, 1 << 24) == 0 &&
		mem_find(text.s, text.len, needle, strlen(needle)) != NULL;
	buf_free(&p);
	buf_free(&text);
	return r;
}

/* The change log: a change is appended, not a rewrite of the list; other
 * readers pick it up; a torn tail is cut; a big log is folded; a log of
 * another generation is ignored. */
static void test_log(void)
{
	char saved[sizeof root], dir[sizeof root];
	memcpy(saved, root, sizeof saved);
	if (strlen(root) + 6 > sizeof dir)
		return;
	memcpy(dir, root, strlen(root));
	memcpy(dir + strlen(root), "/.Log", 6);
	if (maildir_make(dir) < 0)
		return;
	memcpy(root, dir, sizeof root);
	put("cur", "1.A.h:2,", "a\n");
	put("cur", "2.B.h:2,", "b\n");
	put("cur", "3.C.h:2,", "c\n");
	struct uidlist a, b;
	uidlist_init(&a, dir);
	uidlist_init(&b, dir);
	CHECK(uidlist_sync(&a) == 0 && a.n == 3 && uidlist_sync(&b) == 0 && b.n == 3);
	unsigned long long list_ino = ino_of(dir, UIDLIST_FILE);
	struct buf nn = BUF_INIT;
	CHECK(uidlist_begin(&a) == 0);
	struct uid_msg *m = uidlist_find(&a, 2);
	CHECK(m && maildir_set_flags(dir, "cur", m->name, "S", &nn) == 0);
	if (m)
		uidlist_rename(&a, m, 'c', buf_cstr(&nn));
	uidlist_touched_cur(&a);
	CHECK(uidlist_end(&a) == 0);
	CHECK(ino_of(dir, UIDLIST_FILE) == list_ino && file_has(dir, UIDLIST_LOG, "= 2 c "));
	unsigned long long gen_b = b.mem_gen;
	CHECK(uidlist_sync(&b) == 0 && b.mem_gen != gen_b && b.modseq == a.modseq);
	CHECK(uidlist_find(&b, 2) && !strcmp(uidlist_find(&b, 2)->name, "2.B.h:2,S"));
	/* a writer that died mid-line: the tail is ignored, then cut */
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, UIDLIST_LOG);
	int fd = open(buf_cstr(&p), O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write_all(fd, "- 1 garbage", 11) == 0);
	if (fd >= 0)
		close(fd);
	struct uidlist c;
	uidlist_init(&c, dir);
	CHECK(uidlist_sync(&c) == 0 && c.n == 3 && uidlist_find(&c, 1));
	CHECK(uidlist_begin(&c) == 0);
	m = uidlist_find(&c, 3);
	CHECK(m && maildir_set_flags(dir, "cur", m->name, "F", &nn) == 0);
	if (m)
		uidlist_rename(&c, m, 'c', buf_cstr(&nn));
	CHECK(uidlist_end(&c) == 0 && !file_has(dir, UIDLIST_LOG, "garbage"));
	CHECK(uidlist_sync(&a) == 0 && a.n == 3 && !strcmp(uidlist_find(&a, 3)->name, "3.C.h:2,F"));
	/* a big batch folds the log into a new list */
	CHECK(uidlist_begin(&a) == 0);
	m = uidlist_find(&a, 1);
	for (int i = 0; m && i < 20000; i++)
		uidlist_rename(&a, m, 'c', "1.A.h:2,");
	CHECK(uidlist_end(&a) == 0 && ino_of(dir, UIDLIST_FILE) != list_ino);
	/* the old names are garbage, dropped at the next sync */
	CHECK(a.name_garbage > 256 * 1024 / 2);
	CHECK(uidlist_begin(&a) == 0);
	m = uidlist_find(&a, 1);
	for (int i = 0; m && i < 20000; i++)
		uidlist_rename(&a, m, 'c', "1.A.h:2,");
	CHECK(uidlist_end(&a) == 0 && a.name_garbage > 256 * 1024);
	CHECK(uidlist_sync(&a) == 0 && a.name_garbage == 0 && a.n == 3 &&
	      !strcmp(uidlist_find(&a, 1)->name, "1.A.h:2,") &&
	      !strcmp(uidlist_find(&a, 3)->name, "3.C.h:2,F"));
	CHECK(!file_has(dir, UIDLIST_LOG, "= 1 c"));
	CHECK(uidlist_sync(&b) == 0 && b.n == 3 && b.modseq == a.modseq && b.gen == a.gen);
	CHECK(!strcmp(uidlist_find(&b, 3)->name, "3.C.h:2,F"));
	uidlist_free(&c);
	/* a log of another generation (a fold that died between its two
	 * files) is ignored */
	struct buf stale = BUF_INIT;
	buf_printf(&stale, "posthorn-uidlist-log G%llu\n- 1\n", a.gen - 1);
	put(".", UIDLIST_LOG, buf_cstr(&stale));
	uidlist_init(&c, dir);
	CHECK(uidlist_sync(&c) == 0 && c.n == 3 && uidlist_find(&c, 1));
	uidlist_free(&c);
	buf_free(&stale);
	buf_free(&p);
	buf_free(&nn);
	uidlist_free(&a);
	uidlist_free(&b);
	memcpy(root, saved, sizeof saved);
}

/* A reader changing flags (renames in cur/) while another process syncs:
 * no message may lose its UID (be dropped and listed again). */
static void test_renames_race(void)
{
	char dir[96];
	snprintf(dir, sizeof dir, "%s/.Race", root);
	if (maildir_make(dir) < 0)
		return;
	for (int i = 0; i < 40; i++) {
		struct buf p = BUF_INIT;
		buf_printf(&p, "%s/cur/%d.R%d.host:2,", dir, 1000 + i, i);
		int fd = open(buf_cstr(&p), O_WRONLY | O_CREAT, 0600);
		if (fd >= 0)
			close(fd);
		buf_free(&p);
	}
	struct uidlist u;
	uidlist_init(&u, dir);
	int ok = uidlist_sync(&u) == 0 && u.n == 40 && u.next_uid == 41;
	uidlist_free(&u);
	pid_t pid = fork();
	if (pid == 0) {
		struct buf nn = BUF_INIT, name = BUF_INIT;
		for (int round = 0; round < 200; round++)
			for (int i = 0; i < 40; i++) {
				buf_reset(&name);
				buf_printf(&name, "%d.R%d.host:2,%s", 1000 + i, i, round % 2 ? "" : "S");
				buf_cstr(&name);
				maildir_set_flags(dir, "cur", name.s, round % 2 ? "S" : "", &nn);
			}
		_exit(0);
	}
	for (int k = 0; k < 300 && ok; k++) {
		uidlist_init(&u, dir);
		ok = uidlist_sync(&u) == 0 && u.n == 40 && u.next_uid == 41;
		uidlist_free(&u);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(ok);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/test_uidlist.%ld", (long)getpid());
	if (maildir_make(root) < 0) {
		perror(root);
		return 1;
	}
	test_crlf();
	test_parse();
	test_folder();
	test_upgrade();
	test_log();
	test_renames_race();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
