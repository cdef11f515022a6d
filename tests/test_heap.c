/*
 * test_heap.c: the heap's contract (include/shmkit/heap.h), one process.
 *
 * Every call and every error path it documents: create on each backend
 * (posix:, file: in a directory of the test's own, memfd:, anon:,
 * sysv:private), the sizes and flags it refuses, -EEXIST that leaves the
 * existing segment as it was; open of what is no heap (-ENOENT, -EPROTO
 * for zeros, random bytes, a header with a wrong version, byte order,
 * pointer width, size or magic); create_in/open_in inside a caller's
 * segment; the allocators (alignment really honoured, every bad argument);
 * free of everything that is not a live block (-EINVAL, changing nothing)
 * and of a named object (-EBUSY); ptr/ref/usable; named objects; growth
 * to max_size and the figures shmkit_heap_stat() reports on the way; check
 * finding a corrupted block; destroy leaving nothing behind, and failing
 * calls leaving no descriptor, mapping or System V segment behind.
 *
 * The header layout (heap/heap_int.h) is used only to find the fields a
 * case forges (version, byte order, ...) and a block's header, which the
 * corruption cases scribble on; every expectation comes from heap.h.
 *
 * SHMKIT_HEAP_SEED sets the random seed (printed, so a failure replays).
 */
#include "heap_test.h"
#include "heap/heap_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* -- helpers --------------------------------------------------------------- */

static void fill(void *p, size_t n, uint64_t seed)
{
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = pat(seed, i);
}

/* Index of the first byte that is not the pattern, or n. */
static size_t bad_at(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(seed, i))
			return i;
	return n;
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* A directory of the test's own for file: heaps. */
static char tmpdir[64];

static const char *fspec(const char *tag)
{
	static char buf[8][160];
	static unsigned k, n;
	char *s = buf[k++ % 8];
	snprintf(s, sizeof(buf[0]), "file:%s/%s-%u", tmpdir, tag, n++);
	return s;
}

static shmkit_heap *mk(const char *spec, size_t size, uint64_t max)
{
	shmkit_heap_opts o;
	shmkit_heap *h = NULL;
	int r;

	memset(&o, 0, sizeof(o));
	o.max_size = max;
	r = shmkit_heap_create(spec, size, &o, &h);
	if (r < 0)
		FAIL_("shmkit_heap_create(%s, %zu, max %llu): %s", spec, size,
		      (unsigned long long)max, shmkit_strerror(r));
	ASSERT(h != NULL);
	return h;
}

#define check_ok(h, when) check_ok_((h), (when), __LINE__)

/* The figures every stat must satisfy, whatever the heap holds. */
static void stat_sane_(const shmkit_heap_info *in, int line)
{
	if (in->size > in->max_size || in->parts < 1 || in->parts > 64 ||
	    in->used + in->free > in->size || in->largest_free > in->free ||
	    in->named > in->allocations || in->lost_bytes > in->size ||
	    in->cached > in->size)
		FAIL_("(line %d) stat does not add up: size %llu max %llu parts "
		      "%u used %llu free %llu largest %llu allocations %llu "
		      "named %llu cached %llu lost %llu",
		      line, (unsigned long long)in->size,
		      (unsigned long long)in->max_size, in->parts,
		      (unsigned long long)in->used, (unsigned long long)in->free,
		      (unsigned long long)in->largest_free,
		      (unsigned long long)in->allocations,
		      (unsigned long long)in->named,
		      (unsigned long long)in->cached,
		      (unsigned long long)in->lost_bytes);
}
#define stat_sane(in) stat_sane_((in), __LINE__)

/* The header and the part sentinels: what is neither used nor free. A
 * generous bound: the header is about 10 KiB today. */
static uint64_t overhead_bound(const shmkit_heap_info *in)
{
	return 32 * KiB + (uint64_t)in->parts * 256 + in->cached;
}

/* System V segments this process created (/proc/sysvipc/shm cpid). */
static int count_my_sysv(void)
{
	FILE *f = fopen("/proc/sysvipc/shm", "re");
	char line[512];
	int n = 0;

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f)) {
		long cpid;
		if (sscanf(line, "%*d %*d %*o %*u %ld", &cpid) == 1 &&
		    cpid == (long)getpid())
			n++;
	}
	fclose(f);
	return n;
}

static int count_all_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	int n = 0;

	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

struct snap {
	int fds, shared, all, sysv;
};

static struct snap snap(void)
{
	struct snap s;
	s.fds = test_count_fds();
	s.shared = test_count_shared_maps();
	s.all = SANITIZED ? 0 : count_all_maps();
	s.sysv = count_my_sysv();
	return s;
}

static void same_snap_(struct snap a, const char *what, int line)
{
	struct snap b = snap();
	if (a.fds != b.fds || a.shared != b.shared || a.all != b.all ||
	    a.sysv != b.sysv)
		FAIL_("(line %d) %s left something behind: fds %d -> %d, "
		      "shared mappings %d -> %d, all mappings %d -> %d, "
		      "System V segments %d -> %d",
		      line, what, a.fds, b.fds, a.shared, b.shared, a.all, b.all,
		      a.sysv, b.sysv);
}
#define same_snap(a, what) same_snap_((a), (what), __LINE__)

static int exists(const char *spec)
{
	shmkit_info info;
	int r = shmkit_stat(spec, &info);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		FAIL_("shmkit_stat(%s): %s", spec, shmkit_strerror(r));
	return 1;
}

/* A plain (non-heap) segment holding n bytes of data. */
static void plain_seg(const char *spec, size_t size, const void *data, size_t n)
{
	shmkit_seg *seg;
	ASSERT_OK(shmkit_create(spec, size, NULL, &seg));
	if (data)
		memcpy(shmkit_addr(seg), data, n);
	ASSERT_OK(shmkit_detach(seg));
}

struct blk {
	shmkit_ref ref;
	size_t size;
	void *p;
	uint64_t seed;
};

static int alloc_fill(shmkit_heap *h, struct blk *b, size_t size, uint64_t seed)
{
	shmkit_ref r = 0;
	int e = shmkit_heap_alloc(h, size, &r);
	if (e < 0)
		return e;
	ASSERT(r != 0);
	b->ref = r;
	b->size = size;
	b->seed = seed;
	b->p = shmkit_heap_ptr(h, r);
	ASSERT(b->p != NULL);
	ASSERT(((uintptr_t)b->p % SHMKIT_HEAP_ALIGN) == 0);
	ASSERT(shmkit_heap_usable(h, r) >= size);
	fill(b->p, size, seed);
	return 0;
}

static void verify_blk_(shmkit_heap *h, const struct blk *b, int line)
{
	void *p = shmkit_heap_ptr(h, b->ref);
	size_t at;

	if (p != b->p)
		FAIL_("(line %d) ref %#llx: ptr %p, was %p", line,
		      (unsigned long long)b->ref, p, b->p);
	at = bad_at(p, b->size, b->seed);
	if (at != b->size)
		FAIL_("(line %d) ref %#llx (%zu bytes): byte %zu changed", line,
		      (unsigned long long)b->ref, b->size, at);
}
#define verify_blk(h, b) verify_blk_((h), (b), __LINE__)

/* -- setup ----------------------------------------------------------------- */

/* After a failed case too: what is left in our directory, and it. */
static void tmpdir_cleanup(void)
{
	DIR *d;
	struct dirent *de;
	char path[PATH_MAX];

	if (!tmpdir[0] || !(d = opendir(tmpdir)))
		return;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
			(void)unlink(path);
		}
	closedir(d);
	(void)rmdir(tmpdir);
}

static void setup(void)
{
	const char *e = getenv("SHMKIT_HEAP_SEED");
	uint64_t seed = e ? strtoull(e, NULL, 0)
			  : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	rng_state = seed ? seed : 1;
	printf("     seed %llu (SHMKIT_HEAP_SEED)\n", (unsigned long long)seed);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/shmkit-heap-%d-XXXXXX",
		 (int)getpid());
	ASSERT(mkdtemp(tmpdir) != NULL);
	atexit(tmpdir_cleanup);
}

static void teardown(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	int left = 0;

	ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			fprintf(stderr, "left behind: %s/%s\n", tmpdir,
				de->d_name);
			left = 1;
		}
	closedir(d);
	ASSERT_EQ(rmdir(tmpdir), 0);
	tmpdir[0] = '\0';
	ASSERT(!left);
}

/* -- backends -------------------------------------------------------------- */

/*
 * One backend: create with the minimum size, stat, allocate, name, check;
 * reopen by spec where the backend has a name, and find it all there;
 * grow where it can and refuse max_size > size where it cannot; destroy.
 */
static void one_backend(const char *spec, shmkit_backend be, int growable,
			int reopen)
{
	shmkit_heap *h, *h2;
	shmkit_heap_info in;
	shmkit_heap_opts o;
	shmkit_ref r, n, r2;
	char canon[SHMKIT_SPEC_MAX];
	size_t sz;
	void *p;

	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	in = hstat(h);
	stat_sane(&in);
	ASSERT_EQ(in.size, SHMKIT_HEAP_MIN_SIZE);
	ASSERT_EQ(in.max_size, SHMKIT_HEAP_MIN_SIZE);
	ASSERT_EQ(in.parts, 1);
	ASSERT_EQ(in.allocations, 0);
	ASSERT_EQ(in.named, 0);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_EQ(in.reclaimed_bytes, 0);
	ASSERT_EQ(in.recoveries, 0);
	ASSERT_EQ(in.procs, 1);
	ASSERT(in.free + overhead_bound(&in) >= in.size);
	ASSERT(shmkit_heap_seg(h) != NULL);
	ASSERT_EQ(shmkit_backend_of(shmkit_heap_seg(h)), be);
	snprintf(canon, sizeof(canon), "%s", shmkit_spec(shmkit_heap_seg(h)));
	if (be == SHMKIT_BACKEND_POSIX || be == SHMKIT_BACKEND_FILE ||
	    be == SHMKIT_BACKEND_SYSV)
		ASSERT_EQ(shmkit_heap_probe(canon), 1);

	ASSERT_OK(shmkit_heap_alloc(h, 1000, &r));
	p = shmkit_heap_ptr(h, r);
	ASSERT(p != NULL);
	fill(p, 1000, 7);
	ASSERT_EQ(shmkit_heap_get(h, "hello", 64, &n), 1);
	memcpy(shmkit_heap_ptr(h, n), "world", 6);
	check_ok(h, "after alloc and get");
	in = hstat(h);
	ASSERT_EQ(in.allocations, 2);
	ASSERT_EQ(in.named, 1);

	if (reopen) {
		ASSERT_OK(shmkit_heap_close(h));
		ASSERT_OK(shmkit_heap_open(canon, 0, &h));
		ASSERT_OK(shmkit_heap_find(h, "hello", &r2, &sz));
		ASSERT_EQ(r2, n);
		ASSERT_EQ(sz, 64);
		ASSERT(!strcmp(shmkit_heap_ptr(h, n), "world"));
		ASSERT_EQ(bad_at(shmkit_heap_ptr(h, r), 1000, 7), 1000);
		/* A second handle in the same process sees the same. */
		ASSERT_OK(shmkit_heap_open(canon, 0, &h2));
		ASSERT_EQ(bad_at(shmkit_heap_ptr(h2, r), 1000, 7), 1000);
		ASSERT_OK(shmkit_heap_free(h2, r));
		ASSERT(shmkit_heap_ptr(h, r) == NULL);
		ASSERT_OK(shmkit_heap_close(h2));
		check_ok(h, "after reopen");
	} else {
		ASSERT_OK(shmkit_heap_free(h, r));
	}
	ASSERT_OK(shmkit_heap_destroy(h));
	if (be == SHMKIT_BACKEND_POSIX || be == SHMKIT_BACKEND_FILE)
		ASSERT(!exists(canon));

	/* Growth where the backend allows it; -EINVAL where not. */
	memset(&o, 0, sizeof(o));
	o.max_size = 1 * MiB;
	h = (shmkit_heap *)&o;
	if (!growable) {
		ASSERT_ERR(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &h),
			   EINVAL);
		ASSERT(h == (shmkit_heap *)&o);
		if (be != SHMKIT_BACKEND_SYSV && be != SHMKIT_BACKEND_ANON)
			ASSERT(!exists(spec));
		return;
	}
	ASSERT_OK(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &h));
	ASSERT_OK(shmkit_heap_alloc(h, 300 * KiB, &r));
	fill(shmkit_heap_ptr(h, r), 300 * KiB, 9);
	in = hstat(h);
	stat_sane(&in);
	ASSERT(in.parts > 1);
	ASSERT(in.size > SHMKIT_HEAP_MIN_SIZE);
	ASSERT_EQ(in.max_size, 1 * MiB);
	ASSERT_EQ(bad_at(shmkit_heap_ptr(h, r), 300 * KiB, 9), 300 * KiB);
	check_ok(h, "after growth");
	ASSERT_OK(shmkit_heap_destroy(h));
}

static void backend_posix(void)
{
	one_backend(pspec("bk"), SHMKIT_BACKEND_POSIX, 1, 1);
}

static void backend_file(void)
{
	one_backend(fspec("bk"), SHMKIT_BACKEND_FILE, 1, 1);
}

