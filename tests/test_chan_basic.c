/*
 * test_chan_basic.c: channels in one process: options and limits, every
 * kind's send/recv and zero-copy calls, full and empty edges, message size
 * limits, timeouts, wrap-around with odd sizes, broadcast lapping, endpoint
 * rules, channels laid out inside a caller's segment, and stat.
 */
#include "test.h"
#include "test_chan_watchdog.h"

#include <stdint.h>

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static const char *posix_spec(const char *tag)
{
	static char buf[4][128];
	static unsigned n;
	char *b = buf[n++ % 4];
	snprintf(b, sizeof(buf[0]), "posix:%s", test_name(tag));
	return b;
}

static shmkit_chan_opts opts_of(shmkit_chan_kind k, uint64_t cap, uint32_t msg,
				shmkit_chan_role role)
{
	shmkit_chan_opts o;
	memset(&o, 0, sizeof(o));
	o.kind = k;
	o.capacity = cap;
	o.max_msg = msg;
	o.role = role;
	return o;
}

static void options_and_limits(void)
{
	shmkit_chan_opts o;
	size_t sz;
	shmkit_chan *ch;
	const char *spec = posix_spec("opts");

	ASSERT_ERR(shmkit_chan_size(NULL, &sz), EINVAL);
	o = opts_of(0, 0, 0, 0);
	ASSERT_ERR(shmkit_chan_size(&o, &sz), EINVAL);
	o = opts_of(SHMKIT_CHAN_SPSC, 0, 0, 0);
	ASSERT_OK(shmkit_chan_size(&o, &sz));
	ASSERT(sz > 65536 && sz % 128 == 0);
	o = opts_of(SHMKIT_CHAN_SPSC, 100, 0, 0); /* under the minimum */
	ASSERT_ERR(shmkit_chan_size(&o, &sz), EINVAL);
	o = opts_of(SHMKIT_CHAN_SPSC, 1024, 1024, 0); /* message > ring/2 */
	ASSERT_ERR(shmkit_chan_size(&o, &sz), EINVAL);
	o = opts_of(SHMKIT_CHAN_SPSC, 1024, 504, 0); /* 8 + 504 = 512 fits */
	ASSERT_OK(shmkit_chan_size(&o, &sz));
	o = opts_of(SHMKIT_CHAN_SPSC, 1024, 505, 0);
	ASSERT_ERR(shmkit_chan_size(&o, &sz), EINVAL);
	o = opts_of(SHMKIT_CHAN_MPMC, 1, 0, 0);
	ASSERT_ERR(shmkit_chan_size(&o, &sz), EINVAL);
	o = opts_of(SHMKIT_CHAN_MPMC, 3, 0, 0); /* rounded up to 4 */
	ASSERT_OK(shmkit_chan_size(&o, &sz));
	o = opts_of(SHMKIT_CHAN_BROADCAST, 1u << 25, 0, 0);
	ASSERT_ERR(shmkit_chan_size(&o, &sz), EINVAL);
	o = opts_of(SHMKIT_CHAN_MPMC, 4, 0, 0);
	o.max_endpoints = 1;
	ASSERT_ERR(shmkit_chan_size(&o, &sz), EINVAL);
	o = opts_of(SHMKIT_CHAN_SPSC, 0, 0, 0);
	o.max_endpoints = 3;
	ASSERT_ERR(shmkit_chan_size(&o, &sz), EINVAL);

	ASSERT_ERR(shmkit_chan_create(spec, NULL, &ch), EINVAL);
	o = opts_of(SHMKIT_CHAN_SPSC, 1000, 0, 7);
	ASSERT_ERR(shmkit_chan_create(spec, &o, &ch), EINVAL);
	ASSERT_ERR(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &ch), ENOENT);
	o = opts_of(SHMKIT_CHAN_SPSC, 1000, 0, SHMKIT_CHAN_WRITER);
	ASSERT_OK(shmkit_chan_create(spec, &o, &ch));
	chan_wd_watch(ch);
	ASSERT_EQ(shmkit_chan_kind_of(ch), SHMKIT_CHAN_SPSC);
	ASSERT_EQ(shmkit_chan_role_of(ch), SHMKIT_CHAN_WRITER);
	ASSERT_EQ(shmkit_chan_max_msg(ch), 256); /* 1024 / 4 */
	ASSERT(!strcmp(shmkit_chan_kind_name(SHMKIT_CHAN_BROADCAST),
		       "broadcast"));
	{
		shmkit_chan *c2;
		ASSERT_ERR(shmkit_chan_create(spec, &o, &c2), EEXIST);
	}
	ASSERT_OK(shmkit_chan_destroy(ch));
	ASSERT_ERR(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &ch), ENOENT);
	ASSERT_OK(shmkit_chan_close(NULL));
}

