/*
 * dnsrec - DKIM, DMARC and SPF record parsers.  See dnsrec.h; the rules
 * are docs/domcheck.md's.  Written here rather than taken from a
 * library: libspf2 parses SPF only (and is asked too, by domcheck), and
 * neither OpenSSL nor c-ares knows DKIM or DMARC records; the grammars
 * are small, and owning them lets every refusal carry a precise reason.
 */
#include "dnsrec.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
str_is(const struct dnsrec_str *s, const char *word)
{
	size_t n = strlen(word);
	return s->len == n && memcmp(s->p, word, n) == 0;
}

static int
str_is_nocase(const struct dnsrec_str *s, const char *word)
{
	size_t n = strlen(word);
	return s->len == n && strncasecmp(s->p, word, n) == 0;
}

/* ---- tag-lists ---- */

int
dnsrec_tags_parse(const char *text, size_t len, struct dnsrec_tags *out, const char **why)
{
	size_t pos = 0;
	out->count = 0;
	for (;;) {
		while (pos < len && is_ws(text[pos]))
			pos++;
		if (pos == len) {
			if (out->count == 0) {
				*why = "empty record";
				return -1;
			}
			return 0; /* after a final ";" */
		}
		if (text[pos] == ';') {
			*why = "empty tag (\";\" twice)";
			return -1;
		}
		if (!is_alpha(text[pos])) {
			*why = "a tag name must start with a letter";
			return -1;
		}
		size_t name_start = pos;
		while (pos < len && (is_alpha(text[pos]) || is_digit(text[pos]) || text[pos] == '_'))
			pos++;
		struct dnsrec_str name = {text + name_start, pos - name_start};
		while (pos < len && is_ws(text[pos]))
			pos++;
		if (pos == len || text[pos] != '=') {
			*why = pos < len && (unsigned char)text[pos] >= 0x21 &&
					       (unsigned char)text[pos] <= 0x7e && text[pos] != ';'
				   ? "bad character in a tag name"
				   : "missing \"=\" after a tag name";
			return -1;
		}
		pos++;
		while (pos < len && is_ws(text[pos]))
			pos++;
		size_t value_start = pos, value_end = pos;
		while (pos < len && text[pos] != ';') {
			unsigned char c = (unsigned char)text[pos];
			if (is_ws((char)c)) {
				pos++;
				continue;
			}
			if (c < 0x21 || c > 0x7e) {
				*why = "control or non-ASCII character in a tag value";
				return -1;
			}
			value_end = ++pos;
		}
		for (size_t i = 0; i < out->count; i++) {
			const struct dnsrec_str *o = &out->tag[i].name;
			if (o->len == name.len && memcmp(o->p, name.p, name.len) == 0) {
				*why = "duplicate tag";
				return -1;
			}
		}
		if (out->count == DNSREC_MAX_TAGS) {
			*why = "too many tags";
			return -1;
		}
		out->tag[out->count].name = name;
		out->tag[out->count].value =
		    (struct dnsrec_str){text + value_start, value_end - value_start};
		out->count++;
		if (pos == len)
			return 0;
		pos++; /* the ';' */
	}
}

const struct dnsrec_str *
dnsrec_tag_get(const struct dnsrec_tags *t, const char *name)
{
	for (size_t i = 0; i < t->count; i++)
		if (str_is(&t->tag[i].name, name))
			return &t->tag[i].value;
	return NULL;
}

static int
base64_value(char c)
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

