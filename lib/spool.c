/*
 * spool - spool location, directories, and the batch format of
 * docs/spool.md.  The writer builds a whole batch in memory (bounded by
 * SPOOL_BATCH_MAX_BYTES) and writes it with one writev and one fsync; the
 * reader reads a whole batch (same bound) and parses it strictly.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#ifndef MAILSHOT_DEFAULT_SPOOL
#define MAILSHOT_DEFAULT_SPOOL "/var/spool/mailshot"
#endif

/* A batch file cannot legitimately be larger than its limits plus the
 * envelopes; anything far beyond is refused by the reader. */
#define SPOOL_READ_MAX (SPOOL_BATCH_MAX_BYTES * 2 + 1024 * 1024)

const char *
spool_root(const char *option)
{
	if (option != NULL && *option != '\0')
		return option;
	const char *env = getenv("MAILSHOT_SPOOL");
	if (env != NULL && *env != '\0')
		return env;
	return MAILSHOT_DEFAULT_SPOOL;
}

int
spool_make_dir(const char *root, const char *sub, int mode, struct buf *err)
{
	if (mkdir(root, 0755) == -1 && errno != EEXIST) {
		buf_printf(err, "unable to create %s: %s", root, strerror(errno));
		return -1;
	}
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s", root, sub);
	int rc = 0;
	if (mkdir(path.data, (mode_t)mode) == 0) {
		(void)chmod(path.data, (mode_t)mode); /* not the umask's */
	} else if (errno != EEXIST) {
		buf_printf(err, "unable to create %s: %s", path.data, strerror(errno));
		rc = -1;
	}
	buf_free(&path);
	return rc;
}

int
spool_sync_dir(const char *root, const char *sub, struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/%s", root, sub);
	int rc = 0;
	int fd = open(path.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || fsync(fd) == -1) {
		buf_printf(err, "unable to sync %s: %s", path.data, strerror(errno));
		rc = -1;
	}
	if (fd != -1)
		close(fd);
	buf_free(&path);
	return rc;
}

int
spool_valid_id(const char *id)
{
	size_t n = 0;
	if (id == NULL || id[0] == '.' || id[0] == '\0')
		return 0;
	for (const char *p = id; *p; p++, n++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n <= 64;
}

static const char hexdigits[] = "0123456789ABCDEF";

void
spool_escape(struct buf *out, const char *s, size_t len)
{
	buf_reserve(out, len * 3);
	char *w = out->data + out->len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '%') {
			*w++ = '%';
			*w++ = hexdigits[c >> 4];
			*w++ = hexdigits[c & 15];
		} else {
			*w++ = (char)c;
		}
	}
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
spool_unescape(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e)
			return -1;
		if (c == '%') {
			if (len - i < 3)
				return -1;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			buf_append_char(out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			buf_append_char(out, (char)c);
		}
	}
	return 0;
}

static void
field(struct buf *out, const char *key, const char *value)
{
	buf_append_str(out, key);
	buf_append_char(out, ' ');
	spool_escape(out, value, strlen(value));
	buf_append_char(out, '\n');
}

void
spool_batch_init(struct spool_batch *b, const struct spool_batch_info *info, int compress_level)
{
	memset(b, 0, sizeof *b);
	b->info = *info;
	b->compress_level = compress_level;
}

size_t
spool_batch_add(struct spool_batch *b, const struct spool_message *m)
{
	struct buf env = BUF_INIT;
	field(&env, "recipient", m->recipient);
	field(&env, "sender", m->sender);
	buf_printf(&env, "line %lu\n", m->line);
	if (m->message_id != NULL && *m->message_id)
		field(&env, "message-id", m->message_id);
	buf_printf(&env, "test %d\n\n", m->test ? 1 : 0);

	const char *body = m->data;
	size_t blen = m->len;
	unsigned char *z = NULL;
	const char *enc = "identity";
	if (b->compress_level > 0 && m->len > 0) {
		uLongf zlen = compressBound((uLong)m->len);
		z = xmalloc(zlen);
		if (compress2(z, &zlen, (const Bytef *)m->data, (uLong)m->len,
			      b->compress_level) == Z_OK) {
			body = (const char *)z;
			blen = zlen;
			enc = "deflate";
		}
	}
	buf_printf(&b->records, "message %zu envelope %zu body %zu encoding %s size %zu\n", b->count,
		   env.len, blen, enc, m->len);
	buf_append(&b->records, env.data, env.len);
	buf_append(&b->records, body, blen);
	buf_append_char(&b->records, '\n');
	free(z);
	buf_free(&env);
	return b->count++;
}

