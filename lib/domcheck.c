/*
 * domcheck - `mailshot-report check DOMAIN`: SPF, DKIM and DMARC of a
 * sending domain, and the MX hosts of recipient domains, as a table of
 * PASS / WARN / FAIL / TEMP rows with the record to publish for what
 * fails.  The rules are docs/domcheck.md; this file only applies them.
 *
 * Everything the check learns from DNS comes through one dnsq (cached:
 * the check and libspf2 see one view), and every verdict is a row added
 * where it is decided, so nothing downstream guesses.
 */
#include "domcheck.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "checktable.h"
#include "dkim.h"
#include "dnsq.h"
#include "dnsrec.h"
#include "mxcheck.h"
#include "spfdns.h"

#define MAX_SELECTORS 16
#define MAX_MX_DOMAINS 16
#define SPF_MAX_LOOKUPS 10

/* ---- helpers ---- */

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

/* ---- the check ---- */

struct check {
	struct domcheck_env env;
	struct dnsq *dns;
	struct spfeval *spf;
	struct check_table table;
	char domain[256];    /* the From domain, lower case */
	char rp_domain[256]; /* the Return-Path domain */
	const char *ips[DOMCHECK_MAX_IPS];
	char ip_text[DOMCHECK_MAX_IPS][64];
	size_t nips;
	const char *selectors[MAX_SELECTORS];
	size_t nselectors;
	const char *mx[MAX_MX_DOMAINS];
	size_t nmx;
	int timeout_s;
	enum check_format format;
	/* what alignment needs */
	int dkim_ok;	/* a key of ours for the From domain is published */
	int dkim_temp;	/* a key record could not be looked up */
	int rp_spf_ok;	/* every IP passes SPF for the Return-Path domain */
	int rp_spf_temp; /* SPF of the Return-Path domain could not be checked */
	int dmarc_strict_spf, dmarc_strict_dkim;
};

/* The single SPF record of domain, or a row saying why there is none. */
struct spf_found {
	char *record; /* malloc'ed; NULL when none usable */
	struct dnsrec_spf parsed;
};

static void
publish_new_spf(struct check *c, const char *domain, struct buf *out)
{
	struct buf rec = BUF_INIT;
	if (c->nips > 0) {
		dnsrec_spf_with_ips(NULL, c->ips, c->nips, 0, &rec);
	} else {
		static const char *const placeholder[] = {"SENDING-IP"};
		dnsrec_spf_with_ips(NULL, placeholder, 1, 0, &rec);
	}
	dnsrec_zone_txt(domain, rec.data, rec.len, out);
	buf_free(&rec);
}

