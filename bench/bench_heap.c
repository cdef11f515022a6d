/*
 * bench_heap.c: what an allocation in shared memory costs: shmkit's heap
 * (include/shmkit/heap.h) against glibc's malloc, the floor for any
 * allocator, and against Boost.Interprocess managed_shared_memory, the
 * classic shared-memory heap (a best-fit tree under one process-shared
 * mutex), side by side in one run.
 *
 * What is timed is an alloc+free pair ("op" below: Mops/s are millions of
 * pairs a second). A shmkit pair is shmkit_heap_alloc + shmkit_heap_ptr
 * (a user cannot touch the block without it) + shmkit_heap_free; the others
 * get a pointer from their alloc. Every block is really used: its first and
 * last bytes are written after the alloc and checked before the free, with
 * a compiler barrier between, so no allocation can be optimised away and a
 * heap that hands out overlapping blocks is caught.
 *
 * Patterns, at 16 B, 64 B, 256 B, 1 KiB, 4 KiB and 64 KiB:
 *  - pair: alloc, use, free the same size over and over: the per-process
 *    cache's best case (each free feeds the next alloc) at the sizes it
 *    holds, the shared path's at the others.
 *  - winN (N = 64, 256, 1024): allocate N blocks, then free all N in a
 *    shuffled order (one of 16 fixed permutations per pass, the same for
 *    every allocator). N is past shmkit's per-process cache depth, so the
 *    frees overflow the cache into the shared heap and the allocs drain it
 *    and refill it: the cache is exercised both ways, and the shuffle keeps
 *    the frees from being the allocs in reverse.
 * Each pattern runs in one process (shmkit, malloc, Boost), then in two
 * processes at once on one heap (fork; each pinned to its own CPU, each
 * opening the heap itself; shmkit against Boost, the aggregate rate).
 *
 * Method (docs/benchmarks.md): BENCH_ROUNDS rounds (5); in each round every
 * cell runs every allocator once for BENCH_HEAP_MS (100 ms), in an order
 * rotated by the round, so drift lands on all of them alike. A cell's time
 * is sampled 1024 pairs at a time; a round's figure is the median sample,
 * the cell's figure the median of its rounds, and a ratio is the ratio of
 * two cells' figures, printed with the min..max of the per-round ratios as
 * the noise gauge. Targets, small blocks (16-256 B): shmkit's pair time
 * <= 2x malloc's, and shmkit's throughput >= 2x Boost's (one process and
 * two).
 *
 * glibc's malloc runs with M_TRIM_THRESHOLD off: by default it hands the
 * top of its heap back to the kernel whenever more than 128 KiB is free
 * there, which a winN pass at 4 KiB and up does every time, and then pays
 * page faults on the next pass (microseconds per pair). The shared heaps
 * never give memory back, so neither does the floor.
 *
 * The heaps are 256 MiB and fixed, so growth is never measured by the
 * patterns (winN at 64 KiB holds 64 MiB per process). Growth gets a line
 * of its own: the time to fill, with 4 KiB blocks, a heap that starts at
 * 1 MiB and grows to 256 MiB, against one that is 256 MiB from the start,
 * and against the same writes into a bare fresh mapping (the page faults
 * every fill pays, whatever the allocator).
 *
 * Nothing is left behind: every name is /shmkit-bench-<pid>-heap...
 * (posix: for shmkit, the same prefix in /dev/shm for Boost), and at the
 * end, on a fatal error and on SIGINT, SIGTERM, SIGHUP or SIGPIPE every
 * such name is removed with async-signal-safe calls (a getdents64 sweep of
 * /dev/shm). Anything the heap's own destroy left there is reported.
 *
 * Knobs: BENCH_QUICK=1 (1 round of 30 ms), BENCH_ROUNDS, BENCH_HEAP_MS.
 */
#include "shmkit.h"
#include "bench_util.h"

#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

#define HEAP_BYTES (256 * MiB)
#define GROW_FROM (1 * MiB)
#define GROW_TO (256 * MiB)
#define GROW_BLOCK (4 * KiB)
#define SAMPLE_PAIRS 1024u
#define MAX_SAMPLES 65536
#define MAX_ROUNDS 64
#define NPERM 16
#define WIN_MAX 1024
#define SMALL_MAX 256 /* the targets' "small blocks" */

#ifdef BENCH_HAVE_BOOST
const char *bh_boost_version(void);
void *bh_boost_create(const char *name, size_t size, char *err, size_t errlen);
void *bh_boost_open(const char *name, char *err, size_t errlen);
void *bh_boost_alloc(void *seg, size_t size);
void bh_boost_free(void *seg, void *p);
void bh_boost_close(void *seg);
void bh_boost_remove(const char *name);
#endif

enum { IMPL_SHMKIT, IMPL_MALLOC, IMPL_BOOST, NIMPL };
static const char *const impl_name[NIMPL] = {"shmkit", "malloc", "boost"};

/* Our own error codes, beside the negative errnos. */
#define ERR_NULLPTR (-10001) /* shmkit_heap_ptr() gave NULL for a fresh ref */
#define ERR_CORRUPT (-10002) /* a block's first or last byte changed */

static const size_t sizes[] = {16, 64, 256, 1 * KiB, 4 * KiB, 64 * KiB};
#define NSIZE (sizeof(sizes) / sizeof(sizes[0]))

struct pat {
	const char *name;
	unsigned window; /* 0: pair */
	uint16_t (*perm)[WIN_MAX]; /* NPERM permutations of 0..window-1 */
};

static uint16_t perm64[NPERM][WIN_MAX], perm256[NPERM][WIN_MAX],
	perm1024[NPERM][WIN_MAX];
