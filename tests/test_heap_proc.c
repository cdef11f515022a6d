/*
 * test_heap_proc.c: one heap, several processes.
 *
 *  - storms of 2, 4 and 8 processes allocating and freeing on one posix:
 *    heap that grows meanwhile; every block carries its own ref, size and
 *    a pattern, checked before it is freed; blocks travel between
 *    processes through a table in a named object, so most frees are of
 *    another process's block; afterwards the heap checks sound and its
 *    figures are back where they started;
 *  - a reader that keeps checking blocks made before growth (same pointer,
 *    same bytes) while a writer grows the heap step by step, and reads the
 *    blocks in the new parts as they appear;
 *  - 8 processes racing heap_get on one name: exactly one is told 1, all
 *    get the same ref (and with two sizes, the other size -EEXIST);
 *  - 8 processes racing to free one ref: exactly one succeeds;
 *  - a memfd: heap passed with shmkit_send_fd, opened as "fd:N" by the
 *    receiver: it grows on either side and both see it;
 *  - an anon: heap shared across fork.
 *
 * Every wait has a bound; a child that dies or fails is a failure that
 * says which child and why. Names are unique to the test's pid, and
 * everything made is destroyed.
 */
#include "heap_test.h"

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLOW 3
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SLOW 3
#endif
#endif
#ifndef SLOW
#define SLOW 1
#endif

#define CHILD_MS (30000 * SLOW) /* what a child may take, at most */

/* -- helpers --------------------------------------------------------------- */

static uint64_t base_seed;

/* NULL if the block at p is intact for ref; else what is wrong. */
static const char *proof(const void *p, shmkit_ref ref, size_t usable)
{
	static char why[160];
	struct bhdr h;
	const uint8_t *b = p;
	size_t i;

	if (!p)
		return "ptr() is NULL for a live ref";
	memcpy(&h, p, sizeof(h));
	if (h.ref != ref) {
		snprintf(why, sizeof(why), "the block holds ref %#llx",
			 (unsigned long long)h.ref);
		return why;
	}
	if (h.size < sizeof(h) || h.size > usable) {
		snprintf(why, sizeof(why), "size %llu, usable %zu",
			 (unsigned long long)h.size, usable);
		return why;
	}
	for (i = sizeof(h); i < h.size; i++)
		if (b[i] != pat(h.seed, i)) {
			snprintf(why, sizeof(why), "byte %zu of %llu changed", i,
				 (unsigned long long)h.size);
			return why;
		}
	return NULL;
}

static const char *verify(shmkit_heap *h, shmkit_ref ref)
{
	void *p = shmkit_heap_ptr(h, ref);
	return proof(p, ref, p ? shmkit_heap_usable(h, ref) : 0);
}

static shmkit_heap *open_or_cfail(const char *spec)
{
	shmkit_heap *h;
	int r = shmkit_heap_open(spec, 0, &h);
	if (r < 0)
		CFAIL("open %s: %s", spec, shmkit_strerror(r));
	return h;
}

#define check_ok(h, when) check_ok_((h), (when), __LINE__)

/* Shared between the test and its children. */
struct ctl {
	uint32_t ready;
	uint32_t go;
	uint32_t done;
	uint32_t phase;
	uint64_t passes;   /* the reader's completed verification passes */
	uint64_t size;     /* a size one side reports to the other */
	uint32_t parts;
	int32_t rc[16];
	uint64_t ref[16];
	uint64_t ops[16];
};

static struct ctl *ctl;

static void reset(void)
{
	memset(ctl, 0, sizeof(*ctl));
}

/* Wait (polling) until *w >= v, at most ms; 0 on timeout. */
static int wait_u32(const uint32_t *w, uint32_t v, int ms)
{
	int64_t end = now_ms() + ms;
	while (__atomic_load_n(w, __ATOMIC_ACQUIRE) < v) {
		if (now_ms() > end)
			return 0;
		poll(NULL, 0, 1);
	}
	return 1;
}

