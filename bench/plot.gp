# plot.gp: one-way latency (p50, half a ping-pong round trip) against the
# payload size, from the data bench_ipc -p PREFIX writes; cross-core and
# same-core side by side. bench/run.sh calls it as
#   gnuplot -e "prefix='bench/results/latency'; out='docs/latency.png'" bench/plot.gp
# Transports are picked by name (a block per transport, headed "# name");
# one that is missing from the data (peers not built) is skipped with a
# warning.
if (!exists("prefix")) prefix = 'bench/results/latency'
if (!exists("out")) out = 'docs/latency.png'
if (!exists("names")) names = "spin-line futex pipe posix-mq chan-spsc-spin chan-spsc-adaptive chan-spsc-blocking chan-mpmc-adaptive chan-bcast-adaptive boost-mq iceoryx-poll iceoryx-waitset"

set terminal pngcairo size 1500,820 font ",10"
set output out
set logscale xy
set xrange [48:1400000]
set xtics ("64 B" 64, "256 B" 256, "4 KiB" 4096, "64 KiB" 65536, "1 MiB" 1048576)
set ytics ("10 ns" 10, "100 ns" 100, "1 us" 1e3, "10 us" 1e4, "100 us" 1e5, \
           "1 ms" 1e6, "10 ms" 1e7, "100 ms" 1e8)
set ylabel "one-way latency, p50 (log scale)"
set grid xtics ytics mytics
# Twelve distinguishable styles: floors dark, shmkit solid, peers dashed.
set linetype 1 lc rgb "black" lw 2 pt 7
set linetype 2 lc rgb "#555555" lw 2 pt 5
set linetype 3 lc rgb "#a0a0a0" lw 2 pt 9
set linetype 4 lc rgb "#c8a000" lw 2 pt 11
set linetype 5 lc rgb "#d62728" lw 2 pt 7
set linetype 6 lc rgb "#1f77b4" lw 2 pt 7
set linetype 7 lc rgb "#2ca02c" lw 2 pt 7
set linetype 8 lc rgb "#9467bd" lw 2 pt 5
set linetype 9 lc rgb "#17becf" lw 2 pt 5
set linetype 10 lc rgb "#ff7f0e" lw 2 pt 13 dt 2
set linetype 11 lc rgb "#e377c2" lw 2 pt 13 dt 2
set linetype 12 lc rgb "#8c564b" lw 2 pt 13 dt 2
set key below horizontal box font ",9" width 1

set multiplot layout 1,2 title "shmkit bench\\_ipc: one-way latency p50 (half a ping-pong round trip); lower is better"
set title "cross-core (cpu0 <-> cpu1)"
plot for [i=1:words(names)] prefix.'-cross.dat' index word(names, i) using 1:2 \
     with linespoints lw 2 lt i ps 0.8 title word(names, i)
set title "same core (both on cpu0): spinning waits for the scheduler"
plot for [i=1:words(names)] prefix.'-same.dat' index word(names, i) using 1:2 \
     with linespoints lw 2 lt i ps 0.8 title word(names, i)
unset multiplot
