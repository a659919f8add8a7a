// Package metrics holds the agent's counters and source states and serves
// them over HTTP: /healthz (200 while the process runs), /readyz (200 when
// every source is connected and subscribed, else 503 with the reasons as
// JSON) and /metrics (Prometheus text format).
package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Source is the state of one source (an MQTT broker or OPC UA server connection).
type Source struct {
	Kind string // mqtt | opcua
	Name string // broker URL or endpoint

	Connected    atomic.Bool
	Subscribed   atomic.Bool
	SignalsIn    atomic.Uint64 // signals committed to the queue
	DecodeErrors atomic.Uint64 // messages or values that could not be turned into signals
}

// Queue is a snapshot of the queue's size.
type Queue struct {
	Records uint64
	Bytes   uint64
	Dropped uint64 // records dropped by the drop_oldest policy since start
}

// Registry is every counter of one agent.
type Registry struct {
	Forwarded     atomic.Uint64 // signals acknowledged by JetStream
	Duplicates    atomic.Uint64 // of those, acknowledged as duplicates
	PublishErrors atomic.Uint64 // failed batches (retried)
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
	perSource := func(name, typ, help string, v func(*Source) uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, s := range srcs {
			fmt.Fprintf(w, "%s{kind=%q,source=%q} %d\n", name, s.Kind, escape(s.Name), v(s))
		}
	}
	perSource("floorpulse_agent_source_connected", "gauge", "1 when the source is connected.", func(s *Source) uint64 { return uint64(b01(s.Connected.Load())) })
	perSource("floorpulse_agent_source_subscribed", "gauge", "1 when the source's subscriptions are active.", func(s *Source) uint64 { return uint64(b01(s.Subscribed.Load())) })
	perSource("floorpulse_agent_signals_in_total", "counter", "Signals committed to the queue.", func(s *Source) uint64 { return s.SignalsIn.Load() })
	perSource("floorpulse_agent_decode_errors_total", "counter", "Messages or values that could not be turned into signals.", func(s *Source) uint64 { return s.DecodeErrors.Load() })
	var q Queue
	if queue != nil {
		q = queue()
	}
	one := func(name, typ, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, typ, name, v)
	}
	one("floorpulse_agent_queue_records", "gauge", "Signals waiting in the on-disk queue.", q.Records)
	one("floorpulse_agent_queue_bytes", "gauge", "Encoded bytes waiting in the on-disk queue.", q.Bytes)
	one("floorpulse_agent_queue_dropped_total", "counter", "Signals dropped because the queue was full (drop_oldest).", q.Dropped)
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
