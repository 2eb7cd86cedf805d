/*
 * Unit tests for lib/dkim.c: relaxed canonicalization (the RFC 6376
 * 3.4.5 examples and hostile corners), key loading and its refusals,
 * signer directories, key generation, the signature header (tags, h=,
 * folding), and signatures checked here by an independent reading of
 * RFC 6376 3.7 against the public key taken from the printed TXT record.
 * With the corpus ($MAILSHOT_CORPORA, default ../shared/corpora): the
 * RFC 8463 example, whose body hash must come out as the RFC's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "buf.h"
#include "check.h"
#include "dkim.h"

static char dir[64];

static const char *
tmp_path(const char *name)
{
	static char path[2][256];
	static int which;
	which ^= 1;
	snprintf(path[which], sizeof path[which], "%s/%s", dir, name);
	return path[which];
}

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd == -1 || write(fd, text, len) != (ssize_t)len) {
		perror(path);
		exit(1);
	}
	close(fd);
	chmod(path, mode);
}

static int
read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(out, chunk, n);
	fclose(f);
	return 0;
}

static void
write_pkey(const char *path, EVP_PKEY *pk, mode_t mode)
{
	unlink(path);
	FILE *f = fopen(path, "w");
	if (f == NULL || PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) <= 0) {
		perror(path);
		exit(1);
	}
	fclose(f);
	chmod(path, mode);
}

/* ---- canonicalization ---- */

static void
check_header(const char *in, const char *want)
{
	struct buf out = BUF_INIT;
	dkim_canon_header_relaxed(in, strlen(in), &out);
	CHECK_STR_EQ(buf_cstr(&out), want);
	buf_free(&out);
}

static void
check_body(const char *in, size_t len, const char *want)
{
	struct buf out = BUF_INIT;
	dkim_canon_body_relaxed(in, len, &out);
	CHECK_STR_EQ(buf_cstr(&out), want);
	CHECK_INT_EQ(out.len, strlen(want));
	buf_free(&out);
}
#define BODY(in, want) check_body(in, sizeof in - 1, want)

static void
test_canon(void)
{
	/* RFC 6376 3.4.5 */
	check_header("A: X\r\n", "a:X\r\n");
	check_header("B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
	BODY(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
	/* header: name case, WSP runs, trailing and leading WSP, tabs */
	check_header("SUBJECT:  Hello   World  \r\n", "subject:Hello World\r\n");
	check_header("Message-ID:<a@b>", "message-id:<a@b>\r\n");
	check_header("To:\tA\t\tB\t", "to:A B\r\n");
	check_header("X-Empty:   \r\n", "x-empty:\r\n");
	check_header("X-Empty:", "x-empty:\r\n");
	/* folded, several times, with tabs; a fold right after the colon */
	check_header("Subject: a\r\n\tb\r\n  c\r\n", "subject:a b c\r\n");
	check_header("Subject:\r\n folded start\r\n", "subject:folded start\r\n");
	check_header("Subject: x\r\n \r\n y\r\n", "subject:x y\r\n");
	/* only the first colon separates; 8-bit bytes pass; case of value kept */
	check_header("Ab-Cd: x:y: Z", "ab-cd:x:y: Z\r\n");
	check_header("S: \xc3\xa9t\xc3\xa9  \xe2\x82\xac", "s:\xc3\xa9t\xc3\xa9 \xe2\x82\xac\r\n");
	check_header("\xc3\x89:v", "\xc3\x89:v\r\n"); /* only ASCII is lower-cased */
	/* no colon: a name with an empty value */
	check_header("Bogus", "bogus:\r\n");

	/* body */
	BODY("", "");
	BODY("\r\n", "");
	BODY("\r\n\r\n\r\n", "");
	BODY("  \r\n\t\r\n", "");
	BODY("abc", "abc\r\n");	    /* no final CRLF: one is added */
	BODY("abc  \t", "abc\r\n"); /* ... after the trailing WSP goes */
	BODY("abc\r\n", "abc\r\n");
	BODY("abc \r\n\r\n \r\n", "abc\r\n");
	BODY("a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n"); /* inner empty lines stay */
	BODY("a  \r\n \t \r\nb", "a\r\n\r\nb\r\n");
	BODY("x\ty  z\r\n", "x y z\r\n");
	BODY("\t lead\r\n", " lead\r\n");
	BODY("one two three\r\n", "one two three\r\n");
	BODY("a \t \t b\r\n", "a b\r\n");
	BODY("a\nb \r\n", "a\nb\r\n"); /* a bare LF is not a line end */
	BODY("a\r b\r\n", "a\r b\r\n");
	BODY("a\r\r\n", "a\r\r\n");
	BODY("\r\n\r\nx", "\r\n\r\nx\r\n");
	BODY("\xc3\xa9t\xc3\xa9  \xff\r\n", "\xc3\xa9t\xc3\xa9 \xff\r\n");
	/* embedded NUL is data */
	struct buf out = BUF_INIT;
	dkim_canon_body_relaxed("a\0  b\r\n", 7, &out);
	CHECK(out.len == 6 && memcmp(out.data, "a\0 b\r\n", 6) == 0);
	buf_free(&out);
	/* appends, does not replace */
	buf_append_str(&out, "X");
	dkim_canon_body_relaxed("y", 1, &out);
	dkim_canon_header_relaxed("Z: z", 4, &out);
	CHECK_STR_EQ(buf_cstr(&out), "Xy\r\nz:z\r\n");
	buf_free(&out);
}

/* ---- an independent verifier ---- */

static void
b64_decode(const char *in, size_t len, struct buf *out)
{
	struct buf clean = BUF_INIT;
	for (size_t i = 0; i < len; i++)
		if (in[i] != ' ' && in[i] != '\t' && in[i] != '\r' && in[i] != '\n')
			buf_append_char(&clean, in[i]);
	buf_reserve(out, clean.len);
	int n = EVP_DecodeBlock((unsigned char *)out->data + out->len,
				(const unsigned char *)buf_cstr(&clean), (int)clean.len);
	if (n > 0) {
		size_t pad = 0;
		while (pad < clean.len && pad < 2 && clean.data[clean.len - 1 - pad] == '=')
			pad++;
		out->len += (size_t)n - pad;
	}
	buf_free(&clean);
}

/* The public key from a TXT record "v=DKIM1; k=...; p=...". */
static EVP_PKEY *
txt_public_key(const char *txt)
{
	const char *p = strstr(txt, "p=");
	if (p == NULL)
		return NULL;
	struct buf der = BUF_INIT;
	b64_decode(p + 2, strlen(p + 2), &der);
	EVP_PKEY *pk = NULL;
	if (strstr(txt, "k=ed25519")) {
		if (der.len == 32)
			pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
							 (unsigned char *)der.data, 32);
	} else {
		const unsigned char *q = (unsigned char *)der.data;
		pk = d2i_PUBKEY(NULL, &q, (long)der.len);
	}
	buf_free(&der);
	return pk;
}

/* The value of tag name in an unfolded tag list, or NULL. */
static char *
tag_value(const char *list, const char *name)
{
	size_t nl = strlen(name);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if (strncmp(p, name, nl) == 0 && p[nl] == '=')
			return xstrndup(p + nl + 1, (size_t)(end - p - nl - 1));
		p = end;
	}
	return NULL;
}

