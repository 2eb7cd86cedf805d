/*
 * addr - e-mail addresses: envelope checking, comparison keys, and the
 * "Display Name <local@domain>" split.  See addr.h for the interface.
 *
 * What addr_check accepts is exactly what mailshot will ever put after
 * MAIL FROM: or RCPT TO:, so it is deliberately narrower than RFC 5322:
 *
 *	mailbox   = local-part "@" ( domain / address-literal )
 *	local-part = dot-atom / quoted-string          (RFC 5321 4.1.2)
 *	dot-atom  = 1*atext *("." 1*atext)              atext per RFC 5322 3.2.3,
 *	                                                plus UTF-8 (RFC 6531)
 *	quoted-string = DQUOTE *(qtextSMTP / "\" %d32-126) DQUOTE
 *	domain    = label *("." label)                  letters, digits, '-',
 *	                                                plus UTF-8 U-labels
 *	address-literal = "[" IPv4 "]" / "[IPv6:" IPv6 "]"
 *
 * Refused on purpose, with a reason each: comments and folding white
 * space (header syntax, never valid in SMTP), obsolete local parts
 * ("a"."b", a.(x)b), general address literals ([tag:...]), any control
 * character anywhere (so no CR/LF can ever reach an SMTP command line),
 * invalid or overlong UTF-8, C1 controls and Unicode spaces (a pasted
 * no-break space), non-ASCII inside quotes, a domain without a dot unless
 * the caller allows it, an all-numeric top-level label (that is an IP
 * address written without brackets), and anything over the RFC 5321
 * length limits.  Limits are counted in octets, UTF-8 included: a U-label
 * whose UTF-8 form exceeds 63 octets is refused even if its A-label would
 * fit, because without an IDNA library we cannot know, and refusing is the
 * safe side for a bulk sender.
 *
 * Everything here works on (pointer, length) and never reads outside it;
 * an embedded NUL is data (and refused), not a terminator.  Nothing
 * allocates except through the caller's struct buf.
 */
#include "addr.h"

#include <string.h>

/* Records the reason for a refusal (the caller may pass why == NULL). */
static int
refuse(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return -1;
}

/* Our own ASCII classes: <ctype.h> depends on the locale and is undefined
 * for negative chars, and addresses are bytes, not locale text. */
static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned char
to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* atext of RFC 5322 3.2.3: printable ASCII except specials and space. */
static int
is_atext(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* qtextSMTP of RFC 5321 4.1.2: printable ASCII and space, except '"' and '\'. */
static int
is_qtext(unsigned char c)
{
	return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/* A reason for an unexpected character outside quotes, chosen so that the
 * usual mistakes (a pasted "Name <addr>", a comment, a stray quote) are
 * recognisable in an error line. */
static const char *
bad_char_reason(unsigned char c, const char *otherwise)
{
	switch (c) {
	case ' ':
		return "space outside quotes";
	case '(':
	case ')':
		return "comments are not allowed in an envelope address";
	case '<':
	case '>':
		return "angle bracket in address (give the bare address)";
	case '"':
		return "quote inside an unquoted local part";
	case '\\':
		return "backslash outside quotes";
	default:
		return otherwise;
	}
}

/* Unicode white space (category Zs, the line and paragraph separators)
 * plus the zero-width space and the byte-order mark.  These arrive with
 * addresses pasted from word processors and web pages; accepted, they
 * would make an address that looks right and bounces. */
static int
is_unicode_space(unsigned long cp)
{
	return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200b) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF, no lone or missing continuation bytes.  C1 controls
 * (U+0080..U+009F) are refused like C0 ones: they have no business in an
 * address and some terminals act on them. */
static int
check_utf8(const unsigned char *s, size_t len, const char **why)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong below U+0800 */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong below U+10000 */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return refuse(why, "invalid UTF-8");
		}
		if (len - i <= n)
			return refuse(why, "invalid UTF-8");
		if (s[i + 1] < lo || s[i + 1] > hi)
			return refuse(why, "invalid UTF-8");
		/* The lead byte's payload bits, then 6 bits per continuation. */
		unsigned long cp = c & (0x3f >> n);

		for (size_t k = 1; k <= n; k++) {
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return refuse(why, "invalid UTF-8");
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp <= 0x9f)
			return refuse(why, "control character in address");
		if (is_unicode_space(cp))
			return refuse(why, "non-ASCII space in address");
		i += n + 1;
	}
	return 0;
}

