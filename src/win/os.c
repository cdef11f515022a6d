/*
 * os.c: Windows helpers shared by the backends and the upper layers:
 * Win32 errors as errno values, UTF-16 names, security descriptors.
 */
#include "win_int.h"

#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <string.h>

int shmkit__win_err(DWORD err)
{
	switch (err) {
	case ERROR_SUCCESS:
		return 0;
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_INVALID_DRIVE:
	case ERROR_BAD_NETPATH:
		return -ENOENT;
	case ERROR_ALREADY_EXISTS:
	case ERROR_FILE_EXISTS:
		return -EEXIST;
	case ERROR_ACCESS_DENIED:
	case ERROR_PRIVILEGE_NOT_HELD:
	case ERROR_NETWORK_ACCESS_DENIED:
		return -EACCES;
	case ERROR_SHARING_VIOLATION:
	case ERROR_LOCK_VIOLATION:
	case ERROR_USER_MAPPED_FILE:
	case ERROR_BUSY:
		return -EBUSY;
	case ERROR_INVALID_HANDLE:
		return -EBADF;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
		return -ENOMEM;
	case ERROR_COMMITMENT_LIMIT:
	case ERROR_COMMITMENT_MINIMUM:
	case ERROR_DISK_FULL:
	case ERROR_HANDLE_DISK_FULL:
		return -ENOSPC;
	case ERROR_FILENAME_EXCED_RANGE:
	case ERROR_BUFFER_OVERFLOW:
		return -ENAMETOOLONG;
	case ERROR_INVALID_NAME:
	case ERROR_BAD_PATHNAME:
	case ERROR_INVALID_PARAMETER:
		return -EINVAL;
	case ERROR_NOT_SUPPORTED:
	case ERROR_CALL_NOT_IMPLEMENTED:
		return -ENOTSUP;
	case ERROR_TOO_MANY_OPEN_FILES:
	case ERROR_NO_SYSTEM_RESOURCES:
		return -EMFILE;
	case ERROR_FILE_INVALID:
	case ERROR_MAPPED_ALIGNMENT:
		return -ENODEV;
	case ERROR_WRITE_PROTECT:
		return -EROFS;
	case ERROR_TIMEOUT:
	case WAIT_TIMEOUT:
		return -ETIMEDOUT;
	case ERROR_DIRECTORY:
		return -ENOTDIR;
	case ERROR_CANT_RESOLVE_FILENAME:
		return -ELOOP;
	}
	return -EIO;
}

int shmkit__win_last(void)
{
	int r = shmkit__win_err(GetLastError());

	return r < 0 ? r : -EIO; /* a failure that set no error is still one */
}

int shmkit__win_wide(const char *s, WCHAR *out, size_t cap)
{
	int n;

	if (cap == 0 || cap > INT_MAX)
		return -ENAMETOOLONG;
	n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, out,
				(int)cap);
	if (n > 0)
		return 0;
	return GetLastError() == ERROR_INSUFFICIENT_BUFFER ? -ENAMETOOLONG
							   : -EINVAL;
}

int shmkit__win_object_name(const char *name, const char *suffix, WCHAR *out,
			    size_t cap)
{
	char buf[SHMKIT_SPEC_MAX];
	bool ns = strncmp(name, "Global\\", 7) == 0 ||
		  strncmp(name, "Local\\", 6) == 0;
	int n;

	n = snprintf(buf, sizeof(buf), "%s%s%s", ns ? "" : "Local\\", name,
		     suffix);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	return shmkit__win_wide(buf, out, cap);
}

/* The calling process's user (TokenUser), into *u. */
union token_user {
	TOKEN_USER tu;
	unsigned char buf[256];
};

static int token_user(union token_user *u)
{
	HANDLE tok;
	DWORD len = 0;
	int r = 0;

	if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
		return shmkit__win_last();
	if (!GetTokenInformation(tok, TokenUser, u, sizeof(*u), &len))
		r = shmkit__win_last();
	CloseHandle(tok);
	return r;
}

/* The calling process's user as an SDDL SID string (LocalFree it). */
static int user_sid(LPWSTR *ret)
{
	union token_user u;
	int r = token_user(&u);

	if (r < 0)
		return r;
	if (!ConvertSidToStringSidW(u.tu.User.Sid, ret))
		return shmkit__win_last();
	return 0;
}

