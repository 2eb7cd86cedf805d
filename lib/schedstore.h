/*
 * schedstore - where the scheduler's queued messages live and how they
 * are found: compact records, an id index, lists threaded through the
 * records, and a timer heap.  Storage only: no policy, no time, no I/O.
 * The scheduler core (schedcore.c) is its one user and decides what the
 * fields mean; docs/sched.md explains the whole.
 *
 *   records  56 bytes each, in chunks of 4096 so that a growing queue
 *            never copies (or briefly doubles) one big array; a 32-bit
 *            slot number names a record and stays valid until released.
 *   index    id -> slot: open addressing with linear probing, 4 bytes a
 *            cell, at most 3/4 full, deletion by backward shift (no
 *            tombstones, so lookups never slow down with churn).
 *   lists    FIFO lists through the records' prev/next fields, O(1) push
 *            at either end and unlink from anywhere.
 *   heap     a 4-ary min-heap of (time, item).  Items are 32-bit numbers
 *            whose positions the owner keeps where it likes (a record's
 *            heap_pos, a destination's field), told of every move through
 *            a callback, so an item can be removed or re-keyed in
 *            O(log n) without a search and without a second array.
 *            4-ary rather than binary: half the depth (10 levels for a
 *            million), and siblings sit side by side in memory.
 *
 * Allocation failure is fatal (exit 111), as everywhere in mailshot.
 */
#ifndef MAILSHOT_SCHEDSTORE_H
#define MAILSHOT_SCHEDSTORE_H

#include <stddef.h>
#include <stdint.h>

/* No slot, no position, end of a list. */
#define SCHEDSTORE_NONE UINT32_MAX

#define SCHEDSTORE_CHUNK_SHIFT 12

/* A record's fields belong to the owner (schedcore.c says what they
 * mean), except that the store sets id and, while the slot is free, uses
 * next for its free list and keeps state 0. */
struct schedstore_rec {
	uint64_t id;
	int64_t created;
	int64_t expires;
	int64_t when;
	uint32_t dest;
	uint32_t heap_pos;
	uint32_t prev;
	uint32_t next;
	uint16_t attempts;
	uint8_t state; /* 0: free */
	uint8_t test;
};

struct schedstore {
	struct schedstore_rec **chunks;
	size_t nchunks, chunks_cap;
	uint32_t high;	    /* slots below have been handed out at some time */
	uint32_t free_head; /* free slots below high */
	size_t count;	    /* records in use */
	uint32_t *index;    /* id -> slot */
	size_t index_cap;   /* a power of two */
};

void schedstore_init(struct schedstore *st);
void schedstore_free(struct schedstore *st);

static inline struct schedstore_rec *
schedstore_rec(const struct schedstore *st, uint32_t slot)
{
	return &st->chunks[slot >> SCHEDSTORE_CHUNK_SHIFT]
			  [slot & ((1u << SCHEDSTORE_CHUNK_SHIFT) - 1)];
}

/* The slot of id, or SCHEDSTORE_NONE. */
uint32_t schedstore_find(const struct schedstore *st, uint64_t id);

/* A new record for id (which the caller knows is not held), zeroed but
 * for id, with heap_pos, prev and next set to SCHEDSTORE_NONE.  The owner
 * bounds the count below 2^31. */
uint32_t schedstore_add(struct schedstore *st, uint64_t id);

/* Forgets the record in slot (its id leaves the index). */
void schedstore_remove(struct schedstore *st, uint32_t slot);

/* When no record is held: gives back all memory but one chunk. */
void schedstore_trim(struct schedstore *st);

/* Bytes allocated. */
size_t schedstore_bytes(const struct schedstore *st);

/* Checks the free list and the index against the records; NULL or what
 * is wrong.  O(n); for tests. */
const char *schedstore_check(const struct schedstore *st);

/* ---- lists ---- */

struct schedstore_list {
	uint32_t head, tail;
};

void schedstore_list_push(struct schedstore *st, struct schedstore_list *l, uint32_t slot,
			  int front);
void schedstore_list_unlink(struct schedstore *st, struct schedstore_list *l, uint32_t slot);

/* ---- the heap ---- */

struct schedstore_entry {
	int64_t key;
	uint32_t item;
};

struct schedstore_heap {
	struct schedstore_entry *v;
	uint32_t count, cap;
	/* Called whenever an item is placed at a position: by push, and for
	 * each item a sift moves.  Not called for an item removed. */
	void (*moved)(void *ctx, uint32_t item, uint32_t pos);
	void *ctx;
};

/* An empty heap; nothing is allocated until the first push. */
void schedstore_heap_init(struct schedstore_heap *h,
			  void (*moved)(void *ctx, uint32_t item, uint32_t pos), void *ctx);
/* Frees the entries; the heap is empty and usable again. */
void schedstore_heap_free(struct schedstore_heap *h);
/* Adds item with key.  The owner keeps the count below 2^31. */
void schedstore_heap_push(struct schedstore_heap *h, int64_t key, uint32_t item);
/* Removes the entry at pos (< count). */
void schedstore_heap_remove(struct schedstore_heap *h, uint32_t pos);
/* Gives the entry at pos (< count) a new key and moves it where it belongs. */
void schedstore_heap_update(struct schedstore_heap *h, uint32_t pos, int64_t key);
/* Restores the order in O(n) after the owner changed keys in h->v
 * directly (nothing added or removed that way); reports every item. */
void schedstore_heap_rebuild(struct schedstore_heap *h);
/* 1 when every key is >= its parent's.  O(n); for tests. */
int schedstore_heap_valid(const struct schedstore_heap *h);
size_t schedstore_heap_bytes(const struct schedstore_heap *h);

/* The smallest key; the heap must not be empty.  Among equal keys the
 * order is unspecified but deterministic. */
static inline int64_t
schedstore_heap_top(const struct schedstore_heap *h)
{
	return h->v[0].key;
}

#endif
