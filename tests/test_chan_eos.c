/*
 * test_chan_eos.c: the end of a stream, as state in the channel.
 *
 * Pins the bugs of issue 7 (channels part): a reader that opened after its
 * writer had closed waited forever; MPMC writers that did not overlap in
 * time ended the stream at the first close and lost the second's messages;
 * a writer killed by SIGKILL looked exactly like a clean close. And two
 * that were found beside them: a reader among many writers held a pidfd
 * per writer (a 1024-descriptor limit ran out), and a planted "armed
 * reader" entry made a writer send a datagram to any abstract socket it
 * named.
 *
 * Every case runs for every kind where it applies; processes whose
 * lifetimes do not overlap are forked one after the other (the first has
 * exited before the second starts). Every wait is bounded: receives take a
 * timeout, children are reaped with test_wait_child, and the watchdog of
 * test_chan_watchdog.h stops a case that hangs with its channels dumped.
 */
#include "test.h"
#include "test_chan_watchdog.h"

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#define BOUND SHMKIT_CHAN_MS(3000) /* no receive in here waits longer */

static const shmkit_chan_kind kinds[] = {SHMKIT_CHAN_SPSC, SHMKIT_CHAN_MPMC,
					 SHMKIT_CHAN_BROADCAST};

static const char *spec_new(char *buf, size_t len)
{
	snprintf(buf, len, "posix:%s", test_name("eos"));
	return buf;
}

/* A channel with no endpoint of its own (as `shmkit chan create` makes). */
static shmkit_chan *make(const char *spec, shmkit_chan_kind kind,
			 uint32_t writers)
{
	shmkit_chan_opts o = {0};
	shmkit_chan *ch;

	o.kind = kind;
	o.capacity = kind == SHMKIT_CHAN_SPSC ? 64 * 1024 : 1024;
	o.max_msg = 64;
	o.writers = writers;
	ASSERT_OK(shmkit_chan_create(spec, &o, &ch));
	chan_wd_watch(ch);
	return ch;
}

static shmkit_chan *open_as(const char *spec, shmkit_chan_role role)
{
	shmkit_chan *ch;

	ASSERT_OK(shmkit_chan_open(spec, role, &ch));
	chan_wd_watch(ch);
	return ch;
}

static void send_n(shmkit_chan *w, uint32_t first, uint32_t n)
{
	uint32_t i;

	for (i = first; i < first + n; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, sizeof(i), BOUND));
}

/* A writer process: opens, sends [first, first+n), closes (or, if die,
 * is killed with its stream unclosed), and is reaped before we go on. */
static void writer_process(const char *spec, uint32_t first, uint32_t n,
			   int die)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan *w;
		uint32_t i;

		if (shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w) < 0)
			_exit(2);
		for (i = first; i < first + n; i++)
			if (shmkit_chan_send(w, &i, sizeof(i), BOUND) < 0)
				_exit(3);
		if (die)
			raise(SIGKILL);
		_exit(shmkit_chan_close(w) < 0 ? 4 : 0);
	}
	if (die) {
		int st = test_wait_child(pid, 10000, "writer");
		ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	} else {
		test_expect_child_ok(pid, 10000, "writer");
	}
}

/*
 * Receive until the end; every value in [0, n) must come exactly once, in
 * order where the kind keeps it (a single writer here), and the end must be
 * want (-EPIPE or -ECONNRESET). Returns how many came.
 */
static uint32_t drain(shmkit_chan *r, uint32_t n, int want)
{
	uint8_t seen[4096] = {0};
	uint32_t v, got = 0;
	ssize_t k;

	ASSERT(n <= sizeof(seen));
	while ((k = shmkit_chan_recv(r, &v, sizeof(v), BOUND)) >= 0) {
		ASSERT_EQ(k, sizeof(v));
		ASSERT(v < n);
		if (seen[v]++)
			FAIL_("message %u twice", v);
		got++;
	}
	if (k != want)
		FAIL_("the end was %s, expected %s", shmkit_err_name((int)k),
		      shmkit_err_name(want));
	return got;
}

