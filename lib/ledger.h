/*
 * ledger - a campaign's record of who has been queued, which makes
 * mailshot-enqueue idempotent per campaign, and the set of recipient keys
 * that also finds duplicates inside one list.  Format and commit
 * protocol: docs/spool.md ("Commit protocol", "The campaign ledger").
 *
 * Promises: a key counts as queued only once its batch's commit line is
 * durable; opening the ledger takes the campaign's lock (one run per
 * campaign at a time), cuts a torn tail and finishes or undoes the
 * batches a crashed run left in tmp/.
 */
#ifndef MAILSHOT_LEDGER_H
#define MAILSHOT_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* An open-addressing set of 64-bit key hashes, each with the list line
 * where it was first seen (0 = queued by an earlier run). */
struct keyset {
	uint64_t *hashes;
	uint32_t *lines;
	size_t cap, count;
};

uint64_t keyset_hash(const char *key, size_t len);
/* Inserts h with line unless present; returns 1 if inserted, 0 if it was
 * there already (then *first = the line stored with it). */
int keyset_insert(struct keyset *s, uint64_t h, uint32_t line, uint32_t *first);
int keyset_contains(const struct keyset *s, uint64_t h);
void keyset_free(struct keyset *s);

struct ledger {
	int lock_fd;
	int fd;
	struct buf path;
	struct buf pending;   /* keys of the batch being built, LF-separated */
	struct buf committed; /* names of committed batches, LF-separated */
	struct keyset keys;   /* committed keys (line 0) and this run's (line N) */
	size_t loaded;        /* keys committed by earlier runs */
	int end_valid;        /* whether end is the file's length */
	unsigned long long end;
};

/* Opens (creating) root/campaigns/CAMPAIGN/ledger under the campaign
 * lock and loads it.  Returns 0; -1 with err on an I/O error or when
 * another run holds the lock (both temporary); -2 when the ledger is
 * corrupt beyond a torn tail (permanent). */
int ledger_open(struct ledger *l, const char *root, const char *campaign, struct buf *err);

/* Rolls forward or back the batches of this campaign left in tmp/.
 * Returns 0 (counts in *forward, *back), or -1 with err. */
int ledger_recover(struct ledger *l, const char *root, const char *campaign, unsigned *forward,
		   unsigned *back, struct buf *err);

/* Records key as part of the batch being built. */
void ledger_add_pending(struct ledger *l, const char *key, size_t len);

/* Makes the pending keys durable together with "commit NAME". */
int ledger_commit(struct ledger *l, const char *batch_name, struct buf *err);

/* The offset in the ledger file at which the next key given to
 * ledger_add_pending will be written, if the batch commits: the
 * position a VERP token names (docs/bounce.md).  Returns 0, or -1 when
 * the file cannot be measured. */
int ledger_next_offset(struct ledger *l, unsigned long long *off);

/*
 * Reads the key whose line starts at offset in root/campaigns/C/ledger
 * (a committed or pending key line, not the header nor a commit line)
 * into out.  Returns 1 when there is one, 0 when there is none at that
 * offset (or no such ledger), -1 with errno on an I/O error.  Takes no
 * lock: the ledger only grows, and a line is read whole or not at all.
 */
int ledger_key_at(const char *root, const char *campaign, unsigned long long offset,
		  struct buf *out);

/* Drops the pending keys (the batch was not written). */
void ledger_discard_pending(struct ledger *l);

void ledger_close(struct ledger *l);

#endif
