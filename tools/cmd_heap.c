/*
 * cmd_heap.c: `shmkit heap`, heaps from a shell: create, stat, ls, check,
 * get, unname, rm.
 *
 * Each subcommand opens the heap as any program would (shmkit_heap_open)
 * and closes it before it exits, so while it runs it is one of the heap's
 * processes, and its open does what every open does (repair what a crashed
 * process left half done, take back dead processes' caches). get and
 * unname exist for scripts and tests: they make and remove named objects,
 * whose refs a program can then find by name.
 *
 * create refuses memfd: and anon: as `shmkit create` does (they would
 * vanish when shmkit exits). rm removes only what opens as a heap, so a
 * typo cannot delete some other segment (`shmkit rm` removes anything).
 * Refs are printed in hex, and as strings in JSON: they use all 64 bits,
 * which a JSON number (a double to most readers) cannot hold exactly.
 *
 * On Windows a win: segment dies with its last handle, so create refuses
 * a win: heap (it would vanish when shmkit exits; a program makes one and
 * holds it) and rm refuses one (it goes with its last holder); file: heaps
 * work across invocations as on Linux.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/*
 * "shmkit: heap <sub>: <spec>: <why> (<hint>)" for err. opening says that
 * err came from shmkit_heap_open(), where -EPROTO means the segment holds
 * no heap we can read; after a good open it means a damaged heap.
 */
static int heap_err(const char *sub, const char *spec, int err, bool opening)
{
	char what[32];
	cli_why w;

	snprintf(what, sizeof(what), "heap %s", sub);
	cli_seg_why(&w, what, spec, err);
	if (shmkit_spec_check(spec))
		return cli_why_print(what, spec, &w);
	if (err == -EPROTO && opening) {
		w.why = "not a shmkit heap";
		w.hint = "or a heap of another layout version, pointer width "
			 "or byte order; 'shmkit info SPEC' describes the "
			 "segment";
	} else if (err == -EPROTO) {
		w.why = "the heap is damaged";
		w.hint = "'shmkit heap check SPEC' says what it found first";
	} else if (err == -ENOMEM && !opening) {
		w.why = "the heap is full";
		w.hint = "it has reached its --max size, or the host refused "
			 "more memory; 'shmkit heap stat SPEC' shows its use";
	}
	return cli_why_print(what, spec, &w);
}

/* An object's NAME operand: 1 to SHMKIT_HEAP_NAME_MAX bytes. */
static int name_arg(const char *sub, const char *name)
{
	if (!*name)
		return cli_usage_err(sub, "NAME must not be empty");
	if (strlen(name) > SHMKIT_HEAP_NAME_MAX)
		return cli_usage_err(sub, "NAME is %zu bytes, more than the "
				     "%d a name may have",
				     strlen(name), SHMKIT_HEAP_NAME_MAX);
	return 0;
}

/*
 * Parse operands and --help (and --json where json is not NULL) for the
 * subcommands that take only those: up to nops operands into ops[].
 * Returns 0, CLI_USAGE, or -1 when --help was printed.
 */
static int simple_args(int argc, char **argv, const char *sub,
		       const char *usage, const char **ops, int nops,
		       const char *expect, bool *json)
{
	enum { O_HELP = 1, O_JSON };
	static const cli_opt with_json[] = {
		{"help", 'h', false, O_HELP},
		{"json", 0, false, O_JSON},
		{NULL, 0, false, 0},
	};
	static const cli_opt help_only[] = {
		{"help", 'h', false, O_HELP},
		{NULL, 0, false, 0},
	};
	const cli_opt *opts = json ? with_json : help_only;
	cli_args a;
	int o, n = 0;

	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	a.numbers_are_operands = true; /* a SIZE like "-1" is an operand */
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (n == nops)
				return cli_usage_err(sub,
						     "unexpected argument '%s'",
						     a.arg);
			ops[n++] = a.arg;
			break;
		case O_HELP:
			fputs(usage, stdout);
			return -1;
		case O_JSON:
			*json = true;
			break;
		}
	}
	if (n < nops)
		return cli_usage_err(sub, "expected %s", expect);
	return 0;
}

/* -- create -------------------------------------------------------------- */

static const char create_usage[] =
	"Usage: shmkit heap create [OPTIONS] SPEC SIZE\n"
	"\n"