static int
find_spf(struct check *c, const char *domain, const char *role, struct spf_found *found)
{
	struct buf d = BUF_INIT, pub = BUF_INIT;
	found->record = NULL;
	const struct dnsq_answer *a = dnsq_query(c->dns, domain, DNSQ_TXT);
	if (a->status == DNSQ_TEMPORARY || a->status == DNSQ_MALFORMED ||
	    a->status == DNSQ_NXDOMAIN) {
		dnsq_describe(a, &d);
		checktable_add(&c->table, a->status == DNSQ_TEMPORARY ? CHECK_TEMP : CHECK_FAIL,
			       "spf", domain, NULL, "%sTXT lookup: %s", role, d.data);
		buf_free(&d);
		return a->status == DNSQ_TEMPORARY ? -2 : -1;
	}
	size_t count = 0, first = 0;
	for (size_t i = 0; i < a->count; i++)
		if (dnsrec_is_spf(a->rr[i].text, a->rr[i].len) && count++ == 0)
			first = i;
	if (count == 0) {
		publish_new_spf(c, domain, &pub);
		checktable_add(&c->table, CHECK_FAIL, "spf", domain, pub.data,
			       "%sno SPF record%s", role,
			       c->nips ? "" : " (give --ip for the exact record)");
		buf_free(&pub);
		return -1;
	}
	const struct dnsq_rr *r = &a->rr[first];
	if (count > 1) {
		if (memchr(r->text, '\0', r->len) == NULL) {
			dnsrec_spf_with_ips(r->text, c->ips, c->nips, 0, &d);
			dnsrec_zone_txt(domain, d.data, d.len, &pub);
		}
		checktable_add(&c->table, CHECK_FAIL, "spf", domain, pub.len ? pub.data : NULL,
			       "%s%zu SPF records: receivers give permerror (RFC 7208 4.5); keep "
			       "one, delete the others",
			       role, count);
		buf_free(&d);
		buf_free(&pub);
		return -1;
	}
	const char *why;
	if (memchr(r->text, '\0', r->len) != NULL) {
		checktable_add(&c->table, CHECK_FAIL, "spf", domain, NULL,
			       "%smalformed SPF record: a NUL byte", role);
		return -1;
	}
	if (dnsrec_spf_parse(r->text, r->len, &found->parsed, &why) == -1) {
		checktable_add(&c->table, CHECK_FAIL, "spf", domain, NULL,
			       "%smalformed SPF record (%s): %s", role, why, r->text);
		return -1;
	}
	found->record = xstrdup(r->text);
	/* The term slices point into the cached answer, which lives as long
	 * as the dnsq; re-point them to our copy for safety. */
	for (size_t i = 0; i < found->parsed.count; i++) {
		struct dnsrec_spf_term *t = &found->parsed.term[i];
		t->text.p = found->record + (t->text.p - r->text);
		t->arg.p = found->record + (t->arg.p - r->text);
	}
	checktable_add(&c->table, CHECK_PASS, "spf", domain, NULL, "%s%s", role, found->record);
	return 0;
}

/* ---- the 10-lookup limit ---- */

struct walk {
	int count;
	int temporary;
	char problem[600];
	char stack[11][256];
	int depth;
};

static void
walk_record(struct check *c, const struct dnsrec_spf *rec, struct walk *w)
{
	for (size_t i = 0; i < rec->count && w->count <= SPF_MAX_LOOKUPS && !w->problem[0]; i++) {
		const struct dnsrec_spf_term *t = &rec->term[i];
		switch (t->kind) {
		case SPF_INCLUDE:
		case SPF_A:
		case SPF_MX:
		case SPF_PTR:
		case SPF_EXISTS:
		case SPF_REDIRECT:
			w->count++;
			break;
		default:
			continue;
		}
		if ((t->kind != SPF_INCLUDE && t->kind != SPF_REDIRECT) || t->has_macro ||
		    w->count > SPF_MAX_LOOKUPS)
			continue;
		char target[256];
		snprintf(target, sizeof target, "%.*s", (int)t->arg.len, t->arg.p);
		lower_copy(target, sizeof target, target);
		for (int k = 0; k < w->depth; k++)
			if (strcmp(w->stack[k], target) == 0) {
				snprintf(w->problem, sizeof w->problem,
					 "include loop: %s includes itself", target);
				return;
			}
		if (w->depth == 10) {
			snprintf(w->problem, sizeof w->problem, "includes nested deeper than 10");
			return;
		}
		const struct dnsq_answer *a = dnsq_query(c->dns, target, DNSQ_TXT);
		if (a->status == DNSQ_TEMPORARY) {
			w->temporary = 1;
			snprintf(w->problem, sizeof w->problem, "%s: temporary DNS failure: %s",
				 target, a->why);
			return;
		}
		const struct dnsq_rr *found = NULL;
		size_t n = 0;
		for (size_t k = 0; k < a->count; k++)
			if (dnsrec_is_spf(a->rr[k].text, a->rr[k].len) && n++ == 0)
				found = &a->rr[k];
		if (n != 1) {
			snprintf(w->problem, sizeof w->problem,
				 "%s:%s has %s SPF record (permerror)",
				 t->kind == SPF_INCLUDE ? "include" : "redirect=", target,
				 n == 0 ? "no" : "more than one");
			return;
		}
		struct dnsrec_spf *sub = xcalloc(1, sizeof *sub);
		const char *why;
		if (dnsrec_spf_parse(found->text, found->len, sub, &why) == -1) {
			snprintf(w->problem, sizeof w->problem, "%s: malformed SPF record (%s)",
				 target, why);
		} else {
			snprintf(w->stack[w->depth++], sizeof w->stack[0], "%s", target);
			walk_record(c, sub, w);
			w->depth--;
		}
		free(sub);
	}
}

