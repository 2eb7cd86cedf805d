/*
 * dns - destination resolution with c-ares.  See dns.h for the rules and
 * why they are what they are.
 *
 * A lookup runs in two phases: one MX query, then address lookups (A and
 * AAAA separately, all hosts at once).  A and AAAA are asked separately,
 * not as one AF_UNSPEC getaddrinfo, because c-ares then reports only the
 * status of whichever query ended last: a SERVFAIL on A followed by a
 * NODATA on AAAA would read as "no address", and for a domain without MX
 * that is a permanent failure.  Each family keeps its own status here.
 *
 * Lifetime: a lookup counts the c-ares callbacks it still expects
 * (pending).  It can end before they all came (deadline, cancel); it is
 * freed when the caller has let go of it and pending is zero, which
 * ares_destroy guarantees at the latest (every query is called back with
 * ARES_EDESTRUCTION).
 */
#include "dns.h"
#include "dnsares.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SERVER_LINE_MAX 200
#define DEFAULT_TRY_TIMEOUT_MS 2000
#define DEFAULT_TRIES 2

/* ---- small helpers ---- */

static int64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t
next_random(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void
copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* ---- names ---- */

int
dns_check_name(const char *name, size_t len, const char **why)
{
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0) {
		*why = "empty domain";
		return -1;
	}
	if (len > DNS_NAME_MAX - 1) {
		*why = "domain longer than 253 characters";
		return -1;
	}
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0) {
				*why = "empty label in domain";
				return -1;
			}
			label = 0;
			continue;
		}
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_')) {
			*why = "character not allowed in a domain";
			return -1;
		}
		if (++label > 63) {
			*why = "domain label longer than 63 characters";
			return -1;
		}
	}
	return 0;
}

/* ---- control/resolvers ---- */

static int
parse_port(const char *s, size_t len, unsigned *port)
{
	if (len == 0 || len > 5)
		return -1;
	unsigned value = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		value = value * 10 + (unsigned)(s[i] - '0');
	}
	if (value < 1 || value > 65535)
		return -1;
	*port = value;
	return 0;
}

static int
parse_server(const char *s, size_t len, struct dns_server *server, const char **why)
{
	char text[SERVER_LINE_MAX + 1];
	const char *port = NULL;
	size_t port_len = 0, addr_len;

	memset(server, 0, sizeof *server);
	server->port = 53;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (close == NULL) {
			*why = "missing ']' after the IPv6 address";
			return -1;
		}
		addr_len = (size_t)(close - s) - 1;
		memcpy(text, s + 1, addr_len);
		text[addr_len] = '\0';
		const char *rest = close + 1, *end = s + len;
		if (rest < end) {
			if (*rest != ':') {
				*why = "expected ':' and a port after ']'";
				return -1;
			}
			port = rest + 1;
			port_len = (size_t)(end - port);
		}
		server->family = AF_INET6;
		if (inet_pton(AF_INET6, text, server->addr) != 1) {
			*why = "bad IPv6 address";
			return -1;
		}
	} else {
		const char *colon = memchr(s, ':', len);
		addr_len = colon ? (size_t)(colon - s) : len;
		if (colon != NULL) {
			port = colon + 1;
			port_len = len - addr_len - 1;
			if (memchr(port, ':', port_len) != NULL) {
				*why = "an IPv6 address must be in brackets, as in [::1]:53";
				return -1;
			}
		}
		memcpy(text, s, addr_len);
		text[addr_len] = '\0';
		for (size_t i = 0; i < addr_len; i++) {
			unsigned char c = (unsigned char)text[i];
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
				*why = "not an IP address (host names are not allowed here)";
				return -1;
			}
		}
		server->family = AF_INET;
		if (inet_pton(AF_INET, text, server->addr) != 1) {
			*why = "bad IPv4 address";
			return -1;
		}
	}
	if (port != NULL && parse_port(port, port_len, &server->port) == -1) {
		*why = "bad port";
		return -1;
	}
	return 0;
}

static int
servers_error(struct buf *err, const char *name, unsigned long line, const char *what)
{
	buf_printf(err, "%s:%lu: %s", name, line, what);
	return -1;
}

