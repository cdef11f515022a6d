/*
 * test_chan_proc.c: channels between forked processes, on the posix, memfd
 * (reached by inheritance) and anon backends: every kind with 2 to 4
 * processes and sequence-numbered, checksummed messages; the event-loop
 * descriptor; and the CPU an idle waiting reader uses.
 *
 * Every received message is checked whole (checksum over its length), and
 * recorded in a bitmap in shared memory so the parent can tell loss from
 * duplication. Each reader checks that each writer's messages arrive in
 * order (SPSC, MPMC) and, for broadcast, that the sequence only grows and
 * the gaps add up to what the library says was lost.
 */
#include "test.h"
#include "test_chan_watchdog.h"

#include <poll.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define MAXW 4
#define MAXN 200000

struct shared {
	uint64_t bits[MAXW][MAXN / 64 + 1];
	uint32_t ready;
	uint32_t go;
	uint64_t got[8];
	uint64_t lost[8];
	uint64_t dups;
	uint64_t bad;
};

struct msg_hdr {
	uint32_t writer;
	uint32_t seq;
	uint32_t len; /* whole message */
	uint32_t sum;
};

static struct shared *sh;

static uint32_t sum32(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static size_t make_msg(uint8_t *buf, size_t max, uint32_t w, uint32_t seq)
{
	struct msg_hdr h;
	size_t len = sizeof(h) + (seq * 37u + w * 11u) % (max - sizeof(h) + 1);
	size_t i;

	for (i = sizeof(h); i < len; i++)
		buf[i] = (uint8_t)(seq + i * 3 + w);
	h.writer = w;
	h.seq = seq;
	h.len = (uint32_t)len;
	h.sum = sum32(buf + sizeof(h), len - sizeof(h));
	memcpy(buf, &h, sizeof(h));
	return len;
}

/* Check a message and (mark) record it as seen; returns its header. */
static struct msg_hdr take_msg(const uint8_t *buf, size_t n, uint32_t nmsgs,
			       int mark)
{
	struct msg_hdr h;
	uint64_t bit, old;

	if (n < sizeof(h))
		FAIL_("short message: %zu bytes", n);
	memcpy(&h, buf, sizeof(h));
	if (h.len != n || h.writer >= MAXW || h.seq >= nmsgs ||
	    h.sum != sum32(buf + sizeof(h), n - sizeof(h)))
		FAIL_("corrupt message: writer %u seq %u len %u/%zu", h.writer,
		      h.seq, h.len, n);
	if (!mark)
		return h;
	bit = UINT64_C(1) << (h.seq % 64);
	old = __atomic_fetch_or(&sh->bits[h.writer][h.seq / 64], bit,
				__ATOMIC_RELAXED);
	if (old & bit)
		__atomic_fetch_add(&sh->dups, 1, __ATOMIC_RELAXED);
	return h;
}

static void shared_reset(void)
{
	memset(sh, 0, sizeof(*sh));
}

/* How a child reaches the parent's channel on each backend. */
enum backend { B_POSIX, B_MEMFD, B_ANON };
static const char *const bnames[] = {"posix", "memfd", "anon"};

struct setup {
	enum backend b;
	char spec[256];
	shmkit_chan *adm; /* the parent's role-NONE handle */
};

static void setup_make(struct setup *s, enum backend b, shmkit_chan_opts *o)
{
	s->b = b;
	switch (b) {
	case B_POSIX:
		snprintf(s->spec, sizeof(s->spec), "posix:%s",
			 test_name("proc"));
		break;
	case B_MEMFD:
		snprintf(s->spec, sizeof(s->spec), "memfd:shmkit-test-%d",
			 (int)getpid());
		break;
	case B_ANON:
		snprintf(s->spec, sizeof(s->spec), "anon:");
		break;
	}
	o->role = SHMKIT_CHAN_NONE;
	ASSERT_OK(shmkit_chan_create(s->spec, o, &s->adm));
	chan_wd_watch(s->adm);
}

/* In a child: our own endpoint on the parent's channel. */
static shmkit_chan *setup_open(struct setup *s, shmkit_chan_role role)
{
	shmkit_chan *ch;
	int r;

	if (s->b == B_ANON)
		r = shmkit_chan_open_in(shmkit_chan_seg(s->adm), 0, role, &ch);
	else
		r = shmkit_chan_open(s->spec, role, &ch);
	if (r < 0)
		FAIL_("open %s as %d: %s", s->spec, role, shmkit_strerror(r));
	return ch;
}

static void wait_go(void)
{
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		poll(NULL, 0, 1);
}

static void writer_child(struct setup *s, uint32_t id, uint32_t n,
			 shmkit_chan_wait mode)
{
	shmkit_chan *ch = setup_open(s, SHMKIT_CHAN_WRITER);
	size_t max = shmkit_chan_max_msg(ch);
	uint8_t buf[1024];
	uint32_t i;

	if (max > sizeof(buf))
		max = sizeof(buf);
	shmkit_chan_set_wait(ch, mode, 0);
	wait_go();
	for (i = 0; i < n; i++) {
		size_t len = make_msg(buf, max, id, i);
		int r;
		if (i % 4 == 1) { /* zero copy */
			void *p;
			r = shmkit_chan_reserve(ch, len, &p,
						SHMKIT_CHAN_MS(10000));
			if (r == 0) {
				memcpy(p, buf, len);
				r = shmkit_chan_commit(ch, len);
			}
		} else {
			r = shmkit_chan_send(ch, buf, len,
					     SHMKIT_CHAN_MS(10000));
		}
		if (r < 0)
			FAIL_("writer %u: send %u: %s", id, i,
			      shmkit_strerror(r));
	}
	ASSERT_OK(shmkit_chan_close(ch));
	exit(0);
}

/* Reads until -EPIPE; checks per-writer order where the kind keeps it. */
static void reader_child(struct setup *s, uint32_t slot, uint32_t n,
			 int ordered, shmkit_chan_wait mode)
{
	shmkit_chan *ch = setup_open(s, SHMKIT_CHAN_READER);
	int64_t last[MAXW];
	uint64_t got = 0;
	uint8_t buf[1024];
	ssize_t r;
	int i;

	for (i = 0; i < MAXW; i++)
		last[i] = -1;
	shmkit_chan_set_wait(ch, mode, 0);
	wait_go();
	for (;;) {
		struct msg_hdr h;
		if (got % 3 == 2) {
			const void *p;
			size_t pn;
			r = shmkit_chan_peek(ch, &p, &pn, SHMKIT_CHAN_MS(10000));
			if (r == 0) {
				memcpy(buf, p, pn);
				r = shmkit_chan_release(ch);
				if (r == 0)
					r = (ssize_t)pn;
			}
		} else {
			r = shmkit_chan_recv(ch, buf, sizeof(buf),
					     SHMKIT_CHAN_MS(10000));
		}
		if (r == -EPIPE)
			break;
		if (r < 0)
			FAIL_("reader %u: recv: %s", slot,
			      shmkit_strerror((int)r));
		h = take_msg(buf, (size_t)r, n, 1);
		if (ordered && (int64_t)h.seq <= last[h.writer])
			FAIL_("reader %u: writer %u seq %u after %lld", slot,
			      h.writer, h.seq, (long long)last[h.writer]);
		last[h.writer] = h.seq;
		got++;
	}
	sh->got[slot] = got;
	ASSERT_OK(shmkit_chan_close(ch));
	exit(0);
}

static void run_kind(enum backend b, shmkit_chan_kind kind, int nw, int nr,
		     uint32_t n, uint64_t cap, uint32_t max_msg,
		     shmkit_chan_wait mode)
{
	struct setup s;
	shmkit_chan_opts o;
	pid_t pids[8];
	int i, np = 0;
	uint64_t total = 0, w, k;
	char what[64];

	shared_reset();
	memset(&o, 0, sizeof(o));
	o.kind = kind;
	o.capacity = cap;
	o.max_msg = max_msg;
	setup_make(&s, b, &o);
	for (i = 0; i < nr; i++) {
		pids[np] = fork();
		ASSERT(pids[np] >= 0);
		if (pids[np] == 0)
			reader_child(&s, (uint32_t)i, n, 1, mode);
		np++;
	}
	for (i = 0; i < nw; i++) {
		pids[np] = fork();
		ASSERT(pids[np] >= 0);
		if (pids[np] == 0)
			writer_child(&s, (uint32_t)i, n, mode);
		np++;
	}
	for (i = 0; i < 2000 && __atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) <
					(uint32_t)np;
	     i++)
		poll(NULL, 0, 5);
	ASSERT_EQ(sh->ready, np);
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	snprintf(what, sizeof(what), "%s %s", bnames[b],
		 shmkit_chan_kind_name(kind));
	for (i = 0; i < np; i++)
		test_expect_child_ok(pids[i], 60000, what);

	ASSERT_EQ(sh->dups, 0);
	for (i = 0; i < nr; i++)
		total += sh->got[i];
	if (kind == SHMKIT_CHAN_BROADCAST) {
		/* Each reader: what it got plus what it lost is everything. */
		shmkit_chan_info info;
		shmkit_chan_ep_info eps[8];
		ASSERT(shmkit_chan_stat(s.adm, &info, eps, 8) >= 0);
		ASSERT_EQ(info.sent, n);
		ASSERT_EQ(info.received, total);
	} else {
		ASSERT_EQ(total, (uint64_t)n * (uint64_t)nw);
		for (w = 0; w < (uint64_t)nw; w++)
			for (k = 0; k < n; k++)
				if (!(sh->bits[w][k / 64] >> (k % 64) & 1))
					FAIL_("%s: writer %llu seq %llu lost",
					      what, (unsigned long long)w,
					      (unsigned long long)k);
	}
	ASSERT_OK(shmkit_chan_destroy(s.adm));
}