static int wait_u64(const uint64_t *w, uint64_t v, int ms)
{
	int64_t end = now_ms() + ms;
	while (__atomic_load_n(w, __ATOMIC_ACQUIRE) < v) {
		if (now_ms() > end)
			return 0;
		poll(NULL, 0, 1);
	}
	return 1;
}

static void setup(void)
{
	const char *e = getenv("SHMKIT_HEAP_SEED");
	base_seed = e ? strtoull(e, NULL, 0)
		      : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	if (!base_seed)
		base_seed = 1;
	rng_state = base_seed;
	printf("     seed %llu (SHMKIT_HEAP_SEED)\n",
	       (unsigned long long)base_seed);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT(ctl != MAP_FAILED);
}

/* -- storms ---------------------------------------------------------------- */

#define XFER 256   /* slots of the table blocks travel through */
#define LOCAL 64   /* blocks a child holds at most */

static void storm_child(const char *spec, unsigned id, unsigned ops)
{
	shmkit_heap *h = open_or_cfail(spec);
	shmkit_ref xr, local[LOCAL];
	uint64_t *xfer;
	size_t xsz;
	unsigned n = 0, i, freed_foreign = 0;
	const char *why;

	rng_state = base_seed ^ (0x1234567ull * (id + 1));
	COK(shmkit_heap_find(h, "xfer", &xr, &xsz));
	if (xsz != XFER * sizeof(uint64_t))
		CFAIL("xfer has %zu bytes", xsz);
	xfer = shmkit_heap_ptr(h, xr);
	if (!xfer)
		CFAIL("xfer: no pointer");
	__atomic_fetch_add(&ctl->ready, 1, __ATOMIC_ACQ_REL);
	if (!wait_u32(&ctl->go, 1, CHILD_MS))
		CFAIL("never told to go");
	for (i = 0; i < ops; i++) {
		unsigned op = (unsigned)(rnd() % 100);
		if (op < 40 && n < LOCAL) {
			size_t sz = rnd() % 20 == 0 ? 8 * KiB + rnd() % (56 * KiB)
						    : 24 + rnd() % 2000;
			shmkit_ref r;
			int e = rnd() % 8 == 0 ? shmkit_heap_calloc(h, sz, &r)
					       : shmkit_heap_alloc(h, sz, &r);
			void *p;
			if (e == -ENOMEM)
				continue;
			COK(e);
			p = shmkit_heap_ptr(h, r);
			if (!p || shmkit_heap_usable(h, r) < sz)
				CFAIL("fresh ref %#llx: ptr %p usable %zu < %zu",
				      (unsigned long long)r, p,
				      shmkit_heap_usable(h, r), sz);
			if (shmkit_heap_ref(h, p) != r)
				CFAIL("ref(ptr(r)) != r");
			stamp(p, r, sz, rnd());
			local[n++] = r;
		} else if (op < 65 && n > 0) {
			unsigned k = (unsigned)(rnd() % n);
			if ((why = verify(h, local[k])) != NULL)
				CFAIL("own block %#llx: %s",
				      (unsigned long long)local[k], why);
			COK(shmkit_heap_free(h, local[k]));
			local[k] = local[--n];
		} else if (op < 85 && n > 0) {
			unsigned k = (unsigned)(rnd() % n);
			unsigned s = (unsigned)(rnd() % XFER);
			uint64_t zero = 0;
			if (__atomic_compare_exchange_n(&xfer[s], &zero, local[k],
							false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE))
				local[k] = local[--n];
		} else if (op < 99) {
			unsigned s = (unsigned)(rnd() % XFER);
			uint64_t r = __atomic_exchange_n(&xfer[s], 0,
							 __ATOMIC_ACQ_REL);
			if (!r)
				continue;
			if ((why = verify(h, r)) != NULL)
				CFAIL("block %#llx from the table: %s",
				      (unsigned long long)r, why);
			COK(shmkit_heap_free(h, r));
			freed_foreign++;
		} else {
			char cwhy[256] = "";
			shmkit_heap_info in;
			int e = shmkit_heap_check(h, cwhy, sizeof(cwhy));
			if (e != 0)
				CFAIL("check during the storm: %s: %s",
				      shmkit_err_name(e), cwhy);
			COK(shmkit_heap_stat(h, &in));
			if (in.used + in.free > in.size || in.size > in.max_size)
				CFAIL("stat during the storm: used %llu free "
				      "%llu size %llu",
				      (unsigned long long)in.used,
				      (unsigned long long)in.free,
				      (unsigned long long)in.size);
		}
	}
	for (i = 0; i < n; i++) {
		if ((why = verify(h, local[i])) != NULL)
			CFAIL("own block %#llx at the end: %s",
			      (unsigned long long)local[i], why);
		COK(shmkit_heap_free(h, local[i]));
	}
	ctl->ops[id] = freed_foreign;
	COK(shmkit_heap_close(h));
	_exit(0);
}

