/*
 * tests/tools/dkimbench - signing speed of lib/dkim.c, for bench/dkim-bench:
 *
 *	dkimbench [SECONDS]
 *
 * Makes an RSA-2048 and an Ed25519 key with dkim_keygen in a temporary
 * directory, builds a 5 KB campaign message (the usual header fields,
 * List-Unsubscribe, a text part and an HTML part), and signs it in a loop
 * for SECONDS (default 1) of CPU time per case: Ed25519 alone, RSA alone,
 * and both (the dual signature, one body hash).  Prints one summary line
 * "bench: dkim: ed25519 N messages/s, rsa-2048 M messages/s per core"
 * and a line for the dual signature.  Rates are per CPU second of this
 * one thread, so other load on the machine does not lower them much.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dkim.h"

static double
cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fatal(const char *what, struct buf *err)
{
	fprintf(stderr, "dkimbench: fatal: %s: %s\n", what, buf_cstr(err));
	exit(111);
}

static void
build_message(struct buf *m)
{
	buf_append_str(
	    m, "From: Example News <news@example.org>\r\n"
	       "To: Jane Doe <jane.doe@example.net>\r\n"
	       "Subject: Our November newsletter: what is new this month\r\n"
	       "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	       "Message-ID: <20261123100000.4242.c1@example.org>\r\n"
	       "MIME-Version: 1.0\r\n"
	       "List-Unsubscribe: <https://example.org/u/vabcdefghijklmnopqrstuvwxyz234567>,\r\n"
	       " <mailto:unsubscribe+vabcdefghijklmnopqrstuvwxyz234567@example.org>\r\n"
	       "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	       "Feedback-ID: c1:newsletter:mailshot\r\n"
	       "Content-Type: multipart/alternative; boundary=\"=_b1\"\r\n"
	       "\r\n"
	       "--=_b1\r\n"
	       "Content-Type: text/plain; charset=utf-8\r\n"
	       "\r\n");
	size_t body_start = m->len;
	for (int i = 0; m->len - body_start < 2000; i++)
		buf_printf(m, "Paragraph %d of the text part: news, offers and  a few words  \r\n",
			   i);
	buf_append_str(
	    m, "\r\n--=_b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n");
	for (int i = 0; m->len < 5000; i++)
		buf_printf(
		    m, "  <p style=\"margin: 0 0 1em 0\">Paragraph %d: news and offers</p>\r\n", i);
	buf_append_str(m, "</body></html>\r\n--=_b1--\r\n");
}

static double
rate(const struct dkim_signer *s, const struct buf *m, double seconds)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	long n = 0;
	double t0 = cpu_seconds(), t1;
	do {
		for (int i = 0; i < 20; i++) {
			buf_reset(&out);
			if (dkim_sign(s, m->data, m->len, 1763900000 + n, &out, &err) == -1)
				fatal("dkim_sign", &err);
			n++;
		}
		t1 = cpu_seconds();
	} while (t1 - t0 < seconds);
	buf_free(&out);
	buf_free(&err);
	return (double)n / (t1 - t0);
}

static struct dkim_signer *
signer(const char *p1, const char *s1, const char *p2, const char *s2)
{
	struct buf err = BUF_INIT;
	struct dkim_signer *s = dkim_signer_new("example.org", &err);
	if (s == NULL)
		fatal("signer", &err);
	struct dkim_key *k = dkim_key_load(p1, DKIM_MIN_RSA_BITS, &err);
	if (k == NULL || dkim_signer_add(s, k, s1, &err) == -1)
		fatal("key", &err);
	if (p2) {
		k = dkim_key_load(p2, DKIM_MIN_RSA_BITS, &err);
		if (k == NULL || dkim_signer_add(s, k, s2, &err) == -1)
			fatal("key", &err);
	}
	buf_free(&err);
	return s;
}

int
main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	if (seconds <= 0)
		seconds = 1.0;
	char dir[] = "/tmp/mailshot-dkimbench.XXXXXX";
	if (mkdtemp(dir) == NULL) {
		perror("dkimbench: fatal: mkdtemp");
		return 111;
	}
	char rsa[64], ed[64];
	snprintf(rsa, sizeof rsa, "%s/rsa.key", dir);
	snprintf(ed, sizeof ed, "%s/ed.key", dir);
	struct buf txt = BUF_INIT, err = BUF_INIT, m = BUF_INIT;
	if (dkim_keygen(rsa, 0, &txt, &err) == -1 || dkim_keygen(ed, 1, &txt, &err) == -1)
		fatal("keygen", &err);
	struct dkim_signer *s_ed = signer(ed, "ed", NULL, NULL);
	struct dkim_signer *s_rsa = signer(rsa, "rsa", NULL, NULL);
	struct dkim_signer *s_dual = signer(rsa, "rsa", ed, "ed");
	unlink(rsa);
	unlink(ed);
	rmdir(dir);
	build_message(&m);

	double r_ed = rate(s_ed, &m, seconds);
	double r_rsa = rate(s_rsa, &m, seconds);
	double r_dual = rate(s_dual, &m, seconds);
	printf("bench: dkim: ed25519 %.0f messages/s, rsa-2048 %.0f messages/s per core (%zu-byte "
	       "message)\n",
	       r_ed, r_rsa, m.len);
	printf("bench: dkim: dual signature (rsa-2048 + ed25519, one body hash) %.0f messages/s "
	       "per core\n",
	       r_dual);
	dkim_signer_free(s_ed);
	dkim_signer_free(s_rsa);
	dkim_signer_free(s_dual);
	buf_free(&txt);
	buf_free(&err);
	buf_free(&m);
	return 0;
}
