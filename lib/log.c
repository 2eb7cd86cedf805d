/*
 * log - the delivery log writer.  See log.h and docs/logging.md.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Opens w->path for appending, creating it; on success it replaces
 * the descriptor held so far.  Returns 0, or -1 with err. */
static int
open_current(struct log_writer *w, struct buf *err)
{
	int fd = open(w->path.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, w->mode);
	struct stat sb;
	if (fd == -1 || fstat(fd, &sb) == -1) {
		buf_printf(err, "unable to open %s: %s", w->path.data, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* the mode whatever the umask, when it is ours: 0660 for
	 * log/enqueue/current, where every sender of the group appends */
	if (sb.st_uid == geteuid() && (sb.st_mode & 07777) != (mode_t)w->mode)
		(void)fchmod(fd, (mode_t)w->mode);
	if (w->fd != -1)
		close(w->fd);
	w->fd = fd;
	w->dev = sb.st_dev;
	w->ino = sb.st_ino;
	return 0;
}

int
log_open(struct log_writer *w, const char *root, const char *prog, struct buf *err)
{
	w->fd = -1;
	w->prog = prog;
	w->mode = 0640;
	w->pending = (struct buf)BUF_INIT;
	w->path = (struct buf)BUF_INIT;
	buf_printf(&w->path, "%s/log", root);
	if (mkdir(w->path.data, 0750) == -1 && errno != EEXIST) {
		buf_printf(err, "unable to create %s: %s", w->path.data, strerror(errno));
		buf_free(&w->path);
		return -1;
	}
	/* With users per role (control/users, docs/privileges.md) each writer
	 * has its own file, so that only sched writes log/current: enqueue
	 * log/enqueue/current, bounce and the CGI log/bounce/current. */
	const char *sub = NULL;
	if (strcmp(prog, "sched") != 0) {
		struct buf users = BUF_INIT;
		buf_printf(&users, "%s/control/users", root);
		if (access(users.data, F_OK) == 0)
			sub = strcmp(prog, "enqueue") == 0 ? "enqueue" : "bounce";
		buf_free(&users);
	}
	if (sub) {
		if (strcmp(sub, "enqueue") == 0)
			w->mode = 0660;
		buf_printf(&w->path, "/%s", sub);
		if (mkdir(w->path.data, 0750) == 0)
			(void)chmod(w->path.data, 02770);
		else if (errno != EEXIST) {
			buf_printf(err, "unable to create %s: %s", w->path.data, strerror(errno));
			buf_free(&w->path);
			return -1;
		}
	}
	buf_append_str(&w->path, "/current");
	if (open_current(w, err) == -1) {
		buf_free(&w->path);
		return -1;
	}
	return 0;
}

int
log_reopen(struct log_writer *w, struct buf *err)
{
	return open_current(w, err);
}

/* Whether the path still names the file held: a rename (rotation) or an
 * unlink makes it differ.  Any doubt (a stat error other than ENOENT)
 * keeps the file held. */
static int
rotated(const struct log_writer *w)
{
	struct stat sb;
	if (stat(w->path.data, &sb) == -1)
		return errno == ENOENT;
	return sb.st_dev != w->dev || sb.st_ino != w->ino;
}

void
log_timestamp(struct buf *out)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
}

void
log_value(struct buf *out, const char *v, size_t len)
{
	int bare = len > 0;
	for (size_t i = 0; i < len && bare; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= 0x20 || c > 0x7e || c == '"' || c == '\\')
			bare = 0;
	}
	if (bare) {
		buf_append(out, v, len);
		return;
	}
	buf_append_char(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '"' || c == '\\') {
			buf_append_char(out, '\\');
			buf_append_char(out, (char)c);
		} else if (c < 0x20 || c > 0x7e) {
			buf_printf(out, "\\x%02X", c);
		} else {
			buf_append_char(out, (char)c);
		}
	}
	buf_append_char(out, '"');
}

void
log_event(struct log_writer *w, const char *event, ...)
{
	va_list ap;
	log_timestamp(&w->pending);
	buf_printf(&w->pending, " %s event=%s", w->prog, event);
	va_start(ap, event);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (key == NULL)
			break;
		const char *value = va_arg(ap, const char *);
		if (value == NULL)
			continue;
		buf_printf(&w->pending, " %s=", key);
		log_value(&w->pending, value, strlen(value));
	}
	va_end(ap);
	buf_append_char(&w->pending, '\n');
}

int
log_flush(struct log_writer *w, struct buf *err)
{
	size_t off = 0;
	if (w->pending.len > 0 && rotated(w)) {
		/* Rotated: the next lines go to the new file.  If it cannot be
		 * opened they go on into the old one, where nothing is lost,
		 * and the next flush tries again. */
		struct buf ignored = BUF_INIT;
		open_current(w, &ignored);
		buf_free(&ignored);
	}
	while (off < w->pending.len) {
		ssize_t n = write(w->fd, w->pending.data + off, w->pending.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_printf(err, "unable to write the delivery log: %s", strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	buf_reset(&w->pending);
	return 0;
}

void
log_close(struct log_writer *w)
{
	struct buf err = BUF_INIT;
	if (w->fd != -1) {
		log_flush(w, &err);
		close(w->fd);
	}
	w->fd = -1;
	buf_free(&err);
	buf_free(&w->pending);
	buf_free(&w->path);
}
