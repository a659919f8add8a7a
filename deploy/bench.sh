#!/usr/bin/env bash
# What `make bench` runs: every benchmark of the repository, their raw output
# teed to var/bench/raw.txt, then the results table (deploy/benchtable) written
# to var/bench/results.md and results.json and printed. A benchmark that fails
# does not stop the others; its rows say "failed", and the script exits 1.
#
# PATH_MSGS, PATH_DISK_MSGS, PATH_ROUNDS size BenchmarkPath (the agent against
# Telegraf); FLOOD_ROUNDS the flood benchmark's rounds; BACKLOG the signals
# BenchmarkBacklogDrain buffers and drains.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
OUT=${BENCH_OUT:-var/bench}
PATH_MSGS=${PATH_MSGS:-500000}
PATH_DISK_MSGS=${PATH_DISK_MSGS:-30000}
PATH_ROUNDS=${PATH_ROUNDS:-3}
FLOOD_ROUNDS=${FLOOD_ROUNDS:-3}
BACKLOG=${BACKLOG:-1000000}
mkdir -p "$OUT"
raw=$OUT/raw.txt
: >"$raw"
failed=0
began=$(date +%s)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit=$commit+dirty; fi

# step NAME ARGS...: one go test run, its output teed to the raw file.
step() {
	local name=$1 t0=$(date +%s)
	shift
	echo "== $name" | tee -a "$raw"
	if ! "$GO" test -run '^$' "$@" 2>&1 | tee -a "$raw"; then
		failed=1
	fi
	echo "== $name: $(($(date +%s) - t0)) s" | tee -a "$raw"
}

# Micro-benchmarks: every package with a benchmark (only those are built),
# except the end-to-end packages, which run below, each benchmark once per round.
e2e='^agent/internal/benchmark$|^hub/internal/app$|^hub/internal/recompute$'
micro=$(grep -rl --include='*_test.go' -E '^func Benchmark' agent hub pkg simulators deploy | xargs -n1 dirname | sort -u |
	grep -Ev "$e2e" | sed 's|^|./|')
# shellcheck disable=SC2086
step "micro-benchmarks" -bench . -benchmem -timeout 10m $micro
step "physical references: JetStream publish and consume" -bench '^BenchmarkNATS' -benchtime 100000x -count 3 -timeout 5m \
	./agent/internal/benchmark
step "agent against Telegraf" -bench '^BenchmarkPath$' -benchtime 1x -timeout 20m \
	./agent/internal/benchmark -args -pathmsgs "$PATH_MSGS" -pathdiskmsgs "$PATH_DISK_MSGS" -pathrounds "$PATH_ROUNDS"
step "agent in a flood" -bench '^BenchmarkMQTTToJetStream$' -benchtime 1x -count "$FLOOD_ROUNDS" -timeout 10m \
	./agent/internal/benchmark
step "agent at scale" -bench '^Benchmark(BacklogDrain|OPCUAScale)$' -benchtime 1x -timeout 20m \
	./agent/internal/benchmark -args -backlog "$BACKLOG"
step "hub end to end" -bench '^Benchmark(HubIngest|(Downtime)?AlertLatency|PlantRSS|GrowthPerMachineMonth)$' -benchtime 1x -timeout 10m \
	./hub/internal/app
step "recompute" -bench '^Benchmark(RecomputeMonth|PlantRecompute)$' -benchtime 1x -timeout 10m \
	./hub/internal/recompute

echo "== all benchmarks: $(($(date +%s) - began)) s" | tee -a "$raw"
command="make bench (PATH_MSGS=$PATH_MSGS PATH_DISK_MSGS=$PATH_DISK_MSGS PATH_ROUNDS=$PATH_ROUNDS FLOOD_ROUNDS=$FLOOD_ROUNDS BACKLOG=$BACKLOG)"
if ! "$GO" run ./deploy/benchtable -raw "$raw" -spec deploy/benchtable/table.yaml \
	-md "$OUT/results.md" -json "$OUT/results.json" -command "$command" -commit "$commit"; then
	failed=1
fi
echo
echo "raw output: $raw; table: $OUT/results.md, $OUT/results.json ($(($(date +%s) - began)) s in all)"
exit $failed
