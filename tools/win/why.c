/*
 * why.c (Windows): what the explanations of tools/cli_why.c find on
 * Windows. A win: segment is a named paging-file mapping that lives only
 * while some process holds a handle to it, so "not there" usually means
 * its holder went away; the Unix backends do not exist here at all; the
 * limit a create runs into is the system's commit limit (win:) or the
 * free space of the file's disk (file:). It runs only after a failure and
 * changes nothing.
 */
#include "../cli_why_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <windows.h>

static bool unix_only(const char *spec)
{
	return is_posix(spec) || has_prefix(spec, "sysv:") ||
	       has_prefix(spec, "memfd:") || has_prefix(spec, "anon:") ||
	       has_prefix(spec, "fd:");
}

bool cli__why_platform(cli_why *w, const char *cmd, const char *spec,
		       int err)
{
	if (unix_only(spec) && (err == ENOTSUP || err == EINVAL)) {
		set_hint(w, "%.*s segments exist only on Unix; on Windows use "
			    "win:NAME (lives while a process holds it) or "
			    "file:PATH (persists)",
			 (int)(strchr(spec, ':') ? strchr(spec, ':') - spec + 1
						 : 6),
			 strchr(spec, ':') ? spec : "posix:");
		return true;
	}
	if (has_prefix(spec, "win:") && err == ENOTSUP &&
	    (!strcmp(cmd, "rm") || !strcmp(cmd, "chan rm") ||
	     !strcmp(cmd, "heap rm"))) {
		w->hint = "a win: segment cannot be removed: it goes when the "
			  "last process holding it closes it; stop the "
			  "'shmkit create --hold' or 'chan create --hold' that "
			  "keeps it";
		return true;
	}
	if (has_prefix(spec, "win:") && err == ENOTSUP) {
		w->hint = "a win: segment keeps the size it was made with and "
			  "has no huge pages; file: segments can be resized";
		return true;
	}
	return false;
}

void cli__why_missing(cli_why *w, const char *spec, bool creating)
{
	char dir[MAX_PATH];
	const char *path = file_path(spec);
	struct _stati64 st;

	if (path) {
		dir_of(path, dir, sizeof(dir));
		if (_stati64(dir, &st) < 0)
			set_hint(w, "the directory %s does not exist", dir);
		else if (!(st.st_mode & _S_IFDIR))
			set_hint(w, "%s is not a directory", dir);
		else
			set_hint(w, "there is no file %s", path);
		return;
	}
	if (has_prefix(spec, "win:") && !creating)
		set_hint(w, "no process holds a mapping named %s%s: a win: "
			    "segment lives only while one does ('shmkit "
			    "create --hold %s SIZE' keeps one)",
			 strchr(spec + 4, '\\') ? "" : "Local\\", spec + 4,
			 spec);
}

void cli__why_refused(cli_why *w, const char *cmd, const char *spec,
		      bool creating)
{
	(void)cmd;
	if (creating && has_prefix(spec, "win:Global\\"))
		w->hint = "a Global\\ name needs the 'create global objects' "
			  "privilege (SeCreateGlobalPrivilege), which services "
			  "and administrators have; use a Local\\ name (win:NAME)";
	else if (has_prefix(spec, "win:"))
		w->hint = "a win: segment is open to the user who made it "
			  "unless it was made with --mode giving others access";
	else if (file_path(spec))
		set_hint(w, "you may not open %s, or a directory on the way",
			 file_path(spec));
}

void cli__why_not_regular(cli_why *w, const char *spec, int err)
{
	const char *path = file_path(spec);
	struct _stati64 st;

	if (!path || _stati64(path, &st) < 0)
		return;
	if (!(st.st_mode & _S_IFREG)) {
		w->why = "not a regular file";
		set_hint(w, "%s is a directory or a device; only a regular "
			    "file can be a segment",
			 path);
	} else if (err == ENODATA) {
		w->why = "an empty file";
		w->hint = "a segment has a size; 'shmkit create file:PATH SIZE' "
			  "makes one";
	}
}

bool cli__why_create_limit(cli_why *w, const char *spec, uint64_t size,
			   unsigned flags, int err)
{
	char a[CLI_SIZE_BUF], b[CLI_SIZE_BUF], dir[MAX_PATH];
	ULARGE_INTEGER avail;
	MEMORYSTATUSEX ms;

	(void)flags;
	if (err != ENOSPC && err != ENOMEM && err != EFBIG)
		return false;
	cli_format_size(size, a);
	if (file_path(spec)) {
		dir_of(file_path(spec), dir, sizeof(dir));
		if (!GetDiskFreeSpaceExA(dir, &avail, NULL, NULL))
			return false;
		set_why(w, "the size asked for (%s) exceeds the free space on "
			   "the disk of %s",
			a, dir);
		set_hint(w, "%s free", cli_format_size(avail.QuadPart, b));
		return true;
	}
	ms.dwLength = sizeof(ms);
	if (!has_prefix(spec, "win:") || !GlobalMemoryStatusEx(&ms))
		return false;
	set_why(w, "the size asked for (%s) exceeds what the system can "
		   "commit",
		a);
	set_hint(w, "a win: segment is backed by the paging file at create; "
		    "%s of the commit limit is free",
		 cli_format_size(ms.ullAvailPageFile, b));
	return true;
}
