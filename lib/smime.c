/*
 * NAME
 *	smime - S/MIME multipart/signed (RFC 8551, RFC 1847) with OpenSSL
 *
 * SUMMARY
 *	The signed part is the message's own content (its Content-* header
 *	fields and body), byte for byte as it goes on the wire, so the
 *	signature covers exactly what the receiver checks: PKCS7_BINARY, no
 *	line-end translation (the message is already canonical CRLF).
 *
 * DESCRIPTION
 *	Promises: the output is 7-bit with CRLF line ends and no line over
 *	998 octets when the input is; a key that does not match its
 *	certificate is refused at load time, not at the first message.
 */
#include "smime.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct smime_signer {
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;
};

static void
ssl_error(struct buf *err, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();
	char text[256] = "";
	if (e != 0)
		ERR_error_string_n(e, text, sizeof text);
	ERR_clear_error();
	buf_printf(err, "%s: %s%s%s", path, what, *text ? ": " : "", text);
}

struct smime_signer *
smime_load(const char *cert, const char *key, const char *chain, struct buf *err)
{
	struct smime_signer *s = xcalloc(1, sizeof *s);
	FILE *f = fopen(cert, "re");
	if (f == NULL) {
		buf_printf(err, "%s: %s", cert, strerror(errno));
		goto fail;
	}
	s->cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (s->cert == NULL) {
		ssl_error(err, "not a PEM certificate", cert);
		goto fail;
	}
	f = fopen(key, "re");
	if (f == NULL) {
		buf_printf(err, "%s: %s", key, strerror(errno));
		goto fail;
	}
	s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (s->key == NULL) {
		ssl_error(err, "not a PEM private key (or one with a passphrase)", key);
		goto fail;
	}
	if (X509_check_private_key(s->cert, s->key) != 1) {
		ERR_clear_error();
		buf_printf(err, "%s: the key does not match the certificate %s", key, cert);
		goto fail;
	}
	s->chain = sk_X509_new_null();
	if (chain != NULL) {
		f = fopen(chain, "re");
		if (f == NULL) {
			buf_printf(err, "%s: %s", chain, strerror(errno));
			goto fail;
		}
		X509 *c;
		while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
			sk_X509_push(s->chain, c);
		ERR_clear_error(); /* the end of the file */
		fclose(f);
		if (sk_X509_num(s->chain) == 0) {
			buf_printf(err, "%s: no PEM certificate in it", chain);
			goto fail;
		}
	}
	return s;
fail:
	smime_free(s);
	return NULL;
}

void
smime_free(struct smime_signer *s)
{
	if (s == NULL)
		return;
	X509_free(s->cert);
	EVP_PKEY_free(s->key);
	if (s->chain != NULL)
		sk_X509_pop_free(s->chain, X509_free);
	free(s);
}

/* The end of the header field starting at p (after its CRLF and any
 * continuation lines), within [p, end). */
static const char *
field_end(const char *p, const char *end)
{
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return end;
		p = nl + 1;
		if (p >= end || (*p != ' ' && *p != '\t'))
			return p;
	}
}

int
smime_sign(const struct smime_signer *s, const char *msg, size_t len, uint64_t rnd,
	   struct buf *out, struct buf *err)
{
	const char *sep = NULL;
	for (size_t i = 0; i + 3 < len && sep == NULL; i++)
		if (memcmp(msg + i, "\r\n\r\n", 4) == 0)
			sep = msg + i + 2;
	if (sep == NULL) {
		buf_append_str(err, "S/MIME: the message has no header/body separator");
		return -1;
	}
	const char *body = sep + 2, *end = msg + len;
	struct buf outer = BUF_INIT, entity = BUF_INIT;
	int have_type = 0;
	for (const char *p = msg; p < sep;) {
		const char *e = field_end(p, sep);
		if (strncasecmp(p, "Content-", 8) == 0) {
			have_type |= strncasecmp(p, "Content-Type:", 13) == 0;
			buf_append(&entity, p, (size_t)(e - p));
		} else if (strncasecmp(p, "MIME-Version:", 13) != 0) {
			buf_append(&outer, p, (size_t)(e - p));
		}
		p = e;
	}
	if (!have_type)
		buf_append_str(&entity, "Content-Type: text/plain; charset=us-ascii\r\n");
	buf_append_str(&entity, "\r\n");
	buf_append(&entity, body, (size_t)(end - body));

	int rc = -1;
	BIO *in = BIO_new_mem_buf(entity.data, (int)entity.len), *der = BIO_new(BIO_s_mem());
	PKCS7 *p7 = NULL;
	if (in == NULL || der == NULL) {
		ssl_error(err, "out of memory", "S/MIME");
		goto out;
	}
	p7 = PKCS7_sign(s->cert, s->key, s->chain, in, PKCS7_DETACHED | PKCS7_BINARY);
	if (p7 == NULL || i2d_PKCS7_bio(der, p7) != 1) {
		ssl_error(err, "signing failed", "S/MIME");
		goto out;
	}
	char *dp;
	long dlen = BIO_get_mem_data(der, &dp);
	char boundary[64];
	snprintf(boundary, sizeof boundary, "=_mailshot-signed-%016llx", (unsigned long long)rnd);
	buf_append(out, outer.data, outer.len);
	buf_printf(out,
		   "MIME-Version: 1.0\r\n"
		   "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n"
		   "\tmicalg=sha-256; boundary=\"%s\"\r\n\r\n"
		   "This is a cryptographically signed message in MIME format.\r\n\r\n"
		   "--%s\r\n",
		   boundary, boundary);
	buf_append(out, entity.data, entity.len);
	/* the CRLF before a delimiter belongs to the delimiter (RFC 2046) */
	buf_printf(out,
		   "\r\n--%s\r\n"
		   "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
		   "Content-Transfer-Encoding: base64\r\n"
		   "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n",
		   boundary);
	unsigned char line[80];
	for (long off = 0; off < dlen; off += 57) {
		int n = (int)(dlen - off < 57 ? dlen - off : 57);
		int w = EVP_EncodeBlock(line, (const unsigned char *)dp + off, n);
		buf_append(out, line, (size_t)w);
		buf_append_str(out, "\r\n");
	}
	buf_printf(out, "\r\n--%s--\r\n", boundary);
	rc = 0;
out:
	PKCS7_free(p7);
	BIO_free(in);
	BIO_free(der);
	buf_free(&outer);
	buf_free(&entity);
	return rc;
}