/*
 * Broadcast readers report got and lost; each must add up to everything
 * sent after it opened (all open before the writer starts).
 */
static void bcast_reader_child(struct setup *s, uint32_t slot, uint32_t n,
			       int slow)
{
	shmkit_chan *ch = setup_open(s, SHMKIT_CHAN_READER);
	int64_t last = -1;
	uint64_t got = 0, lost_before = 0;
	uint8_t buf[1024];
	ssize_t r;

	wait_go();
	for (;;) {
		struct msg_hdr h;
		r = shmkit_chan_recv(ch, buf, sizeof(buf), SHMKIT_CHAN_MS(10000));
		if (r == -EPIPE)
			break;
		if (r < 0)
			FAIL_("bcast reader %u: %s", slot,
			      shmkit_strerror((int)r));
		h = take_msg(buf, (size_t)r, n, 0); /* order shows duplicates */
		if ((int64_t)h.seq <= last)
			FAIL_("bcast reader %u: seq %u after %lld", slot, h.seq,
			      (long long)last);
		/* The gap is exactly what the library counted as lost. */
		if ((uint64_t)(h.seq - last - 1) !=
		    shmkit_chan_lost(ch) - lost_before)
			FAIL_("bcast reader %u: gap %lld, lost %llu", slot,
			      (long long)(h.seq - last - 1),
			      (unsigned long long)(shmkit_chan_lost(ch) -
						   lost_before));
		lost_before = shmkit_chan_lost(ch);
		last = h.seq;
		got++;
		if (slow && got % 64 == 0)
			poll(NULL, 0, 1);
	}
	if (got + shmkit_chan_lost(ch) != n)
		FAIL_("bcast reader %u: got %llu + lost %llu != %u", slot,
		      (unsigned long long)got,
		      (unsigned long long)shmkit_chan_lost(ch), n);
	sh->got[slot] = got;
	sh->lost[slot] = shmkit_chan_lost(ch);
	ASSERT_OK(shmkit_chan_close(ch));
	exit(0);
}

