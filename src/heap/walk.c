/*
 * walk.c: what looks at a whole heap: the slots of dead processes and
 * the sweep that takes their cached blocks back, shmkit_heap_stat() and
 * shmkit_heap_check().
 *
 * Every walk runs under the heap's lock, so free blocks, w0 words and the
 * counters hold still; the only thing that moves is w1 of blocks that
 * processes hold (USED <-> CACHED, heap.c), which is why a walk classes a
 * block by the w1 it reads once and accepts any tag a held block may have.
 * Walks are bounded by the parts' sizes and every step is checked, so a
 * corrupted heap gives -EPROTO (and check() a sentence saying where).
 */
#include "heap_int.h"
#include "heap_os.h"

#include <stdarg.h>
#include <stdio.h>

bool shmkit__heap_slot_alive(const struct heap_slot *s)
{
	return shmkit__heap_os_alive(ld(&s->pid), ld(&s->start), ld(&s->pidns));
}

int shmkit__heap_reap_slots(shmkit_heap *h)
{
	unsigned i;
	int n = 0;

	for (i = 0; i < HEAP_SLOTS; i++) {
		struct heap_slot *s = &h->hdr->slots[i];
		if (ld(&s->state) != SLOT_LIVE || (int)i == h->slot ||
		    shmkit__heap_slot_alive(s))
			continue;
		shmkit__tx_begin(h);
		if (shmkit__tx_wr(h, HA(h, slots[i].state), SLOT_FREE) < 0 ||
		    shmkit__tx_commit(h) < 0) {
			shmkit__tx_begin(h);
			return -EPROTO;
		}
		n++;
	}
	return n;
}

/* Whether a CACHED w1 names a slot that no longer holds its blocks. */
static bool orphan(shmkit_heap *h, uint64_t w1, bool probe)
{
	uint64_t low = W1_LOW(w1);
	unsigned slot = (unsigned)(low & 0xff);
	const struct heap_slot *s;

	if (slot >= HEAP_SLOTS)
		return true;
	s = &h->hdr->slots[slot];
	if (ld(&s->state) != SLOT_LIVE ||
	    (ld(&s->epoch) & 0xffffffffu) != (low >> 8))
		return true;
	return probe && (int)slot != h->slot && !shmkit__heap_slot_alive(s);
}

/* The next block after blk (of size) in its part, or 0 at the sentinel. */
static int step(shmkit_heap *h, uint64_t blk, uint64_t *ret_w0, uint64_t *ret_w1)
{
	uint64_t *p = shmkit__heap_at(h, blk, 16);

	if (!p)
		return -EPROTO;
	*ret_w0 = ld(p);
	*ret_w1 = ld(p + 1);
	return 0;
}

int64_t shmkit__heap_sweep(shmkit_heap *h)
{
	unsigned part;
	int64_t got = 0;

	for (part = 0; part < h->nmapped || part < ld(&h->hdr->nparts); part++) {
		uint64_t blk, end;
		if (part >= h->nmapped && shmkit__heap_map_part(h, part) < 0)
			return -EPROTO;
		blk = HEAP_ADDR(part, part == 0 ? h->first : 0);
		end = HEAP_ADDR(part, h->psize[part] - BLK_HDR);
		while (blk < end) {
			uint64_t w0, w1, size;
			if (step(h, blk, &w0, &w1) < 0)
				return -EPROTO;
			size = BLK_SIZE(w0);
			if (size < BLK_MIN || size > end - blk) /* no wrap-around */
				return -EPROTO;
			if (!(w0 & BLK_FREE) && W1_TAG(w1) == TAG_CACHED &&
			    orphan(h, w1, false)) {
				uint64_t v;
				shmkit__tx_begin(h);
				if (shmkit__tx_give(h, blk) < 0 ||
				    shmkit__tx_rd(h, HA(h, reclaimed), &v) < 0 ||
				    shmkit__tx_wr(h, HA(h, reclaimed), v + size) < 0 ||
				    shmkit__tx_commit(h) < 0) {
					shmkit__tx_begin(h);
					return -EPROTO;
				}
				got += (int64_t)size;
				/* On past it, never back: where it was merged
				 * with the block after it, that block's header is
				 * still there and still leads on correctly. */
			}
			blk += size;
		}
	}
	return got;
}

