#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: as an unprivileged user (nobody, via setpriv) the mode bits
# are enforced (EACCES/EPERM where they say so, sticky directories, and
# FS_IOC_SHUTDOWN is root's only), a
# write by a non-owner clears setuid and setgid, root's own write keeps
# them, new inodes get the caller's uid, the umask, and the group (and for
# directories S_ISGID) of a setgid parent.
. "$(dirname "$0")/lib.sh" "$@"
command -v setpriv >/dev/null || skip "no setpriv"
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3 (nobody cannot run root's)"

denied() {	# WHAT MESSAGE CMD...: CMD as nobody must fail with MESSAGE
	local what=$1 msg=$2 out
	shift 2
	if out=$(as_nobody "$@" 2>&1); then
		fail "$what: allowed, want '$msg'"
	fi
	grep -q "$msg" <<<"$out" || fail "$what: '$out', want '$msg'"
}

mode_of() {
	stat -c %a "$1"
}

setup_image 128M
chmod 755 "$WORK"	# nobody has to reach the mountpoint
mount_fs
chmod 755 "$MNT"
mkdir -m 0700 "$MNT/private"
echo secret >"$MNT/private/s"
echo root >"$MNT/rootfile"
chmod 644 "$MNT/rootfile"
mkdir -m 1777 "$MNT/tmp"
echo prog >"$MNT/tmp/suid"
chmod 4777 "$MNT/tmp/suid"
echo prog >"$MNT/tmp/sgid"
chmod 2777 "$MNT/tmp/sgid"
echo prog >"$MNT/rootprog"
chmod 4755 "$MNT/rootprog"

log "mode bits are enforced"
denied "list a 0700 directory" "Permission denied" ls "$MNT/private"
denied "read in a 0700 directory" "Permission denied" cat "$MNT/private/s"
denied "append to root's 0644 file" "Permission denied" sh -c "echo x >>'$MNT/rootfile'"
denied "create in root's 0755 directory" "Permission denied" touch "$MNT/newfile"
denied "chmod root's file" "Operation not permitted" chmod 777 "$MNT/rootfile"
denied "chown root's file" "Operation not permitted" chown 65534 "$MNT/rootfile"
denied "set times on root's file" "Operation not permitted" touch -c -d 2000-01-01 "$MNT/rootfile"
denied "truncate root's file" "Permission denied" truncate -s 0 "$MNT/rootfile"
denied "delete root's file in a sticky dir" "Operation not permitted" rm -f "$MNT/tmp/suid"
denied "FS_IOC_SHUTDOWN" "Operation not permitted" /usr/bin/python3 -c '
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.ioctl(fd, 0x8004587d, struct.pack("I", 2))' "$MNT/tmp"
[ "$(cat "$MNT/rootfile")" = root ] || fail "root's file changed (or the fs was shut down)"

log "new inodes belong to the caller and honour the umask"
as_nobody sh -c "umask 027; touch '$MNT/tmp/mine'; mkdir '$MNT/tmp/mydir'" ||
	fail "nobody cannot create in a 1777 directory"
[ "$(stat -c %u:%g "$MNT/tmp/mine")" = 65534:65534 ] || fail "owner of a new file is $(stat -c %u:%g "$MNT/tmp/mine")"
[ "$(mode_of "$MNT/tmp/mine")" = 640 ] || fail "umask 027 file mode $(mode_of "$MNT/tmp/mine"), want 640"
[ "$(mode_of "$MNT/tmp/mydir")" = 750 ] || fail "umask 027 dir mode $(mode_of "$MNT/tmp/mydir"), want 750"

log "a write by a non-owner clears setuid/setgid; root's does not"
as_nobody sh -c "echo more >>'$MNT/tmp/suid'" || fail "nobody cannot write a 4777 file"
[ "$(mode_of "$MNT/tmp/suid")" = 777 ] || fail "setuid not cleared by nobody's write: $(mode_of "$MNT/tmp/suid")"
as_nobody sh -c "echo more >>'$MNT/tmp/sgid'" || fail "nobody cannot write a 2777 file"
[ "$(mode_of "$MNT/tmp/sgid")" = 777 ] || fail "setgid (with group exec) not cleared: $(mode_of "$MNT/tmp/sgid")"
echo more >>"$MNT/rootprog"
[ "$(mode_of "$MNT/rootprog")" = 4755 ] || fail "root's own write cleared setuid: $(mode_of "$MNT/rootprog")"
[ "$(tail -n 1 "$MNT/tmp/suid")" = more ] || fail "nobody's write did not land"

log "setgid directories pass on their group (and S_ISGID to subdirectories)"
mkdir -m 2777 "$MNT/sgiddir"
chgrp 100 "$MNT/sgiddir"
chmod 2777 "$MNT/sgiddir"
as_nobody sh -c "mkdir '$MNT/sgiddir/sub'; touch '$MNT/sgiddir/file'" || fail "nobody cannot create in a 2777 dir"
[ "$(stat -c %g "$MNT/sgiddir/file")" = 100 ] || fail "file in setgid dir has gid $(stat -c %g "$MNT/sgiddir/file")"
[ "$(stat -c %g "$MNT/sgiddir/sub")" = 100 ] || fail "subdir of setgid dir has gid $(stat -c %g "$MNT/sgiddir/sub")"
[ $((0$(mode_of "$MNT/sgiddir/sub") & 02000)) != 0 ] || fail "subdir of setgid dir lacks S_ISGID"

umount_fs
fsck_clean
mount_fs
[ "$(mode_of "$MNT/tmp/suid")" = 777 ] || fail "cleared setuid came back after remount"
[ "$(stat -c %u "$MNT/tmp/mine")" = 65534 ] || fail "owner lost after remount"
umount_fs
log "ok"
