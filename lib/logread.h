/*
 * logread - the delivery log reader (docs/logging.md is the format).
 *
 * A line is parsed in place: the values are unescaped into the line's own
 * bytes and each gets a NUL after it, so a parsed line needs no memory of
 * its own.  A value may contain NUL bytes of its own (written \x00); its
 * length is in the field.
 *
 * The reader goes through every file of SPOOL/log/ that holds log lines:
 * `current`, rotated copies (any name that starts with "current." or
 * "@", as svlogd, s6-log and logrotate name them) and gzipped ones
 * (read through zlib, recognised by their content, not their name).
 * Files are read oldest first by modification time, `current` last.
 * Memory is one line buffer (lines longer than LOGREAD_LINE_MAX are
 * skipped and counted as malformed), whatever the size of the files.
 */
#ifndef MAILSHOT_LOGREAD_H
#define MAILSHOT_LOGREAD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define LOGREAD_MAX_FIELDS 40
#define LOGREAD_LINE_MAX 65536

struct logfield {
	const char *key;
	const char *val; /* NUL-terminated; vlen bytes (may hold NULs) */
	size_t vlen;
};

struct logline {
	int64_t usec;	   /* UTC, microseconds since the epoch */
	const char *prog;  /* "enqueue", "sched", "bounce", ... */
	const char *event; /* the value of event=; "" when absent */
	size_t nfields;	   /* the fields in order, event= among them */
	struct logfield field[LOGREAD_MAX_FIELDS];
};

/*
 * Parses one line (without its LF; a CR before it is not allowed) in
 * place; the buffer must have room for len + 1 bytes (a NUL is written
 * at line[len]).  Returns 0, or -1 with *why set ("bad timestamp", "bad key",
 * "unterminated quote", "bad escape", "too many fields", ...).  Unknown
 * keys are kept: a newer writer adds fields, never renames them.
 */
int logline_parse(char *line, size_t len, struct logline *out, const char **why);

/* The value of key, or NULL when the line has no such field. */
const char *logline_get(const struct logline *l, const char *key);
/* The same with its length (0 and NULL when absent). */
const char *logline_getn(const struct logline *l, const char *key, size_t *len);

/* "2026-11-23T11:02:28.123456Z" (also without the fraction, or with
 * fewer digits) to microseconds; -1 when it does not parse. */
int64_t logread_parse_time(const char *s, size_t len);

struct logreader;

struct logreader_stats {
	uint64_t files;
	uint64_t lines;	    /* lines read, good or bad */
	uint64_t malformed; /* lines that did not parse (skipped) */
	uint64_t truncated; /* a last line without LF (a write cut short) */
};

/* A reader of no files yet. */
struct logreader *logreader_new(void);
/* Adds SPOOL/log/'s files (none is not an error: an empty log). Returns
 * 0, or -1 with err when the directory cannot be read. */
int logreader_add_spool(struct logreader *r, const char *spool, struct buf *err);
/* Adds one file (plain or gzip), read after those added before. */
int logreader_add_file(struct logreader *r, const char *path, struct buf *err);
/*
 * The next good line: 1, 0 at the end of the last file, -1 with err on a
 * read error (the file is named).  Malformed lines are skipped and
 * counted.  The line's strings live until the next call.
 */
int logreader_next(struct logreader *r, struct logline *out, struct buf *err);
void logreader_stats(const struct logreader *r, struct logreader_stats *out);

/*
 * Following a log that grows (mailshot-report watch): each pass reads
 * only what was written since the last one.
 *
 * logreader_follow() before the first pass: a last line without its LF
 * is not taken (nor counted as cut off) but left for the next pass, as
 * it may still be being written.  After a pass read to the end,
 * logreader_rescan() forgets the list of files (not what was read of
 * them); the caller adds the files again (logreader_add_spool, _add_file)
 * and calls logreader_resume(), which matches them with the previous
 * pass's by device and inode: a plain file goes on from where it was
 * left (so a `current` renamed by svlogd or logrotate is not read twice),
 * a compressed one read before is skipped.  Returns 1 when what follows
 * is only what is new, or 0 when the next pass reads everything from the
 * start again and the caller must start its figures over: a file shorter
 * than what was read of it (cut by copytruncate, rewritten), a
 * compressed one that changed, or a new rotated copy (not `current`,
 * nor named by the caller) -- lines read before under another inode.
 * The counts of logreader_stats() start over with it.
 */
void logreader_follow(struct logreader *r);
void logreader_rescan(struct logreader *r);
int logreader_resume(struct logreader *r);
void logreader_free(struct logreader *r);

#endif
