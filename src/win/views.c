/*
 * views.c (Windows): this process's live segment views, by address, so
 * that the helper objects of a segment (the kernel mutex behind a
 * shmkit_mutex, a channel's semaphores and event) get the segment's
 * namespace and the segment's access.
 *
 * Why a registry. A shmkit_mutex knows only its own address and the id in
 * its struct; every process must still name its kernel object in the same
 * namespace, and the namespace must be the segment's: a Global\ segment
 * shared by a service and a user app needs a Global\ mutex, or each
 * session gets a mutex of its own and both "hold" the lock. The segment
 * is the one thing all of its processes agree on, so the name comes from
 * it (shmkit__win_seg_global), looked up here by the mutex's address.
 *
 * The table: the views sorted by start address, disjoint (two live views
 * never overlap in one address space), in an array that doubles as it
 * grows; a lookup is a binary search under the SRWLOCK held shared, an
 * add or a remove shifts the tail under it held exclusive. Lookups happen
 * only when a process first opens a mutex's kernel object, never on a
 * lock's fast path; adds and removes ride on create, attach and detach,
 * which cost system calls anyway. An entry points at its shmkit_seg,
 * whose handles are read under the shared lock: the backends remove the
 * entry (exclusive, so after any lookup using it) before they close them.
 */
#include "win_int.h"

#include <stdlib.h>
#include <string.h>

struct view {
	uintptr_t lo, hi; /* [lo, hi) */
	const shmkit_seg *seg;
};

static struct view *views;
static size_t nviews, capviews;
static SRWLOCK views_lock = SRWLOCK_INIT;

/* Under views_lock: the index of the first view with lo > a. */
static size_t upper(uintptr_t a)
{
	size_t lo = 0, hi = nviews;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (views[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int shmkit__win_view_add(const shmkit_seg *seg, const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;
	size_t i;
	int r = 0;

	if (!addr || len == 0 || len > UINTPTR_MAX - a)
		return -EINVAL;
	AcquireSRWLockExclusive(&views_lock);
	if (nviews == capviews) {
		size_t cap = capviews ? 2 * capviews : 16;
		struct view *v = realloc(views, cap * sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			goto out;
		}
		views = v;
		capviews = cap;
	}
	i = upper(a);
	memmove(&views[i + 1], &views[i], (nviews - i) * sizeof(*views));
	views[i] = (struct view){.lo = a, .hi = a + len, .seg = seg};
	nviews++;
out:
	ReleaseSRWLockExclusive(&views_lock);
	return r;
}

/* Under views_lock, exclusive: drop the view at index i. */
static void drop(size_t i)
{
	memmove(&views[i], &views[i + 1], (nviews - i - 1) * sizeof(*views));
	nviews--;
}

/* Under views_lock, exclusive: the empty table gives its memory back. */
static void shrink(void)
{
	if (nviews == 0) {
		free(views);
		views = NULL;
		capviews = 0;
	}
}

void shmkit__win_view_move(const void *old, const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)old;
	const shmkit_seg *seg;
	size_t i;

	AcquireSRWLockExclusive(&views_lock);
	i = upper(a);
	if (i > 0 && views[i - 1].lo == a) {
		seg = views[i - 1].seg;
		drop(i - 1);
		/* Back in at its new place: the slot just freed is room. */
		if (addr && len && len <= UINTPTR_MAX - (uintptr_t)addr) {
			i = upper((uintptr_t)addr);
			memmove(&views[i + 1], &views[i],
				(nviews - i) * sizeof(*views));
			views[i] = (struct view){.lo = (uintptr_t)addr,
						 .hi = (uintptr_t)addr + len,
						 .seg = seg};
			nviews++;
		}
	}
	shrink();
	ReleaseSRWLockExclusive(&views_lock);
}

void shmkit__win_view_remove(const void *addr)
{
	shmkit__win_view_move(addr, NULL, 0);
}

void shmkit__win_view_remove_seg(const shmkit_seg *seg)
{
	size_t i, k;

	AcquireSRWLockExclusive(&views_lock);
	for (i = k = 0; i < nviews; i++)
		if (views[i].seg != seg)
			views[k++] = views[i];
	nviews = k;
	shrink();
	ReleaseSRWLockExclusive(&views_lock);
}

bool shmkit__win_seg_global(const shmkit_seg *seg)
{
	if (seg->be->id == SHMKIT_BACKEND_FILE)
		return true;
	/* The spec is canonical: "win:" and the name as given. */
	return seg->be->id == SHMKIT_BACKEND_WIN &&
	       strncmp(seg->spec, "win:Global\\", 11) == 0;
}

int shmkit__win_seg_sa(const shmkit_seg *seg, DWORD full, DWORD rights,
		       shmkit__win_sa *out)
{
	/* A file's DACL is the file's, not its unnamed section's. */
	if (seg->file)
		return shmkit__win_sa_derive(out, seg->file, true, full, rights);
	return shmkit__win_sa_derive(out, seg->mapping, false, full, rights);
}

int shmkit__win_view_lookup(const void *addr, DWORD full, DWORD rights,
			    shmkit__win_sa *out, bool *ret_global)
{
	uintptr_t a = (uintptr_t)addr;
	const struct view *v = NULL;
	int r = 0;
	size_t i;

	AcquireSRWLockShared(&views_lock);
	i = upper(a);
	if (i > 0 && a < views[i - 1].hi)
		v = &views[i - 1];
	*ret_global = v && shmkit__win_seg_global(v->seg);
	if (out)
		r = v ? shmkit__win_seg_sa(v->seg, full, rights, out)
		      : shmkit__win_sa_derive(out, NULL, false, full, rights);
	ReleaseSRWLockShared(&views_lock);
	if (r < 0)
		return r;
	return v != NULL;
}
