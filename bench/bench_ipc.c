/*
 * bench_ipc.c: moving messages between two processes, every way side by
 * side in one run: one-way latency (half a ping-pong round trip) at
 * p50/p99/p99.9, streaming throughput, and the CPU an idle reader burns.
 *
 * The machines are shared 2-core VMs, so absolute figures drift from run
 * to run; what counts is each transport's ratio to the floors measured in
 * the same run, and the run interleaves the transports (round r runs every
 * transport once, in an order rotated by r) so drift hits them alike.
 *
 * The floors:
 *  - spin-line: two processes spinning on one shared cache line, used by
 *    both directions. A message of up to 64 bytes is the line itself (its
 *    first 8 bytes are the turn word, the rest goes in the 56 after it);
 *    larger ones go through one shared buffer that the line hands over.
 *    Nothing can hand a message over faster; every latency is divided by
 *    this one.
 *  - futex: the bare blocking hand-off: copy, store, FUTEX_WAKE; the other
 *    side FUTEX_WAITs on the word. The floor for anything that sleeps.
 *  - memcpy: one process copying the message size, hot in cache: the
 *    bandwidth a copying transport is compared with.
 * Streaming over spin-ring/futex/eventfd uses a plain SPSC ring of slots,
 * the waiting side sleeping only after it said so (a waiter flag), so the
 * stream figures are not a syscall per message.
 *
 * Every transport copies the whole message in and out and the receiver
 * checks the sequence number in it (at both ends from 16 bytes up).
 * Spinning transports yield the CPU while waiting when both sides share
 * one core, otherwise every hand-off would cost a scheduler time slice.
 *
 * Sizes: latency runs at 8, 32, 56, 64, 128, 256 B, 4 KiB, 64 KiB, 1 MiB;
 * streams at 64, 256 B, 4 KiB, 64 KiB, 1 MiB. The small latency cells are
 * there for the cache line: a channel message of up to 56 bytes travels in
 * one line with its 8-byte header (as spin-line's does with its turn
 * word), 64 bytes need a second line, and each cell is divided by the
 * floor measured at the same size.
 *
 * Floor ratios (-R N): the latency phase runs N times over, every
 * repetition interleaving all transports again, and each repetition's p50
 * and p99 are divided by the floor's in that repetition. The median of
 * those ratios, with their min..max, is what the floor-ratio targets are
 * judged on: a noisy neighbour that hits the floor's cells but not the
 * channel's (or the other way round) in one repetition moves the spread,
 * not the verdict. bench/run.sh runs this at 56 and 64 B, one repetition
 * at a time spread over its run, and combines them with -F.
 *
 * Transports plug in through struct tp (ipc_tp.h): shmkit's channels
 * (ipc_chan.c) always, the peers (Boost message_queue, iceoryx) when built
 * with -DSHMKIT_BENCH_PEERS=ON and installed. Nothing is left behind:
 * names are "/shmkit-bench-<pid>-...", removed as soon as both sides have
 * opened them, and a signal removes whatever exists at that moment before
 * the driver dies.
 *
 * Usage: bench_ipc [-q] [-l] [-L] [-C] [-m lat,thr,idle] [-R N] [-F TSV,...]
 *                  [-t NAME,...] [-s SIZE,...] [-S SIZE,...] [-o TSV] [-p PREFIX]
 * -l lists the transports; -t picks some; -s sets the latency sizes (and
 * the stream sizes, unless -S sets those); -m picks the phases (latency,
 * stream, idle; -L is latency only); -C measures cross-core only; -R N
 * repeats the latency phase and reports floor ratios; -F reports floor
 * ratios over the repetitions of earlier runs' TSV files, measuring
 * nothing; -o writes every figure as TSV; -p writes PREFIX-cross.dat and PREFIX-same.dat for
 * bench/plot.gp.
 * Knobs: BENCH_QUICK=1, BENCH_ROUNDS, BENCH_LAT_MS / BENCH_THR_MS (per
 * round and cell), BENCH_IDLE_MS.
 */
#include "bench_util.h"
#include "ipc_tp.h"

#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define SEQ_MARK UINT64_MAX /* the last message of a run */
#define MAX_SAMPLES (1u << 19) /* per run; a round stops there */
#define MAX_TP 40
#define MAX_SIZES 16
#define MAX_REPS 9
#define NPLACE 2

/* ------------------------------------------------------------------------ */
/* Small shared pieces                                                       */

