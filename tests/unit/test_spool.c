/*
 * test_spool - unit tests for lib/spool.c (the batch writer and reader of
 * docs/spool.md) and lib/ledger.c (the key set, the campaign ledger and
 * recovery), mostly with hostile input.
 *
 * The writer's output is read back with every compression level and
 * every kind of envelope value the escaping must survive; the reader is
 * then fed every prefix of a valid batch (a crash can leave any), and
 * hand-made batches that each break one rule of the grammar.  The
 * ledger is opened, committed, torn and recovered in a temporary spool
 * made with mkdtemp and removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "check.h"
#include "ledger.h"
#include "spool.h"

static char spool_dir[64];

/* ---- small file helpers ---- */

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static int
read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	char chunk[4096];
	size_t n;
	buf_reset(out);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	buf_cstr(out);
	return 0;
}

static int
exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void
remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			struct buf sub = BUF_INIT;
			buf_printf(&sub, "%s/%s", path, de->d_name);
			remove_tree(sub.data);
			buf_free(&sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* ---- escaping and identifiers ---- */

static void
test_escape(void)
{
	/* Every byte value: the escaped form is printable, spaceless ASCII,
	 * and unescapes to the original. */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	struct buf esc = BUF_INIT, back = BUF_INIT;
	spool_escape(&esc, all, sizeof all);
	int clean = 1;
	for (size_t i = 0; i < esc.len; i++)
		if ((unsigned char)esc.data[i] < 0x21 || (unsigned char)esc.data[i] > 0x7e)
			clean = 0;
	CHECK(clean);
	CHECK_INT_EQ(spool_unescape(&back, esc.data, esc.len), 0);
	CHECK_INT_EQ(back.len, 256);
	CHECK(back.len == 256 && memcmp(back.data, all, 256) == 0);
	/* Exactly the bytes the format names are escaped, upper-case hex. */
	buf_reset(&esc);
	spool_escape(&esc, "a b%c\r\nd\x80\xff~!", 12);
	CHECK_STR_EQ(esc.data, "a%20b%25c%0D%0Ad%80%FF~!");
	buf_reset(&esc);
	spool_escape(&esc, "", 0);
	CHECK_STR_EQ(buf_cstr(&esc), "");

	static const char *const bad[] = {"%",	"%4", "%4G",  "%4a", "a b", "a\nb",
					  "%%", "x%", "\x80", "%g0", "%-1"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		buf_reset(&back);
		CHECK_INT_EQ(spool_unescape(&back, bad[i], strlen(bad[i])), -1);
	}
	buf_reset(&back);
	CHECK_INT_EQ(spool_unescape(&back, "%41%7E%00x", 10), 0);
	CHECK_INT_EQ(back.len, 4);
	CHECK(back.len == 4 && memcmp(back.data, "A~\0x", 4) == 0);
	buf_free(&esc);
	buf_free(&back);

	CHECK(spool_valid_id("spring-survey"));
	CHECK(spool_valid_id("a.b_c-D9"));
	CHECK(spool_valid_id("x"));
	char id[80];
	memset(id, 'a', sizeof id);
	id[64] = '\0';
	CHECK(spool_valid_id(id));
	id[64] = 'a';
	id[65] = '\0';
	CHECK(!spool_valid_id(id));
	CHECK(!spool_valid_id(""));
	CHECK(!spool_valid_id(NULL));
	CHECK(!spool_valid_id(".hidden"));
	CHECK(!spool_valid_id(".."));
	CHECK(!spool_valid_id("../etc"));
	CHECK(!spool_valid_id("a/b"));
	CHECK(!spool_valid_id("a b"));
	CHECK(!spool_valid_id("caf\xc3\xa9"));

	CHECK_STR_EQ(spool_root("/x/y"), "/x/y");
	setenv("MAILSHOT_SPOOL", "/from/env", 1);
	CHECK_STR_EQ(spool_root(NULL), "/from/env");
	CHECK_STR_EQ(spool_root(""), "/from/env");
	unsetenv("MAILSHOT_SPOOL");
	CHECK(spool_root(NULL) != NULL && spool_root(NULL)[0] != '\0');
}

/* ---- the writer and the reader together ---- */

struct msg {
	const char *recipient, *sender, *message_id;
	unsigned long line;
	int test;
	const char *data;
	size_t len;
};

static char big_message[300000];

static const struct msg sample[] = {
    {"jane@example.org", "news@example.com", "<20261123.1a2b3c4d.0@example.com>", 2, 0,
     "Subject: hi\r\n\r\nHello\r\n", 22},
    /* The null sender, no message-id, a test message. */
    {"bob@example.net", "", NULL, 0, 1, "x\r\n", 3},
    /* Every byte the escaping exists for. */
    {"a b%20c\r\nrecipient evil@x\n\x01\x7f\x80\xff%", "sp ace%%\n\ntest 1", "<%00 >", ULONG_MAX, 0,
     "body\0with\0NULs\r\n", 16},
    /* An empty message (deflate is skipped for it), an empty message-id. */
    {"caf\xc3\xa9@example.org", "s@x", "", 7, 1, "", 0},
    /* A body that looks like the format itself. */
    {"r@x", "s@x", "m", 1, 0, "\nmessage 1 envelope 3 body 4 encoding identity size 4\n\n", 55},
    /* A large one, compressible. */
    {"big@example.org", "s@x", "<big@x>", 99, 0, big_message, sizeof big_message},
};
#define NSAMPLE (sizeof sample / sizeof *sample)

static void
fill_batch(struct spool_batch *b, const struct spool_batch_info *info, int level)
{
	spool_batch_init(b, info, level);
	for (size_t i = 0; i < NSAMPLE; i++) {
		struct spool_message m = {sample[i].recipient,	sample[i].sender, sample[i].line,
					  sample[i].message_id, sample[i].test,	  sample[i].data,
					  sample[i].len};
		CHECK_INT_EQ(spool_batch_add(b, &m), i);
	}
	CHECK_INT_EQ(b->count, NSAMPLE);
}

static int
same_message(const struct spool_read_message *got, size_t i)
{
	const struct msg *w = &sample[i];
	return got->index == i && strcmp(got->recipient, w->recipient) == 0 &&
	       strcmp(got->sender, w->sender) == 0 &&
	       strcmp(got->message_id, w->message_id ? w->message_id : "") == 0 &&
	       got->line == w->line && got->test == w->test && got->len == w->len &&
	       (w->len == 0 || memcmp(got->data, w->data, w->len) == 0);
}

/* Writes the sample batch with the given level; returns its path in
 * path (the tmp/ file). */
static void
write_sample(int level, const struct spool_batch_info *info, unsigned long seq, struct buf *path)
{
	struct spool_batch b;
	struct buf err = BUF_INIT;
	char name[SPOOL_NAME_MAX];
	fill_batch(&b, info, level);
	CHECK_INT_EQ(spool_batch_write_tmp(spool_dir, &b, seq, name, &err), 0);
	char want[SPOOL_NAME_MAX];
	snprintf(want, sizeof want, "B.%lld.%ld.%lu", (long long)info->created, (long)getpid(),
		 seq);
	CHECK_STR_EQ(name, want);
	buf_reset(path);
	buf_printf(path, "%s/tmp/%s", spool_dir, name);
	spool_batch_free(&b);
	buf_free(&err);
}

static void
test_round_trip(void)
{
	uint64_t rng = 42;
	for (size_t i = 0; i < sizeof big_message; i++)
		big_message[i] = "abc \r\n"[next_random(&rng) % 6];

	const struct spool_batch_info info = {"spring-survey", "survey", 1763896948, 1764000000};
	const struct spool_batch_info plain = {"c", NULL, 5, 0};
	static const int levels[] = {0, 1, 6, 9};
	struct buf path = BUF_INIT, err = BUF_INIT, file = BUF_INIT;
	for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
		for (int which = 0; which < 2; which++) {
			const struct spool_batch_info *in = which ? &plain : &info;
			write_sample(levels[l], in, 100 + l * 2 + (unsigned long)which, &path);
			int permanent = -1;
			struct spool_reader *r = spool_reader_open(path.data, &err, &permanent);
			CHECK(r != NULL);
			if (r == NULL) {
				fprintf(stderr, "open: %s\n", buf_cstr(&err));
				continue;
			}
			const struct spool_batch_info *got = spool_reader_info(r);
			CHECK_STR_EQ(got->campaign, in->campaign);
			CHECK_STR_EQ(got->type, in->type ? in->type : "");
			CHECK_INT_EQ(got->created, in->created);
			CHECK_INT_EQ(got->expires, in->expires);
			CHECK_INT_EQ(spool_reader_count(r), NSAMPLE);
			struct spool_read_message m;
			size_t n = 0;
			int rc;
			while ((rc = spool_reader_next(r, &m, &err)) == 1) {
				CHECK(n < NSAMPLE && same_message(&m, n));
				n++;
			}
			CHECK_INT_EQ(rc, 0);
			CHECK_INT_EQ(n, NSAMPLE);
			CHECK_INT_EQ(spool_reader_next(r, &m, &err), 0); /* stays at the end */
			spool_reader_close(r);

			/* Compressed, the big message must really be deflated. */
			read_file(path.data, &file);
			if (levels[l] > 0)
				CHECK(file.len < sizeof big_message);
			else
				CHECK(file.len > sizeof big_message);
			struct buf campaign = BUF_INIT;
			CHECK_INT_EQ(spool_batch_campaign(path.data, &campaign), 0);
			CHECK_STR_EQ(buf_cstr(&campaign), in->campaign);
			buf_free(&campaign);
			unlink(path.data);
		}
	}

	/* An empty batch. */
	struct spool_batch b;
	char name[SPOOL_NAME_MAX];
	spool_batch_init(&b, &info, 6);
	CHECK_INT_EQ(spool_batch_write_tmp(spool_dir, &b, 1, name, &err), 0);
	buf_reset(&path);
	buf_printf(&path, "%s/tmp/%s", spool_dir, name);
	int permanent;
	struct spool_reader *r = spool_reader_open(path.data, &err, &permanent);
	CHECK(r != NULL);
	if (r != NULL) {
		struct spool_read_message m;
		CHECK_INT_EQ(spool_reader_count(r), 0);
		CHECK_INT_EQ(spool_reader_next(r, &m, &err), 0);
		spool_reader_close(r);
	}
	/* The name is taken: O_EXCL refuses to overwrite a batch. */
	buf_reset(&err);
	CHECK_INT_EQ(spool_batch_write_tmp(spool_dir, &b, 1, name, &err), -1);
	CHECK(err.len > 0);
	/* Publishing moves it from tmp/ to new/. */
	buf_reset(&err);
	CHECK_INT_EQ(spool_batch_publish(spool_dir, name, &err), 0);
	CHECK(!exists(path.data));
	buf_reset(&path);
	buf_printf(&path, "%s/new/%s", spool_dir, name);
	CHECK(exists(path.data));
	unlink(path.data);
	buf_reset(&err);
	CHECK_INT_EQ(spool_batch_publish(spool_dir, name, &err), -1);
	CHECK(err.len > 0);
	/* No tmp/ to write to: an error, no crash. */
	buf_reset(&err);
	CHECK_INT_EQ(spool_batch_write_tmp("/nonexistent/spool", &b, 1, name, &err), -1);
	CHECK(strstr(buf_cstr(&err), "/nonexistent/spool/tmp/") != NULL);

	/* The limits: 512 messages, or 4 MiB. */
	struct spool_message small = {"a@b", "c@d", 1, NULL, 0, "x\r\n", 3};
	for (int i = 0; i < SPOOL_BATCH_MAX_MESSAGES - 1; i++)
		spool_batch_add(&b, &small);
	CHECK(!spool_batch_full(&b));
	spool_batch_add(&b, &small);
	CHECK(spool_batch_full(&b));
	spool_batch_clear(&b);
	CHECK(!spool_batch_full(&b));
	CHECK_INT_EQ(b.count, 0);
	spool_batch_free(&b);
	spool_batch_init(&b, &info, 0); /* identity: the bytes count as they are */
	char *huge = xmalloc(SPOOL_BATCH_MAX_BYTES);
	memset(huge, 'x', SPOOL_BATCH_MAX_BYTES);
	struct spool_message big = {"a@b", "c@d", 1, NULL, 0, huge, SPOOL_BATCH_MAX_BYTES};
	spool_batch_add(&b, &big);
	CHECK(spool_batch_full(&b));
	free(huge);
	spool_batch_free(&b);

	buf_free(&path);
	buf_free(&err);
	buf_free(&file);
}

