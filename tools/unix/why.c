/*
 * why.c (Unix): what the explanations of tools/cli_why.c find on a Unix
 * host: the directory a file: path lacks (lstat), whose a refused segment
 * is (shmkit_stat, the passwd and group names), what a file: path turned
 * out to be, and the limit a create ran into: the size of /dev/shm or of
 * the file's filesystem (statfs, statvfs), kernel.shmmax and shmall, the
 * host's memory (sysinfo), the huge pages reserved (/proc/meminfo). It
 * runs only after a failure and changes nothing.
 */
#include "../cli_why_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define TMPFS_MAGIC 0x01021994
#define EXT4_MAGIC 0xef53 /* ext2, ext3 and ext4 alike */

static const char *file_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	}
	return "not a regular file";
}

/* -- a segment that is not there ---------------------------------------- */

void cli__why_missing(cli_why *w, const char *spec, bool creating)
{
	char dir[PATH_MAX];
	const char *path = file_path(spec), *hash;
	struct stat st;

	if (path) {
		dir_of(path, dir, sizeof(dir));
		if (lstat(dir, &st) < 0)
			set_hint(w, "the directory %s does not exist", dir);
		else if (!S_ISDIR(st.st_mode))
			set_hint(w, "%s is %s, not a directory", dir,
				 file_type(st.st_mode));
		else
			set_hint(w, "there is no file %s", path);
		return;
	}
	if (is_posix(spec) && creating) {
		w->hint = "there is no /dev/shm: this host has no POSIX shared "
			  "memory mounted";
		return;
	}
	if (is_posix(spec)) {
		set_hint(w, "nothing is named /dev/shm%s; 'shmkit ls --posix' "
			    "lists the POSIX segments",
			 spec[0] == '/' ? spec : spec + 6);
		return;
	}
	if (!has_prefix(spec, "sysv:"))
		return;
	spec += 5;
	if (has_prefix(spec, "id=")) {
		set_hint(w, "no System V segment has id %s; 'shmkit ls --sysv' "
			    "lists them", spec + 3);
		return;
	}
	hash = strrchr(spec, '#');
	if (hash) {
		char p[PATH_MAX];
		key_t key;

		snprintf(p, sizeof(p), "%.*s", (int)(hash - spec), spec);
		key = ftok(p, atoi(hash + 1));
		if (key == (key_t)-1)
			set_hint(w, "ftok() needs an existing PATH: %s: %s", p,
				 strerror(errno));
		else
			set_hint(w, "no System V segment has key 0x%08x, the "
				    "key ftok() gives for %s and project %s; "
				    "'shmkit ls --sysv' lists the keys in use",
				 (unsigned)key, p, hash + 1);
		return;
	}
	set_hint(w, "no System V segment has key %s; 'shmkit ls --sysv' lists "
		    "the keys in use", spec);
}

/* -- a segment we may not use ------------------------------------------- */

void cli__why_refused(cli_why *w, const char *cmd, const char *spec,
		      bool creating)
{
	char user[CLI_NAME_BUF], me[CLI_NAME_BUF], group[CLI_NAME_BUF];
	char dir[PATH_MAX];
	const char *where = home_dir(spec, dir, sizeof(dir));
	shmkit_info *in = NULL;

	if (creating) {
		if (access(where, W_OK | X_OK) < 0)
			set_hint(w, "you (%s, uid %u) may not create anything "
				    "in %s",
				 cli_user_name(geteuid(), me),
				 (unsigned)geteuid(), where);
		return;
	}
	in = malloc(sizeof(*in));
	if (in && shmkit_stat(spec, in) == 0) {
		size_t pos = 0;

		cli_appendf(w->hint_buf, sizeof(w->hint_buf), &pos,
			    "it is owned by %s (uid %u), group %s, mode %04o; "
			    "you are %s (uid %u)",
			    cli_user_name(in->uid, user), (unsigned)in->uid,
			    cli_group_name(in->gid, group), in->mode,
			    cli_user_name(geteuid(), me), (unsigned)geteuid());
		if (!strcmp(cmd, "rm") && has_prefix(spec, "sysv:"))
			cli_appendf(w->hint_buf, sizeof(w->hint_buf), &pos,
				    "; only its owner, its creator or "
				    "CAP_SYS_ADMIN may remove it");
		else if (!strcmp(cmd, "rm"))
			cli_appendf(w->hint_buf, sizeof(w->hint_buf), &pos,
				    "; removing it takes write permission on "
				    "%s, and owning it where that is sticky",
				    where);
		w->hint = w->hint_buf;
	} else if (file_path(spec)) {
		set_hint(w, "you may not search a directory on the way to %s, "
			    "or may not open it",
			 file_path(spec));
	} else {
		w->hint = "check the segment's owner and mode with 'shmkit "
			  "info'";
	}
	free(in);
}

/* -- what a file: path turned out to be --------------------------------- */

