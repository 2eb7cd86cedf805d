/*
 * test_csv - unit tests for lib/csv.c, mostly with hostile input.
 *
 * Every input is parsed several times: handed over in one read, one byte
 * per read, in random chunks, and split in two at every offset.  The
 * result of each is rendered as one line of text, and all of them must
 * be equal: where the reads fall must never change what is parsed, nor
 * the line numbers, nor the wording of an error.
 *
 * The rendering is "LINE-END_LINE[field|field]" per record, then the
 * final status: "EOF", "BAD:message" or "IO:message".  In fields, CR,
 * LF, '|' and '\' are shown as \r, \n, \| and \\.
 *
 * Randomness comes from a fixed-seed splitmix64, so a failure repeats.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"
#include "check.h"
#include "csv.h"

/* ---- a deterministic PRNG ---- */

static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static size_t
random_below(uint64_t *state, size_t n)
{
	return (size_t)(next_random(state) % n);
}

/* ---- a memory source with several ways of cutting up its reads ---- */

enum read_mode {
	READ_WHOLE,  /* as much as asked for */
	READ_BYTE,   /* one byte per read */
	READ_RANDOM, /* random sizes from 1 to 300 bytes */
	READ_SPLIT,  /* the first read stops at `split`, then as much as asked */
};

struct source {
	const char *data;
	size_t len, pos;
	enum read_mode mode;
	uint64_t rng;
	size_t split;
	size_t fail_at;	      /* return -1 (EIO) once pos reaches this, if < len + 1 */
	int saw_eof;	      /* returned 0 once */
	int reads_after_eof;  /* the reader must not keep asking */
	int reads_after_fail; /* nor ask again after an error */
	int failed;
};

static struct source
make_source(const char *data, size_t len, enum read_mode mode, uint64_t seed)
{
	struct source s = {
	    .data = data, .len = len, .mode = mode, .rng = seed, .fail_at = (size_t)-1};
	return s;
}

