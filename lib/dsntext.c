/*
 * dsntext - non-standard bounces: the prose of qmail, Postfix, Exim,
 * Sendmail, Exchange, Gmail, Yahoo and the many others that write a
 * human-readable report without (or with a broken) delivery-status part.
 * Part of dsn (see dsn.h); not for callers.
 *
 * DESCRIPTION
 *	Every MTA's report has the same three pieces: a sentence that says
 *	delivery failed, the failed address on a line of its own (alone,
 *	"<addr>:", "addr:", "<addr>... reason", "addr on <date>"), and the
 *	reason near it; then, after a marker line ("--- Below this line is a
 *	copy of the message.", "------ This is a copy of the message ...",
 *	"----- Original message -----"), the returned message.  So instead of
 *	one parser per MTA, one reader:
 *	  1. the prose is cut at the first marker line; the header after it
 *	     becomes orig_headers;
 *	  2. the text is a bounce when it carries the wording of a known MTA,
 *	     or when the outer header looks like one (MAILER-DAEMON, "Undelivered
 *	     Mail ...") and the text has failure wording or a recipient line;
 *	     an "Auto-Submitted: auto-replied" message needs the MTA wording
 *	     (a vacation notice says "could not be delivered" too);
 *	  3. each line that starts with an address is a recipient; its
 *	     diagnostic is the rest of that line and the lines up to the next
 *	     recipient line;
 *	  4. with no such line, the first address in the text that is not the
 *	     bounce's own sender or receiver; then X-Failed-Recipients; then
 *	     the returned message's To:.
 *	The wording lists are data, each phrase lower case.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "classify.h"
#include "dsn.h"
#include "dsnint.h"

/* Wording only the bounces of a known MTA use. */
static const char *const mta_markers[] = {
    "this is the qmail-send program",
    "this is the mail system at host",
    "this message was created automatically by mail delivery software",
    "the following addresses had permanent fatal errors",
    "the following addresses had transient non-fatal errors",
    "the following addresses had delivery problems",
    "transcript of session follows",
    "the original message was received at",
    "delivery has failed to these recipients or groups",
    "diagnostic information for administrators",
    "your message did not reach some or all of the intended recipients",
    "did not reach the following recipient",
    "delivery to the following recipient failed permanently",
    "delivery to the following recipients failed",
    "delivery to the following recipient has been delayed",
    "the response from the remote server was",
    "the error that the other server returned was",
    "sorry, we were unable to deliver your message",
    "i'm afraid i wasn't able to deliver your message",
    "i'm sorry to have to inform you that your message could not",
    "there was an error delivering your mail",
    "an error occurred while trying to deliver the mail",
    "the following message to",
    "this is the dragonfly mail agent",
    "this report relates to a message you sent",
    "the following recipient(s) could not be reached",
    "each of the following recipients was rejected",
    "this is an automatically generated delivery status notification",
    "the post office has returned",
    "error: invalid user address",
    "this message is a delivery status notification",
    "the mail server could not deliver",
    "the email address you entered couldn't be found",
    "there was a temporary problem delivering your message",
    "we had trouble delivering your message",
    "incorrectly constructed",
    "could not be delivered to:",
    "your mail sent on:",
    "you are not a member of this mailing list",
    NULL,
};

/* Failure wording any mail might use: a bounce only when the header
 * looks like one too. */
static const char *const failure_words[] = {
    "your message was not delivered",
    "your message cannot be delivered",
    "your message could not be delivered",
    "your mail could not be delivered",
    "your email could not be delivered",
    "message could not be delivered",
    "could not be delivered to",
    "was not delivered to",
    "were not delivered",
    "unable to deliver your message",
    "delivery of your message",
    "delivery status notification",
    "mail delivery failed",
    "undeliverable mail",
    "message not delivered",
    "could not deliver mail",
    "failed to deliver",
    "has not been delivered",
    "could not be delivered",
    "permanent error",
    "fatal error",
    "non-delivery",
    "nondelivery",
    "returned mail",
    "delivery failure",
    "delivery failed",
    "undelivered mail",
    "your email to",
    "your message to",
    "message you sent",
    "was undeliverable",
    "could not deliver the message",
    "message could not be sent",
    "we were unable to deliver",
    "delivery has failed",
    "delivery notification",
    "rejected recipient",
    NULL,
};