void cli__why_not_regular(cli_why *w, const char *spec, int err)
{
	const char *path = file_path(spec);
	char target[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (err == ENODATA && !path) {
		w->hint = "its size is 0: it is still being made, or it was "
			  "emptied";
		return;
	}
	if (has_prefix(spec, "fd:")) {
		if (fstat(atoi(spec + 3), &st) < 0 || S_ISREG(st.st_mode))
			return;
		w->why = "not a regular file";
		set_hint(w, "descriptor %s is %s; only a regular file or a "
			    "memfd can be a segment",
			 spec + 3, file_type(st.st_mode));
		return;
	}
	if (!path || lstat(path, &st) < 0)
		return;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		w->why = "a symbolic link, and file: paths are never followed";
		if (n > 0)
			set_hint(w, "it points to %s; name the file itself",
				 target);
		else
			w->hint = "name the file itself";
	} else if (!S_ISREG(st.st_mode)) {
		w->why = "not a regular file";
		set_hint(w, "%s is %s; only a regular file can be a segment",
			 path, file_type(st.st_mode));
	} else if (err == ENODEV) {
		w->why = "its filesystem cannot map files shared";
		set_hint(w, "mmap(MAP_SHARED) of %s is refused (ENODEV)", path);
	} else if (err == ENODATA) {
		w->why = "an empty file";
		w->hint = "a segment has a size; 'shmkit create file:PATH SIZE' "
			  "makes one";
	}
}

/* -- limits at create ---------------------------------------------------- */

/* RAM + swap, as the library's memfd check counts it; 0 if unknown. */
static uint64_t host_memory(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return 0;
	return ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
}

/* One number from /proc/sys/kernel/NAME; false if unreadable. */
static bool kernel_value(const char *name, uint64_t *out)
{
	char path[64];
	unsigned long long v;
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fscanf(f, "%llu", &v) == 1;
	fclose(f);
	if (ok)
		*out = v;
	return ok;
}

/* Huge pages from /proc/meminfo: false if the host reports none. */
static bool huge_pages(uint64_t *total, uint64_t *avail, uint64_t *unit)
{
	char line[128];
	unsigned long long v;
	int seen = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "HugePages_Total: %llu", &v) == 1)
			*total = v, seen |= 1;
		else if (sscanf(line, "HugePages_Free: %llu", &v) == 1)
			*avail = v, seen |= 2;
		else if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1)
			*unit = v * 1024, seen |= 4;
	}
	fclose(f);
	return seen == 7 && *unit > 0;
}

static bool huge_limit(cli_why *w, uint64_t size)
{
	uint64_t total = 0, avail = 0, unit = 0;
	char a[CLI_SIZE_BUF], b[CLI_SIZE_BUF];

	if (!huge_pages(&total, &avail, &unit))
		return false;
	if (size / unit + (size % unit != 0) > avail)
		set_why(w, "the size asked for (%s) exceeds the free huge "
			   "pages",
			cli_format_size(size, a));
	set_hint(w, "%llu of %llu huge pages of %s are free; "
		    "/proc/sys/vm/nr_hugepages reserves them",
		 (unsigned long long)avail, (unsigned long long)total,
		 cli_format_size(unit, b));
	return true;
}

/* The filesystem that holds dir (called what in the message): how large it
 * is, how much is free, how large a file it allows. */
static bool fs_limit(cli_why *w, const char *what, const char *dir,
		     uint64_t size, int err)
{
	char a[CLI_SIZE_BUF], t[CLI_SIZE_BUF], f[CLI_SIZE_BUF];
	struct statvfs sv;
	struct statfs sf;
	uint64_t total, avail;
	bool tmpfs;
	long bits;

	cli_format_size(size, a);
	if (err == EFBIG) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_FSIZE, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY && size > rl.rlim_cur) {
			set_why(w, "the size asked for (%s) exceeds this "
				   "process's file size limit",
				a);
			set_hint(w, "ulimit -f allows %s",
				 cli_format_size(rl.rlim_cur, t));
			return true;
		}
		bits = pathconf(dir, _PC_FILESIZEBITS);
		set_why(w, "the size asked for (%s) exceeds the largest file "
			   "%s allows",
			a, what);
		if (statfs(dir, &sf) == 0 && sf.f_type == EXT4_MAGIC)
			set_hint(w, "it is ext2/3/4 with %s blocks, whose files "
				    "stop at 2^32 blocks: %s",
				 cli_format_size((uint64_t)sf.f_bsize, t),
				 cli_format_size((uint64_t)sf.f_bsize << 32,
						 f));
		else if (bits > 1 && bits < 64)
			set_hint(w, "files there are smaller than 2^%ld bytes",
				 bits - 1);
		return true;
	}
	if (statvfs(dir, &sv) < 0)
		return false;
	tmpfs = statfs(dir, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
	total = (uint64_t)sv.f_blocks * sv.f_frsize;
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (total == 0) /* a tmpfs with no size limit of its own */
		return false;
	cli_format_size(total, t);
	cli_format_size(avail, f);
	if (size > total)
		set_why(w, "the size asked for (%s) exceeds the size of %s", a,
			what);
	else if (size > avail)
		set_why(w, "the size asked for (%s) exceeds the free space on "
			   "%s",
			a, what);
	else
		w->why = shmkit_strerror(err);
	if (size > avail && tmpfs)
		set_hint(w, "%s is a tmpfs of %s with %s free; its size= mount "
			    "option sets the limit",
			 what, t, f);
	else if (size > avail)
		set_hint(w, "%s is %s with %s free", what, t, f);
	else
		set_hint(w, "%s has %s free of %s, enough for %s: the limit "
			    "reached is likely this cgroup's memory limit "
			    "(memory.max) or the host's memory",
			 what, f, t, a);
	return true;
}

