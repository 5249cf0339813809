#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fsbench: the same workloads on iomapfs (in any of its modes), kernel ext4,
# fuse2fs and the null FUSE daemon (tools/nullfs.c) over one loop device, so
# figures can be compared and reproduced.  Prints a markdown table of
# medians over rounds and each system's ratio against one or more
# references (ext4).  Root; takes about 3 minutes per system and round with
# the defaults; runs unattended and leaves no mount or loop device behind.
# Not part of the test command.  See --help; tools/fsbench-all.sh runs the
# data-path comparison in one go.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	cat <<'EOF'
Usage: tools/fsbench.sh [options]

Runs each workload on each system, over one loop device backed by a fully
written image file (O_DIRECT loop), mkfs'ing before every system and round,
rotating the order of systems every round.

Options (defaults in brackets):
  --systems "LIST"    any of: iomapfs ext4 fuse2fs nullfs, and iomapfs:OPTS
                      for iomapfs mounted with -o OPTS (e.g.
                      iomapfs:kernel_cache)               [iomapfs ext4 fuse2fs]
  --workloads "LIST"  any of: seqwr seqrd seqrdw randrd randwr odirect meta
                      fsync                     [all but seqrdw]
  --rounds N          rounds; cells are medians over rounds                [1]
  --image FILE        backing image                 [/var/tmp/fsbench/fsbench.img]
  --image-size SIZE   image size                                           [4G]
  --seq-size SIZE     sequential file size                                 [1g]
  --rand-size SIZE    random-I/O file size                                 [256m]
  --runtime SEC       time-based workloads' runtime                        [10]
  --nfiles N          files created, stat'ed and removed by "meta"         [10000]
  --nfsync N          appends + fsync by "fsync"                           [2000]
  --iomapfs-opts OPTS extra -o options for every iomapfs system            []
  --reference "LIST"  a ratio table against each of these systems          [ext4]
  --out DIR           results              [/var/tmp/fsbench/run-DATE-TIME]
  --bin DIR           iomapfs programs     [$IOMAPFS_BIN or build/bin]
  -h, --help          this text

Workloads (fio with the psync engine unless noted; figures in results.tsv):
  seqwr    write a new file, 1 MiB blocks, buffered, fsync at the end   MiB/s
  seqrd    remount (empties every cache, also the daemon's), drop the
           kernel caches, read that file with 1 MiB blocks              MiB/s
  seqrdw   read the random-I/O file with 1 MiB blocks after reading it
           once (warm cache)                                            MiB/s
  randrd   4 KiB random reads at queue depth 1 from a file read once
           before (warm cache), 1 and 2 jobs                    IOPS, p50/p99 us
  randwr   4 KiB random buffered writes into that file, fsync at the end IOPS
  odirect  4 KiB O_DIRECT random reads, io_uring, iodepth 16            IOPS
  meta     create, stat and unlink N empty files in one directory       ops/s
  fsync    4 KiB append + fsync, N times                      fsync p50/p99 us

nullfs serves one file from memory (tools/nullfs.c, in --bin): it runs
randrd, randwr and seqrdw, the floor for anything answered through FUSE;
the other workloads show "-" for it.

Example: tools/fsbench.sh --rounds 3 --systems "iomapfs ext4" \
                          --iomapfs-opts offload=thread
EOF
}

die() { echo "fsbench: $*" >&2; exit 1; }

base=/var/tmp/fsbench
systems="iomapfs ext4 fuse2fs"
workloads="seqwr seqrd randrd randwr odirect meta fsync"
rounds=1 img=$base/fsbench.img img_size=4G seq_size=1g rand_size=256m
runtime=10 nfiles=10000 nfsync=2000 iomapfs_opts="" reference=ext4 out=""
bin=${IOMAPFS_BIN:-$top/build/bin}
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--systems) systems=$2 ;;
	--workloads) workloads=$2 ;;
	--rounds) rounds=$2 ;;
	--image) img=$2 ;;
	--image-size) img_size=$2 ;;
	--seq-size) seq_size=$2 ;;
	--rand-size) rand_size=$2 ;;
	--runtime) runtime=$2 ;;
	--nfiles) nfiles=$2 ;;
	--nfsync) nfsync=$2 ;;
	--iomapfs-opts) iomapfs_opts=$2 ;;
	--reference) reference=$2 ;;
	--out) out=$2 ;;
	--bin) bin=$2 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	[ $# -ge 2 ] || die "$1 needs a value"
	shift 2
done

[ "$(id -u)" -eq 0 ] || die "must run as root (loop devices, mounts)"
for c in fio losetup mountpoint python3 timeout; do
	command -v $c >/dev/null || die "missing $c (tools/install-deps.sh installs it)"
done
for s in $systems; do
	case ${s%%:*} in
	nullfs) [ -x "$bin/nullfs" ] || die "no nullfs in $bin (build first, or --bin)" ;;
	iomapfs) [ -x "$bin/iomapfs" ] && [ -x "$bin/mkfs.iomapfs" ] ||
			die "no iomapfs programs in $bin (build first, or --bin)" ;;
	ext4) command -v mkfs.ext4 >/dev/null || die "missing mkfs.ext4" ;;
	fuse2fs) command -v fuse2fs >/dev/null || die "missing fuse2fs (apt-get install fuse2fs)" ;;
	*) die "unknown system $s" ;;
	esac
