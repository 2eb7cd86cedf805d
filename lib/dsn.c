/*
 * dsn - inbound bounce, complaint and auto-reply parsing.
 * See dsn.h for the contract.
 *
 * DESCRIPTION
 *	The first DSN_MAX_SCAN octets are copied once with CR LF made LF and
 *	NUL made a space, so that everything after works on one line-end
 *	convention and may use C string functions.  Then one walk over the
 *	MIME tree collects, without interpreting anything yet:
 *	  - the delivery-status parts' content (decoded);
 *	  - the feedback-report part's content;
 *	  - the header of the first returned message (message/rfc822 or
 *	    text/rfc822-headers);
 *	  - the prose: every text part outside a returned message, decoded
 *	    (base64, quoted-printable) and, for HTML, stripped of tags, up to
 *	    DSN_MAX_TEXT octets in all.
 *	The decision is made afterwards, structure first: delivery-status,
 *	then feedback-report, then the prose as a non-standard bounce
 *	(dsntext.c), then the auto-reply marks.
 *
 *	The MIME side (headers, decoding, the walk) is dsnmime.c; the prose
 *	of non-standard bounces is read by dsntext.c, which also reads Amazon
 *	SES's JSON notifications.  When the message has no delivery-status
 *	of its own but carries a returned message, that message is walked
 *	once more for one (a bounce forwarded as an attachment).
 *
 *	Why a per-recipient Status of the reporting MTA gives way to the
 *	status quoted in the Diagnostic-Code: the remote server's code is the
 *	more exact (sendmail reports 4.4.7 for a message that timed out after
 *	"450 4.7.1 Client host rejected").
 */
#include "dsn.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "classify.h"
#include "dsnint.h"
#include "mime.h"

void
dsn_init(struct dsn_report *r)
{
	memset(r, 0, sizeof *r);
	r->kind = DSN_UNRECOGNIZED;
	buf_reset(&r->outer_headers);
	buf_reset(&r->orig_headers);
	buf_reset(&r->note);
}

static void
rcpt_free(struct dsn_rcpt *d)
{
	buf_free(&d->rcpt);
	buf_free(&d->orig_rcpt);
	buf_free(&d->diag);
	buf_free(&d->mta);
}

void
dsn_free(struct dsn_report *r)
{
	for (size_t i = 0; i < r->nrcpts; i++)
		rcpt_free(&r->rcpts[i]);
	free(r->rcpts);
	buf_free(&r->outer_headers);
	buf_free(&r->orig_headers);
	buf_free(&r->note);
	memset(r, 0, sizeof *r);
}

/* ---- recipients ---- */

struct dsn_rcpt *
dsn_add_rcpt(struct dsn_report *r, const char *addr, size_t len)
{
	dsn_trim(&addr, &len);
	if (dsn_prefix_nocase(addr, len, "rfc822;") || dsn_prefix_nocase(addr, len, "utf-8;")) {
		const char *semi = memchr(addr, ';', len);
		len -= (size_t)(semi + 1 - addr);
		addr = semi + 1;
		dsn_trim(&addr, &len);
	}
	/* <addr>, 'addr', "addr"; but "quoted local"@domain keeps its quotes. */
	while (len > 0 && (*addr == '<' || *addr == '\''))
		addr++, len--;
	while (len > 0 && (addr[len - 1] == '>' || addr[len - 1] == '\'' || addr[len - 1] == '.' ||
			   addr[len - 1] == ':' || addr[len - 1] == ','))
		len--;
	if (len >= 2 && addr[0] == '"' && addr[len - 1] == '"')
		addr++, len -= 2;
	if (len > 0 && addr[0] == '"' && memchr(addr + 1, '"', len - 1) == NULL)
		addr++, len--;
	if (len > 0 && addr[len - 1] == '"' && memchr(addr, '"', len - 1) == NULL)
		len--;
	if (len > 320)
		len = 320;
	for (size_t i = 0; i < r->nrcpts; i++) {
		const struct dsn_rcpt *d = &r->rcpts[i];
		if (d->rcpt.len == len && len > 0 && strncasecmp(d->rcpt.data, addr, len) == 0)
			return NULL;
	}
	if (r->nrcpts >= DSN_MAX_RCPTS)
		return NULL;
	if (r->nrcpts == r->rcpts_cap) {
		size_t cap = r->rcpts_cap ? 2 * r->rcpts_cap : 4;
		r->rcpts = xrealloc(r->rcpts, cap * sizeof *r->rcpts);
		r->rcpts_cap = cap;
	}
	struct dsn_rcpt *d = &r->rcpts[r->nrcpts++];
	memset(d, 0, sizeof *d);
	buf_append(&d->rcpt, addr, len);
	(void)buf_cstr(&d->orig_rcpt);
	(void)buf_cstr(&d->diag);
	(void)buf_cstr(&d->mta);
	/* Control characters never reach a caller's log line. */
	for (size_t i = 0; i < d->rcpt.len; i++)
		if ((unsigned char)d->rcpt.data[i] < ' ' || d->rcpt.data[i] == 0x7F)
			d->rcpt.data[i] = '?';
	return d;
}

