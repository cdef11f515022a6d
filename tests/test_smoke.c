/* test_smoke.c: the first thing that must work: create, write, attach, read. */
#include "test.h"

static void create_attach_destroy(void)
{
	shmkit_seg *a, *b;
	const char *n = test_name("smoke");
	char spec[256];

	snprintf(spec, sizeof(spec), "posix:%s", n);
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &a));
	memcpy(shmkit_addr(a), "hello", 6);
	ASSERT_OK(shmkit_attach(spec, NULL, &b));
	ASSERT_EQ(shmkit_size(b), 4096);
	ASSERT(!strcmp(shmkit_addr(b), "hello"));
	ASSERT_OK(shmkit_detach(b));
	ASSERT_OK(shmkit_destroy(a));
	ASSERT_ERR(shmkit_attach(spec, NULL, &b), ENOENT);
}

TEST_MAIN("smoke", TEST(create_attach_destroy))