static void roles_and_busy(void)
{
	const char *spec = posix_spec("roles");
	shmkit_chan_opts o = opts_of(SHMKIT_CHAN_SPSC, 4096, 0,
				     SHMKIT_CHAN_NONE);
	shmkit_chan *adm, *w, *r, *x;
	char buf[8];
	const void *p;
	size_t n;
	void *q;

	ASSERT_OK(shmkit_chan_create(spec, &o, &adm));
	chan_wd_watch(adm);
	ASSERT_ERR(shmkit_chan_send(adm, "x", 1, 0), EBADF);
	ASSERT_ERR(shmkit_chan_recv(adm, buf, sizeof(buf), 0), EBADF);
	ASSERT_ERR(shmkit_chan_fd(adm), EBADF);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	ASSERT_ERR(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &x), EBUSY);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	ASSERT_ERR(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &x), EBUSY);
	ASSERT_ERR(shmkit_chan_open(spec, (shmkit_chan_role)9, &x), EINVAL);
	ASSERT_ERR(shmkit_chan_recv(w, buf, sizeof(buf), 0), EBADF);
	ASSERT_ERR(shmkit_chan_send(r, "x", 1, 0), EBADF);
	ASSERT_ERR(shmkit_chan_commit(w, 0), EINVAL);
	ASSERT_ERR(shmkit_chan_release(r), EINVAL);
	ASSERT_ERR(shmkit_chan_cancel(w), EINVAL);
	/* One pending operation per handle. */
	ASSERT_OK(shmkit_chan_reserve(w, 4, &q, 0));
	ASSERT_ERR(shmkit_chan_send(w, "x", 1, 0), EBUSY);
	ASSERT_ERR(shmkit_chan_commit(w, 5), EINVAL);
	memcpy(q, "abcd", 4);
	ASSERT_OK(shmkit_chan_commit(w, 3));
	ASSERT_OK(shmkit_chan_peek(r, &p, &n, 0));
	ASSERT_EQ(n, 3);
	ASSERT(!memcmp(p, "abc", 3));
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), 0), EBUSY);
	ASSERT_OK(shmkit_chan_release(r));
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), 0), EAGAIN);
	/* A closed writer frees the role; the reader still sees it was there. */
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), SHMKIT_CHAN_MS(10)),
		   EPIPE);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
	ASSERT_OK(shmkit_chan_send(w, "again", 5, 0));
	ASSERT_EQ(shmkit_chan_recv(r, buf, sizeof(buf), 0), 5);
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/* Fill until -EAGAIN, check the count, drain, check the order. */
static void full_empty_kind(shmkit_chan_kind kind, uint64_t cap, uint32_t msg,
			    int expect_n)
{
	const char *spec = posix_spec("full");
	shmkit_chan_opts o = opts_of(kind, cap, msg, SHMKIT_CHAN_WRITER);
	shmkit_chan *w, *r;
	uint32_t i, v;
	int n = 0;
	char big[4096];

	ASSERT_OK(shmkit_chan_create(spec, &o, &w));
	chan_wd_watch(w);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v), 0), EAGAIN);
	for (i = 0;; i++) {
		int e = shmkit_chan_send(w, &i, sizeof(i), 0);
		if (e == -EAGAIN)
			break;
		ASSERT_OK(e);
		n++;
		ASSERT(n < 100000);
	}
	ASSERT_EQ(n, expect_n);
	ASSERT_ERR(shmkit_chan_send(w, &i, sizeof(i), 0), EAGAIN);
	memset(big, 0, sizeof(big));
	ASSERT_ERR(shmkit_chan_send(w, big, shmkit_chan_max_msg(w) + 1, 0),
		   EMSGSIZE);
	for (i = 0; i < (uint32_t)n; i++) {
		ASSERT_EQ(shmkit_chan_recv(r, &v, sizeof(v), 0), sizeof(v));
		ASSERT_EQ(v, i);
	}
	ASSERT_ERR(shmkit_chan_recv(r, &v, sizeof(v), 0), EAGAIN);
	/* After draining, full capacity is there again. */
	for (i = 0; i < (uint32_t)n; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, sizeof(i), 0));
	ASSERT_ERR(shmkit_chan_send(w, &i, sizeof(i), 0), EAGAIN);
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(w));
}

