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

int
log_open(struct log_writer *w, const char *root, const char *prog, struct buf *err)
{
	struct buf path = BUF_INIT;
	w->fd = -1;
	w->prog = prog;
	w->pending = (struct buf)BUF_INIT;
	buf_printf(&path, "%s/log", root);
	if (mkdir(path.data, 0750) == -1 && errno != EEXIST) {
		buf_printf(err, "unable to create %s: %s", path.data, strerror(errno));
		buf_free(&path);
		return -1;
	}
	buf_append_str(&path, "/current");
	w->fd = open(path.data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (w->fd == -1)
		buf_printf(err, "unable to open %s: %s", path.data, strerror(errno));
	buf_free(&path);
	return w->fd == -1 ? -1 : 0;
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
}
