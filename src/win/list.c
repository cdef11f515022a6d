/*
 * list.c (Windows): introspection and lifetime calls where Windows has
 * their counterparts, and a clear -ENOTSUP where it has none.
 *
 * Listing. Named mappings live in the object manager's namespace: Local\
 * names in \Sessions\<session>\BaseNamedObjects, Global\ names in
 * \BaseNamedObjects. shmkit_list() walks both directories (ntdll's
 * NtQueryDirectoryObject, looked up at run time: it is part of every
 * Windows and of wine) for objects of type "Section" and reports those this
 * process may open for reading: what it can see, which for another user's
 * private segment is nothing. There is no count of attached processes
 * (nattch, nprocs are -1) and no uid or mode (0): the owner is a SID.
 *
 * Lifetime. A win: segment exists only while someone holds it, and an
 * ephemeral file: segment is FILE_FLAG_DELETE_ON_CLOSE, so nothing can go
 * stale: shmkit_gc() has nothing to collect. shmkit_in_use() on file: asks
 * whether the file can be opened with no sharing at all, which fails while
 * any process has it open.
 */
#include "win_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <winternl.h>

typedef struct {
	UNICODE_STRING name;
	UNICODE_STRING type;
} dir_entry;

typedef NTSTATUS(NTAPI *open_dir_fn)(PHANDLE, ACCESS_MASK, POBJECT_ATTRIBUTES);
typedef NTSTATUS(NTAPI *query_dir_fn)(HANDLE, PVOID, ULONG, BOOLEAN, BOOLEAN,
				      PULONG, PULONG);

#define DIRECTORY_QUERY_ 0x0001

/* Describe the win: segment spec (a parsed name): size from a view. */
static int win_info(const char *name, shmkit_info *info)
{
	shmkit_opts o = {.flags = SHMKIT_F_RDONLY};
	char spec[SHMKIT_SPEC_MAX];
	shmkit_seg *s;
	int r;

	if ((size_t)snprintf(spec, sizeof(spec), "win:%s", name) >= sizeof(spec))
		return -ENAMETOOLONG;
	r = shmkit_attach(spec, &o, &s);
	if (r < 0)
		return r;
	memset(info, 0, sizeof(*info));
	memcpy(info->spec, spec, strlen(spec) + 1);
	info->backend = SHMKIT_BACKEND_WIN;
	info->size = shmkit_size(s);
	info->nattch = -1;
	info->nprocs = -1;
	info->shmid = -1;
	/* It dies with its last handle, as an ephemeral segment does. */
	info->flags = SHMKIT_INFO_EPHEMERAL;
	shmkit_detach(s);
	return 0;
}

