/*
 * internal.h: what the dispatcher, the backends and the upper layers of
 * shmkit share, and nothing a user sees.
 *
 * The design follows PostgreSQL's dsm_impl.c: one table of operations per
 * backend (struct shmkit__backend), one dispatcher (seg.c) that knows nothing
 * backend-specific. Each backend lives in src/unix/<name>.c (src/win/ on Windows) and fills in a
 * table; the dispatcher parses the spec, allocates the handle, calls the
 * table and owns the rollback of the handle itself. A backend op either
 * succeeds completely or undoes what it did and returns a negative errno.
 */
#ifndef SHMKIT_INTERNAL_H
#define SHMKIT_INTERNAL_H

#include "shmkit.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <sys/ipc.h>
#endif

#ifdef _WIN32
/* A DLL exports only what is marked dllexport: everything else is hidden. */
#define SHMKIT__HIDDEN
typedef int key_t; /* sysv: specs parse on every platform */
#define IPC_PRIVATE ((key_t)0)
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif
#ifndef NAME_MAX
#define NAME_MAX 255
#endif
#else
#define SHMKIT__HIDDEN __attribute__((visibility("hidden")))
#endif

/* POSIX shm names: "/" + up to NAME_MAX bytes (one tmpfs file name); memfd
 * names: 249 bytes. Plain numbers: spec.c spells them in its messages. */
#define SHMKIT__POSIX_NAME_MAX NAME_MAX
#define SHMKIT__MEMFD_NAME_MAX 249

/* A parsed spec. Pure data: parsing touches nothing on the host. */
typedef struct shmkit__spec {
	shmkit_backend backend;
	/* posix: "/name"; file: the path; memfd/anon/win: the name (may be "") */
	char name[PATH_MAX];
	/* sysv */
	key_t key;     /* valid when !by_id and !by_ftok */
	int shmid;     /* valid when by_id */
	int proj;      /* ftok project, 1..255, when by_ftok */
	bool by_id;
	bool by_ftok;
	/* fd */
	int fd;
} shmkit__spec;

/*
 * Parse spec into *out. Returns 0 or -EINVAL (malformed), -ENAMETOOLONG
 * (name over the backend's limit). Touches nothing but *out, and *out only
 * on success. shmkit_spec_check() says why a spec is refused here.
 */
SHMKIT__HIDDEN int shmkit__spec_parse(const char *spec, shmkit__spec *out);

/* Write the canonical spec for *sp into buf; returns the length or -ENAMETOOLONG. */
SHMKIT__HIDDEN int shmkit__spec_format(const shmkit__spec *sp, char *buf,
				       size_t len);

struct shmkit_seg {
	const struct shmkit__backend *be;
	void *addr;
	size_t size;    /* bytes mapped (= the segment's size) */
	int fd;         /* -1 where the backend has none */
	int shmid;      /* sysv, else -1 */
#ifdef _WIN32
	void *mapping;  /* the file-mapping object's HANDLE */
	void *file;     /* file: the file's HANDLE, else NULL */
#endif
	unsigned flags; /* the opts flags the handle was made with */
	shmkit_backend reported; /* what shmkit_backend_of() says (recv_fd) */
	char spec[SHMKIT_SPEC_MAX];
};

/*
 * One backend. Every op gets a handle whose fields are at their "empty"
 * values (fd = -1, addr = NULL) for create/attach, and must leave them that
 * way on failure.
 */
typedef struct shmkit__backend {
	shmkit_backend id;
	const char *name;
	/* make the object exclusively, reserve, map. size > 0, checked. */
	int (*create)(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
		      const shmkit_opts *o);
	/* open the existing object, learn its size, map. */
	int (*attach)(shmkit_seg *seg, const shmkit__spec *sp,
		      const shmkit_opts *o);
	/* unmap and close; always completes, returns the first error. */
	int (*detach)(shmkit_seg *seg);
	/* remove the name while still attached (NULL: nothing to remove). */
	int (*remove)(shmkit_seg *seg);
	/* change the size; NULL means -ENOTSUP. */
	int (*resize)(shmkit_seg *seg, size_t size);
	/* remove by name without attaching (NULL: -ENOTSUP). */
	int (*unlink)(const shmkit__spec *sp);
	/* create honours SHMKIT_F_SEAL; elsewhere the flag is -EINVAL */
	bool seals;
} shmkit__backend;

SHMKIT__HIDDEN extern const shmkit__backend shmkit__backend_posix;
SHMKIT__HIDDEN extern const shmkit__backend shmkit__backend_sysv;
SHMKIT__HIDDEN extern const shmkit__backend shmkit__backend_file;
SHMKIT__HIDDEN extern const shmkit__backend shmkit__backend_memfd;
SHMKIT__HIDDEN extern const shmkit__backend shmkit__backend_fd;
SHMKIT__HIDDEN extern const shmkit__backend shmkit__backend_anon;
SHMKIT__HIDDEN extern const shmkit__backend shmkit__backend_win;

/* -- Helpers for descriptor-backed backends (src/unix/fdmap.c) ------------------ */

/* PROT_/MAP_ flags and mmap of fd for seg->size; sets seg->addr. */
SHMKIT__HIDDEN int shmkit__map_fd(shmkit_seg *seg, int fd, size_t size);
/* Apply the create-time mode and group to a fresh object. */
SHMKIT__HIDDEN int shmkit__apply_perms(int fd, const shmkit_opts *o);
/* Size the object, reserve it, map it: the tail of every fd-backed create. */
SHMKIT__HIDDEN int shmkit__fd_create_finish(shmkit_seg *seg, int fd,
					    size_t size, const shmkit_opts *o);
/* fstat, join an ephemeral segment's lock, check owner, map: the tail of
 * every fd-backed attach. */
