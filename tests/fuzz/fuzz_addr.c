/*
 * fuzz_addr - libFuzzer target for lib/addr.c.
 *
 * Feeds the input, as is, to addr_check (under every flag combination),
 * addr_normalize and addr_split_mailbox, and aborts on any broken promise:
 *
 *   - an accepted address is at most ADDR_MAX octets and holds no CR, LF,
 *     NUL, nor blank outside quotes (it goes verbatim into SMTP commands);
 *   - flags only widen: accepted without a flag means accepted with it;
 *   - *needs_utf8 says exactly whether there is a byte >= 0x80;
 *   - a refusal always has a short printable reason;
 *   - addr_normalize keeps the length, its result is accepted again with
 *     the same flags, and normalizing twice changes nothing;
 *   - addr_split_mailbox either fails with both buffers empty, or yields a
 *     non-empty trimmed address and a display name without control
 *     characters, and re-quoting the name and bracketing the address
 *     splits back to the same two strings.
 *
 *	clang -fsanitize=fuzzer,address,undefined -g -O1 -D_GNU_SOURCE -Ilib \
 *		-o fuzz_addr tests/fuzz/fuzz_addr.c lib/addr.c lib/buf.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"

#define ALL_FLAGS (ADDR_ALLOW_LITERAL | ADDR_ALLOW_NODOT)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(int cond)
{
	if (!cond)
		abort();
}

static int
bytes_equal(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void
check_reason(const char *why)
{
	require(why != NULL);
	size_t n = strlen(why);
	require(n > 0 && n < 80);
	for (size_t i = 0; i < n; i++)
		require(why[i] >= 0x20 && why[i] < 0x7f);
}

/* What SMTP needs of anything we accept. */
static void
check_accepted_shape(const char *s, size_t len)
{
	int quoted = 0;

	require(len > 0 && len <= ADDR_MAX);
	for (size_t i = 0; i < len; i++) {
		require(s[i] != '\r' && s[i] != '\n' && s[i] != '\0');
		if (quoted && s[i] == '\\') {
			require(i + 1 < len);
			i++;
		} else if (s[i] == '"') {
			quoted = !quoted;
		} else if (!quoted) {
			require(s[i] != ' ' && s[i] != '\t');
		}
	}
}

static void
fuzz_check(const char *s, size_t len)
{
	int accepted[ALL_FLAGS + 1];
	int has_8bit = 0;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			has_8bit = 1;

	for (int flags = 0; flags <= ALL_FLAGS; flags++) {
		const char *why = NULL;
		int utf8 = -1;

		accepted[flags] = addr_check(s, len, flags, &why, &utf8) == 0;
		require(utf8 == 0 || utf8 == 1);
		if (!accepted[flags]) {
			check_reason(why);
			continue;
		}
		require(utf8 == has_8bit);
		check_accepted_shape(s, len);

		for (int fold = 0; fold <= 1; fold++) {
			struct buf once = BUF_INIT, twice = BUF_INIT, folded = BUF_INIT;

			addr_normalize(s, len, fold, &once);
			require(once.len == len);
			require(addr_check(once.data, once.len, flags, &why, &utf8) == 0);
			require(utf8 == has_8bit);
			addr_normalize(once.data, once.len, fold, &twice);
			require(bytes_equal(&once, &twice));
			/* Folding the local part later gives the same key as
			 * folding it at once. */
			addr_normalize(once.data, once.len, 1, &folded);
			buf_reset(&twice);
			addr_normalize(s, len, 1, &twice);
			require(bytes_equal(&folded, &twice));
			buf_free(&once);
			buf_free(&twice);
			buf_free(&folded);
		}
	}
	/* Flags only ever allow more. */
	for (int flags = 0; flags <= ALL_FLAGS; flags++)
		for (int more = 0; more <= ALL_FLAGS; more++)
			if ((flags & more) == flags && accepted[flags])
				require(accepted[more]);
}

static void
fuzz_normalize(const char *s, size_t len)
{
	/* Not a valid address, perhaps: it must still be memory-safe and
	 * length-preserving. */
	struct buf out = BUF_INIT;

	addr_normalize(s, len, 0, &out);
	require(out.len == len);
	addr_normalize(s, len, 1, &out);
	require(out.len == 2 * len);
	buf_free(&out);
}

static void
fuzz_split(const char *s, size_t len)
{
	struct buf name = BUF_INIT, address = BUF_INIT;
	const char *why = NULL;

	buf_append_str(&name, "stale");
	if (addr_split_mailbox(s, len, &name, &address, &why) < 0) {
		check_reason(why);
		require(name.len == 0 && address.len == 0);
		buf_free(&name);
		buf_free(&address);
		return;
	}
	require(address.len > 0 && address.len <= len);
	require(address.data[0] != ' ' && address.data[0] != '\t');
	require(address.data[address.len - 1] != ' ' && address.data[address.len - 1] != '\t');
	for (size_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.data[i];
		require((c >= 0x20 && c != 0x7f) || c == '\t');
	}

	/* Rebuild "quoted name" <address> and split it again.  Only when the
	 * address has no bracket or quote trouble of its own: the form
	 * "<addr>" is only promised to round-trip for addresses that
	 * addr_check accepts. */
	if (addr_check(address.data, address.len, ALL_FLAGS, NULL, NULL) == 0) {
		struct buf again = BUF_INIT, name2 = BUF_INIT, address2 = BUF_INIT;

		buf_append_char(&again, '"');
		for (size_t i = 0; i < name.len; i++) {
			if (name.data[i] == '"' || name.data[i] == '\\')
				buf_append_char(&again, '\\');
			buf_append_char(&again, name.data[i]);
		}
		buf_append_str(&again, "\" <");
		buf_append(&again, address.data, address.len);
		buf_append_char(&again, '>');
		require(addr_split_mailbox(again.data, again.len, &name2, &address2, &why) == 0);
		require(bytes_equal(&name, &name2));
		require(bytes_equal(&address, &address2));
		buf_free(&again);
		buf_free(&name2);
		buf_free(&address2);
	}
	buf_free(&name);
	buf_free(&address);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	fuzz_check(s, size);
	fuzz_normalize(s, size);
	fuzz_split(s, size);
	return 0;
}
