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
 * Windows program sharing memory has to do.
 *
 * Everything made is removed on every path; every wait for a child is
 * bounded (a child that hangs is killed with TerminateProcess).
 */
#include "../cli.h"
#include "win_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#define DEMO_SIZE (1u << 20)
#define DEMO_TIMEOUT_MS 10000
#define DEMO_MAGIC 0x6f6d65646b6d6873ull /* "shmkdemo" */

/* The first 64 bytes of a demo segment; the pattern follows. */
typedef struct demo_hdr {
	uint64_t magic;    /* parent */
	uint64_t expect;   /* parent: FNV-1a of the payload */
	uint64_t seen;     /* child: FNV-1a of the payload as it saw it */
	int32_t child_pid; /* child */
	char reply[36];    /* child */
} demo_hdr;

_Static_assert(sizeof(demo_hdr) == 64, "demo header is 64 bytes");

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void fill_pattern(unsigned char *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (unsigned char)(seed >> 56);
	}
}

/* -- the child: shmkit demo --child SPEC ---------------------------------- */

static int child_main(const char *spec)
{
	shmkit_seg *seg;
	demo_hdr *h;
	int r;

	r = shmkit_attach(spec, NULL, &seg);
	if (r < 0)
		return cli_seg_err("demo child: attach", spec, r);
	if (shmkit_size(seg) < DEMO_SIZE) {
		shmkit_detach(seg);
		return cli_errf("demo child: %s: %zu bytes, not %u", spec,
				shmkit_size(seg), DEMO_SIZE);
	}
	h = shmkit_addr(seg);
	if (h->magic != DEMO_MAGIC) {
		shmkit_detach(seg);
		return cli_errf("demo child: %s: no demo header", spec);
	}
	h->seen = fnv1a((unsigned char *)(h + 1), DEMO_SIZE - sizeof(*h));
	h->child_pid = (int32_t)GetCurrentProcessId();
	snprintf(h->reply, sizeof(h->reply), "hello from child %lu",
		 (unsigned long)GetCurrentProcessId());
	r = shmkit_detach(seg);
	if (r < 0)
		return cli_seg_err("demo child: detach", spec, r);
	return CLI_OK;
}

/* -- the parent ---------------------------------------------------------- */

typedef struct demo_row {
	const char *backend;
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

/* Run `shmkit demo --child SPEC`, bounded: its exit code, or -errno. */
static int run_child(const char *spec)
{
	char self[MAX_PATH];
	char *argv[5];
	HANDLE proc;
	DWORD code = 1;
	int r;

	r = cli_win_self(self, sizeof(self));
	if (r < 0)
		return r;
	argv[0] = self;
	argv[1] = (char *)"demo";
	argv[2] = (char *)"--child";
	argv[3] = (char *)spec;
	argv[4] = NULL;
	r = cli_win_spawn(argv, &proc);
	if (r < 0)
		return r;
	if (WaitForSingleObject(proc, DEMO_TIMEOUT_MS) != WAIT_OBJECT_0) {
		TerminateProcess(proc, 1);
		WaitForSingleObject(proc, INFINITE);
		CloseHandle(proc);
		return -ETIMEDOUT;
	}
	GetExitCodeProcess(proc, &code);
	CloseHandle(proc);
	return (int)code;
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
	memset(h, 0, sizeof(*h));
	fill_pattern((unsigned char *)(h + 1), DEMO_SIZE - sizeof(*h), seed);
	h->expect = fnv1a((unsigned char *)(h + 1), DEMO_SIZE - sizeof(*h));
	h->magic = DEMO_MAGIC;

	t = cli_now_ns();
	r = run_child(shmkit_spec(seg));
	row->child_ns = cli_now_ns() - t;
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
	"parent checks the reply.\nThe win: segment lives while the parent "
	"holds it. Prints one row per\nbackend; exit 0 if every row passed, "
	"1 otherwise. Everything made is\nremoved.\n"
	"\n"
	"  -h, --help   show this help\n";

int cmd_demo(int argc, char **argv)
{
	demo_row rows[2];
	char dir[MAX_PATH], tmp[MAX_PATH];
	unsigned long pid = (unsigned long)GetCurrentProcessId();
	cli_table t;
	size_t i, nok = 0;
	DWORD n;
	int r;

	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child_main(argv[2]);
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
	snprintf(dir, sizeof(dir), "%s", tmp);
	snprintf(rows[1].spec, sizeof(rows[1].spec),
		 "file:%sshmkit-demo-%lu.seg", dir, pid);

	printf("shmkit %s demo: parent %lu shares a 1 MiB segment with a "
	       "child process\n\n",
	       shmkit_version_string(), pid);
	cli_table_init(&t, 6, "llrrrl");
	cli_table_add(&t, (const char *const[]){"BACKEND", "SPEC", "CREATE",
						 "CHILD", "DESTROY",
						 "RESULT"});
	for (i = 0; i < 2; i++) {
		char c[24], ch[24], d[24], shown[SHMKIT_SPEC_MAX];

		run_row(&rows[i], 0x5eed0000u + i);
		nok += rows[i].ok;
		fmt_ms(rows[i].create_ns, c);
		fmt_ms(rows[i].child_ns, ch);
		fmt_ms(rows[i].destroy_ns, d);
		cli_printable(rows[i].spec, shown, sizeof(shown));
		cli_table_add(&t, (const char *const[]){rows[i].backend, shown,
							 c, ch, d,
							 rows[i].result});
	}
	r = cli_table_print(&t, stdout, 2);
	cli_table_free(&t);
	if (r < 0)
		return cli_err("demo", r);
	printf("\n%zu of 2 backends passed (CHILD: starting the child, its "
	       "attach, check and\ndetach, and its exit).\n",
	       nok);
	return nok == 2 ? CLI_OK : CLI_FAIL;
}
