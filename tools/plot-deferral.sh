#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# plot-deferral: the deferral-latency distribution of each offload mode, as
# a plot file.  For every mode given, mkfs a fresh image, mount it with
# -o dontcache,offload=MODE, stream a file through the cache with fsync
# (every writeback completion of a drop-behind file is deferred to a task
# worker), read the defer_hist_* buckets with iomapfs-stat --once, and
# unmount.  Writes deferral.dat (share of completions per log2 bucket, one
# column per mode) and deferral.png (gnuplot) into the output directory.
# With --stats MODE=FILE it plots the buckets of a saved iomapfs-stat
# --once output instead of running (tools/bench-offload.sh does, per mode).
# Root; about 10 s per mode with the defaults.  Not part of the test command.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
	cat <<'EOF'
Usage: tools/plot-deferral.sh [options] [MODE...]

MODE is an offload mode (delayed, thread, adaptive); default: all three.
  --size MiB       data streamed per mode                        [512]
  --stats M=FILE   no run: mode M's buckets from FILE, the output of
                   iomapfs-stat --once, or several such outputs
                   concatenated (summed); repeatable; replaces MODEs
  --name NAME      output file names NAME.dat, NAME.FMT          [deferral]
  --title TEXT     the plot's title                [a description of the run]
  --out DIR        where NAME.dat and NAME.FMT go                [.]
  --format FMT     png or svg                                    [png]
  --bin DIR        iomapfs programs       [$IOMAPFS_BIN or build/bin]
  -h, --help       this text
EOF
}

die() { echo "plot-deferral: $*" >&2; exit 1; }

size=512 out=. format=png bin=${IOMAPFS_BIN:-$top/build/bin} modes=()
name=deferral title=""
declare -A stats_of=()
while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--size) size=$2; shift 2 ;;
	--stats)
		[[ $2 == ?*=?* ]] || die "--stats wants MODE=FILE"
		[ -r "${2#*=}" ] || die "cannot read ${2#*=}"
		stats_of[${2%%=*}]=${2#*=}; modes+=("${2%%=*}"); shift 2 ;;
	--name) name=$2; shift 2 ;;
	--title) title=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--format) format=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) modes+=("$1"); shift ;;
	esac
done
[ ${#modes[@]} -gt 0 ] || modes=(delayed thread adaptive)
case $format in png|svg) ;; *) die "--format must be png or svg" ;; esac
command -v gnuplot >/dev/null || die "gnuplot missing (tools/install-deps.sh installs gnuplot-nox)"
if [ ${#stats_of[@]} -eq 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "must run as root (FUSE mounts)"
	for p in iomapfs mkfs.iomapfs iomapfs-stat; do
		[ -x "$bin/$p" ] || die "no $bin/$p (build first, or --bin)"
	done
fi
: "${title:=iomapfs deferral latency (bio_complete_in_task to worker), drop-behind stream of $size MiB}"
mkdir -p "$out"

work=$(mktemp -d /var/tmp/plot-deferral.XXXXXX)
mnt=$work/mnt
mkdir "$mnt"
cleanup() {
	mountpoint -q "$mnt" && { fusermount3 -u "$mnt" || umount -l "$mnt"; }
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# hist_of: iomapfs-stat --once output on stdin -> "lower count" per bucket
# (several outputs one after another: summed per bucket).
hist_of() {
	awk '/^defer_hist_/ {
		v = $1; sub(/^defer_hist_/, "", v); sub(/us$/, "", v)
		if (!(v in c))
			order[++n] = v
		c[v] += $2
	}
	END { for (i = 1; i <= n; i++) print order[i], c[order[i]] }'
}

# run_mode MODE: the defer_hist_* lines of a streaming run, "lower count".
run_mode() {
	truncate -s $((size * 2 + 256))M "$work/img"
	"$bin/mkfs.iomapfs" -f "$work/img" >/dev/null
	timeout 60 "$bin/iomapfs" "$work/img" "$mnt" -o "dontcache,offload=$1"
	timeout 300 dd if=/dev/zero of="$mnt/stream" bs=1M count="$size" conv=fsync status=none
	timeout 300 cat "$mnt/stream" >/dev/null
	"$bin/iomapfs-stat" "$mnt" --once | hist_of
	timeout 120 fusermount3 -u "$mnt"
	for _ in $(seq 600); do
		fuser -s "$work/img" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$work/img"
}

for m in "${modes[@]}"; do
	if [ -n "${stats_of[$m]:-}" ]; then
		hist_of <"${stats_of[$m]}" >"$work/$m.hist"
		[ -s "$work/$m.hist" ] || die "no defer_hist_* counters in ${stats_of[$m]}"
		continue
	fi
	echo "plot-deferral: offload=$m, streaming $size MiB" >&2
	run_mode "$m" >"$work/$m.hist"
done

# One row per bucket: lower bound (us), then each mode's share in percent.
dat=$out/$name.dat
{
	printf '# lower_us'
	printf ' %s' "${modes[@]}"
	printf '\n'
	paste -d' ' $(for m in "${modes[@]}"; do echo "$work/$m.hist"; done) | awk '
	{
		rows[NR] = $0
		for (i = 2; i <= NF; i += 2) {
			total[i] += $i
			if ($i)
				last = NR
		}
	}
	END {	# up to one bucket past the slowest non-empty one
		for (r = 1; r <= NR && r <= last + 1; r++) {
			n = split(rows[r], f, " ")
			line = f[1]
			for (i = 2; i <= n; i += 2)
				line = line " " (total[i] ? sprintf("%.3f", 100 * f[i] / total[i]) : 0)
			print line
		}
	}'
} >"$dat"

plot=$out/$name.$format
{
	if [ "$format" = png ]; then
		echo "set terminal pngcairo size 900,500"
	else
		echo "set terminal svg size 900,500"
	fi
	echo "set output '$plot'"
	echo "set title '$title'"
	echo "set xlabel 'latency, lower bound of log2 bucket (us)'"
	echo "set ylabel 'share of deferred completions (%)'"
	echo "set logscale x 2"
	echo "set format x '%.0f'"
	echo "set termoption noenhanced"
	echo "set xrange [0.5:*]"
	echo "set grid"
	printf "plot "
	for i in "${!modes[@]}"; do
		[ "$i" -gt 0 ] && printf ", "
		printf "'%s' using (\$1 > 0 ? \$1 : 1):%d with linespoints title 'offload=%s'" \
			"$dat" $((i + 2)) "${modes[i]}"
	done
	printf '\n'
} | gnuplot
echo "plot-deferral: wrote $dat and $plot" >&2
