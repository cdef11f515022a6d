/*
 * chan.c: making, opening, describing and closing channels.
 *
 * The header is trusted only after shmkit__chan_validate() has rebuilt the
 * whole layout from four numbers (kind, capacity, message size, endpoint
 * count) and found every stored size and offset equal to what it computed,
 * the checksum right and the total within the mapping. The handle then
 * keeps its own copy of the geometry and never reads it from shared memory
 * again, so a peer that rewrites the header later cannot steer us outside
 * the mapping.
 *
 * A channel being created is invisible until its magic is stored, last and
 * with release; an opener that finds the magic still zero waits up to
 * 100 ms for it before giving up with -EPROTO, so "create in one process,
 * open in another" has no window in which the open fails.
 */
#include "chan_int.h"

#include <stddef.h>
#include <stdlib.h>

_Static_assert(sizeof(struct chan_meta) == CHAN_LINE, "meta is one line");
_Static_assert(sizeof(struct chan_hdr) == 6 * CHAN_LINE, "header lines");
_Static_assert(offsetof(struct chan_hdr, tail) == CHAN_LINE, "tail line");
_Static_assert(offsetof(struct chan_hdr, head) == 2 * CHAN_LINE, "head line");
_Static_assert(offsetof(struct chan_hdr, rd_wait) == 3 * CHAN_LINE, "wait");
_Static_assert(offsetof(struct chan_hdr, wr_wait) == 4 * CHAN_LINE, "wait");
_Static_assert(offsetof(struct chan_meta, wake_id) == 104, "wake_id");
_Static_assert(sizeof(struct chan_ep) == CHAN_LINE, "an entry is a line");
_Static_assert(sizeof(struct chan_slot) == SLOT_HDR, "slot header");

