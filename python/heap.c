/*
 * heap.c: shmkit.Heap, a managed segment (shmkit/heap.h) for Python.
 *
 * Blocks are handed out as writable memoryviews. Each view's exporter is a
 * small private object (_HeapBlock) that holds the Heap, so a heap cannot
 * be closed (BufferError) or collected while a view of one of its blocks is
 * alive, and its mappings stay put. free() given a view from this heap
 * releases that view first and refuses (BufferError) while something made
 * from it (a slice, a numpy array) is alive; a ref (int) is the value other
 * processes use: heap.ref(view) gives it, heap.view(ref) turns it back into
 * a view. Views of one block made separately (two view(ref) calls) are not
 * tracked together: after free, the others must not be used, as in C.
 *
 * Heap calls keep the GIL: each takes the heap's lock for a bounded time
 * and never waits for another process's progress (a dead holder's lock is
 * taken over by the library).
 */
#include "pyshmkit.h"

#include <errno.h>
#include <string.h>

typedef struct {
	PyObject_HEAD
	shmkit_heap *heap;
	Py_ssize_t exports; /* live views of its blocks, over every block */
} HeapObject;

typedef struct {
	PyObject_HEAD
	HeapObject *owner;
	void *ptr;
	size_t len;
	Py_ssize_t exports;
} BlockObject;

static PyTypeObject HeapType, BlockType;

static int heap_live(HeapObject *self)
{
	if (!self->heap) {
		PyErr_SetString(PyExc_ValueError, "the heap is closed");
		return 0;
	}
	return 1;
}

static const char *heap_spec(HeapObject *self)
{
	return shmkit_spec(shmkit_heap_seg(self->heap));
}

/* A memoryview of len bytes at p, which lies in one of self's blocks. */
static PyObject *heap_view(HeapObject *self, void *p, size_t len)
{
	BlockObject *b;
	PyObject *mv;

	b = PyObject_New(BlockObject, &BlockType);
	if (!b)
		return NULL;
	Py_INCREF(self);
	b->owner = self;
	b->ptr = p;
	b->len = len;
	b->exports = 0;
	mv = PyMemoryView_FromObject((PyObject *)b);
	Py_DECREF(b); /* the view holds it */
	return mv;
}

static void block_dealloc(BlockObject *b)
{
	Py_DECREF(b->owner);
	PyObject_Free(b);
}

static int block_getbuffer(BlockObject *b, Py_buffer *view, int flags)
{
	if (PyBuffer_FillInfo(view, (PyObject *)b, b->ptr, (Py_ssize_t)b->len,
			      0, flags) < 0)
		return -1;
	b->exports++;
	b->owner->exports++;
	return 0;
}

static void block_releasebuffer(BlockObject *b, Py_buffer *view)
{
	(void)view;
	b->exports--;
	b->owner->exports--;
}

static PyBufferProcs block_as_buffer = {
	(getbufferproc)block_getbuffer,
	(releasebufferproc)block_releasebuffer,
};

static PyTypeObject BlockType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmkit._HeapBlock",
	.tp_basicsize = sizeof(BlockObject),
	.tp_dealloc = (destructor)block_dealloc,
	.tp_as_buffer = &block_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "What a heap block's memoryview views (private).",
};

/* The block a view given out by this heap shows, or NULL (TypeError). */
static BlockObject *heap_block_of(HeapObject *self, PyObject *obj)
{
	PyObject *base;

	if (PyMemoryView_Check(obj)) {
		base = PyMemoryView_GET_BASE(obj);
		if (base && Py_TYPE(base) == &BlockType &&
		    ((BlockObject *)base)->owner == self)
			return (BlockObject *)base;
	}
	PyErr_SetString(PyExc_TypeError,
			"expected a memoryview this heap gave out, or a ref "
			"(int)");
	return NULL;
}

static PyObject *heap_wrap(PyTypeObject *type, shmkit_heap *h)
{
	HeapObject *self = (HeapObject *)type->tp_alloc(type, 0);

	if (!self) {
		shmkit_heap_close(h);
		return NULL;
	}
	self->heap = h;
	return (PyObject *)self;
}

