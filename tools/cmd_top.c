/*
 * cmd_top.c: `shmkit top`, a live view of the segments on this host and of
 * the traffic of the channels among them.
 *
 * Each frame is a snapshot: the listing of `ls` (cli_seglist_gather(), with
 * the same filters and the same read-only probes for what each segment
 * holds), then, for every channel found, shmkit_chan_stat() through a
 * handle of no role (mapped read-only: top registers no endpoint and writes
 * nothing). Rates are the difference of the counters of two snapshots over
 * the time between them, so the first frame is printed only after a second
 * snapshot, one interval after the first; a channel seen only once (new, or
 * made again under its name, its counters back to zero) has no rate yet.
 *
 * On a terminal the frame replaces the last one (ANSI clear and home) every
 * interval until interrupted or -n frames are shown. When stdout is not a
 * terminal, or with --once, it prints one frame and exits (-n N prints N,
 * one after another), so scripts and tests can read it.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char top_usage[] =
	"Usage: shmkit top [--once] [-n N] [-d SECS] [--backend NAME] "
	"[--dir DIR]\n"
	"                  [PATTERN...]\n"
	"\n"
	"A live view of the segments on this host and of the traffic of the "
	"channels\namong them, refreshed every SECS seconds (default 1) until "
	"interrupted.\n"
	"Segments: size, processes that map them (PROCS) and the kernel's "
	"attach count\n(NATTCH, System V), what they hold (KIND, as 'shmkit "
	"ls'). Channels: messages\nsent and received per second (SENT/S, "
	"RECV/S, between two looks), how full\nthey are (FILL: bytes of an "
	"SPSC ring, messages waiting in an MPMC queue,\nmessages retained by "
	"a broadcast ring), live writers and readers (W, R), the\ncounters "
	"since create (SENT, RECV) and how the stream stands.\n"
	"\n"
	"  --once              print one view and exit (the default when "
	"stdout is\n"
	"                      not a terminal); it still looks twice, SECS "
	"apart,\n"
	"                      for the rates\n"
	"  -n, --iterations N  show N views, then exit (piped too: one after "
	"another)\n"
	"  -d, --delay SECS    seconds between views: 0.01 to 3600 (default "
	"1)\n"
	"  PATTERN, --backend NAME, --dir DIR\n"
	"                      which segments, as for 'shmkit ls'\n"
	"  -h, --help          show this help\n"
#ifdef _WIN32
	"\n"
	"On Windows: the win: segments this process can see, as 'shmkit ls' "
	"lists\nthem (a file: channel is not listed, --dir is not available); "
	"PROCS and\nNATTCH are '-': Windows does not tell who maps a "
	"segment.\n"
#endif
	;

/* One look: the listing, and the stat of each channel in it. */
typedef struct snap {
	cli_seglist l;
	shmkit_chan_info *ci; /* per segment; valid where ok[i] */
	signed char *ok;
	int64_t t;            /* cli_now_ns() */
} snap;

static void snap_free(snap *s)
{
	cli_seglist_free(&s->l);
	free(s->ci);
	free(s->ok);
	memset(s, 0, sizeof(*s));
}

static int take(const cli_filter *f, snap *s)
{
	size_t i;
	int r;

	snap_free(s);
	r = cli_seglist_gather("top", f, 0, true, &s->l);
	if (r != CLI_OK)
		return r;
	s->t = cli_now_ns();
	if (s->l.n == 0)
		return CLI_OK;
	s->ci = calloc(s->l.n, sizeof(*s->ci));
	s->ok = calloc(s->l.n, 1);
	if (!s->ci || !s->ok)
		return cli_err("top", -ENOMEM);
	for (i = 0; i < s->l.n; i++) {
		shmkit_chan *ch;

		if (s->l.kind[i] != CLI_KIND_CHANNEL)
			continue;
		/* Gone or changed since the probe: no figures, no error. */
		if (shmkit_chan_open(s->l.v[i].spec, SHMKIT_CHAN_NONE, &ch) < 0)
			continue;
		s->ok[i] = shmkit_chan_stat(ch, &s->ci[i], NULL, 0) >= 0;
		(void)shmkit_chan_close(ch);
	}
	return CLI_OK;
}

