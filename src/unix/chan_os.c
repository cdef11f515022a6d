/*
 * chan_os.c (Linux): the system calls under a channel (src/chan/chan_os.h).
 *
 * Waiting is FUTEX_WAIT on the 32-bit words in the shared header (no
 * FUTEX_PRIVATE_FLAG: the waiters are in different processes); the
 * waiter-side barrier is membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED); a
 * process is identified by its pid, its start time from /proc/PID/stat
 * (field 22, clock ticks after boot) and its pid namespace, and pinned with
 * a pidfd. The descriptor for event loops is an epoll instance holding an
 * abstract AF_UNIX datagram socket, the pinned peers' pidfds and a timerfd
 * (wait.c says why). The protocols that use all this are in src/chan/.
 */
#include "../chan/chan_int.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define TIMER_NS (100 * INT64_C(1000000))
#define EV_SOCK UINT32_MAX
#define EV_TIMER (UINT32_MAX - 1)

/* -- clocks, identity ------------------------------------------------------ */

int64_t shmkit__chan_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

uint64_t shmkit__chan_os_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void shmkit__chan_os_pause_ms(unsigned ms)
{
	struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

	nanosleep(&t, NULL);
}

uint32_t shmkit__chan_os_random32(void)
{
	uint32_t rnd;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)shmkit__chan_now() * 2654435761u ^
		      (uint32_t)getpid();
	return rnd;
}

uint64_t shmkit__chan_os_wake_id(void)
{
	return 0; /* futex words need no name */
}

/* -- membarrier ------------------------------------------------------------ */

/* Per process: registered for GLOBAL_EXPEDITED (1) or not (-1), for mb_pid. */
static int mb_state;
static pid_t mb_pid;

int shmkit__chan_os_mb_ready(void)
{
	pid_t pid = getpid();
	long q;
	int ok;

	if (LD_ACQ(&mb_pid) == pid)
		return LD_RLX(&mb_state) > 0;
	/* Registration is per process; a forked child registers again. */
	q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	ok = q > 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED) &&
	     (q & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) &&
	     syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
		     0, 0) == 0;
	ST_RLX(&mb_state, ok ? 1 : -1);
	ST_REL(&mb_pid, pid);
	return ok;
}

int shmkit__chan_os_mb(void)
{
	return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) ==
			       0
		       ? 0
		       : -1;
}

/* -- futex ----------------------------------------------------------------- */

void shmkit__chan_os_sleep(shmkit_chan *ch, int side, uint32_t val, int64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000),
			      .tv_nsec = (long)(ns % 1000000000)};

	(void)syscall(SYS_futex, chan_futex_word(ch, side), FUTEX_WAIT, val,
		      &ts, NULL, 0);
}

void shmkit__chan_os_wake(shmkit_chan *ch, int side, uint32_t n)
{
	(void)n; /* a futex wakes them all at no extra cost */
	(void)syscall(SYS_futex, chan_futex_word(ch, side), FUTEX_WAKE, INT_MAX,
		      NULL, NULL, 0);
}

/* -- processes ------------------------------------------------------------- */

/* Process state and start time from /proc/PID/stat. */
static int proc_stat(pid_t pid, uint64_t *start, char *state)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd, field, err;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	err = n < 0 ? -errno : -EIO;
	shmkit__close(fd);
	if (n <= 0)
		return err;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EIO;
	p += 2;
	*state = *p;
	for (field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

int shmkit__chan_os_alive(pid_t pid, uint32_t start_lo)
{
	uint64_t start;
	char state;

	if (pid <= 0)
		return 0;
	if (proc_stat(pid, &start, &state) == 0)
		return state != 'Z' && state != 'X' && (uint32_t)start == start_lo;
	/* /proc hidden from us (hidepid): if the pid exists, assume it is. */
	return kill(pid, 0) == 0 || errno == EPERM;
}

int shmkit__chan_os_self(pid_t *pid, uint64_t *start, uint64_t *pidns)
{
	struct stat sb;
	char state;
	int r;

	*pid = getpid();
	r = proc_stat(*pid, start, &state);
	if (r < 0)
		return r;
	*pidns = stat("/proc/self/ns/pid", &sb) == 0 ? (uint64_t)sb.st_ino : 0;
	return 0;
}

int shmkit__chan_os_pin(pid_t pid, uint32_t start_lo, shmkit__chan_pin *ret)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0)
		return errno == ESRCH ? EP_DEAD : EP_UNKNOWN;
	/* The pid may have been reused before the pidfd pinned it. */
	if (!shmkit__chan_os_alive(pid, start_lo)) {
		shmkit__close(fd);
		return EP_DEAD;
	}
	*ret = fd;
	return EP_ALIVE;
}

int shmkit__chan_os_pin_dead(shmkit__chan_pin pin)
{
	struct pollfd pfd = {.fd = pin, .events = POLLIN};

	return poll(&pfd, 1, 0) > 0;
}

