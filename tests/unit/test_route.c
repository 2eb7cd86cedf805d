/*
 * Unit tests for lib/route.c (control/smtproutes, control/domains) and
 * lib/proto.c (protocol fields): the documented forms, precedence, and
 * hostile lines refused with file and line.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "proto.h"
#include "route.h"

static int
routes_ok(const char *text, struct routes *r)
{
	struct buf err = BUF_INIT;
	int rc = route_parse(text, strlen(text), "smtproutes", r, &err);
	if (rc != 0)
		fprintf(stderr, "unexpected: %s\n", err.data);
	buf_free(&err);
	return rc;
}

static void
routes_bad(const char *text, const char *want)
{
	struct buf err = BUF_INIT;
	struct routes r;
	CHECK_INT_EQ(route_parse(text, strlen(text), "smtproutes", &r, &err), -1);
	if (strstr(buf_cstr(&err), want) == NULL) {
		CHECK(0);
		fprintf(stderr, "  for %s\n  got \"%s\"\n  want \"%s\"\n", text, buf_cstr(&err),
			want);
	} else {
		CHECK(1);
	}
	CHECK_INT_EQ(r.count, 0);
	buf_free(&err);
}

static void
domains_bad(const char *text, const char *want)
{
	struct buf err = BUF_INIT;
	struct domain_policies p;
	CHECK_INT_EQ(domains_parse(text, strlen(text), "domains", &p, &err), -1);
	CHECK(strstr(buf_cstr(&err), want) != NULL);
	if (strstr(buf_cstr(&err), want) == NULL)
		fprintf(stderr, "  got \"%s\", want \"%s\"\n", buf_cstr(&err), want);
	buf_free(&err);
}

static void
test_routes(void)
{
	struct routes r;
	CHECK_INT_EQ(routes_ok("# comment\n\nexample.com:relay.example.net:2525\r\n"
			       "  .example.org:[192.0.2.1]  \n"
			       ":[::1]:2526\n"
			       "Sub.Example.Org:[2001:db8::1]\n",
			       &r),
		     0);
	CHECK_INT_EQ(r.count, 4);
	const struct route *e = route_find(&r, "example.com");
	CHECK(e != NULL && strcmp(e->host, "relay.example.net") == 0 && e->port == 2525);
	e = route_find(&r, "EXAMPLE.COM");
	CHECK(e != NULL && e->port == 2525);
	e = route_find(&r, "a.b.example.org");
	CHECK(e != NULL && strcmp(e->host, "[192.0.2.1]") == 0 && e->port == 25);
	e = route_find(&r, "sub.example.org"); /* exact beats suffix */
	CHECK(e != NULL && strcmp(e->host, "[2001:db8::1]") == 0);
	e = route_find(&r, "example.org"); /* ".example.org" is subdomains only */
	CHECK(e != NULL && strcmp(e->host, "[::1]") == 0 && e->port == 2526);
	e = route_find(&r, "other.net");
	CHECK(e != NULL && strcmp(e->host, "[::1]") == 0);
	route_free(&r);

	CHECK_INT_EQ(routes_ok("a.com:b.com\n", &r), 0);
	CHECK(route_find(&r, "c.com") == NULL);
	CHECK(route_find(&r, "xa.com") == NULL);
	route_free(&r);
	CHECK_INT_EQ(routes_ok("", &r), 0);
	CHECK_INT_EQ(r.count, 0);
	route_free(&r);

	routes_bad("example.com\n", "smtproutes:1: expected domain:host[:port]");
	routes_bad("ok.com:h.com\nx.com:h.com:0\n", "smtproutes:2: bad port");
	routes_bad("x.com:h.com:65536\n", "bad port");
	routes_bad("x.com:h.com:25x\n", "bad port");
	routes_bad("x.com:h.com:\n", "bad port");
	routes_bad("x.com:[1.2.3.4\n", "unterminated [address]");
	routes_bad("x.com:[1.2.3.4]x\n", "text after the [address]");
	routes_bad("x.com:[evil]\n", "bad address literal");
	routes_bad("x.com:h..com\n", "bad host name");
	routes_bad("x.com:\n", "bad host name");
	routes_bad("x com:h.com\n", "bad domain");
	routes_bad("x.com:h.com\nX.COM:g.com\n", "smtproutes:2: a second route");
	{
		static const char nul[] = "x.com:h.com\ny\0:z\n";
		struct buf err = BUF_INIT;
		struct routes rn;
		CHECK_INT_EQ(route_parse(nul, sizeof nul - 1, "smtproutes", &rn, &err), -1);
		CHECK(strstr(buf_cstr(&err), "smtproutes:2: NUL") != NULL);
		buf_free(&err);
	}
	char big[3000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	routes_bad(big, "longer than");
	routes_bad("x.com:h.com\r\n:h\xc3\xa9.com\n", "smtproutes:2: bad host name");
}

