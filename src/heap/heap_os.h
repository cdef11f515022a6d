/*
 * heap_os.h: what a heap needs from the operating system, and nothing
 * else: mapping the parts of a growable object, growing it, randomness,
 * and who a process is and whether it still lives. src/unix/heap_os.c
 * implements it for Linux, src/win/heap_os.c for Windows; the heap itself
 * (src/heap/) is the same everywhere.
 *
 * A growable heap is one whose object can be made longer and mapped part
 * by part while processes use it: a descriptor-backed segment on Linux
 * (posix:, file:, memfd:, fd:), a file: segment on Windows. Every other
 * heap has one part, the segment's own mapping.
 */
#ifndef SHMKIT_HEAP_OS_H
#define SHMKIT_HEAP_OS_H

#include "heap_int.h"

/*
 * The unit of part sizes and of where parts start in the object, and the
 * largest alignment alloc_aligned can promise in a growable heap (each
 * process maps every part at a multiple of it). On Linux a page, and
 * 1 MiB (parts are placed 1 MiB aligned); on Windows the allocation
 * granularity, 64 KiB, which MapViewOfFile needs for offsets and gives
 * for addresses (no placement).
 */
#ifdef _WIN32
#define HEAP_GRAIN UINT64_C(65536)
#define HEAP_GROW_ALIGN_MAX UINT64_C(65536)
#else
#define HEAP_GRAIN UINT64_C(4096)
#define HEAP_GROW_ALIGN_MAX (UINT64_C(1) << 20)
#endif

/* Bumped in every forked child (never, where there is no fork): a handle
 * whose forkgen differs was made by the parent. Relaxed atomics. */
SHMKIT__HIDDEN extern unsigned long shmkit__heap_forkgen;
/* Once per process, before the first handle: fork hooks. */
SHMKIT__HIDDEN void shmkit__heap_os_init(void);

/* Whether a heap on seg can grow (see above). */
SHMKIT__HIDDEN bool shmkit__heap_os_growable(const shmkit_seg *seg);
/* Map size bytes at fileoff of h->seg's object as part: sets base, psize
 * (set_psize) and unmap of that part. 0 or -errno. */
SHMKIT__HIDDEN int shmkit__heap_os_map(shmkit_heap *h, unsigned part,
				       uint64_t fileoff, uint64_t size);
/* Undo shmkit__heap_os_map (if it mapped anything of its own). */
SHMKIT__HIDDEN void shmkit__heap_os_unmap(shmkit_heap *h, unsigned part);
/* The object's length now. */
SHMKIT__HIDDEN int shmkit__heap_os_size(shmkit_heap *h, uint64_t *ret);
/* Make the object at least fileoff + len long and, with reserve, back
 * [fileoff, fileoff + len) now, so that no touch fails later. 0, or
 * -ENOMEM when the host refuses. */
SHMKIT__HIDDEN int shmkit__heap_os_extend(shmkit_heap *h, uint64_t fileoff,
					  uint64_t len, bool reserve);
/* The object's first 8 bytes, read so that a short object is an error
 * rather than a fault (shmkit_heap_probe). */
SHMKIT__HIDDEN int shmkit__heap_os_peek(shmkit_seg *seg, uint64_t *ret);

/* 64 bits the next heap will not share with any other (odd not needed). */
SHMKIT__HIDDEN uint64_t shmkit__heap_os_random(void);
/* This process, as a slot records it: an id, its start time, and its
 * pid namespace (0: none). */
SHMKIT__HIDDEN void shmkit__heap_os_self(uint64_t *pid, uint64_t *start,
					 uint64_t *ns);
/* Whether the process a slot recorded is still there (true when it
 * cannot tell). */
SHMKIT__HIDDEN bool shmkit__heap_os_alive(uint64_t pid, uint64_t start,
					  uint64_t ns);

#endif /* SHMKIT_HEAP_OS_H */
