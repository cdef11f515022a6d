/*
 * list.c: introspection. What shared memory exists on this host, whose it
 * is, and which processes map it, without attaching anything.
 *
 * Sources: POSIX segments are the regular files in /dev/shm (fstatat with
 * AT_SYMLINK_NOFOLLOW, so a planted symlink is never followed); System V
 * segments are the rows of /proc/sysvipc/shm, which shows every segment of
 * the IPC namespace whatever its permissions (shmctl(IPC_STAT) would refuse
 * the ones we cannot read).
 *
 * Mapping processes come from /proc/PID/maps. A maps line names the object
 * it maps by "maj:min inode": a /dev/shm file matches by the st_dev/st_ino
 * of that file, and a System V segment shows up as "/SYSV<key> (deleted)"
 * with the shmid as its inode (the key in the name goes stale once the
 * segment is removed; the id does not). The maps of every process are read
 * once per call into a sorted table of (object, pid), never once per
 * segment, and only the lines that can matter are kept. Maps we may not read
 * (other users' processes when not root) are skipped, so nprocs is what this
 * caller can see. For file: segments on filesystems whose stat device is not
 * the one maps prints (btrfs subvolumes, overlayfs), nprocs reads low.
 *
 * shmkit_list_dir() walks one directory for file: segments (never below
 * it, never following a symlink) and reports only the files shmkit made:
 * those that carry its lifetime mark (src/unix/lifetime.c), set at create
 * on every file: segment. Other files are not looked into.
 *
 * Everything is read live and can change under us: a segment or a process
 * that disappears mid-walk is skipped, never an error. There are no statics
 * and no fixed limits; tables grow with realloc and are freed on every path.
 */
#include "../internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SHM_DIR "/dev/shm"
#define SYSV_PROC "/proc/sysvipc/shm"
#define SHM_DEST_BIT 01000u /* SHM_DEST, as /proc/sysvipc/shm prints perms */

enum { OBJ_FILE = 0, OBJ_SYSV = 1 };

/* One object mapped by one process, as seen in /proc/PID/maps. */
typedef struct procmap {
	unsigned kind;    /* OBJ_FILE or OBJ_SYSV */
	dev_t dev;        /* OBJ_FILE: the file's device */
	uint64_t ino;     /* OBJ_FILE: inode; OBJ_SYSV: shmid */
	pid_t pid;
} procmap;

/* After scan(): sorted by (kind, dev, ino, pid), one row per pair. */
typedef struct procmap_table {
	procmap *v;
	size_t n, cap;
} procmap_table;

/* Which maps lines scan() keeps; everything else is dropped as it is read. */
typedef struct scan_filter {
	bool files;      /* files on device dev */
	dev_t dev;
	bool one_ino;    /* ... and only inode ino */
	uint64_t ino;
	bool sysv;       /* System V segments */
	bool one_shmid;  /* ... and only this one */
	int shmid;
} scan_filter;

static int cmp_procmap(const void *a, const void *b)
{
	const procmap *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return 0;
}

static int table_push(procmap_table *t, const procmap *m)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		procmap *v;
		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *m;
	return 0;
}

static const char *skip_field(const char *s)
{
	while (*s && *s != ' ')
		s++;
	while (*s == ' ')
		s++;
	return s;
}

static bool parse_hex(const char **ps, unsigned long *out)
{
	char *end;
	errno = 0;
	*out = strtoul(*ps, &end, 16);
	if (end == *ps || errno)
		return false;
	*ps = end;
	return true;
}

/*
 * Parse "start-end perms offset maj:min inode   path" and decide whether the
 * line maps an object the filter wants.
 */
