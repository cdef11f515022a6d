/*
 * wait.c: how a channel call waits, and how the other side wakes it.
 *
 * The protocol is Dekker's: a waiter registers in its side's wait word and
 * then checks its condition again; a publisher stores its message and then
 * reads the wait word. Each needs a full barrier between its store and its
 * load, or both can miss each other and the waiter sleeps through a
 * message. The publisher is the fast path, so shmkit moves its half of the
 * barrier to the waiter (an asymmetric fence): a waiter that is about to
 * sleep calls membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which makes every
 * CPU running a process registered for it (every process with a channel
 * endpoint registers at open) execute a full barrier before it returns.
 * Either that barrier comes before the publisher's load of the wait word
 * (which then sees the waiter) or after the publisher's store (which the
 * waiter's re-check then sees). The publisher's side is a compiler barrier
 * and one load of a line that nobody writes while traffic flows.
 *
 * A waiter that sleeps on every call (SHMKIT_CHAN_BLOCK) would pay a
 * membarrier per message; it asks publishers to fence instead (it counts
 * itself in the wait word's FENCE field; a publisher that sees the field
 * nonzero fences and reads the word again). A process that cannot use
 * membarrier (old kernel, seccomp) fences when it publishes and counts its
 * waiting endpoints as fencers. When a handle becomes a fencer it issues one
 * membarrier, so no publisher can still be acting on a word read before the
 * FENCE count was raised; where that is not available its first sleep is
 * cut to 1 ms instead.
 *
 * Sleeping is FUTEX_WAIT on a 32-bit word in the shared header (no
 * FUTEX_PRIVATE_FLAG: the waiters are in different processes), in slices of
 * 25 ms with a liveness pass between slices, so a dead peer turns a wait
 * into -EPIPE (-ECONNRESET for a reader whose writer died) in tens of
 * milliseconds. A waker bumps the word, then
 * FUTEX_WAKEs; the waiter read the word before its re-check, so a bump in
 * between makes FUTEX_WAIT return at once. Wake-ups are batched: a
 * sleeper registering sets UNWOKEN in its side's wait word, the first
 * publisher to find it set takes it and makes the one call, and every
 * publication after that stays out of the kernel until a waiter registers
 * again. So a stream into a sleeping reader costs one wake-up per burst,
 * not one per message while the reader is still getting up (on a shared
 * core it cannot even run until the writer yields, and every message of
 * the writer's time slice used to pay a system call).
 *
 * Spinning has two refinements (see shmkit__chan_wait): a handle that keeps
 * finding bursts waits a little before its first poll, so it stops stealing
 * the line its peer is writing; and a handle whose peer noted the same CPU
 * yields instead of pausing.
 *
 * The descriptor for event loops (shmkit_chan_fd) is an epoll instance with
 * three kinds of members: an AF_UNIX datagram socket bound to an abstract
 * address, pidfds of the peers, and a timer. An armed handle is counted in
 * the ARM field of its side's wait word and flagged in its entry; a
 * publisher that sees the field scans the entries, clears each flag with an
 * atomic and (so each arm earns at most one datagram) and sends one byte to
 * that address. eventfds would be simpler but cannot be shared by unrelated
 * processes without passing descriptors; a FIFO needs a path in the file
 * system, which a crash leaves behind. An abstract socket vanishes with its
 * last descriptor and anyone may send to it, which costs at most a spurious
 * wake-up. The pidfds make the descriptor readable when a peer dies, so an
 * event loop learns of it without polling with a timeout; peers beyond the
 * handle's pidfd budget (live.c) are covered by the timer instead, armed
 * for a liveness pass every TIMER_NS while such peers exist.
 *
 * The address is read from shared memory, where any peer may have written
 * anything, so a publisher sends only to names of shmkit's own form,
 * "\0shmkit.<pid>.<8 hex digits>", whose pid is the entry's own owner: a
 * hostile entry can make a publisher send one byte to that pid's wake
 * socket, never to an abstract socket of some other program's choosing.
 * The 32 random bits keep a squatter who binds names in advance from
 * guessing ours; a name already taken is simply drawn again.
 *
 * This file is the protocol, for every platform; the system calls under it
 * (futex, membarrier, the epoll set) are in src/unix/chan_os.c, and
 * src/win/chan_os.c gives Windows the same contract with other means: no
 * membarrier (every process there publishes with a fence, the mode above
 * for processes membarrier cannot reach), named semaphores for the futex
 * words, process handles for pidfds, an event for the descriptor (see
 * that file and docs/channels.md, "Windows").
 */