int shmkit__win_sa_make(shmkit__win_sa *out, unsigned mode, bool is_file)
{
	WCHAR sddl[512];
	LPWSTR sid;
	/* Generic rights map to the object's own: for a section, GR is
	 * FILE_MAP_READ and GW is FILE_MAP_WRITE; for a file, read/write. */
	const WCHAR *other = (mode & 022)   ? L"(A;;GRGW;;;WD)"
			     : (mode & 044) ? L"(A;;GR;;;WD)"
					    : L"";
	int r;

	(void)is_file;
	r = user_sid(&sid);
	if (r < 0)
		return r;
	/* P: protected, no ACE inherited from a parent directory. */
	_snwprintf(sddl, sizeof(sddl) / sizeof(sddl[0]),
		   L"D:P(A;;GA;;;%ls)(A;;GA;;;SY)%ls", sid, other);
	sddl[sizeof(sddl) / sizeof(sddl[0]) - 1] = 0;
	LocalFree(sid);
	memset(out, 0, sizeof(*out));
	if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
		    sddl, SDDL_REVISION_1, &out->sd, NULL))
		return shmkit__win_last();
	out->sa.nLength = sizeof(out->sa);
	out->sa.lpSecurityDescriptor = out->sd;
	out->sa.bInheritHandle = FALSE;
	return 0;
}

/*
 * Whether an ACE of a segment's DACL speaks of writing it. Bit 0x2 is
 * SECTION_MAP_WRITE for a section and FILE_WRITE_DATA for a file; the
 * generic bits stay unmapped in some stored descriptors.
 */
static bool ace_writes(ACCESS_MASK m)
{
	return m & (0x2 | GENERIC_WRITE | GENERIC_ALL);
}

/*
 * Whether a segment's ACE becomes one of the helper object's: an allow or
 * deny ACE that applies to the object itself and speaks of writing, for
 * a SID other than the two that get full access first anyway. (The two
 * ACE types share their layout: header, mask, SID.)
 */
static bool ace_counts(ACCESS_ALLOWED_ACE *a, PSID user, PSID sys)
{
	return (a->Header.AceType == ACCESS_ALLOWED_ACE_TYPE ||
		a->Header.AceType == ACCESS_DENIED_ACE_TYPE) &&
	       !(a->Header.AceFlags & INHERIT_ONLY_ACE) &&
	       ace_writes(a->Mask) && !EqualSid(&a->SidStart, user) &&
	       !EqualSid(&a->SidStart, sys);
}