static void backend_memfd(void)
{
	shmkit_heap *h;
	int r = shmkit_heap_create("memfd:heap-probe", SHMKIT_HEAP_MIN_SIZE,
				   NULL, &h);
	if (r == -ENOSYS || r == -EOPNOTSUPP)
		SKIP("no memfd_create on this kernel");
	ASSERT_OK(r);
	ASSERT_OK(shmkit_heap_destroy(h));
	one_backend("memfd:heap-test", SHMKIT_BACKEND_MEMFD, 1, 0);
}

static void backend_anon(void)
{
	one_backend("anon:", SHMKIT_BACKEND_ANON, 0, 0);
}

static void backend_sysv(void)
{
	shmkit_heap *h;
	int r = shmkit_heap_create("sysv:private", SHMKIT_HEAP_MIN_SIZE, NULL,
				   &h);
	if (r == -ENOSYS)
		SKIP("no System V shared memory");
	ASSERT_OK(r);
	ASSERT_OK(shmkit_heap_destroy(h));
	one_backend("sysv:private", SHMKIT_BACKEND_SYSV, 0, 1);
}

/* -- create: sizes, flags, -EEXIST ----------------------------------------- */

static void create_bad_sizes(void)
{
	static const size_t bad[] = {0, 1, 4096, SHMKIT_HEAP_MIN_SIZE - 16,
				     SHMKIT_HEAP_MIN_SIZE - 1};
	const char *spec = pspec("sizes");
	shmkit_heap_opts o;
	shmkit_heap *h, *sentinel = (shmkit_heap *)&o;
	shmkit_heap_info in;
	shmkit_info si;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = sentinel;
		ASSERT_ERR(shmkit_heap_create(spec, bad[i], NULL, &h), EINVAL);
		ASSERT(h == sentinel);
		ASSERT(!exists(spec));
	}
	memset(&o, 0, sizeof(o));
	/* max_size below size */
	o.max_size = SHMKIT_HEAP_MIN_SIZE / 2;
	h = sentinel;
	ASSERT_ERR(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &h), EINVAL);
	ASSERT(h == sentinel);
	ASSERT(!exists(spec));
	o.max_size = 128 * KiB;
	ASSERT_ERR(shmkit_heap_create(spec, 256 * KiB, &o, &h), EINVAL);
	ASSERT(!exists(spec));
	/* A size the host cannot give: an error, nothing left. */
	o.max_size = 0;
	ASSERT(shmkit_heap_create(spec, (size_t)1 << 50, &o, &h) < 0);
	ASSERT(h == sentinel);
	ASSERT(!exists(spec));
	ASSERT(shmkit_heap_create(spec, SIZE_MAX - 4095, &o, &h) < 0);
	ASSERT(!exists(spec));
	/* Rounding SIZE_MAX up to a page must not wrap to a small size. */
	ASSERT(shmkit_heap_create(spec, SIZE_MAX, &o, &h) < 0);
	ASSERT(!exists(spec));
	ASSERT(h == sentinel);

	/* size rounds up to a page; max_size 0 means size. */
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE + 1, 0);
	in = hstat(h);
	ASSERT_EQ(in.size, SHMKIT_HEAP_MIN_SIZE + 4096);
	ASSERT_EQ(in.max_size, SHMKIT_HEAP_MIN_SIZE + 4096);
	ASSERT_OK(shmkit_heap_destroy(h));
	/* max_size rounds up to whole pages. */
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 16 * MiB + 100);
	in = hstat(h);
	ASSERT_EQ(in.size, SHMKIT_HEAP_MIN_SIZE);
	ASSERT_EQ(in.max_size, 16 * MiB + 4096);
	ASSERT_OK(shmkit_heap_destroy(h));
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, SHMKIT_HEAP_MIN_SIZE + 100);
	in = hstat(h);
	ASSERT_EQ(in.max_size, SHMKIT_HEAP_MIN_SIZE + 4096);
	ASSERT_OK(shmkit_heap_destroy(h));
	/* max_size equal to an unrounded size: both round to the same page. */
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE + 1, SHMKIT_HEAP_MIN_SIZE + 1);
	in = hstat(h);
	ASSERT_EQ(in.size, SHMKIT_HEAP_MIN_SIZE + 4096);
	ASSERT_EQ(in.max_size, SHMKIT_HEAP_MIN_SIZE + 4096);
	ASSERT_OK(shmkit_heap_destroy(h));

	/* mode: 0 means 0600; otherwise as given. */
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	ASSERT_OK(shmkit_stat(spec, &si));
	ASSERT_EQ(si.mode & 0777, 0600);
	ASSERT_OK(shmkit_heap_destroy(h));
	o.mode = 0640;
	ASSERT_OK(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &h));
	ASSERT_OK(shmkit_stat(spec, &si));
	ASSERT_EQ(si.mode & 0777, 0640);
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(!exists(spec));
}

static void create_bad_flags(void)
{
	static const unsigned bad[] = {SHMKIT_F_RDONLY, SHMKIT_F_OWNER,
				       SHMKIT_F_SEAL, SHMKIT_F_HUGE, 0x40000000u,
				       SHMKIT_F_PREFAULT | SHMKIT_F_RDONLY};
	const char *spec = pspec("flags");
	shmkit_heap_opts o;
	shmkit_heap *h = NULL, *sentinel = (shmkit_heap *)&o;
	size_t i;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.flags = bad[i];
		h = sentinel;
		ASSERT_ERR(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &h),
			   EINVAL);
		ASSERT(h == sentinel);
		ASSERT(!exists(spec));
	}
	o.flags = SHMKIT_F_SEAL;
	ASSERT_ERR(shmkit_heap_create("memfd:sealed", SHMKIT_HEAP_MIN_SIZE, &o,
				      &h),
		   EINVAL);
	/* The allowed ones work. */
	o.flags = SHMKIT_F_PREFAULT;
	o.max_size = 1 * MiB;
	ASSERT_OK(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &h));
	ASSERT_OK(shmkit_heap_destroy(h));
	o.flags = SHMKIT_F_NORESERVE;
	ASSERT_OK(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &h));
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(!exists(spec));
	o.flags = SHMKIT_F_EPHEMERAL;
	ASSERT_OK(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &h));
	{
		shmkit_info si;
		ASSERT_OK(shmkit_stat(spec, &si));
		ASSERT(si.flags & SHMKIT_INFO_EPHEMERAL);
	}
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(!exists(spec));
	/* A malformed spec: shmkit_create's error. */
	ASSERT_ERR(shmkit_heap_create("posix:no-slash", SHMKIT_HEAP_MIN_SIZE,
				      NULL, &h),
		   EINVAL);
	ASSERT_ERR(shmkit_heap_create("bogus:x", SHMKIT_HEAP_MIN_SIZE, NULL, &h),
		   EINVAL);
}

/* -EEXIST, and the existing heap or segment is as it was. */
static void create_eexist(void)
{
	const char *spec = pspec("exist");
	const char *fsp = fspec("exist");
	shmkit_heap *h, *h2 = NULL, *sentinel = (shmkit_heap *)&h;
	shmkit_heap_info in0, in1;
	shmkit_seg *seg;
	shmkit_ref r, n;
	unsigned char data[8192];

	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 4 * MiB);
	ASSERT_OK(shmkit_heap_alloc(h, 5000, &r));
	fill(shmkit_heap_ptr(h, r), 5000, 11);
	ASSERT_EQ(shmkit_heap_get(h, "kept", 32, &n), 1);
	memcpy(shmkit_heap_ptr(h, n), "still here", 11);
	in0 = hstat(h);
	h2 = sentinel;
	ASSERT_ERR(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, NULL, &h2),
		   EEXIST);
	ASSERT(h2 == sentinel);
	ASSERT_ERR(shmkit_heap_create(spec, 1 * MiB, NULL, &h2), EEXIST);
	in1 = hstat(h);
	ASSERT_EQ(in1.size, in0.size);
	ASSERT_EQ(in1.used, in0.used);
	ASSERT_EQ(in1.allocations, in0.allocations);
	ASSERT_EQ(bad_at(shmkit_heap_ptr(h, r), 5000, 11), 5000);
	check_ok(h, "after -EEXIST");
	ASSERT_OK(shmkit_heap_close(h));
	/* Reopened, it is all there. */
	ASSERT_OK(shmkit_heap_open(spec, 0, &h));
	ASSERT_EQ(bad_at(shmkit_heap_ptr(h, r), 5000, 11), 5000);
	ASSERT(!strcmp(shmkit_heap_ptr(h, n), "still here"));
	ASSERT_OK(shmkit_heap_destroy(h));

	/* A plain segment at the name keeps its bytes and its size. */
	fill(data, sizeof(data), 12);
	plain_seg(spec, sizeof(data), data, sizeof(data));
	ASSERT_ERR(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, NULL, &h2),
		   EEXIST);
	ASSERT_OK(shmkit_attach(spec, NULL, &seg));
	ASSERT_EQ(shmkit_size(seg), sizeof(data));
	ASSERT_EQ(bad_at(shmkit_addr(seg), sizeof(data), 12), sizeof(data));
	ASSERT_OK(shmkit_destroy(seg));
	/* And a file. */
	plain_seg(fsp, sizeof(data), data, sizeof(data));
	ASSERT_ERR(shmkit_heap_create(fsp, SHMKIT_HEAP_MIN_SIZE, NULL, &h2),
		   EEXIST);
	ASSERT_OK(shmkit_attach(fsp, NULL, &seg));
	ASSERT_EQ(shmkit_size(seg), sizeof(data));
	ASSERT_EQ(bad_at(shmkit_addr(seg), sizeof(data), 12), sizeof(data));
	ASSERT_OK(shmkit_destroy(seg));
	ASSERT(h2 == sentinel);
}

/* -- open: what is no heap ------------------------------------------------- */

/* Create a heap, close it, change one field of its header through a plain
 * attach, and expect open to refuse it; put it back, and it opens. */
static void forge_field(size_t off, size_t len, const char *what)
{
	const char *spec = pspec("forge");
	shmkit_heap *h, *sentinel = (shmkit_heap *)&h;
	shmkit_seg *seg;
	unsigned char saved[16];
	unsigned char *b;
	shmkit_ref r;
	int rr;

	ASSERT(len <= sizeof(saved));
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	ASSERT_OK(shmkit_heap_alloc(h, 100, &r));
	ASSERT_OK(shmkit_heap_close(h));
	ASSERT_OK(shmkit_attach(spec, NULL, &seg));
	b = (unsigned char *)shmkit_addr(seg) + off;
	memcpy(saved, b, len);
	b[0] ^= 0x01; /* the low byte: a version 0 or 2, another order, ... */
	h = sentinel;
	rr = shmkit_heap_open(spec, 0, &h);
	if (rr != -EPROTO)
		FAIL_("open with a wrong %s: expected -EPROTO, got %d (%s)", what,
		      rr, rr < 0 ? shmkit_err_name(rr) : "ok");
	ASSERT(h == sentinel);
	b[0] ^= 0x81; /* and a high bit in the same byte */
	ASSERT_ERR(shmkit_heap_open(spec, 0, &h), EPROTO);
	memset(b, 0xff, len);
	ASSERT_ERR(shmkit_heap_open(spec, 0, &h), EPROTO);
	memcpy(b, saved, len);
	ASSERT_OK(shmkit_heap_open(spec, 0, &h));
	ASSERT(shmkit_heap_ptr(h, r) != NULL);
	check_ok(h, "after the header was put back");
	ASSERT_OK(shmkit_heap_close(h));
	ASSERT_OK(shmkit_destroy(seg));
}

