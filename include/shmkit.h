/*
 * shmkit.h: shared memory between processes on one host, behind one interface.
 *
 * This is shmkit's only public header. A segment is named by a spec string
 * ("posix:/name", "sysv:0x1234", "sysv:id=7", "sysv:/path#1", "file:/path",
 * "memfd:name", "fd:3", "anon:") and reached through the same handful of
 * calls whatever the backend: create, attach, detach, destroy, resize.
 *
 * Conventions, everywhere in the library:
 *  - Every fallible function returns 0 (or a count) on success and a negative
 *    errno value on failure; shmkit_strerror() turns it into text.
 *  - Output parameters are written only on success.
 *  - A failure part-way backs out everything done so far: no half-made
 *    segment, descriptor or mapping is left behind.
 *  - Every descriptor shmkit opens is close-on-exec from birth.
 *  - The library never prints, never exits and keeps no global error state.
 *  - Handles are not thread-safe: one thread uses a handle at a time. Distinct
 *    handles may be used from distinct threads freely.
 */
#ifndef SHMKIT_H
#define SHMKIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHMKIT_VERSION_MAJOR 0
#define SHMKIT_VERSION_MINOR 1
#define SHMKIT_VERSION_PATCH 0
/* One number that compares: 0x00MMmmpp. */
#define SHMKIT_VERSION_HEX                                                    \
	((SHMKIT_VERSION_MAJOR << 16) | (SHMKIT_VERSION_MINOR << 8) |          \
	 SHMKIT_VERSION_PATCH)

#if defined(SHMKIT_BUILDING) && defined(_WIN32)
#define SHMKIT_EXTERN __declspec(dllexport)
#elif defined(SHMKIT_BUILDING) && defined(__GNUC__)
#define SHMKIT_EXTERN __attribute__((visibility("default")))
#else
#define SHMKIT_EXTERN
#endif

/* Two errno values shmkit returns that Windows' C library does not define
 * (a full channel's entry table, a message recycled under a reader). */
#ifdef _WIN32
#include <errno.h>
#ifndef EUSERS
#define EUSERS 2087
#endif
#ifndef ESTALE
#define ESTALE 2116
#endif
#endif

/* Owner and group ids: uid_t and gid_t where the system has them. Windows
 * has neither (a segment's owner there is a SID): the fields exist, are 0
 * in what shmkit reports, and SHMKIT_F_OWNER/SHMKIT_F_GROUP are -ENOTSUP. */
#ifdef _WIN32
typedef unsigned int shmkit_uid_t;
typedef unsigned int shmkit_gid_t;
#else
typedef uid_t shmkit_uid_t;
typedef gid_t shmkit_gid_t;
#endif

/* The library's version as SHMKIT_VERSION_HEX, and as "M.m.p". */
SHMKIT_EXTERN unsigned int shmkit_version(void);
SHMKIT_EXTERN const char *shmkit_version_string(void);

/*
 * Text for a negative errno returned by shmkit (or a positive one). Never
 * NULL; the string is static; "unknown error" for a value that is no errno
 * (INT_MIN included).
 */
SHMKIT_EXTERN const char *shmkit_strerror(int err);

/* The symbolic name of an error ("ENOENT"), or "UNKNOWN" for a value that
 * is no errno (INT_MIN included). */
SHMKIT_EXTERN const char *shmkit_err_name(int err);

/* ------------------------------------------------------------------------ */
/* Segments                                                                  */
/* ------------------------------------------------------------------------ */

/* An attached segment. Opaque; made by create/attach, freed by detach/destroy. */
typedef struct shmkit_seg shmkit_seg;

typedef enum shmkit_backend {
	SHMKIT_BACKEND_NONE = 0,
	SHMKIT_BACKEND_POSIX, /* shm_open: a name under /dev/shm */
	SHMKIT_BACKEND_SYSV,  /* shmget: an integer key or id */
	SHMKIT_BACKEND_FILE,  /* a file mapped MAP_SHARED (tmpfs, disk, hugetlbfs) */
	SHMKIT_BACKEND_MEMFD, /* memfd_create: no global name, shared by fd */
	SHMKIT_BACKEND_FD,    /* an inherited or received descriptor */
	SHMKIT_BACKEND_ANON,  /* MAP_SHARED|MAP_ANONYMOUS, shared across fork */
	SHMKIT_BACKEND_WIN,   /* Windows named file mappings (Windows builds) */
	SHMKIT_BACKEND_COUNT_
} shmkit_backend;

