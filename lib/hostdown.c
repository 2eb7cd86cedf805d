/*
 * hostdown - the table of dead mail hosts.  See hostdown.h.
 *
 * A plain array searched from end to end: remote serves one destination,
 * whose MX hosts have a handful of addresses, and even a full table is
 * 1024 short comparisons per connection attempt.
 */
#include "hostdown.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

void
hostdown_init(struct hostdown *t, size_t max)
{
	memset(t, 0, sizeof *t);
	t->max = max ? max : HOSTDOWN_MAX_ENTRIES;
}

void
hostdown_free(struct hostdown *t)
{
	free(t->entry);
	memset(t, 0, sizeof *t);
}

/* Canonical means: inet_ntop writes back exactly this text, so one
 * address has one key ("::1", never "0::1" or "::0001"). */
int
hostdown_valid_address(const char *addr)
{
	size_t len = strnlen(addr, HOSTDOWN_ADDR_SIZE);
	if (len == 0 || len == HOSTDOWN_ADDR_SIZE)
		return 0;
	unsigned char bin[sizeof(struct in6_addr)];
	char text[HOSTDOWN_ADDR_SIZE];
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, addr, bin) != 1 || inet_ntop(family, bin, text, sizeof text) == NULL)
		return 0;
	return strcmp(text, addr) == 0;
}

static int
valid(const char *addr, unsigned port)
{
	return port <= 65535 && hostdown_valid_address(addr);
}

static struct hostdown_entry *
find(const struct hostdown *t, const char *addr, unsigned port)
{
	for (size_t i = 0; i < t->count; i++)
		if (t->entry[i].port == port && strcmp(t->entry[i].addr, addr) == 0)
			return &t->entry[i];
	return NULL;
}

/* The entry of addr:port, made (evicting the least recently marked one
 * when the table is full) if it is not there; stamped as marked now. */
static struct hostdown_entry *
mark(struct hostdown *t, const char *addr, unsigned port)
{
	struct hostdown_entry *e = find(t, addr, port);
	if (e == NULL) {
		if (t->count < t->max) {
			if (t->entry == NULL)
				t->entry = xcalloc(t->max, sizeof *t->entry);
			e = &t->entry[t->count++];
		} else {
			e = &t->entry[0];
			for (size_t i = 1; i < t->count; i++)
				if (t->entry[i].stamp < e->stamp)
					e = &t->entry[i];
		}
		memset(e, 0, sizeof *e);
		strcpy(e->addr, addr); /* fits: checked by valid() */
		e->port = port;
	}
	e->stamp = ++t->ticks;
	return e;
}

long long
hostdown_failed(struct hostdown *t, const char *addr, unsigned port, long long now)
{
	if (!valid(addr, port))
		return -1;
	struct hostdown_entry *e = mark(t, addr, port);
	if (e->period <= 0)
		e->period = HOSTDOWN_FIRST_SECONDS;
	else if (e->period > HOSTDOWN_MAX_SECONDS / 2)
		e->period = HOSTDOWN_MAX_SECONDS;
	else
		e->period *= 2;
	if (e->until < now + e->period)
		e->until = now + e->period;
	return e->until - now;
}

int
hostdown_answered(struct hostdown *t, const char *addr, unsigned port)
{
	if (!valid(addr, port))
		return -1;
	struct hostdown_entry *e = find(t, addr, port);
	if (e == NULL)
		return 0;
	*e = t->entry[--t->count];
	return 1;
}

int
hostdown_merge(struct hostdown *t, const char *addr, unsigned port, long long seconds,
	       long long now)
{
	if (!valid(addr, port) || seconds < 1 || seconds > HOSTDOWN_MAX_SECONDS)
		return -1;
	struct hostdown_entry *e = mark(t, addr, port);
	if (e->period < seconds)
		e->period = seconds;
	if (e->until < now + seconds)
		e->until = now + seconds;
	return 0;
}

long long
hostdown_remaining(const struct hostdown *t, const char *addr, unsigned port, long long now)
{
	const struct hostdown_entry *e = find(t, addr, port);
	return e != NULL && e->until > now ? e->until - now : 0;
}

void
hostdown_records(const struct hostdown *t, unsigned port, long long now, struct buf *out)
{
	for (size_t i = 0; i < t->count; i++) {
		const struct hostdown_entry *e = &t->entry[i];
		if (e->port != port || e->until <= now)
			continue;
		buf_append_str(out, "hostdown ");
		proto_field(out, e->addr);
		buf_printf(out, " %lld\n", e->until - now);
	}
}
