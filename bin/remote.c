/*
 * NAME
 *	mailshot-remote - deliver mail for one destination over SMTP
 * SUMMARY
 *	mailshot-remote [--spool DIR] DOMAIN SENDER RCPT... < message
 *	mailshot-remote [--spool DIR] --session DOMAIN
 * DESCRIPTION
 *	Finds DOMAIN's mail servers (control/smtproutes, else MX records,
 *	else its A/AAAA), tries them in order until one takes the
 *	transaction, and delivers the message from standard input to every
 *	RCPT in one transaction: STARTTLS when offered (control/domains can
 *	require it), PIPELINING when offered, dot-stuffed, CRLF.  Prints one
 *	result record per recipient (docs/protocol.md, without the job ID):
 *
 *	  result RCPT STATUS CODE ENHANCED MXNAME MXADDR TLS MILLISECONDS TEXT
 *
 *	The next MX is tried when a host cannot be connected to, or greets
 *	with 4xx/5xx, or refuses EHLO and HELO, or lacks TLS that policy
 *	requires -- not after it has answered the transaction.  An address
 *	that failed before accepting EHLO/HELO is "down" for a while
 *	(lib/hostdown.h, as qmail's tcpto): tried after the others, not never.
 *
 *	Exit: 0 every recipient delivered; 100 every recipient failed
 *	permanently; 111 anything deferred (or a temporary local problem).
 *	A sender of "" is the null sender <>.
 *
 *	With --session, remote serves sched (docs/protocol.md): jobs arrive
 *	on the socket at descriptors 0/1, each with the spool batch's
 *	descriptor attached; one SMTP connection carries many messages (up to
 *	control/maxmessages), and is closed with QUIT after
 *	control/idletimeout seconds without work.  The addresses remote finds
 *	down or up again go to sched as hostdown/hostup records, and sched's
 *	(learned by the other remotes of the destination) come back the same
 *	way.
 *
 *	Once its control files are read and its resolver and TLS context
 *	made, and before it reads a byte from sched or the network, remote
 *	confines itself for good (lib/confine.h, docs/confine.md): it can
 *	open no file, fork nothing, exec nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#ifdef MAILSHOT_TEST_HOOKS
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#endif
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "confine.h"
#include "conn.h"
#include "die.h"
#include "control.h"
#include "dns.h"
#include "hostdown.h"
#include "input.h"
#include "msgsrc.h"
#include "priv.h"
#include "proto.h"
#include "route.h"
#include "smtp.h"
#include "spool.h"


static const char prog[] = "mailshot-remote";

static const struct control_setting settings[] = {
	{"helohost", 0, "", 0, 0, "our name in EHLO (default: the host name)"},
	{"smtpport", 1, "25", 1, 65535, "TCP port of MX hosts (tests use high ports)"},
	{"timeoutconnect", 1, "30", 1, 3600, "seconds to wait for a connection"},
	{"timeoutremote", 1, "0", 0, 3600,
	 "cap in seconds on every SMTP wait; 0 = RFC 5321's (5 min, 10 min after DATA)"},
	{"timeoutdns", 1, "30", 1, 600, "seconds for a whole DNS resolution"},
	{"outgoingip", 0, "", 0, 0, "local address to send from (static sending IP)"},
	{"tlscafile", 0, "", 0, 0, "CA file for tls=verify (default: the system's roots)"},
	{"maxmessages", 1, "100", 1, 100000, "messages per SMTP connection, then a new one"},
	{"idletimeout", 1, "5", 1, 3600, "seconds without a job before QUIT (session mode)"},
	{NULL, 0, NULL, 0, 0, NULL},
};
enum {
	SET_HELO,
	SET_PORT,
	SET_TIMEOUTCONNECT,
	SET_TIMEOUTREMOTE,
	SET_TIMEOUTDNS,
	SET_OUTGOINGIP,
	SET_CAFILE,
	SET_MAXMESSAGES,
	SET_IDLETIMEOUT,
	SET_COUNT
};

struct remote {
	const char *root;
	struct control_value control[SET_COUNT + 1];
	struct routes routes;
	struct domain_policies domains;
	struct dns_servers servers;
	struct dns_resolver *resolver; /* made before confinement, used for every lookup */
	struct conn_tls *tls;	       /* likewise the TLS context */
	struct smtp_config cfg;
	struct sockaddr_storage bind_addr;
	char helo[256];
};

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: %s [--spool DIR] DOMAIN SENDER RCPT... < message\n"
		"       %s [--spool DIR] --session DOMAIN   (for mailshot-sched)\n"
		"Delivers the message on standard input to the recipients at DOMAIN over SMTP\n"
		"and prints one result line per recipient (see mailshot-remote(8)).\n"
		"Exit: 0 all delivered, 100 all failed, 111 something deferred.\n",
		prog, prog);
}