/* Wording that says the report is a delay warning, not a failure. */
static const char *const delay_words[] = {
    "this is a warning message only",
    "delivery to the following recipient has been delayed",
    "has been delayed",
    "will continue to try",
    "will be retried",
    "still trying",
    "has not yet been delivered",
    "delivery delayed",
    "delayed mail",
    "warning: message still undelivered",
    NULL,
};

/* The lower-cased text with white space runs folded, for phrase search. */
static void
fold_lower(struct buf *out, const char *s, size_t len)
{
	int space = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ') {
			if (!space)
				buf_append_char(out, ' ');
			space = 1;
			continue;
		}
		buf_append_char(out, (char)dsn_lower(c));
		space = 0;
	}
	(void)buf_cstr(out);
}

static int
any_phrase(const char *folded, const char *const *list)
{
	for (const char *const *p = list; *p != NULL; p++)
		if (strstr(folded, *p) != NULL)
			return 1;
	return 0;
}

/* ---- addresses ---- */

static int
local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL) || c >= 0x80;
}

static int
domain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/* The address whose '@' is at s[at]: *start and *len; 0 when it is none. */
static int
address_around(const char *s, size_t slen, size_t at, size_t *start, size_t *len)
{
	size_t b = at, e = at + 1;
	while (b > 0 && local_char((unsigned char)s[b - 1]) && at - b < 256)
		b--;
	while (b < at && (s[b] == '.' || s[b] == '\'' || s[b] == '/'))
		b++;
	while (e < slen && domain_char((unsigned char)s[e]) && e - at < 256)
		e++;
	while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-'))
		e--;
	if (b == at || e == at + 1 || memchr(s + at + 1, '.', e - at - 1) == NULL)
		return 0;
	*start = b;
	*len = e - b;
	return 1;
}

/* The first address in s[0..len), or 0. */
static int
first_address(const char *s, size_t len, size_t *start, size_t *alen)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '@' && address_around(s, len, i, start, alen))
			return 1;
	return 0;
}

/*
 * A recipient line: after blanks (and a list bullet), an address right
 * away -- bare, in <>, or in quotes -- followed by nothing, ':', "...",
 * " on ", " (", " <", " [", ',' or ">"; returns the address.
 */
static int
recipient_line(const char *line, size_t len, size_t *start, size_t *alen)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i + 1 < len && (line[i] == '*' || line[i] == '-') && line[i + 1] == ' ')
		i += 2;
	/* Sendmail's transcript: "550 <addr>... User unknown". */
	if (i + 4 < len && (line[i] == '4' || line[i] == '5') && line[i + 1] >= '0' &&
	    line[i + 1] <= '9' && line[i + 2] >= '0' && line[i + 2] <= '9' && line[i + 3] == ' ')
		i += 4;
	while (i < len && (line[i] == '<' || line[i] == '"' || line[i] == '\''))
		i++;
	size_t at = i;
	while (at < len && local_char((unsigned char)line[at]))
		at++;
	if (at >= len || line[at] != '@' || at == i)
		return 0;
	if (!address_around(line, len, at, start, alen) || *start != i)
		return 0;
	size_t k = *start + *alen;
	while (k < len && (line[k] == '>' || line[k] == '"' || line[k] == '\''))
		k++;
	const char *rest = line + k;
	size_t rlen = len - k;
	while (rlen > 0 && (rest[rlen - 1] == ' ' || rest[rlen - 1] == '\t'))
		rlen--;
	if (rlen == 0 || rest[0] == ':' || rest[0] == ',' || (rlen >= 3 && !memcmp(rest, "...", 3)))
		return 1;
	if (rlen >= 4 && !memcmp(rest, " on ", 4))
		return 1;
	if (rlen >= 2 && rest[0] == ' ' && (rest[1] == '(' || rest[1] == '<' || rest[1] == '['))
		return 1;
	if (rlen >= 2 && rest[0] == ' ' && rest[1] == ' ')
		return 1;
	if (rlen >= 8 && !memcmp(rest, "<mailto:", 8))
		return 1;
	/* "addr Invalid Address, ERROR_CODE :550": a reply code follows. */
	int code;
	char status[16];
	dsn_find_codes(rest, rlen, &code, status);
	return code != 0 || status[0] != '\0';
}

