#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: unknown options and bad option values are refused before
# anything is mounted, each with a message naming the option and exit
# status 1; the options mount(8) adds from fstab are accepted and ignored.
. "$(dirname "$0")/lib.sh" "$@"

setup_image 128M

refuse() {	# OPTS
	local rc=0
	timeout 60 "$IOMAPFS" "$IMG" "$MNT" -o "$1" 2>"$WORK/err" || rc=$?
	[ "$rc" = 1 ] || fail "-o $1: exit status $rc, want 1"
	grep -q "${1%%=*}" "$WORK/err" || fail "-o $1: message does not name the option: '$(cat "$WORK/err")'"
	is_mounted "$MNT" && fail "-o $1: something was mounted"
	echo "refused -o $1: $(head -n 1 "$WORK/err")"
}

refuse offload=foo
refuse cache_size=0
refuse cache_size=12x
refuse cache_size=-5m
refuse no_such_option
refuse no_such_option=3
refuse dirty_limit=101
refuse dirty_background=0
refuse offload_delay_us=abc
refuse max_ioend=0
refuse max_threads=0
refuse meta_cache=0
refuse meta_cache=lots
refuse entry_timeout=-1
refuse attr_timeout=abc
refuse negative_timeout=1e99
refuse attr_timeout=nan

rc=0
timeout 60 "$IOMAPFS" "$IMG" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "missing MOUNTPOINT: exit status $rc, want 1"
"$IOMAPFS" --help | grep -q cache_size || fail "--help does not list the options"

log "fstab's options are accepted"
mount_fs -o rw,dev,suid,exec,auto,nouser,defaults,_netdev,cache_size=64m,offload=thread,offload_delay_us=500,dirty_background=5,dirty_limit=30,dirty_expire_ms=1000,commit_interval_ms=1000,max_ioend=512k,readahead=256k,max_threads=8,meta_cache=128m,entry_timeout=0.5,attr_timeout=2,negative_timeout=0
echo ok >"$MNT/f"
[ "$(cat "$MNT/f")" = ok ] || fail "mount with every option does not work"
umount_fs

log "ro mounts read-only"
mount_fs -o ro
[ "$(cat "$MNT/f")" = ok ] || fail "ro mount cannot read"
touch "$MNT/g" 2>/dev/null && fail "ro mount accepted a create"
umount_fs
fsck_clean
log "ok"
