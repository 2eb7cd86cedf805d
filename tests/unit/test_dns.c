/*
 * test_dns - unit tests for lib/dns.c: the control/resolvers parser and
 * the MX ordering with hostile input, then whole resolutions against a
 * real DNS server.
 *
 * The server is unbound (Debian package, see TESTPEERS.md), started here
 * on 127.0.0.1 (and ::1 when the machine has it) on a free high port,
 * with the zones below as local-data, and stopped by its PID at the end.
 * It is started with PR_SET_PDEATHSIG, so even a crash of this program
 * (an ASan abort) takes it down.  A missing /usr/sbin/unbound is a
 * failure, not a skip: the tests that matter most would not run.
 *
 * Timeouts are exercised against "silent" UDP sockets that this program
 * binds and never reads: queries to them are neither answered nor
 * refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "dns.h"

#ifndef UNBOUND
#define UNBOUND "/usr/sbin/unbound"
#endif

static double
now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- control/resolvers ---- */

/* Parses text as file "resolvers"; returns the error text or "" if ok. */
static const char *
parse(const char *text, size_t len, struct dns_servers *out)
{
	static struct buf err = BUF_INIT;
	buf_reset(&err);
	int rc = dns_parse_servers(text, len, "resolvers", out, &err);
	CHECK((rc == 0) == (err.len == 0));
	return buf_cstr(&err);
}

static void
check_servers_error(const char *text, const char *expected)
{
	struct dns_servers s;
	const char *got = parse(text, strlen(text), &s);
	CHECK_STR_EQ(got, expected);
}

static void
check_servers_ok(const char *text, const char *canonical)
{
	struct dns_servers s;
	struct buf all = BUF_INIT;
	CHECK_STR_EQ(parse(text, strlen(text), &s), "");
	for (size_t i = 0; i < s.count; i++) {
		if (i > 0)
			buf_append_char(&all, ',');
		dns_format_server(&s.server[i], &all);
	}
	CHECK_STR_EQ(buf_cstr(&all), canonical);
	buf_free(&all);
}

static void
test_servers(void)
{
	check_servers_ok("", "");
	check_servers_ok("# no servers here\n\n   \n\t\n", "");
	check_servers_ok("127.0.0.1:5354\n[::1]:5354\n", "127.0.0.1:5354,[::1]:5354");
	check_servers_ok("192.0.2.53", "192.0.2.53:53");
	check_servers_ok("[2001:DB8::53]", "[2001:db8::53]:53");
	check_servers_ok(" \t127.0.0.1:53 \r\n# x\n[::ffff:127.0.0.1]:65535\r\n",
			 "127.0.0.1:53,[::ffff:127.0.0.1]:65535");
	check_servers_ok("127.0.0.1:053\n127.0.0.1:54", "127.0.0.1:53,127.0.0.1:54");
	check_servers_ok("   # indented comment\n10.0.0.1:1", "10.0.0.1:1");

	check_servers_error("127.0.0.1:0", "resolvers:1: bad port");
	check_servers_error("127.0.0.1:65536", "resolvers:1: bad port");
	check_servers_error("127.0.0.1:000053", "resolvers:1: bad port");
	check_servers_error("127.0.0.1:99999999999999999999", "resolvers:1: bad port");
	check_servers_error("127.0.0.1:-1", "resolvers:1: bad port");
	check_servers_error("127.0.0.1:+53", "resolvers:1: bad port");
	check_servers_error("127.0.0.1: 53", "resolvers:1: bad port");
	check_servers_error("127.0.0.1:", "resolvers:1: bad port");
	check_servers_error("127.0.0.1:53 # local", "resolvers:1: bad port");
	check_servers_error("127.0.0.1:5354\n127.0.0.1:x\n", "resolvers:2: bad port");
	check_servers_error("\n\n#\n127.0.0.1:53:53", "resolvers:4: an IPv6 address must be in "
						      "brackets, as in [::1]:53");
	check_servers_error("::1", "resolvers:1: an IPv6 address must be in brackets, as in "
				   "[::1]:53");
	check_servers_error("2001:db8::1:53", "resolvers:1: an IPv6 address must be in brackets, "
					      "as in [::1]:53");
	check_servers_error("[::1", "resolvers:1: missing ']' after the IPv6 address");
	check_servers_error("[::1]53", "resolvers:1: expected ':' and a port after ']'");
	check_servers_error("[::1] :53", "resolvers:1: expected ':' and a port after ']'");
	check_servers_error("[::1]:", "resolvers:1: bad port");
	check_servers_error("[::1]:70000", "resolvers:1: bad port");
	check_servers_error("[]:53", "resolvers:1: bad IPv6 address");
	check_servers_error("[fe80::1%eth0]:53", "resolvers:1: bad IPv6 address");
	check_servers_error("[127.0.0.1]:53", "resolvers:1: bad IPv6 address");
	check_servers_error("[[::1]]:53", "resolvers:1: expected ':' and a port after ']'");
	check_servers_error("localhost:53",
			    "resolvers:1: not an IP address (host names are not allowed here)");
	check_servers_error("dns.example",
			    "resolvers:1: not an IP address (host names are not allowed here)");
	check_servers_error("256.0.0.1", "resolvers:1: bad IPv4 address");
	check_servers_error("1.2.3", "resolvers:1: bad IPv4 address");
	check_servers_error("01.2.3.4", "resolvers:1: bad IPv4 address");
	check_servers_error("127.0.0.1 53", "resolvers:1: bad IPv4 address");
	check_servers_error(":53", "resolvers:1: bad IPv4 address");
	check_servers_error("127.0.0.1:53\r127.0.0.2:53",
			    "resolvers:1: control character in the line");
	check_servers_error("127.0.0.1:\v53", "resolvers:1: control character in the line");
	check_servers_error("127.0.0.1\x7f", "resolvers:1: control character in the line");
	check_servers_error("127.0.0.1:53\n127.0.0.1\n", "resolvers:2: the same server as line 1");
	check_servers_error("[::1]:53\n#\n[0:0::1]:53", "resolvers:3: the same server as line 1");

	/* A NUL byte anywhere in a line, even a comment. */
	struct dns_servers s;
	CHECK_STR_EQ(parse("127.0.0.1:53\n#\0\n", 16, &s), "resolvers:2: contains a NUL byte");
	CHECK_STR_EQ(parse("1\0", 2, &s), "resolvers:1: contains a NUL byte");
	/* Only len bytes are read: no NUL terminator needed. */
	CHECK_STR_EQ(parse("127.0.0.1:5354xyz", 14, &s), "");
	CHECK_INT_EQ(s.server[0].port, 5354);

	/* Long lines: a long comment is fine, a long server line is not. */
	struct buf big = BUF_INIT;
	buf_append_char(&big, '#');
	for (int i = 0; i < 10000; i++)
		buf_append_char(&big, 'x');
	buf_append_str(&big, "\n127.0.0.1:53\n");
	CHECK_STR_EQ(parse(big.data, big.len, &s), "");
	CHECK_INT_EQ(s.count, 1);
	buf_reset(&big);
	for (int i = 0; i < 250; i++)
		buf_append_char(&big, '1');
	CHECK_STR_EQ(parse(big.data, big.len, &s), "resolvers:1: line too long");

	/* At most 16 servers. */
	buf_reset(&big);
	for (int i = 1; i <= 17; i++)
		buf_printf(&big, "127.0.0.%d:53\n", i);
	CHECK_STR_EQ(parse(big.data, big.len, &s), "resolvers:17: too many servers (at most 16)");
	buf_truncate(&big, big.len - strlen("127.0.0.17:53\n"));
	CHECK_STR_EQ(parse(big.data, big.len, &s), "");
	CHECK_INT_EQ(s.count, 16);

	/* Hostile bytes are never echoed into the error. */
	const char *evil = parse("\x1b[31mevil:53", 13, &s);
	CHECK(strchr(evil, '\x1b') == NULL && strstr(evil, "evil") == NULL);

	/* Random lines made of the characters that matter: no crash, and
	 * whatever is accepted prints and parses back the same. */
	static const char alphabet[] = "0123456789.:[]abf% \t\r\n#\0";
	uint64_t rng = 42;
	for (int round = 0; round < 3000; round++) {
		char text[64];
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t len = (size_t)(rng >> 58);
		for (size_t i = 0; i < len; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			text[i] = alphabet[(rng >> 33) % (sizeof alphabet - 1)];
		}
		const char *e = parse(text, len, &s);
		if (*e != '\0') {
			CHECK(strncmp(e, "resolvers:", 10) == 0);
			continue;
		}
		struct buf again = BUF_INIT;
		for (size_t i = 0; i < s.count; i++) {
			dns_format_server(&s.server[i], &again);
			buf_append_char(&again, '\n');
		}
		struct dns_servers t;
		CHECK_STR_EQ(parse(again.data ? again.data : "", again.len, &t), "");
		CHECK(t.count == s.count &&
		      memcmp(t.server, s.server, s.count * sizeof *s.server) == 0);
		buf_free(&again);
	}
	buf_free(&big);
}