#include "chan_int.h"

#include <limits.h>
#include <stdio.h>

#define SLICE_NS (25 * INT64_C(1000000))
#define LIVE_NS (25 * INT64_C(1000000))
#define FRESH_NS INT64_C(1000000)
#define BACKOFF_MAX 256u
#define SHARE_NS (1000 * INT64_C(1000))
#define SPIN_MORE_MAX 8                 /* learned spin: at most 8 x spin_ns */
#define IDLE_NS (1000 * INT64_C(1000)) /* a wait this long: a quiet channel */
#define LEARN_NS (100 * INT64_C(1000000)) /* the extra spin's half-life */
#define BLOCK_LOOKS 64 /* polls a blocking waiter makes before it sleeps */
#define WAKE_PREFIX "shmkit."

/* -- membarrier ----------------------------------------------------------- */

static int mb_forced_off;

void shmkit__chan_force_fences(int on)
{
	ST_REL(&mb_forced_off, on);
}

void shmkit__chan_membarrier_init(shmkit_chan *ch)
{
	ch->always_fence = LD_ACQ(&mb_forced_off) || !shmkit__chan_os_mb_ready();
}

static int side_of(const shmkit_chan *ch)
{
	return ch->role == SHMKIT_CHAN_READER ? SIDE_RD : SIDE_WR;
}

void shmkit__chan_set_fencer(shmkit_chan *ch, int on)
{
	uint64_t *word = chan_wait_word(ch, side_of(ch));
	uint32_t old;

	if (!ch->me || !on == !ch->fencer)
		return;
	if (on) {
		FADD(word, W_FENCE_ONE);
		__atomic_fetch_or(&ch->me->wflags, EPW_FENCE, __ATOMIC_SEQ_CST);
		ch->fencer = 1;
		if (ch->always_fence || shmkit__chan_os_mb() != 0)
			ch->fence_fresh = 1;
	} else {
		old = __atomic_fetch_and(&ch->me->wflags, ~EPW_FENCE,
					 __ATOMIC_SEQ_CST);
		if (old & EPW_FENCE)
			FSUB(word, W_FENCE_ONE);
		ch->fencer = 0;
	}
}

/* The waiter's half of the barrier, between registering and re-checking. */
static void sleep_barrier(shmkit_chan *ch)
{
	if (ch->fencer) {
		chan_full_fence();
		return;
	}
	if (shmkit__chan_os_mb() == 0)
		return;
	/* Refused at run time: fall back for good. */
	ch->always_fence = 1;
	shmkit__chan_set_fencer(ch, 1);
	chan_full_fence();
}

/*
 * Take one sleeper's registration back. The last registered sleeper to go
 * clears UNWOKEN with it: nobody is left to wake, so the next publisher
 * makes no call (a sleeper that registered, found its message on the
 * re-check and never slept costs its publisher nothing).
 */
static void sleep_leave(uint64_t *word)
{
	uint64_t w = LD_RLX(word), nw;

	do {
		if (!(w & W_SLEEP_MASK))
			return; /* never ours to take: a peer scribbled */
		nw = w - W_SLEEP_ONE;
		if (!(nw & W_SLEEP_MASK))
			nw &= ~W_UNWOKEN;
	} while (!CAS(word, &w, nw));
}

