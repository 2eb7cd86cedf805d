/*
 * test_template - unit tests for lib/template.c, mostly with hostile
 * templates and hostile row values.
 *
 * Every rendered message is first held to the wire rules (7-bit, CRLF
 * only, no line over 998 octets, a line end at the end), then taken
 * apart again here, independently of the renderer: header fields are
 * unfolded and their RFC 2047 encoded-words decoded, the MIME tree is
 * split at its boundaries and each leaf decoded (quoted-printable with
 * mime_qp_decode, base64 with mime_base64_decode), and what comes out is
 * compared with the text the template and the row should give.
 *
 * Compile errors are checked for their "file:line: " prefix, since a
 * template author must be able to find the culprit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "check.h"
#include "mime.h"
#include "template.h"

/* The recipient list's columns, for every template below. */
enum { EMAIL, NAME, FIRST, TEAM, CODE, NOTE, HTML, TOKEN, NCOL };
static char *columns[NCOL] = {"email", "name", "first_name", "team",
			      "code",  "note", "html",	     "Token"};

/* ---- compiling and rendering ---- */

static struct tmpl *
compile(const char *text, struct buf *err)
{
	buf_reset(err);
	return tmpl_compile(text, strlen(text), "t.eml", columns, NCOL, err);
}

/* The error of a template that must not compile; "" if it compiled. */
static const char *
compile_error(const char *text, struct buf *err)
{
	struct tmpl *t = compile(text, err);
	if (t != NULL) {
		tmpl_free(t);
		return "";
	}
	return buf_cstr(err);
}

/* 1 if text fails to compile with an error starting with prefix (the
 * "file:line: " part) and containing what. */
static int
fails_with(const char *text, const char *prefix, const char *what)
{
	struct buf err = BUF_INIT;
	const char *e = compile_error(text, &err);
	int ok = e[0] != '\0' && strncmp(e, prefix, strlen(prefix)) == 0 &&
		 strstr(e, what) != NULL && strchr(e, '\n') == NULL;
	if (!ok)
		fprintf(stderr, "  template error: got \"%s\", expected \"%s...%s\"\n", e, prefix,
			what);
	buf_free(&err);
	return ok;
}

struct row {
	char *values[NCOL];
	size_t lens[NCOL];
	struct tmpl_args args;
};

/* A row with every value empty but the email, and the usual arguments. */
static void
row_init(struct row *r)
{
	memset(r, 0, sizeof *r);
	for (int i = 0; i < NCOL; i++)
		r->values[i] = "";
	r->values[EMAIL] = "jane@example.org";
	r->args.values = r->values;
	r->args.lens = r->lens;
	r->args.to_name = "Jane Doe";
	r->args.to_addr = "jane@example.org";
	r->args.message_id_local = "20251124.0123456789abcdef.camp";
	r->args.date = 1764000000;
	r->args.random = 1;
}

static void
row_set(struct row *r, int col, const char *value)
{
	r->values[col] = (char *)value;
}

/* Sets a value that may hold NULs. */
static void
row_set_len(struct row *r, int col, const char *value, size_t len)
{
	r->values[col] = (char *)value;
	r->lens[col] = len;
}

static void
row_fix_lens(struct row *r)
{
	for (int i = 0; i < NCOL; i++)
		if (r->lens[i] == 0)
			r->lens[i] = strlen(r->values[i]);
}

/* Renders; returns tmpl_render's result.  msg and err are reset first. */
static int
render(const struct tmpl *t, struct row *r, struct buf *msg, struct buf *err)
{
	struct tmpl_result res = {BUF_INIT, BUF_INIT};
	row_fix_lens(r);
	buf_reset(msg);
	buf_reset(err);
	int rc = tmpl_render(t, &r->args, msg, &res, err);
	buf_cstr(msg);
	buf_free(&res.from_addr);
	buf_free(&res.message_id);
	return rc;
}

/* ---- the wire rules ---- */

/* 1 if msg is 7-bit, CRLF only, lines <= 998 octets, ends in CRLF. */
static int
wire_ok(const struct buf *msg)
{
	const unsigned char *s = (const unsigned char *)msg->data;
	size_t line = 0;
	if (msg->len < 2 || s[msg->len - 2] != '\r' || s[msg->len - 1] != '\n') {
		fprintf(stderr, "  wire: no CRLF at the end\n");
		return 0;
	}
	for (size_t i = 0; i < msg->len; i++) {
		if (s[i] == 0 || s[i] >= 0x80) {
			fprintf(stderr, "  wire: byte 0x%02x at %zu\n", s[i], i);
			return 0;
		}
		if (s[i] == '\r') {
			if (i + 1 >= msg->len || s[i + 1] != '\n') {
				fprintf(stderr, "  wire: bare CR at %zu\n", i);
				return 0;
			}
			continue;
		}
		if (s[i] == '\n') {
			if (i == 0 || s[i - 1] != '\r') {
				fprintf(stderr, "  wire: bare LF at %zu\n", i);
				return 0;
			}
			line = 0;
			continue;
		}
		if (++line > 998) {
			fprintf(stderr, "  wire: line over 998 octets at %zu\n", i);
			return 0;
		}
	}
	return 1;
}

/* ---- taking a message apart again ---- */

static int
tolower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Length of the header block of an entity (up to and including the CRLF
 * CRLF), or (size_t)-1 when there is no empty line. */
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

/* Unfolded value of the n-th (from 0) header field called name in the
 * header block s[0..len); returns the number of such fields. */
static int
header_value(const char *s, size_t len, const char *name, int n, struct buf *out)
{
	size_t hlen = header_block_len(s, len), nl = strlen(name);
	if (hlen == (size_t)-1)
		hlen = len;
	int count = 0;
	size_t i = 0;
	buf_reset(out);
	while (i < hlen) {
		const char *eol = strstr(s + i, "\r\n");
		size_t ll = eol ? (size_t)(eol - (s + i)) : hlen - i;
		if (ll == 0)
			break;
		if (ll > nl && s[i + nl] == ':' && strncasecmp(s + i, name, nl) == 0) {
			if (count++ == n) {
				size_t v = i + nl + 1;
				while (v < i + ll && s[v] == ' ')
					v++;
				buf_append(out, s + v, i + ll - v);
				/* Continuation lines. */
				size_t j = i + ll + 2;
				while (j < hlen && (s[j] == ' ' || s[j] == '\t')) {
					const char *e2 = strstr(s + j, "\r\n");
					size_t l2 = e2 ? (size_t)(e2 - (s + j)) : hlen - j;
					buf_append(out, s + j, l2);
					j += l2 + 2;
				}
			}
		}
		i += ll + 2;
	}
	buf_cstr(out);
	return count;
}

/* 1 if some header line of the block starts with name followed by ':'. */
static int
has_header_line(const char *s, size_t len, const char *name)
{
	struct buf v = BUF_INIT;
	int n = header_value(s, len, name, 0, &v);
	buf_free(&v);
	return n > 0;
}

/* Decodes RFC 2047 encoded-words (UTF-8, B or Q) in an unstructured
 * value; white space between two encoded-words goes. */
