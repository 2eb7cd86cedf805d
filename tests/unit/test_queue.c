/*
 * Unit tests for lib/queue.c: state files (index + journal) built from a
 * real batch, written, read back, torn, hostile; the record head re-read
 * of lib/spool.c; bounce hand-off records.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "proto.h"
#include "queue.h"
#include "spool.h"

static char root[] = "/tmp/mailshot-test-queue-XXXXXX";

static void
run(const char *cmd)
{
	if (system(cmd) != 0)
		fprintf(stderr, "warning: %s failed\n", cmd);
}

/* Writes a batch of n messages (compressed or not) into root/tmp/; its
 * path goes to path, its name to name. */
static void
make_batch(size_t n, int compress, char *name, struct buf *path)
{
	struct spool_batch_info info = {"camp-1", NULL, 1763896948, 1764000000};
	struct spool_batch b;
	spool_batch_init(&b, &info, compress);
	for (size_t i = 0; i < n; i++) {
		char rcpt[64], data[128];
		snprintf(rcpt, sizeof rcpt, "user%zu@Dom%zu.EXAMPLE", i, i % 3);
		snprintf(data, sizeof data, "Subject: %zu\r\n\r\nbody %zu\r\n", i, i);
		struct spool_message m = {rcpt, i == 1 ? "" : "bounce@example.org", i + 2,
					  "<id@x>", i == 2, data, strlen(data)};
		spool_batch_add(&b, &m);
	}
	struct buf err = BUF_INIT;
	static unsigned long seq;
	CHECK(spool_batch_write_tmp(root, &b, ++seq, name, &err) == 0);
	buf_reset(path);
	buf_printf(path, "%s/tmp/%s", root, name);
	spool_batch_free(&b);
	buf_free(&err);
}

