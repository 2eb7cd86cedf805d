/*
 * NAME
 *	notify - the owner's failure digest (RFC 3464 multipart/report)
 *
 * SUMMARY
 *	A human-readable part (a table of the failures) and a
 *	message/delivery-status part with one block per recipient, so that
 *	both people and programs read it.  It goes out with a null envelope
 *	sender and Auto-Submitted: auto-generated, so nothing answers it.
 *
 * DESCRIPTION
 *	Promises: the output is 7-bit with CRLF line ends and no line over
 *	998 octets whatever the diagnostics hold (control bytes and 8-bit
 *	bytes become '?', long texts are cut), so remote can send it as is.
 */
#include "notify.h"

#include <stdio.h>
#include <string.h>

#define TEXT_MAX 400 /* octets of one diagnostic in the digest */

/* Appends s made safe for a header or body line: printable ASCII only. */
static void
safe(struct buf *out, const char *s, size_t max)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n < max; p++, n++)
		buf_append_char(out, *p >= 0x20 && *p < 0x7f ? (char)*p : '?');
}

static void
rfc5322_date(time_t t, char *out, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

void
notify_format(struct buf *out, const struct notify_info *info, const struct notify_entry *e,
	      size_t n)
{
	char date[64], boundary[96];
	rfc5322_date(info->now, date, sizeof date);
	snprintf(boundary, sizeof boundary, "=_mailshot-notice-%lld-%zu", (long long)info->now, n);
	size_t listed = n < NOTIFY_MAX_RCPTS ? n : NOTIFY_MAX_RCPTS;
	size_t hard = 0;
	for (size_t i = 0; i < n; i++)
		hard += strcmp(e[i].severity, "hard") == 0;

	buf_append_str(out, "From: ");
	safe(out, info->from, 254);
	buf_append_str(out, "\r\nTo: ");
	safe(out, info->owner, 254);
	buf_printf(out, "\r\nSubject: Delivery failures in campaign ");
	safe(out, info->campaign, 64);
	buf_printf(out, ": %zu recipient%s\r\n", n, n == 1 ? "" : "s");
	buf_printf(out, "Date: %s\r\nMessage-ID: ", date);
	safe(out, info->message_id, 200);
	buf_append_str(out, "\r\nAuto-Submitted: auto-generated\r\n"
			    "MIME-Version: 1.0\r\n"
			    "Content-Type: multipart/report; report-type=delivery-status;\r\n");
	buf_printf(out, "\tboundary=\"%s\"\r\n\r\n", boundary);
	buf_append_str(out, "This is a MIME-encapsulated delivery report.\r\n\r\n");

	/* the part for people */
	buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", boundary);
	buf_append_str(out, "Campaign ");
	safe(out, info->campaign, 64);
	buf_printf(out, ": %zu recipient%s could not be reached (%zu hard, %zu soft).\r\n", n,
		   n == 1 ? "" : "s", hard, n - hard);
	buf_append_str(out, "Hard failures are suppressed from later campaigns until cleared\r\n"
			    "(mailshot-bounce clear ADDRESS, e.g. after fixing a typo).\r\n\r\n");
	for (size_t i = 0; i < listed; i++) {
		buf_append_str(out, "  ");
		safe(out, e[i].rcpt, 254);
		buf_printf(out, "  %s %s", e[i].severity, e[i].reason);
		if (*e[i].enhanced)
			buf_printf(out, " %s", e[i].enhanced);
		buf_append_str(out, "\r\n    ");
		safe(out, e[i].text, TEXT_MAX);
		buf_append_str(out, "\r\n");
	}
	if (listed < n)
		buf_printf(out, "  ... and %zu more (mailshot-report bounces --campaign ...)\r\n",
			   n - listed);

	/* the part for programs */
	buf_printf(out, "\r\n--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary);
	buf_append_str(out, "Reporting-MTA: dns; ");
	safe(out, info->reporting_mta, 255);
	buf_printf(out, "\r\nArrival-Date: %s\r\n", date);
	for (size_t i = 0; i < listed; i++) {
		char when[64];
		rfc5322_date(e[i].when, when, sizeof when);
		buf_append_str(out, "\r\nFinal-Recipient: rfc822; ");
		safe(out, e[i].rcpt, 254);
		const char *st = *e[i].enhanced ? e[i].enhanced
				 : strcmp(e[i].status, "expired") == 0 ? "4.4.7"
									 : "5.0.0";
		buf_append_str(out, "\r\nAction: failed\r\nStatus: ");
		safe(out, st, 15);
		if (*e[i].mx) {
			buf_append_str(out, "\r\nRemote-MTA: dns; ");
			safe(out, e[i].mx, 255);
		}
		if (*e[i].code || *e[i].text) {
			buf_append_str(out, "\r\nDiagnostic-Code: smtp; ");
			if (*e[i].code) {
				safe(out, e[i].code, 3);
				buf_append_char(out, ' ');
			}
			safe(out, e[i].text, TEXT_MAX);
		}
		buf_printf(out, "\r\nLast-Attempt-Date: %s\r\n", when);
	}
	buf_printf(out, "\r\n--%s--\r\n", boundary);
}
