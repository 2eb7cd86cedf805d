/*
 * fuzz_template - libFuzzer target for lib/template.c.
 *
 * Input: a template, optionally followed by a NUL and row values
 * separated by NULs.  The template is compiled against a fixed list of
 * columns; a refusal must name the template ("fuzz.eml:...") on one line.
 * When it compiles, it is rendered twice: with fixed, partly hostile
 * values (HTML specials, UTF-8, a CRLF with a "Bcc:" line), and with the
 * values from the input (any bytes but '{').  Each time:
 *
 *   - tmpl_check_row accepting the row means tmpl_render accepts it;
 *   - a rendered message is 7-bit, has CRLF line ends only, no line over
 *     998 octets and a CRLF at the end;
 *   - its header has exactly one Date, From, To, Message-ID and
 *     MIME-Version, at most one Subject and Reply-To, no Cc or Bcc, and
 *     every line is a field or a continuation;
 *   - its MIME structure parses again: every multipart has a boundary
 *     and a closing delimiter, every part a header;
 *   - no "{{" is left in the header fields (RFC 2047 decoded) when the
 *     template's header has no '|' (defaults are plain text and may say
 *     anything), nor in the text/plain and text/html parts when the whole
 *     template has no '|' and no transfer encoding.  Row values never
 *     contain '{', so any "{{" would be a placeholder left unrendered.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mime.h"
#include "template.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_template: %s:%d: broken: %s\n", __FILE__, __LINE__,  \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

enum { NCOL = 6 };
static char *columns[NCOL] = {"email", "name", "first_name", "x", "Html", "note"};

/* ---- the wire rules ---- */

static void
require_wire(const struct buf *msg)
{
	const unsigned char *s = (const unsigned char *)msg->data;
	size_t line = 0;
	REQUIRE(msg->len >= 2 && s[msg->len - 2] == '\r' && s[msg->len - 1] == '\n');
	for (size_t i = 0; i < msg->len; i++) {
		REQUIRE(s[i] != 0 && s[i] < 0x80);
		if (s[i] == '\r') {
			REQUIRE(i + 1 < msg->len && s[i + 1] == '\n');
		} else if (s[i] == '\n') {
			REQUIRE(i > 0 && s[i - 1] == '\r');
			line = 0;
		} else {
			REQUIRE(++line <= 998);
		}
	}
}

/* ---- headers ---- */

