/*
 * libFuzzer target for the delivery log reader (lib/logread.c) and the
 * figures built on it (lib/report.c): the input is split into lines,
 * each parsed and, when it parses, counted.  Invariants: a parsed line's
 * fields lie inside the line, keys are [a-z_]+, the event is one of the
 * values; the report's figures are consistent (delivered + bounced +
 * expired + pending never exceeds the recipients a campaign has seen).
 * The same bytes are also parsed as sched's queue/status file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logread.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	struct report *r = report_new(NULL);
	size_t start = 0;
	for (size_t i = 0; i <= size; i++) {
		if (i < size && copy[i] != '\n')
			continue;
		size_t len = i - start;
		char *line = malloc(len + 1);
		memcpy(line, copy + start, len);
		line[len] = '\0';
		struct logline l;
		const char *why;
		if (logline_parse(line, len, &l, &why) == 0) {
			for (size_t k = 0; k < l.nfields; k++) {
				const char *key = l.field[k].key;
				if (key < line || key >= line + len + 1 || !*key)
					abort();
				for (const char *p = key; *p; p++)
					if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
						abort();
				if (l.field[k].val < line || l.field[k].val + l.field[k].vlen > line + len)
					abort();
			}
			if (l.usec < 0)
				abort();
			report_add(r, &l);
		} else if (!why) {
			abort();
		}
		free(line);
		start = i + 1;
	}
	report_finish(r);
	for (size_t i = 0; i < report_campaign_count(r); i++) {
		struct report_campaign *c = report_campaign_at(r, i);
		if (c->hard + c->soft != c->bounced)
			abort();
		if (c->pending > c->queued)
			abort();
		(void)report_percentile(c, 0.99);
		struct report_domain **d;
		(void)report_domains(r, i, &d);
	}
	report_free(r);
	/* the same bytes as sched's queue/status */
	struct sched_status st;
	const char *why;
	if (sched_status_parse(copy, size, &st, &why) == 0) {
		for (size_t i = 0; i < st.ndest; i++)
			if (!st.dest[i].name)
				abort();
		sched_status_free(&st);
	} else if (!why) {
		abort();
	}
	free(copy);
	return 0;
}