void shmkit__chan_unwait(shmkit_chan *ch, struct chan_ep *ep, uint32_t role,
			 uint32_t flags)
{
	uint64_t *word, sub = 0;

	(void)ep;
	if (role != SHMKIT_CHAN_READER && role != SHMKIT_CHAN_WRITER)
		return;
	word = role == SHMKIT_CHAN_READER ? &ch->h->rd_wait : &ch->h->wr_wait;
	if (flags & EPW_SLEEP)
		sleep_leave(word);
	if (flags & EPW_ARMED)
		sub += W_ARM_ONE;
	if (flags & EPW_FENCE)
		sub += W_FENCE_ONE;
	if (sub)
		FSUB(word, sub);
}

/* -- waking --------------------------------------------------------------- */

/*
 * Is a[0..alen) "\0shmkit.<pid>.<8 hex digits>" for exactly this pid? The
 * only names a publisher will send to (see the top of the file).
 */
static int wake_name_ok(const char *a, uint32_t alen, pid_t pid)
{
	const size_t plen = sizeof(WAKE_PREFIX) - 1;
	uint32_t i = 1 + (uint32_t)plen, hex = 0;
	uint64_t v = 0;

	if (alen < i + 3 || a[0] != '\0' || memcmp(a + 1, WAKE_PREFIX, plen))
		return 0;
	if (a[i] < '1' || a[i] > '9')
		return 0;
	for (; i < alen && a[i] >= '0' && a[i] <= '9' && v <= INT32_MAX; i++)
		v = v * 10 + (uint64_t)(a[i] - '0');
	if (v != (uint64_t)pid || i >= alen || a[i++] != '.')
		return 0;
	for (; i < alen; i++, hex++)
		if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f')))
			return 0;
	return hex == 8;
}

/* Our own name: the form above, with fresh random bits. */
static uint32_t wake_name(char *buf, size_t len, pid_t pid)
{
	uint32_t rnd = shmkit__chan_os_random32();

	buf[0] = '\0';
	return (uint32_t)(1 + snprintf(buf + 1, len - 1, WAKE_PREFIX "%d.%08x",
				       (int)pid, rnd));
}

static void send_wake(shmkit_chan *ch, struct chan_ep *ep)
{
	char name[sizeof(ep->addr)];
	uint32_t alen = LD_ACQ(&ep->addr_len), i;

	if (alen < 2 || alen > sizeof(ep->addr))
		return;
	for (i = 0; i < alen; i++)
		name[i] = (char)LD_RLX(&ep->addr[i]);
	if (!wake_name_ok(name, alen, EP_PID(LD_ACQ(&ep->owner))))
		return;
	shmkit__chan_os_send_wake(ch, name, alen);
}

void shmkit__chan_signal_armed(shmkit_chan *ch, int side)
{
	uint32_t role = side == SIDE_RD ? SHMKIT_CHAN_READER
					: SHMKIT_CHAN_WRITER;
	uint64_t *word = chan_wait_word(ch, side);
	uint32_t i;

	for (i = 0; i < ch->nep; i++) {
		struct chan_ep *ep = &ch->eps[i];
		uint32_t old;

		if (ch->me && i == ch->index)
			continue;
		if (!(LD_RLX(&ep->wflags) & EPW_ARMED) ||
		    LD_ACQ(&ep->role) != role)
			continue;
		old = __atomic_fetch_and(&ep->wflags, ~EPW_ARMED,
					 __ATOMIC_SEQ_CST);
		if (!(old & EPW_ARMED))
			continue;
		FSUB(word, W_ARM_ONE);
		send_wake(ch, ep);
	}
}

/* Every sleeper of a side: bump the word they read, then wake them all
 * (w: the wait word as the waker last saw it, to say how many). */
static void wake_sleepers(shmkit_chan *ch, int side, uint64_t w)
{
	uint32_t *f = chan_futex_word(ch, side);
	uint32_t n = (uint32_t)(w & W_SLEEP_MASK);

	__atomic_fetch_add(f, 1, __ATOMIC_SEQ_CST);
	shmkit__chan_os_wake(ch, side, n ? n : 1);
}