int64_t shmkit_heap_reclaim(shmkit_heap *h)
{
	int64_t r;
	int l;

	if (!h)
		return -EINVAL;
	if ((l = shmkit__heap_lock(h)) < 0)
		return l;
	r = shmkit__heap_reap_slots(h);
	if (r >= 0)
		r = shmkit__heap_sweep(h);
	shmkit__heap_unlock(h);
	return r;
}

/* ------------------------------------------------------------------------ */
/* stat and check                                                            */
/* ------------------------------------------------------------------------ */

struct walk {
	char *why;
	size_t whylen;
	uint64_t used, free, largest, allocs, cached, lost, nblocks;
	uint64_t named_blocks, entry_blocks, free_blocks;
	bool probe_alive; /* stat: a LIVE slot whose process died counts lost */
	bool strict;      /* check: every rule, with a reason */
};

static int bad(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->why && w->whylen) {
		va_start(ap, fmt);
		vsnprintf(w->why, w->whylen, fmt, ap);
		va_end(ap);
	}
	return -EPROTO;
}

static int walk_parts(shmkit_heap *h, struct walk *w)
{
	uint64_t nparts = ld(&h->hdr->nparts);
	unsigned part;

	if (nparts < 1 || nparts > HEAP_PARTS)
		return bad(w, "the parts table says %llu parts",
			   (unsigned long long)nparts);
	for (part = 0; part < nparts; part++) {
		uint64_t blk, end;
		bool prev_free = false;
		if (part >= h->nmapped && shmkit__heap_map_part(h, part) < 0)
			return bad(w, "part %u cannot be mapped", part);
		blk = HEAP_ADDR(part, part == 0 ? h->first : 0);
		end = HEAP_ADDR(part, h->psize[part] - BLK_HDR);
		while (blk < end) {
			uint64_t w0, w1, size;
			unsigned tag;
			if (step(h, blk, &w0, &w1) < 0)
				return bad(w, "block at %#llx unreadable",
					   (unsigned long long)blk);
			size = BLK_SIZE(w0);
			tag = W1_TAG(w1);
			if (size < BLK_MIN || size > end - blk) /* no wrap-around */
				return bad(w, "block at %#llx has size %llu, "
					   "past its part's end",
					   (unsigned long long)blk,
					   (unsigned long long)size);
			if (w->strict && !!(w0 & BLK_PFREE) != prev_free)
				return bad(w, "block at %#llx: previous-free bit "
					   "%s, but the block before is %s",
					   (unsigned long long)blk,
					   (w0 & BLK_PFREE) ? "set" : "clear",
					   prev_free ? "free" : "not free");
			if (w0 & BLK_FREE) {
				uint64_t *ft = shmkit__heap_at(h, blk + size - 8, 8);
				if (w->strict &&
				    (tag != TAG_FREE ||
				     W1_LOW(w1) != shmkit__heap_check_word(h, blk, 0)))
					return bad(w, "free block at %#llx has a "
						   "bad check word",
						   (unsigned long long)blk);
				if (w->strict && (!ft || ld(ft) != size))
					return bad(w, "free block at %#llx: footer "
						   "does not match its size",
						   (unsigned long long)blk);
				if (w->strict && prev_free)
					return bad(w, "two free blocks side by side "
						   "at %#llx",
						   (unsigned long long)blk);
				w->free += size;
				w->free_blocks++;
				if (size - BLK_HDR > w->largest)
					w->largest = size - BLK_HDR;
				prev_free = true;
			} else {
				switch (tag) {
				case TAG_USED:
				case TAG_NAMED:
				case TAG_ENTRY:
					if (w->strict &&
					    W1_LOW(w1) != shmkit__heap_check_word(
								  h, blk, W1_GEN(w1)))
						return bad(w, "block at %#llx has a "
							   "bad check word",
							   (unsigned long long)blk);
					w->used += size;
					if (tag != TAG_ENTRY)
						w->allocs++;
					if (tag == TAG_NAMED)
						w->named_blocks++;
					if (tag == TAG_ENTRY)
						w->entry_blocks++;
					break;
				case TAG_CACHED:
					if (orphan(h, w1, w->probe_alive))
						w->lost += size;
					else
						w->cached += size;
					break;
				default:
					return bad(w, "block at %#llx has tag %#x",
						   (unsigned long long)blk, tag);
				}
				w->nblocks++;
				prev_free = false;
			}
			blk += size;
		}
		if (blk != end)
			return bad(w, "part %u does not end at its sentinel", part);
		if (w->strict) {
			uint64_t w0, w1;
			if (step(h, end, &w0, &w1) < 0 || BLK_SIZE(w0) != BLK_HDR ||
			    W1_TAG(w1) != TAG_END ||
			    !!(w0 & BLK_PFREE) != prev_free)
				return bad(w, "part %u: bad sentinel", part);
		}
	}
	return 0;
}

