/*
 * test_chan_watchdog.h: a time limit on every case of the channel tests.
 *
 * Every wait in the channel library has a bound, and so does every wait in
 * these tests; a case that still runs after its limit is a defect, and it
 * must fail with the name of the case and the state of the channel it was
 * driving, not sit until ctest kills the executable (which says nothing).
 * CHAN_TEST_MAIN() replaces TEST_MAIN(): before each case it arms alarm();
 * the SIGALRM handler writes "<area>.<case>: still running after N s" and
 * the shared counters of each channel the case handed to chan_wd_watch()
 * (head, tail, wait words, futex words, every endpoint's flags and counts,
 * the ring entries at head and tail), then stops the test's process group
 * as a failed assertion does, and exits 1.
 *
 * The handler only formats integers and calls write(), process_vm_readv(),
 * kill() and _exit(). Watched channels are read with process_vm_readv() on
 * our own pid, so a channel the case has already unmapped prints as
 * unreadable instead of faulting in the handler.
 *
 * The limit is 60 s a case (three times that under sanitizers), far above
 * what any case needs on a loaded 2-core machine; SHMKIT_TEST_CASE_SECS
 * overrides it. alarm() is not inherited across fork(), so children are
 * stopped by their parent's watchdog, never by their own.
 */
#ifndef SHMKIT_TEST_CHAN_WATCHDOG_H
#define SHMKIT_TEST_CHAN_WATCHDOG_H

#include "test.h"
#include "chan/chan_int.h"

#include <stdint.h>
#include <sys/uio.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CHAN_WD_SLOW 3
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CHAN_WD_SLOW 3
#endif
#endif
#ifndef CHAN_WD_SLOW
#define CHAN_WD_SLOW 1
#endif

#define CHAN_WD_SECS (60 * CHAN_WD_SLOW)
#define CHAN_WD_CHANS 8
#define CHAN_WD_EPS 16   /* endpoints dumped per channel */
#define CHAN_WD_CASES 32

/* What the handler needs of a watched channel, copied when it is watched. */
struct chan_wd_chan {
	const uint8_t *base;
	const uint8_t *ring;
	uint64_t mask;
	uint32_t stride;
	uint32_t nep;
	uint8_t kind;
};

static const char *chan_wd_area;
static const test_case *chan_wd_cases;
static volatile sig_atomic_t chan_wd_case = -1;
static volatile sig_atomic_t chan_wd_n;
static unsigned chan_wd_secs;
static pid_t chan_wd_pid;
static struct chan_wd_chan chan_wd_chans[CHAN_WD_CHANS];

/* -- async-signal-safe output --------------------------------------------- */

struct chan_wd_out {
	char buf[512];
	size_t n;
};

