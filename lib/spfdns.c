/*
 * spfdns - libspf2 on dnsq.  See spfdns.h for the quirks it handles.
 *
 * The DNS layer follows the contract of libspf2's own resolv layer
 * (spf_dns_resolv.c): lookup returns a fresh SPF_dns_rr_t for (domain,
 * type) whose herrno is NETDB_SUCCESS with the records, HOST_NOT_FOUND,
 * NO_DATA or TRY_AGAIN; TXT records are the strings joined; MX and PTR
 * records the target names.  libspf2 frees what it gets.
 */
#include "spfdns.h"

/* <spf2/spf.h> needs these first (it does not include them itself). */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "die.h"

struct spfeval {
	struct dnsq *q;
	SPF_server_t *server;
	SPF_dns_server_t *layer;
};

static const char fatal_prog[] = "mailshot-report";

/* ---- libspf2's log hooks ---- */

static void
silent(const char *file, int line, const char *msg)
{
	(void)file, (void)line, (void)msg;
}

__attribute__((noreturn)) static void
spf_fatal(const char *file, int line, const char *msg)
{
	(void)file, (void)line;
	fatal(fatal_prog, EXIT_TEMP, "libspf2: %s", msg);
}

/* ---- the DNS layer ---- */

static SPF_dns_rr_t *
lookup(SPF_dns_server_t *layer, const char *domain, ns_type type, int should_cache)
{
	struct spfeval *e = layer->hook;
	(void)should_cache;
	/* The SPF RR type (99) is obsolete (RFC 7208 14.1): never asked. */
	if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx && type != ns_t_txt &&
	    type != ns_t_ptr)
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	const char *why;
	if (domain == NULL || dns_check_name(domain, strlen(domain), &why) == -1)
		return SPF_dns_rr_new_init(layer, domain ? domain : "", type, 0, HOST_NOT_FOUND);
	const struct dnsq_answer *a = dnsq_query(e->q, domain, (int)type);
	switch (a->status) {
	case DNSQ_NXDOMAIN:
		return SPF_dns_rr_new_init(layer, domain, type, 0, HOST_NOT_FOUND);
	case DNSQ_NODATA:
		return SPF_dns_rr_new_init(layer, domain, type, 0, NO_DATA);
	case DNSQ_TEMPORARY:
	case DNSQ_MALFORMED:
		return SPF_dns_rr_new_init(layer, domain, type, 0, TRY_AGAIN);
	case DNSQ_OK:
		break;
	}
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(layer, domain, type, 0, NETDB_SUCCESS);
	if (rr == NULL)
		return NULL;
	int n = 0;
	for (size_t i = 0; i < a->count; i++) {
		const struct dnsq_rr *r = &a->rr[i];
		size_t size = type == ns_t_a	  ? sizeof(struct in_addr)
			      : type == ns_t_aaaa ? sizeof(struct in6_addr)
						  : r->len + 1;
		if (SPF_dns_rr_buf_realloc(rr, n, size) != SPF_E_SUCCESS)
			break;
		if (type == ns_t_a)
			memcpy(&rr->rr[n]->a, r->addr, 4);
		else if (type == ns_t_aaaa)
			memcpy(&rr->rr[n]->aaaa, r->addr, 16);
		else
			memcpy(rr->rr[n]->txt, r->text, r->len + 1); /* NUL included */
		n++;
	}
	rr->num_rr = n;
	return rr;
}

static void
layer_destroy(SPF_dns_server_t *layer)
{
	free(layer);
}

struct spfeval *
spfeval_new(struct dnsq *q, struct buf *err)
{
	SPF_error_handler = spf_fatal;
	SPF_warning_handler = silent;
	SPF_info_handler = silent;
	SPF_debug_handler = silent;

	struct spfeval *e = xcalloc(1, sizeof *e);
	e->q = q;
	SPF_dns_server_t *layer = xcalloc(1, sizeof *layer);
	layer->destroy = layer_destroy;
	layer->lookup = lookup;
	layer->name = "mailshot-dnsq";
	layer->hook = e;
	e->layer = layer;
	e->server = SPF_server_new_dns(layer, 0);
	if (e->server == NULL) {
		buf_append_str(err, "unable to set up libspf2");
		free(layer);
		free(e);
		return NULL;
	}
	SPF_server_set_rec_dom(e->server, fatal_prog);
	return e;
}

