/*
 * cmd_gc.c: `shmkit gc`, removing stale ephemeral segments.
 *
 * A thin front over shmkit_gc(): the library decides what is stale (marked
 * ephemeral by shmkit, and no live process holds it); this prints what went.
 * Its errors are about a directory, not a segment, so they are told in the
 * directory's terms (strerror, never shmkit's "no such segment").
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char gc_usage[] =
	"Usage: shmkit gc [--dry-run] [DIR...]\n"
	"\n"
	"Remove the ephemeral segments that no live process uses any more: those\n"
	"created with --ephemeral (SHMKIT_F_EPHEMERAL) whose users have all\n"
	"exited or crashed. Persistent segments, segments in use and segments\n"
	"shmkit did not create are never touched. Without DIR, /dev/shm (POSIX\n"
	"segments); each DIR is searched for file: segments.\n"
	"\n"
	"  -n, --dry-run   list what would be removed; remove nothing\n"
	"  -h, --help      show this help\n"
#ifdef _WIN32
	"\nNot available on Windows: there an ephemeral file: segment is "
	"deleted when\nits last handle closes, and a win: one dies with its "
	"last handle; nothing\nis ever left to collect.\n"
#endif
	;

struct gc_out {
	bool dry;
};

static int print_one(const char *spec, uint64_t size, void *arg)
{
	const struct gc_out *o = arg;
	char sz[CLI_SIZE_BUF];

	printf("%s %s (%s)\n", o->dry ? "would remove" : "removed", spec,
	       cli_format_size(size, sz));
	return 0;
}

/* "shmkit: gc: DIR: <why> (<hint>)" for an error of shmkit_gc() on dir. */
static int dir_err(const char *dir, int err)
{
	const char *why = strerror(-err), *hint = NULL;
	char shown[4096];

	switch (-err) {
	case ENOENT:
		why = "no such directory";
		if (!dir)
			hint = "this host has no POSIX shared memory mounted";
		break;
	case ENOTDIR:
		why = "not a directory";
		hint = "gc searches directories for file: segments; without "
		       "DIR it searches /dev/shm";
		break;
	case EACCES:
		why = "permission denied";
		hint = "gc needs to read and search the directory, and to "
		       "write it to remove anything";
		break;
	case EPERM:
		hint = "in a sticky directory (as /dev/shm and /tmp are) only "
		       "a file's owner may remove it";
		break;
	}
	cli_printable(dir ? dir : "/dev/shm", shown, sizeof(shown));
	if (hint)
		return cli_errf("gc: %s: %s (%s)", shown, why, hint);
	return cli_errf("gc: %s: %s", shown, why);
}

static int gc_dir(const char *dir, struct gc_out *o, int *total)
{
	int r = shmkit_gc(dir, o->dry ? SHMKIT_GC_DRY_RUN : 0, print_one, o);
	if (r < 0)
		return dir_err(dir, r);
	*total += r;
	return CLI_OK;
}

int cmd_gc(int argc, char **argv)
{
	enum { O_HELP = 1, O_DRY };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"dry-run", 'n', false, O_DRY},
		{NULL, 0, false, 0},
	};
	struct gc_out o = {false};
	const char *dirs[64];
	size_t ndirs = 0, i;
	int opt, total = 0, status = CLI_OK;
	cli_args a;

	cli_args_init(&a, argc, argv);
	while ((opt = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (opt) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (ndirs == sizeof(dirs) / sizeof(dirs[0]))
				return cli_usage_err("gc", "too many directories");
			dirs[ndirs++] = a.arg;
			break;
		case O_HELP:
			fputs(gc_usage, stdout);
			return CLI_OK;
		case O_DRY:
			o.dry = true;
			break;
		}
	}
#ifdef _WIN32
	return cli_not_here("gc", "Windows frees an ephemeral file: segment "
				  "when its last handle closes, and a win: "
				  "one with its last handle: nothing is left "
				  "to collect");
#endif
	if (ndirs == 0)
		status = gc_dir(NULL, &o, &total);
	for (i = 0; i < ndirs; i++)
		if (gc_dir(dirs[i], &o, &total) != CLI_OK)
			status = CLI_FAIL;
	printf("%d stale segment%s %s\n", total, total == 1 ? "" : "s",
	       o.dry ? "would be removed" : "removed");
	return status;
}
