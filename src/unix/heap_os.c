/*
 * heap_os.c (Linux): what a heap needs from the system (src/heap/heap_os.h).
 *
 * A growable heap is a descriptor-backed segment. Its parts are ranges of
 * that one object, each mapped on its own 1 MiB boundary (a PROT_NONE
 * reservation, then MAP_FIXED over it), so alloc_aligned can promise 1 MiB
 * in every process. Growth is ftruncate and, unless NORESERVE,
 * posix_fallocate, so that a full tmpfs is -ENOMEM at growth rather than a
 * SIGBUS at a touch. A process is its pid, its start time (field 22 of
 * /proc/PID/stat, which tells a reused pid from the process that had it)
 * and the inode of its pid namespace (pids of another namespace mean
 * nothing here: such a process is never declared dead).
 */
#include "../heap/heap_os.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAP_ALIGN (UINT64_C(1) << 20) /* fd-backed parts: 1 MiB aligned */

unsigned long shmkit__heap_forkgen = 1; /* bumped in every forked child */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_child(void)
{
	__atomic_add_fetch(&shmkit__heap_forkgen, 1, __ATOMIC_RELAXED);
}

static void fork_init(void)
{
	(void)pthread_atfork(NULL, NULL, fork_child);
}

void shmkit__heap_os_init(void)
{
	(void)pthread_once(&fork_once, fork_init);
}

bool shmkit__heap_os_growable(const shmkit_seg *seg)
{
	return shmkit_fd(seg) >= 0;
}

int shmkit__heap_os_map(shmkit_heap *h, unsigned part, uint64_t fileoff,
			uint64_t size)
{
	size_t span = (size_t)(size + MAP_ALIGN);
	char *res, *at;
	uintptr_t a;

	res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		   MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return -errno;
	a = ((uintptr_t)res + MAP_ALIGN - 1) & ~(uintptr_t)(MAP_ALIGN - 1);
	at = mmap((void *)a, (size_t)size, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_FIXED, shmkit_fd(h->seg), (off_t)fileoff);
	if (at == MAP_FAILED) {
		int e = -errno;
		munmap(res, span);
		return e;
	}
	if (at > res)
		munmap(res, (size_t)(at - res));
	if (at + size < res + span)
		munmap(at + size, (size_t)(res + span - (at + size)));
	h->base[part] = at;
	set_psize(h, part, size);
	h->unmap[part] = true;
	return 0;
}

void shmkit__heap_os_unmap(shmkit_heap *h, unsigned part)
{
	if (h->unmap[part] && h->base[part])
		munmap(h->base[part], (size_t)h->psize[part]);
}

int shmkit__heap_os_size(shmkit_heap *h, uint64_t *ret)
{
	struct stat stb;

	if (fstat(shmkit_fd(h->seg), &stb) < 0)
		return -errno;
	*ret = (uint64_t)stb.st_size;
	return 0;
}

int shmkit__heap_os_extend(shmkit_heap *h, uint64_t fo, uint64_t want,
			   bool reserve)
{
	int fd = shmkit_fd(h->seg), r;
	uint64_t size;

	if ((r = shmkit__heap_os_size(h, &size)) < 0)
		return r;
	if (size < fo + want) {
		if (shmkit__within_fsize((size_t)(fo + want)) < 0)
			return -ENOMEM;
		while (ftruncate(fd, (off_t)(fo + want)) < 0)
			if (errno != EINTR)
				return -ENOMEM;
	}
	if (reserve) {
		do
			r = posix_fallocate(fd, (off_t)fo, (off_t)want);
		while (r == EINTR);
		if (r != 0 && r != EOPNOTSUPP && r != EINVAL)
			return -ENOMEM;
	}
	return 0;
}

int shmkit__heap_os_peek(shmkit_seg *seg, uint64_t *ret)
{
	uint64_t magic = 0;
	ssize_t n;

	if (shmkit_fd(seg) < 0) {
		if (shmkit_size(seg) < 8)
			return -EPROTO;
		*ret = __atomic_load_n((const uint64_t *)shmkit_addr(seg),
				       __ATOMIC_ACQUIRE);
		return 0;
	}
	/* Through the descriptor: a file cut short since attach is a short
	 * read here, where the mapping would raise SIGBUS. */
	do {
		n = pread(shmkit_fd(seg), &magic, sizeof(magic), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(magic))
		return -EPROTO;
	*ret = magic;
	return 0;
}

uint64_t shmkit__heap_os_random(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
		    ((uint64_t)getpid() << 40);
	}
	return s;
}

/* Field 22 of /proc/PID/stat (start time in clock ticks), 0 if unknown. */
static uint64_t proc_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v = 0;
	int fd, field;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	shmkit__close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* after ")": field 3 is the state; count on to field 22 */
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field != 22 || sscanf(p, "%llu", &v) != 1)
		return 0;
	return (uint64_t)v;
}

static uint64_t pidns(void)
{
	struct stat stb;
	return stat("/proc/self/ns/pid", &stb) == 0 ? (uint64_t)stb.st_ino : 0;
}

void shmkit__heap_os_self(uint64_t *pid, uint64_t *start, uint64_t *ns)
{
	pid_t self = getpid();

	*pid = (uint64_t)self;
	*start = proc_start(self);
	*ns = pidns();
}

bool shmkit__heap_os_alive(uint64_t pid64, uint64_t start, uint64_t ns)
{
	pid_t pid = (pid_t)pid64;
	uint64_t now;

	if (ns && ns != pidns())
		return true; /* another pid namespace: cannot tell, keep it */
	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	now = proc_start(pid);
	return !(start && now && now != start); /* a new process, same pid */
}