static void
test_from_batch_and_heads(void)
{
	char name[SPOOL_NAME_MAX];
	struct buf path = BUF_INIT, err = BUF_INIT;
	for (int compress = 0; compress <= 6; compress += 6) {
		make_batch(5, compress, name, &path);
		struct queue_state st;
		int permanent;
		CHECK(queue_state_from_batch(path.data, name, &st, &err, &permanent) == 0);
		CHECK_INT_EQ((long)st.count, 5);
		CHECK_STR_EQ(st.campaign, "camp-1");
		CHECK_STR_EQ(st.domain[0], "dom0.example");
		CHECK_STR_EQ(st.domain[4], "dom1.example");
		CHECK(st.test[2] == 1 && st.test[0] == 0);
		/* Each record head re-read from its position gives the envelope. */
		int fd = open(path.data, O_RDONLY);
		struct spool_head *h = spool_head_new();
		for (size_t i = 0; i < st.count; i++) {
			struct spool_read_message m;
			CHECK(spool_head_read(h, fd, st.pos[i].offset, st.pos[i].length, i, &m,
					      &err) == 0);
			char want[64];
			snprintf(want, sizeof want, "user%zu@Dom%zu.EXAMPLE", i, i % 3);
			CHECK_STR_EQ(m.recipient, want);
			CHECK_STR_EQ(m.sender, i == 1 ? "" : "bounce@example.org");
			CHECK(m.deflate == (compress > 0));
			/* the body is where the head says: check the first bytes */
			if (!compress) {
				char body[16] = {0};
				CHECK(pread(fd, body, 9, m.body_offset) == 9);
				CHECK(strncmp(body, "Subject: ", 9) == 0);
			}
		}
		/* Wrong index, wrong offset, wrong length, absurd length. */
		struct spool_read_message m;
		buf_reset(&err);
		CHECK(spool_head_read(h, fd, st.pos[1].offset, st.pos[1].length, 0, &m, &err) == -1);
		CHECK(strstr(err.data, "message 0") != NULL);
		CHECK(spool_head_read(h, fd, st.pos[1].offset + 1, st.pos[1].length, 1, &m, &err) ==
		      -1);
		CHECK(spool_head_read(h, fd, st.pos[1].offset, st.pos[1].length - 1, 1, &m, &err) ==
		      -1);
		CHECK(spool_head_read(h, fd, st.pos[1].offset, st.pos[1].length + 1, 1, &m, &err) ==
		      -1);
		CHECK(spool_head_read(h, fd, st.pos[1].offset, SPOOL_HEAD_MAX + 1, 1, &m, &err) == -1);
		CHECK(spool_head_read(h, fd, 1 << 30, 100, 1, &m, &err) == -1);
		CHECK(spool_head_read(h, fd, -5, 100, 1, &m, &err) == -1);
		spool_head_free(h);
		close(fd);

		/* Written, read back: the same index; then the journal. */
		char dir[256];
		snprintf(dir, sizeof dir, "%s/q", root);
		mkdir(dir, 0700);
		CHECK(queue_state_write(dir, &st, &err) == 0);
		char spath[512];
		snprintf(spath, sizeof spath, "%s/%s.state", dir, name);
		struct buf j = BUF_INIT;
		queue_journal_final(&j, QUEUE_DELIVERED, 0, 1763897000);
		queue_journal_retry(&j, 1, 1, 1763897300);
		queue_journal_retry(&j, 1, 2, 1763897900);
		queue_journal_final(&j, QUEUE_FAILED, 3, 1763897000);
		queue_journal_retry(&j, 3, 1, 1763897300); /* a final line is never undone */
		queue_journal_final(&j, QUEUE_EXPIRED, 4, 1763897000);
		queue_journal_start(&j, 1, 1763897950); /* in flight at the "crash" */
		queue_journal_start(&j, 0, 1763897950); /* after a final line: ignored */
		buf_append_str(&j, "r 2 1 176389"); /* torn: no LF */
		int afd = open(spath, O_WRONLY | O_APPEND);
		CHECK(write(afd, j.data, j.len) == (ssize_t)j.len);
		close(afd);
		struct queue_state back;
		int missing;
		CHECK(queue_state_read(spath, name, &back, &err, &missing) == 0);
		CHECK_INT_EQ((long)back.count, 5);
		for (size_t i = 0; i < 5; i++) {
			CHECK(back.pos[i].offset == st.pos[i].offset);
			CHECK(back.pos[i].length == st.pos[i].length);
			CHECK_STR_EQ(back.domain[i], st.domain[i]);
		}
		CHECK(back.final[0] == QUEUE_DELIVERED);
		CHECK(back.final[1] == QUEUE_OPEN && back.attempts[1] == 2 &&
		      back.next[1] == 1763897900 && back.started[1] == 1);
		CHECK(back.started[2] == 0 && back.started[3] == 0);
		CHECK(back.final[2] == QUEUE_OPEN && back.attempts[2] == 0 && back.next[2] == 0);
		CHECK(back.final[3] == QUEUE_FAILED);
		CHECK(back.final[4] == QUEUE_EXPIRED);
		CHECK_INT_EQ((long)back.journal_ignored, 0);
		/* The torn tail was cut off the file. */
		struct stat sb;
		stat(spath, &sb);
		CHECK((size_t)sb.st_size == back.valid_len);
		queue_state_free(&back);
		/* Read by the wrong name: refused. */
		CHECK(queue_state_read(spath, "B.1.2.3", &back, &err, &missing) == -1);
		/* Missing file. */
		CHECK(queue_state_read("/nonexistent/x.state", name, &back, &err, &missing) == -1 &&
		      missing == 1);
		buf_free(&j);
		queue_state_free(&st);
	}
	/* A malformed batch is permanent; a missing one is not. */
	int permanent = 0;
	struct queue_state st;
	char bad[512];
	snprintf(bad, sizeof bad, "%s/bad", root);
	FILE *f = fopen(bad, "w");
	fputs("mailshot-batch 1\ncampaign x\ncreated 1\ncount 1\n\nmessage 0 envelope 3\n", f);
	fclose(f);
	CHECK(queue_state_from_batch(bad, "bad", &st, &err, &permanent) == -1 && permanent == 1);
	CHECK(queue_state_from_batch("/nonexistent", "x", &st, &err, &permanent) == -1 &&
	      permanent == 0);
	buf_free(&path);
	buf_free(&err);
}

