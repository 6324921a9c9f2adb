#!/bin/sh
# `make run-peers`: two Mobius nodes (000001, 000002) peered through a
# no-man's broker on this machine (docs/router.md): mosquitto behind
# mobius-front (ws://), per node a hub, mobius-sim and mobius-router, the
# peer files exchanged with mobius-keytool export-peer.  Then node 1
# watches node 2's values (`mobius watch 000002/#`).
#
# Ctrl-C (or MOBIUS_RUN_SECONDS=N) stops everything and removes the
# directory.  As root the daemons are confined as user nobody.
#
# Usage: scripts/run-peers.sh [BUILD_DIR]
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "run-peers: $*" >&2; exit 1; }
for p in mobius-keytool mobius-hub mobius-sim mobius-router mobius-front mobius; do
	[ -x "$build/bin/$p" ] || die "$build/bin/$p is missing: run 'make all' first"
done
[ -x /usr/sbin/mosquitto ] || die "mosquitto is not installed"
bin=$(cd "$build/bin" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/mobius-peers.XXXXXX") || die "no temporary directory"
chmod 0755 "$dir"
pids=""
cleanup() {
	trap - EXIT INT TERM HUP
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.5
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
	echo "run-peers: stopped, $dir removed"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
start() {
	log=$1; shift
	"$@" </dev/null >"$log" 2>&1 &
	pids="$! $pids"
}
wait_for() {	# FILE TEXT LOG
	t=0
	until [ -e "$1" ] && grep -q "$2" "$1" 2>/dev/null; do
		[ $t -ge 150 ] && { sed 's/^/  /' "$3" >&2; die "timed out waiting for $2"; }
		sleep 0.1; t=$((t + 1))
	done
}

sandbox=""
if [ "$(id -u)" -eq 0 ]; then
	if id nobody >/dev/null 2>&1; then export MOBIUS_SANDBOX_USER=nobody; else sandbox=--no-sandbox; fi
fi
case $build in *san|*san/) sandbox=--no-sandbox ;; esac

# the broker
mqtt=${MOBIUS_PEERS_MQTT_PORT:-18831}
ws=${MOBIUS_PEERS_WS_PORT:-18081}
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n' \
    "$mqtt" > "$dir/mosquitto.conf"
start "$dir/mosquitto.log" /usr/sbin/mosquitto -c "$dir/mosquitto.conf"
wait_for "$dir/mosquitto.log" running "$dir/mosquitto.log"
start "$dir/front.log" "$bin/mobius-front" --port "$ws" --broker "127.0.0.1:$mqtt" $sandbox
wait_for "$dir/front.log" "mqtt 127" "$dir/front.log"

# keys: each node's own, then the other's peer file
for n in 1 2; do
	k=$dir/n$n/keys
	mkdir -p "$dir/n$n/state" "$dir/n$n/router"
	kt() { "$bin/mobius-keytool" --dir "$k" "$@" >>"$dir/keytool.log" 2>&1 || die "mobius-keytool $*: $(tail -n 3 "$dir/keytool.log")"; }
	kt init --hid 00000$n
	kt add 0010/010
	kt add 00F0/0F0
	kt add 00C1/0C1
	"$bin/mobius-keytool" --dir "$k" export-peer > "$dir/n$n/peer.txt" 2>>"$dir/keytool.log" || die "export-peer failed"
	if [ -n "${MOBIUS_SANDBOX_USER:-}" ]; then
		chown "$MOBIUS_SANDBOX_USER" "$k" "$k/keyring" "$k/hub.key" "$dir/n$n/state" "$dir/n$n" "$dir/n$n/router"
	fi
done
for n in 1 2; do	# peering by hand: import the other's export-peer output
	o=$((3 - n))
	"$bin/mobius-keytool" --dir "$dir/n$n/keys" import-peer "$dir/n$o/peer.txt" \
	    >>"$dir/keytool.log" 2>&1 || die "import-peer failed"
done
for n in 1 2; do
	o=$((3 - n))
	cat > "$dir/n$n/router.json" <<EOC
{ "broker": "ws://127.0.0.1:$ws/mqtt",
  "peers": [ { "hid": "00000$o",
    "read": ["00000$n/#"], "watch": ["00000$n/#"],
    "write": ["00000$n/010/0102/0001/40"] } ] }
EOC
	sock=$dir/n$n/hub.sock
	start "$dir/n$n/hub.log" "$bin/mobius-hub" --keys "$dir/n$n/keys" --socket "$sock" \
		--state "$dir/n$n/state" --foreground --opt remote_req=yes $sandbox
	wait_for "$dir/n$n/hub.log" running "$dir/n$n/hub.log"
	start "$dir/n$n/sim.log" "$bin/mobius-sim" --config "$top/services/sim/sim.json" \
		--key "$dir/n$n/keys/010.key" --socket "$sock" $sandbox
	start "$dir/n$n/router.log" "$bin/mobius-router" --config "$dir/n$n/router.json" \
		--key "$dir/n$n/keys/0F0.key" --external-key "$dir/n$n/keys/0F0.external.key" \
		--peers "$dir/n$n/keys/peers" --state "$dir/n$n/router" --socket "$sock" $sandbox
done
for n in 1 2; do
	wait_for "$dir/n$n/router.log" "reachable" "$dir/n$n/router.log"
done

cat <<EOT

Two nodes peered through a no-man's broker, in $dir
  broker:  ws://127.0.0.1:$ws/mqtt (mosquitto 127.0.0.1:$mqtt behind mobius-front)
  node 1:  hub $dir/n1/hub.sock, router stats $dir/n1/router/stats.json
  node 2:  hub $dir/n2/hub.sock
  logs:    $dir/*.log $dir/n*/*.log

From another terminal, as node 1's CLI:
  export MOBIUS_SOCKET=$dir/n1/hub.sock MOBIUS_KEY=$dir/n1/keys/0C1.key
  $bin/mobius discover 000002
  $bin/mobius get 000002/010/0101/0001/40
  $bin/mobius set 000002/010/0102/0001/40 23.5     # exported for writing
  $bin/mobius set 000002/010/0103/0001/40 true     # refused: not exported

Node 2's values, watched from node 1 (Ctrl-C stops everything):

EOT
export MOBIUS_SOCKET=$dir/n1/hub.sock MOBIUS_KEY=$dir/n1/keys/0C1.key
sleep 1
"$bin/mobius" discover 000002 || true
echo
if [ -n "${MOBIUS_RUN_SECONDS:-}" ]; then
	"$bin/mobius" watch --duration "$MOBIUS_RUN_SECONDS" '000002/#'
else
	"$bin/mobius" watch '000002/#' &
	wpid=$!
	pids="$wpid $pids"
	wait $wpid
fi
exit 0
