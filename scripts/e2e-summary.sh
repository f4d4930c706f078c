#!/usr/bin/env bash
# Passes `go test -v` output through, then lists the skipped end-to-end tests
# again at the end so a skip is never silent. The test run's own exit status
# reaches make through pipefail (see the Makefile).
set -euo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tee "$out"
if grep -q -- '--- SKIP' "$out"; then
	echo
	echo "Skipped end-to-end tests (not counted as passing):"
	grep -A2 -- '--- SKIP' "$out" | sed 's/^/  /'
fi