void
dsn_set_diag(struct dsn_rcpt *d, const char *text, size_t len)
{
	int space = 1;

	buf_reset(&d->diag);
	for (size_t i = 0; i < len && d->diag.len < DSN_MAX_DIAG; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < ' ' || c == 0x7F || c == ' ') {
			if (!space)
				buf_append_char(&d->diag, ' ');
			space = 1;
			continue;
		}
		buf_append_char(&d->diag, (char)c);
		space = 0;
	}
	while (d->diag.len > 0 && d->diag.data[d->diag.len - 1] == ' ')
		buf_truncate(&d->diag, d->diag.len - 1);
	(void)buf_cstr(&d->diag);
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* An enhanced status at s: "D.D{1,3}.D{1,3}", not inside a longer token. */
static size_t
status_at(const char *s, size_t len, size_t i)
{
	if (i > 0 && (is_digit((unsigned char)s[i - 1]) || s[i - 1] == '.'))
		return 0;
	if (i >= len || (s[i] != '2' && s[i] != '4' && s[i] != '5'))
		return 0;
	size_t k = i + 1;
	for (int part = 0; part < 2; part++) {
		if (k >= len || s[k] != '.')
			return 0;
		k++;
		size_t d = 0;
		while (k < len && is_digit((unsigned char)s[k]) && d < 4)
			k++, d++;
		if (d == 0 || d > 3)
			return 0;
	}
	if (k < len && (is_digit((unsigned char)s[k]) ||
			(s[k] == '.' && k + 1 < len && is_digit((unsigned char)s[k + 1]))))
		return 0;
	return k - i;
}

