/*
 * fuzz_chan.c: libFuzzer target for opening a channel over arbitrary bytes.
 *
 * Another process can write anything into a channel's segment, so nothing
 * shmkit reads there may steer it outside the mapping. Two checks per input:
 *  - shmkit__chan_validate() on a heap copy of exactly the input's size, so
 *    ASan catches a read one byte past what it was told is mapped;
 *  - the input placed in a real segment and opened as a reader, then
 *    received from, peeked at and described: every path must return an
 *    error or work, never crash or read or write outside the segment.
 * The seeds in fuzz/corpus/chan are channels of each kind as created, made
 * by fuzz/gen_chan_corpus.c.
 */
#include "chan/chan_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	shmkit__chan_layout lay;
	shmkit_chan_info info;
	shmkit_chan_ep_info eps[4];
	shmkit_seg *seg;
	shmkit_chan *ch;
	unsigned char buf[512];
	const void *p;
	size_t len;
	void *copy;
	int i;

	if (size == 0 || size > (1u << 20))
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	(void)shmkit__chan_validate(copy, size, &lay);
	free(copy);

	if (shmkit_create("anon:fuzz", size, NULL, &seg) < 0)
		return 0;
	memcpy(shmkit_addr(seg), data, size);
	if (shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_READER, &ch) == 0) {
		for (i = 0; i < 4; i++)
			if (shmkit_chan_recv(ch, buf, sizeof(buf),
					     SHMKIT_CHAN_NOWAIT) < 0)
				break;
		if (shmkit_chan_peek(ch, &p, &len, SHMKIT_CHAN_NOWAIT) == 0)
			(void)shmkit_chan_release(ch);
		(void)shmkit_chan_stat(ch, &info, eps, 4);
		shmkit_chan_close(ch);
	}
	if (shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_NONE, &ch) == 0) {
		(void)shmkit_chan_stat(ch, &info, eps, 4);
		shmkit_chan_close(ch);
	}
	shmkit_destroy(seg);
	return 0;
}
