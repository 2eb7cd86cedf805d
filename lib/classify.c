/*
 * classify - reason and severity of one delivery failure.
 * See classify.h for the contract.
 *
 * DESCRIPTION
 *	The text is copied, lower-cased, with every run of white space and
 *	control characters (NUL included) made one space, and cut at
 *	CLASSIFY_MAX_TEXT octets; the wrapper wording of classifywords.h
 *	(a reporting MTA's label for a status class, a retry count, a
 *	product name) is blanked out, so that only the server's own words
 *	are read; then phrase groups are tried in table order with plain
 *	substring search (no regular expressions: the time is bounded by
 *	text length times the table size, whatever the input).  The lists
 *	themselves are in classifywords.c.
 *
 *	The decision has three tiers:
 *	  1. a "strong" phrase group: wording specific enough to beat any
 *	     status (servers answer 550 5.0.0 or 554 5.7.1 to an unknown
 *	     user all the time);
 *	  2. the enhanced status, when it is specific (not X.0.0);
 *	  3. a "weak" phrase group ("rejected", "denied", "blocked"), then
 *	     the reply code alone, then BR_OTHER.
 *
 *	Order inside tier 1 matters where phrases overlap: blocklist names
 *	("spamhaus", "spamcop") come before the spam words; "mailbox size
 *	limit" (full) before "size limit" (too large); "domain does not
 *	exist" before "does not exist"; disabled/suspended accounts before
 *	user-unknown; "expired" wording first, because an expiry report
 *	quotes the last temporary error it saw.
 *
 *	Why a user-unknown or no-such-domain answer to the end of DATA is a
 *	policy block: the server accepted the recipient at RCPT TO, so the
 *	mailbox and its domain exist; what it refuses after reading the
 *	message is this message or this sender (Japanese mobile carriers
 *	answer "550 Unknown user" at end of DATA when the recipient's filter
 *	refuses the sender; Exim hosts say "<sender domain> does not exist").
 *	Marking the address hard would suppress a working mailbox.
 */
#include "classify.h"

#include <string.h>

#include "classifywords.h"

static const char *const reason_names[] = {
    [BR_NONE] = "none",
    [BR_USER_UNKNOWN] = "user-unknown",
    [BR_MAILBOX_FULL] = "mailbox-full",
    [BR_NO_SUCH_DOMAIN] = "no-such-domain",
    [BR_POLICY_BLOCK] = "policy-block",
    [BR_SPAM_BLOCK] = "spam-block",
    [BR_MESSAGE_TOO_LARGE] = "message-too-large",
    [BR_EXPIRED] = "expired",
    [BR_MAILBOX_DISABLED] = "mailbox-disabled",
    [BR_RATE_LIMITED] = "rate-limited",
    [BR_AUTO_REPLY] = "auto-reply",
    [BR_COMPLAINT] = "complaint",
    [BR_OTHER] = "other",
};

const char *
bounce_reason_name(enum bounce_reason r)
{
	if ((unsigned)r >= sizeof reason_names / sizeof reason_names[0])
		return "none";
	return reason_names[r];
}

int
bounce_reason_parse(const char *name, enum bounce_reason *out)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < sizeof reason_names / sizeof reason_names[0]; i++) {
		if (strcmp(name, reason_names[i]) == 0) {
			*out = (enum bounce_reason)i;
			return 0;
		}
	}
	return -1;
}

const char *
bounce_severity_name(enum bounce_severity s)
{
	switch (s) {
	case BS_HARD:
		return "hard";
	case BS_SOFT:
		return "soft";
	default:
		return "none";
	}
}

/* The enhanced status as three numbers, or -1 when not of that shape. */
static int
parse_status(const char *s, int *cls, int *subject, int *detail)
{
	int v[3] = {0, 0, 0};

	if (s == NULL || s[0] == '\0')
		return -1;
	for (int i = 0; i < 3; i++) {
		int digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v[i] = v[i] * 10 + (*s - '0');
			s++, digits++;
		}
		if (digits == 0 || digits > 3)
			return -1;
		if (i < 2 && *s++ != '.')
			return -1;
	}
	if (*s != '\0' || (v[0] != 2 && v[0] != 4 && v[0] != 5))
		return -1;
	*cls = v[0], *subject = v[1], *detail = v[2];
	return 0;
}

/*
 * What a specific enhanced status says by itself (RFC 3463, RFC 7505,
 * RFC 7372); BR_NONE for the generic ones (X.0.0, X.1.0 ...), which say
 * no more than the class.
 */
