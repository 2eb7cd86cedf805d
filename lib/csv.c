/*
 * csv - streaming RFC 4180 reader.  See csv.h for the contract.
 *
 * DESCRIPTION
 *	The reader pulls bytes from the caller's source into one fixed
 *	64 KiB input buffer and copies the content of one record at a time
 *	into a record buffer, where each field is NUL-terminated in place.
 *	The record buffer and the per-field arrays are reused from record
 *	to record, so a 100,000-row list costs no allocation per row once
 *	the widest record has been seen, and memory stays bounded by
 *	CSV_MAX_RECORD plus the input buffer whatever the size of the input.
 *
 *	The whole of one record is parsed inside one csv_next() call, so
 *	the parser state (which field, quoted or not) lives on the stack;
 *	only the input position and the line count survive between calls.
 *	Runs of ordinary bytes are found with a table lookup and copied
 *	with one memcpy, so the per-byte cost is a load and a compare.
 *
 *	Physical lines are counted by LF: a CRLF is one line end, and a CR
 *	inside a quoted field does not start a new line.
 *
 *	UTF-8 is checked once per completed field rather than byte by byte
 *	while scanning: the common all-ASCII field is then checked eight
 *	bytes at a time, and a bad byte's line is recovered, only on the
 *	error path, by counting the LFs that precede it in the field.
 *
 *	Errors are sticky: once a record is refused, the position in the
 *	input no longer means anything, and a caller that kept going would
 *	only see consequences of the first error.
 */
#include "csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define CSV_READ_SIZE (64 * 1024)

/* Column names longer than this are cut in error messages. */
#define CSV_NAME_SHOWN 64

struct csv_reader {
	csv_read_fn read;
	void *ctx;
	char *name;
	int check_count;

	enum csv_status status; /* CSV_RECORD while all is well, else sticky */
	int started;		/* the byte-order mark has been looked for */
	int eof;		/* the source said 0: never ask it again */

	size_t pos, end;	/* unread bytes are in[pos..end) */
	unsigned long line;	/* physical line of in[pos] */
	unsigned long end_line; /* line on which the current record ended */

	size_t expected; /* field count of the first record, 0 until known */

	/*
	 * The current record: field i is text.data + offsets[i], lens[i]
	 * bytes plus a NUL.  fields[] is filled in from offsets[] only when
	 * the record is complete, because text.data moves when it grows.
	 */
	struct buf text;
	size_t *offsets;
	size_t *lens;
	char **fields;
	size_t fields_cap; /* entries in each of the three arrays */

	char **names; /* copied from csv_set_field_names() */
	size_t nnames;

	struct buf error;

	unsigned char in[CSV_READ_SIZE];
};

/*
 * Bytes that end a run of ordinary bytes.  Bytes >= 0x80 are ordinary
 * here: UTF-8 is validated per field once the field is complete.
 */
enum {
	PLAIN_STOP = 1,	 /* ends a run outside quotes: , " CR LF NUL */
	QUOTED_STOP = 2, /* ends a run inside quotes: " LF NUL */
};

static const unsigned char byte_class[256] = {
    ['\0'] = PLAIN_STOP | QUOTED_STOP,
    ['\n'] = PLAIN_STOP | QUOTED_STOP,
    ['"'] = PLAIN_STOP | QUOTED_STOP,
    ['\r'] = PLAIN_STOP,
    [','] = PLAIN_STOP,
};

/*
 * Appends a column name to an error message.  The name comes from the
 * input itself, so control characters (a quoted header may hold a line
 * feed) become '?' to keep the message on one line, and a long name is
 * cut, on a character boundary, so that it cannot drown the message.
 */
static void
append_column_name(struct buf *b, const char *name)
{
	size_t len = strlen(name);
	int cut = 0;

	if (len > CSV_NAME_SHOWN) {
		len = CSV_NAME_SHOWN;
		while (len > 0 && ((unsigned char)name[len] & 0xC0) == 0x80)
			len--;
		cut = 1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		buf_append_char(b, c < 0x20 || c == 0x7F ? '?' : (char)c);
	}
	if (cut)
		buf_append_str(b, "...");
}

/*
 * Records a refusal as "name:line: field N (col): what" (the field part
 * only when field > 0) and makes it sticky.
 */
