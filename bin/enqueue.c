/*
 * NAME
 *	mailshot-enqueue - render a campaign into the spool
 * SUMMARY
 *	mailshot-enqueue [--spool DIR] --campaign ID --template FILE
 *		--recipients FILE|- [--from ADDR] [--reply-to ADDR] [--type TYPE]
 *		[--expires TIME|DURATION] [--test-to ADDR,...] [--dry-run] [--strict]
 * DESCRIPTION
 *	Turns a message template and a CSV recipient list into one
 *	personalized message per recipient, committed crash-safely into the
 *	spool's new/ in batches (docs/spool.md).  Suppressed, duplicate and
 *	invalid recipients are skipped, counted and logged.
 *
 *	Two passes over the list: the first checks everything that can make
 *	the campaign fail (CSV syntax, columns, placeholders, header
 *	injection, with --strict invalid addresses) before a single message
 *	is queued, so bad input exits 100 with nothing queued; the second
 *	renders and commits.  The list is streamed in both.
 *
 *	Exit: 0 done; 100 bad input, nothing queued; 111 temporary trouble
 *	(disk full, I/O, campaign locked): what was committed stays, and
 *	running the same command again completes the campaign without
 *	queuing anybody twice.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "die.h"
#include "control.h"
#include "csv.h"
#include "dkim.h"
#include "smime.h"
#include "input.h"
#include "ledger.h"
#include "log.h"
#include "priv.h"
#include "progress.h"
#include "spool.h"
#include "suppress.h"
#include "template.h"
#include "token.h"
#include "when.h"

#define TEMPLATE_MAX (16 * 1024 * 1024)

static const char prog[] = "mailshot-enqueue";

static const struct control_setting settings[] = {
	{"compress", 1, "0", 0, 9, "zlib level for message bodies in the spool, 0 = store plain"},
	{"foldlocal", 1, "1", 0, 1,
	 "1: local parts compare case-insensitively (duplicates, suppression)"},
	{"bounceaddress", 0, "", 0, 0,
	 "bounce mailbox: envelope senders become VERP addresses on it (docs/bounce.md)"},
	{"recipientdelimiter", 0, "+", 0, 0, "separates the bounce mailbox from the VERP token"},
	{"unsubscribe", 0, "", 0, 0,
	 "https URL of mailshot-unsubscribe: List-Unsubscribe (RFC 2369, RFC 8058) on every message"},
	{"feedbackid", 0, "", 0, 0,
	 "sender id for Feedback-ID: CAMPAIGN:TYPE:ID (mailbox providers' feedback loops)"},
	{NULL, 0, NULL, 0, 0, NULL},
};
enum {
	SET_COMPRESS,
	SET_FOLDLOCAL,
	SET_BOUNCEADDRESS,
	SET_DELIM,
	SET_UNSUBSCRIBE,
	SET_FEEDBACKID,
	SET_COUNT
};

/* The virtual merge field holding the recipient's one-click URL. */
#define UNSUB_FIELD "unsubscribe_url"

struct options {
	const char *spool, *campaign, *template_path, *recipients, *from, *reply_to, *type,
		*expires, *test_to, *notify;
	int dry_run, strict, dump_config, quiet;
	const char *keygen_domain, *keygen_selector; /* --dkim-keygen */
	const char *smime_cert, *smime_key, *smime_chain;
	int keygen_ed25519;
};

struct queued {
	char *rcpt;
	size_t index;
	unsigned long line;
};

struct counts {
	unsigned long rows, queued, suppressed, duplicates, invalid, already;
};

