/*
 * fuzz_dnsrec - libFuzzer target for the record parsers of lib/dnsrec.c
 * and the DNS answer parser of lib/dnsq.c: what a zone we do not control
 * can put in front of mailshot-report check.
 *
 * The first input byte picks the mode ((byte + 2) mod 5, so the seeds'
 * first digits '0'..'4' pick themselves):
 *   0  a tag-list, parsed as tags, as a DKIM key record and as a DMARC
 *      record: every tag name starts with a letter, every value lies
 *      inside the input and holds no ';' and no control character.
 *   1  an SPF record: every term lies inside the input; with our
 *      addresses added (before "all" and at the start) it is still an
 *      SPF record that parses, with the same lookups.
 *   2  base64: what decodes, encoded again, decodes to the same bytes.
 *   3  a DNS message (the next byte picks the type asked): records only
 *      when ok, names and texts NUL-terminated, at most DNSQ_MAX_RECORDS.
 *   4  text for the outputs: a zone line is printable ASCII only; JSON
 *      and HTML escaping leave no control character.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "checktable.h"
#include "dnsq.h"
#include "dnsrec.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_dnsrec: %s:%d: broken: %s\n", __FILE__, __LINE__,    \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static int
inside(const char *p, size_t len, const char *text, size_t size)
{
	return p >= text && p + len <= text + size;
}

static void
fuzz_tags(const char *text, size_t size)
{
	struct dnsrec_tags t;
	const char *why = NULL;
	if (dnsrec_tags_parse(text, size, &t, &why) == 0) {
		REQUIRE(t.count >= 1 && t.count <= DNSREC_MAX_TAGS);
		for (size_t i = 0; i < t.count; i++) {
			const struct dnsrec_str *n = &t.tag[i].name, *v = &t.tag[i].value;
			REQUIRE(n->len > 0 && inside(n->p, n->len, text, size));
			REQUIRE((n->p[0] | 0x20) >= 'a' && (n->p[0] | 0x20) <= 'z');
			REQUIRE(inside(v->p, v->len, text, size));
			for (size_t k = 0; k < v->len; k++)
				REQUIRE(v->p[k] != ';' && (unsigned char)v->p[k] < 0x7f &&
					((unsigned char)v->p[k] >= 0x20 || strchr("\t\r\n", v->p[k])));
		}
	} else {
		REQUIRE(why != NULL && *why != '\0');
	}
	struct dnsrec_dkim d;
	if (dnsrec_dkim_parse(text, size, &d, &why) == 0)
		REQUIRE(!d.revoked || d.key.len == 0);
	else
		REQUIRE(d.key.len == 0);
	buf_free(&d.key);
	struct dnsrec_dmarc m;
	if (dnsrec_dmarc_parse(text, size, &m, &why) == 0) {
		REQUIRE(m.pct >= 0 && m.pct <= 100);
		REQUIRE(dnsrec_is_dmarc(text, size));
	}
}

static void
fuzz_spf(const char *text, size_t size)
{
	static struct dnsrec_spf s, again;
	const char *why;
	if (dnsrec_spf_parse(text, size, &s, &why) == -1)
		return;
	REQUIRE(dnsrec_is_spf(text, size));
	REQUIRE(s.lookups >= 0 && (size_t)s.lookups <= s.count);
	for (size_t i = 0; i < s.count; i++) {
		REQUIRE(s.term[i].text.len > 0 && inside(s.term[i].text.p, s.term[i].text.len, text, size));
		REQUIRE(inside(s.term[i].arg.p, s.term[i].arg.len, text, size));
	}
	if (s.count + 2 > DNSREC_MAX_TERMS)
		return;
	char *copy = xstrndup(text, size); /* parsed: no NUL inside */
	static const char *const ips[] = {"192.0.2.77", "2001:db8::77"};
	for (int at_start = 0; at_start < 2; at_start++) {
		struct buf out = BUF_INIT;
		dnsrec_spf_with_ips(copy, ips, 2, at_start, &out);
		REQUIRE(dnsrec_spf_parse(out.data, out.len, &again, &why) == 0);
		REQUIRE(again.lookups == s.lookups);
		REQUIRE(strcasestr(out.data, "ip4:192.0.2.77") && strcasestr(out.data, "ip6:2001:db8::77"));
		buf_free(&out);
	}
	free(copy);
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
encode(const unsigned char *in, size_t len, struct buf *out)
{
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		buf_append_char(out, b64chars[v >> 18 & 63]);
		buf_append_char(out, b64chars[v >> 12 & 63]);
		buf_append_char(out, i + 1 < len ? b64chars[v >> 6 & 63] : '=');
		buf_append_char(out, i + 2 < len ? b64chars[v & 63] : '=');
	}
}