static void
test_domains(void)
{
	struct buf err = BUF_INIT;
	struct domain_policies p;
	const char *t = "* tls=may concurrency=20\nexample.com concurrency=5 rate=60 tls=verify\n"
			"slow.org rate=0\n";
	CHECK_INT_EQ(domains_parse(t, strlen(t), "domains", &p, &err), 0);
	struct domain_policy d;
	domains_lookup(&p, "EXAMPLE.com", &d);
	CHECK_INT_EQ(d.concurrency, 5);
	CHECK_INT_EQ(d.rate, 60);
	CHECK_INT_EQ(d.tls, ROUTE_TLS_VERIFY);
	domains_lookup(&p, "slow.org", &d);
	CHECK_INT_EQ(d.concurrency, 20);
	CHECK_INT_EQ(d.rate, 0);
	CHECK_INT_EQ(d.tls, ROUTE_TLS_MAY);
	domains_free(&p);
	CHECK_INT_EQ(domains_parse("", 0, "domains", &p, &err), 0);
	domains_lookup(&p, "x.org", &d);
	CHECK_INT_EQ(d.concurrency, 10);
	CHECK_INT_EQ(d.rate, 0);
	CHECK_INT_EQ(d.tls, ROUTE_TLS_MAY);
	domains_free(&p);
	buf_free(&err);

	domains_bad("x.org concurrency=0\n", "domains:1: concurrency");
	domains_bad("x.org concurrency=101\n", "concurrency");
	domains_bad("x.org rate=-1\n", "rate");
	domains_bad("x.org tls=sometimes\n", "tls: may, encrypt or verify");
	domains_bad("x.org color=blue\n", "unknown key");
	domains_bad("x.org tls\n", "expected key=value");
	domains_bad("# c\nx.org\nX.ORG tls=may\n", "domains:3: the domain appears twice");
	domains_bad("*\n*\n", "domains:2: * appears twice");
	domains_bad("bad_domain!\n", "bad domain");
}

static void
test_proto(void)
{
	struct buf out = BUF_INIT, storage = BUF_INIT;
	const char *f[8];
	buf_append_str(&out, "result");
	const char *values[] = {"a b", "", "-", "%", "x\r\ny", "\xc3\xa9", "ok"};
	for (size_t i = 0; i < 7; i++) {
		buf_append_char(&out, ' ');
		proto_field(&out, values[i]);
	}
	CHECK_STR_EQ(out.data, "result a%20b - %2D %25 x%0D%0Ay %C3%A9 ok");
	CHECK_INT_EQ(proto_split(out.data, out.len, &storage, f, 8), 8);
	CHECK_STR_EQ(f[0], "result");
	for (size_t i = 0; i < 7; i++)
		CHECK_STR_EQ(f[i + 1], values[i]);
	CHECK_INT_EQ(proto_split("a  b", 4, &storage, f, 8), -1);   /* empty field */
	CHECK_INT_EQ(proto_split("a b ", 4, &storage, f, 8), -1);   /* trailing space */
	CHECK_INT_EQ(proto_split("a %4", 4, &storage, f, 8), -1);   /* short escape */
	CHECK_INT_EQ(proto_split("a %zz", 5, &storage, f, 8), -1);  /* bad hex */
	CHECK_INT_EQ(proto_split("a\tb", 3, &storage, f, 8), -1);   /* raw control */
	CHECK_INT_EQ(proto_split("a b c", 5, &storage, f, 2), -1);  /* too many */
	CHECK_INT_EQ(proto_split("", 0, &storage, f, 8), 0);
	buf_free(&out);
	buf_free(&storage);
}

int
main(void)
{
	test_routes();
	test_domains();
	test_proto();
	return check_report("route");
}
