/*
 * test_report - the log line parser (lib/logread.c) with hostile input,
 * the reader over plain, gzipped, cut-off and overlong files, and the
 * figures of lib/report.c: joins, duplicates, hard/soft, latency,
 * windows, unknown events, the time series and the queue's state files.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "log.h"
#include "logread.h"
#include "report.h"

static int
parse(const char *text, struct logline *l, char *buf, const char **why)
{
	size_t n = strlen(text);
	memcpy(buf, text, n + 1);
	*why = NULL;
	return logline_parse(buf, n, l, why);
}

static void
test_parse(void)
{
	static char buf[70000];
	struct logline l;
	const char *why;
	CHECK_INT_EQ(parse("2026-11-23T11:02:28.123456Z enqueue event=queued campaign=c1 "
			   "rcpt=jane@example.org line=2",
			   &l, buf, &why),
		     0);
	CHECK_STR_EQ(l.prog, "enqueue");
	CHECK_STR_EQ(l.event, "queued");
	CHECK_INT_EQ(l.nfields, 4);
	CHECK_STR_EQ(logline_get(&l, "rcpt"), "jane@example.org");
	CHECK(logline_get(&l, "nope") == NULL);
	CHECK_INT_EQ(l.usec, 1795431748123456LL);

	/* quoted values and escapes, as log_value writes them */
	struct buf w = { 0 };
	buf_append_str(&w, "2026-11-23T11:02:28Z sched event=deferred text=");
	const char raw[] = "a \"b\" \\ c\x01\x7f\xc3\xa9\n";
	log_value(&w, raw, sizeof raw - 1);
	buf_append_str(&w, " tls=");
	log_value(&w, "", 0);
	CHECK_INT_EQ(parse(buf_cstr(&w), &l, buf, &why), 0);
	size_t vl;
	const char *v = logline_getn(&l, "text", &vl);
	CHECK(v && vl == sizeof raw - 1 && memcmp(v, raw, vl) == 0);
	CHECK_STR_EQ(logline_get(&l, "tls"), "");
	CHECK_INT_EQ(l.usec, 1795431748000000LL);
	/* a NUL inside a value survives, with its length */
	buf_reset(&w);
	buf_append_str(&w, "2026-11-23T11:02:28Z x k=");
	log_value(&w, "a\0b", 3);
	CHECK_INT_EQ(parse(buf_cstr(&w), &l, buf, &why), 0);
	v = logline_getn(&l, "k", &vl);
	CHECK(vl == 3 && v[0] == 'a' && v[1] == '\0' && v[2] == 'b');
	buf_free(&w);
	/* a line with no fields at all */
	CHECK_INT_EQ(parse("2026-11-23T11:02:28Z remote", &l, buf, &why), 0);
	CHECK_STR_EQ(l.event, "");

	/* hostile and damaged lines: refused, never a crash */
	static const char *const bad[] = {
		"",
		" ",
		"garbage",
		"2026-11-23T11:02:28.123456Z",
		"2026-11-23T11:02:28.123456Z ",
		"2026-13-23T11:02:28Z sched event=x",
		"2026-11-23T25:02:28Z sched event=x",
		"2026-11-23 11:02:28Z sched event=x",
		"2026-11-23T11:02:28.1234567890Z sched event=x",
		"2026-11-23T11:02:28.Z sched event=x",
		"2026-11-23T11:02:28 sched event=x",
		"2026-11-23T11:02:28Z sched event=",
		"2026-11-23T11:02:28Z sched event",
		"2026-11-23T11:02:28Z sched =x",
		"2026-11-23T11:02:28Z sched Event=x",
		"2026-11-23T11:02:28Z sched event=x ",
		"2026-11-23T11:02:28Z sched event=x  k=v",
		"2026-11-23T11:02:28Z sched text=\"abc",
		"2026-11-23T11:02:28Z sched text=\"abc\\",
		"2026-11-23T11:02:28Z sched text=\"a\\q\"",
		"2026-11-23T11:02:28Z sched text=\"a\\x4\"",
		"2026-11-23T11:02:28Z sched text=\"a\\xzz\"",
		"2026-11-23T11:02:28Z sched text=\"a\"b",
		"2026-11-23T11:02:28Z sched text=a\"b",
		"2026-11-23T11:02:28Z sched text=a\\b",
		"2026-11-23T11:02:28Z sched text=a\tb",
		"2026-11-23T11:02:28Z sched text=a\rb",
		"2026-11-23T11:02:28Z sch\"ed event=x",
		"2026-11-23T11:02:28Z a=b event=x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = parse(bad[i], &l, buf, &why);
		if (rc != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK_INT_EQ(rc, -1);
		CHECK(why != NULL);
	}
	/* too many fields */
	buf_reset(&w);
	buf_append_str(&w, "2026-11-23T11:02:28Z sched");
	for (int i = 0; i < LOGREAD_MAX_FIELDS + 1; i++)
		buf_append_str(&w, " k=v");
	CHECK_INT_EQ(parse(buf_cstr(&w), &l, buf, &why), -1);
	CHECK_STR_EQ(why, "too many fields");
	buf_free(&w);

	/* times */
	CHECK_INT_EQ(logread_parse_time("1970-01-01T00:00:00Z", 20), 0);
	CHECK_INT_EQ(logread_parse_time("2000-02-29T00:00:00.5Z", 22), 951782400500000LL);
	CHECK_INT_EQ(logread_parse_time("2026-11-23T11:02:28.000001Z", 27), 1795431748000001LL);
	CHECK_INT_EQ(logread_parse_time("2026-11-23T11:02:28.-00001Z", 27), -1);
	CHECK_INT_EQ(logread_parse_time("2026-11-23T11:02:2", 18), -1);
}

