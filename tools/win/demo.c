/*
 * demo.c (Windows): `shmkit demo` on Windows, one segment per backend (win:
 * and file:) shared between this process and a child process, checked end
 * to end and timed.
 *
 * Windows has no fork: the child is this same shmkit.exe, started with
 * CreateProcess and the hidden subcommand `demo --child SPEC` (not in the
 * help: it is the demo's own business). For each backend the parent makes
 * a 1 MiB segment, fills it with a pattern and puts the pattern's FNV-1a
 * checksum in a 64-byte header at the start; the child attaches by the
 * spec, checksums the payload, writes its reply and checksum into the
 * header, detaches and exits 0 (or 1, after saying why on stderr). The
 * parent then checks both and destroys the segment. The win: segment stays
 * alive while the child runs because the parent holds it: exactly what a
 * Windows program sharing memory has to do. The segment's layout and
 * pattern are the Unix demo's (tools/demo_seg.c).
 *
 * A third row is a channel round trip: one win: segment holds two SPSC
 * channels laid end to end (shmkit_chan_create_in), "ping" from the parent
 * to the child and "pong" back. The child (`demo --child-chan SPEC`)
 * attaches by the spec, opens the channels at the same offsets and echoes
 * every message until the parent closes "ping" (the end of the stream,
 * -EPIPE); the parent times each round trip and checks every reply.
 *
 * Everything made is removed on every path; every wait is bounded: the
 * parent's receives come in slices and look at the child between them, and
 * a child that overstays is killed with TerminateProcess.
 */
#include "../cli.h"
#include "../demo_seg.h"
#include "win_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define DEMO_TIMEOUT_MS 10000
#define DEMO_MSGS 1000     /* round trips of the channel row */
#define DEMO_MSG_MAX 64
#define SLICE_MS 100

/* The two channels of the channel row, end to end in one segment: both
 * sides compute the same offsets from these options. */
static const shmkit_chan_opts demo_chan_opts = {
	.kind = SHMKIT_CHAN_SPSC,
	.capacity = 4096,
	.max_msg = DEMO_MSG_MAX,
};

/* -- the child: shmkit demo --child SPEC ---------------------------------- */

static int child_main(const char *spec)
{
	shmkit_seg *seg;
	const char *bad;
	demo_hdr *h;
	int r;

	r = shmkit_attach(spec, NULL, &seg);
	if (r < 0)
		return cli_seg_err("demo child: attach", spec, r);
	h = shmkit_addr(seg);
	bad = cli_demo_check(h, shmkit_size(seg));
	if (bad) {
		shmkit_detach(seg);
		return cli_errf("demo child: %s: %s", spec, bad);
	}
	h->child_pid = (int32_t)GetCurrentProcessId();
	snprintf(h->reply, sizeof(h->reply), "hello from child %lu",
		 (unsigned long)GetCurrentProcessId());
	r = shmkit_detach(seg);
	if (r < 0)
		return cli_seg_err("demo child: detach", spec, r);
	return CLI_OK;
}

/* -- the child of the channel row: shmkit demo --child-chan SPEC -------- */

/* Where "pong" starts: right after "ping". */
static int chan_offset(size_t *off)
{
	return shmkit_chan_size(&demo_chan_opts, off);
}

