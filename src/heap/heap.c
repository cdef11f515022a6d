/*
 * heap.c: shmkit heaps: an allocator in shared memory that any process may
 * use, that a crash at any instruction never corrupts nor locks, and that
 * grows while in use. The public calls, the per-process cache, named
 * objects. The shared allocator is in block.c, the walks in walk.c.
 *
 * Design
 * ------
 * The heap's shared state (free lists by size, counters, the parts table,
 * the named-object directory, the process slots) is guarded by one robust
 * shmkit_mutex in the header, and the lock holder changes it only through
 * a redo transaction:
 *
 *   1. compute every store the operation makes, privately (reads see the
 *      transaction's own earlier stores: tx_rd);
 *   2. copy the stores into the header's log, then set log_n = n: one
 *      aligned 8-byte store, the commit point;
 *   3. apply the stores, in order; then set log_n = 0.
 *
 * Every store is of an absolute value, so applying a log again, whole or
 * in part, gives the same result. A holder killed before step 2 changed
 * nothing the structure depends on (only log entries, ignored while log_n
 * is 0); killed after it, the kernel hands the mutex to the next locker
 * with EOWNERDEAD (the robust list), which replays the log from the start
 * (block.c: recover) and the operation is complete. So each transaction
 * happens entirely or not at all, whatever instruction the holder dies at,
 * and recovery is itself made of transactions, so a recoverer that dies is
 * the same case again. The lock can never stay held: the kernel releases
 * it with its holder, and shmkit_mutex never becomes unrecoverable.
 *
 * Operations of more than one transaction say in the header what they
 * leave half-done. get() takes the object's and its directory entry's
 * blocks in one transaction that also records them in pend[], fills them
 * outside the log (nobody can reach them yet), then links the entry and
 * clears pend[] in a second one; unname() unlinks the entry and records
 * both blocks in pend[], then frees each in a transaction that also clears
 * its pend[] word. Recovery frees what pend[] holds. So a named object is
 * either absent or complete and reachable, never half-made, never lost.
 * Growth extends and reserves the object first (a crash then leaves it
 * longer than the heap, harmless: the next growth reuses that range), lays
 * the new part out while nobody can see it, and publishes it, table entry
 * and free block, in one transaction.
 *
 * Off the lock, each handle keeps a cache of small blocks (up to 1 KiB,
 * by 16-byte class, 32 deep), so that the common alloc and free touch no
 * shared lock. The cache is private memory; the blocks in it are marked in
 * shared memory as CACHED by the handle's slot (index and epoch) in their
 * header's second word, w1. Only the holder of a non-free block writes its
 * w1, and the lock holder writes only w0 of blocks it does not hold (to
 * coalesce: the PFREE bit), so the two never store to the same word.
 * free() claims a block from USED to CACHED with a compare-and-swap on w1:
 * of two processes freeing one ref at once, one is told -EINVAL. A process
 * that dies leaves its CACHED blocks marked with a slot whose process is
 * gone (pid, start time and pid namespace recorded at claim): they are
 * orphans, counted as lost_bytes, and sweep() frees them (on open, before
 * growth, before -ENOMEM, and on shmkit_heap_reclaim()). A process killed
 * in the middle of a cache pop or push leaves the block CACHED (an orphan,
 * reclaimed) or USED (the application's: allocated, perhaps never linked,
 * which no allocator can tell from a block in use).
 *
 * Refs carry the block's generation (16 bits, new at each allocation) and
 * every allocated header carries a check word keyed by a per-heap secret,
 * so free(), ptr() and usable() recognise a ref to a live block and
 * nothing else: not a freed or re-allocated one, not a pointer into the
 * middle of a block, not a value made up.
 */
#include "heap_int.h"
#include "heap_os.h"

#include <stdio.h>
#include <stdlib.h>

#define PAGE 4096u
#define HEAP_IN_MIN SHMKIT_HEAP_IN_MIN
#define ALIGN_MAX (UINT64_C(1) << 20)

/* ------------------------------------------------------------------------ */
/* Who this process is                                                       */
/* ------------------------------------------------------------------------ */

/* The fork generation, the process's id and start time, and whether a
 * recorded process lives: heap_os.h (src/unix/heap_os.c, src/win/). */

/* ------------------------------------------------------------------------ */
/* Slots                                                                     */
/* ------------------------------------------------------------------------ */

/* Under the lock: take a free slot for this handle's cache, reaping the
 * slots of dead processes (and sweeping their blocks) if none is free. */
static void claim_slot(shmkit_heap *h)
{
	struct heap_hdr *hd = h->hdr;
	unsigned i, pass;

	h->slot = -1;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < HEAP_SLOTS; i++) {
			struct heap_slot *s = &hd->slots[i];
			uint64_t ep;
			if (ld(&s->state) != SLOT_FREE)
				continue;
			uint64_t pid, start, ns;
			ep = (ld(&s->epoch) + 1) & 0xffffffffu;
			shmkit__heap_os_self(&pid, &start, &ns);
			shmkit__tx_begin(h);
			if (shmkit__tx_wr(h, HA(h, slots[i].state), SLOT_LIVE) < 0 ||
			    shmkit__tx_wr(h, HA(h, slots[i].pid), pid) < 0 ||
			    shmkit__tx_wr(h, HA(h, slots[i].start), start) < 0 ||
			    shmkit__tx_wr(h, HA(h, slots[i].pidns), ns) < 0 ||
			    shmkit__tx_wr(h, HA(h, slots[i].epoch), ep) < 0 ||
			    shmkit__tx_commit(h) < 0) {
				shmkit__tx_begin(h);
				return;
			}
			h->slot = (int)i;
			h->epoch = ep;
			h->cached = 0;
			h->cached_w1 = ((uint64_t)TAG_CACHED << 40) | (ep << 8) | i;
			return;
		}
		if (pass == 0 && shmkit__heap_reap_slots(h) > 0)
			(void)shmkit__heap_sweep(h);
		else
			break;
	}
}

