/*
 * test_badinput.c: bad input gets a clear error and changes nothing.
 *
 * Every refused call here runs between two snapshots of what it could have
 * left behind, which must be identical: our entries in /dev/shm, the System
 * V segments this process created (/proc/sysvipc/shm, by creator pid), our
 * open descriptors (/proc/self/fd) and our shared mappings (/proc/self/maps).
 * The output pointer is preset to a sentinel and must still hold it.
 *
 * The /dev/shm and System V snapshots are limited to what this process made
 * so that other tests running at the same time cannot disturb them; every
 * name used here carries our pid, so anything a failed call made would show.
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>

struct snap {
	char shm[16384];  /* our /dev/shm names, sorted, one per line */
	char sysv[4096];  /* "key id size" of segments we created */
	int fds;
	int maps;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void snap_shm(char *out, size_t len)
{
	char prefix[64], *names[256];
	struct dirent *de;
	size_t n = 0, i, used = 0;
	DIR *d = opendir("/dev/shm");

	ASSERT(d != NULL);
	snprintf(prefix, sizeof(prefix), "shmkit-test-%d-", (int)getpid());
	while ((de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, prefix, strlen(prefix)) && n < 256)
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		int w = snprintf(out + used, len - used, "%s\n", names[i]);
		if (w > 0 && (size_t)w < len - used)
			used += (size_t)w;
		free(names[i]);
	}
}

static void snap_sysv(char *out, size_t len)
{
	char line[512];
	long key, id, size, cpid;
	size_t used = 0;
	FILE *f = fopen("/proc/sysvipc/shm", "re");

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%ld %ld %*s %ld %ld", &key, &id, &size,
			   &cpid) != 4 ||
		    cpid != (long)getpid())
			continue;
		int w = snprintf(out + used, len - used, "%ld %ld %ld\n", key,
				 id, size);
		if (w > 0 && (size_t)w < len - used)
			used += (size_t)w;
	}
	fclose(f);
}

static void snap_take(struct snap *s)
{
	snap_shm(s->shm, sizeof(s->shm));
	snap_sysv(s->sysv, sizeof(s->sysv));
	s->fds = test_count_fds();
	s->maps = test_count_shared_maps();
}

static void snap_same(const struct snap *a, const struct snap *b,
		      const char *what, int line)
{
	if (strcmp(a->shm, b->shm))
		FAIL_("line %d: %s changed /dev/shm:\nbefore:\n%safter:\n%s",
		      line, what, a->shm, b->shm);
	if (strcmp(a->sysv, b->sysv))
		FAIL_("line %d: %s changed System V segments:\nbefore:\n%s"
		      "after:\n%s",
		      line, what, a->sysv, b->sysv);
	if (a->fds != b->fds)
		FAIL_("line %d: %s: open descriptors %d -> %d", line, what,
		      a->fds, b->fds);
	if (a->maps != b->maps)
		FAIL_("line %d: %s: mappings %d -> %d", line, what, a->maps,
		      b->maps);
}

static char sentinel_;
#define SENTINEL ((shmkit_seg *)&sentinel_)

/* shmkit_op(op, ...) must fail with -err and leave everything as it was. */
static void refused(int line, shmkit_opcode op, const char *spec, size_t size,
		    const shmkit_opts *o, int err)
{
	struct snap *before = malloc(sizeof(*before)),
		    *after = malloc(sizeof(*after));
	shmkit_seg *out = SENTINEL;
	char what[160];
	int r;

	ASSERT(before && after);
	snprintf(what, sizeof(what), "%s(\"%.60s\", %zu)",
		 op == SHMKIT_OP_CREATE ? "create" : "attach",
		 spec ? spec : "(null)", size);
	snap_take(before);
	if (op == SHMKIT_OP_CREATE)
		r = shmkit_create(spec, size, o, &out);
	else if (size == 0)
		r = shmkit_attach(spec, o, &out);
	else
		r = shmkit_op(op, spec, size, o, &out);
	if (r != -err)
		FAIL_("line %d: %s: expected -%s, got %d (%s)", line, what,
		      shmkit_err_name(-err), r,
		      r < 0 ? shmkit_err_name(r) : "ok");
	if (out != SENTINEL)
		FAIL_("line %d: %s wrote its output on failure", line, what);
	snap_take(after);
	snap_same(before, after, what, line);
	free(before);
	free(after);
}

