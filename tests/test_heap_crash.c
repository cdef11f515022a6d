/*
 * test_heap_crash.c: processes killed inside heap calls.
 *
 * heap.h promises that a process killed by SIGKILL at any instruction of
 * any call leaves the heap consistent and unlocked, that a named object is
 * never lost nor half-made, and that what a dead process had cached comes
 * back (lost_bytes until then, 0 once the heap has reclaimed it).
 *
 * torture: N rounds (SHMKIT_HEAP_CRASH_ROUNDS, default 200; the seed is
 * SHMKIT_HEAP_SEED, printed). Each round forks 2 to 4 children onto one
 * posix: heap that starts at 64 KiB, so it grows as they go. Each does
 * random allocs and frees (of small blocks, through its cache, and of
 * large ones, through the shared lock), gets, unnames, finds and walks the
 * names, and occasionally allocates a large block that grows the heap.
 * After 0 to 3 ms (from their start, or from when they all opened the
 * heap) one child or all are killed; survivors are told to stop and must
 * exit cleanly. Then the test, under a watchdog alarm, checks:
 *  - the lock is free: an alloc and a free complete in bounded time;
 *  - shmkit_heap_check() is 0 (its reason printed otherwise);
 *  - every named object is whole: its size is the one its name implies,
 *    and its contents are all zero (just made), a prefix of its pattern
 *    followed by zeros (its maker was killed while filling it), or the
 *    whole pattern with its "complete" mark;
 *  - every block a child had recorded in its registry (a named array it
 *    stores a ref in only after the block was filled, and clears before
 *    freeing the block) is live with all its contents; the test frees it;
 *  - stat's figures are sane; reclaim returns >= 0, and after it, with all
 *    children dead, lost_bytes is 0.
 *
 * Targeted cases: a child killed holding cached blocks (lost_bytes > 0
 * until reclaim, or the next open, takes them back); a waiter killed as
 * the lock is handed to it, with others waiting. (Kills at each step of a
 * commit, and of a recovery, are tests/test_heap_log.c.)
 */
#include "heap_test.h"

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

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

#define CHILD_MS (20000 * SLOW)
#define WATCHDOG_S (10 * SLOW)

#define NCH 4            /* children at most per round */
#define NNAMES 8         /* names each child index owns */
#define REG 64           /* registry slots per child index */
#define HEAP_ROUNDS 25   /* rounds on one heap before a fresh one */
#define COMMON_SIZE 512
#define DONE_MARK UINT64_C(0x444f4e45444f4e45)

/* -- helpers --------------------------------------------------------------- */

static uint64_t base_seed;

