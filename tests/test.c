/* test.c: the harness behind test.h. */
#include "test.h"

#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>

int test_skipped_;
const char *test_skip_reason_;
static pid_t main_pid;

void test_fail_exit(void)
{
	if (getpid() == main_pid) {
		signal(SIGTERM, SIG_IGN);
		kill(0, SIGTERM);
	}
	exit(1);
}

int test_run(const char *area, const test_case *cases, size_t n)
{
	size_t i, passed = 0, skipped = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A process group of our own, so test_fail_exit() reaches only us. */
	(void)setpgid(0, 0);
	main_pid = getpid();
	for (i = 0; i < n; i++) {
		test_skipped_ = 0;
		cases[i].fn();
		if (test_skipped_) {
			printf("SKIP %s.%s: %s\n", area, cases[i].name,
			       test_skip_reason_);
			skipped++;
		} else {
			printf("ok   %s.%s\n", area, cases[i].name);
			passed++;
		}
	}
	if (test_leftovers()) {
		fprintf(stderr, "%s: the tests left segments in /dev/shm\n", area);
		return 1;
	}
	printf("%s: %zu passed, 0 failed, %zu skipped\n", area, passed, skipped);
	return passed == 0 && skipped > 0 ? TEST_SKIP_CODE : 0;
}

int test_wait_child(pid_t pid, int timeout_ms, const char *what)
{
	struct timespec t0, now;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			FAIL_("waitpid(%s): %s", what, strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
			    (now.tv_nsec - t0.tv_nsec) / 1000000 >
		    timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			FAIL_("%s: child %d still running after %d ms; killed",
			      what, (int)pid, timeout_ms);
		}
		poll(NULL, 0, 1);
	}
}

void test_expect_child_ok(pid_t pid, int timeout_ms, const char *what)
{
	int st = test_wait_child(pid, timeout_ms, what);
	if (WIFSIGNALED(st))
		FAIL_("%s: child killed by signal %d", what, WTERMSIG(st));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		FAIL_("%s: child exited with status %d", what, WEXITSTATUS(st));
}

const char *test_name(const char *tag)
{
	static char buf[8][128];
	static unsigned n;
	char *b = buf[n % 8];
	snprintf(b, sizeof(buf[0]), "/shmkit-test-%d-%u-%s", (int)getpid(), n,
		 tag);
	n++;
	return b;
}

int test_leftovers(void)
{
	char prefix[64];
	struct dirent *de;
	int found = 0;
	DIR *d = opendir("/dev/shm");

	if (!d)
		return 0;
	snprintf(prefix, sizeof(prefix), "shmkit-test-%d-", (int)getpid());
	while ((de = readdir(d)) != NULL) {
		if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			fprintf(stderr, "left behind: /dev/shm/%s\n", de->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

int test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	ASSERT(d != NULL);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

int test_count_shared_maps(void)
{
	char line[4096], perms[8];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %7s", perms) == 1 && perms[3] == 's')
			n++;
	fclose(f);
	return n;
}

enum { PRIVATE_SHM_UNSHARE = 77, PRIVATE_SHM_PRIVATE, PRIVATE_SHM_MOUNT };

static int shm_is_private; /* set in the child test_in_private_shm() runs */

const char *test_in_private_shm(void (*fn)(const char *arg), const char *arg,
				const char *opts, int timeout_ms, const char *what)
{
	pid_t pid = fork();
	int st;

	ASSERT(pid >= 0);
	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0)
			_exit(PRIVATE_SHM_UNSHARE);
		/* The type is ignored here; "none" rather than NULL keeps
		 * valgrind from reporting it. */
		if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(PRIVATE_SHM_PRIVATE);
		if (mount("shmkit-test", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
			  opts) < 0)
			_exit(PRIVATE_SHM_MOUNT);
		shm_is_private = 1;
		fn(arg);
		_exit(0);
	}
	st = test_wait_child(pid, timeout_ms, what);
	if (WIFEXITED(st)) {
		switch (WEXITSTATUS(st)) {
		case 0:
			return NULL;
		case PRIVATE_SHM_UNSHARE:
			return "unshare(CLONE_NEWNS) is not permitted here";
		case PRIVATE_SHM_PRIVATE:
			return "cannot make / private in a new mount namespace";
		case PRIVATE_SHM_MOUNT:
			return "cannot mount a tmpfs on /dev/shm";
		}
		FAIL_("%s: child exited with status %d", what, WEXITSTATUS(st));
	}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS)
		FAIL_("%s: child killed by SIGBUS: memory was not reserved", what);
	FAIL_("%s: child killed by signal %d (%s)", what,
	      WIFSIGNALED(st) ? WTERMSIG(st) : 0,
	      WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "?");
}

const char *test_private_shm_gc_dir(void)
{
	if (!shm_is_private)
		FAIL_("shmkit_gc() of the host's /dev/shm: a test may collect "
		      "only what it made (use test_in_private_shm)");
	return NULL;
}
