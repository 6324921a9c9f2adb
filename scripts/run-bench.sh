#!/bin/sh
# Run each benchmark program in turn; each prints its own figures.  Those
# that report targets append one JSON object a line to $MOBIUS_RESULTS;
# the lines end up as one array in build/bench/results.json (name, value,
# unit, target, pass), and a MISS is listed again at the end.
set -e
out=build/bench/results.json
mkdir -p "$(dirname "$out")"
MOBIUS_RESULTS="$out.lines"
export MOBIUS_RESULTS
: > "$MOBIUS_RESULTS"
for b in "$@"; do
	echo "== $(basename "$b")"
	"$b"
done
{ echo '['; sed '$!s/$/,/' "$MOBIUS_RESULTS"; echo ']'; } > "$out"
rm -f "$MOBIUS_RESULTS"
echo "== results: $out"
grep -o '"name":"[^"]*","value":[^,]*,"unit":"[^"]*","target":"[^"]*","pass":false' "$out" |
    sed 's/^/MISS /' || true
