/*
 * NAME
 *	mailshot-report - what happened to every campaign; the queue; the
 *	DNS check of a sending domain; the page for the recipients' IT
 *
 * SYNOPSIS
 *	mailshot-report [--spool DIR] [summary] [--campaign ID] [--since T]
 *	    [--until T] [--top N] [--log FILE]... [--format text|tsv|json|html]
 *	mailshot-report [--spool DIR] bounces --campaign ID [--since T]
 *	mailshot-report [--spool DIR] queue [--format text|tsv|json]
 *	mailshot-report [--spool DIR] watch [--interval S] [--count N]
 *	mailshot-report [--spool DIR] check DOMAIN [--ip IP] [--selector S]
 *	mailshot-report [--spool DIR] it-sheet [--domain D] [--format md|html]
 *
 * DESCRIPTION
 *	Reads the delivery log (docs/logging.md) and the queue's state files
 *	(docs/spool.md); writes nothing.  Formats in docs/report.md, man page
 *	docs/mailshot-report.1.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "die.h"
#include "domcheck.h"
#include "logread.h"
#include "priv.h"
#include "report.h"
#include "reporthtml.h"
#include "spool.h"

static const char prog[] = "mailshot-report";

enum format { FMT_TEXT, FMT_TSV, FMT_JSON, FMT_HTML };

struct opts {
	const char *spool;
	const char *campaign;
	int64_t since, until; /* microseconds; 0: none */
	size_t top;
	enum format format;
	const char **logs;
	size_t nlogs;
	double interval;
	long count;
};

static void
usage(void)
{
	fprintf(stderr,
		"usage: %s [--spool DIR] [summary|bounces|queue|watch] [--campaign ID]\n"
		"           [--since TIME] [--until TIME] [--top N] [--log FILE]\n"
		"           [--format text|tsv|json|html]\n"
		"       %s [--spool DIR] check DOMAIN [--ip IP] [--selector S] [--mx DOMAIN]\n"
		"       %s [--spool DIR] it-sheet [--domain D] [--format md|html]\n",
		prog, prog, prog);
	exit(EXIT_PERM);
}

/* ---- times ---- */

/* TIME: 2026-11-23, 2026-11-23T10:00:00Z, @UNIXSECONDS, or an age: 30m,
 * 24h, 7d (before now).  Microseconds, or -1. */
static int64_t
parse_when(const char *s, time_t now)
{
	size_t n = strlen(s);
	char *end;
	if (n == 0)
		return -1;
	if (s[0] == '@') {
		errno = 0;
		long long v = strtoll(s + 1, &end, 10);
		if (errno || end == s + 1 || *end || v < 0)
			return -1;
		return (int64_t)v * 1000000;
	}
	if (n == 10 && s[4] == '-' && s[7] == '-') {
		char tmp[32];
		snprintf(tmp, sizeof tmp, "%sT00:00:00Z", s);
		return logread_parse_time(tmp, strlen(tmp));
	}
	if (n >= 20)
		return logread_parse_time(s, n);
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0 || end[0] == '\0' || end[1] != '\0')
		return -1;
	long long unit = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600
		       : end[0] == 'd' ? 86400 : 0;
	if (!unit || v > 100LL * 365 * 86400 / unit)
		return -1;
	return ((int64_t)now - v * unit) * 1000000;
}