/*
 * Where the reason for an address that ends at text[from] ends: when the
 * address's own line goes on with some text ("<a>: host x said: 550 ...",
 * "<a>... User unknown"), that line and the indented lines under it;
 * else the lines that follow, up to limit.
 */
static size_t
reason_end(const char *text, size_t from, size_t limit)
{
	const char *nl = memchr(text + from, '\n', limit - from);
	size_t eol = nl ? (size_t)(nl - text) : limit;
	size_t letters = 0;
	for (size_t i = from; i < eol; i++)
		letters += (text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z') ||
			   (text[i] >= '0' && text[i] <= '9');
	if (letters < 8)
		return limit;
	while (eol < limit && eol + 1 < limit && (text[eol + 1] == ' ' || text[eol + 1] == '\t')) {
		const char *next = memchr(text + eol + 1, '\n', limit - eol - 1);
		size_t e2 = next ? (size_t)(next - text) : limit;
		int blank = 1;
		for (size_t i = eol + 1; i < e2; i++)
			blank &= text[i] == ' ' || text[i] == '\t';
		if (blank)
			break;
		eol = e2;
	}
	return eol;
}

/* The addresses of the bounce's own envelope and header, never taken for
 * the failed recipient by the sentence fallback. */
static int
own_address(const struct dsn_report *r, const char *a, size_t alen)
{
	static const char *const fields[] = {"From", "To", "Return-Path", "Reply-To", "Sender"};
	struct buf v = BUF_INIT;
	int yes = 0;

	for (size_t f = 0; f < sizeof fields / sizeof *fields && !yes; f++) {
		buf_reset(&v);
		if (!dsn_header(&r->outer_headers, fields[f], 0, &v))
			continue;
		for (size_t i = 0; i + alen <= v.len && !yes; i++)
			if (strncasecmp(v.data + i, a, alen) == 0 &&
			    (i == 0 || !local_char((unsigned char)v.data[i - 1])) &&
			    (i + alen == v.len || !domain_char((unsigned char)v.data[i + alen])))
				yes = 1;
	}
	buf_free(&v);
	return yes;
}

/* ---- the returned message ---- */

static int
is_marker_line(const char *line, size_t len)
{
	static const char *const words[] = {"original", "copy of",	   "header", "returned",
					    "undelivered", "unsent", "message follows", "bounced"};
	static const char *const plain[] = {
	    "message headers follow",	     "original message headers",
	    "original message follows",	     "the header of the original message",
	    "included is a copy of the message", "below this line is a copy of the message",
	    "content-type: message/rfc822",    "bounced e-mail:",
	    "message headers follow.",	     "headers of the original message"};
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	const char *t = line + i;
	size_t tl = len - i;
	if (tl >= 3 && (t[0] == '-' || t[0] == '=' || t[0] == '*' || t[0] == '_') && t[1] == t[0] &&
	    t[2] == t[0]) {
		for (size_t k = 0; k < sizeof words / sizeof *words; k++)
			if (dsn_find_nocase(t, tl, words[k]))
				return 1;
		return 0;
	}
	for (size_t k = 0; k < sizeof plain / sizeof *plain; k++)
		if (dsn_find_nocase(t, tl, plain[k]) && tl < 80)
			return 1;
	return 0;
}

/* Cuts the prose at the returned message: returns the length of the
 * report part, and reads the header after the marker into orig. */
static size_t
cut_at_original(struct dsn_report *r, const char *text, size_t len)
{
	size_t off = 0;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - text) : len;
		if (off > 0 && is_marker_line(text + off, end - off)) {
			size_t h = nl ? end + 1 : len;
			while (h < len && (text[h] == '\n' || text[h] == ' ' || text[h] == '\t'))
				h++;
			if (r->orig_headers.len == 0 && h < len)
				dsn_unfold_header(text + h, len - h, &r->orig_headers);
			return off;
		}
		off = nl ? end + 1 : len;
	}
	return len;
}