static void *map_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static size_t line_round(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/* Spin until cond holds; on a shared core, give the CPU to the other side. */
#define SPIN_UNTIL(c, cond)                                                   \
	do {                                                                  \
		while (!(cond)) {                                             \
			if ((c)->same_core)                                   \
				sched_yield();                                \
			else                                                  \
				bench_relax();                                \
		}                                                             \
	} while (0)

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A message carries its sequence number in its first 8 bytes and, from 16
 * bytes up, its inverse in the last 8, so a message torn between two
 * writes (a new head, an old tail) is caught. Under 16 bytes the two would
 * overlap: such a message is the sequence number alone.
 */
#define SEQ_BOTH_ENDS 16

static void stamp(void *buf, size_t size, uint64_t seq)
{
	uint64_t inv = ~seq;
	memcpy(buf, &seq, 8);
	if (size >= SEQ_BOTH_ENDS)
		memcpy((char *)buf + size - 8, &inv, 8);
}

/* The sequence number in buf, or 0 when its two ends disagree. */
static uint64_t seq_of(const void *buf, size_t size)
{
	uint64_t s, inv;
	memcpy(&s, buf, 8);
	if (size < SEQ_BOTH_ENDS)
		return s;
	memcpy(&inv, (const char *)buf + size - 8, 8);
	return s == ~inv ? s : 0;
}

/* ------------------------------------------------------------------------ */
/* spin-line: the floor                                                      */

/*
 * One cache line shared by both directions: one line changing hands per
 * one-way trip, which is measurably less than a line per direction (each
 * store would then also invalidate the copy the other side polls). The
 * word says whose turn it is: A stores the message's sequence number s,
 * B answers with ~s, so neither side ever mistakes its own store for the
 * other's (sequence numbers count up from 1; ~s is never one of them).
 * A message of up to 64 bytes travels in the line itself: its first 8
 * bytes are the turn word (the sequence number is what the receiver puts
 * back there), the rest goes in the 56 bytes after it, so the floor stays
 * one line at every size a channel also fits in one line. Larger messages
 * go through one shared buffer that the turn word hands back and forth.
 */
struct line {
	alignas(64) _Atomic uint64_t turn;
	unsigned char data[56];
};

#define SPINLINE_MAX ((size_t)sizeof(struct line)) /* in the line */

struct spinline {
	struct line *line;
	unsigned char *buf; /* over SPINLINE_MAX */
	size_t len;
	uint64_t mine; /* B: the last word it stored (~s), initially 0 */
};

static int spinline_setup(struct tp_ctx *c)
{
	struct spinline *s = calloc(1, sizeof(*s));
	size_t big = c->size > SPINLINE_MAX ? line_round(c->size) : 0;

	if (!s)
		return -ENOMEM;
	s->len = sizeof(struct line) + big;
	s->line = map_shared(s->len);
	if (!s->line) {
		free(s);
		return -ENOMEM;
	}
	if (big)
		s->buf = (unsigned char *)(s->line + 1);
	c->priv = s;
	return 0;
}

static void spinline_put(struct tp_ctx *c, const void *buf, uint64_t word)
{
	struct spinline *s = c->priv;

	if (c->size <= SPINLINE_MAX)
		memcpy(s->line->data, (const char *)buf + 8, c->size - 8);
	else
		memcpy(s->buf, buf, c->size);
	atomic_store_explicit(&s->line->turn, word, memory_order_release);
}

static void spinline_get(struct tp_ctx *c, void *buf, uint64_t seq)
{
	struct spinline *s = c->priv;

	if (c->size <= SPINLINE_MAX) {
		memcpy(buf, &seq, 8);
		memcpy((char *)buf + 8, s->line->data, c->size - 8);
	} else {
		memcpy(buf, s->buf, c->size);
	}
}

static int spinline_ping(struct tp_ctx *c, void *buf)
{
	struct spinline *s = c->priv;
	uint64_t seq;

	memcpy(&seq, buf, 8);
	spinline_put(c, buf, seq);
	SPIN_UNTIL(c, atomic_load_explicit(&s->line->turn,
					   memory_order_acquire) == ~seq);
	spinline_get(c, buf, seq);
	return 0;
}

static int spinline_pong(struct tp_ctx *c, void *buf)
{
	struct spinline *s = c->priv;
	uint64_t seq;

	SPIN_UNTIL(c, (seq = atomic_load_explicit(&s->line->turn,
						  memory_order_acquire)) !=
			      s->mine);
	spinline_get(c, buf, seq);
	s->mine = ~seq;
	spinline_put(c, buf, ~seq);
	return 0;
}

static void spinline_teardown(struct tp_ctx *c)
{
	struct spinline *s = c->priv;
	munmap(s->line, s->len);
	free(s);
}

/* ------------------------------------------------------------------------ */
/* The SPSC ring behind spin-ring, and the streams of futex and eventfd      */

enum wait_kind { WAIT_SPIN, WAIT_FUTEX, WAIT_EVENTFD };

/*
 * head is written by the producer only, tail by the consumer only, each on
 * its own line; both count messages and run free, masked into slots. A side
 * about to sleep sets its *_wait flag, re-checks the index and sleeps; the
 * other side, after publishing, takes the flag (exchange to 0) and wakes
 * it. The seq_cst fences between "publish" and "look at the flag" on both
 * sides make it impossible for both to miss each other.
 *
 * A waker may take the flag on behalf of a message the sleeper has already
 * consumed, just before the sleeper goes down; the sleep must then not
 * happen. So the futex sleeper waits on the flag word itself (FUTEX_WAIT
 * while it is still 1) rather than on the index, and the eventfd sleeper is
 * covered by the eventfd counter, which remembers a write made before the
 * read. Either way it wakes, sets its flag again and re-checks.
 */
struct ring {
	alignas(64) _Atomic uint32_t head;
	alignas(64) _Atomic uint32_t tail;
	alignas(64) _Atomic uint32_t head_wait; /* the consumer sleeps */
	alignas(64) _Atomic uint32_t tail_wait; /* the producer sleeps */
	alignas(64) unsigned char slots[];
};

struct ringq {
	struct ring *r;
	size_t stride, len;
	uint32_t n;      /* slots, a power of two */
	uint32_t mine;   /* producer: head; consumer: tail */
	uint32_t theirs; /* the other index, as last read */
	int efd_head, efd_tail;
};

/* The bare blocking hand-off (futex, eventfd latency): one word a line. */
struct handoff {
	alignas(64) _Atomic uint32_t word;
};

struct ringtp {
	enum wait_kind kind;
	struct ringq q[2];
	struct handoff *ho; /* [2], shared */
	unsigned char *hobuf[2];
	uint32_t sent[2], got[2]; /* hand-offs per direction, this process */
	int efd[2];
	size_t holen;
};

static void ring_sleep(enum wait_kind kind, _Atomic uint32_t *flag, int efd)
{
	uint64_t v;
	if (kind == WAIT_FUTEX)
		(void)bench_futex_wait(flag, 1, NULL);
	else if (read(efd, &v, sizeof(v)) < 0 && errno != EINTR)
		abort(); /* an eventfd read that fails is a bug here */
}

static void ring_wake(enum wait_kind kind, _Atomic uint32_t *flag, int efd)
{
	uint64_t one = 1;
	if (kind == WAIT_FUTEX)
		(void)bench_futex_wake(flag, 1);
	else if (write(efd, &one, sizeof(one)) < 0)
		abort();
}

/* Wait until *word != seen; returns the new value. */
static uint32_t ring_wait(struct tp_ctx *c, enum wait_kind kind,
			  _Atomic uint32_t *word, _Atomic uint32_t *flag,
			  uint32_t seen, int efd)
{
	uint32_t v;

	if (kind == WAIT_SPIN) {
		SPIN_UNTIL(c, (v = atomic_load_explicit(
				       word, memory_order_acquire)) != seen);
		return v;
	}
	for (;;) {
		v = atomic_load_explicit(word, memory_order_acquire);
		if (v != seen)
			break;
		atomic_store_explicit(flag, 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		v = atomic_load_explicit(word, memory_order_acquire);
		if (v != seen)
			break;
		ring_sleep(kind, flag, efd);
	}
	atomic_store_explicit(flag, 0, memory_order_relaxed);
	return v;
}

static void ring_notify(enum wait_kind kind, _Atomic uint32_t *flag, int efd)
{
	if (kind == WAIT_SPIN)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(flag, memory_order_relaxed) &&
	    atomic_exchange_explicit(flag, 0, memory_order_relaxed))
		ring_wake(kind, flag, efd);
}

static int ring_send(struct tp_ctx *c, int dir, const void *buf)
{
	struct ringtp *t = c->priv;
	struct ringq *q = &t->q[dir];
	struct ring *r = q->r;

	while (q->mine - q->theirs >= q->n) {
		q->theirs = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (q->mine - q->theirs >= q->n)
			q->theirs = ring_wait(c, t->kind, &r->tail,
					      &r->tail_wait, q->theirs,
					      q->efd_tail);
	}
	memcpy(r->slots + (size_t)(q->mine & (q->n - 1)) * q->stride, buf,
	       c->size);
	atomic_store_explicit(&r->head, ++q->mine, memory_order_release);
	ring_notify(t->kind, &r->head_wait, q->efd_head);
	return 0;
}

static int ring_recv(struct tp_ctx *c, int dir, void *buf)
{
	struct ringtp *t = c->priv;
	struct ringq *q = &t->q[dir];
	struct ring *r = q->r;

	if (q->theirs == q->mine) {
		q->theirs = atomic_load_explicit(&r->head, memory_order_acquire);
		if (q->theirs == q->mine)
			q->theirs = ring_wait(c, t->kind, &r->head,
					      &r->head_wait, q->mine,
					      q->efd_head);
	}
	memcpy(buf, r->slots + (size_t)(q->mine & (q->n - 1)) * q->stride,
	       c->size);
	atomic_store_explicit(&r->tail, ++q->mine, memory_order_release);
	ring_notify(t->kind, &r->tail_wait, q->efd_tail);
	return 0;
}

static void ring_teardown(struct tp_ctx *c)
{
	struct ringtp *t = c->priv;
	for (int d = 0; d < 2; d++) {
		struct ringq *q = &t->q[d];
		if (q->r)
			munmap(q->r, q->len);
		if (q->efd_head >= 0)
			close(q->efd_head);
		if (q->efd_tail >= 0)
			close(q->efd_tail);
		if (t->efd[d] >= 0)
			close(t->efd[d]);
	}
	if (t->ho)
		munmap(t->ho, t->holen);
	free(t);
}

static int ring_setup_kind(struct tp_ctx *c, enum wait_kind kind)
{
	struct ringtp *t = calloc(1, sizeof(*t));
	size_t big = line_round(c->size);

	if (!t)
		return -ENOMEM;
	c->priv = t;
	t->kind = kind;
	for (int d = 0; d < 2; d++) {
		struct ringq *q = &t->q[d];
		q->efd_head = q->efd_tail = t->efd[d] = -1;
		q->n = c->slots;
		q->stride = line_round(c->size);
		q->len = sizeof(struct ring) + (size_t)q->n * q->stride;
		q->r = map_shared(q->len);
		if (!q->r)
			goto fail;
		if (kind == WAIT_EVENTFD) {
			q->efd_head = eventfd(0, EFD_CLOEXEC);
			q->efd_tail = eventfd(0, EFD_CLOEXEC);
			t->efd[d] = eventfd(0, EFD_CLOEXEC);
			if (q->efd_head < 0 || q->efd_tail < 0 || t->efd[d] < 0)
				goto fail;
		}
	}
	if (kind != WAIT_SPIN) {
		t->holen = 2 * sizeof(struct handoff) + 2 * big;
		t->ho = map_shared(t->holen);
		if (!t->ho)
			goto fail;
		t->hobuf[TP_AB] = (unsigned char *)(t->ho + 2);
		t->hobuf[TP_BA] = t->hobuf[TP_AB] + big;
	}
	return 0;
fail:
	ring_teardown(c);
	return -ENOMEM;
}

static int spinring_setup(struct tp_ctx *c)
{
	return ring_setup_kind(c, WAIT_SPIN);
}

static int futex_setup(struct tp_ctx *c)
{
	return ring_setup_kind(c, WAIT_FUTEX);
}

static int eventfd_setup(struct tp_ctx *c)
{
	return ring_setup_kind(c, WAIT_EVENTFD);
}

/* The bare hand-off: copy, publish, always wake; no spinning, no flags. */
static void ho_send(struct tp_ctx *c, int dir, const void *buf)
{
	struct ringtp *t = c->priv;
	struct handoff *h = &t->ho[dir];
	uint64_t one = 1;

	memcpy(t->hobuf[dir], buf, c->size);
	if (t->kind == WAIT_FUTEX) {
		atomic_store_explicit(&h->word, ++t->sent[dir], memory_order_release);
		(void)bench_futex_wake(&h->word, 1);
	} else if (write(t->efd[dir], &one, sizeof(one)) < 0) {
		abort();
	}
}

static void ho_recv(struct tp_ctx *c, int dir, void *buf)
{
	struct ringtp *t = c->priv;
	struct handoff *h = &t->ho[dir];
	uint32_t want = ++t->got[dir], v;
	uint64_t n;

	if (t->kind == WAIT_FUTEX) {
		while ((v = atomic_load_explicit(&h->word,
						 memory_order_acquire)) != want)
			(void)bench_futex_wait(&h->word, v, NULL);
	} else {
		while (read(t->efd[dir], &n, sizeof(n)) < 0)
			if (errno != EINTR)
				abort();
	}
	memcpy(buf, t->hobuf[dir], c->size);
}

static int ho_ping(struct tp_ctx *c, void *buf)
{
	ho_send(c, TP_AB, buf);
	ho_recv(c, TP_BA, buf);
	return 0;
}

static int ho_pong(struct tp_ctx *c, void *buf)
{
	ho_recv(c, TP_AB, buf);
	ho_send(c, TP_BA, buf);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* pipe, socketpair                                                          */

struct fdtp {
	int fd[2][2]; /* pipe: [dir][read,write]; socketpair: [0][A,B] */
	bool sock;
};

static int fdtp_setup(struct tp_ctx *c, bool sock)
{
	struct fdtp *f = calloc(1, sizeof(*f));
	int r = 0;

	if (!f)
		return -ENOMEM;
	f->sock = sock;
	f->fd[0][0] = f->fd[0][1] = f->fd[1][0] = f->fd[1][1] = -1;
	if (sock) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->fd[0]) < 0)
			r = -errno;
	} else if (pipe2(f->fd[0], O_CLOEXEC) < 0 ||
		   pipe2(f->fd[1], O_CLOEXEC) < 0) {
		r = -errno;
	}
	if (r < 0) {
		for (int i = 0; i < 4; i++)
			if (f->fd[i / 2][i % 2] >= 0)
				close(f->fd[i / 2][i % 2]);
		free(f);
		return r;
	}
	c->priv = f;
	return 0;
}

