/*
 * test_mutex.c: shmkit_mutex across processes: mutual exclusion, owner death
 * (-EOWNERDEAD, repair, consistent), and the guarantee bare robust mutexes
 * lack: a mutex whose repairer unlocks without repairing, or dies too, is
 * still usable and still reports the damage. And a segment cannot be
 * detached, destroyed or resized under a mutex the process holds in it,
 * which would make the mutex unusable for good once the holder died.
 */
#include "test.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

struct shared {
	shmkit_mutex m;
	long counter;
	long guarded_a, guarded_b; /* invariant: a == b when consistent */
};

static struct shared *make(shmkit_seg **seg)
{
	struct shared *s;
	ASSERT_OK(shmkit_create("anon:mutex", sizeof(*s), NULL, seg));
	s = shmkit_addr(*seg);
	ASSERT_OK(shmkit_mutex_init(&s->m));
	return s;
}

static void exclusion_across_processes(void)
{
	enum { PROCS = 3, ITERS = 20000 };
	shmkit_seg *seg;
	struct shared *s = make(&seg);
	pid_t pids[PROCS];
	int i;

	for (i = 0; i < PROCS; i++) {
		pids[i] = fork();
		ASSERT(pids[i] >= 0);
		if (pids[i] == 0) {
			for (int k = 0; k < ITERS; k++) {
				if (shmkit_mutex_lock(&s->m) != 0)
					_exit(2);
				long v = s->counter; /* a racy ++ without the lock */
				__asm__ volatile("" ::: "memory");
				s->counter = v + 1;
				if (shmkit_mutex_unlock(&s->m) != 0)
					_exit(3);
			}
			_exit(0);
		}
	}
	for (i = 0; i < PROCS; i++)
		test_expect_child_ok(pids[i], 30000, "locker");
	ASSERT_EQ(s->counter, PROCS * ITERS);
	ASSERT_OK(shmkit_mutex_destroy(&s->m));
	ASSERT_OK(shmkit_destroy(seg));
}

/* A child takes the lock, breaks the invariant halfway, and dies. */
static void die_holding(struct shared *s, int use_sigkill)
{
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		if (shmkit_mutex_lock(&s->m) < 0 && errno != 0)
			_exit(2);
		s->guarded_a++;
		if (use_sigkill)
			raise(SIGKILL);
		_exit(0); /* exit without unlocking */
	}
	(void)test_wait_child(pid, 5000, "dying owner");
}

static void owner_death_is_reported_and_repairable(void)
{
	shmkit_seg *seg;
	struct shared *s = make(&seg);

	die_holding(s, 1);
	ASSERT_ERR(shmkit_mutex_lock(&s->m), EOWNERDEAD);
	ASSERT(s->guarded_a != s->guarded_b);
	s->guarded_b = s->guarded_a; /* repair */
	ASSERT_OK(shmkit_mutex_consistent(&s->m));
	ASSERT_OK(shmkit_mutex_unlock(&s->m));
	ASSERT_EQ(shmkit_mutex_lock(&s->m), 0);
	ASSERT_ERR(shmkit_mutex_consistent(&s->m), EINVAL); /* nothing to mark */
	ASSERT_OK(shmkit_mutex_unlock(&s->m));
	ASSERT_OK(shmkit_destroy(seg));
}

static void never_unusable_without_repair(void)
{
	shmkit_seg *seg;
	struct shared *s = make(&seg);

	die_holding(s, 0);
	/* The next owner unlocks without repairing: a bare robust pthread
	 * mutex would now be ENOTRECOVERABLE forever. */
	ASSERT_ERR(shmkit_mutex_lock(&s->m), EOWNERDEAD);
	ASSERT_OK(shmkit_mutex_unlock(&s->m));
	ASSERT_ERR(shmkit_mutex_lock(&s->m), EOWNERDEAD);
	ASSERT_OK(shmkit_mutex_unlock(&s->m));
	/* The repairer dies mid-repair too: still usable, still reported. */
	die_holding(s, 1);
	ASSERT_ERR(shmkit_mutex_lock(&s->m), EOWNERDEAD);
	s->guarded_b = s->guarded_a;
	ASSERT_OK(shmkit_mutex_consistent(&s->m));
	ASSERT_OK(shmkit_mutex_unlock(&s->m));
	ASSERT_OK(shmkit_mutex_lock(&s->m));
	ASSERT_OK(shmkit_mutex_unlock(&s->m));
	ASSERT_OK(shmkit_destroy(seg));
}

