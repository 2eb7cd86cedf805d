/*
 * dsnint - small helpers shared by the dsn modules (dsn.c, dsnmime.c,
 * dsntext.c).  Not for callers; the rest of the internal interface is
 * the "shared with dsntext.c" section of dsn.h.
 *
 * ASCII only, on purpose: the locale must not change how a bounce is
 * read, and bytes >= 0x80 are never letters or space here.
 */
#ifndef MAILSHOT_DSNINT_H
#define MAILSHOT_DSNINT_H

static inline int
dsn_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static inline int
dsn_is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

#endif
