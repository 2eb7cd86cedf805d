/*
 * smtp - SMTP client session.  See smtp.h.
 *
 * Commands are gathered in s->out and written in one go: with PIPELINING
 * the whole envelope (RSET, MAIL, every RCPT, DATA) leaves in one write and
 * the replies are read back in order, RFC 2920 style; without it, one
 * command, one reply.  The message itself is streamed from its msgsrc
 * through a fixed buffer: bare LF becomes CRLF, a '.' starting a line is
 * doubled, and the end is always CRLF "." CRLF.
 */
#include "smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_CHUNK (64 * 1024)

void
smtp_config_defaults(struct smtp_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->helo = "localhost";
	cfg->connect_timeout_ms = 30 * 1000;
	cfg->greeting_timeout_ms = 300 * 1000;
	cfg->command_timeout_ms = 300 * 1000;
	cfg->data_init_timeout_ms = 120 * 1000;
	cfg->data_block_timeout_ms = 180 * 1000;
	cfg->data_term_timeout_ms = 600 * 1000;
	cfg->tls = SMTP_TLS_MAY;
}

void
smtp_config_cap_timeouts(struct smtp_config *cfg, int seconds)
{
	if (seconds <= 0)
		return;
	int cap = seconds * 1000;
	int *all[] = {&cfg->connect_timeout_ms,	   &cfg->greeting_timeout_ms,
		      &cfg->command_timeout_ms,	   &cfg->data_init_timeout_ms,
		      &cfg->data_block_timeout_ms, &cfg->data_term_timeout_ms};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (*all[i] > cap)
			*all[i] = cap;
}

static void
set_text(struct smtp_result *r, const char *text)
{
	snprintf(r->text, sizeof r->text, "%s", text);
}

static void
local_result(struct smtp_result *r, enum smtp_local what, const char *detail)
{
	smtp_classify_local(what, &r->v);
	if (detail != NULL && *detail)
		set_text(r, detail);
	else
		set_text(r, r->v.reason ? r->v.reason : "");
}

static void
reply_result(struct smtp_result *r, const struct smtp_reply *reply, enum smtp_stage stage)
{
	smtp_classify(reply, stage, &r->v);
	set_text(r, reply->text);
}

/* The connection failed: a verdict from conn's classification. */
static void
conn_result(struct smtp_session *s, struct smtp_result *r)
{
	enum smtp_local what;
	switch (s->conn.error) {
	case CONN_TIMEOUT: what = SMTP_LOCAL_REPLY_TIMEOUT; break;
	case CONN_TLS: what = SMTP_LOCAL_TLS_FAILED; break;
	default: what = SMTP_LOCAL_CONNECTION_LOST; break;
	}
	local_result(r, what, s->conn.reason);
}

/* Writes what is gathered in s->out. */
static int
flush_out(struct smtp_session *s, int timeout_ms)
{
	if (s->out.len == 0)
		return 0;
	int rc = conn_write(&s->conn, s->out.data, s->out.len, timeout_ms);
	buf_reset(&s->out);
	return rc;
}

/*
 * Reads the next reply.  Returns 1 with *reply, or -1 with *fail set to
 * the local condition (lost, timed out, garbage).
 */
static int
read_reply(struct smtp_session *s, struct smtp_reply *reply, int timeout_ms,
	   struct smtp_result *fail)
{
	for (;;) {
		int st = smtp_reader_next(s->reader, reply);
		if (st == 1)
			return 1;
		if (st < 0) {
			char why[160];
			snprintf(why, sizeof why, "protocol error: %s", smtp_reader_error(s->reader));
			local_result(fail, SMTP_LOCAL_PROTOCOL_ERROR, why);
			return -1;
		}
		size_t room;
		char *p = smtp_reader_space(s->reader, &room);
		ssize_t n = conn_read(&s->conn, p, room, timeout_ms);
		if (n < 0) {
			conn_result(s, fail);
			return -1;
		}
		smtp_reader_commit(s->reader, (size_t)n);
	}
}

