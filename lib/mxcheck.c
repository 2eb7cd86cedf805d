/*
 * mxcheck - MX hosts answering SMTP.  See mxcheck.h.
 *
 * The probes run concurrently (non-blocking sockets, one poll loop), so
 * a domain with several dead hosts costs one timeout, not one per host.
 * Greetings are read with lib/smtpreply.h's reader: a reply is accepted
 * only when it is well-formed SMTP, whatever the server sends.
 */
#include "mxcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtpreply.h"

#define QUIT_WAIT_MS 2000

enum probe_state { PROBE_CONNECTING, PROBE_GREETING, PROBE_QUIT, PROBE_DONE };

struct probe {
	size_t host; /* index into the hosts */
	char addr[INET6_ADDRSTRLEN];
	struct sockaddr_storage sa;
	socklen_t sa_len;
	int fd;
	enum probe_state state;
	int64_t start_ms, deadline_ms;
	enum check_result result;
	char detail[256];
	struct smtp_reader *reader;
};

struct host {
	char *name;
	unsigned preference;
	enum check_result dns_result; /* PASS when it has addresses */
	char dns_detail[200];
};

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
probe_end(struct probe *p, enum check_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
probe_end(struct probe *p, enum check_result result, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof p->detail, fmt, ap);
	va_end(ap);
	p->result = result;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->state = PROBE_DONE;
}

static void
probe_start(struct probe *p, unsigned port, int timeout_ms)
{
	p->start_ms = now_ms();
	p->deadline_ms = p->start_ms + timeout_ms;
	if (p->sa.ss_family == AF_INET)
		((struct sockaddr_in *)&p->sa)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&p->sa)->sin6_port = htons((uint16_t)port);
	p->fd = socket(p->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd == -1) {
		probe_end(p, CHECK_FAIL, "socket: %s", strerror(errno));
		return;
	}
	p->state = PROBE_CONNECTING;
	if (connect(p->fd, (struct sockaddr *)&p->sa, p->sa_len) == -1 && errno != EINPROGRESS)
		probe_end(p, CHECK_FAIL, "port %u: %s", port, strerror(errno));
}

/* The first line of a reply's text. */
static void
first_line(const struct smtp_reply *r, char *out, size_t size)
{
	const char *nl = memchr(r->text, '\n', r->text_len);
	int n = nl ? (int)(nl - r->text) : (int)r->text_len;
	snprintf(out, size, "%.*s", n, r->text);
}

/* The end of a probe whose result and detail are already set. */
static void
probe_close(struct probe *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->state = PROBE_DONE;
}

static void
probe_readable(struct probe *p, unsigned port, int timeout_ms)
{
	size_t room;
	char *space = smtp_reader_space(p->reader, &room);
	ssize_t n = read(p->fd, space, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (p->state == PROBE_QUIT) {
			probe_close(p);
			return;
		}
		probe_end(p, CHECK_FAIL, "connection %s before the greeting",
			  n == 0 ? "closed" : strerror(errno));
		return;
	}
	smtp_reader_commit(p->reader, (size_t)n);
	struct smtp_reply reply;
	int st = smtp_reader_next(p->reader, &reply);
	if (p->state == PROBE_QUIT) {
		if (st != 0)
			probe_close(p);
		return;
	}
	if (st < 0) {
		probe_end(p, CHECK_FAIL, "not an SMTP greeting (%s)", smtp_reader_error(p->reader));
		return;
	}
	if (st == 0)
		return;
	char text[160];
	first_line(&reply, text, sizeof text);
	if (reply.code != 220) {
		probe_end(p, CHECK_FAIL, "greets with %d %s", reply.code, text);
		return;
	}
	/* Alive.  QUIT politely, and wait a little for its reply. */
	snprintf(p->detail, sizeof p->detail, "220 in %lld ms (port %u)",
		 (long long)(now_ms() - p->start_ms), port);
	p->result = CHECK_PASS;
	ssize_t w = write(p->fd, "QUIT\r\n", 6);
	(void)w;
	p->state = PROBE_QUIT;
	p->deadline_ms = now_ms() + (timeout_ms < QUIT_WAIT_MS ? timeout_ms : QUIT_WAIT_MS);
}

