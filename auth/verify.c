/* verify: is this the password of this user?  Looks the lowercased
 * address up in passwd.cdb (readable only by user_auth) and checks it
 * with crypt(3).  An unknown user is checked against a dummy hash made
 * with the same algorithm, so that the answer takes about as long as for
 * a known one and does not tell which addresses exist. */
#include "auth.h"
#include "password.h"
#include "table.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static struct buf dummy = BUF_INIT;

void verify_init(void)
{
	char pw[32];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* never matched: only its cost matters, so the input is arbitrary */
	for (size_t i = 0; i < sizeof pw; i++)
		pw[i] = (char)('a' + (unsigned)(ts.tv_nsec >> (i % 20)) % 26);
	if (password_hash(pw, sizeof pw, &dummy) < 0)
		buf_set(&dummy, "$6$x$", 5);
	buf_cstr(&dummy);
	explicit_bzero(pw, sizeof pw);
}

/* RFC 4616 authzid: empty, or the authcid itself. */
static int authzid_ok(const struct auth_req *r)
{
	return r->authzid.len == 0 ||
	       mem_caseeq(r->authzid.s, r->authzid.len, r->user.s, r->user.len);
}

int verify_password(const struct config *cfg, const struct auth_req *r, struct buf *user)
{
	struct buf path = BUF_INIT, key = BUF_INIT, hash = BUF_INIT;
	struct table t;
	config_file(cfg, "passwd.cdb", &path);
	buf_copy(&key, &r->user);
	mem_lower(key.s, key.len);
	int found = table_open(&t, path.s) < 0 ? -1 : table_lookup(&t, key.s, key.len, &hash);
	if (found >= 0)
		table_close(&t);
	int code = 4;
	if (found >= 0) {
		const char *h = found == 1 ? buf_cstr(&hash) : dummy.s;
		int ok = password_check(r->password.s ? r->password.s : "", r->password.len, h);
		code = ok == 1 && found == 1 && authzid_ok(r) ? 2 : 5;
	}
	if (code == 2)
		buf_copy(user, &key);
	buf_free(&path);
	buf_free(&key);
	buf_free(&hash);
	return code;
}