int shmkit__win_sa_derive(shmkit__win_sa *out, void *obj, bool is_file,
			  DWORD full, DWORD rights)
{
	union token_user u;
	union {
		SID sid;
		unsigned char buf[SECURITY_MAX_SID_SIZE];
	} sys, world;
	DWORD syslen = sizeof(sys), wlen = sizeof(world);
	PSECURITY_DESCRIPTOR ssd = NULL, sd = NULL;
	PACL src = NULL, acl;
	bool known = false, everyone = false;
	size_t aclsize, ace = sizeof(ACCESS_ALLOWED_ACE) - sizeof(DWORD);
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = token_user(&u)) < 0)
		return r;
	if (!CreateWellKnownSid(WinLocalSystemSid, NULL, &sys, &syslen) ||
	    !CreateWellKnownSid(WinWorldSid, NULL, &world, &wlen))
		return shmkit__win_last();
	/* Unreadable (no READ_CONTROL on our handle): as if nobody else
	 * may write, the safe side. A NULL DACL lets everyone write. */
	if (obj && GetSecurityInfo((HANDLE)obj,
				   is_file ? SE_FILE_OBJECT : SE_KERNEL_OBJECT,
				   DACL_SECURITY_INFORMATION, NULL, NULL, &src,
				   NULL, &ssd) == ERROR_SUCCESS) {
		known = true;
		everyone = !src;
	}
	aclsize = sizeof(ACL) + 2 * ace + GetLengthSid(u.tu.User.Sid) +
		  GetLengthSid(&sys) + (everyone ? ace + GetLengthSid(&world) : 0);
	for (DWORD i = 0; known && src && i < src->AceCount; i++) {
		ACCESS_ALLOWED_ACE *a;

		if (GetAce(src, i, (void **)&a) && ace_counts(a, u.tu.User.Sid, &sys))
			aclsize += ace + GetLengthSid(&a->SidStart);
	}
	aclsize = (aclsize + 3) & ~(size_t)3;
	if (aclsize > 0xffff) { /* an ACL's size is 16 bits */
		r = -E2BIG;
		goto out;
	}
	sd = LocalAlloc(LPTR, SECURITY_DESCRIPTOR_MIN_LENGTH + aclsize);
	if (!sd) {
		r = -ENOMEM;
		goto out;
	}
	acl = (PACL)((unsigned char *)sd + SECURITY_DESCRIPTOR_MIN_LENGTH);
	/* The creator and SYSTEM first: no deny below takes theirs away. */
	if (!InitializeSecurityDescriptor(sd, SECURITY_DESCRIPTOR_REVISION) ||
	    !InitializeAcl(acl, (DWORD)aclsize, ACL_REVISION) ||
	    !AddAccessAllowedAce(acl, ACL_REVISION, full, u.tu.User.Sid) ||
	    !AddAccessAllowedAce(acl, ACL_REVISION, full, &sys) ||
	    (everyone && !AddAccessAllowedAce(acl, ACL_REVISION, rights, &world)))
		goto fail;
	/* Then the segment's writers, allowed and denied, in its order. */
	for (DWORD i = 0; known && src && i < src->AceCount; i++) {
		ACCESS_ALLOWED_ACE *a;
		BOOL ok = TRUE;

		if (!GetAce(src, i, (void **)&a) ||
		    !ace_counts(a, u.tu.User.Sid, &sys))
			continue;
		if (a->Header.AceType == ACCESS_ALLOWED_ACE_TYPE)
			ok = AddAccessAllowedAce(acl, ACL_REVISION, rights,
						 &a->SidStart);
		else if (a->Header.AceType == ACCESS_DENIED_ACE_TYPE)
			ok = AddAccessDeniedAce(acl, ACL_REVISION, rights,
						&a->SidStart);
		if (!ok)
			goto fail;
	}
	if (!SetSecurityDescriptorDacl(sd, TRUE, acl, FALSE) ||
	    !SetSecurityDescriptorControl(sd, SE_DACL_PROTECTED,
					  SE_DACL_PROTECTED))
		goto fail;
	out->sd = sd;
	out->sa.nLength = sizeof(out->sa);
	out->sa.lpSecurityDescriptor = sd;
	out->sa.bInheritHandle = FALSE;
	r = 0;
	goto out;
fail:
	r = shmkit__win_last();
	LocalFree(sd);
out:
	if (ssd)
		LocalFree(ssd);
	return r;
}

void shmkit__win_sa_free(shmkit__win_sa *sa)
{
	if (sa->sd)
		LocalFree(sa->sd);
	sa->sd = NULL;
}

size_t shmkit__win_page(void)
{
	SYSTEM_INFO si;

	GetSystemInfo(&si);
	return si.dwPageSize ? si.dwPageSize : 4096;
}

int shmkit__win_map(shmkit_seg *seg, HANDLE mapping, bool rdonly, size_t len)
{
	void *p = MapViewOfFile(mapping, rdonly ? FILE_MAP_READ : FILE_MAP_WRITE,
				0, 0, len);

	if (!p)
		return shmkit__win_last();
	if (seg->flags & SHMKIT_F_PREFAULT) {
		size_t pg = shmkit__win_page();
		volatile const unsigned char *c = p;

		for (size_t off = 0; off < len; off += pg)
			(void)c[off];
	}
	seg->addr = p;
	return 0;
}

/* RtlGenRandom: exported by advapi32 under this name (ntsecapi.h says so),
 * so no bcrypt.dll is needed. */
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

int shmkit__win_random(void *buf, size_t len)
{
	if (len > ULONG_MAX || !SystemFunction036(buf, (ULONG)len))
		return -EIO;
	return 0;
}
