/*
 * ipc_chan.c: shmkit's own channels as bench_ipc transports: SPSC, MPMC and
 * broadcast, each waiting in spin, adaptive and blocking mode.
 *
 * The driver makes one anon: segment holding two channels end to end, one
 * per direction, before it forks; each child opens its endpoints in the
 * inherited segment (shmkit_chan_open_in) and sets its wait mode. Nothing
 * has a name, so nothing can be left behind.
 *
 * Sizes follow the other transports' rings: the SPSC byte ring holds as
 * many messages as spin-ring has slots (rounded up to a power of two), MPMC
 * and broadcast get that many slots. Every size from 8 bytes runs: the
 * channels take any length up to max_msg. Messages are copied in and out with
 * shmkit_chan_send()/shmkit_chan_recv(), as every other transport copies.
 *
 * Broadcast never makes its writer wait: in the stream test a slow reader
 * is lapped and loses messages (TP_F_LOSSY), so its throughput counts what
 * the reader received, and the loss is reported beside it. The lossless
 * variant (SHMKIT_CHAN_WAIT_READERS) makes the writer wait for its reader
 * instead: what it streams is what a broadcast reader keeps up with.
 */
#include "shmkit.h"
#include "ipc_tp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chantp {
	shmkit_seg *seg;     /* anon:, made by the driver, inherited */
	size_t off[2];       /* where each direction's channel starts */
	shmkit_chan *ch[2];  /* this child's endpoints, per direction */
	shmkit_chan_kind kind;
	shmkit_chan_wait mode;
	unsigned flags;
};

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static void chan_opts_for(const struct tp_ctx *c, shmkit_chan_kind kind,
			  unsigned flags, shmkit_chan_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->flags = flags;
	o->role = SHMKIT_CHAN_NONE;
	o->max_msg = (uint32_t)c->size;
	if (kind == SHMKIT_CHAN_SPSC) {
		/*
		 * A record is the message plus an 8-byte header, 8-aligned.
		 * Since layout 3, records of up to 64 B never cross a line and
		 * longer ones start on one, so slots * rec bytes may hold
		 * fewer than slots records; the power of two it is rounded up
		 * to makes up for it at every size from 8 B to 1 MiB (a 64 B
		 * message takes 128 ring bytes: 1024 in 128 KiB, as before).
		 */
		uint64_t rec = (c->size + 8 + 7) & ~(uint64_t)7;
		o->capacity = pow2_at_least((uint64_t)c->slots * rec);
		if (o->capacity < 2 * rec + 16)
			o->capacity = pow2_at_least(2 * rec + 16);
	} else {
		o->capacity = c->slots;
		o->max_endpoints = 4;
	}
}

static void chan_teardown(struct tp_ctx *c)
{
	struct chantp *t = c->priv;
	if (t->seg)
		(void)shmkit_destroy(t->seg);
	free(t);
}

static int chan_setup(struct tp_ctx *c, shmkit_chan_kind kind,
		      shmkit_chan_wait mode, unsigned flags)
{
	struct chantp *t = calloc(1, sizeof(*t));
	shmkit_chan_opts o;
	size_t one;
	int r;

	if (!t)
		return -ENOMEM;
	t->kind = kind;
	t->mode = mode;
	t->flags = flags;
	c->priv = t;
	chan_opts_for(c, kind, flags, &o);
	r = shmkit_chan_size(&o, &one);
	if (r < 0)
		goto fail;
	r = shmkit_create("anon:", 2 * one, NULL, &t->seg);
	if (r < 0)
		goto fail;
	for (int d = 0; d < 2; d++) {
		shmkit_chan *ch;
		t->off[d] = (size_t)d * one;
		r = shmkit_chan_create_in(t->seg, t->off[d], &o, &ch);
		if (r < 0)
			goto fail;
		(void)shmkit_chan_close(ch); /* the driver is no endpoint */
	}
	return 0;
fail:
	snprintf(c->note, sizeof(c->note), "channel setup: %s",
		 shmkit_strerror(r));
	chan_teardown(c);
	c->priv = NULL;
	return r;
}

