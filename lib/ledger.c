/*
 * ledger - per-campaign ledger and key set.  See ledger.h and
 * docs/spool.md.
 */
#include "ledger.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

static const char ledger_magic[] = "mailshot-ledger 1\n";

/* FNV-1a, then a splitmix64 finalizer so that similar addresses spread
 * over the whole table.  Not keyed: the list comes from the sender
 * themselves, so there is nobody to attack the table with collisions. */
uint64_t
keyset_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h ? h : 1; /* 0 marks an empty slot */
}

static void
keyset_grow(struct keyset *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024;
	uint64_t *nh = xcalloc(ncap, sizeof *nh);
	uint32_t *nl = xcalloc(ncap, sizeof *nl);
	for (size_t i = 0; i < s->cap; i++) {
		if (s->hashes[i] == 0)
			continue;
		size_t j = (size_t)s->hashes[i] & (ncap - 1);
		while (nh[j] != 0)
			j = (j + 1) & (ncap - 1);
		nh[j] = s->hashes[i];
		nl[j] = s->lines[i];
	}
	free(s->hashes);
	free(s->lines);
	s->hashes = nh;
	s->lines = nl;
	s->cap = ncap;
}

int
keyset_insert(struct keyset *s, uint64_t h, uint32_t line, uint32_t *first)
{
	if ((s->count + 1) * 10 > s->cap * 7)
		keyset_grow(s);
	size_t j = (size_t)h & (s->cap - 1);
	while (s->hashes[j] != 0) {
		if (s->hashes[j] == h) {
			if (first)
				*first = s->lines[j];
			return 0;
		}
		j = (j + 1) & (s->cap - 1);
	}
	s->hashes[j] = h;
	s->lines[j] = line;
	s->count++;
	return 1;
}

