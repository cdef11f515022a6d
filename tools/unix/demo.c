/*
 * demo.c (Unix): `shmkit demo`, one segment per backend shared between this
 * process and a forked child, checked end to end and timed.
 *
 * For each backend the parent makes a 1 MiB segment, fills it with a
 * pattern and puts the pattern's FNV-1a checksum in a 64-byte header at the
 * start. A child reaches the segment the way that backend allows (by name,
 * by key, by path, by an inherited or a passed descriptor, or by the
 * inherited mapping itself), checksums the payload, writes its reply and
 * checksum into the header and detaches. The parent then checks both and
 * destroys the segment.
 *
 * The child's attach and detach times are measured in the child. They go
 * back through a small anon: segment made before any fork (a "report"
 * page), not through the demo segment: the child has detached that one by
 * the time it knows its detach time, and if it never managed to attach, the
 * report page is still there to say why.
 *
 * Everything made is removed on every path, failure included; SIGINT and
 * the like are held off while a row runs, so ^C takes effect between rows,
 * once that row has cleaned up. Every wait for a child is bounded.
 */
#include "../cli.h"
#include "../demo_seg.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEMO_TIMEOUT_MS 5000
#define SYSV_KEY_BASE 0x53440000u /* "SD": shmkit demo */

/* One per row, in the report page: what the child measured and saw. */
typedef struct demo_report {
	int64_t attach_ns; /* -1: nothing to time (inherited mapping) */
	int64_t detach_ns;
	int err;           /* negative errno of the step that failed */
	char step[40];     /* which step failed ("" when none) */
} demo_report;

typedef enum how {
	HOW_SPEC,    /* shmkit_attach(spec) */
	HOW_RECV,    /* shmkit_recv_fd() over a socketpair */
	HOW_INHERIT, /* the parent's handle, inherited with its mapping */
} how;

typedef struct demo_row {
	const char *backend;
	how how;
	char spec[SHMKIT_SPEC_MAX];
	char how_text[48];
	/* results */
	bool done, skipped, ok;
	char result[CLI_WHY_BUF + CLI_HINT_BUF];
	int64_t create_ns, attach_ns, detach_ns, destroy_ns;
} demo_row;

/* -- warm-up ------------------------------------------------------------- */

/*
 * A process fresh from fork() pays for its first touch of every page it
 * shares copy-on-write with the other side (heap, stack, libc's data): the
 * first shmkit call after a fork takes hundreds of microseconds more than
 * the next. One failing attach on the same backend first walks the same
 * code and touches the same pages, so the times shown are the operations'
 * own. The names used cannot exist (our pid, "absent"; an id past any the
 * kernel hands out); should one exist anyway, it is detached untouched.
 */
static void warm_up(const demo_row *row)
{
	char spec[SHMKIT_SPEC_MAX];
	shmkit_seg *seg;

	if (!strcmp(row->backend, "sysv")) {
		snprintf(spec, sizeof(spec), "sysv:id=2147483647");
	} else if (!strcmp(row->backend, "file") ||
		   !strcmp(row->backend, "memfd")) {
		snprintf(spec, sizeof(spec), "%.*s-absent", SHMKIT_SPEC_MAX - 8,
			 row->spec);
	} else {
		snprintf(spec, sizeof(spec), "posix:/shmkit-demo-%d-absent",
			 (int)getpid());
	}
	if (shmkit_attach(spec, NULL, &seg) == 0)
		(void)shmkit_detach(seg);
}

/* -- the child ----------------------------------------------------------- */

static int child_fail(demo_report *rep, const char *step, int err)
{
	snprintf(rep->step, sizeof(rep->step), "%s", step);
	rep->err = err;
	return 1;
}