static void full_and_empty(void)
{
	/* SPSC: 1024 bytes hold 16-byte records but for the last line: a
	 * small record promises that the next may start on the next line,
	 * whose first word the reader then looks at, so it must be free. */
	full_empty_kind(SHMKIT_CHAN_SPSC, 1024, 0, (1024 - 64) / 16);
	full_empty_kind(SHMKIT_CHAN_MPMC, 8, 16, 8);
}

static void msgsize(void)
{
	const char *spec = posix_spec("msgsize");
	shmkit_chan_kind kinds[] = {SHMKIT_CHAN_SPSC, SHMKIT_CHAN_MPMC,
				    SHMKIT_CHAN_BROADCAST};
	unsigned k;

	for (k = 0; k < 3; k++) {
		uint64_t cap = kinds[k] == SHMKIT_CHAN_SPSC ? 4096 : 8;
		shmkit_chan_opts o = opts_of(kinds[k], cap, 100,
					     SHMKIT_CHAN_WRITER);
		shmkit_chan *w, *r;
		char buf[200], small[10];
		void *p;

		memset(buf, 'x', sizeof(buf));
		ASSERT_OK(shmkit_chan_create(spec, &o, &w));
		chan_wd_watch(w);
		ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
		ASSERT_EQ(shmkit_chan_max_msg(w), 100);
		ASSERT_ERR(shmkit_chan_send(w, buf, 101, 0), EMSGSIZE);
		ASSERT_ERR(shmkit_chan_reserve(w, 101, &p, 0), EMSGSIZE);
		ASSERT_OK(shmkit_chan_send(w, buf, 100, 0));
		ASSERT_OK(shmkit_chan_send(w, buf, 0, 0));
		/* Too small a buffer: the message stays. */
		ASSERT_ERR(shmkit_chan_recv(r, small, sizeof(small), 0),
			   EMSGSIZE);
		ASSERT_ERR(shmkit_chan_recv(r, small, sizeof(small), 0),
			   EMSGSIZE);
		ASSERT_EQ(shmkit_chan_recv(r, buf, sizeof(buf), 0), 100);
		ASSERT_EQ(shmkit_chan_recv(r, small, sizeof(small), 0), 0);
		ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), 0), EAGAIN);
		ASSERT_OK(shmkit_chan_close(r));
		ASSERT_OK(shmkit_chan_destroy(w));
	}
}

