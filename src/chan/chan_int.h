/*
 * chan_int.h: the shared-memory layout of a shmkit channel and the private
 * handle, shared by the files of src/chan/.
 *
 * A channel is one contiguous region (at a 128-byte aligned offset of a
 * segment):
 *
 *   struct chan_hdr     768 bytes: an immutable, checksummed description,
 *                       then one 128-byte line per party that writes it
 *   struct chan_ep[n]   one 128-byte line per endpoint (owner writes it)
 *   ring                SPSC: byte ring; MPMC/BROADCAST: n slots
 *
 * Every field that more than one process touches after creation is read and
 * written with __atomic builtins on plain integers (never _Atomic: the same
 * bytes are also copied and checksummed as plain data), and the comment on
 * each field says who writes it. No field is ever protected by a lock: each
 * is either written by one party only (a counter, a flag), or changed by
 * compare-and-swap from a value the writer has checked (endpoint ownership,
 * MPMC positions and slot sequence numbers), so a process that dies at any
 * instruction leaves a state the others can read and repair.
 *
 * Nothing read from shared memory is trusted: the description is validated
 * once and copied into the handle, which from then on uses only its own copy
 * of sizes and masks; positions and lengths found in the ring are checked
 * against that copy before they are used (-EPROTO otherwise).
 */
#ifndef SHMKIT_CHAN_INT_H
#define SHMKIT_CHAN_INT_H

#include "../internal.h"
#include "chan_os.h"

#include <stdint.h>
#include <string.h>

#define CHAN_MAGIC UINT64_C(0x4e4148434b4d4853) /* "SHMKCHAN" */
#define CHAN_VERSION 3u
#define CHAN_LINE 128u

/* Limits (see shmkit_chan_opts in shmkit/chan.h). */
#define CHAN_SPSC_MIN UINT64_C(256)
#define CHAN_SPSC_MAX (UINT64_C(1) << 32)
#define CHAN_SPSC_DEFAULT UINT64_C(65536)
#define CHAN_SLOTS_MIN UINT64_C(2)
#define CHAN_SLOTS_MAX (UINT64_C(1) << 24)
#define CHAN_SLOTS_DEFAULT UINT64_C(256)
#define CHAN_SLOT_MSG_MAX (UINT32_C(64) << 20)
#define CHAN_SLOT_MSG_DEFAULT 240u
#define CHAN_EP_MIN 2u
#define CHAN_EP_MAX 4096u
#define CHAN_EP_DEFAULT 64u
#define CHAN_RING_BYTES_MAX (UINT64_C(1) << 40)
#define CHAN_WRITERS_MAX (UINT32_C(1) << 24)
/* pidfds (process handles on Windows) a handle keeps for its peers
 * (see live.c). */
#define CHAN_PIDFDS 32u

/* ------------------------------------------------------------------------ */
/* Shared memory                                                             */
/* ------------------------------------------------------------------------ */

/* Written once by the creator, magic last (release); never changed. */
struct chan_meta {
	uint64_t magic;
	uint32_t version;
	uint32_t kind;
	uint32_t hdr_size;      /* sizeof(struct chan_hdr) */
	uint32_t ep_size;       /* sizeof(struct chan_ep) */
	uint64_t total_size;    /* bytes from the header to the ring's end */
	uint64_t capacity;      /* SPSC: ring bytes; else slots (power of two) */
	uint32_t max_msg;
	uint32_t slot_size;     /* bytes per slot, 0 for SPSC */
	uint32_t max_endpoints;
	uint32_t flags;         /* SHMKIT_CHAN_WAIT_READERS, nothing else */
	uint64_t ep_off;
	uint64_t ring_off;
	uint64_t ring_size;     /* bytes */
	uint64_t created_ns;    /* CLOCK_REALTIME, for people */
	uint32_t creator_pid;
	uint32_t checksum;      /* FNV-1a of every byte but magic and this */
	uint32_t writers;       /* expected writers per stream (0: any) */
	uint32_t reserved0;
	/* Names the channel's wake objects where waking goes through named
	 * objects (Windows: "Local\\shmkit.c<16 hex>.r" and ".w"); 0 on Linux,
	 * whose futex words need no name. */
	uint64_t wake_id;
	uint8_t reserved[16];
};