#define BAD_CREATE(spec, size, o, err)                                        \
	refused(__LINE__, SHMKIT_OP_CREATE, spec, size, o, err)
#define BAD_ATTACH(spec, o, err) refused(__LINE__, SHMKIT_OP_ATTACH, spec, 0, o, err)

/* Any call returning an int must return -err and change nothing. */
#define BAD_CALL(call, err)                                                   \
	do {                                                                  \
		struct snap *b_ = malloc(sizeof(*b_)),                        \
			    *a_ = malloc(sizeof(*a_));                        \
		ASSERT(b_ && a_);                                             \
		snap_take(b_);                                                \
		ASSERT_ERR(call, err);                                        \
		snap_take(a_);                                                \
		snap_same(b_, a_, #call, __LINE__);                           \
		free(b_);                                                     \
		free(a_);                                                     \
	} while (0)

static unsigned sysv_key(void)
{
	static unsigned n;
	return 0x53480000u | (((unsigned)getpid() & 0xfffu) << 4) | (n++ & 0xfu);
}

/* One spec per backend that can be created, all of them fresh names. */
struct fresh {
	char posix[128], sysv[64], file[160], memfd[128];
};

static void fresh(struct fresh *f, const char *tag)
{
	snprintf(f->posix, sizeof(f->posix), "posix:%s", test_name(tag));
	snprintf(f->sysv, sizeof(f->sysv), "sysv:0x%08x", sysv_key());
	snprintf(f->file, sizeof(f->file), "file:/dev/shm%s", test_name(tag));
	snprintf(f->memfd, sizeof(f->memfd), "memfd:%s", test_name(tag) + 1);
}

/*
 * prefix, then one of our unique names (its leading '/' dropped when slash
 * is false), padded with 'x' to total bytes after the prefix.
 */
static const char *long_name(const char *prefix, bool slash, size_t total)
{
	static char buf[PATH_MAX + 64];
	const char *n = test_name("long");
	size_t p;

	snprintf(buf, sizeof(buf), "%s%s", prefix, slash ? n : n + 1);
	p = strlen(buf);
	ASSERT(strlen(prefix) + total < sizeof(buf));
	while (p < strlen(prefix) + total)
		buf[p++] = 'x';
	buf[p] = '\0';
	return buf;
}

static void bad_specs(void)
{
	char spec[PATH_MAX + 64];
	const char *n = test_name("bad");

	BAD_CREATE("bogus:/x", 4096, NULL, EINVAL);
	BAD_ATTACH("bogus:/x", NULL, EINVAL);
	BAD_CREATE("", 4096, NULL, EINVAL);
	BAD_ATTACH("", NULL, EINVAL);
	BAD_CREATE(NULL, 4096, NULL, EINVAL);
	BAD_ATTACH(NULL, NULL, EINVAL);
	BAD_CREATE("posix:", 4096, NULL, EINVAL);
	BAD_CREATE("posix:/", 4096, NULL, EINVAL);
	BAD_CREATE("file:", 4096, NULL, EINVAL);
	BAD_ATTACH("file:", NULL, EINVAL);
	BAD_CREATE("sysv:", 4096, NULL, EINVAL);
	BAD_CREATE("posix:/..", 4096, NULL, EINVAL);

	/* A second '/' in a POSIX name: not a path under /dev/shm. */
	snprintf(spec, sizeof(spec), "posix:%s/x", n);
	BAD_CREATE(spec, 4096, NULL, EINVAL);
	BAD_ATTACH(spec, NULL, EINVAL);
	snprintf(spec, sizeof(spec), "%s/x", n);
	BAD_CREATE(spec, 4096, NULL, EINVAL);

	/* Names over each backend's limit. */
	BAD_CREATE(long_name("posix:", true, NAME_MAX + 2), 4096, NULL, ENAMETOOLONG);
	BAD_ATTACH(long_name("posix:", true, NAME_MAX + 2), NULL, ENAMETOOLONG);
	BAD_CREATE(long_name("memfd:", false, 250), 4096, NULL, ENAMETOOLONG);
	BAD_ATTACH(long_name("memfd:", false, 250), NULL, ENAMETOOLONG);
	/* file: takes any path; the kernel refuses a component over NAME_MAX. */
	BAD_CREATE(long_name("file:/dev/shm", true, NAME_MAX + 2), 4096, NULL,
		   ENAMETOOLONG);
	BAD_CREATE(long_name("file:/dev/shm", true, PATH_MAX + 1), 4096, NULL,
		   ENAMETOOLONG);
	BAD_CREATE("sysv:0", 4096, NULL, EINVAL);
	BAD_CREATE("sysv:0x100000000", 4096, NULL, EINVAL);
	BAD_CREATE("fd:-1", 4096, NULL, EINVAL);
	BAD_ATTACH("fd:-1", NULL, EINVAL);
}

/* The longest names each backend allows do work (the limits are not off by one). */
static void longest_names_work(void)
{
	char spec[PATH_MAX + 64];
	shmkit_seg *s;

	snprintf(spec, sizeof(spec), "%s", long_name("posix:", true, NAME_MAX + 1));
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	ASSERT(!strcmp(shmkit_spec(s), spec));
	ASSERT_OK(shmkit_destroy(s));
	snprintf(spec, sizeof(spec), "%s", long_name("file:/dev/shm", true, NAME_MAX + 1));
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	ASSERT_OK(shmkit_destroy(s));
	snprintf(spec, sizeof(spec), "%s", long_name("memfd:", false, 249));
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	ASSERT_OK(shmkit_destroy(s));
}

static void bad_sizes(void)
{
	/* Past what off_t holds, or so close to the top that mmap's rounding
	 * would wrap. */
	static const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4095,
				      (size_t)INT64_MAX + 1,
				      SIZE_MAX - (1u << 21) + 1};
	struct fresh f;
	size_t i;

	fresh(&f, "size");
	BAD_CREATE(f.posix, 0, NULL, EINVAL);
	BAD_CREATE(f.sysv, 0, NULL, EINVAL);
	BAD_CREATE(f.file, 0, NULL, EINVAL);
	BAD_CREATE(f.memfd, 0, NULL, EINVAL);
	BAD_CREATE("anon:", 0, NULL, EINVAL);
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		BAD_CREATE(f.posix, huge[i], NULL, EFBIG);
		BAD_CREATE(f.sysv, huge[i], NULL, EFBIG);
		BAD_CREATE(f.file, huge[i], NULL, EFBIG);
		BAD_CREATE(f.memfd, huge[i], NULL, EFBIG);
		BAD_CREATE("anon:", huge[i], NULL, EFBIG);
	}
	/* A size /dev/shm cannot hold: refused at create, nothing left. */
	BAD_CREATE(f.posix, (size_t)1 << 50, NULL, ENOSPC);
	BAD_CREATE(f.file, (size_t)1 << 50, NULL, ENOSPC);

	/* attach learns the size; passing one is a mistake. */
	refused(__LINE__, SHMKIT_OP_ATTACH, f.posix, 4096, NULL, EINVAL);
	refused(__LINE__, SHMKIT_OP_ATTACH, "anon:", 1, NULL, EINVAL);
}

