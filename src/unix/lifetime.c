/*
 * lifetime.c: which segments are still in use, and removing the stale ones
 * without a daemon.
 *
 * A PID is no witness: it is reused, and a process can be attaching right
 * now. The witness is a lock the kernel keeps for us. Every shmkit handle on
 * an ephemeral descriptor-backed segment (posix, file) holds a shared
 * flock(2) on its own open file description for as long as it is attached;
 * the kernel drops it when the handle is closed or the process dies, however
 * it dies. A segment whose lock can be taken exclusively is used by no live
 * shmkit handle.
 *
 * Ephemeral segments carry two marks. The extended attribute
 * user.shmkit.life = "ephemeral" is the authoritative one: gc removes nothing
 * without it, and the creator sets it only once it holds its shared lock, so
 * gc never sees a marked segment that is not locked by a live creator or
 * user. The sticky mode bit (S_ISVTX, meaningless on a regular file) is the
 * cheap one: an attacher sees it in the fstat() it makes anyway, so only
 * ephemeral segments pay for the lock; persistent ones cost nothing extra.
 * A persistent file: segment gets user.shmkit.life = "persistent" at
 * create, best effort and never checked by gc: it only lets
 * shmkit_list_dir() tell shmkit's segments from the other files of a
 * directory (posix: segments need no mark, /dev/shm holds nothing else).
 *
 * An ephemeral segment is built without a name (O_TMPFILE in its directory:
 * locked, marked, sized, reserved, mapped) and only then given its name with
 * linkat(), which fails if the name is taken, so create stays exclusive. A
 * creator killed at any point before that leaves nothing: the kernel frees
 * the unnamed inode with its last descriptor. Nobody can attach a half-made
 * ephemeral segment, and none is ever left unmarked for gc to miss.
 * gc removes a segment only when all of these hold: it carries the mark (so
 * it is shmkit's and meant to go: never a persistent one, never one shmkit
 * did not create), the exclusive lock was granted (nobody uses it), and the
 * name still refers to the inode that was locked. It removes it while
 * holding the lock. An attacher that opened the name just before the
 * removal waits for its shared lock until gc is done, then sees
 * st_nlink == 0 and reports -ENOENT instead of joining a removed segment.
 *
 * Removal must be atomic with that last check, and unlinkat() is not: it
 * removes whatever the name refers to when it runs. Between the check and
 * the unlink another process may remove the stale name and create a live
 * segment under it (the ordinary "remove, then create fresh" restart), and
 * a plain unlink would remove the live one's name. So gc renames the name
 * to a private one in the same directory (".shmkit-gc-<pid>-<n>", with
 * RENAME_NOREPLACE), which moves exactly one inode, atomically; checks that
 * the inode now under the private name is the one it holds LOCK_EX on; and
 * only then unlinks the private name, which nobody else creates. If it is
 * not (the name was re-made before the rename), it puts that live segment
 * back under its name with RENAME_NOREPLACE. What remains: while the name
 * is away (between the two renames, microseconds), an attach by that name
 * gets -ENOENT, and a create of that name can succeed; if one does, the put
 * back fails and the moved segment stays under the private name, intact and
 * usable by its handles, but reachable by name only as that dot name, and
 * collected by a later gc once unused (if ephemeral). That needs the name
 * re-made twice within a few microseconds, by a restart racing a gc.
 *
 * A gc killed between its rename and its unlink leaves a stale segment
 * under its private name. gc's walk skips dot names but those: one with
 * gc's prefix, the ephemeral mark and a free exclusive lock is such a
 * leftover, and is unlinked as it stands. A dry run renames nothing.
 *
 * That wait is bounded. flock(2) needs no write permission, so anyone who
 * can open a segment for reading can hold LOCK_EX on it for as long as they
 * like; a blocking LOCK_SH would then hang every attacher. Attach takes the
 * lock with LOCK_NB, retried with a backoff (0.1 ms doubling to 50 ms) for
 * at most JOIN_WAIT_MS, then gives up with -EBUSY. gc and the probes of
 * list/stat/in_use hold LOCK_EX only for the instant of their check (and
 * gc's removal), so a legitimate wait is microseconds and one second is
 * generous. The same reader can hold LOCK_SH to make a stale segment look
 * in use, so that gc never collects it: read access is enough for both, and
 * the mode is what limits who has it.
 *
 * System V segments need none of this: an ephemeral one is marked for
 * removal (IPC_RMID) as soon as its creator has attached, and the kernel
 * frees it at the last detach (src/unix/sysv.c: what a creator killed
 * before that leaves). memfd and anon segments are freed by the kernel with
 * their last user in any case.
 *
 * Processes that map a segment without shmkit hold no lock; gc may then
 * remove the name of an ephemeral segment they still map (their mapping
 * stays valid). Persistent segments are never touched.
 */
