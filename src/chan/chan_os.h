/*
 * chan_os.h: the operating-system primitives under a channel, as libuv
 * splits them: the ring logic and the protocols of waiting, waking and
 * liveness stay in src/chan/ for every platform; what they need from the
 * system is this small set of calls, implemented by src/unix/chan_os.c
 * (futex, membarrier, pidfds, an epoll descriptor) and src/win/chan_os.c
 * (named semaphores, process handles, an event).
 *
 * The calls that the spin loops and the non-blocking -EAGAIN path make
 * (clocks, the CPU number, yield) are inline on Linux, as they were before
 * the split, so that no call costs more than it did. Nothing here is on a
 * publisher's fast path (chan_published() in chan_int.h needs no system).
 */
#ifndef SHMKIT_CHAN_OS_H
#define SHMKIT_CHAN_OS_H

#include <stdint.h>
#include <sys/types.h>

#ifdef _WIN32
/* A process HANDLE that pins a peer (WaitForSingleObject says it exited). */
typedef void *shmkit__chan_pin;
#define CHAN_PIN_NONE NULL
/* What a handle holds from the system (HANDLEs as void *, NULL: none). */
struct shmkit__chan_os {
	void *sem[2];        /* per side (SIDE_RD, SIDE_WR): the wake semaphore */
	void *event;         /* shmkit_chan_win_event()'s event */
	void *timer;         /* timer-queue timer for uncovered peers */
	uint64_t wake_id;    /* chan_meta.wake_id, read once at open */
	uint8_t global;      /* the segment is in Global\: so are the objects */
	uint8_t sem_tried[2];
};
#define CHAN_OS_PEER_WATCH 1 /* chan_peer has a registered wait */
#else
/* A pidfd that pins a peer (it polls readable when the peer exits). */
typedef int shmkit__chan_pin;
#define CHAN_PIN_NONE (-1)
struct shmkit__chan_os {
	int sock;  /* our wake socket, -1 */
	int epfd;  /* the descriptor handed out, -1 */
	int tx;    /* socket to wake others with, -1 */
	int timer; /* timerfd in epfd for uncovered peers, -1 */
};
#endif

/* -- clocks, identity, scheduling ------------------------------------------ */

/* Monotonic nanoseconds (CLOCK_MONOTONIC; QueryPerformanceCounter). */
SHMKIT__HIDDEN int64_t shmkit__chan_now(void);
/* Wall-clock nanoseconds since 1970, for chan_meta.created_ns. */
SHMKIT__HIDDEN uint64_t shmkit__chan_os_realtime_ns(void);
/* Sleep about ms milliseconds (an opener waiting for a creator). */
SHMKIT__HIDDEN void shmkit__chan_os_pause_ms(unsigned ms);
/* 32 random bits: the system's generator, else something unguessable
 * enough (the clock and pid mixed) not to collide. */
SHMKIT__HIDDEN uint32_t shmkit__chan_os_random32(void);
/* chan_meta.wake_id for a new channel: what names its wake objects where
 * waking goes through named objects (Windows), 0 where it does not. */
SHMKIT__HIDDEN uint64_t shmkit__chan_os_wake_id(void);

#ifdef _WIN32
SHMKIT__HIDDEN int64_t shmkit__chan_coarse_now(void);
SHMKIT__HIDDEN pid_t shmkit__chan_os_pid(void);
SHMKIT__HIDDEN void shmkit__chan_os_yield(void);
/* The CPU this thread runs on, or -1. */
SHMKIT__HIDDEN int shmkit__chan_os_cpu(void);
#else
#include <sched.h>
#include <time.h>
#include <unistd.h>

/* Cheap: the nowait path looks at it on every -EAGAIN. */
static inline int64_t shmkit__chan_coarse_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline pid_t shmkit__chan_os_pid(void)
{
	return getpid();
}

static inline void shmkit__chan_os_yield(void)
{
	sched_yield();
}

static inline int shmkit__chan_os_cpu(void)
{
	return sched_getcpu();
}
#endif

/* -- the asymmetric barrier (see wait.c) ----------------------------------- */

/* Can this process take part in the waiter-side barrier (register once)?
 * 0: it must fence when it publishes instead ("publishers fence"). */
