/*
 * dnsq - blocking DNS queries with a per-run cache.  See dnsq.h.
 *
 * c-ares does the transport (UDP, TCP after truncation, retries, server
 * rotation); the answer is parsed here, by dnsq_parse_answer, rather than
 * by one c-ares parser per type, so that every type is bounded and
 * classified the same way and the parser can be fuzzed on its own.
 * ARES_FLAG_NOCHECKRESP makes a SERVFAIL arrive as SERVFAIL (not as
 * "connection refused"), as in lib/dns.c.
 */
#include "dnsares.h"
#include "dnsq.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_DEADLINE_MS 30000L
#define TRY_TIMEOUT_MS 1000
#define TRIES 2

struct cache_entry {
	char *name;
	int type;
	struct dnsq_answer answer;
};

struct dnsq {
	ares_channel channel;
	long deadline_ms;
	/* Entries are allocated one by one: an answer handed out never
	 * moves, however many queries come after it. */
	struct cache_entry **cache;
	size_t count, cap;
	size_t sent;
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct dnsq *
dnsq_new(const struct dnsq_config *config, struct buf *err)
{
	int status = ares_library_init(ARES_LIB_INIT_ALL);
	if (status != ARES_SUCCESS) {
		buf_printf(err, "unable to initialize c-ares: %s", ares_strerror(status));
		return NULL;
	}
	struct dnsq *q = xcalloc(1, sizeof *q);
	q->deadline_ms = config->deadline_ms > 0 ? config->deadline_ms : DEFAULT_DEADLINE_MS;
	struct ares_options options;
	memset(&options, 0, sizeof options);
	char lookups[] = "b"; /* DNS only, never /etc/hosts */
	options.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
	options.timeout = TRY_TIMEOUT_MS;
	options.tries = TRIES;
	options.ndomains = 0;
	options.domains = NULL;
	options.lookups = lookups;
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS |
		   ARES_OPT_LOOKUPS;
	status = ares_init_options(&q->channel, &options, mask);
	if (status != ARES_SUCCESS) {
		buf_printf(err, "unable to initialize c-ares: %s", ares_strerror(status));
		free(q);
		ares_library_cleanup();
		return NULL;
	}
	if (dns_ares_servers(q->channel, config->servers, err) == -1) {
		dnsq_free(q);
		return NULL;
	}
	return q;
}

void
dnsq_answer_clear(struct dnsq_answer *a)
{
	for (size_t i = 0; i < a->count; i++)
		free(a->rr[i].text);
	free(a->rr);
	a->rr = NULL;
	a->count = 0;
}

void
dnsq_free(struct dnsq *q)
{
	if (q == NULL)
		return;
	ares_destroy(q->channel);
	for (size_t i = 0; i < q->count; i++) {
		free(q->cache[i]->name);
		dnsq_answer_clear(&q->cache[i]->answer);
		free(q->cache[i]);
	}
	free(q->cache);
	free(q);
	ares_library_cleanup();
}

size_t
dnsq_sent(const struct dnsq *q)
{
	return q->sent;
}

const char *
dnsq_status_text(enum dnsq_status s)
{
	switch (s) {
	case DNSQ_OK:
		return "ok";
	case DNSQ_NXDOMAIN:
		return "no such domain (NXDOMAIN)";
	case DNSQ_NODATA:
		return "no records of that type";
	case DNSQ_TEMPORARY:
		return "temporary DNS failure";
	case DNSQ_MALFORMED:
		return "malformed DNS answer";
	}
	return "?";
}

void
dnsq_describe(const struct dnsq_answer *a, struct buf *out)
{
	buf_append_str(out, dnsq_status_text(a->status));
	if (a->why[0] != '\0')
		buf_printf(out, ": %s", a->why);
}

/* ---- parsing a DNS message ---- */

/* Skips an encoded name at *pos (labels, or a compression pointer). */
static int
skip_name(const unsigned char *msg, size_t len, size_t *pos)
{
	for (int labels = 0; labels < 128; labels++) {
		if (*pos >= len)
			return -1;
		unsigned c = msg[*pos];
		if (c == 0) {
			(*pos)++;
			return 0;
		}
		if ((c & 0xC0) == 0xC0) {
			if (*pos + 2 > len)
				return -1;
			*pos += 2;
			return 0;
		}
		if ((c & 0xC0) != 0)
			return -1;
		*pos += 1 + c;
	}
	return -1;
}

/* Expands the name at rdata (within the message, compression allowed)
 * into a malloc'ed string; -1 when it does not parse or runs past end. */
static int
expand_name(const unsigned char *msg, size_t len, size_t at, size_t end, char **out, size_t *olen)
{
	char *name = NULL;
	long enclen = 0;
	size_t pos = at;
	if (skip_name(msg, end, &pos) == -1)
		return -1;
	if (ares_expand_name(msg + at, msg, (int)len, &name, &enclen) != ARES_SUCCESS)
		return -1;
	*olen = strlen(name);
	*out = xstrdup(name);
	ares_free_string(name);
	return 0;
}

static void
malformed(struct dnsq_answer *out, const char *why)
{
	dnsq_answer_clear(out);
	out->status = DNSQ_MALFORMED;
	out->why = why;
}

static int
parse_rdata(const unsigned char *msg, size_t len, size_t at, size_t rdlen, int type,
	    struct dnsq_rr *rr, const char **why)
{
	size_t end = at + rdlen;
	rr->type = type;
	switch (type) {
	case DNSQ_A:
	case DNSQ_AAAA: {
		size_t want = type == DNSQ_A ? 4 : 16;
		if (rdlen != want) {
			*why = "address record of the wrong size";
			return -1;
		}
		memcpy(rr->addr, msg + at, want);
		return 0;
	}
	case DNSQ_MX:
		if (rdlen < 3) {
			*why = "MX record too short";
			return -1;
		}
		rr->preference = (unsigned)msg[at] << 8 | msg[at + 1];
		if (expand_name(msg, len, at + 2, end, &rr->text, &rr->len) == -1) {
			*why = "bad name in an MX record";
			return -1;
		}
		return 0;
	case DNSQ_PTR:
		if (expand_name(msg, len, at, end, &rr->text, &rr->len) == -1) {
			*why = "bad name in a PTR record";
			return -1;
		}
		return 0;
	case DNSQ_TXT: {
		if (rdlen == 0) {
			*why = "empty TXT record";
			return -1;
		}
		struct buf text = BUF_INIT;
		size_t pos = at;
		while (pos < end) {
			size_t n = msg[pos];
			if (pos + 1 + n > end) {
				buf_free(&text);
				*why = "TXT string runs past its record";
				return -1;
			}
			buf_append(&text, msg + pos + 1, n);
			rr->strings++;
			pos += 1 + n;
		}
		buf_cstr(&text);
		rr->text = text.data;
		rr->len = text.len;
		return 0;
	}
	default:
		*why = "unsupported record type";
		return -1;
	}
}

void
dnsq_parse_answer(const unsigned char *msg, size_t len, int type, struct dnsq_answer *out)
{
	memset(out, 0, sizeof *out);
	out->why = "";
	if (len < 12) {
		malformed(out, "answer shorter than a DNS header");
		return;
	}
	unsigned qdcount = (unsigned)msg[4] << 8 | msg[5];
	unsigned ancount = (unsigned)msg[6] << 8 | msg[7];
	size_t pos = 12;
	for (unsigned i = 0; i < qdcount; i++) {
		if (skip_name(msg, len, &pos) == -1 || pos + 4 > len) {
			malformed(out, "bad question section");
			return;
		}
		pos += 4;
	}
	size_t cap = 0;
	for (unsigned i = 0; i < ancount; i++) {
		if (skip_name(msg, len, &pos) == -1 || pos + 10 > len) {
			malformed(out, "bad answer record");
			return;
		}
		int rtype = msg[pos] << 8 | msg[pos + 1];
		int rclass = msg[pos + 2] << 8 | msg[pos + 3];
		uint32_t ttl = (uint32_t)msg[pos + 4] << 24 | (uint32_t)msg[pos + 5] << 16 |
			       (uint32_t)msg[pos + 6] << 8 | msg[pos + 7];
		size_t rdlen = (size_t)msg[pos + 8] << 8 | msg[pos + 9];
		pos += 10;
		if (pos + rdlen > len) {
			malformed(out, "answer record runs past the message");
			return;
		}
		if (rtype == type && rclass == ns_c_in && out->count < DNSQ_MAX_RECORDS) {
			if (out->count == cap) {
				cap = cap ? 2 * cap : 4;
				out->rr = xrealloc(out->rr, cap * sizeof *out->rr);
			}
			struct dnsq_rr *rr = &out->rr[out->count];
			memset(rr, 0, sizeof *rr);
			rr->ttl = ttl;
			const char *why;
			if (parse_rdata(msg, len, pos, rdlen, type, rr, &why) == -1) {
				malformed(out, why);
				return;
			}
			out->count++;
		}
		pos += rdlen;
	}
	out->status = out->count > 0 ? DNSQ_OK : DNSQ_NODATA;
}

/* ---- asking ---- */

struct pending {
	int type;
	int done;
	struct dnsq_answer answer;
};

static const char *
failure_reason(int status)
{
	switch (status) {
	case ARES_ESERVFAIL:
		return "SERVFAIL";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_EREFUSED:
		return "the DNS server refused the query (REFUSED)";
	case ARES_ECONNREFUSED:
		return "DNS server unreachable (connection refused)";
	case ARES_EFORMERR:
		return "the DNS server did not understand the query (FORMERR)";
	case ARES_ENOTIMP:
		return "the DNS server does not implement the query (NOTIMP)";
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return "timeout";
	case ARES_ENOMEM:
		return "out of memory";
	default:
		return "DNS failure";
	}
}

static void
answer_callback(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct pending *p = arg;
	(void)timeouts;
	p->done = 1;
	memset(&p->answer, 0, sizeof p->answer);
	p->answer.why = "";
	switch (status) {
	case ARES_SUCCESS:
		dnsq_parse_answer(abuf, (size_t)alen, p->type, &p->answer);
		break;
	case ARES_ENODATA:
		p->answer.status = DNSQ_NODATA;
		break;
	case ARES_ENOTFOUND:
		p->answer.status = DNSQ_NXDOMAIN;
		break;
	case ARES_EBADRESP:
		p->answer.status = DNSQ_MALFORMED;
		p->answer.why = "bad DNS response";
		break;
	case ARES_EBADNAME:
		p->answer.status = DNSQ_MALFORMED;
		p->answer.why = "not a domain name";
		break;
	default:
		p->answer.status = DNSQ_TEMPORARY;
		p->answer.why = failure_reason(status);
		break;
	}
}

/* Runs c-ares until the query is answered or the deadline passes. */
static void
wait_for(struct dnsq *q, struct pending *p)
{
	int64_t deadline = now_ms() + q->deadline_ms;
	while (!p->done) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd fds[ARES_GETSOCK_MAXNUM];
		/* The bits by hand: c-ares's ARES_GETSOCK_WRITABLE shifts a
		 * signed 1 into the sign bit for the 16th socket. */
		unsigned bits = (unsigned)ares_getsock(q->channel, socks, ARES_GETSOCK_MAXNUM);
		nfds_t n = 0;
		for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = (short)((bits & (1u << i) ? POLLIN : 0) |
					   (bits & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0));
			if (ev == 0)
				continue;
			fds[n].fd = socks[i];
			fds[n].events = ev;
			fds[n].revents = 0;
			n++;
		}
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			ares_cancel(q->channel); /* calls back with ARES_ECANCELLED */
			break;
		}
		struct timeval max = {(time_t)(left / 1000), (long)(left % 1000) * 1000}, tv;
		struct timeval *t = ares_timeout(q->channel, &max, &tv);
		int wait = (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
		int ready = poll(fds, n, wait);
		if (ready == -1 && errno != EINTR) {
			ares_cancel(q->channel);
			break;
		}
		for (nfds_t i = 0; ready > 0 && i < n; i++) {
			if (fds[i].revents == 0)
				continue;
			ares_socket_t r =
			    fds[i].revents & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD;
			ares_socket_t w =
			    fds[i].revents & (POLLOUT | POLLERR) ? fds[i].fd : ARES_SOCKET_BAD;
			ares_process_fd(q->channel, r, w);
		}
		ares_process_fd(q->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
	}
	if (!p->done) {
		p->done = 1;
		memset(&p->answer, 0, sizeof p->answer);
		p->answer.status = DNSQ_TEMPORARY;
		p->answer.why = "timeout";
	}
}

