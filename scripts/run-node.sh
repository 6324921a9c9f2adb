#!/bin/sh
# Run a whole Mobius node in a temporary directory (`make run`); every
# daemon confined in its sandbox (as root: dropped to user nobody): keys from mobius-keytool, mobius-hub on a Unix socket,
# mobius-sim with services/sim/sim.json, mobius-modbus against a local
# simulated Modbus device and mobius-gpio on a simulated chip when those
# programs are built, then `mobius watch` shows the values live.
#
# Ctrl-C (or MOBIUS_RUN_SECONDS=N: stop by itself after N seconds) stops
# everything: each daemon runs in its own process group, which is sent
# SIGTERM (SIGKILL after 3 s) and waited for; the directory is removed.
#
# Usage: scripts/run-node.sh [BUILD_DIR]
set -u

build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
hid=${MOBIUS_HID:-000001}
cli_user_id=00C1/0C1	# for `mobius` from another terminal
cli_watch_id=00C1/0C2	# for the watch below (its own key, so its log names it apart)

die() {
	echo "run-node: $*" >&2
	exit 1
}

for p in mobius-keytool mobius-hub mobius-sim mobius; do
	[ -x "$build/bin/$p" ] || die "$build/bin/$p is missing: run 'make all' first"
done
bin=$(cd "$build/bin" && pwd)

dir=$(mktemp -d "${TMPDIR:-/tmp}/mobius-node.XXXXXX") ||
	die "cannot create a temporary directory"
keys=$dir/keys
sock=$dir/run/hub.sock
mkdir "$dir/run" || die "cannot create $dir/run"
pids=""

# Stop every process group we started, then remove the directory.
cleanup() {
	trap - EXIT INT TERM HUP
	# Newest first: the watch goes before the hub it is watching.
	rev=""
	for p in $pids; do
		rev="$p $rev"
	done
	# The pid too: a child that has not reached setsid() yet has no group.
	for p in $rev; do
		kill -TERM "-$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
	done
	n=0
	while [ $n -lt 30 ]; do
		alive=""
		for p in $pids; do
			if kill -0 "-$p" 2>/dev/null || kill -0 "$p" 2>/dev/null; then
				alive="$alive $p"
			fi
		done
		[ -z "$alive" ] && break
		sleep 0.1
		n=$((n + 1))
	done
	for p in $pids; do
		kill -KILL "-$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$dir"
	echo "run-node: node stopped, $dir removed"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# start NAME LOG CMD...: in a new session (own process group, no terminal),
# so Ctrl-C reaches only this script and cleanup stops the whole group.
# LOG "-" keeps our stdout and stderr.
start() {
	name=$1 log=$2
	shift 2
	if [ "$log" = - ]; then
		setsid "$@" </dev/null &
	else
		setsid "$@" >"$log" 2>&1 </dev/null &
	fi
	pids="$pids $!"
	eval "pid_$name=\$!"
}

# wait_for PATH NAME LOG: until PATH exists (0), or 1 after showing the log.
wait_for() {
	n=0
	while [ ! -e "$1" ]; do
		eval "p=\$pid_$2"
		if ! kill -0 "$p" 2>/dev/null || [ $n -ge 100 ]; then
			echo "run-node: $2 did not start; its log:" >&2
			sed 's/^/  /' "$3" >&2
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
}

keytool() {
	"$bin/mobius-keytool" --dir "$keys" "$@" >>"$dir/keytool.log" 2>&1 ||
		die "mobius-keytool $*: failed: $(tail -n 3 "$dir/keytool.log")"
}

# Key file of SPID/SID: keytool writes DIR/<SID>.key.
keyfile() {
	echo "$keys/${1#*/}.key"
}

# The hardware services run when built, each with a simulated device.
modbus=""
gpio=""
if [ -x "$bin/mobius-modbus" ] && [ -f "$top/services/modbus/demo.json" ] &&
    [ -x "$top/tests/modbus_server.py" ]; then
	modbus=yes
fi
if [ -x "$bin/mobius-gpio" ] && [ -f "$top/services/gpio/demo.json" ]; then
	gpio=yes
fi
api=""
[ -x "$bin/mobius-api" ] && api=yes

# As root every daemon drops to a uid of its own, so that the kernel keeps
# them from signalling or ptracing each other whatever seccomp misses
# (docs/security.md).  This demo creates no users: it picks free ids
# (no passwd or group entry) and hands each daemon "UID:GID"
# (MOBIUS_SANDBOX_USER); all share one group, the one of the hub's socket.
# As a normal user the sandbox uses a user namespace and keeps the uid.
sandbox=""
note=""
ids=""
case $build in
*san | *san/) san=yes ;;
*) san="" ;;
esac
if [ -n "$san" ]; then
	# the hub's filter has no room for the ASan runtime preloaded into
	# mosquitto, and an unconfined root hub's socket is root's: all unconfined
	if [ "$(id -u)" -eq 0 ]; then
		sandbox=--no-sandbox
		note="
  (sanitizer build run as root: daemons started with --no-sandbox)"
	fi