/* Under the lock: give back every block in this handle's cache. */
static int flush_all(shmkit_heap *h)
{
	unsigned c;
	int r = 0, rr;

	for (c = 0; c < CACHE_CLASSES; c++)
		if (h->cache[c].n && (rr = shmkit__heap_flush(h, c, 0)) < 0 && !r)
			r = rr;
	return r;
}

/*
 * Under the lock, when an allocation of need bytes found the heap full:
 * the next way to make room, from *stage on. First what this handle keeps
 * (its cached blocks may be all that stops free space from coalescing),
 * then what dead processes kept, then growth. 0 when it made some (try
 * again), -ENOMEM when there is none left, -EPROTO for a corrupt heap.
 */
static int make_room(shmkit_heap *h, uint64_t need, int *stage)
{
	int r;

	switch (*stage) {
	case 0:
		*stage = 1;
		if (h->cached && flush_all(h) == 0)
			return 0;
		/* fall through */
	case 1:
		*stage = 2;
		if (shmkit__heap_reap_slots(h) >= 0 && shmkit__heap_sweep(h) > 0)
			return 0;
		/* fall through */
	case 2:
		*stage = 3;
		r = shmkit__heap_grow(h, need);
		return r == -EPROTO ? r : r < 0 ? -ENOMEM : 0;
	default:
		return -ENOMEM;
	}
}

/* Under the lock: give every cached block back and free the slot. */
static int release_slot(shmkit_heap *h)
{
	int r, rr;

	if (h->slot < 0)
		return 0;
	r = flush_all(h);
	shmkit__tx_begin(h);
	if ((rr = shmkit__tx_wr(h, HA(h, slots[h->slot].state), SLOT_FREE)) < 0 ||
	    (rr = shmkit__tx_commit(h)) < 0) {
		shmkit__tx_begin(h);
		if (!r)
			r = rr;
	}
	h->slot = -1;
	return r;
}

/* In a forked child: the cache and slot are the parent's; forget them. */
static void after_fork(shmkit_heap *h)
{
	unsigned c;

	for (c = 0; c < CACHE_CLASSES; c++)
		h->cache[c].n = 0;
	h->cached = 0;
	h->slot = -1;
	h->forkgen = __atomic_load_n(&shmkit__heap_forkgen, __ATOMIC_RELAXED);
}

static inline void check_fork(shmkit_heap *h)
{
	if (__builtin_expect(h->forkgen !=
				     __atomic_load_n(&shmkit__heap_forkgen,
						     __ATOMIC_RELAXED),
			     0))
		after_fork(h);
}

/* ------------------------------------------------------------------------ */
/* Refs                                                                      */
/* ------------------------------------------------------------------------ */

static inline shmkit_ref make_ref(uint64_t blk, unsigned gen)
{
	return ((uint64_t)gen << 48) | (blk + BLK_HDR);
}

/* The w1 a live block at blk of generation gen has with tag. */
static inline uint64_t live_w1(const shmkit_heap *h, uint64_t blk,
			       unsigned gen, unsigned tag)
{
	return ((uint64_t)gen << 48) | ((uint64_t)tag << 40) |
	       shmkit__heap_check_word(h, blk, gen);
}

/*
 * The header of the live block ref names: its address and a pointer to
 * it, or NULL. *ret_tag: USED or NAMED (ENTRY blocks are never handed
 * out, so they are not live to a user).
 */
/* Whether ref lies in a part this process has not mapped yet, and then
 * maps it: the fast paths call it (out of line) and start again. */
static __attribute__((noinline)) bool ref_unmapped(shmkit_heap *h,
						   shmkit_ref ref)
{
	unsigned part = HEAP_PART_OF(ref & ((UINT64_C(1) << 48) - 1));

	return part >= h->nmapped && part < HEAP_PARTS &&
	       shmkit__heap_map_part(h, part) == 0;
}

/* The public calls, for a ref in a part not mapped yet: map, start again
 * (tail calls, so that the fast paths stay leaves). */
static __attribute__((noinline)) void *ptr_slow(shmkit_heap *h, shmkit_ref ref)
{
	return ref_unmapped(h, ref) ? shmkit_heap_ptr(h, ref) : NULL;
}

static __attribute__((noinline)) size_t usable_slow(shmkit_heap *h,
						    shmkit_ref ref)
{
	return ref_unmapped(h, ref) ? shmkit_heap_usable(h, ref) : 0;
}

static __attribute__((noinline)) int free_unmapped(shmkit_heap *h,
						   shmkit_ref ref)
{
	return ref_unmapped(h, ref) ? shmkit_heap_free(h, ref) : -EINVAL;
}

#define REF_MAPPED(h, ref)                                                     \
	(__builtin_expect(HEAP_PART_OF((ref) & ((UINT64_C(1) << 48) - 1)) <    \
				  (h)->nmapped,                                \
			  1))

static inline uint64_t *ref_hdr(shmkit_heap *h, shmkit_ref ref,
				uint64_t *ret_blk, unsigned *ret_tag,
				uint64_t *ret_w1)
{
	uint64_t addr = ref & ((UINT64_C(1) << 48) - 1);
	unsigned part = HEAP_PART_OF(addr);
	uint64_t off = addr & HEAP_OFF_MASK, w1, *p;

	/* the caller made sure that part is mapped (REF_MAPPED) */
	/* ref 0, a misaligned one, one before the part's first block or
	 * past its end: all fail these two tests */
	if ((off & 15) || off - h->lo[part] > h->span[part])
		return NULL;
	p = (uint64_t *)(h->base[part] + off - BLK_HDR);
	w1 = ld(p + 1);
	/* USED or NAMED (they differ in one bit), this generation, the check
	 * word of this address: one compare */
	if ((w1 | ((uint64_t)(TAG_USED ^ TAG_NAMED) << 40)) !=
	    (((ref >> 48) << 48) | ((uint64_t)TAG_NAMED << 40) |
	     shmkit__heap_check_word(h, addr - BLK_HDR, (unsigned)(ref >> 48))))
		return NULL;
	*ret_blk = addr - BLK_HDR;
	*ret_tag = W1_TAG(w1);
	*ret_w1 = w1;
	return p;
}