static void
check_lookups(struct check *c, const char *domain, const char *role,
	      const struct spf_found *found)
{
	struct walk *w = xcalloc(1, sizeof *w);
	lower_copy(w->stack[0], sizeof w->stack[0], domain);
	w->depth = 1;
	walk_record(c, &found->parsed, w);
	if (w->count > SPF_MAX_LOOKUPS)
		checktable_add(&c->table, CHECK_FAIL, "spf-lookups", domain, NULL,
			       "%smore than %d DNS lookups (include, a, mx, ptr, exists, redirect; "
			       "nested includes counted): receivers give permerror",
			       role, SPF_MAX_LOOKUPS);
	else if (w->problem[0])
		checktable_add(&c->table, w->temporary ? CHECK_TEMP : CHECK_FAIL, "spf-lookups",
			       domain, NULL, "%s%s", role, w->problem);
	else
		checktable_add(&c->table, CHECK_PASS, "spf-lookups", domain, NULL,
			       "%s%d DNS lookup%s of at most %d", role, w->count,
			       w->count == 1 ? "" : "s", SPF_MAX_LOOKUPS);
	free(w);
}

/* ---- our IPs ---- */

/* The record with the failing addresses added, checked by libspf2:
 * before the "all" first, right after "v=spf1" when that does not pass. */
static void
fixed_record(struct check *c, const char *domain, const char *record, const char **failing,
	     size_t nfailing, struct buf *zone)
{
	struct buf rec = BUF_INIT;
	for (int at_start = 0; at_start < 2; at_start++) {
		buf_reset(&rec);
		dnsrec_spf_with_ips(record, failing, nfailing, at_start, &rec);
		int ok = 1;
		for (size_t i = 0; i < nfailing && ok; i++) {
			struct spf_outcome o;
			ok = spfeval_record(c->spf, domain, buf_cstr(&rec), failing[i], &o) == 0 &&
			     o.verdict == SPF_VERDICT_PASS;
		}
		if (ok)
			break;
	}
	dnsrec_zone_txt(domain, rec.data, rec.len, zone);
	buf_free(&rec);
}

/* Returns 1 when every IP passes. */
static int
check_ips(struct check *c, const char *domain, const char *role, const char *both,
	  const struct spf_found *found)
{
	if (c->nips == 0) {
		checktable_add(&c->table, CHECK_WARN, "spf-ip", domain, NULL,
			       "%sno sending IP known; give --ip (or set control/outgoingip)", role);
		return 0;
	}
	const char *failing[DOMCHECK_MAX_IPS];
	size_t nfailing = 0, first_fail_row = 0;
	int all_pass = 1;
	for (size_t i = 0; i < c->nips; i++) {
		struct spf_outcome o;
		struct buf subject = BUF_INIT;
		buf_printf(&subject, "%s %s", domain, c->ips[i]);
		spfeval_record(c->spf, domain, found->record, c->ips[i], &o);
		enum check_result r = o.verdict == SPF_VERDICT_PASS	   ? CHECK_PASS
				      : o.verdict == SPF_VERDICT_TEMPERROR ? CHECK_TEMP
									   : CHECK_FAIL;
		if (r != CHECK_PASS)
			all_pass = 0;
		if (r == CHECK_FAIL && o.verdict != SPF_VERDICT_PERMERROR) {
			if (nfailing == 0)
				first_fail_row = c->table.count;
			failing[nfailing++] = c->ips[i];
		}
		checktable_add(&c->table, r, "spf-ip", subject.data, NULL, "%s%s%s%s%s", role,
			       spf_verdict_name(o.verdict), o.detail[0] ? ": " : "", o.detail,
			       r == CHECK_PASS ? both : "");
		buf_free(&subject);
	}
	if (nfailing > 0) {
		struct buf zone = BUF_INIT;
		fixed_record(c, domain, found->record, failing, nfailing, &zone);
		c->table.rows[first_fail_row].publish = xstrdup(zone.data);
		buf_free(&zone);
	}
	return all_pass;
}

