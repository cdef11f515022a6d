/*
 * util.c: version and error text.
 *
 * shmkit reports errors as negative errno values, so its error text is the
 * C library's, with a few rephrased where the errno's stock wording would
 * mislead a shmkit user (ENOSPC is about the shared memory filesystem, not a
 * disk). Strings are static: no buffer, no locale state, thread-safe.
 */
#include "internal.h"

#include <limits.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

unsigned int shmkit_version(void)
{
	return SHMKIT_VERSION_HEX;
}

const char *shmkit_version_string(void)
{
	return STR(SHMKIT_VERSION_MAJOR) "." STR(SHMKIT_VERSION_MINOR) "." STR(
		SHMKIT_VERSION_PATCH);
}

#if !defined(__GLIBC__) || __GLIBC__ < 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 32)
/*
 * Where the C library has no strerrordesc_np/strerrorname_np (Windows'
 * msvcrt, older glibc), the errno values shmkit returns, named and worded
 * here: msvcrt's strerror() knows none past ERANGE, and a user's message
 * must not read "Unknown error" for -ETIMEDOUT.
 */
#define HAVE_ERRNO_TABLE 1
static const struct errno_text {
	int err;
	const char *name;
	const char *text;
} errno_table[] = {
#define E_(e, t) {e, #e, t}
	E_(EPERM, "Operation not permitted"),
	E_(ENOENT, "No such file or directory"),
	E_(ESRCH, "No such process"),
	E_(EINTR, "Interrupted system call"),
	E_(EIO, "Input/output error"),
	E_(E2BIG, "Argument list too long"),
	E_(EBADF, "Bad file descriptor"),
	E_(EAGAIN, "Resource temporarily unavailable"),
	E_(ENOMEM, "Cannot allocate memory"),
	E_(EACCES, "Permission denied"),
	E_(EFAULT, "Bad address"),
	E_(EBUSY, "Device or resource busy"),
	E_(EEXIST, "File exists"),
	E_(ENODEV, "No such device"),
	E_(ENOTDIR, "Not a directory"),
	E_(EISDIR, "Is a directory"),
	E_(EINVAL, "Invalid argument"),
	E_(ENFILE, "Too many open files in system"),
	E_(EMFILE, "Too many open files"),
	E_(EFBIG, "File too large"),
	E_(ENOSPC, "No space left on device"),
	E_(EROFS, "Read-only file system"),
	E_(EPIPE, "Broken pipe"),
	E_(EDOM, "Numerical argument out of domain"),
	E_(ERANGE, "Numerical result out of range"),
	E_(EDEADLK, "Resource deadlock avoided"),
	E_(ENAMETOOLONG, "File name too long"),
	E_(ENOLCK, "No locks available"),
	E_(ENOSYS, "Function not implemented"),
	E_(ENOTEMPTY, "Directory not empty"),
	E_(ELOOP, "Too many levels of symbolic links"),
	E_(EOVERFLOW, "Value too large for defined data type"),
	E_(EMSGSIZE, "Message too long"),
	E_(ENOBUFS, "No buffer space available"),
	E_(ECONNRESET, "Connection reset by peer"),
	E_(ETIMEDOUT, "Connection timed out"),
	E_(ECANCELED, "Operation canceled"),
	E_(EOWNERDEAD, "Owner died"),
	E_(ENOTRECOVERABLE, "State not recoverable"),
	E_(EUSERS, "Too many users"),
	E_(ESTALE, "Stale file handle"),
#undef E_
};

static const struct errno_text *errno_find(int err)
{
	for (size_t i = 0; i < sizeof(errno_table) / sizeof(errno_table[0]); i++)
		if (errno_table[i].err == err)
			return &errno_table[i];
	return NULL;
}
#endif

const char *shmkit_strerror(int err)
{
	const char *s;

	if (err == INT_MIN)
		return "unknown error"; /* -INT_MIN does not exist */
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case ENOSPC:
		return "no space left for shared memory (tmpfs full or over its limit)";
	case ENOTSUP:
		return "operation not supported by this backend";
	case ENODATA:
		return "segment exists but has no size yet";
	case EEXIST:
		return "segment already exists";
	case ENOENT:
		return "no such segment";
	case EPROTO:
		return "bad or incompatible shmkit header in shared memory";
	case EFBIG:
		return "size too large";
	case ENODEV:
		return "not a shared memory segment (not a regular file)";
	}
#ifdef HAVE_ERRNO_TABLE
	const struct errno_text *e = errno_find(err);
	s = e ? e->text : NULL;
#else
	s = strerrordesc_np(err);
#endif
	return s ? s : "unknown error";
}

const char *shmkit_err_name(int err)
{
	const char *s;

	if (err == INT_MIN)
		return "UNKNOWN"; /* -INT_MIN does not exist */
	if (err < 0)
		err = -err;
#ifdef HAVE_ERRNO_TABLE
	const struct errno_text *e = errno_find(err);
	s = e ? e->name : NULL;
#else
	s = strerrorname_np(err);
#endif
	return s ? s : "UNKNOWN";
}