/*
 * A batch cut at every byte offset: the reader may give the messages that
 * are wholly before the cut (and exactly those), but must end in an
 * error, never in a clean end, and never crash.
 */
static void
test_truncation(void)
{
	const struct spool_batch_info info = {"cut", "t", 1763896948, 1764000000};
	struct buf path = BUF_INIT, whole = BUF_INIT, err = BUF_INIT, cut = BUF_INIT;
	for (int level = 0; level <= 9; level += 9) {
		/* Without the big message: every offset is tried. */
		struct spool_batch b;
		char name[SPOOL_NAME_MAX];
		spool_batch_init(&b, &info, level);
		size_t ends[NSAMPLE];
		for (size_t i = 0; i + 1 < NSAMPLE; i++) {
			struct spool_message m = {sample[i].recipient, sample[i].sender,
						  sample[i].line,      sample[i].message_id,
						  sample[i].test,      sample[i].data,
						  sample[i].len};
			spool_batch_add(&b, &m);
			ends[i] = b.records.len;
		}
		CHECK_INT_EQ(
		    spool_batch_write_tmp(spool_dir, &b, 900 + (unsigned long)level, name, &err),
		    0);
		buf_reset(&path);
		buf_printf(&path, "%s/tmp/%s", spool_dir, name);
		read_file(path.data, &whole);
		size_t head = whole.len - b.records.len;
		size_t nmsg = b.count;
		spool_batch_free(&b);
		unlink(path.data);

		buf_reset(&cut);
		buf_printf(&cut, "%s/cut", spool_dir);
		int bad = 0, clean_end = 0, wrong = 0, too_many = 0;
		for (size_t k = 0; k < whole.len; k++) {
			write_file(cut.data, whole.data, k);
			int permanent = -1;
			buf_reset(&err);
			struct spool_reader *r = spool_reader_open(cut.data, &err, &permanent);
			if (r == NULL) {
				if (permanent != 1 || err.len == 0)
					bad++;
				if (k >= head)
					bad++; /* the header was whole */
				continue;
			}
			if (k < head)
				bad++; /* opened with a cut header */
			struct spool_read_message m;
			size_t n = 0;
			int rc;
			while ((rc = spool_reader_next(r, &m, &err)) == 1) {
				if (!same_message(&m, n))
					wrong++;
				n++;
			}
			/* Messages wholly before the cut. */
			size_t complete = 0;
			while (complete < nmsg && head + ends[complete] <= k)
				complete++;
			if (n > complete)
				too_many++;
			if (rc != -1)
				clean_end++;
			spool_reader_close(r);
		}
		CHECK_INT_EQ(bad, 0);
		CHECK_INT_EQ(wrong, 0);
		CHECK_INT_EQ(too_many, 0);
		CHECK_INT_EQ(clean_end, 0);
		/* And the whole file reads cleanly. */
		write_file(cut.data, whole.data, whole.len);
		int permanent;
		struct spool_reader *r = spool_reader_open(cut.data, &err, &permanent);
		CHECK(r != NULL);
		if (r != NULL) {
			struct spool_read_message m;
			size_t n = 0;
			int rc;
			while ((rc = spool_reader_next(r, &m, &err)) == 1)
				n++;
			CHECK_INT_EQ(rc, 0);
			CHECK_INT_EQ(n, nmsg);
			spool_reader_close(r);
		}
		unlink(cut.data);
	}
	buf_free(&path);
	buf_free(&whole);
	buf_free(&err);
	buf_free(&cut);
}