done
for w in $workloads; do
	case " seqwr seqrd seqrdw randrd randwr odirect meta fsync " in
	*" $w "*) ;; *) die "unknown workload $w" ;; esac
done

[ -n "$out" ] || out=$base/run-$(date +%Y%m%d-%H%M%S)
mnt=$base/mnt
mkdir -p "$out/raw" "$mnt" || die "cannot create $out"
log=$out/log.txt
tsv=$out/results.tsv
: >"$tsv"
say() { echo "[$(date +%T)] $*" | tee -a "$log" >&2; }

# ---- one loop device for every system ----
dev="" mounted=""
cleanup() {
	[ -n "$mounted" ] && fs_umount
	[ -n "$dev" ] && losetup -d "$dev"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

want=$(numfmt --from=iec "$img_size")
if [ ! -f "$img" ] || [ "$(stat -c %s "$img")" != "$want" ]; then
	say "writing $img ($img_size, fully allocated)"
	dd if=/dev/zero of="$img" bs=1M count=$((want >> 20)) oflag=direct status=none ||
		die "cannot write $img"
fi
dev=$(losetup --find --show --direct-io=on "$img") || die "losetup failed"
say "loop device $dev over $img"

# ---- systems ----
# $sys is a system name, "iomapfs:OPTS" for iomapfs with -o OPTS.
sys_opts() {
	local o=$iomapfs_opts
	[ "$sys" != "${sys#*:}" ] && o=${o:+$o,}${sys#*:}
	echo "$o"
}
fs_mkfs() {
	case ${sys%%:*} in
	iomapfs) "$bin/mkfs.iomapfs" -f "$dev" ;;
	ext4|fuse2fs) mkfs.ext4 -F -q -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$dev" ;;
	nullfs) ;;	# no device: its file lives in memory
	esac >>"$log" 2>&1
}
fs_mount() {
	local o
	o=$(sys_opts)
	case ${sys%%:*} in
	iomapfs) "$bin/iomapfs" "$dev" "$mnt" ${o:+-o "$o"} ;;
	ext4) mount -t ext4 "$dev" "$mnt" ;;
	fuse2fs) fuse2fs -o fakeroot "$dev" "$mnt" ;;
	nullfs) "$bin/nullfs" -o "name=$(basename "$(file rand)"),size=$null_size" "$mnt" ;;
	esac </dev/null >>"$log" 2>&1 || return 1
	for _ in $(seq 300); do
		mountpoint -q "$mnt" && { mounted=$sys; return 0; }
		sleep 0.1
	done
	return 1
}
# Unmount and wait until no process holds the device: a FUSE daemon writes
# back after the unmount, and the next mkfs must not race with it.
fs_umount() {
	case $mounted in
	ext4) umount "$mnt" ;;
	*) fusermount3 -u "$mnt" ;;
	esac >>"$log" 2>&1 || umount -l "$mnt"
	mounted=""
	for _ in $(seq 1200); do
		find /proc/[0-9]*/fd -lname "$dev" 2>/dev/null | grep -q . || return 0
		sleep 0.1
	done
	say "$dev still held after 120 s"
}