static int pipe_setup(struct tp_ctx *c)
{
	return fdtp_setup(c, false);
}

static int sock_setup(struct tp_ctx *c)
{
	return fdtp_setup(c, true);
}

static int fdtp_send(struct tp_ctx *c, int dir, const void *buf)
{
	struct fdtp *f = c->priv;
	int fd = f->sock ? f->fd[0][c->side] : f->fd[dir][1];
	return write_full(fd, buf, c->size);
}

static int fdtp_recv(struct tp_ctx *c, int dir, void *buf)
{
	struct fdtp *f = c->priv;
	int fd = f->sock ? f->fd[0][c->side] : f->fd[dir][0];
	return read_full(fd, buf, c->size);
}

static void fdtp_teardown(struct tp_ctx *c)
{
	struct fdtp *f = c->priv;
	for (int i = 0; i < 4; i++)
		if (f->fd[i / 2][i % 2] >= 0)
			close(f->fd[i / 2][i % 2]);
	free(f);
}

/* ------------------------------------------------------------------------ */
/* POSIX message queue                                                       */

static long read_proc_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "re");
	long v = dflt;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

struct mqtp {
	mqd_t q[2];
};

static int mq_setup(struct tp_ctx *c)
{
	long maxsize = read_proc_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
	long maxmsg = read_proc_long("/proc/sys/fs/mqueue/msg_max", 10);
	struct mq_attr attr;
	struct mqtp *m;
	int r = 0;

	if ((long)c->size > maxsize) {
		snprintf(c->note, sizeof(c->note),
			 "over /proc/sys/fs/mqueue/msgsize_max (%ld)", maxsize);
		return TP_SKIP;
	}
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	memset(&attr, 0, sizeof(attr));
	attr.mq_maxmsg = maxmsg < 10 ? maxmsg : 10;
	attr.mq_msgsize = (long)c->size;
	for (int d = 0; d < 2; d++) {
		snprintf(c->mq_names[d], sizeof(c->mq_names[d]),
			 "/shmkit-bench-%d-%u-mq%d", c->driver_pid, c->cell, d);
		m->q[d] = mq_open(c->mq_names[d],
				  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600,
				  &attr);
		if (m->q[d] == (mqd_t)-1)
			r = -errno;
		/* The descriptors are inherited; the names can go now. */
		(void)mq_unlink(c->mq_names[d]);
		c->mq_names[d][0] = '\0';
		if (r < 0) {
			if (d == 1)
				mq_close(m->q[0]);
			free(m);
			return r;
		}
	}
	c->priv = m;
	return 0;
}

