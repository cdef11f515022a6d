/*
 * test_win_seg.c: segments on Windows: the win: backend (named mappings
 * in the paging file) and file:, in one process and between two, with a
 * peer killed by TerminateProcess; permissions; introspection; bad input.
 */
#include "wtest.h"
#include "internal.h" /* seg->mapping: the DACL check reads it */

#include <aclapi.h>
#include <sddl.h>

/* A scratch directory of this run for file: segments (removed at exit). */
static char tmpdir[MAX_PATH];

static const char *tmp_path(const char *leaf)
{
	static char buf[4][MAX_PATH + 64];
	static unsigned n;
	char *b = buf[n++ % 4];

	if (!tmpdir[0]) {
		char base[MAX_PATH];

		GetTempPathA(sizeof(base), base);
		snprintf(tmpdir, sizeof(tmpdir), "%sshmkit-wt.%lu.%llu", base,
			 (unsigned long)GetCurrentProcessId(),
			 (unsigned long long)GetTickCount64());
		if (!CreateDirectoryA(tmpdir, NULL))
			FAIL_("CreateDirectory %s: %lu", tmpdir, GetLastError());
	}
	snprintf(b, MAX_PATH + 64, "file:%s\\%s", tmpdir, leaf);
	return b;
}

static void test_create_attach(void)
{
	const char *n = wt_name("win:shmkit-t");
	shmkit_seg *a, *b;

	ASSERT_OK(shmkit_create(n, 100, NULL, &a));
	ASSERT_EQ(shmkit_size(a), 100);
	ASSERT_EQ(shmkit_backend_of(a), SHMKIT_BACKEND_WIN);
	ASSERT(strcmp(shmkit_spec(a), n) == 0);
	ASSERT_ERR(shmkit_fd(a), EBADF);
	memcpy(shmkit_addr(a), "hello", 6);
	ASSERT_OK(shmkit_attach(n, NULL, &b));
	ASSERT_EQ(shmkit_size(b), 100); /* the exact size, not the page */
	ASSERT(strcmp(shmkit_addr(b), "hello") == 0);
	ASSERT_ERR(shmkit_create(n, 100, NULL, &b), EEXIST);
	ASSERT_OK(shmkit_detach(b));
	ASSERT_OK(shmkit_destroy(a));
	/* The object died with its last handle. */
	ASSERT_ERR(shmkit_attach(n, NULL, &b), ENOENT);
}

static void test_sizes(void)
{
	static const size_t sizes[] = {1, 4080, 4081, 4096, 65536, 1 << 20};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *n = wt_name("win:shmkit-sz");
		shmkit_seg *a, *b;

		ASSERT_OK(shmkit_create(n, sizes[i], NULL, &a));
		((unsigned char *)shmkit_addr(a))[sizes[i] - 1] = 0x5a;
		ASSERT_OK(shmkit_attach(n, NULL, &b));
		ASSERT_EQ(shmkit_size(b), sizes[i]);
		ASSERT_EQ(((unsigned char *)shmkit_addr(b))[sizes[i] - 1], 0x5a);
		ASSERT_OK(shmkit_detach(b));
		ASSERT_OK(shmkit_destroy(a));
	}
}

/* A mapping another program made (no shmkit trailer) attaches whole; a
 * trailer a peer scribbled on is not believed. */
static void test_foreign_and_forged(void)
{
	const char *n = wt_name("win:shmkit-foreign");
	WCHAR wn[256];
	shmkit_seg *a, *b;
	HANDLE m;
	char spec[300];

	MultiByteToWideChar(CP_UTF8, 0, n + 4, -1, wn + 6, 250);
	memcpy(wn, L"Local\\", 6 * sizeof(WCHAR));
	m = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
			       8192, wn);
	ASSERT(m != NULL);
	ASSERT_OK(shmkit_attach(n, NULL, &a));
	ASSERT_EQ(shmkit_size(a), 8192);
	ASSERT_OK(shmkit_detach(a));
	CloseHandle(m);

	snprintf(spec, sizeof(spec), "%s", wt_name("win:shmkit-forged"));
	ASSERT_OK(shmkit_create(spec, 10, NULL, &a));
	/* The trailer is the last 16 bytes of the page: claim 1 TiB. */
	{
		uint64_t *t = (uint64_t *)((char *)shmkit_addr(a) + 4096 - 16);

		t[1] = UINT64_C(1) << 40;
	}
	ASSERT_OK(shmkit_attach(spec, NULL, &b));
	ASSERT_EQ(shmkit_size(b), 4096); /* the region, not the lie */
	ASSERT_OK(shmkit_detach(b));
	ASSERT_OK(shmkit_destroy(a));
}

