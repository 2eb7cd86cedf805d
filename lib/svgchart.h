/*
 * svgchart - inline SVG charts and HTML escaping for mailshot-report's
 * HTML output.
 *
 * Two chart kinds, both appended as one <svg> element to a struct buf:
 *
 *   svg_stacked_columns()  outcomes over time: one column per time
 *                          bucket, its values stacked bottom to top;
 *   svg_hbars()            one labelled horizontal bar per row (say a
 *                          destination domain), values stacked left to
 *                          right, the row's total printed after the bar.
 *
 * Promises:
 *   - The output is well-formed XML as well as valid HTML foreign content:
 *     every element closed, every attribute double-quoted, every piece of
 *     caller text (ids excepted, see below) passed through html_escape().
 *     No script, no style sheet, no external reference: the page that
 *     holds the chart needs no network and no JavaScript, only
 *     <meta charset="utf-8"> (the output is UTF-8).
 *   - Fixed geometry: a viewBox (800 units wide) with width="100%", so the
 *     chart scales with the page.  Colours default to the Okabe-Ito
 *     palette, which stays distinguishable under the common forms of
 *     colour blindness.
 *   - Accessible: the <svg> has role="img", aria-label and a <title>;
 *     every segment has a <title> for hover ("delivered 12:00–12:05: 341").
 *   - Any values are fine: scaling is done in long double, so counts up to
 *     UINT64_MAX (and sums beyond it) neither overflow nor divide by zero.
 *     No buckets, no rows or only zeros give a chart saying "no data".
 *   - Stable hooks for tests and style sheets (docs are these lines):
 *       <svg class="chart hbars|columns" id="ID" data-kind=... role="img">
 *       <g class="legend"> with one <g class="legend-item" data-series=NAME>
 *       <g class="bucket" data-index=I> (columns) or <g class="row"
 *         data-index=I> (bars) holding that bucket's or row's segments;
 *       <rect class="seg" data-series=NAME data-index=I data-value=V>,
 *         one per non-zero value, V in decimal exactly as given;
 *       <text class="tick x|y" data-index=I> (bucket labels and the
 *         value axis), <line class="grid">, <line class="axis">;
 *       <text class="label" data-index=I> (bar row labels) and
 *         <text class="value" data-index=I> (bar totals);
 *       <text class="nodata"> when there is nothing to draw.
 *   - Output size is linear in buckets x series (about 200 octets per
 *     non-zero value); bounding the number of buckets and rows is the
 *     caller's job (the report keeps buckets <= 1000, rows <= 50).
 */
#ifndef MAILSHOT_SVGCHART_H
#define MAILSHOT_SVGCHART_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Okabe-Ito colours, and the ones the report uses for its outcomes. */
#define SVG_COLOR_GREEN "#009E73"
#define SVG_COLOR_ORANGE "#E69F00"
#define SVG_COLOR_VERMILLION "#D55E00"
#define SVG_COLOR_PURPLE "#CC79A7"
#define SVG_COLOR_BLUE "#0072B2"
#define SVG_COLOR_SKY "#56B4E9"
#define SVG_COLOR_YELLOW "#F0E442"
#define SVG_COLOR_GREY "#999999"
#define SVG_COLOR_DELIVERED SVG_COLOR_GREEN
#define SVG_COLOR_DEFERRED SVG_COLOR_ORANGE
#define SVG_COLOR_BOUNCED SVG_COLOR_VERMILLION
#define SVG_COLOR_EXPIRED SVG_COLOR_PURPLE

/* Longest label drawn, in characters (code points); longer ones end in "…". */
#define SVG_LABEL_MAX 28
#define SVG_SERIES_NAME_MAX 20
#define SVG_ID_MAX 64

struct svg_series {
	const char *name;  /* legend, data-series and hover text; escaped */
	const char *color; /* "#RGB" or "#RRGGBB"; NULL or anything else: palette */
};

/*
 * Outcomes over time.  values[i * nseries + s] is series s in bucket i
 * (bucket-major).  Bucket labels are labels[i] (label_lens[i] octets, or
 * NUL-terminated when label_lens is NULL); when labels is NULL they are
 * computed from t0 and step (UTC): "HH:MM" when the whole span is at most
 * a day, "MM-DD HH:MM" for longer spans of buckets shorter than a day,
 * "MM-DD" for day buckets, "YYYY-MM-DD" over more than a year.
 */
struct svg_series_chart {
	const char *id;	   /* the <svg> id: [A-Za-z0-9_-], others dropped; "chart" if none */
	const char *title; /* accessible name; escaped; NULL: none */
	size_t nseries;
	const struct svg_series *series;
	size_t nbuckets; /* may be 0 */
	const uint64_t *values;
	const char *const *labels;
	const size_t *label_lens;
	int64_t t0;   /* start of bucket 0, seconds since 1970 */
	int64_t step; /* seconds per bucket; <= 0 with labels NULL: buckets are numbered */
};

/*
 * Labelled stacked bars, drawn in the order given (sorting is the
 * caller's).  values[i * nseries + s] is series s in row i; labels as
 * above but required (a NULL label or labels array draws an empty label).
 */
struct svg_bar_chart {
	const char *id;
	const char *title;
	size_t nseries;
	const struct svg_series *series;
	size_t nrows; /* may be 0 */
	const uint64_t *values;
	const char *const *labels;
	const size_t *label_lens;
};

/*
 * Appends s[0..len) as HTML text that is safe both between tags and inside
 * a double- or single-quoted attribute value: & < > " ' become entities;
 * TAB, LF and CR become a space; every other control character (C0, DEL,
 * C1), bidirectional override or isolate (U+202A..U+202E, U+2066..U+2069),
 * noncharacter, and every octet that is not part of well-formed UTF-8
 * (overlong forms, surrogates, > U+10FFFF, truncated sequences) becomes
 * U+FFFD, one per bad octet.  NULs count as control characters.
 */
void html_escape(struct buf *out, const char *s, size_t len);

/*
 * html_escape() of at most max characters (code points after the
 * replacements above); when s holds more, the first max - 1 are kept and
 * "…" ends the text, so the result never exceeds max characters.
 * Returns the number of characters written.
 */
size_t html_escape_truncated(struct buf *out, const char *s, size_t len, size_t max);

void svg_stacked_columns(struct buf *out, const struct svg_series_chart *c);
void svg_hbars(struct buf *out, const struct svg_bar_chart *c);

#endif
