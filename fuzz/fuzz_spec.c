/*
 * fuzz_spec.c: libFuzzer target for the segment spec parser.
 *
 * Checks more than "does not crash": whatever parses must format to a
 * canonical spec that parses again to the same thing, and formatting must
 * be stable (format(parse(format(x))) == format(x)), and shmkit_spec_check()
 * must refuse exactly what the parser refuses.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static shmkit__spec a, b;
	static char s[PATH_MAX + 64], f1[SHMKIT_SPEC_MAX], f2[SHMKIT_SPEC_MAX];
	const char *why;
	int n1, n2, r;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	r = shmkit__spec_parse(s, &a);
	why = shmkit_spec_check(s);
	if ((r < 0) != (why != NULL) || (why && !*why))
		abort(); /* the explanation and the parser disagree */
	if (r < 0)
		return 0;
	n1 = shmkit__spec_format(&a, f1, sizeof(f1));
	if (n1 < 0)
		return 0;
	if (shmkit__spec_parse(f1, &b) < 0)
		abort(); /* canonical output must parse */
	n2 = shmkit__spec_format(&b, f2, sizeof(f2));
	if (n2 != n1 || memcmp(f1, f2, (size_t)n1) != 0)
		abort(); /* and be a fixed point */
	if (a.backend != b.backend)
		abort();
	return 0;
}
