/*
 * smtpreply - the SMTP client's reply reader, and what a reply means.
 *
 * Three jobs that belong together, all pure (no sockets, no clock, no
 * I/O), so that mailshot-remote only moves bytes and decides nothing by
 * itself:
 *
 *   1. An incremental reader (RFC 5321 4.2): the caller hands over bytes
 *      as they come off the connection, split anywhere -- one byte at a
 *      time, or many pipelined replies in one read -- and takes complete
 *      replies out.  It keeps one fixed buffer and never allocates after
 *      smtp_reader_new(), whatever the server sends.
 *   2. The EHLO extensions a 250 reply announces.
 *   3. Classification: a reply at a given stage of the transaction (or a
 *      local condition such as "connection refused") becomes the outcome
 *      reported for the recipients concerned -- delivered, deferred or
 *      failed -- with the RFC 3463 enhanced status code to report, a
 *      "this destination is throttling us" flag, and the server's
 *      retry-after hint.  The rules are tables in smtpreply.c, each row
 *      with the reason it is there.
 *
 * Promises: a reply handed out has a code of RFC 5321 4.2 (first digit
 * 2-5, second 0-5, third 0-9: within 200..559) and 1..100 lines;
 * its text is at most SMTP_REPLY_MAX_TEXT octets of valid UTF-8 without
 * control characters (lines are joined with LF, the only control
 * character it holds), so it can go into a log line or a protocol field
 * once the field's own escaping is applied.  Anything that is not a
 * well-formed reply is a protocol error, reported with a fixed reason and
 * final for the connection: after garbage nobody knows where the next
 * reply starts.
 */
#ifndef MAILSHOT_SMTPREPLY_H
#define MAILSHOT_SMTPREPLY_H

#include <stddef.h>

/*
 * Limits.  A reply line counts its octets up to and including the LF that
 * ends it (CR LF, or a bare LF), so a line with CR LF holds at most 4094
 * octets of code and text.  RFC 5321 4.5.3.1.5 allows 512; real servers
 * stay well below 4096.
 */
#define SMTP_REPLY_MAX_LINE 4096
#define SMTP_REPLY_MAX_LINES 100
#define SMTP_REPLY_MAX_TEXT 1024 /* octets of stored text, "..." included */

/* "5.999.999" and a NUL fit. */
#define SMTP_ENHANCED_SIZE 16

/* EHLO extensions (struct smtp_ehlo.flags). */
#define SMTP_EXT_PIPELINING 0x001u
#define SMTP_EXT_STARTTLS 0x002u
#define SMTP_EXT_SIZE 0x004u /* announced; the limit is in .size */
#define SMTP_EXT_8BITMIME 0x008u
#define SMTP_EXT_SMTPUTF8 0x010u
#define SMTP_EXT_ENHANCEDSTATUSCODES 0x020u
#define SMTP_EXT_CHUNKING 0x040u
#define SMTP_EXT_AUTH 0x080u /* mechanisms are not recorded */

struct smtp_ehlo {
	unsigned flags;
	/* SIZE's value in octets; 0 when SIZE came without a (valid) number,
	 * or with 0, which RFC 1870 defines as "no fixed limit", or when
	 * SIZE was not announced.  Saturates at ULLONG_MAX. */
	unsigned long long size;
};

/*
 * One complete reply.  Plain data: it can be copied by assignment, and
 * needs no initialization or freeing.
 */
struct smtp_reply {
	int code;			    /* 200..559, second digit 0-5 */
	int lines;			    /* 1..SMTP_REPLY_MAX_LINES */
	char enhanced[SMTP_ENHANCED_SIZE];  /* "5.1.1", or "" when none was given */
	int truncated;			    /* text was cut and ends in "..." */
	size_t text_len;		    /* strlen(text) */
	char text[SMTP_REPLY_MAX_TEXT + 1]; /* see below */
	/* Extensions announced on lines 2 and later, collected as the lines
	 * went by (so a long reply whose text was cut loses none): only
	 * meaningful for a reply to EHLO; see smtp_ehlo_parse(). */
	struct smtp_ehlo ehlo;
};
/*
 * text: each line's text after the code and its separator, without the
 * line end, joined with "\n".  When the first line begins with an enhanced
 * status code (RFC 2034, RFC 3463 syntax: class.subject.detail, class
 * equal to the reply code's first digit, subject and detail 1 to 3 digits
 * without leading zeros, followed by a space or the end of the line), it
 * is stored in .enhanced and removed, with the space after it, from every
 * line that begins with the same code.  Then each line is sanitized: TAB
 * becomes a space; other control characters (C0, DEL, and the C1 range
 * U+0080..U+009F) and every byte that is not part of valid UTF-8 (no
 * overlongs, surrogates or code points above U+10FFFF) become '?'.  Text
 * beyond SMTP_REPLY_MAX_TEXT is cut at a character boundary and "..." put
 * in its place (truncated = 1); the lines were still all read and checked.
 */

