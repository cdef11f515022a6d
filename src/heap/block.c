/*
 * block.c: the shared allocator of a heap: the redo log, the lock and its
 * recovery, free lists by size, splitting and coalescing, growth.
 *
 * Everything here runs under the heap's lock and changes shared memory
 * only through a transaction (heap.c explains why that makes a crash at
 * any instruction harmless): tx_rd() reads a word as the transaction so far
 * would leave it, tx_wr() records a store, tx_commit() publishes the
 * records in the header's log, then applies them. Nothing read from shared
 * memory is trusted: every address is checked to lie in a mapped part
 * before it is dereferenced, every block header and free-list link is
 * checked against what the structure requires, and every walk is bounded,
 * so a corrupted heap gives -EPROTO, never a stray access or a loop.
 */
#include "heap_int.h"
#include "heap_os.h"

#define SCAN_MAX 32u                  /* blocks looked at per bin */

/* For tests only (NULL otherwise): called at each step of a commit, so a
 * test can kill a process at exactly that point. */
void (*shmkit__heap_hook)(int stage);

static void hook(int stage)
{
	void (*f)(int) = __atomic_load_n(&shmkit__heap_hook, __ATOMIC_RELAXED);
	if (f)
		f(stage);
}

/* ------------------------------------------------------------------------ */
/* Parts and addresses                                                       */
/* ------------------------------------------------------------------------ */

/*
 * Map parts up to and including part, as the header lists them. The table
 * is checked before it is believed: in whole grains (heap_os.h),
 * ascending, within the object (its length now), so that nothing mapped
 * can lie past the end of the file.
 */
int shmkit__heap_map_part(shmkit_heap *h, unsigned part)
{
	struct heap_hdr *hd = h->hdr;
	uint64_t n = ld(&hd->nparts), objsize = 0;
	bool statted = false;

	if (part >= n || n > HEAP_PARTS || !h->grows)
		return -EPROTO;
	while (h->nmapped <= part) {
		unsigned k = h->nmapped;
		uint64_t fo = ld(&hd->parts[k].fileoff);
		uint64_t sz = ld(&hd->parts[k].size);
		uint64_t pend = ld(&hd->parts[k - 1].fileoff) +
				h->psize[k - 1];
		int r;

		if (fo % HEAP_GRAIN || sz % HEAP_GRAIN || sz < HEAP_GRAIN ||
		    sz > HEAP_MAX_BYTES || fo < pend || fo > HEAP_MAX_BYTES * 64)
			return -EPROTO;
		if (!statted) {
			if ((r = shmkit__heap_os_size(h, &objsize)) < 0)
				return r;
			statted = true;
		}
		if (objsize < fo + sz)
			return -EPROTO;
		r = shmkit__heap_os_map(h, k, fo, sz);
		if (r < 0)
			return r;
		h->nmapped = k + 1;
	}
	return 0;
}

int shmkit__heap_map_first(shmkit_heap *h, uint64_t size)
{
	int r = shmkit__heap_os_map(h, 0, 0, size);
	if (r == 0)
		h->nmapped = 1;
	return r;
}

void *shmkit__heap_at(shmkit_heap *h, uint64_t addr, size_t len)
{
	unsigned part = HEAP_PART_OF(addr);
	uint64_t off = addr & HEAP_OFF_MASK;

	if (addr >> 48)
		return NULL;
	if (part >= h->nmapped && shmkit__heap_map_part(h, part) < 0)
		return NULL;
	if (off > h->psize[part] || len > h->psize[part] - off)
		return NULL;
	return h->base[part] + off;
}

/* A word of shared memory, 8-aligned and mapped. */
static uint64_t *word(shmkit_heap *h, uint64_t addr)
{
	if (addr & 7)
		return NULL;
	return shmkit__heap_at(h, addr, 8);
}


