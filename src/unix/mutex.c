/*
 * mutex.c: shmkit_mutex, a robust process-shared mutex.
 *
 * Built on a PTHREAD_PROCESS_SHARED, PTHREAD_MUTEX_ROBUST pthread mutex: the
 * kernel walks each dying thread's robust list and hands the mutex to the
 * next locker with EOWNERDEAD, which no user-space scheme can do as well.
 * What pthread gets wrong for shared memory is the ending: a new owner that
 * unlocks without pthread_mutex_consistent() makes the mutex permanently
 * ENOTRECOVERABLE, and every process that uses the segment is stuck. We keep
 * our own "dirty" word next to the pthread mutex instead. On EOWNERDEAD we
 * mark the pthread mutex consistent at once (so it always stays usable) and
 * set dirty; dirty is cleared only by shmkit_mutex_consistent(). Every locker
 * that finds dirty set is told -EOWNERDEAD, so unrepaired data is reported
 * until someone repairs it, and nothing is ever unusable.
 *
 * dirty is only read and written by the holder of the mutex, so plain
 * accesses under the lock suffice. owner is ours too: unlock by a thread
 * that does not hold the mutex is refused (-EPERM) before pthread is asked,
 * so misuse is an error and never undefined behaviour.
 *
 * The kernel can hand a dead holder's mutex on only if it can still reach
 * the mutex at the address the holder locked it at: it walks the dying
 * thread's robust list, whose entries are those addresses. A holder that
 * unmapped the segment (detach, destroy) or moved it (resize) and then died
 * left a mutex that no later lock could ever take (-ETIMEDOUT forever). So
 * this process keeps a registry of the mutexes its threads hold, by
 * address (src/mutex_held.c, shared with Windows): a fixed table of 4096
 * slots claimed with compare-and-swap by lock/trylock/timedlock and cleared
 * by unlock, plus a count. The
 * dispatcher (src/seg.c) refuses detach, destroy and resize with -EBUSY
 * while any address in the mapping is held; when nothing is held that
 * costs it one relaxed load of the count. A lock that finds the table full
 * unlocks again and fails with -ENOLCK: holding more than 4096
 * shmkit_mutexes at once in one process is not supported. A forked child
 * holds none of its parent's mutexes (the kernel's owner is the parent's
 * thread), so a pthread_atfork() child handler, registered once, empties
 * the table there.
 */
#include "../internal.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MUTEX_MAGIC 0x534b4d58u /* "SKMX" */

#if defined(__SANITIZE_THREAD__)
#define SHMKIT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMKIT_TSAN 1
#endif
#endif
#ifdef SHMKIT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/*
 * TSan's pthread_mutex_timedlock interceptor, unlike its lock and trylock
 * ones, does not count an EOWNERDEAD as a lock taken; a waiter whose owner
 * died while it waited tells TSan itself, or the unlock that follows is
 * reported as one of a mutex never locked.
 */
static void tsan_took(void *m)
{
#ifdef SHMKIT_TSAN
	__tsan_mutex_pre_lock(m, __tsan_mutex_try_lock);
	__tsan_mutex_post_lock(m, __tsan_mutex_try_lock, 0);
#else
	(void)m;
#endif
}

/* -- The registry of held mutexes (see above; src/mutex_held.c) ---------- */

static pthread_once_t held_once = PTHREAD_ONCE_INIT;

/* This thread's id: gettid() is a system call, which costs a lock more
 * than the lock itself on a VM; read once per thread, again after fork. */
static __thread int32_t tid_cache __attribute__((tls_model("initial-exec")));

static void held_forget_all(void)
{
	tid_cache = 0; /* the child's only thread: the one that forked */
	shmkit__held_forget_all();
}

static void held_init(void)
{
	(void)pthread_atfork(NULL, NULL, held_forget_all);
}

static bool held_add(const void *m)
{
	(void)pthread_once(&held_once, held_init);
	return shmkit__held_add(m);
}

static void held_remove(const void *m)
{
	shmkit__held_remove(m);
}

struct mutex_impl {
	pthread_mutex_t pm;
	uint32_t magic;
	uint32_t dirty;
	int32_t owner; /* holder's thread id; 0 when free. Atomic, relaxed. */
};

_Static_assert(sizeof(struct mutex_impl) <= sizeof(shmkit_mutex),
	       "shmkit_mutex too small for this C library's pthread_mutex_t");

static struct mutex_impl *impl(shmkit_mutex *m)
{
	struct mutex_impl *x = (struct mutex_impl *)(void *)m;
	if (!m || __atomic_load_n(&x->magic, __ATOMIC_ACQUIRE) != MUTEX_MAGIC)
		return NULL;
	return x;
}

