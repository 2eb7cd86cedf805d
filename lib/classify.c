/*
 * classify - reason and severity of one delivery failure.
 * See classify.h for the contract.
 *
 * DESCRIPTION
 *	The text is copied, lower-cased, with every run of white space and
 *	control characters (NUL included) made one space, and cut at
 *	CLASSIFY_MAX_TEXT octets; then phrase groups are tried in table
 *	order with plain substring search (no regular expressions: the time
 *	is bounded by text length times the table size, whatever the input).
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
 *	The word lists were grown against the Sisimai set-of-emails corpus
 *	(tests/unit/test_dsn.c measures it); they are English only, except
 *	for a few fixed phrases of common German and Japanese bounces.
 */
#include "classify.h"

#include <string.h>

struct phrase_group {
	enum bounce_reason reason;
	int weak;
	const char *const *phrases; /* NULL-terminated, lower case, single spaces */
};

static const char *const expired_words[] = {
    "attempts:",
    "message still undelivered after",
    "will be retried for",
    "this message has been in the queue too long",
    "did not accept our requests to connect",
    "have been failing for a long time",
    "envelope expired",
    "connection timed out",
    "timed out",
    "host not reachable",
    "could not find a gateway",
    "timeout",
    "retry timeout exceeded",
    "retry time not reached for any host after a long failure period",
    "delivery time expired",
    "message expired",
    "message has expired",
    "delivery expired",
    "message timed out",
    "could not be delivered for",
    "could not be delivered within",
    "was not delivered within",
    "cannot send message for",
    "could not deliver for",
    "has not been delivered for",
    "deferred for too long",
    "too long in queue",
    "in the queue for too long",
    "queue lifetime",
    "maximum time in queue",
    "time limit exceeded",
    "retry period exceeded",
    "retry time expired",
    "delivery attempts expired",
    "message was not delivered because the destination computer was unreachable",
    "unable to deliver in",
    "expired after",
    "delivery period expired",
    "was too old",
    "exceeded the maximum time",
    NULL,
};

static const char *const disabled_words[] = {
    "temporary locked",
    "temporarily locked",
    "account is blocked",
    "recipient account is blocked",
    "account disabled",
    "account has been disabled",
    "account is disabled",
    "account has been suspended",
    "account is suspended",
    "account suspended",
    "account is inactive",
    "account inactive",
    "inactive account",
    "account has been deactivated",
    "account deactivated",
    "account is deactivated",
    "account has expired",
    "account expired",
    "account is locked",
    "account has been locked",
    "account locked",
    "account has been closed",
    "account is closed",
    "account closed",
    "account is frozen",
    "account has been frozen",
    "mailbox disabled",
    "mailbox is disabled",
    "mailbox has been disabled",
    "mailbox is inactive",
    "mailbox inactive",
    "mailbox is suspended",
    "mailbox suspended",
    "mailbox is frozen",
    "mailbox has been frozen",
    "mailbox is locked",
    "mailbox locked",
    "mailbox is closed",
    "mailbox has been closed",
    "user suspended",
    "user account disabled",
    "user is inactive",
    "recipient suspended",
    "recipient is inactive",
    "disabled recipient",
    "disabled mailbox",
    "disabled account",
    "suspended account",
    "currently suspended",
    "is not active",
    "is no longer active",
    "no longer accepting mail",
    "has been disabled",
    "has been suspended",
    "address is disabled",
    "address has been disabled",
    "mailbox not active",
    "this account has been temporarily suspended",
    NULL,
};

static const char *const full_words[] = {
    "recipient's mailbox exceeded",
    "mailbox exceeded",
    "number of messages in recipient's mailbox",
    "mailbox full",
    "mailbox is full",
    "mailbox was full",
    "mail box full",
    "mailbox is over",
    "mailbox over quota",
    "mailbox has exceeded",
    "mailbox size limit",
    "mailbox exceeds",
    "mailfolder is full",
    "mail folder is full",
    "full mailbox",
    "inbox is full",
    "box is full",
    "over quota",
    "overquota",
    "over the quota",
    "quota exceeded",
    "quota exceed",
    "exceeded quota",
    "exceeds quota",
    "exceeded his/her quota",
    "exceeded the quota",
    "quota violation",
    "quota full",
    "disk quota",
    "storage quota",
    "mailbox quota",
    "user quota",
    "exceed mailbox quota",
    "exceeded storage allocation",
    "exceeds storage allocation",
    "exceeded its storage",
    "not enough storage space",
    "not enough disk space",
    "out of storage",
    "too much mail data",
    "has exceeded his/her disk space",
    "user has exceeded",
    "user is over",
    "recipient is over",
    "storage limit",
    "does not have enough space",
    "doesn't have enough space",
    "mailbox size exceeded",
    "maildir over",
    "is full and cannot accept",
    "mailbox is at capacity",
    "postfach voll",
    NULL,
};

