/*
 * posix.c: POSIX shared memory (shm_open), the backend most users want.
 *
 * The object is a file in /dev/shm (tmpfs); it lives until shm_unlink() and
 * the last mapping are gone, across crashes of everyone who used it. The
 * handle keeps its descriptor open: resize needs it, shmkit_fd() hands it
 * out, shmkit_send_fd() can pass it on, and on an ephemeral segment it holds
 * the lock that tells shmkit_gc() the segment is in use. glibc's shm_open() already adds
 * O_NOFOLLOW and O_CLOEXEC; we pass O_CLOEXEC anyway to say so. It passes
 * the other flags on to open(), so attach opens with O_NONBLOCK: anyone can
 * plant a FIFO in /dev/shm, and a plain read-only open of one would block
 * until a writer came (see src/unix/fdmap.c).
 *
 * Huge pages: /dev/shm is ordinary tmpfs, so SHMKIT_F_HUGE is refused with
 * -ENOTSUP; memfd: (MFD_HUGETLB) or file: on a hugetlbfs mount gives them.
 */
#include "../internal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

/* Where glibc's shm_open() keeps its objects. */
#define SHM_DIR "/dev/shm"

static int open_retry(const char *name, int oflag, mode_t mode)
{
	int fd;
	do {
		fd = shm_open(name, oflag | O_CLOEXEC, mode);
	} while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

static int posix_create(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
			const shmkit_opts *o)
{
	bool eph = seg->flags & SHMKIT_F_EPHEMERAL;
	int dfd = -1, fd, r;

	if (seg->flags & SHMKIT_F_HUGE)
		return -ENOTSUP;
	if (eph) {
		/* Built unnamed, named when complete (src/unix/lifetime.c). */
		dfd = open(SHM_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		fd = shmkit__life_open_unnamed(dfd, sp->name + 1, shmkit__mode(o));
	} else {
		fd = open_retry(sp->name, O_RDWR | O_CREAT | O_EXCL,
				(mode_t)shmkit__mode(o));
	}
	if (fd < 0) {
		shmkit__close(dfd);
		return fd;
	}
	r = shmkit__life_claim(fd, seg->flags);
	if (r == 0)
		r = shmkit__fd_create_finish(seg, fd, size, o);
	if (r == 0 && eph) {
		r = shmkit__life_publish(fd, dfd, sp->name + 1);
		if (r < 0)
			(void)shmkit__fd_detach(seg); /* unmaps, closes fd */
		shmkit__close(dfd);
		return r;
	}
	if (r < 0) {
		if (!eph)
			(void)shm_unlink(sp->name);
		shmkit__close(fd);
		shmkit__close(dfd);
	}
	return r;
}

static int posix_attach(shmkit_seg *seg, const shmkit__spec *sp,
			const shmkit_opts *o)
{
	int fd, r;

	if (seg->flags & SHMKIT_F_HUGE)
		return -ENOTSUP;
	/* O_NONBLOCK: a FIFO planted at the name must not block the open;
	 * shmkit__fd_attach_finish() then refuses it (-ENODEV). */
	fd = open_retry(sp->name,
			((seg->flags & SHMKIT_F_RDONLY) ? O_RDONLY : O_RDWR) |
				O_NONBLOCK | O_NOCTTY,
			0);
	if (fd < 0)
		return fd;
	r = shmkit__fd_attach_finish(seg, fd, o);
	if (r < 0)
		shmkit__close(fd);
	return r;
}

static int posix_unlink(const shmkit__spec *sp)
{
	return shm_unlink(sp->name) < 0 ? -errno : 0;
}

static int posix_remove(shmkit_seg *seg)
{
	/* seg->spec is "posix:/name". */
	return shm_unlink(seg->spec + sizeof("posix:") - 1) < 0 ? -errno : 0;
}

const shmkit__backend shmkit__backend_posix = {
	.id = SHMKIT_BACKEND_POSIX,
	.name = "posix",
	.create = posix_create,
	.attach = posix_attach,
	.detach = shmkit__fd_detach,
	.remove = posix_remove,
	.resize = shmkit__fd_resize,
	.unlink = posix_unlink,
};