/*
 * The slow half of a publication. Sleepers are woken once per burst: the
 * first publisher to find UNWOKEN takes it (so exactly one makes the call)
 * and wakes every sleeper of that side; until one of them registers again,
 * publishers see it clear and stay out of the kernel, however many
 * messages follow while the woken ones get going. Waking them all, MPMC
 * readers included, costs a herd at the start of a burst after a quiet
 * spell; waking one would leave the others asleep for the whole burst,
 * since nothing would wake them again before one of them re-registers.
 */
void shmkit__chan_wake(shmkit_chan *ch, int side, uint64_t w)
{
	uint64_t *word = chan_wait_word(ch, side), was;

	if (!ch->always_fence && (w & W_FENCE_MASK)) {
		chan_full_fence();
		w = LD_RLX(word);
	}
	if ((w & W_UNWOKEN) &&
	    ((was = __atomic_fetch_and(word, ~W_UNWOKEN, __ATOMIC_SEQ_CST)) &
	     W_UNWOKEN))
		wake_sleepers(ch, side, was);
	if (w & W_ARM_MASK)
		shmkit__chan_signal_armed(ch, side);
}

void shmkit__chan_wake_all(shmkit_chan *ch)
{
	int side;

	if (!ch->rw)
		return;
	chan_full_fence();
	for (side = SIDE_RD; side <= SIDE_WR; side++) {
		uint64_t *word = chan_wait_word(ch, side);
		uint64_t w = LD_RLX(word);

		if (w & (W_SLEEP_MASK | W_UNWOKEN)) {
			(void)__atomic_fetch_and(word, ~W_UNWOKEN,
						 __ATOMIC_SEQ_CST);
			wake_sleepers(ch, side, w);
		}
		if (w & W_ARM_MASK)
			shmkit__chan_signal_armed(ch, side);
	}
}

/* -- waiting -------------------------------------------------------------- */

/* Count ourselves in (and ask for a wake-up), flag it, read the futex
 * word, barrier: then the caller's re-check cannot miss a publication. */
static uint32_t sleep_begin(shmkit_chan *ch, int side)
{
	uint64_t *word = chan_wait_word(ch, side), w = LD_RLX(word);
	uint32_t v;

	while (!CAS(word, &w, (w + W_SLEEP_ONE) | W_UNWOKEN))
		;
	__atomic_fetch_or(&ch->me->wflags, EPW_SLEEP, __ATOMIC_SEQ_CST);
	v = LD_ACQ(chan_futex_word(ch, side));
	sleep_barrier(ch);
	return v;
}

static void sleep_end(shmkit_chan *ch, int side)
{
	uint32_t old = __atomic_fetch_and(&ch->me->wflags, ~EPW_SLEEP,
					  __ATOMIC_SEQ_CST);

	if (old & EPW_SLEEP)
		sleep_leave(chan_wait_word(ch, side));
}

/*
 * Time for a liveness pass: it is due, an endpoint has left since, or the
 * last one found no peer (so that -EPIPE, once seen, is said every time
 * until a peer comes back).
 */
static int live_due(const shmkit_chan *ch, int64_t now)
{
	return ch->gone || now - ch->live_last >= LIVE_NS ||
	       LD_RLX(&ch->h->leaves) != ch->leaves_seen;
}

/*
 * Does a peer last seen waiting on our CPU share this core with us? Then
 * spinning only keeps it off the CPU until the scheduler preempts us (a
 * whole time slice): yield instead. Endpoints note their CPU when they open
 * and when they start to wait; looked at once a millisecond at most.
 */
