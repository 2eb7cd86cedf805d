/*
 * addr - e-mail addresses: checking envelope addresses (RFC 5321, with
 * RFC 6531 UTF-8), normalizing them for comparison, and splitting the
 * "Display Name <local@domain>" form users give on the command line.
 *
 * Promises: pure functions on bounded input, no allocation except into
 * the caller's buf; every refusal comes with a short human reason
 * ("domain label starts with a hyphen").
 */
#ifndef MAILSHOT_ADDR_H
#define MAILSHOT_ADDR_H

#include <stddef.h>

#include "buf.h"

#define ADDR_MAX_LOCAL 64
#define ADDR_MAX_DOMAIN 255
#define ADDR_MAX 254 /* whole path, RFC 5321 4.5.3.1.3 with RFC 3696 errata */

/* Flags for addr_check. */
#define ADDR_ALLOW_LITERAL 0x01 /* accept domain literals [192.0.2.1], [IPv6:...] */
#define ADDR_ALLOW_NODOT 0x02   /* accept a domain without a dot ("localhost") */

/* Checks that s[0..len) is a mailbox usable as an SMTP envelope address:
 * local part a dot-atom or a quoted string (no CFWS, no obsolete forms),
 * '@', a domain of LDH labels (or UTF-8 U-labels) or, with
 * ADDR_ALLOW_LITERAL, an address literal.  Returns 0 if valid; -1 if not,
 * with *why (if not NULL) set to a static reason.  *needs_utf8 (if not
 * NULL) is set to 1 when the address has non-ASCII characters (needs
 * SMTPUTF8), else 0; it is meaningful only when 0 is returned.  Never
 * reads outside s[0..len); embedded NULs are refused, not a terminator. */
int addr_check(const char *s, size_t len, int flags, const char **why, int *needs_utf8);

/* Appends to out the comparison key of a valid address: domain in lower
 * case; the local part too when fold_local (the default everywhere but a
 * site that knows its receivers distinguish case).  ASCII folding only. */
void addr_normalize(const char *s, size_t len, int fold_local, struct buf *out);

/* Splits "Name <addr>", "<addr>", or "addr" (as given to --from) into a
 * display name (possibly empty, quotes removed, unescaped) and the
 * address.  Does not check the address: call addr_check on it.  The
 * contents of name and address are replaced (both are empty after a
 * failure).  Blanks (space, tab) around the whole, the name and inside
 * <> are trimmed.  Returns 0, or -1 with *why when the form is broken
 * (unbalanced <>, text after '>', unterminated quotes, empty address, a
 * control character in the display name). */
int addr_split_mailbox(const char *s, size_t len, struct buf *name, struct buf *address,
		       const char **why);

#endif
