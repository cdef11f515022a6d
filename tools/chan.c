/*
 * chan.c: `shmkit chan`, channels from a shell: create, stat, send, recv, rm.
 *
 * send and recv are endpoints like any program's, so two terminals can talk
 * through a channel, and a script can feed or drain one. One line of stdin
 * is one message (without its newline); recv prints one message per line.
 * Both wait in short slices rather than forever, so that Ctrl-C (SIGINT,
 * SIGTERM, SIGHUP) closes the endpoint properly: the peer then sees the end
 * of the stream at once instead of noticing a dead process a little later.
 * recv ignores SIGPIPE so that `shmkit chan recv ... | head` stops quietly.
 *
 * create refuses memfd: and anon: (they would vanish when shmkit exits, as
 * for `shmkit create`); rm removes only what holds a valid channel, so a
 * typo cannot delete some other segment (`shmkit rm` removes anything).
 *
 * On Windows a win: channel dies with the last handle to its segment, so
 * `chan create` makes one only with --hold (as `create --hold` does for a
 * segment: it holds the channel until Ctrl-C or the end of stdin, or while
 * a CMD runs), and `chan rm` refuses one: there is nothing to remove.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Each wait is cut into slices this long so a signal is noticed. */
#define SLICE_MS 100

/* The signal that asked us to stop, or 0 (cli_catch_stops()). */
static volatile int stop_sig;

static void catch_stops(void)
{
	cli_catch_stops(&stop_sig);
}

static int chan_err(const char *sub, const char *spec, int err,
		    const char *hint)
{
	char what[64];

	snprintf(what, sizeof(what), "chan %s", sub);
	if (!hint) {
		if (err == -EPROTO)
			hint = "not a channel, or made by an incompatible "
			       "shmkit";
		else if (err == -EBUSY)
			hint = "that role is taken by a live process";
		else if (err == -EUSERS)
			hint = "every endpoint entry is in use";
	}
	if (hint) {
		char shown[SHMKIT_SPEC_MAX];
		cli_printable(spec, shown, sizeof(shown));
		fprintf(stderr, "shmkit: %s: %s: %s (%s)\n", what, shown,
			shmkit_strerror(err), hint);
		return CLI_FAIL;
	}
	return cli_seg_err(what, spec, err);
}

static int parse_wait(const char *sub, const char *s, shmkit_chan_wait *out)
{
	if (!strcmp(s, "adaptive"))
		*out = SHMKIT_CHAN_ADAPTIVE;
	else if (!strcmp(s, "spin"))
		*out = SHMKIT_CHAN_SPIN;
	else if (!strcmp(s, "block"))
		*out = SHMKIT_CHAN_BLOCK;
	else
		return cli_usage_err(sub, "invalid wait mode '%s' (adaptive, "
				     "spin or block)", s);
	return 0;
}

/* A count or milliseconds: a plain decimal number. */
static int parse_num(const char *sub, const char *what, const char *s,
		     uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v > max)
		return cli_usage_err(sub, "invalid %s '%s'", what, s);
	*out = v;
	return 0;
}

/* -- create -------------------------------------------------------------- */

static const char create_usage[] =
	"Usage: shmkit chan create SPEC --kind KIND [OPTIONS]\n"
	"\n"
#ifdef _WIN32
	"Make a channel in a new segment SPEC (win:, file:).\n"
#else
	"Make a channel in a new segment SPEC (posix:, sysv:, file:).\n"
#endif
	"\n"
	"  -k, --kind KIND       spsc (one writer, one reader, variable-length"
	"\n"
	"                        messages in a byte ring), mpmc (many writers "
	"and\n"
	"                        readers, fixed slots) or broadcast (one "
	"writer,\n"
	"                        every reader sees every message)\n"
	"  -c, --capacity N      spsc: ring size in bytes (K, M suffixes; "
	"default 64K);\n"
	"                        mpmc, broadcast: number of slots (default "
	"256)\n"
	"  --max-msg N           largest message in bytes (default: spsc "
	"capacity/4,\n"
	"                        slots 240)\n"
	"  --endpoints N         mpmc, broadcast: endpoints open at once "
	"(default 64)\n"
	"  --wait-readers        broadcast: lossless fan-out; the writer waits "
	"for the\n"
	"                        slowest reader instead of overwriting what it "
	"has\n"
	"                        not read\n"
	"  --writers N           the stream ends only once N writers have "
	"opened and\n"
	"                        closed it, so producers that come one after "
	"another\n"
	"                        feed one stream (default 0: it ends when the "
	"last\n"
	"                        open writer closes)\n"
	"  -m, --mode MODE       permission bits in octal (default 0600)\n"
