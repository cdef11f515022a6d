/*
 * shmkit/heap.h: managed segments (layer 5): an allocator inside shared
 * memory, with offset references, named objects, and growth while in use.
 * Included by shmkit.h; do not include it on its own.
 *
 * A heap is one shared object (a posix:, file:, memfd: or fd: segment) that
 * any process attached to it may allocate from and free into. Memory is
 * named by a shmkit_ref, a 64-bit value that means the same block in every
 * process, whatever address each has it mapped at; shmkit_heap_ptr() turns
 * it into a pointer in the calling process. Store refs, never pointers, in
 * shared memory.
 *
 * Growth: when the heap is full, an allocation grows the object (doubling
 * the heap each time, up to opts.max_size) and maps the new part; every
 * other process maps it the first time it dereferences a ref that lies
 * there. Nothing is ever moved or unmapped: a ref and the pointer
 * shmkit_heap_ptr() gave for it stay valid until the block is freed or the
 * handle closed. sysv:, anon: and win: heaps, and heaps made with
 * shmkit_heap_create_in(), have a fixed size. On Windows sizes are rounded
 * to 64 KiB and file: heaps grow (docs/heap.md, Windows).
 *
 * Crash safety: a process killed by SIGKILL at any instruction inside any
 * call of this header leaves the heap consistent and unlocked for every
 * other process. The next process to take the heap's lock repairs what the
 * dead one was doing (completes it or discards it, never half of it). What
 * a crash can lose: blocks a process kept in its per-process cache (see
 * shmkit_heap_stat(): lost_bytes, until the heap reclaims them), and blocks
 * it had allocated and not yet stored a ref to anywhere: those stay
 * allocated, which the heap cannot tell from blocks in use. A named object
 * is never lost nor half-made. docs/heap.md gives the design.
 *
 * Validation: every ref and every word the heap reads from shared memory is
 * checked before it is used, so a buggy or hostile process that can write
 * the segment can make calls fail with -EPROTO, but never make one read or
 * write outside the heap's mappings. shmkit_heap_free() detects a double
 * free and a ref that was never allocated (-EINVAL), including a stale ref
 * to a block freed and allocated again since (each allocation of a block
 * gets a new 16-bit generation, which the ref carries).
 *
 * Processes sharing a heap must see one another's pids: the heap reclaims
 * a dead process's cached blocks only when it runs in the same pid
 * namespace, and keeps them (as lost_bytes) otherwise.
 *
 * Handles follow the library's rule: one thread uses a handle at a time.
 * Two threads may each open their own handle on one heap.
 */
#ifndef SHMKIT_HEAP_H
#define SHMKIT_HEAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open heap. Opaque; made by create/open, freed by close/destroy. */
typedef struct shmkit_heap shmkit_heap;

/*
 * A reference to a block: the same value in every process. 0 is null.
 * Its bits (generation, part, offset) are the library's business; compare
 * refs for equality only.
 */
typedef uint64_t shmkit_ref;

#define SHMKIT_HEAP_ALIGN 16u        /* alignment of every block */
#define SHMKIT_HEAP_NAME_MAX 255     /* longest object name, in bytes */
#define SHMKIT_HEAP_MIN_SIZE 65536u  /* smallest heap (first part) */
#define SHMKIT_HEAP_IN_MIN 16384u    /* smallest heap made by create_in */

typedef struct shmkit_heap_opts {
	/* The largest the heap may grow to, in bytes (>= size); 0 means the
	 * first part's size (no growth). Rounded up to whole pages. */
	uint64_t max_size;
	/* Permission bits of the heap's object; 0 means 0600. */
	unsigned int mode;
	/* SHMKIT_F_* for the segment: PREFAULT, GROUP, NORESERVE (then
	 * growth does not reserve either), EPHEMERAL; any other is -EINVAL. */
	unsigned int flags;
	shmkit_gid_t group; /* with SHMKIT_F_GROUP */
} shmkit_heap_opts;

/*
 * Create a heap in a new segment of spec's backend, size bytes at first
 * (>= SHMKIT_HEAP_MIN_SIZE, rounded up to a page). -EEXIST if the name is
 * taken, -EINVAL for bad sizes or flags (max_size below size, max_size
 * above size on a backend that cannot grow), and any error of
 * shmkit_create(). Nothing is left behind on failure.
 */