static void storm(unsigned nproc)
{
	const char *spec = pspec("storm");
	shmkit_heap_opts o = {0};
	shmkit_heap *h;
	shmkit_heap_info base, in;
	shmkit_ref xr;
	uint64_t *xfer, foreign = 0;
	pid_t pids[16];
	unsigned i, left = 0, ops = 24000 / nproc / SLOW;
	char what[64];
	const char *why;

	o.max_size = 64 * MiB;
	ASSERT_OK(shmkit_heap_create(spec, 256 * KiB, &o, &h));
	ASSERT_EQ(shmkit_heap_get(h, "xfer", XFER * sizeof(uint64_t), &xr), 1);
	xfer = shmkit_heap_ptr(h, xr);
	base = hstat(h);
	reset();
	for (i = 0; i < nproc; i++) {
		pids[i] = fork();
		ASSERT(pids[i] >= 0);
		if (pids[i] == 0)
			storm_child(spec, i, ops);
	}
	if (!wait_u32(&ctl->ready, nproc, CHILD_MS))
		FAIL_("%u storm children: only %u got ready", nproc, ctl->ready);
	__atomic_store_n(&ctl->go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < nproc; i++) {
		snprintf(what, sizeof(what), "storm child %u of %u", i, nproc);
		test_expect_child_ok(pids[i], CHILD_MS, what);
		foreign += ctl->ops[i];
	}
	/* What is left in the table: intact, and ours to free. */
	for (i = 0; i < XFER; i++) {
		if (!xfer[i])
			continue;
		if ((why = verify(h, xfer[i])) != NULL)
			FAIL_("block %#llx left in the table: %s",
			      (unsigned long long)xfer[i], why);
		ASSERT_OK(shmkit_heap_free(h, xfer[i]));
		xfer[i] = 0;
		left++;
	}
	check_ok(h, "after the storm");
	in = hstat(h);
	printf("     %u processes: %llu cross-process frees, %u left in the "
	       "table; %u parts, %llu bytes\n",
	       nproc, (unsigned long long)foreign, left, in.parts,
	       (unsigned long long)in.size);
	ASSERT(foreign > 0);
	ASSERT_EQ(in.allocations, base.allocations);
	ASSERT_EQ(in.named, 1);
	ASSERT_EQ(in.used, base.used);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_EQ(in.recoveries, 0);
	ASSERT_EQ(in.procs, 1);
	ASSERT(in.used + in.free <= in.size);
	ASSERT(in.size <= in.max_size);
	ASSERT_OK(shmkit_heap_unname(h, "xfer"));
	ASSERT_EQ(hstat(h).allocations, 0);
	check_ok(h, "emptied after the storm");
	ASSERT_OK(shmkit_heap_destroy(h));
}

static void storm_2(void)
{
	storm(2);
}

static void storm_4(void)
{
	storm(4);
}

static void storm_8(void)
{
	storm(8);
}

/* -- growth while another process reads -------------------------------------- */

#define OLD 200
#define GROW_STEPS 6
#define TABLE 4096

