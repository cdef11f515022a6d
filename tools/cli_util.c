/*
 * cli_util.c: messages, number parsing, option parsing and formatting for
 * the `shmkit` tool.
 *
 * Sizes are parsed exactly, in integers: "1.5M" is 3 * 2^19, and a fraction
 * that does not come to whole bytes ("1.1K") is refused rather than rounded,
 * since a segment size that silently differs from what was typed is worse
 * than an error. Option parsing is our own (not getopt) so that every
 * subcommand reports unknown options in the same "shmkit: <cmd>: ..." form
 * and exits 2.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* -- Messages ------------------------------------------------------------ */

int cli_err(const char *what, int err)
{
	fprintf(stderr, "shmkit: %s: %s\n", what, shmkit_strerror(err));
	return CLI_FAIL;
}

static void vmsg(const char *fmt, va_list ap)
{
	fputs("shmkit: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_errf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

void cli_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(status);
}

int cli_not_here(const char *cmd, const char *why)
{
	return cli_errf("%s: not available on Windows: %s", cmd, why);
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "shmkit: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'shmkit %s --help'.\n", cmd);
	return CLI_USAGE;
}

/* -- Numbers and sizes --------------------------------------------------- */

static int suffix_shift(const char *s, unsigned *shift)
{
	static const char units[] = "KMGTPE";
	const char *u;

	if (*s == '\0' || ((s[0] == 'b' || s[0] == 'B') && s[1] == '\0')) {
		*shift = 0;
		return 0;
	}
	u = strchr(units, s[0] >= 'a' && s[0] <= 'z' ? s[0] - 'a' + 'A' : s[0]);
	if (!u || !*u)
		return -EINVAL;
	*shift = 10u * (unsigned)(u - units + 1);
	s++;
	if (*s == '\0' || ((s[0] == 'b' || s[0] == 'B') && s[1] == '\0'))
		return 0;
	if ((s[0] == 'i' || s[0] == 'I') && (s[1] == 'b' || s[1] == 'B') &&
	    s[2] == '\0')
		return 0;
	return -EINVAL;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	uint64_t whole = 0, frac = 0, den = 1, v;
	unsigned digits = 0, fdigits = 0, shift, d;
	int r;

	if (!s)
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		d = (unsigned)(*s - '0');
		if (whole > (UINT64_MAX - d) / 10)
			return -ERANGE;
		whole = whole * 10 + d;
	}
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++) {
			if (fdigits == 18) {
				if (*s != '0')
					return -EDOM; /* finer than a byte */
				continue;
			}
			frac = frac * 10 + (uint64_t)(*s - '0');
			fdigits++;
		}
		if (fdigits == 0)
			return -EINVAL;
	}
	if (digits == 0)
		return -EINVAL;
	r = suffix_shift(s, &shift);
	if (r < 0)
		return r;
	if (shift && whole > (UINT64_MAX >> shift))
		return -ERANGE;
	v = whole << shift;
	/* frac / 10^k * 2^shift in integers: drop trailing zeros, then
	 * 10^k = 5^k * 2^k, so the fraction is whole bytes exactly when frac
	 * is a multiple of 5^k (and of 2^(k-shift) when k > shift). */
	while (fdigits && frac % 10 == 0) {
		frac /= 10;
		fdigits--;
	}
	if (fdigits) {
		unsigned k;
		for (k = 0; k < fdigits; k++)
			den *= 5;
		if (fdigits > shift)
			den <<= fdigits - shift;
		if (frac % den)
			return -EDOM;
		frac /= den;
		if (shift > fdigits) {
			if (frac > (UINT64_MAX >> (shift - fdigits)))
				return -ERANGE;
			frac <<= shift - fdigits;
		}
		if (v > UINT64_MAX - frac)
			return -ERANGE;
		v += frac;
	}
	*out = v;
	return 0;
}

