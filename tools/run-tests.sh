#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every test, as CI runs them (root; about 10 minutes on 2 cores):
#   1. build (tools/build.sh), unit tests of every layer (ctest -L unit)
#   2. mount-level tests (ctest -L mount), including the .deb install test
#   3. the unit tests again under ASan+UBSan (build-asan/, jemalloc off)
#   4. the fuzz targets, 20 s each from their seed corpus (tools/fuzz.sh)
#   5. xfstests-lite, quick group, against iomapfs (tests/check -g quick)
# Options: --no-asan, --no-fuzz, --no-xfstests, --only unit|mount|asan|fuzz|xfstests
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
want="unit mount asan fuzz xfstests"
while [ $# -gt 0 ]; do
	case "$1" in
	--no-asan) want=${want/asan/}; shift ;;
	--no-fuzz) want=${want/fuzz/}; shift ;;
	--no-xfstests) want=${want/xfstests/}; shift ;;
	--only) want=$2; shift 2 ;;
	*) echo "run-tests: unknown argument $1" >&2; exit 2 ;;
	esac
done
"$top/tools/install-deps.sh" || exit 1
fail=0
stage() { printf '\n==== %s\n' "$*"; }
has() { [[ " $want " == *" $1 "* ]]; }

stage "build"
"$top/tools/build.sh" build || exit 1
if has unit; then
	stage "unit tests"
	ctest --test-dir "$top/build" -L unit --output-on-failure -j2 || fail=1
fi
if has mount; then
	stage "mount-level tests"
	ctest --test-dir "$top/build" -L mount --output-on-failure || fail=1
fi
if has asan; then
	stage "unit tests under ASan+UBSan"
	"$top/tools/build.sh" build-asan -DIOMAPFS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug || exit 1
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir "$top/build-asan" -L unit --output-on-failure -j2 || fail=1
fi
if has fuzz; then
	stage "fuzz targets, 20 s each (clang, ASan+UBSan)"
	"$top/tools/fuzz.sh" all 20 || fail=1
fi
if has xfstests; then
	stage "xfstests-lite, quick group, on iomapfs"
	IOMAPFS_BIN="$top/build/bin" "$top/tests/check" -g quick || fail=1
fi
if [ $fail -ne 0 ]; then
	echo "run-tests: FAILED"
	exit 1
fi
echo "run-tests: all passed"
