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
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
	s = strerrordesc_np(err);
#else
	s = NULL;
#endif
	return s ? s : "unknown error";
}

const char *shmkit_err_name(int err)
{
	const char *s = NULL;

	if (err == INT_MIN)
		return "UNKNOWN"; /* -INT_MIN does not exist */
	if (err < 0)
		err = -err;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
	s = strerrorname_np(err);
#endif
	return s ? s : "UNKNOWN";
}
