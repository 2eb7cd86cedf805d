/*
 * mailshot-sched - the delivery daemon.
 *
 *	mailshot-sched [--spool DIR] [--once | --drain] [--notify-fd N] [--timestamps]
 *
 * Takes the batches enqueue committed to new/ into its queue area
 * (docs/spool.md, "The queue"), decides with lib/schedcore what is tried
 * when and how many at once (docs/sched.md), hands each attempt to a
 * mailshot-remote process of the message's destination over a socketpair
 * with the batch's descriptor attached (docs/protocol.md), and records
 * every outcome: the state file's journal, the delivery log
 * (docs/logging.md), and for failed and expired messages the bounce
 * hand-off area.  One process, one poll() loop; it is the only writer of
 * queue/.
 *
 * One remote process holds one message at a time, so SMTP connections
 * never outnumber messages in flight: control/concurrency in all, a
 * destination's window (at most its control/domains concurrency) per
 * destination.  Idle remotes are kept for the next message of their
 * destination (their SMTP connection is reused) and quit when idle for
 * long, when their destination is throttled, or when another destination
 * needs the slot.
 *
 * Under a supervisor (docs/deploy/): it runs in the foreground, locks
 * queue/ so that no second sched works on the spool, tells readiness
 * s6-style (--notify-fd: a newline, then close) once the queue is loaded,
 * new/ taken in and the trigger FIFO open, writes each message to stderr
 * as one line in one write(2), stops cleanly on SIGTERM (exit 0) and
 * rereads control/ and reopens the delivery log on SIGHUP.  Exit 100 is
 * configuration trouble at start, 111 trouble with the spool.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"
#include "die.h"
#include "hostdown.h"
#include "input.h"
#include "log.h"
#include "priv.h"
#include "proto.h"
#include "queue.h"
#include "route.h"
#include "schedcore.h"
#include "smtpreply.h"
#include "spool.h"
#include "when.h"

#define FLUSH_MS 50	     /* outcomes become durable at most this late */
#define FLUSH_PENDING 2000   /* or as soon as this many are waiting */
#define IDLE_QUIT 30	     /* seconds an idle remote is kept */
#define INDEX_BITS 20	     /* message index within a batch, in an id */
#define HOSTS_MAX 64	     /* dead MX addresses kept per destination */
#define CRASHED_DELAY 10     /* s: in flight at a crash, tried again after this */

static const struct control_setting settings[] = {
	{"concurrency", 1, "100", 1, SCHEDCORE_INFLIGHT_MAX,
	 "messages in flight (SMTP connections) in all"},
	{"queuelifetime", 0, "2d", 0, 0, "how long a message may stay queued, then it expires"},
	{"shutdowntimeout", 1, "30", 1, 3600,
	 "seconds SIGTERM waits for deliveries in flight"},
	{"pausemin", 1, "60", 1, 86400,
	 "seconds a destination is paused after it pushes back (421, refused connections)"},
	{"pausemax", 1, "1800", 1, 86400, "the pause doubles with each episode up to this"},
	{"softbouncelimit", 1, "3", 0, 1000,
	 "soft failures in a row that suppress an address (0 = never); deliveries reset it"},
	{NULL, 0, NULL, 0, 0, NULL},
};
enum {
	SET_CONCURRENCY,
	SET_LIFETIME,
	SET_SHUTDOWN,
	SET_PAUSEMIN,
	SET_PAUSEMAX,
	SET_SOFTLIMIT,
	SET_COUNT
};

/* A queued batch: 8 bytes per message in memory, plus its final marks. */
struct batch {
	char *name, *campaign;
	unsigned dir;
	time_t created, expires;
	uint32_t count, open, inflight;
	struct queue_pos *pos;
	unsigned char *final;
	int fd;
	struct buf journal;
	int dirty;
};

/* What sched knows of a destination beyond the core. */
struct sdest {
	char *name;
	char *domain; /* the first domain seen: remote's --session argument */
	int route;    /* served by a shared route (policy by its host) */
	unsigned cap;
	unsigned procs; /* remote processes alive (any state) */
	struct hostdown down; /* dead MX addresses, from remotes' hostdown records */
};

enum rstate { R_IDLE, R_BUSY, R_QUITTING, R_DEAD };

struct rproc {
	pid_t pid;
	int sock;
	uint32_t dest;
	enum rstate state;
	int greeted;
	uint64_t job;
	time_t since;
	struct buf in;
	int throttle;
	long long throttle_secs;
	char *throttle_text;
};

static struct {
	const char *root;
	const char *remote_path, *bounce_path;
	pid_t bounce_pid;  /* the mailshot-bounce process, 0 = none */
	int bounce_again;  /* files were published since it started */
	int bounce_broken; /* it cannot be run: leave bounce/new/ alone */
	int once, drain;
	struct control_value control[SET_COUNT];
	struct schedcore_config cfg;
	struct routes routes;
	struct domain_policies domains;
	struct schedcore *core;
	struct batch **batches;
	size_t nbatches, batch_cap;
	size_t *free_slots;
	size_t nfree;
	struct sdest *dests;
	size_t ndests, dest_cap;
	struct rproc *procs;
	size_t nprocs, proc_cap;
	size_t *dirty;
	size_t ndirty, dirty_cap;
	struct buf bounces;
	unsigned long bounce_seq;
	size_t pending;
	long long flush_due; /* ms; 0 = nothing pending */
	struct log_writer log;
	struct spool_head *head;
	int trigger_fd, trigger_wfd;
	int sigpipe[2];
	int blocked; /* a start could not get a remote: wait for an event */
	int stopping;
	size_t delivered, failed, deferred, expired;
	long long status_due; /* ms: when queue/status is written next */
	time_t started;
	int notify_fd;	/* --notify-fd, until readiness is told; else -1 */
	int timestamps; /* --timestamps: stderr lines begin with the time */
	int lock_fd;	/* queue/, flocked for the process's life */
} S;

static const char prog[] = "mailshot-sched";

static volatile sig_atomic_t got_term, got_hup, got_alrm, got_chld;

static void
on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGALRM)
		got_alrm = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
	if (write(S.sigpipe[1], "", 1) < 0) {
		/* full: a wakeup is pending anyway */
	}
	errno = saved;
}

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The core's seconds, from the same clock as now_ms(): time() may lag
 * it by a tick, and a wake time computed from one and waited for with
 * the other would spin at second boundaries. */
static time_t
now_s(void)
{
	return (time_t)(now_ms() / 1000);
}

/*
 * A line on stderr, written with one write(2): the programs sched starts
 * share its stderr, and a supervisor's logger (svlogd, s6-log) must get
 * whole lines.  With --timestamps it starts with the UTC time as the
 * delivery log writes it, for loggers that add none; svlogd -tt and
 * s6-log t/T add their own.
 */
