/*
 * test_heap_log.c: a heap's redo log, killed at exactly each step.
 *
 * block.c calls shmkit__heap_hook at three points of every commit: once
 * the log is committed and nothing is applied (LOGGED), half-way through
 * applying it (APPLYING), and once it is applied and cleared (APPLIED). A
 * child here SIGKILLs itself at the k-th call of one stage, for every k an
 * operation reaches, in every operation that changes the heap under its
 * lock (a large alloc, a free, a growth, a named get, an unname, a cache
 * refill and flush, a recovery itself). After each death the parent checks
 * that the heap is sound (shmkit_heap_check), that the next locker repaired
 * it (recoveries went up when the child died holding the lock), and that
 * the operation happened entirely or not at all: a named object is either
 * absent or present with its full size and zeroed, never half-made.
 */
#include "test.h"

#include "heap/heap_int.h" /* shmkit__heap_hook, HEAP_HOOK_* */

#include <sys/wait.h>

static int hook_stage, hook_at, hook_calls;

static void die_at(int stage)
{
	if (stage == hook_stage && ++hook_calls == hook_at)
		raise(SIGKILL);
}

enum op {
	OP_ALLOC_LARGE,
	OP_FREE_LARGE,
	OP_GROW,
	OP_GET,
	OP_UNNAME,
	OP_REFILL,
	OP_FLUSH,
	OP_COUNT
};

static const char *op_name[] = {"alloc 8 KiB", "free 8 KiB", "growth",
				"get", "unname", "cache refill",
				"cache flush"};

/* What the child does, with the hook armed around the operation only. */
static void child(const char *spec, enum op op, int stage, int at)
{
	shmkit_heap *h;
	shmkit_ref r, rs[64];
	int i;

	if (shmkit_heap_open(spec, 0, &h) < 0)
		_exit(3);
	/* set up outside the hook */
	if (op == OP_FREE_LARGE && shmkit_heap_alloc(h, 8192, &r) < 0)
		_exit(4);
	if (op == OP_FLUSH)
		for (i = 0; i < 64; i++)
			if (shmkit_heap_alloc(h, 100, &rs[i]) < 0)
				_exit(5);
	hook_stage = stage;
	hook_at = at;
	hook_calls = 0;
	shmkit__heap_hook = die_at;
	switch (op) {
	case OP_ALLOC_LARGE:
		(void)shmkit_heap_alloc(h, 8192, &r);
		break;
	case OP_FREE_LARGE:
		(void)shmkit_heap_free(h, r);
		break;
	case OP_GROW:
		/* larger than what is free: the heap must grow */
		(void)shmkit_heap_alloc(h, 200000, &r);
		break;
	case OP_GET:
		(void)shmkit_heap_get(h, "obj", 5000, &r);
		break;
	case OP_UNNAME:
		(void)shmkit_heap_unname(h, "keep");
		break;
	case OP_REFILL:
		(void)shmkit_heap_alloc(h, 200, &r);
		break;
	case OP_FLUSH:
		for (i = 0; i < 64; i++)
			(void)shmkit_heap_free(h, rs[i]);
		break;
	default:
		break;
	}
	shmkit__heap_hook = NULL;
	(void)shmkit_heap_close(h); /* more commits, hook off */
	_exit(hook_calls >= at ? 6 : 0); /* 0: the operation ended before k */
}

