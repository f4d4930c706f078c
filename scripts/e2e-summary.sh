#!/usr/bin/env bash
# Passes `go test -v` output through and keeps its exit status, then prints the
# skipped end-to-end tests again at the end so a skip is never silent.
set -o pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tee "$out"
status=${PIPESTATUS[0]}
if grep -q -- '--- SKIP' "$out"; then
	echo
	echo "Skipped end-to-end tests (not counted as passing):"
	grep -A2 -- '--- SKIP' "$out" | sed 's/^/  /'
fi
exit "$status"
