/*
 * checktable - the rows of `mailshot-report check` (PASS, WARN, FAIL,
 * TEMP) and their output formats: an aligned text table with "publish:"
 * records under it, TSV with stable columns, JSON.  docs/domcheck.md.
 */
#ifndef MAILSHOT_CHECKTABLE_H
#define MAILSHOT_CHECKTABLE_H

#include <stddef.h>
#include <stdio.h>

#include "buf.h"

enum check_result { CHECK_PASS, CHECK_WARN, CHECK_FAIL, CHECK_TEMP };

struct check_row {
	enum check_result result;
	char *check;   /* "spf", "dkim", "mx-host", ... */
	char *subject; /* "example.org", "s1._domainkey.example.org", ... */
	char *detail;
	char *publish; /* the record to publish, or NULL */
};

struct check_table {
	struct check_row *rows;
	size_t count, cap;
};

/* Adds a row (strings copied; publish may be NULL) and returns it. */
struct check_row *checktable_add(struct check_table *t, enum check_result result, const char *check,
			    const char *subject, const char *publish, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void checktable_free(struct check_table *t);

const char *checktable_result_name(enum check_result r);
/* 1 when any row from index `from` on has result r. */
int checktable_any(const struct check_table *t, size_t from, enum check_result r);
/* The exit code for rows [from, count): 1 any FAIL, else 111 any TEMP,
 * else 0. */
int checktable_exit_code(const struct check_table *t, size_t from);

enum check_format { CHECK_TEXT, CHECK_TSV, CHECK_JSON };
/* "text", "tsv", "json" to *out; -1 for anything else. */
int checktable_format_parse(const char *name, enum check_format *out);
void checktable_print(FILE *out, const struct check_table *t, enum check_format format);

/* Helpers for any output: JSON string (with quotes), HTML text. */
void checktable_json(struct buf *out, const char *s);
void checktable_html(struct buf *out, const char *s);

#endif
