/*
 * buf - one small growable byte buffer, used everywhere text is built.
 *
 * A struct buf owns its memory.  The bytes are always followed by a NUL
 * (not counted in len) so that text can be handed to C string functions,
 * but binary data with embedded NULs is fine.  Growth failure is fatal
 * for the process (out of memory is a temporary error: exit 111), so
 * callers never check a return value for allocation.
 */
#ifndef MAILSHOT_BUF_H
#define MAILSHOT_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_truncate(struct buf *b, size_t len);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Returns the C string (never NULL, even for an empty buffer). */
const char *buf_cstr(struct buf *b);

/* Allocation helpers that exit 111 on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
