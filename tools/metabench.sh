#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Metadata rates of iomapfs next to kernel ext4 on the same loop device, one
# after the other: create, stat, readdir and unlink of FILES empty files per
# process for 1, 2 and 4 processes (tools/metabench.c), then an `ls -lR`
# walk of a copy of /usr/include.  Root.  Prints one table.  The system
# "nullmeta" is the FUSE floor (tools/nullmeta.c: names in memory, the
# same requests per operation as iomapfs); it has no walk.
#
#   tools/metabench.sh [--files N] [--procs "1 2 4"] [--size 4g] [--slice N]
#                      [--iomapfs-opts OPTS] [--fs "iomapfs ext4 nullmeta"]
#                      [--out DIR]
#
# --slice N also prints the rate of every N names as the phases go (the
# "slice" lines): a million entries in one directory, flat or not, is
#   tools/metabench.sh --files 1000000 --procs 1 --slice 100000 --size 8g
#
# A benchmark, not a test: figures vary with the machine; compare columns of
# one run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${IOMAPFS_BIN:-$top/build/bin}
files=20000 procs="1 2 4" size=4g opts="" systems="iomapfs ext4" out="" slice=0
while [ $# -gt 0 ]; do
	case "$1" in
	--files) files=$2; shift 2 ;;
	--procs) procs=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--slice) slice=$2; shift 2 ;;
	--iomapfs-opts) opts=$2; shift 2 ;;
	--fs) systems=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h|--help) sed -n '2,19p' "$0"; exit 0 ;;
	*) echo "metabench: unknown argument $1" >&2; exit 2 ;;
	esac
done
out=${out:-/var/tmp/iomapfs-metabench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out/mnt"
img=$out/dev.img mnt=$out/mnt loop=""

cleanup() {
	if mountpoint -q "$mnt"; then
		timeout 120 umount "$mnt" || umount -l "$mnt"
	fi
	[ -n "$loop" ] && { flock -w 60 "$loop" true; losetup -d "$loop"; } || true
	rm -f "$img"
}
trap cleanup EXIT
truncate -s "$size" "$img"
loop=$(losetup --direct-io=on -f --show "$img")

mount_fs() {
	case "$1" in
	iomapfs)
		"$bin/mkfs.iomapfs" -f "$loop" >/dev/null
		"$bin/iomapfs" "$loop" "$mnt" ${opts:+-o "$opts"}
		timeout 30 bash -c "until mountpoint -q '$mnt'; do sleep 0.1; done" ;;
	ext4)
		# Inodes for the largest run and the walk: mkfs's default (one
		# per 16 KiB) runs out at 4 x 100,000 files on 4 GiB.
		local maxp=$(tr ' ' '\n' <<< "$procs" | sort -n | tail -1)
		mkfs.ext4 -q -F -N $((files * maxp + 50000)) "$loop"
		mount "$loop" "$mnt" ;;
	nullmeta)
		"$bin/nullmeta" "$mnt"
		timeout 30 bash -c "until mountpoint -q '$mnt'; do sleep 0.1; done" ;;
	*) echo "metabench: unknown filesystem $1" >&2; exit 2 ;;
	esac
}
umount_fs() {
	timeout 120 umount "$mnt"
	flock -w 120 "$loop" true	# the daemon holds the device until it exits
}

declare -A rate
for fs in $systems; do
	mount_fs "$fs"
	for p in $procs; do
		sync; echo 3 > /proc/sys/vm/drop_caches
		while read -r phase _ _ _ _ r; do
			[ "$phase" = slice ] || rate[$fs,$phase,$p]=${r#rate=}
		done < <("$bin/metabench" -n "$files" -p "$p" -s "$slice" "$mnt" |
			 tee -a "$out/$fs.log" | tee >(grep '^slice' >&2))
	done
	if [ "$fs" = nullmeta ]; then umount_fs; continue; fi
	cp -a /usr/include "$mnt/include"
	umount_fs
	case "$fs" in
	iomapfs) "$bin/iomapfs" "$loop" "$mnt" ${opts:+-o "$opts"}
		 timeout 30 bash -c "until mountpoint -q '$mnt'; do sleep 0.1; done" ;;
	ext4) mount "$loop" "$mnt" ;;
	esac
	while read -r _ round _ _ r; do
		rate[$fs,walk${round#round=}]=${r#rate=}
	done < <("$bin/metabench" -w "$mnt/include" -r 2 | tee -a "$out/$fs.log")
	umount_fs
done

read -r fs1 fs2 _ <<<"$systems"
printf '%-22s' "per second"; for fs in $systems; do printf '%12s' "$fs"; done
[ -n "${fs2:-}" ] && printf '%16s' "$fs1/$fs2"; echo
row() {	# $1 label, $2 key
	printf '%-22s' "$1"
	for fs in $systems; do printf '%12s' "${rate[$fs,$2]:--}"; done
	[ -n "${fs2:-}" ] && awk -v a="${rate[$fs1,$2]:-0}" -v b="${rate[$fs2,$2]:-0}" \
		'BEGIN { if (a > 0 && b > 0) printf "%16.2f", a / b; else printf "%16s", "-" }'
	echo
}
for phase in create stat readdir unlink; do
	for p in $procs; do row "$phase, $p proc" "$phase,$p"; done
done
row "ls -lR cold" walk1
row "ls -lR warm" walk2
echo "raw output: $out"