struct hfield {
	const char *start;
	size_t len, name_len;
	int used;
};

/*
 * Verifies the idx-th DKIM-Signature in sigs for the message msg with
 * the key published as txt.  Returns 1 when valid, 0 when not, -1 when
 * the header cannot be read.  Written from RFC 6376 3.7 and 5.4.2; only
 * the two canonicalizers are taken from the library.
 */
static int
verify(const char *sigs, const char *msg, size_t msg_len, const char *txt, int idx)
{
	const char *h = sigs;
	for (int i = 0; i < idx && h; i++) {
		h = strstr(h + 1, "\r\nDKIM-Signature:");
		if (h)
			h += 2;
	}
	if (h == NULL || strncmp(h, "DKIM-Signature:", 15) != 0)
		return -1;
	const char *hend = h;
	while ((hend = strstr(hend, "\r\n")) && (hend[2] == ' ' || hend[2] == '\t'))
		hend += 2;
	if (hend == NULL)
		return -1;
	struct buf unfolded = BUF_INIT;
	for (const char *p = h + 15; p < hend; p++)
		if (*p != '\r' && *p != '\n')
			buf_append_char(&unfolded, *p);
	char *a = tag_value(unfolded.data, "a"), *hl = tag_value(unfolded.data, "h");
	char *bh = tag_value(unfolded.data, "bh"), *b = tag_value(unfolded.data, "b");
	buf_free(&unfolded);
	int rc = -1;
	EVP_PKEY *pk = txt_public_key(txt);
	struct buf data = BUF_INIT, sig = BUF_INIT, body = BUF_INIT, bhv = BUF_INIT;
	if (!a || !hl || !bh || !b || !pk)
		goto out;
	/* the body hash */
	const char *sep = strstr(msg, "\r\n\r\n");
	size_t body_at = sep ? (size_t)(sep - msg) + 4 : msg_len;
	dkim_canon_body_relaxed(msg + body_at, msg_len - body_at, &body);
	unsigned char md[32];
	EVP_Digest(body.data ? body.data : "", body.len, md, NULL, EVP_sha256(), NULL);
	b64_decode(bh, strlen(bh), &bhv);
	if (bhv.len != 32 || memcmp(bhv.data, md, 32) != 0) {
		rc = 0;
		goto out;
	}
	/* the header fields, bottom up per name */
	struct hfield f[512];
	size_t nf = 0;
	const char *p = msg;
	while (p < msg + body_at - 2 && nf < 512) {
		const char *e = p;
		while ((e = strstr(e, "\r\n")) && (e[2] == ' ' || e[2] == '\t'))
			e += 2;
		f[nf].start = p;
		f[nf].len = (size_t)(e - p) + 2;
		f[nf].name_len = (size_t)(strchr(p, ':') - p);
		f[nf].used = 0;
		nf++;
		p = e + 2;
	}
	for (char *name = strtok(hl, ":"); name; name = strtok(NULL, ":")) {
		while (*name == ' ')
			name++;
		size_t nl = strlen(name);
		while (nl && name[nl - 1] == ' ')
			nl--;
		for (size_t i = nf; i > 0; i--) {
			if (!f[i - 1].used && f[i - 1].name_len == nl &&
			    strncasecmp(f[i - 1].start, name, nl) == 0) {
				f[i - 1].used = 1;
				dkim_canon_header_relaxed(f[i - 1].start, f[i - 1].len, &data);
				break;
			}
		}
	}
	/* the signature header itself, with an empty b= value */
	const char *btag = h;
	while ((btag = strstr(btag + 1, "b=")) && btag[-1] != ' ' && btag[-1] != ';' &&
	       btag[-1] != '\t')
		;
	if (btag == NULL)
		goto out;
	dkim_canon_header_relaxed(h, (size_t)(btag + 2 - h), &data);
	data.len -= 2;
	EVP_Digest(data.data, data.len, md, NULL, EVP_sha256(), NULL);
	b64_decode(b, strlen(b), &sig);
	if (strcmp(a, "ed25519-sha256") == 0) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		rc = EVP_DigestVerifyInit(c, NULL, NULL, NULL, pk) > 0 &&
		     EVP_DigestVerify(c, (unsigned char *)sig.data, sig.len, md, 32) == 1;
		EVP_MD_CTX_free(c);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		rc = EVP_PKEY_verify_init(c) > 0 &&
		     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0 &&
		     EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0 &&
		     EVP_PKEY_verify(c, (unsigned char *)sig.data, sig.len, md, 32) == 1;
		EVP_PKEY_CTX_free(c);
	}