static void
fuzz_base64(const char *text, size_t size)
{
	struct buf bytes = BUF_INIT, enc = BUF_INIT, back = BUF_INIT;
	if (dnsrec_base64_decode(text, size, &bytes) == 0) {
		encode((const unsigned char *)bytes.data, bytes.len, &enc);
		REQUIRE(dnsrec_base64_decode(enc.data ? enc.data : "", enc.len, &back) == 0);
		REQUIRE(back.len == bytes.len && (bytes.len == 0 || memcmp(back.data, bytes.data, bytes.len) == 0));
	} else {
		REQUIRE(bytes.len == 0);
	}
	buf_free(&bytes);
	buf_free(&enc);
	buf_free(&back);
}

static void
fuzz_answer(const uint8_t *data, size_t size)
{
	static const int types[] = {DNSQ_A, DNSQ_AAAA, DNSQ_MX, DNSQ_TXT, DNSQ_PTR};
	if (size < 1)
		return;
	int type = types[data[0] % 5];
	struct dnsq_answer a;
	dnsq_parse_answer(data + 1, size - 1, type, &a);
	REQUIRE(a.why != NULL);
	REQUIRE(a.count <= DNSQ_MAX_RECORDS);
	REQUIRE((a.status == DNSQ_OK) == (a.count > 0));
	REQUIRE(a.status == DNSQ_OK || a.status == DNSQ_NODATA || a.status == DNSQ_MALFORMED);
	for (size_t i = 0; i < a.count; i++) {
		REQUIRE(a.rr[i].type == type);
		if (type == DNSQ_MX || type == DNSQ_PTR || type == DNSQ_TXT)
			REQUIRE(a.rr[i].text != NULL && a.rr[i].text[a.rr[i].len] == '\0');
		if (type == DNSQ_MX || type == DNSQ_PTR)
			REQUIRE(strlen(a.rr[i].text) == a.rr[i].len);
		if (type == DNSQ_TXT)
			REQUIRE(a.rr[i].strings >= 1 && a.rr[i].len <= 65535);
	}
	dnsq_answer_clear(&a);
}

static void
fuzz_output(const char *text, size_t size)
{
	struct buf zone = BUF_INIT, json = BUF_INIT, html = BUF_INIT, org = BUF_INIT;
	dnsrec_zone_txt("x.test", text, size, &zone);
	for (size_t i = 0; i < zone.len; i++)
		REQUIRE((unsigned char)zone.data[i] >= 0x20 && (unsigned char)zone.data[i] < 0x7f);
	char *s = xstrndup(text, size);
	checktable_json(&json, s);
	checktable_html(&html, s);
	for (size_t i = 0; i < json.len; i++)
		REQUIRE((unsigned char)json.data[i] >= 0x20 && json.data[i] != 0x7f);
	for (size_t i = 0; i < html.len; i++)
		REQUIRE((unsigned char)html.data[i] >= 0x20 && html.data[i] != 0x7f &&
			html.data[i] != '<' && html.data[i] != '>' && html.data[i] != '"');
	dnsrec_org_domain(s, &org);
	REQUIRE(org.len <= strlen(s));
	free(s);
	buf_free(&zone);
	buf_free(&json);
	buf_free(&html);
	buf_free(&org);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	int mode = (data[0] + 2) % 5; /* the digits '0'..'4' pick themselves */
	const char *text = (const char *)data + 1;
	size--;
	switch (mode) {
	case 0:
		fuzz_tags(text, size);
		break;
	case 1:
		fuzz_spf(text, size);
		break;
	case 2:
		fuzz_base64(text, size);
		break;
	case 3:
		fuzz_answer(data + 1, size);
		break;
	default:
		fuzz_output(text, size);
		break;
	}
	return 0;
}
