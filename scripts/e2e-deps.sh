#!/usr/bin/env bash
# Installs the real programs the end-to-end tests run against, from Debian's
# packages. Needs root and apt-get; `scripts/e2e-deps.sh PKG...` installs only
# the named packages.
set -euo pipefail
pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=(openssh-server openssh-client iperf3 tmux xrdp freerdp2-x11 xvfb chromium postgresql imagemagick)
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	echo "e2e-deps: not root or no apt-get; cannot install ${pkgs[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/iapterm-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +60 2>/dev/null)" ]; then
	apt-get update -qq
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
