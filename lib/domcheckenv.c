/*
 * domcheckenv - what `mailshot-report check` and `it-sheet` both read
 * from control/ (docs/domcheck.md, "What is read"), and the small
 * helpers they share.  See domcheck.h.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "dkim.h"
#include "domcheck.h"

#define MAX_SELECTORS 16

int
domcheck_fatal(int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "mailshot-report: fatal: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int
domcheck_ip_canonical(const char *text, char out[64])
{
	unsigned char bytes[16];
	if (inet_pton(AF_INET, text, bytes) == 1)
		return inet_ntop(AF_INET, bytes, out, 64) ? 0 : -1;
	if (inet_pton(AF_INET6, text, bytes) == 1)
		return inet_ntop(AF_INET6, bytes, out, 64) ? 0 : -1;
	return -1;
}

static void
lower_copy(char *dst, size_t size, const char *src)
{
	size_t i = 0, n = strlen(src);
	if (n > 0 && src[n - 1] == '.')
		n--;
	for (; i < n && i + 1 < size; i++)
		dst[i] = src[i] >= 'A' && src[i] <= 'Z' ? (char)(src[i] + 32) : src[i];
	dst[i] = '\0';
}

static const struct control_setting env_settings[] = {
    {"smtpport", 1, "25", 1, 65535, "TCP port of MX hosts"},
    {"timeoutdns", 1, "30", 1, 600, "seconds for one DNS query"},
    {"outgoingip", 0, "", 0, 0, "our sending IP"},
    {"bounceaddress", 0, "", 0, 0, "the bounce mailbox (Return-Path domain)"},
    {NULL, 0, NULL, 0, 0, NULL},
};
enum { ENV_PORT, ENV_TIMEOUTDNS, ENV_OUTGOINGIP, ENV_BOUNCE, ENV_COUNT };

/* control/resolvers: missing = the system's; unreadable = 111; a bad
 * line = 100. */
static int
load_resolvers(struct domcheck_env *env)
{
	struct buf path = BUF_INIT, text = BUF_INIT, err = BUF_INIT;
	int rc = 0;
	buf_printf(&path, "%s/control/resolvers", env->root);
	env->servers.count = 0;
	int fd = open(path.data, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			rc = domcheck_fatal(111, "unable to open %s: %s", path.data,
					    strerror(errno));
		goto out;
	}
	for (;;) {
		buf_reserve(&text, 4096);
		ssize_t n = read(fd, text.data + text.len, text.cap - text.len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = domcheck_fatal(111, "unable to read %s: %s", path.data,
					    strerror(errno));
			break;
		}
		if (n == 0)
			break;
		text.len += (size_t)n;
		if (text.len > DNS_SERVERS_FILE_MAX) {
			rc = domcheck_fatal(100, "%s: larger than %d bytes", path.data,
					    DNS_SERVERS_FILE_MAX);
			break;
		}
	}
	close(fd);
	if (rc == 0 &&
	    dns_parse_servers(buf_cstr(&text), text.len, path.data, &env->servers, &err) == -1)
		rc = domcheck_fatal(100, "%s", err.data);
out:
	buf_free(&path);
	buf_free(&text);
	buf_free(&err);
	return rc;
}

int
domcheck_env_load(struct domcheck_env *env, const char *root)
{
	struct control_value values[ENV_COUNT + 1];
	struct buf err = BUF_INIT;
	memset(env, 0, sizeof *env);
	env->root = root;
	if (control_load(root, env_settings, values, &err) == -1) {
		int code = strncmp(err.data, "unable to", 9) == 0 ? 111 : 100;
		domcheck_fatal(code, "%s", err.data);
		buf_free(&err);
		return code;
	}
	int rc = 0;
	env->smtp_port = (unsigned)values[ENV_PORT].number;
	env->dns_timeout_ms = values[ENV_TIMEOUTDNS].number * 1000;
	const char *ip = values[ENV_OUTGOINGIP].text;
	if (*ip && domcheck_ip_canonical(ip, env->outgoingip) == -1)
		rc = domcheck_fatal(100, "%s/control/outgoingip: \"%s\" is not an IP address", root,
				    ip);
	const char *bounce = values[ENV_BOUNCE].text;
	if (rc == 0 && *bounce) {
		const char *at = strrchr(bounce, '@'), *why;
		if (at == NULL || strlen(bounce) >= sizeof env->bounce_address ||
		    dns_check_name(at + 1, strlen(at + 1), &why) == -1) {
			rc = domcheck_fatal(100, "%s/control/bounceaddress: not an address with a domain",
					    root);
		} else {
			snprintf(env->bounce_address, sizeof env->bounce_address, "%s", bounce);
			lower_copy(env->bounce_domain, sizeof env->bounce_domain, at + 1);
		}
	}
	control_free(env_settings, values);
	buf_free(&err);
	if (rc == 0)
		rc = load_resolvers(env);
	return rc;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t
domcheck_selectors(const char *root, const char *domain, char ***out, size_t *bad)
{
	char lower[256];
	struct buf path = BUF_INIT;
	size_t n = 0;
	*out = NULL;
	*bad = 0;
	lower_copy(lower, sizeof lower, domain);
	buf_printf(&path, "%s/control/dkim/%s", root, lower);
	DIR *d = opendir(path.data);
	buf_free(&path);
	if (d == NULL)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".key") != 0)
			continue;
		if (!dkim_selector_valid(e->d_name, len - 4)) {
			(*bad)++;
			continue;
		}
		if (n == MAX_SELECTORS)
			continue;
		*out = xrealloc(*out, (n + 1) * sizeof **out);
		(*out)[n++] = xstrndup(e->d_name, len - 4);
	}
	closedir(d);
	if (n > 1)
		qsort(*out, n, sizeof **out, compare_strings);
	return n;
}

