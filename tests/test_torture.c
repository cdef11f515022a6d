/*
 * test_torture.c: SIGKILL at random points, many times over.
 *
 * Each round picks a channel kind and a victim (a writer, a reader, or the
 * creator of a channel), lets traffic flow, and kills the victim with
 * SIGKILL at a random moment. Then it checks what shmkit promises:
 *  - no hang: every wait has a bound, and a blocked peer of the dead one
 *    gets the end of the stream instead of waiting forever: -ECONNRESET for
 *    a reader whose writer was killed, -EPIPE after a clean close and for a
 *    writer whose reader was killed;
 *  - no corrupt or half-written message is ever delivered (every message
 *    carries its own sequence number, length and checksum), and order holds
 *    where the kind promises it;
 *  - a new process can reopen the channel after the crash and carry on;
 *  - shmkit_gc() then leaves no stale ephemeral segment behind, and never
 *    removes the live channel that this process holds for the whole run.
 *    The channels are file: segments in a directory of the test's own on
 *    /dev/shm (tmpfs), and gc collects that directory only: never the
 *    host's /dev/shm.
 *
 * SHMKIT_TORTURE_ROUNDS sets the number of rounds (default 200, what CI
 * runs; docs/reliability.md shows a longer run), SHMKIT_TORTURE_SEED the
 * random seed (printed, so a failure can be replayed).
 */
#include "test.h"

#include <poll.h>
#include <stdint.h>
#include <sys/stat.h>

#define RECV_BOUND_NS SHMKIT_CHAN_MS(2000) /* "no hang": at most this */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic from the seed, good enough here */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* -- messages that prove themselves ------------------------------------ */

struct msg_hdr {
	uint64_t seq; /* writer id in the top 8 bits */
	uint32_t len; /* whole message, header included */
	uint32_t sum;
};

static uint32_t payload_sum(uint64_t seq, const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u ^ (uint32_t)seq ^ (uint32_t)(seq >> 32);
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static size_t make_msg(unsigned char *buf, uint64_t seq, size_t len)
{
	struct msg_hdr h;
	size_t i;

	if (len < sizeof(h))
		len = sizeof(h);
	for (i = sizeof(h); i < len; i++)
		buf[i] = (unsigned char)(seq * 131 + i);
	h.seq = seq;
	h.len = (uint32_t)len;
	h.sum = payload_sum(seq, buf + sizeof(h), len - sizeof(h));
	memcpy(buf, &h, sizeof(h));
	return len;
}

/* The sequence number of an intact message, or fail. */
static uint64_t check_msg(const unsigned char *buf, ssize_t n)
{
	struct msg_hdr h;

	if (n < (ssize_t)sizeof(h))
		FAIL_("a message of %zd bytes: shorter than its header", n);
	memcpy(&h, buf, sizeof(h));
	if (h.len != (uint32_t)n)
		FAIL_("message %llu says %u bytes, arrived with %zd",
		      (unsigned long long)h.seq, h.len, n);
	if (h.sum != payload_sum(h.seq, buf + sizeof(h), (size_t)n - sizeof(h)))
		FAIL_("message %llu is corrupt (checksum)", (unsigned long long)h.seq);
	return h.seq;
}

/* A child's version of check_msg: exits 3 instead of failing the test. */
static int intact(const unsigned char *buf, ssize_t n, uint64_t *seq)
{
	struct msg_hdr h;

	if (n < (ssize_t)sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.len != (uint32_t)n ||
	    h.sum != payload_sum(h.seq, buf + sizeof(h), (size_t)n - sizeof(h)))
		return 0;
	*seq = h.seq;
	return 1;
}

/* -- plumbing ------------------------------------------------------------ */

enum { MAX_MSG = 512 };

static const char *kind_name(shmkit_chan_kind k)
{
	return shmkit_chan_kind_name(k);
}

static int make_chan(const char *spec, shmkit_chan_kind kind,
		     shmkit_chan_role role, shmkit_chan **ch)
{
	shmkit_chan_opts o = {0};

	o.kind = kind;
	o.role = role;
	o.capacity = kind == SHMKIT_CHAN_SPSC ? 4096 : 16;
	o.max_msg = MAX_MSG;
	o.seg_flags = SHMKIT_F_EPHEMERAL;
	return shmkit_chan_create(spec, &o, ch);
}

static void wait_byte(int fd, const char *what)
{
	struct pollfd p = {fd, POLLIN, 0};
	char c;

	if (poll(&p, 1, 5000) != 1 || read(fd, &c, 1) != 1)
		FAIL_("%s: the child never said it was ready", what);
}

static void kill_and_reap(pid_t pid, const char *what)
{
	int st;

	kill(pid, SIGKILL);
	st = test_wait_child(pid, 5000, what);
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		FAIL_("%s: exited with %d before it was killed (it saw a bad "
		      "message or an error)",
		      what, WEXITSTATUS(st));
}

/* A writer child: open, say ready, send numbered messages until killed
 * (or until count, then close cleanly). */
static void writer_child(const char *spec, int ready, unsigned id,
			 uint64_t first, uint64_t count, uint64_t seed)
{
	unsigned char buf[MAX_MSG];
	shmkit_chan *ch;
	uint64_t seq;

	rng_state = seed | 1;
	if (shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &ch) < 0)
		_exit(2);
	if (write(ready, "r", 1) != 1)
		_exit(2);
	for (seq = first; seq < first + count; seq++) {
		size_t len = make_msg(buf, ((uint64_t)id << 56) | seq,
				      16 + rnd() % (MAX_MSG - 16));
		int r;
		do {
			r = shmkit_chan_send(ch, buf, len, SHMKIT_CHAN_MS(100));
		} while (r == -ETIMEDOUT);
		if (r < 0)
			_exit(r == -EPIPE ? 0 : 4);
	}
	shmkit_chan_close(ch);
	_exit(0);
}

