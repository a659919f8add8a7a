package metrics

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(h http.Handler, path string) (int, string, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

func TestEndpoints(t *testing.T) {
	r := &Registry{}
	h := r.Handler() // sources registered after the handler are scraped too
	s := r.Source("mqtt", "tcp://b:1883")
	s.SignalsIn.Add(3)
	r.SetQueue(func() Queue {
		return Queue{Records: 5, Bytes: 500, OldestAge: 1500 * time.Millisecond, Blocked: true,
			Dropped: map[string]uint64{"drop_newest": 7, "max_age": 2, "expired": 4}}
	})
	o := r.Source("opcua", "opc.tcp://plc:4840")
	o.Backfilled.Add(4)
	o.ClockOffset.Store(int64(-90250 * time.Millisecond))
	o.ClockKnown.Store(true)
	other := r.Source("opcua", "opc.tcp://other:4840") // no clock offset measured yet
	quoted := r.Source("mqtt", `tcp://b"q:1883`)
	quoted.Connects.Add(2)
	r.Undecodable.Add(1)
	r.Forwarded.Add(1000)
	if code, _, _ := get(h, "/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, _, body := get(h, "/readyz"); code != 503 || !strings.Contains(body, `mqtt tcp://b:1883: not connected`) {
		t.Errorf("readyz %d %s", code, body)
	}
	for _, src := range []*Source{s, o, other, quoted} {
		src.Connected.Store(true)
		src.Subscribed.Store(true)
	}
	if code, _, _ := get(h, "/readyz"); code != 200 {
		t.Errorf("readyz when ready: %d", code)
	}
	code, ctype, body := get(h, "/metrics")
	if code != 200 || !strings.HasPrefix(ctype, "text/plain; version=0.0.4") {
		t.Errorf("metrics: %d, Content-Type %q", code, ctype)
	}
	for _, want := range []string{
		"# TYPE floorpulse_agent_source_connected gauge",
		"# HELP floorpulse_agent_source_connected 1 when the source is connected.",
		`floorpulse_agent_source_connected{kind="mqtt",source="tcp://b:1883"} 1`,
		`floorpulse_agent_signals_in_total{kind="mqtt",source="tcp://b:1883"} 3`,
		`floorpulse_agent_source_connects_total{kind="mqtt",source="tcp://b\"q:1883"} 2`,
		"floorpulse_agent_queue_records 5", "floorpulse_agent_queue_bytes 500",
		"# TYPE floorpulse_agent_forwarded_total counter", "floorpulse_agent_forwarded_total 1000",
		"# TYPE floorpulse_agent_queue_dropped_total counter",
		`floorpulse_agent_queue_dropped_total{reason="drop_oldest"} 0`,
		`floorpulse_agent_queue_dropped_total{reason="drop_newest"} 7`,
		`floorpulse_agent_queue_dropped_total{reason="max_age"} 2`,
		`floorpulse_agent_queue_dropped_total{reason="invalid"} 0`,
		`floorpulse_agent_queue_dropped_total{reason="undecodable"} 1`,
		`floorpulse_agent_queue_dropped_total{reason="expired"} 4`,
		"# TYPE floorpulse_agent_queue_oldest_age_seconds gauge", "floorpulse_agent_queue_oldest_age_seconds 1.5",
		"floorpulse_agent_queue_blocked 1",
		`floorpulse_agent_source_backfilled_total{kind="opcua",source="opc.tcp://plc:4840"} 4`,
		"# TYPE floorpulse_agent_source_clock_offset_seconds gauge",
		`floorpulse_agent_source_clock_offset_seconds{kind="opcua",source="opc.tcp://plc:4840"} -90.25`,
		"# TYPE go_goroutines gauge",
		"# TYPE process_cpu_seconds_total counter",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	for _, unwanted := range []string{
		`floorpulse_agent_source_clock_offset_seconds{kind="opcua",source="opc.tcp://other:4840"}`, // not measured yet
		`floorpulse_agent_source_backfilled_total{kind="mqtt"`,                                     // OPC UA only
	} {
		if strings.Contains(body, unwanted) {
			t.Errorf("metrics hold %q:\n%s", unwanted, body)
		}
	}
}

// TestZeroRegistry checks that a registry with no source and no queue
// reports zeros, every drop reason included.
func TestZeroRegistry(t *testing.T) {
	_, _, body := get((&Registry{}).Handler(), "/metrics")
	for _, want := range []string{
		"floorpulse_agent_queue_records 0", "floorpulse_agent_nats_connected 0",
		`floorpulse_agent_queue_dropped_total{reason="drop_oldest"} 0`,
		`floorpulse_agent_queue_dropped_total{reason="drop_newest"} 0`,
		`floorpulse_agent_queue_dropped_total{reason="max_age"} 0`,
		`floorpulse_agent_queue_dropped_total{reason="invalid"} 0`,
		`floorpulse_agent_queue_dropped_total{reason="undecodable"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestDescribed gathers through a pedantic registry, which fails when
// Collect sends a metric Describe did not announce or an inconsistent one.
func TestDescribed(t *testing.T) {
	r := &Registry{}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r) // before any source exists
	s := r.Source("opcua", "opc.tcp://plc:4840")
	s.ClockKnown.Store(true)
	r.Source("mqtt", "tcp://b:1883")
	r.SetQueue(func() Queue { return Queue{Dropped: map[string]uint64{"other": 1}} })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != len(perSource)+12 {
		t.Errorf("gathered %d metric families, want %d", len(mfs), len(perSource)+12)
	}
}

// TestSameSourceTwice checks that two sources with the same kind and name
// (two configured connections to one broker) do not fail the scrape: the
// first one's series are served, the error is counted (and reported by the
// next scrape).
func TestSameSourceTwice(t *testing.T) {
	r := &Registry{}
	r.Source("mqtt", "tcp://b:1883").SignalsIn.Add(1)
	r.Source("mqtt", "tcp://b:1883").SignalsIn.Add(2)
	h := r.Handler()
	get(h, "/metrics")
	code, _, body := get(h, "/metrics")
	for _, want := range []string{
		`floorpulse_agent_signals_in_total{kind="mqtt",source="tcp://b:1883"} 1`,
		"floorpulse_agent_queue_records 0",
		`promhttp_metric_handler_errors_total{cause="gathering"} 1`,
	} {
		if code != 200 || !strings.Contains(body, want+"\n") {
			t.Errorf("metrics: %d, lack %q:\n%s", code, want, body)
		}
	}
}

// TestDecodeErrorsByReason checks that every source reports every decode
// error reason, 0 until it happens, and the total sums them.
func TestDecodeErrorsByReason(t *testing.T) {
	r := &Registry{}
	m := r.Source("mqtt", "tcp://b:1883")
	o := r.Source("opcua", "opc.tcp://plc:4840")
	m.DecodeErrors.Count(WrongType)
	m.DecodeErrors.Count(WrongType)
	m.DecodeErrors.Count(UnmappedTopic)
	o.DecodeErrors.Count(RejectedNode)
	if n := m.DecodeErrors.Load(); n != 3 {
		t.Errorf("mqtt total %d, want 3", n)
	}
	_, _, body := get(r.Handler(), "/metrics")
	want := map[string]map[string]int{
		"mqtt/tcp://b:1883":        {"wrong_type": 2, "unmapped_topic": 1},
		"opcua/opc.tcp://plc:4840": {"rejected_node": 1},
	}
	for src, counts := range want {
		kind, name, _ := strings.Cut(src, "/")
		for _, reason := range []string{"bad_payload", "bad_value", "bad_timestamp", "too_large", "wrong_type",
			"unmapped_topic", "before_birth", "seq_gap", "rejected_node"} {
			line := fmt.Sprintf("floorpulse_agent_decode_errors_total{kind=%q,reason=%q,source=%q} %d\n", kind, reason, name, counts[reason])
			if !strings.Contains(body, line) {
				t.Errorf("metrics lack %q", line)
			}
		}
	}
	if n := strings.Count(body, "floorpulse_agent_decode_errors_total{"); n != 2*len(DecodeReasons()) {
		t.Errorf("%d decode error series, want %d", n, 2*len(DecodeReasons()))
	}
	if !strings.Contains(body, "# TYPE floorpulse_agent_decode_errors_total counter\n") {
		t.Errorf("decode errors not a counter:\n%s", body)
	}
}
