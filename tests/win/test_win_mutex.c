/*
 * test_win_mutex.c: shmkit_mutex on Windows (a named kernel mutex per
 * struct): the contract of shmkit/life.h in one process, between
 * processes, and across a holder killed with TerminateProcess.
 */
#include "wtest.h"

#include <stdbool.h>

/* What the processes of a case share, at the start of a win: segment. */
struct shared {
	shmkit_mutex m;
	volatile LONG flag;    /* the child says how far it got */
	volatile LONG counter; /* guarded by m, updated non-atomically */
	volatile LONG result;  /* what a child's lock returned */
};

static shmkit_seg *make_shared(const char **name)
{
	shmkit_seg *s;

	*name = wt_name("win:shmkit-mx");
	ASSERT_OK(shmkit_create(*name, sizeof(struct shared), NULL, &s));
	ASSERT_OK(shmkit_mutex_init(&((struct shared *)shmkit_addr(s))->m));
	return s;
}

static shmkit_seg *child_attach(const char *name, struct shared **sh)
{
	shmkit_seg *s;
	int r = shmkit_attach(name, NULL, &s);

	if (r < 0) {
		fprintf(stderr, "child: attach %s: %s\n", name, shmkit_err_name(r));
		exit(3);
	}
	*sh = shmkit_addr(s);
	return s;
}

/* -- In one process ---------------------------------------------------------- */

static shmkit_mutex *g_m;
static volatile LONG g_r1, g_r2, g_r3;

static DWORD WINAPI other_thread(void *arg)
{
	(void)arg;
	g_r1 = shmkit_mutex_trylock(g_m);
	g_r2 = shmkit_mutex_timedlock(g_m, 50);
	g_r3 = shmkit_mutex_unlock(g_m);
	return 0;
}

static void test_basic_and_misuse(void)
{
	shmkit_mutex zero, *m = calloc(1, sizeof(*m));
	HANDLE t;

	memset(&zero, 0, sizeof(zero));
	ASSERT_ERR(shmkit_mutex_lock(&zero), EINVAL);
	ASSERT_ERR(shmkit_mutex_trylock(&zero), EINVAL);
	ASSERT_ERR(shmkit_mutex_unlock(&zero), EINVAL);
	ASSERT_ERR(shmkit_mutex_destroy(&zero), EINVAL);
	ASSERT_ERR(shmkit_mutex_lock(NULL), EINVAL);
	ASSERT_ERR(shmkit_mutex_init(NULL), EINVAL);

	ASSERT_OK(shmkit_mutex_init(m));
	ASSERT_ERR(shmkit_mutex_unlock(m), EPERM); /* never locked */
	ASSERT_ERR(shmkit_mutex_consistent(m), EINVAL); /* nothing to repair */
	ASSERT_EQ(shmkit_mutex_lock(m), 0);
	ASSERT_ERR(shmkit_mutex_lock(m), EDEADLK);
	ASSERT_ERR(shmkit_mutex_timedlock(m, 20), EDEADLK);
	ASSERT_ERR(shmkit_mutex_timedlock(m, 0), ETIMEDOUT);
	ASSERT_ERR(shmkit_mutex_trylock(m), EBUSY);
	ASSERT_ERR(shmkit_mutex_destroy(m), EBUSY);

	g_m = m;
	t = CreateThread(NULL, 0, other_thread, NULL, 0, NULL);
	ASSERT(t);
	ASSERT_EQ(WaitForSingleObject(t, 10000), WAIT_OBJECT_0);
	CloseHandle(t);
	ASSERT_EQ(g_r1, -EBUSY);
	ASSERT_EQ(g_r2, -ETIMEDOUT);
	ASSERT_EQ(g_r3, -EPERM); /* not the holder */

	ASSERT_EQ(shmkit_mutex_unlock(m), 0);
	ASSERT_ERR(shmkit_mutex_unlock(m), EPERM);
	/* One recursive take was never left behind: another thread can lock. */
	t = CreateThread(NULL, 0, other_thread, NULL, 0, NULL);
	ASSERT_EQ(WaitForSingleObject(t, 10000), WAIT_OBJECT_0);
	CloseHandle(t);
	ASSERT_EQ(g_r1, 0);
	ASSERT_EQ(g_r2, -EDEADLK);
	ASSERT_EQ(g_r3, 0);

	ASSERT_EQ(shmkit_mutex_trylock(m), 0);
	ASSERT_EQ(shmkit_mutex_unlock(m), 0);
	ASSERT_EQ(shmkit_mutex_timedlock(m, 100), 0);
	ASSERT_EQ(shmkit_mutex_unlock(m), 0);
	ASSERT_EQ(shmkit_mutex_timedlock(m, -1), 0);
	ASSERT_EQ(shmkit_mutex_unlock(m), 0);
	ASSERT_OK(shmkit_mutex_destroy(m));
	ASSERT_ERR(shmkit_mutex_lock(m), EINVAL);
	ASSERT_ERR(shmkit_mutex_destroy(m), EINVAL);
	/* Init again gives a new mutex that works. */
	ASSERT_OK(shmkit_mutex_init(m));
	ASSERT_EQ(shmkit_mutex_lock(m), 0);
	ASSERT_EQ(shmkit_mutex_unlock(m), 0);
	ASSERT_OK(shmkit_mutex_destroy(m));
	free(m);
}