out:
	free(a);
	free(hl);
	free(bh);
	free(b);
	EVP_PKEY_free(pk);
	buf_free(&data);
	buf_free(&sig);
	buf_free(&body);
	buf_free(&bhv);
	return rc;
}

/* Every line CRLF-terminated, at most max columns, continuation lines
 * start with WSP, each header starts "DKIM-Signature: "; returns the
 * number of headers, or -1. */
static int
check_lines(const char *s, size_t len, size_t max)
{
	int headers = 0;
	size_t i = 0;
	while (i < len) {
		const char *e = strstr(s + i, "\r\n");
		if (e == NULL)
			return -1;
		size_t n = (size_t)(e - (s + i));
		if (n > max)
			return -1;
		if (strncmp(s + i, "DKIM-Signature: ", 16) == 0)
			headers++;
		else if (s[i] != ' ' || i == 0)
			return -1;
		i += n + 2;
	}
	return headers;
}

/* ---- keys ---- */

static EVP_PKEY *
make_rsa(unsigned bits)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

static void
expect_refused(const char *path, unsigned min, const char *why)
{
	struct buf err = BUF_INIT;
	struct dkim_key *k = dkim_key_load(path, min, &err);
	CHECK(k == NULL);
	CHECK(strstr(buf_cstr(&err), path) != NULL);
	if (strstr(buf_cstr(&err), why) == NULL) {
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", buf_cstr(&err), why);
		CHECK(0);
	}
	dkim_key_free(k);
	buf_free(&err);
}

static struct dkim_key *
load_ok(const char *path, unsigned min)
{
	struct buf err = BUF_INIT;
	struct dkim_key *k = dkim_key_load(path, min, &err);
	CHECK(k != NULL);
	if (k == NULL)
		fprintf(stderr, "  %s\n", buf_cstr(&err));
	buf_free(&err);
	return k;
}