/* Sends one command (or the gathered ones) and reads one reply. */
static int
command(struct smtp_session *s, const char *line, int timeout_ms, struct smtp_reply *reply,
	struct smtp_result *fail)
{
	buf_append_str(&s->out, line);
	buf_append_str(&s->out, "\r\n");
	if (flush_out(s, timeout_ms) == -1) {
		conn_result(s, fail);
		return -1;
	}
	return read_reply(s, reply, timeout_ms, fail);
}

static int
ehlo(struct smtp_session *s, struct smtp_reply *reply, struct smtp_result *fail)
{
	char line[300];
	memset(&s->ext, 0, sizeof s->ext);
	snprintf(line, sizeof line, "EHLO %s", s->cfg->helo);
	if (command(s, line, s->cfg->command_timeout_ms, reply, fail) == -1)
		return -1;
	if (reply->code == 250) {
		smtp_ehlo_parse(reply, &s->ext);
		return 0;
	}
	if (reply->code == 421)
		goto refused;
	/* An old server: HELO, and no extensions. */
	snprintf(line, sizeof line, "HELO %s", s->cfg->helo);
	if (command(s, line, s->cfg->command_timeout_ms, reply, fail) == -1)
		return -1;
	if (reply->code / 100 == 2)
		return 0;
refused:
	reply_result(fail, reply, SMTP_STAGE_HELO);
	return -1;
}

int
smtp_open(struct smtp_session *s, const struct smtp_config *cfg, const struct sockaddr *addr,
	  socklen_t addrlen, struct smtp_result *fail)
{
	struct smtp_reply reply;
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	conn_init(&s->conn);
	s->reader = smtp_reader_new();
	memset(fail, 0, sizeof *fail);
	if (conn_connect(&s->conn, addr, addrlen, cfg->bind_addr, cfg->bind_len,
			 cfg->connect_timeout_ms) == -1) {
		enum smtp_local what = s->conn.error == CONN_TIMEOUT ? SMTP_LOCAL_CONNECT_TIMEOUT
								      : SMTP_LOCAL_CONNECT_REFUSED;
		local_result(fail, what, s->conn.reason);
		goto fail;
	}
	if (read_reply(s, &reply, cfg->greeting_timeout_ms, fail) == -1)
		goto fail;
	if (reply.code / 100 != 2) {
		reply_result(fail, &reply, SMTP_STAGE_GREETING);
		goto fail;
	}
	if (ehlo(s, &reply, fail) == -1)
		goto fail;
	s->health = SMTP_HOST_ALIVE;

	int want_tls = (s->ext.flags & SMTP_EXT_STARTTLS) && cfg->tls != SMTP_TLS_NONE;
	if (!want_tls && cfg->tls > SMTP_TLS_MAY) {
		local_result(fail, SMTP_LOCAL_TLS_NOT_OFFERED, NULL);
		goto fail;
	}
	if (want_tls) {
		if (command(s, "STARTTLS", cfg->command_timeout_ms, &reply, fail) == -1)
			goto fail;
		if (reply.code != 220) {
			/* Offered but refused: plain is fine unless policy says no. */
			if (cfg->tls > SMTP_TLS_MAY) {
				reply_result(fail, &reply, SMTP_STAGE_STARTTLS);
				goto fail;
			}
		} else {
			/* Bytes received before the handshake must not be believed
			 * after it (RFC 3207 5; the CVE-2011-0411 class). */
			if (smtp_reader_buffered(s->reader) > 0) {
				local_result(fail, SMTP_LOCAL_PROTOCOL_ERROR,
					     "data injected after the reply to STARTTLS");
				goto fail;
			}
			int verify = cfg->tls == SMTP_TLS_VERIFY;
			const struct conn_tls *tls = cfg->tls_context;
			struct conn_tls *own = NULL;
			if (tls == NULL || tls->verify != verify) {
				struct buf err = BUF_INIT;
				tls = own = conn_tls_new(verify, cfg->cafile, &err);
				if (own == NULL) {
					local_result(fail, SMTP_LOCAL_TLS_FAILED, buf_cstr(&err));
					buf_free(&err);
					goto fail;
				}
				buf_free(&err);
			}
			int rc = conn_starttls(&s->conn, tls, cfg->tls_servername,
					       cfg->command_timeout_ms);
			conn_tls_free(own); /* the connection holds its own reference */
			if (rc == -1) {
				/* Opportunistic TLS that failed leaves a broken
				 * connection: the caller may try again in plain. */
				local_result(fail, SMTP_LOCAL_TLS_FAILED, s->conn.reason);
				goto fail;
			}
			snprintf(s->tls, sizeof s->tls, "%s", s->conn.tls_info);
			smtp_reader_reset(s->reader);
			if (ehlo(s, &reply, fail) == -1)
				goto fail;
		}
	}
	s->open = 1;
	return 0;
fail:
	if (s->health != SMTP_HOST_ALIVE)
		s->health = s->conn.error == CONN_LOCAL ? SMTP_HOST_UNKNOWN : SMTP_HOST_DEAD;
	conn_close(&s->conn);
	smtp_reader_free(s->reader);
	s->reader = NULL;
	buf_free(&s->out);
	return -1;
}