static void
say_line(const char *kind, const char *fmt, va_list ap)
{
	struct buf line = BUF_INIT;
	if (S.timestamps) {
		log_timestamp(&line);
		buf_append_char(&line, ' ');
	}
	buf_printf(&line, "%s: %s", prog, kind);
	buf_vprintf(&line, fmt, ap);
	buf_append_char(&line, '\n');
	for (size_t off = 0; off < line.len;) {
		ssize_t n = write(2, line.data + off, line.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_free(&line);
}

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say_line("", fmt, ap);
	va_end(ap);
}

/* die.h's die, in the shape of say's lines (the same "PROG: fatal: what"
 * as fatal() writes, with the time under --timestamps). */
#undef die
#define die(code, ...) sched_die((code), __VA_ARGS__)
static void
sched_die(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
static void
sched_die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say_line("fatal: ", fmt, ap);
	va_end(ap);
	fflush(NULL);
	_exit(code);
}

static void
iso_time(char *out, size_t n, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- configuration ---- */

static void
read_table(const char *name, struct buf *text, struct buf *path, struct buf *err, int *bad)
{
	int permanent;
	buf_reset(text);
	buf_reset(path);
	buf_printf(path, "%s/control/%s", S.root, name);
	if (input_read_file(path->data, 1 << 20, text, err, &permanent) == -1) {
		if (access(path->data, F_OK) == -1 && errno == ENOENT) {
			buf_reset(err);
			buf_reset(text);
		} else {
			*bad = 1;
		}
	}
	buf_cstr(text);
}

/*
 * Reads control/: into fresh structures, which replace the running ones
 * only when all of it is good.  Returns 0, or -1 with err.
 */
static int
load_control(struct buf *err)
{
	struct control_value values[SET_COUNT];
	struct schedcore_config cfg;
	struct routes routes = {0};
	struct domain_policies domains = {0};
	struct buf text = BUF_INIT, path = BUF_INIT;
	int bad = 0;
	if (control_load(S.root, settings, values, err) == -1)
		goto fail_early;
	schedcore_config_default(&cfg);
	cfg.seed = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	cfg.max_inflight = (unsigned)values[SET_CONCURRENCY].number;
	cfg.pause_min = values[SET_PAUSEMIN].number;
	cfg.pause_max = values[SET_PAUSEMAX].number;
	if (cfg.pause_max < cfg.pause_min) {
		buf_printf(err, "%s/control/pausemax: shorter than pausemin", S.root);
		goto fail;
	}
	const char *why = NULL;
	long long life;
	if (when_parse_duration(values[SET_LIFETIME].text, &life, &why) == -1 || life < 1 ||
	    life > SCHEDCORE_LIFETIME_MAX) {
		buf_printf(err, "%s/control/queuelifetime: not a duration from 1s to 10 years (%s)",
			   S.root, why ? why : "out of range");
		goto fail;
	}
	cfg.queue_lifetime = life;
	read_table("retry", &text, &path, err, &bad);
	if (bad)
		goto fail;
	if (text.len > 0 && schedcore_retry_parse(text.data, text.len, path.data, &cfg.retry, err) == -1)
		goto fail;
	read_table("smtproutes", &text, &path, err, &bad);
	if (bad || route_parse(text.data, text.len, path.data, &routes, err) == -1)
		goto fail;
	read_table("domains", &text, &path, err, &bad);
	if (bad || domains_parse(text.data, text.len, path.data, &domains, err) == -1)
		goto fail;
	struct domain_policy def;
	domains_lookup(&domains, "*", &def);
	cfg.default_concurrency = def.concurrency > 0 ? (unsigned)def.concurrency : 10;
	if ((why = schedcore_config_check(&cfg)) != NULL) {
		buf_printf(err, "%s/control: %s", S.root, why);
		goto fail;
	}
	if (S.core != NULL) {
		cfg.seed = S.cfg.seed;
		if (schedcore_reconfigure(S.core, &cfg, now_s(), &why) == -1) {
			buf_printf(err, "%s/control: %s", S.root, why);
			goto fail;
		}
	}
	control_free(settings, S.control);
	memcpy(S.control, values, sizeof values);
	route_free(&S.routes);
	domains_free(&S.domains);
	S.routes = routes;
	S.domains = domains;
	S.cfg = cfg;
	buf_free(&text);
	buf_free(&path);
	return 0;
fail:
	control_free(settings, values);
fail_early:
	route_free(&routes);
	domains_free(&domains);
	buf_free(&text);
	buf_free(&path);
	return -1;
}

/* Applies control/domains to destination d. */
static void
apply_policy(uint32_t d)
{
	struct domain_policy p;
	struct sdest *sd = &S.dests[d];
	if (sd->route) {
		/* A shared route: its host's line, if any, else the defaults. */
		char host[256];
		snprintf(host, sizeof host, "%s", sd->name);
		char *colon = strrchr(host, ':');
		if (colon)
			*colon = '\0';
		size_t n = strlen(host);
		if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
			memmove(host, host + 1, n - 2);
			host[n - 2] = '\0';
		}
		domains_lookup(&S.domains, host, &p);
	} else {
		domains_lookup(&S.domains, sd->name, &p);
	}
	sd->cap = p.concurrency > 0 ? (unsigned)p.concurrency : S.cfg.default_concurrency;
	schedcore_dest_policy(S.core, d, sd->cap, p.rate > 0 ? (unsigned)p.rate : 0, now_s());
}

/* The destination of a recipient domain: the domain itself, or the
 * shared route (default or subdomain route) that serves it. */
static int
dest_of(const char *domain, uint32_t *out)
{
	char name[SCHEDCORE_NAME_MAX + 1];
	const struct route *r = route_find(&S.routes, domain);
	int shared = r != NULL && (r->domain[0] == '\0' || r->domain[0] == '.');
	if (shared)
		snprintf(name, sizeof name, "%s:%u", r->host, r->port);
	else
		snprintf(name, sizeof name, "%s", domain);
	int rc = schedcore_dest_intern(S.core, name, out);
	if (rc == -1)
		return -1;
	if (rc == 1) {
		if (*out >= S.dest_cap) {
			S.dest_cap = S.dest_cap ? S.dest_cap * 2 : 64;
			S.dests = xrealloc(S.dests, S.dest_cap * sizeof *S.dests);
		}
		struct sdest *sd = &S.dests[*out];
		memset(sd, 0, sizeof *sd);
		sd->name = xstrdup(name);
		sd->domain = xstrdup(domain);
		sd->route = shared;
		hostdown_init(&sd->down, HOSTS_MAX);
		S.ndests = *out + 1;
		apply_policy(*out);
	}
	return 0;
}

/* How long a message in flight at a crash waits: the retry schedule's
 * first interval, at most CRASHED_DELAY. */
static long
crashed_delay(void)
{
	long d = S.cfg.retry.delay[0];
	return d < CRASHED_DELAY ? d : CRASHED_DELAY;
}

/* ---- batches ---- */

static struct batch *
batch_of(uint64_t id, size_t *index)
{
	size_t slot = (size_t)(id >> INDEX_BITS);
	*index = (size_t)(id & ((1u << INDEX_BITS) - 1));
	if (slot >= S.nbatches || S.batches[slot] == NULL || *index >= S.batches[slot]->count)
		return NULL;
	return S.batches[slot];
}

static void
batch_path(struct buf *out, const struct batch *b, const char *suffix)
{
	buf_reset(out);
	buf_printf(out, "%s/queue/%02x/%s%s", S.root, b->dir, b->name, suffix);
}

static void
mark_dirty(size_t slot)
{
	struct batch *b = S.batches[slot];
	if (b->dirty)
		return;
	b->dirty = 1;
	if (S.ndirty == S.dirty_cap) {
		S.dirty_cap = S.dirty_cap ? S.dirty_cap * 2 : 64;
		S.dirty = xrealloc(S.dirty, S.dirty_cap * sizeof *S.dirty);
	}
	S.dirty[S.ndirty++] = slot;
}

static void
pending_one(void)
{
	S.pending++;
	if (S.flush_due == 0)
		S.flush_due = now_ms() + FLUSH_MS;
}

/*
 * Takes a parsed state into memory and queues its open messages.
 * Returns the number queued.
 */
static size_t
batch_adopt(struct queue_state *st, unsigned dir)
{
	struct batch *b = xcalloc(1, sizeof *b);
	b->name = st->batch;
	b->campaign = st->campaign;
	st->batch = st->campaign = NULL;
	b->dir = dir;
	b->created = st->created;
	b->expires = st->expires;
	b->count = (uint32_t)st->count;
	b->pos = st->pos;
	st->pos = NULL;
	b->final = st->final;
	st->final = NULL;
	b->fd = -1;
	size_t slot;
	if (S.nfree > 0) {
		slot = S.free_slots[--S.nfree];
	} else {
		if (S.nbatches == S.batch_cap) {
			S.batch_cap = S.batch_cap ? S.batch_cap * 2 : 256;
			S.batches = xrealloc(S.batches, S.batch_cap * sizeof *S.batches);
		}
		slot = S.nbatches++;
	}
	S.batches[slot] = b;
	size_t queued = 0, crashed = 0;
	time_t now = now_s();
	for (size_t i = 0; i < b->count; i++) {
		if (b->final[i] != QUEUE_OPEN)
			continue;
		b->open++;
		uint32_t dest;
		if (dest_of(st->domain[i], &dest) == -1)
			die(EXIT_TEMP, "%s: message %zu: unusable destination %s", b->name, i,
			    st->domain[i]);
		struct schedcore_msg m = {
			.id = ((uint64_t)slot << INDEX_BITS) | i,
			.dest = dest,
			.created = b->created,
			.expires = b->expires,
			.next_attempt = st->next[i],
			.attempts = st->attempts[i],
			.test = st->test[i],
		};
		if (st->started[i]) {
			/* In flight when sched stopped without an outcome (a
			 * crash): it may have been delivered.  It counts as an
			 * attempt and waits a little behind the rest, so that a
			 * sched crashing again and again does not send the same
			 * messages at the head of the queue each time. */
			m.attempts++;
			if (m.next_attempt < now + crashed_delay())
				m.next_attempt = now + crashed_delay();
			crashed++;
		}
		if (schedcore_add(S.core, &m, now) != SCHEDCORE_ADDED)
			die(EXIT_TEMP, "%s: message %zu: the queue is full", b->name, i);
		queued++;
	}
	if (crashed)
		say("%s: %zu messages were in flight at a crash: due again in %ld s", b->name, crashed,
		    crashed_delay());
	if (b->open == 0) { /* finished before the restart: remove it */
		mark_dirty(slot);
		pending_one();
	}
	queue_state_free(st);
	return queued;
}

static void
batch_free(struct batch *b)
{
	if (b->fd != -1)
		close(b->fd);
	free(b->name);
	free(b->campaign);
	free(b->pos);
	free(b->final);
	buf_free(&b->journal);
	free(b);
}

/* A batch whose messages are all final and flushed: its files go (the
 * batch first: a state file alone is recognisably finished), its slot
 * is reused. */
static void
batch_release(size_t slot)
{
	struct batch *b = S.batches[slot];
	struct buf path = BUF_INIT;
	batch_path(&path, b, "");
	if (unlink(path.data) == -1 && errno != ENOENT)
		say("warning: unable to remove %s: %s", path.data, strerror(errno));
	batch_path(&path, b, ".state");
	if (unlink(path.data) == -1 && errno != ENOENT)
		say("warning: unable to remove %s: %s", path.data, strerror(errno));
	buf_free(&path);
	batch_free(b);
	S.batches[slot] = NULL;
	S.free_slots = xrealloc(S.free_slots, (S.nfree + 1) * sizeof *S.free_slots);
	S.free_slots[S.nfree++] = slot;
}

/* Reads message index's envelope; 0 or -1 (err set). */
static int
read_head(struct batch *b, size_t index, struct spool_read_message *m, struct buf *err)
{
	if (b->fd == -1) {
		struct buf path = BUF_INIT;
		batch_path(&path, b, "");
		b->fd = open(path.data, O_RDONLY | O_CLOEXEC);
		if (b->fd == -1) {
			buf_printf(err, "unable to open %s: %s", path.data, strerror(errno));
			buf_free(&path);
			return -1;
		}
		buf_free(&path);
	}
	if (spool_head_read(S.head, b->fd, b->pos[index].offset, b->pos[index].length, index, m,
			    err) == -1) {
		buf_printf(err, " (%s)", b->name);
		return -1;
	}
	return 0;
}

/* ---- outcomes ---- */

struct outcome {
	const char *rcpt, *code, *enhanced, *mx_name, *mx_addr, *tls, *ms, *text;
};

static void
record_final(uint64_t id, int what, unsigned attempts, const struct outcome *o, time_t now)
{
	size_t index;
	struct batch *b = batch_of(id, &index);
	if (b == NULL || b->final[index] != QUEUE_OPEN)
		return;
	size_t slot = (size_t)(id >> INDEX_BITS);
	b->final[index] = (unsigned char)what;
	b->open--;
	queue_journal_final(&b->journal, what, index, now);
	mark_dirty(slot);
	pending_one();
	if (what == QUEUE_DELIVERED) {
		/* resets the address's soft-bounce count (docs/bounce.md) */
		if (S.control[SET_SOFTLIMIT].number > 0 && o != NULL && o->rcpt[0] != '\0')
			queue_delivered_format(&S.bounces, b->campaign, o->rcpt, now);
		return;
	}
	/* failed or expired: to the bounce hand-off, with the envelope. */
	struct spool_read_message m;
	struct buf err = BUF_INIT;
	int have = read_head(b, index, &m, &err) == 0;
	if (!have)
		say("warning: %s", err.data);
	struct queue_bounce qb = {
		.campaign = b->campaign,
		.batch = b->name,
		.index = index,
		.rcpt = have ? m.recipient : (o ? o->rcpt : ""),
		.sender = have ? m.sender : "",
		.status = what == QUEUE_FAILED ? "failed" : "expired",
		.code = o ? o->code : "",
		.enhanced = o ? o->enhanced : "",
		.mx_name = o ? o->mx_name : "",
		.mx_addr = o ? o->mx_addr : "",
		.attempts = attempts,
		.when = now,
		.message_id = have ? m.message_id : "",
		.text = o ? o->text : "",
	};
	queue_bounce_format(&S.bounces, &qb);
	buf_free(&err);
}

static void
log_outcome(const char *event, uint64_t id, uint32_t dest, unsigned attempts,
	    const struct outcome *o, const char *next, int throttled)
{
	size_t index;
	struct batch *b = batch_of(id, &index);
	char idx[24], att[16];
	snprintf(idx, sizeof idx, "%zu", index);
	snprintf(att, sizeof att, "%u", attempts);
	log_event(&S.log, event, "campaign", b ? b->campaign : "-", "batch", b ? b->name : "-",
		  "index", idx, "rcpt", o->rcpt, "dest",
		  dest < S.ndests ? S.dests[dest].name : "-", "mx", o->mx_name, "addr", o->mx_addr,
		  "attempt", att, "code", o->code, "enhanced", o->enhanced, "tls", o->tls, "ms",
		  o->ms, "next", next, "throttle", throttled ? "1" : NULL, "text", o->text,
		  (char *)NULL);
	pending_one();
}

/* An attempt's outcome, from a remote's result or a local failure. */
static void
outcome(uint64_t id, enum schedcore_outcome oc, long long retry_after, int throttle,
	struct outcome *o)
{
	time_t now = now_s();
	struct schedcore_result res;
	if (schedcore_report(S.core, id, now, oc, retry_after, throttle, o->text, &res) == -1) {
		say("warning: an outcome for a message not in flight (%" PRIx64 ")", id);
		return;
	}
	size_t index;
	struct batch *b = batch_of(id, &index);
	if (b != NULL && b->inflight > 0 && --b->inflight == 0 && b->fd != -1) {
		close(b->fd);
		b->fd = -1;
	}
	char next[32] = "";
	switch (res.fate) {
	case SCHEDCORE_FATE_DELIVERED:
		S.delivered++;
		log_outcome("delivered", id, res.dest, res.attempts, o, NULL, 0);
		record_final(id, QUEUE_DELIVERED, res.attempts, o, now);
		break;
	case SCHEDCORE_FATE_FAILED:
		S.failed++;
		log_outcome("bounced", id, res.dest, res.attempts, o, NULL, 0);
		record_final(id, QUEUE_FAILED, res.attempts, o, now);
		break;
	case SCHEDCORE_FATE_EXPIRED:
		S.expired++;
		log_outcome("expired", id, res.dest, res.attempts, o, NULL, 0);
		record_final(id, QUEUE_EXPIRED, res.attempts, o, now);
		break;
	case SCHEDCORE_FATE_RETRY:
		S.deferred++;
		iso_time(next, sizeof next, res.next_attempt);
		log_outcome("deferred", id, res.dest, res.attempts, o, next, res.throttled);
		if (b != NULL) {
			queue_journal_retry(&b->journal, index, res.attempts, res.next_attempt);
			mark_dirty((size_t)(id >> INDEX_BITS));
			pending_one();
		}
		break;
	}
}

static void
local_deferral(uint64_t id, const char *text)
{
	size_t index;
	struct batch *b = batch_of(id, &index);
	struct spool_read_message m;
	struct buf err = BUF_INIT;
	const char *rcpt = b != NULL && read_head(b, index, &m, &err) == 0 ? m.recipient : "";
	struct outcome o = {rcpt, "", "4.3.0", "", "", "", "0", text};
	outcome(id, SCHEDCORE_DEFERRED, -1, 0, &o);
	buf_free(&err);
}

/* ---- the bounce process ---- */

/*
 * Starts `mailshot-bounce process` for the files in bounce/new/, unless
 * one runs; then it runs again when that one ends.  Failures are
 * bounce's to report; the files wait in bounce/new/ meanwhile.
 */
static void
bounce_kick(void)
{
	if (S.bounce_broken)
		return;
	if (S.bounce_pid > 0) {
		S.bounce_again = 1;
		return;
	}
	S.bounce_again = 0;
	pid_t pid = fork();
	if (pid == -1) {
		say("warning: unable to start %s: %s", S.bounce_path, strerror(errno));
		S.bounce_again = 1;
		return;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		signal(SIGINT, SIG_IGN);
		int null = open("/dev/null", O_RDONLY);
		if (null != -1)
			dup2(null, 0);
		/* its log lines go to its own stderr, which is ours */
		execl(S.bounce_path, "mailshot-bounce", "--spool", S.root, "process", (char *)NULL);
		say("unable to run %s: %s", S.bounce_path, strerror(errno));
		_exit(127);
	}
	S.bounce_pid = pid;
}

static void
bounce_reaped(int status)
{
	S.bounce_pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		say("warning: %s cannot be run; bounces wait in bounce/new/", S.bounce_path);
		S.bounce_broken = 1;
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		say("warning: mailshot-bounce process ended with %s %d; its files wait in "
		    "bounce/new/",
		    WIFEXITED(status) ? "exit code" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else if (S.bounce_again)
		bounce_kick();
}

/* At exit: the bounce process finishes what was handed off (and runs
 * once more for what came while it ran). */
static void
bounce_finish(void)
{
	for (int round = 0; round < 3 && S.bounce_pid > 0; round++) {
		int status;
		while (waitpid(S.bounce_pid, &status, 0) == -1 && errno == EINTR)
			;
		bounce_reaped(status);
	}
}

/* ---- flushing ---- */

static int
flush(void)
{
	struct buf err = BUF_INIT;
	if (S.bounces.len > 0) {
		if (queue_bounce_publish(S.root, &S.bounces, S.bounce_seq++, &err) == -1) {
			say("warning: %s (will try again)", err.data);
			buf_free(&err);
			S.flush_due = now_ms() + 1000;
			return -1;
		}
		buf_reset(&S.bounces);
		bounce_kick();
	}
	/* The log before the journal: a crash between them leaves an outcome
	 * logged whose final line is not on disk (the message is tried, and
	 * logged, again), never a final line without its log line. */
	if (S.log.pending.len > 0) {
		fwrite(S.log.pending.data, 1, S.log.pending.len, stderr);
		fflush(stderr);
		if (log_flush(&S.log, &err) == -1) {
			say("warning: %s", err.data);
			buf_reset(&S.log.pending);
		}
	}
	size_t kept = 0;
	struct buf path = BUF_INIT;
	for (size_t i = 0; i < S.ndirty; i++) {
		size_t slot = S.dirty[i];
		struct batch *b = S.batches[slot];
		if (b == NULL)
			continue;
		if (b->journal.len > 0) {
			batch_path(&path, b, ".state");
			int fd = open(path.data, O_WRONLY | O_APPEND | O_CLOEXEC);
			struct stat sb;
			int ok = fd != -1 && fstat(fd, &sb) == 0;
			if (ok) {
				ssize_t w = write(fd, b->journal.data, b->journal.len);
				ok = w == (ssize_t)b->journal.len && fdatasync(fd) == 0;
				/* A short write (disk full): cut it off, so that the
				 * retry appends whole lines after whole lines. */
				if (!ok && ftruncate(fd, sb.st_size) == -1)
					say("warning: unable to truncate %s: %s", path.data,
					    strerror(errno));
			}
			int saved = errno;
			if (fd != -1)
				close(fd);
			if (!ok) {
				say("warning: unable to append to %s: %s (will try again)", path.data,
				    strerror(saved));
				S.dirty[kept++] = slot;
				continue;
			}
			buf_reset(&b->journal);
		}
		b->dirty = 0;
		if (b->open == 0 && b->inflight == 0)
			batch_release(slot);
	}
	S.ndirty = kept;
	buf_free(&path);
	buf_free(&err);
	S.pending = 0;
	S.flush_due = kept ? now_ms() + 1000 : 0;
	return kept ? -1 : 0;
}

/* ---- intake and restart ---- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of batch files in dir (B.*, no suffix), sorted. */
static char **
list_batches(const char *dir, size_t *n, char ***states, size_t *nstates)
{
	char **names = NULL;
	*n = 0;
	if (states)
		*states = NULL, *nstates = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return NULL;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		const char *s = e->d_name;
		size_t len = strlen(s);
		if (s[0] == '.' && len > 8 && strcmp(s + len - 6, ".state") == 0 && states) {
			/* a torn state file write */
			char p[PATH_MAX];
			snprintf(p, sizeof p, "%s/%s", dir, s);
			unlink(p);
			continue;
		}
		if (strncmp(s, "B.", 2) != 0)
			continue;
		if (len > 6 && strcmp(s + len - 6, ".state") == 0) {
			if (states) {
				*states = xrealloc(*states, (*nstates + 1) * sizeof **states);
				(*states)[(*nstates)++] = xstrdup(s);
			}
			continue;
		}
		if (!spool_valid_id(s))
			continue;
		names = xrealloc(names, (*n + 1) * sizeof *names);
		names[(*n)++] = xstrdup(s);
	}
	closedir(d);
	if (*n > 1)
		qsort(names, *n, sizeof *names, name_cmp);
	return names;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Restart: every state file of queue/NN/. */
static size_t
load_queue(void)
{
	size_t queued = 0, batches = 0;
	struct buf dir = BUF_INIT, path = BUF_INIT, err = BUF_INIT;
	for (unsigned nn = 0; nn < QUEUE_DIRS; nn++) {
		buf_reset(&dir);
		buf_printf(&dir, "%s/queue/%02x", S.root, nn);
		size_t n, nstates;
		char **states;
		char **names = list_batches(dir.data, &n, &states, &nstates);
		for (size_t i = 0; i < n; i++) {
			struct queue_state st;
			int missing;
			buf_reset(&path);
			buf_printf(&path, "%s/%s.state", dir.data, names[i]);
			buf_reset(&err);
			if (queue_state_read(path.data, names[i], &st, &err, &missing) == -1) {
				if (!missing)
					die(EXIT_TEMP, "%s", err.data);
				/* Taken in, state not yet written: build it again. */
				buf_reset(&path);
				buf_printf(&path, "%s/%s", dir.data, names[i]);
				int permanent;
				buf_reset(&err);
				if (queue_state_from_batch(path.data, names[i], &st, &err,
							   &permanent) == -1 ||
				    queue_state_write(dir.data, &st, &err) == -1)
					die(EXIT_TEMP, "%s", err.data);
			}
			if (st.journal_ignored)
				say("warning: %s: %zu malformed journal lines ignored", path.data,
				    st.journal_ignored);
			queued += batch_adopt(&st, nn);
			batches++;
		}
		/* State files whose batch is gone: a finished batch. */
		for (size_t i = 0; i < nstates; i++) {
			char base[NAME_MAX + 1];
			snprintf(base, sizeof base, "%s", states[i]);
			base[strlen(base) - 6] = '\0';
			if (bsearch(&(char *){base}, names, n, sizeof *names, name_cmp) == NULL) {
				buf_reset(&path);
				buf_printf(&path, "%s/%s", dir.data, states[i]);
				/* Normally a finished batch; say so if it was not. */
				struct queue_state st;
				int missing;
				buf_reset(&err);
				if (queue_state_read(path.data, base, &st, &err, &missing) == 0) {
					size_t open = 0;
					for (size_t k = 0; k < st.count; k++)
						open += st.final[k] == QUEUE_OPEN;
					if (open)
						say("warning: %s: its batch is missing; %zu undelivered "
						    "messages lost",
						    path.data, open);
					queue_state_free(&st);
				}
				unlink(path.data);
			}
		}
		free_names(states, nstates);
		free_names(names, n);
	}
	buf_free(&dir);
	buf_free(&path);
	buf_free(&err);
	if (batches)
		say("queue: %zu batches, %zu messages to deliver", batches, queued);
	return queued;
}

/* Takes what is in new/ into the queue.  Returns the messages queued. */
static size_t
intake(void)
{
	struct buf dir = BUF_INIT, from = BUF_INIT, to = BUF_INIT, err = BUF_INIT;
	buf_printf(&dir, "%s/new", S.root);
	size_t n;
	char **names = list_batches(dir.data, &n, NULL, NULL);
	size_t queued = 0;
	int touched[QUEUE_DIRS] = {0}, any = 0;
	for (size_t i = 0; i < n; i++) {
		struct schedcore_stats stats;
		schedcore_stats(S.core, &stats);
		if (stats.messages + SPOOL_BATCH_MAX_MESSAGES * 16 > S.cfg.max_messages)
			break; /* full: the rest waits in new/ */
		buf_reset(&from);
		buf_printf(&from, "%s/%s", dir.data, names[i]);
		struct queue_state st;
		int permanent;
		buf_reset(&err);
		if (queue_state_from_batch(from.data, names[i], &st, &err, &permanent) == -1) {
			if (!permanent) {
				say("warning: %s (will try again)", err.data);
				continue;
			}
			/* Never deleted: put aside for a person to look at. */
			say("error: %s: moved to queue/bad/", err.data);
			struct buf e2 = BUF_INIT;
			spool_make_dir(S.root, "queue/bad", 0700, &e2);
			buf_reset(&to);
			buf_printf(&to, "%s/queue/bad/%s", S.root, names[i]);
			if (rename(from.data, to.data) == -1)
				say("warning: unable to move %s: %s", from.data, strerror(errno));
			buf_free(&e2);
			continue;
		}
		unsigned nn = queue_dir(names[i]);
		char sub[16];
		snprintf(sub, sizeof sub, "queue/%02x", nn);
		buf_reset(&to);
		buf_printf(&to, "%s/%s", S.root, sub);
		if (spool_make_dir(S.root, sub, 0750, &err) == -1) /* report reads */
			die(EXIT_TEMP, "%s", err.data);
		buf_printf(&to, "/%s", names[i]);
		if (rename(from.data, to.data) == -1)
			die(EXIT_TEMP, "unable to move %s into the queue: %s", from.data,
			    strerror(errno));
		buf_reset(&to);
		buf_printf(&to, "%s/%s", S.root, sub);
		if (queue_state_write(to.data, &st, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
		touched[nn] = any = 1;
		queued += batch_adopt(&st, nn);
	}
	if (any) {
		for (unsigned nn = 0; nn < QUEUE_DIRS; nn++) {
			char sub[16];
			snprintf(sub, sizeof sub, "queue/%02x", nn);
			if (touched[nn] && spool_sync_dir(S.root, sub, &err) == -1)
				die(EXIT_TEMP, "%s", err.data);
		}
		if (spool_sync_dir(S.root, "new", &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
	}
	free_names(names, n);
	buf_free(&dir);
	buf_free(&from);
	buf_free(&to);
	buf_free(&err);
	return queued;
}

static int
new_is_empty(void)
{
	struct buf dir = BUF_INIT;
	buf_printf(&dir, "%s/new", S.root);
	size_t n;
	char **names = list_batches(dir.data, &n, NULL, NULL);
	free_names(names, n);
	buf_free(&dir);
	return n == 0;
}

/* ---- remotes ---- */

static void
send_line(struct rproc *p, const struct buf *line, int fd)
{
	struct iovec iov = {line->data, line->len};
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int))];
	} control;
	memset(&control, 0, sizeof control);
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		mh.msg_control = control.space;
		mh.msg_controllen = sizeof control.space;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	do
		n = sendmsg(p->sock, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)line->len)
		p->state = p->state == R_BUSY ? R_BUSY : R_DEAD, shutdown(p->sock, SHUT_RDWR);
}

static void
quit_proc(struct rproc *p)
{
	if (p->state != R_IDLE)
		return;
	struct buf q = BUF_INIT;
	buf_append_str(&q, "quit\n");
	send_line(p, &q, -1);
	buf_free(&q);
	p->state = R_QUITTING;
}

/* Sends p the addresses of its destination that are down now. */
static void
send_hosts(struct rproc *p)
{
	struct buf out = BUF_INIT;
	hostdown_records(&S.dests[p->dest].down, 0, now_s(), &out);
	if (out.len)
		send_line(p, &out, -1);
	buf_free(&out);
}

static struct rproc *
spawn(uint32_t dest)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		say("warning: socketpair: %s", strerror(errno));
		return NULL;
	}
	pid_t pid = fork();
	if (pid == -1) {
		say("warning: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGINT, SIG_IGN); /* a ^C is for sched, which quits them */
		if (dup2(sv[1], 0) == -1 || dup2(sv[1], 1) == -1)
			_exit(111);
		execl(S.remote_path, "mailshot-remote", "--spool", S.root, "--session",
		      S.dests[dest].domain, (char *)NULL);
		say("unable to run %s: %s", S.remote_path, strerror(errno));
		_exit(111);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	if (S.nprocs == S.proc_cap) {
		S.proc_cap = S.proc_cap ? S.proc_cap * 2 : 16;
		S.procs = xrealloc(S.procs, S.proc_cap * sizeof *S.procs);
	}
	struct rproc *p = &S.procs[S.nprocs++];
	memset(p, 0, sizeof *p);
	p->pid = pid;
	p->sock = sv[0];
	p->dest = dest;
	p->state = R_IDLE;
	p->since = now_s();
	S.dests[dest].procs++;
	/* The socket is non-blocking for reading; sending our small records
	 * cannot fill it (one job at a time). */
	struct buf hello = BUF_INIT;
	buf_printf(&hello, "hello mailshot-sched %d\n", PROTO_VERSION);
	int fl = fcntl(p->sock, F_GETFL);
	fcntl(p->sock, F_SETFL, fl & ~O_NONBLOCK);
	send_line(p, &hello, -1);
	send_hosts(p);
	fcntl(p->sock, F_SETFL, fl);
	buf_free(&hello);
	return p;
}

/* Starts the attempt the core handed out.  Returns 0, or -1 when no
 * remote could take it now (it was given back to the core). */
static int
start(const struct schedcore_event *ev)
{
	time_t now = now_s();
	size_t index;
	struct batch *b = batch_of(ev->id, &index);
	struct spool_read_message m;
	struct buf err = BUF_INIT, line = BUF_INIT;
	if (b == NULL) {
		schedcore_cancel(S.core, ev->id);
		return 0;
	}
	b->inflight++;
	if (read_head(b, index, &m, &err) == -1) {
		say("warning: %s", err.data);
		buf_free(&err);
		local_deferral(ev->id, "local: unable to read the message from the queue");
		return 0;
	}
	buf_free(&err);
	struct rproc *p = NULL, *victim = NULL;
	size_t alive = 0;
	for (size_t i = 0; i < S.nprocs; i++) {
		struct rproc *q = &S.procs[i];
		if (q->state == R_IDLE && q->dest == ev->dest && p == NULL)
			p = q;
		else if (q->state == R_IDLE && (victim == NULL || q->since < victim->since))
			victim = q; /* the one idle longest */
		alive++;
	}
	if (p == NULL) {
		struct sdest *sd = &S.dests[ev->dest];
		if (alive >= S.cfg.max_inflight || sd->procs >= sd->cap) {
			/* No room: free a slot held by an idle remote elsewhere,
			 * and try again when it has gone. */
			if (victim != NULL)
				quit_proc(victim);
			goto later;
		}
		p = spawn(ev->dest);
		if (p == NULL)
			goto later;
	}
	char id[24];
	snprintf(id, sizeof id, "%" PRIx64, ev->id);
	buf_printf(&line, "job %s %lld %zu %s %zu ", id, m.body_offset, m.body_len,
		   m.deflate ? "deflate" : "identity", m.len);
	proto_field(&line, m.sender);
	buf_append_char(&line, ' ');
	proto_field(&line, m.recipient);
	buf_append_char(&line, '\n');
	int fl = fcntl(p->sock, F_GETFL);
	fcntl(p->sock, F_SETFL, fl & ~O_NONBLOCK);
	p->state = R_BUSY;
	p->job = ev->id;
	send_line(p, &line, b->fd);
	fcntl(p->sock, F_SETFL, fl);
	/* Flushed with the outcomes: after a crash, what was in flight is
	 * known, and goes behind the rest (batch_adopt). */
	queue_journal_start(&b->journal, index, now);
	mark_dirty((size_t)(ev->id >> INDEX_BITS));
	pending_one();
	buf_free(&line);
	(void)now;
	return 0;
later:
	buf_free(&line);
	b->inflight--;
	schedcore_unstart(S.core, ev->id, now);
	S.blocked = 1;
	return -1;
}

/* A remote's hostdown (secs > 0) or hostup (secs 0): kept for the
 * destination's next remotes, and passed on to its other remotes now. */
static void
relay_host(struct rproc *from, const char *addr, long long secs)
{
	struct sdest *sd = &S.dests[from->dest];
	struct buf out = BUF_INIT;
	if (secs > 0) {
		hostdown_merge(&sd->down, addr, 0, secs, now_s());
		buf_append_str(&out, "hostdown ");
		proto_field(&out, addr);
		buf_printf(&out, " %lld\n", secs);
	} else {
		hostdown_answered(&sd->down, addr, 0);
		buf_append_str(&out, "hostup ");
		proto_field(&out, addr);
		buf_append_char(&out, '\n');
	}
	for (size_t k = 0; k < S.nprocs; k++) {
		struct rproc *q = &S.procs[k];
		if (q == from || q->dest != from->dest || q->state == R_DEAD ||
		    q->state == R_QUITTING)
			continue;
		int fl = fcntl(q->sock, F_GETFL);
		fcntl(q->sock, F_SETFL, fl & ~O_NONBLOCK);
		send_line(q, &out, -1);
		fcntl(q->sock, F_SETFL, fl);
	}
	buf_free(&out);
}

/* A remote's job ended without a result (it died, or broke the protocol). */
static void
proc_lost(struct rproc *p, const char *why)
{
	if (p->state == R_BUSY) {
		uint64_t job = p->job;
		p->state = R_DEAD;
		local_deferral(job, why);
	}
	p->state = R_DEAD;
	if (p->sock != -1) {
		close(p->sock);
		p->sock = -1;
	}
	S.blocked = 0;
}

static void
handle_record(struct rproc *p, const char *line, size_t len)
{
	struct buf storage = BUF_INIT;
	const char *f[16];
	int n = proto_split(line, len, &storage, f, 16);
	if (n < 1)
		goto bad;
	if (!p->greeted) {
		if (n != 3 || strcmp(f[0], "hello") != 0 || strcmp(f[1], "mailshot-remote") != 0 ||
		    strcmp(f[2], "1") != 0)
			goto bad;
		p->greeted = 1;
	} else if (strcmp(f[0], "throttle") == 0 && n == 3) {
		p->throttle = 1;
		p->throttle_secs = *f[2] ? atoll(f[2]) : -1;
		free(p->throttle_text);
		p->throttle_text = xstrdup(f[1]);
	} else if (strcmp(f[0], "hostdown") == 0 && n == 3) {
		/* Checked as remote checks them: a malformed one passed on
		 * would make every other remote stop. */
		char *end;
		long long secs = strtoll(f[2], &end, 10);
		if (!hostdown_valid_address(f[1]) || *end != '\0' || f[2][0] < '1' ||
		    f[2][0] > '9' || secs < 1 || secs > 3600)
			goto bad;
		relay_host(p, f[1], secs);
	} else if (strcmp(f[0], "hostup") == 0 && n == 2) {
		if (!hostdown_valid_address(f[1]))
			goto bad;
		relay_host(p, f[1], 0);
	} else if (strcmp(f[0], "result") == 0 && n == 11) {
		/* result ID RCPT STATUS CODE ENHANCED MXNAME MXADDR TLS MS TEXT */
		char id[24];
		snprintf(id, sizeof id, "%" PRIx64, p->job);
		if (p->state != R_BUSY || strcmp(f[1], id) != 0)
			goto bad;
		enum schedcore_outcome oc;
		if (strcmp(f[3], "delivered") == 0)
			oc = SCHEDCORE_DELIVERED;
		else if (strcmp(f[3], "failed") == 0)
			oc = SCHEDCORE_FAILED;
		else if (strcmp(f[3], "deferred") == 0)
			oc = SCHEDCORE_DEFERRED;
		else
			goto bad;
		long long hint = -1;
		if (oc == SCHEDCORE_DEFERRED) {
			hint = smtp_retry_hint(f[10]);
			if (p->throttle && p->throttle_secs > hint)
				hint = p->throttle_secs;
		}
		struct outcome o = {f[2], f[4], f[5], f[6], f[7], f[8], f[9], f[10]};
		int throttle = p->throttle && oc == SCHEDCORE_DEFERRED;
		p->throttle = 0;
		p->state = R_IDLE;
		p->since = now_s();
		outcome(p->job, oc, hint, throttle, &o);
		S.blocked = 0;
		/* A destination that pushes back gets its connections closed:
		 * nothing starts there until its pause ends. */
		struct schedcore_dest_info di;
		if (schedcore_dest_info(S.core, p->dest, &di) == 0 && di.pause_until > now_s())
			for (size_t i = 0; i < S.nprocs; i++)
				if (S.procs[i].dest == p->dest)
					quit_proc(&S.procs[i]);
		if (S.stopping)
			quit_proc(p);
	} else {
		goto bad;
	}
	buf_free(&storage);
	return;
bad:
	buf_free(&storage);
	say("warning: remote %ld for %s: unexpected record; stopped", (long)p->pid,
	    S.dests[p->dest].name);
	kill(p->pid, SIGKILL);
	proc_lost(p, "local: mailshot-remote broke the protocol");
}

static void
read_proc(struct rproc *p)
{
	char b[16384];
	for (;;) {
		ssize_t n = read(p->sock, b, sizeof b);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			proc_lost(p, "local: mailshot-remote ended without a result");
			return;
		}
		buf_append(&p->in, b, (size_t)n);
		if (p->in.len > PROTO_MAX_LINE * 2) {
			kill(p->pid, SIGKILL);
			proc_lost(p, "local: mailshot-remote sent an overlong record");
			return;
		}
	}
	size_t start = 0;
	char *nl;
	while (p->sock != -1 &&
	       (nl = memchr(p->in.data + start, '\n', p->in.len - start)) != NULL) {
		size_t len = (size_t)(nl - (p->in.data + start));
		handle_record(p, p->in.data + start, len);
		start += len + 1;
	}
	if (p->sock == -1)
		buf_reset(&p->in);
	else {
		memmove(p->in.data, p->in.data + start, p->in.len - start);
		buf_truncate(&p->in, p->in.len - start);
	}
}

