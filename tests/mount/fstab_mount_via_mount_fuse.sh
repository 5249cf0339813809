#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: mount -t fuse.iomapfs (what an fstab line does) goes through
# mount.fuse3, which runs `iomapfs DEVICE MOUNTPOINT -o opts` with the
# options mount(8) adds; the daemon forks into the background only once
# mounted, fsname/subtype show up in /proc/mounts, and umount ends it.
. "$(dirname "$0")/lib.sh" "$@"

command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ] || skip "no mount.fuse3"
setup_image 128M
export PATH=$BIN:$PATH

timeout 60 mount -t fuse.iomapfs "$IMG" "$MNT" -o cache_size=64m,offload=thread,_netdev,nouser ||
	fail "mount -t fuse.iomapfs failed"
is_mounted "$MNT" || fail "mount returned but nothing is mounted"
line=$(awk -v m="$MNT" '$2 == m' /proc/mounts)
echo "$line"
[[ $line == "$IMG $MNT fuse.iomapfs "* ]] || fail "/proc/mounts shows '$line'"
[[ $line == *allow_other* ]] || fail "allow_other is not on by default for root"
pid=$(pgrep -f "iomapfs $IMG $MNT" | head -n 1)
[ -n "$pid" ] || fail "no daemon process found"
DAEMON_PIDS+=($pid)
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] ||
	fail "daemon $pid did not detach (no new session)"

echo hello >"$MNT/f"
timeout 60 umount "$MNT" || fail "umount failed"
wait_pid_gone "$pid" 60 || fail "daemon $pid still running after umount"
fsck_clean
log "ok"
