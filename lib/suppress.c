/*
 * NAME
 *	suppress - the suppression list, an LMDB environment in spool/suppress/
 *
 * SUMMARY
 *	Who must not be mailed again, and why.  The writer is mailshot-bounce
 *	(and its add/clear commands); the readers are enqueue, once per
 *	recipient, and report.  The format on disk is docs/suppression.md.
 *
 * DESCRIPTION
 *	Promises:
 *	- suppress_add and suppress_clear return only after their one
 *	  transaction is committed and synced (LMDB's default, no MDB_NOSYNC):
 *	  a 0 return survives kill -9 and power loss.
 *	- Readers never see a half-written entry and never block the writer.
 *	- A record this code cannot read (unknown version, malformed) is an
 *	  error, never "not suppressed": guessing would mail someone who asked
 *	  not to be mailed.
 *	- suppress_check costs two B-tree lookups and no allocation in the
 *	  steady state: the read transaction is reset and renewed, not begun
 *	  and committed, because enqueue checks tens of thousands of
 *	  recipients a second.
 *	- Nothing is written to stderr; errors go to the caller's buf (open,
 *	  add, clear) or errno (check, foreach: EBADMSG for an unreadable
 *	  record, EIO for an LMDB failure without an errno of its own).
 *
 *	Why LMDB rather than tinycdb: the list changes one entry at a time
 *	while enqueue reads it, and a cdb rebuild per bounce would rewrite
 *	millions of entries to add one.
 */
#include "suppress.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"

/*
 * Bounds on what one entry may hold.  Every encoded value fits in
 * VALUE_MAX (3 bytes per escaped byte at worst), and every key fits in
 * LMDB's default maximum key size of 511 bytes.
 */
#define SCOPE_MAX 64
#define CAMPAIGN_MAX 255
#define DIAGNOSTIC_MAX 1000
#define REASON_MAX 32
#define VALUE_MAX 4096

/*
 * The map is the address space LMDB reserves for the file, not the file's
 * size: on 64-bit systems 4 GiB costs nothing until pages are written,
 * and holds some ten million entries.  When it fills anyway, the writer
 * doubles it, up to MAP_MAX; readers adopt the new size when LMDB tells
 * them (MDB_MAP_RESIZED).  32-bit systems get a quarter of their address
 * space at most.
 */
#define MAP_INITIAL ((size_t)1 << (sizeof(size_t) >= 8 ? 32 : 28))
#define MAP_MAX ((size_t)1 << (sizeof(size_t) >= 8 ? 36 : 30))

static const char *const reasons[] = {
    "hard-bounce", "soft-bounce-limit", "complaint", "unsubscribe", "manual",
};

struct suppress_db {
	char *path;	   /* spool/suppress, for messages */
	MDB_env *env;	   /* NULL: a missing list opened read-only, i.e. empty */
	MDB_dbi dbi;	   /* the unnamed main database */
	MDB_txn *read_txn; /* reset between calls, renewed by each */
	int writable;
	int fold_local;
	struct buf key;	  /* the key being looked up or written */
	struct buf value; /* the value being written */
	struct buf entry; /* the strings of the entry last handed out */
};

/* An LMDB return code as an errno value, for callers without an err buf. */
static int
mdb_errno(int rc)
{
	return rc > 0 ? rc : EIO;
}

static int
fail_mdb(struct suppress_db *db, struct buf *err, const char *what, int rc)
{
	if (err)
		buf_printf(err, "%s: %s: %s", db->path, what, mdb_strerror(rc));
	errno = mdb_errno(rc);
	return -1;
}

static int
fail_system(struct suppress_db *db, struct buf *err, const char *what)
{
	int saved = errno;
	if (err)
		buf_printf(err, "%s: %s: %s", db->path, what, strerror(saved));
	errno = saved;
	return -1;
}

static int
fail_input(struct suppress_db *db, struct buf *err, const char *why)
{
	if (err)
		buf_printf(err, "%s: %s", db->path, why);
	errno = EINVAL;
	return -1;
}

static void
drop_read_txn(struct suppress_db *db)
{
	if (db->read_txn) {
		mdb_txn_abort(db->read_txn);
		db->read_txn = NULL;
	}
}

/*
 * Begins a transaction.  When another process has grown the map beyond
 * ours, LMDB refuses with MDB_MAP_RESIZED until we adopt the size
 * recorded in the file (set_mapsize 0); that needs no transaction of ours
 * alive, so the idle read transaction goes first.
 */
