#!/bin/sh
# A no-man's broker for a demo (docs/router.md): Debian's mosquitto on
# 127.0.0.1 (TCP) with mobius-front in front of it (ws://127.0.0.1:PORT/).
# Runs in the foreground until Ctrl-C; everything in a temporary directory.
#
# Usage: scripts/run-broker.sh [BUILD_DIR [WS_PORT [MQTT_PORT]]]
set -u
build=${1:-build}
ws=${2:-8080}
mqtt=${3:-18830}
[ -x "$build/bin/mobius-front" ] || { echo "run-broker: $build/bin/mobius-front is missing: make all" >&2; exit 1; }
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "run-broker: mosquitto is not installed" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/mobius-broker.XXXXXX") || exit 1
trap 'kill $mpid $fpid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n' \
    "$mqtt" > "$dir/mosquitto.conf"
/usr/sbin/mosquitto -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 &
mpid=$!
sandbox=""
if [ "$(id -u)" -eq 0 ]; then
	if id nobody >/dev/null 2>&1; then export MOBIUS_SANDBOX_USER=nobody; else sandbox=--no-sandbox; fi
fi
sleep 0.3
"$build/bin/mobius-front" --listen 127.0.0.1 --port "$ws" --broker "127.0.0.1:$mqtt" $sandbox &
fpid=$!
echo "run-broker: no-man's broker at ws://127.0.0.1:$ws/ (mosquitto 127.0.0.1:$mqtt); Ctrl-C stops it"
wait $fpid
