/*
 * spfdns - SPF evaluation with libspf2 (1.2.10), on the DNS of lib/dnsq.h
 * so that it sees exactly what the rest of the check sees (the servers
 * of control/resolvers, one cached view per run).  docs/domcheck.md.
 *
 * libspf2's own resolver layer uses libresolv and /etc/resolv.conf; here
 * it gets a custom SPF_dns_server_t whose lookup callback asks dnsq.
 * libspf2's headers stay inside spfdns.c: callers see only this.
 *
 * libspf2 quirks handled here:
 *   - SPF_request_query_mailfrom passes any client in 127.0.0.0/8 or ::1
 *     without looking at the record ("localhost is always allowed").  A
 *     check must judge the record, so the record is compiled and
 *     interpreted directly (SPF_record_compile, SPF_record_interpret),
 *     which is all query_mailfrom does besides that shortcut.
 *   - A temporary DNS failure can come back as result "invalid" with
 *     SPF_E_DNS_ERROR: reported as temperror.
 *   - Its log handlers print to stderr: replaced by silent ones (errors
 *     reach us through the response instead); its fatal handler (an
 *     internal assertion) exits 111 with a message.
 */
#ifndef MAILSHOT_SPFDNS_H
#define MAILSHOT_SPFDNS_H

#include "buf.h"
#include "dnsq.h"

enum spf_verdict {
	SPF_VERDICT_PASS,
	SPF_VERDICT_FAIL,
	SPF_VERDICT_SOFTFAIL,
	SPF_VERDICT_NEUTRAL,
	SPF_VERDICT_NONE,
	SPF_VERDICT_PERMERROR,
	SPF_VERDICT_TEMPERROR,
};

struct spf_outcome {
	enum spf_verdict verdict;
	char detail[400]; /* libspf2's error messages, or its comment; "" when none */
};

struct spfeval;

/* NULL with err when libspf2 cannot be set up.  q must outlive it. */
struct spfeval *spfeval_new(struct dnsq *q, struct buf *err);
void spfeval_free(struct spfeval *e);

/*
 * Evaluates the SPF record text (as published by domain) for a client
 * at ip (IPv4 or IPv6 text) sending MAIL FROM postmaster@domain;
 * includes and redirects are looked up through dnsq.  Returns 0 with
 * *out filled, -1 when ip is not an address.
 */
int spfeval_record(struct spfeval *e, const char *domain, const char *record, const char *ip,
		   struct spf_outcome *out);

/* "pass", "fail", "softfail", "neutral", "none", "permerror", "temperror". */
const char *spf_verdict_name(enum spf_verdict v);

#endif