static char dir[] = "/tmp/test_report.XXXXXX";

static void
write_file(const char *name, const char *data, size_t len, int gz)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (gz) {
		gzFile g = gzopen(path, "wb");
		CHECK(g != NULL);
		CHECK_INT_EQ(gzwrite(g, data, (unsigned)len), (long long)len);
		gzclose(g);
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_INT_EQ(write(fd, data, len), (long long)len);
	close(fd);
}

static const char *
path_of(const char *name)
{
	static char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void
test_reader(void)
{
	const char a[] = "2026-11-23T11:00:00Z enqueue event=queued campaign=c rcpt=a@x line=2\n"
			 "not a log line\n"
			 "\n"
			 "2026-11-23T11:00:01Z enqueue event=queued campaign=c rcpt=b@x line=3\n";
	write_file("a.log", a, sizeof a - 1, 0);
	write_file("b.log.gz", a, sizeof a - 1, 1);
	/* a cut-off last line, and an overlong line */
	struct buf big = { 0 };
	buf_append_str(&big, "2026-11-23T11:00:02Z sched event=x text=");
	for (int i = 0; i < LOGREAD_LINE_MAX; i++)
		buf_append_char(&big, 'a');
	buf_append_str(&big, "\n2026-11-23T11:00:03Z enqueue event=queued campaign=c rcpt=c@x\n"
			     "2026-11-23T11:00:04Z enqueue event=queued campa");
	write_file("c.log", big.data, big.len, 0);
	buf_free(&big);

	struct logreader *r = logreader_new();
	struct buf err = { 0 };
	CHECK_INT_EQ(logreader_add_file(r, path_of("a.log"), &err), 0);
	CHECK_INT_EQ(logreader_add_file(r, path_of("b.log.gz"), &err), 0);
	CHECK_INT_EQ(logreader_add_file(r, path_of("c.log"), &err), 0);
	CHECK_INT_EQ(logreader_add_file(r, path_of("missing"), &err), -1);
	CHECK(strstr(buf_cstr(&err), "missing") != NULL);
	struct logline l;
	int n = 0, got;
	const char *want[] = { "a@x", "b@x", "a@x", "b@x", "c@x" };
	while ((got = logreader_next(r, &l, &err)) == 1) {
		if (n < 5)
			CHECK_STR_EQ(logline_get(&l, "rcpt"), want[n]);
		n++;
	}
	CHECK_INT_EQ(got, 0);
	CHECK_INT_EQ(n, 5);
	struct logreader_stats st;
	logreader_stats(r, &st);
	CHECK_INT_EQ(st.files, 3);
	CHECK_INT_EQ(st.malformed, 2 + 2 + 1); /* junk, empty x2, overlong */
	CHECK_INT_EQ(st.truncated, 1);
	logreader_free(r);

	/* a damaged gzip file: an error naming it, what came before counts */
	char gzbad[4096];
	{
		struct buf many = { 0 };
		for (int i = 0; i < 2000; i++)
			buf_printf(&many, "2026-11-23T11:00:00Z enqueue event=queued campaign=c rcpt=u%d@x\n", i);
		write_file("d.gz", many.data, many.len, 1);
		buf_free(&many);
		int fd = open(path_of("d.gz"), O_RDWR);
		ssize_t k = read(fd, gzbad, sizeof gzbad);
		CHECK(k > 200);
		for (ssize_t i = 100; i < k - 20; i += 7)
			gzbad[i] ^= 0x5a;
		lseek(fd, 0, SEEK_SET);
		CHECK_INT_EQ(write(fd, gzbad, (size_t)k), (long long)k);
		close(fd);
	}
	r = logreader_new();
	buf_reset(&err);
	logreader_add_file(r, path_of("d.gz"), &err);
	while ((got = logreader_next(r, &l, &err)) == 1)
		;
	CHECK_INT_EQ(got, -1);
	CHECK(strstr(buf_cstr(&err), "d.gz") != NULL);
	logreader_free(r);

	/* the spool: current last, rotated ones by age, other files ignored */
	char sub[256];
	snprintf(sub, sizeof sub, "%s/spool", dir);
	mkdir(sub, 0755);
	snprintf(sub, sizeof sub, "%s/spool/log", dir);
	mkdir(sub, 0755);
	write_file("spool/log/current", "2026-11-23T11:00:09Z enqueue event=queued campaign=c rcpt=z@x\n", 62, 0);
	write_file("spool/log/@400000006920000000000000.s",
		   "2026-11-23T11:00:05Z enqueue event=queued campaign=c rcpt=y@x\n", 62, 0);
	write_file("spool/log/current.1.gz",
		   "2026-11-23T11:00:06Z enqueue event=queued campaign=c rcpt=w@x\n", 62, 1);
	write_file("spool/log/lock", "x", 1, 0);
	write_file("spool/log/state", "junk\n", 5, 0);
	r = logreader_new();
	buf_reset(&err);
	snprintf(sub, sizeof sub, "%s/spool", dir);
	CHECK_INT_EQ(logreader_add_spool(r, sub, &err), 0);
	n = 0;
	const char *last = NULL;
	static char lastbuf[64];
	while ((got = logreader_next(r, &l, &err)) == 1) {
		n++;
		snprintf(lastbuf, sizeof lastbuf, "%s", logline_get(&l, "rcpt"));
		last = lastbuf;
	}
	CHECK_INT_EQ(n, 3);
	CHECK_STR_EQ(last, "z@x");
	logreader_stats(r, &st);
	CHECK_INT_EQ(st.malformed, 0);
	logreader_free(r);
	/* no log directory: an empty log */
	r = logreader_new();
	CHECK_INT_EQ(logreader_add_spool(r, "/nonexistent-spool", &err), 0);
	CHECK_INT_EQ(logreader_next(r, &l, &err), 0);
	logreader_free(r);
	buf_free(&err);
}

/* ---- following a growing log (watch) ---- */

/* rename within dir (path_of's buffer is one) */
static int
rename_in(const char *from, const char *to)
{
	char a[256], b[256];
	snprintf(a, sizeof a, "%s/%s", dir, from);
	snprintf(b, sizeof b, "%s/%s", dir, to);
	return rename(a, b);
}

static void
append(const char *name, const char *text)
{
	int fd = open(path_of(name), O_WRONLY | O_CREAT | O_APPEND, 0644);
	CHECK(fd >= 0);
	CHECK_INT_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
}

/* One pass over the spool fspool/: the rcpt= values read, comma-separated,
 * and what logreader_resume said (-1 on the first pass). */
static const char *
follow_pass(struct logreader *r, int first, int *resumed)
{
	static char seen[512];
	struct buf err = { 0 };
	struct logline l;
	int got;
	if (!first)
		logreader_rescan(r);
	CHECK_INT_EQ(logreader_add_spool(r, path_of("fspool"), &err), 0);
	*resumed = first ? -1 : logreader_resume(r);
	seen[0] = '\0';
	while ((got = logreader_next(r, &l, &err)) == 1) {
		const char *v = logline_get(&l, "rcpt");
		size_t n = strlen(seen);
		snprintf(seen + n, sizeof seen - n, "%s%s", n ? "," : "", v ? v : "?");
	}
	CHECK_INT_EQ(got, 0);
	buf_free(&err);
	return seen;
}

#define LINE(who) "2026-11-23T11:00:00Z enqueue event=queued campaign=c rcpt=" who "\n"

static void
test_follow(void)
{
	mkdir(path_of("fspool"), 0755);
	mkdir(path_of("fspool/log"), 0755);
	append("fspool/log/current", LINE("a") LINE("b") "2026-11-23T11:00:00Z enqueue ev");
	struct logreader *r = logreader_new();
	logreader_follow(r);
	int res;
	struct logreader_stats st;
	/* a line still being written is left for the next pass */
	CHECK_STR_EQ(follow_pass(r, 1, &res), "a,b");
	logreader_stats(r, &st);
	CHECK_INT_EQ(st.truncated, 0);
	CHECK_STR_EQ(follow_pass(r, 0, &res), "");
	CHECK_INT_EQ(res, 1);
	append("fspool/log/current", "ent=queued campaign=c rcpt=c\n" LINE("d"));
	CHECK_STR_EQ(follow_pass(r, 0, &res), "c,d");
	CHECK_INT_EQ(res, 1);
	/* svlogd's rotation: current renamed (same inode), a new current */
	append("fspool/log/current", LINE("e"));
	CHECK_INT_EQ(rename_in("fspool/log/current", "fspool/log/@400000006920000000000000.s"), 0);
	append("fspool/log/current", LINE("f"));
	CHECK_STR_EQ(follow_pass(r, 0, &res), "e,f");
	CHECK_INT_EQ(res, 1);
	/* the rotated copy is removed: nothing to re-read */
	unlink(path_of("fspool/log/@400000006920000000000000.s"));
	append("fspool/log/current", LINE("g"));
	CHECK_STR_EQ(follow_pass(r, 0, &res), "g");
	CHECK_INT_EQ(res, 1);
	/* logrotate with compress: a new compressed copy of what was read,
	 * under another inode: everything again, from the start */
	write_file("fspool/log/current.1.gz", LINE("f") LINE("g"), 2 * sizeof LINE("f") - 2, 1);
	unlink(path_of("fspool/log/current"));
	append("fspool/log/current", LINE("h"));
	CHECK_STR_EQ(follow_pass(r, 0, &res), "f,g,h");
	CHECK_INT_EQ(res, 0);
	/* the compressed copy, unchanged, is not read again */
	append("fspool/log/current", LINE("i"));
	CHECK_STR_EQ(follow_pass(r, 0, &res), "i");
	CHECK_INT_EQ(res, 1);
	CHECK_STR_EQ(follow_pass(r, 0, &res), "");
	CHECK_INT_EQ(res, 1);
	/* copytruncate: current shorter than what was read of it */
	write_file("fspool/log/current", LINE("j"), sizeof LINE("j") - 1, 0);
	CHECK_STR_EQ(follow_pass(r, 0, &res), "f,g,j");
	CHECK_INT_EQ(res, 0);
	/* malformed lines are counted once, and again after a restart */
	append("fspool/log/current", "junk\n" LINE("k"));
	CHECK_STR_EQ(follow_pass(r, 0, &res), "k");
	logreader_stats(r, &st);
	CHECK_INT_EQ(st.malformed, 1);
	CHECK_STR_EQ(follow_pass(r, 0, &res), "");
	logreader_stats(r, &st);
	CHECK_INT_EQ(st.malformed, 1);
	/* a file that vanished between the listing and the reading */
	logreader_rescan(r);
	struct buf err = { 0 };
	CHECK_INT_EQ(logreader_add_spool(r, path_of("fspool"), &err), 0);
	CHECK_INT_EQ(logreader_resume(r), 1);
	CHECK_INT_EQ(rename_in("fspool/log/current", "fspool/log/current.2"), 0);
	struct logline l;
	CHECK_INT_EQ(logreader_next(r, &l, &err), 0);
	/* ... found under its new name: nothing read twice */
	append("fspool/log/current.2", LINE("l"));
	CHECK_STR_EQ(follow_pass(r, 0, &res), "l");
	CHECK_INT_EQ(res, 1);
	buf_free(&err);
	logreader_free(r);

	/* report_tally between passes: the live figures, report_add after */
	struct report *rep = report_new(NULL);
	char line[200];
	const char *add[] = {
		"2026-11-23T11:00:00Z enqueue event=queued campaign=c rcpt=a@x",
		"2026-11-23T11:00:00Z enqueue event=queued campaign=c rcpt=b@x",
		"2026-11-23T11:00:01Z sched event=delivered campaign=c rcpt=a@x",
		"2026-11-23T11:00:02Z sched event=deferred campaign=c rcpt=b@x code=451",
		"2026-11-23T11:00:03Z sched event=delivered campaign=c rcpt=b@x",
		"2026-11-23T11:00:03Z sched event=delivered campaign=c rcpt=b@x",
	};
	for (size_t i = 0; i < 4; i++) {
		struct logline ll;
		const char *why;
		CHECK_INT_EQ(parse(add[i], &ll, line, &why), 0);
		report_add(rep, &ll);
	}
	report_tally(rep);
	CHECK_INT_EQ(report_campaign_count(rep), 1);
	struct report_campaign *c = report_campaign_at(rep, 0);
	CHECK_INT_EQ(c->queued, 2);
	CHECK_INT_EQ(c->delivered, 1);
	CHECK_INT_EQ(c->pending, 1);
	CHECK_INT_EQ(c->deferrals, 1);
	report_tally(rep);
	CHECK_INT_EQ(c->delivered, 1);
	for (size_t i = 4; i < 6; i++) {
		struct logline ll;
		const char *why;
		CHECK_INT_EQ(parse(add[i], &ll, line, &why), 0);
		report_add(rep, &ll);
	}
	report_tally(rep);
	CHECK_INT_EQ(c->queued, 2);
	CHECK_INT_EQ(c->delivered, 2);
	CHECK_INT_EQ(c->pending, 0);
	report_free(rep);
}

/* feeds text (lines) into a fresh report */
static struct report *
feed(const char *text, const struct report_opts *o)
{
	struct report *r = report_new(o);
	char *copy = strdup(text);
	char *save, *line;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct logline l;
		const char *why;
		if (logline_parse(line, strlen(line), &l, &why) == 0)
			report_add(r, &l);
		else
			fprintf(stderr, "test line does not parse (%s): %s\n", why, line);
	}
	free(copy);
	return r;
}

