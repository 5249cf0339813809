#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: a file streamed into a directory marked
# user.iomapfs.dontcache=1 (inherited by the new file) with a 32 MiB cache
# and 4x that much data leaves almost nothing cached (cachestat), reads
# back correctly, and its writeback completions were deferred to a task
# worker (iomapfs-stat: deferred_dropbehind > 0).  A normal file written
# the same way stays cached, so the check can tell the difference.  The
# dontcache mount option does the same for every file.
. "$(dirname "$0")/lib.sh" "$@"

cached_pages() {
	getfattr --only-values -n user.iomapfs.cachestat "$1" |
		sed -n 's/.*cached=\([0-9]*\).*/\1/p'
}

setup_image 512M
mount_fs -o cache_size=32m

mkdir "$MNT/stream" "$MNT/normal"
setfattr -n user.iomapfs.dontcache -v 1 "$MNT/stream"
[ "$(getfattr --only-values -n user.iomapfs.dontcache "$MNT/stream")" = 1 ] ||
	fail "user.iomapfs.dontcache does not read back as 1 on the directory"
getfattr -d -m - "$MNT/normal" 2>/dev/null | grep -q iomapfs &&
	fail "a directory without the flag lists a user.iomapfs xattr"

head -c 128M /dev/urandom >"$WORK/src"
log "stream 128 MiB through a 32 MiB cache"
dd if="$WORK/src" of="$MNT/stream/file" bs=1M conv=fsync status=none
[ "$(getfattr --only-values -n user.iomapfs.dontcache "$MNT/stream/file")" = 1 ] ||
	fail "the new file did not inherit user.iomapfs.dontcache"

# Drop-behind happens in the worker after writeback ends; give it a moment.
for ((i = 0; i < 100; i++)); do
	c=$(cached_pages "$MNT/stream/file")
	[ "$c" -le 256 ] && break
	sleep 0.1
done
getfattr -n user.iomapfs.cachestat "$MNT/stream/file"
[ "$c" -le 256 ] || fail "drop-behind file still has $c pages cached after fsync"

dd if="$WORK/src" of="$MNT/normal/file" bs=1M count=16 conv=fsync status=none
c_normal=$(cached_pages "$MNT/normal/file")
[ "$c_normal" -gt 256 ] ||
	fail "a normal file keeps only $c_normal pages cached: the check above proves nothing"

cmp "$WORK/src" "$MNT/stream/file" || fail "drop-behind file reads back wrong"
c=$(cached_pages "$MNT/stream/file")
[ "$c" -le 256 ] || fail "reading the drop-behind file left $c pages cached"
deferred=$(stat_value deferred_dropbehind)
[ "$deferred" -gt 0 ] || fail "deferred_dropbehind is $deferred"
log "deferred_dropbehind=$deferred normal_cached=$c_normal"

umount_fs
fsck_clean
mount_fs -o cache_size=32m
[ "$(getfattr --only-values -n user.iomapfs.dontcache "$MNT/stream/file")" = 1 ] ||
	fail "user.iomapfs.dontcache not persisted on the file"
[ "$(getfattr --only-values -n user.iomapfs.dontcache "$MNT/stream")" = 1 ] ||
	fail "user.iomapfs.dontcache not persisted on the directory"
touch "$MNT/stream/after-remount"
[ "$(getfattr --only-values -n user.iomapfs.dontcache "$MNT/stream/after-remount")" = 1 ] ||
	fail "a file created after the remount did not inherit user.iomapfs.dontcache"
setfattr -x user.iomapfs.dontcache "$MNT/stream/file"
getfattr --only-values -n user.iomapfs.dontcache "$MNT/stream/file" 2>/dev/null &&
	fail "user.iomapfs.dontcache still set after removal"
cmp "$WORK/src" "$MNT/stream/file" || fail "drop-behind file differs after remount"
umount_fs
fsck_clean

log "-o dontcache: every file is drop-behind, without any xattr"
mount_fs -o cache_size=32m,dontcache
dd if="$WORK/src" of="$MNT/normal/all" bs=1M count=64 conv=fsync status=none
for ((i = 0; i < 100; i++)); do
	c=$(cached_pages "$MNT/normal/all")
	[ "$c" -le 256 ] && break
	sleep 0.1
done
[ "$c" -le 256 ] || fail "-o dontcache: $c pages still cached after fsync"
cmp <(head -c 64M "$WORK/src") "$MNT/normal/all" || fail "-o dontcache: data wrong"
umount_fs
fsck_clean
log "ok"