static int
begin_txn(struct suppress_db *db, unsigned flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(db->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED) {
		drop_read_txn(db);
		rc = mdb_env_set_mapsize(db->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(db->env, NULL, flags, txn);
	}
	return rc;
}

/* Makes db->read_txn a live snapshot of the newest committed state. */
static int
renew_read_txn(struct suppress_db *db)
{
	if (db->read_txn) {
		int rc = mdb_txn_renew(db->read_txn);
		if (rc == 0)
			return 0;
		drop_read_txn(db);
		if (rc != MDB_MAP_RESIZED)
			return rc;
	}
	return begin_txn(db, MDB_RDONLY, &db->read_txn);
}

static int
sync_directory(struct suppress_db *db, const char *dir, struct buf *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		if (err)
			buf_printf(err, "%s: fsync: %s", dir, strerror(saved));
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

static int
open_main_dbi(struct suppress_db *db, struct buf *err)
{
	MDB_txn *txn;
	int rc = begin_txn(db, MDB_RDONLY, &txn);
	if (rc)
		return fail_mdb(db, err, "mdb_txn_begin", rc);
	rc = mdb_dbi_open(txn, NULL, 0, &db->dbi);
	/* The main database's handle outlives the transaction that opened it. */
	mdb_txn_abort(txn);
	if (rc)
		return fail_mdb(db, err, "mdb_dbi_open", rc);
	return 0;
}

static int
open_writable(struct suppress_db *db, const char *spool, struct buf *err)
{
	struct buf file = BUF_INIT;
	struct stat st;
	int fresh, rc, dead;

	if (mkdir(db->path, 0750) == 0) {
		/* The list must survive a crash, so its directory entry must too. */
		if (sync_directory(db, spool, err) < 0)
			return -1;
	} else if (errno != EEXIST) {
		return fail_system(db, err, "mkdir");
	}

	buf_printf(&file, "%s/data.mdb", db->path);
	fresh = stat(file.data, &st) < 0 && errno == ENOENT;
	rc = mdb_env_create(&db->env);
	if (rc) {
		buf_free(&file);
		db->env = NULL;
		return fail_mdb(db, err, "mdb_env_create", rc);
	}
	/* An existing list keeps the size recorded in it, which may have
	 * grown past MAP_INITIAL; only a new one needs a size from us. */
	if (fresh && (rc = mdb_env_set_mapsize(db->env, MAP_INITIAL)) != 0) {
		buf_free(&file);
		return fail_mdb(db, err, "mdb_env_set_mapsize", rc);
	}
	rc = mdb_env_open(db->env, db->path, 0, 0640);
	if (rc) {
		buf_free(&file);
		return fail_mdb(db, err, "mdb_env_open", rc);
	}
	if (fresh) {
		/*
		 * Readers (enqueue, as the submitting user in the list's group)
		 * register themselves in lock.mdb, so it must be group-writable
		 * while data.mdb stays writable by its owner alone.  chmod, not
		 * the open mode, because the umask would narrow the latter.
		 */
		buf_reset(&file);
		buf_printf(&file, "%s/lock.mdb", db->path);
		if (chmod(file.data, 0660) < 0) {
			buf_free(&file);
			return fail_system(db, err, "chmod lock.mdb");
		}
		if (sync_directory(db, db->path, err) < 0) {
			buf_free(&file);
			return -1;
		}
	}
	buf_free(&file);

	/* Readers killed with -9 leave their slots behind, and a held slot
	 * keeps old pages from being reused; the writer sweeps them. */
	rc = mdb_reader_check(db->env, &dead);
	if (rc)
		return fail_mdb(db, err, "mdb_reader_check", rc);
	return open_main_dbi(db, err);
}

static int
open_readonly(struct suppress_db *db, struct buf *err)
{
	struct buf file = BUF_INIT;
	struct stat st;
	int rc;

	/*
	 * No list yet means nobody was ever suppressed.  Looking before
	 * mdb_env_open keeps a reader from creating lock.mdb in a directory
	 * the writer has made but not yet filled.
	 */
	buf_printf(&file, "%s/data.mdb", db->path);
	rc = stat(file.data, &st);
	buf_free(&file);
	if (rc < 0 && errno == ENOENT)
		return 0;
	if (rc < 0)
		return fail_system(db, err, "stat data.mdb");

	rc = mdb_env_create(&db->env);
	if (rc) {
		db->env = NULL;
		return fail_mdb(db, err, "mdb_env_create", rc);
	}
	/* 0660: should a reader be the one to create lock.mdb, the writer
	 * (another user in the group) must still be able to use it. */
	rc = mdb_env_open(db->env, db->path, MDB_RDONLY, 0660);
	if (rc == ENOENT) {
		mdb_env_close(db->env);
		db->env = NULL;
		return 0;
	}
	if (rc)
		return fail_mdb(db, err, "mdb_env_open", rc);
	return open_main_dbi(db, err);
}

int
suppress_open(const char *spool, int writable, struct suppress_db **out, struct buf *err)
{
	struct suppress_db *db = xcalloc(1, sizeof *db);
	struct buf path = BUF_INIT;
	int rc;

	buf_printf(&path, "%s/suppress", spool);
	db->path = path.data;
	db->writable = writable != 0;
	db->fold_local = 1;
	rc = writable ? open_writable(db, spool, err) : open_readonly(db, err);
	if (rc < 0) {
		int saved = errno;
		suppress_close(db);
		*out = NULL;
		errno = saved;
		return -1;
	}
	*out = db;
	return 0;
}

void
suppress_close(struct suppress_db *db)
{
	if (db == NULL)
		return;
	drop_read_txn(db);
	if (db->env)
		mdb_env_close(db->env);
	buf_free(&db->key);
	buf_free(&db->value);
	buf_free(&db->entry);
	free(db->path);
	free(db);
}

void
suppress_set_fold_local(struct suppress_db *db, int fold)
{
	db->fold_local = fold != 0;
}

static int
is_reason(const char *s)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (strcmp(s, reasons[i]) == 0)
			return 1;
	return 0;
}

/* Scopes are names from campaign files: short, one line, no TAB (the key
 * separator).  Returns NULL if fine, else why not. */
static const char *
scope_problem(const char *scope)
{
	size_t len = strlen(scope);
	if (len == 0)
		return "empty scope (use \"*\" for all mail)";
	if (len > SCOPE_MAX)
		return "scope longer than 64 bytes";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)scope[i];
		if (c < 0x20 || c == 0x7f)
			return "control character (TAB, CR, LF, ...) in scope";
	}
	return NULL;
}