static void
run_probes(struct probe *probes, size_t n, unsigned port, int timeout_ms)
{
	struct pollfd *fds = xcalloc(n ? n : 1, sizeof *fds);
	size_t *which = xcalloc(n ? n : 1, sizeof *which);
	for (size_t i = 0; i < n; i++)
		probe_start(&probes[i], port, timeout_ms);
	for (;;) {
		size_t k = 0;
		int64_t now = now_ms(), wait = -1;
		for (size_t i = 0; i < n; i++) {
			struct probe *p = &probes[i];
			if (p->state == PROBE_DONE)
				continue;
			if (now >= p->deadline_ms) {
				if (p->state == PROBE_QUIT)
					probe_close(p);
				else if (p->state == PROBE_CONNECTING)
					probe_end(p, CHECK_FAIL, "port %u: no connection within %d s",
						  port, timeout_ms / 1000);
				else
					probe_end(p, CHECK_FAIL, "port %u: no greeting within %d s",
						  port, timeout_ms / 1000);
				continue;
			}
			fds[k].fd = p->fd;
			fds[k].events = p->state == PROBE_CONNECTING ? POLLOUT : POLLIN;
			fds[k].revents = 0;
			which[k++] = i;
			if (wait < 0 || p->deadline_ms - now < wait)
				wait = p->deadline_ms - now;
		}
		if (k == 0)
			break;
		int ready = poll(fds, (nfds_t)k, (int)wait);
		if (ready == -1 && errno == EINTR)
			continue;
		if (ready == -1) {
			for (size_t i = 0; i < k; i++)
				probe_end(&probes[which[i]], CHECK_FAIL, "poll: %s", strerror(errno));
			break;
		}
		for (size_t i = 0; i < k; i++) {
			struct probe *p = &probes[which[i]];
			if (fds[i].revents == 0)
				continue;
			if (p->state == PROBE_CONNECTING) {
				int error = 0;
				socklen_t elen = sizeof error;
				if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &error, &elen) == -1)
					error = errno;
				if (error != 0)
					probe_end(p, CHECK_FAIL, "port %u: %s", port, strerror(error));
				else
					p->state = PROBE_GREETING;
				continue;
			}
			probe_readable(p, port, timeout_ms);
		}
	}
	free(fds);
	free(which);
}

/* ---- hosts ---- */

static void
add_addresses(const struct dnsq_answer *a, int family, size_t host, struct probe **probes,
	      size_t *count, size_t *per_host)
{
	if (a->status != DNSQ_OK)
		return;
	for (size_t i = 0; i < a->count && *per_host < MXCHECK_MAX_ADDRESSES; i++) {
		struct probe *p;
		*probes = xrealloc(*probes, (*count + 1) * sizeof **probes);
		p = &(*probes)[(*count)++];
		memset(p, 0, sizeof *p);
		p->host = host;
		p->fd = -1;
		p->reader = smtp_reader_new();
		if (family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&p->sa;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, a->rr[i].addr, 4);
			p->sa_len = sizeof *sin;
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->sa;
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, a->rr[i].addr, 16);
			p->sa_len = sizeof *sin6;
		}
		inet_ntop(family, a->rr[i].addr, p->addr, sizeof p->addr);
		(*per_host)++;
	}
}

/* Resolves host h: its probes appended, or its DNS failure recorded. */
static void
resolve_host(struct dnsq *dns, struct host *h, size_t index, struct probe **probes,
	     size_t *count)
{
	const char *why;
	if (dns_check_name(h->name, strlen(h->name), &why) == -1) {
		h->dns_result = CHECK_FAIL;
		snprintf(h->dns_detail, sizeof h->dns_detail, "MX target is not a host name: %s",
			 why);
		return;
	}
	const struct dnsq_answer *a4 = dnsq_query(dns, h->name, DNSQ_A);
	const struct dnsq_answer *a6 = dnsq_query(dns, h->name, DNSQ_AAAA);
	size_t per_host = 0;
	add_addresses(a4, AF_INET, index, probes, count, &per_host);
	add_addresses(a6, AF_INET6, index, probes, count, &per_host);
	if (per_host > 0) {
		h->dns_result = CHECK_PASS;
		return;
	}
	const struct dnsq_answer *worst = a4;
	if (a6->status == DNSQ_TEMPORARY || (a6->status == DNSQ_MALFORMED &&
					     a4->status != DNSQ_TEMPORARY))
		worst = a6;
	struct buf d = BUF_INIT;
	buf_append_str(&d, "no address: ");
	dnsq_describe(worst, &d);
	h->dns_result = worst->status == DNSQ_TEMPORARY ? CHECK_TEMP : CHECK_FAIL;
	snprintf(h->dns_detail, sizeof h->dns_detail, "%s", buf_cstr(&d));
	buf_free(&d);
}

static int
compare_preference(const void *a, const void *b)
{
	const struct dnsq_rr *x = *(const struct dnsq_rr *const *)a;
	const struct dnsq_rr *y = *(const struct dnsq_rr *const *)b;
	if (x->preference != y->preference)
		return x->preference < y->preference ? -1 : 1;
	return strcasecmp(x->text, y->text);
}

/* The hosts from an MX answer: by preference, duplicates and null MX
 * records dropped, at most MXCHECK_MAX_HOSTS.  *null_mx counts the null
 * MX records. */
static size_t
hosts_from_mx(const struct dnsq_answer *a, struct host *hosts, size_t *null_mx)
{
	const struct dnsq_rr **sorted = xcalloc(a->count ? a->count : 1, sizeof *sorted);
	for (size_t i = 0; i < a->count; i++)
		sorted[i] = &a->rr[i];
	qsort(sorted, a->count, sizeof *sorted, compare_preference);
	size_t n = 0;
	*null_mx = 0;
	for (size_t i = 0; i < a->count && n < MXCHECK_MAX_HOSTS; i++) {
		const struct dnsq_rr *r = sorted[i];
		if (r->len == 0) {
			(*null_mx)++;
			continue;
		}
		int dup = 0;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcasecmp(hosts[k].name, r->text) == 0;
		if (dup)
			continue;
		memset(&hosts[n], 0, sizeof hosts[n]);
		hosts[n].name = xstrdup(r->text);
		hosts[n].preference = r->preference;
		n++;
	}
	free(sorted);
	return n;
}

