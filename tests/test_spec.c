/*
 * test_spec.c: the segment spec parser and formatter, on their own.
 *
 * shmkit__spec_parse/shmkit__spec_format are hidden symbols; the tests link
 * the static library, where they are reachable. Every accepted form of the
 * table in shmkit.h is parsed and checked field by field, every rejection
 * must leave the output untouched, and format(parse(s)) must be canonical
 * and parse again to the same thing. shmkit_spec_check() must agree with
 * the parser on every one of them, and explain each refusal by its rule.
 */
#include "internal.h"
#include "test.h"

/* A byte pattern the parser never writes, to see that *out stayed put. */
#define POISON 0xa5

static void poison(shmkit__spec *sp)
{
	memset(sp, POISON, sizeof(*sp));
}

static int untouched(const shmkit__spec *sp)
{
	const unsigned char *p = (const unsigned char *)sp;
	size_t i;

	for (i = 0; i < sizeof(*sp); i++)
		if (p[i] != POISON)
			return 0;
	return 1;
}

static int same_spec(const shmkit__spec *a, const shmkit__spec *b)
{
	if (a->backend != b->backend || strcmp(a->name, b->name))
		return 0;
	switch (a->backend) {
	case SHMKIT_BACKEND_SYSV:
		if (a->by_id != b->by_id || a->by_ftok != b->by_ftok)
			return 0;
		if (a->by_id)
			return a->shmid == b->shmid;
		if (a->by_ftok)
			return a->proj == b->proj;
		return a->key == b->key;
	case SHMKIT_BACKEND_FD:
		return a->fd == b->fd;
	default:
		return 1;
	}
}

/* Parse s, which must be accepted, and return the result. */
static shmkit__spec parse_ok(const char *s)
{
	shmkit__spec sp;
	int r;

	poison(&sp);
	r = shmkit__spec_parse(s, &sp);
	if (r < 0)
		FAIL_("parse(\"%s\") refused: %s", s, shmkit_err_name(r));
	if (shmkit_spec_check(s))
		FAIL_("spec_check(\"%.60s\") refuses what parses: %s", s,
		      shmkit_spec_check(s));
	return sp;
}

/* A reason is one phrase: lower case first, no newline, no final stop. */
static void check_phrase(const char *s, const char *why)
{
	size_t n;

	if (!why)
		FAIL_("spec_check(\"%.60s\") accepts what parse refuses", s);
	n = strlen(why);
	if (n < 10 || strchr(why, '\n') || why[n - 1] == '.' ||
	    (why[0] >= 'A' && why[0] <= 'Z'))
		FAIL_("spec_check(\"%.60s\"): not a phrase: \"%s\"", s, why);
}

/* s must be refused with exactly -err and *out left alone. */
static void parse_bad(const char *s, int err)
{
	shmkit__spec sp;
	int r;

	poison(&sp);
	r = shmkit__spec_parse(s, &sp);
	if (r != -err)
		FAIL_("parse(\"%.60s%s\"): expected -%s, got %d (%s)", s,
		      strlen(s) > 60 ? "..." : "", shmkit_err_name(-err), r,
		      r < 0 ? shmkit_err_name(r) : "accepted");
	if (!untouched(&sp))
		FAIL_("parse(\"%.60s\") wrote its output on failure", s);
	check_phrase(s, shmkit_spec_check(s));
}

/* spec_check(s) names the rule: its text has every one of the words. */
static void says(const char *s, const char *w1, const char *w2)
{
	const char *why = shmkit_spec_check(s);

	check_phrase(s, why);
	if (!strstr(why, w1) || (w2 && !strstr(why, w2)))
		FAIL_("spec_check(\"%.60s\") = \"%s\": wanted \"%s\"%s%s%s", s,
		      why, w1, w2 ? " and \"" : "", w2 ? w2 : "",
		      w2 ? "\"" : "");
}

