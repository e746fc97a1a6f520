/* tap.h: the minimal TAP producer for the C unit tests (tests/unit).
 * CHECK(cond) reports one test line; tap_done() returns the exit code. */
#ifndef POSTHORN_TAP_H
#define POSTHORN_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define CHECK(cond) tap_check((cond) != 0, #cond, __FILE__, __LINE__)

static inline void tap_check(int ok, const char *what, const char *file, int line)
{
	tap_n++;
	if (!ok)
		tap_failed++;
	printf("%sok %d - %s (%s:%d)\n", ok ? "" : "not ", tap_n, what, file, line);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