#include "../internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define LIFE_XATTR "user.shmkit.life"
#define LIFE_EPHEMERAL "ephemeral"
#define LIFE_PERSISTENT "persistent"

/* The longest an attacher waits for its shared lock before -EBUSY. */
#define JOIN_WAIT_MS 1000

static int64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* LOCK_SH without ever blocking for long: -EBUSY once JOIN_WAIT_MS have
 * passed with someone holding LOCK_EX (see the top of the file). */
static int lock_shared_bounded(int fd)
{
	int64_t start = 0, left, nap_us = 100;
	struct timespec nap;

	for (;;) {
		if (flock(fd, LOCK_SH | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (!start)
			start = now_us();
		left = start + JOIN_WAIT_MS * 1000 - now_us();
		if (left <= 0)
			return -EBUSY;
		if (nap_us > left)
			nap_us = left;
		nap.tv_sec = (time_t)(nap_us / 1000000);
		nap.tv_nsec = (long)(nap_us % 1000000) * 1000;
		(void)nanosleep(&nap, NULL); /* EINTR: just try again sooner */
		if (nap_us < 50000)
			nap_us *= 2;
	}
}

int shmkit__life_claim(int fd, unsigned flags)
{
	if (!(flags & SHMKIT_F_EPHEMERAL))
		return 0; /* persistent: nothing to witness, nothing to pay */
	/* The inode has no name yet: nobody else can hold its lock. */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	if (fsetxattr(fd, LIFE_XATTR, LIFE_EPHEMERAL,
		      sizeof(LIFE_EPHEMERAL) - 1, 0) < 0)
		return errno == EOPNOTSUPP ? -ENOTSUP : -errno;
	return 0;
}

int shmkit__life_join(int fd, struct stat *st, bool named)
{
	int r;

	if (!(st->st_mode & S_ISVTX))
		return 0;
	r = lock_shared_bounded(fd);
	if (r < 0)
		return r;
	if (!named)
		return 0;
	/* gc unlinks while holding its exclusive lock: now that we hold ours,
	 * the link count says whether the name we opened is still there. */
	if (fstat(fd, st) < 0)
		return -errno;
	return st->st_nlink == 0 ? -ENOENT : 0;
}

int shmkit__life_open_unnamed(int dfd, const char *name, unsigned mode)
{
	int fd;

	if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST; /* fail fast; linkat() is the real arbiter */
	do {
		fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == EOPNOTSUPP || errno == EISDIR ? -ENOTSUP : -errno;
	return fd;
}

int shmkit__life_publish(int fd, int dfd, const char *name)
{
	char proc[64];

	/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc link
	 * does the same for anyone. Exclusive: -EEXIST if the name is taken. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno == ENOENT && linkat(fd, "", dfd, name, AT_EMPTY_PATH) == 0)
		return 0; /* no /proc, but privileged */
	return -errno;
}

static bool is_ephemeral(int fd)
{
	char v[sizeof(LIFE_EPHEMERAL)];
	ssize_t n = fgetxattr(fd, LIFE_XATTR, v, sizeof(v));
	return n == (ssize_t)sizeof(LIFE_EPHEMERAL) - 1 &&
	       !memcmp(v, LIFE_EPHEMERAL, (size_t)n);
}

void shmkit__life_mark_file(int fd)
{
	/* Only a name to list by: nothing depends on it being there. */
	(void)fsetxattr(fd, LIFE_XATTR, LIFE_PERSISTENT,
			sizeof(LIFE_PERSISTENT) - 1, 0);
}

bool shmkit__life_made(int fd)
{
	char v[sizeof(LIFE_PERSISTENT)];
	ssize_t n = fgetxattr(fd, LIFE_XATTR, v, sizeof(v));

	return (n == (ssize_t)sizeof(LIFE_EPHEMERAL) - 1 &&
		!memcmp(v, LIFE_EPHEMERAL, (size_t)n)) ||
	       (n == (ssize_t)sizeof(LIFE_PERSISTENT) - 1 &&
		!memcmp(v, LIFE_PERSISTENT, (size_t)n));
}

int shmkit__life_probe(int fd)
{
	if (!is_ephemeral(fd))
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		(void)flock(fd, LOCK_UN);
		return (int)(SHMKIT_INFO_EPHEMERAL | SHMKIT_INFO_STALE);
	}
	if (errno != EWOULDBLOCK)
		return -errno;
	return (int)SHMKIT_INFO_EPHEMERAL;
}

int shmkit_in_use(const char *spec)
{
	shmkit__spec sp;
	struct shmid_ds ds;
	struct stat st;
	int fd, r;

	r = shmkit__spec_parse(spec, &sp);
	if (r < 0)
		return r;
	/* O_NONBLOCK: a FIFO at the name must not block the open. */
	switch (sp.backend) {
	case SHMKIT_BACKEND_POSIX:
		fd = shm_open(sp.name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
			      0);
		if (fd < 0)
			return -errno;
		break;
	case SHMKIT_BACKEND_FILE:
		fd = shmkit__path_open(sp.name, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
		if (fd < 0)
			return fd;
		break;
	case SHMKIT_BACKEND_SYSV:
		if (sp.by_id) {
			r = sp.shmid;
		} else {
			key_t key = sp.key;
			if (sp.by_ftok && (key = ftok(sp.name, sp.proj)) == -1)
				return -errno;
			r = shmget(key, 0, 0);
			if (r < 0)
				return -errno;
		}
		if (shmctl(r, IPC_STAT, &ds) < 0)
			return errno == EINVAL || errno == EIDRM ? -ENOENT : -errno;
		return ds.shm_nattch > 0;
	default:
		return -ENOTSUP; /* memfd, fd, anon: in use while they exist */
	}
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode))
		r = -ENODEV; /* a FIFO or device: attach refuses it too */
	else
		r = shmkit__life_probe(fd);
	shmkit__close(fd);
	if (r < 0)
		return r;
	if (r & SHMKIT_INFO_EPHEMERAL)
		return !(r & SHMKIT_INFO_STALE);
	/* Persistent segments hold no lock: ask the kernel who maps them. */
	r = shmkit_who(spec, NULL, 0);
	return r < 0 ? r : r > 0;
}