static PyObject *heap_create(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "spec", "size", "max_size", "mode",
				  "ephemeral", NULL };
	const char *spec;
	Py_ssize_t size;
	unsigned long long max = 0;
	unsigned int mode = 0600;
	int eph = 0;
	shmkit_heap_opts o;
	shmkit_heap *h;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "sn|KIp:create", kwlist,
					 &spec, &size, &max, &mode, &eph))
		return NULL;
	if (size <= 0) {
		PyErr_SetString(PyExc_ValueError, "size must be > 0");
		return NULL;
	}
	if (shmkit_py_check_mode(mode) < 0)
		return NULL;
	memset(&o, 0, sizeof(o));
	o.max_size = max;
	o.mode = mode;
	o.flags = eph ? SHMKIT_F_EPHEMERAL : 0;
	r = shmkit_heap_create(spec, (size_t)size, &o, &h);
	if (r < 0)
		return shmkit_py_err(r, spec);
	return heap_wrap((PyTypeObject *)cls, h);
}

static PyObject *heap_open(PyObject *cls, PyObject *args)
{
	const char *spec;
	shmkit_heap *h;
	int r;

	if (!PyArg_ParseTuple(args, "s:open", &spec))
		return NULL;
	r = shmkit_heap_open(spec, 0, &h);
	if (r < 0)
		return shmkit_py_err(r, spec);
	return heap_wrap((PyTypeObject *)cls, h);
}

static PyObject *heap_alloc(HeapObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "size", "zero", "align", NULL };
	Py_ssize_t size, align = 0;
	int zero = 0, r;
	shmkit_ref ref;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "n|pn:alloc", kwlist, &size,
					 &zero, &align))
		return NULL;
	if (!heap_live(self))
		return NULL;
	if (size <= 0 || align < 0) {
		PyErr_SetString(PyExc_ValueError,
				"size must be > 0 and align >= 0");
		return NULL;
	}
	if (align)
		r = shmkit_heap_alloc_aligned(self->heap, (size_t)size,
					      (size_t)align, &ref);
	else if (zero)
		r = shmkit_heap_calloc(self->heap, (size_t)size, &ref);
	else
		r = shmkit_heap_alloc(self->heap, (size_t)size, &ref);
	if (r < 0)
		return shmkit_py_err(r, heap_spec(self));
	if (align && zero)
		memset(shmkit_heap_ptr(self->heap, ref), 0, (size_t)size);
	return heap_view(self, shmkit_heap_ptr(self->heap, ref),
			 (size_t)size);
}

/* The ref an int or a view of ours names; 0 with an exception set. */
static shmkit_ref heap_ref_arg(HeapObject *self, PyObject *obj,
			       BlockObject **ret_block)
{
	BlockObject *b;
	shmkit_ref ref;

	*ret_block = NULL;
	if (PyLong_Check(obj)) {
		ref = PyLong_AsUnsignedLongLong(obj);
		if (PyErr_Occurred())
			return 0;
		if (!ref)
			shmkit_py_err(-EINVAL, heap_spec(self));
		return ref;
	}
	b = heap_block_of(self, obj);
	if (!b)
		return 0;
	ref = shmkit_heap_ref(self->heap, b->ptr);
	if (!ref)
		shmkit_py_err(-EINVAL, heap_spec(self)); /* freed already */
	*ret_block = b;
	return ref;
}

static PyObject *heap_free(HeapObject *self, PyObject *obj)
{
	BlockObject *b;
	shmkit_ref ref;
	int r;

	if (!heap_live(self))
		return NULL;
	ref = heap_ref_arg(self, obj, &b);
	if (!ref)
		return NULL;
	if (b) {
		PyObject *res = PyObject_CallMethod(obj, "release", NULL);

		if (!res)
			return NULL;
		Py_DECREF(res);
		if (b->exports > 0) {
			PyErr_Format(PyExc_BufferError,
				     "%zd view(s) made from this block are "
				     "still alive (slices, arrays): release "
				     "them before freeing it",
				     b->exports);
			return NULL;
		}
	}
	r = shmkit_heap_free(self->heap, ref);
	if (r < 0)
		return shmkit_py_err(r, heap_spec(self));
	Py_RETURN_NONE;
}

