/* fuzz_store: libFuzzer entry point over the store's parsers of files a
 * session reads from disk or a client sends: the uidlist and its change
 * log (common/uidlist.c), the folder name check (modified UTF-7 and
 * levels: the only way from an IMAP name to a path), the keyword file
 * (imapd/mailbox/kwfile.c) and LIST patterns.  The first byte chooses the
 * target.  Invariants besides the sanitizers: a list with a log applied
 * keeps ascending UIDs below its next UID, each with a name, and formats
 * to a text that parses back to the same messages; a name accepted by
 * folder_name_check has no '/', no empty level and no byte outside
 * printable ASCII, and yields a path under the root.  Built by
 * tests/fuzz/run.
 * FUZZ_SOURCES: imapd/mailbox/folder.c imapd/mailbox/mbox.c imapd/mailbox/kwfile.c imapd/mailbox/append.c imapd/mailbox/cache.c imapd/mailbox/watch.c */
#include "../../imapd/mailbox/mboxpriv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok) check_at((ok), __LINE__)
static void check_at(int ok, int line)
{
	if (!ok) {
		fprintf(stderr, "fuzz_store: invariant at line %d\n", line);
		abort();
	}
}

/* "list text" NUL "log text" */
static void fuzz_list(const char *p, size_t n)
{
	const char *nul = memchr(p, 0, n);
	size_t ln = nul ? (size_t)(nul - p) : n;
	struct uidlist u;
	uidlist_init(&u, "/nonexistent");
	if (uidlist_parse(&u, p, ln) == 0) {
		if (nul)
			uidlist_apply_log(&u, nul + 1, n - ln - 1);
		for (size_t i = 0; i < u.n; i++) {
			check(u.msgs[i].name != NULL && u.msgs[i].uid < u.next_uid);
			check(i == 0 || u.msgs[i].uid > u.msgs[i - 1].uid);
		}
		struct buf out = BUF_INIT;
		uidlist_format(&u, &out);
		struct uidlist v;
		uidlist_init(&v, "/nonexistent");
		check(uidlist_parse(&v, out.s, out.len) == 0 && v.n == u.n);
		uidlist_free(&v);
		buf_free(&out);
	}
	uidlist_free(&u);
}

static void fuzz_name(const char *p, size_t n)
{
	if (folder_name_check(p, n) != 0)
		return;
	check(!memchr(p, '/', n) && p[0] != '.' && p[n - 1] != '.');
	for (size_t i = 0; i < n; i++) {
		check((unsigned char)p[i] >= 0x20 && (unsigned char)p[i] < 0x7f);
		check(!(p[i] == '.' && i + 1 < n && p[i + 1] == '.'));
	}
	char *name = xmemdup(p, n);
	struct buf dir = BUF_INIT;
	check(folder_dir("/root", name, &dir) == 0);
	check(dir.len >= 5 && !memcmp(dir.s, "/root", 5) && (dir.len == 5 || !memcmp(dir.s + 5, "/.", 2)));
	check(!memchr(dir.s + 5, '/', dir.len - 5) || !memcmp(dir.s + 5, "/.", 2));
	buf_free(&dir);
	free(name);
}

static void fuzz_flags(const char *p, size_t n)
{
	char *name = xmemdup(p, n);
	unsigned f;
	uint32_t kw;
	name_flags(name, &f, &kw);
	struct buf letters = BUF_INIT;
	name_letters(name, f, kw, &letters);
	check(letters.len <= 52);
	buf_free(&letters);
	check(kw_name_ok(p, n) == 0 || (n > 0 && n <= MBOX_KEYWORD_LEN));
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 3) {
	case 0: fuzz_list(p, n); break;
	case 1: fuzz_name(p, n); break;
	default: fuzz_flags(p, n); break;
	}
	return 0;
}