static void sleep_us(unsigned us)
{
	struct timespec t = {us / 1000000, (long)(us % 1000000) * 1000};
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static const char *proof(shmkit_heap *h, shmkit_ref ref)
{
	static char why[160];
	const uint8_t *b = shmkit_heap_ptr(h, ref);
	size_t usable = shmkit_heap_usable(h, ref);
	struct bhdr bh;

	if (!b)
		return "ptr() is NULL for a live ref";
	memcpy(&bh, b, sizeof(bh));
	if (bh.ref != ref) {
		snprintf(why, sizeof(why), "the block holds ref %#llx",
			 (unsigned long long)bh.ref);
		return why;
	}
	if (bh.size < sizeof(bh) || bh.size > usable) {
		snprintf(why, sizeof(why), "size %llu, usable %zu",
			 (unsigned long long)bh.size, usable);
		return why;
	}
	for (size_t i = sizeof(bh); i < bh.size; i++)
		if (b[i] != pat(bh.seed, i)) {
			snprintf(why, sizeof(why), "byte %zu of %llu changed", i,
				 (unsigned long long)bh.size);
			return why;
		}
	return NULL;
}

/* Named objects: "o<j>-<k>" of a size fixed by j and k; "reg-<j>"; and
 * "common", which nobody writes. */
static size_t name_size(unsigned j, unsigned k)
{
	return 24 + ((j * NNAMES + k) * 397u) % 3000;
}

static uint64_t name_seed(unsigned j, unsigned k)
{
	return 0x5eed0000ull + j * 100 + k;
}

/*
 * A named object's contents by its protocol: [mark][seed] then the
 * pattern. Its maker (the get that returned 1) writes the pattern in
 * order, then the seed, then the mark. So the object is all zero, or a
 * prefix of the pattern followed by zeros with no mark, or complete.
 */
static const char *named_proof(const uint8_t *p, size_t size, uint64_t seed)
{
	static char why[128];
	uint64_t mark, s;
	size_t i, m;

	memcpy(&mark, p, 8);
	memcpy(&s, p + 8, 8);
	if (mark != 0 && mark != DONE_MARK)
		return "a mark that is neither 0 nor complete";
	for (m = 16; m < size && p[m] == pat(seed, m); m++)
		;
	if (mark == DONE_MARK) {
		if (s != seed || m != size) {
			snprintf(why, sizeof(why),
				 "marked complete, but byte %zu of %zu is wrong",
				 m, size);
			return why;
		}
		return NULL;
	}
	for (i = m; i < size; i++)
		if (p[i] != 0) {
			snprintf(why, sizeof(why),
				 "not complete, and byte %zu of %zu is neither "
				 "the pattern nor 0",
				 i, size);
			return why;
		}
	return NULL;
}

static void named_fill(uint8_t *p, size_t size, uint64_t seed)
{
	for (size_t i = 16; i < size; i++)
		__atomic_store_n(&p[i], pat(seed, i), __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)(p + 8), seed, __ATOMIC_RELEASE);
	__atomic_store_n((uint64_t *)p, DONE_MARK, __ATOMIC_RELEASE);
}

struct ctl {
	uint32_t ready;
	uint32_t stop;
	uint32_t flag;
	uint64_t val[8];
};

static struct ctl *ctl;

#define check_ok(h, when) check_ok_((h), (when), __LINE__)

/*
 * A child that must exit 0 within ms; on failure the heap it used is
 * destroyed first, so a failed run leaves nothing in /dev/shm.
 */
static void expect_ok_or_destroy(pid_t pid, int ms, const char *what,
				 shmkit_heap *h)
{
	int64_t end = now_ms() + ms;
	pid_t w;
	int st = 0;

	while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < end)
		poll(NULL, 0, 1);
	if (w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return;
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	(void)shmkit_heap_destroy(h);
	if (w == 0)
		FAIL_("%s: child %d still running after %d ms; killed", what,
		      (int)pid, ms);
	if (WIFSIGNALED(st))
		FAIL_("%s: child killed by signal %d", what, WTERMSIG(st));
	FAIL_("%s: child exited with status %d", what, WEXITSTATUS(st));
}

/* -- the watchdog ------------------------------------------------------------ */

static const char *wd_what = "?";
static unsigned wd_round;

static void wd_fire(int sig)
{
	char buf[256];
	int n;

	(void)sig;
	n = snprintf(buf, sizeof(buf),
		     "\nheap_crash: round %u: %s still running after %d s: "
		     "the heap is locked or a call hangs\n",
		     wd_round, wd_what, WATCHDOG_S);
	if (n > 0)
		(void)!write(2, buf, (size_t)n);
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	_exit(1);
}

static void wd_arm(const char *what)
{
	wd_what = what;
	alarm(WATCHDOG_S);
}

static void wd_off(void)
{
	alarm(0);
}