int
dnsrec_base64_decode(const char *text, size_t len, struct buf *out)
{
	unsigned acc = 0;
	size_t chars = 0, padding = 0;
	size_t start = out->len;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (is_ws(c))
			continue;
		if (c == '=') {
			padding++;
			chars++;
			continue;
		}
		int v = base64_value(c);
		if (v < 0 || padding > 0)
			goto bad; /* not base64, or data after padding */
		acc = (acc << 6) | (unsigned)v;
		chars++;
		if (chars % 4 == 0) {
			char bytes[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
			buf_append(out, bytes, 3);
			acc = 0;
		}
	}
	if (chars % 4 != 0 || padding > 2)
		goto bad;
	if (padding > 0) {
		/* The last quantum: 4 characters with 1 or 2 '='. */
		size_t data = 4 - padding;
		acc <<= 6 * padding;
		char bytes[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
		buf_append(out, bytes, data - 1);
	}
	return 0;
bad:
	buf_truncate(out, start);
	return -1;
}

/* A colon-separated list (h=, s=, t=): 1 when item is in it, case
 * ignored, whitespace around items allowed. */
static int
list_has(const struct dnsrec_str *list, const char *item)
{
	size_t pos = 0, n = strlen(item);
	while (pos <= list->len) {
		size_t start = pos;
		while (pos < list->len && list->p[pos] != ':')
			pos++;
		size_t a = start, b = pos;
		while (a < b && is_ws(list->p[a]))
			a++;
		while (b > a && is_ws(list->p[b - 1]))
			b--;
		if (b - a == n && strncasecmp(list->p + a, item, n) == 0)
			return 1;
		pos++;
	}
	return 0;
}

/* ---- DKIM ---- */

int
dnsrec_dkim_parse(const char *text, size_t len, struct dnsrec_dkim *out, const char **why)
{
	struct dnsrec_tags tags;
	memset(out, 0, sizeof *out);
	if (dnsrec_tags_parse(text, len, &tags, why) == -1)
		return -1;
	const struct dnsrec_str *v = dnsrec_tag_get(&tags, "v");
	if (v != NULL && (tags.tag[0].value.p != v->p || !str_is(v, "DKIM1"))) {
		*why = str_is(v, "DKIM1") ? "v= is not the first tag" : "v= is not DKIM1";
		return -1;
	}
	const struct dnsrec_str *p = dnsrec_tag_get(&tags, "p");
	if (p == NULL) {
		*why = "no p= tag (public key)";
		return -1;
	}
	const struct dnsrec_str *k = dnsrec_tag_get(&tags, "k");
	out->key_type = DNSREC_KEY_RSA;
	if (k != NULL)
		out->key_type = str_is_nocase(k, "rsa")	      ? DNSREC_KEY_RSA
				: str_is_nocase(k, "ed25519") ? DNSREC_KEY_ED25519
							      : DNSREC_KEY_OTHER;
	const struct dnsrec_str *h = dnsrec_tag_get(&tags, "h");
	out->sha256_ok = h == NULL || list_has(h, "sha256");
	const struct dnsrec_str *s = dnsrec_tag_get(&tags, "s");
	out->email_ok = s == NULL || list_has(s, "*") || list_has(s, "email");
	const struct dnsrec_str *t = dnsrec_tag_get(&tags, "t");
	out->testing = t != NULL && list_has(t, "y");
	if (p->len == 0) {
		out->revoked = 1;
		return 0;
	}
	if (dnsrec_base64_decode(p->p, p->len, &out->key) == -1) {
		buf_free(&out->key);
		*why = "p= is not base64";
		return -1;
	}
	return 0;
}

/* ---- DMARC ---- */

int
dnsrec_is_dmarc(const char *text, size_t len)
{
	size_t pos = 0;
	while (pos < len && is_ws(text[pos]))
		pos++;
	if (pos == len || text[pos] != 'v')
		return 0;
	pos++;
	while (pos < len && is_ws(text[pos]))
		pos++;
	if (pos == len || text[pos] != '=')
		return 0;
	pos++;
	while (pos < len && is_ws(text[pos]))
		pos++;
	if (len - pos < 6 || memcmp(text + pos, "DMARC1", 6) != 0)
		return 0;
	pos += 6;
	return pos == len || is_ws(text[pos]) || text[pos] == ';';
}

static int
parse_policy(const struct dnsrec_str *s, enum dnsrec_dmarc_policy *out)
{
	if (str_is_nocase(s, "none"))
		*out = DNSREC_P_NONE;
	else if (str_is_nocase(s, "quarantine"))
		*out = DNSREC_P_QUARANTINE;
	else if (str_is_nocase(s, "reject"))
		*out = DNSREC_P_REJECT;
	else
		return -1;
	return 0;
}

/* "r" or "s": 0 or 1 into *strict; -1 otherwise. */
static int
parse_mode(const struct dnsrec_str *s, int *strict)
{
	if (str_is_nocase(s, "r"))
		*strict = 0;
	else if (str_is_nocase(s, "s"))
		*strict = 1;
	else
		return -1;
	return 0;
}

int
dnsrec_dmarc_parse(const char *text, size_t len, struct dnsrec_dmarc *out, const char **why)
{
	struct dnsrec_tags tags;
	memset(out, 0, sizeof *out);
	out->pct = 100;
	if (dnsrec_tags_parse(text, len, &tags, why) == -1)
		return -1;
	if (!str_is(&tags.tag[0].name, "v") || !str_is(&tags.tag[0].value, "DMARC1")) {
		*why = "the first tag is not v=DMARC1";
		return -1;
	}
	const struct dnsrec_str *p = dnsrec_tag_get(&tags, "p");
	if (p == NULL) {
		*why = "no p= tag (policy)";
		return -1;
	}
	if (parse_policy(p, &out->p) == -1) {
		*why = "p= is not none, quarantine or reject";
		return -1;
	}
	const struct dnsrec_str *sp = dnsrec_tag_get(&tags, "sp");
	if (sp != NULL) {
		out->has_sp = 1;
		if (parse_policy(sp, &out->sp) == -1) {
			*why = "sp= is not none, quarantine or reject";
			return -1;
		}
	}
	const struct dnsrec_str *m = dnsrec_tag_get(&tags, "adkim");
	if (m != NULL && parse_mode(m, &out->strict_dkim) == -1) {
		*why = "adkim= is not r or s";
		return -1;
	}
	m = dnsrec_tag_get(&tags, "aspf");
	if (m != NULL && parse_mode(m, &out->strict_spf) == -1) {
		*why = "aspf= is not r or s";
		return -1;
	}
	const struct dnsrec_str *pct = dnsrec_tag_get(&tags, "pct");
	if (pct != NULL) {
		int v = 0;
		if (pct->len == 0 || pct->len > 3)
			goto bad_pct;
		for (size_t i = 0; i < pct->len; i++) {
			if (!is_digit(pct->p[i]))
				goto bad_pct;
			v = v * 10 + (pct->p[i] - '0');
		}
		if (v > 100)
			goto bad_pct;
		out->pct = v;
	}
	const struct dnsrec_str *rua = dnsrec_tag_get(&tags, "rua");
	if (rua != NULL)
		out->rua = *rua;
	return 0;
bad_pct:
	*why = "pct= is not a number from 0 to 100";
	return -1;
}

const char *
dnsrec_policy_name(enum dnsrec_dmarc_policy p)
{
	return p == DNSREC_P_REJECT ? "reject" : p == DNSREC_P_QUARANTINE ? "quarantine" : "none";
}

/* ---- SPF ---- */

int
dnsrec_is_spf(const char *text, size_t len)
{
	return len >= 6 && strncasecmp(text, "v=spf1", 6) == 0 && (len == 6 || text[6] == ' ');
}

/* A domain-spec without macros: labels of letters, digits, '-' and '_'
 * (1..63), the last (the top label) not all digits; a final dot is
 * allowed. */
static int
plain_domain_ok(const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	size_t label = 0, top_digits = 1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			top_digits = 1;
			continue;
		}
		if (!(is_alpha(c) || is_digit(c) || c == '-' || c == '_'))
			return 0;
		if (!is_digit(c))
			top_digits = 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && !top_digits;
}

