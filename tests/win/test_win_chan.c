/*
 * test_win_chan.c: channels on Windows: the shared ring in win: segments,
 * waiting on the per-side semaphores, peer liveness from process handles,
 * the event of shmkit_chan_win_event(), between processes of this test
 * (it starts itself as the peer). Every wait has a bound.
 */
#include "wtest.h"

#include "shmkit/chan.h"
/* For the objects test: the wake_id and the entry's event name. */
#include "chan/chan_int.h"

#define N_STREAM 20000
#define KILL_AFTER_MS 300
/* A dead peer ends a wait within tens of ms on Linux; wine's process
 * start-up and scheduling get some slack, not a different order. */
#define DEATH_BOUND_MS 1000

static const shmkit_chan_opts spsc_small = {
	.kind = SHMKIT_CHAN_SPSC,
	.role = SHMKIT_CHAN_READER,
	.capacity = 4096, /* fills in a few dozen messages: writers block */
	.max_msg = 256,
};

static void fill(unsigned char *b, size_t len, uint32_t seq)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(seq * 31 + i);
}

static size_t len_of(uint32_t seq)
{
	return 8 + seq % 200;
}

static int64_t ms_since(ULONGLONG t0)
{
	return (int64_t)(GetTickCount64() - t0);
}

/* -- in one process --------------------------------------------------------- */

static void test_one_process(void)
{
	const char *n = wt_name("win:shmkit-tc");
	shmkit_chan *r, *w;
	char buf[64];
	void *ev;

	ASSERT_OK(shmkit_chan_create(n, &spsc_small, &r));
	ASSERT_EQ(shmkit_backend_of(shmkit_chan_seg(r)), SHMKIT_BACKEND_WIN);
	ASSERT_EQ(shmkit_chan_probe(n), 1);
	ASSERT_ERR(shmkit_chan_create(n, &spsc_small, &w), EEXIST);
	ASSERT_OK(shmkit_chan_open(n, SHMKIT_CHAN_WRITER, &w));
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_NOWAIT),
		   EAGAIN);
	/* A timed wait on an empty channel with a live writer times out. */
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(30)),
		   ETIMEDOUT);
	ASSERT_OK(shmkit_chan_send(w, "hello", 6, SHMKIT_CHAN_NOWAIT));
	ASSERT_OK(shmkit_chan_send(w, "world", 6, SHMKIT_CHAN_NOWAIT));
	ASSERT_EQ(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(1000)), 6);
	ASSERT(strcmp(buf, "hello") == 0);
	ASSERT_EQ(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(1000)), 6);
	ASSERT(strcmp(buf, "world") == 0);
	/* No descriptor on Windows: the event instead. */
	ASSERT_ERR(shmkit_chan_fd(r), ENOTSUP);
	ASSERT_OK(shmkit_chan_win_event(r, &ev));
	ASSERT(ev != NULL);
	ASSERT_OK(shmkit_chan_close(w));
	/* The writer closed: the end of the stream. */
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(1000)),
		   EPIPE);
	ASSERT_OK(shmkit_chan_destroy(r));
	/* The segment died with its last handle. */
	ASSERT_ERR(shmkit_chan_open(n, SHMKIT_CHAN_READER, &r), ENOENT);
}

static void test_shutdown(void)
{
	const char *n = wt_name("win:shmkit-tc");
	shmkit_chan *r, *w;
	char buf[16];
	int i;

	ASSERT_OK(shmkit_chan_create(n, &spsc_small, &r));
	ASSERT_OK(shmkit_chan_open(n, SHMKIT_CHAN_WRITER, &w));
	for (i = 0; i < 3; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, sizeof(i), SHMKIT_CHAN_NOWAIT));
	ASSERT_OK(shmkit_chan_shutdown(w));
	ASSERT_ERR(shmkit_chan_send(w, &i, sizeof(i), SHMKIT_CHAN_MS(100)), EPIPE);
	/* What was sent before the shutdown is still read, then the end. */
	for (i = 0; i < 3; i++) {
		int v = -1;
		ASSERT_EQ(shmkit_chan_recv(r, &v, sizeof(v), SHMKIT_CHAN_MS(1000)),
			  sizeof(v));
		ASSERT_EQ(v, i);
	}
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_NOWAIT), EPIPE);
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(1000)),
		   EPIPE);
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_destroy(r));
}

/* -- two processes ------------------------------------------------------------ */

