/*
 * anon.c: MAP_SHARED|MAP_ANONYMOUS, memory shared with children after fork.
 *
 * There is no name and no descriptor: the only way in is to inherit the
 * mapping, so attach is refused (-ENOTSUP) and the child simply keeps using
 * the parent's handle (and detaches its own copy). The memory is freed when
 * the last process that maps it unmaps it or dies, so nothing can leak.
 *
 * The kernel's internal shmem mount has no size limit of its own, so there
 * is no tmpfs to fill; MAP_NORESERVE is passed only when asked for.
 */
#include "../internal.h"

#include <sys/mman.h>

static int anon_create(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
		       const shmkit_opts *o)
{
	int flags = MAP_SHARED | MAP_ANONYMOUS;
	void *p;

	(void)sp, (void)o;
	if (seg->flags & SHMKIT_F_PREFAULT)
		flags |= MAP_POPULATE;
	if (seg->flags & SHMKIT_F_NORESERVE)
		flags |= MAP_NORESERVE;
	if (seg->flags & SHMKIT_F_HUGE) {
		size_t unit = shmkit__huge_page_size();
		if (!unit)
			return -ENOTSUP;
		if (size % unit) {
			if (size > SIZE_MAX - unit)
				return -EFBIG;
			size += unit - size % unit;
		}
		flags |= MAP_HUGETLB;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	seg->addr = p;
	seg->size = size;
	return 0;
}

static int anon_attach(shmkit_seg *seg, const shmkit__spec *sp,
		       const shmkit_opts *o)
{
	(void)seg, (void)sp, (void)o;
	return -ENOTSUP; /* no name: shared only by inheritance across fork */
}

static int anon_detach(shmkit_seg *seg)
{
	int r = 0;
	if (seg->addr && munmap(seg->addr, seg->size) < 0)
		r = -errno;
	seg->addr = NULL;
	return r;
}

const shmkit__backend shmkit__backend_anon = {
	.id = SHMKIT_BACKEND_ANON,
	.name = "anon",
	.create = anon_create,
	.attach = anon_attach,
	.detach = anon_detach,
	.remove = NULL,
	.resize = NULL,
	.unlink = NULL,
};
