#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: the FUSE glue under concurrent load: fsstress-lite (4
# processes of namespace and data operations, incl. readdirplus, hard
# links, renames, xattrs and fsync) alongside fsx-lite (random I/O checked
# against a shadow copy) finish without unexpected errors; the daemon then
# unmounts with status 0 and no warning (lookup counts balance), and the
# image is clean and mountable with every file readable.
. "$(dirname "$0")/lib.sh" "$@"

FSSTRESS=$BIN/fsstress-lite
FSX=$BIN/fsx-lite
[ -x "$FSSTRESS" ] && [ -x "$FSX" ] || skip "fsstress-lite/fsx-lite not built"

setup_image 512M
mount_fs -o cache_size=64m

log "fsstress-lite -p 4 -n 2000 with fsx-lite -N 20000 alongside"
timeout 200 "$FSSTRESS" -d "$MNT/stress" -p 4 -n 2000 -s 4242 >"$WORK/fsstress.out" 2>&1 &
stress_pid=$!
fsx_rc=0
timeout 200 "$FSX" -N 20000 -q -S 4243 -L "$WORK/fsx.log" "$MNT/fsxfile" >"$WORK/fsx.out" 2>&1 || fsx_rc=$?
stress_rc=0
wait "$stress_pid" || stress_rc=$?
tail -n 3 "$WORK/fsstress.out"
[ "$fsx_rc" = 0 ] || { tail -n 20 "$WORK/fsx.out" >&2; fail "fsx-lite exited $fsx_rc"; }
[ "$stress_rc" = 0 ] || { tail -n 20 "$WORK/fsstress.out" >&2; fail "fsstress-lite exited $stress_rc"; }

umount_fs
fsck_clean
mount_fs
find "$MNT" -type f -exec cat {} + >/dev/null || fail "a file is unreadable after remount"
umount_fs
fsck_clean
log "ok"
