/*
 * dnsares - what lib/dns.c (remote's resolver) and lib/dnsq.c (the
 * domain check's) share of c-ares.
 */
#ifndef MAILSHOT_DNSARES_H
#define MAILSHOT_DNSARES_H

#include <ares.h>

#include "buf.h"
#include "dns.h"

/* Points channel at the servers of control/resolvers (none: leaves the
 * system's).  Returns 0, or -1 with err. */
int dns_ares_servers(ares_channel channel, const struct dns_servers *servers, struct buf *err);

#endif