/* Reads the optional table control/NAME whole into text (empty when the
 * file does not exist) and sets path to its name, for messages.  Any
 * other read error defers. */
static void
read_table(struct remote *r, const char *name, struct buf *text, struct buf *path)
{
	struct buf err = BUF_INIT;
	int permanent;
	buf_reset(text);
	buf_reset(path);
	buf_printf(path, "%s/control/%s", r->root, name);
	if (input_read_file(path->data, 1 << 20, text, &err, &permanent) == -1 &&
	    !(access(path->data, F_OK) == -1 && errno == ENOENT))
		die(EXIT_TEMP, "%s", err.data);
	buf_cstr(text);
	buf_free(&err);
}

static void
load_control(struct remote *r)
{
	struct buf err = BUF_INIT, text = BUF_INIT, path = BUF_INIT;
	if (control_load(r->root, settings, r->control, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	/* A broken table is a configuration error: deferred (111), so no mail
	 * is lost while someone fixes it. */
	read_table(r, "smtproutes", &text, &path);
	if (route_parse(text.data, text.len, path.data, &r->routes, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	read_table(r, "domains", &text, &path);
	if (domains_parse(text.data, text.len, path.data, &r->domains, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	buf_reset(&path);
	buf_printf(&path, "%s/control/resolvers", r->root);
	if (dns_read_servers_file(path.data, &r->servers, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);

	const char *helo = r->control[SET_HELO].text;
	if (*helo == '\0') {
		if (gethostname(r->helo, sizeof r->helo - 1) == -1)
			snprintf(r->helo, sizeof r->helo, "localhost");
	} else {
		snprintf(r->helo, sizeof r->helo, "%s", helo);
	}
	smtp_config_defaults(&r->cfg);
	r->cfg.helo = r->helo;
	r->cfg.connect_timeout_ms = (int)r->control[SET_TIMEOUTCONNECT].number * 1000;
	smtp_config_cap_timeouts(&r->cfg, (int)r->control[SET_TIMEOUTREMOTE].number);
	if (*r->control[SET_CAFILE].text)
		r->cfg.cafile = r->control[SET_CAFILE].text;
	const char *ip = r->control[SET_OUTGOINGIP].text;
	if (*ip) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&r->bind_addr;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&r->bind_addr;
		memset(&r->bind_addr, 0, sizeof r->bind_addr);
		if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			r->cfg.bind_len = sizeof *a4;
		} else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			r->cfg.bind_len = sizeof *a6;
		} else {
			die(EXIT_TEMP, "%s/control/outgoingip: \"%s\" is not an IP address", r->root,
			    ip);
		}
		r->cfg.bind_addr = (struct sockaddr *)&r->bind_addr;
	}
	buf_free(&err);
	buf_free(&text);
	buf_free(&path);
}

/* The TCP port of domain's hosts: its route's, else control/smtpport. */
static unsigned
destination_port(struct remote *r, const char *domain)
{
	const struct route *route = route_find(&r->routes, domain);
	return route != NULL ? route->port : (unsigned)r->control[SET_PORT].number;
}

/* The resolver and the TLS context, made once before confinement: c-ares
 * reads /etc/resolv.conf when it starts, OpenSSL its configuration and
 * the trust anchors, and a confined remote can open no file.  Either
 * failing defers (111), as a broken control file does. */
static void
prepare(struct remote *r)
{
	struct buf err = BUF_INIT;
	struct dns_config dc = {0};
	dc.servers = r->servers.count ? &r->servers : NULL;
	dc.deadline_ms = r->control[SET_TIMEOUTDNS].number * 1000;
	r->resolver = dns_resolver_new(&dc, &err);
	if (r->resolver == NULL)
		die(EXIT_TEMP, "%s", err.data);
	r->tls = conn_tls_new(r->cfg.tls == SMTP_TLS_VERIFY, r->cfg.cafile, &err);
	if (r->tls == NULL)
		die(EXIT_TEMP, "%s", err.data);
	r->cfg.tls_context = r->tls;
	buf_free(&err);
}

/* The hosts to try: a route's host (literal or resolved), or the MX. */
static int
resolve(struct remote *r, const char *domain, struct dns_result *res, unsigned *port)
{
	const struct route *route = route_find(&r->routes, domain);
	const char *target = route != NULL ? route->host : domain;
	*port = destination_port(r, domain);
	uint64_t seed;
	if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid();
	dns_resolve_mx(r->resolver, target, res, seed);
	return res->status;
}

static void
set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The clock of the dead-host table. */
static long long
now_seconds(void)
{
	return now_ms() / 1000;
}

struct attempt {
	const char *mx_name;
	const char *mx_addr;
	char tls[128];
};

/* Appends a result record (docs/protocol.md); id NULL: without it. */
static void
format_result(struct buf *line, const char *id, const char *rcpt, const struct smtp_result *res,
	      const struct attempt *a, long ms)
{
	static const char *const status[] = {"delivered", "deferred", "failed"};
	char code[16] = "";
	if (res->v.code > 0)
		snprintf(code, sizeof code, "%d", res->v.code);
	char msbuf[32];
	snprintf(msbuf, sizeof msbuf, "%ld", ms);
	buf_append_str(line, "result");
	if (id != NULL) {
		buf_append_char(line, ' ');
		proto_field(line, id);
	}
	const char *fields[] = {rcpt,	    status[res->v.outcome], code,
				res->v.enhanced, a->mx_name ? a->mx_name : "",
				a->mx_addr ? a->mx_addr : "", a->tls, msbuf, res->text};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		buf_append_char(line, ' ');
		proto_field(line, fields[i]);
	}
	buf_append_char(line, '\n');
}

static void
print_result(FILE *out, const char *id, const char *rcpt, const struct smtp_result *res,
	     const struct attempt *a, long ms)
{
	struct buf line = BUF_INIT;
	format_result(&line, id, rcpt, res, a, ms);
	fwrite(line.data, 1, line.len, out);
	buf_free(&line);
}

/* Copies standard input into an unlinked temporary file, so that its size
 * is known (SIZE) and it can be read again for another MX. */
static int
spool_stdin(long long *size)
{
	struct buf err = BUF_INIT;
	int permanent;
	struct input *in = input_open("-", &err, &permanent);
	if (in == NULL)
		die(EXIT_TEMP, "%s", err.data);
	/* input_open already made the copy; take its descriptor over. */
	int fd = input_take_fd(in);
	input_close(in);
	struct stat st;
	if (fd == -1 || fstat(fd, &st) == -1)
		die(EXIT_TEMP, "unable to read standard input: %s", strerror(errno));
	*size = st.st_size;
	buf_free(&err);
	return fd;
}

/* 1 when the message in fd has a byte >= 0x80 (needs 8BITMIME). */
static int
message_8bit(int fd)
{
	char b[65536];
	off_t off = 0;
	ssize_t n;
	while ((n = pread(fd, b, sizeof b, off)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)b[i] >= 0x80)
				return 1;
		off += n;
	}
	return 0;
}

/* One destination: its hosts (resolved once per session and again after
 * every host failed), the addresses that are down, and the SMTP session
 * in use. */
struct dest {
	struct remote *r;
	const char *domain;
	struct dns_result dns;
	int resolved;
	unsigned port;
	struct smtp_session s;
	int open;
	struct attempt at;
	char mx_name[DNS_NAME_MAX];
	char mx_addr[DNS_ADDRESS_TEXT_MAX];
	struct hostdown down;
	struct buf news; /* hostdown/hostup records learned, not yet sent */
};

static void
dest_init(struct dest *d, struct remote *r, const char *domain)
{
	memset(d, 0, sizeof *d);
	d->r = r;
	d->domain = domain;
	d->port = destination_port(r, domain);
	hostdown_init(&d->down, 0);
}

/* What an attempt taught about an address: news for sched when that
 * changes the table (docs/protocol.md, hostdown and hostup). */
static void
dest_learn(struct dest *d, const char *addr, enum smtp_host_health health)
{
	if (health == SMTP_HOST_ALIVE) {
		if (hostdown_answered(&d->down, addr, d->port) == 1) {
			buf_append_str(&d->news, "hostup ");
			proto_field(&d->news, addr);
			buf_append_char(&d->news, '\n');
		}
	} else if (health == SMTP_HOST_DEAD) {
		long long seconds = hostdown_failed(&d->down, addr, d->port, now_seconds());
		if (seconds > 0) {
			buf_append_str(&d->news, "hostdown ");
			proto_field(&d->news, addr);
			buf_printf(&d->news, " %lld\n", seconds);
		}
	}
}

/* Opens a session to one address of one host.  Returns 0, or -1 with
 * *fail. */
static int
dest_try(struct dest *d, const struct dns_host *host, struct dns_address *addr,
	 struct smtp_result *fail)
{
	set_port(&addr->addr, d->port);
	d->r->cfg.tls_servername = host->name;
	snprintf(d->mx_name, sizeof d->mx_name, "%s", host->name);
	snprintf(d->mx_addr, sizeof d->mx_addr, "%s", addr->text);
	d->at.mx_name = d->mx_name;
	d->at.mx_addr = d->mx_addr;
	d->at.tls[0] = '\0';
	int rc = smtp_open(&d->s, &d->r->cfg, (struct sockaddr *)&addr->addr, addr->addr_len, fail);
	/* The first try says whether the host is alive: a retry happens
	 * only after it accepted EHLO. */
	dest_learn(d, addr->text, d->s.health);
	if (rc == 0) {
		snprintf(d->at.tls, sizeof d->at.tls, "%s", d->s.tls);
		d->open = 1;
		return 0;
	}
	/* Opportunistic TLS whose handshake failed: the same host again
	 * without STARTTLS (plain text is what "may" accepts), rather than
	 * losing a working MX over a TLS quirk. */
	if (d->r->cfg.tls == SMTP_TLS_MAY && strcmp(fail->v.enhanced, "4.7.5") == 0) {
		d->r->cfg.tls = SMTP_TLS_NONE;
		rc = smtp_open(&d->s, &d->r->cfg, (struct sockaddr *)&addr->addr, addr->addr_len,
			       fail);
		d->r->cfg.tls = SMTP_TLS_MAY;
		if (rc == 0) {
			d->open = 1;
			return 0;
		}
	}
	return -1;
}

/* Gets a usable session: the open one, or a new one to the first host
 * that takes it.  Returns 0, or -1 with *fail (DNS, or the last host's
 * failure). */
static int
dest_session(struct dest *d, struct smtp_result *fail)
{
	if (d->open && d->s.open &&
	    d->s.transactions < d->r->control[SET_MAXMESSAGES].number)
		return 0;
	if (d->open)
		smtp_close(&d->s);
	d->open = 0;
	if (!d->resolved) {
		if (resolve(d->r, d->domain, &d->dns, &d->port) != DNS_OK) {
			enum smtp_local what =
				d->dns.status == DNS_PERMANENT
					? (strcmp(d->dns.code, "5.1.10") == 0 ? SMTP_LOCAL_DNS_NULL_MX
									  : SMTP_LOCAL_DNS_NXDOMAIN)
					: SMTP_LOCAL_DNS_TEMPORARY;
			smtp_classify_local(what, &fail->v);
			/* The DNS module's own code and reason are the precise ones. */
			snprintf(fail->v.enhanced, sizeof fail->v.enhanced, "%s", d->dns.code);
			if (d->dns.status == DNS_PERMANENT)
				fail->v.outcome = SMTP_FAILED;
			snprintf(fail->text, sizeof fail->text, "%s", d->dns.reason);
			dns_result_free(&d->dns);
			d->at.mx_name = d->at.mx_addr = NULL;
			d->at.tls[0] = '\0';
			return -1;
		}
		d->resolved = 1;
	}
	/* Every address in MX order, those that are down after the others
	 * (qmail's tcpto): a dead MX at the head of the list then costs one
	 * timeout, not one per connection, and when all are down all are
	 * still tried.  Which are down is decided once, before the first
	 * try, so that an address failing now is not tried twice. */
	size_t total = 0;
	for (size_t h = 0; h < d->dns.host_count; h++)
		total += d->dns.hosts[h].address_count;
	unsigned char *down = xcalloc(total ? total : 1, 1);
	long long now = now_seconds();
	size_t k = 0;
	for (size_t h = 0; h < d->dns.host_count; h++)
		for (size_t i = 0; i < d->dns.hosts[h].address_count; i++)
			down[k++] = hostdown_remaining(&d->down, d->dns.hosts[h].address[i].text,
						       d->port, now) > 0;
	for (unsigned char pass = 0; pass < 2; pass++) {
		k = 0;
		for (size_t h = 0; h < d->dns.host_count; h++) {
			struct dns_host *host = &d->dns.hosts[h];
			for (size_t i = 0; i < host->address_count; i++) {
				if (down[k++] != pass)
					continue;
				if (dest_try(d, host, &host->address[i], fail) == 0) {
					free(down);
					return 0;
				}
			}
		}
	}
	free(down);
	/* Every host failed: look them up again next time. */
	dns_result_free(&d->dns);
	d->resolved = 0;
	return -1;
}

/* Delivers one message to its recipients; every result is filled. */
static void
dest_deliver(struct dest *d, const char *sender, char *const *rcpts, size_t n, int fd,
	     long long offset, long long length, int deflate, long long size, int eightbit,
	     struct smtp_result *results)
{
	struct smtp_result fail;
	memset(&fail, 0, sizeof fail);
	if (dest_session(d, &fail) == -1) {
		for (size_t i = 0; i < n; i++)
			results[i] = fail;
		return;
	}
	struct msgsrc msg;
	msgsrc_open(&msg, fd, offset, length, deflate);
	smtp_send(&d->s, sender, rcpts, n, &msg, size, eightbit, results);
	msgsrc_close(&msg);
}

/* The end of the destination's work: QUIT, and everything freed. */
static void
dest_close(struct dest *d)
{
	if (d->open)
		smtp_close(&d->s);
	d->open = 0;
	if (d->resolved)
		dns_result_free(&d->dns);
	d->resolved = 0;
	hostdown_free(&d->down);
	buf_free(&d->news);
}

/* fd, size: the message (spool_stdin). */
static int
cli(struct remote *r, const char *domain, const char *sender, char *const *rcpts, size_t nrcpts,
    int fd, long long size)
{
	long long start = now_ms();
	struct smtp_result *results = xcalloc(nrcpts, sizeof *results);
	struct dest d;
	dest_init(&d, r, domain);
	dest_deliver(&d, sender, rcpts, nrcpts, fd, 0, size, 0, size, message_8bit(fd), results);
	long ms = (long)(now_ms() - start);
	int delivered = 0, failed = 0;
	for (size_t i = 0; i < nrcpts; i++) {
		print_result(stdout, NULL, rcpts[i], &results[i], &d.at, ms);
		delivered += results[i].v.outcome == SMTP_DELIVERED;
		failed += results[i].v.outcome == SMTP_FAILED;
	}
	fflush(stdout);
	dest_close(&d);
	free(results);
	close(fd);
	if ((size_t)delivered == nrcpts)
		return 0;
	if ((size_t)failed == nrcpts)
		return EXIT_PERM;
	return EXIT_TEMP;
}

/* ---- session mode (docs/protocol.md) ---- */

#define MAX_FDS 64
#define MAX_RCPTS 1000

struct session_io {
	int sock;
	struct buf in;	/* received bytes not yet parsed */
	int fds[MAX_FDS]; /* received descriptors, in order */
	size_t nfds;
};

/* Receives what is there (waiting up to timeout_ms, -1 = forever).
 * Returns 1 data, 0 timeout, -1 end of stream or error. */
static int
session_receive(struct session_io *io, int timeout_ms)
{
	struct pollfd p = {io->sock, POLLIN, 0};
	int n = poll(&p, 1, timeout_ms);
	if (n == 0)
		return 0;
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	char data[65536];
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} control;
	struct iovec iov = {data, sizeof data};
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.space;
	mh.msg_controllen = sizeof control.space;
	ssize_t got = recvmsg(io->sock, &mh, MSG_CMSG_CLOEXEC);
	if (got <= 0)
		return got < 0 && errno == EINTR ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < k; i++) {
			if (io->nfds < MAX_FDS)
				io->fds[io->nfds++] = fds[i];
			else
				close(fds[i]);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		die(EXIT_TEMP, "session: descriptors lost (MSG_CTRUNC)");
	buf_append(&io->in, data, (size_t)got);
	if (io->in.len > 4 * PROTO_MAX_LINE)
		die(EXIT_TEMP, "session: record longer than %d bytes", PROTO_MAX_LINE);
	return 1;
}

/* Takes the next complete line (without its LF) into line. */
static int
session_line(struct session_io *io, struct buf *line)
{
	char *nl = io->in.len ? memchr(io->in.data, '\n', io->in.len) : NULL;
	if (nl == NULL)
		return 0;
	size_t n = (size_t)(nl - io->in.data);
	buf_reset(line);
	buf_append(line, io->in.data, n);
	memmove(io->in.data, nl + 1, io->in.len - n - 1);
	buf_truncate(&io->in, io->in.len - n - 1);
	return 1;
}

static void
session_send(struct session_io *io, const struct buf *b)
{
	size_t off = 0;
	while (off < b->len) {
		ssize_t n = send(io->sock == 0 ? 1 : io->sock, b->data + off, b->len - off,
				 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(EXIT_TEMP, "session: unable to write to sched: %s", strerror(errno));
		off += (size_t)n;
	}
}

/* A field of decimal digits (strtoll alone would take blanks and signs). */
static long long
parse_number(const char *s)
{
	if (strspn(s, "0123456789") != strlen(s))
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 0)
		return -1;
	return v;
}

static int
session(struct remote *r, const char *domain)
{
	struct session_io io = {0, BUF_INIT, {0}, 0};
	struct buf line = BUF_INIT, storage = BUF_INIT, out = BUF_INIT;
	struct dest d;
	dest_init(&d, r, domain);
	buf_printf(&out, "hello mailshot-remote %d\n", PROTO_VERSION);
	session_send(&io, &out);
	int greeted = 0;
	const char *f[MAX_RCPTS + 8];
	struct smtp_result *results = xcalloc(MAX_RCPTS, sizeof *results);
	int idle_ms = (int)r->control[SET_IDLETIMEOUT].number * 1000;
	for (;;) {
		if (!session_line(&io, &line)) {
			int rc = session_receive(&io, d.open ? idle_ms : -1);
			if (rc == 0) {
				/* Idle: say goodbye to the server, keep the hosts. */
				if (d.open)
					smtp_close(&d.s);
				d.open = 0;
				continue;
			}
			if (rc < 0)
				break; /* end of stream: as quit */
			continue;
		}
		int n = proto_split(line.data, line.len, &storage, f, MAX_RCPTS + 8);
		if (n < 1)
			die(EXIT_TEMP, "session: malformed record");
		if (!greeted) {
			if (n != 3 || strcmp(f[0], "hello") != 0 ||
			    strcmp(f[1], "mailshot-sched") != 0 || strcmp(f[2], "1") != 0)
				die(EXIT_TEMP, "session: expected \"hello mailshot-sched 1\"");
			greeted = 1;
			continue;
		}
		if (strcmp(f[0], "quit") == 0 && n == 1)
			break;
		/* Addresses another remote of this destination found down or up
		 * again: into the table, not sent back (docs/protocol.md). */
		if (strcmp(f[0], "hostdown") == 0 && n == 3) {
			if (hostdown_merge(&d.down, f[1], d.port, parse_number(f[2]),
					   now_seconds()) == -1)
				die(EXIT_TEMP, "session: malformed hostdown record");
			continue;
		}
		if (strcmp(f[0], "hostup") == 0 && n == 2) {
			if (hostdown_answered(&d.down, f[1], d.port) == -1)
				die(EXIT_TEMP, "session: malformed hostup record");
			continue;
		}
		if (strcmp(f[0], "job") != 0 || n < 8)
			die(EXIT_TEMP, "session: unknown or short record \"%s\"", f[0]);
		/* job ID OFFSET LENGTH ENCODING SIZE SENDER RCPT... */
		long long offset = parse_number(f[2]), length = parse_number(f[3]),
			  size = parse_number(f[5]);
		int deflate = strcmp(f[4], "deflate") == 0;
		if (offset < 0 || length < 0 || size < 0 ||
		    (!deflate && strcmp(f[4], "identity") != 0))
			die(EXIT_TEMP, "session: malformed job record");
		if (io.nfds == 0)
			die(EXIT_TEMP, "session: job without a descriptor");
		int fd = io.fds[0];
		memmove(io.fds, io.fds + 1, (io.nfds - 1) * sizeof io.fds[0]);
		io.nfds--;
		size_t nrcpts = (size_t)n - 7;
		char *rcpts[MAX_RCPTS];
		for (size_t i = 0; i < nrcpts; i++)
			rcpts[i] = (char *)f[7 + i];
		char *id = xstrdup(f[1]);
		long long start = now_ms();
		/* Spool messages are 7-bit by construction (enqueue encodes). */
		dest_deliver(&d, f[6], rcpts, nrcpts, fd, offset, length, deflate, size, 0,
			     results);
		close(fd);
		long ms = (long)(now_ms() - start);
		buf_reset(&out);
		/* What this job taught about the hosts goes first, so that sched
		 * has it before the results free the next job. */
		buf_append(&out, d.news.data, d.news.len);
		buf_reset(&d.news);
		for (size_t i = 0; i < nrcpts; i++) {
			if (results[i].v.throttle) {
				char secs[32] = "";
				if (results[i].v.retry_after >= 0)
					snprintf(secs, sizeof secs, "%ld", results[i].v.retry_after);
				buf_append_str(&out, "throttle ");
				proto_field(&out, results[i].text);
				buf_append_char(&out, ' ');
				proto_field(&out, secs);
				buf_append_char(&out, '\n');
				break;
			}
		}
		for (size_t i = 0; i < nrcpts; i++)
			format_result(&out, id, rcpts[i], &results[i], &d.at, ms);
		session_send(&io, &out);
		free(id);
	}
	dest_close(&d);
	for (size_t i = 0; i < io.nfds; i++)
		close(io.fds[i]);
	free(results);
	buf_free(&io.in);
	buf_free(&line);
	buf_free(&storage);
	buf_free(&out);
	return 0;
}

#ifdef MAILSHOT_TEST_HOOKS
/* Test builds only (build/tests/mailshot-remote-hook, never
 * bin/mailshot-remote): with MAILSHOT_TEST_OPEN=PATH in the environment,
 * tries from inside the confinement what it must refuse, and says on
 * stderr what happened (tests/e2e/confine.sh).  An execve that works
 * replaces remote with /bin/true, which the test notices. */
static void
test_hook(int flags)
{
	const char *path = getenv("MAILSHOT_TEST_OPEN");
	if (path == NULL)
		return;
	struct buf what = BUF_INIT;
	confine_describe(flags, &what);
	fprintf(stderr, "%s: test-hook: confined: %s\n", prog, buf_cstr(&what));
	buf_free(&what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	fprintf(stderr, "%s: test-hook: open %s: %s\n", prog, path,
		fd == -1 ? strerror(errno) : "ok");
	if (fd != -1)
		close(fd);
	/* valgrind 3.19 crashes later after a refused fork (confine.h). */
	pid_t pid = flags & CONFINE_VALGRIND ? -1 : fork();
	if (pid == 0)
		_exit(0);
	fprintf(stderr, "%s: test-hook: fork: %s\n", prog,
		flags & CONFINE_VALGRIND ? "not tried under valgrind"
		: pid == -1		 ? strerror(errno)
					 : "ok");
	if (pid > 0)
		waitpid(pid, NULL, 0);
	char *const args[] = {"true", NULL};
	char *const env[] = {NULL};
	execve("/bin/true", args, env);
	fprintf(stderr, "%s: test-hook: execve /bin/true: %s\n", prog, strerror(errno));
	struct rlimit core, files;
	getrlimit(RLIMIT_CORE, &core);
	getrlimit(RLIMIT_NOFILE, &files);
	fprintf(stderr, "%s: test-hook: Seccomp: %d NoNewPrivs: %d core: %llu nofile: %llu\n",
		prog, prctl(PR_GET_SECCOMP, 0, 0, 0, 0), prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
		(unsigned long long)core.rlim_max, (unsigned long long)files.rlim_cur);
	/* What it holds: readlink is no open, and names each file. */
	struct buf fds = BUF_INIT;
	for (int i = 0; i < 1024; i++) {
		if (fcntl(i, F_GETFD) == -1)
			continue;
		char link[64], target[512];
		snprintf(link, sizeof link, "/proc/self/fd/%d", i);
		ssize_t n = readlink(link, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		buf_printf(&fds, " %d=%s", i, target);
	}
	fprintf(stderr, "%s: test-hook: descriptors:%s\n", prog, buf_cstr(&fds));
	buf_free(&fds);
}
#endif

/* The confinement (lib/confine.h), before any outside input is read.
 * Descriptors remote may hold at once: stdin/stdout/stderr, the socket
 * to sched, up to MAX_FDS received batches, one SMTP connection, c-ares's
 * DNS_MAX_FDS sockets: about 100, so 256 leaves room.  No chroot here:
 * remote runs unprivileged (lib/priv.h drops root first); a root start
 * that wants one sets chroot_dir to an empty directory. */
static void
confine(void)
{
	struct buf err = BUF_INIT;
	struct confine_opts opts = {NULL, 256};
	int flags = confine_process(&opts, &err);
	if (flags == -1)
		die(EXIT_TEMP, "unable to confine myself: %s", err.data);
	buf_free(&err);
#ifdef MAILSHOT_TEST_HOOKS
	test_hook(flags);
#endif
}

int
main(int argc, char **argv)
{
	static struct remote r;
	static const struct option longopts[] = {
		{"spool", required_argument, NULL, 's'},
		{"session", no_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *spool_opt = NULL;
	int c, session_mode = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': spool_opt = optarg; break;
		case 'S': session_mode = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_PERM;
		}
	}
	if (session_mode ? argc - optind != 1 : argc - optind < 3) {
		usage(stderr);
		return EXIT_PERM;
	}
	signal(SIGPIPE, SIG_IGN);
	const char *domain = argv[optind];
	r.root = spool_root(spool_opt);
	{
		struct buf err = BUF_INIT;
		int permanent;
		if (priv_start(r.root, PRIV_REMOTE, 0, &err, &permanent) == -1)
			die(EXIT_TEMP, "%s", err.data);
		buf_free(&err);
	}
	load_control(&r);
	struct domain_policy policy;
	domains_lookup(&r.domains, domain, &policy);
	r.cfg.tls = policy.tls == ROUTE_TLS_VERIFY	 ? SMTP_TLS_VERIFY
		    : policy.tls == ROUTE_TLS_ENCRYPT ? SMTP_TLS_ENCRYPT
						      : SMTP_TLS_MAY;
	prepare(&r);
	/* By hand, the message is copied from stdin into an unlinked
	 * temporary file first (a file must be created, which confinement
	 * forbids; the bytes are copied, not interpreted). */
	long long size = 0;
	int message_fd = session_mode ? -1 : spool_stdin(&size);
	confine();
	int rc = session_mode ? session(&r, domain)
			      : cli(&r, domain, argv[optind + 1], argv + optind + 2,
				    (size_t)(argc - optind - 2), message_fd, size);
	dns_resolver_free(r.resolver);
	conn_tls_free(r.tls);
	route_free(&r.routes);
	domains_free(&r.domains);
	control_free(settings, r.control);
	return rc;
}