static void timeouts(void)
{
	const char *spec = posix_spec("timeout");
	shmkit_chan_opts o = opts_of(SHMKIT_CHAN_MPMC, 2, 8, SHMKIT_CHAN_WRITER);
	shmkit_chan_wait modes[] = {SHMKIT_CHAN_ADAPTIVE, SHMKIT_CHAN_SPIN,
				    SHMKIT_CHAN_BLOCK};
	shmkit_chan *w, *r;
	unsigned m;
	char b[8];

	ASSERT_OK(shmkit_chan_create(spec, &o, &w));
	chan_wd_watch(w);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	ASSERT_ERR(shmkit_chan_set_wait(r, (shmkit_chan_wait)7, 0), EINVAL);
	for (m = 0; m < 3; m++) {
		int64_t t0, dt;

		ASSERT_OK(shmkit_chan_set_wait(r, modes[m], 0));
		ASSERT_OK(shmkit_chan_set_wait(w, modes[m], 0));
		t0 = now_ns();
		ASSERT_ERR(shmkit_chan_recv(r, b, sizeof(b),
					    SHMKIT_CHAN_MS(30)),
			   ETIMEDOUT);
		dt = now_ns() - t0;
		ASSERT(dt >= 30000000 && dt < 500000000);
		ASSERT_OK(shmkit_chan_send(w, "a", 1, 0));
		ASSERT_OK(shmkit_chan_send(w, "b", 1, 0));
		t0 = now_ns();
		ASSERT_ERR(shmkit_chan_send(w, "c", 1, SHMKIT_CHAN_MS(30)),
			   ETIMEDOUT);
		dt = now_ns() - t0;
		ASSERT(dt >= 30000000 && dt < 500000000);
		ASSERT_EQ(shmkit_chan_recv(r, b, sizeof(b), 0), 1);
		ASSERT_EQ(shmkit_chan_recv(r, b, sizeof(b), 0), 1);
	}
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(w));
}

static uint32_t fill_byte(uint32_t seq, uint32_t i)
{
	return (seq * 131u + i * 7u + 1u) & 0xff;
}

/* Messages of 1..257 bytes through a 1 KiB ring: every wrap position. */
static void spsc_wrap_odd_sizes(void)
{
	const char *spec = posix_spec("wrap");
	shmkit_chan_opts o = opts_of(SHMKIT_CHAN_SPSC, 1024, 300,
				     SHMKIT_CHAN_WRITER);
	shmkit_chan *w, *r;
	uint8_t msg[300], got[300];
	uint32_t sent = 0, recvd = 0, total = 3000, i;

	ASSERT_OK(shmkit_chan_create(spec, &o, &w));
	chan_wd_watch(w);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	while (recvd < total) {
		/* Send until full, then drain a few: offsets keep shifting. */
		while (sent < total) {
			uint32_t len = 1 + sent % 257;
			for (i = 0; i < len; i++)
				msg[i] = (uint8_t)fill_byte(sent, i);
			if (sent % 3 == 0) { /* zero copy, shorter commit */
				void *p;
				int e = shmkit_chan_reserve(w, len + 20, &p, 0);
				if (e == -EAGAIN)
					break;
				ASSERT_OK(e);
				memcpy(p, msg, len);
				ASSERT_OK(shmkit_chan_commit(w, len));
			} else {
				int e = shmkit_chan_send(w, msg, len, 0);
				if (e == -EAGAIN)
					break;
				ASSERT_OK(e);
			}
			sent++;
		}
		for (i = 0; i < 1 + recvd % 5 && recvd < sent; i++) {
			uint32_t len = 1 + recvd % 257, j;
			ssize_t n;
			if (recvd % 2) {
				const void *p;
				size_t pn;
				ASSERT_OK(shmkit_chan_peek(r, &p, &pn, 0));
				ASSERT(((uintptr_t)p & 7) == 0);
				n = (ssize_t)pn;
				memcpy(got, p, pn);
				ASSERT_OK(shmkit_chan_release(r));
			} else {
				n = shmkit_chan_recv(r, got, sizeof(got), 0);
			}
			ASSERT_EQ(n, len);
			for (j = 0; j < len; j++)
				ASSERT_EQ(got[j], fill_byte(recvd, j));
			recvd++;
		}
	}
	ASSERT_ERR(shmkit_chan_recv(r, got, sizeof(got), 0), EAGAIN);
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(w));
}

