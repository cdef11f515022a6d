/*
 * test_mutex.c: shmkit_mutex across processes: mutual exclusion, owner death
 * (-EOWNERDEAD, repair, consistent), and the guarantee bare robust mutexes
 * lack: a mutex whose repairer unlocks without repairing, or dies too, is
 * still usable and still reports the damage.
 */
#include "test.h"

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

TEST_MAIN("mutex", TEST(exclusion_across_processes),
	  TEST(owner_death_is_reported_and_repairable),
	  TEST(never_unusable_without_repair),
	  TEST(trylock_timedlock_and_misuse))
