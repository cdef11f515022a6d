/*
 * live.c: who holds each endpoint entry, whether it is still alive, and
 * cleaning up after those that are not.
 *
 * Identity that survives pid reuse: an entry's owner word packs the pid
 * with the low 32 bits of the process start time (/proc/PID/stat field 22,
 * clock ticks after boot; on Windows the creation time, and pidfds below
 * are process handles there) and a hash of the pid namespace; a process with
 * the same pid but another start time is a different process. Checking is
 * cheap after the first look: a handle opens a pidfd for each peer it
 * checks (pidfd_open, then the start time is verified once, since the pid
 * could have been reused before the pidfd pinned it) and from then on a
 * zero-timeout poll() on it says whether the peer exited; zombies count as
 * dead. A handle holds pidfds only for peers of the opposite role (the ones
 * whose death it must notice) and at most CHAN_PIDFDS of them, so a reader
 * among thousands of writers does not exhaust the descriptor limit; every
 * other entry, and every peer where pidfds are missing, costs a read of
 * /proc/PID/stat per check instead. Checks run only on slow paths: at open,
 * and while a call is actually waiting.
 *
 * An endpoint seen from another pid namespace (different namespace hash,
 * or a different namespace inode once its owner has written it) cannot be
 * judged: it is taken as alive and never reclaimed.
 *
 * Reclaiming a dead entry ("reaping"): the reaper swaps its own identity in
 * with EP_REAPING set, gives back what the dead endpoint held (its share of
 * the wait words, an MPMC claim), folds its counters into the header's
 * totals, and frees the entry. Every step is idempotent (exchange or CAS),
 * so a reaper that dies half-way is itself seen dead and another redoes the
 * work.
 *
 * MPMC claims. An endpoint stores "position + 1" in its claim field before
 * it tries to claim a position by CAS and clears it after publishing or
 * freeing the slot. For a dead endpoint whose claim is still set, the slot
 * is repaired only if its state proves the claim was taken and never
 * completed (a writer's slot still reads "free for p" while tail is past p;
 * a reader's slot still reads "holds p" while head is past p) and no live
 * endpoint records the same claim, since a live one that claimed p keeps
 * its claim set until it has published. The repair is a CAS on the slot's
 * sequence from the exact value checked: a dead writer's slot becomes
 * "holds p, poisoned" (readers skip it), a dead reader's slot becomes "free
 * for the next lap" (that message is lost, and counted).
 *
 * The stream (chan_hdr.wstate). Each writer entry carries EPW_WRITER in its
 * wflags from the moment it is taken until the writer is counted out of
 * its stream; whoever clears the flag (the writer closing, or a reaper, by
 * the exchange that already makes reaping idempotent) counts it out exactly
 * once: one more writer left, and for a reaped one, "died" with its pid.
 * A writer that joins a stream that is over starts the next generation.
 * Whether a stream is over needs the number of its writers open now, which
 * is never kept as a counter (a process killed between two updates would
 * leave it wrong for good): it is counted from the entries, which are the
 * truth, on the slow path where a reader found the channel empty.
 */
#include "chan_int.h"

/*
 * The system's part (reading the start time, pidfds; process handles and
 * creation times on Windows) is in src/unix/chan_os.c and src/win/chan_os.c;
 * the packing of the owner word and everything done with it is here.
 */
static int proc_alive(pid_t pid, uint32_t start_lo)
{
	return shmkit__chan_os_alive(pid, start_lo);
}

static unsigned ns_hash(uint64_t ino)
{
	unsigned h = 0;

	while (ino) {
		h ^= (unsigned)(ino & 0xff);
		ino >>= 8;
	}
	return h & 0xff;
}

/* Cached per process (rechecked against getpid() for forked children). */
static uint64_t self_owner, self_start, self_ns;

int shmkit__chan_self(pid_t *pid, uint64_t *owner, uint64_t *start,
		      uint64_t *pidns)
{
	pid_t me = shmkit__chan_os_pid();
	uint64_t o = LD_ACQ(&self_owner), st, ns = 0;
	int r;

	if (o && EP_PID(o) == me) {
		*pid = me;
		*owner = o;
		*start = LD_RLX(&self_start);
		*pidns = LD_RLX(&self_ns);
		return 0;
	}
	r = shmkit__chan_os_self(&me, &st, &ns);
	if (r < 0)
		return r;
	o = ((uint64_t)me << 40) | ((uint64_t)ns_hash(ns) << 32) |
	    (uint32_t)st;
	ST_RLX(&self_start, st);
	ST_RLX(&self_ns, ns);
	ST_REL(&self_owner, o);
	*pid = me;
	*owner = o;
	*start = st;
	*pidns = ns;
	return 0;
}

