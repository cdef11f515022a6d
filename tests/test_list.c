/*
 * test_list.c: introspection: shmkit_list, shmkit_stat and shmkit_who see
 * what is really there (size, mode, owner, attaches, mapping processes),
 * skip what vanishes mid-walk, and refuse bad input.
 *
 * System V keys are 0x5348xxxx derived from the pid; a key someone else
 * holds is skipped for the next one. Children wait for the parent's word on
 * a pipe, bounded, and are reaped with a bound.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

/* -- helpers -------------------------------------------------------------- */

typedef struct find_ctx {
	const char *spec; /* match by spec, or ... */
	int key;          /* ... by System V key when spec is NULL */
	int shmid;        /* ... or by shmid when >= 0 */
	shmkit_info got;
	int found;
	int seen;         /* segments reported in all */
	unsigned backends; /* bit per backend seen */
} find_ctx;

static int find_cb(const shmkit_info *in, void *arg)
{
	find_ctx *c = arg;

	c->seen++;
	c->backends |= 1u << in->backend;
	if ((c->spec && !strcmp(in->spec, c->spec)) ||
	    (!c->spec && c->shmid >= 0 && in->shmid == c->shmid) ||
	    (!c->spec && c->shmid < 0 && in->backend == SHMKIT_BACKEND_SYSV &&
	     in->key == c->key)) {
		c->got = *in;
		c->found++;
	}
	return 0;
}

static find_ctx *find_spec(unsigned flags, const char *spec)
{
	static find_ctx c;
	memset(&c, 0, sizeof(c));
	c.spec = spec;
	c.shmid = -1;
	ASSERT(shmkit_list(flags, find_cb, &c) >= 0);
	return &c;
}

static find_ctx *find_sysv(unsigned flags, int key, int shmid)
{
	static find_ctx c;
	memset(&c, 0, sizeof(c));
	c.key = key;
	c.shmid = shmid;
	ASSERT(shmkit_list(flags, find_cb, &c) >= 0);
	return &c;
}

/* A System V segment with a fresh test key; returns the key. */
static int make_sysv(size_t size, unsigned mode, shmkit_seg **seg)
{
	shmkit_opts o = {.mode = mode};
	unsigned base = ((unsigned)getpid() * 8u) & 0xffffu, i;
	char spec[32];
	int r = -EEXIST;

	for (i = 0; i < 256 && r == -EEXIST; i++) {
		unsigned key = 0x53480000u | ((base + i) & 0xffffu);
		snprintf(spec, sizeof(spec), "sysv:0x%08x", key);
		r = shmkit_create(spec, size, &o, seg);
		if (r == 0)
			return (int)key;
	}
	if (r == -ENOSYS)
		return 0;
	ASSERT_OK(r);
	return 0;
}

static const char *posix_spec(const char *tag, char *buf, size_t len)
{
	snprintf(buf, len, "posix:%s", test_name(tag));
	return buf;
}

/* The shmid behind a sysv handle, from the listing. */
static int shmid_of_key(int key)
{
	find_ctx *c = find_sysv(SHMKIT_LIST_SYSV | SHMKIT_LIST_NOPROCS, key,
				-1);
	ASSERT_EQ(c->found, 1);
	return c->got.shmid;
}

static int has_pid(const pid_t *p, int n, pid_t want)
{
	int i;
	for (i = 0; i < n; i++)
		if (p[i] == want)
			return 1;
	return 0;
}

/* A child that attaches spec, says so on ready, and waits for go. */
static pid_t child_attached(const char *spec, int *ready_rd, int *go_wr)
{
	int ready[2], go[2];
	pid_t pid;

	ASSERT(pipe2(ready, O_CLOEXEC) == 0);
	ASSERT(pipe2(go, O_CLOEXEC) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		struct pollfd p = {.fd = go[0], .events = POLLIN};
		shmkit_seg *s;
		char c = 'r';
		close(ready[0]);
		close(go[1]);
		if (shmkit_attach(spec, NULL, &s) < 0)
			_exit(2);
		if (write(ready[1], &c, 1) != 1)
			_exit(3);
		if (poll(&p, 1, 10000) != 1) /* bounded: the parent may die */
			_exit(4);
		_exit(shmkit_detach(s) < 0 ? 5 : 0);
	}
	close(ready[1]);
	close(go[0]);
	*ready_rd = ready[0];
	*go_wr = go[1];
	return pid;
}

