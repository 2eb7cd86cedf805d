/*
 * NAME
 *	mime - header and body encodings for 7-bit transport
 * SUMMARY
 *	RFC 2047 encoded-words, RFC 5322 folding, RFC 2045 quoted-printable
 *	and base64, strict UTF-8 validation.  See mime.h for the API.
 * DESCRIPTION
 *	What this module promises, whatever bytes it is given:
 *
 *	- Every line it writes ends in CRLF and is at most 998 octets
 *	  (RFC 5322 2.1.1); quoted-printable lines are at most 76 (RFC 2045
 *	  6.7).  The decoders are the exception: they write the decoded
 *	  content itself, with LF line ends.
 *	- Header output is 7-bit as long as the field name is.  Bytes that
 *	  are not plain printable ASCII, including invalid UTF-8 and stray
 *	  CR or LF, go into encoded-words as they are; they are never
 *	  dropped and never written raw.
 *	- Unfolding an unstructured header we wrote and decoding its
 *	  encoded-words gives back the value, less leading and trailing
 *	  white space.
 *	- Encoded-words are UTF-8, at most 75 octets (RFC 2047 2), B or Q
 *	  by whichever is shorter for the run, and never cut a valid UTF-8
 *	  character in two (RFC 2047 5: each must be decodable alone).
 *	- Text that looks like an encoded-word ("=?x?y?z?=") is itself
 *	  encoded, so no reader decodes what the sender wrote literally.
 *
 *	Quoted-printable encoding is on the enqueue hot path (thousands of
 *	bodies a second), so the body encoders write straight into the
 *	buffer through a small writer that makes room once per input line,
 *	instead of calling buf_append_char() with its growth check for
 *	every octet.
 */
#include "mime.h"

#include <stdint.h>
#include <string.h>

#define LINE_SOFT 78   /* RFC 5322 2.1.1 SHOULD, for header folding */
#define LINE_HARD 998  /* RFC 5322 2.1.1 MUST */
#define QP_LINE 76     /* RFC 2045 6.7 (5), soft-break '=' included */
#define B64_LINE 76    /* RFC 2045 6.8 */
#define EW_MAX 75      /* RFC 2047 2 */
#define EW_OVERHEAD 12 /* "=?UTF-8?Q?" and "?=" */

/*
 * A free line shorter than this is not worth an encoded-word sliver:
 * start a new line where a full-sized word fits.
 */
#define EW_WORTH_PLACING 32

/*
 * Display names are written without knowing where on the line they
 * land; the caller folds them with mime_header_structured().  Keeping
 * every white-space run plus the word after it within this bound lets
 * that folding always reach 78-octet lines.
 */
#define PHRASE_PIECE_MAX 77

/*
 * The first piece of a display name lands after the field name; this
 * leaves room for the longest usual one, "Reply-To: ", on a 78 line.
 */
#define PHRASE_FIRST_MAX 68

/* ---------------------------------------------------------------- */
/* A direct writer into a struct buf                                */
/* ---------------------------------------------------------------- */

struct writer {
	struct buf *buf;
	char *pos;
	char *end; /* last usable byte + 1, leaving room for the NUL */
};

static void
writer_begin(struct writer *w, struct buf *b, size_t expected)
{
	buf_reserve(b, expected);
	w->buf = b;
	w->pos = b->data + b->len;
	w->end = b->data + b->cap - 1;
}

/*
 * Makes room for need bytes.  hint is how much more the caller expects
 * to write, so that growth happens a few times per call, not per byte.
 */
static inline void
writer_need(struct writer *w, size_t need, size_t hint)
{
	if ((size_t)(w->end - w->pos) >= need)
		return;
	struct buf *b = w->buf;
	b->len = (size_t)(w->pos - b->data);
	buf_reserve(b, hint > SIZE_MAX - need ? SIZE_MAX : need + hint);
	w->pos = b->data + b->len;
	w->end = b->data + b->cap - 1;
}

