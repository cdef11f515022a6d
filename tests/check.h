/*
 * check.h: the assertion macros both test harnesses use: tests/test.h
 * (Linux) and tests/win/wtest.h (Windows). The harness defines
 * CHECK_FAIL_EXIT() first: what a failure does after it has printed.
 */
#ifndef SHMKIT_CHECK_H
#define SHMKIT_CHECK_H

#include "shmkit.h"

#include <stdio.h>

#ifndef CHECK_FAIL_EXIT
#error "define CHECK_FAIL_EXIT() before including check.h"
#endif

#define FAIL_(...)                                                            \
	do {                                                                  \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);               \
		fprintf(stderr, __VA_ARGS__);                                 \
		fputc('\n', stderr);                                          \
		CHECK_FAIL_EXIT();                                            \
	} while (0)

#define ASSERT(c)                                                             \
	do {                                                                  \
		if (!(c))                                                     \
			FAIL_("assertion failed: %s", #c);                    \
	} while (0)

#define ASSERT_EQ(a, b)                                                       \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_)                                                 \
			FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);      \
	} while (0)

/* An expression returning 0 or -errno must return 0. */
#define ASSERT_OK(e)                                                          \
	do {                                                                  \
		long long r_ = (long long)(e);                                \
		if (r_ < 0)                                                   \
			FAIL_("%s failed: %s (%s)", #e,                       \
			      shmkit_err_name((int)r_),                       \
			      shmkit_strerror((int)r_));                      \
	} while (0)

/* An expression must fail with exactly -err. */
#define ASSERT_ERR(e, err)                                                    \
	do {                                                                  \
		long long r_ = (long long)(e);                                \
		if (r_ != -(long long)(err))                                  \
			FAIL_("%s: expected -%s, got %lld (%s)", #e, #err,    \
			      r_, r_ < 0 ? shmkit_err_name((int)r_) : "ok");  \
	} while (0)

#endif /* SHMKIT_CHECK_H */