static void setup(void)
{
	const char *e = getenv("SHMKIT_HEAP_SEED");
	struct sigaction sa;

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
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wd_fire;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

/* -- torture: the children ----------------------------------------------------- */

static void torture_child(const char *spec, unsigned j, uint64_t seed)
{
	shmkit_heap *h;
	shmkit_ref regr, r;
	uint64_t *reg;
	char nm[32];
	int e;

	rng_state = seed | 1;
	if ((e = shmkit_heap_open(spec, 0, &h)) < 0)
		CFAIL("open: %s", shmkit_err_name(e));
	snprintf(nm, sizeof(nm), "reg-%u", j);
	e = shmkit_heap_get(h, nm, REG * sizeof(uint64_t), &regr);
	if (e < 0)
		CFAIL("get %s: %s", nm, shmkit_err_name(e));
	reg = shmkit_heap_ptr(h, regr);
	if (!reg)
		CFAIL("%s: no pointer", nm);
	__atomic_fetch_add(&ctl->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&ctl->stop, __ATOMIC_ACQUIRE)) {
		unsigned op = (unsigned)(rnd() % 100), s, k;
		const char *why;

		if (op < 30) { /* alloc, fill, then record */
			size_t sz = rnd() % 40 == 0 ? 16 * KiB + rnd() % (48 * KiB)
						    : 24 + rnd() % 1500;
			uint64_t zero = 0;
			e = rnd() % 4 ? shmkit_heap_alloc(h, sz, &r)
				      : shmkit_heap_alloc_aligned(h, sz, 64, &r);
			if (e == -ENOMEM)
				continue;
			COK(e);
			stamp(shmkit_heap_ptr(h, r), r, sz, rnd());
			s = (unsigned)(rnd() % REG);
			if (!__atomic_compare_exchange_n(&reg[s], &zero, r, false,
							 __ATOMIC_ACQ_REL,
							 __ATOMIC_ACQUIRE)) {
				if ((why = proof(h, r)))
					CFAIL("fresh block: %s", why);
				COK(shmkit_heap_free(h, r));
			}
		} else if (op < 55) { /* un-record, check, free */
			s = (unsigned)(rnd() % REG);
			r = __atomic_exchange_n(&reg[s], 0, __ATOMIC_ACQ_REL);
			if (!r)
				continue;
			if ((why = proof(h, r)))
				CFAIL("recorded block %#llx: %s",
				      (unsigned long long)r, why);
			COK(shmkit_heap_free(h, r));
		} else if (op < 70) { /* get one of ours */
			size_t sz;
			uint8_t *p;
			k = (unsigned)(rnd() % NNAMES);
			sz = name_size(j, k);
			snprintf(nm, sizeof(nm), "o%u-%u", j, k);
			e = shmkit_heap_get(h, nm, sz, &r);
			if (e == -ENOMEM)
				continue;
			if (e < 0)
				CFAIL("get %s (%zu bytes): %s", nm, sz,
				      shmkit_err_name(e));
			p = shmkit_heap_ptr(h, r);
			if (!p || shmkit_heap_usable(h, r) < sz)
				CFAIL("get %s: ptr %p usable %zu", nm, (void *)p,
				      p ? shmkit_heap_usable(h, r) : 0);
			if ((why = named_proof(p, sz, name_seed(j, k))))
				CFAIL("%s (get said %d): %s", nm, e, why);
			if (e == 1 || rnd() % 2)
				named_fill(p, sz, name_seed(j, k));
		} else if (op < 78) { /* unname one of ours */
			k = (unsigned)(rnd() % NNAMES);
			snprintf(nm, sizeof(nm), "o%u-%u", j, k);
			e = shmkit_heap_unname(h, nm);
			if (e < 0 && e != -ENOENT)
				CFAIL("unname %s: %s", nm, shmkit_err_name(e));
		} else if (op < 83) { /* the shared, never-written one */
			uint8_t *p;
			e = shmkit_heap_get(h, "common", COMMON_SIZE, &r);
			if (e == -ENOMEM)
				continue;
			if (e < 0)
				CFAIL("get common: %s", shmkit_err_name(e));
			p = shmkit_heap_ptr(h, r);
			for (k = 0; p && k < COMMON_SIZE; k++)
				if (p[k])
					CFAIL("common: byte %u is %u", k, p[k]);
		} else if (op < 88) { /* someone else's: find only */
			size_t sz;
			unsigned jj = (unsigned)(rnd() % NCH);
			k = (unsigned)(rnd() % NNAMES);
			snprintf(nm, sizeof(nm), "o%u-%u", jj, k);
			e = shmkit_heap_find(h, nm, &r, &sz);
			if (e == 0 && sz != name_size(jj, k))
				CFAIL("find %s: %zu bytes, not %zu", nm, sz,
				      name_size(jj, k));
			if (e < 0 && e != -ENOENT)
				CFAIL("find %s: %s", nm, shmkit_err_name(e));
		} else if (op < 94) { /* cache churn */
			shmkit_ref b[12];
			unsigned n = 1 + (unsigned)(rnd() % 12), i;
			for (i = 0; i < n; i++) {
				e = shmkit_heap_alloc(h, 16 + rnd() % 200, &b[i]);
				if (e == -ENOMEM)
					break;
				COK(e);
			}
			while (i-- > 0)
				COK(shmkit_heap_free(h, b[i]));
		} else {
			shmkit_heap_info in;
			COK(shmkit_heap_stat(h, &in));
			if (in.used + in.free > in.size || in.size > in.max_size)
				CFAIL("stat: used %llu free %llu size %llu",
				      (unsigned long long)in.used,
				      (unsigned long long)in.free,
				      (unsigned long long)in.size);
		}
	}
	COK(shmkit_heap_close(h));
	_exit(0);
}

