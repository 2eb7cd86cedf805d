/*
 * route - control/smtproutes and control/domains: where mail for a domain
 * goes, and how it must be treated there.
 *
 * smtproutes, one route per line (qmail's format, with IPv6):
 *     example.com:relay.example.net:2525   that domain, to that host
 *     .example.com:relay.example.net       every subdomain of example.com
 *     :[127.0.0.1]:2525                    everything else (smarthost)
 * The host is a name (resolved as an MX domain: MX, else A/AAAA, as
 * Postfix treats an unbracketed relayhost), or an address in brackets
 * ("[192.0.2.1]", "[::1]") used as is.  The port defaults to 25.  An
 * exact domain beats the longest matching ".suffix", which beats the
 * empty default.  Domains compare without regard to case.
 *
 * domains, one destination per line, "DOMAIN key=value ...":
 *     example.com  concurrency=5 rate=60 tls=verify
 *     *            tls=may
 * keys: concurrency (1..100), rate (messages per minute, 0 = no limit),
 * tls (may | encrypt | verify).  "*" sets the defaults.
 *
 * Both are outside input: every line is checked and a bad one refused
 * with "NAME:LINE: what", never guessed.
 */
#ifndef MAILSHOT_ROUTE_H
#define MAILSHOT_ROUTE_H

#include <stddef.h>

#include "buf.h"

#define ROUTE_MAX_LINE 1024

struct route {
	char *domain; /* "" = default; ".x.org" = subdomains of x.org */
	char *host;   /* name, or an address literal in brackets */
	unsigned port;
};

struct routes {
	struct route *list;
	size_t count;
};

int route_parse(const char *text, size_t len, const char *name, struct routes *out,
		struct buf *err);
/* The route for domain, or NULL: use its MX records. */
const struct route *route_find(const struct routes *r, const char *domain);
void route_free(struct routes *r);

enum route_tls { ROUTE_TLS_MAY, ROUTE_TLS_ENCRYPT, ROUTE_TLS_VERIFY };

struct domain_policy {
	char *domain; /* "*" for the defaults */
	int concurrency; /* 0 = not set */
	int rate;	 /* per minute; -1 = not set, 0 = no limit */
	int tls;	 /* enum route_tls, or -1 = not set */
};

struct domain_policies {
	struct domain_policy *list;
	size_t count;
};

int domains_parse(const char *text, size_t len, const char *name, struct domain_policies *out,
		  struct buf *err);
/* The effective policy: the domain's line over the "*" line over the
 * built-in defaults (concurrency 10, rate 0, tls may). */
void domains_lookup(const struct domain_policies *p, const char *domain,
		    struct domain_policy *out);
void domains_free(struct domain_policies *p);

#endif
