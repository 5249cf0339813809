#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The three offload modes side by side, in one run, on one image file.
# Root.  About 1 minute per round with the defaults.
#
#   tools/bench-offload.sh [--rounds 3] [--stream 512m] [--fsyncs 1000] [--out DIR]
#
# Per mode (offload=thread, delayed, adaptive), medians over the rounds:
#   fsync p50/p99   4 KiB append + fsync, one at a time (us): every fsync
#                   waits for an unwritten-extent conversion in a worker
#   wait d99        p99 deferral latency in that fsync run (us): every
#                   deferred completion there has a task waiting for it
#   ctxsw           context switches of the task workers (iomapfs-wq/N)
#                   during a drop-behind stream of STREAM bytes through a
#                   64 MiB cache, nobody waiting for its completions
#   batch           mean worker batch (bios) during that stream
#   defer p50/p99   deferral latency during that stream (us): nobody
#                   waits, so delayed and adaptive hold batches on purpose
# and the deferral-latency histogram of each mode's streams (all rounds):
# OUT/deferral-MODE.dat and .png, one per mode, OUT/deferral.png with
# the three together, and OUT/deferral-waited.png, the three modes' fsync
# runs (tools/plot-deferral.sh; needs gnuplot, else only the iomapfs-stat
# outputs OUT/stats-MODE-ROUND.txt and waited-MODE-ROUND.txt are left).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${IOMAPFS_BIN:-$top/build/bin}
rounds=3 stream=512m fsyncs=1000 out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) rounds=$2; shift 2 ;;
	--stream) stream=$2; shift 2 ;;
	--fsyncs) fsyncs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,23p' "$0"; exit 0 ;;
	*) echo "bench-offload: unknown argument $1" >&2; exit 2 ;;
	esac
done
out=${out:-/var/tmp/iomapfs-bench-offload/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
img="$out/bench.img" mnt="$out/mnt"
mkdir -p "$mnt"

wait_daemon() { [ -e "$img" ] && flock -w 120 "$img" true || true; }
cleanup() {
	mountpoint -q "$mnt" && { timeout 120 fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"; }
	wait_daemon
	rm -f "$img"
}
trap cleanup EXIT

do_mount() {
	"$bin/iomapfs" "$img" "$mnt" -o "$1"
	timeout 30 bash -c "until mountpoint -q '$mnt'; do sleep 0.1; done"
}
do_umount() { timeout 120 fusermount3 -u "$mnt"; wait_daemon; }
fresh() {
	truncate -s 0 "$img"; truncate -s 4g "$img"
	"$bin/mkfs.iomapfs" -f "$img" >/dev/null
}
stat_val() { "$bin/iomapfs-stat" "$mnt" --once | awk -v k="$1" '$1==k {print $2}'; }
daemon_pid() { pgrep -n -f "^$bin/iomapfs $img " ; }
worker_ctxsw() {	# context switches of the daemon's iomapfs-wq/N threads
	local pid=$1 t sum=0 v n
	for t in /proc/"$pid"/task/*; do
		case "$(cat "$t/comm" 2>/dev/null)" in iomapfs-wq/*) ;; *) continue ;; esac
		for n in $(awk '/ctxt_switches/ { print $2 }' "$t/status"); do
			sum=$((sum + n))
		done
	done
	echo "$sum"
}

fsync_lat() {	# prints "p50 p99" in microseconds
	python3 - "$mnt/appends" "$fsyncs" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
buf = os.urandom(4096)
lat = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter_ns()
    os.write(fd, buf)
    os.fsync(fd)
    lat.append(time.perf_counter_ns() - t)
lat.sort()
print(lat[len(lat) // 2] // 1000, lat[len(lat) * 99 // 100] // 1000)
PY
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A R
for ((r = 0; r < rounds; r++)); do
	for mode in thread delayed adaptive; do
		fresh; do_mount "offload=$mode"
		res=$(fsync_lat)
		read -r p50 p99 <<<"$res"
		R[$mode,fsync50]+="$p50 " R[$mode,fsync99]+="$p99 "
		R[$mode,w99]+="$(stat_val defer_lat_p99_us) "
		"$bin/iomapfs-stat" "$mnt" --once > "$out/waited-$mode-$r.txt"
		do_umount

		fresh; do_mount "offload=$mode,dontcache,cache_size=64m"
		pid=$(daemon_pid)
		c0=$(worker_ctxsw "$pid")
		dd if=/dev/zero of="$mnt/stream" bs=1M count=$(( $(numfmt --from=iec "${stream^^}") >> 20 )) status=none
		c1=$(worker_ctxsw "$pid")
		R[$mode,ctxsw]+="$((c1 - c0)) "
		# Two decimals: the counter's rounded mean hides 1.1 against 1.7.
		R[$mode,batch]+="$(awk -v b="$(stat_val worker_batches)" -v n="$(stat_val worker_batch_bios)" \
			'BEGIN { printf "%.2f", b ? n / b : 0 }') "
		R[$mode,d50]+="$(stat_val defer_lat_p50_us) "
		R[$mode,d99]+="$(stat_val defer_lat_p99_us) "
		"$bin/iomapfs-stat" "$mnt" --once > "$out/stats-$mode-$r.txt"
		do_umount
	done
done

{
printf '%-10s %10s %10s %9s %8s %7s %10s %10s\n' mode "fsync p50" "fsync p99" "wait d99" ctxsw batch "defer p50" "defer p99"
for mode in thread delayed adaptive; do
	row=()
	for k in fsync50 fsync99 w99 ctxsw batch d50 d99; do
		row+=("$(echo "${R[$mode,$k]}" | tr ' ' '\n' | grep . | median)")
	done
	printf '%-10s %10s %10s %9s %8s %7s %10s %10s\n' "$mode" "${row[@]}"
done
echo "(medians of $rounds rounds; latencies in us; all values per round in $out/raw.txt)"
} | tee "$out/summary.txt"
for k in "${!R[@]}"; do echo "$k: ${R[$k]}"; done | sort > "$out/raw.txt"

if command -v gnuplot >/dev/null; then
	all=()
	for mode in thread delayed adaptive; do
		cat "$out"/stats-"$mode"-*.txt > "$out/stats-$mode-all.txt"
		all+=(--stats "$mode=$out/stats-$mode-all.txt")
		"$top/tools/plot-deferral.sh" --stats "$mode=$out/stats-$mode-all.txt" \
			--name "deferral-$mode" --out "$out" \
			--title "deferral latency, offload=$mode, drop-behind stream of $stream x $rounds"
	done
	"$top/tools/plot-deferral.sh" "${all[@]}" --name deferral --out "$out" \
		--title "deferral latency, drop-behind stream of $stream x $rounds"
	waited=()
	for mode in thread delayed adaptive; do
		cat "$out"/waited-"$mode"-*.txt > "$out/waited-$mode-all.txt"
		waited+=(--stats "$mode=$out/waited-$mode-all.txt")
	done
	"$top/tools/plot-deferral.sh" "${waited[@]}" --name deferral-waited --out "$out" \
		--title "deferral latency, $fsyncs appends + fsync x $rounds (each completion waited for)"
else
	echo "bench-offload: no gnuplot, no plots (tools/install-deps.sh installs gnuplot-nox)" >&2
fi