/* -- torture: what the test checks after a round ---------------------------- */

struct seen_name {
	char name[40];
	shmkit_ref ref;
	size_t size;
	int bad;
};

struct names_acc {
	unsigned n;
	struct seen_name v[NCH * NNAMES + NCH + 8];
};

static int collect(const char *name, shmkit_ref ref, size_t size, void *arg)
{
	struct names_acc *a = arg;

	if (a->n >= sizeof(a->v) / sizeof(a->v[0]))
		return -1000;
	snprintf(a->v[a->n].name, sizeof(a->v[0].name), "%s", name);
	a->v[a->n].bad = strlen(name) >= sizeof(a->v[0].name);
	a->v[a->n].ref = ref;
	a->v[a->n].size = size;
	a->n++;
	return 0;
}

struct totals {
	uint64_t registered, named, lost, kills, recoveries;
};

static void after_round(shmkit_heap *h, unsigned round, struct totals *t)
{
	static struct names_acc acc;
	shmkit_heap_info in;
	shmkit_ref r1, r2;
	char why[512] = "";
	unsigned i, s;
	int64_t got;
	int e;

	wd_round = round;
	/* The lock is free and the heap works. */
	wd_arm("an alloc and free after the kill");
	ASSERT_OK(shmkit_heap_alloc(h, 64, &r1));
	ASSERT_OK(shmkit_heap_alloc(h, 5000, &r2));
	ASSERT_OK(shmkit_heap_free(h, r1));
	ASSERT_OK(shmkit_heap_free(h, r2));
	wd_arm("shmkit_heap_check");
	e = shmkit_heap_check(h, why, sizeof(why));
	if (e != 0)
		FAIL_("round %u: shmkit_heap_check: %s: %s", round,
		      shmkit_err_name(e), why);
	wd_arm("the names");
	memset(&acc, 0, sizeof(acc));
	e = shmkit_heap_names(h, collect, &acc);
	if (e < 0 || (unsigned)e != acc.n)
		FAIL_("round %u: names() returned %d for %u names", round, e,
		      acc.n);
	in = hstat(h);
	ASSERT_EQ(in.named, acc.n);
	for (i = 0; i < acc.n; i++) {
		struct seen_name *v = &acc.v[i];
		unsigned j, k;
		shmkit_ref fr;
		size_t fs;
		uint8_t *p = shmkit_heap_ptr(h, v->ref);
		const char *why2;

		if (v->bad)
			FAIL_("round %u: a name of unexpected length", round);
		ASSERT_OK(shmkit_heap_find(h, v->name, &fr, &fs));
		if (fr != v->ref || fs != v->size)
			FAIL_("round %u: %s: names() says %#llx/%zu, find "
			      "%#llx/%zu",
			      round, v->name, (unsigned long long)v->ref, v->size,
			      (unsigned long long)fr, fs);
		if (!p || shmkit_heap_usable(h, v->ref) < v->size)
			FAIL_("round %u: named object %s (%zu bytes): ptr %p, "
			      "usable %zu",
			      round, v->name, v->size, (void *)p,
			      p ? shmkit_heap_usable(h, v->ref) : 0);
		if (sscanf(v->name, "o%u-%u", &j, &k) == 2 && j < NCH &&
		    k < NNAMES) {
			if (v->size != name_size(j, k))
				FAIL_("round %u: %s has %zu bytes, not %zu", round,
				      v->name, v->size, name_size(j, k));
			if ((why2 = named_proof(p, v->size, name_seed(j, k))))
				FAIL_("round %u: named object %s: %s", round,
				      v->name, why2);
			t->named++;
		} else if (sscanf(v->name, "reg-%u", &j) == 1 && j < NCH) {
			uint64_t *reg = (uint64_t *)p;
			if (v->size != REG * sizeof(uint64_t))
				FAIL_("round %u: %s has %zu bytes", round, v->name,
				      v->size);
			/* Every recorded block is live and whole; free it. */
			for (s = 0; s < REG; s++) {
				if (!reg[s])
					continue;
				if ((why2 = proof(h, reg[s])))
					FAIL_("round %u: %s slot %u: block %#llx: "
					      "%s",
					      round, v->name, s,
					      (unsigned long long)reg[s], why2);
				ASSERT_OK(shmkit_heap_free(h, reg[s]));
				reg[s] = 0;
				t->registered++;
			}
		} else if (!strcmp(v->name, "common")) {
			if (v->size != COMMON_SIZE)
				FAIL_("round %u: common has %zu bytes", round,
				      v->size);
			for (s = 0; s < COMMON_SIZE; s++)
				if (p[s])
					FAIL_("round %u: common: byte %u is %u",
					      round, s, p[s]);
		} else {
			FAIL_("round %u: a name nobody made: \"%s\"", round,
			      v->name);
		}
	}
	/* stat adds up; reclaim takes back what the dead had cached. */
	wd_arm("stat and reclaim");
	in = hstat(h);
	if (in.used + in.free > in.size || in.size > in.max_size ||
	    in.parts < 1 || in.allocations < in.named ||
	    in.lost_bytes > in.size || in.largest_free > in.free)
		FAIL_("round %u: stat: size %llu max %llu parts %u used %llu "
		      "free %llu largest %llu allocations %llu named %llu lost "
		      "%llu",
		      round, (unsigned long long)in.size,
		      (unsigned long long)in.max_size, in.parts,
		      (unsigned long long)in.used, (unsigned long long)in.free,
		      (unsigned long long)in.largest_free,
		      (unsigned long long)in.allocations,
		      (unsigned long long)in.named,
		      (unsigned long long)in.lost_bytes);
	got = shmkit_heap_reclaim(h);
	if (got < 0)
		FAIL_("round %u: reclaim: %s", round, shmkit_err_name((int)got));
	t->lost += (uint64_t)got;
	in = hstat(h);
	if (in.lost_bytes != 0)
		FAIL_("round %u: every child is dead and reclaim ran, yet "
		      "lost_bytes is %llu",
		      round, (unsigned long long)in.lost_bytes);
	if (in.procs != 1)
		FAIL_("round %u: %u processes have the heap open; only the "
		      "test is alive",
		      round, in.procs);
	t->recoveries = in.recoveries;
	e = shmkit_heap_check(h, why, sizeof(why));
	if (e != 0)
		FAIL_("round %u: shmkit_heap_check after the cleanup: %s: %s",
		      round, shmkit_err_name(e), why);
	wd_off();
}

