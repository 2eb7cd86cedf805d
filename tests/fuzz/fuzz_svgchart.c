/*
 * fuzz_svgchart - libFuzzer target for lib/svgchart.c.
 *
 * The input is read as a chart description, then as text:
 *
 *   octet 0   bit 0: bars (else columns); bit 1: labels given (else
 *             computed from t0 and step); bit 2: label lengths given
 *             (else labels end at a NUL); bits 3-5: number of series
 *   octet 1   number of buckets or rows, modulo 97
 *   octets 2-17  t0 and step, 64-bit little-endian
 *   then per value one octet: 0 zero, 1 UINT64_MAX, 2 the next 8 octets,
 *   anything else that count; then labels, each one octet of length and
 *   that many octets: the title, the id, the series names, the bucket
 *   labels.  What is missing reads as zeros or empty labels.
 *
 * Every chart must be one well-formed <svg> (checked by an independent
 * scanner: elements and attributes from a fixed list, quoted attributes,
 * entities only where '&' is, no raw '>' or stray markup from the input,
 * valid UTF-8 without controls, finite coordinates inside the viewBox)
 * with exactly one rect.seg per non-zero value.  The whole input, through
 * html_escape() and html_escape_truncated(), must come out as safe text
 * of at most the asked number of characters.  Any broken promise aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "svgchart.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_svgchart: %s:%d: broken: %s\n", __FILE__, __LINE__,  \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

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

/* Length of a well-formed UTF-8 character at s, not a control (LF aside), or 0. */
static size_t
clean_char(const unsigned char *s, size_t len, int lf_ok)
{
	unsigned c = s[0], n;
	uint32_t cp;
	if (c < 0x80)
		return (c >= 0x20 && c != 0x7F) || (c == '\n' && lf_ok) ? 1 : 0;
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
	    (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
	    (cp >= 0x2066 && cp <= 0x2069) || (cp & 0xFFFE) == 0xFFFE)
		return 0;
	return n + 1;
}

static size_t
entity(const char *s, size_t len)
{
	static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
	for (size_t i = 0; i < 5; i++)
		if (len >= strlen(ents[i]) && memcmp(s, ents[i], strlen(ents[i])) == 0)
			return strlen(ents[i]);
	return 0;
}

/* One well-formed <svg> at out[0..len) (NUL after it); its rect.seg count. */
static long
wellformed(const char *out, size_t len)
{
	const char *stack[16];
	size_t depth = 0, i = 0, roots = 0;
	long segs = 0;
	double view_w = 0, view_h = 0;

	REQUIRE(out[len] == '\0');
	while (i < len) {
		if (out[i] == '<') {
			int closing = out[i + 1] == '/';
			size_t start = i + 1 + (size_t)closing, n = 0;
			while (start + n < len && out[start + n] >= 'a' && out[start + n] <= 'z')
				n++;
			REQUIRE(n > 0 && in_list(out + start, n, known_elements, 6));
			i = start + n;
			if (closing) {
				REQUIRE(depth > 0 && strlen(stack[depth - 1]) == n &&
					memcmp(stack[depth - 1], out + start, n) == 0 &&
					out[i] == '>');
				depth--;
				i++;
				continue;
			}
			REQUIRE(depth > 0 || roots++ == 0);
			REQUIRE(depth < 16);
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
				REQUIRE(an > 0 && in_list(out + a, an, known_attributes,
							  sizeof known_attributes /
							      sizeof known_attributes[0]));
				i = a + an;
				REQUIRE(out[i] == '=' && out[i + 1] == '"');
				i += 2;
				size_t v = i;
				while (i < len && out[i] != '"') {
					REQUIRE(out[i] != '<' && out[i] != '>' && out[i] != '\'' &&
						out[i] != '\n');
					if (out[i] == '&') {
						size_t e = entity(out + i, len - i);
						REQUIRE(e > 0);
						i += e;
					} else {
						size_t c = clean_char(
						    (const unsigned char *)out + i, len - i, 0);
						REQUIRE(c > 0);
						i += c;
					}
				}
				REQUIRE(i < len);
				if (an == 5 && memcmp(out + a, "class", 5) == 0 && i - v == 3 &&
				    memcmp(out + v, "seg", 3) == 0)
					is_seg = 1;
				if (an == 7 && memcmp(out + a, "viewBox", 7) == 0)
					REQUIRE(sscanf(out + v, "0 0 %lf %lf", &view_w, &view_h) ==
						2);
				if (in_list(out + a, an, numeric_attributes, 8) &&
				    !(n == 3 && memcmp(out + start, "svg", 3) == 0)) {
					char *end;
					double d = strtod(out + v, &end);
					int horizontal = out[a] == 'x' || out[a] == 'w';
					REQUIRE(end == out + i && isfinite(d) && d >= 0 &&
						d <= (horizontal ? view_w : view_h) + 0.01);
				}
				i++;
			}
			REQUIRE(out[i] == '>');
			segs += is_seg;
			i++;
			continue;
		}
		REQUIRE(depth > 0 || out[i] == '\n');
		REQUIRE(out[i] != '>');
		if (out[i] == '&') {
			size_t e = entity(out + i, len - i);
			REQUIRE(e > 0);
			i += e;
			continue;
		}
		size_t c = clean_char((const unsigned char *)out + i, len - i, 1);
		REQUIRE(c > 0);
		i += c;
	}
	REQUIRE(depth == 0 && roots == 1);
	return segs;
}