static void trylock_timedlock_and_misuse(void)
{
	shmkit_seg *seg;
	struct shared *s = make(&seg);
	shmkit_mutex blank;
	pid_t pid;
	int locked[2], go[2];
	char c;

	memset(&blank, 0, sizeof(blank));
	ASSERT_ERR(shmkit_mutex_lock(&blank), EINVAL);
	ASSERT_ERR(shmkit_mutex_lock(NULL), EINVAL);
	ASSERT_ERR(shmkit_mutex_init(NULL), EINVAL);
	ASSERT_ERR(shmkit_mutex_unlock(&s->m), EPERM); /* not held */

	/* Two one-way pipes, unused ends closed: if either side dies, the
	 * other reads EOF instead of waiting forever. */
	ASSERT(pipe(locked) == 0 && pipe(go) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) { /* hold it until told to go */
		close(locked[0]);
		close(go[1]);
		if (shmkit_mutex_lock(&s->m) != 0)
			_exit(2);
		if (write(locked[1], "l", 1) != 1)
			_exit(3);
		if (read(go[0], &c, 1) != 1)
			_exit(4);
		_exit(shmkit_mutex_unlock(&s->m) == 0 ? 0 : 5);
	}
	close(locked[1]);
	close(go[0]);
	ASSERT(read(locked[0], &c, 1) == 1);
	ASSERT_ERR(shmkit_mutex_trylock(&s->m), EBUSY);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_ERR(shmkit_mutex_timedlock(&s->m, 50), ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 45);
	ASSERT_ERR(shmkit_mutex_destroy(&s->m), EBUSY);
	ASSERT(write(go[1], "g", 1) == 1);
	test_expect_child_ok(pid, 5000, "holder");
	ASSERT_OK(shmkit_mutex_timedlock(&s->m, 1000));
	ASSERT_ERR(shmkit_mutex_lock(&s->m), EDEADLK);
	ASSERT_OK(shmkit_mutex_unlock(&s->m));
	ASSERT_OK(shmkit_mutex_destroy(&s->m));
	ASSERT_ERR(shmkit_mutex_lock(&s->m), EINVAL); /* destroyed */
	close(locked[0]);
	close(go[1]);
	ASSERT_OK(shmkit_destroy(seg));
}

/* -- The mapping stays while a mutex in it is held -------------------------- */