static int all_zero(const unsigned char *p, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void one_op(enum op op)
{
	static const int stages[] = {HEAP_HOOK_LOGGED, HEAP_HOOK_APPLYING,
				     HEAP_HOOK_APPLIED};
	char spec[128], why[256];
	unsigned s;

	snprintf(spec, sizeof(spec), "posix:%s", test_name("heaplog"));
	for (s = 0; s < 3; s++) {
		int at, killed = 0;
		for (at = 1; at < 400; at++) {
			shmkit_heap_opts o = {.max_size = 4u << 20};
			shmkit_heap_info before, after;
			shmkit_heap *h;
			shmkit_ref r;
			size_t size;
			int status, fr;
			pid_t pid;

			ASSERT_OK(shmkit_heap_create(spec, 65536, &o, &h));
			ASSERT_EQ(shmkit_heap_get(h, "keep", 300, &r), 1);
			ASSERT_OK(shmkit_heap_stat(h, &before));
			pid = fork();
			ASSERT(pid >= 0);
			if (pid == 0)
				child(spec, op, stages[s], at);
			status = test_wait_child(pid, 20000, op_name[op]);
			if (WIFEXITED(status)) {
				if (WEXITSTATUS(status) != 0)
					FAIL_("%s: child exit %d", op_name[op],
					      WEXITSTATUS(status));
				ASSERT_OK(shmkit_heap_destroy(h));
				break; /* the operation has fewer than at steps */
			}
			ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
			killed++;

			if (shmkit_heap_check(h, why, sizeof(why)) != 0)
				FAIL_("%s, killed at stage %d call %d: check: %s",
				      op_name[op], stages[s], at, why);
			ASSERT_OK(shmkit_heap_stat(h, &after));
			/* Every hook runs under the lock, so the child died
			 * holding it: the check (the next locker) repaired. */
			if (after.recoveries != before.recoveries + 1)
				FAIL_("%s, stage %d call %d: recoveries %llu -> %llu",
				      op_name[op], stages[s], at,
				      (unsigned long long)before.recoveries,
				      (unsigned long long)after.recoveries);
			/* Named objects: whole or absent. */
			fr = shmkit_heap_find(h, "obj", &r, &size);
			if (fr == 0) {
				ASSERT_EQ(size, 5000);
				ASSERT(shmkit_heap_usable(h, r) >= 5000);
				ASSERT(all_zero(shmkit_heap_ptr(h, r), 5000));
			} else {
				ASSERT_ERR(fr, ENOENT);
			}
			if (op == OP_UNNAME) {
				fr = shmkit_heap_find(h, "keep", &r, &size);
				ASSERT(fr == 0 || fr == -ENOENT);
			} else {
				ASSERT_OK(shmkit_heap_find(h, "keep", &r, &size));
			}
			/* Everything the dead child cached comes back. */
			ASSERT(shmkit_heap_reclaim(h) >= 0);
			ASSERT_OK(shmkit_heap_stat(h, &after));
			ASSERT_EQ(after.lost_bytes, 0);
			if (shmkit_heap_check(h, why, sizeof(why)) != 0)
				FAIL_("%s after reclaim: %s", op_name[op], why);
			/* And the lock is free: an allocation goes through. */
			ASSERT_OK(shmkit_heap_alloc(h, 8192, &r));
			ASSERT_OK(shmkit_heap_free(h, r));
			ASSERT_OK(shmkit_heap_destroy(h));
		}
		if (killed == 0)
			FAIL_("%s never reached stage %d", op_name[op], stages[s]);
	}
	ASSERT(!test_leftovers());
}

static void alloc_large(void) { one_op(OP_ALLOC_LARGE); }
static void free_large(void) { one_op(OP_FREE_LARGE); }
static void growth(void) { one_op(OP_GROW); }
static void get(void) { one_op(OP_GET); }
static void unname(void) { one_op(OP_UNNAME); }
static void cache_refill(void) { one_op(OP_REFILL); }
static void cache_flush(void) { one_op(OP_FLUSH); }

/*
 * A recoverer that dies while recovering: the third process still finds
 * the work to do and does it. The first child dies with its log committed;
 * the second dies inside the replay (its first applying hook); the parent
 * then checks.
 */
static void recovery_killed(void)
{
	char spec[128], why[256];
	shmkit_heap_opts o = {.max_size = 4u << 20};
	shmkit_heap_info in;
	shmkit_heap *h;
	shmkit_ref r;
	pid_t pid;
	int st;

	snprintf(spec, sizeof(spec), "posix:%s", test_name("heaprec"));
	ASSERT_OK(shmkit_heap_create(spec, 65536, &o, &h));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0)
		child(spec, OP_GET, HEAP_HOOK_LOGGED, 1);
	st = test_wait_child(pid, 20000, "first child");
	ASSERT(WIFSIGNALED(st));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_heap *h2;
		hook_stage = HEAP_HOOK_APPLYING;
		hook_at = 1;
		hook_calls = 0;
		shmkit__heap_hook = die_at;
		/* open takes the lock: it replays, and dies half-way */
		(void)shmkit_heap_open(spec, 0, &h2);
		_exit(7);
	}
	st = test_wait_child(pid, 20000, "second child");
	ASSERT(WIFSIGNALED(st));
	if (shmkit_heap_check(h, why, sizeof(why)) != 0)
		FAIL_("check after two deaths: %s", why);
	ASSERT_OK(shmkit_heap_stat(h, &in));
	ASSERT(in.recoveries >= 1);
	ASSERT_OK(shmkit_heap_alloc(h, 5000, &r));
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(!test_leftovers());
}

TEST_MAIN("heap_log", TEST(alloc_large), TEST(free_large), TEST(growth),
	  TEST(get), TEST(unname), TEST(cache_refill), TEST(cache_flush),
	  TEST(recovery_killed))