int cli_parse_mode(const char *s, unsigned *out)
{
	unsigned v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return -EINVAL;
		v = v * 8 + (unsigned)(*s - '0');
		if (v > 0777)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

const char *cli_format_size(uint64_t n, char buf[CLI_SIZE_BUF])
{
	static const char units[] = "KMGTPE";
	unsigned i = 0;
	uint64_t unit = 1024;

	if (n < 1024) {
		snprintf(buf, CLI_SIZE_BUF, "%lluB", (unsigned long long)n);
		return buf;
	}
	while (i + 1 < sizeof(units) - 1 && n / unit >= 1024) {
		unit *= 1024;
		i++;
	}
	if (n % unit == 0)
		snprintf(buf, CLI_SIZE_BUF, "%llu%c",
			 (unsigned long long)(n / unit), units[i]);
	else if (n / unit < 10)
		snprintf(buf, CLI_SIZE_BUF, "%.1f%c", (double)n / (double)unit,
			 units[i]);
	else
		snprintf(buf, CLI_SIZE_BUF, "%.0f%c", (double)n / (double)unit,
			 units[i]);
	return buf;
}

/* -- Option parsing ------------------------------------------------------ */

void cli_args_init(cli_args *a, int argc, char **argv)
{
	a->cmd = argc > 0 ? argv[0] : "shmkit";
	a->argc = argc;
	a->argv = argv;
	a->i = 1;
	a->no_more_opts = false;
	a->numbers_are_operands = false;
	a->arg = NULL;
}

static const cli_opt *find_long(const cli_opt *o, const char *name, size_t n)
{
	for (; o->name; o++)
		if (strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
	return NULL;
}

int cli_next(cli_args *a, const cli_opt *opts)
{
	const cli_opt *o;
	const char *s;

	a->arg = NULL;
	if (a->i >= a->argc)
		return CLI_ARG_END;
	s = a->argv[a->i++];
	if (a->no_more_opts || s[0] != '-' || s[1] == '\0' ||
	    (a->numbers_are_operands && s[1] >= '0' && s[1] <= '9')) {
		a->arg = s;
		return CLI_ARG_OPERAND;
	}
	if (!strcmp(s, "--")) {
		a->no_more_opts = true;
		return cli_next(a, opts);
	}
	if (s[1] == '-') {
		const char *eq = strchr(s + 2, '=');
		size_t n = eq ? (size_t)(eq - (s + 2)) : strlen(s + 2);
		o = find_long(opts, s + 2, n);
		if (!o)
			return cli_usage_err(a->cmd, "unknown option '%.*s'",
					     (int)(n + 2), s),
			       CLI_ARG_BAD;
		if (eq && !o->has_arg)
			return cli_usage_err(a->cmd,
					     "option '--%s' takes no value",
					     o->name),
			       CLI_ARG_BAD;
		if (eq) {
			a->arg = eq + 1;
			return o->id;
		}
	} else {
		for (o = opts; o->name && o->shortname != s[1]; o++)
			;
		if (!o->name)
			return cli_usage_err(a->cmd, "unknown option '-%c'",
					     s[1]),
			       CLI_ARG_BAD;
		if (s[2] != '\0') {
			if (!o->has_arg)
				return cli_usage_err(a->cmd,
						     "unknown option '%s'", s),
				       CLI_ARG_BAD;
			a->arg = s + 2;
			return o->id;
		}
	}
	if (o->has_arg) {
		if (a->i >= a->argc)
			return cli_usage_err(a->cmd,
					     "option '--%s' needs a value",
					     o->name),
			       CLI_ARG_BAD;
		a->arg = a->argv[a->i++];
	}
	return o->id;
}

/* -- Output helpers ------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and past U+10FFFF are not UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void cli_json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		size_t n;
		switch (*s) {
		case '"':
			fputs("\\\"", f);
			s++;
			continue;
		case '\\':
			fputs("\\\\", f);
			s++;
			continue;
		case '\n':
			fputs("\\n", f);
			s++;
			continue;
		case '\t':
			fputs("\\t", f);
			s++;
			continue;
		case '\r':
			fputs("\\r", f);
			s++;
			continue;
		}
		if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s);
			s++;
			continue;
		}
		n = utf8_len(s);
		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
	fputc('"', f);
}

const char *cli_format_time(int64_t t, char buf[CLI_TIME_BUF])
{
	struct tm tm;

	if (t == 0 || !cli_localtime(t, &tm) ||
	    !strftime(buf, CLI_TIME_BUF, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, CLI_TIME_BUF, "-");
	return buf;
}

void cli_printable(const char *s, char *buf, size_t len)
{
	size_t i;

	if (len == 0)
		return;
	for (i = 0; s[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	buf[i] = '\0';
}

void cli_appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*pos = (size_t)n >= len - *pos ? len - 1 : *pos + (size_t)n;
}

int cli_who_all(const char *spec, pid_t **ret_pids)
{
	pid_t *pids = NULL;
	size_t cap = 64;
	int n, tries;

	/* Processes come and go between calls: grow and ask again, a few
	 * times, then keep what the last answer fits. */
	for (tries = 0;; tries++) {
		pid_t *p = realloc(pids, cap * sizeof(*p));
		if (!p) {
			free(pids);
			return -ENOMEM;
		}
		pids = p;
		n = shmkit_who(spec, pids, cap);
		if (n < 0) {
			free(pids);
			return n;
		}
		if ((size_t)n <= cap || tries == 3)
			break;
		cap = (size_t)n + 16;
	}
	*ret_pids = pids;
	return (size_t)n > cap ? (int)cap : n;
}

void cli_table_init(cli_table *t, size_t ncols, const char *align)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->align = align;
}

