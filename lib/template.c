/*
 * template - compile a message template against a list's columns, render
 * it per recipient.  See template.h.
 *
 * How it works: the template is read once, line ends normalized to LF,
 * split into header fields and body, and the body into MIME parts
 * (multipart nesting up to MAX_DEPTH).  Every header value and every
 * text part is compiled into a list of segments: literal text, or a
 * field reference (column index, default, raw flag).  Non-text parts
 * (images, attachments) are kept verbatim and never substituted.
 * Rendering walks the tree, substitutes, and re-encodes each text part
 * as 7bit or quoted-printable and each header with RFC 2047 as needed,
 * so the template's own transfer encodings do not matter.
 */
#include "template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "mime.h"

#define MAX_DEPTH 8
#define MAX_PARTS 256

struct seg {
	int field;         /* 0: literal text; 1: field reference */
	size_t col;        /* field: column index */
	const char *text;  /* literal, or the default */
	size_t len;        /* its length */
	int has_default;   /* field: {{x|default}} */
	int raw;           /* field: {{{x}}} */
};

struct chunk {
	struct seg *segs;
	size_t n;
	int has_fields;
};

struct header {
	char *name;
	struct chunk value;
	unsigned long line;
	size_t *breaks; /* offsets in the unfolded value where a continuation line began */
	size_t nbreaks;
};

enum part_kind { PART_TEXT, PART_HTML, PART_VERBATIM, PART_MULTIPART };

struct part {
	enum part_kind kind;
	struct header *headers; /* other than Content-Type / -Transfer-Encoding */
	size_t nheaders;
	char *ctype;            /* lower-case type/subtype */
	char *verbatim_ctype;   /* PART_VERBATIM: the original Content-Type value */
	char *verbatim_cte;     /* PART_VERBATIM: the original CTE, or NULL */
	struct chunk body;      /* PART_TEXT, PART_HTML */
	char *raw;              /* PART_VERBATIM: body with CRLF */
	size_t rawlen;
	struct part *children;  /* PART_MULTIPART */
	size_t nchildren;
};

struct tmpl {
	char *name;
	char *text;               /* normalized copy; segments point into it */
	struct header *headers;   /* top-level headers we keep */
	size_t nheaders;
	struct header *from, *reply_to, *subject;
	struct part root;         /* the body structure */
	size_t ncolumns;
	unsigned char *in_header; /* per column */
	char *const *columns;
	size_t nparts;
};

/* Top-level headers that mailshot writes itself or drops. */
static const char *const replaced_headers[] = {
	"To", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Return-Path", "Received", "DKIM-Signature", "Delivered-To", "X-Original-To", NULL,
};

/* ---- compiling ---- */

struct parser {
	const struct tmpl *t;
	struct buf *err;
};

static int
error_at(struct parser *p, unsigned long line, const char *fmt, const char *arg)
{
	buf_printf(p->err, "%s:%lu: ", p->t->name, line);
	buf_printf(p->err, fmt, arg);
	return -1;
}

static int
find_column(const struct tmpl *t, const char *name, size_t len, size_t *col)
{
	for (size_t i = 0; i < t->ncolumns; i++)
		if (strlen(t->columns[i]) == len && memcmp(t->columns[i], name, len) == 0) {
			*col = i;
			return 0;
		}
	for (size_t i = 0; i < t->ncolumns; i++)
		if (strlen(t->columns[i]) == len && strncasecmp(t->columns[i], name, len) == 0) {
			*col = i;
			return 0;
		}
	return -1;
}

static void
chunk_push(struct chunk *c, const struct seg *s)
{
	if ((c->n & 15) == 0)
		c->segs = xrealloc(c->segs, (c->n + 16) * sizeof *c->segs);
	c->segs[c->n++] = *s;
}

static void
trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* The line of offset off in an unfolded header value whose first line is
 * line: unfolding took the line breaks out, breaks[] remembers where. */
static unsigned long
line_of(unsigned long line, const size_t *breaks, size_t nbreaks, size_t off)
{
	for (size_t k = 0; k < nbreaks; k++)
		if (breaks[k] <= off)
			line++;
	return line;
}

/* Compiles text (which lives as long as the template) into segments.
 * line is the line number of text's first line, for messages; breaks
 * (NULL for bodies) are the folds of an unfolded header value. */
