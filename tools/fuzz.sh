#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the libFuzzer targets (tests/fuzz/README.md):
#
#   tools/fuzz.sh TARGET|all SECONDS [libFuzzer options...]
#
# TARGET is fuzz_fsck, fuzz_mount or fuzz_replay; "all" runs them one
# after the other, SECONDS each.  Builds build-fuzz/ with clang
# (-DIOMAPFS_FUZZ=ON) and, once, the seed corpus in build-fuzz/seed-corpus from
# real images (tests/fuzz/make-corpus.sh, which needs build/bin and root
# for FUSE).  Each target's corpus grows in build-fuzz/corpus/TARGET; a
# crash leaves its input in build-fuzz/artifacts/ and fails with exit 1:
# reproduce with `build-fuzz/bin/TARGET ARTIFACT`.  Long runs on a shared
# machine: `nice -n 10 tools/fuzz.sh fuzz_fsck 3600`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: $0 fuzz_fsck|fuzz_mount|fuzz_replay|all SECONDS [libFuzzer options]}
secs=${2:?usage: $0 TARGET SECONDS}
shift 2
fb=$top/build-fuzz
targets=(fuzz_fsck fuzz_mount fuzz_replay)
[ "$target" = all ] || targets=("$target")

cmake -S "$top" -B "$fb" -DIOMAPFS_FUZZ=ON -DCMAKE_C_COMPILER=clang \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$fb" -j2 --target "${targets[@]}" >/dev/null
if [ ! -s "$fb/seed-corpus/tree" ]; then
	[ -x "$top/build/bin/iomapfs" ] || "$top/tools/build.sh" build
	rm -rf "$fb/seed-corpus"
	"$top/tests/fuzz/make-corpus.sh" "$top/build/bin" "$fb/seed-corpus.new" \
		>"$fb/make-corpus.log" 2>&1 || { cat "$fb/make-corpus.log" >&2; exit 1; }
	mv "$fb/seed-corpus.new" "$fb/seed-corpus"
fi
mkdir -p "$fb/artifacts"
# A smaller quarantine halves the cost of each run (every mount allocates
# and frees megabytes); use-after-free is still caught within 16 MiB.
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${targets[@]}"; do
	mkdir -p "$fb/corpus/$t"
	# Inputs that once crashed or hung a target (tests/fuzz/regress/,
	# gzip+base64 text, named TARGET-what.gz.b64) run first, once each:
	# a regression fails here before any fuzzing.
	rm -rf "$fb/regress/$t"; mkdir -p "$fb/regress/$t"
	for r in "$top/tests/fuzz/regress/$t"-*.gz.b64; do
		[ -e "$r" ] || continue
		base64 -d "$r" | gunzip >"$fb/regress/$t/$(basename "$r" .gz.b64)"
	done
	if compgen -G "$fb/regress/$t/*" >/dev/null &&
	   ! "$fb/bin/$t" -timeout=30 -rss_limit_mb=4096 -close_fd_mask=2 \
		"$fb/regress/$t"/* 2>"$fb/$t-regress.log"; then
		tail -n 40 "$fb/$t-regress.log" >&2
		echo "fuzz: $t FAILED on a regression input in tests/fuzz/regress/" >&2
		exit 1
	fi
	echo "fuzz: $t for $secs s"
	# -close_fd_mask=2: the targets' own messages (one per corrupt
	# structure) would drown libFuzzer's; sanitizer reports still show.
	if ! "$fb/bin/$t" -max_total_time="$secs" -max_len=262144 -timeout=60 \
		-rss_limit_mb=4096 -close_fd_mask=2 -print_final_stats=1 \
		-artifact_prefix="$fb/artifacts/$t-" "$@" \
		"$fb/corpus/$t" "$fb/seed-corpus" 2>"$fb/$t.log"; then
		tail -n 60 "$fb/$t.log" >&2
		echo "fuzz: $t FAILED: input in $fb/artifacts/ (full log $fb/$t.log)" >&2
		exit 1
	fi
	grep -E '^#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec' \
		"$fb/$t.log" || true
done
