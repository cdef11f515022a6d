/*
 * io.c: the data path of every channel kind: reserve/commit, peek/release,
 * and send/recv built on them. Everything a message costs while traffic
 * flows is in this file, and none of it enters the kernel: waiting and
 * liveness live in wait.c and live.c, reached only on -EAGAIN.
 *
 * SPSC byte ring. Free-running 64-bit positions; the ring is a power of two,
 * so an offset is a mask, never a division. Records are 8-byte aligned: a
 * header word, then the payload. The header word carries the length, a
 * VALID bit and a tag (the low bits of position/8), and it is what
 * publishes the message: the writer stores it with release after the
 * payload, the reader polls it with acquire. So the reader never reads the
 * writer's counter line, and a message and its "ready" flag travel in the
 * same cache line. Before publishing, the writer zeroes the header word of
 * the *next* record (it keeps 8 bytes of the ring free for that), so the
 * reader can never mistake stale bytes from an earlier lap for a record.
 * Records are placed by cache line: one of up to 64 bytes (a message of up
 * to 56 bytes with its header) never crosses a line, so the reader's one
 * poll of the header fetches the whole message, and a longer one touches
 * only the lines its length needs. Where a record would not fit, it starts
 * at the next line (implicitly, after a record that promised so, or behind
 * a PAD record), or, at the end of the ring, at offset 0 behind a PAD (a
 * message is never split); the PAD header, which carries how far it skips,
 * is published after the record it leads to. The writer asks for the lines
 * it will write next ahead of time (spsc_prefetch), so a stream does not
 * wait on one line transfer per line. The reader publishes its position
 * (head) after each message; the writer reads it only when its cached copy
 * says the ring is full. The tail counter is kept for stat and for a writer
 * that reopens after a crash.
 *
 * MPMC: Dmitry Vyukov's bounded queue. Each slot has a sequence number:
 * pos means free for the writer of position pos, pos+1 means holds message
 * pos, pos+capacity means free for the next lap. Writers and readers claim
 * positions by CAS on tail/head. Before each claim an endpoint records the
 * position in its entry (claim), so that a slot claimed by a process that
 * died can be told from one a live process is still filling (live.c).
 *
 * Broadcast: one writer, a seqlock per slot (2n+1 while message n is being
 * written, 2n+2 once it is there). Readers keep their own cursor and check
 * the sequence before and after copying; a changed sequence means the
 * writer lapped them, which they count as lost and skip, resuming at the
 * oldest message still in the ring.
 *
 * Lossless broadcast (SHMKIT_CHAN_WAIT_READERS): before the writer reuses a
 * slot it checks that every live reader has read the message the slot
 * holds. Readers publish their cursor with release after each message, and
 * the writer keeps the smallest cursor it last saw, so it looks at the
 * entries only when that cached minimum says the slot may still be wanted
 * (about once per ring when readers keep up) or when a reader has opened
 * since (opens[READER] moved: a new reader's cursor, set before its role
 * is visible, is not in the cache). A reader that made room loads the
 * writer's wait word, as an SPSC reader does, and wakes it if it waits.
 */
#include "chan_int.h"

void (*shmkit__chan_skip_hook)(void);

/* Under TSan the broadcast payload is copied with relaxed atomics, so that
 * the seqlock's deliberate read/write overlap is not reported as a race. */
static inline void copy_in(shmkit_chan *ch, void *dst, const void *src,
			   size_t n)
{
#ifdef CHAN_TSAN
	if (ch->kind == SHMKIT_CHAN_BROADCAST) {
		for (size_t i = 0; i < n; i++)
			ST_RLX((uint8_t *)dst + i, ((const uint8_t *)src)[i]);
		return;
	}
#else
	(void)ch;
#endif
	memcpy(dst, src, n);
}

static inline void copy_out(shmkit_chan *ch, void *dst, const void *src,
			    size_t n)
{
#ifdef CHAN_TSAN
	if (ch->kind == SHMKIT_CHAN_BROADCAST) {
		for (size_t i = 0; i < n; i++)
			((uint8_t *)dst)[i] = LD_RLX((const uint8_t *)src + i);
		return;
	}
#else
	(void)ch;
#endif
	memcpy(dst, src, n);
}

/* ------------------------------------------------------------------------ */
/* SPSC                                                                      */
/* ------------------------------------------------------------------------ */

static inline uint64_t spsc_rec(uint64_t len)
{
	return R_HDR + ((len + 7) & ~UINT64_C(7));
}

