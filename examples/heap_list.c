/*
 * heap_list.c: two processes share a linked list in a shmkit heap, found
 * by name. The parent makes a heap that may grow and, in it, a named
 * object "list" (head, tail, count and a mutex). Then it starts a second
 * program with exec, which shares nothing with it but the heap's name: that
 * one opens the heap by name, finds "list" and appends nodes, and the heap
 * grows under it as it fills up. The parent walks the list, prints and
 * frees it, and removes the heap.
 *
 * Nodes link by shmkit_ref, never by pointer: each process maps the heap
 * at an address of its own, and shmkit_heap_ptr() turns a ref into a
 * pointer in the process that asks.
 *
 *   ./heap_list      (the heap is posix:/shmkit-example-heap-<pid>)
 */
#include <shmkit.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODES 8
#define RECORD (12 * 1024) /* 8 nodes of 12K do not fit in 64K: it grows */

/* The named object: what both processes find by the name "list". */
struct list {
	shmkit_mutex lock; /* guards the rest */
	shmkit_ref head, tail;
	uint64_t count;
};

struct node {
	shmkit_ref next;
	int pid, seq;
	char text[48];
	char record[RECORD];
};

static int fail(const char *what, const char *spec, int err)
{
	fprintf(stderr, "heap_list: %s %s: %s\n", what, spec,
		shmkit_strerror(err));
	return 1;
}

/*
 * Lock the list. If the last holder died while appending, the list is
 * still whole (a node is linked before tail and count move on), but tail
 * and count may lag: walk it to set them right, then say it is repaired.
 * On failure the lock is not held.
 */
static int lock_list(shmkit_heap *heap, struct list *l)
{
	int r = shmkit_mutex_lock(&l->lock);
	struct node *n;
	shmkit_ref ref;

	if (r != -EOWNERDEAD)
		return r;
	l->tail = 0;
	l->count = 0;
	for (ref = l->head; ref && (n = shmkit_heap_ptr(heap, ref));
	     ref = n->next) {
		l->tail = ref;
		l->count++;
	}
	r = shmkit_mutex_consistent(&l->lock);
	if (r < 0)
		shmkit_mutex_unlock(&l->lock); /* a failed lock holds nothing */
	return r;
}

/* The second program: knows the heap by its name only. */
static int append(const char *spec)
{
	shmkit_heap *heap;
	shmkit_ref lref, ref;
	struct list *l;
	struct node *n;
	int r, i;

	r = shmkit_heap_open(spec, 0, &heap);
	if (r < 0)
		return fail("open", spec, r);
	r = shmkit_heap_find(heap, "list", &lref, NULL);
	if (r < 0) {
		shmkit_heap_close(heap);
		return fail("find \"list\" in", spec, r);
	}
	l = shmkit_heap_ptr(heap, lref);
	for (i = 1; i <= NODES && r == 0; i++) {
		/* Allocate and fill the node first: nobody sees it yet. When
		 * the heap is full this grows it (until opts.max_size). */
		r = shmkit_heap_alloc(heap, sizeof(*n), &ref);
		if (r < 0)
			break;
		n = shmkit_heap_ptr(heap, ref);
		n->next = 0;
		n->pid = (int)getpid();
		n->seq = i;
		snprintf(n->text, sizeof(n->text), "node %d from pid %d", i,
			 (int)getpid());
		memset(n->record, i, sizeof(n->record));
		/* Then link it in, under the lock. */
		r = lock_list(heap, l);
		if (r < 0) {
			shmkit_heap_free(heap, ref);
			break;
		}
		if (l->tail) {
			struct node *last = shmkit_heap_ptr(heap, l->tail);
			last->next = ref;
		} else {
			l->head = ref;
		}
		l->tail = ref;
		l->count++;
		shmkit_mutex_unlock(&l->lock);
	}
	if (r == 0)
		printf("child  %d: opened %s by name, appended %d nodes of %zu "
		       "bytes\n", (int)getpid(), spec, NODES, sizeof(*n));
	else
		fail("append to", spec, r);
	shmkit_heap_close(heap);
	return r < 0;
}

int main(int argc, char **argv)
{
	shmkit_heap_opts opts = {.max_size = 1 << 20}; /* may grow to 1M */
	shmkit_heap_info info;
	shmkit_heap *heap;
	shmkit_ref lref, ref, next;
	struct list *l;
	char spec[64];
	int r, status, seen = 0;
	pid_t pid;

	if (argc == 3 && !strcmp(argv[1], "--append"))
		return append(argv[2]);

	snprintf(spec, sizeof(spec), "posix:/shmkit-example-heap-%d",
		 (int)getpid());
	r = shmkit_heap_create(spec, SHMKIT_HEAP_MIN_SIZE, &opts, &heap);
	if (r < 0)
		return fail("create", spec, r);
	/* 1: this call made it, zeroed. Whoever makes it initialises it,
	 * before anyone else can look (here: before the child starts). */
	r = shmkit_heap_get(heap, "list", sizeof(*l), &lref);
	if (r < 0) {
		fail("get \"list\" in", spec, r);
		goto out;
	}
	l = shmkit_heap_ptr(heap, lref);
	if (r == 1 && (r = shmkit_mutex_init(&l->lock)) < 0) {
		fail("init the mutex in", spec, r);
		goto out;
	}
	printf("parent %d: made %s (64K, may grow to 1M) with the object "
	       "\"list\"\n", (int)getpid(), spec);
	fflush(stdout);

	/* A new program, not a forked copy: it gets only the heap's name. */
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--append", spec,
		      (char *)NULL);
		perror("heap_list: exec");
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "heap_list: the child failed\n");
		r = -ECHILD;
		goto out;
	}

	/* Read the list and free it as we go. */
	if ((r = lock_list(heap, l)) < 0) {
		fail("lock the list in", spec, r);
		goto out;
	}
	printf("parent %d: the list holds %llu nodes:\n", (int)getpid(),
	       (unsigned long long)l->count);
	for (ref = l->head; ref; ref = next) {
		struct node *n = shmkit_heap_ptr(heap, ref);
		printf("  %s\n", n->text);
		next = n->next; /* before the free: n dies with it */
		shmkit_heap_free(heap, ref);
		seen++;
	}
	l->head = l->tail = 0;
	l->count = 0;
	shmkit_mutex_unlock(&l->lock);

	if ((r = shmkit_heap_stat(heap, &info)) == 0)
		printf("parent %d: read %d nodes; the heap grew to %llu bytes "
		       "in %u parts\n", (int)getpid(), seen,
		       (unsigned long long)info.size, info.parts);
	shmkit_mutex_destroy(&l->lock);
	r = shmkit_heap_unname(heap, "list");
out:
	/* Remove the heap whatever happened: nothing stays in /dev/shm. */
	if (shmkit_heap_destroy(heap) < 0 && r == 0)
		r = -EIO;
	return r < 0 || seen != NODES;
}
