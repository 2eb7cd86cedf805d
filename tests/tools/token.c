/*
 * tests/tools/token - makes a VERP or unsubscribe token for the
 * end-to-end tests (issue 7's List-Unsubscribe will make 'u' tokens in
 * enqueue):
 *	token KIND SECRET CAMPAIGN OFFSET SCOPE DAY ADDRESS
 * (DAY: days since 1970 the token was made; "today" for today)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "token.h"

int
main(int argc, char **argv)
{
	if (argc != 8 || (argv[1][0] != 'v' && argv[1][0] != 'u')) {
		fprintf(stderr, "usage: token v|u SECRET CAMPAIGN OFFSET SCOPE DAY ADDRESS\n");
		return 100;
	}
	unsigned day = strcmp(argv[6], "today") == 0 ? (unsigned)(time(NULL) / 86400)
						       : (unsigned)atoi(argv[6]);
	char text[TOKEN_TEXT_MAX];
	token_make(argv[1][0], argv[2], strlen(argv[2]), argv[3], strtoull(argv[4], NULL, 10),
		   (unsigned)atoi(argv[5]), day, argv[7], text);
	puts(text);
	return 0;
}
