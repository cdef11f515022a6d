/*
 * test_win_heap.c: shmkit heaps on Windows: a fixed win: heap shared by
 * two processes, a file: heap that grows while in use (old refs stay
 * valid, in this process and in another), a process killed in the middle
 * of a commit, and bad input.
 */
#include "wtest.h"

#include "heap/heap_int.h"

#include <stdbool.h>
#include <stdint.h>

static void check_ok(shmkit_heap *h)
{
	char why[256] = "";
	int r = shmkit_heap_check(h, why, sizeof(why));

	if (r != 0)
		FAIL_("heap_check: %d: %s", r, why);
}

static shmkit_heap *child_open(const char *spec)
{
	shmkit_heap *h;
	int r = shmkit_heap_open(spec, 0, &h);

	if (r < 0) {
		fprintf(stderr, "child: heap_open %s: %s\n", spec, shmkit_err_name(r));
		exit(3);
	}
	return h;
}

/* -- One process, a fixed win: heap --------------------------------------------- */

static void test_win_heap_basic(void)
{
	const char *n = wt_name("win:shmkit-hp");
	shmkit_heap_opts o = {0};
	shmkit_heap_info info;
	shmkit_ref a, b, c, r2;
	size_t size;
	char *p;

	o.max_size = 1 << 20;
	ASSERT_ERR(shmkit_heap_create(n, 1 << 18, &o, &(shmkit_heap *){0}),
		   EINVAL); /* win: cannot grow */
	shmkit_heap *h;
	ASSERT_OK(shmkit_heap_create(n, 1 << 18, NULL, &h));
	ASSERT_EQ(shmkit_heap_probe(n), 1);

	ASSERT_OK(shmkit_heap_alloc(h, 100, &a));
	ASSERT(a != 0);
	p = shmkit_heap_ptr(h, a);
	ASSERT(p && ((uintptr_t)p % 16) == 0);
	memcpy(p, "hello", 6);
	ASSERT(shmkit_heap_usable(h, a) >= 100);
	ASSERT_EQ(shmkit_heap_ref(h, p), a);
	ASSERT_OK(shmkit_heap_calloc(h, 5000, &b));
	for (int i = 0; i < 5000; i++)
		ASSERT_EQ(((char *)shmkit_heap_ptr(h, b))[i], 0);
	ASSERT_OK(shmkit_heap_alloc_aligned(h, 64, 4096, &c));
	ASSERT_EQ((uintptr_t)shmkit_heap_ptr(h, c) % 4096, 0);
	ASSERT_ERR(shmkit_heap_alloc_aligned(h, 64, 8192, &c), EINVAL);

	ASSERT_EQ(shmkit_heap_get(h, "config", 64, &r2), 1);
	ASSERT_EQ(shmkit_heap_get(h, "config", 64, &c), 0);
	ASSERT_EQ(c, r2);
	ASSERT_ERR(shmkit_heap_get(h, "config", 65, &c), EEXIST);
	ASSERT_OK(shmkit_heap_find(h, "config", &c, &size));
	ASSERT_EQ(size, 64);
	ASSERT_ERR(shmkit_heap_free(h, r2), EBUSY);

	ASSERT_OK(shmkit_heap_stat(h, &info));
	ASSERT_EQ(info.parts, 1);
	ASSERT_EQ(info.named, 1);
	ASSERT(info.size >= (1 << 18));
	check_ok(h);

	ASSERT_OK(shmkit_heap_free(h, a));
	ASSERT_ERR(shmkit_heap_free(h, a), EINVAL); /* double free */
	ASSERT(shmkit_heap_ptr(h, a) == NULL);
	ASSERT_OK(shmkit_heap_free(h, b));
	ASSERT_OK(shmkit_heap_unname(h, "config"));
	ASSERT_ERR(shmkit_heap_find(h, "config", NULL, NULL), ENOENT);
	/* Full, fixed: -ENOMEM, nothing broken. */
	ASSERT_ERR(shmkit_heap_alloc(h, 1 << 19, &a), ENOMEM);
	check_ok(h);
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT_ERR(shmkit_heap_open(n, 0, &h), ENOENT);
}