static void wait_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	ASSERT(poll(&p, 1, 5000) == 1);
	ASSERT(read(fd, &c, 1) == 1);
}

static void release(pid_t pid, int ready_rd, int go_wr, const char *what)
{
	char c = 'g';
	ASSERT(write(go_wr, &c, 1) == 1);
	close(go_wr);
	close(ready_rd);
	test_expect_child_ok(pid, 5000, what);
}

/* -- cases ---------------------------------------------------------------- */

static void posix_listed(void)
{
	shmkit_opts o = {.mode = 0640};
	char spec[256];
	shmkit_seg *seg;
	find_ctx *c;
	time_t now = time(NULL);

	posix_spec("ls", spec, sizeof(spec));
	ASSERT_OK(shmkit_create(spec, 12288, &o, &seg));
	c = find_spec(0, spec);
	ASSERT_EQ(c->found, 1);
	ASSERT_EQ(c->got.backend, SHMKIT_BACKEND_POSIX);
	ASSERT_EQ(c->got.size, 12288);
	ASSERT_EQ(c->got.mode, 0640);
	ASSERT_EQ(c->got.uid, geteuid());
	ASSERT_EQ(c->got.gid, getegid());
	ASSERT_EQ(c->got.nattch, -1);
	ASSERT(c->got.nprocs >= 1); /* this process maps it */
	ASSERT_EQ(c->got.key, 0);
	ASSERT_EQ(c->got.shmid, -1);
	ASSERT(c->got.mtime >= now - 60 && c->got.mtime <= now + 60);
	ASSERT_EQ(c->got.flags, 0);

	/* Only POSIX when asked. */
	c = find_spec(SHMKIT_LIST_POSIX, spec);
	ASSERT_EQ(c->found, 1);
	ASSERT_EQ(c->backends & ~(1u << SHMKIT_BACKEND_POSIX), 0);
	c = find_spec(SHMKIT_LIST_SYSV, spec);
	ASSERT_EQ(c->found, 0);

	ASSERT_OK(shmkit_destroy(seg));
	c = find_spec(0, spec);
	ASSERT_EQ(c->found, 0);
}

static void sysv_listed(void)
{
	shmkit_info in;
	shmkit_seg *seg;
	char spec[64], idspec[64];
	find_ctx *c;
	int key;

	key = make_sysv(8192, 0604, &seg);
	if (!key)
		SKIP("no System V IPC in this kernel");
	c = find_sysv(SHMKIT_LIST_SYSV, key, -1);
	ASSERT_EQ(c->found, 1);
	ASSERT_EQ(c->backends & ~(1u << SHMKIT_BACKEND_SYSV), 0);
	snprintf(idspec, sizeof(idspec), "sysv:id=%d", c->got.shmid);
	ASSERT(!strcmp(c->got.spec, idspec));
	ASSERT_EQ(c->got.backend, SHMKIT_BACKEND_SYSV);
	ASSERT_EQ(c->got.size, 8192);
	ASSERT_EQ(c->got.mode, 0604);
	ASSERT_EQ(c->got.uid, geteuid());
	ASSERT_EQ(c->got.nattch, 1);
	ASSERT(c->got.nprocs >= 1);
	ASSERT_EQ(c->got.flags & SHMKIT_INFO_REMOVED, 0);

	/* stat by key and by id agree with the listing. */
	snprintf(spec, sizeof(spec), "sysv:0x%08x", (unsigned)key);
	ASSERT_OK(shmkit_stat(spec, &in));
	ASSERT_EQ(in.shmid, c->got.shmid);
	ASSERT_EQ(in.key, key);
	ASSERT_EQ(in.size, 8192);
	ASSERT_EQ(in.nattch, 1);
	ASSERT(in.nprocs >= 1);
	ASSERT(!strcmp(in.spec, idspec));
	ASSERT_OK(shmkit_stat(idspec, &in));
	ASSERT_EQ(in.key, key);

	ASSERT_OK(shmkit_destroy(seg));
	ASSERT_ERR(shmkit_stat(spec, &in), ENOENT);
	ASSERT_ERR(shmkit_stat(idspec, &in), ENOENT);
}