/* 1. A reader that opens after its writer has closed drains and ends. */
static void reader_after_writer_closed(void)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char spec[128];
		shmkit_chan *adm, *r;
		uint32_t v;

		adm = make(spec_new(spec, sizeof(spec)), kinds[i], 0);
		writer_process(spec, 0, 100, 0);
		r = open_as(spec, SHMKIT_CHAN_READER);
		if (kinds[i] == SHMKIT_CHAN_BROADCAST) {
			/* Broadcast readers start at the next message; the
			 * oldest ones are still in the ring for rewind. */
			ASSERT_EQ(shmkit_chan_rewind(r), 100);
		}
		ASSERT_EQ(drain(r, 100, -EPIPE), 100);
		/* Said every time, also without waiting, until a writer
		 * comes back. */
		ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v), 0), EPIPE);
		ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v),
					    SHMKIT_CHAN_FOREVER),
			   EPIPE);
		ASSERT_OK(shmkit_chan_close(r));
		/* A reader that opens later still sees the end at once. */
		r = open_as(spec, SHMKIT_CHAN_READER);
		ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v),
					    SHMKIT_CHAN_FOREVER),
			   EPIPE);
		ASSERT_OK(shmkit_chan_close(r));
		ASSERT_OK(shmkit_chan_destroy(adm));
	}
}

/* 2. A reader that starts before any writer waits for the first one, and
 * a writer that opens after the end begins a new stream. */
static void first_writer_then_new_stream(void)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char spec[128];
		shmkit_chan *adm, *r, *w;
		shmkit_chan_info in;
		uint32_t v;

		adm = make(spec_new(spec, sizeof(spec)), kinds[i], 0);
		r = open_as(spec, SHMKIT_CHAN_READER);
		ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v), 0), EAGAIN);
		ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v),
					    SHMKIT_CHAN_MS(50)),
			   ETIMEDOUT);
		writer_process(spec, 0, 10, 0);
		ASSERT_EQ(drain(r, 10, -EPIPE), 10);
		/* A new writer: the stream is open again. */
		w = open_as(spec, SHMKIT_CHAN_WRITER);
		ASSERT(shmkit_chan_stat(adm, &in, NULL, 0) >= 0);
		ASSERT_EQ(in.stream & SHMKIT_CHAN_STREAM_ENDED, 0);
		ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v),
					    SHMKIT_CHAN_MS(50)),
			   ETIMEDOUT);
		send_n(w, 20, 2);
		ASSERT_EQ(shmkit_chan_recv(r, &v, sizeof(v), BOUND), 4);
		ASSERT_EQ(v, 20);
		ASSERT_EQ(shmkit_chan_recv(r, &v, sizeof(v), BOUND), 4);
		ASSERT_EQ(v, 21);
		ASSERT_OK(shmkit_chan_close(w));
		ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v), BOUND), EPIPE);
		ASSERT(shmkit_chan_stat(adm, &in, NULL, 0) >= 0);
		ASSERT(in.stream & SHMKIT_CHAN_STREAM_ENDED);
		ASSERT_EQ(in.stream & SHMKIT_CHAN_STREAM_RESET, 0);
		ASSERT_OK(shmkit_chan_close(r));
		ASSERT_OK(shmkit_chan_destroy(adm));
	}
}

/* A reader child for the MPMC cases: counts into a pipe what it got. */
static pid_t reader_process(const char *spec, int out)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan *r;
		uint32_t v;
		ssize_t k;

		if (shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r) < 0)
			_exit(2);
		if (write(out, "r", 1) != 1)
			_exit(2);
		while ((k = shmkit_chan_recv(r, &v, sizeof(v),
					     SHMKIT_CHAN_MS(10000))) == 4)
			if (write(out, &v, sizeof(v)) != sizeof(v))
				_exit(2);
		shmkit_chan_close(r);
		_exit(k == -EPIPE ? 0 : k == -ECONNRESET ? 10 : 5);
	}
	return pid;
}

/*
 * 3. MPMC, writers = 2: two writer processes one after the other (the
 * first has exited before the second starts), two readers: every message
 * arrives exactly once and the readers end only after the second writer.
 * The shell form of the bug: seq 1 1000 | chan send & seq 1001 2000 |
 * chan send with two readers lost 1000 messages.
 */