/* "posix", "sysv", ... or "?" for a value out of range. */
SHMKIT_EXTERN const char *shmkit_backend_name(shmkit_backend b);

/*
 * Why spec is not a well-formed segment spec, or NULL when it is one.
 *
 * The answer is a static English phrase that names the rule broken and the
 * form or range allowed, e.g. "a posix: name is '/' followed by 1 to 255
 * characters, none of them '/'"; it reads well after "SPEC: " in a message
 * and must not be freed. It comes from the parser every call uses, so a
 * spec refused here is one that every call taking a spec refuses with
 * -EINVAL or -ENAMETOOLONG, and NULL means every call parses it. NULL says
 * nothing more: the segment may not exist, and an operation may still
 * refuse a well-formed spec (sysv:id=N cannot be created, sysv:private
 * cannot be attached). spec may be NULL. Reads nothing on the host;
 * thread-safe.
 */
SHMKIT_EXTERN const char *shmkit_spec_check(const char *spec);

typedef enum shmkit_opcode {
	SHMKIT_OP_CREATE,
	SHMKIT_OP_ATTACH,
	SHMKIT_OP_DETACH,
	SHMKIT_OP_DESTROY,
	SHMKIT_OP_RESIZE
} shmkit_opcode;

/* shmkit_opts.flags */
#define SHMKIT_F_RDONLY    0x0001u /* attach: map read-only */
#define SHMKIT_F_PREFAULT  0x0002u /* map with MAP_POPULATE: no page faults later */
#define SHMKIT_F_HUGE      0x0004u /* back with huge pages; errors below */
#define SHMKIT_F_NORESERVE 0x0008u /* create: skip reserving the size (sparse; SIGBUS risk is the caller's) */
#define SHMKIT_F_OWNER     0x0010u /* attach only: refuse (-EPERM) a segment not owned by opts.owner; -EINVAL at create */
#define SHMKIT_F_GROUP     0x0020u /* create: give the segment to group opts.group */
#define SHMKIT_F_SEAL      0x0040u /* memfd create: seal size (no shrink, no grow) against peers; -EINVAL elsewhere. Without it a memfd cannot be sealed at all */
#define SHMKIT_F_EPHEMERAL 0x0080u /* create: remove when no process uses it any more (see shmkit_gc); sysv: "sysv:private" only */

/*
 * SHMKIT_F_HUGE fails the same way on every backend (sysv, anon, memfd, and
 * file: on a hugetlbfs mount), leaving nothing behind:
 *   -ENOTSUP  no huge pages to be had this way at all: the kernel has no
 *             huge-page support, or the backend cannot give them (posix:
 *             /dev/shm is plain tmpfs; file: not on hugetlbfs);
 *   -ENOMEM   not enough huge pages reserved: fewer free in the pool
 *             (vm.nr_hugepages) than the size needs, or, for file:, more than
 *             the hugetlbfs mount's size limit; at create, or when resize
 *             grows a huge memfd or file;
 *   -EPERM    sysv only: the kernel keeps SHM_HUGETLB to the group
 *             vm.hugetlb_shm_group and to CAP_IPC_LOCK.
 * Sizes are rounded up to whole huge pages.
 */

/*
 * Options for create and attach. A NULL pointer, or an all-zero struct, means
 * the defaults: mode 0600, read-write, no prefault, normal pages, size
 * reserved at create.
 */
typedef struct shmkit_opts {
	unsigned int mode;  /* create: permission bits; 0 means 0600 */
	unsigned int flags; /* SHMKIT_F_* */
	shmkit_uid_t owner; /* with SHMKIT_F_OWNER */
	shmkit_gid_t group; /* with SHMKIT_F_GROUP */
} shmkit_opts;