static int walk_lists(shmkit_heap *h, struct walk *w)
{
	uint64_t total = 0, bytes = 0;
	unsigned b;

	for (b = 0; b < HEAP_NBINS; b++) {
		uint64_t blk = ld(&h->hdr->bins[b]), prev = 0;
		bool bit = (ld(&h->hdr->bitmap[b / 64]) >> (b % 64)) & 1;
		if (bit != (blk != 0))
			return bad(w, "bin %u: bitmap bit %s, list %s", b,
				   bit ? "set" : "clear",
				   blk ? "not empty" : "empty");
		while (blk) {
			uint64_t *p, size;
			if (++total > w->free_blocks)
				return bad(w, "free lists hold more blocks than "
					   "the heap (a cycle?)");
			if (!shmkit__heap_blk_ok(h, blk) ||
			    !(p = shmkit__heap_at(h, blk, 32)))
				return bad(w, "bin %u links to %#llx, not a "
					   "block", b, (unsigned long long)blk);
			size = BLK_SIZE(ld(p));
			if (!(ld(p) & BLK_FREE))
				return bad(w, "bin %u holds block %#llx, which "
					   "is not free", b,
					   (unsigned long long)blk);
			if (ld(p + 3) != prev)
				return bad(w, "free block %#llx: back link "
					   "wrong", (unsigned long long)blk);
			bytes += size;
			prev = blk;
			blk = ld(p + 2);
		}
	}
	if (total != w->free_blocks || bytes != w->free)
		return bad(w, "free lists hold %llu blocks (%llu bytes), the "
			   "parts %llu (%llu bytes)",
			   (unsigned long long)total, (unsigned long long)bytes,
			   (unsigned long long)w->free_blocks,
			   (unsigned long long)w->free);
	return 0;
}

static int walk_names(shmkit_heap *h, struct walk *w)
{
	uint64_t n = 0, limit = w->entry_blocks;
	unsigned b;

	for (b = 0; b < HEAP_BUCKETS; b++) {
		uint64_t ent = ld(&h->hdr->names[b]);
		while (ent) {
			uint64_t *p, w0, w1, size, nl, obj, osz;
			const uint64_t *e;
			if (++n > limit)
				return bad(w, "the name directory holds more "
					   "entries than there are (a cycle?)");
			if (!shmkit__heap_blk_ok(h, ent) ||
			    !(p = shmkit__heap_at(h, ent, 64)))
				return bad(w, "bucket %u links to %#llx, not a "
					   "block", b, (unsigned long long)ent);
			w0 = ld(p);
			w1 = ld(p + 1);
			size = BLK_SIZE(w0);
			e = p + 2;
			nl = ld(&e[3]);
			if ((w0 & BLK_FREE) || W1_TAG(w1) != TAG_ENTRY || nl == 0 ||
			    nl > SHMKIT_HEAP_NAME_MAX || 48 + nl > size)
				return bad(w, "directory entry %#llx is not one",
					   (unsigned long long)ent);
			obj = ld(&e[1]);
			if (!shmkit__heap_blk_ok(h, obj) ||
			    !(p = shmkit__heap_at(h, obj, 16)) ||
			    W1_TAG(ld(p + 1)) != TAG_NAMED)
				return bad(w, "named object of entry %#llx is "
					   "not a named block",
					   (unsigned long long)ent);
			osz = BLK_SIZE(ld(p));
			if (ld(&e[2]) + BLK_HDR > osz)
				return bad(w, "named object of entry %#llx is "
					   "smaller than its size",
					   (unsigned long long)ent);
			ent = ld(&e[0]);
		}
	}
	if (n != ld(&h->hdr->nnamed) || n != w->named_blocks ||
	    n != w->entry_blocks)
		return bad(w, "%llu names, %llu named blocks, %llu entries, "
			   "counter %llu",
			   (unsigned long long)n,
			   (unsigned long long)w->named_blocks,
			   (unsigned long long)w->entry_blocks,
			   (unsigned long long)ld(&h->hdr->nnamed));
	return 0;
}

