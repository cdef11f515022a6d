/*
 * fuzz_heap.c: libFuzzer target for a heap over arbitrary bytes.
 *
 * heap.h promises that whatever a process that can write the segment puts
 * there, calls fail (-EPROTO) or work, and never read or write outside the
 * heap's mappings. Each input is:
 *
 *   [HEAP_LEN bytes: the heap image][the rest: calls to make]
 *
 * The image (zero-padded when the input is shorter) is copied into an
 * anon: segment at offset GUARD, with PROT_NONE pages on either side, so
 * that an access outside [GUARD, GUARD + HEAP_LEN) faults at once (ASan
 * reports the SEGV). The heap's lock is initialised afresh in the image: a
 * hostile process can always hold the lock forever, which is no bug of the
 * heap's, and a fuzzer would find that first. Then shmkit_heap_open_in(),
 * and when it opens, the remaining bytes drive calls: alloc, calloc,
 * alloc_aligned (whose blocks are written to their usable end), free of
 * refs the heap gave and of refs the input makes up, ptr (read through),
 * ref, usable, get, find, unname, names, check, stat, reclaim; then close.
 *
 * Seeds: real heaps, made with create_in and a few calls. Run once with
 * FUZZ_HEAP_SEEDS=DIR to write them there, e.g.
 *   FUZZ_HEAP_SEEDS=fuzz/corpus/heap build-fuzz/fuzz/fuzz_heap -runs=0
 *   build-fuzz/fuzz/fuzz_heap fuzz/corpus/heap -max_total_time=60
 */
#include "heap/heap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define GUARD 4096u
#define HEAP_LEN (32u << 10)
#define NREF 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

static void take_name(struct in *in, char *name, size_t max)
{
	size_t len = (size_t)take(in, 1) % max, i;

	/* lengths 0 and max - 1 (256) too: both must be refused */
	for (i = 0; i < len; i++) {
		char c = (char)take(in, 1);
		name[i] = c ? c : 'x';
	}
	name[len] = '\0';
}

static int names_cb(const char *name, shmkit_ref ref, size_t size, void *arg)
{
	size_t len = strlen(name);

	(void)ref;
	(void)size;
	/* Within bounds always. (A name holding a NUL byte in shared memory
	 * still comes out, cut short, even empty; that is not checked here,
	 * only that it stays inside the buffer.) */
	if (len > SHMKIT_HEAP_NAME_MAX)
		abort();
	return ++*(unsigned *)arg >= 1000;
}

/* Read a block through: its usable bytes must all be mapped. */
static unsigned sink;

static void touch(const void *p, size_t n, int write)
{
	volatile const uint8_t *b = p;
	size_t i;

	if (write) {
		memset((void *)(uintptr_t)p, 0xa5, n);
		return;
	}
	for (i = 0; i < n; i += 64)
		sink += b[i];
	if (n)
		sink += b[n - 1];
}

