/*
 * chan_os.c (Windows): the system's part of a channel (src/chan/chan_os.h)
 * with kernel32 and advapi32 only. The ring, the wait words and every
 * protocol are the ones of src/chan/; what differs is below.
 *
 * No membarrier. FlushProcessWriteBuffers() is a barrier on the threads of
 * the calling process only, and the publisher a waiter races with is in
 * another process, so it cannot stand in for the waiter's half of the
 * barrier. Every handle therefore runs in the mode wait.c has for processes
 * membarrier cannot reach: publishers fence (one locked instruction per
 * publication) and every waiting handle counts itself a fencer.
 *
 * No futex between processes (WaitOnAddress is per process). Each side of a
 * channel has a named semaphore, "Local\shmkit.c<16 hex>.r" or ".w", the
 * hex being chan_meta.wake_id, drawn at random by the creator. The futex
 * contract holds: a sleeper reads the futex word, registers, re-checks,
 * then waits only if the word still holds what it read; a waker bumps the
 * word and releases the semaphore once per sleeper the wait word counts,
 * and a count released before the sleeper reaches WaitForSingleObject stays
 * in the semaphore, so that wake-up is never lost. A count left over (the
 * sleeper found its message on the re-check) costs one spurious wake-up
 * later, which the protocol tolerates everywhere. The name's form is fixed:
 * a hostile header can choose only the hex, so it can point a waker only at
 * another shmkit channel's semaphore (a spurious wake-up there). If the
 * semaphore cannot be made or opened (a squatter holds the name with a
 * DACL that refuses us), a sleeper sleeps its slice out and polls: slower,
 * never stuck.
 *
 * Peers are identified by pid and the low 32 bits of their creation time
 * (GetProcessTimes, 100 ns units; the owner word packs them as it packs the
 * Linux start time) and pinned by a process handle (SYNCHRONIZE |
 * PROCESS_QUERY_LIMITED_INFORMATION), at most CHAN_PIDFDS per channel
 * handle as with pidfds; WaitForSingleObject(h, 0) says whether one exited.
 *
 * The notifier is a manual-reset event, "Local\shmkit.<pid>.<8 hex>" (the
 * name wait.c publishes in the entry, without its leading NUL); a publisher
 * opens it by that checked name and sets it. Peer deaths set it through
 * RegisterWaitForSingleObject on the pinned process handles, and a
 * timer-queue timer covers peers without one, as the timerfd does on Linux.
 *
 * Namespace and access follow the segment (win_int.h, views.c): the
 * objects are in Global\ for a win:Global\ segment and for a file:
 * segment (files are shared across sessions by path), in Local\ for a
 * Local one; their DACL lets whoever may write the segment wait and
 * signal, never more than the segment lets anyone do.
 */
#include "../chan/chan_int.h"
#include "win_int.h"

#include <ntsecapi.h>
#include <stdio.h>

#define TIMER_MS 100u
#define PID_MAX_PACKED 0x7fffffu /* EP_PID's 23 bits */

/* -- clocks, identity, scheduling ------------------------------------------ */

int64_t shmkit__chan_now(void)
{
	static LARGE_INTEGER freq;
	LARGE_INTEGER c;
	int64_t f;

	if (!LD_RLX(&freq.QuadPart)) {
		LARGE_INTEGER q;
		QueryPerformanceFrequency(&q);
		ST_RLX(&freq.QuadPart, q.QuadPart);
	}
	f = LD_RLX(&freq.QuadPart);
	QueryPerformanceCounter(&c);
	return c.QuadPart / f * 1000000000 +
	       c.QuadPart % f * 1000000000 / f;
}

/* The same clock as shmkit__chan_now(): live_last is compared with both. */
int64_t shmkit__chan_coarse_now(void)
{
	return shmkit__chan_now();
}

uint64_t shmkit__chan_os_realtime_ns(void)
{
	FILETIME ft;
	uint64_t t;

	GetSystemTimePreciseAsFileTime(&ft);
	t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
	/* 100 ns units since 1601 to ns since 1970. */
	return (t - UINT64_C(116444736000000000)) * 100;
}

void shmkit__chan_os_pause_ms(unsigned ms)
{
	Sleep(ms);
}

uint32_t shmkit__chan_os_random32(void)
{
	uint32_t rnd;

	if (!RtlGenRandom(&rnd, sizeof(rnd)))
		rnd = (uint32_t)shmkit__chan_now() * 2654435761u ^
		      (uint32_t)GetCurrentProcessId();
	return rnd;
}

