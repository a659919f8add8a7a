package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var _ prometheus.Collector = (*Registry)(nil)

// sourceLabels are the labels of every per-source metric.
var sourceLabels = []string{"kind", "source"}

// perSource are the metrics reported for each source, or only for the
// sources of one kind.
var perSource = []struct {
	kind  string // "" for every kind
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(*Source) float64
}{
	{"", prometheus.NewDesc("floorpulse_agent_source_connected", "1 when the source is connected.", sourceLabels, nil),
		prometheus.GaugeValue, func(s *Source) float64 { return b01(s.Connected.Load()) }},
	{"", prometheus.NewDesc("floorpulse_agent_source_subscribed", "1 when the source's subscriptions are active.", sourceLabels, nil),
		prometheus.GaugeValue, func(s *Source) float64 { return b01(s.Subscribed.Load()) }},
	{"", prometheus.NewDesc("floorpulse_agent_source_connects_total", "Connections made to the source: the first and every reconnect.", sourceLabels, nil),
		prometheus.CounterValue, func(s *Source) float64 { return float64(s.Connects.Load()) }},
	{"", prometheus.NewDesc("floorpulse_agent_signals_in_total", "Signals committed to the queue.", sourceLabels, nil),
		prometheus.CounterValue, func(s *Source) float64 { return float64(s.SignalsIn.Load()) }},
	{"", prometheus.NewDesc("floorpulse_agent_source_watermarks_total", "Watermarks committed: an equipment's source observed up to a time, so the hub holds its last state up to then.", sourceLabels, nil),
		prometheus.CounterValue, func(s *Source) float64 { return float64(s.Watermarks.Load()) }},
	{"opcua", prometheus.NewDesc("floorpulse_agent_source_backfilled_total", "OPC UA values read back from the server's history after a reconnect (opcua backfill).", sourceLabels, nil),
		prometheus.CounterValue, func(s *Source) float64 { return float64(s.Backfilled.Load()) }},
	{"opcua", prometheus.NewDesc("floorpulse_agent_source_sessions_restored_total", "OPC UA sessions (with their subscription) taken over instead of built anew: by a reconnect from the lost connection, or at start from the process before a restart.", sourceLabels, nil),
		prometheus.CounterValue, func(s *Source) float64 { return float64(s.Restores.Load()) }},
	{"opcua", prometheus.NewDesc("floorpulse_agent_source_republished_total", "OPC UA notification messages lost in transit and asked for again (Republish).", sourceLabels, nil),
		prometheus.CounterValue, func(s *Source) float64 { return float64(s.Republished.Load()) }},
	{"opcua", prometheus.NewDesc("floorpulse_agent_source_unrecovered_total", "OPC UA notification messages lost in transit that the server no longer had: their values are lost unless backfill reads them back.", sourceLabels, nil),
		prometheus.CounterValue, func(s *Source) float64 { return float64(s.Unrecovered.Load()) }},
	{"opcua", prometheus.NewDesc("floorpulse_agent_source_queue_overflows_total", "OPC UA values whose monitored item's queue on the server overflowed before them (older values discarded); with backfill, those are read back from history.", sourceLabels, nil),
		prometheus.CounterValue, func(s *Source) float64 { return float64(s.Overflows.Load()) }},
}

