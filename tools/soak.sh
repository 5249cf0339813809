#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Stress soak (not part of tools/run-tests.sh):
#
#	tools/soak.sh [--asan] DURATION [SEED]     e.g. tools/soak.sh 30m
#
# Rounds until DURATION (seconds, or with an m/h suffix) has passed, each
# on a fresh 1 GiB image: fsstress-lite (4 processes, 4,000 operations
# each, every fourth round on a 64 MiB image into ENOSPC) or fsx-lite
# (30,000 operations with fallocate), with the page cache cycling through
# 4 MiB, 16 MiB, 64 MiB, 256 MiB and 1 GiB and the completion offload mode
# cycling through delayed, thread and adaptive, each round the next one
# of each list (3, 4 and 5 long: a short soak still sees every mode and
# size, 60 rounds every combination).  Every exerciser runs under the
# hang detector of tests/common/watch (120 s without progress: every
# daemon thread's stack is logged, the round fails); fsck -n follows each
# round.  IOMAPFS_BIN picks the binaries (default build/bin).  --asan
# builds build-asan/ (ASan+UBSan, Debug) and runs its binaries instead:
# the daemon detaches from the terminal, so every sanitizer report (leaks
# at daemon exit included) goes to a file $SOAK_DIR/sanitizer.PID, and a
# round after which a new one appears fails.  The daemons log to
# $SOAK_DIR/daemon.log; ERROR and WARNING lines are counted.  Logs go to
# $SOAK_DIR (default /var/tmp/iomapfs-soak); the last lines are the
# figures: rounds, operations, hangs, exerciser failures, fsck failures,
# sanitizer reports, daemon errors.
# Run it under nice on a shared machine.  Everything it mounts is
# unmounted on every exit path.
set -o pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
asan=0
[ "$1" = --asan ] && { asan=1; shift; }
dur=${1:?usage: soak.sh [--asan] DURATION [SEED]}
seed=${2:-1}
case $dur in
*h) dur=$(( ${dur%h} * 3600 )) ;;
*m) dur=$(( ${dur%m} * 60 )) ;;
esac
SOAK_DIR=${SOAK_DIR:-/var/tmp/iomapfs-soak}
mkdir -p "$SOAK_DIR"
rm -f "$SOAK_DIR"/sanitizer.*
if [ $asan = 1 ]; then
	"$top/tools/build.sh" build-asan -DIOMAPFS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug || exit 1
	IOMAPFS_BIN=$top/build-asan/bin
fi
export IOMAPFS_BIN=${IOMAPFS_BIN:-$top/build/bin}
export ASAN_OPTIONS=detect_leaks=1:log_path=$SOAK_DIR/sanitizer
export UBSAN_OPTIONS=print_stacktrace=1:log_path=$SOAK_DIR/sanitizer
export DAEMON_LOG=$SOAK_DIR/daemon.log
export FSTYP=iomapfs WORK_DIR=$SOAK_DIR
here=$top/tests
. "$here/common/config"
. "$here/common/fs"
SCRATCH_DEV=$SOAK_DIR/soak.img
SCRATCH_MNT=$SOAK_DIR/mnt
full=$SOAK_DIR/soak.log
. "$here/common/watch"

: > "$full"
: > "$DAEMON_LOG"
cleanup() { _fs_force_unmount "$SCRATCH_MNT" "$SCRATCH_DEV"; rm -f "$SCRATCH_DEV"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

caches=(4m 16m 64m 256m 1g)
offloads=(delayed thread adaptive)
rounds=0 ops=0 hangs=0 fails=0 fsckfail=0 sanfail=0
start=$(date +%s)
log() { echo "$*" | tee -a "$full"; }

# One round: $1 = exerciser (fsstress|fsx|enospc), $2 = mount options.
round()
{
	local what=$1 opts=$2 size=1G rc n reports=$(sanitizer_reports)
	[ "$what" = enospc ] && size=64M
	rm -f "$SCRATCH_DEV"
	_fs_mkfs "$SCRATCH_DEV" $size >> "$full" 2>&1 || { log "mkfs failed"; return 1; }
	_fs_mount "$SCRATCH_DEV" "$SCRATCH_MNT" "$opts" >> "$full" 2>&1 ||
		{ log "mount failed"; return 1; }
	case $what in
	fsstress) n=$((4 * 4000))
		_run_watched 120 "$FSSTRESS_PROG" -d "$SCRATCH_MNT/s" -p 4 -n 4000 \
			-s $((seed * 1000 + rounds)) >> "$full" 2>&1 ;;
	enospc) n=$((4 * 4000))
		_run_watched 120 "$FSSTRESS_PROG" -d "$SCRATCH_MNT/s" -p 4 -n 4000 -e \
			-m $((8 << 20)) -s $((seed * 1000 + rounds)) >> "$full" 2>&1 ;;
	fsx) n=30000
		_run_watched 120 "$FSX_PROG" -q -S $((seed * 1000 + rounds)) -N $n \
			-l $((32 << 20)) -o $((512 << 10)) "$SCRATCH_MNT/fsx" >> "$full" 2>&1 ;;
	esac
	rc=$?
	ops=$((ops + n))
	[ $rc = 124 ] && hangs=$((hangs + 1))
	[ $rc != 0 ] && [ $rc != 124 ] && fails=$((fails + 1))
	_fs_unmount "$SCRATCH_MNT" "$SCRATCH_DEV" >> "$full" 2>&1 ||
		_fs_force_unmount "$SCRATCH_MNT" "$SCRATCH_DEV"
	if ! _fs_fsck "$SCRATCH_DEV" >> "$full" 2>&1; then
		fsckfail=$((fsckfail + 1))
		cp "$SCRATCH_DEV" "$SOAK_DIR/fsck-failed-$rounds.img" 2>/dev/null
		rc=fsck
	fi
	if [ "$(sanitizer_reports)" != "$reports" ]; then
		sanfail=$((sanfail + 1))
		rc=sanitizer
	fi
	log "round $rounds: $what -o $opts: $([ "$rc" = 0 ] && echo ok || echo "FAILED ($rc)")"
}

# How many sanitizer report files there are.
sanitizer_reports() { ls "$SOAK_DIR" | grep -c '^sanitizer\.'; }

# ERROR and WARNING lines the daemons logged.
daemon_errors() { grep -cE '^[^ ]+ [^ ]+: (ERROR|WARNING): ' "$DAEMON_LOG"; }

kinds=(fsstress fsx fsstress enospc)
while [ $(( $(date +%s) - start )) -lt "$dur" ]; do
	cache=${caches[$((rounds % ${#caches[@]}))]}
	offload=${offloads[$((rounds % ${#offloads[@]}))]}
	round "${kinds[$((rounds % ${#kinds[@]}))]}" "cache_size=$cache,offload=$offload"
	rounds=$((rounds + 1))
done
log "soak: $rounds rounds, $ops operations, $hangs hangs, $fails exerciser failures, $fsckfail fsck failures, $sanfail rounds with sanitizer reports, $(daemon_errors) daemon errors/warnings, $(( $(date +%s) - start )) s"
[ $hangs = 0 ] && [ $fails = 0 ] && [ $fsckfail = 0 ] && [ $sanfail = 0 ]
