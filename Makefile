# floorpulse: `make demo` runs the whole system on this machine, `make test` runs every test.
# Tools the tests and the demo need are installed idempotently under .cache/ (ignored by git).

GO       ?= go
CACHE    := $(CURDIR)/.cache
TOOLBIN  := $(CACHE)/bin
BIN      := $(CURDIR)/bin
INFLUXD  := $(TOOLBIN)/influxd
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLBIN)/staticcheck-$(STATICCHECK_VERSION)
TELEGRAF_VERSION := v1.37.2
TELEGRAF := $(TOOLBIN)/telegraf-$(TELEGRAF_VERSION)
export PATH := $(TOOLBIN):$(PATH)

.PHONY: all build test lint unit demo tools mosquitto chromium telegraf bench bench-docs fuzz clean release nab

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

# Telegraf, pinned, for the agent's comparison in `make bench` (BenchmarkPath): built from the Go
# module proxy with only the MQTT consumer, the NATS output and the JSON parsers and serializer
# (47 s on this 2-core machine with the module cache empty, Go's build cache warm from the project).
telegraf: $(TELEGRAF)
$(TELEGRAF):
	@mkdir -p $(TOOLBIN)
	GOBIN=$(TOOLBIN) $(GO) install -tags "custom,inputs.mqtt_consumer,outputs.nats,parsers.json_v2,parsers.json,serializers.json" \
		github.com/influxdata/telegraf/cmd/telegraf@$(TELEGRAF_VERSION)
	mv $(TOOLBIN)/telegraf $@

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

# Every benchmark (deploy/bench.sh): the micro-benchmarks of every package, the physical
# references, the agent against Telegraf (BenchmarkPath: PATH_ROUNDS alternating rounds of
# PATH_MSGS messages, PATH_DISK_MSGS for Telegraf's disk buffer), the agent in a flood against a
# direct forwarder, the agent and hub at scale (BACKLOG signals drained); raw output in
# var/bench/raw.txt, then the results table (deploy/benchtable/table.yaml) in
# var/bench/results.md and results.json, printed.
# `make bench-docs` puts the last table into docs/benchmarks.md. See docs/benchmarks.md.
PATH_MSGS      ?= 500000
PATH_DISK_MSGS ?= 30000
PATH_ROUNDS    ?= 3
FLOOD_ROUNDS   ?= 3
BACKLOG        ?= 1000000
bench: tools $(TELEGRAF)
	@GO="$(GO)" PATH_MSGS=$(PATH_MSGS) PATH_DISK_MSGS=$(PATH_DISK_MSGS) PATH_ROUNDS=$(PATH_ROUNDS) \
		FLOOD_ROUNDS=$(FLOOD_ROUNDS) BACKLOG=$(BACKLOG) bash deploy/bench.sh

bench-docs:
	$(GO) run ./deploy/benchtable -from-md -md var/bench/results.md -docs docs/benchmarks.md

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
