/*
 * spec.c: the segment spec parser.
 *
 * A pure function from a string to a shmkit__spec: it reads nothing on the
 * host and writes nothing but its output, so it can be fuzzed on its own.
 * Numbers are strict (digits only, no sign, no spaces, overflow refused) so
 * that "sysv:12 " or "fd:-1" is an error rather than a surprise.
 *
 * Every rejection names the rule it applied (a why_* phrase below), and
 * shmkit_spec_check() hands that phrase to the user: the explanation comes
 * from the very line that refused the spec, so it cannot drift from the
 * rules. The hot path pays one pointer store, on failure only.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* The limits below are spelt in the phrases as numbers. */
_Static_assert(INT_MAX == 2147483647, "ids and descriptors are 31-bit");

static const char why_null[] = "no spec given";
static const char why_empty[] = "the spec is empty";
static const char why_form[] =
	"a spec is BACKEND:NAME (posix:/name, sysv:KEY, sysv:id=N, "
	"sysv:PATH#PROJ, sysv:private, file:PATH, memfd:NAME, fd:N, anon:), "
	"or /name for posix";
static const char why_backend[] =
	"the backend before ':' is none of posix, sysv, file, memfd, fd, anon "
	"and win (in lower case)";
static const char why_posix[] =
	"a posix: name is '/' followed by 1 to " STR(SHMKIT__POSIX_NAME_MAX)
	" characters, none of them '/'";
static const char why_posix_dot[] = "a posix: name cannot be '/.' or '/..'";
static const char why_sysv_key[] =
	"a sysv: key is a number from 1 to 0xffffffff, decimal or hex after "
	"0x (or use sysv:id=N, sysv:PATH#PROJ or sysv:private)";
static const char why_sysv_zero[] =
	"sysv key 0 is IPC_PRIVATE, which is spelt sysv:private";
static const char why_sysv_id[] =
	"sysv:id=N takes a decimal id from 0 to 2147483647, as 'ipcs -m' "
	"shows it";
static const char why_ftok[] =
	"sysv:PATH#PROJ takes a path, then '#' and a decimal project number "
	"from 1 to 255";
static const char why_ftok_long[] =
	"the PATH of sysv:PATH#PROJ must be shorter than PATH_MAX "
	"(" STR(PATH_MAX) " bytes)";
static const char why_file[] = "file: needs a path, as in file:/dev/shm/name";
static const char why_file_long[] =
	"a file: path must be shorter than PATH_MAX (" STR(PATH_MAX) " bytes)";
static const char why_memfd_long[] =
	"a memfd: name is at most " STR(SHMKIT__MEMFD_NAME_MAX)
	" bytes (memfd_create's limit)";
static const char why_anon_long[] =
	"an anon: label is at most " STR(SHMKIT__MEMFD_NAME_MAX) " bytes";
static const char why_fd[] =
	"fd:N takes a decimal descriptor number from 0 to 2147483647";
static const char why_win[] = "win: needs a name";
static const char why_win_slash[] =
	"a win: name holds no '\\' but after a leading Global\\ or Local\\ "
	"(the namespace), and needs a name after it";
static const char why_win_long[] =
	"a win: name is at most " STR(SHMKIT__POSIX_NAME_MAX) " bytes";

/* Refuse with err, naming the rule. */
static int refuse(const char **why, const char *rule, int err)
{
	*why = rule;
	return err;
}