static void test_rdonly(void)
{
	const char *n = wt_name("win:shmkit-ro");
	shmkit_opts ro = {.flags = SHMKIT_F_RDONLY};
	MEMORY_BASIC_INFORMATION mbi;
	shmkit_seg *a, *b;

	ASSERT_OK(shmkit_create(n, 4096, NULL, &a));
	ASSERT_OK(shmkit_attach(n, &ro, &b));
	ASSERT(VirtualQuery(shmkit_addr(b), &mbi, sizeof(mbi)) == sizeof(mbi));
	ASSERT_EQ(mbi.Protect, PAGE_READONLY);
	ASSERT_OK(shmkit_detach(b));
	ASSERT_OK(shmkit_destroy(a));
}

/* The DACL of a new object: its creator (and SYSTEM) only by default;
 * Everyone reads with 0644, reads and writes with 0666. */
static int everyone_aces(shmkit_seg *s, int *naces)
{
	PACL dacl = NULL;
	PSECURITY_DESCRIPTOR sd = NULL;
	ACL_SIZE_INFORMATION si;
	PSID everyone = NULL;
	SID_IDENTIFIER_AUTHORITY world = SECURITY_WORLD_SID_AUTHORITY;
	DWORD mask = 0;

	ASSERT_EQ(GetSecurityInfo(s->mapping, SE_KERNEL_OBJECT,
				  DACL_SECURITY_INFORMATION, NULL, NULL, &dacl,
				  NULL, &sd),
		  ERROR_SUCCESS);
	ASSERT(dacl != NULL);
	ASSERT(GetAclInformation(dacl, &si, sizeof(si), AclSizeInformation));
	*naces = (int)si.AceCount;
	ASSERT(AllocateAndInitializeSid(&world, 1, SECURITY_WORLD_RID, 0, 0, 0,
					0, 0, 0, 0, &everyone));
	for (DWORD i = 0; i < si.AceCount; i++) {
		ACCESS_ALLOWED_ACE *ace;

		ASSERT(GetAce(dacl, i, (void **)&ace));
		if (EqualSid((PSID)&ace->SidStart, everyone))
			mask |= ace->Mask;
	}
	FreeSid(everyone);
	LocalFree(sd);
	return (int)mask;
}

static void test_perms(void)
{
	static const unsigned modes[] = {0600, 0644, 0666};
	int naces, mask;

	for (int i = 0; i < 3; i++) {
		shmkit_opts o = {.mode = modes[i]};
		shmkit_seg *a;

		ASSERT_OK(shmkit_create(wt_name("win:shmkit-perm"), 4096, &o, &a));
		mask = everyone_aces(a, &naces);
		if (i == 0) {
			ASSERT_EQ(naces, 2); /* the creator and SYSTEM */
			ASSERT_EQ(mask, 0);
		} else {
			ASSERT_EQ(naces, 3);
			ASSERT(mask != 0);
			/* 0644: read, no write; 0666: both. */
			ASSERT_EQ(!!(mask & (GENERIC_WRITE | FILE_MAP_WRITE |
					     SECTION_MAP_WRITE)),
				  i == 2);
		}
		ASSERT_OK(shmkit_destroy(a));
	}
}

/* -- Two processes --------------------------------------------------------- */

/* Child: attach, check the parent's bytes, answer, exit. */
static int child_answer(int argc, char **argv)
{
	shmkit_seg *s;
	int r;

	if (argc < 1)
		return 2;
	if ((r = shmkit_attach(argv[0], NULL, &s)) < 0) {
		fprintf(stderr, "child attach %s: %s\n", argv[0], shmkit_strerror(r));
		return 3;
	}
	if (strcmp(shmkit_addr(s), "ping") != 0)
		return 4;
	strcpy((char *)shmkit_addr(s) + 64, "pong");
	return shmkit_detach(s) == 0 ? 0 : 5;
}

/* Child: create, fill, then hold until killed (or 30 s). */
static int child_hold(int argc, char **argv)
{
	shmkit_seg *s;
	int r;

	if (argc < 1)
		return 2;
	if ((r = shmkit_create(argv[0], 65536, NULL, &s)) < 0) {
		fprintf(stderr, "child create %s: %s\n", argv[0], shmkit_strerror(r));
		return 3;
	}
	memset(shmkit_addr(s), 0x77, 65536);
	__atomic_store_n((volatile char *)shmkit_addr(s), 'R', __ATOMIC_RELEASE);
	Sleep(30000);
	return 0;
}