struct run {
	struct options opt;
	const char *root;
	time_t now, expires;
	struct control_value control[SET_COUNT + 1];
	struct tmpl *tmpl;
	struct input *input;
	struct csv_reader *csv; /* the list being read (here so a fatal exit
				 * leaves it reachable, not leaked) */
	char **columns;
	size_t ncolumns, email_col, name_col; /* name_col == ncolumns: none */
	char **test_addrs;
	size_t ntest;
	struct suppress_db *suppress;
	struct ledger ledger;
	int have_ledger;
	struct log_writer log;
	int have_log;
	struct spool_batch batch;
	unsigned long batch_seq;
	struct queued *queued; /* log records of the batch being built */
	size_t nqueued;
	struct counts n;
	uint64_t rnd;
	struct progress progress;
	struct buf secret; /* control/secret, when VERP is on */
	char verp[ADDR_MAX + 1];
	/* List-Unsubscribe: the template's columns with UNSUB_FIELD added
	 * when the list lacks it, and the row's values with its value */
	char **tcolumns;
	size_t tncolumns, unsub_col; /* unsub_col == tncolumns: none */
	char **tvalues;
	size_t *tlens;
	struct buf unsub_url, unsub_headers;
	/* DKIM: the signers of every domain in control/dkim/, loaded (and so
	 * checked) before anything is queued */
	struct dkim_signer **signers;
	char **signer_domains;
	size_t nsigners;
	struct buf signature;
	struct smime_signer *smime; /* --smime-cert: every message signed */
};

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: %s [--spool DIR] --campaign ID --template FILE --recipients FILE|-\n"
		"          [--from ADDR] [--reply-to ADDR] [--type TYPE] [--expires TIME|DURATION]\n"
		"          [--test-to ADDR,...] [--notify ADDR] [--dry-run] [--strict] [--quiet]\n"
		"          [--smime-cert PEM --smime-key PEM [--smime-chain PEM]]\n"
		"       %s [--spool DIR] --dump-config\n"
		"       %s [--spool DIR] --dkim-keygen DOMAIN SELECTOR [--ed25519]\n"
		"Renders one message per recipient of the CSV list into the spool.\n"
		"Exit: 0 done, 100 bad input (nothing queued), 111 temporary error (run again).\n"
		"See mailshot-enqueue(1).\n",
		prog, prog, prog);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"spool", required_argument, NULL, 's'},
		{"campaign", required_argument, NULL, 'c'},
		{"template", required_argument, NULL, 't'},
		{"recipients", required_argument, NULL, 'r'},
		{"from", required_argument, NULL, 'f'},
		{"reply-to", required_argument, NULL, 'R'},
		{"type", required_argument, NULL, 'T'},
		{"expires", required_argument, NULL, 'e'},
		{"test-to", required_argument, NULL, 'x'},
		{"notify", required_argument, NULL, 'N'},
		{"dkim-keygen", required_argument, NULL, 'K'},
		{"smime-cert", required_argument, NULL, 'C'},
		{"smime-key", required_argument, NULL, 'k'},
		{"smime-chain", required_argument, NULL, 'H'},
		{"ed25519", no_argument, NULL, 'E'},
		{"dry-run", no_argument, NULL, 'n'},
		{"strict", no_argument, NULL, 'S'},
		{"quiet", no_argument, NULL, 'q'},
		{"dump-config", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	memset(o, 0, sizeof *o);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->spool = optarg; break;
		case 'c': o->campaign = optarg; break;
		case 't': o->template_path = optarg; break;
		case 'r': o->recipients = optarg; break;
		case 'f': o->from = optarg; break;
		case 'R': o->reply_to = optarg; break;
		case 'T': o->type = optarg; break;
		case 'N': o->notify = optarg; break;
		case 'e': o->expires = optarg; break;
		case 'x': o->test_to = optarg; break;
		case 'n': o->dry_run = 1; break;
		case 'S': o->strict = 1; break;
		case 'q': o->quiet = 1; break;
		case 'D': o->dump_config = 1; break;
		case 'K': o->keygen_domain = optarg; break;
		case 'C': o->smime_cert = optarg; break;
		case 'k': o->smime_key = optarg; break;
		case 'H': o->smime_chain = optarg; break;
		case 'E': o->keygen_ed25519 = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(EXIT_PERM);
		}
	}
	if (o->keygen_domain != NULL) {
		/* --dkim-keygen DOMAIN SELECTOR [--ed25519] */
		if (optind + 1 != argc) {
			fprintf(stderr, "%s: --dkim-keygen DOMAIN SELECTOR [--ed25519]\n", prog);
			exit(EXIT_PERM);
		}
		o->keygen_selector = argv[optind++];
		return;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument: %s\n", prog, argv[optind]);
		usage(stderr);
		exit(EXIT_PERM);
	}
	if (o->dump_config)
		return;
	if (o->campaign == NULL || o->template_path == NULL || o->recipients == NULL) {
		usage(stderr);
		die(EXIT_PERM, "--campaign, --template and --recipients are required");
	}
	if (!spool_valid_id(o->campaign))
		die(EXIT_PERM, "--campaign \"%s\": use 1 to 64 of A-Z a-z 0-9 . _ - (not starting with .)",
		    o->campaign);
	if (o->type != NULL && !spool_valid_id(o->type))
		die(EXIT_PERM, "--type \"%s\": use 1 to 64 of A-Z a-z 0-9 . _ -", o->type);
}

static void
check_mailbox_option(const char *opt, const char *value)
{
	struct buf name = BUF_INIT, address = BUF_INIT;
	const char *why;
	if (addr_split_mailbox(value, strlen(value), &name, &address, &why) == -1)
		die(EXIT_PERM, "%s \"%s\": %s", opt, value, why);
	if (addr_check(buf_cstr(&address), address.len, ADDR_ALLOW_NODOT, &why, NULL) == -1)
		die(EXIT_PERM, "%s \"%s\": invalid address: %s", opt, value, why);
	buf_free(&name);
	buf_free(&address);
}

/* Checks a recipient address.  Internationalized addresses (RFC 6531)
 * are refused for now: they need SMTPUTF8 end to end, which the spool
 * format and remote do not carry yet. */
static int
check_recipient(const char *s, size_t len, const char **why)
{
	int utf8 = 0;
	if (addr_check(s, len, 0, why, &utf8) == -1)
		return -1;
	if (utf8) {
		*why = "internationalized (UTF-8) addresses are not supported yet";
		return -1;
	}
	return 0;
}

static void
parse_test_to(struct run *r)
{
	char *copy = xstrdup(r->opt.test_to), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t n = strlen(tok);
		while (n && tok[n - 1] == ' ')
			tok[--n] = '\0';
		const char *why;
		if (check_recipient(tok, n, &why) == -1)
			die(EXIT_PERM, "--test-to \"%s\": invalid address: %s", tok, why);
		r->test_addrs = xrealloc(r->test_addrs, (r->ntest + 1) * sizeof *r->test_addrs);
		r->test_addrs[r->ntest++] = xstrdup(tok);
	}
	free(copy);
	if (r->ntest == 0)
		die(EXIT_PERM, "--test-to: no address given");
}

/* The email value of a row, without surrounding spaces. */
static void
row_email(const struct csv_record *rec, size_t col, const char **s, size_t *len)
{
	const char *p = rec->fields[col];
	size_t n = rec->lens[col];
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*s = p;
	*len = n;
}

static void
fill_args(struct run *r, const struct csv_record *rec, struct tmpl_args *a)
{
	memset(a, 0, sizeof *a);
	a->values = rec->fields;
	a->lens = rec->lens;
	if (r->unsub_col < r->tncolumns && r->unsub_col == r->ncolumns) {
		/* the virtual column: the row's values and the URL after them */
		memcpy(r->tvalues, rec->fields, r->ncolumns * sizeof *r->tvalues);
		memcpy(r->tlens, rec->lens, r->ncolumns * sizeof *r->tlens);
		r->tvalues[r->ncolumns] = (char *)buf_cstr(&r->unsub_url);
		r->tlens[r->ncolumns] = r->unsub_url.len;
		a->values = r->tvalues;
		a->lens = r->tlens;
	}
	a->to_name = r->name_col < r->ncolumns ? rec->fields[r->name_col] : NULL;
	a->from = r->opt.from;
	a->reply_to = r->opt.reply_to;
}

