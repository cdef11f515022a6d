/*
 * shmkit/chan.h: channels, message queues that live inside a shmkit segment.
 * Included by shmkit.h; do not include it on its own.
 *
 * Three kinds, all lock-free, all inside one segment of any backend:
 *  - SPSC: one writer, one reader, variable-length messages in a byte ring.
 *    FIFO; a message is never split.
 *  - MPMC: any number of writers and readers, fixed-size slots (Vyukov's
 *    bounded queue). Each message goes to exactly one reader; FIFO per writer.
 *  - BROADCAST: one writer, any number of readers, each with its own cursor.
 *    The writer never waits; a reader that falls a whole ring behind is told
 *    how many messages it lost and goes on from the oldest one still there.
 *
 * Endpoints. A handle is an endpoint of one role (writer or reader) or of
 * none (SHMKIT_CHAN_NONE: enough to stat or remove a channel). Each endpoint
 * registers itself in the channel's header with its pid and the process
 * start time, so peers can tell whether it is alive even after the pid is
 * reused. Closing deregisters; a crashed process's entries are reclaimed by
 * the next process that opens the channel or waits on it. The pid must mean
 * the same process to every endpoint: all endpoints share one pid namespace
 * (an endpoint seen from another pid namespace is taken as alive).
 *
 * Timeouts are in nanoseconds: SHMKIT_CHAN_NOWAIT (0) never waits and
 * returns -EAGAIN, a negative value (SHMKIT_CHAN_FOREVER) waits forever,
 * anything else waits at most that long and returns -ETIMEDOUT.
 *
 * Waiting. A handle first spins (a bounded time, SHMKIT_CHAN_ADAPTIVE) and
 * then sleeps on a futex in the shared header. A side that publishes makes a
 * system call only when the other side has registered itself as sleeping:
 * while traffic flows nothing enters the kernel. A sleeping call wakes at
 * least every few tens of milliseconds to check that its peers are alive,
 * so a dead peer turns a blocked call into -EPIPE or -ECONNRESET within
 * about 100 ms.
 *
 * End of stream. It is state kept in the channel, not a matter of timing:
 * a reader that finds the channel empty gets
 *   -EPIPE       when the stream has ended cleanly: every writer that was
 *                there has closed (and at least opts.writers of them, when
 *                that is set) and none is open now, or a writer called
 *                shmkit_chan_shutdown();
 *   -ECONNRESET  when it has ended and one of its writers died without
 *                closing (killed, crashed): what it published has all been
 *                delivered, but the stream may be incomplete. The pid is in
 *                shmkit_chan_info.dead_writer.
 * This holds whenever the reader opens: one that opens after its writer has
 * closed drains what is left and then gets -EPIPE. A reader that opens a
 * channel no writer has ever opened waits for its first writer. A writer
 * that opens after the end begins a new stream: readers then wait for its
 * messages again (and one that had not reached the end yet sees the two
 * streams run together). A writer of SPSC or MPMC gets -EPIPE when the
 * channel is full and no reader is alive, once a reader has been there (a
 * writer that starts first waits for its reader); every writer gets -EPIPE
 * once the stream is shut down. A broadcast writer never waits for room.
 *
 * Crash safety. A message is published by one release store after its
 * payload, so a message half-written by a writer that died is never
 * delivered. An MPMC slot claimed by a writer that died before publishing
 * is marked skipped ("poisoned") and readers pass over it; one claimed by a
 * reader that died before releasing it is freed (that message is lost). An
 * SPSC message the reader was looking at when it died is delivered again to
 * the next reader (at-least-once across a reader crash).
 *
 * Handles are not thread-safe (one thread per handle at a time); use one
 * handle per thread. A handle belongs to the process that opened it: after
 * fork the child opens its own endpoint, and closing an inherited handle in
 * the child only frees the child's copy, it never deregisters the parent.
 *
 * Everything returns 0 (or a count) or a negative errno. -EPROTO means the
 * shared memory does not hold a channel this library can use (another
 * version or kind, or a corrupt header) or that a peer corrupted it at run
 * time; no call ever reads or writes outside the mapping because of what is
 * found in shared memory.
 */