static void test_two_processes(void)
{
	const char *n = wt_name("win:shmkit-pair");
	shmkit_seg *a;

	ASSERT_OK(shmkit_create(n, 4096, NULL, &a));
	strcpy(shmkit_addr(a), "ping");
	ASSERT_EQ(wt_wait(wt_spawn("answer", n), 20000, "answer"), 0);
	ASSERT(strcmp((char *)shmkit_addr(a) + 64, "pong") == 0);
	ASSERT_OK(shmkit_destroy(a));
}

/* The creator killed: an attacher keeps its view and the bytes; the
 * object goes with the attacher's handle, the last one. */
static void test_killed_creator(void)
{
	const char *n = wt_name("win:shmkit-kill");
	shmkit_seg *b = NULL;
	HANDLE h = wt_spawn("hold", n);
	ULONGLONG until = GetTickCount64() + 20000;

	while (shmkit_attach(n, NULL, &b) < 0 ||
	       __atomic_load_n((volatile char *)shmkit_addr(b), __ATOMIC_ACQUIRE) != 'R') {
		if (b)
			shmkit_detach(b);
		b = NULL;
		if (GetTickCount64() > until) {
			wt_kill(h);
			FAIL_("the holder never made %s", n);
		}
		Sleep(5);
	}
	wt_kill(h);
	ASSERT_EQ(((unsigned char *)shmkit_addr(b))[65535], 0x77);
	ASSERT_EQ(shmkit_size(b), 65536);
	ASSERT_OK(shmkit_detach(b));
	/* Gone; a name may linger an instant after its last handle closes. */
	WT_UNTIL(shmkit_attach(n, NULL, &b) == -ENOENT, 2000);
}

/* -- file: ------------------------------------------------------------------ */

static int child_file_check(int argc, char **argv)
{
	shmkit_seg *s;

	if (argc < 1 || shmkit_attach(argv[0], NULL, &s) < 0)
		return 3;
	if (shmkit_size(s) != 12345 || strcmp(shmkit_addr(s), "kept") != 0)
		return 4;
	return shmkit_detach(s) == 0 ? 0 : 5;
}

static void test_file_persistent(void)
{
	const char *p = tmp_path("persist");
	shmkit_seg *a;
	shmkit_info info;

	ASSERT_OK(shmkit_create(p, 12345, NULL, &a));
	ASSERT_EQ(shmkit_backend_of(a), SHMKIT_BACKEND_FILE);
	strcpy(shmkit_addr(a), "kept");
	ASSERT_ERR(shmkit_create(p, 10, NULL, &a), EEXIST);
	ASSERT_OK(shmkit_detach(a));
	/* Nobody holds it now; another process finds it as it was. */
	ASSERT_EQ(wt_wait(wt_spawn("file_check", p), 20000, "file_check"), 0);
	ASSERT_OK(shmkit_stat(p, &info));
	ASSERT_EQ(info.size, 12345);
	ASSERT_EQ(info.backend, SHMKIT_BACKEND_FILE);
	ASSERT_EQ(shmkit_in_use(p), 0);
	ASSERT_OK(shmkit_attach(p, NULL, &a));
	ASSERT_EQ(shmkit_in_use(p), 1);
	/* Grow and shrink with the one handle there is. */
	ASSERT_OK(shmkit_resize(a, 1 << 20));
	ASSERT_EQ(shmkit_size(a), 1 << 20);
	ASSERT(strcmp(shmkit_addr(a), "kept") == 0);
	((char *)shmkit_addr(a))[(1 << 20) - 1] = 'z';
	ASSERT_OK(shmkit_resize(a, 100));
	ASSERT_EQ(shmkit_size(a), 100);
	ASSERT(strcmp(shmkit_addr(a), "kept") == 0);
	ASSERT_OK(shmkit_destroy(a));
	ASSERT_ERR(shmkit_attach(p, NULL, &a), ENOENT);
	ASSERT_ERR(shmkit_unlink(p), ENOENT);
}

static int child_file_hold(int argc, char **argv)
{
	shmkit_opts o = {.flags = SHMKIT_F_EPHEMERAL};
	shmkit_seg *s;

	if (argc < 1 || shmkit_create(argv[0], 4096, &o, &s) < 0)
		return 3;
	strcpy(shmkit_addr(s), "R");
	Sleep(30000);
	return 0;
}

