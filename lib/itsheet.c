/*
 * itsheet - `mailshot-report it-sheet`: the page a sender hands to the
 * recipients' IT people, written from the live configuration.  It
 * answers what such pages answer (docs/domcheck.md, the seeds): which
 * IPs and domains to allowlist, the Return-Path, how much we send at
 * once, to answer overload with 421 and never 5xx, TLS, and whether
 * their MX hosts all answer.  Markdown or one self-contained HTML page.
 *
 * Every value that reaches the page (file contents, DNS data, log
 * values) is escaped for the format; HTML has no scripts and loads
 * nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "checktable.h"
#include "control.h"
#include "dkim.h"
#include "dnsq.h"
#include "domcheck.h"
#include "input.h"
#include "logread.h"
#include "mxcheck.h"
#include "route.h"

#define MAX_DOMAINS 64
#define TLS_DAYS 30
#define MAX_TLS_KINDS 32

struct sheet {
	int html;
	struct buf out;
	int in_list;
};

/* ---- writing, escaped per format ---- */

static void
text(struct sheet *s, const char *t)
{
	if (s->html) {
		checktable_html(&s->out, t);
		return;
	}
	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;
		if (c < 0x20 || c == 0x7f)
			buf_append_char(&s->out, '?');
		else if (strchr("\\`*_[]<>|#", c) != NULL)
			buf_printf(&s->out, "\\%c", c);
		else
			buf_append_char(&s->out, (char)c);
	}
}

static void
textf(struct sheet *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
textf(struct sheet *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	text(s, buf_cstr(&b));
	buf_free(&b);
}

/* Markup: raw (never holds outside text). */
static void
raw(struct sheet *s, const char *md, const char *html)
{
	buf_append_str(&s->out, s->html ? html : md);
}

static void
heading(struct sheet *s, int level, const char *t)
{
	if (s->html) {
		buf_printf(&s->out, "<h%d>", level);
		text(s, t);
		buf_printf(&s->out, "</h%d>\n", level);
	} else {
		buf_printf(&s->out, "\n%.*s ", level, "######");
		text(s, t);
		buf_append_str(&s->out, "\n\n");
	}
}

static void
para_begin(struct sheet *s)
{
	raw(s, "", "<p>");
}

static void
para_end(struct sheet *s)
{
	raw(s, "\n\n", "</p>\n");
}

static void
para(struct sheet *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
para(struct sheet *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	para_begin(s);
	text(s, buf_cstr(&b));
	para_end(s);
	buf_free(&b);
}

static void
item_begin(struct sheet *s)
{
	if (!s->in_list)
		raw(s, "", "<ul>\n");
	s->in_list = 1;
	raw(s, "- ", "<li>");
}

static void
item_end(struct sheet *s)
{
	raw(s, "\n", "</li>\n");
}

static void
list_end(struct sheet *s)
{
	if (s->in_list)
		raw(s, "\n", "</ul>\n");
	s->in_list = 0;
}

static void
code(struct sheet *s, const char *t)
{
	raw(s, "**", "<code>");
	text(s, t);
	raw(s, "**", "</code>");
}

static void
table_row(struct sheet *s, const char *const *cells, size_t n, int header)
{
	raw(s, "|", "<tr>");
	for (size_t i = 0; i < n; i++) {
		raw(s, " ", header ? "<th>" : "<td>");
		text(s, cells[i]);
		raw(s, " |", header ? "</th>" : "</td>");
	}
	raw(s, "\n", "</tr>\n");
	if (header && !s->html) {
		buf_append_char(&s->out, '|');
		for (size_t i = 0; i < n; i++)
			buf_append_str(&s->out, "---|");
		buf_append_char(&s->out, '\n');
	}
}

static void
table_begin(struct sheet *s)
{
	raw(s, "", "<table>\n");
}

static void
table_end(struct sheet *s)
{
	raw(s, "\n", "</table>\n");
}

/* ---- what the sheet reads ---- */

static const struct control_setting sheet_settings[] = {
    {"concurrency", 1, "100", 1, 10000, "connections in all"},
    {"queuelifetime", 0, "2d", 0, 0, "how long a message may stay queued"},
    {"unsubscribe", 0, "", 0, 0, "one-click unsubscribe URL"},
    {"feedbackid", 0, "", 0, 0, "Feedback-ID"},
    {NULL, 0, NULL, 0, 0, NULL},
};
enum { SET_CONCURRENCY, SET_LIFETIME, SET_UNSUBSCRIBE, SET_FEEDBACKID, SET_COUNT };

struct info {
	struct domcheck_env env;
	struct control_value values[SET_COUNT + 1];
	struct domain_policies policies;
	char retry[256];
	const char *domain; /* --domain, or NULL */
	char *domains[MAX_DOMAINS];
	size_t ndomains;
	const char *ips[DOMCHECK_MAX_IPS];
	char ip_text[DOMCHECK_MAX_IPS][64];
	size_t nips;
	int timeout_s;
	int values_loaded; /* values and policies hold memory */
};

static void
add_domain(struct info *in, const char *d)
{
	char lower[256];
	size_t n = strlen(d), i;
	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof lower)
		return;
	for (i = 0; i < n; i++)
		lower[i] = d[i] >= 'A' && d[i] <= 'Z' ? (char)(d[i] + 32) : d[i];
	lower[i] = '\0';
	for (size_t k = 0; k < in->ndomains; k++)
		if (strcmp(in->domains[k], lower) == 0)
			return;
	if (in->ndomains < MAX_DOMAINS)
		in->domains[in->ndomains++] = xstrdup(lower);
}

/* The domains of control/dkim/ (each a directory named for a domain). */
static void
add_dkim_domains(struct info *in)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/control/dkim", in->env.root);
	DIR *d = opendir(path.data);
	buf_free(&path);
	if (d == NULL)
		return;
	char *names[MAX_DOMAINS];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < MAX_DOMAINS)
		if (e->d_name[0] != '.' && dkim_domain_valid(e->d_name, strlen(e->d_name)))
			names[n++] = xstrdup(e->d_name);
	closedir(d);
	/* sorted, so the page is the same from run to run */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
			char *t = names[k];
			names[k] = names[k - 1];
			names[k - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		add_domain(in, names[i]);
		free(names[i]);
	}
}