static ssize_t
source_read(void *ctx, void *dst, size_t len)
{
	struct source *s = ctx;
	size_t n = s->len - s->pos;

	if (s->failed)
		s->reads_after_fail++;
	if (s->pos >= s->fail_at) {
		s->failed = 1;
		errno = EIO;
		return -1;
	}
	if (s->saw_eof)
		s->reads_after_eof++;
	if (n == 0) {
		s->saw_eof = 1;
		return 0;
	}
	switch (s->mode) {
	case READ_WHOLE:
		break;
	case READ_BYTE:
		n = 1;
		break;
	case READ_RANDOM: {
		size_t want = 1 + random_below(&s->rng, 300);
		if (n > want)
			n = want;
		break;
	}
	case READ_SPLIT:
		if (s->pos < s->split && n > s->split - s->pos)
			n = s->split - s->pos;
		break;
	}
	if (n > len)
		n = len;
	if (s->fail_at > s->pos && n > s->fail_at - s->pos)
		n = s->fail_at - s->pos;
	memcpy(dst, s->data + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static void
render_field(struct buf *out, const char *f, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (f[i]) {
		case '\n':
			buf_append_str(out, "\\n");
			break;
		case '\r':
			buf_append_str(out, "\\r");
			break;
		case '|':
			buf_append_str(out, "\\|");
			break;
		case '\\':
			buf_append_str(out, "\\\\");
			break;
		default:
			buf_append_char(out, f[i]);
		}
	}
}

/* How an input is parsed. */
struct parse_opts {
	int check_count;
	int header_names; /* hand the first record over as field names */
};

/*
 * Parses src to the end and returns the rendering (caller frees).  Also
 * checks what must hold for every record, counting violations.
 */
static char *
parse_source(struct source *src, const struct parse_opts *o, int *violations)
{
	struct buf out = BUF_INIT;
	struct csv_reader *r = csv_open(source_read, src, "t.csv", o->check_count);
	struct csv_record rec;
	enum csv_status st;
	unsigned long prev_end = 0;
	int first = 1;

	if (csv_error(r)[0] != '\0')
		(*violations)++;
	while ((st = csv_next(r, &rec)) == CSV_RECORD) {
		if (rec.nfields == 0 || rec.nfields > CSV_MAX_FIELDS ||
		    rec.fields[rec.nfields] != NULL)
			(*violations)++;
		if (rec.line > rec.end_line || rec.line <= prev_end)
			(*violations)++;
		prev_end = rec.end_line;
		if (out.len)
			buf_append_char(&out, ' ');
		buf_printf(&out, "%lu-%lu[", rec.line, rec.end_line);
		for (size_t i = 0; i < rec.nfields; i++) {
			if (strlen(rec.fields[i]) != rec.lens[i])
				(*violations)++;
			if (i)
				buf_append_char(&out, '|');
			render_field(&out, rec.fields[i], rec.lens[i]);
		}
		buf_append_char(&out, ']');
		if (first && o->header_names)
			csv_set_field_names(r, rec.fields, rec.nfields);
		first = 0;
	}
	if (out.len)
		buf_append_char(&out, ' ');
	switch (st) {
	case CSV_EOF:
		buf_append_str(&out, "EOF");
		if (csv_error(r)[0] != '\0')
			(*violations)++;
		break;
	case CSV_BAD:
		buf_printf(&out, "BAD:%s", csv_error(r));
		break;
	case CSV_IO:
		buf_printf(&out, "IO:%s", csv_error(r));
		break;
	default:
		buf_append_str(&out, "WEIRD");
	}
	/* The final status is sticky, and an empty record goes with it. */
	if (csv_next(r, &rec) != st || csv_next(r, &rec) != st || rec.nfields != 0)
		(*violations)++;
	if (src->reads_after_eof || src->reads_after_fail)
		(*violations)++;
	csv_close(r);
	buf_cstr(&out);
	return out.data;
}

static char *
parse_mode(const char *data, size_t len, enum read_mode mode, uint64_t seed, size_t split,
	   size_t fail_at, const struct parse_opts *o, int *violations)
{
	struct source src = make_source(data, len, mode, seed);

	src.split = split;
	src.fail_at = fail_at;
	return parse_source(&src, o, violations);
}

/*
 * Parses data in every way of cutting it up and checks that all agree
 * with expected.  Splitting at every offset is quadratic, so it is done
 * for inputs of moderate size only.
 */
static void
expect_opts(const char *data, size_t len, const struct parse_opts *o, const char *expected)
{
	int violations = 0, disagree = 0;
	char *whole = parse_mode(data, len, READ_WHOLE, 0, 0, (size_t)-1, o, &violations);

	CHECK_STR_EQ(whole, expected);

	char *got = parse_mode(data, len, READ_BYTE, 0, 0, (size_t)-1, o, &violations);
	if (strcmp(got, whole) != 0) {
		fprintf(stderr, "  byte-by-byte: %s\n", got);
		disagree++;
	}
	free(got);
	for (uint64_t seed = 1; seed <= 8; seed++) {
		got = parse_mode(data, len, READ_RANDOM, seed, 0, (size_t)-1, o, &violations);
		if (strcmp(got, whole) != 0) {
			fprintf(stderr, "  random chunks (seed %llu): %s\n",
				(unsigned long long)seed, got);
			disagree++;
		}
		free(got);
	}
	if (len <= 4096) {
		for (size_t split = 1; split < len; split++) {
			got =
			    parse_mode(data, len, READ_SPLIT, 0, split, (size_t)-1, o, &violations);
			if (strcmp(got, whole) != 0) {
				fprintf(stderr, "  split at %zu: %s\n", split, got);
				disagree++;
			}
			free(got);
		}
	}
	CHECK_INT_EQ(disagree, 0);
	CHECK_INT_EQ(violations, 0);
	free(whole);
}

static void
expect_n(const char *data, size_t len, int check_count, const char *expected)
{
	struct parse_opts o = {check_count, 0};
	expect_opts(data, len, &o, expected);
}

/* Most inputs are strings without NUL; with and without the count check. */
static void
expect(const char *data, const char *expected)
{
	expect_n(data, strlen(data), 0, expected);
	expect_n(data, strlen(data), 1, expected);
}

static void
expect_named(const char *data, const char *expected)
{
	struct parse_opts o = {1, 1};
	expect_opts(data, strlen(data), &o, expected);
}

/* ---- well-formed input ---- */

static void
test_basics(void)
{
	expect("", "EOF");
	expect("a", "1-1[a] EOF");
	expect("a,b,c\n", "1-1[a|b|c] EOF");
	expect("a,b\nc,d\n", "1-1[a|b] 2-2[c|d] EOF");
	/* No final line end. */
	expect("a,b\nc,d", "1-1[a|b] 2-2[c|d] EOF");
	expect("a,b\n\"c\",\"d\"", "1-1[a|b] 2-2[c|d] EOF");
	/* CRLF, LF, and both mixed. */
	expect("a,b\r\nc,d\r\n", "1-1[a|b] 2-2[c|d] EOF");
	expect("a,b\r\nc,d\ne,f\r\n", "1-1[a|b] 2-2[c|d] 3-3[e|f] EOF");
	expect("\"a\"\r\n\"b\"\n", "1-1[a] 2-2[b] EOF");
	/* Spaces are content. */
	expect(" a , b \n", "1-1[ a | b ] EOF");
	expect("\t\n", "1-1[\t] EOF");
}

static void
test_empty_fields_and_lines(void)
{
	/* A trailing comma is one more, empty, field. */
	expect("a,\n", "1-1[a|] EOF");
	expect("a,b,\n", "1-1[a|b|] EOF");
	expect(",\n", "1-1[|] EOF");
	expect(",", "1-1[|] EOF");
	expect(",,", "1-1[||] EOF");
	expect("a,", "1-1[a|] EOF");
	expect("\"\"\n", "1-1[] EOF");
	expect("\"\",\"\"\r\n", "1-1[|] EOF");
	/* Empty lines, LF or CRLF, are skipped but counted. */
	expect("\n", "EOF");
	expect("\r\n", "EOF");
	expect("\n\r\n\n", "EOF");
	expect("a\n\n\nb\n", "1-1[a] 4-4[b] EOF");
	expect("\r\n\r\na\r\n\r\n", "3-3[a] EOF");
	expect("a\n\r\n\nb\n\n", "1-1[a] 4-4[b] EOF");
}

static void
test_quotes(void)
{
	/* "" inside quotes is one quote. */
	expect("\"a\"\"b\",\"\"\"\",\"\"\n", "1-1[a\"b|\"|] EOF");
	expect("\"\"\"\"\"\"\n", "1-1[\"\"] EOF");
	expect("\"\"\"x\"\"\"", "1-1[\"x\"] EOF");
	/* Commas, CR, LF and CRLF inside quotes are content, kept as they are. */
	expect("\"a,b\",c\n", "1-1[a,b|c] EOF");
	expect("\"a\rb\"\n", "1-1[a\\rb] EOF");
	expect("\"a\r\nb\"\r\nc\r\n", "1-2[a\\r\\nb] 3-3[c] EOF");
	expect("\"a,b\",\"c\nd\"\ne,f\n", "1-2[a,b|c\\nd] 3-3[e|f] EOF");
	expect("\"\n\",x\n", "1-2[\\n|x] EOF");
	expect("\"\n\n\n\"\n", "1-4[\\n\\n\\n] EOF");
	/* A quoted field ending the input without a line end. */
	expect("\"a\"", "1-1[a] EOF");
	expect("x,\"\"", "1-1[x|] EOF");
	/* Line numbers of later records follow embedded line ends. */
	expect("\"1\n2\n3\",x\ny,z\n\n\"p\r\nq\",r\ns,t",
	       "1-3[1\\n2\\n3|x] 4-4[y|z] 6-7[p\\r\\nq|r] 8-8[s|t] EOF");
	/* A quote followed by an empty line is not a continuation. */
	expect("\"a\"\n\nb\n", "1-1[a] 3-3[b] EOF");
}

static void
test_bom(void)
{
	expect("\357\273\277a,b\n", "1-1[a|b] EOF");
	expect("\xEF\xBB\xBF", "EOF");
	expect("\xEF\xBB\xBF\n", "EOF");
	expect("\xEF\xBB\xBF\nx\n", "2-2[x] EOF");
	expect("\xEF\xBB\xBF\"a\"", "1-1[a] EOF");
	/* Only one mark is stripped, and only at the start: U+FEFF is valid text. */
	expect("\xEF\xBB\xBF\xEF\xBB\xBFx", "1-1[\xEF\xBB\xBFx] EOF");
	expect("a\n\357\273\277b\n", "1-1[a] 2-2[\357\273\277b] EOF");
	/* Part of a mark is just invalid UTF-8. */
	expect("\xEF\xBB", "BAD:t.csv:1: field 1: invalid UTF-8 at byte 1 of the field (0xEF)");
	expect("\xEF\xBBx,y", "BAD:t.csv:1: field 1: invalid UTF-8 at byte 1 of the field (0xEF)");
}

static void
test_utf8(void)
{
	static const char *const good[] = {
	    "\xC2\x80",
	    "\xDF\xBF",
	    "\xE0\xA0\x80",
	    "\xED\x9F\xBF",
	    "\xEE\x80\x80",
	    "\xEF\xBF\xBF",
	    "\xF0\x90\x80\x80",
	    "\xF4\x8F\xBF\xBF",
	    "\xC3\xA9t\xC3\xA9",
	    "\xE6\x97\xA5\xE6\x9C\xAC",
	    "\xF0\x9F\x98\x80",
	    "\x7F",
	    "0123456789abcdef\xC3\xA9ghijklmnopqrstuv",
	};
	/* Each is refused at byte 3 of the field "ab<bad>". */
	static const char *const bad[] = {
	    "\xC0\x80",		/* overlong NUL */
	    "\xC1\xBF",		/* overlong */
	    "\xE0\x80\x80",	/* overlong */
	    "\xE0\x9F\xBF",	/* overlong */
	    "\xED\xA0\x80",	/* surrogate D800 */
	    "\xED\xBF\xBF",	/* surrogate DFFF */
	    "\xF0\x80\x80\x80", /* overlong */
	    "\xF0\x8F\xBF\xBF", /* overlong */
	    "\xF4\x90\x80\x80", /* 0x110000 */
	    "\xF5\x80\x80\x80", /* beyond */
	    "\xF8\x88\x80\x80\x80",
	    "\xFC\x84\x80\x80\x80\x80",
	    "\xFE",
	    "\xFF",
	    "\x80",	    /* lone continuation */
	    "\xBF",	    /* lone continuation */
	    "\xC3",	    /* truncated at the end of the field */
	    "\xE2\x82",	    /* truncated */
	    "\xF0\x9F\x98", /* truncated */
	    "\xE2\x28\xA1", /* bad second byte */
	    "\xE2\x82\x28", /* bad third byte */
	    "\xF0\x9F\x28\x80",
	    "\xF0\x9F\x98\x28",
	};
	char in[128], want[256];

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		snprintf(in, sizeof in, "x,%s\n\"%s\",y", good[i], good[i]);
		snprintf(want, sizeof want, "1-1[x|%s] 2-2[%s|y] EOF", good[i], good[i]);
		expect(in, want);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(in, sizeof in, "h1,h2\nx,ab%s\n", bad[i]);
		snprintf(want, sizeof want,
			 "1-1[h1|h2] BAD:t.csv:2: field 2 (h2): invalid UTF-8 at byte 3 of the "
			 "field (0x%02X)",
			 (unsigned char)bad[i][0]);
		expect_named(in, want);
		/* The same in a quoted field, and before a comma. */
		snprintf(in, sizeof in, "\"ab%s\"", bad[i]);
		snprintf(want, sizeof want,
			 "BAD:t.csv:1: field 1: invalid UTF-8 at byte 3 of the field (0x%02X)",
			 (unsigned char)bad[i][0]);
		expect(in, want);
		snprintf(in, sizeof in, "ab%s,c", bad[i]);
		expect(in, want);
	}
	/* The line named is that of the bad byte, inside a multi-line field. */
	expect("a,b\nc,\"x\ny\r\nz\xFF\"\n",
	       "1-1[a|b] BAD:t.csv:4: field 2: invalid UTF-8 at byte 7 of the field (0xFF)");
	/* An invalid byte after a long run of ASCII (the word-at-a-time path). */
	expect("0123456789abcdefghij\x80",
	       "BAD:t.csv:1: field 1: invalid UTF-8 at byte 21 of the field (0x80)");
}

