/*
 * test_lifetime.c: ephemeral vs persistent segments and shmkit_gc().
 *
 * gc must remove an ephemeral segment once no live process uses it, and
 * nothing else: never a persistent one, never one in use, never one shmkit
 * did not create, and never one a process is attaching at that moment.
 *
 * The tests collect only what they made. Cases that gc posix: segments run
 * in a child with a private tmpfs on /dev/shm in a mount namespace of its
 * own (test_in_private_shm), so the host's stale segments are never
 * touched; file: cases use a directory of their own. Nothing here passes
 * shmkit_gc() the host's /dev/shm (test_private_shm_gc_dir() fails a test
 * that tries).
 */
#include "test.h"
#include "internal.h" /* shmkit__gc_hook */

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>

static const shmkit_opts eph = {.flags = SHMKIT_F_EPHEMERAL};

static int exists(const char *posix_name)
{
	char p[256];
	snprintf(p, sizeof(p), "/dev/shm%s", posix_name);
	return access(p, F_OK) == 0;
}

static char *spec_of(const char *name)
{
	static char buf[4][256];
	static int i;
	char *b = buf[i++ % 4];
	snprintf(b, 256, "posix:%s", name);
	return b;
}

struct found {
	const char *want;
	int hits;
};

static int count_cb(const char *spec, uint64_t size, void *arg)
{
	struct found *f = arg;
	(void)size;
	if (f->want && !strcmp(spec, f->want))
		f->hits++;
	return 0;
}

/* A fresh directory of our own on /dev/shm (tmpfs) for file: cases; the
 * name carries our pid, so one left behind is reported. */
static void private_dir(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/dev/shm%s-XXXXXX", test_name(tag));
	ASSERT(mkdtemp(buf));
}

/* Run a posix gc case on a private /dev/shm; skip where that is refused. */
static void on_private_shm(void (*fn)(const char *), const char *what)
{
	const char *skip = test_in_private_shm(fn, NULL, "size=256m,mode=1777",
					       60000, what);
	if (skip)
		SKIP(skip);
}

/* A child makes the segment with opts and dies by SIGKILL holding it. */
static void create_and_die(const char *spec, const shmkit_opts *o)
{
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_seg *s;
		if (shmkit_create(spec, 8192, o, &s) < 0)
			_exit(2);
		raise(SIGKILL);
		_exit(3);
	}
	int st = test_wait_child(pid, 5000, "creator");
	ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void crashed_ephemeral_body(const char *unused)
{
	const char *n = test_name("eph");
	struct found f = {spec_of(n), 0};

	(void)unused;
	create_and_die(spec_of(n), &eph);
	ASSERT(exists(n));
	ASSERT_EQ(shmkit_in_use(spec_of(n)), 0);
	/* dry run: reported, not removed */
	ASSERT_EQ(shmkit_gc(test_private_shm_gc_dir(), SHMKIT_GC_DRY_RUN,
			    count_cb, &f),
		  1);
	ASSERT_EQ(f.hits, 1);
	ASSERT(exists(n));
	f.hits = 0;
	ASSERT_EQ(shmkit_gc(test_private_shm_gc_dir(), 0, count_cb, &f), 1);
	ASSERT_EQ(f.hits, 1);
	ASSERT(!exists(n));
	ASSERT_ERR(shmkit_in_use(spec_of(n)), ENOENT);
}

static void crashed_ephemeral_is_collected(void)
{
	on_private_shm(crashed_ephemeral_body, "crashed ephemeral, private /dev/shm");
}

