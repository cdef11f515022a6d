/*
 * test.h: the tiny harness every shmkit test uses.
 *
 * One executable per area; main() runs the cases it lists and exits 0 when
 * all pass, 1 on the first failure, 77 when the whole area cannot run on this
 * host (ctest reports it as skipped). A case that cannot run here calls
 * SKIP("why"), which is reported with its reason and never counted as passed.
 * Every multi-process case waits with a bound (test_wait_child) and kills a
 * peer that overstays, so a hang is a failure with a message, not a suite
 * timeout.
 */
#ifndef SHMKIT_TEST_H
#define SHMKIT_TEST_H

#include "shmkit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_SKIP_CODE 77

extern int test_skipped_;
extern const char *test_skip_reason_;

/* A failure reports FILE:LINE and what failed, then ends the test. */
#define CHECK_FAIL_EXIT() test_fail_exit()
#include "check.h"

#define SKIP(why)                                                             \
	do {                                                                  \
		test_skipped_ = 1;                                            \
		test_skip_reason_ = (why);                                    \
		return;                                                       \
	} while (0)

typedef struct test_case {
	const char *name;
	void (*fn)(void);
} test_case;

/*
 * Exit after a failed assertion. In the test's main process it first sends
 * SIGTERM to every process of the test's own process group, so a child
 * blocked on a peer that failed never outlives the test.
 */
void test_fail_exit(void) __attribute__((noreturn));

/* Run the cases; returns the process exit status. */
int test_run(const char *area, const test_case *cases, size_t n);

/*
 * Wait for child pid at most timeout_ms. On timeout the child is killed and
 * the test fails naming what it was waiting for. Returns the wait status.
 */
int test_wait_child(pid_t pid, int timeout_ms, const char *what);

/* A child that must exit 0 within timeout_ms. */
void test_expect_child_ok(pid_t pid, int timeout_ms, const char *what);

/* A name unique to this process and call: "/shmkit-test-<pid>-<n>-<tag>". */
const char *test_name(const char *tag);

/* Descriptors open in this process (/proc/self/fd). */
int test_count_fds(void);

/*
 * Shared mappings in /proc/self/maps. Every segment mapping is MAP_SHARED
 * (shmat's too); counting only those keeps the allocator's own private
 * mappings, which come and go under sanitizers, out of the comparison.
 */
int test_count_shared_maps(void);

/* Nonzero if anything named "shmkit-test-<our pid>-*" is left in /dev/shm. */
int test_leftovers(void);

/*
 * Run fn(arg) in a forked child that has a /dev/shm of its own: a mount
 * namespace (unshare(CLONE_NEWNS)), / made private so nothing propagates
 * back, and a fresh tmpfs mounted on /dev/shm with mount options opts. What
 * the child does there (fill it, leave stale segments, gc it) never touches
 * the host's /dev/shm, and it all vanishes with the child. Waits at most
 * timeout_ms. Returns NULL once fn has returned and the child exited 0, or
 * the reason the host does not permit the namespace or the mount, for the
 * caller to SKIP with; fails the test, saying what, on anything else (a
 * SIGBUS is named as memory that was never reserved).
 */
const char *test_in_private_shm(void (*fn)(const char *arg), const char *arg,
				const char *opts, int timeout_ms,
				const char *what);

/*
 * What a test passes shmkit_gc() to collect /dev/shm itself: NULL (which
 * means /dev/shm, reported as posix: specs), and only inside
 * test_in_private_shm(). Anywhere else the test fails: a test collects only
 * what it made, never the host's stale segments.
 */
const char *test_private_shm_gc_dir(void);

#define TEST_MAIN(area, ...)                                                  \
	int main(void)                                                        \
	{                                                                     \
		static const test_case cases_[] = {__VA_ARGS__};              \
		return test_run(area, cases_,                                 \
				sizeof(cases_) / sizeof(cases_[0]));          \
	}
#define TEST(fn) {#fn, fn}

#endif
