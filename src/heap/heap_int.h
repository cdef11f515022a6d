/*
 * heap_int.h: the shared-memory layout of a shmkit heap and the private
 * handle, shared by the files of src/heap/. heap.c opens with the design
 * and its crash-safety argument; this file is the map.
 *
 * Addresses. A heap is up to HEAP_PARTS parts; part 0 starts with the heap
 * header. A heap address names a byte of a part as (part << 40) | offset;
 * every link kept in shared memory (free lists, name chains, the redo log)
 * is one. A ref handed to users is a block's payload address with the
 * block's 16-bit generation on top: (gen << 48) | (part << 40) | offset.
 *
 * Blocks. Every part is a run of blocks, 16-byte aligned, closed by a
 * 16-byte sentinel block. A block starts with two words:
 *
 *   w0  size (a multiple of 16, >= 32; the sentinel's is 16) | FREE | PFREE
 *       PFREE: the block before this one is free (so its footer is valid).
 *       Written only by the holder of the heap lock (or into a part not yet
 *       published).
 *   w1  (gen << 48) | (tag << 40) | low40
 *       tag FREE: low40 = check(address, 0)
 *       tag USED / NAMED / ENTRY: low40 = check(address, gen)
 *       tag CACHED: low40 = (slot epoch << 8) | slot
 *       Written by whoever holds the block: the lock holder for free
 *       blocks; the process that has it allocated or cached otherwise, with
 *       a compare-and-swap where two processes could race for it (free).
 *
 * A free block also holds its free-list links at +16 (next) and +24 (prev)
 * and its size in its last 8 bytes (the footer). Every word of shared
 * memory is read with __atomic loads and written with __atomic stores, so
 * a torn value can never be seen.
 */
#ifndef SHMKIT_HEAP_INT_H
#define SHMKIT_HEAP_INT_H

#include "../internal.h"

#include <stdint.h>
#include <string.h>

#define HEAP_MAGIC UINT64_C(0x504145484b4d4853) /* "SHMKHEAP" */
#define HEAP_VERSION 1u
#define HEAP_ENDIAN UINT32_C(0x01020304)

#define HEAP_PARTS 64u
#define HEAP_LOG_MAX 64u
#define HEAP_SLOTS 64u
#define HEAP_BUCKETS 64u
#define HEAP_NBINS 320u
#define HEAP_BITMAP ((HEAP_NBINS + 63) / 64)

#define HEAP_OFF_BITS 40
#define HEAP_OFF_MASK ((UINT64_C(1) << HEAP_OFF_BITS) - 1)
#define HEAP_PART_OF(a) ((unsigned)(((a) >> HEAP_OFF_BITS) & 0xff))
#define HEAP_ADDR(part, off) (((uint64_t)(part) << HEAP_OFF_BITS) | (off))
#define HEAP_MAX_BYTES (UINT64_C(1) << 40) /* of one part, and of a block */

/* w0 bits */
#define BLK_FREE UINT64_C(1)
#define BLK_PFREE UINT64_C(2)
#define BLK_SIZE(w0) ((w0) & ~UINT64_C(15))
#define BLK_MIN 48u /* a free block holds two links and a footer */
#define BLK_HDR 16u

/* w1 tags */
#define TAG_FREE 0xf7u
#define TAG_USED 0xa1u
#define TAG_CACHED 0xc4u
#define TAG_NAMED 0xa3u /* USED | 2: one compare accepts either (heap.c) */
#define TAG_ENTRY 0xe3u
#define TAG_END 0x5eu
#define W1_TAG(w1) ((unsigned)(((w1) >> 40) & 0xff))
#define W1_GEN(w1) ((unsigned)((w1) >> 48))
#define W1_LOW(w1) ((w1) & HEAP_OFF_MASK)

/* The per-process cache: block sizes up to CACHE_MAX_BLOCK (requests up
 * to 4 KiB), by 16 bytes. */
#define CACHE_MAX_BLOCK (4096u + BLK_HDR)
#define CACHE_CLASSES (CACHE_MAX_BLOCK / 16 + 1)
#define CACHE_DEPTH 32u
/* A class holds at most this many bytes (and 4 blocks at least), and a
 * cache at most CACHE_BYTES in all: what a process can strand by dying. */
#define CACHE_CLASS_BYTES 16384u
#define CACHE_BYTES (256u << 10)
#define CACHE_BLK_MASK ((UINT64_C(1) << 48) - 1)
struct heap_cache {
	unsigned n;
	unsigned depth; /* how many it may hold (see above) */
	uint64_t blk[CACHE_DEPTH]; /* block address | generation << 48 */
};

static inline unsigned cache_depth_of(unsigned cls)
{
	unsigned d = cls ? CACHE_CLASS_BYTES / (cls * 16u) : 0;
	return d > CACHE_DEPTH ? CACHE_DEPTH : d < 4 ? 4 : d;
}

/* Slots: one per open handle that has a cache. */
enum { SLOT_FREE = 0, SLOT_LIVE = 1 };