var (
	// decodeErrorsDesc had the labels kind and source only until the
	// reason was added: sum by (kind, source) gives the former series.
	decodeErrorsDesc = prometheus.NewDesc("floorpulse_agent_decode_errors_total",
		"Messages or values that could not be turned into signals, by reason; every reason is always present.", []string{"kind", "source", "reason"}, nil)
	clockOffsetDesc = prometheus.NewDesc("floorpulse_agent_source_clock_offset_seconds",
		"OPC UA: the server's clock minus the agent's (CurrentTime read at each session check, half the round trip allowed for).", sourceLabels, nil)

	queueRecordsDesc = prometheus.NewDesc("floorpulse_agent_queue_records",
		"Signals waiting in the on-disk queue.", nil, nil)
	queueBytesDesc = prometheus.NewDesc("floorpulse_agent_queue_bytes",
		"Encoded bytes waiting in the on-disk queue.", nil, nil)
	queueFileBytesDesc = prometheus.NewDesc("floorpulse_agent_queue_file_bytes",
		"Size of the queue file on disk (compacted at start when mostly free).", nil, nil)
	queueOldestAgeDesc = prometheus.NewDesc("floorpulse_agent_queue_oldest_age_seconds",
		"Seconds since the oldest unsent record was committed (0 when the queue is empty).", nil, nil)
	queueBlockedDesc = prometheus.NewDesc("floorpulse_agent_queue_blocked",
		"1 while the committer holds signals because the queue is full (policy block).", nil, nil)
	queueDroppedDesc = prometheus.NewDesc("floorpulse_agent_queue_dropped_total",
		"Signals dropped by the agent, by reason; each is covered by a gap marker unless undecodable or invalid.", []string{"reason"}, nil)

	forwardedDesc = prometheus.NewDesc("floorpulse_agent_forwarded_total",
		"Signals acknowledged by JetStream.", nil, nil)
	duplicatesDesc = prometheus.NewDesc("floorpulse_agent_forwarded_duplicates_total",
		"Forwarded signals JetStream reported as duplicates.", nil, nil)
	publishErrorsDesc = prometheus.NewDesc("floorpulse_agent_publish_errors_total",
		"Forwarding attempts that failed and were retried.", nil, nil)
	natsConnectedDesc = prometheus.NewDesc("floorpulse_agent_nats_connected",
		"1 when connected to NATS.", nil, nil)
)

// Describe sends the descriptor of every metric Collect may send, whether or
// not a source that reports it has been registered yet.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range perSource {
		ch <- m.desc
	}
	for _, d := range []*prometheus.Desc{decodeErrorsDesc, clockOffsetDesc,
		queueRecordsDesc, queueBytesDesc, queueFileBytesDesc, queueOldestAgeDesc, queueBlockedDesc, queueDroppedDesc,
		forwardedDesc, duplicatesDesc, publishErrorsDesc, natsConnectedDesc} {
		ch <- d
	}
}

// Collect reads the counters, the source states and the queue's snapshot
// and sends them as const metrics.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	srcs, queue := r.snapshot()
	for _, m := range perSource {
		for _, s := range srcs {
			if m.kind == "" || s.Kind == m.kind {
				ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.value(s), s.Kind, s.Name)
			}
		}
	}
	for _, s := range srcs {
		for r := range numDecodeReasons {
			ch <- prometheus.MustNewConstMetric(decodeErrorsDesc, prometheus.CounterValue, float64(s.DecodeErrors.Of(r)), s.Kind, s.Name, r.String())
		}
	}
	for _, s := range srcs {
		if s.ClockKnown.Load() {
			ch <- prometheus.MustNewConstMetric(clockOffsetDesc, prometheus.GaugeValue, time.Duration(s.ClockOffset.Load()).Seconds(), s.Kind, s.Name)
		}
	}

	var q Queue
	if queue != nil {
		q = queue()
	}
	ch <- prometheus.MustNewConstMetric(queueRecordsDesc, prometheus.GaugeValue, float64(q.Records))
	ch <- prometheus.MustNewConstMetric(queueBytesDesc, prometheus.GaugeValue, float64(q.Bytes))
	ch <- prometheus.MustNewConstMetric(queueFileBytesDesc, prometheus.GaugeValue, float64(q.FileBytes))
	ch <- prometheus.MustNewConstMetric(queueOldestAgeDesc, prometheus.GaugeValue, q.OldestAge.Seconds())
	ch <- prometheus.MustNewConstMetric(queueBlockedDesc, prometheus.GaugeValue, b01(q.Blocked))
	dropped := map[string]uint64{"undecodable": r.Undecodable.Load()}
	for k, v := range q.Dropped {
		dropped[k] += v
	}
	reasons := slices.Clone(DropReasons)
	for k := range dropped {
		if !slices.Contains(reasons, k) {
			reasons = append(reasons, k)
		}
	}
	for _, k := range reasons {
		ch <- prometheus.MustNewConstMetric(queueDroppedDesc, prometheus.CounterValue, float64(dropped[k]), k)
	}

	ch <- prometheus.MustNewConstMetric(forwardedDesc, prometheus.CounterValue, float64(r.Forwarded.Load()))
	ch <- prometheus.MustNewConstMetric(duplicatesDesc, prometheus.CounterValue, float64(r.Duplicates.Load()))
	ch <- prometheus.MustNewConstMetric(publishErrorsDesc, prometheus.CounterValue, float64(r.PublishErrors.Load()))
	ch <- prometheus.MustNewConstMetric(natsConnectedDesc, prometheus.GaugeValue, b01(r.NATSConnected.Load()))
}

func b01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
