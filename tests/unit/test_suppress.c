/*
 * test_suppress - unit tests for lib/suppress.c, the suppression list.
 *
 * Everything happens in a fresh directory from mkdtemp under /tmp,
 * removed at the end.  LMDB forbids one process opening an environment
 * twice, so the test of a reader beside a writer forks, and the raw LMDB
 * writes below (a corrupt record, a list with a tiny map) happen while no
 * suppress handle is open.
 *
 * The bulk test puts its 200,000 entries on /dev/shm when there is one:
 * each add is a synced transaction, and on a disk that costs a few
 * hundred microseconds of fsync per add, which would measure the disk
 * and make the test take a minute.  A short run on /tmp measures the
 * durable rate instead.  Under valgrind (MAILSHOT_VALGRIND) the counts
 * shrink and the speed floor is not enforced.
 */
#include <errno.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "suppress.h"

static char tmp_root[] = "/tmp/test_suppress.XXXXXX";

static int under_valgrind;

/* Returns a new directory root/name (malloc'd). */
static char *
make_dir(const char *root, const char *name)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s", root, name);
	if (mkdir(path.data, 0755) < 0) {
		perror(path.data);
		exit(1);
	}
	return path.data;
}

static int
remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static void
remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct suppress_db *
open_list(const char *spool, int writable)
{
	struct suppress_db *db = NULL;
	struct buf err = BUF_INIT;
	int rc = suppress_open(spool, writable, &db, &err);
	CHECK_INT_EQ(rc, 0);
	if (rc < 0) {
		fprintf(stderr, "suppress_open: %s\n", buf_cstr(&err));
		exit(1);
	}
	buf_free(&err);
	return db;
}

static int
add(struct suppress_db *db, const char *address, const char *scope, const char *reason,
    const char *campaign, const char *diagnostic)
{
	struct suppress_entry e = {address, scope, reason, 1700000000, campaign, diagnostic};
	struct buf err = BUF_INIT;
	int rc = suppress_add(db, &e, &err);
	if (rc < 0)
		fprintf(stderr, "suppress_add: %s\n", buf_cstr(&err));
	buf_free(&err);
	return rc;
}

/* suppress_add that should be refused: returns whether it was, with a
 * message naming the list. */
static int
refused(struct suppress_db *db, const struct suppress_entry *e, const char *spool)
{
	struct buf err = BUF_INIT;
	int rc = suppress_add(db, e, &err);
	int named = err.len > 0 && strncmp(err.data, spool, strlen(spool)) == 0 &&
		    strstr(err.data, "/suppress: ") != NULL;
	buf_free(&err);
	return rc == -1 && errno == EINVAL && named;
}