static void peer_reset(shmkit_chan *ch, uint32_t idx, uint64_t owner)
{
	struct chan_peer *c = &ch->peers[idx];

	if (c->pin != CHAN_PIN_NONE) {
		shmkit__chan_os_unpin(ch, idx); /* also leaves our watch */
		ch->npidfds--;
	}
	c->pin = CHAN_PIN_NONE;
	c->in_epoll = 0;
	c->state = 0;
	c->owner = owner;
}

static int peer_role_of(const shmkit_chan *ch)
{
	return ch->role == SHMKIT_CHAN_WRITER ? SHMKIT_CHAN_READER
					      : SHMKIT_CHAN_WRITER;
}

/*
 * First look at a peer: pin it with a pidfd, then make sure it is the one.
 * Only peers of the opposite role get one, and only CHAN_PIDFDS of them.
 */
static int peer_first(shmkit_chan *ch, struct chan_peer *c, pid_t pid,
		      uint32_t start_lo, int want_fd)
{
	shmkit__chan_pin pin;
	int st;

	if (!want_fd || ch->npidfds >= CHAN_PIDFDS)
		return proc_alive(pid, start_lo) ? EP_ALIVE : EP_DEAD;
	st = shmkit__chan_os_pin(pid, start_lo, &pin);
	if (st == EP_UNKNOWN) /* no pins here (old kernel, seccomp) */
		return proc_alive(pid, start_lo) ? EP_ALIVE : EP_DEAD;
	if (st != EP_ALIVE)
		return EP_DEAD;
	c->pin = pin;
	ch->npidfds++;
	return EP_ALIVE;
}

int shmkit__chan_ep_state(shmkit_chan *ch, uint32_t idx)
{
	struct chan_ep *ep = &ch->eps[idx];
	struct chan_peer *c = &ch->peers[idx];
	uint64_t owner = LD_ACQ(&ep->owner), ns;
	pid_t pid;
	int st;

	if (owner == 0)
		return EP_FREE;
	if (owner & EP_REAPING) {
		uint64_t who = owner & ~EP_REAPING;
		if (who == ch->owner)
			return EP_BUSY;
		return proc_alive(EP_PID(who), EP_START(who)) ? EP_BUSY
							      : EP_DEAD;
	}
	if (ch->me && idx == ch->index)
		return EP_ALIVE;
	if (EP_NSHASH(owner) != EP_NSHASH(ch->owner))
		return EP_UNKNOWN;
	ns = LD_RLX(&ep->pidns);
	if (ns && ch->pidns && ns != ch->pidns)
		return EP_UNKNOWN;
	pid = EP_PID(owner);
	if (pid == ch->pid) /* this process, or one that had our pid */
		return EP_START(owner) == EP_START(ch->owner) ? EP_ALIVE
							      : EP_DEAD;
	if (c->owner != owner)
		peer_reset(ch, idx, owner);
	if (c->state == EP_DEAD)
		return EP_DEAD;
	if (c->state == 0) {
		st = peer_first(ch, c, pid, EP_START(owner),
				LD_ACQ(&ep->role) == (uint32_t)peer_role_of(ch));
	} else if (c->pin != CHAN_PIN_NONE) {
		st = shmkit__chan_os_pin_dead(c->pin) ? EP_DEAD : EP_ALIVE;
	} else {
		st = proc_alive(pid, EP_START(owner)) ? EP_ALIVE : EP_DEAD;
	}
	c->state = (int8_t)st;
	if (st == EP_DEAD)
		shmkit__chan_os_watch(ch, idx, 0);
	else if (ch->me && LD_ACQ(&ep->role) == (uint32_t)peer_role_of(ch))
		shmkit__chan_os_watch(ch, idx, 1);
	return st;
}

void shmkit__chan_peers_close(shmkit_chan *ch)
{
	uint32_t i;

	if (!ch->peers)
		return;
	for (i = 0; i < ch->nep; i++)
		peer_reset(ch, i, 0);
}

