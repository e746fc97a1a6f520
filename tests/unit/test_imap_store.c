/* test_imap_store: imapd's store (imapd/mailbox/mbox.h) on a temporary
 * Maildir: UIDs stable across reopen, deliveries, renames and unlinks
 * behind the server's back, two views seeing each other's changes in the
 * right order, \Recent claimed once, modseqs, keywords, APPEND/COPY,
 * quota, the parsed-structure cache, folder operations and name attacks,
 * and the upgrade of a version-1 uidlist.  The store's sources are not in
 * the common library, so they are included here directly. */
#include "../../imapd/mailbox/folder.c"
#include "../../imapd/mailbox/mbox.c"
#include "../../imapd/mailbox/kwfile.c"
#include "../../imapd/mailbox/append.c"
#include "../../imapd/mailbox/cache.c"
#include "../../imapd/mailbox/watch.c"
#include "tap.h"

#include <poll.h>
#include <sys/wait.h>

static char root[128];

static void put(const char *dir, const char *sub, const char *name, const char *text)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s/%s", dir, sub, name);
	int fd = open(buf_cstr(&p), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		write_all(fd, text, strlen(text));
		close(fd);
	}
	buf_free(&p);
}

static void test_names(void)
{
	static const char *const good[] = {
		"INBOX", "a", "Sent", "a.b.c", "&AOQ-rger", "x&-y", "Entw&APw-rfe", "&2D3eAQ-", NULL,
	};
	static const char *const bad[] = {
		"", ".", "..", "a..b", ".a", "a.", "a/b", "/etc", "../x", "a.../b", "a\tb", "a\nb",
		"&", "&Jjo", "&Jjo!-", "&AGE-", "&2D0-", "&3gE-", "caf\xc3\xa9", "a*", "b%", "&AOQ",
		NULL,
	};
	int ok = 1;
	for (int i = 0; good[i]; i++)
		if (folder_name_check(good[i], strlen(good[i])) != 0)
			ok = 0, printf("# good refused: %s\n", good[i]);
	CHECK(ok);
	ok = 1;
	for (int i = 0; bad[i]; i++)
		if (folder_name_check(bad[i], strlen(bad[i])) != -1)
			ok = 0, printf("# bad accepted: %s\n", bad[i]);
	CHECK(ok);
	char longname[300];
	memset(longname, 'a', sizeof longname);
	CHECK(folder_name_check(longname, 255) == 0 && folder_name_check(longname, 256) == -1);
	CHECK(folder_name_check("a\0b", 3) == -1);
	/* no call reaches the file system with a bad name */
	struct mbox *m;
	errno = 0;
	CHECK(mbox_open(root, "../x", 0, &m) == -1 && errno == EINVAL);
	CHECK(folder_create(root, "a/../../etc") == -1 && errno == EINVAL);
	CHECK(folder_delete(root, "..") == -1 && errno == EINVAL);
	CHECK(folder_rename(root, "INBOX", "x/y") == -1 && errno == EINVAL);
	struct folder_status st;
	CHECK(folder_status(root, "a..b", &st) == -1 && errno == EINVAL);
	struct mbox_new nm = {0};
	unsigned long v, u;
	CHECK(mbox_append(root, "/tmp", &nm, "x", 1, &v, &u) == -1 && errno == EINVAL);
}

struct listed {
	char names[32][64];
	unsigned attrs[32];
	int n;
};

static int collect(const struct folder_entry *e, void *arg)
{
	struct listed *l = arg;
	if (l->n < 32) {
		snprintf(l->names[l->n], sizeof l->names[0], "%s", e->name);
		l->attrs[l->n++] = e->attrs;
	}
	return 0;
}

static int find_listed(const struct listed *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return i;
	return -1;
}

static void list(const char *pat, int subs, struct listed *l)
{
	memset(l, 0, sizeof *l);
	folder_list(root, "", 0, pat, strlen(pat), subs, collect, l);
}

