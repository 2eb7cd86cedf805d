/*
 * schedcore - the scheduler's core: which queued message is tried when,
 * and how many at once.
 *
 * A data structure and a policy, nothing else: no files, no sockets, no
 * clock, no signals, no randomness but a seeded generator.  The caller
 * (mailshot-sched) passes the time into every call, tells the core what
 * happened (a message queued, an attempt's outcome, a destination pushing
 * back) and asks it what to do next.  So every rule below is tested with
 * a simulated clock, in microseconds, and the daemon around it only moves
 * bytes.  The policy and the reasons for it are in docs/sched.md.
 *
 * Messages.  Each queued message is a compact record (56 bytes) named by
 * a 64-bit id the caller chooses (sched encodes its batch file and index
 * in it).  A message is in exactly one state:
 *
 *   READY     due now, waiting for its destination to have room;
 *   WAITING   deferred: not before its next attempt time;
 *   INFLIGHT  handed out by schedcore_next(), outcome not yet reported;
 *   EXPIRED   its deadline passed while it was queued: final, waiting to
 *             be handed out (once) by schedcore_next().
 *
 * Delivered, failed and expired messages leave the core; their outcome is
 * what the caller logs.  The deadline of a message is the earlier of
 * created + queue lifetime and the campaign's expiry time (if any).  No
 * attempt starts at or after the deadline; a message whose deadline comes
 * while it is queued, or whose next attempt would fall at or after it,
 * is EXPIRED -- a soft outcome, never a bounce.
 *
 * Destinations.  A destination (a domain, or the route serving it) is
 * interned once by name and then named by a small number.  Each has a
 * concurrency cap (control/domains, default 10), an adaptive window
 * (slow start at 2, +1 per success up to the cap, halved by a throttle
 * signal), a pause with exponential backoff after a throttle signal, and
 * an optional rate limit (messages per minute, a token bucket).  On top,
 * a global cap on messages in flight (control/concurrency, default 100).
 *
 * What is counted: one message in flight is one slot.  A destination
 * never has more messages in flight than its window (which never exceeds
 * its cap), and all destinations together never more than the global cap
 * -- each checked at the moment a message is handed out; a window halved
 * by a throttle may be below what is already in flight, and then nothing
 * new starts there until enough have come back.  mailshot-remote opens at
 * most one SMTP connection per message it holds, so connections <= slots.
 *
 * Time: Unix seconds (time_t).  Times given are clamped into
 * [0, SCHEDCORE_TIME_MAX], and the core's clock never goes back: a `now`
 * earlier than one already seen is taken as the latest seen (a wall clock
 * stepped back makes things happen later, never twice or early).
 *
 * Cost: schedcore_add, _next, _report, _unstart and _cancel are
 * O(log n) in the number of queued messages plus O(log d) in the number
 * of destinations, whatever the mix -- in particular a million deferred
 * messages of one paused destination cost nothing to the others.
 * schedcore_retry_all_now and changing the queue lifetime are O(n).
 * Memory: 82 bytes per queued message (a 56-byte record, the id index,
 * the timer heap; measured by the unit test for a million) and about 300
 * bytes per destination.  When the queue empties, all of it but one chunk
 * of records is given back.
 *
 * Allocation failure is fatal (exit 111), as everywhere in mailshot.
 * Calls with bad arguments (an unknown id or destination, a message in
 * the wrong state) change nothing and return -1: the caller's records may
 * be stale after a crash, and that is no reason to crash again.
 */
#ifndef MAILSHOT_SCHEDCORE_H
#define MAILSHOT_SCHEDCORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

/* ---- limits and fixed policy (docs/sched.md says why) ---- */

