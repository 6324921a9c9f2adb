#!/bin/sh
# Run each benchmark program in turn; each prints its own figures and ratios.
set -e
for b in "$@"; do
	echo "== $(basename "$b")"
	"$b"
done
