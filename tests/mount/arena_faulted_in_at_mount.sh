#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: the folio arena is faulted in after mount, in the
# background: the daemon's resident memory grows to the whole cache
# without any I/O, and a 64 MiB write + fsync right after costs far fewer
# minor page faults than the 16,384 pages it fills.  Guards the
# first-touch stall: every arena page used to fault on its first use, and
# the first pass over the cache ran at half the speed of the second.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
mount_fs -o cache_size=128m
pid=$(daemon_pid)

rss_kib() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status"
}

minflt() {	# field 10 of /proc/PID/stat; the name in () has no spaces here
	awk '{ print $10 }' "/proc/$pid/stat"
}

for ((i = 0; i < 300; i++)); do
	[ "$(rss_kib)" -ge $((128 << 10)) ] && break
	sleep 0.1
done
[ "$(rss_kib)" -ge $((128 << 10)) ] ||
	fail "resident memory $(rss_kib) KiB: the 128 MiB arena was not faulted in"
before=$(minflt)
dd if=/dev/zero of="$MNT/f" bs=1M count=64 conv=fsync status=none ||
	fail "64 MiB write failed"
faults=$(( $(minflt) - before ))
log "minor faults for a 64 MiB write + fsync: $faults"
[ "$faults" -lt 4096 ] || fail "$faults minor faults: arena pages faulted on first use"
umount_fs
fsck_clean
log "ok"
