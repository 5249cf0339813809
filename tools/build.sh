#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Configure and build into DIR (default build/).  Extra arguments go to cmake.
#   tools/build.sh                       release-with-debug build in build/
#   tools/build.sh build-asan -DIOMAPFS_SANITIZE=ON
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
shift || true
case "$dir" in /*) ;; *) dir="$top/$dir" ;; esac
cmake -S "$top" -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
# grep hides progress lines; the build's own status decides.
cmake --build "$dir" -j"$(nproc)" >/dev/null
