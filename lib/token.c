/*
 * NAME
 *	token - VERP and unsubscribe tokens (docs/bounce.md, "Token")
 *
 * SUMMARY
 *	A token names one recipient of one campaign in 31 or 32 base32
 *	characters: a campaign hash, the offset of the recipient's key in
 *	the campaign ledger, and an HMAC-SHA256 over both and the address.
 *
 * DESCRIPTION
 *	Promises:
 *	- token_decode accepts exactly the texts token_make writes, in any
 *	  case, and nothing else (length, alphabet, kind, scope and the
 *	  unused bits of the last character are all checked).
 *	- token_verify compares MACs in constant time, and the MAC covers
 *	  the address, so a token can only ever name the address it was
 *	  made for.
 */
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>

#include "buf.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static size_t
payload_len(char kind)
{
	return kind == 'u' ? 22 : 19;
}

static size_t
text_len(char kind)
{
	return (payload_len(kind) * 8 + 4) / 5;
}

uint32_t
token_campaign_hash(const char *campaign)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)campaign, strlen(campaign), md);
	return (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
}

/* HMAC-SHA256(secret, "mailshot-token 1" NUL kind NUL campaign NUL
 * offset NUL scope NUL address), for 'u' with "/" day after the scope,
 * cut to TOKEN_MAC_LEN bytes. */
static void
compute_mac(char kind, const char *secret, size_t secret_len, const char *campaign,
	    uint64_t offset, unsigned scope, unsigned day, const char *address,
	    unsigned char mac[TOKEN_MAC_LEN])
{
	static const char label[] = "mailshot-token 1";
	struct buf m = {0};
	buf_append(&m, label, sizeof label);
	buf_append_char(&m, kind);
	buf_append_char(&m, '\0');
	buf_append(&m, campaign, strlen(campaign) + 1);
	buf_printf(&m, "%llu", (unsigned long long)offset);
	buf_append_char(&m, '\0');
	if (kind == 'u')
		buf_printf(&m, "%u/%u", scope, day);
	else
		buf_append_char(&m, '0');
	buf_append_char(&m, '\0');
	buf_append_str(&m, address);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)m.data, m.len, md,
	     &mdlen);
	memcpy(mac, md, TOKEN_MAC_LEN);
	OPENSSL_cleanse(md, sizeof md);
	buf_free(&m);
}

static size_t
pack(const struct token *t, unsigned char *p)
{
	size_t n = 0;
	p[n++] = (unsigned char)(t->campaign_hash >> 24);
	p[n++] = (unsigned char)(t->campaign_hash >> 16);
	p[n++] = (unsigned char)(t->campaign_hash >> 8);
	p[n++] = (unsigned char)t->campaign_hash;
	for (int shift = 32; shift >= 0; shift -= 8)
		p[n++] = (unsigned char)(t->offset >> shift);
	if (t->kind == 'u') {
		p[n++] = (unsigned char)t->scope;
		p[n++] = (unsigned char)(t->day >> 8);
		p[n++] = (unsigned char)t->day;
	}
	memcpy(p + n, t->mac, TOKEN_MAC_LEN);
	return n + TOKEN_MAC_LEN;
}

void
token_make(char kind, const char *secret, size_t secret_len, const char *campaign,
	   uint64_t offset, unsigned scope, unsigned day, const char *address,
	   char out[TOKEN_TEXT_MAX])
{
	struct token t = {kind == 'u' ? 'u' : 'v',
			  token_campaign_hash(campaign),
			  offset & TOKEN_OFFSET_MAX,
			  kind == 'u' && scope ? 1 : 0,
			  kind == 'u' ? day & 0xffff : 0,
			  {0}};
	compute_mac(t.kind, secret, secret_len, campaign, t.offset, t.scope, t.day, address,
		    t.mac);
	unsigned char p[32];
	size_t n = pack(&t, p), o = 0;
	out[o++] = t.kind;
	unsigned acc = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8 | p[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

static int
b32_value(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int
token_decode(const char *text, size_t len, struct token *t)
{
	if (len < 1)
		return -1;
	char kind = text[0] == 'V' ? 'v' : text[0] == 'U' ? 'u' : text[0];
	if (kind != 'v' && kind != 'u')
		return -1;
	size_t need = payload_len(kind);
	if (len - 1 != text_len(kind))
		return -1;
	unsigned char p[32];
	size_t n = 0;
	unsigned acc = 0, bits = 0;
	for (size_t i = 1; i < len; i++) {
		int v = b32_value(text[i]);
		if (v < 0)
			return -1;
		acc = (acc << 5 | (unsigned)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			p[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* The padding bits of the last character must be zero, so that one
	 * token has one text. */
	if (n != need || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->campaign_hash = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	for (size_t i = 4; i < 9; i++)
		t->offset = t->offset << 8 | p[i];
	size_t m = 9;
	if (kind == 'u') {
		if (p[m] > 1)
			return -1;
		t->scope = p[m++];
		t->day = (unsigned)p[m] << 8 | p[m + 1];
		m += 2;
	}
	memcpy(t->mac, p + m, TOKEN_MAC_LEN);
	return 0;
}

int
token_verify(const struct token *t, const char *secret, size_t secret_len,
	     const char *campaign, const char *address)
{
	if (token_campaign_hash(campaign) != t->campaign_hash)
		return 0;
	unsigned char mac[TOKEN_MAC_LEN];
	compute_mac(t->kind, secret, secret_len, campaign, t->offset, t->scope, t->day, address,
		    mac);
	return CRYPTO_memcmp(mac, t->mac, TOKEN_MAC_LEN) == 0;
}

int
token_find(const char *address, size_t len, char delim, struct token *t)
{
	while (len > 0 && (*address == '<' || *address == ' '))
		address++, len--;
	const char *at = memchr(address, '@', len);
	if (at == NULL)
		return -1;
	/* The token is what follows the last delim of the local part (the
	 * base32 alphabet holds neither + nor -). */
	for (const char *p = at; p > address; p--) {
		if (p[-1] != delim)
			continue;
		return token_decode(p, (size_t)(at - p), t);
	}
	return -1;
}

int
token_address(const char *bounce_address, char delim, const char *token, char *out,
	      size_t outsz)
{
	const char *at = strrchr(bounce_address, '@');
	if (at == NULL || at == bounce_address)
		return -1;
	size_t local = (size_t)(at - bounce_address), tl = strlen(token), dl = strlen(at);
	if (local + 1 + tl + dl + 1 > outsz)
		return -1;
	memcpy(out, bounce_address, local);
	out[local] = delim;
	memcpy(out + local + 1, token, tl);
	memcpy(out + local + 1 + tl, at, dl + 1);
	return 0;
}