static int child_main(const demo_row *row, shmkit_seg *inherited, int sock,
		      demo_report *rep)
{
	shmkit_seg *seg = NULL;
	const char *bad;
	demo_hdr *h;
	int64_t t0;
	int r = 0;

	rep->attach_ns = -1;
	warm_up(row);
	if (row->how == HOW_RECV) {
		/* Time the receive, not the wait for the parent to send. */
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		if (poll(&pfd, 1, DEMO_TIMEOUT_MS) != 1)
			return child_fail(rep, "nothing received", -ETIMEDOUT);
	}
	t0 = cli_now_ns();
	switch (row->how) {
	case HOW_SPEC:
		r = shmkit_attach(row->spec, NULL, &seg);
		break;
	case HOW_RECV:
		r = shmkit_recv_fd(sock, NULL, &seg);
		break;
	case HOW_INHERIT:
		seg = inherited;
		break;
	}
	if (row->how != HOW_INHERIT)
		rep->attach_ns = cli_now_ns() - t0;
	if (r < 0)
		return child_fail(rep, "attach", r);
	h = shmkit_addr(seg);
	bad = cli_demo_check(h, shmkit_size(seg));
	if (bad) {
		(void)shmkit_detach(seg);
		return child_fail(rep, bad, -EPROTO);
	}
	h->child_pid = (int32_t)getpid();
	snprintf(h->reply, sizeof(h->reply), "pong");

	t0 = cli_now_ns();
	r = shmkit_detach(seg);
	rep->detach_ns = cli_now_ns() - t0;
	if (r < 0)
		return child_fail(rep, "detach", r);
	return 0;
}

/* -- the parent ---------------------------------------------------------- */

/* Wait for pid at most timeout_ms; on timeout kill it. -ETIMEDOUT then. */
static int wait_bounded(pid_t pid, int timeout_ms, int *status)
{
	int64_t end = cli_now_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec nap = {0, 500000};

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (cli_now_ns() > end) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return -ETIMEDOUT;
		}
		nanosleep(&nap, NULL);
	}
}

static void set_result(demo_row *row, const char *fmt, ...) CLI_PRINTF(2, 3);

static void set_result(demo_row *row, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(row->result, sizeof(row->result), fmt, ap);
	va_end(ap);
}

/* The create failed: a host without the backend is skipped, not failed. */
static void create_failed(demo_row *row, int err)
{
	const char *why = NULL;

	if (err == -ENOSYS || err == -ENOTSUP)
		why = !strcmp(row->backend, "sysv")
			      ? "System V IPC is not in this kernel"
		      : !strcmp(row->backend, "memfd")
			      ? "memfd_create is not in this kernel"
			      : shmkit_strerror(err);
	else if (err == -ENOENT && !strcmp(row->backend, "posix"))
		why = "no /dev/shm on this host";
	if (why) {
		row->skipped = true;
		set_result(row, "skipped: %s", why);
	} else {
		cli_why w; /* a full /dev/shm says how full */
		cli_create_why(&w, row->spec, DEMO_SIZE, 0, err);
		set_result(row, "FAIL: create: %s%s%s%s", w.why,
			   w.hint ? " (" : "", w.hint ? w.hint : "",
			   w.hint ? ")" : "");
	}
}

/* Judge the child from its exit, its report and the header it wrote. */
static void judge(demo_row *row, int wr, int status, const demo_report *rep,
		  const demo_hdr *h, pid_t child)
{
	char sig[64];

	row->attach_ns = rep->attach_ns;
	row->detach_ns = rep->step[0] == '\0' ? rep->detach_ns : -1;
	if (wr == -ETIMEDOUT) {
		set_result(row, "FAIL: child hung; killed after %d s",
			   DEMO_TIMEOUT_MS / 1000);
	} else if (wr < 0) {
		set_result(row, "FAIL: waitpid: %s", strerror(-wr));
	} else if (WIFSIGNALED(status)) {
		snprintf(sig, sizeof(sig), "%s", strsignal(WTERMSIG(status)));
		set_result(row, "FAIL: child killed by signal: %s", sig);
	} else if (rep->step[0]) {
		set_result(row, "FAIL: child: %s: %s", rep->step,
			   shmkit_strerror(rep->err));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		set_result(row, "FAIL: child exited with an error");
	} else if (h->child_pid != (int32_t)child ||
		   strcmp(h->reply, "pong")) {
		set_result(row, "FAIL: no reply from the child");
	} else if (h->seen != h->expect) {
		set_result(row, "FAIL: checksum differs in the child");
	} else {
		row->ok = true;
		set_result(row, "ok");
	}
}