static int
count_entry(const struct suppress_entry *e, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static int
count_entries(struct suppress_db *db)
{
	int n = 0;
	CHECK_INT_EQ(suppress_foreach(db, count_entry, &n), 0);
	return n;
}

static int
file_mode(const char *dir, const char *name)
{
	struct buf path = BUF_INIT;
	struct stat st;
	buf_printf(&path, "%s/%s", dir, name);
	int rc = stat(path.data, &st);
	buf_free(&path);
	return rc < 0 ? -1 : (int)(st.st_mode & 07777);
}

/* Writes key -> value straight into spool/suppress with LMDB, creating
 * the environment with map size mapsize (0: LMDB's default) if needed. */
static void
raw_put(const char *spool, size_t mapsize, const char *key, const char *value)
{
	struct buf path = BUF_INIT;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	buf_printf(&path, "%s/suppress", spool);
	mkdir(path.data, 0750);
	int rc = mdb_env_create(&env);
	if (rc == 0 && mapsize)
		rc = mdb_env_set_mapsize(env, mapsize);
	if (rc == 0)
		rc = mdb_env_open(env, path.data, 0, 0640);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0 && (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0) {
		MDB_val k = {strlen(key), (void *)key}, v = {strlen(value), (void *)value};
		rc = mdb_put(txn, dbi, &k, &v, 0);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
	}
	if (rc) {
		fprintf(stderr, "raw_put %s: %s\n", path.data, mdb_strerror(rc));
		exit(1);
	}
	mdb_env_close(env);
	buf_free(&path);
}

static void
test_decoder(void)
{
	struct buf storage = BUF_INIT;
	struct suppress_entry e = {"kept", "kept", NULL, 0, NULL, NULL};
	static const char good[] = "1\thard-bounce\t1700000000\tspring%092024\t"
				   "550 5.1.1 <a@b>%0D%0A  no such user %25 %c3%a9";

	/* Decoded strings land after whatever storage held already. */
	buf_append_str(&storage, "prefix");
	CHECK_INT_EQ(suppress_decode_value(good, strlen(good), &e, &storage), 0);
	CHECK_STR_EQ(e.reason, "hard-bounce");
	CHECK_INT_EQ(e.when, 1700000000);
	CHECK_STR_EQ(e.campaign, "spring\t2024");
	CHECK_STR_EQ(e.diagnostic, "550 5.1.1 <a@b>\r\n  no such user % \xc3\xa9");
	CHECK_STR_EQ(e.address, "kept");
	CHECK_STR_EQ(e.scope, "kept");
	CHECK(strncmp(storage.data, "prefix", 6) == 0);
	CHECK(e.reason == storage.data + 6);

	static const char empty_fields[] = "1\tmanual\t0\t\t";
	CHECK_INT_EQ(suppress_decode_value(empty_fields, strlen(empty_fields), &e, &storage), 0);
	CHECK_STR_EQ(e.reason, "manual");
	CHECK_INT_EQ(e.when, 0);
	CHECK_STR_EQ(e.campaign, "");
	CHECK_STR_EQ(e.diagnostic, "");

	if (sizeof(time_t) >= 8) {
		static const char latest[] = "1\tcomplaint\t9223372036854775807\tc\td";
		CHECK_INT_EQ(suppress_decode_value(latest, strlen(latest), &e, &storage), 0);
		CHECK(e.when == (time_t)INT64_MAX);
	}

	/* Each of these is refused, and storage is left as it was. */
	static const char *const bad[] = {
	    "",
	    "1",
	    "1\t",
	    "1\thard-bounce",
	    "1\thard-bounce\t1700000000",
	    "1\thard-bounce\t1700000000\tcampaign",	  /* truncated: 4 fields */
	    "2\thard-bounce\t1700000000\tc\td",		  /* unknown version */
	    "10\thard-bounce\t1700000000\tc\td",	  /* unknown version */
	    "01\thard-bounce\t1700000000\tc\td",	  /* not "1" */
	    " 1\thard-bounce\t1700000000\tc\td",	  /* not "1" */
	    "1\thard-bounce\t1700000000\tc\td\textra",	  /* a field too many */
	    "1\tbounced\t1700000000\tc\td",		  /* unknown reason */
	    "1\tHard-Bounce\t1700000000\tc\td",		  /* reasons are exact */
	    "1\t\t1700000000\tc\td",			  /* empty reason */
	    "1\thard-bounce\t\tc\td",			  /* empty time */
	    "1\thard-bounce\t01700000000\tc\td",	  /* leading zero */
	    "1\thard-bounce\t-1\tc\td",			  /* sign */
	    "1\thard-bounce\t+1\tc\td",			  /* sign */
	    "1\thard-bounce\t17e8\tc\td",		  /* not decimal */
	    "1\thard-bounce\t1700000000 \tc\td",	  /* trailing space */
	    "1\thard-bounce\t%31700000000\tc\td",	  /* escapes not in time */
	    "1\thard-bounce\t9223372036854775808\tc\td",  /* past time_t */
	    "1\thard-bounce\t99999999999999999999\tc\td", /* 20 digits */
	    "1\thard-bounce\t1700000000\tc\td%",	  /* broken escape */
	    "1\thard-bounce\t1700000000\tc\td%4",	  /* broken escape */
	    "1\thard-bounce\t1700000000\tc\t%GGd",	  /* not hex */
	    "1\thard-bounce\t1700000000\tc\t% 9d",	  /* not hex */
	    "1\thard-bounce\t1700000000\tc\td%00",	  /* escaped NUL */
	    "1\thard-bounce\t1700000000\tc\tline\nbreak", /* raw LF */
	    "1\thard-bounce\t1700000000\tc\tline\rbreak", /* raw CR */
	    "1\thard-bounce\t1700000000\tc\tdel\x7f",	  /* raw DEL */
	    "1\thard-bounce\t1700000000\tc\x01\td",	  /* raw control */
	    "1\thard-bounce\t1700000000\tc\td\n",	  /* a trailing newline */
	};
	size_t before = storage.len;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = suppress_decode_value(bad[i], strlen(bad[i]), &e, &storage);
		if (rc != -1)
			fprintf(stderr, "decoder accepted bad record %zu\n", i);
		CHECK_INT_EQ(rc, -1);
		CHECK_INT_EQ(storage.len, before);
	}

	/* A NUL inside the record, which strlen-based code would not see. */
	static const char nul[] = "1\thard-bounce\t1700000000\tc\td\0x";
	CHECK_INT_EQ(suppress_decode_value(nul, sizeof nul - 1, &e, &storage), -1);

	/* Field bounds: campaign 255 bytes, diagnostic 1000, record 4096. */
	struct buf record = BUF_INIT;
	buf_append_str(&record, "1\tmanual\t1\t");
	for (int i = 0; i < 255; i++)
		buf_append_char(&record, 'c');
	buf_append_char(&record, '\t');
	for (int i = 0; i < 1000; i++)
		buf_append_str(&record, "%25");
	CHECK_INT_EQ(suppress_decode_value(record.data, record.len, &e, &storage), 0);
	CHECK_INT_EQ(strlen(e.campaign), 255);
	CHECK_INT_EQ(strlen(e.diagnostic), 1000);
	buf_append_char(&record, 'x');
	CHECK_INT_EQ(suppress_decode_value(record.data, record.len, &e, &storage), -1);
	buf_reset(&record);
	buf_append_str(&record, "1\tmanual\t1\t");
	for (int i = 0; i < 256; i++)
		buf_append_char(&record, 'c');
	buf_append_str(&record, "\td");
	CHECK_INT_EQ(suppress_decode_value(record.data, record.len, &e, &storage), -1);
	buf_reset(&record);
	buf_append_str(&record, "1\tmanual\t1\tc\t");
	while (record.len <= 4096)
		buf_append_char(&record, 'd');
	CHECK_INT_EQ(suppress_decode_value(record.data, record.len, &e, &storage), -1);

	buf_free(&record);
	buf_free(&storage);
}

