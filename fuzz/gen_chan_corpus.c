/*
 * gen_chan_corpus.c: writes the seed corpus for fuzz_chan: one freshly
 * created channel of each kind (small, so the fuzzer mutates headers, not
 * megabytes of ring), plus one with a few messages in it.
 *
 *   gen_chan_corpus DIR
 */
#include <shmkit.h>

#include <stdio.h>
#include <string.h>

static int dump(const char *dir, const char *name, shmkit_seg *seg, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(shmkit_addr(seg), 1, n, f) != n) {
		perror(path);
		return 1;
	}
	return fclose(f) != 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		shmkit_chan_kind kind;
		uint64_t cap;
		int fill;
	} seeds[] = {
		{"spsc", SHMKIT_CHAN_SPSC, 256, 0},
		{"spsc-msgs", SHMKIT_CHAN_SPSC, 256, 3},
		{"mpmc", SHMKIT_CHAN_MPMC, 2, 0},
		{"mpmc-msgs", SHMKIT_CHAN_MPMC, 4, 2},
		{"broadcast", SHMKIT_CHAN_BROADCAST, 2, 0},
		{"broadcast-msgs", SHMKIT_CHAN_BROADCAST, 4, 3},
	};
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_chan_corpus DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		shmkit_chan_opts o = {0};
		shmkit_chan *ch;
		shmkit_seg *seg;
		size_t n;

		o.kind = seeds[i].kind;
		o.role = SHMKIT_CHAN_WRITER;
		o.capacity = seeds[i].cap;
		o.max_msg = 32;
		o.max_endpoints = seeds[i].kind == SHMKIT_CHAN_SPSC ? 0 : 4;
		if (shmkit_chan_size(&o, &n) < 0 ||
		    shmkit_create("anon:", n, NULL, &seg) < 0 ||
		    shmkit_chan_create_in(seg, 0, &o, &ch) < 0) {
			fprintf(stderr, "gen_chan_corpus: %s: cannot create\n",
				seeds[i].name);
			return 1;
		}
		for (int m = 0; m < seeds[i].fill; m++)
			shmkit_chan_send(ch, "hello, fuzzer", 13 + (size_t)m,
					 SHMKIT_CHAN_NOWAIT);
		bad |= dump(argv[1], seeds[i].name, seg, n);
		shmkit_chan_close(ch);
		shmkit_destroy(seg);
	}
	return bad;
}