/* domain-spec: a plain domain, or a macro-string (RFC 7208 7.1) whose
 * '%' escapes are well-formed: %{...}, %%, %_, %-. */
static int
domain_spec_ok(const char *s, size_t len, int *has_macro)
{
	*has_macro = 0;
	if (len == 0)
		return 0;
	if (memchr(s, '%', len) == NULL)
		return plain_domain_ok(s, len);
	*has_macro = 1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%')
			continue;
		if (i + 1 == len)
			return 0;
		char c = s[i + 1];
		if (c == '%' || c == '_' || c == '-') {
			i++;
			continue;
		}
		if (c != '{')
			return 0;
		const char *close = memchr(s + i, '}', len - i);
		if (close == NULL || close - (s + i) < 3)
			return 0;
		char letter = (char)(s[i + 2] | 0x20);
		if (strchr("slodiphcrtv", letter) == NULL)
			return 0;
		i = (size_t)(close - s);
	}
	return 1;
}

/* "/N" with 0 <= N <= max; s points after the slash. */
static int
cidr_ok(const char *s, size_t len, int max)
{
	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return 0;
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max;
}

/* dual-cidr-length: "/N", "//M" or "/N//M" (text starts at the first
 * slash). */
static int
dual_cidr_ok(const char *s, size_t len)
{
	if (len < 2 || s[0] != '/')
		return 0;
	const char *dbl = NULL;
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '/' && s[i + 1] == '/') {
			dbl = s + i;
			break;
		}
	if (dbl == s)
		return cidr_ok(s + 2, len - 2, 128);
	if (dbl == NULL)
		return cidr_ok(s + 1, len - 1, 32);
	return cidr_ok(s + 1, (size_t)(dbl - s) - 1, 32) &&
	       cidr_ok(dbl + 2, len - (size_t)(dbl - s) - 2, 128);
}

