#!/usr/bin/env bash
# test_cli_more.sh: the later additions to the shmkit command line: `ls`
# filters (PATTERN, --backend, --dir) and its KIND column (segment,
# channel, heap; also in --json), `resize`, `top`, and the bash completion
# in tools/completion/shmkit.bash; every bad input exits 1 or 2 with a
# "shmkit:" message and changes nothing.
# `shmkit ls` sees the whole host, other tests' segments included: every
# check looks only at names of this test's own. The EXIT trap removes what
# it makes whatever happens: names /shmkit-test-cli-more-<pid>-* in
# /dev/shm (file: segments in a directory of that name) and System V keys
# 0x534axxxx it created.
set -u

CLI=${SHMKIT_CLI:?set SHMKIT_CLI to the shmkit binary}
SRC=${SHMKIT_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
P="/shmkit-test-cli-more-$$"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkit-test-cli-more.XXXXXX")
D=$(mktemp -d "/dev/shm/shmkit-test-cli-more-$$-dir.XXXXXX")
keys=""
pids=""
fails=0

cleanup() {
  local p k f
  for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for k in $keys; do "$CLI" rm -f "sysv:$k" >/dev/null 2>&1; done
  for f in /dev/shm/shmkit-test-cli-more-$$-*; do [ -e "$f" ] && rm -rf -- "$f"; done
  rm -rf -- "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

# run WANT DESC CMD...: run CMD with its output in $tmp/out and $tmp/err
# and check the exit status; failures (1, 2) must say "shmkit:" on stderr.
run() {
  local want=$1 desc=$2 got
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    fail "$desc: exit status $got, expected $want"
    sed 's/^/    stdout: /' "$tmp/out" >&2
    sed 's/^/    stderr: /' "$tmp/err" >&2
    return 1
  fi
  if { [ "$want" -eq 1 ] || [ "$want" -eq 2 ]; } && ! grep -q '^shmkit: ' "$tmp/err"; then
    fail "$desc: no 'shmkit: ' message on stderr"
    return 1
  fi
  pass "$desc"
}

check() {
  local desc=$1
  shift
  if "$@"; then pass "$desc"; else fail "$desc"; fi
}

out_line() { grep -qE -- "$1" "$tmp/out"; }
out_lacks() { ! grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qiF -- "$1" "$tmp/err"; }
# rows_of PATTERN: how many lines of stdout match the extended regexp.
rows_of() { grep -cE -- "$1" "$tmp/out"; }

eventually() {
  local _
  for _ in $(seq 1 100); do "$@" && return 0; sleep 0.1; done
  return 1
}

# json_is FILE EXPR: EXPR (Python, over j = the parsed file) is true.
json_is() {
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

size_of() { "$CLI" info --json "$1" 2>/dev/null | sed -n 's/.*"size": \([0-9]*\).*/\1/p'; }

# The segments, channels and heaps of the test.
S="posix:$P-seg"
CH="posix:$P-ch"
H="posix:$P-heap"
run 0 "create a segment" "$CLI" create "$S" 4K
run 0 "create a channel" "$CLI" chan create "$CH" --kind spsc
run 0 "create a heap" "$CLI" heap create "$H" 1M
run 0 "create a file: segment" "$CLI" create "file:$D/fseg" 8K
run 0 "create a file: channel" "$CLI" chan create "file:$D/fch" --kind mpmc
run 0 "create an ephemeral file: segment" "$CLI" create --ephemeral "file:$D/feph" 4K
echo "not shmkit's" >"$D/plain"
"$CLI" create "file:$D/.hidden" 4K >/dev/null 2>&1
ln -s "$D/fseg" "$D/link"
mkdir "$D/sub"
"$CLI" create "file:$D/sub/inner" 4K >/dev/null
ln -s "$D/sub" "$D/linkdir"

# -- help ---------------------------------------------------------------------------
run 0 "--help" "$CLI" --help && {
  check "--help lists resize" out_line '^  resize +grow or shrink'
  check "--help lists top" out_line '^  top +live view'
}
for c in resize top; do
  run 0 "$c --help" "$CLI" "$c" --help && check "$c --help: usage" out_line "^Usage: shmkit $c "
  run 0 "help $c" "$CLI" help "$c"
done
run 0 "ls --help" "$CLI" ls --help && {
  check "ls --help names --backend, --dir, PATTERN and KIND" sh -c \
    "grep -q -- '--backend NAME' '$tmp/out' && grep -q -- '--dir DIR' '$tmp/out' && grep -q PATTERN '$tmp/out' && grep -q KIND '$tmp/out'"
}

# -- ls: KIND, patterns, backends ---------------------------------------------------
run 0 "ls PATTERN on the spec" "$CLI" ls "posix:$P-*" && {
  check "the header has KIND" out_line '^SPEC +BACKEND .* STATUS +KIND$'
  check "exactly our three posix segments" test "$(rows_of "^posix:$P-")" -eq 3
  check "no other row" test "$(wc -l <"$tmp/out")" -eq 4
  check "the segment is a segment" out_line "^$S +posix .* segment\$"
  check "the channel is a channel" out_line "^$CH +posix .* channel\$"
  check "the heap is a heap" out_line "^$H +posix .* heap\$"
}
run 0 "ls PATTERN on the name" "$CLI" ls "$P-s*" && {
  check "only the segment" test "$(rows_of "$P")" -eq 1
  check "it is the segment" out_line "^$S "
}
run 0 "ls with two patterns" "$CLI" ls "$P-ch" "posix:$P-heap" &&
  check "both, and nothing else" test "$(rows_of "$P")" -eq 2 -a "$(wc -l <"$tmp/out")" -eq 3
run 0 "ls PATTERN that matches nothing" "$CLI" ls "posix:$P-nothing*" &&
  check "only the header" test "$(wc -l <"$tmp/out")" -eq 1
run 0 "ls --backend posix" "$CLI" ls --backend posix "*$P*" &&
  check "posix rows only" test "$(rows_of "$P")" -eq 3
run 0 "ls --backend sysv with our pattern" "$CLI" ls --backend sysv "*$P*" &&
  check "no posix row" test "$(rows_of "$P")" -eq 0
run 0 "ls --json PATTERN" "$CLI" ls --json "posix:$P-*" && {
  cp "$tmp/out" "$tmp/ls.json"
  check "three objects" json_is "$tmp/ls.json" 'len(j) == 3'
  check "kind in JSON" json_is "$tmp/ls.json" \
    'sorted((s["spec"], s["kind"]) for s in j) == sorted([("'"$S"'", "segment"), ("'"$CH"'", "channel"), ("'"$H"'", "heap")])'
  check "\"heap\" still says which is a heap" json_is "$tmp/ls.json" \
    '[s["spec"] for s in j if s["heap"]] == ["'"$H"'"]'
}

# -- ls --dir: the file: segments shmkit made ----------------------------------------
run 0 "ls --dir" "$CLI" ls --dir "$D" "*$P*" && {
  check "the file: segment" out_line "^file:$D/fseg +file .* segment\$"
  check "the file: channel" out_line "^file:$D/fch +file .* channel\$"
  check "the ephemeral one, stale" out_line "^file:$D/feph +file .* stale +segment\$"
  check "not a file shmkit did not make" out_lacks "$D/plain"
  check "not a dot name" out_lacks "$D/.hidden"
  check "not a symlink" out_lacks "$D/link"
  check "not below the directory" out_lacks "$D/sub"
  check "and the posix ones too" test "$(rows_of "^posix:$P-")" -eq 3
}
run 0 "ls --backend file --dir" "$CLI" ls --backend file --dir "$D/" &&
  check "exactly the three file: segments, 'dir/' spelled as 'dir'" \
    test "$(rows_of "^file:$D/f(seg|ch|eph) ")" -eq 3 -a "$(wc -l <"$tmp/out")" -eq 4
run 0 "ls --backend posix --dir: no file: rows" "$CLI" ls --backend posix --dir "$D" "*$P*" &&
  check "none from the directory" out_lacks "file:"
run 0 "ls --json --dir" "$CLI" ls --json --backend file --dir "$D" && {
  cp "$tmp/out" "$tmp/dir.json"
  check "kinds of the file: segments in JSON" json_is "$tmp/dir.json" \
    'sorted((s["spec"], s["kind"], s["stale"]) for s in j) == sorted([("file:'"$D"'/fseg", "segment", False), ("file:'"$D"'/fch", "channel", False), ("file:'"$D"'/feph", "segment", True)])'
}
run 0 "ls --dir twice" "$CLI" ls --backend file --dir "$D" --dir "$D/sub" &&
  check "both directories" test "$(rows_of "^file:$D/(fseg|fch|feph|sub/inner) ")" -eq 4
if command -v python3 >/dev/null; then
  # A file mapped by another process: PROCS counts it.
  timeout 30 python3 -c '
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR); m = mmap.mmap(fd, 0); os.close(fd)
open(sys.argv[2], "w").close(); time.sleep(30)' "$D/fseg" "$tmp/mapped" &
  mapper=$!
  pids="$pids $mapper"
  if eventually test -e "$tmp/mapped"; then
    run 0 "ls --dir counts the processes" "$CLI" ls --backend file --dir "$D" &&
      check "PROCS 1 for the mapped file" out_line "^file:$D/fseg +file +- +8K +[^ ]+ +0600 +- +1 "
  else
    fail "the mapper did not start"
  fi
  kill "$mapper" 2>/dev/null; wait "$mapper" 2>/dev/null
fi

# -- ls: bad input --------------------------------------------------------------------
run 2 "ls --backend memfd" "$CLI" ls --backend memfd && check "says why" err_has "no name to be listed"
run 2 "ls --backend anon" "$CLI" ls --backend anon
run 2 "ls --backend bogus" "$CLI" ls --backend bogus && check "names the backends" err_has "posix, sysv or file"
run 2 "ls --backend with no value" "$CLI" ls --backend
run 2 "ls --backend file without --dir" "$CLI" ls --backend file && check "asks for --dir" err_has "--dir"
run 2 "ls --dir with no value" "$CLI" ls --dir
run 1 "ls --dir of a missing directory" "$CLI" ls --dir "$D/missing" && check "says so" err_has "$D/missing"
run 1 "ls --dir of a file" "$CLI" ls --dir "$D/plain" && check "not a directory" err_has "not a directory"
run 1 "ls --dir through a symlink" "$CLI" ls --dir "$D/linkdir" && check "refused as a symlink" err_has "symbolic link"

# -- hostile content: what only looks like a channel is not one -------------------------
F="posix:$P-fake"
run 0 "create a segment to fake a channel in" "$CLI" create "$F" 64K
printf 'SHMKCHAN\003\000\000\000\001\000\000\000' | "$CLI" write "$F" >/dev/null
T="posix:$P-trunc"
run 0 "create a segment to hold a truncated channel" "$CLI" create "$T" 4K
"$CLI" cat "$CH" | head -c 4096 | "$CLI" write "$T" >/dev/null 2>&1
run 0 "ls the fakes" "$CLI" ls "posix:$P-fake" "posix:$P-trunc" && {
  check "a channel's magic alone is a segment" out_line "^$F .* segment\$"
  check "a channel header cut short is a segment" out_line "^$T .* segment\$"
}
run 0 "top over the fakes" timeout 30 "$CLI" top --once -d 0.05 "posix:$P-fake" "posix:$P-trunc" &&
  check "no channel among them" out_line '^  \(none\)$'

# -- resize ------------------------------------------------------------------------------
printf 'hello' | "$CLI" write "$S" >/dev/null
run 0 "resize grows" "$CLI" resize "$S" 64K && check "says from and to" out_line "^$S: 4K -> 64K\$"
check "the size is 64K" test "$(size_of "$S")" = 65536
check "the bytes are kept" test "$("$CLI" cat "$S" | head -c 5)" = hello
run 0 "resize shrinks" "$CLI" resize "$S" 8K
check "the size is 8K" test "$(size_of "$S")" = 8192
check "the bytes are still kept" test "$("$CLI" cat "$S" | head -c 5)" = hello
run 0 "resize a file: segment" "$CLI" resize "file:$D/fseg" 1M
check "the file is 1M" test "$(stat -c %s "$D/fseg")" = 1048576

run 2 "resize: no SPEC" "$CLI" resize
run 2 "resize: no SIZE" "$CLI" resize "$S"
run 2 "resize: too many arguments" "$CLI" resize "$S" 4K 8K
run 2 "resize: SIZE 0" "$CLI" resize "$S" 0 && check "says positive" err_has "positive"
run 2 "resize: negative SIZE" "$CLI" resize "$S" -4K && check "says negative" err_has "negative"
run 2 "resize: malformed SIZE" "$CLI" resize "$S" 4Q
run 2 "resize: fractional bytes" "$CLI" resize "$S" 1.1K
run 2 "resize: unknown option" "$CLI" resize --bogus "$S" 4K
check "none of that changed the size" test "$(size_of "$S")" = 8192
run 1 "resize: malformed spec" "$CLI" resize "posix:no-slash" 4K && check "names the rule" err_has "a posix: name is '/'"
run 1 "resize: missing segment" "$CLI" resize "posix:$P-missing" 4K && check "says no such segment" err_has "no such segment"
check "and did not make it" test ! -e "/dev/shm$P-missing"
run 1 "resize: anon:" "$CLI" resize anon: 4K && check "anon: has no name" err_has "anon:"
run 1 "resize: a channel" "$CLI" resize "$CH" 1M && check "says it holds a channel" err_has "holds a channel"
check "the channel's size is unchanged" test "$(size_of "$CH")" -lt 1048576
run 0 "the channel is intact" "$CLI" chan stat "$CH"
run 1 "resize: a heap" "$CLI" resize "$H" 4M && check "says it holds a heap" err_has "holds a heap"
check "the heap's size is unchanged" test "$(size_of "$H")" = 1048576
run 0 "the heap is intact" "$CLI" heap check "$H"
run 1 "resize: past what tmpfs holds" "$CLI" resize "$S" 1E && check "names the limit" err_has "exceeds"
check "the size is unchanged after a refused grow" test "$(size_of "$S")" = 8192
check "and the bytes too" test "$("$CLI" cat "$S" | head -c 5)" = hello
# Shrinking under another process that maps it: refused unless --force.
timeout 30 python3 -c '
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR); m = mmap.mmap(fd, 4096); os.close(fd)
open(sys.argv[2] + ".new", "w").write(str(os.getpid()))
os.rename(sys.argv[2] + ".new", sys.argv[2]); time.sleep(30)' "/dev/shm$P-seg" "$tmp/mapped2" &
mapper=$!
pids="$pids $mapper"
if eventually test -e "$tmp/mapped2"; then
  run 1 "resize: shrink a segment another process maps" "$CLI" resize "$S" 4K &&
    check "says who maps it" err_has "mapped by 1 process: $(cat "$tmp/mapped2") python3"
  check "the size is unchanged" test "$(size_of "$S")" = 8192
  run 0 "resize: growing it is allowed" "$CLI" resize "$S" 16K
  run 0 "resize --force shrinks it anyway" "$CLI" resize --force "$S" 8K
  check "the size is 8K again" test "$(size_of "$S")" = 8192
else
  fail "the mapper did not start"
fi
kill "$mapper" 2>/dev/null; wait "$mapper" 2>/dev/null
run 1 "resize: a memfd: this process did not inherit" "$CLI" resize "memfd:$P-none" 4K &&
  check "says a memfd: has no global name" err_has "no global name"
# Shrinking someone else's segment: refused unless --force (root only can try).
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
  O="posix:$P-other"
  if setpriv --reuid=65534 --regid=65534 --clear-groups "$CLI" create --mode 0666 "$O" 8K >/dev/null 2>"$tmp/err"; then
    run 1 "resize: shrink a segment of another user" "$CLI" resize "$O" 4K &&
      check "says whose it is" err_has "owned by"
    check "its size is unchanged" test "$(size_of "$O")" = 8192
    run 0 "resize: growing it is allowed" "$CLI" resize "$O" 16K
    "$CLI" rm -f "$O" >/dev/null
  else
    fail "could not create a segment as uid 65534: $(cat "$tmp/err")"
  fi
else
  echo "SKIP resize of another user's segment: needs root and setpriv"
fi
if [ -r /proc/sysvipc/shm ]; then
  K=""
  for i in $(seq 0 63); do
    k=$(printf '0x534a%04x' $(( ($$ * 2 + i) & 0xffff )))
    if "$CLI" create "sysv:$k" 8K >/dev/null 2>"$tmp/err"; then K=$k; keys="$keys $k"; break; fi
    grep -q 'already exists' "$tmp/err" || break
  done
  if [ -n "$K" ]; then
    run 1 "resize: System V" "$CLI" resize "sysv:$K" 64K && check "says System V cannot" err_has "System V"
    check "the System V segment keeps its size" test "$(size_of "sysv:$K")" = 8192
    run 0 "rm the System V segment" "$CLI" rm "sysv:$K"
  else
    fail "could not create a System V segment: $(cat "$tmp/err")"
  fi
else
  echo "SKIP resize of System V: /proc/sysvipc/shm is not there"
fi

# -- top -----------------------------------------------------------------------------------
run 0 "top --once" timeout 30 "$CLI" top --once -d 0.1 "posix:$P-*" && {
  check "a header" out_line '^shmkit top  [0-9:]+  every 0.1s$'
  check "our five segments" out_line '^Segments \(5\)$'
  check "the segments table" out_line "^  $S +posix +8K +[0-9]+ +- +segment\$"
  check "the heap in it" out_line "^  $H +posix +1M +[0-9]+ +- +heap\$"
  check "the channels table" out_line '^  SPEC +KIND +SENT/S +RECV/S +FILL +W +R +SENT +RECV +STREAM$'
  check "the channel, idle" out_line "^  $CH +spsc +0 +0 +0% +0 +0 +0 +0 +open\$"
  check "no escape codes when stdout is not a terminal" sh -c "! grep -q \$(printf '\\033') '$tmp/out'"
}
# Traffic: a writer that sends a line every 10 ms for about 3 s.
(for i in $(seq 1 300); do echo "m$i"; sleep 0.01; done) |
  timeout 60 "$CLI" chan send "$CH" >/dev/null 2>"$tmp/send.err" &
sender=$!
pids="$pids $sender"
sent_some() { "$CLI" chan stat "$CH" 2>/dev/null | grep -qE '^  messages +[1-9][0-9]* sent'; }
if eventually sent_some; then
  run 0 "top while the writer sends" timeout 30 "$CLI" top --once -d 0.5 "$CH" && {
    check "SENT/S is more than 0, with one writer" \
      out_line "^  $CH +spsc +[1-9][0-9.]* +0 +[0-9]+% +1 +0 +[1-9][0-9]* +0 +open\$"
  }
else
  fail "the writer sent nothing: $(cat "$tmp/send.err")"
fi
wait "$sender"
check "the writer sent all 300" test $? -eq 0
run 0 "top once the writer closed" timeout 30 "$CLI" top --once -d 0.1 "$CH" &&
  check "no rate now, 300 sent, the ring partly full, the stream ended" \
    out_line "^  $CH +spsc +0 +0 +[1-9][0-9]*% +0 +0 +300 +0 +ended\$"
run 0 "a reader drains it" timeout 30 "$CLI" chan recv "$CH" --count 300
run 0 "top after the reader" timeout 30 "$CLI" top --once -d 0.1 "$CH" &&
  check "300 received, empty" out_line "^  $CH +spsc +0 +0 +0% +0 +0 +300 +300 +ended\$"
run 0 "top -n 2" timeout 30 "$CLI" top -n 2 -d 0.05 "posix:$P-*" &&
  check "two views" test "$(rows_of '^shmkit top ')" -eq 2
run 0 "top --iterations 3 --delay 0.05" timeout 30 "$CLI" top --iterations 3 --delay 0.05 "posix:$P-*" &&
  check "three views" test "$(rows_of '^shmkit top ')" -eq 3
run 0 "top --dir" timeout 30 "$CLI" top --once -d 0.05 --backend file --dir "$D" &&
  check "the file: channel among the channels" out_line "^  file:$D/fch +mpmc +0 +0 +0% "
run 0 "top with nothing to show" timeout 30 "$CLI" top --once -d 0.05 "posix:$P-nothing" && {
  check "no segments" out_line '^Segments \(0\)$'
  check "no channels" out_line '^  \(none\)$'
}
if command -v script >/dev/null 2>&1; then
  timeout 30 script -qec "$CLI top -n 2 -d 0.05 'posix:$P-*'" /dev/null >"$tmp/tty" 2>&1
  check "on a terminal: clear and home before each view" \
    test "$(grep -o "$(printf '\033')\[H$(printf '\033')\[2J" "$tmp/tty" | wc -l)" -eq 2
else
  echo "SKIP top on a terminal: script(1) is not installed"
fi
run 2 "top -d 0" "$CLI" top -d 0 && check "names the range" err_has "0.01 to 3600"
run 2 "top -d abc" "$CLI" top -d abc
run 2 "top -d 5000" "$CLI" top -d 5000
run 2 "top -d nan" "$CLI" top -d nan
run 2 "top -n 0" "$CLI" top -n 0 && check "says a count" err_has "count"
run 2 "top -n x" "$CLI" top -n x
run 2 "top --once -n 3" "$CLI" top --once -n 3
run 2 "top --backend memfd" "$CLI" top --backend memfd
run 2 "top --backend file without --dir" "$CLI" top --backend file
run 2 "top: unknown option" "$CLI" top --bogus
run 1 "top --dir of a missing directory" timeout 30 "$CLI" top --once -d 0.05 --dir "$D/missing"

# -- bash completion -------------------------------------------------------------------------
COMP="$SRC/tools/completion/shmkit.bash"
if [ -f "$COMP" ]; then
  # complete BREAKS WORD...: COMPREPLY, one per line, for the command line
  # WORD... (the last word is the one completed), with COMP_WORDBREAKS.
  complete_words() {
    local breaks=$1
    shift
    bash -c '
      source "$1"; shift
      COMP_WORDBREAKS=$1; shift
      COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
      _shmkit
      printf "%s\n" "${COMPREPLY[@]}"' sh "$COMP" "$breaks" "$@" >"$tmp/out" 2>"$tmp/err"
  }
  nocolon=$' \t\n"'"'"'><=;|&('
  withcolon="$nocolon:"
  replies() { tr '\n' ' ' <"$tmp/out" | sed 's/ $//'; }
  complete_words "$nocolon" "$CLI" ""
  check "completes the subcommands" sh -c "grep -qx ls '$tmp/out' && grep -qx resize '$tmp/out' && grep -qx top '$tmp/out' && grep -qx chan '$tmp/out'"
  complete_words "$nocolon" "$CLI" re
  check "re -> resize" test "$(replies)" = resize
  complete_words "$nocolon" "$CLI" ls --b
  check "ls --b -> --backend" test "$(replies)" = --backend
  complete_words "$nocolon" "$CLI" top -
  check "top's options" test "$(replies)" = "--once --iterations --delay --backend --dir --help"
  complete_words "$nocolon" "$CLI" top -d 1 "posix:$P-s"
  check "top's PATTERN is not completed, -d's value skipped" test -z "$(replies)"
  complete_words "$nocolon" "$CLI" ls --backend ""
  check "--backend's values" test "$(replies)" = "posix sysv file"
  complete_words "$nocolon" "$CLI" chan ""
  check "chan's subcommands" test "$(replies)" = "create stat send recv rm"
  complete_words "$nocolon" "$CLI" chan create --kind ""
  check "--kind's values" test "$(replies)" = "spsc mpmc broadcast"
  complete_words "$nocolon" "$CLI" chan recv "$CH" --
  check "chan recv's options" test "$(replies)" = "--count --oldest --timeout --wait --help"
  complete_words "$nocolon" "$CLI" info "posix:$P-"
  check "info completes specs from ls" test "$(replies)" = "posix:$P-ch posix:$P-fake posix:$P-heap posix:$P-seg posix:$P-trunc"
  complete_words "$nocolon" "$CLI" chan stat "posix:$P-"
  check "chan stat completes channels only" test "$(replies)" = "$CH"
  complete_words "$nocolon" "$CLI" heap check "posix:$P-"
  check "heap check completes heaps only" test "$(replies)" = "$H"
  complete_words "$nocolon" "$CLI" rm -f "$S" "posix:$P-h"
  check "rm completes every operand" test "$(replies)" = "$H"
  complete_words "$nocolon" "$CLI" resize "$S" ""
  check "resize's SIZE is not a spec" test -z "$(replies)"
  complete_words "$nocolon" "$CLI" write --offset 4K "posix:$P-s"
  check "an option's value does not count as the spec" test "$(replies)" = "$S"
  # As readline splits at ':': "posix" ":" "/name", and the reply is what
  # follows the last ':'.
  complete_words "$withcolon" "$CLI" info posix : "$P-"
  check "specs split at ':'" test "$(replies)" = "$P-ch $P-fake $P-heap $P-seg $P-trunc"
  complete_words "$withcolon" "$CLI" chan send posix :
  check "after a lone ':'" test "$(replies)" = "$P-ch"
  complete_words "$nocolon" "$CLI" ls --dir "$D/s"
  check "--dir completes directories" test "$(replies)" = "$D/sub"
  check "the install puts it in share/bash-completion/completions" \
    grep -q 'bash-completion/completions' "${SHMKIT_BUILD:-.}/cmake_install.cmake"
else
  fail "no completion script at $COMP"
fi

# -- nothing left behind -----------------------------------------------------------------------
for s in "$S" "$CH" "$H" "$F" "$T"; do "$CLI" rm "$s" >/dev/null || fail "rm $s"; done
rm -rf -- "$D"
check "nothing of ours left in /dev/shm" sh -c "! ls -d /dev/shm/shmkit-test-cli-more-$$-* >/dev/null 2>&1"
for k in $keys; do
  check "System V key $k is gone" sh -c "! grep -qiE '^ *$((k)) ' /proc/sysvipc/shm"
done

if [ "$fails" -ne 0 ]; then
  echo "cli_more: $fails failed" >&2
  exit 1
fi
echo "cli_more: all passed"