static PyObject *heap_ref(HeapObject *self, PyObject *obj)
{
	BlockObject *b;
	shmkit_ref ref;

	if (!heap_live(self))
		return NULL;
	b = heap_block_of(self, obj);
	if (!b)
		return NULL;
	ref = shmkit_heap_ref(self->heap, b->ptr);
	if (!ref)
		return shmkit_py_err(-EINVAL, heap_spec(self));
	return PyLong_FromUnsignedLongLong(ref);
}

static PyObject *heap_view_ref(HeapObject *self, PyObject *obj)
{
	unsigned long long ref;
	void *p;

	if (!heap_live(self))
		return NULL;
	ref = PyLong_AsUnsignedLongLong(obj);
	if (PyErr_Occurred())
		return NULL;
	p = shmkit_heap_ptr(self->heap, ref);
	if (!p)
		return shmkit_py_err(-EINVAL, heap_spec(self));
	return heap_view(self, p, shmkit_heap_usable(self->heap, ref));
}

static PyObject *heap_get(HeapObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "name", "size", "with_created", NULL };
	const char *name;
	Py_ssize_t size;
	int with = 0, r;
	shmkit_ref ref;
	PyObject *mv;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "sn|$p:get", kwlist, &name,
					 &size, &with))
		return NULL;
	if (!heap_live(self))
		return NULL;
	if (size <= 0) {
		PyErr_SetString(PyExc_ValueError, "size must be > 0");
		return NULL;
	}
	r = shmkit_heap_get(self->heap, name, (size_t)size, &ref);
	if (r < 0)
		return shmkit_py_err(r, heap_spec(self));
	mv = heap_view(self, shmkit_heap_ptr(self->heap, ref), (size_t)size);
	if (!mv || !with)
		return mv;
	return Py_BuildValue("(NO)", mv, r == 1 ? Py_True : Py_False);
}

static PyObject *heap_find(HeapObject *self, PyObject *args)
{
	const char *name;
	shmkit_ref ref;
	size_t size;
	int r;

	if (!PyArg_ParseTuple(args, "s:find", &name))
		return NULL;
	if (!heap_live(self))
		return NULL;
	r = shmkit_heap_find(self->heap, name, &ref, &size);
	if (r < 0)
		return shmkit_py_err(r, name);
	return heap_view(self, shmkit_heap_ptr(self->heap, ref), size);
}

static PyObject *heap_unname(HeapObject *self, PyObject *args)
{
	const char *name;
	int r;

	if (!PyArg_ParseTuple(args, "s:unname", &name))
		return NULL;
	if (!heap_live(self))
		return NULL;
	r = shmkit_heap_unname(self->heap, name);
	if (r < 0)
		return shmkit_py_err(r, name);
	Py_RETURN_NONE;
}

/* names() collects into a list first: the callback runs under the heap's
 * lock and must not call back into Python code that might use the heap. */
static int names_cb(const char *name, shmkit_ref ref, size_t size, void *arg)
{
	PyObject *d = arg, *v;
	int r;

	(void)ref;
	v = PyLong_FromSize_t(size);
	if (!v)
		return -1;
	r = PyDict_SetItemString(d, name, v);
	Py_DECREF(v);
	return r < 0 ? -1 : 0;
}

static PyObject *heap_names(HeapObject *self, PyObject *unused)
{
	PyObject *d;
	int r;

	(void)unused;
	if (!heap_live(self))
		return NULL;
	d = PyDict_New();
	if (!d)
		return NULL;
	r = shmkit_heap_names(self->heap, names_cb, d);
	if (r == -1 && PyErr_Occurred()) {
		Py_DECREF(d);
		return NULL;
	}
	if (r < 0) {
		Py_DECREF(d);
		return shmkit_py_err(r, heap_spec(self));
	}
	return d;
}

