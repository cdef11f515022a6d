/*
 * test_chan_hdr.c: a channel header that is wrong in any way is refused
 * (-EPROTO), never trusted: every byte of the description flipped, another
 * version or kind with a valid checksum, sizes that do not add up, a
 * mapping shorter than the channel, random bytes. And at run time, counters
 * and lengths a peer scribbled on give -EPROTO, not a read or write
 * outside the ring. Run under ASan to make "never outside" a checked claim.
 */
#include "test.h"
#include "test_chan_watchdog.h"
#include "chan/chan_int.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>

static uint32_t fnv(const struct chan_meta *m)
{
	const uint8_t *p = (const uint8_t *)m;
	size_t i, cs = offsetof(struct chan_meta, checksum);
	uint32_t h = 2166136261u;

	for (i = 8; i < sizeof(*m); i++) {
		if (i >= cs && i < cs + 4)
			continue;
		h = (h ^ p[i]) * 16777619u;
	}
	return h;
}

static void *make_in_heap(shmkit_chan_kind kind, size_t *ret_len)
{
	shmkit_chan_opts o;
	shmkit_seg *seg;
	shmkit_chan *ch;
	size_t sz;
	void *copy;

	memset(&o, 0, sizeof(o));
	o.kind = kind;
	o.capacity = kind == SHMKIT_CHAN_SPSC ? 1024 : 8;
	ASSERT_OK(shmkit_chan_size(&o, &sz));
	ASSERT_OK(shmkit_create("anon:", sz, NULL, &seg));
	ASSERT_OK(shmkit_chan_create_in(seg, 0, &o, &ch));
	chan_wd_watch(ch);
	ASSERT_OK(shmkit_chan_close(ch));
	/* An exact-size heap copy: ASan catches any read past its end. */
	copy = malloc(sz);
	ASSERT(copy);
	memcpy(copy, shmkit_addr(seg), sz);
	ASSERT_OK(shmkit_destroy(seg));
	*ret_len = sz;
	return copy;
}

static void every_byte_flipped(void)
{
	shmkit_chan_kind kinds[] = {SHMKIT_CHAN_SPSC, SHMKIT_CHAN_MPMC,
				    SHMKIT_CHAN_BROADCAST};
	unsigned k;

	for (k = 0; k < 3; k++) {
		size_t len, i;
		uint8_t *mem = make_in_heap(kinds[k], &len);
		shmkit__chan_layout L;
		static const uint8_t flips[] = {0x01, 0x80, 0xff};

		ASSERT_OK(shmkit__chan_validate(mem, len, &L));
		ASSERT_EQ(L.kind, kinds[k]);
		for (i = 0; i < sizeof(struct chan_meta); i++) {
			unsigned f;
			for (f = 0; f < sizeof(flips); f++) {
				mem[i] ^= flips[f];
				ASSERT_ERR(shmkit__chan_validate(mem, len, &L),
					   EPROTO);
				mem[i] ^= flips[f];
			}
		}
		/* The rest of the header is run-time state, not description. */
		ASSERT_OK(shmkit__chan_validate(mem, len, &L));
		free(mem);
	}
}

/* Well-formed, checksummed, and still wrong. */
static void consistent_lies(void)
{
	size_t len;
	uint8_t *mem = make_in_heap(SHMKIT_CHAN_MPMC, &len);
	struct chan_meta *m = (struct chan_meta *)mem, saved = *m;
	shmkit__chan_layout L;

#define LIE(stmt)                                                             \
	do {                                                                  \
		*m = saved;                                                   \
		stmt;                                                         \
		m->checksum = fnv(m);                                         \
		ASSERT_ERR(shmkit__chan_validate(mem, len, &L), EPROTO);      \
	} while (0)

	LIE(m->version = CHAN_VERSION + 1);
	LIE(m->version = 0);
	LIE(m->kind = 0);
	LIE(m->kind = 4);
	LIE(m->kind = SHMKIT_CHAN_SPSC);
	LIE(m->capacity = 16);                 /* sizes no longer add up */
	LIE(m->capacity = 7);                  /* not a power of two */
	LIE(m->capacity = UINT64_MAX);
	LIE(m->max_msg = 0);
	LIE(m->max_msg = UINT32_MAX);
	LIE(m->slot_size = 64);
	LIE(m->max_endpoints = 1);
	LIE(m->max_endpoints = 5000);
	LIE(m->ep_off = 0);
	LIE(m->ring_off += 128);
	LIE(m->ring_size *= 2);
	LIE(m->total_size = UINT64_MAX);
	LIE(m->hdr_size = 0);
	LIE(m->ep_size = 64);
	LIE(m->flags = 1);
#undef LIE
	*m = saved;
	ASSERT_OK(shmkit__chan_validate(mem, len, &L));
	/* Truncated: every length short of the whole channel. */
	{
		size_t cut;
		for (cut = 0; cut < len; cut += (cut < 1024 ? 1 : 61))
			ASSERT_ERR(shmkit__chan_validate(mem, cut, &L), EPROTO);
	}
	ASSERT_ERR(shmkit__chan_validate(NULL, len, &L), EPROTO);
	free(mem);
}

