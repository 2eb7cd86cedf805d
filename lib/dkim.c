/*
 * NAME
 *	dkim - DKIM signing, rsa-sha256 and ed25519-sha256 (docs/dkim.md)
 *
 * SUMMARY
 *	Keys from control/dkim/DOMAIN/SELECTOR.key; one DKIM-Signature
 *	header per key, relaxed/relaxed, over a fixed list of header
 *	fields; key generation and the DNS TXT record to publish.
 *
 * DESCRIPTION
 *	Promises:
 *	- A key file is refused unless it is a regular file of mode 0600 or
 *	  stricter holding an unencrypted PEM RSA (2048 bits and up in
 *	  production) or Ed25519 private key; the message names the file.
 *	- The body is canonicalized and hashed once per message, streaming
 *	  (no copy of the body is made), and the header data shared by all
 *	  signatures is canonicalized once; only the DKIM-Signature header
 *	  itself and the signature are per key.
 *	- dkim_sign either appends complete headers or nothing at all.
 *	- Output lines are at most 78 columns unless one tag value (a long
 *	  d= or s=) cannot be split, and never over 998 octets.
 *
 *	Ed25519 follows RFC 8463: the Ed25519 signature (PureEdDSA) is made
 *	over the SHA-256 hash of the canonical header data, not over the
 *	data itself.  RSA is PKCS#1 v1.5 over the same SHA-256 hash, with
 *	one EVP_PKEY_CTX set up at load and reused, which makes the result
 *	identical to EVP_DigestSign with SHA-256.
 */
#include "dkim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "buf.h"

/* A key file is small; anything bigger is not one. */
#define KEY_FILE_MAX 65536
#define SIGNATURE_MAX (DKIM_MAX_RSA_BITS / 8)
/* Signed header fields one message may have (all names together). */
#define SIGNED_FIELDS_MAX 256
#define FOLD_COLUMNS 78
#define DOMAIN_MAX 253

struct dkim_key {
	EVP_PKEY *pkey;
	int ed25519;
	unsigned bits;
	EVP_PKEY_CTX *rsa_ctx; /* RSA: sign_init'ed once, PKCS#1 v1.5 + SHA-256 */
	EVP_MD_CTX *md_ctx;    /* Ed25519: initialized again for each signature */
	char selector[DKIM_SELECTOR_MAX + 1];
};

/* Kept between messages: the canonical header data grows to its usual
 * size once, and the digest contexts are made once. */
struct dkim_scratch {
	struct buf header_data;
	struct buf h_tag;
	EVP_MD *sha256;
	EVP_MD_CTX *body_md;
};

struct dkim_signer {
	char domain[DOMAIN_MAX + 1];
	struct dkim_key *keys[DKIM_MAX_KEYS];
	size_t count;
	struct dkim_scratch *scratch;
};

/* The fields signed, in h= order.  Why these: docs/dkim.md. */
static const char *const signed_names[] = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "reply-to",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
    "cc",
    "in-reply-to",
    "references",
};
#define SIGNED_NAMES (sizeof signed_names / sizeof *signed_names)
#define NAME_FROM 0

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char
ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static void
append_base64(struct buf *out, const unsigned char *p, size_t n)
{
	size_t need = 4 * ((n + 2) / 3);
	buf_reserve(out, need); /* and the NUL EVP_EncodeBlock writes */
	int w = EVP_EncodeBlock((unsigned char *)out->data + out->len, p, (int)n);
	out->len += (size_t)(w > 0 ? w : 0);
	out->data[out->len] = '\0';
}

/* The first OpenSSL error as text, and the queue emptied. */
static void
append_openssl_error(struct buf *err)
{
	unsigned long e = ERR_get_error();
	char text[256];
	if (e == 0) {
		buf_append_str(err, "unknown OpenSSL error");
	} else {
		ERR_error_string_n(e, text, sizeof text);
		buf_append_str(err, text);
	}
	ERR_clear_error();
}

/* ---- canonicalization ---- */

/* Where canonical output goes: a buffer, or (when out is NULL) a digest
 * fed in chunks, so that short runs do not each cost a digest call. */
struct sink {
	struct buf *out;
	EVP_MD_CTX *md;
	size_t n;
	unsigned char chunk[4096];
};