static struct pat pats[] = {
	{"pair", 0, NULL},
	{"win64", 64, perm64},
	{"win256", 256, perm256},
	{"win1024", 1024, perm1024},
};
#define NPAT (sizeof(pats) / sizeof(pats[0]))
/* The two-process storms: the cached pair and the widest window. */
static const unsigned pats2[] = {0, 3};
#define NPAT2 (sizeof(pats2) / sizeof(pats2[0]))

static struct {
	int rounds;
	uint64_t budget_ns;
	bool quick;
	int ncpu;
	char heap_spec[96];
	char boost_name[80]; /* Boost's plain name: /dev/shm/<name> */
	char grow_spec[96];
	char fixed_spec[96];
	char prefix[64];     /* "shmkit-bench-<pid>-heap" */
	size_t prefix_len;
	bool have_boost;
} cfg;

static shmkit_heap *heap;
static void *boost_seg;

/* ------------------------------------------------------------------------ */
/* Cleanup                                                                   */

static volatile pid_t kids[2];

struct dirent64_ {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Remove every /dev/shm entry named cfg.prefix...; how many. Only raw
 * syscalls, so the signal handler may call it. The names removed are
 * appended to list (when not NULL) for the report.
 */
static int sweep(char *list, size_t len)
{
	char buf[4096] __attribute__((aligned(8)));
	int removed = 0, found;

	for (int pass = 0; pass < 4; pass++) { /* unlinking while listing */
		int fd = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		long n;

		if (fd < 0)
			return removed;
		found = 0;
		while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) >
		       0) {
			for (long off = 0; off < n;) {
				struct dirent64_ *d = (void *)(buf + off);
				size_t i = 0;

				off += d->d_reclen;
				while (i < cfg.prefix_len &&
				       d->d_name[i] == cfg.prefix[i])
					i++;
				if (i < cfg.prefix_len ||
				    unlinkat(fd, d->d_name, 0) < 0)
					continue;
				found++;
				if (list) {
					size_t l = strlen(list);
					snprintf(list + l, len - l, "%s%s",
						 l ? " " : "", d->d_name);
				}
			}
		}
		close(fd);
		removed += found;
		if (!found)
			break;
	}
	return removed;
}

static void kill_kids(void)
{
	for (int i = 0; i < 2; i++) {
		pid_t p = kids[i];
		if (p > 0) {
			kill(p, SIGKILL);
			(void)waitpid(p, NULL, 0);
			kids[i] = 0;
		}
	}
}

static void on_signal(int sig)
{
	kill_kids();
	(void)sweep(NULL, 0);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const char *err_text(int err)
{
	if (err == ERR_NULLPTR)
		return "shmkit_heap_ptr() returned NULL for a fresh ref";
	if (err == ERR_CORRUPT)
		return "a block's first or last byte changed before its free";
	return shmkit_strerror(err);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench_heap: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	kill_kids();
	(void)sweep(NULL, 0);
	exit(1);
}

/* ------------------------------------------------------------------------ */
/* The allocators, inlined into one loop each                                */

struct blk {
	unsigned char *p;
	shmkit_ref ref;
};

#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE int impl_alloc(int impl, void *h, size_t size,
				    struct blk *b)
{
	int r;

	switch (impl) {
	case IMPL_SHMKIT:
		r = shmkit_heap_alloc(h, size, &b->ref);
		if (r < 0)
			return r;
		b->p = shmkit_heap_ptr(h, b->ref);
		return b->p ? 0 : ERR_NULLPTR;
	case IMPL_MALLOC:
		b->p = malloc(size);
		return b->p ? 0 : -ENOMEM;
#ifdef BENCH_HAVE_BOOST
	case IMPL_BOOST:
		b->p = bh_boost_alloc(h, size);
		return b->p ? 0 : -ENOMEM;
#endif
	default:
		return -ENOSYS;
	}
}

static ALWAYS_INLINE int impl_free(int impl, void *h, struct blk *b)
{
	switch (impl) {
	case IMPL_SHMKIT:
		return shmkit_heap_free(h, b->ref);
	case IMPL_MALLOC:
		free(b->p);
		return 0;
#ifdef BENCH_HAVE_BOOST
	case IMPL_BOOST:
		bh_boost_free(h, b->p);
		return 0;
#endif
	default:
		return -ENOSYS;
	}
}

/* Write the first and last byte; the barrier makes the block escape. */
static ALWAYS_INLINE void use_block(unsigned char *p, size_t size,
				    unsigned char tag)
{
	p[0] = tag;
	p[size - 1] = (unsigned char)~tag;
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static ALWAYS_INLINE bool block_ok(unsigned char *p, size_t size,
				   unsigned char tag)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
	return p[0] == tag && p[size - 1] == (unsigned char)~tag;
}

static struct blk slots[WIN_MAX];

/* Where the last failure happened, for the message (cold path only). */
static struct {
	const char *op;
	unsigned pass, i;
	shmkit_ref ref;
} fail;

static __attribute__((noinline, cold)) int failed(int r, const char *op,
						  unsigned pass, unsigned i,
						  shmkit_ref ref)
{
	fail.op = op;
	fail.pass = pass;
	fail.i = i;
	fail.ref = ref;
	return r;
}

/*
 * One sample: SAMPLE_PAIRS alloc+free pairs of the pattern. seq varies the
 * tags (and picks the permutations) from one sample to the next.
 */
