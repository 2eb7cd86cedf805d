/*
 * confine - limits, chroot, no_new_privs, Landlock and a seccomp filter.
 * See confine.h for what each mechanism is for.
 *
 * The seccomp filter is written by hand as classic BPF (no libseccomp:
 * one small deny list does not earn a dependency).  It is a deny list,
 * not an allow list, on purpose: OpenSSL, c-ares, the C library and the
 * sanitizers make system calls of their own that change between
 * versions, and a forgotten one in an allow list would kill remote in
 * production; a forgotten one in the deny list is a call that was
 * allowed before confinement too, and Landlock (where present) already
 * closes the filesystem by path.
 */
#include "confine.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

/* LeakSanitizer needs a tracer clone, /proc/PID/task and ptrace at exit
 * (confine.h, "Sanitizer builds"). */
#if defined(__SANITIZE_ADDRESS__)
#define FOR_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define FOR_SANITIZER 1
#endif
#endif
#ifndef FOR_SANITIZER
#define FOR_SANITIZER 0
#endif

/* The native ABI, checked first: a system call of another one (its
 * numbers mean other calls) ends the process. */
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define X32_SYSCALL_BIT 0x40000000U
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "confine.c: the clone flags are read as the low word of args[0] (little-endian only)"
#endif

/* System calls newer than the build's kernel headers.  Numbers from 424
 * on are the same on every architecture this file supports. */
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463
#endif
#ifndef __NR_removexattrat
#define __NR_removexattrat 466
#endif

/* Landlock access rights newer than the headers (ABI 3 and 5). */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

#ifdef NATIVE_ARCH
/* Denied with EACCES (confine.h).  clone and clone3 are handled apart. */
static const int denied_syscalls[] = {
	/* new descriptors to files (sanitizer builds: Landlock's job) */
#if !FOR_SANITIZER
#ifdef __NR_open
	__NR_open,
#endif
#ifdef __NR_creat
	__NR_creat,
#endif
	__NR_openat,
	__NR_openat2,
#endif
	__NR_open_by_handle_at,
	__NR_name_to_handle_at,
#ifdef __NR_uselib
	__NR_uselib,
#endif
	__NR_mq_open,
	/* programs and processes */
	__NR_execve,
	__NR_execveat,
#ifdef __NR_fork
	__NR_fork,
#endif
#ifdef __NR_vfork
	__NR_vfork,
#endif
#if !FOR_SANITIZER
	__NR_ptrace,
#endif
	__NR_process_vm_readv,
	__NR_process_vm_writev,
	__NR_pidfd_getfd,
	/* changes to the filesystem */
#ifdef __NR_mknod
	__NR_mknod,
#endif
	__NR_mknodat,
#ifdef __NR_link
	__NR_link,
#endif
	__NR_linkat,
#ifdef __NR_symlink
	__NR_symlink,
#endif
	__NR_symlinkat,
#ifdef __NR_unlink
	__NR_unlink,
#endif
	__NR_unlinkat,
#ifdef __NR_rename
	__NR_rename,
#endif
	__NR_renameat,
	__NR_renameat2,
#ifdef __NR_mkdir
	__NR_mkdir,
#endif
	__NR_mkdirat,
#ifdef __NR_rmdir
	__NR_rmdir,
#endif
#ifdef __NR_chmod
	__NR_chmod,
#endif
	__NR_fchmod,
	__NR_fchmodat,
	__NR_fchmodat2,
#ifdef __NR_chown
	__NR_chown,
#endif
#ifdef __NR_lchown
	__NR_lchown,
#endif
	__NR_fchown,
	__NR_fchownat,
	__NR_truncate,
	__NR_ftruncate,
#ifdef __NR_utime
	__NR_utime,
#endif
#ifdef __NR_utimes
	__NR_utimes,
#endif
#ifdef __NR_futimesat
	__NR_futimesat,
#endif
	__NR_utimensat,
	__NR_setxattr,
	__NR_lsetxattr,
	__NR_fsetxattr,
	__NR_setxattrat,
	__NR_removexattr,
	__NR_lremovexattr,
	__NR_fremovexattr,
	__NR_removexattrat,
	/* identity */
	__NR_setuid,
	__NR_setgid,
	__NR_setreuid,
	__NR_setregid,
	__NR_setresuid,
	__NR_setresgid,
	__NR_setgroups,
	__NR_setfsuid,
	__NR_setfsgid,
	/* mounts, roots, namespaces */
	__NR_mount,
	__NR_umount2,
	__NR_open_tree,
	__NR_move_mount,
	__NR_fsopen,
	__NR_fsconfig,
	__NR_fsmount,
	__NR_fspick,
	__NR_mount_setattr,
	__NR_chroot,
	__NR_pivot_root,
	__NR_unshare,
	__NR_setns,
	/* kernel interfaces remote has no use for */
	__NR_io_uring_setup,
	__NR_io_uring_enter,
	__NR_io_uring_register,
	__NR_bpf,
	__NR_perf_event_open,
	__NR_userfaultfd,
	__NR_keyctl,
	__NR_add_key,
	__NR_request_key,
	__NR_init_module,
	__NR_finit_module,
	__NR_delete_module,
	__NR_kexec_load,
#ifdef __NR_kexec_file_load
	__NR_kexec_file_load,
#endif
	__NR_reboot,
	__NR_swapon,
	__NR_swapoff,
	__NR_acct,
	__NR_quotactl,
	__NR_quotactl_fd,
	__NR_fanotify_init,
	__NR_sethostname,
	__NR_setdomainname,
	__NR_settimeofday,
	__NR_clock_settime,
	__NR_clock_adjtime,
	__NR_adjtimex,
};