static void
sink_flush(struct sink *s)
{
	if (s->n) {
		EVP_DigestUpdate(s->md, s->chunk, s->n);
		s->n = 0;
	}
}

static void
sink_write(struct sink *s, const char *p, size_t n)
{
	if (s->out) {
		buf_append(s->out, p, n);
		return;
	}
	if (n > sizeof s->chunk - s->n) {
		sink_flush(s);
		if (n >= sizeof s->chunk) {
			EVP_DigestUpdate(s->md, p, n);
			return;
		}
	}
	memcpy(s->chunk + s->n, p, n);
	s->n += n;
}

/* Returns the offset of the CR of the first CRLF at or after from, or
 * len when there is none. */
static size_t
find_crlf(const char *p, size_t from, size_t len)
{
	while (from < len) {
		const char *lf = memchr(p + from, '\n', len - from);
		if (lf == NULL)
			return len;
		size_t at = (size_t)(lf - p);
		if (at > from && p[at - 1] == '\r')
			return at - 1;
		from = at + 1;
	}
	return len;
}

/*
 * RFC 6376 3.4.4.  Empty lines are not written when seen but counted, and
 * written only when a non-empty line follows: that drops the empty lines
 * at the end without looking ahead.  Within a line, a single SP is kept
 * as it is, so most lines go out in one piece.
 */
static void
canon_body(const char *p, size_t len, struct sink *s)
{
	size_t empty_lines = 0;
	size_t i = 0;
	while (i < len) {
		size_t eol = find_crlf(p, i, len);
		size_t next = eol < len ? eol + 2 : len;
		size_t end = eol;
		while (end > i && is_wsp(p[end - 1]))
			end--;
		if (end == i) {
			if (eol < len)
				empty_lines++;
			i = next;
			continue;
		}
		for (; empty_lines; empty_lines--)
			sink_write(s, "\r\n", 2);
		size_t from = i, k = i;
		while (k < end) {
			if (!is_wsp(p[k]) || (p[k] == ' ' && !is_wsp(p[k + 1]))) {
				k++; /* p[end - 1] is not WSP, so p[k + 1] is in the line */
				continue;
			}
			sink_write(s, p + from, k - from);
			sink_write(s, " ", 1);
			while (is_wsp(p[k]))
				k++;
			from = k;
		}
		sink_write(s, p + from, end - from);
		sink_write(s, "\r\n", 2);
		i = next;
	}
}

void
dkim_canon_body_relaxed(const char *body, size_t len, struct buf *out)
{
	struct sink s;
	s.out = out;
	s.md = NULL;
	s.n = 0;
	canon_body(body, len, &s);
}

void
dkim_canon_header_relaxed(const char *field, size_t len, struct buf *out)
{
	if (len >= 2 && field[len - 2] == '\r' && field[len - 1] == '\n')
		len -= 2;
	const char *colon = memchr(field, ':', len);
	size_t name_len = colon ? (size_t)(colon - field) : len;
	size_t name_end = name_len;
	while (name_end > 0 && (is_wsp(field[name_end - 1]) || field[name_end - 1] == '\r' ||
				field[name_end - 1] == '\n'))
		name_end--;
	buf_reserve(out, len + 3);
	for (size_t i = 0; i < name_end; i++) {
		if (field[i] == '\r' && i + 1 < name_end && field[i + 1] == '\n') {
			i++;
			continue;
		}
		out->data[out->len++] = ascii_lower(field[i]);
	}
	out->data[out->len++] = ':';
	int pending_space = 0, any = 0;
	for (size_t i = name_len + 1; i < len; i++) {
		char c = field[i];
		if (c == '\r' && i + 1 < len && field[i + 1] == '\n') {
			i++; /* unfolding: the CRLF goes, the WSP after it stays */
			continue;
		}
		if (is_wsp(c)) {
			pending_space = any;
			continue;
		}
		if (pending_space)
			out->data[out->len++] = ' ';
		pending_space = 0;
		any = 1;
		out->data[out->len++] = c;
	}
	out->data[out->len++] = '\r';
	out->data[out->len++] = '\n';
	out->data[out->len] = '\0';
}

/* ---- keys ---- */

