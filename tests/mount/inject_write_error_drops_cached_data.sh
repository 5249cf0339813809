#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: a data write that fails at writeback (injection
# class=data_write) is never silent and never served as if it were on
# disk.  fsync reports EIO; the daemon logs the failure once per failed
# write with the inode number and the byte range; a read afterwards
# returns what the device holds -- the old bytes of an overwrite in place,
# zeros for a new file's unwritten blocks -- not the bytes that failed to
# reach it, and nothing else after a remount; statfs after the remount equals
# statfs before it (no reservation kept, no block leaked) and fsck is
# clean.  Before the failed folios were dropped, reads returned the new
# bytes until the cache evicted them.
. "$(dirname "$0")/lib.sh" "$@"
inject_setup 64M "I/O error|writeback of bytes"

log "old bytes on disk, then a failing overwrite and a failing new file"
inject_py <<'PY' || fail "a failed write was served or lost silently (see above)"
import errno, os, sys
from inject import fsync_err, set_rule
mnt = sys.argv[1]

old = os.open(f"{mnt}/old", os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(old, b"O" * (256 << 10), 0)
assert fsync_err(old) == 0
new = os.open(f"{mnt}/new", os.O_CREAT | os.O_RDWR, 0o644)
set_rule(mnt, "class=data_write every")
os.pwrite(old, b"N" * (64 << 10), 64 << 10)
os.pwrite(new, b"N" * (64 << 10), 0)
errs = (fsync_err(old), fsync_err(new))
set_rule(mnt, "off")
got_old = os.pread(old, 256 << 10, 0)
got_new = os.pread(new, 64 << 10, 0)
size_new = os.fstat(new).st_size
print("fsync errors", errs, "old file: N bytes read", got_old.count(b"N"),
      "new file: N bytes read", got_new.count(b"N"), "size", size_new)
ok = errs == (errno.EIO, errno.EIO)
ok = ok and got_old == b"O" * (256 << 10)
ok = ok and got_new == b"\0" * len(got_new) and size_new == 64 << 10
os.close(old)
os.close(new)
sys.exit(0 if ok else 1)
PY
logged=$(grep -c "writeback of bytes" "$WORK/messages" || true)
grep -E "inode [0-9]+: writeback of bytes 65536-131071 failed" "$WORK/messages" >/dev/null ||
	fail "the overwrite's failure was not logged with its inode and range"
grep -E "inode [0-9]+: writeback of bytes 0-65535 failed" "$WORK/messages" >/dev/null ||
	fail "the new file's failure was not logged with its inode and range"
[ "$logged" -eq 2 ] || fail "expected 2 writeback failure messages, got $logged"
live=$(stat -f -c %f "$MNT")
umount_fs
fsck_clean
mount_fs
[ "$(stat -f -c %f "$MNT")" = "$live" ] || fail "free blocks $live before remount, $(stat -f -c %f "$MNT") after"
cmp -s <(head -c $((256 << 10)) /dev/zero | tr '\0' O) "$MNT/old" ||
	fail "old file changed on disk"
# The on-disk size moves only once data is on the device: the new file
# may come back shorter, but holds nothing but zeros.
[ "$(tr -d '\0' <"$MNT/new" | wc -c)" = 0 ] && [ "$(stat -c %s "$MNT/new")" -le $((64 << 10)) ] ||
	fail "new file holds other bytes than zeros after remount"
umount_fs
fsck_clean