#ifdef _WIN32
	"  --hold                win: channels: print the spec and hold the "
	"channel\n"
	"                        until Ctrl-C or the end of stdin (or, with CMD "
	"after\n"
	"                        SPEC, while CMD runs, SHMKIT_SPEC in its "
	"environment)\n"
#endif
	"  -h, --help            show this help\n"
#ifdef _WIN32
	"\n"
	"On Windows a channel lives in a win: or a file: segment. A win: one "
	"dies\nwith the last handle to it, so create makes one only with "
	"--hold:\n"
	"  shmkit chan create --hold win:talk --kind spsc   # keeps it\n"
	"  shmkit chan recv win:talk                        # in a second "
	"console\n"
	"  shmkit chan send win:talk                        # in a third\n"
	"A file:PATH channel persists like a file: segment and needs no "
	"holder.\n"
#endif
	;

static int chan_create(int argc, char **argv)
{
	enum {
		O_HELP = 1,
		O_KIND,
		O_CAP,
		O_MAXMSG,
		O_EPS,
		O_WRITERS,
		O_LOSSLESS,
		O_MODE,
		O_HOLD
	};
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"kind", 'k', true, O_KIND},
		{"capacity", 'c', true, O_CAP},
		{"max-msg", 0, true, O_MAXMSG},
		{"endpoints", 0, true, O_EPS},
		{"writers", 0, true, O_WRITERS},
		{"wait-readers", 0, false, O_LOSSLESS},
		{"mode", 'm', true, O_MODE},
#ifdef _WIN32
		{"hold", 0, false, O_HOLD},
#endif
		{NULL, 0, false, 0},
	};
	const char *sub = "chan create", *spec = NULL, *why;
	shmkit_chan_opts co;
	shmkit_chan *ch;
	uint64_t v = 0;
	bool hold = false;
	char **cmd = NULL;
	cli_args a;
	int o, r, status = CLI_OK;

	memset(&co, 0, sizeof(co));
	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	while (!cmd && (o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (spec && hold)
				cmd = &a.argv[a.i - 1]; /* CMD and all after */
			else if (spec)
				return cli_usage_err(sub,
						     "unexpected argument '%s'",
						     a.arg);
			else
				spec = a.arg;
			break;
		case O_HOLD:
			hold = true;
			break;
		case O_HELP:
			fputs(create_usage, stdout);
			return CLI_OK;
		case O_KIND:
			if (!strcmp(a.arg, "spsc"))
				co.kind = SHMKIT_CHAN_SPSC;
			else if (!strcmp(a.arg, "mpmc"))
				co.kind = SHMKIT_CHAN_MPMC;
			else if (!strcmp(a.arg, "broadcast"))
				co.kind = SHMKIT_CHAN_BROADCAST;
			else
				return cli_usage_err(sub,
						     "invalid kind '%s' (spsc, "
						     "mpmc or broadcast)",
						     a.arg);
			break;
		case O_CAP:
			if (cli_parse_size(a.arg, &v) < 0 || v == 0)
				return cli_usage_err(sub,
						     "invalid capacity '%s' "
						     "(spsc: bytes, with K, M "
						     "or G; mpmc, broadcast: "
						     "slots)",
						     a.arg);
			co.capacity = v;
			break;
		case O_MAXMSG:
			if (cli_parse_size(a.arg, &v) < 0 || v == 0 ||
			    v > UINT32_MAX)
				return cli_usage_err(sub,
						     "invalid --max-msg '%s'",
						     a.arg);
			co.max_msg = (uint32_t)v;
			break;
		case O_EPS:
			if (parse_num(sub, "--endpoints", a.arg, UINT32_MAX, &v))
				return CLI_USAGE;
			co.max_endpoints = (uint32_t)v;
			break;
		case O_WRITERS:
			if (parse_num(sub, "--writers", a.arg, UINT32_MAX, &v))
				return CLI_USAGE;
			co.writers = (uint32_t)v;
			break;
		case O_LOSSLESS:
			co.flags |= SHMKIT_CHAN_WAIT_READERS;
			break;
		case O_MODE:
			if (cli_parse_mode(a.arg, &co.mode) < 0 || co.mode == 0)
				return cli_usage_err(sub,
						     "invalid mode '%s' (octal, "
						     "1 to 0777)",
						     a.arg);
			break;
		}
	}
	if (!spec)
		return cli_usage_err(sub, "expected SPEC");
	if (!co.kind)
		return cli_usage_err(sub, "--kind is required (spsc, mpmc or "
				     "broadcast)");
	if (!strncmp(spec, "memfd:", 6) || !strncmp(spec, "anon:", 5))
		return cli_usage_err(sub,
				     "%.*s segments live only as long as a "
				     "process holds them; create such a "
				     "channel from your program",
				     (int)(strchr(spec, ':') - spec + 1), spec);
