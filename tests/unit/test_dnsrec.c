/*
 * test_dnsrec - the record parsers of lib/dnsrec.c (DKIM, DMARC, SPF,
 * tag-lists, base64, zone lines, organizational domains), the DNS
 * answer parser of lib/dnsq.c, and the escaping of lib/checktable.c,
 * with well-formed and hostile input.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "checktable.h"
#include "dnsq.h"
#include "dnsrec.h"

static int
tags_ok(const char *s)
{
	struct dnsrec_tags t;
	const char *why = NULL;
	return dnsrec_tags_parse(s, strlen(s), &t, &why) == 0;
}

static const char *
tags_why(const char *s)
{
	struct dnsrec_tags t;
	const char *why = "";
	if (dnsrec_tags_parse(s, strlen(s), &t, &why) == 0)
		return "ok";
	return why;
}

static void
test_tags(void)
{
	struct dnsrec_tags t;
	const char *why;
	const char *rec = " v = DKIM1 ;k=rsa;\r\n\tp=AB CD\t; ";
	CHECK_INT_EQ(dnsrec_tags_parse(rec, strlen(rec), &t, &why), 0);
	CHECK_INT_EQ(t.count, 3);
	const struct dnsrec_str *p = dnsrec_tag_get(&t, "p");
	CHECK(p != NULL && p->len == 5 && memcmp(p->p, "AB CD", 5) == 0);
	const struct dnsrec_str *v = dnsrec_tag_get(&t, "v");
	CHECK(v != NULL && v->len == 5 && memcmp(v->p, "DKIM1", 5) == 0);
	CHECK(dnsrec_tag_get(&t, "x") == NULL);
	CHECK(tags_ok("a=b"));
	CHECK(tags_ok("a="));   /* empty value */
	CHECK(tags_ok("a_1=b;")); /* one final ';' */
	CHECK_STR_EQ(tags_why(""), "empty record");
	CHECK_STR_EQ(tags_why("  \t"), "empty record");
	CHECK_STR_EQ(tags_why(";"), "empty tag (\";\" twice)");
	CHECK_STR_EQ(tags_why("a=b;;c=d"), "empty tag (\";\" twice)");
	CHECK_STR_EQ(tags_why("1a=b"), "a tag name must start with a letter");
	CHECK_STR_EQ(tags_why("a"), "missing \"=\" after a tag name");
	CHECK_STR_EQ(tags_why("a b=c"), "bad character in a tag name");
	CHECK_STR_EQ(tags_why("a-b=c"), "bad character in a tag name");
	CHECK_STR_EQ(tags_why("a=b;a=c"), "duplicate tag");
	CHECK_STR_EQ(tags_why("a=b\001"), "control or non-ASCII character in a tag value");
	CHECK_STR_EQ(tags_why("a=\xc3\xa9"), "control or non-ASCII character in a tag value");
	char nul[] = "a=b\0c";
	CHECK_INT_EQ(dnsrec_tags_parse(nul, 5, &t, &why), -1);
	/* at most DNSREC_MAX_TAGS */
	struct buf many = BUF_INIT;
	for (int i = 0; i < DNSREC_MAX_TAGS; i++)
		buf_printf(&many, "t%d=x;", i);
	CHECK_INT_EQ(dnsrec_tags_parse(many.data, many.len, &t, &why), 0);
	buf_append_str(&many, "last=1");
	CHECK_INT_EQ(dnsrec_tags_parse(many.data, many.len, &t, &why), -1);
	CHECK_STR_EQ(why, "too many tags");
	buf_free(&many);
}

static int
b64(const char *in, const char *want, size_t want_len)
{
	struct buf out = BUF_INIT;
	int rc = dnsrec_base64_decode(in, strlen(in), &out);
	int ok = want == NULL ? rc == -1
			      : rc == 0 && out.len == want_len &&
				       (want_len == 0 || memcmp(out.data, want, want_len) == 0);
	buf_free(&out);
	return ok;
}