int shmkit_mutex_init(shmkit_mutex *m)
{
	struct mutex_impl *x = (struct mutex_impl *)(void *)m;
	pthread_mutexattr_t a;
	int r;

	if (!m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	r = pthread_mutexattr_init(&a);
	if (r)
		return -r;
	r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	if (!r)
		r = pthread_mutex_init(&x->pm, &a);
	pthread_mutexattr_destroy(&a);
	if (r)
		return -r;
	__atomic_store_n(&x->magic, MUTEX_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

static int32_t self_tid(void)
{
	if (__builtin_expect(tid_cache == 0, 0)) {
		(void)pthread_once(&held_once, held_init);
		tid_cache = (int32_t)gettid();
	}
	return tid_cache;
}

/* Turn what pthread said into what shmkit promises. */
static int after_lock(struct mutex_impl *x, int r)
{
	if (r == EOWNERDEAD) {
		(void)pthread_mutex_consistent(&x->pm);
		x->dirty = 1;
	} else if (r == ENOTRECOVERABLE) {
		return -ENOTRECOVERABLE; /* only if someone bypassed shmkit */
	} else if (r) {
		return -r;
	}
	/* Held now. Registered, or not held at all: a full registry gives
	 * the mutex back (dirty, if set, stays set for the next locker). */
	if (!held_add(x)) {
		(void)pthread_mutex_unlock(&x->pm);
		return -ENOLCK;
	}
	__atomic_store_n(&x->owner, self_tid(), __ATOMIC_RELAXED);
	return x->dirty ? -EOWNERDEAD : 0;
}

/*
 * Wait in slices of at most WAIT_SLICE_MS. An unlock wakes one waiter;
 * should that waiter be killed before it takes the mutex, the kernel
 * (which hands on only what a dead thread *held*) wakes nobody else, and
 * the others would sleep on a free mutex for good. A waiter whose slice
 * ends tries again, so such a lost wake-up costs the others one slice.
 */
#define WAIT_SLICE_MS 20

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Lock, waiting until mono_ms() reaches deadline (-1: for ever). */
static int lock_until(struct mutex_impl *x, int64_t deadline)
{
	for (;;) {
		struct timespec ts;
		int64_t slice = WAIT_SLICE_MS;
		int r;

		/* Free, or left by a dead owner: taken at once, without
		 * reading the clock. (This is also the path TSan follows: its
		 * timedlock interceptor, unlike its lock and trylock ones,
		 * does not count an EOWNERDEAD as a lock taken.) */
		r = pthread_mutex_trylock(&x->pm);
		if (r != EBUSY)
			return after_lock(x, r);
		if (deadline >= 0) {
			int64_t left = deadline - mono_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			if (left < slice)
				slice = left;
		}
		/* pthread_mutex_timedlock() rather than clocklock(CLOCK_
		 * MONOTONIC): sanitizers and older C libraries know only the
		 * former. A jump of the wall clock changes one slice only. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)slice * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		do {
			r = pthread_mutex_timedlock(&x->pm, &ts);
		} while (r == EINTR);
		if (r == EOWNERDEAD)
			tsan_took(&x->pm);
		if (r != ETIMEDOUT)
			return after_lock(x, r);
	}
}

int shmkit_mutex_lock(shmkit_mutex *m)
{
	struct mutex_impl *x = impl(m);
	if (!x)
		return -EINVAL;
	return lock_until(x, -1);
}

int shmkit_mutex_trylock(shmkit_mutex *m)
{
	struct mutex_impl *x = impl(m);
	if (!x)
		return -EINVAL;
	return after_lock(x, pthread_mutex_trylock(&x->pm));
}

int shmkit_mutex_timedlock(shmkit_mutex *m, int64_t timeout_ms)
{
	struct mutex_impl *x = impl(m);

	if (!x)
		return -EINVAL;
	if (timeout_ms < 0)
		return lock_until(x, -1);
	return lock_until(x, mono_ms() + timeout_ms);
}

int shmkit_mutex_consistent(shmkit_mutex *m)
{
	struct mutex_impl *x = impl(m);
	if (!x)
		return -EINVAL;
	if (!x->dirty)
		return -EINVAL;
	x->dirty = 0;
	return 0;
}

int shmkit_mutex_unlock(shmkit_mutex *m)
{
	struct mutex_impl *x = impl(m);
	if (!x)
		return -EINVAL;
	if (__atomic_load_n(&x->owner, __ATOMIC_RELAXED) != self_tid())
		return -EPERM;
	__atomic_store_n(&x->owner, 0, __ATOMIC_RELAXED);
	held_remove(x);
	return -pthread_mutex_unlock(&x->pm);
}

int shmkit_mutex_destroy(shmkit_mutex *m)
{
	struct mutex_impl *x = impl(m);
	int r;

	if (!x)
		return -EINVAL;
	/* glibc destroys a robust mutex held by another process without a
	 * word; take it first so "held" is reported rather than forgotten. */
	r = pthread_mutex_trylock(&x->pm);
	if (r == EOWNERDEAD)
		r = pthread_mutex_consistent(&x->pm);
	if (r)
		return -r;
	__atomic_store_n(&x->owner, 0, __ATOMIC_RELAXED);
	(void)pthread_mutex_unlock(&x->pm);
	r = pthread_mutex_destroy(&x->pm);
	if (r)
		return -r;
	__atomic_store_n(&x->magic, 0, __ATOMIC_RELEASE);
	return 0;
}