enum check_result
mxcheck_domain(const struct mxcheck_config *c, const char *domain, struct check_table *t)
{
	struct host hosts[MXCHECK_MAX_HOSTS];
	size_t nhosts = 0, null_mx = 0;
	int implicit = 0;
	const char *why;
	struct buf d = BUF_INIT;

	if (dns_check_name(domain, strlen(domain), &why) == -1) {
		checktable_add(t, CHECK_FAIL, "mx", domain, NULL, "not a domain name: %s", why);
		return CHECK_FAIL;
	}
	const struct dnsq_answer *mx = dnsq_query(c->dns, domain, DNSQ_MX);
	if (mx->status == DNSQ_OK) {
		nhosts = hosts_from_mx(mx, hosts, &null_mx);
		if (nhosts == 0) {
			checktable_add(t, CHECK_FAIL, "mx", domain, NULL,
				       "null MX: %s accepts no mail (RFC 7505)", domain);
			return CHECK_FAIL;
		}
	} else if (mx->status == DNSQ_NODATA) {
		/* RFC 5321 5.1: no MX, the domain itself is the host. */
		implicit = 1;
		memset(&hosts[0], 0, sizeof hosts[0]);
		hosts[0].name = xstrdup(domain);
		nhosts = 1;
	} else {
		enum check_result r = mx->status == DNSQ_TEMPORARY ? CHECK_TEMP : CHECK_FAIL;
		dnsq_describe(mx, &d);
		checktable_add(t, r, "mx", domain, NULL, "MX lookup: %s", buf_cstr(&d));
		buf_free(&d);
		return r;
	}

	struct probe *probes = NULL;
	size_t nprobes = 0;
	for (size_t i = 0; i < nhosts; i++)
		resolve_host(c->dns, &hosts[i], i, &probes, &nprobes);
	run_probes(probes, nprobes, c->port, c->timeout_ms);

	/* The summary first, then the hosts in preference order. */
	size_t bad = 0, temp = 0;
	for (size_t i = 0; i < nhosts; i++) {
		size_t host_bad = hosts[i].dns_result == CHECK_FAIL;
		temp += hosts[i].dns_result == CHECK_TEMP;
		for (size_t k = 0; k < nprobes; k++)
			if (probes[k].host == i && probes[k].result != CHECK_PASS)
				host_bad = 1;
		bad += host_bad;
	}
	enum check_result summary = bad ? CHECK_FAIL : temp ? CHECK_TEMP : CHECK_PASS;
	if (implicit && summary == CHECK_PASS)
		summary = CHECK_WARN;
	if (implicit) {
		buf_printf(&d, "no MX records: mail goes to the domain's own address; ");
		buf_append_str(&d, summary == CHECK_WARN ? "it answers" : "it does not answer");
	} else if (bad == 0 && temp == 0) {
		buf_printf(&d, "%zu MX host%s, all answer", nhosts, nhosts == 1 ? "" : "s");
	} else {
		buf_printf(&d, "%zu of %zu MX hosts %s:", bad + temp, nhosts,
			   bad ? "do not answer" : "could not be checked");
		for (size_t i = 0; i < nhosts; i++) {
			int host_bad = hosts[i].dns_result != CHECK_PASS;
			for (size_t k = 0; k < nprobes; k++)
				if (probes[k].host == i && probes[k].result != CHECK_PASS)
					host_bad = 1;
			if (host_bad)
				buf_printf(&d, " %s", hosts[i].name);
		}
	}
	if (null_mx > 0)
		buf_append_str(&d, " (a null MX listed next to real ones is ignored)");
	checktable_add(t, summary, "mx", domain, NULL, "%s", buf_cstr(&d));
	buf_free(&d);

	for (size_t i = 0; i < nhosts; i++) {
		if (hosts[i].dns_result != CHECK_PASS) {
			struct buf subject = BUF_INIT;
			buf_printf(&subject, "%s -", hosts[i].name);
			checktable_add(t, hosts[i].dns_result, "mx-host", buf_cstr(&subject), NULL,
				       "%s", hosts[i].dns_detail);
			buf_free(&subject);
		}
		for (size_t k = 0; k < nprobes; k++) {
			if (probes[k].host != i)
				continue;
			struct buf subject = BUF_INIT;
			buf_printf(&subject, "%s %s", hosts[i].name, probes[k].addr);
			checktable_add(t, probes[k].result, "mx-host", buf_cstr(&subject), NULL,
				       "%s", probes[k].detail);
			buf_free(&subject);
		}
		free(hosts[i].name);
	}
	for (size_t k = 0; k < nprobes; k++)
		smtp_reader_free(probes[k].reader);
	free(probes);
	return summary;
}