static void
test_base64(void)
{
	CHECK(b64("", "", 0));
	CHECK(b64("QQ==", "A", 1));
	CHECK(b64("QUI=", "AB", 2));
	CHECK(b64("QUJD", "ABC", 3));
	CHECK(b64(" QU\r\n JD\t", "ABC", 3));
	CHECK(b64("AAEC/w==", "\x00\x01\x02\xff", 4));
	CHECK(b64("QUJ", NULL, 0));	 /* not a multiple of 4 */
	CHECK(b64("Q===", NULL, 0));	 /* three '=' */
	CHECK(b64("QQ==QUJD", NULL, 0)); /* data after padding */
	CHECK(b64("Q=Q=", NULL, 0));
	CHECK(b64("QU-D", NULL, 0)); /* not the alphabet */
	CHECK(b64("====", NULL, 0));
}

static void
test_dkim(void)
{
	struct dnsrec_dkim d;
	const char *why;
	const char *rec = "v=DKIM1; k=rsa; h=sha1:sha256; s=email; p=QUJD";
	CHECK_INT_EQ(dnsrec_dkim_parse(rec, strlen(rec), &d, &why), 0);
	CHECK_INT_EQ(d.key_type, DNSREC_KEY_RSA);
	CHECK(d.sha256_ok && d.email_ok && !d.testing && !d.revoked);
	CHECK(d.key.len == 3 && memcmp(d.key.data, "ABC", 3) == 0);
	buf_free(&d.key);

	rec = "k=ed25519; t=y:s; p=";
	CHECK_INT_EQ(dnsrec_dkim_parse(rec, strlen(rec), &d, &why), 0);
	CHECK(d.key_type == DNSREC_KEY_ED25519 && d.revoked && d.testing);
	buf_free(&d.key);

	rec = "p=QUJD; h=sha1; s=tlsrpt; k=dsa";
	CHECK_INT_EQ(dnsrec_dkim_parse(rec, strlen(rec), &d, &why), 0);
	CHECK(!d.sha256_ok && !d.email_ok && d.key_type == DNSREC_KEY_OTHER);
	buf_free(&d.key);

	rec = "p=QUJD; v=DKIM1";
	CHECK_INT_EQ(dnsrec_dkim_parse(rec, strlen(rec), &d, &why), -1);
	CHECK_STR_EQ(why, "v= is not the first tag");
	rec = "v=DKIM2; p=QUJD";
	CHECK_INT_EQ(dnsrec_dkim_parse(rec, strlen(rec), &d, &why), -1);
	CHECK_STR_EQ(why, "v= is not DKIM1");
	rec = "v=DKIM1; k=rsa";
	CHECK_INT_EQ(dnsrec_dkim_parse(rec, strlen(rec), &d, &why), -1);
	CHECK_STR_EQ(why, "no p= tag (public key)");
	rec = "v=DKIM1; p=@@@";
	CHECK_INT_EQ(dnsrec_dkim_parse(rec, strlen(rec), &d, &why), -1);
	CHECK_STR_EQ(why, "p= is not base64");
	CHECK_INT_EQ(d.key.len, 0);
	rec = "v=DKIM1; k=ed25519; p=@@@; 1x=";
	CHECK_INT_EQ(dnsrec_dkim_parse(rec, strlen(rec), &d, &why), -1);
	CHECK_STR_EQ(why, "a tag name must start with a letter");
}

