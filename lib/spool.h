/*
 * spool - the on-disk spool: where it is, its directories, and the batch
 * file format of docs/spool.md (one writer, one reader, both here).
 *
 * Promises: a batch is visible in new/ only complete and fsynced; every
 * envelope value is escaped so no value can break the format; the reader
 * refuses anything it does not fully understand.
 */
#ifndef MAILSHOT_SPOOL_H
#define MAILSHOT_SPOOL_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "buf.h"

#define SPOOL_BATCH_MAX_MESSAGES 512
#define SPOOL_BATCH_MAX_BYTES (4 * 1024 * 1024)
#define SPOOL_NAME_MAX 96

/* The spool root: the option if given, else $MAILSHOT_SPOOL, else the
 * compiled-in default.  Never NULL. */
const char *spool_root(const char *option);

/* Creates root and the named subdirectory (e.g. "tmp") if missing, with
 * the given mode.  Returns 0, or -1 with err set. */
int spool_make_dir(const char *root, const char *sub, int mode, struct buf *err);

/* fsyncs the directory root/sub.  Returns 0, or -1 with err set. */
int spool_sync_dir(const char *root, const char *sub, struct buf *err);

/* 1 if id is a valid campaign or type identifier: [A-Za-z0-9._-]{1,64},
 * not starting with '.'. */
int spool_valid_id(const char *id);

/* Escapes a value for the spool (docs/spool.md): bytes < 0x21, > 0x7e and
 * '%' become %XX.  Appends to out. */
void spool_escape(struct buf *out, const char *s, size_t len);
/* Reverses spool_escape; returns 0, or -1 on a malformed escape. */
int spool_unescape(struct buf *out, const char *s, size_t len);

struct spool_batch_info {
	const char *campaign;
	const char *type; /* NULL or "" for none */
	time_t created;
	time_t expires; /* 0 = none */
};

struct spool_message {
	const char *recipient;
	const char *sender; /* "" = null sender */
	unsigned long line;
	const char *message_id;
	int test;
	const char *data; /* the message, CRLF, as it goes on the wire */
	size_t len;
};

/* A batch being built in memory, then written in one go. */
struct spool_batch {
	struct spool_batch_info info;
	struct buf records;
	size_t count;
	int compress_level; /* 0 = identity, 1..9 = deflate */
};

void spool_batch_init(struct spool_batch *b, const struct spool_batch_info *info,
		      int compress_level);
/* Adds a message; returns its index in the batch. */
size_t spool_batch_add(struct spool_batch *b, const struct spool_message *m);
/* 1 when the batch has reached its message or byte limit. */
int spool_batch_full(const struct spool_batch *b);
/* Empties the batch for reuse (same info). */
void spool_batch_clear(struct spool_batch *b);
void spool_batch_free(struct spool_batch *b);

/* Writes the batch to root/tmp/NAME and fsyncs it; NAME (B.T.P.N) is
 * stored in name (SPOOL_NAME_MAX bytes).  seq makes names unique within
 * one process.  On error the partial file is removed: returns -1 with
 * err set (a temporary error: disk full, I/O). */
int spool_batch_write_tmp(const char *root, const struct spool_batch *b, unsigned long seq,
			  char *name, struct buf *err);

/* Writes data to tmp (mode 0600), fsyncs it and renames it to final:
 * final then holds all of data or is as it was.  The directory is not
 * synced (the caller does, once for many files).  Returns 0, or -1 with
 * err (and no tmp left behind). */
int spool_publish_file(const char *tmp, const char *final, const char *data, size_t len,
		       struct buf *err);

/* Appends the whole file at path to out.  Returns 0, or -1 with errno
 * (EFBIG when it holds more than max octets; out then holds part). */
int spool_read_file(const char *path, size_t max, struct buf *out);

/* Renames root/tmp/NAME to root/new/NAME.  Returns 0, or -1 with err. */
int spool_batch_publish(const char *root, const char *name, struct buf *err);

/* Reading a batch. */
struct spool_reader;

struct spool_read_message {
	size_t index;
	const char *recipient;
	const char *sender;
	unsigned long line;
	const char *message_id;
	int test;
	const char *data; /* inflated message */
	size_t len;
	/* Where the stored body lies in the file, for readers that stream it
	 * themselves (mailshot-remote via docs/protocol.md). */
	long long body_offset;
	size_t body_len;
	int deflate;
	/* Where the record (its "message" line) starts, and the length of
	 * that line and the envelope block: what sched keeps to read the
	 * envelope again with spool_head_read(). */
	long long record_offset;
	size_t record_len;
};

/* Opens and reads the header of a batch file.  Returns NULL with err set
 * when the file cannot be read (*permanent = 0) or is malformed
 * (*permanent = 1). */
struct spool_reader *spool_reader_open(const char *path, struct buf *err, int *permanent);
const struct spool_batch_info *spool_reader_info(const struct spool_reader *r);
size_t spool_reader_count(const struct spool_reader *r);
/* Reads the next message: 1 = got one, 0 = end, -1 = malformed or I/O
 * error (err set).  Strings are valid until the next call. */
int spool_reader_next(struct spool_reader *r, struct spool_read_message *m, struct buf *err);
void spool_reader_close(struct spool_reader *r);

/* From now on, deflated bodies are not inflated: data is NULL for them
 * (len is still the inflated size).  For sched's intake, which indexes a
 * batch and leaves the bodies to remote. */
void spool_reader_skip_bodies(struct spool_reader *r);

/* The longest record head (message line and envelope) spool_head_read
 * takes: far above what a writer produces (escaped addresses). */
#define SPOOL_HEAD_MAX 65536

/*
 * Reads again the head of one message record: LENGTH bytes at OFFSET of
 * the batch open on fd (record_offset and record_len as the reader gave
 * them), whose message line must carry INDEX.  Fills m's envelope fields,
 * body_offset (absolute), body_len, deflate and len; data is NULL.
 * Strings are valid until the next call on h.  Returns 0, or -1 with err.
 */
struct spool_head;
struct spool_head *spool_head_new(void);
void spool_head_free(struct spool_head *h);
int spool_head_read(struct spool_head *h, int fd, long long offset, size_t length, size_t index,
		    struct spool_read_message *m, struct buf *err);

/* Wakes sched: writes one byte to the FIFO root/trigger without
 * blocking.  No FIFO, or nobody reading it (sched not running), is not an
 * error: sched looks at new/ when it starts. */
void spool_trigger(const char *root);

/* Parses the campaign named in a batch file's header (for recovery). */
int spool_batch_campaign(const char *path, struct buf *campaign);

#endif
