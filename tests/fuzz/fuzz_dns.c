/*
 * fuzz_dns - libFuzzer target for the pure parts of lib/dns.c.
 *
 * The first input byte picks what the rest is (seeds start with the
 * digit '0', '1' or '2', which pick the same):
 *   0  a control/resolvers file.  It is parsed by dns_parse_servers and
 *      by a small reference parser written here from the grammar in dns.h
 *      alone; both must accept the same files, refuse at the same line,
 *      and give the same servers.  An accepted file, printed with
 *      dns_format_server and parsed again, must give the same servers.
 *      An error must read "fuzzfile:LINE: reason" in plain ASCII (the
 *      input is never echoed).
 *   1  an answer to an MX query (8 bytes of seed, then the DNS message),
 *      as c-ares would hand it over.  The hosts must be at most
 *      DNS_MAX_HOSTS, in preference order, valid host names, without
 *      duplicates, and the same again for the same seed.
 *   2  a name for dns_check_name, compared with a reference check.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "buf.h"
#include "dns.h"

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_dns: %s:%d: broken: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* ---- mode 0: control/resolvers against a reference ---- */

static int
ref_port(const char *s, size_t len, unsigned *port)
{
	unsigned long v = 0;
	if (len < 1 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* Dotted quad, no leading zeros, each part 0..255. */
static int
ref_ipv4(const char *s, size_t len, unsigned char out[4])
{
	size_t part = 0, i = 0;
	while (part < 4) {
		size_t start = i;
		unsigned v = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return -1;
		out[part++] = (unsigned char)v;
		if (part < 4) {
			if (i >= len || s[i] != '.')
				return -1;
			i++;
		}
	}
	return i == len ? 0 : -1;
}

static int
ref_server(const char *s, size_t len, struct dns_server *out)
{
	char text[256];
	memset(out, 0, sizeof *out);
	out->port = 53;
	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (close == NULL)
			return -1;
		size_t alen = (size_t)(close - s - 1);
		memcpy(text, s + 1, alen);
		text[alen] = '\0';
		out->family = AF_INET6;
		if (inet_pton(AF_INET6, text, out->addr) != 1)
			return -1;
		size_t rest = len - alen - 2;
		if (rest == 0)
			return 0;
		if (close[1] != ':')
			return -1;
		return ref_port(close + 2, rest - 1, &out->port);
	}
	const char *colon = memchr(s, ':', len);
	size_t alen = colon ? (size_t)(colon - s) : len;
	out->family = AF_INET;
	if (ref_ipv4(s, alen, out->addr) == -1)
		return -1;
	if (colon == NULL)
		return 0;
	return ref_port(colon + 1, len - alen - 1, &out->port);
}

/* Returns 0 with out filled, or the number of the line at fault. */
static unsigned long
ref_parse(const char *text, size_t len, struct dns_servers *out)
{
	unsigned long line = 0;
	size_t pos = 0;
	out->count = 0;
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		line++;
		if (memchr(s, '\0', n))
			return line;
		while (n > 0 && strchr(" \t\r", s[n - 1]))
			n--;
		while (n > 0 && (s[0] == ' ' || s[0] == '\t'))
			s++, n--;
		if (n == 0 || s[0] == '#')
			continue;
		if (n > 200)
			return line;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return line;
		struct dns_server server;
		if (ref_server(s, n, &server) == -1)
			return line;
		for (size_t i = 0; i < out->count; i++)
			if (memcmp(&out->server[i], &server, sizeof server) == 0)
				return line;
		if (out->count == DNS_MAX_SERVERS)
			return line;
		out->server[out->count++] = server;
	}
	return 0;
}

static void
fuzz_servers(const char *text, size_t len)
{
	struct dns_servers got, want;
	struct buf err = BUF_INIT;
	int rc = dns_parse_servers(text, len, "fuzzfile", &got, &err);
	unsigned long bad_line = ref_parse(text, len, &want);
	REQUIRE((rc == 0) == (bad_line == 0));
	REQUIRE((rc == 0) == (err.len == 0));
	if (rc == -1) {
		char expected[48];
		int n = snprintf(expected, sizeof expected, "fuzzfile:%lu: ", bad_line);
		REQUIRE(strncmp(err.data, expected, (size_t)n) == 0);
		for (size_t i = 0; i < err.len; i++)
			REQUIRE(err.data[i] >= 0x20 && err.data[i] < 0x7f);
		buf_free(&err);
		return;
	}
	REQUIRE(got.count == want.count && got.count <= DNS_MAX_SERVERS);
	struct buf again = BUF_INIT;
	for (size_t i = 0; i < got.count; i++) {
		const struct dns_server *g = &got.server[i], *w = &want.server[i];
		REQUIRE(g->family == w->family && g->port == w->port);
		REQUIRE(memcmp(g->addr, w->addr, g->family == AF_INET ? 4 : 16) == 0);
		dns_format_server(g, &again);
		buf_append_char(&again, '\n');
	}
	struct dns_servers round;
	REQUIRE(dns_parse_servers(buf_cstr(&again), again.len, "again", &round, &err) == 0);
	REQUIRE(round.count == got.count);
	for (size_t i = 0; i < got.count; i++)
		REQUIRE(memcmp(&round.server[i], &got.server[i], sizeof got.server[i]) == 0);
	buf_free(&again);
	buf_free(&err);
}

/* ---- mode 1: MX answers ---- */

static void
fuzz_mx_answer(const uint8_t *data, size_t size)
{
	uint64_t seed = 0;
	if (size < 8)
		return;
	memcpy(&seed, data, 8);
	data += 8, size -= 8;
	struct dns_mx mx[DNS_MAX_HOSTS], again[DNS_MAX_HOSTS];
	size_t count = 99, unusable = 99, count2, unusable2;
	uint64_t rng = seed, rng2 = seed;
	enum dns_mx_answer a = dns_mx_from_answer(data, (int)size, &rng, mx, &count, &unusable);
	enum dns_mx_answer b =
	    dns_mx_from_answer(data, (int)size, &rng2, again, &count2, &unusable2);
	REQUIRE(a == b && count == count2 && unusable == unusable2);
	REQUIRE(count <= DNS_MAX_HOSTS);
	if (a != DNS_MX_LIST)
		REQUIRE(count == 0);
	for (size_t i = 0; i < count; i++) {
		const char *why;
		REQUIRE(strcmp(mx[i].name, again[i].name) == 0);
		REQUIRE(mx[i].preference == again[i].preference);
		REQUIRE(mx[i].preference <= 65535);
		REQUIRE(dns_check_name(mx[i].name, strlen(mx[i].name), &why) == 0);
		if (i > 0)
			REQUIRE(mx[i - 1].preference <= mx[i].preference);
		for (size_t k = 0; k < i; k++)
			REQUIRE(strcasecmp(mx[k].name, mx[i].name) != 0);
	}
}

/* ---- mode 2: names ---- */

static int
ref_name(const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return -1;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
	}
	return label == 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	int mode = data[0] % 3;
	data++, size--;
	if (mode == 0) {
		fuzz_servers((const char *)data, size);
	} else if (mode == 1) {
		fuzz_mx_answer(data, size);
	} else {
		const char *why = NULL;
		int rc = dns_check_name((const char *)data, size, &why);
		REQUIRE(rc == ref_name((const char *)data, size));
		REQUIRE(rc == 0 || (why != NULL && *why != '\0'));
	}
	return 0;
}
