/*
 * chan.c: shmkit.Channel, a channel endpoint (shmkit/chan.h) for Python.
 *
 * send, recv, recv_into and peek wait with the GIL released, in slices of
 * SHMKIT_PY_SLICE_NS; between slices the signal handlers run, so Ctrl-C
 * raises KeyboardInterrupt in a blocked recv. A timeout of 0 is one
 * non-blocking try with the GIL held (BlockingIOError when it would wait),
 * which is what the asyncio helper retries after fileno() polls readable.
 *
 * recv copies into a buffer the handle keeps (max_msg bytes, made on first
 * use) and returns bytes; recv_into fills the caller's buffer instead. peek
 * returns a read-only memoryview of the message in shared memory: the
 * Channel itself is the exporter, so the view keeps it alive, and release()
 * first releases that memoryview (a weak reference to it is kept) and
 * refuses with BufferError while anything derived from it (a slice, a numpy
 * array) is still alive, since the message's memory is reused as soon as
 * the library is told.
 *
 * A Channel pickles as Channel.open(spec, role), so a worker process opens
 * its own endpoint of the same channel (the library's rule: an endpoint
 * belongs to the process that opened it).
 */
#include "pyshmkit.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	PyObject_HEAD
	shmkit_chan *ch;
	int busy;            /* a thread is inside a call with the GIL let go */
	int peeking;         /* a peek is pending */
	const void *peek_ptr;
	size_t peek_len;
	Py_ssize_t exports;  /* live views of the peeked message */
	PyObject *peek_wr;   /* weakref to the memoryview peek() returned */
	void *rbuf;          /* recv()'s buffer: max_msg bytes */
} ChanObject;

static PyTypeObject ChanType;

/* A Python exception is set: what the wait loop returns after a signal. */
#define PY_ERR_SET INT_MIN

static int chan_live(ChanObject *self)
{
	if (!self->ch) {
		PyErr_SetString(PyExc_ValueError, "the channel is closed");
		return 0;
	}
	if (self->busy) {
		shmkit_py_busy();
		return 0;
	}
	return 1;
}

static const char *chan_spec(ChanObject *self)
{
	return shmkit_spec(shmkit_chan_seg(self->ch));
}

static int parse_role(PyObject *obj, shmkit_chan_role *ret)
{
	const char *s;

	if (!obj || obj == Py_None) {
		*ret = SHMKIT_CHAN_NONE;
		return 0;
	}
	s = PyUnicode_AsUTF8(obj);
	if (!s)
		return -1;
	if (!strcmp(s, "writer"))
		*ret = SHMKIT_CHAN_WRITER;
	else if (!strcmp(s, "reader"))
		*ret = SHMKIT_CHAN_READER;
	else if (!strcmp(s, "none"))
		*ret = SHMKIT_CHAN_NONE;
	else {
		PyErr_Format(PyExc_ValueError,
			     "role must be 'writer', 'reader' or None, not %R",
			     obj);
		return -1;
	}
	return 0;
}

static const char *role_name(shmkit_chan_role r)
{
	return r == SHMKIT_CHAN_WRITER ? "writer" :
	       r == SHMKIT_CHAN_READER ? "reader" : "none";
}

static PyObject *chan_wrap(PyTypeObject *type, shmkit_chan *ch)
{
	ChanObject *self = (ChanObject *)type->tp_alloc(type, 0);

	if (!self) {
		shmkit_chan_close(ch);
		return NULL;
	}
	self->ch = ch;
	return (PyObject *)self;
}

