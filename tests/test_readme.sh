#!/usr/bin/env bash
# test_readme.sh: every ```c block of README.md is a whole program, and
# stays one. Each block is pulled out, compiled as it stands against the
# library with the suite's warnings as errors (and its sanitizers), and run
# twice: both runs must exit 0 within 30 s, print nothing on stderr, print
# something on stdout, and leave nothing in /dev/shm or ipcs -m. The README's
# programs name their segments "posix:/NAME-%d" with their pid, so what a
# run leaves is found by name, reported, and removed (it is that run's own).
#
# From ctest (tests/CMakeLists.txt sets): SHMKIT_SRC, SHMKIT_CC (the build's
# compiler), SHMKIT_LIB (the static library), SHMKIT_SAN_FLAGS.
set -u

SRC=${SHMKIT_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
CC=${SHMKIT_CC:-cc}
LIB=${SHMKIT_LIB:?set SHMKIT_LIB to the static library libshmkit.a}
SAN=${SHMKIT_SAN_FLAGS:-}
README="$SRC/README.md"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkit-test-readme.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

# Pull out the blocks: readme_1.c, readme_2.c, ... in order.
awk -v dir="$tmp" '
  /^```c[ \t]*$/ { n++; f = sprintf("%s/readme_%d.c", dir, n); inb = 1; next }
  inb && /^```[ \t]*$/ { inb = 0; close(f); next }
  inb { print > f }
  END { if (inb) exit 1 }
' "$README" || fail "a \`\`\`c block in README.md is not closed"
blocks=$(ls "$tmp"/readme_*.c 2>/dev/null | wc -l)
# Three sections hold C today: In C, Channels, Heaps. Fewer means the
# extraction broke, not that there is nothing to test.
if [ "$blocks" -ge 3 ]; then pass "README.md has $blocks C blocks"; else fail "only $blocks C blocks found in README.md"; fi

# sysv_ids: every System V segment id on the host.
sysv_ids() {
  command -v ipcs >/dev/null 2>&1 || return 0
  ipcs -m 2>/dev/null | awk '$2 ~ /^[0-9]+$/ { print $2 }' | sort
}

# leftovers C PID BEFORE: what the run of program C as PID left behind, and
# remove it: the posix: names C makes ("posix:/NAME-%d" in its source) with
# PID, and System V segments PID created that were not there BEFORE.
leftovers() {
  local c=$1 pid=$2 before=$3 n id
  for n in $(grep -oE '"posix:/[A-Za-z0-9._-]+-%d"' "$c" | sed 's|^"posix:/||; s|-%d"$||'); do
    if [ -e "/dev/shm/$n-$pid" ]; then
      rm -f -- "/dev/shm/$n-$pid"
      echo "/dev/shm/$n-$pid"
    fi
  done
  for id in $(comm -13 "$before" <(sysv_ids)); do
    if ipcs -m -p 2>/dev/null | awk -v p="$pid" -v i="$id" '$1 == i && $3 == p { f = 1 } END { exit !f }'; then
      ipcrm -m "$id" 2>/dev/null
      echo "sysv shmid $id"
    fi
  done
}

for i in $(seq 1 "$blocks"); do
  c="$tmp/readme_$i.c"
  line=$(awk -v n="$i" '/^```c[ \t]*$/ && ++k == n { print NR + 1 }' "$README")
  what="README.md block $i (line $line)"
  # $SAN and the libraries are words; the program is compiled as written.
  # shellcheck disable=SC2086
  if ! "$CC" -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
      -Wmissing-prototypes $SAN -I"$SRC/include" "$c" "$LIB" -pthread -lrt \
      -o "$tmp/readme_$i" 2>"$tmp/cc.err"; then
    fail "$what does not compile:"
    sed "s|$tmp/readme_$i.c|README.md block $i|; s/^/    /" "$tmp/cc.err" >&2
    continue
  fi
  pass "$what compiles"
  # Its names hold its pid: two runs (or two of these tests) never collide,
  # and what it leaves can be found.
  if grep -qE '"posix:/[^"]*"' "$c" && ! grep -qE '"posix:/[A-Za-z0-9._-]+-%d"' "$c"; then
    fail "$what names a posix: segment without its pid (\"posix:/NAME-%d\")"
  fi
  for run in 1 2; do
    sysv_ids >"$tmp/sysv.before"
    timeout -s KILL 30 bash -c 'echo $$ >"$1"; exec "$0"' "$tmp/readme_$i" \
      "$tmp/pid" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    pid=$(cat "$tmp/pid")
    sed "s/^/    block $i run $run: /" "$tmp/out"
    if [ "$rc" -eq 0 ]; then pass "$what run $run: exit 0"; else fail "$what run $run: exit status $rc"; fi
    if [ -s "$tmp/err" ]; then
      fail "$what run $run wrote to stderr:"
      sed 's/^/    stderr: /' "$tmp/err" >&2
    fi
    [ -s "$tmp/out" ] || fail "$what run $run printed nothing"
    left=$(leftovers "$c" "$pid" "$tmp/sysv.before")
    if [ -n "$left" ]; then fail "$what run $run left behind: $left"; else pass "$what run $run left nothing behind"; fi
  done
done

if [ "$fails" -ne 0 ]; then
  echo "readme: $fails failed" >&2
  exit 1
fi
echo "readme: all passed"
