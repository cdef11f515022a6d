/*
 * test_fdpass.c: segments passed over AF_UNIX sockets (shmkit_send_fd and
 * shmkit_recv_fd), on SOCK_STREAM and SOCK_SEQPACKET.
 *
 * The receiver is a forked child; it is told when to read through a pipe so
 * that the sender can queue several messages, or change the segment, before
 * the first read. Malformed messages are built by hand with sendmsg() and
 * must give -EPROTO and leave no descriptor behind. Sealing is checked both
 * ways: a sealed memfd cannot be shrunk by the receiver, and an unsealed one
 * can, which would kill the sender with SIGBUS; that is why the seal exists.
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define WIRE_MAGIC 0x444b4653u /* what shmkit_send_fd() puts first */

static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET};
static const char *type_name(int t)
{
	return t == SOCK_STREAM ? "stream" : "seqpacket";
}

static void pair(int type, int sv[2])
{
	ASSERT_EQ(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *c = p;
	size_t i;
	for (i = 0; i < n; i++)
		c[i] = (unsigned char)(i * 29u + seed);
}

static bool filled(const void *p, size_t n, unsigned seed)
{
	const unsigned char *c = p;
	size_t i;
	for (i = 0; i < n; i++)
		if (c[i] != (unsigned char)(i * 29u + seed))
			return false;
	return true;
}

static shmkit_seg *new_memfd(size_t size, unsigned flags, unsigned seed)
{
	shmkit_opts o = {.flags = flags};
	char spec[128];
	shmkit_seg *s;

	snprintf(spec, sizeof(spec), "memfd:%s", test_name("pass") + 1);
	ASSERT_OK(shmkit_create(spec, size, &o, &s));
	fill(shmkit_addr(s), size, seed);
	return s;
}

/* A go-ahead for the child: one byte down a pipe. */
static void go(int fd)
{
	ASSERT_EQ(write(fd, "g", 1), 1);
}

static void wait_go(int fd)
{
	char c;
	ASSERT_EQ(read(fd, &c, 1), 1);
}

/*
 * Send s over a fresh socket pair of the given type to a forked child that
 * receives it, runs body on what it received (an assertion there fails the
 * child) and detaches; the child must exit 0 within 10 s.
 */
static void in_receiver(shmkit_seg *s, int type,
			void (*body)(shmkit_seg *r, const void *arg),
			const void *arg, const char *what)
{
	int sv[2];
	pid_t pid;

	pair(type, sv);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_seg *r;
		close(sv[0]);
		/* The sender's handle, inherited: not this child's to use. */
		ASSERT_OK(shmkit_detach(s));
		ASSERT_OK(shmkit_recv_fd(sv[1], NULL, &r));
		body(r, arg);
		ASSERT_OK(shmkit_detach(r));
		_exit(0);
	}
	close(sv[1]);
	ASSERT_OK(shmkit_send_fd(sv[0], s));
	test_expect_child_ok(pid, 10000, what);
	close(sv[0]);
}

static void send_memfd_one(int type)
{
	const size_t first = 3 * 4096 + 10, later = 5 * 4096;
	shmkit_seg *s = new_memfd(first, 0, 1);
	int sv[2], gp[2];
	pid_t pid;

	pair(type, sv);
	ASSERT_EQ(pipe2(gp, O_CLOEXEC), 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_seg *r;
		int before, fl;

		close(sv[0]);
		wait_go(gp[0]);
		before = test_count_fds();
		ASSERT_OK(shmkit_recv_fd(sv[1], NULL, &r));
		ASSERT_EQ(test_count_fds(), before + 1); /* the handle's, and no other */
		/* The sender's name for it, and the size the object has now. */
		ASSERT(!strcmp(shmkit_spec(r), shmkit_spec(s)));
		ASSERT_EQ(shmkit_backend_of(r), SHMKIT_BACKEND_MEMFD);
		ASSERT_EQ(shmkit_size(r), later);
		fl = fcntl(shmkit_fd(r), F_GETFD);
		ASSERT(fl >= 0 && (fl & FD_CLOEXEC));
		ASSERT(filled(shmkit_addr(r), first, 1));
		fill(shmkit_addr(r), later, 2);
		ASSERT_OK(shmkit_detach(r));
		ASSERT_OK(shmkit_detach(s)); /* the copy fork gave us */
		_exit(0);
	}
	close(sv[1]);
	close(gp[0]);
	ASSERT_OK(shmkit_send_fd(sv[0], s));
	/* Grown after sending: the receiver must learn the size from the
	 * descriptor when it reads, not from anything in the message. */
	ASSERT_OK(shmkit_resize(s, later));
	go(gp[1]);
	test_expect_child_ok(pid, 10000, type_name(type));
	ASSERT(filled(shmkit_addr(s), later, 2));
	close(sv[0]);
	close(gp[1]);
	ASSERT_OK(shmkit_destroy(s));
}

