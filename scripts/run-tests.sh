#!/bin/sh
# Run each Criterion test binary, then print one summary line over all of them.
# Usage: run-tests.sh BUILD_DIR TEST...
build=$1; shift
pass=0 fail=0 skip=0 bad=""
export MOBIUS_BUILD="$build"
for t in "$@"; do
	# --verbose so skipped tests show with their reason; RUN/PASS lines dropped
	out=$("$t" --jobs=2 --verbose 2>&1); rc=$?
	printf '%s\n' "$out" | grep -v -e '^\[RUN \]' -e '^\[PASS\]' -e '^\[----\] Criterion' -e '^\[====\] Running'

	line=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -n 1)
	tested=$(printf '%s' "$line" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	passing=$(printf '%s' "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	skipped=$(printf '%s\n' "$out" | grep -c '^\[SKIP\]')
	: "${tested:=0}" "${passing:=0}" "${skipped:=0}"
	# Criterion counts a skipped test as tested and passing
	pass=$((pass + passing - skipped)); skip=$((skip + skipped))
	if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
		bad="$bad $(basename "$t")"
		f=$((tested - passing)); [ "$f" -gt 0 ] || f=1
		fail=$((fail + f))
	fi
done
[ -n "$bad" ] && echo "failed binaries ($build):$bad"
echo "check: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
