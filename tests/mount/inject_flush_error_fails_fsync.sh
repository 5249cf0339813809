#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: an injected device flush error fails the fsync that issued
# the flush with EIO.  That flush belongs to the journal commit fsync
# needs, so the filesystem shuts down as jbd2 aborts its journal: EIO for
# everything after, unmount works, the next mount replays the journal
# (and says "run fsck": the superblock carries the ERROR mark), fsck
# repairs nothing but that mark, and what an earlier fsync made durable is
# intact.
. "$(dirname "$0")/lib.sh" "$@"
inject_setup 128M "I/O error|journal commit failed|the filesystem has errors"
inject_py <<'PY' || fail "flush error semantics differ (see above)"
import errno, os, sys
from inject import set_rule
mnt = sys.argv[1]
fd = os.open(mnt + "/f", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"z" * 8192)
os.fsync(fd)
os.pwrite(fd, b"w" * 4096, 0)
set_rule(mnt, "class=flush every")
try:
    os.fsync(fd)
    sys.exit("fsync succeeded with every flush failing")
except OSError as e:
    if e.errno != errno.EIO:
        sys.exit("fsync failed with %s, want EIO" % e)
os.close(fd)
PY
expect_shut_down "$MNT/f"
umount_fs --any-status
mount_fs
# The overwrite may or may not have reached the device; the fsynced
# second block must have.
first=$(head -c 4096 "$MNT/f" | tr -d '\n' | tr -s zw)
case "$first" in z|w) ;; *) fail "first block mixed or lost: '$first'" ;; esac
[ "$(tail -c 4096 "$MNT/f" | tr -d z | wc -c)" = 0 ] || fail "fsynced block lost"
[ ! -e "$MNT/f.new" ] || fail "a file created after the shutdown exists"
umount_fs
fsck_after_error