static void
test_key_load(void)
{
	struct buf err = BUF_INIT, txt = BUF_INIT;
	/* keygen: both kinds, mode 0600, never overwriting */
	CHECK_INT_EQ(dkim_keygen(tmp_path("rsa.pem"), 0, &txt, &err), 0);
	CHECK(strncmp(buf_cstr(&txt), "v=DKIM1; k=rsa; p=MII", 21) == 0);
	struct stat st;
	CHECK(stat(tmp_path("rsa.pem"), &st) == 0 && (st.st_mode & 0777) == 0600);
	struct dkim_key *k = load_ok(tmp_path("rsa.pem"), DKIM_MIN_RSA_BITS);
	if (k) {
		CHECK_INT_EQ(dkim_key_bits(k), 2048);
		CHECK_INT_EQ(dkim_key_is_ed25519(k), 0);
		struct buf t2 = BUF_INIT;
		dkim_key_txt(k, &t2);
		CHECK_STR_EQ(buf_cstr(&t2), buf_cstr(&txt));
		buf_free(&t2);
	}
	dkim_key_free(k);
	buf_reset(&txt);
	CHECK_INT_EQ(dkim_keygen(tmp_path("rsa.pem"), 1, &txt, &err), -1);
	CHECK(strstr(buf_cstr(&err), "exists already") != NULL);
	CHECK_INT_EQ(txt.len, 0);
	buf_reset(&err);
	CHECK_INT_EQ(dkim_keygen(tmp_path("nodir/x.pem"), 1, &txt, &err), -1);
	CHECK(err.len > 0);
	buf_reset(&err);
	CHECK_INT_EQ(dkim_keygen(tmp_path("ed.pem"), 1, &txt, &err), 0);
	CHECK(strncmp(buf_cstr(&txt), "v=DKIM1; k=ed25519; p=", 22) == 0);
	CHECK_INT_EQ(txt.len, 22 + 44);
	k = load_ok(tmp_path("ed.pem"), DKIM_MIN_RSA_BITS);
	if (k) {
		CHECK_INT_EQ(dkim_key_is_ed25519(k), 1);
		struct buf t2 = BUF_INIT;
		dkim_key_txt(k, &t2);
		CHECK_STR_EQ(buf_cstr(&t2), buf_cstr(&txt));
		buf_free(&t2);
	}
	dkim_key_free(k);
	/* no temporary file left behind */
	char tmpname[64];
	snprintf(tmpname, sizeof tmpname, "ed.pem.tmp.%ld", (long)getpid());
	CHECK(access(tmp_path(tmpname), F_OK) == -1);

	/* wrong modes */
	chmod(tmp_path("ed.pem"), 0640);
	expect_refused(tmp_path("ed.pem"), 2048, "mode 0640");
	chmod(tmp_path("ed.pem"), 0604);
	expect_refused(tmp_path("ed.pem"), 2048, "chmod 600");
	chmod(tmp_path("ed.pem"), 0400);
	dkim_key_free(load_ok(tmp_path("ed.pem"), 2048));
	chmod(tmp_path("ed.pem"), 0600);

	/* RSA-1024: refused with the production minimum, fine with 1024 */
	EVP_PKEY *small = make_rsa(1024);
	write_pkey(tmp_path("rsa1024.pem"), small, 0600);
	expect_refused(tmp_path("rsa1024.pem"), 2048, "1024 bits");
	k = load_ok(tmp_path("rsa1024.pem"), 1024);
	CHECK(k && dkim_key_bits(k) == 1024);
	dkim_key_free(k);
	/* the traditional "RSA PRIVATE KEY" form loads too */
	BIO *bio = BIO_new_file(tmp_path("trad.pem"), "w");
	CHECK(bio &&
	      PEM_write_bio_PrivateKey_traditional(bio, small, NULL, NULL, 0, NULL, NULL) > 0);
	BIO_free(bio);
	chmod(tmp_path("trad.pem"), 0600);
	struct buf trad = BUF_INIT;
	read_file(tmp_path("trad.pem"), &trad);
	CHECK(strstr(buf_cstr(&trad), "BEGIN RSA PRIVATE KEY") != NULL);
	buf_free(&trad);
	dkim_key_free(load_ok(tmp_path("trad.pem"), 1024));
	FILE *f;

	/* a certificate instead of a key */
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, small);
	X509_NAME *nm = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0);
	X509_set_issuer_name(x, nm);
	X509_sign(x, small, EVP_sha256());
	f = fopen(tmp_path("cert.pem"), "w");
	PEM_write_X509(f, x);
	fclose(f);
	chmod(tmp_path("cert.pem"), 0600);
	X509_free(x);
	expect_refused(tmp_path("cert.pem"), 1024, "a certificate, not a private key");
	/* a public key */
	f = fopen(tmp_path("pub.pem"), "w");
	PEM_write_PUBKEY(f, small);
	fclose(f);
	chmod(tmp_path("pub.pem"), 0600);
	expect_refused(tmp_path("pub.pem"), 1024, "a public key");
	/* an encrypted key: refused, never a passphrase prompt */
	f = fopen(tmp_path("enc.pem"), "w");
	PEM_write_PrivateKey(f, small, EVP_aes_128_cbc(), (unsigned char *)"secret", 6, NULL, NULL);
	fclose(f);
	chmod(tmp_path("enc.pem"), 0600);
	expect_refused(tmp_path("enc.pem"), 1024, "encrypted");
	EVP_PKEY_free(small);
	/* an EC key */
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	write_pkey(tmp_path("ec.pem"), ec, 0600);
	EVP_PKEY_free(ec);
	expect_refused(tmp_path("ec.pem"), 1024, "only RSA and Ed25519");
	/* garbage, binary, empty, truncated, missing, a directory, too big */
	const char junk[] =
	    "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n";
	write_file(tmp_path("junk.pem"), junk, sizeof junk - 1, 0600);
	expect_refused(tmp_path("junk.pem"), 1024, "not a PEM private key");
	write_file(tmp_path("bin.pem"), "\x30\x82\0\x01", 4, 0600);
	expect_refused(tmp_path("bin.pem"), 1024, "binary");
	write_file(tmp_path("empty.pem"), "", 0, 0600);
	expect_refused(tmp_path("empty.pem"), 1024, "not a PEM private key");
	struct buf good = BUF_INIT;
	read_file(tmp_path("rsa.pem"), &good);
	write_file(tmp_path("cut.pem"), good.data, good.len / 2, 0600);
	expect_refused(tmp_path("cut.pem"), 1024, "not a PEM private key");
	buf_free(&good);
	expect_refused(tmp_path("missing.pem"), 1024, "unable to open");
	mkdir(tmp_path("adir"), 0700);
	expect_refused(tmp_path("adir"), 1024, "not a regular file");
	struct buf big = BUF_INIT;
	for (int i = 0; i < 70000; i++)
		buf_append_char(&big, 'A');
	write_file(tmp_path("big.pem"), big.data, big.len, 0600);
	buf_free(&big);
	expect_refused(tmp_path("big.pem"), 1024, "larger than");
	buf_free(&err);
	buf_free(&txt);
}

static void
test_names(void)
{
	CHECK(dkim_selector_valid("s1", 2));
	CHECK(dkim_selector_valid("2026-11.mail", 12));
	CHECK(!dkim_selector_valid("", 0));
	CHECK(!dkim_selector_valid("Sel", 3));
	CHECK(!dkim_selector_valid("a_b", 3));
	CHECK(!dkim_selector_valid(".a", 2));
	CHECK(!dkim_selector_valid("a.", 2));
	CHECK(!dkim_selector_valid("a..b", 4));
	CHECK(!dkim_selector_valid("a/b", 3));
	char s64[65];
	memset(s64, 'a', 64);
	s64[64] = '\0';
	CHECK(dkim_selector_valid(s64, 63));
	CHECK(!dkim_selector_valid(s64, 64));
	CHECK(dkim_domain_valid("example.org", 11));
	CHECK(dkim_domain_valid("Mail.Example.ORG", 16));
	CHECK(!dkim_domain_valid("../etc", 6));
	CHECK(!dkim_domain_valid("a..b", 4));
	CHECK(!dkim_domain_valid("a.b.", 4));
	CHECK(!dkim_domain_valid("a/b", 3));
	CHECK(!dkim_domain_valid("", 0));
	CHECK(!dkim_domain_valid(s64, 64));
}