int
dns_parse_servers(const char *text, size_t len, const char *name, struct dns_servers *out,
		  struct buf *err)
{
	unsigned long line_of[DNS_MAX_SERVERS];
	unsigned long line = 0;
	size_t pos = 0;

	out->count = 0;
	while (pos < len) {
		const char *s = text + pos;
		const char *newline = memchr(s, '\n', len - pos);
		size_t n = newline ? (size_t)(newline - s) : len - pos;
		pos += n + (newline != NULL);
		line++;
		if (memchr(s, '\0', n) != NULL)
			return servers_error(err, name, line, "contains a NUL byte");
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
			n--;
		while (n > 0 && (*s == ' ' || *s == '\t'))
			s++, n--;
		if (n == 0 || *s == '#')
			continue;
		if (n > SERVER_LINE_MAX)
			return servers_error(err, name, line, "line too long");
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return servers_error(err, name, line,
						     "control character in the line");
		struct dns_server server;
		const char *why;
		if (parse_server(s, n, &server, &why) == -1)
			return servers_error(err, name, line, why);
		for (size_t i = 0; i < out->count; i++) {
			const struct dns_server *o = &out->server[i];
			if (o->family == server.family && o->port == server.port &&
			    memcmp(o->addr, server.addr, sizeof o->addr) == 0) {
				buf_printf(err, "%s:%lu: the same server as line %lu", name, line,
					   line_of[i]);
				return -1;
			}
		}
		if (out->count == DNS_MAX_SERVERS)
			return servers_error(err, name, line, "too many servers (at most 16)");
		line_of[out->count] = line;
		out->server[out->count++] = server;
	}
	return 0;
}