uint64_t shmkit__chan_os_wake_id(void)
{
	uint64_t id = 0;

	while (!id)
		id = (uint64_t)shmkit__chan_os_random32() << 32 |
		     shmkit__chan_os_random32();
	return id;
}

pid_t shmkit__chan_os_pid(void)
{
	return (pid_t)GetCurrentProcessId();
}

void shmkit__chan_os_yield(void)
{
	SwitchToThread();
}

int shmkit__chan_os_cpu(void)
{
	return (int)GetCurrentProcessorNumber();
}

/* -- no membarrier: publishers fence ---------------------------------------- */

int shmkit__chan_os_mb_ready(void)
{
	return 0;
}

int shmkit__chan_os_mb(void)
{
	return -1;
}

/* -- object names ---------------------------------------------------------- */

/* "Local\shmkit.<rest>" (Global\ for a channel in a Global\ segment). */
static int obj_name(const shmkit_chan *ch, const char *rest, WCHAR *out,
		    size_t cap)
{
	char buf[96];
	int n = snprintf(buf, sizeof(buf), "%s\\shmkit.%s",
			 ch->os.global ? "Global" : "Local", rest);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	return shmkit__win_wide(buf, out, cap);
}

/* -- the futex words: a semaphore per side ---------------------------------- */

#define SEM_USE (SYNCHRONIZE | SEMAPHORE_MODIFY_STATE)
#define EVENT_USE (SYNCHRONIZE | EVENT_MODIFY_STATE)

/*
 * Made or opened on first use and kept for the handle's life, so that a
 * count released for a sleeper that has not opened it yet is still there
 * when it does. Its DACL derives from the segment's (win_int.h): whoever
 * may write the segment may wait and signal, read-only users may not.
 * Opened asking for just that, which is what such a DACL grants.
 */
static HANDLE side_sem(shmkit_chan *ch, int side)
{
	char rest[40];
	WCHAR name[64];
	shmkit__win_sa sa;

	if (ch->os.sem[side] || ch->os.sem_tried[side])
		return ch->os.sem[side];
	ch->os.sem_tried[side] = 1;
	snprintf(rest, sizeof(rest), "c%016llx.%c",
		 (unsigned long long)ch->os.wake_id, side == SIDE_RD ? 'r' : 'w');
	if (obj_name(ch, rest, name, sizeof(name) / sizeof(name[0])) < 0 ||
	    shmkit__win_seg_sa(ch->seg, SEMAPHORE_ALL_ACCESS, SEM_USE, &sa) < 0)
		return NULL;
	ch->os.sem[side] = CreateSemaphoreExW(&sa.sa, 0, LONG_MAX, name, 0,
					      SEM_USE);
	shmkit__win_sa_free(&sa);
	return ch->os.sem[side];
}

static DWORD ms_of(int64_t ns)
{
	int64_t ms = (ns + 999999) / 1000000;

	return ms < 1 ? 1 : ms > 0x7fffffff ? 0x7fffffff : (DWORD)ms;
}

void shmkit__chan_os_sleep(shmkit_chan *ch, int side, uint32_t val, int64_t ns)
{
	HANDLE s = side_sem(ch, side);

	if (LD_ACQ(chan_futex_word(ch, side)) != val)
		return; /* woken since the caller read it */
	if (!s) {
		Sleep(ms_of(ns)); /* no semaphore: poll each slice */
		return;
	}
	(void)WaitForSingleObject(s, ms_of(ns));
}

void shmkit__chan_os_wake(shmkit_chan *ch, int side, uint32_t n)
{
	HANDLE s = side_sem(ch, side);

	if (s)
		(void)ReleaseSemaphore(s, (LONG)(n ? n : 1), NULL);
}

/* -- processes ------------------------------------------------------------- */

static uint64_t creation_time(HANDLE h, int *ok)
{
	FILETIME c, e, k, u;

	*ok = GetProcessTimes(h, &c, &e, &k, &u) != 0;
	return ((uint64_t)c.dwHighDateTime << 32) | c.dwLowDateTime;
}