/* The block's size from its w0, checked against its part; 0 if wrong. */
static uint64_t live_size(const shmkit_heap *h, uint64_t blk, const uint64_t *p)
{
	uint64_t size = BLK_SIZE(ld(p));
	unsigned part = HEAP_PART_OF(blk);

	/* ref_hdr() checked that the header lies before the sentinel */
	if (size < BLK_MIN ||
	    size > h->psize[part] - BLK_HDR - (blk & HEAP_OFF_MASK))
		return 0;
	return size;
}

void *shmkit_heap_ptr(shmkit_heap *h, shmkit_ref ref)
{
	uint64_t blk, w1, *p;
	unsigned tag;

	if (!h)
		return NULL;
	if (!REF_MAPPED(h, ref))
		return ptr_slow(h, ref);
	p = ref_hdr(h, ref, &blk, &tag, &w1);
	return p ? (void *)(p + 2) : NULL;
}

shmkit_ref shmkit_heap_ref(shmkit_heap *h, const void *ptr)
{
	const char *c = ptr;
	unsigned i, gen;
	uint64_t w1;

	if (!h || !c)
		return 0;
	for (i = 0; i < h->nmapped; i++) {
		uint64_t off, blk;
		if (c < h->base[i] || c >= h->base[i] + h->psize[i])
			continue;
		off = (uint64_t)(c - h->base[i]);
		if ((off & 15) || off < BLK_HDR + (i == 0 ? h->first : 0) ||
		    off + BLK_HDR > h->psize[i])
			return 0;
		blk = HEAP_ADDR(i, off - BLK_HDR);
		w1 = ld((const uint64_t *)(c - 8));
		gen = W1_GEN(w1);
		if (w1 != live_w1(h, blk, gen, TAG_USED) &&
		    w1 != live_w1(h, blk, gen, TAG_NAMED))
			return 0;
		return make_ref(blk, gen);
	}
	return 0;
}

size_t shmkit_heap_usable(shmkit_heap *h, shmkit_ref ref)
{
	uint64_t blk, size, w1, *p;
	unsigned tag;

	if (!h)
		return 0;
	if (!REF_MAPPED(h, ref))
		return usable_slow(h, ref);
	p = ref_hdr(h, ref, &blk, &tag, &w1);

	if (!p || !(size = live_size(h, blk, p)))
		return 0;
	return (size_t)(size - BLK_HDR);
}

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

/*
 * The shared path, under the lock: take, and when the heap is full, make
 * room (make_room) and try again.
 */
static int take_locked(shmkit_heap *h, uint64_t bs, uint64_t align,
		       unsigned tag, uint64_t *ret)
{
	int stage = 0, r;

	while ((r = shmkit__heap_take(h, bs, align, tag, ret)) == -ENOMEM)
		if ((r = make_room(h, bs + (align > 16 ? align + BLK_MIN : 0),
				   &stage)) < 0)
			return r;
	return r;
}

static __attribute__((noinline)) int alloc_shared(shmkit_heap *h, uint64_t bs,
						 uint64_t align,
			shmkit_ref *ret)
{
	uint64_t blk;
	int r = shmkit__heap_lock(h);

	if (r < 0)
		return r;
	r = take_locked(h, bs, align, TAG_USED, &blk);
	if (r == 0)
		*ret = make_ref(blk, W1_GEN(ld((uint64_t *)shmkit__heap_at(
						h, blk + 8, 8))));
	shmkit__heap_unlock(h);
	return r;
}

/* Refill an empty class under the lock (claiming a slot if need be). */
static __attribute__((noinline)) int refill(shmkit_heap *h, unsigned cls)
{
	int r = shmkit__heap_lock(h);

	if (r < 0)
		return r;
	if (h->slot < 0)
		claim_slot(h);
	if (h->slot < 0) {
		r = -ENOSPC; /* no slot: this handle allocates uncached */
	} else {
		r = shmkit__heap_refill(h, cls);
		if (r == -ENOMEM) {
			uint64_t blk;
			/* full: make room the shared way, then refill */
			r = take_locked(h, (uint64_t)cls * 16, 16, TAG_CACHED,
					&blk);
			if (r == 0) {
				r = shmkit__heap_give(h, blk, -1);
				if (r == 0)
					r = shmkit__heap_refill(h, cls);
			}
		}
	}
	shmkit__heap_unlock(h);
	return r;
}

/* alloc() with an empty class: refill it (or go shared), start again. */
static __attribute__((noinline)) int alloc_refill(shmkit_heap *h,
						  unsigned cls, size_t size,
						  shmkit_ref *ret)
{
	int r = refill(h, cls);

	if (r < 0 && r != -ENOSPC)
		return r;
	if (h->cache[cls].n > 0)
		return shmkit_heap_alloc(h, size, ret);
	return alloc_shared(h, (uint64_t)cls * 16, 16, ret);
}

int shmkit_heap_alloc(shmkit_heap *h, size_t size, shmkit_ref *ret)
{
	uint64_t bs = heap_block_size(size);

	if (__builtin_expect(!h || !ret || !size || !bs, 0))
		return -EINVAL;
	if (bs <= CACHE_MAX_BLOCK) {
		unsigned cls = (unsigned)(bs / 16);
		struct heap_cache *c = &h->cache[cls];
		check_fork(h);
		if (__builtin_expect(c->n == 0, 0))
			return alloc_refill(h, cls, size, ret);
		{
			/* Every block of class cls is cls * 16 bytes, and the
			 * cache keeps its generation: nothing to read. */
			uint64_t e = c->blk[--c->n];
			uint64_t blk = e & CACHE_BLK_MASK;
			unsigned gen = (unsigned)((e >> 48) + 1) & 0xffff;
			uint64_t *p = (uint64_t *)(h->base[HEAP_PART_OF(blk)] +
						   (blk & HEAP_OFF_MASK));
			h->cached -= (uint64_t)cls * 16;
			st(p + 1, live_w1(h, blk, gen, TAG_USED));
			*ret = make_ref(blk, gen);
			return 0;
		}
	}
	return alloc_shared(h, bs, 16, ret);
}