/* n * factor + extra, or SIZE_MAX (which buf_reserve refuses) on overflow. */
static size_t
scaled(size_t n, size_t factor, size_t extra)
{
	if (n > (SIZE_MAX - extra) / factor)
		return SIZE_MAX;
	return n * factor + extra;
}

static void
writer_finish(struct writer *w)
{
	struct buf *b = w->buf;
	b->len = (size_t)(w->pos - b->data);
	b->data[b->len] = '\0';
}

static const char hex_upper[] = "0123456789ABCDEF";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static inline char *
put_hex_escape(char *p, unsigned char c)
{
	p[0] = '=';
	p[1] = hex_upper[c >> 4];
	p[2] = hex_upper[c & 15];
	return p + 3;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* ---------------------------------------------------------------- */
/* UTF-8 and 8-bit checks                                           */
/* ---------------------------------------------------------------- */

/*
 * Length of the valid UTF-8 sequence at s, or 0 when s does not start
 * one.  The ranges are those of RFC 3629 4, which exclude overlong
 * forms, surrogates and code points above U+10FFFF by construction.
 */
static size_t
utf8_sequence_length(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong below U+0800 */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates U+D800..U+DFFF */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

int
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_sequence_length(p + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

int
mime_has_8bit(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++)
		if (p[i] >= 0x80)
			return 1;
	return 0;
}

int
mime_body_needs_encoding(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t line = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c == '\n') {
			line = 0;
		} else if (c == '\r') {
			if (i + 1 == len || p[i + 1] != '\n')
				return 1;
		} else if (c == 0 || c >= 0x80 || ++line > LINE_HARD) {
			return 1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Bodies: CRLF, quoted-printable, base64                           */
/* ---------------------------------------------------------------- */

/*
 * A bare CR becomes a line end rather than passing through: SMTP allows
 * no bare CR, and a reader that sees one almost always meant a line end
 * (old Mac text).  A line over 998 octets is broken with a CRLF, which
 * changes the text; callers that care check mime_body_needs_encoding()
 * first and use quoted-printable instead.
 */
void
mime_crlf(struct buf *out, const char *s, size_t len)
{
	const char *p = s, *end = s + len;
	struct writer w;
	size_t col = 0;

	writer_begin(&w, out, len + len / 16 + 16);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		size_t line = (size_t)(stop - p);

		/* Worst case, every octet a bare CR: each becomes two. */
		writer_need(&w, scaled(line, 2, 4), (size_t)(end - stop));
		while (p < stop) {
			const char *cr = memchr(p, '\r', (size_t)(stop - p));
			const char *run_end = cr ? cr : stop;
			while (p < run_end) {
				if (col == LINE_HARD) {
					*w.pos++ = '\r';
					*w.pos++ = '\n';
					col = 0;
				}
				size_t n = (size_t)(run_end - p);
				if (n > LINE_HARD - col)
					n = LINE_HARD - col;
				memcpy(w.pos, p, n);
				w.pos += n;
				p += n;
				col += n;
			}
			if (cr == NULL)
				break;
			p = cr + 1;
			if (p == stop && nl)
				break; /* the CR of a CRLF */
			*w.pos++ = '\r';
			*w.pos++ = '\n';
			col = 0;
		}
		if (nl) {
			*w.pos++ = '\r';
			*w.pos++ = '\n';
			col = 0;
			p = nl + 1;
		}
	}
	writer_finish(&w);
}

/*
 * 1 for the octets quoted-printable may always leave as they are (RFC
 * 2045 6.7 (2)): '!' to '~' except '='.  Space and tab are literal too
 * unless they end a line, which the encoder decides.
 */
static inline int
qp_plain(unsigned char c)
{
	return c - 33u < 94u && c != '=';
}

/*
 * Line by line: an input LF or CRLF is a hard break, written CRLF.  An
 * octet goes on the current line if it fits with room for a soft-break
 * '=' after it, or, when it is the last of the input line, if it fits in
 * the 76 octets alone.  Otherwise a soft break comes first, and the
 * octet is reconsidered at the start of the new line, since what a line
 * starts with matters: a '.' there could end the SMTP DATA on a broken
 * relay, and "From " would be mangled to ">From " by mbox tools.
 *
 * Room for the worst case of a whole input line is made once, so the
 * inner loop writes without checks; the common octet (printable, mid
 * line) takes the first branch alone.
 */
void
mime_qp_encode(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + len;
	struct writer w;

	writer_begin(&w, out, len + len / 8 + 16);
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *stop = nl ? nl : end;
		if (nl && stop > p && stop[-1] == '\r')
			stop--;

		/* 3 per octet, a 3-octet soft break per 73 or more, CRLF. */
		writer_need(&w, scaled((size_t)(stop - p), 4, 8), (size_t)(end - stop));
		size_t col = 0;
		for (; p < stop; p++) {
			unsigned char c = *p;
			if (qp_plain(c) && col - 1 < QP_LINE - 2) {
				*w.pos++ = (char)c;
				col++;
				continue;
			}
			int last = p + 1 == stop;
			int escape;
			size_t width;
			for (;;) {
				escape = !(qp_plain(c) || c == ' ' || c == '\t') ||
					 (last && (c == ' ' || c == '\t'));
				if (col == 0 && (c == '.' || (c == 'F' && stop - p >= 5 &&
							      memcmp(p, "From ", 5) == 0)))
					escape = 1;
				width = escape ? 3 : 1;
				if (col + width <= (last ? QP_LINE : QP_LINE - 1))
					break;
				*w.pos++ = '=';
				*w.pos++ = '\r';
				*w.pos++ = '\n';
				col = 0;
			}
			if (escape)
				w.pos = put_hex_escape(w.pos, c);
			else
				*w.pos++ = (char)c;
			col += width;
		}
		if (nl) {
			*w.pos++ = '\r';
			*w.pos++ = '\n';
			p = nl + 1;
		}
	}
	writer_finish(&w);
}

/*
 * Lenient, as RFC 2045 6.7 suggests: an '=' not followed by two hex
 * digits is kept as it is, and white space at the end of a line is
 * dropped, since a transport may have added it.  Nothing is refused.
 */
int
mime_qp_decode(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + len;
	struct writer w;

	/* Decoding never grows the text: one reservation is enough. */
	writer_begin(&w, out, len);
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *stop = nl ? nl : end;
		if (nl && stop > p && stop[-1] == '\r')
			stop--;
		while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		int soft = stop > p && stop[-1] == '=';
		if (soft)
			stop--;

		while (p < stop) {
			const unsigned char *eq = memchr(p, '=', (size_t)(stop - p));
			const unsigned char *run_end = eq ? eq : stop;
			memcpy(w.pos, p, (size_t)(run_end - p));
			w.pos += run_end - p;
			p = run_end;
			if (!eq)
				break;
			int hi = stop - p >= 3 ? hex_value(p[1]) : -1;
			int lo = hi >= 0 ? hex_value(p[2]) : -1;
			if (lo >= 0) {
				*w.pos++ = (char)(hi << 4 | lo);
				p += 3;
			} else {
				*w.pos++ = '=';
				p++;
			}
		}
		if (nl) {
			if (!soft)
				*w.pos++ = '\n';
			p = nl + 1;
		} else {
			p = end;
		}
	}
	writer_finish(&w);
	return 0;
}