/* A live endpoint of role, other than skip, that records claim. */
static int live_claimant(shmkit_chan *ch, uint32_t skip, uint32_t role,
			 uint64_t claim)
{
	uint32_t i;

	for (i = 0; i < ch->nep; i++) {
		struct chan_ep *ep = &ch->eps[i];
		uint64_t o = LD_ACQ(&ep->owner);

		if (i == skip || !o || (o & EP_REAPING))
			continue;
		if (LD_ACQ(&ep->role) != role || LD_ACQ(&ep->claim) != claim)
			continue;
		if (shmkit__chan_ep_state(ch, i) != EP_DEAD)
			return 1;
	}
	return 0;
}

static void mpmc_recover(shmkit_chan *ch, uint32_t idx, uint32_t role)
{
	struct chan_ep *ep = &ch->eps[idx];
	uint64_t c = LD_ACQ(&ep->claim), p, seq;
	struct chan_slot *s;

	if (!c)
		return;
	p = c - 1;
	s = chan_slot_at(ch, p);
	seq = LD_ACQ(&s->seq);
	if (role == SHMKIT_CHAN_WRITER) {
		/* Still "free for p", exactly: nothing was published. */
		if (seq != seq_of(p) || LD_ACQ(&ch->h->tail) <= p ||
		    live_claimant(ch, idx, role, c))
			return;
		if (CAS(&s->seq, &seq, seq_of(p + 1) | SEQ_POISON))
			FADD(&ch->h->poisoned, 1);
	} else if (role == SHMKIT_CHAN_READER) {
		if (seq_of(seq) != seq_of(p + 1) ||
		    LD_ACQ(&ch->h->head) <= p ||
		    live_claimant(ch, idx, role, c))
			return;
		if (CAS(&s->seq, &seq, seq_of(p + ch->cap)) &&
		    !(seq & SEQ_POISON))
			FADD(&ch->h->dropped, 1);
	}
}

/* Fold an entry's counters into the header's totals, exactly once. */
static void fold_counts(shmkit_chan *ch, struct chan_ep *ep, uint32_t role)
{
	uint64_t m = __atomic_exchange_n(&ep->msgs, 0, __ATOMIC_SEQ_CST);
	uint64_t b = __atomic_exchange_n(&ep->bytes, 0, __ATOMIC_SEQ_CST);

	if (role == SHMKIT_CHAN_WRITER) {
		FADD(&ch->h->sent_closed, m);
		FADD(&ch->h->sent_bytes_closed, b);
	} else if (role == SHMKIT_CHAN_READER) {
		FADD(&ch->h->recv_closed, m);
		FADD(&ch->h->recv_bytes_closed, b);
	}
}

static void entry_clear(struct chan_ep *ep)
{
	ST_RLX(&ep->cpu, 0);
	ST_RLX(&ep->claim, 0);
	ST_RLX(&ep->cursor, 0);
	ST_RLX(&ep->lost, 0);
	ST_RLX(&ep->addr_len, 0);
	ST_RLX(&ep->start, 0);
	ST_RLX(&ep->pidns, 0);
	ST_RLX(&ep->gen, 0);
	ST_RLX(&ep->pid, 0);
	ST_RLX(&ep->role, 0);
}

/* -- the stream ------------------------------------------------------------ */

int shmkit__chan_stream_over(const shmkit_chan *ch, uint64_t ws,
			     unsigned open_writers)
{
	uint64_t need = ch->lay.writers ? ch->lay.writers : 1;

	if (ws & WS_SHUT)
		return 1;
	return open_writers == 0 && WS_LEFT(ws) >= need;
}

/* Count a writer of generation gen out of the stream, if it is still the
 * current one: one more gone, and the first death is remembered. */
static void stream_leave(shmkit_chan *ch, uint32_t gen, int died, pid_t pid)
{
	uint64_t ws = LD_ACQ(&ch->h->wstate), nw;

	do {
		if (WS_GEN(ws) != gen)
			return; /* a stream that is over and done with */
		nw = ws;
		if (WS_LEFT(ws) < WS_LEFT_MAX)
			nw++;
		if (died && !(ws & (WS_SHUT | WS_DIED)))
			nw |= WS_DIED | ((uint64_t)((uint32_t)pid & 0x7fffff)
					 << WS_PID_SHIFT);
	} while (!CAS(&ch->h->wstate, &ws, nw));
}

