"""shmtest.py: what the Python binding's tests share.

Every name a test makes has this process's pid in it (unique_spec), and is
removed at the end of its case, pass or fail (Cleanup.addCleanup): nothing
is left in /dev/shm. Child processes are waited for with a bound
(run_bounded, wait_pid) and killed when they overstay, so a hang is a
failure with a message. main() runs the cases and exits 0 when all pass,
1 on a failure and 77 when every case was skipped; each skip is printed
with its reason by unittest -v.
"""
import itertools
import os
import signal
import subprocess
import sys
import time
import unittest

import shmkit

CLI = os.environ.get("SHMKIT_CLI")
_seq = itertools.count()


def unique_name(tag):
    return "shmkit-pytest-%d-%s-%d" % (os.getpid(), tag, next(_seq))


def unique_spec(tag, backend="posix"):
    if backend == "posix":
        return "posix:/" + unique_name(tag)
    if backend == "file":
        return "file:/dev/shm/" + unique_name(tag)
    raise ValueError(backend)


def remove_quietly(spec):
    try:
        shmkit.unlink(spec)
    except OSError:
        pass


class Case(unittest.TestCase):
    def spec(self, tag, backend="posix"):
        s = unique_spec(tag, backend)
        self.addCleanup(remove_quietly, s)
        return s

    def need_cli(self):
        if not CLI or not os.access(CLI, os.X_OK):
            self.skipTest("SHMKIT_CLI does not name the shmkit binary")
        return CLI


def run_bounded(args, timeout=30, **kw):
    """subprocess.run with a bound; a child that overstays is killed and
    the test fails saying so."""
    try:
        return subprocess.run(args, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%r still running after %s s: killed" %
                             (args, timeout)) from e


def wait_pid(pid, timeout=30):
    """Wait for a forked child with a bound; kill it if it overstays.
    Returns its wait status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p, status = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            return status
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("child %d still running after %s s: killed" %
                         (pid, timeout))


def fork_child(fn):
    """Run fn() in a forked child; its exit status is 0 if fn returned,
    1 if it raised (the traceback goes to stderr)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn()
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def main():
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    if r.failures or r.errors or r.unexpectedSuccesses:
        sys.exit(1)
    if r.testsRun and len(r.skipped) == r.testsRun:
        print("SKIP: every case was skipped")
        sys.exit(77)
    if r.skipped:
        print("%d case(s) skipped (see above); %d passed" %
              (len(r.skipped), r.testsRun - len(r.skipped)))
    sys.exit(0)
