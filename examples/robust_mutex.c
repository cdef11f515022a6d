/*
 * robust_mutex.c: a shmkit_mutex guarding shared state, and what happens
 * when the process holding it dies.
 *
 * The segment posix:/shmkit-example-mutex-<pid> holds two accounts whose
 * sum is always TOTAL, and a mutex that guards them. A transfer takes
 * money from one and gives it to the other, under the mutex, noting the
 * amount in flight first. The parent forks a child that locks the mutex,
 * takes the money from account a, and is killed (SIGKILL) before it gives
 * it to b: the sum is now wrong, and the mutex was never unlocked.
 *
 * The kernel hands the dead holder's mutex to the next locker, which gets
 * -EOWNERDEAD: it owns the mutex, and knows the state may be half-updated.
 * It repairs it (completes the transfer in flight), says so with
 * shmkit_mutex_consistent(), and unlocks; from then on the mutex locks as
 * usual. Had it not repaired, the next locker would be told -EOWNERDEAD
 * again: a shmkit_mutex never becomes unusable.
 *
 *   cc -Wall robust_mutex.c -o robust_mutex $(pkg-config --cflags --libs shmkit)
 *   ./robust_mutex
 */
#include <shmkit.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOTAL 1000

struct bank {
	shmkit_mutex lock; /* guards the rest */
	int64_t a, b;      /* a + b == TOTAL whenever the mutex is free */
	int64_t moving;    /* amount of the transfer in progress, or 0 */
};

static int fail(const char *what, const char *spec, int err)
{
	fprintf(stderr, "robust_mutex: %s %s: %s\n", what, spec,
		shmkit_strerror(err));
	return 1;
}

/*
 * Lock the bank. After a holder's death, complete the transfer it left
 * half done: the money left a but never reached b.
 */
static int lock_bank(struct bank *bk)
{
	int r = shmkit_mutex_timedlock(&bk->lock, 5000); /* bounded */

	if (r != -EOWNERDEAD)
		return r;
	printf("locker: %s: the holder died; a=%lld b=%lld, "
	       "sum %lld, %lld in flight\n", shmkit_err_name(r),
	       (long long)bk->a, (long long)bk->b,
	       (long long)(bk->a + bk->b), (long long)bk->moving);
	if (bk->a + bk->b != TOTAL)
		bk->b += bk->moving;
	bk->moving = 0;
	printf("locker: repaired: a=%lld b=%lld, sum %lld\n",
	       (long long)bk->a, (long long)bk->b, (long long)(bk->a + bk->b));
	r = shmkit_mutex_consistent(&bk->lock);
	if (r < 0)
		shmkit_mutex_unlock(&bk->lock);
	return r;
}

/* The child: starts a transfer, tells the parent, and waits to be killed. */
static void doomed_transfer(struct bank *bk, int tell)
{
	struct timespec ten = {10, 0};
	int r;

	r = lock_bank(bk);
	if (r < 0) {
		fprintf(stderr, "robust_mutex: child: lock: %s\n",
			shmkit_strerror(r));
		_exit(1);
	}
	bk->moving = 100;
	bk->a -= 100;
	/* ... and here the child dies, before bk->b += 100. */
	if (write(tell, "!", 1) != 1)
		_exit(1);
	nanosleep(&ten, NULL); /* at most 10 s, should no kill come */
	_exit(1);
}

int main(void)
{
	int r, status, tell[2];
	struct pollfd pfd;
	shmkit_seg *seg;
	struct bank *bk;
	char spec[64], c;
	pid_t pid;

	snprintf(spec, sizeof(spec), "posix:/shmkit-example-mutex-%d",
		 (int)getpid());
	r = shmkit_create(spec, sizeof(*bk), NULL, &seg);
	if (r < 0)
		return fail("create", spec, r);
	bk = shmkit_addr(seg);
	r = shmkit_mutex_init(&bk->lock); /* once, before anyone locks it */
	if (r < 0) {
		fail("init the mutex in", spec, r);
		shmkit_destroy(seg);
		return 1;
	}
	bk->a = TOTAL;
	printf("parent: a=%lld b=%lld in %s\n", (long long)bk->a,
	       (long long)bk->b, spec);

	if (pipe(tell) < 0) {
		fail("pipe for", spec, -errno);
		shmkit_destroy(seg);
		return 1;
	}
	fflush(stdout); /* before fork: or the child prints it again */
	pid = fork();
	if (pid == 0) /* the mapping is inherited: it is the same memory */
		doomed_transfer(bk, tell[1]);
	r = pid < 0 ? -errno : 0;
	close(tell[1]);
	if (r < 0)
		goto out;

	/* Wait (bounded) until the child holds the lock mid-transfer. */
	pfd.fd = tell[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1 || read(tell[0], &c, 1) != 1) {
		r = -ETIMEDOUT;
		fail("wait for the child to lock", spec, r);
	}
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) < 0) {
		r = -errno;
		goto out;
	}
	if (r < 0)
		goto out;
	printf("parent: killed the child (pid %d) while it held the mutex\n",
	       (int)pid);

	/* The next locker is told, repairs, and the mutex goes on. */
	r = lock_bank(bk);
	if (r < 0) {
		fail("lock the bank in", spec, r);
		goto out;
	}
	shmkit_mutex_unlock(&bk->lock);

	r = lock_bank(bk);
	if (r < 0) {
		fail("lock the bank again in", spec, r);
		goto out;
	}
	printf("parent: locked again, no error: a=%lld b=%lld, sum %lld\n",
	       (long long)bk->a, (long long)bk->b,
	       (long long)(bk->a + bk->b));
	if (bk->a + bk->b != TOTAL)
		r = -EPROTO;
	shmkit_mutex_unlock(&bk->lock);
	if (r == 0)
		r = shmkit_mutex_destroy(&bk->lock);
out:
	close(tell[0]);
	/* Not while holding the mutex (-EBUSY): it is unlocked by now. */
	if (shmkit_destroy(seg) < 0 && r == 0)
		r = -EIO;
	return r < 0;
}
