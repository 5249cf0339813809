#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: mkfs.iomapfs and fsck.iomapfs show progress on a terminal
# and only there.  Under script(1) (a pseudo-terminal) mkfs shows the
# bitmap write reaching 100% and fsck its inode scan reaching 100%; with
# standard error redirected to a file neither writes a single progress
# byte; -q keeps both silent on a terminal (mkfs also drops its summary).
# Usage: progress_on_tty.sh SOURCE_DIR BIN_DIR
set -uo pipefail
bin=${2:?usage: progress_on_tty.sh SOURCE_DIR BIN_DIR}
command -v script >/dev/null || { echo "progress_on_tty: script(1) missing" >&2; exit 1; }
work=$(mktemp -d /var/tmp/iomapfs-progress.XXXXXX)
trap 'rm -rf "$work"' EXIT
img=$work/img
truncate -s 2G "$img"
fail() { echo "FAIL: progress_on_tty: $*" >&2; exit 1; }
# on_tty CMD...: run under a pseudo-terminal, output (stdout+stderr) on stdout
on_tty() { timeout 120 script -qec "$*" /dev/null; }

out=$(on_tty "$bin/mkfs.iomapfs -f $img") || fail "mkfs on a tty failed: $out"
[[ $out == *"writing the free-space bitmap 100%"* ]] || fail "mkfs on a tty shows no progress: $out"
[[ $out == *"iomapfs version"* ]] || fail "mkfs on a tty printed no summary"

timeout 120 "$bin/mkfs.iomapfs" -f "$img" >"$work/out" 2>"$work/err" || fail "mkfs without a tty failed"
[ ! -s "$work/err" ] || fail "mkfs without a tty wrote to stderr: $(cat -v "$work/err")"
grep -q "iomapfs version" "$work/out" || fail "mkfs without a tty printed no summary"

out=$(on_tty "$bin/mkfs.iomapfs -q -f $img") || fail "mkfs -q failed: $out"
[ -z "$out" ] || fail "mkfs -q on a tty printed: $(echo "$out" | cat -v)"

out=$(on_tty "$bin/fsck.iomapfs -n $img") || fail "fsck on a tty failed: $out"
[[ $out == *"scanning inodes 100%"* ]] || fail "fsck on a tty shows no progress: $(echo "$out" | cat -v)"
[[ $out == *"clean"* ]] || fail "fsck on a tty printed no result"

timeout 120 "$bin/fsck.iomapfs" -n "$img" >"$work/out" 2>"$work/err" || fail "fsck without a tty failed"
[ ! -s "$work/err" ] || fail "fsck without a tty wrote to stderr: $(cat -v "$work/err")"
grep -q "clean" "$work/out" || fail "fsck without a tty printed no result"

out=$(on_tty "$bin/fsck.iomapfs -q -n $img") || fail "fsck -q failed: $out"
[[ $out != *scanning* ]] || fail "fsck -q on a tty shows progress"
[[ $out == *clean* ]] || fail "fsck -q on a tty printed no result"
echo "progress_on_tty: ok"