static PyObject *chan_create(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "spec", "kind", "capacity", "max_msg",
				  "role", "max_endpoints", "writers",
				  "wait_readers", "mode", "prefault", NULL };
	const char *spec, *kind = "spsc", *why;
	unsigned long long cap = 0;
	unsigned int max_msg = 0, max_ep = 0, writers = 0, mode = 0600;
	PyObject *role = NULL;
	int wait_readers = 0, prefault = 0;
	shmkit_chan_opts o;
	shmkit_chan *ch;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|sKIOIIpIp:create", kwlist,
					 &spec, &kind, &cap, &max_msg, &role,
					 &max_ep, &writers, &wait_readers,
					 &mode, &prefault))
		return NULL;
	memset(&o, 0, sizeof(o));
	if (!strcmp(kind, "spsc"))
		o.kind = SHMKIT_CHAN_SPSC;
	else if (!strcmp(kind, "mpmc"))
		o.kind = SHMKIT_CHAN_MPMC;
	else if (!strcmp(kind, "broadcast"))
		o.kind = SHMKIT_CHAN_BROADCAST;
	else {
		PyErr_Format(PyExc_ValueError,
			     "kind must be 'spsc', 'mpmc' or 'broadcast', "
			     "not '%s'", kind);
		return NULL;
	}
	if (!role)
		o.role = SHMKIT_CHAN_WRITER;
	else if (parse_role(role, &o.role) < 0)
		return NULL;
	if (shmkit_py_check_mode(mode) < 0)
		return NULL;
	o.capacity = cap;
	o.max_msg = max_msg;
	o.max_endpoints = max_ep;
	o.writers = writers;
	o.flags = wait_readers ? SHMKIT_CHAN_WAIT_READERS : 0;
	o.mode = mode;
	o.seg_flags = prefault ? SHMKIT_F_PREFAULT : 0;
	why = shmkit_chan_opts_check(&o);
	if (why) {
		PyErr_SetString(PyExc_ValueError, why);
		return NULL;
	}
	r = shmkit_chan_create(spec, &o, &ch);
	if (r < 0)
		return shmkit_py_err(r, spec);
	return chan_wrap((PyTypeObject *)cls, ch);
}

static PyObject *chan_open(PyObject *cls, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "spec", "role", NULL };
	const char *spec;
	PyObject *role_o;
	shmkit_chan_role role;
	shmkit_chan *ch;
	int r;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "sO:open", kwlist, &spec,
					 &role_o))
		return NULL;
	if (parse_role(role_o, &role) < 0)
		return NULL;
	r = shmkit_chan_open(spec, role, &ch);
	if (r < 0)
		return shmkit_py_err(r, spec);
	return chan_wrap((PyTypeObject *)cls, ch);
}

/* One library call that may wait up to its timeout; run without the GIL. */
typedef ssize_t (*chan_op)(ChanObject *self, void *arg, int64_t timeout_ns);

/*
 * Run op until it stops timing out or the whole timeout is spent, with the
 * GIL let go, checking for signals between slices. Returns op's result, or
 * PY_ERR_SET with the exception set (a signal handler raised).
 */
static ssize_t chan_wait(ChanObject *self, chan_op op, void *arg,
			 int64_t timeout_ns)
{
	int64_t deadline = -1, slice;
	ssize_t r;

	if (timeout_ns == 0)
		return op(self, arg, 0);
	if (timeout_ns > 0)
		deadline = shmkit_py_now() + timeout_ns;
	self->busy = 1;
	for (;;) {
		slice = SHMKIT_PY_SLICE_NS;
		if (deadline >= 0) {
			int64_t left = deadline - shmkit_py_now();

			if (left < slice)
				slice = left > 0 ? left : 1;
		}
		Py_BEGIN_ALLOW_THREADS
		r = op(self, arg, slice);
		Py_END_ALLOW_THREADS
		if (r != -ETIMEDOUT)
			break;
		if (deadline >= 0 && shmkit_py_now() >= deadline)
			break;
		if (PyErr_CheckSignals() < 0) {
			r = PY_ERR_SET;
			break;
		}
	}
	self->busy = 0;
	return r;
}

static ssize_t op_send(ChanObject *self, void *arg, int64_t t)
{
	Py_buffer *b = arg;

	return shmkit_chan_send(self->ch, b->buf, (size_t)b->len, t);
}

