set terminal pngcairo size 900,560 noenhanced font ",10"
set grid
set key top left box opaque
cd '/work/main/scripts/bench/results'
set output 'throughput_reads.png'
set title 'Reads: throughput vs concurrency (1 node)'
set logscale x 2
set xlabel 'requests in flight (connections x in-flight each)'
set ylabel 'requests/s (median of rounds)'
set yrange [0:*]
unset logscale y
plot 'tput_get_meshkv-1.dat' using 1:2 with linespoints lw 2.5 dt 1 title 'meshkv Get, 1 node', 'tput_get_baseline.dat' using 1:2 with linespoints lw 1.5 dt 3 title 'no-op gRPC Get (ceiling)', 'tput_get_etcd-1.dat' using 1:2 with linespoints lw 1.5 dt 2 title 'etcd serializable Range, 1 member'
set output 'throughput_writes.png'
set title 'Writes: throughput vs concurrency'
set logscale x 2
set xlabel 'requests in flight (connections x in-flight each)'
set ylabel 'requests/s (median of rounds)'
set yrange [0:*]
unset logscale y
plot 'tput_set_meshkv-1.dat' using 1:2 with linespoints lw 2.5 dt 1 title 'meshkv Set, 1 node', 'tput_set3_meshkv-3.dat' using 1:2 with linespoints lw 2.5 dt 1 title 'meshkv Set, 3 nodes', 'tput_set_etcd-1.dat' using 1:2 with linespoints lw 1.5 dt 2 title 'etcd Put, 1 member', 'tput_set_etcd-1-nofsync.dat' using 1:2 with linespoints lw 1.5 dt 2 title 'etcd Put, 1 member, no fsync', 'tput_set3_etcd-3.dat' using 1:2 with linespoints lw 1.5 dt 2 title 'etcd Put, 3 members', 'tput_set3_etcd-3-nofsync.dat' using 1:2 with linespoints lw 1.5 dt 2 title 'etcd Put, 3 members, no fsync'
set output 'latency_reads.png'
set title 'Read latency, closed loop, 64 in flight'
set logscale x 10
set logscale y 10
set xlabel 'percentile'
set ylabel 'latency (ms)'
set yrange [*:*]
set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)
plot 'lat_get_64_meshkv-1_result.dat' using 3:2 with lines lw 2.5 dt 1 title 'meshkv Get', 'lat_get_64_baseline_result.dat' using 3:2 with lines lw 1.5 dt 3 title 'no-op Get', 'lat_get_64_etcd-1_result.dat' using 3:2 with lines lw 1.5 dt 2 title 'etcd Range'
unset xtics
set xtics
set output 'latency_reads_rate.png'
set title 'Read latency at 4000 req/s (open loop)'
set logscale x 10
set logscale y 10
set xlabel 'percentile'
set ylabel 'latency (ms)'
set yrange [*:*]
set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)
plot 'lat_get-rate_4000_meshkv-1_result.dat' using 3:2 with lines lw 2.5 dt 1 title 'meshkv Get', 'lat_get-rate_4000_baseline_result.dat' using 3:2 with lines lw 1.5 dt 3 title 'no-op Get', 'lat_get-rate_4000_etcd-1_result.dat' using 3:2 with lines lw 1.5 dt 2 title 'etcd Range'
unset xtics
set xtics
set output 'latency_writes.png'
set title 'Write latency, 3 nodes, 64 in flight'
set logscale x 10
set logscale y 10
set xlabel 'percentile'
set ylabel 'latency (ms)'
set yrange [*:*]
set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)
plot 'lat_set3_64_meshkv-3_result.dat' using 3:2 with lines lw 2.5 dt 1 title 'meshkv Set, 3 nodes', 'lat_set3_64_etcd-3_result.dat' using 3:2 with lines lw 1.5 dt 2 title 'etcd Put, 3 members', 'lat_set3_64_etcd-3-nofsync_result.dat' using 3:2 with lines lw 1.5 dt 2 title 'etcd Put, 3 members, no fsync'
unset xtics
set xtics
set output 'latency_watch.png'
set title 'Set-to-watch-event latency across 3 nodes at 1000 sets/s'
set logscale x 10
set logscale y 10
set xlabel 'percentile'
set ylabel 'latency (ms)'
set yrange [*:*]
set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000)
plot 'lat_watch3_meshkv-3_watch.dat' using 3:2 with lines lw 2.5 dt 1 title 'meshkv', 'lat_watch3_etcd-3_watch.dat' using 3:2 with lines lw 1.5 dt 2 title 'etcd', 'lat_watch3_etcd-3-nofsync_watch.dat' using 3:2 with lines lw 1.5 dt 2 title 'etcd, no fsync'
unset xtics
set xtics
