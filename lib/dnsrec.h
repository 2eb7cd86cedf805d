/*
 * dnsrec - parsers for the DNS TXT records a sending domain publishes:
 * DKIM key records (RFC 6376 3.6.1), DMARC records (RFC 7489 6.3), SPF
 * records (RFC 7208 4.6, 5, 6), and what is printed back: zone-file
 * lines and SPF records with our addresses added.  See docs/domcheck.md.
 *
 * Everything here is pure (no DNS, no files) and takes outside input:
 * a record is refused with a fixed reason (*why, a static string; the
 * input is never echoed), never guessed.  Parsed values point into the
 * caller's text (no copies), so the text must outlive the result.
 */
#ifndef MAILSHOT_DNSREC_H
#define MAILSHOT_DNSREC_H

#include <stddef.h>

#include "buf.h"

#define DNSREC_MAX_TAGS 64
#define DNSREC_MAX_TERMS 128

/* A slice of the record text. */
struct dnsrec_str {
	const char *p;
	size_t len;
};

/* ---- tag-lists (DKIM and DMARC) ---- */

struct dnsrec_tag {
	struct dnsrec_str name, value; /* value without surrounding whitespace */
};

struct dnsrec_tags {
	size_t count;
	struct dnsrec_tag tag[DNSREC_MAX_TAGS];
};

/*
 * RFC 6376 3.2: tag-spec *(";" tag-spec) [";"], a tag-spec being
 * [FWS] name [FWS] "=" [FWS] value [FWS]; name = ALPHA *(ALPHA / DIGIT /
 * "_"); value = printable ASCII except ";" (0x21-0x3A, 0x3C-0x7E) in
 * runs separated by whitespace.  Whitespace is SP, HTAB, CR and LF.
 * Refused: an empty tag-spec (";;"), a missing "=", a bad name or value
 * character (controls, non-ASCII), a duplicate name, more than
 * DNSREC_MAX_TAGS tags.  Returns 0, or -1 with *why.
 */
int dnsrec_tags_parse(const char *text, size_t len, struct dnsrec_tags *out, const char **why);
/* The tag's value, or NULL when absent (names compare exactly). */
const struct dnsrec_str *dnsrec_tag_get(const struct dnsrec_tags *t, const char *name);

/* Base64 (RFC 4648, with padding; whitespace anywhere is skipped, as in
 * DKIM's p=).  Returns 0 with the bytes appended to out, or -1. */
int dnsrec_base64_decode(const char *text, size_t len, struct buf *out);

/* ---- DKIM key records ---- */

enum dnsrec_dkim_key { DNSREC_KEY_RSA, DNSREC_KEY_ED25519, DNSREC_KEY_OTHER };

struct dnsrec_dkim {
	enum dnsrec_dkim_key key_type; /* k=, default rsa */
	int revoked;		       /* p= empty */
	int testing;		       /* t= has y */
	int sha256_ok;		       /* h= absent or lists sha256 */
	int email_ok;		       /* s= absent, or lists * or email */
	struct buf key;		       /* p= decoded (the caller frees it) */
};

/*
 * A DKIM key record (RFC 6376 3.6.1): a tag-list; v= when present must
 * be first and "DKIM1"; p= is required and base64 (empty = revoked).
 * Unknown tags are ignored, as the RFC says.  Returns 0, or -1 with *why
 * (out->key is then empty, nothing to free).
 */
int dnsrec_dkim_parse(const char *text, size_t len, struct dnsrec_dkim *out, const char **why);

/* ---- DMARC records ---- */

enum dnsrec_dmarc_policy { DNSREC_P_NONE, DNSREC_P_QUARANTINE, DNSREC_P_REJECT };

struct dnsrec_dmarc {
	enum dnsrec_dmarc_policy p;
	int has_sp;
	enum dnsrec_dmarc_policy sp;
	int strict_dkim, strict_spf; /* adkim=s, aspf=s */
	int pct;		     /* 0..100, default 100 */
	struct dnsrec_str rua;	     /* len 0 when absent */
};

