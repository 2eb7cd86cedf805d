/*
 * test_confine - a child confines itself (lib/confine.h) and tries what
 * it must no longer do: open an existing file (by every route), create,
 * remove or rename one, fork, exec, a 32-bit system call; and what it
 * still must: read a descriptor opened before, or received over a
 * socket afterwards (a spool batch from sched), connect to a listener on
 * loopback, start a thread.  Each child sends its counts to the parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "confine.h"

static char dir[] = "/tmp/test_confine.XXXXXX";
static char file[64], other[64], newdir[64];

/* Runs fn in a child; its CHECK counts are added to ours.  Returns the
 * child's wait status. */
static int
in_child(void (*fn)(void *), void *arg)
{
	int p[2];
	if (pipe(p) == -1)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		check_passed_count = check_failed_count = 0;
		fn(arg);
		int counts[2] = {check_passed_count, check_failed_count};
		if (write(p[1], counts, sizeof counts) != sizeof counts)
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	int counts[2] = {0, 0};
	ssize_t n = read(p[0], counts, sizeof counts);
	close(p[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	if (n == sizeof counts) {
		check_passed_count += counts[0];
		check_failed_count += counts[1];
	}
	return status;
}

static int
confine_default(void)
{
	struct buf err = BUF_INIT;
	struct confine_opts o = {NULL, 256};
	int flags = confine_process(&o, &err);
	if (flags == -1)
		fprintf(stderr, "confine_process: %s\n", buf_cstr(&err));
	buf_free(&err);
	return flags;
}

/* Files stay closed when the filter denies opens, or (sanitizer builds,
 * confine.h) when Landlock does. */
static int
opens_denied(int flags)
{
	return !(flags & CONFINE_SANITIZER) || (flags & CONFINE_LANDLOCK);
}

static void *
thread_main(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

static void
child_denied(void *unused)
{
	int before = open(file, O_RDONLY | O_CLOEXEC);
	int flags = confine_default();
	CHECK(flags != -1);
	CHECK(flags & CONFINE_SECCOMP);
	CHECK(flags & CONFINE_RLIMITS);
	CHECK(!(flags & CONFINE_CHROOT));
	CHECK_INT_EQ(prctl(PR_GET_SECCOMP, 0, 0, 0, 0), 2);
	CHECK_INT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
	CHECK_INT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	struct rlimit rl;
	CHECK_INT_EQ(getrlimit(RLIMIT_CORE, &rl), 0);
	CHECK_INT_EQ(rl.rlim_cur, 0);
	CHECK_INT_EQ(rl.rlim_max, 0);
	CHECK_INT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK_INT_EQ(rl.rlim_cur, 256);

	/* What was open before stays usable. */
	char b[16] = "";
	CHECK_INT_EQ(pread(before, b, sizeof b, 0), 6);
	CHECK(memcmp(b, "secret", 6) == 0);

	if (opens_denied(flags)) {
		errno = 0;
		CHECK_INT_EQ(open(file, O_RDONLY), -1);
		CHECK_INT_EQ(errno, EACCES);
		errno = 0;
		CHECK_INT_EQ(openat(AT_FDCWD, file, O_RDONLY), -1);
		CHECK_INT_EQ(errno, EACCES);
		errno = 0;
		CHECK(fopen("/etc/passwd", "r") == NULL);
		CHECK_INT_EQ(errno, EACCES);
		if (!(flags & CONFINE_SANITIZER)) { /* Landlock lets O_PATH by */
			errno = 0;
			CHECK_INT_EQ(open(dir, O_PATH), -1);
			CHECK_INT_EQ(errno, EACCES);
		}
		errno = 0;
		CHECK_INT_EQ(open(dir, O_TMPFILE | O_RDWR, 0600), -1);
		CHECK_INT_EQ(errno, EACCES);
		errno = 0;
		CHECK_INT_EQ(creat(other, 0600), -1);
		CHECK_INT_EQ(errno, EACCES);
	}
	if (!(flags & CONFINE_VALGRIND)) { /* confine.h: valgrind's FIFOs */
		errno = 0;
		CHECK_INT_EQ(unlink(file), -1);
		CHECK_INT_EQ(errno, EACCES);
	}
	errno = 0;
	CHECK_INT_EQ(rename(file, other), -1);
	CHECK_INT_EQ(errno, EACCES);
	errno = 0;
	CHECK_INT_EQ(link(file, other), -1);
	CHECK_INT_EQ(errno, EACCES);
	errno = 0;
	CHECK_INT_EQ(mkdir(newdir, 0700), -1);
	CHECK_INT_EQ(errno, EACCES);
	errno = 0;
	CHECK_INT_EQ(chmod(file, 0644), -1);
	CHECK_INT_EQ(errno, EACCES);
	errno = 0;
	CHECK_INT_EQ(truncate(file, 0), -1);
	CHECK_INT_EQ(errno, EACCES);
	errno = 0;
	CHECK_INT_EQ(chroot(dir), -1);
	CHECK_INT_EQ(errno, EACCES);
	errno = 0;
	CHECK_INT_EQ(setuid(getuid()), -1);
	CHECK_INT_EQ(errno, EACCES);
	errno = 0;
	CHECK_INT_EQ(syscall(SYS_io_uring_setup, 1, NULL), -1);
	CHECK_INT_EQ(errno, EACCES);

	errno = 0;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	CHECK_INT_EQ(pid, -1);
	CHECK_INT_EQ(errno, EACCES);
	errno = 0;
	char *const args[] = {"true", NULL};
	execv("/bin/true", args);
	CHECK_INT_EQ(errno, EACCES);

	/* Threads are not processes: still allowed. */
	pthread_t t;
	int value = 0;
	CHECK_INT_EQ(pthread_create(&t, NULL, thread_main, &value), 0);
	pthread_join(t, NULL);
	CHECK_INT_EQ(value, 42);

	/* The file itself is untouched. */
	struct stat st;
	CHECK_INT_EQ(stat(file, &st), 0);
	CHECK_INT_EQ(st.st_size, 6);
	close(before);
}

/* A descriptor received after confinement (as remote gets its batches)
 * reads; a listener on loopback can be reached. */
struct net {
	int sock;	/* our end of a socketpair */
	unsigned port; /* a listener on 127.0.0.1 */
};

static void
child_allowed(void *arg)
{
	struct net *n = arg;
	int flags = confine_default();
	CHECK(flags & CONFINE_SECCOMP);
	char data[8];
	char space[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {data, sizeof data};
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = space;
	mh.msg_controllen = sizeof space;
	CHECK_INT_EQ(recvmsg(n->sock, &mh, MSG_CMSG_CLOEXEC), 1);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	CHECK(c != NULL && c->cmsg_type == SCM_RIGHTS);
	if (c != NULL) {
		int fd;
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
		char b[16] = "";
		CHECK_INT_EQ(pread(fd, b, sizeof b, 0), 6);
		CHECK(memcmp(b, "secret", 6) == 0);
		close(fd);
	}
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s != -1);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)n->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT_EQ(connect(s, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_INT_EQ(write(s, "hi", 2), 2);
	close(s);
}

static void
test_allowed(void)
{
	int sv[2];
	CHECK_INT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	CHECK_INT_EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_INT_EQ(listen(l, 1), 0);
	CHECK_INT_EQ(getsockname(l, (struct sockaddr *)&a, &len), 0);
	struct net n = {sv[1], ntohs(a.sin_port)};
	/* The descriptor goes over once the child is confined: it waits in
	 * recvmsg for it. */
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	char space[CMSG_SPACE(sizeof(int))];
	memset(space, 0, sizeof space);
	struct iovec iov = {"j", 1};
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = space;
	mh.msg_controllen = sizeof space;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	CHECK_INT_EQ(sendmsg(sv[0], &mh, 0), 1);
	int status = in_child(child_allowed, &n);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	int peer = accept(l, NULL, NULL);
	char b[4] = "";
	CHECK_INT_EQ(read(peer, b, sizeof b), 2);
	close(peer);
	close(l);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

#if defined(__x86_64__)
/* A system call of the i386 ABI: the filter kills the process. */
static void
child_foreign_abi(void *unused)
{
	if (confine_default() == -1)
		_exit(3);
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory"); /* i386 getpid */
	_exit(4);
}
#endif

static void
child_chroot(void *arg)
{
	struct buf err = BUF_INIT;
	struct confine_opts o = {dir, 0};
	int flags = confine_process(&o, &err);
	CHECK(flags != -1);
	if (geteuid() == 0) {
		CHECK(flags & CONFINE_CHROOT);
		struct stat st;
		CHECK_INT_EQ(stat("/secret", &st), 0); /* dir's file, seen from inside */
		CHECK_INT_EQ(stat(dir, &st), -1);
		char cwd[64] = "";
		CHECK(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, "/") == 0);
	} else {
		CHECK(!(flags & CONFINE_CHROOT)); /* unprivileged: skipped */
	}
	buf_free(&err);
}

static void
test_describe(void)
{
	struct buf b = BUF_INIT;
	confine_describe(CONFINE_RLIMITS | CONFINE_SECCOMP | CONFINE_LANDLOCK, &b);
	CHECK_STR_EQ(buf_cstr(&b), "rlimits seccomp landlock");
	buf_reset(&b);
	confine_describe(0, &b);
	CHECK_STR_EQ(buf_cstr(&b), "");
	buf_reset(&b);
	confine_describe(CONFINE_CHROOT | CONFINE_SANITIZER, &b);
	CHECK_STR_EQ(buf_cstr(&b), "chroot sanitizer");
	buf_free(&b);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(file, sizeof file, "%s/secret", dir);
	snprintf(other, sizeof other, "%s/other", dir);
	snprintf(newdir, sizeof newdir, "%s/sub", dir);
	FILE *f = fopen(file, "w");
	if (f == NULL || fputs("secret", f) == EOF || fclose(f) == EOF) {
		perror(file);
		return 1;
	}
	test_describe();
	int status = in_child(child_denied, NULL);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	test_allowed();
	status = in_child(child_chroot, NULL);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#if defined(__x86_64__)
	/* valgrind does not run i386 system calls of a 64-bit program. */
	if (getenv("MAILSHOT_VALGRIND") == NULL) {
		status = in_child(child_foreign_abi, NULL);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
	}
#endif
	/* Nothing of the above got through to the files. */
	struct stat st;
	CHECK_INT_EQ(stat(file, &st), 0);
	CHECK_INT_EQ(stat(other, &st), -1);
	CHECK_INT_EQ(stat(newdir, &st), -1);
	unlink(file);
	rmdir(dir);
	return check_report("test_confine");
}
