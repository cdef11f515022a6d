/*
 * shmkit.c: the `shmkit` command: main(), the table of subcommands and the
 * top-level help.
 *
 * Subcommands live in tools/cmd_*.c (and tools/chan.c) behind the contract in
 * cli.h: argv[0] is the subcommand's name and the return value is the exit
 * status. main() owns one thing besides dispatch: it checks that stdout was
 * really written (a full disk or a closed pipe is an error, exit 1, not a
 * silent truncation).
 */
#include "cli.h"

#include <errno.h>
#include <string.h>

typedef struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} command;

static const command commands[] = {
#ifdef _WIN32
	{"ls", cmd_ls, "list the segments this process can see"},
#else
	{"ls", cmd_ls, "list every segment on this host"},
#endif
	{"info", cmd_info, "describe one segment"},
	{"who", cmd_who, "show the processes that map a segment"},
	{"create", cmd_create, "make a segment"},
	{"rm", cmd_rm, "remove segments"},
	{"cat", cmd_cat, "copy a segment's bytes to stdout"},
	{"write", cmd_write, "copy stdin into a segment"},
	{"resize", cmd_resize, "grow or shrink a segment"},
	{"gc", cmd_gc, "remove stale ephemeral segments"},
	{"top", cmd_top, "live view of segments and channel traffic"},
	{"demo", cmd_demo, "share a segment with a child on every backend"},
	{"chan", shmkit_cli_chan, "channels: message queues in shared memory"},
	{"heap", cmd_heap,
	 "heaps: allocators with named objects in shared memory"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void help(FILE *f)
{
	size_t i;

	fputs("Usage: shmkit COMMAND [ARGS...]\n"
	      "\n"
	      "See, make, fill, read and remove shared memory segments on this "
	      "host,\nwhatever their backend.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
#ifdef _WIN32
	fputs("\n"
	      "Segments are named by a spec:\n"
	      "  win:NAME         a named mapping of the paging file, "
	      "Local\\NAME; it lives\n"
	      "                   only while a process holds it (see "
	      "'create --hold')\n"
	      "  win:Global\\NAME  the same in the global namespace "
	      "(needs a privilege)\n"
	      "  file:PATH        a file mapped shared: persists, can be "
	      "resized\n"
	      "\n"
	      "On Windows, who and gc are not available; ls and top show "
	      "the win:\nsegments this process can see; chan works in win: "
	      "(held by 'chan create\n--hold') and file: segments, heap in "
	      "file: ones.\n",
	      f);
#else
	fputs("\n"
	      "Segments are named by a spec:\n"
	      "  posix:/NAME      POSIX shared memory, /dev/shm/NAME (\"/NAME\" "
	      "works too)\n"
	      "  sysv:0x1234      System V by key; sysv:id=N by id; "
	      "sysv:/PATH#1 by ftok;\n"
	      "                   sysv:private makes one with no key\n"
	      "  file:/PATH       a file mapped shared (tmpfs, disk, "
	      "hugetlbfs)\n"
	      "  memfd:NAME       a memfd, reached by inheritance or fd "
	      "passing only\n"
	      "  fd:N             a descriptor this process inherited\n"
	      "  anon:            anonymous memory, shared with forked "
	      "children only\n",
	      f);
#endif
	fputs("\n"
	      "Options:\n"
	      "  -h, --help       this help; 'shmkit COMMAND --help' for one "
	      "command\n"
	      "  -V, --version    print the version\n"
	      "\n"
	      "Exit status: 0 done, 1 the operation failed, 2 bad command "
	      "line.\n",
	      f);
}

static const command *find(const char *name)
{
	size_t i;
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* "shmkit help [COMMAND]" is "shmkit [COMMAND] --help". */
static int cmd_help(int argc, char **argv)
{
	const command *c;
	char *args[3];

	if (argc < 2) {
		help(stdout);
		return CLI_OK;
	}
	if (argc > 2)
		return cli_usage_err("help", "too many arguments");
	c = find(argv[1]);
	if (!c)
		return cli_usage_err("help", "unknown command '%s'", argv[1]);
	args[0] = (char *)c->name;
	args[1] = (char *)"--help";
	args[2] = NULL;
	return c->fn(2, args);
}

static int finish(int status)
{
	/* A write error (ENOSPC, EPIPE with SIGPIPE ignored) may only show
	 * when the buffer is flushed. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int e = errno ? errno : EIO;
		/* strerror, not shmkit_strerror: this is not about a segment. */
		if (e != EPIPE)
			cli_errf("stdout: %s", strerror(e));
		return status == CLI_OK ? CLI_FAIL : status;
	}
	return status;
}

int main(int argc, char **argv)
{
	const command *c;
	const char *a;

	cli_os_init();
	if (argc < 2) {
		fputs("shmkit: missing command\n\n", stderr);
		help(stderr);
		return CLI_USAGE;
	}
	a = argv[1];
	if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
		help(stdout);
		return finish(CLI_OK);
	}
	if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
		printf("shmkit %s\n", shmkit_version_string());
		return finish(CLI_OK);
	}
	if (!strcmp(a, "help"))
		return finish(cmd_help(argc - 1, argv + 1));
	if (a[0] == '-') {
		fprintf(stderr, "shmkit: unknown option '%s'\n"
				"Try 'shmkit --help'.\n",
			a);
		return CLI_USAGE;
	}
	c = find(a);
	if (!c) {
		fprintf(stderr, "shmkit: unknown command '%s'\n"
				"Try 'shmkit --help'.\n",
			a);
		return CLI_USAGE;
	}
	return finish(c->fn(argc - 1, argv + 1));
}
