#!/usr/bin/env bash
# Peak memory of `esdb store append` against the volume appended (docs/BENCHMARKS.md, "Live
# store"): appends the first LINES lines of an activity dataset to a new store and prints the
# wall time, the peak RSS, the peak anonymous RSS (sampled from /proc every 50 ms) and the
# partitions it ends with.
#
#   cargo build --release -p esdb-tools
#   cargo xtask gen activity --events 7200000 -o /tmp/activity.jsonl
#   benches/store_rss.sh /tmp/activity.jsonl 356000   # ~100 MB; 1424000 ~400 MB; 7200000 ~2 GB
set -euo pipefail
input=$1
lines=$2
esdb=${ESDB:-target/release/esdb}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n "$lines" "$input" > "$work/in.jsonl"
start=$(date +%s.%N)
"$esdb" store append "$work/store" --space customer --timestamp timestamp --index type \
    --durability buffered < "$work/in.jsonl" > /dev/null &
pid=$!
peak_anon=0
peak_rss=0
while kill -0 "$pid" 2> /dev/null; do
    anon=$(awk '/RssAnon/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
    if [[ -n $anon && $anon -gt $peak_anon ]]; then peak_anon=$anon; fi
    if [[ -n $rss ]]; then peak_rss=$rss; fi
    sleep 0.05
done
wait "$pid"
end=$(date +%s.%N)
bytes=$(stat -c %s "$work/in.jsonl")
partitions=$("$esdb" store info "$work/store" | grep '^partitions')
echo "$lines lines ($bytes bytes): $(echo "$end - $start" | bc) s, peak RSS $peak_rss KB, peak anonymous RSS $peak_anon KB; $partitions"