/* Sets every result from index i on to the same verdict. */
static void
fill_results(struct smtp_result *results, size_t from, size_t n, const struct smtp_result *r)
{
	for (size_t i = from; i < n; i++)
		results[i] = *r;
}

/* Streams the message with dot-stuffing; returns 0, or -1 (conn error
 * in s->conn, or a message read error with its reason in *fail). */
static int
send_message(struct smtp_session *s, struct msgsrc *msg, struct smtp_result *fail)
{
	char in[WRITE_CHUNK];
	/* Worst case every byte is a LF that becomes CRLF, or a dot that is
	 * doubled: twice the input. */
	buf_reserve(&s->out, 2 * WRITE_CHUNK + 8);
	int line_start = 1, prev_cr = 0;
	for (;;) {
		ssize_t n = msgsrc_read(msg, in, sizeof in);
		if (n < 0) {
			local_result(fail, SMTP_LOCAL_CONNECTION_LOST, msg->reason);
			/* The message cannot be read: deferred, not the server's
			 * fault; the session is abandoned mid-DATA. */
			fail->v.throttle = 0;
			return -2;
		}
		if (n == 0)
			break;
		char *w = s->out.data + s->out.len;
		for (ssize_t i = 0; i < n; i++) {
			char c = in[i];
			if (line_start && c == '.')
				*w++ = '.';
			if (c == '\n' && !prev_cr)
				*w++ = '\r';
			*w++ = c;
			prev_cr = c == '\r';
			line_start = c == '\n';
		}
		s->out.len = (size_t)(w - s->out.data);
		if (s->out.len >= WRITE_CHUNK) {
			if (flush_out(s, s->cfg->data_block_timeout_ms) == -1)
				return -1;
			buf_reserve(&s->out, 2 * WRITE_CHUNK + 8);
		}
	}
	if (!line_start)
		buf_append_str(&s->out, prev_cr ? "\n" : "\r\n");
	buf_append_str(&s->out, ".\r\n");
	return flush_out(s, s->cfg->data_block_timeout_ms);
}

/* The session is over mid-transaction: recipients from `from` on get *r,
 * and so do those before it that the server had accepted -- accepted at
 * RCPT is not delivered. */
static int
session_lost(struct smtp_session *s, struct smtp_result *results, size_t from, size_t n,
	     const struct smtp_result *r)
{
	struct smtp_result copy = *r; /* r may point into results */
	for (size_t i = 0; i < from; i++)
		if (results[i].v.outcome == SMTP_DELIVERED)
			results[i] = copy;
	fill_results(results, from, n, &copy);
	s->open = 0;
	return -1;
}

static int
has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

int
smtp_send(struct smtp_session *s, const char *sender, char *const *rcpts, size_t nrcpts,
	  struct msgsrc *msg, long long size, int eightbit, struct smtp_result *results)
{
	struct smtp_reply reply;
	struct smtp_result fail;
	int pipelining = (s->ext.flags & SMTP_EXT_PIPELINING) != 0;
	char line[1100];
	size_t i, accepted = 0;
	int rset = s->dirty;
	memset(&fail, 0, sizeof fail);
	memset(results, 0, nrcpts * sizeof *results);