SHMKIT__HIDDEN int shmkit__fd_attach_finish(shmkit_seg *seg, int fd,
					    const shmkit_opts *o);
/* -EFBIG if a file of size bytes would exceed RLIMIT_FSIZE (growing past
 * it raises SIGXFSZ, which kills by default), else 0. */
SHMKIT__HIDDEN int shmkit__within_fsize(size_t size);
/* ftruncate (+ reserve when growing) and mremap. */
SHMKIT__HIDDEN int shmkit__fd_resize(shmkit_seg *seg, size_t size);
/* The huge page size if fd lives on hugetlbfs (a MFD_HUGETLB memfd, or a
 * file on a hugetlbfs mount); 0 elsewhere. */
SHMKIT__HIDDEN size_t shmkit__hugetlbfs_unit(int fd);
/* The default huge page size (what SHM_HUGETLB and MAP_HUGETLB use), from
 * /proc/meminfo; 0 if the host reports none. */
SHMKIT__HIDDEN size_t shmkit__huge_page_size(void);
/* munmap + close. */
SHMKIT__HIDDEN int shmkit__fd_detach(shmkit_seg *seg);

/* -- file: paths, no symlink anywhere (src/unix/path.c) -------------------------- */

/* open(path) refusing a symlink in any component (-ELOOP); O_CLOEXEC added. */
SHMKIT__HIDDEN int shmkit__path_open(const char *path, int flags, mode_t mode);
/* The directory that holds path's last component, opened O_PATH the same
 * way; *ret_name is set to that component (inside path). */
SHMKIT__HIDDEN int shmkit__path_dir(const char *path, const char **ret_name);
/* unlink(path) relative to shmkit__path_dir(). */
SHMKIT__HIDDEN int shmkit__path_unlink(const char *path);

/* -- Lifetime (src/unix/lifetime.c) ----------------------------------------- */

/* Creator of an ephemeral segment: take the shared lock, mark it. No-op
 * for persistent ones. The sticky mode bit is set by shmkit__apply_perms. */
SHMKIT__HIDDEN int shmkit__life_claim(int fd, unsigned flags);
/* Attacher: if st (fstat of fd) is ephemeral, take the shared lock, never
 * waiting for it more than about a second (-EBUSY); then, if named,
 * -ENOENT when the name was removed meanwhile. May refresh *st. */
SHMKIT__HIDDEN int shmkit__life_join(int fd, struct stat *st, bool named);
/* An unnamed file (O_TMPFILE) in directory dfd; -EEXIST if name exists there. */
SHMKIT__HIDDEN int shmkit__life_open_unnamed(int dfd, const char *name,
					     unsigned mode);
/* Give the unnamed file its name in dfd, exclusively (-EEXIST if taken). */
SHMKIT__HIDDEN int shmkit__life_publish(int fd, int dfd, const char *name);
/* SHMKIT_INFO_EPHEMERAL|STALE for an open segment, or -errno. */
SHMKIT__HIDDEN int shmkit__life_probe(int fd);
/* Mark a persistent file: segment as made by shmkit, so that
 * shmkit_list_dir() can tell it from other files; best effort (a
 * filesystem without user xattrs leaves it unmarked). */
SHMKIT__HIDDEN void shmkit__life_mark_file(int fd);
/* Whether an open file carries either mark (ephemeral or persistent). */
SHMKIT__HIDDEN bool shmkit__life_made(int fd);

/*
 * For tests only (NULL otherwise): shmkit_gc() calls it at each step of
 * removing one stale segment, so that a test can race the removal
 * deterministically: SHMKIT__GC_CHECKED once the segment is locked and its
 * name checked, nothing moved yet (name: its name); SHMKIT__GC_MOVED once it
 * is moved to gc's private name (name: that name), not yet re-checked.
 */
enum { SHMKIT__GC_CHECKED = 1, SHMKIT__GC_MOVED = 2 };
SHMKIT__HIDDEN extern void (*shmkit__gc_hook)(int stage, int dfd,
					      const char *name);

/* -- Robust mutexes (src/unix/mutex.c, src/win/mutex.c) --------------------- */

/* The registry of held mutexes (src/mutex_held.c). How many shmkit_mutexes
 * the threads of this process hold (relaxed). */
SHMKIT__HIDDEN extern unsigned long shmkit__mutex_nheld;
SHMKIT__HIDDEN bool shmkit__mutex_held_in_slow(const void *addr, size_t len);
/* Record m as held by a thread of this process; false if the table is full. */
SHMKIT__HIDDEN bool shmkit__held_add(const void *m);
/* Forget m (held no more). */
SHMKIT__HIDDEN void shmkit__held_remove(const void *m);
/* Forget every one (a forked child holds none of its parent's). */
SHMKIT__HIDDEN void shmkit__held_forget_all(void);

/*
 * Whether a thread of this process holds a shmkit_mutex placed in
 * [addr, addr + len). Detach, destroy and resize must not unmap or move
 * such a mapping (src/unix/mutex.c and src/win/mutex.c say why). One relaxed load when none is
 * held.
 */
static inline bool shmkit__mutex_held_in(const void *addr, size_t len)
{
	return __atomic_load_n(&shmkit__mutex_nheld, __ATOMIC_RELAXED) != 0 &&
	       shmkit__mutex_held_in_slow(addr, len);
}

/* Close preserving errno, retrying nothing (close must not be retried). */
SHMKIT__HIDDEN void shmkit__close(int fd);

static inline unsigned shmkit__mode(const shmkit_opts *o)
{
	return (o && o->mode) ? (o->mode & 07777u) : 0600u;
}

static inline unsigned shmkit__flags(const shmkit_opts *o)
{
	return o ? o->flags : 0u;
}

#endif /* SHMKIT_INTERNAL_H */