static void grow_writer(const char *spec)
{
	shmkit_heap *h = open_or_cfail(spec);
	shmkit_ref tr, r;
	uint64_t *table;
	unsigned n = 0, step;
	shmkit_heap_info in;

	rng_state = base_seed ^ 0xabcdef;
	COK(shmkit_heap_find(h, "table", &tr, NULL));
	table = shmkit_heap_ptr(h, tr);
	if (!table)
		CFAIL("no table");
	for (; n < OLD; n++) {
		size_t sz = 24 + rnd() % 1500;
		COK(shmkit_heap_alloc(h, sz, &r));
		stamp(shmkit_heap_ptr(h, r), r, sz, rnd());
		__atomic_store_n(&table[n], r, __ATOMIC_RELEASE);
	}
	COK(shmkit_heap_stat(h, &in));
	ctl->parts = in.parts;
	__atomic_store_n(&ctl->phase, 1, __ATOMIC_RELEASE);
	/* Grow, one step at a time, each followed by a whole pass of the
	 * reader, so reads and growth interleave. */
	for (step = 0; step < GROW_STEPS; step++) {
		uint64_t seen = __atomic_load_n(&ctl->passes, __ATOMIC_ACQUIRE);
		unsigned parts0;
		COK(shmkit_heap_stat(h, &in));
		parts0 = in.parts;
		while (in.parts == parts0) {
			size_t sz = 32 * KiB + rnd() % (32 * KiB);
			if (n >= TABLE)
				CFAIL("table full before growth");
			COK(shmkit_heap_alloc(h, sz, &r));
			stamp(shmkit_heap_ptr(h, r), r, sz, rnd());
			__atomic_store_n(&table[n++], r, __ATOMIC_RELEASE);
			COK(shmkit_heap_stat(h, &in));
		}
		ctl->size = n;
		if (!wait_u64(&ctl->passes, seen + 2, CHILD_MS))
			CFAIL("the reader stopped reading");
	}
	COK(shmkit_heap_stat(h, &in));
	ctl->parts = in.parts;
	ctl->size = n;
	__atomic_store_n(&ctl->done, 1, __ATOMIC_RELEASE);
	COK(shmkit_heap_close(h));
	_exit(0);
}

static void grow_reader(const char *spec)
{
	shmkit_heap *h = open_or_cfail(spec);
	shmkit_ref tr;
	uint64_t *table;
	static void *old[OLD];
	unsigned i;
	const char *why;
	shmkit_heap_info in;

	COK(shmkit_heap_find(h, "table", &tr, NULL));
	table = shmkit_heap_ptr(h, tr);
	if (!table)
		CFAIL("no table");
	if (!wait_u32(&ctl->phase, 1, CHILD_MS))
		CFAIL("the writer made no blocks");
	for (i = 0; i < OLD; i++) {
		old[i] = shmkit_heap_ptr(h, table[i]);
		if ((why = verify(h, table[i])) != NULL)
			CFAIL("block %u before growth: %s", i, why);
	}
	for (;;) {
		int last = __atomic_load_n(&ctl->done, __ATOMIC_ACQUIRE);
		for (i = 0; i < OLD; i++) {
			void *p = shmkit_heap_ptr(h, table[i]);
			if (p != old[i])
				CFAIL("block %u made before growth moved: %p, was "
				      "%p",
				      i, p, old[i]);
			if ((why = proof(p, table[i],
					 shmkit_heap_usable(h, table[i]))))
				CFAIL("block %u made before growth: %s", i, why);
		}
		for (i = OLD; i < TABLE; i++) {
			uint64_t r = __atomic_load_n(&table[i], __ATOMIC_ACQUIRE);
			if (!r)
				break;
			if ((why = verify(h, r)) != NULL)
				CFAIL("block %u made by growth: %s", i, why);
		}
		__atomic_fetch_add(&ctl->passes, 1, __ATOMIC_ACQ_REL);
		if (last)
			break;
	}
	COK(shmkit_heap_stat(h, &in));
	if (in.parts != ctl->parts)
		CFAIL("the reader sees %u parts, the writer made %u", in.parts,
		      ctl->parts);
	COK(shmkit_heap_close(h));
	_exit(0);
}