static int
compile_chunk(struct parser *p, const char *text, size_t len, unsigned long line,
	      struct chunk *out, int in_header, const size_t *breaks, size_t nbreaks)
{
	struct tmpl *t = (struct tmpl *)p->t;
	size_t i = 0, lit = 0;
	memset(out, 0, sizeof *out);
	while (i < len) {
		if (text[i] == '\n') {
			line++;
			i++;
			continue;
		}
		if (text[i] != '{' || i + 1 >= len || text[i + 1] != '{') {
			i++;
			continue;
		}
		int raw = i + 2 < len && text[i + 2] == '{';
		size_t open = raw ? 3 : 2;
		const char *close = raw ? "}}}" : "}}";
		size_t start = i + open, end = start;
		while (end < len && text[end] != '\n' &&
		       !(text[end] == '}' && end + open <= len &&
			 memcmp(text + end, close, open) == 0))
			end++;
		if (end >= len || text[end] == '\n')
			return error_at(p, line_of(line, breaks, nbreaks, i),
					"unterminated placeholder (no %s on this line)", close);
		const char *name = text + start;
		size_t nlen = end - start;
		/* Placeholders do not nest: in "{{x|{{name}}}}" the default
		 * would be the text "{{name", and "{{name}}" would go out to
		 * every recipient whose x is empty.  Refused, with its line. */
		for (size_t k = 0; k + 1 < nlen; k++)
			if (name[k] == '{' && name[k + 1] == '{')
				return error_at(p, line_of(line, breaks, nbreaks, i),
						"\"{{\" inside a placeholder (placeholders do not "
						"nest; a default is plain text)%s",
						"");
		const char *bar = memchr(name, '|', nlen);
		struct seg s = {0};
		s.field = 1;
		s.raw = raw;
		if (bar != NULL) {
			s.has_default = 1;
			s.text = bar + 1;
			s.len = (size_t)(name + nlen - bar - 1);
			nlen = (size_t)(bar - name);
		}
		trim(&name, &nlen);
		if (nlen == 0)
			return error_at(p, line_of(line, breaks, nbreaks, i),
					"empty placeholder name%s", "");
		if (find_column(t, name, nlen, &s.col) == -1) {
			if (!s.has_default) {
				/* The name is shown on one line of sane length: it
				 * may hold a bare CR or a whole line of text. */
				buf_printf(p->err, "%s:%lu: placeholder {{", t->name,
					   line_of(line, breaks, nbreaks, i));
				size_t shown = nlen > 64 ? 64 : nlen;
				while (shown < nlen && shown > 0 &&
				       ((unsigned char)name[shown] & 0xC0) == 0x80)
					shown--; /* not in the middle of a character */
				for (size_t k = 0; k < shown; k++)
					buf_append_char(p->err, (unsigned char)name[k] < 32 ||
									name[k] == 127
								    ? '?'
								    : name[k]);
				buf_append_str(p->err, shown < nlen ? "...}}" : "}}");
				buf_append_str(p->err, " names no column of the recipient list "
						       "(and has no default)");
				return -1;
			}
			/* Unknown column with a default: always the default. */
			s.col = (size_t)-1;
		}
		if (lit < i) {
			struct seg l = {0};
			l.text = text + lit;
			l.len = i - lit;
			chunk_push(out, &l);
		}
		chunk_push(out, &s);
		out->has_fields = 1;
		if (in_header && s.col != (size_t)-1)
			t->in_header[s.col] = 1;
		i = end + open;
		lit = i;
	}
	if (lit < len) {
		struct seg l = {0};
		l.text = text + lit;
		l.len = len - lit;
		chunk_push(out, &l);
	}
	return 0;
}

static void
html_escape(struct buf *out, const char *s, size_t len)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		const char *rep;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		buf_append(out, s + run, i - run);
		buf_append_str(out, rep);
		run = i + 1;
	}
	buf_append(out, s + run, len - run);
}

static void
render_chunk(const struct chunk *c, const struct tmpl_args *a, int html, struct buf *out)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct seg *s = &c->segs[i];
		if (!s->field) {
			buf_append(out, s->text, s->len);
			continue;
		}
		const char *v = "";
		size_t vl = 0;
		if (s->col != (size_t)-1) {
			v = a->values[s->col];
			vl = a->lens[s->col];
		}
		if (vl == 0 && s->has_default) {
			buf_append(out, s->text, s->len);
		} else if (html && !s->raw) {
			html_escape(out, v, vl);
		} else {
			buf_append(out, v, vl);
		}
	}
}

/* Header lines of an entity: [start, end) of LF-terminated lines.  On
 * return *body points after the empty line (or at end). */
struct rawheader {
	const char *name;
	size_t nlen;
	char *value; /* unfolded, malloc'd */
	size_t vlen;
	unsigned long line;
	size_t *breaks; /* see struct header; malloc'd */
	size_t nbreaks;
};

/* Longest header field name accepted: real ones are far shorter, and a
 * name must leave room for its value on a line of at most 998 octets. */
#define MAX_FIELD_NAME 76

static void
free_rawheaders(struct rawheader *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].value);
		free(h[i].breaks);
	}
	free(h);
}

static int
parse_headers(struct parser *p, const char *s, size_t len, unsigned long line,
	      struct rawheader **out, size_t *nout, size_t *body_off, unsigned long *body_line,
	      int top)
{
	size_t pos = 0, n = 0;
	struct rawheader *h = NULL;
	*out = NULL;
	*nout = 0;
	while (pos < len) {
		const char *ls = s + pos;
		const char *nl = memchr(ls, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - ls) : len - pos;
		if (ll == 0) {
			if (top && n == 0)
				goto bad; /* at this line: no header field at all */
			pos += 1;
			line++;
			break;
		}
		/* A bare CR (CRLF is already LF) would end up as a line break in
		 * the header we write: refuse it here, with its line, rather than
		 * fail every message at rendering. */
		if (memchr(ls, '\r', ll) != NULL) {
			buf_printf(p->err, "%s:%lu: carriage return (CR) in a header field",
				   p->t->name, line);
			goto fail;
		}
		if (ls[0] == ' ' || ls[0] == '\t') {
			if (n == 0)
				goto bad;
			/* Unfold: the line break goes, the whitespace stays; where
			 * it was is kept for the line numbers of errors.  The
			 * length is tracked, not recomputed: thousands of
			 * continuation lines must not cost quadratic time. */
			struct rawheader *last = &h[n - 1];
			size_t old = last->vlen;
			last->value = xrealloc(last->value, old + ll + 1);
			memcpy(last->value + old, ls, ll);
			last->value[old + ll] = '\0';
			last->vlen = old + ll;
			if ((last->nbreaks & 15) == 0)
				last->breaks = xrealloc(last->breaks,
							(last->nbreaks + 16) * sizeof *last->breaks);
			last->breaks[last->nbreaks++] = old;
		} else {
			const char *colon = memchr(ls, ':', ll);
			if (colon == NULL || colon == ls)
				goto bad;
			for (const char *c = ls; c < colon; c++)
				if (*c < 33 || *c > 126)
					goto bad;
			if ((size_t)(colon - ls) > MAX_FIELD_NAME) {
				buf_printf(p->err, "%s:%lu: header field name longer than %d octets",
					   p->t->name, line, MAX_FIELD_NAME);
				goto fail;
			}
			if ((n & 15) == 0)
				h = xrealloc(h, (n + 16) * sizeof *h);
			const char *v = colon + 1;
			size_t vl = ll - (size_t)(v - ls);
			while (vl && (*v == ' ' || *v == '\t'))
				v++, vl--;
			h[n].name = ls;
			h[n].nlen = (size_t)(colon - ls);
			h[n].value = xstrndup(v, vl);
			h[n].vlen = vl;
			h[n].line = line;
			h[n].breaks = NULL;
			h[n].nbreaks = 0;
			n++;
		}
		pos += ll + (nl ? 1 : 0);
		line++;
	}
	if (top && n == 0)
		goto bad;
	*out = h;
	*nout = n;
	*body_off = pos;
	*body_line = line;
	return 0;
fail:
	free_rawheaders(h, n);
	return -1;
bad:
	free_rawheaders(h, n);
	if (top)
		return error_at(p, line,
				"not a message header field (a template is a message: header "
				"fields, an empty line, then the body)%s",
				"");
	return error_at(p, line, "not a MIME part header field%s", "");
}

