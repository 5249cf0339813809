#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hunt a crash inconsistency that shows up only now and then (root; not
# part of tools/run-tests.sh: minutes to hours).  Records and checks the
# given workloads again and again, each run with every crash state
# (tools/crashcheck.py run, --subsets 5), under changing conditions, and
# keeps every run that found an inconsistent state:
#
#   tools/crash-hunt.sh [-n RUNS] [-j JOBS] [-l LOADERS] [-o OPTSETS]
#                       [-w WORKDIR] [-e] WORKLOAD...
#
#   -n RUNS     runs in all (default 50), the workloads taken in turn
#   -j JOBS     crashcheck.py --jobs (default 2)
#   -l LOADERS  start that many niced busy loops for the whole hunt
#               (killed on exit), so the recording sees a loaded machine
#   -o OPTSETS  mount options for the recording, ";"-separated sets used in
#               turn, "-" for none (CRASHCHECK_RECORD_OPTS), e.g.
#               "-;commit_interval_ms=1;dirty_expire_ms=1;cache_size=4m"
#   -e          every other run with --each-section
#   -w WORKDIR  default /var/tmp/iomapfs-crash-hunt
#
# Prints one line per run ("N WORKLOAD [OPTS]: <checker's last line>") and
# a count at the end; exits 1 if any run found an inconsistent state.  A
# failing run's recording (base image, write log, oracle) and report stay
# in WORKDIR/fail-N: "tools/crashcheck.py check -d WORKDIR/fail-N -v"
# checks it again, and the report names the first inconsistent state.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=50 jobs=2 loaders=0 optsets=- work=/var/tmp/iomapfs-crash-hunt each=0
while getopts "n:j:l:o:w:e" c; do
	case $c in
	n) runs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	l) loaders=$OPTARG ;;
	o) optsets=$OPTARG ;;
	w) work=$OPTARG ;;
	e) each=1 ;;
	*) sed -n '3,/^set /{/^set /!p}' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || { echo "crash-hunt: which workloads? (see the header)" >&2; exit 2; }
wls=("$@")
IFS=';' read -ra opts <<< "$optsets"
: "${IOMAPFS_BIN:=$top/build/bin}"
export IOMAPFS_BIN

pids=()
stop_loaders() { [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null; pids=(); }
trap stop_loaders EXIT
for ((k = 0; k < loaders; k++)); do
	nice -n 10 bash -c 'while :; do :; done' &
	pids+=($!)
done

mkdir -p "$work"
bad=0
for ((i = 1; i <= runs; i++)); do
	wl=${wls[$(((i - 1) % ${#wls[@]}))]}
	o=${opts[$(((i - 1) / ${#wls[@]} % ${#opts[@]}))]}
	[ "$o" = - ] && o=
	extra=()
	[ $each = 1 ] && [ $((i % 2)) = 0 ] && extra=(--each-section)
	d=$work/run
	rm -rf "$d"
	CRASHCHECK_RECORD_OPTS=$o timeout -k 30 3600 python3 "$top/tools/crashcheck.py" \
		run "$wl" -d "$d" --subsets 5 --jobs "$jobs" "${extra[@]}" > "$work/report" 2>&1
	rc=$?
	echo "$i $wl [${o:-default}]${extra:+ ${extra[*]}}: $(tail -n 1 "$work/report") (status $rc)"
	if [ $rc -ne 0 ]; then
		bad=$((bad + 1))
		rm -rf "$work/fail-$i"
		cp -r --sparse=always "$d" "$work/fail-$i"
		cp "$work/report" "$work/fail-$i/report"
	fi
done
rm -rf "$work/run"
echo "crash-hunt: $runs runs, $bad with an inconsistent state or a failure"
[ $bad -eq 0 ]