struct heap_slot {
	uint64_t state;   /* SLOT_*; under the lock */
	uint64_t pid;     /* under the lock */
	uint64_t start;   /* the process's start time (/proc/PID/stat) */
	uint64_t pidns;   /* inode of its pid namespace */
	uint64_t epoch;   /* bumped at each claim; in CACHED tags */
	uint64_t pad0_;   /* (unused) */
	uint64_t pad_[2];
};

struct heap_part {
	uint64_t fileoff; /* where the part starts in the object */
	uint64_t size;    /* page multiple */
};

struct heap_logent {
	uint64_t addr;
	uint64_t val;
};

/*
 * The header, at offset 0 of part 0. The first block is the first 16-byte
 * boundary after it. Written once at create (magic last): magic..flags.
 * Everything after the lock is changed only by the lock holder, through the
 * redo log (heap.c), except slot.cached.
 */
struct heap_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t endian;
	uint32_t ptr_bits;
	uint32_t hdr_size;   /* sizeof(struct heap_hdr), rounded to 64 */
	uint64_t secret;     /* seeds the check words */
	uint64_t max_size;
	uint32_t flags;      /* HEAP_F_* */
	uint32_t pad0_;
	uint64_t pad1_[1];
	shmkit_mutex lock;   /* 64-byte aligned */

	uint64_t log_n;      /* committed entries; 0: nothing to replay */
	struct heap_logent log[HEAP_LOG_MAX];

	uint64_t nparts;
	struct heap_part parts[HEAP_PARTS];

	uint64_t bitmap[HEAP_BITMAP];
	uint64_t bins[HEAP_NBINS]; /* block addresses, 0: empty */

	uint64_t used;       /* bytes in blocks not free (cached ones too) */
	uint64_t free;       /* bytes in free blocks */
	uint64_t nblocks;    /* blocks not free */
	uint64_t nnamed;
	uint64_t genctr;     /* generation of the next block made by splitting */
	uint64_t reclaimed;
	uint64_t recoveries;
	uint64_t pend[2];    /* blocks to free if their maker died (heap.c) */
	uint64_t names[HEAP_BUCKETS]; /* entry block addresses */

	struct heap_slot slots[HEAP_SLOTS];
};

#define HEAP_F_FIXED 0x1u     /* cannot grow (no descriptor, or create_in) */
#define HEAP_F_NORESERVE 0x2u /* growth does not reserve (SHMKIT_F_NORESERVE) */

/* A named object's directory entry: the payload of an ENTRY block. */
struct heap_entry {
	uint64_t next;  /* next entry in the bucket (address), 0: last */
	uint64_t obj;   /* the object's block address */
	uint64_t size;  /* what get() asked for */
	uint64_t namelen;
	char name[];    /* namelen bytes, no NUL */
};

/* A transaction being built: its stores, where each goes in this
 * process, and an index by address (entry + 1, 0: none; open addressing). */
#define HEAP_TX_INDEX 256u
struct heap_tx {
	unsigned n;
	struct heap_logent e[HEAP_LOG_MAX];
	uint64_t *at[HEAP_LOG_MAX];
	uint8_t slot[HEAP_LOG_MAX]; /* where entry i sits in index */
	uint8_t index[HEAP_TX_INDEX];
};

struct shmkit_heap {
	shmkit_seg *seg;
	bool own_seg;   /* false for create_in/open_in */
	bool grows;     /* the object can grow by parts (heap_os.h) */
	struct heap_hdr *hdr;
	uint64_t secret;
	uint64_t first; /* address of part 0's first block */
	unsigned nmapped;
	char *base[HEAP_PARTS];
	uint64_t psize[HEAP_PARTS];
	uint64_t lo[HEAP_PARTS]; /* lowest payload offset in each part */
	uint64_t span[HEAP_PARTS]; /* highest payload offset - lo (set_psize) */
	bool unmap[HEAP_PARTS];
	uint64_t align_max;
	int slot;       /* -1: no cache */
	uint64_t epoch;
	unsigned long forkgen;
	uint64_t cached; /* bytes in the cache (the budget: CACHE_BYTES) */
	uint64_t cached_w1; /* w1 of a block in the cache, generation aside */
	struct heap_cache cache[CACHE_CLASSES];
	struct heap_tx tx;
};

/* -- block.c: the shared allocator, under the lock --------------------------- */

SHMKIT__HIDDEN int shmkit__heap_lock(shmkit_heap *h);
SHMKIT__HIDDEN void shmkit__heap_unlock(shmkit_heap *h);
/* Resolve [addr, addr + len) to a pointer, mapping its part if needed. */
SHMKIT__HIDDEN void *shmkit__heap_at(shmkit_heap *h, uint64_t addr, size_t len);
SHMKIT__HIDDEN int shmkit__heap_map_part(shmkit_heap *h, unsigned part);
/* Allocate a block of at least bs bytes (a multiple of 16) aligned so that
 * its payload is at align; tag and w1 low bits; *ret the block address. */
SHMKIT__HIDDEN int shmkit__heap_take(shmkit_heap *h, uint64_t bs, uint64_t align,
				     unsigned tag, uint64_t *ret);
