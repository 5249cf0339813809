#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: system calls fail with the errno POSIX and Linux promise:
# ENOENT, EEXIST, ENOTEMPTY, ENAMETOOLONG, EISDIR, ENOTDIR, ENODATA and
# ERANGE for xattrs, EOPNOTSUPP for unsupported fallocate modes, EFBIG past
# the maximum file size, EINVAL for bad rename flags, and ENOSPC on a full
# image, after which deleting a file makes the space usable again.
# (EXDEV cannot happen within one filesystem and is not tested.)
. "$(dirname "$0")/lib.sh" "$@"

setup_image 64M
mount_fs

log "errno probes"
python3 - "$MNT" <<'PY' || fail "an errno probe failed (see above)"
import ctypes, errno, os, sys
mnt = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
bad = []

def expect(err, what, fn, *args):
    try:
        fn(*args)
    except OSError as e:
        if e.errno != err:
            bad.append('%s: got %s, want %s' % (what, errno.errorcode.get(e.errno), errno.errorcode[err]))
        return
    bad.append('%s: succeeded, want %s' % (what, errno.errorcode[err]))

def cerr(ret):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret

p = lambda *a: os.path.join(mnt, *a)
os.mkdir(p('d'))
open(p('d', 'f'), 'w').write('data')
open(p('file'), 'w').write('x')

expect(errno.ENOENT, 'open missing', os.open, p('nope'), os.O_RDONLY)
expect(errno.ENOENT, 'unlink missing', os.unlink, p('nope'))
expect(errno.ENOENT, 'create under missing dir', os.open, p('nodir', 'f'), os.O_CREAT | os.O_WRONLY)
expect(errno.EEXIST, 'mkdir existing', os.mkdir, p('d'))
expect(errno.EEXIST, 'O_EXCL existing', os.open, p('file'), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
expect(errno.EEXIST, 'link onto existing', os.link, p('file'), p('d', 'f'))
expect(errno.EEXIST, 'symlink onto existing', os.symlink, 'x', p('file'))
expect(errno.ENOTEMPTY, 'rmdir non-empty', os.rmdir, p('d'))
os.mkdir(p('e'))
expect(errno.ENOTEMPTY, 'rename dir onto non-empty dir', os.rename, p('e'), p('d'))
expect(errno.ENAMETOOLONG, 'create 256-byte name', os.open, p('n' * 256), os.O_CREAT | os.O_WRONLY)
expect(errno.ENAMETOOLONG, 'mkdir 256-byte name', os.mkdir, p('n' * 256))
os.close(os.open(p('n' * 255), os.O_CREAT | os.O_WRONLY))  # 255 is fine
expect(errno.EISDIR, 'open dir for writing', os.open, p('d'), os.O_WRONLY)
expect(errno.EISDIR, 'unlink a directory', os.unlink, p('d'))
expect(errno.ENOTDIR, 'path through a file', os.open, p('file', 'x'), os.O_RDONLY)
expect(errno.ENOTDIR, 'rmdir a file', os.rmdir, p('file'))
expect(errno.ENOTDIR, 'rename dir onto file', os.rename, p('e'), p('file'))
expect(errno.EISDIR, 'rename file onto dir', os.rename, p('file'), p('e'))
expect(errno.EINVAL, 'rename dir under itself', os.rename, p('d'), p('d', 'sub'))

# renameat2 flags
AT_FDCWD = -100
def renameat2(a, b, flags):
    cerr(libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), ctypes.c_uint(flags)))
expect(errno.EEXIST, 'RENAME_NOREPLACE onto existing', renameat2, p('file'), p('d', 'f'), 1)
expect(errno.EINVAL, 'RENAME_NOREPLACE|RENAME_EXCHANGE', renameat2, p('file'), p('d', 'f'), 3)
renameat2(p('file'), p('d', 'f'), 2)  # RENAME_EXCHANGE works
if open(p('file')).read() != 'data' or open(p('d', 'f')).read() != 'x':
    bad.append('RENAME_EXCHANGE did not swap the contents')