/* ---- hand-made batches, each breaking one rule ---- */

/* Appends a message record for env (the envelope lines, without the empty
 * line that ends it) and the given body. */
static void
record(struct buf *f, size_t index, const char *env, const char *body, size_t blen,
       const char *encoding, size_t size)
{
	size_t elen = strlen(env) + 1;
	buf_printf(f, "message %zu envelope %zu body %zu encoding %s size %zu\n", index, elen, blen,
		   encoding, size);
	buf_append_str(f, env);
	buf_append_char(f, '\n');
	buf_append(f, body, blen);
	buf_append_char(f, '\n');
}

#define HEADER "mailshot-batch 1\ncampaign c\ncreated 1\ncount 1\n\n"
#define ENV "recipient a@b\nsender s@x\nline 3\ntest 0\n"

/* Opens text as a batch: 0 when it opens and reads to a clean end with
 * the given number of messages, 1 when the open refuses it, 2 when a read
 * does.  A refusal must be permanent and explained.  For the one-message
 * batches below, 3 means the message was handed out before the refusal:
 * the record was not checked before it was used. */
static int
try_batch(const char *text, size_t len, size_t *nread)
{
	struct buf path = BUF_INIT, err = BUF_INIT;
	buf_printf(&path, "%s/handmade", spool_dir);
	write_file(path.data, text, len);
	int permanent = -1, result;
	struct spool_reader *r = spool_reader_open(path.data, &err, &permanent);
	*nread = 0;
	if (r == NULL) {
		CHECK_INT_EQ(permanent, 1);
		CHECK(err.len > 0);
		result = 1;
	} else {
		struct spool_read_message m;
		int rc;
		while ((rc = spool_reader_next(r, &m, &err)) == 1)
			(*nread)++;
		result = rc == 0 ? 0 : 2;
		if (rc == -1) {
			CHECK(err.len > 0);
			/* Stays refused. */
			CHECK_INT_EQ(spool_reader_next(r, &m, &err), -1);
		}
		spool_reader_close(r);
	}
	unlink(path.data);
	buf_free(&path);
	buf_free(&err);
	return result;
}