/* Room for the deny list (two instructions each) and the fixed parts. */
#define MAX_INSNS (2 * (sizeof denied_syscalls / sizeof denied_syscalls[0]) + 32)

struct filter {
	struct sock_filter insn[MAX_INSNS];
	unsigned short len;
};

static void
emit(struct filter *f, unsigned short code, unsigned jt, unsigned jf, uint32_t k)
{
	struct sock_filter s = {code, (unsigned char)jt, (unsigned char)jf, k};
	f->insn[f->len++] = s;
}

static void
build_filter(struct filter *f, int valgrind)
{
	const uint32_t deny = SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA);
	f->len = 0;
	emit(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, NATIVE_ARCH);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
	emit(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
#ifdef X32_SYSCALL_BIT
	emit(f, BPF_JMP | BPF_JGE | BPF_K, 0, 1, X32_SYSCALL_BIT);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
#endif
	for (size_t i = 0; i < sizeof denied_syscalls / sizeof denied_syscalls[0]; i++) {
		/* valgrind removes its vgdb FIFOs from /tmp at exit. */
		if (valgrind && (denied_syscalls[i] == __NR_unlinkat
#ifdef __NR_unlink
				 || denied_syscalls[i] == __NR_unlink
#endif
				 ))
			continue;
		emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (uint32_t)denied_syscalls[i]);
		emit(f, BPF_RET | BPF_K, 0, 0, deny);
	}
	/* clone3 hides its flags in memory a filter cannot read: ENOSYS
	 * makes the C library fall back to clone. */
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, __NR_clone3);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS);
	/* clone: a thread (CLONE_THREAD) yes, a process no. */
	const uint32_t flags_lo = offsetof(struct seccomp_data, args[0]);
#if FOR_SANITIZER
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 6, __NR_clone);
	emit(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, flags_lo);
	emit(f, BPF_JMP | BPF_JSET | BPF_K, 2, 0, CLONE_THREAD);
	/* LeakSanitizer's tracer shares memory (CLONE_VM); vfork does too,
	 * and stays denied. */
	emit(f, BPF_JMP | BPF_JSET | BPF_K, 0, 2, CLONE_VM);
	emit(f, BPF_JMP | BPF_JSET | BPF_K, 1, 0, CLONE_VFORK);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
	emit(f, BPF_RET | BPF_K, 0, 0, deny);
#else
	emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, __NR_clone);
	emit(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, flags_lo);
	emit(f, BPF_JMP | BPF_JSET | BPF_K, 1, 0, CLONE_THREAD);
	emit(f, BPF_RET | BPF_K, 0, 0, deny);
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
#endif
	emit(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
}

static int
install_seccomp(int valgrind, struct buf *err)
{
	struct filter f;
	build_filter(&f, valgrind);
	struct sock_fprog prog = {f.len, f.insn};
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == -1) {
		buf_printf(err, "seccomp: unable to install the filter: %s", strerror(errno));
		return -1;
	}
	return 0;
}
#else
static int
install_seccomp(int valgrind, struct buf *err)
{
	(void)valgrind;
	buf_printf(err, "seccomp: no filter for this architecture (lib/confine.c)");
	return -1;
}
#endif

