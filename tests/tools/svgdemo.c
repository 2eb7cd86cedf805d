/*
 * tests/tools/svgdemo - writes to stdout a self-contained HTML page with
 * both kinds of lib/svgchart.c chart, drawn from fixed data, for
 * tests/e2e/svgchart.sh to render in headless Chromium:
 *
 *	svg#outcomes        12 five-minute buckets from 2024-01-01 12:00 UTC,
 *	                    delivered/deferred/bounced/expired, 33 non-zero
 *	svg#domains         7 rows, 5 of them hostile or odd labels, 17 non-zero
 *	svg#empty-outcomes  no buckets: "no data"
 *	svg#zero-domains    2 rows of zeros: "no data"
 *	p#reply             a hostile SMTP reply text, escaped
 *
 * The e2e test knows these numbers; change them together.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "svgchart.h"

static const struct svg_series outcome_series[] = {
    {"delivered", SVG_COLOR_DELIVERED},
    {"deferred", SVG_COLOR_DEFERRED},
    {"bounced", SVG_COLOR_BOUNCED},
    {"expired", SVG_COLOR_EXPIRED},
};

/* Per bucket: delivered, deferred, bounced, expired. */
static const uint64_t outcome_values[12 * 4] = {
    /* clang-format off */
    341, 20,  5, 0,
    420, 35,  8, 0,
    515,  0, 12, 0,
    480, 12,  0, 0,
    390, 60,  3, 2,
    610, 80,  9, 0,
    700, 45, 14, 0,
    655, 30,  6, 7,
    530,  0,  2, 0,
    470, 10,  0, 0,
    300,  5,  1, 0,
    120,  0,  0, 1,
    /* clang-format on */
};

static const char nul_label[] = "nul\0byte.example";

static const char *const domain_labels[] = {
    "gmail.com",
    "<script>alert(1)</script>",
    "\"><rect class=\"seg\" data-value=\"666\"/>",
    "outlook.example",
    "b\xC3\xBC"
    "cher.example",
    "bad\xFF\xFEutf8.example",
    nul_label,
};

/* Per domain: delivered, deferred, bounced. */
static const uint64_t domain_values[7 * 3] = {
    /* clang-format off */
    2100,  40, 12,
     300,  20,  5,
     150,   0,  3,
     900, 120, 30,
      80,   5,  0,
      40,   0,  1,
      10,   2,  0,
    /* clang-format on */
};

static const char hostile_reply[] =
    "550 5.7.1 <script>document.title='pwned'</script> & \"quoted\"\x01\n second line \xC0";

int
main(void)
{
	struct buf page = BUF_INIT;
	const char *zero_labels[] = {"zero.example", "nothing.example"};
	const uint64_t zeros[2 * 3] = {0};
	size_t domain_label_lens[7];

	/* strlen() but for the label with a NUL inside */
	for (size_t i = 0; i < 7; i++)
		domain_label_lens[i] =
		    domain_labels[i] == nul_label ? sizeof nul_label - 1 : strlen(domain_labels[i]);

	buf_append_str(&page,
		       "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		       "<title>mailshot svgchart demo</title>\n<style>\n"
		       "body { font-family: sans-serif; max-width: 1000px; margin: 1em auto; "
		       "background: #ffffff; color: #222222; }\n"
		       "svg.chart { display: block; margin-bottom: 1em; }\n"
		       "</style>\n</head>\n<body>\n<h1>svgchart demo</h1>\n");

	buf_append_str(&page, "<h2>Outcomes</h2>\n");
	struct svg_series_chart outcomes = {
	    .id = "outcomes",
	    .title = "Outcomes per 5 minutes",
	    .nseries = 4,
	    .series = outcome_series,
	    .nbuckets = 12,
	    .values = outcome_values,
	    .t0 = 1704110400, /* 2024-01-01 12:00 UTC */
	    .step = 300,
	};
	svg_stacked_columns(&page, &outcomes);

	buf_append_str(&page, "<h2>Domains</h2>\n");
	struct svg_bar_chart domains = {
	    .id = "domains",
	    .title = "Top destination domains",
	    .nseries = 3,
	    .series = outcome_series,
	    .nrows = 7,
	    .values = domain_values,
	    .labels = domain_labels,
	    .label_lens = domain_label_lens,
	};
	svg_hbars(&page, &domains);

	buf_append_str(&page, "<h2>Last reply</h2>\n<p id=\"reply\">");
	html_escape(&page, hostile_reply, sizeof hostile_reply - 1);
	buf_append_str(&page, "</p>\n");

	buf_append_str(&page, "<h2>Nothing yet</h2>\n");
	struct svg_series_chart empty = {
	    .id = "empty-outcomes",
	    .title = "Outcomes (none)",
	    .nseries = 4,
	    .series = outcome_series,
	    .step = 300,
	};
	svg_stacked_columns(&page, &empty);
	struct svg_bar_chart zero = {
	    .id = "zero-domains",
	    .title = "Domains (all zero)",
	    .nseries = 3,
	    .series = outcome_series,
	    .nrows = 2,
	    .values = zeros,
	    .labels = zero_labels,
	};
	svg_hbars(&page, &zero);

	buf_append_str(&page, "</body>\n</html>\n");
	int ok = fwrite(page.data, 1, page.len, stdout) == page.len && fflush(stdout) == 0;
	buf_free(&page);
	if (!ok) {
		perror("svgdemo: fatal: unable to write the page");
		return 111;
	}
	return 0;
}