static void mpmc_expected_writers(void)
{
	char spec[128];
	shmkit_chan *adm, *probe;
	shmkit_chan_info in;
	uint8_t seen[2000] = {0};
	pid_t rd[2];
	int p[2], st, i;
	uint32_t v, total = 0;

	adm = make(spec_new(spec, sizeof(spec)), SHMKIT_CHAN_MPMC, 2);
	ASSERT(pipe(p) == 0);
	for (i = 0; i < 2; i++) {
		char c;
		rd[i] = reader_process(spec, p[1]);
		ASSERT_EQ(read(p[0], &c, 1), 1);
	}
	close(p[1]);
	writer_process(spec, 0, 1000, 0);
	/* One of two expected writers has been and gone: not the end. Once
	 * the readers have taken everything, a third reader is kept waiting. */
	for (i = 0; i < 5000; i++) {
		ASSERT(shmkit_chan_stat(adm, &in, NULL, 0) >= 0);
		if (in.used == 0)
			break;
		poll(NULL, 0, 1);
	}
	ASSERT_EQ(in.used, 0);
	ASSERT_EQ(in.writers_expected, 2);
	ASSERT_EQ(in.writers_left, 1);
	ASSERT_EQ(in.stream & SHMKIT_CHAN_STREAM_ENDED, 0);
	probe = open_as(spec, SHMKIT_CHAN_READER);
	ASSERT_ERR(shmkit_chan_recv(probe, &v, sizeof(v), SHMKIT_CHAN_MS(100)),
		   ETIMEDOUT);
	ASSERT_OK(shmkit_chan_close(probe));
	writer_process(spec, 1000, 1000, 0);
	for (i = 0; i < 2; i++) {
		st = test_wait_child(rd[i], 15000, "reader");
		ASSERT(WIFEXITED(st));
		ASSERT_EQ(WEXITSTATUS(st), 0);
	}
	while (read(p[0], &v, sizeof(v)) == sizeof(v)) {
		ASSERT(v < 2000);
		if (seen[v]++)
			FAIL_("message %u twice", v);
		total++;
	}
	close(p[0]);
	ASSERT_EQ(total, 2000);
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/* 4. Without writers set, the stream ends when its last open writer
 * closes: the rule that lost messages above, still there by default. */
static void mpmc_default_ends_at_last_close(void)
{
	char spec[128];
	shmkit_chan *adm, *r, *w1, *w2;

	adm = make(spec_new(spec, sizeof(spec)), SHMKIT_CHAN_MPMC, 0);
	r = open_as(spec, SHMKIT_CHAN_READER);
	w1 = open_as(spec, SHMKIT_CHAN_WRITER);
	w2 = open_as(spec, SHMKIT_CHAN_WRITER);
	send_n(w1, 0, 5);
	ASSERT_OK(shmkit_chan_close(w1));
	/* w2 is still open: not the end. */
	ASSERT_EQ(shmkit_chan_recv(r, &(uint32_t){0}, 4, BOUND), 4);
	send_n(w2, 5, 5);
	ASSERT_OK(shmkit_chan_close(w2));
	ASSERT_EQ(drain(r, 10, -EPIPE), 9);
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/*
 * 5. A writer killed by SIGKILL: its readers get everything it published
 * and then -ECONNRESET, not the -EPIPE of a clean close; stat names it. A
 * reader that opens after the kill is told the same. With writers = 2 the
 * death of the first writer shows when the second, clean one has closed.
 */
static void killed_writer_is_reset(void)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char spec[128];
		shmkit_chan *adm, *r;
		shmkit_chan_info in;
		pid_t pid;
		int st;

		adm = make(spec_new(spec, sizeof(spec)), kinds[i], 0);
		r = open_as(spec, SHMKIT_CHAN_READER);
		pid = fork();
		ASSERT(pid >= 0);
		if (pid == 0) {
			shmkit_chan *w;
			uint32_t k;
			if (shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w) < 0)
				_exit(2);
			for (k = 0; k < 50; k++)
				if (shmkit_chan_send(w, &k, 4, BOUND) < 0)
					_exit(3);
			raise(SIGKILL);
		}
		st = test_wait_child(pid, 10000, "writer");
		ASSERT(WIFSIGNALED(st));
		ASSERT_EQ(drain(r, 50, -ECONNRESET), 50);
		ASSERT(shmkit_chan_stat(adm, &in, NULL, 0) >= 0);
		ASSERT_EQ(in.stream & (SHMKIT_CHAN_STREAM_ENDED |
				       SHMKIT_CHAN_STREAM_RESET),
			  SHMKIT_CHAN_STREAM_ENDED | SHMKIT_CHAN_STREAM_RESET);
		ASSERT_EQ(in.dead_writer, pid);
		ASSERT_OK(shmkit_chan_close(r));
		r = open_as(spec, SHMKIT_CHAN_READER);
		ASSERT_ERR(shmkit_chan_recv(r, &st, 4, SHMKIT_CHAN_FOREVER),
			   ECONNRESET);
		ASSERT_OK(shmkit_chan_close(r));
		ASSERT_OK(shmkit_chan_destroy(adm));
	}
	{
		char spec[128];
		shmkit_chan *adm, *r;

		adm = make(spec_new(spec, sizeof(spec)), SHMKIT_CHAN_MPMC, 2);
		r = open_as(spec, SHMKIT_CHAN_READER);
		shmkit_chan_info in;

		writer_process(spec, 0, 20, 1);
		/* One of two expected writers died: not over yet. */
		ASSERT(shmkit_chan_stat(adm, &in, NULL, 0) >= 0);
		ASSERT_EQ(in.stream & SHMKIT_CHAN_STREAM_ENDED, 0);
		ASSERT(in.stream & SHMKIT_CHAN_STREAM_RESET);
		writer_process(spec, 20, 20, 0);
		ASSERT_EQ(drain(r, 40, -ECONNRESET), 40);
		ASSERT_OK(shmkit_chan_close(r));
		ASSERT_OK(shmkit_chan_destroy(adm));
	}
}