/* A reader child: open, say ready, receive and verify until end of stream. */
static void reader_child(const char *spec, int ready, int ordered)
{
	unsigned char buf[MAX_MSG];
	uint64_t last = 0, seq;
	shmkit_chan *ch;

	if (shmkit_chan_open(spec, SHMKIT_CHAN_READER, &ch) < 0)
		_exit(2);
	if (write(ready, "r", 1) != 1)
		_exit(2);
	for (;;) {
		ssize_t n = shmkit_chan_recv(ch, buf, sizeof(buf), RECV_BOUND_NS);
		if (n == -EPIPE)
			break;
		if (n < 0)
			_exit(n == -ETIMEDOUT ? 5 : 6);
		if (!intact(buf, n, &seq))
			_exit(3);
		/* At least once across a reader crash: the message the dead
		 * reader was on may come again, never an older one. */
		if (ordered && seq < last)
			_exit(7);
		last = seq;
	}
	shmkit_chan_close(ch);
	_exit(0);
}

static pid_t spawn_writer(const char *spec, unsigned id, uint64_t first,
			  uint64_t count)
{
	int p[2];
	pid_t pid;
	uint64_t seed = rnd();

	ASSERT(pipe(p) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		writer_child(spec, p[1], id, first, count, seed);
	}
	close(p[1]);
	wait_byte(p[0], "writer");
	close(p[0]);
	return pid;
}

static pid_t spawn_reader(const char *spec, int ordered)
{
	int p[2];
	pid_t pid;

	ASSERT(pipe(p) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		reader_child(spec, p[1], ordered);
	}
	close(p[1]);
	wait_byte(p[0], "reader");
	close(p[0]);
	return pid;
}

/* Receive to the end of the stream, which must be want_end (-EPIPE or
 * -ECONNRESET); every message intact, in order per writer where the kind
 * promises it. Fails on a wait that outlasts the bound. */
static uint64_t drain(shmkit_chan *ch, shmkit_chan_kind kind, pid_t victim,
		      int64_t kill_at, uint64_t last[2], int want_end)
{
	unsigned char buf[MAX_MSG];
	uint64_t got = 0;

	for (;;) {
		int64_t t0 = now_ns();
		ssize_t n;

		if (victim > 0 && t0 >= kill_at) {
			kill_and_reap(victim, "writer");
			victim = 0;
		}
		n = shmkit_chan_recv(ch, buf, sizeof(buf),
				     victim > 0 ? SHMKIT_CHAN_MS(1) : RECV_BOUND_NS);
		if (n == want_end)
			break;
		if (n == -ETIMEDOUT && victim > 0)
			continue;
		if (n < 0)
			FAIL_("%s reader: %s after %llu messages (the end must "
			      "be %s within %lld ms)",
			      kind_name(kind), shmkit_err_name((int)n),
			      (unsigned long long)got, shmkit_err_name(want_end),
			      (long long)(RECV_BOUND_NS / 1000000));
		uint64_t seq = check_msg(buf, n);
		unsigned w = (unsigned)(seq >> 56) & 1;
		seq &= (UINT64_C(1) << 56) - 1;
		/* SPSC and MPMC: FIFO per writer; broadcast: increasing, with
		 * gaps where the reader was lapped. */
		if (seq <= last[w] && last[w] != 0)
			FAIL_("%s: message %llu after %llu from writer %u",
			      kind_name(kind), (unsigned long long)seq,
			      (unsigned long long)last[w], w);
		last[w] = seq;
		got++;
	}
	if (victim > 0)
		FAIL_("end of stream while the writer was still alive");
	return got;
}