static int
no_passphrase(char *text, int size, int rwflag, void *u)
{
	(void)text;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The whole file, after the checks that need no parsing. */
static int
read_key_file(const char *path, struct buf *data, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		buf_printf(err, "unable to open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == -1) {
		buf_printf(err, "unable to stat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		buf_printf(err, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		buf_printf(err,
			   "%s: mode %04o: a private key readable or writable by group or "
			   "others is refused (chmod 600)",
			   path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	if (st.st_size > KEY_FILE_MAX) {
		buf_printf(err, "%s: larger than %d bytes: not a key", path, KEY_FILE_MAX);
		close(fd);
		return -1;
	}
	buf_reserve(data, (size_t)st.st_size + 1);
	for (;;) {
		if (data->len >= KEY_FILE_MAX) {
			buf_printf(err, "%s: larger than %d bytes: not a key", path, KEY_FILE_MAX);
			close(fd);
			return -1;
		}
		buf_reserve(data, 4096);
		ssize_t n = read(fd, data->data + data->len, data->cap - data->len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			buf_printf(err, "unable to read %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		data->len += (size_t)n;
	}
	data->data[data->len] = '\0';
	close(fd);
	return 0;
}

static void
wipe(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

/* Sets up the signing context of a key whose pkey, ed25519 and bits are
 * filled in. */
static int
key_prepare(struct dkim_key *k)
{
	if (k->ed25519) {
		k->md_ctx = EVP_MD_CTX_new();
		return k->md_ctx ? 0 : -1;
	}
	k->rsa_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
	if (k->rsa_ctx == NULL || EVP_PKEY_sign_init(k->rsa_ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(k->rsa_ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(k->rsa_ctx, EVP_sha256()) <= 0)
		return -1;
	return 0;
}

struct dkim_key *
dkim_key_load(const char *path, unsigned min_rsa_bits, struct buf *err)
{
	struct buf data = BUF_INIT;
	if (read_key_file(path, &data, err) == -1) {
		wipe(&data);
		return NULL;
	}
	/* Say what the file is when it is a well-known wrong thing. */
	const char *why = NULL;
	if (memchr(data.data, '\0', data.len))
		why = "binary data, not a PEM private key";
	else if (strstr(data.data, "-----BEGIN CERTIFICATE-----"))
		why = "a certificate, not a private key";
	else if (strstr(data.data, "-----BEGIN PUBLIC KEY-----") ||
		 strstr(data.data, "-----BEGIN RSA PUBLIC KEY-----"))
		why = "a public key, not a private key";
	else if (strstr(data.data, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
		 strstr(data.data, "ENCRYPTED\n") || strstr(data.data, "ENCRYPTED\r\n"))
		why = "an encrypted private key (store it unencrypted, mode 0600)";
	if (why) {
		buf_printf(err, "%s: %s", path, why);
		wipe(&data);
		return NULL;
	}
	BIO *bio = BIO_new_mem_buf(data.data, (int)data.len);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	wipe(&data);
	if (pkey == NULL) {
		ERR_clear_error();
		buf_printf(err, "%s: not a PEM private key", path);
		return NULL;
	}
	int ed25519 = EVP_PKEY_is_a(pkey, "ED25519");
	if (!ed25519 && !EVP_PKEY_is_a(pkey, "RSA")) {
		const char *type = EVP_PKEY_get0_type_name(pkey);
		buf_printf(err, "%s: a %s key: only RSA and Ed25519 keys are used for DKIM", path,
			   type ? type : "unknown");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	int bits = EVP_PKEY_get_bits(pkey);
	if (!ed25519 && (bits < 0 || (unsigned)bits < min_rsa_bits)) {
		buf_printf(err, "%s: an RSA key of %d bits: at least %u are required", path, bits,
			   min_rsa_bits);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (!ed25519 && bits > DKIM_MAX_RSA_BITS) {
		buf_printf(err, "%s: an RSA key of %d bits: at most %d are accepted", path, bits,
			   DKIM_MAX_RSA_BITS);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	struct dkim_key *k = xcalloc(1, sizeof *k);
	k->pkey = pkey;
	k->ed25519 = ed25519;
	k->bits = (unsigned)bits;
	if (key_prepare(k) == -1) {
		buf_printf(err, "%s: unable to set up signing: ", path);
		append_openssl_error(err);
		dkim_key_free(k);
		return NULL;
	}
	return k;
}

void
dkim_key_free(struct dkim_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_CTX_free(k->rsa_ctx);
	EVP_MD_CTX_free(k->md_ctx);
	EVP_PKEY_free(k->pkey);
	free(k);
}

int
dkim_key_is_ed25519(const struct dkim_key *k)
{
	return k->ed25519;
}

unsigned
dkim_key_bits(const struct dkim_key *k)
{
	return k->bits;
}

static void
pkey_txt(EVP_PKEY *pkey, int ed25519, struct buf *txt)
{
	if (ed25519) {
		unsigned char pub[32];
		size_t n = sizeof pub;
		if (EVP_PKEY_get_raw_public_key(pkey, pub, &n) <= 0)
			n = 0; /* cannot happen for a loaded Ed25519 key */
		buf_append_str(txt, "v=DKIM1; k=ed25519; p=");
		append_base64(txt, pub, n);
		return;
	}
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);
	buf_append_str(txt, "v=DKIM1; k=rsa; p=");
	if (n > 0)
		append_base64(txt, der, (size_t)n);
	OPENSSL_free(der);
}

void
dkim_key_txt(const struct dkim_key *k, struct buf *txt)
{
	pkey_txt(k->pkey, k->ed25519, txt);
}

/* ---- names ---- */

int
dkim_selector_valid(const char *name, size_t len)
{
	if (len == 0 || len > DKIM_SELECTOR_MAX || name[0] == '.' || name[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c == '.') {
			if (name[i - 1] == '.')
				return 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			return 0;
		}
	}
	return 1;
}

int
dkim_domain_valid(const char *name, size_t len)
{
	if (len == 0 || len > DOMAIN_MAX)
		return 0;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}

/* ---- signers ---- */

struct dkim_signer *
dkim_signer_new(const char *domain, struct buf *err)
{
	size_t n = strlen(domain);
	if (!dkim_domain_valid(domain, n)) {
		buf_printf(err, "\"%s\" is not a valid DKIM domain", domain);
		return NULL;
	}
	struct dkim_signer *s = xcalloc(1, sizeof *s);
	for (size_t i = 0; i < n; i++)
		s->domain[i] = ascii_lower(domain[i]);
	s->scratch = xcalloc(1, sizeof *s->scratch);
	s->scratch->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->scratch->body_md = EVP_MD_CTX_new();
	if (s->scratch->sha256 == NULL || s->scratch->body_md == NULL) {
		buf_append_str(err, "unable to set up SHA-256: ");
		append_openssl_error(err);
		dkim_signer_free(s);
		return NULL;
	}
	return s;
}

/* RSA first, then by selector: a stable order of the signature headers. */
static int
key_order(const void *a, const void *b)
{
	const struct dkim_key *x = *(struct dkim_key *const *)a;
	const struct dkim_key *y = *(struct dkim_key *const *)b;
	if (x->ed25519 != y->ed25519)
		return x->ed25519 - y->ed25519;
	return strcmp(x->selector, y->selector);
}

int
dkim_signer_add(struct dkim_signer *s, struct dkim_key *k, const char *selector, struct buf *err)
{
	size_t n = strlen(selector);
	if (k == NULL) {
		buf_append_str(err, "no key to add");
		return -1;
	}
	if (!dkim_selector_valid(selector, n)) {
		buf_printf(err, "selector \"%s\" is not 1 to %d of a-z, 0-9, - and dots", selector,
			   DKIM_SELECTOR_MAX);
		dkim_key_free(k);
		return -1;
	}
	if (s->count == DKIM_MAX_KEYS) {
		buf_printf(err, "more than %d DKIM keys for %s", DKIM_MAX_KEYS, s->domain);
		dkim_key_free(k);
		return -1;
	}
	memcpy(k->selector, selector, n + 1);
	s->keys[s->count++] = k;
	qsort(s->keys, s->count, sizeof *s->keys, key_order);
	return 0;
}

size_t
dkim_signer_count(const struct dkim_signer *s)
{
	return s ? s->count : 0;
}

void
dkim_signer_free(struct dkim_signer *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->count; i++)
		dkim_key_free(s->keys[i]);
	if (s->scratch) {
		buf_free(&s->scratch->header_data);
		buf_free(&s->scratch->h_tag);
		EVP_MD_free(s->scratch->sha256);
		EVP_MD_CTX_free(s->scratch->body_md);
		free(s->scratch);
	}
	free(s);
}

struct dkim_signer *
dkim_signer_load(const char *root, const char *domain, struct buf *err)
{
	struct dkim_signer *s = dkim_signer_new(domain, err);
	if (s == NULL)
		return NULL;
	struct buf dir = BUF_INIT, path = BUF_INIT;
	buf_printf(&dir, "%s/control/dkim/%s", root, domain);
	DIR *d = opendir(dir.data);
	if (d == NULL) {
		if (errno == ENOENT) {
			buf_free(&dir);
			return s; /* no keys: the domain is not signed */
		}
		buf_printf(err, "unable to open %s: %s", dir.data, strerror(errno));
		goto fail;
	}
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL) {
			if (errno == 0)
				break;
			buf_printf(err, "unable to read %s: %s", dir.data, strerror(errno));
			goto fail;
		}
		const char *name = e->d_name;
		size_t n = strlen(name);
		if (name[0] == '.' || n < 4 || strcmp(name + n - 4, ".key") != 0)
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/%s", dir.data, name);
		if (!dkim_selector_valid(name, n - 4)) {
			buf_printf(
			    err, "%s: the selector \"%.*s\" is not 1 to %d of a-z, 0-9, - and dots",
			    path.data, (int)(n - 4), name, DKIM_SELECTOR_MAX);
			goto fail;
		}
		struct dkim_key *k = dkim_key_load(path.data, DKIM_MIN_RSA_BITS, err);
		if (k == NULL)
			goto fail;
		char selector[DKIM_SELECTOR_MAX + 1];
		memcpy(selector, name, n - 4);
		selector[n - 4] = '\0';
		if (s->count == DKIM_MAX_KEYS) {
			buf_printf(err, "%s: more than %d keys", dir.data, DKIM_MAX_KEYS);
			dkim_key_free(k);
			goto fail;
		}
		dkim_signer_add(s, k, selector, err); /* checked above: cannot fail */
	}
	closedir(d);
	buf_free(&dir);
	buf_free(&path);
	return s;
fail:
	if (d)
		closedir(d);
	buf_free(&dir);
	buf_free(&path);
	dkim_signer_free(s);
	return NULL;
}

/* ---- signing ---- */

struct field {
	size_t start, len; /* the whole field, with its final CRLF */
	unsigned name;	   /* index in signed_names */
};

struct header_scan {
	struct field fields[SIGNED_FIELDS_MAX];
	size_t nfields;
	size_t count[SIGNED_NAMES];
	size_t body; /* offset of the body */
};

static int
field_name_index(const char *name, size_t len)
{
	for (unsigned i = 0; i < SIGNED_NAMES; i++) {
		const char *s = signed_names[i];
		size_t j = 0;
		while (j < len && s[j] && ascii_lower(name[j]) == s[j])
			j++;
		if (j == len && s[j] == '\0')
			return (int)i;
	}
	return -1;
}

/*
 * Finds the header fields to sign and where the body starts.  The header
 * is read strictly, as the rest of mailshot reads input: every line ends
 * with CRLF, a field starts with a name and a colon, and there is no
 * bare CR or LF; a message that breaks these rules would be signed in a
 * way receivers could not reproduce, so it is refused instead.
 */
static int
scan_header(const char *msg, size_t len, struct header_scan *h, struct buf *err)
{
	h->nfields = 0;
	memset(h->count, 0, sizeof h->count);
	size_t i = 0;
	unsigned long line = 1;
	while (i < len) {
		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n') {
			h->body = i + 2;
			return 0;
		}
		if (is_wsp(msg[i])) {
			buf_printf(err, "header line %lu: a continuation line without a field",
				   line);
			return -1;
		}
		size_t start = i;
		for (;;) {
			size_t eol = find_crlf(msg, i, len);
			const char *bad = memchr(msg + i, '\r', eol - i);
			if (bad == NULL)
				bad = memchr(msg + i, '\n', eol - i);
			if (eol == len || bad) {
				buf_printf(err,
					   "header line %lu: a bare CR or LF, or not ended by CRLF",
					   line);
				return -1;
			}
			i = eol + 2;
			line++;
			if (i < len && is_wsp(msg[i]))
				continue;
			break;
		}
		const char *colon = memchr(msg + start, ':', i - start);
		size_t name_end = colon ? (size_t)(colon - msg) : start;
		while (name_end > start && is_wsp(msg[name_end - 1]))
			name_end--;
		for (size_t j = start; j < name_end; j++) {
			unsigned char c = (unsigned char)msg[j];
			if (c < 33 || c > 126)
				name_end = start;
		}
		if (name_end == start) {
			buf_printf(err, "header line %lu: not a header field (no name and colon)",
				   line - 1);
			return -1;
		}
		int n = field_name_index(msg + start, name_end - start);
		if (n < 0)
			continue;
		if (h->nfields == SIGNED_FIELDS_MAX) {
			buf_printf(err, "more than %d header fields to sign", SIGNED_FIELDS_MAX);
			return -1;
		}
		h->fields[h->nfields].start = start;
		h->fields[h->nfields].len = i - start;
		h->fields[h->nfields].name = (unsigned)n;
		h->nfields++;
		h->count[n]++;
	}
	h->body = len; /* a header without a body */
	return 0;
}

/*
 * 1 when every CR in the body starts a CRLF and every LF ends one.  A
 * bare CR or LF cannot cross SMTP unchanged (RFC 5321 2.3.8): relays and
 * receivers repair them in differing ways, which would break the
 * signature, so such a body is refused rather than signed.
 */
static int
body_line_ends_ok(const char *p, size_t len)
{
	const char *end = p + len;
	for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL; q++)
		if (q == p || q[-1] != '\r')
			return 0;
	for (const char *q = p; (q = memchr(q, '\r', (size_t)(end - q))) != NULL; q++)
		if (q + 1 == end || q[1] != '\n')
			return 0;
	return 1;
}

/* Appends piece to the header being built, after sep, or on a
 * continuation line when it would go past FOLD_COLUMNS. */
static void
fold_append(struct buf *out, size_t *col, const char *sep, const char *piece, size_t n)
{
	size_t seplen = strlen(sep);
	if (*col + seplen + n > FOLD_COLUMNS && *col > 1) {
		buf_append(out, "\r\n ", 3);
		*col = 1;
	} else {
		buf_append(out, sep, seplen);
		*col += seplen;
	}
	buf_append(out, piece, n);
	*col += n;
}

static int
sign_digest(struct dkim_key *k, const unsigned char *digest, size_t digest_len, unsigned char *sig,
	    size_t *sig_len)
{
	if (k->ed25519)
		return EVP_DigestSignInit_ex(k->md_ctx, NULL, NULL, NULL, NULL, k->pkey, NULL) >
				   0 &&
			       EVP_DigestSign(k->md_ctx, sig, sig_len, digest, digest_len) > 0
			   ? 0
			   : -1;
	return EVP_PKEY_sign(k->rsa_ctx, sig, sig_len, digest, digest_len) > 0 ? 0 : -1;
}

/* One DKIM-Signature header for key k; header_data holds the canonical
 * signed fields, which are left as they were. */
static int
sign_one(const struct dkim_signer *s, struct dkim_key *k, const char *bh, time_t now,
	 struct buf *out, struct buf *err)
{
	struct dkim_scratch *sc = s->scratch;
	size_t start = out->len, col = 15;
	char piece[DOMAIN_MAX + 8];
	int n;
	buf_append_str(out, "DKIM-Signature:");
	fold_append(out, &col, " ", "v=1;", 4);
	if (k->ed25519)
		fold_append(out, &col, " ", "a=ed25519-sha256;", 17);
	else
		fold_append(out, &col, " ", "a=rsa-sha256;", 13);
	fold_append(out, &col, " ", "c=relaxed/relaxed;", 18);
	n = snprintf(piece, sizeof piece, "d=%s;", s->domain);
	fold_append(out, &col, " ", piece, (size_t)n);
	n = snprintf(piece, sizeof piece, "s=%s;", k->selector);
	fold_append(out, &col, " ", piece, (size_t)n);
	n = snprintf(piece, sizeof piece, "t=%lld;", (long long)now);
	fold_append(out, &col, " ", piece, (size_t)n);
	/* h=: one piece per name, so the list can fold after any colon */
	const char *h = sc->h_tag.data;
	const char *sep = " ";
	for (size_t i = 0; i < sc->h_tag.len;) {
		const char *colon = memchr(h + i, ':', sc->h_tag.len - i);
		size_t end = colon ? (size_t)(colon - h) + 1 : sc->h_tag.len;
		fold_append(out, &col, sep, h + i, end - i);
		sep = "";
		i = end;
	}
	fold_append(out, &col, " ", bh, strlen(bh));
	fold_append(out, &col, " ", "b=", 2);

	/* The header as hashed: everything up to "b=", canonicalized, without
	 * the CRLF canonicalization ends it with (RFC 6376 3.7). */
	size_t base = sc->header_data.len;
	dkim_canon_header_relaxed(out->data + start, out->len - start, &sc->header_data);
	buf_truncate(&sc->header_data, sc->header_data.len - 2);
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned digest_len = 0;
	int ok = EVP_Digest(sc->header_data.data, sc->header_data.len, digest, &digest_len,
			    sc->sha256, NULL);
	buf_truncate(&sc->header_data, base);
	unsigned char sig[SIGNATURE_MAX];
	size_t sig_len = sizeof sig;
	if (!ok || sign_digest(k, digest, digest_len, sig, &sig_len) == -1) {
		buf_printf(err, "signing with selector %s failed: ", k->selector);
		append_openssl_error(err);
		return -1;
	}
	char b64[4 * ((SIGNATURE_MAX + 2) / 3) + 1];
	int b64_len = EVP_EncodeBlock((unsigned char *)b64, sig, (int)sig_len);
	for (size_t i = 0; i < (size_t)b64_len;) {
		if (col >= FOLD_COLUMNS) {
			buf_append(out, "\r\n ", 3);
			col = 1;
		}
		size_t m = FOLD_COLUMNS - col;
		if (m > (size_t)b64_len - i)
			m = (size_t)b64_len - i;
		buf_append(out, b64 + i, m);
		col += m;
		i += m;
	}
	buf_append(out, "\r\n", 2);
	return 0;
}

int
dkim_sign(const struct dkim_signer *s, const char *msg, size_t len, time_t now, struct buf *out,
	  struct buf *err)
{
	if (s == NULL || s->count == 0)
		return 0;
	struct dkim_scratch *sc = s->scratch;
	struct header_scan h;
	if (scan_header(msg, len, &h, err) == -1)
		return -1;
	if (h.count[NAME_FROM] == 0) {
		buf_append_str(err, "no From header field: a message must have one to be signed");
		return -1;
	}
	if (h.count[NAME_FROM] > 1) {
		buf_append_str(err, "more than one From header field (RFC 5322 allows one)");
		return -1;
	}

	if (!body_line_ends_ok(msg + h.body, len - h.body)) {
		buf_append_str(err, "a bare CR or LF in the body: lines must end with CRLF");
		return -1;
	}

	/* The body hash, once for all keys. */
	struct sink body;
	body.out = NULL;
	body.md = sc->body_md;
	body.n = 0;
	unsigned char body_digest[EVP_MAX_MD_SIZE];
	unsigned body_digest_len = 0;
	if (EVP_DigestInit_ex(sc->body_md, sc->sha256, NULL) <= 0) {
		buf_append_str(err, "SHA-256 failed: ");
		append_openssl_error(err);
		return -1;
	}
	canon_body(msg + h.body, len - h.body, &body);
	sink_flush(&body);
	if (EVP_DigestFinal_ex(sc->body_md, body_digest, &body_digest_len) <= 0) {
		buf_append_str(err, "SHA-256 failed: ");
		append_openssl_error(err);
		return -1;
	}
	char bh[3 + 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 2];
	memcpy(bh, "bh=", 3);
	int n = EVP_EncodeBlock((unsigned char *)bh + 3, body_digest, (int)body_digest_len);
	bh[3 + n] = ';';
	bh[4 + n] = '\0';

	/*
	 * h= and the canonical fields, also once for all keys.  A name
	 * listed k times selects its instances from the bottom up (RFC 6376
	 * 5.4.2); From is listed once more than present, and the extra
	 * entry selects nothing, which keeps anyone from adding a From.
	 */
	buf_reset(&sc->h_tag);
	buf_reset(&sc->header_data);
	buf_append_str(&sc->h_tag, "h=");
	for (unsigned name = 0; name < SIGNED_NAMES; name++) {
		size_t times = h.count[name] + (name == NAME_FROM);
		for (size_t t = 0; t < times; t++) {
			buf_append_str(&sc->h_tag, signed_names[name]);
			buf_append_char(&sc->h_tag, ':');
		}
		for (size_t f = h.nfields; f > 0; f--)
			if (h.fields[f - 1].name == name)
				dkim_canon_header_relaxed(msg + h.fields[f - 1].start,
							  h.fields[f - 1].len, &sc->header_data);
	}
	sc->h_tag.data[sc->h_tag.len - 1] = ';';

	size_t orig = out->len;
	for (size_t i = 0; i < s->count; i++) {
		if (sign_one(s, s->keys[i], bh, now, out, err) == -1) {
			buf_truncate(out, orig);
			return -1;
		}
	}
	return 0;
}

/* ---- key generation ---- */

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir =
	    slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd != -1) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/*
 * The key is written to PATH.tmp.PID and then link()ed to PATH: link
 * fails when PATH exists, so an existing key is never replaced, and PATH
 * only ever appears complete and fsynced.
 */
int
dkim_keygen(const char *path, int ed25519, struct buf *txt, struct buf *err)
{
	EVP_PKEY *pkey = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
				 : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (pkey == NULL) {
		buf_append_str(err, "unable to generate a key: ");
		append_openssl_error(err);
		return -1;
	}
	struct buf tmp = BUF_INIT;
	buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	int rc = -1;
	BIO *bio = BIO_new(BIO_s_secmem());
	char *pem = NULL;
	long pem_len = 0;
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) <= 0 ||
	    (pem_len = BIO_get_mem_data(bio, &pem)) <= 0) {
		buf_append_str(err, "unable to write the key as PEM: ");
		append_openssl_error(err);
		goto out;
	}
	int fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		buf_printf(err, "unable to create %s: %s", tmp.data, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) == -1 || write_all(fd, pem, (size_t)pem_len) == -1 ||
	    fsync(fd) == -1) {
		buf_printf(err, "unable to write %s: %s", tmp.data, strerror(errno));
		close(fd);
		unlink(tmp.data);
		goto out;
	}
	if (close(fd) == -1) {
		buf_printf(err, "unable to write %s: %s", tmp.data, strerror(errno));
		unlink(tmp.data);
		goto out;
	}
	if (link(tmp.data, path) == -1) {
		if (errno == EEXIST)
			buf_printf(err, "%s: exists already (a key is never overwritten)", path);
		else
			buf_printf(err, "unable to link %s to %s: %s", tmp.data, path,
				   strerror(errno));
		unlink(tmp.data);
		goto out;
	}
	unlink(tmp.data);
	fsync_parent(path);
	pkey_txt(pkey, ed25519, txt);
	rc = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	buf_free(&tmp);
	return rc;
}

static int
make_dir(const char *path, struct buf *err)
{
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		buf_printf(err, "unable to create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
dkim_keygen_selector(const char *root, const char *domain, const char *selector, int ed25519,
		     struct buf *txt, struct buf *path_out, struct buf *err)
{
	size_t n = strlen(domain);
	if (!dkim_domain_valid(domain, n)) {
		buf_printf(err, "\"%s\" is not a valid DKIM domain", domain);
		return -1;
	}
	if (!dkim_selector_valid(selector, strlen(selector))) {
		buf_printf(err, "selector \"%s\" is not 1 to %d of a-z, 0-9, - and dots", selector,
			   DKIM_SELECTOR_MAX);
		return -1;
	}
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/control/dkim", root);
	int rc = -1;
	if (make_dir(path.data, err) == -1)
		goto out;
	buf_append_char(&path, '/');
	for (size_t i = 0; i < n; i++)
		buf_append_char(&path, ascii_lower(domain[i]));
	if (make_dir(path.data, err) == -1)
		goto out;
	buf_printf(&path, "/%s.key", selector);
	if (dkim_keygen(path.data, ed25519, txt, err) == -1)
		goto out;
	buf_append(path_out, path.data, path.len);
	rc = 0;
out:
	buf_free(&path);
	return rc;
}
