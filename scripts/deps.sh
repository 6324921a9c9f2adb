#!/bin/sh
# Install the Debian packages named in $1 (one per line, # comments) that are
# not installed yet.  Needs root (or sudo) only when something is missing.
set -eu
list=${1:-debian-deps.txt}
missing=""
for p in $(grep -v '^[[:space:]]*#' "$list"); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
