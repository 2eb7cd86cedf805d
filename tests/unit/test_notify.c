/*
 * Unit tests for lib/notify.c (the owner's failure digest) and lib/verp.c
 * (resolving inbound tokens): the digest read back by our own DSN parser
 * (lib/dsn.c), hostile diagnostics (8-bit, CR/LF, 10 KB), more than
 * NOTIFY_MAX_RCPTS failures; the pending store with duplicates and torn
 * lines; tokens resolved against real ledgers, forged, of a test send,
 * with two campaigns sharing a hash prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "dsn.h"
#include "ledger.h"
#include "notify.h"
#include "verp.h"

static char root[] = "/tmp/test_notify.XXXXXX";

static void
test_format(void)
{
	char big[10001];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	struct notify_entry e[] = {
		{"bad1@x.test", "failed", "hard", "user-unknown", "5.1.1", "550", "mx.x.test",
		 "<bad1@x.test>: no such user", 1763896948},
		{"full@x.test", "expired", "soft", "expired", "", "", "",
		 "mailbox full\r\nBcc: evil@x.test \xff\xfe", 1763896949},
		{"long@x.test", "failed", "soft", "other", "5.0.0", "554", "mx", big, 1763896950},
	};
	struct notify_info info = {"spring", "owner@example.org", "MAILER-DAEMON@b.test", "host",
				   "<1.notice@b.test>", 1763897000};
	struct buf out = BUF_INIT;
	notify_format(&out, &info, e, 3);
	/* 7-bit, CRLF only, no line over 998 */
	size_t linelen = 0, maxline = 0;
	int bare_lf = 0, eight = 0;
	for (size_t i = 0; i < out.len; i++) {
		unsigned char c = (unsigned char)out.data[i];
		if (c >= 0x80)
			eight = 1;
		if (c == '\n') {
			if (i == 0 || out.data[i - 1] != '\r')
				bare_lf = 1;
			if (linelen > maxline)
				maxline = linelen;
			linelen = 0;
		} else {
			linelen++;
		}
	}
	CHECK(!eight);
	CHECK(!bare_lf);
	CHECK(maxline <= 998);
	CHECK(strstr(buf_cstr(&out), "Auto-Submitted: auto-generated\r\n") != NULL);
	CHECK(strstr(out.data, "\r\nBcc: evil") == NULL); /* no header injection */
	/* our own parser reads it as a DSN with the three recipients */
	struct dsn_report r;
	dsn_init(&r);
	CHECK_INT_EQ(dsn_parse(&r, out.data, out.len), 0);
	CHECK_INT_EQ(r.kind, DSN_BOUNCE);
	CHECK_INT_EQ(r.nrcpts, 3);
	if (r.nrcpts == 3) {
		CHECK_STR_EQ(buf_cstr(&r.rcpts[0].rcpt), "bad1@x.test");
		CHECK_STR_EQ(r.rcpts[0].status, "5.1.1");
		CHECK_INT_EQ(r.rcpts[0].cls.severity, BS_HARD);
		CHECK_STR_EQ(r.rcpts[1].status, "4.4.7");
		CHECK_STR_EQ(r.rcpts[1].action, "failed");
	}
	dsn_free(&r);
	/* more than NOTIFY_MAX_RCPTS: listed up to the cap, the rest counted */
	size_t n = NOTIFY_MAX_RCPTS + 5;
	struct notify_entry *many = calloc(n, sizeof *many);
	char (*addrs)[32] = calloc(n, 32);
	for (size_t i = 0; i < n; i++) {
		snprintf(addrs[i], 32, "u%zu@x.test", i);
		many[i] = (struct notify_entry){addrs[i], "failed", "hard", "user-unknown", "5.1.1",
						"550", "mx", "gone", 1};
	}
	buf_reset(&out);
	notify_format(&out, &info, many, n);
	CHECK(strstr(buf_cstr(&out), "... and 5 more") != NULL);
	CHECK(strstr(out.data, "u1004@x.test") == NULL);
	CHECK(strstr(out.data, "u999@x.test") != NULL);
	free(many);
	free(addrs);
	buf_free(&out);
}

