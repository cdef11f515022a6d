/*
 * sysv.c: System V shared memory (shmget/shmat/shmdt/shmctl).
 *
 * Segments are named by an integer key ("sysv:0x1234"), a key derived from
 * a path ("sysv:/path#1", ftok), a fresh private key ("sysv:private", create
 * only; the handle then reports "sysv:id=N"), or the id that ipcs shows
 * ("sysv:id=N", attach only). They live until IPC_RMID and the last detach.
 *
 * There is no descriptor, so resize is -ENOTSUP (shmget cannot change a
 * segment's size) and shmkit_fd() is -EBADF. There is no tmpfs to fill
 * either: the kernel accounts the size at shmget (unless SHM_NORESERVE) and
 * limits it by shmmax/shmall, so "no space" shows up as -EINVAL or -ENOSPC
 * from shmget itself. Unlike open(), shmget() ignores the umask, so the mode
 * is exact.
 *
 * Ephemeral segments (SHMKIT_F_EPHEMERAL) are marked for removal
 * (IPC_RMID) the moment their creator has attached, and the kernel frees
 * them at the last detach. IPC_RMID also drops the key (it becomes
 * IPC_PRIVATE), so nobody could ever attach one by its key: an ephemeral
 * create is only "sysv:private" (a key or ftok spec is -EINVAL), and the
 * handle reports "sysv:id=N". That way no key is ever held hostage: a
 * creator killed while a keyed segment existed used to leave it, keeping
 * the key taken (-EEXIST) for good, with no gc for System V. The order is
 * shmget, shmat, IPC_RMID at once, and only then the group change and the
 * prefault, so the window in which a killed creator leaks anything is two
 * system calls wide (between shmget and IPC_RMID), and what it leaks then is
 * a private segment that holds no key: visible in ipcs -m with nattch 0,
 * removed by ipcrm, never in anyone's way. A host that must not leak even
 * that sets kernel.shm_rmid_forced=1: the kernel then destroys at exit every
 * segment a process created and nobody has attached (and, host-wide, every
 * System V segment when its last user detaches, persistent ones included).
 */
#include "../internal.h"

#include <stdio.h>
#include <sys/mman.h>
#include <sys/shm.h>

static int spec_key(const shmkit__spec *sp, key_t *key)
{
	if (sp->by_ftok) {
		key_t k = ftok(sp->name, sp->proj);
		if (k == (key_t)-1)
			return -errno;
		*key = k;
		return 0;
	}
	*key = sp->key;
	return 0;
}

/* Resolve a spec to a shmid without creating anything. */
static int lookup(const shmkit__spec *sp)
{
	key_t key = 0;
	int id, r;

	if (sp->by_id)
		return sp->shmid;
	if (!sp->by_ftok && sp->key == IPC_PRIVATE)
		return -EINVAL; /* a private segment has no key to find it by */
	r = spec_key(sp, &key);
	if (r < 0)
		return r;
	id = shmget(key, 0, 0);
	return id < 0 ? -errno : id;
}

static int map_id(shmkit_seg *seg, int id, size_t size)
{
	void *p = shmat(id, NULL, (seg->flags & SHMKIT_F_RDONLY) ? SHM_RDONLY : 0);

	if (p == (void *)-1)
		return -errno;
	seg->addr = p;
	seg->size = size;
	seg->shmid = id;
	return 0;
}

static void prefault(shmkit_seg *seg)
{
	/* MADV_WILLNEED would only read ahead; POPULATE maps the pages, as
	 * MAP_POPULATE does for the other backends. */
	if (seg->flags & SHMKIT_F_PREFAULT)
		(void)madvise(seg->addr, seg->size,
			      (seg->flags & SHMKIT_F_RDONLY) ? MADV_POPULATE_READ
							     : MADV_POPULATE_WRITE);
}

