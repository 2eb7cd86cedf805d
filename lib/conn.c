/*
 * conn - TCP with deadlines and STARTTLS.  See conn.h.
 *
 * The socket is non-blocking from the start; every wait is a poll() with
 * what is left of the caller's timeout.  TLS uses OpenSSL on the same
 * non-blocking socket: WANT_READ / WANT_WRITE become polls.  The
 * SSL_CTX (trust anchors loaded) is made once by conn_tls_new and shared
 * by every connection: nothing here opens a file after that.
 */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
set_error(struct conn *c, enum conn_error e, const char *fmt, const char *arg)
{
	c->error = e;
	snprintf(c->reason, sizeof c->reason, fmt, arg);
	return -1;
}

static enum conn_error
classify_errno(int e)
{
	switch (e) {
	case ECONNREFUSED: return CONN_REFUSED;
	case ETIMEDOUT: return CONN_TIMEOUT;
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED: return CONN_CLOSED;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT: return CONN_UNREACHABLE;
	default: return CONN_LOCAL;
	}
}

/* Waits for events on the socket until the deadline: 1 ready, 0 timeout. */
static int
wait_fd(struct conn *c, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {c->fd, events, 0};
		int n = poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return 0;
	}
}

void
conn_init(struct conn *c)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

int
conn_connect(struct conn *c, const struct sockaddr *addr, socklen_t addrlen,
	     const struct sockaddr *bind_addr, socklen_t bind_len, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	c->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		return set_error(c, classify_errno(errno), "socket: %s", strerror(errno));
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bind_addr != NULL && bind(c->fd, bind_addr, bind_len) == -1)
		return set_error(c, CONN_LOCAL, "bind to the outgoing address: %s",
				 strerror(errno));
	if (connect(c->fd, addr, addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return set_error(c, classify_errno(errno), "connect: %s", strerror(errno));
	if (!wait_fd(c, POLLOUT, deadline))
		return set_error(c, CONN_TIMEOUT, "connect: timed out%s", "");
	int soerr = 0;
	socklen_t len = sizeof soerr;
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr != 0)
		return set_error(c, classify_errno(soerr), "connect: %s", strerror(soerr));
	return 0;
}

/* OpenSSL's first queued error, as text ("" for none); the queue emptied. */
static void
openssl_detail(char *detail, size_t n)
{
	detail[0] = '\0';
	unsigned long e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, detail, n);
	ERR_clear_error();
}

static int
tls_error(struct conn *c, const char *what)
{
	char detail[200];
	openssl_detail(detail, sizeof detail);
	c->error = CONN_TLS;
	snprintf(c->reason, sizeof c->reason, "TLS %s: %s", what,
		 detail[0] ? detail : "connection closed");
	return -1;
}

/* Waits as OpenSSL asks after a non-blocking call returned ret. */
static int
tls_wait(struct conn *c, int ret, long long deadline, const char *what)
{
	int e = SSL_get_error(c->ssl, ret);
	short ev;
	if (e == SSL_ERROR_WANT_READ)
		ev = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE)
		ev = POLLOUT;
	else if (e == SSL_ERROR_ZERO_RETURN)
		return set_error(c, CONN_CLOSED, "%s: connection closed", what);
	else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return set_error(c, CONN_CLOSED, "%s: connection closed", what);
	else
		return tls_error(c, what);
	if (!wait_fd(c, ev, deadline))
		return set_error(c, CONN_TIMEOUT, "%s: timed out", what);
	return 0;
}

ssize_t
conn_read(struct conn *c, char *dst, size_t len, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	if (len > 1 << 30)
		len = 1 << 30;
	for (;;) {
		if (c->ssl != NULL) {
			int n = SSL_read(c->ssl, dst, (int)len);
			if (n > 0)
				return n;
			if (tls_wait(c, n, deadline, "read") == -1)
				return -1;
			continue;
		}
		ssize_t n = read(c->fd, dst, len);
		if (n > 0)
			return n;
		if (n == 0)
			return set_error(c, CONN_CLOSED, "connection closed by the server%s", "");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return set_error(c, classify_errno(errno), "read: %s", strerror(errno));
		if (!wait_fd(c, POLLIN, deadline))
			return set_error(c, CONN_TIMEOUT, "read: timed out%s", "");
	}
}