static void
test_signer_load(void)
{
	struct buf err = BUF_INIT, txt = BUF_INIT, path = BUF_INIT;
	char root[128];
	snprintf(root, sizeof root, "%s/spool", dir);
	mkdir(root, 0700);
	snprintf(root, sizeof root, "%s/spool/control", dir);
	mkdir(root, 0700);
	snprintf(root, sizeof root, "%s/spool", dir);

	/* no directory: an empty signer, which signs nothing */
	struct dkim_signer *s = dkim_signer_load(root, "example.org", &err);
	CHECK(s != NULL && dkim_signer_count(s) == 0);
	struct buf out = BUF_INIT;
	CHECK_INT_EQ(dkim_sign(s, "From: a@b\r\n\r\n", 13, 1, &out, &err), 0);
	CHECK_INT_EQ(out.len, 0);
	dkim_signer_free(s);
	s = dkim_signer_load(root, "../x", &err);
	CHECK(s == NULL && strstr(buf_cstr(&err), "not a valid DKIM domain"));
	buf_reset(&err);

	/* two keys made with keygen_selector; README and *.txt ignored */
	CHECK_INT_EQ(dkim_keygen_selector(root, "Example.ORG", "z-ed", 1, &txt, &path, &err), 0);
	CHECK(strstr(buf_cstr(&path), "/control/dkim/example.org/z-ed.key") != NULL);
	buf_reset(&path);
	CHECK_INT_EQ(dkim_keygen_selector(root, "example.org", "a2026.rsa", 0, &txt, &path, &err),
		     0);
	CHECK_INT_EQ(dkim_keygen_selector(root, "example.org", "Bad", 0, &txt, &path, &err), -1);
	CHECK_INT_EQ(dkim_keygen_selector(root, "ex/ample", "ok", 0, &txt, &path, &err), -1);
	buf_reset(&err);
	char p[256];
	snprintf(p, sizeof p, "%s/control/dkim/example.org/README", root);
	write_file(p, "x\n", 2, 0644);
	snprintf(p, sizeof p, "%s/control/dkim/example.org/z-ed.txt", root);
	write_file(p, "v=DKIM1\n", 8, 0644);
	s = dkim_signer_load(root, "example.org", &err);
	CHECK(s != NULL && dkim_signer_count(s) == 2);
	if (s == NULL)
		fprintf(stderr, "  %s\n", buf_cstr(&err));
	/* RSA first */
	const char msg[] = "From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n";
	if (s && dkim_sign(s, msg, sizeof msg - 1, 1700000000, &out, &err) == 0) {
		CHECK_INT_EQ(check_lines(out.data, out.len, 78), 2);
		const char *rsa = strstr(out.data, "a=rsa-sha256");
		const char *ed = strstr(out.data, "a=ed25519-sha256");
		CHECK(rsa && ed && rsa < ed);
		CHECK(strstr(out.data, "s=a2026.rsa;") && strstr(out.data, "s=z-ed;"));
		CHECK(strstr(out.data, "d=example.org;") != NULL);
	} else {
		CHECK(0);
	}
	dkim_signer_free(s);
	buf_reset(&out);

	/* a bad selector name, a weak key, a world-readable key: refused */
	snprintf(p, sizeof p, "%s/control/dkim/example.org/Bad_Sel.key", root);
	write_file(p, "x", 1, 0600);
	s = dkim_signer_load(root, "example.org", &err);
	CHECK(s == NULL && strstr(buf_cstr(&err), "Bad_Sel.key") &&
	      strstr(buf_cstr(&err), "selector"));
	unlink(p);
	buf_reset(&err);
	snprintf(p, sizeof p, "%s/control/dkim/example.org/weak.key", root);
	EVP_PKEY *small = make_rsa(1024);
	write_pkey(p, small, 0600);
	EVP_PKEY_free(small);
	s = dkim_signer_load(root, "example.org", &err);
	CHECK(s == NULL && strstr(buf_cstr(&err), "weak.key") && strstr(buf_cstr(&err), "1024"));
	unlink(p);
	buf_reset(&err);
	snprintf(p, sizeof p, "%s/control/dkim/example.org/z-ed.key", root);
	chmod(p, 0644);
	s = dkim_signer_load(root, "example.org", &err);
	CHECK(s == NULL && strstr(buf_cstr(&err), "z-ed.key") && strstr(buf_cstr(&err), "0644"));
	chmod(p, 0600);
	buf_reset(&err);
	/* the directory is taken as given; d= is in lower case */
	s = dkim_signer_load(root, "Example.org", &err);
	CHECK(s != NULL && dkim_signer_count(s) == 0);
	dkim_signer_free(s);
	s = dkim_signer_new("Example.ORG", &err);
	struct dkim_key *ek = dkim_key_load(p, DKIM_MIN_RSA_BITS, &err);
	CHECK(ek != NULL && dkim_signer_add(s, ek, "e1", &err) == 0);
	buf_reset(&out);
	CHECK_INT_EQ(dkim_sign(s, msg, sizeof msg - 1, 1, &out, &err), 0);
	CHECK(strstr(buf_cstr(&out), " d=example.org;") != NULL);
	CHECK_INT_EQ(dkim_signer_add(s, NULL, "ok", &err), -1);
	dkim_signer_free(s);
	/* too many keys */
	for (int i = 0; i < DKIM_MAX_KEYS; i++) {
		char sel[16];
		snprintf(sel, sizeof sel, "x%d", i);
		CHECK_INT_EQ(dkim_keygen_selector(root, "example.org", sel, 1, &txt, &path, &err),
			     0);
	}
	s = dkim_signer_load(root, "example.org", &err);
	CHECK(s == NULL && strstr(buf_cstr(&err), "more than"));
	buf_free(&err);
	buf_free(&txt);
	buf_free(&path);
	buf_free(&out);
}

