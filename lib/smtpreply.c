/*
 * smtpreply - SMTP reply reader, EHLO extensions, classification.
 * See smtpreply.h for the contract.
 *
 * DESCRIPTION
 *	The reader owns one fixed input buffer of twice the longest line.
 *	smtp_reader_next() cuts complete lines off its front and folds each
 *	one into the reply in progress at once: the code is checked against
 *	the first line's, the enhanced code stripped, the text sanitized and
 *	appended (up to the cap), the EHLO keyword noted.  Nothing of a line
 *	is kept once it has been folded in, so a 100-line reply needs no
 *	more memory than a one-line reply, and a pipelined burst of replies
 *	needs no more than one line.  Unconsumed bytes are moved to the
 *	front of the buffer only when room for new bytes is asked for, which
 *	costs at most one partial line per read from the network.
 *
 *	A line is looked for in at most SMTP_REPLY_MAX_LINE octets, and
 *	`scanned` remembers how far a partial line is known to hold no LF,
 *	so feeding a long line one byte at a time stays linear, and a line
 *	that is too long is refused as soon as its first 4096 octets are in,
 *	without waiting for an end that may never come.
 *
 *	Why a bare LF ends a line but a bare CR does not: some servers (and
 *	test sinks) end lines with LF alone, and accepting that costs
 *	nothing; a CR alone has never been a line end in SMTP, and taking it
 *	as one would let a server's text forge a second reply line.  A CR
 *	that is not right before the LF is text, and sanitizing turns it
 *	into '?'.
 *
 *	Why a NUL is refused rather than replaced: no SMTP server sends one;
 *	a reply with a NUL is a broken or hostile peer, and a protocol error
 *	(deferral) is the safe reading.
 */
#include "smtpreply.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define READER_BUFSIZE (2 * SMTP_REPLY_MAX_LINE)

/* The cut keeps room for this marker within SMTP_REPLY_MAX_TEXT. */
#define TRUNCATION_MARK "..."
#define TRUNCATION_MARK_LEN 3

struct smtp_reader {
	const char *error; /* NULL while all is well; sticky */

	size_t start, end; /* unconsumed bytes are in[start..end) */
	size_t scanned;	   /* in[start..start+scanned) holds no LF */

	/* The reply in progress: lines == 0 when none is. */
	int code;
	int lines;
	char enhanced[SMTP_ENHANCED_SIZE];
	size_t enhanced_len;
	int truncated;
	size_t text_len;
	size_t text_cut; /* the last character boundary at which "..." still fits */
	char text[SMTP_REPLY_MAX_TEXT + 1];
	struct smtp_ehlo ehlo;

	char in[READER_BUFSIZE];
};

/* ---- small helpers ---- */

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* 1 if s[0..len) equals the lower-case word w, ignoring case. */
static int
equal_nocase(const char *s, size_t len, const char *w)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (w[i] == '\0' || lower((unsigned char)s[i]) != (unsigned char)w[i])
			return 0;
	return w[i] == '\0';
}

/* 1 if s begins with the lower-case word w, ignoring case. */
static int
starts_nocase(const char *s, const char *w)
{
	for (; *w != '\0'; s++, w++)
		if (lower((unsigned char)*s) != (unsigned char)*w)
			return 0;
	return 1;
}

/* ---- enhanced status codes ---- */

/* Length of a sub-code of 1 to 3 digits without leading zeros at s, or 0. */
static size_t
subcode_length(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && n < 4 && is_digit((unsigned char)s[n]))
		n++;
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return 0;
	return n;
}

/*
 * Length of an enhanced status code at the start of s[0..len) -- class
 * digit, '.', subject, '.', detail -- when it is followed by the end or a
 * space; else 0.  class_digit 0 accepts any of 2, 4, 5.
 */
static size_t
enhanced_prefix(const char *s, size_t len, char class_digit)
{
	size_t i, n;

	if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	if (class_digit != 0 && s[0] != class_digit)
		return 0;
	i = 2;
	if ((n = subcode_length(s + i, len - i)) == 0)
		return 0;
	i += n;
	if (i >= len || s[i] != '.')
		return 0;
	i++;
	if ((n = subcode_length(s + i, len - i)) == 0)
		return 0;
	i += n;
	if (i < len && s[i] != ' ')
		return 0;
	return i;
}

