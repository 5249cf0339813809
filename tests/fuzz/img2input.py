#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Convert an iomapfs image into a fuzz input (format: fuzz_image.h).

Every block that is not all zeros becomes one record with its trailing
zeros cut off.  Metadata blocks (a known magic at offset 0, in place or
as an image in the journal) are kept whole; data blocks are cut to their
first 64 bytes: no target looks at file contents beyond "bytes came
back", and whole data blocks would make inputs too big to mutate well.
The journal of a cleanly unmounted image holds only checkpointed,
stale transactions: its blocks after the journal superblock are left
out (the dirty-journal seeds carry live ones), and so are blocks the
free-space bitmap says are free (stale B+tree nodes).  The flags byte asks the targets to re-sign checksums after mutation.

usage: img2input.py IMAGE OUTPUT
"""
import struct
import sys

BLOCK = 4096
IMAGE_BLOCKS = 1024          # FUZZ_IMAGE_BLOCKS
FLAGS = 1                    # FUZZ_F_RESIGN
DATA_KEEP = 64
SB_MAGIC = 0x3153464d414f4d49
STATE_CLEAN = 1
SB_JOURNAL = struct.Struct("<QQ")   # journal_start, journal_blocks at 136
SB_STATE_OFF = 240
BLK_MAGICS = {0x45455254, 0x50414d42, 0x4253524a, 0x4353444a, 0x4d4d434a}


def is_metadata(blk):
    return (struct.unpack_from("<Q", blk)[0] == SB_MAGIC or
            struct.unpack_from("<I", blk)[0] in BLK_MAGICS)


def free_blocks(img):
    """Blocks the on-disk bitmap marks free (its header: 64 bytes, with
    first_block at 48 and nr_bits at 56)."""
    bstart, bblocks = struct.unpack_from("<QQ", img, 152)
    free = set()
    for g in range(bstart, min(bstart + bblocks, len(img) // BLOCK)):
        blk = img[g * BLOCK:(g + 1) * BLOCK]
        if struct.unpack_from("<I", blk)[0] != 0x50414d42:
            continue
        first, nbits = struct.unpack_from("<QI", blk, 48)
        for i in range(min(nbits, (BLOCK - 64) * 8)):
            if not blk[64 + i // 8] >> (i % 8) & 1:
                free.add(first + i)
    return free


def main():
    src, dst = sys.argv[1:3]
    out = bytearray([FLAGS])
    with open(src, "rb") as f:
        img = f.read(BLOCK * IMAGE_BLOCKS)
    if len(img) < BLOCK * 2:
        sys.exit(f"{src}: too small to be an image")
    skip = set()
    if struct.unpack_from("<I", img, SB_STATE_OFF)[0] == STATE_CLEAN:
        jstart, jblocks = SB_JOURNAL.unpack_from(img, 136)
        skip = set(range(jstart + 1, jstart + jblocks)) | free_blocks(img)
    for b in range(len(img) // BLOCK):
        blk = img[b * BLOCK:(b + 1) * BLOCK]
        if b in skip:
            continue
        if not is_metadata(blk):
            blk = blk[:DATA_KEEP]
        blk = blk.rstrip(b"\0")
        if blk:
            out += struct.pack("<IHH", b, 0, len(blk)) + blk
    with open(dst, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
