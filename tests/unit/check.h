/*
 * check.h - the unit-test harness: a handful of macros, no framework.
 *
 * Each tests/unit/test_*.c is one program.  It calls CHECK* as often as it
 * likes and ends main() with `return check_report("name");`, which prints
 * "name: N passed, M failed" and returns non-zero on any failure.  The
 * runner (tests/run-unit) adds the counts up.
 */
#ifndef MAILSHOT_CHECK_H
#define MAILSHOT_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed_count;
static int check_failed_count;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			check_passed_count++;                                                      \
		} else {                                                                           \
			check_failed_count++;                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_INT_EQ(a, b)                                                                         \
	do {                                                                                       \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
		if (check_a_ == check_b_) {                                                        \
			check_passed_count++;                                                      \
		} else {                                                                           \
			check_failed_count++;                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n",          \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);                   \
		}                                                                                  \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
	do {                                                                                       \
		const char *check_a_ = (a), *check_b_ = (b);                                       \
		if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                     \
			check_passed_count++;                                                      \
		} else {                                                                           \
			check_failed_count++;                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s\n  got:      \"%s\"\n"      \
					"  expected: \"%s\"\n",                                    \
				__FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",        \
				check_b_ ? check_b_ : "(null)");                                   \
		}                                                                                  \
	} while (0)

static inline int
check_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed_count, check_failed_count);
	return check_failed_count ? 1 : 0;
}

#endif