static inline uint64_t spsc_hdr(uint64_t pos, uint64_t word)
{
	return R_TAG(pos) | word;
}

/* The promise a record makes (R_SKIP) depends only on its own size: after
 * a small one the next may move to a new line; after a large one it
 * follows at once, so streams of messages of 57..64+ bytes stay packed. */
static inline uint8_t spsc_promise(uint64_t rec)
{
	return rec <= R_LINE;
}

/*
 * Where the record of rec bytes after position pos starts: at pos, or at
 * the next line start (implicitly when the last record promised SKIP, else
 * behind a PAD at pos), or, past the end of the ring, at its start behind
 * a PAD at pos. *ret_pad gets the PAD's length (0: none).
 *
 * A record starts at pos when it touches no more lines from there than
 * from a line start: a small one that fits in the line, a large one
 * (after a record without SKIP, which is the only way one may run into the
 * next line) of a length that costs no extra line. So a message of up to
 * 56 bytes is in one line, and a longer one touches as few lines as its
 * length needs, which for 65..72-byte records is two from anywhere.
 */
static inline uint64_t spsc_place(const shmkit_chan *ch, uint64_t pos,
				  uint64_t rec, uint64_t *ret_pad)
{
	uint64_t in_line = pos & (R_LINE - 1), start = pos;

	*ret_pad = 0;
	/* From pos it touches one line more than from a line start when
	 * what its last line holds of it does not fit in what is left of
	 * this one. */
	if (CHAN_UNLIKELY(in_line + ((rec - 1) & (R_LINE - 1)) >= R_LINE ||
			  (in_line && rec > R_LINE && ch->skip)))
		start = R_NEXT_LINE(pos); /* or it would run into a polled line */
	if (CHAN_UNLIKELY((start & ch->mask) + rec > ch->cap &&
			  (start & ch->mask))) {
		*ret_pad = ch->cap - (pos & ch->mask); /* to the ring's start */
		return pos + *ret_pad;
	}
	if (CHAN_UNLIKELY(start != pos && !ch->skip))
		*ret_pad = start - pos; /* no promise: the skip is spelt out */
	return start;
}

/*
 * After a publication, off the reader's path: ask for the free lines up to
 * SPSC_AHEAD bytes beyond the record in exclusive state (prefetch for
 * write). The reader read every line of the ring a lap ago, so each is in
 * its cache; taken only when the writer's first store reaches it, a line
 * costs that store a transfer from the reader's core, and since x86 makes
 * stores visible in order, every store after it waits too: a stream went
 * at about one line transfer per line written. Asked for ahead, the
 * transfers overlap each other and the copying, and the stores that zero a
 * line start for the reader's next look hit a line the writer holds. Only
 * lines the reader has released (by the cached head) are asked for, at
 * most SPSC_AHEAD_MAX per message. Not after records longer than
 * SPSC_AHEAD: there the copy is most of the cost, and in a ping-pong the
 * requests went out while the reader fetched the message, which they
 * slowed (7% at 1 KiB).
 */
static inline void spsc_prefetch(shmkit_chan *ch, uint64_t next, uint64_t rec)
{
	uint64_t far = (next + SPSC_AHEAD) & ~(uint64_t)(R_LINE - 1);
	uint64_t x = ch->ahead_to + R_LINE;

	if (CHAN_LIKELY(x > far) || rec > SPSC_AHEAD)
		return;
	if (x + SPSC_AHEAD_MAX * R_LINE <= far)
		x = far - (SPSC_AHEAD_MAX - 1) * R_LINE;
	if (x < R_NEXT_LINE(next))
		x = R_NEXT_LINE(next);
	for (; x <= far && x + R_LINE - ch->cache <= ch->cap; x += R_LINE) {
		chan_prefetch_w(spsc_word(ch, x));
		ch->ahead_to = x;
	}
}

/* Before a record ending at next (with promise skip) is published, the
 * words the reader will look at next must read 0: the one at next, and
 * for a promise of a skip the next line's first. Returns the end of the
 * room that needs (the ring must be free up to there). */
static inline uint64_t spsc_needs(uint64_t next, uint8_t skip)
{
	return (skip && (next & (R_LINE - 1)) ? R_NEXT_LINE(next) : next) +
	       R_HDR;
}

/* Is the ring free up to end (0), or not yet (-EAGAIN)? -EPROTO: the
 * reader's head is impossible. */