# ---- measurement helpers ----
record() { printf '%s\t%s\t%s\t%s\n' "$sys" "$round" "$1" "$2" >>"$tsv"; say "  $sys $1 = $2"; }
# fio NAME ARGS...: JSON into $raw/NAME.json; 0 on success
fio_run() {
	local name=$1; shift
	timeout 900 fio --output-format=json --output="$raw/$name.json" --name="$name" \
		--ioengine=psync "$@" >>"$log" 2>&1
}
# fio_get NAME EXPR: a figure from fio's JSON; EXPR sees job (the first job)
fio_get() {
	python3 - "$raw/$1.json" "$2" <<'EOF' 2>>"$log" || echo NA
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
def pct(side, key, p):
    return round(job[side][key]["percentile"]["%.6f" % p] / 1000.0, 1)
nj = int(job["job options"].get("numjobs", "1"))
secs = job["job_runtime"] / 1000.0 / nj	# summed over jobs with group_reporting
print(eval(sys.argv[2]))
EOF
}
file() { echo "$mnt/fsbench.$1"; }
rand_layout() {
	[ -f "$(file rand)" ] || fio_run layout --filename="$(file rand)" --rw=write --bs=1M \
		--size="$rand_size" --end_fsync=1
}

wl_seqwr() {
	rm -f "$(file seq)"
	fio_run seqwr --filename="$(file seq)" --rw=write --bs=1M --size="$seq_size" \
		--fallocate=none --end_fsync=1 &&
		record seqwr_MiBs "$(fio_get seqwr 'round(job["write"]["io_bytes"] / 2**20 / secs, 1)')"
}
wl_seqrd() {
	[ -f "$(file seq)" ] || fio_run seqlayout --filename="$(file seq)" --rw=write --bs=1M \
		--size="$seq_size" --end_fsync=1
	fs_umount
	echo 3 >/proc/sys/vm/drop_caches
	fs_mount || return 1
	fio_run seqrd --filename="$(file seq)" --rw=read --bs=1M --size="$seq_size" &&
		record seqrd_MiBs "$(fio_get seqrd 'round(job["read"]["io_bytes"] / 2**20 / secs, 1)')"
}
wl_seqrdw() {
	rand_layout || return 1
	cat "$(file rand)" >/dev/null
	fio_run seqrdw --filename="$(file rand)" --rw=read --bs=1M --size="$rand_size" \
		--time_based --runtime="$runtime" --invalidate=0 &&
		record seqrdw_MiBs "$(fio_get seqrdw 'round(job["read"]["io_bytes"] / 2**20 / secs, 1)')"
}
wl_randrd() {
	rand_layout || return 1
	for nj in 1 2; do
		cat "$(file rand)" >/dev/null
		fio_run rr$nj --filename="$(file rand)" --rw=randread --bs=4k --size="$rand_size" \
			--numjobs=$nj --group_reporting --time_based --runtime="$runtime" \
			--invalidate=0 --norandommap --randrepeat=0 || continue
		record rr${nj}_iops "$(fio_get rr$nj 'round(job["read"]["total_ios"] / secs)')"
		record rr${nj}_p50 "$(fio_get rr$nj 'pct("read", "clat_ns", 50)')"
		record rr${nj}_p99 "$(fio_get rr$nj 'pct("read", "clat_ns", 99)')"
	done
}
wl_randwr() {
	rand_layout || return 1
	fio_run randwr --filename="$(file rand)" --rw=randwrite --bs=4k --size="$rand_size" \
		--time_based --runtime="$runtime" --end_fsync=1 --invalidate=0 \
		--norandommap --randrepeat=0 &&
		record rw_iops "$(fio_get randwr 'round(job["write"]["total_ios"] / secs)')"
}
wl_odirect() {
	rand_layout || return 1
	if fio_run odirect --filename="$(file rand)" --rw=randread --bs=4k --size="$rand_size" \
		--direct=1 --ioengine=io_uring --iodepth=16 --time_based --runtime="$runtime" \
		--norandommap --randrepeat=0; then
		record odio_iops "$(fio_get odirect 'round(job["read"]["total_ios"] / secs)')"
	else
		say "  $sys does not accept O_DIRECT (see $log)"
	fi
}
wl_meta() {
	local d i t0 t1 t2 t3
	d=$(file meta)
	rm -rf "$d"; mkdir "$d" || return 1
	t0=$(date +%s%N)
	for ((i = 0; i < nfiles; i++)); do : >"$d/f.$i" || return 1; done
	t1=$(date +%s%N)
	for ((i = 0; i < nfiles; i++)); do [ -e "$d/f.$i" ] || return 1; done
	t2=$(date +%s%N)
	(cd "$d" && for ((i = 0; i < nfiles; i++)); do echo "f.$i"; done | xargs rm -f)
	t3=$(date +%s%N)
	rmdir "$d"
	record create_ops $((nfiles * 1000000000 / (t1 - t0)))
	record stat_ops $((nfiles * 1000000000 / (t2 - t1)))
	record unlink_ops $((nfiles * 1000000000 / (t3 - t2)))
}
wl_fsync() {
	rm -f "$(file fsync)"
	fio_run fsync --filename="$(file fsync)" --rw=write --bs=4k --size=$((nfsync * 4))k \
		--fsync=1 --fallocate=none || return 1
	record fsync_p50 "$(fio_get fsync 'pct("sync", "lat_ns", 50)')"
	record fsync_p99 "$(fio_get fsync 'pct("sync", "lat_ns", 99)')"
}