	if (!s->open) {
		local_result(&fail, SMTP_LOCAL_CONNECTION_LOST, "session closed");
		return session_lost(s, results, 0, nrcpts, &fail);
	}
	if ((s->ext.flags & SMTP_EXT_SIZE) && s->ext.size > 0 && size > 0 &&
	    (unsigned long long)size > s->ext.size) {
		local_result(&fail, SMTP_LOCAL_MESSAGE_TOO_BIG, NULL);
		fill_results(results, 0, nrcpts, &fail);
		return 0;
	}

	/* 8BITMIME and SMTPUTF8 only when the message needs them, and a
	 * message that needs what the server lacks is refused here. */
	int utf8 = has_8bit(sender);
	for (i = 0; i < nrcpts && !utf8; i++)
		utf8 = has_8bit(rcpts[i]);
	if ((utf8 && !(s->ext.flags & SMTP_EXT_SMTPUTF8)) ||
	    (eightbit && !(s->ext.flags & (SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8)))) {
		local_result(&fail, utf8 ? SMTP_LOCAL_NEEDS_SMTPUTF8 : SMTP_LOCAL_NEEDS_8BITMIME,
			     NULL);
		fill_results(results, 0, nrcpts, &fail);
		return 0;
	}

	s->dirty = 1;
	if (rset)
		buf_append_str(&s->out, "RSET\r\n");
	int n = snprintf(line, sizeof line, "MAIL FROM:<%s>", sender);
	if ((s->ext.flags & SMTP_EXT_SIZE) && size > 0)
		n += snprintf(line + n, sizeof line - (size_t)n, " SIZE=%lld", size);
	if (eightbit)
		n += snprintf(line + n, sizeof line - (size_t)n, " BODY=8BITMIME");
	if (utf8)
		n += snprintf(line + n, sizeof line - (size_t)n, " SMTPUTF8");
	snprintf(line + n, sizeof line - (size_t)n, "\r\n");
	buf_append_str(&s->out, line);