static void kept_body(const char *unused)
{
	const char *live = test_name("live"), *pers = test_name("pers"),
		   *foreign = test_name("foreign");
	shmkit_seg *s;
	struct found f = {NULL, 0};
	int fd;

	(void)unused;
	/* in use: an ephemeral segment this process holds */
	ASSERT_OK(shmkit_create(spec_of(live), 4096, &eph, &s));
	ASSERT_EQ(shmkit_in_use(spec_of(live)), 1);
	/* a persistent one is in use while mapped (the kernel's maps say so) */
	{
		shmkit_seg *p;
		ASSERT_OK(shmkit_create(spec_of(pers), 4096, NULL, &p));
		ASSERT_EQ(shmkit_in_use(spec_of(pers)), 1);
		ASSERT_OK(shmkit_destroy(p));
	}
	/* persistent, creator dead */
	create_and_die(spec_of(pers), NULL);
	ASSERT_EQ(shmkit_in_use(spec_of(pers)), 0);
	/* made by someone else (no shmkit mark), locked by nobody */
	fd = shm_open(foreign, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	ASSERT(fd >= 0);
	ASSERT(ftruncate(fd, 4096) == 0);
	close(fd);

	f.want = spec_of(live);
	ASSERT_EQ(shmkit_gc(test_private_shm_gc_dir(), 0, count_cb, &f), 0);
	ASSERT_EQ(f.hits, 0);
	ASSERT(exists(live) && exists(pers) && exists(foreign));

	/* Once the last user detaches, the ephemeral one goes at next gc. */
	ASSERT_OK(shmkit_detach(s));
	ASSERT_EQ(shmkit_gc(test_private_shm_gc_dir(), 0, count_cb, &f), 1);
	ASSERT_EQ(f.hits, 1);
	ASSERT(!exists(live) && exists(pers) && exists(foreign));
	ASSERT_OK(shmkit_unlink(spec_of(pers)));
	ASSERT(shm_unlink(foreign) == 0);
}

static void live_persistent_and_foreign_are_kept(void)
{
	on_private_shm(kept_body, "live, persistent, foreign, private /dev/shm");
}

/*
 * gc racing attachers: a collector loops gc while the main process keeps
 * creating ephemeral segments, attaching a second handle and dropping the
 * creator's. Whenever an attach succeeds, the name must still be there for
 * as long as the handle is held.
 */
static void attach_race_body(const char *unused)
{
	enum { ROUNDS = 300 };
	int stop[2];
	pid_t gc;
	int i, attached = 0;

	(void)unused;
	ASSERT(pipe(stop) == 0);
	gc = fork();
	ASSERT(gc >= 0);
	if (gc == 0) {
		char c;
		close(stop[1]);
		fcntl(stop[0], F_SETFL, O_NONBLOCK);
		while (read(stop[0], &c, 1) < 0 && errno == EAGAIN)
			(void)shmkit_gc(test_private_shm_gc_dir(), 0, NULL, NULL);
		_exit(0);
	}
	close(stop[0]);
	for (i = 0; i < ROUNDS; i++) {
		const char *n = test_name("race");
		shmkit_seg *a, *b;
		int r;

		ASSERT_OK(shmkit_create(spec_of(n), 4096, &eph, &a));
		((char *)shmkit_addr(a))[0] = 'x';
		ASSERT_OK(shmkit_detach(a)); /* now unused: fair game */
		r = shmkit_attach(spec_of(n), NULL, &b);
		if (r == 0) {
			attached++;
			ASSERT(exists(n));
			ASSERT_EQ(((char *)shmkit_addr(b))[0], 'x');
			ASSERT_EQ(shmkit_in_use(spec_of(n)), 1);
			ASSERT(exists(n));
			ASSERT_OK(shmkit_destroy(b));
		} else {
			ASSERT_ERR(r, ENOENT); /* gc won the race: clean miss */
			ASSERT(!exists(n));
		}
	}
	close(stop[1]);
	test_expect_child_ok(gc, 10000, "collector");
	printf("     %d of %d attaches beat the collector\n", attached, ROUNDS);
}

static void gc_never_removes_while_attached(void)
{
	on_private_shm(attach_race_body, "gc racing attachers, private /dev/shm");
}

static void sysv_ephemeral_dies_with_last_detach(void)
{
	char spec[64];
	shmkit_seg *a, *b;
	struct shmid_ds ds;
	int id;

	ASSERT_OK(shmkit_create("sysv:private", 4096, &eph, &a));
	ASSERT(!strncmp(shmkit_spec(a), "sysv:id=", 8));
	id = atoi(shmkit_spec(a) + 8);
	ASSERT(shmctl(id, IPC_STAT, &ds) == 0);
	ASSERT(ds.shm_perm.mode & SHM_DEST); /* marked for removal already */
	ASSERT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
	ASSERT_OK(shmkit_attach(shmkit_spec(a), NULL, &b));
	ASSERT_OK(shmkit_detach(a));
	ASSERT(shmctl(id, IPC_STAT, &ds) == 0); /* still there: b holds it */
	ASSERT_EQ(shmkit_in_use(shmkit_spec(b)), 1);
	snprintf(spec, sizeof(spec), "%s", shmkit_spec(b));
	ASSERT_OK(shmkit_detach(b));
	ASSERT(shmctl(id, IPC_STAT, &ds) < 0); /* the kernel freed it */
	ASSERT_ERR(shmkit_attach(spec, NULL, &a), ENOENT);
}

/* System V segments now in the namespace that one of pids[0..n) created:
 * those with a key and those without; all of them are removed. */
static void reap_sysv_of(const pid_t *pids, int n, int *keyed, int *orphans)
{
	char line[512];
	FILE *f = fopen("/proc/sysvipc/shm", "re");
	int key, id, i;
	long cpid;

	*keyed = *orphans = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%d %d %*s %*s %ld", &key, &id, &cpid) != 3)
			continue; /* the header */
		for (i = 0; i < n && pids[i] != (pid_t)cpid; i++)
			;
		if (i == n)
			continue; /* not made by our children: not ours to touch */
		if (key != IPC_PRIVATE)
			++*keyed;
		else
			++*orphans;
		(void)shmctl(id, IPC_RMID, NULL);
	}
	fclose(f);
}

