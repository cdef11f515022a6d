/*
 * heap_test.h: what the heap tests (test_heap, test_heap_proc,
 * test_heap_crash) share: a seeded generator, a byte pattern that blocks
 * carry and are checked against, child-side failure macros, and checks of
 * a whole heap.
 */
#ifndef SHMKIT_HEAP_TEST_H
#define SHMKIT_HEAP_TEST_H

#include "test.h"

#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng_state = 1;

/* xorshift64*: the tests' one source of randomness (seedable). */
static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* Byte i of the pattern of seed. */
static inline uint8_t pat(uint64_t seed, size_t i)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + i;
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	return (uint8_t)(x >> 56);
}

static inline int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* "posix:/shmkit-test-<pid>-<n>-<tag>"; the last 8 stay valid. */
static inline const char *pspec(const char *tag)
{
	static char buf[8][160];
	static unsigned k;
	char *s = buf[k++ % 8];
	snprintf(s, sizeof(buf[0]), "posix:%s", test_name(tag));
	return s;
}

/* A child's failure: say what, exit with a status the parent names. */
#define CFAIL(...)                                                            \
	do {                                                                  \
		fprintf(stderr, "%s:%d: child %d: ", __FILE__, __LINE__,      \
			(int)getpid());                                       \
		fprintf(stderr, __VA_ARGS__);                                 \
		fputc('\n', stderr);                                          \
		_exit(3);                                                     \
	} while (0)

#define COK(e)                                                                \
	do {                                                                  \
		long long r_ = (long long)(e);                                \
		if (r_ < 0)                                                   \
			CFAIL("%s: %s", #e, shmkit_err_name((int)r_));        \
	} while (0)

/*
 * A block that proves itself: [ref][size][seed] then the pattern. A block
 * handed to two allocations at once shows as the wrong ref; a torn or
 * overwritten one as a wrong byte.
 */
struct bhdr {
	uint64_t ref, size, seed;
};

static inline void stamp(void *p, shmkit_ref ref, size_t size, uint64_t seed)
{
	struct bhdr h = {ref, size, seed};
	uint8_t *b = p;
	size_t i;

	for (i = sizeof(h); i < size; i++)
		b[i] = pat(seed, i);
	memcpy(b, &h, sizeof(h));
}

/* shmkit_heap_check() must pass; its reason printed if not. */
static inline void check_ok_(shmkit_heap *h, const char *when, int line)
{
	char why[512] = "";
	int r = shmkit_heap_check(h, why, sizeof(why));
	if (r != 0)
		FAIL_("(line %d) shmkit_heap_check %s: %s: %s", line, when,
		      shmkit_err_name(r), why);
}

/* shmkit_heap_stat(), which must succeed (and fill every field). */
static inline shmkit_heap_info hstat(shmkit_heap *h)
{
	shmkit_heap_info in;
	memset(&in, 0xa5, sizeof(in));
	ASSERT_OK(shmkit_heap_stat(h, &in));
	return in;
}

#endif /* SHMKIT_HEAP_TEST_H */