static void run_bcast(enum backend b, uint32_t n)
{
	struct setup s;
	shmkit_chan_opts o;
	pid_t pids[4];
	int i;

	shared_reset();
	memset(&o, 0, sizeof(o));
	o.kind = SHMKIT_CHAN_BROADCAST;
	o.capacity = 64;
	o.max_msg = 200;
	setup_make(&s, b, &o);
	for (i = 0; i < 3; i++) {
		pids[i] = fork();
		ASSERT(pids[i] >= 0);
		if (pids[i] == 0)
			bcast_reader_child(&s, (uint32_t)i, n, i == 2);
	}
	pids[3] = fork();
	ASSERT(pids[3] >= 0);
	if (pids[3] == 0)
		writer_child(&s, 0, n, SHMKIT_CHAN_ADAPTIVE);
	for (i = 0; i < 2000 && __atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < 4;
	     i++)
		poll(NULL, 0, 5);
	ASSERT_EQ(sh->ready, 4);
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 4; i++)
		test_expect_child_ok(pids[i], 60000, "broadcast");
	/* The slow reader was lapped. */
	ASSERT(sh->lost[2] > 0);
	ASSERT_OK(shmkit_chan_destroy(s.adm));
}

static void spsc_all_backends(void)
{
	run_kind(B_POSIX, SHMKIT_CHAN_SPSC, 1, 1, 100000, 4096, 300,
		 SHMKIT_CHAN_ADAPTIVE);
	run_kind(B_MEMFD, SHMKIT_CHAN_SPSC, 1, 1, 50000, 1024, 200,
		 SHMKIT_CHAN_ADAPTIVE);
	run_kind(B_ANON, SHMKIT_CHAN_SPSC, 1, 1, 50000, 65536, 1000,
		 SHMKIT_CHAN_ADAPTIVE);
}