/*
 * The single dispatch entry, after PostgreSQL's dsm_impl_op().
 *
 *  CREATE  spec, size > 0, opts -> *seg. Exclusive: -EEXIST if the name is
 *          taken. The size is reserved for real (posix_fallocate or the
 *          backend's equivalent) unless SHMKIT_F_NORESERVE, so a full tmpfs
 *          gives -ENOSPC here rather than SIGBUS later.
 *  ATTACH  spec, opts -> *seg. size must be 0: the size is learnt from the
 *          object itself. -ENOENT if it does not exist. -ENODEV if what the
 *          name (or the fd: descriptor) refers to is not a regular file: a
 *          FIFO, device node or (opened read-only) directory planted at a
 *          posix: or file: name is refused without blocking, never mapped
 *          and never waited on. -EBUSY if the segment is ephemeral and
 *          someone has held its liveness lock exclusively for about a
 *          second (see shmkit/life.h): attach never blocks on it.
 *  DETACH  *seg: unmap and free the handle; the segment stays. *seg = NULL.
 *  DESTROY *seg: remove the name, then detach. *seg = NULL.
 *  RESIZE  *seg, size: grow or shrink, moving the mapping if needed
 *          (shmkit_addr() may change). -ENOTSUP on sysv and anon.
 *
 * DETACH, DESTROY and RESIZE refuse with -EBUSY, changing nothing (the
 * handle stays valid, *seg untouched, the segment and its mapping as they
 * were), while any thread of the calling process holds a shmkit_mutex that
 * lies inside the handle's mapping: were the mapping gone or moved when
 * that thread died, the kernel could not hand the mutex on and nobody could
 * ever lock it again (see shmkit/life.h). Unlock first.
 *
 * For DETACH, DESTROY and RESIZE spec may be NULL. Returns 0 or a negative
 * errno: -EINVAL for a malformed spec, size or opcode.
 *
 * file: paths are resolved without following symlinks (openat2
 * RESOLVE_NO_SYMLINKS): a symlink anywhere in the path, as a directory or as
 * the last component, is -ELOOP, for create, attach, unlink, destroy,
 * shmkit_stat, shmkit_who, shmkit_in_use and a shmkit_gc directory alike;
 * only a create whose last component is itself a symlink says -EEXIST (the
 * name is taken). On kernels without openat2 (before 5.6) only a symlink as
 * the last component is refused. A path relative to the working directory
 * is resolved from it; the working directory itself is trusted.
 */
SHMKIT_EXTERN int shmkit_op(shmkit_opcode op, const char *spec, size_t size,
			    const shmkit_opts *opts, shmkit_seg **seg);

/* Named wrappers over shmkit_op(). */
SHMKIT_EXTERN int shmkit_create(const char *spec, size_t size,
				const shmkit_opts *opts, shmkit_seg **ret_seg);
SHMKIT_EXTERN int shmkit_attach(const char *spec, const shmkit_opts *opts,
				shmkit_seg **ret_seg);
/* Unmap and free the handle; the segment stays. NULL is a no-op. -EBUSY,
 * and nothing changes, while this process holds a shmkit_mutex in it. */
SHMKIT_EXTERN int shmkit_detach(shmkit_seg *seg);
/*
 * Remove the segment's name and detach. Processes still attached keep their
 * mapping until they detach. NULL is a no-op. -EBUSY, and nothing changes,
 * while this process holds a shmkit_mutex in it. Otherwise, even when
 * removing the name fails, the handle is freed and the error returned.
 */
SHMKIT_EXTERN int shmkit_destroy(shmkit_seg *seg);
/* Grow or shrink; the address may move. -ENOTSUP where the backend cannot;
 * -EBUSY, and nothing changes, while this process holds a shmkit_mutex in
 * it. */
SHMKIT_EXTERN int shmkit_resize(shmkit_seg *seg, size_t size);
/* Remove a segment by name without attaching. -ENOENT if there is none. */
SHMKIT_EXTERN int shmkit_unlink(const char *spec);

/* Accessors. They never fail on a valid handle. */
SHMKIT_EXTERN void *shmkit_addr(const shmkit_seg *seg);
SHMKIT_EXTERN size_t shmkit_size(const shmkit_seg *seg);
/* The canonical spec ("posix:/x", "sysv:id=5", ...); valid while attached. */
SHMKIT_EXTERN const char *shmkit_spec(const shmkit_seg *seg);
SHMKIT_EXTERN shmkit_backend shmkit_backend_of(const shmkit_seg *seg);
/* The descriptor behind the mapping (owned by the handle), or -EBADF for
 * backends without one (sysv, anon). */
SHMKIT_EXTERN int shmkit_fd(const shmkit_seg *seg);

/*
 * Pass a segment with a descriptor (memfd, posix, file, fd) to another process
 * over a connected AF_UNIX socket, with its size and name (SCM_RIGHTS).
 * -EBADF for a backend without a descriptor.
 */
