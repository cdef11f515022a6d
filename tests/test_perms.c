/*
 * test_perms.c: who may attach a segment, on posix, sysv and file.
 *
 * Create is private (0600) unless the caller asks for more, whatever the
 * umask; a requested mode is exact; SHMKIT_F_GROUP hands the segment to a
 * group; SHMKIT_F_OWNER refuses a segment someone else owns. Each "someone
 * else" is a forked child that drops to uid 65534 (nobody) with a group of
 * our choosing, so the whole area needs root and is skipped without it.
 */
#include "test.h"

#include <grp.h>
#include <stdbool.h>
#include <sys/shm.h>
#include <sys/stat.h>

#define NOBODY 65534
#define OTHER_GID 12345 /* a group nobody else is in */

static unsigned sysv_key(void)
{
	static unsigned n;
	return 0x53480000u | (((unsigned)getpid() & 0xfffu) << 4) | (n++ & 0xfu);
}

enum { POSIX, SYSV, FILE_ };

/* One fresh spec per backend; where their permission bits live. */
struct trio {
	char spec[3][160];
	char path[3][160]; /* posix and file: the file under /dev/shm */
	key_t key;         /* sysv */
};

static void trio(struct trio *t, const char *tag)
{
	const char *n = test_name(tag);

	snprintf(t->spec[POSIX], sizeof(t->spec[0]), "posix:%s", n);
	snprintf(t->path[POSIX], sizeof(t->path[0]), "/dev/shm%s", n);
	t->key = (key_t)sysv_key();
	snprintf(t->spec[SYSV], sizeof(t->spec[0]), "sysv:0x%08x",
		 (unsigned)t->key);
	n = test_name(tag);
	snprintf(t->spec[FILE_], sizeof(t->spec[0]), "file:/dev/shm%s", n);
	snprintf(t->path[FILE_], sizeof(t->path[0]), "/dev/shm%s", n);
}

static void sysv_stat(key_t key, struct shmid_ds *ds)
{
	int id = shmget(key, 0, 0);
	ASSERT(id >= 0);
	ASSERT_EQ(shmctl(id, IPC_STAT, ds), 0);
}

/* The permission bits, owner and group the segment really has. */
static void perms_of(const struct trio *t, int i, unsigned *mode, uid_t *uid,
		     gid_t *gid)
{
	if (i == SYSV) {
		struct shmid_ds ds;
		sysv_stat(t->key, &ds);
		*mode = ds.shm_perm.mode & 0777;
		*uid = ds.shm_perm.uid;
		*gid = ds.shm_perm.gid;
	} else {
		struct stat st;
		ASSERT_EQ(stat(t->path[i], &st), 0);
		*mode = st.st_mode & 07777;
		*uid = st.st_uid;
		*gid = st.st_gid;
	}
}

static void expect_mode(const struct trio *t, int i, unsigned want)
{
	unsigned mode;
	uid_t uid;
	gid_t gid;

	perms_of(t, i, &mode, &uid, &gid);
	if (mode != want)
		FAIL_("%s: mode %04o, want %04o", t->spec[i], mode, want);
}

struct who {
	uid_t uid;
	gid_t gid; /* also the only supplementary group */
};

static const struct who nobody = {NOBODY, NOBODY};
static const struct who stranger = {NOBODY, OTHER_GID};

/*
 * In a child running as w: attach spec with flags and expect -err (0: must
 * attach, see the pattern byte at offset 0 and, unless read-only, write
 * 'w' at offset 1).
 */
static void attach_as(const struct who *w, const char *spec, unsigned flags,
		      int err)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_opts o = {.flags = flags};
		shmkit_seg *s;
		int r;

		if (setgroups(1, &w->gid) < 0 || setgid(w->gid) < 0 ||
		    setuid(w->uid) < 0)
			FAIL_("dropping to %d:%d: %s", (int)w->uid,
			      (int)w->gid, strerror(errno));
		ASSERT(getuid() == w->uid && geteuid() == w->uid);
		r = shmkit_attach(spec, &o, &s);
		if (err) {
			if (r != -err)
				FAIL_("uid %d gid %d attaching %s: expected "
				      "-%s, got %d (%s)",
				      (int)w->uid, (int)w->gid, spec,
				      shmkit_err_name(-err), r,
				      r < 0 ? shmkit_err_name(r) : "ok");
			_exit(0);
		}
		if (r < 0)
			FAIL_("uid %d gid %d attaching %s: %s", (int)w->uid,
			      (int)w->gid, spec, shmkit_err_name(r));
		ASSERT_EQ(((char *)shmkit_addr(s))[0], 'P');
		if (!(flags & SHMKIT_F_RDONLY))
			((char *)shmkit_addr(s))[1] = 'w';
		ASSERT_OK(shmkit_detach(s));
		_exit(0);
	}
	test_expect_child_ok(pid, 10000, spec);
}

