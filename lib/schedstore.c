/*
 * schedstore - records, id index, lists and timer heap of the scheduler.
 * See schedstore.h.
 */
#include "schedstore.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define NONE SCHEDSTORE_NONE
#define CHUNK_SIZE (1u << SCHEDSTORE_CHUNK_SHIFT)
#define INDEX_MIN 1024
#define ARITY 4
#define HEAP_MIN 64

_Static_assert(sizeof(struct schedstore_rec) == 56, "message record grew");

/* ---- records and the index ---- */

static uint32_t *
index_new(size_t cap)
{
	uint32_t *index = xmalloc(cap * sizeof *index);
	memset(index, 0xff, cap * sizeof *index); /* all NONE */
	return index;
}

void
schedstore_init(struct schedstore *st)
{
	memset(st, 0, sizeof *st);
	st->free_head = NONE;
	st->index_cap = INDEX_MIN;
	st->index = index_new(INDEX_MIN);
}

void
schedstore_free(struct schedstore *st)
{
	for (size_t i = 0; i < st->nchunks; i++)
		free(st->chunks[i]);
	free(st->chunks);
	free(st->index);
	memset(st, 0, sizeof *st);
}

/* A 64-bit mixer (splitmix64's finalizer): sched's ids are a batch
 * number and an index, far from random; this spreads them evenly. */
static size_t
home(const struct schedstore *st, uint64_t id)
{
	id ^= id >> 30;
	id *= 0xbf58476d1ce4e5b9ULL;
	id ^= id >> 27;
	id *= 0x94d049bb133111ebULL;
	id ^= id >> 31;
	return (size_t)(id & (st->index_cap - 1));
}

uint32_t
schedstore_find(const struct schedstore *st, uint64_t id)
{
	size_t mask = st->index_cap - 1;
	for (size_t i = home(st, id);; i = (i + 1) & mask) {
		uint32_t slot = st->index[i];
		if (slot == NONE || schedstore_rec(st, slot)->id == id)
			return slot;
	}
}

static void
index_place(struct schedstore *st, uint32_t slot)
{
	size_t mask = st->index_cap - 1;
	size_t i = home(st, schedstore_rec(st, slot)->id);
	while (st->index[i] != NONE)
		i = (i + 1) & mask;
	st->index[i] = slot;
}

uint32_t
schedstore_add(struct schedstore *st, uint64_t id)
{
	uint32_t slot;
	if (st->free_head != NONE) {
		slot = st->free_head;
		st->free_head = schedstore_rec(st, slot)->next;
	} else {
		if ((st->high >> SCHEDSTORE_CHUNK_SHIFT) == st->nchunks) {
			if (st->nchunks == st->chunks_cap) {
				st->chunks_cap = st->chunks_cap ? st->chunks_cap * 2 : 16;
				st->chunks =
				    xrealloc(st->chunks, st->chunks_cap * sizeof *st->chunks);
			}
			st->chunks[st->nchunks++] =
			    xmalloc(CHUNK_SIZE * sizeof(struct schedstore_rec));
		}
		slot = st->high++;
	}
	st->count++;
	struct schedstore_rec *r = schedstore_rec(st, slot);
	memset(r, 0, sizeof *r);
	r->id = id;
	r->heap_pos = r->prev = r->next = NONE;
	if (st->count * 4 > st->index_cap * 3) {
		uint32_t *old = st->index;
		size_t old_cap = st->index_cap;
		st->index_cap *= 2;
		st->index = index_new(st->index_cap);
		for (size_t i = 0; i < old_cap; i++)
			if (old[i] != NONE)
				index_place(st, old[i]);
		free(old);
	}
	index_place(st, slot);
	return slot;
}

void
schedstore_remove(struct schedstore *st, uint32_t slot)
{
	size_t mask = st->index_cap - 1;
	size_t hole = home(st, schedstore_rec(st, slot)->id);
	while (st->index[hole] != slot)
		hole = (hole + 1) & mask;
	/* Backward shift: each later entry of the probe run moves into the
	 * hole unless its home lies cyclically in (hole, j] -- then moving
	 * it would put it before its home, where lookups never look. */
	for (size_t j = hole;;) {
		j = (j + 1) & mask;
		if (st->index[j] == NONE)
			break;
		size_t h = home(st, schedstore_rec(st, st->index[j])->id);
		int stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
		if (!stays) {
			st->index[hole] = st->index[j];
			hole = j;
		}
	}
	st->index[hole] = NONE;
	struct schedstore_rec *r = schedstore_rec(st, slot);
	r->state = 0;
	r->next = st->free_head;
	st->free_head = slot;
	st->count--;
}

void
schedstore_trim(struct schedstore *st)
{
	if (st->count != 0 || st->high == 0)
		return;
	for (size_t i = 1; i < st->nchunks; i++)
		free(st->chunks[i]);
	if (st->nchunks > 1)
		st->nchunks = 1;
	st->high = 0;
	st->free_head = NONE;
	if (st->index_cap > INDEX_MIN) {
		free(st->index);
		st->index_cap = INDEX_MIN;
		st->index = index_new(INDEX_MIN);
	}
}

size_t
schedstore_bytes(const struct schedstore *st)
{
	return st->nchunks * CHUNK_SIZE * sizeof(struct schedstore_rec) +
	       st->chunks_cap * sizeof *st->chunks + st->index_cap * sizeof *st->index;
}

