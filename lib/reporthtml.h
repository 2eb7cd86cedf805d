/*
 * reporthtml - `mailshot-report --format html`: one self-contained page
 * (no network, no JavaScript) with the summary's tables and inline SVG
 * charts (lib/svgchart.h): outcomes over time and the top destination
 * domains of each campaign.  The hooks a test or a style sheet may rely
 * on are listed in docs/report.md.
 */
#ifndef MAILSHOT_REPORTHTML_H
#define MAILSHOT_REPORTHTML_H

#include <stdint.h>

#include "buf.h"
#include "report.h"

struct reporthtml_info {
	const char *spool;
	size_t top;	   /* domains and reasons shown per campaign */
	int64_t generated; /* seconds */
	uint64_t lines, malformed, unknown;
};

/* Appends the page; r must be finished (report_finish). */
void reporthtml_write(struct report *r, const struct reporthtml_info *info, struct buf *out);

#endif