/* Free a block (not free) in a transaction of its own; pend, if >= 0, is a
 * pend[] index to clear in the same transaction. */
SHMKIT__HIDDEN int shmkit__heap_give(shmkit_heap *h, uint64_t blk, int pend);
SHMKIT__HIDDEN int shmkit__heap_grow(shmkit_heap *h, uint64_t need);
SHMKIT__HIDDEN void shmkit__heap_init_part(shmkit_heap *h, unsigned part,
					   uint64_t start, uint64_t size);
SHMKIT__HIDDEN int shmkit__heap_refill(shmkit_heap *h, unsigned cls);
SHMKIT__HIDDEN int shmkit__heap_flush(shmkit_heap *h, unsigned cls, unsigned keep);

/* Open-transaction versions, for heap.c's and walk.c's multi-step work. */
SHMKIT__HIDDEN int shmkit__tx_take(shmkit_heap *h, uint64_t bs, uint64_t align,
				   unsigned tag, uint64_t *ret);
SHMKIT__HIDDEN int shmkit__tx_give(shmkit_heap *h, uint64_t blk);
/* Link a laid-out part's free block in the open transaction. */
SHMKIT__HIDDEN int shmkit__tx_link_first(shmkit_heap *h, unsigned part,
					 uint64_t start, uint64_t size);
/* Map part 0 of an fd-backed heap, 1 MiB aligned. */
SHMKIT__HIDDEN int shmkit__heap_map_first(shmkit_heap *h, uint64_t size);
/* Whether blk can be a block header's address (mapped, aligned, in range). */
SHMKIT__HIDDEN bool shmkit__heap_blk_ok(shmkit_heap *h, uint64_t blk);

/*
 * For tests only (NULL otherwise): called at each step of a commit, so a
 * test can kill a process at exactly that point: HEAP_HOOK_LOGGED once
 * the log is committed, nothing applied; HEAP_HOOK_APPLYING half-way
 * through applying it; HEAP_HOOK_APPLIED once applied and cleared.
 */
enum { HEAP_HOOK_LOGGED = 1, HEAP_HOOK_APPLYING = 2, HEAP_HOOK_APPLIED = 3 };
SHMKIT__HIDDEN extern void (*shmkit__heap_hook)(int stage);

/* The redo log (block.c). */
SHMKIT__HIDDEN void shmkit__tx_begin(shmkit_heap *h);
SHMKIT__HIDDEN int shmkit__tx_rd(shmkit_heap *h, uint64_t addr, uint64_t *ret);
SHMKIT__HIDDEN int shmkit__tx_wr(shmkit_heap *h, uint64_t addr, uint64_t val);
SHMKIT__HIDDEN int shmkit__tx_commit(shmkit_heap *h);

/* -- walk.c ------------------------------------------------------------------ */

/* Free every CACHED block whose owner is gone. Under the lock. */
SHMKIT__HIDDEN int64_t shmkit__heap_sweep(shmkit_heap *h);
/* Mark LIVE slots of processes that died FREE; how many. Under the lock. */
SHMKIT__HIDDEN int shmkit__heap_reap_slots(shmkit_heap *h);
/* Whether a LIVE slot's process is still there. */
SHMKIT__HIDDEN bool shmkit__heap_slot_alive(const struct heap_slot *s);

/* The address of the header's field f (a heap address in part 0). */
#define HA(h, f) ((uint64_t)((char *)&(h)->hdr->f - (char *)(h)->hdr))

static inline uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void st(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* The check word of the block at addr of generation gen (0 for free
 * blocks and the sentinel). */
static inline uint64_t shmkit__heap_check_word(const shmkit_heap *h,
					       uint64_t addr, unsigned gen)
{
	/*
	 * Not a cryptographic MAC (a process that can write the heap can do
	 * anything to it anyway): what tells a live header from a stray or
	 * made-up value (which matches with odds of 2^-40), from a header
	 * copied to another address, or from the same address in another
	 * generation. The high 40 bits of one multiply, by an odd constant,
	 * of the address (below bit 48) and the generation (above it): a
	 * difference in either reaches those bits, except for a handful of
	 * particular address distances. It is on every call: one multiply.
	 */
	return ((addr ^ h->secret ^ ((uint64_t)gen << 48)) *
		UINT64_C(0x9e3779b97f4a7c15)) >> 24;
}

/* Record part's mapped size (and what ref checks derive from it). */
static inline void set_psize(shmkit_heap *h, unsigned part, uint64_t size)
{
	h->psize[part] = size;
	h->span[part] = size >= h->lo[part] + BLK_HDR ? size - BLK_HDR - h->lo[part]
						       : 0;
}

/* A block size for a request: header included, 16-byte multiple, >= 32.
 * 0 when the request is too large for any heap. */
static inline uint64_t heap_block_size(size_t size)
{
	if ((uint64_t)size > HEAP_MAX_BYTES - 64)
		return 0;
	uint64_t bs = ((uint64_t)size + BLK_HDR + 15) & ~UINT64_C(15);
	return bs < BLK_MIN ? BLK_MIN : bs;
}

#endif /* SHMKIT_HEAP_INT_H */
