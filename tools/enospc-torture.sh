#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The long, seeded ENOSPC torture (not part of tools/run-tests.sh):
#
#	tools/enospc-torture.sh [ROUNDS [SECONDS [FIRST_SEED]]]
#
# Runs xfstests-lite generic/141 ROUNDS times (default 20) with seeds
# FIRST_SEED.. (default 1), each filling the filesystem for SECONDS
# (default 30) before the fsync, remount and checks.  Results of each
# round are kept under tests/results/enospc-torture/seed-N; the exit
# status is 0 only if every round passed.  Environment as for tests/check
# (FSTYP=ext4 runs it against ext4).
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-20}
seconds=${2:-30}
first=${3:-1}
failed=0
for ((s = first; s < first + rounds; s++)); do
	if ENOSPC_TORTURE_SEED=$s ENOSPC_TORTURE_SECONDS=$seconds \
	   RESULT_BASE=$top/tests/results/enospc-torture/seed-$s \
	   "$top/tests/check" generic/141 > /dev/null 2>&1; then
		echo "seed $s: pass"
	else
		echo "seed $s: FAIL (tests/results/enospc-torture/seed-$s)"
		failed=$((failed + 1))
	fi
done
echo "enospc-torture: $rounds rounds of $seconds s, $failed failed"
[ $failed = 0 ]