SHMKIT__HIDDEN int shmkit__chan_os_mb_ready(void);
/* The waiter-side barrier across every process that is ready: 0, or -1
 * if refused (the caller then fences for good). */
SHMKIT__HIDDEN int shmkit__chan_os_mb(void);

/* -- sleeping and waking (the futex contract) ------------------------------ */

/*
 * Sleep on side's futex word for at most ns while it still holds val (the
 * value read before the caller's barrier and re-check): a wake made after
 * that read is never lost, it makes this return at once. May return early.
 */
SHMKIT__HIDDEN void shmkit__chan_os_sleep(shmkit_chan *ch, int side,
					  uint32_t val, int64_t ns);
/* Wake every sleeper of side (the caller has bumped the word); n is how
 * many the wait word counted, at least 1 (a hint, for counted objects). */
SHMKIT__HIDDEN void shmkit__chan_os_wake(shmkit_chan *ch, int side,
					 uint32_t n);

/* -- processes ------------------------------------------------------------- */

/* This process: pid, full start time (any unit, stable for the process's
 * life), pid namespace id (0 where there is none). */
SHMKIT__HIDDEN int shmkit__chan_os_self(pid_t *pid, uint64_t *start,
					uint64_t *pidns);
/* Is pid the process whose start time has these low 32 bits? */
SHMKIT__HIDDEN int shmkit__chan_os_alive(pid_t pid, uint32_t start_lo);
/*
 * Pin pid (that start time) so that later checks are cheap: EP_ALIVE with
 * *ret set, EP_DEAD, or EP_UNKNOWN if it cannot be pinned here (the caller
 * then asks shmkit__chan_os_alive() each time).
 */
SHMKIT__HIDDEN int shmkit__chan_os_pin(pid_t pid, uint32_t start_lo,
				       shmkit__chan_pin *ret);
/* Has the pinned process exited? */
SHMKIT__HIDDEN int shmkit__chan_os_pin_dead(shmkit__chan_pin pin);
/* Drop peers[idx]'s pin (leaving the notifier's watch with it). */
SHMKIT__HIDDEN void shmkit__chan_os_unpin(shmkit_chan *ch, uint32_t idx);

/* -- the notifier for event loops (shmkit_chan_fd / _win_event) ------------ */

/* Set the handle's system objects to "none"; ch->h is mapped. */
SHMKIT__HIDDEN void shmkit__chan_os_init(shmkit_chan *ch);
/* Is the notifier made? */
SHMKIT__HIDDEN int shmkit__chan_os_has_notifier(const shmkit_chan *ch);
/* Make it under name (len bytes, wait.c's form): 0, -EADDRINUSE if that
 * name is taken (draw another), or another -errno. */
SHMKIT__HIDDEN int shmkit__chan_os_notifier(shmkit_chan *ch, const char *name,
					    uint32_t len);
/* Take back what made it signalled. */
SHMKIT__HIDDEN void shmkit__chan_os_drain(shmkit_chan *ch);
/* While ch->uncovered, signal it after a while (so that a liveness pass
 * runs); else stop doing so. 0 or -errno. */
SHMKIT__HIDDEN int shmkit__chan_os_timer(shmkit_chan *ch);
/* Make peers[idx]'s death signal the notifier (add), or stop. */
SHMKIT__HIDDEN void shmkit__chan_os_watch(shmkit_chan *ch, uint32_t idx,
					  int add);
/* Signal another endpoint's notifier, by a name already checked. */
SHMKIT__HIDDEN void shmkit__chan_os_send_wake(shmkit_chan *ch,
					      const char *name, uint32_t len);
/* Close everything shmkit__chan_os_init() set to none. */
SHMKIT__HIDDEN void shmkit__chan_os_close(shmkit_chan *ch);

/* -- segments -------------------------------------------------------------- */

/*
 * For probe: read n bytes of the header through the segment's descriptor
 * (a file cut short is then a short read, not a fault) and the object's
 * current size into *ret_len (0 if the read came short). -ENOTSUP where
 * the segment has no descriptor: the caller reads the mapping.
 */
SHMKIT__HIDDEN int shmkit__chan_os_read_hdr(shmkit_seg *seg, void *buf,
					    size_t n, size_t *ret_len);

#endif /* SHMKIT_CHAN_OS_H */