int shmkit__chan_os_self(pid_t *pid, uint64_t *start, uint64_t *pidns)
{
	DWORD me = GetCurrentProcessId();
	int ok;

	/* The owner word has 23 bits for the pid (Windows pids are far
	 * below that in practice; say so rather than alias another). */
	if (me > PID_MAX_PACKED)
		return -EOVERFLOW;
	*start = creation_time(GetCurrentProcess(), &ok);
	if (!ok)
		return shmkit__win_last();
	*pid = (pid_t)me;
	*pidns = 0;
	return 0;
}

/* The process pid if it is the one created at start_lo: a handle, or NULL
 * with *dead saying whether it is gone (else we may not look: assume it
 * lives, as Linux does when /proc is hidden). */
static HANDLE proc_open(pid_t pid, uint32_t start_lo, int *dead)
{
	HANDLE h;
	uint64_t t;
	int ok;

	*dead = 1;
	if (pid <= 0)
		return NULL;
	h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
			(DWORD)pid);
	if (!h) {
		*dead = GetLastError() == ERROR_INVALID_PARAMETER;
		return NULL;
	}
	t = creation_time(h, &ok);
	if (ok && (uint32_t)t == start_lo &&
	    WaitForSingleObject(h, 0) == WAIT_TIMEOUT) {
		*dead = 0;
		return h;
	}
	CloseHandle(h);
	return NULL;
}

int shmkit__chan_os_alive(pid_t pid, uint32_t start_lo)
{
	int dead;
	HANDLE h = proc_open(pid, start_lo, &dead);

	if (h)
		CloseHandle(h);
	return !dead;
}

int shmkit__chan_os_pin(pid_t pid, uint32_t start_lo, shmkit__chan_pin *ret)
{
	int dead;
	HANDLE h = proc_open(pid, start_lo, &dead);

	if (h) {
		*ret = h;
		return EP_ALIVE;
	}
	return dead ? EP_DEAD : EP_UNKNOWN;
}

int shmkit__chan_os_pin_dead(shmkit__chan_pin pin)
{
	return WaitForSingleObject(pin, 0) == WAIT_OBJECT_0;
}

static void unwatch(struct chan_peer *c)
{
	if (c->watch) /* waits for a callback under way */
		(void)UnregisterWaitEx(c->watch, INVALID_HANDLE_VALUE);
	c->watch = NULL;
	c->in_epoll = 0;
}

void shmkit__chan_os_unpin(shmkit_chan *ch, uint32_t idx)
{
	struct chan_peer *c = &ch->peers[idx];

	unwatch(c);
	CloseHandle(c->pin);
}

/* -- the notifier: an event ------------------------------------------------ */

void shmkit__chan_os_init(shmkit_chan *ch)
{
	memset(&ch->os, 0, sizeof(ch->os));
	ch->os.wake_id = LD_RLX(&ch->h->meta.wake_id);
	ch->os.global = shmkit__win_seg_global(ch->seg);
}

int shmkit__chan_os_has_notifier(const shmkit_chan *ch)
{
	return ch->os.event != NULL;
}

int shmkit__chan_os_notifier(shmkit_chan *ch, const char *name, uint32_t len)
{
	char rest[40];
	WCHAR wname[64];
	shmkit__win_sa sa;
	HANDLE ev;
	DWORD err;
	int r;

	/* name is "\0shmkit.<pid>.<hex>": the object is shmkit.<pid>.<hex>. */
	if (len < 2 || len - 1 >= sizeof(rest) || name[0] != '\0' ||
	    len - 1 <= sizeof("shmkit.") - 1)
		return -EINVAL;
	memcpy(rest, name + 1 + sizeof("shmkit.") - 1,
	       len - 1 - (sizeof("shmkit.") - 1));
	rest[len - 1 - (sizeof("shmkit.") - 1)] = '\0';
	r = obj_name(ch, rest, wname, sizeof(wname) / sizeof(wname[0]));
	if (r < 0)
		return r;
	/* The segment's writers may set it (they publish), nobody else. */
	if ((r = shmkit__win_seg_sa(ch->seg, EVENT_ALL_ACCESS, EVENT_USE, &sa)) < 0)
		return r;
	ev = CreateEventExW(&sa.sa, wname, CREATE_EVENT_MANUAL_RESET, EVENT_USE);
	err = GetLastError();
	shmkit__win_sa_free(&sa);
	if (!ev) /* a name held by an object we may not open is not ours */
		return err == ERROR_ACCESS_DENIED ? -EADDRINUSE
						  : shmkit__win_err(err);
	if (err == ERROR_ALREADY_EXISTS) {
		CloseHandle(ev);
		return -EADDRINUSE; /* not ours: draw another name */
	}
	ch->os.event = ev;
	return 0;
}