/* format(parse(s)) == canon, and canon parses to the same spec. */
static void round_trip(const char *s, const char *canon)
{
	shmkit__spec a = parse_ok(s), b;
	char buf[SHMKIT_SPEC_MAX];
	int n;

	n = shmkit__spec_format(&a, buf, sizeof(buf));
	if (n < 0)
		FAIL_("format(parse(\"%s\")): %s", s, shmkit_err_name(n));
	ASSERT_EQ(n, strlen(buf));
	if (strcmp(buf, canon))
		FAIL_("format(parse(\"%s\")) = \"%s\", want \"%s\"", s, buf,
		      canon);
	b = parse_ok(buf);
	if (!same_spec(&a, &b))
		FAIL_("\"%s\" and its canonical \"%s\" parse differently", s,
		      buf);
	/* Canonical is a fixed point. */
	n = shmkit__spec_format(&b, buf, sizeof(buf));
	ASSERT(n > 0);
	ASSERT(!strcmp(buf, canon));
}

/* A string of c repeated n times after prefix; static, one at a time. */
static const char *repeat(const char *prefix, char c, size_t n)
{
	static char buf[2 * PATH_MAX];
	size_t p = strlen(prefix);

	ASSERT(p + n < sizeof(buf));
	memcpy(buf, prefix, p);
	memset(buf + p, c, n);
	buf[p + n] = '\0';
	return buf;
}

static void posix_forms(void)
{
	shmkit__spec sp;

	sp = parse_ok("posix:/n");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_POSIX);
	ASSERT(!strcmp(sp.name, "/n"));
	sp = parse_ok("/n"); /* bare name: POSIX, as shm_open spells it */
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_POSIX);
	ASSERT(!strcmp(sp.name, "/n"));
	sp = parse_ok("posix:/a.b-c_d:e");
	ASSERT(!strcmp(sp.name, "/a.b-c_d:e"));
	sp = parse_ok("/...");
	ASSERT(!strcmp(sp.name, "/..."));
	/* NAME_MAX bytes after the slash is the longest a tmpfs name can be. */
	sp = parse_ok(repeat("posix:/", 'x', NAME_MAX));
	ASSERT_EQ(strlen(sp.name), NAME_MAX + 1);
	sp = parse_ok(repeat("/", 'x', NAME_MAX));
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_POSIX);
}

static void posix_rejects(void)
{
	parse_bad("posix:", EINVAL);
	parse_bad("posix:/", EINVAL);
	parse_bad("/", EINVAL);
	parse_bad("posix:n", EINVAL);  /* no leading '/' */
	parse_bad("posix:/a/b", EINVAL); /* a second '/' */
	parse_bad("/a/b", EINVAL);
	parse_bad("posix://a", EINVAL);
	parse_bad("posix:/a/", EINVAL);
	parse_bad("posix:/.", EINVAL);
	parse_bad("posix:/..", EINVAL);
	parse_bad("/.", EINVAL);
	parse_bad("/..", EINVAL);
	parse_bad(repeat("posix:/", 'x', NAME_MAX + 1), ENAMETOOLONG);
	parse_bad(repeat("/", 'x', NAME_MAX + 1), ENAMETOOLONG);
	parse_bad(repeat("/", 'x', PATH_MAX + 10), ENAMETOOLONG);
}

