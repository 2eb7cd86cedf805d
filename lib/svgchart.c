/*
 * svgchart - inline SVG charts and strict HTML escaping.  See svgchart.h.
 *
 * Everything is computed in one pass over the caller's arrays; nothing
 * is kept between calls.  Geometry is in viewBox units (800 wide); the
 * browser scales it.  Text widths are estimated (6.5 units a character at
 * font-size 11), which is enough to lay out the legend and to space the
 * bucket labels so that they do not overlap.
 */
#include "svgchart.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define WIDTH 800.0
#define CHAR_WIDTH 6.5
#define LEGEND_TOP 8.0
#define LEGEND_ROW 18.0
#define COLUMNS_LEFT 64.0
#define COLUMNS_RIGHT (WIDTH - 16.0)
#define COLUMNS_PLOT_HEIGHT 240.0
#define XLABEL_MAX 16
#define BARS_LABEL_RIGHT 200.0
#define BARS_LEFT 208.0
#define BARS_RIGHT (WIDTH - 136.0)
#define BARS_ROW 22.0
#define BARS_THICK 16.0
#define HOVER_LABEL_MAX 256

static const char utf8_replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
static const char utf8_ellipsis[] = "\xE2\x80\xA6";    /* U+2026 */
static const char utf8_en_dash[] = "\xE2\x80\x93";     /* U+2013 */

static const char *const palette[] = {
    SVG_COLOR_GREEN, SVG_COLOR_ORANGE, SVG_COLOR_VERMILLION, SVG_COLOR_PURPLE,
    SVG_COLOR_BLUE,  SVG_COLOR_SKY,    SVG_COLOR_YELLOW,     SVG_COLOR_GREY,
};

/*
 * One well-formed UTF-8 sequence at s[0..len): returns its length and
 * stores the code point, or returns 0 (overlong, surrogate, beyond
 * U+10FFFF, truncated, stray continuation octet).
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned c = s[0];
	size_t n;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, v = c & 0x1F, min = 0x80;
	else if ((c & 0xF0) == 0xE0)
		n = 3, v = c & 0x0F, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, v = c & 0x07, min = 0x10000;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[k] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/*
 * Characters that never reach the page as themselves: controls (they can
 * end up as raw bytes in a copy-paste or confuse a terminal), bidi marks,
 * overrides and isolates (a domain name could be made to read backwards),
 * and noncharacters.
 */