#define SCHEDCORE_TIME_MAX ((time_t)1 << 62)
#define SCHEDCORE_INFLIGHT_MAX 10000   /* the largest global or per-destination cap */
#define SCHEDCORE_RATE_MAX 1000000     /* messages per minute, as control/domains */
#define SCHEDCORE_WINDOW_START 2       /* slow start: first window (or the cap if lower) */
#define SCHEDCORE_PAUSE_MIN 60	       /* default first pause after a throttle signal */
#define SCHEDCORE_PAUSE_MAX 1800       /* default: the backoff doubles up to this */
#define SCHEDCORE_PAUSE_HINT_MAX 3600  /* a server's hint can pause a destination this long */
#define SCHEDCORE_RETRY_HINT_MAX 86400 /* a server's hint can delay a message this long */
#define SCHEDCORE_LIFETIME_MAX (3650L * 86400) /* queue lifetime: 1 s to 10 years */
#define SCHEDCORE_ERROR_MAX 120		       /* bytes of error text kept per destination */
#define SCHEDCORE_NAME_MAX 255		       /* bytes of a destination name */
#define SCHEDCORE_NO_DEST UINT32_MAX
#define SCHEDCORE_ALL_DESTS (UINT32_MAX - 1) /* for schedcore_dest_resume() */

/* ---- the retry schedule (control/retry) ---- */

#define SCHEDCORE_RETRY_ENTRIES 64
#define SCHEDCORE_RETRY_DELAY_MAX (7L * 86400)

/*
 * delay[i] is the wait after the (i+1)-th failed attempt; the last entry
 * repeats.  1 <= count <= SCHEDCORE_RETRY_ENTRIES, each delay in
 * 1..SCHEDCORE_RETRY_DELAY_MAX seconds.
 */
struct schedcore_retry {
	unsigned count;
	long delay[SCHEDCORE_RETRY_ENTRIES];
};

/* The default: 5m 10m 20m 40m, then 1h for ever (until the deadline). */
void schedcore_retry_default(struct schedcore_retry *r);

/*
 * Parses control/retry: durations as lib/when.h reads them ("5m", "1h30m",
 * "90"), separated by blanks or line ends, any number per line; "#" starts
 * a comment that runs to the end of the line; a CR before a LF is
 * ignored.  Refused, with "NAME:LINE: what" appended to err and *out
 * untouched: no duration at all, a malformed one, 0, one over
 * SCHEDCORE_RETRY_DELAY_MAX, more than SCHEDCORE_RETRY_ENTRIES, a line
 * longer than 1024 bytes, a NUL or other control byte.  The offending
 * token is quoted in the message with anything unprintable as '?'.
 * Returns 0 or -1.
 */
int schedcore_retry_parse(const char *text, size_t len, const char *name,
			  struct schedcore_retry *out, struct buf *err);

/* ---- creating and configuring ---- */

struct schedcore_config {
	unsigned max_inflight;	      /* control/concurrency, 1..SCHEDCORE_INFLIGHT_MAX: 100 */
	unsigned default_concurrency; /* a destination's cap until set: 1..INFLIGHT_MAX: 10 */
	long long queue_lifetime;     /* control/queuelifetime, 1..LIFETIME_MAX s: 2 days */
	unsigned jitter_percent;      /* spread of retry delays, 0..50: 10 (+-10%) */
	size_t max_messages;	      /* queued messages at most, 1..2^31: 10,000,000 */
	size_t max_dests;	      /* destinations at most, 1..2^24: 1,000,000 */
	uint64_t seed;		      /* the jitter's random generator (any value) */
	long pause_min;		      /* first pause after a throttle signal, 1..86400 s: 60 */
	long pause_max;		      /* the backoff doubles up to this, pause_min..86400 s: 1800 */
	struct schedcore_retry retry; /* control/retry */
};

/* Fills in the defaults above (seed 0). */
void schedcore_config_default(struct schedcore_config *cfg);

/* NULL when cfg is acceptable, else what is wrong with it (fixed text). */
const char *schedcore_config_check(const struct schedcore_config *cfg);

struct schedcore;

/* A new, empty core whose clock starts at now; NULL (and *why set) when
 * schedcore_config_check() refuses cfg. */
