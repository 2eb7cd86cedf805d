/*
 * fuzz_mime - libFuzzer target for lib/mime.c.
 *
 * Every input goes through every function, and each output is checked
 * against what mime.h promises: CRLF line ends, lines of at most 998
 * octets (76 for quoted-printable and base64, 78 for header lines that
 * could be folded), 7-bit output, and round trips: QP and base64 decode
 * back to the input, headers unfold and decode (with the RFC 2047
 * decoder below, independent of the module) back to the value.  The
 * predicates are checked against plain reference versions.
 *
 *   clang -fsanitize=fuzzer,address,undefined -g -O1 -D_GNU_SOURCE -Ilib \
 *	-o fuzz_mime tests/fuzz/fuzz_mime.c lib/mime.c lib/buf.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---------------------------------------------------------------- */
/* Reference predicates                                             */
/* ---------------------------------------------------------------- */

/* Decodes code points the long way and checks their ranges. */
static int
reference_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i], cp, need;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0)
			cp = c & 0x1F, need = 1;
		else if ((c & 0xF0) == 0xE0)
			cp = c & 0x0F, need = 2;
		else if ((c & 0xF8) == 0xF0)
			cp = c & 0x07, need = 3;
		else
			return 0;
		if (n - i <= need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int
reference_needs_encoding(const unsigned char *s, size_t n)
{
	size_t line = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
			line = 0;
			i++;
		} else if (s[i] == '\n') {
			line = 0;
		} else if (s[i] == '\r' || s[i] == 0 || s[i] >= 0x80) {
			return 1;
		} else if (++line > 998) {
			return 1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Output checks                                                    */
/* ---------------------------------------------------------------- */

static int
lines_ok(const char *s, size_t n, size_t max)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return 0;
			i++;
			col = 0;
		} else if (s[i] == '\n' || ++col > max) {
			return 0;
		}
	}
	return 1;
}

static int
all_7bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

static int
mem_eq(const struct buf *b, const void *s, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, s, n) == 0);
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static void
trim(const char **s, size_t *n, int with_crlf)
{
	while (*n > 0 && (is_wsp((*s)[0]) || (with_crlf && ((*s)[0] == '\r' || (*s)[0] == '\n'))))
		(*s)++, (*n)--;
	while (*n > 0 && (is_wsp((*s)[*n - 1]) ||
			  (with_crlf && ((*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))))
		(*n)--;
}

/* Unfolds a field; -1 unless every inner CRLF is followed by WSP and
 * some text (no white-space-only continuation lines). */
static int
unfold(const char *s, size_t n, struct buf *out, int allow_blank)
{
	if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
		return -1;
	n -= 2;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r') {
			if (i + 2 >= n || s[i + 1] != '\n' || !is_wsp(s[i + 2]))
				return -1;
			size_t j = i + 2;
			while (j < n && is_wsp(s[j]))
				j++;
			if (!allow_blank && (j == n || s[j] == '\r'))
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

/* ---------------------------------------------------------------- */
/* An RFC 2047 decoder, strict about the form this module writes    */
/* ---------------------------------------------------------------- */

static int
hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64_strict(const char *s, size_t n, struct buf *out)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		unsigned acc = 0;
		int pads = 0;
		for (int k = 0; k < 4; k++) {
			char c = s[i + k];
			const char *p = c ? strchr(alphabet, c) : NULL;
			if (c == '=' && i + 4 == n && k >= 2) {
				pads++;
				acc <<= 6;
			} else if (p == NULL || pads) {
				return -1;
			} else {
				acc = acc << 6 | (unsigned)(p - alphabet);
			}
		}
		buf_append_char(out, (char)(acc >> 16));
		if (pads < 2)
			buf_append_char(out, (char)(acc >> 8));
		if (pads < 1)
			buf_append_char(out, (char)acc);
	}
	return 0;
}

struct ew_stats {
	int too_long;
	int cut_utf8;
	int phrase_unsafe;
};

