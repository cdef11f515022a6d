/*
 * mutex.c (Windows): shmkit_mutex, a robust process-shared mutex, on a
 * named kernel mutex.
 *
 * Windows has no process-shared lock that can live in shared memory, but a
 * kernel mutex does what a robust pthread mutex does: when its owner thread
 * dies, the kernel frees it and tells the next waiter WAIT_ABANDONED. So
 * the 64-byte struct holds no lock, only a random 128-bit id (set by
 * shmkit_mutex_init), and every process opens the kernel mutex named
 * "<ns>\shmkit.mx.<32 hex digits>" on its first use of that struct. The
 * name is built here, never read from shared memory, so a hostile struct
 * can only point a process at another shmkit mutex, never at any other
 * object.
 *
 * Namespace and access come from the segment the struct lies in, found by
 * its address in this process's table of views (views.c): Global\ for a
 * win:Global\ segment and for a file: segment, Local\ for a Local one,
 * so that every process of the segment, whatever its session, opens the
 * same kernel mutex (the namespace is the segment's, the id the struct's).
 * Its DACL lets whoever may write the segment lock it (SYNCHRONIZE |
 * MUTEX_MODIFY_STATE, all CreateMutexEx asks for), not those who may only
 * read it; the creating user and SYSTEM always. A struct in no segment
 * (private memory) gets Local\ and the creating user only. The first
 * process to use a mutex makes its object, and any process that can read
 * the struct can compute its name: a reader that makes it first, before
 * any writer, can give it a DACL of its own (a denial of service, not a
 * way into the data; docs/windows.md).
 *
 * The repair protocol is the Linux one (src/unix/mutex.c): WAIT_ABANDONED
 * is -EOWNERDEAD, a "dirty" word in the struct is set then and cleared
 * only by shmkit_mutex_consistent(), and every locker that finds it set is
 * told -EOWNERDEAD; a kernel mutex never becomes unusable, so nothing else
 * is needed for "never unrecoverable". One case is Windows' own: a named
 * object dies with its last handle, so when the holder was the last
 * process with the mutex open and died, the abandoned mutex is gone and
 * the next locker makes a fresh, free one. The struct's owner word covers
 * it: the holder sets it once it has the mutex and clears it before it
 * lets go, so a locker that finds it set knows that the previous holder
 * never unlocked, and reports -EOWNERDEAD as if it had been abandoned.
 * dirty and owner are written only by the holder.
 *
 * Kernel mutexes are recursive; shmkit_mutex is not. This process's table
 * of open mutexes (below) records which of its threads holds each one:
 * private memory, which a hostile struct cannot forge. A relock by the
 * holder is -EDEADLK (trylock: -EBUSY, as a pthread error-checking mutex
 * says), an unlock by anyone else -EPERM.
 *
 * The table: HANDLEs by id, TAB_SIZE slots, each id looked up in a window
 * of TAB_PROBE slots from its home, under an SRWLOCK (shared to look up,
 * exclusive to add). A slot may be reused for another id when no thread of
 * this process holds or is using its mutex (closing our handle is then
 * harmless: the state that matters is in the struct). A lock that finds
 * the window full of mutexes in use fails with -ENOLCK.
 *
 * The registry of held mutexes (src/mutex_held.c) is kept as on Linux, and
 * the dispatcher refuses detach, destroy and resize of a segment with
 * -EBUSY while a thread of this process holds a mutex in it. The kernel
 * needs no address here (a dead owner's mutex is abandoned wherever it was
 * mapped), but the holder must still be able to unlock what it holds, and
 * one program behaves the same on both systems.
 */
#include "win_int.h"

#include <stdio.h>
#include <string.h>

#define MUTEX_MAGIC 0x534b4d58u /* "SKMX" */

struct mutex_impl {
	uint32_t magic;
	uint32_t dirty; /* holder only: the guarded data needs repair */
	uint32_t owner; /* holder's thread id while held, else 0; holder only */
	uint32_t pad_;
	uint64_t id[2]; /* names the kernel mutex; written once at init */
};

