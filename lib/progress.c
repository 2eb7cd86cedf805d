/*
 * progress - terminal progress bar.  See progress.h.
 */
#include "progress.h"

#include <stdio.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
draw(struct progress *p)
{
	char bar[31];
	double frac = p->total ? (double)p->done / (double)p->total : 1.0;
	if (frac > 1.0)
		frac = 1.0;
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	double el = now() - p->start;
	double rate = el > 0 ? (double)p->done / el : 0;
	fprintf(stderr, "\r[%s] %lu/%lu %3d%% %.0f/s ", bar, p->done, p->total, (int)(frac * 100),
		rate);
	if (rate > 0 && p->done < p->total)
		fprintf(stderr, "eta %.0fs ", (double)(p->total - p->done) / rate);
	fprintf(stderr, "\033[K");
	fflush(stderr);
	p->drawn = 1;
}

void
progress_start(struct progress *p, unsigned long total, int enabled)
{
	p->total = total;
	p->done = 0;
	p->enabled = enabled;
	p->drawn = 0;
	p->start = p->last = now();
}

void
progress_step(struct progress *p)
{
	p->done++;
	if (!p->enabled || (p->done & 255) != 0)
		return;
	double t = now();
	if (t - p->last < 0.1)
		return;
	p->last = t;
	draw(p);
}

void
progress_clear(struct progress *p)
{
	if (p->enabled && p->drawn) {
		fprintf(stderr, "\r\033[K");
		p->drawn = 0;
	}
}

void
progress_end(struct progress *p)
{
	if (p->enabled && p->done > 0) {
		draw(p);
		fputc('\n', stderr);
	}
	p->enabled = 0;
}