/* Parses the local part at the start of s.  Returns the index of the '@'
 * that ends it, or -1 with a reason. */
static long
check_local(const unsigned char *s, size_t len, const char **why)
{
	size_t i;

	if (s[0] == '"') {
		for (i = 1; i < len && s[i] != '"'; i++) {
			if (s[i] == '\\') {
				/* quoted-pairSMTP: backslash and one printable
				 * ASCII character (control characters are
				 * already refused). */
				if (i + 1 >= len)
					return refuse(why, "unterminated quoted string");
				if (s[i + 1] >= 0x80)
					return refuse(why, "non-ASCII character in quoted string");
				i++;
			} else if (s[i] >= 0x80) {
				/* RFC 6531 would allow it, but a quoted
				 * UTF-8 local part is where receiving
				 * systems disagree most; refusing keeps
				 * every accepted address unambiguous. */
				return refuse(why, "non-ASCII character in quoted string");
			} else if (!is_qtext(s[i])) {
				return refuse(why, "invalid character in quoted string");
			}
		}
		if (i >= len)
			return refuse(why, "unterminated quoted string");
		i++;
		if (i >= len)
			return refuse(why, "missing @");
		if (s[i] == '.')
			return refuse(why, "quoted string mixed with dot-atom (obsolete syntax)");
		if (s[i] != '@')
			return refuse(why, "text after quoted string");
		return (long)i;
	}

	for (i = 0; i < len && s[i] != '@'; i++) {
		if (s[i] == '.') {
			if (i == 0)
				return refuse(why, "local part starts with a dot");
			if (s[i - 1] == '.')
				return refuse(why, "two dots in a row in local part");
		} else if (!is_atext(s[i]) && s[i] < 0x80) {
			return refuse(why,
				      bad_char_reason(s[i], "invalid character in local part"));
		}
	}
	if (i == len)
		return refuse(why, "missing @");
	if (i == 0)
		return refuse(why, "empty local part");
	if (s[i - 1] == '.')
		return refuse(why, "local part ends with a dot");
	return (long)i;
}