/* Collects exited remotes and forgets the dead. */
static void
reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == S.bounce_pid) {
			bounce_reaped(status);
			continue;
		}
		for (size_t i = 0; i < S.nprocs; i++) {
			struct rproc *p = &S.procs[i];
			if (p->pid != pid)
				continue;
			if (p->state != R_DEAD && p->sock != -1) {
				/* Exited with its socket still open here: read
				 * what it said last, then it is lost. */
				read_proc(p);
				if (p->sock != -1)
					proc_lost(p, "local: mailshot-remote exited without a result");
			}
			p->pid = 0;
			if (WIFSIGNALED(status))
				say("warning: remote for %s killed by signal %d",
				    S.dests[p->dest].name, WTERMSIG(status));
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < S.nprocs; i++) {
		struct rproc *p = &S.procs[i];
		if (p->pid == 0) {
			if (p->sock != -1)
				close(p->sock);
			S.dests[p->dest].procs--;
			buf_free(&p->in);
			free(p->throttle_text);
			S.blocked = 0;
			continue;
		}
		S.procs[kept++] = *p;
	}
	S.nprocs = kept;
}

static size_t
busy_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < S.nprocs; i++)
		n += S.procs[i].state == R_BUSY;
	return n;
}

/* ---- the loop ---- */

