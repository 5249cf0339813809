# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the mount-level tests.  Each test script does
#
#	. "$(dirname "$0")/lib.sh" "$@"		# $1: the build's bin directory
#
# and gets: the script re-run under `timeout`, a private work directory
# ($WORK, with $IMG and $MNT), and an EXIT trap that on every path
# unmounts whatever is mounted below $WORK, stops every daemon the test
# started and removes $WORK.  Run as root.
#
#	setup_image SIZE [mkfs args]	truncate $IMG and mkfs it
#	mount_fs [-o opts] [IMG [MNT]]	start the daemon in the foreground
#					(tracked), wait until mounted
#	umount_fs [--any-status] [MNT]	fusermount3 -u, wait for the daemon to
#					exit (kill it after a timeout); it must
#					exit 0 unless --any-status
#	fsck_clean [IMG]		fsck.iomapfs -n must exit 0
#	stat_value NAME [MNT]		one counter from iomapfs-stat --once
#	allow_log REGEX			the daemon may log WARNING/ERROR lines
#					matching REGEX (extended) in this test
#	inject_setup SIZE REGEX		error-injection tests: a fresh SIZE
#					image, mounted; the daemon may log
#					REGEX (what the injected errors cause)
#	inject_py [ARGS]		run the Python script on stdin, argv
#					$MNT ARGS, 120 s at most, with
#					inject.py (set_rule, fsync_err, ...)
#					importable
#
# Every daemon logs to $WORK/messages (-o logfile=); umount_fs fails the
# test if a WARNING or ERROR line was logged that no allow_log matches, as
# fstests fails a test that left a warning in dmesg.
#	fail MSG			say what differed, exit 1
#	skip MSG			exit 77 (ctest: SKIP_RETURN_CODE)

set -euo pipefail

TEST_NAME=$(basename "$0" .sh)
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${IOMAPFS_TEST_TIMEOUT:=280}"
if [ -z "${IOMAPFS_UNDER_TIMEOUT:-}" ]; then
	export IOMAPFS_UNDER_TIMEOUT=1
	# SIGTERM first so the EXIT trap cleans up; SIGKILL 20 s later.
	exec timeout -k 20 "$IOMAPFS_TEST_TIMEOUT" bash "$0" "$@"
fi

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $TEST_NAME: $*" >&2
	exit 77
}

log() {
	echo "--- $TEST_NAME: $*"
}

BIN=${1:?usage: $0 BINDIR}
BIN=$(cd "$BIN" && pwd)
IOMAPFS=$BIN/iomapfs
MKFS=$BIN/mkfs.iomapfs
FSCK=${IOMAPFS_FSCK:-$BIN/fsck.iomapfs}	# override: e.g. a non-sanitizer build
STAT=$BIN/iomapfs-stat

[ "$(id -u)" = 0 ] || skip "needs root"
[ -e /dev/fuse ] || skip "no /dev/fuse"
for _b in "$IOMAPFS" "$MKFS" "$FSCK" "$STAT"; do
	[ -x "$_b" ] || fail "missing $_b (build it first)"
done

WORK=$(mktemp -d /var/tmp/iomapfs-"$TEST_NAME".XXXXXX)
IMG=$WORK/img
MNT=$WORK/mnt
mkdir -p "$MNT"
DAEMON_PIDS=()
declare -A DAEMON_OF=()		# mountpoint -> pid

mounts_below() {
	awk -v w="$1" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r
}

pid_alive() {
	kill -0 "$1" 2>/dev/null
}

# Wait up to $2 seconds for pid $1 to exit; 0 if it did.  The exit status
# of a child of ours lands in $DAEMON_STATUS (bash keeps it for `wait`).
DAEMON_STATUS=
wait_pid_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		if ! pid_alive "$pid"; then
			DAEMON_STATUS=0
			wait "$pid" 2>/dev/null || DAEMON_STATUS=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

