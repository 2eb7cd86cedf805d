/*
 * when - reading points in time and durations as users write them:
 *   durations  90m, 12h, 3d, 2w, 1d12h, 3600s, 3600 (seconds)
 *   times      2026-12-01, 2026-12-01T17:00, 2026-12-01 17:00:30,
 *              2026-12-01T17:00:00Z, 2026-12-01T17:00+01:00, @1764000000
 * A date or time without a zone is local time; a bare date means the end
 * of that day (a survey "closes on the 1st" is open all of the 1st).
 */
#ifndef MAILSHOT_WHEN_H
#define MAILSHOT_WHEN_H

#include <time.h>

/* Parses a duration into seconds.  Returns 0, or -1 with *why set. */
int when_parse_duration(const char *s, long long *seconds, const char **why);

/* Parses a time or a duration (relative to now) into Unix seconds.
 * Returns 0, or -1 with *why set. */
int when_parse(const char *s, time_t now, time_t *out, const char **why);

#endif