#ifdef _WIN32
	/* The segment dies with its last handle, ours at exit. */
	if (!strncmp(spec, "win:", 4) && !hold)
		return cli_usage_err(sub,
				     "a win: channel lives only while a "
				     "process holds it, so one made here would "
				     "vanish when shmkit exits; 'shmkit chan "
				     "create --hold %s --kind ...' keeps it "
				     "until Ctrl-C or the end of stdin, and "
				     "file:PATH makes one that persists",
				     spec);
	if (hold && strncmp(spec, "win:", 4))
		return cli_usage_err(sub, "--hold is for win: channels (a "
				     "file: one persists anyway)");
#endif
	why = shmkit_chan_opts_check(&co);
	if (why)
		return cli_usage_err(sub, "%s", why);
	co.role = SHMKIT_CHAN_NONE;
	r = shmkit_chan_create(spec, &co, &ch);
	if (r < 0)
		return chan_err("create", spec, r, NULL);
	if (hold)
		status = cli_hold(sub, shmkit_chan_seg(ch), cmd);
	else
		printf("%s\n", shmkit_spec(shmkit_chan_seg(ch)));
	r = shmkit_chan_close(ch);
	if (r < 0 && status == CLI_OK)
		return chan_err("create", spec, r, NULL);
	return status;
}

/* -- stat ---------------------------------------------------------------- */

static const char stat_usage[] =
	"Usage: shmkit chan stat SPEC\n"
	"\n"
	"Describe a channel: kind, capacity, fill level, messages sent and "
	"received,\nand its endpoints with their pid and whether they are "
	"alive. Looks only:\nit changes nothing, not even the entries of dead "
	"endpoints.\n"
	"\n"
	"  -h, --help   show this help\n";

static const char *role_name(shmkit_chan_role r)
{
	return r == SHMKIT_CHAN_WRITER ? "writer"
	       : r == SHMKIT_CHAN_READER ? "reader"
					 : "-";
}

/* The end-of-stream state, as a reader would be told it. */
static void print_stream(const shmkit_chan_info *in)
{
	char expect[64] = "";

	if (in->writers_expected)
		snprintf(expect, sizeof(expect), " (%u of %u expected)",
			 in->writers_left, in->writers_expected);
	if (!(in->stream & SHMKIT_CHAN_STREAM_ENDED))
		printf("  stream     open: %u writer%s left it so far%s\n",
		       in->writers_left, in->writers_left == 1 ? "" : "s",
		       expect);
	else if (in->stream & SHMKIT_CHAN_STREAM_RESET)
		printf("  stream     reset: writer pid %d died without closing; "
		       "readers get -ECONNRESET once empty\n",
		       (int)in->dead_writer);
	else if (in->stream & SHMKIT_CHAN_STREAM_SHUTDOWN)
		printf("  stream     ended: shut down by a writer; readers get "
		       "-EPIPE once empty\n");
	else
		printf("  stream     ended: every writer closed%s; readers get "
		       "-EPIPE once empty\n",
		       expect);
}

