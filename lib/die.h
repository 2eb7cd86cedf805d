/*
 * die - the one way a mailshot program reports a fatal error:
 *	PROG: fatal: what went wrong
 * on stderr, then exit with 100 (permanent) or 111 (temporary).
 */
#ifndef MAILSHOT_DIE_H
#define MAILSHOT_DIE_H

#define EXIT_PERM 100
#define EXIT_TEMP 111

__attribute__((noreturn, format(printf, 3, 4))) void fatal(const char *prog, int code,
							     const char *fmt, ...);

/* In a program that defines `static const char prog[]`. */
#define die(code, ...) fatal(prog, (code), __VA_ARGS__)

#endif
