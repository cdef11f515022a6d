/*
 * cli.h: what the subcommands of the `shmkit` tool share.
 *
 * The tool is a thin front over the public API (shmkit.h) and nothing else:
 * it never includes src/ headers, so it shows what a user of the library can
 * do. Each subcommand is `int cmd_x(int argc, char **argv)` with argv[0] the
 * subcommand's name; it returns the exit status:
 *
 *   CLI_OK (0)     done
 *   CLI_FAIL (1)   the operation failed
 *   CLI_USAGE (2)  bad command line
 *
 * Errors go to stderr as "shmkit: <what>: <why>", and about a segment as
 * "shmkit: <cmd>: <spec>: <why> (<hint>)": <why> names what was wrong
 * (shmkit_strerror() of the error, or a more exact reason), the hint what
 * is allowed or what to check. Normal output goes to stdout; main() checks
 * that it was written.
 */
#ifndef SHMKIT_CLI_H
#define SHMKIT_CLI_H

#include "shmkit.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

#if defined(__GNUC__) && defined(_WIN32)
/* mingw's printf is the C99 one (__USE_MINGW_ANSI_STDIO): %zu, %lld. */
#define CLI_PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#define CLI_NORETURN __attribute__((noreturn))
#elif defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CLI_NORETURN __attribute__((noreturn))
#else
#define CLI_PRINTF(a, b)
#define CLI_NORETURN
#endif

/* -- Messages ------------------------------------------------------------ */

/* "shmkit: <what>: <shmkit_strerror(err)>"; returns CLI_FAIL. */
int cli_err(const char *what, int err);

/* "shmkit: <formatted>"; returns CLI_FAIL. */
int cli_errf(const char *fmt, ...) CLI_PRINTF(1, 2);

/*
 * "shmkit: <cmd>: <formatted>" and "Try 'shmkit <cmd> --help'." on stderr;
 * returns CLI_USAGE.
 */
int cli_usage_err(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);

/* cli_errf(), then exit(status). */
CLI_NORETURN void cli_die(int status, const char *fmt, ...) CLI_PRINTF(2, 3);

/*
 * Why an operation on a segment failed, in words a user can act on
 * (tools/cli_why.c): why is the reason, hint what to check or do, or NULL.
 * A malformed spec is explained by shmkit_spec_check(); other errors by
 * what was found on the host (the owner and mode of a segment refused, the
 * directory a file: path lacks, the limit a create ran into, ...).
 */
#define CLI_WHY_BUF 256
#define CLI_HINT_BUF 1024
typedef struct cli_why {
	const char *why;
	const char *hint;
	char why_buf[CLI_WHY_BUF];
	char hint_buf[CLI_HINT_BUF];
} cli_why;

/* Explain err from subcommand cmd on spec. */
void cli_seg_why(cli_why *w, const char *cmd, const char *spec, int err);

/* Explain err from creating spec with size bytes and SHMKIT_F_* flags:
 * as cli_seg_why(), and for ENOSPC, ENOMEM, EFBIG (and System V's EINVAL)
 * the limit that the size asked for exceeds. */
void cli_create_why(cli_why *w, const char *spec, uint64_t size,
		    unsigned flags, int err);

/* Print "shmkit: <cmd>: <spec>: <why> (<hint>)"; returns CLI_FAIL. */
int cli_why_print(const char *cmd, const char *spec, const cli_why *w);

/* cli_seg_why() and cli_why_print(): a failed operation on a segment. */
int cli_seg_err(const char *cmd, const char *spec, int err);

/* cli_create_why() and cli_why_print() for `create`. */
int cli_create_err(const char *spec, uint64_t size, unsigned flags, int err);

/* -- Numbers and sizes --------------------------------------------------- */

/*
 * Parse a size: "4096", "4K", "64M", "2G", "1.5M", "1T"; suffixes K M G T P
 * E in any case, optionally followed by "B" or "iB", are powers of 1024 (so
 * "1KB" is 1024 bytes); a plain "B" means bytes. A fraction must come to a
 * whole number of bytes. Returns 0, -EINVAL (malformed), -EDOM (not whole
 * bytes, "1.1K") or -ERANGE (over UINT64_MAX).
 */
int cli_parse_size(const char *s, uint64_t *out);

/* Parse a size operand or option value (what names it in the message:
 * "SIZE", "--offset"); prints the usage error itself and returns CLI_USAGE,
 * or 0. zero_ok: 0 is allowed (the message then says "0 or more"). */
int cli_size_arg(const char *cmd, const char *what, const char *s,
		 bool zero_ok, uint64_t *out);

/* Parse permission bits in octal ("0640", "640"), at most 0777. */
int cli_parse_mode(const char *s, unsigned *out);