static bool sysv_limit(cli_why *w, uint64_t size, int err)
{
	char a[CLI_SIZE_BUF], mx[CLI_SIZE_BUF], al[CLI_SIZE_BUF];
	char m[CLI_SIZE_BUF];
	uint64_t shmmax = 0, shmall = 0, shmmni = 0, all, mem = host_memory();
	long page = sysconf(_SC_PAGESIZE);

	if (!kernel_value("shmmax", &shmmax) ||
	    !kernel_value("shmall", &shmall))
		return false;
	(void)kernel_value("shmmni", &shmmni);
	all = page > 0 && shmall <= UINT64_MAX / (uint64_t)page
		      ? shmall * (uint64_t)page
		      : UINT64_MAX;
	cli_format_size(size, a);
	cli_format_size(shmmax, mx);
	cli_format_size(all, al);
	cli_format_size(mem, m);
	if (size > shmmax)
		set_why(w, "the size asked for (%s) exceeds kernel.shmmax", a);
	else if (size > all)
		set_why(w, "the size asked for (%s) exceeds kernel.shmall", a);
	else if (err == ENOMEM && mem && size > mem)
		set_why(w, "the size asked for (%s) exceeds the host's memory",
			a);
	else if (err == ENOSPC)
		w->why = "no room for another System V segment";
	else if (err == EINVAL)
		return false; /* not a size the kernel refused */
	else
		w->why = shmkit_strerror(err);
	if (err == ENOSPC && size <= all)
		set_hint(w, "all System V segments together would exceed "
			    "kernel.shmall (%s), or kernel.shmmni (%llu "
			    "segments) is reached; 'shmkit ls --sysv' lists "
			    "them",
			 al, (unsigned long long)shmmni);
	else
		set_hint(w, "kernel.shmmax, the largest segment, is %s; "
			    "kernel.shmall, all segments together, is %s; RAM "
			    "+ swap is %s",
			 mx, al, m);
	return true;
}

static bool memory_limit(cli_why *w, uint64_t size)
{
	char a[CLI_SIZE_BUF], m[CLI_SIZE_BUF];
	uint64_t mem = host_memory();

	if (!mem)
		return false;
	if (size > mem)
		set_why(w, "the size asked for (%s) exceeds the host's memory",
			cli_format_size(size, a));
	set_hint(w, "RAM + swap is %s; a memfd: segment lives in memory",
		 cli_format_size(mem, m));
	return true;
}

/* The limit a create of size ran into; false if there is none to name. */
bool cli__why_create_limit(cli_why *w, const char *spec, uint64_t size,
			   unsigned flags, int err)
{
	char dir[PATH_MAX];

	if (err == EFBIG && size > (uint64_t)INT64_MAX) {
		set_hint(w, "a segment is at most %lld bytes (8E - 1), the "
			    "largest file offset",
			 (long long)INT64_MAX);
		return true;
	}
	if ((flags & SHMKIT_F_HUGE) && (err == ENOMEM || err == ENOSPC))
		return huge_limit(w, size);
	if (has_prefix(spec, "sysv:") &&
	    (err == ENOSPC || err == ENOMEM || err == EINVAL))
		return sysv_limit(w, size, err);
	if (err != ENOSPC && err != ENOMEM && err != EFBIG)
		return false;
	if (has_prefix(spec, "memfd:"))
		return memory_limit(w, size);
	if (is_posix(spec))
		return fs_limit(w, "/dev/shm", "/dev/shm", size, err);
	if (file_path(spec)) {
		char what[PATH_MAX + 32];

		home_dir(spec, dir, sizeof(dir));
		snprintf(what, sizeof(what), "the filesystem of %s", dir);
		return fs_limit(w, what, dir, size, err);
	}
	return false;
}


/* Nothing Unix-specific comes before the shared table. */
bool cli__why_platform(cli_why *w, const char *cmd, const char *spec,
		       int err)
{
	(void)w;
	(void)cmd;
	(void)spec;
	(void)err;
	return false;
}
