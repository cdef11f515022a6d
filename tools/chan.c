/*
 * chan.c: `shmkit chan`, the channel subcommands. A placeholder until
 * channels (layer 3) exist; it keeps the contract of tools/cli.h: argv[0]
 * is "chan", the return value is the exit status.
 */
#include "cli.h"

#include <string.h>

int shmkit_cli_chan(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs("Usage: shmkit chan ...\n"
		      "\n"
		      "Channels (message queues in shared memory). Not built "
		      "yet.\n",
		      stdout);
		return CLI_OK;
	}
	return cli_errf("chan: channels are not built yet");
}