static int sysv_create(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
		       const shmkit_opts *o)
{
	int flags = IPC_CREAT | IPC_EXCL | (int)shmkit__mode(o);
	bool eph = seg->flags & SHMKIT_F_EPHEMERAL;
	struct shmid_ds ds;
	key_t key = 0;
	int id, r;

	if (sp->by_id)
		return -EINVAL; /* ids are handed out by the kernel */
	if (eph && (sp->by_ftok || sp->key != IPC_PRIVATE))
		return -EINVAL; /* IPC_RMID would drop the key at once anyway */
	r = spec_key(sp, &key);
	if (r < 0)
		return r;
	if (seg->flags & SHMKIT_F_HUGE) {
		/* The kernel backs whole huge pages but records the size asked
		 * for; ask for what is backed, so that the handle, an attach
		 * and ipcs all see the size that is really there. */
		size_t unit = shmkit__huge_page_size();
		if (!unit)
			return -ENOTSUP;
		if (size % unit) {
			if (size > SIZE_MAX - unit)
				return -EFBIG;
			size += unit - size % unit;
		}
		flags |= SHM_HUGETLB;
	}
	if (seg->flags & SHMKIT_F_NORESERVE)
		flags |= SHM_NORESERVE;
	id = shmget(key, size, flags);
	if (id < 0)
		return -errno;
	r = map_id(seg, id, size);
	if (r < 0)
		goto fail;
	/* Ephemeral: marked for removal at once, before anything slower
	 * (top of file); the kernel frees it at the last detach, and the
	 * group can still be set on a removed segment. */
	if (eph && shmctl(id, IPC_RMID, NULL) < 0) {
		r = -errno;
		goto fail_detach;
	}
	if (shmkit__flags(o) & SHMKIT_F_GROUP) {
		if (shmctl(id, IPC_STAT, &ds) < 0) {
			r = -errno;
			goto fail_detach;
		}
		ds.shm_perm.gid = o->group;
		if (shmctl(id, IPC_SET, &ds) < 0) {
			r = -errno;
			goto fail_detach;
		}
	}
	prefault(seg);
	if (key == IPC_PRIVATE) /* others attach it by id */
		snprintf(seg->spec, sizeof(seg->spec), "sysv:id=%d", id);
	return 0;
fail_detach:
	(void)shmdt(seg->addr);
	seg->addr = NULL;
	seg->size = 0;
	seg->shmid = -1;
fail:
	(void)shmctl(id, IPC_RMID, NULL);
	return r;
}

static int sysv_attach(shmkit_seg *seg, const shmkit__spec *sp,
		       const shmkit_opts *o)
{
	struct shmid_ds ds;
	int id, r;

	id = lookup(sp);
	if (id < 0)
		return id;
	if (shmctl(id, IPC_STAT, &ds) < 0) /* EINVAL: no such id */
		return errno == EIDRM || errno == EINVAL ? -ENOENT : -errno;
	if ((shmkit__flags(o) & SHMKIT_F_OWNER) && ds.shm_perm.uid != o->owner)
		return -EPERM;
	r = map_id(seg, id, ds.shm_segsz);
	if (r == 0)
		prefault(seg);
	return r;
}

static int sysv_detach(shmkit_seg *seg)
{
	int r = 0;
	if (seg->addr && shmdt(seg->addr) < 0)
		r = -errno;
	seg->addr = NULL;
	return r;
}

static int sysv_remove(shmkit_seg *seg)
{
	return shmctl(seg->shmid, IPC_RMID, NULL) < 0 ? -errno : 0;
}

static int sysv_unlink(const shmkit__spec *sp)
{
	int id = lookup(sp);
	if (id < 0)
		return id;
	if (shmctl(id, IPC_RMID, NULL) < 0)
		return errno == EIDRM || errno == EINVAL ? -ENOENT : -errno;
	return 0;
}

const shmkit__backend shmkit__backend_sysv = {
	.id = SHMKIT_BACKEND_SYSV,
	.name = "sysv",
	.create = sysv_create,
	.attach = sysv_attach,
	.detach = sysv_detach,
	.remove = sysv_remove,
	.resize = NULL, /* shmget cannot change a segment's size */
	.unlink = sysv_unlink,
};