int shmkit_heap_check(shmkit_heap *h, char *why, size_t whylen)
{
	struct walk w = {.why = why, .whylen = whylen, .strict = true};
	struct heap_hdr *hd;
	int r;

	if (!h)
		return -EINVAL;
	if (why && whylen)
		why[0] = 0;
	if ((r = shmkit__heap_lock(h)) < 0) {
		if (r == -EPROTO)
			bad(&w, "the log left by a process that died cannot "
				"be replayed");
		return r;
	}
	hd = h->hdr;
	if ((r = walk_parts(h, &w)) < 0 || (r = walk_lists(h, &w)) < 0 ||
	    (r = walk_names(h, &w)) < 0)
		goto out;
	if (ld(&hd->pend[0]) || ld(&hd->pend[1]))
		r = bad(&w, "an operation left blocks pending");
	else if (ld(&hd->free) != w.free)
		r = bad(&w, "free counter %llu, free blocks %llu bytes",
			(unsigned long long)ld(&hd->free),
			(unsigned long long)w.free);
	else if (ld(&hd->used) != w.used + w.cached + w.lost)
		r = bad(&w, "used counter %llu, blocks in use %llu bytes",
			(unsigned long long)ld(&hd->used),
			(unsigned long long)(w.used + w.cached + w.lost));
	else if (ld(&hd->nblocks) != w.nblocks)
		r = bad(&w, "block counter %llu, blocks in use %llu",
			(unsigned long long)ld(&hd->nblocks),
			(unsigned long long)w.nblocks);
out:
	shmkit__heap_unlock(h);
	return r;
}

int shmkit_heap_stat(shmkit_heap *h, shmkit_heap_info *info)
{
	struct walk w = {.probe_alive = true};
	shmkit_heap_info in = {0};
	unsigned i;
	int r;

	if (!h || !info)
		return -EINVAL;
	if ((r = shmkit__heap_lock(h)) < 0)
		return r;
	r = walk_parts(h, &w);
	if (r == 0) {
		uint64_t n = ld(&h->hdr->nparts);
		in.parts = (unsigned)n;
		for (i = 0; i < n && i < h->nmapped; i++)
			in.size += h->psize[i];
		in.max_size = ld(&h->hdr->max_size);
		if (in.max_size < in.size)
			in.max_size = in.size;
		in.used = w.used;
		in.free = w.free;
		in.largest_free = w.largest;
		in.allocations = w.allocs;
		in.named = ld(&h->hdr->nnamed);
		in.cached = w.cached;
		in.lost_bytes = w.lost;
		in.reclaimed_bytes = ld(&h->hdr->reclaimed);
		in.recoveries = ld(&h->hdr->recoveries);
		/* distinct live processes among the slots */
		uint64_t pids[HEAP_SLOTS];
		unsigned np = 0, k;
		for (i = 0; i < HEAP_SLOTS; i++) {
			const struct heap_slot *sl = &h->hdr->slots[i];
			uint64_t pid = ld(&sl->pid);
			if (ld(&sl->state) != SLOT_LIVE ||
			    ((int)i != h->slot && !shmkit__heap_slot_alive(sl)))
				continue;
			for (k = 0; k < np && pids[k] != pid; k++)
				;
			if (k == np)
				pids[np++] = pid;
		}
		in.procs = np;
	}
	shmkit__heap_unlock(h);
	if (r == 0)
		*info = in;
	return r;
}