/* ---- refusals ---- */

static void
test_refusals(void)
{
	/* A quote inside an unquoted field. */
	expect("a,b\"c\n", "BAD:t.csv:1: field 2: quote inside an unquoted field");
	expect("a,b\nc,d\ne\"",
	       "1-1[a|b] 2-2[c|d] BAD:t.csv:3: field 1: quote inside an unquoted field");
	expect("a, \"b\"\n", "BAD:t.csv:1: field 2: quote inside an unquoted field");
	expect_named("email,name\nx@y,b\"c\n",
		     "1-1[email|name] BAD:t.csv:2: field 2 (name): quote inside an unquoted field");

	/* Text after a closing quote. */
	expect("\"a\"b,c\n", "BAD:t.csv:1: field 1: text after the closing quote");
	expect("x,\"a\" ,c\n", "BAD:t.csv:1: field 2: text after the closing quote");
	expect("x\n\"a\nb\"c", "1-1[x] BAD:t.csv:3: field 1: text after the closing quote");
	expect("\"a\"\"\"b", "BAD:t.csv:1: field 1: text after the closing quote");

	/* End of input inside quotes: the line is where input ends; the message says where
	 * the field was opened. */
	expect("\"", "BAD:t.csv:1: field 1: quoted field opened on line 1 not closed at end of "
		     "input");
	expect("a,b\nc,\"d\ne\nf",
	       "1-1[a|b] BAD:t.csv:4: field 2: quoted field opened on line 2 not closed at end "
	       "of input");
	expect("a,b\nc,\"d\ne\n",
	       "1-1[a|b] BAD:t.csv:3: field 2: quoted field opened on line 2 not closed at end "
	       "of input");
	expect("a,b\nc,\"d\ne\r\n",
	       "1-1[a|b] BAD:t.csv:3: field 2: quoted field opened on line 2 not closed at end "
	       "of input");
	expect("\"a\"\"", "BAD:t.csv:1: field 1: quoted field opened on line 1 not closed at end "
			  "of input");
	expect_named("h1,h2,h3\n1,2,\"3\n\n",
		     "1-1[h1|h2|h3] BAD:t.csv:3: field 3 (h3): quoted field opened on line 2 not "
		     "closed at end of input");

	/* Bare CR outside quotes, wherever it is. */
	expect("a\rb\n", "BAD:t.csv:1: field 1: bare CR (carriage return not followed by a line "
			 "feed)");
	expect("a,b\r", "BAD:t.csv:1: field 2: bare CR (carriage return not followed by a line "
			"feed)");
	expect("x\na,\"b\"\rx", "1-1[x] BAD:t.csv:2: field 2: bare CR (carriage return not "
				"followed by a line feed)");
	expect("\r", "BAD:t.csv:1: field 1: bare CR (carriage return not followed by a line feed)");
	expect("\r\n\rx", "BAD:t.csv:2: field 1: bare CR (carriage return not followed by a line "
			  "feed)");
	expect("a\n\r\r\n", "1-1[a] BAD:t.csv:2: field 1: bare CR (carriage return not followed "
			    "by a line feed)");
	expect("a,\r\r\n", "BAD:t.csv:1: field 2: bare CR (carriage return not followed by a "
			   "line feed)");

	/* NUL anywhere. */
	expect_n("a,b\nc,d\0e\n", 10, 0, "1-1[a|b] BAD:t.csv:2: field 2: NUL byte");
	expect_n("\0", 1, 0, "BAD:t.csv:1: field 1: NUL byte");
	expect_n("\"a\nb\0\"", 6, 0, "BAD:t.csv:2: field 1: NUL byte");
	expect_n("a,\0", 3, 1, "BAD:t.csv:1: field 2: NUL byte");
	expect_n("\"a\"\0", 4, 1, "BAD:t.csv:1: field 1: text after the closing quote");
}

