#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: an fstab line of type fuse.iomapfs works: mount(8) runs
# mount.fuse3, which runs `iomapfs DEVICE MOUNTPOINT -o opts` with the
# options mount(8) adds (rw, dev, suid, exec, auto, nouser, defaults,
# _netdev); the daemon forks into the background only once mounted, runs
# in its own session, fsname/subtype and allow_other show in /proc/mounts,
# and unmounting ends it.  mount(8) runs helpers with a fixed PATH, so
# unless iomapfs is installed we call mount.fuse3 the way mount(8) does.
. "$(dirname "$0")/lib.sh" "$@"

command -v mount.fuse3 >/dev/null || skip "no mount.fuse3"
setup_image 128M
export PATH=$BIN:$PATH
opts=rw,dev,suid,exec,auto,nouser,defaults,_netdev,cache_size=64m,offload=thread

if [ "$(command -v iomapfs)" = "$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v iomapfs)" ]; then
	timeout 60 mount -t fuse.iomapfs "$IMG" "$MNT" -o "$opts" || fail "mount -t fuse.iomapfs failed"
else
	timeout 60 mount.fuse3 "$IMG" "$MNT" -t iomapfs -o "$opts" || fail "mount.fuse3 failed"
fi
is_mounted "$MNT" || fail "mount returned but nothing is mounted"
line=$(awk -v m="$MNT" '$2 == m' /proc/mounts)
echo "$line"
[[ $line == "$IMG $MNT fuse.iomapfs "* ]] || fail "/proc/mounts shows '$line'"
[[ $line == *allow_other* ]] || fail "allow_other is not on by default for root"
[[ $line == *default_permissions* ]] || fail "default_permissions is not on"
# The daemon: the process whose command line names our image and mountpoint
# (from /proc, so that procps is not needed).
pid=
for d in /proc/[0-9]*; do
	cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
	[[ $cmd == *"iomapfs $IMG $MNT "* ]] && { pid=${d#/proc/}; break; }
done
[ -n "$pid" ] || fail "no daemon process found"
DAEMON_PIDS+=("$pid")
sid=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f4)	# field 6: session
[ "$sid" = "$pid" ] || fail "daemon $pid did not detach (session $sid)"

echo hello >"$MNT/f"
timeout 60 umount "$MNT" || fail "umount failed"
wait_pid_gone "$pid" 60 || fail "daemon $pid still running after umount"
fsck_clean
log "ok"
