#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: regression test for "the reaper writes to stderr itself, so
# a stalled stderr pipe under -f stops every completion".  The daemon runs
# in the foreground with stderr on a pipe that nobody reads; the image is
# then cut short under it, so every read of the file's data fails in the
# reaper with an I/O error message, far more than the pipe holds.  Every
# read must still return EIO (no hang), the daemon must still answer, the
# overflow must be counted (log_dropped), and unmount must not hang.
. "$(dirname "$0")/lib.sh" "$@"
allow_log "I/O error"

setup_image 64M
mount_fs
head -c 8M /dev/urandom >"$MNT/f"
sync "$MNT/f"
umount_fs

mkfifo "$WORK/stderr"
exec 3<>"$WORK/stderr"		# keeps the pipe open; nobody reads it
"$IOMAPFS" "$IMG" "$MNT" -f -o logfile="$WORK/messages" 2>"$WORK/stderr" &
pid=$!
DAEMON_PIDS+=("$pid")
DAEMON_OF[$MNT]=$pid
for ((i = 0; i < 300; i++)); do
	is_mounted "$MNT" && break
	sleep 0.1
done
is_mounted "$MNT" || fail "not mounted"
# Cut the image before the file's data: its reads now end short (EIO).
truncate -s 8M "$IMG"

timeout 120 python3 - "$MNT/f" <<'PY' || fail "reads hung or did not fail (see above)"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
eio = 0
for i in range(3000):
    try:
        os.pread(fd, 4096, (i % 2048) * 4096)
    except OSError as e:
        if e.errno != errno.EIO:
            sys.exit("read failed with %s" % e)
        eio += 1
os.close(fd)
print("EIO on", eio, "of 3000 reads")
sys.exit(0 if eio >= 1000 else 1)	# ~150 bytes logged each: > 64 KiB
PY
timeout 30 stat "$MNT/f" >/dev/null || fail "the daemon stopped answering"
dropped=$(stat_value log_dropped)
[ "$dropped" -gt 0 ] || fail "a stalled stderr dropped nothing (log_dropped=$dropped)"
umount_fs --any-status
exec 3>&-