/* An ephemeral file: segment goes with its last user, a killed one too. */
static void test_file_ephemeral(void)
{
	const char *p = tmp_path("eph");
	shmkit_opts o = {.flags = SHMKIT_F_EPHEMERAL};
	shmkit_seg *a, *b = NULL;
	HANDLE h;

	ASSERT_OK(shmkit_create(p, 4096, &o, &a));
	ASSERT_OK(shmkit_attach(p, NULL, &b));
	ASSERT_OK(shmkit_detach(a));
	ASSERT_OK(shmkit_detach(b));
	WT_UNTIL(shmkit_attach(p, NULL, &b) == -ENOENT, 2000);

	h = wt_spawn("file_hold", p);
	WT_UNTIL(shmkit_stat(p, &(shmkit_info){0}) == 0, 20000);
	wt_kill(h);
	WT_UNTIL(shmkit_attach(p, NULL, &b) == -ENOENT, 5000);
}

static void test_file_bad(void)
{
	char dir[MAX_PATH + 8], empty[MAX_PATH + 64];
	shmkit_seg *a;
	HANDLE f;

	(void)tmp_path("x");
	snprintf(dir, sizeof(dir), "file:%s", tmpdir);
	ASSERT_ERR(shmkit_attach(dir, NULL, &a), ENODEV);
	ASSERT_ERR(shmkit_attach(tmp_path("none"), NULL, &a), ENOENT);
	snprintf(empty, sizeof(empty), "%s\\nodir\\x", tmpdir);
	{
		char spec[MAX_PATH + 80];

		snprintf(spec, sizeof(spec), "file:%s", empty);
		ASSERT_ERR(shmkit_create(spec, 4096, NULL, &a), ENOENT);
	}
	/* A file of no size has nothing to map. */
	snprintf(empty, sizeof(empty), "%s\\empty", tmpdir);
	f = CreateFileA(empty, GENERIC_WRITE, 0, NULL, CREATE_NEW, 0, NULL);
	ASSERT(f != INVALID_HANDLE_VALUE);
	CloseHandle(f);
	ASSERT_ERR(shmkit_attach(tmp_path("empty"), NULL, &a), ENODATA);
	ASSERT(DeleteFileA(empty));
}

/* -- Introspection ------------------------------------------------------------ */

struct find {
	const char *spec;
	uint64_t size;
	int seen;
};

static int find_cb(const shmkit_info *info, void *arg)
{
	struct find *f = arg;

	if (strcmp(info->spec, f->spec) == 0) {
		f->seen++;
		f->size = info->size;
	}
	return 0;
}

static void test_list_stat(void)
{
	const char *n = wt_name("win:shmkit-ls");
	struct find f = {.spec = n};
	shmkit_info info;
	shmkit_seg *a;
	int r;

	ASSERT_OK(shmkit_create(n, 777, NULL, &a));
	r = shmkit_list(0, find_cb, &f);
	ASSERT(r >= 1);
	ASSERT_EQ(f.seen, 1);
	ASSERT_EQ(f.size, 777);
	ASSERT_OK(shmkit_stat(n, &info));
	ASSERT_EQ(info.size, 777);
	ASSERT_EQ(info.backend, SHMKIT_BACKEND_WIN);
	ASSERT(info.flags & SHMKIT_INFO_EPHEMERAL);
	ASSERT_EQ(shmkit_in_use(n), 1);
	ASSERT_ERR(shmkit_who(n, NULL, 0), ENOTSUP);
	ASSERT_OK(shmkit_destroy(a));
	ASSERT_ERR(shmkit_stat(n, &info), ENOENT);
	ASSERT_ERR(shmkit_in_use(n), ENOENT);
	f.seen = 0;
	ASSERT(shmkit_list(0, find_cb, &f) >= 0);
	ASSERT_EQ(f.seen, 0);
	ASSERT_EQ(shmkit_gc(NULL, 0, NULL, NULL), 0);
	ASSERT_ERR(shmkit_list(0, NULL, NULL), EINVAL);
}

/* -- Bad input: a clear error, nothing made ------------------------------------- */

