/*
 * test_schedcore - unit tests for lib/schedcore.c and lib/schedstore.c:
 * the scheduler's policy, run against a simulated clock.
 *
 * No real time is involved except where speed itself is measured (the
 * last test, which prints bytes per queued message and operations per
 * second).  Randomness comes from fixed seeds, so every run is the same
 * run.  After most steps the core's own invariant checker runs as well.
 *
 * Under valgrind (MAILSHOT_VALGRIND set by tests/run-unit, or valgrind's
 * preload library in LD_PRELOAD) the speed bound is not checked.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "schedcore.h"
#include "schedstore.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define T0 ((time_t)1764000000)

static int under_valgrind;

#define CHECK_CORE(s)                                                                              \
	do {                                                                                       \
		const char *check_why_ = schedcore_check(s);                                       \
		if (check_why_ != NULL)                                                            \
			fprintf(stderr, "%s:%d: invariant: %s\n", __FILE__, __LINE__, check_why_); \
		CHECK(check_why_ == NULL);                                                         \
	} while (0)

static struct schedcore *
core_new(unsigned max_inflight, unsigned jitter, uint64_t seed)
{
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	cfg.max_inflight = max_inflight;
	cfg.jitter_percent = jitter;
	cfg.seed = seed;
	const char *why = NULL;
	struct schedcore *s = schedcore_new(&cfg, T0, &why);
	if (s == NULL) {
		fprintf(stderr, "schedcore_new: %s\n", why);
		exit(1);
	}
	return s;
}

static uint32_t
dest(struct schedcore *s, const char *name)
{
	uint32_t d = SCHEDCORE_NO_DEST;
	if (schedcore_dest_intern(s, name, &d) < 0) {
		fprintf(stderr, "cannot intern %s\n", name);
		exit(1);
	}
	return d;
}

static int
add(struct schedcore *s, uint64_t id, uint32_t d, time_t now, time_t expires, time_t next, int test)
{
	struct schedcore_msg m = {id, d, now, expires, next, 0, test};
	return schedcore_add(s, &m, now);
}

/* The next START at now, or 0 (and a message) when something else came. */
static uint64_t
start(struct schedcore *s, time_t now)
{
	struct schedcore_event ev;
	enum schedcore_what w = schedcore_next(s, now, &ev);
	if (w != SCHEDCORE_START) {
		fprintf(stderr, "expected a start at %lld, got %d\n", (long long)(now - T0), w);
		return 0;
	}
	return ev.id;
}

static int
report(struct schedcore *s, uint64_t id, time_t now, enum schedcore_outcome o, long long hint,
       int throttle, struct schedcore_result *res)
{
	struct schedcore_result dummy;
	return schedcore_report(s, id, now, o, hint, throttle, "4.7.0 try later",
				res ? res : &dummy);
}

static struct schedcore_dest_info
info(struct schedcore *s, uint32_t d)
{
	struct schedcore_dest_info i;
	memset(&i, 0, sizeof i);
	CHECK_INT_EQ(schedcore_dest_info(s, d, &i), 0);
	return i;
}

/* ---- control/retry ---- */

static void
retry_ok(const char *text, unsigned count, const long *want)
{
	struct schedcore_retry r;
	struct buf err = BUF_INIT;
	int rc = schedcore_retry_parse(text, strlen(text), "retry", &r, &err);
	if (rc != 0)
		fprintf(stderr, "retry \"%s\": %s\n", text, buf_cstr(&err));
	CHECK_INT_EQ(rc, 0);
	if (rc == 0) {
		CHECK_INT_EQ(r.count, count);
		for (unsigned i = 0; i < count && i < r.count; i++)
			CHECK_INT_EQ(r.delay[i], want[i]);
	}
	buf_free(&err);
}