static void bad_opts(void)
{
	static const unsigned bad_flags[] = {0x8000u, 0x40000000u, 0x80000000u, ~0u};
	static const unsigned bad_modes[] = {04600u, 02600u, 01600u, 010000u,
					     0100600u};
	shmkit_opts o;
	struct fresh f;
	shmkit_seg *s;
	size_t i;

	fresh(&f, "opts");
	/* The segment exists, so only the options can be wrong. */
	ASSERT_OK(shmkit_create(f.posix, 4096, NULL, &s));
	for (i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.flags = bad_flags[i];
		BAD_CREATE(f.file, 4096, &o, EINVAL);
		BAD_CREATE(f.sysv, 4096, &o, EINVAL);
		BAD_CREATE(f.memfd, 4096, &o, EINVAL);
		BAD_ATTACH(f.posix, &o, EINVAL);
	}
	for (i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		memset(&o, 0, sizeof(o));
		o.mode = bad_modes[i];
		BAD_CREATE(f.file, 4096, &o, EINVAL);
		BAD_CREATE(f.sysv, 4096, &o, EINVAL);
		BAD_CREATE(f.memfd, 4096, &o, EINVAL);
		BAD_CREATE("anon:", 4096, &o, EINVAL);
	}
	memset(&o, 0, sizeof(o));
	o.flags = SHMKIT_F_RDONLY; /* a read-only mapping of a new segment */
	BAD_CREATE(f.file, 4096, &o, EINVAL);
	BAD_CREATE(f.sysv, 4096, &o, EINVAL);
	BAD_CREATE("anon:", 4096, &o, EINVAL);
	o.flags = SHMKIT_F_NORESERVE; /* nothing to reserve at attach */
	BAD_ATTACH(f.posix, &o, EINVAL);
	/* Regression (issue 7, item 13): create accepted the attach-only
	 * SHMKIT_F_OWNER and ignored it. */
	o.flags = SHMKIT_F_OWNER;
	o.owner = getuid();
	BAD_CREATE(f.file, 4096, &o, EINVAL);
	BAD_CREATE(f.sysv, 4096, &o, EINVAL);
	BAD_CREATE(f.memfd, 4096, &o, EINVAL);
	BAD_CREATE("anon:", 4096, &o, EINVAL);
	BAD_CREATE(test_name("owner"), 4096, &o, EINVAL);
	/* Regression (issue 7, item 10): SHMKIT_F_SEAL was accepted, and did
	 * nothing, on every backend but memfd. */
	o.flags = SHMKIT_F_SEAL;
	BAD_CREATE(f.file, 4096, &o, EINVAL);
	BAD_CREATE(f.sysv, 4096, &o, EINVAL);
	BAD_CREATE("anon:", 4096, &o, EINVAL);
	BAD_CREATE(test_name("seal"), 4096, &o, EINVAL);
	/* Regression (issue 7, item 8): an ephemeral System V segment with a
	 * key left the key taken for good when its creator was killed before
	 * IPC_RMID. Only "sysv:private" can be ephemeral now. */
	o.flags = SHMKIT_F_EPHEMERAL;
	BAD_CREATE(f.sysv, 4096, &o, EINVAL);
	{
		char ftok_spec[64];
		snprintf(ftok_spec, sizeof(ftok_spec), "sysv:/dev/shm#%d",
			 (int)(getpid() % 255) + 1);
		BAD_CREATE(ftok_spec, 4096, &o, EINVAL);
	}
	/* The owner test: a segment we own is refused to whoever else. */
	o.flags = SHMKIT_F_OWNER;
	o.owner = getuid() + 1;
	BAD_ATTACH(f.posix, &o, EPERM);
	ASSERT_OK(shmkit_destroy(s));
}

