/*
 * test_mime - unit tests for lib/mime.c.
 *
 * Known vectors (RFC 2045, 2047, 4648), boundaries at 75/76/78/998,
 * round trips over a deterministic pseudo-random set, and hostile input
 * (100 KB words and lines, invalid UTF-8, stray CR/LF).  Encoded-words
 * are checked with a small RFC 2047 decoder written here, independent
 * of the module, so the tests need nothing outside this file.
 */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "check.h"
#include "mime.h"

/* ---------------------------------------------------------------- */
/* Helpers                                                          */
/* ---------------------------------------------------------------- */

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static size_t
rng_below(size_t n)
{
	return (size_t)(rng_next() % n);
}

/*
 * Random bytes biased towards what matters to the encoders: line ends,
 * white space, '=', '.', "From ", UTF-8 and invalid high bytes.
 */
static size_t
random_text(char *dst, size_t max)
{
	/* clang-format off */
	static const char *const pieces[] = {
		"\n", "\r\n", "\r", " ", "\t", "=", ".", "From ", "=?", "?=", "_", "?", "\"",
		"\\", "(", ",", ";", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff",
		"\xc3", "\x80", "abc", "Z", "\0"};
	/* clang-format on */
	size_t len = rng_below(max + 1), n = 0;
	while (n < len) {
		if (rng_below(3) == 0) {
			dst[n++] = (char)rng_below(256);
			continue;
		}
		const char *p = pieces[rng_below(sizeof pieces / sizeof pieces[0])];
		size_t pl = p[0] ? strlen(p) : 1;
		if (n + pl > len)
			break;
		memcpy(dst + n, p, pl);
		n += pl;
	}
	return n;
}

/* Every line ends in CRLF, no bare CR or LF, none longer than max. */
static int
lines_ok(const char *s, size_t n, size_t max, int need_final_crlf)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return 0;
			i++;
			col = 0;
		} else if (s[i] == '\n') {
			return 0;
		} else if (++col > max) {
			return 0;
		}
	}
	return !need_final_crlf || n == 0 || (n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n');
}

static size_t
longest_line(const char *s, size_t n)
{
	size_t col = 0, max = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n') {
			col = 0;
			continue;
		}
		if (++col > max)
			max = col;
	}
	return max;
}

static int
all_7bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* s with each CRLF turned into LF: what QP decoding must give back. */
static void
lf_normalize(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		buf_append_char(out, s[i]);
	}
}

static int
mem_eq(const struct buf *b, const char *s, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, s, n) == 0);
}

static void
trim(const char **s, size_t *n, int with_crlf)
{
	while (*n > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t' ||
			  (with_crlf && ((*s)[0] == '\r' || (*s)[0] == '\n'))))
		(*s)++, (*n)--;
	while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
			  (with_crlf && ((*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))))
		(*n)--;
}

/* An independent base64 decoder for encoded-words (strict, padded). */
static int
test_b64_decode(const char *s, size_t n, struct buf *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pads = 0;
		for (int k = 0; k < 4; k++) {
			const char *p = s[i + k] ? strchr(alphabet, s[i + k]) : NULL;
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pads++;
			} else if (p == NULL || pads) {
				return -1;
			} else {
				v[k] = (int)(p - alphabet);
			}
		}
		unsigned acc = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
		buf_append_char(out, (char)(acc >> 16));
		if (pads < 2)
			buf_append_char(out, (char)(acc >> 8));
		if (pads < 1)
			buf_append_char(out, (char)acc);
	}
	return 0;
}

static int
hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* we write upper case only */
}

struct ew_stats {
	int words;
	int too_long;
	int invalid_utf8;  /* words whose own payload is not valid UTF-8 */
	int phrase_unsafe; /* Q words using octets RFC 2047 5(3) forbids */
};

/*
 * Decodes token t if it is an encoded-word: 1 decoded, 0 not one, -1
 * one that is malformed.
 */
static int
ew_decode(const char *t, size_t n, struct buf *out, struct ew_stats *st)
{
	if (n < 8 || memcmp(t, "=?", 2) != 0 || memcmp(t + n - 2, "?=", 2) != 0)
		return 0;
	if (n < 12 || strncasecmp(t, "=?UTF-8?", 8) != 0 || t[9] != '?')
		return -1;
	char enc = t[8];
	const char *p = t + 10;
	size_t pn = n - 12;
	size_t start = out->len;

	st->words++;
	if (n > 75)
		st->too_long++;
	if (enc == 'B' || enc == 'b') {
		if (test_b64_decode(p, pn, out) < 0)
			return -1;
	} else if (enc == 'Q' || enc == 'q') {
		for (size_t i = 0; i < pn; i++) {
			char c = p[i];
			if (c == '=') {
				if (i + 2 >= pn)
					return -1;
				int hi = hexdigit(p[i + 1]), lo = hexdigit(p[i + 2]);
				if (hi < 0 || lo < 0)
					return -1;
				buf_append_char(out, (char)(hi << 4 | lo));
				i += 2;
			} else if (c == '_') {
				buf_append_char(out, ' ');
			} else if (c <= ' ' || c >= 127 || c == '?') {
				return -1;
			} else {
				if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				      (c >= '0' && c <= '9') || strchr("!*+-/", c)))
					st->phrase_unsafe++;
				buf_append_char(out, c);
			}
		}
	} else {
		return -1;
	}
	if (!utf8_valid(out->data + start, out->len - start))
		st->invalid_utf8++;
	return 1;
}

/*
 * RFC 2047 6.2: decodes the encoded-words among the white-space
 * separated tokens of an unfolded value; white space between two
 * encoded-words is dropped, all other text is kept.
 */
static int
header_decode(const char *s, size_t n, struct buf *out, struct ew_stats *st)
{
	size_t i = 0;
	int prev_ew = 0;
	while (i < n) {
		size_t ws = i;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t tok = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		if (tok == i) {
			buf_append(out, s + ws, tok - ws);
			break;
		}
		struct buf word = BUF_INIT;
		int r = ew_decode(s + tok, i - tok, &word, st);
		if (r < 0) {
			buf_free(&word);
			return -1;
		}
		if (!(r == 1 && prev_ew))
			buf_append(out, s + ws, tok - ws);
		if (r == 1)
			buf_append(out, word.data, word.len);
		else
			buf_append(out, s + tok, i - tok);
		buf_free(&word);
		prev_ew = r == 1;
	}
	return 0;
}