static void
decode_words(const char *s, struct buf *out)
{
	size_t i = 0, n = strlen(s);
	int last_encoded = 0;
	buf_reset(out);
	while (i < n) {
		size_t ws = i;
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		size_t w = i;
		while (i < n && s[i] != ' ' && s[i] != '\t')
			i++;
		size_t wl = i - w;
		int encoded = wl > 12 && strncasecmp(s + w, "=?UTF-8?", 8) == 0 &&
			      s[w + 9] == '?' && s[w + wl - 2] == '?' && s[w + wl - 1] == '=';
		if (!(encoded && last_encoded))
			buf_append(out, s + ws, w - ws);
		if (!encoded) {
			buf_append(out, s + w, wl);
		} else {
			const char *text = s + w + 10;
			size_t tl = wl - 12;
			if (s[w + 8] == 'B' || s[w + 8] == 'b') {
				mime_base64_decode(out, text, tl);
			} else {
				for (size_t k = 0; k < tl; k++) {
					if (text[k] == '_') {
						buf_append_char(out, ' ');
					} else if (text[k] == '=' && k + 2 < tl) {
						char hex[3] = {text[k + 1], text[k + 2], 0};
						buf_append_char(out, (char)strtol(hex, NULL, 16));
						k += 2;
					} else {
						buf_append_char(out, text[k]);
					}
				}
			}
		}
		last_encoded = encoded;
	}
	buf_cstr(out);
}

/* The decoded value of the first header called name, "" when none. */
static const char *
decoded_header(const struct buf *msg, const char *name, struct buf *out)
{
	struct buf raw = BUF_INIT;
	header_value(msg->data, msg->len, name, 0, &raw);
	decode_words(buf_cstr(&raw), out);
	buf_free(&raw);
	return buf_cstr(out);
}

struct leaf {
	char type[64];
	char cte[32];
	struct buf text; /* decoded, LF line ends for text */
	struct buf headers;
};

#define MAX_LEAVES 16

struct tree {
	struct leaf leaves[MAX_LEAVES];
	size_t n;
	int bad; /* the structure did not parse */
	char boundaries[8][80];
	size_t nboundaries;
};

static void
param(const char *value, const char *name, char *out, size_t size)
{
	out[0] = '\0';
	const char *p = value;
	size_t nl = strlen(name);
	while ((p = strchr(p, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == '=') {
			p += nl + 1;
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
			return;
		}
	}
}

static void
walk(struct tree *tr, const char *s, size_t len, int depth)
{
	struct buf ct = BUF_INIT, cte = BUF_INIT;
	size_t hlen = header_block_len(s, len);
	if (depth > 10 || hlen == (size_t)-1) {
		tr->bad = 1;
		goto out;
	}
	header_value(s, hlen, "Content-Type", 0, &ct);
	header_value(s, hlen, "Content-Transfer-Encoding", 0, &cte);
	char type[64] = "text/plain";
	if (ct.len > 0) {
		size_t k = 0;
		for (const char *p = ct.data; *p && *p != ';' && *p != ' ' && k + 1 < sizeof type;)
			type[k++] = (char)tolower_ascii(*p++);
		type[k] = '\0';
	}
	const char *body = s + hlen;
	size_t blen = len - hlen;
	if (strncmp(type, "multipart/", 10) == 0) {
		char b[80];
		param(ct.data, "boundary", b, sizeof b);
		if (b[0] == '\0') {
			tr->bad = 1;
			goto out;
		}
		if (tr->nboundaries < 8)
			snprintf(tr->boundaries[tr->nboundaries++], sizeof tr->boundaries[0], "%s",
				 b);
		/* Delimiter lines: "--b" or "--b--" at the start of a line. */
		struct buf delim = BUF_INIT;
		buf_printf(&delim, "--%s", b);
		const char *part = NULL;
		size_t i = 0;
		int closed = 0;
		while (i < blen) {
			const char *eol = memchr(body + i, '\n', blen - i);
			size_t ll = eol ? (size_t)(eol - (body + i)) + 1 : blen - i;
			const char *line = body + i;
			size_t content = ll >= 2 && line[ll - 2] == '\r' ? ll - 2 : ll;
			int is_delim =
			    content == delim.len && memcmp(line, delim.data, delim.len) == 0;
			int is_close = content == delim.len + 2 &&
				       memcmp(line, delim.data, delim.len) == 0 &&
				       memcmp(line + delim.len, "--", 2) == 0;
			if (is_delim || is_close) {
				if (part != NULL) {
					/* The CRLF before the delimiter is part of it. */
					size_t plen = (size_t)(line - part);
					if (plen < 2 || memcmp(line - 2, "\r\n", 2) != 0)
						tr->bad = 1;
					else
						walk(tr, part, plen - 2, depth + 1);
				}
				part = line + ll;
				if (is_close) {
					closed = 1;
					break;
				}
			}
			i += ll;
		}
		if (!closed)
			tr->bad = 1;
		buf_free(&delim);
		goto out;
	}
	if (tr->n >= MAX_LEAVES) {
		tr->bad = 1;
		goto out;
	}
	struct leaf *l = &tr->leaves[tr->n++];
	memset(l, 0, sizeof *l);
	snprintf(l->type, sizeof l->type, "%s", type);
	snprintf(l->cte, sizeof l->cte, "%s", cte.len ? cte.data : "7bit");
	buf_append(&l->headers, s, hlen);
	buf_cstr(&l->headers);
	if (strcasecmp(l->cte, "quoted-printable") == 0) {
		mime_qp_decode(&l->text, body, blen);
	} else if (strcasecmp(l->cte, "base64") == 0) {
		if (mime_base64_decode(&l->text, body, blen) == -1)
			tr->bad = 1;
	} else {
		for (size_t i = 0; i < blen; i++)
			if (!(body[i] == '\r' && i + 1 < blen && body[i + 1] == '\n'))
				buf_append_char(&l->text, body[i]);
	}
	buf_cstr(&l->text);
out:
	buf_free(&ct);
	buf_free(&cte);
}

static void
tree_free(struct tree *tr)
{
	for (size_t i = 0; i < tr->n; i++) {
		buf_free(&tr->leaves[i].text);
		buf_free(&tr->leaves[i].headers);
	}
	tr->n = 0;
}

/* ---- the tests ---- */

static const char plain_template[] = "From: Team <team@example.org>\n"
				     "Subject: Hello {{name}}\n"
				     "X-Code: {{code}}\n"
				     "\n"
				     "Hi {{name}}: {{note}}\n";

static void
test_plain_golden(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, crlf = BUF_INIT, msg2 = BUF_INIT;
	struct tmpl *t = compile(plain_template, &err);
	CHECK(t != NULL);
	if (t == NULL) {
		fprintf(stderr, "%s\n", err.data);
		return;
	}
	CHECK(tmpl_has_from(t));
	CHECK(!tmpl_column_in_header(t, EMAIL));
	CHECK(tmpl_column_in_header(t, NAME));
	CHECK(tmpl_column_in_header(t, CODE));
	CHECK(!tmpl_column_in_header(t, NOTE));
	CHECK(!tmpl_column_in_header(t, NCOL)); /* out of range */

	struct row r;
	row_init(&r);
	row_set(&r, NAME, "Jane");
	row_set(&r, CODE, "42");
	row_set(&r, NOTE, "see you");
	struct tmpl_result res = {BUF_INIT, BUF_INIT};
	row_fix_lens(&r);
	CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), 0);
	buf_append_str(&msg, "KEEP"); /* rendering appends */
	CHECK_INT_EQ(tmpl_render(t, &r.args, &msg, &res, &err), 0);
	CHECK_STR_EQ(msg.data, "KEEP"
			       "Date: Mon, 24 Nov 2025 16:00:00 +0000\r\n"
			       "From: Team <team@example.org>\r\n"
			       "To: Jane Doe <jane@example.org>\r\n"
			       "Subject: Hello Jane\r\n"
			       "Message-ID: <20251124.0123456789abcdef.camp@example.org>\r\n"
			       "MIME-Version: 1.0\r\n"
			       "X-Code: 42\r\n"
			       "Content-Type: text/plain; charset=utf-8\r\n"
			       "Content-Transfer-Encoding: 7bit\r\n"
			       "\r\n"
			       "Hi Jane: see you\r\n");
	CHECK_STR_EQ(buf_cstr(&res.from_addr), "team@example.org");
	CHECK_STR_EQ(buf_cstr(&res.message_id), "<20251124.0123456789abcdef.camp@example.org>");

	/* The same template with CRLF line ends gives the same message. */
	for (const char *p = plain_template; *p; p++) {
		if (*p == '\n')
			buf_append_char(&crlf, '\r');
		buf_append_char(&crlf, *p);
	}
	struct tmpl *t2 = tmpl_compile(crlf.data, crlf.len, "t.eml", columns, NCOL, &err);
	CHECK(t2 != NULL);
	if (t2 != NULL) {
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK_INT_EQ(render(t2, &r, &msg2, &err), 0);
		CHECK_STR_EQ(msg2.data, msg.data);
		tmpl_free(t2);
	}

	/* Overrides: --from, --reply-to, a subject prefix, no To name. */
	r.args.from = "Other Sender <other@example.net>";
	r.args.reply_to = "help@example.net";
	r.args.subject_prefix = "[TEST] ";
	r.args.to_name = NULL;
	CHECK_INT_EQ(tmpl_render(t, &r.args, &msg, &res, &err), 0);
	buf_reset(&msg);
	CHECK_INT_EQ(tmpl_render(t, &r.args, &msg, &res, &err), 0);
	CHECK(wire_ok(&msg));
	CHECK(strstr(msg.data, "From: Other Sender <other@example.net>\r\n") != NULL);
	CHECK(strstr(msg.data, "Reply-To: <help@example.net>\r\n") != NULL);
	CHECK(strstr(msg.data, "To: <jane@example.org>\r\n") != NULL);
	CHECK(strstr(msg.data, "Subject: [TEST] Hello Jane\r\n") != NULL);
	CHECK(strstr(msg.data, "team@example.org") == NULL);
	CHECK_STR_EQ(buf_cstr(&res.from_addr), "other@example.net");
	CHECK_STR_EQ(buf_cstr(&res.message_id), "<20251124.0123456789abcdef.camp@example.net>");
	/* A bad --from is an error at rendering. */
	r.args.from = "not an address";
	buf_reset(&err);
	CHECK_INT_EQ(render(t, &r, &msg, &err), -1);
	CHECK(err.len > 0);
	r.args.from = "Zo\xc3\xab <zo\xc3\xab@example.org>"; /* 8-bit would leak into From: */
	CHECK_INT_EQ(render(t, &r, &msg, &err), -1);

	buf_free(&res.from_addr);
	buf_free(&res.message_id);
	tmpl_free(t);
	buf_free(&err);
	buf_free(&msg);
	buf_free(&msg2);
	buf_free(&crlf);
}