void
dsn_find_codes(const char *text, size_t len, int *code, char status[16])
{
	/* A status of an "other" detail (X.Y.0) followed by a specific one
	 * of the same class is a reporting MTA's summary of the server's
	 * reply it quotes ("5.1.0 - Unknown address error
	 * 550-'5.7.1 ... Access denied'"): the server's status is kept. */
	int summary = 0;

	*code = 0;
	status[0] = '\0';
	for (size_t i = 0; i < len && (*code == 0 || status[0] == '\0' || summary); i++) {
		size_t n;
		if ((status[0] == '\0' || summary) && (n = status_at(text, len, i)) > 0 && n < 16) {
			int other = text[i + n - 2] == '.' && text[i + n - 1] == '0';
			if (status[0] == '\0' || (text[i] == status[0] && !other)) {
				memcpy(status, text + i, n);
				status[n] = '\0';
				summary = other;
			}
			i += n - 1;
			continue;
		}
		if (*code == 0 && (text[i] == '4' || text[i] == '5') && i + 2 < len &&
		    is_digit((unsigned char)text[i + 1]) && is_digit((unsigned char)text[i + 2]) &&
		    (i == 0 || (!isalnum((unsigned char)text[i - 1]) && text[i - 1] != '.' &&
				text[i - 1] != '-' && text[i - 1] != ':' && text[i - 1] != '#')) &&
		    (i + 3 == len || text[i + 3] == ' ' || text[i + 3] == '-' || text[i + 3] == '\n')) {
			int v = (text[i] - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
			if (v % 100 <= 59 && v / 10 % 10 <= 5)
				*code = v;
		}
	}
}

/* ---- delivery-status ---- */

struct pending {
	struct buf final, original, action, status, diag, mta;
	int open;
};

static void
pending_reset(struct pending *p)
{
	buf_reset(&p->final);
	buf_reset(&p->original);
	buf_reset(&p->action);
	buf_reset(&p->status);
	buf_reset(&p->diag);
	buf_reset(&p->mta);
	p->open = 0;
}

static void
pending_free(struct pending *p)
{
	buf_free(&p->final);
	buf_free(&p->original);
	buf_free(&p->action);
	buf_free(&p->status);
	buf_free(&p->diag);
	buf_free(&p->mta);
}

/* "smtp; 550 ..." -> "550 ...": the type before ';' is dropped when it
 * looks like one (a short token). */
static void
strip_type(const char **v, size_t *len)
{
	const char *semi = memchr(*v, ';', *len);
	if (semi != NULL && semi - *v < 24) {
		for (const char *q = *v; q < semi; q++)
			if (dsn_is_space((unsigned char)*q) && q + 1 < semi && !dsn_is_space((unsigned char)q[1]))
				return;
		*len -= (size_t)(semi + 1 - *v);
		*v = semi + 1;
	}
	dsn_trim(v, len);
}

static int
generic_status(const char *s)
{
	size_t n = strlen(s);
	return n == 0 || (n >= 5 && strcmp(s + 1, ".0.0") == 0);
}

static void
copy_field(char *dst, size_t size, const char *s, size_t len)
{
	size_t n = 0;
	dsn_trim(&s, &len);
	for (size_t i = 0; i < len && n + 1 < size; i++)
		if (!dsn_is_space((unsigned char)s[i]))
			dst[n++] = (char)dsn_lower((unsigned char)s[i]);
	dst[n] = '\0';
}

static void
flush_pending(struct dsn_report *r, struct pending *p, const struct buf *prose)
{
	char action[16], status[16], dstatus[16];
	const char *addr = p->final.data;
	size_t alen = p->final.len;
	int code = 0;

	if (!p->open)
		return;
	const char *a = addr ? addr : "";
	strip_type(&a, &alen);
	/* "@host:user@domain" (a source route) or "@host": the Original-
	 * Recipient says it better. */
	if (alen > 0 && a[0] == '@' && p->original.len > 0)
		alen = 0;
	if (alen == 0 || dsn_prefix_nocase(a, alen, "unknown")) {
		a = p->original.data ? p->original.data : "";
		alen = p->original.len;
		strip_type(&a, &alen);
	}
	copy_field(action, sizeof action, p->action.data ? p->action.data : "", p->action.len);
	copy_field(status, sizeof status, p->status.data ? p->status.data : "", p->status.len);
	{
		/* "5.1.1 (bad destination)" and similar: only the code. */
		size_t n = status_at(status, strlen(status), 0);
		status[n < sizeof status ? n : 0] = '\0';
	}
	if (strncmp(action, "deliver", 7) == 0 || strncmp(action, "relay", 5) == 0 ||
	    strncmp(action, "expand", 6) == 0 || (action[0] == '\0' && status[0] == '2'))
		goto out;
	if (strncmp(action, "fail", 4) == 0)
		strcpy(action, "failed");
	else if (strncmp(action, "delay", 5) == 0 || strncmp(action, "defer", 5) == 0)
		strcpy(action, "delayed");
	else if (action[0] == '\0' || strcmp(action, "failed") != 0)
		strcpy(action, status[0] == '4' ? "delayed" : "failed");

	struct dsn_rcpt *d = dsn_add_rcpt(r, a, alen);
	if (d == NULL)
		goto out;
	if (p->original.len > 0) {
		const char *o = p->original.data;
		size_t olen = p->original.len;
		strip_type(&o, &olen);
		while (olen > 0 && *o == '<')
			o++, olen--;
		while (olen > 0 && o[olen - 1] == '>')
			olen--;
		buf_append(&d->orig_rcpt, o, olen);
	}
	strcpy(d->action, action);

	const char *dg = p->diag.data ? p->diag.data : "";
	size_t dglen = p->diag.len;
	strip_type(&dg, &dglen);
	if (dglen > 0) {
		dsn_set_diag(d, dg, dglen);
	} else {
		struct buf ex = BUF_INIT;
		if (prose->len > 0 && d->rcpt.len > 0 &&
		    dsn_text_explain(prose->data, prose->len, d->rcpt.data, &ex))
			dsn_set_diag(d, ex.data, ex.len);
		buf_free(&ex);
	}
	dsn_find_codes(d->diag.data, d->diag.len, &code, dstatus);
	d->code = code;
	/* The server's own status, quoted in the diagnostic, is more exact
	 * than the reporting MTA's summary (sendmail reports 4.4.7 for a
	 * message that timed out after "450 4.7.1 Client host rejected"). */
	if (dstatus[0] != '\0' && !generic_status(dstatus) &&
	    (status[0] == '\0' || status[0] == dstatus[0]))
		strcpy(status, dstatus);
	strcpy(d->status, status);
	if (p->mta.len > 0) {
		const char *m = p->mta.data;
		size_t mlen = p->mta.len;
		strip_type(&m, &mlen);
		buf_append(&d->mta, m, mlen < 255 ? mlen : 255);
	}
	d->cls = bounce_classify(d->code, d->status, d->diag.data, d->diag.len);
	if (d->cls.reason == BR_OTHER && prose->len > 0 && generic_status(d->status) &&
	    dglen == 0) {
		/* Nothing specific in the DSN fields: the prose may say more. */
		struct bounce_class c =
		    bounce_classify(d->code, d->status, prose->data,
				    prose->len < CLASSIFY_MAX_TEXT ? prose->len : CLASSIFY_MAX_TEXT);
		if (c.reason != BR_OTHER && c.reason != BR_NONE)
			d->cls = c;
	}
	/* The Diagnostic-Code rarely names the SMTP stage; the prose often
	 * does ("(in reply to end of DATA command)"), and a recipient
	 * refused only at the end of DATA exists (classify.h). */
	if ((d->cls.reason == BR_USER_UNKNOWN || d->cls.reason == BR_NO_SUCH_DOMAIN) &&
	    prose->len > 0 && d->rcpt.len > 0) {
		struct buf ex = BUF_INIT;
		if (dsn_text_explain(prose->data, prose->len, d->rcpt.data, &ex) &&
		    bounce_text_after_data(ex.data, ex.len))
			d->cls.reason = BR_POLICY_BLOCK;
		d->cls.severity = bounce_severity_of(d->cls.reason, d->code, d->status);
		buf_free(&ex);
	}
	if (strcmp(d->action, "delayed") == 0) {
		/* Not delivered within the warning period. */
		if (d->cls.reason == BR_NONE ||
		    (d->cls.reason == BR_OTHER && !bounce_text_specific(d->diag.data, d->diag.len)))
			d->cls.reason = BR_EXPIRED;
		d->cls.severity = BS_SOFT;
	}
out:
	pending_reset(p);
}

/* Reads the delivery-status fields: per-message fields are skipped; a
 * recipient block ends at a blank line or at a second Final-Recipient
 * (some MTAs leave the blank lines out). */
static size_t
parse_delivery_status(struct dsn_report *r, const struct buf *ds, const struct buf *prose)
{
	struct pending p;
	struct buf block = BUF_INIT;
	size_t off = 0, blocks = 0;

	memset(&p, 0, sizeof p);
	while (off < ds->len) {
		while (off < ds->len && (ds->data[off] == '\n' || ds->data[off] == ' ' ||
					 ds->data[off] == '\t' || ds->data[off] == '\r'))
			off++;
		if (off >= ds->len)
			break;
		buf_reset(&block);
		size_t used = dsn_unfold_header(ds->data + off, ds->len - off, &block);
		if (used == 0) {
			const char *nl = memchr(ds->data + off, '\n', ds->len - off);
			used = nl ? (size_t)(nl - (ds->data + off)) + 1 : ds->len - off;
		}
		off += used;
		/* One field per line in block. */
		const char *q = block.data, *end = block.data + block.len;
		while (q != NULL && q < end) {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			const char *le = nl ? nl : end;
			const char *colon = memchr(q, ':', (size_t)(le - q));
			if (colon != NULL) {
				const char *v = colon + 2 <= le ? colon + 2 : le;
				size_t vlen = (size_t)(le - v);
				size_t nlen = (size_t)(colon - q);
				struct buf *dst = NULL;
#define FIELD(s) (nlen == sizeof(s) - 1 && dsn_prefix_nocase(q, nlen, s))
				if (FIELD("Final-Recipient") || FIELD("X-Actual-Recipient")) {
					if (FIELD("X-Actual-Recipient") && p.final.len > 0) {
						dst = NULL;
					} else {
						if (p.open && p.final.len > 0)
							flush_pending(r, &p, prose);
						dst = &p.final;
					}
				} else if (FIELD("Original-Recipient")) {
					if (p.open && p.original.len > 0)
						flush_pending(r, &p, prose);
					dst = &p.original;
				} else if (FIELD("Action")) {
					dst = &p.action;
				} else if (FIELD("Status")) {
					dst = &p.status;
				} else if (FIELD("Diagnostic-Code")) {
					dst = &p.diag;
				} else if (FIELD("Remote-MTA")) {
					dst = &p.mta;
				}
#undef FIELD
				if (dst != NULL) {
					if (dst == &p.final || dst == &p.original) {
						p.open = 1;
						blocks++;
					}
					if (dst->len == 0)
						buf_append(dst, v, vlen);
				}
			}
			q = nl ? nl + 1 : end;
		}
		flush_pending(r, &p, prose);
	}
	pending_free(&p);
	buf_free(&block);
	return blocks;
}

/* ---- complaints ---- */

/* Adds every address in a list value ("a@b, Name <c@d>"). */
static void
add_address_list(struct dsn_report *r, const char *v, size_t len, struct bounce_class cls)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && (v[i] == ',' || dsn_is_space((unsigned char)v[i])))
			i++;
		size_t start = i;
		int quoted = 0, angle = 0;
		while (i < len && (quoted || angle || v[i] != ',')) {
			if (v[i] == '"')
				quoted = !quoted;
			else if (v[i] == '<')
				angle = 1;
			else if (v[i] == '>')
				angle = 0;
			i++;
		}
		const char *item = v + start;
		size_t ilen = i - start;
		const char *lt = memchr(item, '<', ilen);
		if (lt != NULL) {
			const char *gt = memchr(lt, '>', ilen - (size_t)(lt - item));
			ilen = gt ? (size_t)(gt - lt - 1) : ilen - (size_t)(lt - item) - 1;
			item = lt + 1;
		}
		if (memchr(item, '@', ilen) != NULL) {
			struct dsn_rcpt *d = dsn_add_rcpt(r, item, ilen);
			if (d != NULL)
				d->cls = cls;
		}
	}
}