#define Q(t, c, b, i, r) t " enqueue event=queued campaign=" c " batch=" b " index=" i " rcpt=" r " line=2\n"
#define S(t, ev, c, b, i, r, extra)                                                                \
	t " sched event=" ev " campaign=" c " batch=" b " index=" i " rcpt=" r                     \
	  " dest=x.test mx=mx.x.test addr=127.0.0.1 attempt=1 " extra "\n"

static void
test_figures(void)
{
	/* batch B.1795431600 = 2026-11-23T11:00:00Z */
	const char log[] =
		Q("2026-11-23T11:00:00Z", "c1", "B.1795431600.1.0", "0", "a@x.test")
		Q("2026-11-23T11:00:00Z", "c1", "B.1795431600.1.0", "1", "B@X.test")
		Q("2026-11-23T11:00:00Z", "c1", "B.1795431600.1.0", "2", "c@y.test")
		Q("2026-11-23T11:00:00Z", "c1", "B.1795431600.1.0", "3", "d@y.test")
		Q("2026-11-23T11:00:00Z", "c1", "B.1795431600.1.0", "4", "e@y.test")
		Q("2026-11-23T11:00:00Z", "c1", "B.1795431600.1.0", "5", "f@y.test")
		"2026-11-23T11:00:00Z enqueue event=queued campaign=c1 batch=B.1795431600.1.1 index=0 rcpt=t@x.test line=0 test=1\n"
		"2026-11-23T11:00:00Z enqueue event=suppressed campaign=c1 rcpt=s@x.test line=8 reason=hard-bounce scope=*\n"
		"2026-11-23T11:00:00Z enqueue event=invalid campaign=c1 rcpt=\"x@@\" line=9 why=\"more than one @\"\n"
		"2026-11-23T11:00:00Z enqueue event=invalid campaign=c1 rcpt=\"x@@\" line=9 why=\"more than one @\"\n"
		"2026-11-23T11:00:00Z enqueue event=duplicate campaign=c1 rcpt=a@x.test line=10 first=2\n"
		S("2026-11-23T11:00:10Z", "delivered", "c1", "B.1795431600.1.0", "0", "a@x.test", "code=250 enhanced=2.0.0 tls=TLSv1.3 ms=5 text=ok")
		/* written twice after a crash */
		S("2026-11-23T11:00:10Z", "delivered", "c1", "B.1795431600.1.0", "0", "a@x.test", "code=250 enhanced=2.0.0 tls=TLSv1.3 ms=5 text=ok")
		S("2026-11-23T11:00:20Z", "deferred", "c1", "B.1795431600.1.0", "1", "b@x.test", "code=421 enhanced=4.7.0 tls=\"\" ms=5 next=2026-11-23T11:05:00Z throttle=1 text=\"slow down\"")
		S("2026-11-23T11:10:00Z", "delivered", "c1", "B.1795431600.1.0", "1", "b@x.test", "code=250 enhanced=2.0.0 tls=\"\" ms=5 text=ok")
		S("2026-11-23T11:00:05Z", "bounced", "c1", "B.1795431600.1.0", "2", "c@y.test", "code=550 enhanced=5.1.1 tls=\"\" ms=5 text=\"no such user\"")
		S("2026-11-23T11:00:05Z", "bounced", "c1", "B.1795431600.1.0", "3", "d@y.test", "code=554 enhanced=5.7.1 tls=\"\" ms=5 text=\"blocked\"")
		S("2026-11-23T11:00:05Z", "bounced", "c1", "B.1795431600.1.0", "4", "e@y.test", "code=550 enhanced=5.1.1 tls=\"\" ms=5 text=\"unknown\"")
		"2026-11-23T11:00:06Z bounce event=classified campaign=c1 rcpt=c@y.test status=failed class=hard reason=user-unknown action=suppressed code=550 enhanced=5.1.1 text=\"no such user\"\n"
		"2026-11-23T11:00:06Z bounce event=classified campaign=c1 rcpt=d@y.test status=failed class=soft reason=policy-block action=none code=554 enhanced=5.7.1 text=blocked\n"
		/* e@y.test: bounce has not run yet; its code looks hard */
		/* a@x.test bounces later by mail, and complains */
		"2026-11-23T12:00:00Z bounce event=classified campaign=c1 rcpt=A@x.test status=inbound class=hard reason=user-unknown action=suppressed code=\"\" enhanced=5.1.1 text=\"gone\"\n"
		"2026-11-23T12:00:00Z bounce event=complaint campaign=c1 rcpt=a@x.test feedback=abuse action=suppressed\n"
		"2026-11-23T12:00:00Z bounce event=unsubscribed campaign=c1 rcpt=b@x.test scope=* via=https action=suppressed\n"
		"2026-11-23T12:00:00Z bounce event=unsubscribed campaign=c1 rcpt=b@x.test scope=* via=mailto action=suppressed\n"
		/* f@y.test: still pending; an event from a newer version; another program */
		"2026-11-23T12:00:00Z sched event=teleported campaign=c1 rcpt=f@y.test\n"
		"2026-11-23T12:00:00Z remote warning=x\n"
		"2026-11-23T12:00:00Z enqueue event=queued campaign=c2 batch=B.1795431600.2.0 index=0 rcpt=z@z.test line=2\n"
		"2026-11-23T12:01:00Z sched event=expired campaign=c2 batch=B.1795431600.2.0 index=0 rcpt=z@z.test dest=z.test mx=\"\" addr=\"\" attempt=3 code=\"\" enhanced=4.4.1 tls=\"\" ms=0 text=\"no answer\"\n";
	struct report *r = feed(log, NULL);
	CHECK_INT_EQ(report_unknown_events(r), 1);
	report_finish(r);
	CHECK_INT_EQ(report_campaign_count(r), 2);
	struct report_campaign *c = report_campaign_at(r, 0);
	CHECK_STR_EQ(c->name, "c1");
	CHECK_INT_EQ(c->recipients, 8);
	CHECK_INT_EQ(c->queued, 6);
	CHECK_INT_EQ(c->tests, 1);
	CHECK_INT_EQ(c->suppressed, 1);
	CHECK_INT_EQ(c->invalid, 1);
	CHECK_INT_EQ(c->duplicates, 1); /* a row of the list */
	CHECK_INT_EQ(c->delivered, 1);	/* b; a bounced later */
	CHECK_INT_EQ(c->bounced, 4);	/* a (inbound), c, d, e */
	CHECK_INT_EQ(c->hard, 3);	/* a, c, e (5.1.1 unclassified) */
	CHECK_INT_EQ(c->soft, 1);	/* d: policy */
	CHECK_INT_EQ(c->pending, 1);	/* f */
	CHECK_INT_EQ(c->expired, 0);
	CHECK_INT_EQ(c->complaints, 1);
	CHECK_INT_EQ(c->unsubscribes, 1);
	CHECK_INT_EQ(c->deferrals, 1);
	CHECK_INT_EQ(c->deferred_rcpts, 1);
	/* latency: a after 10 s, b after 600 s (the duplicate counted once) */
	CHECK_INT_EQ(c->hist_n, 2);
	CHECK_INT_EQ(report_percentile(c, 0.5), 10);
	CHECK(report_percentile(c, 0.99) >= 580 && report_percentile(c, 0.99) <= 600);
	/* reasons: user-unknown 2 (c, a), policy-block 1, 5.1.1 (e) 1 */
	CHECK_INT_EQ(c->nreasons, 3);
	CHECK_STR_EQ(c->reasons[0].name, "user-unknown");
	CHECK_INT_EQ(c->reasons[0].count, 2);
	int found = 0;
	for (size_t i = 0; i < c->nreasons; i++)
		if (strcmp(c->reasons[i].name, "5.1.1") == 0) {
			found = 1;
			CHECK_INT_EQ(c->reasons[i].count, 1);
			CHECK_STR_EQ(c->reasons[i].sample, "no such user"); /* the first seen */
		}
	CHECK(found);
	/* domains: 3 lines each, so by name: x.test, y.test */
	struct report_domain **d;
	size_t nd = report_domains(r, 0, &d);
	CHECK_INT_EQ(nd, 2);
	CHECK_STR_EQ(d[1]->name, "y.test");
	CHECK_INT_EQ(d[1]->bounced, 3);
	CHECK(d[1]->last_error && strstr(d[1]->last_error, "550 5.1.1 unknown"));
	CHECK_STR_EQ(d[0]->name, "x.test");
	CHECK_INT_EQ(d[0]->delivered, 2);
	CHECK_INT_EQ(d[0]->deferred, 1);
	CHECK_INT_EQ(d[0]->tls, 1);
	CHECK_INT_EQ(d[0]->throttled, 1);
	CHECK(d[0]->last_error && strstr(d[0]->last_error, "421 4.7.0 slow down"));
	/* the series: delivered twice, deferred once, bounced three times */
	uint64_t sum[RS_COUNT] = { 0 };
	for (size_t b = 0; b < c->series.n; b++)
		for (int k = 0; k < RS_COUNT; k++)
			sum[k] += c->series.v[k][b];
	CHECK_INT_EQ(sum[RS_DELIVERED], 2);
	CHECK_INT_EQ(sum[RS_DEFERRED], 1);
	CHECK_INT_EQ(sum[RS_BOUNCED], 3);
	c = report_campaign_at(r, 1);
	CHECK_STR_EQ(c->name, "c2");
	CHECK_INT_EQ(c->expired, 1);
	CHECK_INT_EQ(c->pending, 0);
	report_free(r);

	/* a window: only lines from 11:05 on */
	struct report_opts o = { .since_usec = logread_parse_time("2026-11-23T11:05:00Z", 20) };
	r = feed(log, &o);
	report_finish(r);
	c = report_campaign_at(r, 0);
	CHECK_INT_EQ(c->queued, 0);
	CHECK_INT_EQ(c->delivered, 1); /* b, at 11:10 */
	CHECK_INT_EQ(c->bounced, 1);   /* a, by mail at 12:00 */
	CHECK_INT_EQ(c->deferrals, 0);
	report_free(r);
	/* one campaign */
	struct report_opts o2 = { .campaign = "c2" };
	r = feed(log, &o2);
	report_finish(r);
	CHECK_INT_EQ(report_campaign_count(r), 1);
	CHECK_STR_EQ(report_campaign_at(r, 0)->name, "c2");
	report_free(r);
}