/* *all_pass: 1 every IP passes, 0 not, -1 could not be checked (DNS
 * trouble). */
static void
check_spf(struct check *c, const char *domain, const char *role, const char *both,
	  int *all_pass)
{
	struct spf_found found;
	memset(&found, 0, sizeof found);
	*all_pass = 0;
	int rc = find_spf(c, domain, role, &found);
	if (rc == -2)
		*all_pass = -1;
	if (rc < 0) {
		if (c->nips == 0)
			checktable_add(&c->table, CHECK_WARN, "spf-ip", domain, NULL,
				       "%sno sending IP known; give --ip (or set control/outgoingip)",
				       role);
		return;
	}
	check_lookups(c, domain, role, &found);
	size_t first = c->table.count;
	*all_pass = check_ips(c, domain, role, both, &found);
	if (!*all_pass && !checktable_any(&c->table, first, CHECK_FAIL) &&
	    checktable_any(&c->table, first, CHECK_TEMP))
		*all_pass = -1;
	free(found.record);
}

/* ---- DKIM ---- */

static void
check_selector(struct check *c, const char *selector)
{
	struct buf path = BUF_INIT, err = BUF_INIT, ours = BUF_INIT, name = BUF_INIT,
		   pub = BUF_INIT, d = BUF_INIT;
	struct dnsrec_dkim mine, theirs;
	memset(&mine, 0, sizeof mine);
	memset(&theirs, 0, sizeof theirs);
	struct dkim_key *key = NULL;
	const char *why;
	buf_printf(&path, "%s/control/dkim/%s/%s.key", c->env.root, c->domain, selector);
	buf_printf(&name, "%s._domainkey.%s", selector, c->domain);
	if (access(path.data, F_OK) == 0) {
		key = dkim_key_load(path.data, DKIM_MIN_RSA_BITS, &err);
		if (key == NULL) {
			checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, NULL, "our key: %s",
				       err.data);
			goto out;
		}
		dkim_key_txt(key, &ours);
		if (dnsrec_dkim_parse(ours.data, ours.len, &mine, &why) == -1) {
			checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, NULL,
				       "our own record does not parse (%s)", why);
			goto out;
		}
		dnsrec_zone_txt(name.data, ours.data, ours.len, &pub);
	}
	const char *publish = key ? pub.data : NULL;
	const struct dnsq_answer *a = dnsq_query(c->dns, name.data, DNSQ_TXT);
	if (a->status != DNSQ_OK) {
		enum check_result r = a->status == DNSQ_TEMPORARY ? CHECK_TEMP : CHECK_FAIL;
		c->dkim_temp |= r == CHECK_TEMP;
		dnsq_describe(a, &d);
		if (a->status == DNSQ_NXDOMAIN || a->status == DNSQ_NODATA)
			checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, publish,
				       "no key record published (%s)", d.data);
		else
			checktable_add(&c->table, r, "dkim", name.data,
				       r == CHECK_FAIL ? publish : NULL, "TXT lookup: %s", d.data);
		goto out;
	}
	if (a->count > 1) {
		checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, publish,
			       "%zu TXT records: which one a verifier uses is undefined; keep one",
			       a->count);
		goto out;
	}
	const struct dnsq_rr *r = &a->rr[0];
	if (memchr(r->text, '\0', r->len) != NULL) {
		checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, publish,
			       "malformed key record: a NUL byte");
		goto out;
	}
	if (dnsrec_dkim_parse(r->text, r->len, &theirs, &why) == -1) {
		checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, publish,
			       "malformed key record: %s", why);
		goto out;
	}
	const char *type = theirs.key_type == DNSREC_KEY_RSA	    ? "rsa"
			   : theirs.key_type == DNSREC_KEY_ED25519 ? "ed25519"
								   : "unknown";
	if (theirs.revoked) {
		checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, publish,
			       "key revoked (empty p=)");
	} else if (!theirs.sha256_ok || !theirs.email_ok) {
		checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, publish,
			       "%s", !theirs.sha256_ok ? "h= does not allow sha256"
						       : "s= does not allow email");
	} else if (key == NULL) {
		checktable_add(&c->table, CHECK_WARN, "dkim", name.data, NULL,
			       "record parses (k=%s); no private key here (%s) to compare", type,
			       path.data);
	} else if (theirs.key_type != mine.key_type) {
		checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, publish,
			       "k=%s, but our key is %s", type,
			       dkim_key_is_ed25519(key) ? "ed25519" : "rsa");
	} else if (theirs.key.len != mine.key.len ||
		   memcmp(theirs.key.data, mine.key.data, mine.key.len) != 0) {
		checktable_add(&c->table, CHECK_FAIL, "dkim", name.data, publish,
			       "a different key: the published p= is not our public key");
	} else {
		c->dkim_ok = 1;
		char kind[32];
		snprintf(kind, sizeof kind, dkim_key_is_ed25519(key) ? "ed25519" : "rsa-%u",
			 dkim_key_bits(key));
		if (theirs.testing)
			checktable_add(&c->table, CHECK_WARN, "dkim", name.data, NULL,
				       "matches our %s key, but t=y (testing): receivers may treat "
				       "signed mail as unsigned",
				       kind);
		else
			checktable_add(&c->table, CHECK_PASS, "dkim", name.data, NULL,
				       "matches our %s key", kind);
	}