static void mpmc_zero_copy_cancel(void)
{
	const char *spec = posix_spec("mpmc0");
	shmkit_chan_opts o = opts_of(SHMKIT_CHAN_MPMC, 4, 64,
				     SHMKIT_CHAN_WRITER);
	shmkit_chan *w, *r;
	shmkit_chan_info info;
	void *p;
	const void *q;
	size_t n;
	char b[64];

	ASSERT_OK(shmkit_chan_create(spec, &o, &w));
	chan_wd_watch(w);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	ASSERT_OK(shmkit_chan_reserve(w, 64, &p, 0));
	ASSERT(((uintptr_t)p & 7) == 0);
	memcpy(p, "dropped", 7);
	ASSERT_OK(shmkit_chan_cancel(w));
	ASSERT_OK(shmkit_chan_reserve(w, 64, &p, 0));
	memcpy(p, "kept", 4);
	ASSERT_OK(shmkit_chan_commit(w, 4));
	/* The cancelled slot is skipped. */
	ASSERT_OK(shmkit_chan_peek(r, &q, &n, 0));
	ASSERT_EQ(n, 4);
	ASSERT(!memcmp(q, "kept", 4));
	ASSERT_OK(shmkit_chan_release(r));
	ASSERT_ERR(shmkit_chan_recv(r, b, sizeof(b), 0), EAGAIN);
	ASSERT_EQ(shmkit_chan_stat(r, &info, NULL, 0), 2);
	ASSERT_EQ(info.poisoned, 1);
	ASSERT_EQ(info.sent, 1);
	ASSERT_EQ(info.received, 1);
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(w));
}

static void broadcast_lapping(void)
{
	const char *spec = posix_spec("bcast");
	shmkit_chan_opts o = opts_of(SHMKIT_CHAN_BROADCAST, 8, 32,
				     SHMKIT_CHAN_WRITER);
	shmkit_chan *w, *r1, *r2, *late;
	uint64_t v, i, expect;
	const void *p;
	size_t n;

	ASSERT_OK(shmkit_chan_create(spec, &o, &w));
	chan_wd_watch(w);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r1));
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r2));
	ASSERT_ERR(shmkit_chan_fd(w), ENOTSUP);
	/* The writer never waits. */
	for (i = 0; i < 20; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, sizeof(i), 0));
	/* r1 lost 12 and resumes at the oldest there, 12. */
	for (expect = 12; expect < 20; expect++) {
		ASSERT_EQ(shmkit_chan_recv(r1, &v, sizeof(v), 0), sizeof(v));
		ASSERT_EQ(v, expect);
	}
	ASSERT_EQ(shmkit_chan_lost(r1), 12);
	ASSERT_ERR(shmkit_chan_recv(r1, &v, sizeof(v), 0), EAGAIN);
	/* A reader opened now starts with what comes next. */
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &late));
	ASSERT_ERR(shmkit_chan_recv(late, &v, sizeof(v), 0), EAGAIN);
	/* Zero copy: the writer overwrites the slot r2 is looking at. */
	ASSERT_OK(shmkit_chan_peek(r2, &p, &n, 0));
	ASSERT_EQ(n, sizeof(v));
	memcpy(&v, p, sizeof(v));
	ASSERT_EQ(v, 12);
	for (i = 20; i < 28; i++)
		ASSERT_OK(shmkit_chan_send(w, &i, sizeof(i), 0));
	ASSERT_ERR(shmkit_chan_release(r2), ESTALE);
	ASSERT_EQ(shmkit_chan_lost(r2), 13); /* 0..11, and the torn 12 */
	ASSERT_EQ(shmkit_chan_recv(r2, &v, sizeof(v), 0), sizeof(v));
	ASSERT_EQ(v, 20);
	ASSERT_EQ(shmkit_chan_lost(r2), 20);
	/* Intact peek: release says 0. */
	ASSERT_OK(shmkit_chan_peek(r2, &p, &n, 0));
	ASSERT_OK(shmkit_chan_release(r2));
	ASSERT_EQ(shmkit_chan_recv(late, &v, sizeof(v), 0), sizeof(v));
	ASSERT_EQ(v, 20);
	ASSERT_EQ(shmkit_chan_lost(late), 0);
	/* Rewound, it gets what the ring still holds: 20..27. */
	ASSERT_EQ(shmkit_chan_rewind(late), 8);
	for (expect = 20; expect < 28; expect++) {
		ASSERT_EQ(shmkit_chan_recv(late, &v, sizeof(v), 0), sizeof(v));
		ASSERT_EQ(v, expect);
	}
	ASSERT_ERR(shmkit_chan_rewind(w), ENOTSUP);
	{
		shmkit_chan *w2;
		ASSERT_ERR(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w2),
			   EBUSY);
	}
	ASSERT_OK(shmkit_chan_close(late));
	ASSERT_OK(shmkit_chan_close(r1));
	ASSERT_OK(shmkit_chan_close(r2));
	ASSERT_OK(shmkit_chan_destroy(w));
}

