/*
 * shmkitmodule.c: the extension module shmkit._shmkit: errors, module
 * functions and the Segment type.
 *
 * A Segment wraps one shmkit_seg handle. It exports its mapping through the
 * buffer protocol, so memoryview(seg) and numpy.frombuffer(seg) are views
 * of the shared memory itself, not copies. The mapping must outlive every
 * such view: detach, destroy and resize refuse with BufferError while one is
 * alive (the count is kept in the object), rather than unmapping memory a
 * view still points into. A Segment that is garbage-collected detaches; it
 * cannot be collected while a view holds it.
 *
 * Pickling is by name: a Segment pickles as Segment.attach(spec, readonly),
 * so it can be handed to multiprocessing workers, which attach the same
 * segment. anon: and memfd: segments have no name another process can
 * attach (they are shared by inheritance or fd passing), so they refuse to
 * pickle instead of attaching something else on the other side.
 *
 * Segment calls do not let go of the GIL: none of them waits for another
 * process (a create may take as long as reserving its size does).
 */
#include "pyshmkit.h"

#include <errno.h>
#include <string.h>
#include <time.h>

PyObject *shmkit_py_err(int err, const char *spec)
{
	PyObject *exc;
	int e = err < 0 ? -err : err;

	if (spec)
		exc = PyObject_CallFunction(PyExc_OSError, "iss", e,
					    shmkit_strerror(e), spec);
	else
		exc = PyObject_CallFunction(PyExc_OSError, "is", e,
					    shmkit_strerror(e));
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

PyObject *shmkit_py_busy(void)
{
	PyErr_SetString(PyExc_RuntimeError,
			"this shmkit object is in use by another thread "
			"(a handle serves one thread at a time)");
	return NULL;
}

int shmkit_py_check_mode(unsigned int mode)
{
	if (mode != 0 && mode <= 07777)
		return 0;
	PyErr_SetString(PyExc_ValueError,
			"mode must be permission bits, 0o1 .. 0o7777");
	return -1;
}

PyObject *shmkit_py_reduce(PyObject *self, shmkit_seg *seg, const char *what,
			   const char *method, PyObject *args)
{
	shmkit_backend b = shmkit_backend_of(seg);
	PyObject *open;

	if (!args)
		return NULL;
	if (b == SHMKIT_BACKEND_ANON || b == SHMKIT_BACKEND_MEMFD) {
		Py_DECREF(args);
		PyErr_Format(PyExc_TypeError,
			     "cannot pickle %s in a %s: segment: it has no name "
			     "another process can open (share it by fork or fd "
			     "passing)",
			     what, shmkit_backend_name(b));
		return NULL;
	}
	open = PyObject_GetAttrString((PyObject *)Py_TYPE(self), method);
	if (!open) {
		Py_DECREF(args);
		return NULL;
	}
	return Py_BuildValue("(NN)", open, args);
}

int shmkit_py_timeout(PyObject *obj, int64_t *ret_ns)
{
	double s;

	if (!obj || obj == Py_None) {
		*ret_ns = SHMKIT_CHAN_FOREVER;
		return 0;
	}
	s = PyFloat_AsDouble(obj);
	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (!(s >= 0)) {
		PyErr_SetString(PyExc_ValueError,
				"timeout must be None or a number of seconds >= 0");
		return -1;
	}
	if (s > 9e9) /* ~285 years: forever in practice, and no overflow */
		*ret_ns = SHMKIT_CHAN_FOREVER;
	else
		*ret_ns = (int64_t)(s * 1e9);
	return 0;
}

int64_t shmkit_py_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Segment                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	shmkit_seg *seg;
	Py_ssize_t exports; /* live buffer views */
	int readonly;
} SegObject;

static PyTypeObject SegType;

static int seg_live(SegObject *self)
{
	if (!self->seg) {
		PyErr_SetString(PyExc_ValueError, "the segment is detached");
		return 0;
	}
	return 1;
}

static int seg_unviewed(SegObject *self, const char *what)
{
	if (self->exports > 0) {
		PyErr_Format(PyExc_BufferError,
			     "cannot %s the segment: %zd buffer view(s) of it "
			     "are alive (release them first)",
			     what, self->exports);
		return 0;
	}
	return 1;
}