static int chan_stat(int argc, char **argv)
{
	enum { O_HELP = 1 };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{NULL, 0, false, 0},
	};
	const char *sub = "chan stat", *spec = NULL;
	shmkit_chan_ep_info *eps;
	shmkit_chan_info in;
	shmkit_chan *ch;
	char b1[CLI_SIZE_BUF], b2[CLI_SIZE_BUF];
	cli_args a;
	int o, n, i, bc;
	size_t max;
	cli_table t;

	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (spec)
				return cli_usage_err(sub,
						     "unexpected argument '%s'",
						     a.arg);
			spec = a.arg;
			break;
		case O_HELP:
			fputs(stat_usage, stdout);
			return CLI_OK;
		}
	}
	if (!spec)
		return cli_usage_err(sub, "expected SPEC");
	o = shmkit_chan_open(spec, SHMKIT_CHAN_NONE, &ch);
	if (o < 0)
		return chan_err("stat", spec, o, NULL);
	max = 4096;
	eps = calloc(max, sizeof(*eps));
	if (!eps) {
		shmkit_chan_close(ch);
		return cli_err("chan stat", -ENOMEM);
	}
	n = shmkit_chan_stat(ch, &in, eps, max);
	if (n < 0) {
		free(eps);
		shmkit_chan_close(ch);
		return chan_err("stat", spec, n, NULL);
	}
	bc = in.kind == SHMKIT_CHAN_BROADCAST;
	printf("%s: %s channel (layout %u)\n", shmkit_spec(shmkit_chan_seg(ch)),
	       shmkit_chan_kind_name(in.kind), in.version);
	if (in.kind == SHMKIT_CHAN_SPSC) {
		printf("  capacity   %s ring, messages up to %u bytes\n",
		       cli_format_size(in.capacity, b1), in.max_msg);
		printf("  used       %s (%llu%%)\n", cli_format_size(in.used, b2),
		       (unsigned long long)(in.used * 100 / in.capacity));
	} else {
		printf("  capacity   %llu slots of %s, messages up to %u bytes%s\n",
		       (unsigned long long)in.capacity,
		       cli_format_size(in.slot_size, b1), in.max_msg,
		       in.flags & SHMKIT_CHAN_WAIT_READERS
			       ? "; lossless (the writer waits for the slowest "
				 "reader)"
			       : "");
		printf("  %s %llu messages (%llu%%)\n",
		       bc ? "retained  " : "waiting   ",
		       (unsigned long long)in.used,
		       (unsigned long long)(in.used * 100 / in.capacity));
	}
	printf("  size       %s\n", cli_format_size(in.size, b1));
	printf("  messages   %llu sent, %llu received\n",
	       (unsigned long long)in.sent, (unsigned long long)in.received);
	if (in.kind == SHMKIT_CHAN_MPMC)
		printf("  repaired   %llu slots of dead writers skipped, %llu "
		       "messages lost with dead readers\n",
		       (unsigned long long)in.poisoned,
		       (unsigned long long)in.dropped);
	print_stream(&in);
	printf("  endpoints  %d of %u: %u writer%s and %u reader%s alive; "
	       "%llu dead reclaimed\n",
	       n, in.max_endpoints, in.writers, in.writers == 1 ? "" : "s",
	       in.readers, in.readers == 1 ? "" : "s",
	       (unsigned long long)in.reclaimed);
	if (n > 0) {
		cli_table_init(&t, bc ? 8 : 6, bc ? "rlrlrrrr" : "rlrlrr");
		{
			const char *hdr[] = {"ENTRY", "ROLE", "PID", "STATE",
					     "MSGS", "BYTES", "LOST", "LAG"};
			cli_table_add(&t, hdr);
		}
		for (i = 0; i < n && (size_t)i < max; i++) {
			char c[8][32];
			const char *row[8];
			int j;
			snprintf(c[0], 32, "%u", eps[i].index);
			snprintf(c[1], 32, "%s", role_name(eps[i].role));
			snprintf(c[2], 32, "%d", (int)eps[i].pid);
			snprintf(c[3], 32, "%s",
				 eps[i].alive > 0    ? "alive"
				 : eps[i].alive == 0 ? "dead"
						     : "unknown");
			snprintf(c[4], 32, "%llu",
				 (unsigned long long)eps[i].msgs);
			snprintf(c[5], 32, "%llu",
				 (unsigned long long)eps[i].bytes);
			snprintf(c[6], 32, "%llu",
				 (unsigned long long)eps[i].lost);
			snprintf(c[7], 32, "%llu",
				 (unsigned long long)eps[i].lag);
			if (eps[i].role != SHMKIT_CHAN_READER) {
				strcpy(c[6], "-");
				strcpy(c[7], "-");
			}
			for (j = 0; j < 8; j++)
				row[j] = c[j];
			cli_table_add(&t, row);
		}
		o = cli_table_print(&t, stdout, 2);
		cli_table_free(&t);
		if (o < 0) {
			free(eps);
			shmkit_chan_close(ch);
			return cli_err("chan stat", o);
		}
	}
	free(eps);
	o = shmkit_chan_close(ch);
	return o < 0 ? chan_err("stat", spec, o, NULL) : CLI_OK;
}

