# mini-livechat — build, run and test. `make run` starts a dev server, `make test` runs every test.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PLATFORMS := linux/amd64 linux/arm64 linux/arm/7

.PHONY: build run test e2e bench lint dist clean fuzz

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/lcserver ./cmd/lcserver
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/lcadmin ./cmd/lcadmin

# Build, then exec the binary: the PID of `make run`'s shell step is the server's own, so
# killing it (or Ctrl-C) stops the server (`go run` would leave its child on the ports).
run: build
	exec bin/lcserver --dev --bind 127.0.0.1 --advertise-ip 127.0.0.1

# The whole suite with the race detector. Browser tests skip (with a line saying so) when
# Chromium or Firefox ESR is not installed; `make e2e` insists on both.
test:
	@[ -x /usr/lib/chromium/chromium ] || echo "SKIP Chromium browser tests (web/): Chromium not found at /usr/lib/chromium/chromium; apt-get install chromium, or make e2e to require them"
	@[ -x /usr/lib/firefox-esr/firefox-esr ] || echo "SKIP Firefox browser tests (web/): Firefox not found at /usr/lib/firefox-esr/firefox-esr; apt-get install firefox-esr, or make e2e to require them"
	$(GO) test -race -count=1 -timeout 15m ./...

e2e:
	LIVECHAT_E2E=require $(GO) test -race -count=1 -timeout 10m -run Browser ./...

# Every fuzz target for FUZZTIME each, one after another (go test -fuzz takes one target per
# run). Targets are discovered: any package with a Fuzz function in a _test.go file. Crashers
# land in <package>/testdata/fuzz/<Target>/ and `make test` replays them from then on.
# FUZZFLAGS passes more flags, e.g. FUZZFLAGS=-parallel=1 on a shared machine.
FUZZTIME  ?= 30s
FUZZFLAGS ?=
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for t in $$($(GO) test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "fuzz $$dir $$t for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$dir; \
		done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Static release binaries of lcserver and lcadmin for gateway devices (linux amd64, arm64,
# arm v7), version stamped, checked by deploy/check-dist.sh. Slow: not part of `make test`.
dist:
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%%/*}; rest=$${p#*/}; arch=$${rest%%/*}; arm=$${rest#*/}; \
		suffix=$$os-$$arch; [ "$$arch" = arm ] && suffix=$$suffix-v$$arm; \
		for b in lcserver lcadmin; do \
			CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=$$( [ "$$arch" = arm ] && echo $$arm ) \
			$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/$$b-$$suffix ./cmd/$$b; \
		done; echo "built dist/*-$$suffix"; \
	done
	deploy/check-dist.sh dist "$(VERSION)"

clean:
	rm -rf bin dist

# A short load run against a freshly built lcserver started as a child process on loopback
# ephemeral ports (cmd/lcload; docs/performance.md has the full scenarios and the figures).
.PHONY: load
load:
	$(GO) build -o bin/lcserver ./cmd/lcserver
	$(GO) run ./cmd/lcload media --spawn bin/lcserver --listeners 20 --duration 5s --quiet
	$(GO) run ./cmd/lcload signal --spawn bin/lcserver --sessions 200 --channels 10 --rounds 5 --quiet
