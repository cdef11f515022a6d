#!/usr/bin/env bash
# test_cli.sh: the shmkit command line end to end: help and version, the
# segment round trip (create, ls, info, write, cat, who, rm), exit statuses
# (0 done, 1 failed, 2 usage) with "shmkit:" messages that name the reason,
# the protections of write and rm, create --ephemeral --hold, gc, and
# `shmkit demo`.
# The EXIT trap removes everything it makes whatever happens: names
# /shmkit-test-cli-<pid>-* in /dev/shm (file: segments in a directory of
# that name) and System V keys 0x5348xxxx. gc runs only on that private
# directory, never on all of /dev/shm, so it cannot remove anything the
# test did not make.
set -u

CLI=${SHMKIT_CLI:?set SHMKIT_CLI to the shmkit binary}
P="/shmkit-test-cli-$$"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmkit-test-cli.XXXXXX")
# file: segments, and gc's private directory: on tmpfs, as /dev/shm is.
D=$(mktemp -d "/dev/shm/shmkit-test-cli-$$-dir.XXXXXX")
keys=""
pids=""
fails=0

cleanup() {
  local p k f
  for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for k in $keys; do "$CLI" rm -f "sysv:$k" >/dev/null 2>&1; done
  for f in /dev/shm/shmkit-test-cli-$$-*; do [ -e "$f" ] && rm -rf -- "$f"; done
  rm -rf -- "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

# run WANT DESC CMD...: run CMD, keep its output in $tmp/out and $tmp/err,
# and check the exit status; shmkit's own failures (1, 2) must say
# "shmkit:" on stderr (other statuses are a held command's own).
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
err_has() { grep -qiF -- "$1" "$tmp/err"; }
err_lacks() { ! grep -qiF -- "$1" "$tmp/err"; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# as_nobody CMD...: run CMD as uid and gid 65534 (needs root and setpriv).
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
can_drop() { is_root && command -v setpriv >/dev/null 2>&1; }

# start_mapper PATH: a python3 process (not shmkit) that maps PATH shared
# and holds it until killed or 30 s pass; $mapper is its pid. Fails if it
# has not mapped it within 10 s.
start_mapper() {
  rm -f "$tmp/mapped"
  timeout 30 python3 -c '
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0)
os.close(fd)
open(sys.argv[2], "w").close()
time.sleep(30)' "$1" "$tmp/mapped" &
  mapper=$!
  pids="$pids $mapper"
  eventually test -e "$tmp/mapped"
}
stop_mapper() { kill "$mapper" 2>/dev/null; wait "$mapper" 2>/dev/null; }

# eventually CMD...: CMD succeeds within 10 s (tried every 0.1 s).
eventually() {
  local _
  for _ in $(seq 1 100); do "$@" && return 0; sleep 0.1; done
  return 1
}

# hold_by_cat SPEC: a `shmkit cat SPEC` blocked on a full pipe (SPEC must
# be larger than a pipe holds) keeps SPEC attached; $catpid is its pid,
# $sleeper the reader that never reads. stop_cat ends both.
hold_by_cat() {
  rm -f "$tmp/fifo"
  mkfifo "$tmp/fifo"
  sleep 10 <"$tmp/fifo" &
  sleeper=$!
  "$CLI" cat "$1" >"$tmp/fifo" &
  catpid=$!
  pids="$pids $sleeper $catpid"
}
stop_cat() { kill "$catpid" "$sleeper" 2>/dev/null; wait "$catpid" "$sleeper" 2>/dev/null; }

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
run 0 "ls: an operand is a PATTERN" "$CLI" ls "posix:$P-nothing-*" &&
  check "that matches nothing: the header alone" test "$(wc -l <"$tmp/out")" -eq 1
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
hold_by_cat "$B"
who_shows() { "$CLI" who "$1" >"$tmp/who" 2>&1 && grep -qE "^ *$2 +shmkit\$" "$tmp/who"; }
check "who shows the process that maps it" eventually who_shows "$B" "$catpid"
check "who has a header" grep -qE '^ *PID +COMMAND$' "$tmp/who"
run 0 "info while mapped" "$CLI" info "$B" && check "info counts the process" grep -qE '^nprocs: +[1-9]' "$tmp/out"
stop_cat
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

# -- errors name the reason (issue 7, item 16) -----------------------------------------
: >"$D/plain"             # an empty regular file
mkdir -m 0700 "$D/closed" # a directory only root may enter
# A malformed spec: the rule it breaks, from every command that takes one.
run 1 "create posix:NAME without the slash" "$CLI" create "posix:shmkit-test-cli-$$-ns" 4K && {
  check "names the rule" err_has "a posix: name is '/' followed by 1 to 255 characters, none of them '/'"
  check "suggests the slash" err_has "did you mean posix:/shmkit-test-cli-$$-ns?"
  check "not just 'Invalid argument'" err_lacks "invalid argument"
}
run 1 "create posix:/a/b" "$CLI" create "posix:$P-a/b" 4K &&
  check "says a posix: name has no second '/'" err_has "none of them '/'"
run 1 "info /etc/passwd" "$CLI" info /etc/passwd && {
  check "says what a posix: name is" err_has "a posix: name is '/' followed by"
  check "points to file:" err_has "file:/etc/passwd"
}
run 1 "info sysv:0 names sysv:private" "$CLI" info sysv:0 && check "says so" err_has "sysv:private"
run 1 "cat fd:-1 names the range" "$CLI" cat fd:-1 && check "says so" err_has "0 to 2147483647"
for c in info who cat write rm; do
  run 1 "$c with a malformed spec" "$CLI" "$c" "posix:$P-a/b" </dev/null &&
    check "$c names the rule" err_has "none of them '/'"
done

# A SIZE that is negative is a bad SIZE, not an unknown option.
run 2 "create SPEC -1" "$CLI" create "posix:$P-neg" -1 && {
  check "says SIZE must be a positive number of bytes" err_has "SIZE must be a positive number of bytes"
  check "not 'unknown option'" err_lacks "unknown option"
}
run 2 "create SPEC -4K" "$CLI" create "posix:$P-neg" -4K && check "negative" err_has "'-4K' is negative"
run 2 "write --offset -1" "$CLI" write "posix:$P-neg" --offset -1 </dev/null &&
  check "says 0 or more" err_has "0 or more"
check "negative sizes made nothing" test ! -e "/dev/shm$P-neg"

# A create that does not fit names the limit and that the size exceeds it.
run 1 "create 10P in /dev/shm" "$CLI" create "posix:$P-huge" 10P && {
  check "says the size asked for exceeds /dev/shm" err_has "the size asked for (10P) exceeds the size of /dev/shm"
  check "gives /dev/shm's size and free space" grep -qE '/dev/shm is a tmpfs of [0-9.]+[KMGTPE]? with [0-9.]+[BKMGTPE] free' "$tmp/err"
}
check "and made nothing" test ! -e "/dev/shm$P-huge"
run 1 "create file: 10P" "$CLI" create "file:$D/huge" 10P &&
  check "names the file's filesystem" err_has "exceeds the size of the filesystem of $D"
check "and made nothing" test ! -e "$D/huge"
run 1 "create file: past ulimit -f" sh -c 'ulimit -f 64 && exec "$@"' sh "$CLI" create "file:$D/fsz" 1M && {
  check "says it exceeds the file size limit" err_has "exceeds this process's file size limit"
  check "and names ulimit -f" err_has "ulimit -f allows"
}
check "past ulimit -f: no SIGXFSZ, nothing left behind" test ! -e "$D/fsz"
if [ -r /proc/sys/kernel/shmmax ]; then
  k=$(printf '0x5348%04x' $(( ($$ * 4 + 2) & 0xffff )))
  run 1 "create sysv: 10P" "$CLI" create "sysv:$k" 10P && {
    check "says the size asked for exceeds a limit" err_has "the size asked for (10P) exceeds"
    check "gives kernel.shmmax and shmall" err_has "kernel.shmmax, the largest segment, is"
  }
fi

# What was missing, and where it was looked for.
run 1 "info a missing sysv key" "$CLI" info sysv:0x5348fffd &&
  check "says no segment has that key" err_has "no System V segment has key 0x5348fffd"
run 1 "info sysv:PATH#PROJ of a missing PATH" "$CLI" info "sysv:$D/nothing#1" &&
  check "says ftok needs PATH" err_has "ftok() needs an existing PATH: $D/nothing"
run 1 "info sysv:id= of a missing id" "$CLI" info sysv:id=2147483646 &&
  check "says no segment has that id" err_has "no System V segment has id 2147483646"
run 1 "create file: in a missing directory" "$CLI" create "file:$D/nodir/x" 4K &&
  check "says the directory does not exist" err_has "the directory $D/nodir does not exist"
run 1 "create an existing segment" "$CLI" create "file:$D/plain" 4K &&
  check "says how to see and remove it" err_has "'shmkit rm SPEC' removes it"
run 1 "create sysv:id=N" "$CLI" create sysv:id=1 4K &&
  check "says ids are the kernel's" err_has "the kernel hands out ids"

# file: paths that are not segments.
ln -s "$D/plain" "$D/link"
run 1 "cat a file: symlink" "$CLI" cat "file:$D/link" && {
  check "says it is a symbolic link, never followed" err_has "a symbolic link, and file: paths are never followed"
  check "says where it points" err_has "it points to $D/plain"
}
run 1 "info a file: symlink" "$CLI" info "file:$D/link" && check "info says so too" err_has "symbolic link"
run 1 "cat file: a directory" "$CLI" cat "file:$D" &&
  check "says it is a directory" err_has "$D is a directory; only a regular file can be a segment"
run 1 "cat file:/dev/null" "$CLI" cat file:/dev/null &&
  check "says it is a character device" err_has "/dev/null is a character device"
run 1 "cat an empty file:" "$CLI" cat "file:$D/plain" &&
  check "says it is an empty file" err_has "an empty file"

# Permission: whose it is and who you are.
if can_drop; then
  "$CLI" create "posix:$P-priv" 4K >/dev/null
  run 1 "cat another user's segment" as_nobody "$CLI" cat "posix:$P-priv" &&
    check "says whose it is, its mode and who you are" \
      grep -qF "Permission denied (it is owned by root (uid 0), group root, mode 0600; you are" "$tmp/err"
    check "names the caller's uid" err_has "(uid 65534))"
  run 1 "create file: where you may not" as_nobody "$CLI" create "file:$D/closed/x" 4K &&
    check "says you may not create there" err_has "may not create anything in $D/closed"
  "$CLI" rm "posix:$P-priv"
else
  echo "SKIP permission messages: need root and setpriv"
fi

# -- write and rm leave other people's segments alone (issue 7, item 15) ---------------
if is_root; then
  O="posix:$P-owned"
  "$CLI" create "$O" 4K >/dev/null
  chown 65534 "/dev/shm$P-owned"
  "$CLI" cat "$O" >"$tmp/before"
  printf 'overwritten' | "$CLI" write "$O" >/dev/null 2>"$tmp/err"
  check "write to a segment of uid 65534 is refused (exit 1)" test "${PIPESTATUS[1]}" -eq 1
  check "says whose it is" err_has "owned by nobody (uid 65534), not by you (root, uid 0)"
  check "says --force" err_has "pass --force to write anyway"
  "$CLI" cat "$O" >"$tmp/after"
  check "and wrote nothing" cmp -s "$tmp/before" "$tmp/after"
  run 1 "rm of a segment of uid 65534" "$CLI" rm "$O" && check "says --force" err_has "pass --force to remove it anyway"
  check "and removed nothing" test -e "/dev/shm$P-owned"
  printf 'overwritten' | "$CLI" write --force "$O" >/dev/null 2>&1
  check "write --force writes it" test "$("$CLI" cat "$O" | head -c 11)" = overwritten
  run 0 "rm -f removes it" "$CLI" rm -f "$O"
  check "it is gone" test ! -e "/dev/shm$P-owned"

  "$CLI" create "file:$D/owned" 4K >/dev/null
  chown 65534 "$D/owned"
  run 1 "rm of a file: of uid 65534" "$CLI" rm "file:$D/owned"
  run 0 "rm --force removes it" "$CLI" rm --force "file:$D/owned"
  check "it is gone" test ! -e "$D/owned"
else
  echo "SKIP write/rm of another user's segment: needs root to chown"
fi

if command -v python3 >/dev/null 2>&1; then
  M="posix:$P-mapped"
  "$CLI" create "$M" 4K >/dev/null
  if start_mapper "/dev/shm$P-mapped"; then
    printf 'overwritten' | "$CLI" write "$M" >/dev/null 2>"$tmp/err"
    check "write to a segment another process maps is refused (exit 1)" test "${PIPESTATUS[1]}" -eq 1
    check "says who maps it" grep -qE "mapped by 1 process: [0-9]+ python3; pass --force to write anyway" "$tmp/err"
    check "and wrote nothing" test -z "$("$CLI" cat "$M" | tr -d '\0')"
    run 1 "rm of a segment another process maps" "$CLI" rm "$M" && check "says who maps it" err_has "python3"
    check "and removed nothing" test -e "/dev/shm$P-mapped"
    printf 'overwritten' | "$CLI" write -f "$M" >/dev/null 2>&1
    check "write -f writes it" test "$("$CLI" cat "$M" | head -c 11)" = overwritten
    run 0 "rm --force removes it while mapped" "$CLI" rm --force "$M"
    check "it is gone" test ! -e "/dev/shm$P-mapped"
  else
    fail "the python3 helper did not map the segment"
  fi
  stop_mapper
  "$CLI" rm -f "$M" >/dev/null 2>&1
else
  echo "SKIP write/rm of a segment a python3 process maps: no python3"
fi
run 0 "rm --help says what -f overrides" "$CLI" rm --help &&
  check "rm --help: -f removes even those" out_has "remove even those"
run 0 "write --help names --force" "$CLI" write --help && check "write --help: --force" out_has "--force"

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
  # rm of a segment attached elsewhere: a `shmkit cat` blocked on a full
  # pipe holds it (1M does not fit a pipe), and the kernel counts it.
  if K2=$(make_sysv 1M); then
    hold_by_cat "sysv:$K2"
    attached_once() { "$CLI" info "$1" 2>/dev/null | grep -qE '^nattch: +1$'; }
    check "a shmkit cat keeps the sysv segment attached" eventually attached_once "sysv:$K2"
    run 1 "rm of a sysv segment attached by another process" "$CLI" rm "sysv:$K2" &&
      check "says who maps it" err_has "mapped by 1 process: $catpid shmkit; pass --force"
    run 0 "and it is still there" "$CLI" info "sysv:$K2"
    run 0 "rm --force removes it" "$CLI" rm --force "sysv:$K2"
    run 1 "its key is gone" "$CLI" info "sysv:$K2"
    stop_cat
  else
    fail "could not create a 1M System V segment: $(cat "$tmp/err")"
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
# ls sees stale posix: segments; gc is tried on file: segments in our
# private directory only. The posix one goes by rm, not by gc.
E="$P-eph"
run 0 "create --ephemeral" "$CLI" create --ephemeral "posix:$E" 8K &&
  check "says on stderr that it is stale at once" err_has "stale at once"
run 0 "ls marks the unused ephemeral segment stale" "$CLI" ls --posix &&
  check "stale in STATUS" grep -qE "posix:$E .*stale" "$tmp/out"
run 0 "ls --json says stale" "$CLI" ls --json --posix &&
  check "\"stale\": true in JSON" grep -qF '"stale": true' "$tmp/out"
run 0 "rm the stale posix segment" "$CLI" rm "posix:$E"
run 0 "create --help" "$CLI" create --help &&
  check "create --help: --ephemeral without --hold is stale at once" grep -qF "stale at" "$tmp/out"

G="$D/gc"
mkdir "$G"
run 0 "create --ephemeral file:" "$CLI" create --ephemeral "file:$G/eph" 8K
run 0 "create a persistent file:" "$CLI" create "file:$G/kept" 8K
run 0 "info marks it stale" "$CLI" info "file:$G/eph" &&
  check "lifetime: ephemeral, stale" grep -qE '^lifetime: +ephemeral, stale' "$tmp/out"
run 0 "gc --dry-run DIR" "$CLI" gc --dry-run "$G" &&
  check "dry run names it" out_has "would remove file:$G/eph"
check "dry run removed nothing" test -e "$G/eph"
run 0 "gc DIR" "$CLI" gc "$G" && check "gc names it" out_has "removed file:$G/eph"
check "gc removed the stale one" test ! -e "$G/eph"
check "gc kept the persistent one" test -e "$G/kept"
run 2 "create --ephemeral on sysv without --hold is refused" "$CLI" create --ephemeral sysv:0x53480999 4K
run 2 "gc with an unknown option" "$CLI" gc --bogus
run 0 "gc --help" "$CLI" gc --help
"$CLI" rm "file:$G/kept" >/dev/null 2>&1

# Issue 7: "gc /nonexistent" said "no such segment".
run 1 "gc of a missing directory" "$CLI" gc "$D/missing" && {
  check "says no such directory" err_has "$D/missing: no such directory"
  check "not 'no such segment'" err_lacks "no such segment"
}
run 1 "gc of a file" "$CLI" gc "$D/plain" &&
  check "says not a directory" err_has "$D/plain: not a directory"
if can_drop; then
  run 1 "gc of a directory we may not read" as_nobody "$CLI" gc "$D/closed" &&
    check "says permission denied, and what gc needs" err_has "permission denied (gc needs to read and search"
else
  echo "SKIP gc of an unreadable directory: needs root and setpriv"
fi

# -- create --ephemeral --hold CMD (issue 7, item 14) -----------------------------------
# Without --hold nothing holds an ephemeral segment once create exits. With
# it, the segment survives gc while CMD runs, and gc removes it after.
H="$D/held"
mkdir "$H"
{
  echo '[ "$SHMKIT_SPEC" = "file:$1/seg" ] || exit 90'
  echo '"$2" gc "$1" >/dev/null || exit 91'
  echo '[ -e "$1/seg" ] || exit 92'
  echo 'echo alive >"$3"'
  echo 'exit 7'
} >"$tmp/cmd.sh"
run 7 "--hold: CMD's exit status passes through" \
  timeout 30 "$CLI" create --ephemeral --hold "file:$H/seg" 4K sh "$tmp/cmd.sh" "$H" "$CLI" "$tmp/alive"
check "--hold: SHMKIT_SPEC named it, and gc kept it while CMD ran" test "$(cat "$tmp/alive" 2>/dev/null)" = alive
check "--hold printed nothing on stdout" test ! -s "$tmp/out"
check "the segment is still there when CMD is done" test -e "$H/seg"
run 0 "gc after --hold" "$CLI" gc "$H" && check "gc removed it once nobody held it" out_has "removed file:$H/seg"
check "and it is gone" test ! -e "$H/seg"
run 143 "--hold: a CMD killed by SIGTERM is 128+15" \
  timeout 30 "$CLI" create --ephemeral --hold "file:$H/sig" 4K sh -c 'kill -TERM $$'
run 127 "--hold: a CMD that does not exist is 127" \
  timeout 30 "$CLI" create --ephemeral --hold "file:$H/nx" 4K "$D/no-such-command"
run 0 "--hold: options after SIZE belong to CMD" \
  timeout 30 "$CLI" create --ephemeral --hold "file:$H/opt" 4K sh -c 'echo "$1"' sh --mode &&
  check "CMD got --mode" out_has "--mode"
run 2 "--hold without a command" "$CLI" create --ephemeral --hold "file:$H/none" 4K &&
  check "says it needs a command" err_has "needs a command"
run 2 "--hold without --ephemeral" "$CLI" create --hold "file:$H/none" 4K true
check "bad --hold usage made nothing" test ! -e "$H/none"
run 0 "gc the rest of what --hold made" "$CLI" gc "$H"
check "nothing left of --hold" test -z "$(ls -A "$H")"
run 0 "--hold memfd: CMD inherits the descriptor" \
  timeout 30 "$CLI" create --ephemeral --hold memfd:held 4K \
  sh -c 'printf memfd! | "$1" write --force "$SHMKIT_SPEC" && "$1" cat "$SHMKIT_SPEC" | head -c 6' sh "$CLI" &&
  check "CMD wrote and read it by fd:N" out_has "memfd!"
run 0 "create --help" "$CLI" create --help &&
  check "create --help names SHMKIT_SPEC" out_has "SHMKIT_SPEC"
if [ -r /proc/sysvipc/shm ]; then
  hid=""
  run 2 "--hold with a keyed sysv: spec: ephemeral ones are private" \
    "$CLI" create --ephemeral --hold "sysv:$(printf "0x5348%04x" $(( ($$ * 4 + 3) & 0xffff )))" 4K true &&
    check "the keyed refusal says sysv:private" err_has "sysv:private"
  run 0 "--hold sysv: reached by sysv:id=N" \
    timeout 30 "$CLI" create --ephemeral --hold sysv:private 4K \
    sh -c 'echo "$SHMKIT_SPEC"; "$1" info "$SHMKIT_SPEC" >/dev/null' sh "$CLI" &&
    hid=$(grep -E '^sysv:id=[0-9]+$' "$tmp/out")
  check "SHMKIT_SPEC is sysv:id=N" test -n "$hid"
  [ -n "$hid" ] && run 1 "the kernel freed it at its last detach" "$CLI" info "$hid"
fi

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
rm -rf -- "$D"
check "nothing of ours left in /dev/shm" sh -c "! ls /dev/shm/shmkit-test-cli-$$-* >/dev/null 2>&1"

if [ "$fails" -ne 0 ]; then
  echo "cli: $fails failed" >&2
  exit 1
fi
echo "cli: all passed"