static void send_memfd(void)
{
	size_t i;
	for (i = 0; i < 2; i++)
		send_memfd_one(types[i]);
}

/* Two messages queued back to back arrive as two, in order. */
static void back_to_back_one(int type)
{
	shmkit_seg *a = new_memfd(4096, 0, 3), *b = new_memfd(3 * 4096, 0, 4);
	int sv[2], gp[2];
	pid_t pid;

	pair(type, sv);
	ASSERT_EQ(pipe2(gp, O_CLOEXEC), 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		shmkit_seg *r1, *r2;

		close(sv[0]);
		wait_go(gp[0]);
		ASSERT_OK(shmkit_recv_fd(sv[1], NULL, &r1));
		ASSERT_OK(shmkit_recv_fd(sv[1], NULL, &r2));
		ASSERT(!strcmp(shmkit_spec(r1), shmkit_spec(a)));
		ASSERT_EQ(shmkit_size(r1), 4096);
		ASSERT(filled(shmkit_addr(r1), 4096, 3));
		ASSERT(!strcmp(shmkit_spec(r2), shmkit_spec(b)));
		ASSERT_EQ(shmkit_size(r2), 3 * 4096);
		ASSERT(filled(shmkit_addr(r2), 3 * 4096, 4));
		ASSERT_OK(shmkit_detach(r1));
		ASSERT_OK(shmkit_detach(r2));
		_exit(0);
	}
	close(sv[1]);
	close(gp[0]);
	ASSERT_OK(shmkit_send_fd(sv[0], a));
	ASSERT_OK(shmkit_send_fd(sv[0], b));
	go(gp[1]);
	test_expect_child_ok(pid, 10000, type_name(type));
	close(sv[0]);
	close(gp[1]);
	ASSERT_OK(shmkit_destroy(a));
	ASSERT_OK(shmkit_destroy(b));
}

static void back_to_back(void)
{
	size_t i;
	for (i = 0; i < 2; i++)
		back_to_back_one(types[i]);
}

/* The sending side goes away without a word: an error, never a hang. */
static void peer_closes(void)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		int sv[2];
		pid_t pid;

		pair(types[i], sv);
		pid = fork();
		ASSERT(pid >= 0);
		if (pid == 0) {
			shmkit_seg *r = NULL;
			int before;

			close(sv[0]);
			before = test_count_fds();
			ASSERT_ERR(shmkit_recv_fd(sv[1], NULL, &r), ECONNRESET);
			ASSERT(r == NULL);
			ASSERT_EQ(test_count_fds(), before);
			_exit(0);
		}
		close(sv[1]);
		close(sv[0]); /* the only other end: the child sees EOF */
		test_expect_child_ok(pid, 10000, type_name(types[i]));
	}
}