out:
	dkim_key_free(key);
	buf_free(&mine.key);
	buf_free(&theirs.key);
	buf_free(&path);
	buf_free(&err);
	buf_free(&ours);
	buf_free(&name);
	buf_free(&pub);
	buf_free(&d);
}

static void
check_dkim(struct check *c)
{
	char **found = NULL;
	size_t bad = 0, n = 0;
	if (c->nselectors > 0) {
		for (size_t i = 0; i < c->nselectors; i++)
			check_selector(c, c->selectors[i]);
		return;
	}
	n = domcheck_selectors(c->env.root, c->domain, &found, &bad);
	if (bad > 0)
		checktable_add(&c->table, CHECK_FAIL, "dkim", c->domain, NULL,
			       "%zu key file%s in %s/control/dkim/%s/ with a name that is not a "
			       "selector: enqueue refuses the domain",
			       bad, bad == 1 ? "" : "s", c->env.root, c->domain);
	if (n == 0 && bad == 0)
		checktable_add(&c->table, CHECK_FAIL, "dkim", c->domain, NULL,
			       "no DKIM key in %s/control/dkim/%s/: mail From %s is not signed; make "
			       "one with mailshot-enqueue --dkim-keygen %s SELECTOR",
			       c->env.root, c->domain, c->domain, c->domain);
	for (size_t i = 0; i < n; i++) {
		check_selector(c, found[i]);
		free(found[i]);
	}
	free(found);
}

/* ---- DMARC ---- */

/* The DMARC records at name: 1 with *rec set when exactly one, else the
 * count (0 or more); -1 for a temporary failure (row added). */
static int
dmarc_records(struct check *c, const char *name, const struct dnsq_rr **rec)
{
	const struct dnsq_answer *a = dnsq_query(c->dns, name, DNSQ_TXT);
	if (a->status == DNSQ_TEMPORARY || a->status == DNSQ_MALFORMED) {
		struct buf d = BUF_INIT;
		dnsq_describe(a, &d);
		checktable_add(&c->table, a->status == DNSQ_TEMPORARY ? CHECK_TEMP : CHECK_FAIL,
			       "dmarc", name, NULL, "TXT lookup: %s", d.data);
		buf_free(&d);
		return -1;
	}
	int n = 0;
	for (size_t i = 0; i < a->count; i++)
		if (dnsrec_is_dmarc(a->rr[i].text, a->rr[i].len) && n++ == 0)
			*rec = &a->rr[i];
	return n;
}