static void growth_while_reading(void)
{
	const char *spec = pspec("grow");
	shmkit_heap_opts o = {0};
	shmkit_heap *h;
	shmkit_heap_info in;
	shmkit_ref tr;
	uint64_t *table;
	pid_t w, r;
	unsigned i;
	const char *why;

	o.max_size = 256 * MiB;
	ASSERT_OK(shmkit_heap_create(spec, 64 * KiB, &o, &h));
	ASSERT_EQ(shmkit_heap_get(h, "table", TABLE * sizeof(uint64_t), &tr), 1);
	table = shmkit_heap_ptr(h, tr);
	reset();
	r = fork();
	ASSERT(r >= 0);
	if (r == 0)
		grow_reader(spec);
	w = fork();
	ASSERT(w >= 0);
	if (w == 0)
		grow_writer(spec);
	test_expect_child_ok(w, CHILD_MS, "the growing writer");
	test_expect_child_ok(r, CHILD_MS, "the reader during growth");
	in = hstat(h);
	printf("     %llu blocks, %u parts, %llu bytes; the reader made %llu "
	       "passes\n",
	       (unsigned long long)ctl->size, in.parts,
	       (unsigned long long)in.size, (unsigned long long)ctl->passes);
	ASSERT(in.parts >= 1 + GROW_STEPS);
	ASSERT_EQ(in.parts, ctl->parts);
	ASSERT(ctl->passes >= 2 * GROW_STEPS);
	for (i = 0; i < ctl->size; i++) {
		if ((why = verify(h, table[i])) != NULL)
			FAIL_("block %u, in the test: %s", i, why);
		ASSERT_OK(shmkit_heap_free(h, table[i]));
	}
	check_ok(h, "after growth while reading");
	in = hstat(h);
	ASSERT_EQ(in.allocations, 1);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* -- races ----------------------------------------------------------------- */

static void race_get_child(const char *spec, unsigned id, const char *name,
			   size_t size)
{
	shmkit_heap *h = open_or_cfail(spec);
	shmkit_ref r = 0;
	int e;

	__atomic_fetch_add(&ctl->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE))
		; /* spin: all start within a few instructions */
	e = shmkit_heap_get(h, name, size, &r);
	ctl->rc[id] = e;
	ctl->ref[id] = r;
	COK(shmkit_heap_close(h));
	_exit(0);
}

static void race_get_round(shmkit_heap *h, const char *spec, const char *name,
			   int two_sizes)
{
	const unsigned n = 8;
	pid_t pids[8];
	unsigned i, made = 0, winner = 0;
	shmkit_ref r;
	size_t sz, wsize;
	unsigned char *p;

	reset();
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		ASSERT(pids[i] >= 0);
		if (pids[i] == 0)
			race_get_child(spec, i, name,
				       two_sizes && i % 2 ? 200 : 100);
	}
	if (!wait_u32(&ctl->ready, n, CHILD_MS))
		FAIL_("racing get: only %u of %u children got ready", ctl->ready,
		      n);
	__atomic_store_n(&ctl->go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++)
		test_expect_child_ok(pids[i], CHILD_MS, "racing get");
	for (i = 0; i < n; i++)
		if (ctl->rc[i] == 1) {
			made++;
			winner = i;
		}
	if (made != 1)
		FAIL_("%s: %u processes were told they created it", name, made);
	wsize = two_sizes && winner % 2 ? 200 : 100;
	for (i = 0; i < n; i++) {
		size_t mine = two_sizes && i % 2 ? 200 : 100;
		if (i == winner)
			continue;
		if (mine == wsize) {
			if (ctl->rc[i] != 0 || ctl->ref[i] != ctl->ref[winner])
				FAIL_("%s: child %u got %d, ref %#llx; the "
				      "creator's is %#llx",
				      name, i, ctl->rc[i],
				      (unsigned long long)ctl->ref[i],
				      (unsigned long long)ctl->ref[winner]);
		} else if (ctl->rc[i] != -EEXIST) {
			FAIL_("%s: child %u asked another size: %d, not -EEXIST",
			      name, i, ctl->rc[i]);
		}
	}
	ASSERT_OK(shmkit_heap_find(h, name, &r, &sz));
	ASSERT_EQ(r, ctl->ref[winner]);
	ASSERT_EQ(sz, wsize);
	p = shmkit_heap_ptr(h, r);
	ASSERT(p != NULL);
	for (i = 0; i < wsize; i++)
		ASSERT_EQ(p[i], 0);
}