static int
ew_decode(const char *t, size_t n, struct buf *out, struct ew_stats *st)
{
	if (n < 8 || memcmp(t, "=?", 2) != 0 || memcmp(t + n - 2, "?=", 2) != 0)
		return 0;
	if (n < 12 || strncasecmp(t, "=?UTF-8?", 8) != 0 || t[9] != '?')
		return -1;
	const char *p = t + 10;
	size_t pn = n - 12, start = out->len;
	if (n > 75)
		st->too_long++;
	if (t[8] == 'B') {
		if (b64_strict(p, pn, out) < 0)
			return -1;
	} else if (t[8] == 'Q') {
		for (size_t i = 0; i < pn; i++) {
			char c = p[i];
			if (c == '=') {
				if (i + 2 >= pn || hexdigit(p[i + 1]) < 0 || hexdigit(p[i + 2]) < 0)
					return -1;
				buf_append_char(
				    out, (char)(hexdigit(p[i + 1]) << 4 | hexdigit(p[i + 2])));
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
	if (!reference_utf8_valid((const unsigned char *)out->data + start, out->len - start))
		st->cut_utf8++;
	return 1;
}

static int
header_decode(const char *s, size_t n, struct buf *out, struct ew_stats *st)
{
	size_t i = 0;
	int prev_ew = 0;
	while (i < n) {
		size_t ws = i;
		while (i < n && is_wsp(s[i]))
			i++;
		size_t tok = i;
		while (i < n && !is_wsp(s[i]))
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

/* ---------------------------------------------------------------- */
/* The checks, one per function                                     */
/* ---------------------------------------------------------------- */

static void
fuzz_predicates(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	REQUIRE(utf8_valid(s, n) == reference_utf8_valid(u, n));
	REQUIRE(mime_has_8bit(s, n) == !all_7bit(s, n));
	REQUIRE(mime_body_needs_encoding(s, n) == reference_needs_encoding(u, n));
}

static void
fuzz_qp(const char *s, size_t n)
{
	struct buf enc = BUF_INIT, dec = BUF_INIT, want = BUF_INIT;

	buf_append_str(&enc, "x");
	mime_qp_encode(&enc, s, n);
	REQUIRE(enc.data[0] == 'x');
	const char *e = enc.data + 1;
	size_t en = enc.len - 1;
	REQUIRE(lines_ok(e, en, 76));
	REQUIRE(all_7bit(e, en));
	for (size_t i = 0; i < en;) {
		const char *cr = memchr(e + i, '\r', en - i);
		size_t len = cr ? (size_t)(cr - (e + i)) : en - i;
		REQUIRE(len == 0 || !is_wsp(e[i + len - 1]));
		REQUIRE(len == 0 || e[i] != '.');
		REQUIRE(len < 5 || memcmp(e + i, "From ", 5) != 0);
		for (size_t k = 0; k < len; k++) {
			unsigned char c = (unsigned char)e[i + k];
			REQUIRE(c >= 32 || c == '\t');
			if (c == '=' && k + 1 != len) {
				REQUIRE(k + 2 < len);
				REQUIRE(hexdigit(e[i + k + 1]) >= 0 && hexdigit(e[i + k + 2]) >= 0);
			}
		}
		i += len + 2;
	}
	REQUIRE(mime_qp_decode(&dec, e, en) == 0);
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
			buf_append_char(&want, s[i]);
	REQUIRE(mem_eq(&dec, want.data, want.len));

	/* Decoding anything: never longer than its input, no LF invented. */
	buf_reset(&dec);
	REQUIRE(mime_qp_decode(&dec, s, n) == 0);
	REQUIRE(dec.len <= n);
	buf_free(&enc);
	buf_free(&dec);
	buf_free(&want);
}

static void
fuzz_base64(const char *s, size_t n)
{
	struct buf enc = BUF_INIT, dec = BUF_INIT;

	mime_base64_encode(&enc, s, n);
	REQUIRE(lines_ok(enc.data, enc.len, 76));
	REQUIRE(all_7bit(enc.data, enc.len));
	REQUIRE(enc.len == 0 || (enc.data[enc.len - 2] == '\r' && enc.data[enc.len - 1] == '\n'));
	REQUIRE(mime_base64_decode(&dec, enc.data, enc.len) == 0);
	REQUIRE(mem_eq(&dec, s, n));

	/* Arbitrary input: refused leaves out alone; accepted re-encodes. */
	buf_reset(&dec);
	buf_append_str(&dec, "keep");
	int rc = mime_base64_decode(&dec, s, n);
	REQUIRE(rc == 0 || rc == -1);
	REQUIRE(memcmp(dec.data, "keep", 4) == 0);
	if (rc < 0) {
		REQUIRE(dec.len == 4);
	} else {
		struct buf again = BUF_INIT, back = BUF_INIT;
		mime_base64_encode(&again, dec.data + 4, dec.len - 4);
		REQUIRE(mime_base64_decode(&back, again.data, again.len) == 0);
		REQUIRE(mem_eq(&back, dec.data + 4, dec.len - 4));
		buf_free(&again);
		buf_free(&back);
	}
	buf_free(&enc);
	buf_free(&dec);
}

static void
fuzz_crlf(const char *s, size_t n)
{
	struct buf out = BUF_INIT, content = BUF_INIT, want = BUF_INIT;

	mime_crlf(&out, s, n);
	REQUIRE(lines_ok(out.data, out.len, 998));
	/* Same octets in the same order, line ends aside. */
	for (size_t i = 0; i < out.len; i++)
		if (out.data[i] != '\r' && out.data[i] != '\n')
			buf_append_char(&content, out.data[i]);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\r' && s[i] != '\n')
			buf_append_char(&want, s[i]);
	REQUIRE(mem_eq(&content, want.data, want.len));
	if (!mime_body_needs_encoding(s, n)) {
		/* A 7bit-clean body only has its line ends changed. */
		size_t ends = 0, out_ends = 0;
		for (size_t i = 0; i < n; i++)
			ends += s[i] == '\n';
		for (size_t i = 0; i < out.len; i++)
			out_ends += out.data[i] == '\n';
		REQUIRE(ends == out_ends);
	}
	buf_free(&out);
	buf_free(&content);
	buf_free(&want);
}

static void
fuzz_unstructured(const char *name, const char *s, size_t n)
{
	struct buf out = BUF_INIT, unfolded = BUF_INIT, decoded = BUF_INIT;
	struct ew_stats st = {0};
	size_t name_len = strlen(name);

	mime_header_unstructured(&out, name, s, n);
	REQUIRE(lines_ok(out.data, out.len, 998));
	REQUIRE(all_7bit(out.data, out.len));
	REQUIRE(memcmp(out.data, name, name_len) == 0 && out.data[name_len] == ':');

	/* A line over 78 holds one unit, which could not be split. */
	size_t line = 0;
	for (int first = 1; line < out.len; first = 0) {
		const char *cr = memchr(out.data + line, '\r', out.len - line);
		size_t len = (size_t)(cr - (out.data + line));
		if (len > 78) {
			size_t i = line + (first ? name_len + 1 : 0), end = line + len;
			while (i < end && is_wsp(out.data[i]))
				i++;
			while (i < end)
				REQUIRE(!is_wsp(out.data[i++]));
		}
		line += len + 2;
	}

	REQUIRE(unfold(out.data, out.len, &unfolded, 0) == 0);
	const char *v = s;
	size_t vn = n;
	trim(&v, &vn, 0);
	const char *u = unfolded.data + name_len + 1;
	size_t un = unfolded.len - name_len - 1;
	REQUIRE(vn == 0 ? un == 0 : (un > 0 && u[0] == ' '));
	REQUIRE(header_decode(u + (vn > 0), un - (vn > 0), &decoded, &st) == 0);
	REQUIRE(mem_eq(&decoded, v, vn));
	REQUIRE(st.too_long == 0);
	if (reference_utf8_valid((const unsigned char *)s, n))
		REQUIRE(st.cut_utf8 == 0);
	buf_free(&out);
	buf_free(&unfolded);
	buf_free(&decoded);
}

static void
fuzz_phrase(const char *s, size_t n)
{
	struct buf out = BUF_INIT, decoded = BUF_INIT, value = BUF_INIT, field = BUF_INIT;
	struct ew_stats st = {0};
	const char *v = s;
	size_t vn = n;

	trim(&v, &vn, 0);
	mime_encode_phrase(&out, s, n);
	REQUIRE(out.len > 0);
	REQUIRE(all_7bit(out.data, out.len));
	REQUIRE(memchr(out.data, '\r', out.len) == NULL && memchr(out.data, '\n', out.len) == NULL);
	if (out.data[0] == '"') {
		REQUIRE(out.len >= 2 && out.data[out.len - 1] == '"');
		for (size_t i = 1; i + 1 < out.len; i++) {
			REQUIRE(out.data[i] != '"');
			if (out.data[i] == '\\')
				i++;
			REQUIRE(i + 1 < out.len);
			buf_append_char(&decoded, out.data[i]);
		}
	} else {
		REQUIRE(header_decode(out.data, out.len, &decoded, &st) == 0);
		for (size_t i = 0; i < out.len; i++) {
			unsigned char c = (unsigned char)out.data[i];
			REQUIRE(c == '\t' || (c >= 32 && c < 127)); /* atoms, words, WSP */
		}
	}
	REQUIRE(mem_eq(&decoded, v, vn));
	REQUIRE(st.too_long == 0 && st.phrase_unsafe == 0);
	if (reference_utf8_valid((const unsigned char *)s, n))
		REQUIRE(st.cut_utf8 == 0);

	/* In an address header it folds to 78. */
	buf_append(&value, out.data, out.len);
	buf_append_str(&value, " <someone@example.com>");
	mime_header_structured(&field, "Reply-To", value.data, value.len);
	REQUIRE(lines_ok(field.data, field.len, 78));
	buf_free(&out);
	buf_free(&decoded);
	buf_free(&value);
	buf_free(&field);
}

static void
fuzz_structured(const char *name, const char *s, size_t n)
{
	struct buf out = BUF_INIT, unfolded = BUF_INIT, want = BUF_INIT;

	mime_header_structured(&out, name, s, n);
	REQUIRE(lines_ok(out.data, out.len, 998));
	REQUIRE(memcmp(out.data, name, strlen(name)) == 0);

	/* Unless a piece is too long for any line, it unfolds to the value. */
	const char *v = s;
	size_t vn = n, longest = 0;
	trim(&v, &vn, 1);
	for (size_t i = 0; i < vn;) {
		size_t start = i;
		while (i < vn && (is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n'))
			i++;
		while (i < vn && !(is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n'))
			i++;
		if (i - start + (start == 0) > longest)
			longest = i - start + (start == 0);
	}
	if (longest <= 998) {
		REQUIRE(unfold(out.data, out.len, &unfolded, 1) == 0);
		buf_printf(&want, "%s:%s", name, vn ? " " : "");
		for (size_t i = 0; i < vn; i++)
			buf_append_char(&want, v[i] == '\r' || v[i] == '\n' ? ' ' : v[i]);
		REQUIRE(mem_eq(&unfolded, want.data, want.len));
	}
	buf_free(&out);
	buf_free(&unfolded);
	buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
	    "Subject", "X-Mailshot-Campaign", "To",
	    "X-A-Rather-Long-Field-Name-For-Testing-The-First-Line"};
	const char *s = (const char *)data;
	const char *name = names[size % 4];

	fuzz_predicates(s, size);
	fuzz_qp(s, size);
	fuzz_base64(s, size);
	fuzz_crlf(s, size);
	fuzz_unstructured(name, s, size);
	fuzz_phrase(s, size);
	fuzz_structured(name, s, size);
	return 0;
}
