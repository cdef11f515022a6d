/*
 * os.c (Unix): the platform half of the shmkit tool on Unix (cli.h, "What
 * differs by platform"): user and group names from the passwd and group
 * databases, process names from /proc, signals, and `create --hold`'s
 * fork and exec.
 */
#include "../cli.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void cli_os_init(void)
{
}

shmkit_uid_t cli_euid(void)
{
	return geteuid();
}

const char *cli_user_name(shmkit_uid_t uid, char buf[CLI_NAME_BUF])
{
	struct passwd *pw = getpwuid(uid);

	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(buf, CLI_NAME_BUF, "%s", pw->pw_name);
	else
		snprintf(buf, CLI_NAME_BUF, "%u", (unsigned)uid);
	return buf;
}

const char *cli_group_name(shmkit_gid_t gid, char buf[CLI_NAME_BUF])
{
	struct group *gr = getgrgid(gid);

	if (gr && gr->gr_name && *gr->gr_name)
		snprintf(buf, CLI_NAME_BUF, "%s", gr->gr_name);
	else
		snprintf(buf, CLI_NAME_BUF, "%u", (unsigned)gid);
	return buf;
}

const char *cli_proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "?";
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return "?";
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

int64_t cli_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static volatile int *stop_flag;

void cli_sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000),
			      .tv_nsec = (long)(ns % 1000000000)};

	/* A stop cuts it short (that is the point); other signals do not. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR &&
	       !(stop_flag && *stop_flag))
		;
}

static void on_stop(int sig)
{
	if (stop_flag)
		*stop_flag = sig;
}

void cli_catch_stops(volatile int *flag)
{
	struct sigaction sa;

	stop_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: a blocked read returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void cli_ignore_sigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

long cli_getline(char **line, size_t *cap, FILE *f)
{
	return (long)getline(line, cap, f);
}

int cli_fnmatch(const char *pat, const char *s)
{
	return fnmatch(pat, s, 0);
}

bool cli_localtime(int64_t t, struct tm *out)
{
	time_t tt = (time_t)t;

	return localtime_r(&tt, out) != NULL;
}

bool cli_stdout_is_tty(void)
{
	return isatty(STDOUT_FILENO) == 1;
}

bool cli_stdin_file_left(uint64_t *left)
{
	struct stat st;
	off_t pos;

	if (fstat(STDIN_FILENO, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
	if (pos < 0)
		return false;
	*left = st.st_size > pos ? (uint64_t)(st.st_size - pos) : 0;
	return true;
}

static volatile sig_atomic_t hold_child;

/* SIGTERM or SIGHUP to us is for CMD too; we wait for it to go. */
static void forward(int sig)
{
	if (hold_child > 0)
		kill((pid_t)hold_child, sig);
}

/*
 * Run cmd with SHMKIT_SPEC in its environment while this process keeps seg
 * attached (cmd is never NULL here: create asks for it); return cmd's exit
 * status as a shell gives it. The child gets
 * the signal dispositions and mask we had; only a memfd's descriptor is
 * let through exec (every other one stays close-on-exec).
 */
int cli_hold(const char *what, shmkit_seg *seg, char **cmd)
{
	static const int fwd[] = {SIGTERM, SIGHUP}, ign[] = {SIGINT, SIGQUIT};
	struct sigaction sa, old[4], chld;
	char spec[SHMKIT_SPEC_MAX];
	sigset_t block, saved;
	int fd = -1, st = 0, status;
	size_t i;
	pid_t pid, w;

	if (shmkit_backend_of(seg) == SHMKIT_BACKEND_MEMFD) {
		fd = shmkit_fd(seg);
		snprintf(spec, sizeof(spec), "fd:%d", fd);
	} else {
		snprintf(spec, sizeof(spec), "%s", shmkit_spec(seg));
	}
	sigemptyset(&block);
	for (i = 0; i < 2; i++) {
		sigaddset(&block, fwd[i]);
		sigaddset(&block, ign[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &saved);
	/* An inherited SIG_IGN for SIGCHLD would make waitpid() lose CMD's
	 * status; CMD gets back what we were given. */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, &chld);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		sigaction(SIGCHLD, &chld, NULL);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		if ((fd >= 0 && fcntl(fd, F_SETFD, 0) < 0) ||
		    setenv("SHMKIT_SPEC", spec, 1) < 0) {
			cli_errf("%s: %s: %s", what, cmd[0], strerror(errno));
			_exit(126);
		}
		execvp(cmd[0], cmd);
		cli_errf("%s: %s: %s", what, cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (pid < 0) {
		cli_errf("%s: fork: %s", what, strerror(errno));
		sigaction(SIGCHLD, &chld, NULL);
		sigprocmask(SIG_SETMASK, &saved, NULL);
		return CLI_FAIL;
	}
	hold_child = pid;
	for (i = 0; i < 2; i++) {
		sa.sa_handler = forward;
		sigaction(fwd[i], &sa, &old[i]);
		sa.sa_handler = SIG_IGN; /* the terminal sends it to CMD too */
		sigaction(ign[i], &sa, &old[2 + i]);
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (w < 0)
		cli_errf("%s: waiting for %s: %s", what, cmd[0],
			 strerror(errno));
	sigprocmask(SIG_BLOCK, &block, NULL);
	hold_child = 0;
	for (i = 0; i < 2; i++) {
		sigaction(fwd[i], &old[i], NULL);
		sigaction(ign[i], &old[2 + i], NULL);
	}
	sigaction(SIGCHLD, &chld, NULL);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	if (w < 0)
		status = CLI_FAIL;
	else if (WIFEXITED(st))
		status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		status = 128 + WTERMSIG(st);
	else
		status = CLI_FAIL;
	return status;
}
