/*
 * win_cli.h: what tools/win/ files share: starting a process (shmkit.exe
 * itself, for the demo's child, or create --hold's CMD).
 */
#ifndef SHMKIT_WIN_CLI_H
#define SHMKIT_WIN_CLI_H

#include <stddef.h>
#include <windows.h>

/* CreateProcess of argv (argv[0] the program, quoted as the C runtime
 * parses it back), inheriting the console and the standard handles:
 * 0 and *ret_proc (the caller closes it), or -ENOENT, -EACCES, -E2BIG. */
int cli_win_spawn(char *const *argv, HANDLE *ret_proc);

/* This program's own path: 0, or -ENAMETOOLONG. */
int cli_win_self(char *buf, size_t len);

#endif /* SHMKIT_WIN_CLI_H */