static void torture(void)
{
	const char *env = getenv("SHMKIT_HEAP_CRASH_ROUNDS");
	unsigned rounds = env && atoi(env) > 0 ? (unsigned)atoi(env) : 200;
	shmkit_heap_opts o = {0};
	shmkit_heap *h = NULL;
	const char *spec = NULL;
	struct totals t = {0, 0, 0, 0, 0};
	uint64_t recov = 0;
	unsigned round, heaps = 0, maxparts = 0;

	o.max_size = 32 * MiB;
	for (round = 0; round < rounds; round++) {
		unsigned nch = 2 + (unsigned)(rnd() % (NCH - 1)), i;
		int after_ready = rnd() % 2, kill_all = rnd() % 2;
		unsigned victim = (unsigned)(rnd() % nch);
		pid_t pids[NCH];

		if (round % HEAP_ROUNDS == 0) {
			if (h) {
				recov += hstat(h).recoveries;
				ASSERT_OK(shmkit_heap_destroy(h));
			}
			spec = pspec("torture");
			ASSERT_OK(shmkit_heap_create(spec, 64 * KiB, &o, &h));
			heaps++;
		}
		memset(ctl, 0, sizeof(*ctl));
		for (i = 0; i < nch; i++) {
			uint64_t seed = rnd();
			pids[i] = fork();
			ASSERT(pids[i] >= 0);
			if (pids[i] == 0)
				torture_child(spec, i, seed);
		}
		if (after_ready) {
			int64_t end = now_ms() + CHILD_MS;
			while (__atomic_load_n(&ctl->ready, __ATOMIC_ACQUIRE) < nch) {
				if (now_ms() > end)
					FAIL_("round %u: %u of %u children opened "
					      "the heap",
					      round, ctl->ready, nch);
				poll(NULL, 0, 1);
			}
		}
		sleep_us((unsigned)(rnd() % 3001));
		for (i = 0; i < nch; i++) {
			char what[64];
			int st;
			if (!kill_all && i != victim)
				continue;
			kill(pids[i], SIGKILL);
			snprintf(what, sizeof(what), "round %u: killed child %u",
				 round, i);
			st = test_wait_child(pids[i], CHILD_MS, what);
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
				FAIL_("%s: it had exited with %d before the kill "
				      "(it found something wrong)",
				      what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			t.kills++;
		}
		if (!kill_all) {
			/* The others go on a little past the death, then stop. */
			sleep_us((unsigned)(rnd() % 2001));
			__atomic_store_n(&ctl->stop, 1, __ATOMIC_RELEASE);
			for (i = 0; i < nch; i++) {
				char what[64];
				if (i == victim)
					continue;
				snprintf(what, sizeof(what),
					 "round %u: child %u, which survived child "
					 "%u",
					 round, i, victim);
				expect_ok_or_destroy(pids[i], CHILD_MS, what, h);
			}
		}
		after_round(h, round, &t);
		if (hstat(h).parts > maxparts)
			maxparts = hstat(h).parts;
	}
	recov += hstat(h).recoveries;
	/* Clean up the last heap entirely. */
	{
		static struct names_acc acc;
		unsigned i;
		memset(&acc, 0, sizeof(acc));
		ASSERT(shmkit_heap_names(h, collect, &acc) >= 0);
		for (i = 0; i < acc.n; i++)
			ASSERT_OK(shmkit_heap_unname(h, acc.v[i].name));
		ASSERT_EQ(hstat(h).named, 0);
		check_ok(h, "after unnaming everything");
	}
	ASSERT_OK(shmkit_heap_destroy(h));
	printf("     %u rounds on %u heaps (up to %u parts): %llu children "
	       "killed, %llu recoveries, %llu recorded blocks and %llu named "
	       "objects checked, %llu bytes reclaimed\n",
	       rounds, heaps, maxparts, (unsigned long long)t.kills,
	       (unsigned long long)recov, (unsigned long long)t.registered,
	       (unsigned long long)t.named, (unsigned long long)t.lost);
}

/* -- a child killed holding cached blocks -------------------------------------- */

/* A child that fills its cache and waits to be killed; returns its pid
 * once it has said how many bytes it caches. */
static pid_t cache_holder(const char *spec)
{
	pid_t pid;

	memset(ctl, 0, sizeof(*ctl));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_heap *h;
		shmkit_heap_info in;
		shmkit_ref r[64];
		unsigned i, c;

		if (shmkit_heap_open(spec, 0, &h) < 0)
			_exit(2);
		for (c = 0; c < 3; c++) {
			size_t sz = c == 0 ? 40 : c == 1 ? 200 : 900;
			for (i = 0; i < 20; i++)
				COK(shmkit_heap_alloc(h, sz, &r[i]));
			for (i = 0; i < 20; i++)
				COK(shmkit_heap_free(h, r[i]));
		}
		COK(shmkit_heap_stat(h, &in));
		ctl->val[0] = in.cached;
		ctl->val[1] = in.allocations;
		__atomic_store_n(&ctl->ready, 1, __ATOMIC_RELEASE);
		for (;;)
			pause();
	}
	{
		int64_t end = now_ms() + CHILD_MS;
		while (!__atomic_load_n(&ctl->ready, __ATOMIC_ACQUIRE)) {
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid)
				FAIL_("the cache holder died before it was ready "
				      "(status %d)",
				      st);
			if (now_ms() > end)
				FAIL_("the cache holder never got ready");
			poll(NULL, 0, 1);
		}
	}
	return pid;
}

