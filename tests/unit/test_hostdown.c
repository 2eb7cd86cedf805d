/*
 * test_hostdown - unit tests for lib/hostdown.c: the table of dead mail
 * hosts, on a clock the test turns by hand (expiry, doubling, the cap,
 * merging records from elsewhere, eviction), and addresses that are not
 * addresses.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "hostdown.h"

static void
test_expiry_and_doubling(void)
{
	struct hostdown t;
	hostdown_init(&t, 0);
	CHECK_INT_EQ(t.max, HOSTDOWN_MAX_ENTRIES);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 1000), 0);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 1000), 60);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 1000), 60);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 1059), 1);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 1060), 0);
	/* Another port, another address: not the same host. */
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 2525, 1000), 0);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.2", 25, 1000), 0);

	/* Failures without a success in between double, expired or not. */
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 5000), 120);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 5120), 240);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 5360), 480);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 6000), 960);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 7000), 1920);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 9000), 3600);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 20000), 3600);
	/* A failure while still down (tried because all were down) keeps the
	 * later of the two ends. */
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 20001), 3600);
	CHECK_INT_EQ(t.count, 1);

	/* A success forgets it: the next failure starts again at 60. */
	CHECK_INT_EQ(hostdown_answered(&t, "192.0.2.1", 25), 1);
	CHECK_INT_EQ(hostdown_answered(&t, "192.0.2.1", 25), 0);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 20001), 0);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 30000), 60);
	CHECK_INT_EQ(t.count, 1);

	/* IPv6 in canonical form. */
	CHECK_INT_EQ(hostdown_failed(&t, "2001:db8::1", 25, 30000), 60);
	CHECK_INT_EQ(hostdown_failed(&t, "::ffff:192.0.2.1", 25, 30000), 60);
	CHECK_INT_EQ(hostdown_remaining(&t, "2001:db8::1", 25, 30010), 50);
	CHECK_INT_EQ(t.count, 3);
	hostdown_free(&t);
}

static void
test_merge(void)
{
	struct hostdown t;
	hostdown_init(&t, 0);
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.1", 25, 60, 100), 0);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 100), 60);
	/* An earlier end does not shorten a later one... */
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.1", 25, 10, 110), 0);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 110), 50);
	/* ...a later one extends it. */
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.1", 25, 300, 110), 0);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 110), 300);
	/* Our own failure doubles the longest period known. */
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 1000), 600);
	/* A failure while a longer merged end holds keeps that end. */
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.2", 25, 3600, 0), 0);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.2", 25, 0), 3600);
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.3", 25, 1000, 0), 0);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.3", 25, 100), 2000);
	/* hostup removes a merged address too. */
	CHECK_INT_EQ(hostdown_answered(&t, "192.0.2.2", 25), 1);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.2", 25, 1), 0);

	/* Out of range durations are refused and change nothing. */
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.9", 25, 0, 0), -1);
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.9", 25, -1, 0), -1);
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.9", 25, 3601, 0), -1);
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.9", 25, 1LL << 62, 0), -1);
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.9", 65536, 60, 0), -1);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.9", 25, 0), 0);
	CHECK_INT_EQ(t.count, 2);
	hostdown_free(&t);
}

static void
test_records(void)
{
	struct hostdown t;
	struct buf out = BUF_INIT;
	hostdown_init(&t, 0);
	hostdown_failed(&t, "192.0.2.1", 25, 0);
	hostdown_merge(&t, "2001:db8::2", 25, 600, 0);
	hostdown_failed(&t, "192.0.2.3", 2525, 0);
	hostdown_failed(&t, "192.0.2.4", 25, 0);
	hostdown_answered(&t, "192.0.2.4", 25);
	hostdown_records(&t, 25, 59, &out);
	CHECK_STR_EQ(buf_cstr(&out), "hostdown 192.0.2.1 1\nhostdown 2001:db8::2 541\n");
	buf_reset(&out);
	hostdown_records(&t, 25, 60, &out);
	CHECK_STR_EQ(buf_cstr(&out), "hostdown 2001:db8::2 540\n");
	buf_reset(&out);
	hostdown_records(&t, 25, 600, &out);
	CHECK_INT_EQ(out.len, 0);
	buf_free(&out);
	hostdown_free(&t);
}