cleanup() {
	local rc=$? m pid
	set +e
	trap - EXIT INT TERM
	for m in $(mounts_below "$WORK"); do
		timeout 20 fusermount3 -u "$m" 2>/dev/null ||
			timeout 20 fusermount3 -u -z "$m" 2>/dev/null ||
			umount -l "$m" 2>/dev/null
	done
	for pid in "${DAEMON_PIDS[@]}"; do
		pid_alive "$pid" || continue
		wait_pid_gone "$pid" 10 || kill -TERM "$pid" 2>/dev/null
		wait_pid_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null
		wait_pid_gone "$pid" 5
	done
	if [ "$rc" != 0 ] && [ -s "$WORK/daemon.log" ]; then
		echo "--- daemon log (last lines):" >&2
		tail -n 30 "$WORK/daemon.log" >&2
	fi
	rm -rf --one-file-system "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

setup_image() {
	local size=$1
	shift
	rm -f "$IMG"
	truncate -s "$size" "$IMG"
	timeout 120 "$MKFS" "$@" "$IMG" >"$WORK/mkfs.log" 2>&1 ||
		{ cat "$WORK/mkfs.log" >&2; fail "mkfs.iomapfs $size failed"; }
}

is_mounted() {
	awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { found = 1 } END { exit !found }' /proc/mounts
}

# mount_fs [-o OPTS] [IMG [MNT]]: the daemon runs in the foreground (-f)
# as our child, so the test knows its pid for kill -9 and for waiting.
mount_fs() {
	local opts=() img mnt pid i
	if [ "${1:-}" = -o ]; then
		opts=(-o "$2")
		shift 2
	fi
	img=${1:-$IMG}
	mnt=${2:-$MNT}
	mkdir -p "$mnt"
	"$IOMAPFS" "$img" "$mnt" -f "${opts[@]}" -o logfile="$WORK/messages" \
		>>"$WORK/daemon.log" 2>&1 &
	pid=$!
	DAEMON_PIDS+=("$pid")
	DAEMON_OF[$mnt]=$pid
	for ((i = 0; i < 300; i++)); do
		is_mounted "$mnt" && return 0
		pid_alive "$pid" || fail "daemon exited before mounting $mnt (see log)"
		sleep 0.1
	done
	fail "$mnt not mounted after 30 s"
}

daemon_pid() {
	echo "${DAEMON_OF[${1:-$MNT}]}"
}

# umount_fs [--any-status] [MNT]: the daemon must exit with status 0 and
# must not have warned (a failed final writeback, a broken invariant or a
# sanitizer report fails the test) unless --any-status says the
# filesystem was shut down.
umount_fs() {
	local any=false mnt pid
	if [ "${1:-}" = --any-status ]; then
		any=true
		shift
	fi
	mnt=${1:-$MNT}
	pid=${DAEMON_OF[$mnt]:-}
	timeout 60 fusermount3 -u "$mnt" || fail "fusermount3 -u $mnt failed"
	[ -n "$pid" ] || return 0
	if ! wait_pid_gone "$pid" 120; then
		kill -KILL "$pid" 2>/dev/null
		fail "daemon for $mnt did not exit within 120 s of unmount"
	fi
	$any || [ "$DAEMON_STATUS" = 0 ] ||
		fail "daemon for $mnt exited with status $DAEMON_STATUS"
	# A broken invariant warns once (WARN_ON_ONCE) and goes on: still a bug.
	$any || ! grep -q "WARNING at" "$WORK/daemon.log" ||
		fail "the daemon warned: $(grep -m 3 "WARNING at" "$WORK/daemon.log")"
	check_log
}

LOG_ALLOW=()
allow_log() {
	LOG_ALLOW+=("$1")
}

# The WARNING and ERROR lines of $WORK/messages that no allow_log matches.
unexpected_log() {
	local allow="^\$|"
	[ -f "$WORK/messages" ] || return 0
	[ ${#LOG_ALLOW[@]} = 0 ] || allow+=$(printf '(%s)|' "${LOG_ALLOW[@]}")
	grep -E '^[^ ]+ [^ ]+: (ERROR|WARNING): ' "$WORK/messages" |
		grep -Ev -- "${allow%|}" | head -n 5 || true
}

check_log() {
	local bad
	bad=$(unexpected_log)
	[ -z "$bad" ] || fail "the daemon logged: $bad"
}

fsck_clean() {
	local img=${1:-$IMG} rc=0
	timeout 120 "$FSCK" -n "$img" >"$WORK/fsck.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$WORK/fsck.log" >&2
		fail "fsck.iomapfs -n $img exited $rc"
	fi
}

# After a write error shut the filesystem down: the superblock keeps its
# ERROR mark ("run fsck") through the replaying mount, unless writing the
# mark failed too; fsck -y must find nothing else to repair (one problem at
# most), and fsck -n then passes.
fsck_after_error() {
	local img=${1:-$IMG} rc=0
	timeout 120 "$FSCK" -y "$img" >"$WORK/fsck.log" 2>&1 || rc=$?
	if [ "$rc" -gt 1 ] || ! grep -Eq ": clean, |: 1 problems repaired, 0 left" "$WORK/fsck.log"; then
		cat "$WORK/fsck.log" >&2
		fail "fsck.iomapfs -y $img exited $rc"
	fi
	fsck_clean "$img"
}

# After a shutdown: stat of FILE, a create beside it and a read of it
# must each fail with EIO.
expect_shut_down() {
	timeout 60 python3 - "$1" <<'PY' || fail "not shut down (see above)"
import errno, os, sys
path = sys.argv[1]
for what, op in (("stat", lambda: os.stat(path)),
                 ("create", lambda: os.open(path + ".new", os.O_CREAT | os.O_WRONLY)),
                 ("read", lambda: open(path, "rb").read(10))):
    try:
        op()
        sys.exit(what + " succeeded after the shutdown")
    except OSError as e:
        if e.errno != errno.EIO:
            sys.exit("%s failed with %s, want EIO" % (what, e))
PY
}

# new_dropbehind FILE: create FILE empty and make it drop-behind.
new_dropbehind() {
	touch "$1" && setfattr -n user.iomapfs.dontcache -v 1 "$1" ||
		fail "cannot make $1 drop-behind"
}

# cachestat FILE NAME: one counter of FILE's user.iomapfs.cachestat
# ("cached=N dirty=N writeback=N evicted=N ...").
cachestat() {
	getfattr --absolute-names --only-values -n user.iomapfs.cachestat "$1" |
		tr ' ' '\n' | awk -F= -v n="$2" '$1 == n { print $2 }'
}

# wait_written_back FILE: until FILE has no dirty and no writeback pages
# (at most 20 s); fails if writeback never completes.
wait_written_back() {
	local i
	for ((i = 0; i < 400; i++)); do
		[ "$(cachestat "$1" dirty)" = 0 ] && [ "$(cachestat "$1" writeback)" = 0 ] && return 0
		sleep 0.05
	done
	fail "writeback of $1 never completed: $(getfattr --absolute-names --only-values -n user.iomapfs.cachestat "$1")"
}

stat_value() {
	local name=$1 mnt=${2:-$MNT}
	timeout 10 "$STAT" "$mnt" --once | awk -v n="$name" '$1 == n { print $2; f = 1 } END { exit !f }' ||
		fail "iomapfs-stat has no counter $name"
}

# The start every error-injection test shares: SIZE image, mounted,
# with the daemon allowed to log what the injected errors cause.
inject_setup() {
	allow_log "$2"
	setup_image "$1"
	mount_fs
}

# Run the Python script on stdin as `script $MNT ARGS`, importing the
# injection helpers from tests/mount/inject.py.
inject_py() {
	PYTHONPATH=$LIB_DIR timeout 120 python3 - "$MNT" "$@"
}

# Run a command as nobody (uid/gid 65534, no supplementary groups).
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
}