static void spsc_modes(void)
{
	run_kind(B_ANON, SHMKIT_CHAN_SPSC, 1, 1, 20000, 512, 100,
		 SHMKIT_CHAN_BLOCK);
	run_kind(B_ANON, SHMKIT_CHAN_SPSC, 1, 1, 50000, 4096, 100,
		 SHMKIT_CHAN_SPIN);
}

static void mpmc_all_backends(void)
{
	run_kind(B_POSIX, SHMKIT_CHAN_MPMC, 2, 2, 30000, 16, 200,
		 SHMKIT_CHAN_ADAPTIVE);
	run_kind(B_MEMFD, SHMKIT_CHAN_MPMC, 3, 1, 20000, 8, 100,
		 SHMKIT_CHAN_ADAPTIVE);
	run_kind(B_ANON, SHMKIT_CHAN_MPMC, 1, 3, 30000, 64, 64,
		 SHMKIT_CHAN_BLOCK);
}

static void broadcast_all_backends(void)
{
	run_bcast(B_POSIX, 50000);
	run_bcast(B_MEMFD, 20000);
	run_bcast(B_ANON, 20000);
}

/* A reader waits in poll() on the channel's descriptor. */
static void fd_poll(void)
{
	struct setup s;
	shmkit_chan_opts o;
	shmkit_chan *w;
	pid_t pid;
	uint32_t i;

	shared_reset();
	memset(&o, 0, sizeof(o));
	o.kind = SHMKIT_CHAN_SPSC;
	o.capacity = 4096;
	setup_make(&s, B_POSIX, &o);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan *r = setup_open(&s, SHMKIT_CHAN_READER);
		int fd = shmkit_chan_fd(r), wakes = 0;
		uint32_t got = 0, v;
		ssize_t n;

		ASSERT(fd >= 0);
		ASSERT_EQ(shmkit_chan_fd(r), fd);
		wait_go();
		for (;;) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			while ((n = shmkit_chan_recv(r, &v, sizeof(v), 0)) >= 0) {
				ASSERT_EQ(v, got);
				got++;
			}
			if (n == -EPIPE)
				break;
			ASSERT_ERR(n, EAGAIN);
			n = shmkit_chan_arm(r);
			ASSERT(n == 0 || n == 1);
			if (n == 1)
				continue;
			/* Bounded: the writer sends every few ms. */
			ASSERT(poll(&pfd, 1, 5000) == 1);
			wakes++;
		}
		ASSERT_EQ(got, 200);
		ASSERT(wakes > 10); /* it really slept in poll */
		ASSERT_OK(shmkit_chan_close(r));
		exit(0);
	}
	ASSERT_OK(shmkit_chan_open(s.spec, SHMKIT_CHAN_WRITER, &w));
	while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < 1)
		poll(NULL, 0, 1);
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 200; i++) {
		ASSERT_OK(shmkit_chan_send(w, &i, sizeof(i), SHMKIT_CHAN_MS(5000)));
		if (i % 4 == 0)
			poll(NULL, 0, 1);
	}
	/* Closing ends the stream: the poller sees -EPIPE. */
	ASSERT_OK(shmkit_chan_close(w));
	test_expect_child_ok(pid, 20000, "fd poller");
	ASSERT_OK(shmkit_chan_destroy(s.adm));
}

