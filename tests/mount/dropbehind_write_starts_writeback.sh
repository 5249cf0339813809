#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: a write to a drop-behind file has started the writeback of
# what it dirtied when it returns (the kernel's RWF_DONTCACHE kicks it in
# generic_write_sync()): right after a 16 MiB write, the file's dirty
# pages are a small fraction of the 4096 it wrote, and once that writeback
# completes its pages are gone from the cache, without fsync and long
# before dirty_expire_ms (60 s here).  Guards drop-behind data sitting
# dirty for the whole expiry (cachestat read dirty=4096 after the write).
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
mount_fs -o dirty_expire_ms=60000

f=$MNT/stream
new_dropbehind "$f"
dd if=/dev/urandom of="$f" bs=1M count=16 status=none || fail "write failed"
dirty=$(cachestat "$f" dirty)
log "right after the write: $(getfattr --absolute-names --only-values -n user.iomapfs.cachestat "$f")"
[ "$dirty" -le 512 ] || fail "$dirty of 4096 pages still dirty after the write returned"

wait_written_back "$f"
log "after writeback: $(getfattr --absolute-names --only-values -n user.iomapfs.cachestat "$f")"
cached=$(cachestat "$f" cached)
[ "$cached" -le 16 ] || fail "$cached pages still cached after writeback completed"
[ "$(cachestat "$f" evicted)" -ge 4000 ] || fail "only $(cachestat "$f" evicted) pages evicted"
umount_fs
fsck_clean
log "ok"