static const char *const toobig_words[] = {
    "line limit exceeded",
    "message too large",
    "message is too large",
    "message too big",
    "message is too big",
    "message size exceeds",
    "message size exceeded",
    "message size limit",
    "message length exceeds",
    "message exceeds",
    "message file too big",
    "mail size",
    "size exceeds",
    "size limit exceeded",
    "exceeds size limit",
    "exceeds the size limit",
    "exceeds the maximum size",
    "exceeds maximum message size",
    "exceeds the maximum allowed message size",
    "exceeded the maximum message size",
    "maximum message size",
    "too large for",
    "email is too large",
    "size of the message",
    "is larger than the",
    "exceeds fixed maximum message size",
    "exceeded maximum allowed size",
    "exceeds the maximum allowed size",
    "message is larger than",
    "mail is too large",
    NULL,
};

/* "host unknown" etc.: before user-unknown, which has "does not exist". */
static const char *const domain_words[] = {
    "lookup failure: host",
    "domain is not reachable",
    "host unknown",
    "unknown host",
    "host not found",
    "host or domain name not found",
    "domain not found",
    "domain name not found",
    "no such domain",
    "domain does not exist",
    "domain doesn't exist",
    "domain is not exist",
    "unknown domain",
    "domain unknown",
    "invalid domain",
    "unrouteable address",
    "unroutable address",
    "unrouteable mail domain",
    "name or service not known",
    "nxdomain",
    "no mx record",
    "no mx or a record",
    "no valid mx",
    "mx record not found",
    "all relevant mx records point to non-existent hosts",
    "domain has no mx",
    "name service error",
    "domain name not valid",
    "domain is not valid",
    "recipient domain not found",
    "the domain is not configured",
    "domain isn't in my list of allowed rcpthosts",
    "not in my list of allowed rcpthosts",
    "no route for",
    "dns lookup failed for domain",
    "host lookup did not complete",
    "couldn't find any host named",
    "could not be resolved",
    "domain could not be found",
    "i couldn't find any host by that name",
    "the recipient domain does not exist",
    NULL,
};

static const char *const unknown_words[] = {
    "recipnotfound",
    "recipientnotfound",
    "recipient address rejected: access denied",
    "recipient address rejected.",
    "address rejected.",
    "recipient email address is possibly incorrect",
    "email address wasn't found",
    "email address wasn\x92t found",
    "invalid final delivery userid",
    "user unknown",
    "unknown user",
    "user is unknown",
    "unknown users",
    "user not found",
    "user does not exist",
    "user doesn't exist",
    "user doesn't have a",
    "user not exist",
    "user invalid",
    "invalid user",
    "no such user",
    "no such mailbox",
    "no such recipient",
    "no such account",
    "no such person",
    "no such local user",
    "no such address",
    "no such e-mail address",
    "unknown recipient",
    "recipient unknown",
    "recipient not found",
    "recipient does not exist",
    "recipient doesn't exist",
    "recipient address rejected: unknown",
    "recipient address rejected: user",
    "recipient address rejected: undeliverable address",
    "recipient address rejected: invalid",
    "recipient is not local",
    "recipient is not exist",
    "recipient no longer on server",
    "recipient not exist",
    "invalid recipient",
    "invalid mailbox",
    "invalid address",
    "invalid e-mail address",
    "unknown mailbox",
    "mailbox unknown",
    "mailbox not found",
    "mailbox does not exist",
    "mailbox doesn't exist",
    "mailbox not exist",
    "mailbox is not exist",
    "mailbox unavailable or not local",
    "mailbox not available",
    "mailbox is unavailable",
    "mailbox unavailable",
    "no mailbox here by that name",
    "no mailbox",
    "not a valid mailbox",
    "not a valid user",
    "is not a valid",
    "unknown local part",
    "unknown address",
    "address unknown",
    "addressee unknown",
    "address not found",
    "address does not exist",
    "address doesn't exist",
    "address is not valid",
    "address not present",
    "account does not exist",
    "account doesn't exist",
    "account not found",
    "account that you tried to reach does not exist",
    "account you tried to reach does not exist",
    "account is unavailable",
    "account not available",
    "no account by that name",
    "does not have an account",
    "not our customer",
    "is not a known user",
    "unknown or illegal alias",
    "bad destination mailbox address",
    "destination mailbox address invalid",
    "destination address invalid",
    "unknown account",
    "undeliverable address",
    "no valid recipients",
    "not listed in domino directory",
    "not listed in public name & address book",
    "not listed in",
    "no longer valid",
    "no longer available",
    "not a registered user",
    "this user doesn't have",
    "sorry, no mailbox",
    "said: 550 5.1.1",
    "has been replaced by",
    "has moved",
    "address has changed",
    "user unknown in",
    "recipient address is invalid",
    "rcpt to unknown",
    "rcpt unknown",
    "no such recipient here",
    "the email address you entered couldn't be found",
    "e-mail address you entered couldn't be found",
    "email address couldn't be found",
    "email address could not be found",
    "couldn't be found",
    "does not exist",
    "doesn't exist",
    "unbekannt",
    "existiert nicht",
    "ungueltige adresse",
    "not exist",
    NULL,
};