/*
 * Could address be on the list at all?  add refuses what fails
 * addr_check, which never passes these; the test keeps addr_normalize
 * away from input it is not defined for, at the cost of one strcspn.
 */
static int
address_possible(const char *address, size_t len)
{
	return len > 0 && len <= ADDR_MAX && address[strcspn(address, "\t\r\n")] == '\0';
}

/* Sets db->key to the normalized address and a TAB; returns the length
 * of the address part. */
static size_t
key_prefix(struct suppress_db *db, const char *address, size_t len)
{
	buf_reset(&db->key);
	addr_normalize(address, len, db->fold_local, &db->key);
	size_t address_len = db->key.len;
	buf_append_char(&db->key, '\t');
	return address_len;
}

/* Bytes a field may not hold raw: the separator, line ends, other
 * controls that would make the record unsafe to print, and '%' itself. */
static int
needs_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '%';
}

static void
append_escaped(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (needs_escape(c)) {
			char triplet[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_append(out, triplet, 3);
		} else {
			buf_append_char(out, (char)c);
		}
	}
}

/* The diagnostic is for people: an overlong one is cut, at a UTF-8
 * character boundary, rather than cost us the suppression itself. */
static size_t
diagnostic_length(const char *s)
{
	size_t len = strlen(s);
	if (len <= DIAGNOSTIC_MAX)
		return len;
	len = DIAGNOSTIC_MAX;
	for (int back = 0; back < 3 && ((unsigned char)s[len] & 0xc0) == 0x80; back++)
		len--;
	return len;
}

typedef int (*write_step)(struct suppress_db *db, MDB_txn *txn, void *ctx, const char **what);