/*
 * 6. shmkit_chan_shutdown(): one writer ends the stream for every reader
 * while another writer is still open; no writer of that stream sends
 * after it; a writer that opens later begins a new stream, which the
 * leftover writer of the old one does not hold open.
 */
static void shutdown_ends_for_all(void)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char spec[128];
		shmkit_chan *adm, *r, *w1, *w2 = NULL, *w3;
		shmkit_chan_info in;
		void *p;
		uint32_t v = 7;

		adm = make(spec_new(spec, sizeof(spec)), kinds[i], 0);
		r = open_as(spec, SHMKIT_CHAN_READER);
		w1 = open_as(spec, SHMKIT_CHAN_WRITER);
		if (kinds[i] == SHMKIT_CHAN_MPMC)
			w2 = open_as(spec, SHMKIT_CHAN_WRITER);
		send_n(w1, 0, 3);
		ASSERT_OK(shmkit_chan_reserve(w1, 4, &p, 0));
		ASSERT_ERR(shmkit_chan_shutdown(w1), EBUSY);
		ASSERT_OK(shmkit_chan_cancel(w1));
		ASSERT_ERR(shmkit_chan_shutdown(r), EBADF);
		ASSERT_OK(shmkit_chan_shutdown(w1));
		ASSERT_OK(shmkit_chan_shutdown(w1)); /* a no-op */
		ASSERT_ERR(shmkit_chan_send(w1, &v, 4, 0), EPIPE);
		ASSERT_ERR(shmkit_chan_reserve(w1, 4, &p, 0), EPIPE);
		if (w2)
			ASSERT_ERR(shmkit_chan_send(w2, &v, 4, 0), EPIPE);
		/* The reader drains what came before, then the end. */
		ASSERT_EQ(drain(r, 3, -EPIPE), 3);
		ASSERT(shmkit_chan_stat(adm, &in, NULL, 0) >= 0);
		ASSERT(in.stream & SHMKIT_CHAN_STREAM_SHUTDOWN);
		ASSERT(in.stream & SHMKIT_CHAN_STREAM_ENDED);
		ASSERT_OK(shmkit_chan_close(w1));
		w3 = open_as(spec, SHMKIT_CHAN_WRITER);
		if (w2) /* of the stream that was shut down */
			ASSERT_ERR(shmkit_chan_send(w2, &v, 4, 0), EPIPE);
		send_n(w3, 40, 1);
		ASSERT_EQ(shmkit_chan_recv(r, &v, 4, BOUND), 4);
		ASSERT_EQ(v, 40);
		ASSERT_OK(shmkit_chan_close(w3));
		ASSERT_ERR(shmkit_chan_recv(r, &v, 4, BOUND), EPIPE);
		ASSERT_OK(shmkit_chan_close(w2));
		ASSERT_OK(shmkit_chan_close(r));
		ASSERT_OK(shmkit_chan_destroy(adm));
	}
}

