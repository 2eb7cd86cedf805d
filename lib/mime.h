/*
 * mime - the encodings a message must wear to be valid on a server
 * without 8BITMIME: RFC 2047 encoded-words in headers, quoted-printable
 * bodies (RFC 2045), header folding, UTF-8 validation; and the decoders
 * needed to read a template that arrives already encoded.
 *
 * All output uses CRLF line ends (the spool stores messages as they go
 * on the wire) and no output line is ever longer than 998 octets,
 * whatever the input.  The two decoders are the exception: they give
 * back content, with LF line ends.
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
 * octets and never splitting a UTF-8 character.  Printable ASCII words
 * stay as they are, unless they look like an encoded-word ("=?") or are
 * too long for a 998-octet line; those are encoded too.  Leading and
 * trailing white space is dropped; an empty value gives "Name:\r\n".
 * value must not contain CR or LF (the caller refuses those); if it
 * does, they are encoded like any control character, never written raw.
 * Invalid UTF-8 is encoded as it is.  name is the caller's own field
 * name: printable ASCII without ':', well under 998 octets. */
void mime_header_unstructured(struct buf *out, const char *name, const char *value, size_t len);

/* Appends a display name as it must appear in an address header:
 * as is when it is all atext and spaces, as a quoted-string when it is
 * ASCII with specials, as encoded-words when it has non-ASCII (plain
 * atoms between them stay as they are; Q uses only what RFC 2047 5(3)
 * allows in a phrase).  Control characters, text like an encoded-word,
 * and words too long to fold also go to encoded-words.  Leading and
 * trailing white space is dropped; an empty name is written "".  The
 * result is one line, for mime_header_structured() to fold: a run of
 * white space and the word after it take at most 77 octets, the first
 * word at most 68 (room for "Reply-To: " on a 78-octet line). */
void mime_encode_phrase(struct buf *out, const char *s, size_t len);

/* Appends a header field "Name: value\r\n" whose value is already
 * structured and ASCII (addresses, Content-Type), folding at whitespace
 * after commas or semicolons when it is longer than 78 octets, and at
 * other whitespace when a part between those is itself too long.
 * Leading and trailing white space is dropped; CR and LF are written as
 * spaces (no header injection).  A single token too long for a 998-octet
 * line, which no valid value has, is broken with CRLF SP. */
void mime_header_structured(struct buf *out, const char *name, const char *value, size_t len);

/* 1 when a body must be transfer-encoded to be 7bit-clean: any byte >=
 * 0x80, a NUL, a bare CR, or a line longer than 998 octets. */
int mime_body_needs_encoding(const char *s, size_t len);

/* Appends s (text with LF or CRLF line ends) quoted-printable encoded:
 * line breaks become CRLF, lines at most 76 octets with soft breaks,
 * '=' and non-printables encoded (a bare CR as =0D), trailing space/tab
 * encoded, a '.' at the start of any line encoded (=2E) so no line can
 * end the DATA, and "From " at the start of a line as "=46rom ".  No
 * CRLF is added after a last line that had no line end. */
void mime_qp_encode(struct buf *out, const char *s, size_t len);

/* Appends s with every line end turned into CRLF (for 7bit bodies): LF
 * and CRLF become CRLF, and so does a bare CR.  A line longer than 998
 * octets is broken at 998 (which changes the text: use quoted-printable
 * when mime_body_needs_encoding() says so). */
void mime_crlf(struct buf *out, const char *s, size_t len);

/* Decoders for template parts that arrive encoded; return 0, or -1 on
 * malformed input, leaving out as it was.  Quoted-printable decoding
 * is lenient (RFC 2045 6.7): line ends become LF, soft breaks are
 * removed, =XX decoded in either case, an '=' not followed by two hex
 * digits kept as it is, white space at line ends dropped; it never
 * fails.  Base64 decoding ignores SP, TAB, CR and LF, accepts missing
 * padding, and refuses any other character, a lone final sextet, wrong
 * padding, or data after padding. */
int mime_qp_decode(struct buf *out, const char *s, size_t len);
int mime_base64_decode(struct buf *out, const char *s, size_t len);

/* Appends s base64-encoded in lines of 76 with CRLF, the last line
 * included; empty input appends nothing. */
void mime_base64_encode(struct buf *out, const char *s, size_t len);

#endif