static bool match_line(const char *line, const scan_filter *f, procmap *m)
{
	unsigned long maj, min;
	unsigned long long ino;
	const char *s = line;
	char *end;
	int i;

	for (i = 0; i < 3; i++) /* range, perms, offset */
		s = skip_field(s);
	if (!parse_hex(&s, &maj) || *s++ != ':' || !parse_hex(&s, &min))
		return false;
	while (*s == ' ')
		s++;
	errno = 0;
	ino = strtoull(s, &end, 10);
	if (end == s || errno || ino == 0)
		return false; /* anonymous memory and the like */
	s = end;
	while (*s == ' ')
		s++;

	if (f->sysv && !strncmp(s, "/SYSV", 5)) {
		if (f->one_shmid && ino != (unsigned long long)f->shmid)
			return false;
		m->kind = OBJ_SYSV;
		m->dev = 0;
		m->ino = ino;
		return true;
	}
	if (f->files && makedev(maj, min) == f->dev) {
		if (f->one_ino && ino != f->ino)
			return false;
		m->kind = OBJ_FILE;
		m->dev = f->dev;
		m->ino = ino;
		return true;
	}
	return false;
}

/* A /proc entry that is a process: its pid, or 0. */
static pid_t proc_pid(const char *s)
{
	long v = 0;

	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > INT_MAX / 10)
			return 0;
		v = v * 10 + (*s - '0');
	}
	return v > INT_MAX ? 0 : (pid_t)v;
}

/* Read one process's maps into t. A process we cannot read is skipped. */
static int scan_pid(int procfd, pid_t pid, const scan_filter *f,
		    procmap_table *t, char **line, size_t *cap)
{
	char path[32];
	procmap m;
	FILE *fp;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%d/maps", (int)pid);
	fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone, or not ours to read */
	fp = fdopen(fd, "r");
	if (!fp) {
		r = -errno;
		shmkit__close(fd);
		return r == -ENOMEM ? r : 0;
	}
	m.pid = pid;
	while (getline(line, cap, fp) > 0) {
		if (match_line(*line, f, &m)) {
			/* Consecutive lines often map the same object. */
			if (t->n && !cmp_procmap(&t->v[t->n - 1], &m))
				continue;
			r = table_push(t, &m);
			if (r < 0)
				break;
		}
	}
	fclose(fp);
	return r;
}

/*
 * Scan /proc/PID/maps of every process into *out, sorted and without
 * duplicates. Returns 0, or a negative errno when /proc cannot be walked
 * (the caller then reports nprocs as unknown) or memory runs out.
 */