static int
address_ok(int family, const char *s, size_t len, int max_prefix)
{
	char text[64];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	unsigned char bytes[16];
	if (alen == 0 || alen >= sizeof text)
		return 0;
	memcpy(text, s, alen);
	text[alen] = '\0';
	if (inet_pton(family, text, bytes) != 1)
		return 0;
	return slash == NULL || cidr_ok(slash + 1, len - alen - 1, max_prefix);
}

static const struct {
	const char *name;
	enum dnsrec_spf_kind kind;
} mechanisms[] = {
    {"all", SPF_ALL}, {"include", SPF_INCLUDE}, {"a", SPF_A},	  {"mx", SPF_MX},
    {"ptr", SPF_PTR}, {"ip4", SPF_IP4},		{"ip6", SPF_IP6}, {"exists", SPF_EXISTS},
};

static int
parse_mechanism(struct dnsrec_spf_term *t, const char **why)
{
	const char *s = t->text.p;
	size_t len = t->text.len, pos = 0;
	t->qualifier = '+';
	if (strchr("+-~?", s[0]) != NULL) {
		t->qualifier = s[0];
		pos = 1;
	}
	size_t name_start = pos;
	while (pos < len && s[pos] != ':' && s[pos] != '/')
		pos++;
	struct dnsrec_str name = {s + name_start, pos - name_start};
	size_t k = 0, n = sizeof mechanisms / sizeof mechanisms[0];
	while (k < n && !str_is_nocase(&name, mechanisms[k].name))
		k++;
	if (k == n) {
		*why = "unknown mechanism";
		return -1;
	}
	t->kind = mechanisms[k].kind;
	const char *rest = s + pos;
	size_t rest_len = len - pos;
	int colon = rest_len > 0 && rest[0] == ':';
	if (colon)
		rest++, rest_len--;
	t->arg = (struct dnsrec_str){rest, rest_len};
	switch (t->kind) {
	case SPF_ALL:
		if (rest_len > 0 || colon) {
			*why = "\"all\" takes no argument";
			return -1;
		}
		return 0;
	case SPF_INCLUDE:
	case SPF_EXISTS:
		if (!colon || !domain_spec_ok(rest, rest_len, &t->has_macro)) {
			*why = t->kind == SPF_INCLUDE ? "include: needs a domain"
						      : "exists: needs a domain";
			return -1;
		}
		return 0;
	case SPF_PTR:
		if (colon && !domain_spec_ok(rest, rest_len, &t->has_macro)) {
			*why = "bad domain after ptr:";
			return -1;
		}
		if (!colon && rest_len > 0) {
			*why = "ptr takes no prefix length";
			return -1;
		}
		return 0;
	case SPF_A:
	case SPF_MX: {
		/* [":" domain-spec] [dual-cidr-length] */
		const char *slash = memchr(rest, '/', rest_len);
		size_t dlen = slash ? (size_t)(slash - rest) : rest_len;
		if (colon && !domain_spec_ok(rest, dlen, &t->has_macro)) {
			*why = "bad domain in an a or mx mechanism";
			return -1;
		}
		if (!colon && dlen > 0) {
			*why = "unknown mechanism";
			return -1;
		}
		if (slash != NULL && !dual_cidr_ok(slash, rest_len - dlen)) {
			*why = "bad prefix length";
			return -1;
		}
		t->arg.len = dlen;
		return 0;
	}
	case SPF_IP4:
	case SPF_IP6:
		if (!colon || !address_ok(t->kind == SPF_IP4 ? AF_INET : AF_INET6, rest, rest_len,
					  t->kind == SPF_IP4 ? 32 : 128)) {
			*why = t->kind == SPF_IP4 ? "ip4: needs an IPv4 address (and /0..32)"
						  : "ip6: needs an IPv6 address (and /0..128)";
			return -1;
		}
		return 0;
	default:
		*why = "unknown mechanism";
		return -1;
	}
}