/* For inputs that parse differently with and without the count check. */
static void
expect_counted(const char *data, int check_count, const char *expected)
{
	expect_n(data, strlen(data), check_count, expected);
}

static void
test_field_count(void)
{
	expect_counted("a,b,c,d\n1,2,3\n", 1,
		       "1-1[a|b|c|d] BAD:t.csv:2: expected 4 fields as in the header, found 3");
	expect_counted("a,b,c,d\n1,2,3\n", 0, "1-1[a|b|c|d] 2-2[1|2|3] EOF");
	expect_counted(
	    "a,b\n1,2\n1,2,3\n", 1,
	    "1-1[a|b] 2-2[1|2] BAD:t.csv:3: expected 2 fields as in the header, found 3");
	/* A trailing comma counts. */
	expect_counted("a,b\n1,2,\n", 1,
		       "1-1[a|b] BAD:t.csv:2: expected 2 fields as in the header, found 3");
	/* A record spanning lines is named by the line it starts on. */
	expect_counted("a,b\n\n\"x\ny\"\n", 1,
		       "1-1[a|b] BAD:t.csv:3: expected 2 fields as in the header, found 1");
	/* With one column, an empty line is skipped and "" is an empty field. */
	expect("email\n\nx\n\"\"\n", "1-1[email] 3-3[x] 4-4[] EOF");
}