/* Escaped text: no markup, no quotes, entities only, clean UTF-8; its characters. */
static size_t
check_text(const char *out, size_t len)
{
	size_t i = 0, chars = 0;
	while (i < len) {
		REQUIRE(out[i] != '<' && out[i] != '>' && out[i] != '"' && out[i] != '\'');
		size_t n = out[i] == '&' ? entity(out + i, len - i)
					 : clean_char((const unsigned char *)out + i, len - i, 0);
		REQUIRE(n > 0);
		i += n;
		chars++;
	}
	return chars;
}

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint8_t
take(struct reader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

static uint64_t
take64(struct reader *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)take(r) << (8 * i);
	return v;
}

/* A label: its octets stay in the input; *len is how many there are. */
static const char *
take_label(struct reader *r, size_t *len)
{
	size_t n = take(r);
	if (n > r->left)
		n = r->left;
	const char *s = (const char *)r->p;
	r->p += n;
	r->left -= n;
	*len = n;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = {data, size};
	uint8_t flags = take(&r);
	size_t n = take(&r) % 97, nseries = (flags >> 3) & 7, len;
	int64_t t0 = (int64_t)take64(&r), step = (int64_t)take64(&r);
	uint64_t *values = xcalloc(n * nseries + 1, sizeof *values);
	long nonzero = 0;

	for (size_t i = 0; i < n * nseries; i++) {
		uint8_t k = take(&r);
		values[i] = k == 0 ? 0 : k == 1 ? UINT64_MAX : k == 2 ? take64(&r) : k;
		nonzero += values[i] != 0;
	}
	/* C strings for the title, id and series names (a NUL ends them early). */
	const char *s = take_label(&r, &len);
	char *title = xstrndup(s, len);
	s = take_label(&r, &len);
	char *id = xstrndup(s, len);
	struct svg_series *series = xcalloc(nseries + 1, sizeof *series);
	char **names = xcalloc(nseries + 1, sizeof *names);
	for (size_t k = 0; k < nseries; k++) {
		s = take_label(&r, &len);
		names[k] = xstrndup(s, len);
		series[k].name = len % 5 == 4 ? NULL : names[k];
		series[k].color = len % 3 == 0 ? "#0072B2" : names[k];
	}
	const char **labels = xcalloc(n + 1, sizeof *labels);
	size_t *lens = xcalloc(n + 1, sizeof *lens);
	for (size_t i = 0; i < n; i++)
		labels[i] = take_label(&r, &lens[i]);
	/* Without lengths the labels must be C strings: copies. */
	char **copies = xcalloc(n + 1, sizeof *copies);
	if (!(flags & 4))
		for (size_t i = 0; i < n; i++)
			labels[i] = copies[i] = xstrndup(labels[i], lens[i]);

	struct buf out = BUF_INIT;
	const char *const *given = (flags & 2) ? labels : NULL;
	const size_t *given_lens = (flags & 4) ? lens : NULL;
	if (flags & 1) {
		struct svg_bar_chart c = {
		    .id = id,
		    .title = title,
		    .nseries = nseries,
		    .series = series,
		    .nrows = n,
		    .values = values,
		    .labels = given,
		    .label_lens = given_lens,
		};
		svg_hbars(&out, &c);
	} else {
		struct svg_series_chart c = {
		    .id = id,
		    .title = title,
		    .nseries = nseries,
		    .series = series,
		    .nbuckets = n,
		    .values = values,
		    .labels = given,
		    .label_lens = given_lens,
		    .t0 = t0,
		    .step = step,
		};
		svg_stacked_columns(&out, &c);
	}
	REQUIRE(wellformed(out.data, out.len) == nonzero);

	/* The whole input as text, whole and truncated. */
	size_t max = size > 1 ? data[1] : 0;
	buf_reset(&out);
	html_escape(&out, (const char *)data, size);
	size_t chars = check_text(out.data, out.len);
	REQUIRE(chars <= size); /* at most one character an octet */
	buf_reset(&out);
	size_t wrote = html_escape_truncated(&out, (const char *)data, size, max);
	REQUIRE(check_text(out.data, out.len) == wrote);
	REQUIRE(wrote == (chars <= max ? chars : max));

	buf_free(&out);
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
	for (size_t k = 0; k < nseries; k++)
		free(names[k]);
	free(copies);
	free(lens);
	free(labels);
	free(names);
	free(series);
	free(id);
	free(title);
	free(values);
	return 0;
}
