/*
 * bench_segment.c: what shmkit's segment layer costs over the raw syscalls.
 *
 * One cycle is create + attach (a second, independent mapping, as a peer
 * process would make) + detach of that mapping + destroy of the first. For
 * every backend the same cycle is also written inline with the syscalls
 * shmkit issues, doing the same work: the exclusive create, the size, the
 * reservation (posix_fallocate, so the floor pays for the SIGBUS-proofing
 * too), the fstat/IPC_STAT that an attach needs to learn the size, the
 * unmaps, closes and the removal of the name. For file: that includes
 * resolving the path without following a symlink in any component, as
 * shmkit does (openat2 with RESOLVE_NO_SYMLINKS for the opens; the removal
 * relative to the directory opened that way, since unlink() alone would
 * follow a symlinked directory planted after the create). Whatever shmkit
 * adds on top (spec parsing, the handle, the hugetlbfs probe on file:) is
 * the overhead measured here.
 *
 * The machines are shared and noisy, so shmkit and raw cycles are
 * interleaved one for one (ABBA order, so neither always runs first) within
 * the same time budget, and the figure that counts is the ratio of the two
 * medians. Target: shmkit/raw <= 1.10.
 *
 * Nothing is left behind: names are "/shmkit-bench-<pid>-...", System V
 * keys 0x5342xxxx ("SB"), and SIGINT/SIGTERM/SIGHUP remove whatever exists
 * at that moment with async-signal-safe calls before the process dies.
 *
 * Knobs: BENCH_QUICK=1 (short smoke run), BENCH_SEG_MS=<ms per cell>.
 */
#include "shmkit.h"
#include "bench_util.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

/* Names and ids alive right now, for the signal handler. */
static char posix_name[64];        /* "/shmkit-bench-<pid>-seg" */
static char posix_path[80];        /* the same under /dev/shm */
static char file_path[80];         /* "/dev/shm/shmkit-bench-<pid>-file" */
static key_t sysv_key;
static volatile sig_atomic_t sysv_live; /* a create may be in flight */

/* Async-signal-safe: unlink, shmget and shmctl are plain syscalls. */
static void cleanup(void)
{
	int id;

	(void)unlink(posix_path);
	(void)unlink(file_path);
	if (sysv_live) {
		id = shmget(sysv_key, 0, 0);
		if (id >= 0)
			(void)shmctl(id, IPC_RMID, NULL);
	}
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_segment: %s: %s\n", what,
		shmkit_strerror(err < 0 ? err : -err));
	cleanup();
	exit(1);
}

/* ------------------------------------------------------------------------ */
/* The cycles                                                                */

struct cell {
	const char *backend;
	size_t size;
	char spec[128];
	char fdspec[32]; /* memfd: the cached "fd:N" of the last cycle */
	int last_fd;
};

static int shmkit_cycle(struct cell *c)
{
	shmkit_seg *a, *b;
	const char *att = c->spec;
	int r;

	r = shmkit_create(c->spec, c->size, NULL, &a);
	if (r < 0)
		return r;
	if (!strcmp(c->backend, "anon"))
		return shmkit_destroy(a);
	if (!strcmp(c->backend, "memfd")) {
		int fd = shmkit_fd(a);
		/* A user formats "fd:N" once per descriptor; so do we. */
		if (fd != c->last_fd) {
			snprintf(c->fdspec, sizeof(c->fdspec), "fd:%d", fd);
			c->last_fd = fd;
		}
		att = c->fdspec;
	}
	r = shmkit_attach(att, NULL, &b);
	if (r < 0) {
		(void)shmkit_destroy(a);
		return r;
	}
	r = shmkit_detach(b);
	if (r < 0) {
		(void)shmkit_destroy(a);
		return r;
	}
	return shmkit_destroy(a);
}

/* posix_fallocate with the EINTR retry shmkit does; returns -errno. */
static int reserve(int fd, size_t size)
{
	int r;
	do {
		r = posix_fallocate(fd, 0, (off_t)size);
	} while (r == EINTR);
	return -r;
}

/* The tail shared by the descriptor-backed raw cycles. */
static int raw_fd_cycle(int fd, size_t size, int (*reopen)(int fd))
{
	struct stat st;
	void *p, *q;
	int fd2, r = 0;

	if (ftruncate(fd, (off_t)size) < 0)
		return -errno;
	r = reserve(fd, size);
	if (r < 0)
		return r;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	fd2 = reopen(fd);
	if (fd2 < 0) {
		munmap(p, size);
		return fd2;
	}
	if (fstat(fd2, &st) < 0) {
		r = -errno;
		goto out;
	}
	q = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd2, 0);
	if (q == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	munmap(q, (size_t)st.st_size);
out:
	close(fd2);
	munmap(p, size);
	return r;
}