/* sendmsg() of len bytes with fd attached (fd < 0: none). */
static void send_raw(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg;

	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *cm;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	ASSERT_EQ(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

/*
 * Send buf (with fd, or none), optionally hang up, and expect recv_fd to
 * refuse it with -err, leaving the descriptor count as it was.
 */
static void expect_refused(int type, const void *buf, size_t len, int fd,
			   bool hang_up, int err, const char *what)
{
	shmkit_seg *r = NULL;
	int sv[2], before, got;

	pair(type, sv);
	before = test_count_fds();
	send_raw(sv[0], buf, len, fd);
	if (hang_up)
		close(sv[0]);
	got = shmkit_recv_fd(sv[1], NULL, &r);
	if (got != -err)
		FAIL_("%s (%s): expected -%s, got %d (%s)", what,
		      type_name(type), shmkit_err_name(-err), got,
		      got < 0 ? shmkit_err_name(got) : "ok");
	ASSERT(r == NULL);
	if (test_count_fds() != before - (hang_up ? 1 : 0))
		FAIL_("%s (%s): a received descriptor was leaked", what,
		      type_name(type));
	if (!hang_up)
		close(sv[0]);
	close(sv[1]);
}

#define expect_eproto(type, buf, len, fd, hang_up, what)                      \
	expect_refused(type, buf, len, fd, hang_up, EPROTO, what)

static void garbage(void)
{
	shmkit_seg *s = new_memfd(4096, 0, 5);
	uint32_t msg[8];
	char junk[64];
	size_t i;

	memset(junk, 'j', sizeof(junk));
	for (i = 0; i < 2; i++) {
		int t = types[i];

		expect_eproto(t, junk, sizeof(junk), -1, false, "junk, no fd");
		expect_eproto(t, junk, sizeof(junk), shmkit_fd(s), false,
			      "junk with an fd");
		expect_eproto(t, junk, 5, -1, true, "5 bytes, then hang-up");
		expect_eproto(t, junk, 5, shmkit_fd(s), true,
			      "5 bytes with an fd, then hang-up");

		/* Right magic, but no descriptor. */
		memset(msg, 0, sizeof(msg));
		msg[0] = WIRE_MAGIC;
		msg[1] = SHMKIT_BACKEND_MEMFD;
		msg[2] = 4;
		memcpy(&msg[4], "memf", 4);
		expect_eproto(t, msg, 20, -1, false, "no descriptor");
		/* Right magic, a spec longer than any spec. */
		msg[2] = 0xffffffffu;
		expect_eproto(t, msg, 20, shmkit_fd(s), false, "huge spec_len");
		/* The header promises more spec than ever comes. */
		msg[2] = 16;
		expect_eproto(t, msg, 20, shmkit_fd(s), true, "short spec");
	}
	/* A datagram that says less than it carries. */
	msg[2] = 2;
	expect_eproto(SOCK_SEQPACKET, msg, 20, shmkit_fd(s), false,
		      "trailing bytes");
	/* A well-formed message whose descriptor is no memory: refused,
	 * and the descriptor is not kept. */
	{
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
		msg[2] = 4;
		for (i = 0; i < 2; i++)
			expect_refused(types[i], msg, 20, p[0], false, ENODEV,
				       "a pipe for a segment");
		close(p[0]);
		close(p[1]);
	}
	ASSERT_OK(shmkit_destroy(s));
}

static void posix_received(shmkit_seg *r, const void *spec)
{
	ASSERT(!strcmp(shmkit_spec(r), spec));
	ASSERT_EQ(shmkit_backend_of(r), SHMKIT_BACKEND_POSIX);
	ASSERT_EQ(shmkit_size(r), 8192);
	ASSERT(filled(shmkit_addr(r), 8192, 6));
	fill(shmkit_addr(r), 8192, 7);
}

static void posix_too(void)
{
	char spec[128];
	shmkit_seg *s;

	snprintf(spec, sizeof(spec), "posix:%s", test_name("pass"));
	ASSERT_OK(shmkit_create(spec, 8192, NULL, &s));
	fill(shmkit_addr(s), 8192, 6);
	in_receiver(s, SOCK_STREAM, posix_received, spec, "posix over a socket");
	ASSERT(filled(shmkit_addr(s), 8192, 7));
	ASSERT_OK(shmkit_destroy(s));
}

static void no_descriptor(void)
{
	shmkit_seg *s, *r = NULL;
	char spec[64];
	int sv[2], p[2];

	pair(SOCK_STREAM, sv);
	snprintf(spec, sizeof(spec), "sysv:0x%08x",
		 0x53480000u | (((unsigned)getpid() & 0xfffu) << 4));
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &s));
	ASSERT_ERR(shmkit_send_fd(sv[0], s), EBADF);
	ASSERT_OK(shmkit_destroy(s));
	ASSERT_OK(shmkit_create("anon:", 4096, NULL, &s));
	ASSERT_ERR(shmkit_send_fd(sv[0], s), EBADF);
	ASSERT_OK(shmkit_destroy(s));
	ASSERT_ERR(shmkit_send_fd(sv[0], NULL), EINVAL);
	/* Nothing was sent by any of those. */
	ASSERT_EQ(recv(sv[1], spec, sizeof(spec), MSG_DONTWAIT), -1);
	ASSERT_EQ(errno, EAGAIN);

	ASSERT_ERR(shmkit_recv_fd(sv[1], NULL, NULL), EINVAL);
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	ASSERT_ERR(shmkit_recv_fd(p[0], NULL, &r), ENOTSOCK);
	ASSERT(r == NULL);
	s = new_memfd(4096, 0, 0);
	ASSERT_ERR(shmkit_send_fd(p[1], s), ENOTSOCK);
	ASSERT_OK(shmkit_destroy(s));
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* The receiver tries to shrink the memfd under the sender. *want_err: the
 * errno ftruncate must fail with (0: it must succeed). */
static void shrink_received(shmkit_seg *r, const void *arg)
{
	int want_err = *(const int *)arg, fd = shmkit_fd(r);

	if (want_err) {
		ASSERT_EQ(ftruncate(fd, 4096), -1);
		ASSERT_EQ(errno, want_err);
		ASSERT_EQ(ftruncate(fd, 0), -1);
		ASSERT_EQ(ftruncate(fd, 1 << 20), -1);
		ASSERT_ERR(shmkit_resize(r, 4096), EPERM);
		ASSERT_ERR(shmkit_resize(r, 1 << 20), EPERM);
		ASSERT_EQ(shmkit_size(r), 16 * 4096);
		/* ... nor take the seals off. */
		ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
		ASSERT(filled(shmkit_addr(r), 16 * 4096, 8));
	} else {
		ASSERT_EQ(ftruncate(fd, 0), 0);
	}
}

static void shrink_from_child(shmkit_seg *s, int want_err)
{
	in_receiver(s, SOCK_SEQPACKET, shrink_received, &want_err,
		    "shrinking receiver");
}

/* Touch the last byte of s in a child; return how the child ended. */
static int touch_last(shmkit_seg *s)
{
	pid_t pid = fork();

	ASSERT(pid >= 0);
	if (pid == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGBUS, &sa, NULL); /* not a sanitizer's handler */
		(void)*(volatile char *)((char *)shmkit_addr(s) +
					 shmkit_size(s) - 1);
		_exit(0);
	}
	return test_wait_child(pid, 10000, "reader");
}

