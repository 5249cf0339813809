#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: a mount without offload= runs offload=adaptive, and adaptive
# does both of its jobs, shown by the task workers' counters:
#  - a drop-behind stream nobody waits for is held, as offload=delayed
#    does: worker_delays grows and batches hold more than one bio
#    (offload=thread never holds);
#  - appends + fsync, each waiting for its unwritten-extent conversion in a
#    worker, are not held: worker_kicks grows with them and worker_delays
#    hardly moves (offload=delayed holds every one).
# A 20 ms offload_delay_us keeps a slow machine's stream a stream (bios
# within two delays of each other).  Guards the default: it was delayed,
# and this test fails on that (40 of 40 conversions held), as it does with
# offload=thread (the stream never held).  adaptive's stream detection
# itself is test_blk_defer's adaptive_mode_holds_a_stream_of_one_bio_per_jiffy.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
mount_fs -o offload_delay_us=20000

# The stream: 32 MiB of 1 MiB drop-behind writes, then wait for writeback.
f=$MNT/stream
new_dropbehind "$f"
d0=$(stat_value worker_delays)
dd if=/dev/zero of="$f" bs=1M count=32 status=none || fail "stream write failed"
wait_written_back "$f"
d1=$(stat_value worker_delays)
batches=$(stat_value worker_batches)
bios=$(stat_value worker_batch_bios)
log "stream: worker_delays $d0 -> $d1, $bios bios in $batches batches"
[ "$d1" -gt "$d0" ] || fail "the stream was never held (worker_delays $d1): not adaptive"
[ "$bios" -gt "$batches" ] || fail "the stream ran one bio a batch ($bios in $batches)"

# The waiters: 40 appends + fsync, each converting an unwritten extent.
k1=$(stat_value worker_kicks)
u1=$(stat_value deferred_unwritten)
python3 - "$MNT/appends" <<'PY' || fail "append + fsync failed"
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
for _ in range(40):
    os.write(fd, b"a" * 4096)
    os.fsync(fd)
os.close(fd)
PY
d2=$(stat_value worker_delays)
k2=$(stat_value worker_kicks)
u2=$(stat_value deferred_unwritten)
log "fsyncs: deferred_unwritten $u1 -> $u2, worker_delays $d1 -> $d2, worker_kicks $k1 -> $k2"
[ $((u2 - u1)) -ge 20 ] || fail "only $((u2 - u1)) conversions deferred to a worker"
[ $((d2 - d1)) -le $(((u2 - u1) / 4)) ] ||
	fail "$((d2 - d1)) of $((u2 - u1)) waited-for conversions were held back"
[ "$k2" -gt "$k1" ] || fail "no waiter ever cut a hold short (worker_kicks $k2)"
umount_fs
fsck_clean
log "ok"