static void create_all(const struct trio *t, const shmkit_opts *o,
		       shmkit_seg *s[3])
{
	int i;
	for (i = 0; i < 3; i++) {
		ASSERT_OK(shmkit_create(t->spec[i], 4096, o, &s[i]));
		memcpy(shmkit_addr(s[i]), "P-", 2);
	}
}

static void destroy_all(shmkit_seg *s[3])
{
	int i;
	for (i = 0; i < 3; i++)
		ASSERT_OK(shmkit_destroy(s[i]));
}

#define NEED_ROOT()                                                           \
	do {                                                                  \
		if (geteuid() != 0)                                           \
			SKIP("needs root, to drop to another uid in a child"); \
	} while (0)

/* 0600 whatever the umask, and nobody else gets in. */
static void private_by_default(void)
{
	static const mode_t masks[] = {022, 077};
	size_t m;
	int i;

	NEED_ROOT();
	for (m = 0; m < 2; m++) {
		mode_t old = umask(masks[m]);
		struct trio t;
		shmkit_seg *s[3];

		trio(&t, "private");
		create_all(&t, NULL, s);
		umask(old);
		for (i = 0; i < 3; i++) {
			expect_mode(&t, i, 0600);
			attach_as(&nobody, t.spec[i], 0, EACCES);
			attach_as(&nobody, t.spec[i], SHMKIT_F_RDONLY, EACCES);
		}
		destroy_all(s);
	}
}

/* What the caller asks for is what it gets, even through umask 077. */
static void exact_mode(void)
{
	struct trio t;
	shmkit_opts o = {.mode = 0640};
	shmkit_seg *s[3];
	mode_t old;
	int i;

	NEED_ROOT();
	old = umask(077);
	trio(&t, "m0640");
	create_all(&t, &o, s);
	for (i = 0; i < 3; i++)
		expect_mode(&t, i, 0640);
	destroy_all(s);

	/* 0644: others may read, not write. */
	o.mode = 0644;
	trio(&t, "m0644");
	create_all(&t, &o, s);
	for (i = 0; i < 3; i++) {
		expect_mode(&t, i, 0644);
		attach_as(&nobody, t.spec[i], 0, EACCES);
		attach_as(&nobody, t.spec[i], SHMKIT_F_RDONLY, 0);
		ASSERT_EQ(((char *)shmkit_addr(s[i]))[1], '-');
	}
	destroy_all(s);

	/* 0666: others may read and write. */
	o.mode = 0666;
	trio(&t, "m0666");
	create_all(&t, &o, s);
	umask(old);
	for (i = 0; i < 3; i++) {
		expect_mode(&t, i, 0666);
		attach_as(&nobody, t.spec[i], 0, 0);
		if (((char *)shmkit_addr(s[i]))[1] != 'w')
			FAIL_("%s: the other user's write is not visible",
			      t.spec[i]);
	}
	destroy_all(s);
}

/* SHMKIT_F_GROUP: the group, and only the group, gets the group bits. */
static void group(void)
{
	struct trio t;
	shmkit_opts o = {.mode = 0660, .flags = SHMKIT_F_GROUP,
			 .group = NOBODY};
	shmkit_seg *s[3];
	int i;

	NEED_ROOT();
	trio(&t, "group");
	create_all(&t, &o, s);
	for (i = 0; i < 3; i++) {
		unsigned mode;
		uid_t uid;
		gid_t gid;

		perms_of(&t, i, &mode, &uid, &gid);
		ASSERT_EQ(mode, 0660);
		ASSERT_EQ(uid, geteuid());
		ASSERT_EQ(gid, NOBODY);
		attach_as(&stranger, t.spec[i], 0, EACCES);
		attach_as(&nobody, t.spec[i], 0, 0);
		if (((char *)shmkit_addr(s[i]))[1] != 'w')
			FAIL_("%s: the group member's write is not visible",
			      t.spec[i]);
	}
	destroy_all(s);
}