/*
 * Unfolds a header field: every CRLF but the last must be followed by
 * white space, and no continuation line may be white space only.
 */
static int
unfold(const char *s, size_t n, struct buf *out)
{
	if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
		return -1;
	n -= 2;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 2 >= n || s[i + 1] != '\n' || (s[i + 2] != ' ' && s[i + 2] != '\t'))
				return -1;
			size_t j = i + 2;
			while (j < n && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j == n || s[j] == '\r')
				return -1;
			i++;
			continue;
		}
		if (s[i] == '\n')
			return -1;
		buf_append_char(out, s[i]);
	}
	return 0;
}

/* A line over 78 octets must hold a single unit: it could not be folded. */
static int
long_lines_are_single_units(const char *s, size_t n, size_t name_len)
{
	size_t line = 0, first = 1;
	while (line < n) {
		const char *e = memchr(s + line, '\r', n - line);
		size_t len = (size_t)(e - (s + line));
		if (len > 78) {
			size_t i = line + (first ? name_len + 1 : 0);
			size_t end = line + len;
			while (i < end && (s[i] == ' ' || s[i] == '\t'))
				i++;
			while (i < end)
				if (s[i++] == ' ')
					return 0;
		}
		first = 0;
		line += len + 2;
	}
	return 1;
}

/*
 * Checks every promise of mime_header_unstructured() for one value.
 * strict_utf8: each encoded-word alone must be valid UTF-8 (when the
 * value is).
 */
static int
check_unstructured(const char *name, const char *value, size_t len, struct ew_stats *st_out)
{
	struct buf out = BUF_INIT, unfolded = BUF_INIT, decoded = BUF_INIT;
	struct ew_stats st = {0};
	size_t name_len = strlen(name);
	int ok = 1;

	mime_header_unstructured(&out, name, value, len);
	if (!lines_ok(out.data, out.len, 998, 1)) {
		fprintf(stderr, "  lines over 998 or bad line ends\n");
		ok = 0;
	}
	if (!all_7bit(out.data, out.len)) {
		fprintf(stderr, "  8-bit output\n");
		ok = 0;
	}
	if (!long_lines_are_single_units(out.data, out.len, name_len)) {
		fprintf(stderr, "  a line over 78 that could have been folded\n");
		ok = 0;
	}
	if (out.len < name_len + 1 || memcmp(out.data, name, name_len) != 0 ||
	    out.data[name_len] != ':' || unfold(out.data, out.len, &unfolded) < 0) {
		fprintf(stderr, "  not a well-folded field\n");
		ok = 0;
	} else {
		const char *v = value;
		size_t vn = len;
		trim(&v, &vn, 0);
		const char *u = unfolded.data + name_len + 1;
		size_t un = unfolded.len - name_len - 1;
		if (vn > 0 && (un == 0 || u[0] != ' ')) {
			fprintf(stderr, "  no space after the colon\n");
			ok = 0;
		} else if (header_decode(u + (vn > 0), un - (vn > 0), &decoded, &st) < 0) {
			fprintf(stderr, "  malformed encoded-word\n");
			ok = 0;
		} else if (!mem_eq(&decoded, v, vn)) {
			fprintf(stderr, "  decodes to something else\n");
			ok = 0;
		}
		if (st.too_long) {
			fprintf(stderr, "  encoded-word over 75 octets\n");
			ok = 0;
		}
		if (utf8_valid(value, len) && st.invalid_utf8) {
			fprintf(stderr, "  a UTF-8 character cut across encoded-words\n");
			ok = 0;
		}
	}
	if (!ok)
		fprintf(stderr, "  output (%zu octets): %.300s\n", out.len, buf_cstr(&out));
	if (st_out)
		*st_out = st;
	buf_free(&out);
	buf_free(&unfolded);
	buf_free(&decoded);
	return ok;
}

/* Undoes a quoted-string; -1 if it is not exactly one. */
static int
unquote(const char *s, size_t n, struct buf *out)
{
	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -1;
	for (size_t i = 1; i + 1 < n; i++) {
		if (s[i] == '"')
			return -1;
		if (s[i] == '\\') {
			if (++i + 1 >= n)
				return -1;
		}
		buf_append_char(out, s[i]);
	}
	return 0;
}

/* Checks what mime_encode_phrase() promises for one display name. */
static int
check_phrase(const char *s, size_t len)
{
	struct buf out = BUF_INIT, decoded = BUF_INIT;
	struct ew_stats st = {0};
	int ok = 1;
	const char *v = s;
	size_t vn = len;

	trim(&v, &vn, 0);
	mime_encode_phrase(&out, s, len);
	if (!all_7bit(out.data, out.len) || memchr(out.data, '\r', out.len) ||
	    memchr(out.data, '\n', out.len)) {
		fprintf(stderr, "  phrase: not one 7-bit line\n");
		ok = 0;
	}
	/*
	 * Each white-space run and the token after it fits on a 78 line,
	 * the first token after "Reply-To: ".
	 */
	for (size_t i = 0; i < out.len;) {
		size_t start = i;
		while (i < out.len && (out.data[i] == ' ' || out.data[i] == '\t'))
			i++;
		while (i < out.len && out.data[i] != ' ' && out.data[i] != '\t')
			i++;
		if (i - start > (start == 0 ? 68 : 77)) {
			fprintf(stderr, "  phrase: piece of %zu octets\n", i - start);
			ok = 0;
		}
	}
	if (out.len > 0 && out.data[0] == '"') {
		if (unquote(out.data, out.len, &decoded) < 0) {
			fprintf(stderr, "  phrase: bad quoted-string\n");
			ok = 0;
		}
	} else if (header_decode(out.data, out.len, &decoded, &st) < 0) {
		fprintf(stderr, "  phrase: malformed encoded-word\n");
		ok = 0;
	}
	if (ok && !mem_eq(&decoded, v, vn)) {
		fprintf(stderr, "  phrase: decodes to something else\n");
		ok = 0;
	}
	if (st.too_long || st.phrase_unsafe) {
		fprintf(stderr, "  phrase: encoded-word too long or unsafe in a phrase\n");
		ok = 0;
	}
	if (utf8_valid(s, len) && st.invalid_utf8) {
		fprintf(stderr, "  phrase: UTF-8 character cut\n");
		ok = 0;
	}

	/* As the caller uses it: inside a structured address header. */
	struct buf value = BUF_INIT, field = BUF_INIT;
	buf_append(&value, out.data, out.len);
	buf_append_str(&value, " <someone@example.com>");
	mime_header_structured(&field, "Reply-To", value.data, value.len);
	if (!lines_ok(field.data, field.len, 78, 1)) {
		fprintf(stderr, "  phrase: Reply-To: header not foldable to 78\n");
		ok = 0;
	}
	if (!ok)
		fprintf(stderr, "  phrase output: %.300s\n", buf_cstr(&out));
	buf_free(&value);
	buf_free(&field);
	buf_free(&out);
	buf_free(&decoded);
	return ok;
}

