/*
 * memfd.c: memfd_create(2) segments, and the fd: backend that attaches any
 * inherited or received descriptor.
 *
 * A memfd has no global name: nobody can squat on it, guess it or leak it.
 * It disappears with its last descriptor and mapping, so a crash leaks
 * nothing. It is shared by inheritance (fork, or exec of a descriptor without
 * FD_CLOEXEC) or by passing it over a Unix socket (shmkit_send_fd).
 *
 * "memfd:NAME" at attach looks for an inherited memfd of that name in this
 * process's own descriptor table (/proc/self/fd), so a child can attach by
 * the name its parent used without being told the number. The handle always
 * works on its own duplicate (F_DUPFD_CLOEXEC); the caller's descriptor is
 * left alone.
 *
 * SHMKIT_F_SEAL creates the memfd with MFD_ALLOW_SEALING and adds
 * F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL once the size is set, so a peer that
 * receives the descriptor cannot shrink it and make our accesses SIGBUS.
 * Without the flag the memfd does not allow sealing at all (the kernel
 * marks it F_SEAL_SEAL at birth): otherwise a peer could seal it and make
 * the creator's own resize fail. It is the only backend that can seal;
 * elsewhere the dispatcher refuses the flag (-EINVAL).
 */
#include "../internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

/* RAM + swap in bytes (SIZE_MAX if unknown). Read once: it does not change
 * in a way that matters here, and create should not pay a syscall for it. */
static size_t host_memory(void)
{
	static size_t cached; /* 0: not read yet; racing readers agree */
	size_t v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	struct sysinfo si;
	unsigned long long total;

	if (v)
		return v;
	if (sysinfo(&si) < 0)
		return SIZE_MAX;
	total = ((unsigned long long)si.totalram + si.totalswap) * si.mem_unit;
	v = total > SIZE_MAX ? SIZE_MAX : (size_t)total;
	__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	return v;
}

static int memfd_create_(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
			 const shmkit_opts *o)
{
	unsigned mflags = MFD_CLOEXEC;
	size_t unit;
	int fd, r;

	if (seg->flags & SHMKIT_F_SEAL)
		mflags |= MFD_ALLOW_SEALING;
	if (seg->flags & SHMKIT_F_HUGE)
		mflags |= MFD_HUGETLB;
	/* A memfd lives on the kernel's internal tmpfs, which has no size
	 * limit: reserving more than the host has would not fail early but
	 * drive the host into the OOM killer. Refuse it up front. */
	if (!(seg->flags & SHMKIT_F_NORESERVE) && size > host_memory())
		return -ENOMEM;
	fd = memfd_create(sp->name, mflags);
	if (fd < 0)
		return errno == EINVAL && (mflags & MFD_HUGETLB) ? -ENOTSUP
								   : -errno;
	if ((mflags & MFD_HUGETLB) && (unit = shmkit__hugetlbfs_unit(fd))) {
		if (size % unit) {
			if (size > SIZE_MAX - unit) {
				r = -EFBIG;
				goto fail;
			}
			size += unit - size % unit;
		}
	}
	r = shmkit__fd_create_finish(seg, fd, size, o);
	if (r < 0)
		goto fail;
	if ((seg->flags & SHMKIT_F_SEAL) &&
	    fcntl(fd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		(void)shmkit__fd_detach(seg); /* closes fd */
		return r;
	}
	return 0;
fail:
	shmkit__close(fd);
	return r;
}

/* Find an inherited memfd named name in our own descriptor table. */
static int find_memfd(const char *name)
{
	char want[SHMKIT__MEMFD_NAME_MAX + 32], link[sizeof(want) + 8];
	struct dirent *de;
	int found = -ENOENT;
	DIR *d;

	snprintf(want, sizeof(want), "/memfd:%s (deleted)", name);
	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char path[300];
		ssize_t n;
		if (de->d_name[0] == '.' || dirfd(d) == atoi(de->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, want)) {
			found = atoi(de->d_name);
			break;
		}
	}
	closedir(d);
	return found;
}

/* Duplicate fd and attach the duplicate. */
static int attach_dup(shmkit_seg *seg, int fd, const shmkit_opts *o)
{
	int dup, r;

	dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup < 0)
		return -errno;
	r = shmkit__fd_attach_finish(seg, dup, o);
	if (r < 0)
		shmkit__close(dup);
	return r;
}

static int memfd_attach(shmkit_seg *seg, const shmkit__spec *sp,
			const shmkit_opts *o)
{
	int fd = find_memfd(sp->name);
	return fd < 0 ? fd : attach_dup(seg, fd, o);
}

const shmkit__backend shmkit__backend_memfd = {
	.id = SHMKIT_BACKEND_MEMFD,
	.name = "memfd",
	.create = memfd_create_,
	.attach = memfd_attach,
	.detach = shmkit__fd_detach,
	.remove = NULL, /* no name: gone with the last descriptor */
	.resize = shmkit__fd_resize,
	.unlink = NULL,
	.seals = true,
};

static int fd_create(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
		     const shmkit_opts *o)
{
	(void)seg, (void)sp, (void)size, (void)o;
	return -ENOTSUP; /* fd: names an existing object; it only attaches */
}

static int fd_attach(shmkit_seg *seg, const shmkit__spec *sp,
		     const shmkit_opts *o)
{
	return attach_dup(seg, sp->fd, o);
}

const shmkit__backend shmkit__backend_fd = {
	.id = SHMKIT_BACKEND_FD,
	.name = "fd",
	.create = fd_create,
	.attach = fd_attach,
	.detach = shmkit__fd_detach,
	.remove = NULL,
	.resize = shmkit__fd_resize,
	.unlink = NULL,
};