static void
retry_bad_len(const char *text, size_t len, const char *want_prefix)
{
	struct schedcore_retry r;
	memset(&r, 0x5a, sizeof r);
	struct schedcore_retry before = r;
	struct buf err = BUF_INIT;
	int rc = schedcore_retry_parse(text, len, "retry", &r, &err);
	CHECK_INT_EQ(rc, -1);
	if (strncmp(buf_cstr(&err), want_prefix, strlen(want_prefix)) != 0)
		fprintf(stderr, "retry: error \"%s\", expected to start \"%s\"\n", buf_cstr(&err),
			want_prefix);
	CHECK(strncmp(buf_cstr(&err), want_prefix, strlen(want_prefix)) == 0);
	CHECK(memcmp(&r, &before, sizeof r) == 0); /* untouched */
	/* The message is printable ASCII, one line. */
	int clean = 1;
	for (const char *p = buf_cstr(&err); *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			clean = 0;
	CHECK(clean);
	buf_free(&err);
}

static void
retry_bad(const char *text, const char *want_prefix)
{
	retry_bad_len(text, strlen(text), want_prefix);
}

static void
test_retry_parse(void)
{
	static const long def[] = {300, 600, 1200, 2400, 3600};
	struct schedcore_retry d;
	schedcore_retry_default(&d);
	CHECK_INT_EQ(d.count, 5);
	for (unsigned i = 0; i < 5; i++)
		CHECK_INT_EQ(d.delay[i], def[i]);

	retry_ok("5m 10m 20m 40m 1h", 5, def);
	retry_ok("5m\n10m\n20m\n40m\n1h\n", 5, def);
	retry_ok("# control/retry\n5m 10m   # quick first\n\t20m\t40m\r\n\n1h", 5, def);
	retry_ok("5m#comment\n10m 20m 40m 1h", 5, def);
	static const long one[] = {1};
	retry_ok("1", 1, one);
	static const long mixed[] = {90, 5400, 604800};
	retry_ok("90 1h30m 7d", 3, mixed);
	char many[64 * 4 + 1] = "";
	long many_want[64];
	for (int i = 0; i < 64; i++) {
		strcat(many, "1m ");
		many_want[i] = 60;
	}
	retry_ok(many, 64, many_want);

	retry_bad("", "retry:1: no retry interval");
	retry_bad("# nothing\n\n   \n", "retry:3: no retry interval");
	retry_bad("0", "retry:1: \"0\": a retry interval is 1s to 7d");
	retry_bad("5m\n0s", "retry:2: \"0s\"");
	retry_bad("7d1s", "retry:1: \"7d1s\": a retry interval is 1s to 7d");
	retry_bad("2w", "retry:1: \"2w\"");
	retry_bad("5x", "retry:1: \"5x\": unknown unit");
	retry_bad("-5m", "retry:1: \"-5m\"");
	retry_bad("5M", "retry:1: \"5M\"");
	retry_bad("1.5h", "retry:1: \"1.5h\"");
	retry_bad("1h1h", "retry:1: \"1h1h\"");
	retry_bad("5m,10m", "retry:1: \"5m,10m\"");
	retry_bad("5m 10m\n20m\nabc", "retry:3: \"abc\"");
	retry_bad("99999999999999999999999999999999999999999999999",
		  "retry:1: \"99999999999999999999999999999999...\"");
	retry_bad("9223372036854775807", "retry:1: \"9223372036854775807\": duration too long");
	retry_bad("5m\r10m", "retry:1: control character");
	retry_bad("5m\x01", "retry:1: control character");
	retry_bad("5m\x7f", "retry:1: control character");
	retry_bad("\xc3\xa9m", "retry:1: \"??m\"");
	retry_bad("5m \"x\"", "retry:1: \"?x?\"");
	retry_bad_len("5m\0 10m", 7, "retry:1: NUL byte");
	retry_bad_len("5m\n\0", 4, "retry:2: NUL byte");
	strcat(many, "1m");
	retry_bad(many, "retry:1: more than 64 retry intervals");
	char *longline = malloc(2000);
	memset(longline, ' ', 1999);
	longline[0] = '5';
	longline[1] = 'm';
	longline[1999] = '\0';
	retry_bad(longline, "retry:1: line longer than 1024 bytes");
	longline[1024] = '\n';
	retry_ok(longline, 1, def); /* exactly 1024 is fine */
	free(longline);
}

/* ---- configuration and destinations ---- */

static void
test_config(void)
{
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	CHECK(schedcore_config_check(&cfg) == NULL);
	CHECK_INT_EQ(cfg.max_inflight, 100);
	CHECK_INT_EQ(cfg.default_concurrency, 10);
	CHECK_INT_EQ(cfg.queue_lifetime, 2 * 86400);

	CHECK_INT_EQ(cfg.pause_min, SCHEDCORE_PAUSE_MIN);
	CHECK_INT_EQ(cfg.pause_max, SCHEDCORE_PAUSE_MAX);

	struct schedcore_config bad = cfg;
	bad.max_inflight = 0;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.pause_min = 0;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.pause_min = 100, bad.pause_max = 99;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.pause_max = 86401;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.pause_min = bad.pause_max = 86400;
	CHECK(schedcore_config_check(&bad) == NULL);
	bad = cfg;
	bad.max_inflight = SCHEDCORE_INFLIGHT_MAX + 1;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.queue_lifetime = 0;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.jitter_percent = 51;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.retry.count = 0;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.retry.delay[2] = 0;
	CHECK(schedcore_config_check(&bad) != NULL);
	bad = cfg;
	bad.default_concurrency = 0;
	const char *why = NULL;
	CHECK(schedcore_new(&bad, T0, &why) == NULL);
	CHECK(why != NULL);

	struct schedcore *s = core_new(100, 10, 1);
	why = NULL;
	CHECK_INT_EQ(schedcore_reconfigure(s, &bad, T0, &why), -1);
	CHECK(why != NULL);
	schedcore_free(s);
	schedcore_free(NULL);
}

static void
test_dests(void)
{
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	cfg.max_dests = 3;
	struct schedcore *s = schedcore_new(&cfg, T0, NULL);
	uint32_t a = 99, b = 99, c = 99;
	CHECK_INT_EQ(schedcore_dest_intern(s, "Example.COM", &a), 1);
	CHECK_INT_EQ(schedcore_dest_intern(s, "example.com", &b), 0);
	CHECK_INT_EQ(a, b);
	CHECK_INT_EQ(schedcore_dest_intern(s, "[127.0.0.1]:2525", &c), 1);
	CHECK(c != a);
	struct schedcore_dest_info i = info(s, a);
	CHECK_STR_EQ(i.name, "example.com");
	CHECK_INT_EQ(i.concurrency, 10);
	CHECK_INT_EQ(i.window, SCHEDCORE_WINDOW_START);
	CHECK_STR_EQ(i.last_error, "");
	uint32_t x = 77;
	CHECK_INT_EQ(schedcore_dest_intern(s, "", &x), -1);
	CHECK_INT_EQ(schedcore_dest_intern(s, "a b", &x), -1);
	CHECK_INT_EQ(schedcore_dest_intern(s, "a\nb", &x), -1);
	CHECK_INT_EQ(schedcore_dest_intern(s, "caf\xc3\xa9.fr", &x), -1);
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	CHECK_INT_EQ(schedcore_dest_intern(s, longname, &x), -1);
	longname[SCHEDCORE_NAME_MAX] = '\0';
	CHECK_INT_EQ(schedcore_dest_intern(s, longname, &x), 1);	  /* 255: fine, third */
	CHECK_INT_EQ(schedcore_dest_intern(s, "fourth.example", &x), -1); /* max_dests */
	CHECK_INT_EQ(x, 2);
	CHECK_INT_EQ(schedcore_dest_count(s), 3);
	CHECK_INT_EQ(schedcore_dest_info(s, 3, &i), -1);
	CHECK_INT_EQ(schedcore_dest_policy(s, 3, 5, 0, T0), -1);
	CHECK_INT_EQ(schedcore_throttle(s, 3, T0, -1, NULL), -1);
	CHECK_INT_EQ(schedcore_dest_resume(s, 3, T0), -1);

	/* Policy: clamped; a lower cap lowers the window, a higher one does not
	 * raise it. */
	CHECK_INT_EQ(schedcore_dest_policy(s, a, 0, 0, T0), 0);
	CHECK_INT_EQ(info(s, a).concurrency, 1);
	CHECK_INT_EQ(info(s, a).window, 1);
	CHECK_INT_EQ(schedcore_dest_policy(s, a, 50, 0, T0), 0);
	CHECK_INT_EQ(info(s, a).concurrency, 50);
	CHECK_INT_EQ(info(s, a).window, 1);
	CHECK_INT_EQ(schedcore_dest_policy(s, a, 1000000, 5000000, T0), 0);
	CHECK_INT_EQ(info(s, a).concurrency, SCHEDCORE_INFLIGHT_MAX);
	CHECK_INT_EQ(info(s, a).rate, SCHEDCORE_RATE_MAX);

	/* A new default applies to destinations without a policy of their own. */
	cfg.default_concurrency = 3;
	CHECK_INT_EQ(schedcore_reconfigure(s, &cfg, T0, NULL), 0);
	CHECK_INT_EQ(info(s, c).concurrency, 3);
	CHECK_INT_EQ(info(s, a).concurrency, SCHEDCORE_INFLIGHT_MAX);
	CHECK_CORE(s);
	schedcore_free(s);
}

/* ---- messages: add, lookup, errors ---- */

static void
test_messages(void)
{
	struct schedcore *s = core_new(100, 10, 2);
	uint32_t a = dest(s, "a.example");
	CHECK_INT_EQ(add(s, 1, a, T0, 0, 0, 0), SCHEDCORE_ADDED);
	CHECK_INT_EQ(add(s, 1, a, T0, 0, 0, 0), SCHEDCORE_DUPLICATE);
	CHECK_INT_EQ(add(s, 2, 5, T0, 0, 0, 0), SCHEDCORE_BAD_DEST);
	CHECK_INT_EQ(add(s, 3, a, T0, 0, T0 + 600, 0), SCHEDCORE_ADDED);
	struct schedcore_msg_info mi;
	CHECK_INT_EQ(schedcore_lookup(s, 1, &mi), 0);
	CHECK_INT_EQ(mi.state, SCHEDCORE_READY);
	CHECK_INT_EQ(mi.deadline, T0 + 2 * 86400);
	CHECK_INT_EQ(schedcore_lookup(s, 3, &mi), 0);
	CHECK_INT_EQ(mi.state, SCHEDCORE_WAITING);
	CHECK_INT_EQ(mi.next_attempt, T0 + 600);
	CHECK_INT_EQ(schedcore_lookup(s, 2, &mi), -1);

	/* Reports about what is not in flight change nothing. */
	struct schedcore_result res;
	CHECK_INT_EQ(report(s, 1, T0, SCHEDCORE_DELIVERED, -1, 0, &res), -1);
	CHECK_INT_EQ(report(s, 42, T0, SCHEDCORE_DELIVERED, -1, 0, &res), -1);
	CHECK_INT_EQ(schedcore_unstart(s, 1, T0), -1);
	CHECK_CORE(s);

	CHECK_INT_EQ(start(s, T0), 1);
	CHECK_INT_EQ(schedcore_lookup(s, 1, &mi), 0);
	CHECK_INT_EQ(mi.state, SCHEDCORE_INFLIGHT);
	CHECK_INT_EQ(mi.attempts, 1);
	CHECK_INT_EQ(schedcore_cancel(s, 1), -1); /* in flight */
	CHECK_INT_EQ(schedcore_report(s, 1, T0, (enum schedcore_outcome)7, -1, 0, NULL, &res), -1);
	CHECK_INT_EQ(schedcore_lookup(s, 1, &mi), 0);
	CHECK_INT_EQ(mi.state, SCHEDCORE_INFLIGHT);

	/* unstart: back at the head of the queue, the attempt uncounted. */
	CHECK_INT_EQ(add(s, 4, a, T0, 0, 0, 0), SCHEDCORE_ADDED);
	CHECK_INT_EQ(schedcore_unstart(s, 1, T0), 0);
	CHECK_INT_EQ(schedcore_lookup(s, 1, &mi), 0);
	CHECK_INT_EQ(mi.state, SCHEDCORE_READY);
	CHECK_INT_EQ(mi.attempts, 0);
	CHECK_INT_EQ(start(s, T0), 1);
	CHECK_INT_EQ(start(s, T0), 4);
	CHECK_INT_EQ(report(s, 1, T0 + 1, SCHEDCORE_DELIVERED, -1, 0, &res), 0);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_DELIVERED);
	CHECK_INT_EQ(res.attempts, 1);
	CHECK_INT_EQ(schedcore_lookup(s, 1, &mi), -1);
	CHECK_INT_EQ(report(s, 1, T0 + 1, SCHEDCORE_DELIVERED, -1, 0, &res), -1); /* twice */
	CHECK_INT_EQ(report(s, 4, T0 + 1, SCHEDCORE_FAILED, -1, 0, &res), 0);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_FAILED);

	/* cancel a waiting one; restart with attempts carried over. */
	CHECK_INT_EQ(schedcore_cancel(s, 3), 0);
	CHECK_INT_EQ(schedcore_cancel(s, 3), -1);
	struct schedcore_msg m = {5, a, T0, 0, 0, 3, 0};
	CHECK_INT_EQ(schedcore_add(s, &m, T0 + 1), SCHEDCORE_ADDED);
	struct schedcore_event ev;
	CHECK_INT_EQ(schedcore_next(s, T0 + 1, &ev), SCHEDCORE_START);
	CHECK_INT_EQ(ev.attempt, 4);
	CHECK_INT_EQ(report(s, 5, T0 + 2, SCHEDCORE_DEFERRED, -1, 0, &res), 0);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_RETRY);
	CHECK(res.next_attempt >= T0 + 2 + 2400 - 240 && res.next_attempt <= T0 + 2 + 2400 + 240);

	struct schedcore_stats st;
	schedcore_stats(s, &st);
	CHECK_INT_EQ(st.messages, 1);
	CHECK_INT_EQ(st.waiting, 1);
	CHECK_INT_EQ(st.dests, 1);
	CHECK_CORE(s);

	/* max_messages */
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	cfg.max_messages = 2;
	CHECK_INT_EQ(schedcore_reconfigure(s, &cfg, T0 + 2, NULL), 0);
	CHECK_INT_EQ(add(s, 6, a, T0 + 2, 0, 0, 0), SCHEDCORE_ADDED);
	CHECK_INT_EQ(add(s, 7, a, T0 + 2, 0, 0, 0), SCHEDCORE_FULL);
	CHECK_CORE(s);
	schedcore_free(s);
}