static enum csv_status refuse(struct csv_reader *r, enum csv_status status, unsigned long line,
			      size_t field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum csv_status
refuse(struct csv_reader *r, enum csv_status status, unsigned long line, size_t field,
       const char *fmt, ...)
{
	va_list ap;

	buf_reset(&r->error);
	buf_printf(&r->error, "%s:%lu: ", r->name, line);
	if (field > 0) {
		buf_printf(&r->error, "field %zu", field);
		if (field <= r->nnames && r->names[field - 1] != NULL) {
			buf_append_str(&r->error, " (");
			append_column_name(&r->error, r->names[field - 1]);
			buf_append_char(&r->error, ')');
		}
		buf_append_str(&r->error, ": ");
	}
	va_start(ap, fmt);
	buf_vprintf(&r->error, fmt, ap);
	va_end(ap);
	r->status = status;
	return status;
}

/*
 * Reads more input, appending to in[end..]; when everything has been
 * consumed the buffer is first emptied, so that a read is always as
 * large as possible.  Returns > 0 when bytes were added, 0 at the end
 * of input, < 0 on a read error (already recorded).
 */
static int
fill(struct csv_reader *r)
{
	ssize_t n;

	if (r->eof)
		return 0;
	if (r->pos == r->end)
		r->pos = r->end = 0;
	n = r->read(r->ctx, r->in + r->end, sizeof r->in - r->end);
	if (n < 0) {
		refuse(r, CSV_IO, r->line, 0, "read error: %s", strerror(errno));
		return -1;
	}
	if ((size_t)n > sizeof r->in - r->end) {
		/* A broken source; believing it would overrun in[]. */
		refuse(r, CSV_IO, r->line, 0, "read error: source returned more than asked for");
		return -1;
	}
	if (n == 0) {
		r->eof = 1;
		return 0;
	}
	r->end += (size_t)n;
	return 1;
}

/* Makes in[pos] available.  Returns as fill() does, > 0 if it is. */
static inline int
more(struct csv_reader *r)
{
	return r->pos < r->end ? 1 : fill(r);
}

/*
 * Returns the offset of the first byte of s that does not start a
 * valid UTF-8 sequence (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence), or len if all is valid.
 */
static size_t
utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		unsigned lo = 0x80, hi = 0xBF;
		size_t follow;

		if (c < 0x80) {
			/* Recipient lists are mostly ASCII: skip it a word at a time. */
			while (len - i >= 8) {
				uint64_t w;
				memcpy(&w, s + i, 8);
				if (w & UINT64_C(0x8080808080808080))
					break;
				i += 8;
			}
			while (i < len && s[i] < 0x80)
				i++;
			continue;
		}
		/* The ranges of the second byte are those of Unicode table 3-7. */
		if (c >= 0xC2 && c <= 0xDF)
			follow = 1;
		else if (c == 0xE0)
			follow = 2, lo = 0xA0;
		else if (c == 0xED)
			follow = 2, hi = 0x9F;
		else if (c >= 0xE1 && c <= 0xEF)
			follow = 2;
		else if (c == 0xF0)
			follow = 3, lo = 0x90;
		else if (c == 0xF4)
			follow = 3, hi = 0x8F;
		else if (c >= 0xF1 && c <= 0xF3)
			follow = 3;
		else
			return i;
		if (len - i - 1 < follow)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= follow; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
		i += follow + 1;
	}
	return len;
}

/*
 * Appends to the record text.  The common case, room to spare, is done
 * here without a call: this runs once or more per field.
 */
static inline void
text_append(struct buf *t, const void *s, size_t len)
{
	if (t->cap - t->len <= len)
		buf_reserve(t, len);
	memcpy(t->data + t->len, s, len);
	t->len += len;
	t->data[t->len] = '\0';
}

/*
 * Appends field content to the record, refusing a record whose content
 * (the sum of all field lengths, without quotes or separators) would
 * exceed CSV_MAX_RECORD.  done = completed fields, each followed by a
 * NUL in text that is not content.
 */
static inline enum csv_status
add_content(struct csv_reader *r, size_t done, const void *s, size_t len)
{
	if (len > CSV_MAX_RECORD - (r->text.len - done))
		return refuse(r, CSV_BAD, r->line, done + 1, "record longer than %d bytes",
			      CSV_MAX_RECORD);
	text_append(&r->text, s, len);
	return CSV_RECORD;
}

/*
 * Consumes the line end at in[pos], an LF or a CR that must be followed
 * by an LF: a CR alone is refused, as RFC 4180 knows no such line end
 * and guessing would shift every later line number.
 */
static enum csv_status
take_line_end(struct csv_reader *r, size_t field)
{
	if (r->in[r->pos++] == '\r') {
		int rc = more(r);
		if (rc < 0)
			return CSV_IO;
		if (rc == 0 || r->in[r->pos] != '\n')
			return refuse(r, CSV_BAD, r->line, field,
				      "bare CR (carriage return not followed by a line feed)");
		r->pos++;
	}
	r->end_line = r->line++;
	return CSV_RECORD;
}