static void open_errors(void)
{
	const char *spec = pspec("open");
	shmkit_heap *h = NULL, *sentinel = (shmkit_heap *)&h;
	unsigned char junk[SHMKIT_HEAP_MIN_SIZE];
	size_t i;
	int k;

	h = sentinel;
	ASSERT_ERR(shmkit_heap_open(spec, 0, &h), ENOENT);
	ASSERT_ERR(shmkit_heap_open(fspec("none"), 0, &h), ENOENT);
	ASSERT_ERR(shmkit_heap_probe(spec), ENOENT);
	ASSERT_ERR(shmkit_heap_open("posix:no-slash", 0, &h), EINVAL);
	ASSERT(h == sentinel);

	/* Zeros, in a heap-sized segment and in small ones. */
	plain_seg(spec, SHMKIT_HEAP_MIN_SIZE, NULL, 0);
	ASSERT_ERR(shmkit_heap_open(spec, 0, &h), EPROTO);
	ASSERT_EQ(shmkit_heap_probe(spec), 0);
	ASSERT_OK(shmkit_unlink(spec));
	plain_seg(spec, 4096, NULL, 0);
	ASSERT_ERR(shmkit_heap_open(spec, 0, &h), EPROTO);
	ASSERT_OK(shmkit_unlink(spec));
	plain_seg(spec, 100, NULL, 0);
	ASSERT_ERR(shmkit_heap_open(spec, 0, &h), EPROTO);
	ASSERT_EQ(shmkit_heap_probe(spec), 0);
	ASSERT_OK(shmkit_unlink(spec));

	/* Random bytes, a few times; and random bytes after a real magic. */
	for (k = 0; k < 8; k++) {
		for (i = 0; i < sizeof(junk); i += 8) {
			uint64_t v = rnd();
			memcpy(junk + i, &v, 8);
		}
		if (k >= 4) {
			uint64_t m = HEAP_MAGIC;
			memcpy(junk, &m, 8);
		}
		plain_seg(spec, sizeof(junk), junk, sizeof(junk));
		ASSERT_ERR(shmkit_heap_open(spec, 0, &h), EPROTO);
		ASSERT_OK(shmkit_unlink(spec));
	}
	ASSERT(h == sentinel);

	/* A wrong version byte, byte order, pointer width, header size,
	 * magic: each is -EPROTO, and the heap opens again once restored. */
	forge_field(offsetof(struct heap_hdr, version), 4, "version");
	forge_field(offsetof(struct heap_hdr, endian), 4, "byte order");
	forge_field(offsetof(struct heap_hdr, ptr_bits), 4, "pointer width");
	forge_field(offsetof(struct heap_hdr, hdr_size), 4, "header size");
	forge_field(offsetof(struct heap_hdr, magic), 8, "magic");
	forge_field(offsetof(struct heap_hdr, magic) + 7, 1, "magic (last byte)");

	/* Read-only heaps do not exist. */
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	ASSERT_EQ(shmkit_heap_probe(spec), 1);
	{
		shmkit_heap *h2 = sentinel;
		ASSERT_ERR(shmkit_heap_open(spec, SHMKIT_F_RDONLY, &h2), EINVAL);
		ASSERT_ERR(shmkit_heap_open(spec, 0x80000000u, &h2), EINVAL);
		ASSERT(h2 == sentinel);
	}
	ASSERT_OK(shmkit_heap_destroy(h));
	/* A heap truncated under its header: -EPROTO, never SIGBUS. */
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	ASSERT_OK(shmkit_heap_close(h));
	{
		shmkit_seg *seg;
		ASSERT_OK(shmkit_attach(spec, NULL, &seg));
		ASSERT_EQ(ftruncate(shmkit_fd(seg), 4096), 0);
		ASSERT_OK(shmkit_detach(seg));
	}
	ASSERT_ERR(shmkit_heap_open(spec, 0, &h), EPROTO);
	ASSERT_OK(shmkit_unlink(spec));
	ASSERT(!exists(spec));
}

/* -- create_in / open_in --------------------------------------------------- */

