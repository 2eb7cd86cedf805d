/*
 * fuzz_suppress - libFuzzer target for the suppression list's value
 * decoder, suppress_decode_value (docs/suppression.md).
 *
 * Stored values are read by enqueue for every recipient, and a damaged
 * or foreign list must be refused, not crash it.  Beyond "no crash", the
 * target checks what the decoder promises: on refusal storage is left as
 * it was; on success every string is inside storage, the reason is one of
 * the five, and encoding the fields again the way suppress_add does gives
 * a record that decodes to the same fields (escaping round-trips).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suppress.h"

static const char *const reasons[] = {
    "hard-bounce", "soft-bounce-limit", "complaint", "unsubscribe", "manual",
};

/* The same escaping as suppress_add, written again from the format
 * document rather than shared, so that the two can disagree. */
static void
escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f || c == '%') {
			buf_append_char(out, '%');
			buf_append_char(out, hex[c >> 4]);
			buf_append_char(out, hex[c & 15]);
		} else {
			buf_append_char(out, (char)c);
		}
	}
}

static int
inside(const struct buf *b, const char *p)
{
	return p >= b->data && p < b->data + b->len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const uint8_t *data, size_t size);

/*
 * Each input is tried twice: as a whole record, and (since without seeds
 * the fuzzer rarely finds a valid header by chance) as the campaign and
 * diagnostic fields behind a valid header, so that the unescaping is
 * fuzzed from the first run.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf record = BUF_INIT;

	check_record(data, size);
	if (size > 0) {
		buf_printf(&record, "1\t%s\t%u\t", reasons[data[0] % 5], (unsigned)data[0] * 7919u);
		buf_append(&record, data + 1, size - 1);
		check_record((const uint8_t *)record.data, record.len);
		buf_free(&record);
	}
	return 0;
}

static void
check_record(const uint8_t *data, size_t size)
{
	struct buf storage = BUF_INIT;
	struct suppress_entry e = {"address", "scope", NULL, 0, NULL, NULL};

	/* Something already in storage, which the decoder must keep. */
	buf_append_str(&storage, "kept");
	if (suppress_decode_value((const char *)data, size, &e, &storage) < 0) {
		if (storage.len != 4 || memcmp(storage.data, "kept", 4) != 0)
			abort();
		buf_free(&storage);
		return;
	}
	if (memcmp(storage.data, "kept", 4) != 0)
		abort();
	if (!inside(&storage, e.reason) || !inside(&storage, e.campaign) ||
	    !inside(&storage, e.diagnostic))
		abort();
	if (strcmp(e.address, "address") != 0 || strcmp(e.scope, "scope") != 0 || e.when < 0)
		abort();
	int known = 0;
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		known |= strcmp(e.reason, reasons[i]) == 0;
	if (!known)
		abort();

	struct buf again = BUF_INIT, storage2 = BUF_INIT;
	struct suppress_entry e2 = {"address", "scope", NULL, 0, NULL, NULL};
	buf_append_str(&again, "1\t");
	escape(&again, e.reason);
	buf_printf(&again, "\t%lld\t", (long long)e.when);
	escape(&again, e.campaign);
	buf_append_char(&again, '\t');
	escape(&again, e.diagnostic);
	if (suppress_decode_value(again.data, again.len, &e2, &storage2) < 0)
		abort();
	if (strcmp(e.reason, e2.reason) != 0 || e.when != e2.when ||
	    strcmp(e.campaign, e2.campaign) != 0 || strcmp(e.diagnostic, e2.diagnostic) != 0)
		abort();
	/* Re-encoding never lengthens a record: the decoder accepts no raw
	 * byte that the writer would have escaped. */
	if (again.len > size)
		abort();

	buf_free(&again);
	buf_free(&storage2);
	buf_free(&storage);
}
