/*
 * cmd_seg.c: the subcommands that make, fill, read and remove segments:
 * `create`, `write`, `cat`, `rm` and `resize`.
 *
 * `create` refuses memfd: and anon: up front: they live only as long as a
 * process holds them, so one made by a command that exits at once would be
 * gone before anyone could use it. An ephemeral segment is in the same
 * case, which is what `create --ephemeral --hold SPEC SIZE CMD` is for: it
 * stays attached while CMD runs (a memfd: by the descriptor CMD inherits;
 * an anon: mapping cannot cross exec), passes the spec in SHMKIT_SPEC and
 * returns CMD's status, as env(1) or flock(1) would. `write` and `rm` first look at whose the segment is and who maps
 * it, and leave alone, without --force, one the caller does not own or
 * that another process maps. `write` reads stdin straight into the
 * mapping; when stdin is a regular file its length is checked first, so
 * input that does not fit changes nothing, and from a pipe the segment is
 * filled to its end and the excess is reported (never written past the
 * end). `cat` ignores SIGPIPE so that a reader that goes away is an EPIPE
 * it can see and stop on quietly.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* -- create -------------------------------------------------------------- */

static const char create_usage[] =
	"Usage: shmkit create [OPTIONS] SPEC SIZE\n"
	"       shmkit create --ephemeral --hold [OPTIONS] SPEC SIZE CMD "
	"[ARGS...]\n"
	"\n"
	"Make a segment of SIZE bytes and print its spec (for sysv:private, "
	"the\nsysv:id=N to reach it by). SIZE is a positive number of bytes "
	"with an optional\nsuffix K, M, G, T, P or E (powers of 1024; KB and "
	"KiB mean the same): 4096,\n4K, 64M, 1.5G. Creation is exclusive: an "
	"existing segment is an error. The\nspace is reserved now, so a full "
	"/dev/shm fails here rather than crashing a\nuser later; when it does "
	"not fit, the error names the limit.\n"
	"\n"
	"  -m, --mode MODE   permission bits in octal (default 0600: the owner "
	"only)\n"
	"  --huge            use huge pages (sysv:, or file: on hugetlbfs)\n"
	"  --prefault        touch every page now\n"
	"  --no-reserve      do not reserve the space (sparse; when tmpfs "
	"fills up,\n"
	"                    whoever touches a missing page gets SIGBUS)\n"
	"  --ephemeral       posix: and file: only, without --hold: 'shmkit "
	"gc' may\n"
	"                    remove the segment once no process holds it. "
	"Nothing\n"
	"                    holds it after this command exits, so it is "
	"stale at\n"
	"                    once: gc removes it unless a program has "
	"attached it\n"
	"  --hold            with --ephemeral: keep the segment attached "
	"while CMD\n"
	"                    runs. CMD is what follows SPEC and SIZE, its "
	"options\n"
	"                    included. It finds the spec in the environment\n"
	"                    variable SHMKIT_SPEC (fd:N for a memfd:, whose\n"
	"                    descriptor it inherits). shmkit prints nothing "
	"and\n"
	"                    exits with CMD's status (128+N if signal N "
	"killed it,\n"
	"                    126 or 127 if CMD could not be run); ^C goes to "
	"CMD.\n"
	"                    Then it detaches and removes nothing: once no "
	"process\n"
	"                    holds it, 'shmkit gc' removes an ephemeral "
	"posix: or\n"
	"                    file: segment; the kernel frees a sysv: one at "
	"its last\n"
	"                    detach, a memfd: one with its last descriptor. "
	"While\n"
	"                    CMD runs this command maps the segment, so "
	"'shmkit\n"
	"                    write' and 'rm' of it need --force.\n"
	"  -h, --help        show this help\n"
#ifdef _WIN32
	"\n"
	"On Windows, a win: segment (and an --ephemeral file: one) lives only "
	"while\na process holds it: the object dies with its last handle. "
	"Without --hold,\ncreate refuses it, since it would vanish when "
	"shmkit exits.\n"
	"  shmkit create --hold win:NAME SIZE\n"
	"                    makes it, prints its spec, and holds it until "
	"Ctrl-C or\n"
	"                    the end of stdin (exit 0); with CMD after SIZE, "
	"while\n"
	"                    CMD runs. --ephemeral is not needed for win:. "
	"file:PATH\n"
	"                    (without --ephemeral) makes a segment that "
	"persists.\n"
