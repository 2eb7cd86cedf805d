/*
 * checktable - check rows and their formats.  See checktable.h.
 *
 * Details and records carry text from DNS (outside input): every format
 * escapes it for its medium, and the text table replaces control
 * characters and bytes that are not UTF-8 with '?', so nothing from a
 * zone can move a terminal's cursor.
 */
#include "checktable.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct check_row *
checktable_add(struct check_table *t, enum check_result result, const char *check,
	       const char *subject, const char *publish, const char *fmt, ...)
{
	if (t->count == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->rows = xrealloc(t->rows, t->cap * sizeof *t->rows);
	}
	struct check_row *r = &t->rows[t->count++];
	struct buf detail = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&detail, fmt, ap);
	va_end(ap);
	r->result = result;
	r->check = xstrdup(check);
	r->subject = xstrdup(subject);
	r->detail = xstrdup(buf_cstr(&detail));
	r->publish = publish ? xstrdup(publish) : NULL;
	buf_free(&detail);
	return r;
}

void
checktable_free(struct check_table *t)
{
	for (size_t i = 0; i < t->count; i++) {
		free(t->rows[i].check);
		free(t->rows[i].subject);
		free(t->rows[i].detail);
		free(t->rows[i].publish);
	}
	free(t->rows);
	t->rows = NULL;
	t->count = t->cap = 0;
}

const char *
checktable_result_name(enum check_result r)
{
	static const char *const names[] = {"PASS", "WARN", "FAIL", "TEMP"};
	return names[r];
}

int
checktable_any(const struct check_table *t, size_t from, enum check_result r)
{
	for (size_t i = from; i < t->count; i++)
		if (t->rows[i].result == r)
			return 1;
	return 0;
}

int
checktable_exit_code(const struct check_table *t, size_t from)
{
	if (checktable_any(t, from, CHECK_FAIL))
		return 1;
	if (checktable_any(t, from, CHECK_TEMP))
		return 111;
	return 0;
}

int
checktable_format_parse(const char *name, enum check_format *out)
{
	if (strcmp(name, "text") == 0)
		*out = CHECK_TEXT;
	else if (strcmp(name, "tsv") == 0)
		*out = CHECK_TSV;
	else if (strcmp(name, "json") == 0)
		*out = CHECK_JSON;
	else
		return -1;
	return 0;
}

/* The length of the valid UTF-8 sequence at s (1..4) and its code point,
 * or 0 when the bytes are not UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated). */
static size_t
utf8_next(const unsigned char *s, size_t len, unsigned long *cp)
{
	unsigned c = s[0];
	size_t n;
	unsigned long v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		n = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/* Text for a terminal: controls (C0, DEL, C1) and non-UTF-8 become '?'. */
static void
plain(struct buf *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text);
	for (size_t i = 0; i < len;) {
		unsigned long cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			buf_append_char(out, '?');
			i += n ? n : 1;
			continue;
		}
		buf_append(out, s + i, n);
		i += n;
	}
}

/* Display width of sanitized text: code points (good enough for the
 * ASCII that fills these columns). */
static size_t
width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

void
checktable_json(struct buf *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text);
	buf_append_char(out, '"');
	for (size_t i = 0; i < len;) {
		unsigned long cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		if (n == 0) {
			buf_append_str(out, "\\ufffd");
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\')
			buf_printf(out, "\\%c", (char)cp);
		else if (cp == '\n')
			buf_append_str(out, "\\n");
		else if (cp == '\t')
			buf_append_str(out, "\\t");
		else if (cp < 0x20 || cp == 0x7f)
			buf_printf(out, "\\u%04lx", cp);
		else
			buf_append(out, s + i, n);
		i += n;
	}
	buf_append_char(out, '"');
}