SHMKIT_EXTERN int shmkit_heap_create(const char *spec, size_t size,
				     const shmkit_heap_opts *opts,
				     shmkit_heap **ret);

/*
 * Open an existing heap. flags: 0 (read-only heaps do not exist: every
 * user may allocate). -ENOENT if absent; -EPROTO if the segment holds no
 * shmkit heap, or one of another layout version, pointer width or byte
 * order, or a header that does not add up.
 */
SHMKIT_EXTERN int shmkit_heap_open(const char *spec, unsigned int flags,
				   shmkit_heap **ret);

/*
 * A heap of len bytes at offset in a segment the caller attached (offset
 * a multiple of 16, len >= 16 KiB, the range inside the segment; -EINVAL
 * otherwise). Fixed size; opts may be NULL, and its max_size 0 or len,
 * mode and flags 0. The heap uses seg's mapping: close the heap before
 * detaching seg. create_in initialises the range; open_in checks what is
 * there (-EPROTO as shmkit_heap_open). Refs of such a heap are relative to
 * its start, so every process may place the segment at a different
 * address. shmkit_heap_destroy() of such a heap unmakes it (a later
 * open_in says -EPROTO) and leaves seg alone.
 */
SHMKIT_EXTERN int shmkit_heap_create_in(shmkit_seg *seg, size_t offset,
					size_t len,
					const shmkit_heap_opts *opts,
					shmkit_heap **ret);
SHMKIT_EXTERN int shmkit_heap_open_in(shmkit_seg *seg, size_t offset,
				      size_t len, shmkit_heap **ret);

/* Give back this process's cached blocks, unmap and free the handle; the
 * heap stays. NULL is a no-op. Pointers from shmkit_heap_ptr() die.
 * -EBUSY, changing nothing, while a thread of this process holds a
 * shmkit_mutex that lies in the heap (see shmkit_op() in shmkit.h). */
SHMKIT_EXTERN int shmkit_heap_close(shmkit_heap *heap);

/* Close and remove the heap's object. Processes still attached keep using
 * it until they close. NULL is a no-op; -EBUSY as close. */
SHMKIT_EXTERN int shmkit_heap_destroy(shmkit_heap *heap);

/*
 * Allocate size bytes (size > 0), aligned to SHMKIT_HEAP_ALIGN. 0 and
 * *ret set, or -ENOMEM: the heap is full and cannot grow (max_size
 * reached, or the host refused the memory: then -ENOSPC from a full tmpfs
 * is reported as -ENOMEM too, never a SIGBUS later). -EINVAL for size 0 or
 * too large for any heap. Contents are undefined.
 */
SHMKIT_EXTERN int shmkit_heap_alloc(shmkit_heap *heap, size_t size,
				    shmkit_ref *ret);
/* As alloc, zeroed. */
SHMKIT_EXTERN int shmkit_heap_calloc(shmkit_heap *heap, size_t size,
				     shmkit_ref *ret);
/*
 * As alloc, aligned to align: a power of two from 16 up to what the heap
 * can keep aligned in every process that maps it: 1 MiB on posix:, file:,
 * memfd: and fd: heaps (each process maps their parts 1 MiB aligned), 64 KiB
 * on Windows file: heaps, the page size on sysv:, anon: and win: ones, and for create_in the largest power
 * of two that divides offset, at most the page size. -EINVAL beyond.
 */
SHMKIT_EXTERN int shmkit_heap_alloc_aligned(shmkit_heap *heap, size_t size,
					    size_t align, shmkit_ref *ret);

/*
 * Free a block. -EINVAL, changing nothing, for a ref that is not a live
 * allocation of this heap: 0, a double free, a stale ref, a wild value
 * (and for the second of two frees of one ref racing in two processes).
 * -EBUSY for a named object (use shmkit_heap_unname()). -EPROTO when what
 * the heap found in shared memory is corrupt.
 */
SHMKIT_EXTERN int shmkit_heap_free(shmkit_heap *heap, shmkit_ref ref);

/*
 * The block's address in this process, or NULL for 0 or a ref that is not
 * a live block of this heap. Maps the part of the heap the block lies in on
 * first use (NULL if that fails). Valid until the block is freed.
 */
SHMKIT_EXTERN void *shmkit_heap_ptr(shmkit_heap *heap, shmkit_ref ref);