/* A reader asleep in another process wakes with -EPIPE at shutdown. */
static void shutdown_wakes_blocked_reader(void)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		char spec[128];
		shmkit_chan *adm, *w;
		pid_t pid;
		int p[2];
		char c;

		adm = make(spec_new(spec, sizeof(spec)), kinds[i], 0);
		w = open_as(spec, SHMKIT_CHAN_WRITER);
		ASSERT(pipe(p) == 0);
		pid = fork();
		ASSERT(pid >= 0);
		if (pid == 0) {
			shmkit_chan *r;
			uint32_t v;
			ssize_t k;

			if (shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r) < 0)
				_exit(2);
			shmkit_chan_set_wait(r, SHMKIT_CHAN_BLOCK, 0);
			if (write(p[1], "r", 1) != 1)
				_exit(2);
			k = shmkit_chan_recv(r, &v, 4, SHMKIT_CHAN_FOREVER);
			_exit(k == -EPIPE ? 0 : 1);
		}
		close(p[1]);
		ASSERT_EQ(read(p[0], &c, 1), 1);
		close(p[0]);
		poll(NULL, 0, 50); /* asleep by now */
		ASSERT_OK(shmkit_chan_shutdown(w));
		test_expect_child_ok(pid, 5000, "reader blocked at shutdown");
		ASSERT_OK(shmkit_chan_close(w));
		ASSERT_OK(shmkit_chan_destroy(adm));
	}
}

/* A writer blocked on a full channel wakes with -EPIPE at shutdown. */
static void shutdown_wakes_blocked_writer(void)
{
	char spec[128];
	shmkit_chan_opts o = {0};
	shmkit_chan *adm, *r, *w1;
	pid_t pid;
	uint32_t v = 0;

	o.kind = SHMKIT_CHAN_MPMC;
	o.capacity = 2;
	o.max_msg = 4;
	ASSERT_OK(shmkit_chan_create(spec_new(spec, sizeof(spec)), &o, &adm));
	r = open_as(spec, SHMKIT_CHAN_READER);
	w1 = open_as(spec, SHMKIT_CHAN_WRITER);
	send_n(w1, 0, 2); /* full */
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan *w2;
		int k;
		if (shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w2) < 0)
			_exit(2);
		shmkit_chan_set_wait(w2, SHMKIT_CHAN_BLOCK, 0);
		k = shmkit_chan_send(w2, &v, 4, SHMKIT_CHAN_FOREVER);
		_exit(k == -EPIPE ? 0 : 1);
	}
	poll(NULL, 0, 50);
	ASSERT_OK(shmkit_chan_shutdown(w1));
	test_expect_child_ok(pid, 5000, "writer blocked on a full channel");
	ASSERT_EQ(drain(r, 2, -EPIPE), 2);
	ASSERT_OK(shmkit_chan_close(w1));
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/* 7. The option is checked, and the reason is given. */
static void writers_option_checked(void)
{
	shmkit_chan_opts o = {0};
	size_t size;

	o.kind = SHMKIT_CHAN_MPMC;
	o.writers = (1u << 24) + 1;
	ASSERT_ERR(shmkit_chan_size(&o, &size), EINVAL);
	ASSERT(shmkit_chan_opts_check(&o) != NULL);
	ASSERT(strstr(shmkit_chan_opts_check(&o), "writers"));
	o.writers = 1u << 24;
	ASSERT_OK(shmkit_chan_size(&o, &size));
	ASSERT(shmkit_chan_opts_check(&o) == NULL);
	o.kind = SHMKIT_CHAN_SPSC;
	o.capacity = 100;
	ASSERT(strstr(shmkit_chan_opts_check(&o), "256 B"));
	ASSERT(strstr(shmkit_chan_opts_check(NULL), "kind"));
}