/* ---- limits ---- */

static void
test_limits(void)
{
	struct buf in = BUF_INIT, want = BUF_INIT;
	char msg[128];

	/* Exactly CSV_MAX_FIELDS fields is fine, one more is not. */
	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		buf_append_str(&in, i ? ",x" : "x");
	buf_append_str(&in, "\n");
	buf_append_str(&want, "1-1[");
	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		buf_append_str(&want, i ? "|x" : "x");
	buf_append_str(&want, "] EOF");
	expect_n(in.data, in.len, 1, want.data);

	/* 1024 commas are 1025 fields. */
	buf_reset(&in);
	for (int i = 0; i < CSV_MAX_FIELDS; i++)
		buf_append_str(&in, ",");
	expect_n(in.data, in.len, 0,
		 "BAD:t.csv:1: field 1025: more than 1024 fields in one record");

	/* 2000 fields, on the second line. */
	buf_reset(&in);
	buf_append_str(&in, "h\n");
	for (int i = 0; i < 2000; i++)
		buf_printf(&in, "%s%d", i ? "," : "", i);
	expect_n(in.data, in.len, 0,
		 "1-1[h] BAD:t.csv:2: field 1025: more than 1024 fields in one record");

	/* A record of exactly CSV_MAX_RECORD bytes of content is fine. */
	buf_reset(&in);
	buf_append_char(&in, '"');
	for (int i = 0; i < CSV_MAX_RECORD - 2; i++)
		buf_append_char(&in, 'a');
	buf_append_str(&in, "\"\"\",b\n"); /* the "" is one byte of content */
	{
		struct source src = make_source(in.data, in.len, READ_RANDOM, 7);
		struct csv_reader *r = csv_open(source_read, &src, "big.csv", 1);
		struct csv_record rec;
		CHECK_INT_EQ(csv_next(r, &rec), CSV_RECORD);
		CHECK_INT_EQ(rec.nfields, 2);
		CHECK_INT_EQ(rec.lens[0], CSV_MAX_RECORD - 1);
		CHECK_INT_EQ(rec.fields[0][CSV_MAX_RECORD - 2], '"');
		CHECK_INT_EQ(strlen(rec.fields[0]), CSV_MAX_RECORD - 1);
		CHECK_STR_EQ(rec.fields[1], "b");
		CHECK_INT_EQ(csv_next(r, &rec), CSV_EOF);
		csv_close(r);
	}

	/* One byte more, in a huge unquoted field... */
	buf_reset(&in);
	buf_append_str(&in, "h\n");
	for (int i = 0; i < CSV_MAX_RECORD + 1; i++)
		buf_append_char(&in, 'a');
	buf_append_str(&in, "\n");
	expect_n(in.data, in.len, 0,
		 "1-1[h] BAD:t.csv:2: field 1: record longer than 1048576 bytes");

	/* ...or spread over fields, or over lines of a quoted field. */
	buf_reset(&in);
	for (int i = 0; i < CSV_MAX_RECORD / 2; i++)
		buf_append_char(&in, 'a');
	buf_append_str(&in, ",\"");
	for (int i = 0; i < CSV_MAX_RECORD / 2; i++)
		buf_append_str(&in, i % 1000 == 999 ? "\n" : "b");
	buf_append_str(&in, "\n\"\n");
	/* Field 2 starts on line 1 and holds 524 line feeds; the one ending
	 * line 525 is the byte too many. */
	snprintf(msg, sizeof msg, "BAD:t.csv:%d: field 2: record longer than 1048576 bytes",
		 1 + CSV_MAX_RECORD / 2 / 1000);
	expect_n(in.data, in.len, 0, msg);

	buf_free(&in);
	buf_free(&want);
}