struct schedcore *schedcore_new(const struct schedcore_config *cfg, time_t now, const char **why);
void schedcore_free(struct schedcore *s);

/*
 * SIGHUP: new settings in force from now.  The global cap, the retry
 * schedule and the jitter apply to what happens next (a lower cap stops
 * new starts until enough come back; deferred messages keep the next
 * attempt time they were given).  A new queue lifetime moves every
 * queued message's deadline at once (O(n)); those now past it expire.
 * A new default concurrency applies to destinations never given a policy
 * of their own.  The seed and the random state are kept.  Returns 0, or
 * -1 with *why set and nothing changed.
 */
int schedcore_reconfigure(struct schedcore *s, const struct schedcore_config *cfg, time_t now,
			  const char **why);

/* ---- destinations ---- */

/*
 * The number of the destination called name, interned on first use (with
 * the default concurrency, no rate limit, window SCHEDCORE_WINDOW_START).
 * Names compare without regard to ASCII case and are stored lower-cased.
 * A name is 1..SCHEDCORE_NAME_MAX bytes of printable ASCII (0x21..0x7e).
 * Returns 1 (new; *dest set), 0 (known; *dest set) or -1 (a bad name, or
 * max_dests reached).  Numbers count from 0 and are never reused.
 */
int schedcore_dest_intern(struct schedcore *s, const char *name, uint32_t *dest);

/* The number of destinations interned so far (valid numbers are below). */
size_t schedcore_dest_count(const struct schedcore *s);

/*
 * Sets a destination's policy from control/domains: its concurrency cap
 * (clamped to 1..SCHEDCORE_INFLIGHT_MAX; the window is lowered to it if
 * above, never raised) and its rate in messages per minute (0 = no limit;
 * clamped to SCHEDCORE_RATE_MAX).  A rate limit allows a burst of one
 * second's worth of messages, at least one.  Returns 0 or -1.
 */
int schedcore_dest_policy(struct schedcore *s, uint32_t dest, unsigned concurrency, unsigned rate,
			  time_t now);

/*
 * A throttle signal for a destination without a message (the protocol's
 * `throttle` record): halves the window (at least 1) and pauses the
 * destination for its backoff -- SCHEDCORE_PAUSE_MIN, doubled by each
 * further episode up to SCHEDCORE_PAUSE_MAX, reset by a success -- or for
 * the server's retry_after (seconds, -1 = none) if longer, up to
 * SCHEDCORE_PAUSE_HINT_MAX.  A signal while the destination is paused
 * belongs to the same episode: it may lengthen the pause to the hint, but
 * halves and doubles nothing.  text (may be NULL) becomes the
 * destination's last error.  Returns 1 (a new episode), 0 (the same
 * episode) or -1 (unknown destination).
 */
int schedcore_throttle(struct schedcore *s, uint32_t dest, time_t now, long long retry_after,
		       const char *text);

/*
 * Ends a destination's pause now and resets its backoff (the operator
 * knows better); its window is left as it is.  dest may be
 * SCHEDCORE_ALL_DESTS.  Returns 0 or -1.
 */
int schedcore_dest_resume(struct schedcore *s, uint32_t dest, time_t now);

struct schedcore_dest_info {
	const char *name; /* valid until the core is freed */
	size_t ready;	  /* due, waiting for room */
	size_t waiting;	  /* deferred, not due yet */
	size_t inflight;
	unsigned window;
	unsigned concurrency;	/* the cap */
	unsigned rate;		/* per minute, 0 = no limit */
	time_t pause_until;	/* paused while now < pause_until */
	long long backoff;	/* the last pause's length; 0 after a success */
	const char *last_error; /* "" when none; valid until the next call */
	time_t last_error_at;
	/* Totals since the core was created. */
	unsigned long long delivered, failed, deferred, expired, throttles;
};

/* Fills *out for dest at the core's clock.  Returns 0 or -1. */
int schedcore_dest_info(const struct schedcore *s, uint32_t dest, struct schedcore_dest_info *out);

