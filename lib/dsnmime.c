/*
 * dsnmime - the MIME side of dsn: header unfolding, Content-Type and its
 * parameters, transfer decoding, HTML to text, and the walk over the
 * MIME tree that collects what dsn.c interprets.  Part of dsn (see
 * dsn.h); not for callers.
 *
 * DESCRIPTION
 *	Why boundaries are looked for line by line with a guess when the
 *	declared one never occurs: bounces are produced by every kind of
 *	software, and a few declare one boundary and use another (or send
 *	parts with no Content-Type at all); a line "--something" followed by
 *	a Content-Type field is a better guess than nothing.  Each multipart
 *	level scans only its own part once, and nesting is capped, so the
 *	walk is linear (times DSN_MAX_DEPTH at worst).
 *
 *	Why the returned message is not walked into: its text is the
 *	campaign's own, and words in it ("unsubscribe", "failed") would be
 *	taken for the bounce's.  Only its header is kept (and, when the
 *	message has no delivery-status of its own, dsn.c walks it once more
 *	for one: a bounce forwarded as an attachment).
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "dsn.h"
#include "dsnint.h"
#include "mime.h"

/* ---- small text helpers ---- */

int
dsn_prefix_nocase(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	if (len < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (dsn_lower((unsigned char)s[i]) != dsn_lower((unsigned char)prefix[i]))
			return 0;
	return 1;
}

/* Case-insensitive search for needle (lower case) in s[0..len). */
const char *
dsn_find_nocase(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0 || len < n)
		return NULL;
	for (size_t i = 0; i + n <= len; i++)
		if (dsn_lower((unsigned char)s[i]) == needle[0] && dsn_prefix_nocase(s + i, len - i, needle))
			return s + i;
	return NULL;
}