/* Reads the header row, checks the columns, compiles the template. */
static struct csv_reader *
open_list(struct run *r, int first_pass, struct buf *err)
{
	if (!first_pass && input_rewind(r->input, err) == -1)
		die(EXIT_TEMP, "%s", err->data);
	struct csv_reader *csv = r->csv = csv_open(input_read, r->input, r->opt.recipients, 1);
	struct csv_record rec;
	enum csv_status st = csv_next(csv, &rec);
	if (st == CSV_IO)
		die(EXIT_TEMP, "%s", csv_error(csv));
	if (st == CSV_BAD)
		die(EXIT_PERM, "%s", csv_error(csv));
	if (st == CSV_EOF)
		die(EXIT_PERM, "%s: empty recipient list (a header row with an email column is needed)",
		    r->opt.recipients);
	if (!first_pass) {
		csv_set_field_names(csv, r->columns, r->ncolumns);
		return csv;
	}
	r->ncolumns = rec.nfields;
	r->columns = xcalloc(rec.nfields, sizeof *r->columns);
	r->email_col = r->name_col = rec.nfields;
	for (size_t i = 0; i < rec.nfields; i++) {
		const char *c = rec.fields[i];
		size_t n = rec.lens[i];
		while (n && (*c == ' ' || *c == '\t'))
			c++, n--;
		while (n && (c[n - 1] == ' ' || c[n - 1] == '\t'))
			n--;
		r->columns[i] = xstrndup(c, n);
	}
	for (size_t i = 0; i < r->ncolumns; i++) {
		if (r->columns[i][0] == '\0')
			die(EXIT_PERM, "%s:%lu: field %zu: empty column name", r->opt.recipients,
			    rec.line, i + 1);
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(r->columns[i], r->columns[j]) == 0)
				die(EXIT_PERM, "%s:%lu: field %zu: column \"%s\" appears twice",
				    r->opt.recipients, rec.line, i + 1, r->columns[i]);
		if (strcasecmp(r->columns[i], "email") == 0)
			r->email_col = i;
		if (strcasecmp(r->columns[i], "name") == 0)
			r->name_col = i;
	}
	if (r->email_col == r->ncolumns)
		die(EXIT_PERM, "%s:%lu: no \"email\" column in the header row", r->opt.recipients,
		    rec.line);
	csv_set_field_names(csv, r->columns, r->ncolumns);

	struct buf text = BUF_INIT;
	int permanent;
	if (input_read_file(r->opt.template_path, TEMPLATE_MAX, &text, err, &permanent) == -1)
		die(permanent ? EXIT_PERM : EXIT_TEMP, "%s", err->data);
	/* {{unsubscribe_url}}: a column of the list's own, or ours */
	r->tcolumns = xcalloc(r->ncolumns + 1, sizeof *r->tcolumns);
	memcpy(r->tcolumns, r->columns, r->ncolumns * sizeof *r->tcolumns);
	r->tncolumns = r->ncolumns;
	r->unsub_col = r->ncolumns + 1;
	if (*r->control[SET_UNSUBSCRIBE].text) {
		r->unsub_col = r->ncolumns;
		for (size_t i = 0; i < r->ncolumns; i++)
			if (strcasecmp(r->columns[i], UNSUB_FIELD) == 0)
				r->unsub_col = i;
		if (r->unsub_col == r->ncolumns) {
			r->tcolumns[r->ncolumns] = (char *)UNSUB_FIELD;
			r->tncolumns = r->ncolumns + 1;
			r->tvalues = xcalloc(r->tncolumns, sizeof *r->tvalues);
			r->tlens = xcalloc(r->tncolumns, sizeof *r->tlens);
		}
	}
	r->tmpl = tmpl_compile(text.data, text.len, r->opt.template_path, r->tcolumns,
			       r->tncolumns, err);
	buf_free(&text);
	if (r->tmpl == NULL)
		die(EXIT_PERM, "%s", err->data);
	if (r->opt.from == NULL && !tmpl_has_from(r->tmpl))
		die(EXIT_PERM, "%s: no From: header; give one or use --from",
		    r->opt.template_path);
	return csv;
}

/* Pass 1: everything that could fail the campaign, before queuing. */
static void
check_list(struct run *r)
{
	struct buf err = BUF_INIT;
	struct csv_reader *csv = open_list(r, 1, &err);
	struct csv_record rec;
	enum csv_status st;
	while ((st = csv_next(csv, &rec)) == CSV_RECORD) {
		r->n.rows++;
		struct tmpl_args a;
		fill_args(r, &rec, &a);
		const char *email;
		size_t elen;
		row_email(&rec, r->email_col, &email, &elen);
		if (memchr(email, '\r', elen) || memchr(email, '\n', elen))
			die(EXIT_PERM,
			    "%s:%lu: field %zu (%s) contains a line break and is used in the To: "
			    "header (header injection refused)",
			    r->opt.recipients, rec.line, r->email_col + 1, r->columns[r->email_col]);
		if (r->opt.strict) {
			const char *why;
			if (check_recipient(email, elen, &why) == -1)
				die(EXIT_PERM, "%s:%lu: field %zu (%s): invalid address \"%.*s\": %s",
				    r->opt.recipients, rec.line, r->email_col + 1,
				    r->columns[r->email_col], (int)elen, email, why);
		}
		buf_reset(&err);
		if (tmpl_check_row(r->tmpl, &a, &err) == -1)
			die(EXIT_PERM, "%s:%lu: %s", r->opt.recipients, rec.line, err.data);
	}
	if (st == CSV_IO)
		die(EXIT_TEMP, "%s", csv_error(csv));
	if (st == CSV_BAD)
		die(EXIT_PERM, "%s", csv_error(csv));
	csv_close(csv);
	r->csv = NULL;
	buf_free(&err);
}