/* control/retry: its durations on one line (comments dropped). */
static int
read_retry(struct info *in)
{
	struct buf path = BUF_INIT, body = BUF_INIT, err = BUF_INIT;
	int permanent, rc = 0;
	buf_printf(&path, "%s/control/retry", in->env.root);
	snprintf(in->retry, sizeof in->retry, "5m, 10m, 20m, 40m, 1h");
	if (access(path.data, F_OK) == -1 && errno == ENOENT)
		goto out;
	if (input_read_file(path.data, 65536, &body, &err, &permanent) == -1) {
		rc = domcheck_fatal(111, "%s", err.data);
		goto out;
	}
	struct buf words = BUF_INIT;
	const char *p = buf_cstr(&body);
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *hash = memchr(p, '#', len);
		size_t keep = hash ? (size_t)(hash - p) : len;
		for (size_t i = 0; i < keep; i++) {
			char c = p[i];
			if (c == ' ' || c == '\t' || c == '\r') {
				if (words.len > 0 && words.data[words.len - 1] != ' ')
					buf_append_char(&words, ' ');
			} else if ((unsigned char)c >= 0x21 && (unsigned char)c < 0x7f) {
				buf_append_char(&words, c);
			}
		}
		if (words.len > 0 && words.data[words.len - 1] != ' ')
			buf_append_char(&words, ' ');
		p += len + (nl != NULL);
	}
	while (words.len > 0 && words.data[words.len - 1] == ' ')
		words.len--;
	if (words.len > 0) {
		/* "5m 10m" -> "5m, 10m" */
		struct buf list = BUF_INIT;
		for (size_t i = 0; i < words.len; i++) {
			if (words.data[i] == ' ')
				buf_append_char(&list, ',');
			buf_append_char(&list, words.data[i]);
		}
		snprintf(in->retry, sizeof in->retry, "%s", buf_cstr(&list));
		buf_free(&list);
	}
	buf_free(&words);
out:
	buf_free(&path);
	buf_free(&body);
	buf_free(&err);
	return rc;
}

