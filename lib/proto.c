/*
 * proto - record fields.  See proto.h.
 */
#include "proto.h"

#include <string.h>

#include "spool.h"

void
proto_field(struct buf *out, const char *s)
{
	if (*s == '\0')
		buf_append_char(out, '-');
	else if (strcmp(s, "-") == 0)
		buf_append_str(out, "%2D");
	else
		spool_escape(out, s, strlen(s));
}

int
proto_split(const char *line, size_t len, struct buf *storage, const char **fields, size_t max)
{
	size_t n = 0, pos = 0;
	size_t offsets[256];
	if (max > 256)
		max = 256;
	buf_reset(storage);
	while (pos < len) {
		const char *sp = memchr(line + pos, ' ', len - pos);
		size_t flen = sp ? (size_t)(sp - (line + pos)) : len - pos;
		if (flen == 0 || n == max)
			return -1;
		offsets[n] = storage->len;
		if (!(flen == 1 && line[pos] == '-') &&
		    spool_unescape(storage, line + pos, flen) == -1)
			return -1;
		buf_append_char(storage, '\0');
		n++;
		pos += flen + (sp ? 1 : 0);
		if (sp && pos == len)
			return -1; /* a trailing space */
	}
	for (size_t i = 0; i < n; i++)
		fields[i] = storage->data + offsets[i];
	return (int)n;
}
