/*
 * schedcore - the scheduler's core: data structures and policy, with the
 * clock and the random seed injected.  See schedcore.h for the contract
 * and docs/sched.md for the policy and its reasons.
 *
 * The pieces (storage in schedstore.h):
 *
 *   records   a message's fields: id, created, expires (0 = none),
 *             attempts (started), test, dest, state (enum schedcore_state),
 *             and `when`, whose meaning depends on the state: WAITING, the
 *             next attempt; READY, when it became due; INFLIGHT, when the
 *             attempt started (to tell fresh feedback from stale);
 *             EXPIRED, the deadline that applied.  prev/next link it into
 *             its destination's queue (READY) or the expired list.
 *   timers    one heap of every READY and WAITING message, keyed by the
 *             time of its next event: a WAITING message's next attempt (or
 *             its deadline, if earlier), a READY one's deadline.  Popping
 *             what is due is how messages become ready and how they
 *             expire -- one mechanism, one key per message.
 *   queues    per destination, two FIFO lists (test sends, bulk) of READY
 *             messages, threaded through the records.
 *   rings     the destinations that can start a message now (due work, a
 *             free slot in the window, not paused, a rate token), in two
 *             circular lists with a cursor each: one of all of them, one
 *             of those with test sends.  next() serves the cursor's
 *             destination and moves the cursor on: round robin.
 *   dtimers   a heap of destinations that have due work but wait for a
 *             time: the end of a pause, the next rate token.  A
 *             destination that waits for a free slot in its window is in
 *             neither ring nor heap: a report brings it back.
 *
 * Why not one global heap of messages with lazy skipping of those whose
 * destination cannot go: a paused destination with a million due messages
 * would then be skipped a million times per call.  Here a blocked
 * destination leaves the rings, and its messages are not looked at again
 * until it can go -- each call is O(log n + log d) whatever is blocked.
 *
 * The invariant every public call restores before returning (and
 * schedcore_check() verifies): nothing in either heap is due at the
 * core's clock, and a destination is in the rings exactly when it can
 * start a message now, in the timer heap exactly when it waits for a
 * time.  So next() only ever looks at the cursors.
 */
#include "schedcore.h"

#include <stdlib.h>
#include <string.h>

#include "schedstore.h"
#include "when.h"

#define NONE SCHEDSTORE_NONE
#define RETRY_LINE_MAX 1024
#define ATTEMPTS_MAX 65535

/* Token bucket units: a message costs TOKEN units, and a rate of R
 * messages per minute adds R units a second -- exact integer arithmetic
 * for any rate, no fractions of a second needed. */
#define TOKEN 60

enum { RING_ALL = 0, RING_TEST = 1 };

/* A record's state: FREE, or one of enum schedcore_state. */
#define STATE_FREE 0

struct dest {
	char *name;
	uint32_t hash;
	uint32_t heap_pos;		     /* in the destination timer heap, or NONE */
	struct schedstore_list queue[2];     /* READY messages: [0] bulk, [1] test */
	uint32_t ring_prev[2], ring_next[2]; /* NONE when not in the ring */
	uint32_t ready, waiting, inflight;
	uint32_t cap, window, rate;
	int policy_set; /* schedcore_dest_policy() was called */
	int64_t tokens, token_time;
	int64_t pause_until, backoff, throttled_at;
	int64_t error_at;
	unsigned long long delivered, failed, deferred, expired, throttles;
	char error[SCHEDCORE_ERROR_MAX + 1];
};

struct schedcore {
	struct schedcore_config cfg;
	long retry_shortest; /* the schedule's shortest delay */
	int64_t now;
	uint64_t rng;

	struct schedstore st;
	struct schedstore_heap heap; /* READY and WAITING messages */

	struct dest *dests;
	size_t ndests, dests_cap;
	uint32_t *dindex; /* name -> destination */
	size_t dindex_cap;
	size_t name_bytes;
	struct schedstore_heap dheap; /* destinations waiting for a time */
	uint32_t cursor[2];	      /* the rings */

	struct schedstore_list expired; /* EXPIRED, not handed out yet */
	size_t nready, nwaiting, ninflight, nexpired;
};

/* ---- small helpers ---- */

static int64_t
clamp_time(time_t t)
{
	if (t < 0)
		return 0;
	if (t > SCHEDCORE_TIME_MAX)
		return SCHEDCORE_TIME_MAX;
	return (int64_t)t;
}

/* Moves the clock to now, unless it has seen a later time. */
static void
tick(struct schedcore *s, time_t now)
{
	int64_t t = clamp_time(now);
	if (t > s->now)
		s->now = t;
}

