/*
 * fuzz_smtpreply - libFuzzer target for lib/smtpreply.c.
 *
 * The first input byte picks how the rest is cut into feeds (0: all at
 * once) and whether it goes through smtp_reader_feed() or
 * smtp_reader_space()/commit(); the rest is what a server sent.  It is
 * read twice, whole and cut, and both readings must give the same replies
 * and the same end (idle, partial, or the same error): where the network
 * cuts the stream must never matter.  Every reply must keep what
 * smtpreply.h promises (code, line count, sanitized and capped text, a
 * well-formed enhanced code of the right class), the reader must stay
 * within its buffer, and every classification of every reply must agree
 * with itself.  The input as text also goes through smtp_retry_hint().
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtpreply.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_smtpreply: %s:%d: broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const char *const known_errors[] = {
    "reply line longer than 4096 octets",
    "reply longer than 100 lines",
    "NUL in reply",
    "no reply code",
    "reply code out of range",
    "bad character after reply code",
    "inconsistent codes in a multi-line reply",
};

/* An independent, slow UTF-8 check: decode, then judge the code point.
 * Also refuses C0, DEL and C1 controls other than LF. */
static int
clean_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i], cp, n;
		if (c < 0x80) {
			if ((c < 0x20 && c != '\n') || c == 0x7F)
				return 0;
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			n = 1, cp = c & 0x1F;
		else if ((c & 0xF0) == 0xE0)
			n = 2, cp = c & 0x0F;
		else if ((c & 0xF8) == 0xF0)
			n = 3, cp = c & 0x07;
		else
			return 0;
		if (len - i <= n)
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		if (cp >= 0x80 && cp <= 0x9F)
			return 0;
		i += n + 1;
	}
	return 1;
}

static void
check_verdicts(const struct smtp_reply *r)
{
	struct smtp_verdict v;
	int cls = r->code / 100;

	for (int stage = SMTP_STAGE_GREETING; stage <= SMTP_STAGE_MESSAGE; stage++) {
		smtp_classify(r, (enum smtp_stage)stage, &v);
		char want = v.outcome == SMTP_DELIVERED	 ? '2'
			    : v.outcome == SMTP_DEFERRED ? '4'
							 : '5';
		int positive = stage == SMTP_STAGE_DATA ? 3 : 2;
		REQUIRE(v.code == r->code);
		REQUIRE(v.enhanced[0] == want);
		REQUIRE(smtp_enhanced_valid(v.enhanced, strlen(v.enhanced)));
		REQUIRE((cls == positive) == (v.outcome == SMTP_DELIVERED));
		REQUIRE(cls != 4 || v.outcome == SMTP_DEFERRED);
		REQUIRE(v.outcome != SMTP_FAILED || cls == 5);
		REQUIRE(!v.throttle || v.outcome == SMTP_DEFERRED);
		REQUIRE(v.retry_after >= -1 && v.retry_after <= 86400);
		REQUIRE(v.outcome == SMTP_DEFERRED || v.retry_after == -1);
		REQUIRE(v.reason == NULL);
		/* The server's code is reported when it gave one. */
		if (r->enhanced[0] != '\0' && (cls == 4 || cls == 5))
			REQUIRE(v.assigned == 0 && strcmp(v.enhanced + 1, r->enhanced + 1) == 0);
	}
}

static void
check_reply(const struct smtp_reply *r)
{
	size_t newlines = 0;

	REQUIRE(r->code >= 200 && r->code <= 559 && r->code / 10 % 10 <= 5);
	REQUIRE(r->lines >= 1 && r->lines <= SMTP_REPLY_MAX_LINES);
	REQUIRE(r->text_len <= SMTP_REPLY_MAX_TEXT);
	REQUIRE(strlen(r->text) == r->text_len);
	REQUIRE(clean_utf8((const unsigned char *)r->text, r->text_len));
	for (size_t i = 0; i < r->text_len; i++)
		newlines += r->text[i] == '\n';
	if (r->truncated) {
		REQUIRE(newlines <= (size_t)r->lines - 1);
		REQUIRE(r->text_len >= 3 && memcmp(r->text + r->text_len - 3, "...", 3) == 0);
	} else {
		REQUIRE(newlines == (size_t)r->lines - 1);
	}
	if (r->enhanced[0] != '\0') {
		REQUIRE(smtp_enhanced_valid(r->enhanced, strlen(r->enhanced)));
		REQUIRE(r->enhanced[0] - '0' == r->code / 100);
	}
	struct smtp_ehlo e;
	int st = smtp_ehlo_parse(r, &e);
	REQUIRE(st == (r->code == 250 ? 0 : -1));
	REQUIRE(st == 0 || e.flags == 0);
	REQUIRE((e.flags & SMTP_EXT_SIZE) || e.size == 0);
	if (r->lines == 1)
		REQUIRE(e.flags == 0);
	check_verdicts(r);
}