int
dns_read_servers_file(const char *path, struct dns_servers *out, struct buf *err)
{
	out->count = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		buf_printf(err, "unable to open %s: %s", path, strerror(errno));
		return -1;
	}
	struct buf text = BUF_INIT;
	int rc = -1;
	for (;;) {
		buf_reserve(&text, 4096);
		ssize_t n = read(fd, text.data + text.len, text.cap - text.len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			buf_printf(err, "unable to read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		text.len += (size_t)n;
		if (text.len > DNS_SERVERS_FILE_MAX) {
			buf_printf(err, "%s: larger than %d bytes", path, DNS_SERVERS_FILE_MAX);
			goto out;
		}
	}
	rc = dns_parse_servers(text.data, text.len, path, out, err);
out:
	close(fd);
	buf_free(&text);
	return rc;
}

void
dns_format_server(const struct dns_server *server, struct buf *out)
{
	char text[INET6_ADDRSTRLEN];
	inet_ntop(server->family, server->addr, text, sizeof text);
	if (server->family == AF_INET6)
		buf_printf(out, "[%s]:%u", text, server->port);
	else
		buf_printf(out, "%s:%u", text, server->port);
}

/* ---- MX answers ---- */

struct order_key {
	unsigned preference;
	const char *name;
	size_t index;
};

static int
compare_keys(const void *a, const void *b)
{
	const struct order_key *x = a, *y = b;
	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	/* Equal preferences are put in name order before the shuffle: servers
	 * rotate RRsets (unbound does by default), and the order must depend
	 * on the seed alone.  The index makes the sort total. */
	int by_name = strcasecmp(x->name, y->name);
	if (by_name != 0)
		return by_name;
	return x->index < y->index ? -1 : x->index > y->index;
}

void
dns_order_mx(struct dns_mx *mx, size_t count, uint64_t *rng)
{
	if (count > 1) {
		struct order_key *keys = xcalloc(count, sizeof *keys);
		struct dns_mx *sorted = xcalloc(count, sizeof *sorted);
		for (size_t i = 0; i < count; i++)
			keys[i] = (struct order_key){mx[i].preference, mx[i].name, i};
		qsort(keys, count, sizeof *keys, compare_keys);
		for (size_t i = 0; i < count; i++)
			sorted[i] = mx[keys[i].index];
		memcpy(mx, sorted, count * sizeof *mx);
		free(sorted);
		free(keys);
	}
	/* Fisher-Yates over each run of equal preference. */
	for (size_t start = 0, end; start < count; start = end) {
		for (end = start + 1; end < count && mx[end].preference == mx[start].preference;)
			end++;
		for (size_t i = end - 1; i > start; i--) {
			size_t j = start + (size_t)(next_random(rng) % (i - start + 1));
			struct dns_mx t = mx[i];
			mx[i] = mx[j];
			mx[j] = t;
		}
	}
}

enum dns_mx_answer
dns_mx_from_answer(const unsigned char *answer, int len, uint64_t *rng,
		   struct dns_mx mx[DNS_MAX_HOSTS], size_t *count, size_t *unusable)
{
	struct ares_mx_reply *reply = NULL;
	*count = 0;
	*unusable = 0;
	int status = ares_parse_mx_reply(answer, len, &reply);
	/* An answer of only a CNAME parses as success and no records. */
	if (status == ARES_ENODATA || (status == ARES_SUCCESS && reply == NULL))
		return DNS_MX_NONE;
	if (status != ARES_SUCCESS)
		return DNS_MX_BAD;

	/* The answer is outside input and may hold thousands of records:
	 * all of them are sorted, and only then cut to DNS_MAX_HOSTS, so a
	 * long answer cannot push the preferred hosts out. */
	size_t total = 0, null_mx = 0;
	for (struct ares_mx_reply *r = reply; r != NULL; r = r->next)
		total++;
	struct dns_mx *all = xcalloc(total ? total : 1, sizeof *all);
	size_t n = 0;
	for (struct ares_mx_reply *r = reply; r != NULL; r = r->next) {
		const char *why;
		/* c-ares 1.18.1 gives the root name of a null MX as "". */
		if (r->host[0] == '\0' || strcmp(r->host, ".") == 0) {
			null_mx++;
			continue;
		}
		if (dns_check_name(r->host, strlen(r->host), &why) == -1) {
			(*unusable)++;
			continue;
		}
		copy_text(all[n].name, sizeof all[n].name, r->host);
		all[n].preference = r->priority;
		n++;
	}
	ares_free_data(reply);

	enum dns_mx_answer outcome = DNS_MX_LIST;
	if (null_mx > 0 && n == 0 && *unusable == 0) {
		outcome = DNS_MX_NULL;
	} else {
		dns_order_mx(all, n, rng);
		for (size_t i = 0; i < n && *count < DNS_MAX_HOSTS; i++) {
			/* The same host twice: the more preferred copy stays. */
			int duplicate = 0;
			for (size_t k = 0; k < *count && !duplicate; k++)
				duplicate = strcasecmp(mx[k].name, all[i].name) == 0;
			if (!duplicate)
				mx[(*count)++] = all[i];
		}
	}
	free(all);
	return outcome;
}

/* ---- the resolver and its lookups ---- */

struct socket_interest {
	int fd;
	short events;
};

struct dns_resolver {
	ares_channel channel;
	long deadline_ms;
	int families;
	struct socket_interest *sockets;
	size_t socket_count, socket_cap;
	struct dns_lookup *active; /* lookups not yet done, for their deadlines */
};

struct address_query {
	struct dns_lookup *lookup;
	struct host_state *host;
};

/* A host during its address lookups; addresses of each family kept apart
 * so that IPv4 comes first whatever order the answers arrive in. */
struct host_state {
	struct dns_mx mx;
	struct dns_address v4[DNS_MAX_ADDRESSES], v6[DNS_MAX_ADDRESSES];
	size_t v4_count, v6_count;
	int temporary; /* some lookup failed in a way that may pass */
	char error[96];
	struct address_query query[2];
};

enum phase { PHASE_MX, PHASE_ADDRESSES, PHASE_DONE };

struct dns_lookup {
	struct dns_resolver *resolver;
	struct dns_lookup *prev, *next;
	char domain[DNS_NAME_MAX];
	uint64_t rng;
	int64_t deadline_us;
	enum phase phase;
	int pending;  /* c-ares callbacks still to come */
	int released; /* the caller let go: free once pending is 0 */
	int implicit_mx;
	size_t host_count, unusable;
	struct host_state *hosts;
	struct dns_result result;
};

static void
socket_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	size_t i = 0;
	while (i < r->socket_count && r->sockets[i].fd != fd)
		i++;
	if (!readable && !writable) {
		if (i < r->socket_count)
			r->sockets[i] = r->sockets[--r->socket_count];
		return;
	}
	if (i == r->socket_count) {
		if (r->socket_count == r->socket_cap) {
			r->socket_cap = r->socket_cap ? 2 * r->socket_cap : 8;
			r->sockets = xrealloc(r->sockets, r->socket_cap * sizeof *r->sockets);
		}
		r->sockets[r->socket_count++].fd = fd;
	}
	r->sockets[i].events = (short)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
}