int shmkit_heap_calloc(shmkit_heap *h, size_t size, shmkit_ref *ret)
{
	shmkit_ref ref;
	int r = shmkit_heap_alloc(h, size, &ref);

	if (r < 0)
		return r;
	memset(shmkit_heap_ptr(h, ref), 0, size);
	*ret = ref;
	return 0;
}

int shmkit_heap_alloc_aligned(shmkit_heap *h, size_t size, size_t align,
			      shmkit_ref *ret)
{
	uint64_t bs = heap_block_size(size);

	if (!h || !ret || !size || !bs || align < 16 || align > ALIGN_MAX ||
	    (align & (align - 1)) || align > h->align_max)
		return -EINVAL;
	if (align == 16)
		return shmkit_heap_alloc(h, size, ret);
	return alloc_shared(h, bs, align, ret);
}

/* free() once the block is claimed, when the cache cannot simply take it:
 * a full class (give half back first), or a block for the free lists. */
static __attribute__((noinline)) int free_slow(shmkit_heap *h, uint64_t blk,
					       uint64_t size, shmkit_ref ref)
{
	int r;

	if (size <= CACHE_MAX_BLOCK && h->slot >= 0 &&
	    h->cached + size <= CACHE_BYTES) {
		unsigned cls = (unsigned)(size / 16);
		struct heap_cache *c = &h->cache[cls];
		if ((r = shmkit__heap_lock(h)) < 0)
			return r; /* stays claimed: an orphan once we are gone */
		(void)shmkit__heap_flush(h, cls, c->depth / 2);
		shmkit__heap_unlock(h);
		c->blk[c->n++] = blk | (ref & ~CACHE_BLK_MASK);
		h->cached += size;
		return 0;
	}
	if ((r = shmkit__heap_lock(h)) < 0)
		return r;
	r = shmkit__heap_give(h, blk, -1);
	shmkit__heap_unlock(h);
	return r;
}

int shmkit_heap_free(shmkit_heap *h, shmkit_ref ref)
{
	uint64_t blk, size, w1, mine;
	uint64_t *p;

	if (!h)
		return -EINVAL;
	if (!REF_MAPPED(h, ref))
		return free_unmapped(h, ref);
	{
		uint64_t addr = ref & ((UINT64_C(1) << 48) - 1);
		unsigned part = HEAP_PART_OF(addr);
		uint64_t off = addr & HEAP_OFF_MASK;
		if ((off & 15) || off - h->lo[part] > h->span[part])
			return -EINVAL;
		blk = addr - BLK_HDR;
		p = (uint64_t *)(h->base[part] + off - BLK_HDR);
	}
	/* The w1 of a live, unnamed block of this generation: the swap
	 * below both checks the ref and claims the block. */
	w1 = live_w1(h, blk, (unsigned)(ref >> 48), TAG_USED);
	check_fork(h);
	/*
	 * Claim it: USED -> CACHED by this handle (slot 255 when it has
	 * none: an orphan at once, should this process die before the lock
	 * below takes it back). A compare-and-swap, so that of two frees of
	 * one ref racing in two processes exactly one claims the block: a
	 * plain store would let the loser's store land on a block the winner
	 * has already given back, and corrupt the free lists.
	 */
	mine = (w1 & ~((UINT64_C(0xff) << 40) | HEAP_OFF_MASK)) |
	       (h->slot >= 0 ? h->cached_w1 : ((uint64_t)TAG_CACHED << 40) | 0xffu);
	if (!__atomic_compare_exchange_n(p + 1, &w1, mine, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		/* w1 now holds what is there: a named object, or no live
		 * block of this ref (never one, freed, re-allocated since, or
		 * freed by someone else at this very moment) */
		return w1 == (live_w1(h, blk, (unsigned)(ref >> 48), TAG_USED) ^
			      ((uint64_t)(TAG_USED ^ TAG_NAMED) << 40))
			       ? -EBUSY
			       : -EINVAL;
	/* Claimed, so ours to read: a size that does not fit its part is a
	 * corrupted heap (the block stays claimed: never handed out). */
	if (!(size = live_size(h, blk, p)))
		return -EPROTO;
	if (size <= CACHE_MAX_BLOCK && h->slot >= 0 &&
	    h->cached + size <= CACHE_BYTES) {
		struct heap_cache *c = &h->cache[size / 16];
		if (__builtin_expect(c->n < c->depth, 1)) {
			c->blk[c->n++] = blk | (ref & ~CACHE_BLK_MASK);
			h->cached += size;
			return 0;
		}
	}
	return free_slow(h, blk, size, ref);
}

/* ------------------------------------------------------------------------ */
/* Named objects                                                             */
/* ------------------------------------------------------------------------ */

static unsigned name_bucket(const char *name, size_t len)
{
	uint64_t x = UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len; i++)
		x = (x ^ (unsigned char)name[i]) * UINT64_C(0x100000001b3);
	return (unsigned)(x % HEAP_BUCKETS);
}

static int name_check(const char *name, size_t *ret_len)
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, SHMKIT_HEAP_NAME_MAX + 1);
	if (len == 0 || len > SHMKIT_HEAP_NAME_MAX)
		return -EINVAL;
	*ret_len = len;
	return 0;
}

struct found {
	uint64_t ent;   /* entry block */
	uint64_t link;  /* the word that points at it (bucket or prev->next) */
	uint64_t obj;   /* object block */
	uint64_t size;
};

