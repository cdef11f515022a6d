/*
 * chan_stream.c: a producer and a consumer over an SPSC channel.
 *
 * The consumer creates the channel posix:/shmkit-example-stream-<pid> as its
 * reader and forks the producer, which opens the channel by name as its
 * writer, sends a stream of numbered messages and closes, which ends the
 * stream. The consumer reads until the end of the stream, -EPIPE: the end
 * is state kept in the channel, so the consumer drains every message first,
 * however late it reads. Had the producer died without closing, the
 * consumer would get -ECONNRESET instead (the stream may be incomplete).
 * Then the consumer removes the channel.
 *
 *   cc -Wall chan_stream.c -o chan_stream $(pkg-config --cflags --libs shmkit)
 *   ./chan_stream
 */
#include <shmkit.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MESSAGES 1000

static int fail(const char *what, const char *spec, int err)
{
	fprintf(stderr, "chan_stream: %s %s: %s\n", what, spec,
		shmkit_strerror(err));
	return 1;
}

/* The producer: its own writer endpoint, opened by name. */
static int produce(const char *spec)
{
	shmkit_chan *w;
	char msg[64];
	int r, i, n;

	r = shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w);
	if (r < 0)
		return fail("open as writer", spec, r);
	for (i = 1; i <= MESSAGES && r == 0; i++) {
		n = snprintf(msg, sizeof(msg), "message %d of %d", i, MESSAGES);
		/* Waits while the ring is full; -EPIPE if the reader is gone. */
		r = shmkit_chan_send(w, msg, (size_t)n, SHMKIT_CHAN_MS(5000));
	}
	if (r < 0)
		fail("send to", spec, r);
	else
		printf("producer: sent %d messages, closing\n", MESSAGES);
	/* Closing the last writer ends the stream. */
	if (shmkit_chan_close(w) < 0 && r == 0)
		r = -EIO;
	return r < 0;
}

int main(void)
{
	shmkit_chan_opts o = {.kind = SHMKIT_CHAN_SPSC,
			      .role = SHMKIT_CHAN_READER,
			      .capacity = 4096}; /* small: the producer waits */
	char spec[64], buf[64], want[64];
	int r, status, got = 0, bad = 0;
	shmkit_chan *rd;
	ssize_t n;
	pid_t pid;

	snprintf(spec, sizeof(spec), "posix:/shmkit-example-stream-%d",
		 (int)getpid());
	r = shmkit_chan_create(spec, &o, &rd);
	if (r < 0)
		return fail("create", spec, r);
	printf("consumer: created %s\n", spec);
	fflush(stdout); /* before fork: or the child prints it again */

	pid = fork();
	if (pid == 0) {
		/* The inherited reader handle is the parent's: leave it. */
		r = produce(spec);
		fflush(stdout);
		_exit(r);
	}
	if (pid < 0) {
		fail("fork for", spec, -errno);
		shmkit_chan_destroy(rd);
		return 1;
	}

	/* Read to the end of the stream; each wait is bounded. */
	for (;;) {
		n = shmkit_chan_recv(rd, buf, sizeof(buf) - 1,
				     SHMKIT_CHAN_MS(5000));
		if (n < 0)
			break;
		buf[n] = '\0';
		snprintf(want, sizeof(want), "message %d of %d", ++got,
			 MESSAGES);
		if (strcmp(buf, want))
			bad++;
		if (got == 1 || got == MESSAGES)
			printf("consumer: '%s'\n", buf);
	}
	if (n == -EPIPE)
		printf("consumer: end of stream (%s) after %d messages, "
		       "%d out of order\n", shmkit_err_name((int)n), got, bad);
	else
		fail("receive from", spec, (int)n);

	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "chan_stream: the producer failed\n");
		n = -ECHILD;
	}
	/* Close our endpoint and remove the channel's segment. */
	r = shmkit_chan_destroy(rd);
	if (r < 0)
		return fail("destroy", spec, r);
	return n != -EPIPE || got != MESSAGES || bad != 0;
}