/* Child: open argv[0] as writer, send N_STREAM checked messages, close. */
static int child_writer(int argc, char **argv)
{
	unsigned char buf[256];
	shmkit_chan *w;
	uint32_t seq;

	if (argc < 1 || shmkit_chan_open(argv[0], SHMKIT_CHAN_WRITER, &w) < 0)
		return 10;
	if (shmkit_chan_set_wait(w, SHMKIT_CHAN_BLOCK, 0) < 0)
		return 11;
	for (seq = 0; seq < N_STREAM; seq++) {
		size_t len = len_of(seq);
		memcpy(buf, &seq, 4);
		fill(buf + 4, len - 4, seq);
		if (shmkit_chan_send(w, buf, len, SHMKIT_CHAN_MS(10000)) < 0)
			return 12;
	}
	return shmkit_chan_close(w) < 0 ? 13 : 0;
}

static void test_stream(void)
{
	const char *n = wt_name("win:shmkit-tc");
	unsigned char buf[256], want[256];
	shmkit_chan *r;
	HANDLE peer;
	uint32_t seq;
	ssize_t got;

	ASSERT_OK(shmkit_chan_create(n, &spsc_small, &r));
	ASSERT_OK(shmkit_chan_set_wait(r, SHMKIT_CHAN_BLOCK, 0));
	peer = wt_spawn("writer", n);
	for (seq = 0; seq < N_STREAM; seq++) {
		size_t len = len_of(seq);
		got = shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(10000));
		if (got != (ssize_t)len)
			FAIL_("message %u: got %lld, want %zu", seq,
				 (long long)got, len);
		memcpy(want, &seq, 4);
		fill(want + 4, len - 4, seq);
		if (memcmp(buf, want, len) != 0)
			FAIL_("message %u: payload differs", seq);
		/* Now and then a slow reader: the writer fills the ring and
		 * sleeps on its semaphore, and we wake it. */
		if (seq % 4000 == 1000)
			Sleep(20);
	}
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(10000)),
		   EPIPE);
	ASSERT_EQ(wt_wait(peer, 20000, "writer"), 0);
	ASSERT_OK(shmkit_chan_destroy(r));
}

/* Child: a writer that sends 10 messages and then stays, sending nothing. */
static int child_writer_stays(int argc, char **argv)
{
	shmkit_chan *w;
	int i;

	if (argc < 1 || shmkit_chan_open(argv[0], SHMKIT_CHAN_WRITER, &w) < 0)
		return 10;
	for (i = 0; i < 10; i++)
		if (shmkit_chan_send(w, &i, sizeof(i), SHMKIT_CHAN_MS(5000)) < 0)
			return 11;
	Sleep(30000); /* until killed */
	return 12;
}

/* Child: a reader that takes one message and then stays, reading nothing. */
static int child_reader_stays(int argc, char **argv)
{
	char buf[256];
	shmkit_chan *r;

	if (argc < 1 || shmkit_chan_open(argv[0], SHMKIT_CHAN_READER, &r) < 0)
		return 10;
	if (shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(10000)) < 0)
		return 11;
	Sleep(30000); /* until killed */
	return 12;
}

struct killer {
	HANDLE peer;
	ULONGLONG killed_at;
};

static DWORD WINAPI killer_main(void *arg)
{
	struct killer *k = arg;

	Sleep(KILL_AFTER_MS);
	__atomic_store_n(&k->killed_at, GetTickCount64(), __ATOMIC_SEQ_CST);
	TerminateProcess(k->peer, 9);
	return 0;
}

/* Kill k->peer from another thread while this one is blocked in a wait. */
static HANDLE kill_soon(struct killer *k)
{
	HANDLE t = CreateThread(NULL, 0, killer_main, k, 0, NULL);

	ASSERT(t != NULL);
	return t;
}

static void join_killer(HANDLE t, struct killer *k)
{
	ASSERT_EQ(WaitForSingleObject(t, 10000), WAIT_OBJECT_0);
	CloseHandle(t);
	ASSERT_EQ(WaitForSingleObject(k->peer, 10000), WAIT_OBJECT_0);
	CloseHandle(k->peer);
}