/* ---------------------------------------------------------------- */
/* UTF-8 and 8-bit                                                  */
/* ---------------------------------------------------------------- */

static int
utf8(const char *s)
{
	return utf8_valid(s, strlen(s));
}

static void
test_utf8(void)
{
	CHECK(utf8_valid("", 0));
	CHECK(utf8("plain ascii"));
	CHECK(utf8("J\xc3\xb8rn"));
	CHECK(utf8("\xe2\x82\xac"));	  /* U+20AC */
	CHECK(utf8("\xef\xbf\xbf"));	  /* U+FFFF */
	CHECK(utf8("\xed\x9f\xbf"));	  /* U+D7FF, just below the surrogates */
	CHECK(utf8("\xee\x80\x80"));	  /* U+E000, just above */
	CHECK(utf8("\xf0\x90\x80\x80"));  /* U+10000 */
	CHECK(utf8("\xf4\x8f\xbf\xbf"));  /* U+10FFFF */
	CHECK(utf8_valid("a\0b", 3));	  /* NUL is a valid character */
	CHECK(!utf8("\xc0\x80"));	  /* overlong NUL */
	CHECK(!utf8("\xc1\xbf"));	  /* overlong */
	CHECK(!utf8("\xe0\x80\x80"));	  /* overlong */
	CHECK(!utf8("\xe0\x9f\xbf"));	  /* overlong U+07FF */
	CHECK(!utf8("\xf0\x80\x80\x80")); /* overlong */
	CHECK(!utf8("\xf0\x8f\xbf\xbf")); /* overlong U+FFFF */
	CHECK(!utf8("\xed\xa0\x80"));	  /* U+D800 */
	CHECK(!utf8("\xed\xbf\xbf"));	  /* U+DFFF */
	CHECK(!utf8("\xf4\x90\x80\x80")); /* U+110000 */
	CHECK(!utf8("\xf5\x80\x80\x80"));
	CHECK(!utf8("\xff"));
	CHECK(!utf8("\xfe"));
	CHECK(!utf8("\x80"));	  /* lone continuation */
	CHECK(!utf8("\xe2\x82")); /* truncated */
	CHECK(!utf8("a\xe2\x82"));
	CHECK(!utf8("\xf0\x9f\x98"));
	CHECK(!utf8("\xc3\x28")); /* bad continuation */
	CHECK(!utf8("\xe2\x28\xa1"));
	CHECK(!utf8_valid("\xc3\xa9", 1)); /* cut by len */

	CHECK(!mime_has_8bit("", 0));
	CHECK(!mime_has_8bit("abc\x7f", 4));
	CHECK(mime_has_8bit("ab\x80", 3));
	CHECK(mime_has_8bit("\xff", 1));
}

static void
test_needs_encoding(void)
{
	char line[2100];
	memset(line, 'a', sizeof line);

	CHECK(!mime_body_needs_encoding("", 0));
	CHECK(!mime_body_needs_encoding("hello\r\nworld\n", 13));
	CHECK(!mime_body_needs_encoding(line, 998));
	CHECK(mime_body_needs_encoding(line, 999));
	memcpy(line + 998, "\r\n", 2);
	CHECK(!mime_body_needs_encoding(line, 1000)); /* 998, CRLF */
	CHECK(!mime_body_needs_encoding(line, 1998)); /* 998, CRLF, 998 */
	CHECK(mime_body_needs_encoding(line, 1999));
	line[998] = '\n';
	line[999] = 'a';
	CHECK(!mime_body_needs_encoding(line, 1997)); /* 998, LF, 998 */
	CHECK(mime_body_needs_encoding(line, 1998));
	CHECK(mime_body_needs_encoding("a\rb", 3));
	CHECK(mime_body_needs_encoding("a\r", 2));
	CHECK(mime_body_needs_encoding("a\r\r\n", 4));
	CHECK(mime_body_needs_encoding("a\0b", 3));
	CHECK(mime_body_needs_encoding("caf\xc3\xa9", 5));
	CHECK(!mime_body_needs_encoding("tab\there\x7f", 9));
}

/* ---------------------------------------------------------------- */
/* Bodies                                                           */
/* ---------------------------------------------------------------- */