elif [ "$(id -u)" -eq 0 ]; then
	# five free uids in a row and a free gid, from 64000 up
	base=64000
	while :; do
		free=yes
		for i in 0 1 2 3 4; do
			getent passwd $((base + i)) >/dev/null && free=""
		done
		getent group $base >/dev/null && free=""
		[ -n "$free" ] && break
		base=$((base + 5))
		[ $base -lt 65000 ] || die "no free uids in 64000..65000"
	done
	ids=yes gid=$base
	hub_ids=$base:$gid sim_ids=$((base + 1)):$gid
	modbus_ids=$((base + 2)):$gid gpio_ids=$((base + 3)):$gid
	api_ids=$((base + 4)):$gid
	note="
  (run as root: each daemon confined as a uid of its own: hub $base, sim $((base + 1)),
   modbus $((base + 2)), gpio $((base + 3)), api $((base + 4)); group $gid)"
fi

# Every key exists before the hub starts (it reads the keyring once).
keytool init --hid "$hid" --mode "${MOBIUS_MODE:-hardened}"
for id in 0010/010 "$cli_user_id" "$cli_watch_id" ${modbus:+0020/020} \
    ${gpio:+0030/030} ${api:+00A0/0A0}; do
	keytool add "$id"
done
# mobius-api: a demo token that may read and write the whole node
if [ -n "$api" ]; then
	api_port=${MOBIUS_API_PORT:-8443}
	api_token=$("$bin/mobius-keytool" --dir "$keys" api-token add demo \
	    --scope "rw:$hid/#" 2>>"$dir/keytool.log") || die "api-token add failed"
	cat >"$dir/api.json" <<EOF
{ "listen": "127.0.0.1", "port": $api_port, "www": "$top/api/www",
  "tokens": "$keys/api-tokens.json",
  "tls": { "cert": "$keys/api.crt", "key": "$keys/api.key" } }
EOF
fi

# `make SAN=1 run`: mosquitto is not built with ASan but loads our ASan
# plugin, so the ASan runtime must be preloaded into the hub.
hubenv=""
[ -n "$san" ] &&
	hubenv="LD_PRELOAD=$(cc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0"

# Each service's state directory (its operators' slots, docs/services.md).
mkdir -p "$dir/state/sim" "$dir/state/modbus" "$dir/state/gpio"
if [ -n "$ids" ]; then
	mkdir -p "$dir/state" "$dir/gpio-sim"
	chmod 0755 "$dir"
	# the hub re-reads its keys and owns its state and socket directory;
	# the group may pass through to its socket (srwxrwx---) and keys
	chown "$hub_ids" "$keys" "$keys/keyring" "$keys/hub.key" "$dir/state" \
		"$dir/run"
	chmod 0710 "$keys" "$dir/run"
	chown "$sim_ids" "$dir/state/sim"
	chown "$modbus_ids" "$dir/state/modbus"
	chown "$gpio_ids" "$dir/state/gpio" "$dir/gpio-sim"
	[ -n "$api" ] && chown "$api_ids" "$keys/api-tokens.json" "$keys/api.key" \
		"$keys/api.crt"
fi

start hub "$dir/hub.log" env $hubenv ${ids:+MOBIUS_SANDBOX_USER=$hub_ids} "$bin/mobius-hub" --keys "$keys" --socket "$sock" \
	--state "$dir/state" --foreground $sandbox
wait_for "$sock" hub "$dir/hub.log" || exit 1

