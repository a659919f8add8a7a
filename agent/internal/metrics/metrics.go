// Package metrics holds the agent's counters and source states and serves
// them over HTTP: /healthz (200 while the process runs), /readyz (200 when
// every source is connected and subscribed, else 503 with the reasons as
// JSON) and /metrics (Prometheus text format).
//
// Metric names are a contract (dashboards and alerts use them): a name is
// never renamed or retyped, only added. Counters count since the process
// started; every label value of floorpulse_agent_queue_dropped_total in
// DropReasons is always present.
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Source is the state of one source (an MQTT broker or OPC UA server connection).
type Source struct {
	Kind string // mqtt | opcua
	Name string // broker URL or endpoint

	Connected    atomic.Bool
	Subscribed   atomic.Bool
	Connects     atomic.Uint64 // connections made: the first and every reconnect
	SignalsIn    atomic.Uint64 // signals committed to the queue
	DecodeErrors atomic.Uint64 // messages or values that could not be turned into signals
	Backfilled   atomic.Uint64 // OPC UA: values read back from the server's history after a reconnect
	Restores     atomic.Uint64 // OPC UA: sessions taken over from a lost connection, or at start from the last process
	Republished  atomic.Uint64 // OPC UA: notification messages asked for again (Republish) after they were lost in transit
	Unrecovered  atomic.Uint64 // OPC UA: notification messages lost in transit that the server no longer had
	Overflows    atomic.Uint64 // OPC UA: values that arrived after the server's queue for their node overflowed

	// OPC UA: the server's clock minus the agent's, measured at each
	// session check; reported once ClockKnown.
	ClockOffset atomic.Int64 // nanoseconds
	ClockKnown  atomic.Bool
}

// Queue is a snapshot of the queue.
type Queue struct {
	Records   uint64
	Bytes     uint64            // encoded signal bytes
	FileBytes uint64            // size of the queue file
	OldestAge time.Duration     // since the oldest unsent record was committed; 0 when empty
	Dropped   map[string]uint64 // signals dropped since start, by reason
	Blocked   bool              // the committer waits for room (policy block)
}

// DropReasons are the reason label values of
// floorpulse_agent_queue_dropped_total that are always reported (0 until
// something is dropped): the queue's policies and max age, an invalid signal
// refused by the committer, a queue record that no longer decodes.
var DropReasons = []string{"drop_oldest", "drop_newest", "max_age", "invalid", "undecodable"}

// Registry is every counter of one agent.
type Registry struct {
	Forwarded     atomic.Uint64 // signals acknowledged by JetStream
	Duplicates    atomic.Uint64 // of those, acknowledged as duplicates
	PublishErrors atomic.Uint64 // failed batches (retried)
	Undecodable   atomic.Uint64 // queue records the forwarder skipped because they no longer decode
	NATSConnected atomic.Bool

	mu      sync.Mutex
	sources []*Source
	queue   func() Queue
}

// Source registers and returns a source.
func (r *Registry) Source(kind, name string) *Source {
	s := &Source{Kind: kind, Name: name}
	r.mu.Lock()
	r.sources = append(r.sources, s)
	r.mu.Unlock()
	return s
}

// SetQueue sets the function that reports the queue's size.
func (r *Registry) SetQueue(f func() Queue) {
	r.mu.Lock()
	r.queue = f
	r.mu.Unlock()
}

func (r *Registry) snapshot() ([]*Source, func() Queue) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Source(nil), r.sources...), r.queue
}

// Ready reports whether every source is connected and subscribed, and why not.
func (r *Registry) Ready() (bool, []string) {
	srcs, _ := r.snapshot()
	if len(srcs) == 0 {
		return false, []string{"no source started yet"}
	}
	var reasons []string
	for _, s := range srcs {
		switch {
		case !s.Connected.Load():
			reasons = append(reasons, fmt.Sprintf("%s %s: not connected", s.Kind, s.Name))
		case !s.Subscribed.Load():
			reasons = append(reasons, fmt.Sprintf("%s %s: not subscribed", s.Kind, s.Name))
		}
	}
	return len(reasons) == 0, reasons
}

