/*
 * Unit tests for lib/svgchart.c: strict HTML escaping (markup, quotes,
 * NULs, controls, bidi overrides, every kind of bad UTF-8), truncation
 * that never splits a character, and both chart kinds with hostile
 * labels, ids, titles, series names and colours, no data, zeros,
 * UINT64_MAX counts, and 0, 1 and 1000 buckets.  Every chart is checked
 * by an independent well-formedness checker: elements and attributes
 * from a fixed list only, every attribute quoted, every '&' an entity,
 * no '>' in text, valid UTF-8, coordinates finite and inside the viewBox.
 */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "svgchart.h"

static const char *const known_elements[] = {"svg", "title", "g", "rect", "line", "text"};
static const char *const known_attributes[] = {
    "xmlns",  "class",	     "id",	    "data-kind",  "viewBox",	"width",
    "height", "role",	     "font-family", "font-size",  "aria-label", "x",
    "y",      "x1",	     "y1",	    "x2",	  "y2",		"fill",
    "stroke", "text-anchor", "data-series", "data-index", "data-value",
};
static const char *const numeric_attributes[] = {"x",  "y",  "width", "height",
						 "x1", "y1", "x2",    "y2"};

static int
in_list(const char *name, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
			return 1;
	return 0;
}

/* Length of a well-formed UTF-8 character at s without controls but LF, or 0. */
static size_t
clean_char(const unsigned char *s, size_t len)
{
	unsigned c = s[0], n;
	uint32_t cp;
	if (c < 0x80)
		return (c >= 0x20 && c != 0x7F) || c == '\n' ? 1 : 0;
	if ((c & 0xE0) == 0xC0)
		n = 1, cp = c & 0x1F;
	else if ((c & 0xF0) == 0xE0)
		n = 2, cp = c & 0x0F;
	else if ((c & 0xF8) == 0xF0)
		n = 3, cp = c & 0x07;
	else
		return 0;
	if (len <= n)
		return 0;
	for (unsigned k = 1; k <= n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3F);
	}
	static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
	if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
	    (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E))
		return 0;
	return n + 1;
}

/* An entity we write, at s; its length or 0. */
static size_t
entity(const char *s, size_t len)
{
	static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
	for (size_t i = 0; i < 5; i++)
		if (len >= strlen(ents[i]) && memcmp(s, ents[i], strlen(ents[i])) == 0)
			return strlen(ents[i]);
	return 0;
}

/*
 * Checks one chart: a single <svg> element, well-formed, only known names;
 * returns the number of <rect class="seg"> in it, or -1 (with the reason
 * on stderr) when it is not well-formed.
 */