static void
test_dmarc(void)
{
	struct dnsrec_dmarc m;
	const char *why;
	const char *rec = "v=DMARC1; p=Reject; sp=none; adkim=s; aspf=r; pct=50; rua=mailto:a@b";
	CHECK(dnsrec_is_dmarc(rec, strlen(rec)));
	CHECK_INT_EQ(dnsrec_dmarc_parse(rec, strlen(rec), &m, &why), 0);
	CHECK(m.p == DNSREC_P_REJECT && m.has_sp && m.sp == DNSREC_P_NONE);
	CHECK(m.strict_dkim && !m.strict_spf && m.pct == 50);
	CHECK(m.rua.len == 10 && memcmp(m.rua.p, "mailto:a@b", 10) == 0);
	rec = "v=DMARC1;p=quarantine";
	CHECK_INT_EQ(dnsrec_dmarc_parse(rec, strlen(rec), &m, &why), 0);
	CHECK(m.p == DNSREC_P_QUARANTINE && m.pct == 100 && !m.has_sp && m.rua.len == 0);
	CHECK_STR_EQ(dnsrec_policy_name(m.p), "quarantine");

	CHECK(dnsrec_is_dmarc(" v = DMARC1", 11));
	CHECK(!dnsrec_is_dmarc("v=DMARC10", 9));
	CHECK(!dnsrec_is_dmarc("v=dmarc1", 8));
	CHECK(!dnsrec_is_dmarc("x=1; v=DMARC1", 13));
	CHECK(!dnsrec_is_dmarc("", 0));

	static const struct {
		const char *rec, *why;
	} bad[] = {
	    {"v=DMARC1", "no p= tag (policy)"},
	    {"v=DMARC1; p=maybe", "p= is not none, quarantine or reject"},
	    {"v=DMARC1; p=none; sp=x", "sp= is not none, quarantine or reject"},
	    {"v=DMARC1; p=none; adkim=q", "adkim= is not r or s"},
	    {"v=DMARC1; p=none; aspf=", "aspf= is not r or s"},
	    {"v=DMARC1; p=none; pct=101", "pct= is not a number from 0 to 100"},
	    {"v=DMARC1; p=none; pct=-1", "pct= is not a number from 0 to 100"},
	    {"v=DMARC1; p=none; pct=1000", "pct= is not a number from 0 to 100"},
	    {"p=none; v=DMARC1", "the first tag is not v=DMARC1"},
	    {"v=DMARC1; p=none;; x=1", "empty tag (\";\" twice)"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = "";
		CHECK_INT_EQ(dnsrec_dmarc_parse(bad[i].rec, strlen(bad[i].rec), &m, &why), -1);
		CHECK_STR_EQ(why, bad[i].why);
	}
}

static const char *
spf_why(const char *rec)
{
	static struct dnsrec_spf s;
	const char *why = "";
	return dnsrec_spf_parse(rec, strlen(rec), &s, &why) == 0 ? "ok" : why;
}

static void
test_spf(void)
{
	struct dnsrec_spf s;
	const char *why;
	const char *rec = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx/24 a:x.example//64 "
			  "include:_spf.example.net ptr exists:%{i}._spf.%{d} ~all "
			  "redirect=r.example exp=e.example foo=bar";
	CHECK_INT_EQ(dnsrec_spf_parse(rec, strlen(rec), &s, &why), 0);
	CHECK_INT_EQ(s.count, 12);
	CHECK_INT_EQ(s.lookups, 7); /* a, mx, a:, include, ptr, exists, redirect */
	CHECK_INT_EQ(s.term[0].kind, SPF_IP4);
	CHECK_INT_EQ(s.term[5].kind, SPF_INCLUDE);
	CHECK(s.term[5].arg.len == 16 && memcmp(s.term[5].arg.p, "_spf.example.net", 16) == 0);
	CHECK(s.term[7].kind == SPF_EXISTS && s.term[7].has_macro);
	CHECK(s.term[8].kind == SPF_ALL && s.term[8].qualifier == '~');
	CHECK_INT_EQ(s.term[9].kind, SPF_REDIRECT);
	CHECK_INT_EQ(s.term[11].kind, SPF_OTHER_MODIFIER);
	CHECK(dnsrec_is_spf("v=spf1", 6));
	CHECK(dnsrec_is_spf("V=SPF1 -all", 11));
	CHECK(!dnsrec_is_spf("v=spf10 -all", 12));
	CHECK(!dnsrec_is_spf("v=spf", 5));
	CHECK_STR_EQ(spf_why("v=spf1"), "ok");
	CHECK_STR_EQ(spf_why("v=spf1   -all  "), "ok");
	CHECK_STR_EQ(spf_why("v=spf1 foo:bar -all"), "unknown mechanism");
	CHECK_STR_EQ(spf_why("v=spf1 + -all"), "unknown mechanism");
	CHECK_STR_EQ(spf_why("v=spf1 ax"), "unknown mechanism");
	CHECK_STR_EQ(spf_why("v=spf1 ip4:300.1.1.1"), "ip4: needs an IPv4 address (and /0..32)");
	CHECK_STR_EQ(spf_why("v=spf1 ip4:1.2.3.4/33"), "ip4: needs an IPv4 address (and /0..32)");
	CHECK_STR_EQ(spf_why("v=spf1 ip4:1.2.3.4/"), "ip4: needs an IPv4 address (and /0..32)");
	CHECK_STR_EQ(spf_why("v=spf1 ip6:1.2.3.4"), "ip6: needs an IPv6 address (and /0..128)");
	CHECK_STR_EQ(spf_why("v=spf1 ip6:::1/129"), "ip6: needs an IPv6 address (and /0..128)");
	CHECK_STR_EQ(spf_why("v=spf1 include"), "include: needs a domain");
	CHECK_STR_EQ(spf_why("v=spf1 include:"), "include: needs a domain");
	CHECK_STR_EQ(spf_why("v=spf1 include:a..b"), "include: needs a domain");
	CHECK_STR_EQ(spf_why("v=spf1 include:example.123"), "include: needs a domain");
	CHECK_STR_EQ(spf_why("v=spf1 exists:%{z}.x"), "exists: needs a domain");
	CHECK_STR_EQ(spf_why("v=spf1 exists:%x"), "exists: needs a domain");
	CHECK_STR_EQ(spf_why("v=spf1 all:x"), "\"all\" takes no argument");
	CHECK_STR_EQ(spf_why("v=spf1 all/8"), "\"all\" takes no argument");
	CHECK_STR_EQ(spf_why("v=spf1 a/33"), "bad prefix length");
	CHECK_STR_EQ(spf_why("v=spf1 mx//129"), "bad prefix length");
	CHECK_STR_EQ(spf_why("v=spf1 a:x.example/24//64"), "ok");
	CHECK_STR_EQ(spf_why("v=spf1 ptr/24"), "ptr takes no prefix length");
	CHECK_STR_EQ(spf_why("v=spf1 redirect=a.example redirect=b.example"),
		     "two redirect= modifiers");
	CHECK_STR_EQ(spf_why("v=spf1 exp=a.example exp=b.example"), "two exp= modifiers");
	CHECK_STR_EQ(spf_why("v=spf1 redirect="), "redirect= needs a domain");
	CHECK_STR_EQ(spf_why("v=spf1 -all\tx"), "character other than printable ASCII and space");
	CHECK_STR_EQ(spf_why("v=spf1 ip4:1.2.3.4 \xc3\xa9"),
		     "character other than printable ASCII and space");
	CHECK_STR_EQ(spf_why("spf1 -all"), "not an SPF record (v=spf1)");
	struct buf many = BUF_INIT;
	buf_append_str(&many, "v=spf1");
	for (int i = 0; i <= DNSREC_MAX_TERMS; i++)
		buf_append_str(&many, " ip4:192.0.2.1");
	CHECK_STR_EQ(spf_why(many.data), "too many terms");
	buf_free(&many);
}

static const char *
with_ips(const char *record, int at_start)
{
	static struct buf out = BUF_INIT;
	static const char *const ips[] = {"192.0.2.10", "2001:db8::1", "192.0.2.10"};
	buf_reset(&out);
	dnsrec_spf_with_ips(record, ips, 3, at_start, &out);
	return buf_cstr(&out);
}

static void
test_spf_with_ips(void)
{
	CHECK_STR_EQ(with_ips(NULL, 0), "v=spf1 ip4:192.0.2.10 ip6:2001:db8::1 -all");
	CHECK_STR_EQ(with_ips("v=spf1 mx -all", 0),
		     "v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::1 -all");
	CHECK_STR_EQ(with_ips("v=spf1  mx   ~ALL ", 0),
		     "v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::1 ~ALL");
	CHECK_STR_EQ(with_ips("v=spf1 mx redirect=x.example", 0),
		     "v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::1 redirect=x.example");
	CHECK_STR_EQ(with_ips("v=spf1 mx", 0), "v=spf1 mx ip4:192.0.2.10 ip6:2001:db8::1");
	CHECK_STR_EQ(with_ips("v=spf1", 0), "v=spf1 ip4:192.0.2.10 ip6:2001:db8::1");
	CHECK_STR_EQ(with_ips("v=spf1 -ip4:192.0.2.0/24 -all", 1),
		     "v=spf1 ip4:192.0.2.10 ip6:2001:db8::1 -ip4:192.0.2.0/24 -all");
	/* an address already there as such is not added twice */
	CHECK_STR_EQ(with_ips("v=spf1 IP4:192.0.2.10 -all", 0),
		     "v=spf1 IP4:192.0.2.10 ip6:2001:db8::1 -all");
	struct buf out = BUF_INIT;
	dnsrec_spf_with_ips("v=spf1 -all", NULL, 0, 0, &out);
	CHECK_STR_EQ(buf_cstr(&out), "v=spf1 -all");
	buf_free(&out);
}

static void
test_zone_txt(void)
{
	struct buf out = BUF_INIT;
	dnsrec_zone_txt("example.org", "v=spf1 -all", 11, &out);
	CHECK_STR_EQ(buf_cstr(&out), "example.org. IN TXT \"v=spf1 -all\"");
	buf_reset(&out);
	dnsrec_zone_txt("x.", "a\"b\\c\n\xff", 7, &out);
	CHECK_STR_EQ(buf_cstr(&out), "x. IN TXT \"a\\\"b\\\\c\\010\\255\"");
	buf_reset(&out);
	dnsrec_zone_txt("x", "", 0, &out);
	CHECK_STR_EQ(buf_cstr(&out), "x. IN TXT \"\"");
	/* 600 octets: 255 + 255 + 90 */
	char big[600];
	memset(big, 'a', sizeof big);
	buf_reset(&out);
	dnsrec_zone_txt("x", big, sizeof big, &out);
	struct buf want = BUF_INIT;
	buf_printf(&want, "x. IN TXT \"%.*s\" \"%.*s\" \"%.*s\"", 255, big, 255, big, 90, big);
	CHECK_STR_EQ(buf_cstr(&out), buf_cstr(&want));
	buf_free(&want);
	buf_free(&out);
}

static const char *
org(const char *d)
{
	static struct buf out = BUF_INIT;
	buf_reset(&out);
	dnsrec_org_domain(d, &out);
	return buf_cstr(&out);
}

static void
test_org_domain(void)
{
	CHECK_STR_EQ(org("example.com"), "example.com");
	CHECK_STR_EQ(org("Mail.Example.COM."), "example.com");
	CHECK_STR_EQ(org("a.b.c.example.org"), "example.org");
	CHECK_STR_EQ(org("example.co.uk"), "example.co.uk");
	CHECK_STR_EQ(org("news.example.co.uk"), "example.co.uk");
	CHECK_STR_EQ(org("x.example.com.au"), "example.com.au");
	CHECK_STR_EQ(org("co.uk"), "co.uk");
	CHECK_STR_EQ(org("com"), "com");
	CHECK_STR_EQ(org(""), "");
	CHECK_STR_EQ(org("a.co.example"), "co.example"); /* not a country code */
	CHECK_STR_EQ(org("x.test"), "x.test");		  /* not in the list: one label */
	/* what two or three labels get wrong: the list's rules */
	CHECK_STR_EQ(org("mail.example.github.io"), "example.github.io"); /* private section */
	CHECK_STR_EQ(org("foo.bar.example.pvt.k12.ma.us"), "example.pvt.k12.ma.us");
	CHECK_STR_EQ(org("a.b.example.kawasaki.jp"), "b.example.kawasaki.jp"); /* *.kawasaki.jp */
	CHECK_STR_EQ(org("www.City.Kawasaki.JP"), "city.kawasaki.jp");	   /* !city.kawasaki.jp */
	CHECK_STR_EQ(org("github.io"), "github.io");
	CHECK_STR_EQ(org("."), "");
	CHECK_STR_EQ(org("a..b.example.org"), "example.org");
}

/* ---- DNS answers ---- */

struct msg {
	unsigned char b[1024];
	size_t len;
};

static void
put(struct msg *m, const void *data, size_t n)
{
	memcpy(m->b + m->len, data, n);
	m->len += n;
}

static void
put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
	put(m, b, 2);
}

