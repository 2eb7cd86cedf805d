/*
 * dnsq - blocking DNS queries of any type (TXT, MX, A, AAAA, PTR) for
 * mailshot-report's checks, on c-ares with the servers of
 * control/resolvers (lib/dns.h parses that file), so that the checks, the
 * SPF library and mailshot-remote see one DNS view.  docs/domcheck.md.
 *
 * Every answer is classified once, here: ok, nxdomain, nodata, temporary
 * (SERVFAIL, REFUSED, timeouts, unreachable servers) or malformed (an
 * answer that does not parse, a name that is not a domain name).
 *
 * Answers, failures included, are cached for the life of the resolver:
 * one run asks each (name, type) once and never sees two views.  The
 * answer returned belongs to the resolver and lives until dnsq_free.
 * Queries are bounded: each has a deadline, and at most DNSQ_MAX_QUERIES
 * go out per resolver (beyond: "temporary: query limit reached").
 */
#ifndef MAILSHOT_DNSQ_H
#define MAILSHOT_DNSQ_H

#include <stddef.h>

#include "buf.h"
#include "dns.h"

#define DNSQ_MAX_QUERIES 2000
#define DNSQ_MAX_RECORDS 256 /* records kept per answer; the rest are dropped */

/* Record types (the DNS numbers). */
#define DNSQ_A 1
#define DNSQ_PTR 12
#define DNSQ_MX 15
#define DNSQ_TXT 16
#define DNSQ_AAAA 28

enum dnsq_status {
	DNSQ_OK,
	DNSQ_NXDOMAIN,
	DNSQ_NODATA,
	DNSQ_TEMPORARY,
	DNSQ_MALFORMED,
};

struct dnsq_rr {
	int type;
	unsigned preference;	/* MX */
	unsigned char addr[16]; /* A: 4 bytes, AAAA: 16 */
	char *text;		/* TXT: the strings joined (may hold NULs: see len);
				 * MX, PTR: the name without a final dot, "" for the root */
	size_t len;		/* of text */
	size_t strings;		/* TXT: character-strings in the record */
	unsigned ttl;
};

struct dnsq_answer {
	enum dnsq_status status;
	const char *why; /* "" when ok; "SERVFAIL", "timeout", ... (static) */
	size_t count;	 /* records of the type asked (status ok: > 0) */
	struct dnsq_rr *rr;
};

struct dnsq_config {
	const struct dns_servers *servers; /* NULL or none: /etc/resolv.conf */
	long deadline_ms;		   /* one query; 0: 30000 */
};

struct dnsq;

/* NULL with err when c-ares cannot be set up (temporary). */
struct dnsq *dnsq_new(const struct dnsq_config *config, struct buf *err);
void dnsq_free(struct dnsq *q);

/* Asks (name, type), or answers from the cache.  A final dot on name is
 * allowed; case is ignored.  Never NULL. */
const struct dnsq_answer *dnsq_query(struct dnsq *q, const char *name, int type);
/* Queries that went out (cache hits not counted). */
size_t dnsq_sent(const struct dnsq *q);

/* "ok", "no such domain (NXDOMAIN)", "no records of that type",
 * "temporary DNS failure", "malformed DNS answer". */
const char *dnsq_status_text(enum dnsq_status s);
/* The answer in words for a report: "no such domain (NXDOMAIN)",
 * "temporary DNS failure: SERVFAIL", ... */
void dnsq_describe(const struct dnsq_answer *a, struct buf *out);

/*
 * The pure part, for tests and the fuzzer: parses a DNS message (as the
 * server sent it) into the records of the given type in its answer
 * section, whatever their owner (CNAME chains are followed by the
 * server).  Sets out->status to ok, nodata (no such records) or
 * malformed (why set), and out->rr (free with dnsq_answer_clear).
 */
void dnsq_parse_answer(const unsigned char *msg, size_t len, int type, struct dnsq_answer *out);
void dnsq_answer_clear(struct dnsq_answer *a);

#endif