static void
check_dmarc(struct check *c)
{
	struct buf name = BUF_INIT, org = BUF_INIT, orgname = BUF_INIT, rec = BUF_INIT,
		   pub = BUF_INIT;
	const struct dnsq_rr *r = NULL;
	const char *where;
	buf_printf(&name, "_dmarc.%s", c->domain);
	dnsrec_org_domain(c->domain, &org);
	buf_printf(&orgname, "_dmarc.%s", buf_cstr(&org));
	buf_printf(&rec, "v=DMARC1; p=none; rua=mailto:postmaster@%s", c->domain);
	dnsrec_zone_txt(name.data, rec.data, rec.len, &pub);
	int n = dmarc_records(c, name.data, &r);
	int inherited = 0;
	where = name.data;
	if (n == 0 && strcmp(org.data, c->domain) != 0) {
		inherited = 1;
		where = orgname.data;
		n = dmarc_records(c, orgname.data, &r);
	}
	if (n < 0)
		goto out;
	if (n == 0) {
		checktable_add(&c->table, CHECK_FAIL, "dmarc", name.data, pub.data,
			       "no DMARC record at %s%s%s: receivers apply no policy and send no "
			       "reports",
			       name.data, inherited ? " or " : "", inherited ? orgname.data : "");
		goto out;
	}
	if (n > 1) {
		checktable_add(&c->table, CHECK_FAIL, "dmarc", where, NULL,
			       "%d DMARC records: receivers apply none (RFC 7489 6.6.3); keep one", n);
		goto out;
	}
	struct dnsrec_dmarc dm;
	const char *why;
	if (memchr(r->text, '\0', r->len) != NULL ||
	    dnsrec_dmarc_parse(r->text, r->len, &dm, &why) == -1) {
		checktable_add(&c->table, CHECK_FAIL, "dmarc", where, inherited ? NULL : pub.data,
			       "malformed DMARC record (%s): %s",
			       memchr(r->text, '\0', r->len) ? "a NUL byte" : why, r->text);
		goto out;
	}
	c->dmarc_strict_dkim = dm.strict_dkim;
	c->dmarc_strict_spf = dm.strict_spf;
	enum dnsrec_dmarc_policy policy = inherited && dm.has_sp ? dm.sp : dm.p;
	char from[300] = "";
	if (inherited)
		snprintf(from, sizeof from, " (from %s, %s= applies)", orgname.data,
			 dm.has_sp ? "sp" : "p");
	if (policy == DNSREC_P_NONE)
		checktable_add(&c->table, CHECK_WARN, "dmarc", where, NULL,
			       "p=none%s: receivers only report, they do not act on failing mail; "
			       "move to p=quarantine when the reports are clean",
			       from);
	else if (dm.pct < 100)
		checktable_add(&c->table, CHECK_WARN, "dmarc", where, NULL,
			       "p=%s%s, but pct=%d: the policy applies to part of the failing mail "
			       "only",
			       dnsrec_policy_name(policy), from, dm.pct);
	else
		checktable_add(&c->table, CHECK_PASS, "dmarc", where, NULL, "p=%s%s",
			       dnsrec_policy_name(policy), from);
out:
	buf_free(&name);
	buf_free(&org);
	buf_free(&orgname);
	buf_free(&rec);
	buf_free(&pub);
}