static void create_in_open_in(void)
{
	const char *spec = pspec("in");
	const size_t segsz = 1 * MiB, off = 4096 + 64, len = 256 * KiB;
	shmkit_seg *seg, *seg2;
	shmkit_heap *h, *h2, *sentinel = (shmkit_heap *)&h;
	shmkit_heap_opts o;
	shmkit_heap_info in;
	struct blk b[64];
	shmkit_ref n, r;
	unsigned char *base, *base2;
	size_t i, nb = 0, at;
	int e;

	ASSERT_OK(shmkit_create(spec, segsz, NULL, &seg));
	base = shmkit_addr(seg);
	fill(base, segsz, 21);

	/* Bad arguments, each -EINVAL, nothing written. */
	h = sentinel;
	ASSERT_ERR(shmkit_heap_create_in(seg, 4, len, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 8, len, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 4096 + 1, len, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 4096 + 24, len, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 0, 4095, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 0, 4096, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 0, SHMKIT_HEAP_IN_MIN - 1, NULL,
					 &h),
		   EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 0, 0, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, segsz - SHMKIT_HEAP_IN_MIN + 16,
					 SHMKIT_HEAP_IN_MIN, NULL, &h),
		   EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 0, segsz + 4096, NULL, &h),
		   EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 16, SIZE_MAX - 15, NULL, &h),
		   EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, SIZE_MAX - 15, 32768, NULL, &h),
		   EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(NULL, 0, len, NULL, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_open_in(seg, 4, len, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_open_in(seg, 8, len, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_open_in(seg, 0, 4095, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_open_in(seg, 0, SHMKIT_HEAP_IN_MIN - 1, &h),
		   EINVAL);
	ASSERT_ERR(shmkit_heap_open_in(seg, 0, segsz + 8, &h), EINVAL);
	ASSERT_ERR(shmkit_heap_open_in(NULL, 0, len, &h), EINVAL);
	ASSERT(h == sentinel);
	at = bad_at(base, segsz, 21);
	if (at != segsz)
		FAIL_("a refused create_in wrote byte %zu of the segment", at);
	/* No heap there yet: -EPROTO. */
	ASSERT_ERR(shmkit_heap_open_in(seg, off, len, &h), EPROTO);

	/* opts: max_size 0 or len, mode and flags 0; anything else -EINVAL. */
	memset(&o, 0, sizeof(o));
	o.max_size = 2 * len;
	ASSERT_ERR(shmkit_heap_create_in(seg, off, len, &o, &h), EINVAL);
	o.max_size = len - 4096;
	ASSERT_ERR(shmkit_heap_create_in(seg, off, len, &o, &h), EINVAL);
	o.max_size = 0;
	o.mode = 0644;
	ASSERT_ERR(shmkit_heap_create_in(seg, off, len, &o, &h), EINVAL);
	o.mode = 0;
	o.flags = SHMKIT_F_PREFAULT;
	ASSERT_ERR(shmkit_heap_create_in(seg, off, len, &o, &h), EINVAL);
	ASSERT(h == sentinel);
	ASSERT_EQ(bad_at(base, segsz, 21), segsz);
	o.flags = 0;
	o.max_size = len;
	ASSERT_OK(shmkit_heap_create_in(seg, off, len, &o, &h));
	ASSERT_EQ(hstat(h).max_size, len);
	ASSERT_OK(shmkit_heap_close(h));
	fill(base, segsz, 21);

	ASSERT_OK(shmkit_heap_create_in(seg, off, len, NULL, &h));
	ASSERT(shmkit_heap_seg(h) == seg);
	in = hstat(h);
	stat_sane(&in);
	ASSERT(in.size <= len && in.size + 4096 > len);
	ASSERT_EQ(in.max_size, in.size);
	ASSERT_EQ(in.parts, 1);
	ASSERT_EQ(in.allocations, 0);
	/* Blocks lie in [off, off + len). */
	for (i = 0; i < 40; i++) {
		ASSERT_OK(alloc_fill(h, &b[nb], 1 + rnd() % 3000, 100 + i));
		ASSERT((unsigned char *)b[nb].p >= base + off);
		ASSERT((unsigned char *)b[nb].p + b[nb].size <= base + off + len);
		nb++;
	}
	for (size_t al = 16; al <= (off & (~off + 1)); al *= 2) {
		void *p;
		ASSERT_OK(shmkit_heap_alloc_aligned(h, 100, al, &r));
		p = shmkit_heap_ptr(h, r);
		ASSERT(p != NULL);
		if ((uintptr_t)p % al)
			FAIL_("alloc_aligned(100, %zu) in a heap at offset %zu: "
			      "%p",
			      al, off, p);
		ASSERT_OK(shmkit_heap_free(h, r));
	}
	ASSERT_EQ(shmkit_heap_get(h, "refs", 64 * sizeof(shmkit_ref), &n), 1);
	for (i = 0; i < nb; i++)
		((shmkit_ref *)shmkit_heap_ptr(h, n))[i] = b[i].ref;
	check_ok(h, "create_in heap");
	/* The caller's bytes around the heap are untouched. */
	ASSERT_EQ(bad_at(base, off, 21), off);
	for (i = off + len; i < segsz; i++)
		if (base[i] != pat(21, i))
			FAIL_("byte %zu of the segment, past the heap, changed", i);

	/* Another mapping of the segment, at another address: same refs. */
	ASSERT_OK(shmkit_attach(spec, NULL, &seg2));
	base2 = shmkit_addr(seg2);
	ASSERT(base2 != base);
	ASSERT_ERR(shmkit_heap_open_in(seg2, off + 16, len, &h2), EPROTO);
	ASSERT_ERR(shmkit_heap_open_in(seg2, 16, len, &h2), EPROTO);
	ASSERT(shmkit_heap_open_in(seg2, off, len / 2, &h2) < 0);
	ASSERT_OK(shmkit_heap_open_in(seg2, off, len, &h2));
	ASSERT_OK(shmkit_heap_find(h2, "refs", &r, NULL));
	ASSERT_EQ(r, n);
	for (i = 0; i < nb; i++) {
		shmkit_ref rr = ((shmkit_ref *)shmkit_heap_ptr(h2, r))[i];
		unsigned char *p2 = shmkit_heap_ptr(h2, rr);
		ASSERT_EQ(rr, b[i].ref);
		ASSERT(p2 == base2 + ((unsigned char *)b[i].p - base));
		ASSERT_EQ(bad_at(p2, b[i].size, b[i].seed), b[i].size);
	}
	/* Freed through one handle, gone for the other. */
	ASSERT_OK(shmkit_heap_free(h2, b[0].ref));
	ASSERT(shmkit_heap_ptr(h, b[0].ref) == NULL);
	ASSERT_ERR(shmkit_heap_free(h, b[0].ref), EINVAL);
	ASSERT_OK(shmkit_heap_close(h2));
	ASSERT_OK(shmkit_detach(seg2));

	/* Fixed: fill it to -ENOMEM; it never grows. */
	for (;;) {
		shmkit_ref x = 0;
		e = shmkit_heap_alloc(h, 2000, &x);
		if (e == -ENOMEM)
			break;
		ASSERT_OK(e);
	}
	in = hstat(h);
	ASSERT_EQ(in.parts, 1);
	ASSERT(in.size <= len);
	for (i = 1; i < nb; i++)
		verify_blk(h, &b[i]);
	check_ok(h, "full create_in heap");
	ASSERT_OK(shmkit_heap_close(h));
	/* Still the caller's segment, still attached, still its bytes. */
	ASSERT_EQ(bad_at(base, off, 21), off);
	ASSERT_EQ(shmkit_size(seg), segsz);
	ASSERT_OK(shmkit_heap_open_in(seg, off, len, &h));
	check_ok(h, "reopened create_in heap");
	/* destroy unmakes the heap and leaves the segment alone. */
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT_ERR(shmkit_heap_open_in(seg, off, len, &h), EPROTO);
	ASSERT_EQ(shmkit_size(seg), segsz);
	ASSERT_EQ(bad_at(base, off, 21), off);
	for (i = off + len; i < segsz; i++)
		if (base[i] != pat(21, i))
			FAIL_("byte %zu of the segment, past the heap, changed "
			      "by destroy",
			      i);
	ASSERT(exists(spec));
	ASSERT_OK(shmkit_destroy(seg));
	ASSERT(!exists(spec));
}

/*
 * Every block is aligned to SHMKIT_HEAP_ALIGN, and alloc_aligned to what
 * it was asked, up to the largest power of two dividing the heap's offset
 * (at most a page); beyond, -EINVAL.
 */
static void create_in_alignment(void)
{
	static const size_t offs[] = {0, 16, 48, 96, 4096 + 16, 4096 + 64,
				      8192, 3 * 4096 + 2048};
	shmkit_seg *seg;
	shmkit_heap *h;
	size_t k, i, al, lim;

	ASSERT_OK(shmkit_create("anon:", 1 * MiB, NULL, &seg));
	for (k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		ASSERT_OK(shmkit_heap_create_in(seg, offs[k], 512 * KiB, NULL, &h));
		for (i = 0; i < 50; i++) {
			shmkit_ref r;
			size_t sz = 1 + (i * 97) % 2000;
			void *p;
			ASSERT_OK(shmkit_heap_alloc(h, sz, &r));
			p = shmkit_heap_ptr(h, r);
			ASSERT(p != NULL);
			if ((uintptr_t)p % SHMKIT_HEAP_ALIGN)
				FAIL_("alloc(%zu) in a heap at offset %zu of its "
				      "segment: %p is not %u-aligned",
				      sz, offs[k], p, SHMKIT_HEAP_ALIGN);
		}
		lim = offs[k] ? offs[k] & (~offs[k] + 1) : 4096;
		if (lim > 4096)
			lim = 4096;
		for (al = 16; al <= 8192; al *= 2) {
			shmkit_ref r = 0x31;
			void *p;
			int e = shmkit_heap_alloc_aligned(h, 100, al, &r);
			if (al > lim) {
				if (e != -EINVAL)
					FAIL_("alloc_aligned(100, %zu) in a heap at "
					      "offset %zu: expected -EINVAL, got %d",
					      al, offs[k], e);
				ASSERT_EQ(r, 0x31);
				continue;
			}
			ASSERT_OK(e);
			p = shmkit_heap_ptr(h, r);
			ASSERT(p != NULL);
			if ((uintptr_t)p % al)
				FAIL_("alloc_aligned(100, %zu) in a heap at offset "
				      "%zu of its segment: %p",
				      al, offs[k], p);
		}
		check_ok(h, "aligned blocks in a create_in heap");
		ASSERT_OK(shmkit_heap_close(h));
	}
	ASSERT_OK(shmkit_destroy(seg));
}

/* len >= SHMKIT_HEAP_IN_MIN is all create_in asks for. */
static void create_in_min_len(void)
{
	shmkit_seg *seg;
	shmkit_heap *h;
	size_t len;
	int r;

	ASSERT_OK(shmkit_create("anon:", 64 * KiB, NULL, &seg));
	for (len = SHMKIT_HEAP_IN_MIN; len <= SHMKIT_HEAP_IN_MIN + 4096;
	     len += 16) {
		shmkit_ref x;
		r = shmkit_heap_create_in(seg, 0, len, NULL, &h);
		if (r < 0)
			FAIL_("create_in(len %zu), which heap.h allows: %s", len,
			      shmkit_strerror(r));
		check_ok(h, "smallest create_in heap");
		/* Room for something, at least. */
		ASSERT_OK(shmkit_heap_alloc(h, 100, &x));
		ASSERT_EQ(shmkit_heap_get(h, "n", 100, &x), 1);
		check_ok(h, "smallest create_in heap, used");
		ASSERT_OK(shmkit_heap_close(h));
		ASSERT_OK(shmkit_heap_open_in(seg, 0, len, &h));
		ASSERT_OK(shmkit_heap_close(h));
	}
	ASSERT_OK(shmkit_destroy(seg));
}

/* -- allocation ------------------------------------------------------------ */

static void alloc_basic(void)
{
	const char *spec = pspec("alloc");
	shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 8 * MiB);
	shmkit_ref r, keep = 0x5a5a, dirty[64];
	shmkit_heap_info in, base = hstat(h);
	struct blk b[200];
	size_t i, n = 0;

	/* Size 0 and sizes too large for any heap: -EINVAL, nothing set. */
	r = keep;
	ASSERT_ERR(shmkit_heap_alloc(h, 0, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_calloc(h, 0, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_alloc_aligned(h, 0, 64, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_alloc(h, SIZE_MAX, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_calloc(h, SIZE_MAX, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_alloc_aligned(h, SIZE_MAX, 64, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_alloc(h, SIZE_MAX - 15, &r), EINVAL);
	ASSERT_ERR(shmkit_heap_alloc(h, (size_t)1 << 62, &r), EINVAL);
	/* Larger than this heap may grow: -ENOMEM (another could). */
	ASSERT_ERR(shmkit_heap_alloc(h, 8 * MiB, &r), ENOMEM);
	ASSERT_ERR(shmkit_heap_alloc(h, 8 * MiB + 1, &r), ENOMEM);
	ASSERT_ERR(shmkit_heap_calloc(h, 9 * MiB, &r), ENOMEM);
	{
		int e = shmkit_heap_alloc(h, (size_t)1 << 41, &r);
		ASSERT(e == -EINVAL || e == -ENOMEM);
	}
	ASSERT_EQ(r, keep);
	in = hstat(h);
	ASSERT_EQ(in.allocations, 0);
	check_ok(h, "after refused allocations");

	/* Sizes around every boundary; usable covers what was asked; each
	 * block filled to its usable end leaves every other intact. */
	for (i = 1; i <= 40; i++) {
		ASSERT_OK(alloc_fill(h, &b[n], i, 1000 + i));
		n++;
	}
	for (i = 0; i < 60; i++) {
		static const size_t sz[] = {48,   63,   64,   65,   127,  128,
					    1000, 1008, 1009, 1024, 4095, 4096,
					    4097, 65536, 100000};
		ASSERT_OK(alloc_fill(h, &b[n], sz[i % 15], 2000 + i));
		n++;
	}
	for (i = 0; i < n; i++) {
		size_t u = shmkit_heap_usable(h, b[i].ref);
		ASSERT(u >= b[i].size);
		b[i].size = u;
		fill(b[i].p, u, b[i].seed);
	}
	for (i = 0; i < n; i++)
		verify_blk(h, &b[i]);
	in = hstat(h);
	stat_sane(&in);
	ASSERT_EQ(in.allocations, n);
	check_ok(h, "blocks filled to their usable end");

	/* calloc zeroes, even memory that was just dirtied and freed. */
	for (i = 0; i < 64; i++) {
		size_t sz = 16 + (i * 37) % 3000;
		ASSERT_OK(shmkit_heap_alloc(h, sz, &dirty[i]));
		memset(shmkit_heap_ptr(h, dirty[i]), 0xff,
		       shmkit_heap_usable(h, dirty[i]));
	}
	for (i = 0; i < 64; i++)
		ASSERT_OK(shmkit_heap_free(h, dirty[i]));
	for (i = 0; i < 64; i++) {
		size_t sz = 16 + (i * 37) % 3000;
		void *p;
		ASSERT_OK(shmkit_heap_calloc(h, sz, &dirty[i]));
		p = shmkit_heap_ptr(h, dirty[i]);
		ASSERT(p != NULL);
		if (!all_zero(p, sz))
			FAIL_("calloc(%zu) is not zeroed", sz);
	}
	for (i = 0; i < 64; i++)
		ASSERT_OK(shmkit_heap_free(h, dirty[i]));
	for (i = 0; i < n; i++)
		verify_blk(h, &b[i]);
	for (i = 0; i < n; i++)
		ASSERT_OK(shmkit_heap_free(h, b[i].ref));
	in = hstat(h);
	ASSERT_EQ(in.allocations, 0);
	ASSERT_EQ(in.used, base.used);
	check_ok(h, "all freed");
	ASSERT_OK(shmkit_heap_destroy(h));
}

static void alloc_aligned(void)
{
	const char *spec = pspec("align");
	shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 64 * MiB);
	static const size_t bad[] = {0, 1, 2, 3, 4, 8, 12, 24, 48, 1000,
				     2 * MiB, 4 * MiB, (size_t)1 << 40,
				     ((size_t)1 << 20) + 16, SIZE_MAX};
	struct blk b[3 * 17];
	shmkit_ref r = 0x77;
	size_t al, i, n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int e = shmkit_heap_alloc_aligned(h, 100, bad[i], &r);
		if (e != -EINVAL)
			FAIL_("alloc_aligned(100, align %zu): expected -EINVAL, "
			      "got %d",
			      bad[i], e);
	}
	ASSERT_EQ(r, 0x77);
	for (al = 16; al <= 1 * MiB; al *= 2) {
		const size_t sizes[3] = {1, al, al + al / 2 + 5};
		for (i = 0; i < 3; i++) {
			void *p;
			ASSERT_OK(shmkit_heap_alloc_aligned(h, sizes[i], al, &r));
			p = shmkit_heap_ptr(h, r);
			ASSERT(p != NULL);
			if ((uintptr_t)p % al)
				FAIL_("alloc_aligned(%zu, %zu) gave %p", sizes[i],
				      al, p);
			ASSERT(shmkit_heap_usable(h, r) >= sizes[i]);
			ASSERT_EQ(shmkit_heap_ref(h, p), r);
			b[n].ref = r;
			b[n].p = p;
			b[n].size = sizes[i];
			b[n].seed = 3000 + n;
			fill(p, sizes[i], b[n].seed);
			n++;
		}
	}
	check_ok(h, "aligned blocks");
	for (i = 0; i < n; i++)
		verify_blk(h, &b[i]);
	/* Free every other one; the rest stay; align again into the gaps. */
	for (i = 0; i < n; i += 2)
		ASSERT_OK(shmkit_heap_free(h, b[i].ref));
	for (al = 16; al <= 1 * MiB; al *= 4) {
		void *p;
		ASSERT_OK(shmkit_heap_alloc_aligned(h, 200, al, &r));
		p = shmkit_heap_ptr(h, r);
		ASSERT(p != NULL && (uintptr_t)p % al == 0);
		ASSERT_OK(shmkit_heap_free(h, r));
	}
	for (i = 1; i < n; i += 2)
		verify_blk(h, &b[i]);
	for (i = 1; i < n; i += 2)
		ASSERT_OK(shmkit_heap_free(h, b[i].ref));
	check_ok(h, "aligned blocks freed");
	ASSERT_EQ(hstat(h).allocations, 0);
	ASSERT_OK(shmkit_heap_destroy(h));

	/* sysv: and anon: heaps keep alignment up to the page size. */
	{
		const char *specs[2] = {"anon:", "sysv:private"};
		for (i = 0; i < 2; i++) {
			h = mk(specs[i], 1 * MiB, 0);
			for (al = 16; al <= 4 * MiB; al *= 2) {
				void *p;
				int e = shmkit_heap_alloc_aligned(h, 50, al, &r);
				if (al > 4096) {
					if (e != -EINVAL)
						FAIL_("%s: alloc_aligned(50, %zu): "
						      "expected -EINVAL, got %d",
						      specs[i], al, e);
					continue;
				}
				ASSERT_OK(e);
				p = shmkit_heap_ptr(h, r);
				ASSERT(p != NULL && (uintptr_t)p % al == 0);
			}
			check_ok(h, "aligned blocks in a fixed heap");
			ASSERT_OK(shmkit_heap_destroy(h));
		}
	}
}

/* -- free of what is not a live block --------------------------------------- */

static int is_live(const struct blk *b, size_t n, shmkit_ref r)
{
	for (size_t i = 0; i < n; i++)
		if (b[i].ref == r)
			return 1;
	return 0;
}

static void free_wild(shmkit_heap *h, const struct blk *b, size_t n,
		      shmkit_ref wild, const char *what)
{
	int e;

	if (is_live(b, n, wild))
		return;
	e = shmkit_heap_free(h, wild);
	if (e != -EINVAL)
		FAIL_("free(%#llx) (%s): expected -EINVAL, got %d (%s)",
		      (unsigned long long)wild, what, e,
		      e < 0 ? shmkit_err_name(e) : "ok");
	if (shmkit_heap_ptr(h, wild) != NULL)
		FAIL_("ptr(%#llx) (%s) is not NULL", (unsigned long long)wild,
		      what);
	if (shmkit_heap_usable(h, wild) != 0)
		FAIL_("usable(%#llx) (%s) is not 0", (unsigned long long)wild,
		      what);
}

static void free_errors(void)
{
	const char *spec = pspec("free");
	shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	shmkit_heap_info in0, in1;
	struct blk b[600];
	shmkit_ref a, named;
	void *pa;
	size_t n = 0, i;
	int k, e, reused = 0;

	/* Double free. */
	ASSERT_OK(shmkit_heap_alloc(h, 100, &a));
	ASSERT_OK(shmkit_heap_free(h, a));
	ASSERT_ERR(shmkit_heap_free(h, a), EINVAL);
	ASSERT_ERR(shmkit_heap_free(h, a), EINVAL);
	ASSERT(shmkit_heap_ptr(h, a) == NULL);
	ASSERT_EQ(shmkit_heap_usable(h, a), 0);
	ASSERT_EQ(hstat(h).allocations, 0);
	check_ok(h, "after a double free");

	/* A stale ref: its block freed and allocated again. Filling the
	 * (fixed) heap makes sure its memory is in use again. */
	ASSERT_OK(shmkit_heap_alloc(h, 100, &a));
	pa = shmkit_heap_ptr(h, a);
	ASSERT_OK(shmkit_heap_free(h, a));
	while (n < sizeof(b) / sizeof(b[0])) {
		e = alloc_fill(h, &b[n], 100, 5000 + n);
		if (e == -ENOMEM)
			break;
		ASSERT_OK(e);
		reused |= b[n].p == pa;
		n++;
	}
	ASSERT(n < sizeof(b) / sizeof(b[0])); /* it did fill */
	if (!reused)
		printf("     (the stale block's address was not reused)\n");
	ASSERT(!is_live(b, n, a));
	ASSERT_ERR(shmkit_heap_free(h, a), EINVAL);
	ASSERT(shmkit_heap_ptr(h, a) == NULL);
	ASSERT_EQ(shmkit_heap_usable(h, a), 0);
	if (reused)
		ASSERT(shmkit_heap_ref(h, pa) != a);
	in0 = hstat(h);
	ASSERT_EQ(in0.allocations, n);

	/* Wild values: 0, 1, small numbers, all ones, random 64-bit words,
	 * and live refs moved by a few bytes or with other high bits. */
	free_wild(h, b, n, 0, "0");
	free_wild(h, b, n, 1, "1");
	for (k = 2; k < 4096; k += 7)
		free_wild(h, b, n, (shmkit_ref)k, "small");
	free_wild(h, b, n, UINT64_MAX, "all ones");
	free_wild(h, b, n, UINT64_MAX - 15, "all ones - 15");
	free_wild(h, b, n, (shmkit_ref)1 << 63, "top bit");
	for (k = 0; k < 20000; k++)
		free_wild(h, b, n, rnd(), "random");
	for (k = 0; k < 2000; k++) /* random, but small offsets */
		free_wild(h, b, n, rnd() & ((UINT64_C(1) << 20) - 1), "random low");
	for (i = 0; i < n; i++) {
		static const int64_t d[] = {16, 8, 1, -16, -8, -1, 32, 4096};
		for (k = 0; k < 8; k++)
			free_wild(h, b, n, b[i].ref + (uint64_t)d[k], "ref + d");
		free_wild(h, b, n, b[i].ref ^ (UINT64_C(1) << 48), "gen ^ 1");
		free_wild(h, b, n, b[i].ref ^ (UINT64_C(0xffff) << 48),
			  "gen ^ 0xffff");
		free_wild(h, b, n, b[i].ref ^ (rnd() << 32), "high bits");
		free_wild(h, b, n, b[i].ref ^ (UINT64_C(1) << 40), "part ^ 1");
		free_wild(h, b, n, b[i].ref ^ (UINT64_C(1) << 39), "bit 39");
	}
	/* Nothing changed. */
	in1 = hstat(h);
	ASSERT_EQ(in1.allocations, in0.allocations);
	ASSERT_EQ(in1.used, in0.used);
	ASSERT_EQ(in1.free, in0.free);
	for (i = 0; i < n; i++)
		verify_blk(h, &b[i]);
	check_ok(h, "after wild frees");

	for (i = 0; i < n; i++)
		ASSERT_OK(shmkit_heap_free(h, b[i].ref));
	ASSERT_EQ(hstat(h).allocations, 0);
	check_ok(h, "all freed");
	ASSERT_OK(shmkit_heap_destroy(h));

	/* A named object: -EBUSY, and it stays. */
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	ASSERT_EQ(shmkit_heap_get(h, "busy", 40, &named), 1);
	memcpy(shmkit_heap_ptr(h, named), "named object", 13);
	ASSERT_ERR(shmkit_heap_free(h, named), EBUSY);
	ASSERT_ERR(shmkit_heap_free(h, named), EBUSY);
	ASSERT(!strcmp(shmkit_heap_ptr(h, named), "named object"));
	ASSERT_OK(shmkit_heap_find(h, "busy", &a, NULL));
	ASSERT_EQ(a, named);
	ASSERT_OK(shmkit_heap_unname(h, "busy"));
	ASSERT_ERR(shmkit_heap_free(h, named), EINVAL);
	ASSERT_EQ(hstat(h).allocations, 0);
	check_ok(h, "named object unnamed");
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* -- ptr / ref / usable ------------------------------------------------------ */

static void ptr_ref_usable(void)
{
	const char *spec = pspec("ptr");
	shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 4 * MiB);
	struct blk b[300];
	size_t i, n = 0;
	char local[32];
	void *m;

	for (i = 0; i < 300; i++) {
		ASSERT_OK(alloc_fill(h, &b[n], 1 + rnd() % (i % 10 ? 500 : 20000),
				     7000 + i));
		n++;
	}
	for (i = 0; i < n; i++) {
		unsigned char *p = b[i].p;
		ASSERT_EQ(shmkit_heap_ref(h, p), b[i].ref);
		ASSERT(shmkit_heap_ptr(h, b[i].ref) == p);
		ASSERT_EQ(shmkit_heap_ref(h, p + 1), 0);
		ASSERT_EQ(shmkit_heap_ref(h, p + 8), 0);
		ASSERT_EQ(shmkit_heap_ref(h, p - 1), 0);
		ASSERT_EQ(shmkit_heap_ref(h, p - 16), 0);
		ASSERT_EQ(shmkit_heap_ref(h, p + b[i].size / 2 + 1), 0);
	}
	ASSERT(shmkit_heap_ptr(h, 0) == NULL);
	ASSERT_EQ(shmkit_heap_usable(h, 0), 0);
	ASSERT_EQ(shmkit_heap_ref(h, NULL), 0);
	ASSERT_EQ(shmkit_heap_ref(h, local), 0);
	m = malloc(64);
	ASSERT(m != NULL);
	ASSERT_EQ(shmkit_heap_ref(h, m), 0);
	free(m);
	ASSERT_EQ(shmkit_heap_ref(h, (void *)(uintptr_t)16), 0);
	ASSERT_EQ(shmkit_heap_ref(h, (void *)UINTPTR_MAX), 0);
	ASSERT_EQ(shmkit_heap_ref(h, shmkit_addr(shmkit_heap_seg(h))), 0);
	/* Freed: NULL, 0, 0. */
	for (i = 0; i < n; i += 3) {
		ASSERT_OK(shmkit_heap_free(h, b[i].ref));
		ASSERT(shmkit_heap_ptr(h, b[i].ref) == NULL);
		ASSERT_EQ(shmkit_heap_usable(h, b[i].ref), 0);
		ASSERT_EQ(shmkit_heap_ref(h, b[i].p), 0);
	}
	for (i = 1; i < n; i++)
		if (i % 3) {
			verify_blk(h, &b[i]);
			ASSERT_EQ(shmkit_heap_ref(h, b[i].p), b[i].ref);
		}
	for (i = 1; i < n; i++)
		if (i % 3)
			ASSERT_OK(shmkit_heap_free(h, b[i].ref));
	check_ok(h, "ptr/ref");
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* -- named objects ------------------------------------------------------------ */

struct names_acc {
	int calls;
	int stop_after; /* 0: never */
	int stop_val;
	int bad;
	char names[400][SHMKIT_HEAP_NAME_MAX + 1];
	shmkit_ref refs[400];
	size_t sizes[400];
};

static int names_cb(const char *name, shmkit_ref ref, size_t size, void *arg)
{
	struct names_acc *a = arg;

	if (!name || strlen(name) < 1 || strlen(name) > SHMKIT_HEAP_NAME_MAX ||
	    a->calls >= 400) {
		a->bad++;
		return -1000;
	}
	snprintf(a->names[a->calls], sizeof(a->names[0]), "%s", name);
	a->refs[a->calls] = ref;
	a->sizes[a->calls] = size;
	a->calls++;
	if (a->stop_after && a->calls == a->stop_after)
		return a->stop_val;
	return 0;
}

static void named_objects(void)
{
	const char *spec = pspec("names");
	shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 16 * MiB);
	static struct names_acc acc;
	char name[SHMKIT_HEAP_NAME_MAX + 2];
	shmkit_ref r, r2, sentinel = 0x99;
	shmkit_heap_info in;
	size_t sz;
	unsigned char *p;
	int i, k;

	/* Created zeroed, then found. */
	ASSERT_EQ(shmkit_heap_get(h, "alpha", 100, &r), 1);
	ASSERT(r != 0);
	p = shmkit_heap_ptr(h, r);
	ASSERT(p != NULL);
	ASSERT(all_zero(p, 100));
	ASSERT(shmkit_heap_usable(h, r) >= 100);
	fill(p, 100, 31);
	ASSERT_EQ(shmkit_heap_get(h, "alpha", 100, &r2), 0);
	ASSERT_EQ(r2, r);
	ASSERT_EQ(bad_at(p, 100, 31), 100);
	/* Another size: -EEXIST, *ret untouched, nothing changed. */
	r2 = sentinel;
	ASSERT_ERR(shmkit_heap_get(h, "alpha", 101, &r2), EEXIST);
	ASSERT_ERR(shmkit_heap_get(h, "alpha", 99, &r2), EEXIST);
	ASSERT_ERR(shmkit_heap_get(h, "alpha", 1, &r2), EEXIST);
	ASSERT_EQ(r2, sentinel);
	ASSERT_OK(shmkit_heap_find(h, "alpha", &r2, &sz));
	ASSERT_EQ(r2, r);
	ASSERT_EQ(sz, 100);
	ASSERT_OK(shmkit_heap_find(h, "alpha", NULL, NULL));
	ASSERT_OK(shmkit_heap_find(h, "alpha", NULL, &sz));
	ASSERT_OK(shmkit_heap_find(h, "alpha", &r2, NULL));
	ASSERT_EQ(bad_at(p, 100, 31), 100);
	/* Names are exact: no prefix, case or length games. */
	r2 = sentinel;
	sz = 12345;
	ASSERT_ERR(shmkit_heap_find(h, "alph", &r2, &sz), ENOENT);
	ASSERT_ERR(shmkit_heap_find(h, "alphaa", &r2, &sz), ENOENT);
	ASSERT_ERR(shmkit_heap_find(h, "Alpha", &r2, &sz), ENOENT);
	ASSERT_EQ(r2, sentinel);
	ASSERT_EQ(sz, 12345);
	ASSERT_ERR(shmkit_heap_unname(h, "alph"), ENOENT);

	/* Name lengths: 0 and 256 are -EINVAL, 1 and 255 work. */
	ASSERT_ERR(shmkit_heap_get(h, "", 10, &r2), EINVAL);
	ASSERT_ERR(shmkit_heap_find(h, "", &r2, NULL), EINVAL);
	ASSERT_ERR(shmkit_heap_unname(h, ""), EINVAL);
	memset(name, 'n', sizeof(name));
	name[SHMKIT_HEAP_NAME_MAX + 1] = '\0'; /* 256 bytes */
	ASSERT_ERR(shmkit_heap_get(h, name, 10, &r2), EINVAL);
	ASSERT_ERR(shmkit_heap_find(h, name, &r2, NULL), EINVAL);
	ASSERT_ERR(shmkit_heap_unname(h, name), EINVAL);
	ASSERT_EQ(r2, sentinel);
	name[SHMKIT_HEAP_NAME_MAX] = '\0'; /* 255 */
	ASSERT_EQ(shmkit_heap_get(h, name, 10, &r2), 1);
	ASSERT_OK(shmkit_heap_find(h, name, NULL, &sz));
	ASSERT_EQ(sz, 10);
	name[SHMKIT_HEAP_NAME_MAX - 1] = '\0'; /* 254: another name */
	ASSERT_ERR(shmkit_heap_find(h, name, NULL, NULL), ENOENT);
	ASSERT_EQ(shmkit_heap_get(h, "x", 10, &r2), 1);
	ASSERT_EQ(shmkit_heap_get(h, "a/b c\t\xc3\xa9\xff", 24, &r2), 1);
	ASSERT_OK(shmkit_heap_find(h, "a/b c\t\xc3\xa9\xff", NULL, NULL));
	/* NULL name. */
	ASSERT_ERR(shmkit_heap_get(h, NULL, 10, &r2), EINVAL);
	ASSERT_ERR(shmkit_heap_find(h, NULL, &r2, NULL), EINVAL);
	ASSERT_ERR(shmkit_heap_unname(h, NULL), EINVAL);
	/* Too large: nothing named. */
	k = shmkit_heap_get(h, "huge", 64 * MiB, &r2);
	ASSERT(k == -ENOMEM || k == -EINVAL);
	k = shmkit_heap_get(h, "huger", SIZE_MAX, &r2);
	ASSERT(k == -ENOMEM || k == -EINVAL);
	ASSERT_ERR(shmkit_heap_find(h, "huge", NULL, NULL), ENOENT);
	ASSERT_ERR(shmkit_heap_find(h, "huger", NULL, NULL), ENOENT);
	in = hstat(h);
	ASSERT_EQ(in.named, 4);
	ASSERT_EQ(in.allocations, 4);

	/* free of a named ref: -EBUSY; unname frees it. */
	ASSERT_ERR(shmkit_heap_free(h, r), EBUSY);
	ASSERT_EQ(bad_at(p, 100, 31), 100);
	ASSERT_OK(shmkit_heap_unname(h, "alpha"));
	ASSERT_ERR(shmkit_heap_find(h, "alpha", NULL, NULL), ENOENT);
	ASSERT_ERR(shmkit_heap_unname(h, "alpha"), ENOENT);
	ASSERT(shmkit_heap_ptr(h, r) == NULL);
	ASSERT_ERR(shmkit_heap_free(h, r), EINVAL);
	/* Made again: zeroed again, whatever memory it gets. */
	for (k = 0; k < 20; k++) {
		ASSERT_EQ(shmkit_heap_get(h, "alpha", 100, &r), 1);
		p = shmkit_heap_ptr(h, r);
		if (!all_zero(p, 100))
			FAIL_("named object made again (round %d) is not zeroed",
			      k);
		memset(p, 0xee, shmkit_heap_usable(h, r));
		ASSERT_OK(shmkit_heap_unname(h, "alpha"));
	}
	in = hstat(h);
	ASSERT_EQ(in.named, 3);

	/* Many names: all found, all listed once with their ref and size. */
	for (i = 0; i < 300; i++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "obj-%d", i);
		ASSERT_EQ(shmkit_heap_get(h, nm, 8 + (size_t)i * 8, &r), 1);
		*(int *)shmkit_heap_ptr(h, r) = i;
	}
	ASSERT_EQ(hstat(h).named, 303);
	for (i = 0; i < 300; i++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "obj-%d", i);
		ASSERT_OK(shmkit_heap_find(h, nm, &r, &sz));
		ASSERT_EQ(sz, 8 + (size_t)i * 8);
		ASSERT_EQ(*(int *)shmkit_heap_ptr(h, r), i);
	}
	memset(&acc, 0, sizeof(acc));
	ASSERT_EQ(shmkit_heap_names(h, names_cb, &acc), 303);
	ASSERT_EQ(acc.bad, 0);
	ASSERT_EQ(acc.calls, 303);
	{
		int seen[300] = {0};
		for (k = 0; k < acc.calls; k++) {
			int idx;
			if (sscanf(acc.names[k], "obj-%d", &idx) == 1 &&
			    !strncmp(acc.names[k], "obj-", 4)) {
				ASSERT(idx >= 0 && idx < 300);
				seen[idx]++;
				ASSERT_EQ(acc.sizes[k], 8 + (size_t)idx * 8);
				ASSERT_OK(shmkit_heap_find(h, acc.names[k], &r,
							   NULL));
				ASSERT_EQ(acc.refs[k], r);
			}
		}
		for (k = 0; k < 300; k++)
			if (seen[k] != 1)
				FAIL_("names() reported obj-%d %d times", k,
				      seen[k]);
	}
	/* A callback that stops: its value comes back, no more calls. */
	memset(&acc, 0, sizeof(acc));
	acc.stop_after = 3;
	acc.stop_val = 7;
	ASSERT_EQ(shmkit_heap_names(h, names_cb, &acc), 7);
	ASSERT_EQ(acc.calls, 3);
	memset(&acc, 0, sizeof(acc));
	acc.stop_after = 1;
	acc.stop_val = -5;
	ASSERT_EQ(shmkit_heap_names(h, names_cb, &acc), -5);
	ASSERT_EQ(acc.calls, 1);

	/* Unname half; the rest stay. */
	for (i = 0; i < 300; i += 2) {
		char nm[32];
		snprintf(nm, sizeof(nm), "obj-%d", i);
		ASSERT_OK(shmkit_heap_unname(h, nm));
	}
	for (i = 0; i < 300; i++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "obj-%d", i);
		k = shmkit_heap_find(h, nm, &r, NULL);
		if (i % 2 == 0) {
			ASSERT_EQ(k, -ENOENT);
		} else {
			ASSERT_OK(k);
			ASSERT_EQ(*(int *)shmkit_heap_ptr(h, r), i);
		}
	}
	memset(&acc, 0, sizeof(acc));
	ASSERT_EQ(shmkit_heap_names(h, names_cb, &acc), 153);
	in = hstat(h);
	ASSERT_EQ(in.named, 153);
	ASSERT_EQ(in.allocations, 153);
	check_ok(h, "named objects");
	/* Names survive close and reopen. */
	ASSERT_OK(shmkit_heap_close(h));
	ASSERT_OK(shmkit_heap_open(spec, 0, &h));
	ASSERT_OK(shmkit_heap_find(h, "obj-299", &r, &sz));
	ASSERT_EQ(sz, 8 + 299 * 8);
	ASSERT_EQ(*(int *)shmkit_heap_ptr(h, r), 299);
	for (i = 1; i < 300; i += 2) {
		char nm[32];
		snprintf(nm, sizeof(nm), "obj-%d", i);
		ASSERT_OK(shmkit_heap_unname(h, nm));
	}
	memset(&acc, 0, sizeof(acc));
	ASSERT_EQ(shmkit_heap_names(h, names_cb, &acc), 3);
	ASSERT_EQ(hstat(h).named, 3);
	check_ok(h, "names unnamed");
	ASSERT_OK(shmkit_heap_destroy(h));
}

/* -- growth ------------------------------------------------------------------ */

static void growth(void)
{
	const char *spec = pspec("grow");
	const uint64_t max = 16 * MiB;
	shmkit_heap *h = mk(spec, 64 * KiB, max);
	shmkit_heap_info base, in, prev;
	static struct blk b[40000];
	uint64_t req = 0, use = 0;
	size_t n = 0, i, sz;
	unsigned grew = 0;
	shmkit_ref r = 0x42;
	int e;

	base = hstat(h);
	ASSERT_EQ(base.size, 64 * KiB);
	ASSERT_EQ(base.max_size, max);
	ASSERT_EQ(base.parts, 1);
	prev = base;
	/* Random sizes, some large, until -ENOMEM; then smaller and smaller
	 * until even 16 bytes do not fit. */
	sz = 0;
	for (;;) {
		size_t want = sz ? sz
				 : (rnd() % 50 == 0 ? 16 * KiB + rnd() % (200 * KiB)
						    : 1 + rnd() % 6000);
		ASSERT(n < sizeof(b) / sizeof(b[0]));
		e = alloc_fill(h, &b[n], want, 9000 + n);
		if (e == -ENOMEM) {
			if (sz == 16)
				break;
			sz = sz ? sz / 2 : 8192;
			if (sz < 16)
				sz = 16;
			continue;
		}
		ASSERT_OK(e);
		req += want;
		use += shmkit_heap_usable(h, b[n].ref);
		n++;
		if (n % 64 == 0) {
			in = hstat(h);
			stat_sane(&in);
			ASSERT(in.size >= prev.size);
			ASSERT(in.parts >= prev.parts);
			grew += in.parts != prev.parts;
			prev = in;
		}
	}
	ASSERT_EQ(r, 0x42);
	ASSERT_ERR(shmkit_heap_alloc(h, 16, &r), ENOMEM);
	ASSERT_ERR(shmkit_heap_calloc(h, 16, &r), ENOMEM);
	ASSERT_ERR(shmkit_heap_get(h, "one more", 16, &r), ENOMEM);
	ASSERT_EQ(r, 0x42);
	in = hstat(h);
	stat_sane(&in);
	printf("     %zu blocks, %u parts, %llu of %llu bytes, used %llu free "
	       "%llu cached %llu\n",
	       n, in.parts, (unsigned long long)in.size,
	       (unsigned long long)in.max_size, (unsigned long long)in.used,
	       (unsigned long long)in.free, (unsigned long long)in.cached);
	ASSERT(in.parts > 1);
	ASSERT(grew >= 1);
	/* Full means max_size reached. */
	ASSERT_EQ(in.size, max);
	ASSERT_EQ(in.allocations, n);
	/* used counts every live block with its header. */
	ASSERT(in.used >= req + 16 * (uint64_t)n);
	ASSERT(in.used <= use + 16 * (uint64_t)n + in.cached + 64 * (uint64_t)n);
	ASSERT(in.used + in.free + overhead_bound(&in) >= in.size);
	/* Every block where it was, with its contents. */
	for (i = 0; i < n; i++)
		verify_blk(h, &b[i]);
	check_ok(h, "grown to max_size");

	/* Free everything (in random order): back to the start. */
	for (i = n; i > 1; i--) {
		size_t j = rnd() % i;
		struct blk t = b[j];
		b[j] = b[i - 1];
		b[i - 1] = t;
	}
	for (i = 0; i < n; i++) {
		ASSERT_OK(shmkit_heap_free(h, b[i].ref));
		if (i % 997 == 0)
			for (size_t j = i + 1; j < n; j += 101)
				verify_blk(h, &b[j]);
	}
	in = hstat(h);
	stat_sane(&in);
	ASSERT_EQ(in.allocations, base.allocations);
	ASSERT_EQ(in.used, base.used);
	ASSERT_EQ(in.size, max); /* nothing shrinks */
	ASSERT(in.free + overhead_bound(&in) >= in.size);
	/* Empty again, so not full: a quarter of it can be had at once (its
	 * largest part is half of it). */
	e = shmkit_heap_alloc(h, (size_t)max / 4, &r);
	if (e < 0) {
		(void)shmkit_heap_destroy(h);
		FAIL_("after freeing everything of a 16 MiB heap of %u parts "
		      "(allocations %llu, used %llu, free %llu, cached %llu, "
		      "largest free block %llu): alloc(4 MiB) says %s",
		      in.parts, (unsigned long long)in.allocations,
		      (unsigned long long)in.used, (unsigned long long)in.free,
		      (unsigned long long)in.cached,
		      (unsigned long long)in.largest_free, shmkit_err_name(e));
	}
	ASSERT_OK(shmkit_heap_free(h, r));
	in = hstat(h);
	check_ok(h, "everything freed");
	/* The largest free block can be had, without growth. */
	ASSERT_OK(shmkit_heap_alloc(h, (size_t)in.largest_free, &r));
	ASSERT(shmkit_heap_ptr(h, r) != NULL);
	memset(shmkit_heap_ptr(h, r), 0x3c, (size_t)in.largest_free);
	ASSERT_EQ(hstat(h).size, max);
	ASSERT_OK(shmkit_heap_free(h, r));
	check_ok(h, "largest block freed");
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(!exists(spec));
}

/* One large request grows the heap by enough at once; named objects in
 * the new parts; all of it there after close and open. */
static void growth_large(void)
{
	const char *spec = pspec("growl");
	const uint64_t max = 16 * MiB;
	shmkit_heap *h = mk(spec, 64 * KiB, max);
	shmkit_heap_info in;
	shmkit_ref r;
	size_t i;

	ASSERT_OK(shmkit_heap_alloc(h, 4 * MiB, &r));
	ASSERT(shmkit_heap_ptr(h, r) != NULL);
	fill(shmkit_heap_ptr(h, r), 4 * MiB, 77);
	in = hstat(h);
	ASSERT(in.size >= 4 * MiB + 64 * KiB);
	ASSERT(in.size <= max);
	ASSERT_EQ(bad_at(shmkit_heap_ptr(h, r), 4 * MiB, 77), 4 * MiB);
	/* Named objects in the new parts too. */
	for (i = 0; i < 50; i++) {
		char nm[16];
		shmkit_ref x;
		snprintf(nm, sizeof(nm), "g%zu", i);
		ASSERT_EQ(shmkit_heap_get(h, nm, 20000, &x), 1);
		fill(shmkit_heap_ptr(h, x), 20000, 500 + i);
	}
	in = hstat(h);
	ASSERT_OK(shmkit_heap_close(h));
	ASSERT_OK(shmkit_heap_open(spec, 0, &h));
	ASSERT_EQ(hstat(h).parts, in.parts);
	ASSERT_EQ(hstat(h).size, in.size);
	ASSERT_EQ(bad_at(shmkit_heap_ptr(h, r), 4 * MiB, 77), 4 * MiB);
	for (i = 0; i < 50; i++) {
		char nm[16];
		shmkit_ref x;
		snprintf(nm, sizeof(nm), "g%zu", i);
		ASSERT_OK(shmkit_heap_find(h, nm, &x, NULL));
		ASSERT_EQ(bad_at(shmkit_heap_ptr(h, x), 20000, 500 + i), 20000);
	}
	ASSERT_ERR(shmkit_heap_alloc(h, max, &r), ENOMEM);
	check_ok(h, "large growth");
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(!exists(spec));
}

/* A fixed heap (anon:, sysv:) fills up and says -ENOMEM; never grows. */
static void fixed_fill(const char *spec)
{
	shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	shmkit_heap_info base = hstat(h), in;
	static struct blk b[2000];
	size_t n = 0, i;
	int e;

	for (;;) {
		ASSERT(n < sizeof(b) / sizeof(b[0]));
		e = alloc_fill(h, &b[n], 100, 40000 + n);
		if (e == -ENOMEM)
			break;
		ASSERT_OK(e);
		n++;
	}
	in = hstat(h);
	ASSERT_EQ(in.size, SHMKIT_HEAP_MIN_SIZE);
	ASSERT_EQ(in.parts, 1);
	ASSERT_EQ(in.allocations, n);
	ASSERT(n > 300); /* 64 KiB of 128-byte blocks, less the header */
	ASSERT(in.used + in.free + overhead_bound(&in) >= in.size);
	for (i = 0; i < n; i++)
		verify_blk(h, &b[i]);
	check_ok(h, "full fixed heap");
	for (i = 0; i < n; i++)
		ASSERT_OK(shmkit_heap_free(h, b[i].ref));
	in = hstat(h);
	ASSERT_EQ(in.used, base.used);
	ASSERT_EQ(in.allocations, 0);
	check_ok(h, "emptied fixed heap");
	ASSERT_OK(shmkit_heap_destroy(h));
}

/*
 * A heap with nothing allocated is not full: after a process filled a
 * fixed heap with small blocks and freed them all, any request the empty
 * heap can hold succeeds, from that process too (whatever it keeps in its
 * own cache, -ENOMEM means "full and cannot grow").
 */
static void empty_heap_not_full(void)
{
	static const size_t small[] = {48, 200, 1000, 0 /* mixed */};
	size_t k;

	for (k = 0; k < sizeof(small) / sizeof(small[0]); k++) {
		shmkit_heap *h = mk(pspec("empty"), SHMKIT_HEAP_MIN_SIZE, 0);
		shmkit_heap_info base = hstat(h), in;
		static shmkit_ref r[2000];
		size_t n = 0, i;
		shmkit_ref big;
		int e;

		while ((e = shmkit_heap_alloc(h, small[k] ? small[k]
							  : 1 + rnd() % 1000,
					      &r[n])) == 0)
			ASSERT(++n < 2000);
		ASSERT_EQ(e, -ENOMEM);
		for (i = n; i > 1; i--) {
			size_t j = rnd() % i;
			shmkit_ref t = r[j];
			r[j] = r[i - 1];
			r[i - 1] = t;
		}
		for (i = 0; i < n; i++)
			ASSERT_OK(shmkit_heap_free(h, r[i]));
		in = hstat(h);
		ASSERT_EQ(in.allocations, 0);
		ASSERT_EQ(in.used, base.used);
		e = shmkit_heap_alloc(h, (size_t)base.largest_free * 3 / 4, &big);
		if (e < 0) {
			(void)shmkit_heap_destroy(h);
			FAIL_("a fixed 64 KiB heap, filled with %zu-byte blocks "
			      "that were all freed (allocations 0, free %llu, "
			      "cached %llu, largest free %llu): alloc(%llu) "
			      "says %s",
			      small[k], (unsigned long long)in.free,
			      (unsigned long long)in.cached,
			      (unsigned long long)in.largest_free,
			      (unsigned long long)base.largest_free * 3 / 4,
			      shmkit_err_name(e));
		}
		ASSERT_OK(shmkit_heap_free(h, big));
		ASSERT_OK(shmkit_heap_destroy(h));
	}
}

static void fixed_heaps_fill(void)
{
	fixed_fill("anon:");
	fixed_fill("sysv:private");
	fixed_fill(pspec("fixed"));
}

/* A full tmpfs under a growing heap: -ENOMEM, never SIGBUS. */
static void on_small_shm(const char *arg)
{
	shmkit_heap *h;
	static struct blk b[4000];
	size_t n = 0, i;
	int e;

	(void)arg;
	h = mk("posix:/heap-enospc", SHMKIT_HEAP_MIN_SIZE, 64 * MiB);
	for (;;) {
		ASSERT(n < sizeof(b) / sizeof(b[0]));
		e = alloc_fill(h, &b[n], 8000, 60000 + n);
		if (e == -ENOMEM)
			break;
		if (e < 0)
			FAIL_("alloc on a full tmpfs: %s (heap.h: -ENOMEM)",
			      shmkit_err_name(e));
		n++;
	}
	ASSERT(hstat(h).size < 4 * MiB);
	for (i = 0; i < n; i++) {
		memset(b[i].p, 0x11, shmkit_heap_usable(h, b[i].ref));
		fill(b[i].p, b[i].size, b[i].seed);
	}
	for (i = 0; i < n; i++)
		verify_blk(h, &b[i]);
	check_ok(h, "heap on a full tmpfs");
	ASSERT_OK(shmkit_heap_destroy(h));
}

static void growth_enospc(void)
{
	const char *skip = test_in_private_shm(on_small_shm, NULL,
					       "size=2m,mode=1777", 60000,
					       "heap on a 2 MiB tmpfs");
	if (skip)
		SKIP(skip);
}

/* -- check ----------------------------------------------------------------- */

static void check_corrupt_one(shmkit_heap *h, unsigned char *at, size_t len,
			      void (*spoil)(unsigned char *, size_t),
			      const char *what)
{
	unsigned char saved[64];
	char why[256];
	int r;

	ASSERT(len <= sizeof(saved));
	memcpy(saved, at, len);
	spoil(at, len);
	memset(why, 'X', sizeof(why));
	r = shmkit_heap_check(h, why, sizeof(why));
	if (r != -EPROTO)
		FAIL_("check of a heap with %s: expected -EPROTO, got %d", what, r);
	if (!memchr(why, '\0', sizeof(why)) || why[0] == '\0' || why[0] == 'X')
		FAIL_("check of a heap with %s: no reason given", what);
	/* why is cut to whylen, NUL included. */
	memset(why, 'X', sizeof(why));
	ASSERT_ERR(shmkit_heap_check(h, why, 8), EPROTO);
	ASSERT(memchr(why, '\0', 8) != NULL);
	ASSERT_EQ(why[8], 'X');
	ASSERT_ERR(shmkit_heap_check(h, NULL, 0), EPROTO);
	ASSERT_ERR(shmkit_heap_check(h, why, 0), EPROTO);
	memcpy(at, saved, len);
	check_ok(h, what);
}

static void spoil_ff(unsigned char *p, size_t n)
{
	memset(p, 0xff, n);
}

static void spoil_zero(unsigned char *p, size_t n)
{
	memset(p, 0, n);
}

static void spoil_size(unsigned char *p, size_t n)
{
	(void)n;
	p[1] ^= 0x01; /* the size in the first word, by 256 */
}

static void spoil_flip(unsigned char *p, size_t n)
{
	(void)n;
	p[8 + 5] ^= 0x10; /* the second word: the block's tag */
}

static void spoil_add(unsigned char *p, size_t n)
{
	uint64_t v;
	ASSERT(n == 8);
	memcpy(&v, p, 8);
	v += 16;
	memcpy(p, &v, 8);
}

static void check_finds_corruption(void)
{
	const char *spec = pspec("check");
	shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	struct heap_hdr *hd = shmkit_addr(shmkit_heap_seg(h));
	shmkit_ref r[6], named;
	unsigned char *p[6];
	char why[128];
	int i, e;

	for (i = 0; i < 6; i++) {
		ASSERT_OK(shmkit_heap_alloc(h, i == 5 ? 3000 : 200, &r[i]));
		p[i] = shmkit_heap_ptr(h, r[i]);
		fill(p[i], 200, 80 + i);
	}
	ASSERT_EQ(shmkit_heap_get(h, "n", 500, &named), 1);
	ASSERT_OK(shmkit_heap_free(h, r[3])); /* a free (or cached) block */
	memset(why, 'X', sizeof(why));
	ASSERT_OK(shmkit_heap_check(h, why, sizeof(why)));
	/* A live block's header, spoiled several ways. */
	check_corrupt_one(h, p[2] - BLK_HDR, BLK_HDR, spoil_ff, "a block header "
								 "of all ones");
	check_corrupt_one(h, p[2] - BLK_HDR, BLK_HDR, spoil_zero,
			  "a zeroed block header");
	check_corrupt_one(h, p[2] - BLK_HDR, BLK_HDR, spoil_size,
			  "a block 256 bytes longer");
	check_corrupt_one(h, p[5] - BLK_HDR, BLK_HDR, spoil_size,
			  "a large block 256 bytes longer");
	check_corrupt_one(h, p[2] - BLK_HDR, BLK_HDR, spoil_flip,
			  "a block's tag changed");
	check_corrupt_one(h, (unsigned char *)shmkit_heap_ptr(h, named) - BLK_HDR,
			  BLK_HDR, spoil_zero, "a named object's header zeroed");
	/* The counters. */
	check_corrupt_one(h, (unsigned char *)&hd->used, 8, spoil_add,
			  "a wrong used counter");
	check_corrupt_one(h, (unsigned char *)&hd->free, 8, spoil_add,
			  "a wrong free counter");
	check_corrupt_one(h, (unsigned char *)&hd->nblocks, 8, spoil_add,
			  "a wrong block count");
	check_corrupt_one(h, (unsigned char *)&hd->nnamed, 8, spoil_add,
			  "a wrong count of names");

	/* Calls on a corrupted heap fail, or work; they never crash. */
	spoil_ff(p[2] - BLK_HDR, BLK_HDR);
	e = shmkit_heap_free(h, r[2]);
	ASSERT(e == -EINVAL || e == -EPROTO);
	ASSERT(shmkit_heap_ptr(h, r[2]) == NULL);
	e = shmkit_heap_free(h, r[1]); /* its neighbour */
	ASSERT(e == 0 || e == -EPROTO);
	for (i = 0; i < 50; i++) {
		shmkit_ref x;
		e = shmkit_heap_alloc(h, 16 + (size_t)i * 40, &x);
		ASSERT(e == 0 || e == -EPROTO || e == -ENOMEM);
	}
	{
		shmkit_heap_info in;
		e = shmkit_heap_stat(h, &in);
		ASSERT(e == 0 || e == -EPROTO);
	}
	ASSERT_ERR(shmkit_heap_check(h, why, sizeof(why)), EPROTO);
	/* destroy of a corrupted heap may say so; it removes it all the same. */
	e = shmkit_heap_destroy(h);
	ASSERT(e == 0 || e == -EPROTO);
	ASSERT(!exists(spec));
}

static int names_cb_count(const char *name, shmkit_ref ref, size_t size,
			  void *arg)
{
	(void)name;
	(void)ref;
	(void)size;
	(*(int *)arg)++;
	return 0;
}

/*
 * A block header spoiled so that its size, added to its address, wraps
 * around (all ones; the largest size), or is 0 or tiny: every call on the
 * heap returns, none walks on for ever. Each call runs in a child with a
 * bound, which says which call hung. Victim 3 is what fuzz_heap found: a
 * 64-byte block whose payload its owner filled with 0xff (a legal write),
 * followed by a block whose header word 0 is all ones; a walk that adds
 * the size without checking for wrap-around steps back 16 bytes at a time
 * through the 0xff payload to the 64-byte block and round again.
 */
static void corrupt_block_calls_return(void)
{
	static const uint64_t w0s[] = {UINT64_MAX, UINT64_MAX - 1,
				       UINT64_C(0xfffffffffffffff0),
				       UINT64_C(0x8000000000000000), 0, 16,
				       UINT64_C(1) << 40};
	static const char *calls[] = {"open", "check", "stat", "reclaim",
				      "alloc", "free", "names", "get", "close"};
	volatile unsigned *step = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	size_t k;

	ASSERT(step != MAP_FAILED);
	for (k = 0; k < sizeof(w0s) / sizeof(w0s[0]); k++) {
		unsigned victim;
		for (victim = 0; victim < 4; victim++) {
			const char *spec = pspec("wrap");
			shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 1 * MiB);
			shmkit_ref r[4], n;
			unsigned char *p;
			uint64_t w0 = w0s[k];
			pid_t pid;
			int st, i;

			for (i = 0; i < 4; i++)
				ASSERT_OK(shmkit_heap_alloc(h, victim == 3 ? 40 : 2000,
							    &r[i]));
			ASSERT_EQ(shmkit_heap_get(h, "n", 100, &n), 1);
			/* a live block, a freed one, a named object */
			if (victim == 1)
				ASSERT_OK(shmkit_heap_free(h, r[1]));
			p = (unsigned char *)(victim == 2 ? shmkit_heap_ptr(h, n)
							  : shmkit_heap_ptr(h, r[1]));
			if (victim == 1)
				p = (unsigned char *)shmkit_heap_ptr(h, r[0]) +
				    shmkit_heap_usable(h, r[0]) + BLK_HDR;
			if (victim == 3) {
				/* two adjacent 64-byte blocks: fill the first */
				unsigned char *a = shmkit_heap_ptr(h, r[0]);
				for (i = 1; i < 4; i++) {
					p = shmkit_heap_ptr(h, r[i]);
					if (p == a + 64 || p + 64 == a)
						break;
				}
				ASSERT(i < 4);
				if (p + 64 == a) {
					unsigned char *t = a;
					a = p;
					p = t;
				}
				memset(a, 0xff, shmkit_heap_usable(h, shmkit_heap_ref(h, a)));
			}
			memcpy(p - BLK_HDR, &w0, 8);
			*step = 0;
			pid = fork();
			ASSERT(pid >= 0);
			if (pid == 0) {
				shmkit_heap *h2 = NULL;
				shmkit_heap_info in;
				shmkit_ref x;
				char why[128];
				int cnt = 0;

				*step = 0;
				if (shmkit_heap_open(spec, 0, &h2) < 0)
					_exit(0); /* refused: fine */
				*step = 1;
				(void)shmkit_heap_check(h2, why, sizeof(why));
				*step = 2;
				(void)shmkit_heap_stat(h2, &in);
				*step = 3;
				(void)shmkit_heap_reclaim(h2);
				*step = 4;
				(void)shmkit_heap_alloc(h2, 3000, &x);
				*step = 5;
				(void)shmkit_heap_free(h2, r[0]);
				(void)shmkit_heap_free(h2, r[2]);
				*step = 6;
				(void)shmkit_heap_names(h2, names_cb_count, &cnt);
				*step = 7;
				(void)shmkit_heap_get(h2, "m", 100, &x);
				*step = 8;
				(void)shmkit_heap_close(h2);
				_exit(0);
			}
			for (i = 0; i < 5000 * (SANITIZED ? 3 : 1); i++) {
				if (waitpid(pid, &st, WNOHANG) == pid)
					break;
				poll(NULL, 0, 1);
			}
			if (waitpid(pid, &st, WNOHANG) == 0) {
				unsigned at = *step;
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				(void)shmkit_heap_destroy(h);
				FAIL_("a %s whose header word 0 is %#llx: "
				      "shmkit_heap_%s() never returns",
				      victim == 0   ? "live block"
				      : victim == 1 ? "free block"
				      : victim == 2 ? "named object"
						    : "block after a 64-byte block of 0xff",
				      (unsigned long long)w0, calls[at]);
			}
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				FAIL_("a block header of %#llx: the child %s (at "
				      "shmkit_heap_%s)",
				      (unsigned long long)w0,
				      WIFSIGNALED(st) ? strsignal(WTERMSIG(st))
						      : "failed",
				      calls[*step]);
			st = shmkit_heap_destroy(h);
			ASSERT(st == 0 || st == -EPROTO);
		}
	}
	munmap((void *)step, 4096);
}

/*
 * Hostile words in the header: whatever a process that can write the
 * segment puts there, calls fail (-EPROTO, or another error) or work, and
 * never touch memory outside the heap (a crash here is the failure).
 */
static void hostile_header(void)
{
	static const struct {
		size_t off;
		const char *what;
	} fields[] = {
		{offsetof(struct heap_hdr, nparts), "nparts"},
		{offsetof(struct heap_hdr, parts[0].size), "parts[0].size"},
		{offsetof(struct heap_hdr, parts[1].size), "parts[1].size"},
		{offsetof(struct heap_hdr, parts[1].fileoff), "parts[1].fileoff"},
		{offsetof(struct heap_hdr, bins[2]), "bins[2]"},
		{offsetof(struct heap_hdr, bins[100]), "bins[100]"},
		{offsetof(struct heap_hdr, bitmap[0]), "bitmap[0]"},
		{offsetof(struct heap_hdr, names[0]), "names[0]"},
		{offsetof(struct heap_hdr, names[17]), "names[17]"},
		{offsetof(struct heap_hdr, pend[0]), "pend[0]"},
		{offsetof(struct heap_hdr, log_n), "log_n"},
		{offsetof(struct heap_hdr, log[0].addr), "log[0].addr"},
		{offsetof(struct heap_hdr, max_size), "max_size"},
		{offsetof(struct heap_hdr, slots[0].state), "slots[0].state"},
		{offsetof(struct heap_hdr, slots[0].epoch), "slots[0].epoch"},
	};
	const uint64_t vals[] = {0, 1, 15, 16, 17, 4096, UINT64_C(1) << 40,
				 (UINT64_C(1) << 40) + 16, UINT64_MAX, 1000, 65,
				 0x8000000000000000ull};
	size_t f, v;

	for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
		for (v = 0; v < sizeof(vals) / sizeof(vals[0]) + 2; v++) {
			const char *spec = pspec("hostile");
			shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 2 * MiB);
			shmkit_heap *h2;
			unsigned char *base = shmkit_addr(shmkit_heap_seg(h));
			shmkit_ref r[4], x;
			uint64_t val = v < sizeof(vals) / sizeof(vals[0])
					       ? vals[v]
					       : rnd();
			int i, e, cnt = 0;

			for (i = 0; i < 4; i++)
				ASSERT_OK(shmkit_heap_alloc(h, 100 + i * 3000,
							    &r[i]));
			ASSERT_EQ(shmkit_heap_get(h, "nm", 40, &x), 1);
			memcpy(base + fields[f].off, &val, 8);
			for (i = 0; i < 3; i++) {
				void *p;
				e = shmkit_heap_alloc(h, 50 + i * 5000, &x);
				if (e == 0 && (p = shmkit_heap_ptr(h, x)))
					memset(p, 0, 50 + (size_t)i * 5000);
				(void)shmkit_heap_free(h, r[i]);
				(void)shmkit_heap_ptr(h, r[3]);
				(void)shmkit_heap_usable(h, r[3]);
				(void)shmkit_heap_get(h, "nm", 40, &x);
				(void)shmkit_heap_get(h, "other", 40, &x);
				(void)shmkit_heap_find(h, "nm", &x, NULL);
				(void)shmkit_heap_unname(h, "other");
				(void)shmkit_heap_names(h, names_cb_count, &cnt);
			}
			{
				shmkit_heap_info in;
				char why[128];
				(void)shmkit_heap_stat(h, &in);
				(void)shmkit_heap_check(h, why, sizeof(why));
				(void)shmkit_heap_reclaim(h);
			}
			/* And a fresh open of it. */
			if (shmkit_heap_open(spec, 0, &h2) == 0) {
				(void)shmkit_heap_alloc(h2, 100, &x);
				(void)shmkit_heap_ptr(h2, r[3]);
				e = shmkit_heap_close(h2);
				if (e < 0 && e != -EPROTO)
					FAIL_("close with a hostile %s: %s",
					      fields[f].what, shmkit_err_name(e));
			}
			e = shmkit_heap_destroy(h);
			if (e < 0 && e != -EPROTO)
				FAIL_("destroy with a hostile %s: %s", fields[f].what,
				      shmkit_err_name(e));
			ASSERT(!exists(spec));
		}
}