int
spool_batch_full(const struct spool_batch *b)
{
	return b->count >= SPOOL_BATCH_MAX_MESSAGES || b->records.len >= SPOOL_BATCH_MAX_BYTES;
}

void
spool_batch_clear(struct spool_batch *b)
{
	buf_reset(&b->records);
	b->count = 0;
}

void
spool_batch_free(struct spool_batch *b)
{
	buf_free(&b->records);
	b->count = 0;
}

static int
write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		size_t left = (size_t)w;
		while (n > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

int
spool_batch_write_tmp(const char *root, const struct spool_batch *b, unsigned long seq, char *name,
		      struct buf *err)
{
	struct buf head = BUF_INIT, path = BUF_INIT;
	snprintf(name, SPOOL_NAME_MAX, "B.%lld.%ld.%lu", (long long)b->info.created, (long)getpid(),
		 seq);
	buf_append_str(&head, "mailshot-batch 1\n");
	field(&head, "campaign", b->info.campaign);
	if (b->info.type != NULL && *b->info.type)
		field(&head, "type", b->info.type);
	buf_printf(&head, "created %lld\n", (long long)b->info.created);
	if (b->info.expires > 0)
		buf_printf(&head, "expires %lld\n", (long long)b->info.expires);
	buf_printf(&head, "count %zu\n\n", b->count);

	buf_printf(&path, "%s/tmp/%s", root, name);
	int rc = -1;
	/* 0644 whatever the umask: sched, the directory's owner, reads it;
	 * nobody else can reach it through tmp/ and new/ (2770,
	 * docs/privileges.md) */
	int fd = open(path.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1) {
		buf_printf(err, "unable to create %s: %s", path.data, strerror(errno));
		goto out;
	}
	(void)fchmod(fd, 0644);
	struct iovec iov[2] = {{head.data, head.len}, {b->records.data, b->records.len}};
	if (write_all(fd, iov, b->records.len ? 2 : 1) == -1) {
		buf_printf(err, "unable to write %s: %s", path.data, strerror(errno));
		goto fail;
	}
	if (fsync(fd) == -1) {
		buf_printf(err, "unable to sync %s: %s", path.data, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		buf_printf(err, "unable to write %s: %s", path.data, strerror(errno));
		goto fail;
	}
	fd = -1;
	rc = 0;
	goto out;
fail:
	if (fd != -1)
		close(fd);
	unlink(path.data);
out:
	buf_free(&head);
	buf_free(&path);
	return rc;
}

int
spool_batch_publish(const char *root, const char *name, struct buf *err)
{
	struct buf from = BUF_INIT, to = BUF_INIT;
	buf_printf(&from, "%s/tmp/%s", root, name);
	buf_printf(&to, "%s/new/%s", root, name);
	int rc = rename(from.data, to.data);
	if (rc == -1)
		buf_printf(err, "unable to rename %s to %s: %s", from.data, to.data,
			   strerror(errno));
	buf_free(&from);
	buf_free(&to);
	return rc;
}

void
spool_trigger(const char *root)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/trigger", root);
	int fd = open(path.data, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd != -1) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
			(void)!write(fd, "", 1);
		close(fd);
	}
	buf_free(&path);
}

/* ---- reader ---- */

struct spool_reader {
	char *path;
	char *data;
	size_t len, pos;
	size_t count, next_index;
	struct spool_batch_info info;
	struct buf campaign, type;
	struct buf recipient, sender, message_id, inflated;
	int skip_bodies;
};

/* Reads one LF-terminated line at r->pos; returns its length (without LF)
 * and sets *line, or -1 at end of data / no LF. */
static long
next_line(struct spool_reader *r, const char **line)
{
	if (r->pos >= r->len)
		return -1;
	const char *s = r->data + r->pos;
	const char *nl = memchr(s, '\n', r->len - r->pos);
	if (nl == NULL)
		return -1;
	*line = s;
	r->pos += (size_t)(nl - s) + 1;
	return nl - s;
}

/* Digits only, no sign, no blanks; refuses what does not fit (a limit of
 * 19 digits used to refuse the "line" the writer writes for ULONG_MAX). */
