/*
 * test_smtpreply - unit tests for lib/smtpreply.c, mostly with hostile
 * input.
 *
 * Every input is read several ways: handed over in one feed, one byte per
 * feed, split in two at every offset, in random chunks, and through
 * smtp_reader_space()/commit().  Each way is rendered as one line of text
 * and all must be equal: where the network cuts the stream must never
 * change a reply, nor the wording or timing of an error.
 *
 * The rendering is "CODE[ ENHANCED] nLINES[ cut]:TEXT" per reply, joined
 * by " | ", with LF in TEXT shown as "\n"; then the end state: "=idle",
 * "=partial" (bytes or lines of an unfinished reply held) or "=error:why".
 *
 * Randomness comes from a fixed-seed splitmix64, so a failure repeats.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "check.h"
#include "csv.h"
#include "smtpreply.h"

/* ---- a deterministic PRNG ---- */

static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* ---- reading an input in several ways ---- */

enum feed_mode {
	FEED_WHOLE,  /* all at once (the reader takes what fits, as documented) */
	FEED_BYTE,   /* one byte per feed */
	FEED_SPLIT,  /* two feeds, cut at `split` */
	FEED_RANDOM, /* random sizes from 1 to 700 */
	FEED_SPACE,  /* through smtp_reader_space()/commit(), random sizes */
};

static void
render_reply(struct buf *out, const struct smtp_reply *r)
{
	if (out->len > 0)
		buf_append_str(out, " | ");
	buf_printf(out, "%d", r->code);
	if (r->enhanced[0] != '\0')
		buf_printf(out, " %s", r->enhanced);
	buf_printf(out, " n%d%s:", r->lines, r->truncated ? " cut" : "");
	for (size_t i = 0; i < r->text_len; i++) {
		if (r->text[i] == '\n')
			buf_append_str(out, "\\n");
		else
			buf_append_char(out, r->text[i]);
	}
}

/* Checks what smtpreply.h promises of every reply. */
static int
reply_keeps_promises(const struct smtp_reply *r)
{
	int newlines = 0;

	if (r->code < 200 || r->code > 599 || r->lines < 1 || r->lines > SMTP_REPLY_MAX_LINES)
		return 0;
	if (r->text_len > SMTP_REPLY_MAX_TEXT || strlen(r->text) != r->text_len)
		return 0;
	for (size_t i = 0; i < r->text_len; i++) {
		unsigned char c = (unsigned char)r->text[i];
		if (c == '\n')
			newlines++;
		else if (c < 0x20 || c == 0x7F)
			return 0;
	}
	if (r->truncated ? newlines > r->lines - 1 : newlines != r->lines - 1)
		return 0;
	if (r->enhanced[0] != '\0' && (!smtp_enhanced_valid(r->enhanced, strlen(r->enhanced)) ||
				       r->enhanced[0] - '0' != r->code / 100))
		return 0;
	return 1;
}

static int promises_broken;

/* Drains complete replies; returns what smtp_reader_next() returned last. */
static int
drain(struct smtp_reader *rd, struct buf *out)
{
	struct smtp_reply reply;
	int st;

	while ((st = smtp_reader_next(rd, &reply)) == 1) {
		if (!reply_keeps_promises(&reply))
			promises_broken++;
		render_reply(out, &reply);
	}
	return st;
}

static void
render_end(struct smtp_reader *rd, int st, struct buf *out)
{
	if (st < 0)
		buf_printf(out, "=error:%s", smtp_reader_error(rd));
	else
		buf_append_str(out, smtp_reader_idle(rd) ? "=idle" : "=partial");
}

static void
read_input(const char *data, size_t len, enum feed_mode mode, size_t split, uint64_t seed,
	   struct buf *out)
{
	struct smtp_reader *rd = smtp_reader_new();
	size_t pos = 0;
	int st = 0;

	buf_reset(out);
	while (pos < len && st >= 0) {
		size_t want = len - pos;
		switch (mode) {
		case FEED_WHOLE:
			break;
		case FEED_BYTE:
			want = 1;
			break;
		case FEED_SPLIT:
			if (pos < split)
				want = split - pos;
			break;
		case FEED_RANDOM:
		case FEED_SPACE:
			want = 1 + (size_t)(next_random(&seed) % 700);
			break;
		}
		if (want > len - pos)
			want = len - pos;
		size_t took;
		if (mode == FEED_SPACE) {
			size_t room;
			char *p = smtp_reader_space(rd, &room);
			took = want < room ? want : room;
			memcpy(p, data + pos, took);
			smtp_reader_commit(rd, took);
		} else {
			took = smtp_reader_feed(rd, data + pos, want);
		}
		pos += took;
		st = drain(rd, out);
		if (took == 0 && st == 0) {
			/* The documented guarantee was broken: no progress. */
			buf_append_str(out, "=STUCK");
			break;
		}
	}
	if (st >= 0)
		st = drain(rd, out);
	render_end(rd, st, out);
	smtp_reader_free(rd);
}

/*
 * Reads the input every way and checks that each gives `expected`.
 * Splits are tried at every offset for inputs up to 2 KiB, at a sample of
 * offsets beyond.
 */
static void
expect_reading(const char *data, size_t len, const char *expected)
{
	struct buf whole = BUF_INIT, other = BUF_INIT;
	int mismatches = 0;

	read_input(data, len, FEED_WHOLE, 0, 0, &whole);
	CHECK_STR_EQ(buf_cstr(&whole), expected);

	read_input(data, len, FEED_BYTE, 0, 0, &other);
	mismatches += strcmp(buf_cstr(&other), buf_cstr(&whole)) != 0;
	size_t step = len <= 2048 ? 1 : len / 512 + 1;
	for (size_t split = 0; split <= len; split += step) {
		read_input(data, len, FEED_SPLIT, split, 0, &other);
		if (strcmp(buf_cstr(&other), buf_cstr(&whole)) != 0) {
			if (mismatches++ == 0)
				fprintf(stderr, "split at %zu: %s\n", split, buf_cstr(&other));
		}
	}
	for (uint64_t seed = 1; seed <= 8; seed++) {
		read_input(data, len, FEED_RANDOM, 0, seed, &other);
		mismatches += strcmp(buf_cstr(&other), buf_cstr(&whole)) != 0;
		read_input(data, len, FEED_SPACE, 0, seed, &other);
		mismatches += strcmp(buf_cstr(&other), buf_cstr(&whole)) != 0;
	}
	CHECK_INT_EQ(mismatches, 0);
	buf_free(&whole);
	buf_free(&other);
}

static void
expect(const char *data, const char *expected)
{
	expect_reading(data, strlen(data), expected);
}

/* ---- the reader ---- */

