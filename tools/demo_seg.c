/*
 * demo_seg.c: the demo segment's pattern and checksum, shared by both
 * platforms' `shmkit demo` (demo_seg.h). The pattern is xorshift64, so
 * that every byte depends on the seed and a page the child never saw
 * (or saw stale) changes the checksum; the checksum is FNV-1a over the
 * payload, all of it.
 */
#include "demo_seg.h"

#include <string.h>

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void fill_pattern(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) { /* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (; i < n; i++)
		p[i] = (unsigned char)i;
}

void cli_demo_fill(void *base, uint64_t seed)
{
	demo_hdr *h = base;

	memset(h, 0, sizeof(*h));
	fill_pattern((unsigned char *)(h + 1), DEMO_SIZE - sizeof(*h), seed);
	h->expect = fnv1a((const unsigned char *)(h + 1),
			  DEMO_SIZE - sizeof(*h));
	h->magic = DEMO_MAGIC;
}

const char *cli_demo_check(void *base, size_t size)
{
	demo_hdr *h = base;

	if (size != DEMO_SIZE)
		return "size differs";
	if (h->magic != DEMO_MAGIC)
		return "header missing";
	h->seen = fnv1a((const unsigned char *)(h + 1),
			DEMO_SIZE - sizeof(*h));
	return NULL;
}