/* "512B", "4K", "1.5M", "64M", "2G": binary units, at most one decimal. */
#define CLI_SIZE_BUF 24
const char *cli_format_size(uint64_t bytes, char buf[CLI_SIZE_BUF]);

/* -- Option parsing ------------------------------------------------------ */

/*
 * A small getopt for subcommands, so every one of them treats the command
 * line alike: "--name", "--name=value", "--name value", "-x", "-x value";
 * "--" ends the options; a lone "-" is an operand. Options and operands may
 * be mixed.
 */
typedef struct cli_opt {
	const char *name; /* long name without "--" */
	int shortname;    /* 'x' for -x, or 0 */
	bool has_arg;
	int id;           /* returned by cli_next(); > 0 */
} cli_opt;

typedef struct cli_args {
	const char *cmd; /* for messages */
	int argc;
	char **argv;
	int i;
	bool no_more_opts;
	/* "-1", "-5K" are operands, not options: set by a command that takes
	 * a number operand, so that a negative one is refused as a number. */
	bool numbers_are_operands;
	const char *arg; /* option value, or the operand for CLI_ARG_OPERAND */
} cli_args;

#define CLI_ARG_END 0
#define CLI_ARG_OPERAND (-1)
#define CLI_ARG_BAD (-2) /* a usage message was printed */

/* Start after argv[0] (the subcommand's name). */
void cli_args_init(cli_args *a, int argc, char **argv);

/* The next option's id, CLI_ARG_OPERAND, CLI_ARG_END or CLI_ARG_BAD.
 * opts ends with an entry whose name is NULL. */
int cli_next(cli_args *a, const cli_opt *opts);

/* -- Output helpers ------------------------------------------------------ */

/* Print s as a JSON string, quoted and escaped (invalid UTF-8 as U+FFFD). */
void cli_json_string(FILE *f, const char *s);

/* Local time "YYYY-MM-DD HH:MM"; "-" for 0. */
#define CLI_TIME_BUF 32
const char *cli_format_time(int64_t t, char buf[CLI_TIME_BUF]);

/* A user name, or the number when there is none. */
#define CLI_NAME_BUF 64
const char *cli_user_name(shmkit_uid_t uid, char buf[CLI_NAME_BUF]);
const char *cli_group_name(shmkit_gid_t gid, char buf[CLI_NAME_BUF]);

/* Copy s for a terminal: control characters become '?'. */
void cli_printable(const char *s, char *buf, size_t len);

/* Append to the string in buf[len] at *pos, truncating at the end. */
void cli_appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	CLI_PRINTF(4, 5);

/* A process's command name (/proc/PID/comm), or "?" if gone or hidden. */
const char *cli_proc_comm(pid_t pid, char *buf, size_t len);

/*
 * Every process that maps spec, as shmkit_who() sees them: *ret_pids is
 * malloc'd (free it), the count returned; or a negative errno. Asks again
 * while the count grows under it, a few times.
 */
int cli_who_all(const char *spec, pid_t **ret_pids);

/*
 * A text table: columns sized to their widest cell, two spaces apart, the
 * last column unpadded. align is one letter per column, 'l' or 'r'.
 */
typedef struct cli_table {
	size_t ncols, nrows, cap;
	const char *align;
	char **cells; /* nrows * ncols, row 0 is the header; owned */
	bool oom;
} cli_table;

void cli_table_init(cli_table *t, size_t ncols, const char *align);
/* Add a row of ncols strings (copied). A failed copy is remembered and
 * reported by cli_table_print(). */
void cli_table_add(cli_table *t, const char *const *cells);
/* Print with indent spaces before each row; -ENOMEM if a row was lost. */
int cli_table_print(const cli_table *t, FILE *f, int indent);
void cli_table_free(cli_table *t);

/* -- What differs by platform (tools/unix/os.c, tools/win/os.c) ---------- */

/*
 * The build picks one of tools/unix/ and tools/win/ (as src/ does); the
 * commands call these and stay one source. On Windows there are no uids
 * (the effective user is 0, as shmkit_stat() reports every owner), no
 * signals but the console's Ctrl-C, and stdin and stdout start in text
 * mode, which cli_os_init() turns off so that cat and write copy bytes.
 */

/* Called by main() before anything else. */
void cli_os_init(void);

/* The effective user id; 0 on Windows. */
shmkit_uid_t cli_euid(void);

/* Monotonic time in nanoseconds. */
int64_t cli_now_ns(void);

/* Sleep for ns nanoseconds (less if a stop comes, see cli_catch_stops). */
void cli_sleep_ns(int64_t ns);

/*
 * From now on a request to stop (SIGINT, SIGTERM, SIGHUP) sets *flag to
 * the signal's number instead of killing this process, so that it can
 * close what it holds. On Windows the console's Ctrl-C and Ctrl-Break
 * count as SIGINT and its closing as SIGTERM, and the flag is set from
 * another thread: poll it (cli_sleep_ns() slices), never wait on it alone.
 */
