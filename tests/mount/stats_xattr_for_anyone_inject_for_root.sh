#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: who may read the daemon's own xattrs on the root.
# user.iomapfs.stats holds filesystem-wide counters (like statfs and
# /proc/diskstats, nothing per user), so anyone may read it and nobody may
# write it; trusted.iomapfs.inject (error injection) is root's alone, to
# read and to set, and an unprivileged listxattr does not even name it.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 64M
chmod 755 "$WORK"	# nobody has to reach the mountpoint
mount_fs
setfattr -n trusted.iomapfs.inject -v "class=flush nth=1000000" "$MNT" ||
	fail "root cannot set the injection"

as_nobody getfattr --only-values -n user.iomapfs.stats "$MNT" >"$WORK/stats" 2>/dev/null ||
	fail "nobody cannot read user.iomapfs.stats"
grep -q "^bios_submitted [0-9]" "$WORK/stats" || fail "stats lack bios_submitted"
grep -q "^log_dropped 0$" "$WORK/stats" || fail "stats lack log_dropped 0"
as_nobody setfattr -n user.iomapfs.stats -v 1 "$MNT" 2>/dev/null &&
	fail "nobody wrote user.iomapfs.stats"
setfattr -n user.iomapfs.stats -v 1 "$MNT" 2>/dev/null &&
	fail "root wrote user.iomapfs.stats"

as_nobody getfattr --only-values -n trusted.iomapfs.inject "$MNT" >/dev/null 2>&1 &&
	fail "nobody read trusted.iomapfs.inject"
getfattr --only-values -n trusted.iomapfs.inject "$MNT" | grep -q "class=flush nth=1000000" ||
	fail "root cannot read the injection back"
setfattr -n trusted.iomapfs.inject -v "off" "$MNT"
setfattr -n trusted.secret -v 1 "$MNT"
as_nobody getfattr -d -m - "$MNT" 2>/dev/null | grep -q "trusted\." &&
	fail "an unprivileged listxattr names trusted.*"
getfattr -d -m - "$MNT" 2>/dev/null | grep -q "trusted\.secret" ||
	fail "root's listxattr misses trusted.secret"
umount_fs
fsck_clean