static void missing(void)
{
	struct fresh f;
	char spec[PATH_MAX];
	int fd;

	fresh(&f, "missing");
	BAD_ATTACH(f.posix, NULL, ENOENT);
	BAD_ATTACH(f.sysv, NULL, ENOENT);
	BAD_ATTACH("sysv:id=2147483647", NULL, ENOENT);
	BAD_ATTACH(f.file, NULL, ENOENT);
	BAD_ATTACH(f.memfd, NULL, ENOENT);
	/* ftok of a path that is not there */
	snprintf(spec, sizeof(spec), "sysv:%s#1", f.file + 5);
	BAD_ATTACH(spec, NULL, ENOENT);
	/* A private segment cannot be found by "private". */
	BAD_ATTACH("sysv:private", NULL, EINVAL);
	/* A descriptor that is not open. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT(fd >= 0);
	close(fd);
	snprintf(spec, sizeof(spec), "fd:%d", fd);
	BAD_ATTACH(spec, NULL, EBADF);
	/* A descriptor that is not a memory object. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT(fd >= 0);
	snprintf(spec, sizeof(spec), "fd:%d", fd);
	BAD_ATTACH(spec, NULL, ENODEV);
	close(fd);

	BAD_CALL(shmkit_unlink(f.posix), ENOENT);
	BAD_CALL(shmkit_unlink(f.sysv), ENOENT);
	BAD_CALL(shmkit_unlink("sysv:id=2147483647"), ENOENT);
	BAD_CALL(shmkit_unlink(f.file), ENOENT);
	BAD_CALL(shmkit_unlink("bogus:x"), EINVAL);
	BAD_CALL(shmkit_unlink(""), EINVAL);
	BAD_CALL(shmkit_unlink(NULL), EINVAL);
}

/* Creating what exists: -EEXIST, and the segment is exactly as it was. */
static void exists(void)
{
	struct fresh f;
	const char *specs[3];
	const shmkit_opts wide = {.mode = 0666};
	size_t i;

	fresh(&f, "exists");
	specs[0] = f.posix;
	specs[1] = f.sysv;
	specs[2] = f.file;
	for (i = 0; i < 3; i++) {
		shmkit_seg *s, *a;
		unsigned char *p;
		struct stat st;
		size_t j;

		ASSERT_OK(shmkit_create(specs[i], 8192, NULL, &s));
		p = shmkit_addr(s);
		for (j = 0; j < 8192; j++)
			p[j] = (unsigned char)(j * 7 + 3);
		BAD_CREATE(specs[i], 8192, NULL, EEXIST);
		BAD_CREATE(specs[i], 4096, &wide, EEXIST);
		BAD_CREATE(specs[i], 1u << 20, NULL, EEXIST);
		for (j = 0; j < 8192; j++)
			if (p[j] != (unsigned char)(j * 7 + 3))
				FAIL_("%s: byte %zu changed by a refused create",
				      specs[i], j);
		ASSERT_OK(shmkit_attach(specs[i], NULL, &a));
		ASSERT_EQ(shmkit_size(a), 8192);
		ASSERT_EQ(memcmp(shmkit_addr(a), p, 8192), 0);
		if (i != 1) {
			ASSERT_EQ(fstat(shmkit_fd(a), &st), 0);
			ASSERT_EQ(st.st_mode & 07777, 0600);
		} else {
			struct shmid_ds ds;
			ASSERT_EQ(shmctl(shmget((key_t)strtoul(specs[i] + 5,
								NULL, 16),
						0, 0),
					 IPC_STAT, &ds),
				  0);
			ASSERT_EQ(ds.shm_perm.mode & 0777, 0600);
			ASSERT_EQ(ds.shm_segsz, 8192);
		}
		ASSERT_OK(shmkit_detach(a));
		ASSERT_OK(shmkit_destroy(s));
	}
}

static void unsupported(void)
{
	const shmkit_opts hu = {.flags = SHMKIT_F_HUGE};
	struct fresh f;
	shmkit_seg *s;
	unsigned char *p;
	char spec[64];

	fresh(&f, "nosup");
	/* Resize where the backend cannot: -ENOTSUP, mapping untouched. */
	ASSERT_OK(shmkit_create(f.sysv, 8192, NULL, &s));
	p = shmkit_addr(s);
	p[8191] = 0x77;
	BAD_CALL(shmkit_resize(s, 16384), ENOTSUP);
	BAD_CALL(shmkit_resize(s, 4096), ENOTSUP);
	ASSERT(shmkit_addr(s) == p);
	ASSERT_EQ(shmkit_size(s), 8192);
	ASSERT_EQ(p[8191], 0x77);
	ASSERT_OK(shmkit_destroy(s));
	ASSERT_OK(shmkit_create("anon:", 8192, NULL, &s));
	p = shmkit_addr(s);
	p[8191] = 0x78;
	BAD_CALL(shmkit_resize(s, 16384), ENOTSUP);
	ASSERT(shmkit_addr(s) == p);
	ASSERT_EQ(shmkit_size(s), 8192);
	ASSERT_EQ(p[8191], 0x78);
	ASSERT_OK(shmkit_destroy(s));

	/* fd: only attaches; anon: only creates; win: is for Windows builds. */
	BAD_CREATE("fd:0", 4096, NULL, ENOTSUP);
	BAD_ATTACH("anon:", NULL, ENOTSUP);
	snprintf(spec, sizeof(spec), "win:%s", test_name("win") + 1);
	BAD_CREATE(spec, 4096, NULL, ENOTSUP);
	BAD_ATTACH(spec, NULL, ENOTSUP);
	BAD_CALL(shmkit_unlink(spec), ENOTSUP);
	/* Nothing to unlink by name. */
	BAD_CALL(shmkit_unlink(f.memfd), ENOTSUP);
	BAD_CALL(shmkit_unlink("anon:"), ENOTSUP);
	BAD_CALL(shmkit_unlink("fd:0"), ENOTSUP);
	/* The kernel hands out ids; one cannot be asked for. */
	BAD_CREATE("sysv:id=5", 4096, NULL, EINVAL);
	/* Huge pages need hugetlbfs, which /dev/shm is not. */
	BAD_CREATE(f.posix, 4096, &hu, ENOTSUP);
	BAD_CREATE(f.file, 4096, &hu, ENOTSUP);
}

/* No place to put the handle: refused before anything is made. */
static void null_out(void)
{
	struct fresh f;
	shmkit_seg *s;

	fresh(&f, "nullout");
	BAD_CALL(shmkit_create(f.posix, 4096, NULL, NULL), EINVAL);
	BAD_CALL(shmkit_create(f.sysv, 4096, NULL, NULL), EINVAL);
	BAD_CALL(shmkit_create(f.file, 4096, NULL, NULL), EINVAL);
	BAD_CALL(shmkit_create(f.memfd, 4096, NULL, NULL), EINVAL);
	BAD_CALL(shmkit_create("anon:", 4096, NULL, NULL), EINVAL);
	ASSERT_ERR(shmkit_unlink(f.posix), ENOENT);
	ASSERT_ERR(shmkit_unlink(f.sysv), ENOENT);
	ASSERT_ERR(shmkit_unlink(f.file), ENOENT);

	ASSERT_OK(shmkit_create(f.posix, 4096, NULL, &s));
	BAD_CALL(shmkit_attach(f.posix, NULL, NULL), EINVAL);
	BAD_CALL(shmkit_op(SHMKIT_OP_ATTACH, f.posix, 0, NULL, NULL), EINVAL);
	ASSERT_OK(shmkit_destroy(s));
}

/* A symlink planted at the name is never followed, to attach or create. */
static void symlinks(void)
{
	char target[128], link[128], spec[160], pspec[160];
	shmkit_seg *s;

	snprintf(target, sizeof(target), "/dev/shm%s", test_name("target"));
	snprintf(link, sizeof(link), "/dev/shm%s", test_name("link"));
	snprintf(spec, sizeof(spec), "file:%s", target);
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	memcpy(shmkit_addr(s), "target", 7);
	ASSERT_EQ(symlink(target, link), 0);

	snprintf(spec, sizeof(spec), "file:%s", link);
	snprintf(pspec, sizeof(pspec), "posix:%s", link + strlen("/dev/shm"));
	BAD_ATTACH(spec, NULL, ELOOP);
	BAD_ATTACH(pspec, NULL, ELOOP);
	BAD_CREATE(spec, 8192, NULL, EEXIST);
	BAD_CREATE(pspec, 8192, NULL, EEXIST);
	ASSERT(!strcmp(shmkit_addr(s), "target"));
	ASSERT_EQ(shmkit_size(s), 4096);
	{
		struct stat st;
		ASSERT_EQ(stat(target, &st), 0);
		ASSERT_EQ(st.st_size, 4096);
	}
	ASSERT_EQ(unlink(link), 0);
	ASSERT_OK(shmkit_destroy(s));
}

/* Whether this kernel (and whatever runs us: valgrind does not know it)
 * has openat2(2). */
static bool have_openat2(void)
{
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_NO_SYMLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

	if (fd >= 0)
		close(fd);
	return fd >= 0 || errno != ENOSYS;
}

/*
 * Regression (issue 7, item 13): file: refused a symlink only as the last
 * component (O_NOFOLLOW) while the docs said symlinks are refused, so
 * file:DIR/link/seg, with link a symlink to a directory, was followed by
 * attach, create, unlink, stat, in_use and gc, and destroy removed a file in
 * whatever directory the link pointed at by then. Now a symlink anywhere in
 * the path is -ELOOP, and what it points at is left alone.
 */
static void symlinked_directories(void)
{
	char dir[128], real[160], link[160], spec[256], path[256], up[160];
	const shmkit_opts eph = {.flags = SHMKIT_F_EPHEMERAL};
	shmkit_seg *s, *moved;
	shmkit_info in;
	struct stat st;

	if (!have_openat2())
		SKIP("no openat2 here (kernel < 5.6, or valgrind): only a "
		     "symlink as the last component is refused, which "
		     "badinput.symlinks checks");
	snprintf(dir, sizeof(dir), "/dev/shm%s-XXXXXX", test_name("symdir"));
	ASSERT(mkdtemp(dir));
	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	ASSERT_EQ(mkdir(real, 0700), 0);
	ASSERT_EQ(symlink("real", link), 0);
	snprintf(spec, sizeof(spec), "file:%s/seg", real);
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	memcpy(shmkit_addr(s), "real", 5);

	/* Through the symlinked directory: refused, whatever the call. */
	snprintf(spec, sizeof(spec), "file:%s/seg", link);
	BAD_ATTACH(spec, NULL, ELOOP);
	BAD_CALL(shmkit_unlink(spec), ELOOP);
	BAD_CALL(shmkit_stat(spec, &in), ELOOP);
	BAD_CALL(shmkit_in_use(spec), ELOOP);
	BAD_CALL(shmkit_who(spec, NULL, 0), ELOOP);
	BAD_CALL(shmkit_gc(link, 0, NULL, NULL), ELOOP);
	snprintf(spec, sizeof(spec), "file:%s/new", link);
	BAD_CREATE(spec, 4096, NULL, ELOOP);
	BAD_CREATE(spec, 4096, &eph, ELOOP);
	snprintf(path, sizeof(path), "%s/new", real);
	ASSERT(access(path, F_OK) < 0);
	/* A symlink higher up counts as much as one just above the name. */
	snprintf(up, sizeof(up), "%s-up", dir);
	ASSERT_EQ(symlink(dir, up), 0);
	snprintf(spec, sizeof(spec), "file:%s/real/seg", up);
	BAD_ATTACH(spec, NULL, ELOOP);
	BAD_CALL(shmkit_unlink(spec), ELOOP);
	ASSERT_EQ(unlink(up), 0);

	/* The directory of a live handle swapped for a symlink: destroy
	 * refuses to follow it and leaves the file it would have hit. */
	snprintf(spec, sizeof(spec), "file:%s/seg", real);
	ASSERT_OK(shmkit_attach(spec, NULL, &moved));
	snprintf(path, sizeof(path), "%s/elsewhere", dir);
	ASSERT_EQ(rename(real, path), 0);
	ASSERT_EQ(symlink("elsewhere", real), 0);
	ASSERT_ERR(shmkit_destroy(moved), ELOOP);
	snprintf(path, sizeof(path), "%s/elsewhere/seg", dir);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT(!strcmp(shmkit_addr(s), "real"));
	ASSERT_OK(shmkit_detach(s));

	ASSERT_EQ(unlink(path), 0);
	ASSERT_EQ(unlink(real), 0);
	snprintf(path, sizeof(path), "%s/elsewhere", dir);
	ASSERT_EQ(rmdir(path), 0);
	ASSERT_EQ(unlink(link), 0);
	ASSERT_EQ(rmdir(dir), 0);
}

/* -- Not a regular file ------------------------------------------------- */

/*
 * Run fn(arg) in a child that must exit 0 within a bound: a call that
 * blocks fails the test with a message instead of hanging the suite.
 */
static void bounded(void (*fn)(const char *), const char *arg,
		    const char *what)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	test_expect_child_ok(pid, 5000, what);
}