static uint64_t w1_make(const shmkit_heap *h, uint64_t blk, unsigned gen,
			unsigned tag)
{
	uint64_t low = tag == TAG_FREE ? shmkit__heap_check_word(h, blk, 0)
		       : tag == TAG_CACHED
			       ? ((h->epoch & 0xffffffffu) << 8) | (unsigned)h->slot
			       : shmkit__heap_check_word(h, blk, gen);
	return ((uint64_t)(gen & 0xffff) << 48) | ((uint64_t)tag << 40) | low;
}

/*
 * Whether blk can be the address of a block header: 16-aligned, in a
 * mapped part, past the header in part 0, with room for a header before
 * the part's sentinel (or being the sentinel itself).
 */
bool shmkit__heap_blk_ok(shmkit_heap *h, uint64_t blk)
{
	unsigned part = HEAP_PART_OF(blk);
	uint64_t off = blk & HEAP_OFF_MASK;

	if ((blk >> 48) || (blk & 15))
		return false;
	if (part >= h->nmapped && shmkit__heap_map_part(h, part) < 0)
		return false;
	if (part == 0 && off < h->first)
		return false;
	return off + BLK_HDR <= h->psize[part];
}

#define blk_ok shmkit__heap_blk_ok

/* The sentinel's address in blk's part. */
static uint64_t part_end(const shmkit_heap *h, uint64_t blk)
{
	unsigned part = HEAP_PART_OF(blk);
	return HEAP_ADDR(part, h->psize[part] - BLK_HDR);
}

static uint64_t part_start(const shmkit_heap *h, unsigned part)
{
	return HEAP_ADDR(part, part == 0 ? h->first : 0);
}

/* ------------------------------------------------------------------------ */
/* The redo log                                                              */
/* ------------------------------------------------------------------------ */

void shmkit__tx_begin(shmkit_heap *h)
{
	unsigned i;

	for (i = 0; i < h->tx.n; i++)
		h->tx.index[h->tx.slot[i]] = 0;
	h->tx.n = 0;
}

static unsigned tx_home(uint64_t addr)
{
	return (unsigned)(((addr >> 3) * UINT64_C(0x9e3779b97f4a7c15)) >> 56);
}

/* The entry for addr, or -1; *ret_slot: where it is or would go. */
static int tx_find(const shmkit_heap *h, uint64_t addr, unsigned *ret_slot)
{
	unsigned i = tx_home(addr);

	for (;; i = (i + 1) % HEAP_TX_INDEX) {
		unsigned k = h->tx.index[i];
		if (k == 0) {
			*ret_slot = i;
			return -1;
		}
		if (h->tx.e[k - 1].addr == addr) {
			*ret_slot = i;
			return (int)k - 1;
		}
	}
}

int shmkit__tx_rd(shmkit_heap *h, uint64_t addr, uint64_t *ret)
{
	unsigned slot;
	uint64_t *p;
	int k = h->tx.n ? tx_find(h, addr, &slot) : -1;

	if (k >= 0) {
		*ret = h->tx.e[k].val;
		return 0;
	}
	p = word(h, addr);
	if (!p)
		return -EPROTO;
	*ret = ld(p);
	return 0;
}

int shmkit__tx_wr(shmkit_heap *h, uint64_t addr, uint64_t val)
{
	unsigned slot, n = h->tx.n;
	uint64_t *p;
	int k = tx_find(h, addr, &slot);

	if (k >= 0) {
		h->tx.e[k].val = val;
		return 0;
	}
	if (!(p = word(h, addr)))
		return -EPROTO;
	if (n == HEAP_LOG_MAX)
		return -EOVERFLOW; /* a transaction larger than designed */
	h->tx.e[n].addr = addr;
	h->tx.e[n].val = val;
	h->tx.at[n] = p;
	h->tx.slot[n] = (uint8_t)slot;
	h->tx.index[slot] = (uint8_t)(n + 1);
	h->tx.n = n + 1;
	return 0;
}


/*
 * Apply a committed log: every store, in order. Idempotent. A log is what
 * another process left: it may name only what transactions change, the
 * header from log_n on and the blocks, never the header's immutable part
 * or its lock.
 */
