/*
 * peer_iceoryx.c: iceoryx (v2.0, the C++ "classic" iceoryx packaged in
 * Debian) through its C binding, as two bench_ipc transports (built with
 * -DSHMKIT_BENCH_PEERS=ON when the iceoryx_binding_c CMake package is found).
 *
 * Each child registers its own runtime with the RouDi daemon (bench/run.sh
 * starts iox-roudi before the run and stops it after), then makes one
 * publisher for its outgoing direction and one subscriber for the other,
 * on a service named after the driver's pid and the measurement, so no two
 * measurements ever see each other's samples. Messages go the zero-copy
 * way iceoryx users send them: loan a chunk, write the payload into it,
 * publish; take, read it out, release. Lossless: the publisher waits for a
 * slow subscriber (WAIT_FOR_CONSUMER / BLOCK_PRODUCER) instead of dropping.
 *
 * Two ways to wait, as iceoryx applications do: iceoryx-poll spins on
 * take (yielding when both sides share a core), iceoryx-waitset sleeps in a
 * WaitSet attached to the subscriber's HAS_DATA state.
 *
 * The runtime is never initialised in the driver: it starts threads and
 * talks to RouDi, neither of which survives the fork of the next
 * measurement.
 */
#include "bench_util.h"
#include "ipc_tp.h"

#include <iceoryx_binding_c/api.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define IOX_SERVICE "shmkit-bench"
#define ROUDI_SOCKET "/tmp/roudi"
#define CONNECT_TIMEOUT_MS 20000

struct iox_state {
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_ws_storage_t ws_storage;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws; /* NULL for polling */
};

/* Is a RouDi listening? Its socket file outlives a killed daemon. */
static int roudi_alive(void)
{
	struct sockaddr_un sa;
	int fd, ok;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ROUDI_SOCKET);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int iox_setup(struct tp_ctx *c)
{
	if (!roudi_alive()) {
		snprintf(c->note, sizeof(c->note),
			 "no iox-roudi listening on " ROUDI_SOCKET
			 " (bench/run.sh starts one)");
		return TP_SKIP;
	}
	return 0;
}

static int iox_attach(struct tp_ctx *c, int waitset)
{
	struct iox_state *s = calloc(1, sizeof(*s));
	char rt[100], inst[64];
	iox_pub_options_t po;
	iox_sub_options_t so;
	int a = c->side == TP_SIDE_A;
	struct timespec ms = {0, 1000000};

	if (!s)
		return -ENOMEM;
	c->priv = s; /* this child's copy of the context only */
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	snprintf(rt, sizeof(rt), "shmkit-bench-%d-%u-%c", c->driver_pid,
		 c->cell, a ? 'a' : 'b');
	iox_runtime_init(rt);
	snprintf(inst, sizeof(inst), "%d-%u", c->driver_pid, c->cell);

	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	po.offerOnCreate = true;
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	iox_sub_options_init(&so);
	/* RouDi's default pools hold only 10 chunks of 4 MiB: keep the
	 * queue shallow for big messages so loans never run dry. */
	so.queueCapacity = c->size >= 512 * 1024 ? 2 : c->slots < 256 ? c->slots : 256;
	so.historyRequest = 0;
	so.subscribeOnCreate = true;
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;

	s->pub = iox_pub_init(&s->pub_storage, IOX_SERVICE, inst, a ? "ab" : "ba",
			      &po);
	s->sub = iox_sub_init(&s->sub_storage, IOX_SERVICE, inst, a ? "ba" : "ab",
			      &so);
	if (waitset) {
		s->ws = iox_ws_init(&s->ws_storage);
		if (iox_ws_attach_subscriber_state(s->ws, s->sub,
						   SubscriberState_HAS_DATA, 0,
						   NULL) != WaitSetResult_SUCCESS)
			return -EIO;
	}
	/* RouDi's discovery loop connects the two sides: wait for it. */
	for (int i = 0; i < CONNECT_TIMEOUT_MS; i++) {
		if (iox_sub_get_subscription_state(s->sub) ==
			    SubscribeState_SUBSCRIBED &&
		    iox_pub_has_subscribers(s->pub))
			return 0;
		nanosleep(&ms, NULL);
	}
	return -ETIMEDOUT;
}

static int iox_attach_poll(struct tp_ctx *c)
{
	return iox_attach(c, 0);
}

static int iox_attach_ws(struct tp_ctx *c)
{
	return iox_attach(c, 1);
}

static int iox_send(struct tp_ctx *c, int dir, const void *buf)
{
	struct iox_state *s = c->priv;
	void *p = NULL;
	enum iox_AllocationResult r;

	(void)dir; /* each side publishes one direction only */
	while ((r = iox_pub_loan_chunk(s->pub, &p, (uint32_t)c->size)) !=
	       AllocationResult_SUCCESS) {
		if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS)
			return -ENOMEM;
		sched_yield(); /* the subscriber still holds them */
	}
	memcpy(p, buf, c->size);
	iox_pub_publish_chunk(s->pub, p);
	return 0;
}

static int iox_recv(struct tp_ctx *c, int dir, void *buf)
{
	struct iox_state *s = c->priv;
	const void *p = NULL;
	enum iox_ChunkReceiveResult r;
	iox_notification_info_t info[2];
	uint64_t missed;

	(void)dir;
	while ((r = iox_sub_take_chunk(s->sub, &p)) != ChunkReceiveResult_SUCCESS) {
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE)
			return -EIO;
		if (s->ws)
			(void)iox_ws_wait(s->ws, info, 2, &missed);
		else if (c->same_core)
			sched_yield();
		else
			bench_relax();
	}
	memcpy(buf, p, c->size);
	iox_sub_release_chunk(s->sub, p);
	return 0;
}

static void iox_detach(struct tp_ctx *c)
{
	struct iox_state *s = c->priv;
	if (!s)
		return;
	if (s->ws)
		iox_ws_deinit(s->ws);
	iox_sub_deinit(s->sub);
	iox_pub_deinit(s->pub);
	free(s);
	c->priv = NULL;
}

static void iox_teardown(struct tp_ctx *c)
{
	(void)c; /* the driver holds nothing */
}

const struct tp tp_iox_poll = {
	.name = "iceoryx-poll",
	.flags = TP_F_PEER,
	.about = "peer: iceoryx 2.0 C binding, loaned chunks, subscriber "
		 "polled in a loop",
	.setup = iox_setup,
	.attach = iox_attach_poll,
	.send = iox_send,
	.recv = iox_recv,
	.detach = iox_detach,
	.teardown = iox_teardown,
};

const struct tp tp_iox_ws = {
	.name = "iceoryx-waitset",
	.flags = TP_F_PEER,
	.about = "peer: iceoryx 2.0 C binding, loaned chunks, subscriber "
		 "waits in a WaitSet",
	.setup = iox_setup,
	.attach = iox_attach_ws,
	.send = iox_send,
	.recv = iox_recv,
	.detach = iox_detach,
	.teardown = iox_teardown,
};