static const char alternative_template[] =
    "From: Feedback Team <feedback@example.org>\n"
    "Reply-To: Survey Help <help@example.org>\n"
    "Subject: {{first_name|Hello}}, your feedback on {{team}} matters\n"
    "List-Id: Staff surveys <surveys.example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"=-template-boundary\"\n"
    "\n"
    "--=-template-boundary\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "Dear {{first_name|colleague}},\n"
    "in {{TEAM}}: {{html}} / {{{html}}}\n"
    "https://survey.example.org/s/{{token}}\n"
    "--=-template-boundary\n"
    "Content-Type: text/html; charset=\"UTF-8\"\n"
    "\n"
    "<p>Dear {{first_name|colleague}},</p>\n"
    "<p>{{html}} | {{{html}}} | {{ html }}</p>\n"
    "<a href=\"https://survey.example.org/s/{{token}}\">go</a>\n"
    "--=-template-boundary--\n"
    "epilogue is dropped\n";

static void
test_alternative(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, v = BUF_INIT;
	struct tmpl *t = compile(alternative_template, &err);
	CHECK(t != NULL);
	if (t == NULL) {
		fprintf(stderr, "%s\n", err.data);
		return;
	}
	struct row r;
	row_init(&r);
	row_set(&r, TEAM, "R&D");
	row_set(&r, HTML, "<b>\"Tom\" & 'Jerry'</b>");
	row_set(&r, TOKEN, "tok123");
	CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
	CHECK(wire_ok(&msg));
	CHECK_STR_EQ(decoded_header(&msg, "Subject", &v), "Hello, your feedback on R&D matters");
	CHECK_STR_EQ(decoded_header(&msg, "Reply-To", &v), "Survey Help <help@example.org>");
	CHECK_STR_EQ(decoded_header(&msg, "List-Id", &v), "Staff surveys <surveys.example.org>");
	CHECK_INT_EQ(header_value(msg.data, msg.len, "MIME-Version", 0, &v), 1);
	CHECK_INT_EQ(header_value(msg.data, msg.len, "Content-Type", 0, &v), 1);
	CHECK(strstr(msg.data, "template-boundary") == NULL); /* a boundary of our own */
	CHECK(strstr(msg.data, "epilogue") == NULL);

	struct tree tr = {0};
	walk(&tr, msg.data, msg.len, 0);
	CHECK(!tr.bad);
	CHECK_INT_EQ(tr.n, 2);
	if (tr.n == 2) {
		CHECK_STR_EQ(tr.leaves[0].type, "text/plain");
		CHECK_STR_EQ(tr.leaves[0].text.data,
			     "Dear colleague,\n"
			     "in R&D: <b>\"Tom\" & 'Jerry'</b> / <b>\"Tom\" & 'Jerry'</b>\n"
			     "https://survey.example.org/s/tok123");
		CHECK_STR_EQ(tr.leaves[1].type, "text/html");
		CHECK_STR_EQ(tr.leaves[1].text.data,
			     "<p>Dear colleague,</p>\n"
			     "<p>&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt; | "
			     "<b>\"Tom\" & 'Jerry'</b> | "
			     "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;</p>\n"
			     "<a href=\"https://survey.example.org/s/tok123\">go</a>");
		CHECK(strstr(tr.leaves[1].headers.data, "charset=utf-8") != NULL);
	}
	tree_free(&tr);

	/* Defaults only for empty values; a value wins. */
	row_set(&r, FIRST, "Zo\xc3\xab");
	CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
	CHECK(wire_ok(&msg));
	CHECK_STR_EQ(decoded_header(&msg, "Subject", &v),
		     "Zo\xc3\xab, your feedback on R&D matters");
	walk(&tr, msg.data, msg.len, 0);
	CHECK(!tr.bad && tr.n == 2);
	if (tr.n == 2) {
		CHECK(strncmp(tr.leaves[0].text.data, "Dear Zo\xc3\xab,\n", 10) == 0);
		CHECK_STR_EQ(tr.leaves[0].cte, "quoted-printable");
	}
	tree_free(&tr);

	/* A fresh boundary per message seed. */
	struct buf first = BUF_INIT;
	walk(&tr, msg.data, msg.len, 0);
	buf_append_str(&first, tr.boundaries[0]);
	tree_free(&tr);
	tr.nboundaries = 0;
	r.args.random = 2;
	CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
	walk(&tr, msg.data, msg.len, 0);
	CHECK(strncmp(tr.boundaries[0], "=_ms_", 5) == 0);
	CHECK(strcmp(tr.boundaries[0], first.data) != 0);
	tree_free(&tr);
	buf_free(&first);

	tmpl_free(t);
	buf_free(&err);
	buf_free(&msg);
	buf_free(&v);
}