static int
load_info(struct info *in, const char *spool)
{
	struct buf err = BUF_INIT, body = BUF_INIT, path = BUF_INIT;
	int rc = domcheck_env_load(&in->env, spool);
	if (rc != 0)
		return rc;
	if (control_load(spool, sheet_settings, in->values, &err) == -1) {
		rc = domcheck_fatal(strncmp(err.data, "unable to", 9) == 0 ? 111 : 100, "%s",
				    err.data);
		buf_free(&err);
		return rc;
	}
	in->values_loaded = 1;
	int permanent;
	buf_printf(&path, "%s/control/domains", spool);
	if (input_read_file(path.data, 1 << 20, &body, &err, &permanent) == -1 &&
	    access(path.data, F_OK) == 0)
		rc = domcheck_fatal(111, "%s", err.data);
	else if (domains_parse(buf_cstr(&body), body.len, path.data, &in->policies, &err) == -1)
		rc = domcheck_fatal(100, "%s", err.data);
	if (rc == 0)
		rc = read_retry(in);
	buf_free(&err);
	buf_free(&body);
	buf_free(&path);
	return rc;
}

/* ---- the TLS of our recent deliveries ---- */

struct tls_count {
	char tls[128];
	uint64_t n;
};

/* Counts delivered lines for dest=domain in the last TLS_DAYS days by
 * tls=.  Returns 0, or -1 with err. */
static int
count_tls(const char *spool, const char *domain, struct tls_count *counts, size_t *n,
	  uint64_t *total, struct buf *err)
{
	struct logreader *r = logreader_new();
	struct logline line;
	int st = 0;
	int64_t since = ((int64_t)time(NULL) - (int64_t)TLS_DAYS * 86400) * 1000000;
	*n = 0;
	*total = 0;
	if (logreader_add_spool(r, spool, err) == -1) {
		logreader_free(r);
		return -1;
	}
	while ((st = logreader_next(r, &line, err)) == 1) {
		if (line.usec < since || strcmp(line.event, "delivered") != 0)
			continue;
		const char *dest = logline_get(&line, "dest");
		if (dest == NULL || strcasecmp(dest, domain) != 0)
			continue;
		const char *tls = logline_get(&line, "tls");
		if (tls == NULL)
			tls = "";
		size_t k = 0;
		while (k < *n && strcmp(counts[k].tls, tls) != 0)
			k++;
		if (k == *n) {
			if (*n == MAX_TLS_KINDS)
				k = MAX_TLS_KINDS - 1; /* the rest counted as the last kind */
			else {
				snprintf(counts[*n].tls, sizeof counts[0].tls, "%s", tls);
				counts[(*n)++].n = 0;
			}
		}
		counts[k].n++;
		(*total)++;
	}
	logreader_free(r);
	return st == -1 ? -1 : 0;
}

/* ---- the page ---- */

static void
section_ips(struct sheet *s, struct info *in)
{
	heading(s, 2, "Our sending servers (to allowlist)");
	if (in->nips == 0) {
		para(s, "No sending IP address is configured here (control/outgoingip); ask us for "
			"the addresses our mail comes from.");
		return;
	}
	para(s, "All our mail comes from %s. Please allowlist %s in your spam filter and "
		"firewall (in Office 365, for instance, a mail flow rule on the sender's IP "
		"address):",
	     in->nips == 1 ? "this IP address" : "these IP addresses",
	     in->nips == 1 ? "it" : "them");
	for (size_t i = 0; i < in->nips; i++) {
		item_begin(s);
		code(s, in->ips[i]);
		item_end(s);
	}
	list_end(s);
}

static void
section_domains(struct sheet *s, struct info *in)
{
	heading(s, 2, "Our sending domains");
	if (in->ndomains == 0) {
		para(s, "No sending domain is configured here.");
		return;
	}
	para(s, "Our messages come from these domains. Every message From a domain with a DKIM "
		"key is signed (DKIM, RFC 6376) with d= that domain: a filter rule that trusts a "
		"valid DKIM signature of these domains is the most robust way to allowlist us.");
	table_begin(s);
	static const char *const head[] = {"Domain", "Role", "DKIM (d= / s=)"};
	table_row(s, head, 3, 1);
	for (size_t i = 0; i < in->ndomains; i++) {
		const char *d = in->domains[i];
		char **sel = NULL;
		size_t bad, nsel = domcheck_selectors(in->env.root, d, &sel, &bad);
		struct buf dk = BUF_INIT;
		if (nsel == 0)
			buf_append_str(&dk, "not signed");
		else
			buf_printf(&dk, "d=%s; s=", d);
		for (size_t k = 0; k < nsel; k++) {
			buf_printf(&dk, "%s%s", k ? ", " : "", sel[k]);
			free(sel[k]);
		}
		free(sel);
		int bounce = strcmp(d, in->env.bounce_domain) == 0;
		const char *role = bounce && nsel == 0 ? "Return-Path (bounces)"
				   : bounce	       ? "From, Return-Path (bounces)"
						       : "From";
		const char *cells[] = {d, role, buf_cstr(&dk)};
		table_row(s, cells, 3, 0);
		buf_free(&dk);
	}
	table_end(s);
}