static void
test_well_formed(void)
{
	expect("", "=idle");
	expect("220 mx.example.com ESMTP Postfix\r\n", "220 n1:mx.example.com ESMTP Postfix=idle");
	/* A pipelined burst: MAIL, RCPT, RCPT, RCPT, DATA in one read. */
	expect("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.com>: Recipient "
	       "address rejected: User unknown\r\n451-4.7.1 Greylisted\r\n451 4.7.1 come back "
	       "later\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
	       "250 2.1.0 n1:Ok | 250 2.1.5 n1:Ok | 550 5.1.1 n1:<nobody@example.com>: Recipient "
	       "address rejected: User unknown | 451 4.7.1 n2:Greylisted\\ncome back later | 354 "
	       "n1:End data with <CR><LF>.<CR><LF>=idle");
	/* Multi-line EHLO reply. */
	expect("250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
	       "250 n4:mx.example.com\\nPIPELINING\\nSIZE 10240000\\n8BITMIME=idle");
	/* A bare code is a valid last line; so is "250 " (Postfix smtp-sink). */
	expect("250\r\n", "250 n1:=idle");
	expect("250-host\r\n250-PIPELINING\r\n250 \r\n", "250 n3:host\\nPIPELINING\\n=idle");
	expect("250-\r\n250\r\n", "250 n2:\\n=idle");
	/* Bare LF line ends, alone or mixed with CRLF. */
	expect("250-a\n250 b\n220 c\r\n", "250 n2:a\\nb | 220 n1:c=idle");
	/* Edge codes. */
	expect("200 x\r\n559 y\r\n", "200 n1:x | 559 n1:y=idle");
	expect("200 x\r\n599 y\r\n", "200 n1:x=error:reply code out of range");
	/* Unfinished: a partial line, or a multi-line reply without its end. */
	expect("250 no line end", "=partial");
	expect("250-first\r\n", "=partial");
	expect("250 ok\r\n250-more\r\n", "250 n1:ok=partial");
	/* A CR before CRLF: the first is text. */
	expect("250 a\r\r\n", "250 n1:a?=idle");
}

static void
test_refused(void)
{
	expect("250-a\r\n251 b\r\n", "=error:inconsistent codes in a multi-line reply");
	expect("250-a\r\n550-b\r\n", "=error:inconsistent codes in a multi-line reply");
	expect("hello\r\n", "=error:no reply code");
	expect("25\r\n", "=error:no reply code");
	expect("\r\n", "=error:no reply code");
	expect(" 250 x\r\n", "=error:no reply code");
	expect("2x0 x\r\n", "=error:no reply code");
	expect("2500 x\r\n", "=error:bad character after reply code");
	expect("250x\r\n", "=error:bad character after reply code");
	expect("250\tx\r\n", "=error:bad character after reply code");
	expect("199 x\r\n", "=error:reply code out of range");
	expect("600 x\r\n", "=error:reply code out of range");
	expect("000 x\r\n", "=error:reply code out of range");
	expect("260 x\r\n", "=error:reply code out of range");
	/* An error after good replies: those are still handed out. */
	expect("250 ok\r\n250 ok\r\n999 no\r\n250 after\r\n",
	       "250 n1:ok | 250 n1:ok=error:reply code out of range");
	/* Binary garbage. */
	expect("\x80\xff\xfe\x01\x02\x03\n", "=error:no reply code");
	/* NUL, anywhere in a line, even after a valid code. */
	expect_reading("250 a\0b\r\n", 9, "=error:NUL in reply");
	expect_reading("\0\r\n", 3, "=error:NUL in reply");
	expect_reading("250-a\r\n250 \0\r\n", 14, "=error:NUL in reply");
	/* A bare CR is never a line end. */
	expect("250 a\rb\r\n", "250 n1:a?b=idle");
	expect("250 a\r250 b\r\n", "250 n1:a?250 b=idle");
	expect("250 a\r", "=partial");
}

static void
test_errors_are_sticky(void)
{
	struct smtp_reader *rd = smtp_reader_new();
	struct smtp_reply reply;

	CHECK_STR_EQ(smtp_reader_error(rd), "");
	CHECK_INT_EQ(smtp_reader_feed(rd, "25\r\n250 ok\r\n", 12), 12);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), -1);
	CHECK_STR_EQ(smtp_reader_error(rd), "no reply code");
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), -1);
	/* Bytes after an error are accepted and dropped. */
	CHECK_INT_EQ(smtp_reader_feed(rd, "250 ok\r\n", 8), 8);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), -1);
	CHECK_INT_EQ(smtp_reader_buffered(rd), 0);
	/* reset() starts over. */
	smtp_reader_reset(rd);
	CHECK_STR_EQ(smtp_reader_error(rd), "");
	CHECK_INT_EQ(smtp_reader_feed(rd, "250 ok\r\n", 8), 8);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_INT_EQ(reply.code, 250);
	CHECK_STR_EQ(reply.text, "ok");
	smtp_reader_free(rd);
}

/* Builds "250-x...x\r\n" lines etc. */
static void
line_of(struct buf *b, const char *code_sep, size_t content_len, const char *end)
{
	buf_append_str(b, code_sep);
	for (size_t i = strlen(code_sep); i < content_len; i++)
		buf_append_char(b, (char)('a' + i % 26));
	buf_append_str(b, end);
}

static void
test_line_length(void)
{
	struct buf b = BUF_INIT, exp = BUF_INIT;

	/* 4094 octets + CRLF = 4096: the longest line, accepted. */
	line_of(&b, "250 ", 4094, "\r\n");
	read_input(b.data, b.len, FEED_WHOLE, 0, 0, &exp);
	CHECK(strncmp(buf_cstr(&exp), "250 n1 cut:efgh", 15) == 0);
	CHECK(strstr(buf_cstr(&exp), "...=idle") != NULL);
	/* 4095 + LF is also 4096 octets. */
	buf_reset(&b);
	line_of(&b, "250 ", 4095, "\n");
	read_input(b.data, b.len, FEED_WHOLE, 0, 0, &exp);
	CHECK(strstr(buf_cstr(&exp), "...=idle") != NULL);
	/* 4095 + CRLF = 4097: refused. */
	buf_reset(&b);
	line_of(&b, "250 ", 4095, "\r\n");
	expect_reading(b.data, b.len, "=error:reply line longer than 4096 octets");
	/* A 5000-octet line, after a good reply, in every cut. */
	buf_reset(&b);
	buf_append_str(&b, "220 hi\r\n");
	line_of(&b, "250 ", 5000, "\r\n");
	expect_reading(b.data, b.len, "220 n1:hi=error:reply line longer than 4096 octets");

	/* The error comes as soon as 4096 octets without an end are in, not
	 * when the end arrives (it may never). */
	struct smtp_reader *rd = smtp_reader_new();
	struct smtp_reply reply;
	buf_reset(&b);
	line_of(&b, "250 ", 4096, "");
	CHECK_INT_EQ(smtp_reader_feed(rd, b.data, 4095), 4095);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 0);
	CHECK_INT_EQ(smtp_reader_buffered(rd), 4095);
	CHECK_INT_EQ(smtp_reader_feed(rd, b.data + 4095, 1), 1);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), -1);
	CHECK_STR_EQ(smtp_reader_error(rd), "reply line longer than 4096 octets");
	/* Bounded: an endless line never makes the reader hold more. */
	smtp_reader_reset(rd);
	size_t most = 0;
	for (int i = 0; i < 100000; i++) {
		smtp_reader_feed(rd, "x", 1);
		if (smtp_reader_buffered(rd) > most)
			most = smtp_reader_buffered(rd);
		if (smtp_reader_next(rd, &reply) < 0)
			break;
	}
	CHECK(most <= SMTP_REPLY_MAX_LINE);
	CHECK_STR_EQ(smtp_reader_error(rd), "reply line longer than 4096 octets");
	smtp_reader_free(rd);

	buf_free(&b);
	buf_free(&exp);
}

