/*
 * file.c (Windows): the file: backend, a regular file mapped shared.
 *
 * The persistent segment on Windows: the file outlives every process, and
 * attaching it again after a restart finds what was written (a win:
 * segment cannot: it dies with its last handle). Create is exclusive
 * (CREATE_NEW) and extends the file to its size at once, so a full disk is
 * -ENOSPC at create; SHMKIT_F_EPHEMERAL opens it FILE_FLAG_DELETE_ON_CLOSE,
 * so the file goes with the last handle of anyone's, as an ephemeral
 * segment does on Linux, and no gc is ever needed for it. Every open
 * shares read, write and delete. Unlike unlink on Linux, Windows refuses
 * to remove a file that some process still maps: destroy and unlink then
 * fail with -EBUSY and the file stays (see file_remove).
 *
 * The last path component must not be a reparse point (a symbolic link or
 * junction): -ELOOP, as on Linux; the directories on the way are trusted.
 */
#include "win_int.h"

#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

static int path_wide(const shmkit__spec *sp, WCHAR *out)
{
	if (!sp->name[0])
		return -EINVAL;
	return shmkit__win_wide(sp->name, out, PATH_MAX);
}

/* -ELOOP for a reparse point, -ENODEV for a directory or device, else 0. */
static int check_file(HANDLE f)
{
	BY_HANDLE_FILE_INFORMATION bi;

	if (GetFileType(f) != FILE_TYPE_DISK)
		return -ENODEV;
	if (!GetFileInformationByHandle(f, &bi))
		return shmkit__win_last();
	if (bi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
		return -ELOOP;
	if (bi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
		return -ENODEV;
	return 0;
}

/* Map size bytes of f; sets seg->mapping and seg->addr. */
static int map_file(shmkit_seg *seg, HANDLE f, size_t size, bool ro)
{
	HANDLE m = CreateFileMappingW(f, NULL, ro ? PAGE_READONLY : PAGE_READWRITE,
				      (DWORD)((uint64_t)size >> 32),
				      (DWORD)size, NULL);
	int r;

	if (!m)
		return shmkit__win_last();
	r = shmkit__win_map(seg, m, ro, size);
	if (r < 0) {
		CloseHandle(m);
		return r;
	}
	seg->mapping = m;
	seg->size = size;
	return 0;
}

/* Remove the file by its handle (it needs DELETE access). */
static int delete_by_handle(HANDLE f)
{
	FILE_DISPOSITION_INFO di = {.DeleteFile = TRUE};

	if (!SetFileInformationByHandle(f, FileDispositionInfo, &di, sizeof(di)))
		return shmkit__win_last();
	return 0;
}

static int file_create(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
		       const shmkit_opts *o)
{
	WCHAR path[PATH_MAX];
	unsigned f = shmkit__flags(o);
	shmkit__win_sa sa;
	LARGE_INTEGER end = {.QuadPart = (LONGLONG)size};
	HANDLE h;
	int r;

	if (f & SHMKIT_F_HUGE)
		return -ENOTSUP;
	if (f & (SHMKIT_F_GROUP | SHMKIT_F_NORESERVE))
		return -ENOTSUP;
	if ((r = path_wide(sp, path)) < 0)
		return r;
	if ((r = shmkit__win_sa_make(&sa, shmkit__mode(o), true)) < 0)
		return r;
	h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE | DELETE, SHARE_ALL,
			&sa.sa, CREATE_NEW,
			FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT |
				((f & SHMKIT_F_EPHEMERAL) ? FILE_FLAG_DELETE_ON_CLOSE : 0),
			NULL);
	shmkit__win_sa_free(&sa);
	if (h == INVALID_HANDLE_VALUE)
		return shmkit__win_last();
	/* Sized now, so that a full disk says so here, not at a touch. */
	if (!SetFilePointerEx(h, end, NULL, FILE_BEGIN) || !SetEndOfFile(h))
		r = shmkit__win_last();
	else
		r = map_file(seg, h, size, false);
	if (r == 0 && (r = shmkit__win_view_add(seg, seg->addr, size)) < 0) {
		UnmapViewOfFile(seg->addr);
		CloseHandle(seg->mapping);
		seg->addr = NULL;
		seg->mapping = NULL;
	}
	if (r < 0) {
		(void)delete_by_handle(h); /* ours: made a moment ago */
		CloseHandle(h);
		return r;
	}
	seg->file = h;
	return 0;
}

static int file_attach(shmkit_seg *seg, const shmkit__spec *sp,
		       const shmkit_opts *o)
{
	WCHAR path[PATH_MAX];
	unsigned f = shmkit__flags(o);
	bool ro = f & SHMKIT_F_RDONLY;
	LARGE_INTEGER len;
	HANDLE h;
	DWORD attr;
	int r;

	if (f & SHMKIT_F_HUGE)
		return -ENOTSUP;
	if (f & SHMKIT_F_OWNER)
		return -ENOTSUP;
	if ((r = path_wide(sp, path)) < 0)
		return r;
	/* A directory cannot be opened as a file: say what it is. */
	attr = GetFileAttributesW(path);
	if (attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY))
		return (attr & FILE_ATTRIBUTE_REPARSE_POINT) ? -ELOOP : -ENODEV;
	/* With DELETE where we may, so that destroy removes this very file
	 * (by handle) rather than whatever has its name by then. */
	for (int i = ro ? 1 : 0; i < 2; i++) {
		DWORD acc = ro ? GENERIC_READ : GENERIC_READ | GENERIC_WRITE;

		h = CreateFileW(path, acc | (i == 0 ? DELETE : 0), SHARE_ALL,
				NULL, OPEN_EXISTING,
				FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
				NULL);
		if (h != INVALID_HANDLE_VALUE ||
		    GetLastError() != ERROR_ACCESS_DENIED)
			break;
	}
	if (h == INVALID_HANDLE_VALUE)
		return shmkit__win_last();
	if ((r = check_file(h)) < 0)
		goto fail;
	if (!GetFileSizeEx(h, &len)) {
		r = shmkit__win_last();
		goto fail;
	}
	if (len.QuadPart == 0) {
		r = -ENODATA; /* nothing to map yet */
		goto fail;
	}
	if ((uint64_t)len.QuadPart > SIZE_MAX) {
		r = -EFBIG;
		goto fail;
	}
	if ((r = map_file(seg, h, (size_t)len.QuadPart, ro)) < 0)
		goto fail;
	seg->file = h;
	if ((r = shmkit__win_view_add(seg, seg->addr, seg->size)) < 0) {
		UnmapViewOfFile(seg->addr);
		CloseHandle(seg->mapping);
		seg->addr = NULL;
		seg->mapping = NULL;
		seg->file = NULL;
		goto fail;
	}
	return 0;
fail:
	CloseHandle(h);
	return r;
}