static void test_folders(void)
{
	struct listed l;
	CHECK(folder_init_special(root) == 0);
	list("*", 0, &l);
	CHECK(l.n == 6 && !strcmp(l.names[0], "INBOX"));
	int t = find_listed(&l, "Trash");
	CHECK(t > 0 && (l.attrs[t] & FA_TRASH) && (l.attrs[t] & FA_SUBSCRIBED));
	/* a deleted special folder does not come back */
	CHECK(folder_delete(root, "Junk") == 0);
	CHECK(folder_init_special(root) == 0);
	list("*", 0, &l);
	CHECK(l.n == 5 && find_listed(&l, "Junk") < 0);

	CHECK(folder_create(root, "a.b.c") == 0);	/* superiors created too */
	CHECK(folder_create(root, "a") == -1 && errno == EEXIST);
	CHECK(folder_create(root, "inbox") == -1 && errno == EEXIST);
	CHECK(folder_create(root, "x.") == 0);
	list("%", 0, &l);
	CHECK(find_listed(&l, "a") >= 0 && find_listed(&l, "a.b") < 0 && find_listed(&l, "x") >= 0);
	int a = find_listed(&l, "a");
	CHECK(a >= 0 && (l.attrs[a] & FA_HASCHILDREN));
	int x = find_listed(&l, "x");
	CHECK(x >= 0 && (l.attrs[x] & FA_HASNOCHILDREN));
	list("a.*", 0, &l);
	CHECK(l.n == 2 && find_listed(&l, "a.b") >= 0 && find_listed(&l, "a.b.c") >= 0);
	list("inbox", 0, &l);
	CHECK(l.n == 1 && !strcmp(l.names[0], "INBOX"));
	/* DELETE of a parent: it becomes \Noselect while it has children */
	CHECK(folder_delete(root, "a.b") == 0);
	list("a.*", 0, &l);
	int ab = find_listed(&l, "a.b");
	CHECK(ab >= 0 && (l.attrs[ab] & FA_NOSELECT) && (l.attrs[ab] & FA_HASCHILDREN));
	CHECK(folder_delete(root, "a.b") == -1 && errno == ENOTEMPTY);
	CHECK(folder_delete(root, "INBOX") == -1 && errno == EACCES);
	CHECK(folder_delete(root, "nope") == -1 && errno == ENOENT);
	/* RENAME with children */
	CHECK(folder_rename(root, "a", "q.r") == 0);
	list("*", 0, &l);
	CHECK(find_listed(&l, "a") < 0 && find_listed(&l, "q.r") >= 0 && find_listed(&l, "q.r.b.c") >= 0);
	CHECK(find_listed(&l, "q") >= 0);
	CHECK(folder_rename(root, "q.r", "q.r.s") == -1 && errno == EINVAL);
	CHECK(folder_rename(root, "q.r", "x") == -1 && errno == EEXIST);
	CHECK(folder_rename(root, "none", "y") == -1 && errno == ENOENT);
	/* subscriptions */
	CHECK(folder_subscribe(root, "x", 1) == 0 && folder_subscribe(root, "gone", 1) == 0);
	CHECK(folder_subscribe(root, "Sent", 0) == 0);
	list("*", 1, &l);
	int g = find_listed(&l, "gone");
	CHECK(find_listed(&l, "x") >= 0 && g >= 0 && (l.attrs[g] & FA_NONEXISTENT) &&
	      find_listed(&l, "Sent") < 0 && find_listed(&l, "Trash") >= 0);
	/* LSUB "%" with only q.r.b.c subscribed: q as \Noselect */
	CHECK(folder_subscribe(root, "q.r.b.c", 1) == 0);
	memset(&l, 0, sizeof l);
	folder_list(root, "", 0, "%", 1, 2, collect, &l);
	int q = find_listed(&l, "q");
	CHECK(q >= 0 && l.attrs[q] == FA_NOSELECT && find_listed(&l, "q.r.b.c") < 0);
	list("%", 1, &l);
	CHECK(find_listed(&l, "q") < 0);
	memset(&l, 0, sizeof l);
	folder_list(root, "q.", 2, "*", 1, 2, collect, &l);
	CHECK(l.n == 1 && !strcmp(l.names[0], "q.r.b.c") && (l.attrs[0] & FA_SUBSCRIBED));
}

/* A message "delivered" into new/ as local does. */
static void deliver(const char *dir, int i)
{
	char name[64], text[128];
	snprintf(name, sizeof name, "%d.M%dP1.host,S=%d", 1700000000 + i, i, 20);
	snprintf(text, sizeof text, "Subject: m%d\n\nbody %d\n", i, i);
	put(dir, "new", name, text);
}