services="mobius-sim ($hid/010)"
start sim "$dir/sim.log" env ${ids:+MOBIUS_SANDBOX_USER=$sim_ids} STATE_DIRECTORY="$dir/state/sim" "$bin/mobius-sim" --config "$top/services/sim/sim.json" \
	--key "$(keyfile 0010/010)" --socket "$sock" $sandbox

if [ -n "$modbus" ]; then
	port=${MOBIUS_MODBUS_PORT:-15020}
	start mbdev "$dir/modbus-device.log" "$top/tests/modbus_server.py" \
		--port "$port" --units 1 --demo --ready-file "$dir/modbus.ready"
	# The demo goes on without Modbus if the port is taken (MOBIUS_MODBUS_PORT).
	if wait_for "$dir/modbus.ready" mbdev "$dir/modbus-device.log"; then
		start modbus "$dir/modbus.log" env ${ids:+MOBIUS_SANDBOX_USER=$modbus_ids} \
			STATE_DIRECTORY="$dir/state/modbus" \
			"$bin/mobius-modbus" \
			--config "$top/services/modbus/demo.json" --port "$port" \
			--key "$(keyfile 0020/020)" --socket "$sock" $sandbox
		services="$services, mobius-modbus ($hid/020, device on 127.0.0.1:$port)"
	else
		echo "run-node: going on without mobius-modbus" >&2
	fi
fi
if [ -n "$gpio" ]; then
	mkdir -p "$dir/gpio-sim"
	start gpio "$dir/gpio.log" env ${ids:+MOBIUS_SANDBOX_USER=$gpio_ids} \
		STATE_DIRECTORY="$dir/state/gpio" \
		"$bin/mobius-gpio" \
		--config "$top/services/gpio/demo.json" --sim \
		--sim-dir "$dir/gpio-sim" \
		--key "$(keyfile 0030/030)" --socket "$sock" $sandbox
	services="$services, mobius-gpio ($hid/030, simulated chip)"
fi

api_use=""
if [ -n "$api" ]; then
	start api "$dir/api.log" env ${ids:+MOBIUS_SANDBOX_USER=$api_ids} \
		"$bin/mobius-api" --config "$dir/api.json" \
		--key "$(keyfile 00A0/0A0)" --socket "$sock" $sandbox
	services="$services, mobius-api ($hid/0A0)"
	url=https://127.0.0.1:$api_port
	api_use="
The API and dashboard (self-signed certificate: curl -k, or --cacert $keys/api.crt):
  token:     $api_token
  dashboard: $url/#token=$api_token
  curl -k -H 'Authorization: Bearer $api_token' $url/api/v1/discover
  curl -k -H 'Authorization: Bearer $api_token' -X PUT -d '{\"value\":23.5,\"priority\":8}' \\
       $url/api/v1/values/$hid/010/0102/0001/40
"
fi

mob=$bin/mobius
# keytool reload writes as the hub's uid (it owns the keyring) and waits
# for the hub's confirmation in its state directory.
kt="${ids:+MOBIUS_SANDBOX_USER=$hub_ids }$bin/mobius-keytool --dir $keys"
cat <<EOF

Mobius node $hid is running in $dir
  hub:      $sock
  services: $services
  logs:     $dir/*.log$note

Use it from another terminal:
  export MOBIUS_SOCKET=$sock
  export MOBIUS_KEY=$(keyfile $cli_user_id)
  $mob discover
  $mob get $hid/010/0101/0001/40                   # room temperature
  $mob set $hid/010/0102/0001/40 23.5 --priority 8 # heating setpoint
  $mob clear $hid/010/0102/0001/40 --priority 8
  $mob watch --json $hid/010/#
  $mob get --senml $hid/010/0101/0001              # an object as SenML

Keys (a new service's key, then the hub takes it without a restart):
  $kt add 0010/011
  $kt reload --state $dir/state
$api_use
Ctrl-C stops the node.  Live values follow (mobius watch):

EOF

export MOBIUS_SOCKET="$sock"
export MOBIUS_KEY="$(keyfile $cli_watch_id)"
sleep 0.5
"$mob" discover || true
echo
if [ -n "${MOBIUS_RUN_SECONDS:-}" ]; then
	start watch - "$mob" watch --duration "$MOBIUS_RUN_SECONDS"
else
	start watch - "$mob" watch
fi
# wait returns early when a trapped signal arrives, so Ctrl-C acts at once.
eval "wait \$pid_watch"
exit 0
