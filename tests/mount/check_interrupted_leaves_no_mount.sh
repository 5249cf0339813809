#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: xfstests-lite's runner, stopped by a TERM sent to its whole
# process group while a test has both filesystems mounted (what
# `kill -- -PGID`, a CI job's cancel or timeout(1) do: timeout forwards the
# TERM its child also got, so the runner sees two), tears down every mount
# and loop device it made.  Before the fix the second TERM arrived while
# the teardown ran, its trap exited at once, and both iomapfs mounts were
# left behind.
. "$(dirname "$0")/lib.sh" "$@"

TOP=$(cd "$LIB_DIR/../.." && pwd)
XWORK=$WORK/xfsl
mkdir -p "$XWORK"
# A long test (fsx-lite, 100,000 operations): it is still running when the
# TERM comes.  setsid: the runner and everything it starts share one
# process group, which is not ours.
setsid bash -c 'cd "$1" && WORK_DIR="$2" IOMAPFS_BIN="$3" exec timeout 250 tests/check 095' \
	_ "$TOP" "$XWORK" "$BIN" >"$WORK/check.log" 2>&1 &
sid=$!
for ((i = 0; i < 600; i++)); do
	[ "$(mounts_below "$XWORK" | wc -l)" = 2 ] && break
	pid_alive "$sid" || { cat "$WORK/check.log" >&2; fail "the runner ended before mounting both filesystems"; }
	sleep 0.1
done
[ "$(mounts_below "$XWORK" | wc -l)" = 2 ] || fail "the runner did not mount both filesystems in 60 s"
sleep 1
kill -TERM -- "-$sid"
# And once more while it tears down (a user's second Ctrl-C, a CI
# runner's repeated cancel): deterministic where the forwarded TERM is not.
sleep 0.3
kill -TERM -- "-$sid" 2>/dev/null || true
wait_pid_gone "$sid" 120 || fail "the runner did not exit 120 s after TERM"
left=$(mounts_below "$XWORK")
[ -z "$left" ] || fail "mounts left behind after TERM: $left"
loops=$(losetup -a | grep -c "$XWORK" || true)
[ "$loops" = 0 ] || fail "$loops loop devices left behind"
log "ok"
