#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: the two rule modifiers of trusted.iomapfs.inject that no
# other test exercised do what iomapfs(8) says.  prob=P seed=S: 256
# O_DIRECT 4 KiB overwrites (one data write bio each) fail some but not all
# of them with EIO, the same ones when the same rule is set again, other
# ones with another seed, and the rule's hits= counts them.  sector=A-B:
# with the range of file a's first blocks (found by scanning the image for
# their pattern), direct writes and reads of them fail with EIO and leave
# a's data as it was, while those of file b, outside the range, succeed
# and read back their bytes.
. "$(dirname "$0")/lib.sh" "$@"
inject_setup 64M "I/O error"

log "two 64 KiB files with patterns, and a 1 MiB file for the prob= runs"
timeout 60 python3 - "$MNT" <<'PY' || fail "could not write the files"
import os, sys
mnt = sys.argv[1]
for name in "ab":
    with open(f"{mnt}/{name}", "wb") as f:
        for i in range(16):
            f.write((f"{name}{i:05d}".encode() * 700)[:4096])
        os.fsync(f.fileno())
with open(f"{mnt}/c", "wb") as f:
    f.write(b"c" * (1 << 20))
    os.fsync(f.fileno())
PY
umount_fs

# Device sectors of file a's first blocks, as long as they are contiguous
# (the last block may land elsewhere), from where its pattern lies; none
# of b's blocks may be in that range.
range=$(python3 - "$IMG" <<'PY'
import sys
img = open(sys.argv[1], "rb").read()
def offsets(name):
    offs = [img.find((f"{name}{i:05d}".encode() * 700)[:4096]) for i in range(16)]
    assert all(o >= 0 and o % 4096 == 0 for o in offs), (name, offs)
    return offs
a, b = offsets("a"), offsets("b")
n = 1
while n < 16 and a[n] == a[0] + n * 4096:
    n += 1
lo, hi = a[0] // 512, (a[0] + n * 4096) // 512 - 1
assert n >= 4 and not any(lo <= o // 512 <= hi for o in b), (a, b)
print(lo, hi, n)
PY
) || fail "the files' blocks were not found in the image as expected"
read -r a_lo a_hi a_n <<<"$range"
log "a's first $a_n blocks: sectors $a_lo-$a_hi"

mount_fs
inject_py "$a_lo" "$a_hi" "$a_n" <<'PY' || fail "injection rules misbehaved (see above)"
import errno, mmap, os, sys
import inject
mnt, a_lo, a_hi, a_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
buf = mmap.mmap(-1, 4096)
buf.write(b"z" * 4096)

def set_rule(spec):
    inject.set_rule(mnt, spec)

def dio_writes(path, n):
    """Overwrite block i of path for i < n, O_DIRECT; the indexes that failed."""
    fd = os.open(path, os.O_RDWR | os.O_DIRECT)
    failed = []
    for i in range(n):
        try:
            assert os.pwritev(fd, [buf], i * 4096) == 4096
        except OSError as e:
            assert e.errno == errno.EIO, e
            failed.append(i)
    os.close(fd)
    return failed

def dio_read_ok(path, i):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    m = mmap.mmap(-1, 4096)
    try:
        return os.preadv(fd, [m], i * 4096) == 4096 and m[:4096]
    except OSError as e:
        assert e.errno == errno.EIO, e
        return None
    finally:
        os.close(fd)

ok = True
set_rule("class=data_write prob=0.5 seed=42")
first = dio_writes(f"{mnt}/c", 256)
hits = inject.rule(mnt)
set_rule("off")
set_rule("class=data_write prob=0.5 seed=42")
second = dio_writes(f"{mnt}/c", 256)
set_rule("class=data_write prob=0.5 seed=43")
other = dio_writes(f"{mnt}/c", 256)
set_rule("off")
print(f"prob=0.5 seed=42: {len(first)} of 256 failed, again {len(second)};"
      f" seed=43: {len(other)}; rule showed: {hits.strip()}")
if not 0 < len(first) < 256:
    print("FAIL: not some-but-not-all"); ok = False
if first != second:
    print("FAIL: the same seed failed other writes"); ok = False
if other == first:
    print("FAIL: another seed failed the very same writes"); ok = False
if f"seen=256 hits={len(first)}" not in hits:
    print("FAIL: seen/hits do not count the writes"); ok = False
if dio_writes(f"{mnt}/c", 256):
    print("FAIL: writes fail with the rule off"); ok = False

set_rule(f"class=data_write sector={a_lo}-{a_hi}")
a_failed, b_failed = dio_writes(f"{mnt}/a", a_n), dio_writes(f"{mnt}/b", 16)
set_rule(f"class=data_read sector={a_lo}-{a_hi}")
a_read = [dio_read_ok(f"{mnt}/a", i) for i in range(a_n)]
b_read = [dio_read_ok(f"{mnt}/b", i) for i in range(16)]
set_rule("off")
print(f"sector rule: a writes failed {len(a_failed)}/{a_n}, b {len(b_failed)}/16;"
      f" a reads failed {a_read.count(None)}/{a_n}, b {b_read.count(None)}/16")
if a_failed != list(range(a_n)) or b_failed:
    print("FAIL: sector=A-B write rule"); ok = False
if a_read.count(None) != a_n or any(r != b"z" * 4096 for r in b_read):
    print("FAIL: sector=A-B read rule"); ok = False
# a's blocks were never overwritten: its pattern is still there.
with open(f"{mnt}/a", "rb") as f:
    if f.read(4096) != (b"a00000" * 700)[:4096]:
        print("FAIL: a failed write changed a's data"); ok = False
sys.exit(0 if ok else 1)
PY
umount_fs
fsck_clean
