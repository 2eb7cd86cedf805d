/*
 * Unit tests for lib/softcount.c: soft-bounce counts in an LMDB
 * environment (docs/bounce.md, "Soft counts").  Counting distinct
 * campaigns, idempotence, resets, grouped transactions, the value codec
 * against hostile records, and durability across a reopen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "softcount.h"

static char root[] = "/tmp/test_softcount.XXXXXX";

static void
test_counting(void)
{
	struct buf err = BUF_INIT;
	struct softcount_db *db;
	CHECK_INT_EQ(softcount_open(root, &db, &err), 0);
	CHECK_INT_EQ(softcount_add(db, "a@x.test", "c1", 100, &err), 1);
	/* the same campaign again (another failure, or a file applied twice) */
	CHECK_INT_EQ(softcount_add(db, "a@x.test", "c1", 101, &err), 1);
	CHECK_INT_EQ(softcount_add(db, "a@x.test", "c2", 200, &err), 2);
	CHECK_INT_EQ(softcount_add(db, "b@x.test", "c2", 200, &err), 1);
	struct softcount_entry e;
	CHECK_INT_EQ(softcount_get(db, "a@x.test", &e, &err), 1);
	CHECK(e.count == 2 && e.first == 100 && e.last == 200);
	CHECK_STR_EQ(e.campaigns, "c1 c2");
	/* a reset removes it; a second reset finds nothing */
	CHECK_INT_EQ(softcount_reset(db, "a@x.test", &err), 1);
	CHECK_INT_EQ(softcount_reset(db, "a@x.test", &err), 0);
	CHECK_INT_EQ(softcount_get(db, "a@x.test", &e, &err), 0);
	CHECK_INT_EQ(softcount_add(db, "a@x.test", "c1", 300, &err), 1);
	/* only the last SOFTCOUNT_CAMPAIGNS names are kept */
	char name[16];
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof name, "k%d", i);
		CHECK_INT_EQ(softcount_add(db, "many@x.test", name, 1000 + i, &err), i + 1);
	}
	CHECK_INT_EQ(softcount_get(db, "many@x.test", &e, &err), 1);
	CHECK_STR_EQ(e.campaigns, "k12 k13 k14 k15 k16 k17 k18 k19");
	/* refused input */
	CHECK_INT_EQ(softcount_add(db, "", "c1", 1, &err), -1);
	CHECK_INT_EQ(softcount_add(db, "a@x.test", "bad campaign", 1, &err), -1);
	CHECK_INT_EQ(softcount_add(db, "a@x.test", "", 1, &err), -1);
	char longaddr[400];
	memset(longaddr, 'a', sizeof longaddr - 1);
	longaddr[sizeof longaddr - 1] = '\0';
	CHECK_INT_EQ(softcount_add(db, longaddr, "c1", 1, &err), -1);
	/* a grouped transaction: visible inside, durable at commit, gone at abort */
	CHECK_INT_EQ(softcount_begin(db, &err), 0);
	CHECK_INT_EQ(softcount_add(db, "g@x.test", "c1", 5, &err), 1);
	CHECK_INT_EQ(softcount_add(db, "g@x.test", "c2", 6, &err), 2);
	softcount_abort(db);
	CHECK_INT_EQ(softcount_get(db, "g@x.test", &e, &err), 0);
	CHECK_INT_EQ(softcount_begin(db, &err), 0);
	CHECK_INT_EQ(softcount_add(db, "g@x.test", "c1", 5, &err), 1);
	CHECK_INT_EQ(softcount_reset(db, "b@x.test", &err), 1);
	CHECK_INT_EQ(softcount_commit(db, &err), 0);
	softcount_close(db);
	/* reopened: what was committed is there */
	CHECK_INT_EQ(softcount_open(root, &db, &err), 0);
	CHECK_INT_EQ(softcount_get(db, "g@x.test", &e, &err), 1);
	CHECK_INT_EQ(softcount_get(db, "b@x.test", &e, &err), 0);
	CHECK_INT_EQ(softcount_get(db, "a@x.test", &e, &err), 1);
	CHECK(e.count == 1);
	softcount_close(db);
	/* an unusable spool */
	buf_reset(&err);
	CHECK_INT_EQ(softcount_open("/dev/null/nowhere", &db, &err), -1);
	CHECK(strstr(buf_cstr(&err), "softbounce") != NULL);
	buf_free(&err);
}

static void
test_codec(void)
{
	struct softcount_entry e = {3, 10, 20, "c1 c2 c3"}, d;
	struct buf out = BUF_INIT;
	softcount_encode(&e, &out);
	CHECK_STR_EQ(buf_cstr(&out), "1\t3\t10\t20\tc1 c2 c3");
	CHECK_INT_EQ(softcount_decode(out.data, out.len, &d), 0);
	CHECK(d.count == 3 && d.first == 10 && d.last == 20);
	CHECK_STR_EQ(d.campaigns, "c1 c2 c3");
	const char *bad[] = {
		"", "1", "1\t", "2\t3\t10\t20\tc1", "1\t0\t10\t20\tc1", "1\t-3\t10\t20\tc1",
		"1\t3\t20\t10\tc1", "1\t03\t10\t20\tc1", "1\t3\t10\t20\tc1  c2", "1\t3\t10\t20\t c1",
		"1\t3\t10\t20\tc1 ", "1\t3\t10\t20\tc1\tc2", "1\t3\t10\t20\tc/1",
		"1\t99999999999999999999\t10\t20\tc1", "1\t3\t10\t20\ta b c d e f g h i",
		"1\t3\t10\t20", "1\t3\t10\tx\tc1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK_INT_EQ(softcount_decode(bad[i], strlen(bad[i]), &d), -1);
	/* a NUL inside */
	CHECK_INT_EQ(softcount_decode("1\t3\t10\t20\tc\0", 13, &d), -1);
	/* empty campaigns are allowed (none remembered) */
	CHECK_INT_EQ(softcount_decode("1\t1\t0\t0\t", 8, &d), 0);
	buf_free(&out);
}

int
main(void)
{
	if (mkdtemp(root) == NULL)
		return 111;
	test_counting();
	test_codec();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		return 111;
	return check_report("test_softcount");
}