int shmkit_chan_fd(shmkit_chan *ch)
{
	return ch ? -ENOTSUP : -EINVAL; /* shmkit_chan_win_event() here */
}

int shmkit_chan_win_event(shmkit_chan *ch, void **ret_handle)
{
	int r;

	if (!ch || !ret_handle)
		return -EINVAL;
	r = shmkit__chan_notifier(ch);
	if (r < 0)
		return r;
	*ret_handle = ch->os.event;
	return 0;
}

void shmkit__chan_os_drain(shmkit_chan *ch)
{
	(void)ResetEvent(ch->os.event);
}

/* A thread-pool callback: a watched peer exited, or the timer ran out. */
static VOID CALLBACK signal_cb(PVOID ctx, BOOLEAN timed_out)
{
	(void)timed_out;
	(void)SetEvent((HANDLE)ctx);
}

int shmkit__chan_os_timer(shmkit_chan *ch)
{
	if (ch->os.timer) { /* waits for a callback under way */
		(void)DeleteTimerQueueTimer(NULL, ch->os.timer,
					    INVALID_HANDLE_VALUE);
		ch->os.timer = NULL;
	}
	if (!ch->uncovered)
		return 0;
	if (!CreateTimerQueueTimer(&ch->os.timer, NULL, signal_cb,
				   ch->os.event, TIMER_MS, 0,
				   WT_EXECUTEONLYONCE)) {
		ch->os.timer = NULL;
		return shmkit__win_last();
	}
	return 0;
}

void shmkit__chan_os_watch(shmkit_chan *ch, uint32_t idx, int add)
{
	struct chan_peer *c = &ch->peers[idx];

	if (!ch->os.event || !c->pin || !add == !c->in_epoll)
		return;
	if (!add) {
		unwatch(c);
		return;
	}
	if (RegisterWaitForSingleObject(&c->watch, c->pin, signal_cb,
					ch->os.event, INFINITE,
					WT_EXECUTEONLYONCE))
		c->in_epoll = 1;
	else
		c->watch = NULL;
}

void shmkit__chan_os_send_wake(shmkit_chan *ch, const char *name, uint32_t len)
{
	char rest[40];
	WCHAR wname[64];
	HANDLE ev;
	size_t pl = sizeof("shmkit.") - 1;

	/* wait.c checked the form: "\0shmkit.<pid>.<8 hex>". */
	if (len < 1 + pl + 1 || len - 1 - pl >= sizeof(rest))
		return;
	memcpy(rest, name + 1 + pl, len - 1 - pl);
	rest[len - 1 - pl] = '\0';
	if (obj_name(ch, rest, wname, sizeof(wname) / sizeof(wname[0])) < 0)
		return;
	ev = OpenEventW(EVENT_MODIFY_STATE, FALSE, wname);
	if (!ev)
		return;
	(void)SetEvent(ev);
	CloseHandle(ev);
}

void shmkit__chan_os_close(shmkit_chan *ch)
{
	uint32_t i;
	int side;

	/* The callbacks set the event: stop them before it goes. */
	if (ch->peers)
		for (i = 0; i < ch->nep; i++)
			unwatch(&ch->peers[i]);
	if (ch->os.timer)
		(void)DeleteTimerQueueTimer(NULL, ch->os.timer,
					    INVALID_HANDLE_VALUE);
	if (ch->os.event)
		CloseHandle(ch->os.event);
	for (side = SIDE_RD; side <= SIDE_WR; side++)
		if (ch->os.sem[side])
			CloseHandle(ch->os.sem[side]);
	ch->os.timer = ch->os.event = NULL;
	ch->os.sem[0] = ch->os.sem[1] = NULL;
	ch->os.sem_tried[0] = ch->os.sem_tried[1] = 0;
}

/* -- segments -------------------------------------------------------------- */

int shmkit__chan_os_read_hdr(shmkit_seg *seg, void *buf, size_t n,
			     size_t *ret_len)
{
	/* A mapped file cannot be cut short on Windows (SetEndOfFile fails
	 * with ERROR_USER_MAPPED_FILE): the mapping is safe to read. */
	(void)seg;
	(void)buf;
	(void)n;
	(void)ret_len;
	return -ENOTSUP;
}
