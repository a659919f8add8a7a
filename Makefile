# floorpulse: `make demo` runs the whole system on this machine, `make test` runs every test.
# Tools the tests and the demo need are installed idempotently under .cache/ (ignored by git).

GO       ?= go
CACHE    := $(CURDIR)/.cache
TOOLBIN  := $(CACHE)/bin
BIN      := $(CURDIR)/bin
INFLUXD  := $(TOOLBIN)/influxd
export PATH := $(TOOLBIN):$(PATH)

.PHONY: all build test unit demo tools mosquitto bench fuzz clean release

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./agent/cmd/agent ./hub/cmd/hub ./simulators/cmd/simulator

# Tools -----------------------------------------------------------------------

tools: $(INFLUXD) mosquitto

# InfluxDB OSS 1.8.10, built from the Go module proxy (about a minute on two cores).
$(INFLUXD):
	@mkdir -p $(TOOLBIN)
	GOBIN=$(TOOLBIN) GOFLAGS=-mod=mod $(GO) install github.com/influxdata/influxdb/cmd/influxd@v1.8.10

# mosquitto from Debian's packages, when it is not there yet.
mosquitto:
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then :; else \
		echo "installing mosquitto (Debian package)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; \
	fi

# Tests -----------------------------------------------------------------------

test: tools
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 14m ./...

unit:
	$(GO) test -count=1 -short ./...

fuzz:
	$(GO) test ./pkg/signal -run '^$$' -fuzz FuzzUnmarshal -fuzztime 30s

bench: tools
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Demo ------------------------------------------------------------------------

demo: tools build
	@bash deploy/demo.sh

clean:
	rm -rf $(BIN) var
