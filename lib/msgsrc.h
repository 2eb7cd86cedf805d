/*
 * msgsrc - a message as a stream of bytes, wherever it is stored: a range
 * of a spool batch (plain or zlib-deflated, docs/spool.md) read with
 * pread so the descriptor can be shared, or a whole stream (stdin).
 * Never holds more than one buffer of the message in memory.
 */
#ifndef MAILSHOT_MSGSRC_H
#define MAILSHOT_MSGSRC_H

#include <stddef.h>
#include <sys/types.h>
#include <zlib.h>

struct msgsrc {
	int fd;
	off_t offset;    /* next read position, or -1: read sequentially */
	long long left;  /* stored bytes left, or -1: until end of file */
	int deflate;
	int zdone;
	z_stream z;
	unsigned char in[65536];
	char reason[128];
};

/* offset -1 and length -1: read fd sequentially to its end. */
void msgsrc_open(struct msgsrc *m, int fd, off_t offset, long long length, int deflate);
/* Fills dst with up to len bytes of the message: count, 0 at the end, -1
 * on an error (reason set: I/O error, corrupt deflate stream, the
 * stored range ends early). */
ssize_t msgsrc_read(struct msgsrc *m, char *dst, size_t len);
void msgsrc_close(struct msgsrc *m);

#endif
