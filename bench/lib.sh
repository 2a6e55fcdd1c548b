# Helpers the benchmark scripts share (sourced, not run).
# A free TCP port on 127.0.0.1.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Wall-clock milliseconds.
ms() { date +%s%3N; }
# The P-th percentile (0..1) of the numbers on stdin, nearest rank below.
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(p*(NR-1))+1; print a[i]}'; }
