#!/usr/bin/env bash
# test_interop.sh: shmkit's segments against programs shmkit did not write.
#
#  (a) Python's multiprocessing.shared_memory: a segment Python makes is read
#      by `shmkit cat`; one shmkit makes is read and written by Python.
#  (b) util-linux: a segment from `ipcmk -M` is read and written by shmkit
#      (sysv:id=N); one shmkit makes shows in `ipcs -m` with its size and
#      mode; `ipcrm -m` removes it and shmkit then reports it missing.
#
# Each part is skipped, saying why, when its tool is missing; the whole test
# is skipped (77) when nothing could run. Everything made here is named
# shmkit-test-<pid>-* or keyed 0x5348xxxx, and the EXIT trap removes it,
# pass or fail, including the segment ipcmk makes under a random key.
set -u

CLI=${SHMKIT_CLI:-}
SRC=${SHMKIT_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
PYSHM="$SRC/tests/interop/pyshm.py"
if [ -z "$CLI" ] || [ ! -x "$CLI" ]; then
  echo "SKIP interop: SHMKIT_CLI does not name the shmkit binary"
  exit 77
fi

tmp=$(mktemp -d /tmp/shmkit-test-interop.XXXXXX) || exit 1
posix_names=()
sysv_ids=()
cleanup() {
  local n id
  for n in "${posix_names[@]}"; do rm -f "/dev/shm/$n"; done
  for id in "${sysv_ids[@]}"; do ipcrm -m "$id" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   interop.$1"; }
ran=0

# A key of ours: 0x5348 and the low 12 bits of our pid, times 16.
key=$(printf '0x5348%03x0' $(($$ & 0xfff)))

# --- (a) Python ----------------------------------------------------------------
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP interop.python: python3 is not installed"
elif ! python3 -c 'import multiprocessing.shared_memory' 2>/dev/null; then
  echo "SKIP interop.python: this python3 has no multiprocessing.shared_memory"
else
  # Python makes it, shmkit reads it.
  n="shmkit-test-$$-py"
  posix_names+=("$n")
  head -c 5000 /dev/urandom > "$tmp/py-data"
  python3 "$PYSHM" posix-create "$n" 5000 < "$tmp/py-data" ||
    fail "python could not create /$n"
  [ -e "/dev/shm/$n" ] || fail "python's segment /$n is gone (resource tracker?)"
  "$CLI" cat "posix:/$n" > "$tmp/out" || fail "shmkit cat posix:/$n"
  cmp -s "$tmp/out" "$tmp/py-data" ||
    fail "shmkit cat of python's segment differs ($(stat -c %s "$tmp/out") bytes read)"
  "$CLI" cat "/$n" | cmp -s - "$tmp/py-data" || fail "shmkit cat /$n (bare name)"
  # And shmkit writes where python looks.
  printf 'written by shmkit' | "$CLI" write --offset 100 "posix:/$n" ||
    fail "shmkit write into python's segment"
  python3 "$PYSHM" posix-read "$n" > "$tmp/out" || fail "python re-read /$n"
  [ "$(dd if="$tmp/out" bs=1 skip=100 count=17 2>/dev/null)" = "written by shmkit" ] ||
    fail "python does not see shmkit's write"
  cmp -s <(head -c 100 "$tmp/out") <(head -c 100 "$tmp/py-data") ||
    fail "shmkit's write at offset 100 changed bytes before it"
  "$CLI" rm "posix:/$n" || fail "shmkit rm posix:/$n"
  [ -e "/dev/shm/$n" ] && fail "/$n still exists after shmkit rm"
  ok python_creates

  # shmkit makes it, python reads and writes it.
  n="shmkit-test-$$-shmkit"
  posix_names+=("$n")
  head -c 8192 /dev/urandom > "$tmp/sk-data"
  "$CLI" create "posix:/$n" 8192 > /dev/null || fail "shmkit create posix:/$n"
  "$CLI" write "posix:/$n" < "$tmp/sk-data" || fail "shmkit write posix:/$n"
  python3 "$PYSHM" posix-read "$n" > "$tmp/out" || fail "python could not attach /$n"
  cmp -s "$tmp/out" "$tmp/sk-data" ||
    fail "python reads other bytes than shmkit wrote ($(stat -c %s "$tmp/out") bytes)"
  printf 'python was here' | python3 "$PYSHM" posix-write "$n" 0 ||
    fail "python write into /$n"
  [ "$("$CLI" cat "posix:/$n" | head -c 15)" = "python was here" ] ||
    fail "shmkit does not see python's write"
  # Python let go of it: it must still be there for shmkit to remove.
  "$CLI" rm "posix:/$n" || fail "shmkit rm posix:/$n after python used it"
  ok shmkit_creates_python_attaches
  ran=1
fi

# --- (b) util-linux --------------------------------------------------------------
if ! command -v ipcmk >/dev/null 2>&1 || ! command -v ipcs >/dev/null 2>&1 ||
   ! command -v ipcrm >/dev/null 2>&1; then
  echo "SKIP interop.util_linux: ipcmk, ipcs or ipcrm is not installed"
elif [ ! -r /proc/sysvipc/shm ]; then
  echo "SKIP interop.util_linux: no System V shared memory (/proc/sysvipc/shm)"
else
  # ipcmk makes it, shmkit reads and writes it by id.
  out=$(ipcmk -M 4096) || fail "ipcmk -M 4096: $out"
  id=$(printf '%s\n' "$out" | sed -n 's/^Shared memory id: *\([0-9][0-9]*\)$/\1/p')
  [ -n "$id" ] || fail "cannot read the id from ipcmk's output: $out"
  sysv_ids+=("$id")
  "$CLI" cat "sysv:id=$id" > "$tmp/out" || fail "shmkit cat sysv:id=$id"
  [ "$(stat -c %s "$tmp/out")" = 4096 ] || fail "shmkit read $(stat -c %s "$tmp/out") bytes of a 4096-byte segment"
  cmp -s "$tmp/out" <(head -c 4096 /dev/zero) || fail "ipcmk's fresh segment is not zero"
  printf 'shmkit into ipcmk' | "$CLI" write "sysv:id=$id" || fail "shmkit write sysv:id=$id"
  [ "$("$CLI" cat "sysv:id=$id" | head -c 17)" = "shmkit into ipcmk" ] ||
    fail "shmkit does not read back its write to sysv:id=$id"
  if command -v python3 >/dev/null 2>&1; then # a reader that is not shmkit
    [ "$(python3 "$PYSHM" sysv-read "$id" | head -c 17)" = "shmkit into ipcmk" ] ||
      fail "libc's shmat does not see shmkit's write to $id"
    printf 'libc' | python3 "$PYSHM" sysv-write "$id" 100 || fail "python shmat write"
    [ "$("$CLI" cat "sysv:id=$id" | dd bs=1 skip=100 count=4 2>/dev/null)" = libc ] ||
      fail "shmkit does not see a write made through libc's shmat"
  fi
  ipcrm -m "$id" || fail "ipcrm -m $id"
  if "$CLI" cat "sysv:id=$id" > /dev/null 2> "$tmp/err"; then
    fail "shmkit still reads sysv:id=$id after ipcrm"
  fi
  ok ipcmk_creates

  # shmkit makes it; ipcs sees it as it is; ipcrm removes it.
  "$CLI" create "sysv:$key" 12345 --mode 0640 > "$tmp/out" ||
    fail "shmkit create sysv:$key"
  line=$(ipcs -m | awk -v k="$key" '$1 == k')
  [ -n "$line" ] || fail "ipcs -m does not list key $key"
  set -- $line # key shmid owner perms bytes nattch
  id=$2
  sysv_ids+=("$id")
  [ "$3" = "$(id -un)" ] || fail "ipcs owner $3, want $(id -un)"
  [ "$4" = 640 ] || fail "ipcs perms $4, want 640"
  [ "$5" = 12345 ] || fail "ipcs bytes $5, want 12345"
  printf 'seen by ipcs' | "$CLI" write "sysv:$key" || fail "shmkit write sysv:$key"
  if command -v python3 >/dev/null 2>&1; then
    [ "$(python3 "$PYSHM" sysv-read "$id" | head -c 12)" = "seen by ipcs" ] ||
      fail "libc's shmat does not see shmkit's bytes in $id"
    [ "$(python3 "$PYSHM" sysv-read "$id" | wc -c)" = 12345 ] ||
      fail "libc's shmat sees another size than 12345"
  fi
  [ "$("$CLI" cat "sysv:id=$id" | head -c 12)" = "seen by ipcs" ] ||
    fail "shmkit by id does not read what it wrote by key"
  ipcrm -m "$id" || fail "ipcrm -m $id"
  ipcs -m | awk -v k="$key" '$1 == k { found = 1 } END { exit !found }' &&
    fail "ipcs still lists $key after ipcrm"
  if "$CLI" cat "sysv:$key" > /dev/null 2> "$tmp/err"; then
    fail "shmkit still attaches sysv:$key after ipcrm"
  fi
  rc=0
  "$CLI" info "sysv:$key" > /dev/null 2> "$tmp/err" || rc=$?
  [ $rc = 1 ] || fail "shmkit info of a removed segment: exit $rc, want 1"
  grep -qiE 'no such|ENOENT|not found|does not exist' "$tmp/err" ||
    fail "shmkit info of a removed segment does not say it is missing: $(cat "$tmp/err")"
  rc=0
  "$CLI" rm "sysv:$key" 2> "$tmp/err" || rc=$?
  [ $rc = 1 ] || fail "shmkit rm of a removed segment: exit $rc, want 1"
  ok shmkit_creates_ipcs_sees
  ran=1
fi

[ $ran = 1 ] || exit 77
echo "interop: done"
exit 0
