/*
 * fuzz_schedcore - libFuzzer target for lib/schedcore.c (and the store
 * under it).
 *
 * The input is used twice.  First, whole, as a control/retry file: a
 * parse either gives 1..64 intervals of 1 s..7 d, or refuses with
 * "retry:LINE: ..." (printable, one line) and leaves the output alone.
 * Second, as a program: a few bytes of configuration, then operations --
 * queue a message, ask what to do next, report an outcome, move the
 * clock (forwards, or back), SIGALRM, SIGHUP, throttle, resume, cancel,
 * unstart, change a destination's policy -- run against the core and a
 * small model of it kept here.
 *
 * After every operation the core's own invariant checker must pass, and
 * what the core says must agree with the model: a START is a queued
 * message that is not in flight, before its deadline, within its
 * destination's window and cap and the global cap; an EXPIRE is a queued
 * message not in flight whose deadline has come; a report is refused
 * exactly when the message is not in flight; counts match.  Any broken
 * promise aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedcore.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_schedcore: %s:%d: broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_MSGS 512
#define NDESTS 6
#define T0 ((time_t)1764000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { GONE = 0, QUEUED, INFLIGHT };

struct model {
	int state[MAX_MSGS + 1]; /* by id; 0 = never added or final */
	uint32_t dest[MAX_MSGS + 1];
	unsigned inflight[NDESTS];
	unsigned global;
	size_t held; /* QUEUED + INFLIGHT */
	uint64_t next_id;
};

struct input {
	const uint8_t *p, *end;
};

/* What the core makes of a time: clamped into [0, SCHEDCORE_TIME_MAX]. */
static time_t
clamp(time_t t)
{
	return t < 0 ? 0 : t > SCHEDCORE_TIME_MAX ? SCHEDCORE_TIME_MAX : t;
}