int
keyset_contains(const struct keyset *s, uint64_t h)
{
	if (s->cap == 0)
		return 0;
	size_t j = (size_t)h & (s->cap - 1);
	while (s->hashes[j] != 0) {
		if (s->hashes[j] == h)
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

void
keyset_free(struct keyset *s)
{
	free(s->hashes);
	free(s->lines);
	memset(s, 0, sizeof *s);
}

static int
sync_path_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

/* Parses the ledger text; keys become committed only at their commit
 * line.  Returns the offset just after the last commit line (the valid
 * prefix), or -1 when the file is not a ledger at all. */
static long
ledger_parse(struct ledger *l, const char *data, size_t len)
{
	size_t magic = sizeof ledger_magic - 1;
	if (len < magic || memcmp(data, ledger_magic, magic) != 0)
		return -1;
	size_t pos = magic, valid = magic;
	size_t first_pending = 0;
	uint64_t *batch = NULL;
	size_t nbatch = 0, capbatch = 0;
	(void)first_pending;
	while (pos < len) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		if (nl == NULL)
			break; /* torn line */
		size_t n = (size_t)(nl - (data + pos));
		const char *line = data + pos;
		if (n > 7 && memcmp(line, "commit ", 7) == 0) {
			for (size_t i = 0; i < nbatch; i++)
				if (keyset_insert(&l->keys, batch[i], 0, NULL))
					l->loaded++;
			nbatch = 0;
			buf_append(&l->committed, line + 7, n - 7);
			buf_append_char(&l->committed, '\n');
			valid = pos + n + 1;
		} else if (n > 0) {
			if (nbatch == capbatch) {
				capbatch = capbatch ? capbatch * 2 : 512;
				batch = xrealloc(batch, capbatch * sizeof *batch);
			}
			batch[nbatch++] = keyset_hash(line, n);
		}
		pos += n + 1;
	}
	free(batch);
	return (long)valid;
}

int
ledger_open(struct ledger *l, const char *root, const char *campaign, struct buf *err)
{
	struct buf dir = BUF_INIT;
	memset(l, 0, sizeof *l);
	l->lock_fd = l->fd = -1;
	int rc = -1;
	char *data = NULL;

	buf_printf(&dir, "%s/campaigns", root);
	if (mkdir(dir.data, 0700) == -1 && errno != EEXIST)
		goto syserr;
	buf_printf(&dir, "/%s", campaign);
	/* 0750: bounce reads the ledger through the group (docs/privileges.md) */
	if (mkdir(dir.data, 0750) == 0)
		(void)chmod(dir.data, 0750);
	else if (errno != EEXIST)
		goto syserr;

	buf_printf(&l->path, "%s/lock", dir.data);
	l->lock_fd = open(l->path.data, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (l->lock_fd == -1) {
		buf_printf(err, "unable to open %s: %s", l->path.data, strerror(errno));
		goto out;
	}
	if (flock(l->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			buf_printf(err, "campaign %s is being queued by another mailshot-enqueue",
				   campaign);
		else
			buf_printf(err, "unable to lock %s: %s", l->path.data, strerror(errno));
		goto out;
	}

	buf_reset(&l->path);
	buf_printf(&l->path, "%s/ledger", dir.data);
	l->fd = open(l->path.data, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd == -1) {
		buf_printf(err, "unable to open %s: %s", l->path.data, strerror(errno));
		goto out;
	}
	struct stat st;
	if (fstat(l->fd, &st) == -1) {
		buf_printf(err, "unable to stat %s: %s", l->path.data, strerror(errno));
		goto out;
	}
	size_t magic_len = sizeof ledger_magic - 1;
	if (st.st_size > 0 && (size_t)st.st_size < magic_len) {
		/* Shorter than its first line: a crash while the ledger was
		 * being created tore the header itself.  If what is there is
		 * the beginning of the header, nothing was ever committed:
		 * start over, as for a new ledger. */
		char head[sizeof ledger_magic];
		size_t n = (size_t)st.st_size;
		if (pread(l->fd, head, n, 0) == (ssize_t)n && memcmp(head, ledger_magic, n) == 0) {
			if (ftruncate(l->fd, 0) == -1) {
				buf_printf(err, "unable to truncate %s: %s", l->path.data,
					   strerror(errno));
				goto out;
			}
			st.st_size = 0;
		}
	}
	if (st.st_size == 0) {
		/* New ledger: the header, made durable with its directory entry. */
		if (write(l->fd, ledger_magic, sizeof ledger_magic - 1) !=
			    (ssize_t)(sizeof ledger_magic - 1) ||
		    fsync(l->fd) == -1 || sync_path_dir(dir.data) == -1) {
			buf_printf(err, "unable to write %s: %s", l->path.data, strerror(errno));
			goto out;
		}
		rc = 0;
		goto out;
	}
	size_t len = (size_t)st.st_size, got = 0;
	data = xmalloc(len + 1);
	while (got < len) {
		ssize_t n = pread(l->fd, data + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf_printf(err, "unable to read %s: %s", l->path.data,
				   n == 0 ? "file shrank" : strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	long valid = ledger_parse(l, data, len);
	if (valid < 0) {
		buf_printf(err, "%s: not a mailshot ledger of version 1", l->path.data);
		rc = -2;
		goto out;
	}
	if ((size_t)valid < len) {
		/* A torn tail: keys of a batch whose commit never happened. */
		if (ftruncate(l->fd, valid) == -1 || fsync(l->fd) == -1) {
			buf_printf(err, "unable to truncate %s: %s", l->path.data,
				   strerror(errno));
			goto out;
		}
	}
	rc = 0;
	goto out;
syserr:
	buf_printf(err, "unable to create %s: %s", dir.data, strerror(errno));
out:
	/* On failure nothing stays open or allocated (the lock above all:
	 * the caller may not call ledger_close after a failed open). */
	if (rc != 0)
		ledger_close(l);
	free(data);
	buf_free(&dir);
	return rc;
}

static int
is_committed(const struct ledger *l, const char *name)
{
	size_t n = strlen(name);
	if (l->committed.data == NULL)
		return 0; /* nothing committed (and NULL + 0 is undefined) */
	const char *p = l->committed.data, *end = p + l->committed.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		if ((size_t)(nl - p) == n && memcmp(p, name, n) == 0)
			return 1;
		p = nl + 1;
	}
	return 0;
}

/* 1 when the process that named batch B.T.P.N no longer exists. */
static int
writer_gone(const char *name)
{
	const char *p = strchr(name + 2, '.');
	if (p == NULL)
		return 0;
	char *end;
	errno = 0;
	long pid = strtol(p + 1, &end, 10);
	if (errno != 0 || end == p + 1 || *end != '.' || pid <= 1 || pid > INT_MAX)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

int
ledger_recover(struct ledger *l, const char *root, const char *campaign, unsigned *forward,
	       unsigned *back, struct buf *err)
{
	struct buf path = BUF_INIT, owner = BUF_INIT;
	*forward = *back = 0;
	buf_printf(&path, "%s/tmp", root);
	DIR *d = opendir(path.data);
	if (d == NULL) {
		int e = errno;
		buf_free(&path);
		if (e == ENOENT)
			return 0;
		buf_printf(err, "unable to open %s/tmp: %s", root, strerror(e));
		return -1;
	}
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "B.", 2) != 0)
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/tmp/%s", root, de->d_name);
		buf_reset(&owner);
		if (spool_batch_campaign(path.data, &owner) == -1) {
			/* Unreadable or cut short: cannot be committed (commit
			 * follows the fsync).  It may be another campaign's
			 * batch being written right now, so leave it -- unless
			 * its writer (the P of B.T.P.N) is gone: then it is
			 * what a kill -9 left, and nobody else will remove it. */
			if (writer_gone(de->d_name) && unlink(path.data) == 0)
				(*back)++;
			continue;
		}
		if (strcmp(owner.data, campaign) != 0)
			continue;
		if (is_committed(l, de->d_name)) {
			if (spool_batch_publish(root, de->d_name, err) == -1) {
				rc = -1;
				break;
			}
			(*forward)++;
		} else {
			if (unlink(path.data) == -1) {
				buf_printf(err, "unable to remove %s: %s", path.data,
					   strerror(errno));
				rc = -1;
				break;
			}
			(*back)++;
		}
	}
	closedir(d);
	if (rc == 0 && *forward > 0)
		rc = spool_sync_dir(root, "new", err);
	buf_free(&path);
	buf_free(&owner);
	return rc;
}

void
ledger_add_pending(struct ledger *l, const char *key, size_t len)
{
	buf_append(&l->pending, key, len);
	buf_append_char(&l->pending, '\n');
}

int
ledger_commit(struct ledger *l, const char *batch_name, struct buf *err)
{
	/* Where the ledger ends now: a failed write is cut back to it.
	 * Otherwise its part-written keys (or a line cut in the middle)
	 * would stay in the file, and the next commit line would commit
	 * them with another batch, or glue the cut line to its first key. */
	off_t before = lseek(l->fd, 0, SEEK_END);
	size_t keys_len = l->pending.len;
	if (before == (off_t)-1) {
		buf_printf(err, "unable to seek %s: %s", l->path.data, strerror(errno));
		return -1;
	}
	buf_printf(&l->pending, "commit %s\n", batch_name);
	size_t off = 0;
	while (off < l->pending.len) {
		ssize_t n = write(l->fd, l->pending.data + off, l->pending.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			buf_printf(err, "unable to write %s: %s", l->path.data, strerror(errno));
			goto fail;
		}
		off += (size_t)n;
	}
	if (fdatasync(l->fd) == -1) {
		/* The commit line may or may not be durable: cut it off, so
		 * that this process at least never sees the batch as
		 * committed.  Either outcome on disk is consistent, since the
		 * batch in tmp/ is complete (recovery rolls it either way). */
		buf_printf(err, "unable to sync %s: %s", l->path.data, strerror(errno));
		goto fail;
	}
	buf_append_str(&l->committed, batch_name);
	buf_append_char(&l->committed, '\n');
	l->end = (unsigned long long)before + l->pending.len;
	l->end_valid = 1;
	buf_reset(&l->pending);
	return 0;
fail:
	l->end_valid = 0;
	if (ftruncate(l->fd, before) == 0)
		(void)fdatasync(l->fd);
	buf_truncate(&l->pending, keys_len); /* the keys stay pending */
	return -1;
}

int
ledger_next_offset(struct ledger *l, unsigned long long *off)
{
	if (!l->end_valid) {
		off_t end = lseek(l->fd, 0, SEEK_END);
		if (end == (off_t)-1)
			return -1;
		l->end = (unsigned long long)end;
		l->end_valid = 1;
	}
	*off = l->end + l->pending.len;
	return 0;
}

int
ledger_key_at(const char *root, const char *campaign, unsigned long long offset,
	      struct buf *out)
{
	/* A key is an address (at most 254 bytes): read the byte before the
	 * offset, which must end the previous line, and enough after it. */
	size_t magic = sizeof ledger_magic - 1;
	if (offset < magic || offset > (unsigned long long)INT64_MAX - 512)
		return 0;
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/campaigns/%s/ledger", root, campaign);
	int fd = open(path.data, O_RDONLY | O_CLOEXEC);
	buf_free(&path);
	if (fd == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	char chunk[300];
	ssize_t n;
	do
		n = pread(fd, chunk, sizeof chunk, (off_t)offset - 1);
	while (n < 0 && errno == EINTR);
	int saved = errno;
	close(fd);
	if (n < 0) {
		errno = saved;
		return -1;
	}
	if (n < 3 || chunk[0] != '\n')
		return 0;
	const char *nl = memchr(chunk + 1, '\n', (size_t)n - 1);
	if (nl == NULL)
		return 0;
	size_t len = (size_t)(nl - (chunk + 1));
	if (len == 0 || (len >= 7 && memcmp(chunk + 1, "commit ", 7) == 0) ||
	    memchr(chunk + 1, '@', len) == NULL)
		return 0;
	buf_append(out, chunk + 1, len);
	return 1;
}

void
ledger_discard_pending(struct ledger *l)
{
	buf_reset(&l->pending);
}

void
ledger_close(struct ledger *l)
{
	if (l->fd != -1)
		close(l->fd);
	if (l->lock_fd != -1)
		close(l->lock_fd);
	l->fd = l->lock_fd = -1;
	buf_free(&l->path);
	buf_free(&l->pending);
	buf_free(&l->committed);
	keyset_free(&l->keys);
}