#ifndef SHMKIT_CHAN_H
#define SHMKIT_CHAN_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmkit_chan shmkit_chan;

typedef enum shmkit_chan_kind {
	SHMKIT_CHAN_SPSC = 1,
	SHMKIT_CHAN_MPMC = 2,
	SHMKIT_CHAN_BROADCAST = 3
} shmkit_chan_kind;

typedef enum shmkit_chan_role {
	SHMKIT_CHAN_NONE = 0,   /* no endpoint: stat, remove */
	SHMKIT_CHAN_WRITER = 1, /* send, reserve/commit */
	SHMKIT_CHAN_READER = 2  /* recv, peek/release */
} shmkit_chan_role;

/*
 * While spinning, a handle whose peer waits on the same CPU yields the CPU
 * to it instead of pausing (it would otherwise hold the peer off for a
 * scheduler time slice).
 */
typedef enum shmkit_chan_wait {
	SHMKIT_CHAN_ADAPTIVE = 0, /* spin a little, then sleep (the default); a
				     handle woken soon after it fell asleep
				     learns to spin longer (at most 8x) */
	SHMKIT_CHAN_SPIN = 1,     /* never sleep: lowest latency, burns a core */
	SHMKIT_CHAN_BLOCK = 2     /* look for about a microsecond, then sleep:
				     least CPU, a wake-up per wait that is
				     not answered at once */
} shmkit_chan_wait;

#define SHMKIT_CHAN_NOWAIT ((int64_t)0)
#define SHMKIT_CHAN_FOREVER ((int64_t)-1)
#define SHMKIT_CHAN_MS(ms) ((int64_t)(ms) * 1000000)

/* The default spin before sleeping in SHMKIT_CHAN_ADAPTIVE mode. */
#define SHMKIT_CHAN_SPIN_NS_DEFAULT 20000

/*
 * What shmkit_chan_create() makes. Zero fields take the defaults; a NULL
 * pointer to create is -EINVAL (the kind has no default).
 *
 *  capacity:  SPSC: bytes in the ring (default 64 KiB, 256 B .. 4 GiB).
 *             MPMC and BROADCAST: number of slots (default 256, 2 .. 2^24).
 *             Rounded up to a power of two.
 *  max_msg:   the largest message in bytes. SPSC: default capacity/4, at most
 *             capacity/2 - 8. Slots: default 240, at most 64 MiB; each slot
 *             takes max_msg + 8 bytes rounded up to 64 (4 more when
 *             max_msg >= 255), so max_msg 56 makes one-line slots.
 *  max_endpoints: MPMC and BROADCAST: endpoints open at once (default 64,
 *             2 .. 4096; a broadcast channel keeps one for its writer). SPSC
 *             always has 2; 0 or 2 is accepted.
 *  writers:   expected writers: the stream ends only once this many
 *             writers have opened and closed it (0, the default, means any:
 *             it ends when the last open writer closes). For MPMC producers
 *             whose lifetimes need not overlap; it counts writers that come
 *             one after another on SPSC and broadcast too. At most 2^24.
 *  flags:     SHMKIT_CHAN_WAIT_READERS (broadcast); 0 by default.
 *  role:      the role of the handle create returns.
 *  mode, seg_flags: the segment's permissions (0 means 0600) and SHMKIT_F_*
 *             flags (PREFAULT, HUGE, SEAL ...) for shmkit_chan_create();
 *             ignored by shmkit_chan_create_in().
 */
typedef struct shmkit_chan_opts {
	shmkit_chan_kind kind;
	shmkit_chan_role role;
	uint64_t capacity;
	uint32_t max_msg;
	uint32_t max_endpoints;
	uint32_t writers;
	unsigned int flags;
	unsigned int mode;
	unsigned int seg_flags;
} shmkit_chan_opts;