static void
test_servers_file(void)
{
	char dir[] = "/tmp/test_dns.XXXXXX", path[64];
	struct dns_servers s;
	struct buf err = BUF_INIT;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/resolvers", dir);
	s.count = 99;
	CHECK_INT_EQ(dns_read_servers_file(path, &s, &err), 0);
	CHECK_INT_EQ(s.count, 0);

	FILE *f = fopen(path, "w");
	fputs("# test servers\n127.0.0.1:5354\n[::1]:5354\n", f);
	fclose(f);
	CHECK_INT_EQ(dns_read_servers_file(path, &s, &err), 0);
	CHECK_INT_EQ(s.count, 2);

	f = fopen(path, "w");
	fputs("127.0.0.1:5354\nnameserver 1.1.1.1\n", f);
	fclose(f);
	CHECK_INT_EQ(dns_read_servers_file(path, &s, &err), -1);
	struct buf expected = BUF_INIT;
	buf_printf(&expected, "%s:2: not an IP address (host names are not allowed here)", path);
	CHECK_STR_EQ(buf_cstr(&err), buf_cstr(&expected));

	f = fopen(path, "w");
	for (int i = 0; i < DNS_SERVERS_FILE_MAX + 10; i++)
		fputc(i % 80 ? '#' : '\n', f);
	fclose(f);
	buf_reset(&err);
	CHECK_INT_EQ(dns_read_servers_file(path, &s, &err), -1);
	CHECK(strstr(buf_cstr(&err), "larger than 65536 bytes") != NULL);

	buf_reset(&err);
	CHECK_INT_EQ(dns_read_servers_file(dir, &s, &err), -1);
	CHECK(strstr(buf_cstr(&err), "unable to read") != NULL);

	unlink(path);
	rmdir(dir);
	buf_free(&err);
	buf_free(&expected);
}

/* ---- names ---- */

static void
check_name(const char *name, size_t len, const char *expected_why)
{
	const char *why = NULL;
	int rc = dns_check_name(name, len, &why);
	if (expected_why == NULL) {
		CHECK_INT_EQ(rc, 0);
	} else {
		CHECK_INT_EQ(rc, -1);
		CHECK_STR_EQ(why, expected_why);
	}
}

static void
test_names(void)
{
	char long_name[300];
	check_name("example.com", 11, NULL);
	check_name("example.com.", 12, NULL);
	check_name("localhost", 9, NULL);
	check_name("127.0.0.1", 9, NULL);
	check_name("_dmarc.x-y.example", 18, NULL);
	check_name("", 0, "empty domain");
	check_name(".", 1, "empty domain");
	check_name("..", 2, "empty label in domain");
	check_name("a..b", 4, "empty label in domain");
	check_name(".a", 2, "empty label in domain");
	check_name("exa mple.com", 12, "character not allowed in a domain");
	check_name("ex\xc3\xa4mple.com", 13, "character not allowed in a domain");
	check_name("a\0b", 3, "character not allowed in a domain");
	check_name("[127.0.0.1]", 11, "character not allowed in a domain");
	memset(long_name, 'a', 64);
	check_name(long_name, 63, NULL);
	check_name(long_name, 64, "domain label longer than 63 characters");
	for (int i = 0; i < 300; i++)
		long_name[i] = i % 10 == 9 ? '.' : 'b';
	check_name(long_name, 253, NULL);
	long_name[253] = '.';
	check_name(long_name, 254, NULL); /* 253 and the trailing dot */
	long_name[253] = 'b';
	check_name(long_name, 254, "domain longer than 253 characters");
}

/* ---- MX answers, built by hand ---- */

struct packet {
	unsigned char data[65536];
	size_t len;
};

static void
put8(struct packet *p, unsigned v)
{
	p->data[p->len++] = (unsigned char)v;
}

static void
put16(struct packet *p, unsigned v)
{
	put8(p, v >> 8);
	put8(p, v & 0xff);
}

/* Labels separated by '.', written raw (any byte but '.'). */
static void
put_name(struct packet *p, const char *name)
{
	while (*name) {
		size_t n = strcspn(name, ".");
		put8(p, (unsigned)n);
		memcpy(p->data + p->len, name, n);
		p->len += n;
		name += n;
		if (*name == '.')
			name++;
	}
	put8(p, 0);
}

static void
packet_start(struct packet *p, const char *qname, unsigned ancount)
{
	p->len = 0;
	put16(p, 0x1234);
	put16(p, 0x8180); /* response, RD, RA, NOERROR */
	put16(p, 1);
	put16(p, ancount);
	put16(p, 0);
	put16(p, 0);
	put_name(p, qname);
	put16(p, 15); /* MX */
	put16(p, 1);
}

static void
packet_mx(struct packet *p, const char *owner, unsigned preference, const char *target)
{
	put_name(p, owner);
	put16(p, 15);
	put16(p, 1);
	put16(p, 0);
	put16(p, 300);
	size_t rdlength_at = p->len;
	put16(p, 0);
	put16(p, preference);
	put_name(p, target);
	size_t rdlength = p->len - rdlength_at - 2;
	p->data[rdlength_at] = (unsigned char)(rdlength >> 8);
	p->data[rdlength_at + 1] = (unsigned char)rdlength;
}

static void
packet_cname(struct packet *p, const char *owner, const char *target)
{
	put_name(p, owner);
	put16(p, 5);
	put16(p, 1);
	put16(p, 0);
	put16(p, 300);
	size_t rdlength_at = p->len;
	put16(p, 0);
	put_name(p, target);
	size_t rdlength = p->len - rdlength_at - 2;
	p->data[rdlength_at] = (unsigned char)(rdlength >> 8);
	p->data[rdlength_at + 1] = (unsigned char)rdlength;
}

