/*
 * die - fatal errors.  See die.h.
 */
#include "die.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void
fatal(const char *prog, int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: fatal: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* A fatal error ends the process here, holding what it holds:
	 * _exit, as qmail does, so no exit handler runs over half-built
	 * state.  stdout is flushed first: it may hold results. */
	fflush(NULL);
	_exit(code);
}
