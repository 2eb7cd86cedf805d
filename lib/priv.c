/*
 * priv - becoming a role's user (priv.h, docs/privileges.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"
#include "priv.h"

static const char *const role_names[PRIV_ROLES] = { "sched", "remote", "bounce", "report" };

static int
valid_user(const char *s, size_t n)
{
	if (n == 0 || n > PRIV_NAME_MAX || s[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int
priv_parse_users(const char *text, size_t len, const char *name, struct priv_users *out,
		 struct buf *err)
{
	memset(out, 0, sizeof *out);
	size_t i = 0;
	unsigned lineno = 0;
	while (i < len) {
		lineno++;
		const char *s = text + i;
		const char *nl = memchr(s, '\n', len - i);
		size_t n = nl ? (size_t)(nl - s) : len - i;
		i += n + (nl ? 1 : 0);
		if (n && s[n - 1] == '\r')
			n--;
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)s[k] < 0x20 && s[k] != '\t') {
				buf_printf(err, "%s:%u: a control character", name, lineno);
				return -1;
			}
		/* trim */
		while (n && (s[0] == ' ' || s[0] == '\t'))
			s++, n--;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 0 || s[0] == '#')
			continue;
		size_t r = 0;
		while (r < n && s[r] != ' ' && s[r] != '\t')
			r++;
		size_t u = r;
		while (u < n && (s[u] == ' ' || s[u] == '\t'))
			u++;
		if (u == r || u == n) {
			buf_printf(err, "%s:%u: expected \"ROLE USER\"", name, lineno);
			return -1;
		}
		int role = -1;
		for (int k = 0; k < PRIV_ROLES; k++)
			if (strlen(role_names[k]) == r && memcmp(role_names[k], s, r) == 0)
				role = k;
		if (role < 0) {
			buf_printf(err, "%s:%u: unknown role (sched, remote, bounce, report)", name,
				   lineno);
			return -1;
		}
		if (!valid_user(s + u, n - u)) {
			buf_printf(err, "%s:%u: %s: not a user name", name, lineno, role_names[role]);
			return -1;
		}
		if (out->user[role][0]) {
			buf_printf(err, "%s:%u: %s named twice", name, lineno, role_names[role]);
			return -1;
		}
		memcpy(out->user[role], s + u, n - u);
		out->user[role][n - u] = '\0';
	}
	return 0;
}

int
priv_drop(const char *user, struct buf *err)
{
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		buf_printf(err, "user %s: %s", user, errno ? strerror(errno) : "no such user");
		return -1;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (uid == 0 || gid == 0) {
		buf_printf(err, "user %s: is root (uid or gid 0): refusing", user);
		return -1;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		buf_printf(err, "becoming %s (uid %ld, gid %ld): %s", user, (long)uid, (long)gid,
			   strerror(errno));
		return -1;
	}
	/* verify: every ID, the groups, and no way back */
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	gid_t groups[4];
	int ng = getgroups(4, groups);
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid || ng != 1 ||
	    groups[0] != gid || setuid(0) != -1 || setgid(0) != -1) {
		buf_printf(err, "becoming %s: the IDs are not what was asked", user);
		return -1;
	}
	return 0;
}

static int caller_trusted = 1;

int
priv_caller_trusted(void)
{
	return caller_trusted;
}

/* The caller of a set-ID program: root, the program's user, or in its
 * group. */
static int
caller_is_trusted(void)
{
	uid_t ru = getuid(), eu = geteuid();
	gid_t rg = getgid(), eg = getegid();
	if (ru == 0 || ru == eu || rg == eg)
		return 1;
	gid_t groups[256];
	int n = getgroups(256, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == eg)
			return 1;
	return 0;
}

/* A set-user-ID or set-group-ID program: the effective IDs become all. */
static int
become_effective(struct buf *err)
{
	gid_t eg = getegid();
	uid_t eu = geteuid();
	if (setresgid(eg, eg, eg) == -1 || setresuid(eu, eu, eu) == -1) {
		buf_printf(err, "making the effective IDs (uid %ld, gid %ld) the real ones: %s",
			   (long)eu, (long)eg, strerror(errno));
		return -1;
	}
	uid_t ru, su;
	gid_t rg, sg;
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1 || ru != eu ||
	    su != eu || rg != eg || sg != eg) {
		buf_printf(err, "making the effective IDs the real ones: not done");
		return -1;
	}
	return 0;
}

static void
user_name(uid_t uid, char *out, size_t n)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(out, n, "%s", pw->pw_name);
	else
		snprintf(out, n, "uid %ld", (long)uid);
}

static void
group_name(gid_t gid, char *out, size_t n)
{
	struct group *gr = getgrgid(gid);
	if (gr)
		snprintf(out, n, "%s", gr->gr_name);
	else
		snprintf(out, n, "gid %ld", (long)gid);
}

