package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestEndpoints(t *testing.T) {
	r := &Registry{}
	s := r.Source("mqtt", "tcp://b:1883")
	s.SignalsIn.Add(3)
	r.SetQueue(func() Queue {
		return Queue{Records: 5, Bytes: 500, OldestAge: 1500 * time.Millisecond, Blocked: true,
			Dropped: map[string]uint64{"drop_newest": 7, "max_age": 2}}
	})
	o := r.Source("opcua", "opc.tcp://plc:4840")
	o.Backfilled.Add(4)
	o.ClockOffset.Store(int64(-90250 * time.Millisecond))
	o.ClockKnown.Store(true)
	other := r.Source("opcua", "opc.tcp://other:4840") // no clock offset measured yet
	r.Undecodable.Add(1)
	h := r.Handler()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, `mqtt tcp://b:1883: not connected`) {
		t.Errorf("readyz %d %s", code, body)
	}
	s.Connected.Store(true)
	s.Subscribed.Store(true)
	o.Connected.Store(true)
	o.Subscribed.Store(true)
	other.Connected.Store(true)
	other.Subscribed.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz when ready: %d", code)
	}
	_, body := get("/metrics")
	for _, want := range []string{
		`floorpulse_agent_source_connected{kind="mqtt",source="tcp://b:1883"} 1`,
		`floorpulse_agent_signals_in_total{kind="mqtt",source="tcp://b:1883"} 3`,
		"floorpulse_agent_queue_records 5", "floorpulse_agent_queue_bytes 500", "# TYPE floorpulse_agent_forwarded_total counter",
		"# TYPE floorpulse_agent_queue_dropped_total counter",
		`floorpulse_agent_queue_dropped_total{reason="drop_oldest"} 0`,
		`floorpulse_agent_queue_dropped_total{reason="drop_newest"} 7`,
		`floorpulse_agent_queue_dropped_total{reason="max_age"} 2`,
		`floorpulse_agent_queue_dropped_total{reason="invalid"} 0`,
		`floorpulse_agent_queue_dropped_total{reason="undecodable"} 1`,
		"# TYPE floorpulse_agent_queue_oldest_age_seconds gauge", "floorpulse_agent_queue_oldest_age_seconds 1.500",
		"floorpulse_agent_queue_blocked 1",
		`floorpulse_agent_source_backfilled_total{kind="opcua",source="opc.tcp://plc:4840"} 4`,
		"# TYPE floorpulse_agent_source_clock_offset_seconds gauge",
		`floorpulse_agent_source_clock_offset_seconds{kind="opcua",source="opc.tcp://plc:4840"} -90.250`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `floorpulse_agent_source_clock_offset_seconds{kind="opcua",source="opc.tcp://other:4840"}`) {
		t.Errorf("a clock offset reported before one was measured:\n%s", body)
	}
	if strings.Contains(body, `floorpulse_agent_source_backfilled_total{kind="mqtt"`) {
		t.Errorf("backfill reported for an mqtt source:\n%s", body)
	}
}