/* ---- signing ---- */

static struct dkim_signer *
signer_with(const char *domain, const char *p1, const char *s1, const char *p2, const char *s2,
	    unsigned min)
{
	struct buf err = BUF_INIT;
	struct dkim_signer *s = dkim_signer_new(domain, &err);
	CHECK(s != NULL);
	struct dkim_key *k = load_ok(p1, min);
	CHECK(k && dkim_signer_add(s, k, s1, &err) == 0);
	if (p2) {
		k = load_ok(p2, min);
		CHECK(k && dkim_signer_add(s, k, s2, &err) == 0);
	}
	buf_free(&err);
	return s;
}

static void
txt_of(const char *path, unsigned min, struct buf *txt)
{
	struct dkim_key *k = load_ok(path, min);
	if (k)
		dkim_key_txt(k, txt);
	dkim_key_free(k);
}

/* The unfolded value of tag name in the first header of sigs. */
static char *
first_tag(const char *sigs, const char *name)
{
	struct buf u = BUF_INIT;
	const char *end = strstr(sigs + 1, "\r\nDKIM-Signature:");
	if (end == NULL)
		end = sigs + strlen(sigs);
	for (const char *p = sigs + 15; p < end; p++)
		if (*p != '\r' && *p != '\n')
			buf_append_char(&u, *p);
	char *v = tag_value(buf_cstr(&u), name);
	if (v) { /* without FWS: the values compared have no spaces */
		size_t j = 0;
		for (size_t i = 0; v[i]; i++)
			if (v[i] != ' ' && v[i] != '\t')
				v[j++] = v[i];
		v[j] = '\0';
	}
	buf_free(&u);
	return v;
}

