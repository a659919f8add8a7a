// Package metrics holds the agent's counters and source states and serves
// them over HTTP: /healthz (200 while the process runs), /readyz (200 when
// every source is connected and subscribed, else 503 with the reasons as
// JSON) and /metrics (Prometheus exposition, served by client_golang).
//
// The counters are atomics in Registry and Source, incremented by the
// sources and the forwarder where things happen. Registry is a
// prometheus.Collector that reads them at scrape time as const metrics; the
// metrics endpoint adds the standard go_* and process_* metrics.
//
// Metric names are a contract (dashboards and alerts use them): a name is
// never renamed or retyped, only added. Counters count since the process
// started; every label value of floorpulse_agent_queue_dropped_total in
// DropReasons is always present, and so is every reason of
// floorpulse_agent_decode_errors_total (DecodeReasons) for every source.
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is the state of one source (an MQTT broker or OPC UA server connection).
type Source struct {
	Kind string // mqtt | opcua
	Name string // broker URL or endpoint

	Connected    atomic.Bool
	Subscribed   atomic.Bool
	Connects     atomic.Uint64 // connections made: the first and every reconnect
	SignalsIn    atomic.Uint64 // signals committed to the queue
	DecodeErrors DecodeErrors  // messages or values that could not be turned into signals, by reason
	Backfilled   atomic.Uint64 // OPC UA: values read back from the server's history after a reconnect
	Watermarks   atomic.Uint64 // watermarks committed: an equipment's source observed up to a time
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

// Handler serves /healthz, /readyz and /metrics. /metrics is gathered from
// a registry of its own holding r and the Go runtime and process collectors.
func (r *Registry) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(r, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failing metric (two sources with the same kind and name
		// collide) leaves the rest of the scrape intact; the failures
		// are counted in promhttp_metric_handler_errors_total.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	}))
	return mux
}