static void dead_cache_reclaimed(void)
{
	const char *spec = pspec("cache");
	shmkit_heap_opts o = {0};
	shmkit_heap *h, *h2;
	shmkit_heap_info base, in;
	uint64_t cached;
	int64_t got;
	pid_t pid;
	int st;

	o.max_size = 4 * MiB;
	ASSERT_OK(shmkit_heap_create(spec, 64 * KiB, &o, &h));
	base = hstat(h);

	/* Reclaimed by shmkit_heap_reclaim(). */
	pid = cache_holder(spec);
	cached = ctl->val[0];
	ASSERT(cached > 0);
	ASSERT_EQ(ctl->val[1], 0);
	in = hstat(h);
	ASSERT_EQ(in.cached, cached);
	ASSERT_EQ(in.lost_bytes, 0); /* alive: cached, not lost */
	ASSERT_EQ(in.procs, 2);
	ASSERT_EQ(shmkit_heap_reclaim(h), 0); /* nothing dead yet */
	kill(pid, SIGKILL);
	st = test_wait_child(pid, CHILD_MS, "the cache holder");
	ASSERT(WIFSIGNALED(st));
	in = hstat(h);
	if (in.lost_bytes != cached)
		FAIL_("a child died caching %llu bytes; lost_bytes says %llu",
		      (unsigned long long)cached,
		      (unsigned long long)in.lost_bytes);
	ASSERT_EQ(in.allocations, base.allocations);
	check_ok(h, "with a dead process's cache");
	got = shmkit_heap_reclaim(h);
	ASSERT_EQ(got, (int64_t)cached);
	in = hstat(h);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_EQ(in.reclaimed_bytes, cached);
	ASSERT_EQ(in.cached, 0);
	ASSERT_EQ(in.used, base.used);
	ASSERT_EQ(in.procs, 1);
	ASSERT_EQ(shmkit_heap_reclaim(h), 0);
	check_ok(h, "after reclaim");

	/* Reclaimed by the next open. */
	pid = cache_holder(spec);
	cached = ctl->val[0];
	kill(pid, SIGKILL);
	test_wait_child(pid, CHILD_MS, "the second cache holder");
	ASSERT_EQ(hstat(h).lost_bytes, cached);
	ASSERT_OK(shmkit_heap_open(spec, 0, &h2));
	in = hstat(h);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_EQ(in.reclaimed_bytes, 2 * cached);
	ASSERT_OK(shmkit_heap_close(h2));

	/* Reclaimed before -ENOMEM: a fixed heap whose free memory sits in a
	 * dead child's cache can still be allocated from. */
	ASSERT_OK(shmkit_heap_destroy(h));
	o.max_size = 0;
	ASSERT_OK(shmkit_heap_create(spec, 64 * KiB, &o, &h));
	pid = cache_holder(spec);
	cached = ctl->val[0];
	kill(pid, SIGKILL);
	test_wait_child(pid, CHILD_MS, "the third cache holder");
	in = hstat(h);
	ASSERT_EQ(in.lost_bytes, cached);
	{
		static shmkit_ref r[4000];
		unsigned n = 0, i;
		int e;
		while ((e = shmkit_heap_alloc(h, 3000, &r[n])) == 0)
			ASSERT(++n < 4000);
		ASSERT_EQ(e, -ENOMEM);
		in = hstat(h);
		ASSERT_EQ(in.lost_bytes, 0);
		for (i = 0; i < n; i++)
			ASSERT_OK(shmkit_heap_free(h, r[i]));
	}
	check_ok(h, "after -ENOMEM reclaimed the dead cache");
	ASSERT_OK(shmkit_heap_destroy(h));
}

