/*
 * shmkit/life.h: lifetime and safety (layer 4): a robust process-shared
 * mutex, and garbage collection of stale segments.
 * Included by shmkit.h; do not include it on its own.
 */
#ifndef SHMKIT_LIFE_H
#define SHMKIT_LIFE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A mutex that lives in shared memory and survives the death of its owner.
 *
 * Place it anywhere in a segment (8-byte aligned), call shmkit_mutex_init()
 * once, from one process, before anyone locks it. When a process dies
 * holding it, the next locker gets -EOWNERDEAD: it now owns the mutex, the
 * data it guards may be half-updated; it repairs the data and calls
 * shmkit_mutex_consistent(), then unlocks as usual. If it unlocks without
 * marking it consistent (or dies too), the mutex stays usable and the next
 * locker is told -EOWNERDEAD again: unlike a bare robust pthread mutex (or
 * Boost's), a shmkit_mutex never becomes permanently unusable.
 *
 * The struct is opaque; its size is part of the ABI.
 */
typedef struct shmkit_mutex {
	union {
		unsigned char bytes[64];
		long long align_;
	} u_;
} shmkit_mutex;

/* Initialise in place: process-shared, robust. 0 or -errno. */
SHMKIT_EXTERN int shmkit_mutex_init(shmkit_mutex *m);

/*
 * Lock. 0; -EOWNERDEAD: locked, but the previous owner died holding it (or
 * left the data unrepaired); -EINVAL: not an initialised shmkit_mutex;
 * -EDEADLK: this thread already holds it.
 */
SHMKIT_EXTERN int shmkit_mutex_lock(shmkit_mutex *m);

/* As lock, but gives up after timeout_ms milliseconds with -ETIMEDOUT. */
SHMKIT_EXTERN int shmkit_mutex_timedlock(shmkit_mutex *m, int64_t timeout_ms);

/* As lock, but -EBUSY at once when another holder has it. */
SHMKIT_EXTERN int shmkit_mutex_trylock(shmkit_mutex *m);

/* Mark the guarded data repaired after -EOWNERDEAD. -EINVAL if not needed. */
SHMKIT_EXTERN int shmkit_mutex_consistent(shmkit_mutex *m);

/* Unlock. -EPERM if the calling thread does not hold it. */
SHMKIT_EXTERN int shmkit_mutex_unlock(shmkit_mutex *m);

/* Destroy (no process may hold or wait on it). -EBUSY if locked. */
SHMKIT_EXTERN int shmkit_mutex_destroy(shmkit_mutex *m);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_LIFE_H */