/* ---- messages ---- */

struct schedcore_msg {
	uint64_t id;	     /* unique among queued messages */
	uint32_t dest;	     /* from schedcore_dest_intern() */
	time_t created;	     /* when it was queued (the batch's created) */
	time_t expires;	     /* the campaign's deadline; 0 (or negative) = none */
	time_t next_attempt; /* not before this; 0 (or any time <= now) = due now */
	unsigned attempts;   /* made before (after a restart); saturates at 65535 */
	int test;	     /* 1 for a test send: goes before bulk */
};

enum schedcore_add_result {
	SCHEDCORE_ADDED = 0,
	SCHEDCORE_DUPLICATE = -1, /* the id is queued already */
	SCHEDCORE_BAD_DEST = -2,  /* no such destination */
	SCHEDCORE_FULL = -3,	  /* max_messages are queued: try again later */
};

/*
 * Queues a message, READY if next_attempt <= now, else WAITING.  A
 * message whose deadline has passed already is queued all the same and
 * handed back as EXPIRED by the next schedcore_next().
 */
enum schedcore_add_result schedcore_add(struct schedcore *s, const struct schedcore_msg *m,
					time_t now);

enum schedcore_state {
	SCHEDCORE_READY = 1,
	SCHEDCORE_WAITING,
	SCHEDCORE_INFLIGHT,
	SCHEDCORE_EXPIRED,
};

struct schedcore_msg_info {
	enum schedcore_state state;
	uint32_t dest;
	unsigned attempts;   /* attempts started, this one included when INFLIGHT */
	time_t next_attempt; /* WAITING: the time; INFLIGHT: when it started; else 0 */
	time_t created, expires, deadline;
	int test;
};

/* What the core holds for id.  Returns 0, or -1 when it holds nothing. */
int schedcore_lookup(const struct schedcore *s, uint64_t id, struct schedcore_msg_info *out);

/* Drops a queued message that is not in flight (a campaign cancelled),
 * without an outcome.  Returns 0, or -1 (unknown, or in flight). */
int schedcore_cancel(struct schedcore *s, uint64_t id);

/* ---- what to do now ---- */

enum schedcore_what {
	SCHEDCORE_IDLE = 0, /* nothing to do now */
	SCHEDCORE_START,    /* start an attempt at this message */
	SCHEDCORE_EXPIRE,   /* this message expired: log it, remove it */
};

struct schedcore_event {
	enum schedcore_what what;
	uint64_t id;	  /* START, EXPIRE */
	uint32_t dest;	  /* START, EXPIRE */
	unsigned attempt; /* START: this attempt's number (1 = first); EXPIRE: attempts made */
	int test;	  /* START, EXPIRE */
	time_t created;	  /* START, EXPIRE */
	time_t deadline;  /* START, EXPIRE */
	/* IDLE: call again at this time (> now) at the latest; 0 = no timer
	 * is set, nothing will change until another call (add, report,
	 * throttle, policy). */
	time_t wake;
};

/*
 * The next thing to do at now.  Expired messages come first: all whose
 * deadline has come are handed out (each once; it leaves the core) before
 * anything starts.  Then a message to start, if the global cap has room:
 * test sends before bulk, across all destinations; among destinations
 * that have due work, a free slot in their window, no pause and a rate
 * token, one message from each in turn (round robin); within one, the
 * oldest due first.  The message becomes INFLIGHT and its attempt is
 * counted.  Otherwise IDLE, with the time something will change.
 *
 * The caller loops: call until IDLE, then sleep until `wake`, a report,
 * new mail or a signal, whichever comes first, and call again.
 */
enum schedcore_what schedcore_next(struct schedcore *s, time_t now, struct schedcore_event *ev);

/* ---- outcomes ---- */

