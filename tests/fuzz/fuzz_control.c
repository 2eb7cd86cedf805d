/*
 * libFuzzer target for lib/control.c: arbitrary bytes as a control file.
 * Invariant: either an error naming the file, or a value whose integer
 * settings are inside their declared range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"

static char root[64];

static const struct control_setting table[] = {
	{"level", 1, "3", -5, 9, "a number"},
	{"name", 0, "x", 0, 0, "a string"},
	{NULL, 0, NULL, 0, 0, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	if (root[0] == '\0') {
		snprintf(root, sizeof root, "/tmp/mailshot-fuzz-control.%d", (int)getpid());
		mkdir(root, 0700);
		snprintf(path, sizeof path, "%s/control", root);
		mkdir(path, 0700);
	}
	for (int which = 0; which < 2; which++) {
		snprintf(path, sizeof path, "%s/control/%s", root, which ? "name" : "level");
		FILE *f = fopen(path, "w");
		if (f == NULL)
			abort();
		fwrite(data, 1, size, f);
		fclose(f);
	}
	struct control_value v[3];
	struct buf err = BUF_INIT;
	if (control_load(root, table, v, &err) == 0) {
		if (v[0].number < -5 || v[0].number > 9)
			abort();
		if (v[1].text == NULL)
			abort();
		control_free(table, v);
	} else if (strstr(buf_cstr(&err), "control/") == NULL) {
		abort();
	}
	buf_free(&err);
	return 0;
}