#endif
	;


int cmd_create(int argc, char **argv)
{
	enum {
		O_HELP = 1,
		O_MODE,
		O_HUGE,
		O_PREFAULT,
		O_NORESERVE,
		O_EPHEMERAL,
		O_HOLD
	};
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"mode", 'm', true, O_MODE},
		{"huge", 0, false, O_HUGE},
		{"prefault", 0, false, O_PREFAULT},
		{"no-reserve", 0, false, O_NORESERVE},
		{"ephemeral", 0, false, O_EPHEMERAL},
		{"hold", 0, false, O_HOLD},
		{NULL, 0, false, 0},
	};
	shmkit_opts so = {0};
	const char *spec = NULL, *size_s = NULL;
	char **cmd = NULL;
	bool hold = false, eph, nameless, win;
#ifdef SIGXFSZ
	void (*xfsz)(int);
#endif
	shmkit_seg *seg;
	uint64_t size;
	cli_args a;
	int o, r, status;

	cli_args_init(&a, argc, argv);
	a.numbers_are_operands = true; /* "-1" is a bad SIZE, not an option */
	while (!cmd && (o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (!spec)
				spec = a.arg;
			else if (!size_s)
				size_s = a.arg;
			else if (hold)
				cmd = &a.argv[a.i - 1]; /* CMD and all after */
			else
				return cli_usage_err("create",
						     "unexpected argument '%s'",
						     a.arg);
			break;
		case O_HELP:
			fputs(create_usage, stdout);
			return CLI_OK;
		case O_MODE:
			if (cli_parse_mode(a.arg, &so.mode) < 0)
				return cli_usage_err(
					"create",
					"invalid mode '%s' (octal, at most "
					"0777)",
					a.arg);
			if (so.mode == 0)
				return cli_usage_err(
					"create",
					"mode 0 would lock everyone out, the "
					"owner included");
			break;
		case O_HUGE:
			so.flags |= SHMKIT_F_HUGE;
			break;
		case O_PREFAULT:
			so.flags |= SHMKIT_F_PREFAULT;
			break;
		case O_NORESERVE:
			so.flags |= SHMKIT_F_NORESERVE;
			break;
		case O_EPHEMERAL:
			so.flags |= SHMKIT_F_EPHEMERAL;
			break;
		case O_HOLD:
			hold = true;
			break;
		}
	}
	eph = so.flags & SHMKIT_F_EPHEMERAL;
	if (!spec || !size_s)
		return cli_usage_err("create", "expected SPEC and SIZE");
	win = has_prefix(spec, "win:");
#ifdef _WIN32
	/* The object dies with its last handle, ours at exit: a create that
	 * printed a spec and left would print a lie. */
	if ((win || eph) && !hold)
		return cli_usage_err(
			"create",
			"%s lives only while a process holds it, so one made "
			"here would vanish when shmkit exits; 'shmkit create "
			"--hold%s %s SIZE' keeps it until Ctrl-C or the end "
			"of stdin, and file:PATH (not --ephemeral) makes one "
			"that persists",
			win ? "a win: segment" : "an ephemeral file: segment",
			win ? "" : " --ephemeral", spec);
#endif
	if (hold && !eph && !win)
		return cli_usage_err("create",
				     "--hold is for --ephemeral segments (a "
				     "persistent one outlives CMD anyway)");
#ifndef _WIN32
	if (hold && !cmd)
		return cli_usage_err("create",
				     "--hold needs a command to run: create "
				     "--ephemeral --hold SPEC SIZE CMD "
				     "[ARGS...]");