static int mq_send_(struct tp_ctx *c, int dir, const void *buf)
{
	struct mqtp *m = c->priv;
	while (mq_send(m->q[dir], buf, c->size, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int mq_recv_(struct tp_ctx *c, int dir, void *buf)
{
	struct mqtp *m = c->priv;
	ssize_t n;
	while ((n = mq_receive(m->q[dir], buf, c->size, NULL)) < 0)
		if (errno != EINTR)
			return -errno;
	return (size_t)n == c->size ? 0 : -EMSGSIZE;
}

static void mq_teardown(struct tp_ctx *c)
{
	struct mqtp *m = c->priv;
	mq_close(m->q[0]);
	mq_close(m->q[1]);
	free(m);
}

/* ------------------------------------------------------------------------ */
/* The table                                                                 */

static const struct tp tp_spinline = {
	.name = "spin-line",
	.flags = TP_F_SPIN | TP_F_NOSTREAM | TP_F_FLOOR,
	.about = "floor: two processes spinning on one shared cache line "
		 "carrying messages of up to 64 B (+ a shared buffer over)",
	.setup = spinline_setup,
	.ping = spinline_ping,
	.pong = spinline_pong,
	.teardown = spinline_teardown,
};

static const struct tp tp_spinring = {
	.name = "spin-ring",
	.flags = TP_F_SPIN,
	.about = "a plain SPSC ring of slots per direction, both sides spinning",
	.setup = spinring_setup,
	.send = ring_send,
	.recv = ring_recv,
	.teardown = ring_teardown,
};

static const struct tp tp_futex = {
	.name = "futex",
	.flags = TP_F_FUTEX,
	.about = "blocking floor: FUTEX_WAKE/FUTEX_WAIT on a shared word per "
		 "message (stream: the ring, sleeping on its indexes)",
	.setup = futex_setup,
	.ping = ho_ping,
	.pong = ho_pong,
	.send = ring_send,
	.recv = ring_recv,
	.teardown = ring_teardown,
};

static const struct tp tp_eventfd = {
	.name = "eventfd",
	.about = "eventfd write/read per message + shared buffer "
		 "(stream: the ring, sleeping in eventfd reads)",
	.setup = eventfd_setup,
	.ping = ho_ping,
	.pong = ho_pong,
	.send = ring_send,
	.recv = ring_recv,
	.teardown = ring_teardown,
};

static const struct tp tp_pipe = {
	.name = "pipe",
	.about = "two pipes, write/read of the whole message",
	.setup = pipe_setup,
	.send = fdtp_send,
	.recv = fdtp_recv,
	.teardown = fdtp_teardown,
};

static const struct tp tp_sock = {
	.name = "socketpair",
	.about = "AF_UNIX SOCK_STREAM socketpair",
	.setup = sock_setup,
	.send = fdtp_send,
	.recv = fdtp_recv,
	.teardown = fdtp_teardown,
};

static const struct tp tp_mq = {
	.name = "posix-mq",
	.about = "mq_send/mq_receive, 10 messages deep",
	.setup = mq_setup,
	.send = mq_send_,
	.recv = mq_recv_,
	.teardown = mq_teardown,
};

static const struct tp *tps[MAX_TP];
static int ntp;

static void register_tp(const struct tp *t)
{
	if (ntp < MAX_TP)
		tps[ntp++] = t;
}

static void register_all(void)
{
	register_tp(&tp_spinline);
	register_tp(&tp_spinring);
	register_tp(&tp_futex);
	register_tp(&tp_eventfd);
	register_tp(&tp_pipe);
	register_tp(&tp_sock);
	register_tp(&tp_mq);
#ifdef BENCH_HAVE_CHAN
	for (const struct tp *const *p = tp_chan_list; *p; p++)
		register_tp(*p);
#endif
#ifdef BENCH_HAVE_BOOST
	register_tp(&tp_boost_mq);
#endif
#ifdef BENCH_HAVE_ICEORYX
	register_tp(&tp_iox_poll);
	register_tp(&tp_iox_ws);
#endif
}

/* ------------------------------------------------------------------------ */
/* The driver                                                                */

enum mode { M_LAT, M_THR, M_IDLE };

/* The phases a run measures (-m). */
#define PH_LAT 0x1u
#define PH_THR 0x2u
#define PH_IDLE 0x4u

/* Shared between the driver and both children of one run. */
struct ctl {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	int err[2];
	uint64_t n;       /* samples written by A */
	uint64_t msgs;    /* stream: messages A timed */
	uint64_t ticks;   /* stream: A's elapsed ticks, send to ack */
	uint64_t errors;  /* torn or out-of-order messages seen */
	uint64_t recvd;   /* stream: messages B received (timed or not) */
	uint64_t lost;    /* stream, lossy transports: gaps B saw */
	uint64_t idle_cpu_ns, idle_wall_ns;
	uint32_t samples[]; /* RTTs in ticks */
};

static struct {
	bool quick;
	int rounds;
	int reps;          /* -R: repetitions of the latency phase */
	unsigned phases;   /* PH_* */
	int nplace;        /* 1: cross-core only (-C), or one CPU */
	uint64_t lat_ns, thr_ns;
	unsigned idle_ms;
	double tick_ns;
	uint64_t tick_over;
	int ncpu;
	FILE *tsv;
	const char *dat; /* plot data prefix */
	const char *only;
} cfg;

static struct ctl *ctl;
static size_t ctl_len;

/* For the signal handler: the run in flight. */
static struct tp_ctx *volatile cur_ctx;
static volatile pid_t kids[2];

static void on_signal(int sig)
{
	struct tp_ctx *c = cur_ctx;

	for (int i = 0; i < 2; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			(void)waitpid(kids[i], NULL, 0);
		}
	if (c) {
		for (int i = 0; i < TP_NAMES; i++) {
			if (c->shm_paths[i][0])
				(void)unlink(c->shm_paths[i]);
			if (c->mq_names[i][0]) /* the syscall wants no '/' */
				(void)syscall(SYS_mq_unlink, c->mq_names[i] + 1);
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static bool wants(const struct tp *t)
{
	const char *p = cfg.only;
	size_t n = strlen(t->name);

	if (!p)
		return true;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, t->name, n))
			return true;
		p += len + (e ? 1 : 0);
	}
	return false;
}

static int tp_ping(const struct tp *t, struct tp_ctx *c, void *buf)
{
	int r;
	if (t->ping)
		return t->ping(c, buf);
	r = t->send(c, TP_AB, buf);
	return r < 0 ? r : t->recv(c, TP_BA, buf);
}

static int tp_pong(const struct tp *t, struct tp_ctx *c, void *buf)
{
	int r;
	if (t->pong)
		return t->pong(c, buf);
	r = t->recv(c, TP_AB, buf);
	return r < 0 ? r : t->send(c, TP_BA, buf);
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) *
		       1000000000u +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) *
		       1000u;
}

static int side_a(const struct tp *t, struct tp_ctx *c, enum mode m, void *buf)
{
	uint64_t seq = 1, budget, start, prev, now, n = 0;
	int r = 0;

	budget = (uint64_t)((double)(m == M_LAT ? cfg.lat_ns : cfg.thr_ns) /
			    cfg.tick_ns);
	if (m == M_IDLE) {
		struct timespec ts = {cfg.idle_ms / 1000,
				      (long)(cfg.idle_ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		stamp(buf, c->size, SEQ_MARK);
		return tp_ping(t, c, buf);
	}
	if (m == M_LAT) {
		/*
		 * Warm up: fault in every slot of every queue (a first touch
		 * of a shared page costs microseconds here), then go on for a
		 * tenth of the budget so caches and the scheduler settle.
		 */
		start = bench_ticks();
		for (unsigned i = 0; i < 20000; i++) {
			uint64_t spent;
			stamp(buf, c->size, seq++);
			if ((r = tp_ping(t, c, buf)) < 0)
				return r;
			spent = bench_ticks() - start;
			if (spent > budget ||
			    (i >= 2 * c->slots + 4 && spent > budget / 10))
				break;
		}
		prev = start = bench_ticks();
		while (n < MAX_SAMPLES) {
			stamp(buf, c->size, seq);
			if ((r = tp_ping(t, c, buf)) < 0)
				return r;
			if (seq_of(buf, c->size) != seq)
				ctl->errors++;
			seq++;
			now = bench_ticks();
			ctl->samples[n++] = (uint32_t)(now - prev < UINT32_MAX
							       ? now - prev
							       : UINT32_MAX);
			prev = now;
			if (now - start > budget)
				break;
		}
		ctl->n = n;
		stamp(buf, c->size, SEQ_MARK);
		return tp_ping(t, c, buf);
	}
	/* M_THR: a warm-up burst through every slot, then stream until the
	 * budget is spent. */
	for (unsigned i = 0; i < 2 * c->slots + 4; i++) {
		stamp(buf, c->size, seq++);
		if ((r = t->send(c, TP_AB, buf)) < 0)
			return r;
	}
	start = bench_ticks();
	for (;;) {
		stamp(buf, c->size, seq++);
		if ((r = t->send(c, TP_AB, buf)) < 0)
			return r;
		if ((++n & 31) == 0 && bench_ticks() - start > budget)
			break;
	}
	stamp(buf, c->size, SEQ_MARK);
	if ((r = t->send(c, TP_AB, buf)) < 0 ||
	    (r = t->recv(c, TP_BA, buf)) < 0)
		return r;
	ctl->ticks = bench_ticks() - start;
	ctl->msgs = n;
	return 0;
}

static int side_b(const struct tp *t, struct tp_ctx *c, enum mode m, void *buf)
{
	uint64_t expect = 1, s, cpu0, wall0;
	int r;

	if (m == M_IDLE) {
		cpu0 = cpu_ns();
		wall0 = bench_now_ns();
		r = tp_pong(t, c, buf);
		ctl->idle_wall_ns = bench_now_ns() - wall0;
		ctl->idle_cpu_ns = cpu_ns() - cpu0;
		return r;
	}
	if (m == M_LAT) {
		do {
			if ((r = tp_pong(t, c, buf)) < 0)
				return r;
		} while (seq_of(buf, c->size) != SEQ_MARK);
		return 0;
	}
	for (;;) {
		if ((r = t->recv(c, TP_AB, buf)) < 0)
			return r;
		s = seq_of(buf, c->size);
		if (s == SEQ_MARK)
			return t->send(c, TP_BA, buf);
		if (s > expect && (t->flags & TP_F_LOSSY))
			ctl->lost += s - expect;
		else if (s != expect)
			ctl->errors++;
		ctl->recvd++;
		expect = s + 1;
	}
}

static void child(const struct tp *t, struct tp_ctx *c, int side, enum mode m,
		  int cpu)
{
	struct timespec ts = {1, 0};
	sigset_t set;
	void *buf;
	int r, waited = 0;

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	(void)bench_pin(cpu);
	c->side = side;
	buf = aligned_alloc(64, line_round(c->size));
	if (!buf)
		_exit(3);
	memset(buf, 0x5a, c->size);
	r = t->attach ? t->attach(c) : 0;
	if (r < 0)
		ctl->err[side] = r;
	atomic_fetch_add(&ctl->ready, 1);
	(void)bench_futex_wake(&ctl->ready, 2);
	if (r < 0)
		exit(2);
	while (!atomic_load(&ctl->go) && waited++ < 60)
		(void)bench_futex_wait(&ctl->go, 0, &ts);
	if (!atomic_load(&ctl->go))
		exit(4);
	r = side == TP_SIDE_A ? side_a(t, c, m, buf) : side_b(t, c, m, buf);
	if (r < 0)
		ctl->err[side] = r;
	if (t->detach)
		t->detach(c);
	free(buf);
	exit(r < 0 ? 1 : 0); /* exit, not _exit: peers unregister at exit */
}

/* Wait for both children, at most timeout_ms; kill them past it. */
static int reap(int timeout_ms, int *status)
{
	uint64_t end = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
	sigset_t set;
	int left = (kids[0] > 0) + (kids[1] > 0), r = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	while (left) {
		for (int i = 0; i < 2; i++) {
			int st;
			if (kids[i] > 0 && waitpid(kids[i], &st, WNOHANG) == kids[i]) {
				status[i] = st;
				kids[i] = 0;
				left--;
			}
		}
		if (!left)
			break;
		uint64_t now = bench_now_ns();
		if (now >= end) {
			r = -ETIMEDOUT;
			for (int i = 0; i < 2; i++)
				if (kids[i] > 0) {
					kill(kids[i], SIGKILL);
					waitpid(kids[i], &status[i], 0);
					kids[i] = 0;
				}
			break;
		}
		uint64_t d = end - now;
		struct timespec ts = {(time_t)(d / 1000000000u),
				      (long)(d % 1000000000u)};
		if (d > 100000000u) /* wake now and then: a reap race is cheap */
			ts.tv_sec = 0, ts.tv_nsec = 100000000;
		(void)sigtimedwait(&set, NULL, &ts);
	}
	return r;
}

struct outcome {
	int state; /* 0 ok, 1 skipped, 2 failed */
	char note[160];
};

static unsigned cell_counter;

static void run_one(const struct tp *t, enum mode m, int place, size_t size,
		    struct outcome *out)
{
	struct tp_ctx c;
	int status[2] = {0, 0}, r, timeout_ms;
	uint64_t deadline;

	memset(&c, 0, sizeof(c));
	memset(out, 0, sizeof(*out));
	c.size = size;
	c.slots = 4;
	while (c.slots < 1024 && (size_t)c.slots * 2 * line_round(size) <= 256 * 1024)
		c.slots *= 2;
	c.same_core = place == 1;
	c.driver_pid = (int)getpid();
	c.cell = ++cell_counter;

	memset(ctl, 0, sizeof(*ctl));
	cur_ctx = &c;
	r = t->setup(&c);
	if (r == TP_SKIP) {
		out->state = 1;
		snprintf(out->note, sizeof(out->note), "%s", c.note);
		cur_ctx = NULL;
		return;
	}
	if (r < 0) {
		out->state = 2;
		snprintf(out->note, sizeof(out->note), "setup: %s",
			 strerror(-r));
		cur_ctx = NULL;
		return;
	}
	fflush(NULL); /* or the children's exit() writes our buffers again */
	for (int side = 0; side < 2; side++) {
		int cpu = side == TP_SIDE_B && place == 0 ? 1 : 0;
		pid_t pid = fork();
		if (pid == 0)
			child(t, &c, side, m, cpu);
		kids[side] = pid;
		if (pid < 0) {
			out->state = 2;
			snprintf(out->note, sizeof(out->note), "fork: %s",
				 strerror(errno));
			if (side == 1)
				kill(kids[0], SIGKILL);
			break;
		}
	}
	/* Both attached (or failed)? Then the names can go. */
	deadline = bench_now_ns() + 30000000000ull;
	while (out->state == 0 && atomic_load(&ctl->ready) < 2 &&
	       bench_now_ns() < deadline) {
		struct timespec ts = {0, 100000000};
		uint32_t v = atomic_load(&ctl->ready);
		if (v < 2)
			(void)bench_futex_wait(&ctl->ready, v, &ts);
	}
	if (t->unlink)
		t->unlink(&c);
	atomic_store(&ctl->go, 1);
	(void)bench_futex_wake(&ctl->go, 2);
	timeout_ms = 30000 + (int)((m == M_IDLE ? cfg.idle_ms * 1000000ull
				   : m == M_LAT ? cfg.lat_ns : cfg.thr_ns) /
				  1000000u);
	r = reap(timeout_ms, status);
	if (out->state == 0) {
		if (r < 0) {
			out->state = 2;
			snprintf(out->note, sizeof(out->note),
				 "timed out after %d ms", timeout_ms);
		} else if (ctl->err[0] || ctl->err[1]) {
			out->state = 2;
			snprintf(out->note, sizeof(out->note), "%s: %s",
				 ctl->err[0] ? "A" : "B",
				 strerror(-(ctl->err[0] ? ctl->err[0]
							: ctl->err[1])));
		} else if (!WIFEXITED(status[0]) || WEXITSTATUS(status[0]) ||
			   !WIFEXITED(status[1]) || WEXITSTATUS(status[1])) {
			out->state = 2;
			snprintf(out->note, sizeof(out->note),
				 "child status %#x/%#x", status[0], status[1]);
		} else if (ctl->errors) {
			out->state = 2;
			snprintf(out->note, sizeof(out->note),
				 "%llu corrupted messages",
				 (unsigned long long)ctl->errors);
		}
	}
	if (t->teardown)
		t->teardown(&c);
	cur_ctx = NULL;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

struct lat {
	struct outcome o;
	uint32_t *v;
	size_t n;
	size_t n0; /* where the repetition in progress began in v */
	double p50, p99, p999; /* one-way ns */
};

struct thr {
	struct outcome o;
	uint64_t msgs, lost, recvd;
	double ns; /* summed over rounds */
	double rate, gbs;
};

/*
 * Latency and stream have their own sizes. Latency runs at the small sizes
 * too: 8, 32 and 56 B fit in one cache line with a channel's 8-byte header,
 * 64 B is where the header pushes a message into a second line, and 128
 * and 256 B show how the cost then grows. A stream of small messages says
 * little the 64 B one does not, so the stream keeps the original sizes and
 * the full run stays within its time.
 */
static size_t lat_sizes[MAX_SIZES] = {8,   32,   56,    64,     128,
				      256, 4096, 65536, 1048576};
static int nlat = 9;
static size_t thr_sizes[MAX_SIZES] = {64, 256, 4096, 65536, 1048576};
static int nthr = 5;
static struct lat lat[NPLACE][MAX_TP][MAX_SIZES];
static struct thr thr[NPLACE][MAX_TP][MAX_SIZES];
/* Per repetition of the latency phase (-R): one-way p50 and p99, or -1. */
static double rep_p50[MAX_REPS][NPLACE][MAX_TP][MAX_SIZES];
static double rep_p99[MAX_REPS][NPLACE][MAX_TP][MAX_SIZES];
static double idle_pct[MAX_TP];
static struct outcome idle_o[MAX_TP];
static double memcpy_gbs[MAX_SIZES];

static const char *place_name[NPLACE] = {"cross-core", "same-core"};
static const char *place_long[NPLACE] = {
	"cross-core (A on cpu0, B on cpu1)", "same core (A and B on cpu0)"};

static int size_index(const size_t *list, int n, size_t size)
{
	for (int si = 0; si < n; si++)
		if (list[si] == size)
			return si;
	return -1;
}

static double one_way_ns(uint32_t ticks)
{
	double t = (double)ticks - (double)cfg.tick_over;
	return t > 0 ? t * cfg.tick_ns / 2 : 0;
}

static void lat_add(struct lat *l, const struct outcome *o)
{
	uint32_t *v;
	if (o->state) {
		if (l->o.state == 0)
			l->o = *o;
		return;
	}
	v = realloc(l->v, (l->n + ctl->n) * sizeof(*v));
	if (!v) {
		fprintf(stderr, "bench_ipc: out of memory\n");
		exit(1);
	}
	memcpy(v + l->n, ctl->samples, ctl->n * sizeof(*v));
	l->v = v;
	l->n += ctl->n;
}

/* Sort n samples in place; one-way p50, p99, p99.9 in ns (p999 may be NULL). */
static void percentiles(uint32_t *v, size_t n, double *p50, double *p99,
			double *p999)
{
	qsort(v, n, sizeof(*v), bench_cmp_u32);
	*p50 = one_way_ns(v[bench_rank(n, 50)]);
	*p99 = one_way_ns(v[bench_rank(n, 99)]);
	if (p999)
		*p999 = one_way_ns(v[bench_rank(n, 99.9)]);
}

/* The end of one repetition: its own p50 and p99 (or -1), from a copy. */
static void lat_rep_end(struct lat *l, double *p50, double *p99)
{
	size_t n = l->n - l->n0;
	uint32_t *v;

	*p50 = *p99 = -1;
	if (!l->o.state && n && (v = malloc(n * sizeof(*v)))) {
		memcpy(v, l->v + l->n0, n * sizeof(*v));
		percentiles(v, n, p50, p99, NULL);
		free(v);
	}
	l->n0 = l->n;
}

static void lat_finish(struct lat *l)
{
	if (!l->o.state && l->n)
		percentiles(l->v, l->n, &l->p50, &l->p99, &l->p999);
	free(l->v);
	l->v = NULL;
}

static int find_flag(unsigned flag)
{
	for (int i = 0; i < ntp; i++)
		if (tps[i]->flags & flag)
			return i;
	return -1;
}

static void print_lat_table(int p, int si)
{
	int fl = find_flag(TP_F_FLOOR), fx = find_flag(TP_F_FUTEX);
	char s[32], a[32], b[32], d[32];

	for (int i = 0; i < ntp; i++) {
		struct lat *l = &lat[p][i][si];
		if (!wants(tps[i]))
			continue;
		printf("  %-20s %7s ", tps[i]->name,
		       bench_fmt_size(s, sizeof(s), lat_sizes[si]));
		if (l->o.state) {
			printf("  %s: %s\n", l->o.state == 1 ? "skipped" : "FAILED",
			       l->o.note);
			continue;
		}
		printf("%10s %10s %10s", bench_fmt_ns(a, sizeof(a), l->p50),
		       bench_fmt_ns(b, sizeof(b), l->p99),
		       bench_fmt_ns(d, sizeof(d), l->p999));
		if (fl >= 0 && !lat[p][fl][si].o.state && lat[p][fl][si].p50 > 0)
			printf(" %8.2fx", l->p50 / lat[p][fl][si].p50);
		else
			printf(" %9s", "-");
		if (fx >= 0 && !lat[p][fx][si].o.state && lat[p][fx][si].p50 > 0)
			printf(" %8.2fx", l->p50 / lat[p][fx][si].p50);
		else
			printf(" %9s", "-");
		printf(" %9zu\n", l->n);
		if (cfg.tsv)
			fprintf(cfg.tsv, "lat\t%s\t%s\t%zu\t%.1f\t%.1f\t%.1f\t%zu\n",
				place_name[p], tps[i]->name, lat_sizes[si], l->p50,
				l->p99, l->p999, l->n);
	}
}

static void print_thr_table(int p, int si)
{
	char s[32], a[32];

	for (int i = 0; i < ntp; i++) {
		struct thr *t = &thr[p][i][si];
		if (!wants(tps[i]) || (tps[i]->flags & TP_F_NOSTREAM))
			continue;
		printf("  %-20s %7s ", tps[i]->name,
		       bench_fmt_size(s, sizeof(s), thr_sizes[si]));
		if (t->o.state) {
			printf("  %s: %s\n", t->o.state == 1 ? "skipped" : "FAILED",
			       t->o.note);
			continue;
		}
		printf("%12s %9.2f %9.2f", bench_fmt_rate(a, sizeof(a), t->rate),
		       t->gbs, memcpy_gbs[si] > 0 ? t->gbs / memcpy_gbs[si] : 0);
		if (tps[i]->flags & TP_F_LOSSY)
			printf("   reader lost %.1f%%",
			       t->recvd + t->lost
				       ? 100.0 * (double)t->lost /
						 (double)(t->recvd + t->lost)
				       : 0.0);
		printf("\n");
		if (cfg.tsv)
			fprintf(cfg.tsv, "thr\t%s\t%s\t%zu\t%.0f\t%.3f\n",
				place_name[p], tps[i]->name, thr_sizes[si], t->rate,
				t->gbs);
	}
}

static void measure_memcpy(void)
{
	for (int si = 0; si < nthr; si++) {
		size_t n = thr_sizes[si];
		char *src = aligned_alloc(64, line_round(n));
		char *dst = aligned_alloc(64, line_round(n));
		uint64_t t0, t1, reps = 0;
		if (!src || !dst)
			exit(1);
		memset(src, 1, n);
		memset(dst, 2, n);
		t0 = bench_now_ns();
		do {
			for (int k = 0; k < 64; k++, reps++) {
				memcpy(dst, src, n);
				/* the copy must happen: dst is "read" here */
				__asm__ __volatile__("" : : "r"(dst) : "memory");
			}
			t1 = bench_now_ns();
		} while (t1 - t0 < cfg.thr_ns);
		memcpy_gbs[si] = (double)reps * (double)n / (double)(t1 - t0);
		free(src);
		free(dst);
	}
}

/* How many times lower each transport's 64 B p50 is than each peer's. */
static void print_peer_ratios(int nplace)
{
	int s64 = size_index(lat_sizes, nlat, 64), npeer = 0;

	for (int i = 0; i < ntp; i++)
		npeer += (tps[i]->flags & TP_F_PEER) && wants(tps[i]);
	if (s64 < 0 || !npeer)
		return;
	printf("\n== peer p50 / transport p50 at 64 B (above 1: faster than "
	       "the peer) ==\n");
	for (int p = 0; p < nplace; p++) {
		printf("  %-20s", place_name[p]);
		for (int j = 0; j < ntp; j++)
			if ((tps[j]->flags & TP_F_PEER) && wants(tps[j]))
				printf(" %16s", tps[j]->name);
		printf("\n");
		for (int i = 0; i < ntp; i++) {
			struct lat *l = &lat[p][i][s64];
			if ((tps[i]->flags & TP_F_PEER) || !wants(tps[i]) ||
			    l->o.state || l->p50 <= 0)
				continue;
			printf("  %-20s", tps[i]->name);
			for (int j = 0; j < ntp; j++) {
				struct lat *q = &lat[p][j][s64];
				if (!(tps[j]->flags & TP_F_PEER) || !wants(tps[j]))
					continue;
				if (q->o.state || q->p50 <= 0)
					printf(" %16s", "-");
				else
					printf(" %15.1fx", q->p50 / l->p50);
			}
			printf("\n");
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Targets (only where the transports they name are present)                 */

static int find_tp(const char *name)
{
	for (int i = 0; i < ntp; i++)
		if (!strcmp(tps[i]->name, name) && wants(tps[i]))
			return i;
	return -1;
}

static int targets_met, targets_total;

static void target(const char *what, double v, double bound, bool le,
		   const char *unit)
{
	bool ok = le ? v <= bound : v >= bound;
	targets_total++;
	targets_met += ok;
	printf("  %-58s %9.2f%s %s %.2f%s  %s\n", what, v, unit, le ? "<=" : ">=",
	       bound, unit, ok ? "ok" : "MISS");
	if (cfg.tsv)
		fprintf(cfg.tsv, "target\t%s\t%.3f\t%s\t%.3f\t%s\n", what, v,
			le ? "<=" : ">=", bound, ok ? "ok" : "MISS");
}

static double p50_of(int p, int i, int si)
{
	if (i < 0 || si < 0 || lat[p][i][si].o.state || lat[p][i][si].p50 <= 0)
		return -1;
	return lat[p][i][si].p50;
}

/* A stream cell's rate, or 0 when it did not run. */
static double rate_of(int p, int i, int si)
{
	if (i < 0 || si < 0 || thr[p][i][si].o.state)
		return 0;
	return thr[p][i][si].rate;
}

static void check_targets(void)
{
	static const char *const peers[] = {"boost-mq", "iceoryx-poll",
					    "iceoryx-waitset"};
	int fl = find_flag(TP_F_FLOOR), fx = find_flag(TP_F_FUTEX);
	int spsc = find_tp("chan-spsc-spin"), ad = find_tp("chan-spsc-adaptive");
	int bl = find_tp("chan-spsc-blocking");
	int s64 = size_index(lat_sizes, nlat, 64);
	int t64 = size_index(thr_sizes, nthr, 64);
	int t1m = size_index(thr_sizes, nthr, 1048576);
	bool idle = cfg.phases & PH_IDLE;
	char what[96];
	double f, v;

	if (!(cfg.phases & PH_LAT))
		s64 = -1;
	if (!(cfg.phases & PH_THR))
		t64 = t1m = -1;
	printf("\n== targets (cross-core p50 unless said; ratios from this run) "
	       "==\n");
	if (spsc < 0 && ad < 0 && bl < 0) {
		printf("  no shmkit SPSC channel in this run: not checked\n");
		return;
	}
	if ((f = p50_of(0, fl, s64)) > 0) {
		if ((v = p50_of(0, spsc, s64)) > 0)
			target("chan-spsc-spin 64 B p50 / spin floor", v / f, 1.5,
			       true, "x");
		if ((v = p50_of(0, ad, s64)) > 0)
			target("chan-spsc-adaptive 64 B p50 / spin floor", v / f,
			       2.0, true, "x");
	}
	if ((f = p50_of(0, fx, s64)) > 0 && (v = p50_of(0, bl, s64)) > 0)
		target("chan-spsc-blocking 64 B p50 / futex floor", v / f, 1.2,
		       true, "x");
	if (idle && ad >= 0 && !idle_o[ad].state)
		target("chan-spsc-adaptive idle reader CPU", idle_pct[ad], 1.0,
		       true, "%");
	if (idle && bl >= 0 && !idle_o[bl].state)
		target("chan-spsc-blocking idle reader CPU", idle_pct[bl], 1.0,
		       true, "%");
	/* The 5x target is for the modes that keep latency (spin, adaptive);
	 * blocking against the peers is printed for the record. */
	for (size_t k = 0; k < sizeof(peers) / sizeof(peers[0]); k++) {
		int pi = find_tp(peers[k]);
		int mine[3] = {spsc, ad, bl};
		double pv;
		if ((pv = p50_of(0, pi, s64)) <= 0)
			continue;
		for (int m = 0; m < 3; m++) {
			if ((v = p50_of(0, mine[m], s64)) <= 0)
				continue;
			snprintf(what, sizeof(what), "%s p50 / %s p50, 64 B",
				 peers[k], tps[mine[m]]->name);
			if (m < 2)
				target(what, pv / v, 5.0, false, "x");
			else
				printf("  %-58s %9.2fx (for the record)\n", what,
				       pv / v);
		}
	}
	/* Blocking-mode and same-core streams against the futex ring: the
	 * sleeping side is woken once per burst, so a stream into a waiter
	 * is not a system call per message. */
	for (int p = 0; p < cfg.nplace; p++) {
		int mine[2] = {bl, ad};
		double fr = rate_of(p, fx, t64), mr;
		for (int m = 0; m < 2 && fr > 0; m++) {
			if ((p == 0 && m == 1) || (mr = rate_of(p, mine[m], t64)) <= 0)
				continue;
			snprintf(what, sizeof(what),
				 "%s 64 B stream / futex ring, %s",
				 tps[mine[m]]->name, place_name[p]);
			target(what, mr / fr, p == 0 ? 0.8 : 0.5, false, "x");
		}
	}
	if ((v = rate_of(0, spsc, t64)) > 0)
		target("chan-spsc-spin 64 B throughput (M msgs/s)", v / 1e6, 20,
		       false, "");
	if (rate_of(0, spsc, t1m) > 0 && memcpy_gbs[t1m] > 0)
		target("chan-spsc-spin 1 MiB GB/s / memcpy GB/s",
		       thr[0][spsc][t1m].gbs / memcpy_gbs[t1m], 0.5, false, "x");
	printf("  %d of %d targets met\n", targets_met, targets_total);
}

/* ------------------------------------------------------------------------ */
/* Floor ratios over repetitions (-R)                                        */

/*
 * One run's p50 ratio can be faked either way by a neighbour that loads
 * the machine during the floor's cells and not the channel's, or the other
 * way round. So the latency phase is repeated (each repetition runs every
 * transport and size again, interleaved by rounds), every repetition gives
 * its own ratio to the floor measured in it, and what is judged is the
 * median of those ratios, printed with their spread.
 *
 * The targets: the SPSC ring (spin and adaptive) within 1.3x of the floor
 * while a message and its header fit in one line (<= 56 B) and 1.5x at
 * 64 B (a second line); MPMC and broadcast (spin) within 2x at 64 B; and
 * the tail of each of those cells within 3x of the floor's.
 */
static double floor_p50_bound(const char *name, size_t size)
{
	if (!strcmp(name, "chan-spsc-spin") || !strcmp(name, "chan-spsc-adaptive"))
		return size <= 56 ? 1.3 : size == 64 ? 1.5 : 0;
	if (!strcmp(name, "chan-mpmc-spin") || !strcmp(name, "chan-bcast-spin"))
		return size == 64 ? 2.0 : 0;
	return 0;
}
#define FLOOR_P99_BOUND 3.0

struct spread {
	double med, min, max;
	int n;
};

/*
 * Median, min and max over the repetitions of v[i] / v[fl], where both
 * ran; of v[i] itself when fl < 0.
 */
static struct spread rep_ratio(double (*v)[NPLACE][MAX_TP][MAX_SIZES], int p,
			       int i, int fl, int si)
{
	struct spread r = {-1, -1, -1, 0};
	double x[MAX_REPS];

	for (int k = 0; k < cfg.reps; k++)
		if (v[k][p][i][si] > 0 && (fl < 0 || v[k][p][fl][si] > 0))
			x[r.n++] = v[k][p][i][si] /
				   (fl < 0 ? 1.0 : v[k][p][fl][si]);
	if (!r.n)
		return r;
	qsort(x, (size_t)r.n, sizeof(x[0]), bench_cmp_double);
	r.min = x[0];
	r.max = x[r.n - 1];
	r.med = r.n & 1 ? x[r.n / 2] : (x[r.n / 2 - 1] + x[r.n / 2]) / 2;
	return r;
}

static void floor_target(const char *name, size_t size, const char *which,
			 struct spread r, double bound)
{
	char what[96], s[32];

	snprintf(what, sizeof(what), "%s %s %s / floor's (%.2f..%.2f)", name,
		 bench_fmt_size(s, sizeof(s), size), which, r.min, r.max);
	target(what, r.med, bound, true, "x");
}

static void print_floor_ratios(void)
{
	int fl = find_flag(TP_F_FLOOR);
	char s[32], a[32], b[32];

	if (fl < 0 || !wants(tps[fl]))
		return;
	for (int p = 0; p < cfg.nplace; p++) {
		printf("\n== floor ratios, %s: per repetition p50 / floor p50 "
		       "and p99 / floor p99; median (min..max) of %d ==\n",
		       place_long[p], cfg.reps);
		printf("  %-20s %7s %20s %20s\n", "transport", "size", "p50 ratio",
		       "p99 ratio");
		for (int si = 0; si < nlat; si++) {
			/* the floor's own figures, to show how far they moved */
			struct spread f50 = rep_ratio(rep_p50, p, fl, -1, si);
			struct spread f99 = rep_ratio(rep_p99, p, fl, -1, si);
			char a2[32], a3[32], b2[32], b3[32];
			if (!f50.n)
				continue; /* the floor did not run at this size */
			printf("  %-20s %7s p50 %s (%s..%s), p99 %s (%s..%s)\n",
			       tps[fl]->name,
			       bench_fmt_size(s, sizeof(s), lat_sizes[si]),
			       bench_fmt_ns(a, sizeof(a), f50.med),
			       bench_fmt_ns(a2, sizeof(a2), f50.min),
			       bench_fmt_ns(a3, sizeof(a3), f50.max),
			       bench_fmt_ns(b, sizeof(b), f99.med),
			       bench_fmt_ns(b2, sizeof(b2), f99.min),
			       bench_fmt_ns(b3, sizeof(b3), f99.max));
			for (int i = 0; i < ntp; i++) {
				struct spread r50, r99;
				if (i == fl || !wants(tps[i]))
					continue;
				r50 = rep_ratio(rep_p50, p, i, fl, si);
				r99 = rep_ratio(rep_p99, p, i, fl, si);
				printf("  %-20s %7s", tps[i]->name,
				       bench_fmt_size(s, sizeof(s), lat_sizes[si]));
				if (!r50.n) {
					printf("  %s\n", lat[p][i][si].o.state
								 ? lat[p][i][si].o.note
								 : "no samples");
					continue;
				}
				printf("  %5.2fx (%4.2f..%4.2f)  %5.2fx (%4.2f..%4.2f)\n",
				       r50.med, r50.min, r50.max, r99.med, r99.min,
				       r99.max);
				if (cfg.tsv)
					fprintf(cfg.tsv,
						"floor\t%s\t%s\t%zu\t%.3f\t%.3f\t%.3f"
						"\t%.3f\t%.3f\t%.3f\t%d\n",
						place_name[p], tps[i]->name,
						lat_sizes[si], r50.med, r50.min,
						r50.max, r99.med, r99.min, r99.max,
						r50.n);
			}
			printf("\n");
		}
	}
	printf("== floor-ratio targets (cross-core; the median of %d "
	       "repetitions, their min..max in brackets) ==\n",
	       cfg.reps);
	for (int si = 0; si < nlat; si++)
		for (int i = 0; i < ntp; i++) {
			double bound = floor_p50_bound(tps[i]->name, lat_sizes[si]);
			struct spread r50, r99;
			if (!bound || !wants(tps[i]))
				continue;
			r50 = rep_ratio(rep_p50, 0, i, fl, si);
			r99 = rep_ratio(rep_p99, 0, i, fl, si);
			if (!r50.n || !r99.n)
				continue;
			floor_target(tps[i]->name, lat_sizes[si], "p50", r50, bound);
			floor_target(tps[i]->name, lat_sizes[si], "p99", r99,
				     FLOOR_P99_BOUND);
		}
	printf("  %d of %d targets met\n", targets_met, targets_total);
}

/*
 * -F A.tsv,B.tsv,...: the floor-ratio report over the repetitions that
 * separate runs wrote ("rep" rows; each run's repetitions follow the
 * previous run's), so bench/run.sh can spread the repetitions over its
 * whole run: a change of the host's state that lasts minutes (it happens:
 * the ratio of a cell can move by 1.5x between two runs a few minutes
 * apart, the floor staying put) then shows in the spread instead of
 * deciding every repetition alike. Returns how many repetitions it read.
 */
static int load_reps(char *files)
{
	static char only[MAX_TP * 24];
	char *path, *save = NULL, line[512];
	bool seen[MAX_TP] = {false};
	int base = 0, top = 0;

	nlat = 0;
	cfg.nplace = 1;
	for (path = strtok_r(files, ",", &save); path;
	     path = strtok_r(NULL, ",", &save)) {
		FILE *f = fopen(path, "re");
		if (!f) {
			fprintf(stderr, "bench_ipc: %s: %s\n", path, strerror(errno));
			exit(1);
		}
		while (fgets(line, sizeof(line), f)) {
			char place[32], name[64];
			size_t size;
			int k, p, i, si;
			double p50, p99;
			if (sscanf(line, "rep\t%31s\t%63s\t%zu\t%d\t%lf\t%lf", place,
				   name, &size, &k, &p50, &p99) != 6 ||
			    k < 0 || base + k >= MAX_REPS)
				continue;
			p = !strcmp(place, place_name[1]);
			for (i = 0; i < ntp && strcmp(tps[i]->name, name); i++)
				;
			si = size_index(lat_sizes, nlat, size);
			if (si < 0 && nlat < MAX_SIZES)
				lat_sizes[si = nlat++] = size;
			if (i == ntp || si < 0)
				continue;
			rep_p50[base + k][p][i][si] = p50;
			rep_p99[base + k][p][i][si] = p99;
			if (base + k >= top)
				top = base + k + 1;
			if (p + 1 > cfg.nplace)
				cfg.nplace = p + 1;
			seen[i] = true;
		}
		fclose(f);
		base = top;
	}
	/* report on the transports that ran, as -t would name them */
	only[0] = '\0';
	for (int i = 0; i < ntp; i++)
		if (seen[i])
			snprintf(only + strlen(only), sizeof(only) - strlen(only),
				 "%s%s", only[0] ? "," : "", tps[i]->name);
	cfg.only = only;
	return top;
}

/* ------------------------------------------------------------------------ */
/* The phases                                                                */

static void run_latency(int p)
{
	for (int rep = 0; rep < cfg.reps; rep++)
		for (int si = 0; si < nlat; si++) {
			for (int round = 0; round < cfg.rounds; round++)
				for (int k = 0; k < ntp; k++) {
					int i = (k + round) % ntp;
					struct outcome o;
					if (!wants(tps[i]))
						continue;
					run_one(tps[i], M_LAT, p, lat_sizes[si], &o);
					lat_add(&lat[p][i][si], &o);
				}
			for (int i = 0; i < ntp; i++) {
				double *r50 = &rep_p50[rep][p][i][si];
				double *r99 = &rep_p99[rep][p][i][si];
				if (!wants(tps[i]))
					continue;
				lat_rep_end(&lat[p][i][si], r50, r99);
				if (cfg.tsv && *r50 > 0)
					fprintf(cfg.tsv,
						"rep\t%s\t%s\t%zu\t%d\t%.1f\t%.1f\n",
						place_name[p], tps[i]->name,
						lat_sizes[si], rep, *r50, *r99);
			}
		}
	for (int si = 0; si < nlat; si++)
		for (int i = 0; i < ntp; i++)
			lat_finish(&lat[p][i][si]);
	printf("\n== one-way latency (RTT/2), %s%s ==\n", place_long[p],
	       cfg.reps > 1 ? ", all repetitions" : "");
	printf("  %-20s %7s %10s %10s %10s %9s %9s %9s\n", "transport", "size",
	       "p50", "p99", "p99.9", "x floor", "x futex", "samples");
	for (int si = 0; si < nlat; si++) {
		print_lat_table(p, si);
		if (si + 1 < nlat)
			printf("\n");
	}
	fflush(stdout);
}

static void run_stream(int p)
{
	for (int si = 0; si < nthr; si++)
		for (int round = 0; round < cfg.rounds; round++)
			for (int k = 0; k < ntp; k++) {
				int i = (k + round) % ntp;
				struct thr *t = &thr[p][i][si];
				struct outcome o;
				if (!wants(tps[i]) || (tps[i]->flags & TP_F_NOSTREAM))
					continue;
				run_one(tps[i], M_THR, p, thr_sizes[si], &o);
				if (o.state) {
					if (!t->o.state)
						t->o = o;
					continue;
				}
				/* a lossy reader's rate is what it got */
				t->msgs += (tps[i]->flags & TP_F_LOSSY)
						   ? ctl->msgs - ctl->lost
						   : ctl->msgs;
				t->lost += ctl->lost;
				t->recvd += ctl->recvd;
				t->ns += (double)ctl->ticks * cfg.tick_ns;
				t->rate = (double)t->msgs / t->ns * 1e9;
				t->gbs = (double)t->msgs * (double)thr_sizes[si] /
					 t->ns;
			}
	printf("\n== stream throughput (A sends, B receives and checks), %s ==\n",
	       place_long[p]);
	printf("  %-20s %7s %12s %9s %9s\n", "transport", "size", "msgs/s",
	       "GB/s", "x memcpy");
	for (int si = 0; si < nthr; si++) {
		char s[32];
		printf("  %-20s %7s %12s %9.2f %9s\n", "(memcpy, 1 proc)",
		       bench_fmt_size(s, sizeof(s), thr_sizes[si]), "-",
		       memcpy_gbs[si], "1.00");
		if (cfg.tsv)
			fprintf(cfg.tsv, "thr\t%s\tmemcpy\t%zu\t-\t%.3f\n",
				place_name[p], thr_sizes[si], memcpy_gbs[si]);
		print_thr_table(p, si);
		if (si + 1 < nthr)
			printf("\n");
	}
	fflush(stdout);
}

/* idle reader: B waits for a message that comes after idle_ms */
static void run_idle(void)
{
	int si = size_index(lat_sizes, nlat, 64);
	size_t size = si >= 0 ? 64 : lat_sizes[0];

	printf("\n== idle reader: CPU burnt while waiting %u ms for one "
	       "message (cross-core) ==\n",
	       cfg.idle_ms);
	for (int i = 0; i < ntp; i++) {
		if (!wants(tps[i]))
			continue;
		run_one(tps[i], M_IDLE, cfg.ncpu > 1 ? 0 : 1, size, &idle_o[i]);
		if (!idle_o[i].state && ctl->idle_wall_ns)
			idle_pct[i] = 100.0 * (double)ctl->idle_cpu_ns /
				      (double)ctl->idle_wall_ns;
		if (idle_o[i].state)
			printf("  %-20s %s: %s\n", tps[i]->name,
			       idle_o[i].state == 1 ? "skipped" : "FAILED",
			       idle_o[i].note);
		else
			printf("  %-20s %6.1f%% of a CPU\n", tps[i]->name,
			       idle_pct[i]);
		if (cfg.tsv && !idle_o[i].state)
			fprintf(cfg.tsv, "idle\t%s\t%.2f\n", tps[i]->name,
				idle_pct[i]);
		fflush(stdout);
	}
}

/* ------------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_ipc [-q] [-l] [-L] [-C] [-m lat,thr,idle] [-R N] "
		"[-F TSV,...] [-t NAME,...]\n"
		"                 [-s SIZE,...] [-S SIZE,...] [-o TSV] "
		"[-p PLOT_PREFIX]\n");
	exit(2);
}

/* "8,64,4K" into list (at most MAX_SIZES, each 8 B .. 64 MiB). */
static int parse_sizes(char *arg, size_t *list)
{
	char *tok, *save = NULL;
	int n = 0;

	for (tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t v = bench_parse_size(tok);
		if (v < 8 || v > (64u << 20) || n == MAX_SIZES)
			usage();
		list[n++] = v;
	}
	if (!n)
		usage();
	return n;
}

static unsigned parse_phases(const char *arg)
{
	static const char *const names[] = {"lat", "thr", "idle"};
	unsigned m = 0;

	while (*arg) {
		size_t len = strcspn(arg, ",");
		unsigned bit = 0;
		for (unsigned k = 0; k < 3; k++)
			if (strlen(names[k]) == len && !strncmp(arg, names[k], len))
				bit = 1u << k;
		if (!bit)
			usage();
		m |= bit;
		arg += len + (arg[len] == ',');
	}
	return m ? m : PH_LAT | PH_THR | PH_IDLE;
}

/*
 * gnuplot data: PREFIX-cross.dat and PREFIX-same.dat, one block per
 * transport headed "# name", so plot.gp can pick transports by name.
 */
static void write_plot_data(const char *prefix)
{
	for (int p = 0; p < cfg.nplace; p++) {
		char path[4096];
		FILE *f;
		snprintf(path, sizeof(path), "%s-%s.dat", prefix,
			 p ? "same" : "cross");
		f = fopen(path, "we");
		if (!f) {
			fprintf(stderr, "bench_ipc: %s: %s\n", path,
				strerror(errno));
			continue;
		}
		fprintf(f, "# bench_ipc one-way latency, %s: size p50_ns p99_ns\n",
			place_long[p]);
		for (int i = 0; i < ntp; i++) {
			int any = 0;
			if (!wants(tps[i]))
				continue;
			for (int si = 0; si < nlat; si++) {
				struct lat *l = &lat[p][i][si];
				if (l->o.state || l->p50 <= 0)
					continue;
				if (!any++) /* gnuplot: index "name" */
					fprintf(f, "# %s\n", tps[i]->name);
				fprintf(f, "%zu %.1f %.1f\n", lat_sizes[si], l->p50,
					l->p99);
			}
			if (any)
				fprintf(f, "\n\n");
		}
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t set;
	int opt;
	bool list = false, cross_only = false, thr_given = false;
	char *reps_from = NULL;

	register_all();
	cfg.quick = bench_env_long("BENCH_QUICK", 0) != 0;
	cfg.rounds = (int)bench_env_long("BENCH_ROUNDS", cfg.quick ? 1 : 5);
	cfg.lat_ns = (uint64_t)bench_env_long("BENCH_LAT_MS", cfg.quick ? 30 : 60) *
		     1000000u;
	cfg.thr_ns = (uint64_t)bench_env_long("BENCH_THR_MS", cfg.quick ? 30 : 60) *
		     1000000u;
	cfg.idle_ms = (unsigned)bench_env_long("BENCH_IDLE_MS",
					       cfg.quick ? 200 : 1000);
	cfg.reps = 1;
	cfg.phases = PH_LAT | PH_THR | PH_IDLE;
	while ((opt = getopt(argc, argv, "qlLCm:R:F:t:s:S:o:p:")) != -1) {
		switch (opt) {
		case 'q':
			cfg.quick = true;
			cfg.rounds = 1;
			cfg.lat_ns = cfg.thr_ns = 30000000u;
			cfg.idle_ms = 200;
			break;
		case 'l':
			list = true;
			break;
		case 'L':
			cfg.phases = PH_LAT;
			break;
		case 'C':
			cross_only = true;
			break;
		case 'm':
			cfg.phases = parse_phases(optarg);
			break;
		case 'R':
			cfg.reps = atoi(optarg);
			if (cfg.reps < 1 || cfg.reps > MAX_REPS)
				usage();
			break;
		case 'F':
			reps_from = optarg;
			break;
		case 't':
			cfg.only = optarg;
			break;
		case 's':
			nlat = parse_sizes(optarg, lat_sizes);
			if (!thr_given) {
				memcpy(thr_sizes, lat_sizes, sizeof(thr_sizes));
				nthr = nlat;
			}
			break;
		case 'S':
			nthr = parse_sizes(optarg, thr_sizes);
			thr_given = true;
			break;
		case 'o':
			cfg.tsv = fopen(optarg, "we");
			if (!cfg.tsv)
				usage();
			break;
		case 'p':
			cfg.dat = optarg;
			break;
		default:
			usage();
		}
	}
	if (list) {
		for (int i = 0; i < ntp; i++)
			printf("%-20s %s\n", tps[i]->name, tps[i]->about);
		return 0;
	}
	if (cfg.rounds < 1)
		cfg.rounds = 1;
	if (reps_from) { /* measures nothing: reports on other runs */
		cfg.reps = load_reps(reps_from);
		if (cfg.reps < 1) {
			fprintf(stderr, "bench_ipc: no repetitions in %s\n",
				reps_from);
			return 1;
		}
		print_floor_ratios();
		if (cfg.tsv)
			fclose(cfg.tsv);
		return 0;
	}

	cfg.ncpu = bench_ncpus();
	cfg.nplace = cfg.ncpu >= 2 && !cross_only ? 2 : 1;
	ctl_len = sizeof(struct ctl) + MAX_SAMPLES * sizeof(uint32_t);
	ctl = map_shared(ctl_len);
	if (!ctl) {
		fprintf(stderr, "bench_ipc: cannot map %zu bytes\n", ctl_len);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	{ /* calibrate on one CPU: the TSC is per core */
		cpu_set_t saved;
		bool have = sched_getaffinity(0, sizeof(saved), &saved) == 0;
		(void)bench_pin(0);
		cfg.tick_ns = bench_tick_ns();
		cfg.tick_over = bench_tick_overhead();
		if (have)
			(void)sched_setaffinity(0, sizeof(saved), &saved);
	}

	printf("bench_ipc: %d transports, %d round%s per cell of", ntp,
	       cfg.rounds, cfg.rounds > 1 ? "s" : "");
	if (cfg.phases & PH_LAT)
		printf(" %llu ms (latency, %d sizes)",
		       (unsigned long long)(cfg.lat_ns / 1000000u), nlat);
	if (cfg.phases & PH_THR)
		printf(" %llu ms (stream, %d sizes)",
		       (unsigned long long)(cfg.thr_ns / 1000000u), nthr);
	if (cfg.phases & PH_IDLE)
		printf(" and the idle reader");
	printf("%s\n%s", cfg.quick ? " (quick)" : "",
	       cfg.nplace > 1 ? "cross-core and same-core" : "cross-core only");
	if (cfg.reps > 1)
		printf("; the latency phase repeated %d times", cfg.reps);
	printf("\nclock: TSC at %.4f ns/tick; one read costs %.1f ns, subtracted "
	       "from every round trip\n",
	       cfg.tick_ns, (double)cfg.tick_over * cfg.tick_ns);
	if (cfg.ncpu < 2)
		printf("only one CPU available: same-core placement only\n");
	printf("\ntransports:\n");
	for (int i = 0; i < ntp; i++)
		if (wants(tps[i]))
			printf("  %-20s %s\n", tps[i]->name, tps[i]->about);
	fflush(stdout);

	if (cfg.phases & PH_THR)
		measure_memcpy();
	for (int p = 0; p < cfg.nplace; p++) {
		if (cfg.phases & PH_LAT)
			run_latency(p);
		if (cfg.phases & PH_THR)
			run_stream(p);
	}
	if (cfg.phases & PH_IDLE)
		run_idle();

	if (cfg.phases & PH_LAT)
		print_peer_ratios(cfg.nplace);
	if (cfg.reps > 1)
		print_floor_ratios(); /* judged on medians, not pooled samples */
	else
		check_targets();
	if (cfg.dat && (cfg.phases & PH_LAT))
		write_plot_data(cfg.dat);
	if (cfg.tsv)
		fclose(cfg.tsv);
	return 0;
}
