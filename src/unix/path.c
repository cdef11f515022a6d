/*
 * path.c: resolving file: paths without following a symlink anywhere.
 *
 * O_NOFOLLOW guards only the last component of a path: file:/a/b/seg still
 * follows a symlink planted at /a/b, so a user who can write to /a could
 * point our create, attach, unlink or gc at a directory of their choosing.
 * openat2(RESOLVE_NO_SYMLINKS) refuses a symlink in any component with
 * ELOOP, in the kernel's one walk of the path, so there is no window between
 * a check and the use. Every file: path goes through here: attach and create
 * open it with shmkit__path_open(); whatever acts on a name (the O_TMPFILE +
 * linkat of an ephemeral create, unlink, destroy, stat, gc) works relative
 * to a directory opened with shmkit__path_dir(). A path that starts at the
 * working directory is resolved from it, as open() does; the working
 * directory itself is trusted.
 *
 * Where the kernel has no openat2 (before Linux 5.6; valgrind 3.19 does not
 * know it either) the fallback is O_NOFOLLOW on the last component only, and
 * directories are followed: the best open() can do. ENOSYS is remembered so
 * that such hosts pay for the failed call once per process.
 */
#include "../internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int no_openat2; /* set once ENOSYS is seen; relaxed, racing is fine */

/* openat2(dfd, path, RESOLVE_NO_SYMLINKS); without it, openat() with
 * fallback_flags added. Returns the fd or a negative errno. */
static int resolve(int dfd, const char *path, int flags, mode_t mode,
		   int fallback_flags)
{
	int fd;

	flags |= O_CLOEXEC;
	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		struct open_how how;

		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(unsigned)flags;
		/* openat2 insists on mode 0 unless a file is being made. */
		how.mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
				   ? mode
				   : 0;
		how.resolve = RESOLVE_NO_SYMLINKS;
		do {
			fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
		} while (fd < 0 && errno == EINTR);
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS)
			return -errno;
		__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
	}
	do {
		fd = openat(dfd, path, flags | fallback_flags, mode);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0 && errno == ENOTDIR && (flags & O_DIRECTORY) &&
	    (fallback_flags & O_NOFOLLOW)) {
		/* O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR; openat2
		 * says ELOOP, and so do we. */
		struct stat st;
		if (fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			return -ELOOP;
		errno = ENOTDIR;
	}
	return fd < 0 ? -errno : fd;
}

int shmkit__path_open(const char *path, int flags, mode_t mode)
{
	return resolve(AT_FDCWD, path, flags, mode, O_NOFOLLOW);
}

int shmkit__path_dir(const char *path, const char **ret_name)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	size_t n;
	int dfd;

	if (!slash) {
		dir[0] = '.';
		n = 1;
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
	}
	dir[n] = '\0';
	/* The fallback follows the directory: O_NOFOLLOW would open a
	 * symlink itself as an O_PATH descriptor, which is no better. */
	dfd = resolve(AT_FDCWD, dir, O_PATH | O_DIRECTORY, 0, 0);
	if (dfd < 0)
		return dfd;
	*ret_name = slash ? slash + 1 : path;
	return dfd;
}

int shmkit__path_unlink(const char *path)
{
	const char *name;
	int dfd, r = 0;

	dfd = shmkit__path_dir(path, &name);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, name, 0) < 0)
		r = -errno;
	shmkit__close(dfd);
	return r;
}