/* shmkit_chan_opts.flags */
/*
 * BROADCAST only: lossless fan-out. The writer does not overwrite a
 * message that a live reader has not read yet: a send waits for the
 * slowest reader as an SPSC send waits for room, up to its timeout
 * (-EAGAIN, -ETIMEDOUT), unless the writer set a lag limit
 * (shmkit_chan_set_lag_limit). A reader that dies or closes stops holding
 * the writer back; readers of such a channel tell the writer when they make
 * room, which costs them a load per message.
 */
#define SHMKIT_CHAN_WAIT_READERS 0x1u

/*
 * The bytes a channel made with opts occupies (a multiple of 128), to size a
 * segment for shmkit_chan_create_in() or to lay channels end to end in one.
 * Returns 0 and *ret_size, or -EINVAL for options out of range.
 */
SHMKIT_EXTERN int shmkit_chan_size(const shmkit_chan_opts *opts,
				   size_t *ret_size);

/*
 * Why shmkit_chan_size() and create would refuse opts with -EINVAL: a
 * static English sentence naming the field and its allowed range, for
 * messages to people; NULL when the options are valid.
 */
SHMKIT_EXTERN const char *shmkit_chan_opts_check(const shmkit_chan_opts *opts);

/*
 * Create a segment exactly the size of the channel (shmkit_create(): so
 * exclusive, -EEXIST if spec is taken, and 0600 unless opts->mode), lay the
 * channel out in it and return a handle of role opts->role. The handle owns
 * the segment: close detaches it, shmkit_chan_destroy() also removes it.
 * For "anon:" and "memfd:" the segment is shared by inheritance: children
 * forked later reach it with shmkit_chan_open_in(shmkit_chan_seg(ch), 0, ...).
 * On failure nothing is left behind.
 */
SHMKIT_EXTERN int shmkit_chan_create(const char *spec,
				     const shmkit_chan_opts *opts,
				     shmkit_chan **ret_ch);

/*
 * Attach the segment spec and open the channel in it as role. -ENOENT if
 * there is no such segment, -EPROTO if it holds no valid channel, -EBUSY if
 * the role is taken by a live endpoint (SPSC writer or reader, broadcast
 * writer), -EUSERS if every endpoint entry is in use by live processes.
 * Entries of dead processes are reclaimed first.
 */
SHMKIT_EXTERN int shmkit_chan_open(const char *spec, shmkit_chan_role role,
				   shmkit_chan **ret_ch);

/*
 * 1 if the segment spec holds a channel at offset 0 that shmkit_chan_open()
 * would accept, 0 if not, or a negative errno from attaching it. It
 * attaches the segment read-only for a moment and reads only the channel's
 * header (through the descriptor where there is one, so a file cut short
 * meanwhile cannot raise SIGBUS), checked as open checks it (magic,
 * version, checksum, a layout that fits the segment), never waiting: a
 * channel still being created reads as 0. Writes nothing and registers no
 * endpoint.
 */
SHMKIT_EXTERN int shmkit_chan_probe(const char *spec);

/*
 * The same inside a segment the caller owns, at offset (a multiple of 128),
 * e.g. an anon: segment shared across fork or a memfd received over a socket.
 * create_in overwrites shmkit_chan_size() bytes at offset (-ENOSPC if the
 * segment is too small). The segment must stay attached until every handle
 * on it is closed; closing a handle never detaches it.
 */
SHMKIT_EXTERN int shmkit_chan_create_in(shmkit_seg *seg, size_t offset,
					const shmkit_chan_opts *opts,
					shmkit_chan **ret_ch);
SHMKIT_EXTERN int shmkit_chan_open_in(shmkit_seg *seg, size_t offset,
				      shmkit_chan_role role,
				      shmkit_chan **ret_ch);

/*
 * Deregister the endpoint, wake its peers (a reader that finds no writer
 * left sees -EPIPE once it has drained the channel), free the handle and,
 * if it owns its segment, detach it. A pending reservation is dropped and a
 * pending peek released. NULL is a no-op. Always frees the handle; returns
 * the first error met on the way.
 */