static void
expect_crlf(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT;
	mime_crlf(&b, in, n);
	CHECK_STR_EQ(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_crlf(void)
{
	expect_crlf("", 0, "");
	expect_crlf("a", 1, "a");
	expect_crlf("a\nb\n", 4, "a\r\nb\r\n");
	expect_crlf("a\r\nb\r\n", 6, "a\r\nb\r\n");
	expect_crlf("a\rb", 3, "a\r\nb");
	expect_crlf("a\r", 2, "a\r\n");
	expect_crlf("\r\r\n\n", 4, "\r\n\r\n\r\n");
	expect_crlf("\n\r", 2, "\r\n\r\n");

	/* 998 stays whole; a longer line is broken at 998. */
	struct buf b = BUF_INIT;
	char *big = xmalloc(100000);
	memset(big, 'x', 100000);
	mime_crlf(&b, big, 998);
	CHECK_INT_EQ(b.len, 998);
	buf_reset(&b);
	mime_crlf(&b, big, 999);
	CHECK_INT_EQ(b.len, 1001);
	CHECK(lines_ok(b.data, b.len, 998, 0));
	buf_reset(&b);
	mime_crlf(&b, big, 100000);
	CHECK(lines_ok(b.data, b.len, 998, 0));
	CHECK_INT_EQ(b.len, 100000 + 2 * (100000 / 998));
	CHECK_INT_EQ(longest_line(b.data, b.len), 998);

	/* Appends, does not replace. */
	buf_reset(&b);
	buf_append_str(&b, "head:");
	mime_crlf(&b, "x\n", 2);
	CHECK_STR_EQ(buf_cstr(&b), "head:x\r\n");
	free(big);
	buf_free(&b);
}

static void
expect_qp(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT;
	mime_qp_encode(&b, in, n);
	CHECK_STR_EQ(buf_cstr(&b), want);
	buf_free(&b);
}

static void
expect_qp_str(const char *in, const char *want)
{
	expect_qp(in, strlen(in), want);
}

static void
expect_unqp(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	CHECK_INT_EQ(mime_qp_decode(&b, in, strlen(in)), 0);
	CHECK_STR_EQ(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_qp_vectors(void)
{
	char a[200], want[400];

	expect_qp_str("", "");
	expect_qp_str("hello", "hello");
	expect_qp_str("a=b", "a=3Db");
	expect_qp_str("caf\xc3\xa9", "caf=C3=A9");
	expect_qp_str("tab\there\tend\t\n", "tab\there\tend=09\r\n");
	expect_qp_str("space \n", "space=20\r\n");
	expect_qp_str("end ", "end=20");
	expect_qp_str("two  spaces", "two  spaces");
	expect_qp_str(" \n \r\n", "=20\r\n=20\r\n");
	expect_qp_str("a\nb\r\nc", "a\r\nb\r\nc");
	expect_qp_str("\n\n", "\r\n\r\n");
	expect_qp_str("a\rb", "a=0Db");
	expect_qp_str("a\r", "a=0D");
	expect_qp_str("a\r\r\n", "a=0D\r\n");
	expect_qp(" \0\x1b\x7f~!", 6, " =00=1B=7F~!");
	expect_qp_str(".\n", "=2E\r\n");
	expect_qp_str(".", "=2E");
	expect_qp_str("..x\n.y", "=2E.x\r\n=2Ey");
	expect_qp_str("a.b", "a.b");
	expect_qp_str("From me\n", "=46rom me\r\n");
	expect_qp_str("x\nFrom here", "x\r\n=46rom here");
	expect_qp_str("From", "From");
	expect_qp_str("Fromage", "Fromage");
	expect_qp_str("a From b", "a From b");

	/* 76 fits on one line; 77 needs a soft break after 75. */
	memset(a, 'a', sizeof a);
	memcpy(want, a, 76);
	want[76] = '\0';
	expect_qp(a, 76, want);
	memcpy(want, a, 75);
	memcpy(want + 75, "=\r\naa", 6);
	expect_qp(a, 77, want);
	/* 76 then a line end: still one line. */
	memcpy(a + 76, "\nb", 2);
	memcpy(want, a, 76);
	memcpy(want + 76, "\r\nb", 4);
	expect_qp(a, 78, want);
	memset(a, 'a', sizeof a);

	/* An escape never straddles a soft break. */
	a[74] = '=';
	memcpy(want, a, 74);
	memcpy(want + 74, "=\r\n=3D", 7);
	expect_qp(a, 75, want);
	a[74] = '\xe9';
	memcpy(want, a, 74);
	memcpy(want + 74, "=\r\n=E9a", 8);
	expect_qp(a, 76, want);
	a[72] = '=';
	a[73] = 'a';
	a[74] = 'a';
	memcpy(want, a, 72);
	memcpy(want + 72, "=3D=\r\naaa", 10);
	expect_qp(a, 76, want); /* "=3D" ends at 75, then '=' at 76 */
	memset(a, 'a', sizeof a);

	/* Trailing space exactly at the limit. */
	a[75] = ' ';
	memcpy(want, a, 75);
	memcpy(want + 75, "=\r\n=20", 7);
	expect_qp(a, 76, want);
	memset(a, 'a', sizeof a);
	a[73] = ' ';
	memcpy(want, a, 73);
	memcpy(want + 73, "=20", 4);
	expect_qp(a, 74, want); /* 76 exactly */

	/* What a soft break leaves at the start of a line is protected too. */
	memcpy(a + 75, ".b", 2);
	memcpy(want, a, 75);
	memcpy(want + 75, "=\r\n=2Eb", 8);
	expect_qp(a, 77, want);
	memcpy(a + 75, "From x", 6);
	memcpy(want, a, 75);
	memcpy(want + 75, "=\r\n=46rom x", 12);
	expect_qp(a, 81, want);

	expect_unqp("", "");
	expect_unqp("a=3Db", "a=b");
	expect_unqp("a=3db=c3=A9", "a=b\xc3\xa9");
	expect_unqp("soft=\r\nbreak", "softbreak");
	expect_unqp("soft=\nbreak", "softbreak");
	expect_unqp("soft= \t\r\nbreak", "softbreak");
	expect_unqp("trailing  \r\nspace\t", "trailing\nspace");
	expect_unqp("kept=20\r\n", "kept \n");
	expect_unqp("a=zzb", "a=zzb");
	expect_unqp("a=4", "a=4");
	expect_unqp("a==41", "a=A");
	expect_unqp("end=", "end");
	expect_unqp("=\r\n", "");
	expect_unqp("a\r\nb\r\n", "a\nb\n");
	expect_unqp("bare\rcr", "bare\rcr");
	expect_unqp("=2E\r\n=46rom", ".\nFrom");
}

/* Properties of QP output, for any input. */
static int
qp_output_ok(const char *s, size_t n)
{
	if (!lines_ok(s, n, 76, 0) || !all_7bit(s, n))
		return 0;
	for (size_t i = 0; i < n;) {
		const char *e = memchr(s + i, '\r', n - i);
		size_t len = e ? (size_t)(e - (s + i)) : n - i;
		if (len > 0 && (s[i + len - 1] == ' ' || s[i + len - 1] == '\t'))
			return 0;
		if (len > 0 && s[i] == '.')
			return 0;
		if (len >= 5 && memcmp(s + i, "From ", 5) == 0)
			return 0;
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)s[i + k];
			if (c < 32 && c != '\t')
				return 0;
			/* every '=' starts an escape or is the final soft break */
			if (c == '=' && k + 1 != len &&
			    (k + 2 >= len || hexdigit(s[i + k + 1]) < 0 ||
			     hexdigit(s[i + k + 2]) < 0))
				return 0;
		}
		i += len + 2;
	}
	return 1;
}

static void
test_qp_round_trip(void)
{
	char in[700];
	int bad_output = 0, bad_trip = 0;

	for (int round = 0; round < 3000; round++) {
		size_t n = random_text(in, sizeof in);
		struct buf enc = BUF_INIT, dec = BUF_INIT, want = BUF_INIT;
		mime_qp_encode(&enc, in, n);
		mime_qp_decode(&dec, enc.data, enc.len);
		lf_normalize(&want, in, n);
		if (!qp_output_ok(enc.data, enc.len))
			bad_output++;
		if (!mem_eq(&dec, want.data, want.len))
			bad_trip++;
		buf_free(&enc);
		buf_free(&dec);
		buf_free(&want);
	}
	CHECK_INT_EQ(bad_output, 0);
	CHECK_INT_EQ(bad_trip, 0);

	/* Every single byte value, alone, at line start, and at end of line. */
	bad_output = bad_trip = 0;
	for (int c = 0; c < 256; c++) {
		char s[4] = {(char)c, (char)c, '\n', (char)c};
		for (size_t n = 1; n <= 4; n++) {
			struct buf enc = BUF_INIT, dec = BUF_INIT, want = BUF_INIT;
			mime_qp_encode(&enc, s, n);
			mime_qp_decode(&dec, enc.data, enc.len);
			lf_normalize(&want, s, n);
			bad_output += !qp_output_ok(enc.data, enc.len);
			bad_trip += !mem_eq(&dec, want.data, want.len);
			buf_free(&enc);
			buf_free(&dec);
			buf_free(&want);
		}
	}
	CHECK_INT_EQ(bad_output, 0);
	CHECK_INT_EQ(bad_trip, 0);

	/* Hostile: a 100 KB line of binary, and one of spaces. */
	char *big = xmalloc(100000);
	for (size_t i = 0; i < 100000; i++)
		big[i] = (char)(rng_next() >> 7);
	for (int pass = 0; pass < 2; pass++) {
		struct buf enc = BUF_INIT, dec = BUF_INIT;
		mime_qp_encode(&enc, big, 100000);
		CHECK(qp_output_ok(enc.data, enc.len));
		mime_qp_decode(&dec, enc.data, enc.len);
		CHECK(mem_eq(&dec, big, 100000) || pass == 0); /* pass 0 has CRLFs */
		buf_free(&enc);
		buf_free(&dec);
		memset(big, ' ', 100000);
	}
	free(big);
}

static void
expect_b64(const char *in, size_t n, const char *want)
{
	struct buf b = BUF_INIT;
	mime_base64_encode(&b, in, n);
	CHECK_STR_EQ(buf_cstr(&b), want);
	buf_free(&b);
}

static void
expect_unb64(const char *in, int rc, const char *want)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "pre:");
	CHECK_INT_EQ(mime_base64_decode(&b, in, strlen(in)), rc);
	CHECK_STR_EQ(buf_cstr(&b), want);
	buf_free(&b);
}