static int
name_is(const struct rawheader *h, const char *name)
{
	return strlen(name) == h->nlen && strncasecmp(h->name, name, h->nlen) == 0;
}

/* Parses "type/subtype; k=v; k="v"" into a lower-case type and the value
 * of one parameter (boundary, charset).  Returns -1 when malformed. */
static int
parse_ctype(const char *v, char **type, const char *param, char **pvalue)
{
	const char *p = v;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *ts = p;
	while (*p && *p != ';' && *p != ' ' && *p != '\t')
		p++;
	size_t tl = (size_t)(p - ts);
	if (tl == 0 || memchr(ts, '/', tl) == NULL)
		return -1;
	*type = xstrndup(ts, tl);
	for (char *c = *type; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	*pvalue = NULL;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *ks = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		if (*p != '=')
			continue;
		size_t kl = (size_t)(p - ks);
		while (kl && (ks[kl - 1] == ' ' || ks[kl - 1] == '\t'))
			kl--;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		struct buf val = BUF_INIT;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				buf_append_char(&val, *p++);
			}
			if (*p != '"') {
				buf_free(&val);
				/* Nothing half-parsed is handed back. */
				free(*pvalue);
				*pvalue = NULL;
				return -1;
			}
			p++;
		} else {
			while (*p && *p != ';' && *p != ' ' && *p != '\t')
				buf_append_char(&val, *p++);
		}
		if (kl == strlen(param) && strncasecmp(ks, param, kl) == 0 && *pvalue == NULL)
			*pvalue = xstrdup(buf_cstr(&val));
		buf_free(&val);
	}
	return 0;
}

static void free_part(struct part *pt);

/* 1 if s[0..len) is an RFC 2045 token of at most max octets: printable
 * ASCII but space and tspecials. */
static int
is_token(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
			return 0;
	}
	return 1;
}

static int parse_entity(struct parser *p, const char *s, size_t len, unsigned long line,
			struct part *pt, int depth, struct rawheader *h, size_t nh);

/* Keeps the headers of a part other than Content-Type/-Transfer-Encoding
 * (Content-Disposition, Content-ID, ...).  Only the message's own header
 * fields (depth 0) are compiled later; the others go out as they are,
 * so a placeholder in one would reach every recipient unrendered: it is
 * refused, like one in a Content-Type or Content-Transfer-Encoding. */
static int
keep_part_headers(struct parser *p, struct part *pt, struct rawheader *h, size_t nh, int depth)
{
	for (size_t i = 0; i < nh; i++) {
		const char *ph = strstr(h[i].value, "{{");
		int substituted = depth == 0 && !name_is(&h[i], "Content-Type") &&
				  !name_is(&h[i], "Content-Transfer-Encoding");
		if (ph != NULL && !substituted) {
			buf_printf(p->err, "%s:%lu: placeholders are not supported in %s%.*s: "
					   "header fields",
				   p->t->name,
				   line_of(h[i].line, h[i].breaks, h[i].nbreaks,
					   (size_t)(ph - h[i].value)),
				   depth == 0 ? "" : "MIME part ", (int)h[i].nlen, h[i].name);
			return -1;
		}
		if (name_is(&h[i], "Content-Type") || name_is(&h[i], "Content-Transfer-Encoding") ||
		    name_is(&h[i], "MIME-Version"))
			continue;
		if ((pt->nheaders & 15) == 0)
			pt->headers = xrealloc(pt->headers, (pt->nheaders + 16) * sizeof *pt->headers);
		struct header *nh2 = &pt->headers[pt->nheaders++];
		nh2->name = xstrndup(h[i].name, h[i].nlen);
		nh2->line = h[i].line;
		nh2->breaks = h[i].breaks;
		nh2->nbreaks = h[i].nbreaks;
		h[i].breaks = NULL;
		/* The value must outlive h: intern it in a chunk of its own. */
		char *copy = h[i].value;
		h[i].value = NULL;
		struct seg l = {0};
		l.text = copy;
		l.len = h[i].vlen;
		memset(&nh2->value, 0, sizeof nh2->value);
		chunk_push(&nh2->value, &l);
		nh2->value.has_fields = -1; /* marks: segs[0].text is owned */
	}
	return 0;
}