static int count_cb(const char *name, shmkit_ref ref, size_t size, void *arg)
{
	(void)name;
	(void)ref;
	(void)size;
	(*(int *)arg)++;
	return 0;
}

static void racing_get(void)
{
	const char *spec = pspec("race");
	shmkit_heap *h;
	shmkit_heap_opts o = {0};
	char name[32];
	int k, cnt = 0;

	o.max_size = 4 * MiB;
	ASSERT_OK(shmkit_heap_create(spec, 64 * KiB, &o, &h));
	for (k = 0; k < 24; k++) {
		snprintf(name, sizeof(name), "race-%d", k);
		race_get_round(h, spec, name, k % 3 == 2);
	}
	ASSERT_EQ(shmkit_heap_names(h, count_cb, &cnt), 24);
	ASSERT_EQ(cnt, 24);
	ASSERT_EQ(hstat(h).named, 24);
	check_ok(h, "after racing gets");
	ASSERT_OK(shmkit_heap_destroy(h));
}

static void race_free_child(const char *spec, unsigned id, shmkit_ref r)
{
	shmkit_heap *h = open_or_cfail(spec);

	__atomic_fetch_add(&ctl->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&ctl->go, __ATOMIC_ACQUIRE))
		;
	ctl->rc[id] = shmkit_heap_free(h, r);
	COK(shmkit_heap_close(h));
	_exit(0);
}

