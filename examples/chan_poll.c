/*
 * chan_poll.c: a channel in an event loop, beside a timer.
 *
 * shmkit_chan_fd() gives a descriptor that epoll (or poll, select) reports
 * readable when a call that returned -EAGAIN may now succeed, or a peer
 * died; so one thread can wait on a channel and on sockets, timers or
 * other channels at once, burning no CPU. The parent makes an SPSC channel
 * in an anon: segment (shared with children forked after it; the kernel
 * frees it with its last user) and forks a child that sends a few messages,
 * one every 120 ms, then closes. The parent's loop waits on the channel and
 * on a timerfd that ticks every 50 ms, until the end of the stream.
 *
 * The protocol, for each wait: receive without waiting until -EAGAIN; then
 * shmkit_chan_arm(); if it returns 0, wait on the descriptor; if 1, a
 * message came in meanwhile: receive again.
 *
 *   cc -Wall chan_poll.c -o chan_poll $(pkg-config --cflags --libs shmkit)
 *   ./chan_poll
 */
#include <shmkit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MESSAGES 5
#define MAX_TICKS 100 /* 5 s of ticks: the loop's bound */

static int fail(const char *what, int err)
{
	fprintf(stderr, "chan_poll: %s: %s\n", what, shmkit_strerror(err));
	return 1;
}

/* The child: a writer endpoint of its own in the inherited segment. */
static int produce(shmkit_seg *seg)
{
	struct timespec gap = {0, 120 * 1000 * 1000};
	shmkit_chan *w;
	char msg[32];
	int r, i, n;

	r = shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_WRITER, &w);
	if (r < 0)
		return fail("child: open as writer", r);
	for (i = 1; i <= MESSAGES && r == 0; i++) {
		nanosleep(&gap, NULL);
		n = snprintf(msg, sizeof(msg), "message %d", i);
		r = shmkit_chan_send(w, msg, (size_t)n, SHMKIT_CHAN_MS(1000));
	}
	if (r < 0)
		fail("child: send", r);
	if (shmkit_chan_close(w) < 0 && r == 0) /* ends the stream */
		r = -EIO;
	return r < 0;
}

/* Add fd to the epoll set ep, for reading. */
static int watch(int ep, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int main(void)
{
	shmkit_chan_opts o = {.kind = SHMKIT_CHAN_SPSC,
			      .role = SHMKIT_CHAN_READER};
	struct itimerspec every = {{0, 50 * 1000 * 1000}, {0, 50 * 1000 * 1000}};
	int r, i, nev, cfd, ep = -1, tfd = -1, status, ticks = 0, got = 0;
	struct epoll_event evs[2];
	shmkit_chan *rd;
	uint64_t expired;
	char buf[64];
	ssize_t n = 0;
	pid_t pid;

	r = shmkit_chan_create("anon:", &o, &rd);
	if (r < 0)
		return fail("create anon:", r);
	fflush(stdout); /* before fork: or the child prints it again */
	pid = fork();
	if (pid == 0) {
		r = produce(shmkit_chan_seg(rd));
		fflush(stdout);
		_exit(r);
	}
	if (pid < 0) {
		r = -errno;
		shmkit_chan_close(rd);
		return fail("fork", r);
	}

	/* One epoll set: the channel and the timer. */
	cfd = shmkit_chan_fd(rd); /* the handle owns it: do not close it */
	if (cfd < 0) {
		n = cfd;
		fail("shmkit_chan_fd", cfd);
		goto out;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &every, NULL) < 0 ||
	    watch(ep, cfd) < 0 || watch(ep, tfd) < 0) {
		n = -errno;
		fail("set up epoll and the timer", (int)n);
		goto out;
	}

	for (;;) {
		/* Take all there is, without waiting. */
		while ((n = shmkit_chan_recv(rd, buf, sizeof(buf) - 1,
					     SHMKIT_CHAN_NOWAIT)) >= 0) {
			buf[n] = '\0';
			printf("parent: '%s' after %d ticks\n", buf, ticks);
			got++;
		}
		if (n == -EPIPE)
			break; /* the end of the stream */
		if (n != -EAGAIN) {
			fail("receive", (int)n);
			break;
		}
		r = shmkit_chan_arm(rd);
		if (r < 0) {
			n = r;
			fail("arm", r);
			break;
		}
		if (r == 1)
			continue; /* something came in meanwhile */
		nev = epoll_wait(ep, evs, 2, 5000);
		if (nev < 0 && errno == EINTR)
			continue;
		if (nev <= 0) {
			n = nev < 0 ? -errno : -ETIMEDOUT;
			fail("epoll_wait", (int)n);
			break;
		}
		for (i = 0; i < nev; i++) {
			if (evs[i].data.fd != tfd)
				continue; /* the channel: go round and read */
			if (read(tfd, &expired, sizeof(expired)) > 0)
				ticks += (int)expired;
		}
		if (ticks > MAX_TICKS) {
			n = -ETIMEDOUT;
			fail("waiting for the stream's end", (int)n);
			break;
		}
	}
	if (n == -EPIPE)
		printf("parent: end of stream (%s): %d messages, %d timer "
		       "ticks\n", shmkit_err_name((int)n), got, ticks);
out:
	if (ep >= 0)
		close(ep);
	if (tfd >= 0)
		close(tfd);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "chan_poll: the child failed\n");
		n = -ECHILD;
	}
	/* anon: has no name: closing the last handle frees it. */
	if (shmkit_chan_close(rd) < 0 && n == -EPIPE)
		n = -EIO;
	return n != -EPIPE || got != MESSAGES || ticks < 1;
}
