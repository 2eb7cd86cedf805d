/*
 * test_addr - unit tests for lib/addr.c.
 *
 * Two halves.  The third-party corpus (Dominic Sayers' isemail test sets,
 * $MAILSHOT_CORPORA/address/) is run case by case, with an expectation per
 * isemail category and diagnosis written down below; a missing corpus is a
 * failure, never a silent pass.  Then hand-written hostile input: sizes at
 * and past every limit, NULs, CR/LF injection, broken UTF-8, IPv6 literal
 * corners, and the mailbox forms users type.
 *
 * Every address that addr_check accepts here also goes through the
 * invariants the rest of mailshot relies on: it still passes after
 * addr_normalize, normalizing twice changes nothing, and it contains no
 * CR, LF, NUL, nor space outside quotes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "check.h"

#define ALL_FLAGS (ADDR_ALLOW_LITERAL | ADDR_ALLOW_NODOT)

/* ---- invariants of accepted addresses ---------------------------------- */

static int
has_unquoted_space_or_break(const char *s, size_t len)
{
	int quoted = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return 1;
		if (quoted && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && (s[i] == ' ' || s[i] == '\t'))
			return 1;
	}
	return 0;
}

static void
check_accepted_invariants(const char *s, size_t len, int flags)
{
	CHECK(!has_unquoted_space_or_break(s, len));
	for (int fold = 0; fold <= 1; fold++) {
		struct buf once = BUF_INIT, twice = BUF_INIT;
		const char *why = NULL;

		addr_normalize(s, len, fold, &once);
		CHECK_INT_EQ(once.len, len);
		CHECK_INT_EQ(addr_check(once.data, once.len, flags, &why, NULL), 0);
		addr_normalize(once.data, once.len, fold, &twice);
		CHECK(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);
		buf_free(&once);
		buf_free(&twice);
	}
}

/* ---- the isemail corpus ------------------------------------------------ */

/* What we do with a corpus case. */
enum expect {
	ACCEPT,	      /* accepted with any flags */
	REJECT,	      /* refused with any flags */
	NEED_LITERAL, /* accepted only with ADDR_ALLOW_LITERAL */
	NEED_NODOT,   /* accepted only with ADDR_ALLOW_NODOT */
	UNDECIDED,    /* a diagnosis nobody has decided on: fails the test */
};

static int
is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/*
 * The decisions, per diagnosis, for the categories that are not refused
 * wholesale.  ISEMAIL_ERR, ISEMAIL_CFWS, ISEMAIL_DEPREC and ISEMAIL_RFC5322
 * are refused whatever the diagnosis (see expectation_for): errors are
 * errors, and the other three are header syntax (comments, folding,
 * obsolete forms, RFC 5322 domain literals, over-length parts) that can
 * never appear in an SMTP envelope.  That includes
 * ISEMAIL_RFC5321_IPV6DEPRECATED, filed under ISEMAIL_DEPREC in the new set.
 */
static enum expect
decision_for(const char *diagnosis)
{
	/* Plain valid addresses.  One deliberate deviation: "test@io" is
	 * valid to isemail, but a dotless domain in a mailing list is a typo
	 * far more often than a TLD with an MX record, so it needs
	 * ADDR_ALLOW_NODOT (see expectation_for). */
	if (is(diagnosis, "ISEMAIL_VALID"))
		return ACCEPT;
	/* The DNS warnings only say "no such record today"; the syntax is
	 * fine, and DNS is the delivery agent's business, not the parser's.
	 * None of them is about a dotless or numeric TLD (those come as
	 * ISEMAIL_RFC5321_TLD*), so all are accepted. */
	if (is(diagnosis, "ISEMAIL_DNSWARN_NO_RECORD") ||
	    is(diagnosis, "ISEMAIL_DNSWARN_NO_MX_RECORD"))
		return ACCEPT;
	/* Valid SMTP: quoted local parts are accepted, as RFC 5321 says. */
	if (is(diagnosis, "ISEMAIL_RFC5321_QUOTEDSTRING"))
		return ACCEPT;
	/* [IPv4] and [IPv6:...] only when the caller asks for literals. */
	if (is(diagnosis, "ISEMAIL_RFC5321_ADDRESSLITERAL"))
		return NEED_LITERAL;
	/* A single-label domain ("test@org") only with ADDR_ALLOW_NODOT. */
	if (is(diagnosis, "ISEMAIL_RFC5321_TLD"))
		return NEED_NODOT;
	/* "test@iana.123", "test@255.255.255.255": an IP address without
	 * brackets, or a typo; RFC 3696 2: a TLD is never all-numeric. */
	if (is(diagnosis, "ISEMAIL_RFC5321_TLDNUMERIC"))
		return REJECT;
	/* "::" for a single group, or too many groups around "::": outside
	 * the RFC 5321 IPv6-comp/IPv6v4-comp grammar, so refused. */
	if (is(diagnosis, "ISEMAIL_RFC5321_IPV6DEPRECATED"))
		return REJECT;
	return UNDECIDED;
}