static void test_bad_input(void)
{
	const char *n = wt_name("win:shmkit-bad");
	shmkit_opts huge = {.flags = SHMKIT_F_HUGE};
	shmkit_opts nores = {.flags = SHMKIT_F_NORESERVE};
	shmkit_opts seal = {.flags = SHMKIT_F_SEAL};
	shmkit_opts group = {.flags = SHMKIT_F_GROUP};
	shmkit_opts owner = {.flags = SHMKIT_F_OWNER};
	shmkit_seg *a;
	HANDLE ev;
	WCHAR wn[256];
	int r;

	ASSERT_ERR(shmkit_create(n, 0, NULL, &a), EINVAL);
	ASSERT_ERR(shmkit_create(n, 4096, &huge, &a), ENOTSUP);
	ASSERT_ERR(shmkit_create(n, 4096, &nores, &a), ENOTSUP);
	ASSERT_ERR(shmkit_create(n, 4096, &seal, &a), EINVAL);
	ASSERT_ERR(shmkit_create(n, 4096, &group, &a), ENOTSUP);
	ASSERT_ERR(shmkit_create("win:a\\b", 4096, NULL, &a), EINVAL);
	ASSERT_ERR(shmkit_create("posix:/x", 4096, NULL, &a), ENOTSUP);
	ASSERT_ERR(shmkit_create("sysv:0x1234", 4096, NULL, &a), ENOTSUP);
	ASSERT_ERR(shmkit_create("memfd:x", 4096, NULL, &a), ENOTSUP);
	/* More than the commit limit can back: refused at create. */
	r = shmkit_create(n, (size_t)1 << 46, NULL, &a);
	if (r != -ENOSPC && r != -ENOMEM)
		FAIL_("64 TiB create: expected -ENOSPC or -ENOMEM, got %d (%s)",
			 r, shmkit_err_name(r));
	ASSERT_ERR(shmkit_attach(n, NULL, &a), ENOENT); /* nothing made */
	ASSERT_OK(shmkit_create(n, 4096, NULL, &a));
	ASSERT_ERR(shmkit_resize(a, 8192), ENOTSUP);
	ASSERT_ERR(shmkit_attach(n, &owner, &(shmkit_seg *){0}), ENOTSUP);
	ASSERT_OK(shmkit_destroy(a));
	ASSERT_ERR(shmkit_unlink(n), ENOTSUP);
	/* A name taken by another kind of object is not a segment. */
	MultiByteToWideChar(CP_UTF8, 0, n + 4, -1, wn + 6, 250);
	memcpy(wn, L"Local\\", 6 * sizeof(WCHAR));
	ev = CreateEventW(NULL, TRUE, FALSE, wn);
	ASSERT(ev != NULL);
	r = shmkit_attach(n, NULL, &a);
	ASSERT(r == -ENODEV || r == -ENOENT);
	ASSERT_ERR(shmkit_create(n, 4096, NULL, &a), EEXIST);
	CloseHandle(ev);
	ASSERT_ERR(shmkit_send_fd(0, NULL), ENOTSUP);
}

static void test_errors_text(void)
{
	ASSERT(strcmp(shmkit_err_name(-ETIMEDOUT), "ETIMEDOUT") == 0);
	ASSERT(strcmp(shmkit_err_name(-EOWNERDEAD), "EOWNERDEAD") == 0);
	ASSERT(strcmp(shmkit_err_name(-EUSERS), "EUSERS") == 0);
	ASSERT(strcmp(shmkit_strerror(-ECONNRESET), "Connection reset by peer") == 0);
	ASSERT(strcmp(shmkit_strerror(-ENOTSUP),
		      "operation not supported by this backend") == 0);
	ASSERT(strcmp(shmkit_err_name(12345), "UNKNOWN") == 0);
}

static void cleanup(void)
{
	if (tmpdir[0])
		RemoveDirectoryA(tmpdir);
}

static const wt_case cases[] = {
	{"create_attach", test_create_attach},
	{"sizes", test_sizes},
	{"foreign_and_forged", test_foreign_and_forged},
	{"rdonly", test_rdonly},
	{"perms", test_perms},
	{"two_processes", test_two_processes},
	{"killed_creator", test_killed_creator},
	{"file_persistent", test_file_persistent},
	{"file_ephemeral", test_file_ephemeral},
	{"file_bad", test_file_bad},
	{"list_stat", test_list_stat},
	{"bad_input", test_bad_input},
	{"errors_text", test_errors_text},
	{"cleanup", cleanup},
};
static const wt_child children[] = {
	{"answer", child_answer},
	{"hold", child_hold},
	{"file_check", child_file_check},
	{"file_hold", child_file_hold},
};

WT_MAIN(cases, children)