# ---- the run ----
{
	echo "# fsbench $(date -Is), kernel $(uname -r), $(fio --version), $(nproc) cpus"
	echo "# systems: $systems; workloads: $workloads; rounds $rounds"
	echo "# seq $seq_size, rand $rand_size, runtime ${runtime}s, nfiles $nfiles, nfsync $nfsync"
	echo "# iomapfs: $bin ${iomapfs_opts:+-o $iomapfs_opts}"
} >>"$log"
# nullfs's file: large enough for the random-I/O file, 1 GiB at least.
null_size=$(numfmt --from=iec "${rand_size^^}")
[ "$null_size" -ge $((1 << 30)) ] || null_size=$((1 << 30))
# Which workloads each kind of system runs.
sys_runs() {
	case ${sys%%:*} in
	nullfs) case " randrd randwr seqrdw " in *" $1 "*) return 0 ;; esac; return 1 ;;
	esac
	return 0
}
read -r -a list <<<"$systems"
n=${#list[@]}
for ((round = 1; round <= rounds; round++)); do
	for ((k = 0; k < n; k++)); do
		sys=${list[(k + round - 1) % n]}
		raw=$out/raw/r$round/$sys
		mkdir -p "$raw"
		say "round $round: $sys"
		fs_mkfs || { say "mkfs failed for $sys"; continue; }
		fs_mount || { say "mount failed for $sys"; continue; }
		for w in $workloads; do
			sys_runs "$w" || continue
			say " $sys: $w"
			wl_$w || say "  $sys: $w failed (see $log)"
		done
		fs_umount
	done
done

# ---- the report: medians over rounds, ratios against the reference ----
python3 - "$tsv" "$reference" "$systems" <<'EOF' | tee "$out/summary.md"
import statistics, sys
tsv, refs, systems = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
cols = [("seqwr_MiBs", "seq write MiB/s"), ("seqrd_MiBs", "seq read cold MiB/s"),
        ("seqrdw_MiBs", "seq read warm MiB/s"),
        ("rr1_iops", "rand read IOPS 1 job"), ("rr1_p50", "p50 us"), ("rr1_p99", "p99 us"),
        ("rr2_iops", "rand read IOPS 2 jobs"), ("rw_iops", "rand write IOPS"),
        ("odio_iops", "O_DIRECT read IOPS"), ("create_ops", "create/s"),
        ("stat_ops", "stat/s"), ("unlink_ops", "unlink/s"),
        ("fsync_p50", "fsync p50 us"), ("fsync_p99", "fsync p99 us")]
vals = {}
for line in open(tsv):
    s, r, m, v = line.rstrip("\n").split("\t")
    if v != "NA":
        vals.setdefault((s, m), []).append(float(v))
med = {k: statistics.median(v) for k, v in vals.items()}
used = [c for c in cols if any((s, c[0]) in med for s in systems)]
def fmt(v):
    return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 10 else "%.2f" % v
print("| system | " + " | ".join(h for _, h in used) + " |")
print("|---|" + "---:|" * len(used))
for s in systems:
    print("| %s | " % s + " | ".join(fmt(med[(s, m)]) if (s, m) in med else "-" for m, _ in used) + " |")
for ref in (r for r in refs if r in systems):
    print("\nRatio against %s (for the us columns lower is better):\n" % ref)
    print("| system / %s | " % ref + " | ".join(h for _, h in used) + " |")
    print("|---|" + "---:|" * len(used))
    for s in systems:
        if s == ref:
            continue
        row = []
        for m, _ in used:
            a, b = med.get((s, m)), med.get((ref, m))
            r = a / b if a is not None and b else None
            row.append("-" if r is None else "%.2f" % r if r >= 0.1 else "%.3g" % r)
        print("| %s | " % s + " | ".join(row) + " |")
print("\nMedians over rounds; raw figures in %s" % tsv)
EOF
