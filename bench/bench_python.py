#!/usr/bin/env python3
"""bench_python.py: shmkit channels from Python against multiprocessing.

Two processes, in one run:
  latency     ping-pong of one message of --size bytes, N round trips;
              one-way latency is half a round trip (p50 and mean, in us)
  throughput  one process sends --count messages of --size bytes, the
              other receives them all (messages/s and MB/s)
each over a shmkit SPSC channel (one per direction), multiprocessing.Pipe
(a duplex Connection, send_bytes/recv_bytes) and multiprocessing.Queue
(one per direction), with the ratios of shmkit to each. The processes are
pinned to two different CPUs when the host has two (cross-core, as
bench_ipc's main figures), forked with the 'fork' start method.

It runs against the module of a build tree:
  bench/bench_python.py --build BUILD_DIR       (imports BUILD_DIR/python)
  SHMKIT_PYTHONPATH=BUILD_DIR/python bench/bench_python.py
  --quick: a few seconds in all, to check that it works; the figures of
  such a run are too short to quote.
"""
import argparse
import multiprocessing as mp
import os
import signal
import statistics
import sys
import time


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", help="build directory whose python/ to import")
    ap.add_argument("--quick", action="store_true", help="a few seconds")
    ap.add_argument("--size", type=int, default=64, help="message bytes")
    ap.add_argument("--rounds", type=int, help="ping-pong round trips")
    ap.add_argument("--count", type=int, help="throughput messages")
    ap.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    a = ap.parse_args()
    path = os.path.join(a.build, "python") if a.build else \
        os.environ.get("SHMKIT_PYTHONPATH")
    if not path:
        ap.error("say which module to use: --build DIR or SHMKIT_PYTHONPATH")
    sys.path.insert(0, os.path.abspath(path))
    if a.rounds is None:
        a.rounds = 2000 if a.quick else 50000
    if a.count is None:
        a.count = 20000 if a.quick else 500000
    return a


ARGS = parse()
import shmkit  # noqa: E402  (from the path parse() chose)

CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
    else []
PIN = not ARGS.no_pin and len(CPUS) >= 2


def pin(i):
    if PIN:
        os.sched_setaffinity(0, {CPUS[i]})


# -- the three transports, each as a (setup, child side, parent side) ------

class ShmkitChan:
    name = "shmkit spsc"

    def __init__(self):
        base = "posix:/shmkit-benchpy-%d-" % os.getpid()
        self.specs = (base + "a", base + "b")
        cap = max(1 << 16, 4 * (ARGS.size + 16))
        for s in self.specs:
            shmkit.Channel.create(s, "spsc", capacity=cap, role=None,
                                  max_msg=max(ARGS.size, 64)).close()

    def child_open(self):
        self.rx = shmkit.Channel.open(self.specs[0], "reader")
        self.tx = shmkit.Channel.open(self.specs[1], "writer")

    def parent_open(self):
        self.tx = shmkit.Channel.open(self.specs[0], "writer")
        self.rx = shmkit.Channel.open(self.specs[1], "reader")

    def send(self, b):
        self.tx.send(b)

    def recv(self):
        return self.rx.recv()

    def close(self):
        self.tx.close()
        self.rx.close()

    def cleanup(self):
        for s in self.specs:
            try:
                shmkit.unlink(s)
            except OSError:
                pass


class MpPipe:
    name = "mp.Pipe"

    def __init__(self):
        self.a, self.b = mp.get_context("fork").Pipe(duplex=True)

    def child_open(self):
        self.c = self.b

    def parent_open(self):
        self.c = self.a

    def send(self, b):
        self.c.send_bytes(b)

    def recv(self):
        return self.c.recv_bytes()

    def close(self):
        pass

    def cleanup(self):
        self.a.close()
        self.b.close()


class MpQueue:
    name = "mp.Queue"

    def __init__(self):
        ctx = mp.get_context("fork")
        self.q = (ctx.Queue(), ctx.Queue())

    def child_open(self):
        self.rx, self.tx = self.q

    def parent_open(self):
        self.tx, self.rx = self.q

    def send(self, b):
        self.tx.put(b)

    def recv(self):
        return self.rx.get()

    def close(self):
        # flush the feeder thread: a process that exits without this
        # loses what it put last
        self.tx.close()
        self.tx.join_thread()

    def cleanup(self):
        for q in self.q:
            q.close()
            q.join_thread()


def child_pingpong(t, rounds):
    pin(1)
    t.child_open()
    for _ in range(rounds + 1):
        t.send(t.recv())
    t.close()
    os._exit(0)


def child_sink(t, count):
    pin(1)
    t.child_open()
    n = 0
    for _ in range(count):
        n += len(t.recv())
    t.send(b"%d" % n)
    t.close()
    os._exit(0)


def on_alarm(sig, frame):
    raise RuntimeError("a measurement ran over %d s: the peer hung" % LIMIT_S)


LIMIT_S = 120


def run(t, child, arg, body):
    ctx = mp.get_context("fork")
    p = ctx.Process(target=child, args=(t, arg))
    p.start()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(LIMIT_S)  # every wait below is bounded by this
    try:
        t.parent_open()
        return body(t)
    finally:
        signal.alarm(0)
        t.close()
        p.join(30)
        if p.is_alive():
            p.kill()
            p.join()


def latency(t):
    msg = b"x" * ARGS.size
    rtts = []
    t.send(msg)
    t.recv()  # warm up: both sides running
    clock = time.perf_counter_ns
    for _ in range(ARGS.rounds):
        t0 = clock()
        t.send(msg)
        t.recv()
        rtts.append(clock() - t0)
    return statistics.median(rtts) / 2000, statistics.fmean(rtts) / 2000


def throughput(t):
    msg = b"x" * ARGS.size
    t0 = time.perf_counter()
    for _ in range(ARGS.count):
        t.send(msg)
    got = int(t.recv())
    dt = time.perf_counter() - t0
    if got != ARGS.count * ARGS.size:
        raise RuntimeError("%s: %d bytes arrived, not %d" %
                           (t.name, got, ARGS.count * ARGS.size))
    return ARGS.count / dt, got / dt / 1e6


def main():
    pin(0)
    print("bench_python: Python %s, shmkit %s (%s), %d B messages, %s" %
          (sys.version.split()[0], shmkit.version,
           os.path.dirname(shmkit.__file__), ARGS.size,
           "pinned to CPUs %d and %d" % (CPUS[0], CPUS[1]) if PIN
           else "not pinned"))
    print("latency: %d round trips; throughput: %d messages%s" %
          (ARGS.rounds, ARGS.count, " (quick run)" if ARGS.quick else ""))
    res = {}
    for cls in (ShmkitChan, MpPipe, MpQueue):
        t = cls()
        try:
            lat = run(t, child_pingpong, ARGS.rounds, latency)
        finally:
            t.cleanup()
        t = cls()
        try:
            tp = run(t, child_sink, ARGS.count, throughput)
        finally:
            t.cleanup()
        res[cls.name] = lat + tp
        print("  %-12s one-way p50 %8.2f us  mean %8.2f us   "
              "%10.0f msg/s %8.1f MB/s" % ((cls.name,) + lat + tp),
              flush=True)
    ours = res[ShmkitChan.name]
    for peer in (MpPipe.name, MpQueue.name):
        p = res[peer]
        print("  shmkit vs %-9s latency %.2fx lower (p50), throughput "
              "%.2fx higher" % (peer, p[0] / ours[0], ours[2] / p[2]))


if __name__ == "__main__":
    main()
