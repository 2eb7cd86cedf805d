/*
 * fuzz_dsn - libFuzzer target for lib/dsn.c (with dsnmime.c, dsntext.c)
 * and lib/classify.c.
 *
 * The input is an inbound message.  It is parsed as it is and again with
 * every LF turned into CR LF: the two readings must find the same kind
 * and the same recipients with the same reasons (line ends never matter).
 * Every report must keep what dsn.h promises: valid buffers, at most
 * DSN_MAX_RCPTS recipients, no duplicates, a one-line diagnostic of at
 * most DSN_MAX_DIAG octets, a severity that agrees with its reason.  The
 * input as text also goes through bounce_classify() with a code and
 * status taken from its first bytes.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "classify.h"
#include "dsn.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_dsn: %s:%d: broken: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void
check_class(struct bounce_class c)
{
	REQUIRE(c.reason >= BR_NONE && c.reason <= BR_OTHER);
	REQUIRE(c.severity >= BS_NONE && c.severity <= BS_HARD);
	if (c.severity == BS_HARD)
		REQUIRE(c.reason == BR_USER_UNKNOWN || c.reason == BR_NO_SUCH_DOMAIN ||
			c.reason == BR_MAILBOX_DISABLED);
	if (c.reason == BR_NONE || c.reason == BR_AUTO_REPLY || c.reason == BR_COMPLAINT)
		REQUIRE(c.severity == BS_NONE);
	else
		REQUIRE(c.severity != BS_NONE);
	REQUIRE(bounce_reason_name(c.reason) != NULL);
}

static void
check_report(const struct dsn_report *r)
{
	REQUIRE(r->kind >= DSN_UNRECOGNIZED && r->kind <= DSN_AUTOREPLY);
	REQUIRE(r->outer_headers.data != NULL && r->orig_headers.data != NULL &&
		r->note.data != NULL);
	REQUIRE(strlen(r->outer_headers.data) == r->outer_headers.len);
	REQUIRE(r->nrcpts <= DSN_MAX_RCPTS);
	REQUIRE(r->kind != DSN_UNRECOGNIZED || r->nrcpts == 0);
	REQUIRE(strlen(r->feedback_type) < sizeof r->feedback_type);
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct dsn_rcpt *d = &r->rcpts[i];
		REQUIRE(d->rcpt.data != NULL && d->orig_rcpt.data != NULL && d->diag.data != NULL &&
			d->mta.data != NULL);
		REQUIRE(d->diag.len <= DSN_MAX_DIAG);
		for (size_t k = 0; k < d->diag.len; k++)
			REQUIRE(d->diag.data[k] != '\n' && d->diag.data[k] != '\r' &&
				d->diag.data[k] != '\t');
		REQUIRE(strlen(d->action) < sizeof d->action);
		REQUIRE(strlen(d->status) < sizeof d->status);
		REQUIRE(d->code == 0 || (d->code >= 400 && d->code <= 599));
		for (size_t j = 0; j < i; j++)
			REQUIRE(d->rcpt.len == 0 || d->rcpt.len != r->rcpts[j].rcpt.len ||
				strcasecmp(d->rcpt.data, r->rcpts[j].rcpt.data) != 0);
		check_class(d->cls);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsn_report a, b;
	struct buf crlf = BUF_INIT;

	dsn_init(&a);
	dsn_init(&b);
	dsn_parse(&a, (const char *)data, size);
	check_report(&a);

	/* CR LF everywhere (a CR already before an LF stays single). */
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			buf_append_char(&crlf, '\r');
		buf_append_char(&crlf, (char)data[i]);
	}
	int plain_lf = memchr(data, '\r', size) == NULL;
	dsn_parse(&b, crlf.data ? crlf.data : "", crlf.len);
	check_report(&b);
	if (plain_lf && size < (DSN_MAX_SCAN / 2)) {
		REQUIRE(a.kind == b.kind);
		REQUIRE(a.nrcpts == b.nrcpts);
		for (size_t i = 0; i < a.nrcpts; i++) {
			REQUIRE(strcmp(a.rcpts[i].rcpt.data, b.rcpts[i].rcpt.data) == 0);
			REQUIRE(a.rcpts[i].cls.reason == b.rcpts[i].cls.reason);
		}
	}
	dsn_free(&a);
	dsn_free(&b);
	buf_free(&crlf);

	/* The bytes as a diagnostic, with a code and status from the front. */
	int code = size >= 1 ? 400 + data[0] % 200 : 0;
	char status[16] = "";
	if (size >= 3)
		snprintf(status, sizeof status, "%d.%d.%d", 2 + data[1] % 4, data[2] % 10,
			 size >= 4 ? data[3] : 0);
	check_class(bounce_classify(code, status, (const char *)data, size));
	check_class(bounce_classify(0, NULL, (const char *)data, size));
	return 0;
}
