#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: iomapfs-stat reads the live counters of a mount: --once
# prints "name value" lines from all three layers that move with the
# workload (bytes written, fsyncs); the table mode redraws with rates;
# --watch prints one compact line per interval; --hist draws the deferral
# latency histogram, whose rows add up to the deferrals it reports (the
# fsynced write of new blocks defers its unwritten conversions);
# user.iomapfs.stats is readable only on the root and not listed; and a
# path that is not an iomapfs mount is refused with a clear message.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
mount_fs

"$STAT" "$MNT" --once >"$WORK/s1" || fail "iomapfs-stat --once failed"
for name in bios_submitted bytes_written completed_in_reaper deferred_dropbehind \
	deferred_unwritten defer_lat_p99_us pages_resident pages_dirty hits misses \
	ioends_submitted fsyncs; do
	grep -q "^$name [0-9][0-9]*$" "$WORK/s1" || fail "--once has no counter $name"
done

dd if=/dev/urandom of="$MNT/f" bs=1M count=8 conv=fsync status=none
before=$(awk '$1 == "bytes_written" { print $2 }' "$WORK/s1")
after=$(stat_value bytes_written)
[ "$after" -ge $((before + (8 << 20))) ] ||
	fail "bytes_written went from $before to $after for an 8 MiB fsynced write"
[ "$(stat_value fsyncs)" -ge 1 ] || fail "fsyncs did not count the fsync"

log "table mode"
timeout -s INT 3.5 "$STAT" "$MNT" 1 >"$WORK/table" || true
[ "$(grep -c '^counter .*per second' "$WORK/table")" -ge 2 ] ||
	{ cat "$WORK/table" >&2; fail "table mode did not redraw twice in 3.5 s"; }
grep -q '^bios_submitted  *[0-9]*  *[0-9.]*$' "$WORK/table" || fail "counters show no rate"
grep -q '^pages_resident  *[0-9]*  *$' "$WORK/table" || fail "gauges show a rate"

log "watch mode"
timeout -s INT 2.5 "$STAT" "$MNT" 1 --watch >"$WORK/watch" || true
head -n 1 "$WORK/watch" | grep -q '^time .*wr MiB/s.*p99 us$' ||
	{ cat "$WORK/watch" >&2; fail "--watch printed no header"; }
[ "$(grep -c '^[0-9][0-9]:[0-9][0-9]:[0-9][0-9] ' "$WORK/watch")" -ge 1 ] ||
	{ cat "$WORK/watch" >&2; fail "--watch printed no line in 2.5 s"; }
awk 'NR > 1 && NF != 13 { bad = 1 } END { exit bad }' "$WORK/watch" ||
	{ cat "$WORK/watch" >&2; fail "--watch lines are not 13 columns"; }

log "histogram"
"$STAT" "$MNT" --hist >"$WORK/hist" || fail "iomapfs-stat --hist failed"
cat "$WORK/hist"
total=$(sed -n 's/.*since mount: \([0-9]*\) completions$/\1/p' "$WORK/hist")
[ -n "$total" ] && [ "$total" -ge 1 ] || fail "--hist reports no deferred completion"
rows=$(awk 'NR > 1 { n += $(NF - 1) } END { print n + 0 }' "$WORK/hist")
[ "$rows" = "$total" ] || fail "--hist rows add up to $rows, not $total"
buckets=$("$STAT" "$MNT" --once | awk '/^defer_hist_/ { n += $2 } END { print n + 0 }')
[ "$buckets" -ge "$total" ] || fail "defer_hist_* add up to $buckets, fewer than --hist's $total"

log "the xattr behind it"
getfattr -n user.iomapfs.stats "$MNT/f" >/dev/null 2>&1 && fail "stats readable on a regular file"
getfattr -d -m - "$MNT" 2>/dev/null | grep -q user.iomapfs.stats && fail "stats listed by listxattr"
setfattr -n user.iomapfs.stats -v 1 "$MNT" 2>/dev/null && fail "stats xattr writable"

rc=0
"$STAT" "$WORK" --once 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "iomapfs-stat on a non-iomapfs path exited $rc"
grep -q "not an iomapfs mount" "$WORK/err" || fail "no clear message: '$(cat "$WORK/err")'"
umount_fs
fsck_clean
log "ok"
