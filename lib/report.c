/*
 * report - campaign figures from the delivery log and the queue
 * (report.h, docs/report.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ledger.h"
#include "report.h"
#include "spool.h"

/* ---- a string -> index map (open addressing over 64-bit hashes) ---- */

struct strmap {
	uint64_t *hash; /* 0: empty */
	uint32_t *idx;
	size_t cap, used;
};

static void
strmap_grow(struct strmap *m)
{
	size_t ncap = m->cap ? 2 * m->cap : 64;
	uint64_t *nh = xcalloc(ncap, sizeof *nh);
	uint32_t *ni = xcalloc(ncap, sizeof *ni);
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->hash[i])
			continue;
		size_t j = (size_t)m->hash[i] & (ncap - 1);
		while (nh[j])
			j = (j + 1) & (ncap - 1);
		nh[j] = m->hash[i];
		ni[j] = m->idx[i];
	}
	free(m->hash);
	free(m->idx);
	m->hash = nh;
	m->idx = ni;
	m->cap = ncap;
}

/* Finds h; eq(arg, idx) confirms a candidate.  Returns the slot, with
 * *found; a slot to insert at when not found. */
static size_t
strmap_find(struct strmap *m, uint64_t h, int (*eq)(void *, uint32_t), void *arg, int *found)
{
	if (m->used * 10 >= m->cap * 7)
		strmap_grow(m);
	size_t j = (size_t)h & (m->cap - 1);
	while (m->hash[j]) {
		if (m->hash[j] == h && eq(arg, m->idx[j])) {
			*found = 1;
			return j;
		}
		j = (j + 1) & (m->cap - 1);
	}
	*found = 0;
	return j;
}

static void
strmap_put(struct strmap *m, size_t slot, uint64_t h, uint32_t idx)
{
	m->hash[slot] = h;
	m->idx[slot] = idx;
	m->used++;
}

static void
strmap_free(struct strmap *m)
{
	free(m->hash);
	free(m->idx);
	memset(m, 0, sizeof *m);
}

/* ---- per recipient: 16 bytes ---- */

enum {
	RF_QUEUED = 1 << 0,
	RF_SUPPRESSED = 1 << 1,
	RF_INVALID = 1 << 2,
	RF_DUPLICATE = 1 << 3,
	RF_DELIVERED = 1 << 4,
	RF_BOUNCED = 1 << 5,  /* sched: a permanent failure */
	RF_EXPIRED = 1 << 6,
	RF_DEFERRED = 1 << 7,
	RF_HARD = 1 << 8,     /* bounce classified it hard */
	RF_SOFT = 1 << 9,     /* bounce classified it soft (or none) */
	RF_INBOUND = 1 << 10, /* a bounce mail after delivery */
	RF_COMPLAINT = 1 << 11,
	RF_UNSUB = 1 << 12,
	RF_GUESS_HARD = 1 << 13, /* sched's code looked hard (5.1.x) */
	RF_CLASSIFIED = 1 << 14,
	RF_TEST = 1 << 15,
};

struct rcpt {
	uint64_t hash; /* 0: empty */
	uint32_t campaign;
	uint16_t flags;
	uint16_t code; /* the campaign's reason index of sched's failure, +1 */
};

struct report {
	struct report_opts opts;
	struct report_campaign **camp;
	size_t ncamp, capcamp;
	struct strmap campmap;
	struct report_domain **dom;
	size_t ndom, capdom;
	struct strmap dommap;
	struct strmap *reasonmaps; /* one per campaign */
	struct rcpt *rc;
	size_t rccap, rcused;
	/* per campaign, its domains after finish */
	struct report_domain ***cdom;
	size_t *ncdom;
	struct report_dest **dest;
	size_t ndest, capdest;
	struct strmap destmap;
	uint64_t unknown;
	int finished;
	/* lookup scratch */
	const char *key;
	size_t keylen;
	uint32_t keycamp;
};

struct report *
report_new(const struct report_opts *opts)
{
	struct report *r = xcalloc(1, sizeof *r);
	if (opts)
		r->opts = *opts;
	return r;
}

/* ---- campaigns ---- */

static int
camp_eq(void *arg, uint32_t idx)
{
	struct report *r = arg;
	return strlen(r->camp[idx]->name) == r->keylen &&
	       memcmp(r->camp[idx]->name, r->key, r->keylen) == 0;
}

static uint32_t
campaign(struct report *r, const char *name, size_t len)
{
	uint64_t h = keyset_hash(name, len);
	r->key = name;
	r->keylen = len;
	int found;
	size_t slot = strmap_find(&r->campmap, h, camp_eq, r, &found);
	if (found)
		return r->campmap.idx[slot];
	if (r->ncamp == r->capcamp) {
		r->capcamp = r->capcamp ? 2 * r->capcamp : 16;
		r->camp = xrealloc(r->camp, r->capcamp * sizeof *r->camp);
		r->reasonmaps = xrealloc(r->reasonmaps, r->capcamp * sizeof *r->reasonmaps);
	}
	struct report_campaign *c = xcalloc(1, sizeof *c);
	c->name = xstrndup(name, len);
	r->reasonmaps[r->ncamp] = (struct strmap){ 0 };
	r->camp[r->ncamp] = c;
	strmap_put(&r->campmap, slot, h, (uint32_t)r->ncamp);
	return (uint32_t)r->ncamp++;
}

static int
campaign_known(struct report *r, const char *name, size_t len)
{
	r->key = name;
	r->keylen = len;
	int found;
	strmap_find(&r->campmap, keyset_hash(name, len), camp_eq, r, &found);
	return found;
}

/* ---- domains, per campaign ---- */