int
dns_ares_servers(ares_channel channel, const struct dns_servers *servers, struct buf *err)
{
	if (servers == NULL || servers->count == 0)
		return 0;
	struct ares_addr_port_node nodes[DNS_MAX_SERVERS];
	size_t count = servers->count;
	memset(nodes, 0, sizeof nodes);
	for (size_t i = 0; i < count; i++) {
		const struct dns_server *s = &servers->server[i];
		nodes[i].next = i + 1 < count ? &nodes[i + 1] : NULL;
		nodes[i].family = s->family;
		if (s->family == AF_INET)
			memcpy(&nodes[i].addr.addr4, s->addr, 4);
		else
			memcpy(&nodes[i].addr.addr6, s->addr, 16);
		nodes[i].udp_port = nodes[i].tcp_port = (int)s->port;
	}
	int status = ares_set_servers_ports(channel, nodes);
	if (status != ARES_SUCCESS) {
		buf_printf(err, "unable to set the DNS servers: %s", ares_strerror(status));
		return -1;
	}
	return 0;
}

struct dns_resolver *
dns_resolver_new(const struct dns_config *config, struct buf *err)
{
	int status = ares_library_init(ARES_LIB_INIT_ALL);
	if (status != ARES_SUCCESS) {
		buf_printf(err, "unable to initialize c-ares: %s", ares_strerror(status));
		return NULL;
	}
	struct dns_resolver *r = xcalloc(1, sizeof *r);
	r->deadline_ms = config->deadline_ms > 0 ? config->deadline_ms : DNS_DEFAULT_DEADLINE_MS;
	r->families = config->families ? config->families : DNS_FAMILY_IPV4 | DNS_FAMILY_IPV6;

	struct ares_options options;
	memset(&options, 0, sizeof options);
	char lookups[] = "b"; /* DNS only: /etc/hosts does not route mail */
	options.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
	options.timeout =
	    config->try_timeout_ms > 0 ? (int)config->try_timeout_ms : DEFAULT_TRY_TIMEOUT_MS;
	options.tries = config->tries > 0 ? config->tries : DEFAULT_TRIES;
	options.ndomains = 0; /* and no search list */
	options.domains = NULL;
	options.lookups = lookups;
	options.sock_state_cb = socket_state;
	options.sock_state_cb_data = r;
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS |
		   ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB;
	status = ares_init_options(&r->channel, &options, mask);
	if (status != ARES_SUCCESS) {
		buf_printf(err, "unable to initialize c-ares: %s", ares_strerror(status));
		free(r);
		ares_library_cleanup();
		return NULL;
	}
	if (dns_ares_servers(r->channel, config->servers, err) == -1) {
		dns_resolver_free(r);
		return NULL;
	}
	return r;
}

void
dns_resolver_free(struct dns_resolver *r)
{
	if (r == NULL)
		return;
	/* Calls back every query still out with ARES_EDESTRUCTION, which ends
	 * and frees what the lookups still hold. */
	ares_destroy(r->channel);
	free(r->sockets);
	free(r);
	ares_library_cleanup();
}

static void
lookup_free(struct dns_lookup *l)
{
	free(l->hosts);
	dns_result_free(&l->result);
	free(l);
}

/* A callback came back: frees the lookup if it was its last and nobody
 * holds the lookup any more. */
static void
release_if_unused(struct dns_lookup *l)
{
	if (l->released && l->pending == 0)
		lookup_free(l);
}