/*
 * Parses the rest of an unquoted field, up to and including the comma
 * or line end after it.  *last is set when that ended the record.
 */
static enum csv_status
plain_field(struct csv_reader *r, size_t done, int *last)
{
	enum csv_status st;

	for (;;) {
		int rc = more(r);
		if (rc < 0)
			return CSV_IO;
		if (rc == 0) {
			/* The last record may lack its line end. */
			r->end_line = r->line;
			*last = 1;
			return CSV_RECORD;
		}
		const unsigned char *p = r->in + r->pos, *e = r->in + r->end, *q = p;
		while (q < e && !(byte_class[*q] & PLAIN_STOP))
			q++;
		if (q > p && (st = add_content(r, done, p, (size_t)(q - p))) != CSV_RECORD)
			return st;
		r->pos = (size_t)(q - r->in);
		if (q == e)
			continue;
		switch (*q) {
		case ',':
			r->pos++;
			*last = 0;
			return CSV_RECORD;
		case '\n':
		case '\r':
			*last = 1;
			return take_line_end(r, done + 1);
		case '"':
			return refuse(r, CSV_BAD, r->line, done + 1,
				      "quote inside an unquoted field");
		default:
			return refuse(r, CSV_BAD, r->line, done + 1, "NUL byte");
		}
	}
}

/*
 * Parses a quoted field after its opening quote, up to and including
 * the comma or line end after the closing quote.  CR and LF inside are
 * content, kept as they are.
 */
static enum csv_status
quoted_field(struct csv_reader *r, size_t done, int *last)
{
	unsigned long opened = r->line;
	size_t start = r->text.len;
	enum csv_status st;
	int rc;

	for (;;) {
		if ((rc = more(r)) < 0)
			return CSV_IO;
		if (rc == 0) {
			/*
			 * The error is at the end of input; if the input ended
			 * with a line feed, that is the end of the line before.
			 */
			unsigned long line = r->line;
			if (r->text.len > start && r->text.data[r->text.len - 1] == '\n')
				line--;
			return refuse(r, CSV_BAD, line, done + 1,
				      "quoted field opened on line %lu not closed at end of input",
				      opened);
		}
		const unsigned char *p = r->in + r->pos, *e = r->in + r->end, *q = p;
		while (q < e && !(byte_class[*q] & QUOTED_STOP))
			q++;
		if (q > p && (st = add_content(r, done, p, (size_t)(q - p))) != CSV_RECORD)
			return st;
		r->pos = (size_t)(q - r->in);
		if (q == e)
			continue;
		if (*q == '\n') {
			if ((st = add_content(r, done, "\n", 1)) != CSV_RECORD)
				return st;
			r->pos++;
			r->line++;
			continue;
		}
		if (*q == '\0')
			return refuse(r, CSV_BAD, r->line, done + 1, "NUL byte");

		/* A quote: either the first of a "" pair, or the closing one. */
		r->pos++;
		if ((rc = more(r)) < 0)
			return CSV_IO;
		if (rc == 0) {
			r->end_line = r->line;
			*last = 1;
			return CSV_RECORD;
		}
		switch (r->in[r->pos]) {
		case '"':
			if ((st = add_content(r, done, "\"", 1)) != CSV_RECORD)
				return st;
			r->pos++;
			continue;
		case ',':
			r->pos++;
			*last = 0;
			return CSV_RECORD;
		case '\n':
		case '\r':
			*last = 1;
			return take_line_end(r, done + 1);
		default:
			return refuse(r, CSV_BAD, r->line, done + 1,
				      "text after the closing quote");
		}
	}
}

/* Makes room for at least want entries in the per-field arrays. */
static void
grow_fields(struct csv_reader *r, size_t want)
{
	size_t cap = r->fields_cap ? r->fields_cap : 16;

	while (cap < want)
		cap *= 2;
	r->offsets = xrealloc(r->offsets, cap * sizeof *r->offsets);
	r->lens = xrealloc(r->lens, cap * sizeof *r->lens);
	r->fields = xrealloc(r->fields, cap * sizeof *r->fields);
	r->fields_cap = cap;
}

/*
 * Skips empty lines, then parses one record into r's arrays.  Returns
 * the record's field count through *nfields.
 */