/*
 * Regression (issue 7, item 8): ephemeral System V segments leaked when
 * their creator was killed between shmget() and IPC_RMID (150 kills left 62
 * keyed segments, each keeping its key taken for good, and no gc covers
 * System V). Children create ephemeral segments in a loop, with a key (now
 * refused: -EINVAL) and as sysv:private (shmget, shmat, IPC_RMID at once,
 * and only then the 1 MiB prefault that used to come first), and are
 * SIGKILLed at random moments. No segment of theirs may be left with a key;
 * a private one can be left only by a kill in the two-syscall window, so
 * few are (printed). Every segment the children left is removed here.
 */
static void sysv_ephemeral_killed_creators(void)
{
	enum { ROUNDS = 150 };
	static pid_t kids[ROUNDS];
	unsigned seed = (unsigned)getpid();
	int i, keyed, orphans;

	for (i = 0; i < ROUNDS; i++) {
		int started[2], st;
		char c;

		ASSERT(pipe(started) == 0);
		kids[i] = fork();
		ASSERT(kids[i] >= 0);
		if (kids[i] == 0) {
			const shmkit_opts o = {
				.flags = SHMKIT_F_EPHEMERAL | SHMKIT_F_PREFAULT};
			char keyed_spec[32];
			shmkit_seg *s;

			snprintf(keyed_spec, sizeof(keyed_spec), "sysv:0x5348%03x%x",
				 (unsigned)getppid() & 0xfffu, 0xeu);
			close(started[0]);
			if (write(started[1], "s", 1) != 1)
				_exit(2);
			for (;;) {
				if (shmkit_create(keyed_spec, 1 << 20, &o, &s) == 0)
					(void)shmkit_destroy(s); /* must not be */
				if (shmkit_create("sysv:private", 1 << 20, &o, &s) == 0)
					(void)shmkit_detach(s);
			}
		}
		close(started[1]);
		ASSERT(read(started[0], &c, 1) == 1);
		close(started[0]);
		usleep(rand_r(&seed) % 3000);
		kill(kids[i], SIGKILL);
		st = test_wait_child(kids[i], 5000, "ephemeral sysv creator");
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			FAIL_("a creator ended by itself (status 0x%x)", st);
	}
	reap_sysv_of(kids, ROUNDS, &keyed, &orphans);
	printf("     %d kills: %d keyed segments left, %d private orphans left "
	       "(all removed)\n",
	       ROUNDS, keyed, orphans);
	ASSERT_EQ(keyed, 0);
	if (orphans > ROUNDS / 5)
		FAIL_("%d of %d kills left a private segment: the window between "
		      "shmget and IPC_RMID is wider than two system calls",
		      orphans, ROUNDS);
}