static ALWAYS_INLINE int sample_body(int impl, void *h, const struct pat *pt,
				     size_t size, unsigned seq)
{
	int r;

	if (!pt->window) {
		struct blk b = {NULL, 0};
		for (unsigned i = 0; i < SAMPLE_PAIRS; i++) {
			unsigned char tag = (unsigned char)(seq + i);
			if ((r = impl_alloc(impl, h, size, &b)) < 0)
				return failed(r, "alloc", 0, i, 0);
			use_block(b.p, size, tag);
			if (!block_ok(b.p, size, tag))
				return failed(ERR_CORRUPT, "check", 0, i, b.ref);
			if ((r = impl_free(impl, h, &b)) < 0)
				return failed(r, "free", 0, i, b.ref);
		}
		return 0;
	}
	for (unsigned pass = 0; pass < SAMPLE_PAIRS / pt->window; pass++) {
		const uint16_t *perm = pt->perm[(seq + pass) % NPERM];
		unsigned n = pt->window;
		unsigned char base = (unsigned char)(seq * 7u + pass);

		for (unsigned i = 0; i < n; i++) {
			if ((r = impl_alloc(impl, h, size, &slots[i])) < 0)
				return failed(r, "alloc", pass, i, 0);
			use_block(slots[i].p, size, (unsigned char)(base + i));
		}
		for (unsigned j = 0; j < n; j++) {
			unsigned k = perm[j];
			unsigned char tag = (unsigned char)(base + k);
			if (!block_ok(slots[k].p, size, tag))
				return failed(ERR_CORRUPT, "check", pass, j,
					      slots[k].ref);
			if ((r = impl_free(impl, h, &slots[k])) < 0)
				return failed(r, "free", pass, j, slots[k].ref);
		}
	}
	return 0;
}

typedef int (*sample_fn)(void *h, const struct pat *pt, size_t size,
			 unsigned seq);

static int sample_shmkit(void *h, const struct pat *pt, size_t size,
			 unsigned seq)
{
	return sample_body(IMPL_SHMKIT, h, pt, size, seq);
}

static int sample_malloc(void *h, const struct pat *pt, size_t size,
			 unsigned seq)
{
	return sample_body(IMPL_MALLOC, h, pt, size, seq);
}

#ifdef BENCH_HAVE_BOOST
static int sample_boost(void *h, const struct pat *pt, size_t size,
			unsigned seq)
{
	return sample_body(IMPL_BOOST, h, pt, size, seq);
}
#endif

static const sample_fn samplers[NIMPL] = {
	sample_shmkit, sample_malloc,
#ifdef BENCH_HAVE_BOOST
	sample_boost,
#else
	NULL,
#endif
};

/* ------------------------------------------------------------------------ */
/* One process                                                               */

static double samples[MAX_SAMPLES];

static double median_d(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	return v[bench_rank(n, 50)];
}

/* A handle for impl in this process. */
static void *handle_of(int impl)
{
	return impl == IMPL_SHMKIT ? (void *)heap
	       : impl == IMPL_BOOST ? boost_seg
				    : NULL;
}

static void die_cell(int impl, const struct pat *pt, size_t size, int r)
{
	die("%s %s %zu B: %s (%d) in %s, pass %u, step %u, ref 0x%016llx",
	    impl_name[impl], pt->name, size, err_text(r), r,
	    fail.op ? fail.op : "?", fail.pass, fail.i,
	    (unsigned long long)fail.ref);
}

/* One round of one cell for one allocator: the median ns per pair. */
static double run_cell(int impl, const struct pat *pt, size_t size,
		       unsigned *seq)
{
	sample_fn fn = samplers[impl];
	void *h = handle_of(impl);
	uint64_t start, t0, t1;
	size_t n = 0;
	int r;

	for (int w = 0; w < 2; w++) /* warm the cache, the pages, the tree */
		if ((r = fn(h, pt, size, (*seq)++)) < 0)
			die_cell(impl, pt, size, r);
	start = t1 = bench_now_ns();
	while (n < MAX_SAMPLES && (n < 5 || t1 - start < cfg.budget_ns)) {
		t0 = bench_now_ns();
		r = fn(h, pt, size, (*seq)++);
		t1 = bench_now_ns();
		if (r < 0)
			die_cell(impl, pt, size, r);
		samples[n++] = (double)(t1 - t0) / SAMPLE_PAIRS;
	}
	return median_d(samples, n);
}

/* ns per pair, [pattern][size][impl][round] */
static double res1[NPAT][NSIZE][NIMPL][MAX_ROUNDS];
/* aggregate pairs/s of two processes, [pattern2][size][impl][round] */
static double res2[NPAT2][NSIZE][NIMPL][MAX_ROUNDS];

static void run_one_process(void)
{
	unsigned seq = 0;
	int nimpl = cfg.have_boost ? 3 : 2;

	for (int r = 0; r < cfg.rounds; r++) {
		for (size_t p = 0; p < NPAT; p++)
			for (size_t s = 0; s < NSIZE; s++)
				for (int k = 0; k < nimpl; k++) {
					int impl = (k + r) % nimpl;
					res1[p][s][impl][r] = run_cell(
						impl, &pats[p], sizes[s], &seq);
				}
		fprintf(stderr, "bench_heap: one process, round %d of %d done\n",
			r + 1, cfg.rounds);
	}
}

/* ------------------------------------------------------------------------ */
/* Two processes on one heap                                                 */

struct kid_res {
	uint64_t pairs, ns;
	int err;
	char msg[200];
};

struct ctl {
	int ready;
	int go;
	uint64_t deadline_ns;
	struct kid_res kid[2];
};

static struct ctl *ctl;

static void kid_fail(struct kid_res *kr, int err, const char *what)
{
	kr->err = err;
	snprintf(kr->msg, sizeof(kr->msg),
		 "%s: %s (%d) in %s, pass %u, step %u, ref 0x%016llx", what,
		 err_text(err), err, fail.op ? fail.op : "?", fail.pass,
		 fail.i, (unsigned long long)fail.ref);
	_exit(1);
}