/* Parse an unsigned number: decimal, or hex after "0x". Strict. */
static int parse_u64(const char *s, int allow_hex, unsigned long long max,
		     unsigned long long *out)
{
	unsigned long long v = 0;
	unsigned base = 10;

	if (allow_hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (v > (max - d) / base)
			return -EINVAL;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static int copy_name(char *dst, const char *src, size_t max,
		     const char **why, const char *too_long)
{
	size_t n = strlen(src);
	if (n > max)
		return refuse(why, too_long, -ENAMETOOLONG);
	memcpy(dst, src, n + 1);
	return 0;
}

static int parse_posix(const char *name, shmkit__spec *sp, const char **why)
{
	/* shm_open(3): one leading '/', then up to NAME_MAX bytes, no '/'. */
	if (name[0] != '/' || name[1] == '\0')
		return refuse(why, why_posix, -EINVAL);
	if (strchr(name + 1, '/'))
		return refuse(why, why_posix, -EINVAL);
	if (!strcmp(name + 1, ".") || !strcmp(name + 1, ".."))
		return refuse(why, why_posix_dot, -EINVAL);
	if (strlen(name + 1) > SHMKIT__POSIX_NAME_MAX)
		return refuse(why, why_posix, -ENAMETOOLONG);
	sp->backend = SHMKIT_BACKEND_POSIX;
	return copy_name(sp->name, name, sizeof(sp->name) - 1, why, why_posix);
}

static int parse_sysv(const char *rest, shmkit__spec *sp, const char **why)
{
	unsigned long long v = 0;
	const char *hash;
	int r;

	sp->backend = SHMKIT_BACKEND_SYSV;
	if (!strncmp(rest, "id=", 3)) {
		r = parse_u64(rest + 3, 0, INT_MAX, &v);
		if (r < 0)
			return refuse(why, why_sysv_id, r);
		sp->by_id = true;
		sp->shmid = (int)v;
		return 0;
	}
	if (!strcmp(rest, "private")) {
		sp->key = IPC_PRIVATE;
		return 0;
	}
	hash = strrchr(rest, '#');
	if (hash) {
		size_t plen = (size_t)(hash - rest);
		r = parse_u64(hash + 1, 0, 255, &v);
		if (r < 0 || v == 0 || plen == 0)
			return refuse(why, why_ftok, -EINVAL);
		if (plen >= sizeof(sp->name))
			return refuse(why, why_ftok_long, -ENAMETOOLONG);
		memcpy(sp->name, rest, plen);
		sp->name[plen] = '\0';
		sp->by_ftok = true;
		sp->proj = (int)v;
		return 0;
	}
	r = parse_u64(rest, 1, 0xffffffffull, &v);
	if (r < 0)
		return refuse(why, why_sysv_key, r);
	if (v == 0) /* IPC_PRIVATE is spelt "sysv:private" */
		return refuse(why, why_sysv_zero, -EINVAL);
	sp->key = (key_t)(uint32_t)v;
	return 0;
}

/* The parser proper; on failure *why names the rule the spec broke. */
static int parse(const char *spec, shmkit__spec *out, const char **why)
{
	shmkit__spec sp;
	unsigned long long v = 0;
	const char *colon;
	size_t plen;
	int r;

	if (!spec)
		return refuse(why, why_null, -EINVAL);
	if (!*spec)
		return refuse(why, why_empty, -EINVAL);
	/* Not memset: name[] is PATH_MAX bytes, and every create and attach
	 * comes through here. Only the used prefix of name is ever read. */
	sp.backend = SHMKIT_BACKEND_NONE;
	sp.name[0] = '\0';
	sp.key = 0;
	sp.shmid = -1;
	sp.proj = 0;
	sp.by_id = false;
	sp.by_ftok = false;
	sp.fd = -1;

	if (spec[0] == '/') {
		r = parse_posix(spec, &sp, why);
		goto done;
	}
	colon = strchr(spec, ':');
	if (!colon)
		return refuse(why, why_form, -EINVAL);
	plen = (size_t)(colon - spec);
	const char *rest = colon + 1;

#define PREFIX(p) (plen == sizeof(p) - 1 && !memcmp(spec, p, plen))
	if (PREFIX("posix")) {
		r = parse_posix(rest, &sp, why);
	} else if (PREFIX("sysv")) {
		r = parse_sysv(rest, &sp, why);
	} else if (PREFIX("file")) {
		if (!*rest)
			return refuse(why, why_file, -EINVAL);
		sp.backend = SHMKIT_BACKEND_FILE;
		r = copy_name(sp.name, rest, sizeof(sp.name) - 1, why,
			      why_file_long);
	} else if (PREFIX("memfd")) {
		sp.backend = SHMKIT_BACKEND_MEMFD;
		r = copy_name(sp.name, rest, SHMKIT__MEMFD_NAME_MAX, why,
			      why_memfd_long);
	} else if (PREFIX("fd")) {
		r = parse_u64(rest, 0, INT_MAX, &v);
		if (r < 0)
			return refuse(why, why_fd, r);
		sp.backend = SHMKIT_BACKEND_FD;
		sp.fd = (int)v;
	} else if (PREFIX("anon")) {
		sp.backend = SHMKIT_BACKEND_ANON;
		r = copy_name(sp.name, rest, SHMKIT__MEMFD_NAME_MAX, why,
			      why_anon_long);
	} else if (PREFIX("win")) {
		const char *base = rest;

		if (!*rest)
			return refuse(why, why_win, -EINVAL);
		/* Windows object names: a namespace, then one component. */
		if (!strncmp(base, "Global\\", 7))
			base += 7;
		else if (!strncmp(base, "Local\\", 6))
			base += 6;
		if (!*base || strchr(base, '\\'))
			return refuse(why, why_win_slash, -EINVAL);
		sp.backend = SHMKIT_BACKEND_WIN;
		r = copy_name(sp.name, rest, SHMKIT__POSIX_NAME_MAX, why,
			      why_win_long);
	} else {
		return refuse(why, why_backend, -EINVAL);
	}
#undef PREFIX
done:
	if (r < 0)
		return r;
	out->backend = sp.backend;
	out->key = sp.key;
	out->shmid = sp.shmid;
	out->proj = sp.proj;
	out->by_id = sp.by_id;
	out->by_ftok = sp.by_ftok;
	out->fd = sp.fd;
	memcpy(out->name, sp.name, strlen(sp.name) + 1);
	return 0;
}

int shmkit__spec_parse(const char *spec, shmkit__spec *out)
{
	const char *why;

	if (!out)
		return -EINVAL;
	return parse(spec, out, &why);
}

const char *shmkit_spec_check(const char *spec)
{
	shmkit__spec sp;
	const char *why = NULL;

	return parse(spec, &sp, &why) < 0 ? why : NULL;
}

/* prefix + name into buf, without snprintf's cost on the hot path. */
static int join(char *buf, size_t len, const char *prefix, const char *name)
{
	size_t p = strlen(prefix), n = strlen(name);

	if (p + n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, prefix, p);
	memcpy(buf + p, name, n + 1);
	return (int)(p + n);
}

int shmkit__spec_format(const shmkit__spec *sp, char *buf, size_t len)
{
	int n;

	switch (sp->backend) {
	case SHMKIT_BACKEND_POSIX:
		return join(buf, len, "posix:", sp->name);
	case SHMKIT_BACKEND_SYSV:
		if (sp->by_id)
			n = snprintf(buf, len, "sysv:id=%d", sp->shmid);
		else if (sp->by_ftok)
			n = snprintf(buf, len, "sysv:%s#%d", sp->name, sp->proj);
		else if (sp->key == IPC_PRIVATE)
			n = snprintf(buf, len, "sysv:private");
		else
			n = snprintf(buf, len, "sysv:0x%08x", (unsigned)sp->key);
		break;
	case SHMKIT_BACKEND_FILE:
		return join(buf, len, "file:", sp->name);
	case SHMKIT_BACKEND_MEMFD:
		return join(buf, len, "memfd:", sp->name);
	case SHMKIT_BACKEND_FD:
		n = snprintf(buf, len, "fd:%d", sp->fd);
		break;
	case SHMKIT_BACKEND_ANON:
		return join(buf, len, "anon:", sp->name);
	case SHMKIT_BACKEND_WIN:
		return join(buf, len, "win:", sp->name);
	default:
		return -EINVAL;
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}