/* RFC 5321 IPv4-address-literal: four decimal numbers 0..255, 1-3 digits. */
static int
check_ipv4(const unsigned char *t, size_t m)
{
	size_t i = 0;
	int parts = 0;

	for (;;) {
		unsigned value = 0;
		size_t digits = 0;

		while (i < m && is_digit(t[i]) && digits < 3) {
			value = value * 10 + (unsigned)(t[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || value > 255)
			return -1;
		if (++parts == 4)
			return i == m ? 0 : -1;
		if (i == m || t[i] != '.')
			return -1;
		i++;
	}
}

/* RFC 5321 IPv6-addr: eight groups of 1-4 hex digits, or fewer with one
 * "::" standing for at least two zero groups, the last two groups
 * optionally written as an IPv4 address.  Counting the IPv4 tail as two
 * groups, both RFC 5321 rules ("no more than 6 groups in addition to the
 * ::", "no more than 4 groups in addition to the :: and IPv4") become one:
 * at most 6 groups with "::", exactly 8 without. */
static int
check_ipv6(const unsigned char *t, size_t m, const char **why)
{
	size_t i = 0, groups = 0;
	int compressed = 0;

	if (m >= 2 && t[0] == ':' && t[1] == ':') {
		compressed = 1;
		i = 2;
	} else if (m >= 1 && t[0] == ':') {
		return refuse(why, "IPv6 literal starts with a single colon");
	}
	while (i < m) {
		size_t end = i;

		while (end < m && t[end] != ':')
			end++;
		if (end == i)
			return refuse(why, "three colons in a row in IPv6 literal");
		if (memchr(t + i, '.', end - i) != NULL) {
			if (end != m)
				return refuse(why, "IPv4 part not at the end of IPv6 literal");
			if (check_ipv4(t + i, end - i) < 0)
				return refuse(why, "invalid IPv4 part in IPv6 literal");
			groups += 2;
			break;
		}
		if (end - i > 4)
			return refuse(why, "IPv6 group longer than 4 hex digits");
		for (size_t k = i; k < end; k++)
			if (!is_hex(t[k]))
				return refuse(why, "invalid character in IPv6 literal");
		if (++groups > 8)
			return refuse(why, "too many groups in IPv6 literal");
		i = end;
		if (i == m)
			break;
		if (i + 1 < m && t[i + 1] == ':') {
			if (compressed)
				return refuse(why, "more than one :: in IPv6 literal");
			compressed = 1;
			i += 2;
		} else if (++i == m) {
			return refuse(why, "IPv6 literal ends with a single colon");
		}
	}
	if (groups > (compressed ? 6u : 8u))
		return refuse(why, "too many groups in IPv6 literal");
	if (!compressed && groups < 8)
		return refuse(why, "too few groups in IPv6 literal");
	return 0;
}

/* d[0] is '['.  Only the two literal forms an MTA can act on are
 * accepted; General-address-literal tags are refused, as no tag other than
 * IPv6 is registered. */
static int
check_literal(const unsigned char *d, size_t n, int flags, const char **why)
{
	if (!(flags & ADDR_ALLOW_LITERAL))
		return refuse(why, "address literals are not allowed");
	if (n < 2 || d[n - 1] != ']') {
		if (memchr(d, ']', n) != NULL)
			return refuse(why, "text after address literal");
		return refuse(why, "unterminated address literal");
	}

	const unsigned char *t = d + 1;
	size_t m = n - 2;

	if (memchr(t, ']', m) != NULL)
		return refuse(why, "text after address literal");
	if (m >= 5 && to_lower(t[0]) == 'i' && to_lower(t[1]) == 'p' && to_lower(t[2]) == 'v' &&
	    t[3] == '6' && t[4] == ':')
		return check_ipv6(t + 5, m - 5, why);
	if (m > 0 && is_digit(t[0])) {
		if (check_ipv4(t, m) < 0)
			return refuse(why, "invalid IPv4 address literal");
		return 0;
	}
	if (memchr(t, ':', m) != NULL)
		return refuse(why, "unsupported address literal tag");
	return refuse(why, "invalid address literal");
}

/* A domain name: LDH labels or U-labels (any valid UTF-8 sequence counts
 * as a letter; IDNA rules are the receiving side's business). */
static int
check_domain(const unsigned char *d, size_t n, int flags, const char **why)
{
	size_t start = 0, dots = 0;
	int numeric = 1;

	if (n == 0)
		return refuse(why, "empty domain");
	if (d[0] == '[')
		return check_literal(d, n, flags, why);
	if (memchr(d, '@', n) != NULL)
		return refuse(why, "more than one @");

	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			unsigned char c = d[i];

			if (!is_alpha(c) && !is_digit(c) && c != '-' && c < 0x80)
				return refuse(why,
					      bad_char_reason(c, "invalid character in domain"));
			if (!is_digit(c))
				numeric = 0;
			continue;
		}

		size_t label = i - start;

		if (label == 0) {
			if (start == 0)
				return refuse(why, "domain starts with a dot");
			if (i == n)
				return refuse(why, "domain ends with a dot");
			return refuse(why, "two dots in a row in domain");
		}
		if (label > 63)
			return refuse(why, "domain label longer than 63 octets");
		if (d[start] == '-')
			return refuse(why, "domain label starts with a hyphen");
		if (d[i - 1] == '-')
			return refuse(why, "domain label ends with a hyphen");
		if (i < n) {
			dots++;
			numeric = 1;
			start = i + 1;
		}
	}
	/* numeric now describes the last label only. */
	if (dots == 0 && !(flags & ADDR_ALLOW_NODOT))
		return refuse(why, "domain has no dot");
	if (numeric)
		return refuse(why, "top-level domain is all-numeric");
	return 0;
}