static void random_bytes(void)
{
	size_t len = 8192, i, it;
	uint8_t *mem = malloc(len);
	shmkit__chan_layout L;

	ASSERT(mem);
	srand(7);
	for (it = 0; it < 2000; it++) {
		for (i = 0; i < len; i++)
			mem[i] = (uint8_t)rand();
		/* Half the time, a right magic so the checks go deeper. */
		if (it % 2)
			memcpy(mem, "SHMKCHAN", 8);
		ASSERT_ERR(shmkit__chan_validate(mem, len, &L), EPROTO);
	}
	free(mem);
}

/* Through the public API, on real segments. */
static void open_refuses(void)
{
	char spec[256], path[300];
	shmkit_chan_opts o;
	shmkit_chan *ch, *x;
	shmkit_seg *seg;
	const char *name = test_name("hdr");
	int fd;

	snprintf(spec, sizeof(spec), "posix:%s", name);
	/* Not a channel: zeros, then garbage. */
	ASSERT_OK(shmkit_create(spec, 65536, NULL, &seg));
	ASSERT_ERR(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &x), EPROTO);
	memset(shmkit_addr(seg), 0x5a, 65536);
	ASSERT_ERR(shmkit_chan_open(spec, SHMKIT_CHAN_NONE, &x), EPROTO);
	ASSERT_ERR(shmkit_chan_open_in(seg, 100, SHMKIT_CHAN_READER, &x),
		   EINVAL);
	ASSERT_ERR(shmkit_chan_open_in(seg, 1 << 20, SHMKIT_CHAN_READER, &x),
		   EINVAL);
	ASSERT_OK(shmkit_destroy(seg));

	/* A channel whose file was cut short under it. */
	memset(&o, 0, sizeof(o));
	o.kind = SHMKIT_CHAN_SPSC;
	o.capacity = 65536;
	ASSERT_OK(shmkit_chan_create(spec, &o, &ch));
	chan_wd_watch(ch);
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT(fd >= 0);
	ASSERT(ftruncate(fd, 4096) == 0);
	close(fd);
	ASSERT_ERR(shmkit_chan_open(spec, SHMKIT_CHAN_READER, &x), EPROTO);
	/* The handle that made it keeps its own view; destroy cleans up. */
	ASSERT_OK(shmkit_chan_destroy(ch));
}

/*
 * shmkit_chan_probe: yes for a channel, no for anything open would refuse
 * (zeros, the magic alone, a header with a bad checksum, a channel cut
 * short), at once: it never waits for a creator as open does for zeros.
 */
