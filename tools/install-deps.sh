#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian packages iomapfs needs to build, test and benchmark.
# Skips apt entirely when everything is already there (fast re-runs).
set -euo pipefail

PKGS=(
	build-essential cmake pkg-config
	libfuse3-dev fuse3 liburing-dev libjemalloc-dev check
	python3 attr acl e2fsprogs xfsprogs fio util-linux bc
	fuse2fs groff-base dpkg-dev gnuplot-nox
	clang libclang-rt-14-dev
	libssl-dev
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