_Static_assert(sizeof(struct mutex_impl) <= sizeof(shmkit_mutex),
	       "shmkit_mutex too small");

/* -- This process's open mutexes -------------------------------------------- */

#define TAB_SIZE 4096u /* a power of two */
#define TAB_PROBE 64u

struct ent {
	uint64_t id[2];
	HANDLE h;     /* NULL: free slot */
	DWORD holder; /* the thread of this process that holds it, else 0 */
	LONG refs;    /* calls using h right now */
};

static struct ent tab[TAB_SIZE];
static SRWLOCK tab_lock = SRWLOCK_INIT;

static size_t tab_home(const uint64_t id[2])
{
	return (size_t)(id[0] ^ (id[1] >> 7)) & (TAB_SIZE - 1);
}

/* Under tab_lock: the slot of id, or NULL. */
static struct ent *tab_find(const uint64_t id[2])
{
	size_t i, k;

	for (i = 0, k = tab_home(id); i < TAB_PROBE; i++, k = (k + 1) & (TAB_SIZE - 1))
		if (tab[k].h && tab[k].id[0] == id[0] && tab[k].id[1] == id[1])
			return &tab[k];
	return NULL;
}

/* What a locker needs, and what the segment's writers get. */
#define MUTEX_USE (SYNCHRONIZE | MUTEX_MODIFY_STATE)

/* The kernel object's name for id, in its namespace. */
static void kernel_name(const uint64_t id[2], bool global, char *buf,
			size_t cap)
{
	snprintf(buf, cap, "%s\\shmkit.mx.%016llx%016llx",
		 global ? "Global" : "Local", (unsigned long long)id[0],
		 (unsigned long long)id[1]);
}

/* x's kernel mutex, made (with sa, when out of the registry) or opened. */
static int open_kernel(const struct mutex_impl *x, const uint64_t id[2],
		       HANDLE *ret)
{
	char name[64];
	WCHAR wname[64];
	shmkit__win_sa sa;
	bool global;
	HANDLE h;
	int r;

	/* The namespace and the DACL are the segment's (views.c). */
	if ((r = shmkit__win_view_lookup(x, MUTEX_ALL_ACCESS, MUTEX_USE, &sa,
					 &global)) < 0)
		return r;
	kernel_name(id, global, name, sizeof(name));
	if ((r = shmkit__win_wide(name, wname, 64)) < 0) {
		shmkit__win_sa_free(&sa);
		return r;
	}
	/* Creates it, or opens it when another process did: asking only for
	 * what a locker uses, which is what the DACL grants writers. */
	h = CreateMutexExW(&sa.sa, wname, 0, MUTEX_USE);
	r = h ? 0 : GetLastError() == ERROR_INVALID_HANDLE
			    ? -EINVAL /* the name is some other kind of object */
			    : shmkit__win_last();
	shmkit__win_sa_free(&sa);
	if (r < 0)
		return r;
	*ret = h;
	return 0;
}

int shmkit__win_mutex_name(const shmkit_mutex *m, char *buf, size_t cap)
{
	const struct mutex_impl *x = (const struct mutex_impl *)(const void *)m;
	uint64_t id[2];
	bool global;
	int r;

	if (!m || __atomic_load_n(&x->magic, __ATOMIC_ACQUIRE) != MUTEX_MAGIC)
		return -EINVAL;
	id[0] = __atomic_load_n(&x->id[0], __ATOMIC_RELAXED);
	id[1] = __atomic_load_n(&x->id[1], __ATOMIC_RELAXED);
	if ((r = shmkit__win_view_lookup(x, 0, 0, NULL, &global)) < 0)
		return r;
	kernel_name(id, global, buf, cap);
	return r;
}

static DWORD holder_of(struct ent *e)
{
	return __atomic_load_n(&e->holder, __ATOMIC_RELAXED);
}