static void test_views(void)
{
	for (int i = 0; i < 5; i++)
		deliver(root, i);
	struct mbox *a, *b;
	CHECK(mbox_open(root, "INBOX", 0, &a) == 0);
	CHECK(mbox_count(a) == 5 && mbox_recent(a) == 5);
	unsigned long validity = mbox_uidvalidity(a);
	CHECK(mbox_msg(a, 1)->uid == 1 && mbox_msg(a, 5)->uid == 5 && mbox_uidnext(a) == 6);
	CHECK(mbox_msg(a, 1)->size == 23 && mbox_msg(a, 1)->internaldate > 0);
	CHECK(mbox_msg(a, 0) == NULL && mbox_msg(a, 6) == NULL);
	CHECK(mbox_seq_of_uid(a, 3) == 3 && mbox_seq_of_uid(a, 9) == 0 && mbox_seq_at_or_after(a, 9) == 6);
	const char *data;
	size_t len;
	CHECK(mbox_map(a, 2, &data, &len) == 0 && len == 20 && !memcmp(data, "Subject: m1\n", 12));
	mbox_unmap(data, len);
	/* the second session: nothing is recent for it any more */
	CHECK(mbox_open(root, "INBOX", 0, &b) == 0);
	CHECK(mbox_count(b) == 5 && mbox_recent(b) == 0 && mbox_uidvalidity(b) == validity);
	CHECK(mbox_first_unseen(b) == 1);

	/* STORE in a: b sees FETCH for it, modseq raised */
	unsigned long long hm = mbox_highestmodseq(a), hb = mbox_highestmodseq(b);
	size_t seqs[] = {2, 4};
	CHECK(mbox_store(a, seqs, 2, MBOX_STORE_ADD, MF_SEEN | MF_DELETED, 0, 0, NULL, NULL) == 0);
	CHECK((mbox_msg(a, 2)->flags & MF_SEEN) && (mbox_msg(a, 4)->flags & MF_DELETED));
	CHECK(mbox_msg(a, 2)->modseq > hm);
	CHECK(mbox_msg(a, 1)->modseq <= hm);
	struct mbox_update up;
	/* b's HIGHESTMODSEQ does not cover a change b has not been told of */
	CHECK(mbox_sync(b, 1, NULL) == 0 && mbox_highestmodseq(b) == hb);
	CHECK(mbox_sync(b, 1, &up) == 0 && mbox_highestmodseq(b) >= mbox_msg(a, 4)->modseq);
	CHECK(up.nexpunged == 0 && up.nchanged == 2 && up.changed[0] == 2 && up.changed[1] == 4);
	CHECK(mbox_msg(b, 4)->flags & MF_DELETED);
	mbox_update_free(&up);
	/* a sync with nothing new reports nothing */
	CHECK(mbox_sync(b, 1, &up) == 0 && up.nchanged == 0 && up.nexpunged == 0 && !up.exists_changed);
	mbox_update_free(&up);
	/* a's own change is not reported back to a */
	CHECK(mbox_sync(a, 1, &up) == 0 && up.nchanged == 0);
	CHECK(mbox_highestmodseq(a) == mbox_highestmodseq(b) && mbox_highestmodseq(a) > hm);
	mbox_update_free(&up);

	/* UNCHANGEDSINCE */
	size_t *failed = NULL, nfailed = 0;
	size_t s2[] = {1, 2};
	CHECK(mbox_store(a, s2, 2, MBOX_STORE_ADD, MF_FLAGGED, 0, mbox_msg(a, 1)->modseq, &failed, &nfailed) == 0);
	CHECK(nfailed == 1 && failed[0] == 2 && (mbox_msg(a, 1)->flags & MF_FLAGGED) &&
	      !(mbox_msg(a, 2)->flags & MF_FLAGGED));
	free(failed);

	/* EXPUNGE in a (2 and 4 deleted); b not allowed to expunge yet */
	unsigned long long before = mbox_highestmodseq(a);
	memset(&up, 0, sizeof up);
	CHECK(mbox_expunge(a, NULL, 0, 1, &up) == 0);
	CHECK(up.nexpunged == 2 && up.expunged[0] == 2 && up.expunged[1] == 3 &&
	      up.expunged_uids[0] == 2 && up.expunged_uids[1] == 4);
	CHECK(mbox_count(a) == 3 && mbox_highestmodseq(a) > before);
	mbox_update_free(&up);
	CHECK(mbox_sync(b, 0, &up) == 0 && up.nexpunged == 0 && mbox_count(b) == 5);
	CHECK(mbox_msg(b, 2)->expunged && mbox_msg(b, 4)->expunged);
	CHECK(mbox_highestmodseq(b) < b->ul.modseq);	/* expunges not reported */
	CHECK(mbox_map(b, 2, &data, &len) == -1 && errno == ENOENT);
	mbox_update_free(&up);
	/* now allowed: reported in order, numbers as at each moment */
	CHECK(mbox_sync(b, 1, &up) == 0 && up.nexpunged == 2 && up.expunged[0] == 2 &&
	      up.expunged[1] == 3 && mbox_count(b) == 3);
	CHECK(mbox_highestmodseq(b) == b->ul.modseq);
	mbox_update_free(&up);

	/* behind the back: a delivery, a reader's rename, an unlink */
	deliver(root, 10);
	struct buf nn = BUF_INIT;
	const struct uid_msg *u5 = uidlist_find(&a->ul, 5);
	char *name5 = u5 ? xstrdup(u5->name) : xstrdup("x");
	char sub5[4];
	snprintf(sub5, sizeof sub5, "%s", u5 && u5->sub == 'c' ? "cur" : "new");
	CHECK(maildir_set_flags(root, sub5, name5, "FS", &nn) == 0);
	free(name5);
	const struct uid_msg *u1 = uidlist_find(&a->ul, 1);
	struct buf p = BUF_INIT;
	if (u1)
		uidlist_path(&a->ul, u1, &p);
	CHECK(u1 && unlink(buf_cstr(&p)) == 0);
	buf_free(&p);
	CHECK(mbox_sync(b, 1, &up) == 0);
	/* report order: expunge of 1 first, then EXISTS, then FETCH of uid 5 */
	CHECK(up.nexpunged == 1 && up.expunged[0] == 1 && up.expunged_uids[0] == 1);
	CHECK(up.exists_changed && mbox_count(b) == 3 && mbox_msg(b, 3)->uid == 6);
	CHECK(up.nchanged == 1 && up.changed[0] == mbox_seq_of_uid(b, 5));
	CHECK((mbox_msg(b, 2)->flags & (MF_SEEN | MF_FLAGGED)) == (MF_SEEN | MF_FLAGGED));
	/* the new message is recent to b, the first to see it */
	CHECK(mbox_recent(b) == 1 && (mbox_msg(b, 3)->flags & MF_RECENT));
	mbox_update_free(&up);
	CHECK(mbox_sync(a, 1, &up) == 0);
	CHECK(mbox_count(a) == 3 && !(mbox_msg(a, 3)->flags & MF_RECENT));
	mbox_update_free(&up);
	mbox_close(a);
	mbox_close(b);
	buf_free(&nn);

	/* reopen: same UIDs and UIDVALIDITY, flags kept */
	CHECK(mbox_open(root, "inbox", 1, &a) == 0);
	CHECK(mbox_uidvalidity(a) == validity && mbox_count(a) == 3 && mbox_msg(a, 1)->uid == 3 &&
	      mbox_msg(a, 2)->uid == 5 && mbox_msg(a, 3)->uid == 6 && mbox_uidnext(a) == 7);
	CHECK(mbox_msg(a, 2)->flags & MF_FLAGGED);
	CHECK(mbox_store(a, seqs, 1, MBOX_STORE_ADD, MF_SEEN, 0, 0, NULL, NULL) == -1 && errno == EACCES);
	mbox_close(a);
}