static int
parses(const char *text)
{
	struct queue_state st;
	struct buf err = BUF_INIT;
	int rc = queue_state_parse(text, strlen(text), "s", &st, &err);
	if (rc == 0)
		queue_state_free(&st);
	else
		CHECK(strncmp(err.data, "s:", 2) == 0);
	buf_free(&err);
	return rc;
}

#define HDR "mailshot-queue 1\nbatch B.1.2.3\ncampaign c\ncreated 5\nexpires 0\ncount 2\n\n"
#define IDX "m 0 10 20 0 a.example\nm 1 40 20 1 b%2Eexample\n"

static void
test_hostile(void)
{
	CHECK(parses(HDR IDX) == 0);
	CHECK(parses(HDR IDX "d 0 5\nr 1 3 99\n") == 0);
	{
		/* s, then r: no longer in flight; r, then s: in flight. */
		struct queue_state st;
		struct buf err = BUF_INIT;
		const char *t = HDR IDX "s 0 5\nr 0 1 9\nr 1 1 9\ns 1 10\n";
		CHECK(queue_state_parse(t, strlen(t), "s", &st, &err) == 0);
		CHECK(st.started[0] == 0 && st.started[1] == 1);
		queue_state_free(&st);
		buf_free(&err);
	}
	CHECK(parses("") == -1);
	CHECK(parses("mailshot-queue 2\n") == -1);
	CHECK(parses(HDR) == -1);				   /* index missing */
	CHECK(parses(HDR "m 0 10 20 0 a.example\n") == -1); /* index short */
	CHECK(parses(HDR IDX) == 0);
	CHECK(parses("mailshot-queue 1\nbatch B\ncampaign c\ncreated 5\ncount 0\n\n") == 0);
	CHECK(parses("mailshot-queue 1\nbatch B\ncampaign c\ncount 1\n\nm 0 1 1 0 x\n") == -1);
	CHECK(parses("mailshot-queue 1\nbatch B\nbatch C\ncampaign c\ncreated 1\ncount 0\n\n") ==
	      -1);
	CHECK(parses("mailshot-queue 1\nbatch B\ncampaign ../x\ncreated 1\ncount 0\n\n") == -1);
	CHECK(parses("mailshot-queue 1\nbatch B\ncampaign c\ncreated -1\ncount 0\n\n") == -1);
	CHECK(parses("mailshot-queue 1\nbatch B\ncampaign c\ncreated 1\ncount 99999999\n\n") == -1);
	CHECK(parses("mailshot-queue 1\nbatch B\ncampaign c\ncreated 1\ncount 0\nx y\n\n") == -1);
	CHECK(parses("mailshot-queue 1\nbatch %00\ncampaign c\ncreated 1\ncount 0\n\n") == -1);
	CHECK(parses("mailshot-queue 1\nbatch %\ncampaign c\ncreated 1\ncount 0\n\n") == -1);
	CHECK(parses(HDR "m 1 10 20 0 a\nm 0 40 20 1 b\n") == -1);	 /* out of order */
	CHECK(parses(HDR "m 0 10 0 0 a\nm 1 40 20 1 b\n") == -1);	 /* zero length */
	CHECK(parses(HDR "m 0 10 70000 0 a\nm 1 40 20 1 b\n") == -1); /* too long */
	CHECK(parses(HDR "m 0 4294967296 20 0 a\nm 1 40 20 1 b\n") == -1);
	CHECK(parses(HDR "m 0 10 20 2 a\nm 1 40 20 1 b\n") == -1);
	CHECK(parses(HDR "m 0 10 20 0 \nm 1 40 20 1 b\n") == -1);
	CHECK(parses(HDR "m 0 10 20 0 a b\nm 1 40 20 1 b\n") == -1);
	CHECK(parses(HDR "m 0  10 20 0 a\nm 1 40 20 1 b\n") == -1);
	CHECK(parses(HDR "m 0 -10 20 0 a\nm 1 40 20 1 b\n") == -1);
	/* Journal: bad lines are skipped and counted, never fatal. */
	const char *junk[] = {"s 0\n", "s 9 1\n", "d 2 5\n", "d 0\n",	  "z 0 5\n",	  "r 0 70000 5\n",
			      "r 0 1\n", "dd 0 5\n",	  "d -1 5\n",	  "d 0 5 6 7\n",
			      "\n",	 "d 99999999999999999999999 5\n", "r 0 1 x\n"};
	for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
		struct buf t = BUF_INIT, err = BUF_INIT;
		buf_append_str(&t, HDR IDX);
		buf_append_str(&t, junk[i]);
		struct queue_state st;
		CHECK(queue_state_parse(t.data, t.len, "s", &st, &err) == 0);
		CHECK_INT_EQ((long)st.journal_ignored, 1);
		CHECK(st.final[0] == QUEUE_OPEN && st.final[1] == QUEUE_OPEN);
		queue_state_free(&st);
		buf_free(&t);
		buf_free(&err);
	}
	/* A NUL, an overlong line, binary junk. */
	{
		char t[] = HDR IDX "d 0 5\n";
		size_t n = sizeof t - 1;
		t[n - 3] = '\0';
		struct queue_state st;
		struct buf err = BUF_INIT;
		CHECK(queue_state_parse(t, n, "s", &st, &err) == -1);
		buf_free(&err);
		struct buf big = BUF_INIT;
		buf_append_str(&big, HDR "m 0 10 20 0 ");
		for (int i = 0; i < 5000; i++)
			buf_append_char(&big, 'a');
		buf_append_str(&big, "\n");
		CHECK(queue_state_parse(big.data, big.len, "s", &st, &err) == -1);
		buf_free(&big);
		buf_free(&err);
	}
	/* Torn tail: the header itself torn is an error; the index whole and
	 * a torn journal line is fine. */
	CHECK(parses("mailshot-queue 1\nbatch B.1") == -1);
	CHECK(parses(HDR IDX "d 0 1") == 0);
	{
		struct queue_state st;
		struct buf err = BUF_INIT;
		const char *t = HDR IDX "d 0 1";
		CHECK(queue_state_parse(t, strlen(t), "s", &st, &err) == 0);
		CHECK(st.valid_len == strlen(HDR IDX));
		CHECK(st.final[0] == QUEUE_OPEN);
		queue_state_free(&st);
		buf_free(&err);
	}
}

