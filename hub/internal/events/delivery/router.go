package delivery

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
)

// StreamDest is the outbox destination of the JetStream stream; no
// endpoint may take its name.
const StreamDest = "stream"

// Endpoint is a webhook endpoint.
type Endpoint struct {
	Name string
	URL  string
	// Secret is the Standard Webhooks secret (whsec_<base64>); empty: unsigned.
	Secret string
	// Format: json, cloudevents, text, dingtalk or wecom.
	Format string
	// Events: receive every record change that passes the filter.
	Events bool
	// Filter (empty: all).
	Types       []string
	Lines       []string
	MinSeverity string
	Timeout     time.Duration
	MaxAttempts int
	Headers     map[string]string
}

func (e Endpoint) matches(r anomaly.Record) bool {
	if len(e.Types) > 0 && !slices.Contains(e.Types, r.Type) {
		return false
	}
	if len(e.Lines) > 0 && !slices.Contains(e.Lines, r.Line) {
		return false
	}
	return severityRank(r.Severity) >= severityRank(e.MinSeverity)
}

func severityRank(s string) int {
	switch s {
	case anomaly.Warning:
		return 1
	case anomaly.Critical:
		return 2
	}
	return 0
}

// Router decides the deliveries of record changes: to the stream when it
// is configured, and to every endpoint receiving events whose filter
// passes, in the order of the endpoints.
type Router struct {
	stream    StreamConfig
	names     []string
	endpoints map[string]Endpoint
	text      payload.Text
}

var _ ledger.Router = (*Router)(nil)

// NewRouter returns the router of the stream (an empty name: none) and the
// endpoints. It fills in an endpoint's unset timeout (10s) and attempts
// (20), and rejects a reserved name or a bad secret.
func NewRouter(stream StreamConfig, endpoints []Endpoint, text payload.Text) (*Router, error) {
	r := &Router{stream: stream, endpoints: map[string]Endpoint{}, text: text}
	for _, e := range endpoints {
		if e.Name == StreamDest {
			return nil, fmt.Errorf("events: endpoint name %q is reserved", StreamDest)
		}
		if e.Timeout <= 0 {
			e.Timeout = 10 * time.Second
		}
		if e.MaxAttempts <= 0 {
			e.MaxAttempts = 20
		}
		if _, err := secretKey(e.Secret); err != nil {
			return nil, fmt.Errorf("events: endpoint %s: %w", e.Name, err)
		}
		r.names = append(r.names, e.Name)
		r.endpoints[e.Name] = e
	}
	return r, nil
}

// Endpoints returns the endpoints, in their order, with defaults filled in.
func (r *Router) Endpoints() []Endpoint {
	out := make([]Endpoint, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, r.endpoints[n])
	}
	return out
}

// Dests returns every destination: the stream's and the endpoints' names.
func (r *Router) Dests() []string { return append([]string{StreamDest}, r.names...) }

// Route returns the deliveries of a change of rec.
func (r *Router) Route(rec anomaly.Record, change string) ([]ledger.Item, error) {
	var items []ledger.Item
	if r.stream.Name != "" {
		it, err := r.streamItem(rec, change)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	for _, name := range r.names {
		e := r.endpoints[name]
		if !e.Events || !e.matches(rec) {
			continue
		}
		it, err := r.changeItem(e, rec, change)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

func (r *Router) streamItem(rec anomaly.Record, change string) (ledger.Item, error) {
	body, err := json.Marshal(payload.NewCloudEvent(rec, change))
	if err != nil {
		return ledger.Item{}, err
	}
	return ledger.Item{Dest: StreamDest, ID: payload.DedupeID(rec.ID, rec.Revision), Subject: Subject(r.stream.SubjectPrefix, rec),
		ContentType: "application/cloudevents+json", Body: body, RecordID: rec.ID, Revision: rec.Revision, Kind: change}, nil
}

// changeItem renders a record change for an endpoint.
func (r *Router) changeItem(e Endpoint, rec anomaly.Record, change string) (ledger.Item, error) {
	it := ledger.Item{Dest: e.Name, ID: payload.DedupeID(rec.ID, rec.Revision), RecordID: rec.ID, Revision: rec.Revision, Kind: change}
	var err error
	switch {
	case e.Format == "cloudevents":
		it.ContentType = "application/cloudevents+json"
		it.Body, err = json.Marshal(payload.NewCloudEvent(rec, change))
	case payload.IsChat(e.Format):
		it.ContentType = "application/json"
		it.Body, err = payload.Chat(e.Format, r.text.Change(rec, change))
	default:
		it.ContentType = "application/json"
		it.Body, err = json.Marshal(payload.Webhook{Type: payload.TypePrefix + change, Timestamp: rec.Updated.UTC().Format(time.RFC3339Nano), Data: rec})
	}
	return it, err
}
