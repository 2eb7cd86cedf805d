/*
 * libFuzzer target for lib/dkim.c: the relaxed canonicalizers and
 * dkim_sign over arbitrary messages, with one Ed25519 key made once (in
 * a temporary directory, through dkim_keygen and dkim_key_load, so the
 * file paths are exercised too).  Invariants: no crash; a canonical
 * header ends with CRLF and starts with a lower-case name and a colon; a
 * canonical body is empty or ends with CRLF, has no WSP before a CRLF,
 * no WSP run, and is its own canonical form; dkim_sign either fails with
 * a message and leaves out alone, or appends DKIM-Signature headers whose
 * every line ends with CRLF and is at most 998 octets (78 here, as the
 * domain and selector are short).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dkim_signer *
make_signer(void)
{
	char dir[] = "/tmp/mailshot-fuzz-dkim.XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	char path[64];
	snprintf(path, sizeof path, "%s/k.key", dir);
	struct buf txt = BUF_INIT, err = BUF_INIT;
	if (dkim_keygen(path, 1, &txt, &err) == -1)
		abort();
	struct dkim_key *k = dkim_key_load(path, DKIM_MIN_RSA_BITS, &err);
	unlink(path);
	rmdir(dir);
	struct dkim_signer *s = dkim_signer_new("fuzz.example", &err);
	if (k == NULL || s == NULL || dkim_signer_add(s, k, "f1", &err) == -1)
		abort();
	buf_free(&txt);
	buf_free(&err);
	return s;
}

static void
check_lines(const char *p, size_t len, size_t max)
{
	if (len < 2 || p[len - 2] != '\r' || p[len - 1] != '\n')
		abort();
	size_t col = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			if (col > max)
				abort();
			col = 0;
			i++;
			continue;
		}
		col++;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_signer *signer;
	if (signer == NULL)
		signer = make_signer();
	const char *s = (const char *)data;
	struct buf out = BUF_INIT, again = BUF_INIT, err = BUF_INIT;

	dkim_canon_header_relaxed(s, size, &out);
	if (out.len < 3 || out.data[out.len - 2] != '\r' || out.data[out.len - 1] != '\n')
		abort();
	for (size_t i = 0; i < out.len && out.data[i] != ':'; i++)
		if (out.data[i] >= 'A' && out.data[i] <= 'Z')
			abort();
	if (memchr(out.data, ':', out.len) == NULL)
		abort();
	buf_reset(&out);

	dkim_canon_body_relaxed(s, size, &out);
	if (out.len > 0) {
		check_lines(out.data, out.len, (size_t)-1);
		for (size_t i = 0; i < out.len; i++) {
			char c = out.data[i];
			if (c == '\t')
				abort();
			if (i > 0 && out.data[i - 1] == ' ' &&
			    (c == ' ' || (c == '\r' && i + 1 < out.len && out.data[i + 1] == '\n')))
				abort();
		}
	}
	dkim_canon_body_relaxed(out.data ? out.data : "", out.len, &again);
	if (again.len != out.len || (out.len && memcmp(again.data, out.data, out.len) != 0))
		abort();
	buf_reset(&out);

	buf_append_str(&out, "x");
	if (dkim_sign(signer, s, size, 1700000000, &out, &err) == 0) {
		if (out.len < 1 + 16 || memcmp(out.data + 1, "DKIM-Signature: ", 16) != 0)
			abort();
		check_lines(out.data + 1, out.len - 1, 78);
		if (err.len != 0)
			abort();
	} else {
		if (err.len == 0 || out.len != 1)
			abort();
	}
	buf_free(&out);
	buf_free(&again);
	buf_free(&err);
	return 0;
}