static int
try_str(const char *text)
{
	size_t n;
	return try_batch(text, strlen(text), &n);
}

/* A batch with the header fields given and one good message. */
static int
try_header(const char *fields)
{
	struct buf f = BUF_INIT;
	buf_printf(&f, "mailshot-batch 1\n%s\n", fields);
	record(&f, 0, ENV, "hi\r\n", 4, "identity", 4);
	size_t n;
	int rc = try_batch(f.data, f.len, &n);
	buf_free(&f);
	return rc == 2 && n > 0 ? 3 : rc;
}

/* A batch with one message whose envelope is env. */
static int
try_envelope(const char *env)
{
	struct buf f = BUF_INIT;
	buf_append_str(&f, HEADER);
	record(&f, 0, env, "hi\r\n", 4, "identity", 4);
	size_t n;
	int rc = try_batch(f.data, f.len, &n);
	buf_free(&f);
	return rc == 2 && n > 0 ? 3 : rc;
}

/* A batch with one message whose "message" line is line (body "hi\r\n"). */
static int
try_message_line(const char *line)
{
	struct buf f = BUF_INIT;
	buf_printf(&f, HEADER "%s\n" ENV "\nhi\r\n\n", line);
	size_t n;
	int rc = try_batch(f.data, f.len, &n);
	buf_free(&f);
	return rc == 2 && n > 0 ? 3 : rc;
}

