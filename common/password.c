/* password: crypt(3) hashing and checking (see password.h). */
#include "password.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

/* crypt(3) takes a C string: a password with a NUL in it is refused
 * instead of silently cut short. */
static char *pw_cstr(const char *pw, size_t len)
{
	if (memchr(pw, 0, len))
		return NULL;
	return xmemdup(pw, len);
}

static int hash_with(const char *prefix, const char *pw, struct buf *out)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, salt, (int)sizeof salt))
		return -1;
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *h = crypt_r(pw, salt, cd);
	int r = -1;
	if (h && h[0] == '$' && strlen(h) > strlen(prefix)) {
		buf_set(out, h, strlen(h));
		r = 0;
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return r;
}

int password_hash(const char *pw, size_t len, struct buf *out)
{
	char *p = pw_cstr(pw, len);
	if (!p)
		return -1;
	buf_reset(out);
	int r = hash_with("$y$", p, out);
	if (r < 0)
		r = hash_with("$6$", p, out);
	explicit_bzero(p, len);
	free(p);
	return r;
}

int password_check(const char *pw, size_t len, const char *hash)
{
	if (!hash || hash[0] != '$')
		return -1;
	char *p = pw_cstr(pw, len);
	if (!p)
		return 0;
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *h = crypt_r(p, hash, cd);
	int r = -1;
	if (h && h[0] == '$') {
		size_t hl = strlen(h);
		/* compare every byte: no early exit that leaks timing */
		unsigned char diff = hl != strlen(hash);
		for (size_t i = 0; i < hl && hash[i]; i++)
			diff |= (unsigned char)(h[i] ^ hash[i]);
		r = diff == 0;
	}
	explicit_bzero(p, len);
	explicit_bzero(cd, sizeof *cd);
	free(p);
	free(cd);
	return r;
}
