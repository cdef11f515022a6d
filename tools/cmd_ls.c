/*
 * cmd_ls.c: the introspection subcommands, `ls`, `info` and `who`.
 *
 * `ls` gathers the whole listing before printing, so it can size the
 * columns and sort (POSIX by name, then System V by id): the library hands
 * segments over in directory order. Names come from whoever made the
 * segment, so they are shown with control characters replaced in the table
 * and escaped in JSON; JSON is valid UTF-8 even for names that are not
 * (invalid bytes become U+FFFD). `ls` also tells what each segment holds
 * (KIND: a channel, a heap, or a plain segment): it attaches each POSIX,
 * file: and win: segment read-only for a moment to look (shmkit_chan_probe,
 * shmkit_heap_probe, both checked reads of a header), after the listing,
 * so the look cannot change what the listing says; one it may not read is
 * shown as '-'. The listing with its filters (PATTERN, --backend, --dir)
 * and the probes are shared with `top` (cli_seglist_gather()).
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* -- shared by ls and info ----------------------------------------------- */

static const char *key_text(const shmkit_info *in, char buf[16])
{
	if (in->backend != SHMKIT_BACKEND_SYSV)
		return "-";
	if (in->key == 0)
		return "private"; /* also what a removed segment's key reads */
	snprintf(buf, 16, "0x%08x", (unsigned)in->key);
	return buf;
}

static const char *count_text(long n, char buf[24])
{
	if (n < 0)
		return "-";
	snprintf(buf, 24, "%ld", n);
	return buf;
}

static void json_count(FILE *f, const char *name, long n)
{
	if (n < 0)
		fprintf(f, ", \"%s\": null", name);
	else
		fprintf(f, ", \"%s\": %ld", name, n);
}

/* The fields of shmkit_info as JSON, without the closing brace. */
static void json_fields(FILE *f, const shmkit_info *in)
{
	char name[CLI_NAME_BUF];

	fputs("{\"spec\": ", f);
	cli_json_string(f, in->spec);
	fprintf(f, ", \"backend\": \"%s\", \"size\": %llu",
		shmkit_backend_name(in->backend),
		(unsigned long long)in->size);
	fprintf(f, ", \"uid\": %u, \"owner\": ", (unsigned)in->uid);
	cli_json_string(f, cli_user_name(in->uid, name));
	fprintf(f, ", \"gid\": %u, \"group\": ", (unsigned)in->gid);
	cli_json_string(f, cli_group_name(in->gid, name));
	fprintf(f, ", \"mode\": \"%04o\"", in->mode);
	json_count(f, "nattch", in->nattch);
	json_count(f, "nprocs", in->nprocs);
	if (in->backend == SHMKIT_BACKEND_SYSV)
		fprintf(f, ", \"key\": \"0x%08x\", \"shmid\": %d",
			(unsigned)in->key, in->shmid);
	else
		fputs(", \"key\": null, \"shmid\": null", f);
	fprintf(f, ", \"mtime\": %lld, \"removed\": %s", (long long)in->mtime,
		(in->flags & SHMKIT_INFO_REMOVED) ? "true" : "false");
	fprintf(f, ", \"ephemeral\": %s, \"stale\": %s",
		(in->flags & SHMKIT_INFO_EPHEMERAL) ? "true" : "false",
		(in->flags & SHMKIT_INFO_STALE) ? "true" : "false");
}

static void json_info(FILE *f, const shmkit_info *in)
{
	json_fields(f, in);
	fputc('}', f);
}

/* -- the listing, shared with top ---------------------------------------- */

/* Windows has no mark on files that tells shmkit's segments apart. */
#define NO_DIR_WHY                                                            \
	"Windows files carry no mark that tells shmkit's segments from "      \
	"other files, so a directory cannot be listed ('shmkit info "         \
	"file:PATH' describes one by its path)"