static void
fmt_time(struct buf *out, int64_t sec)
{
	if (sec <= 0) {
		buf_append_str(out, "-");
		return;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	char tmp[40];
	strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_append_str(out, tmp);
}

static void
fmt_dur(struct buf *out, int64_t s)
{
	if (s < 0)
		buf_append_str(out, "-");
	else if (s < 60)
		buf_printf(out, "%llds", (long long)s);
	else if (s < 3600)
		buf_printf(out, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		buf_printf(out, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		buf_printf(out, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static double
pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* ---- reading ---- */

static void
warn_skipped(struct logreader *lr, struct report *r)
{
	struct logreader_stats st;
	logreader_stats(lr, &st);
	uint64_t unknown = r ? report_unknown_events(r) : 0;
	if (st.malformed || unknown || st.truncated)
		fprintf(stderr,
			"%s: warning: skipped %llu malformed line(s), %llu unknown event(s), "
			"%llu cut-off last line(s) of %llu read\n",
			prog, (unsigned long long)st.malformed, (unsigned long long)unknown,
			(unsigned long long)st.truncated, (unsigned long long)st.lines);
}

/* Adds the log's files to lr: those named by --log, else the spool's. */
static void
add_logs(struct logreader *lr, const struct opts *o)
{
	struct buf err = { 0 };
	int rc = 0;
	for (size_t i = 0; i < o->nlogs && rc == 0; i++)
		rc = logreader_add_file(lr, o->logs[i], &err);
	if (!o->nlogs)
		rc = logreader_add_spool(lr, o->spool, &err);
	if (rc == -1) {
		logreader_free(lr);
		fprintf(stderr, "%s: fatal: %s\n", prog, buf_cstr(&err));
		buf_free(&err);
		exit(EXIT_TEMP);
	}
	buf_free(&err);
}

static struct logreader *
open_log(const struct opts *o)
{
	struct logreader *lr = logreader_new();
	add_logs(lr, o);
	return lr;
}

/* A read error: everything is let go before exiting (valgrind's view). */
__attribute__((noreturn)) static void
read_failed(struct logreader *lr, struct report *r, struct buf *err)
{
	fprintf(stderr, "%s: fatal: %s\n", prog, buf_cstr(err));
	logreader_free(lr);
	report_free(r);
	buf_free(err);
	exit(EXIT_TEMP);
}

static struct report *
build(const struct opts *o, int with_queue)
{
	struct report_opts ro = { .since_usec = o->since, .until_usec = o->until,
				  .campaign = o->campaign };
	struct report *r = report_new(&ro);
	struct logreader *lr = open_log(o);
	struct logline l;
	struct buf err = { 0 };
	int got;
	while ((got = logreader_next(lr, &l, &err)) == 1)
		report_add(r, &l);
	if (got < 0)
		read_failed(lr, r, &err);
	warn_skipped(lr, r);
	logreader_free(lr);
	if (with_queue && report_read_queue(r, o->spool, (int64_t)time(NULL), &err) == -1)
		read_failed(NULL, r, &err);
	buf_free(&err);
	report_finish(r);
	return r;
}

/* ---- output helpers ---- */

static void
tsv_value(struct buf *out, const char *s)
{
	for (; s && *s; s++)
		buf_append_char(out, (*s == '\t' || *s == '\n' || *s == '\r') ? ' ' : *s);
}

static void
json_str(struct buf *out, const char *s)
{
	buf_append_char(out, '"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			buf_printf(out, "\\u%04x", *p);
		else if (*p < 0x80)
			buf_append_char(out, (char)*p);
		else {
			/* keep valid UTF-8, replace the rest */
			size_t n = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3
				 : (*p & 0xf8) == 0xf0 ? 4 : 0;
			size_t k = 1;
			while (n && k < n && (p[k] & 0xc0) == 0x80)
				k++;
			if (n && k == n) {
				buf_append(out, p, n);
				p += n - 1;
			} else
				buf_append_str(out, "\\ufffd");
		}
	}
	buf_append_char(out, '"');
}

static void
put(struct buf *out)
{
	if (out->len && fwrite(out->data, 1, out->len, stdout) != out->len)
		die(EXIT_TEMP, "cannot write the output: %s", strerror(errno));
	buf_reset(out);
}

/* ---- summary ---- */

static void
summary_text(struct report *r, const struct opts *o, struct buf *out)
{
	size_t n = report_campaign_count(r);
	if (n == 0)
		buf_append_str(out, "no campaigns in the log\n");
	for (size_t i = 0; i < n; i++) {
		struct report_campaign *c = report_campaign_at(r, i);
		if (i)
			buf_append_char(out, '\n');
		buf_printf(out, "campaign %s\n", c->name);
		buf_append_str(out, "  log        ");
		fmt_time(out, c->first_usec / 1000000);
		buf_append_str(out, " .. ");
		fmt_time(out, c->last_usec / 1000000);
		buf_append_char(out, '\n');
		buf_printf(out, "  recipients %8llu   queued %llu, suppressed %llu, invalid %llu, "
				"duplicates %llu",
			   (unsigned long long)c->recipients, (unsigned long long)c->queued,
			   (unsigned long long)c->suppressed, (unsigned long long)c->invalid,
			   (unsigned long long)c->duplicates);
		if (c->tests)
			buf_printf(out, ", test sends %llu", (unsigned long long)c->tests);
		buf_append_char(out, '\n');
		buf_printf(out, "  delivered  %8llu", (unsigned long long)c->delivered);
		if (c->queued)
			buf_printf(out, "   %.1f%% of queued", pct(c->delivered, c->queued));
		if (c->hist_n) {
			buf_append_str(out, c->queued ? "; latency p50 " : "   latency p50 ");
			fmt_dur(out, report_percentile(c, 0.50));
			buf_append_str(out, " p90 ");
			fmt_dur(out, report_percentile(c, 0.90));
			buf_append_str(out, " p99 ");
			fmt_dur(out, report_percentile(c, 0.99));
		}
		buf_append_char(out, '\n');
		buf_printf(out, "  pending    %8llu", (unsigned long long)c->pending);
		if (c->q_messages) {
			buf_printf(out, "   in queue %llu: ready %llu, deferred %llu, in flight %llu",
				   (unsigned long long)c->q_messages, (unsigned long long)c->q_ready,
				   (unsigned long long)c->q_deferred,
				   (unsigned long long)c->q_inflight);
			if (c->q_next) {
				buf_append_str(out, ", next attempt ");
				fmt_time(out, c->q_next);
			}
		}
		buf_append_char(out, '\n');
		buf_printf(out, "  bounced    %8llu   hard %llu, soft %llu\n",
			   (unsigned long long)c->bounced, (unsigned long long)c->hard,
			   (unsigned long long)c->soft);
		buf_printf(out, "  expired    %8llu\n", (unsigned long long)c->expired);
		buf_printf(out, "  complaints %8llu   unsubscribes %llu\n",
			   (unsigned long long)c->complaints, (unsigned long long)c->unsubscribes);
		buf_printf(out, "  deferrals  %8llu   of %llu recipient(s)\n",
			   (unsigned long long)c->deferrals, (unsigned long long)c->deferred_rcpts);
		struct report_domain **d;
		size_t nd = report_domains(r, i, &d);
		if (nd) {
			size_t w = 6;
			for (size_t k = 0; k < nd && k < o->top; k++)
				if (strlen(d[k]->name) > w)
					w = strlen(d[k]->name) > 40 ? 40 : strlen(d[k]->name);
			buf_printf(out, "  %-*s %9s %9s %8s %8s %5s %8s\n", (int)w, "domain",
				   "delivered", "deferred", "bounced", "expired", "tls", "deferral");
			for (size_t k = 0; k < nd && k < o->top; k++) {
				uint64_t att = d[k]->delivered + d[k]->deferred + d[k]->bounced;
				buf_printf(out, "  %-*.*s %9llu %9llu %8llu %8llu %4.0f%% %7.1f%%\n",
					   (int)w, (int)w, d[k]->name,
					   (unsigned long long)d[k]->delivered,
					   (unsigned long long)d[k]->deferred,
					   (unsigned long long)d[k]->bounced,
					   (unsigned long long)d[k]->expired,
					   pct(d[k]->tls, d[k]->delivered), pct(d[k]->deferred, att));
			}
			if (nd > o->top)
				buf_printf(out, "  (%zu more domains)\n", nd - o->top);
		}
		if (c->nreasons) {
			buf_append_str(out, "  bounce reasons\n");
			for (size_t k = 0; k < c->nreasons && k < o->top; k++) {
				buf_printf(out, "    %-22s %6llu", c->reasons[k].name,
					   (unsigned long long)c->reasons[k].count);
				if (c->reasons[k].sample && *c->reasons[k].sample) {
					buf_append_str(out, "  e.g. \"");
					const char *s = c->reasons[k].sample;
					size_t sl = strlen(s);
					buf_append(out, s, sl > 100 ? 100 : sl);
					buf_append_str(out, sl > 100 ? "...\"" : "\"");
				}
				buf_append_char(out, '\n');
			}
		}
	}
}

static const char *const campaign_columns =
	"#campaign\tname\trecipients\tqueued\tdelivered\tpending\tbounced\thard\tsoft\texpired"
	"\tsuppressed\tinvalid\tduplicates\tcomplaints\tunsubscribes\ttests\tdeferrals"
	"\tdelivery_rate\tp50\tp90\tp99\tfirst\tlast\tin_queue\tnext_attempt\n";
static const char *const domain_columns =
	"#domain\tcampaign\tdomain\tdelivered\tdeferred\tbounced\texpired\ttls_share"
	"\tdeferral_rate\tthrottled\tlast_error\n";
static const char *const reason_columns = "#reason\tcampaign\treason\tcount\tsample\n";

static void
summary_tsv(struct report *r, const struct opts *o, struct buf *out)
{
	size_t n = report_campaign_count(r);
	buf_append_str(out, campaign_columns);
	for (size_t i = 0; i < n; i++) {
		struct report_campaign *c = report_campaign_at(r, i);
		buf_append_str(out, "campaign\t");
		tsv_value(out, c->name);
		buf_printf(out,
			   "\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu"
			   "\t%llu\t%llu\t%llu\t%.4f\t%lld\t%lld\t%lld\t",
			   (unsigned long long)c->recipients, (unsigned long long)c->queued,
			   (unsigned long long)c->delivered, (unsigned long long)c->pending,
			   (unsigned long long)c->bounced, (unsigned long long)c->hard,
			   (unsigned long long)c->soft, (unsigned long long)c->expired,
			   (unsigned long long)c->suppressed, (unsigned long long)c->invalid,
			   (unsigned long long)c->duplicates, (unsigned long long)c->complaints,
			   (unsigned long long)c->unsubscribes, (unsigned long long)c->tests,
			   (unsigned long long)c->deferrals,
			   c->queued ? (double)c->delivered / (double)c->queued : 0.0,
			   (long long)report_percentile(c, 0.5), (long long)report_percentile(c, 0.9),
			   (long long)report_percentile(c, 0.99));
		fmt_time(out, c->first_usec / 1000000);
		buf_append_char(out, '\t');
		fmt_time(out, c->last_usec / 1000000);
		buf_printf(out, "\t%llu\t", (unsigned long long)c->q_messages);
		fmt_time(out, c->q_next);
		buf_append_char(out, '\n');
	}
	buf_append_str(out, domain_columns);
	for (size_t i = 0; i < n; i++) {
		struct report_campaign *c = report_campaign_at(r, i);
		struct report_domain **d;
		size_t nd = report_domains(r, i, &d);
		for (size_t k = 0; k < nd && k < o->top; k++) {
			uint64_t att = d[k]->delivered + d[k]->deferred + d[k]->bounced;
			buf_append_str(out, "domain\t");
			tsv_value(out, c->name);
			buf_append_char(out, '\t');
			tsv_value(out, d[k]->name);
			buf_printf(out, "\t%llu\t%llu\t%llu\t%llu\t%.4f\t%.4f\t%llu\t",
				   (unsigned long long)d[k]->delivered,
				   (unsigned long long)d[k]->deferred,
				   (unsigned long long)d[k]->bounced,
				   (unsigned long long)d[k]->expired,
				   d[k]->delivered ? (double)d[k]->tls / (double)d[k]->delivered : 0.0,
				   att ? (double)d[k]->deferred / (double)att : 0.0,
				   (unsigned long long)d[k]->throttled);
			tsv_value(out, d[k]->last_error);
			buf_append_char(out, '\n');
		}
	}
	buf_append_str(out, reason_columns);
	for (size_t i = 0; i < n; i++) {
		struct report_campaign *c = report_campaign_at(r, i);
		for (size_t k = 0; k < c->nreasons && k < o->top; k++) {
			buf_append_str(out, "reason\t");
			tsv_value(out, c->name);
			buf_append_char(out, '\t');
			tsv_value(out, c->reasons[k].name);
			buf_printf(out, "\t%llu\t", (unsigned long long)c->reasons[k].count);
			tsv_value(out, c->reasons[k].sample);
			buf_append_char(out, '\n');
		}
	}
}

static void
json_time(struct buf *out, int64_t sec)
{
	if (sec <= 0) {
		buf_append_str(out, "null");
		return;
	}
	buf_append_char(out, '"');
	fmt_time(out, sec);
	buf_append_char(out, '"');
}

static void
summary_json(struct report *r, const struct opts *o, struct logreader_stats *st, struct buf *out)
{
	size_t n = report_campaign_count(r);
	buf_append_str(out, "{\"version\":1,\"campaigns\":[");
	for (size_t i = 0; i < n; i++) {
		struct report_campaign *c = report_campaign_at(r, i);
		buf_append_str(out, i ? ",\n{" : "\n{");
		buf_append_str(out, "\"name\":");
		json_str(out, c->name);
#define NUM(k, v) buf_printf(out, ",\"%s\":%llu", k, (unsigned long long)(v))
		NUM("recipients", c->recipients);
		NUM("queued", c->queued);
		NUM("delivered", c->delivered);
		NUM("pending", c->pending);
		NUM("bounced", c->bounced);
		NUM("hard", c->hard);
		NUM("soft", c->soft);
		NUM("expired", c->expired);
		NUM("suppressed", c->suppressed);
		NUM("invalid", c->invalid);
		NUM("duplicates", c->duplicates);
		NUM("complaints", c->complaints);
		NUM("unsubscribes", c->unsubscribes);
		NUM("tests", c->tests);
		NUM("deferrals", c->deferrals);
		buf_printf(out, ",\"delivery_rate\":%.4f",
			   c->queued ? (double)c->delivered / (double)c->queued : 0.0);
		if (c->hist_n)
			buf_printf(out, ",\"latency\":{\"p50\":%lld,\"p90\":%lld,\"p99\":%lld}",
				   (long long)report_percentile(c, 0.5),
				   (long long)report_percentile(c, 0.9),
				   (long long)report_percentile(c, 0.99));
		else
			buf_append_str(out, ",\"latency\":null");
		buf_append_str(out, ",\"first\":");
		json_time(out, c->first_usec / 1000000);
		buf_append_str(out, ",\"last\":");
		json_time(out, c->last_usec / 1000000);
		buf_append_str(out, ",\"queue\":{");
		buf_printf(out, "\"messages\":%llu,\"ready\":%llu,\"deferred\":%llu,\"inflight\":%llu",
			   (unsigned long long)c->q_messages, (unsigned long long)c->q_ready,
			   (unsigned long long)c->q_deferred, (unsigned long long)c->q_inflight);
		buf_append_str(out, ",\"next_attempt\":");
		json_time(out, c->q_next);
		buf_append_str(out, "},\"domains\":[");
		struct report_domain **d;
		size_t nd = report_domains(r, i, &d);
		for (size_t k = 0; k < nd && k < o->top; k++) {
			uint64_t att = d[k]->delivered + d[k]->deferred + d[k]->bounced;
			buf_append_str(out, k ? ",{\"domain\":" : "{\"domain\":");
			json_str(out, d[k]->name);
			NUM("delivered", d[k]->delivered);
			NUM("deferred", d[k]->deferred);
			NUM("bounced", d[k]->bounced);
			NUM("expired", d[k]->expired);
			NUM("throttled", d[k]->throttled);
			buf_printf(out, ",\"tls_share\":%.4f,\"deferral_rate\":%.4f",
				   d[k]->delivered ? (double)d[k]->tls / (double)d[k]->delivered : 0.0,
				   att ? (double)d[k]->deferred / (double)att : 0.0);
			buf_append_str(out, ",\"last_error\":");
			if (d[k]->last_error)
				json_str(out, d[k]->last_error);
			else
				buf_append_str(out, "null");
			buf_append_char(out, '}');
		}
		buf_append_str(out, "],\"reasons\":[");
		for (size_t k = 0; k < c->nreasons && k < o->top; k++) {
			buf_append_str(out, k ? ",{\"reason\":" : "{\"reason\":");
			json_str(out, c->reasons[k].name);
			NUM("count", c->reasons[k].count);
			buf_append_str(out, ",\"sample\":");
			json_str(out, c->reasons[k].sample);
			buf_append_char(out, '}');
		}
		buf_append_str(out, "]}");
	}
	buf_printf(out, "\n],\"skipped\":{\"malformed\":%llu,\"unknown_events\":%llu,"
			"\"truncated\":%llu},\"lines\":%llu}\n",
		   (unsigned long long)st->malformed, (unsigned long long)report_unknown_events(r),
		   (unsigned long long)st->truncated, (unsigned long long)st->lines);
#undef NUM
}

static int
cmd_summary(const struct opts *o)
{
	struct report_opts ro = { .since_usec = o->since, .until_usec = o->until,
				  .campaign = o->campaign };
	struct report *r = report_new(&ro);
	struct logreader *lr = open_log(o);
	struct logline l;
	struct buf err = { 0 }, out = { 0 };
	int got;
	while ((got = logreader_next(lr, &l, &err)) == 1)
		report_add(r, &l);
	if (got < 0)
		read_failed(lr, r, &err);
	warn_skipped(lr, r);
	struct logreader_stats st;
	logreader_stats(lr, &st);
	logreader_free(lr);
	if (!o->nlogs && report_read_queue(r, o->spool, (int64_t)time(NULL), &err) == -1)
		read_failed(NULL, r, &err);
	report_finish(r);
	if (o->campaign && report_campaign_count(r) == 0)
		fprintf(stderr, "%s: warning: campaign %s: nothing in the log\n", prog, o->campaign);
	switch (o->format) {
	case FMT_TEXT:
		summary_text(r, o, &out);
		break;
	case FMT_TSV:
		summary_tsv(r, o, &out);
		break;
	case FMT_JSON:
		summary_json(r, o, &st, &out);
		break;
	case FMT_HTML: {
		struct reporthtml_info info = { .spool = o->spool, .top = o->top,
						.generated = (int64_t)time(NULL),
						.lines = st.lines, .malformed = st.malformed,
						.unknown = report_unknown_events(r) };
		reporthtml_write(r, &info, &out);
		break;
	}
	}
	put(&out);
	buf_free(&out);
	buf_free(&err);
	report_free(r);
	return 0;
}

/* ---- bounces ---- */

struct brow {
	char *rcpt, *status, *cls, *reason, *code, *enhanced, *text;
	int64_t usec;
	int classified;
};

struct btable {
	struct brow *row;
	size_t n, cap;
	size_t *slot; /* open addressing: row index + 1 */
	size_t scap;
};

static uint64_t
fold_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		h ^= (c >= 'A' && c <= 'Z') ? c + 32 : c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct brow *
brow_get(struct btable *t, const char *rcpt)
{
	if ((t->n + 1) * 2 > t->scap) {
		size_t ncap = t->scap ? 2 * t->scap : 256;
		size_t *ns = xcalloc(ncap, sizeof *ns);
		for (size_t i = 0; i < t->n; i++) {
			size_t j = fold_hash(t->row[i].rcpt) & (ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = i + 1;
		}
		free(t->slot);
		t->slot = ns;
		t->scap = ncap;
	}
	size_t j = fold_hash(rcpt) & (t->scap - 1);
	while (t->slot[j]) {
		struct brow *b = &t->row[t->slot[j] - 1];
		if (strcasecmp(b->rcpt, rcpt) == 0)
			return b;
		j = (j + 1) & (t->scap - 1);
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->row = xrealloc(t->row, t->cap * sizeof *t->row);
	}
	struct brow *b = &t->row[t->n];
	memset(b, 0, sizeof *b);
	b->rcpt = xstrdup(rcpt);
	t->slot[j] = ++t->n;
	return b;
}

static void
set(char **dst, const char *v)
{
	if (!v)
		return;
	free(*dst);
	*dst = xstrdup(v);
}

static int
cmp_brow(const void *a, const void *b)
{
	const struct brow *x = a, *y = b;
	return strcmp(x->rcpt, y->rcpt);
}

static int
cmd_bounces(const struct opts *o)
{
	if (!o->campaign)
		die(EXIT_PERM, "bounces: --campaign ID is required");
	struct logreader *lr = open_log(o);
	struct logline l;
	struct buf err = { 0 }, out = { 0 };
	struct btable t = { 0 };
	int got;
	while ((got = logreader_next(lr, &l, &err)) == 1) {
		if ((o->since && l.usec < o->since) || (o->until && l.usec > o->until))
			continue;
		const char *c = logline_get(&l, "campaign");
		const char *rc = logline_get(&l, "rcpt");
		if (!c || !rc || strcmp(c, o->campaign) != 0)
			continue;
		int sched = strcmp(l.prog, "sched") == 0;
		int bounce = strcmp(l.prog, "bounce") == 0;
		if (sched && (strcmp(l.event, "bounced") == 0 || strcmp(l.event, "expired") == 0)) {
			struct brow *b = brow_get(&t, rc);
			if (!b->classified) {
				set(&b->status, strcmp(l.event, "bounced") == 0 ? "failed" : "expired");
				set(&b->cls, strcmp(l.event, "expired") == 0 ? "soft" : "");
				set(&b->reason, strcmp(l.event, "expired") == 0 ? "expired" : "");
				set(&b->text, logline_get(&l, "text"));
			}
			set(&b->code, logline_get(&l, "code"));
			set(&b->enhanced, logline_get(&l, "enhanced"));
			b->usec = l.usec;
		} else if (bounce && strcmp(l.event, "classified") == 0) {
			struct brow *b = brow_get(&t, rc);
			b->classified = 1;
			set(&b->status, logline_get(&l, "status"));
			set(&b->cls, logline_get(&l, "class"));
			set(&b->reason, logline_get(&l, "reason"));
			const char *code = logline_get(&l, "code");
			if (code && *code)
				set(&b->code, code);
			const char *enh = logline_get(&l, "enhanced");
			if (enh && *enh)
				set(&b->enhanced, enh);
			set(&b->text, logline_get(&l, "text"));
			if (!b->usec)
				b->usec = l.usec;
		}
	}
	if (got < 0)
		read_failed(lr, NULL, &err);
	warn_skipped(lr, NULL);
	logreader_free(lr);
	qsort(t.row, t.n, sizeof *t.row, cmp_brow);
	buf_append_str(&out, "#rcpt\tstatus\tclass\treason\tcode\tenhanced\ttime\ttext\n");
	for (size_t i = 0; i < t.n; i++) {
		struct brow *b = &t.row[i];
		tsv_value(&out, b->rcpt);
		buf_append_char(&out, '\t');
		tsv_value(&out, b->status);
		buf_append_char(&out, '\t');
		tsv_value(&out, b->cls);
		buf_append_char(&out, '\t');
		tsv_value(&out, b->reason);
		buf_append_char(&out, '\t');
		tsv_value(&out, b->code);
		buf_append_char(&out, '\t');
		tsv_value(&out, b->enhanced);
		buf_append_char(&out, '\t');
		fmt_time(&out, b->usec / 1000000);
		buf_append_char(&out, '\t');
		tsv_value(&out, b->text);
		buf_append_char(&out, '\n');
		if (out.len > 65536)
			put(&out);
		free(b->rcpt);
		free(b->status);
		free(b->cls);
		free(b->reason);
		free(b->code);
		free(b->enhanced);
		free(b->text);
	}
	put(&out);
	free(t.row);
	free(t.slot);
	buf_free(&out);
	buf_free(&err);
	return 0;
}

/* ---- queue ---- */

/* sched's own view, when it runs: 1 read, 0 none (not running, or a
 * status left by a sched that died). */
static int
read_sched_status(const char *spool, struct sched_status *st, int64_t now)
{
	struct buf path = { 0 }, text = { 0 };
	buf_printf(&path, "%s/queue/status", spool);
	int rc = 0;
	if (spool_read_file(buf_cstr(&path), 64u << 20, &text) == 0) {
		const char *why;
		if (sched_status_parse(text.data ? text.data : "", text.len, st, &why) == -1)
			fprintf(stderr, "%s: warning: %s: %s\n", prog, buf_cstr(&path), why);
		else if (st->pid > 0 && (kill((pid_t)st->pid, 0) == 0 || errno == EPERM) &&
			 now - st->time < 60)
			rc = 1;
		else
			sched_status_free(st);
	}
	buf_free(&path);
	buf_free(&text);
	return rc;
}

static int
cmd_queue(const struct opts *o)
{
	struct report *r = build(o, 1);
	struct buf out = { 0 };
	int64_t now = (int64_t)time(NULL);
	size_t n = report_campaign_count(r);
	uint64_t total = 0, ready = 0, deferred = 0, inflight = 0;
	int64_t oldest = 0, next = 0;
	for (size_t i = 0; i < n; i++) {
		struct report_campaign *c = report_campaign_at(r, i);
		total += c->q_messages;
		ready += c->q_ready;
		deferred += c->q_deferred;
		inflight += c->q_inflight;
		if (c->q_oldest && (!oldest || c->q_oldest < oldest))
			oldest = c->q_oldest;
		if (c->q_next && (!next || c->q_next < next))
			next = c->q_next;
	}
	struct report_dest **d;
	size_t nd = report_dests(r, &d);
	struct sched_status ss = { 0 };
	int live = read_sched_status(o->spool, &ss, now);
	if (o->format == FMT_TEXT) {
		buf_printf(&out, "queue: %llu message(s): ready %llu, deferred %llu, in flight %llu\n",
			   (unsigned long long)total, (unsigned long long)ready,
			   (unsigned long long)deferred, (unsigned long long)inflight);
		if (oldest) {
			buf_append_str(&out, "oldest: ");
			fmt_time(&out, oldest);
			buf_append_str(&out, " (");
			fmt_dur(&out, now - oldest);
			buf_append_str(&out, " ago)\n");
		}
		if (next) {
			buf_append_str(&out, "next attempt: ");
			fmt_time(&out, next);
			buf_append_char(&out, '\n');
		}
		/* deferred by when they are due */
		for (size_t i = 0; i < n; i++) {
			struct report_campaign *c = report_campaign_at(r, i);
			if (!c->q_messages)
				continue;
			buf_printf(&out, "campaign %s: %llu queued, ready %llu, deferred %llu, in flight %llu",
				   c->name, (unsigned long long)c->q_messages,
				   (unsigned long long)c->q_ready, (unsigned long long)c->q_deferred,
				   (unsigned long long)c->q_inflight);
			if (c->q_next) {
				buf_append_str(&out, ", next ");
				fmt_time(&out, c->q_next);
			}
			buf_append_char(&out, '\n');
		}
		size_t shown = 0;
		for (size_t i = 0; i < nd && shown < o->top; i++) {
			uint64_t q = d[i]->ready + d[i]->deferred + d[i]->inflight;
			if (!q && !d[i]->deferrals)
				continue;
			if (!shown++)
				buf_printf(&out, "%-30s %7s %8s %8s %9s %9s  %s\n", "destination", "ready",
					   "deferred", "inflight", "next", "deferrals", "last error");
			struct buf nx = { 0 };
			if (d[i]->next)
				fmt_dur(&nx, d[i]->next - now);
			else
				buf_append_str(&nx, "-");
			buf_printf(&out, "%-30.30s %7llu %8llu %8llu %9s %9llu  ", d[i]->name,
				   (unsigned long long)d[i]->ready, (unsigned long long)d[i]->deferred,
				   (unsigned long long)d[i]->inflight, buf_cstr(&nx),
				   (unsigned long long)d[i]->deferrals);
			buf_free(&nx);
			if (d[i]->last_error) {
				const char *e = d[i]->last_error;
				size_t el = strlen(e);
				buf_append(&out, e, el > 80 ? 80 : el);
			} else
				buf_append_str(&out, "-");
			buf_append_char(&out, '\n');
		}
		if (!live) {
			buf_append_str(&out, "sched: not running\n");
		} else {
			buf_printf(&out, "sched: running (pid %ld, since ", ss.pid);
			fmt_time(&out, ss.started);
			buf_printf(&out, "): %llu held, ready %llu, waiting %llu, in flight %llu; "
					 "%llu delivered, %llu bounced, %llu deferred, %llu expired\n",
				   (unsigned long long)ss.messages, (unsigned long long)ss.ready,
				   (unsigned long long)ss.waiting, (unsigned long long)ss.inflight,
				   (unsigned long long)ss.delivered, (unsigned long long)ss.failed,
				   (unsigned long long)ss.deferred, (unsigned long long)ss.expired);
			if (ss.ndest)
				buf_printf(&out, "%-30s %7s %7s %8s %6s %5s  %s\n", "sched destination",
					   "ready", "waiting", "inflight", "window", "cap", "paused");
			for (size_t i = 0; i < ss.ndest && i < o->top; i++) {
				struct sched_status_dest *x = &ss.dest[i];
				buf_printf(&out, "%-30.30s %7llu %7llu %8llu %6u %5u  ", x->name,
					   (unsigned long long)x->ready, (unsigned long long)x->waiting,
					   (unsigned long long)x->inflight, x->window, x->concurrency);
				if (x->pause_until > now) {
					buf_append_str(&out, "for ");
					fmt_dur(&out, x->pause_until - now);
				} else
					buf_append_str(&out, "no");
				buf_append_char(&out, '\n');
			}
		}
	} else if (o->format == FMT_TSV) {
		buf_append_str(&out, "#destination\tdomain\tready\tdeferred\tinflight\tnext_attempt"
				     "\toldest\tdelivered\tdeferrals\tthrottles\tlast_error_time"
				     "\tlast_error\n");
		for (size_t i = 0; i < nd; i++) {
			buf_append_str(&out, "destination\t");
			tsv_value(&out, d[i]->name);
			buf_printf(&out, "\t%llu\t%llu\t%llu\t", (unsigned long long)d[i]->ready,
				   (unsigned long long)d[i]->deferred,
				   (unsigned long long)d[i]->inflight);
			fmt_time(&out, d[i]->next);
			buf_append_char(&out, '\t');
			fmt_time(&out, d[i]->oldest);
			buf_printf(&out, "\t%llu\t%llu\t%llu\t", (unsigned long long)d[i]->delivered,
				   (unsigned long long)d[i]->deferrals,
				   (unsigned long long)d[i]->throttles);
			fmt_time(&out, d[i]->last_error_usec / 1000000);
			buf_append_char(&out, '\t');
			tsv_value(&out, d[i]->last_error);
			buf_append_char(&out, '\n');
		}
		buf_append_str(&out, "#sched\tdestination\tready\twaiting\tinflight\twindow"
				     "\tconcurrency\trate\tpaused_until\tbackoff\tdelivered\tfailed"
				     "\tdeferred\texpired\tthrottles\tlast_error_time\tlast_error\n");
		for (size_t i = 0; live && i < ss.ndest; i++) {
			struct sched_status_dest *x = &ss.dest[i];
			buf_append_str(&out, "sched\t");
			tsv_value(&out, x->name);
			buf_printf(&out, "\t%llu\t%llu\t%llu\t%u\t%u\t%u\t",
				   (unsigned long long)x->ready, (unsigned long long)x->waiting,
				   (unsigned long long)x->inflight, x->window, x->concurrency, x->rate);
			fmt_time(&out, x->pause_until > now ? x->pause_until : 0);
			buf_printf(&out, "\t%lld\t%llu\t%llu\t%llu\t%llu\t%llu\t", (long long)x->backoff,
				   (unsigned long long)x->delivered, (unsigned long long)x->failed,
				   (unsigned long long)x->deferred, (unsigned long long)x->expired,
				   (unsigned long long)x->throttles);
			fmt_time(&out, x->error_at);
			buf_append_char(&out, '\t');
			tsv_value(&out, x->last_error);
			buf_append_char(&out, '\n');
		}
	} else {
		buf_printf(&out, "{\"version\":1,\"messages\":%llu,\"ready\":%llu,\"deferred\":%llu,"
				 "\"inflight\":%llu,\"oldest\":",
			   (unsigned long long)total, (unsigned long long)ready,
			   (unsigned long long)deferred, (unsigned long long)inflight);
		json_time(&out, oldest);
		buf_append_str(&out, ",\"next_attempt\":");
		json_time(&out, next);
		buf_append_str(&out, ",\"destinations\":[");
		for (size_t i = 0; i < nd; i++) {
			buf_append_str(&out, i ? ",\n{\"destination\":" : "\n{\"destination\":");
			json_str(&out, d[i]->name);
			buf_printf(&out, ",\"ready\":%llu,\"deferred\":%llu,\"inflight\":%llu,"
					 "\"delivered\":%llu,\"deferrals\":%llu,\"throttles\":%llu",
				   (unsigned long long)d[i]->ready, (unsigned long long)d[i]->deferred,
				   (unsigned long long)d[i]->inflight,
				   (unsigned long long)d[i]->delivered,
				   (unsigned long long)d[i]->deferrals,
				   (unsigned long long)d[i]->throttles);
			buf_append_str(&out, ",\"next_attempt\":");
			json_time(&out, d[i]->next);
			buf_append_str(&out, ",\"oldest\":");
			json_time(&out, d[i]->oldest);
			buf_append_str(&out, ",\"last_error\":");
			if (d[i]->last_error)
				json_str(&out, d[i]->last_error);
			else
				buf_append_str(&out, "null");
			buf_append_char(&out, '}');
		}
		buf_append_str(&out, "\n],\"sched\":");
		if (!live)
			buf_append_str(&out, "null");
		else {
			buf_printf(&out, "{\"pid\":%ld,\"started\":", ss.pid);
			json_time(&out, ss.started);
			buf_printf(&out, ",\"messages\":%llu,\"ready\":%llu,\"waiting\":%llu,"
					 "\"inflight\":%llu,\"destinations\":[",
				   (unsigned long long)ss.messages, (unsigned long long)ss.ready,
				   (unsigned long long)ss.waiting, (unsigned long long)ss.inflight);
			for (size_t i = 0; i < ss.ndest; i++) {
				struct sched_status_dest *x = &ss.dest[i];
				buf_append_str(&out, i ? ",\n{\"destination\":" : "\n{\"destination\":");
				json_str(&out, x->name);
				buf_printf(&out, ",\"ready\":%llu,\"waiting\":%llu,\"inflight\":%llu,"
						 "\"window\":%u,\"concurrency\":%u,\"rate\":%u,"
						 "\"throttles\":%llu,\"paused_until\":",
					   (unsigned long long)x->ready, (unsigned long long)x->waiting,
					   (unsigned long long)x->inflight, x->window, x->concurrency,
					   x->rate, (unsigned long long)x->throttles);
				json_time(&out, x->pause_until > now ? x->pause_until : 0);
				buf_append_str(&out, ",\"last_error\":");
				if (x->last_error)
					json_str(&out, x->last_error);
				else
					buf_append_str(&out, "null");
				buf_append_char(&out, '}');
			}
			buf_append_str(&out, "]}");
		}
		buf_append_str(&out, "}\n");
	}
	put(&out);
	buf_free(&out);
	sched_status_free(&ss);
	report_free(r);
	return 0;
}

/* ---- watch ---- */

#define WATCH_RECENT 600 /* seconds a finished campaign stays on screen */

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
cmp_campaign_name(const void *a, const void *b)
{
	const struct report_campaign *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

static int
cmd_watch(const struct opts *o)
{
	int tty = isatty(STDOUT_FILENO);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	uint64_t last_done = 0, last_defer = 0, last_skipped = 0;
	int first = 1;
	struct buf out = { 0 }, err = { 0 };
	struct report_opts ro = { .since_usec = o->since, .until_usec = o->until,
				  .campaign = o->campaign };
	/* The log is followed: each round reads only the lines written
	 * since the last (logread.h), into figures kept across rounds. */
	struct logreader *lr = logreader_new();
	logreader_follow(lr);
	struct report *r = NULL;
	for (long round = 0; !stop && (o->count <= 0 || round < o->count); round++) {
		if (round) {
			struct timespec ts = { (time_t)o->interval,
					       (long)((o->interval - (double)(time_t)o->interval) * 1e9) };
			while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !stop)
				;
			if (stop)
				break;
		}
		if (round) {
			logreader_rescan(lr);
			add_logs(lr, o);
		} else
			add_logs(lr, o);
		if (!r || (round && logreader_resume(lr) == 0)) {
			/* from the start: the first round, or a log that was
			 * cut or rewritten */
			report_free(r);
			r = report_new(&ro);
			last_skipped = 0;
		}
		struct logline l;
		int got;
		while ((got = logreader_next(lr, &l, &err)) == 1)
			report_add(r, &l);
		if (got < 0 ||
		    report_read_queue(r, o->spool, (int64_t)time(NULL), &err) == -1) {
			buf_free(&out);
			read_failed(lr, r, &err);
		}
		report_tally(r);
		struct logreader_stats st;
		logreader_stats(lr, &st);
		uint64_t skipped = st.malformed + report_unknown_events(r);
		if (skipped != last_skipped)
			warn_skipped(lr, r);
		last_skipped = skipped;
		size_t n = report_campaign_count(r);
		/* by name, as the other views (report_tally leaves the log's order) */
		struct report_campaign **byname = xcalloc(n ? n : 1, sizeof *byname);
		for (size_t i = 0; i < n; i++)
			byname[i] = report_campaign_at(r, i);
		qsort(byname, n, sizeof *byname, cmp_campaign_name);
		uint64_t done = 0, defer = 0;
		int cols = 80;
		struct winsize ws;
		if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
			cols = ws.ws_col;
		if (tty)
			buf_append_str(&out, "\033[H\033[2J");
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
		size_t shown = 0;
		for (size_t i = 0; i < n; i++) {
			struct report_campaign *c = byname[i];
			uint64_t fin = c->delivered + c->bounced + c->expired;
			done += fin;
			defer += c->deferrals;
			/* running: something still queued, or news in the last
			 * WATCH_RECENT seconds */
			if (!c->pending && !c->q_messages &&
			    (int64_t)now - c->last_usec / 1000000 > WATCH_RECENT)
				continue;
			shown++;
			if (!tty) {
				buf_printf(&out, "%s campaign=%s queued=%llu delivered=%llu bounced=%llu "
						 "expired=%llu pending=%llu deferrals=%llu\n",
					   stamp, c->name, (unsigned long long)c->queued,
					   (unsigned long long)c->delivered, (unsigned long long)c->bounced,
					   (unsigned long long)c->expired, (unsigned long long)c->pending,
					   (unsigned long long)c->deferrals);
				continue;
			}
			int barw = cols - 50;
			if (barw < 10)
				barw = 10;
			double frac = c->queued ? (double)fin / (double)c->queued : 0.0;
			if (frac > 1)
				frac = 1;
			int fill = (int)(frac * barw + 0.5);
			buf_printf(&out, "%-20.20s [", c->name);
			for (int k = 0; k < barw; k++)
				buf_append_char(&out, k < fill ? '#' : '.');
			buf_printf(&out, "] %5.1f%% %llu/%llu\n", frac * 100,
				   (unsigned long long)fin, (unsigned long long)c->queued);
			buf_printf(&out, "%20s  delivered %llu, bounced %llu, expired %llu, pending %llu, "
					 "deferrals %llu\n",
				   "", (unsigned long long)c->delivered, (unsigned long long)c->bounced,
				   (unsigned long long)c->expired, (unsigned long long)c->pending,
				   (unsigned long long)c->deferrals);
		}
		if (!shown)
			buf_printf(&out, "%s no campaign running\n", stamp);
		double rate = first ? 0.0 : (double)(done - last_done) / o->interval;
		uint64_t ndefer = first ? 0 : defer - last_defer;
		buf_printf(&out, "%s total: %llu done, %.1f msg/s, %llu deferral(s) in the last %g s\n",
			   stamp, (unsigned long long)done, rate < 0 ? 0.0 : rate,
			   (unsigned long long)ndefer, o->interval);
		last_done = done;
		last_defer = defer;
		first = 0;
		free(byname);
		put(&out);
		fflush(stdout);
	}
	report_free(r);
	logreader_free(lr);
	buf_free(&out);
	buf_free(&err);
	return 0;
}

/* ---- main ---- */

int
main(int argc, char **argv)
{
	struct opts o = { .top = 10, .interval = 2.0 };
	const char *spool_opt = NULL;
	const char *format = NULL;
	const char *since = NULL, *until = NULL;
	/* --spool may come before the command */
	int i = 1;
	while (i < argc && strncmp(argv[i], "--spool", 7) == 0) {
		if (strcmp(argv[i], "--spool") == 0 && i + 1 < argc) {
			spool_opt = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--spool=", 8) == 0) {
			spool_opt = argv[i] + 8;
			i++;
		} else
			usage();
	}
	const char *cmd = "summary";
	if (i < argc && argv[i][0] != '-')
		cmd = argv[i++];
	o.spool = spool_root(spool_opt);
	{
		/* --spool after the command is only known below; control/users
		 * is read from the spool named so far */
		struct buf err = BUF_INIT;
		int permanent;
		for (int k = i; k + 1 < argc; k++)
			if (strcmp(argv[k], "--spool") == 0)
				o.spool = spool_root(argv[k + 1]);
		if (priv_start(o.spool, PRIV_REPORT, 0, &err, &permanent) == -1)
			die(permanent ? EXIT_PERM : EXIT_TEMP, "%s", err.data);
		buf_free(&err);
	}
	if (strcmp(cmd, "check") == 0 || strcmp(cmd, "it-sheet") == 0) {
		/* their own options; argv[0] becomes the command */
		argv[i - 1] = (char *)cmd;
		int (*fn)(const char *, int, char **) =
			strcmp(cmd, "check") == 0 ? domcheck_main : itsheet_main;
		return fn(o.spool, argc - (i - 1), argv + (i - 1));
	}
	if (strcmp(cmd, "summary") && strcmp(cmd, "bounces") && strcmp(cmd, "queue") &&
	    strcmp(cmd, "watch")) {
		fprintf(stderr, "%s: unknown command %s\n", prog, cmd);
		usage();
	}
	static const struct option longopts[] = {
		{ "spool", required_argument, NULL, 's' },
		{ "campaign", required_argument, NULL, 'c' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "top", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'f' },
		{ "log", required_argument, NULL, 'l' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	optind = i;
	int ch;
	char *end;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.spool = spool_root(optarg);
			break;
		case 'c':
			if (!spool_valid_id(optarg))
				die(EXIT_PERM, "--campaign: bad campaign id (letters, digits, . _ -)");
			o.campaign = optarg;
			break;
		case 'S':
			since = optarg;
			break;
		case 'U':
			until = optarg;
			break;
		case 't': {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 1000000)
				die(EXIT_PERM, "--top: not a number from 1 to 1000000: %s", optarg);
			o.top = v;
			break;
		}
		case 'f':
			format = optarg;
			break;
		case 'l':
			o.logs = xrealloc(o.logs, (o.nlogs + 1) * sizeof *o.logs);
			o.logs[o.nlogs++] = optarg;
			break;
		case 'i':
			errno = 0;
			o.interval = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(o.interval >= 0.1 && o.interval <= 3600))
				die(EXIT_PERM, "--interval: seconds from 0.1 to 3600: %s", optarg);
			break;
		case 'n':
			errno = 0;
			o.count = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o.count < 1)
				die(EXIT_PERM, "--count: not a positive number: %s", optarg);
			break;
		default:
			usage();
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument %s\n", prog, argv[optind]);
		usage();
	}
	time_t now = time(NULL);
	if (since && (o.since = parse_when(since, now)) < 0)
		die(EXIT_PERM, "--since: not a time (2026-11-23, 2026-11-23T10:00:00Z, @SECONDS, "
			       "30m, 24h, 7d): %s", since);
	if (until && (o.until = parse_when(until, now)) < 0)
		die(EXIT_PERM, "--until: not a time: %s", until);
	if (format) {
		if (strcmp(format, "text") == 0)
			o.format = FMT_TEXT;
		else if (strcmp(format, "tsv") == 0)
			o.format = FMT_TSV;
		else if (strcmp(format, "json") == 0)
			o.format = FMT_JSON;
		else if (strcmp(format, "html") == 0 && strcmp(cmd, "summary") == 0)
			o.format = FMT_HTML;
		else
			die(EXIT_PERM, "--format: %s is not one of %s", format,
			    strcmp(cmd, "summary") == 0 ? "text, tsv, json, html" : "text, tsv, json");
	}
	if (strcmp(cmd, "bounces") == 0 && format && o.format != FMT_TSV)
		die(EXIT_PERM, "bounces: the output is TSV");
	if (!o.nlogs) {
		/* an operator outside the group mailshot: said with the owners
		 * and modes, before anything is read */
		static const char who[] = "operators are members of it";
		static const struct priv_area areas[] = {
			{ "", X_OK, "0755", who },
			{ "log", R_OK | X_OK, "2770", who },
			{ "log/current", R_OK, "0640", who },
			{ "log/enqueue", R_OK | X_OK, "2770", who },
			{ "log/bounce", R_OK | X_OK, "2750", who },
			{ "queue", R_OK | X_OK, "2750", who },
			{ NULL, 0, NULL, NULL },
		};
		struct buf err = BUF_INIT;
		if (priv_check_access(o.spool, areas, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
		buf_free(&err);
	}
	int rc;
	if (strcmp(cmd, "summary") == 0)
		rc = cmd_summary(&o);
	else if (strcmp(cmd, "bounces") == 0)
		rc = cmd_bounces(&o);
	else if (strcmp(cmd, "queue") == 0)
		rc = cmd_queue(&o);
	else
		rc = cmd_watch(&o);
	free(o.logs);
	if (fflush(stdout) == EOF)
		die(EXIT_TEMP, "cannot write the output: %s", strerror(errno));
	return rc;
}