static enum csv_status
parse_record(struct csv_reader *r, unsigned long *line, size_t *nfields)
{
	enum csv_status st;
	size_t done = 0;
	int rc, last = 0;

	/*
	 * A line with nothing at all on it (LF or CRLF alone) is not a
	 * record with one empty field: spreadsheets and editors leave such
	 * lines behind, typically at the end, and nobody means them.
	 */
	for (;;) {
		if ((rc = more(r)) < 0)
			return CSV_IO;
		if (rc == 0)
			return r->status = CSV_EOF;
		unsigned char c = r->in[r->pos];
		if (c != '\n' && c != '\r')
			break;
		if ((st = take_line_end(r, 1)) != CSV_RECORD)
			return st;
	}

	*line = r->line;
	buf_reset(&r->text);
	while (!last) {
		unsigned long field_line = r->line;

		if (done == CSV_MAX_FIELDS)
			return refuse(r, CSV_BAD, r->line, done + 1,
				      "more than %d fields in one record", CSV_MAX_FIELDS);
		/* One spare entry, for the NULL after the last field. */
		if (done + 2 > r->fields_cap)
			grow_fields(r, done + 2);
		r->offsets[done] = r->text.len;

		/* more() > 0 here, except after a final trailing comma. */
		if ((rc = more(r)) < 0)
			return CSV_IO;
		if (rc > 0 && r->in[r->pos] == '"') {
			r->pos++;
			st = quoted_field(r, done, &last);
		} else {
			st = plain_field(r, done, &last);
		}
		if (st != CSV_RECORD)
			return st;

		size_t off = r->offsets[done];
		size_t len = r->text.len - off;
		const unsigned char *s = (const unsigned char *)r->text.data + off;
		size_t bad = utf8_invalid_at(s, len);
		if (bad != len) {
			unsigned long bad_line = field_line;
			for (size_t i = 0; i < bad; i++)
				bad_line += s[i] == '\n';
			return refuse(r, CSV_BAD, bad_line, done + 1,
				      "invalid UTF-8 at byte %zu of the field (0x%02X)", bad + 1,
				      s[bad]);
		}
		r->lens[done] = len;
		text_append(&r->text, "", 1);
		done++;
	}
	*nfields = done;
	return CSV_RECORD;
}

struct csv_reader *
csv_open(csv_read_fn read, void *ctx, const char *name, int check_count)
{
	struct csv_reader *r = xcalloc(1, sizeof *r);

	r->read = read;
	r->ctx = ctx;
	r->name = xstrdup(name ? name : "-");
	r->check_count = check_count;
	r->status = CSV_RECORD;
	r->line = 1;
	/* Never NULL from here on, so that field pointers may be formed. */
	buf_reserve(&r->text, 256);
	grow_fields(r, 16);
	return r;
}

enum csv_status
csv_next(struct csv_reader *r, struct csv_record *rec)
{
	enum csv_status st;
	unsigned long line = r->line;
	size_t n = 0;

	rec->nfields = 0;
	rec->fields = NULL;
	rec->lens = NULL;
	rec->line = rec->end_line = r->line;
	if (r->status != CSV_RECORD)
		return r->status;

	if (!r->started) {
		/* The mark may arrive split over reads of a byte each. */
		while (r->end - r->pos < 3) {
			int rc = fill(r);
			if (rc < 0)
				return CSV_IO;
			if (rc == 0)
				break;
		}
		if (r->end - r->pos >= 3 && memcmp(r->in + r->pos, "\xEF\xBB\xBF", 3) == 0)
			r->pos += 3;
		r->started = 1;
	}

	if ((st = parse_record(r, &line, &n)) != CSV_RECORD)
		return st;

	if (r->check_count) {
		if (r->expected == 0)
			r->expected = n;
		else if (n != r->expected)
			return refuse(r, CSV_BAD, line, 0,
				      "expected %zu fields as in the header, found %zu",
				      r->expected, n);
	}

	for (size_t i = 0; i < n; i++)
		r->fields[i] = r->text.data + r->offsets[i];
	r->fields[n] = NULL;
	rec->nfields = n;
	rec->fields = r->fields;
	rec->lens = r->lens;
	rec->line = line;
	rec->end_line = r->end_line;
	return CSV_RECORD;
}

void
csv_set_field_names(struct csv_reader *r, char *const *names, size_t n)
{
	for (size_t i = 0; i < r->nnames; i++)
		free(r->names[i]);
	free(r->names);
	r->names = NULL;
	r->nnames = 0;
	if (n == 0)
		return;
	r->names = xcalloc(n, sizeof *r->names);
	for (size_t i = 0; i < n; i++)
		r->names[i] = names[i] ? xstrdup(names[i]) : NULL;
	r->nnames = n;
}

const char *
csv_error(const struct csv_reader *r)
{
	return r->error.data ? r->error.data : "";
}

void
csv_close(struct csv_reader *r)
{
	if (r == NULL)
		return;
	csv_set_field_names(r, NULL, 0);
	buf_free(&r->text);
	buf_free(&r->error);
	free(r->offsets);
	free(r->lens);
	free(r->fields);
	free(r->name);
	free(r);
}