static void test_keywords(void)
{
	struct mbox *a, *b;
	CHECK(mbox_open(root, "INBOX", 0, &a) == 0 && mbox_open(root, "INBOX", 0, &b) == 0);
	CHECK(mbox_keyword_count(a) == 0 && mbox_keyword_find(a, "$Junk", 5, 0) == -1);
	int k = mbox_keyword_find(a, "$Junk", 5, 1);
	int k2 = mbox_keyword_find(a, "work", 4, 1);
	CHECK(k == 0 && k2 == 1 && mbox_keyword_find(a, "$JUNK", 5, 0) == 0);
	CHECK(mbox_keyword_find(a, "bad kw", 6, 1) == -1);
	size_t s1 = 1;
	CHECK(mbox_store(a, &s1, 1, MBOX_STORE_ADD, 0, 1u << k2, 0, NULL, NULL) == 0);
	CHECK(mbox_msg(a, 1)->keywords == (1u << k2));
	struct mbox_update up;
	CHECK(mbox_sync(b, 1, &up) == 0 && up.keywords_changed && mbox_keyword_count(b) == 2);
	CHECK(up.nchanged == 1 && mbox_msg(b, 1)->keywords == (1u << k2));
	CHECK(!strcmp(mbox_keyword_name(b, 1), "work"));
	mbox_update_free(&up);
	/* kept in the file name as a letter */
	const struct uid_msg *u = uidlist_find(&a->ul, mbox_msg(a, 1)->uid);
	size_t fl;
	const char *f = u ? maildir_name_flags(u->name, strlen(u->name), &fl) : NULL;
	CHECK(f && memchr(f, 'b', fl));
	mbox_close(a);
	mbox_close(b);
}

static size_t count_files(const char *dir, const char *sub);