struct chan_hdr {
	struct chan_meta meta;
	/*
	 * Writers' line. SPSC: bytes published (the reader never reads it; the
	 * ring's own record headers publish messages). MPMC: next position to
	 * claim (CAS by writers). BROADCAST: messages published (writer only).
	 */
	uint64_t tail;
	uint8_t pad1[CHAN_LINE - 8];
	/*
	 * Readers' line. SPSC: bytes consumed (reader only; the writer reads it
	 * when its cached copy says the ring is full). MPMC: next position to
	 * take (CAS by readers). BROADCAST: unused (cursors are per reader).
	 */
	uint64_t head;
	uint8_t pad2[CHAN_LINE - 8];
	/*
	 * Waiting, one line per side. rd_wait/wr_wait count readers/writers
	 * that wait (W_* fields below); each endpoint adds only what its own
	 * wflags record, so a dead one's share can be taken back. A publisher
	 * reads the other side's word after every publication and enters the
	 * kernel only when it asks for that. The futex words are bumped by
	 * whoever wakes that side. The two sides are apart so that a side
	 * registering its sleepers does not take from the other side the line
	 * it reads after each message (they shared one: a blocking stream
	 * spent most of its time in that load).
	 */
	uint64_t rd_wait;
	uint32_t rd_futex;
	uint8_t pad3[CHAN_LINE - 12];
	uint64_t wr_wait;
	uint32_t wr_futex;
	uint8_t pad4[CHAN_LINE - 12];
	/* Bookkeeping, rarely written (fetch-add by anyone). */
	uint64_t opens[3];      /* registrations per role, ever */
	uint64_t sent_closed;   /* messages of endpoints that are gone */
	uint64_t recv_closed;
	uint64_t sent_bytes_closed;
	uint64_t recv_bytes_closed;
	uint64_t poisoned;
	uint64_t dropped;
	uint64_t reclaimed;
	uint64_t leaves;        /* endpoints closed or reclaimed, ever */
	/*
	 * The stream (WS_* below): how many writers have left it, whether one
	 * died or shut it down, and its generation. Changed only by CAS, by
	 * writers as they join and leave and by whoever reclaims a dead one.
	 * Writers load it before each message (this line changes only when an
	 * endpoint comes or goes); readers only when the channel is empty.
	 */
	uint64_t wstate;
	uint8_t pad5[CHAN_LINE - 96];
};

/*
 * rd_wait / wr_wait: three 21-bit counts in one word, and UNWOKEN: some
 * sleeper registered since that side was last woken. A sleeper sets it as
 * it registers; the first publisher that sees it clears it and makes the
 * one wake-up call; later publishers see it clear and make none, until a
 * waiter registers again. The last registered sleeper to leave clears it.
 * A publisher's fast path is then "anything but sleepers already woken?",
 * i.e. w & ~W_SLEEP_MASK.
 */
#define W_SLEEP_ONE UINT64_C(1)
#define W_ARM_ONE (UINT64_C(1) << 21)
#define W_FENCE_ONE (UINT64_C(1) << 42)
#define W_FIELD UINT64_C(0x1fffff)
#define W_SLEEP_MASK (W_FIELD)
#define W_ARM_MASK (W_FIELD << 21)
#define W_FENCE_MASK (W_FIELD << 42)
#define W_UNWOKEN (UINT64_C(1) << 63)

/* chan_ep.wflags: what this endpoint added to its side's wait word. */
#define EPW_SLEEP 1u /* sleeping on the futex */
#define EPW_ARMED 2u /* waiting on its descriptor: send it a datagram */
#define EPW_FENCE 4u /* asks publishers to fence (blocking mode) */
#define EPW_WRITER 8u /* a writer not yet counted out of its stream */