static inline int spsc_free_to(shmkit_chan *ch, uint64_t end)
{
	uint64_t head;

	if (CHAN_LIKELY(end - ch->cache <= ch->cap))
		return 0;
	head = LD_ACQ(&ch->h->head) & ~R_POS_SKIP;
	if (head > ch->pos || ch->pos - head > ch->cap || (head & 7))
		return -EPROTO;
	ch->cache = head;
	return end - head <= ch->cap ? 0 : -EAGAIN;
}

/* The end of the room a record of len at ch->pos needs; its start and
 * PAD in *ret_start, *ret_pad. */
static inline uint64_t spsc_room_end(const shmkit_chan *ch, uint64_t len,
				     uint64_t *ret_start, uint64_t *ret_pad)
{
	uint64_t rec = spsc_rec(len);

	*ret_start = spsc_place(ch, ch->pos, rec, ret_pad);
	return spsc_needs(*ret_start + rec, spsc_promise(rec));
}

/* Room for a record of len at ch->pos: 0, -EAGAIN, or -EPROTO. */
static inline int spsc_room(shmkit_chan *ch, uint64_t len)
{
	uint64_t start, pad;

	return spsc_free_to(ch, spsc_room_end(ch, len, &start, &pad));
}

static inline int spsc_reserve(shmkit_chan *ch, size_t len, void **ret)
{
	uint64_t pad, start, end = spsc_room_end(ch, len, &start, &pad);
	int r = spsc_free_to(ch, end);

	if (CHAN_UNLIKELY(r < 0))
		return r;
	ch->pend_pos = ch->pos;
	ch->pend_pad = (uint32_t)(start - ch->pos); /* implicit skips too */
	ch->pend_padw = (uint32_t)pad;
	ch->pend_len = (uint32_t)len;
	ch->pend_ptr = ch->ring + (start & ch->mask) + R_HDR;
	ch->pend = PEND_RESERVE;
	*ret = ch->pend_ptr;
	return 0;
}

static inline void spsc_commit(shmkit_chan *ch, size_t n)
{
	uint64_t pos = ch->pend_pos, start = pos + ch->pend_pad;
	uint64_t rec = spsc_rec(n), next = start + rec;
	uint8_t skip = spsc_promise(rec);

	/* Committing less than reserved can only leave more room. The words
	 * the reader looks at after ours must read 0 before ours is seen. */
	ST_RLX(spsc_word(ch, next), 0);
	if (skip && (next & (R_LINE - 1)))
		ST_RLX(spsc_word(ch, R_NEXT_LINE(next)), 0);
	ST_REL(spsc_word(ch, start),
	       spsc_hdr(start, R_VALID | (skip ? R_SKIP : 0) | n));
	if (ch->pend_padw)
		ST_REL(spsc_word(ch, pos),
		       spsc_hdr(pos, R_VALID | R_PAD | ch->pend_padw));
	ST_REL(&ch->h->tail, next | skip);
	ch->pos = next;
	ch->skip = skip;
	ch->pend = PEND_NONE;
	spsc_prefetch(ch, next, rec);
	chan_published(ch, SIDE_RD);
	chan_count(ch, n);
}

/* The record at ch->pos (after any pad), checked against our own geometry. */
static inline int spsc_peek(shmkit_chan *ch, size_t limit, const void **ret,
			    size_t *ret_len)
{
	uint64_t pos = ch->pos, at;
	int skip = ch->skip;

	for (;;) {
		uint64_t off, w, n;

		at = pos;
		w = spsc_header(ch, &pos, skip);
		if (!(w & R_VALID)) {
			ch->pos = at;
			return w == 0 ? -EAGAIN : -EPROTO;
		}
		if (!R_TAG_OK(w, pos))
			return -EPROTO;
		off = pos & ch->mask;
		if (w & R_PAD) {
			uint64_t skip_by = w & R_LEN_MASK;

			if (pos != at || !shmkit__chan_pad_ok(ch, off, skip_by))
				return -EPROTO;
			pos += skip_by;
			skip = 0; /* it lands on a line start */
			continue;
		}
		n = w & R_LEN_MASK;
		if (n > ch->max_msg || off + spsc_rec(n) > ch->cap)
			return -EPROTO;
		ch->pos = pos;
		if (n > limit)
			return -EMSGSIZE;
		ch->pend_pos = pos;
		ch->pend_next = pos + spsc_rec(n);
		ch->pend_skip = !!(w & R_SKIP);
		ch->pend_len = (uint32_t)n;
		ch->pend = PEND_PEEK;
		*ret = ch->ring + off + R_HDR;
		*ret_len = n;
		return 0;
	}
}