/* Many mutexes over a process's life: the table reuses slots. */
static void test_many_mutexes(void)
{
	enum { N = 10000 };
	shmkit_mutex *m = calloc(64, sizeof(*m));

	for (int i = 0; i < N; i++) {
		shmkit_mutex *x = &m[i % 64];
		ASSERT_OK(shmkit_mutex_init(x));
		ASSERT_EQ(shmkit_mutex_lock(x), 0);
		ASSERT_EQ(shmkit_mutex_unlock(x), 0);
		if (i % 3 == 0)
			ASSERT_OK(shmkit_mutex_destroy(x));
	}
	free(m);
}

/* -- Between processes ----------------------------------------------------------- */

#define ROUNDS 2000

static int child_count(int argc, char **argv)
{
	struct shared *sh;
	shmkit_seg *s;

	(void)argc;
	s = child_attach(argv[0], &sh);
	InterlockedIncrement(&sh->flag);
	while (sh->flag < 3) /* all three start together */
		Sleep(0);
	for (int i = 0; i < ROUNDS; i++) {
		LONG v;
		if (shmkit_mutex_lock(&sh->m) != 0)
			return 4;
		v = sh->counter;
		if (i % 7 == 0)
			Sleep(0); /* let the other in, were it able to */
		sh->counter = v + 1;
		if (shmkit_mutex_unlock(&sh->m) != 0)
			return 5;
	}
	shmkit_detach(s);
	return 0;
}

static void test_exclusion_across_processes(void)
{
	const char *n;
	shmkit_seg *s = make_shared(&n);
	struct shared *sh = shmkit_addr(s);
	HANDLE a = wt_spawn("count", n), b = wt_spawn("count", n);

	WT_UNTIL(sh->flag == 2, 20000);
	InterlockedIncrement(&sh->flag);
	for (int i = 0; i < ROUNDS; i++) {
		LONG v;
		ASSERT_EQ(shmkit_mutex_lock(&sh->m), 0);
		v = sh->counter;
		if (i % 5 == 0)
			Sleep(0);
		sh->counter = v + 1;
		ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	}
	ASSERT_EQ(wt_wait(a, 60000, "count"), 0);
	ASSERT_EQ(wt_wait(b, 60000, "count"), 0);
	ASSERT_EQ(sh->counter, 3 * ROUNDS);
	ASSERT_OK(shmkit_mutex_destroy(&sh->m));
	ASSERT_OK(shmkit_destroy(s));
}

/* Lock, write half an update, say so, and wait to be killed. */
static int child_hold(int argc, char **argv)
{
	struct shared *sh;

	(void)argc;
	child_attach(argv[0], &sh);
	if (shmkit_mutex_lock(&sh->m) != 0)
		return 4;
	sh->counter = -1; /* half-updated */
	sh->flag = 1;
	Sleep(60000);
	return 5;
}

/* Wait for the mutex (a holder will be killed meanwhile); report. */
static int child_wait(int argc, char **argv)
{
	struct shared *sh;
	int r;

	(void)argc;
	child_attach(argv[0], &sh);
	sh->flag = 2;
	r = shmkit_mutex_timedlock(&sh->m, 20000);
	sh->result = r;
	if (r == -EOWNERDEAD) {
		sh->counter = 0; /* repaired */
		shmkit_mutex_consistent(&sh->m);
	}
	if (r == 0 || r == -EOWNERDEAD)
		shmkit_mutex_unlock(&sh->m);
	return 0;
}

/*
 * opened_first: the parent has the kernel mutex open before the holder
 * dies, so the kernel abandons it (WAIT_ABANDONED). Otherwise the holder
 * had the only handle, the object dies with it, and the owner word in
 * the struct must tell the next locker.
 */
