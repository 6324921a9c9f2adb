#!/bin/sh
# make soak: a node (mobius-hub, mobius-sim, `mobius watch`) at 1 000 COV/s
# for SOAK_SECONDS (default 3600), printing every SOAK_INTERVAL seconds
# (default 60) one line per daemon: resident memory, open descriptors and
# CPU over the interval, and the COVs the watcher received per second.
# A bench, not a test: nothing is asserted; read the figures for growth
# after warm-up (docs/operations.md "Soak").  Usage: soak.sh BUILD_DIR
set -u

build=${1:-build}
secs=${SOAK_SECONDS:-3600}
every=${SOAK_INTERVAL:-60}
top=$(cd "$(dirname "$0")/.." && pwd)
for p in mobius-keytool mobius-hub mobius-sim mobius; do
	[ -x "$build/bin/$p" ] || { echo "soak: $build/bin/$p is missing" >&2; exit 1; }
done
bin=$(cd "$build/bin" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/mobius-soak.XXXXXX") || exit 1
keys=$dir/keys sock=$dir/hub.sock pids=""

cleanup() {
	trap - EXIT INT TERM
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	sleep 1
	for p in $pids; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {
	log=$1
	shift
	"$@" >"$log" 2>&1 </dev/null &
	pids="$pids $!"
	last=$!
}

kt() {
	"$bin/mobius-keytool" --dir "$keys" "$@" >>"$dir/keytool.log" 2>&1 ||
		{ echo "soak: mobius-keytool $*: failed" >&2; exit 1; }
}
kt init --hid 000001 --mode hardened
kt add 0010/010
kt add 00C1/0C2

# 20 counters stepping every 20 ms: 1 000 changes, so 1 000 COVs, a second
# (two steps of one counter within one runtime tick make one COV: the
# watcher's figure says what arrived).
res=""
for i in 40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 51 52 53; do
	res="$res${res:+,}{\"rid\":\"$i\",\"name\":\"c$i\",\"type\":\"number\",
	  \"sim\":{\"model\":\"counter\",\"period\":0.02}}"
done
cat >"$dir/soak.json" <<JSON
{"name":"soak","objects":[{"pid":"0001","ins":"0001","name":"counters",
 "resources":[$res]}]}
JSON

# Unconfined (--no-sandbox): the figures are the daemons' own, and the
# soak runs as any user.  The sandbox adds no memory that grows.
start "$dir/hub.log" "$bin/mobius-hub" --keys "$keys" --socket "$sock" \
	--state "$dir" --foreground --no-sandbox
hub=$last
n=0
while [ ! -S "$sock" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ -S "$sock" ] || { echo "soak: the hub did not start:" >&2; cat "$dir/hub.log" >&2; exit 1; }
start "$dir/sim.log" "$bin/mobius-sim" --config "$dir/soak.json" \
	--key "$keys/010.key" --socket "$sock" --no-sandbox
sim=$last
# The watcher's lines are counted (a running total appended to $dir/count
# every 100 lines), not kept: they would be 150 kB/s.
mkfifo "$dir/watch.fifo"
awk -v f="$dir/count" '{ n++ } n % 100 == 0 { print n >> f; fflush(f) }' \
	<"$dir/watch.fifo" &
pids="$pids $!"
MOBIUS_SOCKET=$sock MOBIUS_KEY=$keys/0C2.key \
	"$bin/mobius" watch --json "000001/010/#" >"$dir/watch.fifo" \
	2>"$dir/watch.err" </dev/null &
watch=$!
pids="$pids $watch"
sleep 1
kill -0 "$watch" 2>/dev/null || { cat "$dir/watch.err" >&2; exit 1; }

tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
lines() { tail -n 1 "$dir/count" 2>/dev/null || echo 0; }

echo "soak: $secs s at 1 000 COV/s, a line every $every s (SOAK_SECONDS, SOAK_INTERVAL)"
printf '%6s  %-28s %-28s %-28s %s\n' time "hub (mosquitto+plugin)" mobius-sim \
	"mobius watch" "COV/s received"
c_hub=$(cpu $hub) c_sim=$(cpu $sim) c_watch=$(cpu $watch) l0=$(lines)
t=0
while [ $t -lt "$secs" ]; do
	sleep "$every"
	t=$((t + every))
	for p in $hub $sim $watch; do
		kill -0 "$p" 2>/dev/null || { echo "soak: pid $p died at $t s" >&2; exit 1; }
	done
	n_hub=$(cpu $hub) n_sim=$(cpu $sim) n_watch=$(cpu $watch) l1=$(lines)
	fmt() {
		printf 'rss %6s kB fd %3s cpu %5s%%' "$(rss "$1")" "$(fds "$1")" \
		    "$(awk -v a="$2" -v b="$3" -v t="$tck" -v s="$every" \
		    'BEGIN { printf "%.1f", (b - a) * 100 / t / s }')"
	}
	printf '%5ss  %-28s %-28s %-28s %s\n' "$t" "$(fmt $hub $c_hub $n_hub)" \
	    "$(fmt $sim $c_sim $n_sim)" "$(fmt $watch $c_watch $n_watch)" \
	    "$(( (l1 - l0) / every ))"
	c_hub=$n_hub c_sim=$n_sim c_watch=$n_watch l0=$l1
done