/* The same channel in the earlier look, or NULL. Both lists are sorted. */
static const shmkit_chan_info *before(const snap *prev, const char *spec,
				      const shmkit_chan_info *now)
{
	size_t i;

	for (i = 0; i < prev->l.n; i++) {
		const shmkit_chan_info *p = &prev->ci[i];

		if (!prev->ok[i] || strcmp(prev->l.v[i].spec, spec))
			continue;
		/* Made again under the name: counters went back. */
		if (p->kind != now->kind || p->capacity != now->capacity ||
		    p->sent > now->sent || p->received > now->received)
			return NULL;
		return p;
	}
	return NULL;
}

static const char *rate_text(uint64_t was, uint64_t now, double secs,
			     char buf[32])
{
	double r = secs > 0 ? (double)(now - was) / secs : 0;

	if (r >= 10 || r == 0)
		snprintf(buf, 32, "%.0f", r);
	else
		snprintf(buf, 32, "%.1f", r);
	return buf;
}

static const char *stream_text(const shmkit_chan_info *c)
{
	if (c->stream & SHMKIT_CHAN_STREAM_RESET)
		return "writer died";
	if (c->stream & SHMKIT_CHAN_STREAM_SHUTDOWN)
		return "shut down";
	if (c->stream & SHMKIT_CHAN_STREAM_ENDED)
		return "ended";
	return "open";
}

static int print_segments(const snap *s)
{
	cli_table t;
	size_t i;
	int r;

	cli_table_init(&t, 6, "llrrrl");
	cli_table_add(&t, (const char *const[]){"SPEC", "BACKEND", "SIZE",
						"PROCS", "NATTCH", "KIND"});
	for (i = 0; i < s->l.n; i++) {
		const shmkit_info *in = &s->l.v[i];
		char spec[SHMKIT_SPEC_MAX], size[CLI_SIZE_BUF], np[24], na[24];

		cli_printable(in->spec, spec, sizeof(spec));
		snprintf(np, sizeof(np), "%ld", in->nprocs);
		snprintf(na, sizeof(na), "%ld", in->nattch);
		cli_table_add(&t, (const char *const[]){
					  spec, shmkit_backend_name(in->backend),
					  cli_format_size(in->size, size),
					  in->nprocs < 0 ? "-" : np,
					  in->nattch < 0 ? "-" : na,
					  cli_kind_name(s->l.kind[i])});
	}
	r = cli_table_print(&t, stdout, 2);
	cli_table_free(&t);
	return r;
}

static int print_channels(const snap *prev, const snap *s, size_t *count)
{
	double secs = (double)(s->t - prev->t) / 1e9;
	cli_table t;
	size_t i;
	int r;

	*count = 0;
	cli_table_init(&t, 10, "llrrrrrrrl");
	cli_table_add(&t, (const char *const[]){"SPEC", "KIND", "SENT/S",
						"RECV/S", "FILL", "W", "R",
						"SENT", "RECV", "STREAM"});
	for (i = 0; i < s->l.n; i++) {
		const shmkit_chan_info *c = &s->ci[i], *p;
		char spec[SHMKIT_SPEC_MAX], sr[32], rr[32], fill[32], w[16],
			rd[16], sent[24], recv[24];

		if (!s->ok[i])
			continue;
		(*count)++;
		p = before(prev, s->l.v[i].spec, c);
		cli_printable(s->l.v[i].spec, spec, sizeof(spec));
		snprintf(fill, sizeof(fill), "%.0f%%",
			 c->capacity ? 100.0 * (double)c->used /
					       (double)c->capacity
				     : 0.0);
		snprintf(w, sizeof(w), "%u", c->writers);
		snprintf(rd, sizeof(rd), "%u", c->readers);
		snprintf(sent, sizeof(sent), "%llu",
			 (unsigned long long)c->sent);
		snprintf(recv, sizeof(recv), "%llu",
			 (unsigned long long)c->received);
		cli_table_add(&t, (const char *const[]){
					  spec, shmkit_chan_kind_name(c->kind),
					  p ? rate_text(p->sent, c->sent, secs, sr)
					    : "-",
					  p ? rate_text(p->received, c->received,
							secs, rr)
					    : "-",
					  fill, w, rd, sent, recv,
					  stream_text(c)});
	}
	r = *count ? cli_table_print(&t, stdout, 2) : 0;
	cli_table_free(&t);
	return r;
}