static void sealed(void)
{
	shmkit_seg *s = new_memfd(16 * 4096, SHMKIT_F_SEAL, 8);
	int seals = fcntl(shmkit_fd(s), F_GET_SEALS), st;

	ASSERT(seals >= 0);
	ASSERT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	shrink_from_child(s, EPERM);
	/* Everything is still there for the sender. */
	ASSERT(filled(shmkit_addr(s), 16 * 4096, 8));
	st = touch_last(s);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The seal binds the creator too. */
	ASSERT_ERR(shmkit_resize(s, 32 * 4096), EPERM);
	ASSERT_EQ(shmkit_size(s), 16 * 4096);
	ASSERT_OK(shmkit_destroy(s));

	/* Without the seal a receiver can pull the memory away: the sender's
	 * next touch is SIGBUS. This is what SHMKIT_F_SEAL prevents. */
	s = new_memfd(16 * 4096, 0, 8);
	ASSERT_EQ(fcntl(shmkit_fd(s), F_GET_SEALS) &
			  (F_SEAL_SHRINK | F_SEAL_GROW),
		  0);
	shrink_from_child(s, 0);
	st = touch_last(s);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGBUS)
		FAIL_("an unsealed memfd shrunk by a peer did not SIGBUS "
		      "(status 0x%x); the sealed case proves nothing",
		      st);
	ASSERT_OK(shmkit_destroy(s));
}

/*
 * Regression (issue 7, item 10): every memfd was created with
 * MFD_ALLOW_SEALING, so a peer given an unsealed one could seal it
 * (F_SEAL_GROW, say) and the creator's own resize then failed with -EPERM.
 * Now only SHMKIT_F_SEAL allows sealing: the peer's F_ADD_SEALS fails and
 * the creator resizes as it likes.
 */
static void seal_received(shmkit_seg *r, const void *unused)
{
	(void)unused;
	ASSERT_EQ(fcntl(shmkit_fd(r), F_ADD_SEALS, F_SEAL_GROW), -1);
	ASSERT_EQ(errno, EPERM);
	ASSERT_EQ(fcntl(shmkit_fd(r), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_WRITE),
		  -1);
}

static void peer_cannot_seal_unsealed(void)
{
	shmkit_seg *s = new_memfd(16 * 4096, 0, 9);

	/* Born sealed against sealing. */
	ASSERT(fcntl(shmkit_fd(s), F_GET_SEALS) & F_SEAL_SEAL);
	in_receiver(s, SOCK_SEQPACKET, seal_received, NULL,
		    "receiver trying to seal");
	ASSERT_OK(shmkit_resize(s, 64 * 4096));
	ASSERT(filled(shmkit_addr(s), 16 * 4096, 9));
	ASSERT_OK(shmkit_resize(s, 4096));
	ASSERT_OK(shmkit_destroy(s));
}

TEST_MAIN("fdpass", TEST(send_memfd), TEST(back_to_back), TEST(peer_closes),
	  TEST(garbage), TEST(posix_too), TEST(no_descriptor), TEST(sealed),
	  TEST(peer_cannot_seal_unsealed))
