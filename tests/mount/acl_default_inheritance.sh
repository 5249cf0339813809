#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: POSIX ACLs behave as on a kernel filesystem (tmpfs is the
# reference): a directory's default ACL is inherited by new files
# (masked by the create mode) and by new subdirectories (also as their
# default ACL); an ACL equal to the mode is not stored; chmod updates the
# mask; without a default ACL the umask applies; the kernel enforces a
# named-user entry; everything survives a remount.
. "$(dirname "$0")/lib.sh" "$@"
command -v setfacl >/dev/null || skip "no setfacl (package acl)"

workload() {	# ROOT: the same steps on iomapfs and on the reference
	local r=$1
	(
		cd "$r"
		umask 022
		mkdir d
		chmod 0750 d
		setfacl -m u:65534:rwx d
		setfacl -d -m u:65534:rwx,g::r-x,o::--- d
		touch d/f
		mkdir d/sub
		mkdir -m 0700 d/sub700
		touch d/sub/g
		mkfifo d/fifo
		ln -s f d/link
		touch plain
		setfacl -m u::rwx,g::r-x,o::r-x plain
		touch acl_file
		setfacl -m u:65534:rw acl_file
		chmod 0600 acl_file
		touch d/chmodded
		chmod 0640 d/chmodded
		mkdir nodef
		umask 027
		touch nodef/x
		mkdir nodef/y
	)
}

describe() {	# ROOT
	(
		cd "$1"
		for p in d d/f d/sub d/sub700 d/sub/g d/fifo plain acl_file d/chmodded nodef/x nodef/y; do
			echo "== $p $(stat -c %A "$p")"
			getfacl -p "$p" 2>&1 | grep -v '^# file'
			if getfattr -n system.posix_acl_access "$p" >/dev/null 2>&1; then
				echo "has access xattr"
			fi
		done
	)
}

mkdir "$WORK/ref"
mount -t tmpfs -o size=16m tmpfs "$WORK/ref" || skip "cannot mount tmpfs for the reference"
setfacl -m u:65534:r "$WORK/ref" 2>/dev/null || skip "tmpfs without POSIX ACLs"
setfacl -b "$WORK/ref"
workload "$WORK/ref"
describe "$WORK/ref" >"$WORK/ref.txt"
umount "$WORK/ref"

setup_image 128M
chmod 755 "$WORK"
mount_fs
workload "$MNT"
describe "$MNT" >"$WORK/ours.txt"
diff -u "$WORK/ref.txt" "$WORK/ours.txt" || fail "ACLs differ from tmpfs (- tmpfs, + iomapfs)"

log "the kernel enforces the inherited named-user entry"
as_nobody sh -c "echo via-acl >'$MNT/d/f'" || fail "nobody cannot write d/f through user:65534:rw-"
[ "$(cat "$MNT/d/f")" = via-acl ] || fail "nobody's write did not land"
if as_nobody sh -c "echo x >'$MNT/nodef/x'" 2>/dev/null; then
	fail "nobody can write a 0640 root file without an ACL"
fi

umount_fs
fsck_clean
mount_fs
describe "$MNT" >"$WORK/after.txt"
diff -u "$WORK/ours.txt" "$WORK/after.txt" || fail "ACLs changed across a remount"
umount_fs
log "ok"