SHMKIT_EXTERN int shmkit_chan_close(shmkit_chan *ch);

/*
 * A writer ends the stream for every reader, as shutdown(SHUT_WR) does for
 * a socket, without waiting for the other writers to close: readers drain
 * what was sent and then get -EPIPE (or -ECONNRESET if a writer of the
 * stream had died). A send that starts after shutdown returned fails with
 * -EPIPE on every writer handle of this stream (each should close); a
 * writer that opens afterwards begins a new stream. Calling it again is a
 * no-op. Returns 0; -EBADF if the handle is not a writer; -EBUSY with a
 * reservation pending.
 */
SHMKIT_EXTERN int shmkit_chan_shutdown(shmkit_chan *ch);

/*
 * Close, then remove the segment's name (shmkit_destroy()), so no new
 * process can open the channel; handles open elsewhere keep working. For a
 * handle made by the _in functions this is shmkit_chan_close().
 */
SHMKIT_EXTERN int shmkit_chan_destroy(shmkit_chan *ch);

/*
 * How this handle waits: mode, and for ADAPTIVE the spin time in ns before
 * sleeping (<= 0 keeps the default; at most 10 s). -EINVAL for an unknown
 * mode.
 */
SHMKIT_EXTERN int shmkit_chan_set_wait(shmkit_chan *ch, shmkit_chan_wait mode,
				       int64_t spin_ns);

/*
 * Broadcast writer of a SHMKIT_CHAN_WAIT_READERS channel: how long one send
 * may wait for a reader that is a whole ring behind before it overwrites
 * that reader's oldest message anyway (the reader then loses it and is told
 * so, as in a plain broadcast channel). Negative (the default): never; the
 * send's own timeout is then the only bound. 0 overwrites at once (a plain
 * broadcast channel). -ENOTSUP for any other handle.
 */
SHMKIT_EXTERN int shmkit_chan_set_lag_limit(shmkit_chan *ch,
					    int64_t max_wait_ns);

/*
 * Copy len bytes in as one message. 0 on success; -EAGAIN (timeout 0) or
 * -ETIMEDOUT when full; -EMSGSIZE if len > the channel's max_msg; -EPIPE
 * when full with no reader left, or once the stream is shut down; -EBADF if the handle is not a writer; -EBUSY if a reservation
 * is pending.
 */
SHMKIT_EXTERN int shmkit_chan_send(shmkit_chan *ch, const void *buf,
				   size_t len, int64_t timeout_ns);

/*
 * Take the next message into buf. Returns its length; -EAGAIN/-ETIMEDOUT
 * when empty; -EPIPE at the end of the stream, -ECONNRESET at the end of a
 * stream one of whose writers died (see above); -EMSGSIZE if size is
 * smaller than the message (which then stays in the channel: a buffer of
 * shmkit_chan_max_msg() bytes always suffices); -EBADF if not a reader;
 * -EBUSY if a peek is pending. Broadcast readers that were lapped skip what
 * they lost (see shmkit_chan_lost()).
 */
SHMKIT_EXTERN ssize_t shmkit_chan_recv(shmkit_chan *ch, void *buf, size_t size,
				       int64_t timeout_ns);

/*
 * Zero copy, writer side: reserve room for a message of up to len bytes and
 * get a pointer into shared memory (8-byte aligned) to fill; commit(n)
 * publishes the first n <= len bytes as one message; cancel drops it
 * (MPMC: the slot is skipped by readers). Until commit or cancel the
 * handle can do nothing else (-EBUSY). Errors as shmkit_chan_send();
 * commit/cancel without a reservation, or n > len: -EINVAL.
 * A broadcast writer overwrites the oldest slot: readers still on it will
 * see it lost.
 */
SHMKIT_EXTERN int shmkit_chan_reserve(shmkit_chan *ch, size_t len,
				      void **ret_ptr, int64_t timeout_ns);