static void
test_line_count(void)
{
	struct buf b = BUF_INIT, exp = BUF_INIT;

	/* 100 lines: accepted. */
	for (int i = 0; i < 99; i++)
		buf_append_str(&b, "250-x\r\n");
	buf_append_str(&b, "250 y\r\n");
	read_input(b.data, b.len, FEED_WHOLE, 0, 0, &exp);
	CHECK(strncmp(buf_cstr(&exp), "250 n100:x\\nx", 13) == 0);
	CHECK(strstr(buf_cstr(&exp), "\\ny=idle") != NULL);
	expect_reading(b.data, b.len, buf_cstr(&exp));

	/* 200 lines: refused, at the 101st, before the reply ends. */
	buf_reset(&b);
	for (int i = 0; i < 199; i++)
		buf_append_str(&b, "250-x\r\n");
	buf_append_str(&b, "250 y\r\n");
	expect_reading(b.data, b.len, "=error:reply longer than 100 lines");
	buf_truncate(&b, 101 * 7);
	expect_reading(b.data, b.len, "=error:reply longer than 100 lines");
	buf_truncate(&b, 100 * 7);
	expect_reading(b.data, b.len, "=partial");

	buf_free(&b);
	buf_free(&exp);
}

static void
test_enhanced(void)
{
	expect("250 2.1.0 Ok\r\n", "250 2.1.0 n1:Ok=idle");
	/* Wrong class for the code: not an enhanced code, text kept. */
	expect("250 5.1.1 x\r\n", "250 n1:5.1.1 x=idle");
	expect("550 2.0.0 x\r\n", "550 n1:2.0.0 x=idle");
	expect("354 3.0.0 go\r\n", "354 n1:3.0.0 go=idle");
	/* Three-digit detail and subject are fine; four are not. */
	expect("550 5.1.10 x\r\n", "550 5.1.10 n1:x=idle");
	expect("451 4.7.650 rate limited\r\n", "451 4.7.650 n1:rate limited=idle");
	expect("550 5.999.999 x\r\n", "550 5.999.999 n1:x=idle");
	expect("550 5.1.1000 x\r\n", "550 n1:5.1.1000 x=idle");
	expect("550 5.1000.1 x\r\n", "550 n1:5.1000.1 x=idle");
	/* Incomplete or malformed. */
	expect("550 5.1 x\r\n", "550 n1:5.1 x=idle");
	expect("550 5.1. x\r\n", "550 n1:5.1. x=idle");
	expect("550 5..1 x\r\n", "550 n1:5..1 x=idle");
	expect("550 5.1.1x\r\n", "550 n1:5.1.1x=idle");
	expect("550 5.1.1.2 x\r\n", "550 n1:5.1.1.2 x=idle");
	expect("550 5.1.1\tx\r\n", "550 n1:5.1.1 x=idle");
	expect("550 55.1.1 x\r\n", "550 n1:55.1.1 x=idle");
	/* RFC 3463: no leading zeros; a lone 0 is fine. */
	expect("550 5.01.1 x\r\n", "550 n1:5.01.1 x=idle");
	expect("550 5.1.01 x\r\n", "550 n1:5.1.01 x=idle");
	expect("550 5.0.0 x\r\n", "550 5.0.0 n1:x=idle");
	expect("550 5.0.00 x\r\n", "550 n1:5.0.00 x=idle");
	/* The code alone, and only one space stripped after it. */
	expect("550 5.1.1\r\n", "550 5.1.1 n1:=idle");
	expect("550 5.1.1  two\r\n", "550 5.1.1 n1: two=idle");
	/* Multi-line: stripped from every line that carries the same code. */
	expect("550-5.7.1 one\r\n550-5.7.1 two\r\n550 5.7.1 three\r\n",
	       "550 5.7.1 n3:one\\ntwo\\nthree=idle");
	expect("550-5.7.1 one\r\n550-5.7.2 two\r\n550-5.7.1\r\n550 three\r\n",
	       "550 5.7.1 n4:one\\n5.7.2 two\\n\\nthree=idle");
	expect("550-5.7.1 one\r\n550 5.7.10 two\r\n", "550 5.7.1 n2:one\\n5.7.10 two=idle");
	/* Only the first line decides. */
	expect("550-no code\r\n550 5.1.1 later\r\n", "550 n2:no code\\n5.1.1 later=idle");
	expect("250 \r\n", "250 n1:=idle");
	expect("250 2.0.0\r\n", "250 2.0.0 n1:=idle");

	CHECK(smtp_enhanced_valid("2.0.0", 5));
	CHECK(smtp_enhanced_valid("5.7.28", 6));
	CHECK(smtp_enhanced_valid("4.999.999", 9));
	CHECK(!smtp_enhanced_valid("3.0.0", 5));
	CHECK(!smtp_enhanced_valid("5.0.0 ", 6));
	CHECK(!smtp_enhanced_valid("5.0", 3));
	CHECK(!smtp_enhanced_valid("", 0));
	CHECK(!smtp_enhanced_valid("5.00.0", 6));
}

