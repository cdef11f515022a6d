/*
 * fdmap.c: the steps every descriptor-backed backend shares (posix, file,
 * memfd, fd): size, reserve, map, resize, unmap.
 *
 * Reservation is the point of this file. ftruncate() on tmpfs only sets the
 * size; pages are allocated when first touched, and a full tmpfs then kills
 * the toucher with SIGBUS. PostgreSQL learned this in production and calls
 * posix_fallocate() at create; so do we, and also when a resize grows the
 * object, so that "no space" is an error from create or resize, never a
 * signal later. posix_fallocate() on tmpfs can be interrupted by a signal
 * (it may take a while for large sizes); EINTR is retried.
 *
 * Attach maps only regular files. Anyone who can write to /dev/shm (or to
 * the directory of a file: path) can plant a FIFO or a device node at a
 * name, and open(O_RDONLY) of a FIFO blocks until a writer appears: so the
 * backends open names with O_NONBLOCK (which changes nothing for a regular
 * file) and the type is checked here, after fstat, before anything else:
 * -ENODEV, mmap's own word for "this cannot be mapped".
 */
#include "../internal.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

size_t shmkit__huge_page_size(void)
{
	char line[128];
	size_t kb = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %zu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

size_t shmkit__hugetlbfs_unit(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC && sf.f_bsize > 0)
		return (size_t)sf.f_bsize;
	return 0;
}

void shmkit__close(int fd)
{
	int saved = errno;
	if (fd >= 0)
		(void)close(fd);
	errno = saved;
}

/*
 * Reserve [from, from + len) for real so later faults cannot SIGBUS. On
 * hugetlbfs (a huge-page memfd, or a file: there) ENOSPC means too few huge
 * pages in the pool or under the mount's size limit, which shmkit reports
 * as -ENOMEM on every backend, as shmget(SHM_HUGETLB) and mmap(MAP_HUGETLB)
 * do; the extra fstatfs is paid only on that failure.
 */
static int reserve(int fd, size_t from, size_t len)
{
	int r;
	do {
		r = posix_fallocate(fd, (off_t)from, (off_t)len);
	} while (r == EINTR);
	if (r == ENOSPC && shmkit__hugetlbfs_unit(fd))
		return -ENOMEM;
	return -r;
}

/*
 * Past RLIMIT_FSIZE (ulimit -f), ftruncate() and posix_fallocate() raise
 * SIGXFSZ, whose default action kills the process before anything could be
 * backed out, leaving a half-made file behind. A library must not change
 * signal dispositions, so a size the limit refuses is refused here first,
 * -EFBIG, as the calls themselves say when the signal is ignored. Only
 * growth is checked: shrinking, and undoing a grow, never raise it.
 *
 * A getrlimit() on every create cost the cheap creates (memfd, posix at
 * 4 KiB) a tenth of their time, so the limit is read once per process,
 * again in a forked child (which may set its own before it creates), and
 * again whenever a size reaches the one read: a limit raised later is
 * seen, one lowered later by the process itself is the kernel's to
 * enforce, with SIGXFSZ.
 */
static uint64_t fsize_limit; /* 0: not read here yet; relaxed atomics */
static pthread_once_t fsize_once = PTHREAD_ONCE_INIT;

static void fsize_forget(void)
{
	__atomic_store_n(&fsize_limit, 0, __ATOMIC_RELAXED);
}

static void fsize_init(void)
{
	(void)pthread_atfork(NULL, NULL, fsize_forget);
}

int shmkit__within_fsize(size_t size)
{
	uint64_t lim = __atomic_load_n(&fsize_limit, __ATOMIC_RELAXED);
	struct rlimit rl;

	if (lim && (uint64_t)size <= lim)
		return 0;
	(void)pthread_once(&fsize_once, fsize_init);
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 0;
	lim = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	if (lim) /* a limit of 0 is read again each time */
		__atomic_store_n(&fsize_limit, lim, __ATOMIC_RELAXED);
	return (uint64_t)size > lim ? -EFBIG : 0;
}