static void
test_base64(void)
{
	/* RFC 4648 10 */
	expect_b64("", 0, "");
	expect_b64("f", 1, "Zg==\r\n");
	expect_b64("fo", 2, "Zm8=\r\n");
	expect_b64("foo", 3, "Zm9v\r\n");
	expect_b64("foob", 4, "Zm9vYg==\r\n");
	expect_b64("fooba", 5, "Zm9vYmE=\r\n");
	expect_b64("foobar", 6, "Zm9vYmFy\r\n");
	expect_b64("\0\xff\xfe", 3, "AP/+\r\n");

	/* 57 octets make exactly one 76-character line. */
	char in[200];
	memset(in, 'M', sizeof in);
	struct buf b = BUF_INIT;
	mime_base64_encode(&b, in, 57);
	CHECK_INT_EQ(b.len, 78);
	CHECK(lines_ok(b.data, b.len, 76, 1));
	buf_reset(&b);
	mime_base64_encode(&b, in, 58);
	CHECK_INT_EQ(b.len, 78 + 6);
	CHECK(lines_ok(b.data, b.len, 76, 1));
	CHECK_INT_EQ(longest_line(b.data, b.len), 76);
	buf_free(&b);

	expect_unb64("Zm9vYmFy", 0, "pre:foobar");
	expect_unb64("Zm9vYg==", 0, "pre:foob");
	expect_unb64("Zm9vYmE=", 0, "pre:fooba");
	expect_unb64("Zm9vYg", 0, "pre:foob"); /* padding left out */
	expect_unb64("Zm9vYmE", 0, "pre:fooba");
	expect_unb64(" Zm9v\r\nYm\tFy \r\n", 0, "pre:foobar");
	expect_unb64("Zm9vYg=\r\n=\r\n", 0, "pre:foob");
	expect_unb64("", 0, "pre:");
	expect_unb64("\r\n", 0, "pre:");
	expect_unb64("Zm9v!", -1, "pre:");
	expect_unb64("Zm9vY", -1, "pre:"); /* a lone sextet */
	expect_unb64("Zg=", -1, "pre:");   /* half the padding */
	expect_unb64("Zg===", -1, "pre:");
	expect_unb64("Zm9=v", -1, "pre:"); /* data after padding */
	expect_unb64("Zg==Zg==", -1, "pre:");
	expect_unb64("=Zg", -1, "pre:");
	expect_unb64("Z===", -1, "pre:");
	expect_unb64("Zm9v-_", -1, "pre:"); /* base64url is not base64 */
	expect_unb64("Zm9v\x80", -1, "pre:");

	int bad = 0;
	for (int round = 0; round < 2000; round++) {
		size_t n = rng_below(400);
		for (size_t i = 0; i < n; i++)
			in[i % sizeof in] = (char)rng_next();
		n %= sizeof in;
		struct buf enc = BUF_INIT, dec = BUF_INIT;
		mime_base64_encode(&enc, in, n);
		if (!lines_ok(enc.data, enc.len, 76, 1) || !all_7bit(enc.data, enc.len))
			bad++;
		if (mime_base64_decode(&dec, enc.data, enc.len) != 0 || !mem_eq(&dec, in, n))
			bad++;
		buf_free(&enc);
		buf_free(&dec);
	}
	CHECK_INT_EQ(bad, 0);
}

