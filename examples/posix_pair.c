/*
 * posix_pair.c: two programs share a POSIX segment by its name.
 *
 * The writer creates posix:/shmkit-example-pair-<pid> with a shmkit_mutex
 * at its start, locks the mutex, and starts the reader: a new program
 * (exec), which knows nothing but the segment's name. The writer fills the
 * page slowly while the reader waits on the mutex, so the reader can only
 * look once the writer has unlocked: it never sees a half-written page. The
 * writer waits for the reader to exit, then removes the segment.
 *
 * The mutex is robust: had the writer died while filling the page, the
 * reader would get -EOWNERDEAD instead of hanging, and know the page may be
 * partial (robust_mutex.c shows that case).
 *
 *   cc -Wall posix_pair.c -o posix_pair $(pkg-config --cflags --libs shmkit)
 *   ./posix_pair
 */
#include <shmkit.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINES 4

/* The segment's layout; both programs agree on it. */
struct page {
	shmkit_mutex lock; /* held by the writer while it fills the page */
	int lines;
	char text[LINES][64];
};

static int fail(const char *what, const char *spec, int err)
{
	fprintf(stderr, "posix_pair: %s %s: %s\n", what, spec,
		shmkit_strerror(err));
	return 1;
}

/* The second program: attach by name, wait for the writer, read. */
static int reader(const char *spec)
{
	shmkit_seg *seg;
	struct page *pg;
	int r, i;

	/* Read-write: locking the mutex writes to it. */
	r = shmkit_attach(spec, NULL, &seg); /* the size comes from the object */
	if (r < 0)
		return fail("attach", spec, r);
	pg = shmkit_addr(seg);
	printf("reader: attached %s (%zu bytes), waiting for the writer\n",
	       spec, shmkit_size(seg));
	fflush(stdout);
	/* A bounded wait: a stuck writer gives -ETIMEDOUT, not a hang. */
	r = shmkit_mutex_timedlock(&pg->lock, 5000);
	if (r == -EOWNERDEAD) /* we hold it, but the writer died mid-page */
		shmkit_mutex_unlock(&pg->lock);
	if (r < 0) {
		shmkit_detach(seg);
		return fail("lock the page in", spec, r);
	}
	for (i = 0; i < pg->lines && i < LINES; i++)
		printf("reader: %s\n", pg->text[i]);
	printf("reader: read %d lines\n", pg->lines);
	r = pg->lines == LINES ? 0 : -EPROTO;
	shmkit_mutex_unlock(&pg->lock);
	shmkit_detach(seg); /* after the unlock: -EBUSY while holding it */
	return r < 0;
}

int main(int argc, char **argv)
{
	struct timespec pause = {0, 50 * 1000 * 1000}; /* 50 ms */
	shmkit_seg *seg;
	struct page *pg;
	char spec[64];
	int r, status, i;
	pid_t pid;

	if (argc == 3 && !strcmp(argv[1], "--read"))
		return reader(argv[2]);

	snprintf(spec, sizeof(spec), "posix:/shmkit-example-pair-%d",
		 (int)getpid());
	r = shmkit_create(spec, sizeof(*pg), NULL, &seg); /* 0600, exclusive */
	if (r < 0)
		return fail("create", spec, r);
	pg = shmkit_addr(seg); /* zeroed, as a new segment always is */
	r = shmkit_mutex_init(&pg->lock);
	if (r == 0)
		r = shmkit_mutex_lock(&pg->lock); /* before the reader exists */
	if (r < 0) {
		fail("set up the mutex in", spec, r);
		shmkit_destroy(seg);
		return 1;
	}
	printf("writer: created %s, starting the reader\n", spec);
	fflush(stdout); /* before fork: or the child prints it again */

	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--read", spec, (char *)NULL);
		perror("posix_pair: exec");
		_exit(127);
	}
	if (pid < 0)
		r = -errno;

	/* Fill the page under the lock; the reader waits meanwhile. */
	for (i = 0; r == 0 && i < LINES; i++) {
		snprintf(pg->text[i], sizeof(pg->text[i]),
			 "line %d from the writer, pid %d", i + 1,
			 (int)getpid());
		pg->lines = i + 1;
		nanosleep(&pause, NULL);
	}
	shmkit_mutex_unlock(&pg->lock);
	if (r == 0) {
		printf("writer: wrote %d lines, unlocked\n", LINES);
		fflush(stdout);
		if (waitpid(pid, &status, 0) < 0)
			r = -errno;
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			r = -ECHILD;
	}
	if (r < 0)
		fail("run the reader for", spec, r);

	/* Remove the name and unmap; the reader has gone already. */
	i = shmkit_destroy(seg);
	if (i < 0)
		return fail("destroy", spec, i);
	if (r == 0)
		printf("writer: the reader is done, %s removed\n", spec);
	return r < 0;
}