/* 8. The event loop learns the end: arm says "go round", recv ends. */
static void event_loop_sees_end(void)
{
	char spec[128];
	shmkit_chan *adm, *r, *w;
	struct pollfd pfd;
	uint32_t v;

	adm = make(spec_new(spec, sizeof(spec)), SHMKIT_CHAN_SPSC, 0);
	r = open_as(spec, SHMKIT_CHAN_READER);
	w = open_as(spec, SHMKIT_CHAN_WRITER);
	pfd.fd = shmkit_chan_fd(r);
	pfd.events = POLLIN;
	ASSERT(pfd.fd >= 0);
	ASSERT_ERR(shmkit_chan_recv(r, &v, 4, 0), EAGAIN);
	ASSERT_EQ(shmkit_chan_arm(r), 0);
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_EQ(poll(&pfd, 1, 3000), 1);
	ASSERT_ERR(shmkit_chan_recv(r, &v, 4, 0), EPIPE);
	ASSERT_EQ(shmkit_chan_arm(r), 1);
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/*
 * 9. A reader among many writers in other processes keeps at most
 * CHAN_PIDFDS pidfds, so the descriptor limit holds however many writers
 * there are; its event-loop descriptor still wakes when the writers it
 * has no pidfd for die (a timer covers them), and the stream then ends.
 */
#define MANY 48
static void pidfds_bounded(void)
{
	char spec[128];
	shmkit_chan_opts o = {0};
	shmkit_chan *adm, *r;
	pid_t kids[MANY];
	struct pollfd pfd;
	int i, fds0, fds1, st, pass;
	uint32_t v;

	o.kind = SHMKIT_CHAN_MPMC;
	o.max_endpoints = MANY + 4;
	o.max_msg = 4;
	ASSERT_OK(shmkit_chan_create(spec_new(spec, sizeof(spec)), &o, &adm));
	for (i = 0; i < MANY; i++)
		kids[i] = chan_holder(spec, SHMKIT_CHAN_WRITER, NULL, 0);
	fds0 = test_count_fds();
	r = open_as(spec, SHMKIT_CHAN_READER); /* checks every writer */
	pfd.fd = shmkit_chan_fd(r);
	pfd.events = POLLIN;
	ASSERT(pfd.fd >= 0);
	ASSERT_ERR(shmkit_chan_recv(r, &v, 4, 0), EAGAIN);
	ASSERT_EQ(shmkit_chan_arm(r), 0);
	fds1 = test_count_fds();
	/* The segment, at most 32 pidfds (the documented budget), socket +
	 * epoll + timer. */
	if (fds1 - fds0 > 1 + 32 + 3)
		FAIL_("a reader of %d writers holds %d descriptors", MANY,
		      fds1 - fds0);
	/*
	 * First the writers it watches with a pidfd, then the others. Each
	 * group is killed by a helper while the reader sleeps in poll(), as
	 * an event loop would: the second group can wake it only through the
	 * timer.
	 */
	for (pass = 0; pass < 2; pass++) {
		pid_t victims[MANY], killer;
		int nv = 0, j;

		for (i = 0; i < (int)r->nep; i++) {
			uint64_t ow = __atomic_load_n(&r->eps[i].owner,
						      __ATOMIC_ACQUIRE);

			if (ow && (uint32_t)i != r->index &&
			    (r->peers[i].pin >= 0) == (pass == 0))
				victims[nv++] = EP_PID(ow);
		}
		ASSERT(nv > 0);
		ASSERT_ERR(shmkit_chan_recv(r, &v, 4, 0), EAGAIN);
		ASSERT_EQ(shmkit_chan_arm(r), 0);
		killer = fork();
		ASSERT(killer >= 0);
		if (killer == 0) {
			poll(NULL, 0, 50);
			for (j = 0; j < nv; j++)
				kill(victims[j], SIGKILL);
			_exit(0);
		}
		for (i = 0; i < 100; i++) {
			shmkit_chan_info in;
			ssize_t k;

			if (poll(&pfd, 1, 3000) != 1)
				FAIL_("pass %d: the descriptor stayed quiet "
				      "with %d writers killed",
				      pass, nv);
			k = shmkit_chan_recv(r, &v, 4, 0);
			if (k == -ECONNRESET)
				break;
			ASSERT_EQ(k, -EAGAIN);
			ASSERT(shmkit_chan_stat(r, &in, NULL, 0) >= 0);
			if (pass == 0 && in.writers == (unsigned)(MANY - nv))
				break;
			while (shmkit_chan_arm(r) == 1) {
				k = shmkit_chan_recv(r, &v, 4, 0);
				if (k == -ECONNRESET)
					break;
			}
			if (k == -ECONNRESET)
				break;
		}
		ASSERT(i < 100);
		test_expect_child_ok(killer, 5000, "killer");
		for (j = 0; j < nv; j++)
			for (i = 0; i < MANY; i++)
				if (kids[i] == victims[j]) {
					st = test_wait_child(kids[i], 5000,
							     "writer");
					ASSERT(WIFSIGNALED(st));
					kids[i] = 0;
				}
	}
	for (i = 0; i < MANY; i++)
		ASSERT_EQ(kids[i], 0);
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/* An abstract datagram socket of the test's own, and whether it got one. */
static int bind_abstract(const char *name, size_t len)
{
	struct sockaddr_un sa;
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ASSERT(s >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, len);
	ASSERT(bind(s, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) ==
	       0);
	return s;
}

static int got_datagram(int s)
{
	char b[8];
	int n = 0;

	while (recv(s, b, sizeof(b), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

/* Plant an armed reader at entry idx whose wake address is addr. */
static void plant_armed(shmkit_chan *adm, uint32_t idx, uint64_t owner,
			const char *addr, uint32_t len)
{
	struct chan_hdr *h = (struct chan_hdr *)adm->base;
	struct chan_ep *ep = &adm->eps[idx];
	uint32_t i;

	ASSERT(len <= sizeof(ep->addr));
	for (i = 0; i < len; i++)
		ep->addr[i] = (uint8_t)addr[i];
	ep->addr_len = len;
	ep->role = SHMKIT_CHAN_READER;
	__atomic_store_n(&ep->owner, owner, __ATOMIC_RELEASE);
	__atomic_fetch_or(&ep->wflags, EPW_ARMED, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&h->rd_wait, W_ARM_ONE, __ATOMIC_SEQ_CST);
}

/*
 * 10. A hostile peer plants an armed reader whose wake address is some
 * other program's abstract socket: the writer must not send to it. The
 * same planting with an address of shmkit's own form for the entry's own
 * pid does get the byte, so the first half is not vacuous.
 */
static void wake_only_shmkit_names(void)
{
	char spec[128], name[32];
	shmkit_chan *adm, *w;
	uint64_t owner, start, ns;
	pid_t me;
	int victim, ours, n;
	uint32_t v = 1;

	adm = make(spec_new(spec, sizeof(spec)), SHMKIT_CHAN_MPMC, 0);
	ASSERT_OK(shmkit__chan_self(&me, &owner, &start, &ns));
	victim = bind_abstract("\0victim-of-shmkit-test", 22);
	plant_armed(adm, 5, owner, "\0victim-of-shmkit-test", 22);
	w = open_as(spec, SHMKIT_CHAN_WRITER);
	ASSERT_OK(shmkit_chan_send(w, &v, 4, 0));
	poll(NULL, 0, 20);
	ASSERT_EQ(got_datagram(victim), 0);
	/* Our pid in shmkit's form, but planted under another pid. */
	n = snprintf(name + 1, sizeof(name) - 1, "shmkit.%d.%08x", (int)me,
		     0x5eedu);
	name[0] = '\0';
	ours = bind_abstract(name, (size_t)n + 1);
	plant_armed(adm, 6, (owner & ~(UINT64_C(0x7fffff) << 40)) |
				    ((uint64_t)1 << 40),
		    name, (uint32_t)n + 1);
	ASSERT_OK(shmkit_chan_send(w, &v, 4, 0));
	poll(NULL, 0, 20);
	ASSERT_EQ(got_datagram(ours), 0);
	/* The right pid: delivered, once per arm. */
	plant_armed(adm, 7, owner, name, (uint32_t)n + 1);
	ASSERT_OK(shmkit_chan_send(w, &v, 4, 0));
	poll(NULL, 0, 20);
	ASSERT_EQ(got_datagram(ours), 1);
	ASSERT_EQ(got_datagram(victim), 0);
	close(victim);
	close(ours);
	memset(&adm->eps[5], 0, 3 * sizeof(struct chan_ep));
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

CHAN_TEST_MAIN("chan_eos", TEST(reader_after_writer_closed),
	       TEST(first_writer_then_new_stream), TEST(mpmc_expected_writers),
	       TEST(mpmc_default_ends_at_last_close),
	       TEST(killed_writer_is_reset), TEST(shutdown_ends_for_all),
	       TEST(shutdown_wakes_blocked_reader),
	       TEST(shutdown_wakes_blocked_writer),
	       TEST(writers_option_checked), TEST(event_loop_sees_end),
	       TEST(pidfds_bounded), TEST(wake_only_shmkit_names))