static int reopen_posix(int fd)
{
	(void)fd;
	fd = shm_open(posix_name, O_RDWR | O_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

/* open(2) that refuses a symlink in any component of path. */
static int open_nolinks(int dfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;
	int fd;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_NO_SYMLINKS;
	fd = (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static int reopen_file(int fd)
{
	(void)fd;
	return open_nolinks(AT_FDCWD, file_path, O_RDWR, 0);
}

/* unlink(file_path) relative to its directory, opened without symlinks. */
static int unlink_file(void)
{
	const char *slash = strrchr(file_path, '/');
	char dir[sizeof(file_path)];
	int dfd, r = 0;

	memcpy(dir, file_path, (size_t)(slash - file_path));
	dir[slash - file_path] = '\0';
	dfd = open_nolinks(AT_FDCWD, dir, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, slash + 1, 0) < 0)
		r = -errno;
	close(dfd);
	return r;
}

static int reopen_dup(int fd)
{
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

/*
 * The raw sequences. Each is ordered as shmkit orders its calls: destroy
 * removes the name before it unmaps and closes.
 */
static int raw_cycle(struct cell *c)
{
	size_t size = c->size;
	int fd, r, r2;

	if (!strcmp(c->backend, "posix")) {
		fd = shm_open(posix_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600);
		if (fd < 0)
			return -errno;
		r = raw_fd_cycle(fd, size, reopen_posix);
		r2 = shm_unlink(posix_name) < 0 ? -errno : 0;
		close(fd);
		return r < 0 ? r : r2;
	}
	if (!strcmp(c->backend, "file")) {
		fd = open_nolinks(AT_FDCWD, file_path,
				  O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			return fd;
		r = raw_fd_cycle(fd, size, reopen_file);
		r2 = unlink_file();
		close(fd);
		return r < 0 ? r : r2;
	}
	if (!strcmp(c->backend, "memfd")) {
		fd = memfd_create("shmkit-bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0)
			return -errno;
		r = raw_fd_cycle(fd, size, reopen_dup);
		close(fd);
		return r;
	}
	if (!strcmp(c->backend, "sysv")) {
		struct shmid_ds ds;
		void *p, *q;
		int id, id2;

		sysv_live = 1;
		id = shmget(sysv_key, size, IPC_CREAT | IPC_EXCL | 0600);
		if (id < 0)
			return -errno;
		r = 0;
		p = shmat(id, NULL, 0);
		if (p == (void *)-1) {
			r = -errno;
			goto rm;
		}
		id2 = shmget(sysv_key, 0, 0);
		if (id2 < 0 || shmctl(id2, IPC_STAT, &ds) < 0) {
			r = -errno;
			goto dt;
		}
		q = shmat(id2, NULL, 0);
		if (q == (void *)-1) {
			r = -errno;
			goto dt;
		}
		shmdt(q);
	dt:
		r2 = shmctl(id, IPC_RMID, NULL) < 0 ? -errno : 0;
		shmdt(p);
		sysv_live = 0;
		return r < 0 ? r : r2;
	rm:
		shmctl(id, IPC_RMID, NULL);
		sysv_live = 0;
		return r;
	}
	if (!strcmp(c->backend, "anon")) {
		void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		return munmap(p, size) < 0 ? -errno : 0;
	}
	return -EINVAL;
}

static int shmkit_cycle_sysv(struct cell *c)
{
	int r;
	sysv_live = 1;
	r = shmkit_cycle(c);
	sysv_live = 0;
	return r;
}

/* ------------------------------------------------------------------------ */

struct result {
	size_t n;
	double shmkit_ns, raw_ns; /* medians */
	double q1_ratio, q3_ratio; /* quartiles of the per-pair ratios */
};

static double median_of(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	return (double)v[bench_rank(n, 50)];
}

static void run_cell(struct cell *c, uint64_t budget_ns, size_t max_iter,
		     struct result *res)
{
	int (*mine)(struct cell *) =
		!strcmp(c->backend, "sysv") ? shmkit_cycle_sysv : shmkit_cycle;
	uint64_t *a = malloc(max_iter * sizeof(*a));
	uint64_t *b = malloc(max_iter * sizeof(*b));
	double *ratio = malloc(max_iter * sizeof(*ratio));
	uint64_t start, t0, t1, t2;
	size_t n = 0, warm = max_iter / 20 + 2;
	int r;

	if (!a || !b || !ratio)
		die("malloc", -ENOMEM);
	for (size_t i = 0; i < warm; i++) {
		if ((r = mine(c)) < 0)
			die(c->spec, r);
		if ((r = raw_cycle(c)) < 0)
			die("raw cycle", r);
	}
	start = bench_now_ns();
	while (n < max_iter && (n < 10 || bench_now_ns() - start < budget_ns)) {
		bool shmkit_first = (n & 1) == 0; /* ABBA: A B, B A, ... */
		t0 = bench_now_ns();
		r = shmkit_first ? mine(c) : raw_cycle(c);
		t1 = bench_now_ns();
		if (r < 0)
			die(shmkit_first ? c->spec : "raw cycle", r);
		r = shmkit_first ? raw_cycle(c) : mine(c);
		t2 = bench_now_ns();
		if (r < 0)
			die(shmkit_first ? "raw cycle" : c->spec, r);
		a[n] = shmkit_first ? t1 - t0 : t2 - t1;
		b[n] = shmkit_first ? t2 - t1 : t1 - t0;
		ratio[n] = (double)a[n] / (double)(b[n] ? b[n] : 1);
		n++;
	}
	res->n = n;
	qsort(ratio, n, sizeof(*ratio), bench_cmp_double);
	res->q1_ratio = ratio[bench_rank(n, 25)];
	res->q3_ratio = ratio[bench_rank(n, 75)];
	res->shmkit_ns = median_of(a, n);
	res->raw_ns = median_of(b, n);
	free(a);
	free(b);
	free(ratio);
}

int main(void)
{
	static const char *const backends[] = {"posix", "sysv", "file",
					       "memfd", "anon"};
	static const size_t sizes[] = {4 * KiB, 64 * MiB};
	bool quick = bench_env_long("BENCH_QUICK", 0) != 0;
	uint64_t budget_ms = (uint64_t)bench_env_long("BENCH_SEG_MS",
						      quick ? 100 : 1500);
	pid_t pid = getpid();
	int misses = 0;
	struct sigaction sa;

	snprintf(posix_name, sizeof(posix_name), "/shmkit-bench-%d-seg",
		 (int)pid);
	snprintf(posix_path, sizeof(posix_path), "/dev/shm%s", posix_name);
	snprintf(file_path, sizeof(file_path), "/dev/shm/shmkit-bench-%d-file",
		 (int)pid);
	/* "SB" + the low pid bits; step past a key somebody already holds. */
	sysv_key = (key_t)(0x53420000 | ((unsigned)pid & 0xffffu));
	for (int i = 0; i < 0x10000 && shmget(sysv_key, 0, 0) >= 0; i++)
		sysv_key = (key_t)(0x53420000 | (((unsigned)sysv_key + 1) & 0xffffu));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	printf("shmkit %s segment cycle: create + attach + detach + destroy, "
	       "shmkit vs the same syscalls inline\n",
	       shmkit_version_string());
	printf("interleaved ABBA, %llu ms per cell%s; median per cycle; "
	       "target shmkit/raw <= 1.10\n",
	       (unsigned long long)budget_ms, quick ? " (BENCH_QUICK)" : "");
	printf("anon: create + destroy only (no name to attach by); "
	       "memfd: attach through \"fd:N\"\n\n");
	printf("%-7s %7s %7s %11s %11s %7s %15s  %s\n", "backend", "size",
	       "cycles", "shmkit", "raw", "ratio", "pair ratio IQR",
	       "target");

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t k = 0; k < sizeof(backends) / sizeof(backends[0]);
		     k++) {
			struct cell c = {.backend = backends[k],
					 .size = sizes[s],
					 .last_fd = -1};
			struct result res;
			char sz[32], t1[32], t2[32], iqr[48];
			double ratio;
			size_t max_iter = sizes[s] > MiB ? 2000 : 200000;

			if (!strcmp(c.backend, "posix"))
				snprintf(c.spec, sizeof(c.spec), "posix:%s",
					 posix_name);
			else if (!strcmp(c.backend, "sysv"))
				snprintf(c.spec, sizeof(c.spec), "sysv:0x%08x",
					 (unsigned)sysv_key);
			else if (!strcmp(c.backend, "file"))
				snprintf(c.spec, sizeof(c.spec), "file:%s",
					 file_path);
			else if (!strcmp(c.backend, "memfd"))
				snprintf(c.spec, sizeof(c.spec),
					 "memfd:shmkit-bench");
			else
				snprintf(c.spec, sizeof(c.spec), "anon:");

			run_cell(&c, budget_ms * 1000000u, max_iter, &res);
			ratio = res.shmkit_ns / res.raw_ns;
			if (ratio > 1.10)
				misses++;
			snprintf(iqr, sizeof(iqr), "%.3f-%.3f", res.q1_ratio,
				 res.q3_ratio);
			printf("%-7s %7s %7zu %11s %11s %7.3f %15s  %s\n",
			       c.backend, bench_fmt_size(sz, sizeof(sz), c.size),
			       res.n, bench_fmt_ns(t1, sizeof(t1), res.shmkit_ns),
			       bench_fmt_ns(t2, sizeof(t2), res.raw_ns), ratio,
			       iqr, ratio <= 1.10 ? "ok" : "MISS");
			fflush(stdout);
		}
	}
	printf("\n%s: %d of %zu cells over 1.10x\n",
	       misses ? "target missed" : "target met", misses,
	       (sizeof(sizes) / sizeof(sizes[0])) *
		       (sizeof(backends) / sizeof(backends[0])));
	return 0;
}
