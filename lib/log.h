/*
 * log - the delivery log writer (docs/logging.md).
 *
 * Lines are gathered in memory and appended with one write(2) on
 * O_APPEND per flush, so writers in several processes never interleave
 * inside a line.  Values are quoted and escaped so that a line never
 * contains a raw control character whatever the input.
 *
 * Rotation is by rename (logrotate, docs/deploy/README.md): a writer
 * keeps its descriptor between flushes, so before each write it compares
 * the file it holds with what the path names now (one stat(2)), and
 * reopens the path -- creating it, as log_open does -- when they differ
 * or the path is gone.  A long-running writer (sched) therefore moves to
 * the new file at its first flush after the rename; nothing is lost: a
 * line written between that check and the rename lands at the end of
 * the renamed file, which is why rotated files are compressed one
 * rotation late (delaycompress).
 */
#ifndef MAILSHOT_LOG_H
#define MAILSHOT_LOG_H

#include <sys/types.h>

#include "buf.h"

struct log_writer {
	int fd;
	const char *prog;
	struct buf pending;
	struct buf path; /* root/log/current */
	dev_t dev;	 /* the file fd is open on */
	ino_t ino;
	int mode;	 /* of the file when it is ours */
};

/* Opens root/log/current for appending (creating log/ and the file);
 * with control/users, enqueue's and bounce's lines go to
 * log/enqueue/current and log/bounce/current (docs/privileges.md). */
int log_open(struct log_writer *w, const char *root, const char *prog, struct buf *err);

/* Adds one event line: key/value string pairs, ended by NULL.  A NULL
 * value skips its key. */
void log_event(struct log_writer *w, const char *event, ...) __attribute__((sentinel));

/* Appends the pending lines to the file (reopened first when it was
 * renamed or removed; if that fails, they go to the file still open,
 * and the reopen is tried again at the next flush).  Returns 0, or -1
 * with err when they could not be written. */
int log_flush(struct log_writer *w, struct buf *err);

/* Opens the path again now (SIGHUP).  Returns 0, or -1 with err; the
 * file open so far stays in use then. */
int log_reopen(struct log_writer *w, struct buf *err);

/* Flushes (errors ignored) and closes. */
void log_close(struct log_writer *w);

/* Appends v as a log value: bare, or quoted with \" \\ \xHH escapes. */
void log_value(struct buf *out, const char *v, size_t len);

/* Appends the current UTC time as 2026-11-23T11:02:28.123456Z. */
void log_timestamp(struct buf *out);

#endif