static int
unsafe_code_point(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E ||
	       cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
	       (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

/* Number of characters html_escape() makes of s: a bad octet counts one. */
static size_t
escaped_chars(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, chars = 0;
	uint32_t cp;

	while (i < len) {
		size_t n = utf8_decode(p + i, len - i, &cp);
		i += n ? n : 1;
		chars++;
	}
	return chars;
}

/* Writes the first max characters of s, escaped. */
static void
escape_chars(struct buf *out, const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	uint32_t cp;

	for (size_t chars = 0; i < len && chars < max; chars++) {
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			buf_append_str(out, utf8_replacement);
			i++;
			continue;
		}
		switch (cp) {
		case '&':
			buf_append_str(out, "&amp;");
			break;
		case '<':
			buf_append_str(out, "&lt;");
			break;
		case '>':
			buf_append_str(out, "&gt;");
			break;
		case '"':
			buf_append_str(out, "&quot;");
			break;
		case '\'':
			buf_append_str(out, "&#39;");
			break;
		case '\t':
		case '\n':
		case '\r':
			buf_append_char(out, ' ');
			break;
		default:
			if (unsafe_code_point(cp))
				buf_append_str(out, utf8_replacement);
			else
				buf_append(out, p + i, n);
		}
		i += n;
	}
}

void
html_escape(struct buf *out, const char *s, size_t len)
{
	escape_chars(out, s, len, (size_t)-1);
}

size_t
html_escape_truncated(struct buf *out, const char *s, size_t len, size_t max)
{
	size_t chars = escaped_chars(s, len);

	if (chars <= max) {
		escape_chars(out, s, len, chars);
		return chars;
	}
	if (max == 0)
		return 0;
	escape_chars(out, s, len, max - 1);
	buf_append_str(out, utf8_ellipsis);
	return max;
}

static void
escape_cstr(struct buf *out, const char *s)
{
	if (s != NULL)
		html_escape(out, s, strlen(s));
}

/* A label of the caller's: labels[i], label_lens[i] octets or up to NUL. */
static void
label_of(const char *const *labels, const size_t *lens, size_t i, const char **s, size_t *len)
{
	*s = labels != NULL ? labels[i] : NULL;
	if (*s == NULL)
		*s = "", *len = 0;
	else
		*len = lens != NULL ? lens[i] : strlen(*s);
}

static size_t
label_chars(const char *s, size_t len, size_t max)
{
	size_t n = escaped_chars(s, len);
	return n < max ? n : max;
}

static int
valid_color(const char *c)
{
	size_t n;

	if (c == NULL || c[0] != '#')
		return 0;
	n = strspn(c + 1, "0123456789abcdefABCDEF");
	return c[1 + n] == '\0' && (n == 3 || n == 6);
}

static const char *
series_color(const struct svg_series *series, size_t i)
{
	return valid_color(series[i].color) ? series[i].color
					    : palette[i % (sizeof palette / sizeof palette[0])];
}

static void
series_name(struct buf *out, const struct svg_series *series, size_t i)
{
	if (series[i].name != NULL)
		html_escape(out, series[i].name, strlen(series[i].name));
	else
		buf_printf(out, "series %zu", i + 1);
}

static size_t
series_name_chars(const struct svg_series *series, size_t i)
{
	if (series[i].name == NULL)
		return 12;
	return label_chars(series[i].name, strlen(series[i].name), SVG_SERIES_NAME_MAX);
}

/* The value of series s in row i; a missing array reads as zeros. */
static uint64_t
value_at(const uint64_t *values, size_t nseries, size_t i, size_t s)
{
	return values != NULL ? values[i * nseries + s] : 0;
}

static long double
row_total(const uint64_t *values, size_t nseries, size_t i)
{
	long double sum = 0;
	for (size_t s = 0; s < nseries; s++)
		sum += (long double)value_at(values, nseries, i, s);
	return sum;
}

/*
 * A count in at most about five characters, for axis ticks: exact below
 * 10000, then three significant digits and an SI prefix ("1.5k", "20M").
 */
static void
format_compact(char *text, size_t size, long double v)
{
	static const char prefix[] = "kMGTPEZY";
	int k = -1;

	if (v < 10000) {
		snprintf(text, size, "%.0Lf", v);
		return;
	}
	while (v >= 999.5L && k < (int)sizeof prefix - 2) {
		v /= 1000;
		k++;
	}
	snprintf(text, size, "%.3Lg%c", v, prefix[k]);
}

/* The exact total of row i in decimal, or an approximation beyond 2^64. */
static void
format_total(char *text, size_t size, const uint64_t *values, size_t nseries, size_t i)
{
	uint64_t sum = 0;
	for (size_t s = 0; s < nseries; s++) {
		if (__builtin_add_overflow(sum, value_at(values, nseries, i, s), &sum)) {
			char approx[32];
			format_compact(approx, sizeof approx, row_total(values, nseries, i));
			snprintf(text, size, "\xE2\x89\x88%s", approx); /* U+2248 */
			return;
		}
	}
	snprintf(text, size, "%" PRIu64, sum);
}

/*
 * The value axis: ticks every step from 0 to top >= max, step one of
 * 1, 2, 5 times a power of ten, about five intervals.  Values are whole
 * counts, so the step is at least 1.
 */
static void
nice_axis(long double max, long double *step, size_t *intervals)
{
	long double raw = max / 5, mag = 1;
	static const int mult[] = {1, 2, 5, 10};

	while (mag * 10 <= raw)
		mag *= 10;
	*step = mag * 10;
	for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++) {
		if (mag * mult[i] >= raw) {
			*step = mag * mult[i];
			break;
		}
	}
	*intervals = 1;
	while (*intervals * *step < max)
		(*intervals)++;
}

/*
 * The <svg> element's start: class, id (only [A-Za-z0-9_-] of the
 * caller's), geometry, accessible name.
 */
static void
svg_open(struct buf *out, const char *kind, const char *id, const char *title, double height)
{
	size_t n = 0;

	buf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart %s\" id=\"", kind);
	for (const char *p = id; p != NULL && *p != '\0' && n < SVG_ID_MAX; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-') {
			buf_append_char(out, *p);
			n++;
		}
	}
	if (n == 0)
		buf_append_str(out, "chart");
	buf_printf(out,
		   "\" data-kind=\"%s\" viewBox=\"0 0 %.0f %.2f\" width=\"100%%\" role=\"img\" "
		   "font-family=\"sans-serif\" font-size=\"11\" aria-label=\"",
		   kind, WIDTH, height);
	escape_cstr(out, title != NULL ? title : "chart");
	buf_append_str(out, "\">\n<title>");
	escape_cstr(out, title != NULL ? title : "chart");
	buf_append_str(out, "</title>\n");
}