static void
test_missing(const char *root)
{
	char *spool = make_dir(root, "missing");
	struct suppress_db *db;
	struct suppress_entry e;
	struct buf err = BUF_INIT;
	struct buf path = BUF_INIT;
	struct stat st;

	/* No suppress/ at all: an empty list, and nothing is created. */
	db = open_list(spool, 0);
	CHECK_INT_EQ(suppress_check(db, "someone@example.com", "newsletter", &e), 0);
	CHECK_INT_EQ(count_entries(db), 0);
	struct suppress_entry entry = {"someone@example.com", "*", "manual", 1, "", ""};
	CHECK_INT_EQ(suppress_add(db, &entry, &err), -1);
	CHECK(strstr(buf_cstr(&err), "/suppress: list opened read-only") != NULL);
	buf_reset(&err);
	suppress_close(db);
	buf_printf(&path, "%s/suppress", spool);
	CHECK(stat(path.data, &st) < 0 && errno == ENOENT);

	/* A directory the writer made but has not filled yet: still empty,
	 * and the reader leaves no lock.mdb behind. */
	CHECK_INT_EQ(mkdir(path.data, 0750), 0);
	db = open_list(spool, 0);
	CHECK_INT_EQ(suppress_check(db, "someone@example.com", NULL, &e), 0);
	suppress_close(db);
	CHECK_INT_EQ(file_mode(path.data, "lock.mdb"), -1);
	rmdir(path.data);

	/* A spool that does not exist at all, read-only: empty too. */
	buf_reset(&path);
	buf_printf(&path, "%s/nonexistent", spool);
	db = open_list(path.data, 0);
	CHECK_INT_EQ(suppress_check(db, "someone@example.com", NULL, &e), 0);
	suppress_close(db);

	/* ... but opening it for writing fails, naming the path. */
	db = NULL;
	CHECK_INT_EQ(suppress_open(path.data, 1, &db, &err), -1);
	CHECK(db == NULL);
	struct buf want = BUF_INIT;
	buf_printf(&want, "%s/suppress: mkdir: No such file or directory", path.data);
	CHECK_STR_EQ(buf_cstr(&err), want.data);

	/* suppress/ that is a file: an error for writers and readers alike. */
	buf_reset(&path);
	buf_printf(&path, "%s/suppress", spool);
	FILE *f = fopen(path.data, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	buf_reset(&err);
	CHECK_INT_EQ(suppress_open(spool, 1, &db, &err), -1);
	buf_reset(&want);
	buf_printf(&want, "%s/suppress: mdb_env_open: Not a directory", spool);
	CHECK_STR_EQ(buf_cstr(&err), want.data);
	buf_reset(&err);
	CHECK_INT_EQ(suppress_open(spool, 0, &db, &err), -1);
	CHECK(strncmp(buf_cstr(&err), path.data, path.len) == 0);
	unlink(path.data);

	/* Permissions mean nothing to root; elsewhere, an unreadable list. */
	if (geteuid() != 0) {
		db = open_list(spool, 1);
		suppress_close(db);
		chmod(path.data, 0);
		buf_reset(&err);
		CHECK_INT_EQ(suppress_open(spool, 0, &db, &err), -1);
		CHECK(strstr(buf_cstr(&err), "/suppress: ") != NULL);
		CHECK(strstr(buf_cstr(&err), "Permission denied") != NULL);
		chmod(path.data, 0750);
	}

	buf_free(&want);
	buf_free(&path);
	buf_free(&err);
	free(spool);
}

struct collected {
	struct buf keys; /* "address scope reason\n" per entry */
	int stop_after;	 /* 0: never */
	int seen;
};

static int
collect(const struct suppress_entry *e, void *ctx)
{
	struct collected *c = ctx;
	buf_printf(&c->keys, "%s %s %s\n", e->address, e->scope, e->reason);
	c->seen++;
	return c->stop_after && c->seen >= c->stop_after;
}

static void
test_basic(const char *root)
{
	char *spool = make_dir(root, "basic");
	struct suppress_db *db = open_list(spool, 1);
	struct suppress_entry e;
	struct buf path = BUF_INIT;

	buf_printf(&path, "%s/suppress", spool);
	CHECK_INT_EQ(file_mode(spool, "suppress"), 0750);
	CHECK_INT_EQ(file_mode(path.data, "data.mdb"), 0640);
	CHECK_INT_EQ(file_mode(path.data, "lock.mdb"), 0660);

	/* Everything suppressed: "*", whatever the type, whatever the case. */
	CHECK_INT_EQ(
	    add(db, "Jane.Doe@Example.COM", "*", "hard-bounce", "spring", "550 5.1.1 user unknown"),
	    0);
	CHECK_INT_EQ(suppress_check(db, "jane.doe@example.com", NULL, &e), 1);
	CHECK_STR_EQ(e.address, "jane.doe@example.com");
	CHECK_STR_EQ(e.scope, "*");
	CHECK_STR_EQ(e.reason, "hard-bounce");
	CHECK_INT_EQ(e.when, 1700000000);
	CHECK_STR_EQ(e.campaign, "spring");
	CHECK_STR_EQ(e.diagnostic, "550 5.1.1 user unknown");
	CHECK_INT_EQ(suppress_check(db, "JANE.DOE@EXAMPLE.COM", "survey", &e), 1);
	CHECK_INT_EQ(suppress_check(db, "jane.doe@Example.Com", "", &e), 1);
	CHECK_INT_EQ(suppress_check(db, "jane.doe@example.com", "*", NULL), 1);
	CHECK_INT_EQ(suppress_check(db, "jane.doe@example.org", NULL, &e), 0);
	CHECK_INT_EQ(suppress_check(db, "jane.doe@example.co", NULL, &e), 0);
	CHECK_INT_EQ(suppress_check(db, "ane.doe@example.com", NULL, &e), 0);

	/* One type only: unsubscribed from the newsletter, still surveyed. */
	CHECK_INT_EQ(add(db, "reader@example.org", "newsletter", "unsubscribe", "", ""), 0);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "newsletter", &e), 1);
	CHECK_STR_EQ(e.scope, "newsletter");
	CHECK_STR_EQ(e.reason, "unsubscribe");
	CHECK_STR_EQ(e.campaign, "");
	CHECK_INT_EQ(suppress_check(db, "Reader@Example.ORG", "newsletter", &e), 1);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "survey", &e), 0);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", NULL, &e), 0);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "", &e), 0);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "newsletter2", &e), 0);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "newslette", &e), 0);
	/* Types that cannot be scopes are simply not found. */
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "news\tletter", &e), 0);
	char long_type[200];
	memset(long_type, 'x', sizeof long_type - 1);
	long_type[sizeof long_type - 1] = '\0';
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", long_type, &e), 0);

	/* Then a complaint: "*" now covers every type, and wins. */
	CHECK_INT_EQ(add(db, "reader@example.org", "*", "complaint", "autumn", "arf"), 0);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "survey", &e), 1);
	CHECK_STR_EQ(e.scope, "*");
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "newsletter", &e), 1);
	CHECK_STR_EQ(e.scope, "*");
	CHECK_STR_EQ(e.reason, "complaint");

	/* Adding the same key again replaces the entry. */
	CHECK_INT_EQ(count_entries(db), 3);
	CHECK_INT_EQ(add(db, "JANE.DOE@example.com", "*", "manual", "", "by hand"), 0);
	CHECK_INT_EQ(count_entries(db), 3);
	CHECK_INT_EQ(suppress_check(db, "jane.doe@example.com", NULL, &e), 1);
	CHECK_STR_EQ(e.reason, "manual");
	CHECK_STR_EQ(e.diagnostic, "by hand");
	CHECK_STR_EQ(e.campaign, "");

	/* Every reason in the list is accepted. */
	static const char *const reasons[] = {"hard-bounce", "soft-bounce-limit", "complaint",
					      "unsubscribe", "manual"};
	for (size_t i = 0; i < 5; i++) {
		CHECK_INT_EQ(add(db, "reasons@example.net", reasons[i], reasons[i], "", ""), 0);
		CHECK_INT_EQ(suppress_check(db, "reasons@example.net", reasons[i], &e), 1);
		CHECK_STR_EQ(e.reason, reasons[i]);
	}

	/* Refusals, each with a message naming the list; none adds. */
	char long_scope[66], long_campaign[257];
	memset(long_scope, 's', 65);
	long_scope[65] = '\0';
	memset(long_campaign, 'c', 256);
	long_campaign[256] = '\0';
	struct suppress_entry bad[] = {
	    {"x@example.com", "*", "bounced", 1, "", ""},
	    {"x@example.com", "*", "", 1, "", ""},
	    {"x@example.com", "*", NULL, 1, "", ""},
	    {"x@example.com", "*", "Hard-Bounce", 1, "", ""},
	    {"x@example.com", "", "manual", 1, "", ""},
	    {"x@example.com", NULL, "manual", 1, "", ""},
	    {"x@example.com", "news\tletter", "manual", 1, "", ""},
	    {"x@example.com", "news\nletter", "manual", 1, "", ""},
	    {"x@example.com", "news\rletter", "manual", 1, "", ""},
	    {"x@example.com", long_scope, "manual", 1, "", ""},
	    {"x@example.com", "*", "manual", -1, "", ""},
	    {"x@example.com", "*", "manual", 1, long_campaign, ""},
	    {"no-at-sign", "*", "manual", 1, "", ""},
	    {"", "*", "manual", 1, "", ""},
	    {NULL, "*", "manual", 1, "", ""},
	    {"x\t@example.com", "*", "manual", 1, "", ""},
	    {"x@example.com\r\nRCPT TO:<y@example.com>", "*", "manual", 1, "", ""},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int ok = refused(db, &bad[i], spool);
		if (!ok)
			fprintf(stderr, "bad entry %zu was not refused properly\n", i);
		CHECK(ok);
	}
	CHECK_INT_EQ(count_entries(db), 8);
	/* Boundaries: 64-byte scope and 255-byte campaign are fine. */
	long_scope[64] = '\0';
	long_campaign[255] = '\0';
	CHECK_INT_EQ(add(db, "x@example.com", long_scope, "manual", long_campaign, ""), 0);
	CHECK_INT_EQ(suppress_check(db, "x@example.com", long_scope, &e), 1);
	CHECK_STR_EQ(e.campaign, long_campaign);
	CHECK_INT_EQ(suppress_clear(db, "x@example.com", NULL, NULL), 1);

	/* foreach: key order is address bytes, then TAB, then scope. */
	struct collected c = {BUF_INIT, 0, 0};
	CHECK_INT_EQ(suppress_foreach(db, collect, &c), 0);
	CHECK_STR_EQ(buf_cstr(&c.keys), "jane.doe@example.com * manual\n"
					"reader@example.org * complaint\n"
					"reader@example.org newsletter unsubscribe\n"
					"reasons@example.net complaint complaint\n"
					"reasons@example.net hard-bounce hard-bounce\n"
					"reasons@example.net manual manual\n"
					"reasons@example.net soft-bounce-limit soft-bounce-limit\n"
					"reasons@example.net unsubscribe unsubscribe\n");
	buf_reset(&c.keys);
	c.seen = 0;
	c.stop_after = 2;
	CHECK_INT_EQ(suppress_foreach(db, collect, &c), 0);
	CHECK_INT_EQ(c.seen, 2);
	buf_free(&c.keys);

	/* clear: one scope, then all scopes of an address. */
	CHECK_INT_EQ(suppress_clear(db, "reader@example.org", "newsletter", NULL), 1);
	CHECK_INT_EQ(suppress_clear(db, "reader@example.org", "newsletter", NULL), 0);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "survey", &e), 1);
	CHECK_INT_EQ(suppress_clear(db, "READER@example.org", "*", NULL), 1);
	CHECK_INT_EQ(suppress_check(db, "reader@example.org", "survey", &e), 0);
	CHECK_INT_EQ(suppress_clear(db, "reasons@Example.NET", NULL, NULL), 5);
	CHECK_INT_EQ(suppress_clear(db, "reasons@example.net", NULL, NULL), 0);
	CHECK_INT_EQ(suppress_clear(db, "nobody@example.net", NULL, NULL), 0);
	CHECK_INT_EQ(suppress_clear(db, "", NULL, NULL), 0);
	struct buf err = BUF_INIT;
	CHECK_INT_EQ(suppress_clear(db, "jane.doe@example.com", "", &err), -1);
	CHECK(strstr(buf_cstr(&err), "/suppress: ") != NULL);
	buf_reset(&err);
	CHECK_INT_EQ(suppress_clear(db, "jane.doe@example.com", "a\nb", &err), -1);
	CHECK_INT_EQ(count_entries(db), 1);

	/*
	 * Many scopes of one address span several B-tree pages, between
	 * neighbours that share a prefix of the address but not "address\t".
	 */
	CHECK_INT_EQ(add(db, "a@x.c", "*", "manual", "", ""), 0);
	CHECK_INT_EQ(add(db, "a@x.co", "*", "manual", "", ""), 0);
	CHECK_INT_EQ(add(db, "a@x.c.d", "*", "manual", "", ""), 0);
	CHECK_INT_EQ(add(db, "a@x.b", "*", "manual", "", ""), 0);
	for (int i = 0; i < 300; i++) {
		char scope[32];
		snprintf(scope, sizeof scope, "list-%03d", i);
		CHECK_INT_EQ(
		    add(db, "many@x.com", scope, "unsubscribe", "", "padding the record a bit"), 0);
	}
	CHECK_INT_EQ(add(db, "many@x.co", "*", "manual", "", ""), 0);
	CHECK_INT_EQ(add(db, "many@x.comm", "*", "manual", "", ""), 0);
	CHECK_INT_EQ(count_entries(db), 307);
	CHECK_INT_EQ(suppress_check(db, "many@x.com", "list-150", &e), 1);
	CHECK_INT_EQ(suppress_clear(db, "many@x.com", NULL, NULL), 300);
	CHECK_INT_EQ(suppress_check(db, "many@x.com", "list-150", &e), 0);
	CHECK_INT_EQ(count_entries(db), 7);
	CHECK_INT_EQ(suppress_check(db, "many@x.co", NULL, &e), 1);
	CHECK_INT_EQ(suppress_check(db, "many@x.comm", NULL, &e), 1);
	CHECK_INT_EQ(suppress_clear(db, "a@x.c", NULL, NULL), 1);
	CHECK_INT_EQ(suppress_check(db, "a@x.co", NULL, &e), 1);
	CHECK_INT_EQ(suppress_check(db, "a@x.c.d", NULL, &e), 1);
	CHECK_INT_EQ(suppress_check(db, "a@x.b", NULL, &e), 1);
	CHECK_INT_EQ(suppress_check(db, "a@x.c", NULL, &e), 0);

	/* With fold_local 0 the local part's case is part of the key (the
	 * domain's never is). */
	suppress_set_fold_local(db, 0);
	CHECK_INT_EQ(add(db, "Case.Sensitive@EXAMPLE.com", "*", "manual", "", ""), 0);
	CHECK_INT_EQ(suppress_check(db, "Case.Sensitive@example.COM", NULL, &e), 1);
	CHECK_STR_EQ(e.address, "Case.Sensitive@example.com");
	CHECK_INT_EQ(suppress_check(db, "case.sensitive@example.com", NULL, &e), 0);
	CHECK_INT_EQ(suppress_check(db, "CASE.SENSITIVE@example.com", NULL, &e), 0);
	suppress_set_fold_local(db, 1);
	CHECK_INT_EQ(suppress_check(db, "Case.Sensitive@example.com", NULL, &e), 0);
	CHECK_INT_EQ(suppress_check(db, "Jane.Doe@example.com", NULL, &e), 1);

	suppress_close(db);

	/* A read-only handle refuses to write, naming the list. */
	db = open_list(spool, 0);
	buf_reset(&err);
	struct suppress_entry entry = {"y@example.com", "*", "manual", 1, "", ""};
	CHECK_INT_EQ(suppress_add(db, &entry, &err), -1);
	CHECK(strstr(buf_cstr(&err), "/suppress: list opened read-only") != NULL);
	CHECK_INT_EQ(suppress_clear(db, "jane.doe@example.com", NULL, NULL), -1);
	CHECK_INT_EQ(suppress_check(db, "jane.doe@example.com", NULL, &e), 1);
	suppress_close(db);

	buf_free(&err);
	buf_free(&path);
	free(spool);
}

