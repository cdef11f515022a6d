/*
 * spec.c: the segment spec parser.
 *
 * A pure function from a string to a shmkit__spec: it reads nothing on the
 * host and writes nothing but its output, so it can be fuzzed on its own.
 * Numbers are strict (digits only, no sign, no spaces, overflow refused) so
 * that "sysv:12 " or "fd:-1" is an error rather than a surprise.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

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

static int copy_name(char *dst, const char *src, size_t max)
{
	size_t n = strlen(src);
	if (n > max)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

static int parse_posix(const char *name, shmkit__spec *sp)
{
	/* shm_open(3): one leading '/', then up to NAME_MAX bytes, no '/'. */
	if (name[0] != '/' || name[1] == '\0')
		return -EINVAL;
	if (strchr(name + 1, '/'))
		return -EINVAL;
	if (!strcmp(name + 1, ".") || !strcmp(name + 1, ".."))
		return -EINVAL;
	if (strlen(name + 1) > SHMKIT__POSIX_NAME_MAX)
		return -ENAMETOOLONG;
	sp->backend = SHMKIT_BACKEND_POSIX;
	return copy_name(sp->name, name, sizeof(sp->name) - 1);
}

static int parse_sysv(const char *rest, shmkit__spec *sp)
{
	unsigned long long v = 0;
	const char *hash;
	int r;

	sp->backend = SHMKIT_BACKEND_SYSV;
	if (!strncmp(rest, "id=", 3)) {
		r = parse_u64(rest + 3, 0, INT_MAX, &v);
		if (r < 0)
			return r;
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
			return -EINVAL;
		if (plen >= sizeof(sp->name))
			return -ENAMETOOLONG;
		memcpy(sp->name, rest, plen);
		sp->name[plen] = '\0';
		sp->by_ftok = true;
		sp->proj = (int)v;
		return 0;
	}
	r = parse_u64(rest, 1, 0xffffffffull, &v);
	if (r < 0)
		return r;
	if (v == 0) /* IPC_PRIVATE is spelt "sysv:private" */
		return -EINVAL;
	sp->key = (key_t)(uint32_t)v;
	return 0;
}

int shmkit__spec_parse(const char *spec, shmkit__spec *out)
{
	shmkit__spec sp;
	unsigned long long v = 0;
	const char *colon;
	size_t plen;
	int r;

	if (!spec || !*spec || !out)
		return -EINVAL;
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
		r = parse_posix(spec, &sp);
		goto done;
	}
	colon = strchr(spec, ':');
	if (!colon)
		return -EINVAL;
	plen = (size_t)(colon - spec);
	const char *rest = colon + 1;

#define PREFIX(p) (plen == sizeof(p) - 1 && !memcmp(spec, p, plen))
	if (PREFIX("posix")) {
		r = parse_posix(rest, &sp);
	} else if (PREFIX("sysv")) {
		r = parse_sysv(rest, &sp);
	} else if (PREFIX("file")) {
		if (!*rest)
			return -EINVAL;
		sp.backend = SHMKIT_BACKEND_FILE;
		r = copy_name(sp.name, rest, sizeof(sp.name) - 1);
	} else if (PREFIX("memfd")) {
		sp.backend = SHMKIT_BACKEND_MEMFD;
		r = copy_name(sp.name, rest, SHMKIT__MEMFD_NAME_MAX);
	} else if (PREFIX("fd")) {
		r = parse_u64(rest, 0, INT_MAX, &v);
		sp.backend = SHMKIT_BACKEND_FD;
		sp.fd = (int)v;
	} else if (PREFIX("anon")) {
		sp.backend = SHMKIT_BACKEND_ANON;
		r = copy_name(sp.name, rest, SHMKIT__MEMFD_NAME_MAX);
	} else if (PREFIX("win")) {
		if (!*rest)
			return -EINVAL;
		sp.backend = SHMKIT_BACKEND_WIN;
		r = copy_name(sp.name, rest, SHMKIT__POSIX_NAME_MAX);
	} else {
		return -EINVAL;
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