/* ---- the reader ---- */

struct smtp_reader;

/* A reader with its own fixed buffer (about 10 KiB in all).  Allocation
 * failure is fatal (exit 111), as everywhere in mailshot. */
struct smtp_reader *smtp_reader_new(void);
void smtp_reader_free(struct smtp_reader *r);

/*
 * Forgets everything: buffered bytes, a reply in progress, an error.  For
 * a new connection, and right after a STARTTLS handshake (RFC 3207: what
 * came before it must not be believed afterwards).
 */
void smtp_reader_reset(struct smtp_reader *r);

/*
 * Hands bytes over.  Copies as many as there is room for and returns that
 * count.  The buffer holds two maximal lines; when it is full, call
 * smtp_reader_next() until it returns 0 (or -1), then feed the rest:
 * after smtp_reader_next() has returned 0 there is room for at least
 * SMTP_REPLY_MAX_LINE octets, so
 *
 *	while (len > 0) {
 *		size_t n = smtp_reader_feed(r, data, len);
 *		data += n, len -= n;
 *		while ((st = smtp_reader_next(r, &reply)) == 1)
 *			handle(&reply);
 *		if (st < 0)
 *			fail(smtp_reader_error(r));
 *	}
 *
 * always makes progress.  After a protocol error, bytes are accepted and
 * dropped (the return value is len).
 */
size_t smtp_reader_feed(struct smtp_reader *r, const void *data, size_t len);

/*
 * The same without a copy: smtp_reader_space() returns where the next
 * bytes go and sets *room to how many fit (possibly 0, as above); the
 * caller reads into it, e.g. read(fd, p, room), and then reports the count
 * with smtp_reader_commit() (n <= room; 0 is allowed).  Any other reader
 * call in between invalidates the pointer.
 */
char *smtp_reader_space(struct smtp_reader *r, size_t *room);
void smtp_reader_commit(struct smtp_reader *r, size_t n);

/*
 * Takes the next complete reply out.  Returns 1 with *out filled in; 0
 * when more bytes are needed (*out untouched); -1 on a protocol error
 * (*out untouched), which is sticky: every later call returns -1 until
 * smtp_reader_reset().  An error is reported as soon as the line at
 * fault is complete -- the 101st line of a reply, a line with a bad code
 * -- without waiting for the rest of the reply; and a line that grows to
 * SMTP_REPLY_MAX_LINE octets without an end is refused right then, without
 * waiting for its end.
 */
int smtp_reader_next(struct smtp_reader *r, struct smtp_reply *out);

/*
 * The reason for the protocol error, a fixed string ("" when none):
 *	"reply line longer than 4096 octets"
 *	"reply longer than 100 lines"
 *	"NUL in reply"
 *	"no reply code"                  (fewer than 3 digits first, as "25")
 *	"reply code out of range"        (199, 600, 260: RFC 5321 4.2)
 *	"bad character after reply code" (neither SP, '-' nor the line end: "2500 x")
 *	"inconsistent codes in a multi-line reply"
 */
const char *smtp_reader_error(const struct smtp_reader *r);

/*
 * Octets received and not yet taken out as part of a reply.  A client
 * must see 0 here after the reply to STARTTLS: anything more was sent
 * before the handshake and may be an injection (CVE-2011-0411 class).
 */
size_t smtp_reader_buffered(const struct smtp_reader *r);

/* 1 when the reader holds nothing: no buffered octets and no reply half
 * read.  A connection that ends while this is 0 ended inside a reply. */
int smtp_reader_idle(const struct smtp_reader *r);

/* ---- EHLO ---- */

/*
 * The extensions a reply to EHLO announces.  Returns 0 and fills *ext
 * when the reply's code is 250; else -1 with *ext zeroed (the client then
 * falls back to HELO, or gives up, and assumes no extensions).  The first
 * line is the server's greeting, never an extension.  Keywords are matched
 * without regard to case; "AUTH=..." (an old, broken form) counts as AUTH.
 * Unknown keywords, and lines that are no keyword at all, are skipped.
 */
int smtp_ehlo_parse(const struct smtp_reply *reply, struct smtp_ehlo *ext);

/* ---- classification ---- */

/* Where in the transaction a reply came. */
enum smtp_stage {
	SMTP_STAGE_GREETING, /* the banner after connect; positive: 2xx */
	SMTP_STAGE_HELO,     /* EHLO or HELO; 2xx */
	SMTP_STAGE_STARTTLS, /* only classified when TLS is required; 2xx */
	SMTP_STAGE_MAIL,     /* MAIL FROM; 2xx */
	SMTP_STAGE_RCPT,     /* RCPT TO; 2xx */
	SMTP_STAGE_DATA,     /* the DATA command; positive: 3xx (354) */
	SMTP_STAGE_MESSAGE,  /* after the final "." or a BDAT; 2xx */
};