/* ---------------------------------------------------------------- */
/* Headers                                                          */
/* ---------------------------------------------------------------- */

static void
expect_unstructured(const char *name, const char *value, const char *want)
{
	struct buf b = BUF_INIT;
	mime_header_unstructured(&b, name, value, strlen(value));
	CHECK_STR_EQ(buf_cstr(&b), want);
	CHECK(check_unstructured(name, value, strlen(value), NULL));
	buf_free(&b);
}

static void
test_unstructured_vectors(void)
{
	expect_unstructured("Subject", "Hello world", "Subject: Hello world\r\n");
	expect_unstructured("Subject", "", "Subject:\r\n");
	expect_unstructured("Subject", " \t ", "Subject:\r\n");
	expect_unstructured("Subject", "  padded\t ", "Subject: padded\r\n");
	expect_unstructured("Subject", "two  spaces\tand tab", "Subject: two  spaces\tand tab\r\n");
	/* ASCII that is not an encoded-word stays as it is. */
	expect_unstructured("Subject", "a_b?c=d (x) \"q\" 100%",
			    "Subject: a_b?c=d (x) \"q\" 100%\r\n");
	/* B is shorter here, Q there. */
	expect_unstructured("Subject", "caf\xc3\xa9", "Subject: =?UTF-8?B?Y2Fmw6k=?=\r\n");
	expect_unstructured("Subject",
			    "\xc3\x9c"
			    "berraschungsparty",
			    "Subject: =?UTF-8?Q?=C3=9Cberraschungsparty?=\r\n");
	/* Only the non-ASCII word is encoded; plain words around it stay. */
	expect_unstructured("Subject", "Hello J\xc3\xb8rn, how are you",
			    "Subject: Hello =?UTF-8?B?SsO4cm4s?= how are you\r\n");
	/* Two encoded words: the space between them goes inside. */
	expect_unstructured("Subject", "\xc3\xa9t\xc3\xa9 \xc3\xa0 Paris",
			    "Subject: =?UTF-8?B?w6l0w6kgw6A=?= Paris\r\n");
	/* Extra white space next to an encoded word goes inside it. */
	expect_unstructured("Subject", "a   \xc3\xa9   b", "Subject: a =?UTF-8?B?ICDDqSAg?= b\r\n");
	/* Text that looks like an encoded-word is encoded. */
	expect_unstructured("Subject",
			    "=?utf-8?q?hi?=", "Subject: =?UTF-8?B?PT91dGYtOD9xP2hpPz0=?=\r\n");
	expect_unstructured("Subject", "x=?y", "Subject: =?UTF-8?Q?x=3D=3Fy?=\r\n");
	/* Control characters and stray line ends are encoded, never raw. */
	expect_unstructured("Subject", "a\r\nBcc: x", "Subject: =?UTF-8?Q?a=0D=0ABcc:?= x\r\n");
	expect_unstructured("Subject", "tab\x01", "Subject: =?UTF-8?Q?tab=01?=\r\n");
	/* Invalid UTF-8 goes in as it is. */
	expect_unstructured("Subject", "bad\xff", "Subject: =?UTF-8?Q?bad=FF?=\r\n");

	/* Folding at white space, 78 at most. */
	struct buf b = BUF_INIT;
	const char *words = "The quick brown fox jumps over the lazy dog and keeps running "
			    "far beyond the end of the first line of this header";
	mime_header_unstructured(&b, "Subject", words, strlen(words));
	CHECK_STR_EQ(buf_cstr(&b),
		     "Subject: The quick brown fox jumps over the lazy dog and keeps "
		     "running far\r\n beyond the end of the first line of this header\r\n");
	CHECK(check_unstructured("Subject", words, strlen(words), NULL));
	buf_free(&b);
}