/* Every way in by name refuses it at once, and changes nothing. */
static void refuse_by_name(const char *spec)
{
	const shmkit_opts ro = {.flags = SHMKIT_F_RDONLY};
	shmkit_info in;

	BAD_ATTACH(spec, &ro, ENODEV); /* the one that used to block */
	BAD_ATTACH(spec, NULL, ENODEV);
	BAD_CALL(shmkit_stat(spec, &in), ENODEV);
	BAD_CALL(shmkit_in_use(spec), ENODEV);
	BAD_CALL(shmkit_who(spec, NULL, 0), ENODEV);
}

static int count_cb(const shmkit_info *in, void *arg)
{
	(void)in;
	++*(int *)arg;
	return 0;
}

/* list and gc walk past it. */
static void walk_past(const char *dir)
{
	int n = 0;

	ASSERT(shmkit_list(SHMKIT_LIST_POSIX | SHMKIT_LIST_NOPROCS, count_cb,
			   &n) >= 0);
	ASSERT_EQ(shmkit_gc(dir, SHMKIT_GC_DRY_RUN, NULL, NULL), 0);
	ASSERT_EQ(shmkit_gc(dir, 0, NULL, NULL), 0);
}

static void refuse_fd(const char *path)
{
	const shmkit_opts ro = {.flags = SHMKIT_F_RDONLY};
	char spec[32];
	shmkit_info in;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	ASSERT(fd >= 0);
	snprintf(spec, sizeof(spec), "fd:%d", fd);
	BAD_ATTACH(spec, &ro, ENODEV);
	BAD_CALL(shmkit_stat(spec, &in), ENODEV);
	close(fd);
}