/*
 * The slot of x's mutex, opened and added if need be, with a reference
 * held (put() gives it back). create false: NULL when this process has
 * none open (unlock: then it holds none).
 */
static int get(const struct mutex_impl *x, bool create, struct ent **ret)
{
	uint64_t id[2] = {__atomic_load_n(&x->id[0], __ATOMIC_RELAXED),
			  __atomic_load_n(&x->id[1], __ATOMIC_RELAXED)};
	struct ent *e;
	HANDLE h;
	size_t i, k;
	int r;

	AcquireSRWLockShared(&tab_lock);
	e = tab_find(id);
	if (e)
		InterlockedIncrement(&e->refs);
	ReleaseSRWLockShared(&tab_lock);
	if (e || !create) {
		*ret = e;
		return e ? 0 : -ENOENT;
	}
	/* Opened outside the lock: the kernel may take its time. */
	if ((r = open_kernel(x, id, &h)) < 0)
		return r;
	AcquireSRWLockExclusive(&tab_lock);
	e = tab_find(id);
	if (e) { /* another thread was quicker */
		InterlockedIncrement(&e->refs);
		ReleaseSRWLockExclusive(&tab_lock);
		CloseHandle(h);
		*ret = e;
		return 0;
	}
	for (i = 0, k = tab_home(id); i < TAB_PROBE; i++, k = (k + 1) & (TAB_SIZE - 1)) {
		struct ent *s = &tab[k];
		if (s->h && (__atomic_load_n(&s->refs, __ATOMIC_ACQUIRE) ||
			     holder_of(s)))
			continue;
		if (s->h)
			CloseHandle(s->h); /* nobody here uses it: reuse */
		s->id[0] = id[0];
		s->id[1] = id[1];
		s->h = h;
		s->holder = 0;
		s->refs = 1;
		e = s;
		break;
	}
	ReleaseSRWLockExclusive(&tab_lock);
	if (!e) {
		CloseHandle(h);
		return -ENOLCK;
	}
	*ret = e;
	return 0;
}

static void put(struct ent *e)
{
	InterlockedDecrement(&e->refs);
}

