/*
 * peer_boost.cpp: Boost.Interprocess message_queue as a bench_ipc transport
 * (built with -DSHMKIT_BENCH_PEERS=ON when Boost's headers are found).
 *
 * One queue per direction, as deep as the ring the other transports use (at
 * most 64 messages), each message exactly the benchmark's size. The driver
 * creates both queues, the children open them by name, and the names are
 * removed as soon as both have opened them, so /dev/shm holds nothing once
 * the measurement starts. message_queue is a mutex and two condition
 * variables (process-shared pthread objects on Linux) around a sorted
 * array, copying every message in and out: the classic design shmkit's
 * channels are measured against.
 */
#include "ipc_tp.h"

#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/version.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

namespace bip = boost::interprocess;

namespace {

struct boost_state {
	char name[2][96];
	bip::message_queue *q[2];
};

void set_names(tp_ctx *c, boost_state *s)
{
	for (int d = 0; d < 2; d++) {
		std::snprintf(s->name[d], sizeof(s->name[d]),
			      "shmkit-bench-%d-%u-boost%d", c->driver_pid,
			      c->cell, d);
		/* Boost puts a queue in /dev/shm under its plain name. */
		std::snprintf(c->shm_paths[d], sizeof(c->shm_paths[d]),
			      "/dev/shm/%s", s->name[d]);
	}
}

int boost_setup(tp_ctx *c)
{
	boost_state *s = new (std::nothrow) boost_state();
	unsigned depth = c->slots < 64 ? c->slots : 64;

	if (!s)
		return -ENOMEM;
	set_names(c, s);
	try {
		for (int d = 0; d < 2; d++) {
			bip::message_queue::remove(s->name[d]);
			/* Made here, used by the children; the driver's own
			 * handle is not needed. */
			bip::message_queue q(bip::create_only, s->name[d],
					     depth, c->size);
		}
	} catch (const bip::interprocess_exception &e) {
		for (int d = 0; d < 2; d++) {
			bip::message_queue::remove(s->name[d]);
			c->shm_paths[d][0] = '\0';
		}
		std::snprintf(c->note, sizeof(c->note), "boost: %s", e.what());
		delete s;
		return -EIO;
	}
	c->priv = s;
	return 0;
}

int boost_attach(tp_ctx *c)
{
	boost_state *s = static_cast<boost_state *>(c->priv);
	try {
		for (int d = 0; d < 2; d++)
			s->q[d] = new bip::message_queue(bip::open_only,
							 s->name[d]);
	} catch (const bip::interprocess_exception &) {
		return -ENOENT;
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	}
	return 0;
}

void boost_unlink(tp_ctx *c)
{
	boost_state *s = static_cast<boost_state *>(c->priv);
	for (int d = 0; d < 2; d++) {
		bip::message_queue::remove(s->name[d]);
		c->shm_paths[d][0] = '\0';
	}
}

int boost_send(tp_ctx *c, int dir, const void *buf)
{
	boost_state *s = static_cast<boost_state *>(c->priv);
	try {
		s->q[dir]->send(buf, c->size, 0);
	} catch (const bip::interprocess_exception &) {
		return -EIO;
	}
	return 0;
}

int boost_recv(tp_ctx *c, int dir, void *buf)
{
	boost_state *s = static_cast<boost_state *>(c->priv);
	bip::message_queue::size_type got = 0;
	unsigned prio = 0;
	try {
		s->q[dir]->receive(buf, c->size, got, prio);
	} catch (const bip::interprocess_exception &) {
		return -EIO;
	}
	return got == c->size ? 0 : -EMSGSIZE;
}

void boost_detach(tp_ctx *c)
{
	boost_state *s = static_cast<boost_state *>(c->priv);
	for (int d = 0; d < 2; d++) {
		delete s->q[d];
		s->q[d] = nullptr;
	}
}

void boost_teardown(tp_ctx *c)
{
	boost_state *s = static_cast<boost_state *>(c->priv);
	boost_unlink(c); /* in case a child never got to open them */
	delete s;
}

tp make_boost_tp()
{
	tp t;
	std::memset(&t, 0, sizeof(t));
	t.name = "boost-mq";
	t.flags = TP_F_PEER;
	t.about = "peer: Boost.Interprocess message_queue (" BOOST_LIB_VERSION
		  "), one per direction";
	t.setup = boost_setup;
	t.attach = boost_attach;
	t.unlink = boost_unlink;
	t.send = boost_send;
	t.recv = boost_recv;
	t.detach = boost_detach;
	t.teardown = boost_teardown;
	return t;
}

} // namespace

extern "C" const tp tp_boost_mq = make_boost_tp();