static void
section_return_path(struct sheet *s, struct info *in)
{
	heading(s, 2, "Return path (bounces)");
	if (in->env.bounce_domain[0] == '\0') {
		para(s, "The envelope sender (Return-Path) of our messages is their From address.");
		return;
	}
	const char *at = strrchr(in->env.bounce_address, '@');
	struct buf example = BUF_INIT;
	buf_printf(&example, "%.*s+TOKEN@%s", (int)(at - in->env.bounce_address),
		   in->env.bounce_address, in->env.bounce_domain);
	para_begin(s);
	textf(s, "The envelope sender (Return-Path) of each message is an address of its own at ");
	code(s, in->env.bounce_domain);
	text(s, ", of the form ");
	code(s, example.data);
	text(s, ". Bounces sent there tell us which address failed, so that we stop writing to "
		"it. Please do not block or filter mail to or from that domain.");
	para_end(s);
	buf_free(&example);
}

static void
section_load(struct sheet *s, struct info *in)
{
	struct domain_policy p;
	domains_lookup(&in->policies, in->domain ? in->domain : "*", &p);
	heading(s, 2, "How much we send at once");
	para_begin(s);
	textf(s, "We send personalized messages, one per person, and may send hundreds to your "
		 "server on one day. We never open more than %ld connections at a time in all",
	      in->values[SET_CONCURRENCY].number);
	if (in->domain)
		textf(s, ", and at most %d at once to %s", p.concurrency, in->domain);
	else
		textf(s, ", and at most %d at once to one domain", p.concurrency);
	if (p.rate > 0)
		textf(s, ", at most %d messages a minute", p.rate);
	text(s, ". We cannot know how much your server can take, or how busy it is: please tell "
		"us when we send too much, as described next.");
	para_end(s);
}

static void
section_overload(struct sheet *s, struct info *in)
{
	heading(s, 2, "When your server is overloaded: answer 421, never 5xx");
	para_begin(s);
	text(s, "The best way for your server to tell us to slow down is to close its port or "
		"refuse new connections for a while, or to answer with a temporary error: ");
	code(s, "421");
	text(s, " (or another 4xx code). We then open fewer connections to your domain, pause "
		"it, and try again later: after ");
	text(s, in->retry);
	textf(s, " (the last wait repeats), for up to %s.", in->values[SET_LIFETIME].text);
	para_end(s);
	para_begin(s);
	text(s, "Please never answer overload or rate limits with a ");
	code(s, "5xx");
	text(s, " code (such as 550 or 554): 5xx means the message can never be delivered. It is "
		"not retried, and the address is marked as bad and gets no further mail from us "
		"until someone clears it, so your people miss it.");
	para_end(s);
}

static void
section_tls(struct sheet *s, struct info *in, int *log_trouble)
{
	heading(s, 2, "Encryption (TLS)");
	para(s, "We use STARTTLS whenever your server offers it.");
	if (in->domain == NULL)
		return;
	struct tls_count counts[MAX_TLS_KINDS];
	size_t n;
	uint64_t total;
	struct buf err = BUF_INIT;
	if (count_tls(in->env.root, in->domain, counts, &n, &total, &err) == -1) {
		para(s, "What our recent deliveries to %s used could not be read from our log (%s).",
		     in->domain, err.data);
		*log_trouble = 1;
		buf_free(&err);
		return;
	}
	buf_free(&err);
	if (total == 0) {
		para(s, "We have delivered nothing to %s in the last %d days.", in->domain,
		     TLS_DAYS);
		return;
	}
	para(s, "Our deliveries to %s in the last %d days:", in->domain, TLS_DAYS);
	table_begin(s);
	static const char *const head[] = {"TLS", "Messages"};
	table_row(s, head, 2, 1);
	for (size_t i = 0; i < n; i++) {
		char number[32];
		snprintf(number, sizeof number, "%llu", (unsigned long long)counts[i].n);
		const char *cells[] = {counts[i].tls[0] ? counts[i].tls : "none (plaintext)", number};
		table_row(s, cells, 2, 0);
	}
	table_end(s);
}