static void
test_sanitizing(void)
{
	/* Controls become '?', TAB a space, DEL '?'. */
	expect("250 a\x01"
	       "b\x7f"
	       "c\td\x1b[31me\r\n",
	       "250 n1:a?b?c d?[31me=idle");
	/* Valid UTF-8 stays; every invalid octet becomes '?'. */
	expect("250 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\r\n",
	       "250 n1:caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7=idle");
	expect(
	    "250 \xff|\xc3 |\xc3|\xc0\xaf|\xe0\x80\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xf5\x80\r\n",
	    "250 n1:?|? |?|??|???|???|????|??"
	    "=idle");
	/* A truncated sequence at the end of a line. */
	expect("250 x\xe2\x82\r\n", "250 n1:x??"
				    "=idle");
	/* C1 controls (U+0080..U+009F) are control characters too. */
	expect("250 a\xc2\x85"
	       "b\xc2\x9f"
	       "c\xc2\xa0"
	       "d\r\n",
	       "250 n1:a?b?c\xc2\xa0"
	       "d=idle");
	/* Text cap: 1021 octets and "..." */
	struct buf b = BUF_INIT, exp = BUF_INIT;
	line_of(&b, "250 ", 3000, "\r\n");
	struct smtp_reader *rd = smtp_reader_new();
	struct smtp_reply reply;
	CHECK_INT_EQ(smtp_reader_feed(rd, b.data, b.len), b.len);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_INT_EQ(reply.text_len, SMTP_REPLY_MAX_TEXT);
	CHECK_INT_EQ(reply.truncated, 1);
	CHECK(memcmp(reply.text, b.data + 4, SMTP_REPLY_MAX_TEXT - 3) == 0);
	CHECK_STR_EQ(reply.text + SMTP_REPLY_MAX_TEXT - 3, "...");

	/* Exactly 1024 octets of text: kept whole. */
	buf_reset(&b);
	line_of(&b, "250 ", 4 + 1024, "\r\n");
	CHECK_INT_EQ(smtp_reader_feed(rd, b.data, b.len), b.len);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_INT_EQ(reply.text_len, 1024);
	CHECK_INT_EQ(reply.truncated, 0);

	/* The cut falls on a character boundary: 1020 'a', then euro signs. */
	buf_reset(&b);
	buf_append_str(&b, "250 ");
	for (int i = 0; i < 1020; i++)
		buf_append_char(&b, 'a');
	for (int i = 0; i < 10; i++)
		buf_append_str(&b, "\xe2\x82\xac");
	buf_append_str(&b, "\r\n");
	CHECK_INT_EQ(smtp_reader_feed(rd, b.data, b.len), b.len);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_INT_EQ(reply.text_len, 1023);
	CHECK_STR_EQ(reply.text + 1020, "...");
	/* 1019 'a', then a euro sign ends at 1022: the cut goes before it. */
	buf_reset(&b);
	buf_append_str(&b, "250 ");
	for (int i = 0; i < 1019; i++)
		buf_append_char(&b, 'a');
	for (int i = 0; i < 3; i++)
		buf_append_str(&b, "\xe2\x82\xac");
	buf_append_str(&b, "\r\n");
	CHECK_INT_EQ(smtp_reader_feed(rd, b.data, b.len), b.len);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_INT_EQ(reply.text_len, 1022);
	CHECK_STR_EQ(reply.text + 1019, "...");

	/* Many lines add up; every line is still read and checked. */
	buf_reset(&b);
	for (int i = 0; i < 20; i++)
		line_of(&b, "550-", 200, "\r\n");
	buf_append_str(&b, "550 end\r\n");
	CHECK_INT_EQ(smtp_reader_feed(rd, b.data, b.len), b.len);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_INT_EQ(reply.lines, 21);
	CHECK_INT_EQ(reply.truncated, 1);
	CHECK(reply.text_len <= SMTP_REPLY_MAX_TEXT);
	CHECK(reply_keeps_promises(&reply));
	buf_reset(&b);
	for (int i = 0; i < 20; i++)
		line_of(&b, "550-", 200, "\r\n");
	buf_append_str(&b, "551 end\r\n");
	CHECK_INT_EQ(smtp_reader_feed(rd, b.data, b.len), b.len);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), -1);
	CHECK_STR_EQ(smtp_reader_error(rd), "inconsistent codes in a multi-line reply");
	smtp_reader_free(rd);
	buf_free(&b);
	buf_free(&exp);
}

static void
test_buffering(void)
{
	struct smtp_reader *rd = smtp_reader_new();
	struct smtp_reply reply;
	struct buf b = BUF_INIT;
	size_t room;

	/* A burst bigger than the buffer: feed takes part, then the rest. */
	for (int i = 0; i < 2000; i++)
		buf_printf(&b, "250 2.1.5 recipient %d ok\r\n", i);
	const char *p = b.data;
	size_t left = b.len;
	int got = 0, short_feeds = 0, ok = 1;
	while (left > 0) {
		size_t n = smtp_reader_feed(rd, p, left);
		short_feeds += n < left;
		p += n, left -= n;
		int st;
		while ((st = smtp_reader_next(rd, &reply)) == 1) {
			char want[64];
			snprintf(want, sizeof want, "recipient %d ok", got);
			ok &= strcmp(reply.text, want) == 0 && strcmp(reply.enhanced, "2.1.5") == 0;
			got++;
		}
		CHECK_INT_EQ(st, 0);
		/* After next() said 0 there is room for a whole line. */
		smtp_reader_space(rd, &room);
		ok &= room >= SMTP_REPLY_MAX_LINE;
	}
	CHECK_INT_EQ(got, 2000);
	CHECK(short_feeds > 0);
	CHECK(ok);
	CHECK(smtp_reader_idle(rd));

	/* STARTTLS injection: bytes after the 220 stay visible. */
	smtp_reader_reset(rd);
	const char *inj = "220 2.0.0 Ready to start TLS\r\n250 injected\r\n";
	smtp_reader_feed(rd, inj, strlen(inj));
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_INT_EQ(reply.code, 220);
	CHECK_INT_EQ(smtp_reader_buffered(rd), 14);
	CHECK(!smtp_reader_idle(rd));
	smtp_reader_reset(rd);
	CHECK_INT_EQ(smtp_reader_buffered(rd), 0);
	CHECK(smtp_reader_idle(rd));

	/* idle() also sees a multi-line reply half read. */
	smtp_reader_feed(rd, "250-a\r\n", 7);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 0);
	CHECK_INT_EQ(smtp_reader_buffered(rd), 0);
	CHECK(!smtp_reader_idle(rd));
	smtp_reader_feed(rd, "250 b\r\n", 7);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK(smtp_reader_idle(rd));

	/* commit(0) is fine; space() offers the whole buffer when empty. */
	char *w = smtp_reader_space(rd, &room);
	CHECK(w != NULL && room >= 2 * SMTP_REPLY_MAX_LINE);
	smtp_reader_commit(rd, 0);
	CHECK(smtp_reader_idle(rd));

	/* The reply is plain data: a copy stays valid after the next one. */
	smtp_reader_feed(rd, "250 first\r\n550 second\r\n", 23);
	struct smtp_reply kept;
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	kept = reply;
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_STR_EQ(kept.text, "first");
	CHECK_STR_EQ(reply.text, "second");

	smtp_reader_free(rd);
	buf_free(&b);
}