static void
test_unstructured_boundaries(void)
{
	char *v = xmalloc(200000);
	struct buf b = BUF_INIT;
	struct ew_stats st;

	/* A 997-octet word fits a continuation line after its space. */
	memcpy(v, "short ", 6);
	memset(v + 6, 'x', 997);
	mime_header_unstructured(&b, "Subject", v, 6 + 997);
	CHECK_INT_EQ(b.len, strlen("Subject: short") + 2 + 1 + 997 + 2);
	CHECK(memmem(b.data, b.len, "=?", 2) == NULL);
	CHECK_INT_EQ(longest_line(b.data, b.len), 998);
	CHECK(check_unstructured("Subject", v, 6 + 997, &st));
	CHECK_INT_EQ(st.words, 0);
	/* 998 does not: encoded-words. */
	buf_reset(&b);
	memset(v + 6, 'x', 998);
	CHECK(check_unstructured("Subject", v, 6 + 998, &st));
	CHECK(st.words > 0);
	mime_header_unstructured(&b, "Subject", v, 6 + 998);
	CHECK(lines_ok(b.data, b.len, 78, 1));

	/* First word: on the "Subject:" line up to 998, then on its own. */
	buf_reset(&b);
	memset(v, 'y', 989);
	mime_header_unstructured(&b, "Subject", v, 989);
	CHECK_INT_EQ(longest_line(b.data, b.len), 998);
	CHECK(memcmp(b.data, "Subject: yyy", 12) == 0);
	buf_reset(&b);
	mime_header_unstructured(&b, "Subject", v, 990);
	CHECK(memcmp(b.data, "Subject:\r\n yyy", 14) == 0);
	CHECK(check_unstructured("Subject", v, 990, &st));
	CHECK_INT_EQ(st.words, 0);

	/* Encoded-words fill lines to 78 and are at most 75. */
	for (size_t n = 0; n < 300; n += 2) {
		memcpy(v + n, "\xc3\xa9", 2);
		buf_reset(&b);
		mime_header_unstructured(&b, "Subject", v, n + 2);
		CHECK(lines_ok(b.data, b.len, 78, 1));
	}
	CHECK(check_unstructured("Subject", v, 300, &st));
	CHECK(st.words >= 300 * 4 / 3 / 63);

	/* Hostile: a 100 KB word without spaces, ASCII and not. */
	memset(v, 'z', 100000);
	buf_reset(&b);
	mime_header_unstructured(&b, "Subject", v, 100000);
	CHECK(lines_ok(b.data, b.len, 78, 1));
	CHECK(check_unstructured("Subject", v, 100000, NULL));
	for (size_t i = 0; i < 100000; i += 4)
		memcpy(v + i, "\xf0\x9f\x98\x80", 4);
	buf_reset(&b);
	mime_header_unstructured(&b, "Subject", v, 100000);
	CHECK(lines_ok(b.data, b.len, 78, 1));
	CHECK(check_unstructured("Subject", v, 100000, &st));
	CHECK_INT_EQ(st.invalid_utf8, 0);
	/* ... 100 KB of words, all plain. */
	for (size_t i = 0; i < 100000; i += 5)
		memcpy(v + i, "word ", 5);
	buf_reset(&b);
	mime_header_unstructured(&b, "Subject", v, 100000);
	CHECK(lines_ok(b.data, b.len, 78, 1));
	CHECK(check_unstructured("Subject", v, 100000, &st));
	CHECK_INT_EQ(st.words, 0);
	/* ... 100 KB of white space between two words. */
	v[0] = 'a';
	memset(v + 1, ' ', 100000);
	v[100001] = 'b';
	CHECK(check_unstructured("Subject", v, 100002, NULL));
	memset(v + 1, '\t', 500);
	v[501] = 'b';
	CHECK(check_unstructured("Subject", v, 502, &st));
	CHECK_INT_EQ(st.words, 0); /* 500 + 1 fits */
	/* ... 100 KB of control characters, and of invalid UTF-8. */
	memset(v, '\x01', 100000);
	CHECK(check_unstructured("Subject", v, 100000, NULL));
	memset(v, '\xc3', 100000);
	CHECK(check_unstructured("Subject", v, 100000, NULL));

	/* A long field name pushes the first unit, never past 998. */
	char name[200];
	memset(name, 'N', sizeof name);
	memcpy(name, "X-", 2);
	name[120] = '\0';
	CHECK(check_unstructured(name, "\xc3\xa9\xc3\xa9 and more words here", 25, NULL));
	CHECK(check_unstructured(name, v, 3000, NULL));

	free(v);
	buf_free(&b);
}

static void
test_unstructured_random(void)
{
	char v[1500];
	int bad = 0, bad_utf8 = 0;

	for (int round = 0; round < 3000; round++) {
		size_t n = random_text(v, round % 10 == 0 ? sizeof v : 200);
		if (!check_unstructured(round % 7 ? "Subject" : "X-Campaign-Description", v, n,
					NULL))
			bad++;
	}
	CHECK_INT_EQ(bad, 0);

	/* Valid UTF-8 of every length: no character cut in two. */
	static const char *const chars[] = {
	    "a", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "_", "="};
	for (int round = 0; round < 2000; round++) {
		size_t n = 0, want = rng_below(400);
		while (n < want) {
			const char *c = chars[rng_below(7)];
			memcpy(v + n, c, strlen(c));
			n += strlen(c);
		}
		struct ew_stats st;
		if (!check_unstructured("Subject", v, n, &st))
			bad_utf8++;
	}
	CHECK_INT_EQ(bad_utf8, 0);
}

static void
expect_phrase(const char *in, const char *want)
{
	struct buf b = BUF_INIT;
	mime_encode_phrase(&b, in, strlen(in));
	CHECK_STR_EQ(buf_cstr(&b), want);
	CHECK(check_phrase(in, strlen(in)));
	buf_free(&b);
}

static void
test_phrase(void)
{
	expect_phrase("John Doe", "John Doe");
	expect_phrase("  John Doe ", "John Doe");
	expect_phrase("O'Brien-Smith", "O'Brien-Smith");
	expect_phrase("", "\"\"");
	expect_phrase("   ", "\"\"");
	expect_phrase("Doe, John", "\"Doe, John\"");
	expect_phrase("J. R. R. Tolkien", "\"J. R. R. Tolkien\"");
	expect_phrase("say \"hi\" \\ bye", "\"say \\\"hi\\\" \\\\ bye\"");
	expect_phrase("a@b.example", "\"a@b.example\"");
	/* RFC 2047 8's example, in UTF-8. */
	expect_phrase("Keld J\xc3\xb8rn Simonsen", "Keld =?UTF-8?B?SsO4cm4=?= Simonsen");
	expect_phrase("Andr\xc3\xa9 Pirard", "=?UTF-8?B?QW5kcsOp?= Pirard");
	/* Q in a phrase encodes what 5(3) forbids: here '.', '(' and ')'. */
	expect_phrase("\xc3\x9c"
		      "berraschungsparty.info",
		      "=?UTF-8?Q?=C3=9Cberraschungsparty=2Einfo?=");
	expect_phrase("\xc3\x9c"
		      "berraschungsparty im Garten (x)",
		      "=?UTF-8?Q?=C3=9Cberraschungsparty?= im Garten =?UTF-8?B?KHgp?=");
	/* Look-alikes and control characters are encoded, even in ASCII. */
	expect_phrase("=?utf-8?q?x?=", "=?UTF-8?B?PT91dGYtOD9xP3g/PQ==?=");
	expect_phrase("Tab\tName", "\"Tab\tName\"");
	expect_phrase("bell\x07", "=?UTF-8?Q?bell=07?=");
	expect_phrase("bad\xff", "=?UTF-8?Q?bad=FF?=");

	/*
	 * Too long to be folded into 78 lines: encoded-words.  The first
	 * word may have 68 octets, the others 76 after their space.
	 */
	char v[100000];
	struct buf b = BUF_INIT;
	memset(v, 'a', 100);
	mime_encode_phrase(&b, v, 68);
	CHECK(b.len == 68);
	CHECK(check_phrase(v, 68));
	buf_reset(&b);
	mime_encode_phrase(&b, v, 69);
	CHECK(memcmp(b.data, "=?UTF-8?", 8) == 0);
	CHECK(check_phrase(v, 69));
	v[3] = ' ';
	buf_reset(&b);
	mime_encode_phrase(&b, v, 80);
	CHECK(b.len == 80);
	CHECK(check_phrase(v, 80));
	buf_reset(&b);
	mime_encode_phrase(&b, v, 81);
	/* 77 after the space: a full word of 63 and the 14 left. */
	CHECK_STR_EQ(buf_cstr(&b), "aaa =?UTF-8?Q?"
				   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				   "?= =?UTF-8?Q?aaaaaaaaaaaaaa?=");
	CHECK(check_phrase(v, 81));
	memset(v, 'a', 100);
	v[10] = ',';
	buf_reset(&b);
	mime_encode_phrase(&b, v, 66);
	CHECK(b.data[0] == '"' && b.len == 68);
	buf_reset(&b);
	mime_encode_phrase(&b, v, 67);
	CHECK(b.data[0] == '=');
	CHECK(check_phrase(v, 67));
	buf_free(&b);

	memset(v, 'q', sizeof v);
	CHECK(check_phrase(v, sizeof v));
	for (size_t i = 0; i + 3 <= sizeof v; i += 3)
		memcpy(v + i, "\xc3\xa9 ", 3);
	CHECK(check_phrase(v, 99999));

	int bad = 0;
	for (int round = 0; round < 3000; round++) {
		size_t n = random_text(v, round % 10 == 0 ? 1000 : 120);
		if (!check_phrase(v, n))
			bad++;
	}
	CHECK_INT_EQ(bad, 0);
}

