/*
 * token - the authenticated tokens that name a campaign's recipient in
 * VERP envelope senders ('v') and unsubscribe mailto addresses ('u').
 * Format: docs/bounce.md ("Token").  Pure functions: resolving a token
 * to its address (reading the campaign ledger) is the caller's job.
 */
#ifndef MAILSHOT_TOKEN_H
#define MAILSHOT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_MAC_LEN 10
#define TOKEN_TEXT_MAX 40     /* kind + 35 characters + NUL, with room */
#define TOKEN_SECRET_MIN 32   /* bytes of control/secret */
#define TOKEN_OFFSET_MAX ((UINT64_C(1) << 40) - 1)

struct token {
	char kind;              /* 'v' or 'u' */
	uint32_t campaign_hash; /* token_campaign_hash of the campaign name */
	uint64_t offset;        /* of the recipient's key in the ledger; 0 = none */
	unsigned scope;         /* 'u' only: 0 = all mail, 1 = the campaign's type */
	unsigned day;           /* 'u' only: the day it was made (days since 1970, UTC) */
	unsigned char mac[TOKEN_MAC_LEN];
};

/* The first 4 bytes of SHA-256 of the name, big-endian. */
uint32_t token_campaign_hash(const char *campaign);

/*
 * Writes the token text for (kind, campaign, offset, scope, day,
 * address) to out (NUL-terminated).  kind is 'v' or 'u'; offset at most
 * TOKEN_OFFSET_MAX; scope 0 or 1 and day (days since 1970, below 65536:
 * an unsubscribe token expires) are ignored for 'v'; address as it is
 * in the ledger (normalized), "" when offset is 0.
 */
void token_make(char kind, const char *secret, size_t secret_len, const char *campaign,
		uint64_t offset, unsigned scope, unsigned day, const char *address,
		char out[TOKEN_TEXT_MAX]);

/* Decodes exactly len bytes of token text (case-insensitive).  Returns 0,
 * or -1 when it is not a well-formed token of a known kind. */
int token_decode(const char *text, size_t len, struct token *t);

/* Whether t was made with this secret for this campaign and address
 * (constant-time MAC comparison).  Returns 1 or 0. */
int token_verify(const struct token *t, const char *secret, size_t secret_len,
		 const char *campaign, const char *address);

/*
 * Looks for a token in an address "LOCAL DELIM TOKEN @ DOMAIN" (angle
 * brackets around it are allowed): the local part must end in DELIM
 * followed by a whole token.  Returns 0 with *t filled, or -1.
 */
int token_find(const char *address, size_t len, char delim, struct token *t);

/*
 * Builds the envelope sender for bounce_address "LOCAL@DOMAIN":
 * LOCAL DELIM TOKEN @ DOMAIN, into out (size outsz).  Returns 0, or -1
 * when bounce_address has no '@' or the result does not fit.
 */
int token_address(const char *bounce_address, char delim, const char *token, char *out,
		  size_t outsz);

#endif