#endif
	r = cli_size_arg("create", "SIZE", size_s, false, &size);
	if (r)
		return r;
	if (size == 0)
		return cli_usage_err("create",
				     "SIZE must be a positive number of "
				     "bytes: 0 is not");
	if (size > SIZE_MAX)
		return cli_usage_err("create", "SIZE '%s' is too large",
				     size_s);
	nameless = has_prefix(spec, "memfd:") || has_prefix(spec, "anon:");
	if (has_prefix(spec, "anon:") || (nameless && !hold))
		return cli_usage_err(
			"create",
			"%.*s segments live only as long as a process holds "
			"them, so one made here would vanish when shmkit "
			"exits; create them from your program%s",
			(int)(strchr(spec, ':') - spec + 1), spec,
			has_prefix(spec, "anon:")
				? " (an anon: mapping does not survive exec, "
				  "so --hold cannot pass it on)"
				: ", or keep one while a command runs with "
				  "--ephemeral --hold");
	if (eph && !hold && has_prefix(spec, "sysv:"))
		return cli_usage_err("create",
				     "--ephemeral sysv: segments are freed "
				     "when this command exits, unless --hold "
				     "keeps one while a command runs");
	if (eph && has_prefix(spec, "sysv:") && strcmp(spec, "sysv:private"))
		return cli_usage_err("create",
				     "an ephemeral System V segment has no key "
				     "(the kernel drops it at IPC_RMID): make "
				     "it as sysv:private, reached by the "
				     "sysv:id=N in SHMKIT_SPEC");
	if (has_prefix(spec, "memfd:"))
		so.flags &= ~SHMKIT_F_EPHEMERAL; /* always so, by nature */

#ifdef SIGXFSZ
	/* Past ulimit -f, SIGXFSZ would kill us before the create could back
	 * out, leaving a file behind; ignored, it is EFBIG like any limit. */
	xfsz = signal(SIGXFSZ, SIG_IGN);
	r = shmkit_create(spec, (size_t)size, &so, &seg);
	signal(SIGXFSZ, xfsz);
#else
	r = shmkit_create(spec, (size_t)size, &so, &seg);
#endif
	if (r < 0)
		return cli_create_err(spec, size, so.flags, r);
	if (hold) {
		status = cli_hold("create", seg, cmd);
	} else {
		printf("%s\n", shmkit_spec(seg));
		status = CLI_OK;
	}
	if (eph && !hold) {
		char shown[SHMKIT_SPEC_MAX];
		cli_printable(shmkit_spec(seg), shown, sizeof(shown));
		cli_errf("create: note: %s is ephemeral and nothing holds it "
			 "once this command exits: it is stale at once, and "
			 "'shmkit gc' removes it unless a program attaches it "
			 "first (--hold CMD keeps it while CMD runs)",
			 shown);
	}
	r = shmkit_detach(seg);
	if (r < 0 && status == CLI_OK)
		return cli_seg_err("create", spec, r);
	return status;
}

/* -- the protections of write and rm ------------------------------------- */

/*
 * Whether write or rm may touch spec without --force: not when the caller
 * does not own it, nor when another process maps it (a database's segment,
 * a running program's buffer). Returns 0 to go on, a negative errno from
 * looking (the caller reports it), or CLI_FAIL once the refusal is printed.
 * What is mapped is what /proc shows this caller, and it can change right
 * after the look: this guards against mistakes, not against races.
 */
static int guard(const char *cmd, const char *spec, const char *verb)
{
	char found[1024], name[CLI_NAME_BUF], me[CLI_NAME_BUF];
	char shown[SHMKIT_SPEC_MAX];
	shmkit_info *in = malloc(sizeof(*in));
	pid_t *pids = NULL;
	size_t pos = 0;
	int r, n, i;

	if (!in)
		return -ENOMEM;
	r = shmkit_stat(spec, in);
	if (r < 0) {
		free(in);
		return r;
	}
	if (in->uid != cli_euid())
		cli_appendf(found, sizeof(found), &pos,
			    "owned by %s (uid %u), not by you (%s, uid %u)",
			    cli_user_name(in->uid, name), (unsigned)in->uid,
			    cli_user_name(cli_euid(), me), (unsigned)cli_euid());
	n = cli_who_all(spec, &pids);
	if (n < 0)
		n = 0; /* nobody we can see; the kernel's count still counts */
	if (n > 0) {
		cli_appendf(found, sizeof(found), &pos,
			    "%smapped by %d process%s: ", pos ? "; " : "", n,
			    n == 1 ? "" : "es");
		for (i = 0; i < n && i < 8; i++) {
			char comm[64], p[64];
			cli_printable(cli_proc_comm(pids[i], comm, sizeof(comm)),
				      p, sizeof(p));
			cli_appendf(found, sizeof(found), &pos, "%s%d %s",
				    i ? ", " : "", (int)pids[i], p);
		}
		if (n > 8)
			cli_appendf(found, sizeof(found), &pos,
				    " and %d more", n - 8);
	}
	if (in->nattch > n)
		cli_appendf(found, sizeof(found), &pos,
			    "%sattached %ld times (the kernel's count%s)",
			    n ? ", " : pos ? "; " : "", in->nattch,
			    n ? "" : "; no process this caller can see");
	free(pids);
	free(in);
	if (pos == 0)
		return 0;
	cli_printable(spec, shown, sizeof(shown));
	fprintf(stderr, "shmkit: %s: %s: %s; pass --force to %s anyway\n",
		cmd, shown, found, verb);
	return CLI_FAIL;
}