static ssize_t op_recv(ChanObject *self, void *arg, int64_t t)
{
	Py_buffer *b = arg;

	return shmkit_chan_recv(self->ch, b->buf, (size_t)b->len, t);
}

static ssize_t op_peek(ChanObject *self, void *arg, int64_t t)
{
	(void)arg;
	return shmkit_chan_peek(self->ch, &self->peek_ptr, &self->peek_len, t);
}

static PyObject *chan_fail(ChanObject *self, ssize_t r)
{
	if (r == PY_ERR_SET)
		return NULL;
	return shmkit_py_err((int)r, chan_spec(self));
}

static PyObject *chan_send(ChanObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "data", "timeout", NULL };
	Py_buffer b;
	PyObject *to = NULL;
	int64_t t;
	ssize_t r;

	if (!chan_live(self))
		return NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O:send", kwlist, &b,
					 &to))
		return NULL;
	if (shmkit_py_timeout(to, &t) < 0) {
		PyBuffer_Release(&b);
		return NULL;
	}
	r = chan_wait(self, op_send, &b, t);
	PyBuffer_Release(&b);
	if (r < 0)
		return chan_fail(self, r);
	Py_RETURN_NONE;
}

static PyObject *chan_recv_common(ChanObject *self, PyObject *to)
{
	Py_buffer b;
	size_t max;
	int64_t t;
	ssize_t r;

	if (shmkit_py_timeout(to, &t) < 0)
		return NULL;
	max = shmkit_chan_max_msg(self->ch);
	if (!self->rbuf) {
		self->rbuf = malloc(max ? max : 1);
		if (!self->rbuf)
			return PyErr_NoMemory();
	}
	b.buf = self->rbuf;
	b.len = (Py_ssize_t)max;
	r = chan_wait(self, op_recv, &b, t);
	if (r < 0)
		return chan_fail(self, r);
	return PyBytes_FromStringAndSize(self->rbuf, r);
}

static PyObject *chan_recv(ChanObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *to = NULL;

	if (!chan_live(self))
		return NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:recv", kwlist, &to))
		return NULL;
	return chan_recv_common(self, to);
}

static PyObject *chan_recv_into(ChanObject *self, PyObject *args,
				PyObject *kw)
{
	static char *kwlist[] = { "buffer", "timeout", NULL };
	Py_buffer b;
	PyObject *to = NULL;
	int64_t t;
	ssize_t r;

	if (!chan_live(self))
		return NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "w*|O:recv_into", kwlist,
					 &b, &to))
		return NULL;
	if (shmkit_py_timeout(to, &t) < 0) {
		PyBuffer_Release(&b);
		return NULL;
	}
	r = chan_wait(self, op_recv, &b, t);
	PyBuffer_Release(&b);
	if (r < 0)
		return chan_fail(self, r);
	return PyLong_FromSsize_t(r);
}

static PyObject *chan_peek(ChanObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", NULL };
	PyObject *to = NULL, *mv;
	int64_t t;
	ssize_t r;

	if (!chan_live(self))
		return NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:peek", kwlist, &to))
		return NULL;
	if (shmkit_py_timeout(to, &t) < 0)
		return NULL;
	r = chan_wait(self, op_peek, NULL, t);
	if (r < 0)
		return chan_fail(self, r);
	self->peeking = 1;
	mv = PyMemoryView_FromObject((PyObject *)self);
	if (!mv)
		return NULL; /* the peek stays pending; release() drops it */
	Py_CLEAR(self->peek_wr);
	self->peek_wr = PyWeakref_NewRef(mv, NULL);
	if (!self->peek_wr) {
		Py_DECREF(mv);
		return NULL;
	}
	return mv;
}

/* Release the memoryview peek() gave out, if it is still alive; then no
 * view of the message may remain. 0, or -1 with BufferError. */