/*
 * wstate: the end of the stream as state in the header, not a matter of
 * timing. A stream begins when a writer opens a channel whose last stream
 * has ended (or a fresh one) and ends when it is shut down, or when no
 * writer is open and at least max(1, meta.writers) writers have left it.
 *
 *   bits  0..23  writers that left this stream (saturates)
 *   bit  24      one of them died without closing (reset)
 *   bit  25      shut down by shmkit_chan_shutdown()
 *   bits 26..39  generation: bumped when a new stream begins
 *   bits 40..62  pid of the first writer that died (bit 24)
 */
#define WS_LEFT_MAX UINT64_C(0xffffff)
#define WS_LEFT(w) ((w) & WS_LEFT_MAX)
#define WS_DIED (UINT64_C(1) << 24)
#define WS_SHUT (UINT64_C(1) << 25)
#define WS_GEN_SHIFT 26
#define WS_GEN_MASK (UINT64_C(0x3fff) << WS_GEN_SHIFT)
#define WS_GEN(w) ((uint32_t)(((w) & WS_GEN_MASK) >> WS_GEN_SHIFT))
#define WS_PID_SHIFT 40
#define WS_PID(w) ((pid_t)(((w) >> WS_PID_SHIFT) & 0x7fffff))
/* What a writer compares on every message: its stream, not shut. */
#define WS_STREAM(w) ((w) & (WS_GEN_MASK | WS_SHUT))

/*
 * chan_ep.owner: 0 free, else who holds the entry:
 *   bit 63 reaping, bits 62..40 pid, bits 39..32 pid-namespace hash,
 *   bits 31..0 the process start time (clock ticks after boot, low bits).
 * Taken by CAS from 0, given back by a release store of 0. A process that
 * reclaims a dead entry first swaps in its own identity with bit 63 set, so
 * two reclaimers never interleave and a reclaimer that dies is itself seen
 * dead.
 */
#define EP_REAPING (UINT64_C(1) << 63)
#define EP_PID(o) ((pid_t)(((o) >> 40) & 0x7fffff))
#define EP_NSHASH(o) ((unsigned)(((o) >> 32) & 0xff))
#define EP_START(o) ((uint32_t)(o))

struct chan_ep {
	uint64_t owner;
	uint32_t role;      /* owner; set after taking the entry */
	uint32_t wflags;    /* owner sets; owner, publishers (ARMED) or a
			       reclaimer clear, each by atomic and/exchange */
	uint64_t start;     /* owner: full start time, for people */
	uint64_t pidns;     /* owner: pid namespace inode */
	uint64_t msgs;      /* owner: messages sent or received */
	uint64_t bytes;
	uint64_t claim;     /* MPMC owner: position + 1 it is claiming/holds */
	uint64_t cursor;    /* broadcast reader: next message it will read */
	uint64_t lost;      /* broadcast reader */
	uint32_t addr_len;  /* owner: length of addr, published (release)
			       before it ever arms */
	uint8_t addr[28];   /* abstract AF_UNIX address of its wake socket */
	uint32_t cpu;       /* owner: 1 + the CPU it last waited on (0: unknown) */
	uint32_t gen;       /* writer owner: the stream generation it joined */
	uint32_t pid;       /* owner: its pid, for whoever reclaims the entry */
	uint8_t pad[12];
};

/*
 * SPSC record header: one 64-bit word, published with a release store:
 *   bits 63..33  a tag: position / 8, low 31 bits
 *   bit  32      SKIP: the promise this record makes about the next one
 *   bit  31      VALID
 *   bit  30      PAD: skip the length's bytes (to the ring's end)
 *   bits 29..0   the length
 * The promise (see io.c): with SKIP, the next record either fits in what
 * is left of this record's last line, right after it, or starts at the
 * next line, and the reader looks at both places; without it, the next
 * record starts right after this one (a PAD header there says otherwise).
 */
