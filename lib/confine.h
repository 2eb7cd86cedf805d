/*
 * confine - a process gives up, once and for good, what it no longer
 * needs after start-up (docs/confine.md).  mailshot-remote calls it when
 * its control files are read, its resolver and TLS contexts are made and
 * before it reads a byte from sched or the network, so that whoever
 * subverts it through a hostile reply holds a process that can talk on
 * the sockets it has and do little else.
 *
 * The mechanisms, in the order they are applied, and what each is for:
 *
 *   resource limits  RLIMIT_CORE 0: a crash writes no core file holding
 *                    messages or TLS session keys.  RLIMIT_NOFILE to
 *                    max_files (soft and hard): a loop that leaks or
 *                    hoards descriptors ends there.  Not set, on purpose:
 *                    RLIMIT_NPROC (counted per user, and every remote of
 *                    sched shares one user: a low limit would stop sched
 *                    from starting remotes; fork is denied below instead)
 *                    and RLIMIT_FSIZE (it applies to the standard output
 *                    and error too when they are files, a shell's 2>file
 *                    or sched's log: a diagnostic would draw SIGXFSZ; no
 *                    file can be opened for writing anyway).  Also
 *                    PR_SET_DUMPABLE 0: other processes of the same user
 *                    cannot ptrace it or read its memory through /proc.
 *   chroot           only with chroot_dir set and running as root: into
 *                    that (empty) directory, then chdir("/").  A hook for
 *                    a root start-up that drops its user afterwards
 *                    (lib/priv.h); unprivileged runs skip it silently.
 *   no_new_privs     PR_SET_NO_NEW_PRIVS: no execve can grant privileges
 *                    (set-user-ID files, file capabilities); required for
 *                    the two below without CAP_SYS_ADMIN.
 *   Landlock         (Linux 5.13 and later, when enabled) a ruleset that
 *                    handles every filesystem access right the kernel
 *                    knows and allows none: no file or directory can be
 *                    opened, created, removed, renamed, executed or (ABI
 *                    3) truncated, by path, whatever the system call.
 *                    Best effort: a kernel without it (ENOSYS,
 *                    EOPNOTSUPP) leaves the bit clear, and so does
 *                    valgrind, which does not know the system calls.
 *   seccomp          a BPF filter (required: seccomp filters exist since
 *                    Linux 3.5, so failing to install one is an error).
 *                    It denies with EACCES -- an error a library probing
 *                    for a file handles, not a crash -- the open family
 *                    (open, openat, openat2, creat, open_by_handle_at),
 *                    execve and execveat, fork, vfork and clone without
 *                    CLONE_THREAD (threads stay possible; clone3 answers
 *                    ENOSYS so that libc falls back to clone, whose flags
 *                    a filter can see), every call that changes the
 *                    filesystem (mknod, link, symlink, unlink, rename,
 *                    mkdir, rmdir, chmod, chown, truncate, utimes, xattrs),
 *                    identity changes (setuid and kin), ptrace and
 *                    process_vm_*, pidfd_getfd, mount and the new mount
 *                    API, chroot, pivot_root, unshare, setns, io_uring
 *                    (it would open files behind the filter's back), bpf,
 *                    perf_event_open, userfaultfd, keyrings, modules,
 *                    reboot, swap, clocks.  Everything else is allowed.
 *                    A system call of another ABI (i386 or x32 on x86-64,
 *                    arm32 on aarch64) kills the process.
 *
 * What stays possible: reading and writing the descriptors already open
 * (the socket to sched, stdin/stdout/stderr, the spool batches sched
 * sends read-only), new sockets (SMTP, DNS), memory, time, signals,
 * stat() and the like.  The process cannot get a new file descriptor to
 * any file: every spool file it sees comes from sched over SCM_RIGHTS.
 *
 * Under valgrind (RUNNING_ON_VALGRIND, a test run): Landlock is not
 * tried (valgrind 3.19 does not know its system calls), unlink and
 * unlinkat stay allowed (valgrind removes its vgdb FIFOs from /tmp at
 * exit), and CONFINE_VALGRIND says so.  valgrind also loses its footing
 * after a fork the filter refused; remote never forks.
 *
 * Sanitizer builds (ASan/LSan, never a release build): LeakSanitizer's
 * check at exit clones a tracer (CLONE_VM, without CLONE_THREAD), lists
 * /proc/PID/task and ptrace-attaches.  There the filter lets the open
 * family, ptrace and clone with CLONE_VM through, and the Landlock
 * ruleset allows reading under /proc/self only: files stay closed as long
 * as Landlock works (CONFINE_SANITIZER says this variant is in force).
 */
#ifndef MAILSHOT_CONFINE_H
#define MAILSHOT_CONFINE_H

#include "buf.h"

struct confine_opts {
	const char *chroot_dir; /* NULL, or an empty directory to chroot into as root */
	long max_files;		/* RLIMIT_NOFILE (soft and hard); 0: leave it */
};

/* The mechanisms in force, the bits of confine_process's result. */
enum {
	CONFINE_RLIMITS = 1 << 0,
	CONFINE_CHROOT = 1 << 1,
	CONFINE_SECCOMP = 1 << 2,
	CONFINE_LANDLOCK = 1 << 3,
	CONFINE_SANITIZER = 1 << 4, /* the sanitizer variant of the filter (above) */
	CONFINE_VALGRIND = 1 << 5,  /* the valgrind variant (above) */
};

/*
 * Applies every mechanism above to the calling process (and its threads
 * to come; call it while there is one thread).  Returns the CONFINE_* bits
 * in force, or -1 with err "what: why" when a required step failed
 * (limits, chroot, no_new_privs, seccomp), after which the caller must
 * not go on: it exits 111.  Irreversible.
 */
int confine_process(const struct confine_opts *o, struct buf *err);

/* Appends the names of the bits in flags: "rlimits seccomp landlock"
 * (chroot, sanitizer, valgrind). */
void confine_describe(int flags, struct buf *out);

#endif