static void test_bad_input(void)
{
	const char *n = wt_name("win:shmkit-hp");
	shmkit_heap *h;
	shmkit_seg *s;
	shmkit_ref r;

	ASSERT_ERR(shmkit_heap_create(n, 1000, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create(NULL, 1 << 16, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create(n, 1 << 16, NULL, NULL), EINVAL);
	ASSERT_ERR(shmkit_heap_create("posix:/x", 1 << 16, NULL, &h), ENOTSUP);
	ASSERT_ERR(shmkit_heap_open(n, 0, &h), ENOENT);
	ASSERT_ERR(shmkit_heap_open(n, 1, &h), EINVAL);
	/* A segment that holds no heap. */
	ASSERT_OK(shmkit_create(n, 1 << 16, NULL, &s));
	memset(shmkit_addr(s), 0x5a, 1 << 16);
	ASSERT_ERR(shmkit_heap_open(n, 0, &h), EPROTO);
	ASSERT_EQ(shmkit_heap_probe(n), 0);
	ASSERT_OK(shmkit_destroy(s));

	ASSERT_OK(shmkit_heap_create(n, 1 << 16, NULL, &h));
	ASSERT_ERR(shmkit_heap_alloc(h, 0, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_alloc(h, SIZE_MAX, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_free(h, 0), EINVAL);
	ASSERT_ERR(shmkit_heap_free(h, UINT64_C(0x1234567890abcdef)), EINVAL);
	ASSERT(shmkit_heap_ptr(h, UINT64_C(0x00ff00000000abc0)) == NULL);
	ASSERT_ERR(shmkit_heap_get(h, "", 8, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_get(h, "x", 0, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_alloc_aligned(h, 16, 24, &r), EINVAL);
	check_ok(h);
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* A mutex inside the heap that this thread holds keeps the heap open. */
static void test_close_refused_while_mutex_held(void)
{
	const char *n = wt_name("win:shmkit-hp");
	shmkit_heap *h;
	shmkit_ref r;
	shmkit_mutex *m;

	ASSERT_OK(shmkit_heap_create(n, 1 << 16, NULL, &h));
	ASSERT_EQ(shmkit_heap_get(h, "lock", sizeof(shmkit_mutex), &r), 1);
	m = shmkit_heap_ptr(h, r);
	ASSERT_OK(shmkit_mutex_init(m));
	ASSERT_EQ(shmkit_mutex_lock(m), 0);
	ASSERT_ERR(shmkit_heap_close(h), EBUSY);
	ASSERT_ERR(shmkit_heap_destroy(h), EBUSY);
	ASSERT_EQ(shmkit_mutex_unlock(m), 0);
	ASSERT_OK(shmkit_mutex_destroy(m));
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* -- Two processes on a win: heap ----------------------------------------------- */

/* Find "from-parent", check it, free the parent's block named in it, and
 * leave a block of our own under "from-child". */
static int child_share(int argc, char **argv)
{
	shmkit_heap *h;
	shmkit_ref r, mine;
	size_t size;
	uint64_t *v;

	(void)argc;
	h = child_open(argv[0]);
	if (shmkit_heap_find(h, "from-parent", &r, &size) < 0 || size != 16)
		return 4;
	v = shmkit_heap_ptr(h, r);
	if (!v || v[0] != 0x1234)
		return 5;
	if (shmkit_heap_free(h, v[1]) != 0)
		return 6;
	if (shmkit_heap_alloc(h, 200, &mine) < 0)
		return 7;
	strcpy(shmkit_heap_ptr(h, mine), "written by the child");
	if (shmkit_heap_get(h, "from-child", 8, &r) != 1)
		return 8;
	*(uint64_t *)shmkit_heap_ptr(h, r) = mine;
	return shmkit_heap_close(h) == 0 ? 0 : 9;
}

static void test_two_processes(void)
{
	const char *n = wt_name("win:shmkit-hp");
	shmkit_heap *h;
	shmkit_ref r, blk, mine;
	uint64_t *v;

	ASSERT_OK(shmkit_heap_create(n, 1 << 18, NULL, &h));
	ASSERT_OK(shmkit_heap_alloc(h, 300, &blk));
	ASSERT_EQ(shmkit_heap_get(h, "from-parent", 16, &r), 1);
	v = shmkit_heap_ptr(h, r);
	v[0] = 0x1234;
	v[1] = blk;
	ASSERT_EQ(wt_wait(wt_spawn("share", n), 30000, "share"), 0);
	ASSERT(shmkit_heap_ptr(h, blk) == NULL); /* freed by the child */
	ASSERT_ERR(shmkit_heap_free(h, blk), EINVAL);
	ASSERT_OK(shmkit_heap_find(h, "from-child", &r, NULL));
	mine = *(uint64_t *)shmkit_heap_ptr(h, r);
	ASSERT(strcmp(shmkit_heap_ptr(h, mine), "written by the child") == 0);
	ASSERT_OK(shmkit_heap_free(h, mine));
	check_ok(h);
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* -- Growth of a file: heap ------------------------------------------------------------ */

#define NBLK 400

struct grow_dir {
	uint64_t n;
	shmkit_ref ref[NBLK];
};

static void fill(char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(seed * 31 + i);
}

static bool filled(const char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (char)(seed * 31 + i))
			return false;
	return true;
}

/* Check every block the parent listed, then grow the heap further with
 * blocks of our own, listed under "child-dir". */
static int child_grow(int argc, char **argv)
{
	shmkit_heap *h;
	shmkit_heap_info info;
	struct grow_dir *d, *mine;
	shmkit_ref r;

	(void)argc;
	h = child_open(argv[0]);
	if (shmkit_heap_find(h, "dir", &r, NULL) < 0 || !(d = shmkit_heap_ptr(h, r)))
		return 4;
	for (unsigned i = 0; i < d->n; i++) {
		char *p = shmkit_heap_ptr(h, d->ref[i]);
		if (!p || !filled(p, 4000, i))
			return 5;
	}
	if (shmkit_heap_get(h, "child-dir", sizeof(*mine), &r) != 1)
		return 6;
	mine = shmkit_heap_ptr(h, r);
	if (shmkit_heap_stat(h, &info) < 0)
		return 7;
	unsigned parts = info.parts;
	for (unsigned i = 0; i < NBLK; i++) {
		if (shmkit_heap_alloc(h, 8000, &mine->ref[i]) < 0)
			return 8;
		fill(shmkit_heap_ptr(h, mine->ref[i]), 8000, i + 1000);
		mine->n = i + 1;
	}
	if (shmkit_heap_stat(h, &info) < 0 || info.parts <= parts)
		return 9; /* it grew */
	return shmkit_heap_close(h) == 0 ? 0 : 10;
}

static void test_file_heap_grows(void)
{
	char spec[200];
	shmkit_heap_opts o = {0};
	shmkit_heap_info info;
	shmkit_heap *h;
	struct grow_dir *d, *cd;
	char *ptr[NBLK];
	shmkit_ref r, al;

	snprintf(spec, sizeof(spec), "file:%s.heap", wt_name("shmkit-hp"));
	o.max_size = 64 << 20;
	ASSERT_OK(shmkit_heap_create(spec, 1 << 16, &o, &h));
	ASSERT_OK(shmkit_heap_stat(h, &info));
	ASSERT_EQ(info.parts, 1);
	ASSERT_EQ(info.size, 1 << 16);
	ASSERT_EQ(shmkit_heap_get(h, "dir", sizeof(*d), &r), 1);
	d = shmkit_heap_ptr(h, r);
	for (unsigned i = 0; i < NBLK; i++) {
		ASSERT_OK(shmkit_heap_alloc(h, 4000, &d->ref[i]));
		ptr[i] = shmkit_heap_ptr(h, d->ref[i]);
		fill(ptr[i], 4000, i);
		d->n = i + 1;
	}
	ASSERT_OK(shmkit_heap_stat(h, &info));
	ASSERT(info.parts >= 4); /* 64 KiB doubling to >1.6 MB */
	/* Growth moved nothing: refs and the pointers they gave still hold. */
	for (unsigned i = 0; i < NBLK; i++) {
		ASSERT(shmkit_heap_ptr(h, d->ref[i]) == ptr[i]);
		ASSERT(filled(ptr[i], 4000, i));
	}
	ASSERT_OK(shmkit_heap_alloc_aligned(h, 100, 65536, &al));
	ASSERT_EQ((uintptr_t)shmkit_heap_ptr(h, al) % 65536, 0);
	ASSERT_ERR(shmkit_heap_alloc_aligned(h, 100, 1 << 20, &al), EINVAL);
	check_ok(h);

	/* Another process maps the parts it needs, then grows it more. */
	ASSERT_EQ(wt_wait(wt_spawn("grow", spec), 60000, "grow"), 0);
	ASSERT_OK(shmkit_heap_find(h, "child-dir", &r, NULL));
	cd = shmkit_heap_ptr(h, r);
	ASSERT_EQ(cd->n, NBLK);
	for (unsigned i = 0; i < NBLK; i++) {
		char *p = shmkit_heap_ptr(h, cd->ref[i]); /* maps new parts */
		ASSERT(p && filled(p, 8000, i + 1000));
	}
	for (unsigned i = 0; i < NBLK; i++)
		ASSERT(shmkit_heap_ptr(h, d->ref[i]) == ptr[i]);
	ASSERT_OK(shmkit_heap_stat(h, &info));
	ASSERT(info.size > 4 << 20);
	check_ok(h);

	/* Persistent: a new open after every handle closed finds it all. */
	ASSERT_OK(shmkit_heap_close(h));
	ASSERT_OK(shmkit_heap_open(spec, 0, &h));
	ASSERT_OK(shmkit_heap_find(h, "dir", &r, NULL));
	d = shmkit_heap_ptr(h, r);
	for (unsigned i = 0; i < NBLK; i++)
		ASSERT(filled(shmkit_heap_ptr(h, d->ref[i]), 4000, i));
	check_ok(h);
	/* A grown heap's destroy removes the file: its parts' views go first. */
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(GetFileAttributesA(spec + 5) == INVALID_FILE_ATTRIBUTES);
}

/* Up to max_size, then -ENOMEM: the file stops growing. */
static void test_file_heap_limit(void)
{
	char spec[200];
	shmkit_heap_opts o = {0};
	shmkit_heap_info info;
	shmkit_heap *h;
	shmkit_ref r;
	int n = 0, rc;

	snprintf(spec, sizeof(spec), "file:%s.heap", wt_name("shmkit-hp"));
	o.max_size = 1 << 20;
	ASSERT_OK(shmkit_heap_create(spec, 1 << 16, &o, &h));
	while ((rc = shmkit_heap_alloc(h, 10000, &r)) == 0)
		n++;
	ASSERT_EQ(rc, -ENOMEM);
	ASSERT(n > 50);
	ASSERT_OK(shmkit_heap_stat(h, &info));
	ASSERT(info.size <= 1 << 20);
	check_ok(h);
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(GetFileAttributesA(spec + 5) == INVALID_FILE_ATTRIBUTES);
}

/* -- A process killed mid-use ------------------------------------------------------ */

static int kill_stage;

static void die_at(int stage)
{
	if (stage == kill_stage)
		TerminateProcess(GetCurrentProcess(), 9);
}

/* Allocate, name and free until the commit at stage kills this process. */
static int child_crash(int argc, char **argv)
{
	shmkit_heap *h;
	shmkit_ref r;
	char name[32];

	if (argc < 2)
		return 2;
	h = child_open(argv[0]);
	kill_stage = atoi(argv[1]);
	for (int i = 0; i < 50; i++) /* some cached blocks to lose */
		if (shmkit_heap_alloc(h, 64, &r) == 0 && i % 2)
			shmkit_heap_free(h, r);
	shmkit__heap_hook = die_at;
	for (int i = 0;; i++) {
		snprintf(name, sizeof(name), "obj%d", i);
		if (shmkit_heap_get(h, name, 100 + i, &r) < 0)
			return 4;
		if (shmkit_heap_alloc(h, 5000, &r) == 0)
			shmkit_heap_free(h, r);
	}
}

/* The spawned child's command line holds one argument: "SPEC STAGE". */
static void crash_at(int stage)
{
	const char *n = wt_name("win:shmkit-hp");
	char arg[256];
	shmkit_heap_info info;
	shmkit_heap *h;
	shmkit_ref r;
	HANDLE c;
	DWORD code = 0;

	ASSERT_OK(shmkit_heap_create(n, 1 << 20, NULL, &h));
	snprintf(arg, sizeof(arg), "%s %d", n, stage);
	c = wt_spawn("crash", arg);
	ASSERT_EQ(WaitForSingleObject(c, 30000), WAIT_OBJECT_0);
	GetExitCodeProcess(c, &code);
	CloseHandle(c);
	ASSERT_EQ(code, 9); /* killed inside a commit, holding the lock */

	/* The next locker repairs it: nothing half-done, nothing locked. */
	ASSERT_OK(shmkit_heap_alloc(h, 5000, &r));
	check_ok(h);
	ASSERT_OK(shmkit_heap_stat(h, &info));
	ASSERT(info.recoveries >= 1);
	ASSERT(shmkit_heap_reclaim(h) >= 0);
	ASSERT_OK(shmkit_heap_stat(h, &info));
	ASSERT_EQ(info.lost_bytes, 0); /* the dead one's cache came back */
	ASSERT_EQ(info.procs, 1);
	/* It died in the first commit of obj0's making: never half-made. */
	ASSERT_ERR(shmkit_heap_find(h, "obj0", NULL, NULL), ENOENT);
	ASSERT_OK(shmkit_heap_free(h, r));
	check_ok(h);
	ASSERT_OK(shmkit_heap_destroy(h));
}

static void test_killed_after_log(void)
{
	crash_at(HEAP_HOOK_LOGGED);
}

static void test_killed_while_applying(void)
{
	crash_at(HEAP_HOOK_APPLYING);
}

/* Killed at a moment nobody chose (TerminateProcess from outside). */
static int child_churn(int argc, char **argv)
{
	shmkit_heap *h;
	shmkit_ref r[64] = {0};
	unsigned x = 12345;

	(void)argc;
	h = child_open(argv[0]);
	for (;;) { /* until killed */
		unsigned k = (x = x * 1103515245 + 12345) >> 16 & 63;
		if (r[k]) {
			shmkit_heap_free(h, r[k]);
			r[k] = 0;
		} else {
			shmkit_heap_alloc(h, 16 + (x >> 8) % 9000, &r[k]);
		}
	}
	return 0;
}

static void test_killed_anywhere(void)
{
	const char *n = wt_name("win:shmkit-hp");
	shmkit_heap_info info;
	shmkit_heap *h;

	ASSERT_OK(shmkit_heap_create(n, 4 << 20, NULL, &h));
	for (int round = 0; round < 4; round++) {
		HANDLE a = wt_spawn("churn", n), b = wt_spawn("churn", n);
		Sleep(300 + 100 * round);
		wt_kill(a);
		wt_kill(b);
		check_ok(h);
	}
	ASSERT(shmkit_heap_reclaim(h) >= 0);
	ASSERT_OK(shmkit_heap_stat(h, &info));
	ASSERT_EQ(info.lost_bytes, 0);
	ASSERT_EQ(info.procs, 1);
	check_ok(h);
	ASSERT_OK(shmkit_heap_destroy(h));
}

static const wt_case cases[] = {
	{"win_heap_basic", test_win_heap_basic},
	{"bad_input", test_bad_input},
	{"close_refused_while_mutex_held", test_close_refused_while_mutex_held},
	{"two_processes", test_two_processes},
	{"file_heap_grows", test_file_heap_grows},
	{"file_heap_limit", test_file_heap_limit},
	{"killed_after_log", test_killed_after_log},
	{"killed_while_applying", test_killed_while_applying},
	{"killed_anywhere", test_killed_anywhere},
};
static const wt_child children[] = {
	{"share", child_share},
	{"grow", child_grow},
	{"crash", child_crash},
	{"churn", child_churn},
};

WT_MAIN(cases, children)
