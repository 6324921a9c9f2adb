#!/bin/sh
# A two-node RabbitMQ cluster on this machine, with rabbitmq_web_mqtt, for
# the router test through a clustered broker (make check-rabbitmq).
#
#   scripts/rabbitmq-cluster.sh start DIR
#       prints "WS_PORT_A WS_PORT_B MQTT_PORT_A MQTT_PORT_B"
#   scripts/rabbitmq-cluster.sh user DIR HID PASSWORD
#       one router's user: docs/router.md's production commands, verbatim
#   scripts/rabbitmq-cluster.sh stop DIR
#
# Nodes mobius-a@localhost and mobius-b@localhost, everything (mnesia,
# logs, the Erlang cookie as $HOME/.erlang.cookie) under DIR; ws at
# ws://127.0.0.1:PORT/ws.  No anonymous MQTT login.  The plain MQTT TCP
# listeners are for the test's probes (mosquitto_pub/_sub as a router's
# user); RabbitMQ applies the same permissions to both transports.
set -u
cmd=$1 dir=$2
bin=/usr/lib/rabbitmq/bin
ctl() { HOME=$dir "$bin/rabbitmqctl" -n "$1@localhost" "$@" 2>&1 | tail -n 1 >&2; }
ctl_q() { n=$1; shift; HOME=$dir "$bin/rabbitmqctl" -n "$n@localhost" "$@" >/dev/null 2>&1; }
[ -x "$bin/rabbitmq-server" ] || { echo "rabbitmq-server is not installed" >&2; exit 77; }

node_start() {	# NAME AMQP WS DIST MQTT
	d=$dir/$1
	mkdir -p "$d/mnesia" "$d/log"
	cat > "$d/rabbitmq.conf" <<EOC
listeners.tcp.default = $2
web_mqtt.tcp.port = $3
mqtt.listeners.tcp.default = 127.0.0.1:$5
mqtt.allow_anonymous = false
EOC
	HOME=$dir RABBITMQ_NODENAME=$1@localhost RABBITMQ_DIST_PORT=$4 \
	RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log \
	RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf \
	RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_PID_FILE=$d/pid \
	setsid "$bin/rabbitmq-server" > "$d/server.out" 2>&1 < /dev/null &
	t=0
	until ctl_q "$1" await_startup --timeout 5; do
		t=$((t + 1))
		[ $t -ge 24 ] && { echo "RabbitMQ node $1 did not start; $d/server.out" >&2; exit 1; }
		sleep 1
	done
}

case $cmd in
start)
	mkdir -p "$dir"
	echo mobius-test-cookie > "$dir/.erlang.cookie"
	chmod 400 "$dir/.erlang.cookie"
	echo '[rabbitmq_mqtt,rabbitmq_web_mqtt].' > "$dir/enabled_plugins"
	base=${MOBIUS_RABBITMQ_BASE:-26000}
	node_start mobius-a $base $((base + 1)) $((base + 2)) $((base + 3))
	node_start mobius-b $((base + 10)) $((base + 11)) $((base + 12)) $((base + 13))
	ctl_q mobius-b stop_app && ctl_q mobius-b join_cluster mobius-a@localhost &&
	    ctl_q mobius-b start_app || { echo "join_cluster failed" >&2; exit 1; }
	echo "$((base + 1)) $((base + 11)) $((base + 3)) $((base + 13))"
	;;
user)
	# users and permissions are cluster-wide: set once, on node a
	hid=$3 pw=$4
	q="mqtt-subscription-mobius-router-$hid"
	ctl_q mobius-a add_user "$hid" "$pw" &&
	ctl_q mobius-a set_permissions -p / "$hid" "^$q" "^(amq\.topic|$q)" "^(amq\.topic|$q)" &&
	ctl_q mobius-a set_topic_permissions -p / "$hid" amq.topic \
	    '^mob\.x\.[^.]+\.{username}\.[^.]+$' '^mob\.x\.{username}\.' ||
	    { echo "user $hid: rabbitmqctl failed" >&2; exit 1; }
	;;
stop)
	ctl_q mobius-b stop
	ctl_q mobius-a stop
	# the Erlang port mapper the nodes started, when nobody else uses it
	if command -v epmd >/dev/null && ! epmd -names 2>/dev/null | grep -q '^name '; then
		epmd -kill >/dev/null 2>&1
	fi
	;;
*)
	echo "usage: $0 start|user|stop DIR [HID PASSWORD]" >&2
	exit 2
	;;
esac
