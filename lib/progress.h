/*
 * progress - a progress bar on stderr for long work, drawn only when
 * stderr is a terminal, redrawn at most ten times a second.
 */
#ifndef MAILSHOT_PROGRESS_H
#define MAILSHOT_PROGRESS_H

struct progress {
	unsigned long total, done;
	int enabled, drawn;
	double start, last;
};

void progress_start(struct progress *p, unsigned long total, int enabled);
void progress_step(struct progress *p);
/* Erases the bar so another line can be printed; it comes back. */
void progress_clear(struct progress *p);
/* Draws the final state and ends the line. */
void progress_end(struct progress *p);

#endif