/* -- The mutex ---------------------------------------------------------------- */

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
	uint64_t id[2];
	int r;

	if (!m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	if ((r = shmkit__win_random(id, sizeof(id))) < 0)
		return r;
	x->id[0] = id[0];
	x->id[1] = id[1] | 1; /* never all zero */
	__atomic_store_n(&x->magic, MUTEX_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* We hold e's mutex now; dead: its last holder died holding it. */
static int took(struct mutex_impl *x, struct ent *e, bool dead)
{
	DWORD self = GetCurrentThreadId();

	if (__atomic_load_n(&x->owner, __ATOMIC_RELAXED) != 0)
		dead = true; /* its holder never unlocked (see above) */
	if (dead)
		x->dirty = 1;
	/* Registered, or not held at all: a full registry gives it back
	 * (dirty, and owner, stay for the next locker). */
	if (!shmkit__held_add(x)) {
		ReleaseMutex(e->h);
		put(e);
		return -ENOLCK;
	}
	__atomic_store_n(&e->holder, self, __ATOMIC_RELAXED);
	__atomic_store_n(&x->owner, self, __ATOMIC_RELAXED);
	put(e);
	return x->dirty ? -EOWNERDEAD : 0;
}

/* Lock, waiting at most timeout_ms (-1: for ever; 0: trylock). */
static int lock_wait(shmkit_mutex *m, int64_t timeout_ms)
{
	struct mutex_impl *x = impl(m);
	ULONGLONG deadline = 0;
	struct ent *e;
	DWORD w;
	int r;

	if (!x)
		return -EINVAL;
	if ((r = get(x, true, &e)) < 0)
		return r;
	if (holder_of(e) == GetCurrentThreadId()) {
		/* Held by this thread, or by a dead one of this process
		 * whose id this thread now has: ask the kernel, without
		 * waiting (a recursive take that succeeds is given back). */
		w = WaitForSingleObject(e->h, 0);
		if (w == WAIT_OBJECT_0) {
			ReleaseMutex(e->h);
			put(e);
			return timeout_ms == 0 ? -EBUSY : -EDEADLK;
		}
		if (w == WAIT_ABANDONED)
			return took(x, e, true);
		/* another holds it: our record was stale; wait as usual */
	}
	if (timeout_ms > 0)
		deadline = GetTickCount64() + (ULONGLONG)timeout_ms;
	for (;;) {
		DWORD slice = INFINITE;
		if (timeout_ms >= 0) {
			ULONGLONG now = GetTickCount64();
			ULONGLONG left = deadline > now ? deadline - now : 0;
			slice = left > 0x7fffffffu ? 0x7fffffffu : (DWORD)left;
		}
		w = WaitForSingleObject(e->h, slice);
		if (w == WAIT_OBJECT_0)
			return took(x, e, false);
		if (w == WAIT_ABANDONED)
			return took(x, e, true);
		if (w == WAIT_TIMEOUT && timeout_ms > 0 &&
		    GetTickCount64() < deadline)
			continue; /* a wait longer than one slice */
		r = w == WAIT_TIMEOUT ? (timeout_ms == 0 ? -EBUSY : -ETIMEDOUT)
				      : shmkit__win_last();
		put(e);
		return r;
	}
}

int shmkit_mutex_lock(shmkit_mutex *m)
{
	return lock_wait(m, -1);
}

int shmkit_mutex_trylock(shmkit_mutex *m)
{
	return lock_wait(m, 0);
}

int shmkit_mutex_timedlock(shmkit_mutex *m, int64_t timeout_ms)
{
	/* A zero timeout is a try that says -ETIMEDOUT, as on Linux. */
	if (timeout_ms == 0) {
		int r = lock_wait(m, 0);
		return r == -EBUSY ? -ETIMEDOUT : r;
	}
	return lock_wait(m, timeout_ms < 0 ? -1 : timeout_ms);
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
	struct ent *e;
	int r = 0;

	if (!x)
		return -EINVAL;
	if (get(x, false, &e) < 0)
		return -EPERM; /* never opened here: not held here */
	if (holder_of(e) != GetCurrentThreadId()) {
		put(e);
		return -EPERM;
	}
	__atomic_store_n(&x->owner, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->holder, 0, __ATOMIC_RELAXED);
	shmkit__held_remove(x);
	if (!ReleaseMutex(e->h))
		r = GetLastError() == ERROR_NOT_OWNER ? -EPERM : shmkit__win_last();
	put(e);
	return r;
}

int shmkit_mutex_destroy(shmkit_mutex *m)
{
	struct mutex_impl *x = impl(m);
	struct ent *e;
	DWORD w;
	int r;

	if (!x)
		return -EINVAL;
	if ((r = get(x, true, &e)) < 0)
		return r;
	/* Take it first, so that "held" is reported, not forgotten. */
	if (holder_of(e) == GetCurrentThreadId()) {
		put(e);
		return -EBUSY;
	}
	w = WaitForSingleObject(e->h, 0);
	if (w != WAIT_OBJECT_0 && w != WAIT_ABANDONED) {
		put(e);
		return w == WAIT_TIMEOUT ? -EBUSY : shmkit__win_last();
	}
	__atomic_store_n(&x->owner, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&x->magic, 0, __ATOMIC_RELEASE);
	ReleaseMutex(e->h);
	/* Close our handle now unless another thread is using it. */
	AcquireSRWLockExclusive(&tab_lock);
	if (__atomic_load_n(&e->refs, __ATOMIC_ACQUIRE) == 1 && !holder_of(e)) {
		CloseHandle(e->h);
		e->h = NULL;
		e->refs = 0;
	} else {
		put(e);
	}
	ReleaseSRWLockExclusive(&tab_lock);
	return 0;
}