#ifdef _WIN32
	"Make a heap in a new segment SPEC (file:; a win: heap would vanish "
	"when\nshmkit exits, so a program makes one) and print its spec.\n"
#else
	"Make a heap in a new segment SPEC (posix:, file:, sysv:) and print "
	"its spec.\n"
#endif
	"SIZE is its first size: at least 64K, with an optional "
	"suffix K, M, G, T,\nP or E (powers of 1024), as for 'shmkit create'. "
	"Creation is exclusive: an\nexisting segment is an error and is left "
	"as it was.\n"
	"\n"
	"  --max SIZE        let the heap grow, while in use, up to SIZE "
	"bytes\n"
	"                    (default: SIZE, no growth). A full heap doubles "
	"each\n"
	"                    time it grows; sysv: heaps cannot grow\n"
	"  -m, --mode MODE   permission bits in octal (default 0600: the owner "
	"only)\n"
	"  -h, --help        show this help\n";

static int heap_create(int argc, char **argv)
{
	enum { O_HELP = 1, O_MAX, O_MODE };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{"max", 0, true, O_MAX},
		{"mode", 'm', true, O_MODE},
		{NULL, 0, false, 0},
	};
	const char *sub = "heap create", *spec = NULL, *size_s = NULL;
	const char *max_s = NULL;
	shmkit_heap_opts ho;
	shmkit_heap *h;
	uint64_t size, max = 0;
	cli_args a;
	cli_why w;
	int o, r;

	memset(&ho, 0, sizeof(ho));
	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	a.numbers_are_operands = true; /* "-1" is a bad SIZE, not an option */
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		switch (o) {
		case CLI_ARG_BAD:
			return CLI_USAGE;
		case CLI_ARG_OPERAND:
			if (!spec)
				spec = a.arg;
			else if (!size_s)
				size_s = a.arg;
			else
				return cli_usage_err(sub,
						     "unexpected argument '%s'",
						     a.arg);
			break;
		case O_HELP:
			fputs(create_usage, stdout);
			return CLI_OK;
		case O_MAX:
			max_s = a.arg;
			break;
		case O_MODE:
			if (cli_parse_mode(a.arg, &ho.mode) < 0)
				return cli_usage_err(
					sub,
					"invalid mode '%s' (octal, at most "
					"0777)",
					a.arg);
			if (ho.mode == 0)
				return cli_usage_err(
					sub,
					"mode 0 would lock everyone out, the "
					"owner included");
			break;
		}
	}
	if (!spec || !size_s)
		return cli_usage_err(sub, "expected SPEC and SIZE");
	r = cli_size_arg(sub, "SIZE", size_s, false, &size);
	if (r)
		return r;
	if (size < SHMKIT_HEAP_MIN_SIZE)
		return cli_usage_err(sub, "SIZE must be at least 64K (%u "
				     "bytes), the smallest heap: '%s' is not",
				     SHMKIT_HEAP_MIN_SIZE, size_s);
	if (max_s) {
		r = cli_size_arg(sub, "--max", max_s, false, &max);
		if (r)
			return r;
		if (max < size)
			return cli_usage_err(sub, "--max %s is less than SIZE "
					     "%s: a heap never shrinks",
					     max_s, size_s);
	}
	if (has_prefix(spec, "memfd:") || has_prefix(spec, "anon:"))
		return cli_usage_err(sub,
				     "%.*s segments live only as long as a "
				     "process holds them, so a heap made here "
				     "would vanish when shmkit exits; create "
				     "it from your program",
				     (int)(strchr(spec, ':') - spec + 1), spec);
#ifdef _WIN32
	if (has_prefix(spec, "win:"))
		return cli_usage_err(sub,
				     "a win: segment lives only while a "
				     "process holds it, so a heap made here "
				     "would vanish when shmkit exits; make it "
				     "in file:PATH (it persists), or create a "
				     "win: heap from your program");
