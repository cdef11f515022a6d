/*
 * test_win_sec.c: the namespace and the access of a segment's helper
 * objects on Windows: the kernel mutex behind a shmkit_mutex, a channel's
 * semaphores and event (src/win/views.c, shmkit__win_sa_derive).
 *
 * What is checked is what wine lets us observe: the names the objects get
 * (opened by name in the namespace they must be in, and not found in the
 * other) and the DACLs they carry (GetSecurityInfo). Wine runs every
 * process in one session as one user, so it shows neither that a Local\
 * object is invisible to another session nor that a DACL refuses another
 * user; that a DACL lists the right SIDs with the right rights is what
 * such a refusal follows from on Windows.
 */
#include "wtest.h"
#include "shmkit/chan.h"
#include "shmkit/heap.h"
#include "chan/chan_int.h"
#include "win/win_int.h"

#include <aclapi.h>
#include <sddl.h>
#include <stdbool.h>

/* -- DACLs -------------------------------------------------------------- */

enum kind { MUTEX, SEM, EVENT };

/* The named object's DACL (LocalFree *sd), opened for READ_CONTROL only. */
static PACL dacl_of(const char *name, enum kind k, PSECURITY_DESCRIPTOR *sd)
{
	WCHAR w[128];
	PACL acl = NULL;
	HANDLE h;
	DWORD e;

	MultiByteToWideChar(CP_UTF8, 0, name, -1, w, 128);
	h = k == MUTEX ? OpenMutexW(READ_CONTROL, FALSE, w)
	    : k == SEM ? OpenSemaphoreW(READ_CONTROL, FALSE, w)
		       : OpenEventW(READ_CONTROL, FALSE, w);
	if (!h)
		FAIL_("open %s: error %lu", name, GetLastError());
	e = GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION,
			    NULL, NULL, &acl, NULL, sd);
	CloseHandle(h);
	if (e != ERROR_SUCCESS)
		FAIL_("GetSecurityInfo %s: error %lu", name, e);
	ASSERT(acl); /* never a NULL DACL: that would let anyone in */
	return acl;
}

/* What the DACL's allow ACEs give sid (0: nothing). */
static DWORD granted(PACL acl, PSID sid)
{
	DWORD m = 0;

	for (DWORD i = 0; i < acl->AceCount; i++) {
		ACCESS_ALLOWED_ACE *a;

		ASSERT(GetAce(acl, i, (void **)&a));
		if (a->Header.AceType == ACCESS_ALLOWED_ACE_TYPE &&
		    EqualSid(&a->SidStart, sid))
			m |= a->Mask;
	}
	return m;
}

static union {
	SID sid;
	unsigned char buf[SECURITY_MAX_SID_SIZE];
} world_, system_;
static union {
	TOKEN_USER tu;
	unsigned char buf[256];
} me_;

static void sids(void)
{
	static bool done;
	DWORD n = sizeof(world_), len = 0;
	HANDLE tok;

	if (done)
		return;
	done = true;

	ASSERT(CreateWellKnownSid(WinWorldSid, NULL, &world_, &n));
	n = sizeof(system_);
	ASSERT(CreateWellKnownSid(WinLocalSystemSid, NULL, &system_, &n));
	ASSERT(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
	ASSERT(GetTokenInformation(tok, TokenUser, &me_, sizeof(me_), &len));
	CloseHandle(tok);
}

/*
 * Whether the segment of spec, made with mode, lets Everyone write. A
 * win: section keeps the DACL shmkit gave it (0666: yes; 0644, 0600: no).
 * A file keeps whatever the file system keeps: wine keeps no DACL on a
 * file but derives one from the Unix mode, which the umask cut, so the
 * file's own DACL is asked (and a difference from the mode reported).
 */
static bool everyone_writes(const char *spec, unsigned mode)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PACL acl = NULL;
	DWORD e, m;
	bool w;

	if (strncmp(spec, "file:", 5) != 0)
		return mode & 022;
	sids();
	e = GetNamedSecurityInfoA(spec + 5, SE_FILE_OBJECT,
				  DACL_SECURITY_INFORMATION, NULL, NULL, &acl,
				  NULL, &sd);
	if (e != ERROR_SUCCESS)
		FAIL_("GetNamedSecurityInfo %s: error %lu", spec + 5, e);
	m = acl ? granted(acl, &world_) : GENERIC_ALL;
	w = m & (FILE_WRITE_DATA | GENERIC_WRITE | GENERIC_ALL);
	if (w != !!(mode & 022))
		printf("   (file made with mode %03o: its DACL lets Everyone "
		       "%s: the helper objects follow the file)\n",
		       mode, w ? "write" : "only read");
	LocalFree(sd);
	return w;
}

