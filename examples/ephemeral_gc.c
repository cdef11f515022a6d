/*
 * ephemeral_gc.c: segments that go away with their users, and cleaning up
 * after a crash with shmkit_gc(), in a directory of our own.
 *
 * 1. An ephemeral System V segment ("sysv:private" with SHMKIT_F_EPHEMERAL)
 *    is marked for removal as it is made: the kernel frees it at its last
 *    detach. Here the parent detaches first; the segment lives on while a
 *    child still maps it, and is gone once that child exits.
 *
 * 2. An ephemeral posix: or file: segment cannot go by itself: something
 *    has to remove its name. Every handle on it holds a lock that the
 *    kernel drops when the process dies, however it dies, so shmkit_gc()
 *    can tell a segment nobody uses from one in use without trusting pids.
 *    A child creates an ephemeral segment "job" and a persistent one
 *    "config" in a private directory and is killed (a crash). gc then
 *    removes "job", and leaves "config": a persistent segment outlives its
 *    creator on purpose, and gc never touches it (nor one in use, nor one
 *    shmkit did not make). It is removed by name, with shmkit_unlink().
 *
 * gc runs on that private directory only (file: segments under
 * /dev/shm/shmkit-example-gc-<pid>-XXXXXX). shmkit_gc(NULL, ...) walks the
 * host's whole /dev/shm, which holds other programs' shared memory too:
 * that is for an operator (`shmkit gc`), never for an example.
 *
 *   cc -Wall ephemeral_gc.c -o ephemeral_gc $(pkg-config --cflags --libs shmkit)
 *   ./ephemeral_gc
 */
#include <shmkit.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *spec, int err)
{
	fprintf(stderr, "ephemeral_gc: %s %s: %s\n", what, spec,
		shmkit_strerror(err));
	return 1;
}

/* Fork a child that runs fn(arg), says so through a pipe (*ret_ready, for
 * child_ready()) and then waits to be killed, at most 10 s. */
static pid_t start_child(int (*fn)(void *), void *arg, int *ret_ready)
{
	struct timespec ten = {10, 0};
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		return -errno;
	fflush(stdout); /* before fork: or the child prints it again */
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (fn(arg) != 0 || write(p[1], "!", 1) != 1)
			_exit(1);
		nanosleep(&ten, NULL);
		_exit(0);
	}
	if (pid < 0)
		pid = -errno;
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return pid;
	}
	*ret_ready = p[0];
	return pid;
}

/* Wait (at most 5 s) for the child's "ready", then close the pipe. */
static int child_ready(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char c;
	int r = poll(&pfd, 1, 5000) == 1 && read(fd, &c, 1) == 1 ? 0 : -ETIMEDOUT;

	close(fd);
	return r;
}

static int end_child(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	return waitpid(pid, &status, 0) < 0 ? -errno : 0;
}

/* -- 1: gone with its last user ------------------------------------------ */

static int nothing(void *arg)
{
	(void)arg; /* the child only keeps the inherited mapping */
	return 0;
}

static int sysv_part(void)
{
	shmkit_opts o = {.flags = SHMKIT_F_EPHEMERAL};
	char spec[SHMKIT_SPEC_MAX];
	shmkit_info info;
	shmkit_seg *seg;
	int r, d, ready;
	pid_t pid;

	r = shmkit_create("sysv:private", 4096, &o, &seg);
	if (r < 0)
		return fail("create", "sysv:private", r);
	snprintf(spec, sizeof(spec), "%s", shmkit_spec(seg)); /* sysv:id=N */
	/* The child inherits the attachment: a second user. */
	pid = start_child(nothing, NULL, &ready);
	if (pid < 0) {
		shmkit_detach(seg);
		return fail("fork for", spec, pid);
	}
	r = child_ready(ready);
	d = shmkit_detach(seg); /* the parent is a user no more */
	if (r == 0)
		r = d < 0 ? d : shmkit_stat(spec, &info);
	if (r < 0) {
		end_child(pid);
		return fail("detach and stat", spec, r);
	}
	printf("sysv: %s, ephemeral, parent detached: still there, "
	       "%ld attached (the child)\n", spec, info.nattch);

	r = end_child(pid); /* the last user goes */
	if (r < 0)
		return fail("wait for the child of", spec, r);
	r = shmkit_stat(spec, &info);
	if (r != -ENOENT)
		return fail("outlived its last user:", spec, r < 0 ? r : -EEXIST);
	printf("sysv: the last user is gone, and so is %s (%s)\n", spec,
	       shmkit_err_name(r));
	return 0;
}