#endif
	if (has_prefix(spec, "sysv:") && max > size)
		return cli_usage_err(sub, "a sysv: heap cannot grow (a System "
				     "V segment has a fixed size): drop --max, "
				     "or use posix: or file:");
	/* --max SIZE is no growth: 0 says so whatever the page rounding of
	 * SIZE (up) and of max_size (down) would make of two equal values. */
	ho.max_size = max > size ? max : 0;

	r = shmkit_heap_create(spec, (size_t)size, &ho, &h);
	if (r < 0) {
		/* The segment's reasons first (a full /dev/shm, a name taken,
		 * a malformed spec); what is left of -EINVAL is the heap's. */
		cli_create_why(&w, spec, size, 0, r);
		if (r == -EINVAL && !w.hint && !shmkit_spec_check(spec))
			w.hint = "a heap needs SIZE of at least 64K and "
				 "--max of at least SIZE, neither larger than "
				 "a heap can address";
		return cli_why_print(sub, spec, &w);
	}
	printf("%s\n", shmkit_spec(shmkit_heap_seg(h)));
	r = shmkit_heap_close(h);
	return r < 0 ? heap_err("create", spec, r, false) : CLI_OK;
}

/* -- stat ---------------------------------------------------------------- */

static const char stat_usage[] =
	"Usage: shmkit heap stat [--json] SPEC\n"
	"\n"
	"Describe a heap: its size and growth limit, the parts it has grown "
	"to, the\nbytes in use and free, its blocks and named objects, what "
	"processes hold in\ntheir caches and what dead ones left there, and "
	"how often it was repaired\nafter a crash. It walks the whole heap "
	"under its lock. This command counts\namong the processes that have "
	"the heap open while it runs.\n"
	"\n"
	"  --json       print one JSON object (sizes in bytes)\n"
	"  -h, --help   show this help\n";

static void print_bytes(const char *label, uint64_t n)
{
	char b[CLI_SIZE_BUF];

	printf("%-17s%llu (%s)\n", label, (unsigned long long)n,
	       cli_format_size(n, b));
}

static void print_count(const char *label, uint64_t n)
{
	printf("%-17s%llu\n", label, (unsigned long long)n);
}

static void print_stat(const char *spec, const shmkit_heap_info *in)
{
	char shown[SHMKIT_SPEC_MAX];

	cli_printable(spec, shown, sizeof(shown));
	printf("%-17s%s\n", "spec:", shown);
	print_bytes("size:", in->size);
	print_bytes("max size:", in->max_size);
	print_count("parts:", in->parts);
	print_bytes("used:", in->used);
	print_bytes("free:", in->free);
	print_bytes("largest free:", in->largest_free);
	print_count("allocations:", in->allocations);
	print_count("named:", in->named);
	print_bytes("cached:", in->cached);
	print_bytes("lost bytes:", in->lost_bytes);
	print_bytes("reclaimed bytes:", in->reclaimed_bytes);
	print_count("recoveries:", in->recoveries);
	print_count("procs:", in->procs);
}

static void json_stat(const char *spec, const shmkit_heap_info *in)
{
	fputs("{\"spec\": ", stdout);
	cli_json_string(stdout, spec);
	printf(", \"size\": %llu, \"max_size\": %llu, \"parts\": %u",
	       (unsigned long long)in->size, (unsigned long long)in->max_size,
	       in->parts);
	printf(", \"used\": %llu, \"free\": %llu, \"largest_free\": %llu",
	       (unsigned long long)in->used, (unsigned long long)in->free,
	       (unsigned long long)in->largest_free);
	printf(", \"allocations\": %llu, \"named\": %llu, \"cached\": %llu",
	       (unsigned long long)in->allocations,
	       (unsigned long long)in->named, (unsigned long long)in->cached);
	printf(", \"lost_bytes\": %llu, \"reclaimed_bytes\": %llu",
	       (unsigned long long)in->lost_bytes,
	       (unsigned long long)in->reclaimed_bytes);
	printf(", \"recoveries\": %llu, \"procs\": %u}\n",
	       (unsigned long long)in->recoveries, in->procs);
}

static int heap_stat(int argc, char **argv)
{
	const char *sub = "heap stat", *spec = NULL;
	shmkit_heap_info in;
	shmkit_heap *h;
	bool json = false;
	int r;

	r = simple_args(argc, argv, sub, stat_usage, &spec, 1, "SPEC", &json);
	if (r)
		return r < 0 ? CLI_OK : r;
	r = shmkit_heap_open(spec, 0, &h);
	if (r < 0)
		return heap_err("stat", spec, r, true);
	r = shmkit_heap_stat(h, &in);
	if (r == 0) {
		const char *canon = shmkit_spec(shmkit_heap_seg(h));
		if (json)
			json_stat(canon, &in);
		else
			print_stat(canon, &in);
	}
	if (r < 0) {
		shmkit_heap_close(h);
		return heap_err("stat", spec, r, false);
	}
	r = shmkit_heap_close(h);
	return r < 0 ? heap_err("stat", spec, r, false) : CLI_OK;
}