/* Make the row's segment; the create time is the parent's. */
static int make_segment(demo_row *row, shmkit_seg **seg)
{
	int64_t t0 = cli_now_ns();
	int r = shmkit_create(row->spec, DEMO_SIZE, NULL, seg);

	row->create_ns = cli_now_ns() - t0;
	if (r < 0) {
		row->create_ns = -1;
		return r;
	}
	return 0;
}

/* Destroy, time it, and check the name is really gone. */
static void destroy_segment(demo_row *row, shmkit_seg *seg)
{
	shmkit_info *in;
	int64_t t0 = cli_now_ns();
	int r = shmkit_destroy(seg);

	row->destroy_ns = cli_now_ns() - t0;
	if (r < 0) {
		row->ok = false;
		set_result(row, "FAIL: destroy: %s", shmkit_strerror(r));
		return;
	}
	if (!strcmp(row->backend, "memfd") || !strcmp(row->backend, "anon"))
		return; /* nameless: nothing left to look up */
	in = malloc(sizeof(*in));
	if (in && shmkit_stat(row->spec, in) != -ENOENT && row->ok) {
		row->ok = false;
		set_result(row, "FAIL: still there after destroy");
	}
	free(in);
}

static pid_t fork_child(const demo_row *row, shmkit_seg *inherited, int sock,
			int other_sock, demo_report *rep)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); /* ^C stops it at once */
		if (other_sock >= 0)
			close(other_sock);
		_exit(child_main(row, inherited, sock, rep));
	}
	return pid;
}

/* One row whose child finds the segment itself: by spec or inheritance. */
static void run_row(demo_row *row, demo_report *rep, uint64_t seed)
{
	shmkit_seg *seg;
	pid_t pid;
	int r, st = 0;

	warm_up(row);
	r = make_segment(row, &seg);
	if (r < 0) {
		create_failed(row, r);
		return;
	}
	cli_demo_fill(shmkit_addr(seg), seed);
	pid = fork_child(row, seg, -1, -1, rep);
	if (pid < 0) {
		set_result(row, "FAIL: fork: %s", strerror(errno));
	} else {
		r = wait_bounded(pid, DEMO_TIMEOUT_MS, &st);
		judge(row, r, st, rep, shmkit_addr(seg), pid);
	}
	destroy_segment(row, seg);
}

/*
 * The fd-passing row. The child is forked before the segment exists, so it
 * cannot have inherited it: the descriptor can only reach it over the
 * socket. If anything fails first, closing our end tells the child (EOF).
 */
static void run_passing_row(demo_row *row, demo_report *rep, uint64_t seed)
{
	struct timeval tv = {DEMO_TIMEOUT_MS / 1000, 0};
	shmkit_seg *seg = NULL;
	int sv[2], r, st = 0;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		set_result(row, "FAIL: socketpair: %s", strerror(errno));
		return;
	}
	/* So the child gives up on its own too. */
	(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	pid = fork_child(row, NULL, sv[1], sv[0], rep);
	close(sv[1]);
	if (pid < 0) {
		set_result(row, "FAIL: fork: %s", strerror(errno));
		close(sv[0]);
		return;
	}
	warm_up(row);
	r = make_segment(row, &seg);
	if (r == 0) {
		cli_demo_fill(shmkit_addr(seg), seed);
		r = shmkit_send_fd(sv[0], seg);
		if (r < 0)
			set_result(row, "FAIL: send_fd: %s",
				   shmkit_strerror(r));
	} else {
		create_failed(row, r);
	}
	close(sv[0]);
	r = wait_bounded(pid, DEMO_TIMEOUT_MS, &st);
	if (seg && !row->result[0])
		judge(row, r, st, rep, shmkit_addr(seg), pid);
	if (seg)
		destroy_segment(row, seg);
}