static enum check_result
section_mx(struct sheet *s, struct info *in, struct dnsq *dns)
{
	heading(s, 2, "Your mail servers");
	para(s, "Please make sure that every mail server listed for your domain is active and "
		"accepts mail. When little mail is sent, a bad listing may go unnoticed; when much "
		"is sent, every listed server is used, and one that is down delays the mail and "
		"one that rejects it loses it. Check the list with \"host -t mx %s\" (Unix) or "
		"\"nslookup -type=mx %s\" (Windows).",
	     in->domain, in->domain);
	struct check_table t = {0};
	struct mxcheck_config mc = {dns, in->env.smtp_port, in->timeout_s * 1000};
	enum check_result r = mxcheck_domain(&mc, in->domain, &t);
	para(s, "Checked from our side just now:");
	table_begin(s);
	static const char *const head[] = {"Check", "Server", "Result", "Detail"};
	table_row(s, head, 4, 1);
	enum check_result worst = r;
	for (size_t i = 0; i < t.count; i++) {
		const struct check_row *row = &t.rows[i];
		const char *cells[] = {row->check, row->subject, checktable_result_name(row->result),
				       row->detail};
		table_row(s, cells, 4, 0);
		if (row->result == CHECK_FAIL || (row->result == CHECK_TEMP && worst != CHECK_FAIL))
			worst = row->result;
	}
	table_end(s);
	checktable_free(&t);
	return worst;
}

static void
section_rest(struct sheet *s, struct info *in)
{
	heading(s, 2, "Unsubscribing, bounces and tests");
	if (*in->values[SET_UNSUBSCRIBE].text) {
		item_begin(s);
		text(s, "Every message carries List-Unsubscribe with one-click unsubscribing (RFC "
			"8058); please let it through.");
		item_end(s);
	}
	if (*in->values[SET_FEEDBACKID].text) {
		item_begin(s);
		text(s, "Every message carries a Feedback-ID header for mailbox providers' feedback "
			"loops.");
		item_end(s);
	}
	item_begin(s);
	text(s, "Temporary failures (4xx, timeouts) are retried with increasing delays; no action "
		"is needed on your side. Permanent failures (5xx) are not retried, and the address "
		"is not written to again until the flag is cleared.");
	item_end(s);
	item_begin(s);
	text(s, "We can send a test round to a few of your addresses first, so that problems "
		"show before the real mailing. Please also check that your filters do not hold mass "
		"mail sent in the name of your own managers.");
	item_end(s);
	list_end(s);
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>Information for your IT department</title>\n"
    "<style>\nbody{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em;"
    "line-height:1.45;color:#222}\ntable{border-collapse:collapse;margin:.5em 0}\n"
    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}\n"
    "th{background:#eee}\ncode{background:#f3f3f3;padding:0 .2em}\n</style>\n</head>\n<body>\n";

static void
write_sheet(struct sheet *s, struct info *in, struct dnsq *dns, enum check_result *mx,
	    int *log_trouble)
{
	if (s->html)
		buf_append_str(&s->out, html_head);
	heading(s, 1,
		in->domain ? "Information for the IT department" : "Information for IT departments");
	para_begin(s);
	text(s, "This page tells the people who run ");
	text(s, in->domain ? in->domain : "your organization");
	text(s, "'s mail servers how to make sure that our mail reaches your people. We send "
		"personalized mass mailings (survey invitations, notices, feedback requests): each "
		"message is addressed to one person, but many arrive in a short time, and spam "
		"filters find it hard to tell legitimate mass mail from spam.");
	para_end(s);
	section_ips(s, in);
	section_domains(s, in);
	section_return_path(s, in);
	section_load(s, in);
	section_overload(s, in);
	section_tls(s, in, log_trouble);
	if (in->domain)
		*mx = section_mx(s, in, dns);
	section_rest(s, in);
	if (s->html)
		buf_append_str(&s->out, "</body>\n</html>\n");
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: mailshot-report [--spool DIR] it-sheet [--domain RECIPIENT-DOMAIN]\n"
		"           [--from DOMAIN]... [--ip IP]... [--timeout SECONDS] [--format md|html]\n"
		"Writes the page for recipients' IT people: our IPs and domains to allowlist, the\n"
		"Return-Path, load, 421 not 5xx, TLS and, with --domain, the MX check of that\n"
		"domain.  Exit: 0; 1 an MX host fails; 111 DNS or log trouble; 100 bad usage.\n");
}