static void sysv_removed_still_attached(void)
{
	shmkit_seg *a, *b;
	shmkit_info in;
	char spec[64], idspec[64];
	find_ctx *c;
	int key, id;

	key = make_sysv(4096, 0600, &a);
	if (!key)
		SKIP("no System V IPC in this kernel");
	snprintf(spec, sizeof(spec), "sysv:0x%08x", (unsigned)key);
	ASSERT_OK(shmkit_attach(spec, NULL, &b));
	id = shmid_of_key(key);
	ASSERT_OK(shmkit_destroy(a)); /* IPC_RMID while b holds it */

	c = find_sysv(SHMKIT_LIST_SYSV, 0, id);
	ASSERT_EQ(c->found, 1);
	ASSERT(c->got.flags & SHMKIT_INFO_REMOVED);
	ASSERT_EQ(c->got.nattch, 1);
	ASSERT(c->got.nprocs >= 1); /* found by shmid, not the stale key */
	snprintf(idspec, sizeof(idspec), "sysv:id=%d", id);
	ASSERT_OK(shmkit_stat(idspec, &in));
	ASSERT(in.flags & SHMKIT_INFO_REMOVED);
	ASSERT_ERR(shmkit_stat(spec, &in), ENOENT); /* the key is gone */

	ASSERT_OK(shmkit_detach(b));
	ASSERT_ERR(shmkit_stat(idspec, &in), ENOENT);
}

static void procs_and_who_posix(void)
{
	char spec[256];
	shmkit_seg *seg;
	shmkit_info in;
	pid_t pids[64], one[2];
	int rd, wr, n;
	pid_t child;
	find_ctx *c;

	posix_spec("who", spec, sizeof(spec));
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &seg));
	ASSERT_EQ(shmkit_who(spec, NULL, 0), 1); /* just us */

	child = child_attached(spec, &rd, &wr);
	wait_ready(rd);
	ASSERT_OK(shmkit_stat(spec, &in));
	ASSERT(in.nprocs >= 2);
	c = find_spec(SHMKIT_LIST_POSIX, spec);
	ASSERT_EQ(c->found, 1);
	ASSERT(c->got.nprocs >= 2);
	n = shmkit_who(spec, pids, 64);
	ASSERT(n >= 2 && n <= 64);
	ASSERT(has_pid(pids, n, getpid()));
	ASSERT(has_pid(pids, n, child));
	ASSERT_EQ(n, in.nprocs);

	/* max bounds what is written, not what is counted. */
	one[1] = -7;
	ASSERT_EQ(shmkit_who(spec, one, 1), n);
	ASSERT(one[0] == pids[0]);
	ASSERT_EQ(one[1], -7);
	ASSERT_EQ(shmkit_who(spec, NULL, 0), n);
	ASSERT_ERR(shmkit_who(spec, NULL, 4), EINVAL);

	release(child, rd, wr, "posix child");
	n = shmkit_who(spec, pids, 64);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(pids[0], getpid());
	ASSERT_OK(shmkit_destroy(seg));
	ASSERT_ERR(shmkit_who(spec, pids, 64), ENOENT);
}

