/*
 * tests/tools/dkimsign - lib/dkim.c from the command line, for the
 * end-to-end tests (tests/e2e/dkim.sh):
 *
 *	dkimsign [-m BITS] [-t TIME] KEYFILE DOMAIN SELECTOR [KEYFILE2 SELECTOR2] <msg >signed
 *	dkimsign [-t TIME] --spool ROOT DOMAIN <msg >signed
 *	dkimsign [-m BITS] --txt KEYFILE
 *	dkimsign --keygen PATH [--ed25519]
 *	dkimsign --keygen-selector ROOT DOMAIN SELECTOR [--ed25519]
 *
 * Signing writes the DKIM-Signature headers and then the message as it
 * was read.  -m sets the RSA minimum (default 2048; 1024 for the RFC 8463
 * key), -t the t= value (default: now).  --spool signs with the keys of
 * ROOT/control/dkim/DOMAIN/.  --txt, --keygen and --keygen-selector
 * print the TXT record.  Exit 0, 100 on refusal, 111 on a read error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dkim.h"

static void
usage(void)
{
	fprintf(stderr,
		"usage: dkimsign [-m BITS] [-t TIME] KEYFILE DOMAIN SELECTOR [KEYFILE2 SELECTOR2]\n"
		"       dkimsign [-t TIME] --spool ROOT DOMAIN\n"
		"       dkimsign [-m BITS] --txt KEYFILE\n"
		"       dkimsign --keygen PATH [--ed25519]\n"
		"       dkimsign --keygen-selector ROOT DOMAIN SELECTOR [--ed25519]\n");
	exit(100);
}

static void
fatal(const char *what, struct buf *err)
{
	fprintf(stderr, "dkimsign: fatal: %s%s\n", what, buf_cstr(err));
	exit(100);
}

static int
sign_stdin(const struct dkim_signer *s, time_t now)
{
	struct buf msg = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		buf_append(&msg, chunk, n);
	if (ferror(stdin)) {
		perror("dkimsign: fatal: unable to read the message");
		return 111;
	}
	if (dkim_sign(s, msg.data ? msg.data : "", msg.len, now, &out, &err) == -1)
		fatal("", &err);
	fwrite(out.data ? out.data : "", 1, out.len, stdout);
	fwrite(msg.data ? msg.data : "", 1, msg.len, stdout);
	if (fflush(stdout) == EOF) {
		perror("dkimsign: fatal: unable to write");
		return 111;
	}
	buf_free(&msg);
	buf_free(&out);
	buf_free(&err);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned min_bits = DKIM_MIN_RSA_BITS;
	time_t now = time(NULL);
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] != '-'; i += 2) {
		if (strcmp(argv[i], "-m") == 0)
			min_bits = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "-t") == 0)
			now = (time_t)strtoll(argv[i + 1], NULL, 10);
		else
			usage();
	}
	argc -= i;
	argv += i;
	if (argc < 1)
		usage();
	struct buf err = BUF_INIT, txt = BUF_INIT;
	if (strcmp(argv[0], "--txt") == 0) {
		if (argc != 2)
			usage();
		struct dkim_key *k = dkim_key_load(argv[1], min_bits, &err);
		if (k == NULL)
			fatal("", &err);
		dkim_key_txt(k, &txt);
		puts(buf_cstr(&txt));
		dkim_key_free(k);
		buf_free(&txt);
		return 0;
	}
	if (strcmp(argv[0], "--keygen") == 0) {
		if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--ed25519") != 0))
			usage();
		if (dkim_keygen(argv[1], argc == 3, &txt, &err) == -1)
			fatal("", &err);
		puts(buf_cstr(&txt));
		buf_free(&txt);
		return 0;
	}
	if (strcmp(argv[0], "--keygen-selector") == 0) {
		if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--ed25519") != 0))
			usage();
		struct buf path = BUF_INIT;
		if (dkim_keygen_selector(argv[1], argv[2], argv[3], argc == 5, &txt, &path, &err) ==
		    -1)
			fatal("", &err);
		printf("%s\n%s\n", buf_cstr(&path), buf_cstr(&txt));
		buf_free(&path);
		buf_free(&txt);
		return 0;
	}
	struct dkim_signer *s = NULL;
	if (strcmp(argv[0], "--spool") == 0) {
		if (argc != 3)
			usage();
		s = dkim_signer_load(argv[1], argv[2], &err);
		if (s == NULL)
			fatal("", &err);
	} else {
		if (argc != 3 && argc != 5)
			usage();
		s = dkim_signer_new(argv[1], &err);
		if (s == NULL)
			fatal("", &err);
		const char *files[2] = {argv[0], argc == 5 ? argv[3] : NULL};
		const char *selectors[2] = {argv[2], argc == 5 ? argv[4] : NULL};
		for (int k = 0; k < 2 && files[k]; k++) {
			struct dkim_key *key = dkim_key_load(files[k], min_bits, &err);
			if (key == NULL || dkim_signer_add(s, key, selectors[k], &err) == -1)
				fatal("", &err);
		}
	}
	int rc = sign_stdin(s, now);
	dkim_signer_free(s);
	buf_free(&err);
	return rc;
}