static void sysv_forms(void)
{
	shmkit__spec sp;

	sp = parse_ok("sysv:1234");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_SYSV);
	ASSERT(!sp.by_id && !sp.by_ftok);
	ASSERT_EQ(sp.key, 1234);
	sp = parse_ok("sysv:0x5348abcd");
	ASSERT_EQ((uint32_t)sp.key, 0x5348abcdu);
	sp = parse_ok("sysv:0X5348ABCD");
	ASSERT_EQ((uint32_t)sp.key, 0x5348abcdu);
	sp = parse_ok("sysv:0xffffffff"); /* the top of the key space */
	ASSERT_EQ((uint32_t)sp.key, 0xffffffffu);
	sp = parse_ok("sysv:4294967295");
	ASSERT_EQ((uint32_t)sp.key, 0xffffffffu);
	sp = parse_ok("sysv:1");
	ASSERT_EQ(sp.key, 1);

	sp = parse_ok("sysv:id=7");
	ASSERT(sp.by_id && !sp.by_ftok);
	ASSERT_EQ(sp.shmid, 7);
	sp = parse_ok("sysv:id=0");
	ASSERT(sp.by_id);
	ASSERT_EQ(sp.shmid, 0);
	sp = parse_ok("sysv:id=2147483647");
	ASSERT_EQ(sp.shmid, 2147483647);

	sp = parse_ok("sysv:/tmp/x#1");
	ASSERT(sp.by_ftok && !sp.by_id);
	ASSERT(!strcmp(sp.name, "/tmp/x"));
	ASSERT_EQ(sp.proj, 1);
	sp = parse_ok("sysv:/p#255");
	ASSERT_EQ(sp.proj, 255);
	sp = parse_ok("sysv:/a#b#9"); /* the last '#' separates the project */
	ASSERT(!strcmp(sp.name, "/a#b"));
	ASSERT_EQ(sp.proj, 9);

	sp = parse_ok("sysv:private");
	ASSERT(!sp.by_id && !sp.by_ftok);
	ASSERT_EQ(sp.key, IPC_PRIVATE);
}

static void sysv_rejects(void)
{
	parse_bad("sysv:", EINVAL);
	parse_bad("sysv:0", EINVAL); /* IPC_PRIVATE is spelt "private" */
	parse_bad("sysv:0x0", EINVAL);
	parse_bad("sysv:0x", EINVAL);
	parse_bad("sysv:0x100000000", EINVAL); /* past 32 bits */
	parse_bad("sysv:4294967296", EINVAL);
	parse_bad("sysv:99999999999999999999999", EINVAL); /* past 64 bits */
	parse_bad("sysv:-1", EINVAL);
	parse_bad("sysv:+1", EINVAL);
	parse_bad("sysv:12 ", EINVAL);
	parse_bad("sysv: 12", EINVAL);
	parse_bad("sysv:12x", EINVAL);
	parse_bad("sysv:0xg", EINVAL);
	parse_bad("sysv:PRIVATE", EINVAL);
	parse_bad("sysv:private ", EINVAL);
	parse_bad("sysv:#1", EINVAL);   /* ftok without a path */
	parse_bad("sysv:/p#0", EINVAL); /* ftok uses the low 8 bits, 0 is not allowed */
	parse_bad("sysv:/p#256", EINVAL);
	parse_bad("sysv:/p#", EINVAL);
	parse_bad("sysv:/p#-1", EINVAL);
	parse_bad("sysv:/p#0x1", EINVAL);
	parse_bad("sysv:id=", EINVAL);
	parse_bad("sysv:id=-1", EINVAL);
	parse_bad("sysv:id=2147483648", EINVAL);
	parse_bad("sysv:id=0x10", EINVAL); /* ids are decimal, as ipcs prints them */
	parse_bad("sysv:id=1 ", EINVAL);
}