static void
test_handmade(void)
{
	size_t n;
	/* The baseline the variations start from is accepted. */
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount 1\n"), 0);
	CHECK_INT_EQ(try_header("campaign c\ntype t\ncreated 1\nexpires 2\ncount 1\n"), 0);
	CHECK_INT_EQ(try_header("count 1\ncreated 1\ncampaign c\n"), 0); /* any order */
	CHECK_INT_EQ(try_envelope(ENV), 0);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender \n"), 0); /* null sender, defaults */
	CHECK_INT_EQ(try_envelope("test 1\nline 0\nsender s\nrecipient r\nmessage-id <m>\n"), 0);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding identity size 4"), 0);

	/* The version line. */
	CHECK_INT_EQ(try_str(""), 1);
	CHECK_INT_EQ(try_str("mailshot-batch 1"), 1);
	CHECK_INT_EQ(try_str("mailshot-batch 2\ncampaign c\ncreated 1\ncount 0\n\n"), 1);
	CHECK_INT_EQ(try_str("mailshot-batch 10\ncampaign c\ncreated 1\ncount 0\n\n"), 1);
	CHECK_INT_EQ(try_str("mailshot-batch 1 \ncampaign c\ncreated 1\ncount 0\n\n"), 1);
	CHECK_INT_EQ(try_str("mailshot-batch  1\ncampaign c\ncreated 1\ncount 0\n\n"), 1);
	CHECK_INT_EQ(try_str("Mailshot-batch 1\ncampaign c\ncreated 1\ncount 0\n\n"), 1);
	CHECK_INT_EQ(try_str("mailshot-batch 1\r\ncampaign c\ncreated 1\ncount 0\n\n"), 1);
	CHECK_INT_EQ(try_str("\nmailshot-batch 1\ncampaign c\ncreated 1\ncount 0\n\n"), 1);
	CHECK_INT_EQ(try_str("mailshot-batch 1\ncampaign c\ncreated 1\ncount 0\n\n"), 0);

	/* Header fields: required, known, well-formed, once. */
	CHECK_INT_EQ(try_header("created 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount 1\ncolour blue\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount 1\nCount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncampaign d\ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncreated 2\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ntype a\ntype b\ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\nexpires 1\nexpires 2\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated -1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated +1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1x\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated \ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 9999999999999999999\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 99999999999999999999\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount  1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount 1 \n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount 99999\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount\n"), 1);
	CHECK_INT_EQ(try_header("campaign\ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign \ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign %\ncreated 1\ncount 1\n"), 1);
	/* The campaign names a directory: only the writer's alphabet. */
	CHECK_INT_EQ(try_header("campaign ../../etc\ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign a%2Fb\ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign a%00b\ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign .x\ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ntype a%20b\ncreated 1\ncount 1\n"), 1);
	CHECK_INT_EQ(try_header("campaign c\ncreated 1\ncount 1"), 1); /* no empty line */
	CHECK_INT_EQ(try_str("mailshot-batch 1\ncampaign c\ncreated 1\ncount 0\n"), 1);

	/* The message line, to the letter. */
	CHECK_INT_EQ(try_message_line("message 1 envelope 40 body 4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message -0 envelope 40 body 4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message +0 envelope 40 body 4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope +39 body 4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message  0 envelope 40 body 4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body  4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding identity size 4 "), 2);
	CHECK_INT_EQ(try_message_line(" message 0 envelope 40 body 4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding identity size 4x"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding identity size 5"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding gzip size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding identityx size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding  identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding Identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 size 4 encoding identity"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 39 body 4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 41 body 4 encoding identity size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 2 encoding identity size 2"), 2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 5 encoding identity size 5"), 2);
	/* Lengths that overflow: sscanf read "-1" and 2^64-1 as huge
	 * numbers, and a body length of 2^64-1 wrapped the bounds check into
	 * returning a message of SIZE_MAX bytes. */
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 18446744073709551615 encoding "
				      "identity size 18446744073709551615"),
		     2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body -1 encoding identity size -1"),
		     2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 18446744073709551615 body 4 encoding "
				      "identity size 4"),
		     2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 9999999999999999999 encoding "
				      "identity size 9999999999999999999"),
		     2);
	CHECK_INT_EQ(try_message_line("message 0 envelope 40 body 4 encoding deflate size 4"), 2);
	CHECK_INT_EQ(try_message_line("message 0"), 2);
	CHECK_INT_EQ(try_message_line(""), 2);

	/* Envelopes. */
	CHECK_INT_EQ(try_envelope("sender s@x\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nflavour x\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nRecipient c@d\n"), 2);
	/* A second recipient used to be glued to the first ("a@bc@d"). */
	CHECK_INT_EQ(try_envelope("recipient a@b\nrecipient c@d\nsender s\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nsender t\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nmessage-id x\nmessage-id y\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nline 1\nline 2\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\ntest 0\ntest 1\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\ntest 2\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\ntest 01\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nline -1\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nline x\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nline 18446744073709551615\n"), 0);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nline 18446744073709551616\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nline 99999999999999999999\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a@b\nsender s\nline 000000000000000000001\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a b\nsender s\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a%2\nsender s\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a%zzb\nsender s\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a\x80\nsender s\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a\rb\nsender s\n"), 2);
	/* A NUL would silently cut the C string handed out. */
	CHECK_INT_EQ(try_envelope("recipient a%00b\nsender s\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a\nsender s%00\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient a\nsender s\nmessage-id %00\n"), 2);
	CHECK_INT_EQ(try_envelope("recipient\nsender s\n"), 2);
	CHECK_INT_EQ(try_envelope("\nrecipient a\nsender s\n"), 2);

	/* Count mismatches. */
	struct buf f = BUF_INIT;
	buf_append_str(&f, "mailshot-batch 1\ncampaign c\ncreated 1\ncount 2\n\n");
	record(&f, 0, ENV, "hi\r\n", 4, "identity", 4);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2); /* one message short */
	CHECK_INT_EQ(n, 1);
	record(&f, 1, ENV, "ho\r\n", 4, "identity", 4);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 0);
	CHECK_INT_EQ(n, 2);
	record(&f, 2, ENV, "hu\r\n", 4, "identity", 4);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2); /* one too many */
	CHECK_INT_EQ(n, 2);
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, "hi\r\n", 4, "identity", 4);
	buf_append_char(&f, '\n'); /* trailing junk */
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2);
	buf_reset(&f);
	buf_append_str(&f, "mailshot-batch 1\ncampaign c\ncreated 1\ncount 2\n\n");
	record(&f, 1, ENV, "hi\r\n", 4, "identity", 4); /* indexes out of order */
	record(&f, 0, ENV, "hi\r\n", 4, "identity", 4);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2);
	CHECK_INT_EQ(n, 0);

	/* Deflate: a good stream, then broken ones. */
	const char *text = "Subject: x\r\n\r\nhello hello hello hello\r\n";
	unsigned char z[256];
	uLongf zlen = sizeof z;
	CHECK_INT_EQ(compress2(z, &zlen, (const Bytef *)text, (uLong)strlen(text), 9), Z_OK);
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, (const char *)z, zlen, "deflate", strlen(text));
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 0);
	CHECK_INT_EQ(n, 1);
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, (const char *)z, zlen, "deflate", strlen(text) + 1);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2); /* size too large */
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, (const char *)z, zlen, "deflate", strlen(text) - 1);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2); /* size too small */
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, (const char *)z, zlen - 1, "deflate", strlen(text));
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2); /* stream cut */
	z[zlen / 2] ^= 0x55;
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, (const char *)z, zlen, "deflate", strlen(text));
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2); /* stream corrupt */
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, "not zlib", 8, "deflate", 8);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2);
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, "", 0, "deflate", 0);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2); /* no stream at all */
	/* A stream of nothing, declared as such, is a valid empty message. */
	zlen = sizeof z;
	CHECK_INT_EQ(compress2(z, &zlen, (const Bytef *)"", 0, 6), Z_OK);
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, (const char *)z, zlen, "deflate", 0);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 0);
	/* A bomb's declared size is bounded. */
	buf_reset(&f);
	buf_append_str(&f, HEADER);
	record(&f, 0, ENV, (const char *)z, zlen, "deflate", (size_t)1 << 40);
	CHECK_INT_EQ(try_batch(f.data, f.len, &n), 2);
	buf_free(&f);

	/* Not readable at all: temporary. */
	struct buf err = BUF_INIT, path = BUF_INIT;
	int permanent = -1;
	buf_printf(&path, "%s/no-such-batch", spool_dir);
	CHECK(spool_reader_open(path.data, &err, &permanent) == NULL);
	CHECK_INT_EQ(permanent, 0);
	CHECK(err.len > 0);
	struct buf campaign = BUF_INIT;
	CHECK_INT_EQ(spool_batch_campaign(path.data, &campaign), -1);
	buf_free(&campaign);
	/* A directory is not a batch. */
	buf_reset(&err);
	CHECK(spool_reader_open(spool_dir, &err, &permanent) == NULL);
	/* Far larger than any batch: refused without reading it. */
	buf_reset(&path);
	buf_printf(&path, "%s/huge", spool_dir);
	int fd = open(path.data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1 && ftruncate(fd, (off_t)64 << 20) == 0);
	if (fd != -1)
		close(fd);
	buf_reset(&err);
	permanent = -1;
	CHECK(spool_reader_open(path.data, &err, &permanent) == NULL);
	CHECK_INT_EQ(permanent, 1);
	unlink(path.data);
	buf_free(&err);
	buf_free(&path);
}