static int
parse_args(struct info *in, int *html, int argc, char **argv)
{
	static const struct option options[] = {
	    {"domain", required_argument, NULL, 'd'}, {"from", required_argument, NULL, 'F'},
	    {"ip", required_argument, NULL, 'i'},     {"timeout", required_argument, NULL, 't'},
	    {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *why;
	int opt;
	optind = 0;
	opterr = 0;
	in->timeout_s = 10;
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
		case 'F':
			if (dns_check_name(optarg, strlen(optarg), &why) == -1)
				return domcheck_fatal(100, "it-sheet: %s \"%s\": %s",
						      opt == 'd' ? "--domain" : "--from", optarg, why);
			if (opt == 'd')
				in->domain = optarg;
			else
				add_domain(in, optarg);
			break;
		case 'i':
			if (in->nips == DOMCHECK_MAX_IPS ||
			    domcheck_ip_canonical(optarg, in->ip_text[in->nips]) == -1)
				return domcheck_fatal(100, "it-sheet: --ip \"%s\": not an IP address",
						      optarg);
			in->ips[in->nips] = in->ip_text[in->nips];
			in->nips++;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 300)
				return domcheck_fatal(100,
						      "it-sheet: --timeout \"%s\": seconds from 1 to 300",
						      optarg);
			in->timeout_s = (int)v;
			break;
		}
		case 'f':
			if (strcmp(optarg, "md") == 0)
				*html = 0;
			else if (strcmp(optarg, "html") == 0)
				*html = 1;
			else
				return domcheck_fatal(100, "it-sheet: --format \"%s\": md or html",
						      optarg);
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return domcheck_fatal(100, "it-sheet: %s needs a value", argv[optind - 1]);
		default:
			return domcheck_fatal(100, "it-sheet: unknown option %s", argv[optind - 1]);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return domcheck_fatal(100, "it-sheet: unexpected argument \"%s\"", argv[optind]);
	}
	return 0;
}

int
itsheet_main(const char *spool, int argc, char **argv)
{
	struct info *in = xcalloc(1, sizeof *in);
	struct sheet s = {0};
	struct dnsq *dns = NULL;
	struct buf err = BUF_INIT;
	int rc = parse_args(in, &s.html, argc, argv);
	if (rc != 0) {
		rc = rc == -1 ? 0 : rc;
		goto out;
	}
	rc = load_info(in, spool);
	if (rc != 0)
		goto out;
	if (in->nips == 0 && in->env.outgoingip[0]) {
		snprintf(in->ip_text[0], sizeof in->ip_text[0], "%s", in->env.outgoingip);
		in->ips[in->nips++] = in->ip_text[0];
	}
	add_dkim_domains(in);
	if (in->env.bounce_domain[0])
		add_domain(in, in->env.bounce_domain);
	if (in->domain) {
		struct dnsq_config dc = {in->env.servers.count ? &in->env.servers : NULL,
					 in->env.dns_timeout_ms};
		dns = dnsq_new(&dc, &err);
		if (dns == NULL) {
			rc = domcheck_fatal(111, "%s", err.data);
			goto out;
		}
	}
	enum check_result mx = CHECK_PASS;
	int log_trouble = 0;
	write_sheet(&s, in, dns, &mx, &log_trouble);
	fwrite(s.out.data ? s.out.data : "", 1, s.out.len, stdout);
	if (fflush(stdout) != 0)
		rc = domcheck_fatal(111, "unable to write the output: %s", strerror(errno));
	else
		rc = mx == CHECK_FAIL ? 1 : (mx == CHECK_TEMP || log_trouble) ? 111 : 0;
out:
	dnsq_free(dns);
	if (in->values_loaded) {
		control_free(sheet_settings, in->values);
		domains_free(&in->policies);
	}
	for (size_t i = 0; i < in->ndomains; i++)
		free(in->domains[i]);
	buf_free(&s.out);
	buf_free(&err);
	free(in);
	return rc;
}