/* -- reclaim, close, stat ---------------------------------------------------- */

static void reclaim_and_close(void)
{
	const char *spec = pspec("close");
	shmkit_heap *a = mk(spec, SHMKIT_HEAP_MIN_SIZE, 4 * MiB), *b;
	shmkit_heap_info in, base;
	shmkit_ref r[100];
	int i, cnt = 0;

	ASSERT_EQ(shmkit_heap_reclaim(a), 0);
	in = base = hstat(a);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_EQ(in.reclaimed_bytes, 0);
	/* A second handle allocates and frees small blocks, then closes: its
	 * cache goes back; nothing is lost. */
	ASSERT_OK(shmkit_heap_open(spec, 0, &b));
	for (i = 0; i < 100; i++)
		ASSERT_OK(shmkit_heap_alloc(b, 48, &r[i]));
	for (i = 0; i < 100; i++)
		ASSERT_OK(shmkit_heap_free(b, r[i]));
	ASSERT_EQ(hstat(b).allocations, 0);
	ASSERT_OK(shmkit_heap_close(b));
	in = hstat(a);
	ASSERT_EQ(in.cached, 0);
	ASSERT_EQ(in.lost_bytes, 0);
	ASSERT_EQ(in.allocations, 0);
	ASSERT_EQ(in.used, base.used);
	ASSERT_EQ(in.procs, 1);
	ASSERT(in.free + overhead_bound(&in) >= in.size);
	ASSERT_EQ(shmkit_heap_reclaim(a), 0);
	ASSERT_EQ(shmkit_heap_names(a, names_cb_count, &cnt), 0);
	ASSERT_EQ(cnt, 0);
	check_ok(a, "after a second handle closed");
	ASSERT_OK(shmkit_heap_close(NULL));
	ASSERT_OK(shmkit_heap_destroy(NULL));
	ASSERT_OK(shmkit_heap_destroy(a));
	ASSERT(!exists(spec));
	/* Destroyed while another handle is open: it goes on working. */
	a = mk(spec, SHMKIT_HEAP_MIN_SIZE, 4 * MiB);
	ASSERT_OK(shmkit_heap_open(spec, 0, &b));
	ASSERT_OK(shmkit_heap_destroy(a));
	ASSERT(!exists(spec));
	ASSERT_OK(shmkit_heap_alloc(b, 200 * KiB, &r[0]));
	memset(shmkit_heap_ptr(b, r[0]), 1, 200 * KiB);
	check_ok(b, "destroyed under a handle");
	ASSERT_OK(shmkit_heap_close(b));
	ASSERT_ERR(shmkit_heap_open(spec, 0, &b), ENOENT);
}

