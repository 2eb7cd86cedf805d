/*
 * notify - the campaign owner's failure digest: one RFC 3464
 * multipart/report message listing a campaign's failed recipients
 * (docs/bounce.md, "The owner's digest").  Pure formatting; queuing it
 * is mailshot-bounce's job.
 */
#ifndef MAILSHOT_NOTIFY_H
#define MAILSHOT_NOTIFY_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define NOTIFY_MAX_RCPTS 1000 /* listed in one digest; the rest are counted */

struct notify_entry {
	const char *rcpt;
	const char *status;   /* "failed" or "expired" */
	const char *severity; /* hard, soft, none */
	const char *reason;   /* classify's reason name */
	const char *enhanced; /* "5.1.1" or "" */
	const char *code;     /* "550" or "" */
	const char *mx;       /* remote host or "" */
	const char *text;     /* the server's reply */
	time_t when;
};

struct notify_info {
	const char *campaign;
	const char *owner;	   /* To: */
	const char *from;	   /* From: (MAILER-DAEMON@...) */
	const char *reporting_mta; /* our host name */
	const char *message_id;	   /* <...> */
	time_t now;
};

/*
 * Writes the whole digest message to out: CRLF line ends, 7-bit (any
 * other byte of a diagnostic becomes '?'), no line over 998 octets,
 * Auto-Submitted: auto-generated.  Lists at most NOTIFY_MAX_RCPTS
 * entries and says how many more there were.
 */
void notify_format(struct buf *out, const struct notify_info *info,
		   const struct notify_entry *e, size_t n);

/* ---- the pending digests: bounce/digest/C (docs/bounce.md) ---- */

/* The campaign of the digests themselves: never digested. */
#define NOTIFY_CAMPAIGN "mailshot-notice"

/* The owner of campaign's digest: campaigns/C/notify, else fallback.
 * Returns 1 with a valid address in out, 0 when there is none. */
int notify_owner(const char *root, const char *campaign, const char *fallback, struct buf *out);

/* Appends one pending line for e to out (escaped fields, LF). */
void notify_line(struct buf *out, const struct notify_entry *e);

/* Appends lines to bounce/digest/C and syncs them; a failed append is
 * cut back.  Returns 0, or -1 with err. */
int notify_append(const char *root, const char *campaign, const struct buf *lines,
		  struct buf *err);

/* A campaign's pending failures, one entry per recipient (the last line
 * about a recipient wins; malformed and torn lines are skipped). */
struct notify_pending {
	struct notify_entry *e;
	size_t n;
	char **strings;
	size_t nstrings;
};
int notify_read_pending(const char *root, const char *campaign, struct notify_pending *p,
			struct buf *err);
void notify_pending_free(struct notify_pending *p);

/* When campaign's last digest went out (0 = never). */
time_t notify_last_sent(const char *root, const char *campaign);

/*
 * Queues the digest of p as one message of a NOTIFY_CAMPAIGN batch (null
 * envelope sender, to info->owner) in root/new/, wakes sched, records
 * the time in bounce/digest/C.sent and removes the pending file.  seq
 * makes batch names unique in one process; the batch name goes to name.
 * A crash between queuing and removing sends the same failures again
 * next time, never loses them.  Returns 0, or -1 with err.
 */
int notify_send(const char *root, const struct notify_info *info,
		const struct notify_pending *p, unsigned long seq, char *name, struct buf *err);

#endif
