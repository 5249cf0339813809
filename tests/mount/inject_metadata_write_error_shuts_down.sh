#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: an injected metadata (home location) or journal write error
# shuts the filesystem down as FS_IOC_SHUTDOWN does: the operation that
# hit it and everything after fail with EIO, unmount works, the next
# mount replays the journal, fsck repairs nothing but the ERROR mark, and
# what was fsynced before is intact.  Once per class.
. "$(dirname "$0")/lib.sh" "$@"

run_case() {	# CLASS
	local cls=$1
	log "class=$cls"
	inject_setup 128M "I/O error|journal commit failed|the filesystem has errors"
	head -c 3M /dev/urandom >"$WORK/data"
	inject_py "$WORK/data" "$cls" <<'PY' || fail "$cls: semantics differ (see above)"
import errno, os, sys
from inject import set_rule
mnt, data, cls = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
fd = os.open(mnt + "/kept", os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, data)
os.fsync(fd)
os.close(fd)
d = os.open(mnt, os.O_RDONLY)
os.fsync(d)
set_rule(mnt, "class=%s every" % cls)
# Metadata changes until one commits (or checkpoints) and fails.
failed = None
for i in range(200):
    try:
        os.mkdir("%s/d%d" % (mnt, i))
        os.fsync(d)
    except OSError as e:
        failed = e.errno
        break
if failed != errno.EIO:
    sys.exit("no EIO from metadata changes under %s injection (%s)" % (cls, failed))
PY
	expect_shut_down "$MNT/kept"
	umount_fs --any-status
	mount_fs
	cmp -s "$WORK/data" "$MNT/kept" || fail "$cls: fsynced file differs after replay"
	[ ! -e "$MNT/kept.new" ] || fail "$cls: a file created after the shutdown exists"
	umount_fs
	fsck_after_error
}

run_case journal_write
run_case meta_write
