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

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "proto.h"
#include "spool.h"

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

/* ---- the pending digests ---- */

int
notify_owner(const char *root, const char *campaign, const char *fallback, struct buf *out)
{
	struct buf path = BUF_INIT;
	buf_reset(out);
	buf_printf(&path, "%s/campaigns/%s/notify", root, campaign);
	if (spool_read_file(path.data, 512, out) == -1 || out->len == 0) {
		buf_reset(out);
		buf_append_str(out, fallback ? fallback : "");
	}
	size_t len = out->len;
	while (len && (out->data[len - 1] == '\n' || out->data[len - 1] == ' '))
		len--;
	buf_truncate(out, len);
	buf_cstr(out);
	buf_free(&path);
	const char *why;
	return len > 0 && addr_check(out->data, len, ADDR_ALLOW_NODOT, &why, NULL) == 0;
}

#define PENDING_FIELDS 9 /* rcpt status severity reason enhanced code mx time text */

void
notify_line(struct buf *out, const struct notify_entry *e)
{
	char when[32];
	snprintf(when, sizeof when, "%lld", (long long)e->when);
	const char *f[PENDING_FIELDS] = {e->rcpt,	  e->status, e->severity,
					 e->reason,	  e->enhanced, e->code,
					 e->mx,	  when,	     e->text};
	for (size_t i = 0; i < PENDING_FIELDS; i++) {
		if (i)
			buf_append_char(out, ' ');
		proto_field(out, f[i] ? f[i] : "");
	}
	buf_append_char(out, '\n');
}

int
notify_append(const char *root, const char *campaign, const struct buf *lines, struct buf *err)
{
	if (lines->len == 0)
		return 0;
	if (spool_make_dir(root, "bounce", 0700, err) == -1 ||
	    spool_make_dir(root, "bounce/digest", 0700, err) == -1)
		return -1;
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/bounce/digest/%s", root, campaign);
	int rc = -1;
	int fd = open(path.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (fd == -1 || fstat(fd, &st) == -1) {
		buf_printf(err, "unable to open %s: %s", path.data, strerror(errno));
		goto out;
	}
	ssize_t w = write(fd, lines->data, lines->len);
	if (w != (ssize_t)lines->len || fdatasync(fd) == -1) {
		buf_printf(err, "unable to write %s: %s", path.data,
			   w < 0 ? strerror(errno) : "short write");
		/* no torn line may stay for the next append to glue onto */
		if (ftruncate(fd, st.st_size) == 0)
			(void)fdatasync(fd);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	buf_free(&path);
	return rc;
}

int
notify_read_pending(const char *root, const char *campaign, struct notify_pending *p,
		    struct buf *err)
{
	struct buf path = BUF_INIT, data = BUF_INIT, storage = BUF_INIT;
	memset(p, 0, sizeof *p);
	buf_printf(&path, "%s/bounce/digest/%s", root, campaign);
	int rc = 0;
	if (spool_read_file(path.data, 64u << 20, &data) == -1) {
		if (errno != ENOENT) {
			buf_printf(err, "unable to read %s: %s", path.data, strerror(errno));
			rc = -1;
		}
		goto out;
	}
	for (size_t pos = 0; pos < data.len;) {
		const char *line = data.data + pos;
		const char *nl = memchr(line, '\n', data.len - pos);
		if (nl == NULL)
			break; /* a torn last line */
		size_t len = (size_t)(nl - line);
		pos += len + 1;
		const char *f[PENDING_FIELDS];
		if (proto_split(line, len, &storage, f, PENDING_FIELDS) != PENDING_FIELDS)
			continue;
		char *copy = xmalloc(storage.len);
		memcpy(copy, storage.data, storage.len);
		if ((p->nstrings & 63) == 0)
			p->strings = xrealloc(p->strings, (p->nstrings + 64) * sizeof *p->strings);
		p->strings[p->nstrings++] = copy;
		const char *g[PENDING_FIELDS];
		for (size_t i = 0; i < PENDING_FIELDS; i++)
			g[i] = copy + (f[i] - storage.data);
		size_t at = p->n;
		for (size_t i = 0; i < p->n; i++)
			if (strcmp(p->e[i].rcpt, g[0]) == 0)
				at = i;
		if (at == p->n) {
			if ((p->n & 63) == 0)
				p->e = xrealloc(p->e, (p->n + 64) * sizeof *p->e);
			p->n++;
		}
		p->e[at] = (struct notify_entry){g[0], g[1], g[2], g[3], g[4],
						 g[5], g[6], g[8], (time_t)atoll(g[7])};
	}
out:
	buf_free(&path);
	buf_free(&data);
	buf_free(&storage);
	return rc;
}

void
notify_pending_free(struct notify_pending *p)
{
	for (size_t i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	free(p->strings);
	free(p->e);
	memset(p, 0, sizeof *p);
}

time_t
notify_last_sent(const char *root, const char *campaign)
{
	struct buf path = BUF_INIT, stamp = BUF_INIT;
	buf_printf(&path, "%s/bounce/digest/%s.sent", root, campaign);
	time_t last = 0;
	if (spool_read_file(path.data, 64, &stamp) == 0)
		last = (time_t)atoll(stamp.data);
	buf_free(&path);
	buf_free(&stamp);
	return last;
}

int
notify_send(const char *root, const struct notify_info *info, const struct notify_pending *p,
	    unsigned long seq, char *name, struct buf *err)
{
	int rc = -1;
	struct buf msg = BUF_INIT, pending = BUF_INIT, sent = BUF_INIT, tmp = BUF_INIT,
		   stamp = BUF_INIT;
	*name = '\0';
	if (p->n > 0) {
		notify_format(&msg, info, p->e, p->n);
		struct spool_batch_info bi = {NOTIFY_CAMPAIGN, NULL, info->now, 0};
		struct spool_batch batch;
		spool_batch_init(&batch, &bi, 0);
		struct spool_message m = {info->owner, "", 0, info->message_id, 0, msg.data, msg.len};
		spool_batch_add(&batch, &m);
		int ok = spool_make_dir(root, "tmp", 0700, err) == 0 &&
			 spool_make_dir(root, "new", 0700, err) == 0 &&
			 spool_batch_write_tmp(root, &batch, seq, name, err) == 0 &&
			 spool_batch_publish(root, name, err) == 0 &&
			 spool_sync_dir(root, "new", err) == 0;
		spool_batch_free(&batch);
		if (!ok)
			goto out;
		spool_trigger(root);
	}
	/* the time of this digest, then the pending lines go */
	buf_printf(&pending, "%s/bounce/digest/%s", root, info->campaign);
	buf_printf(&sent, "%s/bounce/digest/%s.sent", root, info->campaign);
	buf_printf(&tmp, "%s/bounce/digest/.%s.sent", root, info->campaign);
	buf_printf(&stamp, "%lld\n", (long long)info->now);
	if (spool_publish_file(tmp.data, sent.data, stamp.data, stamp.len, err) == -1)
		goto out;
	if (unlink(pending.data) == -1 && errno != ENOENT) {
		buf_printf(err, "unable to remove %s: %s", pending.data, strerror(errno));
		goto out;
	}
	if (spool_sync_dir(root, "bounce/digest", err) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&msg);
	buf_free(&pending);
	buf_free(&sent);
	buf_free(&tmp);
	buf_free(&stamp);
	return rc;
}
