/*
 * queue - state files and bounce records of sched's queue area.
 * See queue.h and docs/spool.md.
 */
#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "spool.h"

#define STATE_MAGIC "mailshot-queue 1"
#define BOUNCE_MAGIC "mailshot-bounces 1\n"
#define STATE_MAX_COUNT (SPOOL_BATCH_MAX_MESSAGES * 16)

void
queue_state_free(struct queue_state *st)
{
	if (st->domain != NULL)
		for (size_t i = 0; i < st->count; i++)
			free(st->domain[i]);
	free(st->domain);
	free(st->batch);
	free(st->campaign);
	free(st->pos);
	free(st->test);
	free(st->final);
	free(st->attempts);
	free(st->next);
	free(st->started);
	memset(st, 0, sizeof *st);
}

unsigned
queue_dir(const char *batch)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)batch; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & (QUEUE_DIRS - 1);
}

static void
alloc_arrays(struct queue_state *st, size_t count)
{
	st->count = count;
	size_t n = count ? count : 1;
	st->pos = xcalloc(n, sizeof *st->pos);
	st->test = xcalloc(n, 1);
	st->domain = xcalloc(n, sizeof *st->domain);
	st->final = xcalloc(n, 1);
	st->attempts = xcalloc(n, sizeof *st->attempts);
	st->next = xcalloc(n, sizeof *st->next);
	st->started = xcalloc(n, 1);
}

/* The domain of an address, lower-cased; NULL when there is none. */
static char *
domain_of(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	if (at == NULL || at[1] == '\0' || strlen(at + 1) > 255)
		return NULL;
	char *d = xstrdup(at + 1);
	for (char *p = d; *p; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			free(d);
			return NULL;
		}
	}
	return d;
}

int
queue_state_from_batch(const char *path, const char *batch, struct queue_state *st,
		       struct buf *err, int *permanent)
{
	memset(st, 0, sizeof *st);
	struct spool_reader *r = spool_reader_open(path, err, permanent);
	if (r == NULL)
		return -1;
	*permanent = 1;
	spool_reader_skip_bodies(r);
	const struct spool_batch_info *info = spool_reader_info(r);
	st->batch = xstrdup(batch);
	st->campaign = xstrdup(info->campaign);
	st->created = info->created;
	st->expires = info->expires;
	alloc_arrays(st, spool_reader_count(r));
	struct spool_read_message m;
	size_t i = 0;
	int rc;
	while ((rc = spool_reader_next(r, &m, err)) == 1) {
		if (m.record_offset > UINT32_MAX || m.record_len > SPOOL_HEAD_MAX) {
			buf_printf(err, "%s: message %zu lies beyond 4 GiB", path, m.index);
			rc = -1;
			break;
		}
		st->pos[i].offset = (uint32_t)m.record_offset;
		st->pos[i].length = (uint32_t)m.record_len;
		st->test[i] = (unsigned char)m.test;
		st->domain[i] = domain_of(m.recipient);
		if (st->domain[i] == NULL) {
			buf_printf(err, "%s: message %zu: recipient without a domain", path, m.index);
			rc = -1;
			break;
		}
		i++;
	}
	spool_reader_close(r);
	if (rc != 0 || i != st->count) {
		if (rc == 0)
			buf_printf(err, "%s: fewer messages than its count", path);
		queue_state_free(st);
		return -1;
	}
	return 0;
}

void
queue_state_format(const struct queue_state *st, struct buf *out)
{
	buf_append_str(out, STATE_MAGIC "\nbatch ");
	spool_escape(out, st->batch, strlen(st->batch));
	buf_append_str(out, "\ncampaign ");
	spool_escape(out, st->campaign, strlen(st->campaign));
	buf_printf(out, "\ncreated %lld\nexpires %lld\ncount %zu\n\n", (long long)st->created,
		   (long long)st->expires, st->count);
	for (size_t i = 0; i < st->count; i++) {
		buf_printf(out, "m %zu %u %u %d ", i, st->pos[i].offset, st->pos[i].length,
			   st->test[i] ? 1 : 0);
		spool_escape(out, st->domain[i], strlen(st->domain[i]));
		buf_append_char(out, '\n');
	}
}

/* ---- parsing ---- */

/* Splits a line into at most max blank-separated fields; returns how
 * many, or -1 for empty fields or too many. */
static int
split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		if (n == max)
			return -1;
		f[n++] = p;
		char *sp = strchr(p, ' ');
		if (sp == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	for (int i = 0; i < n; i++)
		if (f[i][0] == '\0')
			return -1;
	return n;
}