static int truncate_to(int fd, size_t size)
{
	while (ftruncate(fd, (off_t)size) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int shmkit__apply_perms(int fd, const shmkit_opts *o)
{
	unsigned mode = shmkit__mode(o);

	/* The sticky bit is how an attacher tells from the fstat() it makes
	 * anyway that a segment is ephemeral and must be locked while used
	 * (src/unix/lifetime.c): persistent segments then cost no extra call. */
	if (shmkit__flags(o) & SHMKIT_F_EPHEMERAL)
		mode |= S_ISVTX;
	/* open() applied the umask; 0600 is never narrowed by a sane umask, so
	 * only pay for fchmod() when the caller asked for more. */
	if (mode != 0600u && fchmod(fd, (mode_t)mode) < 0)
		return -errno;
	if ((shmkit__flags(o) & SHMKIT_F_GROUP) &&
	    fchown(fd, (uid_t)-1, o->group) < 0)
		return -errno;
	return 0;
}

int shmkit__map_fd(shmkit_seg *seg, int fd, size_t size)
{
	int prot = PROT_READ;
	int flags = MAP_SHARED;
	void *p;

	if (!(seg->flags & SHMKIT_F_RDONLY))
		prot |= PROT_WRITE;
	if (seg->flags & SHMKIT_F_PREFAULT)
		flags |= MAP_POPULATE;
	p = mmap(NULL, size, prot, flags, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	seg->addr = p;
	seg->size = size;
	return 0;
}

int shmkit__fd_create_finish(shmkit_seg *seg, int fd, size_t size,
			     const shmkit_opts *o)
{
	int r;

	r = shmkit__apply_perms(fd, o);
	if (r < 0)
		return r;
	r = shmkit__within_fsize(size);
	if (r < 0)
		return r;
	r = truncate_to(fd, size);
	if (r < 0)
		return r;
	if (!(seg->flags & SHMKIT_F_NORESERVE)) {
		r = reserve(fd, 0, size);
		if (r < 0)
			return r;
	}
	r = shmkit__map_fd(seg, fd, size);
	if (r < 0)
		return r;
	seg->fd = fd;
	return 0;
}

int shmkit__fd_attach_finish(shmkit_seg *seg, int fd, const shmkit_opts *o)
{
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENODEV; /* a FIFO, device or directory: not memory */
	/* Named backends (those with a name to remove) must not join a
	 * segment that gc removed while we were opening it. */
	r = shmkit__life_join(fd, &st, seg->be->remove != NULL);
	if (r < 0)
		return r;
	if ((shmkit__flags(o) & SHMKIT_F_OWNER) && st.st_uid != o->owner)
		return -EPERM;
	if (st.st_size <= 0)
		return -ENODATA; /* made but not sized yet, or emptied */
	if ((unsigned long long)st.st_size > (unsigned long long)SIZE_MAX)
		return -EFBIG;
	r = shmkit__map_fd(seg, fd, (size_t)st.st_size);
	if (r < 0)
		return r;
	seg->fd = fd;
	return 0;
}

int shmkit__fd_resize(shmkit_seg *seg, size_t size)
{
	size_t old = seg->size;
	void *p;
	int r;

	if (size == old)
		return 0;
	if (seg->flags & SHMKIT_F_RDONLY)
		return -EBADF;
	if (size > old) {
		r = shmkit__within_fsize(size);
		if (r < 0)
			return r;
		r = truncate_to(seg->fd, size);
		if (r < 0)
			return r;
		if (!(seg->flags & SHMKIT_F_NORESERVE)) {
			r = reserve(seg->fd, old, size - old);
			if (r < 0)
				goto undo_grow;
		}
		p = mremap(seg->addr, old, size, MREMAP_MAYMOVE);
		if (p == MAP_FAILED) {
			r = -errno;
			goto undo_grow;
		}
	} else {
		/* Shrink the mapping first, so no page of it lies past EOF. */
		p = mremap(seg->addr, old, size, 0);
		if (p == MAP_FAILED)
			return -errno;
		r = truncate_to(seg->fd, size);
		if (r < 0) {
			void *q = mremap(p, size, old, MREMAP_MAYMOVE);
			if (q != MAP_FAILED) {
				seg->addr = q;
			} else { /* the smaller map stays valid */
				seg->addr = p;
				seg->size = size;
			}
			return r;
		}
	}
	seg->addr = p;
	seg->size = size;
	return 0;

undo_grow:
	(void)truncate_to(seg->fd, old);
	return r;
}

int shmkit__fd_detach(shmkit_seg *seg)
{
	int r = 0;

	if (seg->addr && munmap(seg->addr, seg->size) < 0)
		r = -errno;
	seg->addr = NULL;
	if (seg->fd >= 0 && close(seg->fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	seg->fd = -1;
	return r;
}
