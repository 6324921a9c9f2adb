#!/bin/sh
# The npm modules the router tests run (aedes, ws, MQTT.js), installed
# from the lockfile kept in the repo: tests/node/package.json and
# package-lock.json, copied with the test scripts to BUILD/node, then
# `npm ci` there (again only when the lockfile changed).
#
#   scripts/node-deps.sh BUILD      prints BUILD/node when it is ready
#
# Exit 77 with the reason on stderr when node (20 or later) or npm is
# missing or npm ci fails (no registry and nothing in npm's cache): the caller skips.
set -u
build=$1 src=$(dirname "$0")/../tests/node dst=$1/node
for p in node npm; do
	command -v $p >/dev/null || { echo "$p is not installed (nodejs 20 or later and npm are needed)" >&2; exit 77; }
done
v=$(node -p 'process.versions.node')
[ "${v%%.*}" -ge 20 ] 2>/dev/null || { echo "node $v is older than 20, which aedes 1.2 needs" >&2; exit 77; }
mkdir -p "$dst" || exit 1
exec 9> "$dst/.lock"
flock 9
cp "$src"/package.json "$src"/package-lock.json "$src"/*.mjs "$dst"/ || exit 1
if ! cmp -s "$dst/package-lock.json" "$dst/node_modules/.mobius-lock" 2>/dev/null; then
	if ! (cd "$dst" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error \
		    --fetch-timeout=20000 --fetch-retries=1) > "$dst/npm-ci.log" 2>&1; then
		echo "npm ci failed in $dst (no registry or cache?): $(tail -n 1 "$dst/npm-ci.log")" >&2
		exit 77
	fi
	cp "$dst/package-lock.json" "$dst/node_modules/.mobius-lock"
fi
echo "$dst"