static int64_t ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)(t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* detach, destroy and resize of s all refused, s exactly as it was. */
static void refused_while_held(shmkit_seg *s, bool resizable, const char *spec)
{
	void *addr = shmkit_addr(s);
	size_t size = shmkit_size(s);
	shmkit_seg *other;

	ASSERT_ERR(shmkit_detach(s), EBUSY);
	ASSERT_ERR(shmkit_destroy(s), EBUSY);
	ASSERT_ERR(shmkit_op(SHMKIT_OP_DETACH, NULL, 0, NULL, &s), EBUSY);
	ASSERT(s != NULL); /* *seg untouched */
	ASSERT_ERR(shmkit_resize(s, 2 * size), resizable ? EBUSY : ENOTSUP);
	ASSERT(shmkit_addr(s) == addr && shmkit_size(s) == size);
	ASSERT(!strcmp(addr, "guarded"));
	if (spec) { /* the segment is still there, and a second mapping of it
		     * (at another address) is free to go */
		ASSERT_OK(shmkit_attach(spec, NULL, &other));
		ASSERT(!strcmp(shmkit_addr(other), "guarded"));
		ASSERT_OK(shmkit_detach(other));
	}
}

struct holder {
	shmkit_mutex *m;
	int locked[2], go[2];
};

static void *hold_in_thread(void *arg)
{
	struct holder *h = arg;
	char c;

	if (shmkit_mutex_lock(h->m) != 0)
		return (void *)1;
	if (write(h->locked[1], "l", 1) != 1 || read(h->go[0], &c, 1) != 1)
		return (void *)2;
	return shmkit_mutex_unlock(h->m) == 0 ? NULL : (void *)3;
}

/*
 * Regression (issue 7, item 9): detach, destroy and resize of a segment
 * succeeded while a thread of the process held a shmkit_mutex in it. Each
 * is now -EBUSY and changes nothing, whichever thread holds it, on every
 * backend, and all work again once it is unlocked. A forked child holds
 * none of its parent's mutexes, and may detach.
 */
static void detach_refused_while_held(void)
{
	const char *specs[] = {"posix", "sysv:private", "memfd:held", "anon:"};
	size_t i;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		char spec[128], attach_spec[SHMKIT_SPEC_MAX];
		bool named = i < 2, resizable = i == 0 || i == 2;
		struct holder h;
		shmkit_mutex *m;
		pthread_t t;
		shmkit_seg *s;
		void *ret;
		pid_t pid;
		char c;

		if (i == 0)
			snprintf(spec, sizeof(spec), "posix:%s", test_name("held"));
		else
			snprintf(spec, sizeof(spec), "%s", specs[i]);
		ASSERT_OK(shmkit_create(spec, 8192, NULL, &s));
		snprintf(attach_spec, sizeof(attach_spec), "%s", shmkit_spec(s));
		strcpy(shmkit_addr(s), "guarded");
		m = (shmkit_mutex *)((char *)shmkit_addr(s) + 4096);
		ASSERT_OK(shmkit_mutex_init(m));

		/* This thread holds it. */
		ASSERT_OK(shmkit_mutex_lock(m));
		refused_while_held(s, resizable, named ? attach_spec : NULL);
		pid = fork();
		ASSERT(pid >= 0);
		if (pid == 0) /* holds nothing: its copy may go */
			_exit(shmkit_detach(s) == 0 ? 0 : 1);
		test_expect_child_ok(pid, 5000, "forked child detaching");
		ASSERT_OK(shmkit_mutex_unlock(m));

		/* Another thread holds it: refused just the same. */
		h.m = m;
		ASSERT(pipe(h.locked) == 0 && pipe(h.go) == 0);
		ASSERT_EQ(pthread_create(&t, NULL, hold_in_thread, &h), 0);
		ASSERT(read(h.locked[0], &c, 1) == 1);
		refused_while_held(s, resizable, NULL);
		ASSERT(write(h.go[1], "g", 1) == 1);
		ASSERT_EQ(pthread_join(t, &ret), 0);
		ASSERT(ret == NULL);
		close(h.locked[0]), close(h.locked[1]);
		close(h.go[0]), close(h.go[1]);

		/* Unlocked: everything works again. */
		if (resizable) {
			ASSERT_OK(shmkit_resize(s, 1 << 20));
			m = (shmkit_mutex *)((char *)shmkit_addr(s) + 4096);
		}
		ASSERT_OK(shmkit_mutex_trylock(m));
		ASSERT_OK(shmkit_mutex_unlock(m));
		ASSERT_OK(shmkit_mutex_destroy(m));
		ASSERT_OK(shmkit_destroy(s));
	}
}

/* The registry is process-wide: 4096 held across threads fill it. Each
 * thread holds only a share (TSan tracks at most 64 locks per thread). */
enum { REG_SLOTS = 4096, REG_THREADS = 128, REG_EACH = REG_SLOTS / REG_THREADS };

struct share {
	shmkit_mutex *m; /* REG_EACH of them */
	pthread_barrier_t *locked, *go;
	int err;
};

static void *hold_share(void *arg)
{
	struct share *sh = arg;
	int i;

	for (i = 0; i < REG_EACH; i++)
		if (shmkit_mutex_lock(&sh->m[i]) != 0)
			sh->err = 1;
	pthread_barrier_wait(sh->locked);
	pthread_barrier_wait(sh->go);
	for (i = 0; i < REG_EACH; i++)
		if (shmkit_mutex_unlock(&sh->m[i]) != 0)
			sh->err = 1;
	return NULL;
}

/* Past the registry's 4096 slots a lock is -ENOLCK, and leaves the mutex
 * free; the process can still detach what it does not hold. */