static int file_info(const char *path, shmkit_info *info)
{
	WIN32_FILE_ATTRIBUTE_DATA fa;
	WCHAR wpath[PATH_MAX];
	ULARGE_INTEGER t;
	int r;

	if ((r = shmkit__win_wide(path, wpath, PATH_MAX)) < 0)
		return r;
	if (!GetFileAttributesExW(wpath, GetFileExInfoStandard, &fa))
		return shmkit__win_last();
	if (fa.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
		return -ELOOP;
	if (fa.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
		return -ENODEV;
	memset(info, 0, sizeof(*info));
	snprintf(info->spec, sizeof(info->spec), "file:%s", path);
	info->backend = SHMKIT_BACKEND_FILE;
	info->size = ((uint64_t)fa.nFileSizeHigh << 32) | fa.nFileSizeLow;
	info->nattch = -1;
	info->nprocs = -1;
	info->shmid = -1;
	t.LowPart = fa.ftLastWriteTime.dwLowDateTime;
	t.HighPart = fa.ftLastWriteTime.dwHighDateTime;
	/* 100 ns ticks since 1601 to seconds since 1970. */
	info->mtime = (int64_t)(t.QuadPart / 10000000u) - INT64_C(11644473600);
	return 0;
}

int shmkit_stat(const char *spec, shmkit_info *ret_info)
{
	shmkit__spec sp;
	shmkit_info info;
	int r;

	if (!ret_info)
		return -EINVAL;
	if ((r = shmkit__spec_parse(spec, &sp)) < 0)
		return r;
	switch (sp.backend) {
	case SHMKIT_BACKEND_WIN:
		r = win_info(sp.name, &info);
		break;
	case SHMKIT_BACKEND_FILE:
		r = file_info(sp.name, &info);
		break;
	default:
		return -ENOTSUP;
	}
	if (r == 0)
		*ret_info = info;
	return r;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk one object directory; prefix is "" (Local) or "Global\\". */
static int walk_dir(const WCHAR *path, const char *prefix, shmkit_list_cb cb,
		    void *arg, int *count)
{
	HMODULE nt = GetModuleHandleW(L"ntdll.dll");
	open_dir_fn open_dir;
	query_dir_fn query_dir;
	UNICODE_STRING us;
	OBJECT_ATTRIBUTES oa;
	union {
		dir_entry e;
		unsigned char b[4096];
	} buf;
	ULONG ctx = 0, len;
	BOOLEAN first = TRUE;
	char **names = NULL;
	size_t nnames = 0, cap = 0;
	HANDLE d;
	int r = 0;

	if (!nt)
		return -ENOTSUP;
	open_dir = (open_dir_fn)(void (*)(void))GetProcAddress(nt, "NtOpenDirectoryObject");
	query_dir = (query_dir_fn)(void (*)(void))GetProcAddress(nt, "NtQueryDirectoryObject");
	if (!open_dir || !query_dir)
		return -ENOTSUP;
	us.Buffer = (PWSTR)path;
	us.Length = (USHORT)(wcslen(path) * sizeof(WCHAR));
	us.MaximumLength = us.Length;
	InitializeObjectAttributes(&oa, &us, 0, NULL, NULL);
	if (open_dir(&d, DIRECTORY_QUERY_, &oa) != 0)
		return 0; /* a directory we may not read: nothing we can see */
	/*
	 * The names first, then the reports. The directory is read by index
	 * (the context), so an object made or closed meanwhile shifts what
	 * the next call returns: a name can come twice, and the sorted list
	 * drops the repeat. The callback then runs with no enumeration open.
	 */
	while (query_dir(d, &buf, sizeof(buf) - sizeof(WCHAR), TRUE, first,
			 &ctx, &len) == 0) {
		char name[SHMKIT_SPEC_MAX];
		int n, plen = (int)strlen(prefix);

		first = FALSE;
		if (buf.e.type.Length != 7 * sizeof(WCHAR) ||
		    wcsncmp(buf.e.type.Buffer, L"Section", 7) != 0)
			continue;
		memcpy(name, prefix, (size_t)plen);
		n = WideCharToMultiByte(CP_UTF8, 0, buf.e.name.Buffer,
					buf.e.name.Length / sizeof(WCHAR),
					name + plen,
					(int)sizeof(name) - plen - 1, NULL, NULL);
		if (n <= 0)
			continue;
		name[plen + n] = '\0';
		if (nnames == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			char **nn = realloc(names, ncap * sizeof(*nn));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
			cap = ncap;
		}
		if (!(names[nnames] = strdup(name))) {
			r = -ENOMEM;
			break;
		}
		nnames++;
	}
	CloseHandle(d);
	if (names)
		qsort(names, nnames, sizeof(*names), cmp_name);
	for (size_t i = 0; i < nnames && r == 0; i++) {
		shmkit_info info;

		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (win_info(names[i], &info) < 0)
			continue; /* not ours to see, or gone meanwhile */
		(*count)++;
		r = cb(&info, arg);
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	return r;
}

int shmkit_list(unsigned int flags, shmkit_list_cb cb, void *arg)
{
	WCHAR path[64];
	DWORD sess = 0;
	int count = 0, r;

	if (!cb || (flags & ~(SHMKIT_LIST_POSIX | SHMKIT_LIST_SYSV |
			      SHMKIT_LIST_NOPROCS)))
		return -EINVAL;
	/* The posix and sysv bits select backends Windows does not have. */
	if (flags & (SHMKIT_LIST_POSIX | SHMKIT_LIST_SYSV))
		return 0;
	if (!ProcessIdToSessionId(GetCurrentProcessId(), &sess))
		return shmkit__win_last();
	_snwprintf(path, 64, L"\\Sessions\\%lu\\BaseNamedObjects",
		   (unsigned long)sess);
	path[63] = 0;
	r = walk_dir(path, "", cb, arg, &count);
	if (r == 0)
		r = walk_dir(L"\\BaseNamedObjects", "Global\\", cb, arg, &count);
	return r != 0 ? r : count;
}

int shmkit_list_dir(const char *dir, unsigned int flags, shmkit_list_cb cb,
		    void *arg)
{
	(void)dir;
	(void)flags;
	(void)cb;
	(void)arg;
	/* Linux tells shmkit's files by an extended attribute; Windows files
	 * carry none that wine and every filesystem keep. */
	return -ENOTSUP;
}

int shmkit_who(const char *spec, pid_t *pids, size_t max)
{
	shmkit__spec sp;
	int r;

	(void)pids;
	(void)max;
	if ((r = shmkit__spec_parse(spec, &sp)) < 0)
		return r;
	return -ENOTSUP; /* Windows does not say who maps a section */
}

int shmkit_in_use(const char *spec)
{
	shmkit__spec sp;
	shmkit_info info;
	WCHAR path[PATH_MAX];
	HANDLE h;
	int r;

	if ((r = shmkit__spec_parse(spec, &sp)) < 0)
		return r;
	switch (sp.backend) {
	case SHMKIT_BACKEND_WIN:
		/* It exists only while somebody holds it. */
		r = win_info(sp.name, &info);
		return r < 0 ? r : 1;
	case SHMKIT_BACKEND_FILE:
		if ((r = file_info(sp.name, &info)) < 0)
			return r;
		if ((r = shmkit__win_wide(sp.name, path, PATH_MAX)) < 0)
			return r;
		h = CreateFileW(path, GENERIC_READ, 0, NULL, OPEN_EXISTING,
				FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
				NULL);
		if (h != INVALID_HANDLE_VALUE) {
			CloseHandle(h);
			return 0;
		}
		return GetLastError() == ERROR_SHARING_VIOLATION ? 1
								 : shmkit__win_last();
	default:
		return -ENOTSUP;
	}
}

int shmkit_gc(const char *dir, unsigned int flags, shmkit_gc_cb cb, void *arg)
{
	WCHAR wdir[PATH_MAX];
	DWORD attr;
	int r;

	(void)cb;
	(void)arg;
	if (flags & ~SHMKIT_GC_DRY_RUN)
		return -EINVAL;
	if (dir) {
		if ((r = shmkit__win_wide(dir, wdir, PATH_MAX)) < 0)
			return r;
		attr = GetFileAttributesW(wdir);
		if (attr == INVALID_FILE_ATTRIBUTES)
			return shmkit__win_last();
		if (!(attr & FILE_ATTRIBUTE_DIRECTORY))
			return -ENOTDIR;
	}
	return 0; /* nothing on Windows outlives its last user unless asked to */
}

int shmkit_send_fd(int sock, const shmkit_seg *seg)
{
	(void)sock;
	(void)seg;
	return -ENOTSUP; /* no SCM_RIGHTS: share a win: name instead */
}

int shmkit_recv_fd(int sock, const shmkit_opts *opts, shmkit_seg **ret_seg)
{
	(void)sock;
	(void)opts;
	(void)ret_seg;
	return -ENOTSUP;
}
