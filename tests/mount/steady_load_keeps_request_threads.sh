#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: a steady load of two jobs of 4 KiB reads does not end FUSE
# request threads: every thread of the daemon alive after a first round of
# the load is still alive after a second (libfuse may start more, up to
# max_threads, when a busy machine lets requests pile up).  Guards
# the churn a default of 4 idle threads caused on 2 CPUs (libfuse ended a
# thread whenever more than 4 were idle and started one on every burst:
# ~850 threads per 10 s).
. "$(dirname "$0")/lib.sh" "$@"

setup_image 256M
mount_fs
head -c 8M /dev/urandom >"$MNT/f"
pid=$(daemon_pid)

load() {	# two jobs of random 4 KiB reads, several bursts each
	python3 - "$MNT/f" <<'PY'
import os, random, sys, threading, time
def job(seed):
    r = random.Random(seed)
    fd = os.open(sys.argv[1], os.O_RDONLY)
    for burst in range(20):
        for _ in range(1500):
            os.pread(fd, 4096, r.randrange(2048) * 4096)
        time.sleep(0.02)	# bursts: idle threads pile up in between
    os.close(fd)
ts = [threading.Thread(target=job, args=(s,)) for s in (1, 2)]
for t in ts: t.start()
for t in ts: t.join()
PY
}

tids() {
	ls "/proc/$pid/task" | sort -n | tr '\n' ' '
}

load
sleep 0.5
first=$(tids)
load
sleep 0.5
second=$(tids)
log "threads after round 1: $first"
log "threads after round 2: $second"
for t in $first; do
	case " $second " in
	*" $t "*) ;;
	*) fail "request thread $t was ended under a steady load" ;;
	esac
done
umount_fs
log "ok"
