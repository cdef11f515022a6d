#!/usr/bin/env bash
# test_heap_cli.sh: `shmkit heap` end to end: create, stat (text and JSON,
# with the real values), get, ls, check, unname and rm; exit statuses (0
# done, 1 failed, 2 usage) with "shmkit:" messages that name the reason;
# what is not a heap is refused and left untouched (stat, rm, and a create
# over an existing name); a heap that grows, and one that is full; `shmkit
# ls` marking heaps; racing gets of one name; a damaged heap found by
# check; and the example examples/heap_list (built by tests/CMakeLists.txt
# as example_heap_list, with the build's flags).
# Every command runs under timeout. The EXIT trap removes everything it
# makes whatever happens: names /shmkit-test-heap-cli-<pid>-* in /dev/shm
# (file: heaps in a directory of that name) and the example's heap.
set -u

CLI=${SHMKIT_CLI:?set SHMKIT_CLI to the shmkit binary}
SRC=${SHMKIT_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${SHMKIT_BUILD:-}
P="/shmkit-test-heap-cli-$$"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkit-test-heap-cli.XXXXXX")
D=$(mktemp -d "/dev/shm/shmkit-test-heap-cli-$$-dir.XXXXXX")
expid=""
pids=""
fails=0

cleanup() {
  local p f
  for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for f in "/dev/shm/shmkit-test-heap-cli-$$-"*; do [ -e "$f" ] && rm -rf -- "$f"; done
  [ -n "$expid" ] && rm -f "/dev/shm/shmkit-example-heap-$expid"
  rm -rf -- "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

# run WANT DESC CMD...: run CMD (bounded: 60 s), keep its output in
# $tmp/out and $tmp/err, and check the exit status; failures (1, 2) must
# say "shmkit:" on stderr.
run() {
  local want=$1 desc=$2 got
  shift 2
  timeout 60 "$@" >"$tmp/out" 2>"$tmp/err"
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

# check DESC COMMAND...: a plain assertion.
check() {
  local desc=$1
  shift
  if "$@"; then pass "$desc"; else fail "$desc"; fi
}

out_has() { grep -qF -- "$1" "$tmp/out"; }
out_lacks() { ! grep -qF -- "$1" "$tmp/out"; }
err_has() { grep -qiF -- "$1" "$tmp/err"; }
out_line() { grep -qE -- "$1" "$tmp/out"; }
have_python() { command -v python3 >/dev/null 2>&1; }

# json_is FILE EXPR: python3 evaluates EXPR with j the parsed JSON (passes
# without python3: the text checks still run).
json_is() {
  have_python || return 0
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# stat_field SPEC KEY: one number from `heap stat --json`.
stat_field() {
  timeout 60 "$CLI" heap stat --json "$1" 2>/dev/null |
    sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p"
}

S="posix:$P-h"
N="posix:$P-plain"

# -- help ---------------------------------------------------------------------
run 0 "--help lists heap" "$CLI" --help && check "heap in the command list" out_line '^  heap +heaps: '
run 0 "heap --help" "$CLI" heap --help && {
  check "heap --help: usage" out_line '^Usage: shmkit heap '
  for c in create stat ls check get unname rm; do
    check "heap --help lists $c" out_line "^  $c "
  done
}
run 0 "help heap" "$CLI" help heap && check "help heap is heap --help" out_line '^Usage: shmkit heap '
for c in create stat ls check get unname rm; do
  run 0 "heap $c --help" "$CLI" heap "$c" --help &&
    check "heap $c --help prints its usage" out_line "^Usage: shmkit heap $c"
done

# -- usage errors: exit 2, and nothing made ----------------------------------------
run 2 "heap without a command" "$CLI" heap
run 2 "heap: unknown command" "$CLI" heap frobnicate && check "names it" err_has "unknown command 'frobnicate'"
run 2 "create: no SPEC" "$CLI" heap create && check "says what it expects" err_has "expected SPEC and SIZE"
run 2 "create: no SIZE" "$CLI" heap create "$S"
run 2 "create: bad size" "$CLI" heap create "$S" 12Q && {
  check "names the size" err_has "invalid SIZE '12Q'"
  check "says to try --help" err_has "Try 'shmkit heap create --help'"
}
run 2 "create: size 0" "$CLI" heap create "$S" 0
run 2 "create: not whole bytes" "$CLI" heap create "$S" 64.1K && check "says so" err_has "not a whole number of bytes"
run 2 "create: size overflows" "$CLI" heap create "$S" 17179869184G && check "says too large" err_has "too large"
run 2 "create: negative size" "$CLI" heap create "$S" -64K && check "says negative, not unknown option" err_has "is negative"
run 2 "create: below the smallest heap" "$CLI" heap create "$S" 4K && check "says at least 64K" err_has "at least 64K"
run 2 "create: --max below SIZE" "$CLI" heap create "$S" 1M --max 64K && check "says so" err_has "less than SIZE"
run 2 "create: bad --max" "$CLI" heap create "$S" 64K --max lots && check "names --max" err_has "invalid --max 'lots'"
run 2 "create: --max without value" "$CLI" heap create "$S" 64K --max && check "says it needs a value" err_has "needs a value"
run 2 "create: bad mode" "$CLI" heap create "$S" 64K --mode 0999
run 2 "create: mode 0" "$CLI" heap create "$S" 64K --mode 0
run 2 "create: unknown option" "$CLI" heap create "$S" 64K --bogus && check "names the option" err_has "unknown option '--bogus'"
run 2 "create: stray operand" "$CLI" heap create "$S" 64K extra
run 2 "create: memfd: from a shell" "$CLI" heap create memfd:h 64K && check "says it would vanish" err_has "vanish"
run 2 "create: anon:" "$CLI" heap create anon: 64K
run 2 "create: a growing sysv: heap" "$CLI" heap create sysv:private 64K --max 1M && check "says sysv: cannot grow" err_has "cannot grow"
run 2 "stat: no SPEC" "$CLI" heap stat && check "says it expects SPEC" err_has "expected SPEC"
run 2 "stat: unknown option" "$CLI" heap stat "$S" --bogus && check "names the option" err_has "--bogus"
run 2 "stat: two SPECs" "$CLI" heap stat "$S" "$N"
run 2 "ls: no SPEC" "$CLI" heap ls
run 2 "check: --json is not an option of check" "$CLI" heap check --json "$S"
run 2 "get: no NAME or SIZE" "$CLI" heap get "$S"
run 2 "get: SIZE 0" "$CLI" heap get "$S" x 0
run 2 "get: bad SIZE" "$CLI" heap get "$S" x 1Q
run 2 "get: empty NAME" "$CLI" heap get "$S" "" 16 && check "says NAME is empty" err_has "must not be empty"
run 2 "get: NAME of 256 bytes" "$CLI" heap get "$S" "$(printf 'n%.0s' $(seq 256))" 16 && check "says the limit" err_has "255"
run 2 "unname: no NAME" "$CLI" heap unname "$S"
run 2 "rm: no SPEC" "$CLI" heap rm
run 2 "rm: unknown option before a SPEC" "$CLI" heap rm "$S" --bogus
check "usage errors made nothing" test ! -e "/dev/shm$P-h"

# -- create and stat ----------------------------------------------------------------
run 0 "create $S 64K --max 1M --mode 0640" "$CLI" heap create "$S" 64K --max 1M --mode 0640 &&
  check "create prints the spec" grep -qx "$S" "$tmp/out"
check "the heap is in /dev/shm" test -f "/dev/shm$P-h"
run 0 "info of the heap's segment" "$CLI" info "$S" && {
  check "its segment is 64K" out_line '^size: +65536 '
  check "with mode 0640" out_line '^mode: +0640$'
}
run 0 "stat" "$CLI" heap stat "$S" && {
  check "stat: spec" out_line "^spec: +$S\$"
  check "stat: size 65536 (64K)" out_line '^size: +65536 \(64K\)$'
  check "stat: max size 1048576 (1M)" out_line '^max size: +1048576 \(1M\)$'
  check "stat: parts 1" out_line '^parts: +1$'
  check "stat: named 0" out_line '^named: +0$'
  check "stat: allocations 0" out_line '^allocations: +0$'
  check "stat: used 0" out_line '^used: +0 \(0B\)$'
  check "stat: free in bytes and units" out_line '^free: +[1-9][0-9]* \([0-9.]+[BK]\)$'
  check "stat: largest free" out_line '^largest free: +[1-9][0-9]* \('
  for f in cached "lost bytes" "reclaimed bytes"; do
    check "stat: $f 0" out_line "^$f: +0 \\(0B\\)\$"
  done
  check "stat: recoveries 0" out_line '^recoveries: +0$'
  check "stat: procs counts stat itself" out_line '^procs: +1$'
}
run 0 "stat --json" "$CLI" heap stat --json "$S" && {
  cp "$tmp/out" "$tmp/stat.json"
  check "stat --json is one line" test "$(wc -l <"$tmp/stat.json")" -eq 1
  check "stat --json is valid JSON with every field" json_is "$tmp/stat.json" \
    'sorted(j) == sorted(["spec", "size", "max_size", "parts", "used", "free", "largest_free", "allocations", "named", "cached", "lost_bytes", "reclaimed_bytes", "recoveries", "procs"])'
  check "stat --json: the values" json_is "$tmp/stat.json" \
    'j["spec"] == "'"$S"'" and j["size"] == 65536 and j["max_size"] == 1048576 and j["parts"] == 1 and j["named"] == 0 and j["allocations"] == 0 and j["used"] == 0 and j["procs"] == 1'
  check "stat --json: free fits in the heap" json_is "$tmp/stat.json" \
    '0 < j["largest_free"] <= j["free"] < j["size"]'
  check "stat --json: size in the text" grep -qF '"size": 65536, "max_size": 1048576, "parts": 1' "$tmp/stat.json"
}
run 0 "check a new heap" "$CLI" heap check "$S" && check "check says ok" grep -qx ok "$tmp/out"
R="posix:$P-round"
run 0 "create SIZE --max SIZE off a page boundary" "$CLI" heap create "$R" 100000 --max 100000 &&
  check "no growth: max size is the size" test "$(stat_field "$R" max_size)" = "$(stat_field "$R" size)"
run 0 "rm it" "$CLI" heap rm "$R"

# -- named objects --------------------------------------------------------------------
run 0 "get config 100" "$CLI" heap get "$S" config 100 &&
  check "get prints a ref and 'created'" out_line '^0x[0-9a-f]{16} created$'
ref=$(cut -d' ' -f1 "$tmp/out")
run 0 "get config 100 again" "$CLI" heap get "$S" config 100 && {
  check "the same ref, 'existed'" grep -qx "$ref existed" "$tmp/out"
}
run 1 "get config with another size" "$CLI" heap get "$S" config 200 && {
  check "says it exists with another size" err_has "exists with another size"
  check "says its size" err_has "'config' is 100 bytes, not 200"
}
run 0 "get 'two words' 24" "$CLI" heap get "$S" "two words" 24
run 0 "heap ls" "$CLI" heap ls "$S" && {
  check "ls has a header" out_line '^NAME +SIZE +REF$'
  check "ls shows config, its size and ref" out_line "^config +100 +$ref\$"
  check "ls shows 'two words'" out_line '^two words +24 +0x[0-9a-f]{16}$'
  check "ls is sorted by name" test "$(sed -n 2p "$tmp/out" | cut -c1-6)" = config
}
run 0 "get a name with a tab and a quote" "$CLI" heap get "$S" "$(printf 'odd\t"name')" 16
run 0 "heap ls with an odd name" "$CLI" heap ls "$S" && check "the tab is not printed raw" out_line '^odd\?"name +16 '
run 0 "heap ls --json with an odd name" "$CLI" heap ls --json "$S" && {
  cp "$tmp/out" "$tmp/odd.json"
  check "still valid JSON, the name escaped" json_is "$tmp/odd.json" '"odd\t\"name" in [o["name"] for o in j]'
}
run 0 "unname the odd name" "$CLI" heap unname "$S" "$(printf 'odd\t"name')"
run 0 "heap ls --json" "$CLI" heap ls --json "$S" && {
  cp "$tmp/out" "$tmp/ls.json"
  check "ls --json: the objects" json_is "$tmp/ls.json" \
    'j == [{"name": "config", "size": 100, "ref": "'"$ref"'"}, {"name": "two words", "size": 24, "ref": j[1]["ref"]}]'
}
run 0 "stat after get" "$CLI" heap stat "$S" && {
  check "named 2" out_line '^named: +2$'
  check "allocations 2" out_line '^allocations: +2$'
  check "used is no longer 0" out_line '^used: +[1-9]'
}
run 0 "check after get" "$CLI" heap check "$S" && check "ok" grep -qx ok "$tmp/out"

# Racing gets of one name: exactly one creates it, all get its ref.
for i in 1 2 3 4 5 6 7 8; do
  timeout 60 "$CLI" heap get "$S" raced 64 >"$tmp/race.$i" 2>&1 &
  pids="$pids $!"
done
for p in $pids; do wait "$p"; done
pids=""
check "of 8 racing gets, exactly one created the object" test "$(cat "$tmp"/race.* | grep -c ' created$')" -eq 1
check "and all 8 got the same ref" test "$(cat "$tmp"/race.* | cut -d' ' -f1 | sort -u | grep -cE '^0x[0-9a-f]{16}$')" -eq 1
check "and all 8 succeeded" test "$(cat "$tmp"/race.* | grep -cE '^0x[0-9a-f]{16} (created|existed)$')" -eq 8

# Growth: an object larger than the heap's first part grows it.
run 0 "get an object of 200K: the heap grows" "$CLI" heap get "$S" big 200K
run 0 "stat after growth" "$CLI" heap stat --json "$S" && {
  cp "$tmp/out" "$tmp/grown.json"
  check "more than one part, more than 64K, at most 1M" json_is "$tmp/grown.json" \
    'j["parts"] > 1 and 65536 < j["size"] <= 1048576 and j["named"] == 4'
}
run 1 "get more than --max allows" "$CLI" heap get "$S" huge 2M && {
  check "says the heap is full" err_has "the heap is full"
  check "names --max" err_has "--max"
}
check "the full heap kept its names" test "$(stat_field "$S" named)" = 4
run 0 "check after growth" "$CLI" heap check "$S" && check "ok" grep -qx ok "$tmp/out"
run 0 "unname big" "$CLI" heap unname "$S" big
run 0 "ls after unname" "$CLI" heap ls "$S" && check "big is gone" sh -c "! grep -q '^big ' '$tmp/out'"
run 1 "unname big again" "$CLI" heap unname "$S" big && {
  check "says there is no such object" err_has "no object of that name"
  check "names it" err_has "nothing is named 'big'"
}
check "named 3 after unname" test "$(stat_field "$S" named)" = 3

# -- what is not a heap --------------------------------------------------------------------
run 0 "create a plain segment" "$CLI" create "$N" 64K
head -c 65536 /dev/urandom >"$tmp/data"
run 0 "fill it" "$CLI" write "$N" <"$tmp/data"
for c in stat ls check; do
  run 1 "heap $c of a plain segment" "$CLI" heap "$c" "$N" &&
    check "heap $c: not a shmkit heap" grep -qF "shmkit: heap $c: $N: not a shmkit heap (" "$tmp/err"
done
run 1 "heap get in a plain segment" "$CLI" heap get "$N" x 16 && check "not a shmkit heap" err_has "not a shmkit heap"
run 1 "heap rm of a plain segment" "$CLI" heap rm "$N" && check "not a shmkit heap" err_has "not a shmkit heap"
run 1 "heap create over the plain segment" "$CLI" heap create "$N" 64K && {
  check "says it exists" err_has "already exists"
  check "names the command" grep -qF "shmkit: heap create: $N: " "$tmp/err"
}
"$CLI" cat "$N" >"$tmp/after" 2>/dev/null
check "the plain segment is still there, its bytes untouched" cmp -s "$tmp/data" "$tmp/after"
run 1 "heap create over the heap" "$CLI" heap create "$S" 128K && check "says it exists" err_has "already exists"
run 0 "the heap is as it was" "$CLI" heap ls "$S" && check "config is still there" out_line "^config +100 +$ref\$"
run 1 "heap stat of a missing segment" "$CLI" heap stat "posix:$P-missing" && check "says no such segment" err_has "no such segment"
run 1 "heap stat of a malformed spec" "$CLI" heap stat "posix:shmkit-test-heap-cli-$$-ns" &&
  check "names the rule" err_has "a posix: name is '/' followed by"
run 1 "heap rm of a missing segment" "$CLI" heap rm "posix:$P-missing"

# -- shmkit ls marks heaps ----------------------------------------------------------------
run 0 "ls --posix" "$CLI" ls --posix && {
  check "ls has a KIND column" out_line '^SPEC +BACKEND +KEY +SIZE +OWNER +MODE +NATTCH +PROCS +MTIME +STATUS +KIND$'
  check "ls marks the heap" out_line "^$S +posix +- +[0-9.]+[KM] +[^ ]+ +0640 .* heap\$"
  check "ls does not mark the plain segment" sh -c "grep -E '^$N ' '$tmp/out' | grep -vq 'heap\$'"
}
run 0 "ls --json --posix" "$CLI" ls --json --posix && {
  cp "$tmp/out" "$tmp/lsall.json"
  check "ls --json: heap true for the heap, false for the plain segment" json_is "$tmp/lsall.json" \
    '[s["heap"] for s in j if s["spec"] in ("'"$S"'", "'"$N"'")] == [True, False]'
  check "ls --json says \"heap\": true" grep -qF "\"spec\": \"$S\", " "$tmp/lsall.json"
}
run 0 "ls --sysv" "$CLI" ls --sysv

# -- a damaged heap ----------------------------------------------------------------------
X="posix:$P-dmg"
run 0 "create a heap to damage" "$CLI" heap create "$X" 64K
head -c 16 /dev/zero | tr '\0' '\377' | timeout 60 "$CLI" write --offset 65520 "$X" >/dev/null 2>&1
check "overwrite its last 16 bytes" test "${PIPESTATUS[2]}" -eq 0
run 1 "check a damaged heap" "$CLI" heap check "$X" && {
  check "says what it found" grep -qE "^shmkit: heap check: $X: .+ \(the heap is damaged\)$" "$tmp/err"
  check "and printed no ok" test ! -s "$tmp/out"
}
run 0 "rm the damaged heap" "$CLI" heap rm "$X"

# -- a file: heap -------------------------------------------------------------------------
F="file:$D/heap"
run 0 "create a file: heap" "$CLI" heap create "$F" 64K --max 256K && check "prints the spec" grep -qx "$F" "$tmp/out"
run 0 "get in the file: heap" "$CLI" heap get "$F" obj 100K
check "the file: heap grew" test "$(stat_field "$F" parts)" -gt 1
run 0 "check the file: heap" "$CLI" heap check "$F"
run 0 "rm the file: heap" "$CLI" heap rm "$F"
check "its file is gone" test ! -e "$D/heap"

# -- rm ------------------------------------------------------------------------------------
run 0 "heap rm" "$CLI" heap rm "$S"
check "the heap is gone from /dev/shm" test ! -e "/dev/shm$P-h"
run 1 "heap stat after rm" "$CLI" heap stat "$S" && check "says no such segment" err_has "no such segment"
run 0 "rm the plain segment" "$CLI" rm "$N"

# -- the example ---------------------------------------------------------------------------
# Built by tests/CMakeLists.txt from examples/heap_list.c, with the
# build's flags (sanitizers included), against the static library.
EX="$BUILD/tests/example_heap_list"
[ -x "$EX" ] || fail "the heap_list example was not built ($EX)"
if [ -n "$EX" ]; then
  run 0 "the heap_list example" "$EX"
  expid=$(sed -n 's/^parent \([0-9]*\): made .*/\1/p' "$tmp/out" | head -n 1)
  check "it names its heap" test -n "$expid"
  check "the child opened the heap by name and appended 8 nodes" out_line '^child +[0-9]+: opened posix:/shmkit-example-heap-[0-9]+ by name, appended 8 nodes'
  check "the parent read 8 nodes" test "$(grep -cE '^  node [1-8] from pid [0-9]+$' "$tmp/out")" -eq 8
  check "in order" test "$(sed -n 's/^  node \([0-9]\) .*/\1/p' "$tmp/out" | tr -d '\n')" = 12345678
  check "the heap grew" out_line '^parent [0-9]+: read 8 nodes; the heap grew to [0-9]+ bytes in [2-9] parts$'
  check "the example left nothing in /dev/shm" test ! -e "/dev/shm/shmkit-example-heap-$expid"
fi

# -- nothing left behind --------------------------------------------------------------------
rm -rf -- "$D"
check "nothing of ours left in /dev/shm" sh -c "! ls -d /dev/shm/shmkit-test-heap-cli-$$-* >/dev/null 2>&1"

if [ "$fails" -ne 0 ]; then
  echo "heap cli: $fails failed" >&2
  exit 1
fi
echo "heap cli: all passed"