static int
number(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	if (*s == '\0' || strlen(s) > 20)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Unescapes a value into a new C string: printable, no NUL, 1..max bytes. */
static char *
value(const char *s, size_t max)
{
	struct buf b = BUF_INIT;
	if (spool_unescape(&b, s, strlen(s)) == -1 || b.len == 0 || b.len > max ||
	    memchr(b.data, '\0', b.len) != NULL) {
		buf_free(&b);
		return NULL;
	}
	(void)buf_cstr(&b); /* NUL-terminates */
	return b.data;
}

int
queue_state_parse(const char *data, size_t len, const char *name, struct queue_state *st,
		  struct buf *err)
{
	memset(st, 0, sizeof *st);
	const char *end = data + len, *p = data;
	const char *last_nl = len ? memrchr(data, '\n', len) : NULL;
	st->valid_len = last_nl ? (size_t)(last_nl - data) + 1 : 0;
	end = data + st->valid_len;
	char line[QUEUE_LINE_MAX + 1];
	unsigned long lineno = 0;
	enum { HEADER, INDEX, JOURNAL } where = HEADER;
	int have_batch = 0, have_campaign = 0, have_created = 0, have_expires = 0, have_count = 0;
	size_t indexed = 0;
	unsigned long long count = 0;
	const char *why = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p);
		lineno++;
		if (n > QUEUE_LINE_MAX || memchr(p, '\0', n) != NULL) {
			why = "line too long or with a NUL";
			goto bad_line;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		char *f[8];
		unsigned long long a, b, c;
		if (lineno == 1) {
			if (strcmp(line, STATE_MAGIC) != 0) {
				why = "not a mailshot queue state file of version 1";
				goto bad_line;
			}
			continue;
		}
		if (where == HEADER) {
			if (n == 0) {
				if (!have_batch || !have_campaign || !have_created || !have_count) {
					why = "header incomplete";
					goto bad_line;
				}
				alloc_arrays(st, (size_t)count);
				where = count ? INDEX : JOURNAL;
				continue;
			}
			int k = split(line, f, 8);
			if (k != 2) {
				why = "malformed header line";
				goto bad_line;
			}
			if (strcmp(f[0], "batch") == 0 && !have_batch++) {
				if ((st->batch = value(f[1], 255)) == NULL) {
					why = "bad batch name";
					goto bad_line;
				}
			} else if (strcmp(f[0], "campaign") == 0 && !have_campaign++) {
				if ((st->campaign = value(f[1], 64)) == NULL ||
				    !spool_valid_id(st->campaign)) {
					why = "bad campaign";
					goto bad_line;
				}
			} else if (strcmp(f[0], "created") == 0 && !have_created++ &&
				   number(f[1], LLONG_MAX, &a) == 0) {
				st->created = (time_t)a;
			} else if (strcmp(f[0], "expires") == 0 && !have_expires++ &&
				   number(f[1], LLONG_MAX, &a) == 0) {
				st->expires = (time_t)a;
			} else if (strcmp(f[0], "count") == 0 && !have_count++ &&
				   number(f[1], STATE_MAX_COUNT, &count) == 0) {
			} else {
				why = "unknown, repeated or malformed header field";
				goto bad_line;
			}
			continue;
		}
		int k = split(line, f, 8);
		if (where == INDEX) {
			/* m INDEX OFFSET LENGTH TEST DOMAIN */
			if (k != 6 || strcmp(f[0], "m") != 0 || number(f[1], indexed, &a) == -1 ||
			    a != indexed || number(f[2], UINT32_MAX, &b) == -1 ||
			    number(f[3], SPOOL_HEAD_MAX, &c) == -1 || c == 0 ||
			    (strcmp(f[4], "0") != 0 && strcmp(f[4], "1") != 0) ||
			    (st->domain[indexed] = value(f[5], 255)) == NULL) {
				why = "malformed index line";
				goto bad_line;
			}
			st->pos[indexed].offset = (uint32_t)b;
			st->pos[indexed].length = (uint32_t)c;
			st->test[indexed] = f[4][0] == '1';
			if (++indexed == st->count)
				where = JOURNAL;
			continue;
		}
		/* Journal: d|f|x|s INDEX TIME, r INDEX ATTEMPTS NEXT. */
		if (k != 3 && k != 4) {
			st->journal_ignored++;
			continue;
		}
		if (number(f[1], st->count ? st->count - 1 : 0, &a) == -1 || st->count == 0) {
			st->journal_ignored++;
			continue;
		}
		if (k == 3 && f[0][1] == '\0' &&
		    (f[0][0] == QUEUE_DELIVERED || f[0][0] == QUEUE_FAILED ||
		     f[0][0] == QUEUE_EXPIRED) &&
		    number(f[2], LLONG_MAX, &b) == 0) {
			if (st->final[a] == QUEUE_OPEN)
				st->final[a] = (unsigned char)f[0][0];
			st->started[a] = 0;
		} else if (k == 3 && strcmp(f[0], "s") == 0 && number(f[2], LLONG_MAX, &b) == 0) {
			st->started[a] = 1;
		} else if (k == 4 && strcmp(f[0], "r") == 0 && number(f[2], 65535, &b) == 0 &&
			   number(f[3], LLONG_MAX, &c) == 0) {
			st->attempts[a] = (uint16_t)b;
			st->next[a] = (time_t)c;
			st->started[a] = 0;
		} else {
			st->journal_ignored++;
		}
	}
	if (where != JOURNAL) {
		why = where == HEADER ? "header incomplete" : "index incomplete";
		goto bad;
	}
	return 0;
bad_line:
	buf_printf(err, "%s:%lu: %s", name, lineno, why);
	queue_state_free(st);
	return -1;
bad:
	buf_printf(err, "%s: %s", name, why);
	queue_state_free(st);
	return -1;
}