static PyObject *heap_stat(HeapObject *self, PyObject *unused)
{
	shmkit_heap_info i;
	int r;

	(void)unused;
	if (!heap_live(self))
		return NULL;
	r = shmkit_heap_stat(self->heap, &i);
	if (r < 0)
		return shmkit_py_err(r, heap_spec(self));
	return Py_BuildValue(
		"{sKsKsIsKsKsKsKsKsKsKsKsKsI}", "size",
		(unsigned long long)i.size, "max_size",
		(unsigned long long)i.max_size, "parts", i.parts, "used",
		(unsigned long long)i.used, "free", (unsigned long long)i.free,
		"largest_free", (unsigned long long)i.largest_free,
		"allocations", (unsigned long long)i.allocations, "named",
		(unsigned long long)i.named, "cached",
		(unsigned long long)i.cached, "lost_bytes",
		(unsigned long long)i.lost_bytes, "reclaimed_bytes",
		(unsigned long long)i.reclaimed_bytes, "recoveries",
		(unsigned long long)i.recoveries, "procs", i.procs);
}

static PyObject *heap_check(HeapObject *self, PyObject *unused)
{
	char why[256];
	int r;

	(void)unused;
	if (!heap_live(self))
		return NULL;
	why[0] = 0;
	r = shmkit_heap_check(self->heap, why, sizeof(why));
	if (r == -EPROTO && why[0]) {
		PyObject *exc = PyObject_CallFunction(PyExc_OSError, "iss",
						      EPROTO, why,
						      heap_spec(self));
		if (exc) {
			PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
			Py_DECREF(exc);
		}
		return NULL;
	}
	if (r < 0)
		return shmkit_py_err(r, heap_spec(self));
	Py_RETURN_NONE;
}

static PyObject *heap_reclaim(HeapObject *self, PyObject *unused)
{
	int64_t r;

	(void)unused;
	if (!heap_live(self))
		return NULL;
	r = shmkit_heap_reclaim(self->heap);
	if (r < 0)
		return shmkit_py_err((int)r, heap_spec(self));
	return PyLong_FromLongLong(r);
}

static PyObject *heap_end(HeapObject *self, int destroy)
{
	shmkit_heap *h = self->heap;
	int r;

	if (!h)
		Py_RETURN_NONE;
	if (self->exports > 0) {
		PyErr_Format(PyExc_BufferError,
			     "cannot %s the heap: %zd view(s) of its blocks "
			     "are alive (release them first)",
			     destroy ? "destroy" : "close", self->exports);
		return NULL;
	}
	r = destroy ? shmkit_heap_destroy(h) : shmkit_heap_close(h);
	if (r == -EBUSY)
		return shmkit_py_err(r, NULL); /* nothing changed */
	self->heap = NULL;
	if (r < 0)
		return shmkit_py_err(r, NULL);
	Py_RETURN_NONE;
}

static PyObject *heap_close(HeapObject *self, PyObject *unused)
{
	(void)unused;
	return heap_end(self, 0);
}

static PyObject *heap_destroy(HeapObject *self, PyObject *unused)
{
	(void)unused;
	if (!heap_live(self))
		return NULL;
	return heap_end(self, 1);
}

static PyObject *heap_enter(HeapObject *self, PyObject *unused)
{
	(void)unused;
	if (!heap_live(self))
		return NULL;
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *heap_exit(HeapObject *self, PyObject *args)
{
	(void)args;
	return heap_end(self, 0);
}

static PyObject *heap_reduce(HeapObject *self, PyObject *unused)
{
	(void)unused;
	if (!heap_live(self))
		return NULL;
	return shmkit_py_reduce((PyObject *)self, shmkit_heap_seg(self->heap),
				"a heap", "open",
				Py_BuildValue("(s)", heap_spec(self)));
}

static PyObject *heap_get_spec(HeapObject *self, void *c)
{
	(void)c;
	if (!heap_live(self))
		return NULL;
	return PyUnicode_FromString(heap_spec(self));
}

static PyObject *heap_get_closed(HeapObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->heap == NULL);
}