static void test_append_copy(void)
{
	struct mbox_new nm = {0};
	const char *kws[] = {"$Forwarded"};
	size_t kwl[] = {10};
	nm.flags = MF_SEEN | MF_RECENT;
	nm.keywords = kws;
	nm.keyword_lens = kwl;
	nm.nkeywords = 1;
	nm.internaldate = 1600000000;
	unsigned long v, uid, v2, uid2;
	const char *msg = "Subject: hi\r\n\r\nline\r\n";
	CHECK(mbox_append(root, "Sent", &nm, msg, strlen(msg), &v, &uid) == 0 && uid == 1);
	CHECK(mbox_append(root, "Sent", &nm, msg, strlen(msg), &v2, &uid2) == 0 && uid2 == 2 && v2 == v);
	CHECK(mbox_append(root, "NoSuch", &nm, msg, strlen(msg), &v2, &uid2) == -1 && errno == ENOENT);
	struct mbox *s;
	CHECK(mbox_open(root, "Sent", 0, &s) == 0 && mbox_count(s) == 2);
	const struct mbox_msg *m1 = mbox_msg(s, 1);
	CHECK(m1->size == strlen(msg) && m1->internaldate == 1600000000 && (m1->flags & MF_SEEN));
	CHECK(mbox_keyword_count(s) == 1 && m1->keywords == 1);
	const char *data;
	size_t len;
	CHECK(mbox_map(s, 1, &data, &len) == 0 && len == 18 && !memcmp(data, "Subject: hi\n\nline\n", 18));
	mbox_unmap(data, len);

	/* COPY to Trash: new UIDs, flags and keywords by name, dates kept */
	size_t seqs[] = {1, 2};
	unsigned long dst[2];
	CHECK(mbox_copy(s, seqs, 2, "Trash", &v2, dst) == 0 && dst[0] == 1 && dst[1] == 2);
	CHECK(mbox_copy(s, seqs, 1, "Nope", &v2, dst) == -1 && errno == ENOENT);
	struct mbox *t;
	CHECK(mbox_open(root, "Trash", 0, &t) == 0);
	CHECK(mbox_count(t) == 2 && mbox_uidvalidity(t) == v2);
	CHECK(mbox_msg(t, 2)->internaldate == 1600000000 && (mbox_msg(t, 2)->flags & MF_SEEN));
	CHECK(mbox_keyword_count(t) == 1 && !strcmp(mbox_keyword_name(t, 0), "$Forwarded") &&
	      mbox_msg(t, 1)->keywords == 1);
	CHECK(mbox_recent(t) == 2);
	mbox_close(t);
	/* EXAMINE shows an unclaimed message as recent without claiming it */
	CHECK(mbox_append(root, "Trash", &nm, msg, strlen(msg), &v2, &uid2) == 0);
	CHECK(mbox_open(root, "Trash", 1, &t) == 0 && mbox_recent(t) == 1 &&
	      (mbox_msg(t, 3)->flags & MF_RECENT));
	mbox_close(t);
	CHECK(mbox_open(root, "Trash", 0, &t) == 0 && mbox_recent(t) == 1);
	mbox_close(t);
	CHECK(mbox_open(root, "Trash", 1, &t) == 0 && mbox_recent(t) == 0);
	mbox_close(t);
	/* MOVE's removal: by uid, whatever the flags */
	struct mbox_update up;
	memset(&up, 0, sizeof up);
	unsigned long uids[] = {1};
	CHECK(mbox_expunge(s, uids, 1, 0, &up) == 0 && up.nexpunged == 1 && mbox_count(s) == 1);
	mbox_update_free(&up);

	/* the parsed-structure cache */
	struct buf out = BUF_INIT;
	CHECK(mbox_cache_get(s, 1, MBOX_CACHE_ENVELOPE, &out) == 0);
	mbox_cache_put(s, 1, MBOX_CACHE_ENVELOPE, "(NIL \"hi\")", 10);
	mbox_cache_put(s, 1, MBOX_CACHE_BODY, "(\"text\")", 8);
	CHECK(mbox_cache_get(s, 1, MBOX_CACHE_ENVELOPE, &out) == 1 && buf_eq(&out, "(NIL \"hi\")"));
	struct mbox *s2;
	CHECK(mbox_open(root, "Sent", 1, &s2) == 0);
	buf_reset(&out);
	CHECK(mbox_cache_get(s2, 1, MBOX_CACHE_BODY, &out) == 1 && buf_eq(&out, "(\"text\")"));
	buf_reset(&out);
	CHECK(mbox_cache_get(s2, 1, MBOX_CACHE_BODYSTRUCTURE, &out) == 0);
	/* another session's record is seen after a sync */
	mbox_cache_put(s, 1, MBOX_CACHE_BODYSTRUCTURE, "(\"bs\")", 6);
	CHECK(mbox_sync(s2, 1, &up) == 0);
	mbox_update_free(&up);
	CHECK(mbox_cache_get(s2, 1, MBOX_CACHE_BODYSTRUCTURE, &out) == 1 && buf_eq(&out, "(\"bs\")"));
	CHECK(mbox_cache_get(s2, 99, MBOX_CACHE_BODY, &out) == 0);
	/* a cache file of another UIDVALIDITY is never used, and started over */
	mbox_close(s2);
	struct buf cp = BUF_INIT;
	buf_printf(&cp, "%s/.Sent/%s", root, CACHE_FILE);
	int cfd = open(buf_cstr(&cp), O_WRONLY | O_TRUNC);
	CHECK(cfd >= 0 && write_all(cfd, "posthorn-cache 1 V1\n1 0 3\nold\n", 30) == 0);
	if (cfd >= 0)
		close(cfd);
	buf_free(&cp);
	CHECK(mbox_open(root, "Sent", 1, &s2) == 0);
	buf_reset(&out);
	CHECK(mbox_cache_get(s2, 1, MBOX_CACHE_ENVELOPE, &out) == 0);
	mbox_cache_put(s2, 1, MBOX_CACHE_ENVELOPE, "new", 3);
	CHECK(mbox_cache_get(s2, 1, MBOX_CACHE_ENVELOPE, &out) == 1 && buf_eq(&out, "new"));
	buf_free(&out);
	mbox_close(s2);

	/* STATUS from the index */
	struct folder_status st;
	CHECK(folder_status(root, "Trash", &st) == 0 && st.messages == 3 && st.uidnext == 4 &&
	      st.unseen == 0 && st.recent == 0 && st.uidvalidity == v2 && st.size == 3 * strlen(msg));
	CHECK(folder_status(root, "Nope", &st) == -1 && errno == ENOENT);

	/* a keyword too many: APPEND fails and leaves nothing in tmp/ */
	const char *many[MBOX_KEYWORDS_MAX + 1];
	size_t many_len[MBOX_KEYWORDS_MAX + 1];
	char kwn[MBOX_KEYWORDS_MAX + 1][8];
	for (int i = 0; i <= MBOX_KEYWORDS_MAX; i++) {
		snprintf(kwn[i], sizeof kwn[i], "kw%d", i);
		many[i] = kwn[i];
		many_len[i] = strlen(kwn[i]);
	}
	struct mbox_new full = nm;
	full.keywords = many;
	full.keyword_lens = many_len;
	full.nkeywords = MBOX_KEYWORDS_MAX + 1;
	CHECK(folder_create(root, "Kw") == 0);
	CHECK(mbox_append(root, "Kw", &full, msg, strlen(msg), &v2, &uid2) == -1 && errno == ENOSPC);
	struct buf kt = BUF_INIT;
	buf_printf(&kt, "%s/.Kw", root);
	CHECK(count_files(buf_cstr(&kt), "tmp") == 0 && count_files(buf_cstr(&kt), "cur") == 0);
	buf_free(&kt);

	/* a date before 1970 is kept as 0, and the index stays readable */
	struct mbox_new old = nm;
	old.internaldate = -86400;
	CHECK(mbox_append(root, "Trash", &old, msg, strlen(msg), &v2, &uid2) == 0);
	struct folder_status fs;
	CHECK(folder_status(root, "Trash", &fs) == 0 && fs.uidvalidity == v2 && fs.uidnext == uid2 + 1);

	/* APPEND and COPY into the selected folder itself */
	size_t before = mbox_count(s);
	CHECK(mbox_append(root, "Sent", &nm, msg, strlen(msg), &v2, &uid2) == 0 && uid2 == 3);
	size_t one = 1;
	unsigned long self_uid;
	CHECK(mbox_copy(s, &one, 1, "Sent", &v2, &self_uid) == 0 && self_uid == 4);
	CHECK(mbox_sync(s, 1, &up) == 0 && up.exists_changed && mbox_count(s) == before + 2 &&
	      mbox_msg(s, before + 2)->uid == 4);
	mbox_update_free(&up);
	/* STATUS of the selected folder (from the session's own index) */
	struct folder_status ss;
	CHECK(mbox_append(root, "Sent", &nm, msg, strlen(msg), &v2, &uid2) == 0);
	CHECK(folder_status(root, "Sent", &ss) == 0 && ss.messages == before + 3 && ss.uidnext == uid2 + 1);
	CHECK(mbox_sync(s, 1, &up) == 0 && up.exists_changed && mbox_count(s) == before + 3);
	mbox_update_free(&up);

	/* quota: a maildirsize limit of 100 bytes refuses a bigger message */
	put(root, ".", "maildirsize", "100S\n0 0\n");
	char big[200];
	memset(big, 'x', sizeof big);
	CHECK(mbox_append(root, "Sent", &nm, big, sizeof big, &v, &uid) == -1 && errno == EDQUOT);
	CHECK(mbox_copy(s, seqs, 1, "Trash", &v2, dst) == 0);	/* 18 bytes still fit */
	/* DELETE of a folder gives its messages' bytes back to the quota */
	CHECK(folder_create(root, "Q") == 0);
	CHECK(mbox_append(root, "Q", &nm, msg, strlen(msg), &v, &uid) == 0);
	CHECK(folder_delete(root, "Q") == 0);
	struct buf qs = BUF_INIT, qp = BUF_INIT;
	buf_printf(&qp, "%s/maildirsize", root);
	CHECK(file_read(buf_cstr(&qp), &qs, 4096) == 0 && mem_find(qs.s, qs.len, "\n18 1\n-18 -1\n", 13));
	buf_free(&qs);
	unlink(buf_cstr(&qp));
	buf_free(&qp);
	mbox_close(s);
}