/* A response header with one question "x.test" of type. */
static void
start(struct msg *m, unsigned ancount, int type)
{
	static const unsigned char qname[] = "\001x\004test";
	m->len = 0;
	put16(m, 0x1234), put16(m, 0x8180), put16(m, 1), put16(m, ancount), put16(m, 0),
	    put16(m, 0);
	put(m, qname, sizeof qname); /* with the root's 0 */
	put16(m, (unsigned)type), put16(m, 1);
}

/* An answer record owned by the question's name (pointer to offset 12). */
static void
record(struct msg *m, int type, const void *rdata, size_t rdlen)
{
	put16(m, 0xC00C), put16(m, (unsigned)type), put16(m, 1), put16(m, 0), put16(m, 300);
	put16(m, (unsigned)rdlen);
	put(m, rdata, rdlen);
}

static void
test_answers(void)
{
	struct msg m;
	struct dnsq_answer a;

	/* TXT: two strings joined; a second record; a CNAME skipped */
	start(&m, 3, DNSQ_TXT);
	record(&m, 5, "\001y\300\014", 4);
	record(&m, DNSQ_TXT, "\003abc\002de", 7);
	record(&m, DNSQ_TXT, "\000", 1);
	dnsq_parse_answer(m.b, m.len, DNSQ_TXT, &a);
	CHECK_INT_EQ(a.status, DNSQ_OK);
	CHECK_INT_EQ(a.count, 2);
	CHECK(a.count == 2 && a.rr[0].len == 5 && memcmp(a.rr[0].text, "abcde", 5) == 0);
	CHECK(a.count == 2 && a.rr[0].strings == 2 && a.rr[1].len == 0 && a.rr[1].strings == 1);
	CHECK(a.count == 2 && a.rr[0].ttl == 300);
	dnsq_answer_clear(&a);

	/* MX with a compressed target, and a null MX */
	start(&m, 2, DNSQ_MX);
	record(&m, DNSQ_MX, "\000\012\003mx1\300\014", 8);
	record(&m, DNSQ_MX, "\000\000\000", 3);
	dnsq_parse_answer(m.b, m.len, DNSQ_MX, &a);
	CHECK_INT_EQ(a.status, DNSQ_OK);
	CHECK(a.count == 2 && a.rr[0].preference == 10);
	CHECK(a.count == 2 && strcmp(a.rr[0].text, "mx1.x.test") == 0);
	CHECK(a.count == 2 && a.rr[1].len == 0);
	dnsq_answer_clear(&a);

	/* A and AAAA */
	start(&m, 1, DNSQ_A);
	record(&m, DNSQ_A, "\177\000\000\002", 4);
	dnsq_parse_answer(m.b, m.len, DNSQ_A, &a);
	CHECK(a.status == DNSQ_OK && a.count == 1 && memcmp(a.rr[0].addr, "\177\000\000\002", 4) == 0);
	dnsq_answer_clear(&a);
	start(&m, 1, DNSQ_A);
	record(&m, DNSQ_A, "\177\000\000", 3);
	dnsq_parse_answer(m.b, m.len, DNSQ_A, &a);
	CHECK_INT_EQ(a.status, DNSQ_MALFORMED);
	CHECK_STR_EQ(a.why, "address record of the wrong size");

	/* only other types: no data */
	start(&m, 1, DNSQ_TXT);
	record(&m, DNSQ_A, "\177\000\000\002", 4);
	dnsq_parse_answer(m.b, m.len, DNSQ_TXT, &a);
	CHECK_INT_EQ(a.status, DNSQ_NODATA);

	/* hostile: a TXT string running past its record, an empty TXT,
	 * an MX name pointing forward out of the message, truncation
	 * everywhere, a pointer loop */
	start(&m, 1, DNSQ_TXT);
	record(&m, DNSQ_TXT, "\011abc", 4);
	dnsq_parse_answer(m.b, m.len, DNSQ_TXT, &a);
	CHECK_INT_EQ(a.status, DNSQ_MALFORMED);
	CHECK_STR_EQ(a.why, "TXT string runs past its record");
	start(&m, 1, DNSQ_TXT);
	record(&m, DNSQ_TXT, "", 0);
	dnsq_parse_answer(m.b, m.len, DNSQ_TXT, &a);
	CHECK_INT_EQ(a.status, DNSQ_MALFORMED);
	start(&m, 1, DNSQ_MX);
	record(&m, DNSQ_MX, "\000\012\377\377", 4);
	dnsq_parse_answer(m.b, m.len, DNSQ_MX, &a);
	CHECK_INT_EQ(a.status, DNSQ_MALFORMED);
	start(&m, 1, DNSQ_MX);
	size_t loop_at = m.len + 12 + 2;
	unsigned char loop[4] = {0, 1, (unsigned char)(0xC0 | (loop_at >> 8)),
				 (unsigned char)loop_at};
	record(&m, DNSQ_MX, loop, 4);
	dnsq_parse_answer(m.b, m.len, DNSQ_MX, &a);
	CHECK_INT_EQ(a.status, DNSQ_MALFORMED);
	start(&m, 2, DNSQ_TXT);
	record(&m, DNSQ_TXT, "\003abc", 4);
	record(&m, DNSQ_TXT, "\003def", 4);
	for (size_t cut = 0; cut < m.len; cut++) {
		dnsq_parse_answer(m.b, cut, DNSQ_TXT, &a);
		CHECK(a.status == DNSQ_MALFORMED && a.count == 0 && a.rr == NULL);
	}
	dnsq_parse_answer(m.b, m.len, DNSQ_TXT, &a);
	CHECK_INT_EQ(a.count, 2);
	dnsq_answer_clear(&a);

	struct dnsq_answer t = {DNSQ_TEMPORARY, "SERVFAIL", 0, NULL};
	struct buf d = BUF_INIT;
	dnsq_describe(&t, &d);
	CHECK_STR_EQ(buf_cstr(&d), "temporary DNS failure: SERVFAIL");
	buf_free(&d);
}

