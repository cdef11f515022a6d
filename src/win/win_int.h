/*
 * win_int.h: what the Windows files of shmkit (src/win/) share: error
 * mapping, names and paths in UTF-16, security descriptors.
 */
#ifndef SHMKIT_WIN_INT_H
#define SHMKIT_WIN_INT_H

#include "../internal.h"

#include <windows.h>

/* A Win32 error (GetLastError()) as a negative errno value. */
SHMKIT__HIDDEN int shmkit__win_err(DWORD err);
/* shmkit__win_err(GetLastError()). */
SHMKIT__HIDDEN int shmkit__win_last(void);

/* UTF-8 to UTF-16 into out (cap wide characters, NUL included): 0, or
 * -EINVAL (not UTF-8), -ENAMETOOLONG. */
SHMKIT__HIDDEN int shmkit__win_wide(const char *s, WCHAR *out, size_t cap);

/*
 * The kernel object name of a win: segment: "Local\NAME" unless NAME
 * already names its namespace ("Global\..." or "Local\..."), with suffix
 * (may be "") appended. Same errors as shmkit__win_wide.
 */
SHMKIT__HIDDEN int shmkit__win_object_name(const char *name,
					   const char *suffix, WCHAR *out,
					   size_t cap);

/*
 * A security descriptor for a new object from a create mode: the creating
 * user gets full access always; group or other read bits (044) give
 * Everyone read, write bits (022) give Everyone write too. SYSTEM keeps
 * full access (as for any object the system makes). *sa points into *sd,
 * which the caller frees with shmkit__win_sa_free().
 */
typedef struct shmkit__win_sa {
	SECURITY_ATTRIBUTES sa;
	PSECURITY_DESCRIPTOR sd;
} shmkit__win_sa;
SHMKIT__HIDDEN int shmkit__win_sa_make(shmkit__win_sa *out, unsigned mode,
				       bool is_file);
SHMKIT__HIDDEN void shmkit__win_sa_free(shmkit__win_sa *sa);

/* The system's page size and allocation granularity (GetSystemInfo). */
SHMKIT__HIDDEN size_t shmkit__win_page(void);

/* MapViewOfFile of the whole object, read-only or read-write; 0 or -errno.
 * SHMKIT_F_PREFAULT touches every page so that no fault comes later. */
SHMKIT__HIDDEN int shmkit__win_map(shmkit_seg *seg, HANDLE mapping,
				   bool rdonly, size_t len);

/* Unmap the view, close the mapping and the file (file:); the detach of
 * both Windows backends. Always completes; the first error. */
SHMKIT__HIDDEN int shmkit__win_detach(shmkit_seg *seg);

/* len random bytes from the system (advapi32's RtlGenRandom): 0 or -EIO.
 * For names and secrets that must not repeat across processes. */
SHMKIT__HIDDEN int shmkit__win_random(void *buf, size_t len);

#endif /* SHMKIT_WIN_INT_H */