/*
 * Regression (issue 7, item 5): a FIFO planted in /dev/shm or at a file:
 * path hung a read-only attach forever (open(O_RDONLY) of a FIFO waits for
 * a writer); `mkfifo /dev/shm/x; shmkit cat posix:/x` never returned. Any
 * user can plant one. Now every way in (attach read-only and read-write,
 * stat, in_use, who, fd:, list, gc) refuses it at once with -ENODEV, as it
 * does a device node; each runs in a bounded child so that a regression
 * fails here with a message instead of hanging.
 */
static void not_a_regular_file(void)
{
	char dir[] = "/dev/shm/shmkit-test-fifo-XXXXXX";
	char path[128], spec[160], fifo_in_dir[160];
	const char *name = test_name("fifo");

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	ASSERT_EQ(mkfifo(path, 0666), 0);
	snprintf(spec, sizeof(spec), "posix:%s", name);
	bounded(refuse_by_name, spec, "posix: attach of a FIFO");
	snprintf(spec, sizeof(spec), "file:%s", path);
	bounded(refuse_by_name, spec, "file: attach of a FIFO");
	bounded(refuse_fd, path, "fd: attach of a FIFO");
	/* A device is no segment either (opening /dev/null is harmless). */
	bounded(refuse_by_name, "file:/dev/null", "file: attach of a device");
	bounded(refuse_fd, "/dev/null", "fd: attach of a device");

	ASSERT(mkdtemp(dir));
	snprintf(fifo_in_dir, sizeof(fifo_in_dir), "%s/fifo", dir);
	ASSERT_EQ(mkfifo(fifo_in_dir, 0666), 0);
	bounded(walk_past, dir, "list and gc past a FIFO");
	ASSERT_EQ(unlink(fifo_in_dir), 0);
	ASSERT_EQ(rmdir(dir), 0);
	ASSERT_EQ(unlink(path), 0);
}