/* ctype_line: the line of the Content-Type that declared the boundary,
 * where errors about the whole body are reported (the line counter has
 * run past the last line by then). */
static int
split_multipart(struct parser *p, const char *s, size_t len, unsigned long line,
		unsigned long ctype_line, const char *boundary, struct part *pt, int depth)
{
	size_t blen = strlen(boundary);
	size_t pos = 0;
	const char *part_start = NULL;
	unsigned long part_line = 0;
	int closed = 0;
	while (pos < len) {
		const char *ls = s + pos;
		const char *nl = memchr(ls, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - ls) : len - pos;
		size_t tl = ll;
		while (tl && (ls[tl - 1] == ' ' || ls[tl - 1] == '\t'))
			tl--;
		int delim = tl >= blen + 2 && ls[0] == '-' && ls[1] == '-' &&
			    memcmp(ls + 2, boundary, blen) == 0;
		int is_close = delim && tl == blen + 4 && ls[blen + 2] == '-' && ls[blen + 3] == '-';
		if (delim && tl != blen + 2 && !is_close)
			delim = 0;
		if (delim) {
			if (part_start != NULL) {
				/* The line break before the delimiter belongs to it. */
				size_t plen = (size_t)(ls - part_start);
				if (plen > 0)
					plen--;
				if (pt->nchildren >= MAX_PARTS)
					return error_at(p, line, "too many MIME parts%s", "");
				pt->children = xrealloc(pt->children,
							(pt->nchildren + 1) * sizeof *pt->children);
				struct part *child = &pt->children[pt->nchildren++];
				memset(child, 0, sizeof *child);
				struct rawheader *h;
				size_t nh, boff;
				unsigned long bline;
				if (parse_headers(p, part_start, plen, part_line, &h, &nh, &boff,
						  &bline, 0) == -1)
					return -1;
				int rc = parse_entity(p, part_start + boff, plen - boff, bline, child,
						      depth + 1, h, nh);
				free_rawheaders(h, nh);
				if (rc == -1)
					return -1;
			}
			if (is_close) {
				closed = 1;
				break;
			}
			part_start = nl ? nl + 1 : s + len;
			part_line = line + 1;
		}
		pos += ll + (nl ? 1 : 0);
		line++;
	}
	if (!closed)
		return error_at(p, ctype_line,
				"multipart body has no closing boundary \"--%s--\"", boundary);
	if (pt->nchildren == 0)
		return error_at(p, ctype_line, "multipart body has no parts%s", "");
	return 0;
}

