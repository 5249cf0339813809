#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job, end to end, on a fresh Debian machine (run as root):
# install what is missing, build, create an image file, mkfs, mount it in a
# temporary directory, run a real workload (copy a source tree in and verify
# it, stream a large file with fsync and read it back), print the stats,
# unmount, fsck.  Everything it made is removed on every exit path.
#
#   sudo tools/demo.sh [--size 4G] [--stream 1G] [-o mount-options]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
size=4G stream=1G opts=""
while [ $# -gt 0 ]; do
	case "$1" in
	--size) size=$2; shift 2 ;;
	--stream) stream=$2; shift 2 ;;
	-o) opts=$2; shift 2 ;;
	-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
	*) echo "demo: unknown argument $1" >&2; exit 2 ;;
	esac
done

"$top/tools/install-deps.sh"
"$top/tools/build.sh" build
bin="$top/build/bin"

work=$(mktemp -d /var/tmp/iomapfs-demo.XXXXXX)
img="$work/iomapfs.img" mnt="$work/mnt"
mkdir -p "$mnt"
cleanup() {
	if mountpoint -q "$mnt"; then
		timeout 60 fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt" || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "mkfs.iomapfs on a $size image file"
truncate -s "$size" "$img"
"$bin/mkfs.iomapfs" -L demo "$img"

step "mount"
"$bin/iomapfs" "$img" "$mnt" ${opts:+-o "$opts"}
timeout 30 bash -c "until mountpoint -q '$mnt'; do sleep 0.1; done"
df -h "$mnt"

step "copy a source tree in and verify it"
src=/usr/include
t0=$(date +%s.%N)
cp -a "$src" "$mnt/tree"
(cd "$src" && find . -type f -print0 | sort -z | xargs -0 sha256sum) > "$work/src.sum"
(cd "$mnt/tree" && sha256sum --quiet -c "$work/src.sum")
t1=$(date +%s.%N)
printf 'copied and verified %s files (%s) in %.1f s\n' \
	"$(wc -l < "$work/src.sum")" "$(du -sh "$src" | cut -f1)" "$(echo "$t1 - $t0" | bc)"

step "stream $stream with fsync, then read it back"
dd if=/dev/urandom of="$work/chunk" bs=1M count=64 status=none
count=$(( $(numfmt --from=iec "$stream") / (64 << 20) ))
want=$(for _ in $(seq "$count"); do cat "$work/chunk"; done | sha256sum | cut -d' ' -f1)
t0=$(date +%s.%N)
for _ in $(seq "$count"); do cat "$work/chunk"; done |
	dd of="$mnt/stream" bs=1M iflag=fullblock conv=fsync status=none
t1=$(date +%s.%N)
dd if="$mnt/stream" of=/dev/null bs=1M status=none
t2=$(date +%s.%N)
got=$(sha256sum < "$mnt/stream" | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "stream: checksum mismatch" >&2; exit 1; }
mib=$((count * 64))
printf 'wrote %d MiB with fsync: %.0f MiB/s; read back: %.0f MiB/s; sha256 verified\n' \
	"$mib" "$(echo "$mib / ($t1 - $t0)" | bc -l)" "$(echo "$mib / ($t2 - $t1)" | bc -l)"

step "stats (iomapfs-stat --once)"
"$bin/iomapfs-stat" "$mnt" --once

step "unmount and fsck"
timeout 120 fusermount3 -u "$mnt"
# The daemon holds an exclusive flock on the image until it has written
# everything back and exited: taking the lock is the wait.
flock -w 120 "$img" true
"$bin/fsck.iomapfs" -n "$img"
echo "demo: OK"