static void procs_and_who_sysv(void)
{
	shmkit_seg *seg;
	shmkit_info in;
	char spec[64];
	pid_t pids[64];
	int rd, wr, n, key;
	pid_t child;

	key = make_sysv(4096, 0600, &seg);
	if (!key)
		SKIP("no System V IPC in this kernel");
	snprintf(spec, sizeof(spec), "sysv:0x%08x", (unsigned)key);
	ASSERT_EQ(shmkit_who(spec, pids, 64), 1);
	ASSERT_EQ(pids[0], getpid());

	child = child_attached(spec, &rd, &wr);
	wait_ready(rd);
	ASSERT_OK(shmkit_stat(spec, &in));
	/* Ours, the child's inherited copy and the child's own attach. */
	ASSERT_EQ(in.nattch, 3);
	ASSERT_EQ(in.nprocs, 2);
	n = shmkit_who(spec, pids, 64);
	ASSERT_EQ(n, 2);
	ASSERT(has_pid(pids, n, getpid()));
	ASSERT(has_pid(pids, n, child));
	release(child, rd, wr, "sysv child");

	ASSERT_OK(shmkit_stat(spec, &in));
	ASSERT_EQ(in.nattch, 1);
	ASSERT_EQ(in.nprocs, 1);
	ASSERT_OK(shmkit_destroy(seg));
}

static void stat_each_kind(void)
{
	shmkit_opts o = {.mode = 0620};
	char spec[320], path[300], fdspec[32];
	shmkit_seg *seg, *f;
	shmkit_info in;

	posix_spec("stat", spec, sizeof(spec));
	ASSERT_OK(shmkit_create(spec, 8192, NULL, &seg));
	ASSERT_OK(shmkit_stat(spec, &in));
	ASSERT(!strcmp(in.spec, spec));
	ASSERT_EQ(in.backend, SHMKIT_BACKEND_POSIX);
	ASSERT_EQ(in.size, 8192);
	ASSERT_EQ(in.mode, 0600);
	ASSERT_EQ(in.nattch, -1);
	ASSERT_EQ(in.nprocs, 1);
	ASSERT_EQ(in.shmid, -1);
	/* The short form gives the canonical spec back. */
	ASSERT_OK(shmkit_stat(spec + 6, &in));
	ASSERT(!strcmp(in.spec, spec));

	/* fd: describes the descriptor we hold. */
	snprintf(fdspec, sizeof(fdspec), "fd:%d", shmkit_fd(seg));
	ASSERT_OK(shmkit_stat(fdspec, &in));
	ASSERT_EQ(in.backend, SHMKIT_BACKEND_FD);
	ASSERT(!strcmp(in.spec, fdspec));
	ASSERT_EQ(in.size, 8192);
	ASSERT_EQ(in.nprocs, 1);
	ASSERT_OK(shmkit_destroy(seg));

	/* file: a path of our own in /dev/shm (so leftovers would show). */
	snprintf(path, sizeof(path), "/dev/shm%s-file", test_name("stat"));
	snprintf(spec, sizeof(spec), "file:%s", path);
	ASSERT_OK(shmkit_create(spec, 20000, &o, &f));
	ASSERT_OK(shmkit_stat(spec, &in));
	ASSERT(!strcmp(in.spec, spec));
	ASSERT_EQ(in.backend, SHMKIT_BACKEND_FILE);
	ASSERT_EQ(in.size, 20000);
	ASSERT_EQ(in.mode, 0620);
	ASSERT_EQ(in.nattch, -1);
	ASSERT_EQ(in.nprocs, 1);
	ASSERT_OK(shmkit_destroy(f));
	ASSERT_ERR(shmkit_stat(spec, &in), ENOENT);

	/* Nameless backends cannot be looked up from outside. */
	ASSERT_ERR(shmkit_stat("memfd:x", &in), ENOTSUP);
	ASSERT_ERR(shmkit_stat("anon:", &in), ENOTSUP);
}