static void probe(void)
{
	char spec[256], path[300];
	const char *name = test_name("probe");
	struct chan_meta *m;
	shmkit_chan_opts o;
	shmkit_chan *ch;
	shmkit_seg *seg;
	int64_t t0;
	int fd;

	snprintf(spec, sizeof(spec), "posix:%s", name);
	ASSERT_ERR(shmkit_chan_probe(NULL), EINVAL);
	ASSERT_ERR(shmkit_chan_probe(spec), ENOENT);
	ASSERT_ERR(shmkit_chan_probe("posix:bad"), EINVAL);

	memset(&o, 0, sizeof(o));
	o.kind = SHMKIT_CHAN_MPMC;
	ASSERT_OK(shmkit_chan_create(spec, &o, &ch));
	chan_wd_watch(ch);
	ASSERT_EQ(shmkit_chan_probe(spec), 1);
	ASSERT_OK(shmkit_chan_destroy(ch));

	ASSERT_OK(shmkit_create(spec, 65536, NULL, &seg));
	t0 = (int64_t)time(NULL);
	ASSERT_EQ(shmkit_chan_probe(spec), 0); /* zeros: no 100 ms wait */
	ASSERT(shmkit_chan_probe(spec) == 0 && (int64_t)time(NULL) - t0 < 2);
	m = shmkit_addr(seg);
	m->magic = CHAN_MAGIC;
	ASSERT_EQ(shmkit_chan_probe(spec), 0); /* the magic alone */
	ASSERT_OK(shmkit_destroy(seg));

	o.kind = SHMKIT_CHAN_SPSC;
	ASSERT_OK(shmkit_chan_create(spec, &o, &ch));
	chan_wd_watch(ch);
	m = shmkit_addr(shmkit_chan_seg(ch));
	m->checksum ^= 1;
	ASSERT_EQ(shmkit_chan_probe(spec), 0);
	m->checksum ^= 1;
	ASSERT_EQ(shmkit_chan_probe(spec), 1);
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT(fd >= 0);
	ASSERT(ftruncate(fd, 4096) == 0); /* cut short */
	close(fd);
	ASSERT_EQ(shmkit_chan_probe(spec), 0);
	ASSERT_OK(shmkit_chan_destroy(ch));
	ASSERT(!test_leftovers());
}

/* A peer scribbles on run-time state: we refuse, we do not stray. */
static void runtime_corruption(void)
{
	shmkit_chan_opts o;
	shmkit_seg *seg;
	shmkit_chan *w, *r;
	struct chan_hdr *h;
	uint8_t *ring;
	uint8_t buf[512];
	size_t sz;
	void *p;

	/* SPSC: a record header with a huge length, a bad tag, bad head. */
	memset(&o, 0, sizeof(o));
	o.kind = SHMKIT_CHAN_SPSC;
	o.capacity = 1024;
	o.role = SHMKIT_CHAN_WRITER;
	ASSERT_OK(shmkit_chan_size(&o, &sz));
	ASSERT_OK(shmkit_create("anon:", sz, NULL, &seg));
	ASSERT_OK(shmkit_chan_create_in(seg, 0, &o, &w));
	chan_wd_watch(w);
	ASSERT_OK(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_READER, &r));
	h = shmkit_addr(seg);
	ring = (uint8_t *)h + h->meta.ring_off;
	ASSERT_OK(shmkit_chan_send(w, "hello", 5, 0));
	((uint32_t *)ring)[0] = (uint32_t)(R_VALID | 100000);
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), 0), EPROTO);
	((uint32_t *)ring)[0] = (uint32_t)(R_VALID | 250); /* past the end? no: */
	ASSERT_EQ(shmkit_chan_recv(r, buf, sizeof(buf), 0), 250);
	/* PAD records that no writer makes: none, odd, short of a line
	 * end, past the end of the ring. */
	{
		uint64_t bad[] = {0, 12, 16, 2048};
		unsigned b;
		for (b = 0; b < 4; b++) {
			uint64_t at = h->head & ~R_POS_SKIP;
			((uint64_t *)(ring + (at & 1023)))[0] =
				(uint64_t)(R_VALID | R_PAD | bad[b]) | R_TAG(at);
			ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), 0),
				   EPROTO);
		}
	}
	/* A reader position of our choosing, with a 200-byte record
	 * claimed in the last 8 bytes of the ring. */
	((uint64_t *)(ring + 1016))[0] = (uint64_t)(R_VALID | 200) | R_TAG(1016);
	h->head = 1016;
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_READER, &r));
	ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), 0), EPROTO);
	/* A head the writer cannot believe, found when it next looks. */
	{
		uint64_t bad[] = {3, UINT64_MAX - 7};
		unsigned b, i;
		for (b = 0; b < 2; b++) {
			int e = 0;
			h->head = bad[b];
			for (i = 0; i < 10 && e == 0; i++)
				e = shmkit_chan_send(w, buf, 200, 0);
			ASSERT_ERR(e, EPROTO);
		}
	}
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_close(w));
	/* A writer reopening on a garbage tail refuses. */
	h->head = 0;
	h->tail = 5;
	ASSERT_ERR(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_WRITER, &w), EPROTO);
	h->tail = 1 << 20;
	ASSERT_ERR(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_WRITER, &w), EPROTO);
	ASSERT_OK(shmkit_destroy(seg));

	/*
	 * MPMC and broadcast: a slot length over the maximum, in the word
	 * (short lengths), in the long-length word after the payload, and a
	 * "long" mark on a slot that has no such word.
	 */
	{
		shmkit_chan_kind kinds[] = {SHMKIT_CHAN_MPMC,
					    SHMKIT_CHAN_BROADCAST};
		unsigned k;
		for (k = 0; k < 6; k++) {
			struct chan_slot *s;
			memset(&o, 0, sizeof(o));
			o.kind = kinds[k % 2];
			o.capacity = 4;
			o.max_msg = k / 2 == 1 ? 300 : 48;
			o.role = SHMKIT_CHAN_WRITER;
			ASSERT_OK(shmkit_chan_size(&o, &sz));
			ASSERT_OK(shmkit_create("anon:", sz, NULL, &seg));
			ASSERT_OK(shmkit_chan_create_in(seg, 0, &o, &w));
			chan_wd_watch(w);
			ASSERT_OK(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_READER,
						      &r));
			h = shmkit_addr(seg);
			s = (struct chan_slot *)((uint8_t *)h + h->meta.ring_off);
			ASSERT_OK(shmkit_chan_reserve(w, k / 2 == 1 ? 290 : 8, &p,
						      0));
			ASSERT_OK(shmkit_chan_commit(w, k / 2 == 1 ? 290 : 8));
			if (k / 2 == 0) /* a short length over max_msg */
				s->seq = seq_of(s->seq) |
					 ((uint64_t)200 << SLOT_LEN_SHIFT);
			else if (k / 2 == 1) /* the long length */
				*(uint32_t *)((uint8_t *)s + w->lenx) = 1u << 30;
			else /* "long", where there is no long length */
				s->seq = seq_of(s->seq) |
					 ((uint64_t)SLOT_LEN_LONG
					  << SLOT_LEN_SHIFT);
			ASSERT_ERR(shmkit_chan_recv(r, buf, sizeof(buf), 0),
				   EPROTO);
			{
				const void *q;
				size_t n;
				ASSERT_ERR(shmkit_chan_peek(r, &q, &n, 0),
					   kinds[k % 2] == SHMKIT_CHAN_MPMC
						   ? EAGAIN
						   : EPROTO);
			}
			ASSERT_OK(shmkit_chan_close(r));
			ASSERT_OK(shmkit_chan_close(w));
			ASSERT_OK(shmkit_destroy(seg));
		}
	}
}