static long
wellformed(const char *out, size_t len)
{
	const char *stack[16];
	size_t depth = 0, i = 0, roots = 0;
	long segs = 0;
	double view_w = 0, view_h = 0;

#define BAD(why)                                                                                   \
	do {                                                                                       \
		fprintf(stderr, "wellformed: %s at offset %zu\n", why, i);                         \
		return -1;                                                                         \
	} while (0)
	while (i < len) {
		if (out[i] == '<') {
			int closing = out[i + 1] == '/';
			size_t start = i + 1 + (size_t)closing, n = 0;
			while (start + n < len && out[start + n] >= 'a' && out[start + n] <= 'z')
				n++;
			if (n == 0 || !in_list(out + start, n, known_elements, 6))
				BAD("unknown element");
			i = start + n;
			if (closing) {
				if (depth == 0 || strlen(stack[depth - 1]) != n ||
				    memcmp(stack[depth - 1], out + start, n) != 0 || out[i] != '>')
					BAD("unbalanced end tag");
				depth--;
				i++;
				continue;
			}
			if (depth == 0 && roots++ > 0)
				BAD("second root");
			if (depth == 16)
				BAD("too deep");
			for (size_t k = 0; k < 6; k++)
				if (strlen(known_elements[k]) == n &&
				    memcmp(known_elements[k], out + start, n) == 0)
					stack[depth++] = known_elements[k];
			int is_seg = 0;
			while (out[i] == ' ') {
				size_t a = ++i, an = 0;
				while (a + an < len &&
				       ((out[a + an] >= 'a' && out[a + an] <= 'z') ||
					(out[a + an] >= 'A' && out[a + an] <= 'Z') ||
					(out[a + an] >= '0' && out[a + an] <= '9') ||
					out[a + an] == '-'))
					an++;
				if (an == 0 ||
				    !in_list(out + a, an, known_attributes,
					     sizeof known_attributes / sizeof known_attributes[0]))
					BAD("unknown attribute");
				i = a + an;
				if (out[i] != '=' || out[i + 1] != '"')
					BAD("unquoted attribute");
				i += 2;
				size_t v = i;
				while (i < len && out[i] != '"') {
					if (out[i] == '<' || out[i] == '>' || out[i] == '\'' ||
					    out[i] == '\n')
						BAD("raw markup in attribute");
					if (out[i] == '&') {
						size_t e = entity(out + i, len - i);
						if (e == 0)
							BAD("bare & in attribute");
						i += e;
					} else {
						size_t c = clean_char(
						    (const unsigned char *)out + i, len - i);
						if (c == 0)
							BAD("bad character in attribute");
						i += c;
					}
				}
				if (i >= len)
					BAD("unterminated attribute");
				if (an == 5 && memcmp(out + a, "class", 5) == 0 && i - v == 3 &&
				    memcmp(out + v, "seg", 3) == 0)
					is_seg = 1;
				if (an == 7 && memcmp(out + a, "viewBox", 7) == 0 &&
				    sscanf(out + v, "0 0 %lf %lf", &view_w, &view_h) != 2)
					BAD("bad viewBox");
				if (in_list(out + a, an, numeric_attributes, 8) &&
				    !(n == 3 && memcmp(out + start, "svg", 3) == 0)) {
					char *end;
					double d = strtod(out + v, &end);
					int horizontal = out[a] == 'x' || out[a] == 'w';
					if (end != out + i || !isfinite(d) || d < 0 ||
					    d > (horizontal ? view_w : view_h) + 0.01)
						BAD("coordinate out of the viewBox");
				}
				i++;
			}
			if (out[i] != '>')
				BAD("bad tag end");
			segs += is_seg;
			i++;
			continue;
		}
		if (depth == 0 && out[i] != '\n')
			BAD("text outside the root");
		if (out[i] == '>')
			BAD("raw > in text");
		if (out[i] == '&') {
			size_t e = entity(out + i, len - i);
			if (e == 0)
				BAD("bare & in text");
			i += e;
			continue;
		}
		size_t c = clean_char((const unsigned char *)out + i, len - i);
		if (c == 0)
			BAD("bad character in text");
		i += c;
	}
	if (depth != 0 || roots != 1)
		BAD("unclosed element");
#undef BAD
	return segs;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The text of the first element whose start tag begins with prefix. */
static const char *
text_of(const char *out, const char *prefix, char *text, size_t size)
{
	const char *p = strstr(out, prefix), *end;
	if (p == NULL || (p = strchr(p, '>')) == NULL || (end = strchr(++p, '<')) == NULL)
		return "(none)";
	snprintf(text, size, "%.*s", (int)(end - p), p);
	return text;
}

/* The last result of escaped() or truncated(); freed at the end of main. */
static struct buf scratch = BUF_INIT;

static const char *
escaped(const char *s, size_t len)
{
	buf_reset(&scratch);
	html_escape(&scratch, s, len);
	return buf_cstr(&scratch);
}

static const char *
truncated(const char *s, size_t max)
{
	buf_reset(&scratch);
	html_escape_truncated(&scratch, s, strlen(s), max);
	return buf_cstr(&scratch);
}

#define FFFD "\xEF\xBF\xBD"

static void
test_escape(void)
{
	CHECK_STR_EQ(escaped("a<b>&\"'c", 8), "a&lt;b&gt;&amp;&quot;&#39;c");
	CHECK_STR_EQ(escaped("<script>alert(1)</script>", 25),
		     "&lt;script&gt;alert(1)&lt;/script&gt;");
	CHECK_STR_EQ(escaped("", 0), "");
	CHECK_STR_EQ(escaped("a\0b", 3), "a" FFFD "b");
	CHECK_STR_EQ(escaped("t\tl\nc\r.", 7), "t l c .");
	CHECK_STR_EQ(escaped("\x01\x1b[31m\x7f", 7), FFFD FFFD "[31m" FFFD);
	/* valid UTF-8 passes through */
	CHECK_STR_EQ(escaped("b\xC3\xBC"
			     "cher.de \xE2\x82\xAC \xF0\x9F\x98\x80",
			     19),
		     "b\xC3\xBC"
		     "cher.de \xE2\x82\xAC \xF0\x9F\x98\x80");
	/* C1 control U+0085, bidi override U+202E, isolate U+2066, mark U+200F */
	CHECK_STR_EQ(escaped("\xC2\x85", 2), FFFD);
	CHECK_STR_EQ(escaped("moc.\xE2\x80\xAElive", 11), "moc." FFFD "live");
	CHECK_STR_EQ(escaped("\xE2\x81\xA6x\xE2\x80\x8F", 7), FFFD "x" FFFD);
	/* noncharacters */
	CHECK_STR_EQ(escaped("\xEF\xBF\xBE\xEF\xB7\x90", 6), FFFD FFFD);
	/* overlong '/', overlong NUL, surrogate, beyond U+10FFFF, 0xFF */
	CHECK_STR_EQ(escaped("\xC0\xAF", 2), FFFD FFFD);
	CHECK_STR_EQ(escaped("\xC0\x80", 2), FFFD FFFD);
	CHECK_STR_EQ(escaped("\xE0\x80\xBC", 3), FFFD FFFD FFFD);
	CHECK_STR_EQ(escaped("\xED\xA0\x80", 3), FFFD FFFD FFFD);
	CHECK_STR_EQ(escaped("\xF4\x90\x80\x80", 4), FFFD FFFD FFFD FFFD);
	CHECK_STR_EQ(escaped("\xFF<", 2), FFFD "&lt;");
	/* a sequence cut short, by the end or by another character */
	CHECK_STR_EQ(escaped("ab\xE2\x82", 4), "ab" FFFD FFFD);
	CHECK_STR_EQ(escaped("\xE2<\x82", 3), FFFD "&lt;" FFFD);
	/* a stray continuation octet, and the length is respected */
	CHECK_STR_EQ(escaped("\x80xyz", 2), FFFD "x");
}

static void
test_truncate(void)
{
	struct buf b = BUF_INIT;
	CHECK_STR_EQ(truncated("abcdef", 6), "abcdef");
	CHECK_STR_EQ(truncated("abcdef", 7), "abcdef");
	CHECK_STR_EQ(truncated("abcdef", 4), "abc\xE2\x80\xA6");
	CHECK_STR_EQ(truncated("abcdef", 1), "\xE2\x80\xA6");
	CHECK_STR_EQ(truncated("abcdef", 0), "");
	/* characters, not octets, and never half a character */
	CHECK_STR_EQ(truncated("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3),
		     "\xC3\xA9\xC3\xA9\xE2\x80\xA6");
	CHECK_STR_EQ(truncated("\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 2),
		     "\xF0\x9F\x98\x80\xF0\x9F\x98\x80");
	/* an entity counts as one character and is never cut */
	CHECK_STR_EQ(truncated("<<<<<", 3), "&lt;&lt;\xE2\x80\xA6");
	/* bad octets count one each */
	CHECK_STR_EQ(truncated("\xFF\xFF\xFFxyz", 3), FFFD FFFD "\xE2\x80\xA6");
	CHECK_INT_EQ(html_escape_truncated(&b, "abcdef", 6, 4), 4);
	CHECK_INT_EQ(html_escape_truncated(&b, "ab", 2, 4), 2);
	buf_free(&b);
}

static const struct svg_series outcomes[] = {
    {"delivered", SVG_COLOR_DELIVERED},
    {"deferred", SVG_COLOR_DEFERRED},
    {"bounced", SVG_COLOR_BOUNCED},
    {"expired", SVG_COLOR_EXPIRED},
};

#define T0 1704110400 /* 2024-01-01 12:00:00 UTC */

static void
test_columns(void)
{
	struct buf b = BUF_INIT;
	char text[256];
	/* 3 buckets x 4 series, 9 of them non-zero; the highest column is 430 */
	uint64_t values[] = {341, 20, 5, 0, 400, 0, 30, 0, 100, 7, 1, 2};
	struct svg_series_chart c = {
	    "outcomes", "Outcomes per 5 minutes", 4, outcomes, 3, values, NULL, NULL, T0, 300};
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 9);
	CHECK(strncmp(b.data, "<svg ", 5) == 0);
	CHECK(strstr(b.data, " class=\"chart columns\" id=\"outcomes\"") != NULL);
	CHECK(strstr(b.data, "role=\"img\"") != NULL);
	CHECK(strstr(b.data, "aria-label=\"Outcomes per 5 minutes\"") != NULL);
	CHECK(strstr(b.data, "width=\"100%\"") != NULL);
	CHECK_INT_EQ(count(b.data, "<g class=\"legend\">"), 1);
	CHECK_INT_EQ(count(b.data, "<g class=\"legend-item\""), 4);
	CHECK_INT_EQ(count(b.data, "<g class=\"bucket\""), 3);
	CHECK(strstr(b.data, "<rect class=\"seg\" data-series=\"delivered\" data-index=\"0\" "
			     "data-value=\"341\"") != NULL);
	CHECK(strstr(b.data, "<title>delivered 12:00\xE2\x80\x93"
			     "12:05: 341</title>") != NULL);
	CHECK(strstr(b.data, "<title>expired 12:10\xE2\x80\x93"
			     "12:15: 2</title>") != NULL);
	CHECK(strstr(b.data, "data-series=\"expired\" data-index=\"0\"") == NULL);
	CHECK(strstr(b.data, "fill=\"" SVG_COLOR_BOUNCED "\"") != NULL);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"0\"", text, sizeof text),
		     "12:00");
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"2\"", text, sizeof text),
		     "12:10");
	/* 430 on a 1-2-5 axis: 0, 100, ... 500 */
	CHECK_INT_EQ(count(b.data, "class=\"tick y\""), 6);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick y\" data-index=\"5\"", text, sizeof text),
		     "500");
	CHECK(strstr(b.data, "nodata") == NULL);

	/* Small counts: max 7 gives 0, 2, 4, 6, 8; the step never goes below 1. */
	uint64_t small[] = {3, 4, 0, 0, 1, 0, 0, 0};
	c.values = small;
	c.nbuckets = 2;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 3);
	CHECK_INT_EQ(count(b.data, "class=\"tick y\""), 5);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick y\" data-index=\"4\"", text, sizeof text),
		     "8");
	uint64_t one[] = {1, 0, 0, 0};
	c.values = one;
	c.nbuckets = 1;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 1);
	CHECK_INT_EQ(count(b.data, "class=\"tick y\""), 2);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick y\" data-index=\"1\"", text, sizeof text),
		     "1");
	/* Large axis values are compact. */
	uint64_t big[] = {1400000, 0, 0, 0};
	c.values = big;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick y\" data-index=\"3\"", text, sizeof text),
		     "1.5M");
	CHECK(strstr(b.data, "data-value=\"1400000\"") != NULL);
	buf_free(&b);
}