static void
test_placeholders(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT;
	struct row r;
	row_init(&r);
	row_set(&r, NAME, "Jane");
	row_set(&r, CODE, "C");
	row_set(&r, HTML, "{{name}}");

	static const struct {
		const char *body, *want;
	} cases[] = {
	    {"{{name}}", "Jane"},
	    {"{{NAME}}|{{Name}}|{{ name }}", "Jane|Jane|Jane"}, /* any case, blanks trimmed */
	    {"{{token|none}}", "none"},				/* "Token" column, empty */
	    {"{{note|}}x", "x"},				/* an empty default */
	    {"{{note|a|b}}", "a|b"},				/* the first | splits */
	    {"{{note| spaced }}", " spaced "},			/* defaults as written */
	    {"{{nosuch|fallback}}", "fallback"}, /* unknown with a default: the default */
	    {"{{name|unused}}", "Jane"},
	    {"{{{name}}}", "Jane"},
	    {"{{{note|raw default}}}", "raw default"},
	    {"{ {name} }", "{ {name} }"},
	    {"{{name}}}", "Jane}"},
	    {"}}{{name}}{", "}}Jane{"},
	    {"a{{name}}b{{code}}c", "aJanebCc"},
	    {"{{name}}{{name}}", "JaneJane"},
	    {"{{note|{x}}", "{x"},
	    {"{{code|}} {{html}}", "C {{name}}"}, /* a value is never expanded again */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct buf text = BUF_INIT;
		buf_printf(&text, "From: a@example.org\n\n%s\n", cases[i].body);
		struct tmpl *t = compile(text.data, &err);
		CHECK(t != NULL);
		if (t == NULL) {
			fprintf(stderr, "  \"%s\": %s\n", cases[i].body, err.data);
			buf_free(&text);
			continue;
		}
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		struct tree tr = {0};
		walk(&tr, msg.data, msg.len, 0);
		CHECK(!tr.bad && tr.n == 1);
		if (tr.n == 1) {
			struct buf want = BUF_INIT;
			buf_printf(&want, "%s\n", cases[i].want);
			CHECK_STR_EQ(tr.leaves[0].text.data, want.data);
			buf_free(&want);
		}
		tree_free(&tr);
		tmpl_free(t);
		buf_free(&text);
	}

	/* The exact column name wins over one that differs in case. */
	char *cols2[] = {"Code", "code"};
	const char *tpl = "From: a@example.org\n\n{{code}} {{Code}} {{CODE}}\n";
	struct tmpl *t = tmpl_compile(tpl, strlen(tpl), "t.eml", cols2, 2, &err);
	CHECK(t != NULL);
	if (t != NULL) {
		char *vals[] = {"upper", "lower"};
		size_t lens[] = {5, 5};
		struct tmpl_args a = r.args;
		a.values = vals;
		a.lens = lens;
		struct tmpl_result res = {BUF_INIT, BUF_INIT};
		buf_reset(&msg);
		CHECK_INT_EQ(tmpl_render(t, &a, &msg, &res, &err), 0);
		CHECK(strstr(buf_cstr(&msg), "\r\n\r\nlower upper upper\r\n") != NULL);
		buf_free(&res.from_addr);
		buf_free(&res.message_id);
		tmpl_free(t);
	}
	buf_free(&err);
	buf_free(&msg);
}