static int
parse_entity(struct parser *p, const char *s, size_t len, unsigned long line, struct part *pt,
	     int depth, struct rawheader *h, size_t nh)
{
	const char *ctype_value = "text/plain";
	const char *cte = NULL;
	unsigned long ctype_line = line, cte_line = line;
	if (depth > MAX_DEPTH)
		return error_at(p, line, "MIME parts nested too deep%s", "");
	if (++((struct tmpl *)p->t)->nparts > MAX_PARTS)
		return error_at(p, line, "too many MIME parts%s", "");
	for (size_t i = 0; i < nh; i++) {
		if (name_is(&h[i], "Content-Type")) {
			ctype_value = h[i].value;
			ctype_line = h[i].line;
		} else if (name_is(&h[i], "Content-Transfer-Encoding")) {
			cte = h[i].value;
			cte_line = h[i].line;
			/* Trailing blanks are not part of the token. */
			size_t n = h[i].vlen;
			while (n > 0 && (h[i].value[n - 1] == ' ' || h[i].value[n - 1] == '\t'))
				h[i].value[--n] = '\0';
		}
	}
	/* Both values are written out again (a verbatim part's as they are):
	 * they must be ASCII, and the media type and encoding plain tokens
	 * of sane length, or the part could carry 8-bit bytes or a line over
	 * 998 octets into the message. */
	for (const char *c = ctype_value; *c; c++)
		if ((*c < 32 && *c != '\t') || *c == 127 || (unsigned char)*c >= 128)
			return error_at(p, ctype_line,
					"Content-Type must be ASCII (RFC 2231 encodes other "
					"parameter values)%s",
					"");
	if (cte != NULL && !is_token(cte, strlen(cte), 64))
		return error_at(p, cte_line, "malformed Content-Transfer-Encoding \"%s\"", cte);
	char *boundary = NULL;
	if (parse_ctype(ctype_value, &pt->ctype, "boundary", &boundary) == -1)
		return error_at(p, ctype_line, "malformed Content-Type \"%s\"", ctype_value);
	const char *slash = strchr(pt->ctype, '/');
	if (!is_token(pt->ctype, (size_t)(slash - pt->ctype), 127) ||
	    !is_token(slash + 1, strlen(slash + 1), 127)) {
		free(boundary);
		return error_at(p, ctype_line, "malformed Content-Type \"%s\"", ctype_value);
	}
	if (keep_part_headers(p, pt, h, nh, depth) == -1) {
		free(boundary);
		return -1;
	}
	if (strncmp(pt->ctype, "multipart/", 10) == 0) {
		pt->kind = PART_MULTIPART;
		if (boundary == NULL || *boundary == '\0') {
			free(boundary);
			return error_at(p, ctype_line, "multipart Content-Type without a boundary%s",
					"");
		}
		int rc = split_multipart(p, s, len, line, ctype_line, boundary, pt, depth);
		free(boundary);
		return rc;
	}
	free(boundary);

	int is_text = strcmp(pt->ctype, "text/plain") == 0 || strcmp(pt->ctype, "text/html") == 0;
	if (!is_text) {
		/* Verbatim: images, attachments, other text types. */
		pt->kind = PART_VERBATIM;
		pt->verbatim_ctype = xstrdup(ctype_value);
		pt->verbatim_cte = cte ? xstrdup(cte) : NULL;
		struct buf b = BUF_INIT;
		mime_crlf(&b, s, len);
		if (mime_body_needs_encoding(b.data ? b.data : "", b.len)) {
			buf_free(&b);
			return error_at(p, line,
					"a %s part must be 7-bit (base64 or quoted-printable)",
					pt->ctype);
		}
		pt->rawlen = b.len;
		pt->raw = b.data ? b.data : xstrdup("");
		return 0;
	}
	pt->kind = strcmp(pt->ctype, "text/html") == 0 ? PART_HTML : PART_TEXT;
	char *charset = NULL, *dummy = NULL;
	parse_ctype(ctype_value, &dummy, "charset", &charset);
	free(dummy);
	if (charset != NULL && strcasecmp(charset, "utf-8") != 0 &&
	    strcasecmp(charset, "us-ascii") != 0) {
		int rc = error_at(p, ctype_line,
				  "charset \"%s\" is not supported: save the template as UTF-8",
				  charset);
		free(charset);
		return rc;
	}
	free(charset);

	/* A text part that arrives encoded is decoded first, so placeholders
	 * are found in the text the author wrote. */
	const char *text = s;
	size_t tlen = len;
	struct buf decoded = BUF_INIT;
	if (cte != NULL && strcasecmp(cte, "quoted-printable") == 0) {
		mime_qp_decode(&decoded, s, len);
	} else if (cte != NULL && strcasecmp(cte, "base64") == 0) {
		if (mime_base64_decode(&decoded, s, len) == -1) {
			buf_free(&decoded);
			return error_at(p, line, "malformed base64 in a %s part", pt->ctype);
		}
		/* Line ends inside: normalize CRLF to LF like the rest. */
		size_t w = 0;
		for (size_t i = 0; i < decoded.len; i++)
			if (!(decoded.data[i] == '\r' && i + 1 < decoded.len &&
			      decoded.data[i + 1] == '\n'))
				decoded.data[w++] = decoded.data[i];
		buf_truncate(&decoded, w);
	} else if (cte != NULL && strcasecmp(cte, "7bit") != 0 && strcasecmp(cte, "8bit") != 0 &&
		   strcasecmp(cte, "binary") != 0) {
		return error_at(p, line, "unknown Content-Transfer-Encoding \"%s\"", cte);
	}
	if (cte != NULL && (strcasecmp(cte, "quoted-printable") == 0 ||
			    strcasecmp(cte, "base64") == 0)) {
		if (!utf8_valid(decoded.data ? decoded.data : "", decoded.len)) {
			buf_free(&decoded);
			return error_at(p, line, "the %s part is not valid UTF-8", pt->ctype);
		}
		/* Segments point into the text: keep the decoded copy alive by
		 * handing it to the part (freed with it). */
		pt->raw = decoded.data ? decoded.data : xstrdup("");
		pt->rawlen = decoded.len;
		text = pt->raw;
		tlen = pt->rawlen;
		/* Decoded text has no reliable line numbers; report the part's. */
		return compile_chunk(p, text, tlen, line, &pt->body, 0, NULL, 0);
	}
	return compile_chunk(p, text, tlen, line, &pt->body, 0, NULL, 0);
}

static int address_header(struct buf *out, const char *name, const char *mailbox, size_t len,
			  struct buf *addr_out, struct buf *err);

static int
check_literal_address(struct parser *p, const struct header *h)
{
	if (h == NULL || h->value.has_fields)
		return 0;
	struct tmpl_args none = {0};
	struct buf v = BUF_INIT, scratch = BUF_INIT, why = BUF_INIT;
	render_chunk(&h->value, &none, 0, &v);
	int rc = address_header(&scratch, h->name, buf_cstr(&v), v.len, NULL, &why);
	if (rc == -1)
		buf_printf(p->err, "%s:%lu: %s", p->t->name, h->line, buf_cstr(&why));
	buf_free(&v);
	buf_free(&scratch);
	buf_free(&why);
	return rc;
}