static void
test_no_data(void)
{
	struct buf b = BUF_INIT;
	uint64_t zeros[8] = {0};
	struct svg_series_chart c = {"empty", "Nothing", 4, outcomes, 0, NULL, NULL, NULL, T0, 300};

	/* no buckets */
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 0);
	CHECK_INT_EQ(count(b.data, "<text class=\"nodata\""), 1);
	CHECK_INT_EQ(count(b.data, "class=\"tick y\""), 1);
	CHECK_INT_EQ(count(b.data, "class=\"tick x\""), 0);
	CHECK(strstr(b.data, "nan") == NULL && strstr(b.data, "inf") == NULL);
	/* buckets of zeros, a NULL values array, no series at all */
	c.nbuckets = 2;
	c.values = zeros;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 0);
	CHECK_INT_EQ(count(b.data, "<text class=\"nodata\""), 1);
	CHECK_INT_EQ(count(b.data, "class=\"tick x\""), 2);
	c.values = NULL;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 0);
	CHECK_INT_EQ(count(b.data, "<text class=\"nodata\""), 1);
	c.values = zeros;
	c.nseries = 0;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 0);
	CHECK_INT_EQ(count(b.data, "<g class=\"legend-item\""), 0);
	CHECK_INT_EQ(count(b.data, "<text class=\"nodata\""), 1);
	c.nseries = 4;
	c.series = NULL;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 0);

	/* bars: no rows, rows of zeros */
	struct svg_bar_chart h = {NULL, NULL, 3, outcomes, 0, NULL, NULL, NULL};
	buf_reset(&b);
	svg_hbars(&b, &h);
	CHECK_INT_EQ(wellformed(b.data, b.len), 0);
	CHECK(strstr(b.data, " id=\"chart\"") != NULL);
	CHECK(strstr(b.data, "aria-label=\"chart\"") != NULL);
	CHECK_INT_EQ(count(b.data, "<text class=\"nodata\""), 1);
	const char *labels[] = {"a.test", "b.test"};
	h.nrows = 2;
	h.values = zeros;
	h.labels = labels;
	buf_reset(&b);
	svg_hbars(&b, &h);
	CHECK_INT_EQ(wellformed(b.data, b.len), 0);
	CHECK_INT_EQ(count(b.data, "<text class=\"nodata\""), 1);
	CHECK_INT_EQ(count(b.data, "<text class=\"label\""), 2);
	CHECK_INT_EQ(count(b.data, ">0</text>"), 2);
	buf_free(&b);
}