int
smtp_enhanced_valid(const char *s, size_t len)
{
	return len > 0 && enhanced_prefix(s, len, 0) == len;
}

/* ---- sanitizing ---- */

/*
 * Length of the valid UTF-8 sequence at s[0..len) that starts with a byte
 * >= 0x80, or 0 when it is not valid (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF).  *cp gets the code point.
 */
static size_t
utf8_sequence(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2, *cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3, *cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4, *cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[k] & 0x3F);
	}
	return n;
}

/* Appends one character (1 to 4 octets) to the reply's text, or cuts the
 * text when it does not fit. */
static void
text_put(struct smtp_reader *r, const char *s, size_t n)
{
	if (r->truncated)
		return;
	if (r->text_len + n <= SMTP_REPLY_MAX_TEXT) {
		memcpy(r->text + r->text_len, s, n);
		r->text_len += n;
		if (r->text_len <= SMTP_REPLY_MAX_TEXT - TRUNCATION_MARK_LEN)
			r->text_cut = r->text_len;
		return;
	}
	memcpy(r->text + r->text_cut, TRUNCATION_MARK, TRUNCATION_MARK_LEN);
	r->text_len = r->text_cut + TRUNCATION_MARK_LEN;
	r->truncated = 1;
}

/* Appends a run of printable ASCII: every octet is a character. */
static void
text_put_ascii(struct smtp_reader *r, const char *s, size_t n)
{
	const size_t limit = SMTP_REPLY_MAX_TEXT - TRUNCATION_MARK_LEN;
	size_t before = r->text_len;
	size_t take = n <= SMTP_REPLY_MAX_TEXT - before ? n : SMTP_REPLY_MAX_TEXT - before;

	if (r->truncated)
		return;
	memcpy(r->text + before, s, take);
	r->text_len += take;
	if (before <= limit)
		r->text_cut = r->text_len <= limit ? r->text_len : limit;
	if (take < n)
		text_put(r, s + take, 1); /* does not fit: cuts */
}

/* Appends s[0..len), sanitized as smtpreply.h describes. */
static void
text_append_sanitized(struct smtp_reader *r, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len && !r->truncated) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7F) {
			/* A run of printable ASCII, the common case, in one go. */
			size_t j = i + 1;
			while (j < len && p[j] >= 0x20 && p[j] < 0x7F)
				j++;
			text_put_ascii(r, s + i, j - i);
			i = j;
		} else if (c == '\t') {
			text_put(r, " ", 1);
			i++;
		} else if (c < 0x80) {
			text_put(r, "?", 1); /* C0 controls and DEL */
			i++;
		} else {
			unsigned cp;
			size_t n = utf8_sequence(p + i, len - i, &cp);
			if (n == 0 || (cp >= 0x80 && cp <= 0x9F)) {
				/* An invalid octet, or a C1 control (replaced whole). */
				text_put(r, "?", 1);
				i += n ? n : 1;
			} else {
				text_put(r, s + i, n);
				i += n;
			}
		}
	}
}

/* ---- EHLO keywords ---- */

static const struct {
	const char *keyword; /* lower case */
	unsigned flag;
} ehlo_keywords[] = {
    {"pipelining", SMTP_EXT_PIPELINING},
    {"starttls", SMTP_EXT_STARTTLS},
    {"size", SMTP_EXT_SIZE},
    {"8bitmime", SMTP_EXT_8BITMIME},
    {"smtputf8", SMTP_EXT_SMTPUTF8},
    {"enhancedstatuscodes", SMTP_EXT_ENHANCEDSTATUSCODES},
    {"chunking", SMTP_EXT_CHUNKING},
    {"auth", SMTP_EXT_AUTH},
};

/*
 * Notes the extension on one EHLO line (text after "250-"/"250 "), raw
 * octets.  RFC 5321 4.1.1.1: ehlo-line = ehlo-keyword *( SP ehlo-param ),
 * ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
 */
