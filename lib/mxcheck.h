/*
 * mxcheck - is every mail server a recipient domain lists alive?  Each
 * MX host is resolved (A, AAAA) and each of its addresses connected to
 * and read up to the greeting, all at once, each within a timeout; after
 * a 220 the probe says QUIT.  The seed's "ensure all mail servers listed
 * for your domain are active": a dead MX costs mail only under load,
 * when every listed host gets used.  Rules: docs/domcheck.md.
 */
#ifndef MAILSHOT_MXCHECK_H
#define MAILSHOT_MXCHECK_H

#include "checktable.h"
#include "dnsq.h"

#define MXCHECK_MAX_HOSTS 16
#define MXCHECK_MAX_ADDRESSES 16 /* per host */

struct mxcheck_config {
	struct dnsq *dns;
	unsigned port;	/* control/smtpport */
	int timeout_ms; /* connection and greeting, per address */
};

/* Adds the row "mx DOMAIN" (the summary) and, after it, one
 * "mx-host HOST ADDRESS" row per address probed (ADDRESS "-" for a host
 * without one).  Returns the summary's result. */
enum check_result mxcheck_domain(const struct mxcheck_config *c, const char *domain,
				 struct check_table *t);

#endif
