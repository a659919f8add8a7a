// Package benchmark measures the agent end to end: QoS 1 messages published
// to a real mosquitto, read by the agent binary, committed to its bbolt queue
// and acknowledged by a real NATS JetStream stream. Each run measures, side by
// side, a bare paho subscriber on the same kind of broker, so the agent's rate
// is reported as a ratio to what the broker delivers on the same machine at
// the same moment.
//
// Unless -direct=false, each run also measures a direct forwarder (baresub
// -nats): the same paho subscriber publishing each message to the stream
// from its handler, nothing on disk, the broker acknowledged at once.
//
// The agent and the bare subscriber (baresub) each run as a process of their
// own, built as `make release` builds, so their CPU time and peak resident
// memory are read from /proc (Linux only). The publisher and the NATS server
// run in the benchmark process; their CPU time is reported too, as is the
// broker's.
//
//	go test -run '^$' -bench . -benchtime 1x -count 3 ./agent/internal/benchmark
package benchmark