void
dsn_trim(const char **s, size_t *len)
{
	while (*len > 0 && dsn_is_space((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len > 0 && dsn_is_space((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* ---- headers ---- */

static int
is_field_name(const char *p, size_t len, size_t *colon)
{
	size_t i = 0;
	while (i < len && p[i] != ':') {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c >= 0x7F)
			break;
		i++;
	}
	/* "Name :" with spaces before the colon is tolerated. */
	size_t j = i;
	while (j < len && (p[j] == ' ' || p[j] == '\t'))
		j++;
	if (i == 0 || j >= len || p[j] != ':')
		return 0;
	*colon = j;
	return 1;
}

/* Ends the field that starts at out[start]: trailing space dropped, LF. */
static void
end_field(struct buf *out, size_t start)
{
	size_t n = out->len;
	while (n > start && out->data[n - 1] == ' ')
		n--;
	buf_truncate(out, n);
	buf_append_char(out, '\n');
}

static void
append_value(struct buf *out, size_t start, const char *p, size_t len)
{
	for (size_t i = 0; i < len && out->len - start < DSN_MAX_FIELD; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < ' ' || c == 0x7F)
			c = ' ';
		if (c == ' ' && out->len > start && out->data[out->len - 1] == ' ')
			continue;
		buf_append_char(out, (char)c);
	}
}

size_t
dsn_unfold_header(const char *p, size_t len, struct buf *out)
{
	size_t off = 0, fields = 0, start = 0;
	int open = 0;

	(void)buf_cstr(out);
	while (off < len) {
		const char *nl = memchr(p + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - p) : len;
		size_t next = nl ? end + 1 : len;
		const char *line = p + off;
		size_t llen = end - off;
		size_t colon;

		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen == 0) {
			off = next;
			break;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (open) {
				const char *v = line;
				size_t vlen = llen;
				dsn_trim(&v, &vlen);
				if (out->len > start && out->data[out->len - 1] != ' ')
					buf_append_char(out, ' ');
				append_value(out, start, v, vlen);
			}
		} else if (is_field_name(line, llen, &colon)) {
			if (open)
				end_field(out, start);
			open = 0;
			if (fields < DSN_MAX_FIELDS) {
				const char *v = line + colon + 1;
				size_t vlen = llen - colon - 1;
				size_t namelen = colon;
				while (namelen > 0 && (line[namelen - 1] == ' ' || line[namelen - 1] == '\t'))
					namelen--;
				dsn_trim(&v, &vlen);
				start = out->len;
				buf_append(out, line, namelen < 256 ? namelen : 256);
				buf_append_str(out, ": ");
				append_value(out, start, v, vlen);
				open = 1;
				fields++;
			}
		} else if (fields == 0 && off == 0 && dsn_prefix_nocase(line, llen, "from ")) {
			/* an mbox "From " line */
		} else {
			break; /* not a header line: the body starts here */
		}
		off = next;
	}
	if (open)
		end_field(out, start);
	return off;
}

int
dsn_header(const struct buf *headers, const char *name, size_t nth, struct buf *out)
{
	size_t nlen = strlen(name);
	const char *p = headers->data, *end;

	if (p == NULL)
		return 0;
	end = p + headers->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) >= nlen + 1 && dsn_prefix_nocase(p, (size_t)(le - p), name) &&
		    p[nlen] == ':') {
			if (nth == 0) {
				const char *v = p + nlen + 1;
				if (v < le && *v == ' ')
					v++;
				buf_append(out, v, (size_t)(le - v));
				return 1;
			}
			nth--;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* The value of the first field called name, into a reset out; 1 if any. */
int
dsn_get_header(const struct buf *headers, const char *name, struct buf *out)
{
	buf_reset(out);
	return dsn_header(headers, name, 0, out);
}

/* "type/subtype" of a Content-Type value, lower case, into out[size]. */
static void
content_type(const char *v, char *out, size_t size)
{
	size_t n = 0;
	while (*v == ' ')
		v++;
	while (*v != '\0' && *v != ';' && !dsn_is_space((unsigned char)*v) && n + 1 < size)
		out[n++] = (char)dsn_lower((unsigned char)*v++);
	out[n] = '\0';
}

/* A parameter of a structured value ("boundary", "report-type"). */
static int
header_param(const char *v, const char *name, struct buf *out)
{
	size_t nlen = strlen(name);
	const char *p = strchr(v, ';');

	while (p != NULL) {
		p++;
		while (*p == ' ')
			p++;
		if (dsn_prefix_nocase(p, strlen(p), name)) {
			const char *q = p + nlen;
			while (*q == ' ')
				q++;
			if (*q == '=') {
				q++;
				while (*q == ' ')
					q++;
				buf_reset(out);
				if (*q == '"') {
					q++;
					while (*q != '\0' && *q != '"') {
						if (*q == '\\' && q[1] != '\0')
							q++;
						buf_append_char(out, *q++);
					}
				} else {
					while (*q != '\0' && *q != ';' && !dsn_is_space((unsigned char)*q))
						buf_append_char(out, *q++);
				}
				return out->len > 0;
			}
		}
		/* Skip to the next ';' outside quotes. */
		int quoted = 0;
		while (*p != '\0' && (quoted || *p != ';')) {
			if (*p == '"')
				quoted = !quoted;
			else if (*p == '\\' && quoted && p[1] != '\0')
				p++;
			p++;
		}
		p = *p == ';' ? p : NULL;
	}
	return 0;
}

/* ---- decoding ---- */

/* Lenient base64: anything outside the alphabet is skipped, so a
 * damaged part still gives what it can. */
static void
base64_lenient(struct buf *out, const char *s, size_t len)
{
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else if (c == '=')
			break;
		else
			continue;
		acc = (acc << 6 | (unsigned)v) & 0xFFFFFF;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_append_char(out, (char)(acc >> bits & 0xFF));
		}
	}
}

/* The body decoded by its Content-Transfer-Encoding, CR LF made LF and
 * NUL a space, appended to out. */
static void
decode_body(struct buf *out, const struct buf *headers, const char *body, size_t len)
{
	struct buf cte = BUF_INIT, tmp = BUF_INIT;
	size_t start = out->len;

	dsn_get_header(headers, "Content-Transfer-Encoding", &cte);
	if (dsn_find_nocase(buf_cstr(&cte), cte.len, "base64")) {
		base64_lenient(&tmp, body, len);
	} else if (dsn_find_nocase(buf_cstr(&cte), cte.len, "quoted-printable")) {
		mime_qp_decode(&tmp, body, len);
	} else {
		buf_append(out, body, len);
		goto done;
	}
	/* Decoded text gets the same line ends as the rest. */
	for (size_t i = 0; i < tmp.len; i++) {
		char c = tmp.data[i];
		if (c == '\r' && i + 1 < tmp.len && tmp.data[i + 1] == '\n')
			continue;
		buf_append_char(out, c == '\0' ? ' ' : c == '\r' ? '\n' : c);
	}
done:
	(void)start;
	buf_free(&cte);
	buf_free(&tmp);
}

/* HTML to prose: tags dropped (block ends become line ends), a few
 * entities decoded.  Enough to find addresses and phrases. */
static void
html_to_text(struct buf *out, const char *s, size_t len)
{
	static const struct {
		const char *name;
		char c;
	} entities[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&nbsp;", ' '},
			{"&quot;", '"'}, {"&#64;", '@'}, {"&#39;", '\''}, {"&apos;", '\''}};

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '<') {
			size_t j = i + 1;
			while (j < len && s[j] != '>')
				j++;
			const char *tag = s + i + 1;
			size_t tlen = j - i - 1;
			if (dsn_prefix_nocase(tag, tlen, "br") || dsn_prefix_nocase(tag, tlen, "/p") ||
			    dsn_prefix_nocase(tag, tlen, "/div") || dsn_prefix_nocase(tag, tlen, "/tr") ||
			    dsn_prefix_nocase(tag, tlen, "/li") || dsn_prefix_nocase(tag, tlen, "p") ||
			    dsn_prefix_nocase(tag, tlen, "/h"))
				buf_append_char(out, '\n');
			else if (dsn_prefix_nocase(tag, tlen, "/td"))
				buf_append_char(out, ' ');
			i = j;
			continue;
		}
		if (s[i] == '&') {
			int done = 0;
			for (size_t k = 0; k < sizeof entities / sizeof entities[0]; k++) {
				size_t n = strlen(entities[k].name);
				if (dsn_prefix_nocase(s + i, len - i, entities[k].name)) {
					buf_append_char(out, entities[k].c);
					i += n - 1;
					done = 1;
					break;
				}
			}
			if (done)
				continue;
		}
		buf_append_char(out, s[i]);
	}
}