/*
 * close and destroy say -EBUSY, changing nothing, while this process holds
 * a shmkit_mutex that lies in the heap (in a block of part 0, and in one
 * of a grown part).
 */
static void close_busy_while_mutex_held(void)
{
	const char *spec = pspec("busy");
	shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 4 * MiB);
	shmkit_ref r, big, x;
	shmkit_mutex *m;
	int k;

	ASSERT_OK(shmkit_heap_alloc(h, sizeof(shmkit_mutex), &r));
	ASSERT_OK(shmkit_heap_alloc(h, 1 * MiB, &big)); /* a new part */
	ASSERT(hstat(h).parts > 1);
	for (k = 0; k < 2; k++) {
		m = shmkit_heap_ptr(h, k == 0 ? r : big);
		ASSERT(m != NULL);
		ASSERT_OK(shmkit_mutex_init(m));
		ASSERT_OK(shmkit_mutex_lock(m));
		ASSERT_ERR(shmkit_heap_close(h), EBUSY);
		ASSERT_ERR(shmkit_heap_destroy(h), EBUSY);
		/* Nothing changed: the heap is there and the handle works. */
		ASSERT(exists(spec));
		ASSERT(shmkit_heap_ptr(h, r) != NULL);
		ASSERT_OK(shmkit_heap_alloc(h, 100, &x));
		ASSERT_OK(shmkit_heap_free(h, x));
		check_ok(h, "close refused while a mutex is held");
		ASSERT_OK(shmkit_mutex_unlock(m));
	}
	ASSERT_OK(shmkit_heap_destroy(h));
	ASSERT(!exists(spec));
}