static struct cache_entry *
cache_add(struct dnsq *q, const char *name, int type)
{
	if (q->count == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 16;
		q->cache = xrealloc(q->cache, q->cap * sizeof *q->cache);
	}
	struct cache_entry *e = xcalloc(1, sizeof *e);
	q->cache[q->count++] = e;
	e->name = xstrdup(name);
	e->type = type;
	memset(&e->answer, 0, sizeof e->answer);
	e->answer.why = "";
	return e;
}

const struct dnsq_answer *
dnsq_query(struct dnsq *q, const char *name, int type)
{
	char lower[DNS_NAME_MAX + 2];
	size_t len = strlen(name);
	const char *why;
	int bad = dns_check_name(name, len, &why) == -1;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (bad)
		len = 0; /* cached under "" */
	for (size_t i = 0; i < len; i++)
		lower[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
	lower[len] = '\0';
	for (size_t i = 0; i < q->count; i++)
		if (q->cache[i]->type == type && strcmp(q->cache[i]->name, lower) == 0)
			return &q->cache[i]->answer;

	struct cache_entry *e = cache_add(q, lower, type);
	if (bad) {
		e->answer.status = DNSQ_MALFORMED;
		e->answer.why = "not a domain name";
		return &e->answer;
	}
	if (q->sent >= DNSQ_MAX_QUERIES) {
		e->answer.status = DNSQ_TEMPORARY;
		e->answer.why = "query limit reached";
		return &e->answer;
	}
	q->sent++;
	struct pending p = {.type = type};
	lower[len] = '.'; /* absolute: never a search domain */
	lower[len + 1] = '\0';
	ares_query(q->channel, lower, ns_c_in, type, answer_callback, &p);
	wait_for(q, &p);
	e->answer = p.answer;
	return &e->answer;
}
