/*
 * smime - S/MIME signing of a finished message (RFC 8551): the body
 * becomes the first part of a multipart/signed, a detached PKCS #7
 * signature the second, so every mail client still shows the text and
 * those that check signatures show the sender's certificate.
 */
#ifndef MAILSHOT_SMIME_H
#define MAILSHOT_SMIME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct smime_signer;

/*
 * Loads a PEM certificate, its PEM private key and optionally a PEM file
 * of intermediate certificates to include.  Returns NULL with err (naming
 * the file) when a file is unreadable or not what it should be, or when
 * the key does not match the certificate.
 */
struct smime_signer *smime_load(const char *cert, const char *key, const char *chain,
				struct buf *err);
void smime_free(struct smime_signer *s);

/*
 * Signs msg (a whole message: header, empty line, body; CRLF line ends,
 * 7-bit) and appends the multipart/signed message to out: the Content-*
 * fields go into the signed part with the body, every other field stays
 * in the outer header.  rnd seeds the boundary.  Returns 0, or -1 with
 * err (a message without a header/body separator, an OpenSSL failure).
 */
int smime_sign(const struct smime_signer *s, const char *msg, size_t len, uint64_t rnd,
	       struct buf *out, struct buf *err);

#endif