static void
end_lookup(struct dns_lookup *l, enum dns_status status, const char *code, const char *reason)
{
	l->result.status = status;
	copy_text(l->result.code, sizeof l->result.code, code);
	copy_text(l->result.reason, sizeof l->result.reason, reason);
	l->result.implicit_mx = l->implicit_mx;
	if (l->phase != PHASE_DONE && l->resolver != NULL) {
		if (l->prev)
			l->prev->next = l->next;
		else
			l->resolver->active = l->next;
		if (l->next)
			l->next->prev = l->prev;
		l->prev = l->next = NULL;
	}
	l->phase = PHASE_DONE;
}

/* One function per kind of failure, each with its enhanced status code. */

static void
fail_null_mx(struct dns_lookup *l)
{
	end_lookup(l, DNS_PERMANENT, "5.1.10", "null MX");
}

static void
fail_no_such_domain(struct dns_lookup *l)
{
	end_lookup(l, DNS_PERMANENT, "5.1.2", "no such domain (NXDOMAIN)");
}

static void
fail_no_route(struct dns_lookup *l)
{
	end_lookup(l, DNS_PERMANENT, "5.1.2", "no MX and no address records");
}

static void
fail_bad_name(struct dns_lookup *l, const char *why)
{
	char reason[sizeof l->result.reason];
	snprintf(reason, sizeof reason, "invalid domain: %s", why);
	end_lookup(l, DNS_PERMANENT, "5.1.3", reason);
}

static void
fail_temporary(struct dns_lookup *l, const char *reason)
{
	end_lookup(l, DNS_TEMPORARY, "4.4.3", reason);
}

/* The words for a c-ares status that is not an answer we can use. */
static const char *
temporary_reason(int status)
{
	switch (status) {
	case ARES_ESERVFAIL:
		return "DNS server failure (SERVFAIL)";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_EREFUSED:
		return "DNS server refused the query (REFUSED)";
	case ARES_ECONNREFUSED:
		return "DNS server unreachable (connection refused)";
	case ARES_EFORMERR:
		return "DNS server did not understand the query (FORMERR)";
	case ARES_ENOTIMP:
		return "DNS server does not implement the query (NOTIMP)";
	case ARES_EBADRESP:
		return "bad DNS response";
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return "resolver shut down";
	default:
		return ares_strerror(status);
	}
}

/* The end of the address phase: the hosts that have addresses, in order. */
static void
end_with_hosts(struct dns_lookup *l, int deadline_passed)
{
	size_t usable = 0, temporary = 0;
	const struct host_state *first_failed = NULL;
	for (size_t i = 0; i < l->host_count; i++) {
		const struct host_state *h = &l->hosts[i];
		if (h->v4_count + h->v6_count > 0)
			usable++;
		else if (first_failed == NULL)
			first_failed = h;
		temporary += h->temporary;
	}
	if (usable == 0) {
		if (deadline_passed) {
			fail_temporary(l, "timeout");
		} else if (l->implicit_mx && temporary == 0) {
			fail_no_route(l);
		} else if (l->implicit_mx) {
			fail_temporary(l, first_failed->error);
		} else {
			/* Names the first host, whose failure is the likeliest
			 * cause; cut to fit the reason. */
			struct buf reason = BUF_INIT;
			buf_printf(&reason, "no MX host has an address (%s: %s)",
				   first_failed->mx.name, first_failed->error);
			fail_temporary(l, buf_cstr(&reason));
			buf_free(&reason);
		}
		return;
	}
	struct dns_result *res = &l->result;
	res->hosts = xcalloc(usable, sizeof *res->hosts);
	for (size_t i = 0; i < l->host_count; i++) {
		const struct host_state *h = &l->hosts[i];
		if (h->v4_count + h->v6_count == 0)
			continue;
		struct dns_host *out = &res->hosts[res->host_count++];
		copy_text(out->name, sizeof out->name, h->mx.name);
		out->preference = h->mx.preference;
		for (size_t k = 0; k < h->v4_count; k++)
			out->address[out->address_count++] = h->v4[k];
		for (size_t k = 0; k < h->v6_count && out->address_count < DNS_MAX_ADDRESSES; k++)
			out->address[out->address_count++] = h->v6[k];
	}
	res->hosts_skipped = l->unusable + (l->host_count - usable);
	end_lookup(l, DNS_OK, "", "");
}