void
checktable_html(struct buf *out, const char *text)
{
	struct buf clean = BUF_INIT;
	plain(&clean, text);
	for (const char *s = buf_cstr(&clean); *s; s++) {
		switch (*s) {
		case '<':
			buf_append_str(out, "&lt;");
			break;
		case '>':
			buf_append_str(out, "&gt;");
			break;
		case '&':
			buf_append_str(out, "&amp;");
			break;
		case '"':
			buf_append_str(out, "&quot;");
			break;
		case '\'':
			buf_append_str(out, "&#39;");
			break;
		default:
			buf_append_char(out, *s);
		}
	}
	buf_free(&clean);
}

static void
tsv_field(struct buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\t':
			buf_append_str(out, "\\t");
			break;
		case '\n':
			buf_append_str(out, "\\n");
			break;
		case '\r':
			buf_append_str(out, "\\r");
			break;
		case '\\':
			buf_append_str(out, "\\\\");
			break;
		default:
			buf_append_char(out, *s);
		}
	}
}

static void
print_text(struct buf *out, const struct check_table *t)
{
	size_t w = strlen("CHECK");
	struct buf *names = xcalloc(t->count ? t->count : 1, sizeof *names);
	for (size_t i = 0; i < t->count; i++) {
		struct buf full = BUF_INIT;
		buf_printf(&full, "%s %s", t->rows[i].check, t->rows[i].subject);
		plain(&names[i], buf_cstr(&full));
		buf_cstr(&names[i]);
		buf_free(&full);
		if (width(names[i].data) > w)
			w = width(names[i].data);
	}
	if (w > 64)
		w = 64;
	buf_printf(out, "%-*s  %-6s %s\n", (int)w, "CHECK", "RESULT", "DETAIL");
	for (size_t i = 0; i < t->count; i++) {
		size_t nw = width(names[i].data);
		buf_append_str(out, names[i].data);
		for (size_t k = nw; k < w; k++)
			buf_append_char(out, ' ');
		buf_printf(out, "  %-6s ", checktable_result_name(t->rows[i].result));
		plain(out, t->rows[i].detail);
		buf_append_char(out, '\n');
	}
	for (size_t i = 0; i < t->count; i++) {
		if (t->rows[i].publish == NULL)
			continue;
		buf_printf(out, "\npublish: %s\n  ", names[i].data);
		plain(out, t->rows[i].publish);
		buf_append_char(out, '\n');
	}
	for (size_t i = 0; i < t->count; i++)
		buf_free(&names[i]);
	free(names);
}

void
checktable_print(FILE *f, const struct check_table *t, enum check_format format)
{
	struct buf out = BUF_INIT;
	switch (format) {
	case CHECK_TEXT:
		print_text(&out, t);
		break;
	case CHECK_TSV:
		buf_append_str(&out, "check\tsubject\tresult\tdetail\tpublish\n");
		for (size_t i = 0; i < t->count; i++) {
			const struct check_row *r = &t->rows[i];
			tsv_field(&out, r->check);
			buf_append_char(&out, '\t');
			tsv_field(&out, r->subject);
			buf_printf(&out, "\t%s\t", checktable_result_name(r->result));
			tsv_field(&out, r->detail);
			buf_append_char(&out, '\t');
			tsv_field(&out, r->publish ? r->publish : "");
			buf_append_char(&out, '\n');
		}
		break;
	case CHECK_JSON:
		buf_append_str(&out, "[");
		for (size_t i = 0; i < t->count; i++) {
			const struct check_row *r = &t->rows[i];
			buf_append_str(&out, i ? ",\n {\"check\": " : "\n {\"check\": ");
			checktable_json(&out, r->check);
			buf_append_str(&out, ", \"subject\": ");
			checktable_json(&out, r->subject);
			buf_printf(&out, ", \"result\": \"%s\", \"detail\": ",
				   checktable_result_name(r->result));
			checktable_json(&out, r->detail);
			buf_append_str(&out, ", \"publish\": ");
			if (r->publish)
				checktable_json(&out, r->publish);
			else
				buf_append_str(&out, "null");
			buf_append_str(&out, "}");
		}
		buf_append_str(&out, t->count ? "\n]\n" : "]\n");
		break;
	}
	fwrite(out.data ? out.data : "", 1, out.len, f);
	buf_free(&out);
}
