#!/usr/bin/env bash
# bench/run.sh: build shmkit's benchmarks in Release and run them all.
#
# Writes the raw output of every benchmark under bench/results/ (small text
# files meant to be committed), draws docs/latency.png with gnuplot, and
# prints a summary. The peers (Boost.Interprocess, iceoryx) and gnuplot are
# installed with apt-get when they are missing and this runs as root (set
# BENCH_INSTALL=0 not to); iceoryx needs its RouDi daemon, which this
# script starts in the background and stops when it is done (unless one is
# already running, which is then used and left alone).
#
# A full run has four parts:
#  1. bench_segment: segment create/attach/detach/destroy against syscalls.
#  2. bench_ipc: every transport, latency at 8 B .. 1 MiB, streams at
#     64 B .. 1 MiB, idle CPU; cross-core and same-core (ipc.txt, ipc.tsv,
#     latency-*.dat and the plot).
#  3. Floor ratios (floor-ratios.txt, floor-ratios.tsv): the 56 and 64 B
#     cross-core latency cells of the spin floor and of the channels that
#     race it, in 3 repetitions, each a separate bench_ipc -L run with every
#     transport interleaved round by round: one before bench_segment, one
#     after it, one after bench_ipc. Each repetition gives its own ratio to
#     the floor, and the targets are judged on the median of the three
#     (bench_ipc -F), printed with their spread: a neighbour's burst that
#     lands on one cell, or a change of the host's state that lasts
#     minutes, shows as spread instead of deciding the verdict.
#  4. bench_heap: shared-memory heap alloc+free against glibc malloc and
#     Boost's managed_shared_memory, one process and two, and growth
#     (heap.txt; ~1 minute).
#  5. bench_python.py: the Python binding's channel latency and throughput
#     against multiprocessing.Pipe and Queue (python.txt; ~1 minute).
#
#   bench/run.sh                  full run (~8 minutes on 2 cores)
#   BENCH_QUICK=1 bench/run.sh    smoke run (~1 minute); results go to
#                                 build-bench/results-quick, docs untouched
#   BENCH_PEERS=OFF bench/run.sh  without the peers
#   BENCH_BUILD=dir               build directory (default build-bench)
#   BENCH_FLOOR_SIZES=56,64       sizes of the floor-ratio part
#   BENCH_FLOOR_ROUNDS=10         rounds per repetition there (full run)
#
#   BENCH_AB=<commit> bench/run.sh
#       Instead of the above: the library of this tree against the one at
#       <commit>, side by side. The tree at <commit> is exported with git
#       archive into /tmp/shmkit-ab-<hash>/src, this tree's bench/ is put in
#       its place (the same harness measures both libraries), and it is
#       built in /tmp/shmkit-ab-<hash>/build (kept for the next A/B run).
#       Then the 64 B cross-core stream cells of chan-spsc-spin run 3 times
#       in each build (10 rounds each), interleaved new/old, old/new,
#       new/old (one size at a time, so the two runs of a cell are seconds
#       apart), and the rates and the ratio new/old are printed per
#       repetition with their median and spread (ab-<hash>.txt). spin-ring
#       (and, for latency, spin-line) run beside it as a control: they are
#       the harness's own code, the same in both builds, so their new/old
#       is what noise alone does to the comparison. BENCH_AB_T=NAME,... and
#       BENCH_AB_S=SIZE,... pick other cells, BENCH_AB_M=lat,thr adds
#       latency cells (p50), BENCH_AB_ROUNDS the rounds per invocation.
#
# The machines are shared: every figure that counts is a ratio measured in
# the same run. Run it when the machine is otherwise quiet; the load average
# is recorded at the start and the end of every part.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD:-$src/build-bench}
quick=${BENCH_QUICK:-0}
peers=${BENCH_PEERS:-ON}
ab=${BENCH_AB:-}
t_start=$(date +%s)
if [ "$quick" != 0 ]; then
  out=$build/results-quick
  png=$out/latency.png
else
  out=$src/bench/results
  png=$src/docs/latency.png
fi
mkdir -p "$out" "$build"
load() { cut -d' ' -f1-3 /proc/loadavg; }

# What the peers and the plot need, from Debian's packages.
install_missing() {
  local want=() p pkgs
  [ "${BENCH_INSTALL:-1}" != 0 ] || return 0
  command -v dpkg-query >/dev/null && command -v apt-get >/dev/null || return 0
  pkgs="gnuplot-nox"
  [ "$peers" = OFF ] || pkgs="$pkgs libboost-dev iceoryx libiceoryx-binding-c-dev"
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
      want+=("$p")
  done
  [ ${#want[@]} -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "== not root: not installing ${want[*]}"
    return 0
  fi
  echo "== installing ${want[*]}"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "${want[@]}" ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends "${want[@]}"; }; } >"$build/apt.log" 2>&1 ||
    echo "== apt-get failed (see $build/apt.log); going on without"
}