int
priv_check_areas(const char *root, enum priv_role role, const char *const *areas,
		 const char *const *modes, struct buf *err)
{
	struct buf path = { 0 }, text = { 0 }, why = { 0 };
	struct priv_users users;
	int perm, rc = 0;
	buf_printf(&path, "%s/control/users", root);
	if (input_read_file(buf_cstr(&path), 65536, &text, &why, &perm) == -1 ||
	    priv_parse_users(text.data ? text.data : "", text.len, buf_cstr(&path), &users, &why) ==
		    -1 ||
	    !users.user[role][0])
		goto out; /* no file, or priv_start has said what is wrong */
	for (size_t i = 0; areas[i]; i++) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", root, areas[i]);
		struct stat st;
		if (stat(buf_cstr(&path), &st) == -1)
			continue; /* made by the program itself, as its user */
		if (st.st_uid != geteuid() || !(st.st_mode & S_IWUSR)) {
			char owner[64];
			user_name(st.st_uid, owner, sizeof owner);
			buf_printf(err,
				   "%s: owner %s, mode %04o; expected %s, mode %s (mailshot-setup sets "
				   "owners and modes: docs/privileges.md)",
				   buf_cstr(&path), owner, (unsigned)(st.st_mode & 07777),
				   users.user[role], modes[i]);
			rc = -1;
			break;
		}
	}
out:
	buf_free(&path);
	buf_free(&text);
	buf_free(&why);
	return rc;
}

/* Whether the process (effective IDs) is in group gid. */
static int
in_group(gid_t gid)
{
	if (getegid() == gid)
		return 1;
	gid_t groups[256];
	int n = getgroups(256, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int
priv_check_access(const char *root, const struct priv_area *areas, struct buf *err)
{
	struct buf path = { 0 };
	int rc = 0;
	for (size_t i = 0; areas[i].path; i++) {
		buf_reset(&path);
		buf_printf(&path, "%s%s%s", root, *areas[i].path ? "/" : "", areas[i].path);
		struct stat st;
		if (stat(buf_cstr(&path), &st) == -1)
			continue; /* missing: the program says so where it needs it */
		if (faccessat(AT_FDCWD, buf_cstr(&path), areas[i].amode, AT_EACCESS) == 0)
			continue;
		if (errno != EACCES && errno != EPERM && errno != EROFS)
			continue;
		char owner[64], group[64], me[64];
		user_name(st.st_uid, owner, sizeof owner);
		group_name(st.st_gid, group, sizeof group);
		user_name(geteuid(), me, sizeof me);
		int w = (areas[i].amode & W_OK) != 0;
		buf_printf(err, "%s: owner %s, group %s, mode %04o: not %s by %s", buf_cstr(&path),
			   owner, group, (unsigned)(st.st_mode & 07777),
			   errno == EROFS ? "writable (a read-only file system)"
			   : w		  ? "writable"
					  : "readable",
			   me);
		if (errno != EROFS && !in_group(st.st_gid) && geteuid() != st.st_uid)
			buf_printf(err,
				   ", who is not in the group %s: %s (mailshot-setup --sender USER "
				   "adds one; docs/privileges.md)",
				   group, areas[i].who);
		else if (errno != EROFS)
			buf_printf(err,
				   "; expected mode %s (mailshot-setup sets owners and modes; "
				   "docs/privileges.md)",
				   areas[i].mode);
		rc = -1;
		break;
	}
	buf_free(&path);
	return rc;
}

int
priv_start(const char *root, enum priv_role role, int daemon, struct buf *err, int *permanent)
{
	*permanent = 0;
	if (geteuid() != getuid() || getegid() != getgid()) {
		caller_trusted = caller_is_trusted();
		return become_effective(err);
	}
	struct buf path = { 0 }, text = { 0 };
	buf_printf(&path, "%s/control/users", root);
	int perm = 0;
	int rc = 0;
	if (input_read_file(buf_cstr(&path), 65536, &text, err, &perm) == -1) {
		if (access(buf_cstr(&path), F_OK) == -1 && errno == ENOENT) {
			buf_reset(err);
			buf_reset(&text);
		} else {
			*permanent = perm;
			rc = -1;
			goto out;
		}
	}
	struct priv_users users;
	if (priv_parse_users(text.data ? text.data : "", text.len, buf_cstr(&path), &users, err) ==
	    -1) {
		*permanent = 1;
		rc = -1;
		goto out;
	}
	if (geteuid() != 0) {
		/* not root: the role's user, or the wrong one */
		if (users.user[role][0]) {
			errno = 0;
			struct passwd *pw = getpwnam(users.user[role]);
			if (!pw) {
				buf_printf(err, "%s: user %s: %s", buf_cstr(&path), users.user[role],
					   errno ? strerror(errno) : "no such user");
				rc = -1;
			} else if (pw->pw_uid != geteuid()) {
				struct passwd *me = getpwuid(geteuid());
				buf_printf(err, "running as %s (uid %ld), but %s names %s for %s",
					   me ? me->pw_name : "?", (long)geteuid(), buf_cstr(&path),
					   users.user[role], role_names[role]);
				rc = -1;
			}
		}
	} else if (users.user[role][0]) {
		rc = priv_drop(users.user[role], err);
	} else if (daemon) {
		const char *allow = getenv("MAILSHOT_ALLOW_ROOT");
		if (!allow || strcmp(allow, "1") != 0) {
			buf_printf(err,
				   "running as root, and %s names no user for %s: add \"%s USER\" "
				   "(docs/privileges.md)",
				   buf_cstr(&path), role_names[role], role_names[role]);
			rc = -1;
		}
	}
out:
	buf_free(&path);
	buf_free(&text);
	return rc;
}