/* A writer polls for room; a dead reader wakes it too. */
static void fd_writer_and_peer_death(void)
{
	struct setup s;
	shmkit_chan_opts o;
	shmkit_chan *w;
	pid_t pid;
	int fd, st;
	uint32_t v = 0;

	shared_reset();
	memset(&o, 0, sizeof(o));
	o.kind = SHMKIT_CHAN_MPMC;
	o.capacity = 2;
	o.max_msg = 8;
	setup_make(&s, B_ANON, &o);
	ASSERT_OK(shmkit_chan_open_in(shmkit_chan_seg(s.adm), 0,
				      SHMKIT_CHAN_WRITER, &w));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan *r = setup_open(&s, SHMKIT_CHAN_READER);
		uint32_t x;
		wait_go();
		ASSERT_EQ(shmkit_chan_recv(r, &x, sizeof(x), SHMKIT_CHAN_MS(5000)),
			  4);
		poll(NULL, 0, 200);
		pause(); /* killed by the parent */
		exit(0);
	}
	while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < 1)
		poll(NULL, 0, 1);
	fd = shmkit_chan_fd(w);
	ASSERT(fd >= 0);
	ASSERT_OK(shmkit_chan_send(w, &v, 4, 0));
	ASSERT_OK(shmkit_chan_send(w, &v, 4, 0));
	ASSERT_ERR(shmkit_chan_send(w, &v, 4, 0), EAGAIN);
	ASSERT_EQ(shmkit_chan_arm(w), 0);
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	{ /* the reader takes one: room */
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ASSERT_EQ(poll(&pfd, 1, 5000), 1);
	}
	ASSERT_OK(shmkit_chan_send(w, &v, 4, 0));
	ASSERT_ERR(shmkit_chan_send(w, &v, 4, 0), EAGAIN);
	ASSERT_EQ(shmkit_chan_arm(w), 0);
	kill(pid, SIGKILL);
	{ /* the reader dies: the pidfd in the set wakes us */
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ASSERT_EQ(poll(&pfd, 1, 5000), 1);
	}
	ASSERT_EQ(shmkit_chan_arm(w), 1);
	ASSERT_ERR(shmkit_chan_send(w, &v, 4, 0), EPIPE);
	st = test_wait_child(pid, 5000, "reader");
	ASSERT(WIFSIGNALED(st));
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_destroy(s.adm));
}

static uint64_t cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
	       (uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

/* An idle reader in adaptive mode sleeps: ~0 CPU over 300 ms. */
static void idle_reader_cpu(void)
{
	shmkit_chan_wait modes[] = {SHMKIT_CHAN_ADAPTIVE, SHMKIT_CHAN_BLOCK};
	unsigned m;

	for (m = 0; m < 2; m++) {
		struct setup s;
		shmkit_chan_opts o;
		shmkit_chan *w;
		pid_t pid;

		shared_reset();
		memset(&o, 0, sizeof(o));
		o.kind = SHMKIT_CHAN_SPSC;
		setup_make(&s, B_ANON, &o);
		ASSERT_OK(shmkit_chan_open_in(shmkit_chan_seg(s.adm), 0,
					      SHMKIT_CHAN_WRITER, &w));
		pid = fork();
		ASSERT(pid >= 0);
		if (pid == 0) {
			shmkit_chan *r = setup_open(&s, SHMKIT_CHAN_READER);
			uint64_t c0, c1;
			char b[16];
			shmkit_chan_set_wait(r, modes[m], 0);
			c0 = cpu_us();
			ASSERT_ERR(shmkit_chan_recv(r, b, sizeof(b),
						    SHMKIT_CHAN_MS(300)),
				   ETIMEDOUT);
			c1 = cpu_us();
			if (c1 - c0 > 20000)
				FAIL_("idle reader used %llu us of CPU",
				      (unsigned long long)(c1 - c0));
			/* And wakes when a message comes. */
			ASSERT_EQ(shmkit_chan_recv(r, b, sizeof(b),
						   SHMKIT_CHAN_MS(5000)),
				  2);
			ASSERT_OK(shmkit_chan_close(r));
			exit(0);
		}
		poll(NULL, 0, 400);
		ASSERT_OK(shmkit_chan_send(w, "hi", 2, 0));
		test_expect_child_ok(pid, 10000, "idle reader");
		ASSERT_OK(shmkit_chan_close(w));
		ASSERT_OK(shmkit_chan_destroy(s.adm));
	}
}

/* Internal (src/chan): act as if membarrier were missing. */
void shmkit__chan_force_fences(int on);

/* Publishers that must fence (no membarrier) still wake sleepers. */
static void without_membarrier(void)
{
	shmkit__chan_force_fences(1);
	run_kind(B_ANON, SHMKIT_CHAN_SPSC, 1, 1, 20000, 512, 64,
		 SHMKIT_CHAN_ADAPTIVE);
	run_kind(B_ANON, SHMKIT_CHAN_MPMC, 2, 2, 10000, 4, 64,
		 SHMKIT_CHAN_ADAPTIVE);
	shmkit__chan_force_fences(0);
}

static void proc_setup(void)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT(sh != MAP_FAILED);
}

CHAN_TEST_MAIN("chan_proc", TEST(proc_setup), TEST(spsc_all_backends),
	  TEST(spsc_modes), TEST(mpmc_all_backends),
	  TEST(broadcast_all_backends), TEST(fd_poll),
	  TEST(fd_writer_and_peer_death), TEST(idle_reader_cpu),
	  TEST(without_membarrier))
