/* test_password: crypt hashing and checking for the users table. */
#include "tap.h"
#include "password.h"

#include <string.h>

int main(void)
{
	struct buf h = BUF_INIT;
	CHECK(password_hash("demo", 4, &h) == 0);
	const char *hs = buf_cstr(&h);
	CHECK(hs[0] == '$');
	CHECK(strstr(hs, "demo") == NULL);
	CHECK(strchr(hs, ':') == NULL);
	CHECK(password_check("demo", 4, hs) == 1);
	CHECK(password_check("demO", 4, hs) == 0);
	CHECK(password_check("dem", 3, hs) == 0);
	CHECK(password_check("demo", 4, "nohash") == -1);
	CHECK(password_hash("a\0b", 3, &h) == -1);
	struct buf h2 = BUF_INIT;
	CHECK(password_hash("demo", 4, &h2) == 0);
	CHECK(strcmp(buf_cstr(&h2), hs) != 0);	/* salted */
	buf_free(&h);
	buf_free(&h2);
	return tap_done();
}
