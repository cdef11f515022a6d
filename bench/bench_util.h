/*
 * bench_util.h: what every shmkit benchmark shares: clocks, statistics,
 * CPU pinning, futex calls and table formatting. Header-only, everything
 * static inline, so each benchmark stays one executable with no helper
 * library to link.
 *
 * Two clocks. bench_now_ns() (CLOCK_MONOTONIC) times anything that lasts
 * microseconds or more. bench_ticks() reads the TSC behind an lfence, so the
 * read cannot be hoisted above the load that ended the round trip; on this
 * kind of VM it costs ~25 ns against ~45 ns for clock_gettime through
 * kvm-clock, which matters when a cross-core round trip is a few hundred
 * nanoseconds. Ticks are converted with a rate calibrated against
 * CLOCK_MONOTONIC at start-up, and the cost of one read is measured and
 * subtracted from every sample (reported, never hidden).
 *
 * Percentiles are nearest-rank on the sorted samples; the medians and tails
 * reported are of every sample from every round of a cell taken together.
 */
#ifndef SHMKIT_BENCH_UTIL_H
#define SHMKIT_BENCH_UTIL_H

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define BENCH_HAVE_TSC 1
#endif

static inline void bench_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	_mm_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_ticks(void)
{
#ifdef BENCH_HAVE_TSC
	_mm_lfence();
	return __rdtsc();
#else
	return bench_now_ns();
#endif
}

/* Nanoseconds per tick, measured over ~50 ms against CLOCK_MONOTONIC. */
static inline double bench_tick_ns(void)
{
#ifdef BENCH_HAVE_TSC
	uint64_t n0 = bench_now_ns(), t0 = bench_ticks(), n1, t1;
	do {
		n1 = bench_now_ns();
	} while (n1 - n0 < 50000000u);
	t1 = bench_ticks();
	return (double)(n1 - n0) / (double)(t1 - t0);
#else
	return 1.0;
#endif
}

/* The median cost, in ticks, of one bench_ticks() between two others. */
static inline uint64_t bench_tick_overhead(void)
{
	uint64_t best[64];
	for (int i = 0; i < 64; i++) {
		uint64_t a = bench_ticks(), b = bench_ticks();
		best[i] = b - a;
	}
	for (int i = 1; i < 64; i++) /* tiny insertion sort */
		for (int j = i; j > 0 && best[j - 1] > best[j]; j--) {
			uint64_t t = best[j];
			best[j] = best[j - 1];
			best[j - 1] = t;
		}
	return best[32];
}

static inline int bench_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

static inline int bench_ncpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	return CPU_COUNT(&set);
}

/* Shared (not private) futexes: the words live in MAP_SHARED memory. */
static inline int bench_futex_wait(void *word, uint32_t val,
				   const struct timespec *timeout)
{
	return (int)syscall(SYS_futex, word, FUTEX_WAIT, val, timeout, NULL, 0);
}

static inline int bench_futex_wake(void *word, int n)
{
	return (int)syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

static inline int bench_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0..100) of n sorted samples; n > 0. */
static inline size_t bench_rank(size_t n, double p)
{
	double r = p / 100.0 * (double)n;
	size_t k = (size_t)r;
	if ((double)k < r)
		k++;
	if (k == 0)
		k = 1;
	return (k > n ? n : k) - 1;
}

/* "183 ns", "1.52 us", "3.20 ms", "1.10 s" */
static inline const char *bench_fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns < 1e3)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}

/* "64 B", "4 KiB", "1 MiB" */
static inline const char *bench_fmt_size(char *buf, size_t len, size_t n)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, len, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, len, "%zu KiB", n >> 10);
	else
		snprintf(buf, len, "%zu B", n);
	return buf;
}

/* "23.4 M", "512 k", "87" */
static inline const char *bench_fmt_rate(char *buf, size_t len, double r)
{
	if (r >= 1e6)
		snprintf(buf, len, "%.2f M", r / 1e6);
	else if (r >= 1e3)
		snprintf(buf, len, "%.1f k", r / 1e3);
	else
		snprintf(buf, len, "%.0f", r);
	return buf;
}

/* Parse "64", "4K", "1M" (powers of 1024); 0 on error. */
static inline size_t bench_parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return 0;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end == 'i')
		end++;
	if (*end == 'B')
		end++;
	return *end ? 0 : (size_t)v;
}

/* An environment knob: BENCH_QUICK=1 and friends. */
static inline long bench_env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	char *end;
	long r;
	if (!v || !*v)
		return dflt;
	r = strtol(v, &end, 10);
	return *end ? dflt : r;
}

#endif /* SHMKIT_BENCH_UTIL_H */
