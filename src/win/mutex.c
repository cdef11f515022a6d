/* mutex.c (Windows): placeholder until the named-mutex port lands. */
#include "win_int.h"

unsigned long shmkit__mutex_nheld;

bool shmkit__mutex_held_in_slow(const void *addr, size_t len)
{
	(void)addr;
	(void)len;
	return false;
}