/* ---- reasons near an address ---- */

int
dsn_text_explain(const char *text, size_t len, const char *addr, struct buf *out)
{
	size_t alen = strlen(addr);
	const char *p = NULL;

	for (size_t i = 0; alen > 0 && i + alen <= len; i++) {
		if (dsn_lower((unsigned char)text[i]) == dsn_lower((unsigned char)addr[0]) &&
		    strncasecmp(text + i, addr, alen) == 0) {
			p = text + i + alen;
			break;
		}
	}
	if (p == NULL)
		return 0;
	/* The rest of its line when that says something; else from after
	 * the address to the end of its paragraph. */
	size_t from = (size_t)(p - text);
	size_t stop = reason_end(text, from, len < from + 4 * DSN_MAX_DIAG ? len : from + 4 * DSN_MAX_DIAG);
	if (stop < len && stop - from < 4 * DSN_MAX_DIAG) {
		const char *s0 = p;
		while (s0 < text + stop && (*s0 == '>' || *s0 == ':' || *s0 == ' ' || *s0 == '"'))
			s0++;
		buf_append(out, s0, (size_t)(text + stop - s0));
		return out->len > 0;
	}
	const char *end = text + len, *q = p;
	int content = 0;
	while (q < end && (size_t)(q - p) < DSN_MAX_DIAG) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		const char *le = nl ? nl : end;
		int blank = 1;
		for (const char *c = q; c < le; c++)
			if (*c != ' ' && *c != '\t')
				blank = 0;
		if (blank && content)
			break;
		content |= !blank && le - q > 2;
		q = nl ? nl + 1 : end;
	}
	const char *s = p;
	while (s < q && (*s == '>' || *s == ':' || *s == ' ' || *s == '"'))
		s++;
	buf_append(out, s, (size_t)(q - s));
	return out->len > 0;
}