static void
parse_feedback(struct dsn_report *r, const struct buf *fb)
{
	struct buf fields = BUF_INIT, v = BUF_INIT;
	const struct bounce_class cls = {BR_COMPLAINT, BS_NONE};
	static const char *const rcpt_fields[] = {"Original-Rcpt-To", "Removal-Recipient"};

	r->kind = DSN_COMPLAINT;
	const char *d = fb->data ? fb->data : "";
	size_t dl = fb->len;
	while (dl > 0 && (*d == '\n' || *d == ' '))
		d++, dl--;
	/* The fields may be split into groups by blank lines. */
	size_t off = 0;
	while (off < dl) {
		size_t used = dsn_unfold_header(d + off, dl - off, &fields);
		if (used == 0)
			break;
		off += used;
	}
	if (dsn_get_header(&fields, "Feedback-Type", &v))
		copy_field(r->feedback_type, sizeof r->feedback_type, v.data, v.len);
	for (size_t k = 0; k < 2; k++) {
		for (size_t n = 0; n < 100; n++) {
			buf_reset(&v);
			if (!dsn_header(&fields, rcpt_fields[k], n, &v))
				break;
			add_address_list(r, v.data, v.len, cls);
		}
	}
	if (r->nrcpts == 0 && dsn_get_header(&r->orig_headers, "To", &v))
		add_address_list(r, v.data, v.len, cls);
	if (r->nrcpts == 0) {
		/* Redacted ("Undisclosed Recipients"): the VERP address says who. */
		struct dsn_rcpt *none = dsn_add_rcpt(r, "", 0);
		if (none != NULL)
			none->cls = cls;
	}
	buf_free(&fields);
	buf_free(&v);
}