static void
check_alignment(struct check *c)
{
	struct buf org_from = BUF_INIT, org_rp = BUF_INIT;
	dnsrec_org_domain(c->domain, &org_from);
	dnsrec_org_domain(c->rp_domain, &org_rp);
	int spf_aligned = c->dmarc_strict_spf ? strcmp(c->domain, c->rp_domain) == 0
					      : strcmp(org_from.data, org_rp.data) == 0;
	int spf_ok = spf_aligned && c->rp_spf_ok;
	int dkim_ok = c->dkim_ok;
	/* A row that is not right is WARN when the other identifier carries
	 * DMARC, TEMP when either could not be checked (DNS trouble), else
	 * FAIL. */
	int dkim_unknown = c->dkim_temp && !dkim_ok;
	int spf_unknown = c->rp_spf_temp && spf_aligned;
	enum check_result dkim_bad = spf_ok				   ? CHECK_WARN
				     : dkim_unknown || spf_unknown ? CHECK_TEMP
								   : CHECK_FAIL;
	enum check_result spf_bad = dkim_ok				  ? CHECK_WARN
				    : dkim_unknown || spf_unknown ? CHECK_TEMP
								  : CHECK_FAIL;

	if (dkim_ok)
		checktable_add(&c->table, CHECK_PASS, "dmarc-dkim", c->domain, NULL,
			       "aligned: our signatures carry d=%s, the From domain (adkim=%c)",
			       c->domain, c->dmarc_strict_dkim ? 's' : 'r');
	else
		checktable_add(&c->table, dkim_bad, "dmarc-dkim", c->domain, NULL,
			       "%s%s", c->dkim_temp && !c->dkim_ok
					   ? "our DKIM key records could not be looked up"
					   : "no key of ours for this domain is published and "
					     "matching: DKIM cannot carry DMARC",
			       spf_ok ? " (SPF does; forwarding breaks SPF)" : "");

	if (spf_ok)
		checktable_add(&c->table, CHECK_PASS, "dmarc-spf", c->domain, NULL,
			       "aligned: Return-Path domain %s, aspf=%c, SPF passes", c->rp_domain,
			       c->dmarc_strict_spf ? 's' : 'r');
	else if (!spf_aligned)
		checktable_add(&c->table, spf_bad, "dmarc-spf", c->domain,
			       NULL, "not aligned: Return-Path domain %s %s %s (aspf=%c)%s",
			       c->rp_domain,
			       c->dmarc_strict_spf ? "is not" : "is not within the organizational domain",
			       c->dmarc_strict_spf ? c->domain : org_from.data,
			       c->dmarc_strict_spf ? 's' : 'r',
			       dkim_ok ? "; DMARC rests on DKIM alone" : "");
	else
		checktable_add(&c->table, spf_bad, "dmarc-spf", c->domain, NULL,
			       "aligned (Return-Path domain %s), but SPF %s%s", c->rp_domain,
			       c->rp_spf_temp	 ? "could not be checked (DNS trouble)"
			       : c->nips	 ? "does not pass for every sending IP"
						 : "cannot be checked without a sending IP (give --ip)",
			       dkim_ok ? "; DMARC rests on DKIM alone" : "");
	buf_free(&org_from);
	buf_free(&org_rp);
}

/* ---- the command ---- */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: mailshot-report [--spool DIR] check DOMAIN [--ip IP]... [--selector S]...\n"
		"           [--mx RECIPIENT-DOMAIN]... [--timeout SECONDS] [--format text|tsv|json]\n"
		"Checks SPF, DKIM and DMARC of the From domain DOMAIN (and of the Return-Path\n"
		"domain of control/bounceaddress), and that every MX host of each --mx domain\n"
		"answers SMTP.  Exit: 0 all PASS or WARN, 1 a FAIL, 111 a TEMP (DNS trouble),\n"
		"100 bad usage.  See docs/domcheck.md.\n");
}

