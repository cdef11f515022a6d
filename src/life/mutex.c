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
 */
#include "../internal.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MUTEX_MAGIC 0x534b4d58u /* "SKMX" */

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
	return (int32_t)gettid();
}

/* Turn what pthread said into what shmkit promises. */
static int after_lock(struct mutex_impl *x, int r)
{
	if (r == 0 || r == EOWNERDEAD)
		__atomic_store_n(&x->owner, self_tid(), __ATOMIC_RELAXED);
	if (r == EOWNERDEAD) {
		(void)pthread_mutex_consistent(&x->pm);
		x->dirty = 1;
		return -EOWNERDEAD;
	}
	if (r == ENOTRECOVERABLE)
		return -ENOTRECOVERABLE; /* only if someone bypassed shmkit */
	if (r)
		return -r;
	return x->dirty ? -EOWNERDEAD : 0;
}

int shmkit_mutex_lock(shmkit_mutex *m)
{
	struct mutex_impl *x = impl(m);
	if (!x)
		return -EINVAL;
	return after_lock(x, pthread_mutex_lock(&x->pm));
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
	struct timespec ts;
	int r;

	if (!x)
		return -EINVAL;
	if (timeout_ms < 0)
		return shmkit_mutex_lock(m);
	/* pthread_mutex_timedlock() rather than clocklock(CLOCK_MONOTONIC):
	 * sanitizers and older C libraries know only the former. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(timeout_ms / 1000);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	do {
		r = pthread_mutex_timedlock(&x->pm, &ts);
	} while (r == EINTR);
	return after_lock(x, r);
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
