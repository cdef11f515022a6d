/*
 * win.c: the win: backend, named file mappings backed by the paging file.
 *
 * A Windows named mapping is a kernel object that lives exactly as long as
 * some process holds a handle to it or a view of it: there is no unlink and
 * no persistence past the last user, so destroy is detach, and a segment
 * that must outlive its users is a file: segment. Its size is fixed at
 * creation (resize is -ENOTSUP). SEC_COMMIT charges the whole size against
 * the system's commit limit at create, so a size that cannot be backed
 * fails there (-ENOSPC, or -ENOMEM), never at a first touch.
 *
 * The size. A view's region (VirtualQuery) is whole pages, so a create
 * that asks for 100 bytes would attach as 4096. shmkit therefore makes the
 * object a little larger and ends it with a trailer: the last 16 bytes of
 * its last page hold a magic word and the exact size. The user's bytes
 * start at the view's first byte, so a mapping that another program made
 * (Python's shared_memory, Boost's windows_shared_memory) attaches too: no
 * trailer, and its size is the region's. A peer may have written anything
 * into the trailer: its size is used only when it fits inside the region
 * and its page count matches, else the region's size is.
 *
 * Names live in a namespace: "win:NAME" is Local\NAME (this logon
 * session), "win:Global\NAME" is seen by every session and needs
 * SeCreateGlobalPrivilege to create from a user session: such a create,
 * refused while the token lacks it, is -EPERM. Otherwise, at create,
 * ERROR_ALREADY_EXISTS, ERROR_ACCESS_DENIED and ERROR_INVALID_HANDLE are
 * -EEXIST: the name is taken (by an object we may not open, or by one of
 * another kind). Creates are exclusive: CreateFileMapping opens an
 * existing object of that name, so the new handle is closed and -EEXIST
 * returned before anything is mapped.
 */
#include "win_int.h"

#include <string.h>

#define TRAILER_MAGIC UINT64_C(0x31474553544b4d53) /* "SMKTSEG1" */

struct trailer {
	uint64_t magic;
	uint64_t size;
};

#define WIN_CREATE_FLAGS (SHMKIT_F_PREFAULT | SHMKIT_F_EPHEMERAL)
#define WIN_ATTACH_FLAGS (SHMKIT_F_PREFAULT | SHMKIT_F_RDONLY)

/* The object's size: the user's bytes plus the trailer, in whole pages. */
static int object_size(size_t size, uint64_t *ret)
{
	uint64_t pg = shmkit__win_page(), n;

	if (size > UINT64_MAX - sizeof(struct trailer) - pg)
		return -EFBIG;
	n = (uint64_t)size + sizeof(struct trailer);
	*ret = (n + pg - 1) / pg * pg;
	return 0;
}

/* Options Windows has no counterpart for are refused before anything. */
static int check_flags(const shmkit_opts *o, unsigned allowed)
{
	unsigned f = shmkit__flags(o);

	if (f & SHMKIT_F_HUGE)
		return -ENOTSUP; /* large pages need SeLockMemoryPrivilege */
	if (f & (SHMKIT_F_OWNER | SHMKIT_F_GROUP | SHMKIT_F_NORESERVE))
		return -ENOTSUP; /* SIDs, not uids; paging-file memory is
				    always committed */
	return (f & ~allowed) ? -EINVAL : 0;
}

