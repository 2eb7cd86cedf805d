/*
 * test_log - unit tests for lib/log.c: the line format, escaping, and
 * rotation by rename: a writer that keeps its descriptor moves to the new
 * log/current at its next flush after the old one was renamed or removed,
 * loses nothing when the new one cannot be opened, and log_reopen does it
 * on demand.  Works in a temporary directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static char dir[] = "/tmp/mailshot-test-log.XXXXXX";

/* Two calls may share an expression (rename): a ring of buffers. */
static char *
path_of(const char *name)
{
	static char p[4][256];
	static unsigned next;
	char *out = p[next++ % 4];
	snprintf(out, sizeof p[0], "%s/log/%s", dir, name);
	return out;
}

/* The file's content (empty when it does not exist), in out. */
static void
slurp(const char *name, struct buf *out)
{
	buf_reset(out);
	FILE *f = fopen(path_of(name), "r");
	if (f == NULL)
		return;
	char b[4096];
	size_t n;
	while ((n = fread(b, 1, sizeof b, f)) > 0)
		buf_append(out, b, n);
	fclose(f);
	buf_cstr(out);
}

static int
lines_with(const char *name, const char *needle)
{
	struct buf text = BUF_INIT;
	slurp(name, &text);
	int n = 0;
	for (const char *p = buf_cstr(&text); (p = strstr(p, needle)) != NULL; p++)
		n++;
	buf_free(&text);
	return n;
}

static void
event(struct log_writer *w, const char *n)
{
	log_event(w, "test", "n", n, (char *)NULL);
	struct buf err = BUF_INIT;
	CHECK_INT_EQ(log_flush(w, &err), 0);
	buf_free(&err);
}

static void
test_format(void)
{
	struct buf out = BUF_INIT;
	log_value(&out, "plain", 5);
	CHECK_STR_EQ(buf_cstr(&out), "plain");
	buf_reset(&out);
	log_value(&out, "", 0);
	CHECK_STR_EQ(buf_cstr(&out), "\"\"");
	buf_reset(&out);
	log_value(&out, "a b\"c\\\r\n\x7f", 9);
	CHECK_STR_EQ(buf_cstr(&out), "\"a b\\\"c\\\\\\x0D\\x0A\\x7F\"");
	buf_reset(&out);
	log_timestamp(&out);
	/* 2026-11-23T11:02:28.123456Z */
	CHECK_INT_EQ(out.len, 27);
	CHECK(out.data[10] == 'T' && out.data[19] == '.' && out.data[26] == 'Z');
	buf_free(&out);
}

static void
test_rotation(void)
{
	struct log_writer w;
	struct buf err = BUF_INIT, text = BUF_INIT;
	CHECK_INT_EQ(log_open(&w, dir, "test", &err), 0);
	event(&w, "1");
	slurp("current", &text);
	CHECK(strstr(text.data, " test event=test n=1\n") != NULL);
	CHECK(text.data[4] == '-' && text.data[27] == ' ');

	/* renamed away: the next flush writes to a new current */
	CHECK_INT_EQ(rename(path_of("current"), path_of("current.1")), 0);
	event(&w, "2");
	CHECK_INT_EQ(lines_with("current.1", "n=1\n"), 1);
	CHECK_INT_EQ(lines_with("current.1", "n=2\n"), 0);
	CHECK_INT_EQ(lines_with("current", "n=2\n"), 1);
	struct stat sb;
	CHECK(stat(path_of("current"), &sb) == 0 && (sb.st_mode & 0777) == 0640);

	/* another writer created the new file first: both append to it */
	struct log_writer w2;
	CHECK_INT_EQ(rename(path_of("current"), path_of("current.2")), 0);
	CHECK_INT_EQ(log_open(&w2, dir, "other", &err), 0);
	event(&w2, "3");
	event(&w, "4");
	CHECK_INT_EQ(lines_with("current", "n=3\n"), 1);
	CHECK_INT_EQ(lines_with("current", "n=4\n"), 1);
	CHECK_INT_EQ(lines_with("current.2", "n=4\n"), 0);
	log_close(&w2);

	/* removed: created again */
	CHECK_INT_EQ(unlink(path_of("current")), 0);
	event(&w, "5");
	CHECK_INT_EQ(lines_with("current", "n=5\n"), 1);

	/* the new one cannot be opened (a directory in its place): the lines
	 * go on into the old file, and the writer moves once it can */
	CHECK_INT_EQ(rename(path_of("current"), path_of("current.3")), 0);
	CHECK_INT_EQ(mkdir(path_of("current"), 0700), 0);
	event(&w, "6");
	CHECK_INT_EQ(lines_with("current.3", "n=6\n"), 1);
	buf_reset(&err);
	CHECK_INT_EQ(log_reopen(&w, &err), -1);
	CHECK(strstr(buf_cstr(&err), "log/current") != NULL);
	event(&w, "7");
	CHECK_INT_EQ(lines_with("current.3", "n=7\n"), 1);
	CHECK_INT_EQ(rmdir(path_of("current")), 0);
	event(&w, "8");
	CHECK_INT_EQ(lines_with("current", "n=8\n"), 1);
	CHECK_INT_EQ(lines_with("current.3", "n=8\n"), 0);

	/* log_reopen on demand, with nothing pending */
	CHECK_INT_EQ(rename(path_of("current"), path_of("current.4")), 0);
	buf_reset(&err);
	CHECK_INT_EQ(log_reopen(&w, &err), 0);
	CHECK(stat(path_of("current"), &sb) == 0 && sb.st_size == 0);

	/* nothing pending: no stat, no file touched */
	CHECK_INT_EQ(unlink(path_of("current")), 0);
	CHECK_INT_EQ(log_flush(&w, &err), 0);
	CHECK(stat(path_of("current"), &sb) == -1 && errno == ENOENT);

	/* log_close flushes what is pending, into a new file */
	log_event(&w, "last", (char *)NULL);
	log_close(&w);
	CHECK_INT_EQ(lines_with("current", " test event=last\n"), 1);
	buf_free(&err);
	buf_free(&text);
}

static void
test_open_failure(void)
{
	struct log_writer w;
	struct buf err = BUF_INIT;
	char bad[300];
	snprintf(bad, sizeof bad, "%s/no/such/dir", dir);
	CHECK_INT_EQ(log_open(&w, bad, "test", &err), -1);
	CHECK(strstr(buf_cstr(&err), "unable to create") != NULL);
	log_close(&w); /* harmless after a failed open */
	buf_free(&err);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_format();
	test_rotation();
	test_open_failure();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "unable to remove %s\n", dir);
	return check_report("log");
}
