/*
 * libFuzzer target for the control tables (lib/route.c) and protocol
 * fields (lib/proto.c).  Invariants: a parsed table only holds entries of
 * the documented shapes, lookups never crash, an error names the table;
 * every split field escapes back to its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct buf err = BUF_INIT;
	struct routes r;
	if (route_parse(text, size, "smtproutes", &r, &err) == 0) {
		for (size_t i = 0; i < r.count; i++) {
			if (r.list[i].port < 1 || r.list[i].port > 65535 || r.list[i].host[0] == '\0')
				abort();
			if (strchr(r.list[i].host, ':') && r.list[i].host[0] != '[')
				abort();
			(void)route_find(&r, r.list[i].domain[0] == '.' ? r.list[i].domain + 1
								       : r.list[i].domain);
		}
		(void)route_find(&r, "example.com");
		route_free(&r);
	} else if (strncmp(buf_cstr(&err), "smtproutes:", 11) != 0) {
		abort();
	}
	buf_reset(&err);
	struct domain_policies p;
	if (domains_parse(text, size, "domains", &p, &err) == 0) {
		struct domain_policy d;
		for (size_t i = 0; i < p.count; i++) {
			domains_lookup(&p, p.list[i].domain, &d);
			if (d.concurrency < 1 || d.concurrency > 100 || d.rate < 0 || d.tls < 0 ||
			    d.tls > 2)
				abort();
		}
		domains_free(&p);
	} else if (strncmp(buf_cstr(&err), "domains:", 8) != 0) {
		abort();
	}
	buf_free(&err);

	/* Protocol fields: split, then escape again: the same line. */
	struct buf storage = BUF_INIT, again = BUF_INIT;
	const char *f[64];
	int n = proto_split(text, size, &storage, f, 64);
	if (n > 0) {
		for (int i = 0; i < n; i++) {
			if (i)
				buf_append_char(&again, ' ');
			proto_field(&again, f[i]);
		}
		/* Only a canonical line (upper-case hex, no needless escapes) comes
		 * back identical; at least the field count must hold. */
		struct buf s2 = BUF_INIT;
		const char *g[64];
		if (proto_split(again.data, again.len, &s2, g, 64) != n)
			abort();
		for (int i = 0; i < n; i++)
			if (strcmp(f[i], g[i]) != 0)
				abort();
		buf_free(&s2);
	}
	buf_free(&storage);
	buf_free(&again);
	return 0;
}