static void
test_huge(void)
{
	struct buf b = BUF_INIT;
	char text[256];
	uint64_t values[] = {UINT64_MAX, UINT64_MAX, 0, 1, UINT64_MAX - 1, 0};
	struct svg_series_chart c = {"huge", "Huge", 3, outcomes, 2, values, NULL, NULL, 0, 60};

	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 4);
	CHECK_INT_EQ(count(b.data, "data-value=\"18446744073709551615\""), 2);
	CHECK(strstr(b.data, "height=\"-") == NULL);
	CHECK(strstr(b.data, "nan") == NULL && strstr(b.data, "inf") == NULL);
	/* 2 x 1.8e19: a 10E step */
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick y\" data-index=\"4\"", text, sizeof text),
		     "40E");
	/* the time labels: 1970-01-01 00:00 and 00:01 */
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"1\"", text, sizeof text),
		     "00:01");

	const char *labels[] = {"max.test", "one.test"};
	struct svg_bar_chart h = {"hb", "Huge bars", 3, outcomes, 2, values, labels, NULL};
	buf_reset(&b);
	svg_hbars(&b, &h);
	CHECK_INT_EQ(wellformed(b.data, b.len), 4);
	/* a row total beyond 2^64 is approximate, one below is exact */
	CHECK_STR_EQ(text_of(b.data, "<text class=\"value\" data-index=\"0\"", text, sizeof text),
		     "\xE2\x89\x88"
		     "36.9E");
	CHECK_STR_EQ(text_of(b.data, "<text class=\"value\" data-index=\"1\"", text, sizeof text),
		     "18446744073709551615");
	CHECK(strstr(b.data, "width=\"-") == NULL);

	/* Time arithmetic that overflows gives "?", not undefined behaviour. */
	c.t0 = INT64_MAX - 30;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 4);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"1\"", text, sizeof text),
		     "?");
	c.t0 = INT64_MIN;
	c.step = INT64_MAX;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 4);
	/* no step: numbered buckets */
	c.t0 = T0;
	c.step = 0;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"1\"", text, sizeof text),
		     "2");
	CHECK(strstr(b.data, "<title>delivered 1: 18446744073709551615</title>") != NULL);
	buf_free(&b);
}