#define R_SKIP (UINT64_C(1) << 32)
#define R_VALID (UINT64_C(1) << 31)
#define R_PAD (UINT64_C(1) << 30)
#define R_LEN_MASK (R_PAD - 1)
#define R_HDR 8u
#define R_TAG(pos) ((((pos) >> 3) & UINT64_C(0x7fffffff)) << 33)
#define R_TAG_OK(w, pos) (((w) >> 33) == (((pos) >> 3) & UINT64_C(0x7fffffff)))
/* A position's line, and the next line's start. */
#define R_LINE 64u
#define R_NEXT_LINE(pos) (((pos) | (R_LINE - 1)) + 1)
/* How far ahead of its position an SPSC writer asks for lines, in bytes,
 * and how many it asks for at most per message (see io.c). */
#define SPSC_AHEAD 512u
#define SPSC_AHEAD_MAX 8u
/* head and tail carry, in bit 0, the promise of the record before them. */
#define R_POS_SKIP UINT64_C(1)

/*
 * MPMC and broadcast slots: one 64-bit word, then the payload at +8. The
 * word is what publishes a message and it carries the message's length,
 * so a message of up to 56 bytes travels in the slot's first cache line
 * together with what publishes it, and a reader learns sequence and length
 * from one load:
 *
 *   bit  63      POISON (MPMC): claimed by a writer that died or cancelled;
 *                readers pass over it
 *   bits 62..55  the length, 0..254; SLOT_LEN_LONG: the length is the
 *                32-bit word at lenx bytes into the slot (only slots of
 *                max_msg >= 255 have one, after the largest payload)
 *   bits 54..0   the sequence, modulo 2^55: compared only by the signed
 *                difference of two of them (seq_dif), so it may wrap
 */
struct chan_slot {
	uint64_t seq;
};
#define SLOT_HDR 8u
#define SEQ_POISON (UINT64_C(1) << 63)
#define SEQ_BITS 55
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)
#define SLOT_LEN_SHIFT SEQ_BITS
#define SLOT_LEN_LONG 255u

static inline uint64_t seq_of(uint64_t w)
{
	return w & SEQ_MASK;
}

/* a - b as a signed distance, for sequences taken modulo 2^55. */
static inline int64_t seq_dif(uint64_t a, uint64_t b)
{
	return (int64_t)((a - b) << (64 - SEQ_BITS)) >> (64 - SEQ_BITS);
}

static inline uint32_t slot_len8(uint64_t w)
{
	return (uint32_t)(w >> SLOT_LEN_SHIFT) & 0xffu;
}

/* A channel's geometry, derived from the options or a validated header. */
typedef struct shmkit__chan_layout {
	uint32_t kind;
	uint32_t max_msg;
	uint64_t capacity;   /* ring bytes (SPSC) or slots */
	uint32_t slot_size;  /* 0 for SPSC */
	uint32_t lenx;       /* slots: offset of the long-length word, or 0 */
	uint32_t nep;
	uint32_t writers;    /* expected writers per stream; 0 means any */
	uint32_t flags;      /* shmkit_chan_opts.flags */
	uint64_t ep_off;
	uint64_t ring_off;
	uint64_t ring_size;  /* bytes */
	uint64_t total;
} shmkit__chan_layout;

/* ------------------------------------------------------------------------ */
/* The handle                                                                */
/* ------------------------------------------------------------------------ */

/* What a handle knows about another endpoint entry (liveness cache). */
struct chan_peer {
	uint64_t owner;  /* the owner word this cache is about */
	shmkit__chan_pin pin; /* pidfd or process handle; CHAN_PIN_NONE */
	int8_t state;    /* EP_ALIVE, EP_DEAD, EP_UNKNOWN; 0 not checked */
	uint8_t in_epoll; /* its death signals our notifier */
#ifdef CHAN_OS_PEER_WATCH
	void *watch;     /* Windows: RegisterWaitForSingleObject's handle */
#endif
};

