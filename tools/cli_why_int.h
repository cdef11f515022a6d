/*
 * cli_why_int.h: what tools/cli_why.c shares with the platform halves of
 * the explanations (tools/unix/why.c, tools/win/why.c).
 *
 * cli_why.c holds the table that turns an errno into a hint, the reading
 * of a malformed spec and the printing; what looks around the host (the
 * directory a file: path lacks, whose a refused segment is, the limit a
 * create ran into) depends on the platform and lives in its file.
 */
#ifndef SHMKIT_CLI_WHY_INT_H
#define SHMKIT_CLI_WHY_INT_H

#include "cli.h"

bool cli__why_prefix(const char *s, const char *p);
/* posix:NAME or /NAME. */
bool cli__why_is_posix(const char *spec);
/* The path of a file: spec, or NULL. */
const char *cli__why_file_path(const char *spec);
/* The directory part of path ("." when there is none). */
void cli__why_dir_of(const char *path, char *buf, size_t len);
/* Where spec's name lives: /dev/shm, or the directory of a file: path. */
const char *cli__why_home_dir(const char *spec, char *buf, size_t len);
/* Format into buf and point *dst at it: w's reason or hint. */
void cli__why_set(const char **dst, char *buf, size_t len, const char *fmt,
		  ...) CLI_PRINTF(4, 5);

#define has_prefix cli__why_prefix
#define is_posix cli__why_is_posix
#define file_path cli__why_file_path
#define dir_of cli__why_dir_of
#define home_dir cli__why_home_dir
#define set_text cli__why_set
#define set_why(w, ...)                                                       \
	set_text(&(w)->why, (w)->why_buf, sizeof((w)->why_buf), __VA_ARGS__)
#define set_hint(w, ...)                                                      \
	set_text(&(w)->hint, (w)->hint_buf, sizeof((w)->hint_buf), __VA_ARGS__)

/* The platform's answers (tools/unix/why.c, tools/win/why.c). */

/* A segment that is not there (ENOENT): where it was looked for. */
void cli__why_missing(cli_why *w, const char *spec, bool creating);
/* A segment we may not use (EACCES, EPERM): whose it is. */
void cli__why_refused(cli_why *w, const char *cmd, const char *spec,
		      bool creating);
/* What a file: path (or fd:N) turned out to be (ELOOP, EINVAL, ENODEV,
 * ENODATA, EISDIR). */
void cli__why_not_regular(cli_why *w, const char *spec, int err);
/* The limit a create of size ran into (err positive); false if there is
 * none to name. */
bool cli__why_create_limit(cli_why *w, const char *spec, uint64_t size,
			   unsigned flags, int err);
/* A hint this platform gives before the shared table, or false. */
bool cli__why_platform(cli_why *w, const char *cmd, const char *spec,
		       int err);

#endif /* SHMKIT_CLI_WHY_INT_H */