static void
test_hist_series(void)
{
	/* the histogram: monotonic, exact below 64, within 3 % above */
	unsigned prev = 0;
	for (int64_t s = 0; s < 40000000; s = s < 1000 ? s + 1 : s + s / 97) {
		unsigned b = report_hist_bucket(s);
		CHECK(b >= prev);
		prev = b;
		int64_t v = report_hist_value(b);
		if (s < 64)
			CHECK_INT_EQ(v, s);
		else if (!(v <= s && (double)(s - v) <= 0.0313 * (double)s))
			CHECK(0);
	}
	CHECK(report_hist_bucket(INT64_MAX) == REPORT_HIST_BUCKETS - 1);
	CHECK_INT_EQ(report_hist_bucket(-5), 0);

	/* the time series coarsens, never loses a count, and takes lines out
	 * of order */
	struct report *r = report_new(NULL);
	char line[256];
	uint64_t n = 0;
	for (int i = 0; i < 3000; i++) {
		/* spread over ~2 days, and every 10th line an hour earlier */
		long t = 1795431600L + (long)i * 61 - (i % 10 == 0 ? 3600 * 30 : 0);
		time_t tt = t;
		struct tm tm;
		gmtime_r(&tt, &tm);
		char ts[32];
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(line, sizeof line,
			 "%s sched event=deferred campaign=c batch=B.1.1.1 index=%d rcpt=u%d@x "
			 "dest=x mx=x addr=x attempt=1 code=421 enhanced=4.0.0 tls=\"\" ms=1 text=t",
			 ts, i, i);
		struct logline l;
		const char *why;
		CHECK_INT_EQ(logline_parse(line, strlen(line), &l, &why), 0);
		report_add(r, &l);
		n++;
	}
	report_finish(r);
	struct report_campaign *c = report_campaign_at(r, 0);
	uint64_t sum = 0;
	for (size_t b = 0; b < c->series.n; b++)
		sum += c->series.v[RS_DEFERRED][b];
	CHECK_INT_EQ(sum, n);
	CHECK(c->series.n <= REPORT_SERIES_MAX);
	CHECK(c->series.width >= 60 && c->series.t0 % c->series.width == 0);
	report_free(r);
}