/*
 * Processes that only ever take the lock (large blocks: no cache), one of
 * them killed at a random moment, most likely while it waits for the
 * lock or has just been woken to take it. The others must all finish:
 * a process killed waiting is still "killed inside a call", and must not
 * leave the lock unreachable for the rest (a futex wake-up given to a
 * waiter that then dies is lost to the others unless the heap waits with
 * a bound and looks again).
 */
static void contender(const char *spec)
{
	shmkit_heap *h;
	shmkit_ref r;

	if (shmkit_heap_open(spec, 0, &h) < 0)
		_exit(2);
	__atomic_fetch_add(&ctl->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&ctl->stop, __ATOMIC_ACQUIRE)) {
		COK(shmkit_heap_alloc(h, 20000, &r));
		COK(shmkit_heap_free(h, r));
	}
	COK(shmkit_heap_close(h));
	_exit(0);
}

static void killed_waiting_for_lock(void)
{
	const char *env = getenv("SHMKIT_HEAP_CRASH_ROUNDS");
	unsigned rounds = env && atoi(env) > 0 ? (unsigned)atoi(env) / 2 : 100;
	const char *spec = pspec("waiter");
	shmkit_heap_opts o = {0};
	shmkit_heap *h;
	unsigned round;

	o.max_size = 8 * MiB;
	ASSERT_OK(shmkit_heap_create(spec, 1 * MiB, &o, &h));
	for (round = 0; round < rounds; round++) {
		const unsigned n = 4;
		unsigned victim = (unsigned)(rnd() % n), i;
		pid_t pids[4];
		int64_t end;

		memset(ctl, 0, sizeof(*ctl));
		for (i = 0; i < n; i++) {
			pids[i] = fork();
			ASSERT(pids[i] >= 0);
			if (pids[i] == 0)
				contender(spec);
		}
		end = now_ms() + CHILD_MS;
		while (__atomic_load_n(&ctl->ready, __ATOMIC_ACQUIRE) < n) {
			if (now_ms() > end)
				FAIL_("round %u: contenders not ready", round);
			poll(NULL, 0, 1);
		}
		sleep_us((unsigned)(rnd() % 3001));
		kill(pids[victim], SIGKILL);
		test_wait_child(pids[victim], CHILD_MS, "the killed contender");
		sleep_us((unsigned)(rnd() % 1001));
		__atomic_store_n(&ctl->stop, 1, __ATOMIC_RELEASE);
		for (i = 0; i < n; i++) {
			char what[96];
			if (i == victim)
				continue;
			snprintf(what, sizeof(what),
				 "round %u: a contender that outlived the killed "
				 "one (blocked on the heap lock?)",
				 round);
			expect_ok_or_destroy(pids[i], CHILD_MS, what, h);
		}
		wd_round = round;
		wd_arm("check after a contender was killed");
		check_ok(h, "after a contender was killed");
		wd_off();
	}
	ASSERT(shmkit_heap_reclaim(h) >= 0);
	ASSERT_EQ(hstat(h).lost_bytes, 0);
	ASSERT_OK(shmkit_heap_destroy(h));
}

TEST_MAIN("heap_crash", TEST(setup), TEST(dead_cache_reclaimed),
	  TEST(killed_waiting_for_lock), TEST(torture))
