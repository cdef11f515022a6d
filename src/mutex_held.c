/*
 * mutex_held.c: the registry of the shmkit_mutexes this process's threads
 * hold, which both mutex implementations (src/unix/mutex.c, src/win/mutex.c)
 * keep, and which the dispatcher (src/seg.c) reads to refuse detach, destroy
 * and resize of a segment with -EBUSY while a mutex in it is held.
 *
 * Why it exists differs by system (each mutex.c says why), the table does
 * not: HELD_MAX slots of addresses, claimed with compare-and-swap by a lock
 * and cleared by unlock, plus a count, so that the dispatcher pays one
 * relaxed load when nothing is held. Lock-free because a lock may be taken
 * by any thread at any time, and cheap because every lock pays for it.
 */
#include "internal.h"

#define HELD_MAX 4096u /* a power of two; life.h promises this many */

static uintptr_t held[HELD_MAX]; /* 0: free; else a held mutex's address */
unsigned long shmkit__mutex_nheld; /* slots in use; relaxed atomics */

/* The slot to start looking from: distinct mutexes start apart. */
static size_t held_home(uintptr_t a)
{
	return (size_t)(a / sizeof(shmkit_mutex)) & (HELD_MAX - 1);
}

bool shmkit__held_add(const void *m)
{
	uintptr_t a = (uintptr_t)m;
	size_t i, k;

	for (i = 0, k = held_home(a); i < HELD_MAX; i++, k = (k + 1) & (HELD_MAX - 1)) {
		uintptr_t free_ = 0;
		if (__atomic_load_n(&held[k], __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&held[k], &free_, a, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			__atomic_fetch_add(&shmkit__mutex_nheld, 1, __ATOMIC_RELAXED);
			return true;
		}
	}
	return false;
}

void shmkit__held_remove(const void *m)
{
	uintptr_t a = (uintptr_t)m;
	size_t i, k;

	for (i = 0, k = held_home(a); i < HELD_MAX; i++, k = (k + 1) & (HELD_MAX - 1)) {
		if (__atomic_load_n(&held[k], __ATOMIC_RELAXED) == a) {
			__atomic_store_n(&held[k], 0, __ATOMIC_RELAXED);
			__atomic_fetch_sub(&shmkit__mutex_nheld, 1, __ATOMIC_RELAXED);
			return;
		}
	}
}

void shmkit__held_forget_all(void)
{
	size_t i;

	for (i = 0; i < HELD_MAX; i++)
		__atomic_store_n(&held[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&shmkit__mutex_nheld, 0, __ATOMIC_RELAXED);
}

bool shmkit__mutex_held_in_slow(const void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr;
	size_t i;

	for (i = 0; i < HELD_MAX; i++) {
		uintptr_t a = __atomic_load_n(&held[i], __ATOMIC_RELAXED);
		if (a && a - lo < len)
			return true;
	}
	return false;
}
