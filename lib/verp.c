/*
 * NAME
 *	verp - which recipient a token in an inbound address names
 *
 * SUMMARY
 *	A token carries a 4-byte campaign hash, not the name, so the
 *	campaigns are listed and hashed; the ledger line at the token's
 *	offset gives the address; the MAC over (campaign, offset, address)
 *	decides.  Exactly one verifying campaign is an answer.
 *
 * DESCRIPTION
 *	Promises: without the secret nothing verifies; a token verifies only
 *	for the address it was made for; no file is written.
 */
#include "verp.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ledger.h"
#include "spool.h"

int
verp_resolve(const char *root, const char *secret, size_t secret_len, const struct token *t,
	     struct verp_match *out)
{
	if (secret_len == 0)
		return 0;
	struct buf dir = BUF_INIT, key = BUF_INIT;
	buf_printf(&dir, "%s/campaigns", root);
	DIR *d = opendir(dir.data);
	int found = 0, rc = 0;
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		if (!spool_valid_id(e->d_name) || token_campaign_hash(e->d_name) != t->campaign_hash)
			continue;
		buf_reset(&key);
		int r = t->offset == 0 ? 1 : ledger_key_at(root, e->d_name, t->offset, &key);
		if (r == -1) {
			rc = -1;
			break;
		}
		if (r == 0 || !token_verify(t, secret, secret_len, e->d_name, buf_cstr(&key)))
			continue;
		if (found++ == 0) {
			out->kind = t->kind;
			out->scope = t->scope;
			out->day = t->day;
			snprintf(out->campaign, sizeof out->campaign, "%.64s", e->d_name);
			buf_reset(&out->address);
			buf_append(&out->address, key.data, key.len);
			buf_cstr(&out->address);
		}
	}
	int saved = errno;
	if (d != NULL)
		closedir(d);
	buf_free(&dir);
	buf_free(&key);
	errno = saved;
	if (rc == -1)
		return -1;
	return found == 1;
}

int
verp_find(const char *root, const char *secret, size_t secret_len, char delim,
	  const char *text, size_t len, struct verp_match *out, struct buf *bad)
{
	int bad_seen = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		size_t n = 0;
		while (p + n < end && strchr(" \t\r\n,<>\"';:()[]", p[n]) == NULL)
			n++;
		struct token t;
		if (n > 0 && n < 512 && memchr(p, '@', n) != NULL &&
		    token_find(p, n, delim, &t) == 0) {
			int r = verp_resolve(root, secret, secret_len, &t, out);
			if (r == -1)
				return -2;
			if (r == 1)
				return 1;
			if (!bad_seen++)
				buf_append(bad, p, n);
		}
		p += n ? n : 1;
	}
	if (bad_seen)
		buf_cstr(bad);
	return bad_seen ? -1 : 0;
}

int
verp_alive(const struct verp_match *m, unsigned today, unsigned lifetime)
{
	if (m->kind != 'u' || lifetime == 0)
		return 1;
	/* a day in the future (clock skew) counts as today */
	return m->day >= today || today - m->day <= lifetime;
}

void
verp_scope(const char *root, const struct verp_match *m, char *out, size_t size)
{
	snprintf(out, size, "*");
	if (m->kind != 'u' || m->scope != 1)
		return;
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/campaigns/%s/type", root, m->campaign);
	FILE *f = fopen(path.data, "re");
	buf_free(&path);
	if (f == NULL)
		return;
	char line[128];
	if (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (spool_valid_id(line))
			snprintf(out, size, "%s", line);
	}
	fclose(f);
}
