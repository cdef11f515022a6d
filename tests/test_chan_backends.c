/*
 * test_chan_backends.c: every channel kind on every backend that can be
 * attached: posix, sysv and file by name (shmkit_chan_open in a child that
 * shares nothing with the parent but the name), memfd and anon through the
 * segment the child inherited (shmkit_chan_open_in). A thousand numbered
 * messages each way must arrive whole and in order.
 */
#include "test.h"
#include "test_chan_watchdog.h"

#include <sys/stat.h>

enum { MSGS = 1000 };

static void fill(unsigned char *b, uint32_t seq, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seq * 7 + i);
	memcpy(b, &seq, sizeof(seq));
}

static int check(const unsigned char *b, uint32_t seq, size_t n)
{
	uint32_t got;

	memcpy(&got, b, sizeof(got));
	if (got != seq)
		return 0;
	for (size_t i = sizeof(seq); i < n; i++)
		if (b[i] != (unsigned char)(seq * 7 + i))
			return 0;
	return 1;
}

/* The child: open as reader, take MSGS messages, check each. */
static int reader(shmkit_chan *ch)
{
	unsigned char buf[256];

	for (uint32_t seq = 0; seq < MSGS; seq++) {
		ssize_t n = shmkit_chan_recv(ch, buf, sizeof(buf),
					     SHMKIT_CHAN_MS(5000));
		if (n < 0 || (size_t)n != 8 + seq % 200 || !check(buf, seq, (size_t)n))
			return 3;
	}
	return shmkit_chan_close(ch) == 0 ? 0 : 4;
}

static void one(const char *spec, shmkit_chan_kind kind, int by_name)
{
	shmkit_chan_opts o = {0};
	unsigned char buf[256];
	shmkit_chan *w;
	int ready[2];
	pid_t pid;
	char c;

	o.kind = kind;
	o.role = SHMKIT_CHAN_WRITER;
	/* A broadcast writer never waits for readers, so its ring holds every
	 * message here (lapping is test_chan_proc's business). */
	o.capacity = kind == SHMKIT_CHAN_SPSC	     ? 4096
		     : kind == SHMKIT_CHAN_BROADCAST ? 1024
						     : 64;
	o.max_msg = 256;
	ASSERT_OK(shmkit_chan_create(spec, &o, &w));
	ASSERT(pipe(ready) == 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_chan *r;
		int rc = by_name
			? shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r)
			: shmkit_chan_open_in(shmkit_chan_seg(w), 0,
					      SHMKIT_CHAN_READER, &r);
		if (rc < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		_exit(reader(r));
	}
	ASSERT(read(ready[0], &c, 1) == 1);
	for (uint32_t seq = 0; seq < MSGS; seq++) {
		size_t n = 8 + seq % 200;
		fill(buf, seq, n);
		ASSERT_OK(shmkit_chan_send(w, buf, n, SHMKIT_CHAN_MS(5000)));
	}
	{
		int st = test_wait_child(pid, 20000, spec);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			FAIL_("%s %s: reader exited with %d (2 open, 3 bad "
			      "message, 4 close)",
			      spec, shmkit_chan_kind_name(kind),
			      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	close(ready[0]);
	close(ready[1]);
	ASSERT_OK(shmkit_chan_destroy(w));
}

static void every_kind(const char *spec, int by_name)
{
	static const shmkit_chan_kind kinds[] = {
		SHMKIT_CHAN_SPSC, SHMKIT_CHAN_MPMC, SHMKIT_CHAN_BROADCAST};
	for (size_t k = 0; k < 3; k++) {
		one(spec, kinds[k], by_name);
	}
}

static void posix(void)
{
	char spec[128];
	snprintf(spec, sizeof(spec), "posix:%s", test_name("chan"));
	every_kind(spec, 1);
}

static void sysv(void)
{
	char spec[64];
	snprintf(spec, sizeof(spec), "sysv:0x5348%04x",
		 (unsigned)(getpid() * 3) & 0xffff);
	every_kind(spec, 1);
}

static void file(void)
{
	char spec[160];
	snprintf(spec, sizeof(spec), "file:/dev/shm%s", test_name("chanfile"));
	every_kind(spec, 1);
}

static void memfd(void)
{
	every_kind("memfd:shmkit-test-chan", 0);
}

static void anon(void)
{
	every_kind("anon:", 0);
}

CHAN_TEST_MAIN("chan_backends", TEST(posix), TEST(sysv), TEST(file), TEST(memfd),
	  TEST(anon))
