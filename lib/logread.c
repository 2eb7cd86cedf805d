/*
 * logread - the delivery log reader (logread.h, docs/logging.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "logread.h"

/* ---- one line ---- */

static int
digits(const char *s, size_t n, long *out)
{
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's) */
static int64_t
days_from_civil(long y, long m, long d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int64_t)era * 146097 + doe - 719468;
}

int64_t
logread_parse_time(const char *s, size_t len)
{
	/* 2026-11-23T11:02:28[.ffffff]Z */
	long y, mo, d, h, mi, se;
	if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[len - 1] != 'Z')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	long usec = 0;
	size_t p = 19;
	if (p < len - 1) {
		if (s[p] != '.')
			return -1;
		size_t n = len - 1 - (p + 1);
		if (n < 1 || n > 9)
			return -1;
		long f;
		if (digits(s + p + 1, n, &f))
			return -1;
		for (size_t i = n; i < 6; i++)
			f *= 10;
		for (size_t i = 6; i < n; i++)
			f /= 10;
		usec = f;
	}
	int64_t days = days_from_civil(y, mo, d);
	return ((days * 86400 + h * 3600 + mi * 60 + se) * 1000000) + usec;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
logline_parse(char *line, size_t len, struct logline *out, const char **why)
{
	size_t i = 0;
	out->nfields = 0;
	out->event = "";
	for (size_t k = 0; k < len; k++)
		if ((unsigned char)line[k] < 0x20 || line[k] == 0x7f) {
			*why = "control character";
			return -1;
		}
	/* the time */
	while (i < len && line[i] != ' ')
		i++;
	out->usec = logread_parse_time(line, i);
	if (out->usec < 0) {
		*why = "bad timestamp";
		return -1;
	}
	if (i >= len) {
		*why = "no program";
		return -1;
	}
	line[i++] = '\0';
	/* the program */
	size_t p0 = i;
	while (i < len && line[i] != ' ')
		i++;
	if (i == p0) {
		*why = "no program";
		return -1;
	}
	for (size_t k = p0; k < i; k++)
		if (line[k] == '=' || line[k] == '"') {
			*why = "bad program";
			return -1;
		}
	out->prog = line + p0;
	if (i < len)
		line[i++] = '\0';
	else
		line[i] = '\0'; /* the caller's buffer holds len + 1 bytes */
	/* key=value pairs */
	while (i < len) {
		size_t k0 = i;
		while (i < len && ((line[i] >= 'a' && line[i] <= 'z') || line[i] == '_'))
			i++;
		if (i == k0 || i >= len || line[i] != '=') {
			*why = "bad key";
			return -1;
		}
		if (out->nfields == LOGREAD_MAX_FIELDS) {
			*why = "too many fields";
			return -1;
		}
		line[i++] = '\0';
		struct logfield *f = &out->field[out->nfields++];
		f->key = line + k0;
		char *w = line + i;
		f->val = w;
		if (i < len && line[i] == '"') {
			i++;
			for (;;) {
				if (i >= len) {
					*why = "unterminated quote";
					return -1;
				}
				char c = line[i++];
				if (c == '"')
					break;
				if (c != '\\') {
					*w++ = c;
					continue;
				}
				if (i >= len) {
					*why = "bad escape";
					return -1;
				}
				c = line[i++];
				if (c == '"' || c == '\\') {
					*w++ = c;
				} else if (c == 'x' && i + 1 < len && hexval(line[i]) >= 0 &&
					   hexval(line[i + 1]) >= 0) {
					*w++ = (char)(hexval(line[i]) << 4 | hexval(line[i + 1]));
					i += 2;
				} else {
					*why = "bad escape";
					return -1;
				}
			}
			if (i < len && line[i] != ' ') {
				*why = "text after a quoted value";
				return -1;
			}
		} else {
			size_t v0 = i;
			while (i < len && line[i] != ' ') {
				if (line[i] == '"' || line[i] == '\\') {
					*why = "bad bare value";
					return -1;
				}
				i++;
			}
			if (i == v0) {
				*why = "empty bare value";
				return -1;
			}
			w = line + i;
		}
		f->vlen = (size_t)(w - f->val);
		/* i is at the space or the end; w <= i, so the NUL fits */
		int more = i < len;
		*w = '\0';
		if (more) {
			i++;
			if (i == len) {
				*why = "trailing space";
				return -1;
			}
		}
		if (strcmp(f->key, "event") == 0)
			out->event = f->val;
	}
	return 0;
}

const char *
logline_getn(const struct logline *l, const char *key, size_t *len)
{
	for (size_t i = 0; i < l->nfields; i++)
		if (strcmp(l->field[i].key, key) == 0) {
			if (len)
				*len = l->field[i].vlen;
			return l->field[i].val;
		}
	if (len)
		*len = 0;
	return NULL;
}

const char *
logline_get(const struct logline *l, const char *key)
{
	return logline_getn(l, key, NULL);
}

/* ---- files ---- */