/* ---- the MIME walk ---- */

/* Finds a delimiter line "--boundary" at or after off; returns its
 * offset or len; *close says whether it is the closing one, *after where
 * the next part starts. */
static size_t
find_delimiter(const char *p, size_t len, size_t off, const char *b, size_t blen, int *close,
	       size_t *after)
{
	while (off < len) {
		const char *nl = memchr(p + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - p) : len;
		if (end - off >= blen + 2 && p[off] == '-' && p[off + 1] == '-' &&
		    memcmp(p + off + 2, b, blen) == 0) {
			size_t k = off + 2 + blen;
			*close = k + 1 < end && p[k] == '-' && p[k + 1] == '-';
			if (*close)
				k += 2;
			while (k < end && dsn_is_space((unsigned char)p[k]))
				k++;
			if (k == end) {
				*after = nl ? end + 1 : len;
				return off;
			}
		}
		off = nl ? end + 1 : len;
	}
	*close = 1;
	*after = len;
	return len;
}

/* When the declared boundary does not occur: the first "--x" line. */
static int
guess_boundary(const char *p, size_t len, struct buf *out)
{
	size_t off = 0;
	int lines = 0;
	while (off < len && lines < 50) {
		const char *nl = memchr(p + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - p) : len;
		if (end - off > 3 && p[off] == '-' && p[off + 1] == '-' && p[off + 2] != '-' &&
		    end - off < 200) {
			size_t e = end;
			while (e > off && dsn_is_space((unsigned char)p[e - 1]))
				e--;
			buf_reset(out);
			buf_append(out, p + off + 2, e - off - 2);
			return 1;
		}
		off = nl ? end + 1 : len;
		lines++;
	}
	return 0;
}

static void walk_entity(struct dsn_walk *w, const char *p, size_t len, int depth, int top);

static void
walk_multipart(struct dsn_walk *w, const struct buf *hdr, const char *ctv, const char *body,
	       size_t len, int depth)
{
	struct buf boundary = BUF_INIT;
	int close = 0;
	size_t after = 0;

	if (!header_param(ctv, "boundary", &boundary) ||
	    find_delimiter(body, len, 0, boundary.data, boundary.len, &close, &after) == len) {
		if (!guess_boundary(body, len, &boundary)) {
			/* No parts at all: read it as one text part. */
			buf_free(&boundary);
			if (w->text.len < DSN_MAX_TEXT && !w->nested)
				decode_body(&w->text, hdr, body, len);
			return;
		}
	}
	size_t off = find_delimiter(body, len, 0, boundary.data, boundary.len, &close, &after);
	while (off < len && !close) {
		size_t start = after;
		size_t next = find_delimiter(body, len, start, boundary.data, boundary.len, &close,
					     &after);
		size_t end = next;
		/* The line end before a delimiter belongs to it. */
		if (end > start && body[end - 1] == '\n')
			end--;
		if (w->parts++ >= DSN_MAX_PARTS)
			break;
		if (end > start || next < len)
			walk_entity(w, body + start, end > start ? end - start : 0, depth + 1, 0);
		off = next;
	}
	buf_free(&boundary);
}

