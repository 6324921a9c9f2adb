#!/bin/sh
# Exposure of each Mobius unit (`systemd-analyze security --offline`) and a
# `systemd-analyze verify` of it, against the targets in docs/security.md
# (issue 10: hub, sim, gpio <= 0.6; modbus, router <= 1.2).  Prints one
# table; exits 1 if a unit misses its target or does not verify.  Run by
# `make check`.
#
# verify runs against a scratch root holding the units, systemd's own units
# and stand-in executables at the ExecStart= paths, so it needs neither an
# installed Mobius nor a running systemd; the units' Documentation=man:
# pages are looked up in MAN_DIR (the man pages `make man` builds).
#
# Usage: scripts/systemd-scores.sh [SYSTEMD_DIR [MAN_DIR]]
set -u
dir=${1:-$(dirname "$0")/../systemd}
man=${2:-$(dirname "$0")/../build/man}
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found" >&2; exit 2; }

# unit, instance to verify, exposure target (0-10 scale)
units="mobius-hub.service mobius-hub.service 0.6
mobius-sim@.service mobius-sim@01F.service 0.6
mobius-gpio@.service mobius-gpio@020.service 0.6
mobius-modbus@.service mobius-modbus@030.service 1.2
mobius-router@.service mobius-router@0F0.service 1.2
mobius-api.service mobius-api.service 1.5
mobius-front.service mobius-front.service 1.5"

root=$(mktemp -d) || exit 2
trap 'rm -rf "$root"' EXIT INT TERM
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"; ln -s usr/lib "$root/lib"
cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
for b in hub sim gpio modbus router api front; do cp /bin/true "$root/usr/bin/mobius-$b"; done
cp /bin/true "$root/usr/sbin/mosquitto"
for k in /usr/bin/kill /bin/kill; do [ -x "$k" ] && { cp "$k" "$root/usr/bin/kill"; break; }; done
cp "$dir"/*.service "$root/etc/systemd/system/"
[ -d "$man" ] || { echo "$man: no man pages (make man)" >&2; exit 2; }
export MANPATH="$man"

printf '%-24s %8s %7s  %s\n' UNIT EXPOSURE TARGET VERIFY
echo "$units" | while read -r unit inst target; do
	# --threshold is on the 0-100 scale: 1.5 becomes 15
	thr=$(echo "$target" | awk '{ printf "%d", $1 * 10 }')
	out=$(systemd-analyze security --offline=true --threshold="$thr" \
	    "$dir/$unit" 2>&1); rc=$?
	score=$(printf '%s\n' "$out" |
	    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	vout=$(systemd-analyze verify --root="$root" "$inst" 2>&1)
	if [ -z "$vout" ]; then v=clean; else v="$vout"; fi
	status=ok
	[ "$rc" -eq 0 ] && [ -n "$score" ] || status="OVER TARGET"
	[ -z "$vout" ] || status="$status, verify failed"
	printf '%-24s %8s %7s  %s  %s\n' "$unit" "${score:-?}" "$target" "$v" "$status"
	[ "$status" = ok ] || echo fail >> "$root/failed"
done
[ ! -e "$root/failed" ]
