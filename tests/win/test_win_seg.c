/*
 * test_win_seg.c: segments on Windows: the win: backend (named mappings
 * in the paging file) and file:, in one process and between two.
 */
#include "wtest.h"

static void test_create_attach(void)
{
	const char *n = wt_name("win:shmkit-t");
	shmkit_seg *a, *b;

	ASSERT_OK(shmkit_create(n, 100, NULL, &a));
	ASSERT_EQ(shmkit_size(a), 100);
	ASSERT_EQ(shmkit_backend_of(a), SHMKIT_BACKEND_WIN);
	ASSERT(strcmp(shmkit_spec(a), n) == 0);
	memcpy(shmkit_addr(a), "hello", 6);
	ASSERT_OK(shmkit_attach(n, NULL, &b));
	ASSERT_EQ(shmkit_size(b), 100); /* the exact size, not the page */
	ASSERT(strcmp(shmkit_addr(b), "hello") == 0);
	ASSERT_ERR(shmkit_create(n, 100, NULL, &b), EEXIST);
	ASSERT_OK(shmkit_detach(b));
	ASSERT_OK(shmkit_destroy(a));
	/* The object died with its last handle. */
	ASSERT_ERR(shmkit_attach(n, NULL, &b), ENOENT);
}

static const wt_case cases[] = {
	{"create_attach", test_create_attach},
};
static const wt_child children[] = {{"none", NULL}};

WT_MAIN(cases, children)