static void
test_hostile_and_persistence(const char *root)
{
	char *spool = make_dir(root, "hostile");
	struct suppress_db *db = open_list(spool, 1);
	struct suppress_entry e;
	char diagnostic[256], campaign[] = "c\t1\r\n%25%\x01\x7f\xff";

	/* Every byte but NUL, in a diagnostic. */
	for (int i = 1; i < 256; i++)
		diagnostic[i - 1] = (char)i;
	diagnostic[255] = '\0';
	CHECK_INT_EQ(add(db, "hostile@example.com", "*", "hard-bounce", campaign, diagnostic), 0);
	CHECK_INT_EQ(suppress_check(db, "hostile@example.com", NULL, &e), 1);
	CHECK_STR_EQ(e.diagnostic, diagnostic);
	CHECK_STR_EQ(e.campaign, campaign);

	/* A scope with 8-bit bytes and spaces is a scope like any other. */
	CHECK_INT_EQ(add(db, "hostile@example.com", "Newsletter \xc3\xa9t\xc3\xa9", "unsubscribe",
			 "", "%0A%%"),
		     0);
	CHECK_INT_EQ(suppress_check(db, "hostile@example.com", "Newsletter \xc3\xa9t\xc3\xa9", &e),
		     1);
	CHECK_STR_EQ(e.scope, "*"); /* "*" wins */
	CHECK_INT_EQ(suppress_clear(db, "hostile@example.com", "*", NULL), 1);
	CHECK_INT_EQ(suppress_check(db, "hostile@example.com", "Newsletter \xc3\xa9t\xc3\xa9", &e),
		     1);
	CHECK_STR_EQ(e.diagnostic, "%0A%%");
	CHECK_INT_EQ(add(db, "hostile@example.com", "*", "hard-bounce", campaign, diagnostic), 0);

	/* An overlong diagnostic is cut to 1000 bytes, not between the
	 * bytes of one UTF-8 character. */
	struct buf long_diagnostic = BUF_INIT;
	buf_append_char(&long_diagnostic, 'x');
	for (int i = 0; i < 1000; i++)
		buf_append_str(&long_diagnostic, "\xc3\xa9");
	CHECK_INT_EQ(add(db, "long@example.com", "*", "hard-bounce", "", long_diagnostic.data), 0);
	CHECK_INT_EQ(suppress_check(db, "long@example.com", NULL, &e), 1);
	CHECK_INT_EQ(strlen(e.diagnostic), 999);
	CHECK(strncmp(e.diagnostic, long_diagnostic.data, 999) == 0);
	buf_reset(&long_diagnostic);
	for (int i = 0; i < 1001; i++)
		buf_append_char(&long_diagnostic, '%');
	CHECK_INT_EQ(add(db, "long2@example.com", "*", "hard-bounce", "", long_diagnostic.data), 0);
	CHECK_INT_EQ(suppress_check(db, "long2@example.com", NULL, &e), 1);
	CHECK_INT_EQ(strlen(e.diagnostic), 1000);
	buf_free(&long_diagnostic);
	suppress_close(db);

	/* Persistence: all of it is there after close and reopen. */
	db = open_list(spool, 0);
	CHECK_INT_EQ(suppress_check(db, "Hostile@Example.com", "any", &e), 1);
	CHECK_STR_EQ(e.address, "hostile@example.com");
	CHECK_STR_EQ(e.diagnostic, diagnostic);
	CHECK_STR_EQ(e.campaign, campaign);
	CHECK_INT_EQ(suppress_check(db, "hostile@example.com", "Newsletter \xc3\xa9t\xc3\xa9", &e),
		     1);
	CHECK_STR_EQ(e.scope, "*");
	CHECK_INT_EQ(count_entries(db), 4);
	suppress_close(db);

	db = open_list(spool, 1);
	CHECK_INT_EQ(suppress_clear(db, "long@example.com", NULL, NULL), 1);
	suppress_close(db);
	db = open_list(spool, 0);
	CHECK_INT_EQ(suppress_check(db, "long@example.com", NULL, &e), 0);
	CHECK_INT_EQ(suppress_check(db, "long2@example.com", NULL, &e), 1);
	suppress_close(db);

	/* A record of a later version, or a broken one, is an error for
	 * check and foreach: never "not suppressed". */
	raw_put(spool, 0, "future@example.com\t*", "2\thard-bounce\t1\tc\td\tnew field");
	raw_put(spool, 0, "broken@example.com\tsurvey", "1\thard-bounce\t1\tc");
	raw_put(spool, 0, "nokey@example.com", "1\thard-bounce\t1\tc\td");
	db = open_list(spool, 0);
	errno = 0;
	CHECK_INT_EQ(suppress_check(db, "future@example.com", NULL, &e), -1);
	CHECK_INT_EQ(errno, EBADMSG);
	CHECK_INT_EQ(suppress_check(db, "broken@example.com", NULL, &e), 0);
	errno = 0;
	CHECK_INT_EQ(suppress_check(db, "broken@example.com", "survey", &e), -1);
	CHECK_INT_EQ(errno, EBADMSG);
	int n = 0;
	errno = 0;
	CHECK_INT_EQ(suppress_foreach(db, count_entry, &n), -1);
	CHECK_INT_EQ(errno, EBADMSG);
	CHECK_INT_EQ(n, 0); /* "broken@..." sorts first */
	/* The handle still works after a refusal. */
	CHECK_INT_EQ(suppress_check(db, "hostile@example.com", NULL, &e), 1);
	CHECK_STR_EQ(e.diagnostic, diagnostic);
	suppress_close(db);

	free(spool);
}