static const char *const rate_words[] = {
    "frequency limited",
    "too many recipients this hour",
    "too many recipients",
    "too many connections",
    "too many concurrent",
    "too many simultaneous",
    "too many sessions",
    "too many messages",
    "too many emails",
    "too many mails",
    "too many smtp sessions",
    "connection rate",
    "connection limit",
    "rate limit",
    "rate-limit",
    "ratelimit",
    "rate limited",
    "rate exceeded",
    "sending rate",
    "message rate",
    "throttl",
    "too fast",
    "slow down",
    "exceeded the rate",
    "exceeded rate",
    "mail from your ip address is being deferred",
    "is receiving mail at a rate that prevents",
    "receiving mail at a rate",
    "mail rate",
    NULL,
};

/* The failure is about the sender (refused at MAIL FROM, failed
 * authentication, relaying refused): before the recipient words, since
 * such a reply often quotes "does not exist" about the sender. */
static const char *const sender_words[] = {
    "relay quota",
    "provide a valid from",
    "not a member of",
    "unauthenticated senders",
    "my name was rejected",
    "invalid ip for sending",
    "sender address rejected",
    "domain of sender address",
    "sender rejected",
    "sender verify failed",
    "sender denied",
    "after mail from",
    "in reply to mail from",
    "mail from command",
    "[mail_from]",
    "did not like our mail from",
    "authentication checks failed",
    "reverse dns validation",
    "mismatches client ip",
    "not configured to relay",
    "relay access denied",
    "relaying denied",
    "protocol violation",
    "improper use of 8-bit",
    NULL,
};

/* The domain takes no mail (RFC 7505 null MX, RFC 7504 521/556): before
 * the DNS errors, which quote the lookup that found it out. */
static const char *const notaccept_words[] = {
    "null mx",
    "does not accept mail",
    "domain does not accept",
    "not accept any mail",
    "does not receive mail",
    "doesn't receive",
    "accepts no mail",
    "no mx found",
    "indicated no smtp service",
    NULL,
};

/* Failures of the network or of a system on the way: "other", but
 * recognized first, so that a stray word does not make them anything
 * else ("host not found, try again" is a DNS timeout, not NXDOMAIN). */
static const char *const network_words[] = {
    "host name lookup failure",
    "dns error:",
    "malformed or unexpected name server reply",
    "host not found, try again",
    "dns query failed",
    "no route to host",
    "network is unreachable",
    "connection reset",
    "unable to contact ldap",
    "wasn't able to establish an smtp connection",
    "hop count exceeded",
    "routing loop",
    "mail loop",
    "loops back to myself",
    "too many hops",
    NULL,
};

/* Names of blocklists, and reputation: a block of the sending host. */
static const char *const blocklist_words[] = {
    "service refuse",
    "not accepting connections",
    "user complaints",
    "ip reputation",
    "spamhaus",
    "spamcop",
    "barracudacentral",
    "sorbs",
    "blacklist",
    "black list",
    "blocklist",
    "block list",
    "denylist",
    "dnsbl",
    "rbl",
    "listed at",
    "listed on",
    "listed in",
    "reputation",
    "poor reputation",
    NULL,
};

static const char *const spam_words[] = {
    "spam",
    "junk mail",
    "bulk mail",
    "virus",
    "malware",
    "infected",
    "phishing",
    "unsolicited",
    "content rejected",
    "message content",
    "content filter",
    "contentfilter",
    "suspicious",
    "banned attachment",
    "forbidden attachment",
    "attachment not allowed",
    "message rejected due to content",
    "message refused due to content",
    "scam",
    " uce ",
    "looks like",
    "message has been blocked",
    "message was blocked",
    "identified as",
    "considered as",
    "filtered",
    NULL,
};

