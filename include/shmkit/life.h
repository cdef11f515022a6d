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
 * The kernel hands a dead holder's mutex on by walking that thread's list
 * of held robust mutexes, at the addresses they were locked at. So while
 * any thread of a process holds a shmkit_mutex, that process cannot detach,
 * destroy or resize the segment it lies in (-EBUSY, nothing changed; see
 * shmkit_op() in shmkit.h): had the mapping been unmapped or moved, the
 * mutex would be locked for good once the holder died. Each process keeps
 * a table of the mutexes its threads hold, 4096 at most: a lock that would
 * exceed that gives the mutex back and fails with -ENOLCK. A child made by
 * fork() holds none of its parent's mutexes.
 *
 * On Windows it is a named kernel mutex ("Global\shmkit.mx.<random id>"
 * in a win:Global\ or file: segment, else "Local\..."), opened by each
 * process on first use, usable by whoever may write the segment (the
 * creator only outside any segment); the contract above holds, -EBUSY
 * rule included (docs/reliability.md, docs/windows.md).
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
 * Lock. Waits for as long as it takes; a waiter that is killed just as an
 * unlock woke it (which the kernel does not pass on to the next waiter)
 * costs the other waiters at most 20 ms, never a hang.
 * 0; -EOWNERDEAD: locked, but the previous owner died holding it (or
 * left the data unrepaired); -EINVAL: not an initialised shmkit_mutex;
 * -EDEADLK: this thread already holds it; -ENOLCK: this process already
 * holds 4096 shmkit_mutexes (not locked).
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

/*
 * Stale segments.
 *
 * A segment created with SHMKIT_F_EPHEMERAL should disappear when no process
 * uses it any more; one created without it is persistent: it outlives its
 * creator on purpose and is never garbage-collected. Every shmkit handle on
 * a posix or file segment holds a shared lock that the kernel drops when the
 * process dies, so "in use" is known without trusting PIDs. memfd and anon
 * segments are freed by the kernel with their last user, and an ephemeral
 * System V segment is marked for removal at create (it is then attached by
 * "sysv:id=N" and freed at its last detach), so neither ever needs gc.
 *
 * An ephemeral System V segment must be created as "sysv:private": a key or
 * ftok spec is -EINVAL (IPC_RMID drops the key anyway, so nobody could
 * attach by it, and a key must never be left taken). Create runs shmget,
 * shmat and IPC_RMID back to back, before the group change and the
 * prefault; a creator killed between shmget and IPC_RMID (a window of two
 * system calls) leaves an unattached private segment, holding no key, that
 * ipcs -m shows and ipcrm removes. kernel.shm_rmid_forced=1 closes that
 * window (the kernel then destroys what an exiting process created and
 * nobody attached, and any System V segment, persistent ones included, at
 * its last detach).
 *
 * The lock is flock(2), which needs only read access: anyone who can open
 * an ephemeral segment for reading can hold it. Holding it exclusively
 * would block attachers; attach therefore never waits for it more than
 * about a second and then fails with -EBUSY (gc and the probes of
 * shmkit_list/stat/in_use hold it exclusively only for an instant). Holding
 * it shared makes the segment look in use, so gc never collects it while
 * that reader holds it. Keep ephemeral segments' mode private (the default
 * 0600) where other users must not be able to do either.
 */

/* shmkit_gc() flags */
#define SHMKIT_GC_DRY_RUN 0x1u /* report what would be removed; remove nothing */

/* Called for each segment removed (or, with SHMKIT_GC_DRY_RUN, that would
 * be). Return nonzero to stop; shmkit_gc() then returns that value. */
typedef int (*shmkit_gc_cb)(const char *spec, uint64_t size, void *arg);

/*
 * Remove the ephemeral segments in dir that no live process uses: NULL
 * means /dev/shm (POSIX segments, reported as "posix:/NAME"), another
 * directory is walked for file: segments. Never touches a persistent
 * segment, a segment in use, or one shmkit did not create, and never
 * removes the name of a live segment made under a stale one's name while gc
 * runs: it moves the stale one to a private name (".shmkit-gc-<pid>-<n>" in
 * the same directory) before it removes it, and puts back what turns out
 * not to be it. A gc killed in between leaves a stale segment under such a
 * name, which the next gc removes (and reports under that name); other dot
 * names are skipped. With SHMKIT_GC_DRY_RUN nothing is moved or removed.
 * Returns how many were removed, or a negative errno (the first error, when
 * nothing could be removed).
 */
SHMKIT_EXTERN int shmkit_gc(const char *dir, unsigned int flags,
			    shmkit_gc_cb cb, void *arg);

/*
 * 1 if a live process uses the segment (a shmkit handle on posix/file; any
 * attach on sysv), 0 if none does, or a negative errno: -ENOENT if absent,
 * -ENODEV if the name is not a regular file (as attach), -ENOTSUP for
 * memfd/fd/anon (they exist only while used).
 */
SHMKIT_EXTERN int shmkit_in_use(const char *spec);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_LIFE_H */