static void kid_main(int k, int impl, const struct pat *pt, size_t size)
{
	struct kid_res *kr = &ctl->kid[k];
	unsigned seq = (unsigned)k << 20;
	shmkit_heap *mine = NULL;
	void *h = NULL;
	uint64_t start, t;
	int r;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (cfg.ncpu >= 2)
		(void)bench_pin(k);
	if (impl == IMPL_SHMKIT) {
		if ((r = shmkit_heap_open(cfg.heap_spec, 0, &mine)) < 0)
			kid_fail(kr, r, "shmkit_heap_open");
		h = mine;
	}
#ifdef BENCH_HAVE_BOOST
	else {
		char err[160];
		h = bh_boost_open(cfg.boost_name, err, sizeof(err));
		if (!h) {
			kr->err = -EIO;
			snprintf(kr->msg, sizeof(kr->msg), "boost open: %s", err);
			_exit(1);
		}
	}
#endif
	for (int w = 0; w < 2; w++)
		if ((r = samplers[impl](h, pt, size, seq++)) < 0)
			kid_fail(kr, r, "warm-up");
	__atomic_add_fetch(&ctl->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE))
		bench_relax();
	start = t = bench_now_ns();
	while (t < ctl->deadline_ns) {
		if ((r = samplers[impl](h, pt, size, seq++)) < 0)
			kid_fail(kr, r, "storm");
		kr->pairs += SAMPLE_PAIRS;
		t = bench_now_ns();
	}
	kr->ns = t - start;
	if (mine && (r = shmkit_heap_close(mine)) < 0)
		kid_fail(kr, r, "shmkit_heap_close");
#ifdef BENCH_HAVE_BOOST
	if (impl == IMPL_BOOST)
		bh_boost_close(h);
#endif
	_exit(0);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* One round of a two-process cell: the aggregate pairs per second. */
static double run_cell2(int impl, const struct pat *pt, size_t size)
{
	uint64_t t0;
	double rate = 0;
	int status;

	memset(ctl, 0, sizeof(*ctl));
	fflush(stdout);
	fflush(stderr);
	for (int k = 0; k < 2; k++) {
		pid_t p = fork();
		if (p < 0)
			die("fork: %s", strerror(errno));
		if (p == 0)
			kid_main(k, impl, pt, size);
		kids[k] = p;
	}
	/* Opening and warming up takes milliseconds; 10 s is a hang. */
	t0 = bench_now_ns();
	while (__atomic_load_n(&ctl->ready, __ATOMIC_ACQUIRE) < 2) {
		for (int k = 0; k < 2; k++)
			if (waitpid(kids[k], &status, WNOHANG) == kids[k]) {
				kids[k] = 0;
				die("%s %s %zu B, two processes: child %d died "
				    "before the start: %s",
				    impl_name[impl], pt->name, size, k,
				    ctl->kid[k].msg[0] ? ctl->kid[k].msg
						       : "no message");
			}
		if (bench_now_ns() - t0 > 10000000000u)
			die("%s %s %zu B, two processes: not ready after 10 s "
			    "(a hang in open or warm-up?)",
			    impl_name[impl], pt->name, size);
		sleep_ms(1);
	}
	ctl->deadline_ns = bench_now_ns() + cfg.budget_ns;
	__atomic_store_n(&ctl->go, 1, __ATOMIC_RELEASE);
	t0 = bench_now_ns();
	for (int k = 0; k < 2; k++) {
		while (waitpid(kids[k], &status, WNOHANG) == 0) {
			if (bench_now_ns() - t0 > cfg.budget_ns + 10000000000u)
				die("%s %s %zu B, two processes: child %d still "
				    "running 10 s after its deadline (a hang, "
				    "or a lock never released?)",
				    impl_name[impl], pt->name, size, k);
			sleep_ms(2);
		}
		kids[k] = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			die("%s %s %zu B, two processes: child %d %s: %s",
			    impl_name[impl], pt->name, size, k,
			    WIFSIGNALED(status) ? "killed by a signal" : "failed",
			    ctl->kid[k].msg[0] ? ctl->kid[k].msg : "no message");
	}
	for (int k = 0; k < 2; k++)
		rate += (double)ctl->kid[k].pairs * 1e9 /
			(double)(ctl->kid[k].ns ? ctl->kid[k].ns : 1);
	return rate;
}

static void run_two_processes(void)
{
	int impls[2] = {IMPL_SHMKIT, IMPL_BOOST};
	int nimpl = cfg.have_boost ? 2 : 1;

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	for (int r = 0; r < cfg.rounds; r++) {
		for (size_t p = 0; p < NPAT2; p++)
			for (size_t s = 0; s < NSIZE; s++)
				for (int k = 0; k < nimpl; k++) {
					int impl = impls[(k + r) % nimpl];
					res2[p][s][impl][r] = run_cell2(
						impl, &pats[pats2[p]], sizes[s]);
				}
		fprintf(stderr, "bench_heap: two processes, round %d of %d done\n",
			r + 1, cfg.rounds);
	}
}

/* ------------------------------------------------------------------------ */
/* Growth                                                                    */

struct grow_res {
	double create_ns, fill_ns;
	size_t blocks;
	unsigned parts;
	uint64_t size;
};

static struct blk *grow_blk;

