/*
 * dns - destination resolution for mailshot-remote: a mail domain becomes
 * the ordered list of hosts to try, each with its addresses.
 *
 * Rules (RFC 5321 section 5.1, RFC 7505), each outcome classified here,
 * where it happens, with its enhanced status code:
 *   MX records         hosts sorted by preference, in random order among
 *                      equal preferences (the randomness comes from the
 *                      caller's seed, so tests are deterministic);
 *                      duplicates and unusable targets dropped; at most
 *                      DNS_MAX_HOSTS hosts, DNS_MAX_ADDRESSES addresses each.
 *   no MX (NODATA)     the domain itself, preference 0, implicit_mx = 1.
 *   null MX "0 ."      permanent, 5.1.10 "null MX".
 *   NXDOMAIN           permanent, 5.1.2 "no such domain (NXDOMAIN)".
 *   SERVFAIL, REFUSED, timeouts, unreachable servers, bad answers
 *                      temporary, 4.4.3 ("DNS server failure (SERVFAIL)",
 *                      "timeout", ...).
 *   an MX host without addresses
 *                      skipped (counted in hosts_skipped).  When no MX
 *                      host has an address the result is TEMPORARY 4.4.3
 *                      "no MX host has an address": the domain owner
 *                      published MX records, so mail is meant to arrive,
 *                      and a dangling MX is a misconfiguration that gets
 *                      fixed; deferring lets the queue lifetime decide
 *                      (an expiry, never a hard bounce that would put the
 *                      recipient on the suppression list).  Postfix
 *                      defers too.
 *   no MX and no A/AAAA (both NODATA or NXDOMAIN)
 *                      permanent, 5.1.2: the domain publishes no way to
 *                      reach it at all ("incapable of accepting mail",
 *                      RFC 3463).  Any temporary error among those
 *                      lookups makes it temporary instead.
 *   a domain that is not a valid host name
 *                      permanent, 5.1.3 (bad address syntax), no query.
 *   an address literal "[192.0.2.1]", "[IPv6:2001:db8::1]"
 *                      one host, that address, no DNS (implicit_mx = 1).
 * MX targets that are IP literals or "localhost" are resolved like any
 * other name (c-ares turns a literal into its address without a query).
 * Addresses come only from DNS, never /etc/hosts; IPv4 ones first, then
 * IPv6.  Search domains are never appended: destinations are absolute.
 *
 * Why c-ares (1.18.1, classic API): asynchronous, so remote can resolve
 * inside its own poll loop, and its server list is settable, so tests
 * point it at an unbound on loopback.  ARES_FLAG_NOCHECKRESP is set so
 * that a SERVFAIL reaches us as SERVFAIL (and not as "connection
 * refused"); the price is that c-ares does not move on to the next server
 * after a SERVFAIL or REFUSED answer.  Timeouts still move on.
 *
 * Every resolution has a deadline (dns_config.deadline_ms).  When it
 * passes, the lookup ends: with the hosts already resolved if there are
 * any (more preferred hosts still unresolved are then left out), else
 * temporary 4.4.3 "timeout".  Queries still out at that point are
 * abandoned, not waited for.
 *
 * The servers come from control/resolvers (parsed here: outside input,
 * refused loudly and exactly), else from /etc/resolv.conf.
 */
#ifndef MAILSHOT_DNS_H
#define MAILSHOT_DNS_H

#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"

#define DNS_MAX_HOSTS 16
#define DNS_MAX_ADDRESSES 16
#define DNS_MAX_SERVERS 16
#define DNS_NAME_MAX 254		  /* 253 characters and the NUL */
#define DNS_ADDRESS_TEXT_MAX 46		  /* INET6_ADDRSTRLEN */
#define DNS_MAX_FDS (2 * DNS_MAX_SERVERS) /* one UDP and one TCP socket per server */
#define DNS_DEFAULT_DEADLINE_MS 30000L
#define DNS_SERVERS_FILE_MAX 65536 /* control/resolvers is refused beyond this */

/* ---- control/resolvers ---- */

struct dns_server {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network order; the first 4 bytes for AF_INET */
	unsigned port;		/* 1..65535 */
};

struct dns_servers {
	size_t count;
	struct dns_server server[DNS_MAX_SERVERS];
};

/*
 * Parses the content of control/resolvers: one server per line,
 *     127.0.0.1:5354      IPv4, port
 *     192.0.2.53          IPv4, port 53
 *     [::1]:5354          IPv6 (always in brackets), port
 *     [2001:db8::53]      IPv6, port 53
 * Blank lines and lines starting with '#' are ignored, as are blanks
 * around a line and a CR before its LF.  Anything else is refused: host
 * names (resolving them would need DNS), IPv6 without brackets, scope
 * ids, ports outside 1..65535, trailing text (comments too), duplicates,
 * NUL bytes and other control characters, server lines over 200 bytes,
 * more than DNS_MAX_SERVERS servers.  No servers at all is not an error:
 * it means "the system's".
 * Returns 0, or -1 with err set to "NAME:LINE: what" (NAME as given,
 * e.g. "control/resolvers:2: bad port").  The input is never echoed.
 */
int dns_parse_servers(const char *text, size_t len, const char *name, struct dns_servers *out,
		      struct buf *err);

/* Reads and parses the file at path.  A missing file gives 0 servers. */
int dns_read_servers_file(const char *path, struct dns_servers *out, struct buf *err);

/* Appends the canonical form: "127.0.0.1:5354" or "[::1]:5354". */
void dns_format_server(const struct dns_server *server, struct buf *out);

