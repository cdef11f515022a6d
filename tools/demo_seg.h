/*
 * demo_seg.h: what the two halves of `shmkit demo` (tools/unix/demo.c,
 * tools/win/demo.c) share: the layout of a demo segment and the pattern
 * the parent fills it with and the child checks. The processes, and how a
 * child reaches the segment, differ by platform; what a row proves does
 * not.
 */
#ifndef SHMKIT_DEMO_SEG_H
#define SHMKIT_DEMO_SEG_H

#include <stddef.h>
#include <stdint.h>

#define DEMO_SIZE (1u << 20)
#define DEMO_MAGIC 0x6f6d65646b6d6873ull /* "shmkdemo" */

/* The first 64 bytes of a demo segment; the pattern follows. */
typedef struct demo_hdr {
	uint64_t magic;    /* parent */
	uint64_t expect;   /* parent: FNV-1a of the payload */
	uint64_t seen;     /* child: FNV-1a of the payload as it saw it */
	int32_t child_pid; /* child */
	char reply[36];    /* child */
} demo_hdr;

_Static_assert(sizeof(demo_hdr) == 64, "demo header is 64 bytes");

/* Parent: zero the header, fill the DEMO_SIZE bytes at base after it
 * with the pattern of seed, then set expect and magic. */
void cli_demo_fill(void *base, uint64_t seed);

/*
 * Child: check the segment of size bytes at base and set seen to the
 * payload's checksum. NULL when it is a demo segment (seen == expect is
 * the parent's to judge), else what is wrong: "size differs" or "header
 * missing".
 */
const char *cli_demo_check(void *base, size_t size);

#endif /* SHMKIT_DEMO_SEG_H */