const char *
schedstore_check(const struct schedstore *st)
{
	size_t nfree = 0, used = 0, indexed = 0;
	for (uint32_t slot = st->free_head; slot != NONE; slot = schedstore_rec(st, slot)->next)
		if (slot >= st->high || ++nfree > st->high || schedstore_rec(st, slot)->state != 0)
			return "free list broken";
	for (uint32_t slot = 0; slot < st->high; slot++) {
		const struct schedstore_rec *r = schedstore_rec(st, slot);
		if (r->state == 0)
			continue;
		used++;
		if (schedstore_find(st, r->id) != slot)
			return "index does not find a record";
	}
	for (size_t i = 0; i < st->index_cap; i++)
		indexed += st->index[i] != NONE;
	if (used != st->count || nfree + used != st->high || indexed != st->count)
		return "records miscounted";
	return NULL;
}

/* ---- lists ---- */

void
schedstore_list_push(struct schedstore *st, struct schedstore_list *l, uint32_t slot, int front)
{
	struct schedstore_rec *r = schedstore_rec(st, slot);
	if (l->head == NONE) {
		r->prev = r->next = NONE;
		l->head = l->tail = slot;
	} else if (front) {
		r->prev = NONE;
		r->next = l->head;
		schedstore_rec(st, l->head)->prev = slot;
		l->head = slot;
	} else {
		r->next = NONE;
		r->prev = l->tail;
		schedstore_rec(st, l->tail)->next = slot;
		l->tail = slot;
	}
}

void
schedstore_list_unlink(struct schedstore *st, struct schedstore_list *l, uint32_t slot)
{
	struct schedstore_rec *r = schedstore_rec(st, slot);
	if (r->prev != NONE)
		schedstore_rec(st, r->prev)->next = r->next;
	else
		l->head = r->next;
	if (r->next != NONE)
		schedstore_rec(st, r->next)->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NONE;
}

/* ---- the heap ---- */

void
schedstore_heap_init(struct schedstore_heap *h,
		     void (*moved)(void *ctx, uint32_t item, uint32_t pos), void *ctx)
{
	h->v = NULL;
	h->count = h->cap = 0;
	h->moved = moved;
	h->ctx = ctx;
}

void
schedstore_heap_free(struct schedstore_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->count = h->cap = 0;
}

static void
place(struct schedstore_heap *h, uint32_t pos, struct schedstore_entry e)
{
	h->v[pos] = e;
	h->moved(h->ctx, e.item, pos);
}

/* Moves e up from the hole at pos to where it belongs. */
static void
sift_up(struct schedstore_heap *h, uint32_t pos, struct schedstore_entry e)
{
	while (pos > 0) {
		uint32_t parent = (pos - 1) / ARITY;
		if (h->v[parent].key <= e.key)
			break;
		place(h, pos, h->v[parent]);
		pos = parent;
	}
	place(h, pos, e);
}

/* Moves e down from the hole at pos to where it belongs. */
static void
sift_down(struct schedstore_heap *h, uint32_t pos, struct schedstore_entry e)
{
	for (;;) {
		/* 64 bits: 4 * pos + 1 can pass UINT32_MAX in a big heap. */
		uint64_t first = (uint64_t)pos * ARITY + 1;
		if (first >= h->count)
			break;
		uint64_t end = first + ARITY < h->count ? first + ARITY : h->count;
		uint32_t best = (uint32_t)first;
		for (uint64_t c = first + 1; c < end; c++)
			if (h->v[c].key < h->v[best].key)
				best = (uint32_t)c;
		if (h->v[best].key >= e.key)
			break;
		place(h, pos, h->v[best]);
		pos = best;
	}
	place(h, pos, e);
}

/* Puts e into the hole at pos, up or down as its key says. */
static void
refill(struct schedstore_heap *h, uint32_t pos, struct schedstore_entry e)
{
	if (pos > 0 && h->v[(pos - 1) / ARITY].key > e.key)
		sift_up(h, pos, e);
	else
		sift_down(h, pos, e);
}

void
schedstore_heap_push(struct schedstore_heap *h, int64_t key, uint32_t item)
{
	if (h->count == h->cap) {
		h->cap = h->cap ? h->cap * 2 : HEAP_MIN;
		h->v = xrealloc(h->v, (size_t)h->cap * sizeof *h->v);
	}
	struct schedstore_entry e = {key, item};
	sift_up(h, h->count++, e);
}

void
schedstore_heap_remove(struct schedstore_heap *h, uint32_t pos)
{
	struct schedstore_entry last = h->v[--h->count];
	if (pos < h->count)
		refill(h, pos, last);
	/* Shrink a heap that emptied out, but lazily (a quarter full), so
	 * that a queue hovering around a power of two does not thrash. */
	if (h->cap > HEAP_MIN && h->count < h->cap / 4) {
		h->cap /= 2;
		h->v = xrealloc(h->v, (size_t)h->cap * sizeof *h->v);
	}
}

void
schedstore_heap_update(struct schedstore_heap *h, uint32_t pos, int64_t key)
{
	struct schedstore_entry e = {key, h->v[pos].item};
	refill(h, pos, e);
}

void
schedstore_heap_rebuild(struct schedstore_heap *h)
{
	if (h->count > 1)
		for (uint32_t i = (h->count - 2) / ARITY + 1; i-- > 0;)
			sift_down(h, i, h->v[i]);
	for (uint32_t i = 0; i < h->count; i++)
		h->moved(h->ctx, h->v[i].item, i);
}

int
schedstore_heap_valid(const struct schedstore_heap *h)
{
	for (uint32_t i = 1; i < h->count; i++)
		if (h->v[(i - 1) / ARITY].key > h->v[i].key)
			return 0;
	return 1;
}

size_t
schedstore_heap_bytes(const struct schedstore_heap *h)
{
	return (size_t)h->cap * sizeof *h->v;
}