static int child_chan_main(const char *spec)
{
	shmkit_chan *ping = NULL, *pong = NULL;
	char buf[DEMO_MSG_MAX + 8];
	shmkit_seg *seg;
	size_t off;
	ssize_t n;
	int r, status = CLI_OK;

	r = chan_offset(&off);
	if (r < 0)
		return cli_err("demo child: channel size", r);
	r = shmkit_attach(spec, NULL, &seg);
	if (r < 0)
		return cli_seg_err("demo child: attach", spec, r);
	r = shmkit_chan_open_in(seg, 0, SHMKIT_CHAN_READER, &ping);
	if (r == 0)
		r = shmkit_chan_open_in(seg, off, SHMKIT_CHAN_WRITER, &pong);
	if (r < 0)
		status = cli_seg_err("demo child: open the channels", spec, r);
	while (status == CLI_OK) {
		n = shmkit_chan_recv(ping, buf, sizeof(buf),
				     SHMKIT_CHAN_MS(DEMO_TIMEOUT_MS));
		if (n == -EPIPE)
			break; /* the parent closed "ping": done */
		if (n < 0) {
			status = cli_seg_err("demo child: receive", spec,
					     (int)n);
			break;
		}
		/* "ping N" comes back as "pong N". */
		if (n >= 4)
			memcpy(buf, "pong", 4);
		r = shmkit_chan_send(pong, buf, (size_t)n,
				     SHMKIT_CHAN_MS(DEMO_TIMEOUT_MS));
		if (r < 0)
			status = cli_seg_err("demo child: send", spec, r);
	}
	r = shmkit_chan_close(pong);
	if (r < 0 && status == CLI_OK)
		status = cli_seg_err("demo child: close", spec, r);
	shmkit_chan_close(ping);
	shmkit_detach(seg);
	return status;
}

/* -- the parent ---------------------------------------------------------- */

typedef struct demo_row {
	const char *backend;
	bool chan; /* the channel row */
	char spec[SHMKIT_SPEC_MAX];
	bool ok;
	char result[CLI_WHY_BUF + CLI_HINT_BUF];
	int64_t create_ns, child_ns, destroy_ns;
} demo_row;

static void set_result(demo_row *row, const char *fmt, ...) CLI_PRINTF(2, 3);

static void set_result(demo_row *row, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(row->result, sizeof(row->result), fmt, ap);
	va_end(ap);
}

/* Start `shmkit demo ROLE SPEC`: 0 and *proc, or -errno. */
static int start_child(const char *role, const char *spec, HANDLE *proc)
{
	char self[MAX_PATH];
	char *argv[5];
	int r;

	r = cli_win_self(self, sizeof(self));
	if (r < 0)
		return r;
	argv[0] = self;
	argv[1] = (char *)"demo";
	argv[2] = (char *)role;
	argv[3] = (char *)spec;
	argv[4] = NULL;
	return cli_win_spawn(argv, proc);
}

/* Wait for the child until deadline (cli_now_ns()); one that overstays is
 * terminated (-ETIMEDOUT). Its exit code otherwise. Closes proc. */
static int end_child(HANDLE proc, int64_t deadline)
{
	int64_t left = (deadline - cli_now_ns()) / 1000000;
	DWORD code = 1;

	if (WaitForSingleObject(proc, left > 0 ? (DWORD)left : 0) !=
	    WAIT_OBJECT_0) {
		TerminateProcess(proc, 1);
		WaitForSingleObject(proc, INFINITE);
		CloseHandle(proc);
		return -ETIMEDOUT;
	}
	GetExitCodeProcess(proc, &code);
	CloseHandle(proc);
	return (int)code;
}

/* Run `shmkit demo --child SPEC`, bounded: its exit code, or -errno. */
static int run_child(const char *spec)
{
	HANDLE proc;
	int r;

	r = start_child("--child", spec, &proc);
	if (r < 0)
		return r;
	return end_child(proc, cli_now_ns() +
				       (int64_t)DEMO_TIMEOUT_MS * 1000000);
}

/* The child's end as a row's result: false if it failed. */
static bool judge_exit(demo_row *row, int r)
{
	if (r == -ETIMEDOUT)
		set_result(row, "FAIL: the child did not finish in %d s "
				"(terminated)",
			   DEMO_TIMEOUT_MS / 1000);
	else if (r < 0)
		set_result(row, "FAIL: starting the child: %s", strerror(-r));
	else if (r != 0)
		set_result(row, "FAIL: the child exited with %d (its error "
				"is above)",
			   r);
	return r == 0;
}