static int chan_drop_views(ChanObject *self)
{
	if (self->peek_wr) {
		PyObject *mv, *r;

#if PY_VERSION_HEX >= 0x030D0000
		if (PyWeakref_GetRef(self->peek_wr, &mv) < 0)
			return -1;
#else
		mv = PyWeakref_GetObject(self->peek_wr);
		if (mv == Py_None)
			mv = NULL;
		Py_XINCREF(mv);
#endif
		if (mv) { /* NULL: it is gone already */
			r = PyObject_CallMethod(mv, "release", NULL);
			Py_DECREF(mv);
			if (!r)
				return -1;
			Py_DECREF(r);
		}
	}
	if (self->exports > 0) {
		PyErr_Format(PyExc_BufferError,
			     "%zd view(s) of the peeked message are still "
			     "alive (slices or arrays made from it): release "
			     "them first",
			     self->exports);
		return -1;
	}
	Py_CLEAR(self->peek_wr);
	return 0;
}

static PyObject *chan_release(ChanObject *self, PyObject *unused)
{
	int r;

	(void)unused;
	if (!chan_live(self) || chan_drop_views(self) < 0)
		return NULL;
	r = shmkit_chan_release(self->ch);
	self->peeking = 0;
	if (r < 0)
		return shmkit_py_err(r, chan_spec(self));
	Py_RETURN_NONE;
}

static PyObject *chan_end(ChanObject *self, int destroy)
{
	shmkit_chan *ch = self->ch;
	int r;

	if (!ch)
		Py_RETURN_NONE; /* closing twice is fine */
	if (self->busy)
		return shmkit_py_busy();
	if (chan_drop_views(self) < 0)
		return NULL;
	self->ch = NULL;
	self->peeking = 0;
	free(self->rbuf);
	self->rbuf = NULL;
	r = destroy ? shmkit_chan_destroy(ch) : shmkit_chan_close(ch);
	if (r < 0)
		return shmkit_py_err(r, NULL);
	Py_RETURN_NONE;
}

static PyObject *chan_close(ChanObject *self, PyObject *unused)
{
	(void)unused;
	return chan_end(self, 0);
}

static PyObject *chan_destroy(ChanObject *self, PyObject *unused)
{
	(void)unused;
	if (!chan_live(self))
		return NULL;
	return chan_end(self, 1);
}

static PyObject *chan_shutdown(ChanObject *self, PyObject *unused)
{
	int r;

	(void)unused;
	if (!chan_live(self))
		return NULL;
	r = shmkit_chan_shutdown(self->ch);
	if (r < 0)
		return shmkit_py_err(r, chan_spec(self));
	Py_RETURN_NONE;
}

static PyObject *chan_fileno(ChanObject *self, PyObject *unused)
{
	int fd;

	(void)unused;
	if (!chan_live(self))
		return NULL;
	fd = shmkit_chan_fd(self->ch);
	if (fd < 0)
		return shmkit_py_err(fd, chan_spec(self));
	return PyLong_FromLong(fd);
}

static PyObject *chan_arm(ChanObject *self, PyObject *unused)
{
	int r;

	(void)unused;
	if (!chan_live(self))
		return NULL;
	r = shmkit_chan_arm(self->ch);
	if (r < 0)
		return shmkit_py_err(r, chan_spec(self));
	return PyBool_FromLong(r == 0);
}

static PyObject *chan_set_wait(ChanObject *self, PyObject *args,
			       PyObject *kw)
{
	static char *kwlist[] = { "mode", "spin_ns", NULL };
	const char *mode;
	long long spin = 0;
	shmkit_chan_wait w;
	int r;

	if (!chan_live(self))
		return NULL;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|L:set_wait", kwlist,
					 &mode, &spin))
		return NULL;
	if (!strcmp(mode, "adaptive"))
		w = SHMKIT_CHAN_ADAPTIVE;
	else if (!strcmp(mode, "spin"))
		w = SHMKIT_CHAN_SPIN;
	else if (!strcmp(mode, "block"))
		w = SHMKIT_CHAN_BLOCK;
	else {
		PyErr_Format(PyExc_ValueError,
			     "mode must be 'adaptive', 'spin' or 'block', "
			     "not '%s'", mode);
		return NULL;
	}
	r = shmkit_chan_set_wait(self->ch, w, spin);
	if (r < 0)
		return shmkit_py_err(r, chan_spec(self));
	Py_RETURN_NONE;
}