static void fill_once(bool grow, struct grow_res *g)
{
	const char *spec = grow ? cfg.grow_spec : cfg.fixed_spec;
	size_t cap = GROW_TO / GROW_BLOCK;
	shmkit_heap_opts opts;
	shmkit_heap_info info;
	shmkit_heap *h;
	uint64_t t0, t1, t2;
	size_t n = 0;
	int r;

	memset(&opts, 0, sizeof(opts));
	opts.max_size = grow ? GROW_TO : 0;
	t0 = bench_now_ns();
	r = shmkit_heap_create(spec, grow ? GROW_FROM : GROW_TO, &opts, &h);
	t1 = bench_now_ns();
	if (r < 0)
		die("shmkit_heap_create(%s): %s", spec, err_text(r));
	for (;;) {
		if (n == cap)
			die("growth: %s took more than %zu blocks of %zu B", spec,
			    cap, (size_t)GROW_BLOCK);
		r = shmkit_heap_alloc(h, GROW_BLOCK, &grow_blk[n].ref);
		if (r == -ENOMEM)
			break;
		if (r < 0)
			die("growth: alloc %zu in %s: %s", n, spec, err_text(r));
		grow_blk[n].p = shmkit_heap_ptr(h, grow_blk[n].ref);
		if (!grow_blk[n].p)
			die("growth: block %zu of %s: %s", n, spec,
			    err_text(ERR_NULLPTR));
		use_block(grow_blk[n].p, GROW_BLOCK, (unsigned char)n);
		n++;
	}
	t2 = bench_now_ns();
	for (size_t i = 0; i < n; i++) /* nothing moved, nothing overlaps */
		if (!block_ok(grow_blk[i].p, GROW_BLOCK, (unsigned char)i))
			die("growth: block %zu of %s: %s", i, spec,
			    err_text(ERR_CORRUPT));
	if ((r = shmkit_heap_stat(h, &info)) < 0)
		die("shmkit_heap_stat(%s): %s", spec, err_text(r));
	if ((r = shmkit_heap_destroy(h)) < 0)
		die("shmkit_heap_destroy(%s): %s", spec, err_text(r));
	g->create_ns = (double)(t1 - t0);
	g->fill_ns = (double)(t2 - t1);
	g->blocks = n;
	g->parts = info.parts;
	g->size = info.size;
}

/*
 * The floor of a fill: what the same writes cost in a fresh shared
 * mapping with no allocator at all. A posix object made, sized and
 * reserved as the fixed heap's is (posix_fallocate), mapped, then the
 * first and last byte of one block after the other written, each block
 * with a 16-byte header before it as the heap's have. On a VM the first
 * write to each page (a fault) can cost microseconds: this is the part
 * of a fill no heap can avoid.
 */