static void stat_absent(void)
{
	char spec[256];
	shmkit_info in;

	memset(&in, 0x5a, sizeof(in));
	posix_spec("absent", spec, sizeof(spec));
	ASSERT_ERR(shmkit_stat(spec, &in), ENOENT);
	ASSERT_EQ(in.size, 0x5a5a5a5a5a5a5a5aull); /* untouched on failure */
	ASSERT_ERR(shmkit_stat("sysv:id=2147483647", &in), ENOENT);
	ASSERT_ERR(shmkit_stat("sysv:/nonexistent/shmkit-test#1", &in), ENOENT);
	ASSERT_ERR(shmkit_stat("file:/nonexistent/shmkit-test", &in), ENOENT);
	ASSERT_ERR(shmkit_stat("fd:999999", &in), EBADF);
	ASSERT_ERR(shmkit_who(spec, NULL, 0), ENOENT);
}

static void bad_input(void)
{
	shmkit_info in;
	pid_t p[1];

	ASSERT_ERR(shmkit_stat("", &in), EINVAL);
	ASSERT_ERR(shmkit_stat(NULL, &in), EINVAL);
	ASSERT_ERR(shmkit_stat("bogus", &in), EINVAL);
	ASSERT_ERR(shmkit_stat("posix:noslash", &in), EINVAL);
	ASSERT_ERR(shmkit_stat("sysv:zz", &in), EINVAL);
	ASSERT_ERR(shmkit_stat("sysv:private", &in), EINVAL);
	ASSERT_ERR(shmkit_stat("fd:-1", &in), EINVAL);
	ASSERT_ERR(shmkit_stat("posix:/x", NULL), EINVAL);
	ASSERT_ERR(shmkit_who("bogus", p, 1), EINVAL);
	ASSERT_ERR(shmkit_list(0, NULL, NULL), EINVAL);
	ASSERT_ERR(shmkit_list(0x80, find_cb, &(find_ctx){0}), EINVAL);
}

static int stop_cb(const shmkit_info *in, void *arg)
{
	(void)in;
	++*(int *)arg;
	return 42;
}

static int noprocs_cb(const shmkit_info *in, void *arg)
{
	if (in->nprocs != -1)
		++*(int *)arg;
	return 0;
}

static void list_flags_and_stop(void)
{
	char spec[256];
	shmkit_seg *seg;
	int calls = 0, bad = 0;

	posix_spec("stop", spec, sizeof(spec));
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &seg));
	ASSERT_EQ(shmkit_list(0, stop_cb, &calls), 42);
	ASSERT_EQ(calls, 1);
	ASSERT(shmkit_list(SHMKIT_LIST_NOPROCS, noprocs_cb, &bad) >= 1);
	ASSERT_EQ(bad, 0);
	ASSERT_OK(shmkit_destroy(seg));
}

/* Segments removed while the walk runs are skipped, not errors. */
#define NVANISH 24

typedef struct vanish_ctx {
	char specs[NVANISH][256];
	int removed, ours;
} vanish_ctx;

static int vanish_cb(const shmkit_info *in, void *arg)
{
	vanish_ctx *v = arg;
	int i;

	for (i = 0; i < NVANISH; i++) {
		if (strcmp(in->spec, v->specs[i]))
			continue;
		v->ours++;
		if (!v->removed) { /* the first one we see removes them all */
			int j;
			for (j = 0; j < NVANISH; j++)
				if (shmkit_unlink(v->specs[j]) == 0)
					v->removed++;
		}
	}
	return 0;
}

static void list_skips_vanished(void)
{
	static vanish_ctx v;
	shmkit_seg *segs[NVANISH];
	int i, n;

	memset(&v, 0, sizeof(v));
	for (i = 0; i < NVANISH; i++) {
		posix_spec("vanish", v.specs[i], sizeof(v.specs[i]));
		ASSERT_OK(shmkit_create(v.specs[i], 4096, NULL, &segs[i]));
	}
	n = shmkit_list(SHMKIT_LIST_POSIX, vanish_cb, &v);
	ASSERT(n >= 1);
	ASSERT_EQ(v.removed, NVANISH);
	/* readdir may hand over a few it had read ahead; they must be the
	 * exception, not the rule. */
	ASSERT(v.ours < NVANISH);
	for (i = 0; i < NVANISH; i++)
		ASSERT_OK(shmkit_detach(segs[i]));
}