static enum expect
expectation_for(const char *category, const char *diagnosis, const char *addr, size_t len)
{
	if (is(category, "ISEMAIL_ERR") || is(category, "ISEMAIL_CFWS") ||
	    is(category, "ISEMAIL_DEPREC") || is(category, "ISEMAIL_RFC5322"))
		return REJECT;
	if (!is(category, "ISEMAIL_VALID_CATEGORY") && !is(category, "ISEMAIL_DNSWARN") &&
	    !is(category, "ISEMAIL_RFC5321"))
		return UNDECIDED;
	enum expect e = decision_for(diagnosis);

	if (e == ACCEPT) {
		const char *at = memchr(addr, '@', len);

		if (at != NULL && memchr(at, '.', len - (size_t)(at - addr)) == NULL)
			return NEED_NODOT;
	}
	return e;
}

static int
expected_ok(enum expect e, int flags)
{
	switch (e) {
	case ACCEPT:
		return 1;
	case NEED_LITERAL:
		return (flags & ADDR_ALLOW_LITERAL) != 0;
	case NEED_NODOT:
		return (flags & ADDR_ALLOW_NODOT) != 0;
	default:
		return 0;
	}
}

/* The directory of the third-party corpora: $MAILSHOT_CORPORA as set by
 * tests/run-unit, else ../shared/corpora relative to the repository root
 * (tests run from there). */
static const char *
corpora_dir(void)
{
	const char *dir = getenv("MAILSHOT_CORPORA");

	return dir != NULL && *dir != '\0' ? dir : "../shared/corpora";
}

static int
read_whole_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(out, chunk, n);
	int bad = ferror(f);
	fclose(f);
	return bad ? -1 : 0;
}

static void
append_utf8(struct buf *out, unsigned long cp)
{
	if (cp < 0x80) {
		buf_append_char(out, (char)cp);
	} else if (cp < 0x800) {
		buf_append_char(out, (char)(0xc0 | (cp >> 6)));
		buf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_append_char(out, (char)(0xe0 | (cp >> 12)));
		buf_append_char(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_append_char(out, (char)(0xf0 | (cp >> 18)));
		buf_append_char(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_append_char(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_char(out, (char)(0x80 | (cp & 0x3f)));
	}
}

static int
digit_value(char d, int base)
{
	int v = -1;

	if (d >= '0' && d <= '9')
		v = d - '0';
	else if (d >= 'a' && d <= 'f')
		v = d - 'a' + 10;
	else if (d >= 'A' && d <= 'F')
		v = d - 'A' + 10;
	return v < base ? v : -1;
}

/* Decodes XML character data: the five named entities and numeric
 * references.  As the corpus header explains, U+2400..U+241F stand for
 * the control characters 0x00..0x1F (XML cannot carry most of them);
 * they are mapped back, whether written as a reference or literally. */
static void
xml_decode(const char *s, size_t len, struct buf *out)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == 0xe2 && i + 2 < len && (unsigned char)s[i + 1] == 0x90 &&
		    (unsigned char)s[i + 2] >= 0x80 && (unsigned char)s[i + 2] <= 0x9f) {
			buf_append_char(out, (char)((unsigned char)s[i + 2] - 0x80));
			i += 2;
			continue;
		}
		if (c != '&') {
			buf_append_char(out, (char)c);
			continue;
		}
		size_t rest = len - i - 1;
		int done = 0;

		for (size_t k = 0; k < sizeof named / sizeof named[0] && !done; k++) {
			size_t n = strlen(named[k].name);

			if (rest >= n && memcmp(s + i + 1, named[k].name, n) == 0) {
				buf_append_char(out, named[k].c);
				i += n;
				done = 1;
			}
		}
		if (!done && rest >= 3 && s[i + 1] == '#') {
			int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
			size_t j = i + 2 + (hex ? 1 : 0);
			unsigned long cp = 0;
			size_t digits = 0;

			for (; j < len && digits < 8; j++, digits++) {
				int v = digit_value(s[j], hex ? 16 : 10);

				if (v < 0)
					break;
				cp = cp * (hex ? 16 : 10) + (unsigned long)v;
			}
			if (digits > 0 && j < len && s[j] == ';' && cp <= 0x10ffff) {
				if (cp >= 0x2400 && cp <= 0x241f)
					buf_append_char(out, (char)(cp - 0x2400));
				else
					append_utf8(out, cp);
				i = j;
				done = 1;
			}
		}
		if (!done)
			buf_append_char(out, '&'); /* not an entity: keep as is */
	}
}

/* Finds <name>...</name> (or <name/>) inside [s, end) and decodes its
 * content into out.  Returns 0, or -1 when the element is absent. */
static int
xml_element(const char *s, const char *end, const char *name, struct buf *out)
{
	char open[64], close[64], empty[64];

	snprintf(open, sizeof open, "<%s>", name);
	snprintf(close, sizeof close, "</%s>", name);
	snprintf(empty, sizeof empty, "<%s/>", name);
	buf_reset(out);
	if (memmem(s, (size_t)(end - s), empty, strlen(empty)) != NULL) {
		buf_cstr(out);
		return 0;
	}
	const char *a = memmem(s, (size_t)(end - s), open, strlen(open));
	if (a == NULL)
		return -1;
	a += strlen(open);
	const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (b == NULL)
		return -1;
	xml_decode(a, (size_t)(b - a), out);
	buf_cstr(out);
	return 0;
}