static void
test_dir(void)
{
	int seen[QUEUE_DIRS] = {0}, distinct = 0;
	for (int i = 0; i < 4000; i++) {
		char name[64];
		snprintf(name, sizeof name, "B.1763896948.%d.%d", 4000 + i % 7, i);
		unsigned d = queue_dir(name);
		CHECK(d < QUEUE_DIRS);
		distinct += !seen[d]++;
	}
	CHECK(distinct > 200); /* spread over the directories */
	CHECK(queue_dir("B.1.2.3") == queue_dir("B.1.2.3"));
}

static void
test_bounce(void)
{
	struct buf out = BUF_INIT, storage = BUF_INIT, err = BUF_INIT;
	struct queue_bounce b = {"camp", "B.1.2.3", 7, "jane doe@example.org", "", "failed",
				 "550", "5.1.1", "mx.example.org", "192.0.2.1", 2, 1763897000,
				 "<a@b>", "No such user\r\nhere % -"};
	queue_bounce_format(&out, &b);
	CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
	CHECK(memchr(out.data, '\r', out.len) == NULL);
	const char *f[QUEUE_BOUNCE_FIELDS + 1];
	int n = proto_split(out.data, out.len - 1, &storage, f, QUEUE_BOUNCE_FIELDS + 1);
	CHECK_INT_EQ(n, QUEUE_BOUNCE_FIELDS);
	if (n == QUEUE_BOUNCE_FIELDS) {
		CHECK_STR_EQ(f[0], "bounce");
		CHECK_STR_EQ(f[4], "jane doe@example.org");
		CHECK_STR_EQ(f[5], "");
		CHECK_STR_EQ(f[6], "failed");
		CHECK_STR_EQ(f[14], "No such user\r\nhere % -");
	}
	CHECK(queue_bounce_publish(root, &out, 1, &err) == 0);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "test $(ls %s/bounce/new | wc -l) = 1 && test -z \"$(ls %s/bounce/tmp)\"",
		 root, root);
	CHECK(system(cmd) == 0);
	snprintf(cmd, sizeof cmd, "head -1 %s/bounce/new/S.* | grep -qx 'mailshot-bounces 1'", root);
	CHECK(system(cmd) == 0);
	buf_free(&out);
	buf_free(&storage);
	buf_free(&err);
}

