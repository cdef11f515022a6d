"""test_py_channel.py: shmkit.Channel: every kind, every call and error,
zero-copy peek, iteration to the end of the stream, a writer that dies,
the GIL released while blocked, Ctrl-C in a blocked recv, selectors and
asyncio on fileno(), pickling to a multiprocessing worker."""
import asyncio
import errno
import multiprocessing
import os
import pickle
import selectors
import signal
import subprocess
import sys
import threading
import time

import shmkit
from shmtest import Case, main, fork_child, wait_pid

try:
    import numpy
except ImportError:
    numpy = None


class Basics(Case):
    def pair(self, kind="spsc", **kw):
        spec = self.spec(kind)
        w = shmkit.Channel.create(spec, kind, **kw)
        self.addCleanup(w.close)
        r = shmkit.Channel.open(spec, "reader")
        self.addCleanup(r.close)
        return w, r

    def test_each_kind_round_trip(self):
        for kind in ("spsc", "mpmc", "broadcast"):
            with self.subTest(kind=kind):
                w, r = self.pair(kind)
                self.assertEqual((w.kind, w.role, r.role),
                                 (kind, "writer", "reader"))
                msgs = [b"", b"x", bytes(range(200)), b"last"]
                for m in msgs:
                    w.send(m)
                got = [r.recv(timeout=5) for _ in msgs]
                self.assertEqual(got, msgs)
                st = r.stat()
                self.assertEqual(st["kind"], kind)
                self.assertEqual(st["sent"], len(msgs))
                self.assertEqual(len(st["endpoints"]), 2)

    def test_bytes_like_and_recv_into(self):
        w, r = self.pair()
        w.send(bytearray(b"ba"))
        w.send(memoryview(b"xmvx")[1:3])
        w.send(b"toolong")
        self.assertEqual(r.recv(), b"ba")
        buf = bytearray(16)
        self.assertEqual(r.recv_into(buf), 2)
        self.assertEqual(buf[:2], b"mv")
        small = bytearray(3)
        with self.assertRaises(OSError) as cm:
            r.recv_into(small)
        self.assertEqual(cm.exception.errno, errno.EMSGSIZE)
        self.assertEqual(r.recv(), b"toolong")  # it stayed in the channel
        with self.assertRaises(TypeError):
            w.send("text is not bytes")
        with self.assertRaises(TypeError):
            r.recv_into(b"read-only")

    def test_timeouts(self):
        w, r = self.pair(capacity=256, max_msg=64)
        with self.assertRaises(BlockingIOError):
            r.recv(timeout=0)
        t0 = time.monotonic()
        with self.assertRaises(TimeoutError) as cm:
            r.recv(timeout=0.25)
        took = time.monotonic() - t0
        self.assertEqual(cm.exception.errno, errno.ETIMEDOUT)
        self.assertGreaterEqual(took, 0.24)
        self.assertLess(took, 2.0)
        # 256 bytes of ring, 64-byte messages: full after a few
        n = 0
        with self.assertRaises(BlockingIOError):
            while True:
                w.send(b"m" * 64, timeout=0)
                n += 1
        self.assertGreater(n, 0)
        with self.assertRaises(TimeoutError):
            w.send(b"m" * 64, timeout=0.05)
        with self.assertRaises(ValueError):
            r.recv(timeout=-1)

    def test_errors(self):
        w, r = self.pair(max_msg=100)
        with self.assertRaises(OSError) as cm:
            w.send(b"x" * 101)
        self.assertEqual(cm.exception.errno, errno.EMSGSIZE)
        with self.assertRaises(OSError) as cm:
            r.send(b"x")
        self.assertEqual(cm.exception.errno, errno.EBADF)
        with self.assertRaises(OSError) as cm:
            w.recv()
        self.assertEqual(cm.exception.errno, errno.EBADF)
        with self.assertRaises(OSError) as cm:
            shmkit.Channel.open(w.spec, "reader")  # spsc: the role is taken
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        with self.assertRaises(FileNotFoundError):
            shmkit.Channel.open(self.spec("missing"), "reader")
        with self.assertRaises(FileExistsError):
            shmkit.Channel.create(w.spec, "spsc")
        with self.assertRaises(ValueError):
            shmkit.Channel.create(self.spec("bad"), "fifo")
        with self.assertRaises(ValueError):
            shmkit.Channel.open(w.spec, "boss")
        bad = self.spec("bad")
        with self.assertRaises(ValueError) as cm:
            shmkit.Channel.create(bad, "mpmc", capacity=1 << 30)
        self.assertIn("capacity", str(cm.exception))
        with self.assertRaises(FileNotFoundError):
            shmkit.Segment.attach(bad)  # refused before anything was made
        with self.assertRaises(OSError) as cm:
            r.release()  # no peek pending
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        plain = self.spec("plain")
        shmkit.Segment.create(plain, 65536).detach()
        with self.assertRaises(OSError) as cm:
            shmkit.Channel.open(plain, "reader")
        self.assertEqual(cm.exception.errno, errno.EPROTO)
        w.close()
        with self.assertRaises(ValueError):
            w.send(b"x")
        w.close()  # twice is fine

    def test_peek_zero_copy(self):
        w, r = self.pair()
        w.send(b"peek me")
        w.send(b"second")
        v = r.peek(timeout=5)
        self.assertTrue(v.readonly)
        self.assertEqual(bytes(v), b"peek me")
        self.assertEqual(bytes(memoryview(r)), b"peek me")  # same message
        with self.assertRaises(OSError) as cm:
            r.recv()  # a peek is pending
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        s = v[0:4]  # a slice keeps the message's memory in use
        with self.assertRaises(BufferError):
            r.release()
        s.release()
        r.release()
        with self.assertRaises(ValueError):
            v[0]  # released with the message: no dangling view
        with self.assertRaises(BufferError):
            memoryview(r)  # not a buffer outside peek/release
        self.assertEqual(r.recv(), b"second")
        if numpy is not None:
            w.send(numpy.arange(8, dtype=numpy.int32).tobytes())
            v = r.peek()
            a = numpy.frombuffer(v, dtype=numpy.int32)
            self.assertEqual(a.sum(), 28)
            with self.assertRaises(BufferError):
                r.release()  # the array still views it
            with self.assertRaises(BufferError):
                r.close()
            del a
            r.release()

    def test_iteration_to_end_of_stream(self):
        w, r = self.pair()
        for i in range(50):
            w.send(b"%d" % i)
        w.close()
        self.assertEqual(list(r), [b"%d" % i for i in range(50)])
        with self.assertRaises(BrokenPipeError) as cm:
            r.recv(timeout=1)
        self.assertEqual(cm.exception.errno, errno.EPIPE)

    def test_shutdown(self):
        w, r = self.pair("mpmc")
        w.send(b"a")
        w.shutdown()
        with self.assertRaises(BrokenPipeError):
            w.send(b"b")
        self.assertEqual(r.recv(), b"a")
        with self.assertRaises(BrokenPipeError):
            r.recv()

    def test_writer_killed(self):
        spec = self.spec("killed")
        r = shmkit.Channel.create(spec, "spsc", role="reader")
        self.addCleanup(r.close)

        def child():
            w = shmkit.Channel.open(spec, "writer")
            w.send(b"before")
            os.kill(os.getpid(), signal.SIGKILL)
        pid = fork_child(child)
        self.assertEqual(r.recv(timeout=10), b"before")
        wait_pid(pid)
        with self.assertRaises(ConnectionResetError) as cm:
            r.recv(timeout=10)
        self.assertEqual(cm.exception.errno, errno.ECONNRESET)
        self.assertEqual(r.stat()["dead_writer"], pid)

    def test_broadcast_lapping(self):
        w, r = self.pair("broadcast", capacity=4, max_msg=56)
        r2 = shmkit.Channel.open(w.spec, "reader")
        self.addCleanup(r2.close)
        for i in range(10):
            w.send(b"%d" % i)
        got = []
        while True:
            try:
                got.append(r.recv(timeout=0))
            except BlockingIOError:
                break
        self.assertEqual(got, [b"6", b"7", b"8", b"9"])
        self.assertEqual(r.lost, 6)
        self.assertEqual(r2.recv(), b"6")  # every reader sees every message

    def test_create_options(self):
        spec = self.spec("mode")
        w = shmkit.Channel.create(spec, "mpmc", mode=0o640, max_endpoints=2,
                                  prefault=True)
        self.addCleanup(w.close)
        self.assertEqual(os.stat("/dev/shm/" + spec[len("posix:/"):]).st_mode
                         & 0o777, 0o640)
        r = shmkit.Channel.open(spec, "reader")
        self.addCleanup(r.close)
        with self.assertRaises(OSError) as cm:
            shmkit.Channel.open(spec, "reader")  # both entries in use
        self.assertEqual(cm.exception.errno, errno.EUSERS)
        self.assertEqual(w.stat()["max_endpoints"], 2)

    def test_expected_writers(self):
        spec = self.spec("writers")
        r = shmkit.Channel.create(spec, "spsc", role="reader", writers=2)
        self.addCleanup(r.close)
        for i in range(2):
            w = shmkit.Channel.open(spec, "writer")
            w.send(b"w%d" % i)
            w.close()
            self.assertEqual(r.recv(timeout=5), b"w%d" % i)
            if i == 0:  # one of two writers has been: no end yet
                with self.assertRaises(BlockingIOError):
                    r.recv(timeout=0)
        with self.assertRaises(BrokenPipeError):
            r.recv(timeout=5)

    def test_broadcast_wait_readers(self):
        w, r = self.pair("broadcast", capacity=4, max_msg=56,
                         wait_readers=True)
        for i in range(4):
            w.send(b"%d" % i, timeout=0)
        with self.assertRaises(BlockingIOError):
            w.send(b"x", timeout=0)  # lossless: waits for the reader
        with self.assertRaises(TimeoutError):
            w.send(b"x", timeout=0.05)
        self.assertEqual(r.recv(), b"0")
        w.send(b"4", timeout=1)
        self.assertEqual([r.recv() for _ in range(4)],
                         [b"1", b"2", b"3", b"4"])
        self.assertEqual(r.lost, 0)

    def test_set_wait(self):
        w, r = self.pair()
        for m in ("adaptive", "spin", "block"):
            r.set_wait(m)
        with self.assertRaises(ValueError):
            r.set_wait("doze")
        r.set_wait("spin")
        with self.assertRaises(TimeoutError):
            r.recv(timeout=0.05)

    def test_repr_and_accessors(self):
        w, r = self.pair(max_msg=123)
        self.assertEqual(w.max_msg, 123)
        self.assertTrue(w.spec.startswith("posix:/shmkit-pytest-"))
        self.assertIn("writer", repr(w))
        self.assertFalse(w.closed)
        none = shmkit.Channel.open(w.spec, None)
        self.assertEqual(none.role, "none")
        none.close()
        self.assertIn("closed", repr(none))

    def test_destroy(self):
        spec = self.spec("destroy")
        w = shmkit.Channel.create(spec, "spsc")
        w.destroy()
        self.assertTrue(w.closed)
        with self.assertRaises(FileNotFoundError):
            shmkit.Channel.open(spec, "reader")


