/*
 * proto - fields of the sched <-> remote records (docs/protocol.md): the
 * spool's %XX escaping, with "-" for an empty field and "%2D" for a field
 * that is literally "-".
 */
#ifndef MAILSHOT_PROTO_H
#define MAILSHOT_PROTO_H

#include <stddef.h>

#include "buf.h"

#define PROTO_VERSION 1
#define PROTO_MAX_LINE (64 * 1024)

/* Appends s as one escaped field. */
void proto_field(struct buf *out, const char *s);

/* Splits an LF-less record line into at most max fields, unescaped into
 * storage (fields[i] point into it).  Returns the count, or -1 when a
 * field is malformed or there are more than max. */
int proto_split(const char *line, size_t len, struct buf *storage, const char **fields,
		size_t max);

#endif