/* ---- auto-replies ---- */

static const char *const autoreply_subjects[] = {
    "out of office",  "out of the office", "automatic reply", "auto:",	  "autoreply",
    "auto-reply",     "auto reply",	   "auto response",   "autoresponse", "auto-response",
    "vacation",	      "abwesenheitsnotiz", "abwesend",	      "away from",    "on leave",
    "absence",	      "réponse automatique", "respuesta automática", "risposta automatica",
    "i am away",      "i'm away",	   "automatisch",     "not in the office",
};

static int
is_autoreply(struct dsn_report *r)
{
	struct buf v = BUF_INIT;
	int yes = 0;

	if (dsn_get_header(&r->outer_headers, "Auto-Submitted", &v) && v.len > 0 &&
	    !dsn_prefix_nocase(v.data, v.len, "no"))
		yes = 1;
	if (!yes && (dsn_get_header(&r->outer_headers, "X-Autoreply", &v) ||
		     dsn_get_header(&r->outer_headers, "X-Autorespond", &v) ||
		     dsn_get_header(&r->outer_headers, "X-Autoresponder", &v)))
		yes = 1;
	if (!yes && dsn_get_header(&r->outer_headers, "Precedence", &v) &&
	    dsn_find_nocase(v.data, v.len, "auto_reply"))
		yes = 1;
	if (!yes && dsn_get_header(&r->outer_headers, "X-Auto-Response-Suppress", &v) &&
	    dsn_get_header(&r->outer_headers, "Subject", &v)) {
		for (size_t i = 0; i < sizeof autoreply_subjects / sizeof *autoreply_subjects; i++)
			if (dsn_find_nocase(v.data, v.len, autoreply_subjects[i]))
				yes = 1;
	}
	if (!yes && dsn_get_header(&r->outer_headers, "Subject", &v)) {
		for (size_t i = 0; i < sizeof autoreply_subjects / sizeof *autoreply_subjects; i++)
			if (dsn_find_nocase(v.data, v.len, autoreply_subjects[i]))
				yes = 1;
	}
	buf_free(&v);
	return yes;
}

