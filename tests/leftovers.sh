#!/usr/bin/env bash
# Run last by ctest: the suite must leave nothing behind. Every test names
# what it makes "shmkit-test-*" (POSIX, files) or uses keys in 0x5348xxxx
# ("SH") for System V, so anything matching is ours and a leak.
set -u
bad=0
for f in /dev/shm/shmkit-test-* /dev/shm/shmkit-demo-* /dev/shm/shmkit-bench-*; do
  [ -e "$f" ] || continue
  echo "leftover in /dev/shm: $f"; bad=1
done
if [ -r /proc/sysvipc/shm ]; then
  while read -r key id _; do
    case "$key" in key) continue ;; esac
    hex=$(printf '%08x' "$key" 2>/dev/null || echo 0)
    case "$hex" in 5348*) echo "leftover System V segment: key 0x$hex shmid $id"; bad=1 ;; esac
  done < /proc/sysvipc/shm
fi
[ $bad -eq 0 ] && echo "no leftovers in /dev/shm or ipcs -m"
exit $bad
