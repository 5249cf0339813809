#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: with -o kernel_cache the kernel's page cache serves repeated
# reads: the second read of a file, and a read after closing and reopening
# it unchanged (FOPEN_KEEP_CACHE), send no FUSE READ (the daemon's
# fuse_reads counter stays put), while the default mount sends one for
# every read.  A change the kernel did not see (an O_DIRECT write through
# another descriptor) is read back after a reopen, and the daemon counts
# its invalidation (kernel_cache_invals).  A drop-behind file and an
# O_DIRECT open still reach the daemon on every read, and mmap reads the
# same bytes as read().
. "$(dirname "$0")/lib.sh" "$@"
export PYTHONPATH=$(cd "$(dirname "$0")" && pwd)	# iomapfs_counters.py

setup_image 256M

cat >"$WORK/reads.py" <<'PY'
from iomapfs_counters import counter
import mmap, os, sys
mnt, mode = sys.argv[1], sys.argv[2]
K = 4096
def stat(name):
    return counter(mnt, name)
def read_all(path, flags=0):
    fd = os.open(path, os.O_RDONLY | flags)
    data = os.pread(fd, 4 << 20, 0)
    os.close(fd)
    return data
def reads_for(what, fn):
    before = stat('fuse_reads')
    fn()
    n = stat('fuse_reads') - before
    print('%s: %d FUSE reads' % (what, n))
    return n

f = mnt + '/f'
data = os.urandom(1 << 20)
with open(f, 'wb') as w:
    w.write(data)
    os.fsync(w.fileno())
if read_all(f) != data:
    sys.exit('first read differs')
again = reads_for('second read', lambda: read_all(f) == data or sys.exit('second read differs'))
if mode == 'default':
    if again == 0:
        sys.exit('default mount: a read was served without the daemon')
    sys.exit(0)
if again != 0:
    sys.exit('kernel_cache: the second read sent %d FUSE reads' % again)

# mmap reads the same cached bytes
with open(f, 'rb') as r:
    m = mmap.mmap(r.fileno(), 0, prot=mmap.PROT_READ)
    if m[:] != data:
        sys.exit('mmap read differs')
    m.close()

# O_DIRECT write behind the kernel's back, then a reopen: the new bytes
new = mmap.mmap(-1, 64 * K)
new[:] = os.urandom(64 * K)
invals = stat('kernel_cache_invals')
d = os.open(f, os.O_RDWR | os.O_DIRECT)
if os.pwritev(d, [new], 128 * K) != 64 * K:
    sys.exit('short direct write')
os.close(d)
data = data[:128 * K] + bytes(new) + data[192 * K:]
if stat('kernel_cache_invals') <= invals:
    sys.exit('no invalidation counted for the direct write')
if reads_for('read after a direct write', lambda: read_all(f) == data or
             sys.exit('read after the direct write shows old bytes')) == 0:
    sys.exit('read after a direct write came from a stale kernel cache')
if reads_for('read after reopen, unchanged', lambda: read_all(f)) != 0:
    sys.exit('reopen of an unchanged file dropped the kernel cache')

# O_DIRECT opens and drop-behind files always reach the daemon
aligned = mmap.mmap(-1, 1 << 20)
def direct_read():
    fd = os.open(f, os.O_RDONLY | os.O_DIRECT)
    os.preadv(fd, [aligned], 0)
    os.close(fd)
if reads_for('O_DIRECT read', direct_read) == 0:
    sys.exit('an O_DIRECT read was served by the kernel cache')
g = mnt + '/dropbehind'
with open(g, 'wb') as w:
    os.setxattr(g, 'user.iomapfs.dontcache', b'1')
    w.write(data)
    os.fsync(w.fileno())
read_all(g)
if reads_for('second read of a drop-behind file', lambda: read_all(g) == data or
             sys.exit('drop-behind file differs')) == 0:
    sys.exit('a drop-behind file was served by the kernel cache')
PY

log "default mount: every read reaches the daemon"
mount_fs
python3 "$WORK/reads.py" "$MNT" default || fail "default mount scenario failed"
umount_fs

log "kernel_cache: repeated reads stay in the kernel"
mount_fs -o kernel_cache
python3 "$WORK/reads.py" "$MNT" kernel_cache || fail "kernel_cache scenario failed"
umount_fs
fsck_clean