static void
open_trigger(void)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/trigger", S.root);
	if (mkfifo(path.data, 0622) == -1 && errno != EEXIST)
		die(EXIT_TEMP, "unable to create %s: %s", path.data, strerror(errno));
	chmod(path.data, 0622);
	S.trigger_fd = open(path.data, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (S.trigger_fd == -1)
		die(EXIT_TEMP, "unable to open %s: %s", path.data, strerror(errno));
	/* Our own writer keeps the FIFO from reporting end of file forever
	 * once an enqueue has closed it. */
	S.trigger_wfd = open(path.data, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	buf_free(&path);
}

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: mailshot-sched [--spool DIR] [--once | --drain] [--notify-fd N] "
		"[--timestamps]\n"
		"  --once    attempt everything due now, wait for the results, exit\n"
		"  --drain   deliver until the queue is empty, then exit\n"
		"  --notify-fd N  write a newline to descriptor N and close it when ready\n"
		"                 (s6's notification-fd)\n"
		"  --timestamps   begin each stderr line with the UTC time\n"
		"  --dump-config  print the settings in force and exit\n");
	exit(code);
}

/*
 * --notify-fd N: the descriptor a supervisor reads readiness from (s6:
 * the service directory's notification-fd file names it).  Checked before
 * sched opens anything, so that N cannot be a file of its own; close on
 * exec, so that no remote holds it open after sched has told readiness.
 */