SHMKIT_EXTERN int shmkit_send_fd(int sock, const shmkit_seg *seg);
/*
 * Receive what shmkit_send_fd() sent and attach it. The received handle
 * reports the sender's spec and backend; its size is taken from the
 * descriptor (fstat), never from the message.
 */
SHMKIT_EXTERN int shmkit_recv_fd(int sock, const shmkit_opts *opts,
				 shmkit_seg **ret_seg);

/* ------------------------------------------------------------------------ */
/* Introspection                                                             */
/* ------------------------------------------------------------------------ */

#define SHMKIT_SPEC_MAX 4160 /* longest canonical spec, with its NUL */

typedef struct shmkit_info {
	char spec[SHMKIT_SPEC_MAX]; /* canonical spec: attachable as is */
	shmkit_backend backend;
	uint64_t size;
	shmkit_uid_t uid; /* owner */
	shmkit_gid_t gid;
	unsigned int mode; /* permission bits */
	long nattch;       /* attaches the kernel counts (sysv), else -1 */
	long nprocs;       /* processes that map it (from /proc/PID/maps), -1 if unknown */
	int key;           /* sysv key (0 for IPC_PRIVATE); 0 elsewhere */
	int shmid;         /* sysv id; -1 elsewhere */
	int64_t mtime;     /* last change, seconds since the epoch */
	unsigned int flags; /* SHMKIT_INFO_* */
} shmkit_info;

/* shmkit_info.flags */
#define SHMKIT_INFO_REMOVED   0x0001u /* sysv: marked for removal, still attached */
#define SHMKIT_INFO_EPHEMERAL 0x0002u /* created by shmkit as ephemeral */
#define SHMKIT_INFO_STALE     0x0004u /* ephemeral, and no live process holds it: shmkit_gc() removes it */

/*
 * Called once per segment by shmkit_list(). Return 0 to go on, anything else
 * to stop the walk (shmkit_list then returns that value).
 */
typedef int (*shmkit_list_cb)(const shmkit_info *info, void *arg);

/* shmkit_list() flags: which backends to walk; 0 means all. */
#define SHMKIT_LIST_POSIX 0x1u
#define SHMKIT_LIST_SYSV  0x2u
#define SHMKIT_LIST_NOPROCS 0x100u /* skip the /proc/PID/maps scan (nprocs = -1) */

/*
 * Walk every segment on the host: POSIX ones from /dev/shm, System V ones
 * from /proc/sysvipc/shm. Returns the number of segments reported, the
 * callback's nonzero return if it stopped the walk, or a negative errno.
 */
SHMKIT_EXTERN int shmkit_list(unsigned int flags, shmkit_list_cb cb, void *arg);

/*
 * The file: segments in directory dir (not below it): the regular files
 * that shmkit created there as segments (persistent or ephemeral; both
 * carry a mark, an extended attribute, that other files lack), reported as
 * "file:DIR/NAME" with nattch -1. A file shmkit cannot open for reading, one
 * on a filesystem without user extended attributes, and names starting with
 * '.' are not reported. dir is resolved as file: paths are (no symlink
 * anywhere: -ELOOP). flags: SHMKIT_LIST_NOPROCS or 0; anything else is
 * -EINVAL. Returns as shmkit_list().
 */
SHMKIT_EXTERN int shmkit_list_dir(const char *dir, unsigned int flags,
				  shmkit_list_cb cb, void *arg);

/* Describe one segment by spec without attaching it. -ENOENT if absent,
 * -ENODEV if the name is not a regular file (as attach). */
SHMKIT_EXTERN int shmkit_stat(const char *spec, shmkit_info *ret_info);

/*
 * The processes that map a segment (from /proc/PID/maps where readable).
 * Writes up to max pids and returns how many processes there are in all
 * (which may exceed max).
 */
SHMKIT_EXTERN int shmkit_who(const char *spec, pid_t *pids, size_t max);

#ifdef __cplusplus
}
#endif

/* Layer 3: channels. Declared in a header of their own, part of this one. */
#include "shmkit/chan.h"
/* Layer 4: lifetime and safety. */
#include "shmkit/life.h"
/* Layer 5: managed segments (heaps). */
#include "shmkit/heap.h"

#endif /* SHMKIT_H */
