/*
 * os.c (Windows): the platform half of the shmkit tool on Windows (cli.h,
 * "What differs by platform").
 *
 * Windows has no uids (every owner shmkit reports is 0, and so is the
 * caller), no signals but the console's control events (caught with
 * SetConsoleCtrlHandler, which runs the handler on a thread of its own),
 * no /proc to name a process by, and stdin and stdout in text mode, which
 * would turn a segment's bytes 0x0a into 0x0d 0x0a: main() makes them
 * binary first (and a console is asked for ANSI sequences, which top
 * uses). `create --hold` runs its CMD with CreateProcess and holds
 * the segment until CMD exits, or without CMD until Ctrl-C or the end of
 * stdin.
 */
#include "../cli.h"
#include "win_cli.h"

#include <fcntl.h>
#include <io.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <windows.h>

void cli_os_init(void)
{
	HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
	DWORD mode;

	_setmode(_fileno(stdin), _O_BINARY);
	_setmode(_fileno(stdout), _O_BINARY);
	/* top clears a console with ANSI sequences, which a console
	 * interprets only when asked to (Windows 10 and later). */
	if (out != INVALID_HANDLE_VALUE && GetConsoleMode(out, &mode))
		SetConsoleMode(out, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING);
}

shmkit_uid_t cli_euid(void)
{
	return 0;
}

const char *cli_user_name(shmkit_uid_t uid, char buf[CLI_NAME_BUF])
{
	snprintf(buf, CLI_NAME_BUF, "%u", (unsigned)uid);
	return buf;
}

const char *cli_group_name(shmkit_gid_t gid, char buf[CLI_NAME_BUF])
{
	snprintf(buf, CLI_NAME_BUF, "%u", (unsigned)gid);
	return buf;
}

const char *cli_proc_comm(pid_t pid, char *buf, size_t len)
{
	HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
			       (DWORD)pid);
	char path[MAX_PATH];
	DWORD n = sizeof(path);
	const char *base;

	if (!h)
		return "?";
	if (!QueryFullProcessImageNameA(h, 0, path, &n)) {
		CloseHandle(h);
		return "?";
	}
	CloseHandle(h);
	base = strrchr(path, '\\');
	snprintf(buf, len, "%s", base ? base + 1 : path);
	return buf;
}

int64_t cli_now_ns(void)
{
	static LARGE_INTEGER freq;
	LARGE_INTEGER t;

	if (!freq.QuadPart)
		QueryPerformanceFrequency(&freq);
	QueryPerformanceCounter(&t);
	return (int64_t)(t.QuadPart / freq.QuadPart) * 1000000000 +
	       (int64_t)(t.QuadPart % freq.QuadPart) * 1000000000 /
		       freq.QuadPart;
}

void cli_sleep_ns(int64_t ns)
{
	Sleep((DWORD)((ns + 999999) / 1000000));
}

static volatile int *stop_flag;

static BOOL WINAPI on_ctrl(DWORD ev)
{
	if (!stop_flag)
		return FALSE;
	*stop_flag = ev == CTRL_C_EVENT || ev == CTRL_BREAK_EVENT ? SIGINT
								   : SIGTERM;
	/* For a close, logoff or shutdown, returning ends the process at
	 * once: give the main thread a moment to close what it holds. */
	if (ev != CTRL_C_EVENT && ev != CTRL_BREAK_EVENT)
		Sleep(500);
	return TRUE;
}

void cli_catch_stops(volatile int *flag)
{
	stop_flag = flag;
	SetConsoleCtrlHandler(on_ctrl, TRUE);
}

void cli_ignore_sigpipe(void)
{
}

long cli_getline(char **line, size_t *cap, FILE *f)
{
	size_t n = 0;
	int c;

	if (!*line || *cap < 2) {
		char *p = realloc(*line, 128);
		if (!p)
			return -1;
		*line = p;
		*cap = 128;
	}
	while ((c = getc(f)) != EOF) {
		if (n + 2 > *cap) {
			char *p = realloc(*line, *cap * 2);
			if (!p)
				return -1;
			*line = p;
			*cap *= 2;
		}
		(*line)[n++] = (char)c;
		if (c == '\n')
			break;
	}
	(*line)[n] = '\0';
	return n == 0 && c == EOF ? -1 : (long)n;
}

/* One [...] set at p (after the '['): whether c is in it; *end past ']',
 * or NULL for a set that never closes (then '[' is literal). */
static bool in_set(const char *p, char c, const char **end)
{
	bool neg = *p == '!' || *p == '^', hit = false;
	const char *q = p + neg;

	if (*q == ']')
		hit = c == ']', q++;
	for (; *q && *q != ']'; q++) {
		if (q[1] == '-' && q[2] && q[2] != ']') {
			hit |= c >= q[0] && c <= q[2];
			q += 2;
		} else {
			hit |= c == *q;
		}
	}
	*end = *q == ']' ? q + 1 : NULL;
	return hit != neg;
}

int cli_fnmatch(const char *pat, const char *s)
{
	const char *end;

	for (; *pat; pat++, s++) {
		if (*pat == '*') {
			while (*pat == '*')
				pat++;
			if (!*pat)
				return 0;
			for (; *s; s++)
				if (!cli_fnmatch(pat, s))
					return 0;
			return 1;
		}
		if (!*s)
			return 1;
		if (*pat == '?')
			continue;
		if (*pat == '[') {
			bool hit = in_set(pat + 1, *s, &end);
			if (end) {
				if (!hit)
					return 1;
				pat = end - 1;
				continue;
			}
		}
		if (*pat != *s)
			return 1;
	}
	return *s ? 1 : 0;
}