/* The hand-off lines bounce reads back: round trips and hostile lines. */
static void
test_handoff_parse(void)
{
	struct buf out = BUF_INIT, st = BUF_INIT;
	struct queue_bounce qb = {"c1", "B.1.2.3", 7, "Jane Doe@x", "b+v@y", "failed", "550",
				  "5.1.1", "mx.x", "192.0.2.1", 2, 1763896948, "<m@x>",
				  "550 no such user\r\n-"};
	queue_bounce_format(&out, &qb);
	queue_delivered_format(&out, "c1", "jane@x", 42);
	const char *why = NULL;
	struct queue_bounce b;
	char *nl = memchr(out.data, '\n', out.len);
	CHECK_INT_EQ(queue_handoff_parse(out.data, (size_t)(nl - out.data), &st, &b, &why), 'b');
	CHECK_STR_EQ(b.rcpt, "Jane Doe@x");
	CHECK_STR_EQ(b.text, "550 no such user\r\n-");
	CHECK_STR_EQ(b.status, "failed");
	CHECK(b.index == 7 && b.attempts == 2 && b.when == 1763896948);
	char *d = nl + 1;
	CHECK_INT_EQ(queue_handoff_parse(d, strlen(d) - 1, &st, &b, &why), 'd');
	CHECK_STR_EQ(b.campaign, "c1");
	CHECK_STR_EQ(b.rcpt, "jane@x");
	CHECK(b.when == 42);
	const char *bad[] = {
		"",
		"bounce",
		"delivered c1 jane@x",
		"delivered c1 jane@x 42 extra",
		"delivered - jane@x 42",
		"delivered c1 jane@x -42",
		"delivered c1 jane@x 4x",
		"delivered c1 jane@x 1234567890123456789",
		"bounced c 1 2 r s failed 550 5.1.1 mx a 1 2 id text",
		"bounce c B 1 r s lost 550 5.1.1 mx a 1 2 id text",
		"bounce c B x r s failed 550 5.1.1 mx a 1 2 id text",
		"bounce c B 1 r s failed 550 5.1.1 mx a 99999999999 2 id text",
		"bounce c B 1 r s failed 550 5.1.1 mx a 1 2 id",
		"bounce c B 1 r s failed 550 5.1.1 mx a 1 2 id text more",
		"bounce c B 1 %zz s failed 550 5.1.1 mx a 1 2 id text",
		"bounce c B 1 - s failed 550 5.1.1 mx a 1 2 id text",
		"delivered c1 jane@x%00 42",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why = NULL;
		CHECK_INT_EQ(queue_handoff_parse(bad[i], strlen(bad[i]), &st, &b, &why), -1);
		CHECK(why != NULL);
	}
	CHECK(strcmp(queue_bounce_magic, "mailshot-bounces 1\n") == 0);
	buf_free(&out);
	buf_free(&st);
}

int
main(void)
{
	if (mkdtemp(root) == NULL)
		return 111;
	struct buf err = BUF_INIT;
	spool_make_dir(root, "tmp", 0700, &err);
	buf_free(&err);
	test_from_batch_and_heads();
	test_hostile();
	test_dir();
	test_bounce();
	test_handoff_parse();
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	run(cmd);
	return check_report("queue");
}
