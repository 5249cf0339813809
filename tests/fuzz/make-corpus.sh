#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: the fuzz targets' seed corpus, made from real images: mkfs
# plus small workloads on tiny (4 MiB) images through the daemon, each
# image converted by img2input.py.  Nothing binary is checked in.
#
#   tests/fuzz/make-corpus.sh BINDIR OUTDIR
#
# BINDIR holds a normal build's iomapfs and mkfs.iomapfs (build/bin).
# Seeds: a fresh image; a tree of directories, files, symlinks, xattrs,
# a hard link, special files, a fragmented file, a preallocated file with
# a hole, and a directory large enough for a two-level B+tree; a dirty
# journal left by kill -9 after fsync, with an open unlinked file (an
# orphan).  Runs as root (FUSE), under the mount tests' timeout and
# cleanup (tests/mount/lib.sh).
OUT=${2:?usage: $0 BINDIR OUTDIR}
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../mount/lib.sh" "$@"

emit() {
	python3 "$HERE/img2input.py" "$IMG" "$OUT/$1" || fail "img2input $1"
	log "seed $1: $(stat -c %s "$OUT/$1") bytes"
}

fresh() {
	setup_image 4M -J 64
}

fresh
emit empty

log "a tree of everything a walk parses"
fresh
mount_fs
python3 - "$MNT" <<'PY' || fail "tree workload failed"
import os, sys
m = sys.argv[1]
os.makedirs(m + "/a/b/c")
for i in range(10):
    with open(f"{m}/a/f{i}", "wb") as f:
        f.write(bytes([i]) * (i * 1000 + 1))
os.symlink("f1", m + "/a/short")
os.symlink("x" * 2000, m + "/a/b/long")
os.setxattr(m + "/a/f1", "user.small", b"abc")
os.setxattr(m + "/a/f2", "user.big", os.urandom(3000))
os.setxattr(m + "/a/b", "user.dir", b"d")
os.link(m + "/a/f3", m + "/a/b/c/hard")
os.mkfifo(m + "/a/fifo")
os.mknod(m + "/a/null", 0o20644, os.makedev(1, 3))
# Fragmented: two files written block by block in turn, fsync each time.
fds = [os.open(f"{m}/frag{i}", os.O_CREAT | os.O_WRONLY) for i in (0, 1)]
for blk in range(12):
    for fd in fds:
        os.pwrite(fd, bytes([blk + 1]) * 4096, blk * 4096)
        os.fsync(fd)
for fd in fds:
    os.close(fd)
fd = os.open(m + "/prealloc", os.O_CREAT | os.O_WRONLY)
os.posix_fallocate(fd, 0, 64 << 10)
os.pwrite(fd, b"z" * 4096, 16 << 10)
os.truncate(fd, 128 << 10)
os.close(fd)
os.mkdir(m + "/big")
for i in range(60):
    open(f"{m}/big/entry-with-a-long-name-{i:04d}", "w").close()
PY
umount_fs
fsck_clean
emit tree

log "a dirty journal: kill -9 after fsync, an unlinked file still open"
fresh
mount_fs -o commit_interval_ms=600000
python3 - "$MNT" <<'PY' &
import os, sys, time
m = sys.argv[1]
os.mkdir(m + "/d")
for i in range(5):
    fd = os.open(f"{m}/d/f{i}", os.O_CREAT | os.O_WRONLY)
    os.write(fd, b"y" * (i * 3000 + 10))
    os.fsync(fd)
    os.close(fd)
os.setxattr(m + "/d/f1", "user.x", b"v" * 1500)
os.rename(m + "/d/f2", m + "/d/renamed")
held = os.open(m + "/d/f4", os.O_RDWR)
os.unlink(m + "/d/f4")
os.fsync(held)
dfd = os.open(m + "/d", os.O_RDONLY)
os.fsync(dfd)
print("ready", flush=True)
time.sleep(60)
PY
holder=$!
for ((i = 0; i < 100; i++)); do
	[ -e "$MNT/d/renamed" ] && [ ! -e "$MNT/d/f4" ] && break
	sleep 0.1
done
sleep 1
pid=$(daemon_pid)
kill -KILL "$pid"
wait_pid_gone "$pid" 30 || fail "daemon $pid did not die"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null || true
timeout 30 fusermount3 -u -z "$MNT" || fail "could not detach the dead mount"
emit dirty-journal
log "ok: $(ls "$OUT" | wc -l) seeds in $OUT"