static enum bounce_reason
status_reason(int cls, int subject, int detail)
{
	switch (subject * 100 + detail) {
	case 101: /* bad destination mailbox address */
	case 103: /* bad destination mailbox address syntax */
	case 106: /* mailbox has moved */
		return BR_USER_UNKNOWN;
	case 102:  /* bad destination system address */
	case 110:  /* null MX: recipient address has null MX */
	case 404:  /* unable to route */
		return BR_NO_SUCH_DOMAIN;
	case 302: /* system not accepting network messages */
		return cls == 5 ? BR_NO_SUCH_DOMAIN : BR_OTHER;
	case 107: /* bad sender's mailbox address syntax */
	case 108: /* bad sender's system address */
		return BR_POLICY_BLOCK;
	case 201: /* mailbox disabled, not accepting messages */
		return BR_MAILBOX_DISABLED;
	case 202: /* mailbox full */
		return BR_MAILBOX_FULL;
	case 203: /* message length exceeds administrative limit */
	case 304: /* message too big for system */
		return BR_MESSAGE_TOO_LARGE;
	case 407: /* delivery time expired */
		return BR_EXPIRED;
	case 405: /* system congestion */
		return BR_OTHER;
	case 701: /* delivery not authorized, message refused */
	case 702: /* mailing list expansion prohibited */
	case 703: /* security conversion required */
	case 704: /* security features not supported */
	case 705: /* cryptographic failure */
	case 707: /* message integrity failure */
	case 708: case 709: case 710: case 711: case 713: case 714: case 715:
	case 716: case 717: case 718: case 719: case 720: case 721: case 722:
	case 723: case 724: case 725: case 726: case 727:
		return BR_POLICY_BLOCK;
	case 728: /* mail flood: too many identical messages */
		return BR_RATE_LIMITED;
	case 706: /* 5.7.6 and 5.7.6xx */
	default:
		break;
	}
	if (subject == 7 && cls == 4)
		return BR_RATE_LIMITED; /* 4.7.x: deferred for reputation or rate */
	if (subject == 7)
		return detail == 0 ? BR_NONE : BR_POLICY_BLOCK;
	if (subject == 4 || subject == 3 || subject == 5 || subject == 6)
		return detail == 0 ? BR_NONE : BR_OTHER;
	return BR_NONE;
}

/* What the reply code alone says (RFC 5321 4.2.3). */
static enum bounce_reason
code_reason(int code)
{
	switch (code) {
	case 421:
		return BR_RATE_LIMITED;
	case 521: /* RFC 7504: this host does not accept mail */
	case 556: /* RFC 7504: the domain does not accept mail */
		return BR_NO_SUCH_DOMAIN;
	case 452:
	case 552:
		return BR_MAILBOX_FULL;
	case 551:
		return BR_USER_UNKNOWN;
	case 553:
		return BR_USER_UNKNOWN;
	default:
		return BR_NONE;
	}
}

static int
any_phrase(const char *text, const char *const *phrases)
{
	for (const char *const *p = phrases; *p != NULL; p++)
		if (strstr(text, *p) != NULL)
			return 1;
	return 0;
}

/* Lower-cased, white space folded, cut, wrapper wording blanked: the
 * text the phrases are matched against.  out has room for
 * CLASSIFY_MAX_TEXT + 1 octets. */
static size_t
normalize_text(const char *text, size_t len, char *out)
{
	size_t n = 0;
	int space = 1;

	out[0] = '\0'; /* an empty text is an empty string, never garbage */
	if (text == NULL)
		return 0;
	for (size_t i = 0; i < len && n < CLASSIFY_MAX_TEXT; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c <= ' ' || c == 0x7F) {
			if (!space)
				out[n++] = ' ';
			space = 1;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		out[n++] = (char)c;
		space = 0;
	}
	out[n] = '\0';
	for (const char *const *w = classify_wrapper_words; *w != NULL; w++) {
		size_t wlen = strlen(*w);
		for (char *p = strstr(out, *w); p != NULL; p = strstr(p + wlen, *w))
			memset(p, ' ', wlen);
	}
	return n;
}

/* "553 neko.example.com does not exist": the thing that does not exist
 * is a domain name (dots, no '@', not a mailbox in <>). */
