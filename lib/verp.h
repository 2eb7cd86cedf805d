/*
 * verp - finding and verifying the tokens of inbound mail: which
 * campaign and recipient a VERP or unsubscribe address names
 * (docs/bounce.md, "Token").  Reads campaigns/ and the ledgers; writes
 * nothing.
 */
#ifndef MAILSHOT_VERP_H
#define MAILSHOT_VERP_H

#include <stddef.h>

#include "buf.h"
#include "token.h"

struct verp_match {
	char kind;    /* 'v' or 'u' */
	unsigned scope;
	unsigned day; /* 'u': the day it was made (days since 1970) */
	char campaign[72];
	struct buf address; /* the ledger's key; "" for a test send's token */
};

/*
 * Resolves a decoded token: the campaigns under root whose name hashes
 * to its campaign hash, the key at its ledger offset, the MAC.  Returns
 * 1 when exactly one campaign verifies (*out filled), 0 when none does
 * (or several: never guess), -1 with errno on an I/O error.
 */
int verp_resolve(const char *root, const char *secret, size_t secret_len, const struct token *t,
		 struct verp_match *out);

/*
 * Tries every word holding an '@' in text (addresses separated by blanks,
 * commas, angle brackets, quotes or lines), in order.  Returns 1 for the
 * first token that verifies (*out), 0 when there is no token at all, -1
 * when there are tokens but none verifies (the first such word in *bad),
 * -2 with errno on an I/O error.
 */
int verp_find(const char *root, const char *secret, size_t secret_len, char delim,
	      const char *text, size_t len, struct verp_match *out, struct buf *bad);

/* The suppression scope a 'u' match asks for: "*" (all mail), or for
 * scope 1 the campaign's type from campaigns/C/type ("*" when it has
 * none: the safe side).  Written to out (at least 65 bytes). */
void verp_scope(const char *root, const struct verp_match *m, char *out, size_t size);

/* Whether a 'u' match is still valid on day today, with a lifetime of
 * lifetime days (0 = for ever): 1 or 0.  'v' matches never expire. */
int verp_alive(const struct verp_match *m, unsigned today, unsigned lifetime);

#endif
