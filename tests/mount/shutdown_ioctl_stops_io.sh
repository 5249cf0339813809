#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: FS_IOC_SHUTDOWN (as godown/xfs_io send it) reaches the
# daemon through FUSE on a directory and on a regular file; afterwards
# every operation fails with EIO; after unmount the journal needs replay
# (like XFS log recovery), which a remount (dir case) or fsck -y (file
# case) performs; then fsck finds the image clean and what was fsynced
# before the shutdown is intact (XFS NOLOGFLUSH semantics, since FUSE
# drops the ioctl's flags argument).
. "$(dirname "$0")/lib.sh" "$@"

shutdown_via() {	# PATH: open it and send FS_IOC_SHUTDOWN
	python3 - "$1" <<'PY'
import fcntl, os, struct, sys
FS_IOC_SHUTDOWN = 0x8004587d	# _IOR('X', 125, __u32)
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.ioctl(fd, FS_IOC_SHUTDOWN, struct.pack('I', 2))	# 2: NOLOGFLUSH
os.close(fd)
PY
}

expect_eio() {	# DESCRIPTION CMD...: CMD must fail and say EIO
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "$what succeeded after shutdown"
	fi
	grep -q "Input/output error" <<<"$out" || fail "$what: '$out', want EIO"
}

run_case() {	# TARGET: "dir" or "file"
	local target=$1
	setup_image 256M
	mount_fs
	head -c 5M /dev/urandom >"$WORK/a"
	python3 - "$MNT" "$WORK/a" <<'PY' || fail "write/fsync failed"
import os, sys
fd = os.open(sys.argv[1] + '/A', os.O_CREAT | os.O_WRONLY)
os.write(fd, open(sys.argv[2], 'rb').read())
os.fsync(fd)
os.close(fd)
d = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(d)
os.close(d)
fd = os.open(sys.argv[1] + '/B', os.O_CREAT | os.O_WRONLY)
os.write(fd, os.urandom(2 << 20))
os.close(fd)
PY
	log "shutdown through the $target"
	if [ "$target" = dir ]; then
		shutdown_via "$MNT" || fail "FS_IOC_SHUTDOWN on the directory failed"
	else
		shutdown_via "$MNT/A" || fail "FS_IOC_SHUTDOWN on a regular file failed"
	fi
	expect_eio "read A" cat "$MNT/A"
	expect_eio "create C" touch "$MNT/C"
	expect_eio "write B" dd if=/dev/zero of="$MNT/B" bs=4k count=1 conv=notrunc status=none
	expect_eio "mkdir" mkdir "$MNT/newdir"
	expect_eio "readdir" ls "$MNT/"
	expect_eio "setxattr" setfattr -n user.x -v 1 "$MNT/A"
	umount_fs --any-status
	log "daemon exit status after shutdown: $DAEMON_STATUS"
	if [ "$target" = file ]; then
		rc=0
		timeout 120 "$FSCK" -y "$IMG" || rc=$?
		[ "$rc" -le 1 ] || fail "fsck -y after shutdown exited $rc"
		fsck_clean
	fi
	mount_fs
	cmp "$WORK/a" "$MNT/A" || fail "fsynced file A differs after shutdown ($target) and remount"
	umount_fs
	fsck_clean
}

run_case dir
run_case file
log "ok"