static int
grow_map(struct suppress_db *db, struct buf *err)
{
	MDB_envinfo info;
	int rc = mdb_env_info(db->env, &info);
	if (rc)
		return fail_mdb(db, err, "mdb_env_info", rc);
	if (info.me_mapsize >= MAP_MAX) {
		if (err)
			buf_printf(err, "%s: list full at its maximum map size of %zu bytes",
				   db->path, (size_t)MAP_MAX);
		errno = ENOSPC;
		return -1;
	}
	size_t size = info.me_mapsize > MAP_MAX / 2 ? MAP_MAX : info.me_mapsize * 2;
	drop_read_txn(db);
	rc = mdb_env_set_mapsize(db->env, size);
	if (rc)
		return fail_mdb(db, err, "mdb_env_set_mapsize", rc);
	return 0;
}

/*
 * Runs step in one write transaction and commits it.  A full map aborts
 * the whole transaction (LMDB cannot resize under one), grows the map
 * and runs step again from the start; doubling up to MAP_MAX bounds the
 * retries.
 */
static int
write_txn(struct suppress_db *db, write_step step, void *ctx, struct buf *err)
{
	for (;;) {
		MDB_txn *txn;
		const char *what = "mdb_txn_begin";
		int rc = begin_txn(db, 0, &txn);
		if (rc)
			return fail_mdb(db, err, what, rc);
		rc = step(db, txn, ctx, &what);
		if (rc == 0) {
			what = "mdb_txn_commit";
			rc = mdb_txn_commit(txn); /* frees txn, even on failure */
		} else {
			mdb_txn_abort(txn);
		}
		if (rc == 0)
			return 0;
		if (rc != MDB_MAP_FULL)
			return fail_mdb(db, err, what, rc);
		if (grow_map(db, err) < 0)
			return -1;
	}
}

static int
put_step(struct suppress_db *db, MDB_txn *txn, void *ctx, const char **what)
{
	MDB_val key = {db->key.len, db->key.data};
	MDB_val value = {db->value.len, db->value.data};
	*what = "mdb_put";
	return mdb_put(txn, db->dbi, &key, &value, 0);
}

int
suppress_add(struct suppress_db *db, const struct suppress_entry *e, struct buf *err)
{
	const char *campaign = e->campaign ? e->campaign : "";
	const char *diagnostic = e->diagnostic ? e->diagnostic : "";
	const char *why;

	if (!db->writable)
		return fail_input(db, err, "list opened read-only");
	if (e->reason == NULL || !is_reason(e->reason))
		return fail_input(db, err,
				  "reason is not hard-bounce, soft-bounce-limit, "
				  "complaint, unsubscribe or manual");
	if (e->scope == NULL)
		return fail_input(db, err, "no scope (use \"*\" for all mail)");
	if ((why = scope_problem(e->scope)) != NULL)
		return fail_input(db, err, why);
	if (e->address == NULL)
		return fail_input(db, err, "no address");
	size_t address_len = strlen(e->address);
	/* Literals and dotless domains too: what addr_check refuses under
	 * every flag can never be mailed, so it need never be suppressed. */
	const int flags = ADDR_ALLOW_LITERAL | ADDR_ALLOW_NODOT;
	why = NULL;
	if (addr_check(e->address, address_len, flags, &why, NULL) < 0 ||
	    !address_possible(e->address, address_len)) {
		if (err)
			buf_printf(err, "%s: invalid address: %s", db->path,
				   why ? why : "control character");
		errno = EINVAL;
		return -1;
	}
	if (strlen(campaign) > CAMPAIGN_MAX)
		return fail_input(db, err, "campaign name longer than 255 bytes");
	if (e->when < 0)
		return fail_input(db, err, "time before 1970");

	key_prefix(db, e->address, address_len);
	buf_append_str(&db->key, e->scope);

	buf_reset(&db->value);
	buf_append_str(&db->value, "1\t");
	append_escaped(&db->value, e->reason, strlen(e->reason));
	buf_printf(&db->value, "\t%lld\t", (long long)e->when);
	append_escaped(&db->value, campaign, strlen(campaign));
	buf_append_char(&db->value, '\t');
	append_escaped(&db->value, diagnostic, diagnostic_length(diagnostic));

	return write_txn(db, put_step, NULL, err);
}

struct clear_request {
	size_t prefix_len; /* of db->key: "address\t" */
	int one_scope;	   /* db->key holds the whole key of that scope */
	int removed;
};

