/*
 * queue - mailshot-sched's queue area on disk (docs/spool.md, "The
 * queue"): the state file of each queued batch (an index written once at
 * intake, then an append-only journal of outcomes) and the bounce
 * hand-off records.  The file formats live here, with their one writer
 * and their one reader; the daemon's logic lives in bin/sched.c.
 */
#ifndef MAILSHOT_QUEUE_H
#define MAILSHOT_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

#define QUEUE_DIRS 256
#define QUEUE_LINE_MAX 4096 /* a state file line; domains are far shorter */

/* Where a message's record lies in its batch (spool_head_read()). */
struct queue_pos {
	uint32_t offset, length;
};

/* Final outcomes, as journal letters. */
enum {
	QUEUE_OPEN = 0,
	QUEUE_DELIVERED = 'd',
	QUEUE_FAILED = 'f',
	QUEUE_EXPIRED = 'x',
};

struct queue_state {
	char *batch, *campaign;
	time_t created, expires;
	size_t count;
	struct queue_pos *pos;	  /* count */
	unsigned char *test;	  /* count: 1 for a test send */
	char **domain;		  /* count: the recipient's domain (lower-cased) */
	unsigned char *final;	  /* count: QUEUE_OPEN or a final letter */
	uint16_t *attempts;	  /* count: from the last "r" line, else 0 */
	time_t *next;		  /* count: from the last "r" line, else 0 (due) */
	unsigned char *started;	  /* count: 1 when the last line is an "s" (in flight) */
	size_t journal_ignored;	  /* malformed journal lines skipped */
	size_t valid_len;	  /* bytes up to the last LF (what to keep) */
};

void queue_state_free(struct queue_state *st);

/* The directory (0..QUEUE_DIRS-1) of a batch name: FNV-1a of the name. */
unsigned queue_dir(const char *batch);

/*
 * Builds the state of a fresh batch from the batch file at path (named
 * batch, the file's base name): reads and checks it whole (bodies are
 * not inflated).  Returns 0; or -1 with err, *permanent = 1 when the
 * batch is malformed, 0 when it could not be read.
 */
int queue_state_from_batch(const char *path, const char *batch, struct queue_state *st,
			   struct buf *err, int *permanent);

/* The state file's header and index (no journal), as written at intake. */
void queue_state_format(const struct queue_state *st, struct buf *out);

/*
 * Parses a state file (name is for messages).  The header and index must
 * be whole and correct (else -1 with err); journal lines apply in order,
 * the last about a message wins and a final one is never undone; a
 * malformed journal line is skipped and counted; bytes after the last LF
 * (a torn append) are ignored and valid_len tells where they start.
 */
int queue_state_parse(const char *data, size_t len, const char *name, struct queue_state *st,
		      struct buf *err);

/* Reads and parses dir/NAME.state; a torn tail is cut off the file (sched
 * is its only writer).  Returns 0, -1 with err (*missing = 1 when the
 * file does not exist). */
int queue_state_read(const char *path, const char *batch, struct queue_state *st,
		     struct buf *err, int *missing);

/* Writes path (dir/NAME.state) as dir/.NAME.state, fsyncs, renames.
 * The directory is not fsynced (the caller does it once for many). */
int queue_state_write(const char *dir, const struct queue_state *st, struct buf *err);

/* Journal lines. */
void queue_journal_final(struct buf *out, int what, size_t index, time_t when);
void queue_journal_retry(struct buf *out, size_t index, unsigned attempts, time_t next);
/* "s INDEX TIME": an attempt started (so a restart knows it was in flight). */
void queue_journal_start(struct buf *out, size_t index, time_t when);

/* ---- the bounce hand-off (bounce/new/) ---- */

struct queue_bounce {
	const char *campaign, *batch;
	size_t index;
	const char *rcpt, *sender;
	const char *status; /* "failed" or "expired" */
	const char *code, *enhanced, *mx_name, *mx_addr;
	unsigned attempts;
	time_t when;
	const char *message_id, *text;
};

#define QUEUE_BOUNCE_FIELDS 15 /* "bounce" and 14 fields */

void queue_bounce_format(struct buf *out, const struct queue_bounce *b);

/* "delivered CAMPAIGN RCPT TIME": a success, which resets the address's
 * soft-bounce count (docs/bounce.md). */
void queue_delivered_format(struct buf *out, const char *campaign, const char *rcpt,
			    time_t when);

/* The first line of a hand-off file, LF included. */
extern const char queue_bounce_magic[];

/*
 * Parses one hand-off line (without its LF): a "bounce" record into *b
 * (returns 'b') or a "delivered" record into b->campaign, b->rcpt and
 * b->when (returns 'd').  Strings point into storage, which is reset
 * first.  Returns -1 with *why for anything else: an unknown record, a
 * wrong field count, a bad escape, a non-numeric index, attempts or time,
 * a status other than failed or expired, an empty campaign or recipient.
 */
int queue_handoff_parse(const char *line, size_t len, struct buf *storage,
			struct queue_bounce *b, const char **why);

/*
 * Publishes records (lines from queue_bounce_format) as one file:
 * root/bounce/tmp/S.T.P.N written and fsynced, renamed to bounce/new/,
 * bounce/new fsynced.  Returns 0, or -1 with err.
 */
int queue_bounce_publish(const char *root, const struct buf *records, unsigned long seq,
			 struct buf *err);

#endif