static void
test_compile_errors(void)
{
	/* Unknown columns, with the line where they are. */
	CHECK(fails_with("From: a@example.org\nSubject: {{nosuch}}\n\nx\n",
			 "t.eml:2: ", "{{nosuch}} names no column"));
	CHECK(fails_with("From: a@example.org\n\nline 3\nline 4 {{ nosuch }}\n",
			 "t.eml:4: ", "{{nosuch}}"));
	/* In a folded header: the line the placeholder is on. */
	CHECK(fails_with("From: a@example.org\nSubject: hello\n  {{nosuch}}\n\nx\n",
			 "t.eml:3: ", "nosuch"));
	CHECK(fails_with("From: a@example.org\nSubject: a\n b\n\tc {{name}} {{bad}}\n\nx\n",
			 "t.eml:4: ", "bad"));
	CHECK(fails_with("From: a@example.org\nSubject:\n {{bad}}\n\nx\n", "t.eml:3: ", "bad"));
	/* After a folded header, the count goes on. */
	CHECK(fails_with("From: a@example.org\nX-A: one\n two\n three\nX-B: {{bad}}\n\nx\n",
			 "t.eml:5: ", "bad"));
	/* A name shown in an error stays on one line, and short. */
	CHECK(fails_with("From: a@example.org\n\n{{a\rb}}\n", "t.eml:3: ", "{{a?b}} names"));
	CHECK(fails_with(
	    "From: "
	    "a@example.org\n\n{{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaa}}\n",
	    "t.eml:3: ", "aaaa...}} names"));
	/* Unterminated, empty. */
	CHECK(fails_with("From: a@example.org\n\nHello {{name\n", "t.eml:3: ", "unterminated"));
	CHECK(fails_with("From: a@example.org\n\nHello {{name\n}}\n", "t.eml:3: ", "unterminated"));
	CHECK(fails_with("From: a@example.org\n\nHello {{{name}}\n", "t.eml:3: ", "unterminated"));
	CHECK(fails_with("From: a@example.org\n\nHello {{", "t.eml:3: ", "unterminated"));
	CHECK(
	    fails_with("From: a@example.org\nSubject: {{name\n\nx\n", "t.eml:2: ", "unterminated"));
	CHECK(fails_with("From: a@example.org\nSubject: x\n {{name\n\nx\n",
			 "t.eml:3: ", "unterminated"));
	CHECK(fails_with("From: a@example.org\n\n\n{{}}\n", "t.eml:4: ", "empty placeholder"));
	CHECK(fails_with("From: a@example.org\n\n{{ }}\n", "t.eml:3: ", "empty placeholder"));
	CHECK(fails_with("From: a@example.org\n\n{{|x}}\n", "t.eml:3: ", "empty placeholder"));
	CHECK(fails_with("From: a@example.org\n\n{{{}}}\n", "t.eml:3: ", "empty placeholder"));
	/* No nesting: the default would be "{{name" and "{{name}}" would
	 * go out as it is. */
	CHECK(fails_with("From: a@example.org\n\nHi\n{{note|{{name}}}}\n", "t.eml:4: ", "nest"));
	CHECK(fails_with("From: a@example.org\nSubject: {{note|{{name}}}}\n\nx\n",
			 "t.eml:2: ", "nest"));
	CHECK(fails_with("From: a@example.org\n\n{{{{name}}}}\n", "t.eml:3: ", "no column"));

	/* In the second MIME part, and in its header. */
	static const char two_parts[] = "From: a@example.org\n"
					"Content-Type: multipart/alternative; boundary=b\n"
					"\n"
					"--b\n"
					"Content-Type: text/plain\n"
					"\n"
					"{{name}}\n"
					"--b\n"
					"Content-Type: text/html\n"
					"\n"
					"<p>\n"
					"{{nosuch}}\n"
					"--b--\n";
	CHECK(fails_with(two_parts, "t.eml:12: ", "nosuch"));
	CHECK(fails_with("From: a@example.org\n"
			 "Content-Type: multipart/alternative; boundary=b\n"
			 "\n"
			 "--b\n"
			 "\n"
			 "one\n"
			 "--b\n"
			 "Content-Disposition: inline\n"
			 "Content-Type: text/plain; charset=iso-8859-1\n"
			 "\n"
			 "two\n"
			 "--b--\n",
			 "t.eml:9: ", "iso-8859-1"));
	CHECK(fails_with("From: a@example.org\nContent-Type: text/plain; charset=ISO-8859-1\n\nx\n",
			 "t.eml:2: ", "charset"));
	/* Nested, the inner one's error. */
	CHECK(fails_with("From: a@example.org\n"
			 "Content-Type: multipart/mixed; boundary=outer\n"
			 "\n"
			 "--outer\n"
			 "Content-Type: multipart/alternative; boundary=inner\n"
			 "\n"
			 "--inner\n"
			 "\n"
			 "fine\n"
			 "--inner\n"
			 "Content-Type: text/html\n"
			 "\n"
			 "{{broken\n"
			 "--inner--\n"
			 "--outer--\n",
			 "t.eml:13: ", "unterminated"));

	/* Not UTF-8: the line of the first bad byte. */
	CHECK(fails_with("From: a@example.org\nSubject: ok\n\nfine\ncaf\xe9\n",
			 "t.eml:5: ", "UTF-8"));
	CHECK(fails_with("From: a@example.org\nSubject: caf\xe9\n\nx\n", "t.eml:2: ", "UTF-8"));
	CHECK(fails_with("From: a@example.org\r\n\r\n\xc3\r\n", "t.eml:3: ", "UTF-8"));
	CHECK(fails_with("\xef\xbf\xbe\xed\xa0\x80\n", "t.eml:1: ", "UTF-8")); /* surrogate */
	CHECK(fails_with("From: a@example.org\n\n\xc0\xaf\n", "t.eml:3: ", "UTF-8"));
	/* A base64 text part that decodes to something else than UTF-8. */
	CHECK(fails_with("From: a@example.org\nContent-Transfer-Encoding: base64\n\n6Q==\n",
			 "t.eml:", "UTF-8"));
	CHECK(
	    fails_with("From: a@example.org\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n",
		       "t.eml:", "UTF-8"));
	CHECK(fails_with("From: a@example.org\nContent-Transfer-Encoding: base64\n\n!!!!\n",
			 "t.eml:4: ", "base64"));
	CHECK(fails_with("From: a@example.org\nContent-Transfer-Encoding: x-uuencode\n\nx\n",
			 "t.eml:", "Content-Transfer-Encoding"));

	/* Cc and Bcc: every message goes to its recipient only. */
	CHECK(fails_with("From: a@example.org\nSubject: x\nBcc: spy@example.org\n\nx\n",
			 "t.eml:3: ", "Bcc"));
	CHECK(fails_with("From: a@example.org\ncc: copy@example.org\n\nx\n", "t.eml:2: ", "cc"));
	CHECK(fails_with("From: a@example.org\nCC:\n copy@example.org\n\nx\n", "t.eml:2: ", "CC"));

	/* Multipart structure. */
	CHECK(fails_with("From: a@example.org\n"
			 "Content-Type: multipart/alternative; boundary=b\n"
			 "\n"
			 "--b\n"
			 "Content-Type: text/plain\n"
			 "\n"
			 "x\n",
			 "t.eml:2: ", "closing boundary"));
	CHECK(fails_with("From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n",
			 "t.eml:2: ", "closing boundary"));
	CHECK(
	    fails_with("From: a@example.org\nContent-Type: multipart/mixed; boundary=b\n\n--b--\n",
		       "t.eml:2: ", "no parts"));
	CHECK(fails_with("From: a@example.org\nContent-Type: multipart/mixed\n\n--b\n\nx\n--b--\n",
			 "t.eml:2: ", "boundary"));
	CHECK(fails_with("From: a@example.org\nContent-Type: multipart/mixed; boundary=\"\"\n\nx\n",
			 "t.eml:2: ", "boundary"));
	CHECK(fails_with("From: a@example.org\nContent-Type: multipart/mixed; boundary=\"b\n\nx\n",
			 "t.eml:2: ", "Content-Type"));
	CHECK(fails_with("From: a@example.org\nContent-Type: textplain\n\nx\n",
			 "t.eml:2: ", "Content-Type"));
	CHECK(fails_with("From: a@example.org\nContent-Type: text/plain(x)\n\nx\n",
			 "t.eml:2: ", "Content-Type"));
	CHECK(fails_with("From: a@example.org\n"
			 "Content-Type: multipart/mixed; boundary=b\n"
			 "\n"
			 "--b\n"
			 "not a header\n"
			 "\n"
			 "x\n"
			 "--b--\n",
			 "t.eml:5: ", "header"));
	/* Too deep. */
	struct buf deep = BUF_INIT;
	buf_append_str(&deep, "From: a@example.org\n");
	for (int i = 0; i < 12; i++)
		buf_printf(&deep, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
	buf_append_str(&deep, "\nx\n");
	for (int i = 11; i >= 0; i--)
		buf_printf(&deep, "--b%d--\n", i);
	CHECK(fails_with(deep.data, "t.eml:", "deep"));
	buf_free(&deep);

	/* Header lines. */
	CHECK(fails_with("Hello world\n\nbody\n", "t.eml:1: ", "header"));
	CHECK(fails_with(" folded first\n\nbody\n", "t.eml:1: ", "header"));
	CHECK(fails_with("From: a@example.org\n: no name\n\nx\n", "t.eml:2: ", "header"));
	CHECK(fails_with("From: a@example.org\nBad Name: x\n\nx\n", "t.eml:2: ", "header"));
	CHECK(fails_with("From: a@example.org\nSubject: a\rb\n\nx\n", "t.eml:2: ", "CR"));
	CHECK(fails_with("\n\nbody only\n", "t.eml:1: ", "header"));
	struct buf longname = BUF_INIT;
	buf_append_str(&longname, "From: a@example.org\nX-");
	for (int i = 0; i < 2000; i++)
		buf_append_char(&longname, 'a');
	buf_append_str(&longname, ": v\n\nx\n");
	CHECK(fails_with(longname.data, "t.eml:2: ", "name"));
	buf_free(&longname);
	/* One From, one Subject, one Reply-To. */
	CHECK(fails_with("From: a@example.org\nSubject: one\nSubject: two\n\nx\n",
			 "t.eml:3: ", "Subject"));
	CHECK(fails_with("From: a@example.org\nfrom: b@example.org\n\nx\n", "t.eml:2: ", "from"));
	CHECK(fails_with(
	    "From: a@example.org\nReply-To: a@example.org\nReply-To: b@example.org\n\nx\n",
	    "t.eml:3: ", "Reply-To"));
	/* A literal From or Reply-To is checked once, at compile time. */
	CHECK(fails_with("Subject: x\nFrom: not an address\n\nx\n", "t.eml:2: ", "From"));
	CHECK(fails_with("From: a@example.org\nReply-To: <>\n\nx\n", "t.eml:2: ", "Reply-To"));
	CHECK(fails_with("From: caf\xc3\xa9@example.org\n\nx\n", "t.eml:1: ", "ASCII"));
	/* Part headers that would be written out again must be ASCII. */
	CHECK(fails_with("From: a@example.org\n"
			 "Content-Type: multipart/mixed; boundary=b\n"
			 "\n"
			 "--b\n"
			 "Content-Type: image/png; name=\"caf\xc3\xa9.png\"\n"
			 "Content-Transfer-Encoding: base64\n"
			 "\n"
			 "iVBORw0KGgo=\n"
			 "--b--\n",
			 "t.eml:5: ", "ASCII"));
	CHECK(fails_with("From: a@example.org\n"
			 "Content-Type: multipart/mixed; boundary=b\n"
			 "\n"
			 "--b\n"
			 "Content-Type: image/png\n"
			 "Content-Transfer-Encoding: base 64\n"
			 "\n"
			 "iVBORw0KGgo=\n"
			 "--b--\n",
			 "t.eml:6: ", "Content-Transfer-Encoding"));
	/* Placeholders where nothing is substituted would go out as they are. */
	CHECK(fails_with("From: a@example.org\nContent-Type: text/plain; x={{name}}\n\nx\n",
			 "t.eml:2: ", "Content-Type"));
	CHECK(fails_with("From: a@example.org\n"
			 "Content-Type: multipart/mixed; boundary=b\n"
			 "\n"
			 "--b\n"
			 "Content-Type: text/plain\n"
			 "Content-Disposition: attachment;\n"
			 " filename=\"{{name}}.txt\"\n"
			 "\n"
			 "x\n"
			 "--b--\n",
			 "t.eml:7: ", "MIME part Content-Disposition"));
	/* An 8-bit attachment cannot be passed through. */
	CHECK(fails_with("From: a@example.org\n"
			 "Content-Type: multipart/mixed; boundary=b\n"
			 "\n"
			 "--b\n"
			 "Content-Type: text/calendar\n"
			 "\n"
			 "caf\xc3\xa9\n"
			 "--b--\n",
			 "t.eml:", "7-bit"));

	/* Whole-file errors name the file. */
	struct buf err = BUF_INIT;
	CHECK(strncmp(compile_error("", &err), "t.eml: ", 7) == 0);
	CHECK(tmpl_compile("From: a@b.org\n\nx\0y\n", 18, "t.eml", columns, NCOL, &err) == NULL);
	CHECK(strncmp(buf_cstr(&err), "t.eml", 5) == 0);
	buf_free(&err);
}

static void
test_replaced_headers(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, v = BUF_INIT;
	struct tmpl *t = compile("To: Someone <someone@example.org>\n"
				 "Date: Mon, 1 Jan 2001 00:00:00 +0000\n"
				 "Message-ID: <fixed@example.org>\n"
				 "MIME-Version: 1.0\n"
				 "Return-Path: <bounce@example.org>\n"
				 "Received: from x by y\n"
				 "From: a@example.org\n"
				 "To: {{nosuch_is_fine_here}}\n"
				 "X-Keep: kept\n"
				 "\n"
				 "body\n",
				 &err);
	CHECK(t != NULL);
	if (t != NULL) {
		struct row r;
		row_init(&r);
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		CHECK_INT_EQ(header_value(msg.data, msg.len, "To", 0, &v), 1);
		CHECK_STR_EQ(v.data, "Jane Doe <jane@example.org>");
		CHECK_INT_EQ(header_value(msg.data, msg.len, "Date", 0, &v), 1);
		CHECK_STR_EQ(v.data, "Mon, 24 Nov 2025 16:00:00 +0000");
		CHECK_INT_EQ(header_value(msg.data, msg.len, "Message-ID", 0, &v), 1);
		CHECK_INT_EQ(header_value(msg.data, msg.len, "MIME-Version", 0, &v), 1);
		CHECK_INT_EQ(header_value(msg.data, msg.len, "Return-Path", 0, &v), 0);
		CHECK_INT_EQ(header_value(msg.data, msg.len, "Received", 0, &v), 0);
		CHECK_INT_EQ(header_value(msg.data, msg.len, "X-Keep", 0, &v), 1);
		CHECK_INT_EQ(header_value(msg.data, msg.len, "Subject", 0, &v), 0);
		tmpl_free(t);
	}
	/* No From anywhere. */
	t = compile("Subject: x\n\nbody\n", &err);
	CHECK(t != NULL);
	if (t != NULL) {
		struct row r;
		row_init(&r);
		CHECK(!tmpl_has_from(t));
		CHECK_INT_EQ(render(t, &r, &msg, &err), -1);
		CHECK(strstr(buf_cstr(&err), "From") != NULL);
		r.args.from = "x@example.org";
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		tmpl_free(t);
	}
	buf_free(&err);
	buf_free(&msg);
	buf_free(&v);
}

static void
test_header_encoding(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, v = BUF_INIT;
	struct tmpl *t = compile("From: \"Caf\xc3\xa9 Team\" <team@example.org>\n"
				 "Subject: Caf\xc3\xa9 for {{name}} =?not?an?encoded-word?=\n"
				 "X-Note: na\xc3\xafve {{note}}\n"
				 "\n"
				 "x\n",
				 &err);
	CHECK(t != NULL);
	if (t == NULL) {
		fprintf(stderr, "%s\n", err.data);
		return;
	}
	struct row r;
	row_init(&r);
	row_set(&r, NAME, "Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac");
	row_set(&r, NOTE, "\xf0\x9f\x98\x80 ok");
	r.args.to_name = "Jos\xc3\xa9 \"Pepe\" <P>";
	CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
	CHECK(wire_ok(&msg));
	CHECK_STR_EQ(decoded_header(&msg, "Subject", &v),
		     "Caf\xc3\xa9 for Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac =?not?an?encoded-word?=");
	CHECK_STR_EQ(decoded_header(&msg, "X-Note", &v), "na\xc3\xafve \xf0\x9f\x98\x80 ok");
	CHECK(strstr(decoded_header(&msg, "From", &v), "<team@example.org>") != NULL);
	CHECK(strstr(decoded_header(&msg, "To", &v), "<jane@example.org>") != NULL);
	tmpl_free(t);
	buf_free(&err);
	buf_free(&msg);
	buf_free(&v);
}

/* Values with line breaks: refused where they would make a header, fine
 * in the body (where they must not make a header either). */
static void
test_injection(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, v = BUF_INIT;
	struct tmpl *t = compile(plain_template, &err);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	static const char *const evil[] = {"x\r\nBcc: evil@example.com", "x\nBcc: evil@example.com",
					   "x\rBcc: evil@example.com", "\r\n\r\nbody", "x\n"};
	for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
		struct row r;
		row_init(&r);
		row_set(&r, NAME, evil[i]); /* in the Subject */
		row_fix_lens(&r);
		buf_reset(&err);
		CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), -1);
		CHECK(strstr(buf_cstr(&err), "name") != NULL);
		CHECK(strstr(buf_cstr(&err), "line break") != NULL);
		CHECK_INT_EQ(render(t, &r, &msg, &err), -1);
		CHECK(strstr(buf_cstr(&err), "line break") != NULL);

		row_init(&r);
		row_set(&r, CODE, evil[i]); /* in X-Code */
		row_fix_lens(&r);
		buf_reset(&err);
		CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), -1);
		CHECK(strstr(buf_cstr(&err), "code") != NULL);
		CHECK_INT_EQ(render(t, &r, &msg, &err), -1);

		row_init(&r);
		row_set(&r, NOTE, evil[i]); /* in the body only */
		row_fix_lens(&r);
		buf_reset(&err);
		CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), 0);
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		size_t hlen = header_block_len(msg.data, msg.len);
		CHECK(hlen != (size_t)-1);
		if (hlen == (size_t)-1)
			hlen = msg.len;
		CHECK(!has_header_line(msg.data, hlen, "Bcc"));
		CHECK_INT_EQ(header_value(msg.data, hlen, "Subject", 0, &v), 1);
		/* The value is all there, in the body. */
		struct tree tr = {0};
		walk(&tr, msg.data, msg.len, 0);
		CHECK(!tr.bad && tr.n == 1);
		if (tr.n == 1) {
			struct buf want = BUF_INIT, got = BUF_INIT;
			buf_printf(&want, "Hi : %s\n", evil[i]);
			/* A bare CR in a 7-bit body became a line end. */
			for (size_t k = 0; k < want.len; k++)
				if (!(want.data[k] == '\r' && k + 1 < want.len &&
				      want.data[k + 1] == '\n'))
					buf_append_char(&got, want.data[k]);
			const char *txt = tr.leaves[0].text.data;
			if (strcmp(tr.leaves[0].cte, "quoted-printable") == 0) {
				CHECK_STR_EQ(txt, got.data);
			} else {
				for (size_t k = 0; k < got.len; k++)
					if (got.data[k] == '\r')
						got.data[k] = '\n';
				CHECK_STR_EQ(txt, got.data);
			}
			buf_free(&want);
			buf_free(&got);
		}
		tree_free(&tr);
	}
	/* The To: display name too. */
	struct row r;
	row_init(&r);
	r.args.to_name = "Jane\r\nBcc: evil@example.com";
	row_fix_lens(&r);
	buf_reset(&err);
	CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), -1);
	CHECK_INT_EQ(render(t, &r, &msg, &err), -1);
	tmpl_free(t);

	/* From from a column: CR/LF refused, the address checked. */
	t = compile("From: {{name}} <{{email}}>\nSubject: x\n\nbody {{note}}\n", &err);
	CHECK(t != NULL);
	if (t != NULL) {
		CHECK(tmpl_has_from(t));
		CHECK(tmpl_column_in_header(t, EMAIL));
		row_init(&r);
		row_set(&r, NAME, "Jane Doe");
		row_fix_lens(&r);
		CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), 0);
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(strstr(msg.data, "From: Jane Doe <jane@example.org>\r\n") != NULL);
		row_init(&r);
		row_set(&r, EMAIL, "jane@example.org\r\nBcc: evil@example.com");
		row_fix_lens(&r);
		buf_reset(&err);
		CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), -1);
		CHECK_INT_EQ(render(t, &r, &msg, &err), -1);
		row_init(&r);
		row_set(&r, EMAIL, "not an address");
		row_fix_lens(&r);
		buf_reset(&err);
		CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), -1);
		CHECK(strstr(buf_cstr(&err), "From") != NULL);
		row_init(&r);
		row_set(&r, EMAIL, "j\xc3\xa9@example.org");
		row_fix_lens(&r);
		CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), -1);
		CHECK_INT_EQ(render(t, &r, &msg, &err), -1);
		/* With --from, the template's From is not used at all. */
		r.args.from = "ok@example.org";
		buf_reset(&err);
		CHECK_INT_EQ(tmpl_check_row(t, &r.args, &err), 0);
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		tmpl_free(t);
	}
	buf_free(&err);
	buf_free(&msg);
	buf_free(&v);
}