static void note_cpu(shmkit_chan *ch, int64_t now)
{
	int c = shmkit__chan_os_cpu();
	uint32_t mine = c >= 0 ? (uint32_t)c + 1 : 0, i;
	uint32_t prole = ch->role == SHMKIT_CHAN_WRITER ? SHMKIT_CHAN_READER
							: SHMKIT_CHAN_WRITER;

	if (mine != ch->cpu) {
		ch->cpu = mine;
		ST_RLX(&ch->me->cpu, mine);
		ch->share_checked = 0;
	}
	if (now - ch->share_checked < SHARE_NS)
		return;
	ch->share_checked = now;
	ch->share_cpu = 0;
	if (!mine)
		return;
	for (i = 0; i < ch->nep; i++) {
		struct chan_ep *ep = &ch->eps[i];
		if (i == ch->index || LD_RLX(&ep->cpu) != mine ||
		    LD_RLX(&ep->role) != prole || !LD_RLX(&ep->owner))
			continue;
		ch->share_cpu = 1;
		return;
	}
}

void shmkit__chan_note_cpu(shmkit_chan *ch)
{
	note_cpu(ch, 0);
}

/*
 * A liveness pass, then one more try: the pass may have freed slots, and a
 * writer's last message may have landed between our last try and its close
 * (the pass saw the close, so the try sees the message).
 */
static int check(shmkit_chan *ch, shmkit__chan_try_fn try_fn, void *arg)
{
	int end = shmkit__chan_live_pass(ch);
	int r = try_fn(ch, arg);

	if (r != -EAGAIN)
		return r;
	return end ? end : -EAGAIN;
}

/* At the deadline: the end of the stream rather than -ETIMEDOUT. */
static int expire(shmkit_chan *ch, int64_t now, shmkit__chan_try_fn try_fn,
		  void *arg)
{
	int r = live_due(ch, now) ? check(ch, try_fn, arg) : try_fn(ch, arg);

	return r != -EAGAIN ? r : -ETIMEDOUT;
}

int shmkit__chan_nowait(shmkit_chan *ch, shmkit__chan_try_fn try_fn,
			void *arg)
{
	if (!live_due(ch, shmkit__chan_coarse_now()))
		return -EAGAIN;
	return check(ch, try_fn, arg);
}

/*
 * Adaptive waiting learns how long to spin. A wait that had to sleep but
 * got its message within IDLE_NS is part of a live exchange that spinning
 * longer might have caught, and on a VM a sleep is dear: the host puts the
 * idle vCPU away and waking it takes tens to hundreds of microseconds, so
 * the peer's own spin runs out too and both sides then sleep on every
 * message. (On the test VM a peer stalls for 20-50 us in about 1.5% of the
 * round trips of a ping-pong; with the default 20 us spin each such stall
 * became a sleep, and the p99 a wake-up.) So each such sleep doubles an
 * extra spin, up to SPIN_MORE_MAX times spin_ns; every LEARN_NS without
 * such a sleep halves it (by time, not by message: the stalls it is for
 * come every few milliseconds, between thousands of quick hand-offs); a
 * sleep even at the longest spin (the peer is slower than spinning can
 * cover), or a wait of over IDLE_NS (a quiet channel), drops it. What the
 * extra spin costs is CPU in waits that would have slept anyway.
 */
static void learn_spun(shmkit_chan *ch, int64_t now)
{
	if (ch->spin_more && now - ch->learn_at >= LEARN_NS) {
		ch->spin_more >>= 1;
		ch->learn_at = now;
	}
}

static void learn_slept(shmkit_chan *ch, int64_t t0, int64_t waited)
{
	int64_t cap = SPIN_MORE_MAX * ch->spin_ns;

	if (ch->mode != SHMKIT_CHAN_ADAPTIVE || ch->share_cpu)
		return;
	if (waited >= IDLE_NS || ch->spin_more >= cap) {
		ch->spin_more = 0;
		return;
	}
	ch->spin_more = !ch->spin_more	       ? ch->spin_ns
			: 2 * ch->spin_more < cap ? 2 * ch->spin_more
						  : cap;
	ch->learn_at = t0 + waited;
}

