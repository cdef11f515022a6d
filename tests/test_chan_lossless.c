/*
 * test_chan_lossless.c: broadcast with SHMKIT_CHAN_WAIT_READERS, the
 * lossless fan-out of issue 7: a plain broadcast writer never waits, so a
 * reader that cannot keep up (at 1 MiB a spinning reader lost 27-43% of a
 * cross-core stream) loses messages. With the flag the writer waits for the
 * slowest live reader instead, bounded by the send's timeout or by a lag
 * limit after which it overwrites anyway; a dead reader stops holding it
 * back. Every wait is bounded; the watchdog stops a case that hangs.
 */
#include "test.h"
#include "test_chan_watchdog.h"

#include <poll.h>
#include <stdint.h>

#define BOUND SHMKIT_CHAN_MS(5000)

static shmkit_chan *make(char *spec, size_t len, uint64_t slots,
			 unsigned flags)
{
	shmkit_chan_opts o = {0};
	shmkit_chan *ch;

	snprintf(spec, len, "posix:%s", test_name("loss"));
	o.kind = SHMKIT_CHAN_BROADCAST;
	o.capacity = slots;
	o.max_msg = 64;
	o.flags = flags;
	ASSERT_OK(shmkit_chan_create(spec, &o, &ch));
	chan_wd_watch(ch);
	return ch;
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A reader process: n messages 0..n-1 in order, none lost; slow ones nap. */
static pid_t reader(const char *spec, uint32_t n, int slow, int ready)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan *r;
		uint32_t v, i;

		if (shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r) < 0)
			_exit(2);
		if (write(ready, "r", 1) != 1)
			_exit(2);
		for (i = 0; i < n; i++) {
			if (shmkit_chan_recv(r, &v, 4, BOUND) != 4)
				_exit(3);
			if (v != i)
				_exit(4);
			if (slow && i % 64 == 0)
				poll(NULL, 0, 1);
		}
		_exit(shmkit_chan_lost(r) == 0 ? 0 : 5);
	}
	return pid;
}

/* Two readers, one slow, through 16 slots: every message reaches both. */
static void slow_reader_loses_nothing(void)
{
	char spec[128];
	shmkit_chan *adm, *w;
	shmkit_chan_info in;
	pid_t r[2];
	uint32_t i;
	int p[2], k;

	adm = make(spec, sizeof(spec), 16, SHMKIT_CHAN_WAIT_READERS);
	ASSERT(shmkit_chan_stat(adm, &in, NULL, 0) >= 0);
	ASSERT_EQ(in.flags, SHMKIT_CHAN_WAIT_READERS);
	ASSERT(pipe(p) == 0);
	for (k = 0; k < 2; k++) {
		char c;
		r[k] = reader(spec, 5000, k, p[1]);
		ASSERT_EQ(read(p[0], &c, 1), 1);
	}
	close(p[0]);
	close(p[1]);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	for (i = 0; i < 5000; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, 4, BOUND));
	for (k = 0; k < 2; k++)
		test_expect_child_ok(r[k], 20000, k ? "slow reader" : "reader");
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/*
 * The slowest reader a ring behind: the writer waits (-EAGAIN without a
 * timeout, -ETIMEDOUT with one) and goes on as soon as the reader reads.
 * Without the flag the same send overwrites at once.
 */
