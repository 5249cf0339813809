#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: error injection (trusted.iomapfs.inject on the root) fails
# one data write bio at writeback.  fsync reports EIO exactly once on every
# file description that was open when the error happened, never again on
# them, and never on one opened afterwards (errseq); nothing hangs.  The
# knob is root only: nobody else may set or read it.
. "$(dirname "$0")/lib.sh" "$@"
inject_setup 128M "I/O error|writeback of bytes"

log "unprivileged callers may not set the knob"
as_nobody setfattr -n trusted.iomapfs.inject -v "class=data_write every" "$MNT" 2>/dev/null &&
	fail "nobody set trusted.iomapfs.inject"
setfattr -n trusted.iomapfs.inject -v "class=bogus every" "$MNT" 2>/dev/null &&
	fail "a bad spec was accepted"

log "fail the first data write, with three descriptions open"
inject_py <<'PY' || fail "errseq semantics differ (see above)"
import errno, os, sys
from inject import fsync_err, rule, set_rule
mnt = sys.argv[1]
path = mnt + "/f"

fds = [os.open(path, os.O_CREAT | os.O_RDWR, 0o644) for _ in range(3)]
os.write(fds[0], b"x" * (64 << 10))
set_rule(mnt, "class=data_write nth=1")
shown = rule(mnt)
assert "class=data_write nth=1" in shown, shown
got = [fsync_err(fd) for fd in fds]
shown = rule(mnt)
assert "hits=1" in shown, shown
again = [fsync_err(fd) for fd in fds]
late = os.open(path, os.O_RDWR)
late_err = fsync_err(late)
print("first fsyncs", got, "second", again, "opened later", late_err)
ok = got == [errno.EIO] * 3 and again == [0] * 3 and late_err == 0
set_rule(mnt, "off")
# Writes work again once the injection is off.
os.pwrite(late, b"y" * 4096, 0)
ok = ok and fsync_err(late) == 0
for fd in fds + [late]:
    os.close(fd)
sys.exit(0 if ok else 1)
PY
[ -z "$(getfattr --only-values -n trusted.iomapfs.inject "$MNT" 2>/dev/null)" ] ||
	fail "the rule is still set after off"
umount_fs
fsck_clean
