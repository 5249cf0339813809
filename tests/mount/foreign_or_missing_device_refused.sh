#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: an ext4 image, an all-zero file and a path that does not
# exist are refused with a clear message and a non-zero exit; nothing is
# mounted and nothing crashes.
. "$(dirname "$0")/lib.sh" "$@"

try_mount() {	# WHAT DEVICE
	local rc=0
	timeout 60 "$IOMAPFS" "$2" "$MNT" 2>"$WORK/err" || rc=$?
	cat "$WORK/err"
	[ "$rc" != 0 ] || fail "$1: mount succeeded"
	[ "$rc" -lt 124 ] || fail "$1: exit status $rc (crash, signal or timeout)"
	grep -q "$2" "$WORK/err" || fail "$1: the message does not name the device"
	is_mounted "$MNT" && fail "$1: a mount was left behind"
	return 0
}

truncate -s 64M "$WORK/ext4.img"
mkfs.ext4 -q -F "$WORK/ext4.img" || skip "mkfs.ext4 failed"
try_mount "ext4 image" "$WORK/ext4.img"
truncate -s 64M "$WORK/zero.img"
try_mount "all-zero image" "$WORK/zero.img"
try_mount "missing file" "$WORK/does-not-exist"
grep -q "No such file" "$WORK/err" || fail "missing file: message does not say so"
log "ok"