static PyObject *heap_repr(HeapObject *self)
{
	if (!self->heap)
		return PyUnicode_FromString("<shmkit.Heap closed>");
	return PyUnicode_FromFormat("<shmkit.Heap %s>", heap_spec(self));
}

static void heap_dealloc(HeapObject *self)
{
	if (self->heap) /* no view is alive: each holds us */
		shmkit_heap_close(self->heap);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyGetSetDef heap_getset[] = {
	{ "spec", (getter)heap_get_spec, NULL, "the heap's segment", NULL },
	{ "closed", (getter)heap_get_closed, NULL, "closed", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

#define KWFUNC(f) ((PyCFunction)(void (*)(void))(f))

static PyMethodDef heap_methods[] = {
	{ "create", KWFUNC(heap_create),
	  METH_CLASS | METH_VARARGS | METH_KEYWORDS,
	  "create(spec, size, max_size=0, mode=0o600, ephemeral=False)" },
	{ "open", (PyCFunction)heap_open, METH_CLASS | METH_VARARGS,
	  "open(spec) -> Heap" },
	{ "alloc", KWFUNC(heap_alloc), METH_VARARGS | METH_KEYWORDS,
	  "alloc(size, zero=False, align=0) -> memoryview of a new block" },
	{ "free", (PyCFunction)heap_free, METH_O,
	  "free(view_or_ref): give a block back" },
	{ "ref", (PyCFunction)heap_ref, METH_O,
	  "ref(view) -> int: the block's ref, the same in every process" },
	{ "view", (PyCFunction)heap_view_ref, METH_O,
	  "view(ref) -> memoryview of the live block ref names" },
	{ "get", KWFUNC(heap_get), METH_VARARGS | METH_KEYWORDS,
	  "get(name, size, *, with_created=False) -> memoryview of the "
	  "named object, made (zeroed) if absent" },
	{ "find", (PyCFunction)heap_find, METH_VARARGS,
	  "find(name) -> memoryview; FileNotFoundError if absent" },
	{ "unname", (PyCFunction)heap_unname, METH_VARARGS,
	  "unname(name): remove the name and free its object" },
	{ "names", (PyCFunction)heap_names, METH_NOARGS,
	  "names() -> {name: size}" },
	{ "stat", (PyCFunction)heap_stat, METH_NOARGS, "stat() -> dict" },
	{ "check", (PyCFunction)heap_check, METH_NOARGS,
	  "check(): None if sound, else OSError(EPROTO, what is wrong)" },
	{ "reclaim", (PyCFunction)heap_reclaim, METH_NOARGS,
	  "reclaim() -> bytes taken back from dead processes" },
	{ "close", (PyCFunction)heap_close, METH_NOARGS, "close the handle" },
	{ "destroy", (PyCFunction)heap_destroy, METH_NOARGS,
	  "close and remove the heap" },
	{ "__enter__", (PyCFunction)heap_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)heap_exit, METH_VARARGS, NULL },
	{ "__reduce__", (PyCFunction)heap_reduce, METH_NOARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyTypeObject HeapType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmkit.Heap",
	.tp_basicsize = sizeof(HeapObject),
	.tp_dealloc = (destructor)heap_dealloc,
	.tp_repr = (reprfunc)heap_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A heap in shared memory: Heap.create() or Heap.open().",
	.tp_methods = heap_methods,
	.tp_getset = heap_getset,
};

int shmkit_py_add_heap(PyObject *m)
{
	if (PyType_Ready(&BlockType) < 0 || PyType_Ready(&HeapType) < 0)
		return -1;
	Py_INCREF(&HeapType);
	if (PyModule_AddObject(m, "Heap", (PyObject *)&HeapType) < 0) {
		Py_DECREF(&HeapType);
		return -1;
	}
	return 0;
}