static void file_ephemeral_in_a_directory(void)
{
	char dir[160], spec[200], path[180];
	struct found f = {spec, 0};

	private_dir(dir, sizeof(dir), "dir");
	snprintf(path, sizeof(path), "%s/seg", dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	create_and_die(spec, &eph);
	ASSERT(access(path, F_OK) == 0);
	ASSERT(shmkit_gc(dir, 0, count_cb, &f) == 1);
	ASSERT_EQ(f.hits, 1);
	ASSERT(access(path, F_OK) < 0);
	ASSERT(rmdir(dir) == 0);
}

/*
 * An ephemeral segment appears under its name only complete: a watcher that
 * stats the name as fast as it can never sees it empty or unmarked. And an
 * ephemeral create is as exclusive as any other.
 */
static void ephemeral_appears_complete(void)
{
	enum { ROUNDS = 6, SIZE = 32 << 20 };
	const char *n = test_name("atomic");
	shmkit_seg *flag;
	volatile int *done;
	char path[256];
	pid_t w;
	int i, st;

	snprintf(path, sizeof(path), "/dev/shm%s", n);
	ASSERT_OK(shmkit_create("anon:", 4096, NULL, &flag));
	done = shmkit_addr(flag);
	w = fork();
	ASSERT(w >= 0);
	if (w == 0) {
		struct stat sb;
		int seen = 0;
		while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
			if (stat(path, &sb) < 0)
				continue;
			if (sb.st_size != SIZE || !(sb.st_mode & S_ISVTX))
				_exit(100); /* a half-made segment was visible */
			seen++;
			while (stat(path, &sb) == 0)
				;
		}
		_exit(seen > 0 ? 0 : 101);
	}
	for (i = 0; i < ROUNDS; i++) {
		shmkit_seg *s;
		ASSERT_OK(shmkit_create(spec_of(n), SIZE, &eph, &s));
		poll(NULL, 0, 20); /* leave it named long enough to be seen */
		ASSERT_OK(shmkit_destroy(s));
	}
	__atomic_store_n(done, 1, __ATOMIC_RELEASE);
	st = test_wait_child(w, 10000, "watcher");
	ASSERT(WIFEXITED(st));
	if (WEXITSTATUS(st) == 100)
		FAIL_("a half-made ephemeral segment was visible by name");
	if (WEXITSTATUS(st) == 101)
		FAIL_("the watcher never saw the segment: the test proved nothing");
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_OK(shmkit_destroy(flag));

	/* Exclusive: an existing name is refused and left as it was. */
	{
		shmkit_seg *a, *b = NULL;
		ASSERT_OK(shmkit_create(spec_of(n), 4096, NULL, &a));
		memcpy(shmkit_addr(a), "kept", 5);
		ASSERT_ERR(shmkit_create(spec_of(n), 8192, &eph, &b), EEXIST);
		ASSERT(b == NULL);
		ASSERT(!strcmp(shmkit_addr(a), "kept"));
		ASSERT_OK(shmkit_destroy(a));
	}
}

