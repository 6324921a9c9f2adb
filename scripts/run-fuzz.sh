#!/bin/sh
# Run each fuzzer for SECONDS: replay its corpus in the repo (every input,
# regression inputs included), then mutate into a scratch corpus.  One line
# per target: executions, corpus size, crashes.  Exit 1 on any crash, leak
# or timeout.  Usage: run-fuzz.sh FUZZ_BUILD REPO_CORPUS SECONDS FUZZER...
build=$1 repo=$2 secs=$3; shift 3
fail=0 total=0
for f in "$@"; do
	n=$(basename "$f")
	mkdir -p "$build/corpus/$n" "$repo/$n"
	log=$build/$n.log
	# what a target makes in a temp dir (key file, FIFOs) goes here
	rm -rf "$build/tmp"
	mkdir -p "$build/tmp"
	# -close_fd_mask=3: the targets' own logging (refused configs...)
	# would slow them down; libFuzzer still prints its reports.
	if TMPDIR=$(cd "$build/tmp" && pwd) "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
	    -detect_leaks=1 -print_final_stats=1 -close_fd_mask=3 \
	    -artifact_prefix="$build/crash-$n-" \
	    "$build/corpus/$n" "$repo/$n" > "$log" 2>&1; then
		crashes=0
	else
		crashes=1 fail=1
		tail -n 40 "$log"
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	total=$((total + ${execs:-0}))
	printf 'fuzz %-20s %9s execs  corpus %4d in repo + %4d new  crashes %d\n' \
	    "$n" "${execs:-?}" "$(ls "$repo/$n" | wc -l)" \
	    "$(ls "$build/corpus/$n" | wc -l)" "$crashes"
done
rm -rf "$build/tmp"
echo "fuzz: $# targets, $total executions, $([ $fail = 0 ] && echo 'no crash' || echo 'CRASHED (inputs in '"$build"'/crash-*)')"
exit $fail