/*
 * The DACL of a helper object of a segment: the creator and SYSTEM get
 * everything; Everyone gets use iff the segment lets Everyone write, else
 * nothing; no other SID appears.
 */
static void check_dacl(const char *name, enum kind k, bool writers, DWORD use)
{
	PSECURITY_DESCRIPTOR sd = NULL;
	PACL acl = (sids(), dacl_of(name, k, &sd));
	DWORD all = k == MUTEX ? MUTEX_ALL_ACCESS
		    : k == SEM ? SEMAPHORE_ALL_ACCESS
			       : EVENT_ALL_ACCESS;
	DWORD ev = granted(acl, &world_);

	ASSERT_EQ(granted(acl, me_.tu.User.Sid) & all, all);
	ASSERT_EQ(granted(acl, &system_) & all, all);
	if (writers) {
		ASSERT_EQ(ev, use);
		ASSERT_EQ(acl->AceCount, 3);
	} else {
		ASSERT_EQ(ev, 0);
		ASSERT_EQ(acl->AceCount, 2);
	}
	LocalFree(sd);
}

/* -- Names -------------------------------------------------------------- */

/* Whether a mutex, semaphore or event of that name exists now. */
static bool exists(const char *name, enum kind k)
{
	WCHAR w[128];
	HANDLE h;

	MultiByteToWideChar(CP_UTF8, 0, name, -1, w, 128);
	h = k == MUTEX ? OpenMutexW(SYNCHRONIZE, FALSE, w)
	    : k == SEM ? OpenSemaphoreW(SYNCHRONIZE, FALSE, w)
		       : OpenEventW(SYNCHRONIZE, FALSE, w);
	if (!h) {
		ASSERT_EQ(GetLastError(), ERROR_FILE_NOT_FOUND);
		return false;
	}
	CloseHandle(h);
	return true;
}

/* The same name in the other namespace. */
static const char *other_ns(const char *name)
{
	static char buf[160];

	if (strncmp(name, "Global\\", 7) == 0)
		snprintf(buf, sizeof(buf), "Local\\%s", name + 7);
	else if (strncmp(name, "Local\\", 6) == 0)
		snprintf(buf, sizeof(buf), "Global\\%s", name + 6);
	else
		FAIL_("%s has no namespace", name);
	return buf;
}

/* A file: spec in the temporary directory. */
static const char *file_spec(void)
{
	static char buf[2][MAX_PATH + 16];
	static unsigned n;
	char dir[MAX_PATH];
	char *b = buf[n++ % 2];

	ASSERT(GetTempPathA(sizeof(dir), dir));
	snprintf(b, sizeof(buf[0]), "file:%s%s", dir, wt_name("shmkit-sec"));
	return b;
}

/*
 * The mutex at the start of a new segment, locked (so that its kernel
 * object exists): it lives in want_ns, not in the other namespace, and
 * its DACL follows mode.
 */
static void mutex_in(const char *spec, unsigned mode, const char *want_ns)
{
	shmkit_opts o = {.mode = mode};
	char name[96];
	shmkit_seg *s;
	shmkit_mutex *m;

	ASSERT_OK(shmkit_create(spec, 4096, &o, &s));
	m = shmkit_addr(s);
	ASSERT_OK(shmkit_mutex_init(m));
	ASSERT_EQ(shmkit__win_mutex_name(m, name, sizeof(name)), 1);
	ASSERT(strncmp(name, want_ns, strlen(want_ns)) == 0);
	ASSERT(!exists(name, MUTEX)); /* made at first use */
	ASSERT_OK(shmkit_mutex_lock(m));
	ASSERT(exists(name, MUTEX));
	ASSERT(!exists(other_ns(name), MUTEX));
	check_dacl(name, MUTEX, everyone_writes(spec, mode),
		   SYNCHRONIZE | MUTEX_MODIFY_STATE);
	ASSERT_OK(shmkit_mutex_unlock(m));
	ASSERT_OK(shmkit_mutex_destroy(m));
	ASSERT_OK(shmkit_destroy(s));
}

static void test_mutex_global_segment(void)
{
	mutex_in(wt_name("win:Global\\shmkit-sec"), 0600, "Global\\shmkit.mx.");
	mutex_in(wt_name("win:Global\\shmkit-sec"), 0644, "Global\\shmkit.mx.");
	mutex_in(wt_name("win:Global\\shmkit-sec"), 0666, "Global\\shmkit.mx.");
}

