/*
 * NAME
 *	mailshot-unsubscribe - the one-click unsubscribe CGI (RFC 8058)
 *
 * SYNOPSIS
 *	as a CGI program: GET|POST https://host/PATH?t=TOKEN
 *
 * DESCRIPTION
 *	The URL in every message's List-Unsubscribe header.  A POST (the
 *	mailbox provider's one-click request, body
 *	"List-Unsubscribe=One-Click", or the button of our page) verifies
 *	the token and adds its recipient to the suppression list with
 *	reason unsubscribe; a GET only shows a page with that button, since
 *	link scanners follow GETs.  A token that does not verify, or has
 *	expired, changes nothing.  The spool is $MAILSHOT_SPOOL, else the
 *	compiled-in one.  Man page: docs/mailshot-unsubscribe.8.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "control.h"
#include "log.h"
#include "priv.h"
#include "spool.h"
#include "suppress.h"
#include "token.h"
#include "verp.h"

static const struct control_setting settings[] = {
	{"foldlocal", 1, "1", 0, 1, "1: local parts compare case-insensitively"},
	{"unsubscribelifetime", 1, "365", 0, 36500,
	 "days an unsubscribe token stays valid (0 = for ever)"},
	{NULL, 0, NULL, 0, 0, NULL},
};
enum { SET_FOLDLOCAL, SET_LIFETIME, SET_COUNT };

#define BODY_MAX 4096 /* octets of a POST body read */

static void
html_text(struct buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': buf_append_str(out, "&lt;"); break;
		case '>': buf_append_str(out, "&gt;"); break;
		case '&': buf_append_str(out, "&amp;"); break;
		case '"': buf_append_str(out, "&quot;"); break;
		default: buf_append_char(out, *s);
		}
	}
}

/* Writes the whole response and exits: a CGI answers once. */
__attribute__((noreturn)) static void
respond(const char *status, const char *title, const char *body_html)
{
	struct buf out = BUF_INIT;
	buf_printf(&out,
		   "Status: %s\r\nContent-Type: text/html; charset=utf-8\r\n"
		   "Cache-Control: no-store\r\nX-Robots-Tag: noindex\r\n\r\n"
		   "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		   "<meta name=\"viewport\" content=\"width=device-width\"><title>",
		   status);
	html_text(&out, title);
	buf_append_str(&out, "</title></head>\n<body><h1>");
	html_text(&out, title);
	buf_printf(&out, "</h1>\n%s\n</body></html>\n", body_html);
	fwrite(out.data, 1, out.len, stdout);
	fflush(stdout);
	buf_free(&out);
	exit(0);
}

/* The t= parameter of the query string (tokens are base32: no decoding). */
static int
query_token(const char *q, char *out, size_t size)
{
	for (const char *p = q; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n > 2 && p[0] == 't' && p[1] == '=' && n - 2 < size) {
			memcpy(out, p + 2, n - 2);
			out[n - 2] = '\0';
			return 0;
		}
		p = amp ? amp + 1 : NULL;
	}
	return -1;
}