static void
test_queue(void)
{
	char sub[256];
	snprintf(sub, sizeof sub, "%s/q", dir);
	mkdir(sub, 0755);
	snprintf(sub, sizeof sub, "%s/q/queue", dir);
	mkdir(sub, 0755);
	snprintf(sub, sizeof sub, "%s/q/queue/3f", dir);
	mkdir(sub, 0755);
	const char state[] = "mailshot-queue 1\n"
			     "batch B.1795431600.1.0\n"
			     "campaign c1\n"
			     "created 1795431600\n"
			     "expires 0\n"
			     "count 5\n"
			     "\n"
			     "m 0 312 160 0 x.test\n"
			     "m 1 4690 158 0 x.test\n"
			     "m 2 9000 158 0 y%2Etest\n"
			     "m 3 9500 158 0 y.test\n"
			     "m 4 9900 158 0 y.test\n"
			     "d 0 1795431610\n"
			     "r 1 1 1795439999\n"
			     "s 2 1795431620\n"
			     "r 3 1 1795431000\n"
			     "f 9 1\n"
			     "x 4 17";
	write_file("q/queue/3f/B.1795431600.1.0.state", state, sizeof state - 1, 0);
	write_file("q/queue/3f/B.1795431600.1.1.state", "junk", 4, 0);
	write_file("q/queue/3f/B.1795431600.1.2", "batch", 5, 0);
	struct report *r = report_new(NULL);
	struct buf err = { 0 };
	snprintf(sub, sizeof sub, "%s/q", dir);
	CHECK_INT_EQ(report_read_queue(r, sub, 1795432000, &err), 0);
	report_finish(r);
	CHECK_INT_EQ(report_campaign_count(r), 1);
	struct report_campaign *c = report_campaign_at(r, 0);
	CHECK_INT_EQ(c->q_messages, 4); /* 0 delivered; "x 4 17" has no LF: torn */
	CHECK_INT_EQ(c->q_deferred, 1);
	CHECK_INT_EQ(c->q_next, 1795439999);
	CHECK_INT_EQ(c->q_inflight, 1);
	CHECK_INT_EQ(c->q_ready, 2); /* 3 (next passed) and 4 */
	CHECK_INT_EQ(c->q_oldest, 1795431600);
	struct report_dest **d;
	size_t nd = report_dests(r, &d);
	CHECK_INT_EQ(nd, 2);
	CHECK_STR_EQ(d[0]->name, "y.test");
	CHECK_INT_EQ(d[0]->inflight, 1);
	CHECK_INT_EQ(d[0]->ready, 2);
	CHECK_STR_EQ(d[1]->name, "x.test");
	CHECK_INT_EQ(d[1]->deferred, 1);
	report_free(r);
	/* no queue directory: nothing queued */
	r = report_new(NULL);
	CHECK_INT_EQ(report_read_queue(r, "/nonexistent-spool", 0, &err), 0);
	report_finish(r);
	CHECK_INT_EQ(report_campaign_count(r), 0);
	report_free(r);
	buf_free(&err);
}