/* The host a diagnostic names ("host mx.example.com[192.0.2.1] said"). */
static void
find_mta(struct dsn_rcpt *d)
{
	const char *t = d->diag.data;
	size_t len = d->diag.len;
	const char *h = dsn_find_nocase(t, len, "host ");

	while (h != NULL) {
		const char *s = h + 5;
		size_t n = 0;
		while (s + n < t + len && (domain_char((unsigned char)s[n])) && n < 255)
			n++;
		while (n > 0 && s[n - 1] == '.')
			n--;
		if (n > 3 && memchr(s, '.', n) != NULL) {
			int letters = 0;
			for (size_t i = 0; i < n; i++)
				letters |= (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z');
			if (letters) {
				buf_append(&d->mta, s, n);
				return;
			}
		}
		h = dsn_find_nocase(h + 5, len - (size_t)(h + 5 - t), "host ");
	}
}

static void
finish_rcpt(struct dsn_rcpt *d, const char *diag, size_t dlen, const char *report, size_t rlen,
	    int delayed)
{
	char status[16];
	int code;

	dsn_set_diag(d, diag, dlen);
	dsn_find_codes(d->diag.data, d->diag.len, &code, status);
	if (code == 0 && status[0] == '\0')
		dsn_find_codes(report, rlen < 8192 ? rlen : 8192, &code, status);
	d->code = code;
	strcpy(d->status, status);
	strcpy(d->action, delayed ? "delayed" : "failed");
	find_mta(d);
	d->cls = bounce_classify(d->code, d->status, d->diag.data, d->diag.len);
	(void)report, (void)rlen;
	if (delayed) {
		if (d->cls.reason == BR_NONE)
			d->cls.reason = BR_OTHER;
		d->cls.severity = BS_SOFT;
	}
}

/* Whether addr is already a recipient: a line that names it again
 * ("<a>: host x said: 550\n    <a>: User unknown") continues its reason. */
static int
known_rcpt(const struct dsn_report *r, const char *addr, size_t len)
{
	while (len > 0 && (*addr == '<' || *addr == '"'))
		addr++, len--;
	for (size_t i = 0; i < r->nrcpts; i++)
		if (r->rcpts[i].rcpt.len == len && strncasecmp(r->rcpts[i].rcpt.data, addr, len) == 0)
			return 1;
	return 0;
}

/* The line that holds text[pos], from its start. */
static size_t
line_start(const char *text, size_t pos)
{
	while (pos > 0 && text[pos - 1] != '\n')
		pos--;
	return pos;
}

/* Exim's X-Failed-Recipients (also Google's): the failed addresses, each
 * explained by the prose near it. */
static int
failed_recipients_header(struct dsn_report *r, const char *text, size_t rlen, int delayed)
{
	struct buf v = BUF_INIT, ex = BUF_INIT;
	int found = 0;

	for (size_t n = 0; n < 100 && dsn_header(&r->outer_headers, "X-Failed-Recipients", n, &v);
	     n++) {
		size_t pos = 0, s, alen;
		while (pos < v.len && first_address(v.data + pos, v.len - pos, &s, &alen)) {
			struct dsn_rcpt *d = dsn_add_rcpt(r, v.data + pos + s, alen);
			if (d != NULL) {
				buf_reset(&ex);
				if (dsn_text_explain(text, rlen, d->rcpt.data, &ex))
					finish_rcpt(d, ex.data, ex.len, text, rlen, delayed);
				else
					finish_rcpt(d, text, rlen, text, rlen, delayed);
				found = 1;
			}
			pos += s + alen;
		}
		buf_reset(&v);
	}
	buf_free(&v);
	buf_free(&ex);
	return found;
}

int
dsn_text_bounce(struct dsn_report *r, const char *text, size_t len, int looks_like_bounce)
{
	struct buf folded = BUF_INIT, v = BUF_INIT;
	size_t rlen;
	int known, delayed, found = 0, xfailed;

	if (text == NULL || len == 0)
		return 0;
	rlen = cut_at_original(r, text, len);
	if (rlen > 65536)
		rlen = 65536;
	fold_lower(&folded, text, rlen);
	xfailed = dsn_header(&r->outer_headers, "X-Failed-Recipients", 0, &v);
	known = xfailed || any_phrase(folded.data, mta_markers) ||
		(looks_like_bounce && any_phrase(folded.data, failure_words));
	delayed = any_phrase(folded.data, delay_words);
	/* An auto-reply says "could not be delivered" too; a message marked
	 * auto-replied needs the words of an MTA, or MAILER-DAEMON as its
	 * sender, to be a bounce. */
	buf_reset(&v);
	if (dsn_header(&r->outer_headers, "Auto-Submitted", 0, &v) &&
	    dsn_find_nocase(v.data, v.len, "auto-replied") && !xfailed) {
		buf_reset(&v);
		dsn_header(&r->outer_headers, "From", 0, &v);
		int daemon = dsn_find_nocase(v.data, v.len, "mailer-daemon") != NULL;
		buf_reset(&v);
		dsn_header(&r->outer_headers, "Content-Type", 0, &v);
		int report = dsn_find_nocase(v.data, v.len, "multipart/report") != NULL;
		if (!known || !(daemon || report))
			known = 0, looks_like_bounce = 0;
	}
	if (!known && !looks_like_bounce) {
		buf_free(&folded);
		buf_free(&v);
		buf_reset(&r->orig_headers);
		return 0;
	}
	if (xfailed)
		found = failed_recipients_header(r, text, rlen, delayed);

	/* Recipient lines; each one's reason runs to the next. */
	size_t off = 0, prev_rest = 0;
	struct dsn_rcpt *prev = NULL;
	while (!found && off < rlen && r->nrcpts < DSN_MAX_RCPTS) {
		const char *nl = memchr(text + off, '\n', rlen - off);
		size_t end = nl ? (size_t)(nl - text) : rlen;
		size_t s, alen;
		if (recipient_line(text + off, end - off, &s, &alen) &&
		    !known_rcpt(r, text + off + s, alen)) {
			if (prev != NULL)
				finish_rcpt(prev, text + prev_rest,
					    reason_end(text, prev_rest, off) - prev_rest, text, rlen,
					    delayed);
			prev = dsn_add_rcpt(r, text + off + s, alen);
			if (prev != NULL) {
				prev_rest = off + s + alen;
				/* Exchange: "addr<mailto:addr>" */
				if (prev_rest + 8 <= end && !memcmp(text + prev_rest, "<mailto:", 8)) {
					const char *gt = memchr(text + prev_rest, '>', end - prev_rest);
					if (gt != NULL)
						prev_rest = (size_t)(gt + 1 - text);
				}
			}
		}
		off = nl ? end + 1 : rlen;
	}
	if (prev != NULL) {
		finish_rcpt(prev, text + prev_rest, reason_end(text, prev_rest, rlen) - prev_rest,
			    text, rlen, delayed);
		found = 1;
	}
	if (!found) {
		/* An address in a sentence: "... delivering your mail to <x>." */
		size_t pos = 0, s, alen;
		while (pos < rlen && first_address(text + pos, rlen - pos, &s, &alen)) {
			const char *a = text + pos + s;
			if (!own_address(r, a, alen) && strncasecmp(a, "mailer-daemon@", 14) != 0) {
				struct dsn_rcpt *d = dsn_add_rcpt(r, a, alen);
				if (d != NULL) {
					size_t from = line_start(text, pos + s);
					finish_rcpt(d, text + from, rlen - from, text, rlen, delayed);
					found = 1;
				}
				break;
			}
			pos += s + alen;
		}
	}
	if (!found) {
		buf_reset(&v);
		dsn_header(&r->orig_headers, "To", 0, &v);
		size_t s, alen;
		if (v.len > 0 && first_address(v.data, v.len, &s, &alen)) {
			struct dsn_rcpt *d = dsn_add_rcpt(r, v.data + s, alen);
			if (d != NULL) {
				finish_rcpt(d, text, rlen, text, rlen, delayed);
				found = 1;
			}
		}
	}
	if (!found) {
		/* A bounce by its look, with nobody named: one unknown recipient. */
		struct dsn_rcpt *d = dsn_add_rcpt(r, "", 0);
		if (d != NULL)
			finish_rcpt(d, text, rlen, text, rlen, delayed);
		buf_append_str(&r->note, "bounce names no recipient");
	}
	/* When no recipient's own lines say anything specific, the whole
	 * report is about all of them.  (Not when some do: a report that
	 * names several reasons would lend one's to another.) */
	int vague = 1;
	for (size_t i = 0; i < r->nrcpts; i++)
		vague &= r->rcpts[i].cls.reason == BR_OTHER || r->rcpts[i].cls.reason == BR_NONE;
	for (size_t i = 0; vague && i < r->nrcpts; i++) {
		struct dsn_rcpt *d = &r->rcpts[i];
		struct bounce_class c = bounce_classify(d->code, d->status, text, rlen);
		if (c.reason != BR_NONE)
			d->cls = c;
		if (delayed) {
			/* Not delivered within the warning period (as Sisimai). */
			if (d->cls.reason == BR_NONE ||
			    (d->cls.reason == BR_OTHER && !bounce_text_specific(text, rlen)))
				d->cls.reason = BR_EXPIRED;
			d->cls.severity = BS_SOFT;
		}
	}
	/* Google Groups answers every refused post the same way (no such
	 * group, or no right to post): a refusal, not a bad address. */
	for (size_t i = 0; i < r->nrcpts; i++) {
		struct dsn_rcpt *d = &r->rcpts[i];
		if (d->rcpt.len > 17 &&
		    strcasecmp(d->rcpt.data + d->rcpt.len - 17, "@googlegroups.com") == 0)
			d->cls = (struct bounce_class){BR_POLICY_BLOCK, BS_SOFT};
	}

	buf_free(&folded);
	buf_free(&v);
	return 1;
}

/* ---- Amazon SES notifications (JSON, as SNS delivers them by mail) ---- */

/* The string value of "key" in s[0..len) (first occurrence), into out. */
static int
json_string(const char *s, size_t len, const char *key, struct buf *out)
{
	size_t klen = strlen(key);
	buf_reset(out);
	for (size_t i = 0; i + klen + 2 < len; i++) {
		if (s[i] != '"' || memcmp(s + i + 1, key, klen) != 0 || s[i + 1 + klen] != '"')
			continue;
		size_t k = i + klen + 2;
		while (k < len && (s[k] == ' ' || s[k] == ':'))
			k++;
		if (k >= len || s[k] != '"')
			return 0;
		for (k++; k < len && s[k] != '"'; k++) {
			if (s[k] == '\\' && k + 1 < len)
				k++;
			buf_append_char(out, s[k]);
		}
		(void)buf_cstr(out);
		return 1;
	}
	return 0;
}

/* The objects of the array "key": calls back with each {...} span. */
static size_t
json_objects(const char *s, size_t len, const char *key, const char **obj, size_t *olen,
	     size_t max)
{
	const char *p = dsn_find_nocase(s, len, key);
	size_t n = 0;
	if (p == NULL)
		return 0;
	const char *end = s + len;
	p = memchr(p, '[', (size_t)(end - p));
	if (p == NULL)
		return 0;
	int depth = 0, quoted = 0;
	const char *start = NULL;
	for (p++; p < end && n < max; p++) {
		if (quoted) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				quoted = 0;
			continue;
		}
		if (*p == '"')
			quoted = 1;
		else if (*p == '{' && depth++ == 0)
			start = p;
		else if (*p == '}' && depth > 0 && --depth == 0) {
			obj[n] = start;
			olen[n++] = (size_t)(p + 1 - start);
		} else if (*p == ']' && depth == 0)
			break;
	}
	return n;
}