/*
 * The legend: one swatch and name a series, left to right from x, wrapped
 * at the right edge.  With out NULL, only measures; returns its height.
 */
static double
legend(struct buf *out, const struct svg_series *series, size_t nseries, double x0)
{
	double x = x0, y = LEGEND_TOP;

	if (out != NULL)
		buf_append_str(out, "<g class=\"legend\">\n");
	for (size_t s = 0; s < nseries; s++) {
		double w = 16 + (double)series_name_chars(series, s) * CHAR_WIDTH + 16;
		if (x > x0 && x + w > WIDTH - 8) {
			x = x0;
			y += LEGEND_ROW;
		}
		if (out != NULL) {
			buf_append_str(out, "<g class=\"legend-item\" data-series=\"");
			series_name(out, series, s);
			buf_printf(out,
				   "\"><rect x=\"%.2f\" y=\"%.2f\" width=\"12\" height=\"12\" "
				   "fill=\"%s\"></rect><text x=\"%.2f\" y=\"%.2f\">",
				   x, y, series_color(series, s), x + 16, y + 10);
			if (series[s].name != NULL)
				html_escape_truncated(out, series[s].name, strlen(series[s].name),
						      SVG_SERIES_NAME_MAX);
			else
				buf_printf(out, "series %zu", s + 1);
			buf_append_str(out, "</text></g>\n");
		}
		x += w;
	}
	if (out != NULL)
		buf_append_str(out, "</g>\n");
	return nseries > 0 ? y - LEGEND_TOP + LEGEND_ROW : 0;
}

static void
nodata(struct buf *out, double x, double y)
{
	buf_printf(out,
		   "<text class=\"nodata\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
		   "font-size=\"14\" fill=\"#555555\">no data</text>\n",
		   x, y);
}

/* How computed bucket labels look; see svgchart.h. */
enum time_format { TIME_HM, TIME_MD_HM, TIME_MD, TIME_YMD };

static enum time_format
choose_time_format(int64_t step, size_t nbuckets)
{
	int64_t span;

	if (__builtin_mul_overflow(step, (int64_t)nbuckets, &span) || span > 366 * 86400LL)
		return TIME_YMD;
	if (step % 86400 == 0)
		return TIME_MD;
	return span <= 86400 ? TIME_HM : TIME_MD_HM;
}

/* Start of bucket i (i == nbuckets: the end of the last); -1 on overflow. */
static int
bucket_time(const struct svg_series_chart *c, size_t i, struct tm *tm)
{
	int64_t offset, t;

	if (i > INT64_MAX || __builtin_mul_overflow((int64_t)i, c->step, &offset) ||
	    __builtin_add_overflow(c->t0, offset, &t) || (time_t)t != t)
		return -1;
	time_t tt = (time_t)t;
	return gmtime_r(&tt, tm) != NULL ? 0 : -1;
}