static void run_row(demo_row *row, uint64_t seed)
{
	shmkit_opts so = {.flags = SHMKIT_F_PREFAULT};
	shmkit_seg *seg;
	demo_hdr *h;
	int64_t t;
	int r;

	t = cli_now_ns();
	r = shmkit_create(row->spec, DEMO_SIZE, &so, &seg);
	row->create_ns = cli_now_ns() - t;
	if (r < 0) {
		cli_why w;
		cli_create_why(&w, row->spec, DEMO_SIZE, so.flags, r);
		set_result(row, "FAIL: create: %s%s%s%s", w.why,
			   w.hint ? " (" : "", w.hint ? w.hint : "",
			   w.hint ? ")" : "");
		return;
	}
	h = shmkit_addr(seg);
	cli_demo_fill(h, seed);

	t = cli_now_ns();
	r = run_child(shmkit_spec(seg));
	row->child_ns = cli_now_ns() - t;
	if (!judge_exit(row, r))
		;
	else if (h->seen != h->expect)
		set_result(row, "FAIL: the child saw checksum %016llx, not "
				"%016llx",
			   (unsigned long long)h->seen,
			   (unsigned long long)h->expect);
	else if (strncmp(h->reply, "hello from child ", 17))
		set_result(row, "FAIL: no reply from the child");
	else {
		row->ok = true;
		set_result(row, "ok: child %d checked 1 MiB, replied \"%.*s\"",
			   (int)h->child_pid, (int)sizeof(h->reply), h->reply);
	}
	/* A file: segment is detached before its name is removed: under
	 * wine, deleting a file that is still mapped is refused (EACCES). */
	t = cli_now_ns();
	if (shmkit_backend_of(seg) == SHMKIT_BACKEND_FILE) {
		char spec[SHMKIT_SPEC_MAX];

		snprintf(spec, sizeof(spec), "%s", shmkit_spec(seg));
		r = shmkit_detach(seg);
		if (r == 0)
			r = shmkit_unlink(spec);
	} else {
		r = shmkit_destroy(seg);
	}
	row->destroy_ns = cli_now_ns() - t;
	if (r < 0 && row->ok) {
		row->ok = false;
		set_result(row, "FAIL: destroy: %s", shmkit_strerror(r));
	}
}

