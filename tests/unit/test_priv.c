/*
 * test_priv - control/users with hostile input; the drop itself, as root
 * (in a child: the IDs, the groups, no way back), and priv_start's
 * refusal to keep root; the checks of the spool areas' owners and modes
 * (as nobody, in a child).
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "priv.h"

static int
parse(const char *text, struct priv_users *u, struct buf *err)
{
	buf_reset(err);
	return priv_parse_users(text, strlen(text), "control/users", u, err);
}

static void
test_parse(void)
{
	struct priv_users u;
	struct buf err = { 0 };
	CHECK_INT_EQ(parse("# users\nsched mailshotq\n\n  remote\tmailshotr  \r\nbounce m.b-1_x\n", &u,
			   &err),
		     0);
	CHECK_STR_EQ(u.user[PRIV_SCHED], "mailshotq");
	CHECK_STR_EQ(u.user[PRIV_REMOTE], "mailshotr");
	CHECK_STR_EQ(u.user[PRIV_BOUNCE], "m.b-1_x");
	CHECK_STR_EQ(u.user[PRIV_REPORT], "");
	CHECK_INT_EQ(parse("", &u, &err), 0);
	CHECK_INT_EQ(parse("report x", &u, &err), 0); /* no final LF */
	CHECK_STR_EQ(u.user[PRIV_REPORT], "x");
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "sched\n", "control/users:1: expected \"ROLE USER\"" },
		{ "\nsched \n", "control/users:2: expected \"ROLE USER\"" },
		{ "root x\n", "control/users:1: unknown role (sched, remote, bounce, report)" },
		{ "Sched x\n", "control/users:1: unknown role (sched, remote, bounce, report)" },
		{ "sched -x\n", "control/users:1: sched: not a user name" },
		{ "sched a b\n", "control/users:1: sched: not a user name" },
		{ "sched a/b\n", "control/users:1: sched: not a user name" },
		{ "sched 012345678901234567890123456789012\n", "control/users:1: sched: not a user name" },
		{ "sched a\nsched b\n", "control/users:2: sched named twice" },
		{ "sched a\x01\n", "control/users:1: a control character" },
		{ "sched \xc3\xa9\n", "control/users:1: sched: not a user name" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK_INT_EQ(parse(bad[i].text, &u, &err), -1);
		CHECK_STR_EQ(buf_cstr(&err), bad[i].why);
	}
	/* a NUL inside */
	buf_reset(&err);
	CHECK_INT_EQ(priv_parse_users("sched a\0b\n", 10, "u", &u, &err), -1);
	buf_free(&err);
}