static void test_writer_killed(void)
{
	const char *n = wt_name("win:shmkit-tc");
	struct killer k = {0};
	shmkit_chan *r;
	shmkit_chan_info info;
	char buf[64];
	ULONGLONG t0;
	HANDLE t;
	int i, v;
	ssize_t got;

	ASSERT_OK(shmkit_chan_create(n, &spsc_small, &r));
	k.peer = wt_spawn("writer_stays", n);
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(shmkit_chan_recv(r, &v, sizeof(v), SHMKIT_CHAN_MS(10000)),
			  sizeof(v));
		ASSERT_EQ(v, i);
	}
	t0 = GetTickCount64();
	t = kill_soon(&k);
	got = shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(10000));
	ASSERT_ERR(got, ECONNRESET);
	join_killer(t, &k);
	ASSERT(ms_since(t0) >= KILL_AFTER_MS - 20); /* it did wait for it */
	if (GetTickCount64() - k.killed_at > DEATH_BOUND_MS)
		FAIL_("-ECONNRESET %llu ms after the kill",
			 (unsigned long long)(GetTickCount64() - k.killed_at));
	printf("   reader saw the death %llu ms after the kill\n",
	       (unsigned long long)(GetTickCount64() - k.killed_at));
	ASSERT(shmkit_chan_stat(r, &info, NULL, 0) >= 0);
	ASSERT_EQ(info.reclaimed, 1);
	ASSERT(info.stream & SHMKIT_CHAN_STREAM_RESET);
	ASSERT_OK(shmkit_chan_destroy(r));
}

static uint64_t received_of(shmkit_chan *ch)
{
	shmkit_chan_info i;

	return shmkit_chan_stat(ch, &i, NULL, 0) >= 0 ? i.received : 0;
}

static void test_reader_killed(void)
{
	const char *n = wt_name("win:shmkit-tc");
	shmkit_chan_opts o = spsc_small;
	struct killer k = {0};
	unsigned char msg[200] = {0};
	shmkit_chan *w;
	HANDLE t;
	int r, sent = 0;

	o.role = SHMKIT_CHAN_WRITER;
	ASSERT_OK(shmkit_chan_create(n, &o, &w));
	k.peer = wt_spawn("reader_stays", n);
	/* The reader takes one, then stops: fill the ring behind it. */
	ASSERT_OK(shmkit_chan_send(w, msg, sizeof(msg), SHMKIT_CHAN_MS(10000)));
	WT_UNTIL(received_of(w) == 1, 10000);
	for (;;) {
		r = shmkit_chan_send(w, msg, sizeof(msg), SHMKIT_CHAN_NOWAIT);
		if (r == -EAGAIN)
			break;
		ASSERT_OK(r);
		ASSERT(++sent < 100);
	}
	t = kill_soon(&k);
	ASSERT_ERR(shmkit_chan_send(w, msg, sizeof(msg), SHMKIT_CHAN_MS(10000)),
		   EPIPE);
	join_killer(t, &k);
	if (GetTickCount64() - k.killed_at > DEATH_BOUND_MS)
		FAIL_("-EPIPE %llu ms after the kill",
			 (unsigned long long)(GetTickCount64() - k.killed_at));
	printf("   writer saw the death %llu ms after the kill\n",
	       (unsigned long long)(GetTickCount64() - k.killed_at));
	ASSERT_OK(shmkit_chan_destroy(w));
}

/* -- the event ------------------------------------------------------------- */

/* Child: open as writer, wait 200 ms, send one message, wait, close. */
static int child_send_late(int argc, char **argv)
{
	shmkit_chan *w;

	if (argc < 1 || shmkit_chan_open(argv[0], SHMKIT_CHAN_WRITER, &w) < 0)
		return 10;
	Sleep(200);
	if (shmkit_chan_send(w, "late", 5, SHMKIT_CHAN_MS(5000)) < 0)
		return 11;
	Sleep(30000); /* until killed */
	return 12;
}

static unsigned writers_of(shmkit_chan *ch)
{
	shmkit_chan_info i;

	return shmkit_chan_stat(ch, &i, NULL, 0) >= 0 ? i.writers : 0;
}

