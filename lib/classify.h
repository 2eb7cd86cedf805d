/*
 * classify - what one delivery failure means: a reason and a severity.
 *
 * The input is whatever explains the failure: an SMTP reply code, an
 * RFC 3463 enhanced status, and the diagnostic text (a server's reply, a
 * DSN's Diagnostic-Code, the prose of a non-standard bounce).  The output
 * is one of a small set of reasons and a severity that says whether the
 * address itself is bad (hard), the failure is about this message, this
 * sender or this moment (soft), or it is no failure at all (none).
 *
 * Promises: pure (no I/O, no globals), bounded (the text is read up to
 * CLASSIFY_MAX_TEXT octets, in time linear in that times the size of the
 * word lists), any bytes accepted (NULs and 8-bit included).  The rules,
 * with the reasons for their order, are in classify.c.
 *
 *   - Wording wins over a generic status: "550 5.0.0 User unknown" is
 *     user-unknown.  A specific status (5.1.1, 5.2.2, ...) wins over
 *     generic wording ("rejected", "denied"), which only decides when
 *     the status says nothing.
 *   - HARD only for user-unknown, no-such-domain and mailbox-disabled,
 *     and only when the failure is permanent: a 5xx code or 5.x.x status,
 *     or neither given (the wording alone decided).  With a 4xx code or
 *     4.x.x status the same reasons are SOFT.  Every other failure is
 *     SOFT; auto-reply, complaint and none are NONE.
 *   - A user-unknown or no-such-domain answer to the end of DATA ("in
 *     reply to end of DATA command", "after end of data") is
 *     policy-block: the recipient had been accepted at RCPT TO.
 */
#ifndef MAILSHOT_CLASSIFY_H
#define MAILSHOT_CLASSIFY_H

#include <stddef.h>

/* Octets of text looked at; the rest is ignored. */
#define CLASSIFY_MAX_TEXT 4096

enum bounce_reason {
	BR_NONE,
	BR_USER_UNKNOWN,
	BR_MAILBOX_FULL,
	BR_NO_SUCH_DOMAIN,
	BR_POLICY_BLOCK,
	BR_SPAM_BLOCK,
	BR_MESSAGE_TOO_LARGE,
	BR_EXPIRED,
	BR_MAILBOX_DISABLED,
	BR_RATE_LIMITED,
	BR_AUTO_REPLY,
	BR_COMPLAINT,
	BR_OTHER
};

enum bounce_severity { BS_NONE, BS_SOFT, BS_HARD };

struct bounce_class {
	enum bounce_reason reason;
	enum bounce_severity severity;
};

/* "user-unknown", "mailbox-full", "no-such-domain", "policy-block",
 * "spam-block", "message-too-large", "expired", "mailbox-disabled",
 * "rate-limited", "auto-reply", "complaint", "other", "none". */
const char *bounce_reason_name(enum bounce_reason r);
/* The inverse (exact, lower case): 0 and *out set, or -1. */
int bounce_reason_parse(const char *name, enum bounce_reason *out);
/* "hard", "soft", "none". */
const char *bounce_severity_name(enum bounce_severity s);

/*
 * code: SMTP reply code, 0 when unknown.  status: enhanced status
 * "X.Y.Z", or NULL or "" when unknown (anything not of that shape is
 * ignored).  text: the diagnostic, len octets, any bytes.  A 2xx code or
 * 2.x.x status with nothing else gives {BR_NONE, BS_NONE}, and so does no
 * information at all; any other failure without a recognized cause is
 * BR_OTHER.
 */
struct bounce_class bounce_classify(int code, const char *status, const char *text, size_t len);

/* The severity a reason has under the rule above, given the code and
 * status (as for bounce_classify). */
enum bounce_severity bounce_severity_of(enum bounce_reason r, int code, const char *status);

/* 1 when the text's wording alone names a cause (a tier-1 phrase of
 * classify.c: "user unknown", "connection refused" ...), else 0. */
int bounce_text_specific(const char *text, size_t len);

/* 1 when the text says the reply answered the end of DATA (the rule
 * above), else 0: for a caller whose diagnostic lacks the SMTP stage
 * that the prose around it names. */
int bounce_text_after_data(const char *text, size_t len);

#endif
