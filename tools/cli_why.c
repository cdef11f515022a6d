/*
 * cli_why.c: why an operation on a segment failed, in words a user can act
 * on.
 *
 * The library returns an errno, and its text ("Invalid argument", "no such
 * segment") is true but often not enough to act on. Here a failure gets its
 * reason in the user's terms: a malformed spec by shmkit_spec_check() (the
 * parser's own rule, so it cannot drift from what the library accepts); a
 * missing segment by what was looked for where; a refusal by the segment's
 * owner and mode; a create that ran out of room by the limit it hit (the
 * size of /dev/shm or of the file's filesystem, kernel.shmmax and shmall,
 * the host's memory, the huge pages reserved) and that the size asked for
 * exceeds it. All of this runs only after a failure, so it may look around
 * the host (lstat, statvfs, /proc) at leisure; it changes nothing. What
 * looks around is the platform's (tools/unix/why.c, tools/win/why.c); the
 * table, the spec's rules and the printing are shared here.
 */
#include "cli_why_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#ifndef NAME_MAX
#define NAME_MAX 255 /* Windows: a path component, in characters */
#endif

bool cli__why_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

bool cli__why_is_posix(const char *spec)
{
	return has_prefix(spec, "posix:") || spec[0] == '/';
}

/* The path of a file: spec, or NULL. */
const char *cli__why_file_path(const char *spec)
{
	return has_prefix(spec, "file:") ? spec + 5 : NULL;
}

/* The directory part of path ("." when there is none). */
void cli__why_dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n;

#ifdef _WIN32
	if (strrchr(path, '\\') > slash)
		slash = strrchr(path, '\\');
#endif

	if (!slash) {
		snprintf(buf, len, ".");
		return;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
#ifdef _WIN32
	/* In C:\x the directory is the root, C:\ (C: alone would name the
	 * drive's current directory). */
	if (n == 2 && path[1] == ':')
		n = 3;
#endif
	snprintf(buf, len, "%.*s", (int)n, path);
}

/* Where spec's name lives: /dev/shm, or the directory of a file: path. */
const char *cli__why_home_dir(const char *spec, char *buf, size_t len)
{
	const char *path = file_path(spec);

	if (!path)
		return "/dev/shm";
	dir_of(path, buf, len);
	return buf;
}

/* Format into buf and point *dst at it: w's reason or hint. */
void cli__why_set(const char **dst, char *buf, size_t len,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	*dst = buf;
}


/* -- a malformed spec ---------------------------------------------------- */

static void malformed(cli_why *w, const char *spec, const char *rule)
{
	const char *name = has_prefix(spec, "posix:") ? spec + 6 : NULL;

	w->why = rule;
	if (spec[0] == '/' && strchr(spec + 1, '/'))
		set_hint(w, "a path names a file: segment: file:%s", spec);
	else if (name && *name && name[0] != '/' && !strchr(name, '/'))
		set_hint(w, "did you mean posix:/%s?", name);
}

/* -- the table ------------------------------------------------------------ */

