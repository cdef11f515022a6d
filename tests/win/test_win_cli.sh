#!/usr/bin/env bash
# test_win_cli.sh BUILD_DIR: shmkit.exe under wine, across separate
# invocations: file: create/write/cat/info/rm; win: kept by a background
# `create --hold`, listed by ls and top, and gone (ENOENT) once the holder
# stops; channels: a file: one between two invocations, a win: one kept by
# `chan create --hold` (with and without CMD); heaps in file:; errors and
# exit codes for bad specs, sizes and a channel or heap command on what is
# not one; demo with its channel row; help. Every wait is bounded, every
# background process is killed on any exit, and the file: paths live in a
# mktemp directory (seen by wine as Z:) that is removed. Exit 77 only when
# wine is absent.
set -u
build=$1
exe=$build/shmkit.exe
wine=$(command -v wine64 || command -v wine || true)
if [ -z "$wine" ]; then
  echo "wine is not installed (Debian: apt-get install wine64): shmkit.exe cannot run on this host" >&2
  exit 77
fi
prefix=$build/wineprefix
export WINEPREFIX=$prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -d "$prefix/drive_c" ]; then
  mkdir -p "$prefix"
  ( flock 9; [ -d "$prefix/drive_c" ] || "$wine" wineboot -i >/dev/null 2>&1 ) 9>"$prefix.lock"