/* ---- the source ---- */

static void
test_read_errors(void)
{
	const char *data = "a,b\nc,\"d\ne\"\nf,g\n";
	size_t len = strlen(data);
	struct parse_opts o = {1, 0};

	/* Fail at every offset, with reads of one byte: the records completed
	 * before the failing read are returned, then CSV_IO, for good. */
	for (size_t at = 0; at <= len; at++) {
		int violations = 0;
		char *got = parse_mode(data, len, READ_BYTE, 0, 0, at, &o, &violations);
		const char *want;
		if (at < 4)
			want = "IO:t.csv:1: read error: Input/output error";
		else if (at < 9)
			want = "1-1[a|b] IO:t.csv:2: read error: Input/output error";
		else if (at < 12)
			want = "1-1[a|b] IO:t.csv:3: read error: Input/output error";
		else if (at < 16)
			want = "1-1[a|b] 2-3[c|d\\ne] IO:t.csv:4: read error: Input/output error";
		else
			want = "1-1[a|b] 2-3[c|d\\ne] 4-4[f|g] IO:t.csv:5: read error: "
			       "Input/output error";
		CHECK_STR_EQ(got, want);
		CHECK_INT_EQ(violations, 0);
		free(got);
	}
}

/* A source that says it read more than it was asked for. */
static ssize_t
lying_read(void *ctx, void *dst, size_t len)
{
	return (ssize_t)len + 1;
}

static void
test_lying_source(void)
{
	struct csv_reader *r = csv_open(lying_read, NULL, "liar", 0);
	struct csv_record rec;

	CHECK_INT_EQ(csv_next(r, &rec), CSV_IO);
	CHECK_STR_EQ(csv_error(r), "liar:1: read error: source returned more than asked for");
	CHECK_INT_EQ(csv_next(r, &rec), CSV_IO);
	csv_close(r);
}

/* ---- field names ---- */

