#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: data and names made durable with fsync survive kill -9 of
# the daemon: after the dead mount is detached, a remount replays the
# journal, the fsynced files are intact, and fsck finds the image clean.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
# A long commit interval, so only fsync makes anything durable.
mount_fs -o commit_interval_ms=600000
head -c 24M /dev/urandom >"$WORK/a"
head -c 100000 /dev/urandom >"$WORK/b"

log "write and fsync: a big file, a small one in a new directory, a rename"
python3 - "$MNT" "$WORK" <<'PY' || fail "write/fsync failed"
import os, sys
mnt, work = sys.argv[1:]
def put(path, data):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o640)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
put(mnt + '/a', open(work + '/a', 'rb').read())
os.mkdir(mnt + '/dir')
put(mnt + '/dir/b.tmp', open(work + '/b', 'rb').read())
os.rename(mnt + '/dir/b.tmp', mnt + '/dir/b')
fsync_dir(mnt + '/dir')
fsync_dir(mnt)
# Written but never fsynced: may or may not survive, must not corrupt.
fd = os.open(mnt + '/unsynced', os.O_CREAT | os.O_WRONLY)
os.write(fd, os.urandom(3 << 20))
os.close(fd)
PY

pid=$(daemon_pid)
log "kill -9 the daemon ($pid)"
kill -KILL "$pid"
wait_pid_gone "$pid" 30 || fail "daemon $pid did not die"
timeout 30 fusermount3 -u -z "$MNT" || fail "could not detach the dead mount"
is_mounted "$MNT" && fail "dead mount still present"

mount_fs
cmp "$WORK/a" "$MNT/a" || fail "fsynced file a differs after replay"
cmp "$WORK/b" "$MNT/dir/b" || fail "fsynced, renamed file dir/b differs after replay"
[ ! -e "$MNT/dir/b.tmp" ] || fail "the rename was not replayed: dir/b.tmp exists"
[ "$(stat -c %a "$MNT/a")" = 640 ] || fail "mode of a is $(stat -c %a "$MNT/a"), want 640"
umount_fs
fsck_clean
log "ok"