static int
clear_step(struct suppress_db *db, MDB_txn *txn, void *ctx, const char **what)
{
	struct clear_request *req = ctx;
	MDB_val key = {db->key.len, db->key.data}, value;
	MDB_cursor *cursor;
	int rc;

	req->removed = 0; /* a retry after growing starts over */
	if (req->one_scope) {
		*what = "mdb_del";
		rc = mdb_del(txn, db->dbi, &key, NULL);
		if (rc == 0)
			req->removed = 1;
		return rc == MDB_NOTFOUND ? 0 : rc;
	}

	/* Every scope of an address shares the key prefix "address\t", and
	 * the keys with one prefix are adjacent in LMDB's byte order. */
	*what = "mdb_cursor_open";
	rc = mdb_cursor_open(txn, db->dbi, &cursor);
	if (rc)
		return rc;
	*what = "mdb_cursor_get";
	rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
	while (rc == 0 && key.mv_size >= req->prefix_len &&
	       memcmp(key.mv_data, db->key.data, req->prefix_len) == 0) {
		*what = "mdb_cursor_del";
		rc = mdb_cursor_del(cursor, 0);
		if (rc)
			break;
		req->removed++;
		/* After a delete the cursor already rests on the next entry;
		 * MDB_NEXT returns that one rather than skipping it. */
		*what = "mdb_cursor_get";
		rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
	}
	mdb_cursor_close(cursor);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
suppress_clear(struct suppress_db *db, const char *address, const char *scope, struct buf *err)
{
	struct clear_request req = {0, scope != NULL, 0};
	const char *why;

	if (!db->writable)
		return fail_input(db, err, "list opened read-only");
	if (scope && (why = scope_problem(scope)) != NULL)
		return fail_input(db, err, why);
	size_t address_len = strlen(address);
	if (!address_possible(address, address_len))
		return 0;
	req.prefix_len = key_prefix(db, address, address_len) + 1;
	if (scope)
		buf_append_str(&db->key, scope);
	if (write_txn(db, clear_step, &req, err) < 0)
		return -1;
	return req.removed;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Appends the unescaped field and a NUL to out.  Refuses what no writer
 * produces: raw control bytes, a broken escape, an escaped NUL (it would
 * cut the C string short unseen), more than max bytes. */
static int
append_unescaped(struct buf *out, const char *s, size_t len, size_t max)
{
	size_t start = out->len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			if (len - i < 3)
				return -1;
			int high = hex_value((unsigned char)s[i + 1]);
			int low = hex_value((unsigned char)s[i + 2]);
			if (high < 0 || low < 0 || (high | low) == 0)
				return -1;
			c = (unsigned char)(high << 4 | low);
			i += 2;
		} else if (c < 0x20 || c == 0x7f) {
			return -1;
		}
		if (out->len - start >= max)
			return -1;
		buf_append_char(out, (char)c);
	}
	buf_append_char(out, '\0');
	return 0;
}

/* Seconds since the epoch: plain decimal digits, no sign, no leading
 * zero, within time_t. */
static int
parse_when(const char *s, size_t len, time_t *out)
{
	uint64_t value = 0;
	if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		value = value * 10 + (uint64_t)(s[i] - '0');
	}
	if (value > (sizeof(time_t) >= 8 ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX))
		return -1;
	*out = (time_t)value;
	return 0;
}

int
suppress_decode_value(const char *v, size_t len, struct suppress_entry *e, struct buf *storage)
{
	const char *field[4];
	size_t field_len[4];
	size_t offset[4];
	size_t base = storage->len;
	const char *p, *end = v + len;
	time_t when;

	if (len > VALUE_MAX)
		return -1;
	/* The version decides the layout of everything after it, so it is
	 * read alone first; a version we do not know is refused whole. */
	if (len < 2 || v[0] != '1' || v[1] != '\t')
		return -1;
	p = v + 2;
	for (size_t n = 0; n < 4; n++) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		if (tab == NULL && n < 3)
			return -1; /* truncated */
		if (tab != NULL && n == 3)
			return -1; /* a field too many */
		field[n] = p;
		field_len[n] = (size_t)((tab ? tab : end) - p);
		p = tab ? tab + 1 : end;
	}
	if (parse_when(field[1], field_len[1], &when) < 0)
		return -1;
	offset[0] = storage->len;
	if (append_unescaped(storage, field[0], field_len[0], REASON_MAX) < 0)
		goto refuse;
	offset[2] = storage->len;
	if (append_unescaped(storage, field[2], field_len[2], CAMPAIGN_MAX) < 0)
		goto refuse;
	offset[3] = storage->len;
	if (append_unescaped(storage, field[3], field_len[3], DIAGNOSTIC_MAX) < 0)
		goto refuse;
	if (!is_reason(storage->data + offset[0]))
		goto refuse;

	/* Pointers last: each append above may have moved storage->data. */
	e->reason = storage->data + offset[0];
	e->when = when;
	e->campaign = storage->data + offset[2];
	e->diagnostic = storage->data + offset[3];
	return 0;