static int reap_one(shmkit_chan *ch, uint32_t idx, uint64_t seen)
{
	struct chan_ep *ep = &ch->eps[idx];
	uint32_t role, flags;

	if (!ch->rw)
		return 0; /* role NONE handles look, never write */
	if (!CAS(&ep->owner, &seen, ch->owner | EP_REAPING))
		return 0;
	role = LD_ACQ(&ep->role);
	if (ch->kind == SHMKIT_CHAN_MPMC)
		mpmc_recover(ch, idx, role);
	flags = __atomic_exchange_n(&ep->wflags, 0, __ATOMIC_SEQ_CST);
	shmkit__chan_unwait(ch, ep, role, flags);
	if (flags & EPW_WRITER)
		stream_leave(ch, LD_RLX(&ep->gen), 1, (pid_t)LD_RLX(&ep->pid));
	fold_counts(ch, ep, role);
	entry_clear(ep);
	FADD(&ch->h->reclaimed, 1);
	ST_REL(&ep->owner, 0);
	FADD(&ch->h->leaves, 1);
	peer_reset(ch, idx, 0);
	/* Peers may now be alone, or have slots back. */
	shmkit__chan_wake_all(ch);
	return 1;
}

/* Reap every dead entry; returns how many. */
static int reap_all(shmkit_chan *ch)
{
	uint32_t i;
	int n = 0;

	for (i = 0; i < ch->nep; i++) {
		uint64_t o = LD_ACQ(&ch->eps[i].owner);

		if (!o || (ch->me && i == ch->index))
			continue;
		if (shmkit__chan_ep_state(ch, i) == EP_DEAD)
			n += reap_one(ch, i, o);
	}
	return n;
}

/* Writers of generation gen open now, other than us; reaps the dead. */
static unsigned writers_open(shmkit_chan *ch, uint32_t gen)
{
	unsigned n = 0;
	uint32_t i;

	for (i = 0; i < ch->nep; i++) {
		struct chan_ep *ep = &ch->eps[i];
		uint64_t o = LD_ACQ(&ep->owner);
		int st;

		if (!o || i == ch->index || LD_ACQ(&ep->role) != SHMKIT_CHAN_WRITER)
			continue;
		st = shmkit__chan_ep_state(ch, i);
		if (st == EP_DEAD)
			(void)reap_one(ch, i, o);
		else if (st != EP_BUSY && LD_ACQ(&ep->gen) == gen)
			n++;
	}
	return n;
}

/*
 * A writer has registered: join the current stream, or, if that one is
 * over, begin the next generation (two writers racing to do so agree: the
 * loser's CAS fails and it finds the new stream open).
 */
static void stream_join(shmkit_chan *ch)
{
	uint64_t ws = LD_ACQ(&ch->h->wstate), nw;

	while (shmkit__chan_stream_over(ch, ws, writers_open(ch, WS_GEN(ws)))) {
		nw = (ws + (UINT64_C(1) << WS_GEN_SHIFT)) & WS_GEN_MASK;
		if (CAS(&ch->h->wstate, &ws, nw)) {
			ws = nw;
			break;
		}
	}
	ST_RLX(&ch->me->gen, WS_GEN(ws));
	ch->wstream = WS_STREAM(ws);
}

int shmkit__chan_register(shmkit_chan *ch, int role)
{
	uint32_t lo = 0, hi = ch->nep - 1, i;
	struct chan_ep *ep;
	int attempt, other;

	if (ch->kind == SHMKIT_CHAN_SPSC) {
		lo = hi = role == SHMKIT_CHAN_WRITER ? 0 : 1;
	} else if (ch->kind == SHMKIT_CHAN_BROADCAST) {
		if (role == SHMKIT_CHAN_WRITER)
			hi = 0;
		else
			lo = 1;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		(void)reap_all(ch);
		for (i = lo; i <= hi; i++) {
			uint64_t zero = 0;
			ep = &ch->eps[i];
			if (LD_RLX(&ep->owner) == 0 &&
			    CAS(&ep->owner, &zero, ch->owner))
				goto got;
		}
	}
	return lo == hi ? -EBUSY : -EUSERS;
got:
	ch->me = ep;
	ch->index = i;
	peer_reset(ch, i, 0);
	entry_clear(ep);
	ST_RLX(&ep->wflags, role == SHMKIT_CHAN_WRITER ? EPW_WRITER : 0u);
	ST_RLX(&ep->msgs, 0);
	ST_RLX(&ep->bytes, 0);
	ST_RLX(&ep->start, LD_RLX(&self_start));
	ST_RLX(&ep->pidns, ch->pidns);
	ST_RLX(&ep->pid, (uint32_t)ch->pid);
	/* Provisionally in the current stream, before anyone sees the role:
	 * a reader that counts us then waits for us rather than calling an
	 * end that we are about to undo (stream_join may move us on). */
	if (role == SHMKIT_CHAN_WRITER)
		ST_RLX(&ep->gen, WS_GEN(LD_ACQ(&ch->h->wstate)));
	/* A broadcast reader starts at the next message: say so before a
	 * lossless writer can see the role, or it would wait for message 0. */
	if (ch->kind == SHMKIT_CHAN_BROADCAST && role == SHMKIT_CHAN_READER)
		ST_RLX(&ep->cursor, LD_ACQ(&ch->h->tail));
	ST_REL(&ep->role, (uint32_t)role);
	FADD(&ch->h->opens[role], 1);
	if (role == SHMKIT_CHAN_WRITER)
		stream_join(ch);
	/* Armed peers watch the pidfds of the peers they knew: tell them. */
	other = role == SHMKIT_CHAN_WRITER ? SIDE_RD : SIDE_WR;
	if (LD_ACQ(chan_wait_word(ch, other)) & W_ARM_MASK)
		shmkit__chan_signal_armed(ch, other);
	return 0;
}

