/* list.c: introspection (placeholder until written). */
#include "internal.h"

int shmkit_list(unsigned int flags, shmkit_list_cb cb, void *arg)
{
	(void)flags, (void)cb, (void)arg;
	return -ENOSYS;
}

int shmkit_stat(const char *spec, shmkit_info *ret_info)
{
	(void)spec, (void)ret_info;
	return -ENOSYS;
}

int shmkit_who(const char *spec, pid_t *pids, size_t max)
{
	(void)spec, (void)pids, (void)max;
	return -ENOSYS;
}
