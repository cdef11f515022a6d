/*
 * cmd_gc.c: `shmkit gc`, removing stale ephemeral segments.
 *
 * A thin front over shmkit_gc(): the library decides what is stale (marked
 * ephemeral by shmkit, and no live process holds it); this prints what went.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>

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
	"  -h, --help      show this help\n";

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

static int gc_dir(const char *dir, struct gc_out *o, int *total)
{
	int r = shmkit_gc(dir, o->dry ? SHMKIT_GC_DRY_RUN : 0, print_one, o);
	if (r < 0)
		return cli_err(dir ? dir : "/dev/shm", r);
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
	if (ndirs == 0)
		status = gc_dir(NULL, &o, &total);
	for (i = 0; i < ndirs; i++)
		if (gc_dir(dirs[i], &o, &total) != CLI_OK)
			status = CLI_FAIL;
	printf("%d stale segment%s %s\n", total, total == 1 ? "" : "s",
	       o.dry ? "would be removed" : "removed");
	return status;
}