static int64_t ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)(t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * A child that opens path read-only (all flock(2) needs), takes the lock op
 * on it, says so on *ready, and holds it until told to let go (or until its
 * parent dies: the pipe then reads EOF).
 */
static pid_t hold_flock(const char *path, int op, int *ready_rd, int *go_wr)
{
	int ready[2], go[2];
	pid_t pid;
	char c;

	ASSERT(pipe(ready) == 0 && pipe(go) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		close(ready[0]);
		close(go[1]);
		if (fd < 0 || flock(fd, op | LOCK_NB) < 0)
			_exit(2);
		if (write(ready[1], "h", 1) != 1)
			_exit(3);
		(void)read(go[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1)
		FAIL_("the lock holder could not take its lock");
	*ready_rd = ready[0];
	*go_wr = go[1];
	return pid;
}

static void let_go(pid_t pid, int ready_rd, int go_wr)
{
	ASSERT(write(go_wr, "g", 1) == 1);
	test_expect_child_ok(pid, 5000, "lock holder");
	close(ready_rd);
	close(go_wr);
}

/* In a child (so that a blocking attach fails the test instead of hanging
 * it): attach must give up with -EBUSY, and within the bound. */
static void attach_refused_busy(const char *spec, unsigned flags)
{
	const shmkit_opts o = {.flags = flags};
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		struct timespec t0;
		shmkit_seg *s = NULL;
		int64_t ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ASSERT_ERR(shmkit_attach(spec, &o, &s), EBUSY);
		ms = ms_since(&t0);
		ASSERT(s == NULL);
		if (ms < 900 || ms > 2500)
			FAIL_("attach gave up after %lld ms, not about 1000",
			      (long long)ms);
		_exit(0);
	}
	test_expect_child_ok(pid, 5000, "attach while another holds LOCK_EX");
}

/*
 * Regression (issue 7, item 6): anyone who can read an ephemeral segment
 * could block every attacher forever by holding flock(LOCK_EX) on it, since
 * attach took its shared lock with a blocking flock(LOCK_SH). Attach now
 * gives up with -EBUSY after about a second, and works again the moment the
 * holder lets go.
 */
static void lock_holder_cannot_block_attach(void)
{
	char dir[160], spec[200];
	shmkit_seg *s;
	int ready, go;
	pid_t holder;

	/* In a directory of our own: unused, it is stale, and nobody's gc of
	 * /dev/shm may take it from under the test. */
	private_dir(dir, sizeof(dir), "exhold");
	snprintf(spec, sizeof(spec), "file:%s/seg", dir);
	ASSERT_OK(shmkit_create(spec, 4096, &eph, &s));
	memcpy(shmkit_addr(s), "held", 5);
	ASSERT_OK(shmkit_detach(s)); /* unused now: LOCK_EX can be had */
	holder = hold_flock(spec + 5, LOCK_EX, &ready, &go);
	attach_refused_busy(spec, 0);
	attach_refused_busy(spec, SHMKIT_F_RDONLY);
	let_go(holder, ready, go);
	ASSERT_OK(shmkit_attach(spec, NULL, &s));
	ASSERT(!strcmp(shmkit_addr(s), "held"));
	ASSERT_OK(shmkit_destroy(s));
	ASSERT(rmdir(dir) == 0);
}

/*
 * The other side of the same coin, documented in shmkit/life.h: a reader
 * holding LOCK_SH makes a stale segment look in use, and gc leaves it until
 * the reader lets go.
 */
static void lock_holder_keeps_gc_away(void)
{
	char dir[160], spec[200], path[180];
	int ready, go;
	pid_t holder;

	private_dir(dir, sizeof(dir), "shhold");
	snprintf(path, sizeof(path), "%s/seg", dir);
	snprintf(spec, sizeof(spec), "file:%s", path);
	create_and_die(spec, &eph);
	holder = hold_flock(path, LOCK_SH, &ready, &go);
	ASSERT_EQ(shmkit_in_use(spec), 1);
	ASSERT_EQ(shmkit_gc(dir, 0, NULL, NULL), 0);
	ASSERT(access(path, F_OK) == 0);
	let_go(holder, ready, go);
	ASSERT_EQ(shmkit_gc(dir, 0, NULL, NULL), 1);
	ASSERT(access(path, F_OK) < 0);
	ASSERT(rmdir(dir) == 0);
}

/* The names in dir, sorted, one per line. */
static void dir_listing(const char *dir, char *out, size_t len)
{
	char *names[64];
	struct dirent *de;
	size_t n = 0, i, used = 0;
	DIR *d = opendir(dir);

	ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && n < 64)
			names[n++] = strdup(de->d_name);
	closedir(d);
	for (i = 1; i < n; i++) /* insertion sort: a handful of names */
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		used += (size_t)snprintf(out + used, len - used, "%s\n", names[i]);
		free(names[i]);
		ASSERT(used < len);
	}
}

static char hook_spec[256];
static shmkit_seg *hook_live;
static int hook_calls[3];