/* Length of the header block (through CRLF CRLF), or (size_t)-1. */
static size_t
header_block_len(const char *s, size_t len)
{
	if (len >= 2 && s[0] == '\r' && s[1] == '\n')
		return 2;
	for (size_t i = 0; i + 3 < len; i++)
		if (memcmp(s + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return (size_t)-1;
}

/* Calls fn for each field of the block: name, unfolded value. */
static int
each_field(const char *s, size_t hlen, int (*fn)(void *, const char *, size_t, const char *),
	   void *ctx)
{
	size_t i = 0;
	struct buf value = BUF_INIT;
	int rc = 0;
	while (i + 2 <= hlen && rc == 0) {
		const char *eol = memmem(s + i, hlen - i, "\r\n", 2);
		size_t ll = (size_t)(eol - (s + i));
		if (ll == 0)
			break;
		/* A field starts with a name and a colon, never with a blank. */
		const char *colon = memchr(s + i, ':', ll);
		REQUIRE(colon != NULL && colon > s + i);
		for (const char *c = s + i; c < colon; c++)
			REQUIRE(*c > 32 && *c < 127);
		size_t nlen = (size_t)(colon - (s + i));
		buf_reset(&value);
		buf_append(&value, colon + 1, ll - nlen - 1);
		size_t j = i + ll + 2;
		while (j < hlen && (s[j] == ' ' || s[j] == '\t')) {
			const char *e2 = memmem(s + j, hlen - j, "\r\n", 2);
			size_t l2 = (size_t)(e2 - (s + j));
			buf_append(&value, s + j, l2);
			j += l2 + 2;
		}
		rc = fn(ctx, s + i, nlen, buf_cstr(&value));
		i = j;
	}
	buf_free(&value);
	return rc;
}

struct counts {
	int date, from, to, message_id, mime_version, subject, reply_to, cc, bcc, content_type;
	int check_braces;
	struct buf decoded;
};

/* RFC 2047 decoding (UTF-8, B or Q), enough to see what a reader sees. */
static void
decode_words(const char *s, struct buf *out)
{
	size_t i = 0, n = strlen(s);
	int last_encoded = 0;
	while (i < n) {
		size_t ws = i;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t w = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		size_t wl = i - w;
		int encoded = wl >= 12 && strncasecmp(s + w, "=?UTF-8?", 8) == 0 &&
			      s[w + 9] == '?' && s[w + wl - 2] == '?' && s[w + wl - 1] == '=';
		if (!(encoded && last_encoded))
			buf_append(out, s + ws, w - ws);
		if (!encoded) {
			buf_append(out, s + w, wl);
		} else if (s[w + 8] == 'B' || s[w + 8] == 'b') {
			REQUIRE(mime_base64_decode(out, s + w + 10, wl - 12) == 0);
		} else {
			const char *t = s + w + 10;
			size_t tl = wl - 12;
			for (size_t k = 0; k < tl; k++) {
				if (t[k] == '_') {
					buf_append_char(out, ' ');
				} else if (t[k] == '=' && k + 2 < tl) {
					char hex[3] = {t[k + 1], t[k + 2], 0};
					buf_append_char(out, (char)strtol(hex, NULL, 16));
					k += 2;
				} else {
					buf_append_char(out, t[k]);
				}
			}
		}
		last_encoded = encoded;
	}
}

static int
name_is(const char *name, size_t nlen, const char *want)
{
	return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

static int
count_field(void *ctx, const char *name, size_t nlen, const char *value)
{
	struct counts *c = ctx;
	c->date += name_is(name, nlen, "Date");
	c->from += name_is(name, nlen, "From");
	c->to += name_is(name, nlen, "To");
	c->message_id += name_is(name, nlen, "Message-ID");
	c->mime_version += name_is(name, nlen, "MIME-Version");
	c->subject += name_is(name, nlen, "Subject");
	c->reply_to += name_is(name, nlen, "Reply-To");
	c->cc += name_is(name, nlen, "Cc");
	c->bcc += name_is(name, nlen, "Bcc");
	c->content_type += name_is(name, nlen, "Content-Type");
	buf_reset(&c->decoded);
	decode_words(value, &c->decoded);
	if (c->check_braces && c->decoded.len > 0)
		REQUIRE(memmem(c->decoded.data, c->decoded.len, "{{", 2) == NULL);
	return 0;
}

/* ---- MIME structure ---- */

struct wanted {
	const char *name;
	struct buf *value;
};

static int
find_field(void *ctx, const char *name, size_t nlen, const char *value)
{
	struct wanted *w = ctx;
	if (!name_is(name, nlen, w->name))
		return 0;
	while (*value == ' ' || *value == '\t')
		value++;
	buf_append_str(w->value, value);
	return 1;
}

/* The unfolded value of the first field called name, "" if none. */
static void
field_value(const char *s, size_t hlen, const char *name, struct buf *out)
{
	struct wanted w = {name, out};
	buf_reset(out);
	each_field(s, hlen, find_field, &w);
	buf_cstr(out);
}

static void
boundary_param(const char *ct, char *out, size_t size)
{
	out[0] = '\0';
	const char *p = strcasestr(ct, "boundary=");
	if (p == NULL)
		return;
	p += 9;
	size_t k = 0;
	if (*p == '"') {
		p++;
		while (*p && *p != '"' && k + 1 < size)
			out[k++] = *p++;
	} else {
		while (*p && *p != ';' && *p != ' ' && k + 1 < size)
			out[k++] = *p++;
	}
	out[k] = '\0';
}

/* 1 if the media type of the Content-Type value ct is type. */
static int
type_is(const char *ct, const char *type)
{
	size_t n = strcspn(ct, "; \t");
	return n == strlen(type) && strncasecmp(ct, type, n) == 0;
}

/* Walks an entity; checks text leaves for "{{" when asked. */
static void
walk(const char *s, size_t len, int depth, int check_braces)
{
	REQUIRE(depth < 16);
	size_t hlen = header_block_len(s, len);
	REQUIRE(hlen != (size_t)-1);
	struct buf ct = BUF_INIT, cte = BUF_INIT;
	field_value(s, hlen, "Content-Type", &ct);
	field_value(s, hlen, "Content-Transfer-Encoding", &cte);
	const char *body = s + hlen;
	size_t blen = len - hlen;
	if (strncasecmp(buf_cstr(&ct), "multipart/", 10) == 0) {
		char b[128];
		boundary_param(ct.data, b, sizeof b);
		REQUIRE(b[0] != '\0');
		size_t bl = strlen(b);
		const char *part = NULL;
		int closed = 0;
		size_t i = 0;
		while (i < blen) {
			const char *eol = memmem(body + i, blen - i, "\r\n", 2);
			size_t ll = eol ? (size_t)(eol - (body + i)) : blen - i;
			const char *line = body + i;
			int delim = ll == bl + 2 && line[0] == '-' && line[1] == '-' &&
				    memcmp(line + 2, b, bl) == 0;
			int close = ll == bl + 4 && line[0] == '-' && line[1] == '-' &&
				    memcmp(line + 2, b, bl) == 0 && line[bl + 2] == '-' &&
				    line[bl + 3] == '-';
			if (delim || close) {
				if (part != NULL) {
					REQUIRE(line - part >= 2 &&
						memcmp(line - 2, "\r\n", 2) == 0);
					walk(part, (size_t)(line - part) - 2, depth + 1,
					     check_braces);
				}
				part = line + ll + 2;
				if (close) {
					closed = 1;
					break;
				}
			}
			i += ll + 2;
		}
		REQUIRE(closed);
		REQUIRE(part != NULL);
	} else if (check_braces && (ct.len == 0 || type_is(ct.data, "text/plain") ||
				    type_is(ct.data, "text/html"))) {
		struct buf text = BUF_INIT;
		if (strcasecmp(buf_cstr(&cte), "quoted-printable") == 0)
			mime_qp_decode(&text, body, blen);
		else
			buf_append(&text, body, blen);
		REQUIRE(text.len == 0 || memmem(text.data, text.len, "{{", 2) == NULL);
		buf_free(&text);
	}
	buf_free(&ct);
	buf_free(&cte);
}

/* ---- one row ---- */

static void
one_row(const struct tmpl *t, char **values, size_t *lens, const char *to_name, const char *prefix,
	uint64_t random, int braces_in_headers, int braces_in_body)
{
	struct tmpl_args a = {0};
	a.values = values;
	a.lens = lens;
	a.to_name = to_name;
	a.to_addr = "jane@example.org";
	a.from = tmpl_has_from(t) ? NULL : "Sender <sender@example.org>";
	a.subject_prefix = prefix;
	a.message_id_local = "20251124.0123456789abcdef.fuzz";
	a.date = 1764000000;
	a.random = random;

	struct buf err = BUF_INIT, msg = BUF_INIT;
	struct tmpl_result res = {BUF_INIT, BUF_INIT};
	int check = tmpl_check_row(t, &a, &err);
	REQUIRE(check == 0 || check == -1);
	if (check == -1)
		REQUIRE(err.len > 0);
	buf_reset(&err);
	int rc = tmpl_render(t, &a, &msg, &res, &err);
	REQUIRE(rc == 0 || rc == -1);
	if (check == 0)
		REQUIRE(rc == 0);
	if (rc == -1) {
		REQUIRE(err.len > 0);
		goto out;
	}
	require_wire(&msg);
	size_t hlen = header_block_len(msg.data, msg.len);
	REQUIRE(hlen != (size_t)-1);
	struct counts c = {0};
	c.check_braces = braces_in_headers;
	each_field(msg.data, hlen, count_field, &c);
	buf_free(&c.decoded);
	REQUIRE(c.date == 1 && c.from == 1 && c.to == 1 && c.message_id == 1 &&
		c.mime_version == 1);
	REQUIRE(c.subject <= 1 && c.reply_to <= 1 && c.content_type == 1);
	REQUIRE(c.cc == 0 && c.bcc == 0);
	REQUIRE(res.from_addr.len > 0);
	REQUIRE(res.message_id.len > 0 && res.message_id.data[0] == '<');
	walk(msg.data, msg.len, 0, braces_in_body);
out:
	buf_free(&err);
	buf_free(&msg);
	buf_free(&res.from_addr);
	buf_free(&res.message_id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;

	struct buf err = BUF_INIT;
	struct tmpl *t = tmpl_compile(text, tlen, "fuzz.eml", columns, NCOL, &err);
	if (t == NULL) {
		REQUIRE(err.len > 0);
		REQUIRE(strncmp(err.data, "fuzz.eml:", 9) == 0);
		REQUIRE(strchr(err.data, '\n') == NULL && strchr(err.data, '\r') == NULL);
		buf_free(&err);
		return 0;
	}
	buf_free(&err);

	/* Where "{{" may legitimately appear: only out of a default. */
	size_t head = tlen;
	for (size_t i = 0; i < tlen; i++) {
		if (text[i] == '\n' &&
		    (i + 1 == tlen || text[i + 1] == '\n' ||
		     (text[i + 1] == '\r' && i + 2 < tlen && text[i + 2] == '\n'))) {
			head = i;
			break;
		}
	}
	int braces_in_headers = memchr(text, '|', head) == NULL;
	int braces_in_body = memchr(text, '|', tlen) == NULL;
	for (size_t i = 0; i + 8 <= tlen && braces_in_body; i++)
		if (strncasecmp(text + i, "transfer", 8) == 0)
			braces_in_body = 0;

	uint64_t random = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < size; i++)
		random = (random ^ data[i]) * 0x100000001b3ULL;

	/* Fixed values, partly hostile. */
	char *fixed[NCOL] = {"jane@example.org",
			     "Zo\xc3\xab \"Z\" <z@example.org>",
			     "",
			     "a&b<c>'\"",
			     "<b>bold</b> caf\xc3\xa9",
			     "line 1\r\nBcc: evil@example.com\r\n.\r\nFrom me"};
	size_t fixed_lens[NCOL];
	for (int i = 0; i < NCOL; i++)
		fixed_lens[i] = strlen(fixed[i]);
	one_row(t, fixed, fixed_lens, "Jane Doe", NULL, random, braces_in_headers, braces_in_body);

	/* Values from the input, '{' taken out. */
	char *vals[NCOL + 1];
	size_t lens[NCOL + 1];
	const uint8_t *p = nul ? nul + 1 : data + size, *end = data + size;
	for (int i = 0; i < NCOL + 1; i++) {
		const uint8_t *q = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
		size_t n = p < end ? (q ? (size_t)(q - p) : (size_t)(end - p)) : 0;
		vals[i] = xmalloc(n + 1);
		size_t w = 0;
		for (size_t k = 0; k < n; k++)
			if (p[k] != '{')
				vals[i][w++] = (char)p[k];
		vals[i][w] = '\0';
		lens[i] = w;
		p = q ? q + 1 : end;
	}
	/* The last one is the To: display name (a C string: no NUL). */
	one_row(t, vals, lens, vals[NCOL], "[TEST] ", random + 1, braces_in_headers,
		braces_in_body);
	for (int i = 0; i < NCOL + 1; i++)
		free(vals[i]);
	tmpl_free(t);
	return 0;
}
