/*
 * NAME
 *	mailshot-cat - show what a spool batch holds
 * SUMMARY
 *	mailshot-cat [--envelope | --message N] FILE...
 * DESCRIPTION
 *	Reads batch files (docs/spool.md) with the same reader the other
 *	programs use and prints them: by default the batch fields, then each
 *	message's envelope and the message itself (inflated when stored
 *	compressed); with --envelope only the envelopes, one line each, as
 *	tab-separated index, recipient, sender, line, message-id, test,
 *	body offset, stored body length, encoding, message size;
 *	with --message N only message N, exactly as stored (CRLF).
 *	Exit 0; 100 for a malformed batch; 111 when a file cannot be read.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "spool.h"

static const char prog[] = "mailshot-cat";

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"envelope", no_argument, NULL, 'e'},
		{"message", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, envelope_only = 0;
	long only = -1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'e': envelope_only = 1; break;
		case 'm': only = strtol(optarg, NULL, 10); break;
		case 'h':
			printf("usage: %s [--envelope | --message N] FILE...\n", prog);
			return 0;
		default:
			fprintf(stderr, "usage: %s [--envelope | --message N] FILE...\n", prog);
			return 100;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: %s [--envelope | --message N] FILE...\n", prog);
		return 100;
	}
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		struct buf err = BUF_INIT;
		int permanent;
		struct spool_reader *r = spool_reader_open(argv[i], &err, &permanent);
		if (r == NULL) {
			fprintf(stderr, "%s: fatal: %s\n", prog, err.data);
			buf_free(&err);
			return permanent ? 100 : 111;
		}
		const struct spool_batch_info *info = spool_reader_info(r);
		if (!envelope_only && only < 0)
			printf("batch %s\ncampaign %s\ntype %s\ncreated %lld\nexpires %lld\ncount "
			       "%zu\n\n",
			       argv[i], info->campaign, info->type, (long long)info->created,
			       (long long)info->expires, spool_reader_count(r));
		struct spool_read_message m;
		int got;
		while ((got = spool_reader_next(r, &m, &err)) == 1) {
			if (only >= 0) {
				if ((long)m.index == only)
					fwrite(m.data, 1, m.len, stdout);
			} else if (envelope_only) {
				printf("%zu\t%s\t%s\t%lu\t%s\t%d\t%lld\t%zu\t%s\t%zu\n", m.index,
				       m.recipient, m.sender, m.line, m.message_id, m.test,
				       m.body_offset, m.body_len, m.deflate ? "deflate" : "identity",
				       m.len);
			} else {
				printf("=== message %zu: to <%s> from <%s> line %lu test %d\n",
				       m.index, m.recipient, m.sender, m.line, m.test);
				fwrite(m.data, 1, m.len, stdout);
				printf("\n");
			}
		}
		if (got == -1) {
			fprintf(stderr, "%s: fatal: %s\n", prog, err.data);
			rc = 100;
		}
		spool_reader_close(r);
		buf_free(&err);
	}
	return rc;
}
