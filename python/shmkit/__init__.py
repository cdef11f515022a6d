"""shmkit: shared memory between processes on one host, from Python.

The C core (shmkit._shmkit) gives Segment, Channel and Heap; this package
adds what is simplest in Python: SharedMemory, a drop-in for
multiprocessing.shared_memory.SharedMemory that never unlinks anything
behind its user's back, and recv_async(), a Channel receive for asyncio.
docs/python.md describes it all.
"""
import asyncio
import errno as _errno
import secrets as _secrets

from ._shmkit import Channel, Heap, Segment, spec_check, strerror, unlink, version

__all__ = ["Segment", "Channel", "Heap", "SharedMemory", "recv_async",
           "unlink", "spec_check", "strerror", "version"]


async def recv_async(ch, timeout=None):
    """Receive one message from reader ch without blocking the event loop.

    Waits for ch.fileno() to poll readable (loop.add_reader) and retries a
    non-blocking recv, following the library's arm protocol. Raises what
    Channel.recv raises (BrokenPipeError at the end of the stream), and
    TimeoutError when timeout seconds pass first.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    fd = ch.fileno()
    while True:
        try:
            return ch.recv(timeout=0)
        except BlockingIOError:
            pass
        if not ch.arm():
            continue  # something arrived while arming: go round again
        fut = loop.create_future()
        loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
        try:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise TimeoutError(_errno.ETIMEDOUT, strerror(_errno.ETIMEDOUT))
            await asyncio.wait_for(fut, left)
        except asyncio.TimeoutError:
            raise TimeoutError(_errno.ETIMEDOUT, strerror(_errno.ETIMEDOUT))
        finally:
            loop.remove_reader(fd)


async def _aiter(ch):
    while True:
        try:
            yield await recv_async(ch)
        except BrokenPipeError:
            return


def aiter_messages(ch):
    """async for msg in shmkit.aiter_messages(ch): until the end of stream."""
    return _aiter(ch)


__all__.append("aiter_messages")


class SharedMemory:
    """multiprocessing.shared_memory.SharedMemory over shmkit's posix: segments.

    The same constructor and attributes (name, size, buf, close(), unlink()).
    The difference is what it does not do: no resource tracker, so a segment
    is removed only by unlink(), never because some process that attached it
    exited (CPython gh-82300).
    """

    _prefix = "psm_"

    def __init__(self, name=None, create=False, size=0, *, track=True):
        # track: Python 3.13's opt-out of the resource tracker, accepted so
        # that code written for it runs unchanged; there is no tracker here.
        self._seg = None
        self._buf = None
        if not size >= 0:
            raise ValueError("'size' must be a positive integer")
        if create:
            if size == 0:
                raise ValueError("'size' must be a positive number different from zero")
        if name is None and not create:
            raise ValueError("'name' can only be None if create=True")
        if create and name is None:
            while True:
                name = self._prefix + _secrets.token_hex(4)
                try:
                    self._seg = Segment.create("posix:/" + name, size)
                    break
                except FileExistsError:
                    continue
        elif create:
            self._seg = Segment.create("posix:/" + name.lstrip("/"), size)
        else:
            self._seg = Segment.attach("posix:/" + name.lstrip("/"))
        self._name = name.lstrip("/")
        self._size = self._seg.size
        self._buf = memoryview(self._seg)

    def __reduce__(self):
        return (self.__class__, (self.name, False, self.size))

    def __repr__(self):
        return f"{self.__class__.__name__}({self.name!r}, size={self.size})"

    def __del__(self):
        try:
            self.close()
        except (OSError, BufferError):
            pass

    @property
    def buf(self):
        """A memoryview of the contents (None once closed)."""
        return self._buf

    @property
    def name(self):
        """The name, as multiprocessing gives it (no leading '/')."""
        return self._name

    @property
    def size(self):
        """Size in bytes."""
        return self._size

    def close(self):
        """Release buf and detach; the segment stays. Views of buf (numpy
        arrays made from it) must be gone first: BufferError otherwise."""
        if self._buf is not None:
            self._buf.release()
            self._buf = None
        if self._seg is not None:
            self._seg.detach()
            self._seg = None

    def unlink(self):
        """Remove the segment's name; it goes once every process has closed."""
        unlink("posix:/" + self._name)
