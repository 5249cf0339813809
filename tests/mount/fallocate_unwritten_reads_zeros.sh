#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: fallocate makes unwritten extents that read as zeros; a
# write into part of them plus fsync shows the data there and zeros
# elsewhere, before and after a remount, and the conversion to written
# ran in a task worker (iomapfs-stat: deferred_unwritten > 0).
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
mount_fs

check_file() {
	python3 - "$MNT/f" "$WORK/pattern" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
pat = open(sys.argv[2], 'rb').read()
off = (1 << 20) + 512
if len(data) != 8 << 20:
    sys.exit('size %d, want %d' % (len(data), 8 << 20))
if data[off:off + len(pat)] != pat:
    sys.exit('written range does not hold the data')
if data[:off].count(0) != off or data[off + len(pat):].count(0) != len(data) - off - len(pat):
    sys.exit('unwritten ranges are not all zeros')
PY
}

head -c 200000 /dev/urandom >"$WORK/pattern"
log "fallocate 8 MiB, write 200000 bytes at 1 MiB + 512, fsync"
python3 - "$MNT/f" "$WORK/pattern" <<'PY' || fail "fallocate/write/fsync failed"
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)
os.posix_fallocate(fd, 0, 8 << 20)
if os.pread(fd, 1 << 20, 3 << 20) != bytes(1 << 20):
    sys.exit('fallocated range does not read as zeros before the write')
os.pwrite(fd, open(sys.argv[2], 'rb').read(), (1 << 20) + 512)
os.fsync(fd)
os.close(fd)
PY
check_file || fail "file content wrong while mounted"
blocks=$(stat -c %b "$MNT/f")
[ "$blocks" -ge $((8 << 20 >> 9)) ] || fail "st_blocks $blocks: the fallocated space is not counted"
deferred=$(stat_value deferred_unwritten)
[ "$deferred" -gt 0 ] || fail "deferred_unwritten is $deferred: the unwritten conversion did not go to a worker"
log "deferred_unwritten=$deferred"

log "KEEP_SIZE allocation past EOF keeps the size"
fallocate -n -o 8M -l 4M "$MNT/f"
[ "$(stat -c %s "$MNT/f")" = $((8 << 20)) ] || fail "fallocate -n changed the size"

umount_fs
fsck_clean
mount_fs
check_file || fail "file content wrong after remount"
umount_fs
fsck_clean
log "ok"