/* 1 when the record is a DMARC record at all: it starts with "v" WSP*
 * "=" WSP* "DMARC1" and then WSP, ";" or the end (RFC 7489 6.6.3). */
int dnsrec_is_dmarc(const char *text, size_t len);
/*
 * A DMARC record: a tag-list whose first tag is v=DMARC1; p= required
 * (none, quarantine, reject; case ignored); sp= the same; adkim= and
 * aspf= r or s; pct= 0..100.  Other tags are ignored (RFC 7489 6.3).
 * Returns 0, or -1 with *why.
 */
int dnsrec_dmarc_parse(const char *text, size_t len, struct dnsrec_dmarc *out, const char **why);
const char *dnsrec_policy_name(enum dnsrec_dmarc_policy p);

/* ---- SPF records ---- */

enum dnsrec_spf_kind {
	SPF_ALL,
	SPF_INCLUDE,
	SPF_A,
	SPF_MX,
	SPF_PTR,
	SPF_IP4,
	SPF_IP6,
	SPF_EXISTS,
	SPF_REDIRECT, /* modifier */
	SPF_EXP,      /* modifier */
	SPF_OTHER_MODIFIER,
};

struct dnsrec_spf_term {
	enum dnsrec_spf_kind kind;
	char qualifier;		/* '+', '-', '~', '?' (mechanisms) */
	struct dnsrec_str text; /* the whole term as written */
	struct dnsrec_str arg;	/* domain-spec, address or modifier value; may be empty */
	int has_macro;		/* arg holds a '%' macro */
};

struct dnsrec_spf {
	size_t count;
	struct dnsrec_spf_term term[DNSREC_MAX_TERMS];
	int lookups; /* DNS-querying terms of this record alone */
};

/* 1 when text is an SPF record: "v=spf1" (case ignored) followed by SP
 * or the end (RFC 7208 4.5). */
int dnsrec_is_spf(const char *text, size_t len);
/*
 * An SPF record (RFC 7208 12): "v=spf1" then terms separated by spaces.
 * Mechanisms all, include, a, mx, ptr, ip4, ip6, exists with an optional
 * qualifier; modifiers name=value.  Refused: an unknown mechanism; a
 * missing or bad argument (include/exists without a domain, ip4/ip6 that
 * is not an address, a prefix out of range, all with an argument); a
 * domain-spec with characters outside printable ASCII; two redirect= or
 * two exp=; characters other than printable ASCII and SP anywhere; more
 * than DNSREC_MAX_TERMS terms.  Returns 0, or -1 with *why.
 */
int dnsrec_spf_parse(const char *text, size_t len, struct dnsrec_spf *out, const char **why);

/*
 * Appends the record text with the mechanisms for the addresses added
 * ("ip4:192.0.2.10", "ip6:2001:db8::1"), in the given order, each one
 * not already present as such: inserted before the first "all" term,
 * else before the first modifier, else at the end; or, with at_start,
 * right after "v=spf1".  A NULL record makes "v=spf1 ... -all".
 */
void dnsrec_spf_with_ips(const char *record, const char *const *ips, size_t nips, int at_start,
			 struct buf *out);

/* ---- output ---- */

/* Appends "OWNER. IN TXT "..." "..."": the text cut into strings of at
 * most 255 octets, each with '"' and '\' escaped and bytes outside
 * printable ASCII written \DDD (RFC 1035 5.1). */
void dnsrec_zone_txt(const char *owner, const char *text, size_t len, struct buf *out);

/*
 * The organizational domain (DMARC, RFC 7489 3.2): the registrable
 * domain by the Public Suffix List (libpsl: the newer of its built-in
 * list and the system's, /usr/share/publicsuffix), or the domain itself
 * when it is a public suffix.  Should libpsl have no list, approximated:
 * the last two labels, or three when the next-to-last is one of ac co
 * com edu gov net org and the last is two letters ("example.co.uk").
 * Appends it in lower case, without a final dot.
 */
void dnsrec_org_domain(const char *domain, struct buf *out);

#endif