/* A value containing the boundary the renderer would choose. */
static void
test_boundary_collision(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, value = BUF_INIT;
	struct tmpl *t = compile("From: a@example.org\n"
				 "Content-Type: multipart/alternative; boundary=b\n"
				 "\n"
				 "--b\n"
				 "Content-Type: text/plain\n"
				 "\n"
				 "[{{note}}]\n"
				 "--b\n"
				 "Content-Type: text/html\n"
				 "\n"
				 "<p>{{{note}}}</p>\n"
				 "--b--\n",
				 &err);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	struct row r;
	row_init(&r);
	row_set(&r, NOTE, "=_ms_ prefix only");
	CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
	struct tree tr = {0};
	walk(&tr, msg.data, msg.len, 0);
	CHECK(!tr.bad && tr.n == 2 && tr.nboundaries == 1);
	char chosen[80];
	snprintf(chosen, sizeof chosen, "%s", tr.boundaries[0]);
	tree_free(&tr);
	CHECK(strncmp(chosen, "=_ms_", 5) == 0);

	/* Now the value holds that boundary, as a delimiter line of its own
	 * and as a close delimiter. */
	buf_printf(&value, "x\n--%s\ny\n--%s--\nz", chosen, chosen);
	row_init(&r);
	row_set(&r, NOTE, value.data);
	CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
	CHECK(wire_ok(&msg));
	memset(&tr, 0, sizeof tr);
	walk(&tr, msg.data, msg.len, 0);
	CHECK(!tr.bad);
	CHECK_INT_EQ(tr.n, 2);
	CHECK(tr.nboundaries == 1 && strcmp(tr.boundaries[0], chosen) != 0);
	if (tr.n == 2) {
		struct buf want = BUF_INIT;
		buf_printf(&want, "[%s]", value.data);
		CHECK_STR_EQ(tr.leaves[0].text.data, want.data);
		buf_reset(&want);
		buf_printf(&want, "<p>%s</p>", value.data);
		CHECK_STR_EQ(tr.leaves[1].text.data, want.data);
		buf_free(&want);
	}
	tree_free(&tr);
	tmpl_free(t);
	buf_free(&err);
	buf_free(&msg);
	buf_free(&value);
}

