#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# iomapfs benchmark on one image file, next to fio on the same file without
# a filesystem.  Prints a table; raw fio output goes to OUT (default
# /var/tmp/iomapfs-bench/<date>).  Root.  About 3 minutes with defaults.
#
#   tools/bench.sh [--size 1g] [--image-size 4g] [--runtime 10] [--out DIR]
#
# Rows:
#   seqwr    1M buffered sequential write of SIZE, end_fsync     MiB/s
#   seqrd    1M sequential read of it after a remount (cold)     MiB/s
#   randrd   4k random reads, QD1, file already in the cache     IOPS
#   defer    drop-behind stream: deferral latency p50/p99 (us) and mean
#            worker batch, for offload=delayed and offload=thread
# The "raw file" column runs the same fio job on the image file itself
# (O_DIRECT, io_uring): the ceiling the device gives.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${IOMAPFS_BIN:-$top/build/bin}
size=1g imgsize=4g runtime=10 out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--size) size=$2; shift 2 ;;
	--image-size) imgsize=$2; shift 2 ;;
	--runtime) runtime=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
out=${out:-/var/tmp/iomapfs-bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
img="$out/bench.img" mnt="$out/mnt"
mkdir -p "$mnt"

cleanup() {
	mountpoint -q "$mnt" && { timeout 120 fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"; }
	wait_daemon
	rm -f "$img"
}
# The daemon holds an exclusive flock on the image until it has exited.
wait_daemon() { [ -e "$img" ] && flock -w 120 "$img" true || true; }
trap cleanup EXIT

do_mount() {
	"$bin/iomapfs" "$img" "$mnt" ${1:+-o "$1"}
	timeout 30 bash -c "until mountpoint -q '$mnt'; do sleep 0.1; done"
}
do_umount() { timeout 120 fusermount3 -u "$mnt"; wait_daemon; }
fresh() {
	truncate -s 0 "$img"; truncate -s "$imgsize" "$img"
	"$bin/mkfs.iomapfs" -f "$img" >/dev/null
}
jq_fio() {	# $1 = json, $2 = read|write, $3 = bw|iops
	python3 -c "import json,sys; j=json.load(open('$1'))['jobs'][0]['$2']; \
v=j['bw']/1024 if '$3'=='bw' else j['iops']; print(f'{v:.0f}')"
}
stat_val() { "$bin/iomapfs-stat" "$mnt" --once | awk -v k="$1" '$1==k {print $2}'; }

fio_common=(--output-format=json --group_reporting --numjobs=1)
declare -A R

# --- iomapfs ---
fresh; do_mount ""
fio --name=seqwr --filename="$mnt/seq" --rw=write --bs=1M --size="$size" \
	--end_fsync=1 "${fio_common[@]}" > "$out/fs-seqwr.json"
R[fs_seqwr]=$(jq_fio "$out/fs-seqwr.json" write bw)
do_umount; do_mount ""
fio --name=seqrd --filename="$mnt/seq" --rw=read --bs=1M --size="$size" \
	"${fio_common[@]}" > "$out/fs-seqrd.json"
R[fs_seqrd]=$(jq_fio "$out/fs-seqrd.json" read bw)
fio --name=warm --filename="$mnt/rand" --rw=write --bs=1M --size=256m "${fio_common[@]}" >/dev/null
cat "$mnt/rand" > /dev/null
fio --name=randrd --filename="$mnt/rand" --rw=randread --bs=4k --size=256m \
	--time_based --runtime="$runtime" "${fio_common[@]}" > "$out/fs-randrd.json"
R[fs_randrd]=$(jq_fio "$out/fs-randrd.json" read iops)
do_umount

# --- deferral latency per offload mode: a drop-behind stream ---
for mode in delayed thread; do
	fresh; do_mount "offload=$mode,dontcache,cache_size=64m"
	fio --name=dontcache --filename="$mnt/dc" --rw=write --bs=1M --size="$size" \
		--end_fsync=1 "${fio_common[@]}" > "$out/defer-$mode.json"
	R[${mode}_bw]=$(jq_fio "$out/defer-$mode.json" write bw)
	R[${mode}_p50]=$(stat_val defer_lat_p50_us)
	R[${mode}_p99]=$(stat_val defer_lat_p99_us)
	R[${mode}_batch]=$(stat_val worker_batch_mean)
	"$bin/iomapfs-stat" "$mnt" --once > "$out/stats-$mode.txt"
	do_umount
done

# --- the raw image file ---
truncate -s 0 "$img"; truncate -s "$imgsize" "$img"
raw=(--filename="$img" --direct=1 --ioengine=io_uring)
fio --name=seqwr "${raw[@]}" --rw=write --bs=1M --size="$size" --iodepth=8 \
	--end_fsync=1 "${fio_common[@]}" > "$out/raw-seqwr.json"
R[raw_seqwr]=$(jq_fio "$out/raw-seqwr.json" write bw)
fio --name=seqrd "${raw[@]}" --rw=read --bs=1M --size="$size" --iodepth=8 \
	"${fio_common[@]}" > "$out/raw-seqrd.json"
R[raw_seqrd]=$(jq_fio "$out/raw-seqrd.json" read bw)
fio --name=randrd "${raw[@]}" --rw=randread --bs=4k --size=256m --iodepth=1 \
	--time_based --runtime="$runtime" "${fio_common[@]}" > "$out/raw-randrd.json"
R[raw_randrd]=$(jq_fio "$out/raw-randrd.json" read iops)

{
printf '%-34s %12s %12s\n' "workload" "iomapfs" "raw file"
printf '%-34s %12s %12s\n' "seq write 1M + fsync (MiB/s)" "${R[fs_seqwr]}" "${R[raw_seqwr]}"
printf '%-34s %12s %12s\n' "seq read 1M, cold (MiB/s)" "${R[fs_seqrd]}" "${R[raw_seqrd]}"
printf '%-34s %12s %12s\n' "4k rand read QD1 (IOPS)" "${R[fs_randrd]}" "${R[raw_randrd]}"
echo
printf '%-20s %10s %10s %10s %12s\n' "offload mode" "p50 us" "p99 us" "batch" "MiB/s"
for mode in delayed thread; do
	printf '%-20s %10s %10s %10s %12s\n' "$mode" "${R[${mode}_p50]}" \
		"${R[${mode}_p99]}" "${R[${mode}_batch]}" "${R[${mode}_bw]}"
done
} | tee "$out/summary.txt"
echo "raw results: $out"
