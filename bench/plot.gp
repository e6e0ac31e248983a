# bench/run's plot: throughput of orderd and of the limit, and p99 latency,
# for each scenario / protocol / connection count of results.csv.
#   gnuplot -e "csv='results.csv'; png='plot.png'; subtitle='machine'" bench/plot.gp
set terminal pngcairo size 1400,900 font "sans,10"
set output png
set datafile separator ","
set key autotitle columnhead top right
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set xtics rotate by -35 left
label(s, p, c) = sprintf("%s %s %s", s, p, c)

set multiplot layout 2,1 title "orderd vs bench/limit\n".subtitle
set title "throughput"
set ylabel "req/s"
set yrange [0:*]
plot csv using 4:xtic(label(stringcolumn(1), stringcolumn(2), stringcolumn(3))) title "orderd" lc rgb "#1f77b4", \
     ""  using 8 title "limit" lc rgb "#bbbbbb"

set title "p99 latency (target at 64 connections: <= 2 ms)"
set ylabel "ms"
plot csv using 6:xtic(label(stringcolumn(1), stringcolumn(2), stringcolumn(3))) title "orderd p99" lc rgb "#d62728", \
     ""  using 10 title "limit p99" lc rgb "#bbbbbb", \
     2 with lines dt 2 lc rgb "black" title "2 ms"
unset multiplot