static void
autoreply_rcpt(struct dsn_report *r)
{
	struct buf v = BUF_INIT;
	const struct bounce_class cls = {BR_AUTO_REPLY, BS_NONE};

	r->kind = DSN_AUTOREPLY;
	if (dsn_get_header(&r->outer_headers, "From", &v) ||
	    dsn_get_header(&r->outer_headers, "Reply-To", &v)) {
		size_t before = r->nrcpts;
		add_address_list(r, v.data, v.len, cls);
		if (r->nrcpts > before + 1) {
			for (size_t i = before + 1; i < r->nrcpts; i++)
				rcpt_free(&r->rcpts[i]);
			r->nrcpts = before + 1;
		}
	}
	buf_free(&v);
}

/*
 * Complaints that are not ARF: a provider's abuse desk forwarding the
 * message as an attachment with "complaint" or "abuse report" in the
 * subject, and Apple Mail's unsubscribe mail.  1 when r was filled.
 */
static int
other_complaint(struct dsn_report *r, const struct dsn_walk *w)
{
	static const char *const subjects[] = {"complaint", "abuse report", "spam report",
					       "feedback report"};
	const struct bounce_class cls = {BR_COMPLAINT, BS_NONE};
	struct buf v = BUF_INIT;
	int yes = 0;

	if (w->text.len > 0 &&
	    dsn_find_nocase(w->text.data, w->text.len, "sent this email to unsubscribe") != NULL) {
		snprintf(r->feedback_type, sizeof r->feedback_type, "opt-out");
		r->kind = DSN_COMPLAINT;
		if (dsn_get_header(&r->outer_headers, "From", &v))
			add_address_list(r, v.data, v.len, cls);
		yes = 1;
	} else if (w->have_orig && dsn_get_header(&r->outer_headers, "Subject", &v)) {
		for (size_t i = 0; i < sizeof subjects / sizeof *subjects && !yes; i++)
			yes = dsn_find_nocase(v.data, v.len, subjects[i]) != NULL;
		if (yes) {
			snprintf(r->feedback_type, sizeof r->feedback_type, "abuse");
			r->kind = DSN_COMPLAINT;
			if (dsn_get_header(&r->orig_headers, "To", &v))
				add_address_list(r, v.data, v.len, cls);
		}
	}
	if (yes && r->nrcpts == 0) {
		struct dsn_rcpt *d = dsn_add_rcpt(r, "", 0);
		if (d != NULL)
			d->cls = cls;
	}
	buf_free(&v);
	return yes;
}