static const char *const policy_words[] = {
    "reverse dns",
    "reverse lookup",
    "reverse-lookup",
    "rdns",
    "ptr record",
    "no ptr",
    "ptr lookup",
    "dns ptr",
    "hostname lookup",
    "client host rejected",
    "cannot find your hostname",
    "cannot find your reverse hostname",
    "helo",
    "spf",
    "dkim",
    "dmarc",
    "authentication",
    "unauthenticated",
    "not authenticated",
    "authentication required",
    "relay access denied",
    "relaying denied",
    "relay denied",
    "relay not permitted",
    "relaying not permitted",
    "not permitted to relay",
    "unable to relay",
    "not allowed to relay",
    "relay not allowed",
    "we do not relay",
    "does not relay",
    "relaying",
    "starttls",
    "tls required",
    "must issue a starttls",
    "encryption required",
    "sender address rejected",
    "sender rejected",
    "sender denied",
    "sender verify failed",
    "sender is not allowed",
    "domain of sender address",
    "sender domain",
    "mail from",
    "envelope sender",
    "your ip",
    "your host",
    "your server",
    "your domain",
    "your address",
    "ip address",
    "blocked",
    "block",
    "banned",
    "policy",
    "not compliant",
    "rfc",
    "syntax of the message",
    "headers",
    "header",
    "security",
    "certificate",
    "access denied",
    "permission denied",
    "not authorized",
    "unauthorized",
    "not permitted",
    "not allowed",
    "prohibited",
    "refused",
    "denied",
    "rejected",
    "restricted",
    NULL,
};

/* Failures of the network or a system: "other", but recognized, so that
 * they are not taken for anything else by a stray word. */
static const char *const other_words[] = {
    "connection refused",
    "lost connection",
    "conversation with",
    "local configuration error",
    "system error",
    "internal error",
    "server error",
    "mailer error",
    "syntax error",
    "temporary failure",
    "temporarily unavailable",
    "service unavailable",
    NULL,
};

static const struct phrase_group groups[] = {
    {BR_POLICY_BLOCK, 0, sender_words},
    {BR_MAILBOX_FULL, 0, full_words},
    {BR_MESSAGE_TOO_LARGE, 0, toobig_words},
    {BR_MAILBOX_DISABLED, 0, disabled_words},
    {BR_NO_SUCH_DOMAIN, 0, notaccept_words},
    {BR_OTHER, 0, network_words},
    {BR_NO_SUCH_DOMAIN, 0, domain_words},
    {BR_USER_UNKNOWN, 0, unknown_words},
    {BR_POLICY_BLOCK, 0, blocklist_words},
    {BR_RATE_LIMITED, 0, rate_words},
    {BR_SPAM_BLOCK, 0, spam_words},
    {BR_EXPIRED, 0, expired_words},
    {BR_OTHER, 1, other_words},
    {BR_POLICY_BLOCK, 1, policy_words},
};

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

/* Lower-cased, white space folded, cut: the text the phrases are matched
 * against.  out has room for CLASSIFY_MAX_TEXT + 1 octets. */
static size_t
normalize_text(const char *text, size_t len, char *out)
{
	size_t n = 0;
	int space = 1;

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

static int
group_matches(const struct phrase_group *g, const char *text)
{
	for (const char *const *p = g->phrases; *p != NULL; p++)
		if (strstr(text, *p) != NULL)
			return 1;
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
	const size_t ngroups = sizeof groups / sizeof groups[0];

	if (n == 0 && !have_status && (code < 400 || code > 599))
		return c;
	if (have_status && cls == 2 && n == 0 && (code < 400 || code > 599))
		return c;

	for (size_t i = 0; i < ngroups && r == BR_NONE; i++) {
		if (groups[i].phrases == unknown_words && domain_does_not_exist(lower))
			r = BR_NO_SUCH_DOMAIN;
		else if (!groups[i].weak && group_matches(&groups[i], lower))
			r = groups[i].reason;
	}
	/* A status that only says "other" is weaker than weak wording. */
	enum bounce_reason by_status = BR_NONE;
	if (r == BR_NONE && have_status && cls != 2)
		by_status = status_reason(cls, subject, detail);
	if (r == BR_NONE && by_status != BR_OTHER)
		r = by_status;
	for (size_t i = 0; i < ngroups && r == BR_NONE; i++)
		if (groups[i].weak && group_matches(&groups[i], lower))
			r = groups[i].reason;
	if (r == BR_NONE)
		r = by_status;
	if (r == BR_NONE)
		r = code_reason(code);
	if (r == BR_NONE)
		r = BR_OTHER;
	c.reason = r;
	c.severity = bounce_severity_of(r, code, have_status ? status : NULL);
	return c;
}

int
bounce_text_specific(const char *text, size_t len)
{
	char lower[CLASSIFY_MAX_TEXT + 1];
	normalize_text(text, len, lower);
	for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
		if (!groups[i].weak && group_matches(&groups[i], lower))
			return 1;
	return domain_does_not_exist(lower);
}