/* -- ls ------------------------------------------------------------------ */

static const char ls_usage[] =
	"Usage: shmkit heap ls [--json] SPEC\n"
	"\n"
	"List a heap's named objects, sorted by name: NAME, SIZE (the bytes "
	"asked for\nwhen it was made, which 'shmkit heap get' must repeat) and "
	"REF (the ref a\nprogram gets from shmkit_heap_find(), in hex).\n"
	"\n"
	"  --json       print a JSON array, one object per name (refs as hex "
	"strings)\n"
	"  -h, --help   show this help\n";

typedef struct named {
	char *name;
	shmkit_ref ref;
	size_t size;
} named;

typedef struct namelist {
	named *v;
	size_t n, cap;
} namelist;

/* Called under the heap's lock: copy, and nothing else. */
static int collect(const char *name, shmkit_ref ref, size_t size, void *arg)
{
	namelist *l = arg;
	char *copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		named *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	l->v[l->n].name = copy;
	l->v[l->n].ref = ref;
	l->v[l->n].size = size;
	l->n++;
	return 0;
}

static int cmp_named(const void *a, const void *b)
{
	return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static void free_names(namelist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

static int print_names(const namelist *l)
{
	cli_table t;
	size_t i;
	int r;

	cli_table_init(&t, 3, "lrl");
	cli_table_add(&t, (const char *const[]){"NAME", "SIZE", "REF"});
	for (i = 0; i < l->n; i++) {
		char name[SHMKIT_HEAP_NAME_MAX + 1], size[24], ref[24];
		cli_printable(l->v[i].name, name, sizeof(name));
		snprintf(size, sizeof(size), "%zu", l->v[i].size);
		snprintf(ref, sizeof(ref), "0x%016llx",
			 (unsigned long long)l->v[i].ref);
		cli_table_add(&t, (const char *const[]){name, size, ref});
	}
	r = cli_table_print(&t, stdout, 0);
	cli_table_free(&t);
	return r < 0 ? cli_err("heap ls", r) : CLI_OK;
}

static void json_names(const namelist *l)
{
	size_t i;

	if (l->n == 0) {
		puts("[]");
		return;
	}
	puts("[");
	for (i = 0; i < l->n; i++) {
		fputs("  {\"name\": ", stdout);
		cli_json_string(stdout, l->v[i].name);
		printf(", \"size\": %zu, \"ref\": \"0x%016llx\"}%s\n",
		       l->v[i].size, (unsigned long long)l->v[i].ref,
		       i + 1 < l->n ? "," : "");
	}
	puts("]");
}

static int heap_ls(int argc, char **argv)
{
	const char *sub = "heap ls", *spec = NULL;
	namelist l = {0};
	shmkit_heap *h;
	bool json = false;
	int r, status = CLI_OK;

	r = simple_args(argc, argv, sub, ls_usage, &spec, 1, "SPEC", &json);
	if (r)
		return r < 0 ? CLI_OK : r;
	r = shmkit_heap_open(spec, 0, &h);
	if (r < 0)
		return heap_err("ls", spec, r, true);
	r = shmkit_heap_names(h, collect, &l);
	if (r < 0) {
		status = heap_err("ls", spec, r, false);
	} else {
		if (l.n > 1)
			qsort(l.v, l.n, sizeof(*l.v), cmp_named);
		if (json)
			json_names(&l);
		else
			status = print_names(&l);
	}
	free_names(&l);
	r = shmkit_heap_close(h);
	if (r < 0 && status == CLI_OK)
		status = heap_err("ls", spec, r, false);
	return status;
}

/* -- check --------------------------------------------------------------- */

static const char check_usage[] =
	"Usage: shmkit heap check SPEC\n"
	"\n"
	"Check a heap through and through: every block of every part, the "
	"free lists,\nthe named objects and the counters. Prints 'ok' if it is "
	"sound; otherwise\nsays what it found first and exits 1.\n"
	"\n"
	"  -h, --help   show this help\n";

static int heap_check(int argc, char **argv)
{
	const char *sub = "heap check", *spec = NULL;
	char why[CLI_WHY_BUF];
	shmkit_heap *h;
	int r;

	r = simple_args(argc, argv, sub, check_usage, &spec, 1, "SPEC", NULL);
	if (r)
		return r < 0 ? CLI_OK : r;
	r = shmkit_heap_open(spec, 0, &h);
	if (r < 0)
		return heap_err("check", spec, r, true);
	why[0] = '\0';
	r = shmkit_heap_check(h, why, sizeof(why));
	shmkit_heap_close(h);
	if (r == -EPROTO) {
		cli_why w = {.why = why[0] ? why : "the heap is damaged",
			     .hint = why[0] ? "the heap is damaged" : NULL};
		return cli_why_print(sub, spec, &w);
	}
	if (r < 0)
		return heap_err("check", spec, r, false);
	puts("ok");
	return CLI_OK;
}

/* -- get ----------------------------------------------------------------- */

static const char get_usage[] =
	"Usage: shmkit heap get SPEC NAME SIZE\n"
	"\n"
	"Find the named object NAME, or make it (SIZE bytes, zeroed), as "
	"shmkit_heap_get()\ndoes, and print its ref in hex and whether this "
	"call 'created' it or it\n'existed'. An object that exists with "
	"another SIZE is an error.\n"
	"\n"
	"  -h, --help   show this help\n";

static int heap_get(int argc, char **argv)
{
	const char *sub = "heap get", *ops[3];
	shmkit_heap *h;
	shmkit_ref ref;
	uint64_t size;
	size_t had;
	int r, status = CLI_OK;

	r = simple_args(argc, argv, sub, get_usage, ops, 3,
			"SPEC, NAME and SIZE", NULL);
	if (r)
		return r < 0 ? CLI_OK : r;
	r = name_arg(sub, ops[1]);
	if (r)
		return r;
	r = cli_size_arg(sub, "SIZE", ops[2], false, &size);
	if (r)
		return r;
	if (size == 0)
		return cli_usage_err(sub, "SIZE must be a positive number of "
				     "bytes: 0 is not");
	r = shmkit_heap_open(ops[0], 0, &h);
	if (r < 0)
		return heap_err("get", ops[0], r, true);
	r = shmkit_heap_get(h, ops[1], (size_t)size, &ref);
	if (r >= 0) {
		printf("0x%016llx %s\n", (unsigned long long)ref,
		       r == 1 ? "created" : "existed");
	} else if (r == -EEXIST) {
		char name[SHMKIT_HEAP_NAME_MAX + 1], hint[CLI_HINT_BUF];
		cli_why w = {.why = "an object of that name exists with "
				    "another size",
			     .hint = "'shmkit heap ls SPEC' lists the names "
				     "and their sizes"};
		cli_printable(ops[1], name, sizeof(name));
		if (shmkit_heap_find(h, ops[1], NULL, &had) == 0) {
			snprintf(hint, sizeof(hint), "'%s' is %zu bytes, not "
				 "%llu", name, had, (unsigned long long)size);
			w.hint = hint;
		}
		status = cli_why_print(sub, ops[0], &w);
	} else {
		status = heap_err("get", ops[0], r, false);
	}
	r = shmkit_heap_close(h);
	if (r < 0 && status == CLI_OK)
		status = heap_err("get", ops[0], r, false);
	return status;
}

/* -- unname -------------------------------------------------------------- */

static const char unname_usage[] =
	"Usage: shmkit heap unname SPEC NAME\n"
	"\n"
	"Remove the name NAME and free its object, as shmkit_heap_unname() "
	"does. A\nprogram that still uses the object's ref uses freed "
	"memory.\n"
	"\n"
	"  -h, --help   show this help\n";

static int heap_unname(int argc, char **argv)
{
	const char *sub = "heap unname", *ops[2];
	shmkit_heap *h;
	int r, status = CLI_OK;

	r = simple_args(argc, argv, sub, unname_usage, ops, 2, "SPEC and NAME",
			NULL);
	if (r)
		return r < 0 ? CLI_OK : r;
	r = name_arg(sub, ops[1]);
	if (r)
		return r;
	r = shmkit_heap_open(ops[0], 0, &h);
	if (r < 0)
		return heap_err("unname", ops[0], r, true);
	r = shmkit_heap_unname(h, ops[1]);
	if (r == -ENOENT) {
		char name[SHMKIT_HEAP_NAME_MAX + 1], hint[CLI_HINT_BUF];
		cli_why w = {.why = "no object of that name", .hint = hint};
		cli_printable(ops[1], name, sizeof(name));
		snprintf(hint, sizeof(hint), "nothing is named '%s'; 'shmkit "
			 "heap ls SPEC' lists the names", name);
		status = cli_why_print(sub, ops[0], &w);
	} else if (r < 0) {
		status = heap_err("unname", ops[0], r, false);
	}
	r = shmkit_heap_close(h);
	if (r < 0 && status == CLI_OK)
		status = heap_err("unname", ops[0], r, false);
	return status;
}

/* -- rm ------------------------------------------------------------------ */

static const char rm_usage[] =
	"Usage: shmkit heap rm SPEC...\n"
	"\n"
	"Remove heaps. A segment that does not hold a heap is left alone (use "
	"'shmkit\nrm' for that). Processes that have the heap open keep using "
	"it until they\nclose it; nobody new can open it.\n"
	"\n"
	"  -h, --help   show this help\n";

static int heap_rm(int argc, char **argv)
{
	enum { O_HELP = 1 };
	static const cli_opt opts[] = {
		{"help", 'h', false, O_HELP},
		{NULL, 0, false, 0},
	};
	const char *sub = "heap rm";
	cli_args a;
	int o, r, n = 0, status = CLI_OK;

	/* Options first, so "rm a --bogus" removes nothing. */
	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		if (o == CLI_ARG_BAD)
			return CLI_USAGE;
		if (o == O_HELP) {
			fputs(rm_usage, stdout);
			return CLI_OK;
		}
		n += o == CLI_ARG_OPERAND;
	}
	if (!n)
		return cli_usage_err(sub, "expected SPEC");
	cli_args_init(&a, argc, argv);
	a.cmd = sub;
	while ((o = cli_next(&a, opts)) != CLI_ARG_END) {
		shmkit_heap *h;

		if (o != CLI_ARG_OPERAND)
			continue;
#ifdef _WIN32
		/* Destroying one only closes our handle: say it stays. */
		if (has_prefix(a.arg, "win:")) {
			r = shmkit_heap_probe(a.arg);
			status = heap_err("rm", a.arg,
					  r < 0 ? r : r ? -ENOTSUP : -EPROTO,
					  true);
			continue;
		}
#endif
		r = shmkit_heap_open(a.arg, 0, &h);
		if (r < 0) {
			status = heap_err("rm", a.arg, r, true);
			continue;
		}
		r = shmkit_heap_destroy(h);
		if (r < 0)
			status = heap_err("rm", a.arg, r, false);
	}
	return status;
}

/* -- dispatch ------------------------------------------------------------ */

static const char heap_usage[] =
	"Usage: shmkit heap COMMAND SPEC [ARGS...]\n"
	"\n"
	"Heaps: allocators inside a shared memory segment, with named objects, "
	"that\ngrow while in use. Programs use them through shmkit_heap_*(); "
	"this looks at\nthem and makes and removes them.\n"
	"\n"
	"Commands:\n"
	"  create   make a heap: create SPEC SIZE [--max SIZE]\n"
	"  stat     describe a heap: sizes, use, parts, processes\n"
	"  ls       list a heap's named objects\n"
	"  check    check a heap's every block; 'ok' or what is wrong\n"
	"  get      find or make a named object: get SPEC NAME SIZE\n"
	"  unname   remove a named object: unname SPEC NAME\n"
	"  rm       remove a heap\n"
	"\n"
	"For example:\n"
#ifdef _WIN32
	"  shmkit heap create 'file:C:\\cache.heap' 1M --max 64M\n"
	"  shmkit heap get 'file:C:\\cache.heap' config 4096\n"
	"  shmkit heap ls 'file:C:\\cache.heap'\n"
#else
	"  shmkit heap create posix:/cache 1M --max 64M\n"
	"  shmkit heap get posix:/cache config 4096\n"
	"  shmkit heap ls posix:/cache\n"
#endif
	"\n"
	"'shmkit heap COMMAND --help' tells more.\n";

int cmd_heap(int argc, char **argv)
{
	static const cli_sub subs[] = {
		{"create", heap_create}, {"stat", heap_stat},
		{"ls", heap_ls},         {"check", heap_check},
		{"get", heap_get},       {"unname", heap_unname},
		{"rm", heap_rm},
	};

	return cli_dispatch("heap", subs, sizeof(subs) / sizeof(subs[0]),
			    heap_usage, argc, argv);
}