static void test_event(void)
{
	const char *n = wt_name("win:shmkit-tc");
	shmkit_chan *r;
	char buf[16];
	HANDLE peer, ev2;
	void *ev;
	ULONGLONG t0;
	int a;

	ASSERT_OK(shmkit_chan_create(n, &spsc_small, &r));
	ASSERT_OK(shmkit_chan_win_event(r, &ev));
	ASSERT_OK(shmkit_chan_win_event(r, (void **)&ev2));
	ASSERT(ev == ev2); /* the same one every time */
	peer = wt_spawn("send_late", n);
	/* Wait for the writer to open (its open is a liveness pass away). */
	WT_UNTIL(writers_of(r) == 1, 10000);
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_NOWAIT),
		   EAGAIN);
	a = shmkit_chan_arm(r);
	ASSERT_EQ(a, 0);
	/* Armed and nothing sent: not signalled. */
	ASSERT_EQ(WaitForSingleObject(ev, 50), WAIT_TIMEOUT);
	/* The message sets it. */
	ASSERT_EQ(WaitForSingleObject(ev, 10000), WAIT_OBJECT_0);
	ASSERT_EQ(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_NOWAIT), 5);
	ASSERT(strcmp(buf, "late") == 0);
	/* Armed again: arm resets it, and the writer's death sets it (the
	 * process handle's watch), with no timeout in the loop. */
	ASSERT_EQ(shmkit_chan_arm(r), 0);
	ASSERT_EQ(WaitForSingleObject(ev, 0), WAIT_TIMEOUT);
	t0 = GetTickCount64();
	wt_kill(peer);
	ASSERT_EQ(WaitForSingleObject(ev, 5000), WAIT_OBJECT_0);
	if (ms_since(t0) > DEATH_BOUND_MS)
		FAIL_("event set %lld ms after the kill", (long long)ms_since(t0));
	/* The loop's next round learns why. */
	ASSERT_EQ(shmkit_chan_arm(r), 1);
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_NOWAIT),
		   ECONNRESET);
	ASSERT_OK(shmkit_chan_destroy(r));
}

/* -- bad input ------------------------------------------------------------- */

/* The process's handle count; 0 where it is not kept (wine reports 0). */
static DWORD handles(void)
{
	DWORD n = 0;

	ASSERT(GetProcessHandleCount(GetCurrentProcess(), &n));
	return n;
}

static int exists(const char *name, int is_event)
{
	WCHAR w[128];
	HANDLE h;

	MultiByteToWideChar(CP_UTF8, 0, name, -1, w, 128);
	h = is_event ? OpenEventW(SYNCHRONIZE, FALSE, w)
		     : OpenSemaphoreW(SYNCHRONIZE, FALSE, w);
	if (!h) {
		ASSERT_EQ(GetLastError(), ERROR_FILE_NOT_FOUND);
		return 0;
	}
	CloseHandle(h);
	return 1;
}

/*
 * The wake objects are named, so they die with their last handle: once
 * both handles are closed, nothing of the channel is left (a leak of any
 * of them would keep its name alive).
 */
static void test_objects_die(void)
{
	const char *n = wt_name("win:shmkit-tc");
	char rd[64], wr[64], evn[64];
	shmkit_chan *r, *w;
	char buf[8];
	void *ev;
	uint32_t alen, i;

	ASSERT_OK(shmkit_chan_create(n, &spsc_small, &r));
	ASSERT_OK(shmkit_chan_open(n, SHMKIT_CHAN_WRITER, &w));
	ASSERT(r->h->meta.wake_id != 0);
	snprintf(rd, sizeof(rd), "Local\\shmkit.c%016llx.r",
		 (unsigned long long)r->h->meta.wake_id);
	snprintf(wr, sizeof(wr), "Local\\shmkit.c%016llx.w",
		 (unsigned long long)r->h->meta.wake_id);
	/* A reader that sleeps makes its side's semaphore. */
	ASSERT_OK(shmkit_chan_set_wait(r, SHMKIT_CHAN_BLOCK, 0));
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(30)),
		   ETIMEDOUT);
	ASSERT(exists(rd, 0));
	ASSERT(!exists(wr, 0)); /* no writer has waited */
	ASSERT_OK(shmkit_chan_win_event(r, &ev));
	alen = r->me->addr_len;
	ASSERT(alen > 8 && alen < sizeof(evn) - 8);
	memcpy(evn, "Local\\", 6);
	for (i = 1; i < alen; i++)
		evn[6 + i - 1] = (char)r->me->addr[i];
	evn[6 + alen - 1] = '\0';
	ASSERT(strncmp(evn, "Local\\shmkit.", 13) == 0);
	ASSERT(exists(evn, 1));
	/* A wake-up from the writer opens the same semaphore. */
	ASSERT_OK(shmkit_chan_send(w, "x", 2, SHMKIT_CHAN_NOWAIT));
	ASSERT_EQ(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(1000)), 2);
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT(exists(rd, 0));
	ASSERT_OK(shmkit_chan_destroy(r));
	ASSERT(!exists(rd, 0));
	ASSERT(!exists(evn, 1));
}