# build SRC DIR PEERS: configure and build the benchmarks of tree SRC in DIR.
build_bench() {
  echo "== building (Release) in $2"
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release \
    -DSHMKIT_BUILD_TESTS=OFF -DSHMKIT_BUILD_BENCH=ON \
    -DSHMKIT_BENCH_PEERS="$3" >"$2/cmake.log" 2>&1 ||
    { cat "$2/cmake.log"; exit 1; }
  grep -E '^-- bench_(ipc|heap)' "$2/cmake.log" || true
  cmake --build "$2" -j 2 --target bench_segment bench_ipc >"$2/build.log" 2>&1 ||
    { tail -40 "$2/build.log"; exit 1; }
}

[ -n "$ab" ] || install_missing
build_bench "$src" "$build" "$peers"
ipc=$build/bench/bench_ipc

# The machine, for the record.
machine() {
  echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu:     $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
       "$(nproc) CPUs online"
  echo "kernel:  $(uname -sr)"
  echo "gcc:     $(gcc --version | head -1)"
  echo "memory:  $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
  echo "load:    $(load) (1/5/15 min, at start)"
  echo "mode:    $*"
}

# --------------------------------------------------------------------------
# A/B: this tree's library against an older commit's, same harness.
if [ -n "$ab" ]; then
  rev=$(git -C "$src" rev-parse --verify "$ab^{commit}")
  short=$(git -C "$src" rev-parse --short=12 "$rev")
  abdir=/tmp/shmkit-ab-$short
  if [ ! -f "$abdir/src/CMakeLists.txt" ]; then
    rm -rf "$abdir/src"
    mkdir -p "$abdir/src"
    git -C "$src" archive "$rev" | tar -x -C "$abdir/src"
  fi
  rm -rf "$abdir/src/bench"
  mkdir -p "$abdir/src/bench" "$abdir/build"
  (cd "$src/bench" && tar -c --exclude=results .) | tar -x -C "$abdir/src/bench"
  build_bench "$abdir/src" "$abdir/build" OFF
  ab_t=${BENCH_AB_T:-chan-spsc-spin,spin-line,spin-ring}
  ab_s=${BENCH_AB_S:-64}
  ab_m=${BENCH_AB_M:-thr}
  ab_r=${BENCH_AB_ROUNDS:-10}
  [ "$quick" = 0 ] || ab_r=${BENCH_AB_ROUNDS:-1}
  report=$out/ab-$short.txt
  tmp=$(mktemp -d)
  {
    # the library's last change, not the bench's
    machine "A/B: library of $(git -C "$src" log -1 --format='%h' HEAD -- src include)$(
      git -C "$src" diff --quiet HEAD -- src include || echo '+changes') (new)" \
      "against $short (old)"
    echo "new:     $(git -C "$src" log -1 --format='%h %s' HEAD -- src include | cut -c1-70)"
    echo "old:     $(git -C "$src" log -1 --format='%h %s' "$rev" | cut -c1-70)"
    echo "cells:   $ab_t at $ab_s B, phases $ab_m, cross-core, $ab_r rounds"
  } | tee "$report"
  # One size at a time, so the two builds' runs of a cell are seconds
  # apart: the host's state here can change within minutes.
  files=()
  for r in 1 2 3; do
    if [ $((r % 2)) = 1 ]; then order="new old"; else order="old new"; fi
    echo "== repetition $r (load $(load))"
    for size in ${ab_s//,/ }; do
      for b in $order; do
        bin=$ipc
        [ "$b" = new ] || bin=$abdir/build/bench/bench_ipc
        BENCH_ROUNDS=$ab_r "$bin" -C -m "$ab_m" -t "$ab_t" -s "$size" \
          -o "$tmp/$b-$r-$size.tsv" >"$tmp/$b-$r-$size.txt"
        files+=("$tmp/$b-$r-$size.tsv") # the report follows this order
      done
    done
  done
  # thr rows: rate (higher is better); lat rows: p50 (lower is better).
  awk -F'\t' '
    function med(a, n,   i, j, t) {
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
          t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(kind, x) {
      return kind == "thr" ? sprintf("%.2f M/s", x / 1e6) : sprintf("%.1f ns", x)
    }
    FNR == 1 {
      nf = split(FILENAME, f, "/"); n = f[nf]; sub(/\.tsv$/, "", n)
      split(n, br, "-"); b = br[1]; r = br[2] + 0
    }
    ($1 == "thr" && $3 != "memcpy") || $1 == "lat" {
      k = $1 "\t" $3 "\t" $4; v[k, b, r] = $5
      if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
    }
    END {
      printf "\n%-7s %-20s %7s %4s %14s %14s %9s\n", "cell", "transport",
             "size", "rep", "new", "old", "new/old"
      for (ki = 1; ki <= nk; ki++) {
        k = keys[ki]; split(k, p, "\t"); n = 0
        cell = p[1] == "thr" ? "stream" : "lat p50"
        better = p[1] == "thr" ? "above 1: new is faster" : "below 1: new is faster"
        for (r = 1; r <= 3; r++) {
          if (!((k, "new", r) in v) || !((k, "old", r) in v) || v[k, "old", r] <= 0)
            continue
          x[++n] = v[k, "new", r] / v[k, "old", r]
          printf "%-7s %-20s %7s %4d %14s %14s %8.3fx\n", cell, p[2], p[3], r,
                 fmt(p[1], v[k, "new", r]), fmt(p[1], v[k, "old", r]), x[n]
        }
        if (!n)
          continue
        lo = hi = x[1]
        for (i = 2; i <= n; i++) {
          if (x[i] < lo) lo = x[i]
          if (x[i] > hi) hi = x[i]
        }
        printf "%-7s %-20s %7s  new/old, median of %d: %.3fx (%.3f..%.3f; %s)\n\n",
               cell, p[2], p[3], n, med(x, n), lo, hi, better
      }
    }' "${files[@]}" | tee -a "$report"
  for f in "$tmp"/*.txt; do
    grep -E 'FAILED|skipped' "$f" | sed "s|^|$(basename "$f" .txt): |" || true
  done | tee -a "$report"
  echo "load:    $(load) (at end); $(($(date +%s) - t_start)) s" | tee -a "$report"
  rm -rf "$tmp"
  echo "report:  $report; old build kept in $abdir"
  exit 0
fi

# --------------------------------------------------------------------------
# bench_heap is built here, not in build_bench: the A/B mode above builds
# older trees, which have no heap.
cmake --build "$build" -j 2 --target bench_heap >>"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log"; exit 1; }

machine "$([ "$quick" != 0 ] && echo quick || echo full)" >"$out/machine.txt"
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

if "$ipc" -l | grep -q '^iceoryx'; then
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

# floor_rep K: repetition K of the floor-ratio part, into $build.
floor_t=spin-line,chan-spsc-spin,chan-spsc-adaptive,chan-mpmc-spin,chan-bcast-spin
floor_r=${BENCH_FLOOR_ROUNDS:-10}
[ "$quick" = 0 ] || floor_r=${BENCH_FLOOR_ROUNDS:-1}
floor_rep() {
  echo
  echo "== floor ratios, repetition $1 of 3 (load $(load))"
  echo "repetition $1: $(date -u '+%H:%M:%S UTC'), load $(load)" \
    >"$build/floor-rep$1.txt"
  BENCH_ROUNDS=$floor_r "$ipc" -L -C -t "$floor_t" \
    -s "${BENCH_FLOOR_SIZES:-56,64}" -o "$build/floor-rep$1.tsv" |
    sed -n '/^== one-way/,/^== targets/p' | sed '$d' |
    tee -a "$build/floor-rep$1.txt"
}

floor_rep 1

echo
echo "== bench_segment"
"$build/bench/bench_segment" | tee "$out/segment.txt"

floor_rep 2

echo
echo "== bench_ipc (load $(load))"
"$ipc" -o "$out/ipc.tsv" -p "$out/latency" | tee "$out/ipc.txt"
stop_roudi

floor_rep 3

echo
echo "== floor ratios over the 3 repetitions"
{
  cat "$build"/floor-rep[123].txt
  "$ipc" -F "$build/floor-rep1.tsv,$build/floor-rep2.tsv,$build/floor-rep3.tsv" \
    -o "$out/floor-ratios.tsv"
} >"$out/floor-ratios.txt"
sed -n '/^== floor ratios/,$p' "$out/floor-ratios.txt"
grep -h '^rep' "$build"/floor-rep[123].tsv >>"$out/floor-ratios.tsv"

echo
echo "== bench_heap (load $(load))"
"$build/bench/bench_heap" | tee "$out/heap.txt"

# The Python binding's channels against multiprocessing.Pipe and Queue,
# through the module of this build (python/; needs python3-dev).
echo
echo "== bench_python (load $(load))"
pyexe=python3
[ ! -x /usr/bin/python3 ] || pyexe=/usr/bin/python3
if cmake --build "$build" -j 2 --target shmkit_python >>"$build/build.log" 2>&1; then
  "$pyexe" "$src/bench/bench_python.py" --build "$build" \
    $([ "$quick" = 0 ] || echo --quick) | tee "$out/python.txt"
else
  echo "bench_python: the Python binding is not built here (python3-dev missing?): skipped" |
    tee "$out/python.txt"
fi

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

elapsed=$(($(date +%s) - t_start))
echo "elapsed: ${elapsed} s; load $(load) at end" >>"$out/machine.txt"

echo
echo "== summary"
grep -E '^target|MISS' "$out/segment.txt" | sed 's/^/segment: /' || true
for part in ipc floor-ratios; do
  awk -F'\t' -v p="$part:" '$1 == "target" {
      printf "%-8s %-58s %8.2f %s %.2f  %s\n", p, $2, $3, $4, $5, $6 }' \
    "$out/$part.tsv"
  grep -E 'targets met|not checked' "$out/$part.txt" | sed "s/^ */$part: /" || true
done
grep -E '^(target|heap targets|growth:|boost: not built|WARNING)' "$out/heap.txt" |
  sed 's/^/heap:    /' || true
grep -E 'shmkit vs|skipped' "$out/python.txt" | sed 's/^ */python:  /' || true
echo "elapsed: ${elapsed} s"
echo "raw output: $out"
