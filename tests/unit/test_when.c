/*
 * test_when - unit tests for lib/when.c: durations and points in time as
 * users write them, and the many ways of writing them wrong.
 *
 * Local times are checked under two zones set with TZ (POSIX strings,
 * so no tz database is needed): UTC, and Central European time with its
 * summer time, where "the end of the day" and a +01:00 offset must agree
 * with what mktime and plain arithmetic say.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "when.h"

/* Unix seconds of a UTC calendar time, by arithmetic alone (no libc zone
 * code): days from civil, as in H. Hinnant's date algorithms. */
static long long
utc_seconds(int y, int m, int d, int hh, int mm, int ss)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss;
}

static void
set_zone(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* ---- durations ---- */

static void
duration_ok(const char *s, long long want)
{
	long long got = -12345;
	const char *why = NULL;
	int rc = when_parse_duration(s, &got, &why);
	if (rc != 0)
		fprintf(stderr, "duration \"%s\": refused: %s\n", s, why ? why : "(no reason)");
	CHECK_INT_EQ(rc, 0);
	CHECK_INT_EQ(got, want);
}

static void
duration_bad(const char *s)
{
	long long got = -12345;
	const char *why = NULL;
	int rc = when_parse_duration(s, &got, &why);
	if (rc != -1)
		fprintf(stderr, "duration \"%s\": accepted as %lld\n", s, got);
	CHECK_INT_EQ(rc, -1);
	CHECK(why != NULL && why[0] != '\0');
	CHECK_INT_EQ(got, -12345); /* untouched on failure */
}

static void
test_durations(void)
{
	duration_ok("90m", 90 * 60);
	duration_ok("12h", 12 * 3600);
	duration_ok("3d", 3 * 86400);
	duration_ok("2w", 2 * 604800);
	duration_ok("1d12h", 86400 + 12 * 3600);
	duration_ok("1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
	duration_ok("3600s", 3600);
	duration_ok("3600", 3600);
	duration_ok("0", 0);
	duration_ok("0s", 0);
	duration_ok("007m", 7 * 60);
	/* The maximum, a century, and just over it. */
	duration_ok("3153600000", 100LL * 365 * 86400);
	duration_bad("3153600001");
	duration_ok("5214w", 5214LL * 604800);
	duration_bad("5215w");
	duration_ok("36500d", 36500LL * 86400);
	duration_bad("36500d1s");

	duration_bad("");
	duration_bad("5x");
	duration_bad("m");
	duration_bad("-5m");
	duration_bad("+5m");
	duration_bad(" 5m");
	duration_bad("5m ");
	duration_bad("5 m");
	duration_bad("5M"); /* units are lower case: M could be months */
	duration_bad("1.5h");
	duration_bad("5mm");
	duration_bad("1d30"); /* 30 what? */
	duration_bad("1h30s5m");
	duration_bad("30s5m");
	duration_bad("1h1h");
	duration_bad("0x10");
	/* Overflow at every stage: the digits, the multiplication, the sum. */
	duration_bad("99999999999999999w");
	duration_bad("15250284452479w"); /* used to overflow n * 604800 (UB) */
	duration_bad("1525028445247w");
	duration_bad("99999999999999999999999999999999999999");
	duration_bad("9223372036854775807");
	duration_bad("9223372036854775808s");
	duration_bad("5214w9999999999d");
	duration_bad("5214w6d23h59m59s99999s");
}

/* ---- points in time ---- */

static void
time_ok(const char *s, time_t now, long long want)
{
	time_t got = (time_t)-12345;
	const char *why = NULL;
	int rc = when_parse(s, now, &got, &why);
	if (rc != 0)
		fprintf(stderr, "time \"%s\": refused: %s\n", s, why ? why : "(no reason)");
	CHECK_INT_EQ(rc, 0);
	if ((long long)got != want)
		fprintf(stderr, "time \"%s\" (TZ=%s): %lld, expected %lld\n", s, getenv("TZ"),
			(long long)got, want);
	CHECK_INT_EQ((long long)got, want);
}

static void
time_bad(const char *s)
{
	time_t got = (time_t)-12345;
	const char *why = NULL;
	int rc = when_parse(s, 1700000000, &got, &why);
	if (rc != -1)
		fprintf(stderr, "time \"%s\": accepted as %lld\n", s, (long long)got);
	CHECK_INT_EQ(rc, -1);
	CHECK(why != NULL && why[0] != '\0');
	CHECK_INT_EQ((long long)got, -12345);
}

static void
test_times_utc(void)
{
	set_zone("UTC0");
	const time_t now = 1764000000;

	/* A bare date is the end of that (local) day. */
	time_ok("2026-12-01", now, utc_seconds(2026, 12, 1, 23, 59, 59));
	time_ok("2026-12-01T17:00", now, utc_seconds(2026, 12, 1, 17, 0, 0));
	time_ok("2026-12-01 17:00", now, utc_seconds(2026, 12, 1, 17, 0, 0));
	time_ok("2026-12-01T17:00:30", now, utc_seconds(2026, 12, 1, 17, 0, 30));
	time_ok("2026-12-01T17:00:00Z", now, utc_seconds(2026, 12, 1, 17, 0, 0));
	time_ok("2026-12-01T17:00Z", now, utc_seconds(2026, 12, 1, 17, 0, 0));
	time_ok("2026-12-01T00:00:00Z", now, utc_seconds(2026, 12, 1, 0, 0, 0));
	time_ok("2026-12-31T23:59:59Z", now, utc_seconds(2026, 12, 31, 23, 59, 59));
	time_ok("2026-12-01T17:00+01:00", now, utc_seconds(2026, 12, 1, 16, 0, 0));
	time_ok("2026-12-01T17:00:00+01:00", now, utc_seconds(2026, 12, 1, 16, 0, 0));
	time_ok("2026-12-01T17:00:00-05:30", now, utc_seconds(2026, 12, 1, 22, 30, 0));
	time_ok("2026-12-01T00:30:00+01:00", now, utc_seconds(2026, 11, 30, 23, 30, 0));
	time_ok("2026-12-01T17:00+14:00", now, utc_seconds(2026, 12, 1, 3, 0, 0));
	time_ok("2026-12-01T17:00-00:00", now, utc_seconds(2026, 12, 1, 17, 0, 0));
	/* Leap years: every 4, not every 100, but every 400. */
	time_ok("2024-02-29", now, utc_seconds(2024, 2, 29, 23, 59, 59));
	time_ok("2000-02-29T12:00Z", now, utc_seconds(2000, 2, 29, 12, 0, 0));
	time_ok("2028-02-29T00:00Z", now, utc_seconds(2028, 2, 29, 0, 0, 0));
	time_ok("2026-01-31", now, utc_seconds(2026, 1, 31, 23, 59, 59));
	time_ok("2026-04-30", now, utc_seconds(2026, 4, 30, 23, 59, 59));
	/* Unix seconds, as is. */
	time_ok("@1764000000", now, 1764000000);
	time_ok("@0", now, 0);
	/* mktime's answer -1 is a real second, not an error. */
	time_ok("1969-12-31", now, -1);
	time_ok("1969-12-31T23:59:59", now, -1);
	time_ok("1969-12-31T23:59:58", now, -2);
	time_ok("0000-01-01T00:00:00Z", now, utc_seconds(0, 1, 1, 0, 0, 0));
	time_ok("9999-12-31", now, utc_seconds(9999, 12, 31, 23, 59, 59));
	/* Durations are relative to now. */
	time_ok("90m", now, now + 5400);
	time_ok("1d12h", now, now + 129600);
	time_ok("3600", now, now + 3600);
	time_ok("0", now, now);

	time_bad("");
	time_bad("2026-02-30");
	time_bad("2026-02-29"); /* not a leap year */
	time_bad("2025-02-29");
	time_bad("1900-02-29"); /* divisible by 100, not by 400 */
	time_bad("2026-04-31");
	time_bad("2026-13-01");
	time_bad("2026-00-01");
	time_bad("2026-12-00");
	time_bad("2026-12-32");
	time_bad("2026-1-01");
	time_bad("2026-12-1");
	time_bad("2026/12/01");
	time_bad("26-12-01");
	time_bad("2026-12-01x");
	time_bad("2026-12-01 ");
	time_bad("2026-12-01T");
	time_bad("2026-12-01T17");
	time_bad("2026-12-01T17:");
	time_bad("2026-12-01T17:0");
	time_bad("2026-12-01T24:00");
	time_bad("2026-12-01T17:60");
	time_bad("2026-12-01T17:00:61");
	time_bad("2026-12-01T17:00:0");
	time_bad("2026-12-01T17:00:00ZZ");
	time_bad("2026-12-01T17:00:00Z ");
	time_bad("2026-12-01T17:00:00+1:00");
	time_bad("2026-12-01T17:00:00+0100");
	time_bad("2026-12-01T17:00:00+01");
	time_bad("2026-12-01T17:00:00+15:00");
	time_bad("2026-12-01T17:00:00+01:60");
	time_bad("2026-12-01T17:00:00+01:00garbage");
	time_bad("2026-12-01Z");
	time_bad("2026-12-01T-1:00");
	time_bad("2026-12-01T+1:00");
	time_bad("@");
	time_bad("@-1");
	time_bad("@+5");
	time_bad("@ 5");
	time_bad("@12a");
	time_bad("@1764000000 ");
	time_bad("@99999999999999999999999");
	time_bad("5x");
	time_bad("tomorrow");
	time_bad("1d30");
	time_bad("99999999999999999w");
}

static void
test_times_local(void)
{
	/* Central European Time: +01:00 in winter, +02:00 in summer. */
	set_zone("CET-1CEST,M3.5.0,M10.5.0/3");
	const time_t now = 1764000000;

	/* Winter: the end of the local day is 22:59:59 UTC. */
	time_ok("2026-12-01", now, utc_seconds(2026, 12, 1, 22, 59, 59));
	time_ok("2026-12-01T17:00", now, utc_seconds(2026, 12, 1, 16, 0, 0));
	/* Same instant written three ways. */
	time_ok("2026-12-01T17:00:00+01:00", now, utc_seconds(2026, 12, 1, 16, 0, 0));
	time_ok("2026-12-01T16:00:00Z", now, utc_seconds(2026, 12, 1, 16, 0, 0));
	/* An explicit zone ignores the local one. */
	time_ok("2026-07-01T12:00:00Z", now, utc_seconds(2026, 7, 1, 12, 0, 0));
	/* Summer. */
	time_ok("2026-07-01", now, utc_seconds(2026, 7, 1, 21, 59, 59));
	time_ok("2026-07-01 12:00:00", now, utc_seconds(2026, 7, 1, 10, 0, 0));
	time_ok("2024-02-29", now, utc_seconds(2024, 2, 29, 22, 59, 59));
	time_bad("2025-02-29");
	time_bad("2026-02-30");
}

int
main(void)
{
	test_durations();
	test_times_utc();
	test_times_local();
	return check_report("when");
}