static void
print_escaped(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '\\' || c == '"')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct corpus_stats {
	int cases;
	int accepted; /* with all flags */
	int rejected; /* with all flags */
};

/* Runs every <test> of one isemail file.  Returns the number of cases. */
static int
run_isemail_file(const char *file, struct corpus_stats *stats)
{
	char path[4096];
	struct buf xml = BUF_INIT, addr = BUF_INIT, category = BUF_INIT, diagnosis = BUF_INIT;
	int cases = 0;

	snprintf(path, sizeof path, "%s/address/%s", corpora_dir(), file);
	if (read_whole_file(path, &xml) < 0) {
		fprintf(stderr, "test_addr: cannot read corpus %s (set MAILSHOT_CORPORA)\n", path);
		CHECK(!"corpus file readable");
		buf_free(&xml);
		return 0;
	}

	const char *p = xml.data, *end = xml.data + xml.len;

	while ((p = memmem(p, (size_t)(end - p), "<test ", 6)) != NULL) {
		const char *stop = memmem(p, (size_t)(end - p), "</test>", 7);
		const char *id = memmem(p, (size_t)(end - p), "id=\"", 4);
		int idnum = id != NULL ? atoi(id + 4) : -1;

		if (stop == NULL) {
			CHECK(!"corpus <test> element closed");
			break;
		}
		if (xml_element(p, stop, "address", &addr) < 0 ||
		    xml_element(p, stop, "category", &category) < 0 ||
		    xml_element(p, stop, "diagnosis", &diagnosis) < 0) {
			fprintf(stderr, "test_addr: %s: test %d: missing element\n", file, idnum);
			CHECK(!"corpus test has address, category and diagnosis");
			p = stop;
			continue;
		}
		cases++;

		enum expect e = expectation_for(category.data, diagnosis.data, addr.data, addr.len);

		if (e == UNDECIDED) {
			fprintf(stderr, "test_addr: %s: test %d: no decision for %s / %s\n", file,
				idnum, category.data, diagnosis.data);
			CHECK(!"every corpus diagnosis has a decision");
		}
		for (int flags = 0; flags <= ALL_FLAGS; flags++) {
			const char *why = NULL;
			int utf8 = -1;
			int got = addr_check(addr.data, addr.len, flags, &why, &utf8) == 0;
			int want = expected_ok(e, flags);

			CHECK_INT_EQ(got, want);
			if (got != want) {
				fprintf(stderr, "  %s test %d (%s) flags=%d: ", file, idnum,
					diagnosis.data, flags);
				print_escaped(stderr, addr.data, addr.len);
				fprintf(stderr, " %s%s\n",
					got ? "accepted" : "refused: ", got ? "" : why);
			}
			if (got) {
				CHECK_INT_EQ(utf8, 0); /* the corpus is all ASCII when valid */
				check_accepted_invariants(addr.data, addr.len, flags);
			} else {
				CHECK(why != NULL && *why != '\0');
			}
			if (flags == ALL_FLAGS) {
				if (got)
					stats->accepted++;
				else
					stats->rejected++;
			}
		}
		p = stop;
	}
	stats->cases += cases;
	buf_free(&xml);
	buf_free(&addr);
	buf_free(&category);
	buf_free(&diagnosis);
	return cases;
}

static void
test_corpus(void)
{
	struct corpus_stats stats = {0, 0, 0};
	int n_new = run_isemail_file("isemail-tests.xml", &stats);
	int n_orig = run_isemail_file("isemail-tests-original.xml", &stats);

	/* Exact counts from the corpus README: a parser that silently finds
	 * fewer cases must not look like a pass. */
	CHECK_INT_EQ(n_new, 164);
	CHECK_INT_EQ(n_orig, 279);
	printf("addr: isemail corpus: %d cases (%d + %d) x 4 flag sets; with all flags "
	       "%d accepted, %d refused\n",
	       stats.cases, n_new, n_orig, stats.accepted, stats.rejected);
}

/* ---- hand-written cases ------------------------------------------------ */

/* expect_ok: 1 accepted, 0 refused; reason: the exact refusal, or NULL. */
static void
expect_check(const char *s, size_t len, int flags, int expect_ok, const char *reason, int line)
{
	const char *why = NULL;
	int utf8 = -1;
	int got = addr_check(s, len, flags, &why, &utf8) == 0;

	CHECK_INT_EQ(got, expect_ok);
	if (got != expect_ok) {
		fprintf(stderr, "  line %d: ", line);
		print_escaped(stderr, s, len);
		fprintf(stderr, " flags=%d %s%s\n", flags,
			got ? "accepted" : "refused: ", got ? "" : why);
	}
	if (!got) {
		CHECK(why != NULL && *why != '\0');
		if (reason != NULL && why != NULL && strcmp(reason, why) != 0) {
			CHECK_STR_EQ(why, reason);
			fprintf(stderr, "  line %d\n", line);
		}
	} else {
		CHECK(utf8 == 0 || utf8 == 1);
		check_accepted_invariants(s, len, flags);
	}
}