static void writer_waits_for_room(void)
{
	char spec[128];
	shmkit_chan *adm, *w, *r;
	uint32_t i, v;
	int64_t t0;

	adm = make(spec, sizeof(spec), 4, SHMKIT_CHAN_WAIT_READERS);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	for (i = 0; i < 4; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	ASSERT_ERR(shmkit_chan_send(w, &i, 4, 0), EAGAIN);
	t0 = now_ns();
	ASSERT_ERR(shmkit_chan_send(w, &i, 4, SHMKIT_CHAN_MS(50)), ETIMEDOUT);
	ASSERT(now_ns() - t0 >= SHMKIT_CHAN_MS(45));
	ASSERT_EQ(shmkit_chan_recv(r, &v, 4, 0), 4);
	ASSERT_EQ(v, 0);
	ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	for (i = 1; i < 5; i++) {
		ASSERT_EQ(shmkit_chan_recv(r, &v, 4, 0), 4);
		ASSERT_EQ(v, i);
	}
	ASSERT_EQ(shmkit_chan_lost(r), 0);
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));

	adm = make(spec, sizeof(spec), 4, 0);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	for (i = 0; i < 5; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	ASSERT_EQ(shmkit_chan_recv(r, &v, 4, 0), 4);
	ASSERT_EQ(v, 1);
	ASSERT_EQ(shmkit_chan_lost(r), 1);
	ASSERT_ERR(shmkit_chan_set_lag_limit(w, 0), ENOTSUP);
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/* With a lag limit the writer holds back that long, then overwrites; the
 * laggard is told what it lost. */
static void lag_limit_then_overwrite(void)
{
	char spec[128];
	shmkit_chan *adm, *w, *r;
	uint32_t i, v;
	int64_t t0, took;

	adm = make(spec, sizeof(spec), 4, SHMKIT_CHAN_WAIT_READERS);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	ASSERT_ERR(shmkit_chan_set_lag_limit(r, 0), ENOTSUP);
	ASSERT_OK(shmkit_chan_set_lag_limit(w, SHMKIT_CHAN_MS(30)));
	for (i = 0; i < 4; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	t0 = now_ns();
	ASSERT_OK(shmkit_chan_send(w, &i, 4, BOUND));
	took = now_ns() - t0;
	if (took < SHMKIT_CHAN_MS(25) || took > SHMKIT_CHAN_MS(2000))
		FAIL_("the lag limit of 30 ms took %lld ms",
		      (long long)(took / 1000000));
	/* Shorter than the limit, the send's own timeout wins. */
	i++;
	ASSERT_ERR(shmkit_chan_send(w, &i, 4, SHMKIT_CHAN_MS(5)), ETIMEDOUT);
	ASSERT_EQ(shmkit_chan_recv(r, &v, 4, 0), 4);
	ASSERT_EQ(v, 1);
	ASSERT_EQ(shmkit_chan_lost(r), 1);
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/* A reader that stops reading and dies does not hold the writer forever;
 * one that opens late does not make it wait for old messages. */
static void dead_reader_lets_go(void)
{
	char spec[128];
	shmkit_chan *adm, *w, *late;
	uint32_t i;
	pid_t pid;
	int st;

	adm = make(spec, sizeof(spec), 8, SHMKIT_CHAN_WAIT_READERS);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	for (i = 0; i < 20; i++) /* no reader: nothing to wait for */
		ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &late));
	for (; i < 28; i++) /* a new reader wants only what comes next */
		ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	ASSERT_ERR(shmkit_chan_send(w, &i, 4, 0), EAGAIN);
	ASSERT_OK(shmkit_chan_close(late));
	pid = chan_holder(spec, SHMKIT_CHAN_READER, NULL, 0);
	for (; i < 36; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	ASSERT_ERR(shmkit_chan_send(w, &i, 4, 0), EAGAIN);
	kill(pid, SIGKILL);
	st = test_wait_child(pid, 5000, "reader");
	ASSERT(WIFSIGNALED(st));
	ASSERT_OK(shmkit_chan_send(w, &i, 4, SHMKIT_CHAN_MS(2000)));
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/* The writer of a lossless channel can wait in an event loop: its
 * descriptor polls readable when the reader makes room. */
static void writer_event_loop(void)
{
	char spec[128];
	shmkit_chan *adm, *w, *r;
	struct pollfd pfd;
	uint32_t i, v;

	adm = make(spec, sizeof(spec), 2, SHMKIT_CHAN_WAIT_READERS);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	pfd.fd = shmkit_chan_fd(w);
	pfd.events = POLLIN;
	ASSERT(pfd.fd >= 0);
	for (i = 0; i < 2; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	ASSERT_ERR(shmkit_chan_send(w, &i, 4, 0), EAGAIN);
	ASSERT_EQ(shmkit_chan_arm(w), 0);
	ASSERT_EQ(poll(&pfd, 1, 0), 0);
	ASSERT_EQ(shmkit_chan_recv(r, &v, 4, 0), 4);
	ASSERT_EQ(poll(&pfd, 1, 3000), 1);
	ASSERT_OK(shmkit_chan_send(w, &i, 4, 0));
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/* The flag exists for broadcast only, and the reason says so. */
static void flag_checked(void)
{
	shmkit_chan_opts o = {0};
	size_t size;
	shmkit_chan *adm, *w;
	char spec[128];

	o.kind = SHMKIT_CHAN_SPSC;
	o.flags = SHMKIT_CHAN_WAIT_READERS;
	ASSERT_ERR(shmkit_chan_size(&o, &size), EINVAL);
	ASSERT(strstr(shmkit_chan_opts_check(&o), "broadcast"));
	o.kind = SHMKIT_CHAN_BROADCAST;
	o.flags = 0x80;
	ASSERT_ERR(shmkit_chan_size(&o, &size), EINVAL);
	/* A plain broadcast writer has no descriptor to wait on. */
	adm = make(spec, sizeof(spec), 4, 0);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	ASSERT_ERR(shmkit_chan_fd(w), ENOTSUP);
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

CHAN_TEST_MAIN("chan_lossless", TEST(slow_reader_loses_nothing),
	       TEST(writer_waits_for_room), TEST(lag_limit_then_overwrite),
	       TEST(dead_reader_lets_go), TEST(writer_event_loop),
	       TEST(flag_checked))