# xattrs
expect(errno.ENODATA, 'getxattr missing', os.getxattr, p('file'), 'user.none')
expect(errno.ENODATA, 'removexattr missing', os.removexattr, p('file'), 'user.none')
os.setxattr(p('file'), 'user.v', b'0123456789')
expect(errno.EEXIST, 'XATTR_CREATE existing', os.setxattr, p('file'), 'user.v', b'1', os.XATTR_CREATE)
expect(errno.ENODATA, 'XATTR_REPLACE missing', os.setxattr, p('file'), 'user.w', b'1', os.XATTR_REPLACE)
buf = ctypes.create_string_buffer(4)
def getx_small():
    cerr(libc.getxattr(p('file').encode(), b'user.v', buf, ctypes.c_size_t(4)))
expect(errno.ERANGE, 'getxattr into a small buffer', getx_small)
def listx_small():
    cerr(libc.listxattr(p('file').encode(), buf, ctypes.c_size_t(2)))
expect(errno.ERANGE, 'listxattr into a small buffer', listx_small)
expect(errno.EINVAL, 'user.iomapfs.dontcache=2', os.setxattr, p('file'), 'user.iomapfs.dontcache', b'2')
expect(errno.EPERM, 'set user.iomapfs.cachestat', os.setxattr, p('file'), 'user.iomapfs.cachestat', b'1')

# fallocate modes
fd = os.open(p('falloc'), os.O_CREAT | os.O_RDWR)
os.posix_fallocate(fd, 0, 1 << 20)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_PUNCH_HOLE = 0x08, 0x20, 0x02
expect(errno.EOPNOTSUPP, 'fallocate COLLAPSE_RANGE', lambda: cerr(libc.fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096)))
expect(errno.EOPNOTSUPP, 'fallocate INSERT_RANGE', lambda: cerr(libc.fallocate(fd, FALLOC_FL_INSERT_RANGE, 0, 4096)))
expect(errno.EOPNOTSUPP, 'fallocate PUNCH_HOLE without KEEP_SIZE', lambda: cerr(libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096)))

# EFBIG: the format's maximum file size is 1 PiB
expect(errno.EFBIG, 'pwrite at 1 PiB', os.pwrite, fd, b'x', 1 << 50)
expect(errno.EFBIG, 'truncate to 2 PiB', os.ftruncate, fd, 1 << 51)
os.close(fd)

for b in bad:
    print('  ' + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

log "ENOSPC on a full image, then delete and reuse"
python3 - "$MNT" <<'PY' || fail "ENOSPC probe failed (see above)"
import errno, os, sys
mnt = sys.argv[1]
chunk = os.urandom(1 << 20)
def fill(name):
    fd = os.open(os.path.join(mnt, name), os.O_CREAT | os.O_WRONLY | os.O_TRUNC)
    n = 0
    try:
        while True:
            os.write(fd, chunk)
            n += 1
            if n > 1024:
                sys.exit('wrote 1 GiB into a 64 MiB image without ENOSPC')
        # not reached
    except OSError as e:
        if e.errno != errno.ENOSPC:
            sys.exit('filling: got %s, want ENOSPC' % errno.errorcode.get(e.errno))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            sys.exit('fsync of the full file: %s' % e)
    os.close(fd)
    return n
n = fill('fill1')
if n < 16:
    sys.exit('only %d MiB fit in a 64 MiB image' % n)
os.unlink(os.path.join(mnt, 'fill1'))
# The blocks are freed when the kernel forgets the unlinked inode, and
# become allocatable once that is durable: wait for statfs to show them.
import time
for _ in range(300):
    dfd = os.open(mnt, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)
    st = os.statvfs(mnt)
    if st.f_bavail * st.f_frsize >= (n - 2) << 20:
        break
    time.sleep(0.1)
else:
    sys.exit('the space of a deleted %d MiB file never came back (statfs)' % n)
m = fill('fill2')
if m < n - 2:
    sys.exit('after deleting a %d MiB file only %d MiB fit again' % (n, m))
os.unlink(os.path.join(mnt, 'fill2'))
PY

umount_fs
fsck_clean
log "ok"
