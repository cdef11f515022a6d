/*
 * test_chan_cli.c: `shmkit chan` as a shell user drives it: two processes
 * talk through a channel (send's stdin lines come out of recv's stdout),
 * stat shows the counts, recv's --count/--timeout/--oldest, rm refuses
 * what is not a channel, and bad command lines exit 2; the end of a
 * stream as a shell sees it (recv exits 0 after a clean end whenever it
 * started, 1 naming the pid of a writer that died; send says how much went
 * through when it stops early). The binary is the one the build made
 * (SHMKIT_CLI); every process is waited for with a bound.
 */
#include "test.h"
#include "test_chan_watchdog.h"

#include <fcntl.h>
#include <poll.h>

struct proc {
	pid_t pid;
	int out; /* its stdout, read end */
	int err; /* its stderr, read end */
};

static const char *cli(void)
{
	return getenv("SHMKIT_CLI");
}

/* When set, the next start() takes stdin from this file instead. */
static const char *stdin_file;

/* Start the CLI with args; stdin from the string in (NULL: /dev/null). */
static struct proc start(const char *in, const char *const *args)
{
	int o[2], e[2], i[2];
	struct proc p;
	const char *argv[16];
	int n = 0;

	ASSERT(pipe(o) == 0 && pipe(e) == 0 && pipe(i) == 0);
	argv[n++] = "shmkit";
	argv[n++] = "chan";
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	p.pid = fork();
	ASSERT(p.pid >= 0);
	if (p.pid == 0) {
		if (stdin_file) {
			int f = open(stdin_file, O_RDONLY);
			if (f < 0)
				_exit(126);
			dup2(f, i[0]);
			close(f);
		}
		dup2(i[0], 0);
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]), close(o[1]), close(e[0]), close(e[1]);
		close(i[0]), close(i[1]);
		execv(cli(), (char *const *)argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	close(i[0]);
	stdin_file = NULL;
	if (in && *in) {
		size_t len = strlen(in);
		ASSERT(write(i[1], in, len) == (ssize_t)len);
	}
	close(i[1]);
	p.out = o[0];
	p.err = e[0];
	return p;
}

/* Read a descriptor to EOF (at most len-1 bytes kept), within ms. */
static void slurp(int fd, char *buf, size_t len, int ms)
{
	size_t got = 0;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char tmp[512];
		ssize_t n;
		if (poll(&pfd, 1, ms) != 1)
			FAIL_("no end of output within %d ms", ms);
		n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		if (got + (size_t)n < len) {
			memcpy(buf + got, tmp, (size_t)n);
			got += (size_t)n;
		}
	}
	buf[got] = '\0';
	close(fd);
}

