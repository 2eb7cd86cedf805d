/*
 * reporthtml - the HTML summary (reporthtml.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reporthtml.h"
#include "svgchart.h"

static void
esc(struct buf *out, const char *s)
{
	html_escape(out, s ? s : "", s ? strlen(s) : 0);
}

static void
when(struct buf *out, int64_t sec)
{
	if (sec <= 0) {
		buf_append_str(out, "–");
		return;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	char tmp[40];
	strftime(tmp, sizeof tmp, "%Y-%m-%d %H:%M:%S UTC", &tm);
	buf_append_str(out, tmp);
}

static void
dur(struct buf *out, int64_t s)
{
	if (s < 0)
		buf_append_str(out, "–");
	else if (s < 60)
		buf_printf(out, "%lld s", (long long)s);
	else if (s < 3600)
		buf_printf(out, "%lld min %lld s", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		buf_printf(out, "%lld h %lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		buf_printf(out, "%lld d %lld h", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static double
pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void
row(struct buf *out, const char *field, const char *label, uint64_t v, const char *note)
{
	buf_printf(out, "<tr><th scope=\"row\">%s</th><td class=\"num\" data-field=\"%s\">%llu</td>"
			"<td>%s</td></tr>\n",
		   label, field, (unsigned long long)v, note ? note : "");
}

static const char style[] =
	"body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;"
	"padding:0 1em}\n"
	"h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;"
	"margin-top:2em}\n"
	"table{border-collapse:collapse;margin:.5em 0 1em}th,td{padding:.2em .6em;text-align:left;"
	"border-bottom:1px solid #eee;vertical-align:top}\n"
	"td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	".meta{color:#555}.sample{color:#555;font-size:.9em;word-break:break-all}\n"
	"svg.chart{max-width:50em;display:block;margin:.5em 0 1.5em}\n";

void
reporthtml_write(struct report *r, const struct reporthtml_info *info, struct buf *out)
{
	size_t n = report_campaign_count(r);
	buf_append_str(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			    "<title>mailshot report</title>\n<style>\n");
	buf_append_str(out, style);
	buf_append_str(out, "</style>\n</head>\n<body>\n<h1>Delivery report</h1>\n<p class=\"meta\" "
			    "id=\"meta\">Generated ");
	when(out, info->generated);
	buf_append_str(out, " from the spool <code>");
	esc(out, info->spool);
	buf_printf(out, "</code>: %llu log line(s) read",
		   (unsigned long long)info->lines);
	if (info->malformed || info->unknown)
		buf_printf(out, ", <span id=\"skipped\">%llu malformed and %llu unknown skipped</span>",
			   (unsigned long long)info->malformed, (unsigned long long)info->unknown);
	buf_printf(out, "; <span id=\"ncampaigns\">%zu</span> campaign(s).</p>\n", n);
	if (n == 0)
		buf_append_str(out, "<p id=\"empty\">No campaigns in the log.</p>\n");
	if (n > 1) {
		buf_append_str(out, "<nav><ul>\n");
		for (size_t i = 0; i < n; i++) {
			struct report_campaign *c = report_campaign_at(r, i);
			buf_printf(out, "<li><a href=\"#c%zu\">", i);
			esc(out, c->name);
			buf_append_str(out, "</a></li>\n");
		}
		buf_append_str(out, "</ul></nav>\n");
	}
	for (size_t i = 0; i < n; i++) {
		struct report_campaign *c = report_campaign_at(r, i);
		buf_printf(out, "<section class=\"campaign\" id=\"c%zu\" data-campaign=\"", i);
		esc(out, c->name);
		buf_append_str(out, "\">\n<h2>Campaign ");
		esc(out, c->name);
		buf_append_str(out, "</h2>\n<p class=\"meta\">From ");
		when(out, c->first_usec / 1000000);
		buf_append_str(out, " to ");
		when(out, c->last_usec / 1000000);
		buf_append_str(out, "</p>\n<table class=\"outcomes\">\n");
		struct buf note = { 0 };
		row(out, "recipients", "Recipients", c->recipients, "rows of the list");
		row(out, "queued", "Queued", c->queued, NULL);
		buf_printf(&note, "%.1f %% of queued", pct(c->delivered, c->queued));
		if (c->hist_n) {
			buf_append_str(&note, "; after p50 ");
			dur(&note, report_percentile(c, 0.5));
			buf_append_str(&note, ", p90 ");
			dur(&note, report_percentile(c, 0.9));
			buf_append_str(&note, ", p99 ");
			dur(&note, report_percentile(c, 0.99));
		}
		row(out, "delivered", "Delivered", c->delivered, buf_cstr(&note));
		buf_reset(&note);
		if (c->q_next) {
			buf_append_str(&note, "next attempt ");
			when(&note, c->q_next);
		}
		row(out, "pending", "Pending", c->pending, buf_cstr(&note));
		buf_reset(&note);
		buf_printf(&note, "hard %llu, soft %llu", (unsigned long long)c->hard,
			   (unsigned long long)c->soft);
		row(out, "bounced", "Bounced", c->bounced, buf_cstr(&note));
		row(out, "expired", "Expired", c->expired, "not delivered in time");
		row(out, "suppressed", "Suppressed", c->suppressed, "not sent: on the suppression list");
		row(out, "invalid", "Invalid", c->invalid, "not sent: not an address");
		row(out, "complaints", "Complaints", c->complaints, NULL);
		row(out, "unsubscribes", "Unsubscribes", c->unsubscribes, NULL);
		row(out, "deferrals", "Deferrals", c->deferrals, "attempts a server told to retry");
		buf_free(&note);
		buf_append_str(out, "</table>\n");

		/* outcomes over time */
		const struct report_series_data *s = &c->series;
		static const struct svg_series outcome_series[RS_COUNT] = {
			{ "delivered", SVG_COLOR_DELIVERED },
			{ "deferred", SVG_COLOR_DEFERRED },
			{ "bounced", SVG_COLOR_BOUNCED },
			{ "expired", SVG_COLOR_EXPIRED },
		};
		uint64_t *vals = xcalloc(s->n ? s->n * RS_COUNT : 1, sizeof *vals);
		for (size_t b = 0; b < s->n; b++)
			for (int k = 0; k < RS_COUNT; k++)
				vals[b * RS_COUNT + (size_t)k] = s->v[k][b];
		char id[32];
		snprintf(id, sizeof id, "outcomes-%zu", i);
		struct buf title = { 0 };
		buf_append_str(&title, "Outcomes over time, campaign ");
		buf_append_str(&title, c->name);
		struct svg_series_chart sc = {
			.id = id, .title = buf_cstr(&title), .nseries = RS_COUNT,
			.series = outcome_series, .nbuckets = s->n, .values = vals,
			.t0 = s->t0, .step = s->width,
		};
		buf_append_str(out, "<h3>Outcomes over time</h3>\n");
		svg_stacked_columns(out, &sc);
		free(vals);

		/* domains */
		struct report_domain **d;
		size_t nd = report_domains(r, i, &d);
		size_t shown = nd < info->top ? nd : info->top;
		if (shown > 50)
			shown = 50;
		buf_printf(out, "<h3>Destination domains (top %zu of %zu)</h3>\n", shown, nd);
		if (shown) {
			uint64_t *bv = xcalloc(shown * 3, sizeof *bv);
			const char **labels = xcalloc(shown, sizeof *labels);
			for (size_t k = 0; k < shown; k++) {
				bv[k * 3] = d[k]->delivered;
				bv[k * 3 + 1] = d[k]->deferred;
				bv[k * 3 + 2] = d[k]->bounced;
				labels[k] = d[k]->name;
			}
			snprintf(id, sizeof id, "domains-%zu", i);
			buf_reset(&title);
			buf_append_str(&title, "Destination domains, campaign ");
			buf_append_str(&title, c->name);
			struct svg_bar_chart bc = {
				.id = id, .title = buf_cstr(&title), .nseries = 3,
				.series = outcome_series, .nrows = shown, .values = bv,
				.labels = labels,
			};
			svg_hbars(out, &bc);
			free(bv);
			free(labels);
			buf_append_str(out, "<table class=\"domains\">\n<tr><th>domain</th>"
					    "<th>delivered</th><th>deferred</th><th>bounced</th>"
					    "<th>expired</th><th>TLS</th><th>deferral rate</th>"
					    "<th>last error</th></tr>\n");
			for (size_t k = 0; k < shown; k++) {
				uint64_t att = d[k]->delivered + d[k]->deferred + d[k]->bounced;
				buf_append_str(out, "<tr data-domain=\"");
				esc(out, d[k]->name);
				buf_append_str(out, "\"><td>");
				esc(out, d[k]->name);
				buf_printf(out, "</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td>"
						"<td class=\"num\">%llu</td><td class=\"num\">%llu</td>"
						"<td class=\"num\">%.0f %%</td><td class=\"num\">%.1f %%</td>"
						"<td class=\"sample\">",
					   (unsigned long long)d[k]->delivered,
					   (unsigned long long)d[k]->deferred,
					   (unsigned long long)d[k]->bounced,
					   (unsigned long long)d[k]->expired, pct(d[k]->tls, d[k]->delivered),
					   pct(d[k]->deferred, att));
				esc(out, d[k]->last_error);
				buf_append_str(out, "</td></tr>\n");
			}
			buf_append_str(out, "</table>\n");
		}
		buf_free(&title);

		/* reasons */
		if (c->nreasons) {
			buf_append_str(out, "<h3>Bounce reasons</h3>\n<table class=\"reasons\">\n"
					    "<tr><th>reason</th><th>recipients</th><th>for example</th></tr>\n");
			for (size_t k = 0; k < c->nreasons && k < info->top; k++) {
				buf_append_str(out, "<tr data-reason=\"");
				esc(out, c->reasons[k].name);
				buf_append_str(out, "\"><td>");
				esc(out, c->reasons[k].name);
				buf_printf(out, "</td><td class=\"num\">%llu</td><td class=\"sample\">",
					   (unsigned long long)c->reasons[k].count);
				esc(out, c->reasons[k].sample);
				buf_append_str(out, "</td></tr>\n");
			}
			buf_append_str(out, "</table>\n");
		}
		buf_append_str(out, "</section>\n");
	}
	buf_append_str(out, "</body>\n</html>\n");
}
