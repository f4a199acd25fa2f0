#!/bin/bash
# Run one libFuzzer target for a bounded time over the committed corpus, never writing
# into it: new inputs and crash artifacts go to a temporary directory, which is kept
# (and named) only when the target crashed.
# usage: run-fuzzer.sh TARGET SECONDS CORPUS_DIR
set -u
target=$1 seconds=$2 corpus=$3
work=$(mktemp -d /tmp/vpnd-fuzz.XXXXXX)
mkdir -p "$work/new" "$work/artifacts"
"$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$work/artifacts/" "$work/new" "$corpus" 2>"$work/log"
rc=$?
grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$work/log"
if [ $rc -ne 0 ]; then
	tail -n 60 "$work/log"
	echo "fuzzer failed (exit $rc); inputs kept in $work/artifacts"
	exit 1
fi
rm -rf "$work"