// WriteText writes the metrics in Prometheus text exposition format.
func (r *Registry) WriteText(w io.Writer) {
	srcs, queue := r.snapshot()
	sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].Kind+srcs[i].Name < srcs[j].Kind+srcs[j].Name })
	b01 := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	perSourceOf := func(kind, name, typ, help string, v func(*Source) uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range srcs {
			if kind == "" || s.Kind == kind {
				fmt.Fprintf(w, "%s{kind=%q,source=%q} %d\n", name, s.Kind, escape(s.Name), v(s))
			}
		}
	}
	perSource := func(name, typ, help string, v func(*Source) uint64) { perSourceOf("", name, typ, help, v) }
	perSource("floorpulse_agent_source_connected", "gauge", "1 when the source is connected.", func(s *Source) uint64 { return uint64(b01(s.Connected.Load())) })
	perSource("floorpulse_agent_source_subscribed", "gauge", "1 when the source's subscriptions are active.", func(s *Source) uint64 { return uint64(b01(s.Subscribed.Load())) })
	perSource("floorpulse_agent_source_connects_total", "counter", "Connections made to the source: the first and every reconnect.", func(s *Source) uint64 { return s.Connects.Load() })
	perSource("floorpulse_agent_signals_in_total", "counter", "Signals committed to the queue.", func(s *Source) uint64 { return s.SignalsIn.Load() })
	perSource("floorpulse_agent_decode_errors_total", "counter", "Messages or values that could not be turned into signals.", func(s *Source) uint64 { return s.DecodeErrors.Load() })
	perSourceOf("opcua", "floorpulse_agent_source_backfilled_total", "counter", "OPC UA values read back from the server's history after a reconnect (opcua backfill).", func(s *Source) uint64 { return s.Backfilled.Load() })
	perSourceOf("opcua", "floorpulse_agent_source_sessions_restored_total", "counter", "OPC UA sessions (with their subscription) taken over instead of built anew: by a reconnect from the lost connection, or at start from the process before a restart.", func(s *Source) uint64 { return s.Restores.Load() })
	perSourceOf("opcua", "floorpulse_agent_source_republished_total", "counter", "OPC UA notification messages lost in transit and asked for again (Republish).", func(s *Source) uint64 { return s.Republished.Load() })
	perSourceOf("opcua", "floorpulse_agent_source_unrecovered_total", "counter", "OPC UA notification messages lost in transit that the server no longer had: their values are lost unless backfill reads them back.", func(s *Source) uint64 { return s.Unrecovered.Load() })
	perSourceOf("opcua", "floorpulse_agent_source_queue_overflows_total", "counter", "OPC UA values whose monitored item's queue on the server overflowed before them (older values discarded); with backfill, those are read back from history.", func(s *Source) uint64 { return s.Overflows.Load() })
	name := "floorpulse_agent_source_clock_offset_seconds"
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", name, "OPC UA: the server's clock minus the agent's (CurrentTime read at each session check, half the round trip allowed for).", name)
	for _, s := range srcs {
		if s.ClockKnown.Load() {
			fmt.Fprintf(w, "%s{kind=%q,source=%q} %s\n", name, s.Kind, escape(s.Name), strconv.FormatFloat(time.Duration(s.ClockOffset.Load()).Seconds(), 'f', 3, 64))
		}
	}
	var q Queue
	if queue != nil {
		q = queue()
	}
	one := func(name, typ, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, typ, name, v)
	}
	one("floorpulse_agent_queue_records", "gauge", "Signals waiting in the on-disk queue.", q.Records)
	one("floorpulse_agent_queue_bytes", "gauge", "Encoded bytes waiting in the on-disk queue.", q.Bytes)
	one("floorpulse_agent_queue_file_bytes", "gauge", "Size of the queue file on disk (compacted at start when mostly free).", q.FileBytes)
	fmt.Fprintf(w, "# HELP %[1]s %[2]s\n# TYPE %[1]s gauge\n%[1]s %[3]s\n", "floorpulse_agent_queue_oldest_age_seconds",
		"Seconds since the oldest unsent record was committed (0 when the queue is empty).",
		strconv.FormatFloat(q.OldestAge.Seconds(), 'f', 3, 64))
	one("floorpulse_agent_queue_blocked", "gauge", "1 while the committer holds signals because the queue is full (policy block).", uint64(b01(q.Blocked)))
	dropped := map[string]uint64{"undecodable": r.Undecodable.Load()}
	for k, v := range q.Dropped {
		dropped[k] += v
	}
	reasons := append([]string(nil), DropReasons...)
	for k := range dropped {
		if !slices.Contains(reasons, k) {
			reasons = append(reasons, k)
		}
	}
	name = "floorpulse_agent_queue_dropped_total"
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, "Signals dropped by the agent, by reason; each is covered by a gap marker unless undecodable or invalid.", name)
	for _, k := range reasons {
		fmt.Fprintf(w, "%s{reason=%q} %d\n", name, escape(k), dropped[k])
	}
	one("floorpulse_agent_forwarded_total", "counter", "Signals acknowledged by JetStream.", r.Forwarded.Load())
	one("floorpulse_agent_forwarded_duplicates_total", "counter", "Forwarded signals JetStream reported as duplicates.", r.Duplicates.Load())
	one("floorpulse_agent_publish_errors_total", "counter", "Forwarding attempts that failed and were retried.", r.PublishErrors.Load())
	one("floorpulse_agent_nats_connected", "gauge", "1 when connected to NATS.", uint64(b01(r.NATSConnected.Load())))
}

func escape(s string) string { return strings.ReplaceAll(s, `"`, `'`) }

// Handler serves /healthz, /readyz and /metrics.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, reasons := r.Ready()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "not ready", "reasons": reasons})
			return
		}
		_, _ = io.WriteString(w, `{"status":"ready"}`+"\n")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.WriteText(w)
	})
	return mux
}