/* One line from the other process. */
static void
expect(int fd, char want)
{
	char c = 0;
	if (read(fd, &c, 1) != 1 || c != want) {
		fprintf(stderr, "protocol: wanted '%c', got '%c'\n", want, c);
		exit(1);
	}
}

static void
say(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		exit(1);
}

/*
 * A reader in this process beside a writer in a child.  The list starts
 * with a 64 KiB map, so the writer has to grow it several times while
 * the reader holds a handle on the smaller map: the reader must adopt
 * the new size (MDB_MAP_RESIZED) and see every committed add.
 */
static void
test_reader_beside_writer(const char *root)
{
	char *spool = make_dir(root, "concurrent");
	int to_child[2], to_parent[2];
	const int count = 3000;

	raw_put(spool, 64 * 1024, "first@example.com\t*", "1\tmanual\t1\t\t");
	if (pipe(to_child) < 0 || pipe(to_parent) < 0) {
		perror("pipe");
		exit(1);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		int failed = 0;
		struct suppress_db *db;
		struct buf err = BUF_INIT;
		if (suppress_open(spool, 1, &db, &err) < 0) {
			fprintf(stderr, "child: %s\n", err.data);
			_exit(1);
		}
		say(to_parent[1], 'r');
		expect(to_child[0], 'g');
		for (int i = 0; i < count; i++) {
			char address[64];
			snprintf(address, sizeof address, "writer%04d@example.com", i);
			failed += add(db, address, "*", "hard-bounce", "concurrent",
				      "550 5.1.1 growing the map") != 0;
		}
		say(to_parent[1], 'd');
		expect(to_child[0], 'q');
		suppress_close(db);
		buf_free(&err);
		exit(failed ? 1 : 0); /* exit, not _exit: coverage data */
	}

	struct suppress_entry e;
	expect(to_parent[0], 'r');
	struct suppress_db *db = open_list(spool, 0);
	CHECK_INT_EQ(suppress_check(db, "first@example.com", NULL, &e), 1);
	CHECK_INT_EQ(suppress_check(db, "writer0000@example.com", NULL, &e), 0);
	say(to_child[1], 'g');
	expect(to_parent[0], 'd');
	int found = 0;
	for (int i = 0; i < count; i++) {
		char address[64];
		snprintf(address, sizeof address, "Writer%04d@example.com", i);
		found += suppress_check(db, address, "any", &e) == 1;
	}
	CHECK_INT_EQ(found, count);
	CHECK_INT_EQ(count_entries(db), count + 1);
	CHECK_STR_EQ(e.diagnostic, "550 5.1.1 growing the map");
	say(to_child[1], 'q');
	int status;
	CHECK_INT_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Still a working handle after the writer has gone. */
	CHECK_INT_EQ(suppress_check(db, "writer2999@example.com", NULL, &e), 1);
	suppress_close(db);

	/* The map the writer grew is the map the next writer starts with. */
	MDB_env *env;
	MDB_envinfo info;
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/suppress", spool);
	CHECK_INT_EQ(mdb_env_create(&env), 0);
	CHECK_INT_EQ(mdb_env_open(env, path.data, MDB_RDONLY, 0), 0);
	CHECK_INT_EQ(mdb_env_info(env, &info), 0);
	CHECK(info.me_mapsize > 64 * 1024);
	mdb_env_close(env);
	buf_free(&path);

	close(to_child[0]);
	close(to_child[1]);
	close(to_parent[0]);
	close(to_parent[1]);
	free(spool);
}