static void
format_time(struct buf *out, const struct svg_series_chart *c, size_t i, enum time_format f)
{
	struct tm tm;

	if (bucket_time(c, i, &tm) < 0) {
		buf_append_char(out, '?');
		return;
	}
	switch (f) {
	case TIME_HM:
		buf_printf(out, "%02d:%02d", tm.tm_hour, tm.tm_min);
		break;
	case TIME_MD_HM:
		buf_printf(out, "%02d-%02d %02d:%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			   tm.tm_min);
		break;
	case TIME_MD:
		buf_printf(out, "%02d-%02d", tm.tm_mon + 1, tm.tm_mday);
		break;
	case TIME_YMD:
		buf_printf(out, "%04lld-%02d-%02d", (long long)tm.tm_year + 1900, tm.tm_mon + 1,
			   tm.tm_mday);
		break;
	}
}

static int
time_labels(const struct svg_series_chart *c)
{
	return c->labels == NULL && c->step > 0;
}

/* The label under bucket i (escaped, truncated). */
static void
bucket_label(struct buf *out, const struct svg_series_chart *c, size_t i, size_t max)
{
	const char *s;
	size_t len;

	if (time_labels(c)) {
		format_time(out, c, i, choose_time_format(c->step, c->nbuckets));
	} else if (c->labels == NULL) {
		buf_printf(out, "%zu", i + 1);
	} else {
		label_of(c->labels, c->label_lens, i, &s, &len);
		html_escape_truncated(out, s, len, max);
	}
}

/* What a segment's hover text says about its bucket: "12:00–12:05". */
static void
bucket_hover(struct buf *out, const struct svg_series_chart *c, size_t i)
{
	enum time_format f;

	if (!time_labels(c)) {
		bucket_label(out, c, i, HOVER_LABEL_MAX);
		return;
	}
	f = choose_time_format(c->step, c->nbuckets);
	format_time(out, c, i, f);
	if (!(f == TIME_MD && c->step == 86400) && !(f == TIME_YMD && c->step == 86400)) {
		buf_append_str(out, utf8_en_dash);
		format_time(out, c, i + 1, f);
	}
}

/* Widest bucket label in characters, to space the labels. */
static size_t
widest_bucket_label(const struct svg_series_chart *c)
{
	static const size_t time_width[] = {5, 11, 5, 10};
	size_t widest = 1;
	const char *s;
	size_t len;

	if (time_labels(c))
		return time_width[choose_time_format(c->step, c->nbuckets)];
	for (size_t i = 0; i < c->nbuckets; i++) {
		size_t w;
		if (c->labels == NULL) {
			char num[32];
			w = (size_t)snprintf(num, sizeof num, "%zu", i + 1);
		} else {
			label_of(c->labels, c->label_lens, i, &s, &len);
			w = label_chars(s, len, XLABEL_MAX);
		}
		if (w > widest)
			widest = w;
	}
	return widest;
}

/* One stacked segment: the rect and its hover text. */
static void
segment(struct buf *out, const struct svg_series *series, size_t s, size_t i, uint64_t v, double x,
	double y, double w, double h)
{
	buf_append_str(out, "<rect class=\"seg\" data-series=\"");
	series_name(out, series, s);
	buf_printf(out,
		   "\" data-index=\"%zu\" data-value=\"%" PRIu64
		   "\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"><title>",
		   i, v, x, y, w, h, series_color(series, s));
	series_name(out, series, s);
	buf_append_char(out, ' ');
}

static void
segment_end(struct buf *out, uint64_t v)
{
	buf_printf(out, ": %" PRIu64 "</title></rect>\n", v);
}

void
svg_stacked_columns(struct buf *out, const struct svg_series_chart *c)
{
	size_t nseries = c->series != NULL ? c->nseries : 0, n = c->nbuckets;
	double legend_height = legend(NULL, c->series, nseries, COLUMNS_LEFT);
	double top = LEGEND_TOP + legend_height + 10;
	double bottom = top + COLUMNS_PLOT_HEIGHT;
	double plot_width = COLUMNS_RIGHT - COLUMNS_LEFT;
	long double max = 0, step = 1;
	size_t intervals = 1;
	char text[64];

	for (size_t i = 0; i < n && nseries > 0; i++) {
		long double t = row_total(c->values, nseries, i);
		if (t > max)
			max = t;
	}
	svg_open(out, "columns", c->id, c->title, bottom + 28);
	legend(out, c->series, nseries, COLUMNS_LEFT);

	/* The value axis: grid lines and their labels. */
	if (max > 0)
		nice_axis(max, &step, &intervals);
	else
		intervals = 0;
	for (size_t j = 0; j <= intervals; j++) {
		double y =
		    bottom - (intervals ? (double)j / (double)intervals : 0) * COLUMNS_PLOT_HEIGHT;
		format_compact(text, sizeof text, step * j);
		buf_printf(out,
			   "<line class=\"grid\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
			   "stroke=\"#dddddd\"></line>\n<text class=\"tick y\" data-index=\"%zu\" "
			   "x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n",
			   COLUMNS_LEFT, y, COLUMNS_RIGHT, y, j, COLUMNS_LEFT - 6, y + 4, text);
	}

	/* The columns.  Positions are cumulative in long double so that
	 * segments meet exactly and no count can overflow. */
	if (max > 0) {
		long double axis_top = step * intervals;
		double column = plot_width / (double)n;
		double gap = column >= 4 ? column * 0.15 : 0;
		for (size_t i = 0; i < n; i++) {
			long double sum = 0;
			double x = COLUMNS_LEFT + (double)i * column + gap / 2;
			buf_printf(out, "<g class=\"bucket\" data-index=\"%zu\">\n", i);
			for (size_t s = 0; s < nseries; s++) {
				uint64_t v = value_at(c->values, nseries, i, s);
				if (v == 0)
					continue;
				double y0 = bottom - (double)(sum / axis_top) * COLUMNS_PLOT_HEIGHT;
				sum += (long double)v;
				double y1 = bottom - (double)(sum / axis_top) * COLUMNS_PLOT_HEIGHT;
				segment(out, c->series, s, i, v, x, y1, column - gap, y0 - y1);
				bucket_hover(out, c, i);
				segment_end(out, v);
			}
			buf_append_str(out, "</g>\n");
		}
	} else {
		nodata(out, COLUMNS_LEFT + plot_width / 2, top + COLUMNS_PLOT_HEIGHT / 2);
	}
	buf_printf(out,
		   "<line class=\"axis\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
		   "stroke=\"#333333\"></line>\n",
		   COLUMNS_LEFT, bottom, COLUMNS_RIGHT, bottom);

	/* Bucket labels, every so many buckets so that they do not overlap. */
	if (n > 0) {
		double label_width = (double)widest_bucket_label(c) * CHAR_WIDTH + 10;
		size_t fit = (size_t)(plot_width / label_width);
		size_t every = fit == 0 ? n : (n + fit - 1) / fit;
		double column = plot_width / (double)n;
		for (size_t i = 0; i < n; i += every) {
			buf_printf(
			    out,
			    "<text class=\"tick x\" data-index=\"%zu\" x=\"%.2f\" y=\"%.2f\" "
			    "text-anchor=\"middle\">",
			    i, COLUMNS_LEFT + ((double)i + 0.5) * column, bottom + 16);
			bucket_label(out, c, i, XLABEL_MAX);
			buf_append_str(out, "</text>\n");
		}
	}
	buf_append_str(out, "</svg>\n");
}

void
svg_hbars(struct buf *out, const struct svg_bar_chart *c)
{
	size_t nseries = c->series != NULL ? c->nseries : 0, n = c->nrows;
	double legend_height = legend(NULL, c->series, nseries, BARS_LEFT);
	double top = LEGEND_TOP + legend_height + 10;
	double height = top + (n > 0 ? (double)n * BARS_ROW : 40) + 8;
	double bar_width = BARS_RIGHT - BARS_LEFT;
	long double max = 0;
	char text[64];

	for (size_t i = 0; i < n && nseries > 0; i++) {
		long double t = row_total(c->values, nseries, i);
		if (t > max)
			max = t;
	}
	svg_open(out, "hbars", c->id, c->title, height);
	legend(out, c->series, nseries, BARS_LEFT);

	for (size_t i = 0; i < n; i++) {
		double y = top + (double)i * BARS_ROW;
		double mid = y + BARS_ROW / 2 + 4;
		long double sum = 0;
		const char *s;
		size_t len;

		buf_printf(out,
			   "<g class=\"row\" data-index=\"%zu\">\n<text class=\"label\" "
			   "data-index=\"%zu\" x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">",
			   i, i, BARS_LABEL_RIGHT, mid);
		label_of(c->labels, c->label_lens, i, &s, &len);
		html_escape_truncated(out, s, len, SVG_LABEL_MAX);
		buf_append_str(out, "</text>\n");
		for (size_t k = 0; k < nseries && max > 0; k++) {
			uint64_t v = value_at(c->values, nseries, i, k);
			if (v == 0)
				continue;
			double x0 = BARS_LEFT + (double)(sum / max) * bar_width;
			sum += (long double)v;
			double x1 = BARS_LEFT + (double)(sum / max) * bar_width;
			segment(out, c->series, k, i, v, x0, y + (BARS_ROW - BARS_THICK) / 2,
				x1 - x0, BARS_THICK);
			html_escape_truncated(out, s, len, HOVER_LABEL_MAX);
			segment_end(out, v);
		}
		format_total(text, sizeof text, c->values, nseries, i);
		buf_printf(
		    out,
		    "<text class=\"value\" data-index=\"%zu\" x=\"%.2f\" y=\"%.2f\">%s</text>\n"
		    "</g>\n",
		    i, BARS_LEFT + (max > 0 ? (double)(sum / max) * bar_width : 0) + 4, mid, text);
	}
	if (max == 0)
		nodata(out, BARS_LEFT + bar_width / 2,
		       top + (n > 0 ? (double)n * BARS_ROW : 40) / 2 + 5);
	buf_printf(out,
		   "<line class=\"axis\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
		   "stroke=\"#333333\"></line>\n</svg>\n",
		   BARS_LEFT, top, BARS_LEFT, top + (n > 0 ? (double)n * BARS_ROW : 40));
}
