"""test_py_heap.py: shmkit.Heap: alloc/free/get/find/unname/names, refs
between processes, views that keep the heap open, errors."""
import errno
import multiprocessing
import pickle

import shmkit
from shmtest import Case, main, fork_child, wait_pid


def _worker_name(heap, name, data):
    with heap:
        v = heap.get(name, len(data))
        v[:] = data
        v.release()
        return sorted(heap.names())


class HeapCase(Case):
    def heap(self, size=1 << 20, **kw):
        spec = self.spec("heap")
        h = shmkit.Heap.create(spec, size, **kw)
        self.addCleanup(h.close)
        return h

    def test_alloc_free_ref_view(self):
        h = self.heap()
        v = h.alloc(100)
        self.assertEqual(len(v), 100)
        self.assertFalse(v.readonly)
        v[:5] = b"hello"
        ref = h.ref(v)
        self.assertIsInstance(ref, int)
        again = h.view(ref)
        self.assertGreaterEqual(len(again), 100)
        self.assertEqual(bytes(again[:5]), b"hello")
        again.release()
        z = h.alloc(64, zero=True)
        self.assertEqual(bytes(z), bytes(64))
        a = h.alloc(64, align=4096)
        self.assertEqual(h.ref(a) != 0, True)
        self.assertEqual(h.stat()["allocations"], 3)
        s = v[1:3]  # a slice pins the block
        with self.assertRaises(BufferError):
            h.free(v)
        s.release()
        h.free(v)
        with self.assertRaises(ValueError):
            v[0]  # the view went with the block
        with self.assertRaises(OSError) as cm:
            h.free(ref)  # double free
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        h.free(h.ref(z))
        z.release()
        h.free(a)
        self.assertEqual(h.stat()["allocations"], 0)
        self.assertIsNone(h.check())

    def test_bad_input(self):
        h = self.heap()
        for bad in (lambda: h.alloc(0), lambda: h.alloc(-1),
                    lambda: h.get("x", 0)):
            with self.assertRaises(ValueError):
                bad()
        with self.assertRaises(OSError) as cm:
            h.alloc(16, align=3)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(OSError) as cm:
            h.view(12345)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(OSError):
            h.free(0)
        with self.assertRaises(TypeError):
            h.free(memoryview(b"not ours"))
        other = self.heap()
        ov = other.alloc(16)
        with self.assertRaises(TypeError):
            h.free(ov)  # another heap's block
        ov.release()
        with self.assertRaises(OSError) as cm:
            h.alloc(1 << 30)  # fixed size: no room
        self.assertEqual(cm.exception.errno, errno.ENOMEM)
        with self.assertRaises(ValueError):
            shmkit.Heap.create(self.spec("h"), 0)
        with self.assertRaises(OSError) as cm:
            shmkit.Heap.create(self.spec("h"), 1 << 20, max_size=1000)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        plain = self.spec("plain")
        shmkit.Segment.create(plain, 65536).detach()
        with self.assertRaises(OSError) as cm:
            shmkit.Heap.open(plain)
        self.assertEqual(cm.exception.errno, errno.EPROTO)
        with self.assertRaises(FileNotFoundError):
            shmkit.Heap.open(self.spec("absent"))
        self.assertEqual(h.stat()["allocations"], 0)  # nothing changed

    def test_named_objects(self):
        h = self.heap()
        v, created = h.get("config", 64, with_created=True)
        self.assertTrue(created)
        self.assertEqual(bytes(v), bytes(64))
        v[:3] = b"cfg"
        w, created = h.get("config", 64, with_created=True)
        self.assertFalse(created)
        self.assertEqual(bytes(w[:3]), b"cfg")
        with self.assertRaises(FileExistsError):
            h.get("config", 65)  # another size
        f = h.find("config")
        self.assertEqual(len(f), 64)
        self.assertEqual(bytes(f[:3]), b"cfg")
        with self.assertRaises(FileNotFoundError):
            h.find("nope")
        with self.assertRaises(OSError) as cm:
            h.free(v)  # named: unname it instead
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        self.assertEqual(h.names(), {"config": 64})
        for x in (v, w, f):
            x.release()
        h.unname("config")
        self.assertEqual(h.names(), {})
        with self.assertRaises(FileNotFoundError):
            h.unname("config")

    def test_views_keep_heap_open(self):
        h = self.heap()
        v = h.alloc(32)
        with self.assertRaises(BufferError):
            h.close()
        with self.assertRaises(BufferError):
            h.destroy()
        self.assertFalse(h.closed)
        v[0] = 1  # still mapped
        v.release()
        h.close()
        self.assertTrue(h.closed)
        h.close()  # twice is fine
        with self.assertRaises(ValueError):
            h.alloc(16)

    def test_growth(self):
        h = self.heap(size=65536, max_size=1 << 22)
        views = [h.alloc(60000) for _ in range(8)]
        self.assertGreater(h.stat()["parts"], 1)
        for v in views:
            v[-1] = 9
            h.free(v)
        self.assertIsNone(h.check())

    def test_other_process(self):
        h = self.heap()
        v = h.alloc(16)
        v[:4] = b"ref!"
        ref = h.ref(v)
        spec = h.spec

        def child():
            with shmkit.Heap.open(spec) as c:
                cv = c.view(ref)  # the same ref in every process
                assert bytes(cv[:4]) == b"ref!"
                cv[:4] = b"back"
                cv.release()
                n = c.get("from-child", 8)
                n[:] = b"12345678"
                n.release()
        self.assertEqual(wait_pid(fork_child(child)), 0)
        self.assertEqual(bytes(v[:4]), b"back")
        self.assertEqual(bytes(h.find("from-child")), b"12345678")

    def test_pickle_to_worker(self):
        h = self.heap()
        self.assertEqual(pickle.loads(pickle.dumps(h)).spec, h.spec)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            names = pool.apply_async(_worker_name,
                                     (h, "w", b"worker")).get(timeout=60)
        self.assertEqual(names, ["w"])
        self.assertEqual(bytes(h.find("w")), b"worker")
        with self.assertRaises(TypeError):
            pickle.dumps(shmkit.Heap.create("anon:", 65536))

    def test_reclaim_and_ephemeral(self):
        h = self.heap(ephemeral=True)
        self.assertGreaterEqual(h.reclaim(), 0)
        st = h.stat()
        self.assertEqual(st["lost_bytes"], 0)
        self.assertGreaterEqual(st["size"], 1 << 20)

    def test_destroy(self):
        spec = self.spec("gone")
        h = shmkit.Heap.create(spec, 65536)
        h.destroy()
        with self.assertRaises(FileNotFoundError):
            shmkit.Heap.open(spec)


if __name__ == "__main__":
    main()