static void other_forms(void)
{
	shmkit__spec sp;

	sp = parse_ok("file:/dev/shm/x");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_FILE);
	ASSERT(!strcmp(sp.name, "/dev/shm/x"));
	sp = parse_ok("file:rel/path"); /* relative paths are the caller's */
	ASSERT(!strcmp(sp.name, "rel/path"));

	sp = parse_ok("memfd:NAME");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_MEMFD);
	ASSERT(!strcmp(sp.name, "NAME"));
	sp = parse_ok("memfd:");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_MEMFD);
	ASSERT(!strcmp(sp.name, ""));
	sp = parse_ok(repeat("memfd:", 'm', 249)); /* memfd_create's limit */
	ASSERT_EQ(strlen(sp.name), 249);

	sp = parse_ok("fd:3");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_FD);
	ASSERT_EQ(sp.fd, 3);
	sp = parse_ok("fd:0");
	ASSERT_EQ(sp.fd, 0);
	sp = parse_ok("fd:2147483647");
	ASSERT_EQ(sp.fd, 2147483647);

	sp = parse_ok("anon:");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_ANON);
	ASSERT(!strcmp(sp.name, ""));
	sp = parse_ok("anon:label");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_ANON);
	ASSERT(!strcmp(sp.name, "label"));

	/* Parsed everywhere so that specs travel; only Windows builds run it. */
	sp = parse_ok("win:NAME");
	ASSERT_EQ(sp.backend, SHMKIT_BACKEND_WIN);
	ASSERT(!strcmp(sp.name, "NAME"));
}

static void other_rejects(void)
{
	shmkit__spec sp;

	parse_bad("", EINVAL);
	parse_bad(":", EINVAL);
	parse_bad("x", EINVAL);
	parse_bad("bogus:/x", EINVAL);
	parse_bad("POSIX:/x", EINVAL); /* prefixes are lower case */
	parse_bad("posixx:/x", EINVAL);
	parse_bad("posi:/x", EINVAL);
	parse_bad(" posix:/x", EINVAL);
	parse_bad("file:", EINVAL);
	parse_bad(repeat("file:/", 'f', PATH_MAX), ENAMETOOLONG);
	parse_bad(repeat("memfd:", 'm', 250), ENAMETOOLONG);
	parse_bad(repeat("anon:", 'a', 250), ENAMETOOLONG);
	parse_bad("fd:", EINVAL);
	parse_bad("fd:-1", EINVAL);
	parse_bad("fd:2147483648", EINVAL);
	parse_bad("fd:3 ", EINVAL);
	parse_bad("fd:0x3", EINVAL);
	parse_bad("fd:x", EINVAL);
	parse_bad("win:", EINVAL);
	parse_bad("win:Global\\", EINVAL);
	parse_bad("win:Local\\", EINVAL);
	parse_bad("win:a\\b", EINVAL);
	parse_bad("win:Global\\a\\b", EINVAL);
	parse_ok("win:Global\\NAME");
	parse_ok("win:Local\\NAME");
	parse_bad(repeat("win:", 'w', NAME_MAX + 1), ENAMETOOLONG);

	poison(&sp);
	ASSERT_ERR(shmkit__spec_parse(NULL, &sp), EINVAL);
	ASSERT(untouched(&sp));
	ASSERT_ERR(shmkit__spec_parse("posix:/x", NULL), EINVAL);
}

static void canonical(void)
{
	char want[2 * PATH_MAX + 16];

	round_trip("posix:/n", "posix:/n");
	round_trip("/n", "posix:/n");
	round_trip("sysv:1234", "sysv:0x000004d2");
	round_trip("sysv:0x5348ABCD", "sysv:0x5348abcd");
	round_trip("sysv:0xffffffff", "sysv:0xffffffff");
	round_trip("sysv:id=7", "sysv:id=7");
	round_trip("sysv:/tmp/x#1", "sysv:/tmp/x#1");
	round_trip("sysv:/a#b#255", "sysv:/a#b#255");
	round_trip("sysv:private", "sysv:private");
	round_trip("file:/dev/shm/x", "file:/dev/shm/x");
	round_trip("memfd:NAME", "memfd:NAME");
	round_trip("memfd:", "memfd:");
	round_trip("fd:3", "fd:3");
	round_trip("anon:", "anon:");
	round_trip("anon:x", "anon:x");
	round_trip("win:NAME", "win:NAME");

	/* The longest specs still fit SHMKIT_SPEC_MAX. */
	snprintf(want, sizeof(want), "posix:%s", repeat("/", 'x', NAME_MAX));
	round_trip(want, want);
	snprintf(want, sizeof(want), "file:%s", repeat("/", 'f', PATH_MAX - 2));
	round_trip(want, want);
	snprintf(want, sizeof(want), "sysv:%s#255",
		 repeat("/", 'f', PATH_MAX - 2));
	round_trip(want, want);
}

