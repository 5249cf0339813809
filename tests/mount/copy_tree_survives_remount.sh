#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: a copied source tree and a 64 MiB file come back identical
# after unmount, fsck and remount: bytes (sha256 of every file) and
# metadata (modes, sizes, mtimes to the nanosecond, symlinks, special
# files, hard link counts, xattrs).
. "$(dirname "$0")/lib.sh" "$@"
SNAP="python3 $(dirname "$0")/treesnap.py"

SRC=/usr/include/linux
[ -d "$SRC" ] || skip "no $SRC to copy"

setup_image 1G
head -c 64M /dev/urandom >"$WORK/big"
mount_fs

log "workload: copy $SRC and a 64 MiB file, add links, xattrs, special files"
cp -a "$SRC" "$MNT/linux"
cp "$WORK/big" "$MNT/big"
mkdir "$MNT/misc"
echo "hello" >"$MNT/misc/file"
ln "$MNT/misc/file" "$MNT/misc/hardlink"
ln "$MNT/linux/fs.h" "$MNT/misc/hardlink-across-dirs"
ln -s ../linux/fs.h "$MNT/misc/symlink"
ln -s "$(printf 'x%.0s' {1..300})" "$MNT/misc/long-symlink"
mkfifo -m 0640 "$MNT/misc/fifo"
mknod -m 0600 "$MNT/misc/chardev" c 1 3
mknod -m 0600 "$MNT/misc/blockdev" b 7 0
chmod 4755 "$MNT/misc/file"
setfattr -n user.colour -v blue "$MNT/misc/file"
setfattr -n user.big -v "0x$(head -c 3000 /dev/urandom | od -An -tx1 | tr -d ' \n')" "$MNT/misc/hardlink"
setfattr -n trusted.t -v 1 "$MNT/misc"
touch -h -d '2001-02-03 04:05:06.123456789' "$MNT/misc/symlink" "$MNT/misc/file"
truncate -s 10M "$MNT/misc/sparse"
echo tail >>"$MNT/misc/sparse"

$SNAP "$SRC" --content >"$WORK/src.snap"
$SNAP "$MNT/linux" --content >"$WORK/copy.snap"
diff -u "$WORK/src.snap" "$WORK/copy.snap" >"$WORK/diff" ||
	{ head -n 40 "$WORK/diff" >&2; fail "the copy differs from $SRC while mounted"; }
cmp "$WORK/big" "$MNT/big" || fail "64 MiB file differs while mounted"
$SNAP "$MNT" >"$WORK/before.snap"

umount_fs
log "fsck after unmount"
fsck_clean
mount_fs

log "compare after remount"
$SNAP "$MNT" >"$WORK/after.snap"
diff -u "$WORK/before.snap" "$WORK/after.snap" >"$WORK/diff" ||
	{ head -n 40 "$WORK/diff" >&2; fail "tree differs after remount"; }
cmp "$WORK/big" "$MNT/big" || fail "64 MiB file differs after remount"
[ "$(stat -c %h "$MNT/misc/file")" = 2 ] || fail "hard link count of misc/file is not 2"
[ "$(stat -c %h "$MNT/linux/fs.h")" = 2 ] || fail "hard link count of linux/fs.h is not 2"
[ "$(getfattr --only-values -n user.colour "$MNT/misc/file")" = blue ] ||
	fail "user.colour lost"
umount_fs
fsck_clean
log "ok"