static void test_bad_input(void)
{
	const char *n = wt_name("win:shmkit-tc");
	shmkit_chan_opts bad = spsc_small, bw = {.kind = SHMKIT_CHAN_BROADCAST,
						 .role = SHMKIT_CHAN_WRITER};
	shmkit_chan *ch = NULL, *look;
	void *ev = NULL;
	DWORD before, during;

	/* Warm up what the first channel makes once per process. */
	ASSERT_OK(shmkit_chan_create(n, &spsc_small, &ch));
	ASSERT_OK(shmkit_chan_win_event(ch, &ev));
	ASSERT_OK(shmkit_chan_destroy(ch));
	ch = NULL;
	before = handles();

	ASSERT_ERR(shmkit_chan_create("bogus:x", &spsc_small, &ch), EINVAL);
	ASSERT_ERR(shmkit_chan_create(NULL, &spsc_small, &ch), EINVAL);
	ASSERT_ERR(shmkit_chan_create(n, NULL, &ch), EINVAL);
	ASSERT_ERR(shmkit_chan_create(n, &spsc_small, NULL), EINVAL);
	bad.kind = (shmkit_chan_kind)42;
	ASSERT_ERR(shmkit_chan_create(n, &bad, &ch), EINVAL);
	ASSERT(shmkit_chan_opts_check(&bad) != NULL);
	bad = spsc_small;
	bad.capacity = 16; /* under 256 B */
	ASSERT_ERR(shmkit_chan_create(n, &bad, &ch), EINVAL);
	ASSERT(strstr(shmkit_chan_opts_check(&bad), "256") != NULL);
	ASSERT_ERR(shmkit_chan_open(n, SHMKIT_CHAN_READER, &ch), ENOENT);
	ASSERT_ERR(shmkit_chan_win_event(NULL, &ev), EINVAL);
	ASSERT_ERR(shmkit_chan_fd(NULL), EINVAL);
	ASSERT(ch == NULL); /* never written on failure */

	/* A plain segment is not a channel. */
	{
		shmkit_seg *s;
		ASSERT_OK(shmkit_create(n, 4096, NULL, &s));
		ASSERT_EQ(shmkit_chan_probe(n), 0);
		ASSERT_ERR(shmkit_chan_open(n, SHMKIT_CHAN_READER, &ch), EPROTO);
		ASSERT_OK(shmkit_destroy(s));
	}
	/* Roles that have no event. */
	ASSERT_OK(shmkit_chan_create(n, &bw, &ch));
	ASSERT_ERR(shmkit_chan_win_event(ch, &ev), ENOTSUP);
	ASSERT_ERR(shmkit_chan_open(n, (shmkit_chan_role)9, &look), EINVAL);
	/* A second writer of a broadcast channel: its one entry is taken. */
	ASSERT_ERR(shmkit_chan_open(n, SHMKIT_CHAN_WRITER, &look), EBUSY);
	ASSERT_OK(shmkit_chan_open(n, SHMKIT_CHAN_NONE, &look));
	ASSERT_ERR(shmkit_chan_win_event(look, &ev), EBADF);
	ASSERT_ERR(shmkit_chan_win_event(ch, NULL), EINVAL);
	during = handles();
	ASSERT_OK(shmkit_chan_close(look));
	ASSERT_OK(shmkit_chan_destroy(ch));
	if (!before) {
		/* wine keeps no count: test_objects_die covers the names. */
		printf("   no process handle count here (wine)\n");
		return;
	}
	ASSERT(during > before); /* the count does see what a channel holds */
	ASSERT_EQ(handles(), before);
}

static const wt_case cases[] = {
	{"one_process", test_one_process},
	{"shutdown", test_shutdown},
	{"stream", test_stream},
	{"writer_killed", test_writer_killed},
	{"reader_killed", test_reader_killed},
	{"event", test_event},
	{"bad_input", test_bad_input},
	{"objects_die", test_objects_die},
};
static const wt_child children[] = {
	{"writer", child_writer},
	{"writer_stays", child_writer_stays},
	{"reader_stays", child_reader_stays},
	{"send_late", child_send_late},
};

WT_MAIN(cases, children)