static uint64_t pow2_up(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* Refuse with a reason a person can act on (shmkit_chan_opts_check). */
#define BAD(text)                                                             \
	do {                                                                  \
		*why = (text);                                                \
		return -EINVAL;                                               \
	} while (0)

static int layout(const shmkit_chan_opts *o, shmkit__chan_layout *ret,
		  const char **why)
{
	shmkit__chan_layout L;
	uint64_t cap, msg;

	if (!o)
		BAD("no options: a channel's kind has no default");
	memset(&L, 0, sizeof(L));
	switch (o->kind) {
	case SHMKIT_CHAN_SPSC:
		if (o->max_endpoints != 0 && o->max_endpoints != 2)
			BAD("an spsc channel has exactly 2 endpoints "
			    "(max_endpoints 0 or 2)");
		L.nep = 2;
		cap = o->capacity ? o->capacity : CHAN_SPSC_DEFAULT;
		if (cap < CHAN_SPSC_MIN || cap > CHAN_SPSC_MAX)
			BAD("an spsc capacity is 256 B to 4 GiB of ring");
		cap = pow2_up(cap);
		msg = o->max_msg ? o->max_msg : cap / 4;
		if (msg > (R_LEN_MASK & ~UINT64_C(7)))
			msg = o->max_msg ? msg : (R_LEN_MASK & ~UINT64_C(7));
		/* Worst case a record waits behind a pad almost as long: two
		 * of them and the next header must fit in the ring. */
		if (msg > R_LEN_MASK ||
		    R_HDR + ((msg + 7) & ~UINT64_C(7)) > cap / 2)
			BAD("an spsc max_msg is at most half the capacity "
			    "(rounded up to a power of two) less 8 bytes, and "
			    "under 1 GiB");
		L.ring_size = cap;
		break;
	case SHMKIT_CHAN_MPMC:
	case SHMKIT_CHAN_BROADCAST:
		L.nep = o->max_endpoints ? o->max_endpoints : CHAN_EP_DEFAULT;
		if (L.nep < CHAN_EP_MIN || L.nep > CHAN_EP_MAX)
			BAD("max_endpoints is 2 to 4096");
		cap = o->capacity ? o->capacity : CHAN_SLOTS_DEFAULT;
		if (cap < CHAN_SLOTS_MIN || cap > CHAN_SLOTS_MAX)
			BAD("an mpmc or broadcast capacity is 2 to 16777216 "
			    "(2^24) slots");
		cap = pow2_up(cap);
		msg = o->max_msg ? o->max_msg : CHAN_SLOT_MSG_DEFAULT;
		if (msg > CHAN_SLOT_MSG_MAX)
			BAD("an mpmc or broadcast max_msg is at most 64 MiB");
		/* The word, the payload, and past the largest payload the
		 * long-length word when a length can overflow the word. */
		if (msg < SLOT_LEN_LONG) {
			L.slot_size = (uint32_t)((SLOT_HDR + msg + 63) &
						 ~UINT64_C(63));
		} else {
			L.lenx = (uint32_t)(SLOT_HDR + ((msg + 3) & ~UINT64_C(3)));
			L.slot_size = (uint32_t)((L.lenx + 4 + 63) &
						 ~UINT64_C(63));
		}
		L.ring_size = cap * L.slot_size;
		if (L.ring_size > CHAN_RING_BYTES_MAX)
			BAD("capacity times the slot size (max_msg + 8, "
			    "rounded up to 64) is over 1 TiB");
		break;
	default:
		BAD("the kind is SHMKIT_CHAN_SPSC, SHMKIT_CHAN_MPMC or "
		    "SHMKIT_CHAN_BROADCAST");
	}
	if (o->writers > CHAN_WRITERS_MAX)
		BAD("writers is at most 16777216 (2^24)");
	if (o->flags & ~SHMKIT_CHAN_WAIT_READERS)
		BAD("the only flag is SHMKIT_CHAN_WAIT_READERS");
	if ((o->flags & SHMKIT_CHAN_WAIT_READERS) &&
	    o->kind != SHMKIT_CHAN_BROADCAST)
		BAD("SHMKIT_CHAN_WAIT_READERS is for broadcast channels (the "
		    "other kinds never overwrite)");
	if (o->role != SHMKIT_CHAN_NONE && o->role != SHMKIT_CHAN_WRITER &&
	    o->role != SHMKIT_CHAN_READER)
		BAD("the role is SHMKIT_CHAN_NONE, SHMKIT_CHAN_WRITER or "
		    "SHMKIT_CHAN_READER");
	L.writers = o->writers;
	L.flags = o->flags;
	L.kind = (uint32_t)o->kind;
	L.capacity = cap;
	L.max_msg = (uint32_t)msg;
	L.ep_off = sizeof(struct chan_hdr);
	L.ring_off = L.ep_off + (uint64_t)L.nep * sizeof(struct chan_ep);
	L.total = L.ring_off + L.ring_size;
	if (L.total > (uint64_t)SIZE_MAX)
		BAD("the channel would not fit in this process's address space");
	*ret = L;
	return 0;
}
#undef BAD

int shmkit__chan_layout_of(const shmkit_chan_opts *o, shmkit__chan_layout *ret)
{
	const char *why;

	if (!ret)
		return -EINVAL;
	return layout(o, ret, &why);
}

const char *shmkit_chan_opts_check(const shmkit_chan_opts *opts)
{
	shmkit__chan_layout L;
	const char *why = NULL;

	return layout(opts, &L, &why) < 0 ? why : NULL;
}

static uint32_t meta_sum(const struct chan_meta *m)
{
	const uint8_t *p = (const uint8_t *)m;
	size_t i, cs = offsetof(struct chan_meta, checksum);
	uint32_t h = 2166136261u;

	for (i = sizeof(m->magic); i < sizeof(*m); i++) {
		if (i >= cs && i < cs + sizeof(m->checksum))
			continue;
		h = (h ^ p[i]) * 16777619u;
	}
	return h;
}

int shmkit__chan_validate(const void *mem, size_t len, shmkit__chan_layout *ret)
{
	const struct chan_meta *mp = mem;
	struct chan_meta m;
	shmkit_chan_opts o;
	shmkit__chan_layout L;

	if (!mem || !ret || len < sizeof(struct chan_hdr))
		return -EPROTO;
	if (LD_ACQ(&mp->magic) != CHAN_MAGIC)
		return -EPROTO;
	memcpy(&m, mp, sizeof(m));
	if (m.version != CHAN_VERSION || m.checksum != meta_sum(&m))
		return -EPROTO;
	if (m.hdr_size != sizeof(struct chan_hdr) ||
	    m.ep_size != sizeof(struct chan_ep))
		return -EPROTO;
	if (m.kind < SHMKIT_CHAN_SPSC || m.kind > SHMKIT_CHAN_BROADCAST ||
	    m.max_msg == 0 || m.capacity == 0 || m.max_endpoints == 0)
		return -EPROTO;
	memset(&o, 0, sizeof(o));
	o.kind = (shmkit_chan_kind)m.kind;
	o.capacity = m.capacity;
	o.max_msg = m.max_msg;
	o.max_endpoints = m.max_endpoints;
	o.writers = m.writers;
	o.flags = m.flags;
	if (shmkit__chan_layout_of(&o, &L) < 0)
		return -EPROTO;
	if (L.capacity != m.capacity || L.max_msg != m.max_msg ||
	    L.slot_size != m.slot_size || L.nep != m.max_endpoints ||
	    L.ep_off != m.ep_off || L.ring_off != m.ring_off ||
	    L.ring_size != m.ring_size || L.total != m.total_size)
		return -EPROTO;
	if (L.total > len)
		return -EPROTO; /* truncated */
	*ret = L;
	return 0;
}

static void chan_init(uint8_t *base, const shmkit__chan_layout *L)
{
	struct chan_meta *m = (struct chan_meta *)base;
	uint64_t i;

	memset(base, 0, L->total);
	if (L->kind == SHMKIT_CHAN_MPMC)
		for (i = 0; i < L->capacity; i++)
			((struct chan_slot *)(base + L->ring_off +
					      i * L->slot_size))
				->seq = i;
	m->version = CHAN_VERSION;
	m->kind = L->kind;
	m->hdr_size = sizeof(struct chan_hdr);
	m->ep_size = sizeof(struct chan_ep);
	m->total_size = L->total;
	m->capacity = L->capacity;
	m->max_msg = L->max_msg;
	m->slot_size = L->slot_size;
	m->max_endpoints = L->nep;
	m->ep_off = L->ep_off;
	m->ring_off = L->ring_off;
	m->ring_size = L->ring_size;
	m->created_ns = shmkit__chan_os_realtime_ns();
	m->creator_pid = (uint32_t)shmkit__chan_os_pid();
	m->wake_id = shmkit__chan_os_wake_id();
	m->writers = L->writers;
	m->flags = L->flags;
	m->checksum = meta_sum(m);
	ST_REL(&m->magic, CHAN_MAGIC); /* now it exists */
}

/* Validate, waiting a little for a header still being written. */
static int wait_valid(const uint8_t *base, size_t avail,
		      shmkit__chan_layout *L)
{
	const struct chan_meta *m = (const struct chan_meta *)base;
	int i, r;

	for (i = 0;; i++) {
		r = shmkit__chan_validate(base, avail, L);
		if (r != -EPROTO || i >= 100 || avail < sizeof(struct chan_hdr) ||
		    LD_ACQ(&m->magic) != 0)
			return r;
		shmkit__chan_os_pause_ms(1);
	}
}

/* Where each role starts reading or writing; repairs a writer's crash. */
static int init_position(shmkit_chan *ch)
{
	struct chan_hdr *h = ch->h;
	uint64_t pos, head, walked;

	switch (ch->kind) {
	case SHMKIT_CHAN_SPSC: {
		uint8_t skip;

		/* Bit 0 of head and tail: the promise of the record before. */
		head = LD_ACQ(&h->head);
		if (head & 6)
			return -EPROTO;
		if (ch->role == SHMKIT_CHAN_READER) {
			ch->pos = head & ~R_POS_SKIP;
			ch->skip = (uint8_t)(head & R_POS_SKIP);
			return 0;
		}
		head &= ~R_POS_SKIP;
		pos = LD_ACQ(&h->tail);
		if (pos & 6)
			return -EPROTO;
		skip = (uint8_t)(pos & R_POS_SKIP);
		pos &= ~R_POS_SKIP;
		/*
		 * A writer that died between publishing a record and storing
		 * tail left tail one record short (the reader may even have
		 * consumed that record): walk over what is published, as the
		 * reader finds it. The walk stops where the reader would wait:
		 * the words there were zeroed before the last publication.
		 */
		for (walked = 0; walked < ch->cap;) {
			uint64_t at = pos, step = 0, w, off;

			w = spsc_header(ch, &pos, skip);
			off = pos & ch->mask;
			if ((w & R_VALID) && R_TAG_OK(w, pos)) {
				if (!(w & R_PAD))
					step = (w & R_LEN_MASK) <= ch->max_msg
						       ? R_HDR +
							 (((w & R_LEN_MASK) + 7) &
							  ~UINT64_C(7))
						       : 0;
				else if (pos == at &&
					 shmkit__chan_pad_ok(ch, off,
							     w & R_LEN_MASK))
					step = w & R_LEN_MASK;
			}
			if (!step) {
				pos = at;
				break;
			}
			skip = (w & R_PAD) ? 0 : !!(w & R_SKIP);
			pos += step;
			walked += pos - at;
		}
		if (pos < head || pos - head > ch->cap - R_HDR)
			return -EPROTO;
		/* Only garbage is not zero there; both places are free. */
		if (LD_RLX(spsc_word(ch, pos)) != 0)
			ST_RLX(spsc_word(ch, pos), 0);
		if (skip && (pos & (R_LINE - 1)) &&
		    R_NEXT_LINE(pos) + R_HDR - head <= ch->cap &&
		    LD_RLX(spsc_word(ch, R_NEXT_LINE(pos))) != 0)
			ST_RLX(spsc_word(ch, R_NEXT_LINE(pos)), 0);
		if (walked)
			ST_REL(&h->tail, pos | skip);
		ch->pos = pos;
		ch->skip = skip;
		ch->cache = head;
		/* Nothing beyond pos's line has been asked for yet. */
		ch->ahead_to = pos & ~(uint64_t)(R_LINE - 1);
		return 0;
	}
	case SHMKIT_CHAN_BROADCAST:
		pos = LD_ACQ(&h->tail);
		if (ch->role == SHMKIT_CHAN_WRITER) {
			/* Same repair: a message published, tail not stored. */
			for (walked = 0;
			     walked < ch->cap &&
			     seq_of(LD_ACQ(&chan_slot_at(ch, pos)->seq)) ==
				     seq_of(2 * pos + 2);
			     walked++)
				pos++;
			if (walked)
				ST_REL(&h->tail, pos);
		} else {
			ST_RLX(&ch->me->cursor, pos);
		}
		ch->pos = pos;
		return 0;
	default:
		return 0;
	}
}

static int chan_open_at(shmkit_seg *seg, size_t offset, int role,
			shmkit_chan **ret)
{
	shmkit__chan_layout L;
	shmkit_chan *ch;
	uint64_t start;
	uint32_t i;
	int r;

	if (!seg || !ret)
		return -EINVAL;
	if (role != SHMKIT_CHAN_NONE && role != SHMKIT_CHAN_WRITER &&
	    role != SHMKIT_CHAN_READER)
		return -EINVAL;
	if (offset % CHAN_LINE || offset >= seg->size)
		return -EINVAL;
	if (role != SHMKIT_CHAN_NONE && (seg->flags & SHMKIT_F_RDONLY))
		return -EACCES;
	r = wait_valid((uint8_t *)seg->addr + offset, seg->size - offset, &L);
	if (r < 0)
		return r;

	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->peers = calloc(L.nep, sizeof(*ch->peers));
	if (!ch->peers) {
		free(ch);
		return -ENOMEM;
	}
	for (i = 0; i < L.nep; i++)
		ch->peers[i].pin = CHAN_PIN_NONE;
	ch->lay = L;
	ch->seg = seg;
	ch->offset = offset;
	ch->base = (uint8_t *)seg->addr + offset;
	ch->h = (struct chan_hdr *)ch->base;
	ch->eps = (struct chan_ep *)(ch->base + L.ep_off);
	ch->ring = ch->base + L.ring_off;
	ch->nep = L.nep;
	ch->cap = L.capacity;
	ch->mask = L.capacity - 1;
	ch->max_msg = L.max_msg;
	ch->stride = L.slot_size;
	ch->lenx = L.lenx;
	ch->kind = (uint8_t)L.kind;
	ch->role = (uint8_t)role;
	ch->mode = SHMKIT_CHAN_ADAPTIVE;
	ch->spin_ns = SHMKIT_CHAN_SPIN_NS_DEFAULT;
	shmkit__chan_os_init(ch);
	ch->wait_readers = !!(L.flags & SHMKIT_CHAN_WAIT_READERS);
	ch->lag_ns = -1;
	ch->index = UINT32_MAX;

	r = shmkit__chan_self(&ch->pid, &ch->owner, &start, &ch->pidns);
	if (r < 0)
		goto fail;
	if (role != SHMKIT_CHAN_NONE) {
		ch->rw = 1;
		shmkit__chan_membarrier_init(ch);
		r = shmkit__chan_register(ch, role);
		if (r < 0)
			goto fail;
		r = init_position(ch);
		if (r < 0) {
			shmkit__chan_deregister(ch);
			goto fail;
		}
		if (ch->always_fence && chan_may_wait(ch))
			shmkit__chan_set_fencer(ch, 1);
		shmkit__chan_note_cpu(ch);
		ch->opens_seen = LD_ACQ(&ch->h->opens[role == SHMKIT_CHAN_WRITER
							      ? SHMKIT_CHAN_READER
							      : SHMKIT_CHAN_WRITER]);
		(void)shmkit__chan_live_pass(ch);
	}
	*ret = ch;
	return 0;
fail:
	shmkit__chan_os_close(ch); /* a deregister may have woken peers */
	shmkit__chan_peers_close(ch);
	free(ch->peers);
	free(ch);
	return r;
}

int shmkit_chan_size(const shmkit_chan_opts *opts, size_t *ret_size)
{
	shmkit__chan_layout L;
	int r;

	if (!ret_size)
		return -EINVAL;
	r = shmkit__chan_layout_of(opts, &L);
	if (r < 0)
		return r;
	*ret_size = (size_t)L.total;
	return 0;
}

int shmkit_chan_create_in(shmkit_seg *seg, size_t offset,
			  const shmkit_chan_opts *opts, shmkit_chan **ret_ch)
{
	shmkit__chan_layout L;
	shmkit_chan *ch;
	int r;

	if (!seg || !ret_ch)
		return -EINVAL;
	r = shmkit__chan_layout_of(opts, &L);
	if (r < 0)
		return r;
	if (offset % CHAN_LINE)
		return -EINVAL;
	if (seg->flags & SHMKIT_F_RDONLY)
		return -EACCES;
	if (offset > seg->size || seg->size - offset < L.total)
		return -ENOSPC;
	chan_init((uint8_t *)seg->addr + offset, &L);
	r = chan_open_at(seg, offset, opts->role, &ch);
	if (r < 0) {
		ST_REL(&((struct chan_meta *)((uint8_t *)seg->addr + offset))
				->magic,
		       0);
		return r;
	}
	*ret_ch = ch;
	return 0;
}

int shmkit_chan_open_in(shmkit_seg *seg, size_t offset, shmkit_chan_role role,
			shmkit_chan **ret_ch)
{
	return chan_open_at(seg, offset, (int)role, ret_ch);
}

int shmkit_chan_create(const char *spec, const shmkit_chan_opts *opts,
		       shmkit_chan **ret_ch)
{
	shmkit__chan_layout L;
	shmkit_opts so;
	shmkit_seg *seg;
	shmkit_chan *ch;
	int r;

	if (!spec || !ret_ch)
		return -EINVAL;
	r = shmkit__chan_layout_of(opts, &L);
	if (r < 0)
		return r;
	memset(&so, 0, sizeof(so));
	so.mode = opts->mode;
	so.flags = opts->seg_flags;
	r = shmkit_create(spec, (size_t)L.total, &so, &seg);
	if (r < 0)
		return r;
	r = shmkit_chan_create_in(seg, 0, opts, &ch);
	if (r < 0) {
		(void)shmkit_destroy(seg);
		return r;
	}
	ch->own_seg = 1;
	*ret_ch = ch;
	return 0;
}

int shmkit_chan_probe(const char *spec)
{
	shmkit_opts so = {.flags = SHMKIT_F_RDONLY};
	shmkit__chan_layout L;
	struct chan_hdr hdr;
	const void *mem;
	shmkit_seg *seg;
	size_t len;
	int r;

	if (!spec)
		return -EINVAL;
	r = shmkit_attach(spec, &so, &seg);
	if (r < 0)
		return r;
	mem = seg->addr;
	len = seg->size;
	/* Through the descriptor, not the mapping, where there is one: a
	 * file cut short since attach is then a short read, not a SIGBUS. */
	if (shmkit__chan_os_read_hdr(seg, &hdr, sizeof(hdr), &len) == 0)
		mem = &hdr;
	/* The checked read open makes, without its wait for a creator. */
	r = len >= sizeof(hdr) && shmkit__chan_validate(mem, len, &L) == 0;
	(void)shmkit_detach(seg);
	return r;
}

int shmkit_chan_open(const char *spec, shmkit_chan_role role,
		     shmkit_chan **ret_ch)
{
	shmkit_opts so;
	shmkit_seg *seg;
	shmkit_chan *ch;
	int r;

	if (!spec || !ret_ch)
		return -EINVAL;
	memset(&so, 0, sizeof(so));
	/* A handle that only looks maps the channel read-only. */
	if (role == SHMKIT_CHAN_NONE)
		so.flags = SHMKIT_F_RDONLY;
	r = shmkit_attach(spec, &so, &seg);
	if (r < 0)
		return r;
	r = chan_open_at(seg, 0, (int)role, &ch);
	if (r < 0) {
		(void)shmkit_detach(seg);
		return r;
	}
	ch->own_seg = 1;
	*ret_ch = ch;
	return 0;
}

static int chan_free(shmkit_chan *ch, int destroy)
{
	int r = 0;

	if (!ch)
		return 0;
	/* An inherited copy in a forked child must not deregister the parent. */
	if (ch->me && ch->pid == shmkit__chan_os_pid()) {
		shmkit__chan_drop_pending(ch);
		shmkit__chan_deregister(ch);
	}
	shmkit__chan_os_close(ch);
	shmkit__chan_peers_close(ch);
	if (ch->own_seg)
		r = destroy ? shmkit_destroy(ch->seg) : shmkit_detach(ch->seg);
	free(ch->peers);
	free(ch);
	return r;
}

int shmkit_chan_close(shmkit_chan *ch)
{
	return chan_free(ch, 0);
}

int shmkit_chan_destroy(shmkit_chan *ch)
{
	return chan_free(ch, 1);
}

int shmkit_chan_shutdown(shmkit_chan *ch)
{
	uint64_t ws;

	if (!ch)
		return -EINVAL;
	if (ch->role != SHMKIT_CHAN_WRITER || !ch->me || ch->pid != shmkit__chan_os_pid())
		return -EBADF;
	if (ch->pend != PEND_NONE)
		return -EBUSY;
	ws = LD_ACQ(&ch->h->wstate);
	while (WS_STREAM(ws) == ch->wstream &&
	       !CAS(&ch->h->wstate, &ws, ws | WS_SHUT))
		;
	/* Waiters of both sides run a liveness pass at once, which tells
	 * readers the stream is over and blocked writers that it is shut. */
	FADD(&ch->h->leaves, 1);
	shmkit__chan_wake_all(ch);
	return 0;
}

int shmkit_chan_set_wait(shmkit_chan *ch, shmkit_chan_wait mode,
			 int64_t spin_ns)
{
	if (!ch || (mode != SHMKIT_CHAN_ADAPTIVE && mode != SHMKIT_CHAN_SPIN &&
		    mode != SHMKIT_CHAN_BLOCK))
		return -EINVAL;
	ch->mode = (uint8_t)mode;
	/* At most 10 s: a longer spin is a mistake, and must not overflow. */
	ch->spin_ns = spin_ns <= 0		   ? SHMKIT_CHAN_SPIN_NS_DEFAULT
		      : spin_ns > INT64_C(10000000000) ? INT64_C(10000000000)
						     : spin_ns;
	ch->spin_more = 0;
	if (ch->me && chan_may_wait(ch))
		shmkit__chan_set_fencer(ch, mode == SHMKIT_CHAN_BLOCK ||
						    ch->always_fence);
	return 0;
}

int shmkit_chan_set_lag_limit(shmkit_chan *ch, int64_t max_wait_ns)
{
	if (!ch)
		return -EINVAL;
	if (!ch->wait_readers || ch->role != SHMKIT_CHAN_WRITER)
		return -ENOTSUP;
	ch->lag_ns = max_wait_ns < 0 ? -1 : max_wait_ns;
	ch->lag_until = 0;
	return 0;
}

uint64_t shmkit_chan_lost(const shmkit_chan *ch)
{
	return ch && ch->kind == SHMKIT_CHAN_BROADCAST ? ch->lost : 0;
}

shmkit_chan_kind shmkit_chan_kind_of(const shmkit_chan *ch)
{
	return ch ? (shmkit_chan_kind)ch->kind : (shmkit_chan_kind)0;
}

shmkit_chan_role shmkit_chan_role_of(const shmkit_chan *ch)
{
	return ch ? (shmkit_chan_role)ch->role : SHMKIT_CHAN_NONE;
}

size_t shmkit_chan_max_msg(const shmkit_chan *ch)
{
	return ch ? ch->max_msg : 0;
}

shmkit_seg *shmkit_chan_seg(const shmkit_chan *ch)
{
	return ch ? ch->seg : NULL;
}

const char *shmkit_chan_kind_name(shmkit_chan_kind kind)
{
	switch (kind) {
	case SHMKIT_CHAN_SPSC:
		return "spsc";
	case SHMKIT_CHAN_MPMC:
		return "mpmc";
	case SHMKIT_CHAN_BROADCAST:
		return "broadcast";
	}
	return "?";
}

int shmkit_chan_stat(shmkit_chan *ch, shmkit_chan_info *ret_info,
		     shmkit_chan_ep_info *eps, size_t max)
{
	shmkit_chan_info I;
	uint64_t tail, head, ws, ws0, dead_left = 0;
	pid_t dead_pid = 0;
	uint32_t i;
	int n = 0;

	if (!ch || !ret_info || (max && !eps))
		return -EINVAL;
	memset(&I, 0, sizeof(I));
	I.kind = (shmkit_chan_kind)ch->kind;
	I.version = CHAN_VERSION;
	I.capacity = ch->cap;
	I.max_msg = ch->max_msg;
	I.slot_size = ch->stride;
	I.max_endpoints = ch->nep;
	I.size = ch->lay.total;
	tail = LD_ACQ(&ch->h->tail);
	head = LD_ACQ(&ch->h->head);
	if (ch->kind == SHMKIT_CHAN_SPSC) { /* bit 0: a record's promise */
		tail &= ~R_POS_SKIP;
		head &= ~R_POS_SKIP;
	}
	if (ch->kind == SHMKIT_CHAN_BROADCAST)
		I.used = tail < ch->cap ? tail : ch->cap;
	else
		I.used = tail > head ? (tail - head < ch->cap ? tail - head
							      : ch->cap)
				     : 0;
	I.sent = LD_RLX(&ch->h->sent_closed);
	I.received = LD_RLX(&ch->h->recv_closed);
	I.poisoned = LD_RLX(&ch->h->poisoned);
	I.dropped = LD_RLX(&ch->h->dropped);
	I.reclaimed = LD_RLX(&ch->h->reclaimed);
	ws0 = LD_ACQ(&ch->h->wstate);
	for (i = 0; i < ch->nep; i++) {
		struct chan_ep *ep = &ch->eps[i];
		uint64_t o = LD_ACQ(&ep->owner), msgs;
		uint32_t role;
		int st, alive;

		if (!o || (o & EP_REAPING))
			continue;
		role = LD_ACQ(&ep->role);
		st = shmkit__chan_ep_state(ch, i);
		alive = st == EP_DEAD ? 0 : st == EP_UNKNOWN ? -1 : 1;
		msgs = LD_RLX(&ep->msgs);
		if (role == SHMKIT_CHAN_WRITER) {
			I.sent += msgs;
			I.writers += alive != 0;
			/* Dead, not reclaimed yet (stat never writes): it has
			 * left its stream as far as a reader will be told. */
			if (!alive && (LD_RLX(&ep->wflags) & EPW_WRITER) &&
			    LD_RLX(&ep->gen) == WS_GEN(ws0)) {
				dead_left++;
				if (!dead_pid)
					dead_pid = (pid_t)LD_RLX(&ep->pid);
			}
		} else if (role == SHMKIT_CHAN_READER) {
			I.received += msgs;
			I.readers += alive != 0;
		}
		if ((size_t)n < max) {
			shmkit_chan_ep_info *e = &eps[n];
			uint64_t cur = LD_RLX(&ep->cursor);
			memset(e, 0, sizeof(*e));
			e->index = i;
			e->role = (shmkit_chan_role)role;
			e->pid = EP_PID(o);
			e->alive = alive;
			e->msgs = msgs;
			e->bytes = LD_RLX(&ep->bytes);
			if (ch->kind == SHMKIT_CHAN_BROADCAST &&
			    role == SHMKIT_CHAN_READER) {
				e->lost = LD_RLX(&ep->lost);
				e->lag = tail > cur ? tail - cur : 0;
			}
		}
		n++;
	}
	I.nendpoints = (unsigned)n;
	I.writers_expected = ch->lay.writers;
	I.flags = ch->lay.flags;
	ws = LD_ACQ(&ch->h->wstate);
	if (WS_GEN(ws) == WS_GEN(ws0) && dead_left) {
		ws += WS_LEFT(ws) + dead_left > WS_LEFT_MAX ? 0 : dead_left;
		if (!(ws & (WS_DIED | WS_SHUT)))
			ws |= WS_DIED | ((uint64_t)(uint32_t)dead_pid
					 << WS_PID_SHIFT);
	}
	I.writers_left = (uint32_t)WS_LEFT(ws);
	if (ws & WS_DIED) {
		I.stream |= SHMKIT_CHAN_STREAM_RESET;
		I.dead_writer = WS_PID(ws);
	}
	if (ws & WS_SHUT)
		I.stream |= SHMKIT_CHAN_STREAM_SHUTDOWN;
	if (shmkit__chan_stream_over(ch, ws, I.writers))
		I.stream |= SHMKIT_CHAN_STREAM_ENDED;
	*ret_info = I;
	return n;
}