int
addr_check(const char *s, size_t len, int flags, const char **why, int *needs_utf8)
{
	const unsigned char *u = (const unsigned char *)s;
	int utf8 = 0;

	if (needs_utf8 != NULL)
		*needs_utf8 = 0;
	if (len == 0)
		return refuse(why, "empty address");
	/* Length first: it bounds all the work below, whatever we are fed. */
	if (len > ADDR_MAX)
		return refuse(why, "address longer than 254 octets");

	/* One pass for the bytes that are wrong anywhere, quoted or not: they
	 * would end or corrupt an SMTP command line. */
	for (size_t i = 0; i < len; i++) {
		if (u[i] == '\r' || u[i] == '\n')
			return refuse(why, "line break in address");
		if (u[i] == '\0')
			return refuse(why, "NUL byte in address");
		if (u[i] < 0x20 || u[i] == 0x7f)
			return refuse(why, "control character in address");
		if (u[i] >= 0x80)
			utf8 = 1;
	}
	if (needs_utf8 != NULL)
		*needs_utf8 = utf8;
	if (utf8 && check_utf8(u, len, why) < 0)
		return -1;

	long at = check_local(u, len, why);

	if (at < 0)
		return -1;
	if (at > ADDR_MAX_LOCAL)
		return refuse(why, "local part longer than 64 octets");
	/* The domain cannot exceed ADDR_MAX_DOMAIN here: ADDR_MAX is smaller. */
	return check_domain(u + at + 1, len - (size_t)at - 1, flags, why);
}

void
addr_normalize(const char *s, size_t len, int fold_local, struct buf *out)
{
	/* A valid address never has '@' in its domain (literals included),
	 * so the last '@' is the separator even with a quoted local part
	 * like "a@b"@example.org. */
	size_t at = len;

	for (size_t i = len; i > 0; i--) {
		if (s[i - 1] == '@') {
			at = i - 1;
			break;
		}
	}
	buf_reserve(out, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i > at || fold_local)
			c = to_lower(c);
		buf_append_char(out, (char)c);
	}
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Narrows [*start, *end) to drop blanks at both ends.  Only space and tab:
 * a CR or LF left at the end is an error the address check must see, not
 * something to tidy away. */
static void
trim(const char *s, size_t *start, size_t *end)
{
	while (*start < *end && is_blank(s[*start]))
		(*start)++;
	while (*end > *start && is_blank(s[*end - 1]))
		(*end)--;
}

/* Scans s[i..end) for the first byte of `stop` outside double quotes
 * (backslash escapes the next byte inside quotes, as in RFC 5322).
 * Returns its index, or end; *unterminated says whether end was reached
 * inside quotes. */
static size_t
scan_unquoted(const char *s, size_t i, size_t end, const char *stop, int *unterminated)
{
	int quoted = 0;

	for (; i < end; i++) {
		if (quoted) {
			if (s[i] == '\\' && i + 1 < end)
				i++;
			else if (s[i] == '"')
				quoted = 0;
		} else if (s[i] == '"') {
			quoted = 1;
		} else if (s[i] != '\0' && strchr(stop, s[i]) != NULL) {
			break;
		}
	}
	*unterminated = quoted;
	return i;
}

int
addr_split_mailbox(const char *s, size_t len, struct buf *name, struct buf *address,
		   const char **why)
{
	size_t start = 0, end = len, lt, gt;
	int open;

	buf_reset(name);
	buf_reset(address);
	trim(s, &start, &end);
	if (start == end)
		return refuse(why, "empty address");

	lt = scan_unquoted(s, start, end, "<>", &open);
	if (lt < end && s[lt] == '>')
		return refuse(why, "'>' without '<'");
	if (lt == end) {
		/* The bare form: all of it is the address. */
		if (open)
			return refuse(why, "unterminated quoted string");
		buf_append(address, s + start, end - start);
		return 0;
	}

	gt = scan_unquoted(s, lt + 1, end, "<>", &open);
	if (gt == end)
		return refuse(why, open ? "unterminated quoted string" : "'<' without '>'");
	if (s[gt] == '<')
		return refuse(why, "nested '<'");
	if (gt + 1 != end)
		return refuse(why, "text after '>'");

	size_t a_start = lt + 1, a_end = gt;

	trim(s, &a_start, &a_end);
	if (a_start == a_end)
		return refuse(why, "empty address");

	size_t n_start = start, n_end = lt;

	trim(s, &n_start, &n_end);
	/* The name ends up in a From: header; a control character there is
	 * header injection waiting to happen, so it stops here. */
	for (size_t i = n_start; i < n_end; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return refuse(why, "control character in display name");
	}

	/* Quotes were balanced (scan_unquoted stopped at '<' outside them),
	 * so a backslash inside quotes always has a byte after it. */
	int quoted = 0;

	for (size_t i = n_start; i < n_end; i++) {
		if (s[i] == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted && s[i] == '\\' && i + 1 < n_end)
			i++;
		buf_append_char(name, s[i]);
	}
	buf_append(address, s + a_start, a_end - a_start);
	return 0;
}