static struct packet packet;

static enum dns_mx_answer
from_packet(uint64_t seed, struct dns_mx mx[DNS_MAX_HOSTS], size_t *count, size_t *unusable)
{
	return dns_mx_from_answer(packet.data, (int)packet.len, &seed, mx, count, unusable);
}

static void
test_mx_answers(void)
{
	struct dns_mx mx[DNS_MAX_HOSTS];
	size_t count, unusable;

	packet_start(&packet, "good.test", 3);
	packet_mx(&packet, "good.test", 20, "mx2.good.test");
	packet_mx(&packet, "good.test", 10, "mx1.good.test");
	packet_mx(&packet, "good.test", 20, "mx3.good.test");
	CHECK_INT_EQ(from_packet(1, mx, &count, &unusable), DNS_MX_LIST);
	CHECK_INT_EQ(count, 3);
	CHECK_INT_EQ(unusable, 0);
	CHECK_STR_EQ(mx[0].name, "mx1.good.test");
	CHECK_INT_EQ(mx[0].preference, 10);
	CHECK_INT_EQ(mx[1].preference, 20);
	CHECK_INT_EQ(mx[2].preference, 20);
	int mx2_first = 0, mx3_first = 0;
	for (uint64_t seed = 0; seed < 200; seed++) {
		from_packet(seed, mx, &count, &unusable);
		mx2_first += strcmp(mx[1].name, "mx2.good.test") == 0;
		mx3_first += strcmp(mx[1].name, "mx3.good.test") == 0;
	}
	CHECK_INT_EQ(mx2_first + mx3_first, 200);
	CHECK(mx2_first > 60 && mx3_first > 60);

	/* RFC 7505 null MX: c-ares gives the root as "". */
	packet_start(&packet, "nullmx.test", 1);
	packet_mx(&packet, "nullmx.test", 0, "");
	CHECK_INT_EQ(from_packet(1, mx, &count, &unusable), DNS_MX_NULL);
	CHECK_INT_EQ(count, 0);

	/* A null MX next to real ones is ignored. */
	packet_start(&packet, "mixed.test", 2);
	packet_mx(&packet, "mixed.test", 0, "");
	packet_mx(&packet, "mixed.test", 10, "mx.mixed.test");
	CHECK_INT_EQ(from_packet(1, mx, &count, &unusable), DNS_MX_LIST);
	CHECK_INT_EQ(count, 1);
	CHECK_STR_EQ(mx[0].name, "mx.mixed.test");

	/* Targets that are not host names are dropped and counted. */
	packet_start(&packet, "odd.test", 4);
	packet_mx(&packet, "odd.test", 5, "bad name.odd.test");
	packet_mx(&packet, "odd.test", 6, "tab\there.odd.test");
	packet_mx(&packet, "odd.test", 7, "quote\"d.odd.test");
	packet_mx(&packet, "odd.test", 30, "fine.odd.test");
	CHECK_INT_EQ(from_packet(1, mx, &count, &unusable), DNS_MX_LIST);
	CHECK_INT_EQ(count, 1);
	CHECK_INT_EQ(unusable, 3);
	CHECK_STR_EQ(mx[0].name, "fine.odd.test");

	/* Only unusable targets: a list of none (the caller defers). */
	packet_start(&packet, "odd.test", 1);
	packet_mx(&packet, "odd.test", 5, "bad name");
	CHECK_INT_EQ(from_packet(1, mx, &count, &unusable), DNS_MX_LIST);
	CHECK_INT_EQ(count, 0);
	CHECK_INT_EQ(unusable, 1);

	/* The same host twice (any case): its more preferred entry stays. */
	packet_start(&packet, "dup.test", 3);
	packet_mx(&packet, "dup.test", 30, "MX1.dup.test");
	packet_mx(&packet, "dup.test", 20, "mx2.dup.test");
	packet_mx(&packet, "dup.test", 10, "mx1.dup.test");
	CHECK_INT_EQ(from_packet(1, mx, &count, &unusable), DNS_MX_LIST);
	CHECK_INT_EQ(count, 2);
	CHECK_STR_EQ(mx[0].name, "mx1.dup.test");
	CHECK_STR_EQ(mx[1].name, "mx2.dup.test");

	/* Hundreds of records: the most preferred 16 are kept, in order,
	 * even when they come last. */
	packet_start(&packet, "big.test", 300);
	for (int i = 0; i < 300; i++) {
		char name[32];
		snprintf(name, sizeof name, "mx%d.big.test", i);
		packet_mx(&packet, "big.test", (unsigned)(3000 - i * 10), name);
	}
	CHECK_INT_EQ(from_packet(1, mx, &count, &unusable), DNS_MX_LIST);
	CHECK_INT_EQ(count, DNS_MAX_HOSTS);
	CHECK_STR_EQ(mx[0].name, "mx299.big.test");
	CHECK_INT_EQ(mx[0].preference, 10);
	CHECK_INT_EQ(mx[15].preference, 160);

	/* Preference 65535 and 0 sort as numbers. */
	packet_start(&packet, "edge.test", 2);
	packet_mx(&packet, "edge.test", 65535, "last.edge.test");
	packet_mx(&packet, "edge.test", 0, "first.edge.test");
	from_packet(1, mx, &count, &unusable);
	CHECK_STR_EQ(mx[0].name, "first.edge.test");
	CHECK_INT_EQ(mx[1].preference, 65535);

	/* A CNAME and no MX: no MX records, so the implicit MX. */
	packet_start(&packet, "alias.test", 1);
	packet_cname(&packet, "alias.test", "target.test");
	CHECK_INT_EQ(from_packet(1, mx, &count, &unusable), DNS_MX_NONE);

	/* Broken answers: cut anywhere, they never crash and never give
	 * hosts that were not in them. */
	packet_start(&packet, "cut.test", 2);
	packet_mx(&packet, "cut.test", 10, "a.cut.test");
	packet_mx(&packet, "cut.test", 20, "b.cut.test");
	size_t full = packet.len;
	for (size_t len = 0; len < full; len++) {
		uint64_t seed = 3;
		enum dns_mx_answer a =
		    dns_mx_from_answer(packet.data, (int)len, &seed, mx, &count, &unusable);
		CHECK(a == DNS_MX_BAD || (a == DNS_MX_LIST && count == 1));
	}
	CHECK_INT_EQ(dns_mx_from_answer(packet.data, 0, &(uint64_t){1}, mx, &count, &unusable),
		     DNS_MX_BAD);

	/* dns_order_mx alone: a permutation, sorted, every order of a run
	 * of four equals reachable. */
	int seen[24] = {0};
	for (uint64_t seed = 0; seed < 2000; seed++) {
		struct dns_mx m[6];
		const unsigned prefs[6] = {50, 5, 5, 5, 5, 1};
		for (int i = 0; i < 6; i++) {
			snprintf(m[i].name, sizeof m[i].name, "%d", i);
			m[i].preference = prefs[i];
		}
		uint64_t state = seed;
		dns_order_mx(m, 6, &state);
		CHECK(strcmp(m[0].name, "5") == 0 && strcmp(m[5].name, "0") == 0);
		int code = 0, used = 0;
		for (int i = 1; i <= 4; i++) {
			int v = m[i].name[0] - '1'; /* 0..3 */
			CHECK(v >= 0 && v < 4 && !(used & (1 << v)));
			used |= 1 << v;
			code = code * 4 + v;
		}
		/* code identifies the permutation; map to 0..23 by rank */
		int rank = 0;
		for (int a = 0; a < 256; a++) {
			int d[4] = {a >> 6, (a >> 4) & 3, (a >> 2) & 3, a & 3}, ok = 1;
			for (int x = 0; x < 4; x++)
				for (int y = x + 1; y < 4; y++)
					ok &= d[x] != d[y];
			if (!ok)
				continue;
			if (a == code)
				seen[rank]++;
			rank++;
		}
	}
	int orders = 0;
	for (int i = 0; i < 24; i++)
		orders += seen[i] > 0;
	CHECK_INT_EQ(orders, 24);
}