/* -- the rounds ------------------------------------------------------------ */

/* Writer killed mid-stream; the reader drains to -ECONNRESET; a new writer
 * takes over, begins a new stream, and its messages arrive too, ending in
 * a clean -EPIPE when it closes. */
static void round_kill_writer(const char *spec, shmkit_chan_kind kind)
{
	shmkit_chan *rd;
	uint64_t last[2] = {0, 0};
	pid_t w, w2 = 0;

	ASSERT_OK(make_chan(spec, kind, SHMKIT_CHAN_READER, &rd));
	w = spawn_writer(spec, 0, 1, UINT64_MAX / 4);
	/* MPMC: sometimes a second writer that finishes cleanly. */
	if (kind == SHMKIT_CHAN_MPMC && (rnd() & 1))
		w2 = spawn_writer(spec, 1, 1, 200);
	drain(rd, kind, w, now_ns() + (int64_t)(rnd() % 4000000), last,
	      -ECONNRESET);
	if (w2)
		test_expect_child_ok(w2, 5000, "second writer");

	/* Reopen after the crash and carry on. */
	w = spawn_writer(spec, 0, last[0] + 1, 20);
	uint64_t before = last[0];
	drain(rd, kind, 0, 0, last, -EPIPE);
	test_expect_child_ok(w, 5000, "writer after the crash");
	if (kind != SHMKIT_CHAN_BROADCAST && last[0] != before + 20)
		FAIL_("%s: after reopening, got up to %llu, expected %llu",
		      kind_name(kind), (unsigned long long)last[0],
		      (unsigned long long)(before + 20));
	ASSERT_OK(shmkit_chan_close(rd)); /* ephemeral: stale from now on */
}

/* Reader killed mid-stream; the blocked writer gets -EPIPE; a new reader
 * drains the rest intact. */
static void round_kill_reader(const char *spec, shmkit_chan_kind kind)
{
	unsigned char buf[MAX_MSG];
	int64_t kill_at, deadline = 0;
	shmkit_chan *wr;
	uint64_t seq = 1;
	pid_t r;
	int rc;

	ASSERT_OK(make_chan(spec, kind, SHMKIT_CHAN_WRITER, &wr));
	r = spawn_reader(spec, 1);
	kill_at = now_ns() + (int64_t)(rnd() % 4000000);
	for (;;) {
		size_t len = make_msg(buf, seq, 16 + rnd() % (MAX_MSG - 16));
		if (r > 0 && now_ns() >= kill_at) {
			kill_and_reap(r, "reader");
			r = 0;
			deadline = now_ns() + RECV_BOUND_NS;
		}
		rc = shmkit_chan_send(wr, buf, len, SHMKIT_CHAN_MS(1));
		if (rc == 0) {
			seq++;
			continue;
		}
		if (rc == -EPIPE && r == 0)
			break;
		if (rc == -ETIMEDOUT && (r > 0 || now_ns() < deadline))
			continue;
		FAIL_("%s writer: %s (a dead reader must give -EPIPE once the "
		      "channel is full, within the bound)",
		      kind_name(kind), shmkit_err_name(rc));
	}
	/* A new reader takes what is left; the writer then closes. */
	r = spawn_reader(spec, 1);
	ASSERT_OK(shmkit_chan_close(wr));
	rc = test_wait_child(r, 10000, "reader after the crash");
	if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
		FAIL_("%s: the new reader failed (status %d: 3 corrupt, "
		      "5 hung, 7 out of order)",
		      kind_name(kind), WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
}

/* The creator killed at a random moment, perhaps mid-create. Opening what
 * it left must fail cleanly or work; gc must then leave nothing. */
static void round_kill_creator(const char *spec, shmkit_chan_kind kind)
{
	shmkit_chan *ch;
	pid_t pid;
	int r;

	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan_opts o = {0};
		o.kind = kind;
		o.role = SHMKIT_CHAN_WRITER;
		o.capacity = kind == SHMKIT_CHAN_SPSC ? (1u << 22) : 4096;
		o.max_msg = MAX_MSG;
		o.seg_flags = SHMKIT_F_EPHEMERAL;
		if (shmkit_chan_create(spec, &o, &ch) < 0)
			_exit(2);
		for (;;)
			pause();
	}
	poll(NULL, 0, (int)(rnd() % 4));
	kill_and_reap(pid, "creator");
	r = shmkit_chan_open(spec, SHMKIT_CHAN_READER, &ch);
	if (r == 0) {
		/* A complete channel whose writer is dead: a reset stream,
		 * or, killed before its writer registered, one that waits
		 * for a first writer. */
		unsigned char buf[MAX_MSG];
		ssize_t n = shmkit_chan_recv(ch, buf, sizeof(buf),
					     SHMKIT_CHAN_NOWAIT);
		if (n != -ECONNRESET && n != -EAGAIN)
			FAIL_("reading an abandoned channel: %zd", n);
		ASSERT_OK(shmkit_chan_close(ch));
	} else if (r != -ENOENT && r != -EPROTO && r != -ENODATA) {
		FAIL_("opening what a killed creator left: %s", shmkit_err_name(r));
	}
}