/* Garbage in the endpoint table: judged, reclaimed or skipped, no crash. */
static void garbage_endpoints(void)
{
	shmkit_chan_opts o;
	shmkit_seg *seg;
	shmkit_chan *w, *r, *adm;
	shmkit_chan_info info;
	shmkit_chan_ep_info eps[8];
	struct chan_hdr *h;
	uint8_t *ept;
	size_t sz, i;
	char b[16];

	memset(&o, 0, sizeof(o));
	o.kind = SHMKIT_CHAN_MPMC;
	o.capacity = 4;
	o.max_endpoints = 8;
	ASSERT_OK(shmkit_chan_size(&o, &sz));
	ASSERT_OK(shmkit_create("anon:", sz, NULL, &seg));
	ASSERT_OK(shmkit_chan_create_in(seg, 0, &o, &adm));
	chan_wd_watch(adm);
	h = shmkit_addr(seg);
	ept = (uint8_t *)h + h->meta.ep_off;
	srand(3);
	for (i = 0; i < 4 * sizeof(struct chan_ep); i++)
		ept[i] = (uint8_t)rand();
	ASSERT(shmkit_chan_stat(adm, &info, eps, 8) >= 0);
	ASSERT_OK(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_WRITER, &w));
	ASSERT_OK(shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_READER, &r));
	ASSERT_OK(shmkit_chan_send(w, "ok", 2, 0));
	ASSERT_EQ(shmkit_chan_recv(r, b, sizeof(b), 0), 2);
	ASSERT_OK(shmkit_chan_close(r));
	ASSERT_OK(shmkit_chan_close(w));
	ASSERT_OK(shmkit_chan_close(adm));
	ASSERT_OK(shmkit_destroy(seg));
}

CHAN_TEST_MAIN("chan_hdr", TEST(every_byte_flipped), TEST(consistent_lies),
	  TEST(random_bytes), TEST(open_refuses), TEST(probe),
	  TEST(runtime_corruption),
	  TEST(garbage_endpoints))