static int cmp_ns(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Receive the reply to message i on pong, waiting in slices until
 * deadline and looking at the child between them: the reply's length, or
 * -ETIMEDOUT, -ECHILD (the child has exited), or the receive's error.
 */
static ssize_t recv_reply(shmkit_chan *pong, HANDLE proc, char *buf,
			  size_t len, int64_t deadline)
{
	ssize_t n;

	for (;;) {
		n = shmkit_chan_recv(pong, buf, len, SHMKIT_CHAN_MS(SLICE_MS));
		if (n != -ETIMEDOUT)
			return n;
		if (WaitForSingleObject(proc, 0) == WAIT_OBJECT_0)
			return -ECHILD;
		if (cli_now_ns() > deadline)
			return -ETIMEDOUT;
	}
}

/*
 * The exchange of the channel row, with the child running: message 0
 * waits for the child to start and open the channels, so only the
 * DEMO_MSGS after it are timed (rtt[i - 1]). Sets row->ok, or a result.
 */
static void ping_pong(demo_row *row, shmkit_chan *ping, shmkit_chan *pong,
		      HANDLE proc, int64_t deadline, int64_t *rtt)
{
	char msg[DEMO_MSG_MAX], buf[DEMO_MSG_MAX + 8];
	ssize_t n;
	int i, len, r;

	for (i = 0; i <= DEMO_MSGS; i++) {
		int64_t t0 = cli_now_ns();

		len = snprintf(msg, sizeof(msg), "ping %d", i);
		r = shmkit_chan_send(ping, msg, (size_t)len,
				     SHMKIT_CHAN_MS(DEMO_TIMEOUT_MS));
		if (r < 0) {
			set_result(row, "FAIL: send %d: %s", i,
				   shmkit_strerror(r));
			return;
		}
		n = recv_reply(pong, proc, buf, sizeof(buf), deadline);
		if (i > 0)
			rtt[i - 1] = cli_now_ns() - t0;
		if (n == -ECHILD || n == -EPIPE || n == -ECONNRESET) {
			set_result(row, "FAIL: the child went away after %d "
					"replies",
				   i);
			return;
		}
		if (n == -ETIMEDOUT) {
			set_result(row, "FAIL: no reply to message %d in %d s",
				   i, DEMO_TIMEOUT_MS / 1000);
			return;
		}
		if (n < 0) {
			set_result(row, "FAIL: receive %d: %s", i,
				   shmkit_strerror((int)n));
			return;
		}
		if (n != len || memcmp(buf, "pong", 4) ||
		    memcmp(buf + 4, msg + 4, (size_t)len - 4)) {
			set_result(row, "FAIL: reply %d is not \"pong %d\"", i,
				   i);
			return;
		}
	}
	row->ok = true;
}

/*
 * The channel row: "ping" at offset 0, "pong" after it, in one win:
 * segment; the parent writes ping and reads pong, the child the reverse.
 */
static void run_chan_row(demo_row *row)
{
	shmkit_chan_opts po = demo_chan_opts, qo = demo_chan_opts;
	shmkit_chan *ping = NULL, *pong = NULL;
	int64_t t, deadline, *rtt;
	unsigned long child_pid = 0;
	shmkit_seg *seg;
	HANDLE proc;
	size_t off;
	int r;

	rtt = calloc(DEMO_MSGS, sizeof(*rtt));
	if (!rtt) {
		set_result(row, "FAIL: %s", shmkit_strerror(-ENOMEM));
		return;
	}
	t = cli_now_ns();
	r = chan_offset(&off);
	if (r == 0)
		r = shmkit_create(row->spec, 2 * off, NULL, &seg);
	if (r < 0) {
		cli_why w;
		cli_create_why(&w, row->spec, 2 * off, 0, r);
		set_result(row, "FAIL: create: %s%s%s%s", w.why,
			   w.hint ? " (" : "", w.hint ? w.hint : "",
			   w.hint ? ")" : "");
		free(rtt);
		return;
	}
	po.role = SHMKIT_CHAN_WRITER;
	qo.role = SHMKIT_CHAN_READER;
	r = shmkit_chan_create_in(seg, 0, &po, &ping);
	if (r == 0)
		r = shmkit_chan_create_in(seg, off, &qo, &pong);
	row->create_ns = cli_now_ns() - t;
	if (r < 0) {
		set_result(row, "FAIL: create the channels: %s",
			   shmkit_strerror(r));
		goto out;
	}

	t = cli_now_ns();
	deadline = t + (int64_t)DEMO_TIMEOUT_MS * 1000000;
	r = start_child("--child-chan", row->spec, &proc);
	if (r < 0) {
		judge_exit(row, r);
		goto out;
	}
	child_pid = GetProcessId(proc);
	ping_pong(row, ping, pong, proc, deadline, rtt);
	/* The end of "ping" tells the child to finish. */
	(void)shmkit_chan_close(ping);
	ping = NULL;
	r = end_child(proc, deadline);
	row->child_ns = cli_now_ns() - t;
	if (!judge_exit(row, r)) {
		row->ok = false;
	} else if (row->ok) {
		qsort(rtt, DEMO_MSGS, sizeof(*rtt), cmp_ns);
		set_result(row, "ok: child %lu echoed %d messages; round "
				"trip p50 %.1f us, max %.1f us (of the last "
				"%d)",
			   child_pid, DEMO_MSGS + 1,
			   (double)rtt[DEMO_MSGS / 2] / 1e3,
			   (double)rtt[DEMO_MSGS - 1] / 1e3, DEMO_MSGS);
	}
out:
	t = cli_now_ns();
	(void)shmkit_chan_close(ping);
	(void)shmkit_chan_close(pong);
	r = shmkit_destroy(seg);
	row->destroy_ns = cli_now_ns() - t;
	if (r < 0 && row->ok) {
		row->ok = false;
		set_result(row, "FAIL: destroy: %s", shmkit_strerror(r));
	}
	free(rtt);
}

static void fmt_ms(int64_t ns, char buf[24])
{
	snprintf(buf, 24, "%.2f ms", (double)ns / 1e6);
}

static const char demo_usage[] =
	"Usage: shmkit demo\n"
	"\n"
	"Share a 1 MiB segment with a child process on each backend Windows "
	"has\n(win: and file:): the parent fills it with a pattern, a child "
	"(this program\nagain, started with CreateProcess) attaches it by its "
	"spec, checks the\npattern and replies through the segment, and the "
	"parent checks the reply.\nThen a channel round trip: a win: segment "
	"holding two SPSC channels, \"ping\"\nto the child and \"pong\" back; "
	"the child echoes 1001 messages, and the\nparent checks each reply and "
	"times the round trips after the first. A win:\nsegment lives while "
	"the parent holds it. Prints one row each; exit 0 if\nevery row "
	"passed, 1 otherwise. Every wait is bounded (a child that overstays\n"
	"is terminated); everything made is removed.\n"
	"\n"
	"  -h, --help   show this help\n";

int cmd_demo(int argc, char **argv)
{
	enum { NROWS = 3 };
	demo_row rows[NROWS];
	char tmp[MAX_PATH];
	unsigned long pid = (unsigned long)GetCurrentProcessId();
	cli_table t;
	size_t i, nok = 0;
	DWORD n;
	int r;

	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child_main(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--child-chan"))
		return child_chan_main(argv[2]);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(demo_usage, stdout);
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage_err("demo", "unexpected argument '%s'",
				     argv[1]);

	memset(rows, 0, sizeof(rows));
	rows[0].backend = "win";
	snprintf(rows[0].spec, sizeof(rows[0].spec), "win:shmkit-demo-%lu",
		 pid);
	rows[1].backend = "file";
	n = GetTempPathA(sizeof(tmp), tmp);
	if (n == 0 || n >= sizeof(tmp))
		snprintf(tmp, sizeof(tmp), ".\\");
	snprintf(rows[1].spec, sizeof(rows[1].spec),
		 "file:%sshmkit-demo-%lu.seg", tmp, pid);
	rows[2].backend = "win";
	rows[2].chan = true;
	snprintf(rows[2].spec, sizeof(rows[2].spec),
		 "win:shmkit-demo-%lu-chan", pid);

	printf("shmkit %s demo: parent %lu shares a 1 MiB segment, then a "
	       "channel, with a\nchild process\n\n",
	       shmkit_version_string(), pid);
	cli_table_init(&t, 7, "lllrrrl");
	cli_table_add(&t, (const char *const[]){"BACKEND", "KIND", "SPEC",
						 "CREATE", "CHILD", "DESTROY",
						 "RESULT"});
	for (i = 0; i < NROWS; i++) {
		char c[24], ch[24], d[24], shown[SHMKIT_SPEC_MAX];

		if (rows[i].chan)
			run_chan_row(&rows[i]);
		else
			run_row(&rows[i], 0x5eed0000u + i);
		nok += rows[i].ok;
		fmt_ms(rows[i].create_ns, c);
		fmt_ms(rows[i].child_ns, ch);
		fmt_ms(rows[i].destroy_ns, d);
		cli_printable(rows[i].spec, shown, sizeof(shown));
		cli_table_add(&t, (const char *const[]){
					  rows[i].backend,
					  rows[i].chan ? "channel" : "segment",
					  shown, c, ch, d, rows[i].result});
	}
	r = cli_table_print(&t, stdout, 2);
	cli_table_free(&t);
	if (r < 0)
		return cli_err("demo", r);
	printf("\n%zu of %d rows passed (CHILD: starting the child, its "
	       "attach, its check and\nreply or its echoes, and its exit).\n",
	       nok, NROWS);
	return nok == NROWS ? CLI_OK : CLI_FAIL;
}
