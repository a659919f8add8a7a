# floorpulse: `make demo` runs the whole system on this machine, `make test` runs every test.
# Tools the tests and the demo need are installed idempotently under .cache/ (ignored by git).

GO       ?= go
CACHE    := $(CURDIR)/.cache
TOOLBIN  := $(CACHE)/bin
BIN      := $(CURDIR)/bin
INFLUXD  := $(TOOLBIN)/influxd
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLBIN)/staticcheck-$(STATICCHECK_VERSION)
export PATH := $(TOOLBIN):$(PATH)

.PHONY: all build test lint unit demo tools mosquitto chromium bench fuzz clean release nab

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./agent/cmd/agent ./hub/cmd/hub ./simulators/cmd/simulator

# Tools -----------------------------------------------------------------------

tools: $(INFLUXD) $(STATICCHECK) mosquitto chromium

# InfluxDB OSS 1.8.10, built from the Go module proxy (about a minute on two cores).
$(INFLUXD):
	@mkdir -p $(TOOLBIN)
	GOBIN=$(TOOLBIN) GOFLAGS=-mod=mod $(GO) install github.com/influxdata/influxdb/cmd/influxd@v1.8.10

# staticcheck, pinned, built from the Go module proxy.
$(STATICCHECK):
	@mkdir -p $(TOOLBIN)
	GOBIN=$(TOOLBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLBIN)/staticcheck $@

# mosquitto from Debian's packages, when it is not there yet.
mosquitto:
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then :; else \
		echo "installing mosquitto (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; \
	fi

# Chromium and the Noto CJK fonts from Debian's packages, when they are not there yet: the
# browser tests drive headless Chromium, and `hub report -format pdf` prints through it.
chromium:
	@if { command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; } && [ -d /usr/share/fonts/opentype/noto ]; then :; else \
		echo "installing chromium and fonts-noto-cjk (Debian packages)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

# Tests -----------------------------------------------------------------------

test: tools lint
	$(GO) test -count=1 -timeout 14m ./...

# go vet, staticcheck, gofmt and a tidy go.mod: what a reviewer would otherwise catch.
lint: $(STATICCHECK)
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	@if command -v node >/dev/null; then for f in $$(git ls-files 'hub/internal/web/static/*.js' | grep -v '\.min\.js$$'); do node --check $$f || exit 1; done; fi

unit:
	$(GO) test -count=1 -short ./...

# Every fuzz target for FUZZTIME each (the seed corpora also run in `make test`).
FUZZTIME ?= 20s
fuzz:
	FUZZTIME=$(FUZZTIME) bash deploy/fuzz.sh

# Micro-benchmarks of every package, then the agent end to end: mosquitto -> agent binary ->
# JetStream beside a bare paho subscriber and a direct forwarder that keeps nothing on disk,
# 200,000 QoS 1 messages each: three runs as fast as the broker goes, three at 35,000 msgs/s
# and three at 70,000 msgs/s (a few minutes). See docs/performance.md.
bench: tools
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /agent/internal/benchmark)
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 3 -timeout 20m ./agent/internal/benchmark
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 3 -timeout 20m ./agent/internal/benchmark -args -rate 35000
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 3 -timeout 20m ./agent/internal/benchmark -args -rate 70000

# NAB -------------------------------------------------------------------------

# The gauge detector on the Numenta Anomaly Benchmark: the whole corpus and a
# 2-fold split (deploy/nab.sh; hub/internal/anomaly/gauge/README.md). NAB_CORPUS
# is NAB's data folder with combined_windows.json in it, NAB_SCORER a NAB
# scorer with NAB's command line; neither ships with this repository.
NAB_CORPUS ?= var/nab/corpus
NAB_SCORER ?= var/nab/nab_score.py
NAB_OUT    ?= var/nab/results
nab:
	@GO="$(GO)" NAB_CORPUS="$(NAB_CORPUS)" NAB_SCORER="$(NAB_SCORER)" NAB_OUT="$(NAB_OUT)" bash deploy/nab.sh

# Demo ------------------------------------------------------------------------

demo: tools build
	@bash deploy/demo.sh

clean:
	rm -rf $(BIN) var

# Release ---------------------------------------------------------------------

# Static binaries (no cgo) of agent, hub and simulator for the gateways' platforms, into dist/
# as <binary>-<os>-<arch>, with their SHA-256 sums in dist/SHA256SUMS.
RELEASE_PLATFORMS := linux/amd64 linux/arm64 linux/arm
release:
	@rm -rf $(CURDIR)/dist && mkdir -p $(CURDIR)/dist
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; \
		for cmd in agent/cmd/agent hub/cmd/hub simulators/cmd/simulator; do \
			name=$$(basename $$cmd)-$$os-$$arch; \
			echo "building dist/$$name"; \
			CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=7 \
				$(GO) build -trimpath -ldflags "-s -w" -o $(CURDIR)/dist/$$name ./$$cmd; \
		done; \
	done
	@cd $(CURDIR)/dist && sha256sum $$(ls | grep -v SHA256SUMS) > SHA256SUMS && ls -l
