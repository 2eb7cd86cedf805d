/*
 * NAME
 *	mailshot-bounce - permanent failures, inbound bounces, complaints and
 *	unsubscribes into the suppression list
 *
 * SYNOPSIS
 *	mailshot-bounce [--spool DIR] process
 *	mailshot-bounce [--spool DIR] --inbound < message
 *	mailshot-bounce --classify < message
 *	mailshot-bounce [--spool DIR] list [--reason R] [--format tsv|json]
 *	mailshot-bounce [--spool DIR] add ADDR --reason R [--scope S]
 *	mailshot-bounce [--spool DIR] clear ADDR [--scope S]
 *	mailshot-bounce [--spool DIR] check ADDR [--type T]
 *	mailshot-bounce [--spool DIR] import FILE [--reason R] [--scope S]
 *	mailshot-bounce --secret-gen
 *
 * DESCRIPTION
 *	The only writer of the suppression list (docs/suppression.md) and of
 *	the soft counts (docs/bounce.md).  process applies sched's hand-off
 *	files; --inbound is a delivery pipe for the bounce mailbox and never
 *	exits 100 (that would bounce a bounce); the rest are for people.
 *	Man page: docs/mailshot-bounce.8.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "classify.h"
#include "control.h"
#include "die.h"
#include "dsn.h"
#include "ledger.h"
#include "log.h"
#include "notify.h"
#include "priv.h"
#include "proto.h"
#include "queue.h"
#include "softcount.h"
#include "spool.h"
#include "suppress.h"
#include "token.h"
#include "verp.h"

static const char prog[] = "mailshot-bounce";

/* octets of an inbound message kept (what the parser looks at); the rest
 * is read and dropped */
#define INBOUND_MAX DSN_MAX_SCAN
#define HANDOFF_MAX (256u << 20) /* octets of one hand-off file */

static const struct control_setting settings[] = {
	{"softbouncelimit", 1, "3", 0, 1000,
	 "soft failures in a row (distinct campaigns) that suppress an address; 0 = never"},
	{"foldlocal", 1, "1", 0, 1, "1: local parts compare case-insensitively"},
	{"bounceaddress", 0, "", 0, 0, "the bounce mailbox VERP addresses are built on"},
	{"recipientdelimiter", 0, "+", 0, 0, "separates the bounce mailbox from the token"},
	{"notify", 0, "", 0, 0, "who gets the failure digest of campaigns without --notify"},
	{"notifyinterval", 1, "3600", 0, 604800, "seconds between two digests of one campaign"},
	{"unsubscribelifetime", 1, "365", 0, 36500,
	 "days an unsubscribe token stays valid (0 = for ever)"},
	{NULL, 0, NULL, 0, 0, NULL},
};
enum {
	SET_SOFTLIMIT,
	SET_FOLDLOCAL,
	SET_BOUNCEADDRESS,
	SET_DELIM,
	SET_NOTIFY,
	SET_NOTIFYINTERVAL,
	SET_UNSUBLIFETIME,
	SET_COUNT
};

/* Failures of one campaign waiting to be appended to bounce/digest/C. */
struct digest {
	char campaign[65];
	int has_owner;
	struct buf lines;
};

static struct {
	const char *root;
	int inbound; /* a delivery pipe: never exit 100 */
	struct control_value control[SET_COUNT + 1];
	struct buf secret;
	struct suppress_db *sup;
	struct softcount_db *soft;
	struct log_writer log;
	int have_log;
	struct digest *digests;
	size_t ndigests;
	unsigned long batch_seq; /* names of the digest batches (B.T.P.N) */
	/* counts for the summary of process */
	unsigned long records, suppressed, counted, resets, bad;
} B;

/* In --inbound every error is temporary: the MTA keeps the mail. */
#undef die
#define die(code, ...) fatal(prog, B.inbound ? EXIT_TEMP : (code), __VA_ARGS__)

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: mailshot-bounce [--spool DIR] process\n"
		"       mailshot-bounce [--spool DIR] --inbound < message\n"
		"       mailshot-bounce --classify < message\n"
		"       mailshot-bounce [--spool DIR] list [--reason R] [--format tsv|json]\n"
		"       mailshot-bounce [--spool DIR] add ADDR --reason R [--scope S]\n"
		"       mailshot-bounce [--spool DIR] clear ADDR [--scope S]\n"
		"       mailshot-bounce [--spool DIR] check ADDR [--type T]\n"
		"       mailshot-bounce [--spool DIR] import FILE [--reason R] [--scope S]\n"
		"       mailshot-bounce --secret-gen | --dump-config\n");
	exit(code);
}

/* ---- shared state ---- */

static void
load_control(void)
{
	struct buf err = BUF_INIT;
	if (control_load(B.root, settings, B.control, &err) == -1)
		die(EXIT_PERM, "%s", err.data);
	int rc = control_read_secret(B.root, TOKEN_SECRET_MIN, &B.secret, &err);
	if (rc == -1)
		die(EXIT_TEMP, "%s", err.data);
	if (rc == -2)
		die(EXIT_PERM, "%s", err.data);
	const char *d = B.control[SET_DELIM].text;
	if (strlen(d) != 1 || strchr("+-=_.", d[0]) == NULL)
		die(EXIT_PERM, "%s/control/recipientdelimiter: \"%s\": use one of + - = _ .", B.root,
		    d);
	buf_free(&err);
}

