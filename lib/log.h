/*
 * log - the delivery log writer (docs/logging.md).
 *
 * Lines are gathered in memory and appended with one write(2) on
 * O_APPEND per flush, so writers in several processes never interleave
 * inside a line.  Values are quoted and escaped so that a line never
 * contains a raw control character whatever the input.
 */
#ifndef MAILSHOT_LOG_H
#define MAILSHOT_LOG_H

#include "buf.h"

struct log_writer {
	int fd;
	const char *prog;
	struct buf pending;
};

/* Opens root/log/current for appending (creating log/ and the file). */
int log_open(struct log_writer *w, const char *root, const char *prog, struct buf *err);

/* Adds one event line: key/value string pairs, ended by NULL.  A NULL
 * value skips its key. */
void log_event(struct log_writer *w, const char *event, ...) __attribute__((sentinel));

/* Appends the pending lines to the file.  Returns 0, or -1 with err. */
int log_flush(struct log_writer *w, struct buf *err);

/* Flushes (errors ignored) and closes. */
void log_close(struct log_writer *w);

/* Appends v as a log value: bare, or quoted with \" \\ \xHH escapes. */
void log_value(struct buf *out, const char *v, size_t len);

/* Appends the current UTC time as 2026-11-23T11:02:28.123456Z. */
void log_timestamp(struct buf *out);

#endif
