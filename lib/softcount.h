/*
 * softcount - how many campaigns in a row an address failed softly in
 * (mailbox full, expired, 4xx turned final), kept by mailshot-bounce in
 * spool/softbounce/ (an LMDB environment; format in docs/bounce.md, "Soft
 * counts").  A delivery resets it; reaching control/softbouncelimit
 * suppresses the address.
 */
#ifndef MAILSHOT_SOFTCOUNT_H
#define MAILSHOT_SOFTCOUNT_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define SOFTCOUNT_CAMPAIGNS 8 /* campaign names remembered per address */

struct softcount_db;

struct softcount_entry {
	unsigned count;
	time_t first, last;
	char campaigns[SOFTCOUNT_CAMPAIGNS * 65 + 1]; /* space-separated, newest last */
};

/* Opens (creating) spool/softbounce for writing.  Returns 0, or -1 with
 * err (temporary). */
int softcount_open(const char *spool, struct softcount_db **out, struct buf *err);
void softcount_close(struct softcount_db *db);

/* Groups the following operations into one transaction, made durable by
 * softcount_commit (or dropped by softcount_abort).  Without begin, each
 * operation commits by itself.  Returns 0 or -1 with err. */
int softcount_begin(struct softcount_db *db, struct buf *err);
int softcount_commit(struct softcount_db *db, struct buf *err);
void softcount_abort(struct softcount_db *db);

/*
 * Records a soft failure of address (normalized) in campaign at when.  A
 * campaign among the remembered ones is not counted again (several
 * failures in one campaign, a hand-off file applied twice).  Returns the
 * count after it (>= 1), or -1 with err.  An unreadable stored value
 * (another version) is replaced, not trusted.
 */
int softcount_add(struct softcount_db *db, const char *address, const char *campaign,
		  time_t when, struct buf *err);

/* Removes address's count.  Returns 1 when there was one, 0 when not, -1
 * with err. */
int softcount_reset(struct softcount_db *db, const char *address, struct buf *err);

/* Reads address's count: 1 with *e, 0 when none, -1 with err. */
int softcount_get(struct softcount_db *db, const char *address, struct softcount_entry *e,
		  struct buf *err);

/* For tests and fuzzing: the value record codec.  decode returns 0, or -1
 * for anything but a well-formed version-1 record. */
void softcount_encode(const struct softcount_entry *e, struct buf *out);
int softcount_decode(const char *v, size_t len, struct softcount_entry *e);

#endif