static void
test_pending(void)
{
	struct buf lines = BUF_INIT, err = BUF_INIT, owner = BUF_INIT;
	struct notify_entry a = {"a@x.test", "failed", "hard", "user-unknown", "5.1.1", "550", "mx",
				 "no\tsuch user\n%", 10};
	struct notify_entry b = {"b@x.test", "expired", "soft", "expired", "", "", "", "", 11};
	struct notify_entry a2 = {"a@x.test", "failed", "hard", "user-unknown", "5.1.1", "550",
				  "mx", "second word", 12};
	notify_line(&lines, &a);
	notify_line(&lines, &b);
	CHECK_INT_EQ(notify_append(root, "camp", &lines, &err), 0);
	buf_reset(&lines);
	notify_line(&lines, &a2);
	buf_append_str(&lines, "garbage %zz line\n");
	buf_append_str(&lines, "b@x.test torn"); /* no LF: a torn last line */
	CHECK_INT_EQ(notify_append(root, "camp", &lines, &err), 0);
	struct notify_pending p;
	CHECK_INT_EQ(notify_read_pending(root, "camp", &p, &err), 0);
	CHECK_INT_EQ(p.n, 2);
	if (p.n == 2) {
		CHECK_STR_EQ(p.e[0].rcpt, "a@x.test");
		CHECK_STR_EQ(p.e[0].text, "second word"); /* the last line about a wins */
		CHECK(p.e[0].when == 12);
		CHECK_STR_EQ(p.e[1].status, "expired");
	}
	CHECK(notify_last_sent(root, "camp") == 0);
	char name[128];
	struct notify_info info = {"camp", "owner@x.test", "MAILER-DAEMON@x.test", "h", "<m@x>",
				   5000};
	CHECK_INT_EQ(notify_send(root, &info, &p, 1, name, &err), 0);
	CHECK(strncmp(name, "B.", 2) == 0);
	notify_pending_free(&p);
	CHECK(notify_last_sent(root, "camp") == 5000);
	/* the pending file is gone; reading it again gives nothing */
	CHECK_INT_EQ(notify_read_pending(root, "camp", &p, &err), 0);
	CHECK_INT_EQ(p.n, 0);
	notify_pending_free(&p);
	/* the batch is in new/ */
	char path[512];
	snprintf(path, sizeof path, "%s/new/%s", root, name);
	struct stat st;
	CHECK_INT_EQ(stat(path, &st), 0);
	/* owners: campaigns/C/notify, else the fallback, validated */
	CHECK_INT_EQ(notify_owner(root, "nocamp", "", &owner), 0);
	CHECK_INT_EQ(notify_owner(root, "nocamp", "not an address", &owner), 0);
	CHECK_INT_EQ(notify_owner(root, "nocamp", "o@x.test", &owner), 1);
	CHECK_STR_EQ(buf_cstr(&owner), "o@x.test");
	snprintf(path, sizeof path, "%s/campaigns", root);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/campaigns/c2", root);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/campaigns/c2/notify", root);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		fputs("boss@x.test\n", f);
		fclose(f);
	}
	CHECK_INT_EQ(notify_owner(root, "c2", "o@x.test", &owner), 1);
	CHECK_STR_EQ(buf_cstr(&owner), "boss@x.test");
	/* an unusable spool */
	buf_reset(&err);
	buf_reset(&lines);
	notify_line(&lines, &a);
	CHECK_INT_EQ(notify_append("/dev/null/x", "camp", &lines, &err), -1);
	CHECK(err.len > 0);
	buf_free(&lines);
	buf_free(&err);
	buf_free(&owner);
}

static const char secret[] = "0123456789abcdef0123456789abcdef-notify";
#define SL (sizeof secret - 1)

/* Makes campaign C's ledger with the keys; returns the offset of key i. */
static unsigned long long
make_ledger(const char *campaign, const char *const *keys, size_t n, size_t want)
{
	struct ledger l;
	struct buf err = BUF_INIT;
	unsigned long long off = 0, o;
	CHECK_INT_EQ(ledger_open(&l, root, campaign, &err), 0);
	for (size_t i = 0; i < n; i++) {
		CHECK_INT_EQ(ledger_next_offset(&l, &o), 0);
		if (i == want)
			off = o;
		ledger_add_pending(&l, keys[i], strlen(keys[i]));
	}
	CHECK_INT_EQ(ledger_commit(&l, "B.1.2.3", &err), 0);
	ledger_close(&l);
	buf_free(&err);
	return off;
}

