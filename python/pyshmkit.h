/*
 * pyshmkit.h: what the files of the Python binding share.
 *
 * The extension module shmkit._shmkit is three C files: shmkitmodule.c (the
 * module, errors, Segment), chan.c (Channel) and heap.c (Heap). The
 * package shmkit/__init__.py re-exports them and adds what is simplest in
 * Python (SharedMemory, the asyncio helper).
 *
 * Conventions, everywhere in the binding:
 *  - A negative errno from the library becomes an OSError built with that
 *    errno, so Python picks the subclass (FileNotFoundError, BrokenPipeError,
 *    TimeoutError, BlockingIOError ...), with shmkit_strerror()'s text and
 *    the spec as filename where there is one.
 *  - Every call that may block releases the GIL and waits in slices of
 *    SHMKIT_PY_SLICE_NS, checking for signals between them, so Ctrl-C
 *    interrupts it.
 *  - A library handle is not thread-safe, and the GIL is let go while one is
 *    in use: each object carries a busy flag, and a second thread that
 *    reaches a busy object gets RuntimeError instead of racing the first.
 *  - Memory handed out as a buffer (memoryview) keeps its mapping: the
 *    object counts its exports and refuses to detach, resize or close
 *    (BufferError) while any is alive, so no view can dangle.
 */
#ifndef SHMKIT_PYSHMKIT_H
#define SHMKIT_PYSHMKIT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "shmkit.h"

/* How long one blocking library call may hold off signal checks. */
#define SHMKIT_PY_SLICE_NS SHMKIT_CHAN_MS(100)

/* Raise the OSError for -err (spec may be NULL); returns NULL. */
PyObject *shmkit_py_err(int err, const char *spec);

/* Python timeout (None: forever; seconds >= 0) to ns; -1 on error. */
int shmkit_py_timeout(PyObject *obj, int64_t *ret_ns);

/* Monotonic clock in ns. */
int64_t shmkit_py_now(void);

/* Each type's setup: adds the type to the module; -1 on error. */
int shmkit_py_add_seg(PyObject *m);
int shmkit_py_add_chan(PyObject *m);
int shmkit_py_add_heap(PyObject *m);

/* RuntimeError for an object another thread is using; returns NULL. */
PyObject *shmkit_py_busy(void);

/* ValueError unless mode is permission bits (0o1 .. 0o7777); 0 or -1. */
int shmkit_py_check_mode(unsigned int mode);

/*
 * __reduce__ by name: (getattr(type(self), method), args), so unpickling
 * opens the object again by its spec. TypeError for an object of an anon:
 * or memfd: segment, which no other process can open by name. Steals args
 * (which may be NULL, after a failed build).
 */
PyObject *shmkit_py_reduce(PyObject *self, shmkit_seg *seg, const char *what,
			   const char *method, PyObject *args);

#endif /* SHMKIT_PYSHMKIT_H */
