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

#endif