static void
test_field_names(void)
{
	const char *data = "email,name,city\nx@y,Ann,Paris\nz@w,Bob\n";
	struct source src = make_source(data, strlen(data), READ_WHOLE, 0);
	struct csv_reader *r = csv_open(source_read, &src, "list.csv", 1);
	struct csv_record rec;
	char *names[2];

	CHECK_STR_EQ(csv_error(r), "");
	CHECK_INT_EQ(csv_next(r, &rec), CSV_RECORD);
	/* Names are copied: the caller's may go away. */
	names[0] = xstrdup("email");
	names[1] = xstrdup("name");
	csv_set_field_names(r, names, 2);
	free(names[0]);
	free(names[1]);
	/* Setting them twice replaces them. */
	names[0] = "EMAIL";
	names[1] = "NAME";
	csv_set_field_names(r, names, 2);
	CHECK_INT_EQ(csv_next(r, &rec), CSV_RECORD);
	CHECK_STR_EQ(rec.fields[2], "Paris");
	CHECK_INT_EQ(csv_next(r, &rec), CSV_BAD);
	CHECK_STR_EQ(csv_error(r), "list.csv:3: expected 3 fields as in the header, found 2");
	CHECK_INT_EQ(rec.nfields, 0);
	csv_close(r);

	/* Fewer names than fields: the others go by number only. */
	expect_named("a\n\"x\"y", "1-1[a] BAD:t.csv:2: field 1 (a): text after the closing quote");
	{
		struct parse_opts o = {0, 1};
		const char *in = "a\nb,c\"";
		expect_opts(in, strlen(in), &o,
			    "1-1[a] BAD:t.csv:2: field 2: quote inside an unquoted field");
	}

	/* Names from the input are shown on one line, and cut when long. */
	expect_named("\"e\r\nmail\",x\n\"a\"b,c\n",
		     "1-2[e\\r\\nmail|x] BAD:t.csv:3: field 1 (e??mail): text after the closing "
		     "quote");
	expect_named("0123456789012345678901234567890123456789012345678901234567890123456789\n"
		     "\"a\"b\n",
		     "1-1[0123456789012345678901234567890123456789012345678901234567890123456789] "
		     "BAD:t.csv:2: field 1 "
		     "(0123456789012345678901234567890123456789012345678901234567890123...): text "
		     "after the closing quote");
	/* Cut on a character boundary: 63 ASCII bytes then a 2-byte character. */
	expect_named(
	    "012345678901234567890123456789012345678901234567890123456789012\xC3\xA9z\n"
	    "\"a\"b\n",
	    "1-1[012345678901234567890123456789012345678901234567890123456789012\xC3\xA9z] "
	    "BAD:t.csv:2: field 1 "
	    "(012345678901234567890123456789012345678901234567890123456789012...): text "
	    "after the closing quote");

	/* Clearing them. */
	src.pos = 0;
	src.saw_eof = 0;
	r = csv_open(source_read, &src, "list.csv", 1);
	csv_set_field_names(r, names, 2);
	csv_set_field_names(r, NULL, 0);
	CHECK_INT_EQ(csv_next(r, &rec), CSV_RECORD);
	CHECK_INT_EQ(csv_next(r, &rec), CSV_RECORD);
	CHECK_INT_EQ(csv_next(r, &rec), CSV_BAD);
	CHECK_STR_EQ(csv_error(r), "list.csv:3: expected 3 fields as in the header, found 2");
	csv_close(r);
	csv_close(NULL);
}

/* ---- record contents in detail ---- */

static void
test_record_contents(void)
{
	const char *data = "\357\273\277email,note\r\n"
			   "a@b,\"line1\r\nline2, \"\"quoted\"\"\"\r\n"
			   "\r\n"
			   "c@d,\r\n";
	struct source src = make_source(data, strlen(data), READ_BYTE, 0);
	struct csv_reader *r = csv_open(source_read, &src, "x", 1);
	struct csv_record rec;

	CHECK_INT_EQ(csv_next(r, &rec), CSV_RECORD);
	CHECK_INT_EQ(rec.nfields, 2);
	CHECK_STR_EQ(rec.fields[0], "email");
	CHECK_INT_EQ(rec.lens[0], 5);
	CHECK(rec.fields[2] == NULL);
	CHECK_INT_EQ(rec.line, 1);
	CHECK_INT_EQ(rec.end_line, 1);
	CHECK_INT_EQ(csv_next(r, &rec), CSV_RECORD);
	CHECK_STR_EQ(rec.fields[0], "a@b");
	CHECK_STR_EQ(rec.fields[1], "line1\r\nline2, \"quoted\"");
	CHECK_INT_EQ(rec.lens[1], 22);
	CHECK_INT_EQ(rec.line, 2);
	CHECK_INT_EQ(rec.end_line, 3);
	CHECK_INT_EQ(csv_next(r, &rec), CSV_RECORD);
	CHECK_STR_EQ(rec.fields[0], "c@d");
	CHECK_STR_EQ(rec.fields[1], "");
	CHECK_INT_EQ(rec.lens[1], 0);
	CHECK_INT_EQ(rec.line, 5);
	CHECK_INT_EQ(rec.end_line, 5);
	CHECK_INT_EQ(csv_next(r, &rec), CSV_EOF);
	CHECK_INT_EQ(rec.nfields, 0);
	CHECK_INT_EQ(csv_next(r, &rec), CSV_EOF);
	CHECK_STR_EQ(csv_error(r), "");
	csv_close(r);
}

/* ---- random round trips ---- */

/*
 * Writes random records as CSV, with quoting where needed and sometimes
 * where not, with LF or CRLF, sometimes blank lines and sometimes no
 * final line end; parsing must give back the records and their lines.
 */