void cli_table_add(cli_table *t, const char *const *cells)
{
	size_t i;

	if (t->oom)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c) {
			t->oom = true;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] ? cells[i] : "");
		if (!s) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			t->oom = true;
			return;
		}
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
}

/* Terminal columns taken by s: UTF-8 continuation bytes take none. */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

int cli_table_print(const cli_table *t, FILE *f, int indent)
{
	size_t *w, r, c;

	if (t->oom)
		return -ENOMEM;
	w = calloc(t->ncols ? t->ncols : 1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t n = text_width(t->cells[r * t->ncols + c]);
			if (n > w[c])
				w[c] = n;
		}
	for (r = 0; r < t->nrows; r++) {
		/* Spaces are owed and paid only before text, so no line ends
		 * in blanks when its last cells are empty. */
		size_t owed = (size_t)(indent > 0 ? indent : 0);
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t pad = w[c] - text_width(s);
			bool right = t->align && t->align[c] == 'r';

			if (right)
				owed += pad;
			if (*s) {
				fprintf(f, "%*s%s", (int)owed, "", s);
				owed = 0;
			}
			if (!right)
				owed += pad;
			owed += 2;
		}
		fputc('\n', f);
	}
	free(w);
	return 0;
}

void cli_table_free(cli_table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

int cli_dispatch(const char *group, const cli_sub *subs, size_t n,
		 const char *usage, int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return cli_usage_err(group, "expected a command");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	return cli_usage_err(group, "unknown command '%s'", argv[1]);
}

int cli_size_arg(const char *cmd, const char *what, const char *s,
		 bool zero_ok, uint64_t *out)
{
	int r = cli_parse_size(s, out);

	if (s[0] == '-')
		return cli_usage_err(cmd,
				     "%s must be %s, optionally with K, M, G, "
				     "T, P or E: '%s' is negative",
				     what,
				     zero_ok ? "a number of bytes, 0 or more"
					     : "a positive number of bytes",
				     s);
	if (r == -ERANGE)
		return cli_usage_err(cmd, "%s '%s' is too large (more than "
				     "16E, 2^64 - 1 bytes)", what, s);
	if (r == -EDOM)
		return cli_usage_err(cmd, "%s '%s' is not a whole number of "
				     "bytes", what, s);
	if (r < 0)
		return cli_usage_err(cmd,
				     "invalid %s '%s' (expected bytes, or a "
				     "number with K, M, G, T, P or E: 4096, "
				     "4K, 1.5M)",
				     what, s);
	return 0;
}
