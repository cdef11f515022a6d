/*
 * ipc_tp.h: the transport interface of bench_ipc. A transport is one way of
 * moving a message between two processes (a spinning cache line, a futex, a
 * pipe, a shmkit channel, a peer library); the driver in bench_ipc.c runs
 * every transport through the same ping-pong, stream and idle measurements,
 * so adding one means filling in this table and listing it there.
 *
 * The driver forks two children, A and B, for every measurement, pinned to
 * the CPUs of the placement. The driver itself never touches a transport
 * beyond setup/unlink/teardown: a library with a per-process runtime
 * (iceoryx) must not be initialised in a process that forks again.
 *
 * Life of one measurement:
 *   driver  setup()                   before fork; shared state goes in
 *                                     MAP_SHARED memory or inherited fds
 *   A, B    attach()                  per-process state, connect
 *   driver  unlink()                  once both attached: drop the names
 *   A, B    ping()/pong(), send()/recv()
 *   A, B    detach()
 *   driver  teardown()                after both children are gone
 *
 * Messages are c->size bytes, 8 and up; the first 8 bytes carry a sequence
 * number the receiving side checks (from 16 bytes up its inverse also sits
 * in the last 8, to catch a torn message), so every byte is really written
 * and read (copied in and out of the transport). A transport must carry
 * every size from 8 bytes; the small ones are where a one-cache-line
 * design shows. Directions: TP_AB carries A's messages to B, TP_BA the
 * replies.
 *
 * Return values are 0 or a negative errno, as in shmkit. setup() may also
 * return TP_SKIP with c->note saying why this size cannot run (the POSIX
 * message queue over msgsize_max, a peer not installed).
 */
#ifndef SHMKIT_BENCH_IPC_TP_H
#define SHMKIT_BENCH_IPC_TP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TP_AB 0
#define TP_BA 1
#define TP_SIDE_A 0
#define TP_SIDE_B 1
#define TP_SKIP 1
#define TP_NAMES 4

/* tp.flags */
#define TP_F_SPIN    0x1u /* waits by spinning: a reference, not a sleeper */
#define TP_F_NOSTREAM 0x2u /* no send/recv: latency only */
#define TP_F_PEER    0x4u /* another project: ratios are reported against it */
#define TP_F_FLOOR   0x8u /* the spin floor every latency is divided by */
#define TP_F_FUTEX   0x10u /* the blocking floor */
#define TP_F_LOSSY   0x20u /* a slow reader loses messages (broadcast) */

struct tp_ctx {
	size_t size;      /* bytes per message, >= 8 */
	unsigned slots;   /* queue depth a transport with a choice should use */
	int same_core;    /* both sides on one CPU: spinning must yield */
	int side;         /* TP_SIDE_A or TP_SIDE_B, in the children */
	int driver_pid;   /* for names: "/shmkit-bench-<driver_pid>-<cell>-..." */
	unsigned cell;    /* unique per measurement in this run */
	/*
	 * Paths (under /dev/shm) and POSIX mq names that exist while the
	 * measurement runs. The driver removes them with async-signal-safe
	 * calls if it is interrupted; unlink() is the normal way out.
	 */
	char shm_paths[TP_NAMES][128];
	char mq_names[TP_NAMES][128];
	char note[160];   /* why setup() skipped */
	void *priv;       /* the transport's own state */
};

struct tp {
	const char *name;
	unsigned flags;
	const char *about; /* one line for the legend */
	int (*setup)(struct tp_ctx *c);
	int (*attach)(struct tp_ctx *c);   /* NULL: nothing per process */
	void (*unlink)(struct tp_ctx *c);  /* NULL: no names */
	/* One round trip from A: send buf, wait for the echo into buf. */
	int (*ping)(struct tp_ctx *c, void *buf);
	/* B's half: receive into buf, echo it back. */
	int (*pong)(struct tp_ctx *c, void *buf);
	/* Streaming; NULL with TP_F_NOSTREAM. ping/pong default to these. */
	int (*send)(struct tp_ctx *c, int dir, const void *buf);
	int (*recv)(struct tp_ctx *c, int dir, void *buf);
	void (*detach)(struct tp_ctx *c);  /* NULL: nothing */
	void (*teardown)(struct tp_ctx *c);
};

/* Transports defined in their own files, compiled in when available. */
extern const struct tp tp_boost_mq;     /* peer_boost.cpp */
extern const struct tp tp_iox_poll;     /* peer_iceoryx.c */
extern const struct tp tp_iox_ws;       /* peer_iceoryx.c */
extern const struct tp *const tp_chan_list[]; /* ipc_chan.c, NULL-ended */

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_BENCH_IPC_TP_H */