static void fill_raw(struct grow_res *g)
{
	char name[96];
	size_t stride = GROW_BLOCK + 16, n = 0;
	uint64_t t0, t1, t2;
	unsigned char *p;
	int fd, r;

	snprintf(name, sizeof(name), "/%s-raw", cfg.prefix);
	t0 = bench_now_ns();
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die("shm_open(%s): %s", name, strerror(errno));
	(void)shm_unlink(name); /* nothing to leave behind from here on */
	if (ftruncate(fd, (off_t)GROW_TO) < 0)
		die("ftruncate: %s", strerror(errno));
	do
		r = posix_fallocate(fd, 0, (off_t)GROW_TO);
	while (r == EINTR);
	if (r)
		die("posix_fallocate: %s", strerror(r));
	p = mmap(NULL, GROW_TO, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	t1 = bench_now_ns();
	for (size_t off = 16; off + stride <= GROW_TO; off += stride, n++)
		use_block(p + off, GROW_BLOCK, (unsigned char)n);
	t2 = bench_now_ns();
	munmap(p, GROW_TO);
	close(fd);
	g->create_ns = (double)(t1 - t0);
	g->fill_ns = (double)(t2 - t1);
	g->blocks = n;
	g->parts = 1;
	g->size = GROW_TO;
}

static double med_field(struct grow_res *g, int n, size_t off)
{
	double v[MAX_ROUNDS];
	for (int i = 0; i < n; i++)
		v[i] = *(double *)((char *)&g[i] + off);
	return median_d(v, (size_t)n);
}

/* min..max over the rounds of a[r].fill / b[r].fill */
static void fill_spread(const struct grow_res *a, const struct grow_res *b,
			int n, double *lo, double *hi)
{
	for (int r = 0; r < n; r++) {
		double x = a[r].fill_ns / b[r].fill_ns;
		if (r == 0 || x < *lo)
			*lo = x;
		if (r == 0 || x > *hi)
			*hi = x;
	}
}

enum { G_GROWS, G_FIXED, G_RAW, NG };

static void run_growth(void)
{
	static struct grow_res g[NG][MAX_ROUNDS];
	double cr[NG], fl[NG], lo = 0, hi = 0, flo = 0, fhi = 0;
	char b1[32], b2[32], b3[32];
	/* A round is three 256 MiB fills, seconds on a VM: 3 are plenty. */
	int n = cfg.rounds < 3 ? cfg.rounds : 3;

	grow_blk = malloc((GROW_TO / GROW_BLOCK) * sizeof(*grow_blk));
	if (!grow_blk)
		die("malloc: %s", strerror(ENOMEM));
	for (int r = 0; r < n; r++) /* the order rotated by the round */
		for (int k = 0; k < NG; k++) {
			int which = (k + r) % NG;
			if (which == G_RAW)
				fill_raw(&g[which][r]);
			else
				fill_once(which == G_GROWS, &g[which][r]);
		}
	free(grow_blk);
	for (int w = 0; w < NG; w++) {
		cr[w] = med_field(g[w], n,
				  offsetof(struct grow_res, create_ns));
		fl[w] = med_field(g[w], n, offsetof(struct grow_res, fill_ns));
	}
	fill_spread(g[G_GROWS], g[G_FIXED], n, &lo, &hi);
	fill_spread(g[G_FIXED], g[G_RAW], n, &flo, &fhi);
	printf("\n== growth: %s blocks until the heap is full (-ENOMEM), each "
	       "written; median of %d round%s\n",
	       bench_fmt_size(b1, sizeof(b1), GROW_BLOCK), n, n > 1 ? "s" : "");
	printf("   raw: no heap, the same writes into a fresh reserved "
	       "mapping of %zu MiB (the page-fault floor)\n",
	       GROW_TO / MiB);
	printf("%-22s %10s %10s %8s %10s %6s %9s\n", "heap", "create", "fill",
	       "blocks", "per block", "parts", "size");
	for (int w = 0; w < NG; w++) {
		char name[40], per[32];
		if (w == G_GROWS)
			snprintf(name, sizeof(name), "grows %zu -> %zu MiB",
				 GROW_FROM / MiB, GROW_TO / MiB);
		else
			snprintf(name, sizeof(name), "%s %zu MiB",
				 w == G_FIXED ? "fixed" : "raw", GROW_TO / MiB);
		snprintf(per, sizeof(per), "%.0f ns",
			 fl[w] / (double)(g[w][0].blocks ? g[w][0].blocks : 1));
		printf("%-22s %10s %10s %8zu %10s %6u %9s\n", name,
		       bench_fmt_ns(b1, sizeof(b1), cr[w]),
		       bench_fmt_ns(b2, sizeof(b2), fl[w]), g[w][0].blocks, per,
		       g[w][0].parts,
		       bench_fmt_size(b3, sizeof(b3), (size_t)g[w][0].size));
	}
	bench_fmt_ns(b1, sizeof(b1), fl[G_GROWS]);
	bench_fmt_ns(b2, sizeof(b2), fl[G_FIXED]);
	printf("growth: filling a heap that grows %zu -> %zu MiB takes %s, one "
	       "of %zu MiB from the start %s: %.2fx (rounds %.2f-%.2f), "
	       "create + fill %.2fx; fixed fill / raw floor %.2fx "
	       "(%.2f-%.2f)\n",
	       GROW_FROM / MiB, GROW_TO / MiB, b1, GROW_TO / MiB, b2,
	       fl[G_GROWS] / fl[G_FIXED], lo, hi,
	       (cr[G_GROWS] + fl[G_GROWS]) / (cr[G_FIXED] + fl[G_FIXED]),
	       fl[G_FIXED] / fl[G_RAW], flo, fhi);
}

/* ------------------------------------------------------------------------ */
/* Report                                                                    */

/* The cell's figure: the median of its rounds. */
static double cell_med(const double *v)
{
	double t[MAX_ROUNDS];
	memcpy(t, v, (size_t)cfg.rounds * sizeof(*t));
	return median_d(t, (size_t)cfg.rounds);
}

/* "1.23x (1.10-1.40)": a/b of the medians, min..max of the rounds' a/b. */
static const char *fmt_ratio(char *buf, size_t len, const double *a,
			     const double *b, double *ret)
{
	double lo = 0, hi = 0, v = cell_med(a) / cell_med(b);
	for (int r = 0; r < cfg.rounds; r++) {
		double x = a[r] / b[r];
		if (r == 0 || x < lo)
			lo = x;
		if (r == 0 || x > hi)
			hi = x;
	}
	if (cfg.rounds > 1)
		snprintf(buf, len, "%.2fx (%.2f-%.2f)", v, lo, hi);
	else
		snprintf(buf, len, "%.2fx", v);
	if (ret)
		*ret = v;
	return buf;
}

/* "23.4 ns  42.7" */
static const char *fmt_pair(char *buf, size_t len, double ns)
{
	if (ns < 1000)
		snprintf(buf, len, "%7.1f ns %7.2f", ns, 1e3 / ns);
	else
		snprintf(buf, len, "%6.2f us %7.3f", ns / 1e3, 1e3 / ns);
	return buf;
}

static void print_one_process(void)
{
	char sz[32], c[NIMPL][48], r1[48], r2[48];

	printf("\n== one process: median ns per alloc+free pair, and Mops/s "
	       "(M pairs/s)\n");
	printf("   shmkit/malloc: time ratio (<= 2 is the target at 16-256 B, "
	       "pair); shmkit/boost: throughput ratio (>= 2)\n");
	printf("   (min-max of the per-round ratios)\n");
	printf("%-8s %6s  %18s  %18s  %18s  %-22s %-22s\n", "pattern", "size",
	       "shmkit      Mops", "malloc      Mops", "boost       Mops",
	       "shmkit/malloc time", "shmkit/boost thr");
	for (size_t p = 0; p < NPAT; p++) {
		for (size_t s = 0; s < NSIZE; s++) {
			double (*v)[MAX_ROUNDS] = res1[p][s];
			for (int i = 0; i < NIMPL; i++)
				if (i == IMPL_BOOST && !cfg.have_boost)
					snprintf(c[i], sizeof(c[i]), "%18s",
						 "not built");
				else
					fmt_pair(c[i], sizeof(c[i]),
						 cell_med(v[i]));
			fmt_ratio(r1, sizeof(r1), v[IMPL_SHMKIT], v[IMPL_MALLOC],
				  NULL);
			if (cfg.have_boost) /* thr ratio = inverse time ratio */
				fmt_ratio(r2, sizeof(r2), v[IMPL_BOOST],
					  v[IMPL_SHMKIT], NULL);
			else
				snprintf(r2, sizeof(r2), "-");
			printf("%-8s %6s  %18s  %18s  %18s  %-22s %-22s\n",
			       pats[p].name, bench_fmt_size(sz, sizeof(sz), sizes[s]),
			       c[0], c[1], c[2], r1, r2);
		}
	}
}

static void print_two_processes(void)
{
	char sz[32], a[32], b[32], r1[48], sc[2][24];

	printf("\n== two processes at once on one heap (%s), each its own "
	       "handle: aggregate Mops/s\n",
	       cfg.ncpu >= 2 ? "pinned to cpu0 and cpu1" : "one CPU");
	printf("   (x1p: the aggregate over the same allocator's one-process "
	       "rate above)\n");
	printf("%-8s %6s  %16s  %16s  %-22s\n", "pattern", "size",
	       "shmkit  x1p", "boost   x1p", "shmkit/boost thr");
	for (size_t p = 0; p < NPAT2; p++)
		for (size_t s = 0; s < NSIZE; s++) {
			double (*v)[MAX_ROUNDS] = res2[p][s];
			int impls[2] = {IMPL_SHMKIT, IMPL_BOOST};
			for (int k = 0; k < 2; k++) {
				int i = impls[k];
				if (i == IMPL_BOOST && !cfg.have_boost) {
					snprintf(sc[k], sizeof(sc[k]), "not built");
					continue;
				}
				double agg = cell_med(v[i]) / 1e6;
				double one = 1e3 / cell_med(res1[pats2[p]][s][i]);
				snprintf(sc[k], sizeof(sc[k]), "%7.2f %5.2fx", agg,
					 agg / one);
			}
			snprintf(a, sizeof(a), "%s", sc[0]);
			snprintf(b, sizeof(b), "%s", sc[1]);
			if (cfg.have_boost)
				fmt_ratio(r1, sizeof(r1), v[IMPL_SHMKIT],
					  v[IMPL_BOOST], NULL);
			else
				snprintf(r1, sizeof(r1), "-");
			printf("%-8s %6s  %16s  %16s  %-22s\n",
			       pats[pats2[p]].name,
			       bench_fmt_size(sz, sizeof(sz), sizes[s]), a, b, r1);
		}
}

static int targets_met, targets_total;

static void target(const char *what, double v, double bound, bool le)
{
	bool ok = le ? v <= bound : v >= bound;
	targets_total++;
	targets_met += ok;
	printf("target %-52s %6.2fx %s %.2fx  %s\n", what, v, le ? "<=" : ">=",
	       bound, ok ? "met" : "missed");
}

static void check_targets(void)
{
	char what[96], sz[32];
	double v;

	printf("\n== targets (small blocks, ratios of medians from this run)\n");
	for (size_t s = 0; s < NSIZE && sizes[s] <= SMALL_MAX; s++) {
		bench_fmt_size(sz, sizeof(sz), sizes[s]);
		v = cell_med(res1[0][s][IMPL_SHMKIT]) /
		    cell_med(res1[0][s][IMPL_MALLOC]);
		snprintf(what, sizeof(what), "shmkit/malloc time, pair, %s", sz);
		target(what, v, 2.0, true);
	}
	for (size_t s = 0; s < NSIZE && sizes[s] <= SMALL_MAX; s++) {
		bench_fmt_size(sz, sizeof(sz), sizes[s]);
		snprintf(what, sizeof(what), "shmkit/boost throughput, pair, %s",
			 sz);
		if (!cfg.have_boost) {
			printf("target %-52s not checked (boost: not built)\n",
			       what);
			continue;
		}
		v = cell_med(res1[0][s][IMPL_BOOST]) /
		    cell_med(res1[0][s][IMPL_SHMKIT]);
		target(what, v, 2.0, false);
	}
	for (size_t s = 0; s < NSIZE && sizes[s] <= SMALL_MAX; s++) {
		bench_fmt_size(sz, sizeof(sz), sizes[s]);
		snprintf(what, sizeof(what),
			 "shmkit/boost throughput, 2 procs, pair, %s", sz);
		if (!cfg.have_boost) {
			printf("target %-52s not checked (boost: not built)\n",
			       what);
			continue;
		}
		v = cell_med(res2[0][s][IMPL_SHMKIT]) /
		    cell_med(res2[0][s][IMPL_BOOST]);
		target(what, v, 2.0, false);
	}
	printf("heap targets: %d of %d met%s\n", targets_met, targets_total,
	       targets_met == targets_total ? "" : " (target missed)");
}

/* "12.3 KiB", "255.98 MiB": bytes as a reader takes them in. */
static const char *fmt_bytes(char *buf, size_t len, uint64_t n)
{
	if (n >= MiB)
		snprintf(buf, len, "%.2f MiB", (double)n / MiB);
	else if (n >= KiB)
		snprintf(buf, len, "%.1f KiB", (double)n / KiB);
	else
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	return buf;
}

/* What the heap says of itself after the run: leaks, soundness. */
static void report_heap(void)
{
	shmkit_heap_info info;
	char why[256] = "";
	char b1[32], b2[32], b3[32], b4[32];
	int r;

	if ((r = shmkit_heap_stat(heap, &info)) < 0) {
		printf("\nheap after the run: shmkit_heap_stat: %s\n",
		       err_text(r));
		return;
	}
	r = shmkit_heap_check(heap, why, sizeof(why));
	printf("\nheap after the run: %llu live allocations, used %s, free %s "
	       "(largest %s), cached %s, lost %llu B, %u procs; check: %s%s\n",
	       (unsigned long long)info.allocations,
	       fmt_bytes(b1, sizeof(b1), info.used),
	       fmt_bytes(b2, sizeof(b2), info.free),
	       fmt_bytes(b3, sizeof(b3), info.largest_free),
	       fmt_bytes(b4, sizeof(b4), info.cached),
	       (unsigned long long)info.lost_bytes, info.procs,
	       r == 0 ? "ok" : err_text(r), r == 0 ? "" : why);
}

/* ------------------------------------------------------------------------ */

static void make_perms(void)
{
	uint64_t x = 0x9e3779b97f4a7c15u; /* fixed: every run shuffles alike */
	uint16_t (*sets[3])[WIN_MAX] = {perm64, perm256, perm1024};
	unsigned ns[3] = {64, 256, 1024};

	for (int w = 0; w < 3; w++)
		for (int k = 0; k < NPERM; k++) {
			uint16_t *p = sets[w][k];
			for (unsigned i = 0; i < ns[w]; i++)
				p[i] = (uint16_t)i;
			for (unsigned i = ns[w] - 1; i > 0; i--) {
				unsigned j;
				uint16_t t;
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				j = (unsigned)(x % (i + 1));
				t = p[i];
				p[i] = p[j];
				p[j] = t;
			}
		}
}

int main(void)
{
	struct sigaction sa;
	shmkit_heap_opts opts;
	char left[1024] = "";
	int pid = (int)getpid(), r;
	double la[3] = {0};
	FILE *f;

	cfg.quick = bench_env_long("BENCH_QUICK", 0) != 0;
	cfg.rounds = (int)bench_env_long("BENCH_ROUNDS", cfg.quick ? 1 : 5);
	if (cfg.rounds < 1)
		cfg.rounds = 1;
	if (cfg.rounds > MAX_ROUNDS)
		cfg.rounds = MAX_ROUNDS;
	cfg.budget_ns = (uint64_t)bench_env_long("BENCH_HEAP_MS",
						 cfg.quick ? 30 : 100) * 1000000u;
	cfg.ncpu = bench_ncpus();
	snprintf(cfg.prefix, sizeof(cfg.prefix), "shmkit-bench-%d-heap", pid);
	cfg.prefix_len = strlen(cfg.prefix);
	snprintf(cfg.heap_spec, sizeof(cfg.heap_spec), "posix:/%s", cfg.prefix);
	snprintf(cfg.grow_spec, sizeof(cfg.grow_spec), "posix:/%s-grow",
		 cfg.prefix);
	snprintf(cfg.fixed_spec, sizeof(cfg.fixed_spec), "posix:/%s-fixed",
		 cfg.prefix);
	snprintf(cfg.boost_name, sizeof(cfg.boost_name), "%s-boost", cfg.prefix);
	make_perms();
	if (!mallopt(M_TRIM_THRESHOLD, INT_MAX))
		die("mallopt(M_TRIM_THRESHOLD) failed");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL); /* | head, a dead tee */

	memset(&opts, 0, sizeof(opts));
	if ((r = shmkit_heap_create(cfg.heap_spec, HEAP_BYTES, &opts, &heap)) < 0)
		die("shmkit_heap_create(%s): %s", cfg.heap_spec, err_text(r));
#ifdef BENCH_HAVE_BOOST
	{
		char err[160];
		boost_seg = bh_boost_create(cfg.boost_name, HEAP_BYTES, err,
					    sizeof(err));
		if (!boost_seg)
			die("boost managed_shared_memory %s: %s", cfg.boost_name,
			    err);
		cfg.have_boost = true;
	}
#endif

	if ((f = fopen("/proc/loadavg", "re"))) {
		if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3)
			la[0] = la[1] = la[2] = 0;
		fclose(f);
	}
	printf("shmkit %s heap: alloc+free pairs, shmkit heap vs glibc malloc "
	       "vs Boost.Interprocess managed_shared_memory\n",
	       shmkit_version_string());
	printf("shmkit: %s, %zu MiB, fixed\n", cfg.heap_spec,
	       (size_t)HEAP_BYTES / MiB);