static void
test_round_trip(void)
{
	static const char *const atoms[] = {
	    "a",
	    "b",
	    "x@example.com",
	    " ",
	    ",",
	    "\"",
	    "\r",
	    "\n",
	    "\r\n",
	    "\xC3\xA9",
	    "\xE2\x82\xAC",
	    "\xF0\x9F\x98\x80",
	    "|",
	    "\\",
	    "\t",
	    "1",
	};
	uint64_t rng = 42;
	int failures = 0;

	for (int round = 0; round < 200; round++) {
		struct buf in = BUF_INIT, want = BUF_INIT;
		size_t nrec = 1 + random_below(&rng, 20);
		size_t nf = 1 + random_below(&rng, 6);
		unsigned long line = 1;
		int crlf = (int)random_below(&rng, 2);

		for (size_t i = 0; i < nrec; i++) {
			unsigned long start;
			if (random_below(&rng, 8) == 0) {
				buf_append_str(&in, crlf ? "\r\n" : "\n");
				line++;
			}
			start = line;
			if (want.len)
				buf_append_char(&want, ' ');
			struct buf rendered = BUF_INIT;
			for (size_t f = 0; f < nf; f++) {
				struct buf field = BUF_INIT;
				size_t natoms = random_below(&rng, 5);
				for (size_t a = 0; a < natoms; a++)
					buf_append_str(&field,
						       atoms[random_below(
							   &rng, sizeof atoms / sizeof *atoms)]);
				const char *fd = buf_cstr(&field);
				int needs =
				    strpbrk(fd, ",\"\r\n") != NULL || (nf == 1 && field.len == 0);
				if (f)
					buf_append_char(&in, ',');
				if (needs || random_below(&rng, 4) == 0) {
					buf_append_char(&in, '"');
					for (size_t k = 0; k < field.len; k++) {
						if (fd[k] == '"')
							buf_append_char(&in, '"');
						if (fd[k] == '\n')
							line++;
						buf_append_char(&in, fd[k]);
					}
					buf_append_char(&in, '"');
				} else {
					buf_append(&in, fd, field.len);
				}
				if (f)
					buf_append_char(&rendered, '|');
				render_field(&rendered, fd, field.len);
				buf_free(&field);
			}
			buf_printf(&want, "%lu-%lu[%s]", start, line, buf_cstr(&rendered));
			buf_free(&rendered);
			if (i + 1 < nrec || random_below(&rng, 2)) {
				buf_append_str(&in, crlf ? "\r\n" : "\n");
				line++;
			}
		}
		buf_append_str(&want, " EOF");
		int before = check_failed_count;
		expect_n(buf_cstr(&in), in.len, 1, want.data);
		if (check_failed_count != before && failures++ < 3)
			fprintf(stderr, "  round trip %d input: %s\n", round, in.data);
		buf_free(&in);
		buf_free(&want);
	}
	CHECK_INT_EQ(failures, 0);
}

/* ---- a real file: the IANA registry, CRLF between records, LF inside ---- */

static void
test_corpus(void)
{
	const char *dir = getenv("MAILSHOT_CORPORA");
	char path[4096];
	FILE *f;
	struct buf data = BUF_INIT;
	char chunk[4096];
	size_t n;

	if (dir == NULL)
		dir = "../shared/corpora";
	snprintf(path, sizeof path, "%s/smtp-status/iana-smtp-enhanced-status-codes.csv", dir);
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "test_csv: note: %s not found, corpus test skipped\n", path);
		return;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&data, chunk, n);
	fclose(f);

	struct source src = make_source(data.data, data.len, READ_RANDOM, 3);
	struct csv_reader *r = csv_open(source_read, &src, path, 1);
	struct csv_record rec;
	size_t records = 0;
	char last[32] = "";
	unsigned long last_end = 0;
	enum csv_status st;

	while ((st = csv_next(r, &rec)) == CSV_RECORD) {
		if (records == 0) {
			CHECK_INT_EQ(rec.nfields, 7);
			CHECK_STR_EQ(rec.fields[0], "Code");
			csv_set_field_names(r, rec.fields, rec.nfields);
		}
		if (records == 1) {
			CHECK_STR_EQ(rec.fields[0], "X.0.0");
			CHECK_INT_EQ(rec.line, 2);
			CHECK_INT_EQ(rec.end_line, 4);
			CHECK(strstr(rec.fields[3], "undefined error code.\nIt should") != NULL);
		}
		snprintf(last, sizeof last, "%s", rec.fields[0]);
		last_end = rec.end_line;
		records++;
	}
	CHECK_INT_EQ(st, CSV_EOF);
	CHECK_INT_EQ(records, 80);
	CHECK_STR_EQ(last, "X.7.28");
	CHECK_INT_EQ(last_end, 312);
	csv_close(r);
	buf_free(&data);
}

int
main(void)
{
	test_basics();
	test_empty_fields_and_lines();
	test_quotes();
	test_bom();
	test_utf8();
	test_refusals();
	test_field_count();
	test_limits();
	test_read_errors();
	test_lying_source();
	test_field_names();
	test_record_contents();
	test_round_trip();
	test_corpus();
	return check_report("csv");
}