static int chan_attach(struct tp_ctx *c)
{
	struct chantp *t = c->priv;
	/* A writes TP_AB and reads TP_BA; B the other way round. */
	for (int d = 0; d < 2; d++) {
		bool writes = (d == TP_AB) == (c->side == TP_SIDE_A);
		int r = shmkit_chan_open_in(t->seg, t->off[d],
					    writes ? SHMKIT_CHAN_WRITER
						   : SHMKIT_CHAN_READER,
					    &t->ch[d]);
		if (r == 0)
			r = shmkit_chan_set_wait(t->ch[d], t->mode, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int chan_send(struct tp_ctx *c, int dir, const void *buf)
{
	struct chantp *t = c->priv;
	return shmkit_chan_send(t->ch[dir], buf, c->size, SHMKIT_CHAN_FOREVER);
}

static int chan_recv(struct tp_ctx *c, int dir, void *buf)
{
	struct chantp *t = c->priv;
	ssize_t n = shmkit_chan_recv(t->ch[dir], buf, c->size,
				     SHMKIT_CHAN_FOREVER);
	if (n < 0)
		return (int)n;
	return (size_t)n == c->size ? 0 : -EMSGSIZE;
}

static void chan_detach(struct tp_ctx *c)
{
	struct chantp *t = c->priv;
	for (int d = 0; d < 2; d++) {
		(void)shmkit_chan_close(t->ch[d]);
		t->ch[d] = NULL;
	}
}

#define CHAN_TP_F(K, M, kname, mname, kind, mode, cflags, extra, what)       \
	static int chan_setup_##K##_##M(struct tp_ctx *c)                     \
	{                                                                     \
		return chan_setup(c, kind, mode, cflags);                     \
	}                                                                     \
	static const struct tp tp_chan_##K##_##M = {                          \
		.name = "chan-" kname "-" mname,                              \
		.flags = extra,                                               \
		.about = "shmkit " what,                                      \
		.setup = chan_setup_##K##_##M,                                \
		.attach = chan_attach,                                        \
		.send = chan_send,                                            \
		.recv = chan_recv,                                            \
		.detach = chan_detach,                                        \
		.teardown = chan_teardown,                                    \
	}
#define CHAN_TP(K, M, kname, mname, kind, mode, extra, what)                 \
	CHAN_TP_F(K, M, kname, mname, kind, mode, 0, extra, what)

CHAN_TP(spsc, spin, "spsc", "spin", SHMKIT_CHAN_SPSC, SHMKIT_CHAN_SPIN,
	TP_F_SPIN, "SPSC byte ring, SHMKIT_CHAN_SPIN");
CHAN_TP(spsc, adaptive, "spsc", "adaptive", SHMKIT_CHAN_SPSC,
	SHMKIT_CHAN_ADAPTIVE, 0, "SPSC byte ring, SHMKIT_CHAN_ADAPTIVE (20 us spin)");
CHAN_TP(spsc, block, "spsc", "blocking", SHMKIT_CHAN_SPSC, SHMKIT_CHAN_BLOCK,
	0, "SPSC byte ring, SHMKIT_CHAN_BLOCK");
CHAN_TP(mpmc, spin, "mpmc", "spin", SHMKIT_CHAN_MPMC, SHMKIT_CHAN_SPIN,
	TP_F_SPIN, "MPMC slots (1 writer, 1 reader), SHMKIT_CHAN_SPIN");
CHAN_TP(mpmc, adaptive, "mpmc", "adaptive", SHMKIT_CHAN_MPMC,
	SHMKIT_CHAN_ADAPTIVE, 0, "MPMC slots, SHMKIT_CHAN_ADAPTIVE");
CHAN_TP(mpmc, block, "mpmc", "blocking", SHMKIT_CHAN_MPMC, SHMKIT_CHAN_BLOCK,
	0, "MPMC slots, SHMKIT_CHAN_BLOCK");
CHAN_TP(bcast, spin, "bcast", "spin", SHMKIT_CHAN_BROADCAST, SHMKIT_CHAN_SPIN,
	TP_F_SPIN | TP_F_LOSSY, "broadcast (1 reader), SHMKIT_CHAN_SPIN");
CHAN_TP(bcast, adaptive, "bcast", "adaptive", SHMKIT_CHAN_BROADCAST,
	SHMKIT_CHAN_ADAPTIVE, TP_F_LOSSY, "broadcast, SHMKIT_CHAN_ADAPTIVE");
CHAN_TP(bcast, block, "bcast", "blocking", SHMKIT_CHAN_BROADCAST,
	SHMKIT_CHAN_BLOCK, TP_F_LOSSY, "broadcast, SHMKIT_CHAN_BLOCK");
CHAN_TP_F(bcast, lossless, "bcast", "lossless", SHMKIT_CHAN_BROADCAST,
	  SHMKIT_CHAN_SPIN, SHMKIT_CHAN_WAIT_READERS, TP_F_SPIN,
	  "broadcast, SHMKIT_CHAN_WAIT_READERS (lossless), SHMKIT_CHAN_SPIN");

const struct tp *const tp_chan_list[] = {
	&tp_chan_spsc_spin,  &tp_chan_spsc_adaptive,  &tp_chan_spsc_block,
	&tp_chan_mpmc_spin,  &tp_chan_mpmc_adaptive,  &tp_chan_mpmc_block,
	&tp_chan_bcast_spin, &tp_chan_bcast_adaptive, &tp_chan_bcast_block,
	&tp_chan_bcast_lossless, NULL,
};