static int
notify_fd_check(const char *arg)
{
	char *end;
	errno = 0;
	long n = strtol(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || n < 3 || n > INT_MAX)
		die(EXIT_PERM, "--notify-fd %s: not a descriptor number of 3 or more", arg);
	int fl = fcntl((int)n, F_GETFL);
	if (fl == -1)
		die(EXIT_PERM, "--notify-fd %ld: not an open descriptor: %s", n, strerror(errno));
	if ((fl & O_ACCMODE) == O_RDONLY)
		die(EXIT_PERM, "--notify-fd %ld: not open for writing", n);
	if (fcntl((int)n, F_SETFD, FD_CLOEXEC) == -1)
		die(EXIT_PERM, "--notify-fd %ld: %s", n, strerror(errno));
	return (int)n;
}

/* Ready: the queue is loaded, new/ taken in, the trigger FIFO open, so
 * mail enqueued from now on is seen.  A newline and close, as s6 wants;
 * a reader that has gone is worth a warning, not a stop. */
static void
tell_ready(void)
{
	struct schedcore_stats st;
	schedcore_stats(S.core, &st);
	say("ready: pid %ld, %zu messages queued", (long)getpid(), st.messages);
	if (S.notify_fd == -1)
		return;
	ssize_t n;
	do
		n = write(S.notify_fd, "\n", 1);
	while (n == -1 && errno == EINTR);
	if (n != 1)
		say("warning: --notify-fd %d: unable to tell readiness: %s", S.notify_fd,
		    n == -1 ? strerror(errno) : "short write");
	close(S.notify_fd);
	S.notify_fd = -1;
}