class Concurrency(Case):
    def test_gil_released_while_blocked(self):
        spec = self.spec("gil")
        w = shmkit.Channel.create(spec, "spsc")
        self.addCleanup(w.close)
        r = shmkit.Channel.open(spec, "reader")
        self.addCleanup(r.close)
        out = []
        t = threading.Thread(target=lambda: out.append(r.recv(timeout=10)))
        t.start()
        # The main thread runs Python code while the reader is blocked.
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 0.3:
            n += 1
        self.assertTrue(t.is_alive())
        # A handle serves one thread at a time: a second caller is refused.
        with self.assertRaises(RuntimeError):
            r.recv(timeout=0)
        w.send(b"wake")
        t.join(10)
        self.assertFalse(t.is_alive())
        self.assertEqual(out, [b"wake"])
        self.assertGreater(n, 10000)

    def test_ctrl_c_interrupts_recv(self):
        spec = self.spec("sigint")
        w = shmkit.Channel.create(spec, "spsc")
        self.addCleanup(w.close)
        code = ("import shmkit, sys\n"
                "r = shmkit.Channel.open(%r, 'reader')\n"
                "print('ready', flush=True)\n"
                "try:\n"
                "    r.recv()\n"
                "except KeyboardInterrupt:\n"
                "    print('interrupted', flush=True)\n"
                "    r.close()\n"
                "    sys.exit(3)\n" % spec)
        p = subprocess.Popen([sys.executable, "-c", code],
                             stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline().strip(), "ready")
            time.sleep(0.3)  # well inside the blocking recv
            t0 = time.monotonic()
            p.send_signal(signal.SIGINT)
            out, _ = p.communicate(timeout=10)
            self.assertLess(time.monotonic() - t0, 2.0)
            self.assertEqual(out.strip(), "interrupted")
            self.assertEqual(p.returncode, 3)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_selectors_on_fileno(self):
        spec = self.spec("sel")
        w = shmkit.Channel.create(spec, "spsc")
        self.addCleanup(w.close)
        r = shmkit.Channel.open(spec, "reader")
        self.addCleanup(r.close)
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)
        sel.register(r.fileno(), selectors.EVENT_READ)
        self.assertTrue(r.arm())  # empty: safe to wait
        t = threading.Timer(0.1, lambda: w.send(b"sel"))
        t.start()
        self.addCleanup(t.join)
        # Were the descriptor not woken by the send, each select would
        # last its whole 5 s.
        t0 = time.monotonic()
        msg = None
        while msg is None and time.monotonic() - t0 < 10:
            sel.select(timeout=5)
            try:
                msg = r.recv(timeout=0)
            except BlockingIOError:
                r.arm()
        self.assertEqual(msg, b"sel")
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_asyncio(self):
        spec = self.spec("aio")
        r = shmkit.Channel.create(spec, "spsc", role="reader")
        self.addCleanup(r.close)

        def child():
            w = shmkit.Channel.open(spec, "writer")
            time.sleep(0.3)  # the reader waits: its loop must keep running
            for i in range(20):
                time.sleep(0.005)
                w.send(b"m%d" % i)
            w.close()
        pid = fork_child(child)

        async def consume():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.001)
            tk = asyncio.ensure_future(ticker())
            got, before_first = [], None
            async for m in shmkit.aiter_messages(r):
                if before_first is None:
                    before_first = ticks
                got.append(m)
            tk.cancel()
            return got, before_first

        got, before_first = asyncio.run(asyncio.wait_for(consume(), 30))
        self.assertEqual(wait_pid(pid), 0)
        self.assertEqual(got, [b"m%d" % i for i in range(20)])
        # While nothing came for 0.3 s the loop ran the ticker again and
        # again; a recv that blocked the loop would have let it run once.
        # (Counted by ticks, not time: a loaded host slows each tick.)
        self.assertGreaterEqual(before_first, 3)

    def test_asyncio_timeout(self):
        spec = self.spec("aiot")
        w = shmkit.Channel.create(spec, "spsc")
        self.addCleanup(w.close)
        r = shmkit.Channel.open(spec, "reader")
        self.addCleanup(r.close)

        async def go():
            with self.assertRaises(TimeoutError):
                await shmkit.recv_async(r, timeout=0.1)
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, w.send, b"late")
            return await shmkit.recv_async(r, timeout=5)
        self.assertEqual(asyncio.run(asyncio.wait_for(go(), 30)), b"late")

    def test_pickle_to_worker(self):
        spec = self.spec("pickle")
        r = shmkit.Channel.create(spec, "mpmc", role="reader")
        self.addCleanup(r.close)
        w = shmkit.Channel.open(spec, "writer")
        self.assertEqual(pickle.loads(pickle.dumps(w)).role, "writer")
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(2) as pool:
            res = pool.starmap_async(_worker_send, [(w, 0), (w, 1)])
            self.assertEqual(sorted(res.get(timeout=60)), [0, 1])
        got = sorted(r.recv(timeout=10) for _ in range(20))
        self.assertEqual(got, sorted(b"%d-%d" % (k, i)
                                     for k in (0, 1) for i in range(10)))
        w.close()
        with self.assertRaises(TypeError):
            pickle.dumps(shmkit.Channel.create("anon:", "spsc"))


def _worker_send(ch, k):
    with ch:  # the worker's own writer endpoint
        for i in range(10):
            ch.send(b"%d-%d" % (k, i), timeout=10)
    return k


if __name__ == "__main__":
    main()
