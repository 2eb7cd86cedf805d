/*
 * hostdown - the mail hosts that recently failed at the connection level,
 * as qmail's tcpto: remote tries an address that is down after all the
 * others, not never, so that a dead MX at the head of a domain's list
 * costs one timeout rather than one per connection.  The records
 * `hostdown ADDR SECONDS` and `hostup ADDR` (docs/protocol.md) share the
 * table among the remotes of a destination.
 *
 * An address is the text inet_ntop writes ("192.0.2.1", "2001:db8::1")
 * plus a port.  Its first failure marks it down for 60 s; each further
 * failure without a success in between doubles that, up to 3600 s; a
 * success forgets it.
 *
 * Promises: pure (the caller passes the time, in seconds of any clock
 * that does not go back); bounded (at most max entries: a new address
 * evicts the least recently marked one); an address that is not an IP
 * address in canonical text form, a port above 65535 or a duration
 * outside 1..3600 is refused and changes nothing.
 */
#ifndef MAILSHOT_HOSTDOWN_H
#define MAILSHOT_HOSTDOWN_H

#include <stddef.h>

#include "buf.h"

#define HOSTDOWN_MAX_ENTRIES 1024 /* the default bound */
#define HOSTDOWN_FIRST_SECONDS 60
#define HOSTDOWN_MAX_SECONDS 3600
#define HOSTDOWN_ADDR_SIZE 46 /* INET6_ADDRSTRLEN: the longest text, and its NUL */

struct hostdown_entry {
	char addr[HOSTDOWN_ADDR_SIZE];
	unsigned port;
	long long until;	  /* down while now < until */
	long long period;	  /* the last marking's length: the next failure doubles it */
	unsigned long long stamp; /* when last marked, in table ticks: eviction order */
};

struct hostdown {
	struct hostdown_entry *entry;
	size_t count;
	size_t max;
	unsigned long long ticks;
};

/* An empty table of at most max entries (0: HOSTDOWN_MAX_ENTRIES). */
void hostdown_init(struct hostdown *t, size_t max);
void hostdown_free(struct hostdown *t);

/* 1 when addr is an IPv4 or IPv6 address in inet_ntop's text form. */
int hostdown_valid_address(const char *addr);

/* A connection-level failure of addr:port at now.  Returns how many
 * seconds from now it is down (60, 120, ... 3600), or -1 (refused). */
long long hostdown_failed(struct hostdown *t, const char *addr, unsigned port, long long now);

/* addr:port answered (accepted EHLO or HELO), or a `hostup` came: it is
 * forgotten.  Returns 1 when it was in the table, 0 when not, -1 when
 * refused. */
int hostdown_answered(struct hostdown *t, const char *addr, unsigned port);

/* A `hostdown ADDR SECONDS` learned elsewhere: addr:port is down until
 * now + seconds at least (a later expiry already known stays), and the
 * longer of the two periods is what a failure of ours doubles.  Returns
 * 0, or -1 (refused). */
int hostdown_merge(struct hostdown *t, const char *addr, unsigned port, long long seconds,
		   long long now);

/* Seconds addr:port is still down at now; 0 when it is not. */
long long hostdown_remaining(const struct hostdown *t, const char *addr, unsigned port,
			     long long now);

/* Appends `hostdown ADDR SECONDS` for every address of port down at now
 * (what sched sends a newly started remote). */
void hostdown_records(const struct hostdown *t, unsigned port, long long now, struct buf *out);

#endif