/*
 * One sched per spool: a second would take the same batches from new/
 * and send everything in queue/ again.  An flock on the queue/ directory
 * itself (no lock file to explain or to leave behind), held for the
 * process's life: the kernel drops it at any end, kill -9 included, and
 * it is close on exec, so remotes never hold it.  The one refused -- a
 * cron `--once` while the daemon runs, say -- exits 111 (try later),
 * naming the holder when queue/status does.
 */
static void
lock_spool(void)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/queue", S.root);
	int fd = open(path.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		die(EXIT_TEMP, "unable to open %s: %s", path.data, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			die(EXIT_TEMP, "unable to lock %s: %s", path.data, strerror(errno));
		char holder[32] = "unknown", line[64];
		buf_append_str(&path, "/status");
		FILE *f = fopen(path.data, "r");
		while (f != NULL && fgets(line, sizeof line, f) != NULL && line[0] != '\n')
			if (sscanf(line, "pid %20[0-9]", holder) == 1)
				break;
		if (f != NULL)
			fclose(f);
		buf_truncate(&path, path.len - strlen("/status"));
		die(EXIT_TEMP, "%s: another mailshot-sched (pid %s) works on this spool", path.data,
		    holder);
	}
	S.lock_fd = fd;
	buf_free(&path);
}

