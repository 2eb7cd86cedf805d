/*
 * fuzz_spool - libFuzzer target for the batch reader of lib/spool.c.
 *
 * The input is a batch file.  It is put in a memfd made once per process
 * (no file system churn) and read through /proc/self/fd/N with
 * spool_reader_open and spool_reader_next, which must never crash, must
 * refuse with a permanent error and a message, and must hand out only
 * what docs/spool.md allows: a valid campaign and type, messages in index
 * order, then a clean end only after exactly count messages; an error or
 * the end, once reached, stays.
 *
 * When the reader takes the whole batch, the messages are written again
 * with the writer (spool_batch_write_tmp, into a temporary spool made
 * once) and read back: everything must come back unchanged, which checks
 * the escaping and the compression both ways.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "spool.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_spool: %s:%d: broken: %s\n", __FILE__, __LINE__,     \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static int memfd = -1;
static char memfd_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz_spool", 0);
	if (memfd == -1) {
		perror("memfd_create");
		abort();
	}
	snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
	return 0;
}

struct copy {
	char *recipient, *sender, *message_id, *data;
	unsigned long line;
	int test;
	size_t len;
};

static void
free_copies(struct copy *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].recipient);
		free(c[i].sender);
		free(c[i].message_id);
		free(c[i].data);
	}
	free(c);
}

/* Writes the messages again and reads them back: all must match.  The
 * spool is made for the occasion and removed (libFuzzer may end the
 * process without running atexit handlers). */
static void
round_trip(const struct spool_batch_info *info, const struct copy *c, size_t n, int level,
	   unsigned long seq)
{
	struct spool_batch b;
	struct buf err = BUF_INIT, path = BUF_INIT, tmp = BUF_INIT;
	char name[SPOOL_NAME_MAX], spool_dir[64];
	snprintf(spool_dir, sizeof spool_dir, "/tmp/fuzz_spool.XXXXXX");
	REQUIRE(mkdtemp(spool_dir) != NULL);
	REQUIRE(spool_make_dir(spool_dir, "tmp", 0700, &err) == 0);
	spool_batch_init(&b, info, level);
	for (size_t i = 0; i < n; i++) {
		struct spool_message m = {c[i].recipient, c[i].sender, c[i].line, c[i].message_id,
					  c[i].test,	  c[i].data,   c[i].len};
		REQUIRE(spool_batch_add(&b, &m) == i);
	}
	REQUIRE(spool_batch_write_tmp(spool_dir, &b, seq, name, &err) == 0);
	spool_batch_free(&b);
	buf_printf(&path, "%s/tmp/%s", spool_dir, name);
	int permanent;
	struct spool_reader *r = spool_reader_open(path.data, &err, &permanent);
	REQUIRE(r != NULL);
	const struct spool_batch_info *got = spool_reader_info(r);
	REQUIRE(strcmp(got->campaign, info->campaign) == 0);
	REQUIRE(strcmp(got->type, info->type ? info->type : "") == 0);
	REQUIRE(got->created == info->created);
	REQUIRE(got->expires == info->expires);
	REQUIRE(spool_reader_count(r) == n);
	struct spool_read_message m;
	size_t i = 0;
	int rc;
	while ((rc = spool_reader_next(r, &m, &err)) == 1) {
		REQUIRE(i < n);
		REQUIRE(m.index == i);
		REQUIRE(strcmp(m.recipient, c[i].recipient) == 0);
		REQUIRE(strcmp(m.sender, c[i].sender) == 0);
		REQUIRE(strcmp(m.message_id, c[i].message_id) == 0);
		REQUIRE(m.line == c[i].line && m.test == c[i].test);
		REQUIRE(m.len == c[i].len && (m.len == 0 || memcmp(m.data, c[i].data, m.len) == 0));
		i++;
	}
	REQUIRE(rc == 0 && i == n);
	spool_reader_close(r);
	unlink(path.data);
	buf_printf(&tmp, "%s/tmp", spool_dir);
	rmdir(tmp.data);
	rmdir(spool_dir);
	buf_free(&err);
	buf_free(&path);
	buf_free(&tmp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long seq;
	if (ftruncate(memfd, 0) == -1 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();

	struct buf err = BUF_INIT;
	int permanent = -1;
	struct spool_reader *r = spool_reader_open(memfd_path, &err, &permanent);
	if (r == NULL) {
		/* The file is there and readable: only malformed is left. */
		REQUIRE(permanent == 1);
		REQUIRE(err.len > 0);
		struct buf campaign = BUF_INIT;
		REQUIRE(spool_batch_campaign(memfd_path, &campaign) == -1);
		buf_free(&campaign);
		buf_free(&err);
		return 0;
	}
	REQUIRE(size >= 17 && memcmp(data, "mailshot-batch 1\n", 17) == 0);
	const struct spool_batch_info *info = spool_reader_info(r);
	REQUIRE(spool_valid_id(info->campaign));
	REQUIRE(info->type != NULL && (info->type[0] == '\0' || spool_valid_id(info->type)));
	REQUIRE(info->created >= 0 && info->expires >= 0);
	size_t count = spool_reader_count(r);
	REQUIRE(count <= SPOOL_BATCH_MAX_MESSAGES * 16);

	struct copy *copies = calloc(count ? count : 1, sizeof *copies);
	REQUIRE(copies != NULL);
	struct spool_read_message m;
	size_t n = 0;
	int rc;
	while ((rc = spool_reader_next(r, &m, &err)) == 1) {
		REQUIRE(n < count);
		REQUIRE(m.index == n);
		REQUIRE(m.recipient != NULL && m.sender != NULL && m.message_id != NULL);
		REQUIRE(m.test == 0 || m.test == 1);
		REQUIRE(m.len == 0 || m.data != NULL);
		copies[n].recipient = xstrdup(m.recipient);
		copies[n].sender = xstrdup(m.sender);
		copies[n].message_id = xstrdup(m.message_id);
		copies[n].data = xmalloc(m.len ? m.len : 1);
		if (m.len)
			memcpy(copies[n].data, m.data, m.len);
		copies[n].len = m.len;
		copies[n].line = m.line;
		copies[n].test = m.test;
		n++;
	}
	REQUIRE(rc == 0 || rc == -1);
	if (rc == 0)
		REQUIRE(n == count);
	else
		REQUIRE(err.len > 0);
	/* What was reached stays. */
	REQUIRE(spool_reader_next(r, &m, &err) == rc);
	REQUIRE(spool_reader_next(r, &m, &err) == rc);

	if (rc == 0) {
		struct spool_batch_info again = *info;
		int level = size > 0 ? data[size - 1] % 10 : 0;
		round_trip(&again, copies, n, level, seq++);
		struct buf campaign = BUF_INIT;
		REQUIRE(spool_batch_campaign(memfd_path, &campaign) == 0);
		REQUIRE(strcmp(campaign.data, info->campaign) == 0);
		buf_free(&campaign);
	}
	spool_reader_close(r);
	free_copies(copies, n);
	buf_free(&err);
	return 0;
}