/*
 * Regression (issue 7, item 13): shmkit_strerror(INT_MIN) and
 * shmkit_err_name(INT_MIN) computed -INT_MIN, which overflows; the ASan+UBSan
 * build aborts there on the old code. Every int must give a static string.
 */
static void error_text_of_any_int(void)
{
	static const int values[] = {INT_MIN, INT_MIN + 1, -1000000, -4096,
				     -134, 134, 4096, INT_MAX};
	size_t i;

	ASSERT(!strcmp(shmkit_strerror(INT_MIN), "unknown error"));
	ASSERT(!strcmp(shmkit_err_name(INT_MIN), "UNKNOWN"));
	ASSERT(!strcmp(shmkit_strerror(INT_MIN + 1), "unknown error"));
	ASSERT(!strcmp(shmkit_err_name(INT_MAX), "UNKNOWN"));
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		ASSERT(shmkit_strerror(values[i]) != NULL);
		ASSERT(shmkit_err_name(values[i]) != NULL);
	}
	ASSERT(!strcmp(shmkit_err_name(-ENOENT), "ENOENT"));
	ASSERT(!strcmp(shmkit_err_name(ENOENT), "ENOENT"));
}

/*
 * Past RLIMIT_FSIZE a create or grow of a descriptor-backed segment is
 * -EFBIG and leaves nothing, instead of SIGXFSZ killing the process before
 * it could back out (found by the CLI's tests: `ulimit -f` and `shmkit
 * create` left a file behind). In a child, since the limit is process-wide;
 * SIGXFSZ at its default action, as in any program that never thought of
 * it.
 */
