#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: the repository stands on its own.  No tracked file may point
# at material outside it (a sibling "shared" folder, a "brief", "seed"
# folders): a reader of a fresh clone would find nothing there.  Fails
# naming every offending line.  This script is the only file allowed to
# spell the patterns out.
# Usage: self_contained.sh SOURCE_DIR
set -uo pipefail
top=${1:?usage: self_contained.sh SOURCE_DIR}
self=tests/repo/self_contained.sh
pattern='\.\./shared|the brief|seeds?/'

cd "$top" || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files() { git ls-files -co --exclude-standard; }
else
	files() { find . -type f -not -path './.git/*' -not -path './build*' | sed 's|^\./||'; }
fi
hits=$(files | grep -v -x -F "$self" | grep -v '^build' |
	xargs -d '\n' grep -n -I -i -E "$pattern" -- 2>/dev/null)
if [ -n "$hits" ]; then
	echo "self_contained: files refer to material outside the repository:" >&2
	echo "$hits" >&2
	exit 1
fi
echo "self_contained: no references outside the repository"