static void too_many_held(void)
{
	static struct share sh[REG_THREADS];
	static pthread_t t[REG_THREADS];
	pthread_barrier_t locked, go;
	shmkit_seg *seg, *other;
	shmkit_mutex *m;
	int i;

	ASSERT_OK(shmkit_create("anon:", (REG_SLOTS + 1) * sizeof(*m), NULL, &seg));
	ASSERT_OK(shmkit_create("anon:", 4096, NULL, &other));
	m = shmkit_addr(seg);
	for (i = 0; i <= REG_SLOTS; i++)
		ASSERT_OK(shmkit_mutex_init(&m[i]));
	ASSERT_EQ(pthread_barrier_init(&locked, NULL, REG_THREADS + 1), 0);
	ASSERT_EQ(pthread_barrier_init(&go, NULL, REG_THREADS + 1), 0);
	for (i = 0; i < REG_THREADS; i++) {
		sh[i] = (struct share){&m[i * REG_EACH], &locked, &go, 0};
		ASSERT_EQ(pthread_create(&t[i], NULL, hold_share, &sh[i]), 0);
	}
	pthread_barrier_wait(&locked);
	ASSERT_ERR(shmkit_mutex_lock(&m[REG_SLOTS]), ENOLCK);
	ASSERT_ERR(shmkit_mutex_trylock(&m[REG_SLOTS]), ENOLCK);
	ASSERT_ERR(shmkit_mutex_timedlock(&m[REG_SLOTS], 10), ENOLCK);
	ASSERT_ERR(shmkit_mutex_unlock(&m[REG_SLOTS]), EPERM); /* not held */
	ASSERT_OK(shmkit_detach(other));
	ASSERT_ERR(shmkit_detach(seg), EBUSY);
	pthread_barrier_wait(&go);
	for (i = 0; i < REG_THREADS; i++) {
		ASSERT_EQ(pthread_join(t[i], NULL), 0);
		ASSERT_EQ(sh[i].err, 0);
	}
	pthread_barrier_destroy(&locked);
	pthread_barrier_destroy(&go);
	ASSERT_OK(shmkit_mutex_lock(&m[REG_SLOTS]));
	ASSERT_OK(shmkit_mutex_unlock(&m[REG_SLOTS]));
	ASSERT_OK(shmkit_destroy(seg));
}

/*
 * Regression (issue 7, item 9), the consequence: a child locks the mutex,
 * tries to detach (or grow, which moves the mapping) the segment it lies
 * in, and is SIGKILLed. On the old code the detach or resize went through,
 * the kernel's robust-list walk could no longer reach the mutex, and every
 * later lock timed out for good. Now the child is refused, and the parent's
 * timedlock gets -EOWNERDEAD at once.
 */
static void death_after_refused_unmap_one(bool resize)
{
	char spec[128];
	shmkit_seg *s;
	shmkit_mutex *m;
	struct timespec t0;
	pid_t pid;
	int st, r;

	snprintf(spec, sizeof(spec), "posix:%s", test_name("death"));
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	m = shmkit_addr(s);
	ASSERT_OK(shmkit_mutex_init(m));
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_seg *c;
		if (shmkit_attach(spec, NULL, &c) < 0 ||
		    shmkit_mutex_lock(shmkit_addr(c)) != 0)
			_exit(2);
		/* Refused either way now; the old code unmapped or moved. */
		(void)(resize ? shmkit_resize(c, 64 << 20) : shmkit_detach(c));
		raise(SIGKILL);
		_exit(3);
	}
	st = test_wait_child(pid, 5000, "holder");
	ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = shmkit_mutex_timedlock(m, 2000);
	if (r != -EOWNERDEAD)
		FAIL_("after the holder %s and died: timedlock gave %s after "
		      "%lld ms, not -EOWNERDEAD",
		      resize ? "grew the segment" : "detached",
		      shmkit_err_name(r), (long long)ms_since(&t0));
	ASSERT(ms_since(&t0) < 1000);
	ASSERT_OK(shmkit_mutex_consistent(m));
	ASSERT_OK(shmkit_mutex_unlock(m));
	ASSERT_OK(shmkit_destroy(s));
}

static void death_after_refused_unmap(void)
{
	death_after_refused_unmap_one(false);
	death_after_refused_unmap_one(true);
}

TEST_MAIN("mutex", TEST(exclusion_across_processes),
	  TEST(owner_death_is_reported_and_repairable),
	  TEST(never_unusable_without_repair),
	  TEST(trylock_timedlock_and_misuse), TEST(detach_refused_while_held),
	  TEST(too_many_held), TEST(death_after_refused_unmap))