static PyObject *seg_wrap(PyTypeObject *type, shmkit_seg *seg, int readonly)
{
	SegObject *self = (SegObject *)type->tp_alloc(type, 0);

	if (!self) {
		shmkit_detach(seg);
		return NULL;
	}
	self->seg = seg;
	self->readonly = readonly;
	return (PyObject *)self;
}

static PyObject *seg_create(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "spec", "size", "mode", "ephemeral",
				  "prefault", "noreserve", "huge", "seal",
				  NULL };
	const char *spec;
	Py_ssize_t size;
	unsigned int mode = 0600;
	int eph = 0, pre = 0, nores = 0, huge = 0, seal = 0;
	shmkit_opts o;
	shmkit_seg *seg;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "sn|Ippppp:create", kwlist,
					 &spec, &size, &mode, &eph, &pre,
					 &nores, &huge, &seal))
		return NULL;
	if (size <= 0) {
		PyErr_SetString(PyExc_ValueError, "size must be > 0");
		return NULL;
	}
	if (shmkit_py_check_mode(mode) < 0)
		return NULL;
	memset(&o, 0, sizeof(o));
	o.mode = mode;
	o.flags = (eph ? SHMKIT_F_EPHEMERAL : 0) |
		  (pre ? SHMKIT_F_PREFAULT : 0) |
		  (nores ? SHMKIT_F_NORESERVE : 0) |
		  (huge ? SHMKIT_F_HUGE : 0) | (seal ? SHMKIT_F_SEAL : 0);
	r = shmkit_create(spec, (size_t)size, &o, &seg);
	if (r < 0)
		return shmkit_py_err(r, spec);
	return seg_wrap((PyTypeObject *)cls, seg, 0);
}

static PyObject *seg_attach(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "spec", "readonly", "prefault", NULL };
	const char *spec;
	int ro = 0, pre = 0;
	shmkit_opts o;
	shmkit_seg *seg;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|pp:attach", kwlist,
					 &spec, &ro, &pre))
		return NULL;
	memset(&o, 0, sizeof(o));
	o.flags = (ro ? SHMKIT_F_RDONLY : 0) | (pre ? SHMKIT_F_PREFAULT : 0);
	r = shmkit_attach(spec, &o, &seg);
	if (r < 0)
		return shmkit_py_err(r, spec);
	return seg_wrap((PyTypeObject *)cls, seg, ro);
}

static PyObject *seg_detach(SegObject *self, PyObject *unused)
{
	int r;

	(void)unused;
	if (!self->seg)
		Py_RETURN_NONE; /* like file.close(): twice is fine */
	if (!seg_unviewed(self, "detach"))
		return NULL;
	r = shmkit_detach(self->seg);
	if (r < 0)
		return shmkit_py_err(r, shmkit_spec(self->seg));
	self->seg = NULL;
	Py_RETURN_NONE;
}

static PyObject *seg_destroy(SegObject *self, PyObject *unused)
{
	char spec[SHMKIT_SPEC_MAX];
	int r;

	(void)unused;
	if (!seg_live(self) || !seg_unviewed(self, "destroy"))
		return NULL;
	snprintf(spec, sizeof(spec), "%s", shmkit_spec(self->seg));
	r = shmkit_destroy(self->seg);
	if (r == -EBUSY)
		return shmkit_py_err(r, spec); /* nothing changed */
	self->seg = NULL; /* otherwise the handle is gone, error or not */
	if (r < 0)
		return shmkit_py_err(r, spec);
	Py_RETURN_NONE;
}

static PyObject *seg_resize(SegObject *self, PyObject *arg)
{
	Py_ssize_t size = PyLong_AsSsize_t(arg);
	int r;

	if (size == -1 && PyErr_Occurred())
		return NULL;
	if (!seg_live(self) || !seg_unviewed(self, "resize"))
		return NULL;
	if (size <= 0) {
		PyErr_SetString(PyExc_ValueError, "size must be > 0");
		return NULL;
	}
	r = shmkit_resize(self->seg, (size_t)size);
	if (r < 0)
		return shmkit_py_err(r, shmkit_spec(self->seg));
	Py_RETURN_NONE;
}