static int
parse_args(struct check *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"ip", required_argument, NULL, 'i'},     {"selector", required_argument, NULL, 's'},
	    {"mx", required_argument, NULL, 'm'},     {"timeout", required_argument, NULL, 't'},
	    {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *why;
	int opt;
	optind = 0;
	opterr = 0;
	c->timeout_s = 10;
	c->format = CHECK_TEXT;
	while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (c->nips == DOMCHECK_MAX_IPS)
				return domcheck_fatal(100, "check: more than %d --ip", DOMCHECK_MAX_IPS);
			if (domcheck_ip_canonical(optarg, c->ip_text[c->nips]) == -1)
				return domcheck_fatal(100, "check: --ip \"%s\": not an IP address",
						      optarg);
			c->ips[c->nips] = c->ip_text[c->nips];
			c->nips++;
			break;
		case 's':
			if (!dkim_selector_valid(optarg, strlen(optarg)))
				return domcheck_fatal(
				    100, "check: --selector \"%s\": use 1 to 63 of a-z 0-9 - .", optarg);
			if (c->nselectors == MAX_SELECTORS)
				return domcheck_fatal(100, "check: more than %d --selector",
						      MAX_SELECTORS);
			c->selectors[c->nselectors++] = optarg;
			break;
		case 'm':
			if (dns_check_name(optarg, strlen(optarg), &why) == -1)
				return domcheck_fatal(100, "check: --mx \"%s\": %s", optarg, why);
			if (c->nmx == MAX_MX_DOMAINS)
				return domcheck_fatal(100, "check: more than %d --mx", MAX_MX_DOMAINS);
			c->mx[c->nmx++] = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 300)
				return domcheck_fatal(100, "check: --timeout \"%s\": seconds from 1 to 300",
						      optarg);
			c->timeout_s = (int)v;
			break;
		}
		case 'f':
			if (checktable_format_parse(optarg, &c->format) == -1)
				return domcheck_fatal(100, "check: --format \"%s\": text, tsv or json",
						      optarg);
			break;
		case 'h':
			usage(stdout);
			return -1;
		case ':':
			return domcheck_fatal(100, "check: %s needs a value", argv[optind - 1]);
		default:
			return domcheck_fatal(100, "check: unknown option %s", argv[optind - 1]);
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return domcheck_fatal(100, "check: give exactly one DOMAIN");
	}
	const char *domain = argv[optind];
	if (dns_check_name(domain, strlen(domain), &why) == -1 || strlen(domain) >= 250)
		return domcheck_fatal(100, "check: \"%s\" is not a domain name: %s", domain,
				      strlen(domain) >= 250 ? "too long" : why);
	lower_copy(c->domain, sizeof c->domain, domain);
	return 0;
}

int
domcheck_main(const char *spool, int argc, char **argv)
{
	struct check *c = xcalloc(1, sizeof *c);
	struct buf err = BUF_INIT;
	int rc = parse_args(c, argc, argv);
	if (rc != 0) {
		free(c);
		return rc == -1 ? 0 : rc;
	}
	rc = domcheck_env_load(&c->env, spool);
	if (rc != 0)
		goto out;
	if (c->nips == 0 && c->env.outgoingip[0]) {
		snprintf(c->ip_text[0], sizeof c->ip_text[0], "%s", c->env.outgoingip);
		c->ips[c->nips++] = c->ip_text[0];
	}
	snprintf(c->rp_domain, sizeof c->rp_domain, "%s",
		 c->env.bounce_domain[0] ? c->env.bounce_domain : c->domain);
	struct dnsq_config dc = {c->env.servers.count ? &c->env.servers : NULL,
				 c->env.dns_timeout_ms};
	c->dns = dnsq_new(&dc, &err);
	if (c->dns == NULL) {
		rc = domcheck_fatal(111, "%s", err.data);
		goto out;
	}
	c->spf = spfeval_new(c->dns, &err);
	if (c->spf == NULL) {
		rc = domcheck_fatal(111, "%s", err.data);
		goto out;
	}

	int same = strcmp(c->rp_domain, c->domain) == 0, from_ok, rp_ok;
	check_spf(c, c->domain, "", same ? " (From and Return-Path)" : "", &from_ok);
	if (!same)
		check_spf(c, c->rp_domain, "Return-Path domain: ", "", &rp_ok);
	else
		rp_ok = from_ok;
	c->rp_spf_ok = rp_ok == 1;
	c->rp_spf_temp = rp_ok == -1;
	check_dkim(c);
	check_dmarc(c);
	check_alignment(c);
	struct mxcheck_config mc = {c->dns, c->env.smtp_port, c->timeout_s * 1000};
	for (size_t i = 0; i < c->nmx; i++)
		mxcheck_domain(&mc, c->mx[i], &c->table);

	checktable_print(stdout, &c->table, c->format);
	if (fflush(stdout) != 0)
		rc = domcheck_fatal(111, "unable to write the output: %s", strerror(errno));
	else
		rc = checktable_exit_code(&c->table, 0);
out:
	spfeval_free(c->spf);
	dnsq_free(c->dns);
	checktable_free(&c->table);
	buf_free(&err);
	free(c);
	return rc;
}