/* -- send ---------------------------------------------------------------- */

static const char send_usage[] =
	"Usage: shmkit chan send SPEC [OPTIONS]\n"
	"\n"
	"Send each line of stdin as one message (without its newline), "
	"waiting\nwhile the channel is full. Closing at the end of stdin ends "
	"the stream for\nthe readers (unless the channel expects more writers: "
	"'chan create\n--writers'). Stops early, saying how many lines went "
	"through, when no\nreader is left to make room, the stream was shut "
	"down, a line is too long\nor --timeout runs out (exit 1). While the "
	"channel is full and no reader\nhas opened it, it says so on stderr "
	"and keeps waiting.\n"
	"\n"
	"  -t, --timeout MS   give up (exit 1) after waiting MS milliseconds "
	"for room\n"
	"  --wait MODE        adaptive (default), spin or block\n"
	"  -h, --help         show this help\n";

/* Lines left on stdin, when it is a regular file (so counting ends). */
static bool lines_left(uint64_t *ret)
{
	uint64_t n = 0, bytes;
	int c, last = '\n';

	if (!cli_stdin_file_left(&bytes))
		return false;
	while ((c = getchar()) != EOF) {
		n += c == '\n';
		last = c;
	}
	*ret = n + (last != '\n');
	return true;
}

/* "sent 312 of 1000 lines: <why>", or without the total from a pipe. */
static int send_stopped(const char *spec, uint64_t sent, const char *why)
{
	char shown[SHMKIT_SPEC_MAX];
	uint64_t rest;

	cli_printable(spec, shown, sizeof(shown));
	if (lines_left(&rest))
		return cli_errf("chan send: %s: sent %llu of %llu lines: %s",
				shown, (unsigned long long)sent,
				(unsigned long long)(sent + 1 + rest), why);
	return cli_errf("chan send: %s: sent %llu lines; line %llu and the "
			"rest of stdin were not sent: %s",
			shown, (unsigned long long)sent,
			(unsigned long long)(sent + 1), why);
}

static bool shut_down(shmkit_chan *ch)
{
	shmkit_chan_info in;

	return shmkit_chan_stat(ch, &in, NULL, 0) >= 0 &&
	       (in.stream & SHMKIT_CHAN_STREAM_SHUTDOWN);
}

static bool no_reader(shmkit_chan *ch)
{
	shmkit_chan_info in;

	return shmkit_chan_stat(ch, &in, NULL, 0) >= 0 && in.readers == 0;
}

/* Once the channel is full with nobody there to empty it: say so. */
static void note_no_reader(shmkit_chan *ch, const char *spec, bool *told)
{
	char shown[SHMKIT_SPEC_MAX];

	if (*told || !no_reader(ch))
		return;
	cli_printable(spec, shown, sizeof(shown));
	fprintf(stderr,
		"shmkit: chan send: %s: waiting for a reader: the channel is "
		"full and no reader has it open (-t MS gives up)\n",
		shown);
	*told = true;
}