void shmkit__chan_os_unpin(shmkit_chan *ch, uint32_t idx)
{
	shmkit__close(ch->peers[idx].pin); /* also leaves our epoll set */
}

/* -- the descriptor -------------------------------------------------------- */

void shmkit__chan_os_init(shmkit_chan *ch)
{
	ch->os.sock = ch->os.epfd = ch->os.tx = ch->os.timer = -1;
}

int shmkit__chan_os_has_notifier(const shmkit_chan *ch)
{
	return ch->os.epfd >= 0;
}

int shmkit__chan_os_notifier(shmkit_chan *ch, const char *name, uint32_t len)
{
	struct sockaddr_un sa;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_SOCK};
	int sock, ep, r;

	if (len > sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, len);
	if (bind(sock, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
		r = -errno; /* -EADDRINUSE: the caller draws another name */
		goto fail_sock;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		r = -errno;
		goto fail_sock;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev) < 0) {
		r = -errno;
		shmkit__close(ep);
		goto fail_sock;
	}
	ch->os.sock = sock;
	ch->os.epfd = ep;
	return 0;

fail_sock:
	shmkit__close(sock);
	return r;
}

int shmkit_chan_fd(shmkit_chan *ch)
{
	int r = shmkit__chan_notifier(ch);

	return r < 0 ? r : ch->os.epfd;
}

int shmkit_chan_win_event(shmkit_chan *ch, void **ret_handle)
{
	(void)ch;
	(void)ret_handle;
	return -ENOTSUP; /* Windows only: shmkit_chan_fd() here */
}

void shmkit__chan_os_drain(shmkit_chan *ch)
{
	char buf[16];
	int i;

	for (i = 0; i < 256; i++)
		if (recv(ch->os.sock, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
}

/*
 * Peers without a pidfd in the set (beyond the budget, or no pidfds here)
 * cannot wake the descriptor when they die: while there are any, a timer
 * in the set makes it readable after TIMER_NS, and the loop's next arm()
 * runs the liveness pass that notices. Made the first time it is needed.
 */
int shmkit__chan_os_timer(shmkit_chan *ch)
{
	struct itimerspec its;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_TIMER};
	uint64_t n;

	if (ch->os.timer < 0) {
		if (!ch->uncovered)
			return 0;
		ch->os.timer = timerfd_create(CLOCK_MONOTONIC,
					      TFD_CLOEXEC | TFD_NONBLOCK);
		if (ch->os.timer < 0)
			return -errno;
		if (epoll_ctl(ch->os.epfd, EPOLL_CTL_ADD, ch->os.timer, &ev) < 0) {
			int r = -errno;
			shmkit__close(ch->os.timer);
			ch->os.timer = -1;
			return r;
		}
	}
	while (read(ch->os.timer, &n, sizeof(n)) > 0)
		;
	memset(&its, 0, sizeof(its));
	if (ch->uncovered)
		its.it_value.tv_nsec = (long)TIMER_NS;
	return timerfd_settime(ch->os.timer, 0, &its, NULL) < 0 ? -errno : 0;
}

void shmkit__chan_os_watch(shmkit_chan *ch, uint32_t idx, int add)
{
	struct chan_peer *c = &ch->peers[idx];
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx};

	if (ch->os.epfd < 0 || c->pin < 0 || !add == !c->in_epoll)
		return;
	if (add) {
		if (epoll_ctl(ch->os.epfd, EPOLL_CTL_ADD, c->pin, &ev) == 0)
			c->in_epoll = 1;
	} else {
		(void)epoll_ctl(ch->os.epfd, EPOLL_CTL_DEL, c->pin, &ev);
		c->in_epoll = 0;
	}
}

void shmkit__chan_os_send_wake(shmkit_chan *ch, const char *name, uint32_t len)
{
	struct sockaddr_un sa;

	if (len > sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, len);
	if (ch->os.tx < 0) {
		ch->os.tx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
						    SOCK_NONBLOCK,
				   0);
		if (ch->os.tx < 0)
			return;
	}
	(void)sendto(ch->os.tx, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL,
		     (struct sockaddr *)&sa,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
}

void shmkit__chan_os_close(shmkit_chan *ch)
{
	shmkit__close(ch->os.epfd);
	shmkit__close(ch->os.sock);
	shmkit__close(ch->os.tx);
	shmkit__close(ch->os.timer);
	shmkit__chan_os_init(ch);
}

/* -- segments -------------------------------------------------------------- */

int shmkit__chan_os_read_hdr(shmkit_seg *seg, void *buf, size_t n,
			     size_t *ret_len)
{
	struct stat st;
	ssize_t got;
	int fd = shmkit_fd(seg);

	if (fd < 0)
		return -ENOTSUP;
	do {
		got = pread(fd, buf, n, 0);
	} while (got < 0 && errno == EINTR);
	*ret_len = got == (ssize_t)n && fstat(fd, &st) == 0 && st.st_size > 0
			   ? (size_t)st.st_size
			   : 0;
	return 0;
}
