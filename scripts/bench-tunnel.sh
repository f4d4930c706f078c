#!/usr/bin/env bash
# Throughput of `iapterm tunnel` against the emulator (iperf3 behind it),
# compared with iperf3 directly on loopback and through two yardsticks on the
# same three loopback hops (scripts/tcpchain: plain TCP forwarding, copying
# through user space and with splice(2); scripts/wsrelay: the relay's
# WebSocket framing and nothing else), and the
# client's resident memory per idle tunnel connection.
#
# Usage: scripts/bench-tunnel.sh [SECONDS] [IDLE_CONNECTIONS]
set -euo pipefail

secs=${1:-10}
idle=${2:-1000}
cd "$(dirname "$0")/.."

for p in iperf3 python3; do
	command -v "$p" >/dev/null || { echo "bench-tunnel: $p is required (Debian package ${p})" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

. scripts/bench-lib.sh

go build -o "$work/iapterm" ./cmd/iapterm
go build -o "$work/tcpchain" ./scripts/tcpchain
go build -o "$work/wsrelay" ./scripts/wsrelay

iperf_port=$(freeport)
iperf3 -s -p "$iperf_port" >"$work/iperf3-server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)

# A trivial echo server for the idle-connection test.
echo_port=$(freeport)
python3 - "$echo_port" >"$work/echo.log" 2>&1 <<'EOF' &
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
async def handle(r, w):
    while data := await r.read(65536):
        w.write(data)
        await w.drain()
    w.close()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
EOF
pids+=($!)

start_emulator "5201=127.0.0.1:$iperf_port" "7=127.0.0.1:$echo_port"

"$work/iapterm" tunnel bench-vm 5201 --project bench --zone us-central1-a >"$work/tunnel.out" 2>"$work/tunnel.err" &
tun_pid=$!
pids+=($tun_pid)
tport=$(wait_line "$work/tunnel.out" '^Listening on port \[([0-9]+)\]\.$')

# cpu PID: user+system CPU time of PID in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The yardstick: the same three loopback hops through plain forwarders.
chain_port=$(freeport)
"$work/tcpchain" "127.0.0.1:$chain_port" "127.0.0.1:$(freeport)" "127.0.0.1:$iperf_port" 2>"$work/tcpchain.err" &
pids+=($!)
# The same, with the kernel moving the bytes (splice): no relay that reads
# its data can do better.
splice_port=$(freeport)
"$work/tcpchain" -splice "127.0.0.1:$splice_port" "127.0.0.1:$(freeport)" "127.0.0.1:$iperf_port" 2>"$work/splice.err" &
pids+=($!)

# The second yardstick: the same hops in two processes speaking only the
# relay's WebSocket framing (no ACKs, resume or send buffer).
ws_port=$(freeport)
ws_server=$(freeport)
"$work/wsrelay" server "127.0.0.1:$ws_server" "127.0.0.1:$iperf_port" 2>"$work/wsrelay-server.err" &
pids+=($!)
"$work/wsrelay" client "127.0.0.1:$ws_port" "127.0.0.1:$ws_server" 2>"$work/wsrelay-client.err" &
pids+=($!)

# measure NAME PORT [IPERF3 ARGS]: one iperf3 run through PORT. Appends to
# $work/runs "NAME Mbit/s" and the CPU seconds the run cost each process:
# the iperf3 client and server, the tunnel client and the emulator.
tick=$(getconf CLK_TCK)
measure() {
	local name=$1 port=$2 s0 c0 e0 s1 c1 e1 client
	shift 2
	s0=$(cpu "$server_pid"); c0=$(cpu "$tun_pid"); e0=$(cpu "$emu_pid")
	client=$( { TIMEFORMAT='%U %S'; time iperf3 -c 127.0.0.1 -p "$port" -t "$secs" -J "$@" >"$work/iperf3.json"; } 2>&1 )
	s1=$(cpu "$server_pid"); c1=$(cpu "$tun_pid"); e1=$(cpu "$emu_pid")
	echo "$name $(rate <"$work/iperf3.json") $client $(((s1 - s0))) $(((c1 - c0))) $(((e1 - e0)))" >>"$work/runs"
}

sleep 1
# Direct and tunnelled runs alternate, so both see about the same load from
# whatever else runs on the machine.
measure direct_up "$iperf_port"
measure tunnel_up "$tport"
measure direct_down "$iperf_port" -R
measure tunnel_down "$tport" -R
got() { awk -v n="$1" '$1 == n {print $2}' "$work/runs"; }
direct_up=$(got direct_up); tunnel_up=$(got tunnel_up)
direct_down=$(got direct_down); tunnel_down=$(got tunnel_down)
chain_up=$(iperf3 -c 127.0.0.1 -p "$chain_port" -t "$secs" -J | rate)
chain_down=$(iperf3 -c 127.0.0.1 -p "$chain_port" -t "$secs" -R -J | rate)
splice_up=$(iperf3 -c 127.0.0.1 -p "$splice_port" -t "$secs" -J | rate)
splice_down=$(iperf3 -c 127.0.0.1 -p "$splice_port" -t "$secs" -R -J | rate)
ws_up=$(iperf3 -c 127.0.0.1 -p "$ws_port" -t "$secs" -J | rate)
ws_down=$(iperf3 -c 127.0.0.1 -p "$ws_port" -t "$secs" -R -J | rate)

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
echo "machine: $(uname -m) $(uname -s), $(nproc) cores, $(go version | cut -d' ' -f3)"
echo "iperf3, ${secs}s per run, Mbit/s (receiver):"
printf '  %-26s %8s %8s\n' "" upload download
printf '  %-26s %8s %8s\n' "direct loopback" "$direct_up" "$direct_down"
printf '  %-26s %8s %8s\n' "through iapterm tunnel" "$tunnel_up" "$tunnel_down"
printf '  %-26s %8s %8s\n' "ratio tunnel/direct" "$(ratio "$tunnel_up" "$direct_up")" "$(ratio "$tunnel_down" "$direct_down")"
printf '  %-26s %8s %8s\n' "plain 3-hop TCP relay" "$chain_up" "$chain_down"
printf '  %-26s %8s %8s\n' "ratio relay/direct" "$(ratio "$chain_up" "$direct_up")" "$(ratio "$chain_down" "$direct_down")"
printf '  %-26s %8s %8s\n' "ratio tunnel/relay" "$(ratio "$tunnel_up" "$chain_up")" "$(ratio "$tunnel_down" "$chain_down")"
printf '  %-26s %8s %8s\n' "spliced 3-hop TCP relay" "$splice_up" "$splice_down"
printf '  %-26s %8s %8s\n' "ratio spliced/direct" "$(ratio "$splice_up" "$direct_up")" "$(ratio "$splice_down" "$direct_down")"
printf '  %-26s %8s %8s\n' "minimal WebSocket relay" "$ws_up" "$ws_down"
printf '  %-26s %8s %8s\n' "ratio minimal/direct" "$(ratio "$ws_up" "$direct_up")" "$(ratio "$ws_down" "$direct_down")"
printf '  %-26s %8s %8s\n' "ratio tunnel/minimal" "$(ratio "$tunnel_up" "$ws_up")" "$(ratio "$tunnel_down" "$ws_down")"
python3 - "$tick" "$secs" "$work/runs" <<'EOF2'
import sys
tick, secs = float(sys.argv[1]), float(sys.argv[2])
runs = {}
for line in open(sys.argv[3]):
    name, rate, cu, cs, server, tun, emu = line.split()
    gb = float(rate) * 1e6 * secs / 8 / 1e9
    runs[name] = (gb, {"iperf3 client": float(cu) + float(cs), "iperf3 server": int(server) / tick,
                       "tunnel client": int(tun) / tick, "emulator": int(emu) / tick})
t_client = sum(runs[n][1]["tunnel client"] for n in ("tunnel_up", "tunnel_down"))
t_emu = sum(runs[n][1]["emulator"] for n in ("tunnel_up", "tunnel_down"))
t_gb = sum(runs[n][0] for n in ("tunnel_up", "tunnel_down"))
print("CPU during the two tunnel runs (%ds wall): client %.1fs, emulator %.1fs;"
      " %.2f CPU seconds per GB moved (client and emulator)" % (2 * secs, t_client, t_emu, (t_client + t_emu) / t_gb))
# Every process here is a stage every byte goes through: given a core each,
# the slowest stage would set the pace. The busiest process per GB, direct
# against tunnelled, estimates the ratio on a machine with enough cores.
print("CPU seconds per GB moved, per process (kernel work is charged to whichever process ran it):")
for d in ("up", "down"):
    line = []
    worst = {}
    for kind in ("direct", "tunnel"):
        gb, procs = runs["%s_%s" % (kind, d)]
        used = {p: c / gb for p, c in procs.items() if kind == "tunnel" or p.startswith("iperf3")}
        worst[kind] = max(used.values())
        line.append("%s: %s" % (kind, ", ".join("%s %.2f" % (p, c) for p, c in used.items())))
    print("  %-4s %s" % (d, "; ".join(line)))
    print("       busiest stage direct/tunnel: %.2f (the ratio a core per process would allow)" % (worst["direct"] / worst["tunnel"]))
EOF2
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Idle connections: open them all, make sure each session is up (one byte
# echoed end to end), then read the client's resident memory.
"$work/iapterm" tunnel bench-vm 7 --project bench --zone us-central1-a >"$work/idle.out" 2>"$work/idle.err" &
idle_pid=$!
pids+=($idle_pid)
iport=$(wait_line "$work/idle.out" '^Listening on port \[([0-9]+)\]\.$')
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
sleep 1
before=$(rss "$idle_pid")
python3 - "$iport" "$idle" "$idle_pid" "$before" <<'EOF'
import resource, socket, sys, time
port, n, pid, before = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"x")
    if s.recv(1) != b"x":
        sys.exit("connection %d: no echo" % i)
    socks.append(s)
time.sleep(2)
def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
after = rss()
print("idle connections: %d open through one listener" % n)
print("  client RSS (VmRSS of the iapterm tunnel process): %d KiB before, %d KiB with %d idle connections" % (before, after, n))
print("  per connection: %.1f KiB" % ((after - before) / n))
for s in socks:
    s.close()
EOF