static void test_mutex_local_segment(void)
{
	mutex_in(wt_name("win:shmkit-sec"), 0600, "Local\\shmkit.mx.");
	mutex_in(wt_name("win:shmkit-sec"), 0644, "Local\\shmkit.mx.");
	mutex_in(wt_name("win:shmkit-sec"), 0666, "Local\\shmkit.mx.");
	mutex_in(wt_name("win:Local\\shmkit-sec"), 0666, "Local\\shmkit.mx.");
}

/* file: segments are shared by path across sessions: Global\ too. */
static void test_mutex_file_segment(void)
{
	mutex_in(file_spec(), 0600, "Global\\shmkit.mx.");
	mutex_in(file_spec(), 0644, "Global\\shmkit.mx.");
	mutex_in(file_spec(), 0666, "Global\\shmkit.mx.");
}

/*
 * A file whose DACL is changed to let Everyone write after it was made:
 * a mutex first opened afterwards follows the file as it is then (here
 * also what shows the file case of "writers get use" under wine, whose
 * umask takes the 022 bits off a new file).
 */
static void test_mutex_file_dacl_changed(void)
{
	const char *spec = file_spec();
	shmkit_opts o = {.mode = 0600};
	PSECURITY_DESCRIPTOR sd;
	BOOL present, dflt;
	PACL acl;
	char name[96];
	shmkit_seg *s;
	shmkit_mutex *m;

	ASSERT_OK(shmkit_create(spec, 4096, &o, &s));
	m = shmkit_addr(s);
	ASSERT_OK(shmkit_mutex_init(m));
	ASSERT(ConvertStringSecurityDescriptorToSecurityDescriptorA(
		"D:(A;;FA;;;SY)(A;;FA;;;OW)(A;;FRFW;;;WD)", SDDL_REVISION_1, &sd,
		NULL));
	ASSERT(GetSecurityDescriptorDacl(sd, &present, &acl, &dflt));
	ASSERT_EQ(SetNamedSecurityInfoA((char *)spec + 5, SE_FILE_OBJECT,
					DACL_SECURITY_INFORMATION, NULL, NULL,
					acl, NULL),
		  ERROR_SUCCESS);
	LocalFree(sd);
	ASSERT_EQ(shmkit__win_mutex_name(m, name, sizeof(name)), 1);
	ASSERT_OK(shmkit_mutex_lock(m));
	check_dacl(name, MUTEX, everyone_writes(spec, 0666),
		   SYNCHRONIZE | MUTEX_MODIFY_STATE);
	ASSERT_OK(shmkit_mutex_unlock(m));
	ASSERT_OK(shmkit_mutex_destroy(m));
	ASSERT_OK(shmkit_destroy(s));
}

/* In memory that is no segment: Local\, creator and SYSTEM only. */
static void test_mutex_outside_segments(void)
{
	shmkit_mutex *m = calloc(1, sizeof(*m));
	char name[96];

	ASSERT(m);
	ASSERT_OK(shmkit_mutex_init(m));
	ASSERT_EQ(shmkit__win_mutex_name(m, name, sizeof(name)), 0);
	ASSERT(strncmp(name, "Local\\shmkit.mx.", 16) == 0);
	ASSERT_OK(shmkit_mutex_lock(m));
	ASSERT(exists(name, MUTEX));
	ASSERT(!exists(other_ns(name), MUTEX));
	check_dacl(name, MUTEX, false, 0);
	ASSERT_OK(shmkit_mutex_unlock(m));
	ASSERT_OK(shmkit_mutex_destroy(m));
	free(m);
}

/*
 * Detach forgets the segment: its range is no segment any more, and a
 * segment mapped there next is known as what it is.
 */
static void test_registry_forgets_at_detach(void)
{
	shmkit_seg *g, *l;
	void *at;
	bool global = true;
	int tries = 0;

	ASSERT_OK(shmkit_create(wt_name("win:Global\\shmkit-sec"), 65536, NULL, &g));
	at = shmkit_addr(g);
	ASSERT_EQ(shmkit__win_view_lookup((char *)at + 100, 0, 0, NULL, &global), 1);
	ASSERT(global);
	ASSERT_OK(shmkit_detach(g));
	ASSERT_EQ(shmkit__win_view_lookup((char *)at + 100, 0, 0, NULL, &global), 0);
	ASSERT(!global);
	/* Windows hands the freed range out again, as a rule at once. */
	do {
		ASSERT_OK(shmkit_create(wt_name("win:shmkit-sec"), 65536, NULL, &l));
		if (shmkit_addr(l) == at)
			break;
		ASSERT_OK(shmkit_destroy(l));
		l = NULL;
	} while (++tries < 8);
	if (!l) {
		printf("   (no segment came back at %p: the reuse is not checked)\n", at);
		return;
	}
	ASSERT_EQ(shmkit__win_view_lookup((char *)at + 100, 0, 0, NULL, &global), 1);
	ASSERT(!global);
	ASSERT_OK(shmkit_destroy(l));
}