static void over_the_file_size_limit(void)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 64 * 1024, .rlim_max = RLIM_INFINITY};
		struct fresh f;
		shmkit_seg *seg;

		signal(SIGXFSZ, SIG_DFL);
		if (getrlimit(RLIMIT_FSIZE, &rl) == 0)
			rl.rlim_cur = 64 * 1024;
		ASSERT(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		fresh(&f, "fsize");
		BAD_CREATE(f.posix, 1 << 20, NULL, EFBIG);
		BAD_CREATE(f.file, 1 << 20, NULL, EFBIG);
		BAD_CREATE(f.memfd, 1 << 20, NULL, EFBIG);
		/* At the limit it works; growing past it is refused and the
		 * segment keeps its size. */
		ASSERT_OK(shmkit_create(f.posix, 64 * 1024, NULL, &seg));
		ASSERT_ERR(shmkit_resize(seg, 1 << 20), EFBIG);
		ASSERT_EQ(shmkit_size(seg), 64 * 1024);
		ASSERT_OK(shmkit_resize(seg, 4096));
		ASSERT_OK(shmkit_destroy(seg));
		_exit(0);
	}
	test_expect_child_ok(pid, 10000, "creates past RLIMIT_FSIZE");
}

TEST_MAIN("badinput", TEST(bad_specs), TEST(longest_names_work),
	  TEST(bad_sizes), TEST(bad_opts), TEST(missing), TEST(exists),
	  TEST(unsupported), TEST(null_out), TEST(symlinks),
	  TEST(symlinked_directories), TEST(not_a_regular_file), TEST(error_text_of_any_int),
	  TEST(over_the_file_size_limit))