/* ---- the retry schedule and its jitter ---- */

static void
test_retry_schedule(void)
{
	/* Without jitter: exactly the schedule, the last entry repeating. */
	struct schedcore *s = core_new(100, 0, 3);
	uint32_t a = dest(s, "a.example");
	time_t now = T0;
	CHECK_INT_EQ(add(s, 1, a, now, 0, 0, 0), SCHEDCORE_ADDED);
	static const long want[] = {300, 600, 1200, 2400, 3600, 3600, 3600};
	for (int i = 0; i < 7; i++) {
		struct schedcore_event ev;
		CHECK_INT_EQ(schedcore_next(s, now, &ev), SCHEDCORE_START);
		CHECK_INT_EQ(ev.attempt, i + 1);
		CHECK_INT_EQ(schedcore_next(s, now, &ev), SCHEDCORE_IDLE);
		CHECK_INT_EQ(ev.wake, 0); /* only the report can change anything */
		struct schedcore_result res;
		CHECK_INT_EQ(report(s, 1, now + 10, SCHEDCORE_DEFERRED, -1, 0, &res), 0);
		CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_RETRY);
		CHECK_INT_EQ(res.next_attempt - (now + 10), want[i]);
		CHECK_INT_EQ(res.attempts, i + 1);
		/* Not a second early; wake says exactly when. */
		CHECK_INT_EQ(schedcore_next(s, res.next_attempt - 1, &ev), SCHEDCORE_IDLE);
		CHECK_INT_EQ(ev.wake, res.next_attempt);
		now = res.next_attempt;
		CHECK_CORE(s);
	}
	schedcore_free(s);

	/* With 10% jitter: within bounds, and spread over both sides. */
	s = core_new(10000, 10, 4);
	a = dest(s, "a.example");
	CHECK_INT_EQ(schedcore_dest_policy(s, a, SCHEDCORE_INFLIGHT_MAX, 0, T0), 0);
	long lo[5], hi[5];
	for (int k = 0; k < 5; k++)
		lo[k] = 1L << 30, hi[k] = 0;
	int in_bounds = 1;
	for (uint64_t id = 1; id <= 2000; id++)
		add(s, id, a, T0, 0, 0, 0);
	for (int round = 0; round < 5; round++) {
		/* Run every message once, defer it, step past the latest retry. */
		time_t now2 = T0 + round * 10000;
		struct schedcore_event ev;
		int n = 0;
		while (schedcore_next(s, now2, &ev) == SCHEDCORE_START) {
			n++;
			struct schedcore_result res;
			report(s, ev.id, now2, SCHEDCORE_DEFERRED, -1, 0, &res);
			long d = (long)(res.next_attempt - now2);
			long base = want[round];
			if (d < base - base / 10 || d > base + base / 10)
				in_bounds = 0;
			if (d < lo[round])
				lo[round] = d;
			if (d > hi[round])
				hi[round] = d;
		}
		CHECK_INT_EQ(n, 2000);
	}
	CHECK(in_bounds);
	for (int k = 0; k < 5; k++) {
		CHECK(lo[k] < want[k] - want[k] / 20); /* both halves of the range seen */
		CHECK(hi[k] > want[k] + want[k] / 20);
	}
	CHECK_CORE(s);
	schedcore_free(s);

	/* The same seed gives the same delays. */
	time_t first[2];
	for (int k = 0; k < 2; k++) {
		s = core_new(100, 10, 77);
		a = dest(s, "a.example");
		add(s, 1, a, T0, 0, 0, 0);
		start(s, T0);
		struct schedcore_result res;
		report(s, 1, T0, SCHEDCORE_DEFERRED, -1, 0, &res);
		first[k] = res.next_attempt;
		schedcore_free(s);
	}
	CHECK_INT_EQ(first[0], first[1]);
}

/* ---- expiry: soft, never a bounce ---- */