/* Every line, the last included, ends in CRLF; empty input gives nothing. */
void
mime_base64_encode(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = (len / 3 + (len % 3 != 0)) * 4;
	size_t lines = chars / B64_LINE + (chars % B64_LINE != 0);
	struct writer w;

	writer_begin(&w, out, chars + 2 * lines);
	size_t col = 0;
	for (size_t i = 0; i < len; i += 3) {
		size_t left = len - i;
		unsigned v = (unsigned)p[i] << 16;
		if (left > 1)
			v |= (unsigned)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		w.pos[0] = b64_alphabet[v >> 18 & 63];
		w.pos[1] = b64_alphabet[v >> 12 & 63];
		w.pos[2] = left > 1 ? b64_alphabet[v >> 6 & 63] : '=';
		w.pos[3] = left > 2 ? b64_alphabet[v & 63] : '=';
		w.pos += 4;
		col += 4;
		if (col == B64_LINE || left <= 3) {
			*w.pos++ = '\r';
			*w.pos++ = '\n';
			col = 0;
		}
	}
	writer_finish(&w);
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * White space (SP, TAB, CR, LF) is ignored anywhere.  Padding may be
 * left out, but when present it must be right: "xx==" or "xxx=", and
 * nothing but white space after it.  Any other character, or a lone
 * sextet at the end, is malformed: then out is left as it was.
 */
int
mime_base64_decode(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = out->len;
	unsigned acc = 0;
	int have = 0, pad = 0;
	struct writer w;

	writer_begin(&w, out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			if (have + pad < 2 || have + pad >= 4)
				goto malformed;
			pad++;
			continue;
		}
		int v = b64_value(c);
		if (v < 0 || pad)
			goto malformed;
		acc = acc << 6 | (unsigned)v;
		if (++have == 4) {
			w.pos[0] = (char)(acc >> 16);
			w.pos[1] = (char)(acc >> 8);
			w.pos[2] = (char)acc;
			w.pos += 3;
			have = 0;
			acc = 0;
		}
	}
	if (have == 1 || (pad && have + pad != 4))
		goto malformed;
	if (have == 2) {
		*w.pos++ = (char)(acc >> 4);
	} else if (have == 3) {
		*w.pos++ = (char)(acc >> 10);
		*w.pos++ = (char)(acc >> 2);
	}
	writer_finish(&w);
	return 0;

malformed:
	writer_finish(&w);
	buf_truncate(out, start);
	return -1;
}

