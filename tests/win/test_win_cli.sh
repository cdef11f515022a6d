#!/usr/bin/env bash
# test_win_cli.sh BUILD_DIR: shmkit.exe under wine, across separate
# invocations: file: create/write/cat/info/rm; win: kept by a background
# `create --hold` and gone (ENOENT) once the holder stops; errors and exit
# codes for bad specs and sizes; demo; help. Every wait is bounded. Exit 77
# only when wine is absent.
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
holder=
cleanup() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null
  exec 7>&- 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# sk ARGS...: run shmkit.exe; stdout in $tmp/out, stderr in $tmp/err, rc in $rc.
sk() { timeout 60 "$wine" "$exe" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
expect_rc() { [ "$rc" = "$1" ] || fail "$2: exit $rc, not $1 ($(cat "$tmp/err"))"; }
expect_err() { grep -q -- "$1" "$tmp/err" || fail "$2: stderr lacks '$1': $(cat "$tmp/err")"; }

# -- file: across invocations ---------------------------------------------
seg='file:C:\shmkit-test-cli.seg'
host_file=$prefix/drive_c/shmkit-test-cli.seg
rm -f "$host_file"
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