static int apply(shmkit_heap *h, const struct heap_logent *e, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		uint64_t *p = word(h, e[i].addr);
		if (!p || (HEAP_PART_OF(e[i].addr) == 0 &&
			   (e[i].addr & HEAP_OFF_MASK) < HA(h, log_n)))
			return -EPROTO;
		st(p, e[i].val);
		if (i == n / 2)
			hook(HEAP_HOOK_APPLYING);
	}
	return 0;
}

int shmkit__tx_commit(shmkit_heap *h)
{
	struct heap_hdr *hd = h->hdr;
	unsigned i, n = h->tx.n;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		st(&hd->log[i].addr, h->tx.e[i].addr);
		st(&hd->log[i].val, h->tx.e[i].val);
	}
	st(&hd->log_n, n); /* the commit point */
	hook(HEAP_HOOK_LOGGED);
	for (i = 0; i < n; i++) { /* tx_wr resolved and checked each */
		st(h->tx.at[i], h->tx.e[i].val);
		if (i == n / 2)
			hook(HEAP_HOOK_APPLYING);
	}
	st(&hd->log_n, 0);
	hook(HEAP_HOOK_APPLIED);
	shmkit__tx_begin(h);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The lock, and recovery from a holder that died                            */
/* ------------------------------------------------------------------------ */

/*
 * Replay what the dead holder committed, then free what it had made and
 * not yet linked (pend[]). Each step is itself a transaction, so a process
 * that dies while recovering leaves the next one the same work to redo.
 */
static int recover(shmkit_heap *h)
{
	struct heap_hdr *hd = h->hdr;
	struct heap_logent copy[HEAP_LOG_MAX];
	uint64_t n = ld(&hd->log_n);
	unsigned i;
	int r;

	if (n > HEAP_LOG_MAX)
		return -EPROTO;
	/* Addresses are checked as they are applied, not before: a growth's
	 * log names the new part, which exists once its entry in the parts
	 * table (logged before them) has been applied. */
	for (i = 0; i < n; i++) {
		copy[i].addr = ld(&hd->log[i].addr);
		copy[i].val = ld(&hd->log[i].val);
	}
	if (n) {
		r = apply(h, copy, (unsigned)n);
		if (r < 0)
			return r;
		st(&hd->log_n, 0);
	}
	for (i = 0; i < 2; i++) {
		uint64_t b = ld(&hd->pend[i]), w0;
		if (!b)
			continue;
		shmkit__tx_begin(h);
		if (shmkit__tx_rd(h, b, &w0) == 0 && blk_ok(h, b) &&
		    !(w0 & BLK_FREE)) {
			r = shmkit__heap_give(h, b, (int)i);
			if (r < 0)
				return r;
		} else {
			shmkit__tx_begin(h);
			if ((r = shmkit__tx_wr(h, HA(h, pend[i]), 0)) < 0 ||
			    (r = shmkit__tx_commit(h)) < 0)
				return r;
		}
	}
	shmkit__tx_begin(h);
	r = shmkit__tx_wr(h, HA(h, recoveries), ld(&hd->recoveries) + 1);
	return r < 0 ? r : shmkit__tx_commit(h);
}

int shmkit__heap_lock(shmkit_heap *h)
{
	int r = shmkit_mutex_lock(&h->hdr->lock);

	if (r < 0 && r != -EOWNERDEAD)
		return r;
	shmkit__tx_begin(h);
	if (r == -EOWNERDEAD || ld(&h->hdr->log_n) != 0) {
		int rr = recover(h);
		if (rr < 0) {
			/* Not marked consistent: the next locker tries too. */
			shmkit_mutex_unlock(&h->hdr->lock);
			return rr;
		}
		if (r == -EOWNERDEAD)
			shmkit_mutex_consistent(&h->hdr->lock);
	}
	return 0;
}

void shmkit__heap_unlock(shmkit_heap *h)
{
	shmkit_mutex_unlock(&h->hdr->lock);
}

