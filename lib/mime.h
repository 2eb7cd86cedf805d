/*
 * mime - the encodings a message must wear to be valid on a server
 * without 8BITMIME: RFC 2047 encoded-words in headers, quoted-printable
 * bodies (RFC 2045), header folding, UTF-8 validation; and the decoders
 * needed to read a template that arrives already encoded.
 *
 * All output uses CRLF line ends (the spool stores messages as they go
 * on the wire) and no output line is ever longer than 998 octets.
 */
#ifndef MAILSHOT_MIME_H
#define MAILSHOT_MIME_H

#include <stddef.h>

#include "buf.h"

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int utf8_valid(const char *s, size_t len);

/* 1 if any byte is >= 0x80. */
int mime_has_8bit(const char *s, size_t len);

/* Appends a complete header field "Name: value\r\n" for an unstructured
 * value (Subject, custom X- headers): folded at whitespace to lines of at
 * most 78 octets where possible; non-ASCII runs become RFC 2047
 * encoded-words (UTF-8, B or Q, whichever is shorter), each at most 75
 * octets and never splitting a UTF-8 character.  value must not contain
 * CR or LF (the caller refuses those). */
void mime_header_unstructured(struct buf *out, const char *name, const char *value, size_t len);

/* Appends a display name as it must appear in an address header:
 * as is when it is all atext and spaces, as a quoted-string when it is
 * ASCII with specials, as encoded-words when it has non-ASCII. */
void mime_encode_phrase(struct buf *out, const char *s, size_t len);

/* Appends a header field "Name: value\r\n" whose value is already
 * structured and ASCII (addresses, Content-Type), folding at whitespace
 * after commas or semicolons when it is longer than 78 octets. */
void mime_header_structured(struct buf *out, const char *name, const char *value, size_t len);

/* 1 when a body must be transfer-encoded to be 7bit-clean: any byte >=
 * 0x80, a NUL, a bare CR, or a line longer than 998 octets. */
int mime_body_needs_encoding(const char *s, size_t len);

/* Appends s (text with LF or CRLF line ends) quoted-printable encoded:
 * line breaks become CRLF, lines at most 76 octets with soft breaks,
 * '=' and non-printables encoded, trailing space/tab encoded, and a '.'
 * alone at the start of a line encoded so no line can end the DATA. */
void mime_qp_encode(struct buf *out, const char *s, size_t len);

/* Appends s with every line end turned into CRLF (for 7bit bodies). */
void mime_crlf(struct buf *out, const char *s, size_t len);

/* Decoders for template parts that arrive encoded; return 0, or -1 on
 * malformed input (invalid base64 characters). */
int mime_qp_decode(struct buf *out, const char *s, size_t len);
int mime_base64_decode(struct buf *out, const char *s, size_t len);

/* Appends s base64-encoded in lines of 76 with CRLF. */
void mime_base64_encode(struct buf *out, const char *s, size_t len);

#endif
