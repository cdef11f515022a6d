/*
 * memfd_pass.c: hand a sealed memfd to another process over a Unix socket.
 *
 * A memfd has no name anyone could guess, squat on or leak: a process gets
 * it only by inheritance or by being sent its descriptor. The sender creates
 * one with SHMKIT_F_SEAL, writes a greeting into it and sends it over one
 * end of a socketpair with shmkit_send_fd(); the receiver, forked before the
 * memfd existed, gets it with shmkit_recv_fd(), which maps it at the size
 * the descriptor says (never a size the message claims).
 *
 * SHMKIT_F_SEAL seals the size, F_SEAL_SHRINK and F_SEAL_GROW, and then
 * F_SEAL_SEAL, so nobody can add or remove a seal: the receiver cannot
 * shrink the memfd under the sender (whose next access past the new end
 * would be SIGBUS), nor grow it. The receiver shows each of those refused.
 * The contents are not sealed: both map it shared and read-write, and the
 * receiver answers in it. (To keep a receiver from writing, it attaches
 * with SHMKIT_F_RDONLY; that is its choice, not a seal.)
 *
 * The memfd goes with its last descriptor and mapping: nothing can be left
 * behind, whatever happens to either process.
 *
 *   cc -Wall memfd_pass.c -o memfd_pass $(pkg-config --cflags --libs shmkit)
 *   ./memfd_pass
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* the seals: F_ADD_SEALS, F_GET_SEALS */
#endif
#include <shmkit.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE 4096

static int fail(const char *who, const char *what, int err)
{
	fprintf(stderr, "memfd_pass: %s: %s: %s\n", who, what,
		shmkit_strerror(err));
	return 1;
}

/* Expect a refusal: 0 if what was refused with -EPERM, as sealed. */
static int refused(const char *what, int r)
{
	if (r != -EPERM) {
		fprintf(stderr, "memfd_pass: receiver: %s: %s, not EPERM\n",
			what, r ? shmkit_strerror(r) : "allowed");
		return 1;
	}
	printf("receiver: %s: refused (%s)\n", what, shmkit_err_name(r));
	return 0;
}

/* The receiving process. */
static int receive(int sock)
{
	struct timeval limit = {5, 0}; /* a bounded wait for the descriptor */
	shmkit_seg *seg;
	int r, seals, bad = 0;
	char *p;

	if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &limit,
		       sizeof(limit)) < 0)
		return fail("receiver", "setsockopt", -errno);
	r = shmkit_recv_fd(sock, NULL, &seg);
	if (r < 0)
		return fail("receiver", "shmkit_recv_fd", r);
	p = shmkit_addr(seg);
	printf("receiver: got %s, %zu bytes: '%s'\n", shmkit_spec(seg),
	       shmkit_size(seg), p);

	seals = fcntl(shmkit_fd(seg), F_GET_SEALS);
	if (seals < 0) {
		r = -errno;
		shmkit_detach(seg);
		return fail("receiver", "F_GET_SEALS", r);
	}
	printf("receiver: seals:%s%s%s\n",
	       seals & F_SEAL_SHRINK ? " shrink" : "",
	       seals & F_SEAL_GROW ? " grow" : "",
	       seals & F_SEAL_SEAL ? " seal" : "");

	/* Each of these must fail, and change nothing. */
	bad |= refused("grow it to 8192 bytes", shmkit_resize(seg, 2 * SIZE));
	bad |= refused("shrink it to 1024 bytes", shmkit_resize(seg, SIZE / 4));
	bad |= refused("add a write seal",
		       fcntl(shmkit_fd(seg), F_ADD_SEALS, F_SEAL_WRITE) < 0
			       ? -errno : 0);
	if (shmkit_size(seg) != SIZE)
		bad = 1;

	/* The bytes are shared: answer in them. */
	p = shmkit_addr(seg); /* a refused resize may have moved the mapping */
	snprintf(p, SIZE, "the seals held, from pid %d", (int)getpid());
	r = shmkit_detach(seg);
	if (r < 0)
		return fail("receiver", "detach", r);
	return bad;
}

int main(void)
{
	shmkit_opts o = {.flags = SHMKIT_F_SEAL};
	const char *spec = "memfd:shmkit-example-pass";
	int sv[2], r, status;
	shmkit_seg *seg;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return fail("sender", "socketpair", -errno);
	fflush(stdout); /* before fork: or the child prints it again */
	pid = fork();
	if (pid < 0)
		return fail("sender", "fork", -errno);
	if (pid == 0) {
		close(sv[0]);
		r = receive(sv[1]);
		fflush(stdout);
		_exit(r);
	}
	close(sv[1]);

	/* Made after the fork: the receiver can only get it through sv. */
	r = shmkit_create(spec, SIZE, &o, &seg);
	if (r < 0) {
		fail("sender", spec, r);
		close(sv[0]); /* the receiver sees EOF and gives up */
		waitpid(pid, &status, 0);
		return 1;
	}
	strcpy(shmkit_addr(seg), "hello through a socket");
	r = shmkit_send_fd(sv[0], seg);
	if (r < 0)
		fail("sender", "shmkit_send_fd", r);
	else
		printf("sender: sent %s (%zu bytes, sealed) over a socket\n",
		       shmkit_spec(seg), shmkit_size(seg));
	fflush(stdout);
	close(sv[0]);

	if (waitpid(pid, &status, 0) < 0)
		r = -errno;
	else if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		r = -ECHILD;
	if (r == 0)
		printf("sender: reads '%s'\n", (char *)shmkit_addr(seg));
	/* A memfd has no name to remove: this unmaps and closes it, and the
	 * kernel frees it, the receiver's copy being gone already. */
	if (shmkit_destroy(seg) < 0 && r == 0)
		r = -EIO;
	return r < 0;
}