/* -- the run --------------------------------------------------------------- */

/* Where the channels live: a directory of our own, the only one gc sees. */
static char dir[160];

static int exists(const char *spec)
{
	return access(spec + sizeof("file:") - 1, F_OK) == 0;
}

static void torture(void)
{
	const char *env = getenv("SHMKIT_TORTURE_ROUNDS");
	const char *seed_env = getenv("SHMKIT_TORTURE_SEED");
	long rounds = env ? atol(env) : 200;
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0)
				 : (uint64_t)now_ns() ^ (uint64_t)getpid();
	static const shmkit_chan_kind kinds[] = {
		SHMKIT_CHAN_SPSC, SHMKIT_CHAN_MPMC, SHMKIT_CHAN_BROADCAST};
	unsigned counts[3][3] = {{0}};
	char live_spec[320];
	shmkit_chan *live_w, *live_r;
	long i;

	rng_state = seed | 1;
	printf("     seed %llu, %ld rounds (SHMKIT_TORTURE_SEED, "
	       "SHMKIT_TORTURE_ROUNDS)\n",
	       (unsigned long long)seed, rounds);

	snprintf(dir, sizeof(dir), "/dev/shm%s-XXXXXX", test_name("torture"));
	ASSERT(mkdtemp(dir));
	/* A live ephemeral channel that every gc must leave alone. */
	snprintf(live_spec, sizeof(live_spec), "file:%s%s", dir, test_name("live"));
	ASSERT_OK(make_chan(live_spec, SHMKIT_CHAN_SPSC, SHMKIT_CHAN_WRITER, &live_w));
	ASSERT_OK(shmkit_chan_open(live_spec, SHMKIT_CHAN_READER, &live_r));

	for (i = 0; i < rounds; i++) {
		char spec[320];
		unsigned k = (unsigned)(rnd() % 3), v = (unsigned)(rnd() % 3);
		unsigned char buf[MAX_MSG];

		snprintf(spec, sizeof(spec), "file:%s%s", dir, test_name("t"));
		if (v == 1 && kinds[k] == SHMKIT_CHAN_BROADCAST)
			v = 0; /* a broadcast writer never blocks on readers */
		counts[k][v]++;
		switch (v) {
		case 0:
			round_kill_writer(spec, kinds[k]);
			break;
		case 1:
			round_kill_reader(spec, kinds[k]);
			break;
		default:
			round_kill_creator(spec, kinds[k]);
			break;
		}
		/* Everyone who used the round's channel is gone or closed:
		 * it is stale, and gc must take it and only it. */
		if (shmkit_gc(dir, 0, NULL, NULL) < 0)
			FAIL_("gc failed");
		if (exists(spec))
			FAIL_("round %ld (%s, victim %u): gc left the stale "
			      "segment %s",
			      i, kind_name(kinds[k]), v, spec);
		if (!exists(live_spec))
			FAIL_("round %ld: gc removed the live channel", i);
		size_t len = make_msg(buf, (uint64_t)i + 1, 64);
		ASSERT_OK(shmkit_chan_send(live_w, buf, len, SHMKIT_CHAN_NOWAIT));
		ASSERT_EQ(check_msg(buf, shmkit_chan_recv(live_r, buf, sizeof(buf),
							  SHMKIT_CHAN_NOWAIT)),
			  (uint64_t)i + 1);
	}
	printf("     killed writers %u/%u/%u, readers %u/%u, creators %u/%u/%u "
	       "(spsc/mpmc/broadcast)\n",
	       counts[0][0], counts[1][0], counts[2][0], counts[0][1],
	       counts[1][1], counts[0][2], counts[1][2], counts[2][2]);
	ASSERT_OK(shmkit_chan_close(live_r));
	ASSERT_OK(shmkit_chan_destroy(live_w));
	ASSERT_EQ(rmdir(dir), 0);
}

TEST_MAIN("torture", TEST(torture))