/* A symlink planted in /dev/shm is not a segment and is never followed. */
static void symlink_not_listed(void)
{
	char path[300], spec[300];
	const char *name = test_name("link");
	shmkit_info in;
	find_ctx *c;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	snprintf(spec, sizeof(spec), "posix:%s", name);
	if (symlink("/etc/passwd", path) < 0)
		SKIP("cannot make a symlink in /dev/shm");
	c = find_spec(SHMKIT_LIST_POSIX, spec);
	ASSERT_EQ(c->found, 0);
	ASSERT_ERR(shmkit_stat(spec, &in), ELOOP); /* as attach says */
	ASSERT(unlink(path) == 0);
}

/* -- shmkit_list_dir ----------------------------------------------------- */

typedef struct dir_seen {
	char names[8][64];
	unsigned flags[8];
	long nprocs[8];
	int n;
} dir_seen;

static int dir_cb(const shmkit_info *in, void *arg)
{
	dir_seen *d = arg;
	const char *slash = strrchr(in->spec, '/');

	ASSERT_EQ(in->backend, SHMKIT_BACKEND_FILE);
	ASSERT(!strncmp(in->spec, "file:", 5) && slash);
	ASSERT(shmkit_spec_check(in->spec) == NULL);
	ASSERT(d->n < 8);
	snprintf(d->names[d->n], sizeof(d->names[0]), "%s", slash + 1);
	d->flags[d->n] = in->flags;
	d->nprocs[d->n] = in->nprocs;
	d->n++;
	return 0;
}

static int dir_find(const dir_seen *d, const char *name)
{
	int i;
	for (i = 0; i < d->n; i++)
		if (!strcmp(d->names[i], name))
			return i;
	return -1;
}