/* A file: segment's view follows a resize that moves it. */
static void test_registry_follows_resize(void)
{
	const char *spec = file_spec();
	shmkit_seg *s;
	bool global = false;
	void *old;

	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	old = shmkit_addr(s);
	ASSERT_OK(shmkit_resize(s, 1 << 22));
	ASSERT_EQ(shmkit__win_view_lookup((char *)shmkit_addr(s) + (1 << 21),
					  0, 0, NULL, &global), 1);
	ASSERT(global);
	if (shmkit_addr(s) != old)
		ASSERT_EQ(shmkit__win_view_lookup(old, 0, 0, NULL, &global), 0);
	ASSERT_OK(shmkit_destroy(s));
	ASSERT_EQ(shmkit__win_view_lookup(old, 0, 0, NULL, &global), 0);
}

/*
 * A growing file: heap maps its new parts with views of their own: a
 * mutex allocated in one is the file's (Global\), and the registry drops
 * the parts with the heap.
 */
static void test_registry_heap_parts(void)
{
	shmkit_heap_opts o = {.max_size = 1 << 24};
	const char *spec = file_spec();
	shmkit_heap *h;
	shmkit_ref r;
	shmkit_mutex *m = NULL;
	void *base = NULL;
	char name[96];
	bool global = false;

	ASSERT_OK(shmkit_heap_create(spec, 1 << 16, &o, &h));
	base = shmkit_addr(shmkit_heap_seg(h));
	/* Allocate until a block lies outside the segment's own view. */
	for (int i = 0; i < 64 && !m; i++) {
		char *p;

		ASSERT_OK(shmkit_heap_alloc(h, 60000, &r));
		p = shmkit_heap_ptr(h, r);
		if ((uintptr_t)p - (uintptr_t)base >= shmkit_size(shmkit_heap_seg(h)))
			m = (shmkit_mutex *)(void *)p;
	}
	ASSERT(m);
	ASSERT_EQ(shmkit__win_view_lookup(m, 0, 0, NULL, &global), 1);
	ASSERT(global);
	ASSERT_OK(shmkit_mutex_init(m));
	ASSERT_EQ(shmkit__win_mutex_name(m, name, sizeof(name)), 1);
	ASSERT(strncmp(name, "Global\\shmkit.mx.", 17) == 0);
	ASSERT_OK(shmkit_mutex_lock(m));
	ASSERT(exists(name, MUTEX));
	ASSERT_OK(shmkit_mutex_unlock(m));
	ASSERT_OK(shmkit_mutex_destroy(m));
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT_EQ(shmkit__win_view_lookup(base, 0, 0, NULL, &global), 0);
	ASSERT_EQ(shmkit__win_view_lookup(m, 0, 0, NULL, &global), 0);
	ASSERT(GetFileAttributesA(spec + 5) == INVALID_FILE_ATTRIBUTES);
}

/* -- Two processes contend on a mutex of a Global\ or file: segment --------- */

#define ROUNDS 1000

struct shared {
	shmkit_mutex m;
	volatile LONG flag;
	volatile LONG counter;
};

static int child_count(int argc, char **argv)
{
	struct shared *sh;
	shmkit_seg *s;
	int r;

	(void)argc;
	if ((r = shmkit_attach(argv[0], NULL, &s)) < 0) {
		fprintf(stderr, "child: attach %s: %s\n", argv[0],
			shmkit_err_name(r));
		return 3;
	}
	sh = shmkit_addr(s);
	InterlockedIncrement(&sh->flag);
	while (sh->flag < 2)
		Sleep(0);
	for (int i = 0; i < ROUNDS; i++) {
		LONG v;
		if (shmkit_mutex_lock(&sh->m) != 0)
			return 4;
		v = sh->counter;
		if (i % 7 == 0)
			Sleep(0);
		sh->counter = v + 1;
		if (shmkit_mutex_unlock(&sh->m) != 0)
			return 5;
	}
	shmkit_detach(s);
	return 0;
}