static int chan_send(int argc, char **argv)
{
	enum { O_HELP = 1, O_TIMEOUT, O_WAIT };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"timeout", 't', true, O_TIMEOUT},
		{"wait", 0, true, O_WAIT},
		{NULL, 0, false, 0},
	};
	const char *sub = "chan send", *spec = NULL;
	shmkit_chan_wait mode = SHMKIT_CHAN_ADAPTIVE;
	int64_t timeout_ms = -1;
	shmkit_chan *ch;
	char *line = NULL, why[160];
	size_t cap = 0;
	long len;
	uint64_t v = 0, sent = 0;
	bool told = false;
	cli_args a;
	int o, r = 0, status = CLI_OK;

	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (spec)
				return cli_usage_err(sub,
						     "unexpected argument '%s'",
						     a.arg);
			spec = a.arg;
			break;
		case O_HELP:
			fputs(send_usage, stdout);
			return CLI_OK;
		case O_TIMEOUT:
			if (parse_num(sub, "timeout", a.arg, INT64_MAX / 1000000,
				      &v))
				return CLI_USAGE;
			timeout_ms = (int64_t)v;
			break;
		case O_WAIT:
			if (parse_wait(sub, a.arg, &mode))
				return CLI_USAGE;
			break;
		}
	}
	if (!spec)
		return cli_usage_err(sub, "expected SPEC");
	r = shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &ch);
	if (r < 0)
		return chan_err("send", spec, r, NULL);
	shmkit_chan_set_wait(ch, mode, 0);
	catch_stops();
	while (!stop_sig && (len = cli_getline(&line, &cap, stdin)) >= 0) {
		int64_t waited = 0;

		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((size_t)len > shmkit_chan_max_msg(ch)) {
			snprintf(why, sizeof(why),
				 "line %llu is %ld bytes, over the channel's "
				 "maximum of %zu",
				 (unsigned long long)(sent + 1), len,
				 shmkit_chan_max_msg(ch));
			status = send_stopped(spec, sent, why);
			break;
		}
		for (;;) {
			r = shmkit_chan_send(ch, line, (size_t)len,
					     SHMKIT_CHAN_MS(SLICE_MS));
			if (r != -ETIMEDOUT || stop_sig)
				break;
			waited += SLICE_MS;
			if (timeout_ms >= 0 && waited >= timeout_ms)
				break;
			if (waited >= 1000)
				note_no_reader(ch, spec, &told);
		}
		if (r < 0) {
			if (stop_sig)
				break;
			if (r == -ETIMEDOUT)
				snprintf(why, sizeof(why),
					 "no room for %lld ms (%s)",
					 (long long)timeout_ms,
					 no_reader(ch) ? "no reader has the "
							 "channel open"
						       : "the readers are not "
							 "keeping up");
			else if (r == -EPIPE)
				snprintf(why, sizeof(why), "%s",
					 shut_down(ch)
						 ? "the stream was shut down"
						 : "the channel is full and no "
						   "reader is left");
			else
				snprintf(why, sizeof(why), "%s",
					 shmkit_strerror(r));
			status = send_stopped(spec, sent, why);
			break;
		}
		sent++;
	}
	if (status == CLI_OK && ferror(stdin))
		status = cli_err("chan send: stdin", -EIO);
	free(line);
	r = shmkit_chan_close(ch);
	if (r < 0 && status == CLI_OK)
		status = chan_err("send", spec, r, NULL);
	return stop_sig && status == CLI_OK ? 128 + stop_sig : status;
}

/* -- recv ---------------------------------------------------------------- */

static const char recv_usage[] =
	"Usage: shmkit chan recv SPEC [OPTIONS]\n"
	"\n"
	"Print messages as they arrive, one per line, until the end of the "
	"stream.\nThe end is kept in the channel: once every writer that "
	"opened it has\nclosed (and as many as 'chan create --writers' asked "
	"for) and none is open,\nor a writer shut the stream down, a reader "
	"drains what is left and stops,\nwhenever it started. A reader that "
	"starts before any writer has opened\nthe channel waits for the "
	"first one; a writer that opens after the end\nbegins a new stream.\n"
	"\n"
	"Exit status: 0 at a clean end; 1 if a writer died without closing "
	"(the\nstream may be incomplete: 'writer died (pid N)' on stderr), on "
	"an error, or\nwhen --count messages did not all come. A broadcast "
	"reader starts with the\nnext message sent and reports on stderr what "
	"it lost when the writer\nlapped it.\n"
	"\n"
	"  -n, --count N      stop after N messages\n"
	"  --oldest           broadcast: start with the oldest message still "
	"in the\n"
	"                     ring, not the next one sent\n"
	"  -t, --timeout MS   stop when no message came for MS milliseconds "
	"(exit 0,\n"
	"                     or 1 if --count messages had not all come)\n"
	"  --wait MODE        adaptive (default), spin or block\n"
	"  -h, --help         show this help\n";

/* The end of a stream whose writer died: say who, and that it may be cut. */
static int writer_died(shmkit_chan *ch, const char *spec)
{
	shmkit_chan_info in;
	char shown[SHMKIT_SPEC_MAX];

	cli_printable(spec, shown, sizeof(shown));
	if (shmkit_chan_stat(ch, &in, NULL, 0) >= 0 && in.dead_writer > 0)
		return cli_errf("chan recv: %s: writer died (pid %d) without "
				"closing; the stream may be incomplete",
				shown, (int)in.dead_writer);
	return cli_errf("chan recv: %s: writer died without closing; the "
			"stream may be incomplete",
			shown);
}