static inline void spsc_release(shmkit_chan *ch)
{
	ST_REL(&ch->h->head, ch->pend_next | ch->pend_skip);
	ch->pos = ch->pend_next;
	ch->skip = ch->pend_skip;
	ch->pend = PEND_NONE;
	chan_published(ch, SIDE_WR);
	chan_count(ch, ch->pend_len);
}

/* ------------------------------------------------------------------------ */
/* MPMC                                                                      */
/* ------------------------------------------------------------------------ */

static inline int mpmc_reserve(shmkit_chan *ch, size_t len, void **ret)
{
	struct chan_hdr *h = ch->h;
	uint64_t pos = LD_RLX(&h->tail);
	struct chan_slot *s;

	for (;;) {
		uint64_t seq;
		int64_t dif;

		s = chan_slot_at(ch, pos);
		seq = LD_ACQ(&s->seq);
		dif = seq_dif(seq_of(seq), pos);
		if (dif == 0) {
			/* The intent first: see shmkit__chan_mpmc_recover(). */
			ST_RLX(&ch->me->claim, pos + 1);
			if (__atomic_compare_exchange_n(&h->tail, &pos, pos + 1,
							1, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				break;
		} else if (dif < 0) {
			uint64_t now = LD_RLX(&h->tail);
			if (now == pos) {
				ST_RLX(&ch->me->claim, 0);
				return -EAGAIN;
			}
			pos = now;
		} else {
			/* Ahead of the tail: only a stale tail explains it (the
			 * publish is released after the claim, so the tail we
			 * read next has moved). If it has not, the slot was
			 * scribbled on: looping here would spin forever. */
			uint64_t now = LD_RLX(&h->tail);
			if (now == pos) {
				ST_RLX(&ch->me->claim, 0);
				return -EPROTO;
			}
			pos = now;
		}
	}
	ch->pend_pos = pos;
	ch->pend_len = (uint32_t)len;
	ch->pend_ptr = (uint8_t *)s + SLOT_HDR;
	ch->pend = PEND_RESERVE;
	*ret = ch->pend_ptr;
	return 0;
}

static inline void mpmc_publish(shmkit_chan *ch, uint64_t word)
{
	ST_REL(&chan_slot_at(ch, ch->pend_pos)->seq, word);
	ST_REL(&ch->me->claim, 0);
	ch->pend = PEND_NONE;
	chan_published(ch, SIDE_RD);
}

static inline void mpmc_commit(shmkit_chan *ch, size_t n)
{
	struct chan_slot *s = chan_slot_at(ch, ch->pend_pos);

	mpmc_publish(ch, slot_publish_word(ch, s, ch->pend_pos + 1, n));
	chan_count(ch, n);
}

/* Hand slot pos back to the writers (consumed, or skipped). */
static inline void mpmc_free_slot(shmkit_chan *ch, uint64_t pos)
{
	ST_REL(&chan_slot_at(ch, pos)->seq, seq_of(pos + ch->cap));
	ST_REL(&ch->me->claim, 0);
	chan_published(ch, SIDE_WR);
}

static inline int mpmc_peek(shmkit_chan *ch, size_t limit, const void **ret,
			    size_t *ret_len)
{
	struct chan_hdr *h = ch->h;
	uint64_t pos = LD_RLX(&h->head);

	for (;;) {
		struct chan_slot *s = chan_slot_at(ch, pos);
		uint64_t seq = LD_ACQ(&s->seq);
		int64_t dif = seq_dif(seq_of(seq), pos + 1);
		uint32_t n;

		if (dif < 0) {
			uint64_t now = LD_RLX(&h->head);
			if (now == pos) {
				ST_RLX(&ch->me->claim, 0);
				return -EAGAIN;
			}
			pos = now;
			continue;
		}
		if (dif > 0) {
			/* As in the writer: a slot ahead of an unmoved head is
			 * corrupt, not stale. */
			uint64_t now = LD_RLX(&h->head);
			if (now == pos) {
				ST_RLX(&ch->me->claim, 0);
				return -EPROTO;
			}
			pos = now;
			continue;
		}
		/*
		 * Too long for the caller: say so without taking it. The length
		 * belongs to message pos for as long as seq reads pos + 1.
		 */
		if (limit < ch->max_msg && !(seq & SEQ_POISON) &&
		    slot_length(ch, s, seq) > limit) {
			uint64_t now = LD_RLX(&h->head);
			if (now == pos) {
				ST_RLX(&ch->me->claim, 0);
				return -EMSGSIZE;
			}
			pos = now;
			continue;
		}
		ST_RLX(&ch->me->claim, pos + 1);
		if (!__atomic_compare_exchange_n(&h->head, &pos, pos + 1, 1,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		if (seq & SEQ_POISON) { /* a dead or cancelled writer's slot */
			mpmc_free_slot(ch, pos);
			pos++;
			continue;
		}
		n = slot_length(ch, s, seq);
		if (n > ch->max_msg || n > limit) {
			mpmc_free_slot(ch, pos); /* a peer scribbled on it */
			return -EPROTO;
		}
		ch->pend_pos = pos;
		ch->pend_len = n;
		ch->pend = PEND_PEEK;
		*ret = (const uint8_t *)s + SLOT_HDR;
		*ret_len = n;
		return 0;
	}
}

static inline void mpmc_release(shmkit_chan *ch)
{
	ch->pend = PEND_NONE;
	mpmc_free_slot(ch, ch->pend_pos);
	chan_count(ch, ch->pend_len);
}

/* ------------------------------------------------------------------------ */
/* Broadcast                                                                 */
/* ------------------------------------------------------------------------ */

/* The smallest cursor of the registered readers (UINT64_MAX: none). */
static uint64_t bcast_slowest(const shmkit_chan *ch)
{
	uint64_t lo = UINT64_MAX;
	uint32_t i;

	for (i = 1; i < ch->nep; i++) { /* entry 0 is the writer's */
		const struct chan_ep *ep = &ch->eps[i];
		uint64_t o = LD_ACQ(&ep->owner), c;

		if (!o || (o & EP_REAPING) ||
		    LD_ACQ(&ep->role) != SHMKIT_CHAN_READER)
			continue;
		c = LD_ACQ(&ep->cursor);
		if (c < lo)
			lo = c;
	}
	return lo;
}

/*
 * Lossless broadcast: may the writer overwrite the slot of message pos?
 * Only once every reader has read message pos - capacity, or once the lag
 * limit has run out for this send. A dead reader holds the writer back
 * until a liveness pass (on the -EAGAIN path) reclaims its entry.
 */
static __attribute__((noinline)) int bcast_room(shmkit_chan *ch)
{
	uint64_t gone = ch->pos - ch->cap; /* the message the slot holds */
	int64_t now;

	ch->rd_opens = LD_ACQ(&ch->h->opens[SHMKIT_CHAN_READER]);
	ch->min_cursor = bcast_slowest(ch);
	if (ch->min_cursor > gone)
		return 0;
	if (ch->lag_ns < 0)
		return -EAGAIN;
	now = shmkit__chan_now();
	if (!ch->lag_until)
		ch->lag_until = now + ch->lag_ns;
	return now >= ch->lag_until ? 0 : -EAGAIN;
}

static inline int bcast_reserve(shmkit_chan *ch, size_t len, void **ret)
{
	struct chan_slot *s = chan_slot_at(ch, ch->pos);

	if (CHAN_UNLIKELY(ch->wait_readers) && ch->pos >= ch->cap &&
	    (ch->min_cursor <= ch->pos - ch->cap ||
	     LD_RLX(&ch->h->opens[SHMKIT_CHAN_READER]) != ch->rd_opens)) {
		int r = bcast_room(ch);
		if (r < 0)
			return r;
		ch->lag_until = 0;
	}

	/* Odd: readers of the message this slot held see it going. */
	ST_RLX(&s->seq, seq_of(2 * ch->pos + 1));
	CHAN_FENCE_REL();
	ch->pend_pos = ch->pos;
	ch->pend_len = (uint32_t)len;
	ch->pend_ptr = (uint8_t *)s + SLOT_HDR;
	ch->pend = PEND_RESERVE;
	*ret = ch->pend_ptr;
	return 0;
}

static inline void bcast_commit(shmkit_chan *ch, size_t n)
{
	struct chan_slot *s = chan_slot_at(ch, ch->pend_pos);
	uint64_t w = ch->pend_pos;

	ST_REL(&s->seq, slot_publish_word(ch, s, 2 * w + 2, n));
	ST_REL(&ch->h->tail, w + 1);
	ch->pos = w + 1;
	ch->pend = PEND_NONE;
	chan_published(ch, SIDE_RD);
	chan_count(ch, n);
}

/* The slot was overwritten under us if its sequence moved. */
static inline int bcast_torn(const struct chan_slot *s, uint64_t seen)
{
	CHAN_FENCE_ACQ();
	return LD_RLX(&s->seq) != seen;
}

/* A reader's cursor moved on: say so (to a lossless writer: release, so
 * that our reads of the slot come before it reuses it, and a wake-up). */
static inline void bcast_moved(shmkit_chan *ch)
{
	if (CHAN_LIKELY(!ch->wait_readers)) {
		ST_RLX(&ch->me->cursor, ch->pos);
		return;
	}
	ST_REL(&ch->me->cursor, ch->pos);
	chan_published(ch, SIDE_WR);
}

static inline void bcast_skip(shmkit_chan *ch, uint64_t to)
{
	ch->lost += to - ch->pos;
	ch->pos = to;
	ST_RLX(&ch->me->lost, ch->lost);
	bcast_moved(ch);
}

static inline int bcast_peek(shmkit_chan *ch, size_t limit, const void **ret,
			     size_t *ret_len)
{
	for (;;) {
		uint64_t c = ch->pos, want = seq_of(2 * c + 2), s1;
		struct chan_slot *s = chan_slot_at(ch, c);
		uint32_t n;

		s1 = LD_ACQ(&s->seq);
		if (seq_of(s1) != want) {
			uint64_t w, oldest;
			/* not written yet, or being written */
			if (seq_dif(seq_of(s1), want) < 0)
				return -EAGAIN;
			/* Lapped: message c is gone. */
			w = LD_ACQ(&ch->h->tail);
			if (w <= c)
				return -EPROTO;
			oldest = w > ch->cap ? w - ch->cap : 0;
			bcast_skip(ch, oldest > c ? oldest : c + 1);
			continue;
		}
		n = slot_length(ch, s, s1);
		if (n > ch->max_msg || n > limit) {
			if (bcast_torn(s, s1)) {
				bcast_skip(ch, c + 1);
				continue;
			}
			return n > ch->max_msg ? -EPROTO : -EMSGSIZE;
		}
		ch->pend_pos = c;
		ch->pend_seq = s1;
		ch->pend_len = n;
		ch->pend = PEND_PEEK;
		*ret = (const uint8_t *)s + SLOT_HDR;
		*ret_len = n;
		return 0;
	}
}

static inline int bcast_release(shmkit_chan *ch)
{
	struct chan_slot *s = chan_slot_at(ch, ch->pend_pos);

	ch->pend = PEND_NONE;
	if (bcast_torn(s, ch->pend_seq)) {
		bcast_skip(ch, ch->pend_pos + 1);
		return -ESTALE;
	}
	ch->pos = ch->pend_pos + 1;
	bcast_moved(ch);
	chan_count(ch, ch->pend_len);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                  */
/* ------------------------------------------------------------------------ */

static inline int try_reserve(shmkit_chan *ch, size_t len, void **ret)
{
	switch (ch->kind) {
	case SHMKIT_CHAN_SPSC:
		return spsc_reserve(ch, len, ret);
	case SHMKIT_CHAN_MPMC:
		return mpmc_reserve(ch, len, ret);
	default:
		return bcast_reserve(ch, len, ret);
	}
}

static inline int try_peek(shmkit_chan *ch, size_t limit, const void **ret,
			   size_t *ret_len)
{
	switch (ch->kind) {
	case SHMKIT_CHAN_SPSC:
		return spsc_peek(ch, limit, ret, ret_len);
	case SHMKIT_CHAN_MPMC:
		return mpmc_peek(ch, limit, ret, ret_len);
	default:
		return bcast_peek(ch, limit, ret, ret_len);
	}
}

struct try_arg {
	size_t len;
	void **ptr;
	const void **cptr;
	size_t *plen;
};

static int reserve_cb(shmkit_chan *ch, void *arg)
{
	struct try_arg *a = arg;
	return try_reserve(ch, a->len, a->ptr);
}

static int peek_cb(shmkit_chan *ch, void *arg)
{
	struct try_arg *a = arg;
	return try_peek(ch, a->len, a->cptr, a->plen);
}

static __attribute__((noinline)) int reserve_slow(shmkit_chan *ch, size_t len,
						  void **ret,
						  int64_t timeout_ns)
{
	struct try_arg a = {.len = len, .ptr = ret};

	ch->want = (uint32_t)len;
	if (timeout_ns == 0)
		return shmkit__chan_nowait(ch, reserve_cb, &a);
	return shmkit__chan_wait(ch, SIDE_WR, reserve_cb, &a, timeout_ns);
}

static __attribute__((noinline)) int peek_slow(shmkit_chan *ch, size_t limit,
					       const void **ret, size_t *ret_len,
					       int64_t timeout_ns)
{
	struct try_arg a = {.len = limit, .cptr = ret, .plen = ret_len};

	if (timeout_ns == 0)
		return shmkit__chan_nowait(ch, peek_cb, &a);
	return shmkit__chan_wait(ch, SIDE_RD, peek_cb, &a, timeout_ns);
}

static inline int do_reserve(shmkit_chan *ch, size_t len, void **ret,
			     int64_t timeout_ns)
{
	int r;

	if (CHAN_UNLIKELY(ch->role != SHMKIT_CHAN_WRITER))
		return -EBADF;
	if (CHAN_UNLIKELY(ch->pend != PEND_NONE))
		return -EBUSY;
	if (CHAN_UNLIKELY(len > ch->max_msg))
		return -EMSGSIZE;
	/* Shut down (or a writer left over from a stream that was): the line
	 * is the one chan_published() reads after every message anyway. */
	if (CHAN_UNLIKELY(WS_STREAM(LD_RLX(&ch->h->wstate)) != ch->wstream))
		return -EPIPE;
	ch->lag_until = 0; /* a lag limit counts from this send */
	r = try_reserve(ch, len, ret);
	if (CHAN_LIKELY(r != -EAGAIN))
		return r;
	return reserve_slow(ch, len, ret, timeout_ns);
}

static inline void do_commit(shmkit_chan *ch, size_t n)
{
	switch (ch->kind) {
	case SHMKIT_CHAN_SPSC:
		spsc_commit(ch, n);
		break;
	case SHMKIT_CHAN_MPMC:
		mpmc_commit(ch, n);
		break;
	default:
		bcast_commit(ch, n);
		break;
	}
}

static inline int do_peek(shmkit_chan *ch, size_t limit, const void **ret,
			  size_t *ret_len, int64_t timeout_ns)
{
	int r;

	if (CHAN_UNLIKELY(ch->role != SHMKIT_CHAN_READER))
		return -EBADF;
	if (CHAN_UNLIKELY(ch->pend != PEND_NONE))
		return -EBUSY;
	r = try_peek(ch, limit, ret, ret_len);
	if (CHAN_LIKELY(r != -EAGAIN))
		return r;
	return peek_slow(ch, limit, ret, ret_len, timeout_ns);
}

static inline int do_release(shmkit_chan *ch)
{
	switch (ch->kind) {
	case SHMKIT_CHAN_SPSC:
		spsc_release(ch);
		return 0;
	case SHMKIT_CHAN_MPMC:
		mpmc_release(ch);
		return 0;
	default:
		return bcast_release(ch);
	}
}

/* ------------------------------------------------------------------------ */
/* Public                                                                    */
/* ------------------------------------------------------------------------ */

int shmkit_chan_send(shmkit_chan *ch, const void *buf, size_t len,
		     int64_t timeout_ns)
{
	void *p;
	int r;

	if (CHAN_UNLIKELY(!ch || (!buf && len)))
		return -EINVAL;
	r = do_reserve(ch, len, &p, timeout_ns);
	if (CHAN_UNLIKELY(r < 0))
		return r;
	copy_in(ch, p, buf, len);
	do_commit(ch, len);
	return 0;
}

ssize_t shmkit_chan_recv(shmkit_chan *ch, void *buf, size_t size,
			 int64_t timeout_ns)
{
	const void *p;
	size_t n;
	int r;

	if (CHAN_UNLIKELY(!ch || (!buf && size)))
		return -EINVAL;
	for (;;) {
		r = do_peek(ch, size, &p, &n, timeout_ns);
		if (CHAN_UNLIKELY(r < 0))
			return r;
		copy_out(ch, buf, p, n);
		r = do_release(ch);
		if (CHAN_LIKELY(r == 0))
			return (ssize_t)n;
		if (r != -ESTALE)
			return r;
		/* Overwritten while we copied: it counts as lost; next. */
	}
}

int shmkit_chan_reserve(shmkit_chan *ch, size_t len, void **ret_ptr,
			int64_t timeout_ns)
{
	if (!ch || !ret_ptr)
		return -EINVAL;
	return do_reserve(ch, len, ret_ptr, timeout_ns);
}

int shmkit_chan_commit(shmkit_chan *ch, size_t len)
{
	if (!ch || ch->role != SHMKIT_CHAN_WRITER ||
	    ch->pend != PEND_RESERVE || len > ch->pend_len)
		return -EINVAL;
	do_commit(ch, len);
	return 0;
}

int shmkit_chan_cancel(shmkit_chan *ch)
{
	if (!ch || ch->role != SHMKIT_CHAN_WRITER || ch->pend != PEND_RESERVE)
		return -EINVAL;
	switch (ch->kind) {
	case SHMKIT_CHAN_MPMC:
		/* The position is taken: publish it as a slot to skip. */
		mpmc_publish(ch, seq_of(ch->pend_pos + 1) | SEQ_POISON);
		FADD(&ch->h->poisoned, 1);
		break;
	default:
		/*
		 * SPSC: nothing was published. Broadcast: the slot stays odd
		 * until the next reserve rewrites it; the message it held was
		 * already lost to readers.
		 */
		ch->pend = PEND_NONE;
		break;
	}
	return 0;
}

int shmkit_chan_peek(shmkit_chan *ch, const void **ret_ptr, size_t *ret_len,
		     int64_t timeout_ns)
{
	const void *p;
	size_t n;
	int r;

	if (!ch || !ret_ptr || !ret_len)
		return -EINVAL;
	r = do_peek(ch, SIZE_MAX, &p, &n, timeout_ns);
	if (r < 0)
		return r;
	*ret_ptr = p;
	*ret_len = n;
	return 0;
}

int shmkit_chan_release(shmkit_chan *ch)
{
	if (!ch || ch->role != SHMKIT_CHAN_READER || ch->pend != PEND_PEEK)
		return -EINVAL;
	return do_release(ch);
}

int shmkit_chan_rewind(shmkit_chan *ch)
{
	uint64_t w, oldest;

	if (!ch)
		return -EINVAL;
	if (ch->kind != SHMKIT_CHAN_BROADCAST || ch->role != SHMKIT_CHAN_READER)
		return -ENOTSUP;
	if (ch->pend != PEND_NONE)
		return -EBUSY;
	w = LD_ACQ(&ch->h->tail);
	oldest = w > ch->cap ? w - ch->cap : 0;
	ch->pos = oldest;
	ST_RLX(&ch->me->cursor, oldest);
	return (int)(w - oldest);
}

/* Would the call that last returned -EAGAIN succeed now? No side effects. */
int shmkit__chan_ready(shmkit_chan *ch)
{
	if (ch->role == SHMKIT_CHAN_READER) {
		switch (ch->kind) {
		case SHMKIT_CHAN_SPSC: {
			uint64_t pos = ch->pos;
			return spsc_header(ch, &pos, ch->skip) != 0;
		}
		case SHMKIT_CHAN_MPMC: {
			uint64_t pos = LD_ACQ(&ch->h->head);
			uint64_t seq = LD_ACQ(&chan_slot_at(ch, pos)->seq);
			return seq_of(seq) == seq_of(pos + 1);
		}
		default:
			return seq_dif(seq_of(LD_ACQ(&chan_slot_at(ch, ch->pos)
							    ->seq)),
				       seq_of(2 * ch->pos + 2)) >= 0;
		}
	}
	switch (ch->kind) {
	case SHMKIT_CHAN_SPSC: {
		return spsc_room(ch, ch->want) != -EAGAIN;
	}
	case SHMKIT_CHAN_MPMC: {
		uint64_t pos = LD_ACQ(&ch->h->tail);
		return LD_ACQ(&chan_slot_at(ch, pos)->seq) == seq_of(pos);
	}
	default:
		return !ch->wait_readers || ch->pos < ch->cap ||
		       bcast_slowest(ch) > ch->pos - ch->cap;
	}
}

void shmkit__chan_drop_pending(shmkit_chan *ch)
{
	if (ch->pend == PEND_RESERVE)
		(void)shmkit_chan_cancel(ch);
	else if (ch->pend == PEND_PEEK)
		(void)do_release(ch);
}