/* splitmix64: small, fast, and the same sequence from the same seed. */
static uint64_t
rand_next(struct schedcore *s)
{
	uint64_t x = (s->rng += 0x9e3779b97f4a7c15ULL);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Uniform in [0, n) (n >= 1); the modulo bias is below 2^-40 here. */
static int64_t
rand_below(struct schedcore *s, int64_t n)
{
	return n <= 1 ? 0 : (int64_t)(rand_next(s) % (uint64_t)n);
}

static struct schedstore_rec *
rec_at(const struct schedcore *s, uint32_t slot)
{
	return schedstore_rec(&s->st, slot);
}

/* Removes a record that is in no list and no heap. */
static void
forget(struct schedcore *s, uint32_t slot)
{
	schedstore_remove(&s->st, slot);
	if (s->st.count == 0) {
		/* A daemon that sent a million messages yesterday should not
		 * hold their memory today. */
		schedstore_trim(&s->st);
		schedstore_heap_free(&s->heap);
	}
}

static int64_t
deadline(const struct schedcore *s, const struct schedstore_rec *r)
{
	/* created <= 2^62 and the lifetime is at most ten years: no overflow.
	 * Capped at the clock's maximum, so that a clock stuck there still
	 * sees every deadline come. */
	int64_t d = r->created + s->cfg.queue_lifetime;
	if (r->expires != 0 && r->expires < d)
		d = r->expires;
	return d < SCHEDCORE_TIME_MAX ? d : SCHEDCORE_TIME_MAX;
}

/* The time of a queued message's next event, its key in the heap. */
static int64_t
msg_key(const struct schedcore *s, const struct schedstore_rec *r)
{
	int64_t d = deadline(s, r);
	return r->state == SCHEDCORE_WAITING && r->when < d ? r->when : d;
}

static void
msg_moved(void *ctx, uint32_t item, uint32_t pos)
{
	rec_at(ctx, item)->heap_pos = pos;
}

static void
dest_moved(void *ctx, uint32_t item, uint32_t pos)
{
	struct schedcore *s = ctx;
	s->dests[item].heap_pos = pos;
}

/* ---- destinations: rings, tokens, timers ---- */

static void
ring_insert(struct schedcore *s, int ring, uint32_t di)
{
	struct dest *d = &s->dests[di];
	if (d->ring_next[ring] != NONE)
		return;
	uint32_t c = s->cursor[ring];
	if (c == NONE) {
		d->ring_prev[ring] = d->ring_next[ring] = di;
		s->cursor[ring] = di;
		return;
	}
	/* Just before the cursor: the newcomer's turn comes last in this
	 * round, so it cannot jump ahead of destinations already waiting. */
	uint32_t p = s->dests[c].ring_prev[ring];
	d->ring_prev[ring] = p;
	d->ring_next[ring] = c;
	s->dests[p].ring_next[ring] = di;
	s->dests[c].ring_prev[ring] = di;
}

static void
ring_remove(struct schedcore *s, int ring, uint32_t di)
{
	struct dest *d = &s->dests[di];
	if (d->ring_next[ring] == NONE)
		return;
	if (d->ring_next[ring] == di) {
		s->cursor[ring] = NONE;
	} else {
		s->dests[d->ring_prev[ring]].ring_next[ring] = d->ring_next[ring];
		s->dests[d->ring_next[ring]].ring_prev[ring] = d->ring_prev[ring];
		if (s->cursor[ring] == di)
			s->cursor[ring] = d->ring_next[ring];
	}
	d->ring_prev[ring] = d->ring_next[ring] = NONE;
}

static int64_t
bucket_size(const struct dest *d)
{
	/* One second's worth of messages, at least one message. */
	return d->rate > TOKEN ? (int64_t)d->rate : TOKEN;
}

/* The bucket's content at now, without changing it. */
static int64_t
tokens_at(const struct dest *d, int64_t now)
{
	int64_t size = bucket_size(d);
	if (now <= d->token_time)
		return d->tokens;
	/* Both times lie in [0, 2^62]: the difference cannot overflow. */
	int64_t elapsed = now - d->token_time;
	if (elapsed >= size)
		return size; /* the rate is at least 1 unit a second */
	int64_t t = d->tokens + elapsed * (int64_t)d->rate;
	return t < size ? t : size;
}

static void
refill(struct dest *d, int64_t now)
{
	if (d->rate == 0)
		return;
	d->tokens = tokens_at(d, now);
	if (now > d->token_time)
		d->token_time = now;
}

/*
 * Whether destination d can start a message at now (1), and if not, the
 * time it waits for (*wake; 0 when it waits for an event, not a time:
 * no due work, or a full window).
 */
static int
dest_status(const struct dest *d, int64_t now, int64_t *wake)
{
	*wake = 0;
	if (d->queue[0].head == NONE && d->queue[1].head == NONE)
		return 0;
	if (now < d->pause_until) {
		*wake = d->pause_until;
		return 0;
	}
	if (d->inflight >= d->window)
		return 0;
	if (d->rate != 0) {
		int64_t t = tokens_at(d, now);
		if (t < TOKEN) {
			*wake = now + (TOKEN - t + d->rate - 1) / d->rate;
			return 0;
		}
	}
	return 1;
}

/* Puts d where its status says: in the rings, in the timer heap, or in
 * neither.  Called after anything about d changed. */
static void
dest_refresh(struct schedcore *s, uint32_t di)
{
	struct dest *d = &s->dests[di];
	int64_t wake;
	if (dest_status(d, s->now, &wake)) {
		ring_insert(s, RING_ALL, di);
		if (d->queue[1].head != NONE)
			ring_insert(s, RING_TEST, di);
		else
			ring_remove(s, RING_TEST, di);
	} else {
		ring_remove(s, RING_ALL, di);
		ring_remove(s, RING_TEST, di);
	}
	if (wake == 0) {
		if (d->heap_pos != NONE) {
			schedstore_heap_remove(&s->dheap, d->heap_pos);
			d->heap_pos = NONE;
		}
	} else if (d->heap_pos == NONE) {
		schedstore_heap_push(&s->dheap, wake, di);
	} else if (s->dheap.v[d->heap_pos].key != wake) {
		schedstore_heap_update(&s->dheap, d->heap_pos, wake);
	}
}

static void
set_error(struct dest *d, const char *text, int64_t now)
{
	size_t n = strnlen(text, SCHEDCORE_ERROR_MAX + 1);
	if (n > SCHEDCORE_ERROR_MAX) {
		/* Cut before the character that would not fit whole. */
		n = SCHEDCORE_ERROR_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		d->error[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	d->error[n] = '\0';
	d->error_at = now;
}

/* An answer from the destination: it is alive and taking mail. */
static void
dest_success(struct dest *d, int64_t started)
{
	/* An attempt that started before the last throttle signal tells
	 * nothing about the destination since: it must not undo the signal. */
	if (started <= d->throttled_at)
		return;
	if (d->window < d->cap)
		d->window++;
	d->backoff = 0;
}

/* See schedcore_throttle(); started is the attempt's start, or -1. */
static int
dest_throttle(struct schedcore *s, uint32_t di, int64_t started, long long hint)
{
	struct dest *d = &s->dests[di];
	int64_t now = s->now;
	int64_t hinted = 0;
	if (hint > 0)
		hinted = hint < SCHEDCORE_PAUSE_HINT_MAX ? hint : SCHEDCORE_PAUSE_HINT_MAX;
	if (now < d->pause_until || (started >= 0 && started <= d->throttled_at)) {
		/* The same episode: every connection of a destination that
		 * pushes back says so; halving once per connection would
		 * take any window to 1 at the first 421. */
		if (hinted > 0 && now + hinted > d->pause_until)
			d->pause_until = now + hinted;
		dest_refresh(s, di);
		return 0;
	}
	d->window = d->window > 1 ? d->window / 2 : 1;
	if (d->backoff == 0)
		d->backoff = s->cfg.pause_min;
	else if (d->backoff < s->cfg.pause_max / 2)
		d->backoff *= 2;
	else
		d->backoff = s->cfg.pause_max;
	d->pause_until = now + (hinted > d->backoff ? hinted : d->backoff);
	d->throttled_at = now;
	d->throttles++;
	dest_refresh(s, di);
	return 1;
}

/* ---- moving messages between states ---- */

static void
to_expired(struct schedcore *s, uint32_t slot)
{
	struct schedstore_rec *r = rec_at(s, slot);
	/* The deadline that applied, kept: a later SIGHUP with a longer
	 * queue lifetime does not bring an expired message back. */
	r->when = deadline(s, r);
	r->state = SCHEDCORE_EXPIRED;
	schedstore_list_push(&s->st, &s->expired, slot, 0);
	s->nexpired++;
}

/* A message that is in no structure becomes READY (or EXPIRED when its
 * deadline has come). */
static void
make_ready(struct schedcore *s, uint32_t slot, int front)
{
	struct schedstore_rec *r = rec_at(s, slot);
	struct dest *d = &s->dests[r->dest];
	int64_t dl = deadline(s, r);
	if (dl <= s->now) {
		to_expired(s, slot);
		return;
	}
	r->state = SCHEDCORE_READY;
	r->when = s->now;
	schedstore_list_push(&s->st, &d->queue[r->test], slot, front);
	d->ready++;
	s->nready++;
	schedstore_heap_push(&s->heap, dl, slot);
}

/* Takes a READY or WAITING message out of its queue and the heap. */
static void
unqueue(struct schedcore *s, uint32_t slot)
{
	struct schedstore_rec *r = rec_at(s, slot);
	struct dest *d = &s->dests[r->dest];
	schedstore_heap_remove(&s->heap, r->heap_pos);
	r->heap_pos = NONE;
	if (r->state == SCHEDCORE_READY) {
		schedstore_list_unlink(&s->st, &d->queue[r->test], slot);
		d->ready--;
		s->nready--;
	} else {
		d->waiting--;
		s->nwaiting--;
	}
}

/*
 * Handles every timer that is due at the core's clock: WAITING messages
 * whose next attempt has come join their destination's queue; messages
 * whose deadline has come expire; destinations whose pause ended or whose
 * token arrived are looked at again.  Each event costs O(log n), and only
 * events that are due are touched.
 */
static void
advance(struct schedcore *s)
{
	int64_t now = s->now;
	while (s->heap.count > 0 && schedstore_heap_top(&s->heap) <= now) {
		uint32_t slot = s->heap.v[0].item;
		struct schedstore_rec *r = rec_at(s, slot);
		struct dest *d = &s->dests[r->dest];
		int64_t dl = deadline(s, r);
		if (dl <= now) {
			unqueue(s, slot);
			to_expired(s, slot);
		} else {
			/* WAITING, and its next attempt has come. */
			r->state = SCHEDCORE_READY;
			d->waiting--;
			s->nwaiting--;
			schedstore_list_push(&s->st, &d->queue[r->test], slot, 0);
			d->ready++;
			s->nready++;
			schedstore_heap_update(&s->heap, 0, dl);
		}
		dest_refresh(s, r->dest);
	}
	while (s->dheap.count > 0 && schedstore_heap_top(&s->dheap) <= now) {
		uint32_t di = s->dheap.v[0].item;
		schedstore_heap_remove(&s->dheap, 0);
		s->dests[di].heap_pos = NONE;
		dest_refresh(s, di);
	}
}

/* ---- the retry schedule ---- */

void
schedcore_retry_default(struct schedcore_retry *r)
{
	static const long def[] = {300, 600, 1200, 2400, 3600};
	memset(r, 0, sizeof *r);
	r->count = sizeof def / sizeof def[0];
	memcpy(r->delay, def, sizeof def);
}

/* Appends token (n bytes) to err, quoted, cut and made printable. */
static void
quote_token(struct buf *err, const char *token, size_t n)
{
	buf_append_char(err, '"');
	for (size_t i = 0; i < n && i < 32; i++) {
		unsigned char c = (unsigned char)token[i];
		buf_append_char(err, c > 0x20 && c < 0x7f && c != '"' ? (char)c : '?');
	}
	buf_append_str(err, n > 32 ? "...\"" : "\"");
}

int
schedcore_retry_parse(const char *text, size_t len, const char *name, struct schedcore_retry *out,
		      struct buf *err)
{
	struct schedcore_retry r;
	memset(&r, 0, sizeof r);
	unsigned long lineno = 0;
	size_t pos = 0;
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n > RETRY_LINE_MAX) {
			buf_printf(err, "%s:%lu: line longer than %d bytes", name, lineno,
				   RETRY_LINE_MAX);
			return -1;
		}
		if (n > 0 && line[n - 1] == '\r')
			n--;
		size_t i = 0;
		while (i < n) {
			unsigned char c = (unsigned char)line[i];
			if (c == ' ' || c == '\t') {
				i++;
				continue;
			}
			if (c == '#')
				break;
			size_t start = i;
			while (i < n && line[i] != ' ' && line[i] != '\t' && line[i] != '#') {
				c = (unsigned char)line[i];
				if (c < 0x20 || c == 0x7f) {
					buf_printf(err, "%s:%lu: %s", name, lineno,
						   c == 0 ? "NUL byte" : "control character");
					return -1;
				}
				i++;
			}
			size_t tlen = i - start;
			char token[40];
			long long secs = 0;
			const char *why = "not a duration";
			if (r.count == SCHEDCORE_RETRY_ENTRIES) {
				buf_printf(err, "%s:%lu: more than %d retry intervals", name,
					   lineno, SCHEDCORE_RETRY_ENTRIES);
				return -1;
			}
			if (tlen < sizeof token) {
				memcpy(token, line + start, tlen);
				token[tlen] = '\0';
			}
			if (tlen >= sizeof token || when_parse_duration(token, &secs, &why) == -1) {
				buf_printf(err, "%s:%lu: ", name, lineno);
				quote_token(err, line + start, tlen);
				buf_printf(err,
					   ": %s (a retry interval is a duration: 5m, 1h, 1h30m)",
					   why);
				return -1;
			}
			if (secs < 1 || secs > SCHEDCORE_RETRY_DELAY_MAX) {
				buf_printf(err, "%s:%lu: ", name, lineno);
				quote_token(err, line + start, tlen);
				buf_printf(err, ": a retry interval is 1s to 7d");
				return -1;
			}
			r.delay[r.count++] = (long)secs;
		}
	}
	if (r.count == 0) {
		buf_printf(err, "%s:%lu: no retry interval (remove the file for the default)", name,
			   lineno ? lineno : 1);
		return -1;
	}
	*out = r;
	return 0;
}

/* The wait before the next attempt, after `attempts` attempts. */
static int64_t
retry_delay(struct schedcore *s, unsigned attempts, long long hint)
{
	const struct schedcore_retry *rt = &s->cfg.retry;
	int64_t base, delay;
	if (hint >= 0) {
		/* The server's word, within bounds: never sooner than our own
		 * shortest interval (a server must not make us loop), never
		 * later than a day; spread upwards only. */
		base = hint < SCHEDCORE_RETRY_HINT_MAX ? hint : SCHEDCORE_RETRY_HINT_MAX;
		if (base < s->retry_shortest)
			base = s->retry_shortest;
		delay = base + rand_below(s, base * s->cfg.jitter_percent / 100 + 1);
	} else {
		unsigned i = attempts > 0 ? attempts - 1 : 0;
		if (i >= rt->count)
			i = rt->count - 1;
		base = rt->delay[i];
		int64_t spread = base * s->cfg.jitter_percent / 100;
		delay = base - spread + rand_below(s, 2 * spread + 1);
	}
	return delay < 1 ? 1 : delay;
}

/* ---- creating and configuring ---- */

void
schedcore_config_default(struct schedcore_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_inflight = 100;
	cfg->default_concurrency = 10;
	cfg->queue_lifetime = 2 * 86400;
	cfg->jitter_percent = 10;
	cfg->pause_min = SCHEDCORE_PAUSE_MIN;
	cfg->pause_max = SCHEDCORE_PAUSE_MAX;
	cfg->max_messages = 10000000;
	cfg->max_dests = 1000000;
	cfg->seed = 0;
	schedcore_retry_default(&cfg->retry);
}

const char *
schedcore_config_check(const struct schedcore_config *cfg)
{
	if (cfg->max_inflight < 1 || cfg->max_inflight > SCHEDCORE_INFLIGHT_MAX)
		return "concurrency: 1 to 10000 messages in flight";
	if (cfg->default_concurrency < 1 || cfg->default_concurrency > SCHEDCORE_INFLIGHT_MAX)
		return "default concurrency per destination: 1 to 10000";
	if (cfg->queue_lifetime < 1 || cfg->queue_lifetime > SCHEDCORE_LIFETIME_MAX)
		return "queue lifetime: 1 second to 10 years";
	if (cfg->jitter_percent > 50)
		return "jitter: 0 to 50 percent";
	if (cfg->pause_min < 1 || cfg->pause_min > 86400)
		return "pause after a throttle signal: 1 second to a day";
	if (cfg->pause_max < cfg->pause_min || cfg->pause_max > 86400)
		return "longest pause: from the first pause to a day";
	if (cfg->max_messages < 1 || cfg->max_messages > ((size_t)1 << 31))
		return "maximum of queued messages: 1 to 2^31";
	if (cfg->max_dests < 1 || cfg->max_dests > ((size_t)1 << 24))
		return "maximum of destinations: 1 to 2^24";
	if (cfg->retry.count < 1 || cfg->retry.count > SCHEDCORE_RETRY_ENTRIES)
		return "retry schedule: 1 to 64 intervals";
	for (unsigned i = 0; i < cfg->retry.count; i++)
		if (cfg->retry.delay[i] < 1 || cfg->retry.delay[i] > SCHEDCORE_RETRY_DELAY_MAX)
			return "retry schedule: each interval 1s to 7d";
	return NULL;
}

static void
apply_config(struct schedcore *s, const struct schedcore_config *cfg)
{
	uint64_t seed = s->cfg.seed;
	s->cfg = *cfg;
	s->cfg.seed = seed;
	s->retry_shortest = cfg->retry.delay[0];
	for (unsigned i = 1; i < cfg->retry.count; i++)
		if (cfg->retry.delay[i] < s->retry_shortest)
			s->retry_shortest = cfg->retry.delay[i];
}

struct schedcore *
schedcore_new(const struct schedcore_config *cfg, time_t now, const char **why)
{
	const char *bad = schedcore_config_check(cfg);
	if (bad != NULL) {
		if (why != NULL)
			*why = bad;
		return NULL;
	}
	struct schedcore *s = xcalloc(1, sizeof *s);
	s->cfg.seed = cfg->seed;
	apply_config(s, cfg);
	s->rng = cfg->seed;
	s->now = clamp_time(now);
	schedstore_init(&s->st);
	schedstore_heap_init(&s->heap, msg_moved, s);
	schedstore_heap_init(&s->dheap, dest_moved, s);
	s->cursor[0] = s->cursor[1] = NONE;
	s->expired.head = s->expired.tail = NONE;
	return s;
}

void
schedcore_free(struct schedcore *s)
{
	if (s == NULL)
		return;
	schedstore_free(&s->st);
	schedstore_heap_free(&s->heap);
	schedstore_heap_free(&s->dheap);
	for (size_t i = 0; i < s->ndests; i++)
		free(s->dests[i].name);
	free(s->dests);
	free(s->dindex);
	free(s);
}

int
schedcore_reconfigure(struct schedcore *s, const struct schedcore_config *cfg, time_t now,
		      const char **why)
{
	const char *bad = schedcore_config_check(cfg);
	if (bad != NULL) {
		if (why != NULL)
			*why = bad;
		return -1;
	}
	tick(s, now);
	advance(s);
	long long old_lifetime = s->cfg.queue_lifetime;
	apply_config(s, cfg);
	for (size_t i = 0; i < s->ndests; i++) {
		struct dest *d = &s->dests[i];
		if (!d->policy_set) {
			d->cap = cfg->default_concurrency;
			if (d->window > d->cap)
				d->window = d->cap;
		}
	}
	if (cfg->queue_lifetime != old_lifetime) {
		for (uint32_t i = 0; i < s->heap.count; i++)
			s->heap.v[i].key = msg_key(s, rec_at(s, s->heap.v[i].item));
		schedstore_heap_rebuild(&s->heap);
	}
	advance(s);
	for (size_t i = 0; i < s->ndests; i++)
		dest_refresh(s, (uint32_t)i);
	return 0;
}

/* ---- destinations ---- */

static uint32_t
name_hash(const char *name)
{
	uint32_t h = 2166136261u;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

static void
dindex_place(struct schedcore *s, uint32_t di)
{
	size_t mask = s->dindex_cap - 1;
	size_t i = s->dests[di].hash & mask;
	while (s->dindex[i] != NONE)
		i = (i + 1) & mask;
	s->dindex[i] = di;
}

int
schedcore_dest_intern(struct schedcore *s, const char *name, uint32_t *dest)
{
	char lower[SCHEDCORE_NAME_MAX + 1];
	size_t n = strnlen(name, SCHEDCORE_NAME_MAX + 1);
	if (n == 0 || n > SCHEDCORE_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c < 0x21 || c > 0x7e)
			return -1;
		lower[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	lower[n] = '\0';
	uint32_t h = name_hash(lower);
	if (s->dindex_cap > 0) {
		size_t mask = s->dindex_cap - 1;
		for (size_t i = h & mask; s->dindex[i] != NONE; i = (i + 1) & mask) {
			struct dest *d = &s->dests[s->dindex[i]];
			if (d->hash == h && strcmp(d->name, lower) == 0) {
				*dest = s->dindex[i];
				return 0;
			}
		}
	}
	if (s->ndests >= s->cfg.max_dests)
		return -1;
	if (s->ndests == s->dests_cap) {
		s->dests_cap = s->dests_cap ? s->dests_cap * 2 : 16;
		s->dests = xrealloc(s->dests, s->dests_cap * sizeof *s->dests);
	}
	uint32_t di = (uint32_t)s->ndests++;
	struct dest *d = &s->dests[di];
	memset(d, 0, sizeof *d);
	d->name = xstrndup(lower, n);
	s->name_bytes += n + 1;
	d->hash = h;
	d->heap_pos = NONE;
	for (int k = 0; k < 2; k++)
		d->queue[k].head = d->queue[k].tail = d->ring_prev[k] = d->ring_next[k] = NONE;
	d->cap = s->cfg.default_concurrency;
	d->window = d->cap < SCHEDCORE_WINDOW_START ? d->cap : SCHEDCORE_WINDOW_START;
	d->throttled_at = INT64_MIN;
	if ((s->ndests) * 4 > s->dindex_cap * 3) {
		free(s->dindex);
		s->dindex_cap = s->dindex_cap ? s->dindex_cap * 2 : 64;
		s->dindex = xmalloc(s->dindex_cap * sizeof *s->dindex);
		memset(s->dindex, 0xff, s->dindex_cap * sizeof *s->dindex);
		for (uint32_t i = 0; i < s->ndests; i++)
			dindex_place(s, i);
	} else {
		dindex_place(s, di);
	}
	*dest = di;
	return 1;
}

size_t
schedcore_dest_count(const struct schedcore *s)
{
	return s->ndests;
}

int
schedcore_dest_policy(struct schedcore *s, uint32_t dest, unsigned concurrency, unsigned rate,
		      time_t now)
{
	if (dest >= s->ndests)
		return -1;
	tick(s, now);
	advance(s);
	struct dest *d = &s->dests[dest];
	if (concurrency < 1)
		concurrency = 1;
	if (concurrency > SCHEDCORE_INFLIGHT_MAX)
		concurrency = SCHEDCORE_INFLIGHT_MAX;
	if (rate > SCHEDCORE_RATE_MAX)
		rate = SCHEDCORE_RATE_MAX;
	d->cap = concurrency;
	if (d->window > d->cap)
		d->window = d->cap;
	d->policy_set = 1;
	if (rate != d->rate) {
		refill(d, s->now);
		int was_unlimited = d->rate == 0;
		d->rate = rate;
		d->token_time = s->now;
		if (rate != 0 && (was_unlimited || d->tokens > bucket_size(d)))
			d->tokens = bucket_size(d);
	}
	dest_refresh(s, dest);
	return 0;
}

int
schedcore_throttle(struct schedcore *s, uint32_t dest, time_t now, long long retry_after,
		   const char *text)
{
	if (dest >= s->ndests)
		return -1;
	tick(s, now);
	advance(s);
	if (text != NULL)
		set_error(&s->dests[dest], text, s->now);
	return dest_throttle(s, dest, -1, retry_after);
}

int
schedcore_dest_resume(struct schedcore *s, uint32_t dest, time_t now)
{
	if (dest >= s->ndests && dest != SCHEDCORE_ALL_DESTS)
		return -1;
	tick(s, now);
	advance(s);
	for (size_t i = 0; i < s->ndests; i++) {
		if (dest != SCHEDCORE_ALL_DESTS && i != dest)
			continue;
		s->dests[i].pause_until = 0;
		s->dests[i].backoff = 0;
		dest_refresh(s, (uint32_t)i);
	}
	return 0;
}

int
schedcore_dest_info(const struct schedcore *s, uint32_t dest, struct schedcore_dest_info *out)
{
	if (dest >= s->ndests)
		return -1;
	const struct dest *d = &s->dests[dest];
	memset(out, 0, sizeof *out);
	out->name = d->name;
	out->ready = d->ready;
	out->waiting = d->waiting;
	out->inflight = d->inflight;
	out->window = d->window;
	out->concurrency = d->cap;
	out->rate = d->rate;
	out->pause_until = (time_t)d->pause_until;
	out->backoff = d->backoff;
	out->last_error = d->error;
	out->last_error_at = (time_t)d->error_at;
	out->delivered = d->delivered;
	out->failed = d->failed;
	out->deferred = d->deferred;
	out->expired = d->expired;
	out->throttles = d->throttles;
	return 0;
}

/* ---- messages ---- */

enum schedcore_add_result
schedcore_add(struct schedcore *s, const struct schedcore_msg *m, time_t now)
{
	tick(s, now);
	advance(s);
	if (m->dest >= s->ndests)
		return SCHEDCORE_BAD_DEST;
	if (schedstore_find(&s->st, m->id) != NONE)
		return SCHEDCORE_DUPLICATE;
	if (s->st.count >= s->cfg.max_messages)
		return SCHEDCORE_FULL;
	uint32_t slot = schedstore_add(&s->st, m->id);
	struct schedstore_rec *r = rec_at(s, slot);
	r->created = clamp_time(m->created);
	r->expires = clamp_time(m->expires);
	r->dest = m->dest;
	r->attempts = m->attempts < ATTEMPTS_MAX ? (uint16_t)m->attempts : ATTEMPTS_MAX;
	r->test = m->test != 0;
	int64_t next = clamp_time(m->next_attempt);
	if (next <= s->now || deadline(s, r) <= s->now) {
		make_ready(s, slot, 0);
	} else {
		struct dest *d = &s->dests[m->dest];
		r->state = SCHEDCORE_WAITING;
		r->when = next;
		d->waiting++;
		s->nwaiting++;
		schedstore_heap_push(&s->heap, msg_key(s, r), slot);
	}
	dest_refresh(s, m->dest);
	return SCHEDCORE_ADDED;
}

int
schedcore_lookup(const struct schedcore *s, uint64_t id, struct schedcore_msg_info *out)
{
	uint32_t slot = schedstore_find(&s->st, id);
	if (slot == NONE)
		return -1;
	const struct schedstore_rec *r = rec_at(s, slot);
	memset(out, 0, sizeof *out);
	out->state = (enum schedcore_state)r->state;
	out->dest = r->dest;
	out->attempts = r->attempts;
	if (r->state == SCHEDCORE_WAITING || r->state == SCHEDCORE_INFLIGHT)
		out->next_attempt = (time_t)r->when;
	out->created = (time_t)r->created;
	out->expires = (time_t)r->expires;
	out->deadline = (time_t)(r->state == SCHEDCORE_EXPIRED ? r->when : deadline(s, r));
	out->test = r->test;
	return 0;
}

int
schedcore_cancel(struct schedcore *s, uint64_t id)
{
	uint32_t slot = schedstore_find(&s->st, id);
	if (slot == NONE)
		return -1;
	struct schedstore_rec *r = rec_at(s, slot);
	uint32_t di = r->dest;
	switch (r->state) {
	case SCHEDCORE_READY:
	case SCHEDCORE_WAITING:
		unqueue(s, slot);
		break;
	case SCHEDCORE_EXPIRED:
		schedstore_list_unlink(&s->st, &s->expired, slot);
		s->nexpired--;
		break;
	default:
		return -1;
	}
	forget(s, slot);
	dest_refresh(s, di);
	return 0;
}

/* ---- what to do now ---- */

static void
event_fill(const struct schedcore *s, const struct schedstore_rec *r, enum schedcore_what what,
	   struct schedcore_event *ev)
{
	ev->what = what;
	ev->id = r->id;
	ev->dest = r->dest;
	ev->attempt = r->attempts;
	ev->test = r->test;
	ev->created = (time_t)r->created;
	ev->deadline = (time_t)(r->state == SCHEDCORE_EXPIRED ? r->when : deadline(s, r));
}

/* Starts the first message of destination di, taken from ring `ring`. */
static void
start(struct schedcore *s, uint32_t di, int ring, struct schedcore_event *ev)
{
	struct dest *d = &s->dests[di];
	s->cursor[ring] = d->ring_next[ring];
	int test = d->queue[1].head != NONE;
	uint32_t slot = d->queue[test].head;
	struct schedstore_rec *r = rec_at(s, slot);
	schedstore_list_unlink(&s->st, &d->queue[test], slot);
	schedstore_heap_remove(&s->heap, r->heap_pos);
	r->heap_pos = NONE;
	r->state = SCHEDCORE_INFLIGHT;
	r->when = s->now;
	if (r->attempts < ATTEMPTS_MAX)
		r->attempts++;
	d->ready--;
	s->nready--;
	d->inflight++;
	s->ninflight++;
	if (d->rate != 0) {
		refill(d, s->now);
		d->tokens -= TOKEN;
	}
	event_fill(s, r, SCHEDCORE_START, ev);
	dest_refresh(s, di);
}

enum schedcore_what
schedcore_next(struct schedcore *s, time_t now, struct schedcore_event *ev)
{
	tick(s, now);
	advance(s);
	memset(ev, 0, sizeof *ev);
	if (s->expired.head != NONE) {
		uint32_t slot = s->expired.head;
		struct schedstore_rec *r = rec_at(s, slot);
		schedstore_list_unlink(&s->st, &s->expired, slot);
		s->nexpired--;
		s->dests[r->dest].expired++;
		event_fill(s, r, SCHEDCORE_EXPIRE, ev);
		forget(s, slot);
		return SCHEDCORE_EXPIRE;
	}
	if (s->ninflight < s->cfg.max_inflight) {
		int ring = s->cursor[RING_TEST] != NONE ? RING_TEST : RING_ALL;
		if (s->cursor[ring] != NONE) {
			start(s, s->cursor[ring], ring, ev);
			return SCHEDCORE_START;
		}
	}
	ev->what = SCHEDCORE_IDLE;
	int64_t wake = 0;
	if (s->heap.count > 0)
		wake = schedstore_heap_top(&s->heap);
	if (s->dheap.count > 0 && (wake == 0 || schedstore_heap_top(&s->dheap) < wake))
		wake = schedstore_heap_top(&s->dheap);
	ev->wake = (time_t)wake;
	return SCHEDCORE_IDLE;
}

/* ---- outcomes ---- */

int
schedcore_report(struct schedcore *s, uint64_t id, time_t now, enum schedcore_outcome outcome,
		 long long retry_after, int throttle, const char *text,
		 struct schedcore_result *res)
{
	if (outcome != SCHEDCORE_DELIVERED && outcome != SCHEDCORE_DEFERRED &&
	    outcome != SCHEDCORE_FAILED)
		return -1;
	uint32_t slot = schedstore_find(&s->st, id);
	if (slot == NONE || rec_at(s, slot)->state != SCHEDCORE_INFLIGHT)
		return -1;
	tick(s, now);
	advance(s); /* moves no in-flight message: slot stays valid */
	struct schedstore_rec *r = rec_at(s, slot);
	uint32_t di = r->dest;
	struct dest *d = &s->dests[di];
	int64_t started = r->when, dl = deadline(s, r);
	d->inflight--;
	s->ninflight--;
	memset(res, 0, sizeof *res);
	res->dest = di;
	res->attempts = r->attempts;
	res->deadline = (time_t)dl;
	switch (outcome) {
	case SCHEDCORE_DELIVERED:
		dest_success(d, started);
		d->delivered++;
		res->fate = SCHEDCORE_FATE_DELIVERED;
		forget(s, slot);
		break;
	case SCHEDCORE_FAILED:
		if (text != NULL)
			set_error(d, text, s->now);
		dest_success(d, started);
		d->failed++;
		res->fate = SCHEDCORE_FATE_FAILED;
		forget(s, slot);
		break;
	case SCHEDCORE_DEFERRED: {
		if (text != NULL)
			set_error(d, text, s->now);
		d->deferred++;
		if (throttle)
			res->throttled = dest_throttle(s, di, started, retry_after) == 1;
		int64_t next = s->now + retry_delay(s, r->attempts, retry_after);
		if (next >= dl) {
			d->expired++;
			res->fate = SCHEDCORE_FATE_EXPIRED;
			forget(s, slot);
		} else {
			r->state = SCHEDCORE_WAITING;
			r->when = next;
			d->waiting++;
			s->nwaiting++;
			schedstore_heap_push(&s->heap, next, slot);
			res->fate = SCHEDCORE_FATE_RETRY;
			res->next_attempt = (time_t)next;
		}
		break;
	}
	}
	dest_refresh(s, di);
	res->window = d->window;
	res->pause_until = (time_t)d->pause_until;
	return 0;
}

int
schedcore_unstart(struct schedcore *s, uint64_t id, time_t now)
{
	uint32_t slot = schedstore_find(&s->st, id);
	if (slot == NONE || rec_at(s, slot)->state != SCHEDCORE_INFLIGHT)
		return -1;
	tick(s, now);
	advance(s);
	struct schedstore_rec *r = rec_at(s, slot);
	struct dest *d = &s->dests[r->dest];
	d->inflight--;
	s->ninflight--;
	if (r->attempts > 0)
		r->attempts--;
	make_ready(s, slot, 1);
	dest_refresh(s, r->dest);
	return 0;
}

size_t
schedcore_retry_all_now(struct schedcore *s, time_t now)
{
	tick(s, now);
	advance(s);
	size_t n = 0;
	/* After advance() every WAITING message's deadline lies ahead, so
	 * each becomes READY; only keys change, then the heap is rebuilt. */
	for (uint32_t i = 0; i < s->heap.count; i++) {
		uint32_t slot = s->heap.v[i].item;
		struct schedstore_rec *r = rec_at(s, slot);
		if (r->state != SCHEDCORE_WAITING)
			continue;
		struct dest *d = &s->dests[r->dest];
		r->state = SCHEDCORE_READY;
		r->when = s->now;
		d->waiting--;
		s->nwaiting--;
		schedstore_list_push(&s->st, &d->queue[r->test], slot, 0);
		d->ready++;
		s->nready++;
		s->heap.v[i].key = deadline(s, r);
		n++;
	}
	if (n > 0) {
		schedstore_heap_rebuild(&s->heap);
		for (size_t i = 0; i < s->ndests; i++)
			dest_refresh(s, (uint32_t)i);
	}
	return n;
}

/* ---- statistics and checks ---- */

void
schedcore_stats(const struct schedcore *s, struct schedcore_stats *out)
{
	memset(out, 0, sizeof *out);
	out->messages = s->st.count;
	out->ready = s->nready;
	out->waiting = s->nwaiting;
	out->inflight = s->ninflight;
	out->expired = s->nexpired;
	out->dests = s->ndests;
	out->bytes = sizeof *s + schedstore_bytes(&s->st) + schedstore_heap_bytes(&s->heap) +
		     schedstore_heap_bytes(&s->dheap) + s->dests_cap * sizeof *s->dests +
		     s->dindex_cap * sizeof *s->dindex + s->name_bytes;
}

/* Walks one destination queue; NULL or what is wrong. */
static const char *
check_queue(const struct schedcore *s, uint32_t di, int test, size_t *count)
{
	const struct dest *d = &s->dests[di];
	uint32_t prev = NONE;
	for (uint32_t slot = d->queue[test].head; slot != NONE; slot = rec_at(s, slot)->next) {
		if (slot >= s->st.high || ++*count > s->st.count)
			return "destination queue runs wild";
		const struct schedstore_rec *r = rec_at(s, slot);
		if (r->state != SCHEDCORE_READY || r->dest != di || r->test != test)
			return "wrong message in a destination queue";
		if (r->prev != prev)
			return "destination queue: broken back link";
		prev = slot;
	}
	return prev == d->queue[test].tail ? NULL : "destination queue: wrong tail";
}

/* Walks one ring; NULL or what is wrong. */
static const char *
check_ring(const struct schedcore *s, int ring, size_t members)
{
	size_t n = 0;
	uint32_t c = s->cursor[ring];
	if (c == NONE)
		return members == 0 ? NULL : "ring: members but no cursor";
	uint32_t di = c;
	do {
		if (di >= s->ndests || ++n > s->ndests)
			return "ring runs wild";
		uint32_t next = s->dests[di].ring_next[ring];
		if (next >= s->ndests || s->dests[next].ring_prev[ring] != di)
			return "ring: broken link";
		di = next;
	} while (di != c);
	return n == members ? NULL : "ring: wrong number of members";
}

/* Checks destination di against the messages counted for it; adds its
 * ring memberships to in_ring. */
static const char *
check_dest(const struct schedcore *s, uint32_t di, const size_t tally[3], size_t in_ring[2])
{
	const struct dest *d = &s->dests[di];
	size_t queued = 0;
	const char *bad;
	if (tally[0] != d->ready || tally[1] != d->waiting || tally[2] != d->inflight)
		return "destination counters wrong";
	if ((bad = check_queue(s, di, 0, &queued)) != NULL ||
	    (bad = check_queue(s, di, 1, &queued)) != NULL)
		return bad;
	if (queued != d->ready)
		return "destination queues miscounted";
	if (d->cap < 1 || d->cap > SCHEDCORE_INFLIGHT_MAX || d->window < 1 || d->window > d->cap)
		return "window outside 1..cap";
	if (d->rate != 0 && (d->tokens < 0 || d->tokens > bucket_size(d)))
		return "token bucket out of range";
	int64_t wake;
	int can = dest_status(d, s->now, &wake);
	if (can != (d->ring_next[RING_ALL] != NONE))
		return can ? "a destination that can go is not in the ring"
			   : "a destination that cannot go is in the ring";
	if ((can && d->queue[1].head != NONE) != (d->ring_next[RING_TEST] != NONE))
		return "test ring membership wrong";
	in_ring[RING_ALL] += can;
	in_ring[RING_TEST] += can && d->queue[1].head != NONE;
	if ((wake != 0) != (d->heap_pos != NONE))
		return "destination timer set when it should not be, or not when it should";
	if (wake != 0 && (d->heap_pos >= s->dheap.count || s->dheap.v[d->heap_pos].item != di ||
			  s->dheap.v[d->heap_pos].key != wake))
		return "destination timer wrong";
	return NULL;
}

const char *
schedcore_check(const struct schedcore *s)
{
	const char *bad = schedstore_check(&s->st);
	if (bad != NULL)
		return bad;
	if (!schedstore_heap_valid(&s->heap) || !schedstore_heap_valid(&s->dheap))
		return "heap out of order";
	if (s->heap.count > 0 && schedstore_heap_top(&s->heap) <= s->now)
		return "a message timer is due but was not handled";
	if (s->dheap.count > 0 && schedstore_heap_top(&s->dheap) <= s->now)
		return "a destination timer is due but was not handled";
	for (uint32_t i = 0; i < s->heap.count; i++) {
		uint32_t slot = s->heap.v[i].item;
		if (slot >= s->st.high)
			return "message heap: bad slot";
		const struct schedstore_rec *r = rec_at(s, slot);
		if (r->state != SCHEDCORE_READY && r->state != SCHEDCORE_WAITING)
			return "message heap: message neither ready nor waiting";
		if (r->heap_pos != i || s->heap.v[i].key != msg_key(s, r))
			return "message heap: wrong position or key";
	}
	/* Every message by state, and per destination. */
	size_t *tally = xcalloc(s->ndests * 3 + 1, sizeof *tally);
	size_t by_state[SCHEDCORE_EXPIRED + 1] = {0};
	for (uint32_t slot = 0; slot < s->st.high && bad == NULL; slot++) {
		const struct schedstore_rec *r = rec_at(s, slot);
		if (r->state > SCHEDCORE_EXPIRED)
			bad = "record: bad state";
		else if (r->state != STATE_FREE && r->dest >= s->ndests)
			bad = "record: bad destination";
		else if ((r->state == SCHEDCORE_READY || r->state == SCHEDCORE_WAITING) !=
			 (r->heap_pos != NONE))
			bad = "record: in the heap when it should not be, or not when it should";
		else if (r->heap_pos != NONE &&
			 (r->heap_pos >= s->heap.count || s->heap.v[r->heap_pos].item != slot))
			bad = "record: wrong heap position";
		if (bad != NULL)
			break;
		by_state[r->state]++;
		if (r->state >= SCHEDCORE_READY && r->state <= SCHEDCORE_INFLIGHT)
			tally[r->dest * 3 + (r->state - SCHEDCORE_READY)]++;
	}
	if (bad == NULL &&
	    (by_state[SCHEDCORE_READY] != s->nready || by_state[SCHEDCORE_WAITING] != s->nwaiting ||
	     by_state[SCHEDCORE_INFLIGHT] != s->ninflight ||
	     by_state[SCHEDCORE_EXPIRED] != s->nexpired))
		bad = "messages miscounted by state";
	size_t nexp = 0;
	uint32_t prev = NONE;
	for (uint32_t slot = s->expired.head; slot != NONE && bad == NULL;
	     slot = rec_at(s, slot)->next) {
		if (slot >= s->st.high || ++nexp > s->st.count ||
		    rec_at(s, slot)->state != SCHEDCORE_EXPIRED || rec_at(s, slot)->prev != prev)
			bad = "expired list broken";
		prev = slot;
	}
	if (bad == NULL && (nexp != s->nexpired || prev != s->expired.tail))
		bad = "expired list miscounted";
	size_t inflight = 0, in_ring[2] = {0, 0};
	for (uint32_t di = 0; di < s->ndests && bad == NULL; di++) {
		inflight += s->dests[di].inflight;
		bad = check_dest(s, di, tally + di * 3, in_ring);
	}
	free(tally);
	if (bad == NULL && inflight != s->ninflight)
		bad = "in-flight messages miscounted";
	if (bad == NULL)
		bad = check_ring(s, RING_ALL, in_ring[RING_ALL]);
	if (bad == NULL)
		bad = check_ring(s, RING_TEST, in_ring[RING_TEST]);
	return bad;
}