static int scan(const scan_filter *f, procmap_table *out)
{
	procmap_table t = {0};
	char *line = NULL;
	size_t cap = 0, i, w;
	struct dirent *de;
	int procfd, r = 0;
	DIR *d = NULL;

	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return -errno;
	d = fdopendir(procfd);
	if (!d) {
		r = -errno;
		shmkit__close(procfd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		pid_t pid = proc_pid(de->d_name);
		if (pid <= 0)
			continue;
		r = scan_pid(procfd, pid, f, &t, &line, &cap);
		if (r < 0)
			break;
	}
	closedir(d);
	free(line);
	if (r < 0) {
		free(t.v);
		return r;
	}
	if (t.n > 1)
		qsort(t.v, t.n, sizeof(*t.v), cmp_procmap);
	for (i = 0, w = 0; i < t.n; i++)
		if (w == 0 || cmp_procmap(&t.v[w - 1], &t.v[i]))
			t.v[w++] = t.v[i];
	t.n = w;
	*out = t;
	return 0;
}

/* How many processes t shows mapping one object: a binary search for the
 * first row of (kind, dev, ino), pid 0 sorting before every pid, then the
 * length of its run. */
static long count_procs(const procmap_table *t, unsigned kind, dev_t dev,
			uint64_t ino)
{
	procmap key = {.kind = kind, .dev = dev, .ino = ino, .pid = 0};
	size_t lo = 0, hi = t->n, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_procmap(&t->v[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + n < t->n && t->v[lo + n].kind == kind &&
	       t->v[lo + n].dev == dev && t->v[lo + n].ino == ino)
		n++;
	return n > LONG_MAX ? LONG_MAX : (long)n;
}

static void info_init(shmkit_info *in, shmkit_backend b)
{
	memset(in, 0, sizeof(*in));
	in->backend = b;
	in->nattch = -1;
	in->nprocs = -1;
	in->shmid = -1;
}

/*
 * SHMKIT_INFO_EPHEMERAL/STALE for the posix or file segment that fstatat()
 * described as *st; 0 when we may not open it, or when what we opened is no
 * longer that file (then nothing is claimed either way). O_NONBLOCK: a FIFO
 * swapped in since the fstatat() must not block the open.
 */
static unsigned life_flags(int dfd, const char *name, const struct stat *st)
{
	struct stat now;
	int fd, r = 0;

	fd = openat(dfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return 0;
	if (fstat(fd, &now) == 0 && S_ISREG(now.st_mode) &&
	    now.st_dev == st->st_dev && now.st_ino == st->st_ino)
		r = shmkit__life_probe(fd);
	shmkit__close(fd);
	return r < 0 ? 0 : (unsigned)r;
}

static void info_from_stat(shmkit_info *in, const struct stat *st)
{
	in->size = st->st_size > 0 ? (uint64_t)st->st_size : 0;
	in->uid = st->st_uid;
	in->gid = st->st_gid;
	in->mode = (unsigned)st->st_mode & 07777u;
	in->mtime = (int64_t)st->st_mtime;
}

/* -- System V: /proc/sysvipc/shm ----------------------------------------- */

/* Parse one row into *in; false for the header or anything unexpected. */
static bool parse_sysv_row(const char *line, shmkit_info *in)
{
	int key, shmid, cpid, lpid;
	unsigned perms, uid, gid, cuid, cgid;
	unsigned long long size;
	unsigned long nattch;
	long long atime, dtime, ctime_;

	if (sscanf(line, "%d %d %o %llu %d %d %lu %u %u %u %u %lld %lld %lld",
		   &key, &shmid, &perms, &size, &cpid, &lpid, &nattch, &uid,
		   &gid, &cuid, &cgid, &atime, &dtime, &ctime_) != 14)
		return false;
	info_init(in, SHMKIT_BACKEND_SYSV);
	snprintf(in->spec, sizeof(in->spec), "sysv:id=%d", shmid);
	in->size = size;
	in->uid = (uid_t)uid;
	in->gid = (gid_t)gid;
	in->mode = perms & 0777u;
	in->nattch = nattch > LONG_MAX ? LONG_MAX : (long)nattch;
	in->key = key;
	in->shmid = shmid;
	in->mtime = ctime_; /* shm_ctime: the last IPC_SET or creation */
	if (perms & SHM_DEST_BIT)
		in->flags |= SHMKIT_INFO_REMOVED;
	return true;
}

/*
 * Call fn for every System V segment until it returns nonzero, and return
 * that. A kernel without System V IPC has no such file, and no segments.
 */
typedef int (*sysv_row_fn)(shmkit_info *in, void *arg);

static int walk_sysv(sysv_row_fn fn, void *arg)
{
	shmkit_info *in = NULL;
	char *line = NULL;
	size_t cap = 0;
	FILE *fp;
	int r = 0;

	fp = fopen(SYSV_PROC, "re");
	if (!fp)
		return errno == ENOENT ? 0 : -errno;
	in = malloc(sizeof(*in));
	if (!in) {
		fclose(fp);
		return -ENOMEM;
	}
	while (getline(&line, &cap, fp) > 0) {
		if (!parse_sysv_row(line, in))
			continue; /* the header */
		r = fn(in, arg);
		if (r)
			break;
	}
	free(line);
	free(in);
	fclose(fp);
	return r;
}

/* -- shmkit_list --------------------------------------------------------- */

typedef struct list_ctx {
	shmkit_list_cb cb;
	void *arg;
	const procmap_table *procs; /* NULL: nprocs unknown */
	int count;
} list_ctx;

static int report(list_ctx *c, shmkit_info *in, unsigned kind, dev_t dev,
		  uint64_t ino)
{
	int r;

	if (c->procs)
		in->nprocs = count_procs(c->procs, kind, dev, ino);
	r = c->cb(in, c->arg);
	if (r)
		return r;
	if (c->count < INT_MAX)
		c->count++;
	return 0;
}

/* A directory stream on dfd (which it takes) and the info buffer a walk
 * fills; on failure dfd is closed. */
static int dir_begin(int dfd, DIR **ret_d, shmkit_info **ret_in)
{
	int r;

	*ret_d = fdopendir(dfd);
	if (!*ret_d) {
		r = -errno;
		shmkit__close(dfd);
		return r;
	}
	*ret_in = malloc(sizeof(**ret_in));
	if (!*ret_in) {
		closedir(*ret_d);
		return -ENOMEM;
	}
	return 0;
}

static int list_posix(list_ctx *c)
{
	shmkit_info *in = NULL;
	struct dirent *de;
	struct stat st;
	int dfd, r = 0;
	DIR *d = NULL;

	dfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno; /* no POSIX shm here */
	r = dir_begin(dfd, &d, &in);
	if (r < 0)
		return r;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* removed since readdir saw it */
			r = -errno;
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		info_init(in, SHMKIT_BACKEND_POSIX);
		if (snprintf(in->spec, sizeof(in->spec), "posix:/%s",
			     de->d_name) >= (int)sizeof(in->spec))
			continue; /* cannot happen: names are <= NAME_MAX */
		info_from_stat(in, &st);
		in->flags |= life_flags(dfd, de->d_name, &st);
		r = report(c, in, OBJ_FILE, st.st_dev, (uint64_t)st.st_ino);
		if (r)
			break;
	}
	free(in);
	closedir(d);
	return r;
}

static int list_sysv_row(shmkit_info *in, void *arg)
{
	return report(arg, in, OBJ_SYSV, 0, (uint64_t)in->shmid);
}

#define LIST_KNOWN (SHMKIT_LIST_POSIX | SHMKIT_LIST_SYSV | SHMKIT_LIST_NOPROCS)

int shmkit_list(unsigned int flags, shmkit_list_cb cb, void *arg)
{
	list_ctx c = {.cb = cb, .arg = arg, .procs = NULL, .count = 0};
	procmap_table procs = {0};
	bool all = !(flags & (SHMKIT_LIST_POSIX | SHMKIT_LIST_SYSV));
	bool posix = all || (flags & SHMKIT_LIST_POSIX);
	bool sysv = all || (flags & SHMKIT_LIST_SYSV);
	int r = 0;

	if (!cb || (flags & ~LIST_KNOWN))
		return -EINVAL;
	if (!(flags & SHMKIT_LIST_NOPROCS)) {
		scan_filter f = {0};
		struct stat st;

		if (posix && stat(SHM_DIR, &st) == 0 && S_ISDIR(st.st_mode)) {
			f.files = true;
			f.dev = st.st_dev;
		}
		f.sysv = sysv;
		r = scan(&f, &procs);
		if (r == -ENOMEM)
			return r;
		if (r == 0)
			c.procs = &procs;
		/* Any other failure: /proc is not there to read, so nprocs
		 * stays -1 (unknown) rather than failing the whole listing. */
	}
	r = posix ? list_posix(&c) : 0;
	if (r == 0 && sysv)
		r = walk_sysv(list_sysv_row, &c);
	free(procs.v);
	return r ? r : c.count;
}

/* -- shmkit_list_dir: file: segments ------------------------------------ */

/* Lifetime marks of a regular file of dfd that shmkit made (1), or 0 when
 * it is not one, not readable, or no longer the file *st describes. */
static int made_file(int dfd, const char *name, const struct stat *st,
		     unsigned *flags)
{
	struct stat now;
	int fd, r = 0;

	fd = openat(dfd, name,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return 0;
	if (fstat(fd, &now) == 0 && S_ISREG(now.st_mode) &&
	    now.st_dev == st->st_dev && now.st_ino == st->st_ino &&
	    shmkit__life_made(fd)) {
		int lf = shmkit__life_probe(fd);
		*flags = lf < 0 ? 0 : (unsigned)lf;
		r = 1;
	}
	shmkit__close(fd);
	return r;
}

static int list_dir(list_ctx *c, int dfd, const char *dir)
{
	size_t dlen = strlen(dir);
	shmkit_info *in = NULL;
	struct dirent *de;
	struct stat st;
	int r = 0;
	DIR *d = NULL;

	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--; /* "dir/" and "dir" name the same segments */
	r = dir_begin(dfd, &d, &in);
	if (r < 0)
		return r;
	for (;;) {
		unsigned flags = 0;

		errno = 0;
		de = readdir(d);
		if (!de) {
			r = -errno;
			break;
		}
		/* Dot names: ".", "..", gc's private names, hidden files. */
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue; /* gone since readdir, or not a file */
		if (!made_file(dfd, de->d_name, &st, &flags))
			continue;
		info_init(in, SHMKIT_BACKEND_FILE);
		if (snprintf(in->spec, sizeof(in->spec), "file:%.*s%s%s",
			     (int)dlen, dir, dir[dlen - 1] == '/' ? "" : "/",
			     de->d_name) >= (int)sizeof(in->spec) ||
		    shmkit_spec_check(in->spec))
			continue; /* a path too long to be a spec */
		info_from_stat(in, &st);
		in->flags |= flags;
		r = report(c, in, OBJ_FILE, st.st_dev, (uint64_t)st.st_ino);
		if (r)
			break;
	}
	free(in);
	closedir(d);
	return r;
}

int shmkit_list_dir(const char *dir, unsigned int flags, shmkit_list_cb cb,
		    void *arg)
{
	list_ctx c = {.cb = cb, .arg = arg, .procs = NULL, .count = 0};
	procmap_table procs = {0};
	struct stat st;
	int dfd, r;

	if (!dir || !*dir || !cb || (flags & ~SHMKIT_LIST_NOPROCS))
		return -EINVAL;
	if (strlen(dir) >= PATH_MAX)
		return -ENAMETOOLONG;
	/* Resolved as file: paths are (src/unix/path.c): no symlink on the way. */
	dfd = shmkit__path_open(dir, O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	if (!(flags & SHMKIT_LIST_NOPROCS) && fstat(dfd, &st) == 0) {
		scan_filter f = {0};

		f.files = true;
		f.dev = st.st_dev;
		r = scan(&f, &procs);
		if (r == -ENOMEM) {
			shmkit__close(dfd);
			return r;
		}
		if (r == 0)
			c.procs = &procs;
	}
	r = list_dir(&c, dfd, dir); /* closes dfd */
	free(procs.v);
	return r ? r : c.count;
}

/* -- shmkit_stat and shmkit_who ----------------------------------------- */

typedef struct sysv_find {
	const shmkit__spec *sp;
	key_t key;
	shmkit_info *out;
	bool found;
} sysv_find;

static int sysv_find_row(shmkit_info *in, void *arg)
{
	sysv_find *f = arg;

	if (f->sp->by_id ? in->shmid != f->sp->shmid
			 : (in->key != (int)f->key ||
			    (in->flags & SHMKIT_INFO_REMOVED)))
		return 0;
	*f->out = *in;
	f->found = true;
	return 1;
}

static int describe_sysv(const shmkit__spec *sp, shmkit_info *in,
			 scan_filter *f)
{
	sysv_find find = {.sp = sp, .key = sp->key, .out = in, .found = false};
	int r;

	if (sp->by_ftok) {
		find.key = ftok(sp->name, sp->proj);
		if (find.key == (key_t)-1)
			return -errno;
	}
	/* A private segment has no key to be found by; a removed segment's key
	 * reads as 0 too, so 0 would match the wrong thing. */
	if (!sp->by_id && find.key == IPC_PRIVATE)
		return -EINVAL;
	r = walk_sysv(sysv_find_row, &find);
	if (r < 0)
		return r;
	if (!find.found)
		return -ENOENT;
	f->sysv = true;
	f->one_shmid = true;
	f->shmid = in->shmid;
	return 0;
}

/*
 * fstatat() the object a posix or file spec names, never following a
 * symlink (file: paths resolved as the file backend resolves them, see
 * src/unix/path.c), and add its lifetime marks to *flags. -ELOOP for a symlink
 * and -ENODEV for what is not a regular file, as attach says.
 */
static int stat_by_name(const shmkit__spec *sp, struct stat *st,
			unsigned *flags)
{
	const char *name = sp->name + 1;
	int dfd, r;

	if (sp->backend == SHMKIT_BACKEND_FILE)
		dfd = shmkit__path_dir(sp->name, &name);
	else if ((dfd = open(SHM_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		dfd = errno == ENOTDIR ? -ENOENT : -errno;
	if (dfd < 0)
		return dfd;
	r = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (r == 0 && S_ISLNK(st->st_mode))
		r = -ELOOP;
	else if (r == 0 && !S_ISREG(st->st_mode))
		r = -ENODEV; /* a FIFO or device */
	if (r == 0)
		*flags |= life_flags(dfd, name, st);
	shmkit__close(dfd);
	return r;
}

/*
 * Fill *in for the object sp names (nprocs left unknown) and set *f to the
 * maps lines that show it. Writes *in and *f only on success.
 */
static int describe(const shmkit__spec *sp, shmkit_info *in, scan_filter *f)
{
	shmkit_info tmp;
	scan_filter tf = {0};
	struct stat st;
	int r;

	info_init(&tmp, sp->backend);
	switch (sp->backend) {
	case SHMKIT_BACKEND_POSIX:
	case SHMKIT_BACKEND_FILE:
		r = stat_by_name(sp, &st, &tmp.flags);
		if (r < 0)
			return r;
		break;
	case SHMKIT_BACKEND_FD:
		if (fstat(sp->fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return -ENODEV;
		break;
	case SHMKIT_BACKEND_SYSV:
		r = describe_sysv(sp, &tmp, &tf);
		if (r < 0)
			return r;
		*in = tmp;
		*f = tf;
		return 0;
	default:
		/* memfd and anon have no name to look up from outside. */
		return -ENOTSUP;
	}
	info_from_stat(&tmp, &st);
	r = shmkit__spec_format(sp, tmp.spec, sizeof(tmp.spec));
	if (r < 0)
		return r;
	tf.files = true;
	tf.dev = st.st_dev;
	tf.one_ino = true;
	tf.ino = (uint64_t)st.st_ino;
	*in = tmp;
	*f = tf;
	return 0;
}

int shmkit_stat(const char *spec, shmkit_info *ret_info)
{
	procmap_table procs = {0};
	shmkit__spec sp;
	shmkit_info *in = NULL;
	scan_filter f;
	int r;

	if (!ret_info)
		return -EINVAL;
	r = shmkit__spec_parse(spec, &sp);
	if (r < 0)
		return r;
	in = malloc(sizeof(*in));
	if (!in)
		return -ENOMEM;
	r = describe(&sp, in, &f);
	if (r < 0)
		goto out;
	r = scan(&f, &procs);
	if (r == -ENOMEM)
		goto out;
	if (r == 0) /* the filter kept only this object's rows */
		in->nprocs = procs.n > LONG_MAX ? LONG_MAX : (long)procs.n;
	r = 0;
	*ret_info = *in;
out:
	free(procs.v);
	free(in);
	return r;
}

int shmkit_who(const char *spec, pid_t *pids, size_t max)
{
	procmap_table procs = {0};
	shmkit__spec sp;
	shmkit_info *in = NULL;
	scan_filter f;
	size_t i;
	int r;

	if (max && !pids)
		return -EINVAL;
	r = shmkit__spec_parse(spec, &sp);
	if (r < 0)
		return r;
	in = malloc(sizeof(*in));
	if (!in)
		return -ENOMEM;
	r = describe(&sp, in, &f);
	free(in);
	if (r < 0)
		return r;
	r = scan(&f, &procs);
	if (r < 0)
		return r;
	/* One object, so the table is sorted by pid and has no repeats. */
	for (i = 0; i < procs.n && i < max; i++)
		pids[i] = procs.v[i].pid;
	r = procs.n > INT_MAX ? INT_MAX : (int)procs.n;
	free(procs.v);
	return r;
}