static void
test_many_buckets(void)
{
	struct buf b = BUF_INIT;
	char text[256];
	enum { N = 1000 };
	uint64_t *values = xcalloc(N * 4, sizeof *values);
	long nonzero = 0;

	for (size_t i = 0; i < N * 4; i++) {
		values[i] = (i * 2654435761u) % 7 == 0 ? 0 : i % 50;
		nonzero += values[i] != 0;
	}
	/* two minutes each: 2000 minutes is more than a day */
	struct svg_series_chart c = {"many", "Many", 4, outcomes, N, values, NULL, NULL, T0, 120};
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), nonzero);
	CHECK_INT_EQ(count(b.data, "<g class=\"bucket\""), N);
	size_t ticks = count(b.data, "class=\"tick x\"");
	CHECK(ticks >= 5 && ticks <= 12);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"0\"", text, sizeof text),
		     "01-01 12:00");
	CHECK(strstr(b.data, "<title>deferred 01-01 12:00\xE2\x80\x93"
			     "01-01 12:02: ") != NULL);
	/* day buckets, and more than a year of them */
	c.step = 86400;
	c.nbuckets = 10;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"1\"", text, sizeof text),
		     "01-02");
	CHECK(strstr(b.data, "<title>deferred 01-01: ") != NULL);
	c.nbuckets = 400;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len) > 0, 1);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"0\"", text, sizeof text),
		     "2024-01-01");

	/* 1000 bar rows render too */
	const char **labels = xcalloc(N, sizeof *labels);
	for (size_t i = 0; i < N; i++)
		labels[i] = i % 2 ? "odd.test" : "even.test";
	struct svg_bar_chart h = {"bars", "Bars", 4, outcomes, N, values, labels, NULL};
	buf_reset(&b);
	svg_hbars(&b, &h);
	CHECK_INT_EQ(wellformed(b.data, b.len), nonzero);
	CHECK_INT_EQ(count(b.data, "<text class=\"label\""), N);
	free(labels);
	free(values);
	buf_free(&b);
}

