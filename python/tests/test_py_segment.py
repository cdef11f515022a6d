"""test_py_segment.py: shmkit.Segment: every call, its errors, the buffer
protocol (memoryview, numpy) and its guard against dangling views, pickling
to another process. The same body runs on posix:, file: and sysv:."""
import multiprocessing
import os
import pickle
import stat

import shmkit
from shmtest import Case, main, fork_child, wait_pid

try:
    import numpy
except ImportError:  # python3-numpy is in .ci/run's need list
    numpy = None


def sysv_spec(case):
    key = 0x53500000 | ((os.getpid() & 0xfff) << 8) | (hash(case.id()) & 0xff)
    spec = "sysv:0x%x" % key
    case.addCleanup(lambda: _unlink_quiet(spec))
    return spec


def _unlink_quiet(spec):
    try:
        shmkit.unlink(spec)
    except OSError:
        pass


def child_write(spec, data):
    with shmkit.Segment.attach(spec) as s:
        memoryview(s)[:len(data)] = data


class BackendBody:
    """The body every backend runs; subclasses say how to name one."""

    def make_spec(self):
        raise NotImplementedError

    def test_create_attach_share(self):
        spec = self.make_spec()
        a = shmkit.Segment.create(spec, 8192)
        self.addCleanup(a.detach)
        self.assertEqual(a.size, 8192)
        self.assertEqual(a.backend, self.backend)
        self.assertFalse(a.closed)
        b = shmkit.Segment.attach(a.spec)
        self.assertEqual(b.size, 8192)
        mb = memoryview(b)
        memoryview(a)[100:105] = b"hello"
        self.assertEqual(bytes(mb[100:105]), b"hello")
        mb.release()
        b.detach()
        self.assertTrue(b.closed)
        b.detach()  # twice is fine
        with self.assertRaises(ValueError):
            b.size

    def test_views_pin_the_mapping(self):
        s = shmkit.Segment.create(self.make_spec(), 4096)
        v = memoryview(s)
        for op in (s.detach, s.destroy, lambda: s.resize(8192)):
            with self.assertRaises(BufferError):
                op()
        self.assertFalse(s.closed)
        v[0] = 7  # still mapped
        v.release()
        s.destroy()
        self.assertTrue(s.closed)
        with self.assertRaises(FileNotFoundError):
            shmkit.Segment.attach(self.last_spec)

    def test_exclusive_create(self):
        spec = self.make_spec()
        with shmkit.Segment.create(spec, 4096):
            with self.assertRaises(FileExistsError) as cm:
                shmkit.Segment.create(spec, 4096)
            self.assertEqual(cm.exception.filename, spec)

    def test_fork_child_writes(self):
        with shmkit.Segment.create(self.make_spec(), 4096) as s:
            pid = fork_child(lambda: child_write(s.spec, b"from child"))
            self.assertEqual(wait_pid(pid), 0)
            self.assertEqual(bytes(memoryview(s)[:10]), b"from child")

    def test_pickle_to_worker(self):
        with shmkit.Segment.create(self.make_spec(), 4096) as s:
            again = pickle.loads(pickle.dumps(s))
            self.assertEqual(again.spec, s.spec)
            again.detach()
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(1) as pool:
                r = pool.apply_async(_worker_fill, (s, 0x5a))
                self.assertEqual(r.get(timeout=60), 4096)
            self.assertEqual(bytes(memoryview(s)), b"\x5a" * 4096)


def _worker_fill(seg, value):
    with seg:
        memoryview(seg)[:] = bytes([value]) * seg.size
        return seg.size


