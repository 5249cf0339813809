#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: mounting a device that is already mounted fails at once
# with a clear message and a non-zero exit (the block layer's exclusive
# lock), leaves no second mount, and does not disturb the first one.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 128M
mount_fs
echo first >"$MNT/f"
mkdir -p "$WORK/mnt2"

rc=0
timeout 60 "$IOMAPFS" "$IMG" "$WORK/mnt2" 2>"$WORK/err" || rc=$?
cat "$WORK/err"
[ "$rc" != 0 ] || fail "second mount of a mounted device succeeded"
[ "$rc" -lt 124 ] || fail "second mount ended with status $rc (timeout or signal)"
grep -qiE "busy|in use|locked" "$WORK/err" || fail "no clear message: '$(cat "$WORK/err")'"
is_mounted "$WORK/mnt2" && fail "a second mount was left behind"
[ "$(cat "$MNT/f")" = first ] || fail "first mount disturbed"
umount_fs
fsck_clean
log "ok"