/* At SHMKIT__GC_CHECKED: do what a restarting service does, remove the
 * stale name and create a fresh live segment under it. */
static void restart_under_gc(int stage, int dfd, const char *name)
{
	(void)dfd, (void)name;
	hook_calls[stage]++;
	if (stage != SHMKIT__GC_CHECKED)
		return;
	ASSERT_OK(shmkit_unlink(hook_spec));
	ASSERT_OK(shmkit_create(hook_spec, 8192, &eph, &hook_live));
	memcpy(shmkit_addr(hook_live), "live", 5);
}

/*
 * Regression (issue 7, item 7): between gc's same-inode check and its
 * unlinkat(), another process could remove the stale name and create a live
 * ephemeral segment under it (the ordinary "remove, then create fresh"
 * restart), and gc unlinked the live one's name. The hook runs that restart
 * at exactly that moment; gc must leave the live segment under its name
 * (it moves it to its private name, sees the wrong inode, and puts it back),
 * report nothing removed, and leave no private name behind.
 */
static void gc_spares_a_name_made_again(void)
{
	char dir[160], path[200], before[512], after[512];
	struct stat st, live;
	shmkit_seg *a;

	private_dir(dir, sizeof(dir), "regc");
	snprintf(path, sizeof(path), "%s/seg", dir);
	snprintf(hook_spec, sizeof(hook_spec), "file:%s", path);
	create_and_die(hook_spec, &eph);
	dir_listing(dir, before, sizeof(before));
	memset(hook_calls, 0, sizeof(hook_calls));
	shmkit__gc_hook = restart_under_gc;
	ASSERT_EQ(shmkit_gc(dir, 0, NULL, NULL), 0);
	shmkit__gc_hook = NULL;
	ASSERT_EQ(hook_calls[SHMKIT__GC_CHECKED], 1);
	ASSERT_EQ(hook_calls[SHMKIT__GC_MOVED], 1); /* moved, then put back */
	/* The live segment is under its name, and nothing else is there. */
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(fstat(shmkit_fd(hook_live), &live), 0);
	ASSERT(st.st_ino == live.st_ino && st.st_dev == live.st_dev);
	dir_listing(dir, after, sizeof(after));
	ASSERT(!strcmp(before, after));
	ASSERT_OK(shmkit_attach(hook_spec, NULL, &a));
	ASSERT(!strcmp(shmkit_addr(a), "live"));
	ASSERT_OK(shmkit_detach(a));
	ASSERT_OK(shmkit_destroy(hook_live));
	ASSERT(rmdir(dir) == 0);
}

static void die_in_gc(int stage, int dfd, const char *name)
{
	(void)dfd, (void)name;
	if (stage == SHMKIT__GC_MOVED)
		raise(SIGKILL);
}

static void count_stages(int stage, int dfd, const char *name)
{
	(void)dfd, (void)name;
	hook_calls[stage]++;
}

/*
 * A gc killed between its rename and its unlink leaves the stale segment
 * under gc's private dot name. The next gc collects exactly such leftovers
 * (gc's prefix + the ephemeral mark + a free exclusive lock) and nothing
 * else: not a dot name with the prefix but without the mark, not one that
 * is in use, not a stale ephemeral segment under another dot name, not a
 * persistent one. A dry run reports the leftover and renames nothing.
 */
