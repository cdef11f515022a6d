/*
 * file.c: a regular file mapped MAP_SHARED. On tmpfs it is POSIX shared
 * memory under a path of the caller's choosing; on disk it persists across
 * reboots; on a hugetlbfs mount it is backed by huge pages.
 *
 * Paths are resolved without following a symlink anywhere (src/unix/path.c,
 * openat2 RESOLVE_NO_SYMLINKS): a symlink planted at the path or at any
 * directory on the way is refused with -ELOOP rather than followed to a file
 * of someone else's choosing, by create, attach, unlink, destroy, stat,
 * in_use and gc alike; the one exception is a create whose name itself is a
 * symlink, which O_CREAT|O_EXCL refuses with -EEXIST, the name being taken.
 * (Without openat2, only a symlink as the last component is refused.) On
 * hugetlbfs the size is rounded up to the huge page size, which that
 * filesystem requires.
 */
#include "../internal.h"

#include <fcntl.h>
#include <unistd.h>

static int file_create(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
		       const shmkit_opts *o)
{
	bool eph = seg->flags & SHMKIT_F_EPHEMERAL;
	const char *name = NULL;
	int dfd = -1, fd, r;
	size_t unit;

	if (eph) {
		/* Built unnamed, named when complete (src/unix/lifetime.c). */
		dfd = shmkit__path_dir(sp->name, &name);
		if (dfd < 0)
			return dfd;
		fd = shmkit__life_open_unnamed(dfd, name, shmkit__mode(o));
	} else {
		fd = shmkit__path_open(sp->name, O_RDWR | O_CREAT | O_EXCL,
				       (mode_t)shmkit__mode(o));
		if (fd >= 0)
			shmkit__life_mark_file(fd); /* for shmkit_list_dir */
	}
	if (fd < 0) {
		shmkit__close(dfd);
		return fd;
	}
	r = shmkit__life_claim(fd, seg->flags);
	if (r < 0)
		goto fail;
	/* Ask the filesystem only when it matters: up front for HUGE, and
	 * after the fact when hugetlbfs refused a size that is not a whole
	 * number of huge pages. Ordinary files pay no extra call. */
	unit = (seg->flags & SHMKIT_F_HUGE) ? shmkit__hugetlbfs_unit(fd) : 0;
	if ((seg->flags & SHMKIT_F_HUGE) && !unit) {
		r = -ENOTSUP; /* huge pages need a file on hugetlbfs */
		goto fail;
	}
	for (;;) {
		if (unit && size % unit) {
			if (size > SIZE_MAX - unit) {
				r = -EFBIG;
				goto fail;
			}
			size += unit - size % unit;
		}
		r = shmkit__fd_create_finish(seg, fd, size, o);
		if (r != -EINVAL || unit || !(unit = shmkit__hugetlbfs_unit(fd)))
			break;
	}
	if (r == 0 && eph) {
		r = shmkit__life_publish(fd, dfd, name);
		if (r < 0)
			(void)shmkit__fd_detach(seg); /* unmaps, closes fd */
		shmkit__close(dfd);
		return r;
	}
	if (r == 0)
		return 0;
fail:
	if (!eph)
		(void)shmkit__path_unlink(sp->name);
	shmkit__close(fd);
	shmkit__close(dfd);
	return r;
}

static int file_attach(shmkit_seg *seg, const shmkit__spec *sp,
		       const shmkit_opts *o)
{
	int fd, r;

	/* O_NONBLOCK: a FIFO at the path must not block the open (fdmap.c). */
	fd = shmkit__path_open(sp->name,
			       ((seg->flags & SHMKIT_F_RDONLY) ? O_RDONLY : O_RDWR) |
				       O_NONBLOCK | O_NOCTTY,
			       0);
	if (fd < 0)
		return fd;
	if ((seg->flags & SHMKIT_F_HUGE) && !shmkit__hugetlbfs_unit(fd)) {
		shmkit__close(fd);
		return -ENOTSUP;
	}
	r = shmkit__fd_attach_finish(seg, fd, o);
	if (r < 0)
		shmkit__close(fd);
	return r;
}

static int file_unlink(const shmkit__spec *sp)
{
	return shmkit__path_unlink(sp->name);
}

static int file_remove(shmkit_seg *seg)
{
	return shmkit__path_unlink(seg->spec + sizeof("file:") - 1);
}

const shmkit__backend shmkit__backend_file = {
	.id = SHMKIT_BACKEND_FILE,
	.name = "file",
	.create = file_create,
	.attach = file_attach,
	.detach = shmkit__fd_detach,
	.remove = file_remove,
	.resize = shmkit__fd_resize,
	.unlink = file_unlink,
};