/* The file: segments shmkit made in a directory, and nothing else there. */
static void list_dir_made_only(void)
{
	char dir[256], spec[320], path[320];
	shmkit_opts eph = {.flags = SHMKIT_F_EPHEMERAL};
	shmkit_seg *a, *e, *dot;
	shmkit_chan *ch;
	shmkit_chan_opts o;
	dir_seen d;
	int fd, i;

	snprintf(dir, sizeof(dir), "/dev/shm%s", test_name("dir"));
	ASSERT(mkdir(dir, 0700) == 0);
	snprintf(spec, sizeof(spec), "file:%s/seg", dir);
	ASSERT_OK(shmkit_create(spec, 8192, NULL, &a));
	snprintf(spec, sizeof(spec), "file:%s/eph", dir);
	ASSERT_OK(shmkit_create(spec, 4096, &eph, &e));
	memset(&o, 0, sizeof(o));
	o.kind = SHMKIT_CHAN_SPSC;
	snprintf(spec, sizeof(spec), "file:%s/chan", dir);
	ASSERT_OK(shmkit_chan_create(spec, &o, &ch));
	snprintf(spec, sizeof(spec), "file:%s/.dot", dir); /* hidden */
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &dot));
	ASSERT_OK(shmkit_detach(dot));
	snprintf(path, sizeof(path), "%s/plain", dir); /* not shmkit's */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT(fd >= 0);
	ASSERT(write(fd, "x", 1) == 1);
	close(fd);
	snprintf(path, sizeof(path), "%s/link", dir);
	snprintf(spec, sizeof(spec), "%s/seg", dir);
	ASSERT(symlink(spec, path) == 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	ASSERT(mkdir(path, 0700) == 0);

	memset(&d, 0, sizeof(d));
	ASSERT_EQ(shmkit_list_dir(dir, 0, dir_cb, &d), 3);
	ASSERT_EQ(d.n, 3);
	ASSERT((i = dir_find(&d, "seg")) >= 0);
	ASSERT_EQ(d.flags[i], 0);
	ASSERT(d.nprocs[i] >= 1); /* this process maps it */
	ASSERT((i = dir_find(&d, "eph")) >= 0);
	ASSERT_EQ(d.flags[i], SHMKIT_INFO_EPHEMERAL); /* held: not stale */
	ASSERT(dir_find(&d, "chan") >= 0);

	/* "dir/" names the same segments, with the same specs. */
	memset(&d, 0, sizeof(d));
	snprintf(path, sizeof(path), "%s/", dir);
	ASSERT_EQ(shmkit_list_dir(path, SHMKIT_LIST_NOPROCS, dir_cb, &d), 3);
	ASSERT_EQ(d.nprocs[0], -1);

	ASSERT_OK(shmkit_chan_destroy(ch));
	ASSERT_OK(shmkit_destroy(e));
	ASSERT_OK(shmkit_destroy(a));
	snprintf(spec, sizeof(spec), "file:%s/.dot", dir);
	ASSERT_OK(shmkit_unlink(spec));
	snprintf(path, sizeof(path), "%s/plain", dir);
	ASSERT(unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/link", dir);
	ASSERT(unlink(path) == 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	ASSERT(rmdir(path) == 0);
	memset(&d, 0, sizeof(d));
	ASSERT_EQ(shmkit_list_dir(dir, 0, dir_cb, &d), 0);
	ASSERT(rmdir(dir) == 0);
}

static void list_dir_bad_input(void)
{
	char dir[256], path[320], spec[320];
	shmkit_seg *s;
	dir_seen d;
	int calls;

	snprintf(dir, sizeof(dir), "/dev/shm%s", test_name("dirbad"));
	ASSERT(mkdir(dir, 0700) == 0);
	ASSERT_ERR(shmkit_list_dir(NULL, 0, dir_cb, &d), EINVAL);
	ASSERT_ERR(shmkit_list_dir("", 0, dir_cb, &d), EINVAL);
	ASSERT_ERR(shmkit_list_dir(dir, 0, NULL, &d), EINVAL);
	ASSERT_ERR(shmkit_list_dir(dir, SHMKIT_LIST_POSIX, dir_cb, &d), EINVAL);
	snprintf(path, sizeof(path), "%s/missing", dir);
	ASSERT_ERR(shmkit_list_dir(path, 0, dir_cb, &d), ENOENT);
	snprintf(spec, sizeof(spec), "file:%s/f", dir);
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	snprintf(path, sizeof(path), "%s/f", dir);
	ASSERT_ERR(shmkit_list_dir(path, 0, dir_cb, &d), ENOTDIR);
	/* A symlink to the directory is not followed. */
	snprintf(path, sizeof(path), "%s-link", dir);
	ASSERT(symlink(dir, path) == 0);
	ASSERT_ERR(shmkit_list_dir(path, 0, dir_cb, &d), ELOOP);
	ASSERT(unlink(path) == 0);
	/* The callback stops the walk with its own value. */
	calls = 0;
	ASSERT_EQ(shmkit_list_dir(dir, 0, stop_cb, &calls), 42);
	ASSERT_EQ(calls, 1);
	ASSERT_OK(shmkit_destroy(s));
	ASSERT(rmdir(dir) == 0);
	ASSERT(!test_leftovers());
}

TEST_MAIN("list", TEST(posix_listed), TEST(sysv_listed),
	  TEST(sysv_removed_still_attached), TEST(procs_and_who_posix),
	  TEST(procs_and_who_sysv), TEST(stat_each_kind), TEST(stat_absent),
	  TEST(bad_input), TEST(list_flags_and_stop),
	  TEST(list_skips_vanished), TEST(symlink_not_listed),
	  TEST(list_dir_made_only), TEST(list_dir_bad_input))