/* -- rm ------------------------------------------------------------------ */

static const char rm_usage[] =
	"Usage: shmkit rm [-f] SPEC...\n"
	"\n"
	"Remove segments by spec (posix:, sysv:, file:). Processes that have "
	"one\nattached keep it until they detach; nobody new can attach.\n"
	"A segment you do not own (as root: one not owned by root) or that "
	"another\nprocess maps is left alone, and the error says whose it is "
	"and who maps it.\n"
	"\n"
	"  -f, --force   remove even those; and a segment that does not "
	"exist is\n"
	"                not an error\n"
	"  -h, --help    show this help\n";

int cmd_rm(int argc, char **argv)
{
	enum { O_HELP = 1, O_FORCE };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"force", 'f', false, O_FORCE},
		{NULL, 0, false, 0},
	};
	bool force = false;
	cli_args a;
	int o, nspecs = 0, status = CLI_OK;

	/* Options first, so "rm a -f" removes nothing before it knows -f. */
	cli_args_init(&a, argc, argv);
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			nspecs++;
			break;
		case O_HELP:
			fputs(rm_usage, stdout);
			return CLI_OK;
		case O_FORCE:
			force = true;
			break;
		}
	}
	if (nspecs == 0)
		return cli_usage_err("rm", "missing SPEC");

	cli_args_init(&a, argc, argv);
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		int r = 0;
		if (o != CLI_ARG_OPERAND)
			continue;
		if (!force)
			r = guard("rm", a.arg, "remove it");
		if (r == CLI_FAIL) {
			status = CLI_FAIL;
			continue;
		}
		if (r == 0)
			r = shmkit_unlink(a.arg);
		if (r == -ENOENT && force)
			continue;
		if (r < 0)
			status = cli_seg_err("rm", a.arg, r);
	}
	return status;
}

/* -- cat ----------------------------------------------------------------- */

static const char cat_usage[] =
	"Usage: shmkit cat SPEC\n"
	"\n"
	"Write a segment's bytes, all of them, to stdout. The segment is "
	"attached\nread-only.\n"
	"\n"
	"  -h, --help   show this help\n";

/* Exactly one SPEC operand and nothing else but --help. */
static int one_spec(int argc, char **argv, const char *usage,
		    const char **spec)
{
	enum { O_HELP = 1 };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{NULL, 0, false, 0},
	};
	cli_args a;
	int o;

	*spec = NULL;
	cli_args_init(&a, argc, argv);
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (*spec)
				return cli_usage_err(argv[0],
						     "one SPEC at a time");
			*spec = a.arg;
			break;
		case O_HELP:
			fputs(usage, stdout);
			return -1;
		}
	}
	if (!*spec)
		return cli_usage_err(argv[0], "missing SPEC");
	return 0;
}