int
dsn_json_notification(struct dsn_report *r, const char *text, size_t len)
{
	struct buf type = BUF_INIT, v = BUF_INIT;
	const char *obj[64];
	size_t olen[64], n;
	int done = 1;

	if (text == NULL || !json_string(text, len, "notificationType", &type)) {
		buf_free(&type);
		return 0;
	}
	if (strcasecmp(type.data, "Bounce") == 0) {
		r->kind = DSN_BOUNCE;
		n = json_objects(text, len, "\"bouncedrecipients\"", obj, olen, 64);
		for (size_t i = 0; i < n; i++) {
			if (!json_string(obj[i], olen[i], "emailAddress", &v))
				continue;
			struct dsn_rcpt *d = dsn_add_rcpt(r, v.data, v.len);
			if (d == NULL)
				continue;
			char status[16];
			int code;
			if (json_string(obj[i], olen[i], "diagnosticCode", &v)) {
				const char *dg = v.data;
				size_t dl = v.len;
				const char *semi = memchr(dg, ';', dl < 16 ? dl : 16);
				if (semi != NULL)
					dl -= (size_t)(semi + 1 - dg), dg = semi + 1;
				dsn_set_diag(d, dg, dl);
			}
			dsn_find_codes(d->diag.data, d->diag.len, &code, status);
			d->code = code;
			if (json_string(obj[i], olen[i], "status", &v) && v.len < sizeof d->status)
				memcpy(d->status, v.data, v.len + 1);
			else
				strcpy(d->status, status);
			strcpy(d->action, "failed");
			d->cls = bounce_classify(d->code, d->status, d->diag.data, d->diag.len);
		}
	} else if (strcasecmp(type.data, "Complaint") == 0) {
		r->kind = DSN_COMPLAINT;
		if (json_string(text, len, "complaintFeedbackType", &v))
			snprintf(r->feedback_type, sizeof r->feedback_type, "%s", v.data);
		n = json_objects(text, len, "\"complainedrecipients\"", obj, olen, 64);
		for (size_t i = 0; i < n; i++) {
			if (!json_string(obj[i], olen[i], "emailAddress", &v))
				continue;
			struct dsn_rcpt *d = dsn_add_rcpt(r, v.data, v.len);
			if (d != NULL)
				d->cls = (struct bounce_class){BR_COMPLAINT, BS_NONE};
		}
	} else if (strcasecmp(type.data, "Delivery") == 0) {
		r->kind = DSN_BOUNCE;
		buf_append_str(&r->note, "Amazon SES delivery notification: nothing failed");
	} else {
		done = 0;
	}
	buf_free(&type);
	buf_free(&v);
	return done;
}
