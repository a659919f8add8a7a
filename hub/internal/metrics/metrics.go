// Package metrics serves the hub's Prometheus metrics with the standard
// client library: the consumer's counters, what the engines set aside,
// InfluxDB writes, the NATS connection, event deliveries and the outbox
// depth per destination, disk use (store files, the signals stream), and
// the Go runtime and process collectors.
//
// Metric names are a contract (dashboards and alerts use them): a name is
// never renamed or retyped, only added. Every value is read from its owner
// at scrape time; counters count since the process started.
package metrics

import (
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events/delivery"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
)

// NATS is the hub's connection as the metrics see it (*nats.Conn).
type NATS interface {
	IsConnected() bool
	Stats() nats.Statistics
}

var _ NATS = (*nats.Conn)(nil)

// Sources are where the metrics are read from; a nil one is left out.
type Sources struct {
	Consume *consume.Stats
	// Engine sums the stats of the engines of the partitions held.
	Engine func() engine.Stats
	Influx *influx.Stats
	NATS   NATS
	// Deliveries are the delivery attempts per destination.
	Deliveries map[string]*delivery.Counts
	// Outbox counts the items waiting per destination.
	Outbox func() (map[string]int, error)
	// StateBytes and EventBytes are the sizes of the state and event store
	// files.
	StateBytes, EventBytes func() int64
	// Stream is the signals stream's size (ok false: not known); cached by
	// its owner, not a JetStream request per scrape.
	Stream func() (bytes, msgs uint64, ok bool)
	// OutOfWindow counts the signals set aside as outside the accepted time
	// window, per agent (a bounded set of labels).
	OutOfWindow func() map[string]uint64
}

// Collector is the hub's collector.
type Collector struct{ src Sources }

var _ prometheus.Collector = (*Collector)(nil)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	consumed      = desc("floorpulse_hub_signals_consumed_total", "Signals consumed and acknowledged.")
	bad           = desc("floorpulse_hub_bad_messages_total", "Messages on the signals stream that did not decode or belong to another partition, set aside.")
	mismatched    = desc("floorpulse_hub_subject_mismatch_total", "Signals whose subject names another site, line or equipment than their body, set aside.")
	batchFailures = desc("floorpulse_hub_batch_failures_total", "Batches whose effects could not be made durable (redelivered).")
	batches       = desc("floorpulse_hub_batches_total", "Batches consumed and acknowledged.")
	unmapped      = desc("floorpulse_hub_state_unmapped_total", "State signal values with no mapping (taken as unknown).")
	tooLate       = desc("floorpulse_hub_signals_too_late_total", "Signals set aside as later than state.max_lateness or older than the restatement horizon (retention.state).")
	tooLarge      = desc("floorpulse_hub_signals_too_large_total", "Signals set aside because their text value is longer than 4 KiB.")
	influxWrites  = desc("floorpulse_hub_influx_writes_total", "InfluxDB write requests that succeeded.")
	influxFails   = desc("floorpulse_hub_influx_write_failures_total", "InfluxDB write requests that failed (their figures are written again later).")
	influxPoints  = desc("floorpulse_hub_influx_points_total", "Points written to InfluxDB.")
	natsUp        = desc("floorpulse_hub_nats_connected", "1 when connected to NATS.")
	natsReconn    = desc("floorpulse_hub_nats_reconnects_total", "Reconnections to NATS.")
	delivered     = desc("floorpulse_hub_event_deliveries_total", "Event deliveries their receiver accepted, per destination (stream or webhook endpoint).", "destination")
	delivFails    = desc("floorpulse_hub_event_delivery_failures_total", "Failed event delivery attempts, per destination (retried, or dead-lettered).", "destination")
	deadLetters   = desc("floorpulse_hub_event_dead_letters_total", "Event deliveries moved to the dead letters, per destination.", "destination")
	outboxItems   = desc("floorpulse_hub_event_outbox_items", "Event deliveries waiting in the outbox, per destination.", "destination")
	stateBytes    = desc("floorpulse_hub_state_store_bytes", "Size of the state store files (state.db, or the partitions' stores) in bytes.")
	eventBytes    = desc("floorpulse_hub_event_store_bytes", "Size of the event store file (events.db) in bytes.")
	streamBytes   = desc("floorpulse_hub_stream_bytes", "Bytes held by the signals stream (read from JetStream at most every 5 s).")
	streamMsgs    = desc("floorpulse_hub_stream_messages", "Messages held by the signals stream (read from JetStream at most every 5 s).")
	outOfWindow   = desc("floorpulse_hub_signals_out_of_window_total", "Signals set aside because their source time is outside the accepted window (state.accept_age, state.max_clock_skew), per agent (the first 100; then other).", "agent")
	unregistered  = desc("floorpulse_hub_signals_unregistered_total", "Signals of equipment missing from the registry, accepted or rejected by the registry policy.", "decision")
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	s := c.src
	if s.Consume != nil {
		counter(consumed, s.Consume.Consumed.Load())
		counter(bad, s.Consume.Bad.Load())
		counter(mismatched, s.Consume.Mismatched.Load())
		counter(batchFailures, s.Consume.Failures.Load())
		counter(batches, s.Consume.Batches.Load())
	}
	if s.Engine != nil {
		es := s.Engine()
		counter(unmapped, es.UnmappedStates)
		counter(tooLate, es.TooLate)
		counter(tooLarge, es.TooLarge)
		counter(unregistered, es.UnregisteredAccepted, "accepted")
		counter(unregistered, es.UnregisteredRejected, "rejected")
	}
	if s.OutOfWindow != nil {
		for agent, n := range s.OutOfWindow() {
			counter(outOfWindow, n, agent)
		}
	}
	if s.Influx != nil {
		counter(influxWrites, s.Influx.Requests.Load())
		counter(influxFails, s.Influx.Failures.Load())
		counter(influxPoints, s.Influx.Points.Load())
	}
	if s.NATS != nil {
		up := 0.0
		if s.NATS.IsConnected() {
			up = 1
		}
		gauge(natsUp, up)
		counter(natsReconn, s.NATS.Stats().Reconnects)
	}
	for dest, n := range s.Deliveries {
		counter(delivered, n.Delivered.Load(), dest)
		counter(delivFails, n.Failed.Load(), dest)
		counter(deadLetters, n.Dead.Load(), dest)
	}
	if s.StateBytes != nil {
		gauge(stateBytes, float64(s.StateBytes()))
	}
	if s.EventBytes != nil {
		gauge(eventBytes, float64(s.EventBytes()))
	}
	if s.Stream != nil {
		if b, n, ok := s.Stream(); ok {
			gauge(streamBytes, float64(b))
			gauge(streamMsgs, float64(n))
		}
	}
	if s.Outbox != nil {
		if pending, err := s.Outbox(); err == nil {
			for dest := range s.Deliveries {
				gauge(outboxItems, float64(pending[dest]), dest)
			}
		}
	}
}

// Handler serves the hub's metrics with the Go runtime and process
// collectors.
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&Collector{src: src}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