/* SHMKIT_F_OWNER: attach only what the expected user owns. */
static void owner(void)
{
	struct trio t;
	shmkit_seg *s[3], *a;
	shmkit_opts o = {.flags = SHMKIT_F_OWNER};
	int i;

	NEED_ROOT();
	trio(&t, "owner");
	create_all(&t, NULL, s);
	for (i = 0; i < 3; i++) {
		/* Ours: accepted for us, refused for anyone else. */
		o.owner = geteuid();
		ASSERT_OK(shmkit_attach(t.spec[i], &o, &a));
		ASSERT_OK(shmkit_detach(a));
		o.owner = NOBODY;
		a = NULL;
		ASSERT_ERR(shmkit_attach(t.spec[i], &o, &a), EPERM);
		ASSERT(a == NULL);
		/* Given away to nobody: now the other way round. */
		if (i == SYSV) {
			struct shmid_ds ds;
			sysv_stat(t.key, &ds);
			ds.shm_perm.uid = NOBODY;
			ASSERT_EQ(shmctl(shmget(t.key, 0, 0), IPC_SET, &ds), 0);
		} else {
			ASSERT_EQ(chown(t.path[i], NOBODY, (gid_t)-1), 0);
		}
		o.owner = geteuid();
		ASSERT_ERR(shmkit_attach(t.spec[i], &o, &a), EPERM);
		ASSERT(a == NULL);
		o.owner = NOBODY;
		ASSERT_OK(shmkit_attach(t.spec[i], &o, &a));
		ASSERT_EQ(((char *)shmkit_addr(a))[0], 'P');
		ASSERT_OK(shmkit_detach(a));
		/* Without the flag the owner does not matter. */
		ASSERT_OK(shmkit_attach(t.spec[i], NULL, &a));
		ASSERT_OK(shmkit_detach(a));
	}
	destroy_all(s);
}

/*
 * Squatting: another user creates the name first, world-writable, hoping we
 * adopt it. Create must refuse (-EEXIST) and leave the planted segment as it
 * is; attach with SHMKIT_F_OWNER refuses the impostor.
 */
static void squatter_never_adopted(void)
{
	struct trio t;
	shmkit_opts mine = {.flags = SHMKIT_F_OWNER};
	shmkit_seg *s;
	pid_t pid;
	int i;

	NEED_ROOT();
	trio(&t, "squat");
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		const shmkit_opts open_ = {.mode = 0666};
		gid_t g = NOBODY;
		if (setgroups(1, &g) < 0 || setgid(NOBODY) < 0 ||
		    setuid(NOBODY) < 0)
			_exit(2);
		for (i = 0; i < 3; i++) {
			if (shmkit_create(t.spec[i], 4096, &open_, &s) < 0)
				_exit(3);
			memcpy(shmkit_addr(s), "SQ", 2);
			shmkit_detach(s);
		}
		_exit(0);
	}
	test_expect_child_ok(pid, 10000, "squatter");
	for (i = 0; i < 3; i++) {
		s = NULL;
		ASSERT_ERR(shmkit_create(t.spec[i], 4096, NULL, &s), EEXIST);
		ASSERT(s == NULL);
		mine.owner = geteuid();
		ASSERT_ERR(shmkit_attach(t.spec[i], &mine, &s), EPERM);
		ASSERT(s == NULL);
		/* Untouched: still the squatter's bytes and owner. */
		mine.owner = NOBODY;
		ASSERT_OK(shmkit_attach(t.spec[i], &mine, &s));
		ASSERT(!memcmp(shmkit_addr(s), "SQ", 2));
		ASSERT_OK(shmkit_destroy(s));
	}
}

TEST_MAIN("perms", TEST(private_by_default), TEST(exact_mode), TEST(group),
	  TEST(owner), TEST(squatter_never_adopted))
