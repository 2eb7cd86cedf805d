/*
 * csv - a streaming RFC 4180 reader for recipient lists.
 *
 * Promises: reads any size of input in bounded memory (one record at a
 * time); accepts CRLF or LF line ends, a UTF-8 byte-order mark at the very
 * start, quoted fields with "" escapes and embedded commas, CR and LF;
 * skips lines that are completely empty; refuses everything else with a
 * message that names the input, the line and the field:
 *     "list.csv:12: field 3 (email): unterminated quoted field"
 * Refused: a quote inside an unquoted field, text after a closing quote,
 * end of input inside quotes, a NUL byte, a bare CR outside quotes,
 * invalid UTF-8, a record whose field count differs from the header's,
 * and anything over the limits below.
 *
 * Why our own parser and not libcsv: we need exact line numbers of the
 * record *and* of the error, per-field UTF-8 validation and hard limits,
 * which would be as much code around libcsv as this is alone.
 */
#ifndef MAILSHOT_CSV_H
#define MAILSHOT_CSV_H

#include <stddef.h>
#include <sys/types.h>

#define CSV_MAX_FIELDS 1024          /* fields in one record */
#define CSV_MAX_RECORD (1024 * 1024) /* bytes in one record, all fields */
/* (CSV_MAX_RECORD counts field content as returned, after unquoting: not
 * the quotes, commas or line end.) */

/* A byte source: fills up to len bytes, returns the count, 0 at end of
 * input, -1 on an I/O error (errno set).  It should retry EINTR itself.
 * Once it has returned 0 or -1 it is not called again. */
typedef ssize_t (*csv_read_fn)(void *ctx, void *dst, size_t len);

struct csv_reader;

/* One record.  Fields are NUL-terminated (and may not contain NUL), and
 * fields[nfields] is NULL; the pointers stay valid until the next
 * csv_next() or csv_close().  A record has at least one field.  Physical
 * lines are counted by LF: a CRLF is one line end, and a CR inside a
 * quoted field does not begin a line.  When csv_next() returns anything
 * but CSV_RECORD, *rec is emptied (nfields 0, fields and lens NULL). */
struct csv_record {
	size_t nfields;
	char **fields;
	size_t *lens;
	unsigned long line;     /* physical line on which the record starts (1-based) */
	unsigned long end_line; /* physical line on which it ends */
};

enum csv_status {
	CSV_RECORD = 1, /* *rec filled */
	CSV_EOF = 0,    /* no more records */
	CSV_BAD = -1,   /* malformed input: permanent (exit 100) */
	CSV_IO = -2,    /* read error: temporary (exit 111) */
};

/* name is used only in error messages (e.g. the file name, or "-"; NULL
 * means "-").  With check_count, every record must have as many fields as
 * the first.  The byte-order mark is looked for at the very start only,
 * and only one is stripped; U+FEFF elsewhere is text. */
struct csv_reader *csv_open(csv_read_fn read, void *ctx, const char *name, int check_count);

/* CSV_EOF, CSV_BAD and CSV_IO are final: every later call returns the
 * same status again, without reading. */
enum csv_status csv_next(struct csv_reader *r, struct csv_record *rec);

/* Names a field in error messages: after the header row is read, the
 * caller may hand its names over (copied; a later call replaces them, n 0
 * clears them).  Fields past n go by number only.  In messages, control
 * characters in a name show as '?' and a name is cut after 64 bytes. */
void csv_set_field_names(struct csv_reader *r, char *const *names, size_t n);

/* The last error, as "name:line: field N (col): what".  Empty if none.
 * line is where the error is: for end of input inside quotes, the last
 * line, the message saying where the field was opened.  Errors about the
 * record as a whole have no field part and name the line it starts on:
 *     "list.csv:7: expected 4 fields as in the header, found 3"
 * and a read error is "name:line: read error: <strerror>". */
const char *csv_error(const struct csv_reader *r);

void csv_close(struct csv_reader *r);

#endif