refuse:
	buf_truncate(storage, base);
	return -1;
}

/* Fills *e from a key and value read from the list, copying them into
 * db->entry, so that they outlive the transaction they were read in. */
static int
entry_from_record(struct suppress_db *db, const MDB_val *key, const MDB_val *value,
		  struct suppress_entry *e)
{
	const char *tab = memchr(key->mv_data, '\t', key->mv_size);
	if (tab == NULL)
		return -1;
	size_t address_len = (size_t)(tab - (const char *)key->mv_data);
	if (memchr(key->mv_data, '\0', key->mv_size) != NULL)
		return -1;

	buf_reset(&db->entry);
	buf_append(&db->entry, key->mv_data, key->mv_size);
	buf_append_char(&db->entry, '\0');
	db->entry.data[address_len] = '\0';
	if (suppress_decode_value(value->mv_data, value->mv_size, e, &db->entry) < 0)
		return -1;
	/* After decoding, which may have moved db->entry.data. */
	e->address = db->entry.data;
	e->scope = db->entry.data + address_len + 1;
	return 0;
}

int
suppress_check(struct suppress_db *db, const char *address, const char *type,
	       struct suppress_entry *e)
{
	struct suppress_entry unused;
	MDB_val key, value;
	int rc, result;

	if (db->env == NULL)
		return 0;
	size_t address_len = strlen(address);
	if (!address_possible(address, address_len))
		return 0;
	size_t prefix_len = key_prefix(db, address, address_len) + 1;
	buf_append_char(&db->key, '*');

	rc = renew_read_txn(db);
	if (rc) {
		errno = mdb_errno(rc);
		return -1;
	}
	key = (MDB_val){db->key.len, db->key.data};
	rc = mdb_get(db->read_txn, db->dbi, &key, &value);
	/* A type longer than any scope add accepts cannot be on the list,
	 * and would make an over-long key that LMDB refuses. */
	if (rc == MDB_NOTFOUND && type && *type && strcmp(type, "*") != 0 &&
	    strlen(type) <= SCOPE_MAX) {
		buf_truncate(&db->key, prefix_len);
		buf_append_str(&db->key, type);
		key = (MDB_val){db->key.len, db->key.data};
		rc = mdb_get(db->read_txn, db->dbi, &key, &value);
	}
	if (rc == MDB_NOTFOUND) {
		result = 0;
	} else if (rc) {
		errno = mdb_errno(rc);
		result = -1;
	} else if (entry_from_record(db, &key, &value, e ? e : &unused) < 0) {
		errno = EBADMSG;
		result = -1;
	} else {
		result = 1;
	}
	/* The value is copied out, so the snapshot can go: a reader that
	 * holds one keeps the writer from reusing pages. */
	mdb_txn_reset(db->read_txn);
	return result;
}

int
suppress_foreach(struct suppress_db *db, int (*fn)(const struct suppress_entry *, void *),
		 void *ctx)
{
	struct suppress_entry e;
	MDB_cursor *cursor;
	MDB_val key, value;
	int rc, result = 0;

	if (db->env == NULL)
		return 0;
	rc = renew_read_txn(db);
	if (rc) {
		errno = mdb_errno(rc);
		return -1;
	}
	rc = mdb_cursor_open(db->read_txn, db->dbi, &cursor);
	if (rc) {
		mdb_txn_reset(db->read_txn);
		errno = mdb_errno(rc);
		return -1;
	}
	for (rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
		if (entry_from_record(db, &key, &value, &e) < 0) {
			errno = EBADMSG;
			result = -1;
			break;
		}
		if (fn(&e, ctx) != 0)
			break;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		errno = mdb_errno(rc);
		result = -1;
	}
	mdb_cursor_close(cursor);
	mdb_txn_reset(db->read_txn);
	return result;
}
