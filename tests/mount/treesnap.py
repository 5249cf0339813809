#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""treesnap.py ROOT [--content]

Print one line per entry below ROOT, sorted by path, so that two trees can
be compared with diff: type, permission bits, owner, size, mtime in
nanoseconds, link count, symlink target, xattrs and the sha256 of regular
files.  --content keeps only what a copy (cp -a) preserves: type, mode,
size, mtime, target and data -- no link counts, owners or xattrs.
"""
import hashlib
import os
import stat
import sys


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def xattrs(path):
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return ''
    return ','.join('%s=%s' % (n, os.getxattr(path, n, follow_symlinks=False).hex())
                    for n in names)


def describe(root, rel, content):
    path = os.path.join(root, rel)
    st = os.lstat(path)
    kind = stat.S_IFMT(st.st_mode)
    f = ['%o' % kind, '%04o' % stat.S_IMODE(st.st_mode)]
    if not stat.S_ISDIR(st.st_mode):
        f.append('size=%d' % st.st_size)
    f.append('mtime=%d' % st.st_mtime_ns)
    if stat.S_ISLNK(st.st_mode):
        f.append('->' + os.readlink(path))
    if stat.S_ISREG(st.st_mode):
        f.append(sha256(path))
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        f.append('rdev=%d' % st.st_rdev)
    if not content:
        f += ['uid=%d' % st.st_uid, 'gid=%d' % st.st_gid, 'nlink=%d' % st.st_nlink,
              'x[' + xattrs(path) + ']']
    return rel + ' ' + ' '.join(f)


def main():
    root = sys.argv[1]
    content = '--content' in sys.argv[2:]
    rels = ['.']
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            rels.append(os.path.relpath(os.path.join(dirpath, n), root))
    for rel in sorted(rels):
        print(describe(root, rel, content))


if __name__ == '__main__':
    main()
