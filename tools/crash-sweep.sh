#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The full crash sweep (root; hours on two cores, not part of
# tools/run-tests.sh): every workload of tools/crashcheck.py, each with the
# normal commit policy and with commit=each_section, every crash state
# (every write boundary of every flush epoch) and 20 seeded random subsets
# of each epoch's writes:
#   fsx        10,000 operations on three pattern files
#   fsstress   fsstress-lite, 4 processes x 2,000 operations
#   fsx-lite   10,000 operations
#   reuse      12 rounds of a deleted file's blocks rewritten by another
#   ace-OP-file and ace-OP-dir for create, link, rename, truncate, punch,
#              falloc, setxattr, acl and chmodacl
#
#   tools/crash-sweep.sh [WORKDIR] [WORKLOAD...]
#
# Every state is checked in-process (tools/iomapfs-crashstate) and a
# seeded one in MOUNT_EVERY (200) also through a daemon mount, the two
# verdicts compared (docs/crash-model.md).
# FSX_OPS, FSSTRESS_OPS (per process), FSXLITE_OPS and REUSE_OPS scale a
# shorter sweep down; FSSTRESS_SIZE (256) is fsstress's image in MiB (the
# others use 32: 4 x 2,000 operations fill that); JOBS (2) is
# crashcheck.py's --jobs; MODES picks the commit policies ("normal
# each_section").  With RECORDED=1 a workload whose recording is already in
# WORKDIR (a log and an oracle from an earlier, interrupted sweep) is only
# checked again, not recorded again.
# Prints one summary line per run ("WORKLOAD MODE: N crash states, N
# consistent, N inconsistent") and exits 1 if any run found an
# inconsistent state; each run's report stays in WORKDIR/WORKLOAD.MODE.out.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/iomapfs-crash-sweep}
shift || true
: "${IOMAPFS_BIN:=$top/build/bin}"
export IOMAPFS_BIN

workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
	workloads=(fsx fsstress fsx-lite reuse)
	for op in create link rename truncate punch falloc setxattr acl chmodacl; do
		workloads+=("ace-$op-file" "ace-$op-dir")
	done
fi
ops_for() {
	case $1 in
	fsx) echo "${FSX_OPS:-10000}" ;;
	fsx-lite) echo "${FSXLITE_OPS:-10000}" ;;
	fsstress) echo "${FSSTRESS_OPS:-2000}" ;;
	reuse) echo "${REUSE_OPS:-12}" ;;
	*) echo 1 ;;
	esac
}
size_for() {
	case $1 in
	fsstress) echo "${FSSTRESS_SIZE:-256}" ;;
	*) echo 32 ;;
	esac
}

mkdir -p "$work"
fail=0
for wl in "${workloads[@]}"; do
	for mode in ${MODES:-normal each_section}; do
		extra=()
		[ $mode = each_section ] && extra=(--each-section)
		out=$work/$wl.$mode.out
		cmd=run
		[ "${RECORDED:-0}" = 1 ] && [ -s "$work/$wl.$mode/oracle.jsonl" ] && cmd=check
		t0=$SECONDS
		timeout -k 30 43200 python3 "$top/tools/crashcheck.py" $cmd "$wl" \
			-d "$work/$wl.$mode" --ops "$(ops_for "$wl")" --subsets 20 \
			--size "$(size_for "$wl")" --mount-every "${MOUNT_EVERY:-200}" \
			--seed 7 --jobs "${JOBS:-2}" "${extra[@]}" > "$out" 2>&1
		rc=$?
		echo "$wl $mode: $(tail -n 1 "$out") ($((SECONDS - t0)) s)"
		[ $rc -eq 0 ] || fail=1
		[ $rc -eq 0 ] && rm -rf "$work/$wl.$mode"
	done
done
exit $fail