static void
test_escaping(void)
{
	struct buf out = BUF_INIT;
	checktable_json(&out, "a\"b\\c\nd\001\x7f\xc3\xa9\xff");
	CHECK_STR_EQ(buf_cstr(&out), "\"a\\\"b\\\\c\\nd\\u0001\\u007f\xc3\xa9\\ufffd\"");
	buf_reset(&out);
	checktable_html(&out, "<a href='x'>&\"</a>\033[2J");
	CHECK_STR_EQ(buf_cstr(&out),
		     "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;?[2J");
	buf_free(&out);

	struct check_table t = {0};
	checktable_add(&t, CHECK_FAIL, "spf", "x.test", "x. IN TXT \"v=spf1 -all\"", "why %d", 1);
	checktable_add(&t, CHECK_TEMP, "dmarc", "_dmarc.x.test", NULL, "tab\there");
	CHECK_INT_EQ(checktable_exit_code(&t, 0), 1);
	CHECK_INT_EQ(checktable_exit_code(&t, 1), 111);
	CHECK_INT_EQ(checktable_exit_code(&t, 2), 0);
	enum check_format f;
	CHECK_INT_EQ(checktable_format_parse("tsv", &f), 0);
	CHECK_INT_EQ(f, CHECK_TSV);
	CHECK_INT_EQ(checktable_format_parse("xml", &f), -1);
	checktable_free(&t);
}

int
main(void)
{
	test_tags();
	test_base64();
	test_dkim();
	test_dmarc();
	test_spf();
	test_spf_with_ips();
	test_zone_txt();
	test_org_domain();
	test_answers();
	test_escaping();
	return check_report("dnsrec");
}