static void format_limits(void)
{
	shmkit__spec sp = parse_ok("posix:/abc");
	char buf[16];

	memset(buf, 'z', sizeof(buf));
	ASSERT_EQ(shmkit__spec_format(&sp, buf, 11), 10); /* exactly fits */
	ASSERT(!strcmp(buf, "posix:/abc"));
	ASSERT_ERR(shmkit__spec_format(&sp, buf, 10), ENAMETOOLONG);
	ASSERT_ERR(shmkit__spec_format(&sp, buf, 1), ENAMETOOLONG);

	sp.backend = SHMKIT_BACKEND_NONE;
	ASSERT_ERR(shmkit__spec_format(&sp, buf, sizeof(buf)), EINVAL);
	sp.backend = SHMKIT_BACKEND_COUNT_;
	ASSERT_ERR(shmkit__spec_format(&sp, buf, sizeof(buf)), EINVAL);
}

/*
 * Issue 7: "shmkit create posix:name 4K", "create posix:/a/b 4K" and
 * "info /etc/passwd" said only "Invalid argument". The reason must name
 * the rule and the allowed form or range.
 */
static void spec_check_names_the_rule(void)
{
	static char ftok_long[PATH_MAX + 16];

	says("posix:name", "'/' followed by 1 to 255 characters",
	     "none of them '/'");
	says("posix:/a/b", "'/' followed by 1 to 255", NULL);
	says("/etc/passwd", "a posix: name", NULL);
	says(repeat("posix:/", 'x', NAME_MAX + 1), "1 to 255", NULL);
	says("posix:/..", "'/..'", NULL);
	says("nonsense", "BACKEND:NAME", "file:PATH");
	says("POSIX:/x", "posix, sysv, file, memfd, fd, anon", "lower case");
	says("sysv:0", "sysv:private", NULL);
	says("sysv:0x100000000", "1 to 0xffffffff", NULL);
	says("sysv:id=-1", "0 to 2147483647", NULL);
	says("sysv:/p#256", "1 to 255", NULL);
	says("sysv:#1", "takes a path", NULL);
	snprintf(ftok_long, sizeof(ftok_long), "%s#1",
		 repeat("sysv:/", 'p', PATH_MAX));
	says(ftok_long, "PATH_MAX", NULL);
	says("file:", "needs a path", NULL);
	says(repeat("file:/", 'f', PATH_MAX), "PATH_MAX (4096 bytes)", NULL);
	says(repeat("memfd:", 'm', 250), "at most 249 bytes", NULL);
	says(repeat("anon:", 'a', 250), "at most 249 bytes", NULL);
	says("fd:x", "0 to 2147483647", NULL);
	says("win:", "needs a name", NULL);
	says("win:a\\b", "namespace", NULL);
	says("", "empty", NULL);
	check_phrase("NULL", shmkit_spec_check(NULL));

	/* Distinct rules, distinct words: the reason is not one catch-all. */
	ASSERT(strcmp(shmkit_spec_check("posix:x"),
		      shmkit_spec_check("sysv:x")));
	ASSERT(strcmp(shmkit_spec_check("sysv:x"), shmkit_spec_check("fd:x")));
	says("sysv:/tmp/x#0", "1 to 255", NULL);
}

TEST_MAIN("spec", TEST(posix_forms), TEST(posix_rejects), TEST(sysv_forms),
	  TEST(sysv_rejects), TEST(other_forms), TEST(other_rejects),
	  TEST(canonical), TEST(format_limits),
	  TEST(spec_check_names_the_rule))