/* Reads the stream; renders every reply and the end into *out. */
static void
read_stream(const uint8_t *data, size_t len, uint32_t cut, int use_space, struct buf *out)
{
	struct smtp_reader *rd = smtp_reader_new();
	struct smtp_reply reply;
	size_t pos = 0, lines = 0, lfs = 0;
	int st = 0;

	for (size_t i = 0; i < len; i++)
		lfs += data[i] == '\n';
	while (st >= 0) {
		size_t want = len - pos;
		if (cut != 0) {
			/* xorshift32; small sizes often, so 1-byte feeds are common. */
			cut ^= cut << 13;
			cut ^= cut >> 17;
			cut ^= cut << 5;
			size_t most = (cut >> 8 & 3) == 0 ? 1 : (cut >> 8 & 3) == 1 ? 16 : 5000;
			size_t n = 1 + (cut & 0xFFFF) % most;
			if (want > n)
				want = n;
		}
		size_t took;
		if (use_space) {
			size_t room;
			char *p = smtp_reader_space(rd, &room);
			took = want < room ? want : room;
			if (took > 0)
				memcpy(p, data + pos, took);
			smtp_reader_commit(rd, took);
		} else {
			took = smtp_reader_feed(rd, data + pos, want);
		}
		REQUIRE(took <= want);
		pos += took;
		REQUIRE(smtp_reader_buffered(rd) <= 2 * SMTP_REPLY_MAX_LINE);
		while ((st = smtp_reader_next(rd, &reply)) == 1) {
			check_reply(&reply);
			lines += (size_t)reply.lines;
			buf_printf(out, "%d/%s/%d/%d/%zu:", reply.code, reply.enhanced, reply.lines,
				   reply.truncated, reply.text_len);
			buf_append(out, reply.text, reply.text_len);
			buf_printf(out, "/%x/%llu;", reply.ehlo.flags, reply.ehlo.size);
		}
		if (st == 0) {
			/* Nothing complete is left, and room for a whole line. */
			REQUIRE(smtp_reader_buffered(rd) < SMTP_REPLY_MAX_LINE);
			size_t room;
			smtp_reader_space(rd, &room);
			REQUIRE(room >= SMTP_REPLY_MAX_LINE);
		} else {
			REQUIRE(st == -1);
		}
		if (pos == len)
			break;
		REQUIRE(took > 0 || st != 0);
	}
	REQUIRE(lines <= lfs);
	if (st < 0) {
		const char *why = smtp_reader_error(rd);
		int known = 0;
		for (size_t i = 0; i < sizeof known_errors / sizeof known_errors[0]; i++)
			known |= strcmp(why, known_errors[i]) == 0;
		REQUIRE(known);
		REQUIRE(smtp_reader_next(rd, &reply) == -1); /* sticky */
		buf_printf(out, "=error:%s", why);
	} else {
		REQUIRE(smtp_reader_error(rd)[0] == '\0');
		buf_append_str(out, smtp_reader_idle(rd) ? "=idle" : "=partial");
	}
	smtp_reader_free(rd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t cut = data[0] >> 1 == 0 ? 0 : 0x9E3779B9u ^ data[0];
	int use_space = data[0] & 1;
	data++, size--;

	struct buf whole = BUF_INIT, chunked = BUF_INIT;
	read_stream(data, size, 0, 0, &whole);
	read_stream(data, size, cut, use_space, &chunked);
	REQUIRE(whole.len == chunked.len && memcmp(whole.data, chunked.data, whole.len) == 0);
	buf_free(&whole);
	buf_free(&chunked);

	/* Any text as a retry hint. */
	char *text = xstrndup((const char *)data, size);
	long hint = smtp_retry_hint(text);
	REQUIRE(hint >= -1 && hint <= 86400);
	free(text);
	return 0;
}
