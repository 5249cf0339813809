#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: SIGTERM to the daemon ends the mount cleanly: data that was
# never fsynced (and that no timer wrote back) reaches the device, the
# daemon exits 0, no mount is left, fsck finds the image clean and a
# remount shows everything.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
# Timers far away: only the unmount path can write this data back.
mount_fs -o commit_interval_ms=600000,dirty_expire_ms=600000,dirty_background=90,dirty_limit=100
head -c 20M /dev/urandom >"$WORK/data"
cp "$WORK/data" "$MNT/data"
mkdir "$MNT/dir"
echo small >"$MNT/dir/f"
ln -s data "$MNT/link"

pid=$(daemon_pid)
log "SIGTERM to $pid"
kill -TERM "$pid"
wait_pid_gone "$pid" 120 || fail "daemon did not exit within 120 s of SIGTERM"
[ "$DAEMON_STATUS" = 0 ] || fail "daemon exited with status $DAEMON_STATUS after SIGTERM"
is_mounted "$MNT" && fail "mount left behind after SIGTERM"
fsck_clean
mount_fs
cmp "$WORK/data" "$MNT/data" || fail "unsynced data lost or wrong after SIGTERM"
[ "$(cat "$MNT/dir/f")" = small ] || fail "dir/f lost after SIGTERM"
[ "$(readlink "$MNT/link")" = data ] || fail "symlink lost after SIGTERM"
umount_fs
fsck_clean
log "ok"