static void
test_long_values(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, v = BUF_INIT, big = BUF_INIT, want = BUF_INIT;
	struct tmpl *t = compile("From: a@example.org\n"
				 "Subject: Re: {{name}}\n"
				 "Content-Type: multipart/alternative; boundary=b\n"
				 "\n"
				 "--b\n"
				 "Content-Type: text/plain\n"
				 "\n"
				 "{{note}}\n"
				 "--b\n"
				 "Content-Type: text/html\n"
				 "\n"
				 "<p>{{html}}</p>\n"
				 "--b--\n",
				 &err);
	CHECK(t != NULL);
	if (t == NULL)
		return;
	/* 100 KB on one line: no spaces, some specials, some UTF-8. */
	for (int i = 0; big.len < 100 * 1024; i++)
		buf_append_str(&big, i % 50 == 0 ? "\xc3\xa9&<" : "abcdefghij");
	const char *variants[] = {big.data, NULL};
	/* And 100 KB of words. */
	struct buf words = BUF_INIT;
	while (words.len < 100 * 1024)
		buf_append_str(&words, "lorem ipsum dolor ");
	variants[1] = words.data;
	for (int k = 0; k < 2; k++) {
		struct row r;
		row_init(&r);
		row_set(&r, NAME, variants[k]);
		row_set(&r, NOTE, variants[k]);
		row_set(&r, HTML, variants[k]);
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		buf_reset(&want);
		buf_printf(&want, "Re: %s", variants[k]);
		while (want.len && want.data[want.len - 1] == ' ')
			buf_truncate(&want, want.len - 1);
		CHECK_STR_EQ(decoded_header(&msg, "Subject", &v), want.data);
		struct tree tr = {0};
		walk(&tr, msg.data, msg.len, 0);
		CHECK(!tr.bad && tr.n == 2);
		if (tr.n == 2) {
			CHECK_STR_EQ(tr.leaves[0].cte, "quoted-printable");
			CHECK_STR_EQ(tr.leaves[0].text.data, variants[k]);
			buf_reset(&want);
			buf_append_str(&want, "<p>");
			for (const char *p = variants[k]; *p; p++) {
				if (*p == '&')
					buf_append_str(&want, "&amp;");
				else if (*p == '<')
					buf_append_str(&want, "&lt;");
				else
					buf_append_char(&want, *p);
			}
			buf_append_str(&want, "</p>");
			CHECK_STR_EQ(tr.leaves[1].text.data, want.data);
		}
		tree_free(&tr);
	}
	tmpl_free(t);

	/* A long line written in the template itself, and lines that
	 * matter to SMTP and mbox. */
	struct buf text = BUF_INIT, body = BUF_INIT;
	for (int i = 0; i < 2500; i++)
		buf_append_char(&body, (char)('a' + i % 26));
	buf_append_str(&body, "\n.\n..\nFrom me\n. \ntrailing space \ntab\t\n");
	buf_printf(&text, "From: a@example.org\n\n%s", body.data);
	t = compile(text.data, &err);
	CHECK(t != NULL);
	if (t != NULL) {
		struct row r;
		row_init(&r);
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		struct tree tr = {0};
		walk(&tr, msg.data, msg.len, 0);
		CHECK(!tr.bad && tr.n == 1);
		if (tr.n == 1) {
			CHECK_STR_EQ(tr.leaves[0].cte, "quoted-printable");
			CHECK_STR_EQ(tr.leaves[0].text.data, body.data);
		}
		CHECK(strstr(msg.data, "\r\n.\r\n") == NULL);
		CHECK(strstr(msg.data, "\r\nFrom ") == NULL);
		tree_free(&tr);
		tmpl_free(t);
	}
	buf_free(&text);
	buf_free(&body);
	buf_free(&words);
	buf_free(&err);
	buf_free(&msg);
	buf_free(&v);
	buf_free(&big);
	buf_free(&want);
}