static void
test_sign(void)
{
	struct buf err = BUF_INIT, out = BUF_INIT, rsa_txt = BUF_INIT, ed_txt = BUF_INIT;
	txt_of(tmp_path("rsa.pem"), 2048, &rsa_txt);
	txt_of(tmp_path("ed.pem"), 2048, &ed_txt);
	struct dkim_signer *s = signer_with("example.org", tmp_path("rsa.pem"), "rsa1",
					    tmp_path("ed.pem"), "ed1", 2048);

	const char msg[] =
	    "Received: from x by y; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	    "From: Team <team@example.org>\r\n"
	    "To: a@x.test\r\n"
	    "To: b@x.test,\r\n"
	    "\tc@x.test\r\n"
	    "Subject:   A   subject\twith   runs   \r\n"
	    "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "List-Unsubscribe: <https://example.org/u/abc>,\r\n <mailto:u@example.org>\r\n"
	    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	    "X-Mailer: mailshot\r\n"
	    "to: d@x.test\r\n"
	    "\r\n"
	    "Hello  there \r\n"
	    "\r\n"
	    "\xc3\xa9t\xc3\xa9\t\r\n"
	    "\r\n\r\n";
	size_t len = sizeof msg - 1;
	CHECK_INT_EQ(dkim_sign(s, msg, len, 1763900000, &out, &err), 0);
	CHECK_INT_EQ(check_lines(out.data, out.len, 78), 2);
	CHECK(strncmp(out.data,
		      "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;",
		      68) == 0);
	char *hv = first_tag(out.data, "h");
	CHECK_STR_EQ(hv, "from:from:to:to:to:subject:date:message-id:mime-version:content-type:"
			 "list-unsubscribe:list-unsubscribe-post");
	free(hv);
	char *t = first_tag(out.data, "t");
	CHECK_STR_EQ(t, "1763900000");
	free(t);
	CHECK(strstr(out.data, " i=") == NULL && strstr(out.data, "l=") == NULL);
	CHECK_INT_EQ(verify(out.data, msg, len, rsa_txt.data, 0), 1);
	CHECK_INT_EQ(verify(out.data, msg, len, ed_txt.data, 1), 1);
	/* the wrong key, an altered body or header: not valid */
	CHECK_INT_EQ(verify(out.data, msg, len, ed_txt.data, 0), 0);
	char altered[sizeof msg];
	memcpy(altered, msg, sizeof msg);
	altered[len - 12] ^= 1;
	CHECK_INT_EQ(verify(out.data, altered, len, rsa_txt.data, 0), 0);
	CHECK_INT_EQ(verify(out.data, altered, len, ed_txt.data, 1), 0);
	memcpy(altered, msg, sizeof msg);
	*strstr(altered, "b@x") = 'B';
	CHECK_INT_EQ(verify(out.data, altered, len, ed_txt.data, 1), 0);
	/* changes relaxed canonicalization allows keep it valid */
	struct buf loose = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		buf_append_char(&loose, msg[i]);
		if (msg[i] == ' ' && i > 200)
			buf_append_char(&loose, '\t');
	}
	CHECK_INT_EQ(verify(out.data, loose.data, loose.len, rsa_txt.data, 0), 1);
	buf_free(&loose);

	/* RSA is deterministic: the reused context signs the same twice */
	struct buf again = BUF_INIT;
	CHECK_INT_EQ(dkim_sign(s, msg, len, 1763900000, &again, &err), 0);
	CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
	buf_free(&again);

	/* an empty body, a header-only message, a body without final CRLF */
	const char *small[] = {
	    "From: a@example.org\r\n\r\n",
	    "From: a@example.org\r\n",
	    "From: a@example.org\r\n\r\nno newline",
	    "From: a@example.org\r\nSubject: x\r\n\r\n\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
		buf_reset(&out);
		CHECK_INT_EQ(dkim_sign(s, small[i], strlen(small[i]), 1, &out, &err), 0);
		CHECK_INT_EQ(verify(out.data, small[i], strlen(small[i]), rsa_txt.data, 0), 1);
		CHECK_INT_EQ(verify(out.data, small[i], strlen(small[i]), ed_txt.data, 1), 1);
	}
	char *bh = first_tag(out.data, "bh");
	CHECK_STR_EQ(bh, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="); /* SHA-256 of "" */
	free(bh);

	/* the streamed body hash equals the hash of the canonical body,
	 * also past the 4 KiB chunk and with long runs */
	struct buf big = BUF_INIT, canon = BUF_INIT;
	buf_append_str(&big, "From: a@example.org\r\n\r\n");
	size_t body_at = big.len;
	for (int i = 0; i < 3000; i++) {
		buf_printf(&big, "line %d", i);
		for (int j = 0; j < i % 7; j++)
			buf_append_str(&big, i % 2 ? " \t" : "  x ");
		if (i % 500 == 0)
			for (int j = 0; j < 5000; j++)
				buf_append_char(&big, j % 3 ? 'y' : ' ');
		buf_append_str(&big, i % 11 ? "\r\n" : " \r\n\r\n");
	}
	dkim_canon_body_relaxed(big.data + body_at, big.len - body_at, &canon);
	unsigned char md[32];
	EVP_Digest(canon.data, canon.len, md, NULL, EVP_sha256(), NULL);
	char want[64];
	EVP_EncodeBlock((unsigned char *)want, md, 32);
	buf_reset(&out);
	CHECK_INT_EQ(dkim_sign(s, big.data, big.len, 1, &out, &err), 0);
	bh = first_tag(out.data, "bh");
	CHECK_STR_EQ(bh, want);
	free(bh);
	CHECK_INT_EQ(verify(out.data, big.data, big.len, ed_txt.data, 1), 1);
	buf_free(&big);
	buf_free(&canon);

	/* refused messages: out is left as it was */
	const char *bad[] = {
	    "To: a@x.test\r\nSubject: no from\r\n\r\nbody\r\n",
	    "",
	    "From: a@x\r\nFrom: b@x\r\n\r\n",
	    "From: a@x\nTo: b@x\n\nbody\n",
	    "From: a@x\r\nTo: b\rc@x\r\n\r\n",
	    "From: a@x\r\nnot a header\r\n\r\n",
	    "From: a@x\r\n: empty name\r\n\r\n",
	    "From: a@x\r\nBad Name: y\r\n\r\n",
	    " From: a@x\r\n\r\n",
	    "From: a@x",
	    "From: a@x\r\n\r\nbare\nLF\r\n",
	    "From: a@x\r\n\r\nbare\rCR\r\n",
	    "From: a@x\r\n\r\nends in CR\r",
	};
	buf_reset(&out);
	buf_append_str(&out, "keep");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		buf_reset(&err);
		CHECK_INT_EQ(dkim_sign(s, bad[i], strlen(bad[i]), 1, &out, &err), -1);
		CHECK(err.len > 0);
		CHECK_STR_EQ(buf_cstr(&out), "keep");
	}
	buf_reset(&err);
	dkim_sign(s, bad[0], strlen(bad[0]), 1, &out, &err);
	CHECK(strstr(buf_cstr(&err), "From") != NULL);
	/* too many signed fields */
	struct buf many = BUF_INIT;
	buf_append_str(&many, "From: a@x\r\n");
	for (int i = 0; i < 300; i++)
		buf_append_str(&many, "To: b@x\r\n");
	buf_append_str(&many, "\r\n");
	CHECK_INT_EQ(dkim_sign(s, many.data, many.len, 1, &out, &err), -1);
	buf_free(&many);
	dkim_signer_free(s);

	/* folding with long values: a long selector and domain, many To
	 * lines; lines stay within 78 unless one tag cannot be split */
	const char label[] = "abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz";
	char dom[160];
	snprintf(dom, sizeof dom, "%s.%s.example", label, label);
	char sel[64];
	memset(sel, 's', 63);
	sel[63] = '\0';
	s = signer_with(dom, tmp_path("ed.pem"), sel, tmp_path("rsa.pem"), "r", 2048);
	struct buf m = BUF_INIT;
	buf_append_str(&m, "From: a@x\r\n");
	for (int i = 0; i < 40; i++)
		buf_append_str(&m, "To: b@x\r\nCc: c@x\r\nReferences: <r@x>\r\n");
	buf_append_str(&m,
		       "Feedback-ID: 1:2:3\r\nReply-To: r@x\r\nIn-Reply-To: <i@x>\r\n\r\nb\r\n");
	buf_reset(&out);
	CHECK_INT_EQ(dkim_sign(s, m.data, m.len, 1, &out, &err), 0);
	CHECK_INT_EQ(check_lines(out.data, out.len, 78), -1); /* the d= line is longer */
	CHECK_INT_EQ(check_lines(out.data, out.len, 2 + strlen(dom) + 2), 2);
	struct buf hwant = BUF_INIT;
	buf_append_str(&hwant, "from:from:");
	for (int i = 0; i < 40; i++)
		buf_append_str(&hwant, "to:");
	buf_append_str(&hwant, "reply-to:feedback-id:");
	for (int i = 0; i < 40; i++)
		buf_append_str(&hwant, "cc:");
	buf_append_str(&hwant, "in-reply-to:");
	for (int i = 0; i < 40; i++)
		buf_append_str(&hwant, i ? ":references" : "references");
	hv = first_tag(out.data, "h");
	CHECK_STR_EQ(hv, buf_cstr(&hwant));
	free(hv);
	buf_free(&hwant);
	/* added Ed25519 first, signed RSA first all the same */
	CHECK_INT_EQ(verify(out.data, m.data, m.len, rsa_txt.data, 0), 1);
	CHECK_INT_EQ(verify(out.data, m.data, m.len, ed_txt.data, 1), 1);
	buf_free(&m);
	dkim_signer_free(s);

	buf_free(&err);
	buf_free(&out);
	buf_free(&rsa_txt);
	buf_free(&ed_txt);
}

