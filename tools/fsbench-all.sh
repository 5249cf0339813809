#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fsbench-all: the data-path comparison in one unattended run.  Every
# iomapfs mode that matters for the data path (the default, which is
# offload=adaptive, offload=thread, offload=delayed, kernel_cache), kernel ext4, fuse2fs and the null FUSE
# daemon (tools/nullfs.c, the floor for anything answered through FUSE),
# each over the same loop device, running the read/write rows:
#
#   randrd   4 KiB warm random reads, 1 and 2 jobs (IOPS, p50/p99 us)
#   randwr   4 KiB random buffered writes (IOPS)
#   seqrdw   1 MiB warm sequential reads (MiB/s)
#
# and printing one markdown table with ratios against the null daemon,
# fuse2fs and ext4.  It is tools/fsbench.sh with these systems, workloads
# and references; any other fsbench option is passed on (--rounds,
# --runtime, --workloads, --image, --out, --bin ...), e.g.
#
#   tools/fsbench-all.sh --rounds 3                  # a quiet machine
#   tools/fsbench-all.sh --runtime 3 --image-size 1G # a quick look
#
# Root.  About 7 systems x (3 workloads x runtime + setup) per round:
# ~6 minutes a round with the default 10 s runtime.  Not part of the test
# command.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

case "${1:-}" in
-h|--help) sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
exec "$top/tools/fsbench.sh" \
	--systems "nullfs iomapfs iomapfs:offload=thread iomapfs:offload=delayed iomapfs:kernel_cache ext4 fuse2fs" \
	--workloads "randrd randwr seqrdw" \
	--reference "nullfs fuse2fs ext4" \
	"$@" </dev/null