/* The ref of the live block that starts at p (as shmkit_heap_ptr gave
 * it), or 0 when p is not the start of one. */
SHMKIT_EXTERN shmkit_ref shmkit_heap_ref(shmkit_heap *heap, const void *p);

/* Bytes usable at the block (>= what was asked), or 0 for an invalid ref. */
SHMKIT_EXTERN size_t shmkit_heap_usable(shmkit_heap *heap, shmkit_ref ref);

/* -- Named objects ---------------------------------------------------------- */

/*
 * Find or create the object called name (1 to SHMKIT_HEAP_NAME_MAX bytes,
 * no NUL) of size bytes. Returns 1 if this call created it (zeroed), 0 if
 * it existed with that size, -EEXIST if it exists with another size,
 * -ENOMEM, -EINVAL. Atomic: of processes racing for one name, exactly one
 * is told 1 and all get the same ref. A named object is freed only by
 * shmkit_heap_unname().
 */
SHMKIT_EXTERN int shmkit_heap_get(shmkit_heap *heap, const char *name,
				  size_t size, shmkit_ref *ret);

/* Look name up: 0 and *ret_ref, *ret_size (either may be NULL), or
 * -ENOENT. */
SHMKIT_EXTERN int shmkit_heap_find(shmkit_heap *heap, const char *name,
				   shmkit_ref *ret_ref, size_t *ret_size);

/* Remove the name and free its object. -ENOENT if there is none. */
SHMKIT_EXTERN int shmkit_heap_unname(shmkit_heap *heap, const char *name);

/* Called once per named object by shmkit_heap_names(); nonzero stops. */
typedef int (*shmkit_heap_name_cb)(const char *name, shmkit_ref ref,
				   size_t size, void *arg);

/*
 * Call cb for every named object, in no particular order, under the
 * heap's lock: cb must not call into this heap. Returns how many it
 * reported, cb's nonzero value if it stopped, or a negative errno.
 */
SHMKIT_EXTERN int shmkit_heap_names(shmkit_heap *heap, shmkit_heap_name_cb cb,
				    void *arg);

/* -- Introspection ---------------------------------------------------------- */

typedef struct shmkit_heap_info {
	uint64_t size;        /* bytes in all parts */
	uint64_t max_size;    /* growth limit */
	unsigned int parts;   /* segments (parts) the heap has grown to */
	uint64_t used;        /* bytes in live blocks, headers included */
	uint64_t free;        /* bytes in free blocks */
	uint64_t largest_free; /* largest free block's usable bytes */
	uint64_t allocations; /* live blocks (named objects included) */
	uint64_t named;       /* named objects */
	uint64_t cached;      /* bytes held in processes' caches */
	uint64_t lost_bytes;  /* bytes cached by processes that died, not yet reclaimed */
	uint64_t reclaimed_bytes; /* bytes taken back from dead processes, ever */
	uint64_t recoveries;  /* times a process repaired the heap after a crash */
	unsigned int procs;   /* live processes with a handle that has a cache
				 (the heap's 64 slots; a handle opened when all
				 are taken works uncached and is not counted) */
} shmkit_heap_info;

/* Fill *info (a walk of the whole heap, under its lock). */
SHMKIT_EXTERN int shmkit_heap_stat(shmkit_heap *heap, shmkit_heap_info *info);

/*
 * Check everything: every block of every part, every free list, the named
 * objects, the counters. 0 if the heap is sound; -EPROTO if not, with
 * what was found first in why (a sentence; may be NULL) of whylen bytes.
 */
SHMKIT_EXTERN int shmkit_heap_check(shmkit_heap *heap, char *why,
				    size_t whylen);

/*
 * Take back the blocks cached by processes that have died (the heap also
 * does this by itself before it grows or fails with -ENOMEM, and when a
 * process opens it). Returns the bytes reclaimed, or a negative errno.
 */
SHMKIT_EXTERN int64_t shmkit_heap_reclaim(shmkit_heap *heap);

/* The segment that holds the heap's header (for shmkit_spec(), ...). */
SHMKIT_EXTERN shmkit_seg *shmkit_heap_seg(shmkit_heap *heap);

/* 1 if the segment at spec holds a shmkit heap, 0 if not, or -errno
 * (attaches read-only for a moment). */
SHMKIT_EXTERN int shmkit_heap_probe(const char *spec);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_HEAP_H */
