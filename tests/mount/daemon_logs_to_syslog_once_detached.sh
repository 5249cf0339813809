#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: regression test for "stderr lost after daemonize": once the
# daemon has gone to the background (no -f, no logfile) its stderr is
# /dev/null, so its messages must reach syslog, facility daemon, ident
# iomapfs.  In a private mount namespace with its own /dev, a listener on
# /dev/log stands in for syslogd; a read error after the detach must show
# up there as "<27>... iomapfs[PID]: ... I/O error" (daemon.err).
. "$(dirname "$0")/lib.sh" "$@"
command -v unshare >/dev/null || skip "no unshare"

setup_image 64M
mount_fs
head -c 1M /dev/urandom >"$MNT/f"
sync "$MNT/f"
umount_fs

cat >"$WORK/listener.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(4096).rstrip(b"\0\n") + b"\n")
PY

# Everything inside the namespace; its EXIT trap unmounts and stops what
# it started, and the namespace (with its mounts) ends with it.
timeout 120 unshare -m --propagation private bash -s -- "$IOMAPFS" "$IMG" "$MNT" "$WORK" <<'NS' ||
set -u
iomapfs=$1 img=$2 mnt=$3 work=$4
holders() { find /proc/[0-9]*/fd -maxdepth 1 -lname "$img" 2>/dev/null | cut -d/ -f3 | sort -u; }
cleanup() {
	fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null
	for i in $(seq 100); do [ -z "$(holders)" ] && break; sleep 0.1; done
	for p in $(holders); do kill -KILL "$p"; done
	[ -n "${lp:-}" ] && kill "$lp" 2>/dev/null
}
trap cleanup EXIT
mount -t tmpfs -o mode=755 none /dev || exit 1
mknod -m 666 /dev/fuse c 10 229 && mknod -m 666 /dev/null c 1 3 || exit 1
python3 "$work/listener.py" /dev/log "$work/syslog" & lp=$!
for i in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
"$iomapfs" "$img" "$mnt" || exit 1		# goes to the background
setfattr -n trusted.iomapfs.inject -v "class=data_read every" "$mnt" || exit 1
cat "$mnt/f" >/dev/null 2>&1 && exit 1		# must fail: EIO
setfattr -n trusted.iomapfs.inject -v "off" "$mnt"
fusermount3 -u "$mnt" || exit 1
for i in $(seq 300); do [ -z "$(holders)" ] && break; sleep 0.1; done
exit 0
NS
	fail "the namespace run failed"
[ -s "$WORK/syslog" ] || fail "nothing reached syslog after the daemon detached"
grep -Eq '^<27>.*iomapfs\[[0-9]+\]: .*I/O error' "$WORK/syslog" ||
	fail "no daemon.err I/O error line: $(head -c 500 "$WORK/syslog")"
fsck_clean
