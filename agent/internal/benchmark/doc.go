// Package benchmark measures the agent end to end, from outside: QoS 1
// messages published to a real mosquitto, read by the agent binary,
// committed to its bbolt queue and acknowledged by a real NATS JetStream
// stream, beside other programs doing the same job on the same machine at
// the same moment.
//
// BenchmarkMQTTToJetStream floods the broker: each run measures, side by
// side, a bare paho subscriber, the agent and (unless -direct=false) a
// direct forwarder (baresub -nats: the same paho subscriber publishing each
// message to the stream from its handler, nothing on disk, the broker
// acknowledged at once), so the agent's rate is reported as a ratio to both.
//
// BenchmarkPath measures the agent against Telegraf (with its memory and its
// disk buffer) and a bare subscriber, in alternating rounds, and counts lost
// and doubled messages in the stream. BenchmarkNATSPublish and
// BenchmarkNATSConsume are the physical references of the path: what
// nats.go and the NATS server do with nothing of ours around them.
//
// The agent, the bare subscriber (baresub) and Telegraf each run as a
// process of their own, the agent built as `make release` builds it, so
// their CPU time and peak resident memory are read from /proc (Linux only).
// The publisher and the NATS server run in the benchmark process; their CPU
// time is reported too, as is the broker's.
//
//	go test -run '^$' -bench MQTTToJetStream -benchtime 1x -count 3 ./agent/internal/benchmark
//	go test -run '^$' -bench Path -benchtime 1x ./agent/internal/benchmark -args -pathmsgs 200000 -pathrounds 3
package benchmark