/* The program NAME beside ours (or $ENV when set). */
static const char *
find_sibling(const char *argv0, const char *env_name, const char *name, char *path, size_t size)
{
	const char *env = getenv(env_name);
	if (env != NULL && *env)
		return env;
	char self[PATH_MAX];
	ssize_t n = -1;
	if (strchr(argv0, '/') != NULL) {
		snprintf(self, sizeof self, "%s", argv0);
		n = (ssize_t)strlen(self);
	} else {
		n = readlink("/proc/self/exe", self, sizeof self - 1);
	}
	if (n <= 0)
		return name;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash != NULL)
		*slash = '\0';
	snprintf(path, size, "%s/%s", slash != NULL ? self : ".", name);
	return path;
}

/*
 * queue/status: what sched holds in memory, for `mailshot-report queue`
 * (docs/spool.md): written every STATUS_MS while sched runs (write,
 * rename; no fsync: it is a view, not state), removed at a clean exit.
 * Destinations with nothing queued and no pause are left out; at most
 * STATUS_DESTS are listed, the busiest first.
 */
#define STATUS_MS 2000
#define STATUS_DESTS 10000

struct status_row {
	size_t queued;
	uint32_t dest;
};

static int
cmp_status_row(const void *a, const void *b)
{
	const struct status_row *x = a, *y = b;
	if (x->queued != y->queued)
		return x->queued > y->queued ? -1 : 1;
	return x->dest < y->dest ? -1 : x->dest > y->dest;
}

static void
write_status(void)
{
	time_t now = now_s();
	struct schedcore_stats st;
	schedcore_stats(S.core, &st);
	struct buf out = BUF_INIT;
	buf_printf(&out, "mailshot-sched-status 1\npid %ld\ntime %lld\nstarted %lld\n",
		   (long)getpid(), (long long)now, (long long)S.started);
	buf_printf(&out, "messages %zu\nready %zu\nwaiting %zu\ninflight %zu\ndests %zu\n",
		   st.messages, st.ready, st.waiting, st.inflight, st.dests);
	buf_printf(&out, "totals %zu %zu %zu %zu\n\n", S.delivered, S.failed, S.deferred,
		   S.expired);
	size_t n = schedcore_dest_count(S.core), nrows = 0, cap = 0;
	struct status_row *rows = NULL;
	for (size_t d = 0; d < n; d++) {
		struct schedcore_dest_info di;
		if (schedcore_dest_info(S.core, (uint32_t)d, &di) == -1)
			continue;
		size_t q = di.ready + di.waiting + di.inflight;
		if (q == 0 && di.pause_until <= now)
			continue;
		if (nrows == cap) {
			cap = cap ? 2 * cap : 64;
			rows = xrealloc(rows, cap * sizeof *rows);
		}
		rows[nrows++] = (struct status_row){q, (uint32_t)d};
	}
	if (nrows)
		qsort(rows, nrows, sizeof *rows, cmp_status_row);
	for (size_t i = 0; i < nrows && i < STATUS_DESTS; i++) {
		struct schedcore_dest_info di;
		if (schedcore_dest_info(S.core, rows[i].dest, &di) == -1)
			continue;
		/* dest NAME READY WAITING INFLIGHT WINDOW CAP RATE PAUSE_UNTIL
		 * BACKOFF ERROR_AT DELIVERED FAILED DEFERRED EXPIRED THROTTLES ERROR */
		buf_append_str(&out, "dest ");
		spool_escape(&out, di.name, strlen(di.name));
		buf_printf(&out, " %zu %zu %zu %u %u %u %lld %lld %lld %llu %llu %llu %llu %llu ",
			   di.ready, di.waiting, di.inflight, di.window, di.concurrency, di.rate,
			   di.pause_until > now ? (long long)di.pause_until : 0LL, di.backoff,
			   (long long)di.last_error_at, di.delivered, di.failed, di.deferred,
			   di.expired, di.throttles);
		if (*di.last_error)
			spool_escape(&out, di.last_error, strlen(di.last_error));
		else
			buf_append_char(&out, '-');
		buf_append_char(&out, '\n');
	}
	free(rows);
	struct buf tmp = BUF_INIT, final = BUF_INIT;
	buf_printf(&tmp, "%s/queue/.status.%ld", S.root, (long)getpid());
	buf_printf(&final, "%s/queue/status", S.root);
	int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd != -1) {
		ssize_t w = write(fd, out.data, out.len);
		close(fd);
		if (w != (ssize_t)out.len || rename(buf_cstr(&tmp), buf_cstr(&final)) == -1)
			unlink(buf_cstr(&tmp));
	}
	buf_free(&tmp);
	buf_free(&final);
	buf_free(&out);
}