/* ---- the RFC 8463 example ---- */

static void
test_rfc8463(void)
{
	const char *corpora = getenv("MAILSHOT_CORPORA");
	if (corpora == NULL)
		corpora = "../shared/corpora";
	char path[512];
	struct buf eml = BUF_INIT, seed_b64 = BUF_INIT, seed = BUF_INIT, err = BUF_INIT;
	snprintf(path, sizeof path, "%s/dkim/rfc8463/signed-example.crlf.eml", corpora);
	if (read_file(path, &eml) == -1) {
		printf("dkim: skipped the RFC 8463 vector (no %s)\n", path);
		return;
	}
	snprintf(path, sizeof path, "%s/dkim/rfc8463/ed25519-brisbane.seed.b64", corpora);
	CHECK(read_file(path, &seed_b64) == 0);
	b64_decode(seed_b64.data, seed_b64.len, &seed);
	CHECK_INT_EQ(seed.len, 32);
	EVP_PKEY *pk =
	    EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, (unsigned char *)seed.data, 32);
	CHECK(pk != NULL);
	write_pkey(tmp_path("brisbane.pem"), pk, 0600);
	EVP_PKEY_free(pk);
	/* the RSA-1024 key of the RFC, copied to mode 0600 */
	struct buf rsa = BUF_INIT;
	snprintf(path, sizeof path, "%s/dkim/rfc8463/rsa-test.private.pem", corpora);
	CHECK(read_file(path, &rsa) == 0);
	write_file(tmp_path("test.pem"), buf_cstr(&rsa), rsa.len, 0600);
	buf_free(&rsa);

	/* the unsigned message: what follows the two signatures */
	const char *msg = strstr(buf_cstr(&eml), "\r\nFrom: ");
	CHECK(msg != NULL);
	if (msg == NULL)
		goto out;
	msg += 2;
	size_t len = eml.len - (size_t)(msg - eml.data);

	struct buf txt = BUF_INIT, rsa_txt = BUF_INIT;
	txt_of(tmp_path("brisbane.pem"), 1024, &txt);
	CHECK_STR_EQ(buf_cstr(&txt),
		     "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
	txt_of(tmp_path("test.pem"), 1024, &rsa_txt);
	struct buf dns = BUF_INIT;
	snprintf(path, sizeof path, "%s/dkim/rfc8463/dns-txt-records.txt", corpora);
	CHECK(read_file(path, &dns) == 0);
	const char *p = strstr(buf_cstr(&rsa_txt), "p=");
	CHECK(p && strstr(buf_cstr(&dns), p) != NULL); /* the published RSA key */
	buf_free(&dns);

	struct dkim_signer *s = signer_with("football.example.com", tmp_path("brisbane.pem"),
					    "brisbane", tmp_path("test.pem"), "test", 1024);
	struct buf out = BUF_INIT;
	CHECK_INT_EQ(dkim_sign(s, msg, len, 1528637909, &out, &err), 0);
	char *bh = first_tag(buf_cstr(&out), "bh");
	CHECK_STR_EQ(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	free(bh);
	/* RSA first, then the Ed25519 signature */
	CHECK_INT_EQ(verify(out.data, msg, len, rsa_txt.data, 0), 1);
	CHECK_INT_EQ(verify(out.data, msg, len, txt.data, 1), 1);
	CHECK_INT_EQ(check_lines(out.data, out.len, 78), 2);
	dkim_signer_free(s);
	buf_free(&out);
	buf_free(&txt);
	buf_free(&rsa_txt);
out:
	buf_free(&eml);
	buf_free(&seed_b64);
	buf_free(&seed);
	buf_free(&err);
}

int
main(void)
{
	snprintf(dir, sizeof dir, "%s", "/tmp/mailshot-dkim.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_canon();
	test_names();
	test_key_load();
	test_signer_load();
	test_sign();
	test_rfc8463();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "unable to remove %s\n", dir);
	return check_report("dkim");
}