/* -- nothing left behind ------------------------------------------------------ */

static void failing_calls(void)
{
	const char *spec = pspec("fail");
	shmkit_heap_opts o;
	shmkit_heap *h, *x;
	shmkit_seg *seg;
	unsigned char junk[SHMKIT_HEAP_MIN_SIZE];
	shmkit_ref r;
	size_t i;

	memset(&o, 0, sizeof(o));
	ASSERT_ERR(shmkit_heap_create(spec, 100, NULL, &x), EINVAL);
	o.max_size = 4096;
	ASSERT_ERR(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &x), EINVAL);
	ASSERT_ERR(shmkit_heap_create(fspec("f"), SHMKIT_HEAP_MIN_SIZE, &o, &x),
		   EINVAL);
	o.max_size = 1 * MiB;
	ASSERT_ERR(shmkit_heap_create("anon:", SHMKIT_HEAP_MIN_SIZE, &o, &x),
		   EINVAL);
	ASSERT_ERR(shmkit_heap_create("sysv:private", SHMKIT_HEAP_MIN_SIZE, &o,
				      &x),
		   EINVAL);
	o.max_size = 0;
	o.flags = SHMKIT_F_RDONLY;
	ASSERT_ERR(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &o, &x), EINVAL);
	ASSERT_ERR(shmkit_heap_create("memfd:f", SHMKIT_HEAP_MIN_SIZE, &o, &x),
		   EINVAL);
	o.flags = 0;
	ASSERT(shmkit_heap_create(spec, (size_t)1 << 50, NULL, &x) < 0);
	ASSERT_ERR(shmkit_heap_open(spec, 0, &x), ENOENT);
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	ASSERT_ERR(shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, NULL, &x),
		   EEXIST);
	while (shmkit_heap_alloc(h, 4000, &r) == 0)
		;
	ASSERT_ERR(shmkit_heap_alloc(h, 4000, &r), ENOMEM);
	ASSERT_ERR(shmkit_heap_alloc(h, 1 * MiB, &r), ENOMEM);
	ASSERT_OK(shmkit_heap_destroy(h));
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 1 * MiB);
	ASSERT_ERR(shmkit_heap_alloc(h, 2 * MiB, &r), ENOMEM);
	ASSERT_OK(shmkit_heap_destroy(h));
	plain_seg(spec, SHMKIT_HEAP_MIN_SIZE, NULL, 0);
	ASSERT_ERR(shmkit_heap_open(spec, 0, &x), EPROTO);
	ASSERT_EQ(shmkit_heap_probe(spec), 0);
	ASSERT_OK(shmkit_unlink(spec));
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rnd();
	plain_seg(spec, sizeof(junk), junk, sizeof(junk));
	ASSERT_ERR(shmkit_heap_open(spec, 0, &x), EPROTO);
	ASSERT_OK(shmkit_unlink(spec));
	h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 0);
	ASSERT_OK(shmkit_heap_close(h));
	ASSERT_OK(shmkit_attach(spec, NULL, &seg));
	((unsigned char *)shmkit_addr(seg))[offsetof(struct heap_hdr, version)] ^=
		1;
	ASSERT_ERR(shmkit_heap_open(spec, 0, &x), EPROTO);
	ASSERT_OK(shmkit_destroy(seg));
	ASSERT_OK(shmkit_create("anon:", 64 * KiB, NULL, &seg));
	ASSERT_ERR(shmkit_heap_open_in(seg, 0, 64 * KiB, &x), EPROTO);
	ASSERT_ERR(shmkit_heap_create_in(seg, 4, 32768, NULL, &x), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 0, 8192, NULL, &x), EINVAL);
	ASSERT_ERR(shmkit_heap_create_in(seg, 0, 128 * KiB, NULL, &x), EINVAL);
	ASSERT_OK(shmkit_destroy(seg));
}