/* Where the file row puts its file: /dev/shm if we may, else $TMPDIR. */
static const char *file_dir(void)
{
	const char *t = getenv("TMPDIR");

	if (access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return t && *t ? t : "/tmp";
}

/* Pick a System V key 0x5344xxxx from our pid that nobody uses yet. */
static unsigned sysv_key(pid_t pid)
{
	unsigned low = (unsigned)pid & 0xffffu, i;
	shmkit_info *in = malloc(sizeof(*in));

	for (i = 0; in && i < 64; i++) {
		char spec[32];
		unsigned k = SYSV_KEY_BASE | ((low + i) & 0xffffu);
		snprintf(spec, sizeof(spec), "sysv:0x%08x", k);
		if (shmkit_stat(spec, in) == -ENOENT) {
			free(in);
			return k;
		}
	}
	free(in);
	return SYSV_KEY_BASE | low; /* create will say EEXIST */
}

static void fmt_us(int64_t ns, char buf[24])
{
	if (ns < 0)
		snprintf(buf, 24, "-");
	else
		snprintf(buf, 24, "%.1f", (double)ns / 1000.0);
}

static const char demo_usage[] =
	"Usage: shmkit demo\n"
	"\n"
	"Share a 1 MiB segment with a forked child on every backend this host "
	"has\n(posix, sysv, file, memfd inherited, memfd passed over a socket, "
	"anon). The\nchild reaches it the way the backend allows, checks a "
	"checksum of the whole\nsegment and writes a reply. Prints one row per "
	"backend with the create,\nattach, detach and destroy times in "
	"microseconds, each measured in the\nprocess that did it, after one "
	"warm-up call (a freshly forked process pays\nfor its first touch of "
	"every page it shares copy-on-write). Removes\neverything it made. "
	"Exits 0 when every row the host supports is ok.\n"
	"\n"
	"  -h, --help   show this help\n";

int cmd_demo(int argc, char **argv)
{
	enum { O_HELP = 1 };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{NULL, 0, false, 0},
	};
	demo_row rows[6];
	shmkit_seg *report_seg;
	demo_report *reports;
	sigset_t hold, saved;
	pid_t me = getpid();
	size_t i, n = sizeof(rows) / sizeof(rows[0]);
	unsigned nok = 0, nfail = 0, nskip = 0;
	char size[CLI_SIZE_BUF];
	cli_table t;
	cli_args a;
	unsigned key;
	int o, r;

	cli_args_init(&a, argc, argv);
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			return cli_usage_err("demo", "unexpected argument '%s'",
					     a.arg);
		case O_HELP:
			fputs(demo_usage, stdout);
			return CLI_OK;
		}
	}

	memset(rows, 0, sizeof(rows));
	rows[0].backend = "posix";
	rows[0].how = HOW_SPEC;
	snprintf(rows[0].spec, sizeof(rows[0].spec),
		 "posix:/shmkit-demo-%d-posix", (int)me);
	snprintf(rows[0].how_text, sizeof(rows[0].how_text), "name");
	rows[1].backend = "sysv";
	rows[1].how = HOW_SPEC;
	key = sysv_key(me);
	snprintf(rows[1].spec, sizeof(rows[1].spec), "sysv:0x%08x", key);
	snprintf(rows[1].how_text, sizeof(rows[1].how_text), "key 0x%08x",
		 key);
	rows[2].backend = "file";
	rows[2].how = HOW_SPEC;
	if (snprintf(rows[2].spec, sizeof(rows[2].spec),
		     "file:%s/shmkit-demo-%d-file", file_dir(),
		     (int)me) >= (int)sizeof(rows[2].spec))
		set_result(&rows[2], "skipped: $TMPDIR is too long");
	snprintf(rows[2].how_text, sizeof(rows[2].how_text), "path in %.38s",
		 file_dir());
	rows[3].backend = "memfd";
	rows[3].how = HOW_SPEC;
	snprintf(rows[3].spec, sizeof(rows[3].spec),
		 "memfd:shmkit-demo-%d-memfd", (int)me);
	snprintf(rows[3].how_text, sizeof(rows[3].how_text),
		 "inherited fd, found by name");
	rows[4].backend = "memfd";
	rows[4].how = HOW_RECV;
	snprintf(rows[4].spec, sizeof(rows[4].spec),
		 "memfd:shmkit-demo-%d-memfd-sent", (int)me);
	snprintf(rows[4].how_text, sizeof(rows[4].how_text),
		 "fd passed over a socket");
	rows[5].backend = "anon";
	rows[5].how = HOW_INHERIT;
	snprintf(rows[5].spec, sizeof(rows[5].spec), "anon:");
	snprintf(rows[5].how_text, sizeof(rows[5].how_text),
		 "inherited mapping");

	r = shmkit_create("anon:", 4096, NULL, &report_seg);
	if (r < 0)
		return cli_err("demo: report page", r);
	reports = shmkit_addr(report_seg);

	printf("shmkit %s demo: parent %d shares a %s segment with a forked "
	       "child on each backend\n\n",
	       shmkit_version_string(), (int)me,
	       cli_format_size(DEMO_SIZE, size));

	sigemptyset(&hold);
	sigaddset(&hold, SIGINT);
	sigaddset(&hold, SIGTERM);
	sigaddset(&hold, SIGHUP);
	sigaddset(&hold, SIGQUIT);
	for (i = 0; i < n; i++) {
		demo_row *row = &rows[i];
		demo_report *rep = &reports[i];

		row->create_ns = row->attach_ns = -1;
		row->detach_ns = row->destroy_ns = -1;
		if (row->result[0]) { /* decided before it ran */
			row->skipped = true;
			continue;
		}
		memset(rep, 0, sizeof(*rep));
		sigprocmask(SIG_BLOCK, &hold, &saved);
		if (row->how == HOW_RECV)
			run_passing_row(row, rep, (uint64_t)me * 7919 + i);
		else
			run_row(row, rep, (uint64_t)me * 7919 + i);
		sigprocmask(SIG_SETMASK, &saved, NULL);
	}
	(void)shmkit_destroy(report_seg);

	cli_table_init(&t, 8, "llrrrrrl");
	cli_table_add(&t, (const char *const[]){"BACKEND", "CHILD ATTACHED BY",
						"SIZE", "CREATE us",
						"ATTACH us", "DETACH us",
						"DESTROY us", "RESULT"});
	for (i = 0; i < n; i++) {
		demo_row *row = &rows[i];
		char c[24], at[24], de[24], ds[24];

		if (row->skipped)
			nskip++;
		else if (row->ok)
			nok++;
		else
			nfail++;
		fmt_us(row->create_ns, c);
		fmt_us(row->attach_ns, at);
		fmt_us(row->detach_ns, de);
		fmt_us(row->destroy_ns, ds);
		if (row->how == HOW_INHERIT && !row->skipped && row->ok)
			snprintf(at, sizeof(at), "inherited");
		cli_table_add(&t, (const char *const[]){
					  row->backend, row->how_text,
					  row->skipped ? "-" : size,
					  c, at, de, ds, row->result});
	}
	r = cli_table_print(&t, stdout, 2);
	cli_table_free(&t);
	if (r < 0)
		return cli_err("demo", r);

	printf("\n%u of %zu ok, %u failed, %u skipped: %s\n", nok, n, nfail,
	       nskip,
	       nfail ? "see RESULT above"
		     : "every backend this host has shares memory with a "
		       "child");
	return nfail ? CLI_FAIL : CLI_OK;
}