static void test_rename_inbox(void)
{
	struct folder_status st;
	CHECK(folder_status(root, "INBOX", &st) == 0 && st.messages == 3);
	CHECK(folder_rename(root, "INBOX", "Old") == 0);
	CHECK(folder_status(root, "INBOX", &st) == 0 && st.messages == 0);
	CHECK(folder_status(root, "Old", &st) == 0 && st.messages == 3);
}

/* A folder pop3d indexed (version 1) keeps its UIDs and UIDVALIDITY. */
static void test_upgrade(void)
{
	CHECK(folder_create(root, "Pop") == 0);
	struct buf dir = BUF_INIT;
	buf_printf(&dir, "%s/.Pop", root);
	put(buf_cstr(&dir), "cur", "1.A.h:2,S", "a\n");
	put(buf_cstr(&dir), "new", "2.B.h", "bb\n");
	put(buf_cstr(&dir), ".", UIDLIST_FILE, "posthorn-uidlist 1 V777 N40 0 0\n17 3 2 c 1.A.h:2,S\n39 4 3 n 2.B.h\n");
	struct mbox *m;
	CHECK(mbox_open(root, "Pop", 0, &m) == 0);
	CHECK(mbox_uidvalidity(m) == 777 && mbox_count(m) == 2 && mbox_msg(m, 1)->uid == 17 &&
	      mbox_msg(m, 2)->uid == 39 && mbox_uidnext(m) == 40);
	CHECK((mbox_msg(m, 1)->flags & MF_SEEN) && mbox_msg(m, 1)->internaldate > 0);
	mbox_close(m);
	struct buf text = BUF_INIT, p = BUF_INIT;
	buf_printf(&p, "%s/%s", buf_cstr(&dir), UIDLIST_FILE);
	CHECK(file_read(buf_cstr(&p), &text, 1 << 20) == 0 &&
	      mem_caseprefix(text.s, text.len, "posthorn-uidlist 2 V777 N40 "));
	buf_free(&text);
	buf_free(&p);
	buf_free(&dir);
}

