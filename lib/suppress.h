/*
 * suppress - the suppression list: addresses that must not be mailed
 * again (hard bounce, complaint, unsubscribe, ...), for all mail or for
 * one communication type.  Stored in the spool at suppress/ as an LMDB
 * environment; the format is in docs/suppression.md.
 *
 * Why LMDB: lookups in O(log n) with a million entries and no load
 * time, crash-safe transactions (a committed add survives kill -9 and
 * power loss), many readers (enqueue) beside one writer (bounce).
 *
 * Keys are the normalized address (addr_normalize) + '\t' + scope, where
 * scope "*" means all mail.  A recipient is suppressed for a campaign of
 * type T when the key for "*" or for T exists.
 */
#ifndef MAILSHOT_SUPPRESS_H
#define MAILSHOT_SUPPRESS_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

struct suppress_db;

struct suppress_entry {
	const char *address;    /* as recorded (normalized) */
	const char *scope;      /* "*" for all mail, or a type/list name */
	const char *reason;     /* hard-bounce, soft-bounce-limit, complaint, unsubscribe, manual */
	time_t when;
	const char *campaign;   /* may be "" */
	const char *diagnostic; /* may be "" */
};

/* Opens (creating if writable and missing) spool/suppress.  A missing
 * list opened read-only is not an error: it is empty (and stays empty for
 * this handle, should a writer create it later).  Returns 0, or -1 with a
 * message naming the path appended to err (an I/O problem: temporary).
 * One handle per list per process: LMDB forbids opening an environment
 * twice in one process. */
int suppress_open(const char *spool, int writable, struct suppress_db **out, struct buf *err);
void suppress_close(struct suppress_db *db);

/* Is address suppressed for a campaign of this type (NULL or "" = no
 * type: only "*" applies)?  The "*" entry wins when both exist.  Returns
 * 1 and fills *e (if not NULL; strings valid until the next call on db)
 * when suppressed, 0 when not, -1 on error with errno set: EBADMSG for a
 * record this version cannot read (never taken as "not suppressed"), EIO
 * or the system's errno otherwise.  An address that could not have been
 * added (empty, over ADDR_MAX, with TAB/CR/LF) is simply not suppressed. */
int suppress_check(struct suppress_db *db, const char *address, const char *type,
		   struct suppress_entry *e);

/* Adds or replaces the entry for (address, scope); durable when it
 * returns 0.  Refuses (-1, reason appended to err) a reason outside the
 * five above, a scope that is empty, over 64 bytes or has control
 * characters, an address addr_check refuses, a campaign over 255 bytes
 * and a negative time; cuts a diagnostic over 1000 bytes.  The address
 * is stored normalized (see suppress_set_fold_local). */
int suppress_add(struct suppress_db *db, const struct suppress_entry *e, struct buf *err);

/* Removes the entry for scope, or every scope when scope is NULL.
 * Returns the number removed, or -1 with the reason appended to err. */
int suppress_clear(struct suppress_db *db, const char *address, const char *scope, struct buf *err);

/* Calls fn for every entry in key order (address bytes, then scope), on
 * one consistent snapshot; stops early when fn returns non-zero.  The
 * entry is valid during the call only, and fn must not call suppress_*
 * on the same db.  Returns 0, or -1 on error with errno as for check. */
int suppress_foreach(struct suppress_db *db, int (*fn)(const struct suppress_entry *, void *),
		     void *ctx);

/* Whether the local part is compared case-insensitively (default 1).
 * The writer and every reader of one list must agree: an entry added
 * folded is not found by an unfolded check of mixed case. */
void suppress_set_fold_local(struct suppress_db *db, int fold);

/* For tests and fuzzing: decodes a stored value record v[0..len) (the
 * format is in docs/suppression.md) into the reason, when, campaign and
 * diagnostic of *e, whose strings are appended to storage and valid until
 * it next changes; address and scope, which live in the key, are left
 * alone.  Returns 0, or -1 (storage unchanged) for a record that is
 * truncated, malformed or of an unknown version. */
int suppress_decode_value(const char *v, size_t len, struct suppress_entry *e, struct buf *storage);

#endif
