/*
 * seg.c: the dispatcher. shmkit_op() parses the spec, picks the backend's
 * table of operations and runs one of them, as PostgreSQL's dsm_impl_op()
 * does; the named wrappers and accessors sit on top. Nothing here knows how
 * any backend works: argument checks and the handle's own allocation live
 * here, everything about the object lives in the backend files (src/unix/, src/win/).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define KNOWN_FLAGS                                                           \
	(SHMKIT_F_RDONLY | SHMKIT_F_PREFAULT | SHMKIT_F_HUGE |                 \
	 SHMKIT_F_NORESERVE | SHMKIT_F_OWNER | SHMKIT_F_GROUP | SHMKIT_F_SEAL |  \
	 SHMKIT_F_EPHEMERAL)

/* What this platform has; a spec for any other backend parses everywhere
 * and is -ENOTSUP here. */
static const shmkit__backend *const backends[SHMKIT_BACKEND_COUNT_] = {
#ifdef _WIN32
	[SHMKIT_BACKEND_FILE] = &shmkit__backend_file,
	[SHMKIT_BACKEND_WIN] = &shmkit__backend_win,
#else
	[SHMKIT_BACKEND_POSIX] = &shmkit__backend_posix,
	[SHMKIT_BACKEND_SYSV] = &shmkit__backend_sysv,
	[SHMKIT_BACKEND_FILE] = &shmkit__backend_file,
	[SHMKIT_BACKEND_MEMFD] = &shmkit__backend_memfd,
	[SHMKIT_BACKEND_FD] = &shmkit__backend_fd,
	[SHMKIT_BACKEND_ANON] = &shmkit__backend_anon,
#endif
};

static const char *const backend_names[SHMKIT_BACKEND_COUNT_] = {
	[SHMKIT_BACKEND_NONE] = "none",	  [SHMKIT_BACKEND_POSIX] = "posix",
	[SHMKIT_BACKEND_SYSV] = "sysv",	  [SHMKIT_BACKEND_FILE] = "file",
	[SHMKIT_BACKEND_MEMFD] = "memfd", [SHMKIT_BACKEND_FD] = "fd",
	[SHMKIT_BACKEND_ANON] = "anon",	  [SHMKIT_BACKEND_WIN] = "win",
};

const char *shmkit_backend_name(shmkit_backend b)
{
	if ((unsigned)b >= SHMKIT_BACKEND_COUNT_)
		return "?";
	return backend_names[b];
}

static int check_opts(const shmkit_opts *o, shmkit_opcode op)
{
	if (!o)
		return 0;
	if (o->flags & ~KNOWN_FLAGS)
		return -EINVAL;
	if (o->mode & ~0777u) /* no setuid/setgid/sticky on segments */
		return -EINVAL;
	if (op == SHMKIT_OP_ATTACH &&
	    (o->flags & (SHMKIT_F_NORESERVE | SHMKIT_F_EPHEMERAL | SHMKIT_F_SEAL |
			 SHMKIT_F_GROUP)))
		return -EINVAL; /* create-only flags */
	if (op == SHMKIT_OP_CREATE &&
	    (o->flags & (SHMKIT_F_RDONLY | SHMKIT_F_OWNER)))
		return -EINVAL; /* attach-only flags */
	return 0;
}

