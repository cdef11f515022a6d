/*
 * test_chan_corrupt_regress.c: regression tests for corruption found by
 * fuzz/fuzz_chan.c.
 *
 * mpmc_slot_ahead_spins_forever: an MPMC slot whose sequence number is
 * ahead of an unmoved head (reader) or tail (writer) made recv/send re-read
 * the counter and retry forever, so a peer that scribbled on the ring could
 * hang us. It must be -EPROTO at once.
 */
#include "test.h"
#include "chan/chan_int.h"
#include "test_chan_watchdog.h"

static shmkit_chan *mpmc(shmkit_seg **seg, shmkit_chan **wr)
{
	shmkit_chan_opts o = {0};
	shmkit_chan *rd;
	size_t n;

	o.kind = SHMKIT_CHAN_MPMC;
	o.role = SHMKIT_CHAN_WRITER;
	o.capacity = 4;
	o.max_msg = 32;
	ASSERT_OK(shmkit_chan_size(&o, &n));
	ASSERT_OK(shmkit_create("anon:", n, NULL, seg));
	ASSERT_OK(shmkit_chan_create_in(*seg, 0, &o, wr));
	ASSERT_OK(shmkit_chan_open_in(*seg, 0, SHMKIT_CHAN_READER, &rd));
	return rd;
}

static void mpmc_slot_ahead_spins_forever(void)
{
	shmkit_seg *seg;
	shmkit_chan *wr, *rd = mpmc(&seg, &wr);
	char buf[64];

	/* Reader side: the head slot claims to be far in the future. */
	ASSERT_OK(shmkit_chan_send(wr, "x", 1, SHMKIT_CHAN_NOWAIT));
	chan_slot_at(rd, rd->h->head)->seq = rd->h->head + 1000;
	ASSERT_ERR(shmkit_chan_recv(rd, buf, sizeof(buf), SHMKIT_CHAN_NOWAIT),
		   EPROTO);

	/* Writer side: the tail slot likewise. */
	chan_slot_at(wr, wr->h->tail)->seq = wr->h->tail + 1000;
	ASSERT_ERR(shmkit_chan_send(wr, "y", 1, SHMKIT_CHAN_NOWAIT), EPROTO);

	ASSERT_OK(shmkit_chan_close(rd));
	ASSERT_OK(shmkit_chan_close(wr));
	ASSERT_OK(shmkit_destroy(seg));
}

CHAN_TEST_MAIN("chan_corrupt_regress", TEST(mpmc_slot_ahead_spins_forever))