static void
test_hostile(void)
{
	struct buf b = BUF_INIT;
	char text[512];
	static const char nul_label[] = "nul\0<script>";
	const char *labels[] = {
	    "<script>alert(1)</script>",
	    "\"><rect class=\"seg\" data-value=\"666\"/><text>",
	    "bad\xFF\xC0\xAF utf8 \xED\xA0\x80",
	    nul_label,
	    "a-very-long-subdomain.of-a-very-long-domain-name.example",
	    "\xE2\x80\xAEmoc.evil",
	    NULL,
	};
	size_t lens[] = {strlen(labels[0]),
			 strlen(labels[1]),
			 strlen(labels[2]),
			 sizeof nul_label - 1,
			 strlen(labels[4]),
			 strlen(labels[5]),
			 0};
	const struct svg_series series[] = {
	    {"<b>delivered</b>", "red\" onclick=\"alert(1)"},
	    {"dé'ferred", "#abc"},
	    {NULL, "#12345"},
	};
	uint64_t values[7 * 3];
	for (size_t i = 0; i < 7 * 3; i++)
		values[i] = i + 1;

	struct svg_bar_chart h = {"x\" onload=\"alert(1)",
				  "<img src=x onerror=alert(1)>",
				  3,
				  series,
				  7,
				  values,
				  labels,
				  lens};
	svg_hbars(&b, &h);
	CHECK_INT_EQ(wellformed(b.data, b.len), 21);
	CHECK(strstr(b.data, "<script") == NULL);
	CHECK(strstr(b.data, "<img") == NULL);
	CHECK(strstr(b.data, "onclick") == NULL);
	CHECK(strstr(b.data, " onload") == NULL);
	CHECK(strstr(b.data, " id=\"xonloadalert1\"") != NULL);
	CHECK(strstr(b.data, "aria-label=\"&lt;img src=x onerror=alert(1)&gt;\"") != NULL);
	CHECK(strstr(b.data, "data-value=\"666\"") == NULL);
	CHECK_INT_EQ(count(b.data, "class=\"seg\""), 21);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"label\" data-index=\"0\"", text, sizeof text),
		     "&lt;script&gt;alert(1)&lt;/script&gt;");
	CHECK_STR_EQ(text_of(b.data, "<text class=\"label\" data-index=\"1\"", text, sizeof text),
		     "&quot;&gt;&lt;rect class=&quot;seg&quot; data-va\xE2\x80\xA6");
	CHECK_STR_EQ(text_of(b.data, "<text class=\"label\" data-index=\"2\"", text, sizeof text),
		     "bad" FFFD FFFD FFFD " utf8 " FFFD FFFD FFFD);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"label\" data-index=\"3\"", text, sizeof text),
		     "nul" FFFD "&lt;script&gt;");
	CHECK_STR_EQ(text_of(b.data, "<text class=\"label\" data-index=\"4\"", text, sizeof text),
		     "a-very-long-subdomain.of-a-\xE2\x80\xA6");
	CHECK_STR_EQ(text_of(b.data, "<text class=\"label\" data-index=\"5\"", text, sizeof text),
		     FFFD "moc.evil");
	CHECK_STR_EQ(text_of(b.data, "<text class=\"label\" data-index=\"6\"", text, sizeof text),
		     "");
	/* the hover text holds the whole label */
	CHECK(strstr(b.data,
		     "a-very-long-subdomain.of-a-very-long-domain-name.example: 13</title>") !=
	      NULL);
	/* bad colours fall back to the palette; names are escaped everywhere */
	CHECK(strstr(b.data, "fill=\"" SVG_COLOR_GREEN "\"") != NULL);
	CHECK(strstr(b.data, "fill=\"#abc\"") != NULL);
	CHECK(strstr(b.data, "fill=\"#12345\"") == NULL);
	CHECK(strstr(b.data, "fill=\"" SVG_COLOR_VERMILLION "\"") != NULL);
	CHECK(strstr(b.data, "data-series=\"&lt;b&gt;delivered&lt;/b&gt;\"") != NULL);
	CHECK(strstr(b.data, "data-series=\"d\xC3\xA9&#39;ferred\"") != NULL);
	CHECK(strstr(b.data, "data-series=\"series 3\"") != NULL);

	/* the same labels under columns */
	struct svg_series_chart c = {"", NULL, 3, series, 7, values, labels, lens, 0, 0};
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK_INT_EQ(wellformed(b.data, b.len), 21);
	CHECK(strstr(b.data, "<script") == NULL);
	CHECK(strstr(b.data, " id=\"chart\"") != NULL);
	CHECK(strstr(b.data, "<title>&lt;b&gt;delivered&lt;/b&gt; &lt;script&gt;alert(1)&lt;/"
			     "script&gt;: 1</title>") != NULL);
	CHECK_STR_EQ(text_of(b.data, "<text class=\"tick x\" data-index=\"0\"", text, sizeof text),
		     "&lt;script&gt;alert(1\xE2\x80\xA6");

	/* a long id is cut */
	char id[200];
	memset(id, 'i', sizeof id - 1);
	id[sizeof id - 1] = '\0';
	c.id = id;
	buf_reset(&b);
	svg_stacked_columns(&b, &c);
	CHECK(strstr(b.data, "iiii\" data-kind") != NULL);
	CHECK_INT_EQ(count(b.data, "i") >= SVG_ID_MAX, 1);
	char *p = strstr(b.data, " id=\"");
	CHECK(p != NULL && strspn(p + 5, "i") == SVG_ID_MAX);
	buf_free(&b);
}

/* Charts append: two in one buffer, the first left alone. */
static void
test_append(void)
{
	struct buf b = BUF_INIT;
	uint64_t values[] = {1, 2};
	struct svg_series_chart c = {"a", "A", 2, outcomes, 1, values, NULL, NULL, T0, 300};
	struct svg_bar_chart h = {"b", "B", 2, outcomes, 1, values, NULL, NULL};
	buf_append_str(&b, "<p>");
	svg_stacked_columns(&b, &c);
	size_t first = b.len;
	svg_hbars(&b, &h);
	CHECK(strncmp(b.data, "<p><svg ", 8) == 0);
	CHECK(strncmp(b.data + first, "<svg ", 5) == 0);
	CHECK_INT_EQ(wellformed(b.data + 3, first - 3), 2);
	CHECK_INT_EQ(wellformed(b.data + first, b.len - first), 2);
	buf_free(&b);
}

int
main(void)
{
	test_escape();
	test_truncate();
	test_columns();
	test_no_data();
	test_huge();
	test_many_buckets();
	test_hostile();
	test_append();
	buf_free(&scratch);
	return check_report("test_svgchart");
}
