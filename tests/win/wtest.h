/*
 * wtest.h: the harness of the Windows tests (tests/win/), run under wine
 * when cross-built on Linux and as they are on Windows.
 *
 * Same rules as tests/test.h: one executable per area; exit 0 when every
 * case passes, 1 at the first failure, 77 when the area cannot run here. A
 * test that needs a peer starts itself again (CreateProcess of its own
 * .exe with "--child NAME ARGS..."), and waits for it with a bound: a peer
 * that overstays is killed (TerminateProcess) and the case fails with a
 * message, never a hang.
 */
#ifndef SHMKIT_WTEST_H
#define SHMKIT_WTEST_H

#include "shmkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define WT_SKIP_CODE 77

/* A failure reports FILE:LINE and what failed, then exits 1. */
#define CHECK_FAIL_EXIT() (fflush(stderr), exit(1))
#include "../check.h"

typedef struct wt_case {
	const char *name;
	void (*fn)(void);
} wt_case;

/* A child entry point: argv after "--child NAME". Returns the exit code. */
typedef struct wt_child {
	const char *name;
	int (*fn)(int argc, char **argv);
} wt_child;

/* A name no other run (or other test) uses: prefix + pid + a counter. */
static inline const char *wt_name(const char *prefix)
{
	static char buf[8][128];
	static unsigned n;
	char *b = buf[n % 8];

	snprintf(b, sizeof(buf[0]), "%s.%lu.%u.%llu", prefix,
		 (unsigned long)GetCurrentProcessId(), n++,
		 (unsigned long long)GetTickCount64());
	return b;
}

/*
 * Start this test's .exe again as "--child NAME ARG" (one argument, may be
 * NULL). Returns the process handle (the caller waits, or kills it).
 */
static inline HANDLE wt_spawn(const char *child, const char *arg)
{
	char exe[MAX_PATH], cmd[2 * MAX_PATH + 512];
	STARTUPINFOA si;
	PROCESS_INFORMATION pi;

	if (!GetModuleFileNameA(NULL, exe, sizeof(exe)))
		FAIL_("GetModuleFileName: error %lu", GetLastError());
	snprintf(cmd, sizeof(cmd), "\"%s\" --child %s %s", exe, child,
		 arg ? arg : "");
	memset(&si, 0, sizeof(si));
	si.cb = sizeof(si);
	if (!CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si,
			    &pi))
		FAIL_("CreateProcess %s: error %lu", cmd, GetLastError());
	CloseHandle(pi.hThread);
	return pi.hProcess;
}

/* Wait at most ms for the peer; its exit code, or a failure naming it
 * (after killing it) if it overstays. Closes the handle. */
static inline int wt_wait(HANDLE h, DWORD ms, const char *what)
{
	DWORD code = 0;

	if (WaitForSingleObject(h, ms) != WAIT_OBJECT_0) {
		TerminateProcess(h, 99);
		WaitForSingleObject(h, 5000);
		CloseHandle(h);
		FAIL_("peer %s still running after %lu ms: killed", what,
			 (unsigned long)ms);
	}
	GetExitCodeProcess(h, &code);
	CloseHandle(h);
	return (int)code;
}

/* Kill a peer (as a crash would: no cleanup of its own runs) and reap it. */
static inline void wt_kill(HANDLE h)
{
	TerminateProcess(h, 9);
	if (WaitForSingleObject(h, 10000) != WAIT_OBJECT_0)
		FAIL_("a killed peer did not exit within 10 s");
	CloseHandle(h);
}

/* Poll cond (an expression) every ms for up to total ms. */
#define WT_UNTIL(cond, total_ms)                                              \
	do {                                                                  \
		ULONGLONG until_ = GetTickCount64() + (total_ms);             \
		while (!(cond)) {                                             \
			if (GetTickCount64() > until_)                        \
				FAIL_("waited %d ms for %s", (int)(total_ms), \
					 #cond);                              \
			Sleep(1);                                             \
		}                                                             \
	} while (0)

/*
 * main() of a Windows test: "--child NAME ARGS" runs that child, anything
 * else runs the cases (or only the one named by argv[1]).
 */
static inline int wt_main(int argc, char **argv, const wt_case *cases,
			  size_t ncases, const wt_child *children,
			  size_t nchildren)
{
	int ran = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
		for (size_t i = 0; i < nchildren; i++)
			if (strcmp(children[i].name, argv[2]) == 0)
				return children[i].fn(argc - 3, argv + 3);
		fprintf(stderr, "no child %s\n", argv[2]);
		return 2;
	}
	for (size_t i = 0; i < ncases; i++) {
		if (argc >= 2 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		printf("-- %s\n", cases[i].name);
		cases[i].fn();
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "no case ran\n");
		return 1;
	}
	printf("%d cases passed\n", ran);
	return 0;
}

#define WT_MAIN(cases, children)                                              \
	int main(int argc, char **argv)                                       \
	{                                                                     \
		return wt_main(argc, argv, cases,                             \
			       sizeof(cases) / sizeof(cases[0]), children,    \
			       sizeof(children) / sizeof(children[0]));       \
	}

#endif /* SHMKIT_WTEST_H */