/* ---------------------------------------------------------------- */
/* Headers                                                          */
/* ---------------------------------------------------------------- */

enum ew_context {
	EW_TEXT,   /* unstructured text: RFC 2047 5 (1) */
	EW_PHRASE, /* a word in a phrase: RFC 2047 5 (3) */
};

static inline int
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Has "=?", the start of anything a decoder might take as an encoded-word. */
static int
looks_encoded(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] == '=' && s[i + 1] == '?')
			return 1;
	return 0;
}

/*
 * The octets Q may leave as they are.  In text, any printable but the
 * three Q gives a meaning to; in a phrase only what RFC 2047 5 (3)
 * lists, so the encoded-word stays a valid atom.
 */
static int
q_literal(unsigned char c, enum ew_context context)
{
	if (context == EW_PHRASE)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		       c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
	return c > 32 && c < 127 && c != '=' && c != '?' && c != '_';
}

static size_t
q_width(unsigned char c, enum ew_context context)
{
	return c == ' ' || q_literal(c, context) ? 1 : 3;
}

/* One unit an encoded-word may not cut: a UTF-8 character, or one byte. */
static size_t
unit_length(const unsigned char *s, size_t n)
{
	size_t u = utf8_sequence_length(s, n);
	return u ? u : 1;
}

/*
 * How many octets of t fit in one encoded-word whose encoded text is at
 * most room octets, without cutting a unit.
 */
static size_t
ew_fit(const unsigned char *t, size_t n, char encoding, enum ew_context context, size_t room)
{
	size_t taken = 0, width = 0;

	while (taken < n) {
		size_t u = unit_length(t + taken, n - taken);
		if (encoding == 'B') {
			if ((taken + u + 2) / 3 * 4 > room)
				break;
		} else {
			size_t uw = 0;
			for (size_t i = 0; i < u; i++)
				uw += q_width(t[taken + i], context);
			if (width + uw > room)
				break;
			width += uw;
		}
		taken += u;
	}
	return taken;
}

