# plot.gp: one-way latency (half a ping-pong round trip) against the
# payload size, from the data bench_ipc -p PREFIX writes. bench/run.sh calls
# it as
#   gnuplot -e "prefix='bench/results/latency'; out='docs/latency.png'" bench/plot.gp
# Four panels: p50 cross-core and same-core over every size (log-log), then
# a close-up of the small sizes cross-core (8 B .. 256 B), p50 and p99, for
# the spinning floor and the channels that wait by spinning. The close-up
# is where the channels' one-cache-line layout shows: a message of up to
# 56 B travels in one line with its 8-byte header, 64 B takes a second.
# Transports are picked by name (a block per transport, headed "# name");
# one that is missing from the data (peers not built) is skipped with a
# warning. Each transport keeps its style in every panel.
if (!exists("prefix")) prefix = 'bench/results/latency'
if (!exists("out")) out = 'docs/latency.png'
if (!exists("names")) names = "spin-line futex pipe posix-mq chan-spsc-spin chan-spsc-adaptive chan-spsc-blocking chan-mpmc-spin chan-mpmc-adaptive chan-bcast-spin chan-bcast-adaptive boost-mq iceoryx-poll iceoryx-waitset spin-ring"
# The close-up: positions in names (spin-line, spin-ring, chan-*-spin and
# chan-*-adaptive).
if (!exists("small")) small = "1 15 5 6 8 9 10 11"

set terminal pngcairo size 1500,1400 font ",10"
set output out
# Floors dark, shmkit's channels by kind (SPSC red, MPMC blue, broadcast
# green; spin solid, adaptive dashed, blocking squares), peers dashed.
set linetype 1 lc rgb "black" lw 2 pt 7
set linetype 2 lc rgb "#555555" lw 2 pt 5
set linetype 3 lc rgb "#a0a0a0" lw 2 pt 9
set linetype 4 lc rgb "#c8a000" lw 2 pt 11
set linetype 5 lc rgb "#d62728" lw 2 pt 7
set linetype 6 lc rgb "#d62728" lw 2 pt 6 dt 3
set linetype 7 lc rgb "#d62728" lw 2 pt 5 dt 4
set linetype 8 lc rgb "#1f77b4" lw 2 pt 7
set linetype 9 lc rgb "#1f77b4" lw 2 pt 6 dt 3
set linetype 10 lc rgb "#2ca02c" lw 2 pt 7
set linetype 11 lc rgb "#2ca02c" lw 2 pt 6 dt 3
set linetype 12 lc rgb "#ff7f0e" lw 2 pt 13 dt 2
set linetype 13 lc rgb "#e377c2" lw 2 pt 13 dt 2
set linetype 14 lc rgb "#8c564b" lw 2 pt 13 dt 2
set linetype 15 lc rgb "#9467bd" lw 2 pt 9
set grid xtics ytics mytics

set multiplot layout 2,2 title "shmkit bench\\_ipc: one-way latency (half a ping-pong round trip); lower is better"

# ---- every size, p50 ----
set logscale xy
set xrange [6:1400000]
set xtics ("8 B" 8, "64 B" 64, "256 B" 256, "4 KiB" 4096, "64 KiB" 65536, "1 MiB" 1048576)
set ytics ("10 ns" 10, "100 ns" 100, "1 us" 1e3, "10 us" 1e4, "100 us" 1e5, \
           "1 ms" 1e6, "10 ms" 1e7, "100 ms" 1e8)
set ylabel "p50 (log scale)"
set key top left box font ",8" width 1 maxrows 8
set title "p50, cross-core (cpu0 <-> cpu1)"
plot for [i=1:words(names)] prefix.'-cross.dat' index word(names, i) using 1:2 \
     with linespoints lw 2 lt i ps 0.8 title word(names, i)
set title "p50, same core (both on cpu0): spinning waits for the scheduler"
plot for [i=1:words(names)] prefix.'-same.dat' index word(names, i) using 1:2 \
     with linespoints lw 2 lt i ps 0.8 title word(names, i)

# ---- close-up of the small sizes, cross-core ----
set xrange [7:300]
set xtics ("8" 8, "16" 16, "32" 32, "56" 56, "64" 64, "128" 128, "256" 256)
# 56 B and a channel's 8-byte header fill one cache line; 64 B need two
set arrow 1 from 60, graph 0 to 60, graph 1 nohead lw 3 lc rgb "#d0d0d0" back
set label 1 "one line | two lines " at 60, graph 0.97 right font ",8" tc rgb "#808080"
set key below horizontal box font ",8" width 1 maxrows 2
unset logscale y
set yrange [0:*]
set ytics auto format "%.0f ns"
set ylabel "p50 (linear)"
set title "small messages (bytes, log scale), p50, cross-core"
plot for [j=1:words(small)] prefix.'-cross.dat' \
     index word(names, int(word(small, j))) using 1:2 \
     with linespoints lw 2 lt int(word(small, j)) ps 1 \
     title word(names, int(word(small, j)))
set logscale y
set yrange [*:*]
set ytics ("100 ns" 100, "300 ns" 300, "1 us" 1e3, "3 us" 3e3, "10 us" 1e4, \
           "30 us" 3e4, "100 us" 1e5)
set ylabel "p99 (log scale)"
set title "small messages (bytes, log scale), p99, cross-core"
plot for [j=1:words(small)] prefix.'-cross.dat' \
     index word(names, int(word(small, j))) using 1:3 \
     with linespoints lw 2 lt int(word(small, j)) ps 1 \
     title word(names, int(word(small, j)))
unset multiplot
