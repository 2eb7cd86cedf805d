/*
 * tests/tools/drive - plays sched's part of docs/protocol.md for the
 * benchmark: starts SESSIONS mailshot-remote --session processes, deals
 * the messages of the given batches out to them (at most WINDOW jobs
 * outstanding per remote), and prints one summary line:
 *	drive: N jobs, D delivered, F failed, R deferred, S s, remote cpu C s
 *
 *	drive REMOTE SPOOL DOMAIN SESSIONS WINDOW BATCH...
 *
 * One process and poll(), so that the driver itself costs little next to
 * the remotes it measures.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "proto.h"
#include "spool.h"

struct job {
	int fd;
	char *line;
};

struct remote_proc {
	pid_t pid;
	int sock;
	struct buf in;
	size_t next_job, outstanding, done;
	int greeted, quit_sent;
};

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
send_job(struct remote_proc *r, const struct job *j)
{
	struct iovec iov = {j->line, strlen(j->line)};
	union {
		struct cmsghdr align;
		char space[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr mh = {0};
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.space;
	mh.msg_controllen = sizeof control.space;
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &j->fd, sizeof(int));
	/* Blocking socket: the line (small) and its descriptor go together. */
	if (sendmsg(r->sock, &mh, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) {
		perror("drive: sendmsg");
		exit(111);
	}
}

int
main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: drive REMOTE SPOOL DOMAIN SESSIONS WINDOW BATCH...\n");
		return 100;
	}
	const char *remote = argv[1], *spool = argv[2], *domain = argv[3];
	size_t nsessions = (size_t)atoi(argv[4]), window = (size_t)atoi(argv[5]);
	signal(SIGPIPE, SIG_IGN);

	/* Every message of every batch becomes a job line with its fd. */
	struct job *jobs = NULL;
	size_t njobs = 0;
	for (int i = 6; i < argc; i++) {
		struct buf err = BUF_INIT;
		int permanent;
		struct spool_reader *rd = spool_reader_open(argv[i], &err, &permanent);
		if (rd == NULL) {
			fprintf(stderr, "drive: %s\n", err.data);
			return 111;
		}
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		struct spool_read_message m;
		while (spool_reader_next(rd, &m, &err) == 1) {
			struct buf line = BUF_INIT;
			buf_printf(&line, "job %d:%zu %lld %zu %s %zu ", i, m.index, m.body_offset,
				   m.body_len, m.deflate ? "deflate" : "identity", m.len);
			proto_field(&line, m.sender);
			buf_append_char(&line, ' ');
			proto_field(&line, m.recipient);
			buf_append_char(&line, '\n');
			jobs = xrealloc(jobs, (njobs + 1) * sizeof *jobs);
			jobs[njobs++] = (struct job){fd, line.data};
		}
		spool_reader_close(rd);
		buf_free(&err);
	}

	struct remote_proc *rp = xcalloc(nsessions, sizeof *rp);
	struct pollfd *pfd = xcalloc(nsessions, sizeof *pfd);
	double start = now();
	for (size_t i = 0; i < nsessions; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
			perror("drive: socketpair");
			return 111;
		}
		pid_t pid = fork();
		if (pid == 0) {
			dup2(sv[1], 0);
			dup2(sv[1], 1);
			execl(remote, remote, "--spool", spool, "--session", domain, (char *)NULL);
			_exit(111);
		}
		close(sv[1]);
		rp[i].pid = pid;
		rp[i].sock = sv[0];
		rp[i].next_job = i; /* jobs i, i+n, i+2n ... */
	}
	size_t delivered = 0, failed = 0, deferred = 0, results = 0;
	while (results < njobs) {
		for (size_t i = 0; i < nsessions; i++) {
			struct remote_proc *r = &rp[i];
			while (r->greeted && r->outstanding < window && r->next_job < njobs) {
				send_job(r, &jobs[r->next_job]);
				r->next_job += nsessions;
				r->outstanding++;
			}
			pfd[i] = (struct pollfd){r->sock, POLLIN, 0};
		}
		if (poll(pfd, nsessions, 30000) <= 0) {
			fprintf(stderr, "drive: remotes silent for 30 s\n");
			return 111;
		}
		for (size_t i = 0; i < nsessions; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			struct remote_proc *r = &rp[i];
			char b[65536];
			ssize_t n = read(r->sock, b, sizeof b);
			if (n <= 0) {
				fprintf(stderr, "drive: remote %zu ended early\n", i);
				return 111;
			}
			buf_append(&r->in, b, (size_t)n);
			char *p = r->in.data, *end = p + r->in.len, *nl;
			while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
				if (!r->greeted) {
					r->greeted = 1;
					static const char hello[] = "hello mailshot-sched 1\n";
					if (write(r->sock, hello, sizeof hello - 1) < 0)
						return 111;
				} else if (strncmp(p, "result ", 7) == 0) {
					/* result ID RCPT STATUS ... */
					char *s = p + 7;
					for (int k = 0; k < 2 && s; k++)
						s = memchr(s, ' ', (size_t)(nl - s)) + 1;
					if (strncmp(s, "delivered", 9) == 0)
						delivered++;
					else if (strncmp(s, "failed", 6) == 0)
						failed++;
					else
						deferred++;
					results++;
					r->outstanding--;
				}
				p = nl + 1;
			}
			size_t left = (size_t)(end - p);
			memmove(r->in.data, p, left);
			buf_truncate(&r->in, left);
		}
	}
	double cpu = 0;
	for (size_t i = 0; i < nsessions; i++) {
		if (write(rp[i].sock, "quit\n", 5) < 0)
			perror("drive: quit");
		struct rusage ru;
		int status;
		wait4(rp[i].pid, &status, 0, &ru);
		cpu += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
		close(rp[i].sock);
		buf_free(&rp[i].in);
	}
	double el = now() - start;
	printf("drive: %zu jobs, %zu delivered, %zu failed, %zu deferred, %.3f s, remote cpu %.3f s\n",
	       njobs, delivered, failed, deferred, el, cpu);
	for (size_t i = 0; i < njobs; i++)
		free(jobs[i].line);
	free(jobs);
	free(rp);
	free(pfd);
	return delivered == njobs ? 0 : 1;
}
