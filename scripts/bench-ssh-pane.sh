#!/usr/bin/env bash
# Bulk output through an SSH tab (the embedded terminal pane) and through
# full-screen SSH (S), in the TUI against its demo world, in a 120x40 tmux
# window: wall time from Enter until the end marker is on the screen, and
# the CPU time of the iapterm process (which also runs the demo's relay and
# SSH server, the same work in both rows).
#
# Usage: scripts/bench-ssh-pane.sh [MIB]
set -euo pipefail

mib=${1:-100}
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "bench-ssh-pane: tmux is required (Debian package tmux)" >&2; exit 1; }

work=$(mktemp -d)
sock=$work/tmux.sock
cleanup() {
	tmux -S "$sock" kill-server 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/iapterm" ./cmd/iapterm
home=$work/home
mkdir -p "$home"

t() { tmux -S "$sock" "$@"; }
screen() { t capture-pane -p -t bench; }
wait_text() {
	for _ in $(seq 1 3000); do
		if screen | grep -qF -- "$1"; then return 0; fi
		sleep 0.1
	done
	echo "bench-ssh-pane: timed out waiting for '$1' on:" >&2
	screen >&2
	return 1
}

t new-session -d -s bench -x 120 -y 40 -e "HOME=$home" -e "XDG_CONFIG_HOME=$home/.config" \
	-e "XDG_CACHE_HOME=$home/.cache" -e TERM=xterm-256color -e LANG=C.UTF-8 \
	"exec $work/iapterm ui --demo"
pid=$(t display-message -p -t bench '#{pane_pid}')
tck=$(getconf CLK_TCK)
cpu() { awk -v t="$tck" '{printf "%.2f", ($14+$15)/t}' "/proc/$pid/stat"; }

wait_text refreshed
# The demo's Linux VM, as e2e/tui_ssh_test.go finds it.
t send-keys -t bench /
t send-keys -t bench -l dev-alice
sleep 0.5
for k in Down Down Enter; do t send-keys -t bench "$k"; sleep 0.2; done

# run LABEL: type the command, time it until its marker is on the screen.
cmd="clear; yes 'the quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJ' | head -c $((mib << 20)); echo __do''ne__"
run() {
	t send-keys -t bench -l "$cmd"
	local c0 s0 s1 c1
	c0=$(cpu)
	s0=$(date +%s.%N)
	t send-keys -t bench Enter
	wait_text __done__
	s1=$(date +%s.%N)
	c1=$(cpu)
	printf '%-28s %6.1f s wall  %6.1f s CPU (iapterm)\n' "$1" "$(echo "$s1 - $s0" | bc)" "$(echo "$c1 - $c0" | bc)"
}

# An SSH tab.
t send-keys -t bench Enter
wait_text 'dev-alice:~'
run "$mib MiB, SSH tab"

# Back to the explorer (ctrl+] e), then full screen (S) on the same VM.
t send-keys -t bench C-]
t send-keys -t bench e
sleep 0.5
t send-keys -t bench S
sleep 1
wait_text 'dev-alice:~'
run "$mib MiB, full screen"

echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores, $(uname -m)"