/* Writes one encoded-word for t[0..n) into dst; returns its length. */
static size_t
ew_write(char *dst, const unsigned char *t, size_t n, char encoding, enum ew_context context)
{
	char *p = dst;

	memcpy(p, "=?UTF-8?", 8);
	p += 8;
	*p++ = encoding;
	*p++ = '?';
	if (encoding == 'B') {
		for (size_t i = 0; i < n; i += 3) {
			size_t left = n - i;
			unsigned v = (unsigned)t[i] << 16;
			if (left > 1)
				v |= (unsigned)t[i + 1] << 8;
			if (left > 2)
				v |= t[i + 2];
			*p++ = b64_alphabet[v >> 18 & 63];
			*p++ = b64_alphabet[v >> 12 & 63];
			*p++ = left > 1 ? b64_alphabet[v >> 6 & 63] : '=';
			*p++ = left > 2 ? b64_alphabet[v & 63] : '=';
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			if (t[i] == ' ')
				*p++ = '_';
			else if (q_literal(t[i], context))
				*p++ = (char)t[i];
			else
				p = put_hex_escape(p, t[i]);
		}
	}
	*p++ = '?';
	*p++ = '=';
	return (size_t)(p - dst);
}

/*
 * Output of a header value unit by unit.  A unit is a plain word or an
 * encoded-word, each written after its separator (the white space that
 * came before it).  Folding puts a CRLF before the separator, so that
 * unfolding gives the same text back.
 */
struct header_writer {
	struct buf *out;
	size_t col;	       /* octets on the current line */
	int folding;	       /* 0: one line, the caller folds (phrases) */
	int at_start;	       /* nothing written after the field name yet */
	const char *first_sep; /* separator before the first unit */
	size_t first_sep_len;
	size_t first_max; /* longest first unit when not folding */
};

static void
emit_unit(struct header_writer *h, const char *sep, size_t sep_len, const char *unit, size_t len)
{
	size_t end = h->col + sep_len + len;

	/*
	 * Not before the first unit, to keep it on the "Name:" line, unless
	 * that line would go over the hard limit (a very long name).
	 */
	if (h->folding && ((!h->at_start && end > LINE_SOFT) || end > LINE_HARD)) {
		buf_append(h->out, "\r\n", 2);
		h->col = 0;
	}
	buf_append(h->out, sep, sep_len);
	buf_append(h->out, unit, len);
	h->col += sep_len + len;
	h->at_start = 0;
}

/*
 * Writes t[0..n) as a chain of encoded-words.  The white space between
 * two encoded-words is dropped by decoders, so every space of the text
 * is inside a word and the separators are only there for folding.
 */
static void
emit_encoded(struct header_writer *h, const unsigned char *t, size_t n, const char *sep,
	     size_t sep_len, enum ew_context context)
{
	size_t q_len = 0;
	for (size_t i = 0; i < n; i++)
		q_len += q_width(t[i], context);
	char encoding = q_len <= (n + 2) / 3 * 4 ? 'Q' : 'B';

	while (n > 0) {
		size_t room = h->at_start ? h->first_max : EW_MAX;
		if (h->folding) {
			room = h->col + sep_len < LINE_SOFT ? LINE_SOFT - h->col - sep_len : 0;
			if (room > EW_MAX)
				room = EW_MAX;
		}
		size_t take =
		    room > EW_OVERHEAD ? ew_fit(t, n, encoding, context, room - EW_OVERHEAD) : 0;
		if (take < n && (take == 0 || room < EW_WORTH_PLACING))
			take = ew_fit(t, n, encoding, context, EW_MAX - EW_OVERHEAD);

		char word[EW_MAX + 1];
		size_t len = ew_write(word, t, take, encoding, context);
		emit_unit(h, sep, sep_len, word, len);
		t += take;
		n -= take;
		sep = " ";
		sep_len = 1;
	}
}

static int
word_is_plain(const unsigned char *w, size_t n, enum ew_context context)
{
	for (size_t i = 0; i < n; i++) {
		if (context == EW_PHRASE ? !is_atext(w[i]) : (w[i] <= 32 || w[i] >= 127))
			return 0;
	}
	return !looks_encoded(w, n);
}