static int
dom_eq(void *arg, uint32_t idx)
{
	struct report *r = arg;
	struct report_domain *d = r->dom[idx];
	return d->campaign == r->keycamp && strlen(d->name) == r->keylen &&
	       strncasecmp(d->name, r->key, r->keylen) == 0;
}

static uint64_t
lower_hash(const char *s, size_t len, uint32_t salt)
{
	char tmp[256];
	size_t n = len < sizeof tmp - 4 ? len : sizeof tmp - 4;
	for (size_t i = 0; i < n; i++)
		tmp[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	memcpy(tmp + n, &salt, 4);
	return keyset_hash(tmp, n + 4);
}

static struct report_domain *
domain(struct report *r, uint32_t camp, const char *name, size_t len)
{
	if (len == 0) {
		name = "(none)";
		len = 6;
	}
	uint64_t h = lower_hash(name, len, camp);
	r->key = name;
	r->keylen = len;
	r->keycamp = camp;
	int found;
	size_t slot = strmap_find(&r->dommap, h, dom_eq, r, &found);
	if (found)
		return r->dom[r->dommap.idx[slot]];
	if (r->ndom == r->capdom) {
		r->capdom = r->capdom ? 2 * r->capdom : 64;
		r->dom = xrealloc(r->dom, r->capdom * sizeof *r->dom);
	}
	struct report_domain *d = xcalloc(1, sizeof *d);
	d->name = xstrndup(name, len);
	for (char *p = d->name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	d->campaign = camp;
	r->dom[r->ndom] = d;
	strmap_put(&r->dommap, slot, h, (uint32_t)r->ndom++);
	return d;
}

/* ---- destinations, across campaigns ---- */

static int
dest_eq(void *arg, uint32_t idx)
{
	struct report *r = arg;
	struct report_dest *d = r->dest[idx];
	return strlen(d->name) == r->keylen && strncasecmp(d->name, r->key, r->keylen) == 0;
}

static uint32_t
dest_index(struct report *r, const char *name, size_t len)
{
	if (len == 0) {
		name = "(none)";
		len = 6;
	}
	uint64_t h = lower_hash(name, len, UINT32_MAX);
	r->key = name;
	r->keylen = len;
	int found;
	size_t slot = strmap_find(&r->destmap, h, dest_eq, r, &found);
	if (found)
		return r->destmap.idx[slot];
	if (r->ndest == r->capdest) {
		r->capdest = r->capdest ? 2 * r->capdest : 64;
		r->dest = xrealloc(r->dest, r->capdest * sizeof *r->dest);
	}
	struct report_dest *d = xcalloc(1, sizeof *d);
	d->name = xstrndup(name, len);
	for (char *p = d->name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	r->dest[r->ndest] = d;
	strmap_put(&r->destmap, slot, h, (uint32_t)r->ndest);
	return (uint32_t)r->ndest++;
}

static struct report_dest *
dest(struct report *r, const char *name, size_t len)
{
	uint32_t i = dest_index(r, name, len); /* may move r->dest */
	return r->dest[i];
}

/* ---- reasons, per campaign ---- */

static int
reason_eq(void *arg, uint32_t idx)
{
	struct report *r = arg;
	struct report_reason *x = &r->camp[r->keycamp]->reasons[idx];
	return strlen(x->name) == r->keylen && memcmp(x->name, r->key, r->keylen) == 0;
}

static uint32_t
reason(struct report *r, uint32_t camp, const char *name, size_t len, const char *sample,
       size_t slen)
{
	struct report_campaign *c = r->camp[camp];
	uint64_t h = keyset_hash(name, len);
	r->key = name;
	r->keylen = len;
	r->keycamp = camp;
	int found;
	size_t slot = strmap_find(&r->reasonmaps[camp], h, reason_eq, r, &found);
	if (found)
		return r->reasonmaps[camp].idx[slot];
	if ((c->nreasons & (c->nreasons - 1)) == 0) /* 0, 1, 2, 4, ...: grow */
		c->reasons = xrealloc(c->reasons, (c->nreasons ? 2 * c->nreasons : 1) *
							sizeof *c->reasons);
	struct report_reason *x = &c->reasons[c->nreasons];
	x->name = xstrndup(name, len);
	x->count = 0;
	x->sample = sample ? xstrndup(sample, slen > 300 ? 300 : slen) : NULL;
	strmap_put(&r->reasonmaps[camp], slot, h, (uint32_t)c->nreasons);
	return (uint32_t)c->nreasons++;
}

/* ---- recipients ---- */

static void
rc_grow(struct report *r)
{
	size_t ncap = r->rccap ? 2 * r->rccap : 4096;
	struct rcpt *n = xcalloc(ncap, sizeof *n);
	for (size_t i = 0; i < r->rccap; i++) {
		if (!r->rc[i].hash)
			continue;
		size_t j = (size_t)r->rc[i].hash & (ncap - 1);
		while (n[j].hash)
			j = (j + 1) & (ncap - 1);
		n[j] = r->rc[i];
	}
	free(r->rc);
	r->rc = n;
	r->rccap = ncap;
}

/* The entry of (campaign, rcpt), made when new.  Addresses compare
 * without case: enqueue logs the list's spelling, bounce the normalized
 * one.  The hash alone identifies an entry (64 bits: a collision among a
 * few million recipients is about 1 in 10^6 campaigns). */
static struct rcpt *
rcpt(struct report *r, uint32_t camp, const char *addr, size_t len)
{
	if (r->rcused * 10 >= r->rccap * 7)
		rc_grow(r);
	char tmp[512];
	size_t n = len < sizeof tmp - 4 ? len : sizeof tmp - 4;
	for (size_t i = 0; i < n; i++)
		tmp[i] = (addr[i] >= 'A' && addr[i] <= 'Z') ? (char)(addr[i] + 32) : addr[i];
	memcpy(tmp + n, &camp, 4);
	uint64_t h = keyset_hash(tmp, n + 4);
	size_t j = (size_t)h & (r->rccap - 1);
	while (r->rc[j].hash) {
		if (r->rc[j].hash == h && r->rc[j].campaign == camp)
			return &r->rc[j];
		j = (j + 1) & (r->rccap - 1);
	}
	r->rc[j].hash = h;
	r->rc[j].campaign = camp;
	r->rcused++;
	return &r->rc[j];
}

/* ---- latency histogram ---- */

unsigned
report_hist_bucket(int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 64)
		return (unsigned)s;
	unsigned e = 63 - (unsigned)__builtin_clzll((unsigned long long)s); /* >= 6 */
	unsigned b = 64 + (e - 6) * 32 + (unsigned)((s >> (e - 5)) - 32);
	return b < REPORT_HIST_BUCKETS ? b : REPORT_HIST_BUCKETS - 1;
}

int64_t
report_hist_value(unsigned b)
{
	if (b < 64)
		return b;
	unsigned e = (b - 64) / 32 + 6;
	unsigned m = (b - 64) % 32 + 32;
	return (int64_t)m << (e - 5);
}

int64_t
report_percentile(const struct report_campaign *c, double q)
{
	if (c->hist_n == 0)
		return -1;
	double exact = q * (double)c->hist_n;
	uint64_t want = (uint64_t)exact;
	if ((double)want < exact)
		want++; /* the ceiling, without libm */
	if (want < 1)
		want = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < REPORT_HIST_BUCKETS; b++) {
		seen += c->hist[b];
		if (seen >= want)
			return report_hist_value(b);
	}
	return report_hist_value(REPORT_HIST_BUCKETS - 1);
}

/* ---- outcomes over time ---- */

static void
series_add(struct report_series_data *s, int64_t t, int what)
{
	if (s->width == 0) {
		s->width = 60;
		s->t0 = t - t % 60;
		s->n = 1;
	}
	/* before the first bucket: move t0 back, coarsening when needed */
	while (t < s->t0) {
		int64_t need = (s->t0 - t + s->width - 1) / s->width;
		if (s->n + (size_t)need <= REPORT_SERIES_MAX) {
			size_t k = (size_t)need;
			for (int w = 0; w < RS_COUNT; w++) {
				memmove(s->v[w] + k, s->v[w], s->n * sizeof s->v[w][0]);
				memset(s->v[w], 0, k * sizeof s->v[w][0]);
			}
			s->n += k;
			s->t0 -= (int64_t)k * s->width;
			break;
		}
		/* coarsen: pairs aligned on the doubled width */
		int64_t nw = s->width * 2;
		int64_t nt0 = s->t0 - (((s->t0 % nw) + nw) % nw);
		size_t off = (size_t)((s->t0 - nt0) / s->width); /* 0 or 1 */
		size_t nn = (s->n + off + 1) / 2;
		for (int w = 0; w < RS_COUNT; w++) {
			uint32_t tmp[REPORT_SERIES_MAX] = { 0 };
			for (size_t i = 0; i < s->n; i++)
				tmp[(i + off) / 2] += s->v[w][i];
			memcpy(s->v[w], tmp, sizeof tmp);
		}
		s->t0 = nt0;
		s->width = nw;
		s->n = nn;
	}
	for (;;) {
		int64_t i = (t - s->t0) / s->width;
		if (i < REPORT_SERIES_MAX) {
			if ((size_t)i >= s->n)
				s->n = (size_t)i + 1;
			s->v[what][i]++;
			return;
		}
		int64_t nw = s->width * 2;
		int64_t nt0 = s->t0 - (((s->t0 % nw) + nw) % nw);
		size_t off = (size_t)((s->t0 - nt0) / s->width);
		size_t nn = (s->n + off + 1) / 2;
		for (int w = 0; w < RS_COUNT; w++) {
			uint32_t tmp[REPORT_SERIES_MAX] = { 0 };
			for (size_t k = 0; k < s->n; k++)
				tmp[(k + off) / 2] += s->v[w][k];
			memcpy(s->v[w], tmp, sizeof tmp);
		}
		s->t0 = nt0;
		s->width = nw;
		s->n = nn;
	}
}

/* ---- lines ---- */

static const char *
field(const struct logline *l, const char *key, size_t *len)
{
	const char *v = logline_getn(l, key, len);
	if (!v) {
		*len = 0;
		return "";
	}
	return v;
}

/* The batch name B.T.P.N gives its creation time T; -1 when it does not. */
static int64_t
batch_time(const char *b)
{
	if (b[0] != 'B' || b[1] != '.')
		return -1;
	char *end;
	errno = 0;
	long long t = strtoll(b + 2, &end, 10);
	if (errno || end == b + 2 || *end != '.' || t < 0)
		return -1;
	return t;
}

static int
is_hard_code(const char *enh)
{
	/* 5.1.1 bad mailbox, 5.1.2 bad domain, 5.1.10 null MX, 5.1.6 moved */
	return strncmp(enh, "5.1.", 4) == 0 && enh[4] != '\0';
}

static void
sched_line(struct report *r, const struct logline *l, const char *ev)
{
	size_t cl, al, dl, el, tl, bl;
	(void)field(l, "dest", &dl);
	const char *cn = field(l, "campaign", &cl);
	const char *addr = field(l, "rcpt", &al);
	/* the recipient's domain: what the sender knows their list by (with
	 * control/smtproutes, sched's dest= is the relay for all of them) */
	const char *at = memrchr(addr, '@', al);
	const char *dname = at ? at + 1 : "";
	dl = at ? al - (size_t)(at + 1 - addr) : 0;
	const char *enh = field(l, "enhanced", &el);
	const char *text = field(l, "text", &tl);
	const char *batch = field(l, "batch", &bl);
	uint32_t ci = campaign(r, cn, cl);
	struct report_campaign *c = r->camp[ci];
	struct rcpt *p = rcpt(r, ci, addr, al);
	struct report_domain *d = domain(r, ci, dname, dl);
	struct report_dest *g = dest(r, dname, dl);
	if (l->usec > g->last_usec)
		g->last_usec = l->usec;
	int64_t sec = l->usec / 1000000;
	if (strcmp(ev, "deferred") == 0) {
		c->deferrals++;
		d->deferred++;
		g->deferrals++;
		p->flags |= RF_DEFERRED;
		const char *th = logline_get(l, "throttle");
		if (th && strcmp(th, "1") == 0) {
			d->throttled++;
			g->throttles++;
		}
		series_add(&c->series, sec, RS_DEFERRED);
	} else if (strcmp(ev, "delivered") == 0) {
		if (p->flags & RF_DELIVERED)
			return; /* written twice after a crash */
		p->flags |= RF_DELIVERED;
		d->delivered++;
		g->delivered++;
		size_t tls_len;
		field(l, "tls", &tls_len);
		if (tls_len)
			d->tls++;
		int64_t created = batch_time(batch);
		if (created >= 0) {
			c->hist[report_hist_bucket(sec - created)]++;
			c->hist_n++;
		}
		series_add(&c->series, sec, RS_DELIVERED);
		return;
	} else if (strcmp(ev, "bounced") == 0) {
		if (p->flags & RF_BOUNCED)
			return;
		p->flags |= RF_BOUNCED;
		d->bounced++;
		if (is_hard_code(enh))
			p->flags |= RF_GUESS_HARD;
		const char *code = el ? enh : "no code";
		uint32_t ri = reason(r, ci, code, strlen(code), text, tl);
		p->code = (uint16_t)(ri + 1 > 0xffff ? 0 : ri + 1);
		series_add(&c->series, sec, RS_BOUNCED);
	} else { /* expired */
		if (p->flags & RF_EXPIRED)
			return;
		p->flags |= RF_EXPIRED;
		d->expired++;
		series_add(&c->series, sec, RS_EXPIRED);
	}
	/* a deferral or a failure: the destination's last error */
	if (l->usec >= d->last_error_usec) {
		size_t codel;
		const char *code = field(l, "code", &codel);
		struct buf e = { 0 };
		if (codel)
			buf_printf(&e, "%s ", code);
		if (el && !(tl >= el && memcmp(text, enh, el) == 0))
			buf_printf(&e, "%s ", enh);
		buf_append(&e, text, tl > 200 ? 200 : tl);
		free(d->last_error);
		d->last_error = xstrdup(buf_cstr(&e));
		d->last_error_usec = l->usec;
		if (l->usec >= g->last_error_usec) {
			free(g->last_error);
			g->last_error = xstrdup(buf_cstr(&e));
			g->last_error_usec = l->usec;
		}
		buf_free(&e);
	}
}

int
report_add(struct report *r, const struct logline *l)
{
	if (r->opts.since_usec && l->usec < r->opts.since_usec)
		return 0;
	if (r->opts.until_usec && l->usec > r->opts.until_usec)
		return 0;
	const char *ev = l->event;
	size_t cl, al;
	const char *cn = field(l, "campaign", &cl);
	if (r->opts.campaign && (strlen(r->opts.campaign) != cl ||
				 memcmp(r->opts.campaign, cn, cl) != 0))
		return 0;
	int known = 1;
	if (strcmp(l->prog, "enqueue") == 0) {
		const char *addr = field(l, "rcpt", &al);
		uint16_t flag;
		if (strcmp(ev, "queued") == 0) {
			const char *t = logline_get(l, "test");
			flag = (t && strcmp(t, "1") == 0) ? RF_TEST : RF_QUEUED;
		} else if (strcmp(ev, "suppressed") == 0)
			flag = RF_SUPPRESSED;
		else if (strcmp(ev, "invalid") == 0)
			flag = RF_INVALID;
		else if (strcmp(ev, "duplicate") == 0)
			flag = RF_DUPLICATE;
		else
			return r->unknown++, 1;
		uint32_t ci = campaign(r, cn, cl);
		if (flag == RF_TEST) {
			r->camp[ci]->tests++;
		} else if (flag == RF_INVALID || flag == RF_DUPLICATE) {
			/* a row of the list, not a recipient: keyed by its line
			 * too (the same text may be on two lines) */
			size_t ll;
			const char *line = field(l, "line", &ll);
			struct buf k = { 0 };
			buf_append_char(&k, flag == RF_INVALID ? '\001' : '\002');
			buf_append(&k, line, ll);
			buf_append_char(&k, ' ');
			buf_append(&k, addr, al);
			struct rcpt *p = rcpt(r, ci, k.data, k.len);
			p->flags |= flag;
			buf_free(&k);
		} else {
			struct rcpt *p = rcpt(r, ci, addr, al);
			p->flags |= flag;
		}
		goto seen;
	}
	if (strcmp(l->prog, "sched") == 0) {
		if (strcmp(ev, "delivered") && strcmp(ev, "deferred") && strcmp(ev, "bounced") &&
		    strcmp(ev, "expired"))
			return r->unknown++, 1;
		if (!cl)
			return 0;
		sched_line(r, l, ev);
		goto seen;
	}
	if (strcmp(l->prog, "bounce") == 0 || strcmp(l->prog, "unsubscribe") == 0) {
		if (strcmp(ev, "classified") == 0) {
			if (!cl)
				return 0; /* an inbound bounce that names no campaign */
			const char *addr = field(l, "rcpt", &al);
			uint32_t ci = campaign(r, cn, cl);
			struct rcpt *p = rcpt(r, ci, addr, al);
			if (p->flags & RF_CLASSIFIED)
				return 0;
			const char *cls = logline_get(l, "class");
			const char *status = logline_get(l, "status");
			if (status && strcmp(status, "expired") == 0)
				return 0; /* sched's expired line counts it */
			p->flags |= RF_CLASSIFIED;
			p->flags |= (cls && strcmp(cls, "hard") == 0) ? RF_HARD : RF_SOFT;
			if (status && strcmp(status, "inbound") == 0)
				p->flags |= RF_INBOUND;
			size_t rl, tl;
			const char *rs = field(l, "reason", &rl);
			const char *text = field(l, "text", &tl);
			if (!rl) {
				rs = "unknown";
				rl = 7;
			}
			uint32_t ri = reason(r, ci, rs, rl, text, tl);
			r->camp[ci]->reasons[ri].count++;
		} else if (strcmp(ev, "complaint") == 0 || strcmp(ev, "unsubscribed") == 0) {
			if (!cl)
				return 0;
			const char *addr = field(l, "rcpt", &al);
			uint32_t ci = campaign(r, cn, cl);
			struct rcpt *p = rcpt(r, ci, addr, al);
			p->flags |= ev[0] == 'c' ? RF_COMPLAINT : RF_UNSUB;
		} else if (strcmp(ev, "notified") == 0 || strcmp(ev, "autoreply") == 0 ||
			   strcmp(ev, "unrecognized") == 0 || strcmp(ev, "badtoken") == 0 ||
			   strcmp(ev, "badrecord") == 0 || strcmp(ev, "ignored") == 0 ||
			   strcmp(ev, "added") == 0 || strcmp(ev, "cleared") == 0 ||
			   strcmp(ev, "imported") == 0) {
			return 0; /* known; nothing to count per campaign */
		} else {
			known = 0;
		}
		if (!known)
			return r->unknown++, 1;
		goto seen;
	}
	/* other programs' lines (remote's warnings, ...) are not events */
	if (*ev)
		return r->unknown++, 1;
	return 0;
seen:
	if (cl) {
		struct report_campaign *c = r->camp[campaign(r, cn, cl)];
		if (!c->first_usec || l->usec < c->first_usec)
			c->first_usec = l->usec;
		if (l->usec > c->last_usec)
			c->last_usec = l->usec;
	}
	(void)known;
	return 0;
}

/* ---- finish ---- */

static int
cmp_campaign(const void *a, const void *b)
{
	const struct report_campaign *x = *(struct report_campaign *const *)a;
	const struct report_campaign *y = *(struct report_campaign *const *)b;
	return strcmp(x->name, y->name);
}

static uint64_t
dom_traffic(const struct report_domain *d)
{
	return d->delivered + d->deferred + d->bounced + d->expired;
}

static int
cmp_domain(const void *a, const void *b)
{
	const struct report_domain *x = *(struct report_domain *const *)a;
	const struct report_domain *y = *(struct report_domain *const *)b;
	uint64_t tx = dom_traffic(x), ty = dom_traffic(y);
	if (tx != ty)
		return tx > ty ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
cmp_reason(const void *a, const void *b)
{
	const struct report_reason *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The per-recipient counts of every campaign, from the join; with
 * reasons, sched's failures bounce has not classified count under their
 * codes (once: report_finish). */
static void
count_rcpts(struct report *r, int reasons)
{
	for (size_t i = 0; i < r->rccap; i++) {
		struct rcpt *p = &r->rc[i];
		if (!p->hash)
			continue;
		struct report_campaign *c = r->camp[p->campaign];
		uint16_t f = p->flags;
		if (f & (RF_QUEUED | RF_SUPPRESSED | RF_INVALID))
			c->recipients++;
		if (f & RF_QUEUED)
			c->queued++;
		if (f & RF_SUPPRESSED)
			c->suppressed++;
		if (f & RF_INVALID)
			c->invalid++;
		if (f & RF_DUPLICATE)
			c->duplicates++;
		if (f & RF_COMPLAINT)
			c->complaints++;
		if (f & RF_UNSUB)
			c->unsubscribes++;
		if (f & RF_DEFERRED)
			c->deferred_rcpts++;
		if (f & (RF_BOUNCED | RF_INBOUND)) {
			c->bounced++;
			int hard = (f & RF_HARD) || ((f & RF_GUESS_HARD) && !(f & RF_SOFT));
			if (hard)
				c->hard++;
			else
				c->soft++;
			/* sched's failure that bounce has not classified (yet) */
			if (reasons && !(f & RF_CLASSIFIED) && p->code && p->code - 1u < c->nreasons)
				c->reasons[p->code - 1].count++;
		} else if (f & RF_DELIVERED) {
			c->delivered++;
		} else if (f & RF_EXPIRED) {
			c->expired++;
		} else if (f & RF_QUEUED) {
			c->pending++;
		}
	}
}

void
report_tally(struct report *r)
{
	if (r->finished)
		return;
	for (size_t i = 0; i < r->ncamp; i++) {
		struct report_campaign *c = r->camp[i];
		c->recipients = c->queued = c->delivered = c->pending = c->bounced = c->hard =
		    c->soft = c->expired = c->suppressed = c->invalid = c->duplicates =
			c->complaints = c->unsubscribes = c->deferred_rcpts = 0;
	}
	count_rcpts(r, 0);
}

void
report_finish(struct report *r)
{
	if (r->finished)
		return;
	r->finished = 1;
	count_rcpts(r, 1);
	/* domains per campaign */
	r->cdom = xcalloc(r->ncamp ? r->ncamp : 1, sizeof *r->cdom);
	r->ncdom = xcalloc(r->ncamp ? r->ncamp : 1, sizeof *r->ncdom);
	for (size_t i = 0; i < r->ndom; i++)
		r->ncdom[r->dom[i]->campaign]++;
	for (size_t i = 0; i < r->ncamp; i++) {
		r->cdom[i] = xcalloc(r->ncdom[i] ? r->ncdom[i] : 1, sizeof **r->cdom);
		r->ncdom[i] = 0;
	}
	for (size_t i = 0; i < r->ndom; i++) {
		uint32_t ci = r->dom[i]->campaign;
		r->cdom[ci][r->ncdom[ci]++] = r->dom[i];
	}
	for (size_t i = 0; i < r->ncamp; i++) {
		if (r->ncdom[i])
			qsort(r->cdom[i], r->ncdom[i], sizeof *r->cdom[i], cmp_domain);
		struct report_campaign *c = r->camp[i];
		/* drop reasons that counted nobody (sched codes all classified) */
		size_t k = 0;
		for (size_t j = 0; j < c->nreasons; j++) {
			if (c->reasons[j].count)
				c->reasons[k++] = c->reasons[j];
			else {
				free(c->reasons[j].name);
				free(c->reasons[j].sample);
			}
		}
		c->nreasons = k;
		if (k)
			qsort(c->reasons, k, sizeof *c->reasons, cmp_reason);
	}
	/* campaigns by name: cdom follows the campaign it was built for */
	struct {
		struct report_campaign *c;
		struct report_domain **d;
		size_t n;
	} *tmp = xcalloc(r->ncamp ? r->ncamp : 1, sizeof *tmp);
	for (size_t i = 0; i < r->ncamp; i++) {
		tmp[i].c = r->camp[i];
		tmp[i].d = r->cdom[i];
		tmp[i].n = r->ncdom[i];
	}
	if (r->ncamp)
		qsort(r->camp, r->ncamp, sizeof *r->camp, cmp_campaign);
	for (size_t i = 0; i < r->ncamp; i++)
		for (size_t j = 0; j < r->ncamp; j++)
			if (tmp[j].c == r->camp[i]) {
				r->cdom[i] = tmp[j].d;
				r->ncdom[i] = tmp[j].n;
				break;
			}
	free(tmp);
	/* the per-recipient table is no longer needed */
	free(r->rc);
	r->rc = NULL;
	r->rccap = r->rcused = 0;
}

static int
cmp_dest(const void *a, const void *b)
{
	const struct report_dest *x = *(struct report_dest *const *)a;
	const struct report_dest *y = *(struct report_dest *const *)b;
	uint64_t qx = x->ready + x->deferred + x->inflight, qy = y->ready + y->deferred + y->inflight;
	if (qx != qy)
		return qx > qy ? -1 : 1;
	if (x->deferrals != y->deferrals)
		return x->deferrals > y->deferrals ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t
report_dests(struct report *r, struct report_dest ***out)
{
	if (r->ndest)
		qsort(r->dest, r->ndest, sizeof *r->dest, cmp_dest);
	/* the map's indexes are stale now: build it again */
	strmap_free(&r->destmap);
	for (size_t i = 0; i < r->ndest; i++) {
		const char *n = r->dest[i]->name;
		uint64_t h = lower_hash(n, strlen(n), UINT32_MAX);
		r->key = n;
		r->keylen = strlen(n);
		int found;
		size_t slot = strmap_find(&r->destmap, h, dest_eq, r, &found);
		strmap_put(&r->destmap, slot, h, (uint32_t)i);
	}
	*out = r->dest;
	return r->ndest;
}

size_t
report_campaign_count(const struct report *r)
{
	return r->ncamp;
}

struct report_campaign *
report_campaign_at(struct report *r, size_t i)
{
	return i < r->ncamp ? r->camp[i] : NULL;
}

size_t
report_domains(struct report *r, size_t ci, struct report_domain ***out)
{
	if (!r->finished || ci >= r->ncamp) {
		*out = NULL;
		return 0;
	}
	*out = r->cdom[ci];
	return r->ncdom[ci];
}

uint64_t
report_unknown_events(const struct report *r)
{
	return r->unknown;
}

/* ---- the queue ---- */

/* Reads one state file: its campaign and the messages not final. */
static void
read_state(struct report *r, const char *path, int64_t now)
{
	struct buf text = { 0 };
	if (spool_read_file(path, 64u << 20, &text) == -1) {
		buf_free(&text);
		return; /* finished and removed meanwhile */
	}
	const char *s = text.data ? text.data : "";
	size_t len = text.len;
	/* header */
	const char *cn = NULL;
	size_t cl = 0;
	long long created = 0;
	size_t count = 0;
	size_t i = 0;
	if (len < 17 || memcmp(s, "mailshot-queue 1\n", 17) != 0)
		goto out;
	i = 17;
	while (i < len && s[i] != '\n') {
		const char *e = memchr(s + i, '\n', len - i);
		if (!e)
			goto out;
		const char *sp = memchr(s + i, ' ', (size_t)(e - (s + i)));
		if (sp) {
			size_t kl = (size_t)(sp - (s + i));
			if (kl == 8 && memcmp(s + i, "campaign", 8) == 0) {
				cn = sp + 1;
				cl = (size_t)(e - cn);
			} else if (kl == 7 && memcmp(s + i, "created", 7) == 0)
				created = strtoll(sp + 1, NULL, 10);
			else if (kl == 5 && memcmp(s + i, "count", 5) == 0)
				count = (size_t)strtoull(sp + 1, NULL, 10);
		}
		i = (size_t)(e - s) + 1;
	}
	if (!cn || count == 0 || count > (1u << 20))
		goto out;
	/* with a time window, only the campaigns the window saw */
	if ((r->opts.since_usec || r->opts.until_usec) && !campaign_known(r, cn, cl))
		goto out;
	if (r->opts.campaign &&
	    (strlen(r->opts.campaign) != cl || memcmp(r->opts.campaign, cn, cl) != 0))
		goto out;
	i++;
	/* per message: 0 none yet, 1 started, 2 deferred (next in nexts), 3 final */
	unsigned char *st = xcalloc(count, 1);
	int64_t *next = xcalloc(count, sizeof *next);
	uint32_t *dom = xcalloc(count, sizeof *dom); /* destination index + 1 */
	while (i < len) {
		const char *e = memchr(s + i, '\n', len - i);
		if (!e)
			break; /* a torn last line */
		char kind = s[i];
		char *endp;
		unsigned long long idx = strtoull(s + i + 1, &endp, 10);
		if (idx < count && s[i + 1] == ' ') {
			if (kind == 's')
				st[idx] = 1;
			else if (kind == 'd' || kind == 'f' || kind == 'x')
				st[idx] = 3;
			else if (kind == 'r') {
				strtoull(endp, &endp, 10);
				next[idx] = strtoll(endp, NULL, 10);
				st[idx] = 2;
			} else if (kind == 'm') {
				/* m INDEX OFFSET LENGTH TEST DOMAIN (escaped) */
				const char *q = endp;
				for (int k = 0; k < 3 && q < e; k++) {
					q = memchr(q + 1, ' ', (size_t)(e - q - 1));
					if (!q)
						break;
				}
				if (q && q < e) {
					struct buf name = { 0 };
					if (spool_unescape(&name, q + 1, (size_t)(e - q - 1)) == 0)
						dom[idx] = dest_index(r, name.data ? name.data : "",
								      name.len) + 1;
					buf_free(&name);
				}
			}
		}
		i = (size_t)(e - s) + 1;
	}
	uint32_t ci = campaign(r, cn, cl);
	struct report_campaign *c = r->camp[ci];
	for (size_t k = 0; k < count; k++) {
		if (st[k] == 3)
			continue;
		struct report_dest *g = dom[k] ? r->dest[dom[k] - 1] : dest(r, "", 0);
		c->q_messages++;
		if (st[k] == 1) {
			c->q_inflight++;
			g->inflight++;
		} else if (st[k] == 2 && next[k] > now) {
			c->q_deferred++;
			g->deferred++;
			if (!c->q_next || next[k] < c->q_next)
				c->q_next = next[k];
			if (!g->next || next[k] < g->next)
				g->next = next[k];
		} else {
			c->q_ready++;
			g->ready++;
		}
		if (!c->q_oldest || created < c->q_oldest)
			c->q_oldest = created;
		if (!g->oldest || created < g->oldest)
			g->oldest = created;
	}
	free(st);
	free(next);
	free(dom);
out:
	buf_free(&text);
}

int
report_read_queue(struct report *r, const char *spool, int64_t now, struct buf *err)
{
	/* again (a live view): what the last reading found goes */
	for (size_t i = 0; i < r->ncamp; i++) {
		struct report_campaign *c = r->camp[i];
		c->q_messages = c->q_ready = c->q_deferred = c->q_inflight = 0;
		c->q_next = c->q_oldest = 0;
	}
	for (size_t i = 0; i < r->ndest; i++) {
		struct report_dest *g = r->dest[i];
		g->ready = g->deferred = g->inflight = 0;
		g->next = g->oldest = 0;
	}
	struct buf path = { 0 };
	buf_printf(&path, "%s/queue", spool);
	DIR *top = opendir(buf_cstr(&path));
	if (!top) {
		int e = errno;
		buf_free(&path);
		if (e == ENOENT)
			return 0;
		buf_printf(err, "%s/queue: %s", spool, strerror(e));
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(top))) {
		if (strlen(de->d_name) != 2)
			continue;
		buf_reset(&path);
		buf_printf(&path, "%s/queue/%s", spool, de->d_name);
		DIR *sub = opendir(buf_cstr(&path));
		if (!sub)
			continue;
		struct dirent *fe;
		size_t base = path.len;
		while ((fe = readdir(sub))) {
			size_t n = strlen(fe->d_name);
			if (fe->d_name[0] != 'B' || n < 7 || strcmp(fe->d_name + n - 6, ".state"))
				continue;
			buf_truncate(&path, base);
			buf_printf(&path, "/%s", fe->d_name);
			read_state(r, buf_cstr(&path), now);
		}
		closedir(sub);
	}
	closedir(top);
	buf_free(&path);
	return 0;
}

void
report_free(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ncamp; i++) {
		struct report_campaign *c = r->camp[i];
		for (size_t j = 0; j < c->nreasons; j++) {
			free(c->reasons[j].name);
			free(c->reasons[j].sample);
		}
		free(c->reasons);
		free(c->name);
		free(c);
		if (r->cdom)
			free(r->cdom[i]);
	}
	for (size_t i = 0; i < r->ncamp; i++)
		strmap_free(&r->reasonmaps[i]);
	free(r->reasonmaps);
	free(r->camp);
	free(r->cdom);
	free(r->ncdom);
	for (size_t i = 0; i < r->ndom; i++) {
		free(r->dom[i]->name);
		free(r->dom[i]->last_error);
		free(r->dom[i]);
	}
	free(r->dom);
	for (size_t i = 0; i < r->ndest; i++) {
		free(r->dest[i]->name);
		free(r->dest[i]->last_error);
		free(r->dest[i]);
	}
	free(r->dest);
	strmap_free(&r->destmap);
	strmap_free(&r->campmap);
	strmap_free(&r->dommap);
	free(r->rc);
	free(r);
}

/* ---- queue/status ---- */

static int
num_field(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	if (s >= end || *s < '0' || *s > '9')
		return -1;
	uint64_t v = 0;
	while (s < end && *s >= '0' && *s <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s++ - '0');
	}
	if (s < end && *s != ' ')
		return -1;
	if (s < end)
		s++;
	*p = s;
	*out = v;
	return 0;
}

int
sched_status_parse(const char *text, size_t len, struct sched_status *out, const char **why)
{
	memset(out, 0, sizeof *out);
	static const char magic[] = "mailshot-sched-status 1\n";
	if (len < sizeof magic - 1 || memcmp(text, magic, sizeof magic - 1) != 0) {
		*why = "not a status file of this version";
		return -1;
	}
	size_t i = sizeof magic - 1;
	int header = 1;
	size_t cap = 0;
	while (i < len) {
		const char *e = memchr(text + i, '\n', len - i);
		if (!e) {
			*why = "a line without its end";
			goto bad;
		}
		const char *p = text + i, *end = e;
		i = (size_t)(e - text) + 1;
		if (header) {
			if (p == end) {
				header = 0;
				continue;
			}
			const char *sp = memchr(p, ' ', (size_t)(end - p));
			if (!sp)
				goto badline;
			size_t kl = (size_t)(sp - p);
			const char *v = sp + 1;
			uint64_t n[4];
			int count = 1;
			static const char *const known[] = { "pid", "time", "started", "messages",
							     "ready", "waiting", "inflight", "dests",
							     "totals" };
			int is_known = 0;
			for (size_t k = 0; k < sizeof known / sizeof *known; k++)
				if (strlen(known[k]) == kl && memcmp(p, known[k], kl) == 0)
					is_known = 1;
			if (!is_known)
				continue; /* a newer writer's addition */
			if (kl == 6 && memcmp(p, "totals", 6) == 0)
				count = 4;
			for (int k = 0; k < count; k++)
				if (num_field(&v, end, &n[k]) == -1)
					goto badline;
			if (v != end)
				goto badline;
#define KEY(s) (kl == sizeof s - 1 && memcmp(p, s, kl) == 0)
			if (KEY("pid"))
				out->pid = (long)(n[0] & 0x7fffffff);
			else if (KEY("time"))
				out->time = (int64_t)(n[0] & INT64_MAX);
			else if (KEY("started"))
				out->started = (int64_t)(n[0] & INT64_MAX);
			else if (KEY("messages"))
				out->messages = n[0];
			else if (KEY("ready"))
				out->ready = n[0];
			else if (KEY("waiting"))
				out->waiting = n[0];
			else if (KEY("inflight"))
				out->inflight = n[0];
			else if (KEY("dests"))
				out->dests = n[0];
			else if (KEY("totals")) {
				out->delivered = n[0];
				out->failed = n[1];
				out->deferred = n[2];
				out->expired = n[3];
			}
			/* unknown keys: a newer writer's additions */
#undef KEY
			continue;
		}
		if ((size_t)(end - p) < 5 || memcmp(p, "dest ", 5) != 0)
			continue; /* a record of a newer version */
		p += 5;
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp || sp == p)
			goto badline;
		struct buf name = { 0 };
		if (spool_unescape(&name, p, (size_t)(sp - p)) == -1) {
			buf_free(&name);
			goto badline;
		}
		p = sp + 1;
		uint64_t n[14];
		for (int k = 0; k < 14; k++)
			if (num_field(&p, end, &n[k]) == -1) {
				buf_free(&name);
				goto badline;
			}
		if (p >= end) {
			buf_free(&name);
			goto badline;
		}
		if (out->ndest == cap) {
			cap = cap ? 2 * cap : 16;
			out->dest = xrealloc(out->dest, cap * sizeof *out->dest);
		}
		struct sched_status_dest *d = &out->dest[out->ndest++];
		memset(d, 0, sizeof *d);
		d->name = xstrdup(name.data ? buf_cstr(&name) : "");
		buf_free(&name);
		d->ready = n[0];
		d->waiting = n[1];
		d->inflight = n[2];
		d->window = (unsigned)(n[3] > UINT32_MAX ? UINT32_MAX : n[3]);
		d->concurrency = (unsigned)(n[4] > UINT32_MAX ? UINT32_MAX : n[4]);
		d->rate = (unsigned)(n[5] > UINT32_MAX ? UINT32_MAX : n[5]);
		d->pause_until = (int64_t)(n[6] & INT64_MAX);
		d->backoff = (int64_t)(n[7] & INT64_MAX);
		d->error_at = (int64_t)(n[8] & INT64_MAX);
		d->delivered = n[9];
		d->failed = n[10];
		d->deferred = n[11];
		d->expired = n[12];
		d->throttles = n[13];
		if (!(end - p == 1 && *p == '-')) {
			struct buf err = { 0 };
			if (spool_unescape(&err, p, (size_t)(end - p)) == 0)
				d->last_error = xstrdup(err.data ? buf_cstr(&err) : "");
			buf_free(&err);
		}
	}
	return 0;
badline:
	*why = "a damaged line";
bad:
	sched_status_free(out);
	return -1;
}

void
sched_status_free(struct sched_status *s)
{
	for (size_t i = 0; i < s->ndest; i++) {
		free(s->dest[i].name);
		free(s->dest[i].last_error);
	}
	free(s->dest);
	s->dest = NULL;
	s->ndest = 0;
}