/* A burst of many kinds of replies, cut at every offset. */
static void
test_burst_every_split(void)
{
	static const char burst[] =
	    "220-mx.example.org ESMTP\r\n220 no UCE\r\n"
	    "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"
	    "250 2.1.0 Sender OK\r\n"
	    "250 2.1.5 OK\n"
	    "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
	    "550-5.1.1 Please try double-checking the recipient's email address\r\n"
	    "550 5.1.1 for typos.\r\n"
	    "452 4.5.3 Too many recipients\r\n"
	    "354 Go ahead\r\n"
	    "250 2.0.0 Ok: queued as 4Xb9\xc3\xa9Z\r\n"
	    "221 2.0.0 Bye\r\n";
	expect(burst, "220 n2:mx.example.org ESMTP\\nno UCE | 250 n6:mx.example.org\\nPIPELINING\\n"
		      "SIZE 52428800\\n8BITMIME\\nENHANCEDSTATUSCODES\\nSTARTTLS | 250 2.1.0 n1:"
		      "Sender OK | 250 2.1.5 n1:OK | 550 5.1.1 n3:The email account that you tried "
		      "to reach does not exist.\\nPlease try double-checking the recipient's email "
		      "address\\nfor typos. | 452 4.5.3 n1:Too many recipients | 354 n1:Go ahead | "
		      "250 2.0.0 n1:Ok: queued as 4Xb9\xc3\xa9Z | 221 2.0.0 n1:Bye=idle");
}

/* ---- EHLO ---- */

static int
read_one(struct smtp_reader *rd, const char *s, struct smtp_reply *reply)
{
	smtp_reader_reset(rd);
	smtp_reader_feed(rd, s, strlen(s));
	return smtp_reader_next(rd, reply);
}

