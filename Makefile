GO ?= go
# pipefail: a failing go test must fail the recipe even when piped.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: test unit e2e vet bench bench-tunnel bench-tunnel-rtt cross fuzz build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

unit:
	$(GO) test -race -count=1 ./...

# End-to-end tests against real programs (sshd, iperf3, xrdp, chromium, ...).
# They install what they need with apt-get when run as root, else skip loudly.
e2e:
	$(GO) test -tags e2e -count=1 -timeout 12m -v ./e2e/... 2>&1 | scripts/e2e-summary.sh

test: vet unit e2e

# Every release target must at least compile.
cross:
	for os in linux darwin windows; do for arch in amd64 arm64; do \
		echo "GOOS=$$os GOARCH=$$arch"; GOOS=$$os GOARCH=$$arch $(GO) build -o /dev/null ./cmd/iapterm || exit 1; \
	done; done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-tunnel:
	scripts/bench-tunnel.sh

# The same over a 20 ms round trip to the relay (scripts/delayproxy).
bench-tunnel-rtt:
	scripts/bench-tunnel-rtt.sh

# Every Fuzz* target in the repository, FUZZTIME each (go test -fuzz takes
# one target at a time). The seed corpora already run in `make unit`.
FUZZTIME ?= 10s
fuzz:
	@set -e; for dir in $$($(GO) list -f '{{$$d := .Dir}}{{range .TestGoFiles}}{{$$d}}/{{.}} {{end}}{{range .XTestGoFiles}}{{$$d}}/{{.}} {{end}}' ./... \
			| xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); do \
		for f in $$($(GO) test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "== $$dir $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done