/* The index removed behind an open view: a new UIDVALIDITY, and the old
 * view refuses to go on (its UIDs name other messages now). */
static void test_stale(void)
{
	struct mbox *m, *n;
	CHECK(mbox_open(root, "Trash", 0, &m) == 0 && mbox_count(m) > 0);
	unsigned long v = mbox_uidvalidity(m);
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/.Trash/%s", root, UIDLIST_FILE);
	CHECK(unlink(buf_cstr(&p)) == 0);
	buf_free(&p);
	/* within the same second: still a new UIDVALIDITY (the lock file
	 * remembers the last one given) */
	CHECK(mbox_open(root, "Trash", 0, &n) == 0 && mbox_uidvalidity(n) != v);
	struct mbox_update up;
	CHECK(mbox_sync(m, 1, &up) == -1 && errno == ESTALE && mbox_stale(m));
	mbox_update_free(&up);
	const char *data;
	size_t len, one = 1;
	CHECK(mbox_map(m, 1, &data, &len) == -1 && errno == ESTALE);
	CHECK(mbox_store(m, &one, 1, MBOX_STORE_ADD, MF_SEEN, 0, 0, NULL, NULL) == -1 && errno == ESTALE);
	CHECK(!mbox_stale(n) && mbox_map(n, 1, &data, &len) == 0);
	mbox_unmap(data, len);
	mbox_close(m);
	mbox_close(n);
}

