/*
 * dkim - DKIM signing (RFC 6376) with RSA-SHA256 and Ed25519-SHA256
 * (RFC 8463), relaxed/relaxed canonicalization.  See docs/dkim.md.
 *
 * A domain's keys live in SPOOL/control/dkim/DOMAIN/SELECTOR.key, one PEM
 * private key per selector, mode 0600.  dkim_signer_load reads them all;
 * dkim_sign then makes one DKIM-Signature header per key (an RSA and an
 * Ed25519 key give the dual signature RFC 8463 recommends), which the
 * caller PREPENDS to the message exactly as it goes on the wire.
 *
 * Errors are appended to err as one line naming the file or the reason
 * ("spool/control/dkim/x.test/s1.key: mode 0644: a private key readable
 * or writable by group or others is refused (chmod 600)").  Callers treat
 * them as permanent (a configuration or message to fix); out of memory
 * exits 111 as everywhere.
 *
 * A signer keeps scratch space for speed, so one signer must not be used
 * by two threads at once (the mailshot programs are single-threaded).
 */
#ifndef MAILSHOT_DKIM_H
#define MAILSHOT_DKIM_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

/* Production minimum for RSA keys (RFC 8301 says 1024 at least, 2048
 * is what receivers expect today). */
#define DKIM_MIN_RSA_BITS 2048
/* Largest RSA key accepted (the signature must fit a fixed buffer). */
#define DKIM_MAX_RSA_BITS 8192
/* Most keys (selectors) one domain may have. */
#define DKIM_MAX_KEYS 8
/* Longest selector: one DNS label's worth. */
#define DKIM_SELECTOR_MAX 63

struct dkim_key;    /* one private key: RSA (rsa-sha256) or Ed25519 (ed25519-sha256) */
struct dkim_signer; /* a domain's keys, each with its selector */

/*
 * Loads a PEM private key (PKCS#8 "PRIVATE KEY" or traditional "RSA
 * PRIVATE KEY"; never prompts for a passphrase).  Refuses, returning NULL
 * with a message naming path in err: a file that cannot be opened or is
 * not a regular file, one readable or writable by group or others
 * (mode & 077), one over 64 KiB, a certificate or public key, an
 * encrypted key, anything else not a PEM private key, a key that is
 * neither RSA nor Ed25519, RSA below min_rsa_bits (production:
 * DKIM_MIN_RSA_BITS; tests may pass 1024 for the RFC 8463 vector) or
 * above DKIM_MAX_RSA_BITS.
 */
struct dkim_key *dkim_key_load(const char *path, unsigned min_rsa_bits, struct buf *err);
void dkim_key_free(struct dkim_key *k);
/* 1 for Ed25519, 0 for RSA; the key size in bits. */
int dkim_key_is_ed25519(const struct dkim_key *k);
unsigned dkim_key_bits(const struct dkim_key *k);
/* Appends the DNS TXT record to publish at SELECTOR._domainkey.DOMAIN:
 * "v=DKIM1; k=rsa; p=BASE64" (the DER SubjectPublicKeyInfo) or
 * "v=DKIM1; k=ed25519; p=BASE64" (the raw 32-byte public key). */
void dkim_key_txt(const struct dkim_key *k, struct buf *txt);

/* 1 when name is a valid selector: 1 to 63 of [a-z0-9-] and dots, no
 * leading, trailing or double dot. */
int dkim_selector_valid(const char *name, size_t len);
/* 1 when name is a usable d= domain: 1 to 253 of [A-Za-z0-9-] and dots,
 * labels of 1 to 63. */
int dkim_domain_valid(const char *name, size_t len);

/*
 * Loads every ROOT/control/dkim/DOMAIN/SELECTOR.key (DOMAIN exactly as
 * given, so a caller that lists control/dkim/ finds every directory; d=
 * is DOMAIN in lower case; keygen makes lower-case directories).  Files
 * not ending in ".key", and names starting with a dot, are ignored, so
 * the published TXT record may be kept next to the key as SELECTOR.txt.  Returns an empty
 * signer (count 0: do not sign) when the directory does not exist; NULL
 * with err on an invalid domain, an unreadable directory, a bad selector
 * name, a key dkim_key_load refuses (RSA minimum DKIM_MIN_RSA_BITS), or
 * more than DKIM_MAX_KEYS keys.
 */
