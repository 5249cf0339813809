# SPDX-License-Identifier: GPL-2.0-or-later
#
# Exact syscalls for tests that shell tools cannot express: fallocate with
# mode flags, renameat2, lseek SEEK_DATA/SEEK_HOLE with errno, and a
# deterministic data pattern with a shadow model to compare a file with.
# Tests run python3 through _python (common/rc), which puts this
# directory on the module path:
#	_python - "$SCRATCH_MNT/f" <<'PYEOF'
#	import sys
#	from pyio import *
#	PYEOF
# Errors are printed as errno names (ENOENT), which are stable across
# filesystems and locales.

import ctypes
import errno
import os
import random

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20

RENAME_NOREPLACE = 1 << 0
RENAME_EXCHANGE = 1 << 1

AT_FDCWD = -100

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                            ctypes.c_char_p, ctypes.c_uint]


def _check(ret):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret


def fallocate(fd, mode, off, length):
    """fallocate(2) with mode flags; raises OSError."""
    return _check(_libc.fallocate(fd, mode, off, length))


def renameat2(old, new, flags):
    """renameat2(2) on paths; raises OSError."""
    return _check(_libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD,
                                  os.fsencode(new), flags))


def ename(e):
    """Errno name of an OSError (or errno number)."""
    n = e.errno if isinstance(e, OSError) else e
    return errno.errorcode.get(n, str(n))


def attempt(what, fn, *args):
    """Run fn(*args); print 'what: ok' or 'what: ENAME'.  Returns the result
    or None."""
    try:
        r = fn(*args)
        print(f"{what}: ok")
        return r
    except OSError as e:
        print(f"{what}: {ename(e)}")
        return None


def seek(fd, off, whence):
    """lseek returning the offset or the errno name (ENXIO)."""
    try:
        return os.lseek(fd, off, whence)
    except OSError as e:
        return ename(e)


def pattern(seed, length):
    """length deterministic pseudo-random bytes for seed."""
    return random.Random(seed).randbytes(length)


def pwrite_all(fd, data, off):
    done = 0
    while done < len(data):
        n = os.pwrite(fd, data[done:], off + done)
        if n <= 0:
            raise OSError(errno.EIO, "short write")
        done += n


def pread_all(fd, length, off):
    out = bytearray()
    while len(out) < length:
        b = os.pread(fd, length - len(out), off + len(out))
        if not b:
            break
        out += b
    return bytes(out)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def first_diff(a, b):
    """Describe the first mismatching byte range of a against b, or None."""
    if a == b:
        return None
    n = min(len(a), len(b))
    i = next((k for k in range(n) if a[k] != b[k]), n)
    if i == n:
        return f"length {len(a)} != expected {len(b)}"
    j = i
    while j < n and a[j] != b[j]:
        j += 1
    return (f"bytes {i}..{j - 1} differ (first: got {a[i]:#04x} "
            f"expected {b[i]:#04x})")


def print_runs(data, off=0, length=None):
    """Print data as byte runs 'start..end: xx' (end exclusive, offsets
    from off); short data ends with 'N: EOF'."""
    i = 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        print(f"{off + i}..{off + j}: {data[i]:02x}")
        i = j
    if length is not None and len(data) < length:
        print(f"{off + len(data)}: EOF")


def runs(path, off, length):
    """Print the byte runs of path[off:off+length]: a compact, exact
    picture of sparse data."""
    fd = os.open(path, os.O_RDONLY)
    data = pread_all(fd, length, off)
    os.close(fd)
    print_runs(data, off, length)


def read_direct(path, off, length):
    """Read with O_DIRECT into a page-aligned buffer (off and length
    multiples of 4096); returns the bytes read."""
    import mmap
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, length)
    n = os.preadv(fd, [buf], off)
    os.close(fd)
    return bytes(buf[:n])


class Shadow:
    """In-memory copy of a file's expected contents."""

    def __init__(self, data=b""):
        self.buf = bytearray(data)

    def write(self, off, data):
        if off > len(self.buf):
            self.buf += bytes(off - len(self.buf))
        self.buf[off:off + len(data)] = data

    def truncate(self, size):
        if size < len(self.buf):
            del self.buf[size:]
        else:
            self.buf += bytes(size - len(self.buf))

    def zero(self, off, length, keep_size=True):
        end = off + length
        if not keep_size and end > len(self.buf):
            self.truncate(end)
        end = min(end, len(self.buf))
        if off < end:
            self.buf[off:end] = bytes(end - off)

    def extend(self, size):
        if size > len(self.buf):
            self.truncate(size)

    def compare(self, path, what):
        """Print 'what: ok' or the first difference."""
        d = first_diff(read_file(path), bytes(self.buf))
        print(f"{what}: {d or 'ok'}")