/* Of 8 processes freeing one ref at once, one succeeds; the rest -EINVAL. */
static void racing_free(void)
{
	const char *spec = pspec("rfree");
	shmkit_heap *h;
	shmkit_heap_opts o = {0};
	shmkit_heap_info base, in;
	int k;

	o.max_size = 4 * MiB;
	ASSERT_OK(shmkit_heap_create(spec, 64 * KiB, &o, &h));
	base = hstat(h);
	for (k = 0; k < 30; k++) {
		size_t sz = k % 3 == 0 ? 40 : k % 3 == 1 ? 900 : 20000;
		pid_t pids[8];
		unsigned i, ok = 0;
		shmkit_ref r;

		ASSERT_OK(shmkit_heap_alloc(h, sz, &r));
		reset();
		for (i = 0; i < 8; i++) {
			pids[i] = fork();
			ASSERT(pids[i] >= 0);
			if (pids[i] == 0)
				race_free_child(spec, i, r);
		}
		if (!wait_u32(&ctl->ready, 8, CHILD_MS))
			FAIL_("racing free: children not ready");
		__atomic_store_n(&ctl->go, 1, __ATOMIC_RELEASE);
		for (i = 0; i < 8; i++)
			test_expect_child_ok(pids[i], CHILD_MS, "racing free");
		for (i = 0; i < 8; i++) {
			if (ctl->rc[i] == 0)
				ok++;
			else if (ctl->rc[i] != -EINVAL)
				FAIL_("racing free of a %zu-byte block: child %u "
				      "got %d",
				      sz, i, ctl->rc[i]);
		}
		if (ok != 1)
			FAIL_("racing free of a %zu-byte block: %u frees "
			      "succeeded",
			      sz, ok);
		ASSERT(shmkit_heap_ptr(h, r) == NULL);
		ASSERT_ERR(shmkit_heap_free(h, r), EINVAL);
	}
	in = hstat(h);
	ASSERT_EQ(in.allocations, base.allocations);
	ASSERT_EQ(in.used, base.used);
	ASSERT_EQ(in.lost_bytes, 0);
	check_ok(h, "after racing frees");
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* -- memfd passed over a socket, opened as fd:N ------------------------------ */

static int sock_byte(int fd, char want, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	char c;

	if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
		return 0;
	return c == want;
}

/* Allocate stamped blocks of sz bytes into the named table from index
 * *n on, until the heap has more parts than it had. */
static int grow_into(shmkit_heap *h, uint64_t *table, unsigned *n, size_t max)
{
	shmkit_heap_info in;
	unsigned parts0;
	int e;

	if ((e = shmkit_heap_stat(h, &in)) < 0)
		return e;
	parts0 = in.parts;
	while (in.parts == parts0) {
		shmkit_ref r;
		size_t sz = 16 * KiB + rnd() % (16 * KiB);
		if (*n >= max)
			return -ENOSPC;
		if ((e = shmkit_heap_alloc(h, sz, &r)) < 0)
			return e;
		stamp(shmkit_heap_ptr(h, r), r, sz, rnd());
		table[(*n)++] = r;
		if ((e = shmkit_heap_stat(h, &in)) < 0)
			return e;
	}
	return 0;
}

static void fdpass_child(int sock)
{
	shmkit_seg *seg;
	shmkit_heap *h;
	shmkit_heap_info in;
	shmkit_ref tr;
	uint64_t *table;
	char spec[32];
	unsigned n, i, mine0;
	const char *why;

	rng_state = base_seed ^ 0x55;
	COK(shmkit_recv_fd(sock, NULL, &seg));
	snprintf(spec, sizeof(spec), "fd:%d", shmkit_fd(seg));
	h = open_or_cfail(spec);
	COK(shmkit_detach(seg)); /* the heap has a descriptor of its own */
	COK(shmkit_heap_find(h, "table", &tr, NULL));
	table = shmkit_heap_ptr(h, tr);
	n = (unsigned)ctl->size;
	mine0 = n;
	/* Grow it from here. */
	COK(grow_into(h, table, &n, 1024));
	COK(grow_into(h, table, &n, 1024));
	COK(shmkit_heap_stat(h, &in));
	ctl->parts = in.parts;
	ctl->size = n;
	ctl->ref[0] = in.size;
	if (write(sock, "1", 1) != 1)
		CFAIL("write");
	/* The parent grows it further; we see that. */
	if (!sock_byte(sock, '2', CHILD_MS))
		CFAIL("no word from the parent");
	n = (unsigned)ctl->size;
	for (i = 0; i < n; i++)
		if ((why = verify(h, table[i])) != NULL)
			CFAIL("block %u (%s): %s", i,
			      i < mine0 ? "the parent's, before"
			      : i < (unsigned)ctl->ref[1] ? "ours"
							  : "the parent's, after",
			      why);
	COK(shmkit_heap_stat(h, &in));
	if (in.parts != ctl->parts || in.size != ctl->ref[2])
		CFAIL("we see %u parts, %llu bytes; the parent %u, %llu",
		      in.parts, (unsigned long long)in.size, ctl->parts,
		      (unsigned long long)ctl->ref[2]);
	COK(shmkit_heap_close(h));
	if (write(sock, "3", 1) != 1)
		CFAIL("write");
	_exit(0);
}

static void memfd_fd_passing(void)
{
	shmkit_heap_opts o = {0};
	shmkit_heap *h;
	shmkit_heap_info in;
	shmkit_ref tr, r;
	uint64_t *table;
	unsigned n = 0, i, child_end;
	int sv[2], e;
	pid_t pid;
	const char *why;

	o.max_size = 64 * MiB;
	e = shmkit_heap_create("memfd:heap-pass", 64 * KiB, &o, &h);
	if (e == -ENOSYS || e == -EOPNOTSUPP)
		SKIP("no memfd_create on this kernel");
	ASSERT_OK(e);
	ASSERT_EQ(shmkit_heap_get(h, "table", 1024 * sizeof(uint64_t), &tr), 1);
	table = shmkit_heap_ptr(h, tr);
	for (; n < 20; n++) {
		size_t sz = 100 + rnd() % 1000;
		ASSERT_OK(shmkit_heap_alloc(h, sz, &r));
		stamp(shmkit_heap_ptr(h, r), r, sz, rnd());
		table[n] = r;
	}
	reset();
	ctl->size = n;
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		fdpass_child(sv[1]);
	}
	close(sv[1]);
	ASSERT_OK(shmkit_send_fd(sv[0], shmkit_heap_seg(h)));
	if (!sock_byte(sv[0], '1', CHILD_MS)) {
		test_expect_child_ok(pid, 1000, "the fd: side");
		FAIL_("the fd: side never said it grew the heap");
	}
	/* The child grew it: we see the new parts and what is in them. */
	in = hstat(h);
	if (in.parts != ctl->parts || in.size != ctl->ref[0])
		FAIL_("the child grew the heap to %u parts, %llu bytes; we see "
		      "%u, %llu",
		      ctl->parts, (unsigned long long)ctl->ref[0], in.parts,
		      (unsigned long long)in.size);
	ASSERT(in.parts > 2);
	n = (unsigned)ctl->size;
	child_end = n;
	for (i = 0; i < n; i++)
		if ((why = verify(h, table[i])) != NULL)
			FAIL_("block %u: %s", i, why);
	/* Now we grow it; the child must see that. */
	ASSERT_OK(grow_into(h, table, &n, 1024));
	in = hstat(h);
	ctl->ref[1] = child_end;
	ctl->ref[2] = in.size;
	ctl->parts = in.parts;
	ctl->size = n;
	ASSERT_EQ(write(sv[0], "2", 1), 1);
	if (!sock_byte(sv[0], '3', CHILD_MS)) {
		test_expect_child_ok(pid, 1000, "the fd: side");
		FAIL_("the fd: side never said it saw our growth");
	}
	test_expect_child_ok(pid, CHILD_MS, "the fd: side");
	close(sv[0]);
	for (i = 0; i < n; i++) {
		if ((why = verify(h, table[i])) != NULL)
			FAIL_("block %u at the end: %s", i, why);
		ASSERT_OK(shmkit_heap_free(h, table[i]));
	}
	check_ok(h, "memfd heap grown on both sides");
	in = hstat(h);
	ASSERT_EQ(in.allocations, 1);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* -- anon: across fork ------------------------------------------------------- */

static void anon_across_fork(void)
{
	shmkit_heap *h;
	shmkit_heap_info in;
	shmkit_ref tr;
	uint64_t *table;
	pid_t pid;
	unsigned i;
	const char *why;

	ASSERT_OK(shmkit_heap_create("anon:", 1 * MiB, NULL, &h));
	ASSERT_EQ(shmkit_heap_get(h, "table", 64 * sizeof(uint64_t), &tr), 1);
	table = shmkit_heap_ptr(h, tr);
	reset();
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		/* The child goes on with the handle it inherited. */
		rng_state = base_seed ^ 0x77;
		for (i = 0; i < 64; i++) {
			shmkit_ref r;
			size_t sz = 24 + rnd() % 3000;
			COK(shmkit_heap_alloc(h, sz, &r));
			stamp(shmkit_heap_ptr(h, r), r, sz, rnd());
			table[i] = r;
		}
		for (i = 0; i < 32; i++) {
			shmkit_ref r;
			COK(shmkit_heap_alloc(h, 48, &r));
			COK(shmkit_heap_free(h, r));
		}
		COK(shmkit_heap_close(h));
		_exit(0);
	}
	/* Meanwhile the parent allocates from its own cache. */
	for (i = 0; i < 200; i++) {
		shmkit_ref r;
		ASSERT_OK(shmkit_heap_alloc(h, 48, &r));
		stamp(shmkit_heap_ptr(h, r), r, 48, i);
		if ((why = verify(h, r)) != NULL)
			FAIL_("parent's block: %s", why);
		ASSERT_OK(shmkit_heap_free(h, r));
	}
	test_expect_child_ok(pid, CHILD_MS, "the forked user of an anon: heap");
	for (i = 0; i < 64; i++) {
		if ((why = verify(h, table[i])) != NULL)
			FAIL_("child's block %u: %s", i, why);
		ASSERT_OK(shmkit_heap_free(h, table[i]));
	}
	check_ok(h, "anon: heap after fork");
	in = hstat(h);
	ASSERT_EQ(in.allocations, 1);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_OK(shmkit_heap_destroy(h));
}

TEST_MAIN("heap_proc", TEST(setup), TEST(storm_2), TEST(storm_4),
	  TEST(storm_8), TEST(growth_while_reading), TEST(racing_get),
	  TEST(racing_free), TEST(memfd_fd_passing), TEST(anon_across_fork))
