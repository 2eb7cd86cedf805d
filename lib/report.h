/*
 * report - what happened to every campaign, from the delivery log
 * (docs/logging.md) and the queue (docs/spool.md); docs/report.md.
 *
 * The log is read once, line by line; what is kept is per campaign,
 * per (campaign, destination domain), per bounce reason, and 16 bytes
 * per distinct (campaign, recipient) -- the join between enqueue's,
 * sched's and bounce's lines about one recipient, which also makes a
 * line written twice (after a crash, or by a re-run) count once.
 * Memory therefore grows with the recipients, never with the lines:
 * deferrals, retries and repeated runs cost nothing.
 */
#ifndef MAILSHOT_REPORT_H
#define MAILSHOT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "logread.h"

/* latency histogram: seconds, exact below 64 s, then 32 steps per
 * power of two (at most 3 % off) */
#define REPORT_HIST_BUCKETS 1024
/* outcomes over time: at most this many buckets; wider ones when the
 * log spans more */
#define REPORT_SERIES_MAX 240

enum report_series {
	RS_DELIVERED,
	RS_DEFERRED,
	RS_BOUNCED,
	RS_EXPIRED,
	RS_COUNT
};

struct report_series_data {
	int64_t t0;	/* start of bucket 0, seconds */
	int64_t width;	/* seconds per bucket; 0 while empty */
	size_t n;	/* buckets in use */
	uint32_t v[RS_COUNT][REPORT_SERIES_MAX];
};

struct report_domain {
	char *name;
	uint32_t campaign;
	uint64_t delivered, deferred, bounced, expired, tls, throttled;
	int64_t last_error_usec;
	char *last_error; /* "421 4.7.0 text" of the last deferral or bounce */
};

/* A destination across campaigns: the queue view. */
struct report_dest {
	char *name;
	/* from the queue */
	uint64_t ready, deferred, inflight;
	int64_t next;	/* earliest next attempt of the deferred, seconds */
	int64_t oldest; /* creation of its oldest queued batch, seconds */
	/* from the log */
	uint64_t delivered, deferrals, throttles;
	int64_t last_error_usec;
	char *last_error;
	int64_t last_usec; /* its last log line */
};

struct report_reason {
	char *name; /* "user-unknown", or "5.1.1" while not classified */
	uint64_t count;
	char *sample; /* a diagnostic */
};

struct report_campaign {
	char *name;
	int64_t first_usec, last_usec;
	/* distinct recipients, filled by report_finish() */
	uint64_t recipients, queued, tests, delivered, pending, bounced, hard, soft, expired,
	    suppressed, invalid, duplicates, complaints, unsubscribes, deferred_rcpts;
	/* events */
	uint64_t deferrals; /* deferred lines (attempts that were deferred) */
	uint32_t hist[REPORT_HIST_BUCKETS];
	uint64_t hist_n;
	struct report_reason *reasons;
	size_t nreasons;
	struct report_series_data series;
	/* from the queue (report_read_queue) */
	uint64_t q_messages, q_ready, q_deferred, q_inflight;
	int64_t q_next; /* the earliest next attempt, 0 for none */
	int64_t q_oldest; /* the oldest batch's creation, 0 for none */
};

struct report_opts {
	int64_t since_usec; /* lines before are skipped; 0: all */
	int64_t until_usec; /* lines after are skipped; 0: all */
	const char *campaign; /* only this one; NULL: all */
};

struct report;

struct report *report_new(const struct report_opts *opts);
void report_free(struct report *r);

/* Takes in one parsed log line.  Returns 0, or 1 when the line's event
 * (or program) is not one this version knows: skipped and counted. */
int report_add(struct report *r, const struct logline *l);

/* Computes the per-recipient counts and sorts (campaigns by name,
 * domains by traffic, reasons by count).  Called once, after the last
 * report_add; report_add must not follow (report_tally is the live view). */
void report_finish(struct report *r);

/* For a live view (watch), instead of report_finish: the per-recipient
 * counts (recipients .. deferred_rcpts) as of the lines taken so far;
 * report_add may follow, and report_tally again.  Campaigns stay in the
 * order the log named them; domains and reasons are not sorted. */
void report_tally(struct report *r);

/* Reads the queue's state files (read-only): per campaign the messages
 * still queued, ready, deferred (with the earliest next attempt), in
 * flight.  now in seconds.  Called before report_finish; again for a live
 * view (each call replaces what the last one found).  Returns 0, or -1
 * with err. */
int report_read_queue(struct report *r, const char *spool, int64_t now, struct buf *err);

size_t report_campaign_count(const struct report *r);
struct report_campaign *report_campaign_at(struct report *r, size_t i);
/* The campaign's domains, most traffic first (after report_finish). */
size_t report_domains(struct report *r, size_t campaign, struct report_domain ***out);
uint64_t report_unknown_events(const struct report *r);
/* Every destination, with messages queued first (most first), then by
 * deferrals. */
size_t report_dests(struct report *r, struct report_dest ***out);

/* The latency (seconds) under which q of the delivered messages were
 * delivered, 0 <= q <= 1; -1 when none was. */
int64_t report_percentile(const struct report_campaign *c, double q);
unsigned report_hist_bucket(int64_t seconds);
int64_t report_hist_value(unsigned bucket);

/* ---- queue/status, sched's view (docs/spool.md) ---- */

struct sched_status_dest {
	char *name;
	uint64_t ready, waiting, inflight;
	unsigned window, concurrency, rate;
	int64_t pause_until, backoff, error_at;
	uint64_t delivered, failed, deferred, expired, throttles;
	char *last_error; /* NULL for none */
};

struct sched_status {
	long pid;
	int64_t time, started;
	uint64_t messages, ready, waiting, inflight, dests;
	uint64_t delivered, failed, deferred, expired;
	struct sched_status_dest *dest;
	size_t ndest;
};

/* Parses the file's text.  Returns 0, or -1 with *why (a version this
 * reader does not know, a damaged line). */
int sched_status_parse(const char *text, size_t len, struct sched_status *out, const char **why);
void sched_status_free(struct sched_status *s);

#endif