/* Parts that arrive encoded, parts passed through, nesting. */
static void
test_encoded_parts(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, b64 = BUF_INIT, text = BUF_INIT;
	/* "Grüße, {{name}}!\r\nZeile zwei\r\n" in base64, CRLF inside. */
	const char *plain = "Gr\xc3\xbc\xc3\x9f"
			    "e, {{name}}!\r\nZeile zwei\r\n";
	mime_base64_encode(&b64, plain, strlen(plain));
	static const char image[] = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\n"
				    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n";
	buf_printf(&text,
		   "From: a@example.org\n"
		   "Subject: parts\n"
		   "Content-Type: multipart/mixed; boundary=\"outer\"\n"
		   "\n"
		   "preamble is dropped\n"
		   "--outer\n"
		   "Content-Type: multipart/alternative; boundary=inner\n"
		   "\n"
		   "--inner\n"
		   "Content-Type: text/plain; charset=utf-8\n"
		   "Content-Transfer-Encoding: base64\n"
		   "\n"
		   "%s"
		   "--inner\n"
		   "Content-Type: text/html; charset=us-ascii\n"
		   "Content-Transfer-Encoding: Quoted-Printable\n"
		   "\n"
		   "<p>Gr=C3=BC=C3=9Fe, {{name}}! A very long line that was soft-=\n"
		   "broken, =3D sign.</p>\n"
		   "--inner--\n"
		   "--outer\n"
		   "Content-Type: image/png; name=\"dot.png\"\n"
		   "Content-Transfer-Encoding: base64\n"
		   "Content-Disposition: inline; filename=\"dot.png\"\n"
		   "Content-ID: <dot@example.org>\n"
		   "\n"
		   "%s"
		   "--outer\n"
		   "Content-Type: text/plain\n"
		   "Content-Disposition: attachment; filename=\"note.txt\"\n"
		   "\n"
		   "{{note}}\n"
		   "--outer--\n",
		   b64.data, image);
	struct tmpl *t = compile(text.data, &err);
	CHECK(t != NULL);
	if (t == NULL) {
		fprintf(stderr, "%s\n", err.data);
		return;
	}
	struct row r;
	row_init(&r);
	row_set(&r, NAME, "<Jos\xc3\xa9>");
	row_set(&r, NOTE, "attached");
	CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
	CHECK(wire_ok(&msg));
	CHECK(strstr(msg.data, "preamble") == NULL);
	struct tree tr = {0};
	walk(&tr, msg.data, msg.len, 0);
	CHECK(!tr.bad);
	CHECK_INT_EQ(tr.n, 4);
	CHECK_INT_EQ(tr.nboundaries, 2);
	if (tr.n == 4) {
		CHECK_STR_EQ(tr.leaves[0].type, "text/plain");
		CHECK_STR_EQ(tr.leaves[0].text.data, "Gr\xc3\xbc\xc3\x9f"
						     "e, <Jos\xc3\xa9>!\nZeile zwei\n");
		CHECK_STR_EQ(tr.leaves[1].type, "text/html");
		CHECK_STR_EQ(tr.leaves[1].text.data,
			     "<p>Gr\xc3\xbc\xc3\x9f"
			     "e, &lt;Jos\xc3\xa9&gt;! A very long line that "
			     "was soft-broken, = sign.</p>");
		CHECK(strstr(tr.leaves[1].headers.data, "charset=utf-8") != NULL);
		CHECK_STR_EQ(tr.leaves[2].type, "image/png");
		CHECK_STR_EQ(tr.leaves[2].cte, "base64");
		struct buf raw = BUF_INIT;
		mime_base64_decode(&raw, image, strlen(image));
		CHECK(tr.leaves[2].text.len == raw.len &&
		      memcmp(tr.leaves[2].text.data, raw.data, raw.len) == 0);
		CHECK(strstr(tr.leaves[2].headers.data, "Content-ID: <dot@example.org>\r\n") !=
		      NULL);
		CHECK(strstr(tr.leaves[2].headers.data, "filename=\"dot.png\"") != NULL);
		buf_free(&raw);
		CHECK_STR_EQ(tr.leaves[3].text.data, "attached");
		CHECK(strstr(tr.leaves[3].headers.data, "attachment") != NULL);
	}
	tree_free(&tr);
	tmpl_free(t);

	/* A top-level base64 text body. */
	buf_reset(&text);
	buf_printf(&text, "From: a@example.org\nContent-Transfer-Encoding: BASE64\n\n%s", b64.data);
	t = compile(text.data, &err);
	CHECK(t != NULL);
	if (t != NULL) {
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		memset(&tr, 0, sizeof tr);
		walk(&tr, msg.data, msg.len, 0);
		CHECK(!tr.bad && tr.n == 1);
		if (tr.n == 1)
			CHECK_STR_EQ(tr.leaves[0].text.data, "Gr\xc3\xbc\xc3\x9f"
							     "e, <Jos\xc3\xa9>!\nZeile zwei\n");
		tree_free(&tr);
		tmpl_free(t);
	}
	buf_free(&err);
	buf_free(&msg);
	buf_free(&b64);
	buf_free(&text);
}

static void
test_odd_shapes(void)
{
	struct buf err = BUF_INIT, msg = BUF_INIT;
	struct row r;
	row_init(&r);
	row_set(&r, NOTE, "v");

	/* No body at all, with and without the empty line; no final line
	 * end: the message still ends in CRLF. */
	static const char *const shapes[] = {
	    "From: a@example.org",
	    "From: a@example.org\n",
	    "From: a@example.org\n\n",
	    "From: a@example.org\n\nno line end {{note}}",
	    "From: a@example.org\r\n\r\n",
	    "From: a@example.org\n\n\n\n",
	    "From: a@example.org\n\nbare\rcr {{note}}\n",
	};
	for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
		struct tmpl *t = compile(shapes[i], &err);
		CHECK(t != NULL);
		if (t == NULL) {
			fprintf(stderr, "  shape %zu: %s\n", i, err.data);
			continue;
		}
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		struct tree tr = {0};
		walk(&tr, msg.data, msg.len, 0);
		CHECK(!tr.bad && tr.n == 1);
		tree_free(&tr);
		tmpl_free(t);
	}
	/* A value with a bare CR and NULs in the body: quoted-printable. */
	struct tmpl *t = compile("From: a@example.org\n\n[{{note}}]\n", &err);
	CHECK(t != NULL);
	if (t != NULL) {
		row_set_len(&r, NOTE, "a\rb\0c", 5);
		CHECK_INT_EQ(render(t, &r, &msg, &err), 0);
		CHECK(wire_ok(&msg));
		struct tree tr = {0};
		walk(&tr, msg.data, msg.len, 0);
		CHECK(!tr.bad && tr.n == 1);
		if (tr.n == 1) {
			CHECK_STR_EQ(tr.leaves[0].cte, "quoted-printable");
			CHECK(tr.leaves[0].text.len == 8 &&
			      memcmp(tr.leaves[0].text.data, "[a\rb\0c]\n", 8) == 0);
		}
		tree_free(&tr);
		tmpl_free(t);
	}
	buf_free(&err);
	buf_free(&msg);
}

int
main(void)
{
	setenv("TZ", "UTC0", 1);
	tzset();
	test_plain_golden();
	test_alternative();
	test_placeholders();
	test_compile_errors();
	test_replaced_headers();
	test_header_encoding();
	test_injection();
	test_boundary_collision();
	test_long_values();
	test_encoded_parts();
	test_odd_shapes();
	return check_report("template");
}