/* ---- results ---- */

enum dns_status {
	DNS_OK = 0,
	DNS_TEMPORARY = 1,
	DNS_PERMANENT = 2,
};

struct dns_address {
	struct sockaddr_storage addr; /* port 0: the caller sets its own */
	socklen_t addr_len;
	char text[DNS_ADDRESS_TEXT_MAX]; /* "127.0.0.2", "::1" */
};

struct dns_host {
	char name[DNS_NAME_MAX]; /* as in the MX record (or the domain) */
	unsigned preference;
	size_t address_count; /* 1..DNS_MAX_ADDRESSES in a result */
	struct dns_address address[DNS_MAX_ADDRESSES];
};

struct dns_result {
	enum dns_status status;
	char code[8];		/* enhanced status: "5.1.10", "5.1.2", "4.4.3"; "" when ok */
	char reason[200];	/* "null MX", "timeout", ...; "" when ok */
	int implicit_mx;	/* no MX records: the domain's own addresses */
	size_t hosts_skipped;	/* MX hosts left out: no address (or none yet at the
				 * deadline), or not a host name */
	size_t host_count;	/* > 0 exactly when status is DNS_OK */
	struct dns_host *hosts; /* in the order to try them */
};

void dns_result_free(struct dns_result *result);

/* ---- the resolver ---- */

#define DNS_FAMILY_IPV4 1
#define DNS_FAMILY_IPV6 2

struct dns_config {
	const struct dns_servers *servers; /* NULL or none: /etc/resolv.conf */
	long deadline_ms;		   /* a whole resolution; 0: DNS_DEFAULT_DEADLINE_MS */
	long try_timeout_ms;		   /* one try of one query (c-ares); 0: 2000 */
	int tries;			   /* tries per query and server (c-ares); 0: 2 */
	int families;			   /* DNS_FAMILY_*; 0: both */
};

struct dns_resolver;
struct dns_lookup;

/* Returns NULL with err set when c-ares cannot be set up (temporary). */
struct dns_resolver *dns_resolver_new(const struct dns_config *config, struct buf *err);
/* Lookups still running end as temporary failures; they must still be
 * given to dns_lookup_finish. */
void dns_resolver_free(struct dns_resolver *resolver);

/*
 * Starts resolving domain (a trailing dot is allowed).  seed drives the
 * order among MX hosts of equal preference: give each resolution its own
 * (random in production, fixed in tests).  Never returns NULL; a lookup
 * may be finished at once (a refused name, an address literal).
 */
struct dns_lookup *dns_lookup_start(struct dns_resolver *resolver, const char *domain,
				    uint64_t seed);
int dns_lookup_done(const struct dns_lookup *lookup);
/*
 * Hands the result over to out (to be freed with dns_result_free) and
 * releases the lookup.  Called before the lookup is done, it cancels it
 * and out reports a temporary failure "cancelled".  out may be NULL.
 */
void dns_lookup_finish(struct dns_lookup *lookup, struct dns_result *out);

/*
 * Driving lookups from a poll loop:
 *   n = dns_resolver_pollfds(r, fds, DNS_MAX_FDS);
 *   poll(fds, n, dns_resolver_timeout(r));   (with the caller's own fds)
 *   dns_resolver_process(r, fds, n);
 * pollfds returns how many sockets c-ares wants watched (filling at most
 * max).  timeout is in milliseconds until the next c-ares retry or lookup
 * deadline, -1 when nothing is pending.  process reads what is ready,
 * retries what timed out, and ends the lookups whose deadline passed.
 */
size_t dns_resolver_pollfds(struct dns_resolver *resolver, struct pollfd *fds, size_t max);
int dns_resolver_timeout(struct dns_resolver *resolver);
void dns_resolver_process(struct dns_resolver *resolver, const struct pollfd *fds, size_t count);

/* The blocking form: one resolution, start to finish (at most the
 * deadline).  Returns out->status. */
int dns_resolve_mx(struct dns_resolver *resolver, const char *domain, struct dns_result *out,
		   uint64_t seed);

/* ---- the pure parts, for tests and the fuzzer ---- */

/* Checks a domain or MX target: 1..253 characters (a trailing dot not
 * counted), labels of 1..63 letters, digits, '-' or '_'.  Returns 0, or
 * -1 with *why set. */
int dns_check_name(const char *name, size_t len, const char **why);

struct dns_mx {
	char name[DNS_NAME_MAX];
	unsigned preference;
};

/* Sorts by preference and shuffles each run of equal preferences with
 * the splitmix64 state *rng. */
void dns_order_mx(struct dns_mx *mx, size_t count, uint64_t *rng);

enum dns_mx_answer {
	DNS_MX_LIST, /* *count hosts (possibly 0, when none is usable) */
	DNS_MX_NONE, /* no MX records in the answer: implicit MX */
	DNS_MX_NULL, /* only null MX records ("0 ."): no mail */
	DNS_MX_BAD,  /* the answer does not parse */
};

/* Turns a NOERROR answer to an MX query into the hosts to try, in order,
 * at most DNS_MAX_HOSTS.  A host listed twice keeps its more preferred
 * entry; null MX records next to real ones are ignored; targets that are
 * not host names are dropped and counted in *unusable. */
enum dns_mx_answer dns_mx_from_answer(const unsigned char *answer, int len, uint64_t *rng,
				      struct dns_mx mx[DNS_MAX_HOSTS], size_t *count,
				      size_t *unusable);

#endif