static void owner_death(bool opened_first)
{
	const char *n;
	shmkit_seg *s = make_shared(&n);
	struct shared *sh = shmkit_addr(s);
	HANDLE c;

	if (opened_first) {
		ASSERT_EQ(shmkit_mutex_lock(&sh->m), 0);
		ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	}
	c = wt_spawn("hold", n);
	WT_UNTIL(sh->flag == 1, 20000);
	ASSERT_ERR(shmkit_mutex_trylock(&sh->m), EBUSY);
	ASSERT_ERR(shmkit_mutex_timedlock(&sh->m, 30), ETIMEDOUT);
	wt_kill(c);

	ASSERT_ERR(shmkit_mutex_lock(&sh->m), EOWNERDEAD);
	ASSERT_EQ(sh->counter, -1);
	/* Unlocked unrepaired: the next locker is told again. */
	ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	ASSERT_ERR(shmkit_mutex_trylock(&sh->m), EOWNERDEAD);
	ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	ASSERT_ERR(shmkit_mutex_timedlock(&sh->m, 1000), EOWNERDEAD);
	sh->counter = 0;
	ASSERT_OK(shmkit_mutex_consistent(&sh->m));
	ASSERT_ERR(shmkit_mutex_consistent(&sh->m), EINVAL);
	ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	ASSERT_EQ(shmkit_mutex_lock(&sh->m), 0);
	ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	ASSERT_OK(shmkit_mutex_destroy(&sh->m));
	ASSERT_OK(shmkit_destroy(s));
}

static void test_owner_death_abandoned(void)
{
	owner_death(true);
}

static void test_owner_death_last_handle(void)
{
	owner_death(false);
}

/* A waiter in a third process is handed the dead holder's mutex. */
static void test_waiter_gets_ownerdead(void)
{
	const char *n;
	shmkit_seg *s = make_shared(&n);
	struct shared *sh = shmkit_addr(s);
	HANDLE h, w;

	sh->result = 1;
	h = wt_spawn("hold", n);
	WT_UNTIL(sh->flag == 1, 20000);
	w = wt_spawn("wait", n);
	WT_UNTIL(sh->flag == 2, 20000);
	Sleep(100); /* let it block in the wait */
	wt_kill(h);
	ASSERT_EQ(wt_wait(w, 30000, "wait"), 0);
	ASSERT_EQ(sh->result, -EOWNERDEAD);
	ASSERT_EQ(sh->counter, 0);
	ASSERT_EQ(shmkit_mutex_lock(&sh->m), 0); /* repaired by the waiter */
	ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	ASSERT_OK(shmkit_destroy(s));
}

/* -- The segment a held mutex lies in stays ---------------------------------------- */

static void test_detach_refused_while_held(void)
{
	const char *n;
	shmkit_seg *s = make_shared(&n), *other;
	struct shared *sh = shmkit_addr(s);
	char path[160];

	snprintf(path, sizeof(path), "file:%s.tmp", wt_name("shmkit-mx"));

	ASSERT_OK(shmkit_create(path, 4096, NULL, &other));
	ASSERT_OK(shmkit_mutex_init((shmkit_mutex *)shmkit_addr(other)));

	ASSERT_EQ(shmkit_mutex_lock(&sh->m), 0);
	ASSERT_ERR(shmkit_detach(s), EBUSY);
	ASSERT_ERR(shmkit_destroy(s), EBUSY);
	ASSERT_EQ(sh->flag, 0); /* still mapped: the handle stays */
	ASSERT_EQ(shmkit_mutex_lock(shmkit_addr(other)), 0);
	ASSERT_ERR(shmkit_resize(other, 8192), EBUSY);
	ASSERT_ERR(shmkit_destroy(other), EBUSY);
	ASSERT_EQ(shmkit_mutex_unlock(shmkit_addr(other)), 0);
	ASSERT_OK(shmkit_detach(other));
	/* (not shmkit_destroy: wine refuses to delete a mapped file) */
	ASSERT(DeleteFileA(path + 5));
	ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	ASSERT_OK(shmkit_destroy(s));
}

static const wt_case cases[] = {
	{"basic_and_misuse", test_basic_and_misuse},
	{"many_mutexes", test_many_mutexes},
	{"exclusion_across_processes", test_exclusion_across_processes},
	{"owner_death_abandoned", test_owner_death_abandoned},
	{"owner_death_last_handle", test_owner_death_last_handle},
	{"waiter_gets_ownerdead", test_waiter_gets_ownerdead},
	{"detach_refused_while_held", test_detach_refused_while_held},
};
static const wt_child children[] = {
	{"count", child_count},
	{"hold", child_hold},
	{"wait", child_wait},
};

WT_MAIN(cases, children)