int
main(void)
{
	const char *method = getenv("REQUEST_METHOD");
	const char *query = getenv("QUERY_STRING");
	if (method == NULL)
		respond("400 Bad Request", "Not a web request",
			"<p>mailshot-unsubscribe runs as a CGI program.</p>");
	int post = strcmp(method, "POST") == 0;
	if (!post && strcmp(method, "GET") != 0)
		respond("405 Method Not Allowed", "Method not allowed", "<p>Use GET or POST.</p>");
	if (post) {
		/* RFC 8058: the body is List-Unsubscribe=One-Click; read it (up
		 * to a bound) so the server sees it consumed; any POST to a
		 * valid token unsubscribes, as our own button sends the same */
		char body[BODY_MAX];
		const char *cl = getenv("CONTENT_LENGTH");
		long want = cl ? strtol(cl, NULL, 10) : 0;
		while (want > 0) {
			ssize_t n = read(0, body, (size_t)(want < BODY_MAX ? want : BODY_MAX));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			want -= n;
		}
	}
	const char *root = spool_root(NULL);
	struct control_value control[SET_COUNT + 1];
	struct buf err = BUF_INIT, secret = BUF_INIT;
	int permanent;
	if (priv_start(root, PRIV_BOUNCE, 0, &err, &permanent) == -1 ||
	    control_load(root, settings, control, &err) == -1 ||
	    control_read_secret(root, TOKEN_SECRET_MIN, &secret, &err) != 1) {
		fprintf(stderr, "mailshot-unsubscribe: %s\n",
			err.len ? err.data : "control/secret is not set");
		respond("503 Service Unavailable", "Please try again later",
			"<p>The unsubscribe service is not available right now.</p>");
	}
	char text[64];
	struct token t;
	struct verp_match m = {0};
	int valid = query && query_token(query, text, sizeof text) == 0 &&
		    token_decode(text, strlen(text), &t) == 0 && t.kind == 'u';
	if (valid) {
		int r = verp_resolve(root, secret.data, secret.len, &t, &m);
		if (r == -1) {
			fprintf(stderr, "mailshot-unsubscribe: %s/campaigns: %s\n", root,
				strerror(errno));
			respond("503 Service Unavailable", "Please try again later",
				"<p>The unsubscribe service is not available right now.</p>");
		}
		valid = r == 1 && verp_alive(&m, (unsigned)(time(NULL) / 86400),
					     (unsigned)control[SET_LIFETIME].number);
	}
	if (!valid)
		respond("400 Bad Request", "This link is not valid",
			"<p>This unsubscribe link is not valid or has expired. Nothing was "
			"changed.</p>");
	if (m.address.len == 0)
		respond("200 OK", "A test message",
			"<p>This link comes from a test message and names no recipient. "
			"Nothing was changed.</p>");
	char scope[80];
	verp_scope(root, &m, scope, sizeof scope);
	struct buf page = BUF_INIT;
	if (!post) {
		buf_append_str(&page, "<p>Stop sending ");
		buf_append_str(&page, strcmp(scope, "*") == 0 ? "all mail" : "mail of this kind");
		buf_append_str(&page, " to <b>");
		html_text(&page, m.address.data);
		buf_append_str(&page, "</b>?</p>\n<form method=\"post\" action=\"?t=");
		html_text(&page, text);
		buf_append_str(&page, "\"><input type=\"hidden\" name=\"List-Unsubscribe\" "
				      "value=\"One-Click\"><button type=\"submit\">Unsubscribe</button>"
				      "</form>");
		respond("200 OK", "Unsubscribe", page.data);
	}
	struct suppress_db *db;
	if (suppress_open(root, 1, &db, &err) == -1) {
		fprintf(stderr, "mailshot-unsubscribe: %s\n", err.data);
		respond("503 Service Unavailable", "Please try again later",
			"<p>The unsubscribe service is not available right now.</p>");
	}
	suppress_set_fold_local(db, (int)control[SET_FOLDLOCAL].number);
	struct suppress_entry e = {m.address.data, scope, "unsubscribe", time(NULL), m.campaign,
				   "one-click unsubscribe"};
	if (suppress_add(db, &e, &err) == -1) {
		fprintf(stderr, "mailshot-unsubscribe: %s\n", err.data);
		respond("503 Service Unavailable", "Please try again later",
			"<p>The unsubscribe service is not available right now.</p>");
	}
	suppress_close(db);
	struct log_writer log;
	if (log_open(&log, root, "unsubscribe", &err) == 0) {
		log_event(&log, "unsubscribed", "campaign", m.campaign, "rcpt", m.address.data,
			  "scope", scope, "via", "https", "action", "suppressed", (char *)NULL);
		log_close(&log);
	}
	buf_append_str(&page, "<p><b>");
	html_text(&page, m.address.data);
	buf_append_str(&page, "</b> will get no more of these mails.</p>");
	respond("200 OK", "You are unsubscribed", page.data);
}
