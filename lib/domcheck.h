/*
 * domcheck - `mailshot-report check` and `mailshot-report it-sheet`:
 * is a sending domain set up so its mail is trusted (SPF, DKIM, DMARC),
 * and do a recipient domain's mail servers answer.  DNS goes through
 * control/resolvers, as in mailshot-remote.  docs/domcheck.md.
 */
#ifndef MAILSHOT_DOMCHECK_H
#define MAILSHOT_DOMCHECK_H

#include <stdarg.h>
#include <stddef.h>

#include "dns.h"

/* Each returns the exit code; argv[0] is the command's name ("check",
 * "it-sheet"), the options follow.  check: 0 all PASS or WARN, 1 any
 * FAIL, 111 any TEMP (and no FAIL) or a control file that cannot be
 * read, 100 bad usage or input.  it-sheet (lib/itsheet.c): see
 * docs/domcheck.md. */
int domcheck_main(const char *spool, int argc, char **argv);
int itsheet_main(const char *spool, int argc, char **argv);

/* ---- shared by check and it-sheet ---- */

#define DOMCHECK_MAX_IPS 32

/* What both commands read from control/ (docs/domcheck.md). */
struct domcheck_env {
	const char *root;
	struct dns_servers servers; /* control/resolvers */
	long dns_timeout_ms;	    /* control/timeoutdns */
	unsigned smtp_port;	    /* control/smtpport */
	char outgoingip[64];	    /* control/outgoingip, canonical; "" when unset */
	char bounce_address[256];   /* control/bounceaddress; "" when unset */
	char bounce_domain[256];    /* its domain, lower case; "" when unset */
};

/* Loads env from ROOT/control.  Returns 0, or the exit code (100 for a
 * bad value, 111 for a file that cannot be read) after the message. */
int domcheck_env_load(struct domcheck_env *env, const char *root);

/* The selectors of ROOT/control/dkim/DOMAIN/ (DOMAIN lower-cased):
 * sorted, each a malloc'ed string (free each, then the array).  Files
 * that are not SELECTOR.key are skipped; a .key file whose name is not a
 * valid selector is counted in *bad.  Returns the count (0 also when the
 * directory does not exist). */
size_t domcheck_selectors(const char *root, const char *domain, char ***out, size_t *bad);

/* "mailshot-report: fatal: ..." on stderr; returns code. */
int domcheck_fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Canonical text of an IPv4 or IPv6 address into out (64 bytes);
 * -1 when text is not one. */
int domcheck_ip_canonical(const char *text, char out[64]);

#endif
