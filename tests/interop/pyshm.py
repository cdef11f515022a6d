#!/usr/bin/env python3
"""pyshm.py: shared memory from Python's side, for test_interop.sh.

Python's own multiprocessing.shared_memory (POSIX), and System V through
libc's shmat() by ctypes, so that shmkit is checked against code it did not
write. Bytes go in on stdin and out on stdout.

Python's resource tracker unlinks, at exit, every segment the process
created or (before 3.13) merely attached; that would remove segments this
script hands over to shmkit, so each one is taken out of its care: track=False
where that exists (3.13+), resource_tracker.unregister() otherwise.

  pyshm.py posix-create NAME SIZE     create, copy stdin in, leave it
  pyshm.py posix-read NAME            attach, copy all of it to stdout
  pyshm.py posix-write NAME OFFSET    attach, copy stdin in at OFFSET
  pyshm.py sysv-read ID               shmat read-only, copy all to stdout
  pyshm.py sysv-write ID OFFSET       shmat, copy stdin in at OFFSET
"""
import ctypes
import ctypes.util
import sys


def open_posix(name, create=False, size=0):
    from multiprocessing import shared_memory
    try:
        shm = shared_memory.SharedMemory(name=name, create=create, size=size,
                                         track=False)
    except TypeError:  # before 3.13: no track=, untrack by hand
        shm = shared_memory.SharedMemory(name=name, create=create, size=size)
        from multiprocessing import resource_tracker
        resource_tracker.unregister(shm._name, "shared_memory")
    return shm


class SysV:
    SHM_RDONLY = 0o10000

    def __init__(self, shmid, rdonly):
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                                use_errno=True)
        self.libc.shmat.restype = ctypes.c_void_p
        self.libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p,
                                    ctypes.c_int]
        self.libc.shmdt.argtypes = [ctypes.c_void_p]
        addr = self.libc.shmat(shmid, None, self.SHM_RDONLY if rdonly else 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            err = ctypes.get_errno()
            raise OSError(err, "shmat(%d)" % shmid)
        self.addr = addr
        self.size = self._segsz(shmid)

    def _segsz(self, shmid):
        # From /proc rather than IPC_STAT: no struct layout to guess.
        with open("/proc/sysvipc/shm") as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1]) == shmid:
                    return int(cols[3])
        raise OSError(2, "shmid %d not in /proc/sysvipc/shm" % shmid)

    def close(self):
        self.libc.shmdt(ctypes.c_void_p(self.addr))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "posix-create":
        data = sys.stdin.buffer.read()
        shm = open_posix(argv[2], create=True, size=int(argv[3]))
        shm.buf[:len(data)] = data
        shm.close()
    elif cmd == "posix-read":
        shm = open_posix(argv[2])
        sys.stdout.buffer.write(bytes(shm.buf[:shm.size]))
        shm.close()
    elif cmd == "posix-write":
        data = sys.stdin.buffer.read()
        off = int(argv[3])
        shm = open_posix(argv[2])
        shm.buf[off:off + len(data)] = data
        shm.close()
    elif cmd == "sysv-read":
        seg = SysV(int(argv[2]), rdonly=True)
        sys.stdout.buffer.write(ctypes.string_at(seg.addr, seg.size))
        seg.close()
    elif cmd == "sysv-write":
        data = sys.stdin.buffer.read()
        off = int(argv[3])
        seg = SysV(int(argv[2]), rdonly=False)
        if off + len(data) > seg.size:
            raise OSError(27, "write past the end")
        ctypes.memmove(seg.addr + off, data, len(data))
        seg.close()
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