static void chan_wd_flush(struct chan_wd_out *o)
{
	size_t off = 0;

	while (off < o->n) {
		ssize_t w = write(2, o->buf + off, o->n - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	o->n = 0;
}

static void chan_wd_s(struct chan_wd_out *o, const char *s)
{
	for (; s && *s; s++) {
		if (o->n == sizeof(o->buf))
			chan_wd_flush(o);
		o->buf[o->n++] = *s;
	}
}

static void chan_wd_u(struct chan_wd_out *o, uint64_t v, unsigned base)
{
	char t[24];
	int i = (int)sizeof(t) - 1;

	t[i] = '\0';
	do {
		t[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && i > 0);
	if (base == 16) {
		t[--i] = 'x';
		t[--i] = '0';
	}
	chan_wd_s(o, t + i);
}

/* " name=value" in decimal. */
static void chan_wd_kv(struct chan_wd_out *o, const char *name, uint64_t v)
{
	chan_wd_s(o, " ");
	chan_wd_s(o, name);
	chan_wd_s(o, "=");
	chan_wd_u(o, v, 10);
}

static int chan_wd_peek(const void *addr, void *dst, size_t len)
{
	struct iovec local = {.iov_base = dst, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr,
			       .iov_len = len};

	return process_vm_readv(chan_wd_pid, &local, 1, &remote, 1, 0) ==
			       (ssize_t)len
		       ? 0
		       : -1;
}

/* A wait word: sleepers, armed descriptors, fencers. */
static void chan_wd_wait(struct chan_wd_out *o, const char *name, uint64_t w)
{
	chan_wd_s(o, " ");
	chan_wd_s(o, name);
	chan_wd_s(o, "=");
	chan_wd_u(o, w & W_FIELD, 10);
	chan_wd_s(o, "/");
	chan_wd_u(o, (w >> 21) & W_FIELD, 10);
	chan_wd_s(o, "/");
	chan_wd_u(o, w >> 42, 10);
}

static void chan_wd_dump(struct chan_wd_out *o, int idx,
			 const struct chan_wd_chan *c)
{
	static struct chan_hdr h;
	static struct chan_ep ep;
	uint64_t word;
	uint32_t i;

	chan_wd_s(o, "  channel ");
	chan_wd_u(o, (uint64_t)idx, 10);
	chan_wd_s(o, " (");
	chan_wd_s(o, shmkit_chan_kind_name((shmkit_chan_kind)c->kind));
	chan_wd_s(o, ")");
	if (chan_wd_peek(c->base, &h, sizeof(h)) < 0 ||
	    h.meta.magic != CHAN_MAGIC) {
		chan_wd_s(o, ": unmapped or no longer a channel\n");
		return;
	}
	chan_wd_kv(o, "tail", h.tail);
	chan_wd_kv(o, "head", h.head);
	chan_wd_s(o, " wait(sleep/arm/fence):");
	chan_wd_wait(o, "rd", h.rd_wait);
	chan_wd_wait(o, "wr", h.wr_wait);
	chan_wd_kv(o, "rd_futex", h.rd_futex);
	chan_wd_kv(o, "wr_futex", h.wr_futex);
	chan_wd_s(o, "\n   ");
	chan_wd_kv(o, "opens_w", h.opens[SHMKIT_CHAN_WRITER]);
	chan_wd_kv(o, "opens_r", h.opens[SHMKIT_CHAN_READER]);
	chan_wd_kv(o, "leaves", h.leaves);
	chan_wd_kv(o, "reclaimed", h.reclaimed);
	chan_wd_kv(o, "poisoned", h.poisoned);
	chan_wd_kv(o, "dropped", h.dropped);
	/* What the ring says at head and tail: the next thing each side
	 * looks at (SPSC: record header words; else slot sequences). */
	if (c->kind == SHMKIT_CHAN_SPSC) {
		if (chan_wd_peek(c->ring + (h.head & c->mask), &word,
				 sizeof(word)) == 0) {
			chan_wd_s(o, " rec@head=");
			chan_wd_u(o, word, 16);
		}
	} else {
		if (chan_wd_peek(c->ring + (h.head & c->mask) * c->stride,
				 &word, sizeof(word)) == 0)
			chan_wd_kv(o, "seq@head", word);
		if (chan_wd_peek(c->ring + (h.tail & c->mask) * c->stride,
				 &word, sizeof(word)) == 0)
			chan_wd_kv(o, "seq@tail", word);
	}
	chan_wd_s(o, "\n");
	for (i = 0; i < c->nep && i < CHAN_WD_EPS; i++) {
		const uint8_t *a = c->base + sizeof(struct chan_hdr) +
				   (size_t)i * sizeof(struct chan_ep);
		if (chan_wd_peek(a, &ep, sizeof(ep)) < 0 || !ep.owner)
			continue;
		chan_wd_s(o, "   ep");
		chan_wd_u(o, i, 10);
		chan_wd_kv(o, "pid", (uint64_t)EP_PID(ep.owner));
		chan_wd_s(o, ep.role == SHMKIT_CHAN_WRITER   ? " writer"
			     : ep.role == SHMKIT_CHAN_READER ? " reader"
							     : " none");
		chan_wd_s(o, " wflags=");
		chan_wd_s(o, ep.wflags & EPW_SLEEP ? "S" : "-");
		chan_wd_s(o, ep.wflags & EPW_ARMED ? "A" : "-");
		chan_wd_s(o, ep.wflags & EPW_FENCE ? "F" : "-");
		chan_wd_kv(o, "msgs", ep.msgs);
		chan_wd_kv(o, "claim", ep.claim);
		chan_wd_kv(o, "cursor", ep.cursor);
		chan_wd_kv(o, "cpu", ep.cpu);
		chan_wd_s(o, "\n");
	}
}

static void chan_wd_fire(int sig)
{
	struct chan_wd_out o = {.n = 0};
	int i, n = chan_wd_n, k = chan_wd_case;

	(void)sig;
	chan_wd_s(&o, "\n");
	chan_wd_s(&o, chan_wd_area);
	chan_wd_s(&o, ".");
	chan_wd_s(&o, k >= 0 ? chan_wd_cases[k].name : "?");
	chan_wd_s(&o, ": still running after ");
	chan_wd_u(&o, chan_wd_secs, 10);
	chan_wd_s(&o, " s (a hang); ");
	if (n == 0)
		chan_wd_s(&o, "no channel watched\n");
	else
		chan_wd_s(&o, "channels it watched, newest last:\n");
	for (i = n > CHAN_WD_CHANS ? n - CHAN_WD_CHANS : 0; i < n; i++)
		chan_wd_dump(&o, i, &chan_wd_chans[i % CHAN_WD_CHANS]);
	chan_wd_flush(&o);
	/* As test_fail_exit(): take the case's children down with us. */
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	_exit(1);
}

/*
 * Dump ch's shared state if the running case hangs. Cheap; call it for the
 * channels a case drives (a handle's geometry is copied, so closing the
 * handle later is fine). The last CHAN_WD_CHANS watched are kept.
 */
static inline void chan_wd_watch(const shmkit_chan *ch)
{
	struct chan_wd_chan c;
	int n = chan_wd_n;

	if (!ch || getpid() != chan_wd_pid)
		return;
	c.base = ch->base;
	c.ring = ch->ring;
	c.mask = ch->mask;
	c.stride = ch->stride;
	c.nep = ch->nep;
	c.kind = ch->kind;
	chan_wd_chans[n % CHAN_WD_CHANS] = c;
	chan_wd_n = n + 1;
}

static void chan_wd_call(int k)
{
	chan_wd_n = 0;
	chan_wd_case = k;
	alarm(chan_wd_secs);
	chan_wd_cases[k].fn();
	alarm(0);
	chan_wd_case = -1;
	chan_wd_n = 0;
}

/* test_run() takes plain functions: one trampoline per case index. */
#define CHAN_WD_T(k)                                                          \
	static void chan_wd_t##k(void)                                        \
	{                                                                     \
		chan_wd_call(k);                                              \
	}
CHAN_WD_T(0) CHAN_WD_T(1) CHAN_WD_T(2) CHAN_WD_T(3) CHAN_WD_T(4)
CHAN_WD_T(5) CHAN_WD_T(6) CHAN_WD_T(7) CHAN_WD_T(8) CHAN_WD_T(9)
CHAN_WD_T(10) CHAN_WD_T(11) CHAN_WD_T(12) CHAN_WD_T(13) CHAN_WD_T(14)
CHAN_WD_T(15) CHAN_WD_T(16) CHAN_WD_T(17) CHAN_WD_T(18) CHAN_WD_T(19)
CHAN_WD_T(20) CHAN_WD_T(21) CHAN_WD_T(22) CHAN_WD_T(23) CHAN_WD_T(24)
CHAN_WD_T(25) CHAN_WD_T(26) CHAN_WD_T(27) CHAN_WD_T(28) CHAN_WD_T(29)
CHAN_WD_T(30) CHAN_WD_T(31)

static void (*const chan_wd_tramps[CHAN_WD_CASES])(void) = {
	chan_wd_t0,  chan_wd_t1,  chan_wd_t2,  chan_wd_t3,  chan_wd_t4,
	chan_wd_t5,  chan_wd_t6,  chan_wd_t7,  chan_wd_t8,  chan_wd_t9,
	chan_wd_t10, chan_wd_t11, chan_wd_t12, chan_wd_t13, chan_wd_t14,
	chan_wd_t15, chan_wd_t16, chan_wd_t17, chan_wd_t18, chan_wd_t19,
	chan_wd_t20, chan_wd_t21, chan_wd_t22, chan_wd_t23, chan_wd_t24,
	chan_wd_t25, chan_wd_t26, chan_wd_t27, chan_wd_t28, chan_wd_t29,
	chan_wd_t30, chan_wd_t31};

static int chan_wd_run(const char *area, const test_case *cases, size_t n)
{
	static test_case wrapped[CHAN_WD_CASES];
	struct sigaction sa;
	const char *env = getenv("SHMKIT_TEST_CASE_SECS");
	size_t i;

	if (n > CHAN_WD_CASES) {
		fprintf(stderr, "%s: more than %d cases\n", area, CHAN_WD_CASES);
		return 1;
	}
	chan_wd_area = area;
	chan_wd_cases = cases;
	chan_wd_pid = getpid();
	chan_wd_secs = CHAN_WD_SECS;
	if (env && atoi(env) > 0)
		chan_wd_secs = (unsigned)atoi(env);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = chan_wd_fire;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	for (i = 0; i < n; i++) {
		wrapped[i].name = cases[i].name;
		wrapped[i].fn = chan_wd_tramps[i];
	}
	return test_run(area, wrapped, n);
}

/*
 * A peer that holds an endpoint and nothing more: a child that opens spec
 * as role, sends msg (if any, as a writer), says it is ready and sleeps
 * until it is killed. Returns its pid once it is ready; the caller kills
 * and reaps it.
 */
static inline pid_t chan_holder(const char *spec, shmkit_chan_role role,
				const void *msg, size_t len)
{
	int p[2];
	pid_t pid;
	char c;

	ASSERT(pipe(p) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan *ch;

		close(p[0]);
		if (shmkit_chan_open(spec, role, &ch) < 0 ||
		    (msg && shmkit_chan_send(ch, msg, len, 0) < 0) ||
		    write(p[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		FAIL_("the endpoint holder %d never got ready", (int)pid);
	close(p[0]);
	return pid;
}

/* TEST_MAIN with a watchdog on every case. */
#define CHAN_TEST_MAIN(area, ...)                                             \
	int main(void)                                                        \
	{                                                                     \
		static const test_case cases_[] = {__VA_ARGS__};              \
		return chan_wd_run(area, cases_,                              \
				   sizeof(cases_) / sizeof(cases_[0]));       \
	}

#endif
