#!/usr/bin/env bash
# Throughput of `iapterm tunnel` when the relay is a round trip away: a
# delaying forwarder (scripts/delayproxy) sits between the tunnel and the
# emulator, as the Internet sits between a client and Google's relay.
# iperf3 through the same forwarder without the tunnel is the yardstick:
# plain TCP over the same round trip.
#
# Usage: scripts/bench-tunnel-rtt.sh [RTT_MS] [SECONDS] [ROUNDS]
set -euo pipefail

rtt=${1:-20}
secs=${2:-5}
rounds=${3:-2}
cd "$(dirname "$0")/.."

for p in iperf3 python3; do
	command -v "$p" >/dev/null || { echo "bench-tunnel-rtt: $p is required (Debian package ${p})" >&2; exit 1; }
done

. scripts/bench-lib.sh

go build -o "$work/iapterm" ./cmd/iapterm
go build -o "$work/delayproxy" ./scripts/delayproxy

iperf_port=$(freeport)
iperf3 -s -p "$iperf_port" >"$work/iperf3-server.log" 2>&1 &
pids+=($!)
start_emulator "5201=127.0.0.1:$iperf_port"

one_way="$(python3 -c "print($rtt / 2)")ms"
relay_port=$(freeport)
"$work/delayproxy" -delay "$one_way" "127.0.0.1:$relay_port" "${IAPTERM_ENDPOINT#http://}" 2>"$work/delay-relay.err" &
pids+=($!)
plain_port=$(freeport)
"$work/delayproxy" -delay "$one_way" "127.0.0.1:$plain_port" "127.0.0.1:$iperf_port" 2>"$work/delay-plain.err" &
pids+=($!)

IAPTERM_ENDPOINT="http://127.0.0.1:$relay_port" "$work/iapterm" tunnel bench-vm 5201 --project bench --zone us-central1-a >"$work/tunnel.out" 2>"$work/tunnel.err" &
pids+=($!)
tport=$(wait_line "$work/tunnel.out" '^Listening on port \[([0-9]+)\]\.$')

echo "machine: $(uname -m) $(uname -s), $(nproc) cores, $(go version | cut -d' ' -f3)"
echo "round trip to the relay: ${rtt} ms (${one_way} each way); iperf3 ${secs}s per run, Mbit/s (receiver):"
printf '  %-8s %-28s %8s %8s\n' round "" upload download
for r in $(seq 1 "$rounds"); do
	t_up=$(iperf3 -c 127.0.0.1 -p "$tport" -t "$secs" -J | rate)
	p_up=$(iperf3 -c 127.0.0.1 -p "$plain_port" -t "$secs" -J | rate)
	t_down=$(iperf3 -c 127.0.0.1 -p "$tport" -t "$secs" -R -J | rate)
	p_down=$(iperf3 -c 127.0.0.1 -p "$plain_port" -t "$secs" -R -J | rate)
	printf '  %-8s %-28s %8s %8s\n' "$r" "through iapterm tunnel" "$t_up" "$t_down"
	printf '  %-8s %-28s %8s %8s\n' "$r" "plain TCP, same round trip" "$p_up" "$p_down"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