#define SET_U(d, k, v)                                                        \
	do {                                                                  \
		PyObject *v_ = PyLong_FromUnsignedLongLong(v);                \
		if (!v_ || PyDict_SetItemString(d, k, v_) < 0) {              \
			Py_XDECREF(v_);                                       \
			goto fail;                                            \
		}                                                             \
		Py_DECREF(v_);                                                \
	} while (0)

static PyObject *chan_stat(ChanObject *self, PyObject *unused)
{
	shmkit_chan_info info;
	shmkit_chan_ep_info eps[64];
	PyObject *d = NULL, *l = NULL, *e = NULL, *s;
	int n, i;

	(void)unused;
	if (!chan_live(self))
		return NULL;
	n = shmkit_chan_stat(self->ch, &info, eps, 64);
	if (n < 0)
		return shmkit_py_err(n, chan_spec(self));
	d = PyDict_New();
	l = PyList_New(0);
	if (!d || !l)
		goto fail;
	s = PyUnicode_FromString(shmkit_chan_kind_name(info.kind));
	if (!s || PyDict_SetItemString(d, "kind", s) < 0) {
		Py_XDECREF(s);
		goto fail;
	}
	Py_DECREF(s);
	SET_U(d, "capacity", info.capacity);
	SET_U(d, "max_msg", info.max_msg);
	SET_U(d, "slot_size", info.slot_size);
	SET_U(d, "max_endpoints", info.max_endpoints);
	SET_U(d, "size", info.size);
	SET_U(d, "used", info.used);
	SET_U(d, "sent", info.sent);
	SET_U(d, "received", info.received);
	SET_U(d, "poisoned", info.poisoned);
	SET_U(d, "dropped", info.dropped);
	SET_U(d, "reclaimed", info.reclaimed);
	SET_U(d, "writers", info.writers);
	SET_U(d, "readers", info.readers);
	SET_U(d, "ended", !!(info.stream & SHMKIT_CHAN_STREAM_ENDED));
	SET_U(d, "reset", !!(info.stream & SHMKIT_CHAN_STREAM_RESET));
	SET_U(d, "dead_writer", (unsigned long long)info.dead_writer);
	for (i = 0; i < n && i < 64; i++) {
		e = PyDict_New();
		if (!e)
			goto fail;
		s = PyUnicode_FromString(role_name(eps[i].role));
		if (!s || PyDict_SetItemString(e, "role", s) < 0) {
			Py_XDECREF(s);
			goto fail;
		}
		Py_DECREF(s);
		SET_U(e, "pid", (unsigned long long)eps[i].pid);
		s = eps[i].alive < 0 ? Py_None : PyBool_FromLong(eps[i].alive);
		if (s == Py_None)
			Py_INCREF(s);
		if (PyDict_SetItemString(e, "alive", s) < 0) {
			Py_DECREF(s);
			goto fail;
		}
		Py_DECREF(s);
		SET_U(e, "msgs", eps[i].msgs);
		SET_U(e, "bytes", eps[i].bytes);
		SET_U(e, "lost", eps[i].lost);
		SET_U(e, "lag", eps[i].lag);
		if (PyList_Append(l, e) < 0)
			goto fail;
		Py_CLEAR(e);
	}
	if (PyDict_SetItemString(d, "endpoints", l) < 0)
		goto fail;
	Py_DECREF(l);
	return d;
fail:
	Py_XDECREF(e);
	Py_XDECREF(l);
	Py_XDECREF(d);
	return NULL;
}