/* Two channels end to end in one anon: segment, a ping-pong pair. */
static void inside_a_segment(void)
{
	shmkit_chan_opts o = opts_of(SHMKIT_CHAN_SPSC, 4096, 0,
				     SHMKIT_CHAN_WRITER);
	shmkit_chan *a, *b, *ar, *br, *x;
	shmkit_seg *seg;
	size_t sz;
	char buf[16];

	ASSERT_OK(shmkit_chan_size(&o, &sz));
	ASSERT_OK(shmkit_create("anon:", 2 * sz, NULL, &seg));
	ASSERT_ERR(shmkit_chan_create_in(seg, 64, &o, &a), EINVAL);
	ASSERT_ERR(shmkit_chan_create_in(seg, sz + 128, &o, &a), ENOSPC);
	ASSERT_ERR(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_READER, &x), EPROTO);
	ASSERT_OK(shmkit_chan_create_in(seg, 0, &o, &a));
	chan_wd_watch(a);
	ASSERT_OK(shmkit_chan_create_in(seg, sz, &o, &b));
	chan_wd_watch(b);
	ASSERT_OK(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_READER, &ar));
	ASSERT_OK(shmkit_chan_open_in(seg, sz, SHMKIT_CHAN_READER, &br));
	ASSERT(shmkit_chan_seg(a) == seg);
	ASSERT_OK(shmkit_chan_send(a, "ping", 4, 0));
	ASSERT_EQ(shmkit_chan_recv(ar, buf, sizeof(buf), 0), 4);
	ASSERT_OK(shmkit_chan_send(b, "pong", 4, 0));
	ASSERT_EQ(shmkit_chan_recv(br, buf, sizeof(buf), 0), 4);
	ASSERT(!memcmp(buf, "pong", 4));
	ASSERT_OK(shmkit_chan_close(a));
	ASSERT_OK(shmkit_chan_destroy(b)); /* not its segment: a close */
	ASSERT_OK(shmkit_chan_close(ar));
	ASSERT_OK(shmkit_chan_close(br));
	ASSERT_OK(shmkit_destroy(seg));
}