static unsigned
byte(struct input *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

static void
check_retry_parse(const uint8_t *data, size_t size)
{
	struct schedcore_retry r, before;
	memset(&r, 0xa5, sizeof r);
	before = r;
	struct buf err = BUF_INIT;
	if (schedcore_retry_parse((const char *)data, size, "retry", &r, &err) == 0) {
		REQUIRE(r.count >= 1 && r.count <= SCHEDCORE_RETRY_ENTRIES);
		for (unsigned i = 0; i < r.count; i++)
			REQUIRE(r.delay[i] >= 1 && r.delay[i] <= SCHEDCORE_RETRY_DELAY_MAX);
		struct schedcore_config cfg;
		schedcore_config_default(&cfg);
		cfg.retry = r;
		REQUIRE(schedcore_config_check(&cfg) == NULL);
	} else {
		const char *e = buf_cstr(&err);
		REQUIRE(strncmp(e, "retry:", 6) == 0);
		REQUIRE(e[6] >= '1' && e[6] <= '9');
		REQUIRE(strstr(e, ": ") != NULL);
		for (const char *q = e; *q; q++)
			REQUIRE((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f);
		REQUIRE(memcmp(&r, &before, sizeof r) == 0);
	}
	buf_free(&err);
}

/* Compares the core's counts with the model's. */
static void
agree(struct schedcore *s, const struct model *m, unsigned max_inflight)
{
	const char *why = schedcore_check(s);
	if (why != NULL) {
		fprintf(stderr, "fuzz_schedcore: invariant: %s\n", why);
		abort();
	}
	struct schedcore_stats st;
	schedcore_stats(s, &st);
	REQUIRE(st.messages == m->held);
	REQUIRE(st.inflight == m->global);
	REQUIRE(st.ready + st.waiting + st.inflight + st.expired == st.messages);
	for (uint32_t d = 0; d < NDESTS; d++) {
		struct schedcore_dest_info di;
		REQUIRE(schedcore_dest_info(s, d, &di) == 0);
		REQUIRE(di.inflight == m->inflight[d]);
		REQUIRE(di.window >= 1 && di.window <= di.concurrency);
		REQUIRE(strlen(di.last_error) <= SCHEDCORE_ERROR_MAX);
	}
	(void)max_inflight;
}

static void
on_event(struct schedcore *s, struct model *m, const struct schedcore_event *ev,
	 enum schedcore_what w, time_t now, unsigned max_inflight)
{
	if (w == SCHEDCORE_IDLE) {
		REQUIRE(ev->wake == 0 || ev->wake > now);
		return;
	}
	REQUIRE(ev->id >= 1 && ev->id < m->next_id);
	REQUIRE(m->state[ev->id] == QUEUED);
	REQUIRE(ev->dest == m->dest[ev->id]);
	if (w == SCHEDCORE_EXPIRE) {
		REQUIRE(ev->deadline <= now);
		m->state[ev->id] = GONE;
		m->held--;
		return;
	}
	REQUIRE(w == SCHEDCORE_START);
	REQUIRE(ev->deadline > now);
	struct schedcore_dest_info di;
	REQUIRE(schedcore_dest_info(s, ev->dest, &di) == 0);
	REQUIRE(m->inflight[ev->dest] < di.window);
	REQUIRE(di.window <= di.concurrency);
	REQUIRE(m->global < max_inflight);
	REQUIRE(now >= di.pause_until);
	m->state[ev->id] = INFLIGHT;
	m->inflight[ev->dest]++;
	m->global++;
}

/* The id of the k-th message in the given state (cyclically), or 0. */
static uint64_t
pick(const struct model *m, int state, unsigned k)
{
	uint64_t n = m->next_id - 1;
	if (n == 0)
		return 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t id = 1 + (k + i) % n;
		if (m->state[id] == state)
			return id;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_retry_parse(data, size);

	/* At most 1,000 operations: longer programs find nothing new and slow
	 * the search down (the checker after each one is O(n)). */
	struct input in = {data, data + (size > 3010 ? 3010 : size)};
	struct schedcore_config cfg;
	schedcore_config_default(&cfg);
	cfg.max_inflight = 1 + byte(&in) % 8;
	cfg.default_concurrency = 1 + byte(&in) % 5;
	cfg.queue_lifetime = 60 + (long long)byte(&in) * 60;
	cfg.jitter_percent = byte(&in) % 51;
	cfg.seed = byte(&in);
	cfg.max_messages = 16 + (size_t)byte(&in) * 2;
	cfg.retry.count = 1 + byte(&in) % 4;
	for (unsigned i = 0; i < cfg.retry.count; i++)
		cfg.retry.delay[i] = 1 + (long)byte(&in) * 10;
	REQUIRE(schedcore_config_check(&cfg) == NULL);
	time_t now = T0;
	struct schedcore *s = schedcore_new(&cfg, now, NULL);
	REQUIRE(s != NULL);
	static const char *names[NDESTS] = {"a.example", "B.example", "[127.0.0.1]:2525",
					    "c.example", "d.example", "e.example"};
	for (uint32_t d = 0; d < NDESTS; d++) {
		uint32_t got;
		REQUIRE(schedcore_dest_intern(s, names[d], &got) == 1);
		REQUIRE(got == d);
	}
	static struct model m;
	memset(&m, 0, sizeof m);
	m.next_id = 1;
	unsigned max_inflight = cfg.max_inflight;

	/* The core's clock: the latest time it was given (now may go back);
	 * core_now: what it is during a call with now. */
	time_t latest = now;
	while (in.p < in.end) {
		time_t core_now = clamp(now > latest ? now : latest);
		int told = 1; /* the core was given now */
		unsigned op = byte(&in) % 16, a = byte(&in), b = byte(&in);
		struct schedcore_event ev;
		struct schedcore_result res;
		switch (op) {
		case 0: /* queue a message */
		case 1: {
			if (m.next_id > MAX_MSGS)
				break;
			uint32_t d = (b & 0x80) && (a & 1) && op == 1 ? NDESTS : a % NDESTS;
			struct schedcore_msg msg = {
			    .id = m.next_id,
			    .dest = d,
			    .created = now - (time_t)(b % 4) * 600,
			    .expires = (b & 0x10) ? now + (time_t)a * 10 : 0,
			    .next_attempt = (b & 0x20) ? now + (time_t)a * 5 : 0,
			    .attempts = b % 3,
			    .test = (b & 0x40) != 0,
			};
			enum schedcore_add_result rc = schedcore_add(s, &msg, now);
			if (d == NDESTS) {
				REQUIRE(rc == SCHEDCORE_BAD_DEST);
				break;
			}
			if (m.held >= cfg.max_messages) {
				REQUIRE(rc == SCHEDCORE_FULL);
				break;
			}
			REQUIRE(rc == SCHEDCORE_ADDED);
			m.state[m.next_id] = QUEUED;
			m.dest[m.next_id] = d;
			m.held++;
			m.next_id++;
			break;
		}
		case 2: /* what now? */
		case 3: {
			enum schedcore_what w = schedcore_next(s, now, &ev);
			on_event(s, &m, &ev, w, core_now, max_inflight);
			break;
		}
		case 4: /* an outcome */
		case 5: {
			uint64_t id = pick(&m, INFLIGHT, a);
			if (id == 0) {
				REQUIRE(schedcore_report(s, m.next_id + 5, now, SCHEDCORE_DELIVERED,
							 -1, 0, NULL, &res) == -1);
				told = 0; /* refused before it looked at the time */
				break;
			}
			enum schedcore_outcome o = (enum schedcore_outcome)(b % 3);
			long long hint = (b & 0x08) ? (long long)a * 7 : -1;
			static const char *texts[] = {
			    NULL, "421 4.7.0 slow down", "\x01\xff\xc3 garbage \x7f",
			    "452 4.2.2 mailbox full: the recipient's mailbox is over its quota; "
			    "try again later or contact the recipient by other means "
			    "\xc3\xa9\xc3\xa9"
			    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};
			REQUIRE(schedcore_report(s, id, now, o, hint, (b & 0x04) != 0,
						 texts[(b >> 4) & 3], &res) == 0);
			REQUIRE(res.dest == m.dest[id]);
			m.inflight[res.dest]--;
			m.global--;
			if (res.fate == SCHEDCORE_FATE_RETRY) {
				REQUIRE(o == SCHEDCORE_DEFERRED);
				REQUIRE(res.next_attempt > core_now &&
					res.next_attempt < res.deadline);
				m.state[id] = QUEUED;
			} else {
				REQUIRE(res.fate != SCHEDCORE_FATE_DELIVERED ||
					o == SCHEDCORE_DELIVERED);
				REQUIRE(res.fate != SCHEDCORE_FATE_FAILED || o == SCHEDCORE_FAILED);
				REQUIRE(res.fate != SCHEDCORE_FATE_EXPIRED ||
					o == SCHEDCORE_DEFERRED);
				m.state[id] = GONE;
				m.held--;
				struct schedcore_msg_info mi;
				REQUIRE(schedcore_lookup(s, id, &mi) == -1);
			}
			/* Twice is refused. */
			if (m.state[id] != INFLIGHT)
				REQUIRE(schedcore_report(s, id, now, o, -1, 0, NULL, &res) == -1);
			break;
		}
		case 6: /* time passes */
			now += (time_t)a * ((b & 1) ? 60 : 1);
			told = 0;
			break;
		case 7:
			/* A clock stepped back: taken as the latest seen.  Or an
			 * absurd one: clamped, never overflowing. */
			if (b == 255)
				now = (a & 1) ? SCHEDCORE_TIME_MAX + 5 : -1000;
			else
				now -= (time_t)a;
			told = 0;
			break;
		case 8: /* SIGALRM */
			(void)schedcore_retry_all_now(s, now);
			break;
		case 9: /* control/domains */
			REQUIRE(schedcore_dest_policy(s, a % NDESTS, b % 13, (b & 0x80) ? a * 3 : 0,
						      now) == 0);
			break;
		case 10: /* the protocol's throttle record */
			REQUIRE(
			    schedcore_throttle(s, a % NDESTS, now, (b & 1) ? (long long)b * 30 : -1,
					       (b & 2) ? "421 too many connections" : NULL) >= 0);
			break;
		case 11: /* the operator resumes */
			REQUIRE(schedcore_dest_resume(
				    s, (a & 0x80) ? SCHEDCORE_ALL_DESTS : a % NDESTS, now) == 0);
			break;
		case 12: { /* cancel */
			uint64_t id = 1 + (m.next_id > 1 ? a % (m.next_id - 1) : 0);
			int rc = schedcore_cancel(s, id);
			told = 0;
			REQUIRE(rc == (m.state[id] == QUEUED ? 0 : -1));
			if (rc == 0) {
				m.state[id] = GONE;
				m.held--;
			}
			break;
		}
		case 13: { /* unstart */
			uint64_t id = pick(&m, INFLIGHT, a);
			if (id == 0) {
				told = 0;
				break;
			}
			REQUIRE(schedcore_unstart(s, id, now) == 0);
			m.state[id] = QUEUED;
			m.inflight[m.dest[id]]--;
			m.global--;
			break;
		}
		case 14: { /* SIGHUP */
			struct schedcore_config c2 = cfg;
			c2.max_inflight = 1 + a % 8;
			c2.default_concurrency = 1 + (a >> 3) % 5;
			c2.queue_lifetime = 60 + (long long)b * 60;
			REQUIRE(schedcore_reconfigure(s, &c2, now, NULL) == 0);
			max_inflight = c2.max_inflight;
			break;
		}
		case 15: { /* lookups and duplicates */
			uint64_t id = 1 + (m.next_id > 1 ? a % (m.next_id - 1) : 0);
			struct schedcore_msg_info mi;
			int rc = schedcore_lookup(s, id, &mi);
			told = rc == 0; /* the duplicate add below */
			REQUIRE((rc == 0) == (m.state[id] != GONE));
			if (rc == 0) {
				REQUIRE((mi.state == SCHEDCORE_INFLIGHT) ==
					(m.state[id] == INFLIGHT));
				REQUIRE(mi.dest == m.dest[id]);
				struct schedcore_msg dup = {id, 0, now, 0, 0, 0, 0};
				REQUIRE(schedcore_add(s, &dup, now) == SCHEDCORE_DUPLICATE);
			}
			break;
		}
		}
		if (told)
			latest = core_now;
		agree(s, &m, max_inflight);
	}
	/* Drain: with time enough, everything comes to an end. */
	now = clamp(now > latest ? now : latest);
	for (int round = 0; round < 10000 && m.held > 0; round++) {
		struct schedcore_event ev;
		enum schedcore_what w = schedcore_next(s, now, &ev);
		on_event(s, &m, &ev, w, now, max_inflight);
		if (w == SCHEDCORE_START) {
			struct schedcore_result res;
			REQUIRE(schedcore_report(s, ev.id, now, SCHEDCORE_DELIVERED, -1, 0, NULL,
						 &res) == 0);
			m.state[ev.id] = GONE;
			m.held--;
			m.inflight[ev.dest]--;
			m.global--;
		} else if (w == SCHEDCORE_IDLE) {
			if (m.global > 0) {
				uint64_t id = pick(&m, INFLIGHT, 0);
				struct schedcore_result res;
				REQUIRE(schedcore_report(s, id, now, SCHEDCORE_FAILED, -1, 0, NULL,
							 &res) == 0);
				m.state[id] = GONE;
				m.held--;
				m.inflight[m.dest[id]]--;
				m.global--;
			} else {
				REQUIRE(ev.wake > now); /* something queued: a timer must be set */
				now = ev.wake;
			}
		}
	}
	REQUIRE(m.held == 0);
	agree(s, &m, max_inflight);
	schedcore_free(s);
	return 0;
}