/*
 * Splits s (no leading or trailing white space) into words.  A word
 * stays plain when it may (atext in a phrase, printable ASCII in text)
 * and it fits on a line after its white space, which is what piece_max
 * bounds (first_max for the first word, which has none).  Runs of other
 * words become one encoded run, together with the white space between
 * them, since that space would be lost between two encoded-words.
 * Around an encoded run, one white-space octet stays outside as the
 * separator that RFC 2047 5 requires next to plain text; the rest of
 * the run goes inside.
 */
static void
encode_words(struct header_writer *h, const unsigned char *s, size_t len, enum ew_context context,
	     size_t first_max, size_t piece_max)
{
	size_t i = 0, run_start = 0;
	const char *run_sep = NULL;
	size_t run_sep_len = 0;
	int in_run = 0;

	while (i < len) {
		size_t ws = i;
		while (i < len && is_wsp(s[i]))
			i++;
		size_t word = i;
		while (i < len && !is_wsp(s[i]))
			i++;
		size_t ws_len = word - ws, word_len = i - word;
		int first = word == 0;

		if (word_is_plain(s + word, word_len, context) &&
		    (first ? word_len <= first_max : ws_len + word_len <= piece_max)) {
			if (in_run) {
				emit_encoded(h, s + run_start, word - 1 - run_start, run_sep,
					     run_sep_len, context);
				emit_unit(h, (const char *)s + word - 1, 1, (const char *)s + word,
					  word_len);
				in_run = 0;
			} else if (first) {
				emit_unit(h, h->first_sep, h->first_sep_len, (const char *)s + word,
					  word_len);
			} else {
				emit_unit(h, (const char *)s + ws, ws_len, (const char *)s + word,
					  word_len);
			}
		} else if (!in_run) {
			in_run = 1;
			if (first) {
				run_sep = h->first_sep;
				run_sep_len = h->first_sep_len;
				run_start = word;
			} else {
				run_sep = (const char *)s + ws;
				run_sep_len = 1;
				run_start = ws + 1;
			}
		}
	}
	if (in_run)
		emit_encoded(h, s + run_start, len - run_start, run_sep, run_sep_len, context);
}

static void
trim_wsp(const unsigned char **s, size_t *len)
{
	while (*len > 0 && is_wsp(**s))
		(*s)++, (*len)--;
	while (*len > 0 && is_wsp((*s)[*len - 1]))
		(*len)--;
}

/*
 * Leading and trailing white space of the value is dropped: readers
 * drop it anyway, and trailing space would invite a transport to strip
 * it.  An empty value gives "Name:" alone.
 */
void
mime_header_unstructured(struct buf *out, const char *name, const char *value, size_t len)
{
	const unsigned char *v = (const unsigned char *)value;
	struct header_writer h = {out, strlen(name) + 1, 1, 1, " ", 1, EW_MAX};

	trim_wsp(&v, &len);
	buf_append_str(out, name);
	buf_append_char(out, ':');
	encode_words(&h, v, len, EW_TEXT, LINE_HARD - 1, LINE_HARD);
	buf_append(out, "\r\n", 2);
}

/*
 * 1 when each run of white space with the word after it fits within
 * PHRASE_PIECE_MAX, and the first word within PHRASE_FIRST_MAX,
 * counting the words as they will be written (quoted when quoted is
 * set: the quotes and backslashes added).
 */
static int
phrase_pieces_fit(const unsigned char *s, size_t len, int quoted)
{
	size_t i = 0;

	while (i < len) {
		size_t ws = i;
		while (i < len && is_wsp(s[i]))
			i++;
		size_t piece = i - ws + (quoted && ws == 0);
		while (i < len && !is_wsp(s[i])) {
			piece += 1 + (quoted && (s[i] == '"' || s[i] == '\\'));
			i++;
		}
		piece += quoted && i == len;
		if (piece > (ws == 0 ? PHRASE_FIRST_MAX : PHRASE_PIECE_MAX))
			return 0;
	}
	return 1;
}

/*
 * Three forms, simplest first.  A phrase that is too long for the
 * simple forms to be folded into 78-octet lines, or that has control
 * characters or something like an encoded-word in it, goes to
 * encoded-words even when it is ASCII.  Leading and trailing white
 * space is dropped; an empty phrase is written "".
 */