bool cli_localtime(int64_t t, struct tm *out)
{
	__time64_t tt = (__time64_t)t;

	return _localtime64_s(out, &tt) == 0;
}

bool cli_stdout_is_tty(void)
{
	return _isatty(_fileno(stdout)) != 0;
}

bool cli_stdin_file_left(uint64_t *left)
{
	struct _stati64 st;
	__int64 pos;

	if (_fstati64(_fileno(stdin), &st) < 0 || !(st.st_mode & _S_IFREG))
		return false;
	pos = _telli64(_fileno(stdin));
	if (pos < 0)
		return false;
	*left = st.st_size > pos ? (uint64_t)(st.st_size - pos) : 0;
	return true;
}

/* -- create --hold ------------------------------------------------------- */

/* Append arg to the command line at *pos, quoted as the C runtime's
 * argument parser reads it back (backslashes doubled before a quote). */
static int quote_arg(char *buf, size_t len, size_t *pos, const char *arg)
{
	size_t i, slashes = 0;
	bool q = !*arg || strpbrk(arg, " \t\"") != NULL;

#define PUT(ch)                                                               \
	do {                                                                  \
		if (*pos + 1 >= len)                                          \
			return -E2BIG;                                        \
		buf[(*pos)++] = (ch);                                         \
	} while (0)
	if (*pos)
		PUT(' ');
	if (q)
		PUT('"');
	for (i = 0; arg[i]; i++) {
		if (arg[i] == '\\') {
			slashes++;
			PUT('\\');
			continue;
		}
		if (arg[i] == '"') {
			while (slashes--)
				PUT('\\');
			PUT('\\');
		}
		slashes = 0;
		PUT(arg[i]);
	}
	if (q) {
		while (slashes--)
			PUT('\\');
		PUT('"');
	}
	buf[*pos] = '\0';
#undef PUT
	return 0;
}

int cli_win_spawn(char *const *argv, HANDLE *ret_proc)
{
	char cmdline[32768];
	STARTUPINFOA si;
	PROCESS_INFORMATION pi;
	size_t pos = 0;
	int i, r;

	cmdline[0] = '\0';
	for (i = 0; argv[i]; i++) {
		r = quote_arg(cmdline, sizeof(cmdline), &pos, argv[i]);
		if (r < 0)
			return r;
	}
	memset(&si, 0, sizeof(si));
	si.cb = sizeof(si);
	fflush(stdout);
	fflush(stderr);
	if (!CreateProcessA(NULL, cmdline, NULL, NULL, TRUE, 0, NULL, NULL,
			    &si, &pi))
		return GetLastError() == ERROR_FILE_NOT_FOUND ||
				       GetLastError() == ERROR_PATH_NOT_FOUND
			       ? -ENOENT
			       : -EACCES;
	CloseHandle(pi.hThread);
	*ret_proc = pi.hProcess;
	return 0;
}

int cli_win_self(char *buf, size_t len)
{
	DWORD n = GetModuleFileNameA(NULL, buf, (DWORD)len);

	return n == 0 || n >= len ? -ENAMETOOLONG : 0;
}

static volatile int hold_stop;

/* The end of stdin, read on a thread of its own so that the main thread
 * can watch for Ctrl-C at the same time. */
static DWORD WINAPI read_to_eof(void *arg)
{
	char buf[256];

	(void)arg;
	while (_read(_fileno(stdin), buf, sizeof(buf)) > 0)
		;
	return 0;
}

int cli_hold(const char *what, shmkit_seg *seg, char **cmd)
{
	char shown[SHMKIT_SPEC_MAX];
	HANDLE proc, eof;
	DWORD code = 0;
	int r;

	cli_printable(shmkit_spec(seg), shown, sizeof(shown));
	if (cmd) {
		if (!SetEnvironmentVariableA("SHMKIT_SPEC", shmkit_spec(seg)))
			return cli_errf("%s: SHMKIT_SPEC: cannot set it",
					what);
		r = cli_win_spawn(cmd, &proc);
		if (r < 0) {
			cli_errf("%s: %s: %s", what, cmd[0], strerror(-r));
			return r == -ENOENT ? 127 : 126;
		}
		/* Ctrl-C reaches CMD from the console; we wait for it. */
		cli_catch_stops(&hold_stop);
		WaitForSingleObject(proc, INFINITE);
		GetExitCodeProcess(proc, &code);
		CloseHandle(proc);
		return (int)(code & 0xff);
	}
	printf("%s\n", shmkit_spec(seg));
	fflush(stdout);
	fprintf(stderr, "shmkit: %s: holding %s until Ctrl-C or the end "
			"of stdin (it dies with its last handle)\n",
		what, shown);
	cli_catch_stops(&hold_stop);
	eof = CreateThread(NULL, 0, read_to_eof, NULL, 0, NULL);
	while (!hold_stop &&
	       (!eof || WaitForSingleObject(eof, 100) == WAIT_TIMEOUT))
		if (!eof)
			Sleep(100);
	if (eof)
		CloseHandle(eof); /* a thread still reading ends with us */
	fprintf(stderr, "shmkit: %s: released %s\n", what, shown);
	return CLI_OK;
}
