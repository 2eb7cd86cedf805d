/*
 * NAME
 *	softcount - soft-bounce counts per address (spool/softbounce/, LMDB)
 *
 * SUMMARY
 *	One writer, mailshot-bounce.  Key: the normalized address.  Value:
 *	"1 TAB count TAB first TAB last TAB campaigns" (docs/bounce.md).
 *
 * DESCRIPTION
 *	Promises:
 *	- A commit returns only once LMDB has synced it (no MDB_NOSYNC).
 *	- A transaction with no change (a reset of an address without a
 *	  count, the common case: deliveries) writes and syncs nothing.
 *	- Applying the same failure twice counts it once.
 */
#include "softcount.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"

#define MAP_SIZE ((size_t)1 << 32)

struct softcount_db {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn;  /* the open grouped transaction, or NULL */
	char *path;
};

static int
fail(struct softcount_db *db, struct buf *err, const char *what, int rc)
{
	buf_printf(err, "%s: %s: %s", db->path, what, mdb_strerror(rc));
	return -1;
}

int
softcount_open(const char *spool, struct softcount_db **out, struct buf *err)
{
	struct softcount_db *db = xcalloc(1, sizeof *db);
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/softbounce", spool);
	db->path = path.data;
	*out = NULL;
	if (mkdir(db->path, 0750) == -1 && errno != EEXIST) {
		buf_printf(err, "%s: mkdir: %s", db->path, strerror(errno));
		softcount_close(db);
		return -1;
	}
	int rc = mdb_env_create(&db->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(db->env, sizeof(void *) == 8 ? MAP_SIZE : MAP_SIZE >> 4);
	if (rc == 0)
		rc = mdb_env_open(db->env, db->path, 0, 0640);
	MDB_txn *txn = NULL;
	if (rc == 0)
		rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &db->dbi);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc != 0) {
		fail(db, err, "open", rc);
		softcount_close(db);
		return -1;
	}
	int dead;
	mdb_reader_check(db->env, &dead);
	*out = db;
	return 0;
}

void
softcount_close(struct softcount_db *db)
{
	if (db == NULL)
		return;
	if (db->txn != NULL)
		mdb_txn_abort(db->txn);
	if (db->env != NULL)
		mdb_env_close(db->env);
	free(db->path);
	free(db);
}

int
softcount_begin(struct softcount_db *db, struct buf *err)
{
	if (db->txn != NULL)
		return 0;
	int rc = mdb_txn_begin(db->env, NULL, 0, &db->txn);
	if (rc != 0) {
		db->txn = NULL;
		return fail(db, err, "mdb_txn_begin", rc);
	}
	return 0;
}

int
softcount_commit(struct softcount_db *db, struct buf *err)
{
	if (db->txn == NULL)
		return 0;
	int rc = mdb_txn_commit(db->txn);
	db->txn = NULL;
	return rc ? fail(db, err, "mdb_txn_commit", rc) : 0;
}

void
softcount_abort(struct softcount_db *db)
{
	if (db->txn != NULL)
		mdb_txn_abort(db->txn);
	db->txn = NULL;
}

void
softcount_encode(const struct softcount_entry *e, struct buf *out)
{
	buf_printf(out, "1\t%u\t%lld\t%lld\t%s", e->count, (long long)e->first, (long long)e->last,
		   e->campaigns);
}

static int
parse_num(const char **p, const char *end, long long *out)
{
	const char *s = *p;
	long long v = 0;
	if (s == end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end && s[1] != '\t'))
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (s == end || *s != '\t')
		return -1;
	*p = s + 1;
	*out = v;
	return 0;
}