static void
remove_status(void)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/queue/status", S.root);
	unlink(buf_cstr(&p));
	buf_free(&p);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"spool", required_argument, NULL, 's'},
		{"once", no_argument, NULL, 'o'},
		{"drain", no_argument, NULL, 'd'},
		{"dump-config", no_argument, NULL, 'D'},
		{"notify-fd", required_argument, NULL, 'n'},
		{"timestamps", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *spool = NULL, *notify = NULL;
	int c, dump = 0;
	S.notify_fd = S.lock_fd = -1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': spool = optarg; break;
		case 'o': S.once = 1; break;
		case 'd': S.drain = 1; break;
		case 'D': dump = 1; break;
		case 'n': notify = optarg; break;
		case 't': S.timestamps = 1; break;
		case 'h': usage(0); break;
		default: usage(EXIT_PERM);
		}
	}
	if (optind != argc || (S.once && S.drain))
		usage(EXIT_PERM);
	if (notify != NULL)
		S.notify_fd = notify_fd_check(notify);
	S.root = spool_root(spool);
	struct buf err = BUF_INIT;
	int permanent;
	if (priv_start(S.root, PRIV_SCHED, 1, &err, &permanent) == -1)
		die(permanent ? EXIT_PERM : EXIT_TEMP, "%s", err.data);
	static const char *const areas[] = { "queue", "bounce/tmp", "bounce/new", "log", "new",
					     NULL };
	static const char *const modes[] = { "2750", "2770", "2770", "2770", "2770" };
	if (priv_check_areas(S.root, PRIV_SCHED, areas, modes, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	if (load_control(&err) == -1)
		die(EXIT_PERM, "%s", err.data);
	if (dump) {
		control_dump(stdout, settings, S.control);
		return 0;
	}
	static char remote_path[PATH_MAX + 32], bounce_path[PATH_MAX + 32];
	S.remote_path = find_sibling(argv[0], "MAILSHOT_REMOTE", "mailshot-remote", remote_path,
				     sizeof remote_path);
	S.bounce_path = find_sibling(argv[0], "MAILSHOT_BOUNCE", "mailshot-bounce", bounce_path,
				     sizeof bounce_path);
	const char *dirs[] = {"new", "queue", "bounce", "bounce/tmp", "bounce/new", "log"};
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		if (spool_make_dir(S.root, dirs[i], i == 5 || i == 1 ? 0750 : 0700, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
	lock_spool();
	if (log_open(&S.log, S.root, "sched", &err) == -1)
		die(EXIT_TEMP, "%s", err.data);

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (pipe2(S.sigpipe, O_NONBLOCK | O_CLOEXEC) == -1)
		die(EXIT_TEMP, "pipe: %s", strerror(errno));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGCHLD};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *why;
	S.core = schedcore_new(&S.cfg, now_s(), &why);
	S.started = now_s();
	if (S.core == NULL)
		die(EXIT_PERM, "%s/control: %s", S.root, why);
	S.head = spool_head_new();
	S.trigger_fd = S.trigger_wfd = -1;
	if (!S.once)
		open_trigger();
	load_queue();
	/* hand-off files a previous run left unprocessed */
	struct buf bnew = BUF_INIT;
	buf_printf(&bnew, "%s/bounce/new", S.root);
	DIR *bd = opendir(bnew.data);
	for (struct dirent *e; bd != NULL && (e = readdir(bd)) != NULL;)
		if (strncmp(e->d_name, "S.", 2) == 0) {
			bounce_kick();
			break;
		}
	if (bd != NULL)
		closedir(bd);
	buf_free(&bnew);
	int want_intake = 1, ready = 0;
	long long stop_deadline = 0;
	struct pollfd *pfd = NULL;
	size_t pfd_cap = 0;
	for (;;) {
		if (got_chld) {
			got_chld = 0;
			reap();
		}
		if (got_term && !S.stopping) {
			got_term = 0;
			S.stopping = 1;
			stop_deadline = now_ms() + S.control[SET_SHUTDOWN].number * 1000;
			say("stopping: %zu deliveries in flight", busy_count());
			for (size_t i = 0; i < S.nprocs; i++)
				quit_proc(&S.procs[i]);
		}
		if (got_hup) {
			/* control/ as a whole, or nothing of it; and the delivery
			 * log reopened (a rotation notices itself, at the next
			 * flush; this is for an operator who wants it now). */
			got_hup = 0;
			buf_reset(&err);
			if (load_control(&err) == -1) {
				say("SIGHUP: error: %s: keeping the settings in force", err.data);
			} else {
				for (uint32_t d = 0; d < S.ndests; d++)
					apply_policy(d);
				say("SIGHUP: control/ read again");
			}
			buf_reset(&err);
			if (log_reopen(&S.log, &err) == -1)
				say("SIGHUP: warning: %s: the delivery log stays where it was", err.data);
		}
		if (got_alrm) {
			got_alrm = 0;
			size_t n = schedcore_retry_all_now(S.core, now_s());
			say("SIGALRM: %zu deferred messages due now", n);
		}
		if (want_intake && !S.stopping) {
			want_intake = 0;
			intake();
			if (!ready) {
				ready = 1;
				tell_ready();
			}
		}
		time_t wake = 0;
		while (!S.stopping && !S.blocked) {
			struct schedcore_event ev;
			time_t now = now_s();
			enum schedcore_what w = schedcore_next(S.core, now, &ev);
			if (w == SCHEDCORE_IDLE) {
				wake = ev.wake;
				break;
			}
			if (w == SCHEDCORE_EXPIRE) {
				size_t index;
				struct batch *b = batch_of(ev.id, &index);
				struct spool_read_message m;
				struct buf e = BUF_INIT;
				const char *rcpt = b && read_head(b, index, &m, &e) == 0 ? m.recipient : "";
				/* The core keeps no per-message reply; the
				 * destination's last error says why it waited. */
				struct schedcore_dest_info di;
				struct buf text = BUF_INIT;
				buf_append_str(&text, "queue lifetime or campaign deadline passed");
				if (schedcore_dest_info(S.core, ev.dest, &di) == 0 && *di.last_error)
					buf_printf(&text, "; last error at %s: %s", di.name,
						   di.last_error);
				struct outcome o = {rcpt, "", "", "", "", "", "", buf_cstr(&text)};
				S.expired++;
				log_outcome("expired", ev.id, ev.dest, ev.attempt, &o, NULL, 0);
				record_final(ev.id, QUEUE_EXPIRED, ev.attempt, &o, now);
				buf_free(&e);
				buf_free(&text);
				continue;
			}
			start(&ev);
		}
		if (S.pending >= FLUSH_PENDING || (S.flush_due && now_ms() >= S.flush_due))
			flush();
		if (now_ms() >= S.status_due) {
			write_status();
			S.status_due = now_ms() + STATUS_MS;
		}

		size_t busy = busy_count();
		if (S.stopping && (busy == 0 || now_ms() >= stop_deadline)) {
			/* Past the bound: what is still in flight is tried
			 * again after the next start (no outcome recorded). */
			for (size_t i = 0; i < S.nprocs; i++)
				if (S.procs[i].pid > 0 && S.procs[i].state == R_BUSY)
					kill(S.procs[i].pid, SIGKILL);
			if (busy)
				say("stopping: %zu deliveries still in flight abandoned", busy);
			break;
		}
		struct schedcore_stats st;
		schedcore_stats(S.core, &st);
		if (S.once && busy == 0 && !S.blocked)
			break;
		if (S.drain && busy == 0 && st.messages == 0 && new_is_empty())
			break;

		/* Idle remotes: quit after a while, and all when nothing is
		 * left to do in --drain/--once. */
		time_t now = now_s();
		for (size_t i = 0; i < S.nprocs; i++)
			if (S.procs[i].state == R_IDLE && now - S.procs[i].since >= IDLE_QUIT)
				quit_proc(&S.procs[i]);

		/* The earliest of what is waited for, at most a minute.  A time
		 * already past counts as now: time() (the wake) lags the
		 * millisecond clock by up to a tick, so wake * 1000 - t is
		 * often a little below zero at a second's turn. */
		long long timeout = 60000, t = now_ms();
		if (wake > 0 && (long long)wake * 1000 - t < timeout)
			timeout = (long long)wake * 1000 - t;
		if (S.flush_due && S.flush_due - t < timeout)
			timeout = S.flush_due - t;
		if (S.status_due - t < timeout && (busy > 0 || st.messages > 0))
			timeout = S.status_due - t;
		for (size_t i = 0; i < S.nprocs; i++)
			if (S.procs[i].state == R_IDLE) {
				long long q = ((long long)S.procs[i].since + IDLE_QUIT) * 1000 - t;
				if (q < timeout)
					timeout = q;
			}
		if (S.stopping && stop_deadline - t < timeout)
			timeout = stop_deadline - t;
		if (timeout < 0)
			timeout = 0;

		size_t need = S.nprocs + 2;
		if (need > pfd_cap) {
			pfd_cap = need * 2;
			pfd = xrealloc(pfd, pfd_cap * sizeof *pfd);
		}
		size_t np = 0;
		pfd[np++] = (struct pollfd){S.sigpipe[0], POLLIN, 0};
		pfd[np++] = (struct pollfd){S.trigger_fd, POLLIN, 0};
		for (size_t i = 0; i < S.nprocs; i++)
			pfd[np++] = (struct pollfd){S.procs[i].sock, POLLIN, 0};
		int rc = poll(pfd, np, (int)timeout);
		if (rc < 0 && errno != EINTR)
			die(EXIT_TEMP, "poll: %s", strerror(errno));
		if (rc <= 0)
			continue;
		if (pfd[0].revents) {
			char b[256];
			while (read(S.sigpipe[0], b, sizeof b) > 0)
				;
		}
		if (pfd[1].revents & POLLIN) {
			char b[4096];
			while (read(S.trigger_fd, b, sizeof b) > 0)
				;
			want_intake = 1;
		}
		size_t nprocs = S.nprocs;
		for (size_t i = 0; i < nprocs; i++)
			if (pfd[i + 2].revents && S.procs[i].sock != -1)
				read_proc(&S.procs[i]);
	}
	/* Say goodbye: quit the idle ones, wait for all (bounded). */
	for (size_t i = 0; i < S.nprocs; i++)
		quit_proc(&S.procs[i]);
	long long end = now_ms() + 10000;
	while (S.nprocs > 0 && now_ms() < end) {
		for (size_t i = 0; i < S.nprocs; i++)
			if (S.procs[i].sock != -1)
				read_proc(&S.procs[i]);
		reap();
		if (S.nprocs > 0)
			usleep(10000);
	}
	while (flush() == -1 && S.ndirty > 0) {
		say("error: unable to flush the queue state; retrying");
		sleep(1);
	}
	bounce_finish();
	remove_status();
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	say("done: %zu delivered, %zu bounced, %zu deferred, %zu expired; cpu %.2f s, peak rss %ld kB",
	    S.delivered, S.failed, S.deferred, S.expired,
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
	    ru.ru_maxrss);
	free(pfd);
	for (size_t i = 0; i < S.nbatches; i++)
		if (S.batches[i] != NULL)
			batch_free(S.batches[i]);
	free(S.batches);
	free(S.free_slots);
	free(S.dirty);
	for (size_t d = 0; d < S.ndests; d++) {
		free(S.dests[d].name);
		free(S.dests[d].domain);
		hostdown_free(&S.dests[d].down);
	}
	free(S.dests);
	for (size_t i = 0; i < S.nprocs; i++) {
		buf_free(&S.procs[i].in);
		free(S.procs[i].throttle_text);
	}
	free(S.procs);
	buf_free(&S.bounces);
	spool_head_free(S.head);
	schedcore_free(S.core);
	route_free(&S.routes);
	domains_free(&S.domains);
	control_free(settings, S.control);
	log_close(&S.log);
	buf_free(&err);
	if (S.notify_fd != -1) /* stopped before it was ready */
		close(S.notify_fd);
	close(S.lock_fd);
	return 0;
}