/* -- 2: a crashed creator, and gc ---------------------------------------- */

struct pair {
	char job[256], config[256]; /* specs */
};

/* In the child: make both, and never detach (we are about to crash). */
static int make_pair(void *arg)
{
	shmkit_opts eph = {.flags = SHMKIT_F_EPHEMERAL};
	struct pair *p = arg;
	shmkit_seg *job, *config;
	int r;

	r = shmkit_create(p->job, 4096, &eph, &job);
	if (r < 0)
		return fail("create", p->job, r);
	r = shmkit_create(p->config, 4096, NULL, &config);
	if (r < 0)
		return fail("create", p->config, r);
	return 0;
}

static int report(const char *spec, uint64_t size, void *arg)
{
	printf("gc: %s %s (%llu bytes)\n", (const char *)arg, spec,
	       (unsigned long long)size);
	return 0;
}

static int gc_part(const char *dir)
{
	shmkit_info info;
	struct pair p;
	int r, ready, removed;
	pid_t pid;

	snprintf(p.job, sizeof(p.job), "file:%s/job", dir);
	snprintf(p.config, sizeof(p.config), "file:%s/config", dir);
	pid = start_child(make_pair, &p, &ready);
	if (pid < 0)
		return fail("fork for", dir, pid);
	r = child_ready(ready);
	if (r < 0) {
		end_child(pid);
		return fail("wait for the child in", dir, r);
	}

	/* While its creator lives, "job" is in use: gc would remove nothing. */
	r = shmkit_in_use(p.job);
	removed = shmkit_gc(dir, SHMKIT_GC_DRY_RUN, report, "would remove");
	printf("gc: %s in use: %d; a dry run would remove %d\n", p.job, r,
	       removed);
	if (r != 1 || removed != 0) {
		end_child(pid);
		return fail("in_use or a dry gc of", dir, r < 0 ? r : removed);
	}

	r = end_child(pid); /* SIGKILL: no detach, no cleanup, a crash */
	if (r < 0)
		return fail("kill the child in", dir, r);
	printf("gc: killed the creator, pid %d\n", (int)pid);
	r = shmkit_stat(p.job, &info);
	if (r < 0)
		return fail("stat", p.job, r);
	printf("gc: %s is now%s stale\n", p.job,
	       info.flags & SHMKIT_INFO_STALE ? "" : " not");

	removed = shmkit_gc(dir, 0, report, "removed");
	if (removed < 0)
		return fail("gc", dir, removed);
	r = shmkit_stat(p.config, &info);
	if (r < 0)
		return fail("stat", p.config, r);
	printf("gc: removed %d; %s is kept (persistent)\n", removed, p.config);
	if (shmkit_stat(p.job, &info) != -ENOENT || removed != 1)
		return fail("gc did not remove just", p.job, -EPROTO);

	/* A persistent segment goes when someone removes it by name. */
	r = shmkit_unlink(p.config);
	if (r < 0)
		return fail("unlink", p.config, r);
	printf("gc: unlinked %s\n", p.config);
	return 0;
}

int main(void)
{
	char dir[128];
	int bad;

	bad = sysv_part();

	snprintf(dir, sizeof(dir), "/dev/shm/shmkit-example-gc-%d-XXXXXX",
		 (int)getpid());
	if (!mkdtemp(dir))
		return fail("mkdtemp", dir, -errno) | bad;
	bad |= gc_part(dir);
	/* Whatever happened, remove what the child may have left. */
	if (bad) {
		char path[256];
		snprintf(path, sizeof(path), "file:%s/job", dir);
		shmkit_unlink(path);
		snprintf(path, sizeof(path), "file:%s/config", dir);
		shmkit_unlink(path);
	}
	if (rmdir(dir) < 0)
		bad |= fail("rmdir", dir, -errno);
	return bad;
}