/* ------------------------------------------------------------------------ */
/* Free lists                                                                */
/* ------------------------------------------------------------------------ */

/* Exact bins by 16 bytes below 1 KiB, then 8 per power of two. */
static unsigned bin_of(uint64_t size)
{
	unsigned p;

	if (size < 1024)
		return (unsigned)(size / 16);
	p = 63u - (unsigned)__builtin_clzll(size);
	return 64u + (p - 10u) * 8u + (unsigned)((size >> (p - 3)) & 7u);
}

#define RD(a, v)                                                               \
	do {                                                                   \
		int rd_ = shmkit__tx_rd(h, (a), (v));                          \
		if (rd_ < 0)                                                   \
			return rd_;                                            \
	} while (0)
#define WR(a, v)                                                               \
	do {                                                                   \
		int wr_ = shmkit__tx_wr(h, (a), (v));                          \
		if (wr_ < 0)                                                   \
			return wr_;                                            \
	} while (0)

/* A free block as the structure requires: header, tag, check, footer. */
static int free_ok(shmkit_heap *h, uint64_t blk, uint64_t *ret_size)
{
	uint64_t w0, w1, ft, size;

	if (!blk_ok(h, blk))
		return -EPROTO;
	RD(blk, &w0);
	RD(blk + 8, &w1);
	size = BLK_SIZE(w0);
	if (!(w0 & BLK_FREE) || W1_TAG(w1) != TAG_FREE ||
	    W1_LOW(w1) != shmkit__heap_check_word(h, blk, 0) ||
	    size < BLK_MIN || size > part_end(h, blk) - blk)
		return -EPROTO;
	RD(blk + size - 8, &ft);
	if (ft != size)
		return -EPROTO;
	*ret_size = size;
	return 0;
}

static int bin_set(shmkit_heap *h, unsigned b, bool on)
{
	uint64_t a = HA(h, bitmap[b / 64]), w;

	RD(a, &w);
	w = on ? w | (UINT64_C(1) << (b % 64)) : w & ~(UINT64_C(1) << (b % 64));
	WR(a, w);
	return 0;
}

static int fl_link(shmkit_heap *h, uint64_t blk, uint64_t size)
{
	unsigned b = bin_of(size);
	uint64_t head;

	RD(HA(h, bins[b]), &head);
	WR(blk + 16, head);
	WR(blk + 24, 0);
	if (head) {
		if (!blk_ok(h, head))
			return -EPROTO;
		WR(head + 24, blk);
	} else {
		int r = bin_set(h, b, true);
		if (r < 0)
			return r;
	}
	WR(HA(h, bins[b]), blk);
	return 0;
}

static int fl_unlink(shmkit_heap *h, uint64_t blk, uint64_t size)
{
	unsigned b = bin_of(size);
	uint64_t nx, pv, x;

	RD(blk + 16, &nx);
	RD(blk + 24, &pv);
	if (nx && !blk_ok(h, nx))
		return -EPROTO;
	if (pv) {
		if (!blk_ok(h, pv))
			return -EPROTO;
		RD(pv + 16, &x);
		if (x != blk)
			return -EPROTO;
		WR(pv + 16, nx);
	} else {
		RD(HA(h, bins[b]), &x);
		if (x != blk)
			return -EPROTO;
		WR(HA(h, bins[b]), nx);
		if (!nx) {
			int r = bin_set(h, b, false);
			if (r < 0)
				return r;
		}
	}
	if (nx) {
		RD(nx + 24, &x);
		if (x != blk)
			return -EPROTO;
		WR(nx + 24, pv);
	}
	return 0;
}

/* Write a free block's header and footer (not linked). */
static int mk_free(shmkit_heap *h, uint64_t blk, uint64_t size)
{
	WR(blk, size | BLK_FREE);
	WR(blk + 8, w1_make(h, blk, 0, TAG_FREE));
	WR(blk + size - 8, size);
	return 0;
}