enum schedcore_outcome {
	SCHEDCORE_DELIVERED, /* 2xx: final */
	SCHEDCORE_DEFERRED,  /* 4xx, no connection, timeout, a remote that died */
	SCHEDCORE_FAILED,    /* 5xx, NXDOMAIN, null MX: final (bounced) */
};

enum schedcore_fate {
	SCHEDCORE_FATE_DELIVERED, /* left the core */
	SCHEDCORE_FATE_FAILED,	  /* left the core: hand it to bounce */
	SCHEDCORE_FATE_RETRY,	  /* WAITING until next_attempt */
	SCHEDCORE_FATE_EXPIRED,	  /* left the core: the next attempt would be too late */
};

struct schedcore_result {
	enum schedcore_fate fate;
	uint32_t dest;
	unsigned attempts;   /* attempts made so far */
	time_t next_attempt; /* RETRY */
	time_t deadline;
	int throttled;	    /* this report began a throttle episode */
	unsigned window;    /* the destination's window now */
	time_t pause_until; /* and its pause */
};

/*
 * The outcome of an attempt at message id, which must be INFLIGHT.
 *
 * DELIVERED and FAILED are final.  Each is also a success for the
 * destination (it answered): the window grows by 1 up to the cap and the
 * backoff is reset -- unless the attempt started before the destination's
 * last throttle signal (its news is stale).
 *
 * DEFERRED: when throttle is set, the destination gets a throttle signal
 * as schedcore_throttle() describes, except that an attempt started
 * before the last signal belongs to that signal's episode.  The next
 * attempt is at now + the retry schedule's delay for this attempt number,
 * spread by +-jitter_percent; or, when retry_after >= 0 (the server's
 * hint, seconds), at now + retry_after, raised to the schedule's shortest
 * delay and capped at SCHEDCORE_RETRY_HINT_MAX, spread by 0..+jitter
 * (never earlier than asked).  A next attempt at or after the deadline
 * makes the message EXPIRED instead (fate EXPIRED; it leaves the core).
 *
 * text (may be NULL; a server's reply or remote's reason) becomes the
 * destination's last error for DEFERRED and FAILED: at most
 * SCHEDCORE_ERROR_MAX bytes, cut at a UTF-8 character boundary, control
 * bytes replaced by '?'.  throttle is ignored for DELIVERED and FAILED.
 *
 * Returns 0 with *res filled in, or -1 (unknown id, not in flight, bad
 * outcome) with nothing changed.
 */
int schedcore_report(struct schedcore *s, uint64_t id, time_t now, enum schedcore_outcome outcome,
		     long long retry_after, int throttle, const char *text,
		     struct schedcore_result *res);

/*
 * Takes back an INFLIGHT message that was never attempted (sched could
 * not start a remote, or is shutting down before handing it over): READY
 * again at the head of its destination's queue, its attempt uncounted,
 * no feedback to the destination, its rate token not refunded.
 * Returns 0 or -1.
 */
int schedcore_unstart(struct schedcore *s, uint64_t id, time_t now);

/*
 * SIGALRM: every WAITING message is due now (READY), in an unspecified
 * but deterministic order; test sends still go first.  Destination pauses
 * and windows are left alone: they are what the destination asked of us,
 * not our own schedule (schedcore_dest_resume() overrides those).
 * Returns the number of messages made due.  O(n).
 */
size_t schedcore_retry_all_now(struct schedcore *s, time_t now);

/* ---- statistics and checks ---- */

struct schedcore_stats {
	size_t messages; /* all held: ready + waiting + inflight + expired */
	size_t ready, waiting, inflight, expired;
	size_t dests;
	size_t bytes; /* memory the core has allocated, all of it */
};

void schedcore_stats(const struct schedcore *s, struct schedcore_stats *out);

/*
 * Checks every internal invariant (heap order and positions, queue
 * links, counters, which destinations are in the round-robin rings and
 * timers and why).  NULL when all hold, else a fixed text naming the
 * first that does not.  O(n); for tests and the fuzz target.
 */
const char *schedcore_check(const struct schedcore *s);

#endif