struct tmpl *
tmpl_compile(const char *text, size_t len, const char *name, char *const *columns,
	     size_t ncolumns, struct buf *err)
{
	struct tmpl *t = xcalloc(1, sizeof *t);
	struct parser p = {t, err};
	t->name = xstrdup(name);
	t->columns = columns;
	t->ncolumns = ncolumns;
	t->in_header = xcalloc(ncolumns ? ncolumns : 1, 1);

	if (memchr(text, '\0', len) != NULL) {
		buf_printf(err, "%s: contains a NUL byte: not a text message", name);
		goto fail;
	}
	if (!utf8_valid(text, len)) {
		unsigned long line = 1;
		for (size_t i = 0, start = 0; i <= len; i++) {
			if (i == len || text[i] == '\n') {
				if (!utf8_valid(text + start, i - start))
					break;
				line++;
				start = i + 1;
			}
		}
		buf_printf(err, "%s:%lu: not valid UTF-8", name, line);
		goto fail;
	}
	/* Normalize CRLF to LF; segments point into this copy. */
	t->text = xmalloc(len + 1);
	size_t w = 0;
	for (size_t i = 0; i < len; i++)
		if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
			t->text[w++] = text[i];
	t->text[w] = '\0';
	len = w;
	if (len == 0) {
		buf_printf(err, "%s: empty template", name);
		goto fail;
	}

	struct rawheader *h;
	size_t nh, boff;
	unsigned long bline;
	if (parse_headers(&p, t->text, len, 1, &h, &nh, &boff, &bline, 1) == -1)
		goto fail;
	for (size_t i = 0; i < nh; i++) {
		if (name_is(&h[i], "Bcc") || name_is(&h[i], "Cc")) {
			buf_printf(err,
				   "%s:%lu: %.*s: is refused in a template: each message goes "
				   "only to its recipient",
				   name, h[i].line, (int)h[i].nlen, h[i].name);
			free_rawheaders(h, nh);
			goto fail;
		}
	}
	if (parse_entity(&p, t->text + boff, len - boff, bline, &t->root, 0, h, nh) == -1) {
		free_rawheaders(h, nh);
		goto fail;
	}
	/* parse_entity kept every header but Content-*: sort them into ours. */
	free_rawheaders(h, nh);
	struct header *kept = t->root.headers;
	size_t nkept = t->root.nheaders;
	t->root.headers = NULL;
	t->root.nheaders = 0;
	t->headers = xcalloc(nkept ? nkept : 1, sizeof *t->headers);
	for (size_t i = 0; i < nkept; i++) {
		int drop = 0;
		for (const char *const *r = replaced_headers; *r; r++)
			if (strcasecmp(kept[i].name, *r) == 0)
				drop = 1;
		if (drop) {
			free(kept[i].name);
			free((char *)kept[i].value.segs[0].text);
			free(kept[i].value.segs);
			free(kept[i].breaks);
			continue;
		}
		/* Compile the value now that placeholders may be in it.  The
		 * value string stays owned by the header (segs[0] before). */
		char *owned = (char *)kept[i].value.segs[0].text;
		free(kept[i].value.segs);
		struct header *dst = &t->headers[t->nheaders++];
		dst->name = kept[i].name;
		dst->line = kept[i].line;
		dst->breaks = kept[i].breaks;
		dst->nbreaks = kept[i].nbreaks;
		int rc = compile_chunk(&p, owned, strlen(owned), dst->line, &dst->value, 1,
				       dst->breaks, dst->nbreaks);
		/* Remember the owned string as a zero-length literal first (on
		 * failure too: tmpl_free then frees it). */
		dst->value.segs = xrealloc(dst->value.segs,
					   (dst->value.n + 1) * sizeof *dst->value.segs);
		memmove(dst->value.segs + 1, dst->value.segs,
			dst->value.n * sizeof *dst->value.segs);
		dst->value.segs[0] = (struct seg){0, 0, owned, 0, 0, 0};
		dst->value.n++;
		/* From, Reply-To and Subject are written by tmpl_render from
		 * t->from ...; a second one would go out as a duplicate field
		 * (RFC 5322 3.6 allows one), so it is refused. */
		struct header **slot = NULL;
		if (strcasecmp(dst->name, "From") == 0)
			slot = &t->from;
		else if (strcasecmp(dst->name, "Reply-To") == 0)
			slot = &t->reply_to;
		else if (strcasecmp(dst->name, "Subject") == 0)
			slot = &t->subject;
		if (rc == 0 && slot != NULL) {
			if (*slot != NULL)
				rc = error_at(&p, dst->line, "a second %s: header field", dst->name);
			else
				*slot = dst;
		}
		if (rc == -1) {
			for (size_t j = i + 1; j < nkept; j++) {
				free(kept[j].name);
				free((char *)kept[j].value.segs[0].text);
				free(kept[j].value.segs);
				free(kept[j].breaks);
			}
			free(kept);
			goto fail;
		}
	}
	free(kept);
	/* A From or Reply-To without placeholders is the same for every row:
	 * check it now, so that a bad one is reported with its line instead
	 * of failing every message at rendering. */
	if (check_literal_address(&p, t->from) == -1 || check_literal_address(&p, t->reply_to) == -1)
		goto fail;
	return t;
fail:
	tmpl_free(t);
	return NULL;
}

static void
free_header_list(struct header *h, size_t n, int owned_first)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		if (owned_first && h[i].value.n > 0)
			free((char *)h[i].value.segs[0].text);
		free(h[i].value.segs);
		free(h[i].breaks);
	}
	free(h);
}

static void
free_part(struct part *pt)
{
	free_header_list(pt->headers, pt->nheaders, 1);
	free(pt->ctype);
	free(pt->verbatim_ctype);
	free(pt->verbatim_cte);
	free(pt->body.segs);
	free(pt->raw);
	for (size_t i = 0; i < pt->nchildren; i++)
		free_part(&pt->children[i]);
	free(pt->children);
}

void
tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	free_header_list(t->headers, t->nheaders, 1);
	free_part(&t->root);
	free(t->in_header);
	free(t->text);
	free(t->name);
	free(t);
}

int
tmpl_has_from(const struct tmpl *t)
{
	return t->from != NULL;
}

int
tmpl_column_in_header(const struct tmpl *t, size_t col)
{
	return col < t->ncolumns && t->in_header[col];
}

/* ---- rendering ---- */

static int
has_line_break(const char *s, size_t len)
{
	return memchr(s, '\r', len) != NULL || memchr(s, '\n', len) != NULL;
}