enum { EP_FREE = 0, EP_ALIVE = 1, EP_DEAD = 2, EP_UNKNOWN = 3, EP_BUSY = 4 };
enum { PEND_NONE = 0, PEND_RESERVE = 1, PEND_PEEK = 2 };
enum { SIDE_RD = 0, SIDE_WR = 1 }; /* whose wait word / futex */

struct shmkit_chan {
	/* The data path: read on every call. */
	uint8_t *base;
	struct chan_hdr *h;
	uint8_t *ring;
	struct chan_ep *me;      /* our entry; NULL for role NONE */
	uint64_t mask;           /* ring bytes - 1, or slots - 1 */
	uint64_t cap;            /* ring bytes, or slots */
	uint32_t max_msg;
	uint32_t stride;         /* bytes per slot */
	uint32_t lenx;           /* offset of a slot's long-length word, or 0 */
	uint8_t kind;
	uint8_t role;
	uint8_t mode;            /* shmkit_chan_wait */
	uint8_t always_fence;    /* membarrier cannot reach this process */
	uint8_t pend;            /* PEND_* */
	uint8_t fencer;          /* holds EPW_FENCE */
	uint8_t fence_fresh;     /* just became a fencer without membarrier */
	uint8_t seen_peer;
	uint8_t rw;              /* an endpoint: may write the header */
	uint8_t gone;            /* the last liveness pass found no peer */
	uint8_t wait_readers;    /* SHMKIT_CHAN_WAIT_READERS */
	uint64_t pos;            /* SPSC: tail (writer) / head (reader);
				    broadcast: messages written / cursor */
	uint64_t cache;          /* SPSC writer: last head read */
	uint64_t ahead_to;       /* SPSC writer: lines up to here asked for */
	uint8_t skip;            /* SPSC: the promise of the last record
				    published (writer) or consumed (reader) */
	uint8_t pend_skip;       /* SPSC peek: the promise of the one peeked */
	uint64_t wstream;        /* writer: WS_STREAM() of the stream it is in */
	uint64_t min_cursor;     /* lossless broadcast writer: slowest reader */
	uint64_t rd_opens;       /* ... and h->opens[READER] when it looked */
	uint64_t msgs, bytes, lost;
	/* The pending reserve or peek. */
	uint64_t pend_pos;       /* its position */
	uint64_t pend_next;      /* SPSC peek: position after it */
	uint64_t pend_seq;       /* broadcast peek: slot sequence seen */
	uint32_t pend_len;       /* reserved or peeked length */
	uint32_t pend_pad;       /* SPSC reserve: bytes skipped before it */
	uint32_t pend_padw;      /* SPSC reserve: ... of which a PAD spells out */
	uint8_t *pend_ptr;
	/* Waiting and liveness (slow path). */
	int64_t spin_ns;
	int64_t spin_more;       /* adaptive: extra spin learned (see wait.c) */
	int64_t learn_at;        /* when spin_more last grew or halved */
	int64_t live_last;       /* CLOCK_MONOTONIC ns of the last check */
	uint64_t opens_seen;     /* the peers' role registrations at open */
	uint64_t leaves_seen;    /* h->leaves at the last liveness pass */
	uint32_t want;           /* writer: size that last did not fit */
	int64_t lag_ns;          /* lossless broadcast writer: lag limit, or -1 */
	int64_t lag_until;       /* when the current wait for a laggard ends */
	uint32_t backoff;        /* pauses before the first poll of a wait */
	uint32_t cpu;            /* 1 + the CPU we last waited on */
	uint32_t npidfds;        /* pins held in peers[] (at most CHAN_PIDFDS) */
	uint32_t uncovered;      /* live peers the last pass found without one */
	int end;                 /* reader: the last pass's end of stream, or 0 */
	uint8_t share_cpu;       /* a peer waits on our CPU: yield, not pause */
	int64_t share_checked;   /* when share_cpu was last worked out */
	uint64_t msgs_at_wait;   /* msgs when the last wait began */
	struct shmkit__chan_os os; /* the system's objects (chan_os.h) */
	/* Identity. */
	pid_t pid;
	uint64_t owner;          /* our owner word */
	uint64_t pidns;
	uint32_t index;          /* our entry */
	uint32_t nep;
	struct chan_ep *eps;
	struct chan_peer *peers; /* nep entries */
	shmkit__chan_layout lay;
	shmkit_seg *seg;
	size_t offset;
	uint8_t own_seg;
};