static void
open_writer(int with_soft)
{
	struct buf err = BUF_INIT;
	if (suppress_open(B.root, 1, &B.sup, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	suppress_set_fold_local(B.sup, (int)B.control[SET_FOLDLOCAL].number);
	if (with_soft && softcount_open(B.root, &B.soft, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	if (log_open(&B.log, B.root, "bounce", &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	B.have_log = 1;
	buf_free(&err);
}

static void
flush_log(void)
{
	struct buf err = BUF_INIT;
	if (B.have_log && B.log.pending.len > 0) {
		fwrite(B.log.pending.data, 1, B.log.pending.len, stderr);
		if (log_flush(&B.log, &err) == -1)
			fprintf(stderr, "%s: warning: %s\n", prog, err.data);
	}
	buf_free(&err);
}

static void
close_all(void)
{
	flush_log();
	if (B.have_log)
		log_close(&B.log);
	B.have_log = 0;
	suppress_close(B.sup);
	softcount_close(B.soft);
	B.sup = NULL;
	B.soft = NULL;
	control_free(settings, B.control);
	if (B.secret.data != NULL)
		explicit_bzero(B.secret.data, B.secret.len);
	buf_free(&B.secret);
}

static void
normalize(const char *addr, struct buf *out)
{
	buf_reset(out);
	addr_normalize(addr, strlen(addr), (int)B.control[SET_FOLDLOCAL].number, out);
	buf_cstr(out);
}

/* ---- applying one failure (hand-off or inbound) ---- */

struct failure {
	const char *campaign; /* "" when unknown */
	const char *rcpt;
	const char *status; /* failed, expired, inbound */
	struct bounce_class cls;
	const char *code, *enhanced, *text;
	time_t when;
	const char *mx;
};

static void digest_add(const struct failure *f, const char *rcpt);

/* Whether a soft failure counts toward soft-bounce-limit: about the
 * mailbox, not about us (policy, spam, rate) or the content (size). */
static int
counts_as_soft(enum bounce_reason r)
{
	switch (r) {
	case BR_MAILBOX_FULL:
	case BR_EXPIRED:
	case BR_OTHER:
	case BR_USER_UNKNOWN:
	case BR_NO_SUCH_DOMAIN:
	case BR_MAILBOX_DISABLED:
		return 1;
	default:
		return 0;
	}
}

static int
suppress(const char *rcpt, const char *reason, const char *scope, const char *campaign,
	 const char *text, time_t when)
{
	struct buf err = BUF_INIT;
	struct suppress_entry e = {rcpt, scope, reason, when, campaign, text};
	int rc = suppress_add(B.sup, &e, &err);
	if (rc == -1) {
		/* an entry the list refuses (EINVAL: an impossible address,
		 * say) is skipped; an I/O error is not */
		if (errno == EINVAL) {
			log_event(&B.log, "ignored", "rcpt", rcpt, "why", err.data, (char *)NULL);
			rc = 0;
		} else {
			die(EXIT_TEMP, "%s", err.data);
		}
	} else {
		B.suppressed++;
		rc = 1;
	}
	buf_free(&err);
	return rc;
}

static void
apply_failure(const struct failure *f)
{
	struct buf key = BUF_INIT, err = BUF_INIT;
	normalize(f->rcpt, &key);
	const char *action = "none";
	char count[16] = "";
	if (f->cls.severity == BS_HARD) {
		if (suppress(key.data, "hard-bounce", "*", f->campaign, f->text, f->when) == 1)
			action = "suppressed";
	} else if (f->cls.severity == BS_SOFT && counts_as_soft(f->cls.reason) &&
		   B.control[SET_SOFTLIMIT].number > 0 && key.len > 0) {
		const char *camp = *f->campaign ? f->campaign : "unknown";
		int n = softcount_add(B.soft, key.data, camp, f->when, &err);
		if (n == -1)
			die(EXIT_TEMP, "%s", err.data);
		snprintf(count, sizeof count, "%d", n);
		action = "counted";
		if (n >= B.control[SET_SOFTLIMIT].number) {
			if (suppress(key.data, "soft-bounce-limit", "*", f->campaign, f->text,
				     f->when) == 1)
				action = "suppressed";
			if (softcount_reset(B.soft, key.data, &err) == -1)
				die(EXIT_TEMP, "%s", err.data);
		}
		B.counted++;
	}
	log_event(&B.log, "classified", "campaign", f->campaign, "rcpt", key.data, "status",
		  f->status, "class", bounce_severity_name(f->cls.severity), "reason",
		  bounce_reason_name(f->cls.reason), "action", action, "count",
		  *count ? count : NULL, "code", f->code, "enhanced", f->enhanced, "text", f->text,
		  (char *)NULL);
	if (f->cls.severity != BS_NONE)
		digest_add(f, key.data);
	buf_free(&key);
	buf_free(&err);
}

/* ---- the owner's digest (docs/bounce.md; lib/notify.c) ---- */

static void
digest_add(const struct failure *f, const char *rcpt)
{
	if (!*f->campaign || strcmp(f->campaign, NOTIFY_CAMPAIGN) == 0 ||
	    !spool_valid_id(f->campaign))
		return;
	struct digest *d = NULL;
	for (size_t i = 0; i < B.ndigests && d == NULL; i++)
		if (strcmp(B.digests[i].campaign, f->campaign) == 0)
			d = &B.digests[i];
	if (d == NULL) {
		B.digests = xrealloc(B.digests, (B.ndigests + 1) * sizeof *B.digests);
		d = &B.digests[B.ndigests++];
		memset(d, 0, sizeof *d);
		snprintf(d->campaign, sizeof d->campaign, "%s", f->campaign);
		struct buf owner = BUF_INIT;
		d->has_owner = notify_owner(B.root, f->campaign, B.control[SET_NOTIFY].text, &owner);
		buf_free(&owner);
	}
	if (!d->has_owner)
		return;
	struct notify_entry e = {rcpt,
				 f->status,
				 bounce_severity_name(f->cls.severity),
				 bounce_reason_name(f->cls.reason),
				 f->enhanced ? f->enhanced : "",
				 f->code ? f->code : "",
				 f->mx ? f->mx : "",
				 f->text ? f->text : "",
				 f->when};
	notify_line(&d->lines, &e);
}

/* The gathered lines, durably to bounce/digest/C: before the hand-off
 * file that caused them is removed. */
static void
digest_flush(void)
{
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < B.ndigests; i++) {
		if (notify_append(B.root, B.digests[i].campaign, &B.digests[i].lines, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
		buf_reset(&B.digests[i].lines);
	}
	buf_free(&err);
}

static void
digest_send(const char *campaign, time_t now)
{
	struct buf owner = BUF_INIT, err = BUF_INIT;
	struct notify_pending p;
	if (notify_read_pending(B.root, campaign, &p, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	if (!notify_owner(B.root, campaign, B.control[SET_NOTIFY].text, &owner))
		p.n = 0; /* the owner was removed meanwhile: the lines just go */
	char host[256] = "localhost", from[300], msgid[400], name[SPOOL_NAME_MAX];
	gethostname(host, sizeof host - 1);
	const char *at = strrchr(B.control[SET_BOUNCEADDRESS].text, '@');
	snprintf(from, sizeof from, "MAILER-DAEMON@%s", at ? at + 1 : host);
	snprintf(msgid, sizeof msgid, "<%lld.%ld.%lu.notice@%s>", (long long)now, (long)getpid(),
		 B.batch_seq, at ? at + 1 : host);
	struct notify_info info = {campaign, owner.data, from, host, msgid, now};
	if (notify_send(B.root, &info, &p, B.batch_seq++, name, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	if (p.n > 0) {
		char count[24];
		snprintf(count, sizeof count, "%zu", p.n);
		log_event(&B.log, "notified", "campaign", campaign, "rcpt", owner.data, "batch", name,
			  "failures", count, (char *)NULL);
	}
	notify_pending_free(&p);
	buf_free(&owner);
	buf_free(&err);
}

/* Sends every campaign's pending digest whose last one is older than
 * control/notifyinterval: the first failures of a campaign go out at
 * once, later ones at most once per interval (the next run after it;
 * run `mailshot-bounce process` from cron so none waits for long). */
static void
digest_send_due(void)
{
	struct buf dir = BUF_INIT;
	buf_printf(&dir, "%s/bounce/digest", B.root);
	DIR *d = opendir(dir.data);
	time_t now = time(NULL);
	char **names = NULL;
	size_t n = 0;
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
		if (spool_valid_id(e->d_name) && strstr(e->d_name, ".sent") == NULL) {
			names = xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = xstrdup(e->d_name);
		}
	if (d != NULL)
		closedir(d);
	for (size_t i = 0; i < n; i++) {
		if (now - notify_last_sent(B.root, names[i]) >= B.control[SET_NOTIFYINTERVAL].number)
			digest_send(names[i], now);
		free(names[i]);
	}
	free(names);
	buf_free(&dir);
}

/* ---- process: sched's hand-off files ---- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}


static void
apply_record(int kind, const struct queue_bounce *qb)
{
	struct buf key = BUF_INIT, err = BUF_INIT;
	if (kind == 'd') {
		if (B.soft != NULL) {
			normalize(qb->rcpt, &key);
			int r = key.len ? softcount_reset(B.soft, key.data, &err) : 0;
			if (r == -1)
				die(EXIT_TEMP, "%s", err.data);
			B.resets += (unsigned long)r;
		}
	} else {
		struct failure f = {qb->campaign, qb->rcpt, qb->status, {BR_EXPIRED, BS_SOFT},
				    qb->code,	  qb->enhanced, qb->text,   qb->when,
				    qb->mx_name};
		if (strcmp(qb->status, "failed") == 0)
			f.cls = bounce_classify(atoi(qb->code), qb->enhanced, qb->text,
						strlen(qb->text));
		apply_failure(&f);
	}
	buf_free(&key);
	buf_free(&err);
}

static void
process_file(const char *dir, const char *name)
{
	struct buf path = BUF_INIT, data = BUF_INIT, storage = BUF_INIT, err = BUF_INIT;
	buf_printf(&path, "%s/%s", dir, name);
	if (spool_read_file(path.data, HANDOFF_MAX, &data) == -1)
		die(EXIT_TEMP, "unable to read %s: %s", path.data, strerror(errno));
	size_t magic = strlen(queue_bounce_magic);
	if (data.len < magic || memcmp(data.data, queue_bounce_magic, magic) != 0) {
		log_event(&B.log, "badrecord", "file", name, "line", "1", "why",
			  "not a mailshot-bounces 1 file", (char *)NULL);
		B.bad++;
	} else {
		if (B.soft != NULL && softcount_begin(B.soft, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
		size_t pos = magic;
		unsigned long lineno = 1;
		while (pos < data.len) {
			lineno++;
			const char *line = data.data + pos;
			const char *nl = memchr(line, '\n', data.len - pos);
			size_t len = nl ? (size_t)(nl - line) : data.len - pos;
			pos += len + 1;
			struct queue_bounce qb;
			const char *why = "torn line";
			int kind = nl ? queue_handoff_parse(line, len, &storage, &qb, &why) : -1;
			if (kind == -1) {
				char ln[24];
				snprintf(ln, sizeof ln, "%lu", lineno);
				log_event(&B.log, "badrecord", "file", name, "line", ln, "why", why,
					  (char *)NULL);
				B.bad++;
				continue;
			}
			B.records++;
			apply_record(kind, &qb);
		}
		if (B.soft != NULL && softcount_commit(B.soft, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
	}
	/* applied and durable: the digest lines, the log, then the file goes */
	digest_flush();
	flush_log();
	if (unlink(path.data) == -1 && errno != ENOENT)
		die(EXIT_TEMP, "unable to remove %s: %s", path.data, strerror(errno));
	buf_free(&path);
	buf_free(&data);
	buf_free(&storage);
	buf_free(&err);
}

static int
cmd_process(void)
{
	open_writer(1);
	struct buf dir = BUF_INIT;
	buf_printf(&dir, "%s/bounce/new", B.root);
	/* Until the directory is empty: sched may publish while we work. */
	for (int round = 0; round < 1000; round++) {
		DIR *d = opendir(dir.data);
		if (d == NULL) {
			if (errno == ENOENT)
				break;
			die(EXIT_TEMP, "unable to open %s: %s", dir.data, strerror(errno));
		}
		char **names = NULL;
		size_t n = 0;
		for (struct dirent *e; (e = readdir(d)) != NULL;) {
			if (e->d_name[0] == '.')
				continue;
			names = xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = xstrdup(e->d_name);
		}
		closedir(d);
		if (n == 0) {
			free(names);
			break;
		}
		qsort(names, n, sizeof *names, name_cmp);
		for (size_t i = 0; i < n; i++) {
			process_file(dir.data, names[i]);
			free(names[i]);
		}
		free(names);
	}
	buf_free(&dir);
	digest_send_due();
	if (B.records || B.bad)
		fprintf(stderr,
			"%s: %lu records: %lu suppressed, %lu soft counts, %lu resets, %lu bad\n",
			prog, B.records, B.suppressed, B.counted, B.resets, B.bad);
	close_all();
	return 0;
}

/* ---- tokens (lib/verp.c) ---- */

/* The addresses a token may hide in, best first: the envelope
 * recipient the MTA passes, then the header fields. */
static void
token_candidates(const struct dsn_report *r, struct buf *out)
{
	const char *env[] = {"ORIGINAL_RECIPIENT", "RECIPIENT"};
	for (size_t i = 0; i < 2; i++) {
		const char *v = getenv(env[i]);
		if (v != NULL && *v)
			buf_printf(out, "%s\n", v);
	}
	const char *local = getenv("LOCAL"), *host = getenv("HOST");
	if (local != NULL && host != NULL && *local && *host) /* qmail-local */
		buf_printf(out, "%s@%s\n", local, host);
	const char *fields[] = {"Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc"};
	struct buf v = BUF_INIT;
	for (size_t f = 0; f < sizeof fields / sizeof *fields; f++)
		for (size_t nth = 0; nth < 16; nth++) {
			buf_reset(&v);
			if (!dsn_header(&r->outer_headers, fields[f], nth, &v))
				break;
			buf_printf(out, "%s\n", buf_cstr(&v));
		}
	const char *orig[] = {"Return-Path", "List-Unsubscribe"};
	for (size_t f = 0; f < 2; f++) {
		buf_reset(&v);
		if (dsn_header(&r->orig_headers, orig[f], 0, &v))
			buf_printf(out, "%s\n", buf_cstr(&v));
	}
	buf_free(&v);
}

/* Returns 1 with *res for a token that verifies, 0 when there is none,
 * -1 when there are tokens but none verifies (logged once). */
static int
find_token(const struct dsn_report *r, struct verp_match *res)
{
	struct buf cand = BUF_INIT, bad = BUF_INIT;
	token_candidates(r, &cand);
	int rc = verp_find(B.root, B.secret.data, B.secret.len, B.control[SET_DELIM].text[0],
			   cand.data ? cand.data : "", cand.len, res, &bad);
	if (rc == -2)
		die(EXIT_TEMP, "unable to read the campaign ledgers: %s", strerror(errno));
	if (rc == -1)
		log_event(&B.log, "badtoken", "token", bad.data, "why",
			  B.secret.len ? "verifies for no campaign" : "control/secret is not set",
			  (char *)NULL);
	buf_free(&cand);
	buf_free(&bad);
	return rc;
}

/* ---- inbound mail ---- */

/* Returns the message's whole size; msg keeps its first INBOUND_MAX. */
static unsigned long long
read_stdin(struct buf *msg)
{
	char chunk[65536];
	unsigned long long total = 0;
	for (;;) {
		ssize_t n = read(0, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(EXIT_TEMP, "unable to read the message: %s", strerror(errno));
		if (n == 0)
			break;
		total += (unsigned long long)n;
		/* beyond the limit the rest is read and dropped, so that the
		 * MTA sees the pipe consumed */
		if (msg->len < INBOUND_MAX) {
			size_t take = (size_t)n;
			if (take > INBOUND_MAX - msg->len)
				take = INBOUND_MAX - msg->len;
			buf_append(msg, chunk, take);
		}
	}
	return total;
}

/* Keeps a message nobody recognized in bounce/unknown/ for a person. */
static void
keep_unknown(const struct buf *msg, unsigned long long size, const char *why)
{
	struct buf err = BUF_INIT, tmp = BUF_INIT, final = BUF_INIT;
	if (spool_make_dir(B.root, "bounce", 0700, &err) == -1 ||
	    spool_make_dir(B.root, "bounce/unknown", 0700, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char name[96];
	snprintf(name, sizeof name, "U.%lld.%09ld.%ld", (long long)ts.tv_sec, ts.tv_nsec,
		 (long)getpid());
	buf_printf(&tmp, "%s/bounce/unknown/.%s", B.root, name);
	buf_printf(&final, "%s/bounce/unknown/%s", B.root, name);
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		die(EXIT_TEMP, "unable to create %s: %s", tmp.data, strerror(errno));
	size_t off = 0;
	while (off < msg->len) {
		ssize_t n = write(fd, msg->data + off, msg->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			close(fd);
			unlink(tmp.data);
			die(EXIT_TEMP, "unable to write %s: %s", tmp.data, strerror(saved));
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1 || rename(tmp.data, final.data) == -1) {
		int saved = errno;
		unlink(tmp.data);
		die(EXIT_TEMP, "unable to keep %s: %s", final.data, strerror(saved));
	}
	if (spool_sync_dir(B.root, "bounce/unknown", &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	char bytes[32], kept[32];
	snprintf(bytes, sizeof bytes, "%llu", size);
	snprintf(kept, sizeof kept, "%zu", msg->len);
	log_event(&B.log, "unrecognized", "file", name, "why", why, "bytes", bytes, "kept",
		  size > msg->len ? kept : NULL, (char *)NULL);
	buf_free(&err);
	buf_free(&tmp);
	buf_free(&final);
}

static void
inbound_unsubscribe(const struct verp_match *tok)
{
	if (tok->address.len == 0) {
		log_event(&B.log, "ignored", "campaign", tok->campaign, "why",
			  "unsubscribe token of a test send", (char *)NULL);
		return;
	}
	if (!verp_alive(tok, (unsigned)(time(NULL) / 86400),
			(unsigned)B.control[SET_UNSUBLIFETIME].number)) {
		log_event(&B.log, "ignored", "campaign", tok->campaign, "rcpt", tok->address.data,
			  "why", "unsubscribe token expired", (char *)NULL);
		return;
	}
	char scope[80];
	verp_scope(B.root, tok, scope, sizeof scope);
	const char *action = suppress(tok->address.data, "unsubscribe", scope, tok->campaign,
				      "unsubscribed by mail", time(NULL)) == 1
				     ? "suppressed"
				     : "none";
	log_event(&B.log, "unsubscribed", "campaign", tok->campaign, "rcpt", tok->address.data,
		  "scope", scope, "via", "mailto", "action", action, (char *)NULL);
}

static int
cmd_inbound(void)
{
	struct buf msg = BUF_INIT;
	unsigned long long size = read_stdin(&msg);
	open_writer(1);
	struct dsn_report r;
	dsn_init(&r);
	if (dsn_parse(&r, msg.data ? msg.data : "", msg.len) == -1)
		die(EXIT_TEMP, "out of memory parsing the message");
	struct verp_match tok = {0};
	int found = find_token(&r, &tok), have_tok = found == 1;
	const char *camp = have_tok ? tok.campaign : "";
	time_t now = time(NULL);
	if (found == -1 && r.kind != DSN_AUTOREPLY) {
		/* Mail to a token we did not make (forged, damaged, or from
		 * before a change of control/secret) suppresses nobody: a
		 * person may look at it. */
		keep_unknown(&msg, size, "its VERP or unsubscribe token does not verify");
	} else if (have_tok && tok.kind == 'u') {
		inbound_unsubscribe(&tok);
	} else if (r.kind == DSN_BOUNCE) {
		size_t failed = 0;
		for (size_t i = 0; i < r.nrcpts; i++) {
			const struct dsn_rcpt *d = &r.rcpts[i];
			if (strcmp(d->action, "delayed") == 0 || d->cls.severity == BS_NONE)
				continue;
			/* with a token, the one recipient of our message (a
			 * forward that failed is traced back to it) */
			const char *rcpt = have_tok && tok.address.len ? tok.address.data
								      : buf_cstr((struct buf *)&d->rcpt);
			if (*rcpt == '\0')
				continue;
			char code[16] = "";
			if (d->code > 0)
				snprintf(code, sizeof code, "%d", d->code);
			struct failure f = {camp,
					    rcpt,
					    "inbound",
					    d->cls,
					    code,
					    d->status,
					    buf_cstr((struct buf *)&d->diag),
					    now,
					    buf_cstr((struct buf *)&d->mta)};
			apply_failure(&f);
			failed++;
			if (have_tok && tok.address.len)
				break;
		}
		if (failed == 0)
			log_event(&B.log, "ignored", "campaign", camp, "why",
				  r.nrcpts ? "a delay notice, or no failed recipient"
					   : "a bounce naming no recipient",
				  (char *)NULL);
	} else if (r.kind == DSN_COMPLAINT) {
		size_t n = 0;
		for (size_t i = 0; i < r.nrcpts || (n == 0 && have_tok && i == 0); i++) {
			const char *rcpt = have_tok && tok.address.len
						   ? tok.address.data
						   : (i < r.nrcpts ? buf_cstr(&r.rcpts[i].rcpt) : "");
			if (*rcpt == '\0')
				continue;
			struct buf key = BUF_INIT;
			normalize(rcpt, &key);
			const char *action =
				suppress(key.data, "complaint", "*", camp,
					 *r.feedback_type ? r.feedback_type : "complaint", now) == 1
					? "suppressed"
					: "none";
			log_event(&B.log, "complaint", "campaign", camp, "rcpt", key.data, "feedback",
				  r.feedback_type, "action", action, (char *)NULL);
			buf_free(&key);
			n++;
			if (have_tok && tok.address.len)
				break;
		}
		if (n == 0)
			keep_unknown(&msg, size, "a complaint naming no recipient");
	} else if (r.kind == DSN_AUTOREPLY) {
		struct buf from = BUF_INIT;
		dsn_header(&r.outer_headers, "From", 0, &from);
		log_event(&B.log, "autoreply", "campaign", camp, "rcpt",
			  have_tok && tok.address.len ? tok.address.data : buf_cstr(&from),
			  (char *)NULL);
		buf_free(&from);
	} else {
		keep_unknown(&msg, size, r.note.len ? buf_cstr(&r.note) : "not a bounce");
	}
	digest_flush();
	digest_send_due();
	dsn_free(&r);
	buf_free(&msg);
	buf_free(&tok.address);
	close_all();
	return 0;
}

/* ---- --classify: no side effects ---- */

static void
tsv_field(const char *s)
{
	for (; *s; s++)
		putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

static int
cmd_classify(void)
{
	struct buf msg = BUF_INIT;
	read_stdin(&msg);
	struct dsn_report r;
	dsn_init(&r);
	if (dsn_parse(&r, msg.data ? msg.data : "", msg.len) == -1)
		die(EXIT_TEMP, "out of memory parsing the message");
	for (size_t i = 0; i < r.nrcpts; i++) {
		const struct dsn_rcpt *d = &r.rcpts[i];
		tsv_field(buf_cstr((struct buf *)&d->rcpt));
		printf("\t%s\t%s\t", bounce_severity_name(d->cls.severity),
		       bounce_reason_name(d->cls.reason));
		tsv_field(d->status);
		putchar('\t');
		tsv_field(buf_cstr((struct buf *)&d->diag));
		putchar('\n');
	}
	if (r.nrcpts == 0)
		fprintf(stderr, "%s: no failed recipient: %s\n", prog,
			r.kind == DSN_AUTOREPLY ? "an auto-reply"
			: r.note.len		? buf_cstr(&r.note)
						: "not a bounce");
	dsn_free(&r);
	buf_free(&msg);
	return 0;
}

/* ---- the list commands ---- */

struct list_ctx {
	const char *reason;
	int json;
	size_t n;
};

static void
json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
iso(time_t t, char *out, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
list_one(const struct suppress_entry *e, void *arg)
{
	struct list_ctx *c = arg;
	if (c->reason != NULL && strcmp(c->reason, e->reason) != 0)
		return 0;
	char when[32];
	iso(e->when, when, sizeof when);
	if (c->json) {
		printf("%s{\"address\":", c->n ? ",\n" : "");
		json_string(e->address);
		printf(",\"scope\":");
		json_string(e->scope);
		printf(",\"reason\":");
		json_string(e->reason);
		printf(",\"time\":\"%s\",\"campaign\":", when);
		json_string(e->campaign);
		printf(",\"diagnostic\":");
		json_string(e->diagnostic);
		putchar('}');
	} else {
		tsv_field(e->address);
		printf("\t%s\t%s\t%s\t", e->scope, e->reason, when);
		tsv_field(e->campaign);
		putchar('\t');
		tsv_field(e->diagnostic);
		putchar('\n');
	}
	c->n++;
	return 0;
}

static const char *const reasons[] = {"hard-bounce", "soft-bounce-limit", "complaint",
				      "unsubscribe", "manual", NULL};

static void
check_reason(const char *r)
{
	for (size_t i = 0; reasons[i]; i++)
		if (strcmp(reasons[i], r) == 0)
			return;
	die(EXIT_PERM, "--reason \"%s\": use hard-bounce, soft-bounce-limit, complaint, "
		       "unsubscribe or manual",
	    r);
}

static int
cmd_list(const char *reason, const char *format)
{
	struct list_ctx c = {reason, 0, 0};
	if (reason)
		check_reason(reason);
	if (format && strcmp(format, "json") == 0)
		c.json = 1;
	else if (format && strcmp(format, "tsv") != 0)
		die(EXIT_PERM, "--format \"%s\": use tsv or json", format);
	struct buf err = BUF_INIT;
	if (suppress_open(B.root, 0, &B.sup, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	if (c.json)
		printf("[");
	else
		printf("address\tscope\treason\ttime\tcampaign\tdiagnostic\n");
	if (suppress_foreach(B.sup, list_one, &c) == -1)
		die(EXIT_TEMP, "%s/suppress: unable to read the list: %s", B.root, strerror(errno));
	if (c.json)
		printf("%s]\n", c.n ? "\n" : "");
	buf_free(&err);
	close_all();
	return 0;
}

static void
check_address(const char *what, const char *a)
{
	const char *why;
	if (addr_check(a, strlen(a), ADDR_ALLOW_NODOT, &why, NULL) == -1)
		die(EXIT_PERM, "%s \"%s\": invalid address: %s", what, a, why);
}

static int
cmd_add(const char *addr, const char *reason, const char *scope, const char *campaign,
	const char *text)
{
	if (reason == NULL)
		die(EXIT_PERM, "add: --reason is required");
	check_reason(reason);
	check_address("add", addr);
	open_writer(0);
	struct buf key = BUF_INIT;
	normalize(addr, &key);
	struct buf err = BUF_INIT;
	struct suppress_entry e = {key.data, scope ? scope : "*", reason, time(NULL),
				   campaign ? campaign : "", text ? text : "added by hand"};
	if (suppress_add(B.sup, &e, &err) == -1)
		die(strstr(err.data, "scope") || strstr(err.data, "campaign") ? EXIT_PERM : EXIT_TEMP,
		    "%s", err.data);
	log_event(&B.log, "added", "rcpt", key.data, "scope", e.scope, "reason", reason,
		  (char *)NULL);
	buf_free(&key);
	buf_free(&err);
	close_all();
	return 0;
}

static int
cmd_clear(const char *addr, const char *scope)
{
	check_address("clear", addr);
	open_writer(1);
	struct buf key = BUF_INIT, err = BUF_INIT;
	normalize(addr, &key);
	int n = suppress_clear(B.sup, key.data, scope, &err);
	if (n == -1)
		die(EXIT_TEMP, "%s", err.data);
	/* a cleared flag starts from zero soft failures, too */
	if (softcount_reset(B.soft, key.data, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	printf("%s: %d entr%s removed\n", key.data, n, n == 1 ? "y" : "ies");
	log_event(&B.log, "cleared", "rcpt", key.data, "scope", scope ? scope : "all",
		  (char *)NULL);
	buf_free(&key);
	buf_free(&err);
	close_all();
	return 0;
}

static int
cmd_check(const char *addr, const char *type)
{
	check_address("check", addr);
	struct buf err = BUF_INIT;
	if (suppress_open(B.root, 0, &B.sup, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	suppress_set_fold_local(B.sup, (int)B.control[SET_FOLDLOCAL].number);
	struct suppress_entry e;
	int s = suppress_check(B.sup, addr, type, &e);
	if (s == -1)
		die(EXIT_TEMP, "%s/suppress: unable to read the list: %s", B.root, strerror(errno));
	if (s == 0) {
		printf("%s: may be mailed\n", addr);
	} else {
		char when[32];
		iso(e.when, when, sizeof when);
		printf("%s: suppressed (%s, scope %s, since %s%s%s)%s%s\n", addr, e.reason, e.scope,
		       when, *e.campaign ? ", campaign " : "", e.campaign, *e.diagnostic ? ": " : "",
		       e.diagnostic);
	}
	buf_free(&err);
	close_all();
	return s == 1 ? 1 : 0;
}

/* import: one address per line, or CSV (the first field with an @); a
 * header line and blank or # lines are skipped.  Every address is
 * checked before anything is added: a bad line adds nothing. */
static int
cmd_import(const char *file, const char *reason, const char *scope)
{
	reason = reason ? reason : "manual";
	check_reason(reason);
	struct buf data = BUF_INIT, key = BUF_INIT, keys = BUF_INIT;
	FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	if (in == NULL)
		die(errno == ENOENT ? EXIT_PERM : EXIT_TEMP, "unable to open %s: %s", file,
		    strerror(errno));
	char *line = NULL;
	size_t cap = 0, n = 0;
	unsigned long lineno = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		/* the first comma/semicolon/tab-separated field holding an @ */
		char *field = NULL, *save = NULL;
		for (char *f = strtok_r(p, ",;\t", &save); f; f = strtok_r(NULL, ",;\t", &save)) {
			while (*f == ' ' || *f == '"')
				f++;
			size_t fl = strlen(f);
			while (fl && (f[fl - 1] == ' ' || f[fl - 1] == '"'))
				f[--fl] = '\0';
			if (strchr(f, '@')) {
				field = f;
				break;
			}
		}
		if (field == NULL) {
			if (n == 0 && keys.len == 0)
				continue; /* a header line */
			die(EXIT_PERM, "%s:%lu: no address on this line", file, lineno);
		}
		const char *why;
		if (addr_check(field, strlen(field), ADDR_ALLOW_NODOT, &why, NULL) == -1)
			die(EXIT_PERM, "%s:%lu: \"%s\": invalid address: %s", file, lineno, field, why);
		normalize(field, &key);
		buf_append(&keys, key.data, key.len + 1);
		n++;
	}
	if (ferror(in))
		die(EXIT_TEMP, "unable to read %s: %s", file, strerror(errno));
	if (in != stdin)
		fclose(in);
	free(line);
	open_writer(0);
	time_t now = time(NULL);
	struct buf err = BUF_INIT;
	for (size_t off = 0; off < keys.len; off += strlen(keys.data + off) + 1) {
		struct suppress_entry e = {keys.data + off, scope ? scope : "*", reason, now, "",
					   "imported"};
		if (suppress_add(B.sup, &e, &err) == -1)
			die(strstr(err.data, "scope") ? EXIT_PERM : EXIT_TEMP, "%s", err.data);
	}
	fprintf(stderr, "%s: %zu addresses imported from %s\n", prog, n, file);
	log_event(&B.log, "imported", "file", file, "reason", reason, "scope",
		  scope ? scope : "*", (char *)NULL);
	buf_free(&err);
	buf_free(&data);
	buf_free(&key);
	buf_free(&keys);
	close_all();
	return 0;
}

static int
cmd_secret_gen(void)
{
	unsigned char r[32];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		die(EXIT_TEMP, "getrandom: %s", strerror(errno));
	for (size_t i = 0; i < sizeof r; i++)
		printf("%02x", r[i]);
	putchar('\n');
	explicit_bzero(r, sizeof r);
	return 0;
}

int
main(int argc, char **argv)
{
	enum { O_INBOUND = 256, O_CLASSIFY, O_SECRET, O_DUMP };
	static const struct option opts[] = {
		{"spool", required_argument, NULL, 's'},
		{"inbound", no_argument, NULL, O_INBOUND},
		{"classify", no_argument, NULL, O_CLASSIFY},
		{"secret-gen", no_argument, NULL, O_SECRET},
		{"dump-config", no_argument, NULL, O_DUMP},
		{"reason", required_argument, NULL, 'r'},
		{"scope", required_argument, NULL, 'S'},
		{"type", required_argument, NULL, 't'},
		{"format", required_argument, NULL, 'f'},
		{"campaign", required_argument, NULL, 'c'},
		{"text", required_argument, NULL, 'x'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *spool = NULL, *reason = NULL, *scope = NULL, *type = NULL, *format = NULL,
		   *campaign = NULL, *text = NULL;
	int mode = 0, c;
	/* a delivery pipe must never exit 100, not even for its arguments */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--inbound") == 0)
			B.inbound = 1;
	while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': spool = optarg; break;
		case 'r': reason = optarg; break;
		case 'S': scope = optarg; break;
		case 't': type = optarg; break;
		case 'f': format = optarg; break;
		case 'c': campaign = optarg; break;
		case 'x': text = optarg; break;
		case 'h': usage(0); break;
		case O_INBOUND:
		case O_CLASSIFY:
		case O_SECRET:
		case O_DUMP: mode = c; break;
		default: usage(B.inbound ? EXIT_TEMP : EXIT_PERM);
		}
	}
	if (mode == O_SECRET)
		return cmd_secret_gen();
	if (mode == O_CLASSIFY)
		return cmd_classify();
	B.root = spool_root(spool);
	{
		struct buf err = BUF_INIT;
		int permanent;
		if (priv_start(B.root, PRIV_BOUNCE, 0, &err, &permanent) == -1)
			die(permanent && !B.inbound ? EXIT_PERM : EXIT_TEMP, "%s", err.data);
		buf_free(&err);
		/* installed set-user-ID: the commands for people are for root,
		 * the bounce user and the group mailshot (docs/privileges.md);
		 * checked before anything is opened */
		static const char *const areas[] = { "suppress", "softbounce", "bounce/digest",
						     "bounce/unknown", NULL };
		static const char *const modes[] = { "2750", "2750", "2750", "2750" };
		if (priv_check_areas(B.root, PRIV_BOUNCE, areas, modes, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
		const char *cmd = mode == O_INBOUND ? "process" : optind < argc ? argv[optind] : "";
		if (mode != O_DUMP && strcmp(cmd, "process") != 0 && !priv_caller_trusted()) {
			/* the program's group: set-group-ID, it is ours now */
			struct group *gr = getgrgid(getegid());
			die(EXIT_PERM, "%s: only root, the bounce user and the group %s may use it",
			    cmd, gr ? gr->gr_name : "mailshot");
		}
	}
	load_control();
	if (mode == O_DUMP) {
		control_dump(stdout, settings, B.control);
		close_all();
		return 0;
	}
	if (mode == O_INBOUND)
		return cmd_inbound();
	if (optind >= argc)
		usage(EXIT_PERM);
	const char *cmd = argv[optind++];
	int nargs = argc - optind;
	if (strcmp(cmd, "process") == 0 && nargs == 0)
		return cmd_process();
	if (strcmp(cmd, "list") == 0 && nargs == 0)
		return cmd_list(reason, format);
	if (strcmp(cmd, "add") == 0 && nargs == 1)
		return cmd_add(argv[optind], reason, scope, campaign, text);
	if (strcmp(cmd, "clear") == 0 && nargs == 1)
		return cmd_clear(argv[optind], scope);
	if (strcmp(cmd, "check") == 0 && nargs == 1)
		return cmd_check(argv[optind], type);
	if (strcmp(cmd, "import") == 0 && nargs == 1)
		return cmd_import(argv[optind], reason, scope);
	usage(EXIT_PERM);
	return EXIT_PERM;
}
