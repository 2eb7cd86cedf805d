/*
 * fuzz_csv - libFuzzer target for lib/csv.c.
 *
 * The first input byte picks how the rest is cut into reads; the rest is
 * the CSV.  It is parsed with and without the field-count check, each
 * time in one read and in the chosen cuts, and the two parses must give
 * the same records, line numbers and error: where reads fall must never
 * matter.  Every record must hold what csv.h promises (no NUL, lens that
 * match, valid UTF-8, lines that only go forward, limits kept), and when
 * the input is accepted, writing the records out again as CSV and
 * parsing that must give them back.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "csv.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_csv: %s:%d: broken: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct source {
	const uint8_t *data;
	size_t len, pos;
	uint32_t cut; /* 0: as much as asked; else a PRNG state for read sizes */
	int saw_eof;
};

static ssize_t
source_read(void *ctx, void *dst, size_t len)
{
	struct source *s = ctx;
	size_t n = s->len - s->pos;

	REQUIRE(!s->saw_eof); /* the reader must not ask again after 0 */
	if (n == 0) {
		s->saw_eof = 1;
		return 0;
	}
	if (s->cut != 0) {
		/* xorshift32; low values often, so that 1-byte reads are common. */
		s->cut ^= s->cut << 13;
		s->cut ^= s->cut >> 17;
		s->cut ^= s->cut << 5;
		size_t want = 1 + (s->cut & 0xFF) % ((s->cut >> 8 & 3) == 0 ? 1 : 64);
		if (n > want)
			n = want;
	}
	if (n > len)
		n = len;
	memcpy(dst, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* An independent, slow UTF-8 check: decode, then judge the code point. */
static int
valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], cp, n;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			n = 1, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			n = 2, cp = c & 0x0F;
		else if ((c & 0xF8) == 0xF0)
			n = 3, cp = c & 0x07;
		else
			return 0;
		if (len - i <= n)
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * Parses the input once; returns the final status and leaves in *out a
 * rendering of every record and of the error, for comparison.  With
 * csv_out, also writes the records back out as CSV.
 */
static enum csv_status
parse(const uint8_t *data, size_t len, uint32_t cut, int check_count, int with_lines,
      struct buf *out, struct buf *csv_out)
{
	struct source src = {data, len, 0, cut, 0};
	struct csv_reader *r = csv_open(source_read, &src, "fuzz", check_count);
	struct csv_record rec;
	enum csv_status st;
	unsigned long prev_end = 0, max_line = 1;
	size_t first_count = 0;

	for (size_t i = 0; i < len; i++)
		max_line += data[i] == '\n';
	REQUIRE(csv_error(r)[0] == '\0');
	while ((st = csv_next(r, &rec)) == CSV_RECORD) {
		size_t total = 0;

		REQUIRE(rec.nfields >= 1 && rec.nfields <= CSV_MAX_FIELDS);
		REQUIRE(rec.fields[rec.nfields] == NULL);
		REQUIRE(rec.line >= 1 && rec.line <= rec.end_line && rec.end_line <= max_line);
		REQUIRE(rec.line > prev_end);
		prev_end = rec.end_line;
		if (first_count == 0)
			first_count = rec.nfields;
		if (check_count)
			REQUIRE(rec.nfields == first_count);
		if (with_lines)
			buf_printf(out, "%lu-%lu", rec.line, rec.end_line);
		buf_printf(out, "[%zu", rec.nfields);
		for (size_t i = 0; i < rec.nfields; i++) {
			REQUIRE(strlen(rec.fields[i]) == rec.lens[i]);
			REQUIRE(valid_utf8((const unsigned char *)rec.fields[i], rec.lens[i]));
			total += rec.lens[i];
			buf_printf(out, ":%zu:", rec.lens[i]);
			buf_append(out, rec.fields[i], rec.lens[i]);
			if (csv_out) {
				if (i)
					buf_append_char(csv_out, ',');
				buf_append_char(csv_out, '"');
				for (size_t k = 0; k < rec.lens[i]; k++) {
					if (rec.fields[i][k] == '"')
						buf_append_char(csv_out, '"');
					buf_append_char(csv_out, rec.fields[i][k]);
				}
				buf_append_char(csv_out, '"');
			}
		}
		if (csv_out)
			buf_append_str(csv_out, "\r\n");
		REQUIRE(total <= CSV_MAX_RECORD);
		buf_append_char(out, ']');
	}
	const char *err = csv_error(r);
	if (st == CSV_EOF) {
		REQUIRE(err[0] == '\0');
	} else {
		REQUIRE(st == CSV_BAD); /* the source never fails */
		REQUIRE(strncmp(err, "fuzz:", 5) == 0);
		REQUIRE(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
		REQUIRE(rec.nfields == 0);
	}
	buf_printf(out, "=%d:%s", (int)st, err);
	/* Sticky. */
	REQUIRE(csv_next(r, &rec) == st);
	REQUIRE(csv_next(r, &rec) == st);
	csv_close(r);
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t cut = data[0] == 0 ? 0 : 0x9E3779B9u ^ data[0];
	data++, size--;

	for (int check_count = 0; check_count <= 1; check_count++) {
		struct buf whole = BUF_INIT, chunked = BUF_INIT, again = BUF_INIT;
		struct buf csv_out = BUF_INIT;

		enum csv_status st =
		    parse(data, size, 0, check_count, 1, &whole, check_count ? NULL : &csv_out);
		parse(data, size, cut ? cut : 1, check_count, 1, &chunked, NULL);
		REQUIRE(whole.len == chunked.len &&
			memcmp(whole.data, chunked.data, whole.len) == 0);

		if (st == CSV_EOF && !check_count) {
			/* Written out again, the records must come back unchanged. */
			struct buf first = BUF_INIT;
			parse(data, size, 0, 0, 0, &first, NULL);
			parse((const uint8_t *)buf_cstr(&csv_out), csv_out.len, cut, 0, 0, &again,
			      NULL);
			REQUIRE(first.len == again.len &&
				memcmp(first.data, again.data, first.len) == 0);
			buf_free(&first);
		}
		buf_free(&whole);
		buf_free(&chunked);
		buf_free(&again);
		buf_free(&csv_out);
	}
	return 0;
}