static void
walk_entity(struct dsn_walk *w, const char *p, size_t len, int depth, int top)
{
	struct buf own = BUF_INIT, ctv = BUF_INIT;
	struct buf *hdr = top ? &w->r->outer_headers : &own;
	char type[64];
	size_t off = dsn_unfold_header(p, len, hdr);
	const char *body = p + off;
	size_t blen = len - off;

	if (dsn_get_header(hdr, "Content-Type", &ctv)) {
		content_type(ctv.data, type, sizeof type);
	} else {
		/* No Content-Type but MIME parts all the same (some sendmail
		 * versions): a "--x" line followed by a Content-Type field. */
		struct buf guess = BUF_INIT;
		strcpy(type, "text/plain");
		if (top && guess_boundary(body, blen, &guess)) {
			const char *at = dsn_find_nocase(body, blen, guess.data);
			const char *nl = at ? memchr(at, '\n', blen - (size_t)(at - body)) : NULL;
			if (nl != NULL &&
			    dsn_prefix_nocase(nl + 1, blen - (size_t)(nl + 1 - body), "content-type:")) {
				strcpy(type, "multipart/mixed");
				buf_reset(&ctv);
				buf_printf(&ctv, "multipart/mixed; boundary=\"%s\"", guess.data);
			}
		}
		buf_free(&guess);
	}
	if (w->nested && strncmp(type, "multipart/", 10) != 0 &&
	    strcmp(type, "message/delivery-status") != 0 &&
	    strcmp(type, "message/global-delivery-status") != 0)
		strcpy(type, "application/x-skipped");

	if (strncmp(type, "multipart/", 10) == 0) {
		if (depth < DSN_MAX_DEPTH)
			walk_multipart(w, hdr, buf_cstr(&ctv), body, blen, depth);
	} else if (strcmp(type, "message/delivery-status") == 0 ||
		   strcmp(type, "message/global-delivery-status") == 0) {
		decode_body(&w->status, hdr, body, blen);
		buf_append_str(&w->status, "\n\n");
		w->have_status = 1;
	} else if (strcmp(type, "message/feedback-report") == 0) {
		decode_body(&w->feedback, hdr, body, blen);
		buf_append_str(&w->feedback, "\n\n");
		w->have_feedback = 1;
	} else if (strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0 ||
		   strcmp(type, "text/rfc822-headers") == 0 ||
		   strcmp(type, "text/rfc822-header") == 0 ||
		   strcmp(type, "message/global-headers") == 0 ||
		   strcmp(type, "message/rfc822-headers") == 0) {
		if (w->inner == NULL && strncmp(type, "message/", 8) == 0) {
			w->inner = body;
			w->inner_len = blen;
			w->inner_depth = depth;
		}
		if (!w->have_orig) {
			struct buf dec = BUF_INIT;
			decode_body(&dec, hdr, body, blen);
			const char *d = dec.data ? dec.data : "";
			size_t dl = dec.len;
			/* Some put blank lines before the returned header. */
			while (dl > 0 && (*d == '\n' || *d == ' '))
				d++, dl--;
			dsn_unfold_header(d, dl, &w->r->orig_headers);
			w->have_orig = w->r->orig_headers.len > 0;
			buf_free(&dec);
		}
	} else if (strncmp(type, "text/", 5) == 0 || type[0] == '\0') {
		if (w->text.len < DSN_MAX_TEXT) {
			if (strcmp(type, "text/html") == 0) {
				struct buf dec = BUF_INIT;
				decode_body(&dec, hdr, body, blen);
				html_to_text(&w->text, dec.data ? dec.data : "", dec.len);
				buf_free(&dec);
			} else {
				decode_body(&w->text, hdr, body, blen);
			}
			buf_append_str(&w->text, "\n\n");
			if (w->text.len > DSN_MAX_TEXT)
				buf_truncate(&w->text, DSN_MAX_TEXT);
		}
	}
	buf_free(&own);
	buf_free(&ctv);
}

void
dsn_walk(struct dsn_walk *w, const char *p, size_t len, int depth, int top)
{
	walk_entity(w, p, len, depth, top);
}