void cli_catch_stops(volatile int *flag);

/* A write to a pipe nobody reads fails with EPIPE instead of killing
 * this process (SIGPIPE ignored); nothing to do on Windows. */
void cli_ignore_sigpipe(void);

/* getline(3): a line with its newline into *line (malloc'd, grown);
 * its length, or -1 at the end of input or on error (errno). */
long cli_getline(char **line, size_t *cap, FILE *f);

/* fnmatch(3) of a shell pattern without flags: 0 on a match. Windows:
 * '*', '?' and '[...]' ('!' or '^' negates). */
int cli_fnmatch(const char *pat, const char *s);

/* localtime_r(3): false if t cannot be shown. */
struct tm;
bool cli_localtime(int64_t t, struct tm *out);

/* Whether stdout is a terminal. */
bool cli_stdout_is_tty(void);

/* When stdin is a regular file: true, and *left the bytes from its
 * position to its end. False for a pipe, a terminal, nothing. */
bool cli_stdin_file_left(uint64_t *left);

/*
 * `create --hold` (and on Windows `chan create --hold`): keep seg attached
 * while cmd (argv, NULL-terminated) runs with SHMKIT_SPEC in its
 * environment, and return its exit status as a shell gives it (126 or 127
 * if it could not be run). cmd NULL (Windows only): print the spec, hold
 * until a stop (Ctrl-C) or the end of stdin, then CLI_OK. what names the
 * command in messages ("create").
 */
int cli_hold(const char *what, shmkit_seg *seg, char **cmd);

/* -- What Windows cannot do ------------------------------------------------ */

/* "not available on Windows: <why>" for a command that cannot work there;
 * returns CLI_FAIL. */
int cli_not_here(const char *cmd, const char *why);

/* -- The listing of ls and top (tools/cmd_ls.c) --------------------------- */

/* Which segments to list: backends (none set: all, posix and sysv, and
 * file from dirs; on Windows win, and no dirs), directories for file:
 * segments, shell globs on the spec or the name (none: all). */
typedef struct cli_filter {
	bool posix, sysv, file, win;
	const char **dirs; /* argv strings, not owned */
	size_t ndirs;
	const char **pats;
	size_t npats;
} cli_filter;

/* --backend NAME: a usage error (returned) for what cannot be listed,
 * CLI_FAIL once printed for what this platform cannot list. */
int cli_filter_backend(const char *cmd, cli_filter *f, const char *name);
/* Add a --dir or a PATTERN; -ENOMEM. */
int cli_filter_dir(cli_filter *f, const char *dir);
int cli_filter_pattern(cli_filter *f, const char *pat);
/* A usage error for a filter that cannot work (--backend file, no --dir;
 * on Windows posix or sysv), CLI_FAIL once printed for --dir on Windows. */
int cli_filter_check(const char *cmd, const cli_filter *f);
void cli_filter_free(cli_filter *f);

/* What a segment holds, as ls shows it. */
#define CLI_KIND_UNKNOWN (-1) /* not looked at (System V, unreadable) */
#define CLI_KIND_SEGMENT 0
#define CLI_KIND_CHANNEL 1
#define CLI_KIND_HEAP 2
/* "segment", "channel", "heap", or "-". */
const char *cli_kind_name(int kind);

typedef struct cli_seglist {
	shmkit_info *v;
	size_t n, cap;
	signed char *kind; /* per segment, with probe: CLI_KIND_* */
} cli_seglist;

/*
 * Fill *l (emptied first) with the segments f selects, sorted (POSIX and
 * file: by spec, System V by id); flags: SHMKIT_LIST_NOPROCS or 0; probe:
 * also fill l->kind. Returns CLI_OK, or CLI_FAIL once the error is printed
 * (as "shmkit: <cmd>: ..."). *l is the caller's to free either way.
 */
int cli_seglist_gather(const char *cmd, const cli_filter *f, unsigned flags,
		       bool probe, cli_seglist *l);
void cli_seglist_free(cli_seglist *l);

/* -- Subcommands --------------------------------------------------------- */

int cmd_ls(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_who(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_top(int argc, char **argv);

/* Channels (tools/chan.c). */
int shmkit_cli_chan(int argc, char **argv);

/* A command group's subcommands ("chan", "heap"). */
typedef struct cli_sub {
	const char *name;
	int (*fn)(int argc, char **argv);
} cli_sub;

/*
 * Run the subcommand argv[1] of group with argv shifted by one; print
 * usage for --help, -h or help; a usage error for none or an unknown one.
 */
int cli_dispatch(const char *group, const cli_sub *subs, size_t n,
		 const char *usage, int argc, char **argv);

/* Heaps (tools/cmd_heap.c). */
int cmd_heap(int argc, char **argv);

#endif /* SHMKIT_CLI_H */
