#!/usr/bin/env bash
# run_example.sh NAME BINARY: run one of examples/ (built by
# tests/CMakeLists.txt as example_NAME, with the suite's flags) and check
# what it must do: exit 0 within 30 s, print nothing on stderr, print the
# lines that show it worked (below, per example), and leave nothing behind:
# no /dev/shm/shmkit-example-*-<its pid>*, and no System V segment new in
# ipcs -m with its pid as the creator's. Whatever it left is reported, then
# removed: those are its own. One ctest test per example (example_NAME).
set -u

name=${1:?usage: run_example.sh NAME BINARY}
bin=${2:?usage: run_example.sh NAME BINARY}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkit-run-example.XXXXXX")
pid=""
fails=0
trap 'rm -rf -- "$tmp"' EXIT

fail() { echo "FAIL: $name: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok   $name: $*"; }

# want ERE...: each pattern matches a line of the example's stdout.
want() {
  local re
  for re in "$@"; do
    if grep -qE -- "$re" "$tmp/out"; then pass "prints /$re/"; else fail "no line matches /$re/"; fi
  done
}

[ -x "$bin" ] || { echo "FAIL: $name: $bin was not built" >&2; exit 1; }

ipcs_ids() {
  command -v ipcs >/dev/null 2>&1 || return 0
  ipcs -m 2>/dev/null | awk '$2 ~ /^[0-9]+$/ { print $2 }' | sort
}
ipcs_ids >"$tmp/sysv.before"

# Bounded at 30 s; the shell notes its pid, then becomes the example.
timeout -s KILL 30 bash -c 'echo $$ >"$1"; exec "$0"' "$bin" "$tmp/pid" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
pid=$(cat "$tmp/pid")
sed "s/^/    $name: /" "$tmp/out"
if [ "$rc" -eq 0 ]; then pass "exit status 0"; else fail "exit status $rc"; fi
if [ -s "$tmp/err" ]; then
  fail "wrote to stderr:"
  sed "s/^/    stderr: /" "$tmp/err" >&2
else
  pass "nothing on stderr"
fi

case $name in
hello)
  want "^child  read 'ping' from posix:/shmkit-example-$pid \(4096 bytes\)\$" \
       "^parent read 'pong'\$" ;;
posix_pair)
  want "^writer: created posix:/shmkit-example-pair-$pid, starting the reader\$" \
       "^reader: attached posix:/shmkit-example-pair-$pid \([0-9]+ bytes\), waiting for the writer\$" \
       "^reader: line 4 from the writer, pid $pid\$" \
       "^reader: read 4 lines\$" \
       "^writer: the reader is done, posix:/shmkit-example-pair-$pid removed\$" ;;
chan_stream)
  want "^producer: sent 1000 messages, closing\$" \
       "^consumer: 'message 1 of 1000'\$" \
       "^consumer: 'message 1000 of 1000'\$" \
       "^consumer: end of stream \(EPIPE\) after 1000 messages, 0 out of order\$" ;;
memfd_pass)
  want "^sender: sent memfd:shmkit-example-pass \(4096 bytes, sealed\) over a socket\$" \
       "^receiver: got memfd:shmkit-example-pass, 4096 bytes: 'hello through a socket'\$" \
       "^receiver: seals: shrink grow seal\$" \
       "^receiver: grow it to 8192 bytes: refused \(EPERM\)\$" \
       "^receiver: shrink it to 1024 bytes: refused \(EPERM\)\$" \
       "^receiver: add a write seal: refused \(EPERM\)\$" \
       "^sender: reads 'the seals held, from pid [0-9]+'\$" ;;
robust_mutex)
  want "^parent: killed the child \(pid [0-9]+\) while it held the mutex\$" \
       "^locker: EOWNERDEAD: the holder died; a=900 b=0, sum 900, 100 in flight\$" \
       "^locker: repaired: a=900 b=100, sum 1000\$" \
       "^parent: locked again, no error: a=900 b=100, sum 1000\$" ;;
chan_poll)
  want "^parent: 'message 1' after [0-9]+ ticks\$" \
       "^parent: 'message 5' after [0-9]+ ticks\$" \
       "^parent: end of stream \(EPIPE\): 5 messages, [1-9][0-9]* timer ticks\$"
  # The timer ran while the loop waited for the channel: messages 120 ms
  # apart, ticks every 50 ms.
  first=$(sed -n "s/^parent: 'message 1' after \([0-9]*\) ticks\$/\1/p" "$tmp/out")
  last=$(sed -n "s/^parent: 'message 5' after \([0-9]*\) ticks\$/\1/p" "$tmp/out")
  if [ -n "$first" ] && [ -n "$last" ] && [ "$last" -gt "$first" ]; then
    pass "ticks came between messages ($first, then $last)"
  else
    fail "no ticks between the first and the last message ($first, $last)"
  fi ;;
ephemeral_gc)
  want "^sysv: sysv:id=[0-9]+, ephemeral, parent detached: still there, 1 attached \(the child\)\$" \
       "^sysv: the last user is gone, and so is sysv:id=[0-9]+ \(ENOENT\)\$" \
       "^gc: file:/dev/shm/shmkit-example-gc-$pid-[^/]+/job in use: 1; a dry run would remove 0\$" \
       "^gc: file:/dev/shm/shmkit-example-gc-$pid-[^/]+/job is now stale\$" \
       "^gc: removed file:/dev/shm/shmkit-example-gc-$pid-[^/]+/job \(4096 bytes\)\$" \
       "^gc: removed 1; file:/dev/shm/shmkit-example-gc-$pid-[^/]+/config is kept \(persistent\)\$" \
       "^gc: unlinked file:/dev/shm/shmkit-example-gc-$pid-[^/]+/config\$"
  if grep -q 'would remove file:' "$tmp/out"; then
    fail "the dry run reported a segment in use"
  fi ;;
*)
  fail "no checks for this example" ;;
esac

# Nothing left behind under its names.
left=$(ls -d /dev/shm/shmkit-example-*"-$pid" /dev/shm/shmkit-example-*"-$pid"[-.]* 2>/dev/null)
if [ -n "$left" ]; then
  fail "left in /dev/shm: $left"
  rm -rf -- $left
else
  pass "nothing left in /dev/shm"
fi
# New System V segments that it created (creator pid).
ids=""
for id in $(comm -13 "$tmp/sysv.before" <(ipcs_ids)); do
  if ipcs -m -p 2>/dev/null | awk -v p="$pid" -v i="$id" '$1 == i && $3 == p { f = 1 } END { exit !f }'; then
    ids="$ids $id"
  fi
done
if [ -n "$ids" ]; then
  fail "left System V segments:$ids"
  for id in $ids; do ipcrm -m "$id" 2>/dev/null; done
else
  pass "no System V segment left"
fi

if [ "$fails" -ne 0 ]; then
  echo "$name: $fails failed" >&2
  exit 1
fi
echo "$name: all passed"