int cli_filter_backend(const char *cmd, cli_filter *f, const char *name)
{
#ifdef _WIN32
	char what[32];

	if (!strcmp(name, "win")) {
		f->win = true;
		return 0;
	}
	if (!strcmp(name, "file")) {
		snprintf(what, sizeof(what), "%s --backend file", cmd);
		return cli_not_here(what, NO_DIR_WHY);
	}
	if (!strcmp(name, "posix") || !strcmp(name, "sysv") ||
	    !strcmp(name, "memfd") || !strcmp(name, "anon") ||
	    !strcmp(name, "fd"))
		return cli_usage_err(cmd,
				     "--backend %s: %s: segments exist only "
				     "on Unix; Windows lists win",
				     name, name);
	return cli_usage_err(cmd, "--backend: unknown backend '%s' (win)",
			     name);
#else
	if (!strcmp(name, "posix"))
		f->posix = true;
	else if (!strcmp(name, "sysv"))
		f->sysv = true;
	else if (!strcmp(name, "file"))
		f->file = true;
	else if (!strcmp(name, "memfd") || !strcmp(name, "anon") ||
		 !strcmp(name, "fd"))
		return cli_usage_err(cmd,
				     "--backend %s: %s: segments have no name "
				     "to be listed by (they are reached by "
				     "inheritance or fd passing only)",
				     name, name);
	else
		return cli_usage_err(cmd,
				     "--backend: unknown backend '%s' (posix, "
				     "sysv or file)",
				     name);
	return 0;
#endif
}