/* A directory entry, checked; NULL if it is not a valid one. */
static struct heap_entry *entry_at(shmkit_heap *h, uint64_t ent)
{
	uint64_t *p, w0, w1, size, nl;
	struct heap_entry *e;

	if (!shmkit__heap_blk_ok(h, ent) || !(p = shmkit__heap_at(h, ent, 64)))
		return NULL;
	w0 = ld(p);
	w1 = ld(p + 1);
	size = BLK_SIZE(w0);
	if ((w0 & BLK_FREE) || W1_TAG(w1) != TAG_ENTRY ||
	    W1_LOW(w1) != shmkit__heap_check_word(h, ent, W1_GEN(w1)) ||
	    !shmkit__heap_at(h, ent, (size_t)size))
		return NULL;
	e = (struct heap_entry *)(p + 2);
	nl = ld(&e->namelen);
	if (nl == 0 || nl > SHMKIT_HEAP_NAME_MAX ||
	    BLK_HDR + sizeof(*e) + nl > size || memchr(e->name, 0, nl))
		return NULL;
	return e;
}

/* How many directory entries a walk may visit before it calls the chain
 * a cycle: the count the header keeps, but never more than could fit in
 * the parts mapped (the count is shared memory too). */
static uint64_t names_limit(const shmkit_heap *h)
{
	uint64_t n = ld(&h->hdr->nnamed), room = 0;
	unsigned i;

	for (i = 0; i < h->nmapped; i++)
		room += h->psize[i] / (2 * BLK_MIN);
	return (n < room ? n : room) + 1;
}

/* Under the lock: look name up. 0 and *f, -ENOENT, or -EPROTO. */
static int lookup(shmkit_heap *h, const char *name, size_t len,
		  struct found *f)
{
	unsigned b = name_bucket(name, len);
	uint64_t link = HA(h, names[b]), ent = ld(&h->hdr->names[b]);
	uint64_t steps = 0, limit = names_limit(h);

	while (ent) {
		struct heap_entry *e = entry_at(h, ent);
		if (!e || ++steps > limit)
			return -EPROTO;
		if (ld(&e->namelen) == len && !memcmp(e->name, name, len)) {
			uint64_t obj = ld(&e->obj), *op, w1;
			if (!shmkit__heap_blk_ok(h, obj) ||
			    !(op = shmkit__heap_at(h, obj, 16)))
				return -EPROTO;
			w1 = ld(op + 1);
			if (W1_TAG(w1) != TAG_NAMED ||
			    W1_LOW(w1) !=
				    shmkit__heap_check_word(h, obj, W1_GEN(w1)))
				return -EPROTO;
			f->ent = ent;
			f->link = link;
			f->obj = obj;
			f->size = ld(&e->size);
			return 0;
		}
		link = ent + BLK_HDR + offsetof(struct heap_entry, next);
		ent = ld(&e->next);
	}
	return -ENOENT;
}

/* The ref of a named object's block, or 0 if obj is not one. */
static shmkit_ref obj_ref(shmkit_heap *h, uint64_t obj)
{
	uint64_t *p, w1;

	if (!shmkit__heap_blk_ok(h, obj) || !(p = shmkit__heap_at(h, obj, 16)))
		return 0;
	w1 = ld(p + 1);
	if (W1_TAG(w1) != TAG_NAMED ||
	    W1_LOW(w1) != shmkit__heap_check_word(h, obj, W1_GEN(w1)))
		return 0;
	return make_ref(obj, W1_GEN(w1));
}