static void
test_eviction(void)
{
	struct hostdown t;
	char a[64];
	hostdown_init(&t, 4);
	for (int i = 1; i <= 4; i++) {
		snprintf(a, sizeof a, "192.0.2.%d", i);
		CHECK_INT_EQ(hostdown_failed(&t, a, 25, 0), 60);
	}
	/* .1 marked again: now .2 is the least recently marked. */
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 25, 1), 120);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.5", 25, 2), 60);
	CHECK_INT_EQ(t.count, 4);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.2", 25, 2), 0);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.1", 25, 2), 119);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.3", 25, 2), 58);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.5", 25, 2), 60);
	/* A merge marks too. */
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.3", 25, 60, 3), 0);
	CHECK_INT_EQ(hostdown_merge(&t, "192.0.2.6", 25, 60, 3), 0);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.4", 25, 3), 0);
	CHECK_INT_EQ(hostdown_remaining(&t, "192.0.2.3", 25, 3), 60);

	/* Many more than the bound: never more entries than max, and the
	 * newest are the ones kept. */
	struct hostdown big;
	hostdown_init(&big, 0);
	for (int i = 0; i < 3 * HOSTDOWN_MAX_ENTRIES; i++) {
		snprintf(a, sizeof a, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		hostdown_failed(&big, a, 25, i);
	}
	CHECK_INT_EQ(big.count, HOSTDOWN_MAX_ENTRIES);
	CHECK_INT_EQ(hostdown_remaining(&big, "10.0.0.0", 25, 3 * HOSTDOWN_MAX_ENTRIES), 0);
	int last = 3 * HOSTDOWN_MAX_ENTRIES - 1;
	snprintf(a, sizeof a, "10.%d.%d.%d", last >> 16 & 255, last >> 8 & 255, last & 255);
	CHECK_INT_EQ(hostdown_remaining(&big, a, 25, last), 60);
	hostdown_free(&big);
	hostdown_free(&t);
}

static void
test_hostile(void)
{
	static const char *const bad[] = {
	    "",
	    "-",
	    "localhost",
	    "mx.example.com",
	    "192.0.2",
	    "192.0.2.256",
	    "192.0.2.1 ",
	    " 192.0.2.1",
	    "192.0.2.1\n",
	    "0192.0.2.1",
	    "192.00.2.1",
	    "192.0.2.1:25",
	    "[192.0.2.1]",
	    "0:0::1",
	    "::0001",
	    "2001:DB8::1",
	    "2001:db8:0:0:0:0:0:1",
	    "fe80::1%eth0",
	    "::FFFF:192.0.2.1",
	    "1:2:3:4:5:6:7:8:9",
	    "%",
	    "::1\0junk", /* stops at the NUL: "::1" is fine, checked below */
	};
	struct hostdown t;
	hostdown_init(&t, 0);
	for (size_t i = 0; i + 1 < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT_EQ(hostdown_valid_address(bad[i]), 0);
		CHECK_INT_EQ(hostdown_failed(&t, bad[i], 25, 0), -1);
		CHECK_INT_EQ(hostdown_merge(&t, bad[i], 25, 60, 0), -1);
		CHECK_INT_EQ(hostdown_answered(&t, bad[i], 25), -1);
		CHECK_INT_EQ(hostdown_remaining(&t, bad[i], 25, 0), 0);
	}
	CHECK_INT_EQ(hostdown_valid_address(bad[sizeof bad / sizeof bad[0] - 1]), 1);
	CHECK_INT_EQ(t.count, 0);

	/* Longer than any address, with and without a valid head. */
	char longest[4096];
	memset(longest, '1', sizeof longest - 1);
	longest[sizeof longest - 1] = '\0';
	CHECK_INT_EQ(hostdown_valid_address(longest), 0);
	CHECK_INT_EQ(hostdown_failed(&t, longest, 25, 0), -1);
	snprintf(longest, sizeof longest, "192.0.2.1");
	memset(longest + 9, ' ', 100);
	longest[109] = '\0';
	CHECK_INT_EQ(hostdown_merge(&t, longest, 25, 60, 0), -1);
	/* The longest valid text (45 characters) fits. */
	const char *v6max = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	CHECK_INT_EQ(strlen(v6max), 45);
	CHECK_INT_EQ(hostdown_valid_address(v6max), 0); /* inet_ntop writes it in hex */
	const char *v4mapped = "::ffff:255.255.255.255";
	CHECK_INT_EQ(hostdown_valid_address(v4mapped), 1);
	CHECK_INT_EQ(hostdown_valid_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
	CHECK_INT_EQ(hostdown_failed(&t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 25, 0), 60);
	CHECK_INT_EQ(hostdown_failed(&t, "192.0.2.1", 65536, 0), -1);
	CHECK_INT_EQ(hostdown_answered(&t, "192.0.2.1", 70000), -1);
	CHECK_INT_EQ(t.count, 1);
	hostdown_free(&t);
	/* Freeing an empty table, twice. */
	hostdown_init(&t, 0);
	hostdown_free(&t);
	hostdown_free(&t);
}

int
main(void)
{
	test_expiry_and_doubling();
	test_merge();
	test_records();
	test_eviction();
	test_hostile();
	return check_report("test_hostdown");
}