fi
tmp=$(mktemp -d)
# The same directory as wine sees it: Z: is the host's root.
wtmp="Z:$(printf '%s' "$tmp" | tr / '\\')"
holder= bgs=
cleanup() {
  local p
  for p in $holder $bgs; do kill "$p" 2>/dev/null; done
  exec 7>&- 8>&- 2>/dev/null
  for p in $holder $bgs; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# sk ARGS...: run shmkit.exe; stdout in $tmp/out, stderr in $tmp/err, rc in $rc.
sk() { timeout 60 "$wine" "$exe" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
expect_rc() { [ "$rc" = "$1" ] || fail "$2: exit $rc, not $1 ($(cat "$tmp/err"))"; }
expect_err() { grep -q -- "$1" "$tmp/err" || fail "$2: stderr lacks '$1': $(cat "$tmp/err")"; }
expect_out() { tr -d '\r' <"$tmp/out" | grep -Eq -- "$1" || fail "$2: stdout lacks /$1/: $(cat "$tmp/out")"; }
# wait_for FILE PATTERN: until FILE has a line matching PATTERN, at most 30 s.
wait_for() {
  local i
  for i in $(seq 150); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
  return 1
}
# wait_exit PID: its exit status, or 124 once killed after 60 s.
wait_exit() {
  local i
  for i in $(seq 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$1" 2>/dev/null && kill "$1" 2>/dev/null
  wait "$1"
}

# -- file: across invocations ---------------------------------------------
seg="file:$wtmp\\seg"
host_file=$tmp/seg
sk create "$seg" 4K; expect_rc 0 "create file:"
[ "$(tr -d '\r' <"$tmp/out")" = "$seg" ] || fail "create prints the spec: $(cat "$tmp/out")"
[ "$(stat -c %s "$host_file" 2>/dev/null)" = 4096 ] || fail "create file: made no 4096-byte file"
printf 'hello\nworld\n' >"$tmp/in"
timeout 60 "$wine" "$exe" write "$seg" <"$tmp/in" 2>"$tmp/err"; rc=$?; expect_rc 0 "write file:"
sk cat "$seg"; expect_rc 0 "cat file:"
[ "$(stat -c %s "$tmp/out")" = 4096 ] || fail "cat gives all 4096 bytes (binary stdout)"
head -c 12 "$tmp/out" | cmp -s - "$tmp/in" || fail "cat gives back the bytes written, newlines untouched"
sk info "$seg"; expect_rc 0 "info file:"
grep -q '^size: *4096' "$tmp/out" || fail "info shows the size: $(cat "$tmp/out")"
grep -q '^backend: *file' "$tmp/out" || fail "info shows the backend"
expect_out '^lifetime: persistent' "info file: says it persists"
head -c 5000 /dev/zero >"$tmp/big"
timeout 60 "$wine" "$exe" write "$seg" <"$tmp/big" 2>"$tmp/err"; rc=$?
expect_rc 1 "write of too much"; expect_err "nothing written" "write of too much"
sk create "$seg" 4K; expect_rc 1 "create of an existing file:"; expect_err "already exists\|exists" "create of an existing file:"
sk rm "$seg"; expect_rc 0 "rm file:"
[ -e "$host_file" ] && fail "rm left the file"
sk cat "$seg"; expect_rc 1 "cat after rm"; expect_err "no such segment" "cat after rm"

# -- win: kept by create --hold ---------------------------------------------
name=shmkit-test-cli-$$
mkfifo "$tmp/hold"
timeout 120 "$wine" "$exe" create --hold "win:$name" 64K <"$tmp/hold" >"$tmp/hold.out" 2>"$tmp/hold.err" &
holder=$!
exec 7>"$tmp/hold" # the holder's stdin: closing it ends the hold
for _ in $(seq 150); do grep -q "win:$name" "$tmp/hold.out" && break; sleep 0.2; done
grep -q "win:$name" "$tmp/hold.out" || fail "create --hold printed no spec: $(cat "$tmp/hold.err")"
grep -q "holding win:$name until Ctrl-C or the end of stdin" "$tmp/hold.err" || fail "create --hold says what it does"
sk info "win:$name"; expect_rc 0 "info win: while held"
grep -q '^size: *65536' "$tmp/out" || fail "info win: size: $(cat "$tmp/out")"
expect_out '^backend: +win' "info win: shows the backend"
expect_out '^lifetime: while a process holds it' "info win: says how long it lives"
sk info --json "win:$name"; expect_rc 0 "info --json win:"
expect_out "\"spec\": \"win:$name\", \"backend\": \"win\", \"size\": 65536" "info --json win:"
# ls: what another process holds, with its size; it says what it lists.
sk ls; expect_rc 0 "ls while a win: segment is held"
expect_out '^SPEC +BACKEND +SIZE +MTIME +STATUS +KIND *$' "ls: the Windows columns"
expect_out "^win:$name +win +64K +- +ephemeral +segment *\$" "ls shows the held segment with its size"
expect_err "win: segments\? this process can see" "ls says it lists what this process can see"
sk ls --json "win:$name"; expect_rc 0 "ls --json PATTERN"
expect_out "\"spec\": \"win:$name\", \"backend\": \"win\", \"size\": 65536.*\"kind\": \"segment\"" "ls --json: the held segment"
[ "$(tr -d '\r' <"$tmp/out" | grep -c '"spec"')" = 1 ] || fail "ls PATTERN lists that one only: $(cat "$tmp/out")"
sk ls 'no-such-*'; expect_rc 0 "ls PATTERN matching nothing"
expect_out '^SPEC ' "ls PATTERN: the header"; tr -d '\r' <"$tmp/out" | grep -q "win:$name" && fail "ls PATTERN filters"
sk top --once -d 0.1; expect_rc 0 "top --once"
expect_out "^  win:$name +win +64K +- +- +segment *\$" "top shows the held segment"
printf 'from another process' >"$tmp/msg"
timeout 60 "$wine" "$exe" write "win:$name" <"$tmp/msg" 2>"$tmp/err"; rc=$?; expect_rc 0 "write win: while held"
sk cat "win:$name"; expect_rc 0 "cat win: while held"
head -c "$(stat -c %s "$tmp/msg")" "$tmp/out" | cmp -s - "$tmp/msg" || fail "cat win: gives back what another invocation wrote"
sk rm "win:$name"; expect_rc 1 "rm win:"; expect_err "cannot be removed" "rm win:"
exec 7>&- # end of stdin: the holder lets go
for _ in $(seq 150); do kill -0 "$holder" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$holder" 2>/dev/null; then fail "the holder did not stop at the end of its stdin"; fi
wait "$holder"; rc=$?; holder=
expect_rc 0 "create --hold at the end of stdin"
# The name may linger a moment after its last handle closes.
for _ in $(seq 25); do sk cat "win:$name"; [ "$rc" = 1 ] && break; sleep 0.2; done
expect_rc 1 "cat win: after the holder stopped"; expect_err "no such segment" "win: gone with its holder (ENOENT)"

# -- a file: channel between invocations -----------------------------------
fch="file:$wtmp\\talk.chan"
sk chan create "$fch" --kind spsc; expect_rc 0 "chan create file:"
[ "$(tr -d '\r' <"$tmp/out")" = "$fch" ] || fail "chan create prints the spec: $(cat "$tmp/out")"
[ -f "$tmp/talk.chan" ] || fail "chan create file: made the file"
sk chan stat "$fch"; expect_rc 0 "chan stat file:"
expect_out ': spsc channel' "chan stat: the kind"
timeout 60 "$wine" "$exe" chan recv "$fch" -t 30000 >"$tmp/recv.out" 2>"$tmp/recv.err" &
bgs=$!
for _ in $(seq 150); do
  sk chan stat "$fch"; tr -d '\r' <"$tmp/out" | grep -q '1 reader alive' && break; sleep 0.2
done
expect_out '0 writers and 1 reader alive' "the reader in another process has the channel open"
printf 'alpha\nbeta gamma\n\nlast\n' >"$tmp/lines"
timeout 60 "$wine" "$exe" chan send "$fch" <"$tmp/lines" 2>"$tmp/err"; rc=$?; expect_rc 0 "chan send file:"
wait_exit "$bgs"; rc=$?; bgs=
expect_rc 0 "chan recv ends with the stream (exit 0)"
tr -d '\r' <"$tmp/recv.out" | cmp -s - "$tmp/lines" || fail "chan recv prints what chan send sent: $(cat "$tmp/recv.out" "$tmp/recv.err")"
sk chan stat "$fch"; expect_rc 0 "chan stat after the exchange"
expect_out '4 sent, 4 received' "chan stat counts the messages"
expect_out 'stream +ended: every writer closed' "chan stat: the stream ended"
# A reader that opens after the end drains nothing and stops at once.
sk chan recv "$fch" -t 5000; expect_rc 0 "chan recv after the end"
sk chan create "$fch" --kind spsc; expect_rc 1 "chan create of an existing one"; expect_err "exists" "chan create of an existing one"
sk chan rm "$fch"; expect_rc 0 "chan rm file:"
[ -e "$tmp/talk.chan" ] && fail "chan rm left the file"
sk chan stat "$fch"; expect_rc 1 "chan stat after rm"; expect_err "no such segment" "chan stat after rm"

# -- a win: channel kept by chan create --hold ---------------------------------
wch=shmkit-test-cli-chan-$$
sk chan create "win:$wch" --kind spsc; expect_rc 2 "chan create win: without --hold"
expect_err "vanish when shmkit exits" "chan create win: without --hold says why"
expect_err "chan create --hold win:$wch" "chan create win: without --hold says what works"
sk chan stat "win:$wch"; expect_rc 1 "a refused chan create left nothing"
mkfifo "$tmp/chold"
timeout 120 "$wine" "$exe" chan create --hold "win:$wch" --kind mpmc <"$tmp/chold" >"$tmp/chold.out" 2>"$tmp/chold.err" &
holder=$!
exec 8>"$tmp/chold"
wait_for "$tmp/chold.out" "win:$wch" || fail "chan create --hold printed no spec: $(cat "$tmp/chold.err")"
grep -q "holding win:$wch until Ctrl-C or the end of stdin" "$tmp/chold.err" || fail "chan create --hold says what it does"
sk ls "win:$wch"; expect_rc 0 "ls: the held channel"
expect_out "^win:$wch +win +[0-9.]+K +- +ephemeral +channel *\$" "ls: KIND channel for a held win: channel"
printf 'one\ntwo\nthree\n' >"$tmp/wlines"
timeout 60 "$wine" "$exe" chan recv "win:$wch" -n 3 -t 30000 >"$tmp/recv.out" 2>"$tmp/recv.err" &
bgs=$!
timeout 60 "$wine" "$exe" chan send "win:$wch" <"$tmp/wlines" 2>"$tmp/err"; rc=$?; expect_rc 0 "chan send win:"
wait_exit "$bgs"; rc=$?; bgs=
expect_rc 0 "chan recv -n 3 from a win: channel"
tr -d '\r' <"$tmp/recv.out" | cmp -s - "$tmp/wlines" || fail "chan recv win: gets what chan send sent: $(cat "$tmp/recv.out" "$tmp/recv.err")"
sk top --once -d 0.1; expect_rc 0 "top --once with a channel"
expect_out "^  win:$wch +mpmc +[0-9.]+ +[0-9.]+ +0% +0 +0 +3 +3 +(open|ended) *\$" "top: the channel's counters"
sk chan rm "win:$wch"; expect_rc 1 "chan rm win:"; expect_err "cannot be removed" "chan rm win: says why"
sk chan stat "win:$wch"; expect_rc 0 "chan rm win: removed nothing"
exec 8>&- # end of stdin: the holder lets go
wait_exit "$holder"; rc=$?; holder=
expect_rc 0 "chan create --hold at the end of stdin"
grep -q "released win:$wch" "$tmp/chold.err" || fail "chan create --hold says it let go"
for _ in $(seq 25); do sk chan stat "win:$wch"; [ "$rc" = 1 ] && break; sleep 0.2; done
expect_rc 1 "the win: channel is gone with its holder"; expect_err "no such segment" "win: channel gone (ENOENT)"
# With CMD: held while CMD runs; CMD finds it in SHMKIT_SPEC and here by name.
wexe="Z:$(printf '%s' "$(cd "$build" && pwd)/shmkit.exe" | tr / '\\')"
sk chan create --hold "win:$wch" --kind spsc "$wexe" chan stat "win:$wch"
expect_rc 0 "chan create --hold with CMD: CMD's status"
expect_out "^win:$wch: spsc channel" "CMD sees the channel held for it"
sk chan create --hold "win:$wch" --kind spsc "$wexe" chan stat "win:no-such-$$"
expect_rc 1 "chan create --hold exits with CMD's failure"
sk chan stat "win:$wch"; expect_rc 1 "the win: channel went with its CMD"
sk chan create --hold "$fch" --kind spsc; expect_rc 2 "chan create --hold file:"; expect_err "for win: channels" "chan create --hold file:"
[ -e "$tmp/talk.chan" ] && fail "a refused chan create --hold left a file"

# -- a file: heap between invocations -------------------------------------------
hp="file:$wtmp\\cache.heap"
sk heap create "$hp" 64K --max 1M; expect_rc 0 "heap create file:"
[ "$(tr -d '\r' <"$tmp/out")" = "$hp" ] || fail "heap create prints the spec: $(cat "$tmp/out")"
sk heap get "$hp" config 4096; expect_rc 0 "heap get makes an object"
expect_out '^0x[0-9a-f]{16} created$' "heap get: created"
ref=$(tr -d '\r' <"$tmp/out" | cut -d' ' -f1)
sk heap get "$hp" config 4096; expect_rc 0 "heap get finds it again"
expect_out "^$ref existed\$" "heap get in another invocation finds the same ref"
sk heap stat "$hp"; expect_rc 0 "heap stat"
expect_out '^size: +65536' "heap stat: the size"; expect_out '^max size: +1048576' "heap stat: the limit"
sk heap ls "$hp"; expect_rc 0 "heap ls"
expect_out "^config +4096 +$ref *\$" "heap ls: the object"
sk heap check "$hp"; expect_rc 0 "heap check"
sk chan stat "$hp"; expect_rc 1 "chan stat on a heap"; expect_err "not a channel" "chan stat on a heap says why"
sk heap rm "$hp"; expect_rc 0 "heap rm"
[ -e "$tmp/cache.heap" ] && fail "heap rm left the file"
sk heap stat "$hp"; expect_rc 1 "heap stat after rm"; expect_err "no such segment" "heap stat after rm"
sk heap create "win:$wch" 64K; expect_rc 2 "heap create win:"; expect_err "vanish when shmkit exits" "heap create win: says why"

# -- channel and heap commands on what is not one ----------------------------
plain="file:$wtmp\\plain.seg"
sk create "$plain" 4K; expect_rc 0 "create a plain segment"
for c in "chan stat" "chan send" "chan recv -t 100" "chan rm"; do
  # shellcheck disable=SC2086
  timeout 60 "$wine" "$exe" $c "$plain" </dev/null >"$tmp/out" 2>"$tmp/err"; rc=$?
  expect_rc 1 "$c on a plain segment"; expect_err "not a channel" "$c on a plain segment says why"
done
sk heap stat "$plain"; expect_rc 1 "heap stat on a plain segment"; expect_err "not a shmkit heap" "heap stat on a plain segment"
sk heap rm "$plain"; expect_rc 1 "heap rm on a plain segment"
[ -f "$tmp/plain.seg" ] || fail "chan rm and heap rm left a plain segment alone"
sk rm "$plain"; expect_rc 0 "rm the plain segment"
sk chan create "file:$wtmp\\k.chan" --kind bogus; expect_rc 2 "chan create --kind bogus"; expect_err "invalid kind" "chan create --kind bogus"
sk chan create "posix:/x" --kind spsc; expect_rc 1 "chan create posix: on Windows"; expect_err "exist only on Unix" "chan create posix: on Windows"
sk chan frob; expect_rc 2 "chan: unknown subcommand"
sk ls --dir "$wtmp"; expect_rc 1 "ls --dir"; expect_err "not available on Windows" "ls --dir says why"
sk ls --posix; expect_rc 2 "ls --posix"; expect_err "exist only on Unix" "ls --posix says why"
sk ls --backend sysv; expect_rc 2 "ls --backend sysv"
sk top --once --dir "$wtmp"; expect_rc 1 "top --dir"; expect_err "not available on Windows" "top --dir says why"

# -- errors and exit codes -------------------------------------------------
sk create "win:$name" 4K; expect_rc 2 "create win: without --hold"; expect_err "vanish when shmkit exits" "create win: without --hold"
sk create 'file:C:\x.seg' 0; expect_rc 2 "size 0"; expect_err "positive" "size 0"
sk create 'file:C:\x.seg' 12Q; expect_rc 2 "bad size"
sk create 'file:C:\x.seg' -5; expect_rc 2 "negative size"
[ -e "$prefix/drive_c/x.seg" ] && fail "a refused create left a file behind"
sk create 'bogus:thing' 4K; expect_rc 1 "bad spec"
sk create 'posix:/x' 4K; expect_rc 1 "posix: on Windows"; expect_err "exist only on Unix" "posix: on Windows"
sk cat 'file:C:\no\such\dir\x.seg'; expect_rc 1 "cat of a missing dir"; expect_err "does not exist" "cat of a missing dir"
sk who "win:$name"; expect_rc 1 "who"; expect_err "not available on Windows" "who"
sk gc; expect_rc 1 "gc"; expect_err "not available on Windows" "gc"
sk frobnicate; expect_rc 2 "unknown command"

# -- help, demo --------------------------------------------------------------
sk --help; expect_rc 0 "--help"; grep -q "win:NAME" "$tmp/out" || fail "--help names win:"
sk create --help; expect_rc 0 "create --help"; grep -q -- "--hold win:NAME SIZE" "$tmp/out" || fail "create --help explains --hold on Windows"
sk ls --help; expect_rc 0 "ls --help"; grep -q "this process can see" "$tmp/out" || fail "ls --help says what it lists"
sk --help; expect_out '^  chan ' "--help lists chan"; expect_out '^  heap ' "--help lists heap"; expect_out '^  top ' "--help lists top"
expect_out "chan create" "--help says a win: channel needs chan create --hold"
sk chan create --help; expect_rc 0 "chan create --help"; expect_out '--hold' "chan create --help explains --hold on Windows"
sk heap --help; expect_rc 0 "heap --help"; expect_out 'file:C:' "heap --help gives a Windows example"
sk demo --help; expect_rc 0 "demo --help"; expect_out 'channel round trip' "demo --help tells of the channel row"
sk demo; expect_rc 0 "demo"
grep -q "3 of 3 rows passed" "$tmp/out" || fail "demo: $(cat "$tmp/out" "$tmp/err")"
grep -Eq "^  win +channel +win:shmkit-demo-[0-9]+-chan .* ok: child [0-9]+ echoed 1001 messages; round trip p50" "$tmp/out" || fail "demo: the channel row passed"
[ "$(grep -c ' ok: child ' "$tmp/out")" = 3 ] || fail "demo: every row ok"
cat "$tmp/out"

if [ "$fails" -gt 0 ]; then
  echo "$fails check(s) failed" >&2
  exit 1
fi
echo "shmkit.exe: all checks passed"