/* ---- unbound ---- */

struct unbound {
	pid_t pid;
	int port;
	int ipv6; /* also listening on ::1 */
	char dir[64];
};

static struct unbound server = {.pid = -1};

static void
stop_unbound(void)
{
	if (server.pid <= 0)
		return;
	kill(server.pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(server.pid, NULL, WNOHANG) == server.pid) {
			server.pid = -1;
			return;
		}
		usleep(10000);
	}
	kill(server.pid, SIGKILL);
	waitpid(server.pid, NULL, 0);
	server.pid = -1;
}

static void
remove_dir(void)
{
	char path[128];
	const char *files[] = {"unbound.conf", "unbound.log"};
	if (server.dir[0] == '\0')
		return;
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", server.dir, files[i]);
		unlink(path);
	}
	rmdir(server.dir);
	server.dir[0] = '\0';
}

static void
cleanup(void)
{
	stop_unbound();
	remove_dir();
}

static void
on_signal(int sig)
{
	if (server.pid > 0)
		kill(server.pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A UDP socket bound to a free port on 127.0.0.1 that never reads:
 * what is sent to it gets no answer and no refusal. */
static int
silent_socket(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("test_dns: silent socket");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Whether type/port can be bound on addr right now. */
static int
port_free(int family, int type, int port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof *sin6;
	}
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return ok;
}

/* A free port (UDP and TCP) on 127.0.0.1, and on ::1 if wanted. */
static int
pick_port(int want_ipv6)
{
	for (int attempt = 0; attempt < 50; attempt++) {
		int port;
		int fd = silent_socket(&port);
		close(fd);
		if (port < 1024 || !port_free(AF_INET, SOCK_STREAM, port))
			continue;
		if (want_ipv6 && (!port_free(AF_INET6, SOCK_DGRAM, port) ||
				  !port_free(AF_INET6, SOCK_STREAM, port)))
			continue;
		return port;
	}
	return -1;
}

static void
write_conf(const char *path, int port, int ipv6)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(f,
		"server:\n"
		"  interface: 127.0.0.1@%d\n",
		port);
	if (ipv6)
		fprintf(f, "  interface: ::1@%d\n  access-control: ::1 allow\n", port);
	fprintf(f,
		"  port: %d\n"
		"  do-daemonize: no\n"
		"  username: \"\"\n"
		"  chroot: \"\"\n"
		"  directory: \"%s\"\n"
		"  pidfile: \"\"\n"
		"  use-syslog: no\n"
		"  verbosity: 0\n"
		"  num-threads: 1\n"
		"  do-ip6: %s\n" /* "no" would not listen on ::1 either */
		"  access-control: 127.0.0.0/8 allow\n"
		"  module-config: \"iterator\"\n"
		"  local-zone: \"test.\" static\n",
		port, server.dir, ipv6 ? "yes" : "no");
	static const char *data[] = {
	    "good.test. MX 10 mx1.good.test.",
	    "good.test. MX 20 mx2.good.test.",
	    "good.test. MX 20 mx3.good.test.",
	    "mx1.good.test. A 127.0.0.2",
	    "mx2.good.test. A 127.0.0.3",
	    "mx3.good.test. A 127.0.0.4",
	    "mx3.good.test. AAAA ::1",
	    "nomx.test. A 127.0.0.4",
	    "nullmx.test. MX 0 .",
	    "mixednull.test. MX 0 .",
	    "mixednull.test. MX 10 mx1.good.test.",
	    "skip.test. MX 10 noaddr.skip.test.",
	    "skip.test. MX 15 txtonly.skip.test.",
	    "skip.test. MX 20 mx.skip.test.",
	    "txtonly.skip.test. TXT \"no address here\"",
	    "mx.skip.test. A 127.0.0.5",
	    "dangling.test. MX 10 gone1.dangling.test.",
	    "dangling.test. MX 20 gone2.dangling.test.",
	    "empty.test. TXT \"no mail here\"",
	    "v6only.test. MX 10 mx.v6only.test.",
	    "mx.v6only.test. AAAA ::1",
	    "literal.test. MX 10 127.0.0.6.",
	    "localhost.test. MX 10 localhost.",
	    "dup.test. MX 10 mx1.good.test.",
	    "dup.test. MX 30 mx1.good.test.",
	    "dup.test. MX 20 mx2.good.test.",
	    "mxfail.test. MX 10 host.servfail.test.",
	    "mxfail.test. MX 20 mx1.good.test.",
	    "mxfailonly.test. MX 10 host.servfail.test.",
	    NULL,
	};
	for (size_t i = 0; data[i] != NULL; i++)
		fprintf(f, "  local-data: '%s'\n", data[i]);
	/* 20 MX, most preferred last; each host with one address. */
	for (int i = 0; i < 20; i++) {
		fprintf(f, "  local-data: 'big.test. MX %d mx%d.big.test.'\n", 200 - i * 10, i);
		fprintf(f, "  local-data: 'mx%d.big.test. A 127.0.1.%d'\n", i, i + 1);
	}
	/* 12 A and 40 AAAA: the AAAA answer is over 512 bytes, so it comes
	 * truncated over UDP and again over TCP. */
	fprintf(f, "  local-data: 'manyaddr.test. MX 10 many.manyaddr.test.'\n");
	for (int i = 1; i <= 12; i++)
		fprintf(f, "  local-data: 'many.manyaddr.test. A 127.0.2.%d'\n", i);
	for (int i = 1; i <= 40; i++)
		fprintf(f, "  local-data: 'many.manyaddr.test. AAAA fd00::%x'\n", i);
	/* Unbound does not query localhost servers (do-not-query-localhost),
	 * so this stub fails at once: SERVFAIL. */
	fprintf(f, "  local-zone: \"servfail.test.\" transparent\n"
		   "  local-zone: \"refused.test.\" refuse\n"
		   "stub-zone:\n"
		   "  name: \"servfail.test.\"\n"
		   "  stub-addr: 127.0.0.1@9\n");
	fclose(f);
}

/* One MX query for good.test by hand (not through lib/dns): 1 when a
 * response comes back within timeout_ms. */
static int
probe(int port, int timeout_ms)
{
	struct packet q;
	q.len = 0;
	put16(&q, 0x4242);
	put16(&q, 0x0100);
	put16(&q, 1);
	put16(&q, 0);
	put16(&q, 0);
	put16(&q, 0);
	put_name(&q, "good.test");
	put16(&q, 15);
	put16(&q, 1);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ok = 0;
	if (fd == -1)
		return 0;
	if (sendto(fd, q.data, q.len, 0, (struct sockaddr *)&sin, sizeof sin) == (ssize_t)q.len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		unsigned char answer[512];
		if (poll(&p, 1, timeout_ms) == 1) {
			ssize_t n = recv(fd, answer, sizeof answer, 0);
			ok =
			    n >= 12 && answer[0] == 0x42 && answer[1] == 0x42 && (answer[2] & 0x80);
		}
	}
	close(fd);
	return ok;
}

static int
start_unbound(void)
{
	if (access(UNBOUND, X_OK) != 0) {
		fprintf(stderr,
			"test_dns: FATAL: %s is missing: install the unbound package "
			"(see TESTPEERS.md); the DNS tests cannot run\n",
			UNBOUND);
		return -1;
	}
	snprintf(server.dir, sizeof server.dir, "/tmp/test_dns.XXXXXX");
	if (mkdtemp(server.dir) == NULL) {
		perror("test_dns: mkdtemp");
		server.dir[0] = '\0';
		return -1;
	}
	char conf[128], log[128];
	snprintf(conf, sizeof conf, "%s/unbound.conf", server.dir);
	snprintf(log, sizeof log, "%s/unbound.log", server.dir);
	int ipv6 = port_free(AF_INET6, SOCK_DGRAM, 0);
	pid_t parent = getpid();
	for (int attempt = 0; attempt < 5; attempt++) {
		server.port = pick_port(ipv6);
		server.ipv6 = ipv6;
		if (server.port == -1)
			continue;
		write_conf(conf, server.port, ipv6);
		fflush(NULL);
		pid_t pid = fork();
		if (pid == -1) {
			perror("test_dns: fork");
			return -1;
		}
		if (pid == 0) {
			/* Dies with this test, whatever way it ends. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(127);
			int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (fd != -1) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execl(UNBOUND, "unbound", "-d", "-c", conf, (char *)NULL);
			_exit(127);
		}
		server.pid = pid;
		double until = now_seconds() + 5;
		while (now_seconds() < until) {
			if (waitpid(pid, NULL, WNOHANG) == pid) {
				server.pid = -1;
				break;
			}
			if (probe(server.port, 100))
				return 0;
		}
		char line[256];
		FILE *f = fopen(log, "r");
		fprintf(stderr, "test_dns: unbound on port %d did not answer (attempt %d):\n",
			server.port, attempt + 1);
		while (f != NULL && fgets(line, sizeof line, f) != NULL)
			fprintf(stderr, "  %s", line);
		if (f != NULL)
			fclose(f);
		stop_unbound();
	}
	return -1;
}

/* ---- resolutions against unbound ---- */

static struct dns_servers unbound_servers;

static struct dns_resolver *
new_resolver(const struct dns_servers *servers, long deadline_ms, long try_ms, int families)
{
	struct buf err = BUF_INIT;
	struct dns_config config = {.servers = servers,
				    .deadline_ms = deadline_ms,
				    .try_timeout_ms = try_ms,
				    .tries = 2,
				    .families = families};
	struct dns_resolver *r = dns_resolver_new(&config, &err);
	if (r == NULL) {
		fprintf(stderr, "test_dns: dns_resolver_new: %s\n", buf_cstr(&err));
		cleanup();
		exit(1);
	}
	buf_free(&err);
	return r;
}

static void
servers_from(const char *text, struct dns_servers *out)
{
	struct buf err = BUF_INIT;
	if (dns_parse_servers(text, strlen(text), "test", out, &err) == -1) {
		fprintf(stderr, "test_dns: %s\n", buf_cstr(&err));
		cleanup();
		exit(1);
	}
	buf_free(&err);
}

/* "name=pref:addr,addr name=pref:addr": the hosts of a result, in order. */
static const char *
hosts_text(const struct dns_result *res)
{
	static struct buf text = BUF_INIT;
	buf_reset(&text);
	for (size_t i = 0; i < res->host_count; i++) {
		const struct dns_host *h = &res->hosts[i];
		buf_printf(&text, "%s%s=%u:", i ? " " : "", h->name, h->preference);
		for (size_t k = 0; k < h->address_count; k++)
			buf_printf(&text, "%s%s", k ? "," : "", h->address[k].text);
	}
	return buf_cstr(&text);
}

/* hosts NULL: only that it succeeds. */
static void
check_ok(struct dns_resolver *r, const char *domain, const char *hosts, int implicit,
	 size_t skipped)
{
	struct dns_result res;
	CHECK_INT_EQ(dns_resolve_mx(r, domain, &res, 7), DNS_OK);
	CHECK_INT_EQ(res.status, DNS_OK);
	CHECK_STR_EQ(res.code, "");
	CHECK_STR_EQ(res.reason, "");
	if (hosts != NULL) {
		CHECK_STR_EQ(hosts_text(&res), hosts);
		if (strcmp(hosts_text(&res), hosts) != 0)
			fprintf(stderr, "  (domain %s)\n", domain);
	} else {
		CHECK(res.host_count > 0);
	}
	CHECK_INT_EQ(res.implicit_mx, implicit);
	CHECK_INT_EQ(res.hosts_skipped, skipped);
	dns_result_free(&res);
}

static void
check_fail(struct dns_resolver *r, const char *domain, enum dns_status status, const char *code,
	   const char *reason)
{
	struct dns_result res;
	CHECK_INT_EQ(dns_resolve_mx(r, domain, &res, 7), status);
	CHECK_STR_EQ(res.code, code);
	CHECK_STR_EQ(res.reason, reason);
	CHECK_INT_EQ(res.host_count, 0);
	CHECK(res.hosts == NULL);
	if (strcmp(res.reason, reason) != 0)
		fprintf(stderr, "  (domain %s)\n", domain);
	dns_result_free(&res);
}

static void
test_resolutions(void)
{
	struct dns_resolver *r = new_resolver(&unbound_servers, 5000, 1000, 0);
	struct dns_result res;

	/* MX order, addresses of both families, IPv4 first. */
	check_ok(r, "good.test", NULL, 0, 0); /* order depends on the seed: below */
	CHECK_INT_EQ(dns_resolve_mx(r, "good.test.", &res, 1), DNS_OK);
	CHECK_INT_EQ(res.host_count, 3);
	if (res.host_count == 3) {
		CHECK_STR_EQ(res.hosts[0].name, "mx1.good.test");
		CHECK_INT_EQ(res.hosts[0].preference, 10);
		CHECK_STR_EQ(res.hosts[0].address[0].text, "127.0.0.2");
		const struct sockaddr_in *sin =
		    (const struct sockaddr_in *)&res.hosts[0].address[0].addr;
		CHECK_INT_EQ(sin->sin_family, AF_INET);
		CHECK_INT_EQ(sin->sin_port, 0);
		CHECK_INT_EQ(ntohl(sin->sin_addr.s_addr), 0x7f000002);
		CHECK_INT_EQ(res.hosts[0].address[0].addr_len, sizeof(struct sockaddr_in));
		for (size_t i = 1; i < 3; i++) {
			const struct dns_host *h = &res.hosts[i];
			CHECK_INT_EQ(h->preference, 20);
			if (strcmp(h->name, "mx3.good.test") == 0) {
				CHECK_INT_EQ(h->address_count, 2);
				CHECK_STR_EQ(h->address[0].text, "127.0.0.4");
				CHECK_STR_EQ(h->address[1].text, "::1");
				const struct sockaddr_in6 *sin6 =
				    (const struct sockaddr_in6 *)&h->address[1].addr;
				CHECK_INT_EQ(sin6->sin6_family, AF_INET6);
				CHECK(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
				CHECK_INT_EQ(h->address[1].addr_len, sizeof(struct sockaddr_in6));
			} else {
				CHECK_STR_EQ(h->name, "mx2.good.test");
				CHECK_STR_EQ(h->address[0].text, "127.0.0.3");
			}
		}
	}
	dns_result_free(&res);

	/* Equal preferences: both orders happen, decided by the seed alone;
	 * mx1 always first. */
	int mx2_first = 0, mx3_first = 0, same = 1;
	for (uint64_t seed = 0; seed < 40; seed++) {
		struct dns_result again;
		dns_resolve_mx(r, "good.test", &res, seed);
		dns_resolve_mx(r, "good.test", &again, seed);
		CHECK_INT_EQ(res.host_count, 3);
		if (res.host_count != 3 || again.host_count != 3) {
			dns_result_free(&res);
			dns_result_free(&again);
			continue;
		}
		CHECK_STR_EQ(res.hosts[0].name, "mx1.good.test");
		mx2_first += strcmp(res.hosts[1].name, "mx2.good.test") == 0;
		mx3_first += strcmp(res.hosts[1].name, "mx3.good.test") == 0;
		same &= strcmp(res.hosts[1].name, again.hosts[1].name) == 0;
		dns_result_free(&res);
		dns_result_free(&again);
	}
	CHECK_INT_EQ(mx2_first + mx3_first, 40);
	CHECK(mx2_first >= 5 && mx3_first >= 5);
	CHECK(same);

	check_ok(r, "nomx.test", "nomx.test=0:127.0.0.4", 1, 0);
	check_ok(r, "NoMX.Test.", "NoMX.Test=0:127.0.0.4", 1, 0);
	check_fail(r, "nullmx.test", DNS_PERMANENT, "5.1.10", "null MX");
	check_ok(r, "mixednull.test", "mx1.good.test=10:127.0.0.2", 0, 0);
	check_fail(r, "nosuch.test", DNS_PERMANENT, "5.1.2", "no such domain (NXDOMAIN)");
	check_fail(r, "deeper.nosuch.test", DNS_PERMANENT, "5.1.2", "no such domain (NXDOMAIN)");
	check_fail(r, "x.servfail.test", DNS_TEMPORARY, "4.4.3", "DNS server failure (SERVFAIL)");
	check_fail(r, "refused.test", DNS_TEMPORARY, "4.4.3",
		   "DNS server refused the query (REFUSED)");
	/* MX hosts without addresses (NXDOMAIN, NODATA) are skipped. */
	check_ok(r, "skip.test", "mx.skip.test=20:127.0.0.5", 0, 2);
	/* ... and when none has one, the domain is deferred, not bounced. */
	check_fail(r, "dangling.test", DNS_TEMPORARY, "4.4.3",
		   "no MX host has an address (gone1.dangling.test: no such domain (NXDOMAIN))");
	/* An MX host whose lookup fails for now is skipped as well. */
	check_ok(r, "mxfail.test", "mx1.good.test=20:127.0.0.2", 0, 1);
	check_fail(r, "mxfailonly.test", DNS_TEMPORARY, "4.4.3",
		   "no MX host has an address (host.servfail.test: DNS server failure "
		   "(SERVFAIL))");
	/* No MX and no address: nothing says where mail would go. */
	check_fail(r, "empty.test", DNS_PERMANENT, "5.1.2", "no MX and no address records");
	check_ok(r, "v6only.test", "mx.v6only.test=10:::1", 0, 0);
	check_ok(r, "literal.test", "127.0.0.6=10:127.0.0.6", 0, 0);
	check_ok(r, "localhost.test", "localhost=10:127.0.0.1,::1", 0, 0);
	check_ok(r, "dup.test", "mx1.good.test=10:127.0.0.2 mx2.good.test=20:127.0.0.3", 0, 0);

	/* 20 MX: the 16 most preferred, in order. */
	CHECK_INT_EQ(dns_resolve_mx(r, "big.test", &res, 1), DNS_OK);
	CHECK_INT_EQ(res.host_count, DNS_MAX_HOSTS);
	for (size_t i = 0; i < res.host_count; i++) {
		char name[32], address[32];
		snprintf(name, sizeof name, "mx%zu.big.test", 19 - i);
		snprintf(address, sizeof address, "127.0.1.%zu", 20 - i);
		CHECK_STR_EQ(res.hosts[i].name, name);
		CHECK_INT_EQ(res.hosts[i].preference, 10 + 10 * i);
		CHECK_STR_EQ(res.hosts[i].address[0].text, address);
	}
	dns_result_free(&res);

	/* 52 addresses: 16 kept, IPv4 first; the AAAA answer came over TCP. */
	CHECK_INT_EQ(dns_resolve_mx(r, "manyaddr.test", &res, 1), DNS_OK);
	CHECK_INT_EQ(res.host_count, 1);
	if (res.host_count == 1) {
		const struct dns_host *h = &res.hosts[0];
		CHECK_INT_EQ(h->address_count, DNS_MAX_ADDRESSES);
		int v4 = 0, v6 = 0, v4_first = 1;
		for (size_t k = 0; k < h->address_count; k++) {
			if (h->address[k].addr.ss_family == AF_INET)
				v4++, v4_first &= v6 == 0;
			else
				v6++;
		}
		CHECK_INT_EQ(v4, 12);
		CHECK_INT_EQ(v6, 4);
		CHECK(v4_first);
	}
	dns_result_free(&res);

	/* Names refused before any query. */
	check_fail(r, "", DNS_PERMANENT, "5.1.3", "invalid domain: empty domain");
	check_fail(r, "bad..test", DNS_PERMANENT, "5.1.3", "invalid domain: empty label in domain");
	check_fail(r, "sp ace.test", DNS_PERMANENT, "5.1.3",
		   "invalid domain: character not allowed in a domain");
	/* Address literals: no DNS at all. */
	check_ok(r, "[127.0.0.9]", "[127.0.0.9]=0:127.0.0.9", 1, 0);
	check_ok(r, "[IPv6:::1]", "[IPv6:::1]=0:::1", 1, 0);
	check_ok(r, "[ipv6:2001:DB8::1]", "[ipv6:2001:DB8::1]=0:2001:db8::1", 1, 0);
	check_fail(r, "[127.0.0.999]", DNS_PERMANENT, "5.1.3",
		   "invalid domain: bad address literal");
	check_fail(r, "[::1]", DNS_PERMANENT, "5.1.3", "invalid domain: bad address literal");
	check_fail(r, "[127.0.0.1", DNS_PERMANENT, "5.1.3", "invalid domain: bad address literal");
	check_fail(r, "[]", DNS_PERMANENT, "5.1.3", "invalid domain: bad address literal");
	dns_resolver_free(r);

	/* IPv4 only: an IPv6-only host has no usable address. */
	r = new_resolver(&unbound_servers, 5000, 1000, DNS_FAMILY_IPV4);
	check_fail(r, "v6only.test", DNS_TEMPORARY, "4.4.3",
		   "no MX host has an address (mx.v6only.test: no address records)");
	check_ok(r, "localhost.test", "localhost=10:127.0.0.1", 0, 0);
	check_fail(r, "[IPv6:::1]", DNS_TEMPORARY, "4.4.3",
		   "address literal of a disabled address family");
	dns_resolver_free(r);
	r = new_resolver(&unbound_servers, 5000, 1000, DNS_FAMILY_IPV6);
	check_ok(r, "good.test", "mx3.good.test=20:::1", 0, 2);
	check_ok(r, "v6only.test", "mx.v6only.test=10:::1", 0, 0);
	check_fail(r, "nomx.test", DNS_PERMANENT, "5.1.2", "no MX and no address records");
	dns_resolver_free(r);
}

static void
test_servers_in_use(int silent_port)
{
	struct dns_servers servers;
	char text[128];
	struct dns_result res;

	/* The first server is silent: after one try's timeout, the second. */
	snprintf(text, sizeof text, "127.0.0.1:%d\n127.0.0.1:%d\n", silent_port, server.port);
	servers_from(text, &servers);
	struct dns_resolver *r = new_resolver(&servers, 3000, 200, 0);
	double start = now_seconds();
	CHECK_INT_EQ(dns_resolve_mx(r, "nomx.test", &res, 1), DNS_OK);
	double took = now_seconds() - start;
	CHECK(took >= 0.15 && took < 2.0);
	dns_result_free(&res);
	dns_resolver_free(r);

	/* Over IPv6 to [::1]. */
	if (server.ipv6) {
		snprintf(text, sizeof text, "[::1]:%d", server.port);
		servers_from(text, &servers);
		r = new_resolver(&servers, 3000, 500, 0);
		check_ok(r, "nomx.test", "nomx.test=0:127.0.0.4", 1, 0);
		check_fail(r, "nullmx.test", DNS_PERMANENT, "5.1.10", "null MX");
		dns_resolver_free(r);
	} else {
		fprintf(stderr, "test_dns: no ::1 here, the IPv6 server case is not run\n");
	}

	/* Nothing listening at all (ICMP port unreachable) is temporary. */
	int closed_port = pick_port(0);
	snprintf(text, sizeof text, "127.0.0.1:%d", closed_port);
	servers_from(text, &servers);
	r = new_resolver(&servers, 2000, 200, 0);
	CHECK_INT_EQ(dns_resolve_mx(r, "good.test", &res, 1), DNS_TEMPORARY);
	CHECK_STR_EQ(res.code, "4.4.3");
	dns_result_free(&res);
	dns_resolver_free(r);

	/* The system's servers: the resolver can be made (not used here). */
	r = new_resolver(NULL, 0, 0, 0);
	dns_resolver_free(r);
}

static void
test_deadlines(int silent_port)
{
	struct dns_servers servers;
	char text[64];
	struct dns_result res;
	const long deadline = 400;

	/* A server that never answers: temporary "timeout" at the deadline,
	 * not after c-ares's own (much longer) tries. */
	snprintf(text, sizeof text, "127.0.0.1:%d", silent_port);
	servers_from(text, &servers);
	struct dns_resolver *r = new_resolver(&servers, deadline, 5000, 0);
	double start = now_seconds();
	CHECK_INT_EQ(dns_resolve_mx(r, "good.test", &res, 1), DNS_TEMPORARY);
	double took = (now_seconds() - start) * 1000;
	CHECK_STR_EQ(res.code, "4.4.3");
	CHECK_STR_EQ(res.reason, "timeout");
	CHECK(took >= deadline - 5 && took <= deadline + 250);
	fprintf(stderr, "test_dns: silent server: timeout after %.0f ms (deadline %ld)\n", took,
		deadline);
	dns_result_free(&res);
	/* Again on the same resolver, with the first queries still out. */
	start = now_seconds();
	CHECK_INT_EQ(dns_resolve_mx(r, "nomx.test", &res, 1), DNS_TEMPORARY);
	took = (now_seconds() - start) * 1000;
	CHECK_STR_EQ(res.reason, "timeout");
	CHECK(took >= deadline - 5 && took <= deadline + 250);
	dns_result_free(&res);
	dns_resolver_free(r);
}

/* ---- a scripted DNS server inside this program ----
 *
 * For answers unbound cannot be made to give: one MX host answered and
 * the other never, or a SERVFAIL for A next to a NODATA for AAAA.  The
 * test drives the lookup with the async API and serves the queries in
 * the same poll loop.
 */

static void
put32(struct packet *p, unsigned long v)
{
	put16(p, (unsigned)(v >> 16));
	put16(p, (unsigned)(v & 0xffff));
}

/* An answer record for the question's name (a pointer to offset 12). */
static void
answer_record(struct packet *p, unsigned type, const void *rdata, size_t len)
{
	put16(p, 0xc00c);
	put16(p, type);
	put16(p, 1);
	put32(p, 60);
	put16(p, (unsigned)len);
	memcpy(p->data + p->len, rdata, len);
	p->len += len;
}

static void
answer_mx(struct packet *p, unsigned preference, const char *target)
{
	struct packet rdata;
	rdata.len = 0;
	put16(&rdata, preference);
	put_name(&rdata, target);
	answer_record(p, 15, rdata.data, rdata.len);
}

static void
fake_serve(int fd)
{
	unsigned char q[512];
	struct sockaddr_storage from;
	socklen_t from_len = sizeof from;
	ssize_t n = recvfrom(fd, q, sizeof q, MSG_DONTWAIT, (struct sockaddr *)&from, &from_len);
	if (n < 17)
		return;
	char name[256];
	size_t pos = 12, out = 0;
	while (pos < (size_t)n && q[pos] != 0 && q[pos] < 64 && out + q[pos] + 1 < sizeof name) {
		if (out > 0)
			name[out++] = '.';
		memcpy(name + out, q + pos + 1, q[pos]);
		out += q[pos];
		pos += q[pos] + 1u;
	}
	name[out] = '\0';
	if (pos + 5 > (size_t)n)
		return;
	unsigned type = (unsigned)q[pos + 1] << 8 | q[pos + 2];
	static struct packet p;
	memcpy(p.data, q, pos + 5);
	p.len = pos + 5;
	unsigned rcode = 0, ancount = 0;
	if (strcasecmp(name, "partial.test") == 0 && type == 15) {
		answer_mx(&p, 10, "slow.partial.test");
		answer_mx(&p, 20, "fast.partial.test");
		ancount = 2;
	} else if (strcasecmp(name, "fast.partial.test") == 0 && type == 1) {
		answer_record(&p, 1, "\x7f\x00\x00\x07", 4);
		ancount = 1;
	} else if (strcasecmp(name, "slow.partial.test") == 0) {
		return; /* never answered */
	} else if (strcasecmp(name, "flaky.test") == 0) {
		rcode = type == 1 ? 2 : 0; /* SERVFAIL for A, NODATA for MX and AAAA */
	} else if (strcasecmp(name, "formerr.test") == 0) {
		rcode = 1;
	} else if (strcasecmp(name, "fast.partial.test") != 0) {
		rcode = 3;
	}
	p.data[2] = (unsigned char)(0x80 | (q[2] & 0x01)); /* QR, RD copied */
	p.data[3] = (unsigned char)(0x80 | rcode);
	p.data[6] = (unsigned char)(ancount >> 8);
	p.data[7] = (unsigned char)ancount;
	p.data[8] = p.data[9] = p.data[10] = p.data[11] = 0;
	sendto(fd, p.data, p.len, 0, (struct sockaddr *)&from, from_len);
}

/* Resolves domain with the scripted server; *ms: how long it took. */
static void
fake_resolve(int fake_fd, int fake_port, long deadline, const char *domain, struct dns_result *res,
	     double *ms)
{
	char text[64];
	struct dns_servers servers;
	snprintf(text, sizeof text, "127.0.0.1:%d", fake_port);
	servers_from(text, &servers);
	struct dns_resolver *r = new_resolver(&servers, deadline, 5000, 0);
	double start = now_seconds();
	struct dns_lookup *l = dns_lookup_start(r, domain, 1);
	while (!dns_lookup_done(l) && now_seconds() < start + 5) {
		struct pollfd fds[DNS_MAX_FDS + 1];
		size_t n = dns_resolver_pollfds(r, fds, DNS_MAX_FDS);
		fds[n].fd = fake_fd;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		poll(fds, n + 1, dns_resolver_timeout(r));
		if (fds[n].revents & POLLIN)
			fake_serve(fake_fd);
		dns_resolver_process(r, fds, n);
	}
	*ms = (now_seconds() - start) * 1000;
	dns_lookup_finish(l, res);
	dns_resolver_free(r);
}

static void
test_scripted(void)
{
	int port;
	int fd = silent_socket(&port); /* silent until served */
	struct dns_result res;
	double took;
	const long deadline = 400;

	/* The deadline passes while one MX host is still being looked up:
	 * the hosts already known are used. */
	fake_resolve(fd, port, deadline, "partial.test", &res, &took);
	CHECK_INT_EQ(res.status, DNS_OK);
	CHECK_STR_EQ(hosts_text(&res), "fast.partial.test=20:127.0.0.7");
	CHECK_INT_EQ(res.hosts_skipped, 1);
	CHECK(took >= deadline - 5 && took <= deadline + 250);
	dns_result_free(&res);

	/* No MX, SERVFAIL for A and NODATA for AAAA: temporary, whichever
	 * answer comes last (never "no address", which would be permanent). */
	fake_resolve(fd, port, 2000, "flaky.test", &res, &took);
	CHECK_INT_EQ(res.status, DNS_TEMPORARY);
	CHECK_STR_EQ(res.code, "4.4.3");
	CHECK_STR_EQ(res.reason, "DNS server failure (SERVFAIL)");
	CHECK_INT_EQ(res.implicit_mx, 1);
	CHECK(took < 1000);
	dns_result_free(&res);

	fake_resolve(fd, port, 2000, "formerr.test", &res, &took);
	CHECK_INT_EQ(res.status, DNS_TEMPORARY);
	CHECK_STR_EQ(res.reason, "DNS server did not understand the query (FORMERR)");
	dns_result_free(&res);

	fake_resolve(fd, port, 2000, "nothing.test", &res, &took);
	CHECK_INT_EQ(res.status, DNS_PERMANENT);
	CHECK_STR_EQ(res.code, "5.1.2");
	dns_result_free(&res);
	close(fd);
}

/* Several lookups at once on one resolver, driven by hand. */
static void
test_async(int silent_port)
{
	struct dns_resolver *r = new_resolver(&unbound_servers, 3000, 1000, 0);
	const char *domains[] = {"good.test",	"nomx.test", "nosuch.test",  "nullmx.test",
				 "[127.0.0.1]", "bad..name", "manyaddr.test"};
	enum dns_status expected[] = {DNS_OK, DNS_OK,	     DNS_PERMANENT, DNS_PERMANENT,
				      DNS_OK, DNS_PERMANENT, DNS_OK};
	const size_t n = sizeof domains / sizeof domains[0];
	struct dns_lookup *lookups[sizeof domains / sizeof domains[0]];
	for (size_t i = 0; i < n; i++)
		lookups[i] = dns_lookup_start(r, domains[i], i);
	/* Finished at once: nothing to ask. */
	CHECK(dns_lookup_done(lookups[4]));
	CHECK(dns_lookup_done(lookups[5]));
	CHECK(!dns_lookup_done(lookups[0]));

	double until = now_seconds() + 5;
	size_t done = 0, rounds = 0;
	while (done < n && now_seconds() < until) {
		struct pollfd fds[DNS_MAX_FDS];
		size_t count = dns_resolver_pollfds(r, fds, DNS_MAX_FDS);
		CHECK(count <= DNS_MAX_FDS);
		int timeout = dns_resolver_timeout(r);
		CHECK(timeout >= 0 && timeout <= 3000);
		poll(fds, count, timeout);
		dns_resolver_process(r, fds, count);
		done = 0;
		for (size_t i = 0; i < n; i++)
			done += dns_lookup_done(lookups[i]);
		rounds++;
	}
	CHECK_INT_EQ(done, n);
	for (size_t i = 0; i < n; i++) {
		struct dns_result res;
		dns_lookup_finish(lookups[i], &res);
		CHECK_INT_EQ(res.status, expected[i]);
		dns_result_free(&res);
	}
	/* Nothing left: no sockets wanted with a deadline, no timer. */
	CHECK_INT_EQ(dns_resolver_timeout(r), -1);

	/* Cancelled while its queries are out: freed when they return or
	 * when the resolver goes. */
	struct dns_lookup *l = dns_lookup_start(r, "partial.test", 1);
	struct dns_result res;
	dns_lookup_finish(l, &res);
	CHECK_INT_EQ(res.status, DNS_TEMPORARY);
	CHECK_STR_EQ(res.reason, "cancelled");
	dns_result_free(&res);
	dns_lookup_finish(dns_lookup_start(r, "good.test", 1), NULL);
	dns_resolver_free(r);

	/* A resolver freed under a running lookup ends it. */
	char text[64];
	struct dns_servers servers;
	snprintf(text, sizeof text, "127.0.0.1:%d", silent_port);
	servers_from(text, &servers);
	r = new_resolver(&servers, 3000, 1000, 0);
	l = dns_lookup_start(r, "good.test", 1);
	CHECK(!dns_lookup_done(l));
	dns_resolver_free(r);
	CHECK(dns_lookup_done(l));
	dns_lookup_finish(l, &res);
	CHECK_INT_EQ(res.status, DNS_TEMPORARY);
	CHECK_STR_EQ(res.reason, "resolver shut down");
	dns_result_free(&res);
}

int
main(void)
{
	double start = now_seconds();
	test_servers();
	test_servers_file();
	test_names();
	test_mx_answers();

	int silent_port;
	int silent_fd = silent_socket(&silent_port);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (start_unbound() == -1) {
		CHECK(!"unbound started and answered");
		cleanup();
		return check_report("test_dns");
	}
	char text[64];
	snprintf(text, sizeof text, "127.0.0.1:%d", server.port);
	servers_from(text, &unbound_servers);

	test_resolutions();
	test_servers_in_use(silent_port);
	test_deadlines(silent_port);
	test_scripted();
	test_async(silent_port);

	cleanup();
	CHECK(server.pid == -1);
	close(silent_fd);
	fprintf(stderr, "test_dns: %.2f s\n", now_seconds() - start);
	return check_report("test_dns");
}