static uint64_t
next_random(struct run *r)
{
	uint64_t z = (r->rnd += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The left side of a Message-ID: time, 64 random bits, the campaign. */
static void
message_id_local(struct run *r, char *out, size_t size)
{
	struct tm tm;
	gmtime_r(&r->now, &tm);
	snprintf(out, size, "%04d%02d%02d%02d%02d%02d.%016llx.%s", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned long long)next_random(r), r->opt.campaign);
}

/* Writes, commits and publishes the batch being built. */
static void
commit_batch(struct run *r, int test)
{
	struct buf err = BUF_INIT;
	char name[SPOOL_NAME_MAX];
	if (r->batch.count == 0)
		return;
	if (spool_batch_write_tmp(r->root, &r->batch, r->batch_seq++, name, &err) == -1)
		goto fail;
	if (!test && ledger_commit(&r->ledger, name, &err) == -1)
		goto fail;
	if (spool_batch_publish(r->root, name, &err) == -1 ||
	    spool_sync_dir(r->root, "new", &err) == -1)
		goto fail;
	r->n.queued += r->batch.count;
	spool_trigger(r->root);
	/* The queued lines name the batch, known only now. */
	for (size_t i = 0; i < r->nqueued; i++) {
		char index[32], line[32];
		snprintf(index, sizeof index, "%zu", r->queued[i].index);
		snprintf(line, sizeof line, "%lu", r->queued[i].line);
		log_event(&r->log, "queued", "campaign", r->opt.campaign, "batch", name, "index",
			  index, "rcpt", r->queued[i].rcpt, "line", line, "test", test ? "1" : NULL,
			  NULL);
		free(r->queued[i].rcpt);
	}
	r->nqueued = 0;
	if (log_flush(&r->log, &err) == -1)
		goto fail;
	spool_batch_clear(&r->batch);
	buf_free(&err);
	return;
fail:
	progress_end(&r->progress);
	fprintf(stderr, "%s: fatal: %s\n", prog, err.data);
	fprintf(stderr,
		"%s: campaign %s: %lu queued before the failure; run the same command again "
		"to queue the rest\n",
		prog, r->opt.campaign, r->n.queued);
	fflush(NULL);
	_exit(EXIT_TEMP);
}

/*
 * The envelope sender of one message: with control/bounceaddress, a VERP
 * address naming the recipient's key at ledger offset off (0 for a test
 * send, which the ledger does not record; docs/bounce.md); else the
 * From address.
 */
static const char *
envelope_sender(struct run *r, const char *key, unsigned long long off, const char *from)
{
	if (r->secret.len == 0 || *r->control[SET_BOUNCEADDRESS].text == '\0')
		return from;
	char token[TOKEN_TEXT_MAX];
	token_make('v', r->secret.data, r->secret.len, r->opt.campaign, off, 0, 0, off ? key : "",
		   token);
	if (token_address(r->control[SET_BOUNCEADDRESS].text, r->control[SET_DELIM].text[0], token,
			  r->verp, sizeof r->verp) == -1)
		die(EXIT_PERM, "%s/control/bounceaddress: too long for a VERP address", r->root);
	return r->verp;
}

/*
 * The recipient's one-click URL and List-Unsubscribe headers (RFC 2369,
 * RFC 8058), for the key at ledger offset off (0 for a test send: the
 * link then names nobody), into r->unsub_url and r->unsub_headers.
 */
static void
make_unsubscribe(struct run *r, const char *key, unsigned long long off)
{
	const char *base = r->control[SET_UNSUBSCRIBE].text;
	const char *fid = r->control[SET_FEEDBACKID].text;
	buf_reset(&r->unsub_url);
	buf_reset(&r->unsub_headers);
	if (*fid != '\0')
		buf_printf(&r->unsub_headers, "Feedback-ID: %s:%s:%s\r\n", r->opt.campaign,
			   r->opt.type ? r->opt.type : "none", fid);
	if (*base == '\0')
		return;
	char token[TOKEN_TEXT_MAX];
	token_make('u', r->secret.data, r->secret.len, r->opt.campaign, off, r->opt.type != NULL,
		   (unsigned)(r->now / 86400), off ? key : "", token);
	buf_printf(&r->unsub_url, "%s%ct=%s", base, strchr(base, '?') ? '&' : '?', token);
	buf_append_str(&r->unsub_headers, "List-Unsubscribe: ");
	if (*r->control[SET_BOUNCEADDRESS].text) {
		char mailto[ADDR_MAX + 1];
		if (token_address(r->control[SET_BOUNCEADDRESS].text, r->control[SET_DELIM].text[0],
				  token, mailto, sizeof mailto) == -1)
			die(EXIT_PERM, "%s/control/bounceaddress: too long for a token address",
			    r->root);
		buf_printf(&r->unsub_headers, "<mailto:%s?subject=unsubscribe>,\r\n ", mailto);
	}
	buf_printf(&r->unsub_headers, "<%s>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
		   r->unsub_url.data);
}

/* Loads every domain's keys under control/dkim/: a bad key, a key
 * readable by others or a bad selector stops the campaign before
 * anything is queued (exit 100). */
static void
load_dkim(struct run *r)
{
	struct buf dir = BUF_INIT, err = BUF_INIT;
	buf_printf(&dir, "%s/control/dkim", r->root);
	DIR *d = opendir(dir.data);
	if (d == NULL) {
		if (errno != ENOENT)
			die(EXIT_TEMP, "unable to read %s: %s", dir.data, strerror(errno));
		buf_free(&dir);
		return;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		if (!dkim_domain_valid(e->d_name, strlen(e->d_name)))
			die(EXIT_PERM, "%s/%s: not a domain name", dir.data, e->d_name);
		struct dkim_signer *s = dkim_signer_load(r->root, e->d_name, &err);
		if (s == NULL)
			die(EXIT_PERM, "%s", err.data);
		r->signers = xrealloc(r->signers, (r->nsigners + 1) * sizeof *r->signers);
		r->signer_domains =
			xrealloc(r->signer_domains, (r->nsigners + 1) * sizeof *r->signer_domains);
		r->signers[r->nsigners] = s;
		r->signer_domains[r->nsigners++] = xstrdup(e->d_name);
	}
	closedir(d);
	buf_free(&dir);
	buf_free(&err);
}

/*
 * Signs a finished message with the keys of its From domain, if there
 * are any: DKIM-Signature fields at the top.  The last change to a
 * message; sched and remote never alter it.  A message that cannot be
 * signed is never queued unsigned.
 */
static void
sign_message(struct run *r, const char *from_addr, struct buf *msg)
{
	const char *at = strrchr(from_addr, '@');
	if (r->nsigners == 0 || at == NULL)
		return;
	struct dkim_signer *s = NULL;
	for (size_t i = 0; i < r->nsigners && s == NULL; i++)
		if (strcasecmp(r->signer_domains[i], at + 1) == 0)
			s = r->signers[i];
	if (s == NULL || dkim_signer_count(s) == 0)
		return;
	struct buf err = BUF_INIT;
	buf_reset(&r->signature);
	if (dkim_sign(s, msg->data, msg->len, r->now, &r->signature, &err) == -1) {
		progress_end(&r->progress);
		die(EXIT_PERM, "DKIM signing for %s failed: %s", at + 1, err.data);
	}
	struct buf out = BUF_INIT;
	buf_reserve(&out, r->signature.len + msg->len);
	buf_append(&out, r->signature.data, r->signature.len);
	buf_append(&out, msg->data, msg->len);
	buf_free(msg);
	*msg = out;
	buf_free(&err);
}

static int
cmd_keygen(struct run *r)
{
	struct buf txt = BUF_INIT, path = BUF_INIT, err = BUF_INIT;
	const char *dom = r->opt.keygen_domain, *sel = r->opt.keygen_selector;
	if (!dkim_domain_valid(dom, strlen(dom)))
		die(EXIT_PERM, "--dkim-keygen \"%s\": not a domain name", dom);
	if (!dkim_selector_valid(sel, strlen(sel)))
		die(EXIT_PERM, "--dkim-keygen: selector \"%s\": use 1 to 63 of a-z 0-9 - .", sel);
	if (dkim_keygen_selector(r->root, dom, sel, r->opt.keygen_ed25519, &txt, &path, &err) ==
	    -1)
		die(EXIT_PERM, "%s", err.data);
	fprintf(stderr, "%s: private key written to %s (mode 0600)\n", prog, buf_cstr(&path));
	/* a TXT string holds at most 255 octets: an RSA record is split
	 * into several, which resolvers join */
	printf("%s._domainkey.%s. IN TXT", sel, dom);
	const char *t = buf_cstr(&txt);
	for (size_t off = 0, n = strlen(t); off < n; off += 255)
		printf(" \"%.*s\"", (int)(n - off < 255 ? n - off : 255), t + off);
	putchar('\n');
	buf_free(&txt);
	buf_free(&path);
	buf_free(&err);
	return 0;
}

/* S/MIME: the message becomes multipart/signed (before DKIM, which then
 * signs the result). */
static void
smime_message(struct run *r, struct buf *msg)
{
	if (r->smime == NULL)
		return;
	struct buf out = BUF_INIT, err = BUF_INIT;
	if (smime_sign(r->smime, msg->data, msg->len, next_random(r), &out, &err) == -1) {
		progress_end(&r->progress);
		die(EXIT_PERM, "%s", err.data);
	}
	buf_free(msg);
	*msg = out;
	buf_free(&err);
}

/* Puts the List-Unsubscribe headers at the top of a rendered message. */
static void
add_unsubscribe_headers(struct run *r, struct buf *msg)
{
	if (r->unsub_headers.len == 0)
		return;
	struct buf out = BUF_INIT;
	buf_reserve(&out, r->unsub_headers.len + msg->len);
	buf_append(&out, r->unsub_headers.data, r->unsub_headers.len);
	buf_append(&out, msg->data, msg->len);
	buf_free(msg);
	*msg = out;
}

static unsigned long long
next_key_offset(struct run *r)
{
	unsigned long long off = 0;
	if (r->secret.len > 0 && !r->opt.dry_run &&
	    ledger_next_offset(&r->ledger, &off) == -1)
		die(EXIT_TEMP, "unable to measure %s: %s", r->ledger.path.data, strerror(errno));
	return off;
}

/* Checks control/bounceaddress, recipientdelimiter and secret. */
static void
load_verp(struct run *r)
{
	const char *ba = r->control[SET_BOUNCEADDRESS].text, *d = r->control[SET_DELIM].text;
	const char *u = r->control[SET_UNSUBSCRIBE].text;
	const char *why;
	if (*u != '\0') {
		/* RFC 8058: an https URI; no blanks, quotes or angle brackets
		 * that would break the header */
		if (strncmp(u, "https://", 8) != 0 || strlen(u) < 9 || strlen(u) > 500 ||
		    strpbrk(u, " \t\"<>#") != NULL)
			die(EXIT_PERM,
			    "%s/control/unsubscribe: \"%s\": an https:// URL of at most 500 "
			    "characters without blanks, quotes, <, > or #",
			    r->root, u);
	}
	const char *fid = r->control[SET_FEEDBACKID].text;
	if (strlen(fid) > 64 || strspn(fid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					    "0123456789._-") != strlen(fid))
		die(EXIT_PERM, "%s/control/feedbackid: \"%s\": use at most 64 of A-Z a-z 0-9 . _ -",
		    r->root, fid);
	if (*ba == '\0' && *u == '\0')
		return;
	if (*ba == '\0')
		goto secret;
	if (addr_check(ba, strlen(ba), 0, &why, NULL) == -1)
		die(EXIT_PERM, "%s/control/bounceaddress: \"%s\": %s", r->root, ba, why);
	if (strlen(d) != 1 || strchr("+-=_.", d[0]) == NULL || strchr(ba, d[0]) != NULL)
		die(EXIT_PERM,
		    "%s/control/recipientdelimiter: \"%s\": use one of + - = _ . not in the bounce "
		    "address",
		    r->root, d);
secret:;
	struct buf err = BUF_INIT;
	int rc = control_read_secret(r->root, TOKEN_SECRET_MIN, &r->secret, &err);
	if (rc == 0)
		die(EXIT_PERM,
		    "%s/control/secret: missing (bounceaddress and unsubscribe need it; "
		    "mailshot-bounce --secret-gen makes one)",
		    r->root);
	if (rc < 0)
		die(rc == -2 ? EXIT_PERM : EXIT_TEMP, "%s", err.data);
	buf_free(&err);
}

static void
add_message(struct run *r, const char *rcpt, unsigned long line, const char *data, size_t len,
	    const char *sender, const char *message_id, int test)
{
	struct spool_message m = {rcpt, sender, line, message_id, test, data, len};
	size_t index = spool_batch_add(&r->batch, &m);
	if ((r->nqueued & 63) == 0)
		r->queued = xrealloc(r->queued, (r->nqueued + 64) * sizeof *r->queued);
	r->queued[r->nqueued++] = (struct queued){xstrdup(rcpt), index, line};
	if (spool_batch_full(&r->batch))
		commit_batch(r, test);
}

static void
print_dry_run(const char *rcpt, const char *sender, unsigned long line, const struct buf *msg)
{
	printf("### mailshot-enqueue --dry-run: line %lu, envelope from <%s> to <%s>\n", line,
	       sender, rcpt);
	/* Shown with LF line ends; the spool would hold CRLF. */
	for (size_t i = 0; i < msg->len; i++)
		if (!(msg->data[i] == '\r' && i + 1 < msg->len && msg->data[i + 1] == '\n'))
			putchar(msg->data[i]);
	putchar('\n');
}

/* Renders one message; exits 100 on a render error (pass 1 should have
 * caught it; this is the belt to its braces). */
static void
render(struct run *r, const struct csv_record *rec, const char *to, const char *subject_prefix,
       struct buf *msg, struct tmpl_result *res)
{
	struct buf err = BUF_INIT;
	struct tmpl_args a;
	char local[128];
	fill_args(r, rec, &a);
	a.to_addr = to;
	a.subject_prefix = subject_prefix;
	a.date = r->now;
	a.random = next_random(r);
	message_id_local(r, local, sizeof local);
	a.message_id_local = local;
	buf_reset(msg);
	if (tmpl_render(r->tmpl, &a, msg, res, &err) == -1) {
		progress_end(&r->progress);
		die(EXIT_PERM, "%s:%lu: %s", r->opt.recipients, rec->line, err.data);
	}
	buf_free(&err);
}

static void
send_tests(struct run *r)
{
	struct buf err = BUF_INIT, msg = BUF_INIT;
	struct tmpl_result res = {BUF_INIT, BUF_INIT};
	struct csv_reader *csv = open_list(r, 0, &err);
	struct csv_record rec;
	size_t sent = 0;
	/* Test i gets row i's data, so testers see real personalization. */
	while (sent < r->ntest && csv_next(csv, &rec) == CSV_RECORD) {
		const char *email;
		size_t elen;
		const char *why;
		row_email(&rec, r->email_col, &email, &elen);
		if (check_recipient(email, elen, &why) == -1)
			continue;
		const char *to = r->test_addrs[sent];
		make_unsubscribe(r, "", 0);
		render(r, &rec, to, "[TEST] ", &msg, &res);
		add_unsubscribe_headers(r, &msg);
		smime_message(r, &msg);
		sign_message(r, res.from_addr.data, &msg);
		const char *sender = envelope_sender(r, "", 0, res.from_addr.data);
		if (r->opt.dry_run)
			print_dry_run(to, sender, rec.line, &msg);
		else
			add_message(r, to, rec.line, msg.data, msg.len, sender, res.message_id.data, 1);
		sent++;
	}
	if (sent < r->ntest)
		fprintf(stderr, "%s: warning: only %zu valid rows for %zu test addresses\n", prog,
			sent, r->ntest);
	if (!r->opt.dry_run)
		commit_batch(r, 1);
	csv_close(csv);
	r->csv = NULL;
	buf_free(&err);
	buf_free(&msg);
	buf_free(&res.from_addr);
	buf_free(&res.message_id);
}

static void
queue_all(struct run *r)
{
	struct buf err = BUF_INIT, msg = BUF_INIT, key = BUF_INIT, addr = BUF_INIT;
	struct tmpl_result res = {BUF_INIT, BUF_INIT};
	struct csv_reader *csv = open_list(r, 0, &err);
	struct csv_record rec;
	enum csv_status st;
	int fold = (int)r->control[SET_FOLDLOCAL].number;
	char linebuf[32];
	while ((st = csv_next(csv, &rec)) == CSV_RECORD) {
		const char *email, *why;
		size_t elen;
		row_email(&rec, r->email_col, &email, &elen);
		buf_reset(&addr);
		buf_append(&addr, email, elen);
		snprintf(linebuf, sizeof linebuf, "%lu", rec.line);
		progress_step(&r->progress);
		if (check_recipient(email, elen, &why) == -1) {
			r->n.invalid++;
			progress_clear(&r->progress);
			fprintf(stderr, "%s: %s:%lu: skipped invalid address \"%s\": %s\n", prog,
				r->opt.recipients, rec.line, buf_cstr(&addr), why);
			if (!r->opt.dry_run)
				log_event(&r->log, "invalid", "campaign", r->opt.campaign, "rcpt",
					  buf_cstr(&addr), "line", linebuf, "why", why, NULL);
			continue;
		}
		buf_reset(&key);
		addr_normalize(email, elen, fold, &key);
		uint32_t first = 0;
		if (!keyset_insert(&r->ledger.keys, keyset_hash(key.data, key.len),
				   (uint32_t)rec.line, &first)) {
			char firstbuf[32];
			snprintf(firstbuf, sizeof firstbuf, "%lu", (unsigned long)first);
			if (first == 0)
				r->n.already++;
			else
				r->n.duplicates++;
			if (!r->opt.dry_run && first != 0)
				log_event(&r->log, "duplicate", "campaign", r->opt.campaign, "rcpt",
					  addr.data, "line", linebuf, "first", firstbuf, NULL);
			continue;
		}
		struct suppress_entry e;
		int s = r->suppress ? suppress_check(r->suppress, addr.data, r->opt.type, &e) : 0;
		if (s == -1) {
			progress_end(&r->progress);
			die(EXIT_TEMP, "unable to read the suppression list");
		}
		if (s == 1) {
			r->n.suppressed++;
			if (!r->opt.dry_run)
				log_event(&r->log, "suppressed", "campaign", r->opt.campaign, "rcpt",
					  addr.data, "line", linebuf, "reason", e.reason, "scope",
					  e.scope, NULL);
			continue;
		}
		unsigned long long off = next_key_offset(r);
		make_unsubscribe(r, buf_cstr(&key), off);
		render(r, &rec, addr.data, NULL, &msg, &res);
		add_unsubscribe_headers(r, &msg);
		smime_message(r, &msg);
		sign_message(r, res.from_addr.data, &msg);
		const char *sender = envelope_sender(r, buf_cstr(&key), off, res.from_addr.data);
		if (r->opt.dry_run) {
			print_dry_run(addr.data, sender, rec.line, &msg);
			r->n.queued++;
			continue;
		}
		ledger_add_pending(&r->ledger, key.data, key.len);
		add_message(r, addr.data, rec.line, msg.data, msg.len, sender, res.message_id.data, 0);
	}
	if (st != CSV_EOF) {
		/* The list changed between the passes, or the disk failed. */
		progress_end(&r->progress);
		die(st == CSV_IO ? EXIT_TEMP : EXIT_PERM, "%s", csv_error(csv));
	}
	if (!r->opt.dry_run)
		commit_batch(r, 0);
	csv_close(csv);
	r->csv = NULL;
	buf_free(&err);
	buf_free(&msg);
	buf_free(&res.from_addr);
	buf_free(&res.message_id);
	buf_free(&key);
	buf_free(&addr);
}

/* Writes campaigns/C/NAME (one line), crash-safely. */
static void
campaign_file(struct run *r, const char *name, const char *value)
{
	struct buf tmp = BUF_INIT, final = BUF_INIT, data = BUF_INIT, err = BUF_INIT;
	buf_printf(&tmp, "%s/campaigns/%s/.%s", r->root, r->opt.campaign, name);
	buf_printf(&final, "%s/campaigns/%s/%s", r->root, r->opt.campaign, name);
	buf_printf(&data, "%s\n", value);
	if (spool_publish_file(tmp.data, final.data, data.data, data.len, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	buf_free(&tmp);
	buf_free(&final);
	buf_free(&data);
	buf_free(&err);
}

static void
open_spool(struct run *r)
{
	struct buf err = BUF_INIT;
	if (spool_make_dir(r->root, "tmp", 0700, &err) == -1 ||
	    spool_make_dir(r->root, "new", 0700, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	if (suppress_open(r->root, 0, &r->suppress, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	if (r->suppress != NULL)
		suppress_set_fold_local(r->suppress, (int)r->control[SET_FOLDLOCAL].number);
	if (log_open(&r->log, r->root, "enqueue", &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	r->have_log = 1;
	int rc = ledger_open(&r->ledger, r->root, r->opt.campaign, &err);
	if (rc < 0)
		die(rc == -2 ? EXIT_PERM : EXIT_TEMP, "%s", err.data);
	r->have_ledger = 1;
	unsigned forward, back;
	if (ledger_recover(&r->ledger, r->root, r->opt.campaign, &forward, &back, &err) == -1)
		die(EXIT_TEMP, "%s", err.data);
	/* What mailshot-bounce needs to know of the campaign: its type (the
	 * scope of an unsubscribe) and who gets the failure digest. */
	if (r->opt.type != NULL)
		campaign_file(r, "type", r->opt.type);
	if (r->opt.notify != NULL)
		campaign_file(r, "notify", r->opt.notify);
	if (forward || back)
		fprintf(stderr,
			"%s: campaign %s: recovered from an interrupted run: %u batches "
			"completed, %u discarded\n",
			prog, r->opt.campaign, forward, back);
	buf_free(&err);
}

static void
cleanup(struct run *r)
{
	if (r->have_log)
		log_close(&r->log);
	if (r->have_ledger)
		ledger_close(&r->ledger);
	suppress_close(r->suppress);
	spool_batch_free(&r->batch);
	for (size_t i = 0; i < r->nqueued; i++)
		free(r->queued[i].rcpt);
	free(r->queued);
	tmpl_free(r->tmpl);
	input_close(r->input);
	for (size_t i = 0; i < r->ncolumns; i++)
		free(r->columns[i]);
	free(r->columns);
	for (size_t i = 0; i < r->ntest; i++)
		free(r->test_addrs[i]);
	free(r->test_addrs);
	control_free(settings, r->control);
	if (r->secret.data != NULL)
		explicit_bzero(r->secret.data, r->secret.len);
	buf_free(&r->secret);
	free(r->tcolumns);
	free(r->tvalues);
	free(r->tlens);
	buf_free(&r->unsub_url);
	buf_free(&r->unsub_headers);
	for (size_t i = 0; i < r->nsigners; i++) {
		dkim_signer_free(r->signers[i]);
		free(r->signer_domains[i]);
	}
	free(r->signers);
	free(r->signer_domains);
	smime_free(r->smime);
	buf_free(&r->signature);
}

int
main(int argc, char **argv)
{
	static struct run r; /* static: zeroed, and cleanup can see it */
	struct buf err = BUF_INIT;
	parse_args(argc, argv, &r.opt);
	r.root = spool_root(r.opt.spool);
	r.now = time(NULL);
	if (control_load(r.root, settings, r.control, &err) == -1)
		die(EXIT_PERM, "%s", err.data);
	if (r.opt.dump_config) {
		control_dump(stdout, settings, r.control);
		control_free(settings, r.control);
		return 0;
	}
	if (r.opt.keygen_domain != NULL) {
		int rc = cmd_keygen(&r);
		control_free(settings, r.control);
		return rc;
	}
	if (!r.opt.dry_run) {
		/* a sender outside the group mailshot, or a spool with wrong
		 * modes: said with the owners and modes, before anything is
		 * read or written */
		static const char who[] = "senders are members of it";
		static const struct priv_area areas[] = {
			{ "", X_OK, "0755", who },
			{ "tmp", W_OK | X_OK, "2770", who },
			{ "new", W_OK | X_OK, "2770", who },
			{ "campaigns", W_OK | X_OK, "2770", who },
			{ "log/enqueue", W_OK | X_OK, "2770", who },
			{ "log/enqueue/current", W_OK, "0660", who },
			{ NULL, 0, NULL, NULL },
		};
		if (priv_check_access(r.root, areas, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
	}
	if (getrandom(&r.rnd, sizeof r.rnd, 0) != sizeof r.rnd)
		r.rnd = (uint64_t)r.now ^ ((uint64_t)getpid() << 32);
	load_verp(&r);
	load_dkim(&r);
	if (r.opt.smime_cert != NULL || r.opt.smime_key != NULL || r.opt.smime_chain != NULL) {
		if (r.opt.smime_cert == NULL || r.opt.smime_key == NULL)
			die(EXIT_PERM, "--smime-cert and --smime-key go together");
		r.smime = smime_load(r.opt.smime_cert, r.opt.smime_key, r.opt.smime_chain, &err);
		if (r.smime == NULL)
			die(EXIT_PERM, "%s", err.data);
	}
	if (r.opt.from != NULL)
		check_mailbox_option("--from", r.opt.from);
	if (r.opt.reply_to != NULL)
		check_mailbox_option("--reply-to", r.opt.reply_to);
	if (r.opt.notify != NULL) {
		const char *why;
		if (addr_check(r.opt.notify, strlen(r.opt.notify), ADDR_ALLOW_NODOT, &why, NULL) == -1)
			die(EXIT_PERM, "--notify \"%s\": invalid address: %s", r.opt.notify, why);
	}
	if (r.opt.expires != NULL) {
		const char *why;
		if (when_parse(r.opt.expires, r.now, &r.expires, &why) == -1)
			die(EXIT_PERM, "--expires \"%s\": %s", r.opt.expires, why);
		if (r.expires <= r.now)
			die(EXIT_PERM, "--expires \"%s\": that time has passed", r.opt.expires);
	}
	if (r.opt.test_to != NULL)
		parse_test_to(&r);
	signal(SIGPIPE, SIG_IGN);

	int permanent;
	r.input = input_open(r.opt.recipients, &err, &permanent);
	if (r.input == NULL)
		die(permanent ? EXIT_PERM : EXIT_TEMP, "%s", err.data);
	check_list(&r);

	if (!r.opt.dry_run)
		open_spool(&r);
	struct spool_batch_info info = {r.opt.campaign, r.opt.type, r.now, r.expires};
	spool_batch_init(&r.batch, &info, (int)r.control[SET_COMPRESS].number);
	if (r.ntest > 0) {
		send_tests(&r);
	} else {
		if (r.opt.dry_run && suppress_open(r.root, 0, &r.suppress, &err) == -1)
			die(EXIT_TEMP, "%s", err.data);
		progress_start(&r.progress, r.n.rows, r.opt.quiet ? 0 : isatty(2));
		queue_all(&r);
		progress_end(&r.progress);
	}
	if (r.ntest > 0)
		fprintf(stderr, "%s: campaign %s: %lu test messages %s\n", prog, r.opt.campaign,
			r.opt.dry_run ? (unsigned long)r.ntest : r.n.queued,
			r.opt.dry_run ? "rendered" : "queued");
	else if (!r.opt.quiet || r.n.invalid || r.n.duplicates)
		fprintf(stderr,
			"%s: campaign %s: %lu %s, %lu suppressed, %lu duplicates, %lu invalid, "
			"%lu already queued\n",
			prog, r.opt.campaign, r.n.queued, r.opt.dry_run ? "rendered" : "queued",
			r.n.suppressed, r.n.duplicates, r.n.invalid, r.n.already);
	cleanup(&r);
	buf_free(&err);
	return 0;
}