static void
test_expiry(void)
{
	struct schedcore_result res;
	struct schedcore_event ev;
	struct schedcore_msg_info mi;

	/* Queue lifetime: deferred again and again until the next attempt
	 * would fall after created + 2 days; then EXPIRED, not FAILED. */
	struct schedcore *s = core_new(100, 10, 5);
	uint32_t a = dest(s, "a.example");
	add(s, 1, a, T0, 0, 0, 0);
	time_t now = T0;
	int attempts = 0, never_late = 1;
	for (;;) {
		CHECK_INT_EQ(schedcore_next(s, now, &ev), SCHEDCORE_START);
		attempts++;
		if (now >= T0 + 2 * 86400)
			never_late = 0;
		CHECK_INT_EQ(report(s, 1, now, SCHEDCORE_DEFERRED, -1, 0, &res), 0);
		if (res.fate != SCHEDCORE_FATE_RETRY)
			break;
		if (res.next_attempt >= T0 + 2 * 86400)
			never_late = 0;
		now = res.next_attempt;
	}
	CHECK(never_late);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_EXPIRED);
	CHECK_INT_EQ(res.deadline, T0 + 2 * 86400);
	CHECK(attempts >= 45 && attempts <= 56); /* 5 quick ones, then ~hourly: ~51 */
	CHECK_INT_EQ(info(s, a).expired, 1);
	CHECK_INT_EQ(info(s, a).failed, 0);
	CHECK_INT_EQ(schedcore_lookup(s, 1, &mi), -1);
	CHECK_CORE(s);

	/* Campaign deadline: the earlier one wins. */
	add(s, 2, a, now, now + 1000, 0, 0);
	CHECK_INT_EQ(start(s, now), 2);
	CHECK_INT_EQ(report(s, 2, now + 100, SCHEDCORE_DEFERRED, -1, 0, &res), 0);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_RETRY); /* 5 min: before the deadline */
	CHECK_INT_EQ(res.deadline, now + 1000);
	time_t t = res.next_attempt;
	CHECK_INT_EQ(start(s, t), 2);
	CHECK_INT_EQ(report(s, 2, t + 10, SCHEDCORE_DEFERRED, -1, 0, &res), 0);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_EXPIRED); /* 10 min would be too late */

	/* A deadline that passes while the message waits its turn (here:
	 * its destination is paused) expires it without an attempt. */
	now = t + 1000;
	uint32_t b = dest(s, "b.example");
	CHECK_INT_EQ(schedcore_throttle(s, b, now, 1800, "421 slow down"), 1);
	add(s, 3, b, now, now + 100, 0, 0);
	add(s, 4, b, now, now + 5000, now + 200, 0); /* waiting: deadline later */
	CHECK_INT_EQ(schedcore_next(s, now + 50, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(ev.wake, now + 100);
	CHECK_INT_EQ(schedcore_next(s, now + 100, &ev), SCHEDCORE_EXPIRE);
	CHECK_INT_EQ(ev.id, 3);
	CHECK_INT_EQ(ev.attempt, 0);
	CHECK_INT_EQ(ev.deadline, now + 100);
	CHECK_INT_EQ(schedcore_next(s, now + 100, &ev), SCHEDCORE_IDLE);
	CHECK_CORE(s);

	/* Queued after its deadline: expired at once, before any start. */
	add(s, 5, a, now, now - 1, 0, 0);
	add(s, 6, a, now, 0, 0, 0);
	CHECK_INT_EQ(schedcore_next(s, now + 100, &ev), SCHEDCORE_EXPIRE);
	CHECK_INT_EQ(ev.id, 5);
	CHECK_INT_EQ(start(s, now + 100), 6);
	report(s, 6, now + 100, SCHEDCORE_DELIVERED, -1, 0, NULL);

	/* Expired ones are handed out even when the global cap is full. */
	struct schedcore *s2 = core_new(1, 0, 6);
	uint32_t c = dest(s2, "c.example");
	add(s2, 10, c, T0, 0, 0, 0);
	add(s2, 11, c, T0, T0 + 10, 0, 0);
	CHECK_INT_EQ(start(s2, T0), 10);
	CHECK_INT_EQ(schedcore_next(s2, T0 + 5, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(ev.wake, T0 + 10);
	CHECK_INT_EQ(schedcore_next(s2, T0 + 10, &ev), SCHEDCORE_EXPIRE);
	CHECK_INT_EQ(ev.id, 11);
	CHECK_CORE(s2);

	/* SIGHUP with a shorter queue lifetime expires what is now too old. */
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	cfg.max_inflight = 1;
	add(s2, 12, c, T0 + 10, 0, T0 + 4000, 0);
	add(s2, 13, c, T0 + 10, 0, 0, 0);
	cfg.queue_lifetime = 3600;
	CHECK_INT_EQ(schedcore_reconfigure(s2, &cfg, T0 + 3000, NULL), 0);
	CHECK_CORE(s2);
	CHECK_INT_EQ(schedcore_lookup(s2, 12, &mi), 0);
	CHECK_INT_EQ(schedcore_next(s2, T0 + 3610, &ev), SCHEDCORE_EXPIRE);
	CHECK_INT_EQ(schedcore_next(s2, T0 + 3610, &ev), SCHEDCORE_EXPIRE);
	CHECK_INT_EQ(schedcore_next(s2, T0 + 3610, &ev), SCHEDCORE_IDLE);
	/* the one in flight is not expired under it: its outcome decides */
	CHECK_INT_EQ(report(s2, 10, T0 + 3610, SCHEDCORE_DELIVERED, -1, 0, &res), 0);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_DELIVERED);
	CHECK_CORE(s2);
	schedcore_free(s2);
	schedcore_free(s);
}

/* ---- the server's retry hint ---- */

static void
test_retry_after(void)
{
	struct schedcore_result res;
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	cfg.queue_lifetime = 10L * 86400;
	cfg.seed = 8;
	struct schedcore *s = schedcore_new(&cfg, T0, NULL);
	uint32_t a = dest(s, "a.example");
	for (uint64_t id = 1; id <= 5; id++)
		add(s, id, a, T0, 0, 0, 0);
	CHECK_INT_EQ(schedcore_dest_policy(s, a, 10, 0, T0), 0);
	/* "try again in 10 minutes" at the first attempt: 10 min, not 5,
	 * and never earlier than asked (jitter only adds). */
	CHECK_INT_EQ(start(s, T0), 1);
	report(s, 1, T0, SCHEDCORE_DEFERRED, 600, 0, &res);
	CHECK(res.next_attempt >= T0 + 600 && res.next_attempt <= T0 + 660);
	/* A hint below our shortest interval is raised to it. */
	CHECK_INT_EQ(start(s, T0), 2);
	report(s, 2, T0, SCHEDCORE_DEFERRED, 5, 0, &res);
	CHECK(res.next_attempt >= T0 + 300 && res.next_attempt <= T0 + 330);
	/* 0 is a hint too ("try again now"): the shortest interval. */
	CHECK_INT_EQ(start(s, T0), 3);
	report(s, 3, T0, SCHEDCORE_DEFERRED, 0, 0, &res);
	CHECK(res.next_attempt >= T0 + 300 && res.next_attempt <= T0 + 330);
	/* A huge one is capped at a day. */
	CHECK_INT_EQ(start(s, T0), 4);
	report(s, 4, T0, SCHEDCORE_DEFERRED, 30L * 86400, 0, &res);
	CHECK(res.next_attempt >= T0 + SCHEDCORE_RETRY_HINT_MAX &&
	      res.next_attempt <= T0 + SCHEDCORE_RETRY_HINT_MAX * 11 / 10);
	/* One that reaches past the deadline expires the message now. */
	struct schedcore_msg m = {6, a, T0, T0 + 3600, 0, 0, 0};
	schedcore_add(s, &m, T0);
	uint64_t id;
	while ((id = start(s, T0)) != 6 && id != 0)
		report(s, id, T0, SCHEDCORE_DELIVERED, -1, 0, NULL);
	report(s, 6, T0, SCHEDCORE_DEFERRED, 7200, 0, &res);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_EXPIRED);
	/* No hint: the schedule (10m after the second attempt of #2). */
	CHECK_CORE(s);
	schedcore_free(s);
}

/* ---- adaptive window, pauses, backoff ---- */

/* control/pausemin and pausemax: the backoff's bounds are settings. */
static void
test_pause_settings(void)
{
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	cfg.pause_min = 2;
	cfg.pause_max = 7;
	struct schedcore *s = schedcore_new(&cfg, T0, NULL);
	uint32_t a;
	schedcore_dest_intern(s, "a.example", &a);
	time_t now = T0;
	long want[] = {2, 4, 7, 7};
	for (int i = 0; i < 4; i++) {
		CHECK_INT_EQ(schedcore_throttle(s, a, now, -1, "421"), 1);
		CHECK_INT_EQ(info(s, a).pause_until - now, want[i]);
		now = info(s, a).pause_until;
	}
	/* A hint longer than the backoff still wins. */
	now += 1;
	CHECK_INT_EQ(schedcore_throttle(s, a, now, 50, "421"), 1);
	CHECK_INT_EQ(info(s, a).pause_until - now, 50);
	/* SIGHUP with new bounds: the next episode uses them. */
	cfg.pause_min = 3;
	cfg.pause_max = 3;
	CHECK_INT_EQ(schedcore_reconfigure(s, &cfg, now, NULL), 0);
	now = info(s, a).pause_until;
	CHECK_INT_EQ(schedcore_throttle(s, a, now, -1, "421"), 1);
	CHECK_INT_EQ(info(s, a).pause_until - now, 3);
	CHECK(schedcore_check(s) == NULL);
	schedcore_free(s);
}

static void
test_throttle(void)
{
	struct schedcore_result res;
	struct schedcore_event ev;
	struct schedcore *s = core_new(100, 0, 9);
	uint32_t a = dest(s, "a.example");
	time_t now = T0;
	for (uint64_t id = 1; id <= 200; id++)
		add(s, id, a, now, 0, 0, 0);
	/* Slow start: 2 at first, +1 per success up to the cap of 10. */
	CHECK_INT_EQ(info(s, a).window, 2);
	uint64_t x = start(s, now), y = start(s, now);
	CHECK(x != 0 && y != 0);
	CHECK_INT_EQ(schedcore_next(s, now, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(ev.wake, T0 + 2 * 86400); /* the earliest deadline: nothing sooner */
	report(s, x, now, SCHEDCORE_DELIVERED, -1, 0, &res);
	CHECK_INT_EQ(res.window, 3);
	report(s, y, now, SCHEDCORE_DELIVERED, -1, 0, &res);
	CHECK_INT_EQ(res.window, 4);
	int step_ok = 1;
	for (unsigned w = 5; w <= 14; w++) {
		uint64_t z = start(s, now);
		report(s, z, now, SCHEDCORE_FAILED, -1, 0, &res); /* an answer too */
		if (res.window != (w < 10 ? w : 10))
			step_ok = 0;
	}
	CHECK(step_ok);
	CHECK_INT_EQ(info(s, a).window, 10);

	/* Ten in flight; the server answers 421 on every connection. */
	uint64_t held[10];
	for (int i = 0; i < 10; i++)
		held[i] = start(s, now);
	CHECK_INT_EQ(schedcore_next(s, now, &ev), SCHEDCORE_IDLE);
	now += 5;
	report(s, held[0], now, SCHEDCORE_DEFERRED, -1, 1, &res);
	CHECK_INT_EQ(res.throttled, 1);
	CHECK_INT_EQ(res.window, 5);
	CHECK_INT_EQ(res.pause_until, now + SCHEDCORE_PAUSE_MIN);
	for (int i = 1; i < 9; i++) {
		report(s, held[i], now + 1, SCHEDCORE_DEFERRED, -1, 1, &res);
		CHECK_INT_EQ(res.throttled, 0); /* same episode: no more halving */
	}
	CHECK_INT_EQ(info(s, a).window, 5);
	CHECK_INT_EQ(info(s, a).throttles, 1);
	/* A success of an attempt started before the signal is stale news. */
	report(s, held[9], now + 2, SCHEDCORE_DELIVERED, -1, 0, &res);
	CHECK_INT_EQ(res.window, 5);
	/* Paused: nothing starts until the pause is over. */
	CHECK_INT_EQ(schedcore_next(s, now + 59, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(ev.wake, now + 60);
	CHECK_CORE(s);
	now += 60;
	x = start(s, now);
	CHECK(x != 0);
	/* A throttle again: backoff doubles, window halves, down to 1. */
	report(s, x, now, SCHEDCORE_DEFERRED, -1, 1, &res);
	CHECK_INT_EQ(res.throttled, 1);
	CHECK_INT_EQ(res.window, 2);
	CHECK_INT_EQ(res.pause_until, now + 120);
	now += 120;
	long want_backoff[] = {240, 480, 960, 1800, 1800};
	for (int i = 0; i < 5; i++) {
		x = start(s, now);
		report(s, x, now, SCHEDCORE_DEFERRED, -1, 1, &res);
		CHECK_INT_EQ(res.window, 1);
		CHECK_INT_EQ(res.pause_until - now, want_backoff[i]);
		now = res.pause_until;
	}
	/* A success resets the backoff; the window grows one step. */
	x = start(s, now);
	report(s, x, now, SCHEDCORE_DELIVERED, -1, 0, &res);
	CHECK_INT_EQ(res.window, 2);
	CHECK_INT_EQ(info(s, a).backoff, 0);
	x = start(s, now);
	report(s, x, now, SCHEDCORE_DEFERRED, -1, 1, &res);
	CHECK_INT_EQ(res.pause_until - now, SCHEDCORE_PAUSE_MIN);
	CHECK_INT_EQ(res.window, 1);

	/* The server's hint lengthens a pause (capped), never shortens it. */
	now = res.pause_until;
	x = start(s, now);
	report(s, x, now, SCHEDCORE_DEFERRED, 900, 1, &res);
	CHECK_INT_EQ(res.pause_until - now, 900);
	now = res.pause_until;
	x = start(s, now);
	report(s, x, now, SCHEDCORE_DEFERRED, 10, 1, &res);
	CHECK_INT_EQ(res.pause_until - now, 240); /* the backoff, 60 -> 120 -> 240 */
	now = res.pause_until;
	x = start(s, now);
	report(s, x, now, SCHEDCORE_DEFERRED, 86400, 1, &res);
	CHECK_INT_EQ(res.pause_until - now, SCHEDCORE_PAUSE_HINT_MAX);
	/* A signal without a message (the protocol's throttle record) while
	 * paused: same episode, may lengthen the pause to its hint. */
	CHECK_INT_EQ(schedcore_throttle(s, a, now + 10, 7200, "421 busy"), 0);
	CHECK_INT_EQ(info(s, a).pause_until, now + 10 + SCHEDCORE_PAUSE_HINT_MAX);
	CHECK_STR_EQ(info(s, a).last_error, "421 busy");
	/* The operator resumes it. */
	CHECK_INT_EQ(schedcore_dest_resume(s, a, now + 20), 0);
	CHECK_INT_EQ(info(s, a).backoff, 0);
	CHECK(start(s, now + 20) != 0);
	CHECK_INT_EQ(schedcore_throttle(s, a, now + 30, -1, NULL), 1);
	CHECK_INT_EQ(info(s, a).pause_until, now + 30 + SCHEDCORE_PAUSE_MIN);
	CHECK_INT_EQ(schedcore_dest_resume(s, SCHEDCORE_ALL_DESTS, now + 31), 0);
	CHECK_INT_EQ(info(s, a).pause_until, 0);
	/* throttle is ignored for a delivery. */
	struct schedcore_msg_info mi;
	uint64_t z = 0;
	for (uint64_t id = 1; id <= 200; id++)
		if (schedcore_lookup(s, id, &mi) == 0 && mi.state == SCHEDCORE_INFLIGHT)
			z = id;
	CHECK(z != 0);
	report(s, z, now + 32, SCHEDCORE_DELIVERED, -1, 1, &res);
	CHECK_INT_EQ(res.throttled, 0);
	CHECK_INT_EQ(info(s, a).pause_until, 0);
	CHECK_CORE(s);
	schedcore_free(s);
}

/* ---- a simulated network ---- */

#define SIM_DESTS 8

struct sim_job {
	uint64_t id;
	uint32_t dest;
	time_t done;
};

struct sim;
typedef void (*sim_outcome_fn)(struct sim *sim, uint32_t dest, enum schedcore_outcome *o,
			       long long *hint, int *throttle, int *latency);

struct sim {
	struct schedcore *s;
	time_t now;
	uint64_t rng;
	unsigned ndests, global_cap;
	unsigned cap[SIM_DESTS];
	struct sim_job *jobs;
	size_t njobs, jobs_cap;
	size_t inflight[SIM_DESTS], max_inflight[SIM_DESTS], global, max_global;
	size_t remaining[SIM_DESTS];
	time_t last_final[SIM_DESTS];
	size_t delivered, failed, expired, starts, window_broken, check_failed;
	sim_outcome_fn outcome;
};

static uint64_t
sim_rand(struct sim *sim)
{
	sim->rng ^= sim->rng << 13;
	sim->rng ^= sim->rng >> 7;
	sim->rng ^= sim->rng << 17;
	return sim->rng;
}

static void
sim_final(struct sim *sim, uint32_t d)
{
	sim->remaining[d]--;
	sim->last_final[d] = sim->now;
}

/* Starts all the core allows at sim->now; returns the wake time. */
static time_t
sim_start_all(struct sim *sim)
{
	struct schedcore_event ev;
	for (;;) {
		enum schedcore_what w = schedcore_next(sim->s, sim->now, &ev);
		if (w == SCHEDCORE_IDLE)
			return ev.wake;
		if (w == SCHEDCORE_EXPIRE) {
			sim->expired++;
			sim_final(sim, ev.dest);
			continue;
		}
		uint32_t d = ev.dest;
		struct schedcore_dest_info di;
		schedcore_dest_info(sim->s, d, &di);
		sim->inflight[d]++;
		sim->global++;
		sim->starts++;
		/* Counted here, by the simulation, not by the core. */
		if (sim->inflight[d] > di.window || sim->inflight[d] > sim->cap[d] ||
		    sim->global > sim->global_cap)
			sim->window_broken++;
		if (sim->inflight[d] > sim->max_inflight[d])
			sim->max_inflight[d] = sim->inflight[d];
		if (sim->global > sim->max_global)
			sim->max_global = sim->global;
		enum schedcore_outcome o;
		long long hint;
		int throttle, latency;
		sim->outcome(sim, d, &o, &hint, &throttle, &latency);
		if (sim->njobs == sim->jobs_cap) {
			sim->jobs_cap = sim->jobs_cap ? sim->jobs_cap * 2 : 64;
			sim->jobs = realloc(sim->jobs, sim->jobs_cap * sizeof *sim->jobs);
		}
		sim->jobs[sim->njobs++] = (struct sim_job){ev.id, d, sim->now + latency};
	}
}

/* Runs until done() says so or time runs out; returns 1 when done. */
static int
sim_run(struct sim *sim, time_t until, int (*done)(struct sim *))
{
	size_t steps = 0;
	while (!done(sim)) {
		time_t wake = sim_start_all(sim);
		if (++steps % 500 == 0 && schedcore_check(sim->s) != NULL)
			sim->check_failed++;
		if (done(sim))
			break;
		time_t t = wake;
		for (size_t i = 0; i < sim->njobs; i++)
			if (t == 0 || sim->jobs[i].done < t)
				t = sim->jobs[i].done;
		if (t == 0 || t > until)
			return 0;
		if (t > sim->now)
			sim->now = t;
		/* Every job done by now reports, in the order they were started. */
		size_t kept = 0;
		for (size_t i = 0; i < sim->njobs; i++) {
			struct sim_job j = sim->jobs[i];
			if (j.done > sim->now) {
				sim->jobs[kept++] = j;
				continue;
			}
			enum schedcore_outcome o;
			long long hint;
			int throttle, latency;
			sim->outcome(sim, j.dest, &o, &hint, &throttle, &latency);
			struct schedcore_result res;
			if (schedcore_report(sim->s, j.id, sim->now, o, hint, throttle, "simulated",
					     &res) != 0) {
				sim->check_failed++;
				continue;
			}
			sim->inflight[j.dest]--;
			sim->global--;
			switch (res.fate) {
			case SCHEDCORE_FATE_DELIVERED:
				sim->delivered++;
				sim_final(sim, j.dest);
				break;
			case SCHEDCORE_FATE_FAILED:
				sim->failed++;
				sim_final(sim, j.dest);
				break;
			case SCHEDCORE_FATE_EXPIRED:
				sim->expired++;
				sim_final(sim, j.dest);
				break;
			case SCHEDCORE_FATE_RETRY:
				break;
			}
		}
		sim->njobs = kept;
	}
	return 1;
}

static int
sim_all_done(struct sim *sim)
{
	for (unsigned d = 0; d < sim->ndests; d++)
		if (sim->remaining[d] > 0)
			return 0;
	return 1;
}

/* Mostly delivered; some deferred, some failed, some throttled. */
static void
random_outcome(struct sim *sim, uint32_t dest, enum schedcore_outcome *o, long long *hint,
	       int *throttle, int *latency)
{
	unsigned r = (unsigned)(sim_rand(sim) % 100);
	*hint = -1;
	*throttle = 0;
	*latency = 1 + (int)(sim_rand(sim) % 20);
	if (r < 75) {
		*o = SCHEDCORE_DELIVERED;
	} else if (r < 85) {
		*o = SCHEDCORE_DEFERRED;
		if (r == 84)
			*hint = 120;
	} else if (r < 92) {
		*o = SCHEDCORE_FAILED;
	} else {
		*o = SCHEDCORE_DEFERRED;
		*throttle = 1;
	}
}

static void
sim_init(struct sim *sim, unsigned ndests, const unsigned *caps, unsigned global_cap,
	 size_t per_dest, sim_outcome_fn outcome)
{
	memset(sim, 0, sizeof *sim);
	sim->s = core_new(global_cap, 10, 42);
	sim->now = T0;
	sim->rng = 88172645463325252ULL;
	sim->ndests = ndests;
	sim->global_cap = global_cap;
	sim->outcome = outcome;
	uint64_t id = 1;
	for (unsigned d = 0; d < ndests; d++) {
		char name[32];
		snprintf(name, sizeof name, "d%u.example", d);
		uint32_t di = dest(sim->s, name);
		sim->cap[di] = caps[d];
		schedcore_dest_policy(sim->s, di, caps[d], 0, T0);
	}
	/* Interleaved, as a campaign's recipients are. */
	for (size_t i = 0; i < per_dest; i++)
		for (unsigned d = 0; d < ndests; d++) {
			add(sim->s, id++, d, T0, 0, 0, (i % 97) == 0);
			sim->remaining[d]++;
		}
}

static void
test_caps_simulation(void)
{
	static const unsigned caps[] = {1, 3, 10, 20, 50, 100};
	struct sim sim;
	sim_init(&sim, 6, caps, 40, 1000, random_outcome);
	int done = sim_run(&sim, T0 + 3 * 86400, sim_all_done);
	CHECK(done);
	CHECK_INT_EQ(sim.delivered + sim.failed + sim.expired, 6000);
	CHECK_INT_EQ(sim.window_broken, 0);
	CHECK_INT_EQ(sim.check_failed, 0);
	CHECK(sim.max_global <= 40);
	CHECK_INT_EQ(sim.max_global, 40); /* and the cap was actually reached */
	for (unsigned d = 0; d < 6; d++) {
		CHECK(sim.max_inflight[d] <= caps[d]);
		CHECK(sim.max_inflight[d] >= 1);
	}
	CHECK(sim.delivered > 4000);
	CHECK(sim.failed > 300);
	CHECK(sim.starts > 6000);
	CHECK_CORE(sim.s);
	struct schedcore_stats st;
	schedcore_stats(sim.s, &st);
	CHECK_INT_EQ(st.messages, 0);
	printf("schedcore: simulation: 6000 messages, %zu attempts, %zu delivered, %zu failed, "
	       "%zu expired, max %zu in flight, %lld s simulated\n",
	       sim.starts, sim.delivered, sim.failed, sim.expired, sim.max_global,
	       (long long)(sim.now - T0));
	free(sim.jobs);
	schedcore_free(sim.s);
}

/* Destination 0 throttles every attempt; the others deliver. */
static void
throttling_outcome(struct sim *sim, uint32_t dest, enum schedcore_outcome *o, long long *hint,
		   int *throttle, int *latency)
{
	*hint = -1;
	*latency = 1 + (int)(sim_rand(sim) % 5);
	if (dest == 0) {
		*o = SCHEDCORE_DEFERRED;
		*throttle = 1;
	} else {
		*o = SCHEDCORE_DELIVERED;
		*throttle = 0;
	}
}

static int
others_done(struct sim *sim)
{
	for (unsigned d = 1; d < sim->ndests; d++)
		if (sim->remaining[d] > 0)
			return 0;
	return 1;
}

static void
test_no_starvation(void)
{
	static const unsigned caps[] = {10, 10, 10};
	struct sim sim;
	sim_init(&sim, 3, caps, 20, 500, throttling_outcome);
	CHECK(sim_run(&sim, T0 + 86400, others_done));
	/* 500 messages each at up to 10 at a time, 1-5 s each: a few
	 * minutes, however long the throttling destination waits. */
	CHECK(sim.last_final[1] - T0 < 600);
	CHECK(sim.last_final[2] - T0 < 600);
	CHECK_INT_EQ(sim.remaining[0], 500);
	CHECK(sim.max_inflight[0] <= SCHEDCORE_WINDOW_START);
	struct schedcore_dest_info t = info(sim.s, 0);
	CHECK_INT_EQ(t.window, 1);
	CHECK(t.throttles >= 2);
	CHECK(t.pause_until > sim.now);
	CHECK_STR_EQ(t.last_error, "simulated");
	CHECK_INT_EQ(sim.window_broken, 0);
	/* Then the throttling one alone, until its queue lifetime ends:
	 * every message expires -- none bounces. */
	CHECK(sim_run(&sim, T0 + 3 * 86400, sim_all_done));
	CHECK_INT_EQ(sim.expired, 500);
	CHECK_INT_EQ(sim.failed, 0);
	CHECK_INT_EQ(sim.delivered, 1000);
	CHECK_INT_EQ(sim.check_failed, 0);
	CHECK_INT_EQ(sim.window_broken, 0);
	CHECK_CORE(sim.s);
	free(sim.jobs);
	schedcore_free(sim.s);
}

/* ---- order: test sends first, round robin ---- */

static void
test_order(void)
{
	struct schedcore *s = core_new(100, 10, 10);
	uint32_t a = dest(s, "a.example"), b = dest(s, "b.example"), c = dest(s, "c.example");
	for (uint32_t d = 0; d < 3; d++)
		schedcore_dest_policy(s, d, 100, 0, T0);
	/* Round robin: one message from each destination in turn, even
	 * though a's were all queued first. */
	for (uint64_t i = 0; i < 4; i++) {
		add(s, 100 + i, a, T0, 0, 0, 0);
	}
	for (uint64_t i = 0; i < 4; i++) {
		add(s, 200 + i, b, T0, 0, 0, 0);
		add(s, 300 + i, c, T0, 0, 0, 0);
	}
	/* Test sends, queued last, at two destinations: first of all. */
	add(s, 901, c, T0, 0, 0, 1);
	add(s, 902, b, T0, 0, 0, 1);
	add(s, 903, c, T0, 0, 0, 1);
	uint64_t got[15];
	for (int i = 0; i < 15; i++) {
		got[i] = start(s, T0);
		report(s, got[i], T0, SCHEDCORE_DELIVERED, -1, 0, NULL);
	}
	int tests_first = 1;
	for (int i = 0; i < 3; i++)
		if (got[i] < 900)
			tests_first = 0;
	CHECK(tests_first);
	/* The rest: a b c a b c ... (FIFO within each). */
	int rr = 1;
	uint64_t next_of[3] = {100, 200, 300};
	uint32_t prev_dest = 99;
	for (int i = 3; i < 15; i++) {
		uint32_t d = (uint32_t)(got[i] / 100 - 1);
		if (d > 2 || got[i] != next_of[d] || d == prev_dest)
			rr = 0;
		if (d <= 2)
			next_of[d]++;
		prev_dest = d;
	}
	CHECK(rr);
	if (!rr)
		for (int i = 0; i < 15; i++)
			fprintf(stderr, "order %d: %" PRIu64 "\n", i, got[i]);
	/* A test send at a paused destination waits; bulk elsewhere goes. */
	CHECK_INT_EQ(schedcore_throttle(s, a, T0, -1, NULL), 1);
	add(s, 904, a, T0, 0, 0, 1);
	add(s, 205, b, T0, 0, 0, 0);
	uint64_t n = start(s, T0);
	CHECK(n != 0 && n < 900);
	CHECK_CORE(s);
	schedcore_free(s);
}

/* ---- SIGALRM ---- */

static void
test_retry_all_now(void)
{
	struct schedcore_result res;
	struct schedcore_event ev;
	struct schedcore *s = core_new(100, 10, 11);
	uint32_t a = dest(s, "a.example"), b = dest(s, "b.example");
	schedcore_dest_policy(s, a, 100, 0, T0);
	schedcore_dest_policy(s, b, 100, 0, T0);
	for (uint64_t id = 1; id <= 20; id++)
		add(s, id, id <= 10 ? a : b, T0, 0, 0, id == 7);
	for (int i = 0; i < 20; i++) {
		uint64_t id = start(s, T0);
		report(s, id, T0, SCHEDCORE_DEFERRED, -1, 0, &res);
		CHECK(res.fate == SCHEDCORE_FATE_RETRY);
	}
	/* Everything waits ~5 min, and b is paused for one. */
	CHECK_INT_EQ(schedcore_throttle(s, b, T0, -1, "421 4.3.2 busy"), 1);
	CHECK_INT_EQ(schedcore_next(s, T0 + 10, &ev), SCHEDCORE_IDLE);
	CHECK(ev.wake > T0 + 200);
	CHECK_INT_EQ(schedcore_retry_all_now(s, T0 + 10), 20);
	CHECK_CORE(s);
	struct schedcore_stats st;
	schedcore_stats(s, &st);
	CHECK_INT_EQ(st.ready, 20);
	CHECK_INT_EQ(st.waiting, 0);
	/* a's go now, the test send first; b stays paused. */
	CHECK_INT_EQ(start(s, T0 + 10), 7);
	report(s, 7, T0 + 10, SCHEDCORE_DELIVERED, -1, 0, NULL);
	int only_a = 1;
	for (int i = 0; i < 9; i++) {
		uint64_t id = start(s, T0 + 10);
		if (id == 0 || id > 10)
			only_a = 0;
		report(s, id, T0 + 10, SCHEDCORE_DELIVERED, -1, 0, NULL);
	}
	CHECK(only_a);
	CHECK_INT_EQ(schedcore_next(s, T0 + 10, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(ev.wake, T0 + SCHEDCORE_PAUSE_MIN);
	CHECK_INT_EQ(schedcore_retry_all_now(s, T0 + 11), 0);
	/* b's go when its pause ends (at the slow-start window after the
	 * throttle halved it: 1). */
	CHECK(start(s, T0 + SCHEDCORE_PAUSE_MIN) > 10);
	CHECK_INT_EQ(schedcore_next(s, T0 + SCHEDCORE_PAUSE_MIN, &ev), SCHEDCORE_IDLE);
	CHECK_CORE(s);
	schedcore_free(s);
}

/* ---- rate limits ---- */

static void
test_rate(void)
{
	struct schedcore_event ev;
	struct schedcore *s = core_new(100, 10, 12);
	uint32_t a = dest(s, "a.example");
	schedcore_dest_policy(s, a, 100, 60, T0); /* one a second */
	for (uint64_t id = 1; id <= 300; id++)
		add(s, id, a, T0, 0, 0, 0);
	CHECK(start(s, T0) != 0);
	CHECK_INT_EQ(schedcore_next(s, T0, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(ev.wake, T0 + 1);
	CHECK_CORE(s);
	/* Delivered right away, so the window is never the limit. */
	int per_second_ok = 1;
	size_t total = 1;
	for (time_t t = T0 + 1; t < T0 + 61; t++) {
		int n = 0;
		while (schedcore_next(s, t, &ev) == SCHEDCORE_START) {
			report(s, ev.id, t, SCHEDCORE_DELIVERED, -1, 0, NULL);
			n++;
		}
		if (n != 1)
			per_second_ok = 0;
		total += (size_t)n;
	}
	CHECK(per_second_ok);
	CHECK_INT_EQ(total, 61);
	/* A gap refills the bucket to one second's worth only: no burst. */
	int n = 0;
	while (schedcore_next(s, T0 + 1000, &ev) == SCHEDCORE_START) {
		report(s, ev.id, T0 + 1000, SCHEDCORE_DELIVERED, -1, 0, NULL);
		n++;
	}
	CHECK_INT_EQ(n, 1);
	/* 600 a minute: 10 a second (the bucket keeps what it held: one). */
	schedcore_dest_policy(s, a, 100, 600, T0 + 2000);
	for (int k = 0; k < 3; k++) {
		n = 0;
		while (schedcore_next(s, T0 + 2000 + k, &ev) == SCHEDCORE_START) {
			report(s, ev.id, T0 + 2000 + k, SCHEDCORE_DELIVERED, -1, 0, NULL);
			n++;
		}
		CHECK_INT_EQ(n, k == 0 ? 1 : 10);
	}
	/* 1 a minute: then 60 s apart. */
	schedcore_dest_policy(s, a, 100, 1, T0 + 3000);
	CHECK(start(s, T0 + 3000) != 0);
	CHECK_INT_EQ(schedcore_next(s, T0 + 3000, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(ev.wake, T0 + 3060);
	CHECK_INT_EQ(schedcore_next(s, T0 + 3059, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(schedcore_next(s, T0 + 3060, &ev), SCHEDCORE_START);
	/* Unlimited again. */
	schedcore_dest_policy(s, a, 100, 0, T0 + 3061);
	n = 0;
	while (schedcore_next(s, T0 + 3061, &ev) == SCHEDCORE_START)
		n++;
	CHECK_INT_EQ(info(s, a).inflight, info(s, a).window); /* the limit now */
	CHECK(n > 60);
	CHECK_CORE(s);
	schedcore_free(s);
}

/* ---- the global cap ---- */

static void
test_global_cap(void)
{
	struct schedcore_event ev;
	struct schedcore *s = core_new(3, 10, 13);
	uint32_t a = dest(s, "a.example"), b = dest(s, "b.example");
	for (uint64_t id = 1; id <= 10; id++)
		add(s, id, id % 2 ? a : b, T0, 0, 0, 0);
	uint64_t x = start(s, T0);
	CHECK(start(s, T0) != 0);
	CHECK(start(s, T0) != 0);
	CHECK_INT_EQ(schedcore_next(s, T0, &ev), SCHEDCORE_IDLE);
	CHECK(ev.wake > T0); /* a deadline far away: nothing else is timed */
	report(s, x, T0 + 1, SCHEDCORE_DELIVERED, -1, 0, NULL);
	CHECK(start(s, T0 + 1) != 0);
	CHECK_INT_EQ(schedcore_next(s, T0 + 1, &ev), SCHEDCORE_IDLE);
	/* A lower cap on SIGHUP: nothing starts until enough came back. */
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	cfg.max_inflight = 1;
	CHECK_INT_EQ(schedcore_reconfigure(s, &cfg, T0 + 2, NULL), 0);
	struct schedcore_stats st;
	schedcore_stats(s, &st);
	CHECK_INT_EQ(st.inflight, 3);
	int reported = 0;
	for (uint64_t id = 1; id <= 10 && reported < 2; id++) {
		struct schedcore_msg_info mi;
		if (schedcore_lookup(s, id, &mi) == 0 && mi.state == SCHEDCORE_INFLIGHT) {
			report(s, id, T0 + 3, SCHEDCORE_DELIVERED, -1, 0, NULL);
			reported++;
			CHECK_INT_EQ(schedcore_next(s, T0 + 3, &ev), SCHEDCORE_IDLE);
		}
	}
	CHECK_CORE(s);
	schedcore_free(s);
}

/* ---- the clock, the error text ---- */

static void
test_clock_and_text(void)
{
	struct schedcore_event ev;
	struct schedcore_result res;
	struct schedcore *s = core_new(100, 0, 14);
	uint32_t a = dest(s, "a.example");
	add(s, 1, a, T0, 0, 0, 0);
	CHECK_INT_EQ(start(s, T0 + 100), 1);
	/* A clock stepped back counts as the latest time seen. */
	CHECK_INT_EQ(report(s, 1, T0 - 5000, SCHEDCORE_DEFERRED, -1, 0, &res), 0);
	CHECK_INT_EQ(res.next_attempt, T0 + 100 + 300);
	CHECK_INT_EQ(schedcore_next(s, T0, &ev), SCHEDCORE_IDLE);
	CHECK_INT_EQ(schedcore_next(s, T0 + 400, &ev), SCHEDCORE_START);
	/* Absurd times are clamped, not trusted into overflow. */
	CHECK_INT_EQ(report(s, 1, (time_t)INT64_MAX, SCHEDCORE_DEFERRED, -1, 0, &res), 0);
	CHECK_INT_EQ(res.fate, SCHEDCORE_FATE_EXPIRED);
	struct schedcore_msg m = {2, a, (time_t)INT64_MIN, (time_t)-5, (time_t)INT64_MAX, 70000, 5};
	CHECK_INT_EQ(schedcore_add(s, &m, T0), SCHEDCORE_ADDED);
	CHECK_INT_EQ(schedcore_next(s, T0, &ev), SCHEDCORE_EXPIRE);
	CHECK_INT_EQ(ev.attempt, 65535);
	CHECK_INT_EQ(ev.test, 1);
	CHECK_CORE(s);

	/* Error text: kept short, cut on a character boundary, no controls. */
	char text[400];
	memset(text, 'x', sizeof text);
	memcpy(text, "4.2.2\tmailbox\r\nfull ", 20);
	memcpy(text + SCHEDCORE_ERROR_MAX - 1, "\xc3\xa9", 2); /* straddles the cut */
	text[sizeof text - 1] = '\0';
	struct schedcore *s2 = core_new(100, 0, 15);
	a = dest(s2, "a.example");
	add(s2, 1, a, T0, 0, 0, 0);
	start(s2, T0);
	CHECK_INT_EQ(schedcore_report(s2, 1, T0, SCHEDCORE_DEFERRED, -1, 0, text, &res), 0);
	struct schedcore_dest_info i = info(s2, a);
	CHECK_INT_EQ(strlen(i.last_error), SCHEDCORE_ERROR_MAX - 1);
	CHECK(strncmp(i.last_error, "4.2.2?mailbox??full x", 21) == 0);
	CHECK_INT_EQ(i.last_error_at, T0);
	CHECK_INT_EQ(i.deferred, 1);
	CHECK_INT_EQ(i.waiting, 1);
	start(s2, T0 + 400);
	CHECK_INT_EQ(schedcore_report(s2, 1, T0 + 400, SCHEDCORE_FAILED, -1, 0,
				      "5.1.1 \xc3\xa9 unknown", &res),
		     0);
	CHECK_STR_EQ(info(s2, a).last_error, "5.1.1 \xc3\xa9 unknown");
	CHECK_INT_EQ(info(s2, a).failed, 1);
	CHECK_CORE(s2);
	schedcore_free(s2);
	schedcore_free(s);
}

/* ---- the store on its own: index churn ---- */

static void
test_store(void)
{
	struct schedstore st;
	schedstore_init(&st);
	/* Ids that collide in the low bits, added and removed in waves, so
	 * that backward-shift deletion is exercised across probe runs. */
	uint32_t slots[5000];
	int ok = 1;
	for (int wave = 0; wave < 4; wave++) {
		for (uint64_t i = 0; i < 5000; i++) {
			slots[i] = schedstore_add(&st, (i << 32) | (uint64_t)wave);
			schedstore_rec(&st, slots[i])->state = 1;
		}
		for (uint64_t i = 0; i < 5000; i += 2)
			schedstore_remove(&st, slots[i]);
		for (uint64_t i = 0; i < 5000; i++)
			if ((schedstore_find(&st, (i << 32) | (uint64_t)wave) != SCHEDSTORE_NONE) !=
			    (i % 2 == 1))
				ok = 0;
		if (schedstore_check(&st) != NULL)
			ok = 0;
		for (uint64_t i = 1; i < 5000; i += 2)
			schedstore_remove(&st, slots[i]);
	}
	CHECK(ok);
	CHECK_INT_EQ(st.count, 0);
	schedstore_trim(&st);
	CHECK(schedstore_check(&st) == NULL);
	CHECK(schedstore_bytes(&st) < 300000);
	schedstore_free(&st);
}

/* ---- a million messages: memory and speed ---- */

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static void
test_million(void)
{
	size_t n = 1000000;
	struct timespec t0;

	/* Memory: n deferred messages over 1,000 destinations. */
	size_t before = heap_in_use();
	struct schedcore *s = core_new(100, 10, 16);
	for (unsigned d = 0; d < 1000; d++) {
		char name[32];
		snprintf(name, sizeof name, "d%u.example", d);
		dest(s, name);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n; i++) {
		uint64_t id = ((uint64_t)(i / 512) << 16) | (i % 512); /* batch, index */
		add(s, id, (uint32_t)(i % 1000), T0, 0, T0 + 300 + (time_t)(i % 7200), 0);
	}
	double add_secs = seconds_since(&t0);
	struct schedcore_stats st;
	schedcore_stats(s, &st);
	size_t after = heap_in_use();
	double own = (double)st.bytes / (double)n;
	double measured = after > before ? (double)(after - before) / (double)n : 0;
	CHECK_INT_EQ(st.messages, n);
	CHECK_INT_EQ(st.waiting, n);
	CHECK(own < 120);
	if (measured > 0)
		CHECK(measured < 150);
	CHECK_CORE(s);
	schedcore_free(s);

	/* Speed: n deferred messages of one paused destination, a few ready
	 * at five others; start, report, queue another, n/10 times. */
	s = core_new(100, 10, 17);
	uint32_t p = dest(s, "paused.example");
	uint32_t others[5];
	for (int k = 0; k < 5; k++) {
		char name[32];
		snprintf(name, sizeof name, "o%d.example", k);
		others[k] = dest(s, name);
	}
	for (size_t i = 0; i < n; i++)
		add(s, (uint64_t)i, p, T0, 0, T0 + 1 + (time_t)(i % 3000), 0);
	CHECK_INT_EQ(schedcore_throttle(s, p, T0, 3600, "421 4.7.0 come back in an hour"), 1);
	uint64_t next_id = n;
	for (int k = 0; k < 5; k++)
		for (int j = 0; j < 4; j++)
			add(s, next_id++, others[k], T0, 0, 0, 0);
	size_t cycles = n / 10, done = 0, wrong = 0;
	time_t now = T0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t c = 0; c < cycles; c++) {
		if (c % 100 == 0)
			now++; /* 1,000 s in all: a third of p's messages come due */
		struct schedcore_event ev;
		enum schedcore_what w = schedcore_next(s, now, &ev);
		if (w != SCHEDCORE_START || ev.dest == p) {
			wrong++;
			continue;
		}
		struct schedcore_result res;
		schedcore_report(s, ev.id, now, SCHEDCORE_DELIVERED, -1, 0, NULL, &res);
		add(s, next_id++, ev.dest, now, 0, 0, 0);
		done++;
	}
	double secs = seconds_since(&t0);
	schedcore_stats(s, &st);
	CHECK_INT_EQ(wrong, 0);
	CHECK_INT_EQ(done, cycles);
	CHECK_INT_EQ(info(s, p).inflight, 0);
	CHECK(info(s, p).ready > 0); /* due, and held back by the pause */
	CHECK_INT_EQ(st.messages, n + 20);
	double rate = secs > 0 ? (double)cycles / secs : 0;
	if (!under_valgrind)
		CHECK(secs < (SANITIZED ? 5.0 : 1.0));
	char by_malloc[32] = "n/a: malloc replaced";
	if (measured > 0)
		snprintf(by_malloc, sizeof by_malloc, "%.1f", measured);
	printf("schedcore: %zu queued over 1000 destinations: %.1f bytes/message (own count), "
	       "%s (mallinfo2), added in %.2f s\n",
	       n, own, by_malloc, add_secs);
	printf("schedcore: %zu next+report+add cycles beside %zu messages of a paused "
	       "destination: %.3f s, %.0f cycles/s%s\n",
	       cycles, n, secs, rate, SANITIZED ? " (sanitized build)" : "");
	CHECK_CORE(s);
	schedcore_free(s);
}

int
main(void)
{
	const char *preload = getenv("LD_PRELOAD");
	under_valgrind = getenv("MAILSHOT_VALGRIND") != NULL ||
			 (preload != NULL && strstr(preload, "vgpreload") != NULL);
	test_retry_parse();
	test_config();
	test_dests();
	test_messages();
	test_retry_schedule();
	test_expiry();
	test_retry_after();
	test_throttle();
	test_pause_settings();
	test_caps_simulation();
	test_no_starvation();
	test_order();
	test_retry_all_now();
	test_rate();
	test_global_cap();
	test_clock_and_text();
	test_store();
	test_million();
	return check_report("schedcore");
}
