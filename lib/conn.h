/*
 * conn - one TCP connection with deadlines, optionally upgraded to TLS
 * (STARTTLS), for mailshot-remote.
 *
 * Promises: every call that waits has a timeout and returns when it
 * expires (the socket is non-blocking; poll decides); a TLS upgrade is
 * the same object afterwards, so callers read and write without caring;
 * errors are classified (refused, timeout, reset, TLS) so that the caller
 * can tell a throttling destination from a dead one, and described in
 * words for the delivery log.
 */
#ifndef MAILSHOT_CONN_H
#define MAILSHOT_CONN_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "buf.h"

enum conn_error {
	CONN_OK = 0,
	CONN_REFUSED,     /* connection refused: the host said no */
	CONN_TIMEOUT,     /* nothing within the deadline */
	CONN_CLOSED,      /* the peer closed or reset the connection */
	CONN_UNREACHABLE, /* no route, network down, address unusable */
	CONN_TLS,         /* handshake or TLS-level failure */
	CONN_LOCAL,       /* our side: out of descriptors, bad bind address */
};

struct conn {
	int fd;
	void *ssl; /* SSL *, NULL before STARTTLS */
	enum conn_error error;
	char reason[256];
	char tls_info[128]; /* "TLSv1.3/TLS_AES_256_GCM_SHA384" or "" */
};

void conn_init(struct conn *c);

/* Connects to addr within timeout_ms, from bind_addr when not NULL.
 * Returns 0, or -1 with c->error and c->reason set. */
int conn_connect(struct conn *c, const struct sockaddr *addr, socklen_t addrlen,
		 const struct sockaddr *bind_addr, socklen_t bind_len, int timeout_ms);

/* Reads what is available (at most len bytes), waiting up to timeout_ms
 * for the first byte.  Returns the count (> 0), or -1 with c->error set
 * (CONN_CLOSED at end of stream). */
ssize_t conn_read(struct conn *c, char *dst, size_t len, int timeout_ms);

/* Writes all of data within timeout_ms.  Returns 0, or -1. */
int conn_write(struct conn *c, const void *data, size_t len, int timeout_ms);

/*
 * A TLS client context, made once and used for every connection: made
 * before mailshot-remote confines itself (lib/confine.h), because making
 * one reads files (the OpenSSL configuration, the trust anchors) and a
 * confined process can open none.  With verify, the trust anchors are
 * cafile, or the system's: its bundle file, or, when that gives none,
 * every certificate of its hashed directory, loaded now (OpenSSL would
 * otherwise look them up there at each verification, which a confined
 * process cannot).  Returns NULL with err when they cannot be loaded.
 */
struct conn_tls {
	void *ctx; /* SSL_CTX * */
	int verify;
};

struct conn_tls *conn_tls_new(int verify, const char *cafile, struct buf *err);
void conn_tls_free(struct conn_tls *tls);

/* Upgrades to TLS as a client with tls's context: SNI = servername (may
 * be NULL); when tls->verify is set, the certificate must chain to its
 * trust anchors and match servername.  Returns 0, or -1 with c->error =
 * CONN_TLS (or TIMEOUT / CLOSED) and a reason. */
int conn_starttls(struct conn *c, const struct conn_tls *tls, const char *servername,
		  int timeout_ms);

void conn_close(struct conn *c);

#endif
