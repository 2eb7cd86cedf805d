/*
 * dsn - read one inbound message at the bounce address: a delivery
 * status notification, a complaint, an auto-reply, or none of those.
 *
 * Recognized, in this order (the structure of the message first, so that
 * a DSN an MTA marked "Auto-Submitted: auto-replied" is still a bounce):
 *   1. RFC 3464 DSNs: a message/delivery-status part (whatever the outer
 *      content type says), one dsn_rcpt per recipient block whose Action
 *      is failed or delayed; delivered, relayed and expanded are dropped.
 *   2. RFC 5965 ARF complaints: a message/feedback-report part.
 *   3. Non-standard bounces of common MTAs (qmail, Postfix, Exim,
 *      Sendmail, Exchange, Gmail, Yahoo, ...), by their wording and
 *      layout: see dsntext.c.
 *   4. RFC 3834 auto-replies (Auto-Submitted other than "no",
 *      X-Autoreply, Precedence: auto_reply, vacation subjects).
 *   5. Anything else: DSN_UNRECOGNIZED, with the reason in note.
 *
 * Promises: any bytes are accepted (truncated MIME, wrong boundaries,
 * NULs, 8-bit garbage); the work is linear in the input and bounded: only
 * the first DSN_MAX_SCAN octets are looked at, MIME nesting stops at
 * DSN_MAX_DEPTH, parts at DSN_MAX_PARTS, recipients at DSN_MAX_RCPTS,
 * header fields at DSN_MAX_FIELD octets.  Every struct buf in the result
 * is valid (NUL-terminated) after dsn_parse(), whatever it returned.
 */
#ifndef MAILSHOT_DSN_H
#define MAILSHOT_DSN_H

#include <stddef.h>

#include "buf.h"
#include "classify.h"

#define DSN_MAX_SCAN (8u << 20) /* octets of the message looked at */
#define DSN_MAX_TEXT (1u << 20) /* octets of decoded text scanned for prose */
#define DSN_MAX_DEPTH 16
#define DSN_MAX_PARTS 1000
#define DSN_MAX_RCPTS 1000
#define DSN_MAX_FIELD 16384 /* octets of one unfolded header field */
#define DSN_MAX_FIELDS 2000 /* header fields kept per header */
#define DSN_MAX_DIAG 1000   /* octets of dsn_rcpt.diag */

enum dsn_kind { DSN_UNRECOGNIZED, DSN_BOUNCE, DSN_COMPLAINT, DSN_AUTOREPLY };

struct dsn_rcpt {
	struct buf rcpt;      /* failed recipient, "" when unknown; no <>, no "rfc822;" */
	struct buf orig_rcpt; /* Original-Recipient when given, else "" */
	char action[16];      /* "failed", "delayed" (or "" when not said) */
	char status[16];      /* enhanced status "5.1.1" or "" */
	int code;	      /* SMTP reply code or 0 */
	struct buf diag;      /* one line, CR/LF/TAB folded to spaces, <= DSN_MAX_DIAG octets */
	struct buf mta;	      /* Remote-MTA or the host named in the text, "" when unknown */
	struct bounce_class cls;
};

struct dsn_report {
	enum dsn_kind kind;
	struct dsn_rcpt *rcpts;
	size_t nrcpts;
	char feedback_type[32];	  /* ARF Feedback-Type, or "" */
	struct buf outer_headers; /* the message's header: one "Name: value\n" per field */
	struct buf orig_headers;  /* the returned message's header, likewise; "" when none */
	struct buf note;	  /* why not recognized, or what a log line should say */
	size_t rcpts_cap;	  /* private */
};

void dsn_init(struct dsn_report *r);
/* Parses msg[0..len) into r, which must have been dsn_init()ed (a second
 * call first forgets the previous result).  Returns 0; -1 is reserved for
 * resource failures (allocation failure exits 111 as everywhere). */
int dsn_parse(struct dsn_report *r, const char *msg, size_t len);
void dsn_free(struct dsn_report *r);

/* The nth (0-based) field called name (any case) in headers stored as
 * above: appends its value to out and returns 1, or returns 0. */
int dsn_header(const struct buf *headers, const char *name, size_t nth, struct buf *out);

/* ---- shared with dsntext.c (not for callers) ---- */

/* What the MIME walk (dsnmime.c) collects for dsn.c to interpret. */
struct dsn_walk {
	struct dsn_report *r;
	struct buf text;     /* the prose */
	struct buf status;   /* delivery-status contents, blank-line separated */
	struct buf feedback; /* feedback-report content */
	int have_status;
	int have_feedback;
	int have_orig;
	size_t parts;
	int nested;	    /* walking a returned message: delivery-status only */
	const char *inner;  /* the first returned message (message/rfc822) */
	size_t inner_len;
	int inner_depth;
};

/* Walks the entity p[0..len): top = the message itself (its header goes
 * to w->r->outer_headers). */
void dsn_walk(struct dsn_walk *w, const char *p, size_t len, int depth, int top);

/* The value of the first field called name, into a reset out; 1 if any. */
int dsn_get_header(const struct buf *headers, const char *name, struct buf *out);

/* Case-insensitive helpers: prefix (any case) of s[0..len); needle (lower
 * case) in s[0..len); trims white space off both ends of *s. */
int dsn_prefix_nocase(const char *s, size_t len, const char *prefix);
const char *dsn_find_nocase(const char *s, size_t len, const char *needle);
void dsn_trim(const char **s, size_t *len);

/* Unfolds the header at p[0..len): one "Name: value\n" per field appended
 * to out, control characters as spaces.  Returns the offset of the body
 * (after the empty line), or len when there is none. */
size_t dsn_unfold_header(const char *p, size_t len, struct buf *out);

/* Adds a recipient (de-duplicated, case-insensitively; at most
 * DSN_MAX_RCPTS): returns it, or NULL when it was a duplicate or over
 * the cap.  addr may carry <> and "rfc822;", which are removed. */
struct dsn_rcpt *dsn_add_rcpt(struct dsn_report *r, const char *addr, size_t len);

/* Sets d->diag from text (folded to one line, trimmed, capped). */
void dsn_set_diag(struct dsn_rcpt *d, const char *text, size_t len);

/* The first SMTP reply code (NNN followed by space, '-' or end, not part
 * of a longer number) and enhanced status in text; 0 / "" when none.  An
 * "other" status (X.Y.0) followed by a specific one of the same class
 * gives the specific one (a wrapper's summary before the quoted reply). */
void dsn_find_codes(const char *text, size_t len, int *code, char status[16]);

/* Plain-text bounce recognition (dsntext.c).  text: the decoded prose of
 * the message (LF line ends).  Fills r (kind, rcpts, orig_headers when a
 * quoted header is found) and returns 1, or returns 0 when the text is
 * not a bounce it knows. */
int dsn_text_bounce(struct dsn_report *r, const char *text, size_t len, int looks_like_bounce);

/* Amazon SES notifications (JSON in the body): bounce, complaint or
 * delivery; fills r and returns 1, or returns 0. */
int dsn_json_notification(struct dsn_report *r, const char *text, size_t len);

/* Finds the recipient's own explanation in the prose: the text after the
 * address, as for a bounce; appends it to out; 1 when found. */
int dsn_text_explain(const char *text, size_t len, const char *addr, struct buf *out);

#endif
