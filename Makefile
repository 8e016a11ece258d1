# mini-livechat — build, run and test. `make run` starts a dev server, `make test` runs every test.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VERSION   := $(VERSION)# expanded once: binaries and packages of one run carry the same version
LDFLAGS   := -s -w -X main.version=$(VERSION)
PLATFORMS := linux/amd64 linux/arm64 linux/arm/7

.PHONY: build run test e2e bench lint dist deb clean fuzz soak

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

# The soak (docs/reliability.md): lcload churns 40 users over 4 channels against a spawned
# lcserver for SOAK_DURATION, then checks that the server's sessions, members, peers,
# goroutines, fds and heap are back to their baseline; non-zero exit when they are not. The
# run's samples go to bin/soak.json. SOAK_FLAGS passes more flags (lcload soak --help).
SOAK_DURATION ?= 30m
SOAK_FLAGS    ?=
soak: build
	$(GO) build -o bin/lcload ./cmd/lcload
	bin/lcload soak --spawn bin/lcserver --duration $(SOAK_DURATION) --json bin/soak.json $(SOAK_FLAGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# gofmt, go vet, .ci/check-refs (no comment or document points at a file the repository lacks
# — docs/ is the contract comments cite — or at a path of a build machine), and the import
# rules of docs/architecture.md (cmd/internal/layering reads `go list` over the module: media
# imports no actors/admin/gateway, actors no admin/gateway, no binary links package testing).
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	.ci/check-refs
	$(GO) test -count=1 ./cmd/internal/layering

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

# Debian packages of the `make dist` binaries for amd64, arm64 and armhf, built by nfpm run
# from its module at a pinned version (nothing to install). deploy/nfpm.yaml says what goes
# in; deploy/deb_test.go then inspects the amd64 package with dpkg-deb. Debian versions must
# start with a digit: v1.2.0 → 1.2.0, v1.2.0-3-gabc → 1.2.0+3+gabc, abc1234 → 0.0.0+abc1234.
NFPM        ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
DEB_VERSION ?= $(shell echo "$(VERSION)" | sed -E 's/^v//; s/-/+/g; /^[0-9]+\./!s/^/0.0.0+/')
DEB_ARCHES  := amd64:linux-amd64 arm64:linux-arm64 arm7:linux-arm-v7

deb: dist
	@set -e; mkdir -p dist/pkg; for a in $(DEB_ARCHES); do \
		arch=$${a%%:*}; suffix=$${a#*:}; \
		cp dist/lcserver-$$suffix dist/pkg/lcserver; cp dist/lcadmin-$$suffix dist/pkg/lcadmin; \
		DEB_ARCH=$$arch DEB_VERSION="$(DEB_VERSION)" $(NFPM) package --config deploy/nfpm.yaml --packager deb --target dist/; \
	done; rm -rf dist/pkg
	LIVECHAT_DEB="$(CURDIR)/dist/lcserver_$(DEB_VERSION)_amd64.deb" $(GO) test -count=1 -run 'Deb|Maintainer|Package' -v ./deploy/

clean:
	rm -rf bin dist

# A short load run against a freshly built lcserver started as a child process on loopback
# ephemeral ports (cmd/lcload; docs/performance.md has the full scenarios and the figures).
.PHONY: load perf plot
load:
	$(GO) build -o bin/lcserver ./cmd/lcserver
	$(GO) build -o bin/lcload ./cmd/lcload
	bin/lcload media --spawn bin/lcserver --listeners 20 --duration 5s --rounds 1 --quiet
	bin/lcload signal --spawn bin/lcserver --sessions 200 --channels 10 --rounds 5 --quiet

# The media figures of docs/performance.md (≈ 15 min): lcserver and the floor relay in the same
# invocations, interleaved, records appended to docs/performance.jsonl. PERF_RUNS repeats them.
PERF_RUNS ?= 1
PERF_FLAGS := --server-flag=--floor-ping-timeout=60s --server-flag=--floor-max-duration=1h
perf:
	$(GO) build -o bin/lcserver ./cmd/lcserver
	$(GO) build -o bin/lcload ./cmd/lcload
	@set -e; for run in $$(seq $(PERF_RUNS)); do \
		for n in 20 50 100; do \
			nice -n -10 bin/lcload media --spawn bin/lcserver $(PERF_FLAGS) --listeners $$n --duration 10s \
				--rounds 3 --join-probes 10 --json docs/performance.jsonl --label $(VERSION) --quiet; \
		done; \
		nice -n -10 bin/lcload media --spawn bin/lcserver $(PERF_FLAGS) --listeners 100 --rate 1000 --duration 8s \
			--rounds 3 --join-probes 0 --decrypt-every 10 --json docs/performance.jsonl --label $(VERSION) --quiet; \
	done

# docs/performance.png from the records in docs/performance.jsonl and the reference figures.
plot:
	$(GO) run ./cmd/lcplot --in docs/performance.jsonl --ref docs/performance-reference.json --out docs/performance.png
