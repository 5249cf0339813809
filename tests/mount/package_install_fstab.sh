#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: iomapfs installs like a filesystem package.  CPack builds the
# .deb from this build; it must depend on fuse3 and the runtime libraries;
# `dpkg -i` installs it; with nothing linked by hand an fstab line of type
# fuse.iomapfs mounts through `mount MOUNTPOINT`, the file written there
# survives unmount, `fsck -t iomapfs -n` and `mkfs -t iomapfs` find the
# helpers, man finds the pages, and `dpkg -r` removes it all.  /etc/fstab
# is backed up and restored, and the package removed, on every exit path.
# Skipped when an iomapfs package is already installed (it would not be
# ours to remove).
. "$(dirname "$0")/lib.sh" "$@"

BUILD=$(dirname "$BIN")
[ -f "$BUILD/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $BUILD"
for c in cpack dpkg dpkg-deb dpkg-shlibdeps mount.fuse3 fsck mkfs man; do
	command -v $c >/dev/null || fail "missing $c (tools/install-deps.sh)"
done
dpkg -s iomapfs >/dev/null 2>&1 && skip "an iomapfs package is installed already"

FSTAB_BACKUP=$WORK/fstab.orig
INSTALLED=false
cp -p /etc/fstab "$FSTAB_BACKUP"
# Runs before lib.sh's cleanup (which unmounts what is below $WORK).
package_cleanup() {
	local rc=$?
	set +e
	is_mounted "$MNT" && timeout 60 umount "$MNT"
	cmp -s "$FSTAB_BACKUP" /etc/fstab || cp -p "$FSTAB_BACKUP" /etc/fstab
	$INSTALLED && timeout 120 dpkg --force-unsafe-io -r iomapfs >"$WORK/dpkg-r.log" 2>&1
	(exit $rc)
	cleanup
}
trap package_cleanup EXIT

log "building the package"
timeout 240 cpack --config "$BUILD/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1 ||
	{ cat "$WORK/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$WORK"/pkg/iomapfs_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for d in fuse3 libfuse3-3 liburing2 libc6; do
	[[ ", $depends," == *", $d"[\ ,]* ]] || fail "the package does not depend on $d"
done

log "installing it"
INSTALLED=true
timeout 120 dpkg --force-unsafe-io -i "$deb" >"$WORK/dpkg-i.log" 2>&1 ||
	{ cat "$WORK/dpkg-i.log" >&2; fail "dpkg -i failed"; }
for f in /usr/sbin/iomapfs /usr/sbin/mkfs.iomapfs /usr/sbin/fsck.iomapfs /usr/bin/iomapfs-stat \
	 /usr/libexec/iomapfs/fsx-lite /usr/libexec/iomapfs/fsstress-lite /usr/libexec/iomapfs/godown; do
	[ -x "$f" ] || fail "$f not installed"
done
for p in iomapfs mkfs.iomapfs fsck.iomapfs iomapfs-stat; do
	man -w "$p" >/dev/null 2>&1 || fail "man cannot find $p"
done

log "mkfs -t iomapfs, mount from fstab"
truncate -s 128M "$IMG"
PATH=/usr/sbin:/usr/bin:/sbin:/bin timeout 120 mkfs -t iomapfs "$IMG" >"$WORK/mkfs.log" 2>&1 ||
	{ cat "$WORK/mkfs.log" >&2; fail "mkfs -t iomapfs failed"; }
echo "$IMG $MNT fuse.iomapfs defaults,cache_size=64m 0 0" >>/etc/fstab
PATH=/usr/sbin:/usr/bin:/sbin:/bin timeout 60 mount "$MNT" || fail "mount $MNT (from fstab) failed"
is_mounted "$MNT" || fail "mount returned but $MNT is not mounted"
awk -v m="$MNT" '$2 == m { print; exit }' /proc/mounts
echo "installed and mounted" >"$MNT/hello"
timeout 60 umount "$MNT" || fail "umount $MNT failed"
cp -p "$FSTAB_BACKUP" /etc/fstab
# The daemon writes back and releases the image after the unmount.
for ((i = 0; i < 300; i++)); do
	fuser -s "$IMG" 2>/dev/null || break
	sleep 0.1
done

log "fsck -t iomapfs -n, remount, read back"
rc=0
PATH=/usr/sbin:/usr/bin:/sbin:/bin timeout 120 fsck -t iomapfs -n "$IMG" >"$WORK/fsck.log" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$WORK/fsck.log" >&2; fail "fsck -t iomapfs -n exited $rc"; }
PATH=/usr/sbin:/usr/bin:/sbin:/bin timeout 60 mount -t fuse.iomapfs "$IMG" "$MNT" ||
	fail "mount -t fuse.iomapfs failed"
[ "$(cat "$MNT/hello")" = "installed and mounted" ] || fail "the file did not survive the remount"
timeout 60 umount "$MNT" || fail "umount $MNT failed"

log "dpkg -r"
timeout 120 dpkg --force-unsafe-io -r iomapfs >"$WORK/dpkg-r.log" 2>&1 || { cat "$WORK/dpkg-r.log" >&2; fail "dpkg -r failed"; }
INSTALLED=false
for f in /usr/sbin/iomapfs /usr/sbin/mkfs.iomapfs /usr/sbin/fsck.iomapfs /usr/bin/iomapfs-stat; do
	[ ! -e "$f" ] || fail "$f still there after dpkg -r"
done
log "ok"