int cmd_cat(int argc, char **argv)
{
	shmkit_opts so = {.flags = SHMKIT_F_RDONLY};
	const char *spec, *p;
	shmkit_seg *seg;
	size_t left;
	int r, status = CLI_OK;

	r = one_spec(argc, argv, cat_usage, &spec);
	if (r)
		return r < 0 ? CLI_OK : r;
	r = shmkit_attach(spec, &so, &seg);
	if (r < 0)
		return cli_seg_err("cat", spec, r);

	/* stdio has nothing buffered on stdout yet; write(2) directly. */
	cli_ignore_sigpipe();
	p = shmkit_addr(seg);
	left = shmkit_size(seg);
	while (left > 0) {
		ssize_t n = write(STDOUT_FILENO, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* A reader that stopped reading is not worth a
			 * message, but the copy is incomplete. */
			if (errno != EPIPE)
				cli_errf("cat: stdout: %s", strerror(errno));
			status = CLI_FAIL;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	r = shmkit_detach(seg);
	if (r < 0 && status == CLI_OK)
		status = cli_seg_err("cat", spec, r);
	return status;
}

/* -- write --------------------------------------------------------------- */

static const char write_usage[] =
	"Usage: shmkit write [--offset N] [--force] SPEC\n"
	"\n"
	"Copy stdin into a segment, from byte N on (default 0). Input longer "
	"than the\nspace from N to the end is an error: from a regular file, "
	"nothing is written;\nfrom a pipe, the segment is filled to its end "
	"and the rest is refused. Never\nwrites past the end.\n"
	"A segment you do not own (as root: one not owned by root) or that "
	"another\nprocess maps is left alone, and the error says whose it is "
	"and who maps it.\n"
	"\n"
	"  -o, --offset N   where to start (a size: 512, 4K, 1M)\n"
	"  -f, --force      write even to those\n"
	"  -h, --help       show this help\n";

static ssize_t read_retry(int fd, void *buf, size_t len)
{
	ssize_t n;
	do {
		n = read(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n;
}

/* Fill [p, p+space) from stdin; *done gets the bytes read. Returns 0, 1 if
 * more input was left over, or -errno. */
static int fill_from_stdin(char *p, size_t space, size_t *done)
{
	size_t got = 0;
	char extra;
	ssize_t n;

	while (got < space) {
		n = read_retry(STDIN_FILENO, p + got, space - got);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*done = got;
	if (got < space)
		return 0;
	n = read_retry(STDIN_FILENO, &extra, 1);
	if (n < 0)
		return -errno;
	return n > 0 ? 1 : 0;
}

int cmd_write(int argc, char **argv)
{
	enum { O_HELP = 1, O_OFFSET, O_FORCE };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"offset", 'o', true, O_OFFSET},
		{"force", 'f', false, O_FORCE},
		{NULL, 0, false, 0},
	};
	const char *spec = NULL;
	bool force = false;
	uint64_t off = 0;
	shmkit_seg *seg;
	uint64_t left;
	size_t size, space, done = 0;
	cli_args a;
	int o, r, status = CLI_OK;

	cli_args_init(&a, argc, argv);
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (spec)
				return cli_usage_err("write",
						     "one SPEC at a time");
			spec = a.arg;
			break;
		case O_HELP:
			fputs(write_usage, stdout);
			return CLI_OK;
		case O_OFFSET:
			r = cli_size_arg("write", "--offset", a.arg, true, &off);
			if (r)
				return r;
			break;
		case O_FORCE:
			force = true;
			break;
		}
	}
	if (!spec)
		return cli_usage_err("write", "missing SPEC");

	r = force ? 0 : guard("write", spec, "write");
	if (r == CLI_FAIL)
		return r;
	if (r == 0)
		r = shmkit_attach(spec, NULL, &seg);
	if (r < 0)
		return cli_seg_err("write", spec, r);
	size = shmkit_size(seg);
	if (off > size) {
		status = cli_errf("write: %s: offset %llu is past the end of "
				  "the segment (%zu bytes)",
				  shmkit_spec(seg), (unsigned long long)off,
				  size);
		goto out;
	}
	space = size - (size_t)off;

	if (cli_stdin_file_left(&left) && left > space) {
		status = cli_errf("write: %s: input is %llu bytes, but only %zu "
				  "fit (the segment is %zu bytes, offset %llu); "
				  "nothing written",
				  shmkit_spec(seg), (unsigned long long)left,
				  space, size, (unsigned long long)off);
		goto out;
	}
	r = fill_from_stdin((char *)shmkit_addr(seg) + off, space, &done);
	if (r < 0) {
		status = cli_errf("write: stdin: %s", strerror(-r));
	} else if (r > 0) {
		status = cli_errf("write: %s: input is larger than the %zu "
				  "bytes that fit (the segment is %zu bytes, "
				  "offset %llu); %zu bytes written, the rest "
				  "refused",
				  shmkit_spec(seg), space, size,
				  (unsigned long long)off, done);
	}
out:
	r = shmkit_detach(seg);
	if (r < 0 && status == CLI_OK)
		status = cli_seg_err("write", spec, r);
	return status;
}

/* -- resize -------------------------------------------------------------- */

static const char resize_usage[] =
	"Usage: shmkit resize [--force] SPEC SIZE\n"
	"\n"
	"Grow or shrink a segment to SIZE bytes (a size: 4096, 64K, 1.5M). "
	"Growing\nreserves the new space, so a full /dev/shm fails here. "
	"posix:, file:, memfd:\n(by fd:N) segments can be resized; System V "
	"and anon: ones cannot. A\nchannel or a heap is refused: its layout "
	"is fixed at create (a heap grows\nby itself). Shrinking a segment "
	"that another process maps would crash that\nprocess at its next "
	"touch beyond the new end (SIGBUS), so it is refused, as\nis a "
	"segment you do not own; on error nothing changes.\n"
	"\n"
	"  -f, --force   shrink even those\n"
	"  -h, --help    show this help\n";

int cmd_resize(int argc, char **argv)
{
	enum { O_HELP = 1, O_FORCE };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"force", 'f', false, O_FORCE},
		{NULL, 0, false, 0},
	};
	const char *spec = NULL, *size_s = NULL;
	char was[CLI_SIZE_BUF], now[CLI_SIZE_BUF];
	bool force = false;
	cli_why w;
	int kind;
	shmkit_seg *seg;
	uint64_t size;
	size_t old;
	cli_args a;
	int o, r, status = CLI_OK;

	cli_args_init(&a, argc, argv);
	a.numbers_are_operands = true;
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (!spec)
				spec = a.arg;
			else if (!size_s)
				size_s = a.arg;
			else
				return cli_usage_err("resize",
						     "unexpected argument '%s'",
						     a.arg);
			break;
		case O_HELP:
			fputs(resize_usage, stdout);
			return CLI_OK;
		case O_FORCE:
			force = true;
			break;
		}
	}
	if (!spec)
		return cli_usage_err("resize", "missing SPEC");
	if (!size_s)
		return cli_usage_err("resize", "missing SIZE");
	r = cli_size_arg("resize", "SIZE", size_s, false, &size);
	if (r)
		return r;
	if (size == 0)
		return cli_usage_err("resize", "SIZE must be a positive number "
					       "of bytes: a segment cannot be "
					       "empty ('shmkit rm' removes it)");
	if (size > SIZE_MAX)
		return cli_usage_err("resize", "SIZE %s is more than this "
					       "host can address",
				     size_s);
	if (shmkit_spec_check(spec) || !strncmp(spec, "anon:", 5))
		return cli_seg_err("resize", spec,
				   shmkit_spec_check(spec) ? -EINVAL
							   : -ENOTSUP);
	if (!strncmp(spec, "sysv:", 5)) {
		w.why = shmkit_strerror(-ENOTSUP);
		w.hint = "a System V segment keeps the size it was made with: "
			 "make a new one and copy";
		return cli_why_print("resize", spec, &w);
	}
	/* What it holds decides before anything is attached for writing. */
	if ((kind = shmkit_chan_probe(spec)) > 0 ||
	    shmkit_heap_probe(spec) > 0) {
		w.why = kind > 0 ? "it holds a channel" : "it holds a heap";
		w.hint = kind > 0 ? "a channel's layout is fixed at create: "
				    "make a new one with a larger --capacity"
				  : "a heap grows by itself, up to the --max "
				    "it was made with";
		return cli_why_print("resize", spec, &w);
	}
	/* Look before attaching: this process must not count as a mapper. */
	if (!force && (!strncmp(spec, "posix:", 6) || spec[0] == '/' ||
		       !strncmp(spec, "file:", 5))) {
		shmkit_info *in = malloc(sizeof(*in));

		if (!in)
			return cli_err("resize", -ENOMEM);
		r = shmkit_stat(spec, in);
		old = r == 0 ? in->size : 0;
		free(in);
		if (r < 0)
			return cli_seg_err("resize", spec, r);
		if (size < old) {
			r = guard("resize", spec, "shrink it");
			if (r != 0)
				return r == CLI_FAIL ? r
						     : cli_seg_err("resize", spec, r);
		}
	}
	r = shmkit_attach(spec, NULL, &seg);
	if (r < 0)
		return cli_seg_err("resize", spec, r);
	old = shmkit_size(seg);
	r = shmkit_resize(seg, (size_t)size);
	if (r < 0) {
		if (size > old)
			cli_create_why(&w, spec, size, 0, r); /* the limits */
		else
			cli_seg_why(&w, "resize", spec, r);
		status = cli_why_print("resize", spec, &w);
	} else {
		printf("%s: %s -> %s\n", shmkit_spec(seg),
		       cli_format_size(old, was),
		       cli_format_size(shmkit_size(seg), now));
	}
	r = shmkit_detach(seg);
	if (r < 0 && status == CLI_OK)
		status = cli_seg_err("resize", spec, r);
	return status;
}