static void
add_address(struct host_state *h, const struct sockaddr *sa, socklen_t len)
{
	if (sa == NULL)
		return;
	struct dns_address *list = sa->sa_family == AF_INET ? h->v4 : h->v6;
	size_t *count = sa->sa_family == AF_INET ? &h->v4_count : &h->v6_count;
	const void *bytes;
	size_t bytes_len;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		bytes = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		bytes_len = 4;
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		bytes = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		bytes_len = 16;
	} else {
		return;
	}
	if (*count == DNS_MAX_ADDRESSES)
		return;
	struct dns_address a;
	memset(&a, 0, sizeof a);
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&a.addr;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, bytes, bytes_len);
		a.addr_len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&a.addr;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, bytes, bytes_len);
		a.addr_len = sizeof *sin6;
	}
	inet_ntop(sa->sa_family, bytes, a.text, sizeof a.text);
	for (size_t i = 0; i < *count; i++)
		if (strcmp(list[i].text, a.text) == 0)
			return;
	list[(*count)++] = a;
}

static void
address_callback(void *arg, int status, int timeouts, struct ares_addrinfo *info)
{
	struct address_query *q = arg;
	struct dns_lookup *l = q->lookup;
	struct host_state *h = q->host;
	(void)timeouts;
	l->pending--;
	if (l->phase == PHASE_ADDRESSES) {
		if (status == ARES_SUCCESS && info != NULL) {
			for (struct ares_addrinfo_node *n = info->nodes; n != NULL; n = n->ai_next)
				add_address(h, n->ai_addr, (socklen_t)n->ai_addrlen);
		} else if (status != ARES_ENOTFOUND && status != ARES_ENODATA) {
			h->temporary = 1;
			copy_text(h->error, sizeof h->error, temporary_reason(status));
		} else if (!h->temporary) {
			copy_text(h->error, sizeof h->error,
				  status == ARES_ENOTFOUND ? "no such domain (NXDOMAIN)"
							   : "no address records");
		}
		if (l->pending == 0)
			end_with_hosts(l, 0);
	}
	if (info != NULL)
		ares_freeaddrinfo(info);
	release_if_unused(l);
}

static void
lookup_addresses(struct dns_lookup *l, struct host_state *h)
{
	unsigned char literal[16];
	char name[DNS_NAME_MAX + 1];
	int families = l->resolver->families, is_literal = 1;
	/* A literal is answered by c-ares without a query; asking for the
	 * other family too would send its text to DNS as a name. */
	if (inet_pton(AF_INET, h->mx.name, literal) == 1)
		families &= DNS_FAMILY_IPV4;
	else if (inet_pton(AF_INET6, h->mx.name, literal) == 1)
		families &= DNS_FAMILY_IPV6;
	else
		is_literal = 0;
	/* Anything else is asked as an absolute name: c-ares 1.18.1 with no
	 * search list never sends a name with fewer dots than ndots (such
	 * as "localhost") and reports ECONNREFUSED instead. */
	snprintf(name, sizeof name, is_literal ? "%s" : "%s.", h->mx.name);
	struct ares_addrinfo_hints hints;
	memset(&hints, 0, sizeof hints);
	/* No RFC 6724 sorting: it probes with connect(), and the order of
	 * the answer is as good as any for mail. */
	hints.ai_flags = ARES_AI_NOSORT;
	hints.ai_socktype = SOCK_STREAM;
	copy_text(h->error, sizeof h->error, "no address records");
	for (int k = 0; k < 2; k++) {
		int family = k == 0 ? AF_INET : AF_INET6;
		if (!(families & (k == 0 ? DNS_FAMILY_IPV4 : DNS_FAMILY_IPV6)))
			continue;
		hints.ai_family = family;
		h->query[k].lookup = l;
		h->query[k].host = h;
		l->pending++;
		ares_getaddrinfo(l->resolver->channel, name, NULL, &hints, address_callback,
				 &h->query[k]);
	}
}