static void contend(const char *spec)
{
	shmkit_seg *s;
	struct shared *sh;
	HANDLE c;

	ASSERT_OK(shmkit_create(spec, sizeof(*sh), NULL, &s));
	sh = shmkit_addr(s);
	ASSERT_OK(shmkit_mutex_init(&sh->m));
	c = wt_spawn("count", spec);
	WT_UNTIL(sh->flag == 1, 20000);
	InterlockedIncrement(&sh->flag);
	for (int i = 0; i < ROUNDS; i++) {
		LONG v;
		ASSERT_EQ(shmkit_mutex_lock(&sh->m), 0);
		v = sh->counter;
		if (i % 5 == 0)
			Sleep(0);
		sh->counter = v + 1;
		ASSERT_EQ(shmkit_mutex_unlock(&sh->m), 0);
	}
	ASSERT_EQ(wt_wait(c, 60000, "count"), 0);
	ASSERT_EQ(sh->counter, 2 * ROUNDS);
	ASSERT_OK(shmkit_mutex_destroy(&sh->m));
	ASSERT_OK(shmkit_destroy(s));
}

static void test_contend_global(void)
{
	contend(wt_name("win:Global\\shmkit-sec"));
}

static void test_contend_file(void)
{
	contend(file_spec());
}

/* -- Channels ----------------------------------------------------------- */

/* The semaphore of the reader's side and the event: namespace and DACL. */
static void chan_in(const char *spec, unsigned mode, const char *ns)
{
	shmkit_chan_opts co = {
		.kind = SHMKIT_CHAN_SPSC,
		.role = SHMKIT_CHAN_READER,
		.capacity = 4096,
		.max_msg = 256,
		.mode = mode,
	};
	char sem[96], evn[96], buf[8];
	shmkit_chan *r;
	void *ev;
	uint32_t alen, i;

	ASSERT_OK(shmkit_chan_create(spec, &co, &r));
	snprintf(sem, sizeof(sem), "%sshmkit.c%016llx.r", ns,
		 (unsigned long long)r->h->meta.wake_id);
	ASSERT_OK(shmkit_chan_set_wait(r, SHMKIT_CHAN_BLOCK, 0));
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(20)),
		   ETIMEDOUT);
	ASSERT(exists(sem, SEM));
	ASSERT(!exists(other_ns(sem), SEM));
	check_dacl(sem, SEM, everyone_writes(spec, mode),
		   SYNCHRONIZE | SEMAPHORE_MODIFY_STATE);

	ASSERT_OK(shmkit_chan_win_event(r, &ev));
	alen = r->me->addr_len;
	ASSERT(alen > 8 && alen + strlen(ns) < sizeof(evn));
	strcpy(evn, ns);
	for (i = 1; i < alen; i++)
		evn[strlen(ns) + i - 1] = (char)r->me->addr[i];
	evn[strlen(ns) + alen - 1] = '\0';
	ASSERT(exists(evn, EVENT));
	ASSERT(!exists(other_ns(evn), EVENT));
	check_dacl(evn, EVENT, everyone_writes(spec, mode),
		   SYNCHRONIZE | EVENT_MODIFY_STATE);
	ASSERT_OK(shmkit_chan_destroy(r));
}

static void test_chan_objects(void)
{
	chan_in(wt_name("win:Global\\shmkit-sec"), 0600, "Global\\");
	chan_in(wt_name("win:Global\\shmkit-sec"), 0644, "Global\\");
	chan_in(wt_name("win:Global\\shmkit-sec"), 0666, "Global\\");
	chan_in(wt_name("win:shmkit-sec"), 0666, "Local\\");
	chan_in(wt_name("win:shmkit-sec"), 0644, "Local\\");
	chan_in(file_spec(), 0666, "Global\\");
	chan_in(file_spec(), 0600, "Global\\");
}

static const wt_case cases[] = {
	{"mutex_global_segment", test_mutex_global_segment},
	{"mutex_local_segment", test_mutex_local_segment},
	{"mutex_file_segment", test_mutex_file_segment},
	{"mutex_file_dacl_changed", test_mutex_file_dacl_changed},
	{"mutex_outside_segments", test_mutex_outside_segments},
	{"registry_forgets_at_detach", test_registry_forgets_at_detach},
	{"registry_follows_resize", test_registry_follows_resize},
	{"registry_heap_parts", test_registry_heap_parts},
	{"contend_global", test_contend_global},
	{"contend_file", test_contend_file},
	{"chan_objects", test_chan_objects},
};

static const wt_child children[] = {
	{"count", child_count},
};

WT_MAIN(cases, children)