static int print_frame(const snap *prev, const snap *s, double interval,
		       bool clear)
{
	char now[16];
	size_t nch = 0;
	time_t t = time(NULL);
	struct tm tm;
	int r;

	if (!cli_localtime((int64_t)t, &tm) || !strftime(now, sizeof(now), "%H:%M:%S", &tm))
		strcpy(now, "?");
	if (clear)
		fputs("\033[H\033[2J", stdout);
	printf("shmkit top  %s  every %gs\n\nSegments (%zu)\n", now, interval,
	       s->l.n);
	r = print_segments(s);
	if (r == 0) {
		fputs("\nChannels\n", stdout);
		r = print_channels(prev, s, &nch);
		if (r == 0 && nch == 0)
			fputs("  (none)\n", stdout);
	}
	if (!clear)
		putchar('\n');
	fflush(stdout);
	return r < 0 ? cli_err("top", r) : CLI_OK;
}

static void nap(double secs)
{
	cli_sleep_ns((int64_t)(secs * 1e9));
}

static int parse_interval(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0.01 || v > 3600)
		return cli_usage_err("top", "-d: '%s' is not a number of "
					    "seconds from 0.01 to 3600",
				     s);
	*out = v;
	return 0;
}

static int parse_count(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < 1 || v > 1000000000L)
		return cli_usage_err("top", "-n: '%s' is not a count of views "
					    "(1 or more)",
				     s);
	*out = v;
	return 0;
}

int cmd_top(int argc, char **argv)
{
	enum { O_HELP = 1, O_ONCE, O_COUNT, O_DELAY, O_BACKEND, O_DIR };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"once", 0, false, O_ONCE},
		{"iterations", 'n', true, O_COUNT},
		{"delay", 'd', true, O_DELAY},
		{"backend", 'b', true, O_BACKEND},
		{"dir", 0, true, O_DIR},
		{NULL, 0, false, 0},
	};
	snap prev = {0}, cur = {0}, tmp;
	bool tty = cli_stdout_is_tty(), once = false;
	double interval = 1.0;
	long count = 0, shown;
	cli_filter f = {0};
	cli_args a;
	int o, r = CLI_OK;

	cli_args_init(&a, argc, argv);
	while (r == CLI_OK && (o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			r = CLI_USAGE;
			break;
		case CLI_ARG_OPERAND:
			if (cli_filter_pattern(&f, a.arg) < 0)
				r = cli_err("top", -ENOMEM);
			break;
		case O_HELP:
			fputs(top_usage, stdout);
			cli_filter_free(&f);
			return CLI_OK;
		case O_ONCE:
			once = true;
			break;
		case O_COUNT:
			r = parse_count(a.arg, &count);
			break;
		case O_DELAY:
			r = parse_interval(a.arg, &interval);
			break;
		case O_BACKEND:
			r = cli_filter_backend("top", &f, a.arg);
			break;
		case O_DIR:
			if (cli_filter_dir(&f, a.arg) < 0)
				r = cli_err("top", -ENOMEM);
			break;
		}
	}
	if (r == CLI_OK && once && count > 1)
		r = cli_usage_err("top", "--once and -n %ld contradict each "
					 "other",
				  count);
	if (r == CLI_OK)
		r = cli_filter_check("top", &f);
	if (r != CLI_OK) {
		cli_filter_free(&f);
		return r;
	}
	if (once || (!tty && count == 0))
		count = 1;

	r = take(&f, &prev);
	for (shown = 0; r == CLI_OK && (count == 0 || shown < count); shown++) {
		nap(interval);
		r = take(&f, &cur);
		if (r == CLI_OK)
			r = print_frame(&prev, &cur, interval, tty);
		if (r == CLI_OK && ferror(stdout))
			r = CLI_FAIL; /* main() says why */
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	snap_free(&prev);
	snap_free(&cur);
	cli_filter_free(&f);
	return r;
}
