#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: with -o kernel_cache, invalidating the kernel's pages of a
# file whose shared mapping holds a dirty page makes the kernel write that
# page back to the daemon (launder_folio) and wait for the WRITE.  Guards
# the hang of invalidations sent by a FUSE request thread: with
# max_threads=1 that thread was the only one that could serve the WRITE,
# so setting user.iomapfs.dontcache (or FS_IOC_SHUTDOWN) on such a file
# hung the mount for good.  Now the iomapfs-notify thread sends them:
# both scenarios finish, the store made through the mapping reaches the
# file, the daemon counts every queued invalidation as sent, and after the
# shutdown reads fail with EIO.  A hang is caught by a deadline, after
# which the test aborts the FUSE connection (fusectl) so that nothing is
# left stuck.
. "$(dirname "$0")/lib.sh" "$@"
export PYTHONPATH=$(cd "$(dirname "$0")" && pwd)	# iomapfs_counters.py

FUSECTL=/sys/fs/fuse/connections
FUSECTL_MOUNTED=false

# The FUSE connection of $MNT: its directory in fusectl is the mount's
# device number.
abort_connection() {
	local dev=$1
	if ! awk -v m="$FUSECTL" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
		mount -t fusectl none "$FUSECTL" && FUSECTL_MOUNTED=true
	fi
	echo 1 >"$FUSECTL/$dev/abort" || true
}

# Unmount fusectl again if this test mounted it, then the usual cleanup.
trap '_rc=$?; set +e; $FUSECTL_MOUNTED && umount "$FUSECTL"; (exit $_rc); cleanup' EXIT

# run_bounded WHAT CMD...: CMD must end within 90 s; else abort the
# connection (a hung invalidation) and fail.
run_bounded() {
	local what=$1 dev pid i
	shift
	dev=$(stat -c %d "$MNT")
	"$@" &
	pid=$!
	for ((i = 0; i < 900; i++)); do
		if ! pid_alive "$pid"; then
			wait "$pid" || fail "$what failed"
			return 0
		fi
		sleep 0.1
	done
	abort_connection "$dev"
	kill -KILL "$pid" 2>/dev/null
	fail "$what hung: an invalidation waited for a WRITE no request thread could serve"
}

cat >"$WORK/dirty_mmap.py" <<'PY'
from iomapfs_counters import counter
import errno, fcntl, mmap, os, struct, sys
mnt, what = sys.argv[1], sys.argv[2]
K = 4096
f = mnt + '/f'
def stat(name):
    return counter(mnt, name)

data = os.urandom(64 * K)
with open(f, 'wb') as w:
    w.write(data)
    os.fsync(w.fileno())
with open(f, 'rb') as r:	# the kernel caches the file's pages
    if r.read() != data:
        sys.exit('first read differs')
fd = os.open(f, os.O_RDWR)
m = mmap.mmap(fd, 64 * K)
m[K:2 * K] = b'm' * K		# a dirty page in the kernel's page cache
want = data[:K] + b'm' * K + data[2 * K:]
queued = stat('kernel_cache_invals')

if what == 'dontcache':
    os.setxattr(f, 'user.iomapfs.dontcache', b'1')
    if stat('kernel_cache_invals') != queued + 1:
        sys.exit('setting dontcache queued no invalidation')
    while stat('kernel_cache_invals_sent') < stat('kernel_cache_invals'):
        os.sched_yield()	# the deadline of run_bounded bounds this
    m.flush()
    m.close()
    os.close(fd)
    with open(f, 'rb') as r:
        if r.read() != want:
            sys.exit('the store through the mapping did not reach the file')
    print('dontcache: invalidated, mapped store kept')
else:
    FS_IOC_SHUTDOWN = 0x8004587d	# _IOR('X', 125, __u32)
    fcntl.ioctl(fd, FS_IOC_SHUTDOWN, struct.pack('I', 2))
    try:
        open(f, 'rb').read()
        sys.exit('a read succeeded after the shutdown')
    except OSError as e:
        if e.errno != errno.EIO:
            sys.exit('read after the shutdown: %s, want EIO' % e)
    print('shutdown: replied after the kernel pages went')
    m.close()
    os.close(fd)
PY

log "dontcache on a file with a dirty mapped page, one request thread"
setup_image 256M
mount_fs -o kernel_cache,max_threads=1
run_bounded "setting dontcache" python3 "$WORK/dirty_mmap.py" "$MNT" dontcache
umount_fs
fsck_clean

log "FS_IOC_SHUTDOWN with a dirty mapped page, one request thread"
setup_image 256M
mount_fs -o kernel_cache,max_threads=1
allow_log "shut down|shutdown|I/O error|writeback"
run_bounded "the shutdown" python3 "$WORK/dirty_mmap.py" "$MNT" shutdown
umount_fs --any-status