#define OK(s, flags) expect_check((s), strlen(s), (flags), 1, NULL, __LINE__)
#define BAD(s, flags, reason) expect_check((s), strlen(s), (flags), 0, (reason), __LINE__)
#define BADN(s, flags, reason) expect_check((s), sizeof(s) - 1, (flags), 0, (reason), __LINE__)

static void
test_basic(void)
{
	OK("jane@example.org", 0);
	OK("jane.doe+tag@mail.example.org", 0);
	OK("!#$%&'*+-/=?^_`{|}~@example.org", 0);
	OK("a@b.c", 0);
	OK("a@123.b", 0);
	OK("a@b.c-d", 0);
	OK("a@xn--bcher-kva.example", 0);
	OK("a@b.x1", 0);
	BAD("", 0, "empty address");
	BAD("jane", 0, "missing @");
	BAD("jane.example.org", 0, "missing @");
	BAD("@b.c", 0, "empty local part");
	BAD("a@", 0, "empty domain");
	BAD("a@b@c.d", 0, "more than one @");
	BAD("a@@b.c", 0, "more than one @");
	BAD(".a@b.c", 0, "local part starts with a dot");
	BAD("a.@b.c", 0, "local part ends with a dot");
	BAD("a..b@b.c", 0, "two dots in a row in local part");
	BAD("a@b..c", 0, "two dots in a row in domain");
	BAD("a@.b.c", 0, "domain starts with a dot");
	BAD("a@b.c.", 0, "domain ends with a dot");
	BAD("a@-b.c", 0, "domain label starts with a hyphen");
	BAD("a@b-.c", 0, "domain label ends with a hyphen");
	BAD("a@b.c-", 0, "domain label ends with a hyphen");
	BAD("a@b_c.d", 0, "invalid character in domain");
	BAD("a@b/c.d", 0, "invalid character in domain");
	BAD("a b@c.d", 0, "space outside quotes");
	BAD(" a@b.c", 0, "space outside quotes");
	BAD("a@b.c ", 0, "space outside quotes");
	BAD("a@b .c", 0, "space outside quotes");
	BAD("(x)a@b.c", 0, "comments are not allowed in an envelope address");
	BAD("a@b.c(x)", 0, "comments are not allowed in an envelope address");
	BAD("<a@b.c>", 0, "angle bracket in address (give the bare address)");
	BAD("a@b.c,d@e.f", 0, "more than one @");
	BAD("a,d@e.f", 0, "invalid character in local part");
	BAD("a@e,f.g", 0, "invalid character in domain");
	BAD("a\\@b@c.d", 0, "backslash outside quotes");
	BAD("a\"b\"@c.d", 0, "quote inside an unquoted local part");
	BAD("[a]@b.c", 0, "invalid character in local part");
	/* Dotless and numeric domains. */
	BAD("a@localhost", 0, "domain has no dot");
	OK("a@localhost", ADDR_ALLOW_NODOT);
	BAD("a@b.123", 0, "top-level domain is all-numeric");
	BAD("a@1.2.3.4", ALL_FLAGS, "top-level domain is all-numeric");
	BAD("a@123", ADDR_ALLOW_NODOT, "top-level domain is all-numeric");
	/* Case does not matter to validity. */
	OK("JANE@EXAMPLE.ORG", 0);
	/* why and needs_utf8 may be NULL. */
	CHECK_INT_EQ(addr_check("a@b", 3, 0, NULL, NULL), -1);
	CHECK_INT_EQ(addr_check("a@b.c", 5, 0, NULL, NULL), 0);
	CHECK_INT_EQ(addr_check(NULL, 0, 0, NULL, NULL), -1);
	/* The length is what counts, not a terminator. */
	CHECK_INT_EQ(addr_check("a@b.cX", 5, 0, NULL, NULL), 0);
	CHECK_INT_EQ(addr_check("a@b.c", 4, 0, NULL, NULL), -1);
}

static void
test_quoted(void)
{
	OK("\"jane doe\"@example.org", 0);
	OK("\"\"@example.org", 0);
	OK("\"a@b\"@example.org", 0);
	OK("\"a\\\"b\"@example.org", 0);
	OK("\"a\\\\b\"@example.org", 0);
	OK("\"a\\ b\"@example.org", 0);
	OK("\"(not a comment)\"@example.org", 0);
	OK("\"a..b.\"@example.org", 0);
	BAD("\"jane@example.org", 0, "unterminated quoted string");
	BAD("\"jane\\\"@example.org", 0, "unterminated quoted string");
	BAD("\"jane\\", 0, "unterminated quoted string");
	BAD("\"a\"b@example.org", 0, "text after quoted string");
	BAD("\"a\".b@example.org", 0, "quoted string mixed with dot-atom (obsolete syntax)");
	BAD("a.\"b\"@example.org", 0, "quote inside an unquoted local part");
	BAD("\"a\"", 0, "missing @");
	BAD("\"a\tb\"@example.org", 0, "control character in address");
	BAD("\"a\\\tb\"@example.org", 0, "control character in address");
	BAD("\"a\\\x7f\"@example.org", 0, "control character in address");
	BAD("\"\xc3\xa9\"@example.org", 0, "non-ASCII character in quoted string");
	BAD("\"\\\xc3\xa9\"@example.org", 0, "non-ASCII character in quoted string");
	/* A quoted local part counts its quotes toward the 64 octets. */
	char q[80];
	memset(q, 'a', sizeof q);
	q[0] = '"';
	q[63] = '"';
	memcpy(q + 64, "@b.c", 5);
	OK(q, 0);
	q[63] = 'a';
	q[64] = '"';
	memcpy(q + 65, "@b.c", 5);
	BAD(q, 0, "local part longer than 64 octets");
}