static PyObject *seg_fileno(SegObject *self, PyObject *unused)
{
	int fd;

	(void)unused;
	if (!seg_live(self))
		return NULL;
	fd = shmkit_fd(self->seg);
	if (fd < 0)
		return shmkit_py_err(fd, shmkit_spec(self->seg));
	return PyLong_FromLong(fd);
}

static PyObject *seg_enter(SegObject *self, PyObject *unused)
{
	(void)unused;
	if (!seg_live(self))
		return NULL;
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *seg_exit(SegObject *self, PyObject *args)
{
	(void)args;
	return seg_detach(self, NULL);
}

static PyObject *seg_reduce(SegObject *self, PyObject *unused)
{
	(void)unused;
	if (!seg_live(self))
		return NULL;
	return shmkit_py_reduce((PyObject *)self, self->seg, "a segment",
				"attach",
				Py_BuildValue("(sO)", shmkit_spec(self->seg),
					      self->readonly ? Py_True
							     : Py_False));
}

static PyObject *seg_repr(SegObject *self)
{
	if (!self->seg)
		return PyUnicode_FromString("<shmkit.Segment detached>");
	return PyUnicode_FromFormat("<shmkit.Segment %s size=%zu%s>",
				    shmkit_spec(self->seg),
				    shmkit_size(self->seg),
				    self->readonly ? " readonly" : "");
}

static void seg_dealloc(SegObject *self)
{
	if (self->seg)
		shmkit_detach(self->seg); /* no view can exist: each holds us */
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int seg_getbuffer(SegObject *self, Py_buffer *view, int flags)
{
	if (!self->seg) {
		PyErr_SetString(PyExc_BufferError, "the segment is detached");
		view->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)self, shmkit_addr(self->seg),
			      (Py_ssize_t)shmkit_size(self->seg),
			      self->readonly, flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void seg_releasebuffer(SegObject *self, Py_buffer *view)
{
	(void)view;
	self->exports--;
}

static PyObject *seg_get_size(SegObject *self, void *c)
{
	(void)c;
	if (!seg_live(self))
		return NULL;
	return PyLong_FromSize_t(shmkit_size(self->seg));
}

static PyObject *seg_get_spec(SegObject *self, void *c)
{
	(void)c;
	if (!seg_live(self))
		return NULL;
	return PyUnicode_FromString(shmkit_spec(self->seg));
}

static PyObject *seg_get_backend(SegObject *self, void *c)
{
	(void)c;
	if (!seg_live(self))
		return NULL;
	return PyUnicode_FromString(
		shmkit_backend_name(shmkit_backend_of(self->seg)));
}

static PyObject *seg_get_readonly(SegObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->readonly);
}

static PyObject *seg_get_closed(SegObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->seg == NULL);
}

static PyGetSetDef seg_getset[] = {
	{ "size", (getter)seg_get_size, NULL, "size in bytes", NULL },
	{ "spec", (getter)seg_get_spec, NULL, "canonical spec", NULL },
	{ "backend", (getter)seg_get_backend, NULL,
	  "'posix', 'sysv', 'file', 'memfd', 'fd' or 'anon'", NULL },
	{ "readonly", (getter)seg_get_readonly, NULL,
	  "attached read-only", NULL },
	{ "closed", (getter)seg_get_closed, NULL, "detached", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

#define KWFUNC(f) ((PyCFunction)(void (*)(void))(f))

static PyMethodDef seg_methods[] = {
	{ "create", KWFUNC(seg_create),
	  METH_CLASS | METH_VARARGS | METH_KEYWORDS,
	  "create(spec, size, mode=0o600, ephemeral=False, prefault=False, "
	  "noreserve=False, huge=False, seal=False) -> Segment\n"
	  "Make a new segment (exclusive: FileExistsError if taken)." },
	{ "attach", KWFUNC(seg_attach),
	  METH_CLASS | METH_VARARGS | METH_KEYWORDS,
	  "attach(spec, readonly=False, prefault=False) -> Segment" },
	{ "detach", (PyCFunction)seg_detach, METH_NOARGS,
	  "Unmap; the segment stays. BufferError while views exist." },
	{ "close", (PyCFunction)seg_detach, METH_NOARGS, "Same as detach()." },
	{ "destroy", (PyCFunction)seg_destroy, METH_NOARGS,
	  "Remove the segment's name and detach." },
	{ "resize", (PyCFunction)seg_resize, METH_O,
	  "resize(size): grow or shrink (not sysv:, anon:)." },
	{ "fileno", (PyCFunction)seg_fileno, METH_NOARGS,
	  "The descriptor behind the mapping (owned by the segment)." },
	{ "__enter__", (PyCFunction)seg_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)seg_exit, METH_VARARGS, NULL },
	{ "__reduce__", (PyCFunction)seg_reduce, METH_NOARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyBufferProcs seg_as_buffer = {
	(getbufferproc)seg_getbuffer,
	(releasebufferproc)seg_releasebuffer,
};

static PyTypeObject SegType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmkit.Segment",
	.tp_basicsize = sizeof(SegObject),
	.tp_dealloc = (destructor)seg_dealloc,
	.tp_repr = (reprfunc)seg_repr,
	.tp_as_buffer = &seg_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A shared memory segment: Segment.create() or "
		  "Segment.attach(); a buffer (memoryview, numpy).",
	.tp_methods = seg_methods,
	.tp_getset = seg_getset,
};

int shmkit_py_add_seg(PyObject *m)
{
	if (PyType_Ready(&SegType) < 0)
		return -1;
	Py_INCREF(&SegType);
	if (PyModule_AddObject(m, "Segment", (PyObject *)&SegType) < 0) {
		Py_DECREF(&SegType);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Module functions                                                          */
/* ------------------------------------------------------------------------ */

static PyObject *mod_unlink(PyObject *m, PyObject *args)
{
	const char *spec;
	int r;

	(void)m;
	if (!PyArg_ParseTuple(args, "s:unlink", &spec))
		return NULL;
	r = shmkit_unlink(spec);
	if (r < 0)
		return shmkit_py_err(r, spec);
	Py_RETURN_NONE;
}

static PyObject *mod_spec_check(PyObject *m, PyObject *args)
{
	const char *spec, *why;

	(void)m;
	if (!PyArg_ParseTuple(args, "s:spec_check", &spec))
		return NULL;
	why = shmkit_spec_check(spec);
	if (!why)
		Py_RETURN_NONE;
	return PyUnicode_FromString(why);
}

static PyObject *mod_strerror(PyObject *m, PyObject *args)
{
	int err;

	(void)m;
	if (!PyArg_ParseTuple(args, "i:strerror", &err))
		return NULL;
	return PyUnicode_FromString(shmkit_strerror(err));
}

static PyMethodDef mod_methods[] = {
	{ "unlink", mod_unlink, METH_VARARGS,
	  "unlink(spec): remove a segment by name without attaching." },
	{ "spec_check", mod_spec_check, METH_VARARGS,
	  "spec_check(spec) -> None if well-formed, else why not." },
	{ "strerror", mod_strerror, METH_VARARGS,
	  "strerror(errno) -> shmkit's text for it." },
	{ NULL, NULL, 0, NULL }
};

static struct PyModuleDef shmkit_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "shmkit._shmkit",
	.m_doc = "shmkit's C core: segments, channels and heaps in shared "
		 "memory. Use the shmkit package.",
	.m_size = -1,
	.m_methods = mod_methods,
};

PyMODINIT_FUNC PyInit__shmkit(void);

PyMODINIT_FUNC PyInit__shmkit(void)
{
	PyObject *m = PyModule_Create(&shmkit_module);

	if (!m)
		return NULL;
	if (PyModule_AddStringConstant(m, "version",
				       shmkit_version_string()) < 0 ||
	    shmkit_py_add_seg(m) < 0 || shmkit_py_add_chan(m) < 0 ||
	    shmkit_py_add_heap(m) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