int shmkit__chan_wait(shmkit_chan *ch, int side, shmkit__chan_try_fn try_fn,
		      void *arg, int64_t timeout_ns)
{
	int64_t now = shmkit__chan_now(), deadline, slice, t0 = now;
	uint32_t v;
	int r, i;

	deadline = timeout_ns < 0 || timeout_ns > INT64_MAX - now
			   ? INT64_MAX
			   : now + timeout_ns;
	if (ch->mode != SHMKIT_CHAN_BLOCK) {
		int64_t spin_end = ch->mode == SHMKIT_CHAN_SPIN
					   ? INT64_MAX
					   : now + ch->spin_ns + ch->spin_more;
		/*
		 * Catching up with a streaming peer: several messages since the
		 * last wait mean the peer runs ahead, and polling the line it
		 * is writing only slows both of us (each poll steals the line
		 * back). Let it get a little ahead, then take a whole batch.
		 * One message per wait (a ping-pong, a slow peer) brings the
		 * delay back to zero, so latency is not paid for it.
		 */
		uint64_t burst = ch->msgs - ch->msgs_at_wait;

		if (burst >= 4)
			ch->backoff = ch->backoff * 2 + 1 < BACKOFF_MAX
					      ? ch->backoff * 2 + 1
					      : BACKOFF_MAX;
		else if (burst <= 1)
			ch->backoff >>= 1;
		ch->msgs_at_wait = ch->msgs;
		note_cpu(ch, now);
		for (i = 0; i < (int)ch->backoff; i++)
			chan_cpu_relax();
		/*
		 * Adaptive, and the peer waits on our CPU: spinning keeps it
		 * off the CPU, and yielding hands the CPU to whatever else runs
		 * here for a whole slice. Sleep at once; only SPIN mode, which
		 * must not sleep, yields.
		 */
		if (ch->share_cpu && ch->mode == SHMKIT_CHAN_ADAPTIVE)
			spin_end = now;
		while (now < spin_end) {
			for (i = 0; i < 16; i++) {
				if (CHAN_UNLIKELY(ch->share_cpu))
					shmkit__chan_os_yield();
				else
					chan_cpu_relax();
				r = try_fn(ch, arg);
				if (r != -EAGAIN) {
					learn_spun(ch, now);
					return r;
				}
			}
			now = shmkit__chan_now();
			note_cpu(ch, now);
			if (now >= deadline)
				return expire(ch, now, try_fn, arg);
			if (live_due(ch, now)) {
				r = check(ch, try_fn, arg);
				if (r != -EAGAIN)
					return r;
			}
			if (ch->share_cpu && ch->mode == SHMKIT_CHAN_ADAPTIVE)
				break;
		}
	}
	if (ch->mode == SHMKIT_CHAN_BLOCK) {
		/*
		 * A blocking waiter still looks a few times (about a
		 * microsecond) before it registers: in a stream a reader that
		 * drains faster than its writer fills finds the channel empty
		 * every few messages, and registering each time writes the
		 * line the writer reads after every message (a miss per
		 * message, which slows the writer, which empties the channel
		 * more often still: 1 M msgs/s where the bare futex ring did 8).
		 */
		for (i = 0; i < BLOCK_LOOKS; i++) {
			chan_cpu_relax();
			r = try_fn(ch, arg);
			if (r != -EAGAIN)
				return r;
		}
	}
	for (;;) {
		v = sleep_begin(ch, side);
		r = try_fn(ch, arg);
		if (r != -EAGAIN) {
			sleep_end(ch, side);
			return r;
		}
		now = shmkit__chan_now();
		if (now >= deadline) {
			sleep_end(ch, side);
			return expire(ch, now, try_fn, arg);
		}
		slice = deadline - now < SLICE_NS ? deadline - now : SLICE_NS;
		if (ch->fence_fresh) {
			ch->fence_fresh = 0;
			if (slice > FRESH_NS)
				slice = FRESH_NS;
		}
		shmkit__chan_os_sleep(ch, side, v, slice);
		sleep_end(ch, side);
		r = try_fn(ch, arg);
		if (r != -EAGAIN) {
			now = shmkit__chan_now();
			learn_slept(ch, t0, now - t0);
			return r;
		}
		now = shmkit__chan_now();
		if (now >= deadline)
			return expire(ch, now, try_fn, arg);
		if (live_due(ch, now)) {
			r = check(ch, try_fn, arg);
			if (r != -EAGAIN)
				return r;
		}
	}
}