int cli_filter_dir(cli_filter *f, const char *dir)
{
	const char **v = realloc(f->dirs, (f->ndirs + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	v[f->ndirs++] = dir;
	f->dirs = v;
	return 0;
}

int cli_filter_pattern(cli_filter *f, const char *pat)
{
	const char **v = realloc(f->pats, (f->npats + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	v[f->npats++] = pat;
	f->pats = v;
	return 0;
}

int cli_filter_check(const char *cmd, const cli_filter *f)
{
#ifdef _WIN32
	char what[32];

	if (f->posix || f->sysv)
		return cli_usage_err(cmd, "--%s: %s: segments exist only on "
				     "Unix; Windows lists win",
				     f->posix ? "posix" : "sysv",
				     f->posix ? "posix" : "sysv");
	if (f->ndirs) {
		snprintf(what, sizeof(what), "%s --dir", cmd);
		return cli_not_here(what, NO_DIR_WHY);
	}
#endif
	if (f->file && f->ndirs == 0)
		return cli_usage_err(cmd, "--backend file: file: segments are "
					  "listed from a directory: give "
					  "--dir DIR");
	return 0;
}

void cli_filter_free(cli_filter *f)
{
	free(f->dirs);
	free(f->pats);
	f->dirs = f->pats = NULL;
	f->ndirs = f->npats = 0;
}

/* A PATTERN matches the spec ("posix:/a*") or the name after the backend
 * ("/a*", "*.ring"); any of several will do. */
static bool matches(const cli_filter *f, const char *spec)
{
	const char *colon = strchr(spec, ':');
	const char *name = colon ? colon + 1 : spec;
	size_t i;

	if (f->npats == 0)
		return true;
	for (i = 0; i < f->npats; i++)
		if (!cli_fnmatch(f->pats[i], spec) ||
		    !cli_fnmatch(f->pats[i], name))
			return true;
	return false;
}

typedef struct collect_ctx {
	cli_seglist *l;
	const cli_filter *f;
} collect_ctx;

static int collect(const shmkit_info *in, void *arg)
{
	collect_ctx *c = arg;
	cli_seglist *l = c->l;

	if (!matches(c->f, in->spec))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		shmkit_info *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *in;
	return 0;
}

static int cmp_info(const void *a, const void *b)
{
	const shmkit_info *x = a, *y = b;

	if (x->backend != y->backend)
		return x->backend < y->backend ? -1 : 1;
	if (x->backend == SHMKIT_BACKEND_SYSV && x->shmid != y->shmid)
		return x->shmid < y->shmid ? -1 : 1;
	return strcmp(x->spec, y->spec);
}

/*
 * What each segment holds: the backends with a name to attach by (win:
 * too: a read-only view changes nothing Windows counts), each
 * mapped read-only for a moment by the probes, after the listing, so the
 * look cannot change what the listing says. System V segments are not
 * attached: an attach shows in their counters (nattch, lpid, atime).
 */
static int probe_kinds(cli_seglist *l)
{
	size_t i;

	free(l->kind);
	l->kind = NULL;
	if (l->n == 0)
		return 0;
	l->kind = malloc(l->n);
	if (!l->kind)
		return -ENOMEM;
	for (i = 0; i < l->n; i++) {
		const shmkit_info *in = &l->v[i];
		int k = CLI_KIND_UNKNOWN, r;

		if (in->backend == SHMKIT_BACKEND_POSIX ||
		    in->backend == SHMKIT_BACKEND_FILE ||
		    in->backend == SHMKIT_BACKEND_WIN) {
			r = shmkit_chan_probe(in->spec);
			if (r > 0)
				k = CLI_KIND_CHANNEL;
			else if (r == 0)
				k = shmkit_heap_probe(in->spec) > 0
					    ? CLI_KIND_HEAP
					    : CLI_KIND_SEGMENT;
		}
		l->kind[i] = (signed char)k;
	}
	return 0;
}

const char *cli_kind_name(int kind)
{
	switch (kind) {
	case CLI_KIND_SEGMENT:
		return "segment";
	case CLI_KIND_CHANNEL:
		return "channel";
	case CLI_KIND_HEAP:
		return "heap";
	}
	return "-";
}

int cli_seglist_gather(const char *cmd, const cli_filter *f, unsigned flags,
		       bool probe, cli_seglist *l)
{
	collect_ctx c = {.l = l, .f = f};
	bool any = f->posix || f->sysv || f->file;
	unsigned lf = flags & SHMKIT_LIST_NOPROCS;
	size_t i;
	int r = 0;

	l->n = 0;
#ifdef _WIN32
	/* No backend bits: the win: segments, the only ones it walks. */
	(void)any;
	r = shmkit_list(lf, collect, &c);
#else
	if (!any || f->posix)
		lf |= SHMKIT_LIST_POSIX;
	if (!any || f->sysv)
		lf |= SHMKIT_LIST_SYSV;
	if (lf & (SHMKIT_LIST_POSIX | SHMKIT_LIST_SYSV))
		r = shmkit_list(lf, collect, &c);
#endif
	if (r < 0)
		/* Not about one segment: the walk itself failed. */
#ifdef _WIN32
		return cli_errf("%s: %s (listing the win: segments this "
				"process can see)",
				cmd, shmkit_strerror(r));
#else
		return cli_errf("%s: %s (reading /dev/shm, /proc/sysvipc/shm "
				"and /proc/PID/maps)",
				cmd,
				r == -ENOENT ? strerror(ENOENT)
					     : shmkit_strerror(r));
#endif
	for (i = 0; i < f->ndirs && (!any || f->file); i++) {
		r = shmkit_list_dir(f->dirs[i], flags & SHMKIT_LIST_NOPROCS,
				    collect, &c);
		if (r < 0) {
			char shown[SHMKIT_SPEC_MAX];

			cli_printable(f->dirs[i], shown, sizeof(shown));
			return cli_errf("%s: --dir %s: %s%s", cmd, shown,
					shmkit_strerror(r),
					r == -ELOOP ? " (a symlink on the way "
						      "is not followed, as in "
						      "file: paths)"
						    : "");
		}
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_info);
	if (probe && probe_kinds(l) < 0)
		return cli_err(cmd, -ENOMEM);
	return CLI_OK;
}

void cli_seglist_free(cli_seglist *l)
{
	free(l->v);
	free(l->kind);
	memset(l, 0, sizeof(*l));
}

/* -- ls ------------------------------------------------------------------ */

static const char *status_text(const shmkit_info *in)
{
	if (in->flags & SHMKIT_INFO_REMOVED)
		return "removed";
	if (in->flags & SHMKIT_INFO_STALE)
		return "stale";
	if (in->flags & SHMKIT_INFO_EPHEMERAL)
		return "ephemeral";
	return "";
}

#ifdef _WIN32
static const char ls_usage[] =
	"Usage: shmkit ls [--json] [--backend win] [PATTERN...]\n"
	"\n"
	"List the win: segments this process can see: the named mappings of "
	"its\nsession (win:NAME, Local\\NAME) and of the global namespace "
	"(win:Global\\NAME)\nthat it may open. Windows has no /dev/shm to "
	"list: another session's or a\nmore privileged user's mappings stay "
	"hidden, and a file: segment is not\nlisted ('shmkit info file:PATH' "
	"describes one by its path).\n"
	"\n"
	"  SIZE     the size it was made with\n"
	"  MTIME    '-': Windows keeps no time for a mapping\n"
	"  STATUS   'ephemeral': it dies with its last handle, as every win: "
	"segment\n"
	"           does\n"
	"  KIND     what it holds: 'channel' ('shmkit chan stat SPEC'), 'heap'\n"
	"           ('shmkit heap stat SPEC') or 'segment' (anything else)\n"
	"\n"
	"  PATTERN        only segments whose spec or name matches the shell "
	"glob\n"
	"                 ('win:app-*', 'app-*'; quote it); several: any\n"
	"  --backend win  win: segments (the only ones listed on Windows)\n"
	"  --json         print a JSON array, one object per segment (\"kind\": "
	"\"segment\",\n"
	"                 \"channel\" or \"heap\"; uid, gid and mode are 0, "
	"nattch and\n"
	"                 nprocs null: Windows does not tell them)\n"
	"  -h, --help     show this help\n"
	"\n"
	"--dir, --posix and --sysv are not available on Windows.\n";
#else
static const char ls_usage[] =
	"Usage: shmkit ls [--json] [--posix] [--sysv] [--backend NAME] "
	"[--dir DIR]\n"
	"                 [--no-procs] [PATTERN...]\n"
	"\n"
	"List every shared memory segment on this host: POSIX ones (the files "
	"in\n/dev/shm) and System V ones (what 'ipcs -m' shows); with --dir, "
	"also the\nfile: segments shmkit made in DIR.\n"
	"\n"
	"  NATTCH   attaches the kernel counts (System V only)\n"
	"  PROCS    processes that map the segment, from /proc/PID/maps; "
	"without\n"
	"           root, other users' processes cannot be seen\n"
	"  MTIME    last change (System V: creation or last IPC_SET)\n"
	"  STATUS   'removed': a System V segment marked for removal that is "
	"still\n"
	"           attached; 'ephemeral': created to go away when unused;\n"
	"           'stale': ephemeral and used by no live process ('shmkit gc'\n"
	"           removes it)\n"
	"  KIND     what it holds: 'channel' ('shmkit chan stat SPEC'), 'heap'\n"
	"           ('shmkit heap stat SPEC') or 'segment' (anything else); "
	"only\n"
	"           POSIX and file: segments this user may read are looked at, "
	"'-'\n"
	"           for the others\n"
	"\n"
	"  PATTERN        only segments whose spec or name matches the shell "
	"glob\n"
	"                 ('posix:/app-*', '/app-*', '*.ring'; quote it); "
	"several: any\n"
	"  --backend NAME only this backend: posix, sysv or file (the --dir "
	"ones);\n"
	"                 may be given more than once\n"
	"  --dir DIR      also list the file: segments shmkit made in DIR (not "
	"below\n"
	"                 it; other files are left out: shmkit marks its own "
	"with an\n"
	"                 extended attribute, so a filesystem without user "
	"xattrs\n"
	"                 shows none); may be given more than once\n"
	"  --json         print a JSON array, one object per segment (\"kind\": "
	"\"segment\",\n"
	"                 \"channel\" or \"heap\", null where it was not looked "
	"at; \"heap\":\n"
	"                 true, false or null as before)\n"
	"  --posix        POSIX segments only (--backend posix)\n"
	"  --sysv         System V segments only (--backend sysv)\n"
	"  --no-procs     do not read /proc/PID/maps (faster; PROCS shows '-')\n"
	"  -h, --help     show this help\n";
#endif

static int print_table(const cli_seglist *l)
{
	static const char *const head[] = {"SPEC",  "BACKEND", "KEY",
					   "SIZE",  "OWNER",   "MODE",
					   "NATTCH", "PROCS",  "MTIME",
					   "STATUS", "KIND"};
	static const char align[] = "lllrlrrrlll";
#ifdef _WIN32
	/* Windows has no keys, uids, modes or counts of users to show. */
	static const size_t col[] = {0, 1, 3, 8, 9, 10};
#else
	static const size_t col[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
#endif
	enum { NCOL = sizeof(col) / sizeof(col[0]) };
	const char *shown[NCOL];
	char al[NCOL + 1];
	cli_table t;
	size_t i, j;
	int r;

	for (j = 0; j < NCOL; j++) {
		shown[j] = head[col[j]];
		al[j] = align[col[j]];
	}
	al[NCOL] = '\0';
	cli_table_init(&t, NCOL, al);
	cli_table_add(&t, shown);
	for (i = 0; i < l->n; i++) {
		const shmkit_info *in = &l->v[i];
		char spec[SHMKIT_SPEC_MAX], key[16], size[CLI_SIZE_BUF];
		char owner[CLI_NAME_BUF], mode[16], na[24], np[24];
		char mtime[CLI_TIME_BUF];
		const char *row[11];

		cli_printable(in->spec, spec, sizeof(spec));
		snprintf(mode, sizeof(mode), "%04o", in->mode);
		row[0] = spec;
		row[1] = shmkit_backend_name(in->backend);
		row[2] = key_text(in, key);
		row[3] = cli_format_size(in->size, size);
		row[4] = cli_user_name(in->uid, owner);
		row[5] = mode;
		row[6] = count_text(in->nattch, na);
		row[7] = count_text(in->nprocs, np);
		row[8] = cli_format_time(in->mtime, mtime);
		row[9] = status_text(in);
		row[10] = cli_kind_name(l->kind[i]);
		for (j = 0; j < NCOL; j++)
			shown[j] = row[col[j]];
		cli_table_add(&t, shown);
	}
	r = cli_table_print(&t, stdout, 0);
	cli_table_free(&t);
	if (r < 0)
		return cli_err("ls", r);
#ifdef _WIN32
	/* On stderr, so the table stays a table for scripts. */
	fprintf(stderr, "shmkit: ls: %zu win: segment%s this process can see "
			"(Windows hides other sessions' and more privileged "
			"users' mappings; file: segments are not listed)\n",
		l->n, l->n == 1 ? "" : "s");
#endif
	return CLI_OK;
}

static void print_json(const cli_seglist *l)
{
	size_t i;

	if (l->n == 0) {
		puts("[]");
		return;
	}
	puts("[");
	for (i = 0; i < l->n; i++) {
		int k = l->kind[i];

		fputs("  ", stdout);
		json_fields(stdout, &l->v[i]);
		if (k == CLI_KIND_UNKNOWN)
			fputs(", \"kind\": null, \"heap\": null}", stdout);
		else
			printf(", \"kind\": \"%s\", \"heap\": %s}",
			       cli_kind_name(k),
			       k == CLI_KIND_HEAP ? "true" : "false");
		puts(i + 1 < l->n ? "," : "");
	}
	puts("]");
}

int cmd_ls(int argc, char **argv)
{
	enum { O_HELP = 1, O_JSON, O_POSIX, O_SYSV, O_NOPROCS, O_BACKEND,
	       O_DIR };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},	{"json", 0, false, O_JSON},
		{"posix", 0, false, O_POSIX},	{"sysv", 0, false, O_SYSV},
		{"no-procs", 0, false, O_NOPROCS},
		{"backend", 'b', true, O_BACKEND},
		{"dir", 0, true, O_DIR},	{NULL, 0, false, 0},
	};
	unsigned flags = 0;
	bool json = false;
	cli_seglist l = {0};
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
				r = cli_err("ls", -ENOMEM);
			break;
		case O_HELP:
			fputs(ls_usage, stdout);
			cli_filter_free(&f);
			return CLI_OK;
		case O_JSON:
			json = true;
			break;
		case O_POSIX:
			f.posix = true;
			break;
		case O_SYSV:
			f.sysv = true;
			break;
		case O_BACKEND:
			r = cli_filter_backend("ls", &f, a.arg);
			break;
		case O_DIR:
			if (cli_filter_dir(&f, a.arg) < 0)
				r = cli_err("ls", -ENOMEM);
			break;
		case O_NOPROCS:
			flags |= SHMKIT_LIST_NOPROCS;
			break;
		}
	}
	if (r == CLI_OK)
		r = cli_filter_check("ls", &f);
	if (r == CLI_OK)
		r = cli_seglist_gather("ls", &f, flags, true, &l);
	if (r == CLI_OK) {
		if (json)
			print_json(&l);
		else
			r = print_table(&l);
	}
	cli_seglist_free(&l);
	cli_filter_free(&f);
	return r;
}

/* -- info ---------------------------------------------------------------- */

static const char info_usage[] =
	"Usage: shmkit info [--json] SPEC\n"
	"\n"
#ifdef _WIN32
	"Describe one segment: its size, how long it lives and, for file:, "
	"its last\nchange. SPEC is win:NAME (looked at through a read-only "
	"view for a moment)\nor file:PATH. Windows does not tell who owns a "
	"segment or which processes\nmap it.\n"
#else
	"Describe one segment without attaching it: size, owner, mode, "
	"attaches and\nthe processes that map it. SPEC is posix:/NAME, "
	"sysv:KEY, sysv:id=N,\nsysv:/PATH#PROJ, file:/PATH or fd:N (memfd: and "
	"anon: segments have no name\nto look up from outside).\n"
#endif
	"\n"
	"  --json       print one JSON object\n"
	"  -h, --help   show this help\n";

static void print_info(const shmkit_info *in)
{
	char buf[CLI_NAME_BUF], size[CLI_SIZE_BUF], t[CLI_TIME_BUF], k[16];
	char spec[SHMKIT_SPEC_MAX];

	cli_printable(in->spec, spec, sizeof(spec));
	printf("spec:     %s\n", spec);
	printf("backend:  %s\n", shmkit_backend_name(in->backend));
	if (in->backend == SHMKIT_BACKEND_SYSV) {
		printf("key:      %s\n", key_text(in, k));
		printf("shmid:    %d\n", in->shmid);
	}
	printf("size:     %llu (%s)\n", (unsigned long long)in->size,
	       cli_format_size(in->size, size));
#ifdef _WIN32
	/* No uids, gids or /proc: an owner is a SID, and who maps a mapping
	 * is not told. */
	(void)buf;
	if (in->mode)
		printf("mode:     %04o\n", in->mode);
	if (in->nprocs >= 0)
		printf("nprocs:   %ld\n", in->nprocs);
	else
		printf("nprocs:   unknown (Windows does not tell)\n");
#else
	printf("owner:    %s (uid %u)\n", cli_user_name(in->uid, buf),
	       (unsigned)in->uid);
	printf("group:    %s (gid %u)\n", cli_group_name(in->gid, buf),
	       (unsigned)in->gid);
	printf("mode:     %04o\n", in->mode);
	if (in->nattch >= 0)
		printf("nattch:   %ld\n", in->nattch);
	if (in->nprocs >= 0)
		printf("nprocs:   %ld\n", in->nprocs);
	else
		printf("nprocs:   unknown (/proc not readable)\n");
#endif
	printf("mtime:    %s\n", cli_format_time(in->mtime, t));
	if (in->flags & SHMKIT_INFO_REMOVED)
		printf("status:   removed, still attached\n");
	if (in->backend == SHMKIT_BACKEND_WIN)
		printf("lifetime: while a process holds it (it dies with its "
		       "last handle)\n");
	else if (in->backend == SHMKIT_BACKEND_POSIX ||
		 in->backend == SHMKIT_BACKEND_FILE)
		printf("lifetime: %s%s\n",
		       (in->flags & SHMKIT_INFO_EPHEMERAL) ? "ephemeral" : "persistent",
		       (in->flags & SHMKIT_INFO_STALE) ? ", stale: no live process uses it" : "");
}

int cmd_info(int argc, char **argv)
{
	enum { O_HELP = 1, O_JSON };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"json", 0, false, O_JSON},
		{NULL, 0, false, 0},
	};
	const char *spec = NULL;
	shmkit_info *in;
	bool json = false;
	cli_args a;
	int o, r;

	cli_args_init(&a, argc, argv);
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (spec)
				return cli_usage_err("info",
						     "one SPEC at a time");
			spec = a.arg;
			break;
		case O_HELP:
			fputs(info_usage, stdout);
			return CLI_OK;
		case O_JSON:
			json = true;
			break;
		}
	}
	if (!spec)
		return cli_usage_err("info", "missing SPEC");
	in = malloc(sizeof(*in));
	if (!in)
		return cli_err("info", -ENOMEM);
	r = shmkit_stat(spec, in);
	if (r < 0) {
		free(in);
		return cli_seg_err("info", spec, r);
	}
	if (json) {
		json_info(stdout, in);
		putchar('\n');
	} else {
		print_info(in);
	}
	free(in);
	return CLI_OK;
}

