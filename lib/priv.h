/*
 * priv - becoming a role's user (docs/privileges.md).
 *
 * control/users names an account per role ("sched mailshotq").  A program
 * started as root drops to its role's user before it reads any outside
 * input: setgroups (the user's primary group only), setgid, setuid, each
 * checked afterwards, and setuid(0) must fail.  A set-user-ID or
 * set-group-ID program makes its real and saved IDs its effective ones,
 * so it cannot return to its caller's identity.
 */
#ifndef MAILSHOT_PRIV_H
#define MAILSHOT_PRIV_H

#include <sys/types.h>

#include "buf.h"

#define PRIV_NAME_MAX 32 /* a user name, as useradd allows */

enum priv_role {
	PRIV_SCHED,
	PRIV_REMOTE,
	PRIV_BOUNCE,
	PRIV_REPORT,
	PRIV_ROLES
};

struct priv_users {
	char user[PRIV_ROLES][PRIV_NAME_MAX + 1]; /* "" when not named */
};

/*
 * Parses control/users: one "ROLE USER" per line (roles sched, remote,
 * bounce, report; a user name of letters, digits, '.', '_', '-', not
 * starting with '-', at most 32 characters); blank lines and '#' lines
 * ignored.  An unknown role, a role named twice, a bad name, a NUL or
 * other control byte: -1 with err "NAME:LINE: what".
 */
int priv_parse_users(const char *text, size_t len, const char *name, struct priv_users *out,
		     struct buf *err);

/* Drops from root to user (looked up in the password database): 0, or
 * -1 with err (no such user, a step refused, a check failed). */
int priv_drop(const char *user, struct buf *err);

/*
 * The call each program makes first.  root: the spool; role: its role;
 * daemon: refuse to go on as root when control/users names nobody for
 * the role (unless MAILSHOT_ALLOW_ROOT=1).  Not root, and not set-ID: when
 * control/users names a user for the role, it must be the one running.  Returns 0, or -1 with err and
 * *permanent set (1: control/users is wrong; 0: try again later).
 */
int priv_start(const char *root, enum priv_role role, int daemon, struct buf *err,
	       int *permanent);

/*
 * With control/users naming a user for role: each of the spool areas
 * (paths under root) that exists must belong to the running user and be
 * writable by it.  Returns 0, or -1 with err naming the path, its owner
 * and mode, and what is expected ("... expected mailshotq, mode 2750:
 * mailshot-setup sets it").  No control/users: 0, nothing checked.
 */
int priv_check_areas(const char *root, enum priv_role role, const char *const *areas,
		     const char *const *modes, struct buf *err);

/* A spool area a program uses through the group (see priv_check_access). */
struct priv_area {
	const char *path; /* under the spool; "" for the spool itself; NULL ends a list */
	int amode;	  /* R_OK, W_OK, X_OK as for access(2) */
	const char *mode; /* as mailshot-setup makes it: "2770" */
	const char *who;  /* who may: "senders are members of it" */
};

/*
 * For the programs that use the spool through its group mailshot
 * (enqueue, run by a sender, writes; report, by an operator, reads):
 * each area that exists must be open to the running process for its
 * amode (by the effective IDs).  Returns 0, or -1 with err naming the
 * path, its owner, group and mode, the user refused, and why: not in
 * the area's group (and who may be), or a mode that is not the expected
 * one.  Called before anything is read or written, so that a wrong user
 * or a spool with wrong modes changes nothing.
 */
int priv_check_access(const char *root, const struct priv_area *areas, struct buf *err);

/*
 * After priv_start: whether the caller may use a set-user-ID program's
 * commands for people (bounce's add, clear, list...): 1 unless the
 * program is set-user-ID or set-group-ID and its caller is neither root,
 * nor its user, nor a member of its group.
 */
int priv_caller_trusted(void);

#endif
