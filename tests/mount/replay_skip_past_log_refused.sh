#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: iomapfs-replay --skip with an entry number past the write
# log's end (or one that overflows 64 bits) is refused with "bad --skip
# list" and exit 2, and leaves the device untouched; a valid list still
# replays.  Guards the crash where such a number sized the skip bitmap
# (a huge realloc, unchecked, or a wrapped size) and the bit was set far
# outside it: iomapfs-replay died of SIGSEGV.
. "$(dirname "$0")/lib.sh" "$@"
REPLAY=$BIN/iomapfs-replay
[ -x "$REPLAY" ] || fail "missing $REPLAY"

setup_image 64M
cp "$IMG" "$WORK/base"
mount_fs -o log_writes="$WORK/log"
echo data >"$MNT/f"
sync "$MNT/f"
umount_fs
entries=$(timeout 60 "$REPLAY" --log "$WORK/log" --list | wc -l)
[ "$entries" -gt 2 ] || fail "the write log has $entries entries"

for bad in "$entries" 1000000000000000000 99999999999999999999999 "1,$entries"; do
	cp "$WORK/base" "$WORK/dev"
	rc=0
	timeout 60 "$REPLAY" --log "$WORK/log" --replay "$WORK/dev" --skip "$bad" \
		2>"$WORK/err" || rc=$?
	[ "$rc" = 2 ] || fail "--skip $bad: exit $rc, want 2 ($(cat "$WORK/err"))"
	grep -q "bad --skip list" "$WORK/err" || fail "--skip $bad: no clear message"
	cmp -s "$WORK/base" "$WORK/dev" || fail "--skip $bad: the device was written"
done

# Leaving out a flush changes no block: the result must still be clean.
flush=$(timeout 60 "$REPLAY" --log "$WORK/log" --list | awk '$2 == "flush" { n = $1 } END { print n }')
[ -n "$flush" ] || fail "the write log has no flush"
cp "$WORK/base" "$WORK/dev"
timeout 60 "$REPLAY" --log "$WORK/log" --replay "$WORK/dev" --skip "$flush" ||
	fail "a valid --skip list was refused"
fsck_clean "$WORK/dev"
log "ok"
