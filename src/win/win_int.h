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

/*
 * A security descriptor for a helper object of a segment (a mutex, a
 * channel's semaphores and event) derived from the segment's own DACL,
 * read from obj (a section HANDLE, or with is_file a file HANDLE, opened
 * with READ_CONTROL): every SID the segment allows to write gets rights,
 * every SID it denies writing is denied them, in the segment's order;
 * read-only SIDs get nothing. The creating user and SYSTEM get full first,
 * always. obj NULL, or a DACL we may not read: creator and SYSTEM only.
 * Freed with shmkit__win_sa_free().
 */
SHMKIT__HIDDEN int shmkit__win_sa_derive(shmkit__win_sa *out, void *obj,
					 bool is_file, DWORD full,
					 DWORD rights);

/*
 * The segments this process maps (views.c): address range -> segment, so
 * that a shmkit_mutex, which knows only its address, finds the namespace
 * and the access of the segment it lies in. The backends add a view once
 * the handle is complete (seg->mapping, seg->file set) and remove it
 * before they unmap it or close those handles (a heap's parts of a file:
 * segment are views of it too); add fails only with -ENOMEM.
 */
SHMKIT__HIDDEN int shmkit__win_view_add(const shmkit_seg *seg,
					const void *addr, size_t len);
SHMKIT__HIDDEN void shmkit__win_view_remove(const void *addr);
/* The view at old is now len bytes at addr (addr NULL: gone); no memory
 * is needed, so this cannot fail (file: resize). */
SHMKIT__HIDDEN void shmkit__win_view_move(const void *old, const void *addr,
					  size_t len);
/* Every view of seg: its own and its heap's parts (detach). */
SHMKIT__HIDDEN void shmkit__win_view_remove_seg(const shmkit_seg *seg);

/*
 * The namespace of a segment's helper objects, Global\ or Local\: Global
 * for a win:Global\ segment and for every file: segment (a file is shared
 * by path across sessions), Local otherwise. Every process that maps the
 * segment computes the same answer.
 */
SHMKIT__HIDDEN bool shmkit__win_seg_global(const shmkit_seg *seg);

/* The helper objects' security for a segment (shmkit__win_sa_derive). */
SHMKIT__HIDDEN int shmkit__win_seg_sa(const shmkit_seg *seg, DWORD full,
				      DWORD rights, shmkit__win_sa *out);

/*
 * For the object of a mutex at addr: its namespace (*ret_global) and,
 * when out is not NULL, its security. In a segment this process maps:
 * the segment's (above), and 1; elsewhere Local\, creator and SYSTEM
 * only, and 0. Or -errno.
 */
SHMKIT__HIDDEN int shmkit__win_view_lookup(const void *addr, DWORD full,
					   DWORD rights, shmkit__win_sa *out,
					   bool *ret_global);

/*
 * The name of the kernel mutex behind m ("Global\shmkit.mx.<id>" or
 * "Local\..."), as a lock in this process would open it now, into buf:
 * 1 if m lies in a segment this process maps, 0 if not, or -EINVAL (not
 * an initialised mutex). For tests and diagnostics.
 */
SHMKIT__HIDDEN int shmkit__win_mutex_name(const shmkit_mutex *m, char *buf,
					  size_t cap);

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
