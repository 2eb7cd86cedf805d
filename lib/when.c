/*
 * when - times and durations.  See when.h.
 */
#include "when.h"

#include <limits.h>
#include <string.h>

static int
digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The longest duration accepted: a century. */
#define DURATION_MAX (100LL * 365 * 86400)

int
when_parse_duration(const char *s, long long *seconds, const char **why)
{
	long long total = 0, previous_unit = LLONG_MAX;
	const char *p = s;
	if (*p == '\0') {
		*why = "empty duration";
		return -1;
	}
	while (*p) {
		long long n = 0;
		const char *start = p;
		while (*p >= '0' && *p <= '9') {
			/* A number over the maximum is too long in any unit; the
			 * bound also keeps n * unit below, and total, far from
			 * overflowing (a bound of LLONG_MAX / 10 / 604800 let
			 * n * 604800 overflow, undefined behaviour). */
			n = n * 10 + (*p++ - '0');
			if (n > DURATION_MAX) {
				*why = "duration too long";
				return -1;
			}
		}
		if (p == start) {
			*why = "expected a number";
			return -1;
		}
		long long unit;
		switch (*p) {
		case '\0':
			/* A bare number is seconds only when it is the whole
			 * duration: "1d30" might mean minutes as well, and input
			 * is refused rather than guessed. */
			if (start != s) {
				*why = "a number without a unit (s, m, h, d or w) after another";
				return -1;
			}
			unit = 1;
			break;
		case 's': unit = 1; p++; break;
		case 'm': unit = 60; p++; break;
		case 'h': unit = 3600; p++; break;
		case 'd': unit = 86400; p++; break;
		case 'w': unit = 604800; p++; break;
		default: *why = "unknown unit (use s, m, h, d or w)"; return -1;
		}
		/* Largest unit first, each once (1d12h30m): "30s5m" or "1h1h"
		 * is more likely a typo than a duration.  (This replaces a
		 * check that refused "1h30s5m" but took "30s5m".) */
		if (unit >= previous_unit) {
			*why = "units out of order (largest first, each once: 1d12h30m)";
			return -1;
		}
		previous_unit = unit;
		total += n * unit;
		if (total > DURATION_MAX) {
			*why = "duration too long";
			return -1;
		}
	}
	*seconds = total;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long
days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

int
when_parse(const char *s, time_t now, time_t *out, const char **why)
{
	size_t len = strlen(s);
	if (s[0] == '@') {
		long long v = 0;
		if (s[1] == '\0') {
			*why = "expected seconds after @";
			return -1;
		}
		for (const char *p = s + 1; *p; p++) {
			if (*p < '0' || *p > '9' || v > LLONG_MAX / 10 - 10) {
				*why = "expected seconds after @";
				return -1;
			}
			v = v * 10 + (*p - '0');
		}
		*out = (time_t)v;
		return 0;
	}
	if (len < 10 || s[4] != '-' || s[7] != '-') {
		long long secs;
		if (when_parse_duration(s, &secs, why) == -1) {
			*why = "not a time (2026-12-01, 2026-12-01T17:00[:00][Z|+01:00]) or a "
			       "duration (90m, 12h, 3d, 2w)";
			return -1;
		}
		*out = now + (time_t)secs;
		return 0;
	}
	int y, mo, d, h = 23, mi = 59, sec = 59;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || mo < 1 ||
	    mo > 12 || d < 1 || d > days_in_month(y, mo)) {
		*why = "invalid date";
		return -1;
	}
	const char *p = s + 10;
	int zone = 0, have_zone = 0;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &mi) || h > 23 || mi > 59) {
			*why = "invalid time of day (HH:MM)";
			return -1;
		}
		p += 5;
		sec = 0;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec) || sec > 60) {
				*why = "invalid seconds";
				return -1;
			}
			p += 3;
		}
		if (*p == 'Z') {
			have_zone = 1;
			p++;
		} else if (*p == '+' || *p == '-') {
			int zh, zm;
			if (digits(p + 1, 2, &zh) || p[3] != ':' || digits(p + 4, 2, &zm) ||
			    zh > 14 || zm > 59) {
				*why = "invalid zone (+HH:MM)";
				return -1;
			}
			zone = (zh * 3600 + zm * 60) * (*p == '-' ? -1 : 1);
			have_zone = 1;
			p += 6;
		}
	}
	if (*p != '\0') {
		*why = "unexpected text after the time";
		return -1;
	}
	if (have_zone) {
		long long t = days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 + sec;
		*out = (time_t)(t - zone);
		return 0;
	}
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	/* (time_t)-1 is also a valid answer (1969-12-31 23:59:59 UTC): mktime
	 * tells a failure by leaving tm_wday as it was. */
	tm.tm_wday = -1;
	time_t t = mktime(&tm);
	if (t == (time_t)-1 && tm.tm_wday == -1) {
		*why = "time out of range";
		return -1;
	}
	*out = t;
	return 0;
}
