/*
 * input - whole files and rewindable, transparently gunzipped streams.
 * See input.h.
 */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Errors a user fixes (wrong name, permissions, a directory) are
 * permanent; anything else might go away by itself. */
static int
user_error(int e)
{
	return e == ENOENT || e == EACCES || e == EISDIR || e == ENOTDIR || e == ELOOP ||
	       e == ENAMETOOLONG || e == EPERM;
}

static int
open_regular(const char *path, struct buf *err, int *permanent)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd == -1) {
		*permanent = user_error(errno);
		buf_printf(err, "unable to open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		*permanent = 1;
		buf_printf(err, "unable to read %s: %s", path, strerror(EISDIR));
		close(fd);
		return -1;
	}
	return fd;
}

int
input_read_file(const char *path, size_t max, struct buf *out, struct buf *err, int *permanent)
{
	*permanent = 0;
	int fd = open_regular(path, err, permanent);
	if (fd == -1)
		return -1;
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_printf(err, "unable to read %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > max) {
			buf_printf(err, "%s: larger than %zu bytes", path, max);
			*permanent = 1;
			close(fd);
			return -1;
		}
		buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	buf_cstr(out);
	return 0;
}

struct input {
	int fd; /* the file (or stdin's copy), kept to reopen */
	gzFile gz;
	char *name;
	char errtext[256];
};

static int
copy_stdin(struct buf *err)
{
	const char *dir = getenv("TMPDIR");
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd == -1) {
		struct buf path = BUF_INIT;
		buf_printf(&path, "%s/mailshot-stdin.XXXXXX", dir);
		fd = mkstemp(path.data);
		if (fd != -1)
			unlink(path.data);
		buf_free(&path);
	}
	if (fd == -1) {
		buf_printf(err, "unable to create a temporary file in %s: %s", dir,
			   strerror(errno));
		return -1;
	}
	char chunk[65536];
	for (;;) {
		ssize_t n = read(0, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_printf(err, "unable to read standard input: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, chunk + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				buf_printf(err, "unable to copy standard input: %s",
					   strerror(errno));
				close(fd);
				return -1;
			}
			off += w;
		}
	}
	return fd;
}

static int
open_gz(struct input *in, struct buf *err)
{
	if (lseek(in->fd, 0, SEEK_SET) == -1) {
		buf_printf(err, "unable to rewind %s: %s", in->name, strerror(errno));
		return -1;
	}
	int fd = dup(in->fd);
	if (fd == -1 || (in->gz = gzdopen(fd, "rb")) == NULL) {
		buf_printf(err, "unable to read %s: %s", in->name, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	gzbuffer(in->gz, 128 * 1024);
	return 0;
}

struct input *
input_open(const char *path, struct buf *err, int *permanent)
{
	*permanent = 0;
	struct input *in = xcalloc(1, sizeof *in);
	in->name = xstrdup(strcmp(path, "-") == 0 ? "standard input" : path);
	if (strcmp(path, "-") == 0) {
		in->fd = copy_stdin(err);
	} else {
		in->fd = open_regular(path, err, permanent);
	}
	if (in->fd == -1 || open_gz(in, err) == -1) {
		input_close(in);
		return NULL;
	}
	return in;
}

int
input_rewind(struct input *in, struct buf *err)
{
	if (in->gz != NULL)
		gzclose(in->gz);
	in->gz = NULL;
	return open_gz(in, err);
}

ssize_t
input_read(void *ctx, void *dst, size_t len)
{
	struct input *in = ctx;
	if (len > (1u << 30))
		len = 1u << 30;
	int n = gzread(in->gz, dst, (unsigned)len);
	if (n < 0) {
		int zerr;
		const char *msg = gzerror(in->gz, &zerr);
		snprintf(in->errtext, sizeof in->errtext, "%s",
			 zerr == Z_ERRNO ? strerror(errno) : msg);
		if (zerr != Z_ERRNO)
			errno = EIO;
		return -1;
	}
	if (n == 0) {
		/* gzread returns 0 both at the end and on a truncated stream. */
		int zerr;
		const char *msg = gzerror(in->gz, &zerr);
		if (zerr != Z_OK && zerr != Z_STREAM_END) {
			snprintf(in->errtext, sizeof in->errtext, "%s", msg);
			errno = EIO;
			return -1;
		}
	}
	return n;
}

const char *
input_error(struct input *in)
{
	return in->errtext;
}

int
input_take_fd(struct input *in)
{
	int fd = in->fd;
	in->fd = -1;
	if (fd != -1)
		lseek(fd, 0, SEEK_SET);
	return fd;
}

void
input_close(struct input *in)
{
	if (in == NULL)
		return;
	if (in->gz != NULL)
		gzclose(in->gz);
	if (in->fd != -1)
		close(in->fd);
	free(in->name);
	free(in);
}
