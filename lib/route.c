/*
 * route - smtproutes and domains tables.  See route.h.
 */
#include "route.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Calls fn for each meaningful line: blanks and # comments skipped, a CR
 * before LF and surrounding blanks removed.  Stops at the first error. */
static int
each_line(const char *text, size_t len, const char *name, struct buf *err,
	  int (*fn)(char *line, const char *name, unsigned long lineno, void *ctx,
		    struct buf *err),
	  void *ctx)
{
	unsigned long lineno = 0;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (n > ROUTE_MAX_LINE) {
			buf_printf(err, "%s:%lu: line longer than %d bytes", name, lineno,
				   ROUTE_MAX_LINE);
			return -1;
		}
		if (memchr(text + pos, '\0', n) != NULL) {
			buf_printf(err, "%s:%lu: NUL byte", name, lineno);
			return -1;
		}
		char line[ROUTE_MAX_LINE + 1];
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t l = strlen(p);
		while (l && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r'))
			p[--l] = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if (fn(p, name, lineno, ctx, err) == -1)
			return -1;
	}
	return 0;
}

static int
valid_domain(const char *d)
{
	size_t n = strlen(d);
	if (n == 0 || n > 253)
		return 0;
	for (const char *p = d; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return 0;
	}
	return strstr(d, "..") == NULL && d[n - 1] != '.';
}

static int
valid_literal(const char *h)
{
	size_t n = strlen(h);
	if (n < 3 || h[0] != '[' || h[n - 1] != ']')
		return 0;
	for (size_t i = 1; i + 1 < n; i++) {
		char c = h[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		      c == '.' || c == ':'))
			return 0;
	}
	return 1;
}

static int
parse_port(const char *s, unsigned *port)
{
	unsigned long v = 0;
	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

static int
route_line(char *line, const char *name, unsigned long lineno, void *ctx, struct buf *err)
{
	struct routes *r = ctx;
	char *colon = strchr(line, ':');
	if (colon == NULL) {
		buf_printf(err, "%s:%lu: expected domain:host[:port]", name, lineno);
		return -1;
	}
	*colon = '\0';
	char *domain = line, *host = colon + 1, *port_text = NULL;
	if (*host == '[') {
		char *close = strchr(host, ']');
		if (close == NULL) {
			buf_printf(err, "%s:%lu: unterminated [address]", name, lineno);
			return -1;
		}
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0') {
			buf_printf(err, "%s:%lu: text after the [address]", name, lineno);
			return -1;
		}
		close[1] = '\0';
		if (!valid_literal(host)) {
			buf_printf(err, "%s:%lu: bad address literal", name, lineno);
			return -1;
		}
	} else {
		char *c2 = strchr(host, ':');
		if (c2 != NULL) {
			*c2 = '\0';
			port_text = c2 + 1;
		}
		if (!valid_domain(host)) {
			buf_printf(err, "%s:%lu: bad host name", name, lineno);
			return -1;
		}
	}
	unsigned port = 25;
	if (port_text != NULL && parse_port(port_text, &port) == -1) {
		buf_printf(err, "%s:%lu: bad port (1 to 65535)", name, lineno);
		return -1;
	}
	if (*domain != '\0' && !valid_domain(domain[0] == '.' ? domain + 1 : domain)) {
		buf_printf(err, "%s:%lu: bad domain", name, lineno);
		return -1;
	}
	for (size_t i = 0; i < r->count; i++)
		if (strcasecmp(r->list[i].domain, domain) == 0) {
			buf_printf(err, "%s:%lu: a second route for the same domain", name, lineno);
			return -1;
		}
	r->list = xrealloc(r->list, (r->count + 1) * sizeof *r->list);
	r->list[r->count++] = (struct route){xstrdup(domain), xstrdup(host), port};
	return 0;
}

int
route_parse(const char *text, size_t len, const char *name, struct routes *out, struct buf *err)
{
	memset(out, 0, sizeof *out);
	if (each_line(text, len, name, err, route_line, out) == -1) {
		route_free(out);
		return -1;
	}
	return 0;
}

const struct route *
route_find(const struct routes *r, const char *domain)
{
	const struct route *best = NULL, *fallback = NULL;
	size_t best_len = 0, dlen = strlen(domain);
	for (size_t i = 0; i < r->count; i++) {
		const struct route *e = &r->list[i];
		size_t n = strlen(e->domain);
		if (n == 0) {
			fallback = e;
		} else if (e->domain[0] != '.') {
			if (strcasecmp(e->domain, domain) == 0)
				return e;
		} else if (dlen > n && strcasecmp(domain + dlen - n, e->domain) == 0 &&
			   n > best_len) {
			best = e;
			best_len = n;
		}
	}
	return best ? best : fallback;
}

