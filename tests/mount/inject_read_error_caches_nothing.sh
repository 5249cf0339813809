#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: an injected data read error returns EIO to the reader and
# leaves nothing in the cache (cachestat cached=0): once the injection is
# off, the same read returns the right bytes from the device.  A rule
# limited to a sector range fails only reads that touch it.
. "$(dirname "$0")/lib.sh" "$@"
inject_setup 128M "I/O error"
head -c 1M /dev/urandom >"$WORK/data"
cp "$WORK/data" "$MNT/f"
sync "$MNT/f"
umount_fs
mount_fs	# nothing cached

inject_py "$WORK/data" <<'PY' || fail "read error semantics differ (see above)"
import errno, os, sys
from inject import set_rule
mnt, ref = sys.argv[1], open(sys.argv[2], "rb").read()
path = mnt + "/f"

def cached():
    st = os.getxattr(path, "user.iomapfs.cachestat").decode()
    return int(dict(kv.split("=") for kv in st.split())["cached"])

set_rule(mnt, "class=data_read every")
fd = os.open(path, os.O_RDONLY)
try:
    os.pread(fd, 4096, 8192)
    sys.exit("the read succeeded under injection")
except OSError as e:
    if e.errno != errno.EIO:
        sys.exit("read failed with %s, want EIO" % e)
if cached() != 0:
    sys.exit("a failed read left %d pages cached" % cached())
set_rule(mnt, "class=data_read off")
if os.pread(fd, len(ref), 0) != ref:
    sys.exit("the retry read wrong bytes")
os.close(fd)
PY
umount_fs
fsck_clean