void
spfeval_free(struct spfeval *e)
{
	if (e == NULL)
		return;
	/* A server made by SPF_server_new_dns does not own its layer
	 * (destroy_resolver is 0): freed here then. */
	int owned = e->server->destroy_resolver;
	SPF_server_free(e->server);
	if (!owned)
		SPF_dns_free(e->layer);
	free(e);
}

const char *
spf_verdict_name(enum spf_verdict v)
{
	static const char *const names[] = {"pass", "fail",	 "softfail", "neutral",
					    "none", "permerror", "temperror"};
	return names[v];
}

/* The response's error messages joined, else its header comment
 * without the "receiver: " prefix. */
static void
response_detail(SPF_response_t *resp, char *out, size_t size)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < SPF_response_messages(resp); i++) {
		SPF_error_t *m = SPF_response_message(resp, i);
		const char *text = m ? SPF_error_message(m) : NULL;
		if (text == NULL || *text == '\0')
			continue;
		if (b.len > 0)
			buf_append_str(&b, "; ");
		buf_append_str(&b, text);
	}
	if (b.len == 0) {
		const char *c = SPF_response_get_header_comment(resp);
		if (c != NULL) {
			size_t plen = strlen(fatal_prog);
			if (strncmp(c, fatal_prog, plen) == 0 && strncmp(c + plen, ": ", 2) == 0)
				c += plen + 2;
			buf_append_str(&b, c);
		}
	}
	snprintf(out, size, "%s", buf_cstr(&b));
	buf_free(&b);
}

static enum spf_verdict
verdict_of(SPF_response_t *resp)
{
	switch (SPF_response_result(resp)) {
	case SPF_RESULT_PASS:
		return SPF_VERDICT_PASS;
	case SPF_RESULT_FAIL:
		return SPF_VERDICT_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return SPF_VERDICT_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return SPF_VERDICT_NEUTRAL;
	case SPF_RESULT_NONE:
		return SPF_VERDICT_NONE;
	case SPF_RESULT_TEMPERROR:
		return SPF_VERDICT_TEMPERROR;
	case SPF_RESULT_PERMERROR:
		return SPF_VERDICT_PERMERROR;
	default:
		/* "invalid": libspf2's way of reporting a DNS failure. */
		return SPF_response_errcode(resp) == SPF_E_DNS_ERROR ? SPF_VERDICT_TEMPERROR
								     : SPF_VERDICT_PERMERROR;
	}
}

int
spfeval_record(struct spfeval *e, const char *domain, const char *record, const char *ip,
	       struct spf_outcome *out)
{
	memset(out, 0, sizeof *out);
	SPF_request_t *req = SPF_request_new(e->server);
	if (req == NULL)
		fatal(fatal_prog, EXIT_TEMP, "out of memory");
	SPF_errcode_t err = strchr(ip, ':') ? SPF_request_set_ipv6_str(req, ip)
					    : SPF_request_set_ipv4_str(req, ip);
	if (err != SPF_E_SUCCESS) {
		SPF_request_free(req);
		return -1;
	}
	SPF_request_set_env_from(req, domain);
	req->cur_dom = req->env_from_dp;
	SPF_response_t *resp = SPF_response_new(req);
	if (resp == NULL)
		fatal(fatal_prog, EXIT_TEMP, "out of memory");
	SPF_record_t *rec = NULL;
	err = SPF_record_compile(e->server, resp, &rec, record);
	if (err != SPF_E_SUCCESS) {
		out->verdict = SPF_VERDICT_PERMERROR;
		response_detail(resp, out->detail, sizeof out->detail);
		if (out->detail[0] == '\0')
			snprintf(out->detail, sizeof out->detail, "%s", SPF_strerror(err));
	} else {
		resp->spf_record_exp = rec;
		err = SPF_record_interpret(rec, req, resp, 0);
		out->verdict = verdict_of(resp);
		if (err == SPF_E_DNS_ERROR)
			out->verdict = SPF_VERDICT_TEMPERROR;
		response_detail(resp, out->detail, sizeof out->detail);
		if (out->detail[0] == '\0' && err != SPF_E_SUCCESS)
			snprintf(out->detail, sizeof out->detail, "%s", SPF_strerror(err));
	}
	if (rec != NULL)
		SPF_record_free(rec);
	SPF_response_free(resp);
	SPF_request_free(req);
	return 0;
}