/* Wait for it; its exit status, stdout and stderr. */
static int finish(struct proc p, char *out, size_t olen, char *err,
		  size_t elen)
{
	char junk[256];
	int st;

	slurp(p.out, out ? out : junk, out ? olen : sizeof(junk), 10000);
	slurp(p.err, err ? err : junk, err ? elen : sizeof(junk), 10000);
	st = test_wait_child(p.pid, 10000, "shmkit chan");
	if (!WIFEXITED(st))
		FAIL_("shmkit chan killed by signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}

static int run(const char *in, const char *const *args, char *out, size_t olen)
{
	return finish(start(in, args), out, olen, NULL, 0);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void need_cli(void)
{
	if (!cli() || access(cli(), X_OK) != 0) {
		test_skipped_ = 1;
		test_skip_reason_ = "SHMKIT_CLI is not set to the shmkit binary";
	}
}

static void two_processes_talk(void)
{
	char spec[128], out[4096], st[4096];
	struct proc rx;

	need_cli();
	if (test_skipped_)
		return;
	snprintf(spec, sizeof(spec), "posix:%s", test_name("cli"));
	ASSERT_EQ(run(NULL, ARGS("create", spec, "--kind", "spsc", "--capacity",
				 "4K"),
		      out, sizeof(out)),
		  0);
	ASSERT(!strncmp(out, spec, strlen(spec)));
	/* The reader starts first and waits for its writer. */
	rx = start(NULL, ARGS("recv", spec));
	poll(NULL, 0, 200);
	ASSERT_EQ(run("hello\nworld\n\nlast line", ARGS("send", spec), NULL, 0),
		  0);
	ASSERT_EQ(finish(rx, out, sizeof(out), NULL, 0), 0);
	ASSERT(!strcmp(out, "hello\nworld\n\nlast line\n"));
	ASSERT_EQ(run(NULL, ARGS("stat", spec), st, sizeof(st)), 0);
	ASSERT(strstr(st, "spsc channel"));
	ASSERT(strstr(st, "4 sent, 4 received"));
	ASSERT(strstr(st, "stream     ended: every writer closed"));
	/* --count and --timeout, with a writer that stays open. */
	{
		shmkit_chan *w;
		ASSERT_OK(shmkit_chan_open(spec, SHMKIT_CHAN_WRITER, &w));
		ASSERT_OK(shmkit_chan_send(w, "one", 3, 0));
		ASSERT_EQ(run(NULL, ARGS("recv", spec, "--count", "2",
					 "--timeout", "200"),
			      out, sizeof(out)),
			  1);
		ASSERT(!strcmp(out, "one\n"));
		ASSERT_EQ(run(NULL, ARGS("recv", spec, "--timeout", "100"),
			      out, sizeof(out)),
			  0);
		ASSERT(!strcmp(out, ""));
		ASSERT_OK(shmkit_chan_close(w));
	}
	/* The stream ended before --count messages came: 1, and said. */
	ASSERT_EQ(run("two\n", ARGS("send", spec), NULL, 0), 0);
	{
		struct proc p = start(NULL, ARGS("recv", spec, "-n", "5"));
		char err[512];
		ASSERT_EQ(finish(p, out, sizeof(out), err, sizeof(err)), 1);
		ASSERT(!strcmp(out, "two\n"));
		ASSERT(strstr(err, "ended after 1 of 5 messages"));
	}
	/* A line over the maximum message is refused, not cut. */
	{
		char big[2000];
		memset(big, 'x', sizeof(big) - 2);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\0';
		ASSERT_EQ(run(big, ARGS("send", spec), NULL, 0), 1);
	}
	ASSERT_EQ(run(NULL, ARGS("rm", spec), NULL, 0), 0);
	ASSERT_EQ(run(NULL, ARGS("rm", spec), NULL, 0), 1);
}

static void broadcast_and_mpmc(void)
{
	char spec[128], out[4096];
	struct proc rx;

	need_cli();
	if (test_skipped_)
		return;
	snprintf(spec, sizeof(spec), "posix:%s", test_name("clib"));
	ASSERT_EQ(run(NULL, ARGS("create", spec, "--kind", "broadcast",
				 "--capacity", "4", "--max-msg", "64"),
		      NULL, 0),
		  0);
	ASSERT_EQ(run("a\nb\nc\nd\ne\nf\n", ARGS("send", spec), NULL, 0), 0);
	/* The ring keeps the last four. */
	ASSERT_EQ(run(NULL, ARGS("recv", spec, "--oldest", "--timeout", "100"),
		      out, sizeof(out)),
		  0);
	ASSERT(!strcmp(out, "c\nd\ne\nf\n"));
	ASSERT_EQ(run(NULL, ARGS("rm", spec), NULL, 0), 0);

	snprintf(spec, sizeof(spec), "posix:%s", test_name("clim"));
	ASSERT_EQ(run(NULL, ARGS("create", spec, "-k", "mpmc", "-c", "8",
				 "--endpoints", "4", "--mode", "0640"),
		      NULL, 0),
		  0);
	rx = start(NULL, ARGS("recv", spec, "--count", "3", "--wait", "block"));
	poll(NULL, 0, 100);
	ASSERT_EQ(run("x\ny\nz\n", ARGS("send", spec, "--wait", "spin"), NULL, 0),
		  0);
	ASSERT_EQ(finish(rx, out, sizeof(out), NULL, 0), 0);
	ASSERT(!strcmp(out, "x\ny\nz\n"));
	ASSERT_EQ(run(NULL, ARGS("recv", spec, "--oldest"), NULL, 0), 2);
	ASSERT_EQ(run(NULL, ARGS("rm", spec), NULL, 0), 0);
}

/*
 * The first report, as typed: create, `echo hi | send`, then
 * `recv` printed hi and never exited. A reader that starts after its
 * writer has closed drains and exits 0.
 */
static void recv_after_send_ends(void)
{
	char spec[128], out[512];
	size_t i;
	static const char *const kinds[] = {"spsc", "mpmc", "broadcast"};

	need_cli();
	if (test_skipped_)
		return;
	for (i = 0; i < 3; i++) {
		snprintf(spec, sizeof(spec), "posix:%s", test_name("clie"));
		ASSERT_EQ(run(NULL, ARGS("create", spec, "--kind", kinds[i]),
			      NULL, 0),
			  0);
		ASSERT_EQ(run("hi\n", ARGS("send", spec), NULL, 0), 0);
		ASSERT_EQ(run(NULL, i == 2 ? ARGS("recv", spec, "--oldest")
					   : ARGS("recv", spec),
			      out, sizeof(out)),
			  0);
		ASSERT(!strcmp(out, "hi\n"));
		ASSERT_EQ(run(NULL, ARGS("rm", spec), NULL, 0), 0);
	}
}

/* Lines "first".."first+n-1", one per line. */
static char *numbers(unsigned first, unsigned n)
{
	char *s = malloc((size_t)n * 12 + 1), *p = s;
	unsigned i;

	ASSERT(s != NULL);
	for (i = first; i < first + n; i++)
		p += sprintf(p, "%u\n", i);
	return s;
}

/*
 * The second report: two senders that do not overlap in time into an
 * MPMC channel read by two receivers lost the second sender's lines. With
 * --writers 2 the stream ends after both, and every line comes once.
 */
static void mpmc_senders_one_after_another(void)
{
	char spec[128], *out[2], *in;
	unsigned char seen[2001] = {0};
	struct proc rx[2];
	int i, total = 0;

	need_cli();
	if (test_skipped_)
		return;
	snprintf(spec, sizeof(spec), "posix:%s", test_name("cliw"));
	ASSERT_EQ(run(NULL, ARGS("create", spec, "--kind", "mpmc", "-c", "64",
				 "--writers", "2"),
		      NULL, 0),
		  0);
	for (i = 0; i < 2; i++)
		rx[i] = start(NULL, ARGS("recv", spec));
	in = numbers(1, 1000);
	ASSERT_EQ(run(in, ARGS("send", spec), NULL, 0), 0);
	free(in);
	in = numbers(1001, 1000);
	ASSERT_EQ(run(in, ARGS("send", spec), NULL, 0), 0);
	free(in);
	for (i = 0; i < 2; i++) {
		char *line, *save = NULL;
		out[i] = malloc(16384);
		ASSERT(out[i] != NULL);
		ASSERT_EQ(finish(rx[i], out[i], 16384, NULL, 0), 0);
		for (line = strtok_r(out[i], "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			int v = atoi(line);
			ASSERT(v >= 1 && v <= 2000);
			if (seen[v]++)
				FAIL_("line %d twice", v);
			total++;
		}
		free(out[i]);
	}
	ASSERT_EQ(total, 2000);
	ASSERT_EQ(run(NULL, ARGS("rm", spec), NULL, 0), 0);
}

/*
 * The third: a writer killed by SIGKILL looked like a clean close (recv
 * exited 0). Now recv exits 1 and names the writer's pid, whether it was
 * reading when the writer died or started afterwards.
 */
static void killed_writer_fails_recv(void)
{
	char spec[128], out[512], err[512], want[64];
	struct proc rx;
	pid_t pid;
	int st;

	need_cli();
	if (test_skipped_)
		return;
	snprintf(spec, sizeof(spec), "posix:%s", test_name("clik"));
	ASSERT_EQ(run(NULL, ARGS("create", spec, "--kind", "spsc"), NULL, 0), 0);
	rx = start(NULL, ARGS("recv", spec));
	pid = chan_holder(spec, SHMKIT_CHAN_WRITER, "partial", 7);
	kill(pid, SIGKILL);
	st = test_wait_child(pid, 5000, "writer");
	ASSERT(WIFSIGNALED(st));
	snprintf(want, sizeof(want), "writer died (pid %d)", (int)pid);
	ASSERT_EQ(finish(rx, out, sizeof(out), err, sizeof(err)), 1);
	ASSERT(!strcmp(out, "partial\n"));
	ASSERT(strstr(err, want));
	rx = start(NULL, ARGS("recv", spec));
	ASSERT_EQ(finish(rx, out, sizeof(out), err, sizeof(err)), 1);
	ASSERT(strstr(err, want));
	ASSERT_EQ(run(NULL, ARGS("stat", spec), out, sizeof(out)), 0);
	ASSERT(strstr(out, "stream     reset"));
	ASSERT_EQ(run(NULL, ARGS("rm", spec), NULL, 0), 0);
}

/*
 * The fourth: send into a channel nobody reads blocked forever, and with
 * -t said only "Connection timed out". Now it says how much went through
 * (of how many lines, when stdin is a file) and why it stopped.
 */
static void send_reports_what_it_sent(void)
{
	char spec[128], err[1024], path[] = "/tmp/shmkit-test-lines-XXXXXX";
	struct proc p;
	char *in;
	int fd;

	need_cli();
	if (test_skipped_)
		return;
	snprintf(spec, sizeof(spec), "posix:%s", test_name("clis"));
	ASSERT_EQ(run(NULL, ARGS("create", spec, "--kind", "spsc", "-c", "4K"),
		      NULL, 0),
		  0);
	in = numbers(1, 1000);
	fd = mkstemp(path);
	ASSERT(fd >= 0);
	ASSERT(write(fd, in, strlen(in)) == (ssize_t)strlen(in));
	close(fd);
	stdin_file = path;
	p = start(NULL, ARGS("send", spec, "-t", "200"));
	ASSERT_EQ(finish(p, NULL, 0, err, sizeof(err)), 1);
	unlink(path);
	ASSERT(strstr(err, " of 1000 lines: no room for 200 ms (no reader has "
			   "the channel open)"));
	ASSERT(strstr(err, "shmkit: chan send: "));
	/* From a pipe the total is unknown: what went and what did not. */
	p = start(in, ARGS("send", spec, "-t", "100"));
	ASSERT_EQ(finish(p, NULL, 0, err, sizeof(err)), 1);
	ASSERT(strstr(err, "sent 0 lines; line 1 and the rest of stdin were "
			   "not sent"));
	free(in);
	ASSERT_EQ(run(NULL, ARGS("rm", spec), NULL, 0), 0);
}

static void refusals(void)
{
	char spec[128], err[1024];
	shmkit_seg *seg;
	struct proc p;

	need_cli();
	if (test_skipped_)
		return;
	snprintf(spec, sizeof(spec), "posix:%s", test_name("clir"));
	/* Not a channel: rm leaves it alone. */
	ASSERT_OK(shmkit_create(spec, 4096, NULL, &seg));
	memset(shmkit_addr(seg), 0x77, 4096);
	p = start(NULL, ARGS("rm", spec));
	ASSERT_EQ(finish(p, NULL, 0, err, sizeof(err)), 1);
	ASSERT(strstr(err, "shmkit: chan rm: "));
	ASSERT(strstr(err, "not a channel"));
	ASSERT_OK(shmkit_destroy(seg));
	/* Bad command lines. */
	ASSERT_EQ(run(NULL, ARGS("create", spec), NULL, 0), 2);
	ASSERT_EQ(run(NULL, ARGS("create", spec, "--kind", "ring"), NULL, 0), 2);
	p = start(NULL, ARGS("create", spec, "--kind", "spsc", "--capacity",
			     "10"));
	ASSERT_EQ(finish(p, NULL, 0, err, sizeof(err)), 2);
	ASSERT(strstr(err, "an spsc capacity is 256 B to 4 GiB"));
	p = start(NULL, ARGS("create", spec, "--kind", "mpmc", "--endpoints",
			     "1"));
	ASSERT_EQ(finish(p, NULL, 0, err, sizeof(err)), 2);
	ASSERT(strstr(err, "max_endpoints is 2 to 4096"));
	ASSERT_EQ(run(NULL, ARGS("create", "anon:", "--kind", "spsc"), NULL, 0),
		  2);
	ASSERT_EQ(run(NULL, ARGS("recv"), NULL, 0), 2);
	ASSERT_EQ(run(NULL, ARGS("recv", spec, "--count", "x"), NULL, 0), 2);
	ASSERT_EQ(run(NULL, ARGS("send", spec, "--wait", "nap"), NULL, 0), 2);
	ASSERT_EQ(run(NULL, ARGS("bogus"), NULL, 0), 2);
	ASSERT_EQ(run(NULL, ARGS("stat", spec), NULL, 0), 1); /* no such */
	{
		const char *subs[] = {"create", "stat", "send", "recv", "rm"};
		unsigned i;
		char out[4096];
		ASSERT_EQ(run(NULL, ARGS("--help"), out, sizeof(out)), 0);
		ASSERT(strstr(out, "Usage: shmkit chan"));
		for (i = 0; i < 5; i++) {
			ASSERT_EQ(run(NULL, ARGS(subs[i], "--help"), out,
				      sizeof(out)),
				  0);
			ASSERT(strstr(out, subs[i]));
		}
	}
}

CHAN_TEST_MAIN("chan_cli", TEST(two_processes_talk), TEST(broadcast_and_mpmc),
	       TEST(recv_after_send_ends), TEST(mpmc_senders_one_after_another),
	       TEST(killed_writer_fails_recv), TEST(send_reports_what_it_sent),
	       TEST(refusals))