/* Set or clear PFREE in the header of the block at blk. */
static int set_pfree(shmkit_heap *h, uint64_t blk, bool on)
{
	uint64_t w0;

	RD(blk, &w0);
	WR(blk, on ? w0 | BLK_PFREE : w0 & ~BLK_PFREE);
	return 0;
}

/* Where a block's payload would start to be aligned, or -1 if no fit. */
static int64_t fit(uint64_t blk, uint64_t size, uint64_t bs, uint64_t align)
{
	uint64_t off = blk & HEAP_OFF_MASK, p, lead;

	if (align <= 16)
		return size >= bs ? 0 : -1;
	p = (off + BLK_HDR + align - 1) & ~(align - 1);
	lead = p - BLK_HDR - off;
	if (lead && lead < BLK_MIN)
		lead += align;
	return lead + bs <= size ? (int64_t)lead : -1;
}

static int add(shmkit_heap *h, uint64_t field_addr, int64_t delta)
{
	uint64_t v;
	RD(field_addr, &v);
	WR(field_addr, v + (uint64_t)delta);
	return 0;
}

/*
 * Find a free block for bs bytes at align: the best fit among the first
 * SCAN_MAX blocks of bs's bin, else the first that fits in a larger bin.
 */
static int find(shmkit_heap *h, uint64_t bs, uint64_t align, uint64_t *ret,
		uint64_t *ret_size, uint64_t *ret_lead)
{
	unsigned b0 = bin_of(bs), b;
	uint64_t best = 0, best_size = 0, best_lead = 0;

	for (b = b0; b < HEAP_NBINS; b++) {
		uint64_t bm, blk;
		unsigned k;

		RD(HA(h, bitmap[b / 64]), &bm);
		bm >>= b % 64;
		if (!bm) {
			b = (b | 63u); /* next word */
			continue;
		}
		b += (unsigned)__builtin_ctzll(bm);
		if (b >= HEAP_NBINS)
			break;
		RD(HA(h, bins[b]), &blk);
		for (k = 0; blk && k < SCAN_MAX; k++) {
			uint64_t size;
			int64_t lead;
			int r = free_ok(h, blk, &size);
			if (r < 0)
				return r;
			if (bin_of(size) != b)
				return -EPROTO;
			lead = fit(blk, size, bs, align);
			if (lead >= 0 && (!best || size < best_size)) {
				best = blk;
				best_size = size;
				best_lead = (uint64_t)lead;
				if (size == bs || b != b0)
					break;
			}
			RD(blk + 16, &blk);
		}
		if (best)
			break;
	}
	if (!best)
		return -ENOMEM;
	*ret = best;
	*ret_size = best_size;
	*ret_lead = best_lead;
	return 0;
}

/* Take a free block for bs bytes into the open transaction. */
static int tx_take(shmkit_heap *h, uint64_t bs, uint64_t align, unsigned tag,
		   uint64_t *ret)
{
	uint64_t blk, size, lead, rem, gen, w0;
	int r;

	r = find(h, bs, align, &blk, &size, &lead);
	if (r < 0)
		return r;
	if ((r = fl_unlink(h, blk, size)) < 0)
		return r;
	if (lead) {
		if ((r = mk_free(h, blk, lead)) < 0 ||
		    (r = fl_link(h, blk, lead)) < 0)
			return r;
		blk += lead;
		size -= lead;
	}
	rem = size - bs;
	if (rem >= BLK_MIN) {
		uint64_t t = blk + bs;
		if ((r = mk_free(h, t, rem)) < 0 || (r = fl_link(h, t, rem)) < 0)
			return r;
		size = bs; /* the block after t keeps its PFREE */
	} else if ((r = set_pfree(h, blk + size, false)) < 0) {
		return r;
	}
	w0 = size | (lead ? BLK_PFREE : 0);
	RD(HA(h, genctr), &gen);
	gen = (gen + 1) & 0xffff;
	WR(HA(h, genctr), gen);
	WR(blk, w0);
	WR(blk + 8, w1_make(h, blk, (unsigned)gen, tag));
	if ((r = add(h, HA(h, used), (int64_t)size)) < 0 ||
	    (r = add(h, HA(h, free), -(int64_t)size)) < 0 ||
	    (r = add(h, HA(h, nblocks), 1)) < 0)
		return r;
	*ret = blk;
	return 0;
}

