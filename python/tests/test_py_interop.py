"""test_py_interop.py: Python and C processes on the same shared memory.

The C side is the shmkit CLI (built from the same library): a segment a C
process writes is read by Python and the reverse; a numpy array round-trips
through a C process; a channel carries messages from Python to C and from
C to Python, both ways at once in one case; heaps made on one side are
used from the other."""
import json
import os
import subprocess

import shmkit
from shmtest import Case, main, run_bounded

try:
    import numpy
except ImportError:
    numpy = None


class Interop(Case):
    def cli(self, *args, stdin=b"", check=True):
        p = run_bounded([self.need_cli()] + list(args), input=stdin,
                        capture_output=True)
        if check and p.returncode != 0:
            self.fail("shmkit %s: exit %d: %s" %
                      (" ".join(args), p.returncode, p.stderr.decode()))
        return p

    def test_c_writes_python_reads(self):
        spec = self.spec("c2py")
        self.cli("create", spec, "4K")
        data = os.urandom(1000)
        self.cli("write", "--offset", "96", spec, stdin=data)
        with shmkit.Segment.attach(spec) as s:
            self.assertEqual(s.size, 4096)
            self.assertEqual(bytes(memoryview(s)[96:1096]), data)

    def test_python_writes_c_reads(self):
        for backend in ("posix", "file"):
            with self.subTest(backend=backend):
                spec = self.spec("py2c", backend)
                data = os.urandom(3000)
                with shmkit.Segment.create(spec, 3000) as s:
                    memoryview(s)[:] = data
                self.assertEqual(self.cli("cat", spec).stdout, data)

    def test_numpy_round_trip_through_c(self):
        if numpy is None:
            self.skipTest("python3-numpy is not installed")
        spec = self.spec("np")
        a = numpy.linspace(-1, 1, 512, dtype=numpy.float64)
        with shmkit.Segment.create(spec, a.nbytes) as s:
            view = numpy.frombuffer(s, dtype=numpy.float64)
            view[:] = a
            # C reads Python's array byte for byte ...
            self.assertEqual(self.cli("cat", spec).stdout, a.tobytes())
            # ... and writes one Python sees in place, without a copy.
            b = (numpy.arange(512, dtype=numpy.float64) * 3).tobytes()
            self.cli("write", "--force", spec, stdin=b)  # we map it
            self.assertTrue(numpy.array_equal(
                view, numpy.arange(512, dtype=numpy.float64) * 3))
            del view

    def test_channel_python_to_c(self):
        spec = self.spec("chan-py2c")
        w = shmkit.Channel.create(spec, "spsc")
        self.addCleanup(w.close)
        rd = subprocess.Popen([self.need_cli(), "chan", "recv", spec,
                               "--timeout", "10000"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            msgs = [b"line %d" % i for i in range(200)]
            for m in msgs:
                w.send(m, timeout=10)
            w.close()  # the end of the stream: recv exits 0
            out, err = rd.communicate(timeout=30)
        finally:
            if rd.poll() is None:
                rd.kill()
                rd.wait()
        self.assertEqual(rd.returncode, 0, err)
        self.assertEqual(out.split(b"\n")[:-1], msgs)

    def test_channel_c_to_python(self):
        for kind in ("spsc", "mpmc"):
            with self.subTest(kind=kind):
                spec = self.spec("chan-c2py")
                self.cli("chan", "create", spec, "--kind", kind)
                r = shmkit.Channel.open(spec, "reader")
                self.addCleanup(r.close)
                lines = [b"msg %d" % i for i in range(300)]
                wr = subprocess.Popen([self.need_cli(), "chan", "send", spec,
                                       "--timeout", "10000"],
                                      stdin=subprocess.PIPE,
                                      stderr=subprocess.PIPE)
                try:
                    wr.stdin.write(b"\n".join(lines) + b"\n")
                    wr.stdin.close()
                    got = [m for m in r]  # until C's writer closes
                    wr.wait(timeout=30)
                    err = wr.stderr.read()
                finally:
                    if wr.poll() is None:
                        wr.kill()
                        wr.wait()
                    wr.stderr.close()
                self.assertEqual(wr.returncode, 0, err)
                self.assertEqual(got, lines)

    def test_channel_c_stat_sees_python(self):
        spec = self.spec("chan-stat")
        w = shmkit.Channel.create(spec, "mpmc", capacity=64, max_msg=56)
        self.addCleanup(w.close)
        for i in range(5):
            w.send(b"x")
        out = self.cli("chan", "stat", spec).stdout.decode()
        self.assertIn("mpmc", out)
        self.assertIn(str(os.getpid()), out)  # our writer endpoint

    def test_heap_both_ways(self):
        spec = self.spec("heap")
        self.cli("heap", "create", spec, "1M")
        out = self.cli("heap", "get", spec, "from-c", "32").stdout.decode()
        self.assertIn("created", out)
        with shmkit.Heap.open(spec) as h:
            v = h.find("from-c")
            self.assertEqual(bytes(v), bytes(32))  # zeroed by C
            v[:6] = b"python"
            v.release()
            p = h.get("from-py", 100)
            p.release()
        listing = json.loads(self.cli("heap", "ls", "--json", spec).stdout)
        sizes = {o["name"]: o["size"] for o in listing}
        self.assertEqual(sizes, {"from-c": 32, "from-py": 100})
        self.assertEqual(self.cli("heap", "check", spec).returncode, 0)


if __name__ == "__main__":
    main()