struct logfile {
	char *path;
	time_t mtime;
	int current;
	dev_t dev;
	ino_t ino;
	off_t size;  /* when listed */
	off_t start; /* where reading starts (following: where the last pass stopped) */
	off_t done;  /* start + the bytes of the whole lines taken so far */
	int gz;	     /* compressed (not read through as it is) */
	int skip;    /* following: a compressed file already read whole */
};

/* following: a file of the previous pass */
struct logseen {
	dev_t dev;
	ino_t ino;
	off_t size, done;
	int gz;
};

struct logreader {
	struct logfile *files;
	size_t nfiles, cap, next;
	gzFile gz;	     /* the file being read */
	const char *gzpath;
	char *line;	     /* LOGREAD_LINE_MAX + 1 bytes */
	size_t have;	     /* bytes of the current line gathered so far */
	int overlong;	     /* the current line is too long: skip to its LF */
	char *rbuf;	     /* read buffer */
	size_t rpos, rlen;
	int eof;
	size_t cur;	     /* index of the file being read */
	size_t linebytes;    /* bytes of the current line, overlong or not */
	int follow;	     /* leave a last line without LF for the next pass */
	struct logseen *seen; /* following: the files of the previous pass */
	size_t nseen;
	struct logreader_stats st;
};

#define RBUF_SIZE (256u * 1024)

struct logreader *
logreader_new(void)
{
	struct logreader *r = xcalloc(1, sizeof *r);
	r->line = xmalloc(LOGREAD_LINE_MAX + 1);
	r->rbuf = xmalloc(RBUF_SIZE);
	return r;
}

static void
add(struct logreader *r, const char *path, const struct stat *st, int current)
{
	if (r->nfiles == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 8;
		r->files = xrealloc(r->files, r->cap * sizeof *r->files);
	}
	r->files[r->nfiles++] = (struct logfile){ .path = xstrdup(path),
						  .mtime = st->st_mtime,
						  .current = current,
						  .dev = st->st_dev,
						  .ino = st->st_ino,
						  .size = st->st_size };
}

int
logreader_add_file(struct logreader *r, const char *path, struct buf *err)
{
	struct stat st;
	if (stat(path, &st) == -1) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	add(r, path, &st, 0);
	/* files given one by one keep their order: same mtime rank as given */
	r->files[r->nfiles - 1].mtime = (time_t)r->nfiles;
	r->files[r->nfiles - 1].current = 2;
	return 0;
}

static int
cmp_file(const void *a, const void *b)
{
	const struct logfile *x = a, *y = b;
	if (x->current != y->current)
		return x->current - y->current;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int add_dir(struct logreader *r, const char *dirpath, struct buf *err);

int
logreader_add_spool(struct logreader *r, const char *spool, struct buf *err)
{
	/* log/current, and the writers' own files of an installation with
	 * users per role (docs/privileges.md) */
	static const char *const subs[] = { "log", "log/enqueue", "log/bounce" };
	struct buf dir = { 0 };
	for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
		buf_reset(&dir);
		buf_printf(&dir, "%s/%s", spool, subs[i]);
		if (add_dir(r, buf_cstr(&dir), err) == -1) {
			buf_free(&dir);
			return -1;
		}
	}
	buf_free(&dir);
	return 0;
}