#if FOR_SANITIZER
/* Sanitizer builds: LeakSanitizer reads /proc/self/task, and a report
 * is symbolized from the program's and its libraries' files. */
static void
allow_read(int ruleset, const char *path, uint64_t access)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd == -1)
		return;
	struct landlock_path_beneath_attr beneath = {.allowed_access = access, .parent_fd = fd};
	syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
	close(fd);
}

static int
allow_module(struct dl_phdr_info *info, size_t size, void *data)
{
	if (info->dlpi_name != NULL && info->dlpi_name[0] == '/')
		allow_read(*(int *)data, info->dlpi_name, LANDLOCK_ACCESS_FS_READ_FILE);
	return 0;
}
#endif

/* Every filesystem right the running kernel's Landlock knows, none
 * granted (sanitizer builds: see confine.h).  Returns 1 in force, 0 unavailable. */
static int
install_landlock(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	struct landlock_ruleset_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (ruleset == -1)
		return 0;
#if FOR_SANITIZER
	allow_read(ruleset, "/proc/self", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR);
	allow_read(ruleset, "/proc/self/exe", LANDLOCK_ACCESS_FS_READ_FILE);
	dl_iterate_phdr(allow_module, &ruleset);
#endif
	int rc = (int)syscall(SYS_landlock_restrict_self, ruleset, 0);
	close(ruleset);
	return rc == 0;
}

static int
set_limits(const struct confine_opts *o, struct buf *err)
{
	struct rlimit none = {0, 0};
	if (setrlimit(RLIMIT_CORE, &none) == -1) {
		buf_printf(err, "setrlimit RLIMIT_CORE: %s", strerror(errno));
		return -1;
	}
	if (o->max_files > 0) {
		struct rlimit old, rl;
		if (getrlimit(RLIMIT_NOFILE, &old) == -1) {
			buf_printf(err, "getrlimit RLIMIT_NOFILE: %s", strerror(errno));
			return -1;
		}
		rl.rlim_cur = (rlim_t)o->max_files;
		if (old.rlim_max != RLIM_INFINITY && rl.rlim_cur > old.rlim_max)
			rl.rlim_cur = old.rlim_max;
		rl.rlim_max = rl.rlim_cur;
		/* valgrind refuses to move the hard limit: then the soft one. */
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			rl.rlim_max = old.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
				buf_printf(err, "setrlimit RLIMIT_NOFILE %ld: %s", o->max_files,
					   strerror(errno));
				return -1;
			}
		}
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		buf_printf(err, "prctl PR_SET_DUMPABLE: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
confine_process(const struct confine_opts *o, struct buf *err)
{
	int flags = 0;
	if (set_limits(o, err) == -1)
		return -1;
	flags |= CONFINE_RLIMITS;
	if (o->chroot_dir != NULL && geteuid() == 0) {
		if (chroot(o->chroot_dir) == -1 || chdir("/") == -1) {
			buf_printf(err, "unable to chroot to %s: %s", o->chroot_dir,
				   strerror(errno));
			return -1;
		}
		flags |= CONFINE_CHROOT;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		buf_printf(err, "prctl PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* valgrind 3.19 does not know Landlock's system calls (it warns and
	 * says ENOSYS), and the ruleset would keep it from removing its
	 * FIFOs at exit. */
	int valgrind = UNDER_VALGRIND();
	if (!valgrind && install_landlock())
		flags |= CONFINE_LANDLOCK;
	if (install_seccomp(valgrind, err) == -1)
		return -1;
	flags |= CONFINE_SECCOMP;
	if (FOR_SANITIZER)
		flags |= CONFINE_SANITIZER;
	if (valgrind)
		flags |= CONFINE_VALGRIND;
	return flags;
}

void
confine_describe(int flags, struct buf *out)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {
		{CONFINE_RLIMITS, "rlimits"},	{CONFINE_CHROOT, "chroot"},
		{CONFINE_SECCOMP, "seccomp"},	{CONFINE_LANDLOCK, "landlock"},
		{CONFINE_SANITIZER, "sanitizer"}, {CONFINE_VALGRIND, "valgrind"},
	};
	const char *sep = "";
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (flags & names[i].bit) {
			buf_printf(out, "%s%s", sep, names[i].name);
			sep = " ";
		}
	}
}