static int
parse_modifier(struct dnsrec_spf_term *t, size_t name_len, int *seen_redirect, int *seen_exp,
	       const char **why)
{
	struct dnsrec_str name = {t->text.p, name_len};
	t->arg = (struct dnsrec_str){t->text.p + name_len + 1, t->text.len - name_len - 1};
	t->qualifier = 0;
	if (str_is_nocase(&name, "redirect") || str_is_nocase(&name, "exp")) {
		int redirect = str_is_nocase(&name, "redirect");
		int *seen = redirect ? seen_redirect : seen_exp;
		if ((*seen)++) {
			*why = redirect ? "two redirect= modifiers" : "two exp= modifiers";
			return -1;
		}
		if (!domain_spec_ok(t->arg.p, t->arg.len, &t->has_macro)) {
			*why = redirect ? "redirect= needs a domain" : "exp= needs a domain";
			return -1;
		}
		t->kind = redirect ? SPF_REDIRECT : SPF_EXP;
		return 0;
	}
	t->kind = SPF_OTHER_MODIFIER;
	return 0;
}

int
dnsrec_spf_parse(const char *text, size_t len, struct dnsrec_spf *out, const char **why)
{
	int seen_redirect = 0, seen_exp = 0;
	out->count = 0;
	out->lookups = 0;
	if (!dnsrec_is_spf(text, len)) {
		*why = "not an SPF record (v=spf1)";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c != ' ' && (c < 0x21 || c > 0x7e)) {
			*why = "character other than printable ASCII and space";
			return -1;
		}
	}
	size_t pos = 6;
	for (;;) {
		while (pos < len && text[pos] == ' ')
			pos++;
		if (pos == len)
			break;
		size_t start = pos;
		while (pos < len && text[pos] != ' ')
			pos++;
		if (out->count == DNSREC_MAX_TERMS) {
			*why = "too many terms";
			return -1;
		}
		struct dnsrec_spf_term *t = &out->term[out->count];
		memset(t, 0, sizeof *t);
		t->text = (struct dnsrec_str){text + start, pos - start};
		/* A modifier is a name (ALPHA *(ALPHA/DIGIT/-/_/.)) then '='. */
		size_t n = 0;
		if (is_alpha(t->text.p[0]))
			while (n < t->text.len &&
			       (is_alpha(t->text.p[n]) || is_digit(t->text.p[n]) ||
				t->text.p[n] == '-' || t->text.p[n] == '_' || t->text.p[n] == '.'))
				n++;
		int rc = n > 0 && n < t->text.len && t->text.p[n] == '='
			     ? parse_modifier(t, n, &seen_redirect, &seen_exp, why)
			     : parse_mechanism(t, why);
		if (rc == -1)
			return -1;
		switch (t->kind) {
		case SPF_INCLUDE:
		case SPF_A:
		case SPF_MX:
		case SPF_PTR:
		case SPF_EXISTS:
		case SPF_REDIRECT:
			out->lookups++;
			break;
		default:
			break;
		}
		out->count++;
	}
	return 0;
}

/* The terms of a record, split on spaces (the record need not parse). */
struct token {
	const char *p;
	size_t len;
};

static int
token_is_all(const struct token *t)
{
	const char *s = t->p;
	size_t n = t->len;
	if (n > 0 && strchr("+-~?", s[0]) != NULL)
		s++, n--;
	return n == 3 && strncasecmp(s, "all", 3) == 0;
}

static int
token_is_modifier(const struct token *t)
{
	size_t n = 0;
	if (t->len == 0 || !is_alpha(t->p[0]))
		return 0;
	while (n < t->len && (is_alpha(t->p[n]) || is_digit(t->p[n]) || t->p[n] == '-' ||
			      t->p[n] == '_' || t->p[n] == '.'))
		n++;
	return n < t->len && t->p[n] == '=';
}

static void
append_ip_mechanisms(struct buf *out, const char *const *ips, size_t nips,
		     const struct token *tokens, size_t ntokens)
{
	for (size_t i = 0; i < nips; i++) {
		char mech[80];
		snprintf(mech, sizeof mech, "%s:%s", strchr(ips[i], ':') ? "ip6" : "ip4", ips[i]);
		int present = 0;
		for (size_t k = 0; k < ntokens && !present; k++)
			present = tokens[k].len == strlen(mech) &&
				  strncasecmp(tokens[k].p, mech, tokens[k].len) == 0;
		for (size_t k = 0; k < i && !present; k++)
			present = strcmp(ips[k], ips[i]) == 0;
		if (!present)
			buf_printf(out, " %s", mech);
	}
}

