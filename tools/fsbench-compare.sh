#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the shared harness (../shared/bench/fsbench.sh) on iomapfs, kernel
# ext4 and fuse2fs over one loop device and print ratios against ext4.
# Root.  Takes ~15-30 minutes with the default 3 rounds; pass harness
# options through, e.g.  tools/fsbench-compare.sh --rounds 1 --workloads "seqwr seqrd"
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${IOMAPFS_BIN:-$top/build/bin}
harness=${FSBENCH:-$top/../shared/bench/fsbench.sh}
[ -x "$harness" ] || [ -f "$harness" ] || { echo "no harness at $harness (set FSBENCH)" >&2; exit 1; }
command -v fuse2fs >/dev/null || { apt-get install -y -qq fuse2fs >/dev/null; }
exec bash "$harness" "$@" --reference ext4 \
	--system ext4 --prepare 'mkfs.ext4 -F -q -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 {dev}' \
		--mount 'mount -t ext4 {dev} {mnt}' --umount 'umount {mnt}' \
	--system fuse2fs --prepare 'mkfs.ext4 -F -q -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 {dev}' \
		--mount 'fuse2fs -o fakeroot {dev} {mnt}' --umount 'fusermount3 -u {mnt}' \
	--system iomapfs --prepare "$bin/mkfs.iomapfs -f {dev}" \
		--mount "$bin/iomapfs {dev} {mnt}" --umount 'fusermount3 -u {mnt}'