static int
parse_ulong(const char *s, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;
	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Unescapes a value that the API hands out as a C string: a %00 would cut
 * it short without anyone noticing, and no writer produces one (values
 * come in as C strings), so it is malformed. */
static int
unescape_text(struct buf *out, const char *s, size_t len)
{
	size_t start = out->len;
	if (spool_unescape(out, s, len) == -1)
		return -1;
	if (out->len == start)
		return 0; /* nothing added (out->data may still be NULL) */
	return memchr(out->data + start, '\0', out->len - start) == NULL ? 0 : -1;
}

/* Consumes the literal lit at *p (within end); returns -1 if it is not there. */
static int
expect_literal(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return -1;
	*p += n;
	return 0;
}

/* Consumes a decimal number (digits only, as parse_ulong) at *p. */
static int
expect_number(const char **p, const char *end, unsigned long long *v)
{
	const char *q = *p;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	if (parse_ulong(*p, (size_t)(q - *p), v) == -1)
		return -1;
	*p = q;
	return 0;
}

/* Splits "key value" into key and value; returns -1 without a space. */
static int
split_kv(const char *line, long len, const char **key, size_t *klen, const char **val,
	 size_t *vlen)
{
	const char *sp = memchr(line, ' ', (size_t)len);
	if (sp == NULL)
		return -1;
	*key = line;
	*klen = (size_t)(sp - line);
	*val = sp + 1;
	*vlen = (size_t)(line + len - sp - 1);
	return 0;
}

#define KEY_IS(k, kl, lit) ((kl) == sizeof(lit) - 1 && memcmp((k), lit, sizeof(lit) - 1) == 0)

static int
read_whole(const char *path, char **data, size_t *len, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		buf_printf(err, "unable to open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == -1) {
		buf_printf(err, "unable to stat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (st.st_size > SPOOL_READ_MAX) {
		buf_printf(err, "%s: batch file too large", path);
		close(fd);
		return -2;
	}
	size_t n = (size_t)st.st_size, got = 0;
	char *p = xmalloc(n + 1);
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			buf_printf(err, "unable to read %s: %s", path,
				   r == 0 ? "file shrank" : strerror(errno));
			free(p);
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	p[n] = '\0';
	*data = p;
	*len = n;
	return 0;
}

struct spool_reader *
spool_reader_open(const char *path, struct buf *err, int *permanent)
{
	struct spool_reader *r = xcalloc(1, sizeof *r);
	r->path = xstrdup(path);
	*permanent = 0;
	int rc = read_whole(path, &r->data, &r->len, err);
	if (rc < 0) {
		*permanent = rc == -2;
		goto fail;
	}
	*permanent = 1;
	const char *line;
	long n = next_line(r, &line);
	if (n != 16 || memcmp(line, "mailshot-batch 1", 16) != 0) {
		buf_printf(err, "%s: not a mailshot batch of version 1", path);
		goto fail;
	}
	/* Each field at most once: two would leave the reader to guess. */
	int have_count = 0, have_created = 0, have_campaign = 0, have_type = 0, have_expires = 0;
	while ((n = next_line(r, &line)) > 0) {
		const char *k, *v;
		size_t kl, vl;
		unsigned long long num;
		if (split_kv(line, n, &k, &kl, &v, &vl) == -1)
			goto malformed;
		if (KEY_IS(k, kl, "campaign") && !have_campaign++) {
			/* The campaign and type name directories (campaigns/ID):
			 * the reader holds them to the writer's alphabet. */
			if (unescape_text(&r->campaign, v, vl) == -1 ||
			    !spool_valid_id(buf_cstr(&r->campaign)))
				goto malformed;
		} else if (KEY_IS(k, kl, "type") && !have_type++) {
			if (unescape_text(&r->type, v, vl) == -1 ||
			    !spool_valid_id(buf_cstr(&r->type)))
				goto malformed;
		} else if (KEY_IS(k, kl, "created") && !have_created &&
			   parse_ulong(v, vl, &num) == 0 && num <= LLONG_MAX) {
			r->info.created = (time_t)num;
			have_created = 1;
		} else if (KEY_IS(k, kl, "expires") && !have_expires++ &&
			   parse_ulong(v, vl, &num) == 0 && num <= LLONG_MAX) {
			r->info.expires = (time_t)num;
		} else if (KEY_IS(k, kl, "count") && !have_count && parse_ulong(v, vl, &num) == 0 &&
			   num <= SPOOL_BATCH_MAX_MESSAGES * 16) {
			r->count = (size_t)num;
			have_count = 1;
		} else {
			goto malformed;
		}
	}
	if (n != 0 || !have_count || !have_created || !have_campaign)
		goto malformed;
	r->info.campaign = buf_cstr(&r->campaign);
	r->info.type = buf_cstr(&r->type);
	return r;
malformed:
	buf_printf(err, "%s: malformed batch header", path);
fail:
	spool_reader_close(r);
	return NULL;
}

const struct spool_batch_info *
spool_reader_info(const struct spool_reader *r)
{
	return &r->info;
}

size_t
spool_reader_count(const struct spool_reader *r)
{
	return r->count;
}

/*
 * Parses a record's head at r->pos: the message line (whose index must be
 * `index`) and the envelope block, leaving r->pos at the body.  body_room
 * is 1 when the body and its LF must follow within r->len (a whole batch
 * in memory), 0 when the buffer holds the head alone (spool_head_read).
 * Fills m's envelope fields and *elen, *blen, *size, *deflate.
 */
static int
parse_head(struct spool_reader *r, size_t index, int body_room, struct spool_read_message *m,
	   unsigned long long *blen_out, unsigned long long *size_out, int *deflate_out)
{
	const char *line;
	size_t record_start = r->pos;
	long n = next_line(r, &line);
	unsigned long long idx, elen, blen, size;
	if (n <= 0)
		return -1;
	/* Parsed to the letter: sscanf would take signs ("-1" is a huge
	 * %llu, which made a body length wrap the bounds check below),
	 * leading blanks and any run of white space. */
	const char *p = line, *end = line + n;
	if (expect_literal(&p, end, "message ") == -1 || expect_number(&p, end, &idx) == -1 ||
	    expect_literal(&p, end, " envelope ") == -1 || expect_number(&p, end, &elen) == -1 ||
	    expect_literal(&p, end, " body ") == -1 || expect_number(&p, end, &blen) == -1 ||
	    expect_literal(&p, end, " encoding ") == -1)
		return -1;
	int deflate = expect_literal(&p, end, "deflate") == 0;
	if (!deflate && expect_literal(&p, end, "identity") == -1)
		return -1;
	if (expect_literal(&p, end, " size ") == -1 || expect_number(&p, end, &size) == -1 ||
	    p != end || idx != index)
		return -1;
	/* The envelope (and, in a whole batch, the body and the LF after
	 * it) must all be there. */
	if (elen > r->len - r->pos)
		return -1;
	if (body_room && blen >= r->len - r->pos - elen)
		return -1;
	if (!deflate && size != blen)
		return -1;

	/* The envelope block: exactly elen bytes, ending in an empty line. */
	size_t env_end = r->pos + (size_t)elen;
	int have_rcpt = 0, have_sender = 0, have_message_id = 0, have_line = 0, have_test = 0;
	m->line = 0;
	m->test = 0;
	buf_reset(&r->recipient);
	buf_reset(&r->sender);
	buf_reset(&r->message_id);
	for (;;) {
		if (r->pos >= env_end)
			return -1;
		n = next_line(r, &line);
		if (n < 0 || r->pos > env_end)
			return -1;
		if (n == 0)
			break;
		const char *k, *v;
		size_t kl, vl;
		unsigned long long num;
		if (split_kv(line, n, &k, &kl, &v, &vl) == -1)
			return -1;
		/* Each key at most once: a second "recipient" used to be
		 * appended to the first. */
		if (KEY_IS(k, kl, "recipient") && !have_rcpt++) {
			if (unescape_text(&r->recipient, v, vl) == -1)
				return -1;
		} else if (KEY_IS(k, kl, "sender") && !have_sender++) {
			if (unescape_text(&r->sender, v, vl) == -1)
				return -1;
		} else if (KEY_IS(k, kl, "message-id") && !have_message_id++) {
			if (unescape_text(&r->message_id, v, vl) == -1)
				return -1;
		} else if (KEY_IS(k, kl, "line") && !have_line++ && parse_ulong(v, vl, &num) == 0 &&
			   num <= ULONG_MAX) {
			m->line = (unsigned long)num;
		} else if (KEY_IS(k, kl, "test") && !have_test++ && vl == 1 &&
			   (v[0] == '0' || v[0] == '1')) {
			m->test = v[0] == '1';
		} else {
			return -1;
		}
	}
	if (r->pos != env_end || !have_rcpt || !have_sender)
		return -1;
	m->index = index;
	m->recipient = buf_cstr(&r->recipient);
	m->sender = buf_cstr(&r->sender);
	m->message_id = buf_cstr(&r->message_id);
	m->record_offset = (long long)record_start;
	m->record_len = r->pos - record_start;
	m->body_offset = (long long)r->pos;
	m->body_len = (size_t)blen;
	m->deflate = deflate;
	*blen_out = blen;
	*size_out = size;
	*deflate_out = deflate;
	return 0;
}

int
spool_reader_next(struct spool_reader *r, struct spool_read_message *m, struct buf *err)
{
	if (r->next_index >= r->count) {
		if (r->pos != r->len) {
			buf_printf(err, "%s: data after the last message", r->path);
			return -1;
		}
		return 0;
	}
	unsigned long long blen, size;
	int deflate;
	if (parse_head(r, r->next_index, 1, m, &blen, &size, &deflate) == -1)
		goto malformed;
	const char *body = r->data + r->pos;
	r->pos += (size_t)blen;
	if (r->data[r->pos] != '\n')
		goto malformed;
	r->pos++;
	if (!deflate) {
		m->data = body;
		m->len = (size_t)blen;
	} else if (r->skip_bodies) {
		if (size > SPOOL_READ_MAX * 64ULL)
			goto malformed;
		m->data = NULL;
		m->len = (size_t)size;
	} else {
		if (size > SPOOL_READ_MAX * 64ULL)
			goto malformed;
		buf_reset(&r->inflated);
		buf_reserve(&r->inflated, (size_t)size);
		uLongf out = (uLongf)size;
		if (uncompress((Bytef *)r->inflated.data, &out, (const Bytef *)body,
			       (uLong)blen) != Z_OK ||
		    out != size)
			goto malformed;
		r->inflated.len = (size_t)size;
		r->inflated.data[size] = '\0';
		m->data = r->inflated.data;
		m->len = (size_t)size;
	}
	r->next_index++;
	return 1;
malformed:
	buf_printf(err, "%s: malformed message record %zu", r->path, r->next_index);
	r->next_index = r->count;
	r->pos = 0;
	return -1;
}

void
spool_reader_skip_bodies(struct spool_reader *r)
{
	r->skip_bodies = 1;
}

struct spool_head {
	struct spool_reader r;
	struct buf data;
};

struct spool_head *
spool_head_new(void)
{
	return xcalloc(1, sizeof(struct spool_head));
}

void
spool_head_free(struct spool_head *h)
{
	if (h == NULL)
		return;
	buf_free(&h->r.recipient);
	buf_free(&h->r.sender);
	buf_free(&h->r.message_id);
	buf_free(&h->data);
	free(h);
}

int
spool_head_read(struct spool_head *h, int fd, long long offset, size_t length, size_t index,
		struct spool_read_message *m, struct buf *err)
{
	if (offset < 0 || length == 0 || length > SPOOL_HEAD_MAX) {
		buf_printf(err, "message %zu: bad record position", index);
		return -1;
	}
	buf_reset(&h->data);
	buf_reserve(&h->data, length);
	size_t got = 0;
	while (got < length) {
		ssize_t n = pread(fd, h->data.data + got, length - got, (off_t)(offset + (long long)got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_printf(err, "message %zu: unable to read its envelope: %s", index,
				   n == 0 ? "file too short" : strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	h->data.len = length;
	h->data.data[length] = '\0';
	h->r.data = h->data.data;
	h->r.len = length;
	h->r.pos = 0;
	unsigned long long blen, size;
	int deflate;
	if (parse_head(&h->r, index, 0, m, &blen, &size, &deflate) == -1 || h->r.pos != length) {
		buf_printf(err, "message %zu: malformed record head", index);
		return -1;
	}
	m->record_offset = offset;
	m->body_offset = offset + (long long)length;
	m->data = NULL;
	m->len = (size_t)size;
	return 0;
}

void
spool_reader_close(struct spool_reader *r)
{
	if (r == NULL)
		return;
	free(r->path);
	free(r->data);
	buf_free(&r->campaign);
	buf_free(&r->type);
	buf_free(&r->recipient);
	buf_free(&r->sender);
	buf_free(&r->message_id);
	buf_free(&r->inflated);
	free(r);
}

int
spool_batch_campaign(const char *path, struct buf *campaign)
{
	struct buf err = BUF_INIT;
	int permanent;
	struct spool_reader *r = spool_reader_open(path, &err, &permanent);
	buf_free(&err);
	if (r == NULL)
		return -1;
	buf_append_str(campaign, r->info.campaign);
	spool_reader_close(r);
	return 0;
}

int
spool_publish_file(const char *tmp, const char *final, const char *data, size_t len,
		   struct buf *err)
{
	/* 0640: the area's group (mailshot) reads it: report reads state
	 * files, bounce the hand-off files (docs/privileges.md) */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd == -1) {
		buf_printf(err, "unable to create %s: %s", tmp, strerror(errno));
		return -1;
	}
	(void)fchmod(fd, 0640);
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off < len || fsync(fd) == -1) {
		buf_printf(err, "unable to write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, final) == -1) {
		buf_printf(err, "unable to rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
spool_read_file(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	char chunk[65536];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || out->len + (size_t)n > max) {
			int saved = n < 0 ? errno : EFBIG;
			close(fd);
			errno = saved;
			return -1;
		}
		buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	buf_cstr(out);
	return 0;
}