static void
ehlo_scan_line(struct smtp_ehlo *e, const char *s, size_t len)
{
	size_t k = 0;

	while (k < len &&
	       (is_digit((unsigned char)s[k]) ||
		(lower((unsigned char)s[k]) >= 'a' && lower((unsigned char)s[k]) <= 'z') ||
		(k > 0 && s[k] == '-')))
		k++;
	if (k == 0 || (k < len && s[k] != ' ' && s[k] != '='))
		return;
	for (size_t i = 0; i < sizeof ehlo_keywords / sizeof ehlo_keywords[0]; i++) {
		if (!equal_nocase(s, k, ehlo_keywords[i].keyword))
			continue;
		e->flags |= ehlo_keywords[i].flag;
		if (ehlo_keywords[i].flag != SMTP_EXT_SIZE)
			return;
		/* RFC 1870: "SIZE" [SP number]; 0 or nothing means no limit. */
		size_t p = k;
		unsigned long long v = 0;
		while (p < len && s[p] == ' ')
			p++;
		size_t digits = p;
		while (p < len && is_digit((unsigned char)s[p])) {
			unsigned d = (unsigned)(s[p] - '0');
			v = v > (ULLONG_MAX - d) / 10 ? ULLONG_MAX : v * 10 + d;
			p++;
		}
		while (p < len && s[p] == ' ')
			p++;
		e->size = p == len && p > digits ? v : 0;
		return;
	}
}

int
smtp_ehlo_parse(const struct smtp_reply *reply, struct smtp_ehlo *ext)
{
	if (reply->code != 250) {
		memset(ext, 0, sizeof *ext);
		return -1;
	}
	*ext = reply->ehlo;
	return 0;
}

/* ---- the reader ---- */

static void
reply_clear(struct smtp_reader *r)
{
	r->code = 0;
	r->lines = 0;
	r->enhanced[0] = '\0';
	r->enhanced_len = 0;
	r->truncated = 0;
	r->text_len = 0;
	r->text_cut = 0;
	r->text[0] = '\0';
	memset(&r->ehlo, 0, sizeof r->ehlo);
}

struct smtp_reader *
smtp_reader_new(void)
{
	struct smtp_reader *r = xmalloc(sizeof *r);
	smtp_reader_reset(r);
	return r;
}

void
smtp_reader_free(struct smtp_reader *r)
{
	free(r);
}

void
smtp_reader_reset(struct smtp_reader *r)
{
	r->error = NULL;
	r->start = r->end = r->scanned = 0;
	reply_clear(r);
}

const char *
smtp_reader_error(const struct smtp_reader *r)
{
	return r->error ? r->error : "";
}

size_t
smtp_reader_buffered(const struct smtp_reader *r)
{
	return r->end - r->start;
}

int
smtp_reader_idle(const struct smtp_reader *r)
{
	return r->end == r->start && r->lines == 0;
}