/* Free a block (any tag but FREE and END) into the open transaction. */
static int tx_give(shmkit_heap *h, uint64_t blk)
{
	uint64_t w0, w1, size, next, nw0;
	int r;

	if (!blk_ok(h, blk))
		return -EPROTO;
	RD(blk, &w0);
	RD(blk + 8, &w1);
	size = BLK_SIZE(w0);
	if ((w0 & BLK_FREE) || W1_TAG(w1) == TAG_FREE ||
	    W1_TAG(w1) == TAG_END || size < BLK_MIN ||
	    size > part_end(h, blk) - blk)
		return -EPROTO;
	if ((r = add(h, HA(h, used), -(int64_t)size)) < 0 ||
	    (r = add(h, HA(h, free), (int64_t)size)) < 0 ||
	    (r = add(h, HA(h, nblocks), -1)) < 0)
		return r;
	next = blk + size;
	RD(next, &nw0);
	if (nw0 & BLK_FREE) {
		uint64_t nsize;
		if ((r = free_ok(h, next, &nsize)) < 0 ||
		    (r = fl_unlink(h, next, nsize)) < 0)
			return r;
		size += nsize;
		next = blk + size;
	}
	if (w0 & BLK_PFREE) {
		uint64_t fsz, p, psize;
		RD(blk - 8, &fsz);
		if (fsz < BLK_MIN || fsz % 16 || fsz > (blk & HEAP_OFF_MASK))
			return -EPROTO;
		p = blk - fsz;
		if (p < part_start(h, HEAP_PART_OF(blk)) ||
		    (r = free_ok(h, p, &psize)) < 0)
			return r;
		if (psize != fsz)
			return -EPROTO;
		if ((r = fl_unlink(h, p, psize)) < 0)
			return r;
		blk = p;
		size += psize;
	}
	if ((r = mk_free(h, blk, size)) < 0 || (r = set_pfree(h, next, true)) < 0)
		return r;
	return fl_link(h, blk, size);
}

int shmkit__heap_take(shmkit_heap *h, uint64_t bs, uint64_t align,
		      unsigned tag, uint64_t *ret)
{
	int r;

	shmkit__tx_begin(h);
	r = tx_take(h, bs, align, tag, ret);
	if (r == 0)
		r = shmkit__tx_commit(h);
	shmkit__tx_begin(h);
	return r;
}

int shmkit__heap_give(shmkit_heap *h, uint64_t blk, int pend)
{
	int r;

	shmkit__tx_begin(h);
	r = tx_give(h, blk);
	if (r == 0 && pend >= 0)
		r = shmkit__tx_wr(h, HA(h, pend[pend]), 0);
	if (r == 0)
		r = shmkit__tx_commit(h);
	shmkit__tx_begin(h);
	return r;
}

int shmkit__tx_take(shmkit_heap *h, uint64_t bs, uint64_t align, unsigned tag,
		    uint64_t *ret)
{
	return tx_take(h, bs, align, tag, ret);
}
int shmkit__tx_give(shmkit_heap *h, uint64_t blk)
{
	return tx_give(h, blk);
}

/* ------------------------------------------------------------------------ */
/* Parts: the first one, and growth                                          */
/* ------------------------------------------------------------------------ */

/*
 * Lay out a part nobody else can see yet: one free block and the sentinel,
 * written directly (not through the log). Growth then publishes it, and
 * links the block, in one transaction.
 */