/* Starts the address phase for the hosts in mx[0..count). */
static void
start_addresses(struct dns_lookup *l, const struct dns_mx *mx, size_t count)
{
	l->phase = PHASE_ADDRESSES;
	l->hosts = xcalloc(count ? count : 1, sizeof *l->hosts);
	l->host_count = count;
	/* Held while starting: c-ares may call back at once (literals), and
	 * the lookup must not end before every query is out. */
	l->pending++;
	for (size_t i = 0; i < count; i++) {
		l->hosts[i].mx = mx[i];
		lookup_addresses(l, &l->hosts[i]);
	}
	l->pending--;
	if (l->phase == PHASE_ADDRESSES && l->pending == 0)
		end_with_hosts(l, 0);
}

static void
start_implicit_mx(struct dns_lookup *l)
{
	struct dns_mx self;
	memset(&self, 0, sizeof self);
	copy_text(self.name, sizeof self.name, l->domain);
	l->implicit_mx = 1;
	start_addresses(l, &self, 1);
}

static void
mx_callback(void *arg, int status, int timeouts, unsigned char *answer, int len)
{
	struct dns_lookup *l = arg;
	(void)timeouts;
	l->pending--;
	if (l->phase == PHASE_MX) {
		struct dns_mx mx[DNS_MAX_HOSTS];
		size_t count;
		if (status == ARES_SUCCESS) {
			switch (
			    dns_mx_from_answer(answer, len, &l->rng, mx, &count, &l->unusable)) {
			case DNS_MX_LIST:
				if (count == 0)
					fail_temporary(l, "no MX host is a valid host name");
				else
					start_addresses(l, mx, count);
				break;
			case DNS_MX_NONE:
				start_implicit_mx(l);
				break;
			case DNS_MX_NULL:
				fail_null_mx(l);
				break;
			case DNS_MX_BAD:
				fail_temporary(l, temporary_reason(ARES_EBADRESP));
				break;
			}
		} else if (status == ARES_ENODATA) {
			start_implicit_mx(l);
		} else if (status == ARES_ENOTFOUND) {
			fail_no_such_domain(l);
		} else {
			fail_temporary(l, temporary_reason(status));
		}
	}
	release_if_unused(l);
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]": the host is the address. */
static int
start_address_literal(struct dns_lookup *l, const char *domain)
{
	size_t len = strlen(domain);
	if (domain[0] != '[')
		return 0;
	char text[DNS_NAME_MAX];
	unsigned char bytes[16];
	int family = AF_INET;
	const char *inner = domain + 1;
	size_t inner_len = len >= 2 && domain[len - 1] == ']' ? len - 2 : 0;
	if (inner_len > 5 && strncasecmp(inner, "IPv6:", 5) == 0)
		family = AF_INET6, inner += 5, inner_len -= 5;
	snprintf(text, sizeof text, "%.*s", (int)inner_len, inner);
	if (inner_len == 0 || inner_len >= sizeof text || inet_pton(family, text, bytes) != 1) {
		fail_bad_name(l, "bad address literal");
		return 1;
	}
	if (!(l->resolver->families & (family == AF_INET ? DNS_FAMILY_IPV4 : DNS_FAMILY_IPV6))) {
		fail_temporary(l, "address literal of a disabled address family");
		return 1;
	}
	struct host_state h;
	memset(&h, 0, sizeof h);
	if (family == AF_INET) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		memcpy(&sin.sin_addr, bytes, 4);
		add_address(&h, (struct sockaddr *)&sin, sizeof sin);
	} else {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
		memcpy(&sin6.sin6_addr, bytes, 16);
		add_address(&h, (struct sockaddr *)&sin6, sizeof sin6);
	}
	copy_text(h.mx.name, sizeof h.mx.name, domain);
	l->implicit_mx = 1;
	l->hosts = xcalloc(1, sizeof *l->hosts);
	l->hosts[0] = h;
	l->host_count = 1;
	end_with_hosts(l, 0);
	return 1;
}

