/* fuzz_header: libFuzzer entry point over the RFC 5322 header parser
 * (common/header.c).  Checks the parser's own invariants on every input:
 * fields are in order, inside the input and contiguous, and the body
 * offset agrees with header_end().  Built by tests/fuzz/run. */
#include "header.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct header_iter it;
	struct header_field f;
	struct buf v = BUF_INIT;
	size_t expect = 0;
	header_iter_init(&it, s, size);
	while (header_next(&it, &f) == 1) {
		check(f.raw == s + expect);
		check(f.raw_len > 0 && f.raw_len <= size - expect);
		check(f.name == f.raw && f.name_len > 0 && f.name_len <= HEADER_NAME_MAX);
		check(f.value >= f.name + f.name_len);
		check(f.value + f.value_len <= f.raw + f.raw_len);
		buf_reset(&v);
		header_unfold(f.value, f.value_len, &v);
		check(v.len <= f.value_len && memchr(v.s, '\n', v.len) == NULL);
		expect += f.raw_len;
	}
	check(it.body >= expect && it.body <= size);
	int blank;
	check(header_end(s, size, &blank) == it.body && blank == it.blank);
	header_count_value(s, size, "Delivered-To", "a@b", 3);
	buf_free(&v);
	return 0;
}
