"""test_py_shared_memory.py: shmkit.SharedMemory against
multiprocessing.shared_memory.SharedMemory, one script run with each.

The script makes a segment, lets an unrelated process (a fresh interpreter,
as a separate program would be) attach it by name, write and exit, then
looks at what is left. Both must behave the same in every API respect
(attributes, errors, pickling, numpy over buf). They differ in one thing,
on purpose: multiprocessing's resource tracker unlinks the segment when the
process that merely attached it exits (CPython gh-82300), shmkit never
unlinks behind its user's back. The test requires that of shmkit and
reports what multiprocessing did on this Python."""
import multiprocessing.shared_memory as mp_shm
import pickle
import sys
import time

import shmkit
from shmtest import Case, main, run_bounded

try:
    import numpy
except ImportError:
    numpy = None

CHILD = r"""
import sys
if sys.argv[1] == "mp":
    from multiprocessing.shared_memory import SharedMemory
else:
    from shmkit import SharedMemory
s = SharedMemory(name=sys.argv[2])
assert bytes(s.buf[:5]) == b"hello", bytes(s.buf[:5])
s.buf[5:10] = b"world"
s.close()
"""


def scenario(which, cls, case):
    """The same steps for either class; returns what it saw."""
    seen = {}
    shm = cls(create=True, size=4096)
    try:
        seen["name_type"] = type(shm.name).__name__
        seen["size_ok"] = shm.size >= 4096
        seen["buf_type"] = type(shm.buf).__name__
        seen["buf_len_ok"] = len(shm.buf) >= 4096
        shm.buf[:5] = b"hello"
        p = run_bounded([sys.executable, "-c", CHILD, which, shm.name],
                        capture_output=True, text=True)
        case.assertEqual(p.returncode, 0, p.stderr)
        seen["child_wrote"] = bytes(shm.buf[5:10])
        # multiprocessing's tracker acts a moment after its process exits
        time.sleep(0.5)
        try:
            again = cls(name=shm.name)
            again.close()
            seen["survives_attacher_exit"] = True
        except FileNotFoundError:
            seen["survives_attacher_exit"] = False
        copy = pickle.loads(pickle.dumps(shm)) if \
            seen["survives_attacher_exit"] else None
        seen["pickle_same_name"] = copy is None or copy.name == shm.name
        if copy is not None:
            copy.close()
        for args, exc in (({"create": True, "size": 0}, ValueError),
                          ({"name": None}, ValueError),
                          ({"size": -1, "create": True}, ValueError),
                          ({"name": "shmkit-pytest-nope-%d" % id(shm)},
                           FileNotFoundError)):
            try:
                cls(**args).close()
                seen[str(args)] = None
            except exc:
                seen[str(args)] = exc.__name__
        if seen["survives_attacher_exit"]:
            try:
                cls(name=shm.name, create=True, size=10)
                seen["create_taken"] = None
            except FileExistsError:
                seen["create_taken"] = "FileExistsError"
        if numpy is not None:
            a = numpy.ndarray((8,), dtype=numpy.int64, buffer=shm.buf)
            a[:] = 7
            seen["numpy_sum"] = int(a.sum())
            del a
    finally:
        shm.close()
        seen["buf_after_close"] = shm.buf
        try:
            shm.unlink()
            seen["unlinked"] = True
        except FileNotFoundError:
            seen["unlinked"] = False  # someone else did it
    try:
        cls(name=shm.name).close()
        seen["gone_after_unlink"] = False
    except FileNotFoundError:
        seen["gone_after_unlink"] = True
    return seen


class DropIn(Case):
    def test_same_script_both_classes(self):
        ours = scenario("shmkit", shmkit.SharedMemory, self)
        theirs = scenario("mp", mp_shm.SharedMemory, self)
        print("\nshmkit.SharedMemory:", ours)
        print("multiprocessing.shared_memory.SharedMemory:", theirs)
        self.assertEqual(ours["child_wrote"], b"world")
        self.assertTrue(ours["survives_attacher_exit"],
                        "shmkit must not unlink when an attacher exits")
        self.assertTrue(ours["unlinked"])
        self.assertTrue(ours["gone_after_unlink"])
        self.assertIsNone(ours["buf_after_close"])
        # Same API behaviour wherever multiprocessing's tracker did not
        # intervene.
        tracker_keys = {"survives_attacher_exit", "unlinked",
                        "create_taken"}
        for k in ours:
            if k in tracker_keys or k == "buf_type":
                continue
            if k in theirs:
                self.assertEqual(ours[k], theirs[k], k)
        self.assertEqual(ours["buf_type"], "memoryview")
        print("multiprocessing.shared_memory on Python %s: the segment %s "
              "the attaching process's exit (gh-82300)" %
              (sys.version.split()[0],
               "survived" if theirs["survives_attacher_exit"]
               else "was unlinked at"))

    def test_names_and_reduce(self):
        name = "shmkit-pytest-named-%d" % id(self)
        self.addCleanup(lambda: _quiet_unlink("posix:/" + name))
        s = shmkit.SharedMemory(name=name, create=True, size=100)
        self.assertEqual(s.name, name)
        self.assertEqual(s.size, 100)
        self.assertIn(name, repr(s))
        t = shmkit.SharedMemory(name="/" + name,  # mp accepts a leading /
                                track=False)      # and 3.13's track=
        self.assertEqual(t.name, name)
        self.assertEqual(s.__reduce__(), (shmkit.SharedMemory,
                                          (name, False, 100)))
        v = t.buf[:4]
        with self.assertRaises(BufferError):
            t.close()  # as multiprocessing: views of buf must go first
        v.release()
        t.close()
        s.close()
        s.close()  # twice is fine
        s.unlink()
        with self.assertRaises(FileNotFoundError):
            s.unlink()


def _quiet_unlink(spec):
    try:
        shmkit.unlink(spec)
    except OSError:
        pass


if __name__ == "__main__":
    main()