static int open_seg(shmkit_opcode op, const char *spec, size_t size,
		    const shmkit_opts *opts, shmkit_seg **ret)
{
	const shmkit__backend *be;
	shmkit__spec sp;
	shmkit_seg *s;
	int r;

	if (!ret)
		return -EINVAL;
	r = check_opts(opts, op);
	if (r < 0)
		return r;
	if (op == SHMKIT_OP_CREATE) {
		if (size == 0)
			return -EINVAL;
		/* off_t must hold it, and mmap must be able to map it. */
		if (size > (size_t)INT64_MAX || size > SIZE_MAX - (1u << 21))
			return -EFBIG;
	} else if (size != 0) {
		return -EINVAL; /* attach learns the size from the object */
	}
	r = shmkit__spec_parse(spec, &sp);
	if (r < 0)
		return r;
	be = backends[sp.backend];
	if (!be)
		return -ENOTSUP;
	if (op == SHMKIT_OP_CREATE && (shmkit__flags(opts) & SHMKIT_F_SEAL) &&
	    !be->seals)
		return -EINVAL; /* it would seal nothing */

	s = malloc(sizeof(*s)); /* not calloc: spec[] is 4 KiB we need not zero */
	if (!s)
		return -ENOMEM;
	s->be = be;
	s->addr = NULL;
	s->size = 0;
	s->fd = -1;
	s->shmid = -1;
#ifdef _WIN32
	s->mapping = NULL;
	s->file = NULL;
#endif
	s->flags = opts ? opts->flags : 0;
	s->reported = be->id;
	r = shmkit__spec_format(&sp, s->spec, sizeof(s->spec));
	if (r >= 0)
		r = op == SHMKIT_OP_CREATE ? be->create(s, &sp, size, opts)
					   : be->attach(s, &sp, opts);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

static int close_seg(shmkit_seg *s, bool remove)
{
	int r = 0, r2;

	if (remove && s->be->remove)
		r = s->be->remove(s);
	r2 = s->be->detach(s);
	free(s);
	return r < 0 ? r : r2;
}

int shmkit_op(shmkit_opcode op, const char *spec, size_t size,
	      const shmkit_opts *opts, shmkit_seg **seg)
{
	switch (op) {
	case SHMKIT_OP_CREATE:
	case SHMKIT_OP_ATTACH:
		return open_seg(op, spec, size, opts, seg);
	case SHMKIT_OP_DETACH:
	case SHMKIT_OP_DESTROY: {
		int r;
		if (!seg || !*seg)
			return -EINVAL;
		if (shmkit__mutex_held_in((*seg)->addr, (*seg)->size))
			return -EBUSY; /* changes nothing: the handle stays */
		r = close_seg(*seg, op == SHMKIT_OP_DESTROY);
		*seg = NULL;
		return r;
	}
	case SHMKIT_OP_RESIZE:
		if (!seg || !*seg || size == 0)
			return -EINVAL;
		if (size > (size_t)INT64_MAX || size > SIZE_MAX - (1u << 21))
			return -EFBIG;
		if (!(*seg)->be->resize)
			return -ENOTSUP;
		if (shmkit__mutex_held_in((*seg)->addr, (*seg)->size))
			return -EBUSY; /* the mapping may move */
		return (*seg)->be->resize(*seg, size);
	}
	return -EINVAL;
}

int shmkit_create(const char *spec, size_t size, const shmkit_opts *opts,
		  shmkit_seg **ret_seg)
{
	return shmkit_op(SHMKIT_OP_CREATE, spec, size, opts, ret_seg);
}

int shmkit_attach(const char *spec, const shmkit_opts *opts,
		  shmkit_seg **ret_seg)
{
	return shmkit_op(SHMKIT_OP_ATTACH, spec, 0, opts, ret_seg);
}

int shmkit_detach(shmkit_seg *seg)
{
	return seg ? shmkit_op(SHMKIT_OP_DETACH, NULL, 0, NULL, &seg) : 0;
}

int shmkit_destroy(shmkit_seg *seg)
{
	return seg ? shmkit_op(SHMKIT_OP_DESTROY, NULL, 0, NULL, &seg) : 0;
}

int shmkit_resize(shmkit_seg *seg, size_t size)
{
	return shmkit_op(SHMKIT_OP_RESIZE, NULL, size, NULL, &seg);
}

int shmkit_unlink(const char *spec)
{
	shmkit__spec sp;
	const shmkit__backend *be;
	int r;

	r = shmkit__spec_parse(spec, &sp);
	if (r < 0)
		return r;
	be = backends[sp.backend];
	if (!be || !be->unlink)
		return -ENOTSUP;
	return be->unlink(&sp);
}

void *shmkit_addr(const shmkit_seg *seg)
{
	return seg ? seg->addr : NULL;
}

size_t shmkit_size(const shmkit_seg *seg)
{
	return seg ? seg->size : 0;
}

const char *shmkit_spec(const shmkit_seg *seg)
{
	return seg ? seg->spec : NULL;
}

shmkit_backend shmkit_backend_of(const shmkit_seg *seg)
{
	return seg ? seg->reported : SHMKIT_BACKEND_NONE;
}

int shmkit_fd(const shmkit_seg *seg)
{
	if (!seg || seg->fd < 0)
		return -EBADF;
	return seg->fd;
}
