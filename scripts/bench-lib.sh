# Shared by the tunnel benchmarks: sourcing it sets $work (a temporary
# directory removed on exit) and $pids (processes killed on exit), and
# defines freeport, wait_line, rate and start_emulator.

work=$(mktemp -d)
pids=()
bench_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap bench_cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_line FILE REGEX: print the first capture of REGEX once FILE has it.
wait_line() {
	for _ in $(seq 1 300); do
		if v=$(sed -nE "s/$2/\1/p" "$1" | head -n1) && [ -n "$v" ]; then echo "$v"; return 0; fi
		sleep 0.1
	done
	echo "${0##*/}: timed out waiting for /$2/ in $1:" >&2
	cat "$1" >&2
	return 1
}

# rate: iperf3's JSON on stdin; the receiver's rate in Mbit/s.
rate() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
print("%.0f" % (d["end"]["sum_received"]["bits_per_second"] / 1e6))'
}

# start_emulator PORT=HOST:PORT...: write a world with VM bench-vm in
# project bench whose ports stand for the given local addresses, start
# "$work/iapterm emulator" with it, and export IAPTERM_ENDPOINT and
# IAPTERM_ACCESS_TOKEN. Sets $emu_pid.
start_emulator() {
	{
		cat <<EOF2
users:
  - email: bench@example.com
projects:
  - id: bench
    iapTunnelIam:
      - role: roles/iap.tunnelResourceAccessor
        members: [user:bench@example.com]
    firewalls:
      - name: allow-iap
        sourceRanges: [35.235.240.0/20]
        allowed: [{IPProtocol: tcp}]
    instances:
      - name: bench-vm
        zone: us-central1-a
        backends:
EOF2
		for b in "$@"; do echo "          ${b%%=*}: ${b#*=}"; done
	} >"$work/world.yaml"
	"$work/iapterm" emulator --world "$work/world.yaml" >"$work/emulator.out" 2>"$work/emulator.err" &
	emu_pid=$!
	pids+=($emu_pid)
	IAPTERM_ENDPOINT=$(wait_line "$work/emulator.out" '^IAPTERM_ENDPOINT=(.*)$')
	IAPTERM_ACCESS_TOKEN=$(wait_line "$work/emulator.out" '^IAPTERM_ACCESS_TOKEN=(.*)$')
	export IAPTERM_ENDPOINT IAPTERM_ACCESS_TOKEN
}