static PyObject *chan_next(ChanObject *self)
{
	PyObject *r;

	if (!chan_live(self))
		return NULL;
	r = chan_recv_common(self, NULL);
	if (!r && PyErr_ExceptionMatches(PyExc_BrokenPipeError))
		PyErr_Clear(); /* the clean end of the stream: StopIteration */
	return r;
}

static PyObject *chan_iter(ChanObject *self)
{
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *chan_enter(ChanObject *self, PyObject *unused)
{
	(void)unused;
	if (!chan_live(self))
		return NULL;
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *chan_exit(ChanObject *self, PyObject *args)
{
	(void)args;
	return chan_end(self, 0);
}

static PyObject *chan_reduce(ChanObject *self, PyObject *unused)
{
	(void)unused;
	if (!chan_live(self))
		return NULL;
	return shmkit_py_reduce((PyObject *)self, shmkit_chan_seg(self->ch),
				"a channel", "open",
				Py_BuildValue("(ss)", chan_spec(self),
					      role_name(shmkit_chan_role_of(
						      self->ch))));
}

static PyObject *chan_repr(ChanObject *self)
{
	if (!self->ch)
		return PyUnicode_FromString("<shmkit.Channel closed>");
	return PyUnicode_FromFormat(
		"<shmkit.Channel %s %s %s>", chan_spec(self),
		shmkit_chan_kind_name(shmkit_chan_kind_of(self->ch)),
		role_name(shmkit_chan_role_of(self->ch)));
}

static void chan_dealloc(ChanObject *self)
{
	/* No view can be alive: each holds a reference to us. */
	if (self->ch)
		shmkit_chan_close(self->ch);
	Py_CLEAR(self->peek_wr);
	free(self->rbuf);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int chan_getbuffer(ChanObject *self, Py_buffer *view, int flags)
{
	if (!self->ch || !self->peeking) {
		PyErr_SetString(PyExc_BufferError,
				"no message is being peeked: a Channel is a "
				"buffer only between peek() and release()");
		view->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->peek_ptr,
			      (Py_ssize_t)self->peek_len, 1, flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void chan_releasebuffer(ChanObject *self, Py_buffer *view)
{
	(void)view;
	self->exports--;
}

static PyObject *chan_get_kind(ChanObject *self, void *c)
{
	(void)c;
	if (!chan_live(self))
		return NULL;
	return PyUnicode_FromString(
		shmkit_chan_kind_name(shmkit_chan_kind_of(self->ch)));
}

static PyObject *chan_get_role(ChanObject *self, void *c)
{
	(void)c;
	if (!chan_live(self))
		return NULL;
	return PyUnicode_FromString(role_name(shmkit_chan_role_of(self->ch)));
}

static PyObject *chan_get_max_msg(ChanObject *self, void *c)
{
	(void)c;
	if (!chan_live(self))
		return NULL;
	return PyLong_FromSize_t(shmkit_chan_max_msg(self->ch));
}

static PyObject *chan_get_spec(ChanObject *self, void *c)
{
	(void)c;
	if (!chan_live(self))
		return NULL;
	return PyUnicode_FromString(chan_spec(self));
}

static PyObject *chan_get_lost(ChanObject *self, void *c)
{
	(void)c;
	if (!chan_live(self))
		return NULL;
	return PyLong_FromUnsignedLongLong(shmkit_chan_lost(self->ch));
}

static PyObject *chan_get_closed(ChanObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->ch == NULL);
}

static PyGetSetDef chan_getset[] = {
	{ "kind", (getter)chan_get_kind, NULL, "'spsc', 'mpmc', 'broadcast'",
	  NULL },
	{ "role", (getter)chan_get_role, NULL, "'writer', 'reader', 'none'",
	  NULL },
	{ "max_msg", (getter)chan_get_max_msg, NULL,
	  "the largest message in bytes", NULL },
	{ "spec", (getter)chan_get_spec, NULL, "the segment's spec", NULL },
	{ "lost", (getter)chan_get_lost, NULL,
	  "broadcast reader: messages lost to lapping", NULL },
	{ "closed", (getter)chan_get_closed, NULL, "closed", NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

#define KWFUNC(f) ((PyCFunction)(void (*)(void))(f))

static PyMethodDef chan_methods[] = {
	{ "create", KWFUNC(chan_create),
	  METH_CLASS | METH_VARARGS | METH_KEYWORDS,
	  "create(spec, kind='spsc', capacity=0, max_msg=0, role='writer', "
	  "max_endpoints=0, writers=0, wait_readers=False, mode=0o600, "
	  "prefault=False) -> Channel" },
	{ "open", KWFUNC(chan_open), METH_CLASS | METH_VARARGS | METH_KEYWORDS,
	  "open(spec, role) -> Channel; role 'writer', 'reader' or None" },
	{ "send", KWFUNC(chan_send), METH_VARARGS | METH_KEYWORDS,
	  "send(data, timeout=None): one message from a bytes-like object" },
	{ "recv", KWFUNC(chan_recv), METH_VARARGS | METH_KEYWORDS,
	  "recv(timeout=None) -> bytes; BrokenPipeError at the end" },
	{ "recv_into", KWFUNC(chan_recv_into), METH_VARARGS | METH_KEYWORDS,
	  "recv_into(buffer, timeout=None) -> length" },
	{ "peek", KWFUNC(chan_peek), METH_VARARGS | METH_KEYWORDS,
	  "peek(timeout=None) -> read-only memoryview, until release()" },
	{ "release", (PyCFunction)chan_release, METH_NOARGS,
	  "Consume the peeked message (releases peek()'s memoryview)." },
	{ "shutdown", (PyCFunction)chan_shutdown, METH_NOARGS,
	  "Writer: end the stream for every reader." },
	{ "close", (PyCFunction)chan_close, METH_NOARGS,
	  "Close the endpoint (peers see the end of the stream)." },
	{ "destroy", (PyCFunction)chan_destroy, METH_NOARGS,
	  "Close and remove the channel's segment." },
	{ "fileno", (PyCFunction)chan_fileno, METH_NOARGS,
	  "A descriptor that polls readable when a wait may end (see arm)." },
	{ "arm", (PyCFunction)chan_arm, METH_NOARGS,
	  "arm() -> True if it is safe to wait on fileno(), False to retry." },
	{ "set_wait", KWFUNC(chan_set_wait), METH_VARARGS | METH_KEYWORDS,
	  "set_wait(mode, spin_ns=0): 'adaptive', 'spin' or 'block'" },
	{ "stat", (PyCFunction)chan_stat, METH_NOARGS,
	  "stat() -> dict: counters and endpoints" },
	{ "__enter__", (PyCFunction)chan_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)chan_exit, METH_VARARGS, NULL },
	{ "__reduce__", (PyCFunction)chan_reduce, METH_NOARGS, NULL },
	{ NULL, NULL, 0, NULL }
};

static PyBufferProcs chan_as_buffer = {
	(getbufferproc)chan_getbuffer,
	(releasebufferproc)chan_releasebuffer,
};

static PyTypeObject ChanType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmkit.Channel",
	.tp_basicsize = sizeof(ChanObject),
	.tp_dealloc = (destructor)chan_dealloc,
	.tp_repr = (reprfunc)chan_repr,
	.tp_as_buffer = &chan_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A channel endpoint: Channel.create() or Channel.open(). "
		  "Iterating receives until the end of the stream.",
	.tp_iter = (getiterfunc)chan_iter,
	.tp_iternext = (iternextfunc)chan_next,
	.tp_methods = chan_methods,
	.tp_getset = chan_getset,
};

int shmkit_py_add_chan(PyObject *m)
{
	if (PyType_Ready(&ChanType) < 0)
		return -1;
	Py_INCREF(&ChanType);
	if (PyModule_AddObject(m, "Channel", (PyObject *)&ChanType) < 0) {
		Py_DECREF(&ChanType);
		return -1;
	}
	return 0;
}