static int
render_header_value(const struct tmpl *t, const struct header *h, const struct tmpl_args *a,
		    struct buf *out, struct buf *err)
{
	render_chunk(&h->value, a, 0, out);
	if (has_line_break(out->data ? out->data : "", out->len)) {
		/* Name the culprit: the first field whose value breaks lines.
		 * The template's own value was unfolded, so it has none. */
		for (size_t i = 0; i < h->value.n; i++) {
			const struct seg *s = &h->value.segs[i];
			if (s->field && s->col != (size_t)-1 &&
			    has_line_break(a->values[s->col], a->lens[s->col])) {
				buf_printf(err,
					   "field %zu (%s) contains a line break and is used in the "
					   "%s: header (header injection refused)",
					   s->col + 1, t->columns[s->col], h->name);
				return -1;
			}
		}
		buf_printf(err, "the %s: header contains a line break", h->name);
		return -1;
	}
	return 0;
}

/* Appends "Name: display <addr>\r\n" for a mailbox given as text. */
static int
address_header(struct buf *out, const char *name, const char *mailbox, size_t len,
	       struct buf *addr_out, struct buf *err)
{
	struct buf display = BUF_INIT, address = BUF_INIT, value = BUF_INIT;
	const char *why;
	int rc = -1, utf8 = 0;
	if (addr_split_mailbox(mailbox, len, &display, &address, &why) == -1) {
		buf_printf(err, "%s: \"%.*s\": %s", name, (int)len, mailbox, why);
		goto out;
	}
	if (addr_check(buf_cstr(&address), address.len, ADDR_ALLOW_NODOT, &why, &utf8) == -1) {
		buf_printf(err, "%s: invalid address \"%s\": %s", name, buf_cstr(&address), why);
		goto out;
	}
	/* The address goes into the header as it is (and its domain into
	 * the Message-ID): a non-ASCII one would make the message 8-bit,
	 * which the template promises it never is. */
	if (utf8) {
		buf_printf(err, "%s: address \"%s\" is not ASCII (SMTPUTF8 is not supported)",
			   name, buf_cstr(&address));
		goto out;
	}
	if (display.len > 0) {
		mime_encode_phrase(&value, display.data, display.len);
		buf_append_char(&value, ' ');
	}
	buf_printf(&value, "<%s>", buf_cstr(&address));
	mime_header_structured(out, name, value.data, value.len);
	if (addr_out != NULL) {
		buf_reset(addr_out);
		buf_append(addr_out, address.data ? address.data : "", address.len);
	}
	rc = 0;
out:
	buf_free(&display);
	buf_free(&address);
	buf_free(&value);
	return rc;
}

int
tmpl_check_row(const struct tmpl *t, const struct tmpl_args *a, struct buf *err)
{
	struct buf v = BUF_INIT, scratch = BUF_INIT;
	int rc = 0;
	for (size_t c = 0; c < t->ncolumns && rc == 0; c++) {
		if (t->in_header[c] && has_line_break(a->values[c], a->lens[c])) {
			buf_printf(err,
				   "field %zu (%s) contains a line break and is used in a header "
				   "(header injection refused)",
				   c + 1, t->columns[c]);
			rc = -1;
		}
	}
	if (rc == 0 && a->to_name != NULL && has_line_break(a->to_name, strlen(a->to_name))) {
		buf_printf(err, "the display name for To: contains a line break (header "
				"injection refused)");
		rc = -1;
	}
	const struct header *addr_headers[2] = {a->from ? NULL : t->from,
						a->reply_to ? NULL : t->reply_to};
	for (int i = 0; i < 2 && rc == 0; i++) {
		const struct header *h = addr_headers[i];
		if (h == NULL || !h->value.has_fields)
			continue;
		buf_reset(&v);
		if (render_header_value(t, h, a, &v, err) == -1 ||
		    address_header(&scratch, h->name, buf_cstr(&v), v.len, NULL, err) == -1)
			rc = -1;
	}
	buf_free(&v);
	buf_free(&scratch);
	return rc;
}

static void
format_date(struct buf *out, time_t when)
{
	struct tm tm;
	char s[64];
	localtime_r(&when, &tm);
	/* RFC 5322 date with a numeric zone; English names whatever the locale. */
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(s, sizeof s, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 sign, off / 60, off % 60);
	buf_append_str(out, s);
}

static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int render_part(const struct tmpl *t, const struct part *pt, const struct tmpl_args *a,
		       uint64_t *rnd, struct buf *out, struct buf *err);

/* Appends the part's extra headers (Content-Disposition ...) verbatim. */
static void
part_extra_headers(const struct part *pt, struct buf *out)
{
	for (size_t i = 0; i < pt->nheaders; i++) {
		const struct seg *s = &pt->headers[i].value.segs[0];
		mime_header_unstructured(out, pt->headers[i].name, s->text, s->len);
	}
}

static int
render_leaf_text(const struct part *pt, const struct tmpl_args *a, struct buf *out)
{
	struct buf text = BUF_INIT;
	render_chunk(&pt->body, a, pt->kind == PART_HTML, &text);
	const char *s = text.data ? text.data : "";
	int qp = mime_body_needs_encoding(s, text.len);
	buf_printf(out, "Content-Type: %s; charset=utf-8\r\n", pt->ctype);
	buf_printf(out, "Content-Transfer-Encoding: %s\r\n", qp ? "quoted-printable" : "7bit");
	part_extra_headers(pt, out);
	buf_append_str(out, "\r\n");
	if (qp)
		mime_qp_encode(out, s, text.len);
	else
		mime_crlf(out, s, text.len);
	buf_free(&text);
	return 0;
}

