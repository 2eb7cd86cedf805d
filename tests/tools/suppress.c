/*
 * tests/tools/suppress - adds entries to a spool's suppression list for the
 * end-to-end tests, without going through mailshot-bounce:
 *	suppress SPOOL ADDRESS REASON SCOPE
 */
#include <stdio.h>
#include <time.h>

#include "buf.h"
#include "suppress.h"

int
main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: suppress SPOOL ADDRESS REASON SCOPE\n");
		return 100;
	}
	struct buf err = BUF_INIT;
	struct suppress_db *db;
	if (suppress_open(argv[1], 1, &db, &err) == -1) {
		fprintf(stderr, "suppress: %s\n", err.data);
		return 111;
	}
	struct suppress_entry e = {argv[2], argv[4], argv[3], time(NULL), "test", "added by test"};
	int rc = suppress_add(db, &e, &err);
	if (rc == -1)
		fprintf(stderr, "suppress: %s\n", err.data);
	suppress_close(db);
	buf_free(&err);
	return rc == -1 ? 100 : 0;
}
