#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: O_DIRECT reads and writes go to the device without the
# private cache, and stay coherent with buffered users of the same file:
# a direct reader sees a buffered writer's unsynced data (written back
# first), a buffered reader sees a direct writer's data (cache
# invalidated); direct writes into a hole, into fallocated (unwritten)
# space and past EOF read back with the right size; an unaligned direct
# write falls back to buffered I/O; every direct completion ran in the
# request thread that issued it (dio_done_issuer, none in a worker); and
# a direct write + fsync survives kill -9 of the daemon.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
mount_fs -o commit_interval_ms=600000

log "coherence, holes, unwritten, past EOF"
python3 - "$MNT" <<'PY' || fail "direct I/O scenario failed"
import mmap, os, sys
mnt = sys.argv[1]
K = 4096

def abuf(data):			# page-aligned memory, as O_DIRECT wants
    m = mmap.mmap(-1, len(data))
    m[:] = data
    return m

def dread(fd, n, off):
    m = mmap.mmap(-1, n)
    got = os.preadv(fd, [m], off)
    return bytes(m[:got])

def dwrite(fd, data, off):
    got = os.pwritev(fd, [abuf(data)], off)
    if got != len(data):
        sys.exit('short direct write %d of %d' % (got, len(data)))

def expect(what, got, want):
    if got != want:
        sys.exit('%s: %d bytes differ' % (what, sum(a != b for a, b in zip(got, want)) + abs(len(got) - len(want))))

a = os.urandom(64 * K)
b = os.urandom(16 * K)
f = mnt + '/coherent'
buf = os.open(f, os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(buf, a, 0)			# dirty in the cache, not fsynced
dio = os.open(f, os.O_RDWR | os.O_DIRECT)
expect('direct read after buffered write', dread(dio, 64 * K, 0), a)
dwrite(dio, b, 8 * K)			# over cached folios
want = a[:8 * K] + b + a[24 * K:]
expect('buffered read after direct write', os.pread(buf, 64 * K, 0), want)
expect('direct read of the tail past EOF', dread(dio, 2 * K * 16, 48 * K), want[48 * K:])
os.close(buf)
os.close(dio)

f = mnt + '/sparse'
fd = os.open(f, os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o644)
os.ftruncate(fd, 1 << 20)
dwrite(fd, b, 256 * K)			# into a hole
os.posix_fallocate(fd, 1 << 20, 1 << 20)
dwrite(fd, b, (1 << 20) + 64 * K)	# into unwritten space
dwrite(fd, b, 3 << 20)			# past EOF: the size moves at completion
if os.fstat(fd).st_size != (3 << 20) + len(b):
    sys.exit('size %d after a direct write past EOF' % os.fstat(fd).st_size)
data = dread(fd, 4 << 20, 0)
want = bytearray((3 << 20) + len(b))
want[256 * K:256 * K + len(b)] = b
want[(1 << 20) + 64 * K:(1 << 20) + 64 * K + len(b)] = b
want[3 << 20:] = b
expect('sparse file read back directly', data, bytes(want))
os.close(fd)
st = dict(kv.split('=') for kv in os.getxattr(f, 'user.iomapfs.cachestat').decode().split())
if int(st['cached']) != 0:
    sys.exit('direct I/O left %s pages of sparse cached' % st['cached'])
expect('sparse file read back buffered', open(f, 'rb').read(), bytes(want))

fd = os.open(mnt + '/unaligned', os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o644)
if os.pwrite(fd, b[:1000], 100) != 1000:	# falls back to buffered I/O
    sys.exit('unaligned direct write was short')
os.close(fd)
expect('unaligned direct write', open(mnt + '/unaligned', 'rb').read(), bytes(100) + b[:1000])
PY

for c in dio_reads dio_writes dio_done_issuer dio_fallbacks; do
	v=$(stat_value $c)
	[ "$v" -gt 0 ] || fail "$c is $v"
	log "$c=$v"
done
[ "$(stat_value dio_done_worker)" = 0 ] ||
	fail "a completion whose issuer waited ran in a worker"

log "direct write + fsync, then kill -9"
head -c 3M /dev/urandom >"$WORK/d"
python3 - "$MNT/durable" "$WORK/d" <<'PY' || fail "direct write/fsync failed"
import mmap, os, sys
data = open(sys.argv[2], 'rb').read()
m = mmap.mmap(-1, len(data))
m[:] = data
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o644)
if os.pwritev(fd, [m], 0) != len(data):
    sys.exit('short write')
os.fsync(fd)
os.close(fd)
PY
pid=$(daemon_pid)
kill -KILL "$pid"
wait_pid_gone "$pid" 30 || fail "daemon $pid did not die"
timeout 30 fusermount3 -u -z "$MNT" || fail "could not detach the dead mount"
mount_fs
cmp "$WORK/d" "$MNT/durable" || fail "direct write + fsync lost after kill -9"
umount_fs
fsck_clean
log "ok"