/* ---- the key set ---- */

static void
test_keyset(void)
{
	struct keyset s = {0};
	uint32_t first = 77;
	CHECK(!keyset_contains(&s, keyset_hash("a", 1)));
	CHECK_INT_EQ(keyset_insert(&s, keyset_hash("a@b", 3), 5, &first), 1);
	CHECK_INT_EQ(keyset_insert(&s, keyset_hash("a@b", 3), 9, &first), 0);
	CHECK_INT_EQ(first, 5);
	CHECK_INT_EQ(keyset_insert(&s, keyset_hash("a@b", 3), 9, NULL), 0);
	CHECK(keyset_contains(&s, keyset_hash("a@b", 3)));
	CHECK(!keyset_contains(&s, keyset_hash("a@c", 3)));
	CHECK(keyset_hash("", 0) != 0);
	CHECK(keyset_hash("a@b", 3) != keyset_hash("A@b", 3));
	/* Through several growths, every key stays with its first line. */
	char key[32];
	int missing = 0, wrong_line = 0, dup_inserted = 0;
	for (uint32_t i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof key, "user%u@example.org", i);
		if (keyset_insert(&s, keyset_hash(key, (size_t)n), i + 1, NULL) != 1)
			dup_inserted++;
	}
	for (uint32_t i = 0; i < 100000; i++) {
		int n = snprintf(key, sizeof key, "user%u@example.org", i);
		uint64_t h = keyset_hash(key, (size_t)n);
		if (!keyset_contains(&s, h))
			missing++;
		if (keyset_insert(&s, h, 0, &first) != 0 || first != i + 1)
			wrong_line++;
	}
	CHECK_INT_EQ(dup_inserted, 0);
	CHECK_INT_EQ(missing, 0);
	CHECK_INT_EQ(wrong_line, 0);
	CHECK_INT_EQ(s.count, 100001);
	CHECK(s.count * 10 <= s.cap * 7);
	keyset_free(&s);
	CHECK_INT_EQ(s.cap, 0);
	CHECK(!keyset_contains(&s, 1));
}

/* ---- the ledger ---- */

static int
has_key(const struct ledger *l, const char *key)
{
	return keyset_contains(&l->keys, keyset_hash(key, strlen(key)));
}

static void
ledger_path(struct buf *p, const char *campaign, const char *file)
{
	buf_reset(p);
	buf_printf(p, "%s/campaigns/%s/%s", spool_dir, campaign, file);
}

static void
append_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "ab");
	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static void