static void run_calls(shmkit_heap *h, struct in *in)
{
	shmkit_ref refs[NREF] = {0};
	char name[SHMKIT_HEAP_NAME_MAX + 2];
	unsigned steps = 0;

	while (in->n && steps++ < 64) {
		unsigned op = (unsigned)take(in, 1) % 16;
		unsigned k = (unsigned)take(in, 1) % NREF;
		shmkit_ref r = 0;
		size_t sz;
		void *p;

		switch (op) {
		case 0:
		case 1:
		case 2:
			sz = (size_t)take(in, 2);
			if (take(in, 1) & 1)
				sz *= 16;
			if (op == 0 && shmkit_heap_alloc(h, sz, &r) == 0)
				refs[k] = r;
			if (op == 1 && shmkit_heap_calloc(h, sz, &r) == 0)
				refs[k] = r;
			if (op == 2 &&
			    shmkit_heap_alloc_aligned(h, sz,
						      (size_t)16 << (take(in, 1) % 9),
						      &r) == 0)
				refs[k] = r;
			if (r) {
				p = shmkit_heap_ptr(h, r);
				if (!p)
					abort(); /* a fresh block without an address */
				touch(p, shmkit_heap_usable(h, r), 1);
			}
			break;
		case 3:
			if (shmkit_heap_free(h, refs[k]) == 0)
				refs[k] = 0;
			break;
		case 4:
			(void)shmkit_heap_free(h, take(in, 8));
			break;
		case 5:
		case 6:
			r = op == 5 ? refs[k] : take(in, 8);
			p = shmkit_heap_ptr(h, r);
			if (p) {
				touch(p, shmkit_heap_usable(h, r), 0);
				(void)shmkit_heap_ref(h, p);
			}
			break;
		case 7:
			(void)shmkit_heap_usable(h, take(in, 8));
			(void)shmkit_heap_ref(h, (const char *)shmkit_addr(
							 shmkit_heap_seg(h)) +
							 GUARD + take(in, 2));
			break;
		case 8:
			take_name(in, name, sizeof(name));
			sz = (size_t)take(in, 2);
			if (shmkit_heap_get(h, name, sz, &r) >= 0) {
				p = shmkit_heap_ptr(h, r);
				if (p)
					touch(p, sz, 0);
				refs[k] = r; /* freeing it must say -EBUSY */
			}
			break;
		case 9:
			take_name(in, name, sizeof(name));
			if (shmkit_heap_find(h, name, &r, &sz) == 0 &&
			    (p = shmkit_heap_ptr(h, r)) != NULL)
				touch(p, sz, 0);
			break;
		case 10:
			take_name(in, name, sizeof(name));
			(void)shmkit_heap_unname(h, name);
			break;
		case 11: {
			unsigned n = 0;
			(void)shmkit_heap_names(h, names_cb, &n);
			break;
		}
		case 12: {
			char why[128];
			(void)shmkit_heap_check(h, why, sizeof(why));
			break;
		}
		case 13: {
			shmkit_heap_info info;
			(void)shmkit_heap_stat(h, &info);
			break;
		}
		case 14:
			(void)shmkit_heap_reclaim(h);
			break;
		default:
			(void)shmkit_heap_usable(h, refs[k]);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	shmkit_seg *seg;
	shmkit_heap *h;
	struct heap_hdr *hd;
	struct in in;
	uint8_t *base;

	if (shmkit_create("anon:", GUARD + HEAP_LEN + GUARD, NULL, &seg) < 0)
		return 0;
	base = shmkit_addr(seg);
	memcpy(base + GUARD, data, size < HEAP_LEN ? size : HEAP_LEN);
	hd = (struct heap_hdr *)(void *)(base + GUARD);
	if (shmkit_mutex_init(&hd->lock) < 0)
		abort();
	if (mprotect(base, GUARD, PROT_NONE) < 0 ||
	    mprotect(base + GUARD + HEAP_LEN, GUARD, PROT_NONE) < 0)
		abort();
	in.p = size > HEAP_LEN ? data + HEAP_LEN : data + size;
	in.n = size > HEAP_LEN ? size - HEAP_LEN : 0;
	if (shmkit_heap_open_in(seg, GUARD, HEAP_LEN, &h) == 0) {
		run_calls(h, &in);
		(void)shmkit_heap_close(h);
	}
	shmkit_destroy(seg);
	return 0;
}

/* -- seeds ----------------------------------------------------------------- */

static int write_seed(const char *dir, const char *name, const uint8_t *img,
		      const uint8_t *ops, size_t nops)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(img, 1, HEAP_LEN, f) != HEAP_LEN ||
	    fwrite(ops, 1, nops, f) != nops) {
		perror(path);
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

/* A real heap in a buffer, after `fill` rounds of calls. */
static int make_seed(const char *dir, const char *name, int fill)
{
	static const uint8_t ops[] = {
		0, 1, 0x40, 0,    0,  /* alloc 64 into slot 1 */
		0, 2, 0x00, 0x02, 1,  /* alloc 512*16 into slot 2 */
		5, 1,                 /* ptr slot 1 */
		8, 3, 3,  'a', 'b', 'c', 0x20, 0, /* get "abc" 32 */
		9, 0, 3,  'a', 'b', 'c',          /* find */
		3, 1,                 /* free slot 1 */
		3, 1,                 /* and again: -EINVAL */
		3, 3,                 /* free a named ref: -EBUSY */
		11, 0, 12, 0, 13, 0, 14, 0,
		10, 0, 3, 'a', 'b', 'c',          /* unname */
		2, 4, 0x10, 0, 0, 5,  /* aligned to 512 */
		4, 0, 1, 2, 3, 4, 5, 6, 7, 8,     /* free of a made-up ref */
	};
	shmkit_seg *seg;
	shmkit_heap *h;
	shmkit_ref r[8];
	int i, rc;

	if (shmkit_create("anon:", HEAP_LEN, NULL, &seg) < 0 ||
	    shmkit_heap_create_in(seg, 0, HEAP_LEN, NULL, &h) < 0)
		return -1;
	for (i = 0; i < fill && i < 8; i++) {
		char nm[16];
		shmkit_ref n;
		(void)shmkit_heap_alloc(h, 24 + (size_t)i * 300, &r[i]);
		snprintf(nm, sizeof(nm), "name-%d", i);
		(void)shmkit_heap_get(h, nm, 16 + (size_t)i * 40, &n);
	}
	for (i = 0; i < fill && i < 8; i += 2)
		(void)shmkit_heap_free(h, r[i]); /* some free, some cached */
	/* Close flushes the cache: a seed with cached blocks is one whose
	 * handle is still open; dump before closing. */
	rc = write_seed(dir, name, shmkit_addr(seg), ops, sizeof(ops));
	(void)shmkit_heap_close(h);
	shmkit_destroy(seg);
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_HEAP_SEEDS");

	(void)argc;
	(void)argv;
	if (!dir)
		return 0;
	if (make_seed(dir, "empty", 0) < 0 || make_seed(dir, "some", 3) < 0 ||
	    make_seed(dir, "full", 8) < 0) {
		fprintf(stderr, "fuzz_heap: cannot write seeds to %s\n", dir);
		exit(1);
	}
	fprintf(stderr, "fuzz_heap: seeds written to %s\n", dir);
	return 0;
}