char *
smtp_reader_space(struct smtp_reader *r, size_t *room)
{
	if (r->error != NULL) {
		/* Everything is dropped now: offer the whole buffer. */
		r->start = r->end = r->scanned = 0;
	} else if (r->start > 0) {
		memmove(r->in, r->in + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	*room = READER_BUFSIZE - r->end;
	return r->in + r->end;
}

void
smtp_reader_commit(struct smtp_reader *r, size_t n)
{
	if (r->error != NULL)
		return;
	if (n > READER_BUFSIZE - r->end)
		abort(); /* the caller broke the contract: never write past room */
	r->end += n;
}

size_t
smtp_reader_feed(struct smtp_reader *r, const void *data, size_t len)
{
	size_t room;

	if (r->error != NULL)
		return len;
	char *p = smtp_reader_space(r, &room);
	if (len < room)
		room = len;
	if (room > 0)
		memcpy(p, data, room);
	smtp_reader_commit(r, room);
	return room;
}

static int
fail(struct smtp_reader *r, const char *why)
{
	r->error = why;
	r->start = r->end = r->scanned = 0;
	reply_clear(r);
	return -1;
}

/*
 * Folds one line (without its line end) into the reply in progress.
 * Returns 1 when it was the last line, 0 when more follow, -1 on error.
 */
static int
take_line(struct smtp_reader *r, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	if (memchr(s, '\0', len) != NULL)
		return fail(r, "NUL in reply");
	if (len < 3 || !is_digit(u[0]) || !is_digit(u[1]) || !is_digit(u[2]))
		return fail(r, "no reply code");
	if (u[0] < '2' || u[0] > '5' || u[1] > '5')
		return fail(r, "reply code out of range");
	if (len > 3 && s[3] != ' ' && s[3] != '-')
		return fail(r, "bad character after reply code");

	int code = (u[0] - '0') * 100 + (u[1] - '0') * 10 + (u[2] - '0');
	int last = len == 3 || s[3] == ' ';

	if (r->lines > 0 && code != r->code)
		return fail(r, "inconsistent codes in a multi-line reply");
	if (r->lines == SMTP_REPLY_MAX_LINES)
		return fail(r, "reply longer than 100 lines");

	const char *text = len > 3 ? s + 4 : s + 3;
	size_t text_len = len > 3 ? len - 4 : 0;

	if (r->lines == 0) {
		r->code = code;
		size_t n = enhanced_prefix(text, text_len, s[0]);
		if (n > 0) {
			memcpy(r->enhanced, text, n);
			r->enhanced[n] = '\0';
			r->enhanced_len = n;
		}
	} else {
		/* Lines 2 and later are joined with LF. */
		text_put(r, "\n", 1);
	}
	/* RFC 2034: every line carries the code; strip it where it does. */
	if (r->enhanced_len > 0 && text_len >= r->enhanced_len &&
	    memcmp(text, r->enhanced, r->enhanced_len) == 0 &&
	    (text_len == r->enhanced_len || text[r->enhanced_len] == ' ')) {
		size_t skip = r->enhanced_len + (text_len > r->enhanced_len);
		text += skip;
		text_len -= skip;
	}
	if (r->lines > 0)
		ehlo_scan_line(&r->ehlo, text, text_len);
	r->lines++;
	text_append_sanitized(r, text, text_len);
	return last;
}

int
smtp_reader_next(struct smtp_reader *r, struct smtp_reply *out)
{
	if (r->error != NULL)
		return -1;
	for (;;) {
		size_t avail = r->end - r->start;
		size_t window = avail < SMTP_REPLY_MAX_LINE ? avail : SMTP_REPLY_MAX_LINE;
		const char *line = r->in + r->start;
		const char *lf = NULL;

		if (window > r->scanned)
			lf = memchr(line + r->scanned, '\n', window - r->scanned);
		if (lf == NULL) {
			if (window >= SMTP_REPLY_MAX_LINE)
				return fail(r, "reply line longer than 4096 octets");
			r->scanned = window;
			if (avail == 0)
				r->start = r->end = 0;
			return 0;
		}
		size_t len = (size_t)(lf - line);
		r->start += len + 1;
		r->scanned = 0;
		if (len > 0 && line[len - 1] == '\r')
			len--;

		int st = take_line(r, line, len);
		if (st < 0)
			return -1;
		if (st == 0)
			continue;

		out->code = r->code;
		out->lines = r->lines;
		memcpy(out->enhanced, r->enhanced, r->enhanced_len + 1);
		out->truncated = r->truncated;
		out->text_len = r->text_len;
		memcpy(out->text, r->text, r->text_len);
		out->text[r->text_len] = '\0';
		out->ehlo = r->ehlo;
		reply_clear(r);
		if (r->start == r->end)
			r->start = r->end = 0;
		return 1;
	}
}

/* ---- classification ---- */

#define ANY_STAGE (-1)

/*
 * What a reply means when it is not positive for its stage: the first row
 * that matches decides the outcome, and gives the enhanced code to report
 * when the server gave none.  code is an exact code (e.g. 552) or a class
 * (4 or 5).  Rows without a reference use the generic RFC 3463 codes
 * X.0.0 ("only the class of the error is known"): a basic code alone
 * rarely says more, and a wrong specific code is worse than none -- a
 * made-up 5.1.1 would get a good address suppressed.
 */
static const struct reply_rule {
	int stage; /* enum smtp_stage, or ANY_STAGE */
	int code;
	enum smtp_outcome outcome;
	const char *enhanced;
} reply_rules[] = {
    /* RFC 7504: 521 greeting = this host never accepts mail; X.3.2 "system
     * not accepting network messages" is the code IANA pairs with 521. */
    {SMTP_STAGE_GREETING, 521, SMTP_FAILED, "5.3.2"},
    /* RFC 7504/7505: 556 = the domain accepts no mail (null MX). */
    {ANY_STAGE, 556, SMTP_FAILED, "5.1.10"},
    /* Any other refusal in the greeting is about us or about the host,
     * never about the recipient, and another MX or a later try may well
     * work: deferred (as Postfix's smtp_skip_5xx_greeting = yes). */
    {SMTP_STAGE_GREETING, 5, SMTP_DEFERRED, "4.3.2"},
    {SMTP_STAGE_GREETING, 4, SMTP_DEFERRED, "4.3.2"},
    /* RFC 5321 421 "Service not available, closing transmission channel":
     * X.3.2, the host is not accepting messages now. */
    {ANY_STAGE, 421, SMTP_DEFERRED, "4.3.2"},
    /* Only classified when TLS is required: a refused STARTTLS is never the
     * recipient's fault, so deferred; X.7.4 "security features not
     * supported" (IANA pairs it with 504). */
    {SMTP_STAGE_STARTTLS, 5, SMTP_DEFERRED, "4.7.4"},
    {SMTP_STAGE_STARTTLS, 4, SMTP_DEFERRED, "4.7.4"},
    /* RFC 5321 4.5.3.1.10: too many recipients is 452, and a client SHOULD
     * treat the 552 of RFC 821 as the same temporary condition; X.5.3. */
    {SMTP_STAGE_RCPT, 452, SMTP_DEFERRED, "4.5.3"},
    {SMTP_STAGE_RCPT, 552, SMTP_DEFERRED, "4.5.3"},
    /* RFC 5321 452 elsewhere: "insufficient system storage"; X.3.1 "mail
     * system full", which IANA pairs with 452. */
    {ANY_STAGE, 452, SMTP_DEFERRED, "4.3.1"},
    /* RFC 5321 553 "mailbox name not allowed (e.g., syntax incorrect)":
     * X.1.7 for the sender's address, X.1.3 for a recipient's. */
    {SMTP_STAGE_MAIL, 553, SMTP_FAILED, "5.1.7"},
    {SMTP_STAGE_RCPT, 553, SMTP_FAILED, "5.1.3"},
    /* RFC 4954 / RFC 3207: 530 is "authentication (or TLS) required",
     * sent with 5.7.0. */
    {ANY_STAGE, 530, SMTP_FAILED, "5.7.0"},
    /* RFC 5321 500-504 and 555 are command errors: the X.5 "protocol"
     * subject (RFC 3463 3.6), so that nobody blames the address. */
    {ANY_STAGE, 500, SMTP_FAILED, "5.5.2"}, /* syntax error, command unrecognized */
    {ANY_STAGE, 501, SMTP_FAILED, "5.5.4"}, /* syntax error in parameters */
    {ANY_STAGE, 502, SMTP_FAILED, "5.5.1"}, /* command not implemented */
    {ANY_STAGE, 503, SMTP_FAILED, "5.5.1"}, /* bad sequence of commands */
    {ANY_STAGE, 504, SMTP_FAILED, "5.5.4"}, /* command parameter not implemented */
    {ANY_STAGE, 555, SMTP_FAILED, "5.5.4"}, /* MAIL/RCPT parameters not recognized */
    /* Everything else: by class. */
    {ANY_STAGE, 4, SMTP_DEFERRED, "4.0.0"},
    {ANY_STAGE, 5, SMTP_FAILED, "5.0.0"},
};

/*
 * When a non-greeting 4xx reply says the destination is throttling us.
 * Kept conservative: a per-recipient condition ("this user receives mail
 * too fast", 4.2.1; "too many recipients in this message", 4.5.3) or
 * greylisting must not slow down a whole destination.  A row matches when
 * the reply's enhanced code fits and, if needle is set, the text holds
 * it.  enhanced: NULL = any (or none); "4.7." = in the 4.7 subject or
 * none; "=4.7.0" = exactly that code.  Codes 421 and any greeting
 * refusal always throttle (DESIGN: "refuses connections or answers 421").
 */
static const struct throttle_rule {
	const char *enhanced;
	const char *needle; /* lower case */
} throttle_rules[] = {
    {"=4.3.2", NULL},	    /* system not accepting network messages */
    {"=4.4.5", NULL},	    /* mail system congestion */
    {"=4.7.28", NULL},	    /* mail flood detected (RFC 8689 era; Gmail) */
    {"4.7.", "rate limit"}, /* also "rate limited", "rate limiting" (Microsoft 4.7.650) */
    {"4.7.", "ratelimit"},
    {"4.7.", "rate-limit"},
    {"4.7.", "rate exceeded"},
    {"4.7.", "too many connections"}, /* Postfix anvil, Exim */
    {"4.7.", "too many concurrent"},
    {"4.7.", "too many sessions"},
    {"4.7.", "too much mail"},	   /* Postfix anvil message rate */
    {"4.7.", "unexpected volume"}, /* Yahoo TSS04 */
    {"4.7.", "slow down"},
    {"=4.7.1", "too many recipients from"}, /* Postfix anvil recipient rate */
    {"=4.7.0", "try again later"},
};

/* Text that rules out throttling (unless 421 or the greeting). */
static const char *const not_throttle_needles[] = {"greylist", "graylist"};

static int
enhanced_matches(const char *pattern, const char *enhanced)
{
	if (pattern == NULL)
		return 1;
	if (pattern[0] == '=')
		return strcmp(pattern + 1, enhanced) == 0;
	/* A prefix, or no enhanced code at all. */
	return enhanced[0] == '\0' || strncmp(pattern, enhanced, strlen(pattern)) == 0;
}

static int
is_throttling(const struct smtp_reply *reply, enum smtp_stage stage)
{
	if (reply->code / 100 == 2 || reply->code / 100 == 3)
		return 0;
	if (stage == SMTP_STAGE_GREETING || reply->code == 421)
		return 1;
	if (reply->code / 100 != 4)
		return 0;
	for (size_t i = 0; i < sizeof not_throttle_needles / sizeof not_throttle_needles[0]; i++)
		if (strcasestr(reply->text, not_throttle_needles[i]) != NULL)
			return 0;
	for (size_t i = 0; i < sizeof throttle_rules / sizeof throttle_rules[0]; i++) {
		const struct throttle_rule *t = &throttle_rules[i];
		if (!enhanced_matches(t->enhanced, reply->enhanced))
			continue;
		if (t->needle == NULL || strcasestr(reply->text, t->needle) != NULL)
			return 1;
	}
	return 0;
}

static void
set_enhanced(struct smtp_verdict *v, const char *code)
{
	size_t n = strlen(code);
	if (n >= sizeof v->enhanced)
		n = sizeof v->enhanced - 1;
	memcpy(v->enhanced, code, n);
	v->enhanced[n] = '\0';
}

void
smtp_classify(const struct smtp_reply *reply, enum smtp_stage stage, struct smtp_verdict *v)
{
	int class = reply->code / 100;
	int positive = stage == SMTP_STAGE_DATA ? 3 : 2;

	v->code = reply->code;
	v->throttle = 0;
	v->retry_after = -1;
	v->reason = NULL;
	v->assigned = 0;

	if (class == positive) {
		v->outcome = SMTP_DELIVERED;
		if (reply->enhanced[0] != '\0') {
			set_enhanced(v, reply->enhanced);
		} else {
			set_enhanced(v, "2.0.0");
			v->assigned = 1;
		}
		return;
	}
	if (class == 2 || class == 3) {
		/* Positive, but not what this stage expects (a 250 to DATA, a
		 * 354 to RCPT): the two sides disagree on where they are. */
		v->outcome = SMTP_DEFERRED;
		set_enhanced(v, "4.5.0");
		v->assigned = 1;
		v->retry_after = -1;
		return;
	}

	const struct reply_rule *rule = NULL;
	for (size_t i = 0; i < sizeof reply_rules / sizeof reply_rules[0]; i++) {
		const struct reply_rule *c = &reply_rules[i];
		if (c->stage != ANY_STAGE && c->stage != (int)stage)
			continue;
		if (c->code < 10 ? c->code == class : c->code == reply->code) {
			rule = c;
			break;
		}
	}
	/* The last two rows match every 4xx and 5xx, and nothing else is left. */
	v->outcome = rule->outcome;
	if (reply->enhanced[0] != '\0') {
		set_enhanced(v, reply->enhanced);
		/* A softened 5xx reports its code with class 4 (as Postfix's
		 * soft_bounce does), so that code and outcome agree. */
		if (v->outcome == SMTP_DEFERRED)
			v->enhanced[0] = '4';
	} else {
		set_enhanced(v, rule->enhanced);
		v->assigned = 1;
	}
	v->throttle = v->outcome == SMTP_DEFERRED && is_throttling(reply, stage);
	if (v->outcome == SMTP_DEFERRED)
		v->retry_after = smtp_retry_hint(reply->text);
}

/*
 * Local conditions.  The codes follow RFC 3463's subjects, and where
 * Postfix has long reported the same condition, its choice.
 */
static const struct local_rule {
	enum smtp_local what;
	enum smtp_outcome outcome;
	const char *enhanced;
	int throttle;
	const char *reason;
} local_rules[] = {
    /* X.1.2: "the destination system specified in the address does not
     * exist" -- NXDOMAIN is authoritative (DESIGN: permanent). */
    {SMTP_LOCAL_DNS_NXDOMAIN, SMTP_FAILED, "5.1.2", 0, "domain does not exist"},
    /* RFC 7505 section 4.1: null MX, 5.1.10. */
    {SMTP_LOCAL_DNS_NULL_MX, SMTP_FAILED, "5.1.10", 0, "domain accepts no mail (null MX)"},
    /* X.4.4 "unable to route": "a DNS lookup returning only an SOA". */
    {SMTP_LOCAL_DNS_NO_ADDRESS, SMTP_FAILED, "5.4.4", 0, "domain has no MX and no address"},
    /* X.4.3 "directory server failure" (DESIGN: SERVFAIL is temporary). */
    {SMTP_LOCAL_DNS_TEMPORARY, SMTP_DEFERRED, "4.4.3", 0, "temporary DNS failure"},
    /* X.4.1 "no answer from host"; DESIGN: a destination that refuses
     * connections is throttling us. */
    {SMTP_LOCAL_CONNECT_REFUSED, SMTP_DEFERRED, "4.4.1", 1, "connection refused"},
    {SMTP_LOCAL_CONNECT_TIMEOUT, SMTP_DEFERRED, "4.4.1", 1, "connection timed out"},
    /* X.4.2 "bad connection": established, but the transaction could not
     * be completed.  Servers over their limits often just hang up or
     * stall rather than say 421, so both count as pushing back. */
    {SMTP_LOCAL_CONNECTION_LOST, SMTP_DEFERRED, "4.4.2", 1, "connection lost"},
    {SMTP_LOCAL_REPLY_TIMEOUT, SMTP_DEFERRED, "4.4.2", 1, "timeout waiting for reply"},
    /* X.5.0 "other protocol status"; deferred: one broken reply is no
     * proof that the recipient is bad. */
    {SMTP_LOCAL_PROTOCOL_ERROR, SMTP_DEFERRED, "4.5.0", 0, "protocol error in reply"},
    /* X.7.4 "security features not supported", X.7.5 "cryptographic
     * failure" (Postfix: 4.7.4 / 4.7.5).  Deferred: TLS trouble is about
     * the host, and often fixed by its administrator. */
    {SMTP_LOCAL_TLS_NOT_OFFERED, SMTP_DEFERRED, "4.7.4", 0, "TLS required but not offered"},
    {SMTP_LOCAL_TLS_FAILED, SMTP_DEFERRED, "4.7.5", 0, "TLS handshake failed"},
    /* X.3.4 "message too big for system" (RFC 1870 section 6.1). */
    {SMTP_LOCAL_MESSAGE_TOO_BIG, SMTP_FAILED, "5.3.4", 0, "message exceeds the server's SIZE"},
    /* RFC 6531 3.4 and X.6.7 "non-ASCII addresses not permitted". */
    {SMTP_LOCAL_NEEDS_SMTPUTF8, SMTP_FAILED, "5.6.7", 0, "SMTPUTF8 required but not offered"},
    /* X.6.3 "conversion required but not supported". */
    {SMTP_LOCAL_NEEDS_8BITMIME, SMTP_FAILED, "5.6.3", 0, "8BITMIME required but not offered"},
};

void
smtp_classify_local(enum smtp_local what, struct smtp_verdict *v)
{
	/* Defaults for a value outside the enum: when in doubt, defer. */
	v->outcome = SMTP_DEFERRED;
	v->code = 0;
	set_enhanced(v, "4.0.0");
	v->assigned = 1;
	v->throttle = 0;
	v->retry_after = -1;
	v->reason = "unknown local condition";
	for (size_t i = 0; i < sizeof local_rules / sizeof local_rules[0]; i++) {
		if (local_rules[i].what != what)
			continue;
		v->outcome = local_rules[i].outcome;
		set_enhanced(v, local_rules[i].enhanced);
		v->throttle = local_rules[i].throttle;
		v->reason = local_rules[i].reason;
		return;
	}
}

/* ---- retry hints ---- */

static const char *const retry_prefixes[] = {
    "try again in", "try again after", "retry in", "retry after", "greylisted for", "wait",
};

static const struct {
	const char *word; /* lower case */
	long seconds;
} retry_units[] = {
    {"s", 1},	  {"sec", 1},	  {"secs", 1},	   {"second", 1},  {"seconds", 1},
    {"m", 60},	  {"min", 60},	  {"mins", 60},	   {"minute", 60}, {"minutes", 60},
    {"h", 3600},  {"hr", 3600},	  {"hrs", 3600},   {"hour", 3600}, {"hours", 3600},
    {"d", 86400}, {"day", 86400}, {"days", 86400},
};

#define RETRY_HINT_MAX 86400L

/* The hint right after a prefix at s, or -1. */
static long
retry_value(const char *s)
{
	while (*s == ' ')
		s++;
	if (starts_nocase(s, "about "))
		s += 6;
	if (!is_digit((unsigned char)*s))
		return -1;

	long n = 0;
	while (is_digit((unsigned char)*s)) {
		if (n <= RETRY_HINT_MAX)
			n = n * 10 + (*s - '0');
		s++;
	}
	while (*s == ' ')
		s++;

	size_t w = 0;
	while (lower((unsigned char)s[w]) >= 'a' && lower((unsigned char)s[w]) <= 'z')
		w++;
	for (size_t i = 0; i < sizeof retry_units / sizeof retry_units[0]; i++) {
		if (!equal_nocase(s, w, retry_units[i].word))
			continue;
		if (n > RETRY_HINT_MAX / retry_units[i].seconds)
			return RETRY_HINT_MAX;
		return n * retry_units[i].seconds;
	}
	return -1;
}

long
smtp_retry_hint(const char *text)
{
	const char *best = NULL;
	long best_value = -1;

	/* The earliest hint in the text wins, whichever its prefix. */
	for (size_t i = 0; i < sizeof retry_prefixes / sizeof retry_prefixes[0]; i++) {
		for (const char *p = text; (p = strcasestr(p, retry_prefixes[i])) != NULL; p++) {
			if (best != NULL && p > best)
				break;
			/* Prefixes start words: "await" is not "wait". */
			if (p > text && lower((unsigned char)p[-1]) >= 'a' &&
			    lower((unsigned char)p[-1]) <= 'z')
				continue;
			long v = retry_value(p + strlen(retry_prefixes[i]));
			if (v >= 0) {
				best = p, best_value = v;
				break;
			}
		}
	}
	return best_value;
}