int
conn_write(struct conn *c, const void *data, size_t len, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	const char *p = data;
	while (len > 0) {
		size_t chunk = len > (1 << 30) ? (1 << 30) : len;
		if (c->ssl != NULL) {
			int n = SSL_write(c->ssl, p, (int)chunk);
			if (n > 0) {
				p += n;
				len -= (size_t)n;
				continue;
			}
			if (tls_wait(c, n, deadline, "write") == -1)
				return -1;
			continue;
		}
		ssize_t n = send(c->fd, p, chunk, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return set_error(c, classify_errno(errno), "write: %s", strerror(errno));
		if (!wait_fd(c, POLLOUT, deadline))
			return set_error(c, CONN_TIMEOUT, "write: timed out%s", "");
	}
	return 0;
}

/* Loads every certificate file of the system's hashed directories
 * (SSL_CERT_DIR, else OpenSSL's default) into store. */
static void
load_default_dirs(X509_STORE *store)
{
	/* As OpenSSL: not from the environment of a set-user-ID remote. */
	const char *env = secure_getenv(X509_get_default_cert_dir_env());
	const char *dirs = env != NULL && *env ? env : X509_get_default_cert_dir();
	X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	if (lookup == NULL)
		return;
	char dir[PATH_MAX], path[PATH_MAX];
	while (*dirs) {
		size_t n = strcspn(dirs, ":");
		if (n > 0 && n < sizeof dir) {
			memcpy(dir, dirs, n);
			dir[n] = '\0';
			DIR *d = opendir(dir);
			struct dirent *e;
			while (d != NULL && (e = readdir(d)) != NULL) {
				struct stat st;
				if (e->d_name[0] == '.' ||
				    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >=
					(int)sizeof path ||
				    stat(path, &st) == -1 || !S_ISREG(st.st_mode))
					continue;
				X509_load_cert_crl_file(lookup, path, X509_FILETYPE_PEM);
			}
			if (d != NULL)
				closedir(d);
		}
		dirs += n + (dirs[n] == ':');
	}
	ERR_clear_error(); /* a file that is not a certificate is no error here */
}

static int
count_certificates(X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objects = X509_STORE_get0_objects(store);
	int count = 0;
	for (int i = 0; i < sk_X509_OBJECT_num(objects); i++)
		count += X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509;
	return count;
}

static void
openssl_reason(const char *what, struct buf *err)
{
	char detail[200];
	openssl_detail(detail, sizeof detail);
	buf_printf(err, "%s%s%s", what, detail[0] ? ": " : "", detail);
}

struct conn_tls *
conn_tls_new(int verify, const char *cafile, struct buf *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		openssl_reason("TLS setup", err);
		return NULL;
	}
	if (verify) {
		if (cafile != NULL) {
			if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
				buf_printf(err, "%s: ", cafile);
				openssl_reason("unable to load the TLS trust anchors", err);
				SSL_CTX_free(ctx);
				return NULL;
			}
		} else {
			/* The bundle file is read now; the directory only when
			 * the bundle gave nothing (see conn.h). */
			if (SSL_CTX_set_default_verify_paths(ctx) != 1)
				ERR_clear_error();
			X509_STORE *store = SSL_CTX_get_cert_store(ctx);
			if (count_certificates(store) == 0)
				load_default_dirs(store);
			if (count_certificates(store) == 0) {
				buf_printf(err, "no TLS trust anchors in %s or %s (control/tlscafile "
						"names a CA file)",
					   X509_get_default_cert_file(), X509_get_default_cert_dir());
				SSL_CTX_free(ctx);
				return NULL;
			}
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	struct conn_tls *tls = xcalloc(1, sizeof *tls);
	tls->ctx = ctx;
	tls->verify = verify;
	return tls;
}

void
conn_tls_free(struct conn_tls *tls)
{
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls);
}

int
conn_starttls(struct conn *c, const struct conn_tls *tls, const char *servername, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int verify = tls->verify;
	SSL *ssl = SSL_new(tls->ctx);
	if (ssl == NULL)
		return tls_error(c, "setup");
	SSL_set_fd(ssl, c->fd);
	if (servername != NULL && servername[0] == '[') {
		/* An address literal: no SNI (RFC 6066 forbids addresses), and
		 * verification checks the certificate's IP address entries. */
		char ip[64];
		size_t n = strlen(servername);
		if (n > 2 && n - 2 < sizeof ip) {
			memcpy(ip, servername + 1, n - 2);
			ip[n - 2] = '\0';
			if (verify)
				X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip);
		}
	} else if (servername != NULL && *servername) {
		SSL_set_tlsext_host_name(ssl, servername);
		if (verify)
			SSL_set1_host(ssl, servername);
	}
	c->ssl = ssl;
	for (;;) {
		int r = SSL_connect(ssl);
		if (r == 1)
			break;
		if (tls_wait(c, r, deadline, "handshake") == -1) {
			if (verify && SSL_get_verify_result(ssl) != X509_V_OK) {
				c->error = CONN_TLS;
				snprintf(c->reason, sizeof c->reason,
					 "TLS certificate not verified: %s",
					 X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
			}
			return -1;
		}
	}
	snprintf(c->tls_info, sizeof c->tls_info, "%s/%s", SSL_get_version(ssl),
		 SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
	return 0;
}

void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl); /* one try, non-blocking: no waiting for the peer */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}