static void
test_ehlo(void)
{
	struct smtp_reader *rd = smtp_reader_new();
	struct smtp_reply reply;
	struct smtp_ehlo e;

	/* Postfix smtp-sink: lower-case keywords, SIZE without value, "250 ". */
	CHECK_INT_EQ(read_one(rd,
			      "250-sink.example.com\r\n250-pipelining\r\n250-size\r\n250-etrn\r\n"
			      "250-starttls\r\n250-enhancedstatuscodes\r\n250-8bitmime\r\n"
			      "250-smtputf8\r\n250-chunking\r\n250-auth PLAIN LOGIN\r\n"
			      "250-xforward NAME ADDR\r\n250 \r\n",
			      &reply),
		     1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK_INT_EQ(e.flags, SMTP_EXT_PIPELINING | SMTP_EXT_STARTTLS | SMTP_EXT_SIZE |
				  SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |
				  SMTP_EXT_ENHANCEDSTATUSCODES | SMTP_EXT_CHUNKING | SMTP_EXT_AUTH);
	CHECK_INT_EQ(e.size, 0);

	/* Gmail-like, with SIZE. */
	CHECK_INT_EQ(
	    read_one(rd,
		     "250-mx.google.com at your service, [192.0.2.1]\r\n250-SIZE "
		     "157286400\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
		     "250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
		     &reply),
	    1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK_INT_EQ(e.size, 157286400);
	CHECK(e.flags & SMTP_EXT_SIZE);
	CHECK(e.flags & SMTP_EXT_SMTPUTF8);
	CHECK(!(e.flags & SMTP_EXT_AUTH));

	/* The greeting line is no extension, whatever it says. */
	CHECK_INT_EQ(read_one(rd, "250-PIPELINING\r\n250 SIZE 1000\r\n", &reply), 1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK_INT_EQ(e.flags, SMTP_EXT_SIZE);
	CHECK_INT_EQ(e.size, 1000);
	CHECK_INT_EQ(read_one(rd, "250 STARTTLS\r\n", &reply), 1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK_INT_EQ(e.flags, 0);

	/* Odd forms: AUTH=, SIZE 0, SIZE garbage, huge SIZE, near misses. */
	CHECK_INT_EQ(
	    read_one(rd,
		     "250-h\r\n250-AUTH=LOGIN\r\n250-SIZE 0\r\n250-X-PIPELINING\r\n"
		     "250-PIPELINING-NOT\r\n250- STARTTLS\r\n250-STARTTLSX\r\n250-CHUNKING "
		     "\r\n250 Size 12x\r\n",
		     &reply),
	    1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK_INT_EQ(e.flags, SMTP_EXT_AUTH | SMTP_EXT_SIZE | SMTP_EXT_CHUNKING);
	CHECK_INT_EQ(e.size, 0);
	CHECK_INT_EQ(read_one(rd, "250-h\r\n250 SIZE 99999999999999999999999999\r\n", &reply), 1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK(e.size == (unsigned long long)-1);
	CHECK_INT_EQ(read_one(rd, "250-h\r\n250 SIZE  2048 \r\n", &reply), 1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK_INT_EQ(e.size, 2048);

	/* Not a 250: no extensions. */
	CHECK_INT_EQ(read_one(rd, "502-h\r\n502 5.5.1 PIPELINING\r\n", &reply), 1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), -1);
	CHECK_INT_EQ(e.flags, 0);

	/* A reply so long that its text is cut still yields every extension. */
	struct buf b = BUF_INIT;
	buf_append_str(&b, "250-big.example.com\r\n");
	for (int i = 0; i < 60; i++)
		buf_printf(&b, "250-X-VENDOR-EXTENSION-NUMBER-%d with some parameters\r\n", i);
	buf_append_str(&b, "250-STARTTLS\r\n250 PIPELINING\r\n");
	CHECK_INT_EQ(read_one(rd, b.data, &reply), 1);
	CHECK_INT_EQ(reply.truncated, 1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK_INT_EQ(e.flags, SMTP_EXT_STARTTLS | SMTP_EXT_PIPELINING);
	buf_free(&b);

	/* Extensions never leak from one reply into the next. */
	CHECK_INT_EQ(read_one(rd, "250-h\r\n250 STARTTLS\r\n250-h2\r\n250 SIZE 5\r\n", &reply), 1);
	CHECK_INT_EQ(smtp_reader_next(rd, &reply), 1);
	CHECK_INT_EQ(smtp_ehlo_parse(&reply, &e), 0);
	CHECK_INT_EQ(e.flags, SMTP_EXT_SIZE);
	smtp_reader_free(rd);
}

/* ---- retry hints ---- */

static void
test_retry_hint(void)
{
	static const struct {
		const char *text;
		long seconds;
	} cases[] = {
	    {"try again in 10 minutes", 600},
	    {"Greylisted, please retry in 300 seconds", 300},
	    {"4.7.1 Please try again later", -1},
	    {"Try again after 2 hours", 7200},
	    {"TRY AGAIN IN 2 MINUTES", 120},
	    {"greylisted for 5 min", 300},
	    {"please wait 30s", 30},
	    {"retry after 60 sec.", 60},
	    {"try again in about 15 minutes", 900},
	    {"try again in 1 hour and 30 minutes", 3600},
	    {"retry in 5m", 300},
	    {"try again in 1 day", 86400},
	    {"try again in 3 days", 86400},
	    {"try again in 99999999999999999999 seconds", 86400},
	    {"retry in 300", -1},
	    {"try again in 5-10 minutes", -1},
	    {"try again in a few minutes", -1},
	    {"await 30s", -1},
	    {"retry in 2 fortnights", -1},
	    {"", -1},
	    {"too many connections, try again later; retry in 2 m", 120},
	    {"try again in 0 seconds", 0},
	    {"wait", -1},
	    {"try again in", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long got = smtp_retry_hint(cases[i].text);
		if (got != cases[i].seconds)
			fprintf(stderr, "retry hint for \"%s\": %ld, expected %ld\n", cases[i].text,
				got, cases[i].seconds);
		CHECK_INT_EQ(got, cases[i].seconds);
	}
}

/* ---- classification ---- */

struct verdict_case {
	enum smtp_stage stage;
	const char *reply; /* one reply, with its line ends */
	enum smtp_outcome outcome;
	const char *enhanced;
	int assigned, throttle;
	long retry_after;
};

static void
test_classify(void)
{
	static const struct verdict_case cases[] = {
	    {SMTP_STAGE_RCPT, "250 2.1.5 Ok\r\n", SMTP_DELIVERED, "2.1.5", 0, 0, -1},
	    {SMTP_STAGE_RCPT, "250 Ok\r\n", SMTP_DELIVERED, "2.0.0", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "251 will forward\r\n", SMTP_DELIVERED, "2.0.0", 1, 0, -1},
	    {SMTP_STAGE_DATA, "354 go ahead\r\n", SMTP_DELIVERED, "2.0.0", 1, 0, -1},
	    {SMTP_STAGE_DATA, "250 what\r\n", SMTP_DEFERRED, "4.5.0", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "354 what\r\n", SMTP_DEFERRED, "4.5.0", 1, 0, -1},
	    {SMTP_STAGE_MESSAGE, "250 2.0.0 Ok: queued\r\n", SMTP_DELIVERED, "2.0.0", 0, 0, -1},
	    /* 5xx: failed, with the server's code or the generic one. */
	    {SMTP_STAGE_RCPT, "550 5.1.1 no such user\r\n", SMTP_FAILED, "5.1.1", 0, 0, -1},
	    {SMTP_STAGE_RCPT, "550 no such user\r\n", SMTP_FAILED, "5.0.0", 1, 0, -1},
	    {SMTP_STAGE_MESSAGE, "554 5.7.1 spam\r\n", SMTP_FAILED, "5.7.1", 0, 0, -1},
	    {SMTP_STAGE_MESSAGE, "554 rejected\r\n", SMTP_FAILED, "5.0.0", 1, 0, -1},
	    {SMTP_STAGE_MESSAGE, "552 too big\r\n", SMTP_FAILED, "5.0.0", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "556 5.1.10 null MX\r\n", SMTP_FAILED, "5.1.10", 0, 0, -1},
	    {SMTP_STAGE_RCPT, "556 no mail\r\n", SMTP_FAILED, "5.1.10", 1, 0, -1},
	    {SMTP_STAGE_MAIL, "553 bad sender\r\n", SMTP_FAILED, "5.1.7", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "553 bad mailbox\r\n", SMTP_FAILED, "5.1.3", 1, 0, -1},
	    {SMTP_STAGE_MESSAGE, "553 nope\r\n", SMTP_FAILED, "5.0.0", 1, 0, -1},
	    {SMTP_STAGE_MAIL, "530 Must issue a STARTTLS command first\r\n", SMTP_FAILED, "5.7.0",
	     1, 0, -1},
	    {SMTP_STAGE_HELO, "501 bad syntax\r\n", SMTP_FAILED, "5.5.4", 1, 0, -1},
	    {SMTP_STAGE_HELO, "500 unrecognized\r\n", SMTP_FAILED, "5.5.2", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "503 bad sequence\r\n", SMTP_FAILED, "5.5.1", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "555 NOTIFY not recognized\r\n", SMTP_FAILED, "5.5.4", 1, 0, -1},
	    /* RCPT 452/552: too many recipients, deferred. */
	    {SMTP_STAGE_RCPT, "452 4.5.3 Too many recipients\r\n", SMTP_DEFERRED, "4.5.3", 0, 0,
	     -1},
	    {SMTP_STAGE_RCPT, "452 too many recipients\r\n", SMTP_DEFERRED, "4.5.3", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "552 too many recipients\r\n", SMTP_DEFERRED, "4.5.3", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "552 5.2.2 mailbox full\r\n", SMTP_DEFERRED, "4.2.2", 0, 0, -1},
	    {SMTP_STAGE_MAIL, "452 insufficient storage\r\n", SMTP_DEFERRED, "4.3.1", 1, 0, -1},
	    /* The greeting. */
	    {SMTP_STAGE_GREETING, "220 hi\r\n", SMTP_DELIVERED, "2.0.0", 1, 0, -1},
	    {SMTP_STAGE_GREETING, "554 5.7.1 blocked, see http://x\r\n", SMTP_DEFERRED, "4.7.1", 0,
	     1, -1},
	    {SMTP_STAGE_GREETING, "554 No SMTP service here\r\n", SMTP_DEFERRED, "4.3.2", 1, 1, -1},
	    {SMTP_STAGE_GREETING, "521 does not accept mail\r\n", SMTP_FAILED, "5.3.2", 1, 0, -1},
	    {SMTP_STAGE_GREETING, "421 too busy, try again in 2 minutes\r\n", SMTP_DEFERRED,
	     "4.3.2", 1, 1, 120},
	    {SMTP_STAGE_GREETING, "450 later\r\n", SMTP_DEFERRED, "4.3.2", 1, 1, -1},
	    /* 421 anywhere: throttle. */
	    {SMTP_STAGE_MESSAGE, "421 4.7.0 Try again later, closing connection.\r\n",
	     SMTP_DEFERRED, "4.7.0", 0, 1, -1},
	    {SMTP_STAGE_RCPT, "421 closing\r\n", SMTP_DEFERRED, "4.3.2", 1, 1, -1},
	    /* Throttling by enhanced code. */
	    {SMTP_STAGE_RCPT, "451 4.3.2 System not accepting network messages\r\n", SMTP_DEFERRED,
	     "4.3.2", 0, 1, -1},
	    {SMTP_STAGE_RCPT, "451 4.4.5 congestion\r\n", SMTP_DEFERRED, "4.4.5", 0, 1, -1},
	    {SMTP_STAGE_RCPT, "450 4.7.28 flood\r\n", SMTP_DEFERRED, "4.7.28", 0, 1, -1},
	    /* By text, with 4.7.x or no enhanced code. */
	    {SMTP_STAGE_MESSAGE,
	     "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP "
	     "reputation.\r\n",
	     SMTP_DEFERRED, "4.7.650", 0, 1, -1},
	    {SMTP_STAGE_MAIL, "450 4.7.1 Error: too much mail from 192.0.2.1\r\n", SMTP_DEFERRED,
	     "4.7.1", 0, 1, -1},
	    {SMTP_STAGE_RCPT, "450 4.7.1 Error: too many recipients from 192.0.2.1\r\n",
	     SMTP_DEFERRED, "4.7.1", 0, 1, -1},
	    {SMTP_STAGE_RCPT, "451 Rate limit exceeded, retry in 60 seconds\r\n", SMTP_DEFERRED,
	     "4.0.0", 1, 1, 60},
	    {SMTP_STAGE_RCPT, "451 4.7.0 Temporary failure, please try again later\r\n",
	     SMTP_DEFERRED, "4.7.0", 0, 1, -1},
	    {SMTP_STAGE_RCPT,
	     "450-4.7.0 Too many concurrent SMTP connections\r\n450 4.7.0 "
	     "slow down\r\n",
	     SMTP_DEFERRED, "4.7.0", 0, 1, -1},
	    /* Not throttling: per-recipient, per-message, greylisting. */
	    {SMTP_STAGE_RCPT,
	     "450 4.2.1 The user you are trying to contact is receiving mail at a rate that "
	     "prevents additional messages from being delivered.\r\n",
	     SMTP_DEFERRED, "4.2.1", 0, 0, -1},
	    {SMTP_STAGE_RCPT, "451 4.7.1 Greylisted, try again in 5 minutes\r\n", SMTP_DEFERRED,
	     "4.7.1", 0, 0, 300},
	    {SMTP_STAGE_RCPT, "451 4.7.0 Greylisted: please try again later\r\n", SMTP_DEFERRED,
	     "4.7.0", 0, 0, -1},
	    {SMTP_STAGE_RCPT, "450 4.7.1 Please try again later\r\n", SMTP_DEFERRED, "4.7.1", 0, 0,
	     -1},
	    {SMTP_STAGE_RCPT, "451 4.3.0 rate limit\r\n", SMTP_DEFERRED, "4.3.0", 0, 0, -1},
	    {SMTP_STAGE_RCPT, "450 mailbox busy\r\n", SMTP_DEFERRED, "4.0.0", 1, 0, -1},
	    {SMTP_STAGE_RCPT, "550 5.7.1 rate limit exceeded\r\n", SMTP_FAILED, "5.7.1", 0, 0, -1},
	    /* STARTTLS (when required): never permanent. */
	    {SMTP_STAGE_STARTTLS, "454 4.7.0 TLS not available\r\n", SMTP_DEFERRED, "4.7.0", 0, 0,
	     -1},
	    {SMTP_STAGE_STARTTLS, "502 5.5.1 not implemented\r\n", SMTP_DEFERRED, "4.5.1", 0, 0,
	     -1},
	    {SMTP_STAGE_STARTTLS, "500 unrecognized\r\n", SMTP_DEFERRED, "4.7.4", 1, 0, -1},
	    {SMTP_STAGE_STARTTLS, "220 go ahead\r\n", SMTP_DELIVERED, "2.0.0", 1, 0, -1},
	};
	struct smtp_reader *rd = smtp_reader_new();
	struct smtp_reply reply;
	struct smtp_verdict v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct verdict_case *c = &cases[i];
		if (read_one(rd, c->reply, &reply) != 1) {
			CHECK(!"test reply parses");
			continue;
		}
		smtp_classify(&reply, c->stage, &v);
		int good = v.outcome == c->outcome && strcmp(v.enhanced, c->enhanced) == 0 &&
			   v.assigned == c->assigned && v.throttle == c->throttle &&
			   v.retry_after == c->retry_after && v.code == reply.code &&
			   v.reason == NULL;
		if (!good)
			fprintf(stderr,
				"classify case %zu (%s): outcome %d enhanced %s assigned %d "
				"throttle %d retry %ld\n",
				i, c->reply, (int)v.outcome, v.enhanced, v.assigned, v.throttle,
				v.retry_after);
		CHECK(good);
	}

	/* Every code at every stage, with and without an enhanced code: the
	 * outcome follows the class (or is softened to deferred), and the
	 * enhanced code always agrees with the outcome. */
	int disagreements = 0, checked = 0;
	for (int stage = SMTP_STAGE_GREETING; stage <= SMTP_STAGE_MESSAGE; stage++) {
		for (int code = 200; code <= 599; code++) {
			if (code / 10 % 10 > 5)
				continue;
			for (int with = 0; with <= 1; with++) {
				char line[64];
				int cls = code / 100;
				if (with && cls != 3)
					snprintf(line, sizeof line, "%d %d.7.1 x\r\n", code, cls);
				else
					snprintf(line, sizeof line, "%d x\r\n", code);
				if (read_one(rd, line, &reply) != 1) {
					disagreements++;
					continue;
				}
				smtp_classify(&reply, (enum smtp_stage)stage, &v);
				char want = v.outcome == SMTP_DELIVERED	 ? '2'
					    : v.outcome == SMTP_DEFERRED ? '4'
									 : '5';
				int positive = stage == SMTP_STAGE_DATA ? 3 : 2;
				disagreements += v.enhanced[0] != want;
				disagreements +=
				    !smtp_enhanced_valid(v.enhanced, strlen(v.enhanced));
				disagreements += (cls == positive) != (v.outcome == SMTP_DELIVERED);
				disagreements += cls == 4 && v.outcome != SMTP_DEFERRED;
				disagreements += v.outcome == SMTP_FAILED && cls != 5;
				disagreements += v.throttle && v.outcome != SMTP_DEFERRED;
				disagreements += v.retry_after != -1;
				checked++;
			}
		}
	}
	CHECK_INT_EQ(disagreements, 0);
	CHECK(checked > 3000);
	smtp_reader_free(rd);
}

static void
test_classify_local(void)
{
	static const struct {
		enum smtp_local what;
		enum smtp_outcome outcome;
		const char *enhanced;
		int throttle;
	} cases[] = {
	    {SMTP_LOCAL_DNS_NXDOMAIN, SMTP_FAILED, "5.1.2", 0},
	    {SMTP_LOCAL_DNS_NULL_MX, SMTP_FAILED, "5.1.10", 0},
	    {SMTP_LOCAL_DNS_NO_ADDRESS, SMTP_FAILED, "5.4.4", 0},
	    {SMTP_LOCAL_DNS_TEMPORARY, SMTP_DEFERRED, "4.4.3", 0},
	    {SMTP_LOCAL_CONNECT_REFUSED, SMTP_DEFERRED, "4.4.1", 1},
	    {SMTP_LOCAL_CONNECT_TIMEOUT, SMTP_DEFERRED, "4.4.1", 1},
	    {SMTP_LOCAL_CONNECTION_LOST, SMTP_DEFERRED, "4.4.2", 1},
	    {SMTP_LOCAL_REPLY_TIMEOUT, SMTP_DEFERRED, "4.4.2", 1},
	    {SMTP_LOCAL_PROTOCOL_ERROR, SMTP_DEFERRED, "4.5.0", 0},
	    {SMTP_LOCAL_TLS_NOT_OFFERED, SMTP_DEFERRED, "4.7.4", 0},
	    {SMTP_LOCAL_TLS_FAILED, SMTP_DEFERRED, "4.7.5", 0},
	    {SMTP_LOCAL_MESSAGE_TOO_BIG, SMTP_FAILED, "5.3.4", 0},
	    {SMTP_LOCAL_NEEDS_SMTPUTF8, SMTP_FAILED, "5.6.7", 0},
	    {SMTP_LOCAL_NEEDS_8BITMIME, SMTP_FAILED, "5.6.3", 0},
	};
	struct smtp_verdict v;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		smtp_classify_local(cases[i].what, &v);
		CHECK_INT_EQ(v.outcome, cases[i].outcome);
		CHECK_STR_EQ(v.enhanced, cases[i].enhanced);
		CHECK_INT_EQ(v.throttle, cases[i].throttle);
		CHECK_INT_EQ(v.code, 0);
		CHECK_INT_EQ(v.assigned, 1);
		CHECK_INT_EQ(v.retry_after, -1);
		CHECK(v.reason != NULL && v.reason[0] != '\0');
	}
	/* An unknown value: when in doubt, defer. */
	smtp_classify_local((enum smtp_local)999, &v);
	CHECK_INT_EQ(v.outcome, SMTP_DEFERRED);
	CHECK_STR_EQ(v.enhanced, "4.0.0");
}

/* ---- the IANA registry ---- */

static ssize_t
file_read(void *ctx, void *dst, size_t len)
{
	FILE *f = ctx;
	size_t n = fread(dst, 1, len, f);
	return n == 0 && ferror(f) ? -1 : (ssize_t)n;
}

/*
 * Every code in the IANA "SMTP Enhanced Status Codes" registry
 * (corpora/smtp-status, read with lib/csv.c) must parse as the enhanced
 * code of a reply of its class, for each class 2, 4, 5, in one-line and
 * multi-line replies, and must be refused with the wrong class.
 */
static void
test_iana_registry(void)
{
	const char *dir = getenv("MAILSHOT_CORPORA");
	char path[4096];

	if (dir == NULL || *dir == '\0')
		dir = "../shared/corpora";
	snprintf(path, sizeof path, "%s/smtp-status/iana-smtp-enhanced-status-codes.csv", dir);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "test_smtpreply: cannot read corpus %s (set MAILSHOT_CORPORA)\n",
			path);
		CHECK(!"corpus file readable");
		return;
	}
	struct csv_reader *csv = csv_open(file_read, f, path, 1);
	struct csv_record rec;
	struct smtp_reader *rd = smtp_reader_new();
	struct smtp_reply reply;
	struct buf in = BUF_INIT;
	int codes = 0, bad = 0, header = 1;

	while (csv_next(csv, &rec) == CSV_RECORD) {
		if (header) {
			header = 0;
			CHECK_STR_EQ(rec.fields[0], "Code");
			continue;
		}
		const char *code = rec.fields[0];
		if (strncmp(code, "X.", 2) != 0) {
			fprintf(stderr, "test_smtpreply: corpus code %s\n", code);
			bad++;
			continue;
		}
		codes++;
		for (const char *cls = "245"; *cls != '\0'; cls++) {
			char enh[32], wrong[64];
			snprintf(enh, sizeof enh, "%c%s", *cls, code + 1);
			CHECK(smtp_enhanced_valid(enh, strlen(enh)));
			buf_reset(&in);
			buf_printf(&in, "%c50 %s %s\r\n", *cls, enh, "Sample text");
			if (read_one(rd, in.data, &reply) != 1 ||
			    strcmp(reply.enhanced, enh) != 0 ||
			    strcmp(reply.text, "Sample text") != 0) {
				fprintf(stderr, "test_smtpreply: %s not recognized\n", enh);
				bad++;
			}
			buf_reset(&in);
			buf_printf(&in, "%c51-%s one\r\n%c51 %s\r\n", *cls, enh, *cls, enh);
			if (read_one(rd, in.data, &reply) != 1 ||
			    strcmp(reply.enhanced, enh) != 0 || strcmp(reply.text, "one\n") != 0)
				bad++;
			/* Under a reply code of another class it is text. */
			snprintf(wrong, sizeof wrong, "%c50 %s x\r\n", *cls == '2' ? '5' : '2',
				 enh);
			if (read_one(rd, wrong, &reply) != 1 || reply.enhanced[0] != '\0')
				bad++;
		}
	}
	CHECK_STR_EQ(csv_error(csv), "");
	CHECK(codes >= 79);
	CHECK_INT_EQ(bad, 0);
	csv_close(csv);
	fclose(f);
	smtp_reader_free(rd);
	buf_free(&in);
}

int
main(void)
{
	test_well_formed();
	test_refused();
	test_errors_are_sticky();
	test_line_length();
	test_line_count();
	test_enhanced();
	test_sanitizing();
	test_buffering();
	test_burst_every_split();
	test_ehlo();
	test_retry_hint();
	test_classify();
	test_classify_local();
	test_iana_registry();
	if (promises_broken)
		fprintf(stderr, "%d replies broke the promises of smtpreply.h\n", promises_broken);
	CHECK_INT_EQ(promises_broken, 0);
	return check_report("smtpreply");
}