static void
test_hostile(void)
{
	/* 10 KB of address. */
	size_t big = 10 * 1024;
	char *s = malloc(big + 1);

	CHECK(s != NULL);
	if (s == NULL)
		return;
	memset(s, 'a', big);
	memcpy(s + big - 12, "@example.org", 12);
	s[big] = '\0';
	BAD(s, ALL_FLAGS, "address longer than 254 octets");
	memset(s, 'a', big);
	s[big - 1] = ']';
	memcpy(s, "a@[IPv6:", 8);
	BAD(s, ALL_FLAGS, "address longer than 254 octets");
	free(s);

	/* Embedded NUL: neither a terminator nor accepted. */
	BADN("a\0b@example.org", 0, "NUL byte in address");
	BADN("ab@example.org\0", 0, "NUL byte in address");
	BADN("\"a\0b\"@example.org", 0, "NUL byte in address");
	/* Header injection through the envelope. */
	BAD("a@b.c\r\nBcc: x@y.z", ALL_FLAGS, "line break in address");
	BAD("a@b.c\nRCPT TO:<x@y.z>", ALL_FLAGS, "line break in address");
	BAD("\"a\r\nb\"@b.c", ALL_FLAGS, "line break in address");
	BAD("a@b.c\r", 0, "line break in address");
	BAD("a\x1b[2J@b.c", 0, "control character in address");
	BAD("a\x7f@b.c", 0, "control character in address");
	BAD("a@b.c\t", 0, "control character in address");

	/* UTF-8 (RFC 6531). */
	const char *why = NULL;
	int utf8 = 0;
	CHECK_INT_EQ(addr_check("j\xc3\xbcrgen@m\xc3\xbcller.de", 18, 0, &why, &utf8), 0);
	CHECK_INT_EQ(utf8, 1);
	CHECK_INT_EQ(addr_check("jane@example.org", 16, 0, &why, &utf8), 0);
	CHECK_INT_EQ(utf8, 0);
	OK("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a", 0);
	OK("\xf0\x9f\x98\x80@example.org", 0);
	OK("a@\xf4\x8f\xbf\xbf.example", 0);
	BAD("\xc0\xaf@example.org", 0, "invalid UTF-8");	 /* overlong '/' */
	BAD("\xc1\x81@example.org", 0, "invalid UTF-8");	 /* overlong 'A' */
	BAD("\xe0\x80\xaf@example.org", 0, "invalid UTF-8");	 /* overlong, 3 bytes */
	BAD("\xf0\x80\x80\xaf@example.org", 0, "invalid UTF-8"); /* overlong, 4 bytes */
	BAD("\xf0\x8f\xbf\xbf@example.org", 0, "invalid UTF-8"); /* overlong U+FFFF */
	BAD("\xed\xa0\x80@example.org", 0, "invalid UTF-8");	 /* surrogate */
	BAD("\xf4\x90\x80\x80@example.org", 0, "invalid UTF-8"); /* > U+10FFFF */
	BAD("\xf5\x80\x80\x80@example.org", 0, "invalid UTF-8");
	BAD("\xff@example.org", 0, "invalid UTF-8");
	BAD("\x80@example.org", 0, "invalid UTF-8"); /* lone continuation */
	BAD("a\xbf\xbf@example.org", 0, "invalid UTF-8");
	BAD("a@example.org\xc3", 0, "invalid UTF-8"); /* truncated at end */
	BAD("a@example.or\xe2\x82", 0, "invalid UTF-8");
	BAD("\xc3@example.org", 0, "invalid UTF-8");			 /* '@' as continuation */
	BAD("a@exa\xc2\x85mple.org", 0, "control character in address"); /* C1 NEL */
	BAD("a@b.c\xc2\xa0", 0, "non-ASCII space in address");		 /* pasted NBSP */
	BAD("\xe2\x80\x8bjane@b.c", 0, "non-ASCII space in address");	 /* zero-width space */
	BAD("jane@b.c\xef\xbb\xbf", 0, "non-ASCII space in address");	 /* BOM */
	BAD("jane\xe3\x80\x80"
	    "doe@b.c",
	    0, "non-ASCII space in address"); /* ideographic space */
	OK("jane\xc2\xa1@b.c", 0);	      /* U+00A1, first after C1 */
	BAD("a@\xc3\xa9-.org", 0, "domain label ends with a hyphen");
	OK("a@1.\xd9\xa1\xd9\xa2", 0); /* Arabic-Indic digits: not an all-numeric TLD to us */
}

