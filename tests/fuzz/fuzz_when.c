/*
 * fuzz_when - libFuzzer target for lib/when.c.
 *
 * The input (up to its first NUL) is parsed as a duration and as a time,
 * and each answer is compared with a small reference parser written here
 * from when.h's grammar alone: both must accept the same strings and give
 * the same seconds.  The process runs in UTC (TZ=UTC0), so local times
 * can be computed by arithmetic too.  A refusal must come with a reason
 * and leave the output alone.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "when.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_when: %s:%d: broken: %s\n", __FILE__, __LINE__,      \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define CENTURY (100LL * 365 * 86400)

/* Durations: number+unit pieces, largest unit first, each once; a bare
 * number only alone; at most a century.  Returns 0 or -1. */
static int
ref_duration(const char *s, long long *out)
{
	long long total = 0, previous = LLONG_MAX;
	if (*s == '\0')
		return -1;
	for (const char *p = s; *p;) {
		const char *start = p;
		long long n = 0;
		while (*p >= '0' && *p <= '9') {
			n = n * 10 + (*p++ - '0');
			if (n > CENTURY)
				return -1;
		}
		if (p == start)
			return -1;
		long long unit;
		switch (*p) {
		case '\0':
			if (start != s)
				return -1;
			unit = 1;
			break;
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 604800;
			break;
		default:
			return -1;
		}
		if (*p)
			p++;
		if (unit >= previous)
			return -1;
		previous = unit;
		total += n * unit;
		if (total > CENTURY)
			return -1;
	}
	*out = total;
	return 0;
}

static int
two(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

static long long
days_from_civil(long long y, int m, int d)
{
	static const int before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	/* Whole years since 1970 the slow way is too slow for year 9999 in a
	 * fuzzer loop, so: days to 0000-03-01 by the Gregorian cycle, plus
	 * the days of the year, counted differently from when.c. */
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	long long yd = before[m - 1] + (m > 2 && leap) + d - 1;
	long long py = y - 1; /* leap days in years before y, from year 0 */
	long long leaps = y == 0 ? 0 : py / 4 - py / 100 + py / 400 + 1;
	long long days0 = y * 365 + leaps + yd; /* days since 0000-01-01 */
	return days0 - 719528;			/* 1970-01-01 is day 719528 */
}

/* Times: "@N", a date with an optional time and zone, or a duration. */
static int
ref_time(const char *s, time_t now, long long *out)
{
	size_t len = strlen(s);
	if (s[0] == '@') {
		if (s[1] == '\0' || len > 18) /* keep clear of the overflow bound */
			return -2;	      /* "don't know": only checked below */
		long long v = 0;
		for (const char *p = s + 1; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (*p - '0');
		}
		*out = v;
		return 0;
	}
	if (len < 10 || s[4] != '-' || s[7] != '-') {
		long long d;
		if (ref_duration(s, &d) == -1)
			return -1;
		*out = (long long)now + d;
		return 0;
	}
	int yh, yl, mo, d, h = 23, mi = 59, sec = 59, zone = 0;
	if (two(s, &yh) || two(s + 2, &yl) || two(s + 5, &mo) || two(s + 8, &d))
		return -1;
	int y = yh * 100 + yl;
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > dm[mo - 1] + (mo == 2 && leap))
		return -1;
	const char *p = s + 10;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (two(p, &h) || p[2] != ':' || two(p + 3, &mi) || h > 23 || mi > 59)
			return -1;
		p += 5;
		sec = 0;
		if (*p == ':') {
			if (two(p + 1, &sec) || sec > 60)
				return -1;
			p += 3;
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int zh, zm;
			if (two(p + 1, &zh) || p[3] != ':' || two(p + 4, &zm) || zh > 14 || zm > 59)
				return -1;
			zone = (zh * 3600 + zm * 60) * (*p == '-' ? -1 : 1);
			p += 6;
		}
	}
	if (*p != '\0')
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("TZ", "UTC0", 1);
	tzset();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256)
		return 0; /* nothing longer means anything more */
	char s[257];
	memcpy(s, data, size);
	s[size] = '\0';
	const time_t now = 1764000000;

	long long secs = -7, want = 0;
	const char *why = NULL;
	int rc = when_parse_duration(s, &secs, &why);
	int ref = ref_duration(s, &want);
	REQUIRE(rc == 0 || rc == -1);
	REQUIRE(rc == ref);
	if (rc == 0) {
		REQUIRE(secs == want);
		REQUIRE(secs >= 0 && secs <= CENTURY);
	} else {
		REQUIRE(why != NULL && why[0] != '\0');
		REQUIRE(secs == -7);
	}

	time_t t = (time_t)-7;
	why = NULL;
	rc = when_parse(s, now, &t, &why);
	long long want_t = 0;
	ref = ref_time(s, now, &want_t);
	REQUIRE(rc == 0 || rc == -1);
	if (rc == -1) {
		REQUIRE(why != NULL && why[0] != '\0');
		REQUIRE(t == (time_t)-7);
	}
	if (ref == -2) {
		/* "@" and many digits: when accepted, exactly those digits. */
		if (rc == 0) {
			REQUIRE(s[1] != '\0' && strspn(s + 1, "0123456789") == strlen(s + 1));
			REQUIRE((unsigned long long)t == strtoull(s + 1, NULL, 10));
		}
	} else {
		if (rc != ref)
			fprintf(stderr, "fuzz_when: \"%s\": when_parse %d, reference %d\n", s, rc,
				ref);
		REQUIRE(rc == ref);
		if (rc == 0) {
			if ((long long)t != want_t)
				fprintf(stderr, "fuzz_when: \"%s\": %lld, reference %lld\n", s,
					(long long)t, want_t);
			REQUIRE((long long)t == want_t);
		}
	}
	return 0;
}
