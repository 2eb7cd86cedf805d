/*
 * libFuzzer target for the token codec (lib/token.c) and the soft-count
 * value codec (lib/softcount.c), both read from outside input (VERP
 * addresses of inbound mail; records on disk).  Invariants: a decoded
 * token has a known kind, a scope of 0 or 1 and an offset within range,
 * and came from text without NUL bytes; token_find never reads outside
 * its input; a decoded soft-count value encodes back to itself (one
 * record, one text).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "softcount.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct token t;
	if (token_decode(s, size, &t) == 0) {
		if (t.offset > TOKEN_OFFSET_MAX || (t.kind != 'v' && t.kind != 'u') || t.scope > 1)
			abort();
		(void)token_verify(&t, "k", 1, "c", "a@b");
		for (size_t i = 0; i < size; i++)
			if (s[i] == '\0')
				abort();
	}
	(void)token_find(s, size, '+', &t);
	(void)token_find(s, size, '-', &t);
	struct softcount_entry e;
	if (softcount_decode(s, size, &e) == 0) {
		struct buf out = BUF_INIT;
		softcount_encode(&e, &out);
		if (out.len != size || memcmp(out.data, s, size) != 0)
			abort();
		buf_free(&out);
	}
	return 0;
}
