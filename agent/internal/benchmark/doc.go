// Package benchmark measures the agent end to end: QoS 1 messages published
// to a real mosquitto, read by the agent binary, committed to its bbolt queue
// and acknowledged by a real NATS JetStream stream. Each run measures, side by
// side, a bare paho subscriber on the same kind of broker, so the agent's rate
// is reported as a ratio to what the broker delivers on the same machine at
// the same moment.
//
// The agent runs as its own process (built with go build), so its CPU time and
// peak resident memory are read from /proc (Linux only).
//
//	go test -run '^$' -bench . -benchtime 1x -count 3 ./agent/internal/benchmark
package benchmark
