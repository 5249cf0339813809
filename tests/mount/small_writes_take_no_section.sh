#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: a stream of 4 KiB buffered writes costs no metadata section
# per write (the write only dirties the in-memory inode: mtime, ctime and
# size), and what stat showed after fsync -- mtime, ctime, size, bytes --
# is what a remount after kill -9 of the daemon shows.  Guards against
# every write() taking the global metadata lock to store the inode, and
# against the deferred inode write losing fsynced timestamps.
. "$(dirname "$0")/lib.sh" "$@"

WRITES=512
setup_image 128M
# Long expiry and commit interval: neither the flusher nor the periodic
# commit writes the inode while the writes run; only fsync makes it durable.
mount_fs -o dirty_expire_ms=600000,commit_interval_ms=600000

log "allocate the file, then $WRITES separate 4 KiB overwrites and appends"
python3 - "$MNT/f" <<'PY' || fail "setup write failed"
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, os.urandom(1 << 20))
os.fsync(fd)
os.close(fd)
PY
before=$(stat_value meta_sections)
python3 - "$MNT/f" "$WRITES" "$WORK/expect" <<'PY' || fail "writes failed"
import os, sys, random
path, n, expect = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = bytearray(open(path, 'rb').read())
fd = os.open(path, os.O_WRONLY)
rnd = random.Random(7)
for i in range(n):
    # Half overwrite allocated blocks, half append past EOF.
    off = rnd.randrange(256) * 4096 if i % 2 else len(data)
    buf = os.urandom(4096)
    if os.pwrite(fd, buf, off) != 4096:
        sys.exit("short write")
    data[off:off + 4096] = buf
    if off + 4096 > len(data):
        data += b'\0' * (off + 4096 - len(data))
os.close(fd)
open(expect, 'wb').write(data)
PY
after=$(stat_value meta_sections)
log "meta_sections: $before before, $after after $WRITES writes"
# Appends past EOF reserve delalloc space (no section); the few sections
# allowed here are whatever else runs meanwhile (stat reads, an ioend).
[ $((after - before)) -lt $((WRITES / 8)) ] ||
	fail "$((after - before)) metadata sections for $WRITES writes: one per write"

log "fsync, then kill -9: mtime, ctime and size must survive"
python3 - "$MNT/f" >"$WORK/stat.before" <<'PY' || fail "fsync failed"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.fsync(fd)
os.close(fd)
st = os.stat(sys.argv[1])
print(st.st_size, st.st_mtime_ns, st.st_ctime_ns)
PY
pid=$(daemon_pid)
kill -KILL "$pid"
wait_pid_gone "$pid" 30 || fail "daemon $pid did not die"
timeout 30 fusermount3 -u -z "$MNT" || fail "could not detach the dead mount"

mount_fs
python3 -c 'import os, sys
st = os.stat(sys.argv[1])
print(st.st_size, st.st_mtime_ns, st.st_ctime_ns)' "$MNT/f" >"$WORK/stat.after"
read -r size0 mtime0 ctime0 <"$WORK/stat.before"
read -r size1 mtime1 ctime1 <"$WORK/stat.after"
[ "$size1" = "$size0" ] || fail "size $size1 after replay, stat showed $size0 before"
[ "$mtime1" = "$mtime0" ] || fail "mtime $mtime1 after replay, stat showed $mtime0 before"
[ "$ctime1" = "$ctime0" ] || fail "ctime $ctime1 after replay, stat showed $ctime0 before"
cmp "$WORK/expect" "$MNT/f" || fail "fsynced data differs after replay"
umount_fs
fsck_clean
log "ok"