/* The private names gc moves a segment to while it removes it, in the same
 * directory: GC_PREFIX "<pid>-<n>". Dot names, so no walk reports them. */
#define GC_PREFIX ".shmkit-gc-"

void (*shmkit__gc_hook)(int stage, int dfd, const char *name);

static void gc_hook(int stage, int dfd, const char *name)
{
	void (*hook)(int, int, const char *) = shmkit__gc_hook;
	if (hook)
		hook(stage, dfd, name);
}

static bool is_gc_name(const char *name)
{
	return !strncmp(name, GC_PREFIX, sizeof(GC_PREFIX) - 1);
}

/* Whether name in dfd is (still) the file *st describes. */
static bool names(int dfd, const char *name, const struct stat *st)
{
	struct stat now;
	return fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	       now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

/* Rename name to a fresh private name (written to priv), never replacing
 * anything. 0, or -errno (-ENOENT: the name went away meanwhile). */
static int move_away(int dfd, const char *name, char priv[NAME_MAX + 1])
{
	static unsigned seq;
	int tries;

	for (tries = 0; tries < 16; tries++) {
		snprintf(priv, NAME_MAX + 1, GC_PREFIX "%d-%u", (int)getpid(),
			 __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
		if (renameat2(dfd, name, dfd, priv, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
		/* A leftover of a dead gc that had our pid: take the next. */
	}
	return -EEXIST;
}

/*
 * Remove name, which names the inode *st that we hold LOCK_EX on and found
 * stale, so that the removal is atomic with the check (see the top of the
 * file): 1 removed, 0 left alone, <0 error.
 */
static int remove_locked(int dfd, const char *name, const struct stat *st)
{
	char priv[NAME_MAX + 1];
	int r;

	gc_hook(SHMKIT__GC_CHECKED, dfd, name);
	if (is_gc_name(name)) { /* a leftover: the name is private already */
		if (unlinkat(dfd, name, 0) < 0)
			return errno == ENOENT ? 0 : -errno;
		return 1;
	}
	r = move_away(dfd, name, priv);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	gc_hook(SHMKIT__GC_MOVED, dfd, priv);
	if (!names(dfd, priv, st)) {
		/* The name was re-made between the check and the rename, and we
		 * moved a live segment: put it back. If the name was made again
		 * in that instant too, this fails and it stays at priv (the
		 * corner the top of the file describes). */
		(void)renameat2(dfd, priv, dfd, name, RENAME_NOREPLACE);
		return 0;
	}
	if (unlinkat(dfd, priv, 0) < 0) {
		r = -errno;
		(void)renameat2(dfd, priv, dfd, name, RENAME_NOREPLACE);
		return r;
	}
	return 1;
}

/* Remove one entry of dir if it is a stale ephemeral segment: 1 removed
 * (or, dry run, would be), 0 left alone, <0 error. */
static int gc_one(int dfd, const char *name, unsigned flags, uint64_t *size)
{
	struct stat st;
	int fd, r = 0;

	fd = openat(dfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return 0; /* gone, not ours to read, or a symlink */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !is_ephemeral(fd))
		goto out;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto out; /* a live handle holds it */
	if (!names(dfd, name, &st))
		goto out; /* replaced since we opened it */
	*size = (uint64_t)st.st_size;
	r = (flags & SHMKIT_GC_DRY_RUN) ? 1 : remove_locked(dfd, name, &st);
out:
	shmkit__close(fd); /* drops the lock, after the removal */
	return r;
}

int shmkit_gc(const char *dir, unsigned flags, shmkit_gc_cb cb, void *arg)
{
	char spec[SHMKIT_SPEC_MAX];
	const char *d = dir ? dir : "/dev/shm";
	struct dirent *de;
	int dfd, count = 0, first_err = 0;
	DIR *dp;

	if (flags & ~SHMKIT_GC_DRY_RUN)
		return -EINVAL;
	/* A file: directory is resolved as file: paths are (src/unix/path.c). */
	if (dir)
		dfd = shmkit__path_open(d, O_RDONLY | O_DIRECTORY, 0);
	else if ((dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		dfd = -errno;
	if (dfd < 0)
		return dfd;
	dp = fdopendir(dfd);
	if (!dp) {
		int e = -errno;
		shmkit__close(dfd);
		return e;
	}
	while ((de = readdir(dp)) != NULL) {
		uint64_t size = 0;
		int r;

		/* Dot names are nobody's segments, but for what a gc killed
		 * mid-removal left under its private name. */
		if (de->d_name[0] == '.' && !is_gc_name(de->d_name))
			continue;
		r = gc_one(dfd, de->d_name, flags, &size);
		if (r < 0) {
			if (!first_err)
				first_err = r;
			continue;
		}
		if (r == 0)
			continue;
		count++;
		if (cb) {
			if (dir)
				snprintf(spec, sizeof(spec), "file:%s/%s", d, de->d_name);
			else
				snprintf(spec, sizeof(spec), "posix:/%s", de->d_name);
			r = cb(spec, size, arg);
			if (r) {
				closedir(dp);
				return r;
			}
		}
	}
	closedir(dp);
	return count ? count : first_err;
}