/* -- who ----------------------------------------------------------------- */

static const char who_usage[] =
	"Usage: shmkit who SPEC\n"
	"\n"
	"Show the processes that map a segment (from /proc/PID/maps): PID and "
	"command.\nWithout root, other users' processes cannot be seen.\n"
#ifdef _WIN32
	"Not available on Windows: it does not tell which processes hold a "
	"file mapping.\n"
#endif
	"\n"
	"  -h, --help   show this help\n";

int cmd_who(int argc, char **argv)
{
	enum { O_HELP = 1 };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{NULL, 0, false, 0},
	};
	const char *spec = NULL;
	pid_t *pids = NULL;
	cli_table t;
	cli_args a;
	int o, n, i;

	cli_args_init(&a, argc, argv);
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (spec)
				return cli_usage_err("who",
						     "one SPEC at a time");
			spec = a.arg;
			break;
		case O_HELP:
			fputs(who_usage, stdout);
			return CLI_OK;
		}
	}
	if (!spec)
		return cli_usage_err("who", "missing SPEC");
#ifdef _WIN32
	return cli_not_here("who", "Windows does not tell which processes "
				   "hold a file mapping");
#endif

	n = cli_who_all(spec, &pids);
	if (n < 0)
		return cli_seg_err("who", spec, n);

	cli_table_init(&t, 2, "rl");
	cli_table_add(&t, (const char *const[]){"PID", "COMMAND"});
	for (i = 0; i < n; i++) {
		char pid[24], comm[64], shown[64];
		snprintf(pid, sizeof(pid), "%d", (int)pids[i]);
		cli_printable(cli_proc_comm(pids[i], comm, sizeof(comm)), shown,
			      sizeof(shown));
		cli_table_add(&t, (const char *const[]){pid, shown});
	}
	free(pids);
	o = cli_table_print(&t, stdout, 0);
	cli_table_free(&t);
	return o < 0 ? cli_err("who", o) : CLI_OK;
}