void shmkit__heap_init_part(shmkit_heap *h, unsigned part, uint64_t start,
			    uint64_t size)
{
	char *b = h->base[part];
	uint64_t blk = HEAP_ADDR(part, start), fsz = size - BLK_HDR - start;
	uint64_t end = HEAP_ADDR(part, size - BLK_HDR);

	st((uint64_t *)(b + start), fsz | BLK_FREE);
	st((uint64_t *)(b + start + 8), w1_make(h, blk, 0, TAG_FREE));
	st((uint64_t *)(b + start + fsz - 8), fsz);
	st((uint64_t *)(b + size - BLK_HDR), BLK_HDR | BLK_PFREE);
	st((uint64_t *)(b + size - 8),
	   ((uint64_t)TAG_END << 40) | shmkit__heap_check_word(h, end, 0));
}

int shmkit__tx_link_first(shmkit_heap *h, unsigned part, uint64_t start,
			  uint64_t size)
{
	uint64_t fsz = size - BLK_HDR - start;
	int r = fl_link(h, HEAP_ADDR(part, start), fsz);
	return r < 0 ? r : add(h, HA(h, free), (int64_t)fsz);
}

/*
 * Add a part large enough for a block of need bytes: the heap's size again
 * (doubling it), at most up to max_size. The object is extended and its
 * new range reserved first (a crash then leaves the object longer than the
 * heap, which the next growth reuses); the part is published, with its
 * free block, in one transaction.
 */
int shmkit__heap_grow(shmkit_heap *h, uint64_t need)
{
	struct heap_hdr *hd = h->hdr;
	uint64_t n, total = 0, want, fo, maxs = ld(&hd->max_size);
	unsigned k;
	int r;

	if (hd->flags & HEAP_F_FIXED || !h->grows)
		return -ENOMEM;
	n = ld(&hd->nparts);
	if (n >= HEAP_PARTS)
		return -ENOMEM;
	if (n == 0 || n < h->nmapped)
		return -EPROTO;
	if (n > h->nmapped && (r = shmkit__heap_map_part(h, (unsigned)n - 1)) < 0)
		return r;
	for (k = 0; k < n; k++)
		total += h->psize[k];
	need = (need + BLK_HDR + HEAP_GRAIN - 1) & ~(uint64_t)(HEAP_GRAIN - 1);
	want = total > need ? total : need;
	if (maxs <= total)
		return -ENOMEM;
	if (want > maxs - total)
		want = (maxs - total) & ~(uint64_t)(HEAP_GRAIN - 1);
	if (want > HEAP_MAX_BYTES)
		want = HEAP_MAX_BYTES;
	if (want < need)
		return -ENOMEM;
	fo = ld(&hd->parts[n - 1].fileoff) + h->psize[n - 1];

	if (shmkit__heap_os_extend(h, fo, want,
				   !(hd->flags & HEAP_F_NORESERVE)) < 0)
		return -ENOMEM;
	r = shmkit__heap_os_map(h, (unsigned)n, fo, want);
	if (r < 0)
		return -ENOMEM;
	shmkit__heap_init_part(h, (unsigned)n, 0, want);

	shmkit__tx_begin(h);
	/* The table entry, then the count, then what lies in the part: a
	 * replay in another process maps the part before it needs it. */
	if ((r = shmkit__tx_wr(h, HA(h, parts[n].fileoff), fo)) < 0 ||
	    (r = shmkit__tx_wr(h, HA(h, parts[n].size), want)) < 0 ||
	    (r = shmkit__tx_wr(h, HA(h, nparts), n + 1)) < 0)
		goto fail;
	h->nmapped = (unsigned)n + 1; /* so the log may name the new part */
	if ((r = shmkit__tx_link_first(h, (unsigned)n, 0, want)) < 0 ||
	    (r = shmkit__tx_commit(h)) < 0)
		goto fail;
	return 0;
fail:
	shmkit__tx_begin(h);
	h->nmapped = (unsigned)n;
	shmkit__heap_os_unmap(h, (unsigned)n);
	h->base[n] = NULL;
	h->unmap[n] = false;
	set_psize(h, n, 0);
	return r;
}

