/*
 * Unit tests for lib/control.c: defaults, comments and blanks, ranges, and
 * hostile control files (binary junk, huge lines, no newline, NUL bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "control.h"

static char root[64];

static const struct control_setting table[] = {
	{"level", 1, "3", 0, 9, "a number"},
	{"name", 0, "default-name", 0, 0, "a string"},
	{NULL, 0, NULL, 0, 0, NULL},
};

static void
put(const char *name, const char *data, size_t len)
{
	char path[128];
	snprintf(path, sizeof path, "%s/control/%s", root, name);
	FILE *f = fopen(path, "w");
	fwrite(data, 1, len, f);
	fclose(f);
}

static int
load(struct control_value *v, struct buf *err)
{
	buf_reset(err);
	return control_load(root, table, v, err);
}

int
main(void)
{
	struct control_value v[3];
	struct buf err = BUF_INIT;
	char path[128];
	snprintf(root, sizeof root, "/tmp/mailshot-control.XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/control", root);
	mkdir(path, 0755);

	CHECK_INT_EQ(load(v, &err), 0);
	CHECK_INT_EQ(v[0].number, 3);
	CHECK_INT_EQ(v[0].from_file, 0);
	CHECK_STR_EQ(v[1].text, "default-name");
	control_free(table, v);

	put("level", "# comment\n\n   7  \r\n8\n", 22);
	put("name", "  spaced value \n", 16);
	CHECK_INT_EQ(load(v, &err), 0);
	CHECK_INT_EQ(v[0].number, 7);
	CHECK_INT_EQ(v[0].from_file, 1);
	CHECK_STR_EQ(v[1].text, "spaced value");
	control_free(table, v);

	put("level", "9", 1); /* no newline */
	CHECK_INT_EQ(load(v, &err), 0);
	CHECK_INT_EQ(v[0].number, 9);
	control_free(table, v);

	static const char *const bad[] = {"10", "-1", "x", "3x", "", "99999999999999999999999",
					  "0x5", "3 4"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char data[64];
		int n = snprintf(data, sizeof data, "#c\n%s\n", bad[i]);
		put("level", data, (size_t)n);
		int rc = load(v, &err);
		if (bad[i][0] == '\0') {
			/* only a comment: the default */
			CHECK_INT_EQ(rc, 0);
			CHECK_INT_EQ(v[0].number, 3);
			control_free(table, v);
			continue;
		}
		CHECK_INT_EQ(rc, -1);
		CHECK(strstr(buf_cstr(&err), "/control/level:2: \"") != NULL);
		CHECK(strstr(buf_cstr(&err), "is not a number from 0 to 9") != NULL);
	}

	/* Binary junk and a NUL: refused or read, never a crash. */
	put("level", "\0\377\n5\n", 5);
	CHECK_INT_EQ(load(v, &err), -1);
	put("level", "5", 1);

	/* A 1 MB line. */
	char *big = malloc(1 << 20);
	memset(big, 'a', 1 << 20);
	put("name", big, 1 << 20);
	CHECK_INT_EQ(load(v, &err), 0);
	CHECK_INT_EQ(strlen(v[1].text), 1 << 20);
	control_free(table, v);
	free(big);

	/* A directory where a file should be: an error naming it. */
	snprintf(path, sizeof path, "%s/control/name", root);
	unlink(path);
	mkdir(path, 0755);
	CHECK_INT_EQ(load(v, &err), -1);
	CHECK(strstr(buf_cstr(&err), "control/name") != NULL);
	rmdir(path);

	snprintf(path, sizeof path, "rm -rf '%s'", root);
	if (system(path) != 0)
		CHECK(0);
	buf_free(&err);
	return check_report("control");
}