static int
add_dir(struct logreader *r, const char *dirpath, struct buf *err)
{
	struct buf dir = { 0 };
	buf_append_str(&dir, dirpath);
	DIR *d = opendir(buf_cstr(&dir));
	if (!d) {
		int e = errno;
		if (e == ENOENT) {
			buf_free(&dir);
			return 0;
		}
		buf_printf(err, "%s: %s", buf_cstr(&dir), strerror(e));
		buf_free(&dir);
		return -1;
	}
	size_t first = r->nfiles;
	struct dirent *de;
	struct buf path = { 0 };
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		int current = strcmp(n, "current") == 0;
		if (!current && strncmp(n, "current.", 8) != 0 && n[0] != '@')
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/%s", buf_cstr(&dir), n);
		struct stat st;
		if (stat(buf_cstr(&path), &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		add(r, buf_cstr(&path), &st, current);
	}
	closedir(d);
	qsort(r->files + first, r->nfiles - first, sizeof *r->files, cmp_file);
	buf_free(&path);
	buf_free(&dir);
	return 0;
}

/* Opens the next file; 0 when there is none, -1 on error. */
static int
open_next(struct logreader *r, struct buf *err)
{
	while (r->next < r->nfiles) {
		struct logfile *f = &r->files[r->next++];
		if (f->skip)
			continue;
		const char *path = f->path;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			if (errno == ENOENT) /* rotated away meanwhile */
				continue;
			buf_printf(err, "%s: %s", path, strerror(errno));
			return -1;
		}
		/* gzdopen reads from the descriptor's offset */
		if (f->start && lseek(fd, f->start, SEEK_SET) == -1) {
			buf_printf(err, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		r->gz = gzdopen(fd, "rb");
		if (!r->gz) {
			close(fd);
			buf_printf(err, "%s: out of memory", path);
			return -1;
		}
		gzbuffer(r->gz, 128 * 1024);
		f->gz = !gzdirect(r->gz);
		f->done = f->start;
		r->cur = r->next - 1;
		r->gzpath = path;
		r->st.files++;
		r->rpos = r->rlen = 0;
		r->eof = 0;
		r->have = 0;
		r->overlong = 0;
		return 1;
	}
	return 0;
}

static void
close_file(struct logreader *r)
{
	if (r->gz)
		gzclose(r->gz);
	r->gz = NULL;
}

/* Gathers the next raw line of the open file into r->line.  1: a line
 * (r->have bytes, without LF), 0: end of file, -1: error. */
static int
raw_line(struct logreader *r, struct buf *err)
{
	r->have = 0;
	r->overlong = 0;
	r->linebytes = 0;
	for (;;) {
		if (r->rpos == r->rlen) {
			if (r->eof)
				break;
			int n = gzread(r->gz, r->rbuf, RBUF_SIZE);
			if (n < 0) {
				int code;
				const char *msg = gzerror(r->gz, &code);
				if (code == Z_ERRNO)
					msg = strerror(errno);
				/* a damaged or cut gzip stream: what was read counts */
				buf_printf(err, "%s: %s", r->gzpath, msg);
				return -1;
			}
			if (n == 0) {
				r->eof = 1;
				break;
			}
			r->rpos = 0;
			r->rlen = (size_t)n;
		}
		char *start = r->rbuf + r->rpos;
		size_t avail = r->rlen - r->rpos;
		char *lf = memchr(start, '\n', avail);
		size_t take = lf ? (size_t)(lf - start) : avail;
		if (!r->overlong) {
			if (r->have + take > LOGREAD_LINE_MAX)
				r->overlong = 1;
			else {
				memcpy(r->line + r->have, start, take);
				r->have += take;
			}
		}
		r->rpos += take + (lf ? 1 : 0);
		r->linebytes += take;
		if (lf) {
			r->files[r->cur].done += (off_t)r->linebytes + 1;
			return 1;
		}
	}
	if (r->have == 0 && !r->overlong)
		return 0;
	if (r->follow) {
		/* still being written, perhaps: read again by the next pass */
		r->have = 0;
		return 0;
	}
	/* a last line without its LF: a write cut short (or still going on) */
	r->st.lines++;
	r->st.truncated++;
	r->have = 0;
	return 0;
}

int
logreader_next(struct logreader *r, struct logline *out, struct buf *err)
{
	for (;;) {
		if (!r->gz) {
			int o = open_next(r, err);
			if (o <= 0)
				return o;
		}
		int got = raw_line(r, err);
		if (got < 0) {
			close_file(r);
			return -1;
		}
		if (got == 0) {
			close_file(r);
			continue;
		}
		r->st.lines++;
		if (r->overlong) {
			r->st.malformed++;
			continue;
		}
		r->line[r->have] = '\0';
		const char *why;
		if (r->have == 0 || logline_parse(r->line, r->have, out, &why) == -1) {
			r->st.malformed++;
			continue;
		}
		return 1;
	}
}

/* ---- following ---- */

void
logreader_follow(struct logreader *r)
{
	r->follow = 1;
}

void
logreader_rescan(struct logreader *r)
{
	close_file(r);
	r->nseen = 0;
	r->seen = xrealloc(r->seen, (r->nfiles ? r->nfiles : 1) * sizeof *r->seen);
	for (size_t i = 0; i < r->nfiles; i++) {
		struct logfile *f = &r->files[i];
		r->seen[r->nseen++] = (struct logseen){ f->dev, f->ino, f->size, f->done, f->gz };
		free(f->path);
	}
	r->nfiles = 0;
	r->next = 0;
}

int
logreader_resume(struct logreader *r)
{
	int again = 0;
	for (size_t i = 0; i < r->nfiles && !again; i++) {
		struct logfile *f = &r->files[i];
		const struct logseen *s = NULL;
		for (size_t k = 0; k < r->nseen && !s; k++)
			if (r->seen[k].dev == f->dev && r->seen[k].ino == f->ino)
				s = &r->seen[k];
		if (!s) {
			/* new: the next `current` (or a file named by the
			 * caller) is read from its start; a new rotated copy
			 * holds lines read before, under another inode (a
			 * compressed copy, a processed one) */
			if (f->current == 0)
				again = 1;
		} else if (s->gz) {
			if (f->size != s->size)
				again = 1;
			f->skip = 1;
			f->gz = 1;
		} else if (f->size < s->done) {
			again = 1; /* cut (copytruncate) or rewritten */
		} else
			f->start = f->done = s->done;
	}
	if (again) {
		for (size_t i = 0; i < r->nfiles; i++) {
			r->files[i].start = r->files[i].done = 0;
			r->files[i].skip = r->files[i].gz = 0;
		}
		r->st = (struct logreader_stats){ 0 };
	}
	r->nseen = 0;
	return again ? 0 : 1;
}

void
logreader_stats(const struct logreader *r, struct logreader_stats *out)
{
	*out = r->st;
}

void
logreader_free(struct logreader *r)
{
	if (!r)
		return;
	close_file(r);
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	free(r->seen);
	free(r->line);
	free(r->rbuf);
	free(r);
}