static void successful_cycle(void)
{
	const char *specs[] = {pspec("cycle"), fspec("cycle"), "memfd:cycle",
			       "anon:", "sysv:private"};
	size_t i;

	for (i = 0; i < 5; i++) {
		int grow = i < 3;
		shmkit_heap_opts o;
		shmkit_heap *h;
		shmkit_ref r;
		int e;

		memset(&o, 0, sizeof(o));
		o.max_size = grow ? 4 * MiB : 0;
		e = shmkit_heap_create(specs[i], SHMKIT_HEAP_MIN_SIZE, &o, &h);
		if (i == 2 && e == -ENOSYS)
			continue;
		ASSERT_OK(e);
		if (grow) {
			ASSERT_OK(shmkit_heap_alloc(h, 1 * MiB, &r));
			ASSERT_OK(shmkit_heap_alloc(h, 1 * MiB, &r));
			ASSERT(hstat(h).parts > 1);
		}
		ASSERT_OK(shmkit_heap_destroy(h));
		if (i < 2)
			ASSERT(!exists(specs[i]));
	}
	/* And close, reopen, destroy of a grown heap. */
	{
		const char *spec = pspec("cycle2");
		shmkit_heap *h = mk(spec, SHMKIT_HEAP_MIN_SIZE, 8 * MiB);
		shmkit_ref r;
		ASSERT_OK(shmkit_heap_alloc(h, 3 * MiB, &r));
		ASSERT_OK(shmkit_heap_close(h));
		ASSERT_OK(shmkit_heap_open(spec, 0, &h));
		memset(shmkit_heap_ptr(h, r), 7, 3 * MiB);
		ASSERT_OK(shmkit_heap_destroy(h));
		ASSERT(!exists(spec));
	}
}

static void no_leaks(void)
{
	struct snap s;
	int k;

	failing_calls(); /* the first time may set up what stays */
	successful_cycle();
	s = snap();
	for (k = 0; k < 3; k++)
		failing_calls();
	same_snap(s, "failing heap calls");
	for (k = 0; k < 3; k++)
		successful_cycle();
	same_snap(s, "create and destroy on every backend");
	ASSERT(!test_leftovers());
}

TEST_MAIN("heap", TEST(setup), TEST(backend_posix), TEST(backend_file),
	  TEST(backend_memfd), TEST(backend_anon), TEST(backend_sysv),
	  TEST(create_bad_sizes), TEST(create_bad_flags), TEST(create_eexist),
	  TEST(open_errors), TEST(create_in_open_in), TEST(create_in_min_len),
	  TEST(create_in_alignment),
	  TEST(alloc_basic), TEST(alloc_aligned), TEST(free_errors),
	  TEST(ptr_ref_usable), TEST(named_objects), TEST(growth), TEST(growth_large),
	  TEST(fixed_heaps_fill), TEST(empty_heap_not_full), TEST(growth_enospc),
	  TEST(check_finds_corruption),
	  TEST(corrupt_block_calls_return), TEST(hostile_header),
	  TEST(reclaim_and_close),
	  TEST(close_busy_while_mutex_held), TEST(no_leaks), TEST(teardown))