SHMKIT_EXTERN int shmkit_chan_commit(shmkit_chan *ch, size_t len);
SHMKIT_EXTERN int shmkit_chan_cancel(shmkit_chan *ch);

/*
 * Zero copy, reader side: the next message in place, read-only; release
 * consumes it. The pointer is valid until release. Errors as
 * shmkit_chan_recv(). For BROADCAST the writer may overwrite the slot while
 * it is looked at: release then returns -ESTALE (the message counts as
 * lost) and whatever was read must be discarded; 0 means it was intact.
 * Release without a peek: -EINVAL.
 */
SHMKIT_EXTERN int shmkit_chan_peek(shmkit_chan *ch, const void **ret_ptr,
				   size_t *ret_len, int64_t timeout_ns);
SHMKIT_EXTERN int shmkit_chan_release(shmkit_chan *ch);

/*
 * Event-loop integration: a descriptor (owned by the handle, close-on-exec)
 * that polls readable (POLLIN/EPOLLIN) when the call that last returned
 * -EAGAIN may now succeed (a reader: a message arrived; an SPSC or MPMC
 * writer: room was made) or when a peer died. It works between unrelated
 * processes with no helper thread. Protocol, for each handle:
 *
 *     for (;;) {
 *         while ((n = shmkit_chan_recv(ch, buf, sizeof buf, 0)) >= 0)
 *             handle(buf, n);
 *         if (n != -EAGAIN) break;              (-EPIPE: end of stream)
 *         if (shmkit_chan_arm(ch) == 0)
 *             poll/epoll_wait until the fd is readable;
 *     }
 *
 * shmkit_chan_arm() drains the descriptor, registers the handle as waiting
 * and checks again: it returns 0 when it is safe to wait on the descriptor,
 * 1 when the call would not block now (go round again), or a negative errno.
 * A peer wakes an armed handle at most once per arm. The descriptor may
 * also be readable spuriously. A broadcast writer never waits, unless the
 * channel has SHMKIT_CHAN_WAIT_READERS: -ENOTSUP.
 *
 * How: the descriptor is an epoll instance holding an AF_UNIX datagram
 * socket bound to an abstract address of shmkit's own form (published in
 * the endpoint's entry; a publisher sends only to such an address, for the
 * entry's own pid), pidfds of the peers, and a timer. A handle keeps at most
 * 32 pidfds, for peers of the opposite role; while some live peer has none,
 * arm sets the timer to make the descriptor readable after 100 ms, so the
 * death of any peer is noticed. A peer that publishes and sees the handle
 * armed sends one byte to that address. Abstract addresses belong to a
 * network namespace: endpoints in different network namespaces still
 * exchange messages, but the descriptor is then only woken by peer death;
 * poll with a timeout there.
 */
SHMKIT_EXTERN int shmkit_chan_fd(shmkit_chan *ch);
SHMKIT_EXTERN int shmkit_chan_arm(shmkit_chan *ch);

/*
 * Windows: the same for an event loop built on WaitForMultipleObjects.
 * shmkit_chan_fd() is -ENOTSUP there; this gives, in *ret_handle, a HANDLE
 * (as void *) to a manual-reset event owned by the handle (do not close
 * it), signalled under the same protocol as the descriptor: after
 * shmkit_chan_arm() returned 0, when the call that last returned -EAGAIN
 * may now succeed or when a peer died; shmkit_chan_arm() resets it. Errors
 * as for shmkit_chan_fd() (-EBADF for role NONE, -ENOTSUP for a broadcast
 * writer that never waits). On Linux it is always -ENOTSUP (use
 * shmkit_chan_fd()); it exists there so that portable code compiles.
 */
SHMKIT_EXTERN int shmkit_chan_win_event(shmkit_chan *ch, void **ret_handle);