static int chan_recv(int argc, char **argv)
{
	enum { O_HELP = 1, O_COUNT, O_TIMEOUT, O_WAIT, O_OLDEST };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"count", 'n', true, O_COUNT},
		{"oldest", 0, false, O_OLDEST},
		{"timeout", 't', true, O_TIMEOUT},
		{"wait", 0, true, O_WAIT},
		{NULL, 0, false, 0},
	};
	const char *sub = "chan recv", *spec = NULL;
	shmkit_chan_wait mode = SHMKIT_CHAN_ADAPTIVE;
	int64_t timeout_ms = -1;
	uint64_t count = 0, got = 0, v = 0, lost = 0;
	bool have_count = false, oldest = false;
	shmkit_chan *ch;
	char *buf;
	cli_args a;
	int o, r, status = CLI_OK;

	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (spec)
				return cli_usage_err(sub,
						     "unexpected argument '%s'",
						     a.arg);
			spec = a.arg;
			break;
		case O_HELP:
			fputs(recv_usage, stdout);
			return CLI_OK;
		case O_COUNT:
			if (parse_num(sub, "count", a.arg, UINT64_MAX, &count))
				return CLI_USAGE;
			have_count = true;
			break;
		case O_TIMEOUT:
			if (parse_num(sub, "timeout", a.arg, INT64_MAX / 1000000,
				      &v))
				return CLI_USAGE;
			timeout_ms = (int64_t)v;
			break;
		case O_WAIT:
			if (parse_wait(sub, a.arg, &mode))
				return CLI_USAGE;
			break;
		case O_OLDEST:
			oldest = true;
			break;
		}
	}
	if (!spec)
		return cli_usage_err(sub, "expected SPEC");
	r = shmkit_chan_open(spec, SHMKIT_CHAN_READER, &ch);
	if (r < 0)
		return chan_err("recv", spec, r, NULL);
	if (oldest && shmkit_chan_rewind(ch) < 0) {
		shmkit_chan_close(ch);
		return cli_usage_err(sub, "--oldest is for broadcast channels");
	}
	buf = malloc(shmkit_chan_max_msg(ch) + 1);
	if (!buf) {
		shmkit_chan_close(ch);
		return cli_err("chan recv", -ENOMEM);
	}
	shmkit_chan_set_wait(ch, mode, 0);
	cli_ignore_sigpipe();
	catch_stops();
	while (!stop_sig && (!have_count || got < count)) {
		int64_t waited = 0;
		ssize_t n;

		for (;;) {
			n = shmkit_chan_recv(ch, buf, shmkit_chan_max_msg(ch),
					     SHMKIT_CHAN_MS(SLICE_MS));
			if (n != -ETIMEDOUT || stop_sig)
				break;
			waited += SLICE_MS;
			if (timeout_ms >= 0 && waited >= timeout_ms)
				break;
		}
		if (shmkit_chan_lost(ch) != lost) {
			fprintf(stderr,
				"shmkit: chan recv: lost %llu messages (the "
				"writer lapped this reader)\n",
				(unsigned long long)(shmkit_chan_lost(ch) - lost));
			lost = shmkit_chan_lost(ch);
		}
		if (stop_sig)
			break;
		if (n == -EPIPE) { /* a clean end, and all is read */
			if (have_count)
				status = cli_errf("chan recv: the stream ended "
						  "after %llu of %llu messages",
						  (unsigned long long)got,
						  (unsigned long long)count);
			break;
		}
		if (n == -ECONNRESET) {
			status = writer_died(ch, spec);
			break;
		}
		if (n == -ETIMEDOUT) {
			if (have_count)
				status = cli_errf("chan recv: %llu of %llu "
						  "messages came in time",
						  (unsigned long long)got,
						  (unsigned long long)count);
			break;
		}
		if (n < 0) {
			status = chan_err("recv", spec, (int)n, NULL);
			break;
		}
		buf[n] = '\n';
		if (fwrite(buf, 1, (size_t)n + 1, stdout) != (size_t)n + 1 ||
		    fflush(stdout) != 0) {
			status = errno == EPIPE ? CLI_OK
						: cli_err("chan recv: stdout",
							  -errno);
			break;
		}
		got++;
	}
	free(buf);
	r = shmkit_chan_close(ch);
	if (r < 0 && status == CLI_OK)
		status = chan_err("recv", spec, r, NULL);
	return stop_sig && status == CLI_OK ? 128 + stop_sig : status;
}