/* -- the notifier (descriptor or event) ----------------------------------- */

int shmkit__chan_notifier(shmkit_chan *ch)
{
	char name[sizeof(((struct chan_ep *)0)->addr)];
	uint32_t alen = 0, i;
	int r, tries;

	if (!ch)
		return -EINVAL;
	if (!ch->me)
		return -EBADF;
	if (!chan_may_wait(ch))
		return -ENOTSUP; /* a broadcast writer that never waits */
	if (shmkit__chan_os_has_notifier(ch))
		return 0;
	_Static_assert(sizeof(((struct chan_ep *)0)->addr) >=
			       1 + sizeof(WAKE_PREFIX) - 1 + 7 + 1 + 8,
		       "a wake name fits an entry");
	for (tries = 0;; tries++) {
		alen = wake_name(name, sizeof(name), ch->pid);
		r = shmkit__chan_os_notifier(ch, name, alen);
		if (r == 0)
			break;
		if (r != -EADDRINUSE || tries == 16)
			return r;
	}
	for (i = 0; i < alen; i++)
		ST_RLX(&ch->me->addr[i], (uint8_t)name[i]);
	ST_REL(&ch->me->addr_len, alen);
	for (i = 0; i < ch->nep; i++)
		if (ch->peers[i].state == EP_ALIVE)
			shmkit__chan_os_watch(ch, i, 1);
	return 0;
}

static void disarm(shmkit_chan *ch)
{
	uint32_t old = __atomic_fetch_and(&ch->me->wflags, ~EPW_ARMED,
					  __ATOMIC_SEQ_CST);

	if (old & EPW_ARMED)
		FSUB(chan_wait_word(ch, side_of(ch)), W_ARM_ONE);
}

int shmkit_chan_arm(shmkit_chan *ch)
{
	uint64_t *word;
	uint32_t old;
	int r;

	if (!ch)
		return -EINVAL;
	if (!shmkit__chan_os_has_notifier(ch)) {
		r = shmkit__chan_notifier(ch);
		if (r < 0)
			return r;
	}
	shmkit__chan_os_drain(ch);
	/* Reaps the dead, and puts the living peers' pidfds in the set. */
	if (shmkit__chan_live_pass(ch) != 0 || shmkit__chan_ready(ch))
		return 1;
	r = shmkit__chan_os_timer(ch);
	if (r < 0)
		return r;
	/*
	 * Count first, flag second, like every other wait field. The other
	 * order let a publisher see the flag before the count: it cleared the
	 * flag and took W_ARM_ONE from an ARM field still at zero, which
	 * borrowed from the FENCE field above it. Until our add carried it
	 * back, publishers read one fencer too few and could skip the fence
	 * a blocking-mode sleeper of this side relies on (its wake-up lost
	 * for a slice); and if we died between the two steps, the reaper
	 * took back an ARM we never added, leaving FENCE one short and ARM
	 * at all ones for good. Counted first, each field is always at least
	 * the number of flags set; a flag already set (an arm not yet
	 * consumed) already holds its count, so ours is given back. Dying
	 * between the steps now leaves ARM one high: publishers scan the
	 * entries for nothing, and no wake-up is ever lost.
	 */
	word = chan_wait_word(ch, side_of(ch));
	FADD(word, W_ARM_ONE);
	old = __atomic_fetch_or(&ch->me->wflags, EPW_ARMED, __ATOMIC_SEQ_CST);
	if (old & EPW_ARMED)
		FSUB(word, W_ARM_ONE);
	sleep_barrier(ch);
	if (shmkit__chan_ready(ch)) {
		disarm(ch);
		return 1;
	}
	return 0;
}