static void
test_bulk(const char *root)
{
	struct suppress_db *db;
	struct suppress_entry e;
	char fast_template[] = "/dev/shm/test_suppress.XXXXXX";
	char *fast_root = mkdtemp(fast_template);
	char *spool = make_dir(fast_root ? fast_root : root, "bulk");
	const int count = under_valgrind ? 20000 : 200000;
	char address[64];
	int failed = 0, hits = 0, misses = 0;
	double start, adds, checks;

	db = open_list(spool, 1);
	start = now();
	for (int i = 0; i < count; i++) {
		snprintf(address, sizeof address, "recipient%07d@domain%03d.example", i, i % 997);
		failed +=
		    add(db, address, i % 10 ? "*" : "newsletter", "hard-bounce", "bulk-campaign",
			"550 5.1.1 <recipient@domain.example>: Recipient address rejected") != 0;
	}
	adds = count / (now() - start);
	CHECK_INT_EQ(failed, 0);
	suppress_close(db);

	/*
	 * Read as enqueue does: a read-only handle, a type, mixed case, half
	 * hits and half misses.  A slow pass is tried again (up to three in
	 * all) so that a busy machine does not fail the speed floor.
	 */
	db = open_list(spool, 0);
	checks = 0;
	for (int pass = 0; pass == 0 || (pass < 3 && !under_valgrind && checks < 200000); pass++) {
		hits = misses = 0;
		start = now();
		for (int i = 0; i < count; i++) {
			snprintf(address, sizeof address, "Recipient%07d@Domain%03d.EXAMPLE", i,
				 i % 997);
			hits += suppress_check(db, address, "survey", &e) == 1;
			snprintf(address, sizeof address, "stranger%07d@domain%03d.example", i,
				 i % 997);
			misses += suppress_check(db, address, "survey", &e) != 0;
		}
		double rate = 2.0 * count / (now() - start);
		if (rate > checks)
			checks = rate;
		CHECK_INT_EQ(hits, count - count / 10);
		CHECK_INT_EQ(misses, 0);
	}
	CHECK_INT_EQ(count_entries(db), count);
	suppress_close(db);
	printf("suppress: %d entries on %s: %.0f adds/s, %.0f checks/s\n", count,
	       fast_root ? "/dev/shm" : "/tmp", adds, checks);
	if (!under_valgrind)
		CHECK(checks >= 200000);

	/* The durable rate, where fsync reaches a disk. */
	if (fast_root) {
		char *disk_spool = make_dir(root, "bulk-disk");
		const int disk_count = under_valgrind ? 200 : 1000;
		failed = 0;
		db = open_list(disk_spool, 1);
		start = now();
		for (int i = 0; i < disk_count; i++) {
			snprintf(address, sizeof address, "recipient%07d@example.com", i);
			failed += add(db, address, "*", "hard-bounce", "bulk", "550 5.1.1") != 0;
		}
		adds = disk_count / (now() - start);
		CHECK_INT_EQ(failed, 0);
		suppress_close(db);
		printf("suppress: %d entries on /tmp: %.0f durable adds/s\n", disk_count, adds);
		free(disk_spool);
		remove_tree(fast_root);
	}
	free(spool);
}

int
main(void)
{
	umask(022);
	under_valgrind = getenv("MAILSHOT_VALGRIND") != NULL;
	if (mkdtemp(tmp_root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_decoder();
	test_missing(tmp_root);
	test_basic(tmp_root);
	test_hostile_and_persistence(tmp_root);
	test_reader_beside_writer(tmp_root);
	test_bulk(tmp_root);
	remove_tree(tmp_root);
	return check_report("suppress");
}