int
queue_state_read(const char *path, const char *batch, struct queue_state *st, struct buf *err,
		 int *missing)
{
	*missing = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd == -1) {
		*missing = errno == ENOENT;
		buf_printf(err, "unable to open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat sb;
	if (fstat(fd, &sb) == -1 || sb.st_size > 1L << 30) {
		buf_printf(err, "unable to read %s: %s", path,
			   errno ? strerror(errno) : "too large");
		close(fd);
		return -1;
	}
	size_t n = (size_t)sb.st_size, got = 0;
	char *data = xmalloc(n + 1);
	while (got < n) {
		ssize_t r = read(fd, data + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			buf_printf(err, "unable to read %s: %s", path,
				   r == 0 ? "file shrank" : strerror(errno));
			free(data);
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	int rc = queue_state_parse(data, n, path, st, err);
	free(data);
	if (rc == 0 && st->batch != NULL && strcmp(st->batch, batch) != 0) {
		buf_printf(err, "%s: names batch %s", path, st->batch);
		queue_state_free(st);
		rc = -1;
	}
	/* A torn append: cut it, so the next append starts a clean line. */
	if (rc == 0 && st->valid_len < n && ftruncate(fd, (off_t)st->valid_len) == -1) {
		buf_printf(err, "unable to truncate %s: %s", path, strerror(errno));
		queue_state_free(st);
		rc = -1;
	}
	close(fd);
	return rc;
}


int
queue_state_write(const char *dir, const struct queue_state *st, struct buf *err)
{
	struct buf tmp = BUF_INIT, final = BUF_INIT, data = BUF_INIT;
	buf_printf(&tmp, "%s/.%s.state", dir, st->batch);
	buf_printf(&final, "%s/%s.state", dir, st->batch);
	queue_state_format(st, &data);
	int rc = spool_publish_file(tmp.data, final.data, data.data, data.len, err);
	buf_free(&tmp);
	buf_free(&final);
	buf_free(&data);
	return rc;
}

void
queue_journal_final(struct buf *out, int what, size_t index, time_t when)
{
	buf_printf(out, "%c %zu %lld\n", what, index, (long long)(when < 0 ? 0 : when));
}

void
queue_journal_retry(struct buf *out, size_t index, unsigned attempts, time_t next)
{
	buf_printf(out, "r %zu %u %lld\n", index, attempts > 65535 ? 65535 : attempts,
		   (long long)(next < 0 ? 0 : next));
}

void
queue_journal_start(struct buf *out, size_t index, time_t when)
{
	buf_printf(out, "s %zu %lld\n", index, (long long)(when < 0 ? 0 : when));
}

/* ---- bounce records ---- */

static void
field(struct buf *out, const char *s)
{
	buf_append_char(out, ' ');
	proto_field(out, s ? s : "");
}

void
queue_bounce_format(struct buf *out, const struct queue_bounce *b)
{
	char num[32];
	buf_append_str(out, "bounce");
	field(out, b->campaign);
	field(out, b->batch);
	snprintf(num, sizeof num, "%zu", b->index);
	field(out, num);
	field(out, b->rcpt);
	field(out, b->sender);
	field(out, b->status);
	field(out, b->code);
	field(out, b->enhanced);
	field(out, b->mx_name);
	field(out, b->mx_addr);
	snprintf(num, sizeof num, "%u", b->attempts);
	field(out, num);
	snprintf(num, sizeof num, "%lld", (long long)b->when);
	field(out, num);
	field(out, b->message_id);
	field(out, b->text);
	buf_append_char(out, '\n');
}

void
queue_delivered_format(struct buf *out, const char *campaign, const char *rcpt, time_t when)
{
	char num[32];
	buf_append_str(out, "delivered");
	field(out, campaign);
	field(out, rcpt);
	snprintf(num, sizeof num, "%lld", (long long)when);
	field(out, num);
	buf_append_char(out, '\n');
}

const char queue_bounce_magic[] = BOUNCE_MAGIC;

/* A decimal number of at most 18 digits, no sign. */
static int
parse_decimal(const char *s, unsigned long long *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
		return -1;
	*out = strtoull(s, NULL, 10);
	return 0;
}

int
queue_handoff_parse(const char *line, size_t len, struct buf *storage, struct queue_bounce *b,
		    const char **why)
{
	const char *f[QUEUE_BOUNCE_FIELDS + 1];
	buf_reset(storage);
	memset(b, 0, sizeof *b);
	int n = proto_split(line, len, storage, f, QUEUE_BOUNCE_FIELDS + 1);
	unsigned long long v;
	if (n < 1) {
		*why = "malformed field";
		return -1;
	}
	size_t nuls = 0; /* one per field: more means a %00 inside one */
	for (size_t i = 0; i < storage->len; i++)
		nuls += storage->data[i] == '\0';
	if (nuls != (size_t)n) {
		*why = "a field holds a NUL byte";
		return -1;
	}
	if (strcmp(f[0], "delivered") == 0) {
		if (n != 4) {
			*why = "a delivered record has 3 fields";
			return -1;
		}
		b->campaign = f[1];
		b->rcpt = f[2];
		if (parse_decimal(f[3], &v) == -1) {
			*why = "time is not a number";
			return -1;
		}
		b->when = (time_t)v;
		if (!*b->campaign || !*b->rcpt) {
			*why = "empty campaign or recipient";
			return -1;
		}
		return 'd';
	}
	if (strcmp(f[0], "bounce") != 0) {
		*why = "unknown record";
		return -1;
	}
	if (n != QUEUE_BOUNCE_FIELDS) {
		*why = "a bounce record has 14 fields";
		return -1;
	}
	b->campaign = f[1];
	b->batch = f[2];
	if (parse_decimal(f[3], &v) == -1) {
		*why = "index is not a number";
		return -1;
	}
	b->index = (size_t)v;
	b->rcpt = f[4];
	b->sender = f[5];
	b->status = f[6];
	if (strcmp(b->status, "failed") != 0 && strcmp(b->status, "expired") != 0) {
		*why = "status is neither failed nor expired";
		return -1;
	}
	b->code = f[7];
	b->enhanced = f[8];
	b->mx_name = f[9];
	b->mx_addr = f[10];
	if (parse_decimal(f[11], &v) == -1 || v > UINT32_MAX) {
		*why = "attempts is not a number";
		return -1;
	}
	b->attempts = (unsigned)v;
	if (parse_decimal(f[12], &v) == -1) {
		*why = "time is not a number";
		return -1;
	}
	b->when = (time_t)v;
	b->message_id = f[13];
	b->text = f[14];
	if (!*b->campaign || !*b->rcpt) {
		*why = "empty campaign or recipient";
		return -1;
	}
	return 'b';
}

int
queue_bounce_publish(const char *root, const struct buf *records, unsigned long seq,
		     struct buf *err)
{
	if (spool_make_dir(root, "bounce", 0700, err) == -1 ||
	    spool_make_dir(root, "bounce/tmp", 0700, err) == -1 ||
	    spool_make_dir(root, "bounce/new", 0700, err) == -1)
		return -1;
	struct buf tmp = BUF_INIT, final = BUF_INIT, all = BUF_INIT;
	char name[96];
	snprintf(name, sizeof name, "S.%lld.%ld.%lu", (long long)time(NULL), (long)getpid(), seq);
	buf_printf(&tmp, "%s/bounce/tmp/%s", root, name);
	buf_printf(&final, "%s/bounce/new/%s", root, name);
	buf_append_str(&all, BOUNCE_MAGIC);
	buf_append(&all, records->data, records->len);
	int rc = spool_publish_file(tmp.data, final.data, all.data, all.len, err);
	if (rc == 0)
		rc = spool_sync_dir(root, "bounce/new", err);
	buf_free(&tmp);
	buf_free(&final);
	buf_free(&all);
	return rc;
}