/* ------------------------------------------------------------------------ */
/* The per-process cache: refill and flush, under the lock                   */
/* ------------------------------------------------------------------------ */

/*
 * Refill class cls with up to 16 blocks (fewer for larger blocks): one
 * chunk taken from the free lists and cut into CACHED blocks, all in one
 * transaction, so the heap never holds a half-cut chunk.
 */
int shmkit__heap_refill(shmkit_heap *h, unsigned cls)
{
	struct heap_cache *c = &h->cache[cls];
	uint64_t bs = (uint64_t)cls * 16, chunk, gen, w1;
	unsigned want = (unsigned)(4096 / bs), i;
	int r;

	if (want > 16)
		want = 16;
	if (want < 2)
		want = 2;
	if (want > h->cache[cls].depth - c->n)
		want = h->cache[cls].depth - c->n;
	if (h->cached + want * bs > CACHE_BYTES) /* the budget: one at least */
		want = h->cached + bs > CACHE_BYTES
			       ? 1
			       : (unsigned)((CACHE_BYTES - h->cached) / bs);
	if (want == 0)
		return 0;
	shmkit__tx_begin(h);
	r = tx_take(h, bs * want, 16, TAG_CACHED, &chunk);
	if (r == -ENOMEM && want > 1) {
		shmkit__tx_begin(h);
		want = 1;
		r = tx_take(h, bs, 16, TAG_CACHED, &chunk);
	}
	if (r < 0)
		goto out;
	RD(chunk + 8, &w1);
	gen = W1_GEN(w1);
	if (want > 1) {
		uint64_t w0, size;
		RD(chunk, &w0);
		size = BLK_SIZE(w0);
		for (i = 1; i < want; i++) {
			uint64_t b = chunk + i * bs;
			uint64_t sz = i + 1 == want ? size - i * bs : bs;
			/* inside the chunk: words nobody has logged */
			if ((r = shmkit__tx_wr(h, b, sz)) < 0 ||
			    (r = shmkit__tx_wr(h, b + 8,
					       w1_make(h, b, (unsigned)gen,
						       TAG_CACHED))) < 0)
				goto out;
		}
		if ((r = shmkit__tx_wr(h, chunk, bs | (w0 & BLK_PFREE))) < 0 ||
		    (r = add(h, HA(h, nblocks), (int64_t)want - 1)) < 0)
			goto out;
	}
	r = shmkit__tx_commit(h);
	if (r < 0)
		goto out;
	/* Largest first, so the last (possibly larger) block is used last. */
	for (i = want; i-- > 0;) {
		uint64_t b = chunk + i * bs;
		uint64_t w0 = ld(word(h, b)), pw1 = ld(word(h, b + 8));
		unsigned k = (unsigned)(BLK_SIZE(w0) / 16);
		if (k >= CACHE_CLASSES || h->cache[k].n >= h->cache[k].depth) {
			/* an odd-sized tail: give it back */
			(void)shmkit__heap_give(h, b, -1);
			continue;
		}
		h->cache[k].blk[h->cache[k].n++] = b | (pw1 & ~CACHE_BLK_MASK);
		h->cached += BLK_SIZE(w0);
	}
	return 0;
out:
	shmkit__tx_begin(h);
	return r;
}

/* Give all but keep of class cls's cached blocks back to the free lists. */
int shmkit__heap_flush(shmkit_heap *h, unsigned cls, unsigned keep)
{
	struct heap_cache *c = &h->cache[cls];
	int first = 0;

	while (c->n > keep) {
		uint64_t e = c->blk[--c->n], b = e & CACHE_BLK_MASK;
		uint64_t *p = word(h, b);
		uint64_t size = (uint64_t)cls * 16;
		int r = p ? shmkit__heap_give(h, b, -1) : -EPROTO;
		h->cached -= size <= h->cached ? size : h->cached;
		if (r < 0 && !first)
			first = r; /* lost to a corrupted heap; go on */
	}
	return first;
}