static void
expect_structured(const char *name, const char *value, const char *want)
{
	struct buf b = BUF_INIT;
	mime_header_structured(&b, name, value, strlen(value));
	CHECK_STR_EQ(buf_cstr(&b), want);
	buf_free(&b);
}

/* Structured output unfolds to "Name: " and the value, CR/LF as spaces. */
static int
check_structured(const char *name, const char *value, size_t len, size_t max_line)
{
	struct buf out = BUF_INIT, unfolded = BUF_INIT, want = BUF_INIT;
	int ok = 1;

	mime_header_structured(&out, name, value, len);
	trim(&value, &len, 1);
	buf_printf(&want, "%s:%s", name, len ? " " : "");
	for (size_t i = 0; i < len; i++)
		buf_append_char(&want, value[i] == '\r' || value[i] == '\n' ? ' ' : value[i]);
	if (!lines_ok(out.data, out.len, max_line, 1) || unfold(out.data, out.len, &unfolded) < 0 ||
	    !mem_eq(&unfolded, want.data, want.len)) {
		fprintf(stderr, "  structured: bad output %.300s\n", buf_cstr(&out));
		ok = 0;
	}
	buf_free(&out);
	buf_free(&unfolded);
	buf_free(&want);
	return ok;
}

static void
test_structured(void)
{
	expect_structured("To", "a@b.example", "To: a@b.example\r\n");
	expect_structured("To", "", "To:\r\n");
	expect_structured("To", "  a@b.example \r\n", "To: a@b.example\r\n");
	expect_structured("Content-Type", "text/plain; charset=utf-8",
			  "Content-Type: text/plain; charset=utf-8\r\n");
	/* A raw line end cannot start a header of its own. */
	expect_structured("To", "a@b.example\r\nBcc: evil@x.example",
			  "To: a@b.example  Bcc: evil@x.example\r\n");

	/* Fold after commas first. */
	expect_structured(
	    "To",
	    "Alice Example <alice@example.com>, Bob Example <bob@example.com>, "
	    "Carol <carol@example.com>",
	    "To: Alice Example <alice@example.com>, Bob Example <bob@example.com>,\r\n"
	    " Carol <carol@example.com>\r\n");
	expect_structured(
	    "Content-Type",
	    "multipart/alternative; boundary=\"=_mailshot_0123456789abcdef0123456789\"; "
	    "charset=utf-8",
	    "Content-Type: multipart/alternative;\r\n"
	    " boundary=\"=_mailshot_0123456789abcdef0123456789\"; charset=utf-8\r\n");

	struct buf v = BUF_INIT;
	for (int i = 0; i < 500; i++)
		buf_printf(&v, "%sUser %d <user%d@example.com>", i ? ", " : "", i, i);
	CHECK(check_structured("To", v.data, v.len, 78));
	buf_reset(&v);
	for (int i = 0; i < 500; i++)
		buf_printf(&v, "<msg%d.%d@host.example> ", i, i * 7919);
	CHECK(check_structured("References", v.data, v.len, 78));

	/* Hostile: one 100 KB token.  Lines stay within 998. */
	buf_reset(&v);
	for (int i = 0; i < 100000; i++)
		buf_append_char(&v, 'x');
	struct buf out = BUF_INIT;
	mime_header_structured(&out, "To", v.data, v.len);
	CHECK(lines_ok(out.data, out.len, 998, 1));
	buf_free(&out);
	/* ... and a token of 997 after a short one: still intact. */
	buf_reset(&v);
	buf_append_str(&v, "a ");
	for (int i = 0; i < 997; i++)
		buf_append_char(&v, 'x');
	CHECK(check_structured("To", v.data, v.len, 998));

	char r[600];
	int bad = 0;
	for (int round = 0; round < 3000; round++) {
		size_t n = random_text(r, sizeof r);
		if (!check_structured("To", r, n, 998))
			bad++;
	}
	CHECK_INT_EQ(bad, 0);
	buf_free(&v);
}

int
main(void)
{
	test_utf8();
	test_needs_encoding();
	test_crlf();
	test_qp_vectors();
	test_qp_round_trip();
	test_base64();
	test_unstructured_vectors();
	test_unstructured_boundaries();
	test_unstructured_random();
	test_phrase();
	test_structured();
	return check_report("mime");
}