struct dkim_signer *dkim_signer_load(const char *root, const char *domain, struct buf *err);
/* An empty signer for domain (NULL with err when it is not valid), and
 * adding a loaded key under a selector (the signer takes k, also on
 * failure: -1 with err for a bad selector or too many keys).  For tests
 * and tools that name key files themselves.  In every signer the keys
 * are ordered RSA first, then by selector, and so are the signatures. */
struct dkim_signer *dkim_signer_new(const char *domain, struct buf *err);
int dkim_signer_add(struct dkim_signer *s, struct dkim_key *k, const char *selector,
		    struct buf *err);
size_t dkim_signer_count(const struct dkim_signer *s);
void dkim_signer_free(struct dkim_signer *s);

/*
 * Signs msg, a whole RFC 5322 message with CRLF line ends as it goes on
 * the wire: appends to out one "DKIM-Signature: ...\r\n" header per key,
 * folded at 78 columns (only a d= or s= too long to fit can make a line
 * longer; never over 998), to be PREPENDED to the message.  Tags:
 * v=1; a=; c=relaxed/relaxed; d=; s=; t=now; h=; bh=; b= (no l=, no i=,
 * no x=).  The body hash is computed once for all keys.
 *
 * Signed header fields, each only when present and listed as many times
 * as it occurs: from (oversigned: once more than present, so no From can
 * be added), to, subject, date, message-id, mime-version, content-type,
 * reply-to, list-unsubscribe, list-unsubscribe-post, feedback-id, cc,
 * in-reply-to, references.
 *
 * Returns 0 (also with nothing appended for an empty signer), or -1
 * with err: no From, more than one From, a header line not ended by CRLF
 * or without a colon, a bare CR or LF anywhere (they do not cross SMTP
 * unchanged), more than 256 signed header fields, or a signing
 * failure in OpenSSL.
 */
int dkim_sign(const struct dkim_signer *s, const char *msg, size_t len, time_t now, struct buf *out,
	      struct buf *err);

/*
 * Makes a key for `mailshot-enqueue --dkim-keygen DOMAIN SELECTOR
 * [--ed25519]`: RSA-2048, or Ed25519 when ed25519 is non-zero.  Writes
 * the PEM (PKCS#8) private key to path, mode 0600, through a temporary
 * file that is fsynced and then linked to path, so path is never
 * overwritten and never half written.  Appends the TXT record (as
 * dkim_key_txt) to txt.  Returns 0, or -1 with err (path exists: "file
 * exists", directory missing, ...).
 */
int dkim_keygen(const char *path, int ed25519, struct buf *txt, struct buf *err);
/* The same at ROOT/control/dkim/DOMAIN/SELECTOR.key, creating control/dkim
 * and control/dkim/DOMAIN (mode 0700) when missing; refuses an invalid
 * domain or selector.  The key's path is appended to path_out. */
int dkim_keygen_selector(const char *root, const char *domain, const char *selector, int ed25519,
			 struct buf *txt, struct buf *path_out, struct buf *err);

/*
 * Relaxed canonicalization (RFC 6376 3.4.2 and 3.4.4), exposed for tests
 * and fuzzing.  dkim_canon_header_relaxed takes one header field "Name:
 * value" (folded or not, with or without its final CRLF) and appends
 * "name:value\r\n": name lower-cased (ASCII) without trailing WSP, every
 * CRLF removed (unfolding), WSP runs made one SP, WSP at the start and
 * end of the value removed.  A field without a colon is taken as a name
 * with an empty value.  dkim_canon_body_relaxed appends the canonical
 * body: WSP at line ends removed, WSP runs made one SP, empty lines at
 * the end removed, a final CRLF added to a last line without one; an
 * empty body (or one of only empty lines) stays empty.  Lines end at
 * CRLF only; a lone CR or LF is an ordinary character.
 */
void dkim_canon_header_relaxed(const char *field, size_t len, struct buf *out);
void dkim_canon_body_relaxed(const char *body, size_t len, struct buf *out);

#endif