class Posix(BackendBody, Case):
    backend = "posix"

    def make_spec(self):
        self.last_spec = self.spec("seg")
        return self.last_spec

    def test_resize_and_fileno(self):
        with shmkit.Segment.create(self.make_spec(), 4096) as s:
            s.resize(65536)
            self.assertEqual(s.size, 65536)
            self.assertEqual(os.fstat(s.fileno()).st_size, 65536)
            memoryview(s)[65535] = 1
            with self.assertRaises(ValueError):
                s.resize(0)

    def test_mode_and_readonly(self):
        spec = self.make_spec()
        with shmkit.Segment.create(spec, 4096, mode=0o640) as s:
            self.assertEqual(stat.S_IMODE(os.fstat(s.fileno()).st_mode),
                             0o640)
            memoryview(s)[:3] = b"abc"
            ro = shmkit.Segment.attach(spec, readonly=True)
            self.assertTrue(ro.readonly)
            v = memoryview(ro)
            self.assertTrue(v.readonly)
            self.assertEqual(bytes(v[:3]), b"abc")
            with self.assertRaises(TypeError):
                v[0] = 1
            v.release()
            # a writable buffer of a read-only segment is refused
            import ctypes
            with self.assertRaises(TypeError):
                ctypes.c_char.from_buffer(ro)
            ro2 = pickle.loads(pickle.dumps(ro))
            self.assertTrue(ro2.readonly)
            ro2.detach()
            ro.detach()

    def test_bad_input_changes_nothing(self):
        spec = self.make_spec()
        for bad in ("posix:", "posix:/a/b", "nosuch:x", "posix:/" + "x" * 300):
            with self.assertRaises(OSError) as cm:
                shmkit.Segment.create(bad, 4096)
            self.assertIn(cm.exception.errno, (22, 36))  # EINVAL, ENAMETOOLONG
            self.assertIsNotNone(shmkit.spec_check(bad))
        self.assertIsNone(shmkit.spec_check(spec))
        with self.assertRaises(ValueError):
            shmkit.Segment.create(spec, 0)
        with self.assertRaises(ValueError):
            shmkit.Segment.create(spec, -5)
        with self.assertRaises(ValueError):
            shmkit.Segment.create(spec, 4096, mode=0o10000)
        with self.assertRaises(TypeError):
            shmkit.Segment.create(spec)
        with self.assertRaises(FileNotFoundError):
            shmkit.Segment.attach(spec)  # none of the above made it
        with self.assertRaises(FileNotFoundError):
            shmkit.unlink(spec)

    def test_flags(self):
        spec = self.make_spec()
        with shmkit.Segment.create(spec, 1 << 16, prefault=True) as s:
            memoryview(s)[-1] = 1
            with shmkit.Segment.attach(spec, prefault=True) as t:
                self.assertEqual(memoryview(t)[-1], 1)
        shmkit.unlink(spec)
        with shmkit.Segment.create(spec, 1 << 16, noreserve=True) as s:
            self.assertEqual(s.size, 1 << 16)
        shmkit.unlink(spec)
        # posix: is plain tmpfs (no huge pages) and cannot be sealed
        with self.assertRaises(OSError) as cm:
            shmkit.Segment.create(spec, 1 << 21, huge=True)
        self.assertEqual(cm.exception.errno, 95)  # ENOTSUP
        with self.assertRaises(OSError) as cm:
            shmkit.Segment.create(spec, 4096, seal=True)
        self.assertEqual(cm.exception.errno, 22)  # EINVAL
        with self.assertRaises(FileNotFoundError):
            shmkit.Segment.attach(spec)  # neither left anything

    def test_memfd_sealed_and_fd_spec(self):
        with shmkit.Segment.create("memfd:pytest", 4096, seal=True) as s:
            self.assertEqual(s.backend, "memfd")
            with self.assertRaises(OSError):
                s.resize(8192)  # sealed against size changes
            memoryview(s)[:2] = b"fd"
            with shmkit.Segment.attach("fd:%d" % s.fileno()) as t:
                self.assertEqual(t.backend, "fd")
                self.assertEqual(bytes(memoryview(t)[:2]), b"fd")
            with self.assertRaises(TypeError):
                pickle.dumps(s)

    def test_ephemeral(self):
        spec = self.make_spec()
        s = shmkit.Segment.create(spec, 4096, ephemeral=True)
        self.assertTrue(os.path.exists("/dev/shm/" + spec[len("posix:/"):]))
        s.destroy()

    def test_unlink_while_attached(self):
        spec = self.make_spec()
        with shmkit.Segment.create(spec, 4096) as s:
            shmkit.unlink(spec)
            memoryview(s)[0] = 1  # the mapping outlives the name
            with self.assertRaises(FileNotFoundError):
                shmkit.Segment.attach(spec)

    def test_repr_and_strerror(self):
        with shmkit.Segment.create(self.make_spec(), 4096) as s:
            self.assertIn(s.spec, repr(s))
        self.assertIn("detached", repr(s))
        self.assertTrue(shmkit.strerror(2))
        self.assertRegex(shmkit.version, r"^\d+\.\d+\.\d+$")

    def test_numpy_zero_copy(self):
        if numpy is None:
            self.skipTest("python3-numpy is not installed")
        spec = self.make_spec()
        with shmkit.Segment.create(spec, 8 * 1000) as s:
            a = numpy.frombuffer(s, dtype=numpy.float64)
            self.assertEqual(a.shape, (1000,))
            a[:] = numpy.arange(1000) * 0.5
            with self.assertRaises(BufferError):
                s.detach()
            b_seg = shmkit.Segment.attach(spec)
            b = numpy.frombuffer(b_seg, dtype=numpy.float64)
            self.assertTrue(numpy.array_equal(b, numpy.arange(1000) * 0.5))
            b[3] = -1.0  # seen through a: same memory
            self.assertEqual(a[3], -1.0)
            del a, b
            b_seg.detach()


class File(BackendBody, Case):
    backend = "file"

    def make_spec(self):
        self.last_spec = self.spec("seg", "file")
        return self.last_spec


class Sysv(BackendBody, Case):
    backend = "sysv"

    def make_spec(self):
        self.last_spec = sysv_spec(self)
        return self.last_spec

    def test_resize_refused(self):
        with shmkit.Segment.create(self.make_spec(), 4096) as s:
            with self.assertRaises(OSError) as cm:
                s.resize(8192)
            self.assertEqual(cm.exception.errno, 95)  # ENOTSUP
            self.assertEqual(s.size, 4096)  # nothing changed
            with self.assertRaises(OSError):
                s.fileno()


class Anon(Case):
    def test_anon_shared_with_fork_not_pickled(self):
        with shmkit.Segment.create("anon:", 4096) as s:
            self.assertEqual(s.backend, "anon")
            v = memoryview(s)

            def child():
                v[:2] = b"ok"
            self.assertEqual(wait_pid(fork_child(child)), 0)
            self.assertEqual(bytes(v[:2]), b"ok")
            v.release()
            with self.assertRaises(TypeError):
                pickle.dumps(s)


if __name__ == "__main__":
    main()