void shmkit__chan_deregister(shmkit_chan *ch)
{
	struct chan_ep *ep = ch->me;
	uint32_t flags = __atomic_exchange_n(&ep->wflags, 0, __ATOMIC_SEQ_CST);

	shmkit__chan_unwait(ch, ep, ch->role, flags);
	if (flags & EPW_WRITER)
		stream_leave(ch, LD_RLX(&ep->gen), 0, 0);
	fold_counts(ch, ep, ch->role);
	entry_clear(ep);
	ST_REL(&ep->owner, 0);
	FADD(&ch->h->leaves, 1);
	ch->me = NULL;
	ch->fencer = 0;
	/* Blocked peers look again at once: they may be alone now. */
	shmkit__chan_wake_all(ch);
}

int shmkit__chan_live_pass(shmkit_chan *ch)
{
	uint32_t prole = (uint32_t)peer_role_of(ch), i, gen;
	unsigned alive = 0, uncovered = 0;
	uint64_t ws;

	ch->live_last = shmkit__chan_now();
	ch->leaves_seen = LD_ACQ(&ch->h->leaves);
	ws = LD_ACQ(&ch->h->wstate);
	gen = WS_GEN(ws);
	for (i = 0; i < ch->nep; i++) {
		struct chan_ep *ep = &ch->eps[i];
		uint64_t o = LD_ACQ(&ep->owner);
		int st;

		if (!o || (ch->me && i == ch->index))
			continue;
		st = shmkit__chan_ep_state(ch, i);
		if (st == EP_DEAD) {
			(void)reap_one(ch, i, o);
			continue;
		}
		if (st == EP_BUSY || LD_ACQ(&ep->role) != prole)
			continue;
		/* A reader's stream is made of the writers of its generation;
		 * one left open from before a shutdown no longer counts. */
		if (ch->role == SHMKIT_CHAN_READER && LD_ACQ(&ep->gen) != gen)
			continue;
		alive++;
		uncovered += ch->peers[i].pin == CHAN_PIN_NONE;
	}
	ch->uncovered = uncovered;
	if (ch->role == SHMKIT_CHAN_READER) {
		uint64_t now = LD_ACQ(&ch->h->wstate);
		int over = WS_GEN(now) == gen &&
			   shmkit__chan_stream_over(ch, now, alive);

		ch->end = !over ? 0 : (now & WS_DIED) ? -ECONNRESET : -EPIPE;
		ch->gone = (uint8_t)over;
		return ch->end;
	}
	if (ch->role == SHMKIT_CHAN_WRITER &&
	    WS_STREAM(LD_ACQ(&ch->h->wstate)) != ch->wstream) {
		ch->gone = 1; /* shut down: for good, for this handle */
		return -EPIPE;
	}
	if (alive) {
		ch->seen_peer = 1;
		ch->gone = 0;
		return 0;
	}
	if (!ch->seen_peer && LD_ACQ(&ch->h->opens[prole]) != ch->opens_seen)
		ch->seen_peer = 1;
	ch->gone = ch->seen_peer;
	return ch->gone ? -EPIPE : 0;
}