void
route_free(struct routes *r)
{
	for (size_t i = 0; i < r->count; i++) {
		free(r->list[i].domain);
		free(r->list[i].host);
	}
	free(r->list);
	memset(r, 0, sizeof *r);
}

static int
domain_line(char *line, const char *name, unsigned long lineno, void *ctx, struct buf *err)
{
	struct domain_policies *p = ctx;
	char *save = NULL;
	char *domain = strtok_r(line, " \t", &save);
	if (strcmp(domain, "*") != 0 && !valid_domain(domain)) {
		buf_printf(err, "%s:%lu: bad domain", name, lineno);
		return -1;
	}
	for (size_t i = 0; i < p->count; i++)
		if (strcasecmp(p->list[i].domain, domain) == 0) {
			buf_printf(err, "%s:%lu: %s appears twice", name, lineno,
				   strcmp(domain, "*") == 0 ? "*" : "the domain");
			return -1;
		}
	struct domain_policy d = {NULL, 0, -1, -1};
	char *kv;
	while ((kv = strtok_r(NULL, " \t", &save)) != NULL) {
		char *eq = strchr(kv, '=');
		if (eq == NULL) {
			buf_printf(err, "%s:%lu: expected key=value", name, lineno);
			return -1;
		}
		*eq = '\0';
		const char *v = eq + 1;
		char *end;
		if (strcmp(kv, "concurrency") == 0) {
			long n = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || n < 1 || n > 100) {
				buf_printf(err, "%s:%lu: concurrency: a number from 1 to 100", name,
					   lineno);
				return -1;
			}
			d.concurrency = (int)n;
		} else if (strcmp(kv, "rate") == 0) {
			long n = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || n < 0 || n > 1000000) {
				buf_printf(err, "%s:%lu: rate: messages per minute, 0 for no limit",
					   name, lineno);
				return -1;
			}
			d.rate = (int)n;
		} else if (strcmp(kv, "tls") == 0) {
			if (strcmp(v, "may") == 0)
				d.tls = ROUTE_TLS_MAY;
			else if (strcmp(v, "encrypt") == 0)
				d.tls = ROUTE_TLS_ENCRYPT;
			else if (strcmp(v, "verify") == 0)
				d.tls = ROUTE_TLS_VERIFY;
			else {
				buf_printf(err, "%s:%lu: tls: may, encrypt or verify", name, lineno);
				return -1;
			}
		} else {
			buf_printf(err, "%s:%lu: unknown key (concurrency, rate, tls)", name,
				   lineno);
			return -1;
		}
	}
	d.domain = xstrdup(domain);
	p->list = xrealloc(p->list, (p->count + 1) * sizeof *p->list);
	p->list[p->count++] = d;
	return 0;
}

int
domains_parse(const char *text, size_t len, const char *name, struct domain_policies *out,
	      struct buf *err)
{
	memset(out, 0, sizeof *out);
	if (each_line(text, len, name, err, domain_line, out) == -1) {
		domains_free(out);
		return -1;
	}
	return 0;
}

void
domains_lookup(const struct domain_policies *p, const char *domain, struct domain_policy *out)
{
	const struct domain_policy *exact = NULL, *star = NULL;
	for (size_t i = 0; i < p->count; i++) {
		if (strcmp(p->list[i].domain, "*") == 0)
			star = &p->list[i];
		else if (strcasecmp(p->list[i].domain, domain) == 0)
			exact = &p->list[i];
	}
	out->domain = NULL;
	out->concurrency = 10;
	out->rate = 0;
	out->tls = ROUTE_TLS_MAY;
	const struct domain_policy *layers[2] = {star, exact};
	for (int i = 0; i < 2; i++) {
		const struct domain_policy *l = layers[i];
		if (l == NULL)
			continue;
		if (l->concurrency > 0)
			out->concurrency = l->concurrency;
		if (l->rate >= 0)
			out->rate = l->rate;
		if (l->tls >= 0)
			out->tls = l->tls;
	}
}

void
domains_free(struct domain_policies *p)
{
	for (size_t i = 0; i < p->count; i++)
		free(p->list[i].domain);
	free(p->list);
	memset(p, 0, sizeof *p);
}