/* Under the lock: make the object and its entry (see the design above). */
static int make_named(shmkit_heap *h, const char *name, size_t len,
		      uint64_t size, uint64_t bs, shmkit_ref *ret)
{
	unsigned b = name_bucket(name, len);
	uint64_t ebs = heap_block_size(sizeof(struct heap_entry) + len);
	uint64_t obj = 0, ent = 0, osize;
	struct heap_entry *e;
	char *op;
	int r, stage = 0;

	for (;;) {
		shmkit__tx_begin(h);
		r = shmkit__tx_take(h, bs, 16, TAG_NAMED, &obj);
		if (r == 0)
			r = shmkit__tx_take(h, ebs, 16, TAG_ENTRY, &ent);
		if (r == 0 &&
		    (r = shmkit__tx_wr(h, HA(h, pend[0]), obj)) == 0 &&
		    (r = shmkit__tx_wr(h, HA(h, pend[1]), ent)) == 0)
			r = shmkit__tx_commit(h);
		shmkit__tx_begin(h);
		if (r != -ENOMEM)
			break;
		if ((r = make_room(h, bs + ebs + BLK_MIN, &stage)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	/* Nobody can reach these two blocks yet: fill them directly. */
	op = shmkit__heap_at(h, obj, (size_t)bs); /* in its part: take said so */
	osize = BLK_SIZE(ld((uint64_t *)op));
	if (osize < bs || !shmkit__heap_at(h, obj, (size_t)osize))
		osize = bs; /* a corrupted heap: zero what is surely the block's */
	memset(op + BLK_HDR, 0, (size_t)(osize - BLK_HDR));
	e = (struct heap_entry *)((char *)shmkit__heap_at(h, ent, 16) + BLK_HDR);
	st(&e->next, ld(&h->hdr->names[b]));
	st(&e->obj, obj);
	st(&e->size, size);
	st(&e->namelen, len);
	memcpy(e->name, name, len);

	shmkit__tx_begin(h);
	if ((r = shmkit__tx_wr(h, HA(h, names[b]), ent)) < 0 ||
	    (r = shmkit__tx_wr(h, HA(h, pend[0]), 0)) < 0 ||
	    (r = shmkit__tx_wr(h, HA(h, pend[1]), 0)) < 0 ||
	    (r = shmkit__tx_wr(h, HA(h, nnamed), ld(&h->hdr->nnamed) + 1)) < 0 ||
	    (r = shmkit__tx_commit(h)) < 0) {
		shmkit__tx_begin(h);
		return r;
	}
	*ret = obj_ref(h, obj);
	return 1;
}

int shmkit_heap_get(shmkit_heap *h, const char *name, size_t size,
		    shmkit_ref *ret)
{
	struct found f;
	uint64_t bs = heap_block_size(size);
	size_t len;
	int r;

	if (!h || !ret || !size || !bs || name_check(name, &len) < 0)
		return -EINVAL;
	if ((r = shmkit__heap_lock(h)) < 0)
		return r;
	r = lookup(h, name, len, &f);
	if (r == 0) {
		r = f.size == size ? 0 : -EEXIST;
		if (r == 0)
			*ret = obj_ref(h, f.obj);
	} else if (r == -ENOENT) {
		r = make_named(h, name, len, size, bs, ret);
	}
	shmkit__heap_unlock(h);
	return r;
}

int shmkit_heap_find(shmkit_heap *h, const char *name, shmkit_ref *ret_ref,
		     size_t *ret_size)
{
	struct found f;
	size_t len;
	int r;

	if (!h || name_check(name, &len) < 0)
		return -EINVAL;
	if ((r = shmkit__heap_lock(h)) < 0)
		return r;
	r = lookup(h, name, len, &f);
	if (r == 0) {
		if (ret_ref)
			*ret_ref = obj_ref(h, f.obj);
		if (ret_size)
			*ret_size = (size_t)f.size;
	}
	shmkit__heap_unlock(h);
	return r;
}

int shmkit_heap_unname(shmkit_heap *h, const char *name)
{
	struct found f;
	struct heap_entry *e;
	size_t len;
	int r;

	if (!h || name_check(name, &len) < 0)
		return -EINVAL;
	if ((r = shmkit__heap_lock(h)) < 0)
		return r;
	r = lookup(h, name, len, &f);
	if (r < 0)
		goto out;
	e = entry_at(h, f.ent);
	shmkit__tx_begin(h);
	if ((r = shmkit__tx_wr(h, f.link, ld(&e->next))) < 0 ||
	    (r = shmkit__tx_wr(h, HA(h, pend[0]), f.obj)) < 0 ||
	    (r = shmkit__tx_wr(h, HA(h, pend[1]), f.ent)) < 0 ||
	    (r = shmkit__tx_wr(h, HA(h, nnamed), ld(&h->hdr->nnamed) - 1)) < 0 ||
	    (r = shmkit__tx_commit(h)) < 0) {
		shmkit__tx_begin(h);
		goto out;
	}
	/* The name is gone; the blocks follow, each clearing its pend[]. */
	if ((r = shmkit__heap_give(h, f.obj, 0)) == 0)
		r = shmkit__heap_give(h, f.ent, 1);
out:
	shmkit__heap_unlock(h);
	return r;
}

int shmkit_heap_names(shmkit_heap *h, shmkit_heap_name_cb cb, void *arg)
{
	char name[SHMKIT_HEAP_NAME_MAX + 1];
	uint64_t steps = 0, limit;
	unsigned b;
	int r, count = 0;

	if (!h || !cb)
		return -EINVAL;
	if ((r = shmkit__heap_lock(h)) < 0)
		return r;
	limit = names_limit(h);
	for (b = 0; b < HEAP_BUCKETS; b++) {
		uint64_t ent = ld(&h->hdr->names[b]);
		while (ent) {
			struct heap_entry *e = entry_at(h, ent);
			size_t nl;
			if (!e || ++steps > limit) {
				r = -EPROTO;
				goto out;
			}
			shmkit_ref ref = obj_ref(h, ld(&e->obj));
			if (!ref) {
				r = -EPROTO;
				goto out;
			}
			nl = (size_t)ld(&e->namelen);
			memcpy(name, e->name, nl);
			name[nl] = 0;
			r = cb(name, ref, (size_t)ld(&e->size), arg);
			if (r)
				goto out;
			count++;
			ent = ld(&e->next);
		}
	}
	r = count;
out:
	shmkit__heap_unlock(h);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Create, open, close                                                       */
/* ------------------------------------------------------------------------ */

#define HEAP_OPT_FLAGS                                                         \
	(SHMKIT_F_PREFAULT | SHMKIT_F_GROUP | SHMKIT_F_NORESERVE |              \
	 SHMKIT_F_EPHEMERAL)

static size_t hdr_bytes(void)
{
	return (sizeof(struct heap_hdr) + 63) & ~(size_t)63;
}

static shmkit_heap *handle_new(void)
{
	shmkit_heap *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	shmkit__heap_os_init();
	h->slot = -1;
	for (unsigned c = 0; c < CACHE_CLASSES; c++)
		h->cache[c].depth = cache_depth_of(c);
	h->first = hdr_bytes();
	for (unsigned k = 0; k < HEAP_PARTS; k++)
		h->lo[k] = BLK_HDR + (k == 0 ? h->first : 0);
	h->forkgen = __atomic_load_n(&shmkit__heap_forkgen, __ATOMIC_RELAXED);
	return h;
}

/* Unmap the parts mapped apart from the segment's own view. */
static void unmap_parts(shmkit_heap *h)
{
	unsigned i;

	for (i = 0; i < h->nmapped; i++)
		if (h->unmap[i]) {
			shmkit__heap_os_unmap(h, i);
			h->unmap[i] = false;
		}
}

static void handle_free(shmkit_heap *h)
{
	unmap_parts(h);
	free(h);
}

static uint64_t new_secret(void)
{
	return shmkit__heap_os_random() | 1;
}

/* Lay out a new heap in h's part 0 (size bytes); magic last. */
static int format(shmkit_heap *h, uint64_t size, uint64_t max_size,
		  uint32_t flags)
{
	struct heap_hdr *hd = (struct heap_hdr *)h->base[0];
	int r;

	h->hdr = hd;
	memset(hd, 0, hdr_bytes());
	hd->version = HEAP_VERSION;
	hd->endian = HEAP_ENDIAN;
	hd->ptr_bits = (uint32_t)(sizeof(void *) * 8);
	hd->hdr_size = (uint32_t)hdr_bytes();
	hd->secret = h->secret = new_secret();
	hd->max_size = max_size;
	hd->flags = flags;
	if ((r = shmkit_mutex_init(&hd->lock)) < 0)
		return r;
	hd->nparts = 1;
	hd->parts[0].fileoff = 0;
	hd->parts[0].size = size;
	shmkit__heap_init_part(h, 0, h->first, size);
	shmkit__tx_begin(h);
	if ((r = shmkit__tx_link_first(h, 0, h->first, size)) < 0 ||
	    (r = shmkit__tx_commit(h)) < 0)
		return r;
	__atomic_store_n(&hd->magic, HEAP_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Check a header found in shared memory of len bytes. */
static int validate(const struct heap_hdr *hd, uint64_t len, bool fixed)
{
	uint64_t n, p0;

	if (len < hdr_bytes() + 64 ||
	    __atomic_load_n(&hd->magic, __ATOMIC_ACQUIRE) != HEAP_MAGIC)
		return -EPROTO;
	if (hd->version != HEAP_VERSION || hd->endian != HEAP_ENDIAN ||
	    hd->ptr_bits != sizeof(void *) * 8 || hd->hdr_size != hdr_bytes())
		return -EPROTO;
	n = ld(&hd->nparts);
	p0 = ld(&hd->parts[0].size);
	if (n < 1 || n > HEAP_PARTS || ld(&hd->parts[0].fileoff) != 0 ||
	    p0 > len || p0 < hdr_bytes() + 64 || p0 % 16 ||
	    (hd->flags & ~(uint32_t)(HEAP_F_FIXED | HEAP_F_NORESERVE)))
		return -EPROTO;
	if (fixed && (n != 1 || !(hd->flags & HEAP_F_FIXED)))
		return -EPROTO;
	if (!fixed && p0 % HEAP_GRAIN)
		return -EPROTO;
	return 0;
}

/* Claim a slot, reaping dead processes' slots first (a process that opens
 * the heap finds what the dead left behind). */
static int join(shmkit_heap *h)
{
	int r = shmkit__heap_lock(h);

	if (r < 0)
		return r;
	if (shmkit__heap_reap_slots(h) > 0)
		(void)shmkit__heap_sweep(h);
	claim_slot(h);
	shmkit__heap_unlock(h);
	return 0;
}

/* Map part 0 of a heap in seg; h->grows and h->base set. */
static int map_seg(shmkit_heap *h, shmkit_seg *seg, uint64_t size)
{
	if (shmkit__heap_os_growable(seg)) {
		h->grows = true;
		h->align_max = HEAP_GROW_ALIGN_MAX;
		return shmkit__heap_map_first(h, size);
	}
	h->base[0] = shmkit_addr(seg);
	set_psize(h, 0, size);
	h->nmapped = 1;
	h->align_max = PAGE;
	return 0;
}

int shmkit_heap_create(const char *spec, size_t size,
		       const shmkit_heap_opts *opts, shmkit_heap **ret)
{
	shmkit__spec sp;
	shmkit_opts so = {0};
	shmkit_heap *h;
	uint64_t sz, maxs;
	bool fixed;
	int r;

	if (!ret || !spec)
		return -EINVAL;
	if ((r = shmkit__spec_parse(spec, &sp)) < 0)
		return r;
	if (size < SHMKIT_HEAP_MIN_SIZE || (uint64_t)size > HEAP_MAX_BYTES)
		return -EINVAL;
	sz = ((uint64_t)size + HEAP_GRAIN - 1) & ~(uint64_t)(HEAP_GRAIN - 1);
	if (opts && opts->max_size && (opts->max_size < size ||
				       opts->max_size > HEAP_MAX_BYTES * 16))
		return -EINVAL;
	maxs = opts && opts->max_size
		       ? (opts->max_size + HEAP_GRAIN - 1) &
				 ~(uint64_t)(HEAP_GRAIN - 1)
		       : sz;
	if (opts && (opts->flags & ~(unsigned)HEAP_OPT_FLAGS))
		return -EINVAL;
	/* win: cannot grow: a new part would be an object of its own,
	 * which dies with its last handle, perhaps before every process
	 * has mapped it (docs/heap.md, Windows). */
	fixed = sp.backend == SHMKIT_BACKEND_SYSV ||
		sp.backend == SHMKIT_BACKEND_ANON ||
		sp.backend == SHMKIT_BACKEND_WIN;
	if (fixed && maxs > sz)
		return -EINVAL;
	if (opts) {
		so.mode = opts->mode;
		so.flags = opts->flags;
		so.group = opts->group;
	}
	if (!(h = handle_new()))
		return -ENOMEM;
	r = shmkit_create(spec, (size_t)sz, &so, &h->seg);
	if (r < 0) {
		free(h);
		return r;
	}
	h->own_seg = true;
	if ((r = map_seg(h, h->seg, sz)) < 0 ||
	    (r = format(h, sz, maxs,
			(fixed ? HEAP_F_FIXED : 0) |
				(so.flags & SHMKIT_F_NORESERVE ? HEAP_F_NORESERVE
							       : 0))) < 0 ||
	    (r = join(h)) < 0) {
		shmkit_seg *seg = h->seg;
		handle_free(h);
		(void)shmkit_destroy(seg);
		return r;
	}
	*ret = h;
	return 0;
}

int shmkit_heap_open(const char *spec, unsigned int flags, shmkit_heap **ret)
{
	shmkit_heap *h;
	shmkit_seg *seg;
	struct heap_hdr *hd;
	bool fixed;
	int r;

	if (!ret || !spec || flags)
		return -EINVAL;
	if ((r = shmkit_attach(spec, NULL, &seg)) < 0)
		return r;
	hd = shmkit_addr(seg);
	fixed = !shmkit__heap_os_growable(seg);
	if ((r = validate(hd, shmkit_size(seg), fixed)) < 0) {
		(void)shmkit_detach(seg);
		return r;
	}
	if (!(h = handle_new())) {
		(void)shmkit_detach(seg);
		return -ENOMEM;
	}
	h->seg = seg;
	h->own_seg = true;
	if ((r = map_seg(h, seg, ld(&hd->parts[0].size))) < 0)
		goto fail;
	h->hdr = (struct heap_hdr *)h->base[0];
	/* Checked again in this mapping: what is used is what was checked. */
	if ((r = validate(h->hdr, h->psize[0], fixed)) < 0)
		goto fail;
	h->secret = ld(&h->hdr->secret);
	if ((r = join(h)) < 0)
		goto fail;
	*ret = h;
	return 0;
fail:
	handle_free(h);
	(void)shmkit_detach(seg);
	return r;
}

static int in_args(shmkit_seg *seg, size_t offset, size_t len)
{
	if (!seg || offset % 16 || len < HEAP_IN_MIN || len > HEAP_MAX_BYTES ||
	    offset > shmkit_size(seg) || len > shmkit_size(seg) - offset)
		return -EINVAL;
	return 0;
}

static shmkit_heap *in_handle(shmkit_seg *seg, size_t offset, size_t len)
{
	shmkit_heap *h = handle_new();
	uint64_t lowbit = offset ? (uint64_t)offset & (~(uint64_t)offset + 1)
				 : PAGE;

	if (!h)
		return NULL;
	h->seg = seg;
	h->base[0] = (char *)shmkit_addr(seg) + offset;
	set_psize(h, 0, (uint64_t)len & ~(uint64_t)15);
	h->nmapped = 1;
	h->align_max = lowbit < PAGE ? lowbit : PAGE;
	return h;
}

int shmkit_heap_create_in(shmkit_seg *seg, size_t offset, size_t len,
			  const shmkit_heap_opts *opts, shmkit_heap **ret)
{
	shmkit_heap *h;
	int r;

	if (!ret || (r = in_args(seg, offset, len)) < 0)
		return -EINVAL;
	if (opts && ((opts->max_size && opts->max_size != len) ||
		     opts->flags || opts->mode))
		return -EINVAL;
	if (!(h = in_handle(seg, offset, len)))
		return -ENOMEM;
	if ((r = format(h, h->psize[0], h->psize[0], HEAP_F_FIXED)) < 0 ||
	    (r = join(h)) < 0) {
		handle_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

int shmkit_heap_open_in(shmkit_seg *seg, size_t offset, size_t len,
			shmkit_heap **ret)
{
	shmkit_heap *h;
	int r;

	if (!ret || (r = in_args(seg, offset, len)) < 0)
		return -EINVAL;
	if (!(h = in_handle(seg, offset, len)))
		return -ENOMEM;
	h->hdr = (struct heap_hdr *)h->base[0];
	if ((r = validate(h->hdr, h->psize[0], true)) < 0) {
		handle_free(h);
		return r;
	}
	set_psize(h, 0, ld(&h->hdr->parts[0].size));
	h->secret = ld(&h->hdr->secret);
	if ((r = join(h)) < 0) {
		handle_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

/* Give the cache back and free the slot (not in a forked child whose
 * cache and slot are its parent's). */
static int leave(shmkit_heap *h)
{
	int r;

	check_fork(h);
	if (h->slot < 0)
		return 0;
	if ((r = shmkit__heap_lock(h)) < 0)
		return r;
	r = release_slot(h);
	shmkit__heap_unlock(h);
	return r;
}

/* Whether a thread of this process holds a shmkit_mutex placed in the
 * heap (in an object in it): its mappings must then stay (shmkit/life.h). */
static bool holds_mutex_in(const shmkit_heap *h)
{
	unsigned i;

	for (i = 0; i < h->nmapped; i++)
		if (shmkit__mutex_held_in(h->base[i], (size_t)h->psize[i]))
			return true;
	return h->own_seg && shmkit__mutex_held_in(shmkit_addr(h->seg),
						   shmkit_size(h->seg));
}

int shmkit_heap_close(shmkit_heap *h)
{
	int r, rr;

	if (!h)
		return 0;
	if (holds_mutex_in(h))
		return -EBUSY;
	r = leave(h);
	if (h->own_seg && (rr = shmkit_detach(h->seg)) < 0 && !r)
		r = rr;
	handle_free(h);
	return r;
}

int shmkit_heap_destroy(shmkit_heap *h)
{
	int r, rr;

	if (!h)
		return 0;
	if (holds_mutex_in(h))
		return -EBUSY;
	r = leave(h);
	if (h->own_seg) {
		/* Windows will not remove a file while a view of it exists. */
		unmap_parts(h);
		rr = shmkit_destroy(h->seg);
	} else {
		/* inside a caller's segment: unmake it, so nobody opens it */
		__atomic_store_n(&h->hdr->magic, 0, __ATOMIC_RELEASE);
		rr = 0;
	}
	if (rr < 0 && !r)
		r = rr;
	handle_free(h);
	return r;
}

shmkit_seg *shmkit_heap_seg(shmkit_heap *h)
{
	return h ? h->seg : NULL;
}

int shmkit_heap_probe(const char *spec)
{
	shmkit_opts o = {.flags = SHMKIT_F_RDONLY};
	shmkit_seg *seg;
	int r;

	if (!spec)
		return -EINVAL;
	if ((r = shmkit_attach(spec, &o, &seg)) < 0)
		return r;
	{
		uint64_t magic = 0;
		r = shmkit__heap_os_peek(seg, &magic) == 0 && magic == HEAP_MAGIC;
	}
	(void)shmkit_detach(seg);
	return r;
}
