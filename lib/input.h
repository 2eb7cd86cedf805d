/*
 * input - reading what users hand to a program: a whole small file (a
 * template), or a possibly gzip-compressed stream (a recipient list)
 * that can be read more than once, even when it came on stdin.
 */
#ifndef MAILSHOT_INPUT_H
#define MAILSHOT_INPUT_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* Reads all of path (at most max bytes) into out.  Returns 0, or -1 with
 * err set and *permanent = 1 when the file is missing, not accessible,
 * not a regular file or larger than max (the user must fix something),
 * 0 for an I/O error (worth trying again). */
int input_read_file(const char *path, size_t max, struct buf *out, struct buf *err,
		    int *permanent);

/* A rewindable byte stream over a file or stdin ("-"), inflating gzip
 * transparently (zlib detects the gzip header; plain text passes). */
struct input;

/* Opens path, or "-": stdin is first copied to an unlinked temporary
 * file so that the stream can be read twice.  Returns NULL with err and
 * *permanent as for input_read_file. */
struct input *input_open(const char *path, struct buf *err, int *permanent);
/* Starts reading from the beginning again.  Returns 0, or -1 with err. */
int input_rewind(struct input *in, struct buf *err);
/* csv_read_fn-compatible: bytes read, 0 at end, -1 on error (errno). */
ssize_t input_read(void *in, void *dst, size_t len);
/* The last read error's text (zlib's or the system's). */
const char *input_error(struct input *in);
/* Hands the underlying descriptor (the file, or stdin's copy) over to
 * the caller, positioned at 0; input_close then leaves it open. */
int input_take_fd(struct input *in);
void input_close(struct input *in);

#endif