void
dnsrec_spf_with_ips(const char *record, const char *const *ips, size_t nips, int at_start,
		    struct buf *out)
{
	if (record == NULL) {
		buf_append_str(out, "v=spf1");
		append_ip_mechanisms(out, ips, nips, NULL, 0);
		buf_append_str(out, " -all");
		return;
	}
	size_t len = strlen(record), ntokens = 0;
	struct token *tokens = xcalloc(len / 2 + 2, sizeof *tokens);
	for (size_t pos = 0;;) {
		while (pos < len && record[pos] == ' ')
			pos++;
		if (pos == len)
			break;
		size_t start = pos;
		while (pos < len && record[pos] != ' ')
			pos++;
		tokens[ntokens++] = (struct token){record + start, pos - start};
	}
	/* tokens[0] is "v=spf1". */
	size_t insert = ntokens;
	if (at_start) {
		insert = 1;
	} else {
		for (size_t k = 1; k < ntokens && insert == ntokens; k++)
			if (token_is_all(&tokens[k]))
				insert = k;
		for (size_t k = 1; k < ntokens && insert == ntokens; k++)
			if (token_is_modifier(&tokens[k]))
				insert = k;
	}
	for (size_t k = 0; k <= ntokens; k++) {
		if (k == insert)
			append_ip_mechanisms(out, ips, nips, tokens, ntokens);
		if (k < ntokens) {
			if (k > 0)
				buf_append_char(out, ' ');
			buf_append(out, tokens[k].p, tokens[k].len);
		}
	}
	free(tokens);
}

/* ---- output ---- */

void
dnsrec_zone_txt(const char *owner, const char *text, size_t len, struct buf *out)
{
	size_t olen = strlen(owner);
	buf_append_str(out, owner);
	if (olen == 0 || owner[olen - 1] != '.')
		buf_append_char(out, '.');
	buf_append_str(out, " IN TXT");
	size_t pos = 0;
	do {
		size_t n = len - pos < 255 ? len - pos : 255;
		buf_append_str(out, " \"");
		for (size_t i = pos; i < pos + n; i++) {
			unsigned char c = (unsigned char)text[i];
			if (c == '"' || c == '\\')
				buf_printf(out, "\\%c", c);
			else if (c < 0x20 || c > 0x7e)
				buf_printf(out, "\\%03u", c);
			else
				buf_append_char(out, (char)c);
		}
		buf_append_char(out, '"');
		pos += n;
	} while (pos < len);
}

/* Without the list: see dnsrec.h. */
static void
org_domain_guess(const char *domain, size_t len, struct buf *out)
{
	/* Start of the last, next-to-last and third-to-last labels. */
	size_t starts[3] = {0, 0, 0};
	int labels = 1;
	for (size_t i = len; i > 0; i--) {
		if (domain[i - 1] != '.')
			continue;
		if (labels <= 3)
			starts[labels - 1] = i;
		labels++;
		if (labels > 3)
			break;
	}
	size_t from = 0;
	if (labels >= 3) {
		from = starts[1];
		size_t last_len = len - starts[0];
		const char *second = domain + starts[1];
		size_t second_len = starts[0] - 1 - starts[1];
		static const char *const slds[] = {"ac", "co", "com", "edu", "gov", "net", "org"};
		int sld = 0;
		for (size_t k = 0; k < sizeof slds / sizeof slds[0]; k++)
			sld |= second_len == strlen(slds[k]) &&
			       strncasecmp(second, slds[k], second_len) == 0;
		if (sld && last_len == 2)
			from = labels > 3 ? starts[2] : 0;
	}
	for (size_t i = from; i < len; i++) {
		char c = domain[i];
		buf_append_char(out, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
	}
}

void
dnsrec_org_domain(const char *domain, struct buf *out)
{
	/* the newest of libpsl's built-in list and the system's
	 * (Debian's publicsuffix); loaded once, kept for the process */
	static const psl_ctx_t *psl;
	static int tried;
	if (!tried) {
		tried = 1;
		psl = psl_latest(NULL);
		if (!psl)
			psl = psl_builtin();
	}
	size_t len = strlen(domain);
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (!psl || len == 0) {
		org_domain_guess(domain, len, out);
		return;
	}
	/* the list is in lower case; labels that are not ASCII are
	 * compared as they are (A-labels, as DNS carries them) */
	struct buf low = { 0 };
	for (size_t i = 0; i < len; i++) {
		char c = domain[i];
		buf_append_char(&low, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
	}
	const char *cs = buf_cstr(&low);
	const char *reg = strlen(cs) == len ? psl_registrable_domain(psl, cs) : NULL;
	/* NULL: the domain is itself a public suffix (or holds a NUL):
	 * it is its own organizational domain */
	buf_append_str(out, reg ? reg : cs);
	buf_free(&low);
}
