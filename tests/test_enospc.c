/*
 * test_enospc.c: a full /dev/shm gives -ENOSPC at create or resize, never
 * SIGBUS later. This is the Docker case: containers get a 64 MB /dev/shm.
 *
 * Each case runs in a forked child with a fresh 64 MiB tmpfs on /dev/shm in
 * a mount namespace of its own (test_in_private_shm). The host's /dev/shm is
 * never touched, and the small one vanishes with the child. Where the
 * namespace or the mount is not permitted the area is skipped, saying which.
 * A segment that was not really reserved would kill the child with SIGBUS
 * during its memset, which the parent reports as a failure.
 */
#include "test.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define MiB ((size_t)1 << 20)

/* Entries in /dev/shm (the small one, inside the child). */
static int shm_entries(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *de;
	int n = 0;

	ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static unsigned long long shm_free(void)
{
	struct statvfs v;
	ASSERT_EQ(statvfs("/dev/shm", &v), 0);
	return (unsigned long long)v.f_bavail * v.f_frsize;
}

static void (*body_fn)(const char *prefix);

/* In the child: the body between two looks at an empty 64 MiB tmpfs. */
static void on_small_shm(const char *prefix)
{
	ASSERT_EQ(shm_entries(), 0);
	ASSERT(shm_free() == 64 * MiB);
	body_fn(prefix);
	ASSERT_EQ(shm_entries(), 0);
	ASSERT(shm_free() == 64 * MiB);
}

/* Run fn in a child with a fresh 64 MiB tmpfs on /dev/shm. */
static void with_small_shm(void (*fn)(const char *prefix), const char *prefix,
			   const char *what)
{
	const char *skip;

	body_fn = fn;
	skip = test_in_private_shm(on_small_shm, prefix, "size=64m,mode=1777",
				   60000, what);
	if (skip)
		SKIP(skip);
}

static char spec_buf[4][256];

static const char *spec(const char *prefix, int i, const char *tag)
{
	snprintf(spec_buf[i], sizeof(spec_buf[0]), "%s%s", prefix,
		 test_name(tag));
	return spec_buf[i];
}

static bool filled_with(const void *p, size_t n, unsigned char c)
{
	const unsigned char *b = p;
	size_t i;
	for (i = 0; i < n; i++)
		if (b[i] != c)
			return false;
	return true;
}

/* The body, for "posix:" and "file:/dev/shm". */
static void full(const char *prefix)
{
	shmkit_seg *a, *b = NULL;
	unsigned long long free0;
	void *addr;
	struct stat st;

	/* More than there is: refused, and nothing is left. */
	ASSERT_ERR(shmkit_create(spec(prefix, 0, "big"), 128 * MiB, NULL, &b),
		   ENOSPC);
	ASSERT(b == NULL);
	ASSERT_EQ(shm_entries(), 0);
	ASSERT(shm_free() == 64 * MiB);

	/* What fits is really there: every byte can be written. */
	ASSERT_OK(shmkit_create(spec(prefix, 1, "a"), 16 * MiB, NULL, &a));
	memset(shmkit_addr(a), 0xab, 16 * MiB);
	ASSERT_EQ(shm_entries(), 1);

	/* 16 + 64 > 64: refused at create, not at the first touch. */
	ASSERT_ERR(shmkit_create(spec(prefix, 2, "more"), 64 * MiB, NULL, &b),
		   ENOSPC);
	ASSERT(b == NULL);
	ASSERT_EQ(shm_entries(), 1);

	/* Growing past the space: -ENOSPC, the old mapping as it was. */
	free0 = shm_free();
	addr = shmkit_addr(a);
	ASSERT_ERR(shmkit_resize(a, 72 * MiB), ENOSPC);
	ASSERT(shmkit_addr(a) == addr);
	ASSERT_EQ(shmkit_size(a), 16 * MiB);
	ASSERT_EQ(fstat(shmkit_fd(a), &st), 0);
	ASSERT_EQ(st.st_size, 16 * MiB);
	ASSERT(filled_with(addr, 16 * MiB, 0xab));
	ASSERT(shm_free() == free0); /* the partial reservation was undone */

	/* Growing within it works, and the new part is really there. */
	ASSERT_OK(shmkit_resize(a, 40 * MiB));
	ASSERT(filled_with(shmkit_addr(a), 16 * MiB, 0xab));
	memset((char *)shmkit_addr(a) + 16 * MiB, 0xcd, 24 * MiB);
	ASSERT_OK(shmkit_destroy(a));
}

/* Fill it to the brim with 8 MiB segments: each is whole or refused. */
static void brim(const char *prefix)
{
	shmkit_seg *s[9], *x = NULL;
	int i, n;

	for (n = 0; n < 9; n++) {
		int r = shmkit_create(spec(prefix, 0, "brim"), 8 * MiB, NULL,
				      &s[n]);
		if (r == -ENOSPC)
			break;
		ASSERT_OK(r);
		memset(shmkit_addr(s[n]), n + 1, 8 * MiB);
	}
	/* 64 MiB holds exactly eight: the ninth must be refused. */
	ASSERT_EQ(n, 8);
	ASSERT_EQ(shm_entries(), 8);
	ASSERT_ERR(shmkit_create(spec(prefix, 1, "one-more"), 4096, NULL, &x),
		   ENOSPC);
	ASSERT(x == NULL);
	for (i = 0; i < n; i++) {
		ASSERT(filled_with(shmkit_addr(s[i]), 8 * MiB,
				   (unsigned char)(i + 1)));
		ASSERT_OK(shmkit_destroy(s[i]));
	}
}

/* NORESERVE is the caller's choice of sparse memory: nothing is reserved. */
static void sparse(const char *prefix)
{
	const shmkit_opts nr = {.flags = SHMKIT_F_NORESERVE};
	shmkit_seg *s;

	ASSERT_OK(shmkit_create(spec(prefix, 0, "sparse"), 128 * MiB, &nr, &s));
	ASSERT_EQ(shmkit_size(s), 128 * MiB);
	ASSERT(shm_free() == 64 * MiB);
	memset(shmkit_addr(s), 1, MiB); /* what is touched is allocated */
	ASSERT(shm_free() == 63 * MiB);
	ASSERT_OK(shmkit_destroy(s));
}

static void posix_full(void)
{
	with_small_shm(full, "posix:", "posix on a 64 MiB /dev/shm");
}

static void file_full(void)
{
	with_small_shm(full, "file:/dev/shm", "file on a 64 MiB /dev/shm");
}

static void posix_brim(void)
{
	with_small_shm(brim, "posix:", "posix filling /dev/shm");
}

static void file_brim(void)
{
	with_small_shm(brim, "file:/dev/shm", "file filling /dev/shm");
}

static void posix_sparse(void)
{
	with_small_shm(sparse, "posix:", "posix NORESERVE on /dev/shm");
}

TEST_MAIN("enospc", TEST(posix_full), TEST(file_full), TEST(posix_brim),
	  TEST(file_brim), TEST(posix_sparse))