static int
domain_does_not_exist(const char *text)
{
	static const char *const tails[] = {" does not exist", " not found"};
	for (size_t t = 0; t < 2; t++) {
		for (const char *p = strstr(text, tails[t]); p != NULL;
		     p = strstr(p + 1, tails[t])) {
			const char *b = p;
			while (b > text && b[-1] != ' ')
				b--;
			size_t n = (size_t)(p - b);
			if (n < 4 || memchr(b, '.', n) == NULL || b[n - 1] == '.' || *b == '.')
				continue;
			int letters = 0, other = 0;
			for (size_t i = 0; i < n; i++) {
				letters |= b[i] >= 'a' && b[i] <= 'z';
				other |= !((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') ||
					   b[i] == '.' || b[i] == '-');
			}
			if (other)
				continue;
			if (letters)
				return 1;
		}
	}
	return 0;
}


enum bounce_severity
bounce_severity_of(enum bounce_reason r, int code, const char *status)
{
	int cls, subject, detail;
	int temporary = 0, permanent = 0;

	switch (r) {
	case BR_NONE:
	case BR_AUTO_REPLY:
	case BR_COMPLAINT:
		return BS_NONE;
	case BR_USER_UNKNOWN:
	case BR_NO_SUCH_DOMAIN:
	case BR_MAILBOX_DISABLED:
		break;
	default:
		return BS_SOFT;
	}
	/* The status speaks for the failure when there is one; the code
	 * when there is not; the wording alone when neither is given. */
	if (parse_status(status, &cls, &subject, &detail) == 0 && cls != 2) {
		temporary = cls == 4;
		permanent = cls == 5;
	} else if (code >= 400 && code <= 599) {
		temporary = code < 500;
		permanent = code >= 500;
	}
	if (temporary)
		return BS_SOFT;
	(void)permanent;
	return BS_HARD;
}

struct bounce_class
bounce_classify(int code, const char *status, const char *text, size_t len)
{
	char lower[CLASSIFY_MAX_TEXT + 1];
	struct bounce_class c = {BR_NONE, BS_NONE};
	int cls = 0, subject = 0, detail = 0;
	int have_status = parse_status(status, &cls, &subject, &detail) == 0;
	size_t n = normalize_text(text, len, lower);
	enum bounce_reason r = BR_NONE;

	if (n == 0 && !have_status && (code < 400 || code > 599))
		return c;
	if (have_status && cls == 2 && n == 0 && (code < 400 || code > 599))
		return c;

	for (size_t i = 0; i < classify_ngroups && r == BR_NONE; i++) {
		const struct phrase_group *g = &classify_groups[i];
		if (g->weak)
			continue;
		if (g->domain_rule && domain_does_not_exist(lower))
			r = BR_NO_SUCH_DOMAIN;
		else if (any_phrase(lower, g->phrases))
			r = g->reason;
	}
	/* A status that only says "other" is weaker than weak wording. */
	enum bounce_reason by_status = BR_NONE;
	if (r == BR_NONE && have_status && cls != 2)
		by_status = status_reason(cls, subject, detail);
	if (r == BR_NONE && by_status != BR_OTHER)
		r = by_status;
	for (size_t i = 0; i < classify_ngroups && r == BR_NONE; i++) {
		const struct phrase_group *g = &classify_groups[i];
		if (g->weak && any_phrase(lower, g->phrases))
			r = g->reason;
	}
	if (r == BR_NONE)
		r = by_status;
	if (r == BR_NONE)
		r = code_reason(code);
	if (r == BR_NONE)
		r = BR_OTHER;
	/* Refused at the end of DATA: the recipient exists (see above). */
	if ((r == BR_USER_UNKNOWN || r == BR_NO_SUCH_DOMAIN) &&
	    any_phrase(lower, classify_after_data_words))
		r = BR_POLICY_BLOCK;
	c.reason = r;
	c.severity = bounce_severity_of(r, code, have_status ? status : NULL);
	return c;
}

int
bounce_text_specific(const char *text, size_t len)
{
	char lower[CLASSIFY_MAX_TEXT + 1];
	normalize_text(text, len, lower);
	for (size_t i = 0; i < classify_ngroups; i++)
		if (!classify_groups[i].weak && any_phrase(lower, classify_groups[i].phrases))
			return 1;
	return domain_does_not_exist(lower);
}

int
bounce_text_after_data(const char *text, size_t len)
{
	char lower[CLASSIFY_MAX_TEXT + 1];
	normalize_text(text, len, lower);
	return any_phrase(lower, classify_after_data_words);
}
