/*
 * msgsrc - messages as streams.  See msgsrc.h.
 */
#include "msgsrc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void
msgsrc_open(struct msgsrc *m, int fd, off_t offset, long long length, int deflate)
{
	memset(m, 0, sizeof *m);
	m->fd = fd;
	m->offset = offset;
	m->left = length;
	m->deflate = deflate;
	if (deflate)
		inflateInit(&m->z);
}

/* Reads stored bytes: count, 0 at the end of the range, -1 on error. */
static ssize_t
raw_read(struct msgsrc *m, void *dst, size_t len)
{
	if (m->left == 0)
		return 0;
	if (m->left > 0 && (long long)len > m->left)
		len = (size_t)m->left;
	for (;;) {
		ssize_t n = m->offset >= 0 ? pread(m->fd, dst, len, m->offset) : read(m->fd, dst, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(m->reason, sizeof m->reason, "reading the message: %s",
				 strerror(errno));
			return -1;
		}
		if (n == 0 && m->left > 0) {
			snprintf(m->reason, sizeof m->reason, "the stored message is cut short");
			return -1;
		}
		if (m->offset >= 0)
			m->offset += n;
		if (m->left > 0)
			m->left -= n;
		return n;
	}
}

ssize_t
msgsrc_read(struct msgsrc *m, char *dst, size_t len)
{
	if (!m->deflate)
		return raw_read(m, dst, len);
	if (m->zdone)
		return 0;
	m->z.next_out = (Bytef *)dst;
	m->z.avail_out = (uInt)(len > (1u << 30) ? (1u << 30) : len);
	while (m->z.next_out == (Bytef *)dst) { /* until some output */
		if (m->z.avail_in == 0) {
			ssize_t n = raw_read(m, m->in, sizeof m->in);
			if (n < 0)
				return -1;
			m->z.next_in = m->in;
			m->z.avail_in = (uInt)n;
			if (n == 0) {
				snprintf(m->reason, sizeof m->reason,
					 "the stored message's deflate stream is cut short");
				return -1;
			}
		}
		int rc = inflate(&m->z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			m->zdone = 1;
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			snprintf(m->reason, sizeof m->reason, "corrupt deflate stream: %s",
				 m->z.msg ? m->z.msg : "error");
			return -1;
		}
	}
	return (ssize_t)((char *)m->z.next_out - dst);
}

void
msgsrc_close(struct msgsrc *m)
{
	if (m->deflate)
		inflateEnd(&m->z);
	m->deflate = 0;
}
