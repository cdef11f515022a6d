#!/usr/bin/env bash
# test_cli.sh: the shmkit command line end to end: help and version, the
# segment round trip (create, ls, info, write, cat, who, rm), exit statuses
# (0 done, 1 failed, 2 usage) with "shmkit:" messages, and `shmkit demo`.
# Everything it makes is named /shmkit-test-cli-<pid>-* or uses System V
# keys 0x5348xxxx, and the EXIT trap removes all of it whatever happens.
set -u

CLI=${SHMKIT_CLI:?set SHMKIT_CLI to the shmkit binary}
P="/shmkit-test-cli-$$"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkit-test-cli.XXXXXX")
keys=""
pids=""
fails=0

cleanup() {
  local p k f
  for p in $pids; do kill "$p" 2>/dev/null; done
  for k in $keys; do "$CLI" rm -f "sysv:$k" >/dev/null 2>&1; done
  for f in /dev/shm/shmkit-test-cli-$$-*; do [ -e "$f" ] && rm -f -- "$f"; done
  rm -rf -- "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

# run WANT DESC CMD...: run CMD, keep its output in $tmp/out and $tmp/err,
# and check the exit status; a failure must say "shmkit:" on stderr.
run() {
  local want=$1 desc=$2 got
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    fail "$desc: exit status $got, expected $want"
    sed 's/^/    stderr: /' "$tmp/err" >&2
    return 1
  fi
  if [ "$want" -ne 0 ] && ! grep -q '^shmkit: ' "$tmp/err"; then
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
err_has() { grep -qiF -- "$1" "$tmp/err"; }

json_ok() {
  command -v python3 >/dev/null 2>&1 || return 0
  python3 -m json.tool "$1" >/dev/null
}

# A System V key 0x5348xxxx of our own: the first that create accepts.
make_sysv() {
  local size=$1 i k
  for i in $(seq 0 63); do
    k=$(printf '0x5348%04x' $(( ($$ * 4 + 1 + i) & 0xffff )))
    if "$CLI" create "sysv:$k" "$size" >"$tmp/out" 2>"$tmp/err"; then
      keys="$keys $k"
      echo "$k"
      return 0
    fi
    grep -q 'already exists' "$tmp/err" || break
  done
  return 1
}

# -- help and version -------------------------------------------------------
run 0 "--version" "$CLI" --version &&
  check "--version prints the version" grep -qE '^shmkit [0-9]+\.[0-9]+\.[0-9]+$' "$tmp/out"
run 0 "--help" "$CLI" --help
for c in ls info who create rm cat write demo chan; do
  check "--help lists $c" grep -qE "^  $c " "$tmp/out"
done
for c in ls info who create rm cat write demo chan; do
  run 0 "$c --help" "$CLI" "$c" --help &&
    check "$c --help prints its usage" grep -q "^Usage: shmkit $c" "$tmp/out"
  run 0 "help $c" "$CLI" help "$c"
done

# -- usage errors: exit 2 -----------------------------------------------------
run 2 "no command" "$CLI"
run 2 "unknown command" "$CLI" frobnicate
run 2 "unknown top-level option" "$CLI" --frobnicate
run 2 "ls: unknown option" "$CLI" ls --bogus && check "names the option" err_has "--bogus"
run 2 "ls: stray operand" "$CLI" ls extra
run 2 "info: no SPEC" "$CLI" info
run 2 "create: no SIZE" "$CLI" create "posix:$P-u"
run 2 "create: bad size" "$CLI" create "posix:$P-u" 12Q
run 2 "create: size overflows" "$CLI" create "posix:$P-u" 99999999999999999999999
run 2 "create: size overflows with a suffix" "$CLI" create "posix:$P-u" 17179869184G
run 2 "create: fraction of a byte" "$CLI" create "posix:$P-u" 1.1K
run 2 "create: size 0" "$CLI" create "posix:$P-u" 0
run 2 "create: bad mode" "$CLI" create "posix:$P-u" 4K --mode 0999
run 2 "create: --mode without value" "$CLI" create "posix:$P-u" 4K --mode
run 2 "create: memfd from a shell" "$CLI" create memfd:x 4K
run 2 "write: --offset without value" "$CLI" write "posix:$P-u" --offset
run 2 "write: bad offset" "$CLI" write "posix:$P-u" --offset=abc
run 2 "rm: no SPEC" "$CLI" rm
run 2 "demo: stray operand" "$CLI" demo now
check "usage errors made nothing" test ! -e "/dev/shm$P-u"

# -- sizes ----------------------------------------------------------------------
for s in 4096:4096 4k:4096 4K:4096 2KiB:2048 3kb:3072 4096B:4096 1.5M:1572864 0.5k:512; do
  arg=${s%%:*} want=${s##*:}
  if run 0 "create with size $arg" "$CLI" create "posix:$P-size" "$arg"; then
    run 0 "info after create $arg" "$CLI" info "posix:$P-size" &&
      check "size $arg is $want bytes" grep -qE "^size: +$want " "$tmp/out"
    "$CLI" rm "posix:$P-size"
  fi
done

# -- the POSIX round trip -----------------------------------------------------------
S="posix:$P-rt"
run 0 "create $S 64K --mode 0640" "$CLI" create "$S" 64K --mode 0640 &&
  check "create prints the spec" grep -qx "$S" "$tmp/out"
run 1 "create an existing segment" "$CLI" create "$S" 64K &&
  check "says it exists" err_has "exists"

run 0 "ls" "$CLI" ls && {
  check "ls has a header" grep -qE '^SPEC +BACKEND +KEY +SIZE +OWNER +MODE +NATTCH +PROCS +MTIME' "$tmp/out"
  check "ls shows the segment" grep -qE "^$S +posix +- +64K +[^ ]+ +0640 " "$tmp/out"
}
run 0 "ls --posix" "$CLI" ls --posix && check "ls --posix shows it" out_has "$S"
run 0 "ls --sysv" "$CLI" ls --sysv && check "ls --sysv does not" sh -c "! grep -qF -- '$S' '$tmp/out'"
run 0 "ls --no-procs" "$CLI" ls --no-procs
run 0 "ls --json" "$CLI" ls --json && {
  cp "$tmp/out" "$tmp/ls.json"
  check "ls --json is valid JSON" json_ok "$tmp/ls.json"
  check "ls --json has the segment" grep -qF "\"spec\": \"$S\", \"backend\": \"posix\", \"size\": 65536" "$tmp/ls.json"
}
run 0 "info" "$CLI" info "$S" && {
  check "info: size" grep -qE '^size: +65536 \(64K\)$' "$tmp/out"
  check "info: mode" grep -qE '^mode: +0640$' "$tmp/out"
  check "info: backend" grep -qE '^backend: +posix$' "$tmp/out"
}
run 0 "info --json" "$CLI" info --json "$S" && {
  cp "$tmp/out" "$tmp/info.json"
  check "info --json is valid JSON" json_ok "$tmp/info.json"
  check "info --json: mode" grep -qF '"mode": "0640"' "$tmp/info.json"
}

head -c 65536 /dev/urandom >"$tmp/data"
run 0 "write 64K from a file" "$CLI" write "$S" <"$tmp/data"
run 0 "cat" "$CLI" cat "$S" && check "cat gives back what write wrote" cmp -s "$tmp/out" "$tmp/data"
printf 'hello' | "$CLI" write "$S" --offset 1K >/dev/null 2>&1
check "write --offset 1K from a pipe" test $? -eq 0
"$CLI" cat "$S" >"$tmp/cat2"
check "the 5 bytes landed at 1024" test "$(dd if="$tmp/cat2" bs=1 skip=1024 count=5 2>/dev/null)" = hello
check "and nothing else changed" cmp -s <(head -c 1024 "$tmp/cat2") <(head -c 1024 "$tmp/data")

# Too much input: an error that states the size, and nothing past the end.
head -c 70000 /dev/zero >"$tmp/big"
run 1 "write more than fits (file)" "$CLI" write "$S" <"$tmp/big" &&
  check "states the size" err_has "65536"
"$CLI" cat "$S" >"$tmp/cat3"
check "a file that does not fit changes nothing" cmp -s "$tmp/cat2" "$tmp/cat3"
head -c 70000 /dev/zero | "$CLI" write "$S" >/dev/null 2>"$tmp/err"
check "write more than fits (pipe) exits 1" test "${PIPESTATUS[1]}" -eq 1
check "states the size (pipe)" err_has "65536"
run 1 "write at an offset past the end" "$CLI" write "$S" --offset 65537 </dev/null
"$CLI" cat "$S" | head -c 10 >/dev/null
check "cat into a reader that stops early does not hang or crash" test "${PIPESTATUS[0]}" -le 1

# who: a `shmkit cat` blocked on a full pipe keeps the segment mapped.
B="posix:$P-who"
"$CLI" create "$B" 1M >/dev/null
mkfifo "$tmp/fifo"
sleep 10 <"$tmp/fifo" &
sleeper=$!
"$CLI" cat "$B" >"$tmp/fifo" &
catpid=$!
pids="$pids $sleeper $catpid"
seen=0
for _ in $(seq 1 50); do
  "$CLI" who "$B" >"$tmp/who" 2>&1 && grep -qE "^ *$catpid +shmkit$" "$tmp/who" && { seen=1; break; }
  sleep 0.1
done
check "who shows the process that maps it" test $seen -eq 1
check "who has a header" grep -qE '^ *PID +COMMAND$' "$tmp/who"
run 0 "info while mapped" "$CLI" info "$B" && check "info counts the process" grep -qE '^nprocs: +[1-9]' "$tmp/out"
kill "$catpid" "$sleeper" 2>/dev/null
wait "$catpid" "$sleeper" 2>/dev/null
run 0 "who when nobody maps it" "$CLI" who "$B" &&
  check "who lists nobody" test "$(wc -l <"$tmp/out")" -eq 1

# rm
run 0 "rm two segments" "$CLI" rm "$S" "$B"
run 1 "info after rm" "$CLI" info "$S" && check "says there is none" err_has "no such segment"
run 1 "rm a missing segment" "$CLI" rm "$S"
"$CLI" create "posix:$P-after" 4K >/dev/null
run 1 "rm with one missing segment" "$CLI" rm "$S" "posix:$P-after"
check "still removes the rest" test ! -e "/dev/shm$P-after"
run 0 "rm -f a missing segment" "$CLI" rm -f "$S"

# -- operation errors: exit 1 -------------------------------------------------------
run 1 "cat a missing segment" "$CLI" cat "posix:$P-missing"
run 1 "write to a missing segment" "$CLI" write "posix:$P-missing" </dev/null
run 1 "who of a missing segment" "$CLI" who "posix:$P-missing"
run 1 "cat anon:" "$CLI" cat anon: && check "anon: says fork" err_has "fork"
run 1 "cat memfd:" "$CLI" cat memfd:nothing && check "memfd: says how it is shared" err_has "inheritance"
run 1 "info memfd:" "$CLI" info memfd:nothing
run 1 "malformed spec" "$CLI" info "nonsense" && check "says what a spec looks like" err_has "posix:/name"

# -- System V -----------------------------------------------------------------------
if [ -r /proc/sysvipc/shm ]; then
  if K=$(make_sysv 8K); then
    pass "create sysv:$K"
    run 0 "ls --sysv" "$CLI" ls --sysv && check "ls --sysv shows the key" grep -qE "^sysv:id=[0-9]+ +sysv +$K +8K " "$tmp/out"
    run 0 "info sysv:$K" "$CLI" info "sysv:$K" && check "info shows the key" grep -qE "^key: +$K$" "$tmp/out"
    printf 'sysv!' | "$CLI" write "sysv:$K" >/dev/null
    check "cat sysv" test "$("$CLI" cat "sysv:$K" | head -c 5)" = 'sysv!'
    run 0 "rm sysv:$K" "$CLI" rm "sysv:$K"
    run 1 "info after rm" "$CLI" info "sysv:$K"
  else
    fail "could not create a System V segment: $(cat "$tmp/err")"
  fi
  run 0 "create sysv:private" "$CLI" create sysv:private 4K &&
    check "create prints the id to reach it" grep -qE '^sysv:id=[0-9]+$' "$tmp/out" &&
    run 0 "rm the private segment by id" "$CLI" rm "$(cat "$tmp/out")"
else
  echo "SKIP System V: /proc/sysvipc/shm is not there"
fi

# -- JSON escaping -------------------------------------------------------------------
Q="posix:$P-q\"b\\s	t"
if "$CLI" create "$Q" 4K >/dev/null 2>&1; then
  run 0 "ls --json with quotes, backslash and tab in a name" "$CLI" ls --json --posix &&
    { cp "$tmp/out" "$tmp/q.json"; check "still valid JSON" json_ok "$tmp/q.json"; }
  run 0 "ls with a tab in a name" "$CLI" ls --posix &&
    check "the tab is not printed raw" sh -c "! grep -q '	' '$tmp/out'"
  "$CLI" rm "$Q"
else
  fail "create a segment with an odd name"
fi

# -- ephemeral segments and gc ---------------------------------------------------------
E="$P-eph"; K="$P-kept"
run 0 "create --ephemeral" "$CLI" create --ephemeral "posix:$E" 8K
run 0 "create a persistent one" "$CLI" create "posix:$K" 8K
run 0 "ls marks the unused ephemeral segment stale" "$CLI" ls --posix &&
  check "stale in STATUS" grep -qE "posix:$E .*stale" "$tmp/out"
check "the persistent one is not stale" sh -c "! grep -qE 'posix:$K .*stale' '$tmp/out'"
run 0 "ls --json says stale" "$CLI" ls --json --posix &&
  check "\"stale\": true in JSON" grep -qF '"stale": true' "$tmp/out"
run 0 "gc --dry-run" "$CLI" gc --dry-run &&
  check "dry run names it" out_has "would remove posix:$E"
check "dry run removed nothing" test -e "/dev/shm$E"
run 0 "gc" "$CLI" gc && check "gc names it" out_has "removed posix:$E"
check "gc removed the stale one" test ! -e "/dev/shm$E"
check "gc kept the persistent one" test -e "/dev/shm$K"
run 2 "create --ephemeral on sysv is refused" "$CLI" create --ephemeral sysv:0x53480999 4K
run 2 "gc with an unknown option" "$CLI" gc --bogus
run 1 "gc of a missing directory" "$CLI" gc /nonexistent-shmkit-dir
run 0 "gc --help" "$CLI" gc --help
"$CLI" rm "posix:$K" >/dev/null 2>&1

# -- the demo -----------------------------------------------------------------------
if run 0 "demo" timeout 60 "$CLI" demo; then
  for b in posix sysv file memfd anon; do
    check "demo has a $b row" grep -qE "^  $b " "$tmp/out"
  done
  check "demo ends with a summary" grep -qE '^[0-9]+ of [0-9]+ ok, 0 failed' "$tmp/out"
  dpid=$(sed -n 's/.* parent \([0-9]*\) .*/\1/p' "$tmp/out" | head -n 1)
  check "demo left nothing in /dev/shm" sh -c "! ls /dev/shm/shmkit-demo-$dpid-* >/dev/null 2>&1"
else
  cat "$tmp/out" >&2
fi

# -- nothing left behind --------------------------------------------------------------
check "nothing of ours left in /dev/shm" sh -c "! ls /dev/shm/shmkit-test-cli-$$-* >/dev/null 2>&1"

if [ "$fails" -ne 0 ]; then
  echo "cli: $fails failed" >&2
  exit 1
fi
echo "cli: all passed"