static void stat_counts(void)
{
	const char *spec = posix_spec("stat");
	shmkit_chan_opts o = opts_of(SHMKIT_CHAN_SPSC, 4096, 0,
				     SHMKIT_CHAN_WRITER);
	shmkit_chan *w, *r, *adm;
	shmkit_chan_info info;
	shmkit_chan_ep_info eps[4];
	char buf[64];
	int i;

	ASSERT_OK(shmkit_chan_create(spec, &o, &w));
	chan_wd_watch(w);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
	for (i = 0; i < 5; i++)
		ASSERT_OK(shmkit_chan_send(w, "0123456789", 10, 0));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(shmkit_chan_recv(r, buf, sizeof(buf), 0), 10);
	ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_NONE, &adm));
	ASSERT_EQ(shmkit_chan_stat(adm, &info, eps, 4), 2);
	ASSERT_EQ(info.kind, SHMKIT_CHAN_SPSC);
	ASSERT_EQ(info.capacity, 4096);
	ASSERT_EQ(info.sent, 5);
	ASSERT_EQ(info.received, 2);
	/* Three 24-byte records, and the two 16-byte pads that keep the
	 * third and fifth from crossing a cache line. */
	ASSERT_EQ(info.used, 3 * 24 + 2 * 16);
	ASSERT_EQ(info.writers, 1);
	ASSERT_EQ(info.readers, 1);
	ASSERT_EQ(eps[0].role, SHMKIT_CHAN_WRITER);
	ASSERT_EQ(eps[0].pid, getpid());
	ASSERT_EQ(eps[0].alive, 1);
	ASSERT_EQ(eps[0].msgs, 5);
	ASSERT_EQ(eps[1].bytes, 20);
	ASSERT_ERR(shmkit_chan_stat(adm, &info, NULL, 1), EINVAL);
	/* Counters of closed endpoints stay in the totals. */
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_EQ(shmkit_chan_stat(adm, &info, eps, 4), 1);
	ASSERT_EQ(info.sent, 5);
	ASSERT_EQ(info.writers, 0);
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_destroy(adm));
}

/*
 * Where a message lands (issue 11): with the 8 bytes that publish it, every
 * message touches as few cache lines as its length needs, whatever came
 * before it: a message of up to 56 bytes one line, never two. SPSC records
 * are placed so (a longer one starts on a line unless that costs no extra
 * line); MPMC and broadcast slots start on a line with their word.
 * Every size from 1 to 300 in a shuffled order, through several laps.
 */
static void one_line_layout(void)
{
	shmkit_chan_kind kinds[] = {SHMKIT_CHAN_SPSC, SHMKIT_CHAN_MPMC,
				    SHMKIT_CHAN_BROADCAST};
	unsigned k, i;

	for (k = 0; k < 3; k++) {
		const char *spec = posix_spec("line");
		shmkit_chan_opts o = opts_of(kinds[k], k ? 8 : 2048, 300,
					     SHMKIT_CHAN_WRITER);
		shmkit_chan *w, *r;
		uint8_t in[300], out[300];

		ASSERT_OK(shmkit_chan_create(spec, &o, &w));
		chan_wd_watch(w);
		ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &r));
		if (k == 2)
			ASSERT_EQ(shmkit_chan_rewind(r), 0);
		for (i = 0; i < 3000; i++) {
			size_t len = 1 + (i * 7919u) % 300, j;
			uintptr_t hdr, end;
			void *p;

			ASSERT_OK(shmkit_chan_reserve(w, len, &p, 0));
			hdr = (uintptr_t)p - 8;
			end = (uintptr_t)p + len - 1;
			/* As few lines as its header and length need. */
			if (end / 64 - hdr / 64 + 1 != (8 + len + 63) / 64)
				FAIL_("%s: a %zu-byte message touches %zu lines "
				      "(from %zu bytes into a line)",
				      shmkit_chan_kind_name(kinds[k]), len,
				      (size_t)(end / 64 - hdr / 64 + 1),
				      (size_t)(hdr % 64));
			for (j = 0; j < len; j++)
				in[j] = (uint8_t)(i + j);
			memcpy(p, in, len);
			ASSERT_OK(shmkit_chan_commit(w, len));
			ASSERT_EQ(shmkit_chan_recv(r, out, sizeof(out), 0), len);
			ASSERT(!memcmp(in, out, len));
		}
		ASSERT_OK(shmkit_chan_close(r));
		ASSERT_OK(shmkit_chan_destroy(w));
	}
}

CHAN_TEST_MAIN("chan_basic", TEST(options_and_limits), TEST(roles_and_busy),
	  TEST(full_and_empty), TEST(msgsize), TEST(timeouts),
	  TEST(spsc_wrap_odd_sizes), TEST(mpmc_zero_copy_cancel),
	  TEST(broadcast_lapping), TEST(inside_a_segment), TEST(stat_counts),
	  TEST(one_line_layout))
