/*
 * smtp - the client side of one SMTP connection (RFC 5321): greeting,
 * EHLO (HELO fallback), STARTTLS (RFC 3207), then as many transactions as
 * the caller wants, pipelined (RFC 2920) when the server offers it, each
 * message streamed with dot-stuffing and CRLF line ends.
 *
 * Promises: every wait has a deadline (RFC 5321 4.5.3.2 by default);
 * every recipient of a transaction gets exactly one verdict; a message is
 * "delivered" only after a 2xx reply to its final dot -- a connection
 * lost before that is "deferred"; a 421 anywhere ends the session and
 * marks the verdicts as throttling.
 */
#ifndef MAILSHOT_SMTP_H
#define MAILSHOT_SMTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "conn.h"
#include "msgsrc.h"
#include "smtpreply.h"

enum smtp_tls_policy {
	SMTP_TLS_NONE,   /* never STARTTLS (a retry after a failed opportunistic handshake) */
	SMTP_TLS_MAY,    /* STARTTLS when offered, plain otherwise (default) */
	SMTP_TLS_ENCRYPT, /* no STARTTLS offered, or it fails: deferred */
	SMTP_TLS_VERIFY, /* as ENCRYPT, and the certificate must verify */
};

struct smtp_config {
	const char *helo;	   /* our name in EHLO */
	int connect_timeout_ms;
	int greeting_timeout_ms;   /* 300 s by RFC 5321 */
	int command_timeout_ms;    /* MAIL, RCPT, RSET, EHLO: 300 s */
	int data_init_timeout_ms;  /* reply to DATA: 120 s */
	int data_block_timeout_ms; /* each write of the message: 180 s */
	int data_term_timeout_ms;  /* reply to the final dot: 600 s */
	enum smtp_tls_policy tls;
	const char *cafile;	    /* for SMTP_TLS_VERIFY; NULL = system roots */
	/* The TLS context (conn_tls_new), verifying when tls is
	 * SMTP_TLS_VERIFY; NULL, or one that does not match the policy:
	 * smtp_open makes one per connection from cafile. */
	const struct conn_tls *tls_context;
	const char *tls_servername; /* SNI and name to verify: the MX host name */
	const struct sockaddr *bind_addr; /* control/outgoingip, or NULL */
	socklen_t bind_len;
};

/* Fills a config with RFC 5321's timeouts and opportunistic TLS. */
void smtp_config_defaults(struct smtp_config *cfg);
/* Caps every timeout at seconds (control/timeoutremote), unless 0. */
void smtp_config_cap_timeouts(struct smtp_config *cfg, int seconds);

struct smtp_result {
	struct smtp_verdict v;
	char text[SMTP_REPLY_MAX_TEXT + 1]; /* the server's text, or our reason */
};

/* What smtp_open learned about the host itself (remote's dead-host table,
 * lib/hostdown.h): its failures before accepting EHLO or HELO are the
 * host's; later ones (TLS, policy) and our own side's are not. */
enum smtp_host_health {
	SMTP_HOST_UNKNOWN, /* our side failed (CONN_LOCAL: descriptors, outgoing address) */
	SMTP_HOST_ALIVE,   /* it accepted EHLO or HELO, whatever came after */
	SMTP_HOST_DEAD,	   /* refused, timed out, bad or no greeting, dropped, or EHLO and
			      HELO refused */
};

struct smtp_session {
	const struct smtp_config *cfg;
	struct conn conn;
	struct smtp_reader *reader;
	struct smtp_ehlo ext;
	int open;	/* usable for another transaction */
	int dirty;	/* a transaction was left half done: RSET first */
	int transactions;
	char tls[128];	/* "" or "TLSv1.3/CIPHER" */
	enum smtp_host_health health; /* set by smtp_open, whether it succeeds or not */
	struct buf out; /* commands and message bytes waiting to be written */
};

/*
 * Connects to one address of one MX host and gets through greeting, EHLO
 * and (as policy says) STARTTLS.  Returns 0 when the session is ready;
 * -1 with *fail set when this host could not be used (the caller then
 * tries the next address or MX): connection refused or timed out, a 4xx
 * or 5xx greeting, EHLO and HELO refused, TLS required but absent.
 * Either way s->health says whether the host itself answered.
 */
int smtp_open(struct smtp_session *s, const struct smtp_config *cfg, const struct sockaddr *addr,
	      socklen_t addrlen, struct smtp_result *fail);

/*
 * One transaction: MAIL FROM:<sender> (size = the message's size for the
 * SIZE extension, 0 if unknown), RCPT TO for each recipient, DATA, the
 * message from msg.  eightbit: the message has 8-bit bytes, so it goes
 * with BODY=8BITMIME, or fails (5.6.3) where the server lacks 8BITMIME.
 * Addresses with non-ASCII characters need SMTPUTF8 likewise (5.6.7).  results[i] receives recipient i's verdict.  Returns
 * 0 when the session can carry another transaction, -1 when it is over
 * (connection lost, 421, protocol error): then every recipient has a
 * verdict all the same.
 */
int smtp_send(struct smtp_session *s, const char *sender, char *const *rcpts, size_t nrcpts,
	      struct msgsrc *msg, long long size, int eightbit, struct smtp_result *results);

/* Sends QUIT (waiting briefly for the reply) and closes. */
void smtp_close(struct smtp_session *s);

#endif