/*
 * Broadcast reader: a reader starts with the next message sent after it
 * opened; rewind moves it back to the oldest message still in the ring, for
 * a reader that joins late and wants what came just before (at most
 * capacity messages). Returns how many messages are then ahead of it;
 * -ENOTSUP for other kinds and roles, -EBUSY with a peek pending.
 */
SHMKIT_EXTERN int shmkit_chan_rewind(shmkit_chan *ch);

/* Broadcast reader: messages lost to lapping since open. 0 elsewhere. */
SHMKIT_EXTERN uint64_t shmkit_chan_lost(const shmkit_chan *ch);

/* Accessors; they never fail on a valid handle. */
SHMKIT_EXTERN shmkit_chan_kind shmkit_chan_kind_of(const shmkit_chan *ch);
SHMKIT_EXTERN shmkit_chan_role shmkit_chan_role_of(const shmkit_chan *ch);
SHMKIT_EXTERN size_t shmkit_chan_max_msg(const shmkit_chan *ch);
SHMKIT_EXTERN shmkit_seg *shmkit_chan_seg(const shmkit_chan *ch);
/* "spsc", "mpmc", "broadcast", or "?". */
SHMKIT_EXTERN const char *shmkit_chan_kind_name(shmkit_chan_kind kind);

/* One endpoint, as seen by shmkit_chan_stat(). */
typedef struct shmkit_chan_ep_info {
	unsigned int index;     /* entry in the endpoint table */
	shmkit_chan_role role;
	pid_t pid;
	int alive;              /* 1 alive, 0 dead, -1 cannot tell */
	uint64_t msgs;          /* messages sent (writer) or received (reader) */
	uint64_t bytes;
	uint64_t lost;          /* broadcast reader: lost to lapping */
	uint64_t lag;           /* broadcast reader: messages behind the writer */
} shmkit_chan_ep_info;

typedef struct shmkit_chan_info {
	shmkit_chan_kind kind;
	unsigned int version;       /* layout version */
	uint64_t capacity;          /* bytes (SPSC) or slots */
	uint32_t max_msg;
	uint32_t slot_size;         /* bytes per slot; 0 for SPSC */
	uint32_t max_endpoints;
	uint64_t size;              /* bytes the channel occupies */
	uint64_t used;              /* bytes (SPSC) or messages waiting; broadcast:
				       messages retained in the ring */
	uint64_t sent;              /* messages sent, all writers ever */
	uint64_t received;          /* messages received, all readers ever */
	uint64_t poisoned;          /* MPMC slots skipped: writer died */
	uint64_t dropped;           /* MPMC messages lost with a dead reader */
	uint64_t reclaimed;         /* dead endpoints reclaimed */
	unsigned int writers;       /* live writers */
	unsigned int readers;       /* live readers */
	unsigned int nendpoints;    /* entries in use (alive or dead) */
	unsigned int flags;         /* shmkit_chan_opts.flags it was made with */
	unsigned int stream;        /* SHMKIT_CHAN_STREAM_* of the current stream */
	uint32_t writers_expected;  /* opts.writers it was made with */
	uint32_t writers_left;      /* writers that have left the current stream */
	pid_t dead_writer;          /* a writer of it that died unclosed, or 0 */
} shmkit_chan_info;

/* shmkit_chan_info.stream */
#define SHMKIT_CHAN_STREAM_ENDED 0x1u    /* readers get -EPIPE/-ECONNRESET once empty */
#define SHMKIT_CHAN_STREAM_RESET 0x2u    /* a writer died without closing */
#define SHMKIT_CHAN_STREAM_SHUTDOWN 0x4u /* ended by shmkit_chan_shutdown() */

/*
 * Describe the channel: *ret_info, and up to max registered endpoints into
 * eps (which may be NULL when max is 0). Returns the number of registered
 * endpoints (which may exceed max). Counters are read without stopping
 * traffic, so they are a close, not exact, snapshot.
 */
SHMKIT_EXTERN int shmkit_chan_stat(shmkit_chan *ch, shmkit_chan_info *ret_info,
				   shmkit_chan_ep_info *eps, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_CHAN_H */