/*
 * Windows will not remove a file while a view of it exists (the delete is
 * refused, not deferred), so destroy takes this handle's view down first
 * (the dispatcher's detach then closes the file). While another process
 * still maps the file it stays, and destroy says -EBUSY.
 */
static int file_remove(shmkit_seg *seg)
{
	int r;

	if (!seg->file)
		return -EBADF;
	shmkit__win_view_remove(seg->addr);
	UnmapViewOfFile(seg->addr);
	CloseHandle(seg->mapping);
	seg->addr = NULL;
	seg->mapping = NULL;
	r = delete_by_handle(seg->file);
	return r == -EACCES ? -EBUSY : r;
}

/*
 * Grow or shrink: the view and the mapping go, the file changes size, a
 * new mapping and view come back (the address may move). Windows refuses
 * to shrink a file that another process still maps (-EBUSY); whatever
 * fails, the old size is mapped again.
 */
static int file_resize(shmkit_seg *seg, size_t size)
{
	LARGE_INTEGER end = {.QuadPart = (LONGLONG)size};
	LARGE_INTEGER old = {.QuadPart = (LONGLONG)seg->size};
	size_t oldsize = seg->size;
	void *oldaddr = seg->addr;
	HANDLE f = seg->file;
	int r, r2;

	if (!f)
		return -ENOTSUP;
	UnmapViewOfFile(seg->addr);
	CloseHandle(seg->mapping);
	seg->addr = NULL;
	seg->mapping = NULL;
	if (!SetFilePointerEx(f, end, NULL, FILE_BEGIN) || !SetEndOfFile(f))
		r = shmkit__win_last();
	else if ((r = map_file(seg, f, size, false)) == 0)
		goto moved;
	/* Back to the old size and a view of it. */
	if (SetFilePointerEx(f, old, NULL, FILE_BEGIN))
		(void)SetEndOfFile(f);
	r2 = map_file(seg, f, oldsize, false);
	if (r2 < 0)
		r = r2; /* the handle has no view now: detach still works */
moved:
	/* The registry follows the view (views.c reads only seg->file of a
	 * file: segment, which stays). */
	shmkit__win_view_move(oldaddr, seg->addr, seg->addr ? seg->size : 0);
	return r;
}

static int file_unlink(const shmkit__spec *sp)
{
	WCHAR path[PATH_MAX];
	DWORD attr;
	int r;

	if ((r = path_wide(sp, path)) < 0)
		return r;
	attr = GetFileAttributesW(path);
	if (attr == INVALID_FILE_ATTRIBUTES)
		return shmkit__win_last();
	if (attr & FILE_ATTRIBUTE_REPARSE_POINT)
		return -ELOOP;
	if (attr & FILE_ATTRIBUTE_DIRECTORY)
		return -ENODEV;
	if (!DeleteFileW(path))
		return GetLastError() == ERROR_ACCESS_DENIED ? -EBUSY
							     : shmkit__win_last();
	return 0;
}

const shmkit__backend shmkit__backend_file = {
	.id = SHMKIT_BACKEND_FILE,
	.name = "file",
	.create = file_create,
	.attach = file_attach,
	.detach = shmkit__win_detach,
	.remove = file_remove,
	.resize = file_resize,
	.unlink = file_unlink,
};