#ifdef BENCH_HAVE_BOOST
	printf("boost: %s managed_shared_memory /dev/shm/%s, %zu MiB "
	       "(rbtree_best_fit under one process-shared mutex)\n",
	       bh_boost_version(), cfg.boost_name, (size_t)HEAP_BYTES / MiB);
#else
	printf("boost: not built (install libboost-dev)\n");
#endif
	printf("%d round%s x %llu ms per cell and allocator%s, interleaved "
	       "(order rotated by round); samples of %u pairs; %d CPUs; load "
	       "%.2f %.2f %.2f\n",
	       cfg.rounds, cfg.rounds > 1 ? "s" : "",
	       (unsigned long long)(cfg.budget_ns / 1000000u),
	       cfg.quick ? " (BENCH_QUICK)" : "", SAMPLE_PAIRS, cfg.ncpu, la[0],
	       la[1], la[2]);
	printf("malloc: glibc %s, M_TRIM_THRESHOLD off (keeps its memory, as "
	       "the shared heaps do)\n",
	       gnu_get_libc_version());
	printf("pair: alloc, write first+last byte, check, free; winN: alloc N, "
	       "then free them in a shuffled order\n");
	printf("a shmkit pair includes shmkit_heap_ptr(); one op = one pair\n");
	fflush(stdout);

	{ /* one CPU for the one-process part; the children pin themselves */
		cpu_set_t saved;
		bool have = sched_getaffinity(0, sizeof(saved), &saved) == 0;
		(void)bench_pin(0);
		run_one_process();
		if (have)
			(void)sched_setaffinity(0, sizeof(saved), &saved);
	}
	print_one_process();
	fflush(stdout);
	run_two_processes();
	print_two_processes();
	report_heap();
	fflush(stdout);

	if ((r = shmkit_heap_destroy(heap)) < 0)
		die("shmkit_heap_destroy: %s", err_text(r));
	heap = NULL;
#ifdef BENCH_HAVE_BOOST
	bh_boost_close(boost_seg);
	boost_seg = NULL;
	bh_boost_remove(cfg.boost_name);
#endif
	run_growth();
	check_targets();
	if (sweep(left, sizeof(left)) > 0)
		printf("WARNING: left in /dev/shm after destroy (removed now): "
		       "%s\n",
		       left);
	return 0;
}