static void
test_lengths(void)
{
	char s[600];
	char label[70];

	/* Local part: 64 octets accepted, 65 refused. */
	memset(s, 'l', 64);
	strcpy(s + 64, "@b.c");
	OK(s, 0);
	memset(s, 'l', 65);
	strcpy(s + 65, "@b.c");
	BAD(s, 0, "local part longer than 64 octets");
	/* UTF-8 counts in octets: 32 two-byte characters fit, 33 do not. */
	for (int i = 0; i < 32; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	strcpy(s + 64, "@b.c");
	OK(s, 0);
	for (int i = 0; i < 33; i++)
		memcpy(s + 2 * i, "\xc3\xa9", 2);
	strcpy(s + 66, "@b.c");
	BAD(s, 0, "local part longer than 64 octets");

	/* Labels: 63 accepted, 64 refused, wherever they are. */
	memset(label, 'd', 63);
	label[63] = '\0';
	snprintf(s, sizeof s, "a@%s.com", label);
	OK(s, 0);
	snprintf(s, sizeof s, "a@x.%s", label);
	OK(s, 0);
	memset(label, 'd', 64);
	label[64] = '\0';
	snprintf(s, sizeof s, "a@%s.com", label);
	BAD(s, 0, "domain label longer than 63 octets");
	snprintf(s, sizeof s, "a@x.%s", label);
	BAD(s, 0, "domain label longer than 63 octets");

	/* Whole address: 254 octets accepted, 255 refused; a 255+ domain is
	 * refused whatever the local part. */
	memset(label, 'd', 63);
	label[63] = '\0';
	snprintf(s, sizeof s, "a@%s.%s.%s.%.*s", label, label, label, 60, label);
	CHECK_INT_EQ(strlen(s), 254);
	OK(s, 0);
	snprintf(s, sizeof s, "ab@%s.%s.%s.%.*s", label, label, label, 60, label);
	CHECK_INT_EQ(strlen(s), 255);
	BAD(s, 0, "address longer than 254 octets");
	snprintf(s, sizeof s, "a@%s.%s.%s.%s.com", label, label, label, label);
	BAD(s, 0, "address longer than 254 octets");
	/* 128 one-letter labels: 255-octet domain. */
	strcpy(s, "a@");
	for (int i = 0; i < 127; i++)
		strcat(s, "b.");
	strcat(s, "c");
	BAD(s, 0, "address longer than 254 octets");
}

static void
test_literals(void)
{
	const int L = ADDR_ALLOW_LITERAL;

	BAD("a@[192.0.2.1]", 0, "address literals are not allowed");
	BAD("a@[192.0.2.1]", ADDR_ALLOW_NODOT, "address literals are not allowed");
	OK("a@[192.0.2.1]", L);
	OK("a@[0.0.0.0]", L);
	OK("a@[255.255.255.255]", L);
	BAD("a@[256.0.0.1]", L, "invalid IPv4 address literal");
	BAD("a@[1.2.3]", L, "invalid IPv4 address literal");
	BAD("a@[1.2.3.4.5]", L, "invalid IPv4 address literal");
	BAD("a@[1.2.3.]", L, "invalid IPv4 address literal");
	BAD("a@[1..2.3]", L, "invalid IPv4 address literal");
	BAD("a@[1234.2.3.4]", L, "invalid IPv4 address literal");
	BAD("a@[1.2.3.4 ]", L, "invalid IPv4 address literal");
	BAD("a@[1.2.3.4", L, "unterminated address literal");
	BAD("a@[1.2.3.4]x", L, "text after address literal");
	BAD("a@[1.2.3.4]]", L, "text after address literal");
	BAD("a@[]", L, "invalid address literal");
	BAD("a@[", L, "unterminated address literal");
	BAD("a@[example.org]", L, "invalid address literal");
	BAD("a@[x-tag:foo]", L, "unsupported address literal tag");
	BAD("a@[1111:2222:3333:4444:5555:6666:7777:8888]", L, NULL);
	BAD("a@x[1.2.3.4]", L, "invalid character in domain");

	OK("a@[IPv6:2001:db8:0:0:0:0:0:1]", L);
	OK("a@[IPv6:2001:db8::1]", L);
	OK("a@[ipv6:2001:DB8::1]", L);
	OK("a@[IPv6:::]", L);
	OK("a@[IPv6:::1]", L);
	OK("a@[IPv6:1::]", L);
	OK("a@[IPv6:1:2:3:4:5:6::]", L);
	OK("a@[IPv6:::3:4:5:6:7:8]", L);
	OK("a@[IPv6:1:2:3::6:7:8]", L);
	OK("a@[IPv6:::ffff:192.0.2.1]", L);
	OK("a@[IPv6:::192.0.2.1]", L);
	OK("a@[IPv6:1:2:3:4:5:6:192.0.2.1]", L);
	OK("a@[IPv6:1:2:3:4::192.0.2.1]", L);
	OK("a@[IPv6:1::2:3:4:192.0.2.1]", L);
	OK("a@[IPv6:ffff:FFFF:0:00:000:0000:1:2]", L);
	BAD("a@[IPv6:2001:db8::1]", 0, "address literals are not allowed");
	BAD("a@[IPv6:]", L, "too few groups in IPv6 literal");
	BAD("a@[IPv6:1:2:3:4:5:6:7]", L, "too few groups in IPv6 literal");
	BAD("a@[IPv6:1:2:3:4:5:6:7:8:9]", L, "too many groups in IPv6 literal");
	BAD("a@[IPv6:1:2:3:4:5:6:7::]", L, "too many groups in IPv6 literal");
	BAD("a@[IPv6:::2:3:4:5:6:7:8]", L, "too many groups in IPv6 literal");
	BAD("a@[IPv6:1:2:3:4:5:6::8]", L, "too many groups in IPv6 literal");
	BAD("a@[IPv6:1:2:3:4:5::192.0.2.1]", L, "too many groups in IPv6 literal");
	BAD("a@[IPv6:1:2:3:4:5:192.0.2.1]", L, "too few groups in IPv6 literal");
	BAD("a@[IPv6:1:2:3:4:5:6:7:192.0.2.1]", L, "too many groups in IPv6 literal");
	BAD("a@[IPv6:192.0.2.1]", L, "too few groups in IPv6 literal");
	BAD("a@[IPv6:192.0.2.1::]", L, "IPv4 part not at the end of IPv6 literal");
	BAD("a@[IPv6:::192.0.2]", L, "invalid IPv4 part in IPv6 literal");
	BAD("a@[IPv6:::256.0.2.1]", L, "invalid IPv4 part in IPv6 literal");
	BAD("a@[IPv6:::1.2.3.4.5]", L, "invalid IPv4 part in IPv6 literal");
	BAD("a@[IPv6:::b1.2.3.4]", L, "invalid IPv4 part in IPv6 literal");
	BAD("a@[IPv6::1]", L, "IPv6 literal starts with a single colon");
	BAD("a@[IPv6::]", L, "IPv6 literal starts with a single colon");
	BAD("a@[IPv6:1:]", L, "IPv6 literal ends with a single colon");
	BAD("a@[IPv6:1::2:]", L, "IPv6 literal ends with a single colon");
	BAD("a@[IPv6::::]", L, "three colons in a row in IPv6 literal");
	BAD("a@[IPv6:1:::2]", L, "three colons in a row in IPv6 literal");
	BAD("a@[IPv6:1::2::3]", L, "more than one :: in IPv6 literal");
	BAD("a@[IPv6:::1::]", L, "more than one :: in IPv6 literal");
	BAD("a@[IPv6:12345::]", L, "IPv6 group longer than 4 hex digits");
	BAD("a@[IPv6:g::]", L, "invalid character in IPv6 literal");
	BAD("a@[IPv6:1:2:3:4:5:6:7:8 ]", L, "invalid character in IPv6 literal");
	BAD("a@[IPv6:\xc3\xa9::]", L, "invalid character in IPv6 literal");
	BAD("a@[IPv6 ::1]", L, "unsupported address literal tag");
	BAD("a@[IPv4:1.2.3.4]", L, "unsupported address literal tag");
}

static void
test_normalize(void)
{
	static const struct {
		const char *in;
		int fold;
		const char *out;
	} cases[] = {
	    {"Jane.Doe@Example.ORG", 1, "jane.doe@example.org"},
	    {"Jane.Doe@Example.ORG", 0, "Jane.Doe@example.org"},
	    {"\"Jane Doe\"@Example.org", 0, "\"Jane Doe\"@example.org"},
	    {"\"Jane Doe\"@Example.org", 1, "\"jane doe\"@example.org"},
	    {"\"A@B\"@X.ORG", 0, "\"A@B\"@x.org"},
	    {"\"A\\\"B\"@X.ORG", 1, "\"a\\\"b\"@x.org"},
	    {"J\xc3\x9cRGEN@M\xc3\x9cLLER.DE", 1, "j\xc3\x9crgen@m\xc3\x9cller.de"},
	    {"Jane@[IPv6:ABCD::1]", 0, "Jane@[ipv6:abcd::1]"},
	    {"Jane@[192.0.2.1]", 1, "jane@[192.0.2.1]"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf out = BUF_INIT;

		addr_normalize(cases[i].in, strlen(cases[i].in), cases[i].fold, &out);
		CHECK_STR_EQ(buf_cstr(&out), cases[i].out);
		CHECK_INT_EQ(addr_check(out.data, out.len, ADDR_ALLOW_LITERAL, NULL, NULL), 0);
		buf_free(&out);
	}

	/* It appends. */
	struct buf out = BUF_INIT;
	buf_append_str(&out, "key=");
	addr_normalize("A@B.C", 5, 1, &out);
	CHECK_STR_EQ(buf_cstr(&out), "key=a@b.c");
	/* Empty input: nothing appended, nothing broken. */
	addr_normalize("", 0, 1, &out);
	CHECK_STR_EQ(buf_cstr(&out), "key=a@b.c");
	buf_free(&out);
}

static void
expect_split(const char *in, int expect_ok, const char *want_name, const char *want_addr,
	     const char *reason)
{
	struct buf name = BUF_INIT, address = BUF_INIT;
	const char *why = NULL;

	/* Pre-filled buffers show that results replace, not append. */
	buf_append_str(&name, "stale");
	buf_append_str(&address, "stale");
	int rc = addr_split_mailbox(in, strlen(in), &name, &address, &why);

	CHECK_INT_EQ(rc, expect_ok ? 0 : -1);
	if (expect_ok && rc == 0) {
		CHECK_STR_EQ(buf_cstr(&name), want_name);
		CHECK_STR_EQ(buf_cstr(&address), want_addr);
	} else if (rc != 0) {
		CHECK_INT_EQ(name.len, 0);
		CHECK_INT_EQ(address.len, 0);
		if (reason != NULL)
			CHECK_STR_EQ(why, reason);
	}
	if ((rc == 0) != expect_ok)
		fprintf(stderr, "  split \"%s\": rc=%d why=%s\n", in, rc, rc ? why : "-");
	buf_free(&name);
	buf_free(&address);
}

static void
test_split(void)
{
	expect_split("Jane Doe <jane@x.org>", 1, "Jane Doe", "jane@x.org", NULL);
	expect_split("\"Doe, Jane\" <jane@x.org>", 1, "Doe, Jane", "jane@x.org", NULL);
	expect_split("\"Doe \\\"JD\\\" Jane\" <jane@x.org>", 1, "Doe \"JD\" Jane", "jane@x.org",
		     NULL);
	expect_split("\"a\\\\b\" <jane@x.org>", 1, "a\\b", "jane@x.org", NULL);
	expect_split("<jane@x.org>", 1, "", "jane@x.org", NULL);
	expect_split("jane@x.org", 1, "", "jane@x.org", NULL);
	expect_split("  \t Jane   Doe \t <jane@x.org>  ", 1, "Jane   Doe", "jane@x.org", NULL);
	expect_split("  jane@x.org\t", 1, "", "jane@x.org", NULL);
	expect_split("Jane<jane@x.org>", 1, "Jane", "jane@x.org", NULL);
	expect_split("< jane@x.org >", 1, "", "jane@x.org", NULL);
	expect_split("J\xc3\xbcrgen M\xc3\xbcller <j@x.de>", 1, "J\xc3\xbcrgen M\xc3\xbcller",
		     "j@x.de", NULL);
	expect_split("\"a <b> c\" <\"x>y\"@x.org>", 1, "a <b> c", "\"x>y\"@x.org", NULL);
	expect_split("\"Doe, Jane\" Jr. <jane@x.org>", 1, "Doe, Jane Jr.", "jane@x.org", NULL);
	expect_split("\"jane doe\"@x.org", 1, "", "\"jane doe\"@x.org", NULL);
	expect_split("\"\" <jane@x.org>", 1, "", "jane@x.org", NULL);

	expect_split("", 0, NULL, NULL, "empty address");
	expect_split(" \t ", 0, NULL, NULL, "empty address");
	expect_split("Jane <>", 0, NULL, NULL, "empty address");
	expect_split("Jane < >", 0, NULL, NULL, "empty address");
	expect_split("Jane <jane@x.org", 0, NULL, NULL, "'<' without '>'");
	expect_split("Jane jane@x.org>", 0, NULL, NULL, "'>' without '<'");
	expect_split("jane@x.org>", 0, NULL, NULL, "'>' without '<'");
	expect_split("Jane <jane@x.org> x", 0, NULL, NULL, "text after '>'");
	expect_split("<a@b.c> <d@e.f>", 0, NULL, NULL, "text after '>'");
	expect_split("<<a@b.c>>", 0, NULL, NULL, "nested '<'");
	expect_split("\"Jane <jane@x.org>", 0, NULL, NULL, "unterminated quoted string");
	expect_split("\"jane@x.org", 0, NULL, NULL, "unterminated quoted string");
	expect_split("Jane <\"jane@x.org>", 0, NULL, NULL, "unterminated quoted string");
	expect_split("\"Jane\\\" <jane@x.org>", 0, NULL, NULL, "unterminated quoted string");
	expect_split("Jane\r\nBcc: x@y.z <a@b.c>", 0, NULL, NULL,
		     "control character in display name");
	expect_split("\"Jane\x01\" <a@b.c>", 0, NULL, NULL, "control character in display name");

	/* What the split does not refuse, addr_check does. */
	struct buf name = BUF_INIT, address = BUF_INIT;
	const char *why = NULL;
	const char *in = "Jane <a@b.c\r\n>";

	CHECK_INT_EQ(addr_split_mailbox(in, strlen(in), &name, &address, &why), 0);
	CHECK_INT_EQ(addr_check(address.data, address.len, 0, &why, NULL), -1);
	CHECK_STR_EQ(why, "line break in address");
	in = "Jane Doe jane@x.org";
	CHECK_INT_EQ(addr_split_mailbox(in, strlen(in), &name, &address, &why), 0);
	CHECK_INT_EQ(addr_check(address.data, address.len, 0, &why, NULL), -1);
	/* Embedded NUL survives as data and is refused by the check. */
	CHECK_INT_EQ(addr_split_mailbox("<a\0b@c.d>", 9, &name, &address, &why), 0);
	CHECK_INT_EQ(address.len, 7);
	CHECK_INT_EQ(addr_check(address.data, address.len, 0, &why, NULL), -1);
	buf_free(&name);
	buf_free(&address);
}

int
main(void)
{
	test_corpus();
	test_basic();
	test_quoted();
	test_hostile();
	test_lengths();
	test_literals();
	test_normalize();
	test_split();
	return check_report("addr");
}
