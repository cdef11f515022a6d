/*
 * file.c: a regular file mapped MAP_SHARED. On tmpfs it is POSIX shared
 * memory under a path of the caller's choosing; on disk it persists across
 * reboots; on a hugetlbfs mount it is backed by huge pages.
 *
 * Paths are opened with O_NOFOLLOW: a symlink planted at the path is refused
 * (-ELOOP) rather than followed to a file of someone else's choosing, and
 * O_CREAT|O_EXCL refuses one at create. On hugetlbfs the size is rounded up
 * to the huge page size, which that filesystem requires.
 */
#include "../internal.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

static int open_retry(const char *path, int oflag, mode_t mode)
{
	int fd;
	do {
		fd = open(path, oflag | O_CLOEXEC | O_NOFOLLOW, mode);
	} while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

/* On hugetlbfs, the huge page size; else 0. */
static size_t huge_unit(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC)
		return (size_t)sf.f_bsize;
	return 0;
}

static int file_create(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
		       const shmkit_opts *o)
{
	bool eph = seg->flags & SHMKIT_F_EPHEMERAL;
	size_t unit;
	int fd, r;

	/* Ephemeral: built unnamed, named when complete (src/life/lifetime.c). */
	fd = eph ? shmkit__life_open_unnamed(sp->name, shmkit__mode(o))
		 : open_retry(sp->name, O_RDWR | O_CREAT | O_EXCL,
			      (mode_t)shmkit__mode(o));
	if (fd < 0)
		return fd;
	r = shmkit__life_claim(fd, seg->flags);
	if (r < 0)
		goto fail;
	/* Ask the filesystem only when it matters: up front for HUGE, and
	 * after the fact when hugetlbfs refused a size that is not a whole
	 * number of huge pages. Ordinary files pay no extra call. */
	unit = (seg->flags & SHMKIT_F_HUGE) ? huge_unit(fd) : 0;
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
		if (r != -EINVAL || unit || !(unit = huge_unit(fd)))
			break;
	}
	if (r == 0 && eph) {
		r = shmkit__life_publish(fd, sp->name);
		if (r < 0)
			(void)shmkit__fd_detach(seg); /* unmaps, closes fd */
		return r;
	}
	if (r == 0)
		return 0;
fail:
	if (!eph)
		(void)unlink(sp->name);
	shmkit__close(fd);
	return r;
}

static int file_attach(shmkit_seg *seg, const shmkit__spec *sp,
		       const shmkit_opts *o)
{
	int fd, r;

	/* O_NONBLOCK: a FIFO at the path must not block the open (fdmap.c). */
	fd = open_retry(sp->name,
			((seg->flags & SHMKIT_F_RDONLY) ? O_RDONLY : O_RDWR) |
				O_NONBLOCK | O_NOCTTY,
			0);
	if (fd < 0)
		return fd;
	if ((seg->flags & SHMKIT_F_HUGE) && !huge_unit(fd)) {
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
	return unlink(sp->name) < 0 ? -errno : 0;
}

static int file_remove(shmkit_seg *seg)
{
	return unlink(seg->spec + sizeof("file:") - 1) < 0 ? -errno : 0;
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
