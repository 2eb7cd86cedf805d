/*
 * template - a campaign's message template: an RFC 5322 message in UTF-8
 * (plain, or MIME multipart with text/plain and text/html parts) with
 * placeholders, compiled once against the recipient list's columns and
 * rendered once per recipient into a complete, 7-bit clean message.
 *
 * Placeholders: {{field}} (the row's value), {{field|default}} (default
 * when the value is empty), {{{field}}} (raw: not HTML-escaped).  In
 * text/html parts values are HTML-escaped; in headers they are checked
 * for CR/LF (refused: no header injection) and RFC 2047-encoded.  Field
 * names match the list's column names exactly, else case-insensitively.
 *
 * Promises: every error names the template file and line; a placeholder
 * naming a column the list lacks (without a default) is refused at
 * compile time; rendered messages have CRLF line ends, no line over 998
 * octets, and only ASCII (see docs/mailshot-enqueue.1, TEMPLATES).
 */
#ifndef MAILSHOT_TEMPLATE_H
#define MAILSHOT_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

struct tmpl;

/* Compiles template text (name for messages) against the column names.
 * Returns NULL with err set ("name:LINE: what") when the template is
 * broken or names an unknown column. */
struct tmpl *tmpl_compile(const char *text, size_t len, const char *name, char *const *columns,
			  size_t ncolumns, struct buf *err);
void tmpl_free(struct tmpl *t);

/* The template's From: (rendered for a row by tmpl_render), "" if none. */
int tmpl_has_from(const struct tmpl *t);

/* 1 if column col is used in a header (so CR/LF in it must be refused). */
int tmpl_column_in_header(const struct tmpl *t, size_t col);

struct tmpl_args {
	char *const *values; /* the row, indexed like the compile-time columns */
	const size_t *lens;
	const char *to_name;        /* display name for To:, may be NULL */
	const char *to_addr;        /* the recipient */
	const char *from;           /* "Name <addr>" overriding the template's From, or NULL */
	const char *reply_to;       /* overriding Reply-To, or NULL */
	const char *subject_prefix; /* e.g. "[TEST] ", or NULL */
	const char *message_id_local; /* left of the @ of the Message-ID */
	time_t date;
	uint64_t random; /* seeds the MIME boundary */
};

/* Checks what can be checked of a row without rendering the body: no CR
 * or LF in any value that ends up in a header; From/Reply-To that use
 * placeholders give a valid address.  Returns 0, or -1 with err set
 * naming the field ("field \"name\": contains a line break"). */
int tmpl_check_row(const struct tmpl *t, const struct tmpl_args *a, struct buf *err);

struct tmpl_result {
	struct buf from_addr;  /* the From address, for the envelope sender */
	struct buf message_id; /* "<local@domain of From>" */
};

/* Renders the message for one row into out (appended) and fills res
 * (its bufs are reset first; the caller frees them).  Returns 0, or -1
 * with err set. */
int tmpl_render(const struct tmpl *t, const struct tmpl_args *a, struct buf *out,
		struct tmpl_result *res, struct buf *err);

#endif
