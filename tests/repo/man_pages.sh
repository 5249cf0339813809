#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Description: the man pages render without a single groff warning, and
# iomapfs(8) documents every mount option that `iomapfs --help` lists.  A
# new option added to the daemon without documentation fails this test,
# which names the option.
# Usage: man_pages.sh SOURCE_DIR BIN_DIR
set -uo pipefail
src=${1:?usage: man_pages.sh SOURCE_DIR BIN_DIR}
bin=${2:?usage: man_pages.sh SOURCE_DIR BIN_DIR}
fail=0

command -v groff >/dev/null || { echo "man_pages: groff missing (tools/install-deps.sh)" >&2; exit 1; }
for page in iomapfs.8 mkfs.iomapfs.8 fsck.iomapfs.8 iomapfs-stat.1; do
	f=$src/man/$page
	if [ ! -f "$f" ]; then
		echo "man_pages: $page is missing" >&2
		fail=1
		continue
	fi
	warnings=$(groff -man -ww -z "$f" 2>&1)
	if [ -n "$warnings" ]; then
		echo "man_pages: $page renders with warnings:" >&2
		echo "$warnings" >&2
		fail=1
	fi
done

# The option names from --help: "  name[=VALUE]  description" lines, and the
# comma-separated list lines ("  allow_other, fsname=, max_threads=N, ...").
help=$("$bin/iomapfs" --help 2>&1)
options=$(printf '%s\n' "$help" | awk '
	/^options:/ { on = 1; next }
	!on || !/^  / { next }
	/^  [a-z_]+[^ ]*  +/ { sub(/^  /, ""); sub(/[= ].*/, ""); print; next }
	{
		n = split($0, item, ",")
		for (i = 1; i <= n; i++) {
			sub(/^ +/, "", item[i])
			if (item[i] ~ /^[a-z_]+(=[A-Za-z]*)?( \([a-z ]*\))?$/) {
				sub(/[= ].*/, "", item[i])
				print item[i]
			}
		}
	}')
[ -n "$options" ] || { echo "man_pages: no options found in iomapfs --help" >&2; exit 1; }
for opt in $options; do
	if ! grep -Eq "(^|[^a-z_])${opt}([^a-z_]|$)" "$src/man/iomapfs.8"; then
		echo "man_pages: mount option '$opt' (iomapfs --help) is not documented in man/iomapfs.8" >&2
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "man_pages: $(echo $options | wc -w) options documented, no warnings"
exit $fail