	/* Without PIPELINING each command waits for its reply. */
	if (!pipelining) {
		if (flush_out(s, s->cfg->command_timeout_ms) == -1) {
			conn_result(s, &fail);
			return session_lost(s, results, 0, nrcpts, &fail);
		}
		if (rset && read_reply(s, &reply, s->cfg->command_timeout_ms, &fail) == -1)
			return session_lost(s, results, 0, nrcpts, &fail);
		if (read_reply(s, &reply, s->cfg->command_timeout_ms, &fail) == -1)
			return session_lost(s, results, 0, nrcpts, &fail);
		if (reply.code / 100 != 2) {
			reply_result(&fail, &reply, SMTP_STAGE_MAIL);
			fill_results(results, 0, nrcpts, &fail);
			if (reply.code == 421)
				return session_lost(s, results, 0, nrcpts, &fail);
			return 0;
		}
		for (i = 0; i < nrcpts; i++) {
			snprintf(line, sizeof line, "RCPT TO:<%s>", rcpts[i]);
			if (command(s, line, s->cfg->command_timeout_ms, &reply, &fail) == -1)
				return session_lost(s, results, i, nrcpts, &fail);
			reply_result(&results[i], &reply, SMTP_STAGE_RCPT);
			if (results[i].v.outcome == SMTP_DELIVERED)
				accepted++;
			if (reply.code == 421)
				return session_lost(s, results, i, nrcpts, &results[i]);
		}
		if (accepted == 0)
			return 0; /* dirty: RSET before the next transaction */
		if (command(s, "DATA", s->cfg->data_init_timeout_ms, &reply, &fail) == -1)
			goto lost_accepted;
	} else {
		for (i = 0; i < nrcpts; i++) {
			snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", rcpts[i]);
			buf_append_str(&s->out, line);
		}
		buf_append_str(&s->out, "DATA\r\n");
		if (flush_out(s, s->cfg->command_timeout_ms) == -1) {
			conn_result(s, &fail);
			return session_lost(s, results, 0, nrcpts, &fail);
		}
		if (rset && read_reply(s, &reply, s->cfg->command_timeout_ms, &fail) == -1)
			return session_lost(s, results, 0, nrcpts, &fail);
		if (read_reply(s, &reply, s->cfg->command_timeout_ms, &fail) == -1)
			return session_lost(s, results, 0, nrcpts, &fail);
		struct smtp_result mail;
		reply_result(&mail, &reply, SMTP_STAGE_MAIL);
		int mail_ok = mail.v.outcome == SMTP_DELIVERED;
		if (reply.code == 421)
			return session_lost(s, results, 0, nrcpts, &mail);
		for (i = 0; i < nrcpts; i++) {
			if (read_reply(s, &reply, s->cfg->command_timeout_ms, &fail) == -1)
				return session_lost(s, results, i, nrcpts, &fail);
			if (!mail_ok) {
				results[i] = mail;
				continue;
			}
			reply_result(&results[i], &reply, SMTP_STAGE_RCPT);
			if (results[i].v.outcome == SMTP_DELIVERED)
				accepted++;
			if (reply.code == 421)
				return session_lost(s, results, i, nrcpts, &results[i]);
		}
		if (read_reply(s, &reply, s->cfg->data_init_timeout_ms, &fail) == -1)
			goto lost_accepted;
		if (!mail_ok || accepted == 0) {
			/* RFC 2920 3.1: DATA may still have been accepted; end it
			 * with an empty message that nobody will receive. */
			if (reply.code == 354) {
				buf_append_str(&s->out, ".\r\n");
				if (flush_out(s, s->cfg->command_timeout_ms) == -1 ||
				    read_reply(s, &reply, s->cfg->data_term_timeout_ms, &fail) == -1) {
					s->open = 0;
					return -1;
				}
			}
			return 0;
		}
	}
	if (reply.code != 354) {
		struct smtp_result data;
		reply_result(&data, &reply, SMTP_STAGE_DATA);
		for (i = 0; i < nrcpts; i++)
			if (results[i].v.outcome == SMTP_DELIVERED)
				results[i] = data;
		if (reply.code == 421) {
			s->open = 0;
			return -1;
		}
		return 0;
	}
	int rc = send_message(s, msg, &fail);
	if (rc == -2) {
		/* We cannot finish the message: abandon the connection so the
		 * server never sees a final dot for a partial message. */
		for (i = 0; i < nrcpts; i++)
			if (results[i].v.outcome == SMTP_DELIVERED)
				results[i] = fail;
		s->open = 0;
		conn_close(&s->conn);
		return -1;
	}
	if (rc == -1) {
		conn_result(s, &fail);
		goto lost_accepted;
	}
	if (read_reply(s, &reply, s->cfg->data_term_timeout_ms, &fail) == -1)
		goto lost_accepted;
	struct smtp_result final;
	reply_result(&final, &reply, SMTP_STAGE_MESSAGE);
	for (i = 0; i < nrcpts; i++)
		if (results[i].v.outcome == SMTP_DELIVERED)
			results[i] = final;
	s->transactions++;
	s->dirty = 0;
	if (reply.code == 421) {
		s->open = 0;
		return -1;
	}
	return 0;

lost_accepted:
	/* Lost after the recipients were accepted: never "delivered". */
	for (i = 0; i < nrcpts; i++)
		if (results[i].v.outcome == SMTP_DELIVERED)
			results[i] = fail;
	s->open = 0;
	return -1;
}

void
smtp_close(struct smtp_session *s)
{
	if (s->reader == NULL)
		return;
	if (s->open) {
		struct smtp_reply reply;
		struct smtp_result ignored;
		int t = s->cfg->command_timeout_ms < 5000 ? s->cfg->command_timeout_ms : 5000;
		command(s, "QUIT", t, &reply, &ignored);
	}
	s->open = 0;
	conn_close(&s->conn);
	smtp_reader_free(s->reader);
	s->reader = NULL;
	buf_free(&s->out);
}
