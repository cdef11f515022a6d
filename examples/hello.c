/*
 * hello.c: the smallest useful shmkit program. The parent creates a
 * segment, a child attaches it by name and answers, the parent reads the
 * answer and removes the segment.
 *
 *   ./hello [SPEC]     (default posix:/shmkit-example-<pid>)
 */
#include <shmkit.h>

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char spec[128];
	shmkit_seg *seg, *peer;
	int r, status;
	pid_t pid;

	if (argc > 1)
		snprintf(spec, sizeof(spec), "%s", argv[1]);
	else
		snprintf(spec, sizeof(spec), "posix:/shmkit-example-%d", (int)getpid());

	r = shmkit_create(spec, 4096, NULL, &seg);
	if (r < 0) {
		fprintf(stderr, "hello: create %s: %s\n", spec, shmkit_strerror(r));
		return 1;
	}
	strcpy(shmkit_addr(seg), "ping");

	pid = fork();
	if (pid == 0) {
		r = shmkit_attach(spec, NULL, &peer);
		if (r < 0) {
			fprintf(stderr, "hello: attach %s: %s\n", spec, shmkit_strerror(r));
			_exit(1);
		}
		printf("child  read '%s' from %s (%zu bytes)\n",
		       (char *)shmkit_addr(peer), shmkit_spec(peer), shmkit_size(peer));
		strcpy(shmkit_addr(peer), "pong");
		shmkit_detach(peer);
		fflush(stdout); /* _exit() does not flush stdio */
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("parent read '%s'\n", (char *)shmkit_addr(seg));
	r = shmkit_destroy(seg);
	return r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}
