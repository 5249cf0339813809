#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: with both superblock copies (blocks 0 and 1) corrupted the
# daemon refuses to mount with a clear message and a non-zero exit,
# without crashing and without leaving a mount; with only the primary
# corrupted it mounts from the copy.
. "$(dirname "$0")/lib.sh" "$@"
# Mounting from the copy is worth a warning: the one this test causes.
allow_log "primary superblock .*; using the copy at block 1"

try_mount() {	# expect failure; prints stderr
	local rc=0
	timeout 60 "$IOMAPFS" "$IMG" "$MNT" 2>"$WORK/err" || rc=$?
	cat "$WORK/err"
	[ "$rc" != 0 ] || fail "$1: mount succeeded"
	[ "$rc" -lt 124 ] || fail "$1: exit status $rc (crash, signal or timeout)"
	[ -s "$WORK/err" ] || fail "$1: no message on stderr"
	is_mounted "$MNT" && fail "$1: a mount was left behind"
	return 0
}

setup_image 128M
mount_fs
echo data >"$MNT/f"
umount_fs

log "primary superblock garbage: mount from the copy"
dd if=/dev/urandom of="$IMG" bs=4096 seek=0 count=1 conv=notrunc status=none
mount_fs
[ "$(cat "$MNT/f")" = data ] || fail "data wrong when mounted from the superblock copy"
umount_fs

log "both copies garbage"
dd if=/dev/urandom of="$IMG" bs=4096 seek=0 count=2 conv=notrunc status=none
try_mount "random superblocks"
log "both copies zeroed"
dd if=/dev/zero of="$IMG" bs=4096 seek=0 count=2 conv=notrunc status=none
try_mount "zeroed superblocks"
log "only the checksum byte flipped in both copies"
setup_image 128M
python3 - "$IMG" <<'PY'
import sys
with open(sys.argv[1], 'r+b') as f:
    for blk in (0, 1):
        f.seek(blk * 4096 + 100)
        b = f.read(1)
        f.seek(blk * 4096 + 100)
        f.write(bytes([b[0] ^ 0xff]))
PY
try_mount "one flipped byte in both superblocks"
log "ok"