/* ------------------------------------------------------------------------ */
/* Atomics and small helpers                                                 */
/* ------------------------------------------------------------------------ */

#define LD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LD_RLX(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ST_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define CAS(p, expp, v)                                                       \
	__atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_ACQ_REL,     \
				    __ATOMIC_ACQUIRE)
#define FADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define FSUB(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)

#define CHAN_LIKELY(x) __builtin_expect(!!(x), 1)
#define CHAN_UNLIKELY(x) __builtin_expect(!!(x), 0)

#if defined(__SANITIZE_THREAD__)
#define CHAN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHAN_TSAN 1
#endif
#endif

#ifdef CHAN_TSAN
/*
 * TSan does not model fences (gcc refuses them under -fsanitize=thread).
 * A sequentially consistent read-modify-write of a thread-local word is a
 * full barrier on the hardware and creates no happens-before edge between
 * threads, so it hides no race from TSan.
 */
static _Thread_local uint32_t chan_tsan_fence_word;
static inline void chan_fence_(void)
{
	__atomic_fetch_add(&chan_tsan_fence_word, 0, __ATOMIC_SEQ_CST);
}
#define CHAN_FENCE_ACQ() chan_fence_()
#define CHAN_FENCE_REL() chan_fence_()
#else
#define CHAN_FENCE_ACQ() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define CHAN_FENCE_REL() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

/*
 * A full fence. On x86 a locked no-op on the stack costs a third of what
 * clang's mfence does.
 */