enum smtp_outcome {
	SMTP_DELIVERED, /* positive at this stage (for DATA: go ahead) */
	SMTP_DEFERRED,	/* temporary: try again later */
	SMTP_FAILED,	/* permanent: do not retry */
};

/* Conditions met without (or instead of) a reply. */
enum smtp_local {
	SMTP_LOCAL_DNS_NXDOMAIN,    /* the domain does not exist */
	SMTP_LOCAL_DNS_NULL_MX,	    /* RFC 7505 "MX 0 ." */
	SMTP_LOCAL_DNS_NO_ADDRESS,  /* no MX, and no A/AAAA either */
	SMTP_LOCAL_DNS_TEMPORARY,   /* SERVFAIL, DNS timeout */
	SMTP_LOCAL_CONNECT_REFUSED, /* refused or unreachable */
	SMTP_LOCAL_CONNECT_TIMEOUT, /* no answer to the connection attempt */
	SMTP_LOCAL_CONNECTION_LOST, /* reset, or closed by the server mid-session */
	SMTP_LOCAL_REPLY_TIMEOUT,   /* connected, but a reply did not come in time */
	SMTP_LOCAL_PROTOCOL_ERROR,  /* the reader refused the server's reply */
	SMTP_LOCAL_TLS_NOT_OFFERED, /* policy requires TLS, EHLO lacks STARTTLS */
	SMTP_LOCAL_TLS_FAILED,	    /* handshake or certificate verification failed */
	SMTP_LOCAL_MESSAGE_TOO_BIG, /* bigger than the server's SIZE */
	SMTP_LOCAL_NEEDS_SMTPUTF8,  /* UTF-8 address, server lacks SMTPUTF8 */
	SMTP_LOCAL_NEEDS_8BITMIME,  /* 8-bit body, server lacks 8BITMIME */
};

struct smtp_verdict {
	enum smtp_outcome outcome;
	int code;			   /* the reply's code; 0 for a local condition */
	char enhanced[SMTP_ENHANCED_SIZE]; /* always set: the server's, or assigned */
	int assigned;			   /* 1 when mailshot chose .enhanced */
	int throttle;			   /* the destination is pushing back */
	long retry_after;		   /* seconds, or -1: see smtp_retry_hint() */
	const char *reason;		   /* fixed text for a local condition, else NULL */
};

/*
 * The verdict on a reply received at a stage.  Positive for the stage:
 * delivered.  Otherwise 4xx: deferred, 5xx: failed, with these exceptions
 * (each a table row in smtpreply.c with its reference):
 *   - a 2xx or 3xx that is not the stage's positive class: deferred,
 *     4.5.0 (a protocol error; nothing was accepted);
 *   - a 5xx greeting other than 521 and 556: deferred (the host refuses
 *     us, not the recipient; as Postfix's smtp_skip_5xx_greeting);
 *   - 552 to RCPT: deferred (RFC 5321 4.5.3.1.10: "too many recipients");
 *   - 5xx to STARTTLS: deferred (a TLS problem is never the recipient's).
 * When such a softened reply carries a 5.x.x code, the verdict reports it
 * with class 4, so that the outcome and the code always agree: the
 * enhanced code's class is 2, 4 or 5 for delivered, deferred, failed.
 * throttle is only ever set on a deferral: for 421 at any stage, for any
 * refused greeting, and for a 4xx that the throttle table matches (4.3.2,
 * 4.4.5, 4.7.28; rate-limit wording such as "rate limit" or "too many
 * connections" with a 4.7.x code or none) -- never for greylisting, nor
 * for per-recipient conditions such as 4.2.1 or 4.5.3.  retry_after is
 * taken from the text of deferred replies only.
 */
void smtp_classify(const struct smtp_reply *reply, enum smtp_stage stage, struct smtp_verdict *v);

/* The verdict on a local condition (see the table in smtpreply.c). */
void smtp_classify_local(enum smtp_local what, struct smtp_verdict *v);

/*
 * The server's "come back in N" hint in a reply text, in seconds, or -1
 * when there is none.  Recognized, without regard to case: "try again in",
 * "try again after", "retry in", "retry after", "greylisted for", "wait",
 * then optional "about" and a number with a unit (s, sec, second(s), m,
 * min, minute(s), h, hr, hour(s), d, day(s)); a number without a unit is
 * no hint.  The first match wins; values are capped at 86400 (a day).
 * "try again later" is no hint: -1.
 */
long smtp_retry_hint(const char *text);

/*
 * 1 when s[0..len) is an RFC 3463 enhanced status code of class 2, 4 or
 * 5 (no leading zeros, 1 to 3 digits per sub-code), else 0.
 */
int smtp_enhanced_valid(const char *s, size_t len);

#endif