/* Whether this process's token holds SeCreateGlobalPrivilege, enabled. */
static bool may_create_global(void)
{
	union {
		TOKEN_PRIVILEGES tp;
		unsigned char buf[4096];
	} u;
	DWORD len = 0;
	HANDLE tok;
	LUID luid;
	bool ok = false;

	if (!LookupPrivilegeValueW(NULL, L"SeCreateGlobalPrivilege", &luid) ||
	    !OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		return true; /* cannot tell: let the access check speak */
	if (GetTokenInformation(tok, TokenPrivileges, &u, sizeof(u), &len)) {
		for (DWORD i = 0; i < u.tp.PrivilegeCount; i++) {
			const LUID_AND_ATTRIBUTES *p = &u.tp.Privileges[i];

			if (p->Luid.LowPart == luid.LowPart &&
			    p->Luid.HighPart == luid.HighPart)
				ok = p->Attributes & SE_PRIVILEGE_ENABLED;
		}
	} else {
		ok = true;
	}
	CloseHandle(tok);
	return ok;
}

static int win_create(shmkit_seg *seg, const shmkit__spec *sp, size_t size,
		      const shmkit_opts *o)
{
	WCHAR name[SHMKIT_SPEC_MAX];
	shmkit__win_sa sa;
	uint64_t osize;
	struct trailer *t;
	HANDLE m;
	DWORD err;
	int r;

	if ((r = check_flags(o, WIN_CREATE_FLAGS)) < 0)
		return r;
	if (!sp->name[0])
		return -EINVAL;
	if ((r = object_size(size, &osize)) < 0)
		return r;
	if ((r = shmkit__win_object_name(sp->name, "", name, SHMKIT_SPEC_MAX)) < 0)
		return r;
	if ((r = shmkit__win_sa_make(&sa, shmkit__mode(o), false)) < 0)
		return r;
	m = CreateFileMappingW(INVALID_HANDLE_VALUE, &sa.sa,
			       PAGE_READWRITE | SEC_COMMIT,
			       (DWORD)(osize >> 32), (DWORD)osize, name);
	err = GetLastError();
	shmkit__win_sa_free(&sa);
	/* ERROR_INVALID_HANDLE: the name is taken by another kind of
	 * object (an event, a mutex). Access denied for a Global\ name is
	 * the missing privilege when the token lacks it. */
	if (!m && err == ERROR_ACCESS_DENIED &&
	    !strncmp(sp->name, "Global\\", 7) && !may_create_global())
		return -EPERM;
	if (!m)
		return err == ERROR_ACCESS_DENIED || err == ERROR_INVALID_HANDLE
			       ? -EEXIST
			       : shmkit__win_err(err);
	if (err == ERROR_ALREADY_EXISTS) {
		CloseHandle(m); /* someone else's: not ours to map */
		return -EEXIST;
	}
	r = shmkit__win_map(seg, m, false, (size_t)osize);
	if (r < 0) {
		CloseHandle(m);
		return r;
	}
	t = (struct trailer *)((unsigned char *)seg->addr + osize -
			       sizeof(*t));
	t->size = size;
	__atomic_store_n(&t->magic, TRAILER_MAGIC, __ATOMIC_RELEASE);
	seg->mapping = m;
	seg->size = size;
	if ((r = shmkit__win_view_add(seg, seg->addr, (size_t)osize)) < 0) {
		UnmapViewOfFile(seg->addr);
		seg->addr = NULL;
		seg->mapping = NULL;
		CloseHandle(m);
		return r;
	}
	return 0;
}

/* The size a view of region bytes holds: the trailer's, when it is one. */
static size_t size_of(const void *addr, size_t region)
{
	const struct trailer *t;
	uint64_t size, osize;

	if (region < sizeof(*t))
		return region;
	t = (const struct trailer *)((const unsigned char *)addr + region -
				     sizeof(*t));
	if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) != TRAILER_MAGIC)
		return region;
	size = __atomic_load_n(&t->size, __ATOMIC_RELAXED);
	if (size == 0 || size > region - sizeof(*t) ||
	    object_size((size_t)size, &osize) < 0 || osize != region)
		return region; /* not a trailer shmkit wrote */
	return (size_t)size;
}

static int win_attach(shmkit_seg *seg, const shmkit__spec *sp,
		      const shmkit_opts *o)
{
	WCHAR name[SHMKIT_SPEC_MAX];
	bool ro = shmkit__flags(o) & SHMKIT_F_RDONLY;
	MEMORY_BASIC_INFORMATION mbi;
	HANDLE m;
	int r;

	if ((r = check_flags(o, WIN_ATTACH_FLAGS)) < 0)
		return r;
	if (!sp->name[0])
		return -EINVAL;
	if ((r = shmkit__win_object_name(sp->name, "", name, SHMKIT_SPEC_MAX)) < 0)
		return r;
	/* With READ_CONTROL where we may: the segment's DACL is what its
	 * mutexes' and channels' objects derive theirs from (views.c). */
	for (int i = 0; i < 2; i++) {
		DWORD acc = ro ? FILE_MAP_READ : FILE_MAP_READ | FILE_MAP_WRITE;

		m = OpenFileMappingW(acc | (i == 0 ? READ_CONTROL : 0), FALSE,
				     name);
		if (m || GetLastError() != ERROR_ACCESS_DENIED)
			break;
	}
	if (!m) {
		DWORD err = GetLastError();
		/* A name that exists as another kind of object (an event, a
		 * mutex) is not a segment. */
		return err == ERROR_INVALID_HANDLE ? -ENODEV : shmkit__win_err(err);
	}
	r = shmkit__win_map(seg, m, ro, 0);
	if (r < 0) {
		CloseHandle(m);
		return r;
	}
	if (VirtualQuery(seg->addr, &mbi, sizeof(mbi)) != sizeof(mbi) ||
	    mbi.RegionSize == 0) {
		r = shmkit__win_last();
		UnmapViewOfFile(seg->addr);
		seg->addr = NULL;
		CloseHandle(m);
		return r;
	}
	seg->mapping = m;
	seg->size = size_of(seg->addr, mbi.RegionSize);
	if ((r = shmkit__win_view_add(seg, seg->addr, mbi.RegionSize)) < 0) {
		UnmapViewOfFile(seg->addr);
		seg->addr = NULL;
		seg->mapping = NULL;
		CloseHandle(m);
		return r;
	}
	return 0;
}

int shmkit__win_detach(shmkit_seg *seg)
{
	int r = 0;

	shmkit__win_view_remove_seg(seg); /* before its handles go */
	if (seg->addr && !UnmapViewOfFile(seg->addr))
		r = shmkit__win_last();
	if (seg->mapping && !CloseHandle(seg->mapping) && r == 0)
		r = shmkit__win_last();
	if (seg->file && !CloseHandle(seg->file) && r == 0)
		r = shmkit__win_last();
	seg->addr = NULL;
	seg->mapping = NULL;
	seg->file = NULL;
	return r;
}

const shmkit__backend shmkit__backend_win = {
	.id = SHMKIT_BACKEND_WIN,
	.name = "win",
	.create = win_create,
	.attach = win_attach,
	.detach = shmkit__win_detach,
	/* No name to remove: the object dies with its last handle. */
	.remove = NULL,
	.resize = NULL,
	.unlink = NULL,
};