static void hint_for(cli_why *w, const char *cmd, const char *spec, int err,
		     bool creating)
{
	if (cli__why_platform(w, cmd, spec, err))
		return;
	if (has_prefix(spec, "anon:") && err == ENOTSUP)
		w->hint = "an anon: segment has no name; only children forked "
			  "after it was made can share it";
	else if (has_prefix(spec, "memfd:") &&
		 (err == ENOENT || err == ENOTSUP))
		w->hint = "a memfd: segment has no global name; it reaches "
			  "other processes by inheritance or by fd passing, "
			  "and outlives only its last holder";
	else if (has_prefix(spec, "fd:") && (err == EBADF || err == ENOTSUP))
		w->hint = "fd:N names a descriptor this process inherited";
	else if (has_prefix(spec, "sysv:private") && err == EINVAL)
		w->hint = "a private System V segment is found by its id: "
			  "sysv:id=N";
	else if (has_prefix(spec, "sysv:id=") && err == EINVAL && creating)
		w->hint = "the kernel hands out ids: create by key "
			  "(sysv:0x1234) or as sysv:private";
	else if (is_posix(spec) && err == ENOTSUP)
		w->hint = "POSIX shared memory has no huge pages; use sysv:, "
			  "memfd: or file: on a hugetlbfs mount";
	else if (has_prefix(spec, "win:") && err == ENOTSUP)
		w->hint = "win: segments exist only on Windows";
	else if (err == ENOENT)
		cli__why_missing(w, spec, creating);
	else if (err == EACCES || err == EPERM)
		cli__why_refused(w, cmd, spec, creating);
	else if (err == ELOOP || err == EINVAL || err == ENODEV ||
		 err == ENODATA || err == EISDIR)
		cli__why_not_regular(w, spec, err);
	else if (err == EEXIST)
		w->hint = "'shmkit info SPEC' describes it, 'shmkit rm SPEC' "
			  "removes it";
	else if (err == ENOTDIR && file_path(spec))
		w->hint = "a component of the path is not a directory";
	else if (err == ENAMETOOLONG && file_path(spec))
		set_hint(w, "a component of the path is longer than NAME_MAX "
			    "(%d bytes)",
			 NAME_MAX);
	else if (err == EBUSY)
		w->hint = "another process holds the segment's lock: 'shmkit "
			  "gc' removing it, or a program locking it; try "
			  "again";
	else if (err == EIDRM)
		w->hint = "the segment was removed meanwhile";
	else if (err == EROFS)
		w->hint = "its filesystem is mounted read-only";
}

static void seg_why(cli_why *w, const char *cmd, const char *spec, int err,
		    bool creating)
{
	const char *rule = shmkit_spec_check(spec);

	w->why = NULL;
	w->hint = NULL;
	w->why_buf[0] = w->hint_buf[0] = '\0';
	if (rule) {
		malformed(w, spec, rule);
		return;
	}
	w->why = shmkit_strerror(err);
	hint_for(w, cmd, spec, err < 0 ? -err : err, creating);
}

void cli_seg_why(cli_why *w, const char *cmd, const char *spec, int err)
{
	seg_why(w, cmd, spec, err, false);
}

void cli_create_why(cli_why *w, const char *spec, uint64_t size,
		    unsigned flags, int err)
{
	int e = err < 0 ? -err : err;

	seg_why(w, "create", spec, err, true);
	if (shmkit_spec_check(spec))
		return;
	if (cli__why_create_limit(w, spec, size, flags, e))
		return;
	if (e == ENOTSUP && file_path(spec) && (flags & SHMKIT_F_HUGE))
		w->hint = "--huge on file: needs a path on a hugetlbfs mount";
	else if (e == ENOTSUP && (flags & SHMKIT_F_EPHEMERAL))
		w->hint = "an ephemeral segment is built with O_TMPFILE and "
			  "marked with a user extended attribute; its "
			  "filesystem must have both (tmpfs, ext4, xfs and "
			  "btrfs do)";
}

/* -- printing ----------------------------------------------------------- */

int cli_why_print(const char *cmd, const char *spec, const cli_why *w)
{
	char shown[SHMKIT_SPEC_MAX], hint[CLI_HINT_BUF], why[CLI_WHY_BUF];

	/* Names and paths come from the user or the host: no raw controls. */
	cli_printable(spec, shown, sizeof(shown));
	cli_printable(w->why ? w->why : "failed", why, sizeof(why));
	if (w->hint) {
		cli_printable(w->hint, hint, sizeof(hint));
		fprintf(stderr, "shmkit: %s: %s: %s (%s)\n", cmd, shown, why,
			hint);
	} else {
		fprintf(stderr, "shmkit: %s: %s: %s\n", cmd, shown, why);
	}
	return CLI_FAIL;
}

int cli_seg_err(const char *cmd, const char *spec, int err)
{
	cli_why w;

	cli_seg_why(&w, cmd, spec, err);
	return cli_why_print(cmd, spec, &w);
}

int cli_create_err(const char *spec, uint64_t size, unsigned flags, int err)
{
	cli_why w;

	cli_create_why(&w, spec, size, flags, err);
	return cli_why_print("create", spec, &w);
}