/* -- rm ------------------------------------------------------------------ */

static const char rm_usage[] =
	"Usage: shmkit chan rm SPEC...\n"
	"\n"
	"Remove channels. A segment that does not hold a valid channel is "
	"left\nalone (use 'shmkit rm' for that). Endpoints already open keep "
	"working;\nnobody new can open the channel.\n"
#ifdef _WIN32
	"On Windows a win: channel cannot be removed: it goes with the last "
	"process\nholding it (stop the 'chan create --hold' that keeps it).\n"
#endif
	"\n"
	"  -h, --help   show this help\n";

static int chan_rm(int argc, char **argv)
{
	enum { O_HELP = 1 };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{NULL, 0, false, 0},
	};
	const char *sub = "chan rm";
	cli_args a;
	int o, r, n = 0, status = CLI_OK;

	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		if (o == CLI_ARG_BAD)
			return CLI_USAGE;
		if (o == O_HELP) {
			fputs(rm_usage, stdout);
			return CLI_OK;
		}
	}
	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		shmkit_chan *ch;

		if (o != CLI_ARG_OPERAND)
			continue;
		n++;
#ifdef _WIN32
		/* Destroying one only closes our handle: say it stays. */
		if (!strncmp(a.arg, "win:", 4)) {
			r = shmkit_chan_probe(a.arg);
			status = chan_err("rm", a.arg,
					  r < 0 ? r : r ? -ENOTSUP : -EPROTO,
					  NULL);
			continue;
		}
		/*
		 * A handle of no role maps a file: segment read-only, and
		 * Windows removes no file through a handle opened so (the
		 * library then says -EBUSY): check that it is a channel, let
		 * go of it, and remove it by name.
		 */
		if (!strncmp(a.arg, "file:", 5)) {
			r = shmkit_chan_open(a.arg, SHMKIT_CHAN_NONE, &ch);
			if (r == 0)
				r = shmkit_chan_close(ch);
			if (r == 0)
				r = shmkit_unlink(a.arg);
			if (r < 0)
				status = chan_err(
					"rm", a.arg, r,
					r == -EBUSY ? "another process still "
						      "maps it, and Windows "
						      "removes no file while "
						      "it is mapped"
						    : NULL);
			continue;
		}
#endif
		r = shmkit_chan_open(a.arg, SHMKIT_CHAN_NONE, &ch);
		if (r == 0)
			r = shmkit_chan_destroy(ch);
		if (r < 0)
			status = chan_err("rm", a.arg, r, NULL);
	}
	if (!n)
		return cli_usage_err(sub, "expected SPEC");
	return status;
}

/* -- dispatch ------------------------------------------------------------ */

static const char chan_usage[] =
	"Usage: shmkit chan COMMAND SPEC [OPTIONS]\n"
	"\n"
	"Channels: lock-free message queues inside a shared memory segment.\n"
	"\n"
	"Commands:\n"
	"  create   make a channel (--kind spsc|mpmc|broadcast)\n"
	"  stat     describe a channel and its endpoints\n"
	"  send     send each line of stdin as a message\n"
	"  recv     print messages as they arrive\n"
	"  rm       remove a channel\n"
	"\n"
	"Two terminals can talk:\n"
#ifdef _WIN32
	"  shmkit chan create 'file:C:\\talk.chan' --kind spsc\n"
	"  shmkit chan recv 'file:C:\\talk.chan'   # in one\n"
	"  shmkit chan send 'file:C:\\talk.chan'   # in the other\n"
	"A win: channel needs a holder: 'shmkit chan create --help'.\n"
#else
	"  shmkit chan create posix:/talk --kind spsc\n"
	"  shmkit chan recv posix:/talk          # in one\n"
	"  shmkit chan send posix:/talk          # in the other\n"
#endif
	"\n"
	"'shmkit chan COMMAND --help' tells more.\n";

int shmkit_cli_chan(int argc, char **argv)
{
	static const cli_sub subs[] = {
		{"create", chan_create}, {"stat", chan_stat},
		{"send", chan_send},     {"recv", chan_recv},
		{"rm", chan_rm},
	};

	return cli_dispatch("chan", subs, sizeof(subs) / sizeof(subs[0]),
			    chan_usage, argc, argv);
}