test_ledger(void)
{
	struct ledger l, l2;
	struct buf err = BUF_INIT, path = BUF_INIT, text = BUF_INIT;

	/* A new ledger: just the header line. */
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "camp", &err), 0);
	ledger_path(&path, "camp", "ledger");
	read_file(path.data, &text);
	CHECK_STR_EQ(text.data, "mailshot-ledger 1\n");
	CHECK_INT_EQ(l.loaded, 0);

	/* The lock: a second run of the campaign is refused while the
	 * first holds it, another campaign is not. */
	buf_reset(&err);
	CHECK_INT_EQ(ledger_open(&l2, spool_dir, "camp", &err), -1);
	CHECK(strstr(buf_cstr(&err), "camp") != NULL);
	ledger_close(&l2); /* harmless after a failed open */
	buf_reset(&err);
	CHECK_INT_EQ(ledger_open(&l2, spool_dir, "other", &err), 0);
	ledger_close(&l2);

	/* Commit one batch, discard another, commit a third. */
	ledger_add_pending(&l, "jane@example.org", 16);
	ledger_add_pending(&l, "bob@example.net", 15);
	CHECK_INT_EQ(ledger_commit(&l, "B.1.2.0", &err), 0);
	ledger_add_pending(&l, "ghost@example.org", 17);
	ledger_discard_pending(&l);
	ledger_add_pending(&l, "carol@example.com", 17);
	CHECK_INT_EQ(ledger_commit(&l, "B.1.2.1", &err), 0);
	read_file(path.data, &text);
	CHECK_STR_EQ(text.data, "mailshot-ledger 1\njane@example.org\nbob@example.net\n"
				"commit B.1.2.0\ncarol@example.com\ncommit B.1.2.1\n");
	ledger_close(&l);

	/* Reopened (the lock is free again): the committed keys are known. */
	buf_reset(&err);
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "camp", &err), 0);
	CHECK_INT_EQ(l.loaded, 3);
	CHECK(has_key(&l, "jane@example.org"));
	CHECK(has_key(&l, "bob@example.net"));
	CHECK(has_key(&l, "carol@example.com"));
	CHECK(!has_key(&l, "ghost@example.org"));
	uint32_t first = 99;
	CHECK_INT_EQ(keyset_insert(&l.keys, keyset_hash("jane@example.org", 16), 5, &first), 0);
	CHECK_INT_EQ(first, 0); /* queued by an earlier run */
	ledger_close(&l);

	/* A torn tail: keys without their commit, then half a line. */
	size_t good_len = text.len;
	append_file(path.data, "torn@example.org\nalso@example.org\ncommit B.1.2");
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "camp", &err), 0);
	CHECK(!has_key(&l, "torn@example.org"));
	CHECK(!has_key(&l, "also@example.org"));
	CHECK(has_key(&l, "carol@example.com"));
	CHECK_INT_EQ(l.loaded, 3);
	read_file(path.data, &text);
	CHECK_INT_EQ(text.len, good_len); /* cut off */
	/* A commit after the cut is whole, not glued to the torn line. */
	ledger_add_pending(&l, "dave@example.org", 16);
	CHECK_INT_EQ(ledger_commit(&l, "B.1.2.2", &err), 0);
	ledger_close(&l);
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "camp", &err), 0);
	CHECK(has_key(&l, "dave@example.org"));
	CHECK(!has_key(&l, "torn@example.org"));
	CHECK_INT_EQ(l.loaded, 4);
	ledger_close(&l);
	/* A tail of a partial key only, and of keys with a partial commit
	 * line whose name would otherwise match nothing. */
	read_file(path.data, &text);
	good_len = text.len;
	append_file(path.data, "partial@exa");
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "camp", &err), 0);
	CHECK_INT_EQ(l.loaded, 4);
	ledger_close(&l);
	read_file(path.data, &text);
	CHECK_INT_EQ(text.len, good_len);

	/* Not a ledger: refused as permanent, the file left alone. */
	ledger_path(&path, "bad", "");
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "bad", &err), 0);
	ledger_close(&l);
	ledger_path(&path, "bad", "ledger");
	write_file(path.data, "mailshot-ledger 2\nx@y\ncommit B.1\n", 33);
	buf_reset(&err);
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "bad", &err), -2);
	CHECK(err.len > 0);
	read_file(path.data, &text);
	CHECK_INT_EQ(text.len, 33);
	/* ... and the failed open left the lock free. */
	write_file(path.data, "", 0);
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "bad", &err), 0);
	ledger_close(&l);
	/* A header torn while the ledger was created: a new ledger. */
	write_file(path.data, "mailshot-led", 12);
	buf_reset(&err);
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "bad", &err), 0);
	ledger_close(&l);
	read_file(path.data, &text);
	CHECK_STR_EQ(text.data, "mailshot-ledger 1\n");
	write_file(path.data, "garbage", 7);
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "bad", &err), -2);

	/* No place for campaigns/: an error, not a crash. */
	buf_reset(&err);
	CHECK_INT_EQ(ledger_open(&l, "/nonexistent/spool", "camp", &err), -1);
	CHECK(err.len > 0);

	buf_free(&err);
	buf_free(&path);
	buf_free(&text);
}

/*
 * A write that fails half-way (the file size limit stands in for a full
 * disk) must leave nothing of itself in the ledger: before, the written
 * keys stayed and the next commit line committed them with another batch.
 */
static void
test_ledger_failed_commit(void)
{
	struct ledger l;
	struct buf err = BUF_INIT, path = BUF_INIT, text = BUF_INIT;
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "full", &err), 0);
	ledger_add_pending(&l, "first@example.org", 17);
	CHECK_INT_EQ(ledger_commit(&l, "B.1.1.0", &err), 0);
	ledger_path(&path, "full", "ledger");
	read_file(path.data, &text);
	size_t before = text.len;

	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)before + 10;
	void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
	CHECK_INT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ledger_add_pending(&l, "lost1@example.org", 17);
	ledger_add_pending(&l, "lost2@example.org", 17);
	buf_reset(&err);
	int rc = ledger_commit(&l, "B.1.1.1", &err);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, old_handler);
	CHECK_INT_EQ(rc, -1);
	CHECK(err.len > 0);
	read_file(path.data, &text);
	CHECK_INT_EQ(text.len, before);
	/* The batch is then dropped; the next one commits only its keys. */
	ledger_discard_pending(&l);
	ledger_add_pending(&l, "next@example.org", 16);
	CHECK_INT_EQ(ledger_commit(&l, "B.1.1.2", &err), 0);
	ledger_close(&l);
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "full", &err), 0);
	CHECK(has_key(&l, "first@example.org"));
	CHECK(has_key(&l, "next@example.org"));
	CHECK(!has_key(&l, "lost1@example.org"));
	CHECK(!has_key(&l, "lost2@example.org"));
	CHECK_INT_EQ(l.loaded, 2);
	ledger_close(&l);
	buf_free(&err);
	buf_free(&path);
	buf_free(&text);
}

/* Writes a one-message batch of campaign into tmp/; returns its name. */
static void
tmp_batch(const char *campaign, unsigned long seq, char *name)
{
	struct spool_batch b;
	struct buf err = BUF_INIT;
	const struct spool_batch_info info = {campaign, NULL, 1700000000, 0};
	struct spool_message m = {"a@b", "s@x", 1, NULL, 0, "x\r\n", 3};
	spool_batch_init(&b, &info, 0);
	spool_batch_add(&b, &m);
	CHECK_INT_EQ(spool_batch_write_tmp(spool_dir, &b, seq, name, &err), 0);
	spool_batch_free(&b);
	buf_free(&err);
}

static int
in_dir(const char *sub, const char *name)
{
	struct buf p = BUF_INIT;
	buf_printf(&p, "%s/%s/%s", spool_dir, sub, name);
	int rc = exists(p.data);
	buf_free(&p);
	return rc;
}