static void test_watch(void)
{
	struct mbox *m;
	CHECK(mbox_open(root, "INBOX", 0, &m) == 0);
	int fd = mbox_watch_fd(m);
	CHECK(fd >= 0);
	struct pollfd pfd = {fd, POLLIN, 0};
	CHECK(poll(&pfd, 1, 0) == 0);
	deliver(root, 99);
	CHECK(poll(&pfd, 1, 1000) == 1);
	mbox_watch_drain(m);
	CHECK(poll(&pfd, 1, 0) == 0);
	struct mbox_update up;
	CHECK(mbox_sync(m, 1, &up) == 0 && up.exists_changed && mbox_count(m) == 1);
	mbox_update_free(&up);
	mbox_close(m);
}

/* Several sessions and a "delivery" at once on one folder: afterwards the
 * index lists exactly the files there are, with their flags, UIDs never
 * given twice. */
static void stress_child(int id)
{
	struct mbox *m;
	if (mbox_open(root, "Stress", 0, &m) < 0)
		_exit(1);
	struct mbox_new nm = {0};
	const char *msg = "Subject: s\r\n\r\nx\r\n";
	for (int i = 0; i < 40; i++) {
		unsigned long v, uid;
		if (mbox_append(root, "Stress", &nm, msg, strlen(msg), &v, &uid) < 0)
			_exit(2);
		struct mbox_update up;
		if (mbox_sync(m, 1, &up) < 0)
			_exit(3);
		mbox_update_free(&up);
		size_t n = mbox_count(m);
		if (n) {
			size_t seq = (size_t)(i * 7 + id) % n + 1;
			unsigned f = i % 3 == 0 ? MF_DELETED : MF_FLAGGED;
			if (mbox_store(m, &seq, 1, MBOX_STORE_ADD, f, 0, 0, NULL, NULL) < 0)
				_exit(4);
		}
		if (i % 10 == 9) {
			memset(&up, 0, sizeof up);
			if (mbox_expunge(m, NULL, 0, 1, &up) < 0)
				_exit(5);
			mbox_update_free(&up);
		}
	}
	mbox_close(m);
	_exit(0);
}

static size_t count_files(const char *dir, const char *sub)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s", dir, sub);
	DIR *d = opendir(buf_cstr(&p));
	buf_free(&p);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static void test_stress(void)
{
	CHECK(folder_create(root, "Stress") == 0);
	struct buf dir = BUF_INIT;
	buf_printf(&dir, "%s/.Stress", root);
	pid_t pids[4];
	fflush(stdout);	/* the children must not write the parent's buffer again */
	for (int k = 0; k < 4; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			if (k == 3) {	/* local delivery into new/ meanwhile */
				for (int i = 0; i < 40; i++)
					deliver(buf_cstr(&dir), 1000 + i);
				_exit(0);
			}
			stress_child(k);
		}
	}
	int ok = 1;
	for (int k = 0; k < 4; k++) {
		int st;
		waitpid(pids[k], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0, printf("# child %d: status %d\n", k, st);
	}
	CHECK(ok);
	struct mbox *m;
	CHECK(mbox_open(root, "Stress", 1, &m) == 0);
	size_t files = count_files(buf_cstr(&dir), "new") + count_files(buf_cstr(&dir), "cur");
	CHECK(files == mbox_count(m) && files > 40);
	int order = 1, flags_ok = 1;
	for (size_t i = 1; i <= mbox_count(m); i++) {
		const struct mbox_msg *v = mbox_msg(m, i);
		if (i > 1 && v->uid <= mbox_msg(m, i - 1)->uid)
			order = 0;
		const struct uid_msg *u = uidlist_find(&m->ul, v->uid);
		unsigned f;
		uint32_t kw;
		if (u)
			name_flags(u->name, &f, &kw);
		if (!u || f != (v->flags & ~(unsigned)MF_RECENT))
			flags_ok = 0;
	}
	CHECK(order && flags_ok && mbox_uidnext(m) > mbox_msg(m, mbox_count(m))->uid);
	mbox_close(m);
	buf_free(&dir);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/test_imap_store.%ld", (long)getpid());
	if (maildir_make(root) < 0) {
		perror(root);
		return 1;
	}
	test_names();
	test_folders();
	test_views();
	test_keywords();
	test_append_copy();
	test_rename_inbox();
	test_upgrade();
	test_watch();
	test_stale();
	test_stress();
	char cmd[192];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