int
softcount_decode(const char *v, size_t len, struct softcount_entry *e)
{
	const char *p = v, *end = v + len;
	long long count, first, last;
	memset(e, 0, sizeof *e);
	if (len < 2 || p[0] != '1' || p[1] != '\t')
		return -1;
	p += 2;
	if (parse_num(&p, end, &count) == -1 || count < 1 || count > 1000000 ||
	    parse_num(&p, end, &first) == -1 || parse_num(&p, end, &last) == -1 || last < first)
		return -1;
	size_t clen = (size_t)(end - p);
	if (clen >= sizeof e->campaigns)
		return -1;
	/* campaigns: names of [A-Za-z0-9._-], one space between them */
	unsigned names = 0;
	for (size_t i = 0; i < clen; i++) {
		char c = p[i];
		if (c == ' ') {
			if (i == 0 || p[i - 1] == ' ' || i + 1 == clen)
				return -1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return -1;
		if (i == 0 || p[i - 1] == ' ')
			names++;
	}
	if (names > SOFTCOUNT_CAMPAIGNS)
		return -1;
	memcpy(e->campaigns, p, clen);
	e->campaigns[clen] = '\0';
	e->count = (unsigned)count;
	e->first = (time_t)first;
	e->last = (time_t)last;
	return 0;
}

static int
has_campaign(const char *list, const char *c)
{
	size_t n = strlen(c);
	for (const char *p = list; *p;) {
		const char *sp = strchr(p, ' ');
		size_t len = sp ? (size_t)(sp - p) : strlen(p);
		if (len == n && memcmp(p, c, n) == 0)
			return 1;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	return 0;
}

/* Appends c, dropping the oldest names beyond SOFTCOUNT_CAMPAIGNS. */
static void
push_campaign(char *list, size_t size, const char *c)
{
	unsigned names = *list ? 1 : 0;
	for (const char *p = list; *p; p++)
		names += *p == ' ';
	while (names >= SOFTCOUNT_CAMPAIGNS) {
		char *sp = strchr(list, ' ');
		if (sp == NULL) {
			*list = '\0';
			names = 0;
			break;
		}
		memmove(list, sp + 1, strlen(sp + 1) + 1);
		names--;
	}
	size_t len = strlen(list);
	snprintf(list + len, size - len, "%s%s", len ? " " : "", c);
}

static int
valid_campaign(const char *c)
{
	size_t n = strlen(c);
	return n >= 1 && n <= 64 &&
	       strspn(c, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Runs op inside the grouped transaction, or in its own one. */
static MDB_txn *
txn_for(struct softcount_db *db, int *own, struct buf *err)
{
	*own = db->txn == NULL;
	if (!*own)
		return db->txn;
	MDB_txn *txn;
	int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
	if (rc != 0) {
		fail(db, err, "mdb_txn_begin", rc);
		return NULL;
	}
	return txn;
}

static int
txn_done(struct softcount_db *db, MDB_txn *txn, int own, int ok, struct buf *err)
{
	if (!own)
		return ok ? 0 : -1;
	if (!ok) {
		mdb_txn_abort(txn);
		return -1;
	}
	int rc = mdb_txn_commit(txn);
	return rc ? fail(db, err, "mdb_txn_commit", rc) : 0;
}

static int
key_ok(const char *address, struct buf *err, struct softcount_db *db)
{
	size_t n = strlen(address);
	if (n == 0 || n > ADDR_MAX) {
		buf_printf(err, "%s: address empty or too long", db->path);
		return 0;
	}
	return 1;
}

int
softcount_add(struct softcount_db *db, const char *address, const char *campaign, time_t when,
	      struct buf *err)
{
	if (!key_ok(address, err, db))
		return -1;
	if (!valid_campaign(campaign)) {
		buf_printf(err, "%s: campaign name \"%s\" is not valid", db->path, campaign);
		return -1;
	}
	int own;
	MDB_txn *txn = txn_for(db, &own, err);
	if (txn == NULL)
		return -1;
	MDB_val k = {strlen(address), (void *)address}, v;
	struct softcount_entry e;
	int rc = mdb_get(txn, db->dbi, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		fail(db, err, "mdb_get", rc);
		return txn_done(db, txn, own, 0, err);
	}
	if (rc == MDB_NOTFOUND || softcount_decode(v.mv_data, v.mv_size, &e) == -1) {
		memset(&e, 0, sizeof e);
		e.first = when;
	}
	if (has_campaign(e.campaigns, campaign))
		return txn_done(db, txn, own, 1, err) == 0 ? (int)e.count : -1;
	e.count++;
	if (when > e.last)
		e.last = when;
	if (e.first > e.last)
		e.first = e.last;
	push_campaign(e.campaigns, sizeof e.campaigns, campaign);
	struct buf val = BUF_INIT;
	softcount_encode(&e, &val);
	v.mv_size = val.len;
	v.mv_data = val.data;
	rc = mdb_put(txn, db->dbi, &k, &v, 0);
	buf_free(&val);
	if (rc != 0) {
		fail(db, err, "mdb_put", rc);
		return txn_done(db, txn, own, 0, err);
	}
	return txn_done(db, txn, own, 1, err) == 0 ? (int)e.count : -1;
}

int
softcount_reset(struct softcount_db *db, const char *address, struct buf *err)
{
	if (!key_ok(address, err, db))
		return -1;
	int own;
	MDB_txn *txn = txn_for(db, &own, err);
	if (txn == NULL)
		return -1;
	MDB_val k = {strlen(address), (void *)address};
	int rc = mdb_del(txn, db->dbi, &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		fail(db, err, "mdb_del", rc);
		return txn_done(db, txn, own, 0, err);
	}
	if (txn_done(db, txn, own, 1, err) == -1)
		return -1;
	return rc == 0;
}

int
softcount_get(struct softcount_db *db, const char *address, struct softcount_entry *e,
	      struct buf *err)
{
	if (!key_ok(address, err, db))
		return 0;
	int own;
	MDB_txn *txn = txn_for(db, &own, err);
	if (txn == NULL)
		return -1;
	MDB_val k = {strlen(address), (void *)address}, v;
	int rc = mdb_get(txn, db->dbi, &k, &v);
	int found = rc == 0 && softcount_decode(v.mv_data, v.mv_size, e) == 0;
	if (rc != 0 && rc != MDB_NOTFOUND) {
		fail(db, err, "mdb_get", rc);
		txn_done(db, txn, own, 0, err);
		return -1;
	}
	if (own)
		mdb_txn_abort(txn);
	return found;
}