struct dns_lookup *
dns_lookup_start(struct dns_resolver *r, const char *domain, uint64_t seed)
{
	struct dns_lookup *l = xcalloc(1, sizeof *l);
	const char *why;
	size_t len = strlen(domain);
	l->resolver = r;
	l->rng = seed;
	l->phase = PHASE_MX;
	l->deadline_us = now_us() + (int64_t)r->deadline_ms * 1000;
	l->next = r->active;
	if (l->next)
		l->next->prev = l;
	r->active = l;
	if (start_address_literal(l, domain))
		return l;
	if (dns_check_name(domain, len, &why) == -1) {
		fail_bad_name(l, why);
		return l;
	}
	if (domain[len - 1] == '.')
		len--;
	snprintf(l->domain, sizeof l->domain, "%.*s", (int)len, domain);
	l->pending++;
	ares_query(r->channel, l->domain, ns_c_in, ns_t_mx, mx_callback, l);
	return l;
}

int
dns_lookup_done(const struct dns_lookup *l)
{
	return l->phase == PHASE_DONE;
}

void
dns_lookup_finish(struct dns_lookup *l, struct dns_result *out)
{
	if (l->phase != PHASE_DONE)
		fail_temporary(l, "cancelled");
	if (out != NULL) {
		*out = l->result;
		memset(&l->result, 0, sizeof l->result);
	}
	l->released = 1;
	release_if_unused(l);
}

void
dns_result_free(struct dns_result *result)
{
	free(result->hosts);
	result->hosts = NULL;
	result->host_count = 0;
}

size_t
dns_resolver_pollfds(struct dns_resolver *r, struct pollfd *fds, size_t max)
{
	for (size_t i = 0; i < r->socket_count && i < max; i++) {
		fds[i].fd = r->sockets[i].fd;
		fds[i].events = r->sockets[i].events;
		fds[i].revents = 0;
	}
	return r->socket_count;
}

int
dns_resolver_timeout(struct dns_resolver *r)
{
	struct timeval tv;
	int64_t wait_us = -1;
	if (ares_timeout(r->channel, NULL, &tv) != NULL)
		wait_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	int64_t now = now_us();
	for (const struct dns_lookup *l = r->active; l != NULL; l = l->next) {
		int64_t left = l->deadline_us > now ? l->deadline_us - now : 0;
		if (wait_us < 0 || left < wait_us)
			wait_us = left;
	}
	if (wait_us < 0)
		return -1;
	int64_t ms = (wait_us + 999) / 1000; /* rounded up: no waking early to spin */
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void
dns_resolver_process(struct dns_resolver *r, const struct pollfd *fds, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		short ev = fds[i].revents;
		if (ev == 0)
			continue;
		ares_socket_t readable =
		    ev & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD;
		ares_socket_t writable = ev & (POLLOUT | POLLERR) ? fds[i].fd : ARES_SOCKET_BAD;
		ares_process_fd(r->channel, readable, writable);
	}
	/* Retries and c-ares's own timeouts. */
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);

	int64_t now = now_us();
	for (struct dns_lookup *l = r->active, *next; l != NULL; l = next) {
		next = l->next;
		if (now < l->deadline_us)
			continue;
		if (l->phase == PHASE_ADDRESSES)
			end_with_hosts(l, 1);
		else
			fail_temporary(l, "timeout");
	}
}

int
dns_resolve_mx(struct dns_resolver *r, const char *domain, struct dns_result *out, uint64_t seed)
{
	struct dns_lookup *l = dns_lookup_start(r, domain, seed);
	while (!dns_lookup_done(l)) {
		struct pollfd fds[DNS_MAX_FDS];
		size_t n = dns_resolver_pollfds(r, fds, DNS_MAX_FDS);
		if (n > DNS_MAX_FDS)
			n = DNS_MAX_FDS;
		int ready = poll(fds, (nfds_t)n, dns_resolver_timeout(r));
		if (ready == -1 && errno != EINTR) {
			char reason[96];
			snprintf(reason, sizeof reason, "poll: %s", strerror(errno));
			fail_temporary(l, reason);
			break;
		}
		dns_resolver_process(r, fds, ready > 0 ? n : 0);
	}
	dns_lookup_finish(l, out);
	return out->status;
}