static void gc_collects_its_own_leftovers(void)
{
	char dir[160], spec[256], leftover[200], before[1024], after[1024];
	struct found f = {leftover, 0};
	shmkit_seg *live, *pers;
	pid_t pid;
	int st, fd;

	private_dir(dir, sizeof(dir), "leftover");
	snprintf(spec, sizeof(spec), "file:%s/seg", dir);
	create_and_die(spec, &eph);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit__gc_hook = die_in_gc;
		(void)shmkit_gc(dir, 0, NULL, NULL);
		_exit(3); /* the hook never ran: no removal was attempted */
	}
	st = test_wait_child(pid, 5000, "gc killed mid-removal");
	ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* The segment is gone from its name, and sits under the dead gc's
	 * private one, and nothing else is there. */
	dir_listing(dir, before, sizeof(before));
	snprintf(leftover, sizeof(leftover), ".shmkit-gc-%d-", (int)pid);
	if (strncmp(before, leftover, strlen(leftover)) ||
	    strchr(before, '\n') != before + strlen(before) - 1)
		FAIL_("after the kill: expected only %s<n>, found:\n%s",
		      leftover, before);
	snprintf(leftover, sizeof(leftover), "file:%s/%.*s", dir,
		 (int)strlen(before) - 1, before);

	/* What must stay. */
	snprintf(spec, sizeof(spec), "%s/.shmkit-gc-unmarked", dir);
	fd = open(spec, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	ASSERT(fd >= 0);
	ASSERT(ftruncate(fd, 4096) == 0);
	close(fd);
	snprintf(spec, sizeof(spec), "file:%s/.shmkit-gc-live", dir);
	ASSERT_OK(shmkit_create(spec, 4096, &eph, &live));
	snprintf(spec, sizeof(spec), "file:%s/.hidden-stale", dir);
	create_and_die(spec, &eph);
	snprintf(spec, sizeof(spec), "file:%s/persistent", dir);
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &pers));
	ASSERT_OK(shmkit_detach(pers));

	dir_listing(dir, before, sizeof(before));
	memset(hook_calls, 0, sizeof(hook_calls));
	shmkit__gc_hook = count_stages;
	ASSERT_EQ(shmkit_gc(dir, SHMKIT_GC_DRY_RUN, count_cb, &f), 1);
	ASSERT_EQ(f.hits, 1);
	ASSERT_EQ(hook_calls[SHMKIT__GC_CHECKED] + hook_calls[SHMKIT__GC_MOVED], 0);
	dir_listing(dir, after, sizeof(after));
	ASSERT(!strcmp(before, after)); /* the dry run moved nothing */

	f.hits = 0;
	ASSERT_EQ(shmkit_gc(dir, 0, count_cb, &f), 1);
	shmkit__gc_hook = NULL;
	ASSERT_EQ(f.hits, 1);
	ASSERT(access(leftover + 5, F_OK) < 0);
	dir_listing(dir, after, sizeof(after));
	ASSERT(!strcmp(after, ".hidden-stale\n.shmkit-gc-live\n"
			      ".shmkit-gc-unmarked\npersistent\n"));

	ASSERT_OK(shmkit_destroy(live));
	snprintf(spec, sizeof(spec), "%s/.hidden-stale", dir);
	ASSERT(unlink(spec) == 0);
	snprintf(spec, sizeof(spec), "%s/.shmkit-gc-unmarked", dir);
	ASSERT(unlink(spec) == 0);
	snprintf(spec, sizeof(spec), "%s/persistent", dir);
	ASSERT(unlink(spec) == 0);
	ASSERT(rmdir(dir) == 0);
}

static void bad_arguments(void)
{
	shmkit_seg *s = (shmkit_seg *)0x1;
	ASSERT_ERR(shmkit_gc("/nonexistent-shmkit-dir", 0x80, NULL, NULL), EINVAL);
	ASSERT_ERR(shmkit_gc("/nonexistent-shmkit-dir", 0, NULL, NULL), ENOENT);
	ASSERT_ERR(shmkit_in_use("bogus:"), EINVAL);
	ASSERT_ERR(shmkit_in_use("memfd:x"), ENOTSUP);
	ASSERT_ERR(shmkit_attach("posix:/x", &eph, &s), EINVAL); /* create-only */
	ASSERT(s == (shmkit_seg *)0x1);
}

TEST_MAIN("lifetime", TEST(crashed_ephemeral_is_collected),
	  TEST(live_persistent_and_foreign_are_kept),
	  TEST(gc_never_removes_while_attached),
	  TEST(sysv_ephemeral_dies_with_last_detach),
	  TEST(sysv_ephemeral_killed_creators),
	  TEST(file_ephemeral_in_a_directory), TEST(ephemeral_appears_complete),
	  TEST(lock_holder_cannot_block_attach), TEST(lock_holder_keeps_gc_away),
	  TEST(gc_spares_a_name_made_again), TEST(gc_collects_its_own_leftovers),
	  TEST(bad_arguments))