/* In a child: drop to user, then report what the IDs are. */
static void
test_drop(void)
{
	if (geteuid() != 0) {
		printf("test_priv: not root: the drop is not tested here\n");
		return;
	}
	struct passwd *pw = getpwnam("nobody");
	CHECK(pw != NULL);
	if (!pw)
		return;
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	pid_t pid = fork();
	if (pid == 0) {
		struct buf err = { 0 };
		if (priv_drop("nobody", &err) == -1)
			_exit(10);
		gid_t g[8];
		int n = getgroups(8, g);
		if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
			_exit(11);
		if (n != 1 || g[0] != gid)
			_exit(12);
		if (setuid(0) != -1 || seteuid(0) != -1)
			_exit(13);
		if (access("/root", W_OK) == 0)
			_exit(14);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* unknown users, root itself */
	pid = fork();
	if (pid == 0) {
		struct buf err = { 0 };
		int a = priv_drop("no-such-user-mailshot", &err) == -1 &&
			strstr(buf_cstr(&err), "no such user") != NULL;
		buf_reset(&err);
		int b = priv_drop("root", &err) == -1 && strstr(buf_cstr(&err), "refusing") != NULL;
		_exit(a && b && getuid() == 0 ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void
test_start(void)
{
	char dir[] = "/tmp/test_priv.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof path, "%s/control", dir);
	mkdir(path, 0755);
	struct buf err = { 0 };
	int perm;
	if (geteuid() == 0) {
		/* root, no control/users: a daemon refuses, others go on */
		unsetenv("MAILSHOT_ALLOW_ROOT");
		CHECK_INT_EQ(priv_start(dir, PRIV_SCHED, 1, &err, &perm), -1);
		CHECK(strstr(buf_cstr(&err), "names no user for sched") != NULL);
		CHECK_INT_EQ(perm, 0);
		buf_reset(&err);
		CHECK_INT_EQ(priv_start(dir, PRIV_REPORT, 0, &err, &perm), 0);
		setenv("MAILSHOT_ALLOW_ROOT", "1", 1);
		CHECK_INT_EQ(priv_start(dir, PRIV_SCHED, 1, &err, &perm), 0);
		CHECK(geteuid() == 0);
		/* a bad control/users: permanent */
		snprintf(path, sizeof path, "%s/control/users", dir);
		FILE *f = fopen(path, "w");
		fputs("sched\n", f);
		fclose(f);
		buf_reset(&err);
		CHECK_INT_EQ(priv_start(dir, PRIV_SCHED, 1, &err, &perm), -1);
		CHECK_INT_EQ(perm, 1);
		/* a good one: the child becomes nobody */
		f = fopen(path, "w");
		fputs("sched nobody\n", f);
		fclose(f);
		pid_t pid = fork();
		if (pid == 0) {
			struct buf e = { 0 };
			int p;
			_exit(priv_start(dir, PRIV_SCHED, 1, &e, &p) == 0 &&
					      getuid() == getpwnam("nobody")->pw_uid
				      ? 0
				      : 1);
		}
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		unlink(path);
	} else {
		CHECK_INT_EQ(priv_start(dir, PRIV_SCHED, 1, &err, &perm), 0);
	}
	buf_free(&err);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* ---- the areas: as nobody, in a child ---- */

static char areadir[] = "/tmp/test_priv_areas.XXXXXX";

/* Runs check in a child that has become nobody; returns its result and
 * the error text it produced. */
static int
as_nobody(int (*check)(struct buf *err), char *text, size_t n)
{
	int fds[2];
	if (pipe(fds) == -1)
		return -2;
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		struct buf err = { 0 };
		if (priv_drop("nobody", &err) == -1)
			_exit(9);
		int rc = check(&err);
		if (err.len && write(fds[1], err.data, err.len) < 0)
			_exit(8);
		_exit(rc == 0 ? 0 : 1);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t k;
	while (got + 1 < n && (k = read(fds[0], text + got, n - 1 - got)) > 0)
		got += (size_t)k;
	text[got] = '\0';
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? (WEXITSTATUS(st) == 0 ? 0 : WEXITSTATUS(st) == 1 ? -1 : -2) : -2;
}

static int
check_enqueue_areas(struct buf *err)
{
	static const struct priv_area areas[] = {
		{ "", X_OK, "0755", "senders are members of it" },
		{ "tmp", W_OK | X_OK, "2770", "senders are members of it" },
		{ "missing", W_OK | X_OK, "2770", "senders are members of it" },
		{ NULL, 0, NULL, NULL },
	};
	return priv_check_access(areadir, areas, err);
}

static int
check_sched_areas(struct buf *err)
{
	static const char *const areas[] = { "missing", "queue", NULL };
	static const char *const modes[] = { "2750", "2750" };
	return priv_check_areas(areadir, PRIV_SCHED, areas, modes, err);
}

static void
test_areas(void)
{
	if (geteuid() != 0) {
		printf("test_priv: not root: the areas are not tested here\n");
		return;
	}
	struct passwd *pw = getpwnam("nobody");
	CHECK(pw != NULL && mkdtemp(areadir) != NULL);
	if (!pw)
		return;
	char path[300], text[1024], want[600];
	chmod(areadir, 0755);
	snprintf(path, sizeof path, "%s/tmp", areadir);
	mkdir(path, 0770);
	chmod(path, 02770);
	/* not in the group */
	CHECK_INT_EQ(as_nobody(check_enqueue_areas, text, sizeof text), -1);
	snprintf(want, sizeof want,
		 "%s/tmp: owner root, group root, mode 2770: not writable by nobody, who is not in "
		 "the group root: senders are members of it (mailshot-setup --sender USER adds one; "
		 "docs/privileges.md)",
		 areadir);
	CHECK_STR_EQ(text, want);
	/* in the group, a mode that keeps it out */
	CHECK_INT_EQ(chown(path, 0, pw->pw_gid), 0);
	chmod(path, 02750);
	CHECK_INT_EQ(as_nobody(check_enqueue_areas, text, sizeof text), -1);
	struct group *gr = getgrgid(pw->pw_gid);
	snprintf(want, sizeof want,
		 "%s/tmp: owner root, group %s, mode 2750: not writable by nobody; expected mode 2770 "
		 "(mailshot-setup sets owners and modes; docs/privileges.md)",
		 areadir, gr ? gr->gr_name : "?");
	CHECK_STR_EQ(text, want);
	/* as it should be; a missing area is not this check's business */
	chmod(path, 02770);
	CHECK_INT_EQ(as_nobody(check_enqueue_areas, text, sizeof text), 0);
	CHECK_STR_EQ(text, "");
	/* the spool itself closed */
	chmod(areadir, 0700);
	CHECK_INT_EQ(as_nobody(check_enqueue_areas, text, sizeof text), -1);
	CHECK(strstr(text, "mode 0700: not readable by nobody") != NULL);
	chmod(areadir, 0755);

	/* sched's own areas: only with control/users naming its user */
	snprintf(path, sizeof path, "%s/queue", areadir);
	mkdir(path, 0750);
	chmod(path, 02750);
	CHECK_INT_EQ(as_nobody(check_sched_areas, text, sizeof text), 0);
	snprintf(path, sizeof path, "%s/control", areadir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/control/users", areadir);
	FILE *f = fopen(path, "w");
	fputs("sched nobody\n", f);
	fclose(f);
	CHECK_INT_EQ(as_nobody(check_sched_areas, text, sizeof text), -1);
	snprintf(want, sizeof want,
		 "%s/queue: owner root, mode 2750; expected nobody, mode 2750 (mailshot-setup sets "
		 "owners and modes: docs/privileges.md)",
		 areadir);
	CHECK_STR_EQ(text, want);
	snprintf(path, sizeof path, "%s/queue", areadir);
	CHECK_INT_EQ(chown(path, pw->pw_uid, pw->pw_gid), 0);
	CHECK_INT_EQ(as_nobody(check_sched_areas, text, sizeof text), 0);
	/* a control/users that does not parse: priv_start's business */
	snprintf(path, sizeof path, "%s/control/users", areadir);
	f = fopen(path, "w");
	fputs("sched\n", f);
	fclose(f);
	CHECK_INT_EQ(as_nobody(check_sched_areas, text, sizeof text), 0);

	snprintf(path, sizeof path, "rm -rf %s", areadir);
	if (system(path) != 0)
		fprintf(stderr, "cannot remove %s\n", areadir);
}

int
main(void)
{
	test_parse();
	test_drop();
	test_start();
	test_areas();
	return check_report("priv");
}
