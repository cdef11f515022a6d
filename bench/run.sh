#!/usr/bin/env bash
# bench/run.sh: build shmkit's benchmarks in Release and run them all.
#
# Writes the raw output of every benchmark under bench/results/ (small text
# files meant to be committed), draws docs/latency.png with gnuplot, and
# prints a summary. The peers (Boost.Interprocess, iceoryx) are built when
# their packages are installed; iceoryx needs its RouDi daemon, which this
# script starts in the background and stops when it is done (unless one is
# already running, which is then used and left alone).
#
#   bench/run.sh                  full run (~5-8 minutes on 2 cores)
#   BENCH_QUICK=1 bench/run.sh    smoke run (~1 minute); results go to
#                                 build-bench/results-quick, docs untouched
#   BENCH_PEERS=OFF bench/run.sh  without the peers
#   BENCH_BUILD=dir               build directory (default build-bench)
#
# The machines are shared: every figure that counts is a ratio measured in
# the same run. Run it when the machine is otherwise quiet.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$src/build-bench}
quick=${BENCH_QUICK:-0}
peers=${BENCH_PEERS:-ON}
if [ "$quick" != 0 ]; then
  out=$build/results-quick
  png=$out/latency.png
else
  out=$src/bench/results
  png=$src/docs/latency.png
fi
mkdir -p "$out" "$build"

echo "== building (Release) in $build"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DSHMKIT_BUILD_TESTS=OFF -DSHMKIT_BUILD_BENCH=ON \
  -DSHMKIT_BENCH_PEERS="$peers" >"$build/cmake.log" 2>&1 ||
  { cat "$build/cmake.log"; exit 1; }
grep -E '^-- bench_ipc' "$build/cmake.log" || true
cmake --build "$build" -j 2 --target bench_segment bench_ipc >/dev/null

# The machine, for the record.
{
  echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu:     $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
       "$(nproc) CPUs online"
  echo "kernel:  $(uname -sr)"
  echo "gcc:     $(gcc --version | head -1)"
  echo "memory:  $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
  echo "mode:    $([ "$quick" != 0 ] && echo quick || echo full)"
} >"$out/machine.txt"
cat "$out/machine.txt"

# RouDi for the iceoryx peers.
roudi_pid=""
roudi_log=$build/roudi.log
stop_roudi() {
  if [ -n "$roudi_pid" ] && kill -0 "$roudi_pid" 2>/dev/null; then
    kill -TERM "$roudi_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$roudi_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$roudi_pid" 2>/dev/null || true
    wait "$roudi_pid" 2>/dev/null || true
  fi
  roudi_pid=""
}
trap stop_roudi EXIT
trap 'stop_roudi; exit 130' INT TERM

if "$build/bench/bench_ipc" -l | grep -q '^iceoryx'; then
  if pgrep -x iox-roudi >/dev/null; then
    echo "== iox-roudi already running: using it"
  elif command -v iox-roudi >/dev/null; then
    iox-roudi >"$roudi_log" 2>&1 &
    roudi_pid=$!
    for _ in $(seq 100); do
      grep -q 'RouDi is ready' "$roudi_log" 2>/dev/null && break
      kill -0 "$roudi_pid" 2>/dev/null || break
      sleep 0.1
    done
    if grep -q 'RouDi is ready' "$roudi_log"; then
      echo "== iox-roudi started (pid $roudi_pid)"
    else
      echo "== iox-roudi did not start; iceoryx peers will be skipped:"
      sed 's/^/   /' "$roudi_log"
      stop_roudi
    fi
  else
    echo "== iox-roudi not installed; iceoryx peers will be skipped"
  fi
fi

echo
echo "== bench_segment"
"$build/bench/bench_segment" | tee "$out/segment.txt"

echo
echo "== bench_ipc"
"$build/bench/bench_ipc" -o "$out/ipc.tsv" -p "$out/latency" |
  tee "$out/ipc.txt"
stop_roudi

if command -v gnuplot >/dev/null; then
  # a transport left out of this build is skipped with a warning: quiet
  { gnuplot -e "prefix='$out/latency'; out='$png'" "$src/bench/plot.gp" 2>&1 ||
      echo "gnuplot failed"; } | grep -v 'Skipping data file' || true
  echo
  echo "== plot: $png"
else
  echo "== gnuplot not installed: no plot"
fi

# Nothing of ours may be left behind.
left=$(ls /dev/shm 2>/dev/null | grep '^shmkit-bench-' || true)
[ -z "$left" ] || echo "WARNING: left in /dev/shm: $left"
if [ -r /proc/sysvipc/shm ] &&
   awk 'NR > 1 && sprintf("%08x", $1) ~ /^5342/ {found=1} END {exit !found}' \
       /proc/sysvipc/shm; then
  echo "WARNING: System V segments with keys 0x5342xxxx left behind"
fi

echo
echo "== summary"
grep -E '^target|MISS' "$out/segment.txt" | sed 's/^/segment: /' || true
awk -F'\t' '$1 == "target" {printf "ipc:     %-58s %8.2f %s %.2f  %s\n", $2, $3, $4, $5, $6}' \
  "$out/ipc.tsv"
grep -E 'targets met|not in this build' "$out/ipc.txt" | sed 's/^ */ipc:     /' || true
echo "raw output: $out"