static inline void chan_full_fence(void)
{
#if defined(CHAN_TSAN)
	chan_fence_();
#elif defined(__x86_64__)
	__asm__ __volatile__("lock; orq $0, (%%rsp)" ::: "memory", "cc");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static inline void chan_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Ask for the cache line at p in a state that lets this core write it
 * (x86 PREFETCHW, which older cores run as a no-op; a store hint on ARM).
 * A hint: it never faults and changes nothing the program can see. */
static inline void chan_prefetch_w(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#elif defined(__GNUC__)
	__builtin_prefetch(p, 1, 3);
#else
	(void)p;
#endif
}

static inline uint64_t *spsc_word(const shmkit_chan *ch, uint64_t pos)
{
	return (uint64_t *)(ch->ring + (pos & ch->mask));
}

/* For tests: called between the two looks of spsc_header(). */
SHMKIT__HIDDEN extern void (*shmkit__chan_skip_hook)(void);

/*
 * The header of the record at pos, or 0: where the last record promised a
 * skip (and pos is inside a line), the record may instead start at the
 * next line, and then the word at pos stays 0 (*pos moves there). A PAD is
 * only ever at pos itself. Found something at the next line, it looks at
 * pos again: between its two looks the writer may have published a record
 * at pos and the next one after it, and the one at pos comes first (the
 * acquire load that saw the second makes the first visible).
 */
static inline uint64_t spsc_header(const shmkit_chan *ch, uint64_t *pos,
				   int skip)
{
	uint64_t w = LD_ACQ(spsc_word(ch, *pos)), ls, at_ls;

	if (w || !skip || !(*pos & (R_LINE - 1)))
		return w;
	if (CHAN_UNLIKELY(shmkit__chan_skip_hook != NULL))
		shmkit__chan_skip_hook();
	ls = R_NEXT_LINE(*pos);
	at_ls = LD_ACQ(spsc_word(ch, ls));
	if (!at_ls)
		return 0;
	w = LD_ACQ(spsc_word(ch, *pos));
	if (w)
		return w;
	*pos = ls;
	return at_ls;
}

static inline struct chan_slot *chan_slot_at(const shmkit_chan *ch,
					     uint64_t pos)
{
	return (struct chan_slot *)(ch->ring + (pos & ch->mask) * ch->stride);
}

/* The word that publishes message seq of n bytes (the long length, if
 * any, is stored first: the release store of the word publishes it). */
static inline uint64_t slot_publish_word(const shmkit_chan *ch,
					 struct chan_slot *s, uint64_t seq,
					 size_t n)
{
	uint64_t l8 = n < SLOT_LEN_LONG ? n : SLOT_LEN_LONG;

	if (l8 == SLOT_LEN_LONG)
		__atomic_store_n((uint32_t *)((uint8_t *)s + ch->lenx),
				 (uint32_t)n, __ATOMIC_RELAXED);
	return seq_of(seq) | (l8 << SLOT_LEN_SHIFT);
}

/* The length a published word w of slot s announces (not yet checked). */
static inline uint32_t slot_length(const shmkit_chan *ch,
				   const struct chan_slot *s, uint64_t w)
{
	uint32_t l8 = slot_len8(w);

	if (l8 != SLOT_LEN_LONG)
		return l8;
	if (!ch->lenx)
		return UINT32_MAX; /* no long lengths here: corrupt */
	return __atomic_load_n((const uint32_t *)((const uint8_t *)s +
						  ch->lenx),
			       __ATOMIC_RELAXED);
}

static inline uint64_t *chan_wait_word(const shmkit_chan *ch, int side)
{
	return side == SIDE_RD ? &ch->h->rd_wait : &ch->h->wr_wait;
}

static inline uint32_t *chan_futex_word(const shmkit_chan *ch, int side)
{
	return side == SIDE_RD ? &ch->h->rd_futex : &ch->h->wr_futex;
}

/*
 * After a publication (a release store the other side polls): wake the
 * other side if anyone there waits. The load of the wait word must not be
 * hoisted above the store (compiler barrier); the hardware may still
 * reorder them, which is what the sleeper's membarrier() covers (see
 * wait.c). A process membarrier cannot reach fences here instead.
 */
SHMKIT__HIDDEN void shmkit__chan_wake(shmkit_chan *ch, int side, uint64_t w);

static inline void chan_published(shmkit_chan *ch, int side)
{
	uint64_t w;

	if (CHAN_UNLIKELY(ch->always_fence))
		chan_full_fence();
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	w = LD_RLX(chan_wait_word(ch, side));
	if (CHAN_UNLIKELY(w & ~W_SLEEP_MASK))
		shmkit__chan_wake(ch, side, w);
}

static inline void chan_count(shmkit_chan *ch, size_t len)
{
	ch->msgs++;
	ch->bytes += len;
	ST_RLX(&ch->me->msgs, ch->msgs);
	ST_RLX(&ch->me->bytes, ch->bytes);
}

/* Is skip a PAD that a writer could have made at ring offset off? It
 * ends where a line starts (the ring's end is one). */
static inline int shmkit__chan_pad_ok(const shmkit_chan *ch, uint64_t off,
				      uint64_t skip)
{
	return skip >= R_HDR && !(skip & 7) && skip <= ch->cap - off &&
	       !((off + skip) & (R_LINE - 1));
}

/* Does this handle ever wait (so may need to fence, sleep, arm)? */
static inline int chan_may_wait(const shmkit_chan *ch)
{
	return ch->role != SHMKIT_CHAN_NONE &&
	       !(ch->kind == SHMKIT_CHAN_BROADCAST &&
		 ch->role == SHMKIT_CHAN_WRITER && !ch->wait_readers);
}

/* ------------------------------------------------------------------------ */
/* Between the files of src/chan/                                            */
/* ------------------------------------------------------------------------ */

/* chan.c */
SHMKIT__HIDDEN int shmkit__chan_layout_of(const shmkit_chan_opts *o,
					  shmkit__chan_layout *ret);
/*
 * Validate a channel header at mem, of which len bytes are mapped: magic,
 * version, kind, checksum, and every size and offset recomputed from the
 * kind, capacity, message size and endpoint count, all within len. Reads
 * nothing past mem + len and nothing but the header. Returns 0 and the
 * layout, -EPROTO for anything wrong (another version or kind included).
 */
SHMKIT__HIDDEN int shmkit__chan_validate(const void *mem, size_t len,
					 shmkit__chan_layout *ret);

/* live.c: identity, liveness, endpoint table. */
SHMKIT__HIDDEN int shmkit__chan_self(pid_t *pid, uint64_t *owner,
				     uint64_t *start, uint64_t *pidns);
SHMKIT__HIDDEN int shmkit__chan_ep_state(shmkit_chan *ch, uint32_t idx);
SHMKIT__HIDDEN int shmkit__chan_register(shmkit_chan *ch, int role);
SHMKIT__HIDDEN void shmkit__chan_deregister(shmkit_chan *ch);
/*
 * Reclaim dead entries and look at the peers. Reader: the end of the stream
 * (-EPIPE, -ECONNRESET) or 0. Writer: -EPIPE if no reader is alive and one
 * was seen, or if its stream was shut down; else 0.
 */
SHMKIT__HIDDEN int shmkit__chan_live_pass(shmkit_chan *ch);
/* Is the stream described by ws over, with open_writers of it open? */
SHMKIT__HIDDEN int shmkit__chan_stream_over(const shmkit_chan *ch, uint64_t ws,
					    unsigned open_writers);
SHMKIT__HIDDEN void shmkit__chan_peers_close(shmkit_chan *ch);

/* wait.c */
typedef int (*shmkit__chan_try_fn)(shmkit_chan *ch, void *arg);
SHMKIT__HIDDEN void shmkit__chan_membarrier_init(shmkit_chan *ch);
/* For tests: handles opened from now on act as if membarrier were missing. */
SHMKIT__HIDDEN void shmkit__chan_force_fences(int on);
SHMKIT__HIDDEN int shmkit__chan_wait(shmkit_chan *ch, int side,
				     shmkit__chan_try_fn try_fn, void *arg,
				     int64_t timeout_ns);
/* The -EAGAIN path of a call that does not wait: a liveness check at most
 * every few tens of ms; returns -EPIPE or -EAGAIN (or try_fn's result). */
SHMKIT__HIDDEN int shmkit__chan_nowait(shmkit_chan *ch,
				       shmkit__chan_try_fn try_fn, void *arg);
SHMKIT__HIDDEN void shmkit__chan_set_fencer(shmkit_chan *ch, int on);
/* Publish the CPU we run on in our entry (see wait.c). */
SHMKIT__HIDDEN void shmkit__chan_note_cpu(shmkit_chan *ch);
SHMKIT__HIDDEN void shmkit__chan_wake_all(shmkit_chan *ch);
SHMKIT__HIDDEN void shmkit__chan_signal_armed(shmkit_chan *ch, int side);
SHMKIT__HIDDEN void shmkit__chan_unwait(shmkit_chan *ch, struct chan_ep *ep,
					uint32_t role, uint32_t flags);
/* Make the handle's notifier (the descriptor of shmkit_chan_fd, the event
 * of shmkit_chan_win_event) if it has none: 0 or -errno. */
SHMKIT__HIDDEN int shmkit__chan_notifier(shmkit_chan *ch);

/* io.c: readiness without side effects, for arm. */
SHMKIT__HIDDEN int shmkit__chan_ready(shmkit_chan *ch);
/* io.c, for close: drop a pending reservation, release a pending peek. */
SHMKIT__HIDDEN void shmkit__chan_drop_pending(shmkit_chan *ch);

#endif /* SHMKIT_CHAN_INT_H */