static void
test_verp(void)
{
	const char *keys[] = {"jane@example.org", "bob@example.net", "amy@example.com"};
	unsigned long long off = make_ledger("spring", keys, 3, 1);
	char tok[TOKEN_TEXT_MAX], addr[300];
	token_make('v', secret, SL, "spring", off, 0, 0, "bob@example.net", tok);
	snprintf(addr, sizeof addr, "To: b+%s@bounces.test, other@x.test\n", tok);
	struct verp_match m = {0};
	struct buf bad = BUF_INIT;
	CHECK_INT_EQ(verp_find(root, secret, SL, '+', addr, strlen(addr), &m, &bad), 1);
	CHECK_STR_EQ(m.campaign, "spring");
	CHECK_STR_EQ(buf_cstr(&m.address), "bob@example.net");
	CHECK(m.kind == 'v');
	/* the ledger offset of another key does not verify the MAC */
	token_make('v', secret, SL, "spring", off, 0, 0, "jane@example.org", tok);
	snprintf(addr, sizeof addr, "<b+%s@bounces.test>", tok);
	CHECK_INT_EQ(verp_find(root, secret, SL, '+', addr, strlen(addr), &m, &bad), -1);
	CHECK(strstr(buf_cstr(&bad), tok) != NULL);
	/* an offset inside a line, past the end, or at the header */
	struct token t;
	token_make('v', secret, SL, "spring", off + 1, 0, 0, "ob@example.net", tok);
	CHECK_INT_EQ(token_decode(tok, strlen(tok), &t), 0);
	CHECK_INT_EQ(verp_resolve(root, secret, SL, &t, &m), 0);
	token_make('v', secret, SL, "spring", 1u << 30, 0, 0, "", tok);
	CHECK_INT_EQ(token_decode(tok, strlen(tok), &t), 0);
	CHECK_INT_EQ(verp_resolve(root, secret, SL, &t, &m), 0);
	token_make('v', secret, SL, "spring", 1, 0, 0, "ailshot-ledger 1", tok);
	CHECK_INT_EQ(token_decode(tok, strlen(tok), &t), 0);
	CHECK_INT_EQ(verp_resolve(root, secret, SL, &t, &m), 0);
	/* a test send's token (offset 0): the campaign, no address */
	token_make('v', secret, SL, "spring", 0, 0, 0, "", tok);
	CHECK_INT_EQ(token_decode(tok, strlen(tok), &t), 0);
	CHECK_INT_EQ(verp_resolve(root, secret, SL, &t, &m), 1);
	CHECK_STR_EQ(buf_cstr(&m.address), "");
	/* a campaign that does not exist here, another secret, no secret */
	token_make('v', secret, SL, "autumn", off, 0, 0, "bob@example.net", tok);
	CHECK_INT_EQ(token_decode(tok, strlen(tok), &t), 0);
	CHECK_INT_EQ(verp_resolve(root, secret, SL, &t, &m), 0);
	token_make('v', secret, SL, "spring", off, 0, 0, "bob@example.net", tok);
	CHECK_INT_EQ(token_decode(tok, strlen(tok), &t), 0);
	CHECK_INT_EQ(verp_resolve(root, "another secret, long enough, really", 35, &t, &m), 0);
	CHECK_INT_EQ(verp_resolve(root, "", 0, &t, &m), 0);
	/* unsubscribe tokens carry their scope */
	token_make('u', secret, SL, "spring", off, 1, 20000, "bob@example.net", tok);
	snprintf(addr, sizeof addr, "b-%s@bounces.test", tok);
	CHECK_INT_EQ(verp_find(root, secret, SL, '-', addr, strlen(addr), &m, &bad), 1);
	CHECK(m.kind == 'u' && m.scope == 1);
	/* text without tokens */
	const char *none[] = {"", "@", "a@b c@d", "b+@x", "\n\n<>,,;", "b+vshort@x"};
	for (size_t i = 0; i < sizeof none / sizeof *none; i++)
		CHECK_INT_EQ(verp_find(root, secret, SL, '+', none[i], strlen(none[i]), &m, &bad), 0);
	/* no campaigns directory at all */
	CHECK_INT_EQ(verp_resolve("/nonexistent-spool", secret, SL, &t, &m), 0);
	buf_free(&bad);
	buf_free(&m.address);
}

int
main(void)
{
	if (mkdtemp(root) == NULL)
		return 111;
	test_format();
	test_pending();
	test_verp();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	if (system(cmd) != 0)
		return 111;
	return check_report("test_notify");
}