static int
render_part(const struct tmpl *t, const struct part *pt, const struct tmpl_args *a,
	    uint64_t *rnd, struct buf *out, struct buf *err)
{
	switch (pt->kind) {
	case PART_TEXT:
	case PART_HTML:
		return render_leaf_text(pt, a, out);
	case PART_VERBATIM:
		mime_header_structured(out, "Content-Type", pt->verbatim_ctype,
				       strlen(pt->verbatim_ctype));
		if (pt->verbatim_cte)
			buf_printf(out, "Content-Transfer-Encoding: %s\r\n", pt->verbatim_cte);
		part_extra_headers(pt, out);
		buf_append_str(out, "\r\n");
		buf_append(out, pt->raw, pt->rawlen);
		return 0;
	case PART_MULTIPART:
		break;
	}
	struct buf *children = xcalloc(pt->nchildren, sizeof *children);
	int rc = 0;
	for (size_t i = 0; i < pt->nchildren && rc == 0; i++)
		rc = render_part(t, &pt->children[i], a, rnd, &children[i], err);
	if (rc == 0) {
		/* A fresh boundary per message, checked against the content it
		 * encloses (a value could contain any string). */
		char boundary[64];
		for (;;) {
			snprintf(boundary, sizeof boundary, "=_ms_%016llx%08llx",
				 (unsigned long long)next_random(rnd),
				 (unsigned long long)(next_random(rnd) & 0xffffffffULL));
			int clash = 0;
			for (size_t i = 0; i < pt->nchildren && !clash; i++)
				clash = children[i].len > 0 &&
					memmem(children[i].data, children[i].len, boundary,
					       strlen(boundary)) != NULL;
			if (!clash)
				break;
		}
		buf_printf(out, "Content-Type: %s;\r\n boundary=\"%s\"\r\n", pt->ctype, boundary);
		part_extra_headers(pt, out);
		buf_append_str(out, "\r\n");
		buf_append_str(out, "This is a multi-part message in MIME format.\r\n");
		for (size_t i = 0; i < pt->nchildren; i++) {
			buf_printf(out, "\r\n--%s\r\n", boundary);
			buf_append(out, children[i].data, children[i].len);
		}
		buf_printf(out, "\r\n--%s--\r\n", boundary);
	}
	for (size_t i = 0; i < pt->nchildren; i++)
		buf_free(&children[i]);
	free(children);
	return rc;
}

int
tmpl_render(const struct tmpl *t, const struct tmpl_args *a, struct buf *out,
	    struct tmpl_result *res, struct buf *err)
{
	struct buf *from_addr = &res->from_addr;
	struct buf v = BUF_INIT, to = BUF_INIT;
	int rc = -1;
	uint64_t rnd = a->random;
	size_t start = out->len;

	buf_append_str(out, "Date: ");
	format_date(out, a->date);
	buf_append_str(out, "\r\n");

	/* From: the option, else the template's (rendered). */
	if (a->from != NULL) {
		if (address_header(out, "From", a->from, strlen(a->from), from_addr, err) == -1)
			goto out;
	} else if (t->from != NULL) {
		if (render_header_value(t, t->from, a, &v, err) == -1 ||
		    address_header(out, "From", buf_cstr(&v), v.len, from_addr, err) == -1)
			goto out;
	} else {
		buf_printf(err, "no From: address (give --from, or a From: header in %s)",
			   t->name);
		goto out;
	}
	if (a->reply_to != NULL) {
		if (address_header(out, "Reply-To", a->reply_to, strlen(a->reply_to), NULL, err) ==
		    -1)
			goto out;
	} else if (t->reply_to != NULL) {
		buf_reset(&v);
		if (render_header_value(t, t->reply_to, a, &v, err) == -1 ||
		    address_header(out, "Reply-To", buf_cstr(&v), v.len, NULL, err) == -1)
			goto out;
	}
	if (a->to_name != NULL && *a->to_name) {
		if (has_line_break(a->to_name, strlen(a->to_name))) {
			buf_printf(err, "the To: display name contains a line break");
			goto out;
		}
		mime_encode_phrase(&to, a->to_name, strlen(a->to_name));
		buf_append_char(&to, ' ');
	}
	buf_printf(&to, "<%s>", a->to_addr);
	mime_header_structured(out, "To", to.data, to.len);

	buf_reset(&v);
	if (a->subject_prefix != NULL)
		buf_append_str(&v, a->subject_prefix);
	if (t->subject != NULL && render_header_value(t, t->subject, a, &v, err) == -1)
		goto out;
	if (t->subject != NULL || a->subject_prefix != NULL)
		mime_header_unstructured(out, "Subject", v.data ? v.data : "", v.len);
	/* The Message-ID's right side is the From domain: ours to name. */
	const char *at = strrchr(buf_cstr(from_addr), '@');
	buf_reset(&res->message_id);
	buf_printf(&res->message_id, "<%s@%s>", a->message_id_local, at ? at + 1 : "invalid");
	buf_printf(out, "Message-ID: %s\r\n", res->message_id.data);
	buf_append_str(out, "MIME-Version: 1.0\r\n");

	for (size_t i = 0; i < t->nheaders; i++) {
		const struct header *h = &t->headers[i];
		if (h == t->from || h == t->reply_to || h == t->subject)
			continue;
		buf_reset(&v);
		if (render_header_value(t, h, a, &v, err) == -1)
			goto out;
		mime_header_unstructured(out, h->name, v.data ? v.data : "", v.len);
	}
	if (render_part(t, &t->root, a, &rnd, out, err) == -1)
		goto out;
	/* A template whose last line has no line end would give a message
	 * whose last line has none: every line of a message on the wire
	 * ends in CRLF (and SMTP's end of data needs one before the dot). */
	if (out->len - start < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		buf_append_str(out, "\r\n");
	rc = 0;
out:
	buf_free(&v);
	buf_free(&to);
	return rc;
}