/* Whether the outer header says "bounce" (sender or subject). */
static int
header_looks_like_bounce(const struct dsn_report *r)
{
	static const char *const senders[] = {"mailer-daemon", "postmaster", "mail delivery",
					      "maildelivery", "mail administrator", "mailadmin",
					      "bounce", "mdaemon", "nobody@", "mail system"};
	static const char *const subjects[] = {
	    "undeliver",      "undelivered",   "delivery",	     "returned mail",
	    "return mail",    "failure",       "failed",	     "bounce",
	    "non-deliver",    "nondeliver",    "could not be delivered", "not delivered",
	    "rejected",	      "mail error",    "warning",	     "unzustellbar",
	    "error",	      "notification",  "problem",	     "unable to deliver"};
	struct buf v = BUF_INIT;
	int yes = 0;

	if (dsn_get_header(&r->outer_headers, "From", &v))
		for (size_t i = 0; i < sizeof senders / sizeof *senders && !yes; i++)
			yes = dsn_find_nocase(v.data, v.len, senders[i]) != NULL;
	if (!yes && dsn_get_header(&r->outer_headers, "Subject", &v))
		for (size_t i = 0; i < sizeof subjects / sizeof *subjects && !yes; i++)
			yes = dsn_find_nocase(v.data, v.len, subjects[i]) != NULL;
	buf_free(&v);
	return yes;
}

int
dsn_parse(struct dsn_report *r, const char *msg, size_t len)
{
	struct dsn_walk w;
	struct buf copy = BUF_INIT;

	dsn_free(r);
	dsn_init(r);
	memset(&w, 0, sizeof w);
	w.r = r;

	if (len > DSN_MAX_SCAN)
		len = DSN_MAX_SCAN;
	buf_reserve(&copy, len + 1);
	for (size_t i = 0; i < len; i++) {
		char c = msg[i];
		if (c == '\r' && i + 1 < len && msg[i + 1] == '\n')
			continue;
		copy.data[copy.len++] = c == '\0' ? ' ' : c;
	}
	copy.data[copy.len] = '\0';

	dsn_walk(&w, copy.data, copy.len, 0, 1);
	if (!w.have_status && !w.have_feedback && w.inner != NULL &&
	    w.inner_depth + 1 < DSN_MAX_DEPTH) {
		/* A bounce forwarded as an attachment: its delivery-status. */
		w.nested = 1;
		dsn_walk(&w, w.inner, w.inner_len, w.inner_depth + 1, 0);
	}
	(void)buf_cstr(&w.text);

	if (w.have_status && parse_delivery_status(r, &w.status, &w.text) > 0) {
		r->kind = DSN_BOUNCE;
		if (r->nrcpts == 0)
			buf_append_str(&r->note, "delivery-status report without failed recipients");
	} else if (w.have_feedback) {
		parse_feedback(r, &w.feedback);
	} else if (dsn_json_notification(r, w.text.data, w.text.len)) {
		/* r is filled */
	} else if (other_complaint(r, &w)) {
		/* r is filled */
	} else if (dsn_text_bounce(r, w.text.data, w.text.len, header_looks_like_bounce(r))) {
		r->kind = DSN_BOUNCE;
	} else if (is_autoreply(r)) {
		autoreply_rcpt(r);
	} else {
		r->kind = DSN_UNRECOGNIZED;
		buf_reset(&r->note);
		if (copy.len == 0)
			buf_append_str(&r->note, "empty message");
		else if (w.have_status)
			buf_append_str(&r->note, "delivery-status part without recipients");
		else
			buf_append_str(&r->note, "no delivery-status or feedback-report part, and "
						 "no known bounce or auto-reply wording");
	}
	buf_free(&copy);
	buf_free(&w.text);
	buf_free(&w.status);
	buf_free(&w.feedback);
	(void)buf_cstr(&r->outer_headers);
	(void)buf_cstr(&r->orig_headers);
	(void)buf_cstr(&r->note);
	return 0;
}