static void
test_recovery(void)
{
	struct ledger l;
	struct buf err = BUF_INIT, path = BUF_INIT;
	char committed[SPOOL_NAME_MAX], uncommitted[SPOOL_NAME_MAX], foreign[SPOOL_NAME_MAX],
	    prefix[SPOOL_NAME_MAX], foreign_committed[SPOOL_NAME_MAX];
	unsigned forward = 99, back = 99;

	/* Nothing to do. */
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "rec", &err), 0);
	CHECK_INT_EQ(ledger_recover(&l, spool_dir, "rec", &forward, &back, &err), 0);
	CHECK_INT_EQ(forward, 0);
	CHECK_INT_EQ(back, 0);

	/* A crashed run: one batch committed but not moved, one written but
	 * not committed; another campaign's batch, uncommitted, and one whose
	 * name this campaign's ledger happens to know; a name that is a
	 * prefix of a committed one; junk. */
	tmp_batch("rec", 1, committed);
	tmp_batch("rec", 2, uncommitted);
	tmp_batch("rec", 11, prefix); /* B.T.P.11 vs the committed B.T.P.1 */
	tmp_batch("other-campaign", 3, foreign);
	tmp_batch("other-campaign", 4, foreign_committed);
	ledger_add_pending(&l, "a@b", 3);
	CHECK_INT_EQ(ledger_commit(&l, committed, &err), 0);
	ledger_add_pending(&l, "c@d", 3);
	CHECK_INT_EQ(ledger_commit(&l, foreign_committed, &err), 0);
	buf_printf(&path, "%s/tmp/B.junk", spool_dir);
	write_file(path.data, "not a batch", 11);
	buf_reset(&path);
	buf_printf(&path, "%s/tmp/B.cut", spool_dir);
	write_file(path.data, "mailshot-batch 1\ncampaign rec\ncre", 33);
	buf_reset(&path);
	buf_printf(&path, "%s/tmp/other-file", spool_dir);
	write_file(path.data, "x", 1);
	ledger_close(&l);

	/* The next run recovers. */
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "rec", &err), 0);
	buf_reset(&err);
	CHECK_INT_EQ(ledger_recover(&l, spool_dir, "rec", &forward, &back, &err), 0);
	CHECK_INT_EQ(forward, 1);
	CHECK_INT_EQ(back, 2);
	CHECK(in_dir("new", committed));
	CHECK(!in_dir("tmp", committed));
	CHECK(!in_dir("tmp", uncommitted));
	CHECK(!in_dir("new", uncommitted));
	CHECK(!in_dir("tmp", prefix));
	CHECK(!in_dir("new", prefix));
	CHECK(in_dir("tmp", foreign));
	CHECK(in_dir("tmp", foreign_committed));
	CHECK(!in_dir("new", foreign_committed));
	CHECK(in_dir("tmp", "B.junk"));
	CHECK(in_dir("tmp", "B.cut"));
	CHECK(in_dir("tmp", "other-file"));
	/* The moved batch is intact. */
	buf_reset(&path);
	buf_printf(&path, "%s/new/%s", spool_dir, committed);
	struct buf campaign = BUF_INIT;
	CHECK_INT_EQ(spool_batch_campaign(path.data, &campaign), 0);
	CHECK_STR_EQ(buf_cstr(&campaign), "rec");
	buf_free(&campaign);
	/* Recovery again: nothing left to do. */
	CHECK_INT_EQ(ledger_recover(&l, spool_dir, "rec", &forward, &back, &err), 0);
	CHECK_INT_EQ(forward, 0);
	CHECK_INT_EQ(back, 0);
	ledger_close(&l);

	/* The other campaign's run rolls its own back, and keeps the
	 * batch that only "rec"'s ledger names. */
	CHECK_INT_EQ(ledger_open(&l, spool_dir, "other-campaign", &err), 0);
	CHECK_INT_EQ(ledger_recover(&l, spool_dir, "other-campaign", &forward, &back, &err), 0);
	CHECK_INT_EQ(forward, 0);
	CHECK_INT_EQ(back, 2);
	CHECK(!in_dir("tmp", foreign));
	CHECK(!in_dir("tmp", foreign_committed));
	ledger_close(&l);

	/* A spool without tmp/ has nothing to recover. */
	char bare[sizeof spool_dir + 8];
	snprintf(bare, sizeof bare, "%s/bare", spool_dir);
	mkdir(bare, 0700);
	CHECK_INT_EQ(ledger_open(&l, bare, "x", &err), 0);
	CHECK_INT_EQ(ledger_recover(&l, bare, "x", &forward, &back, &err), 0);
	CHECK_INT_EQ(forward + back, 0);
	ledger_close(&l);

	buf_free(&err);
	buf_free(&path);
}

int
main(void)
{
	snprintf(spool_dir, sizeof spool_dir, "/tmp/test_spool.XXXXXX");
	if (mkdtemp(spool_dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	struct buf err = BUF_INIT;
	if (spool_make_dir(spool_dir, "tmp", 0700, &err) == -1 ||
	    spool_make_dir(spool_dir, "new", 0700, &err) == -1 ||
	    spool_sync_dir(spool_dir, "tmp", &err) == -1) {
		fprintf(stderr, "%s\n", err.data);
		return 2;
	}
	CHECK_INT_EQ(spool_make_dir(spool_dir, "tmp", 0700, &err), 0); /* exists: fine */
	CHECK_INT_EQ(spool_sync_dir(spool_dir, "nonexistent", &err), -1);
	buf_free(&err);

	test_escape();
	test_round_trip();
	test_truncation();
	test_handmade();
	test_keyset();
	test_ledger();
	test_ledger_failed_commit();
	test_recovery();

	remove_tree(spool_dir);
	return check_report("spool");
}