void
mime_encode_phrase(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	int atoms = 1, printable = 1;

	trim_wsp(&p, &len);
	if (len == 0) {
		buf_append(out, "\"\"", 2);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] != ' ' && !is_atext(p[i]))
			atoms = 0;
		if ((p[i] < 32 && p[i] != '\t') || p[i] >= 127)
			printable = 0;
	}
	if (looks_encoded(p, len))
		atoms = printable = 0;

	if (atoms && phrase_pieces_fit(p, len, 0)) {
		buf_append(out, p, len);
	} else if (printable && phrase_pieces_fit(p, len, 1)) {
		buf_reserve(out, 2 * len + 2);
		buf_append_char(out, '"');
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '"' || p[i] == '\\')
				buf_append_char(out, '\\');
			buf_append_char(out, (char)p[i]);
		}
		buf_append_char(out, '"');
	} else {
		struct header_writer h = {out, 0, 0, 1, "", 0, PHRASE_FIRST_MAX};
		encode_words(&h, p, len, EW_PHRASE, PHRASE_FIRST_MAX, PHRASE_PIECE_MAX);
	}
}

static inline int
is_structured_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Writes s[0..n), turning CR and LF into spaces (a raw line end would
 * let the value start a header of its own), and as a last resort
 * breaking a line that reached 998 octets: that inserts a space into
 * the value, but only an unbreakable token of nearly 1000 octets, which
 * no valid structured field has, can cause it.
 */
static void
structured_write(struct buf *out, size_t *col, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (*col >= LINE_HARD) {
			buf_append(out, "\r\n ", 3);
			*col = 1;
		}
		buf_append_char(out, s[i] == '\r' || s[i] == '\n' ? ' ' : (char)s[i]);
		++*col;
	}
}

/*
 * The value is a sequence of pieces, each a run of white space and the
 * token after it; folding may go before any piece.  Pieces are grouped
 * so that a group ends with a token ending in ',' or ';' (between
 * addresses, between parameters): a group that does not fit on the
 * current line starts a new one when it fits there whole.  Within a
 * group too long for any line, pieces fill lines one by one.  CR and LF
 * count as white space (and are written as spaces); leading and
 * trailing white space is dropped.
 */
void
mime_header_structured(struct buf *out, const char *name, const char *value, size_t len)
{
	const unsigned char *v = (const unsigned char *)value;
	size_t col = strlen(name) + 1;
	size_t i = 0;

	while (len > 0 && is_structured_space(*v))
		v++, len--;
	while (len > 0 && is_structured_space(v[len - 1]))
		len--;
	buf_reserve(out, col + len + len / 32 + 8);
	buf_append_str(out, name);
	buf_append_char(out, ':');

	while (i < len) {
		size_t group_end = i;
		while (group_end < len) {
			while (group_end < len && is_structured_space(v[group_end]))
				group_end++;
			while (group_end < len && !is_structured_space(v[group_end]))
				group_end++;
			if (v[group_end - 1] == ',' || v[group_end - 1] == ';')
				break;
		}
		size_t group_len = group_end - i + (i == 0);
		if (i > 0 && col + group_len > LINE_SOFT && group_len <= LINE_SOFT) {
			buf_append(out, "\r\n", 2);
			col = 0;
		}
		while (i < group_end) {
			size_t ws = i;
			while (i < group_end && is_structured_space(v[i]))
				i++;
			size_t token = i;
			while (i < group_end && !is_structured_space(v[i]))
				i++;
			size_t piece_len = i - ws + (ws == 0);
			if (col > 0 && ((ws > 0 && col + piece_len > LINE_SOFT) ||
					col + piece_len > LINE_HARD)) {
				buf_append(out, "\r\n", 2);
				col = 0;
			}
			if (ws == 0)
				structured_write(out, &col, (const unsigned char *)" ", 1);
			structured_write(out, &col, v + ws, token - ws);
			structured_write(out, &col, v + token, i - token);
		}
	}
	buf_append(out, "\r\n", 2);
}