static void
test_status(void)
{
	const char good[] = "mailshot-sched-status 1\npid 4242\ntime 1795431600\nstarted 1795431000\n"
			    "messages 2\nready 0\nwaiting 2\ninflight 0\ndests 3\ntotals 7 2 4 1\n"
			    "future 1 2 3\n\n"
			    "dest example.net 0 2 0 4 20 0 1795431900 300 1795431590 7 2 4 1 1 "
			    "421%204.7.0%20Too%20many\n"
			    "dest %5B127.0.0.1%5D:25 1 0 0 1 10 60 0 0 0 0 0 0 0 0 -\n"
			    "later record of a newer version\n";
	struct sched_status st;
	const char *why;
	CHECK_INT_EQ(sched_status_parse(good, sizeof good - 1, &st, &why), 0);
	CHECK_INT_EQ(st.pid, 4242);
	CHECK_INT_EQ(st.waiting, 2);
	CHECK_INT_EQ(st.delivered, 7);
	CHECK_INT_EQ(st.expired, 1);
	CHECK_INT_EQ(st.ndest, 2);
	CHECK_STR_EQ(st.dest[0].name, "example.net");
	CHECK_INT_EQ(st.dest[0].window, 4);
	CHECK_INT_EQ(st.dest[0].concurrency, 20);
	CHECK_INT_EQ(st.dest[0].pause_until, 1795431900);
	CHECK_STR_EQ(st.dest[0].last_error, "421 4.7.0 Too many");
	CHECK_STR_EQ(st.dest[1].name, "[127.0.0.1]:25");
	CHECK_INT_EQ(st.dest[1].rate, 60);
	CHECK(st.dest[1].last_error == NULL);
	sched_status_free(&st);
	static const char *const bad[] = {
		"",
		"mailshot-sched-status 2\n\n",
		"mailshot-sched-status 1\npid x\n\n",
		"mailshot-sched-status 1\npid 1 2\n\n",
		"mailshot-sched-status 1\ntotals 1 2 3\n\n",
		"mailshot-sched-status 1\n\ndest a 1 2 3\n",
		"mailshot-sched-status 1\n\ndest a 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		"mailshot-sched-status 1\n\ndest %zz 0 0 0 0 0 0 0 0 0 0 0 0 0 0 -\n",
		"mailshot-sched-status 1\n\ndest a 0 0 0 0 0 0 0 0 0 0 0 0 0 99999999999999999999999 -\n",
		"mailshot-sched-status 1\npid 1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why = NULL;
		CHECK_INT_EQ(sched_status_parse(bad[i], strlen(bad[i]), &st, &why), -1);
		CHECK(why != NULL);
	}
}

int
main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_parse();
	test_reader();
	test_follow();
	test_figures();
	test_hist_series();
	test_queue();
	test_status();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_report("report");
}
